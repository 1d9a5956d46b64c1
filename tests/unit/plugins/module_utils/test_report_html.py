# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import re

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.module_utils.report_html import compute_trend, render_html

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
