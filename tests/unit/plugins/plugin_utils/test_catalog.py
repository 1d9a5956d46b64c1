# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integrity of the control catalog and its links to the roles."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys

import pytest
import yaml

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
sys.path.insert(0, os.path.join(COLLECTION_ROOT, 'tools'))

import role_tasks  # noqa: E402  pylint: disable=wrong-import-position
ID_RE = re.compile(r'^HVS-(IOMMU|VFIO|VSW|MGMT|BOOT)-\d{2}$')
AREA_PREFIX = {'iommu': 'IOMMU', 'vfio': 'VFIO', 'vswitch': 'VSW', 'mgmt_plane': 'MGMT', 'boot': 'BOOT'}
KNOWN_SR = {'HY-SR-1', 'HY-SR-2', 'HY-SR-3', 'HY-SR-4', 'HY-SR-5'}
REQUIRED_KEYS = {'id', 'title', 'area', 'severity', 'sp800_125a', 'sp800_53', 'rationale',
                 'check', 'reboot', 'role', 'variable', 'remediation', 'evaluator', 'params',
                 'kernel_args', 'check_mode', 'needs_libvirt'}


def _role_dirs():
    roles = os.path.join(COLLECTION_ROOT, 'roles')
    if not os.path.isdir(roles):
        return []
    return sorted(d for d in os.listdir(roles) if os.path.isdir(os.path.join(roles, d)))


def _load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def _task_files(role):
    base = os.path.join(COLLECTION_ROOT, 'roles', role)
    for sub in ('tasks', 'handlers'):
        top = os.path.join(base, sub)
        for dirpath, dummy, files in os.walk(top):
            for name in files:
                if name.endswith(('.yml', '.yaml')):
                    yield os.path.join(dirpath, name)


def _walk_tasks(tasks):
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ('block', 'rescue', 'always'):
            yield from _walk_tasks(task.get(key))


def test_catalog_size_and_areas():
    assert len(catalog.CONTROLS) >= 40
    for area in catalog.AREAS:
        assert len(catalog.controls_for_area(area)) >= 8, area


def test_ids_unique_and_well_formed():
    ids = [c['id'] for c in catalog.CONTROLS]
    assert len(ids) == len(set(ids))
    for control in catalog.CONTROLS:
        assert ID_RE.match(control['id']), control['id']
        assert control['id'].split('-')[1] == AREA_PREFIX[control['area']]
    assert set(catalog.BY_ID) == set(ids)


@pytest.mark.parametrize('control', catalog.CONTROLS, ids=lambda c: c['id'])
def test_control_fields(control):
    assert set(control) == REQUIRED_KEYS
    assert control['severity'] in catalog.SEVERITIES
    assert control['area'] in catalog.AREAS
    assert control['title'] and control['rationale'] and control['check']
    assert isinstance(control['reboot'], bool)
    assert control['sp800_125a'].startswith('HY-BF')
    # Only the HY-SR numbers known with confidence may be cited; never invent one.
    for ref in re.findall(r'HY-SR-\d+', control['sp800_125a']):
        assert ref in KNOWN_SR, ref
    for ref in control['sp800_53']:
        assert re.match(r'^[A-Z]{2}-\d+(\(\d+\))?$', ref), ref
    if control['variable']:
        assert control['variable'].startswith('hvsec_')
        assert control['role'] == control['area']
    else:
        assert control['role'] is None


def test_severity_rank_orders_and_rejects_unknown():
    assert catalog.severity_rank('low') < catalog.severity_rank('critical')
    with pytest.raises(ValueError):
        catalog.severity_rank('urgent')


@pytest.mark.parametrize('role', _role_dirs())
def test_role_variables_documented(role):
    """Every catalog variable of a role exists in its defaults and its argument spec."""
    defaults_path = os.path.join(COLLECTION_ROOT, 'roles', role, 'defaults', 'main.yml')
    spec_path = os.path.join(COLLECTION_ROOT, 'roles', role, 'meta', 'argument_specs.yml')
    assert os.path.exists(spec_path), 'role %s has no meta/argument_specs.yml' % role
    spec = _load_yaml(spec_path)['argument_specs']['main']['options']
    defaults = _load_yaml(defaults_path) if os.path.exists(defaults_path) else {}
    for control in catalog.CONTROLS:
        variable = control['variable']
        if control['role'] != role or not variable:
            continue
        if not variable.startswith('hvsec_%s_' % role):
            continue  # a control remediated by another role's variable
        assert variable in spec, '%s: %s missing from argument_specs' % (control['id'], variable)
        assert variable in (defaults or {}), '%s: %s missing from defaults' % (control['id'], variable)


@pytest.mark.parametrize('role', _role_dirs())
def test_role_task_tags_name_catalog_controls(role):
    """Tags that look like control IDs name real controls, and appear in the task name."""
    for path in _task_files(role):
        for task in _walk_tasks(_load_yaml(path)):
            tags = task.get('tags') or []
            if isinstance(tags, str):
                tags = [tags]
            for tag in tags:
                if str(tag).startswith('HVS-'):
                    assert tag in catalog.BY_ID, '%s: unknown control %s' % (path, tag)
                    if 'block' not in task:
                        assert tag in task.get('name', ''), '%s: task %r lacks %s in its name' % (
                            path, task.get('name'), tag)


# ----------------------------------------------------------------------------- one control, every place

CONTROL_TAG = re.compile(r'^HVS-[A-Z]+-[0-9]+$')
# Modules that read or decide but never change the host: such a task may carry an audited control's ID.
READ_ONLY = frozenset(('set_fact', 'debug', 'assert', 'fail', 'stat', 'getent', 'find', 'setup', 'meta',
                       'hypervisor_facts', 'audit_evaluate', 'include_vars'))
# Every task of every role, flattened by Ansible's own loader (tools/role_tasks.py): (file, task as
# written, effective tags, module).
ROLE_TASKS = dict((role, [(os.path.join(COLLECTION_ROOT, t['file']), t['task'], tuple(t['tags']), t['module'])
                          for t in found])
                  for role, found in role_tasks.all_tasks(COLLECTION_ROOT).items())


def _tagged(cid):
    return [(role, path, task, module) for role, found in ROLE_TASKS.items()
            for path, task, tags, module in found if cid in tags]


def _owner(variable):
    """The role whose variables are named hvsec_<role>_*."""
    owners = [r for r in ROLE_TASKS if variable.startswith('hvsec_%s_' % r)]
    return max(owners, key=len) if owners else None


def test_the_role_yaml_reader_finds_tagged_tasks():
    assert ROLE_TASKS and all(ROLE_TASKS.values())
    assert any(CONTROL_TAG.match(t) for found in ROLE_TASKS.values() for dummy, dummy2, tags, dummy3 in found for t in tags)


@pytest.mark.parametrize('control', [c for c in catalog.CONTROLS if c['variable']], ids=lambda c: c['id'])
def test_a_remediated_control_appears_in_its_role(control):
    cid, variable = control['id'], control['variable']
    owner = _owner(variable)
    assert owner, '%s: no role owns %s (roles/<role>/ for hvsec_<role>_*)' % (cid, variable)
    base = os.path.join(COLLECTION_ROOT, 'roles', owner)
    spec = _load_yaml(os.path.join(base, 'meta', 'argument_specs.yml'))['argument_specs']['main']['options']
    assert variable in spec, '%s: %s is missing from roles/%s/meta/argument_specs.yml (main)' % (cid, variable, owner)
    defaults = _load_yaml(os.path.join(base, 'defaults', 'main.yml')) or {}
    assert variable in defaults, '%s: %s is missing from roles/%s/defaults/main.yml' % (cid, variable, owner)
    mine = [t for t in _tagged(cid) if t[0] == control['role']]
    assert mine, '%s: no task of role %s carries the tag %s' % (cid, control['role'], cid)


@pytest.mark.parametrize('role', sorted(ROLE_TASKS))
def test_control_tasks_are_named_by_their_ids(role):
    """A task tagged with control IDs is named "ID [ID ...] | what it does", naming exactly its IDs."""
    for path, task, tags, dummy in ROLE_TASKS[role]:
        ids = set(t for t in tags if CONTROL_TAG.match(t))
        if not ids:
            continue
        name = task.get('name', '')
        where = '%s: task %r' % (os.path.relpath(path, COLLECTION_ROOT), name)
        assert re.match(r'^HVS-[A-Z]+-[0-9]+[ |]', name), '%s carries %s: its name must start with its IDs' % (where, sorted(ids))
        named = set(re.findall(r'HVS-[A-Z]+-[0-9]+', name))
        assert named == ids, '%s is tagged %s but named %s' % (where, sorted(ids), sorted(named))


@pytest.mark.parametrize('control', [c for c in catalog.CONTROLS if not c['variable']], ids=lambda c: c['id'])
def test_an_audited_control_has_no_remediation_task(control):
    changing = ['%s: %r (%s)' % (os.path.relpath(path, COLLECTION_ROOT), task.get('name'), module)
                for dummy, path, task, module in _tagged(control['id']) if module not in READ_ONLY]
    assert not changing, '%s has no variable (audited only) but tasks that can change the host carry it: %s' % (
        control['id'], changing)


def test_every_control_has_its_section_in_the_docs():
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'controls.md')) as handle:
        text = handle.read()
    missing = [c['id'] for c in catalog.CONTROLS if text.count('### %s: %s' % (c['id'], c['title'])) != 1]
    assert not missing, 'docs/controls.md has no section for %s: run make docs' % ', '.join(missing)


# ----------------------------------------------------------------------------- the loader refuses bad data

DELETE_KEY = object()
RECORD = {'id': 'HVS-IOMMU-01', 'title': 'A control', 'severity': 'high', 'function': 'HY-BF1', 'topic': 'isolation',
          'sp800_53': ['SC-39'], 'rationale': 'Because.', 'check': 'A fact.', 'evaluator': 'a_check', 'check_mode': 'no'}


def _area_file(directory, name, records, area=None, order=1):
    doc = {'area': area or name, 'order': order, 'title': name.title(), 'controls': records}
    with open(os.path.join(str(directory), name + '.yml'), 'w') as handle:
        yaml.safe_dump(doc, handle)


def test_load_reads_a_valid_directory(tmp_path):
    _area_file(tmp_path, 'iommu', [RECORD, dict(RECORD, id='HVS-IOMMU-02', variable='hvsec_iommu_x', reboot=True)])
    areas, controls = catalog.load(str(tmp_path))
    assert areas == {'iommu': 'Iommu'}
    assert [c['id'] for c in controls] == ['HVS-IOMMU-01', 'HVS-IOMMU-02']
    assert controls[1]['role'] == 'iommu' and controls[1]['reboot'] is True and controls[0]['role'] is None


@pytest.mark.parametrize('bad,words', [
    (dict((k, v) for k, v in RECORD.items() if k != 'check'), "missing ['check']"),
    (dict(RECORD, colour='blue'), "unknown ['colour']"),
    (dict(RECORD, severity='urgent'), 'severity must be one of'),
    (dict(RECORD, check_mode='maybe'), 'check_mode must be one of'),
])
def test_load_names_the_file_and_record_of_a_bad_record(tmp_path, bad, words):
    _area_file(tmp_path, 'iommu', [dict(RECORD, id='HVS-IOMMU-02'), dict(bad, id='HVS-IOMMU-03')])
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert 'iommu.yml' in str(err.value) and 'HVS-IOMMU-03' in str(err.value) and words in str(err.value)


def test_load_refuses_a_duplicate_id(tmp_path):
    _area_file(tmp_path, 'iommu', [RECORD])
    _area_file(tmp_path, 'vfio', [dict(RECORD, title='Again')], order=2)
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value) == 'vfio.yml: HVS-IOMMU-01 is defined twice (first in iommu.yml)'


def test_load_refuses_a_file_that_is_not_yaml_or_has_no_record_list(tmp_path):
    (tmp_path / 'iommu.yml').write_text('area: iommu\ncontrols: [unclosed\n')
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value).startswith('iommu.yml: not valid YAML')
    _area_file(tmp_path, 'iommu', {'id': 'HVS-IOMMU-01'})
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value) == 'iommu.yml: controls is a list of control records'


def test_load_of_the_shipped_directory_gives_the_module_records():
    areas, controls = catalog.load()
    assert areas == catalog.AREAS and controls == catalog.CONTROLS


def test_load_refuses_a_wrongly_named_area_file(tmp_path):
    _area_file(tmp_path, 'iommu', [RECORD], area='vfio')
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value) == 'iommu.yml: area vfio must be in vfio.yml'


@pytest.mark.parametrize('changes,message', [
    ({'id': 'HVS-IOMMU-3'}, 'iommu.yml HVS-IOMMU-3: an ID is HVS-<AREA>-<two digits>'),
    ({'severity': 'urgent'}, 'iommu.yml HVS-IOMMU-03: severity must be one of low, medium, high, critical'),
    ({'function': 'HY-BF9'},
     'iommu.yml HVS-IOMMU-03: function must be one of HY-BF1, HY-BF2, HY-BF3, HY-BF4, HY-BF5'),
    ({'check_mode': 'maybe'}, 'iommu.yml HVS-IOMMU-03: check_mode must be one of yes, partly, no'),
    ({'variable': 'iommu_x'}, 'iommu.yml HVS-IOMMU-03: variable must be a role variable (hvsec_*)'),
    ({'check': DELETE_KEY, 'colour': 'blue'}, "iommu.yml HVS-IOMMU-03: missing ['check'], unknown ['colour']"),
    ({'check': DELETE_KEY}, "iommu.yml HVS-IOMMU-03: missing ['check'], unknown none"),
    ({'colour': 'blue'}, "iommu.yml HVS-IOMMU-03: missing none, unknown ['colour']"),
    ({'kernel_args': {'present': ['nosmt']}}, 'iommu.yml HVS-IOMMU-03: kernel_args must be a list of rules'),
    ({'kernel_args': ['nosmt']},
     'iommu.yml HVS-IOMMU-03: each kernel_args rule has present and/or absent (and an optional when)'),
    ({'kernel_args': [{'present': ['nosmt'], 'unless': {}}]},
     'iommu.yml HVS-IOMMU-03: each kernel_args rule has present and/or absent (and an optional when)'),
    ({'kernel_args': [{'when': {'a': 1}}]},
     'iommu.yml HVS-IOMMU-03: each kernel_args rule has present and/or absent (and an optional when)'),
    ({'kernel_args': [{'present': ['iommu=pt', 'intel_iommu=on x']}]},
     'iommu.yml HVS-IOMMU-03: kernel_args present holds kernel arguments (strings without spaces)'),
    ({'kernel_args': [{'absent': ['']}]},
     'iommu.yml HVS-IOMMU-03: kernel_args absent holds kernel arguments (strings without spaces)'),
    ({'kernel_args': [{'present': ['nosmt'], 'absent': [3]}]},
     'iommu.yml HVS-IOMMU-03: kernel_args absent holds kernel arguments (strings without spaces)'),
    ({'kernel_args': [{'present': ['nosmt'], 'when': ['hvsec_iommu_nosmt']}]},
     'iommu.yml HVS-IOMMU-03: kernel_args when is a mapping of setting to value'),
])
def test_load_refuses_a_bad_record_in_these_words(tmp_path, changes, message):
    record = dict(RECORD, id='HVS-IOMMU-03')
    for key, value in changes.items():
        if value is DELETE_KEY:
            del record[key]
        else:
            record[key] = value
    _area_file(tmp_path, 'iommu', [RECORD, record])
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value) == message


def test_load_refuses_a_record_that_is_not_a_mapping(tmp_path):
    _area_file(tmp_path, 'iommu', [RECORD, 'HVS-IOMMU-02'])
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value) == 'iommu.yml: a control record is a mapping'


@pytest.mark.parametrize('text', ['- area: iommu\n', 'area: iommu\norder: 1\ntitle: T\n',
                                  'area: iommu\norder: 1\ntitle: T\ncontrols: []\nnotes: x\n'])
def test_load_refuses_an_area_file_without_exactly_its_four_keys(tmp_path, text):
    (tmp_path / 'iommu.yml').write_text(text)
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load(str(tmp_path))
    assert str(err.value) == 'iommu.yml: an area file has exactly area, order, title and controls'


def test_load_gives_each_record_its_defaults_and_kernel_args(tmp_path):
    rules = [{'present': ['nosmt'], 'when': {'hvsec_iommu_nosmt': True}}, {'absent': ['iommu=off']}]
    _area_file(tmp_path, 'iommu', [RECORD, dict(RECORD, id='HVS-IOMMU-02', kernel_args=rules, recommendation='HY-SR-2',
                                                params={'limit': 3}, needs_libvirt=True, reboot=False)])
    _area_file(tmp_path, 'vfio', [], order=0)
    areas, controls = catalog.load(str(tmp_path))
    assert list(areas) == ['vfio', 'iommu']
    first, second = controls
    assert (first['reboot'], first['needs_libvirt'], first['params'], first['kernel_args']) == (False, False, {}, [])
    assert first['sp800_125a'] == 'HY-BF1 (VM process isolation): isolation'
    assert first['remediation'] == catalog.AUDIT_ONLY and first['variable'] is None
    assert (second['kernel_args'], second['params'], second['needs_libvirt']) == (rules, {'limit': 3}, True)
    assert second['sp800_125a'] == 'HY-BF1 (VM process isolation), HY-SR-2: isolation'
