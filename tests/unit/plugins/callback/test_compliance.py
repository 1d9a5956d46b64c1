# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance callback with real Host/Task/CallbackTaskResult objects."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
import yaml

from ansible import context
from ansible.executor.task_result import CallbackTaskResult
from ansible.inventory.host import Host
from ansible.playbook.task import Task

from ansible_collections.hvsec.hypervisor.plugins.callback import compliance
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS


def _task(name, tags, ignore_errors=False):
    task = Task()
    task.name = name
    task.tags = tags
    task.ignore_errors = ignore_errors
    return task


def _result(host, task, data):
    return CallbackTaskResult(host, task, data, {})


class Stats(object):
    def __init__(self, hosts):
        self.processed = dict((h, 1) for h in hosts)


@pytest.fixture
def callback(tmp_path, monkeypatch):
    cb = compliance.CallbackModule()
    options = {'report_dir': str(tmp_path / 'reports'), 'basename': 'compliance'}
    monkeypatch.setattr(cb, 'get_option', lambda key: options[key])
    monkeypatch.setattr(context, 'CLIARGS', {'check': True})
    return cb


def _by_id(doc, host):
    return dict((c['id'], c) for c in doc['hosts'][host]['controls'])


def test_control_ids():
    assert compliance.control_ids(['iommu', 'HVS-IOMMU-06', 'always', 'HVS-IOMMU-06', 'HVS-MGMT-13', 'hvs-x-1']) == \
        ['HVS-IOMMU-06', 'HVS-MGMT-13']


@pytest.mark.parametrize('records,status', [
    ([('ok', 'a', ''), ('changed', 'b', ''), ('skipped', 'c', '')], 'fail'),
    ([('ok', 'a', ''), ('skipped', 'c', '')], 'pass'),
    ([('skipped', 'a', ''), ('skipped', 'c', '')], 'not_applicable'),
    ([('changed', 'a', ''), ('failed', 'b', 'boom')], 'error'),
])
def test_verdict(records, status):
    got, evidence = compliance.verdict(records)
    assert got == status
    if status == 'error':
        assert 'b: boom' in evidence


def test_run_to_reports(callback, tmp_path):
    hv1, hv2 = Host('hv1'), Host('hv2')
    cmdline = _task('HVS-IOMMU-06 | Remove IOMMU-disabling kernel arguments', ['iommu', 'HVS-IOMMU-06', 'HVS-IOMMU-08'])
    ksm = _task('HVS-IOMMU-13 | KSM off', ['iommu', 'HVS-IOMMU-13'])
    sshd = _task('HVS-MGMT-13 | sshd drop-in', ['mgmt_plane', 'HVS-MGMT-13'])
    untagged = _task('Gather facts', ['always'])
    # hv1: insecure, cmdline would change (only HVS-IOMMU-06 named), KSM would change, sshd fails.
    callback.v2_runner_on_ok(_result(hv1, untagged, {'changed': True}))
    callback.v2_runner_on_ok(_result(hv1, cmdline, {'changed': True, 'hvsec_changed_controls': ['HVS-IOMMU-06']}))
    callback.v2_runner_on_ok(_result(hv1, ksm, {'changed': True}))
    callback.v2_runner_on_failed(_result(hv1, sshd, {'failed': True, 'msg': 'sshd -t rejected the drop-in'}))
    # hv2: compliant; KSM task skipped (KSM not built in).
    callback.v2_runner_on_ok(_result(hv2, cmdline, {'changed': False}))
    callback.v2_runner_on_skipped(_result(hv2, ksm, {'skipped': True}))
    callback.v2_runner_on_ok(_result(hv2, sshd, {'changed': False}))
    callback.v2_playbook_on_stats(Stats(['hv1', 'hv2']))

    report_dir = tmp_path / 'reports'
    doc = json.loads((report_dir / 'compliance.json').read_text())
    assert doc['source'] == 'check-mode harden' and doc['check_mode'] is True
    hv1c, hv2c = _by_id(doc, 'hv1'), _by_id(doc, 'hv2')
    assert [c['id'] for c in doc['hosts']['hv1']['controls']] == [c['id'] for c in CONTROLS]
    assert hv1c['HVS-IOMMU-06']['status'] == 'fail'
    assert hv1c['HVS-IOMMU-08']['status'] == 'pass'      # same task, but not named as changing
    assert hv1c['HVS-IOMMU-13']['status'] == 'fail'
    assert hv1c['HVS-MGMT-13']['status'] == 'error' and 'sshd -t rejected' in hv1c['HVS-MGMT-13']['evidence']
    assert hv2c['HVS-IOMMU-06']['status'] == 'pass' and hv2c['HVS-IOMMU-13']['status'] == 'not_applicable'
    # Audit-only control and a role control without a task in this run: not judged, with the reason.
    assert hv2c['HVS-IOMMU-01']['judged'] is False and 'audited only' in hv2c['HVS-IOMMU-01']['evidence']
    assert hv2c['HVS-VFIO-01']['judged'] is False and 'HVS-VFIO-01' in hv2c['HVS-VFIO-01']['evidence']
    assert doc['hosts']['hv1']['summary'] == {
        'pass': 1, 'fail': 2, 'error': 1, 'not_applicable': len(CONTROLS) - 4, 'waived': 0}
    md = (report_dir / 'compliance.md').read_text()
    assert md.startswith('# hvsec.hypervisor compliance report') and 'check-mode harden' in md
    junit = (report_dir / 'compliance.junit.xml').read_text()
    assert 'failures="2"' in junit and 'errors="1"' in junit
    html = (report_dir / 'compliance.html').read_text()
    assert '<span id="source">check-mode harden</span>' in html


def test_console_names_failing_controls_by_host_and_severity(callback, tmp_path, monkeypatch):
    """The end-of-run summary names each failing control with its title, per host, most severe first."""
    shown = []
    monkeypatch.setattr(callback._display, 'display', shown.append)
    hv1, hv2 = Host('hv1'), Host('hv2')
    cmdline = _task('HVS-IOMMU-06 | Remove IOMMU-disabling kernel arguments', ['iommu', 'HVS-IOMMU-06'])
    ksm = _task('HVS-IOMMU-13 | KSM off', ['iommu', 'HVS-IOMMU-13'])
    sshd = _task('HVS-MGMT-13 | sshd drop-in', ['mgmt_plane', 'HVS-MGMT-13'])
    callback.v2_runner_on_ok(_result(hv1, cmdline, {'changed': True}))
    callback.v2_runner_on_ok(_result(hv1, ksm, {'changed': True}))
    callback.v2_runner_on_failed(_result(hv1, sshd, {'failed': True, 'msg': 'boom'}))
    callback.v2_runner_on_ok(_result(hv2, cmdline, {'changed': False}))
    callback.v2_playbook_on_stats(Stats(['hv1', 'hv2']))
    text = '\n'.join(shown)
    by_id = dict((c['id'], c) for c in CONTROLS)
    lines = text.splitlines()
    start = [i for i, line in enumerate(lines) if line.startswith('  hv1: ')][0]
    end = [i for i, line in enumerate(lines) if line.startswith('  hv2: ')][0]
    hv1_block = lines[start:end]
    assert '3 non-compliant control(s):' in hv1_block[0]
    for cid, word in (('HVS-IOMMU-06', 'FAIL'), ('HVS-IOMMU-13', 'FAIL'), ('HVS-MGMT-13', 'ERROR')):
        row = [line for line in hv1_block if cid in line]
        assert len(row) == 1 and by_id[cid]['title'] in row[0] and word in row[0], (cid, row)
    # Grouped by severity: each control sits under its own severity's heading, most severe first.
    headings = [(i, line.strip().split(' ')[0]) for i, line in enumerate(hv1_block) if line.strip().endswith(':')
                and line.startswith('    ') and not line.startswith('      ')]
    ranks = [compliance.SEVERITIES.index(h) for dummy, h in headings]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    for cid in ('HVS-IOMMU-06', 'HVS-IOMMU-13', 'HVS-MGMT-13'):
        at = [i for i, line in enumerate(hv1_block) if cid in line][0]
        heading = [h for i, h in headings if i < at][-1]
        assert heading == by_id[cid]['severity'], cid
    assert lines[end].endswith('| compliant') and not any('HVS-' in line for line in lines[end + 1:])


def test_unreachable_and_not_check_mode(callback, tmp_path, monkeypatch):
    monkeypatch.setattr(context, 'CLIARGS', {'check': False})
    hv = Host('hv3')
    callback.v2_runner_on_unreachable(_result(hv, _task('connect', ['always']), {'unreachable': True, 'msg': 'timeout'}))
    callback.v2_playbook_on_stats(Stats(['hv3']))
    doc = json.loads((tmp_path / 'reports' / 'compliance.json').read_text())
    assert doc['source'] == 'harden'
    statuses = dict((c['id'], c['status']) for c in doc['hosts']['hv3']['controls'])
    assert all(statuses[c['id']] == 'error' for c in CONTROLS if c['variable'])
    assert all(statuses[c['id']] == 'not_applicable' for c in CONTROLS if not c['variable'])


def test_ignored_error_is_still_error(callback, tmp_path):
    hv = Host('hv4')
    task = _task('HVS-MGMT-18 | firewall', ['HVS-MGMT-18'], ignore_errors=True)
    callback.v2_runner_on_failed(_result(hv, task, {'failed': True, 'msg': 'nft -c failed'}), ignore_errors=True)
    callback.v2_playbook_on_stats(Stats(['hv4']))
    doc = json.loads((tmp_path / 'reports' / 'compliance.json').read_text())
    entry = _by_id(doc, 'hv4')['HVS-MGMT-18']
    assert entry['status'] == 'error' and 'ignored error: nft -c failed' in entry['evidence']


def test_unwritable_report_dir_warns(tmp_path, monkeypatch):
    cb = compliance.CallbackModule()
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    monkeypatch.setattr(cb, 'get_option', lambda key: {'report_dir': str(blocker / 'sub'), 'basename': 'c'}[key])
    monkeypatch.setattr(context, 'CLIARGS', {'check': True})
    warnings = []
    monkeypatch.setattr(cb._display, 'warning', warnings.append)
    cb.v2_playbook_on_stats(Stats(['hv5']))
    assert warnings and 'report_dir' in warnings[0]


def test_documentation_options():
    doc = yaml.safe_load(compliance.DOCUMENTATION)
    assert doc['name'] == 'compliance' and doc['type'] == 'aggregate'
    assert set(doc['options']) == {'report_dir', 'basename'}
    assert os.path.basename(compliance.__file__) == 'compliance.py'
