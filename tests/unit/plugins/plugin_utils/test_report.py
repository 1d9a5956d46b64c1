# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report rendering: JSON structure, Markdown tables, JUnit XML, console summary."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import json
import os
import xml.etree.ElementTree as ET

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import report
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS, STATUSES

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
    waived = copy.deepcopy(hardened)
    waived['nftables']['tables'] = []
    results = {
        'hv1': ev.evaluate(waived, settings, [{'id': 'HVS-MGMT-18', 'reason': 'perimeter firewall'}]),
        'hv2': ev.evaluate(broken, settings, []),
    }
    return report.build_document(results, '2026-01-01T00:00:00Z')


TODAY = datetime.date(2026, 6, 15)


def _waiver_document():
    """hv1: an active waiver with approver, ticket and expiry, an expired one on a failing control
    and an unneeded one on a passing control; hv2: today's form (id and reason only)."""
    hardened = _load('facts_hardened.json')
    settings = _load('settings_hardened.json')
    failing = copy.deepcopy(hardened)
    failing['ksm']['run'] = 1
    failing['nftables']['tables'] = []
    waivers = [
        {'id': 'HVS-MGMT-18', 'reason': 'perimeter | firewall', 'approved_by': 'Alice <ciso@example.org>',
         'ticket': 'SEC-42', 'expires': '2026-12-31'},
        {'id': 'HVS-IOMMU-13', 'reason': 'KSM needed for density', 'approved_by': 'Bob', 'ticket': 'SEC-7',
         'expires': '2026-06-14'},
        {'id': 'HVS-MGMT-22', 'reason': 'no NTP in the lab', 'approved_by': 'Carol', 'expires': '2027-01-01'},
    ]
    results = {
        'hv1': ev.evaluate(failing, settings, waivers, today=TODAY),
        'hv2': ev.evaluate(failing, settings, [{'id': 'HVS-MGMT-18', 'reason': 'old form'}], today=TODAY),
    }
    return report.build_document(results, '2026-06-15T08:00:00Z')


def test_document_carries_each_waiver_with_its_state():
    doc = _waiver_document()
    waivers = dict(((h, c['id']), c['waiver']) for h, d in doc['hosts'].items() for c in d['controls'] if 'waiver' in c)
    assert waivers == {
        ('hv1', 'HVS-MGMT-18'): {'reason': 'perimeter | firewall', 'approved_by': 'Alice <ciso@example.org>',
                                 'ticket': 'SEC-42', 'expires': '2026-12-31', 'state': 'active'},
        ('hv1', 'HVS-IOMMU-13'): {'reason': 'KSM needed for density', 'approved_by': 'Bob', 'ticket': 'SEC-7',
                                  'expires': '2026-06-14', 'state': 'expired'},
        ('hv1', 'HVS-MGMT-22'): {'reason': 'no NTP in the lab', 'approved_by': 'Carol', 'ticket': None,
                                 'expires': '2027-01-01', 'state': 'unneeded'},
        ('hv2', 'HVS-MGMT-18'): {'reason': 'old form', 'approved_by': None, 'ticket': None, 'expires': None,
                                 'state': 'active'},
    }
    status = dict(((h, c['id']), c['status']) for h, d in doc['hosts'].items() for c in d['controls'])
    assert status[('hv1', 'HVS-IOMMU-13')] == 'fail'
    assert status[('hv1', 'HVS-MGMT-22')] == 'pass'
    assert doc['hosts']['hv1']['summary']['waived'] == 1
    assert json.loads(report.render_json(doc)) == doc


def test_markdown_lists_waivers_with_approver_ticket_and_expiry():
    text = report.render_markdown(_waiver_document())
    section = text.split('## Waivers\n', 1)[1]
    rows = [l for l in section.splitlines() if l.startswith('| hv')]
    assert rows == [
        '| hv1 | HVS-IOMMU-13 | **EXPIRED** | fail | KSM needed for density | Bob | SEC-7 | 2026-06-14 |',
        '| hv1 | HVS-MGMT-18 | active | waived | perimeter \\| firewall | Alice <ciso@example.org> | SEC-42 | 2026-12-31 |',
        '| hv1 | HVS-MGMT-22 | unneeded | pass | no NTP in the lab | Carol | - | 2027-01-01 |',
        '| hv2 | HVS-MGMT-18 | active | waived | old form | - | - | never |',
    ]
    expired = [l for l in text.splitlines() if l.startswith('| HVS-IOMMU-13 ')][0]
    assert '**FAIL**' in expired and '(waiver expired on 2026-06-14: KSM needed for density [approved by Bob; ticket SEC-7])' in expired


def test_markdown_has_no_waiver_section_without_waivers():
    assert '## Waivers' not in report.render_markdown(report.build_document(
        {'hv1': ev.evaluate(_load('facts_hardened.json'), _load('settings_hardened.json'), [])}, 'x'))


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
            waiver = ('waiver',) if c['id'] == 'HVS-MGMT-18' and host == 'hv1' else ()
            assert sorted(c) == sorted(report.REPORT_FIELDS + waiver)
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
