# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side actions audit_evaluate and audit_report, with a real loader and templar."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.hvsec.hypervisor.tests.unit.plugins.action import controller_action
from ansible_collections.hvsec.hypervisor.plugins.action import audit_evaluate, audit_report
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'plugin_utils', 'fixtures', 'audit')


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def _action(cls, args):
    return controller_action.build(cls, args, 'audit')


def _evaluate(args, task_vars, roles_dir=None, monkeypatch=None):
    if roles_dir is not None:
        monkeypatch.setattr(AuditAction, 'ROLES_DIR', str(roles_dir))
    return _action(audit_evaluate.ActionModule, args).run(task_vars=task_vars)


@pytest.fixture
def no_roles(tmp_path, monkeypatch):
    monkeypatch.setattr(AuditAction, 'ROLES_DIR', str(tmp_path / 'roles'))
    return tmp_path / 'roles'


def test_evaluate_from_host_facts_and_vars(no_roles):
    task_vars = dict(_load('settings_hardened.json'), inventory_hostname='hv1',
                     ansible_facts={'hvsec': _load('facts_hardened.json')})
    result = _evaluate({}, task_vars)
    assert result['changed'] is False
    assert [r['id'] for r in result['results']] == [c['id'] for c in CONTROLS]
    assert result['summary']['pass'] == len(CONTROLS)
    assert result['gate_failures'] == []
    assert result['msg'].startswith('hv1: pass=%d' % len(CONTROLS))


def test_role_defaults_are_read_templated_and_overridden_by_host_vars(tmp_path, monkeypatch):
    defaults = tmp_path / 'roles' / 'iommu' / 'defaults'
    defaults.mkdir(parents=True)
    (defaults / 'main.yml').write_text('hvsec_iommu_policy: "{{ site_iommu_policy }}"\n')
    facts = _load('facts_hardened.json')
    facts['iommu']['groups'][0]['type'] = 'identity'
    task_vars = dict(_load('settings_hardened.json'), site_iommu_policy='passthrough',
                     ansible_facts={'hvsec': facts})
    result = _evaluate({}, task_vars, tmp_path / 'roles', monkeypatch)
    iommu07 = [r for r in result['results'] if r['id'] == 'HVS-IOMMU-07'][0]
    assert iommu07['status'] == 'pass' and 'passthrough' in iommu07['evidence']
    task_vars['hvsec_iommu_policy'] = 'strict'
    result = _evaluate({}, task_vars, tmp_path / 'roles', monkeypatch)
    iommu07 = [r for r in result['results'] if r['id'] == 'HVS-IOMMU-07'][0]
    assert iommu07['status'] == 'fail' and 'identity' in iommu07['evidence']


def test_waivers_default_to_hvsec_waivers_and_gate_enforce(no_roles):
    facts = _load('facts_hardened.json')
    facts['libvirt']['config']['qemu']['migrate_tls_force'] = 0
    facts['ksm']['run'] = 1
    task_vars = dict(_load('settings_hardened.json'), ansible_facts={'hvsec': facts},
                     hvsec_waivers=[{'id': 'HVS-IOMMU-13', 'reason': 'lab'}])
    result = _evaluate({'fail_on': 'medium'}, task_vars)
    assert result['gate_failures'] == ['HVS-MGMT-08']
    assert not result.get('failed')
    result = _evaluate({'fail_on': 'medium', 'enforce': True}, task_vars)
    assert result['failed'] is True
    assert 'HVS-MGMT-08' in result['msg']
    result = _evaluate({'fail_on': 'critical', 'enforce': True}, task_vars)
    assert not result.get('failed')


@pytest.mark.parametrize('args,task_vars,message', [
    ({'bogus': 1}, {}, 'bogus'),
    ({'fail_on': 'severe'}, {}, 'fail_on'),
    ({'waivers': [{'id': 'HVS-NOPE-01', 'reason': 'x'}]}, None, 'waivers: waivers[0].id HVS-NOPE-01 is not a known control ID'),
    ({}, {'hvsec_vfio_allowlist': 'all'}, 'settings: hvsec_vfio_allowlist must be a list'),
    ({}, {'ansible_facts': {}}, 'facts: no ansible_facts.hvsec'),
])
def test_bad_input_names_the_option(no_roles, args, task_vars, message):
    base = {'ansible_facts': {'hvsec': _load('facts_hardened.json')}}
    base.update(task_vars or {})
    with pytest.raises(AnsibleActionFail) as exc:
        _evaluate(args, base)
    assert message in str(exc.value)


def _host_result(facts, settings):
    task_vars = dict(settings, ansible_facts={'hvsec': facts})
    return audit_evaluate.ActionModule.run(_action(audit_evaluate.ActionModule, {}), task_vars=task_vars)


def test_report_writes_all_formats_keeps_previous_and_covers_failed_hosts(tmp_path, no_roles):
    settings = _load('settings_hardened.json')
    hv1 = _host_result(_load('facts_hardened.json'), settings)
    hostvars = {'hv1': {'hvsec_audit': hv1}, 'hv2': {}}
    task_vars = {'hostvars': hostvars, 'ansible_play_hosts_all': ['hv1', 'hv2']}
    report_dir = tmp_path / 'out'
    result = _action(audit_report.ActionModule, {'report_dir': str(report_dir), 'quiet': True}).run(task_vars=task_vars)
    assert result['changed'] is False
    assert sorted(result['files']) == ['html', 'json', 'junit', 'markdown']
    assert '<html' in (report_dir / 'audit.html').read_text()
    data = json.loads((report_dir / 'audit.json').read_text())
    assert data['hosts']['hv1']['summary']['pass'] == len(CONTROLS)
    assert data['hosts']['hv2']['summary']['error'] == len(CONTROLS)
    assert 'no audit result' in data['hosts']['hv2']['controls'][0]['evidence']
    assert (report_dir / 'audit.md').exists() and (report_dir / 'audit.junit.xml').exists()
    assert len(result['summary_lines']) == 2
    # second run: previous kept, no temporary files left behind
    result = _action(audit_report.ActionModule, {'report_dir': str(report_dir), 'quiet': True}).run(task_vars=task_vars)
    assert 'previous' in result['files']
    assert json.loads((report_dir / 'audit.previous.json').read_text()) == data
    assert sorted(os.listdir(str(report_dir))) == ['audit.html', 'audit.json', 'audit.junit.xml', 'audit.md',
                                                   'audit.previous.json']
    # every report file, the previous one included, has the same mode (not mkstemp's 0600)
    modes = set(oct(os.stat(str(report_dir / name)).st_mode & 0o777) for name in os.listdir(str(report_dir)))
    assert modes == {oct(0o644)}


def test_report_dir_unwritable_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(AnsibleActionFail) as exc:
        _action(audit_report.ActionModule, {'report_dir': str(blocker / 'sub'), 'quiet': True}).run(
            task_vars={'hostvars': {}, 'ansible_play_hosts_all': []})
    assert 'report_dir' in str(exc.value)


def _fleet_vars(settings, hosts):
    """hostvars of several hosts (each its facts and settings) and the task_vars of the first."""
    hostvars = {}
    for name, facts, extra in hosts:
        host = dict(settings, inventory_hostname=name)
        if facts is not None:
            host['ansible_facts'] = {'hvsec': facts}
        host.update(extra)
        hostvars[name] = host
    first = hosts[0][0]
    task_vars = dict(hostvars[first], hostvars=hostvars, ansible_play_hosts_all=[h[0] for h in hosts],
                     ansible_play_hosts=[h[0] for h in hosts if h[1] is not None])
    return hostvars, task_vars


def _report(args, task_vars):
    return _action(audit_report.ActionModule, dict(args, quiet=True)).run(task_vars=task_vars)


def test_report_evaluates_every_host_in_one_task(tmp_path, no_roles):
    settings = _load('settings_hardened.json')
    hardened = _load('facts_hardened.json')
    nested = _load('facts_hardened.json')
    nested['kvm']['nested'] = True  # HVS-IOMMU-14 (medium) fails unless hvsec_iommu_nested is true
    dummy, task_vars = _fleet_vars(settings, [
        ('hv1', hardened, {}),
        ('hv2', nested, {'hvsec_audit_fail_on': 'medium'}),
        ('hv3', nested, {'hvsec_audit_fail_on': 'critical'}),
        ('hv4', hardened, {'hvsec_waivers': [{'id': 'HVS-NOPE-01', 'reason': 'typo'}]}),
        ('hv5', None, {}),  # facts task failed: not in ansible_play_hosts
    ])
    report_dir = tmp_path / 'out'
    result = _report({'report_dir': str(report_dir), 'evaluate': True}, task_vars)
    assert result['changed'] is False and 'failed' not in result
    data = json.loads((report_dir / 'audit.json').read_text())
    assert sorted(data['hosts']) == ['hv1', 'hv2', 'hv3', 'hv4', 'hv5']
    assert data['hosts']['hv1']['summary']['pass'] == len(CONTROLS)
    iommu14 = [c for c in data['hosts']['hv2']['controls'] if c['id'] == 'HVS-IOMMU-14'][0]
    assert iommu14['status'] == 'fail'
    # the gate: each host's own level; it never fails the task
    assert result['gate_failures'] == {'hv2': ['HVS-IOMMU-14']}
    assert result['fail_on'] == {'hv1': 'none', 'hv2': 'medium', 'hv3': 'critical'}
    # a refused host is reported, named with its message, and does not stop the others
    assert list(result['refused']) == ['hv4']
    assert 'waivers[0].id HVS-NOPE-01 is not a known control ID' in result['refused']['hv4']
    assert data['hosts']['hv4']['summary']['error'] == len(CONTROLS)
    assert data['hosts']['hv4']['controls'][0]['evidence'].startswith('not evaluated: waivers: ')
    assert data['hosts']['hv5']['summary']['error'] == len(CONTROLS)
    assert 'facts not gathered' in data['hosts']['hv5']['controls'][0]['evidence']
    assert result['failed_hosts'] == ['hv2', 'hv4']  # hv5: Ansible itself already failed it
    assert result['not_audited'] == {'hv4': result['not_audited']['hv4'], 'hv5': audit_report.NO_RESULT}
    assert result['not_audited']['hv4'].startswith('settings refused: waivers: ')
    assert [line.split(':')[0] for line in result['summary_lines']] == ['hv1', 'hv2', 'hv3', 'hv4', 'hv5']
    assert 'GATE: HVS-IOMMU-14' in result['summary_lines'][1]


def test_evaluate_matches_audit_evaluate_per_host(tmp_path, no_roles):
    """One task for all hosts gives each host the results the per-host action gives it."""
    settings = _load('settings_hardened.json')
    facts = _load('facts_hardened.json')
    facts['ksm']['run'] = 1
    extra = {'hvsec_waivers': [{'id': 'HVS-IOMMU-13', 'reason': 'lab'}], 'hvsec_iommu_policy': 'passthrough'}
    dummy, task_vars = _fleet_vars(settings, [('hv1', _load('facts_hardened.json'), {}), ('hv2', facts, extra)])
    report_dir = tmp_path / 'out'
    _report({'report_dir': str(report_dir), 'evaluate': True}, task_vars)
    data = json.loads((report_dir / 'audit.json').read_text())
    alone = _host_result(facts, dict(settings, **extra))
    fields = ('id', 'title', 'area', 'severity', 'status', 'evidence')
    assert data['hosts']['hv2']['controls'] == [dict((k, r[k]) for k in fields + (('waiver',) if 'waiver' in r else ()))
                                                for r in alone['results']]
    assert [c['status'] for c in data['hosts']['hv2']['controls'] if c['id'] == 'HVS-IOMMU-13'] == ['waived']


def test_evaluate_applies_play_level_variables_and_fail_on_option(tmp_path, no_roles):
    settings = _load('settings_hardened.json')
    nested = _load('facts_hardened.json')
    nested['kvm']['nested'] = True
    hostvars, task_vars = _fleet_vars(settings, [('hv1', nested, {}), ('hv2', nested, {})])
    # a play variable: in the running host's task_vars, not in any hostvars
    task_vars['hvsec_iommu_nested'] = True
    result = _report({'report_dir': str(tmp_path / 'a'), 'evaluate': True, 'fail_on': 'low'}, task_vars)
    assert result['gate_failures'] == {} and result['fail_on'] == {'hv1': 'low', 'hv2': 'low'}
    del task_vars['hvsec_iommu_nested']
    result = _report({'report_dir': str(tmp_path / 'b'), 'evaluate': True, 'fail_on': 'low'}, task_vars)
    assert result['gate_failures'] == {'hv1': ['HVS-IOMMU-14'], 'hv2': ['HVS-IOMMU-14']}


def test_evaluate_refuses_bad_gate_level_and_says_when_no_host_is_audited(tmp_path, no_roles):
    """No host evaluated: the reports are still written, and say so (an older report must not look
    current)."""
    settings = _load('settings_hardened.json')
    dummy, task_vars = _fleet_vars(settings, [
        ('hv1', _load('facts_hardened.json'), {'hvsec_audit_fail_on': 'severe'}),
        ('hv2', _load('facts_hardened.json'), {'hvsec_vfio_allowlist': 'all'}),
    ])
    report_dir = tmp_path / 'out'
    report_dir.mkdir()
    (report_dir / 'audit.md').write_text('# an older report of another host\n')
    (report_dir / 'audit.oscal.json').write_text('{}')  # an older run's, written with oscal: true
    result = _report({'report_dir': str(report_dir), 'evaluate': True}, task_vars)
    assert 'hvsec_audit_fail_on' in result['refused']['hv1'] and 'severe' in result['refused']['hv1']
    assert 'hvsec_vfio_allowlist must be a list' in result['refused']['hv2']
    assert result['failed_hosts'] == ['hv1', 'hv2']
    assert sorted(result['not_audited']) == ['hv1', 'hv2']
    assert result['msg'].startswith('no host could be audited')
    data = json.loads((report_dir / 'audit.json').read_text())
    assert sorted(data['not_audited']) == ['hv1', 'hv2'] and data['not_audited']['hv1'].startswith('settings refused: ')
    markdown = (report_dir / 'audit.md').read_text()
    assert 'older report' not in markdown and 'NO HOST WAS AUDITED' in markdown.split('## ', 1)[0]
    assert 'NO HOST WAS AUDITED' in (report_dir / 'audit.html').read_text()
    assert not (report_dir / 'audit.oscal.json').exists()


def test_facts_var_keeps_unreachable_and_failed_hosts_out_of_the_evaluation(tmp_path, no_roles):
    """With facts_var, a host whose facts task was unreachable or failed in this run (it stays in the
    play: ignore_unreachable / ignore_errors) is not evaluated from facts left in the fact cache."""
    settings = _load('settings_hardened.json')
    hostvars, task_vars = _fleet_vars(settings, [
        ('hv1', _load('facts_hardened.json'), {'hvsec_audit_facts': {'changed': False}}),
        ('hv2', _load('facts_hardened.json'), {'hvsec_audit_facts': {
            'unreachable': True, 'msg': 'Task failed: Failed to connect to the host via ssh: refused'}}),
        ('hv3', _load('facts_hardened.json'), {'hvsec_audit_facts': {'failed': True, 'msg': 'MODULE FAILURE'}}),
        ('hv4', _load('facts_hardened.json'), {}),
    ])
    task_vars['hvsec_audit_facts'] = hostvars['hv1']['hvsec_audit_facts']
    report_dir = tmp_path / 'out'
    result = _report({'report_dir': str(report_dir), 'evaluate': True, 'facts_var': 'hvsec_audit_facts',
                      'slice': '2'}, task_vars)
    data = json.loads((report_dir / 'audit.json').read_text())
    assert data['slice'] == '2'
    assert data['hosts']['hv1']['summary']['pass'] == len(CONTROLS)
    assert data['not_audited'] == {
        'hv2': 'host unreachable: Failed to connect to the host via ssh: refused',
        'hv3': 'facts task failed: MODULE FAILURE',
        'hv4': 'facts task did not run for this host in this run'}
    for host in ('hv2', 'hv3', 'hv4'):
        assert data['hosts'][host]['summary']['error'] == len(CONTROLS)
    assert result['unreachable_hosts'] == ['hv2'] and result['failed_hosts'] == ['hv2', 'hv3', 'hv4']
    assert 'unreachable' not in result  # a true 'unreachable' would make Ansible take the task as unreachable
    head = (report_dir / 'audit.md').read_text().split('## ', 1)[0]
    assert 'Slice 2 of a sliced run' in head and '3 of 4 host(s) could not be audited' in head
    # the outcome mode: what the audit's last play does with each host (exit 4 / exit 2 / ok)
    outcome = dict((h, _action(audit_report.ActionModule, {'outcome': result}).run(
        task_vars={'inventory_hostname': h})) for h in ('hv1', 'hv2', 'hv3'))
    assert outcome['hv2']['unreachable'] is True and 'Failed to connect' in outcome['hv2']['msg']
    assert outcome['hv3']['failed'] is True and outcome['hv3']['msg'] == 'not audited: facts task failed: MODULE FAILURE'
    assert not outcome['hv1'].get('failed') and not outcome['hv1'].get('unreachable')


def test_outcome_of_a_gated_host(tmp_path, no_roles):
    nested = _load('facts_hardened.json')
    nested['kvm']['nested'] = True
    dummy, task_vars = _fleet_vars(_load('settings_hardened.json'), [('hv1', nested, {'hvsec_audit_fail_on': 'low'})])
    result = _report({'report_dir': str(tmp_path / 'out'), 'evaluate': True}, task_vars)
    outcome = _action(audit_report.ActionModule, {'outcome': result}).run(task_vars={'inventory_hostname': 'hv1'})
    assert outcome['failed'] is True
    assert outcome['msg'] == '1 control(s) at or above severity low failed: HVS-IOMMU-14'
    assert not (tmp_path / 'out2').exists()


def test_merge_of_slices_equals_one_run(tmp_path, no_roles):
    """Slices reported apart and merged give the unsliced run's document (times and provenance aside)."""
    settings = _load('settings_hardened.json')
    nested = _load('facts_hardened.json')
    nested['kvm']['nested'] = True
    hosts = [('hv%d' % i, nested if i % 2 else _load('facts_hardened.json'), {}) for i in range(1, 6)]
    hosts.append(('hv6', None, {}))
    dummy, task_vars = _fleet_vars(settings, hosts)
    _report({'report_dir': str(tmp_path / 'whole'), 'evaluate': True}, task_vars)
    slices = [hosts[0:2], hosts[2:4], hosts[4:6]]
    for index, part in enumerate(slices):
        dummy, part_vars = _fleet_vars(settings, part)
        _report({'report_dir': str(tmp_path / 'slices' / str(index)), 'evaluate': True, 'slice': str(index)}, part_vars)
    result = _report({'report_dir': str(tmp_path / 'fleet'), 'merge': [str(tmp_path / 'slices' / '*')]}, {})
    whole = json.loads((tmp_path / 'whole' / 'audit.json').read_text())
    fleet = json.loads((tmp_path / 'fleet' / 'audit.json').read_text())
    assert [m['slice'] for m in fleet.pop('merged_from')] == ['0', '1', '2']
    fleet.pop('generated_at')
    whole.pop('generated_at')
    assert fleet == whole
    assert result['not_audited'] == {'hv6': audit_report.NO_RESULT}

    def body(name, root):
        text = (tmp_path / root / name).read_text()
        return text.replace(json.loads((tmp_path / root / 'audit.json').read_text())['generated_at'], 'T')
    for name in ('audit.md', 'audit.junit.xml'):
        assert body(name, 'fleet') == body(name, 'whole'), name
    # a host in two slices is refused
    with pytest.raises(AnsibleActionFail) as exc:
        _report({'report_dir': str(tmp_path / 'bad'), 'merge': [str(tmp_path / 'slices' / '0'), str(tmp_path / 'whole')]}, {})
    assert 'host hv1 is in two slice reports' in str(exc.value)
    with pytest.raises(AnsibleActionFail) as exc:
        _report({'report_dir': str(tmp_path / 'bad'), 'merge': [str(tmp_path / 'nowhere')]}, {})
    assert 'no audit.json at' in str(exc.value)


def test_report_writes_oscal_assessment_results_only_when_asked(tmp_path, no_roles):
    """audit.oscal.json, loaded with compliance-trestle's models, has as many observations and
    findings as audit.json has results and failures; without oscal: true it is not written."""
    from trestle.oscal.assessment_results import AssessmentResults
    settings = _load('settings_hardened.json')
    broken = _load('facts_hardened.json')
    broken['ksm']['run'] = 1
    broken['libvirt']['config']['qemu']['migrate_tls_force'] = 0
    waivers = [{'id': 'HVS-IOMMU-13', 'reason': 'lab', 'approved_by': 'Alice', 'expires': '9999-12-31'},
               {'id': 'HVS-MGMT-08', 'reason': 'old', 'approved_by': 'Bob', 'expires': '2000-01-01'}]
    dummy, task_vars = _fleet_vars(settings, [('hv1', _load('facts_hardened.json'), {}),
                                              ('hv2', broken, {'hvsec_waivers': waivers}), ('hv3', None, {})])
    plain, report_dir = tmp_path / 'plain', tmp_path / 'out'
    assert 'oscal' not in _report({'report_dir': str(plain), 'evaluate': True}, task_vars)['files']
    assert not (plain / 'audit.oscal.json').exists()
    result = _report({'report_dir': str(report_dir), 'evaluate': True, 'oscal': True}, task_vars)
    assert result['files']['oscal'] == str(report_dir / 'audit.oscal.json')
    data = json.loads((report_dir / 'audit.json').read_text())
    loaded = AssessmentResults.oscal_read(report_dir / 'audit.oscal.json')
    assert len(loaded.results) == 1
    observations, findings = loaded.results[0].observations, loaded.results[0].findings
    controls = [c for h in sorted(data['hosts']) for c in data['hosts'][h]['controls']]
    assert len(observations) == len(controls) == 3 * len(CONTROLS)
    assert [f.target.target_id for f in findings] == [c['id'] for c in controls if c['status'] == 'fail'] == ['HVS-MGMT-08']
    states = dict((dict((p.name, p.value) for p in o.props)['hvsec-control-id'],
                   dict((p.name, p.value) for p in o.props).get('waiver-state'))
                  for o in observations if o.subjects[0].title == 'hv2')
    assert (states['HVS-IOMMU-13'], states['HVS-MGMT-08'], states['HVS-MGMT-01']) == ('active', 'expired', None)
    assert loaded.metadata.last_modified.isoformat().replace('+00:00', 'Z') == data['generated_at']


def test_report_without_trestle_fails_before_writing_anything(tmp_path, no_roles, monkeypatch):
    from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import oscal

    def missing():
        raise ImportError("No module named 'trestle'")
    monkeypatch.setattr(oscal, 'models', missing)
    dummy, task_vars = _fleet_vars(_load('settings_hardened.json'), [('hv1', _load('facts_hardened.json'), {})])
    with pytest.raises(AnsibleActionFail) as exc:
        _report({'report_dir': str(tmp_path / 'out'), 'evaluate': True, 'oscal': True}, task_vars)
    assert "oscal: OSCAL output needs compliance-trestle on the controller (No module named 'trestle')" in str(exc.value)
    assert not (tmp_path / 'out').exists()
