# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integrity of the control catalog and its links to the roles."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
import yaml

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ID_RE = re.compile(r'^HVS-(IOMMU|VFIO|VSW|MGMT)-\d{2}$')
AREA_PREFIX = {'iommu': 'IOMMU', 'vfio': 'VFIO', 'vswitch': 'VSW', 'mgmt_plane': 'MGMT'}
KNOWN_SR = {'HY-SR-1', 'HY-SR-2', 'HY-SR-3', 'HY-SR-4', 'HY-SR-5'}
REQUIRED_KEYS = {'id', 'title', 'area', 'severity', 'sp800_125a', 'sp800_53', 'rationale',
                 'check', 'reboot', 'role', 'variable', 'remediation', 'evaluator', 'params',
                 'kernel_args', 'check_mode'}


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
