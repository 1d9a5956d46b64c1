# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side action harden_plan, with a real loader and templar and the real role defaults."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.hvsec.hypervisor.tests.unit.plugins.action import controller_action
from ansible_collections.hvsec.hypervisor.plugins.action import harden_plan
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.harden import area_ids

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'plugin_utils', 'fixtures', 'audit')


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def _plan(args, task_vars, check_mode=False):
    return controller_action.build(harden_plan.ActionModule, args, 'harden_plan', check_mode).run(task_vars=task_vars)


def _vars(facts, gathered=None, **extra):
    """Host variables: the hardened settings, ``facts`` as ansible_facts.hvsec, and ``gathered`` as
    the registered result of this run's facts task (None: not gathered in this run)."""
    out = dict(_load('settings_hardened.json'), inventory_hostname='hv1', ansible_facts={'hvsec': facts})
    if gathered is not None:
        out['_hvsec_facts_gathered_harden'] = {'changed': False, 'ansible_facts': {'hvsec': gathered}}
    out.update(extra)
    return out


def test_compliant_host_has_no_work_in_any_area():
    facts = _load('facts_hardened.json')
    for area in ('iommu', 'vfio', 'vswitch', 'mgmt_plane'):
        result = _plan({'area': area}, _vars(facts, facts))
        assert result['todo'] == [] and result['full'] is False and result['fresh'] is True
        assert result['changed'] is False and not result.get('failed')
        assert 'to do: nothing' in result['msg']


def test_one_drift_is_the_only_work():
    facts = _load('facts_hardened.json')
    facts['ksm']['run'] = 1
    result = _plan({'area': 'iommu'}, _vars(facts, facts))
    assert result['todo'] == ['HVS-IOMMU-13']
    assert result['statuses']['HVS-IOMMU-13'] == 'fail' and result['statuses']['HVS-IOMMU-05'] == 'pass'
    assert _plan({'area': 'mgmt_plane'}, _vars(facts, facts))['todo'] == []


def test_host_variables_override_role_defaults_like_the_audit():
    facts = _load('facts_hardened.json')
    # SMT off is judged against hvsec_iommu_nosmt: the hardened host variable (true) makes HVS-IOMMU-12
    # pass; the role default (false) makes it not_applicable (no work either: the policy is off).
    hardened = _plan({'area': 'iommu'}, _vars(facts, facts))
    assert hardened['todo'] == [] and hardened['statuses']['HVS-IOMMU-12'] == 'pass'
    task_vars = _vars(facts, facts)
    del task_vars['hvsec_iommu_nosmt']
    result = _plan({'area': 'iommu'}, task_vars)
    assert result['todo'] == [] and result['statuses']['HVS-IOMMU-12'] == 'not_applicable'
    # With the policy on and SMT still active on the host, the control fails: work.
    smt_on = copy.deepcopy(facts)
    smt_on['cpu']['smt_active'] = True
    result = _plan({'area': 'iommu'}, _vars(smt_on, smt_on))
    assert result['todo'] == ['HVS-IOMMU-12'] and result['statuses']['HVS-IOMMU-12'] == 'fail'


def test_text_from_the_command_line_is_judged_as_the_role_reads_it():
    facts = _load('facts_hardened.json')
    # -e hvsec_iommu_nosmt=true gives the text 'true': the role reads it as true, so does the plan.
    assert _plan({'area': 'iommu'}, _vars(facts, facts, hvsec_iommu_nosmt='true'))['todo'] == []
    # With SMT active, the text 'true' is the policy on (fail: work), the text 'false' is off (not
    # applicable: no work); read as a non-empty string, 'false' would be true.
    smt_on = copy.deepcopy(facts)
    smt_on['cpu']['smt_active'] = True
    assert _plan({'area': 'iommu'}, _vars(smt_on, smt_on, hvsec_iommu_nosmt='true'))['todo'] == ['HVS-IOMMU-12']
    result = _plan({'area': 'iommu'}, _vars(smt_on, smt_on, hvsec_iommu_nosmt='false'))
    assert result['todo'] == [] and result['statuses']['HVS-IOMMU-12'] == 'not_applicable'
    result = _plan({'area': 'vfio'}, _vars(facts, facts, hvsec_iommu_early_dma_protection='false'))
    assert result['todo'] == []
    with pytest.raises(AnsibleActionFail, match='hvsec_iommu_nosmt'):
        _plan({'area': 'iommu'}, _vars(facts, facts, hvsec_iommu_nosmt='maybe'))


def test_waived_control_is_not_work():
    facts = _load('facts_hardened.json')
    facts['ksm']['run'] = 1
    waivers = [{'id': 'HVS-IOMMU-13', 'reason': 'test'}]
    result = _plan({'area': 'iommu'}, _vars(facts, facts, hvsec_waivers=waivers))
    assert result['todo'] == [] and result['statuses']['HVS-IOMMU-13'] == 'waived'


def test_full_run_on_request_or_without_facts_of_this_run():
    facts = _load('facts_hardened.json')
    full = _plan({'area': 'vswitch', 'full': True}, _vars(facts, facts))
    assert full['full'] is True and full['todo'] == area_ids('vswitch')
    cached = _plan({'area': 'vswitch'}, _vars(facts))
    assert cached['full'] is True and cached['fresh'] is False and cached['todo'] == area_ids('vswitch')
    older = copy.deepcopy(facts)
    older['ksm']['run'] = 1
    stale = _plan({'area': 'iommu'}, _vars(facts, older))
    assert stale['full'] is True and stale['todo'] == area_ids('iommu')
    no_facts = _plan({'area': 'iommu'}, dict(_load('settings_hardened.json')))
    assert no_facts['full'] is True and no_facts['todo'] == area_ids('iommu')


def test_a_later_plan_trusts_an_earlier_fresh_plan_of_the_same_facts():
    facts = _load('facts_hardened.json')
    first = _plan({'area': 'vfio'}, _vars(facts, facts))
    later = _plan({'area': 'vfio'}, _vars(facts, _hvsec_facts_gathered_vfio={'skipped': True}, _hvsec_work_vfio=first))
    assert later['fresh'] is True and later['todo'] == []


def test_input_recorded_by_a_completed_run_decides_whether_to_skip(tmp_path, monkeypatch):
    monkeypatch.setenv('HVSEC_HARDEN_STATE_DIR', str(tmp_path))
    facts = _load('facts_hardened.json')
    inp = {'hvsec_vswitch_persist': True, 'hvsec_harden_full': False}
    first = _plan({'area': 'vswitch', 'input': inp}, _vars(facts, facts))
    assert first['full'] is True and first['same_input'] is False
    checked = _plan({'area': 'vswitch', 'input': inp, 'record': True}, _vars(facts, facts), check_mode=True)
    assert checked['recorded'] is False and list(tmp_path.iterdir()) == []
    done = _plan({'area': 'vswitch', 'input': inp, 'record': True}, _vars(facts, facts))
    assert done['recorded'] is True and done['changed'] is False
    again = _plan({'area': 'vswitch', 'input': inp}, _vars(facts, facts))
    assert again['full'] is False and again['same_input'] is True and again['todo'] == []
    other = _plan({'area': 'vswitch', 'input': dict(inp, hvsec_vswitch_persist=False)}, _vars(facts, facts))
    assert other['full'] is True and other['same_input'] is False
    # Another host, another area: nothing recorded for them.
    assert _plan({'area': 'vswitch', 'input': inp}, _vars(facts, facts, inventory_hostname='hv2'))['full'] is True
    assert _plan({'area': 'vfio', 'input': inp}, _vars(facts, facts))['full'] is True


@pytest.mark.parametrize('run_tags,skip_tags,recorded', [
    (None, None, True),
    (['all'], [], True),
    # Molecule's converge and idempotence pass --skip-tags molecule-notest,notest: no task of ours
    (['all'], ['molecule-notest', 'notest'], True),
    (['all'], ['site-only'], True),
    (['HVS-VSW-02'], [], False),
    (['vswitch'], [], False),
    (['all', 'vswitch'], [], False),
    (['all'], ['HVS-VSW-04'], False),
    (['all'], ['mgmt_plane'], False),
    (['all'], ['notest', 'always'], False),
])
def test_only_a_run_without_our_tasks_deselected_is_recorded(tmp_path, monkeypatch, run_tags, skip_tags, recorded):
    monkeypatch.setenv('HVSEC_HARDEN_STATE_DIR', str(tmp_path))
    facts = _load('facts_hardened.json')
    tags = {}
    if run_tags is not None:
        tags.update(ansible_run_tags=run_tags, ansible_skip_tags=skip_tags)
    result = _plan({'area': 'vswitch', 'input': {'hvsec_vswitch_persist': True}, 'record': True},
                   _vars(facts, facts, **tags))
    assert result['recorded'] is recorded, result
    assert (list(tmp_path.iterdir()) != []) is recorded
    if not recorded:
        assert 'not recorded' in result['msg'] and ('--tags' in result['msg'] or '--skip-tags' in result['msg'])


def test_bad_settings_and_area_fail():
    facts = _load('facts_hardened.json')
    with pytest.raises(AnsibleActionFail, match='HVS-NOPE-01'):
        _plan({'area': 'iommu'}, _vars(facts, facts, hvsec_waivers=[{'id': 'HVS-NOPE-01', 'reason': 'x'}]))
    with pytest.raises(AnsibleActionFail, match='area'):
        _plan({'area': 'storage'}, _vars(facts, facts))
