# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: run the audit playbook against localhost and check the reports it writes.

Run with `make e2e` (exports ANSIBLE_COLLECTIONS_PATH / ANSIBLE_CONFIG and makes the
collection link); tests/e2e/conftest.py does the same when run directly with the venv's pytest.
"""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
INVENTORY = os.path.join(ROOT, 'playbooks', 'inventory', 'localhost.yml')
PLAYBOOK = os.path.join(ROOT, 'playbooks', 'audit.yml')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')

sys.path.insert(0, os.path.join(ROOT, 'tools'))
import gen_docs  # noqa: E402  pylint: disable=wrong-import-position

CATALOG = gen_docs.load_catalog()
CATALOG_IDS = [c['id'] for c in CATALOG.CONTROLS]


def audit(tmp_path, *extra, playbook=PLAYBOOK, cwd=None, inventory=INVENTORY):
    """Run the audit; return (returncode, combined output, report dir)."""
    report_dir = tmp_path / 'reports'
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / 'factcache'))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, playbook,
           '-e', 'hvsec_audit_report_dir=%s' % report_dir] + list(extra)
    proc = subprocess.run(cmd, cwd=cwd or str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr, report_dir


def load_reports(report_dir):
    with open(str(report_dir / 'audit.json')) as handle:
        data = json.load(handle)
    with open(str(report_dir / 'audit.md')) as handle:
        markdown = handle.read()
    junit = ET.parse(str(report_dir / 'audit.junit.xml')).getroot()
    with open(str(report_dir / 'audit.html')) as handle:
        assert '<html' in handle.read()
    return data, markdown, junit


def check_reports(report_dir, hosts=('localhost',)):
    data, markdown, junit = load_reports(report_dir)
    assert set(data) == {'generated_at', 'slice', 'not_audited', 'hosts'}
    assert data['slice'] is None and set(data['not_audited']) <= set(data['hosts'])
    assert data['generated_at'].endswith('Z')
    assert sorted(data['hosts']) == sorted(hosts)
    statuses = set(CATALOG.STATUSES)
    for host, result in data['hosts'].items():
        ids = [c['id'] for c in result['controls']]
        assert sorted(ids) == sorted(CATALOG_IDS), 'every catalog control exactly once'
        assert len(ids) == len(set(ids))
        for control in result['controls']:
            assert set(control) - {'waiver'} == {'id', 'title', 'area', 'severity', 'status', 'evidence'}
            assert control['status'] in statuses
            assert control['evidence'] and '\n' not in control['evidence']
            catalog = [c for c in CATALOG.CONTROLS if c['id'] == control['id']][0]
            assert (control['title'], control['area'], control['severity']) == (
                catalog['title'], catalog['area'], catalog['severity'])
        counts = dict((s, sum(1 for c in result['controls'] if c['status'] == s)) for s in statuses)
        assert result['summary'] == counts
        # Markdown: a section and one row per control, counts line matching
        assert '## %s' % host in markdown
        section = markdown.split('## %s' % host, 1)[1].split('\n## ', 1)[0]
        assert len([l for l in section.splitlines() if l.startswith('| HVS-')]) == len(CATALOG_IDS)
        assert ', '.join('%s: %d' % (s, counts[s]) for s in CATALOG.STATUSES) in section
        # JUnit: one testcase per control, failures/errors as such
        suite = [s for s in junit.findall('testsuite') if s.get('name').endswith(': ' + host)][0]
        assert len(suite.findall('testcase')) == len(CATALOG_IDS)
        assert len(suite.findall('testcase/failure')) == counts['fail'] == int(suite.get('failures'))
        assert len(suite.findall('testcase/error')) == counts['error'] == int(suite.get('errors'))
        assert len(suite.findall('testcase/skipped')) == counts['not_applicable'] + counts['waived']
    return data


def test_audit_localhost_writes_consistent_reports(tmp_path):
    rc, out, report_dir = audit(tmp_path)
    assert rc == 0, out
    data = check_reports(report_dir)
    summary = data['hosts']['localhost']['summary']
    assert 'localhost: pass=%d fail=%d' % (summary['pass'], summary['fail']) in out, 'console summary line'
    assert 'changed=0' in out and 'failed=0' in out
    # a second run keeps the first report as audit.previous.json
    rc, out, report_dir = audit(tmp_path)
    assert rc == 0, out
    with open(str(report_dir / 'audit.previous.json')) as handle:
        assert json.load(handle)['hosts']['localhost']['controls'] == data['hosts']['localhost']['controls']


def test_check_mode_and_collection_playbook_name(tmp_path):
    rc, out, report_dir = audit(tmp_path, '--check', playbook='hvsec.hypervisor.audit')
    assert rc == 0, out
    assert 'changed=0' in out
    check_reports(report_dir)


def test_gate_fails_the_play_after_writing_reports(tmp_path):
    # A declared bridge that does not exist makes HVS-VSW-01 (high) fail on any machine.
    extra = json.dumps({'hvsec_audit_fail_on': 'high',
                        'hvsec_vswitch_bridges': [{'name': 'hvsec-e2e-absent'}]})
    rc, out, report_dir = audit(tmp_path, '-e', extra)
    assert rc != 0, out
    assert 'HVS-VSW-01' in out and 'at or above severity high failed' in out
    data = check_reports(report_dir)
    vsw01 = [c for c in data['hosts']['localhost']['controls'] if c['id'] == 'HVS-VSW-01'][0]
    assert vsw01['status'] == 'fail' and 'hvsec-e2e-absent missing' in vsw01['evidence']
    # the same failure below the gate's floor passes the play
    extra = json.dumps({'hvsec_audit_fail_on': 'critical',
                        'hvsec_vswitch_bridges': [{'name': 'hvsec-e2e-absent'}],
                        'hvsec_waivers': [{'id': 'HVS-MGMT-01', 'reason': 'e2e'}]})
    rc, out, report_dir = audit(tmp_path, '-e', extra)
    assert rc == 0, out


def test_waiver_is_reported(tmp_path):
    extra = json.dumps({'hvsec_waivers': [{'id': 'HVS-IOMMU-05', 'reason': 'e2e waiver'}]})
    rc, out, report_dir = audit(tmp_path, '-e', extra)
    assert rc == 0, out
    data = check_reports(report_dir)
    control = [c for c in data['hosts']['localhost']['controls'] if c['id'] == 'HVS-IOMMU-05'][0]
    assert control['status'] == 'waived'
    assert control['evidence'].startswith('waived: e2e waiver (would be: ')


def test_unknown_waiver_fails_with_clear_message(tmp_path):
    extra = json.dumps({'hvsec_waivers': [{'id': 'HVS-NOPE-99', 'reason': 'typo'}]})
    rc, out, report_dir = audit(tmp_path, '-e', extra)
    assert rc != 0
    assert 'waivers[0].id HVS-NOPE-99 is not a known control ID' in out
    # the reports say that no host was audited (an older report must never look current)
    data = json.loads((report_dir / 'audit.json').read_text())
    assert list(data['not_audited']) == ['localhost'] and 'HVS-NOPE-99' in data['not_audited']['localhost']
    assert 'NO HOST WAS AUDITED' in (report_dir / 'audit.md').read_text().split('\n## ', 1)[0]


def test_bad_fail_on_names_the_option(tmp_path):
    rc, out, dummy = audit(tmp_path, '-e', 'hvsec_audit_fail_on=severe')
    assert rc != 0
    assert 'fail_on' in out and 'severe' in out


def test_docs_controls_md_is_current():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'gen_docs.py'), '--check'],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def audit_hosts(tmp_path, hosts):
    """Audit an inventory of local hosts (``hosts``: the YAML of all.hosts); expect the run to fail."""
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text('all:\n  hosts:\n' + hosts)
    rc, out, report_dir = audit(tmp_path, inventory=str(inventory))
    assert rc != 0, out
    return out, report_dir


def test_host_without_facts_is_reported_with_every_control_as_error(tmp_path):
    """A second local host whose Python does not exist: its facts task fails, the report still covers it."""
    dummy, report_dir = audit_hosts(tmp_path, (
        '    localhost:\n      ansible_connection: local\n'
        '      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
        '    broken:\n      ansible_connection: local\n'
        '      ansible_python_interpreter: /nonexistent/python3\n'))
    data = check_reports(report_dir, hosts=('broken', 'localhost'))
    broken = data['hosts']['broken']
    assert broken['summary']['error'] == len(CATALOG_IDS)
    assert 'facts not gathered' in broken['controls'][0]['evidence']
    assert data['hosts']['localhost']['summary']['error'] < len(CATALOG_IDS)


def test_gate_and_refusal_fail_only_their_own_hosts(tmp_path):
    """Evaluation runs once for all hosts; the gate and refused input still fail host by host."""
    local = '      ansible_connection: local\n      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
    out, report_dir = audit_hosts(tmp_path, (
        '    gated:\n' + local + '      hvsec_audit_fail_on: high\n'
        '      hvsec_vswitch_bridges: [{name: hvsec-e2e-absent}]\n'
        '    refused:\n' + local + '      hvsec_waivers: [{id: HVS-NOPE-98, reason: typo}]\n'
        '    ungated:\n' + local + '      hvsec_vswitch_bridges: [{name: hvsec-e2e-absent}]\n'))
    recap = dict((m.group(1), int(m.group(2))) for m in re.finditer(r'^(\w+)\s+: ok=\d+\s+changed=\d+\s+'
                                                                    r'unreachable=\d+\s+failed=(\d+)', out, re.M))
    assert recap == {'gated': 1, 'refused': 1, 'ungated': 0}, out
    assert 'fatal: [gated]' in out and 'fatal: [refused]' in out and 'fatal: [ungated]' not in out
    assert 'waivers[0].id HVS-NOPE-98 is not a known control ID' in out
    data = check_reports(report_dir, hosts=('gated', 'refused', 'ungated'))
    assert data['hosts']['refused']['summary']['error'] == len(CATALOG_IDS)
    assert 'HVS-NOPE-98' in data['hosts']['refused']['controls'][0]['evidence']
    for host in ('gated', 'ungated'):
        vsw01 = [c for c in data['hosts'][host]['controls'] if c['id'] == 'HVS-VSW-01'][0]
        assert vsw01['status'] == 'fail'


def test_facts_of_the_audit_are_cached_for_the_next_run(tmp_path):
    """A run right after the audit (harden) finds ansible_facts.hvsec without gathering again."""
    rc, out, dummy = audit(tmp_path)
    assert rc == 0, out
    playbook = tmp_path / 'next.yml'
    playbook.write_text(
        '- name: Next run\n  hosts: all\n  gather_facts: false\n  tasks:\n'
        '    - name: Facts from the cache\n      ansible.builtin.assert:\n'
        '        that: ansible_facts.hvsec is defined and ansible_facts.hvsec.cmdline is defined\n')
    rc, out, dummy = audit(tmp_path, playbook=str(playbook))
    assert rc == 0, out
    assert 'ok: [localhost]' in out


def test_waivers_with_expiry_and_oscal_results(tmp_path):
    """Waivers from a YAML vars file (an unquoted date is a YAML date) through the real playbook:
    an expired waiver no longer applies, the reports list approver and expiry, and
    audit.oscal.json loads with compliance-trestle's models with one observation per control and
    one finding per failure."""
    from trestle.oscal.assessment_results import AssessmentResults
    vars_file = tmp_path / 'waivers.yml'
    vars_file.write_text(
        'hvsec_audit_oscal: true\n'
        'hvsec_waivers:\n'
        '  - {id: HVS-IOMMU-05, reason: e2e expired, approved_by: E2E Approver, ticket: SEC-1, expires: 2000-01-01}\n'
        '  - {id: HVS-IOMMU-04, reason: e2e current, approved_by: E2E Approver, ticket: 4711, expires: 9999-12-31}\n')
    rc, out, report_dir = audit(tmp_path, '-e', '@%s' % vars_file)
    assert rc == 0, out
    data = check_reports(report_dir)
    controls = dict((c['id'], c) for c in data['hosts']['localhost']['controls'])
    expired = controls['HVS-IOMMU-05']
    assert expired['status'] in ('fail', 'pass', 'not_applicable', 'error')
    assert expired['waiver'] == {'reason': 'e2e expired', 'approved_by': 'E2E Approver', 'ticket': 'SEC-1',
                                 'expires': '2000-01-01', 'state': 'expired'}
    assert '(waiver expired on 2000-01-01: e2e expired [approved by E2E Approver; ticket SEC-1])' in expired['evidence']
    current = controls['HVS-IOMMU-04']
    assert current['waiver']['state'] == ('active' if current['status'] == 'waived' else 'unneeded')
    assert (current['waiver']['ticket'], current['waiver']['expires']) == ('4711', '9999-12-31')
    with open(str(report_dir / 'audit.md')) as handle:
        markdown = handle.read()
    assert '| localhost | HVS-IOMMU-05 | **EXPIRED** | %s | e2e expired | E2E Approver | SEC-1 | 2000-01-01 |' % (
        expired['status']) in markdown
    with open(str(report_dir / 'audit.html')) as handle:
        html = handle.read()
    assert re.search(r'<tr class="waiver waiver-expired" data-host="localhost" data-id="HVS-IOMMU-05">.*?'
                     r'<td class="approver">E2E Approver</td><td class="ticket">SEC-1</td>'
                     r'<td class="expires">2000-01-01</td></tr>', html)
    results = AssessmentResults.oscal_read(report_dir / 'audit.oscal.json')
    result = results.results[0]
    assert len(result.observations) == len(CATALOG_IDS)
    failed = [c['id'] for c in data['hosts']['localhost']['controls'] if c['status'] == 'fail']
    assert [f.target.target_id for f in result.findings or []] == failed
    waiver_props = [dict((p.name, p.value) for p in o.props) for o in result.observations]
    assert [p['waiver-state'] for p in waiver_props if p['hvsec-control-id'] == 'HVS-IOMMU-05'] == ['expired']
