# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe areas of hypervisor_facts: one facts_<area>.py per area, each probe documented with
the keys it returns, as docs/facts.md lists them; the areas import only what Ansible can ship."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os
import re
import sys

import pytest
import yaml

from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
MODULE_UTILS = os.path.join(COLLECTION, 'plugins', 'module_utils')
FACTS_MD = os.path.join(COLLECTION, 'docs', 'facts.md')
MU_PREFIX = 'ansible_collections.hvsec.hypervisor.plugins.module_utils'


def _documented():
    """docs/facts.md's schema block: {top-level key: example value}."""
    with open(FACTS_MD) as handle:
        text = handle.read()
    block = re.search(r'```yaml\n(.*?)```', text, re.S).group(1)
    return yaml.safe_load(block)['hvsec']


def _words(text):
    return set(re.findall(r'[a-z][a-z0-9_]*', text or ''))


@pytest.fixture(scope='module')
def intel_facts(tmp_path_factory):
    root = ft.build_root('intel_vtd', tmp_path_factory.mktemp('areas'))
    return hvfacts.gather_facts(root, ft.fake_runner('intel_vtd'), ft.fake_bin_path('intel_vtd'), euid=0)


def test_every_probe_has_one_area_in_the_schema_order():
    documented = [k for k in _documented() if k not in ('schema_version', 'privileged', 'notes')]
    assert list(hvfacts.PROBES) == documented
    assert len(set(hvfacts.PROBES)) == len(hvfacts.PROBES)
    for name, area in hvfacts.AREAS:
        assert os.path.basename(area.__file__).startswith('facts_'), name
        assert callable(getattr(area, 'probe_' + name, None)), (name, area.__name__)


@pytest.mark.parametrize('name', hvfacts.PROBES)
def test_probe_docstring_names_the_keys_it_returns(name, intel_facts):
    area = dict(hvfacts.AREAS)[name]
    doc = getattr(area, 'probe_' + name).__doc__
    assert doc.startswith('``%s``:' % name), doc
    assert '``%s``' % name in area.__doc__, area.__name__
    value = intel_facts[name]
    documented = _documented()[name]
    if isinstance(value, list):
        # listeners: the keys of one socket; processes: names only
        value = value[0] if value and isinstance(value[0], dict) else {}
        documented = documented[0] if documented and isinstance(documented[0], dict) else {}
    assert isinstance(value, dict), (name, value)
    assert sorted(value) == sorted(documented), name
    missing = set(value) - _words(doc)
    assert not missing, (name, missing)


def test_docs_name_the_area_file_of_every_probe():
    with open(FACTS_MD) as handle:
        text = ' '.join(handle.read().split())
    producers = text.split('- Producers:', 1)[1].split(' - ', 1)[0]
    for name, area in hvfacts.AREAS:
        filename = os.path.basename(area.__file__).replace('.pyc', '.py')
        part = producers.split(filename)[0].rsplit('.py;', 1)[-1]
        assert '`%s`' % name in part, (name, filename, part)


def _imports(path):
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ''
            for alias in node.names:
                yield '%s.%s' % (node.module or '', alias.name)


@pytest.mark.parametrize('filename', sorted(n for n in os.listdir(MODULE_UTILS)
                                            if n == 'hvfacts.py' or (n.startswith('facts_') and n.endswith('.py'))))
def test_areas_import_only_module_utils_and_the_standard_library(filename):
    """Ansible ships module_utils files with the module; anything else is missing on the host."""
    stdlib = set(getattr(sys, 'stdlib_module_names', ())) or set(['errno', 'glob', 'grp', 'os', 'pwd', 're', 'stat'])
    for name in _imports(os.path.join(MODULE_UTILS, filename)):
        if name.split('.')[0] in stdlib or name.split('.')[0] == '__future__':
            continue
        assert name.startswith(MU_PREFIX), (filename, name)
        if filename != 'hvfacts.py':
            assert name != MU_PREFIX + '.hvfacts', 'an area importing hvfacts is an import cycle'


def test_the_module_reaches_every_area_through_one_import():
    """hypervisor_facts imports hvfacts, which imports each area: one module run gathers all."""
    module = os.path.join(COLLECTION, 'plugins', 'modules', 'hypervisor_facts.py')
    assert MU_PREFIX + '.hvfacts' in set(_imports(module))
    hv_imports = set(_imports(os.path.join(MODULE_UTILS, 'hvfacts.py')))
    for dummy, area in hvfacts.AREAS:
        assert MU_PREFIX + '.' + area.__name__.rsplit('.', 1)[-1] in hv_imports, area.__name__


def test_a_probe_runs_on_its_own_context(tmp_path):
    """An area probe needs only a Context: files below its root, notes in its Reader."""
    ksm = tmp_path / 'sys' / 'kernel' / 'mm' / 'ksm'
    ksm.mkdir(parents=True)
    (ksm / 'run').write_text(u'1\n')
    ctx = hvfacts.Context(str(tmp_path), None, None, euid=1000)
    assert dict(hvfacts.AREAS)['ksm'].probe_ksm(ctx) == {'run': 1, 'pages_shared': None}
    assert ctx.fs.notes == [{'probe': 'ksm', 'path': '/sys/kernel/mm/ksm/pages_shared', 'reason': 'not found'}]
    assert ctx.privileged is False


def test_processes_are_read_once_for_every_probe_that_needs_them(tmp_path):
    for pid, comm in (('1', 'systemd'), ('40', 'chronyd')):
        (tmp_path / 'proc' / pid).mkdir(parents=True)
        (tmp_path / 'proc' / pid / 'comm').write_text(comm + u'\n')
    ctx = hvfacts.Context(str(tmp_path), None, None, euid=0)
    mgmt = dict(hvfacts.AREAS)['time_sync']
    assert mgmt.probe_time_sync(ctx) == {'active': True, 'daemon': 'chronyd'}
    (tmp_path / 'proc' / '40' / 'comm').write_text(u'sleep\n')
    assert mgmt.probe_processes(ctx) == ['chronyd', 'systemd']     # the table read by the first probe
