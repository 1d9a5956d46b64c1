# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit actions' results pinned: messages, result keys, each host's outcome, the reports a
run writes (trend against the previous run, warnings, OSCAL), and how hosts' variables are read."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.errors import AnsibleActionFail
from ansible.plugins import action as action_base
from ansible.template import trust_as_template

from ansible_collections.hvsec.hypervisor.plugins.action import audit_evaluate, audit_report
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import audit_action
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import oscal
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import settings as settings_utils
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import summarize
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.action import controller_action

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'plugin_utils', 'fixtures', 'audit')
N = len(CONTROLS)


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def _action(cls, args):
    return controller_action.build(cls, args, 'audit')


@pytest.fixture(autouse=True)
def no_roles(tmp_path, monkeypatch):
    monkeypatch.setattr(AuditAction, 'ROLES_DIR', str(tmp_path / 'roles'))


def _evaluate(args, task_vars):
    return _action(audit_evaluate.ActionModule, args).run(task_vars=task_vars)


def _report(args, task_vars):
    return _action(audit_report.ActionModule, dict(args, quiet=args.get('quiet', True))).run(task_vars=task_vars)


def _broken():
    facts = _load('facts_hardened.json')
    facts['libvirt']['config']['qemu']['migrate_tls_force'] = 0  # HVS-MGMT-08 (high) fails
    facts['kvm']['nested'] = True                                # HVS-IOMMU-14 (medium) fails
    return facts


# ---------------------------------------------------------------- audit_evaluate

def test_evaluate_result_keys_and_message_with_a_gate():
    settings = _load('settings_hardened.json')
    result = _evaluate({'fail_on': 'medium'}, dict(settings, inventory_hostname='hv1',
                                                   ansible_facts={'hvsec': _broken()}))
    assert sorted(result) == ['changed', 'fail_on', 'gate_failures', 'msg', 'results', 'summary']
    assert result['fail_on'] == 'medium' and result['changed'] is False
    assert result['gate_failures'] == ['HVS-IOMMU-14', 'HVS-MGMT-08']
    assert result['summary'] == summarize(result['results']) and result['summary']['fail'] == 2
    assert result['msg'] == 'hv1: pass=%d fail=2 not_applicable=0 waived=0 error=0 | fail: HVS-IOMMU-14 HVS-MGMT-08 | ' \
                            'GATE: HVS-IOMMU-14 HVS-MGMT-08' % (N - 2)
    enforced = _evaluate({'fail_on': 'medium', 'enforce': True}, dict(settings, ansible_facts={'hvsec': _broken()}))
    assert enforced['failed'] is True
    assert enforced['msg'] == 'Gate fail_on=medium: 2 control(s) failed: HVS-IOMMU-14, HVS-MGMT-08'


def test_evaluate_facts_option_wins_and_names_the_host_host_by_default():
    settings = _load('settings_hardened.json')
    result = _evaluate({'facts': _load('facts_hardened.json')}, dict(settings, ansible_facts={'hvsec': _broken()}))
    assert result['summary']['pass'] == N
    assert result['msg'] == 'host: pass=%d fail=0 not_applicable=0 waived=0 error=0' % N
    result = _evaluate({'facts': _broken()}, dict(settings))
    assert result['summary']['fail'] == 2


def test_evaluate_settings_option_overrides_host_variables():
    settings = _load('settings_hardened.json')
    task_vars = dict(settings, ansible_facts={'hvsec': _broken()}, hvsec_iommu_nested=False)
    result = _evaluate({'settings': {'hvsec_iommu_nested': True}}, task_vars)
    assert [r['id'] for r in result['results'] if r['status'] == 'fail'] == ['HVS-MGMT-08']


@pytest.mark.parametrize('task_vars, host', [({'inventory_hostname': 'hv9'}, 'hv9'), ({}, 'this host')])
def test_evaluate_without_facts_names_the_host(task_vars, host):
    with pytest.raises(AnsibleActionFail) as exc:
        _evaluate({}, dict(task_vars, ansible_facts={'other': {}}))
    assert str(exc.value) == ('facts: no ansible_facts.hvsec for %s; run hvsec.hypervisor.hypervisor_facts first '
                              'or pass facts' % host)


def test_run_passes_no_tmp_to_the_base_action(monkeypatch):
    warned = []
    monkeypatch.setattr(action_base.display, 'warning', lambda msg, *a, **k: warned.append(msg))
    settings = _load('settings_hardened.json')
    _evaluate({}, dict(settings, ansible_facts={'hvsec': _load('facts_hardened.json')}))
    assert warned == []
    _action(audit_evaluate.ActionModule, {}).run(tmp='/old', task_vars=dict(
        settings, ansible_facts={'hvsec': _load('facts_hardened.json')}))
    assert len(warned) == 1 and 'tmp parameter' in warned[0]


# ---------------------------------------------------------------- audit_action helpers

@pytest.mark.parametrize('key, expected', [
    ('hvsec_iommu_policy', True), ('hvsec_', True), ('hvsec_audit', False), ('hvsec_audit_run', False),
    ('hvsec_audit_facts', False), ('other', False), ('HVSEC_x', False), (5, False), (None, False)])
def test_is_setting(key, expected):
    assert audit_action.is_setting(key) is expected


def test_trusted_keeps_values_in_nested_lists_and_mappings():
    value = {'a': ['x', {'b': ['y', 3]}], 'c': 'z', 'd': None}
    assert audit_action._trusted(value) == value
    assert audit_action._trusted(['p', ['q']]) == ['p', ['q']]


def test_evaluate_host_gates_nothing_by_default_and_names_the_option_at_fault():
    settings = _load('settings_hardened.json')
    results, gate = audit_action.evaluate_host(_broken(), settings)
    assert gate == [] and summarize(results)['fail'] == 2
    results, gate = audit_action.evaluate_host(_broken(), dict(settings, hvsec_waivers=[
        {'id': 'HVS-MGMT-08', 'reason': 'lab'}]), fail_on='low')
    assert gate == ['HVS-IOMMU-14']
    with pytest.raises(SettingsError) as exc:
        audit_action.evaluate_host(_broken(), settings, waivers=[{'id': 'HVS-NOPE-01', 'reason': 'x'}])
    assert str(exc.value) == 'waivers: waivers[0].id HVS-NOPE-01 is not a known control ID'


def test_role_defaults_error_is_an_action_failure(tmp_path):
    roles = tmp_path / 'badroles'
    (roles / 'r' / 'defaults').mkdir(parents=True)
    (roles / 'r' / 'defaults' / 'main.yml').write_text('- a list\n')
    with pytest.raises(SettingsError) as direct:
        settings_utils.role_defaults(str(roles))
    with pytest.raises(AnsibleActionFail) as exc:
        audit_action.role_defaults(str(roles))
    assert str(exc.value) == str(direct.value) == 'role defaults %s is not a mapping' % (roles / 'r' / 'defaults' / 'main.yml')


# ---------------------------------------------------------------- audit_report: outcome mode

@pytest.mark.parametrize('run, host, expected', [
    ({'unreachable_hosts': ['hv1'], 'not_audited': {'hv1': 'host unreachable: ssh'}}, 'hv1',
     {'changed': False, 'unreachable': True, 'msg': 'not audited: host unreachable: ssh'}),
    ({'unreachable_hosts': ['hv1']}, 'hv1', {'changed': False, 'unreachable': True, 'msg': 'not audited: host unreachable'}),
    ({'refused': {'hv1': 'settings: bad'}, 'not_audited': {'hv1': 'settings refused: settings: bad'}}, 'hv1',
     {'changed': False, 'failed': True, 'msg': 'settings: bad'}),
    ({'not_audited': {'hv1': 'facts task failed: x'}}, 'hv1',
     {'changed': False, 'failed': True, 'msg': 'not audited: facts task failed: x'}),
    ({'gate_failures': {'hv1': ['HVS-A-01', 'HVS-B-02']}, 'fail_on': {'hv1': 'high'}}, 'hv1',
     {'changed': False, 'failed': True, 'msg': '2 control(s) at or above severity high failed: HVS-A-01, HVS-B-02'}),
    ({'gate_failures': {'hv1': ['HVS-A-01']}}, 'hv1',
     {'changed': False, 'failed': True, 'msg': '1 control(s) at or above severity ? failed: HVS-A-01'}),
    ({'gate_failures': {'hv1': []}, 'refused': {'hv2': 'x'}, 'not_audited': {'hv2': 'y'}, 'unreachable_hosts': ['hv3']},
     'hv1', {'changed': False, 'msg': 'audited; no gate failure'}),
    ({'unreachable_hosts': None, 'refused': None, 'not_audited': None, 'gate_failures': None}, 'hv1',
     {'changed': False, 'msg': 'audited; no gate failure'}),
    ('not a result', 'hv1', {'changed': False, 'msg': 'audited; no gate failure'}),
])
def test_host_outcome(run, host, expected):
    assert audit_report._host_outcome(run, host) == expected


def test_outcome_mode_is_the_whole_task_result():
    result = _action(audit_report.ActionModule, {'outcome': {'refused': {'hv1': 'settings: bad'}}}).run(
        task_vars={'inventory_hostname': 'hv1'})
    assert result == {'changed': False, 'failed': True, 'msg': 'settings: bad'}


# ---------------------------------------------------------------- audit_report: registered results

def test_registered_results_failed_gated_and_missing(tmp_path):
    settings = _load('settings_hardened.json')
    good = _evaluate({'fail_on': 'medium'}, dict(settings, ansible_facts={'hvsec': _broken()}))
    failed = dict(good, failed=True, msg='Gate fail_on=medium: 2 control(s) failed')
    hostvars = {'hv1': {'hvsec_audit': good}, 'hv2': {'hvsec_audit': failed}, 'hv3': {'hvsec_audit': {'msg': 'odd'}},
                'hv4': {}, 'hv5': {'hvsec_audit': 'text'}}
    task_vars = {'hostvars': hostvars, 'ansible_play_hosts_all': ['hv1', 'hv2', 'hv3', 'hv4', 'hv5', 'hv6']}
    result = _report({'report_dir': str(tmp_path / 'out')}, task_vars)
    no_result = audit_report.NO_RESULT
    assert result['not_audited'] == {'hv2': 'Gate fail_on=medium: 2 control(s) failed', 'hv3': 'odd', 'hv4': no_result,
                                     'hv5': no_result, 'hv6': no_result}
    assert result['summary_lines'][0] == good['msg'].replace('host: ', 'hv1: ', 1) and ' | GATE: ' in good['msg']
    assert result['summary_lines'][1] == 'hv2: pass=0 fail=0 not_applicable=0 waived=0 error=%d | facts not gathered: ' \
                                         'Gate fail_on=medium: 2 control(s) failed' % N
    assert result['summary_lines'][5] == 'hv6: pass=0 fail=0 not_applicable=0 waived=0 error=%d | facts not gathered: %s' % (
        N, no_result)
    assert result['unreachable_hosts'] == [] and 'refused' not in result and 'failed_hosts' not in result
    assert result['msg'] == 'reports written to %s' % (tmp_path / 'out')
    assert result['hosts'] == dict((h, d['summary']) for h, d in json.loads(
        (tmp_path / 'out' / 'audit.json').read_text())['hosts'].items())
    assert result['hosts']['hv1']['fail'] == 2 and result['hosts']['hv3']['error'] == N


def test_hosts_option_limits_the_report(tmp_path):
    hostvars = {'hv1': {}, 'hv2': {}}
    result = _report({'report_dir': str(tmp_path / 'out'), 'hosts': ['hv2']},
                     {'hostvars': hostvars, 'ansible_play_hosts_all': ['hv1', 'hv2']})
    assert list(result['hosts']) == ['hv2']
    result = _report({'report_dir': str(tmp_path / 'none')}, {'hostvars': hostvars})
    assert result['hosts'] == {} and result['msg'] == 'reports written to %s' % (tmp_path / 'none')


# ---------------------------------------------------------------- audit_report: evaluate

class RawHostVars(dict):
    """HostVars' interface: raw_get gives a host's untemplated variables; other reads are refused."""

    def raw_get(self, host):
        return dict.get(self, host)

    def get(self, *args):
        raise AssertionError('templated hostvars read')


def _fleet(hosts, me='hv1'):
    settings = _load('settings_hardened.json')
    hostvars = RawHostVars((name, dict(settings, inventory_hostname=name, **extra)) for name, extra in hosts)
    task_vars = dict(hostvars.raw_get(me), hostvars=hostvars, inventory_hostname=me,
                     ansible_play_hosts_all=[h for h, dummy in hosts] + ['gone'],
                     ansible_play_hosts=[h for h, dummy in hosts])
    return task_vars


def test_evaluate_reads_raw_host_variables_and_reports_each_refusal(tmp_path):
    hardened = {'ansible_facts': {'hvsec': _load('facts_hardened.json')}}
    task_vars = _fleet([('hv1', dict(hardened, site_policy_unused=1)),
                        ('hv2', {}),
                        ('hv3', dict(hardened, hvsec_iommu_policy=trust_as_template('{{ nowhere_defined }}'))),
                        ('hv4', dict(hardened))])
    task_vars['hostvars']['hv4'] = None  # raw_get gives no mapping: the host has no variables
    task_vars['ansible_play_hosts_all'] = ['gone', 'hv1', 'hv2', 'hv3', 'hv4']
    result = _report({'report_dir': str(tmp_path / 'out'), 'evaluate': True}, task_vars)
    assert result['refused']['hv2'] == 'facts: no ansible_facts.hvsec for hv2; run hvsec.hypervisor.hypervisor_facts first'
    assert result['refused']['hv4'] == 'facts: no ansible_facts.hvsec for hv4; run hvsec.hypervisor.hypervisor_facts first'
    # a templating error (AnsibleError, not SettingsError) gets the 'settings: ' prefix here
    assert result['refused']['hv3'] == "settings: 'nowhere_defined' is undefined"
    assert result['not_audited']['hv3'] == 'settings refused: ' + result['refused']['hv3']
    assert sorted(result['refused']) == ['hv2', 'hv3', 'hv4']
    data = json.loads((tmp_path / 'out' / 'audit.json').read_text())
    assert data['hosts']['gone']['controls'][0]['evidence'] == 'facts not gathered: ' + audit_report.NO_RESULT
    assert data['hosts']['hv1']['summary']['pass'] == N  # evaluated although 'gone' came first
    assert data['hosts']['hv2']['controls'][-1]['evidence'] == 'not evaluated: ' + result['refused']['hv2']
    assert result['failed_hosts'] == ['hv2', 'hv3', 'hv4']


def test_the_running_host_is_judged_with_its_task_vars(tmp_path):
    """Play variables reach the running host through its task_vars, which hostvars do not hold."""
    facts = {'ansible_facts': {'hvsec': _load('facts_hardened.json')}}
    task_vars = _fleet([('hv1', dict(facts, hvsec_iommu_policy=trust_as_template('{{ play_policy }}')))])
    task_vars['play_policy'] = 'strict'
    result = _report({'report_dir': str(tmp_path / 'out'), 'evaluate': True}, task_vars)
    assert result['refused'] == {} and result['hosts']['hv1']['pass'] == N


def test_a_bad_gate_level_variable_is_named(tmp_path):
    task_vars = _fleet([('hv1', {'ansible_facts': {'hvsec': _load('facts_hardened.json')}, 'hvsec_audit_fail_on': 'severe'})])
    result = _report({'report_dir': str(tmp_path / 'out'), 'evaluate': True}, task_vars)
    assert result['refused']['hv1'].startswith('hvsec_audit_fail_on: ') and 'severe' in result['refused']['hv1']


def test_facts_var_outcome_is_the_evidence(tmp_path):
    task_vars = _fleet([('hv1', {'ansible_facts': {'hvsec': _load('facts_hardened.json')}, 'reg': {'changed': False}}),
                        ('hv2', {'ansible_facts': {'hvsec': _load('facts_hardened.json')},
                                 'reg': {'unreachable': True, 'msg': 'no route'}})])
    result = _report({'report_dir': str(tmp_path / 'out'), 'evaluate': True, 'facts_var': 'reg'}, task_vars)
    data = json.loads((tmp_path / 'out' / 'audit.json').read_text())
    assert data['hosts']['hv2']['controls'][0]['evidence'] == 'facts not gathered: host unreachable: no route'
    assert result['unreachable_hosts'] == ['hv2'] and result['msg'] == 'reports written to %s' % (tmp_path / 'out')


# ---------------------------------------------------------------- audit_report: the files

def _one_host(tmp_path, facts, **extra):
    return dict(_load('settings_hardened.json'), inventory_hostname='hv1', ansible_play_hosts=['hv1'],
                ansible_play_hosts_all=['hv1'], ansible_facts={'hvsec': facts}, hostvars={}, **extra)


def test_second_run_reports_the_trend_against_the_first(tmp_path):
    out = tmp_path / 'out'
    first = _report({'report_dir': str(out), 'evaluate': True}, _one_host(tmp_path, _load('facts_hardened.json')))
    assert 'id="no-previous"' in (out / 'audit.html').read_text()
    assert first['files'] == dict((k, str(out / n)) for k, n in (
        ('json', 'audit.json'), ('markdown', 'audit.md'), ('junit', 'audit.junit.xml'), ('html', 'audit.html')))
    before = (out / 'audit.json').read_text()
    second = _report({'report_dir': str(out), 'evaluate': True}, _one_host(tmp_path, _broken()))
    assert second['files'] == dict(first['files'], previous=str(out / 'audit.previous.json'))
    assert (out / 'audit.previous.json').read_text() == before
    html = (out / 'audit.html').read_text()
    assert '<b id="n-new-fail">2</b> newly failing, <b id="n-fixed">0</b> fixed' in html


@pytest.mark.parametrize('old', ['[]', '{"hosts": []}', 'not json'])
def test_a_previous_file_that_is_not_a_report_gives_no_trend(tmp_path, old):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'audit.json').write_text(old)
    result = _report({'report_dir': str(out), 'evaluate': True}, _one_host(tmp_path, _load('facts_hardened.json')))
    assert 'id="no-previous"' in (out / 'audit.html').read_text()
    assert (out / 'audit.previous.json').read_text() == old and 'previous' in result['files']


def test_the_previous_copy_is_made_in_the_report_directory(tmp_path, monkeypatch):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'audit.json').write_text('{}')
    renames = []
    real = os.replace

    def replace(src, dst):
        renames.append((os.path.dirname(src), os.path.basename(src).startswith('.audit.previous.'), dst))
        return real(src, dst)
    monkeypatch.setattr(os, 'replace', replace)
    _report({'report_dir': str(out), 'evaluate': True}, _one_host(tmp_path, _load('facts_hardened.json')))
    assert renames[0] == (str(out), True, str(out / 'audit.previous.json'))


def test_html_failure_is_a_warning_and_the_other_reports_are_written(tmp_path, monkeypatch):
    def broken(*args):
        raise KeyError('status')
    monkeypatch.setattr(audit_report, 'render_html', broken)
    out = tmp_path / 'out'
    result = _report({'report_dir': str(out), 'evaluate': True}, _one_host(tmp_path, _load('facts_hardened.json')))
    assert result['warnings'] == ["audit.html not written: 'status'"]
    assert sorted(result['files']) == ['json', 'junit', 'markdown'] and not (out / 'audit.html').exists()


def test_oscal_failure_is_a_warning_and_removes_the_older_oscal_file(tmp_path, monkeypatch):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'audit.oscal.json').write_text('{}')

    def broken(*args):
        raise ValueError('bad time')
    monkeypatch.setattr(oscal, 'assessment_results', broken)
    result = _report({'report_dir': str(out), 'evaluate': True, 'oscal': True},
                     _one_host(tmp_path, _load('facts_hardened.json')))
    assert result['warnings'] == ['audit.oscal.json not written: bad time']
    assert 'oscal' not in result['files'] and not (out / 'audit.oscal.json').exists()
    result = _report({'report_dir': str(tmp_path / 'new'), 'evaluate': True, 'oscal': True},
                     _one_host(tmp_path, _load('facts_hardened.json')))
    assert result['warnings'] == ['audit.oscal.json not written: bad time']


def test_oscal_metadata_carries_the_collection_version(tmp_path):
    out = tmp_path / 'out'
    _report({'report_dir': str(out), 'evaluate': True, 'oscal': True}, _one_host(tmp_path, _load('facts_hardened.json')))
    version = oscal.collection_version(audit_report.COLLECTION_ROOT)
    assert version != 'unknown'
    assert json.loads((out / 'audit.oscal.json').read_text())['assessment-results']['metadata']['version'] == version


def test_missing_trestle_message(tmp_path, monkeypatch):
    def missing():
        raise ImportError('no trestle here')
    monkeypatch.setattr(oscal, 'models', missing)
    with pytest.raises(AnsibleActionFail) as exc:
        _report({'report_dir': str(tmp_path / 'out'), 'oscal': True}, {})
    assert str(exc.value) == ('oscal: OSCAL output needs compliance-trestle on the controller (no trestle here); '
                              'install it with pip install compliance-trestle==5.2.0')


def test_unwritable_report_dir_message(tmp_path):
    (tmp_path / 'file').write_text('x')
    target = tmp_path / 'file' / 'sub'
    with pytest.raises(AnsibleActionFail) as exc:
        _report({'report_dir': str(target)}, {'hostvars': {}})
    assert str(exc.value).startswith('report_dir: cannot write reports in %s: [Errno 20] Not a directory' % target)


def test_console_text_with_and_without_coverage(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(audit_report.display, 'display', lambda msg, *a, **k: shown.append(msg))
    task_vars = _one_host(tmp_path, _load('facts_hardened.json'))
    result = _report({'report_dir': str(tmp_path / 'a'), 'evaluate': True, 'quiet': False}, task_vars)
    assert shown == ['hvsec audit (1 host(s), reports in %s):\n  %s' % (tmp_path / 'a', result['summary_lines'][0])]
    task_vars['ansible_play_hosts_all'] = ['hv1', 'hv2']
    result = _report({'report_dir': str(tmp_path / 'b'), 'evaluate': True, 'quiet': False, 'slice': 'x'}, task_vars)
    assert shown[1] == 'hvsec audit (2 host(s), reports in %s):\n  %s\n  %s\n  Slice x of a sliced run (its hosts ' \
                       'only). 1 of 2 host(s) could not be audited: hv2: %s.' % (
                           tmp_path / 'b', result['summary_lines'][0], result['summary_lines'][1], audit_report.NO_RESULT)
    assert result['msg'] == 'reports written to %s' % (tmp_path / 'b')
    _report({'report_dir': str(tmp_path / 'c'), 'evaluate': True}, task_vars)
    assert len(shown) == 2
