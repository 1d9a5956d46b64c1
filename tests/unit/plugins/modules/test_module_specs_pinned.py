# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each module's argument_spec, as main() builds it at run time, is the documented interface: every
option with its type, elements, default, choices, required, no_log and suboptions as DOCUMENTATION
(with its doc fragments) says, and check mode supported. `ansible-test sanity` compares the two as
well, but only a unit test sees a spec that main() builds differently (mutation testing, docs/testing.md).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest
import yaml
from unittest import mock

from ansible_collections.hvsec.hypervisor.plugins.modules import bridge_security
from ansible_collections.hvsec.hypervisor.plugins.modules import hypervisor_facts
from ansible_collections.hvsec.hypervisor.plugins.modules import kernel_cmdline
from ansible_collections.hvsec.hypervisor.plugins.modules import libvirt_config
from ansible_collections.hvsec.hypervisor.plugins.modules import nwfilter_domains
from ansible_collections.hvsec.hypervisor.plugins.modules import ovs_security
from ansible_collections.hvsec.hypervisor.plugins.modules import pci_passthrough
from ansible_collections.hvsec.hypervisor.plugins.modules import sriov_vf
from ansible_collections.hvsec.hypervisor.plugins.modules import sshd_dropin

MODULES = (bridge_security, hypervisor_facts, kernel_cmdline, libvirt_config, nwfilter_domains, ovs_security,
           pci_passthrough, sriov_vf, sshd_dropin)
KEYS = ('type', 'elements', 'default', 'choices', 'required', 'no_log', 'aliases')
IMPLIED = {'type': 'str', 'required': False, 'no_log': False}


class _Built(Exception):
    pass


def built_spec(mod):
    """The keyword arguments main() passes to AnsibleModule."""
    built = {}

    def record(*args, **kwargs):
        assert args == ()
        built.update(kwargs)
        raise _Built()
    with mock.patch.object(mod, 'AnsibleModule', record):
        with pytest.raises(_Built):
            mod.main()
    return built


def documented_options(mod):
    """DOCUMENTATION's options merged with those of its hvsec.hypervisor doc fragments."""
    doc = yaml.safe_load(mod.DOCUMENTATION)
    options = dict(doc.get('options') or {})
    for fragment in doc.get('extends_documentation_fragment') or []:
        parts = fragment.split('.')
        assert parts[:2] == ['hvsec', 'hypervisor'], fragment
        frag = importlib.import_module('ansible_collections.hvsec.hypervisor.plugins.doc_fragments.' + parts[2])
        text = getattr(frag.ModuleDocFragment, parts[3].upper() if len(parts) > 3 else 'DOCUMENTATION')
        options.update(yaml.safe_load(text).get('options') or {})
    return options


def differences(spec, docs, prefix=''):
    out = []
    for name in sorted(set(spec) | set(docs)):
        if name not in docs:
            out.append('%s%s: not documented' % (prefix, name))
            continue
        if name not in spec:
            out.append('%s%s: documented, not in the spec' % (prefix, name))
            continue
        have, want = spec[name], docs[name]
        unknown = set(have) - set(KEYS) - {'options'}
        if unknown:
            out.append('%s%s: spec keys %s' % (prefix, name, sorted(unknown)))
        for key in KEYS:
            got, doc = have.get(key, IMPLIED.get(key)), want.get(key, IMPLIED.get(key))
            if got != doc:
                out.append('%s%s: %s %r in the spec, %r documented' % (prefix, name, key, got, doc))
        if have.get('options') or want.get('suboptions'):
            out.extend(differences(have.get('options') or {}, want.get('suboptions') or {}, prefix + name + '.'))
    return out


@pytest.mark.parametrize('mod', MODULES, ids=[m.__name__.rsplit('.', 1)[-1] for m in MODULES])
def test_argument_spec_is_the_documented_interface(mod):
    built = built_spec(mod)
    assert sorted(built) == ['argument_spec', 'supports_check_mode']
    assert built['supports_check_mode'] is True
    assert differences(built['argument_spec'], documented_options(mod)) == []


def test_the_comparison_sees_a_difference():
    spec = {'a': {'type': 'list', 'elements': 'str', 'default': []},
            'b': {'type': 'dict', 'options': {'c': {'type': 'int', 'no_log': True}}}}
    docs = {'a': {'type': 'list', 'elements': 'str', 'default': ['x'], 'description': 'A.'},
            'b': {'type': 'dict', 'suboptions': {'c': {'type': 'int'}}}, 'd': {}}
    assert differences(spec, docs) == [
        "a: default [] in the spec, ['x'] documented",
        'b.c: no_log True in the spec, False documented',
        'd: documented, not in the spec',
    ]
