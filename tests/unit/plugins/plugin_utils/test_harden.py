# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hardening plan: which controls a role works on, from the audit's results."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import AREAS, CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import evaluate
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.harden import (
    area_ids, facts_digest, facts_fresh, input_digest, needed, plan, record, recorded,
)
from ansible_collections.hvsec.hypervisor.plugins.filter.harden import harden_needed

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'audit')


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def _results(statuses):
    """Audit-shaped results: every control pass except the given {id: status}."""
    return [{'id': c['id'], 'area': c['area'], 'status': statuses.get(c['id'], 'pass')} for c in CONTROLS]


def test_area_ids_are_the_catalog_controls_of_the_area():
    assert set(AREAS) == set(c['area'] for c in CONTROLS)
    for area in AREAS:
        assert area_ids(area) == [c['id'] for c in CONTROLS if c['area'] == area]
    with pytest.raises(ValueError):
        area_ids('storage')


@pytest.mark.parametrize('status, todo', [
    ('pass', False), ('waived', False), ('fail', True), ('error', True), ('not_applicable', False), (None, True),
])
def test_each_status(status, todo):
    work = plan('iommu', _results({'HVS-IOMMU-13': status}))
    assert work['full'] is False
    assert ('HVS-IOMMU-13' in work['todo']) is todo
    assert [i for i in work['todo'] if i != 'HVS-IOMMU-13'] == []


def test_a_control_without_a_result_is_work():
    results = [r for r in _results({}) if r['id'] != 'HVS-VSW-07']
    assert plan('vswitch', results)['todo'] == ['HVS-VSW-07']


def test_other_areas_do_not_count():
    work = plan('vfio', _results({'HVS-IOMMU-13': 'fail', 'HVS-MGMT-18': 'error'}))
    assert work['todo'] == [] and work['full'] is False


@pytest.mark.parametrize('kwargs, words', [
    ({'full': True}, 'hvsec_harden_full'),
    ({'fresh': False}, 'not gathered in this run'),
])
def test_full_runs_list_every_control_of_the_area(kwargs, words):
    for area in AREAS:
        work = plan(area, _results({}), **kwargs)
        assert work['full'] is True and work['todo'] == area_ids(area)
        assert words in work['reason']
    assert plan('iommu', None)['todo'] == area_ids('iommu')


def test_hardened_fixture_needs_no_work_and_one_drift_needs_its_control():
    facts, settings = _load('facts_hardened.json'), _load('settings_hardened.json')
    for area in AREAS:
        assert plan(area, evaluate(facts, settings))['todo'] == []
    drifted = copy.deepcopy(facts)
    drifted['ksm']['run'] = 1
    assert plan('iommu', evaluate(drifted, settings))['todo'] == ['HVS-IOMMU-13']
    waived = evaluate(drifted, settings, [{'id': 'HVS-IOMMU-13', 'reason': 'test'}])
    assert plan('iommu', waived)['todo'] == []


def test_needed():
    work = {'todo': ['HVS-IOMMU-13'], 'full': False}
    assert needed(work, ['HVS-IOMMU-13', 'HVS-IOMMU-14']) is True
    assert needed(work, ['HVS-IOMMU-14']) is False
    assert needed(work, 'HVS-IOMMU-13') is True
    assert needed(work, 'any') is True
    assert needed({'todo': [], 'full': False}, 'any') is False
    assert needed({'todo': [], 'full': False}, ['HVS-IOMMU-14']) is False
    # Full run, no plan, a skipped plan task, an ID the catalog does not know: the task runs.
    assert needed({'todo': [], 'full': True}, ['HVS-IOMMU-14']) is True
    assert needed(None, ['HVS-IOMMU-14']) is True
    assert needed({'skipped': True, 'changed': False}, ['HVS-IOMMU-14']) is True
    assert needed({'todo': [], 'full': False}, ['HVS-IOMMU-99']) is True
    assert needed({'todo': [], 'full': False}, []) is True


def test_filter_refuses_ids_that_are_not_a_list():
    from ansible.errors import AnsibleFilterError
    assert harden_needed({'todo': ['HVS-VSW-07'], 'full': False}, ['HVS-VSW-07']) is True
    with pytest.raises(AnsibleFilterError):
        harden_needed({'todo': [], 'full': False}, 7)


def test_freshness_needs_facts_registered_in_this_run():
    facts = _load('facts_hardened.json')
    older = copy.deepcopy(facts)
    older['ksm']['run'] = 1
    gathered = {'changed': False, 'ansible_facts': {'hvsec': copy.deepcopy(facts)}}
    assert facts_fresh(facts, {'_hvsec_facts_gathered_harden': gathered}) is True
    # Facts that differ from what was gathered (a cached copy), a skipped facts task, no facts task.
    assert facts_fresh(older, {'_hvsec_facts_gathered_harden': gathered}) is False
    assert facts_fresh(facts, {'_hvsec_facts_gathered_vfio': {'skipped': True, 'changed': False}}) is False
    assert facts_fresh(facts, {'hvsec_audit_facts': gathered}) is False
    assert facts_fresh(None, {'_hvsec_facts_gathered_harden': gathered}) is False
    # A later facts task of the run was skipped (its register overwritten): an earlier plan that
    # found the same facts fresh still vouches for them, one that judged other facts does not.
    plan_vars = {'_hvsec_work_vfio': {'fresh': True, 'facts_digest': facts_digest(facts)}}
    assert facts_fresh(facts, plan_vars) is True
    assert facts_fresh(older, plan_vars) is False
    assert facts_fresh(facts, {'_hvsec_work_vfio': {'fresh': False, 'facts_digest': facts_digest(facts)}}) is False


def test_input_digest_ignores_how_to_run_and_sees_what_to_apply():
    inp = {'hvsec_vswitch_persist': True, 'hvsec_harden_full': False}
    assert input_digest(inp, '0.1.0') == input_digest(dict(inp, hvsec_harden_full=True), '0.1.0')
    assert input_digest(inp, '0.1.0') != input_digest(dict(inp, hvsec_vswitch_persist=False), '0.1.0')
    assert input_digest(inp, '0.1.0') != input_digest(inp, '0.2.0')


def test_record_and_recorded(tmp_path):
    assert recorded('hv1', 'iommu', str(tmp_path)) is None
    record('hv1', 'iommu', 'abc', str(tmp_path))
    record('hv1', 'vfio', 'def', str(tmp_path))
    record('../hv2', 'iommu', 'ghi', str(tmp_path))
    assert recorded('hv1', 'iommu', str(tmp_path)) == 'abc'
    assert recorded('hv1', 'vfio', str(tmp_path)) == 'def'
    assert recorded('../hv2', 'iommu', str(tmp_path)) == 'ghi'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.._hv2.json', 'hv1.json']
    (tmp_path / 'hv1.json').write_text('not json')
    assert recorded('hv1', 'iommu', str(tmp_path)) is None
    record('hv1', 'iommu', 'xyz', str(tmp_path))
    assert recorded('hv1', 'iommu', str(tmp_path)) == 'xyz'


def test_other_input_gives_a_full_plan():
    work = plan('mgmt_plane', _results({}), same_input=False)
    assert work['full'] is True and work['todo'] == area_ids('mgmt_plane')
    assert 'variables differ' in work['reason']
