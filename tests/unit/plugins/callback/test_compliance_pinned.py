# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance callback's pure parts pinned on small inputs: verdict evidence, the document of a
small catalog, the console text and the four report files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from ansible import context
from ansible.executor.task_result import CallbackTaskResult
from ansible.inventory.host import Host

from ansible_collections.hvsec.hypervisor.plugins.callback import compliance
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.callback.test_compliance import _task

CATALOG = [
    {'id': 'HVS-A-01', 'title': 'Alpha', 'area': 'iommu', 'severity': 'high', 'variable': 'hvsec_alpha'},
    {'id': 'HVS-A-02', 'title': 'Beta', 'area': 'iommu', 'severity': 'low', 'variable': None},
    {'id': 'HVS-M-01', 'title': 'Gamma', 'area': 'mgmt_plane', 'severity': 'critical', 'variable': 'hvsec_gamma'},
]


@pytest.mark.parametrize('tags, expected', [
    (None, []),
    ([], []),
    (['HVS-A-1', 'HVS-AB-12', 'HVS-A-1', 'HVS-A-', 'HVS--1', 'HVS-a-1', 'XHVS-A-1', 'HVS-A-1x', 'HVS-A-1\n', 7],
     ['HVS-A-1', 'HVS-AB-12']),
])
def test_control_ids(tags, expected):
    assert compliance.control_ids(tags) == expected


@pytest.mark.parametrize('event, result, expected', [
    ('failed', {}, 'failed'), ('unreachable', {'changed': True}, 'failed'), ('skipped', {'changed': True}, 'skipped'),
    ('ok', {'changed': True}, 'changed'), ('ok', {}, 'ok'), ('ok', {'changed': False}, 'ok'),
])
def test_outcome_of(event, result, expected):
    assert compliance.outcome_of(event, result) == expected


@pytest.mark.parametrize('records, expected', [
    ([('failed', 'a', 'boom'), ('failed', 'b', ''), ('changed', 'c', ''), ('ok', 'd', '')],
     ('error', 'task failed: a: boom; b')),
    ([('changed', 'a', ''), ('ok', 'b', ''), ('changed', 'c', ''), ('skipped', 'd', '')],
     ('fail', 'remediation would change: a; c')),
    ([('ok', 'a', ''), ('skipped', 'b', ''), ('ok', 'c', '')], ('pass', '2 task(s) would change nothing: a; c')),
    ([('skipped', 'a', ''), ('skipped', 'b', '')], ('not_applicable', 'all 2 task(s) skipped: a; b')),
    ([], ('not_applicable', 'all 0 task(s) skipped: ')),
])
def test_verdict_evidence(records, expected):
    assert compliance.verdict(records) == expected


def _document():
    records = {'hv2': {'HVS-A-01': [('changed', 'alpha task', '')], 'HVS-Z-99': [('ok', 'zed task', '')]},
               'hv1': {'HVS-A-01': [('ok', 'alpha task', '')],
                       'HVS-M-01': [('failed', 'gamma task', 'boom'), ('ok', 'gamma check', '')]}}
    return compliance.build_compliance_document(records, {'hv2', 'hv1'}, 'T', 'check-mode harden', CATALOG)


def test_document_of_a_small_catalog():
    document = _document()
    assert list(document) == ['generated_at', 'source', 'hosts']
    assert (document['generated_at'], document['source']) == ('T', 'check-mode harden')
    assert list(document['hosts']) == ['hv1', 'hv2']
    assert document['hosts']['hv1'] == {
        'summary': {'pass': 1, 'fail': 0, 'not_applicable': 1, 'waived': 0, 'error': 1},
        'controls': [
            {'id': 'HVS-A-01', 'title': 'Alpha', 'area': 'iommu', 'severity': 'high', 'status': 'pass',
             'evidence': '1 task(s) would change nothing: alpha task', 'judged': True, 'tasks': 1},
            {'id': 'HVS-A-02', 'title': 'Beta', 'area': 'iommu', 'severity': 'low', 'status': 'not_applicable',
             'judged': False, 'tasks': 0,
             'evidence': 'not judged by the roles: audited only (no remediation task exists)'},
            {'id': 'HVS-M-01', 'title': 'Gamma', 'area': 'mgmt_plane', 'severity': 'critical', 'status': 'error',
             'evidence': 'task failed: gamma task: boom', 'judged': True, 'tasks': 2}]}
    hv2 = document['hosts']['hv2']
    assert hv2['summary'] == {'pass': 1, 'fail': 1, 'not_applicable': 2, 'waived': 0, 'error': 0}
    assert sum(hv2['summary'].values()) == len(hv2['controls']) == 4
    assert hv2['controls'][2] == {
        'id': 'HVS-M-01', 'title': 'Gamma', 'area': 'mgmt_plane', 'severity': 'critical', 'status': 'not_applicable',
        'judged': False, 'tasks': 0,
        'evidence': 'not judged by the roles: no task of this run carries the tag HVS-M-01 (role mgmt_plane not run, '
                    'or tags/limits excluded it)'}
    assert hv2['controls'][3] == {
        'id': 'HVS-Z-99', 'title': 'Unknown control (tag only)', 'area': 'unknown', 'severity': 'low',
        'status': 'pass', 'evidence': '1 task(s) would change nothing: zed task', 'judged': True, 'tasks': 1}


def test_document_defaults_to_the_collection_catalog():
    document = compliance.build_compliance_document({}, ['h'], 'T', 'harden')
    assert [c['id'] for c in document['hosts']['h']['controls']] == [c['id'] for c in CONTROLS]


def test_failing_lines_by_severity():
    controls = [
        {'id': 'HVS-L-01', 'status': 'fail', 'severity': 'low', 'title': 'Low one'},
        {'id': 'HVS-C-01', 'status': 'error', 'severity': 'critical', 'title': 'Critical one'},
        {'id': 'HVS-P-01', 'status': 'pass', 'severity': 'critical', 'title': 'Passing'},
        {'id': 'HVS-X-01', 'status': 'fail', 'severity': 'zzz', 'title': 'Odd'},
        {'id': 'HVS-Y-01', 'status': 'fail', 'severity': 'aaa'},
        {'id': 'HVS-C-02', 'status': 'fail', 'severity': 'critical', 'title': 'Critical two'},
        {'id': 'HVS-N-01', 'status': 'fail', 'title': 'No severity'},
    ]
    assert compliance.failing_lines(controls) == [
        '    critical (2):',
        '      ERROR HVS-C-01  Critical one',
        '      FAIL  HVS-C-02  Critical two',
        '    low (1):',
        '      FAIL  HVS-L-01  Low one',
        '    None (1):',
        '      FAIL  HVS-N-01  No severity',
        '    aaa (1):',
        '      FAIL  HVS-Y-01  ',
        '    zzz (1):',
        '      FAIL  HVS-X-01  Odd']
    assert compliance.failing_lines(controls[2:3]) == []
    assert compliance.failing_lines(controls[:1], indent='') == ['low (1):', '  FAIL  HVS-L-01  Low one']


def test_console_summary_text():
    assert compliance.console_summary(_document(), '/r') == '\n'.join([
        'hvsec compliance (check-mode harden): 2 host(s), 4 judged control verdict(s), reports in /r',
        '  hv1: error=1 fail=0 not_applicable=1 pass=1 waived=0 | 1 non-compliant control(s):',
        '    critical (1):',
        '      ERROR HVS-M-01  Gamma',
        '  hv2: error=0 fail=1 not_applicable=2 pass=1 waived=0 | 1 non-compliant control(s):',
        '    high (1):',
        '      FAIL  HVS-A-01  Alpha'])
    clean = compliance.build_compliance_document({}, ['h'], 'T', 'harden', CATALOG)
    assert compliance.console_summary(clean, '/r').split('\n') == [
        'hvsec compliance (harden): 1 host(s), 0 judged control verdict(s), reports in /r',
        '  h: error=0 fail=0 not_applicable=3 pass=0 waived=0 | compliant']


def test_write_reports_renames_the_title_only_and_rewrites_a_directory(tmp_path):
    records = {'h': {'HVS-A-01': [('changed', '# hvsec.hypervisor audit report', '')]}}
    document = compliance.build_compliance_document(records, ['h'], 'T', 'harden', CATALOG)
    compliance.write_reports(document, str(tmp_path), 'c')
    compliance.write_reports(document, str(tmp_path), 'c')
    md = (tmp_path / 'c.md').read_text()
    assert md.startswith('# hvsec.hypervisor compliance report\n')
    assert '| **FAIL** | remediation would change: # hvsec.hypervisor audit report |' in md


def test_write_reports_names_the_source_in_each_format(tmp_path):
    document = _document()
    files = compliance.write_reports(document, str(tmp_path / 'new'), 'run')
    names = dict((k, os.path.basename(v)) for k, v in files.items())
    assert names == {'json': 'run.json', 'markdown': 'run.md', 'junit': 'run.junit.xml', 'html': 'run.html'}
    assert sorted(os.listdir(str(tmp_path / 'new'))) == ['run.html', 'run.json', 'run.junit.xml', 'run.md']
    assert all(os.path.dirname(v) == str(tmp_path / 'new') for v in files.values())
    assert json.loads((tmp_path / 'new' / 'run.json').read_text()) == document
    md = (tmp_path / 'new' / 'run.md').read_text().split('\n')
    assert md[:6] == ['# hvsec.hypervisor compliance report', '',
                      '_Source: check-mode harden (per-control verdicts of the hardening roles, not of the audit)._', '',
                      '', 'Generated at T. Controls and their references: docs/controls.md.']
    assert md.count('# hvsec.hypervisor compliance report') == 1
    root = ET.parse(str(tmp_path / 'new' / 'run.junit.xml')).getroot()
    assert root.get('name') == 'hvsec.hypervisor check-mode harden'
    assert [s.get('name') for s in root.findall('testsuite')] == ['hvsec.hypervisor check-mode harden: hv1',
                                                                  'hvsec.hypervisor check-mode harden: hv2']
    html = (tmp_path / 'new' / 'run.html').read_text()
    assert '<span id="source">check-mode harden</span>' in html and 'id="no-previous"' in html


class Stats(object):
    def __init__(self, hosts):
        self.processed = dict((h, 1) for h in hosts)


def test_callback_records_and_end_of_run(tmp_path, monkeypatch):
    cb = compliance.CallbackModule()
    options = {'report_dir': str(tmp_path / 'out'), 'basename': 'c'}
    monkeypatch.setattr(cb, 'get_option', lambda key: options[key])
    monkeypatch.setattr(context, 'CLIARGS', {'check': True})
    assert cb.records == {} and cb.hosts == set() and cb.files == {}
    shown = []
    monkeypatch.setattr(cb._display, 'display', shown.append)
    hv1 = Host('hv1')
    both = _task('both', ['HVS-IOMMU-06', 'HVS-IOMMU-08'])
    cb.v2_runner_on_ok(CallbackTaskResult(hv1, both, {'changed': True, 'hvsec_changed_controls': 'HVS-IOMMU-06'}, {}))
    cb.v2_runner_on_failed(CallbackTaskResult(hv1, _task('f', ['HVS-MGMT-13'], ignore_errors=True), {'msg': 'no'}, {}))
    cb.v2_runner_on_failed(CallbackTaskResult(hv1, _task('g', ['HVS-MGMT-18']), {'msg': 'bad'}, {}))
    cb.v2_runner_on_skipped(CallbackTaskResult(hv1, _task('s', ['HVS-IOMMU-13']), None, {}))
    cb.v2_runner_on_ok(CallbackTaskResult(hv1, _task('o', ['HVS-IOMMU-01']), {'msg': 'All items completed'}, {}))
    cb.v2_runner_on_failed(CallbackTaskResult(hv1, _task('i', ['HVS-IOMMU-02'], ignore_errors=True), {}, {}))
    cb.v2_runner_on_failed(CallbackTaskResult(hv1, _task('n', ['HVS-IOMMU-03']), {}, {}))
    cb.v2_runner_on_ok(CallbackTaskResult(Host('hv0'), _task('untagged', []), {'changed': True}, {}))
    assert cb.records == {'hv1': {
        'HVS-IOMMU-06': [('changed', 'both', '')], 'HVS-IOMMU-08': [('changed', 'both', '')],
        'HVS-MGMT-13': [('failed', 'f', 'ignored error: no')], 'HVS-MGMT-18': [('failed', 'g', 'bad')],
        'HVS-IOMMU-13': [('skipped', 's', '')], 'HVS-IOMMU-01': [('ok', 'o', '')],
        'HVS-IOMMU-02': [('failed', 'i', 'ignored error: ')], 'HVS-IOMMU-03': [('failed', 'n', '')]}}
    assert cb.hosts == {'hv0', 'hv1'}
    cb.v2_runner_on_unreachable(CallbackTaskResult(Host('hv2'), _task('u', []), {'msg': 'timeout'}, {}))
    assert cb.records['hv2'] == dict((c['id'], [('failed', 'u', 'host unreachable: timeout')])
                                     for c in CONTROLS if c.get('variable'))
    cb.v2_playbook_on_stats(Stats(['hv3']))
    assert cb.files == dict((k, str(tmp_path / 'out' / ('c.' + e))) for k, e in (
        ('json', 'json'), ('markdown', 'md'), ('junit', 'junit.xml'), ('html', 'html')))
    document = json.loads((tmp_path / 'out' / 'c.json').read_text())
    assert sorted(document['hosts']) == ['hv0', 'hv1', 'hv2', 'hv3'] and document['check_mode'] is True
    assert re.match(r'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$', document['generated_at'])
    by_id = dict((c['id'], c) for c in document['hosts']['hv1']['controls'])
    assert by_id['HVS-IOMMU-03']['evidence'] == 'task failed: n'
    assert len(shown) == 1 and shown[0].startswith('hvsec compliance (check-mode harden): 4 host(s), ')
    assert shown[0].split('\n')[0].endswith(', reports in %s' % (tmp_path / 'out'))


def test_not_check_mode_without_the_option(tmp_path, monkeypatch):
    cb = compliance.CallbackModule()
    monkeypatch.setattr(cb, 'get_option', lambda key: {'report_dir': str(tmp_path), 'basename': 'c'}[key])
    monkeypatch.setattr(context, 'CLIARGS', {})
    monkeypatch.setattr(cb._display, 'display', lambda msg: None)
    cb.v2_playbook_on_stats(Stats(['h']))
    document = json.loads((tmp_path / 'c.json').read_text())
    assert (document['source'], document['check_mode']) == ('harden', False)


def test_the_display_given_is_used():
    class Shown(object):
        verbosity = 0
    shown = Shown()
    assert compliance.CallbackModule(display=shown)._display is shown


def test_unwritable_report_dir_warning_text(tmp_path, monkeypatch):
    (tmp_path / 'file').write_text('x')
    cb = compliance.CallbackModule()
    monkeypatch.setattr(cb, 'get_option', lambda key: {'report_dir': str(tmp_path / 'file' / 'sub'), 'basename': 'c'}[key])
    monkeypatch.setattr(context, 'CLIARGS', {'check': True})
    warnings = []
    monkeypatch.setattr(cb._display, 'warning', warnings.append)
    cb.v2_playbook_on_stats(Stats(['h']))
    assert len(warnings) == 1 and warnings[0].startswith(
        'hvsec.hypervisor.compliance: report_dir: cannot write reports in %s: [Errno 20] Not a directory' % (
            tmp_path / 'file' / 'sub'))


def test_no_host_no_report(tmp_path, monkeypatch):
    cb = compliance.CallbackModule()
    monkeypatch.setattr(cb, 'get_option', lambda key: {'report_dir': str(tmp_path / 'out'), 'basename': 'c'}[key])
    cb.v2_playbook_on_stats(Stats([]))
    assert not (tmp_path / 'out').exists() and cb.files == {}


def test_unreachable_without_a_result(tmp_path):
    cb = compliance.CallbackModule()
    cb.v2_runner_on_unreachable(CallbackTaskResult(Host('hv2'), _task('u', []), None, {}))
    assert set(r[0][2] for r in cb.records['hv2'].values()) == {'host unreachable: '}
