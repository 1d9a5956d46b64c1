# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report rendering: JSON structure, Markdown tables, JUnit XML, console summary."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import xml.etree.ElementTree as ET

from ansible_collections.hvsec.hypervisor.plugins.module_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.module_utils import report
from ansible_collections.hvsec.hypervisor.plugins.module_utils.catalog import CONTROLS, STATUSES

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'audit')


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def _document():
    hardened = _load('facts_hardened.json')
    settings = _load('settings_hardened.json')
    broken = copy.deepcopy(hardened)
    broken['ksm']['run'] = 1
    broken['libvirt']['config']['qemu']['migrate_tls_force'] = 0
    broken['cpu']['vulnerabilities'] = None
    broken['libvirt']['domains'][0]['name'] = 'evil | <guest> & "x"'
    broken['libvirt']['domains'][0]['vcpus'] = 64
    results = {
        'hv1': ev.evaluate(hardened, settings, [{'id': 'HVS-MGMT-18', 'reason': 'perimeter firewall'}]),
        'hv2': ev.evaluate(broken, settings, []),
    }
    return report.build_document(results, '2026-01-01T00:00:00Z')


def test_document_structure_and_counts():
    doc = _document()
    assert doc['generated_at'] == '2026-01-01T00:00:00Z'
    assert sorted(doc['hosts']) == ['hv1', 'hv2']
    for host, data in doc['hosts'].items():
        ids = [c['id'] for c in data['controls']]
        assert ids == [c['id'] for c in CONTROLS]
        assert set(data['summary']) == set(STATUSES)
        assert sum(data['summary'].values()) == len(CONTROLS)
        for c in data['controls']:
            assert sorted(c) == sorted(report.REPORT_FIELDS)
    hv2 = doc['hosts']['hv2']['summary']
    assert hv2['fail'] == 3 and hv2['error'] == 1
    assert doc['hosts']['hv1']['summary']['waived'] == 1
    assert json.loads(report.render_json(doc)) == doc


def test_markdown_has_one_table_per_host_and_escapes_pipes():
    doc = _document()
    text = report.render_markdown(doc)
    assert text.count('| ID | Title | Area | Severity | Status | Evidence |') == 2
    rows = [l for l in text.splitlines() if l.startswith('| HVS-')]
    assert len(rows) == 2 * len(CONTROLS)
    assert 'evil \\| <guest>' in text
    for row in rows:
        # 6 columns: 7 unescaped pipes
        assert row.replace('\\|', '').count('|') == 7, row
    assert '**FAIL**' in text and '**ERROR**' in text


def test_junit_is_well_formed_and_matches_summary():
    doc = _document()
    root = ET.fromstring(report.render_junit(doc))
    assert root.tag == 'testsuites'
    suites = root.findall('testsuite')
    assert len(suites) == 2
    total_fail = 0
    for suite in suites:
        host = suite.get('name').split(': ', 1)[1]
        summary = doc['hosts'][host]['summary']
        cases = suite.findall('testcase')
        assert len(cases) == len(CONTROLS) == int(suite.get('tests'))
        assert len(suite.findall('testcase/failure')) == summary['fail'] == int(suite.get('failures'))
        assert len(suite.findall('testcase/error')) == summary['error'] == int(suite.get('errors'))
        assert len(suite.findall('testcase/skipped')) == summary['not_applicable'] + summary['waived']
        total_fail += summary['fail']
    assert int(root.get('failures')) == total_fail
    texts = [e.text or '' for e in root.iter()] + [e.get('message') or '' for e in root.iter()]
    assert any('evil | <guest> & "x"' in t for t in texts)


def test_summary_line_lists_failures_errors_and_gate():
    doc = _document()
    line = report.summary_line('hv2', doc['hosts']['hv2']['controls'], ['HVS-MGMT-08'])
    assert line.startswith('hv2: pass=')
    assert 'fail: HVS-IOMMU-13 HVS-IOMMU-16 HVS-MGMT-08' in line
    assert 'error: HVS-IOMMU-11 |' in line
    assert line.endswith('GATE: HVS-MGMT-08')
    assert '\n' not in line


def test_summary_line_is_short_for_many_ids_and_for_hosts_without_facts():
    controls = report.unreachable_controls('UNREACHABLE: ssh timeout')
    line = report.summary_line('hv3', controls)
    assert line == 'hv3: pass=0 fail=0 not_applicable=0 waived=0 error=%d | facts not gathered: UNREACHABLE: ssh timeout' % len(CONTROLS)
    for c in controls[1:]:
        c['evidence'] = 'different'
    line = report.summary_line('hv3', controls, limit=3)
    assert line.endswith('| error: HVS-IOMMU-01 HVS-IOMMU-02 HVS-IOMMU-03 (+%d more)' % (len(CONTROLS) - 3))


def test_unreachable_host_gets_every_control_as_error():
    controls = report.unreachable_controls('UNREACHABLE: ssh timeout')
    assert [c['id'] for c in controls] == [c['id'] for c in CONTROLS]
    assert set(c['status'] for c in controls) == set(['error'])
    assert 'ssh timeout' in controls[0]['evidence']
