# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: role_input
version_added: 0.1.0
short_description: A role's variables converted to the types of its argument spec
description:
  - Returns one dictionary holding every option of a role's argument spec (C(meta/argument_specs.yml) of a
    role of this collection), read from the task's variables and converted the way the argument spec
    validation checks them. A C(bool) given as the text C(false), C(no), C(0) or C(off) (what
    C(-e name=value) and INI inventories give) is V(false), an C(int) given as C("900") is V(900), also
    inside nested options and list elements.
  - Ansible's own role argument validation checks the types but leaves the variables as they were given,
    so the text C(false) would count as true in a condition. Each role of this collection reads its
    variables through this lookup once (the first task of its C(validate) entry point), so every new
    option of an argument spec is converted without further work.
  - Options of type C(path) are returned as given, not expanded on the controller (they name files on
    the managed host).
  - Fails naming the variables when they do not match the argument spec.
author: hvsec.hypervisor contributors (@hvsec)
options:
  _terms:
    description: The name of one role of this collection (C(iommu), C(vfio), C(vswitch), C(mgmt_plane)).
    required: true
    type: list
    elements: str
  entry_point:
    description: The argument spec entry point whose options are read.
    type: str
    default: main
'''

EXAMPLES = r'''
- name: Read the role variables with their documented types
  ansible.builtin.set_fact:
    _hvsec_iommu_in: "{{ lookup('hvsec.hypervisor.role_input', 'iommu') }}"
# -e hvsec_iommu_nosmt=false  =>  _hvsec_iommu_in.hvsec_iommu_nosmt is false (a bool)
'''

RETURN = r'''
_raw:
  description: One dictionary per role named, C({option name - converted value}) for every option of the entry point.
  type: list
  elements: dict
'''

import copy
import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.six import string_types
from ansible.plugins.lookup import LookupBase

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core needs PyYAML
    yaml = None

ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles'))
_SPECS = {}


def remote_paths(options):
    """A copy of an argument spec's options with type path read as str, at every depth."""
    out = copy.deepcopy(options or {})
    for option in out.values():
        if not isinstance(option, dict):
            continue
        if option.get('type') == 'path':
            option['type'] = 'str'
        if option.get('elements') == 'path':
            option['elements'] = 'str'
        if isinstance(option.get('options'), dict):
            option['options'] = remote_paths(option['options'])
    return out


def role_spec(role, entry_point='main', roles_dir=None):
    """The options of ``entry_point`` in roles/<role>/meta/argument_specs.yml (cached per file version)."""
    if not isinstance(role, string_types) or not role or os.sep in role or role.startswith('.'):
        raise AnsibleLookupError('role_input: %r is not a role name' % (role,))
    path = os.path.join(roles_dir or ROLES_DIR, role, 'meta', 'argument_specs.yml')
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        raise AnsibleLookupError('role_input: role %s has no %s' % (role, path))
    key = (path, entry_point)
    if key not in _SPECS or _SPECS[key][0] != stamp:
        with open(path) as handle:
            data = yaml.safe_load(handle) or {}
        specs = data.get('argument_specs') or {}
        if entry_point not in specs:
            raise AnsibleLookupError('role_input: role %s has no argument spec entry point %s' % (role, entry_point))
        _SPECS[key] = (stamp, remote_paths(specs[entry_point].get('options') or {}))
    return _SPECS[key][1]


def convert(options, values, role='role'):
    """Validate ``values`` against ``options`` and return them converted (defaults filled in)."""
    result = ArgumentSpecValidator(options).validate(dict((k, v) for k, v in values.items() if k in options))
    if result.error_messages:
        raise AnsibleLookupError('role_input: the variables of role %s do not match its argument spec: %s'
                                 % (role, '; '.join(result.error_messages)))
    return result.validated_parameters


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        entry_point = self.get_option('entry_point')
        variables = variables or {}
        out = []
        for role in terms:
            options = role_spec(role, entry_point)
            given = {}
            for name in options:
                if name in variables:
                    given[name] = self._templar.template(variables[name])
            out.append(convert(options, given, role))
        return out
