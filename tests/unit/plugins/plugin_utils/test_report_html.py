# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import json
import os
import re

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import evaluate
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import build_document
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report_html import compute_trend, render_html

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'report_html')


def _load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


@pytest.fixture
def audit():
    return _load('audit.json')


@pytest.fixture
def previous():
    return _load('audit.previous.json')


def _cells(html):
    """{(host, control): status} read back from the rendered matrix."""
    out = {}
    for row in re.findall(r'<tr data-id="([^"]+)"[^>]*>(.*?)</tr>', html):
        for host, status in re.findall(r'<td class="c [^"]*" data-host="([^"]+)" data-status="([^"]*)"', row[1]):
            out[(host, row[0])] = status
    return out


def test_matrix_matches_document(audit):
    html = render_html(audit, None, CONTROLS)
    want = dict(((h, c['id']), c['status']) for h, d in audit['hosts'].items() for c in d['controls'])
    assert _cells(html) == want
    assert 'No previous audit to compare with' in html


def test_no_network_resources_and_escaping(audit):
    audit['hosts']['hv1.example']['controls'][0]['evidence'] = '<script>alert(1)</script> & "q"'
    html = render_html(audit, None, CONTROLS)
    assert 'http://' not in html and 'https://' not in html
    assert '<script>alert(1)' not in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;' in html
    assert html.count('<script>') == 1


def test_trend(audit, previous):
    trend = compute_trend(audit, previous)
    before = dict(((h, c['id']), c['status']) for h, d in previous['hosts'].items() for c in d['controls'])
    now = dict(((h, c['id']), c['status']) for h, d in audit['hosts'].items() for c in d['controls'])
    assert set((i['host'], i['id']) for i in trend['new_fail']) == set(
        k for k, s in now.items() if s in ('fail', 'error') and before.get(k) not in ('fail', 'error'))
    assert set((i['host'], i['id']) for i in trend['fixed']) == set(
        k for k, s in now.items() if before.get(k) in ('fail', 'error') and s not in ('fail', 'error'))
    assert trend['hosts_added'] == ['hv3.example'] and trend['hosts_removed'] == ['hv4.example']
    html = render_html(audit, previous, CONTROLS)
    assert '<b id="n-new-fail">%d</b>' % len(trend['new_fail']) in html
    assert html.count(' tr-fixed"') == len(trend['fixed'])
    assert compute_trend(audit, None) is None


def test_identical_audits_have_no_trend(audit):
    trend = compute_trend(audit, copy.deepcopy(audit))
    assert trend['new_fail'] == [] and trend['fixed'] == [] and trend['changed'] == []


def test_pass_to_waived_is_a_plain_change(audit, previous):
    prev = copy.deepcopy(audit)
    prev['hosts']['hv2.example']['controls'][0]['status'] = 'pass'
    audit['hosts']['hv2.example']['controls'][0]['status'] = 'waived'
    trend = compute_trend(audit, prev)
    assert [(i['host'], i['before'], i['after']) for i in trend['changed']] == [('hv2.example', 'pass', 'waived')]


def test_detail_uses_catalog_and_reboot_pending(audit):
    ctl = audit['hosts']['hv1.example']['controls'][5]
    assert ctl['id'] == 'HVS-IOMMU-06'
    ctl['status'] = 'fail'
    ctl['reboot_pending'] = True
    html = render_html(audit, None, CONTROLS)
    section = html.split('id="ctl-HVS-IOMMU-06"', 1)[1].split('</details>', 1)[0]
    assert 'hvsec_iommu_manage_cmdline' in section
    assert 'HY-BF2 (device emulation and access control)' in section
    assert '<dt>Fix needs a reboot</dt><dd>yes</dd>' in section
    row = re.search(r'<tr class="hr" data-host="hv1.example".*?</tr>', section).group(0)
    assert '<td>yes</td>' in row


def test_unknown_control_and_source(audit):
    audit['source'] = 'check-mode harden'
    audit['hosts']['hv2.example']['controls'].append(
        dict(id='X-LOCAL-1', title='Local rule', area='local', severity='low', status='fail', evidence='e'))
    html = render_html(audit, None, CONTROLS)
    assert '<span id="source">check-mode harden</span>' in html
    assert 'id="ctl-X-LOCAL-1"' in html and '<option value="local">local</option>' in html
    assert _cells(html)[('hv1.example', 'X-LOCAL-1')] == ''


@pytest.mark.parametrize('bad', [None, [], {'generated_at': 'x'}, {'hosts': []}])
def test_bad_document(bad):
    with pytest.raises(ValueError, match='audit'):
        render_html(bad)


def test_default_catalog(audit):
    assert render_html(audit) == render_html(audit, None, CONTROLS)


def _waiver_audit():
    """Two hosts: hv1 with an active waiver (approver, ticket, expiry), an expired one on a failing
    control and an unneeded one; hv2 with today's form (id and reason only). Fixed "today"."""
    fixtures = os.path.join(os.path.dirname(__file__), 'fixtures', 'audit')
    with open(os.path.join(fixtures, 'facts_hardened.json')) as f:
        facts = json.load(f)
    with open(os.path.join(fixtures, 'settings_hardened.json')) as f:
        settings = json.load(f)
    facts['ksm']['run'] = 1
    facts['nftables']['tables'] = []
    today = datetime.date(2026, 6, 15)
    waivers = [
        {'id': 'HVS-MGMT-18', 'reason': 'perimeter <firewall>', 'approved_by': 'Alice & Co', 'ticket': 'SEC-42',
         'expires': '2026-12-31'},
        {'id': 'HVS-IOMMU-13', 'reason': 'density', 'approved_by': 'Bob', 'ticket': 'SEC-7', 'expires': '2026-06-14'},
        {'id': 'HVS-MGMT-22', 'reason': 'lab', 'expires': '2027-01-01'},
    ]
    return build_document({'hv1': evaluate(facts, settings, waivers, today=today),
                           'hv2': evaluate(facts, settings, [{'id': 'HVS-MGMT-18', 'reason': 'old form'}], today=today)},
                          '2026-06-15T08:00:00Z')


def _waiver_table(html):
    section = re.search(r'<section id="waivers">(.*?)</section>', html).group(1)
    rows = re.findall(r'<tr class="waiver waiver-(\w+)" data-host="([^"]+)" data-id="([^"]+)">(.*?)</tr>', section)
    return section, [(state, host, cid, [re.sub(r'<[^>]+>', '', td) for td in re.findall(r'<td[^>]*>(.*?)</td>', cells)])
                     for state, host, cid, cells in rows]


def test_html_lists_waivers_with_approver_ticket_and_expiry():
    html = render_html(_waiver_audit(), None, CONTROLS)
    section, rows = _waiver_table(html)
    assert rows == [
        ('expired', 'hv1', 'HVS-IOMMU-13', ['hv1', 'HVS-IOMMU-13', 'EXPIRED', 'FAIL', 'density', 'Bob', 'SEC-7', '2026-06-14']),
        ('active', 'hv1', 'HVS-MGMT-18', ['hv1', 'HVS-MGMT-18', 'active', 'waived', 'perimeter &lt;firewall&gt;',
                                          'Alice &amp; Co', 'SEC-42', '2026-12-31']),
        ('unneeded', 'hv1', 'HVS-MGMT-22', ['hv1', 'HVS-MGMT-22', 'unneeded', 'pass', 'lab', '-', '-', '2027-01-01']),
        ('active', 'hv2', 'HVS-MGMT-18', ['hv2', 'HVS-MGMT-18', 'active', 'waived', 'old form', '-', '-', 'never']),
    ]
    counts = dict(re.findall(r'<b id="n-waivers-(\w+)">(\d+)</b>', section))
    assert counts == {'active': '2', 'expired': '1', 'unneeded': '1'}
    # the expired waiver's control is a failure in the matrix, with the expiry in its tooltip
    cell = re.search(r'<td class="c st-fail[^"]*" data-host="hv1" data-status="fail" data-trend="" title="HVS-IOMMU-13 on hv1: ([^"]*)"', html)
    assert 'waiver expired on 2026-06-14' in cell.group(1)


def test_html_has_no_waiver_section_without_waivers(audit):
    for data in audit['hosts'].values():
        for c in data['controls']:
            c.pop('waiver', None)
    assert 'id="waivers"' not in render_html(audit, None, CONTROLS)
