# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report of a small hand-made audit, its previous audit and catalog, read back as a
tree: the counts per status (cards and tables, totals that add up), the trend section (and its
absence), the filters, the matrix cells and the per-control details."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
from html.parser import HTMLParser

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import report_html
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report_html import compute_trend, render_html

VOID = ('meta', 'br', 'img', 'input', 'link')


class Node(object):
    def __init__(self, tag, attrs):
        self.tag = tag
        self.attrs = dict(attrs)
        self.children = []

    def text(self):
        return ''.join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag=None, **attrs):
        """Descendants with ``tag`` whose attributes include ``attrs`` (``class_`` for class)."""
        want = dict((k.rstrip('_'), v) for k, v in attrs.items())
        out = []
        for c in self.children:
            if isinstance(c, str):
                continue
            if (tag is None or c.tag == tag) and all(c.attrs.get(k) == v for k, v in want.items()):
                out.append(c)
            out.extend(c.all(tag, **attrs))
        return out

    def classed(self, tag, name):
        """Descendants with ``tag`` whose class list has ``name``."""
        return [c for c in self.all(tag) if name in c.attrs.get('class', '').split()]

    def one(self, tag=None, **attrs):
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def elements(self):
        return [c for c in self.children if not isinstance(c, str)]


class Tree(HTMLParser):
    """The page as a tree; an end tag that does not close the open element is an error."""

    def __init__(self, text):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.root = Node('#root', [])
        self.stack = [self.root]
        self.feed(text)
        self.close()
        assert self.stack == [self.root], [n.tag for n in self.stack]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, attrs))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, (tag, [n.tag for n in self.stack])
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)

    def handle_decl(self, decl):
        self.root.children.append('<!%s>' % decl)


def _page(audit, previous=None, catalog=None):
    return Tree(render_html(audit, previous, catalog)).root


CATALOG = [
    {'id': 'HVS-A-01', 'title': 'Alpha', 'area': 'iommu', 'severity': 'high', 'rationale': 'Why alpha',
     'sp800_125a': 'HY-BF1', 'sp800_53': ['AC-3', 'SC-7'], 'check': 'reads alpha', 'variable': 'hvsec_alpha',
     'remediation': 'Set alpha', 'reboot': False},
    {'id': 'HVS-A-02', 'title': 'Beta', 'area': 'iommu', 'severity': 'low', 'rationale': 'Why beta',
     'sp800_125a': 'HY-BF2', 'sp800_53': 'SC-39', 'check': 'reads beta', 'variable': None,
     'remediation': 'Set beta', 'reboot': True},
    {'id': 'HVS-M-01', 'title': 'Gamma', 'severity': 'critical', 'rationale': 'Why gamma',
     'sp800_125a': 'HY-BF3', 'sp800_53': [], 'check': 'reads gamma', 'variable': 'hvsec_gamma',
     'remediation': 'Set gamma'},
    {'id': 'HVS-Z-09', 'title': 'Not audited', 'area': 'zeta', 'severity': 'low'},
]
LONG = 'x' * 400


def _c(cid, status, evidence, **extra):
    out = {'id': cid, 'title': 'title in the result', 'area': 'area in the result', 'severity': 'severity in the result',
           'status': status, 'evidence': evidence}
    out.update(extra)
    return out


def _audit():
    return {'generated_at': '2026-06-15T08:00:00Z', 'hosts': {
        'hv2': {'controls': [
            _c('HVS-A-01', 'waived', 'KSM on', reboot_pending=False,
               waiver={'reason': 'density', 'state': 'active', 'expires': None}),
            _c('HVS-A-02', 'pass', 'fine', reboot_pending=True),
            _c('HVS-M-01', 'error', 'unreadable', area='mgmt_plane'),
            'junk', {'status': 'pass'}]},
        'hv1': {'controls': [
            _c('HVS-A-01', 'pass', 'ok1'),
            _c('HVS-A-02', 'fail', 'bad2'),
            _c('HVS-M-01', 'error', LONG, area='mgmt_plane'),
            _c('X-LOCAL-1', 'not_applicable', 'e', title='Local rule', area='local', severity='info')]},
    }}


def _previous():
    return {'generated_at': '2026-06-01T00:00:00Z', 'hosts': {
        'hv1': {'controls': [_c('HVS-A-01', 'fail', 'was bad'), _c('HVS-A-02', 'pass', 'was fine'),
                             _c('HVS-M-01', 'error', 'same'), _c('X-LOCAL-1', 'pass', 'was fine')]},
        'hv3': {'controls': [_c('HVS-A-01', 'pass', 'gone')]},
    }}


def _rows(table):
    return [[cell.text() for cell in tr.elements()] for tr in table.all('tr')]


def test_header_title_and_counts_of_hosts_and_controls():
    root = _page(_audit(), None, CATALOG)
    assert root.children[0] == '<!DOCTYPE html>'
    html = root.one('html')
    assert html.attrs == {'lang': 'en'}
    assert root.one('title').text() == 'hvsec.hypervisor audit report (2026-06-15T08:00:00Z)'
    metas = [m.attrs for m in root.all('meta')]
    assert metas == [{'charset': 'utf-8'},
                     {'http-equiv': 'Content-Security-Policy', 'content': "default-src 'none'; style-src 'unsafe-inline'; "
                                                                          "script-src 'unsafe-inline'; img-src data:"},
                     {'name': 'viewport', 'content': 'width=device-width, initial-scale=1'}]
    header = root.one('header')
    assert header.one('h1').text() == 'hvsec.hypervisor audit report'
    assert header.one('p').text() == ('Generated at 2026-06-15T08:00:00Z \u00b7 source: audit \u00b7 2 host(s), '
                                      '4 control(s) \u00b7 NIST SP 800-125A Rev. 1')
    assert root.one('body').attrs == {'data-ready': '0'}
    assert root.all('p', id='coverage') == []
    # the page's parts, in order
    assert [s.attrs.get('id') for s in root.one('main').elements()] == [
        'overview', 'trend', 'waivers', 'filters', 'matrix-section', 'details']
    style = root.one('style').text()
    assert style.startswith('\n*{box-sizing:border-box}\n') and style.endswith(
        '[hidden]{display:none!important}\n#matrix td.c.dim{opacity:.18}.coverage{border-left:4px solid #b00020;padding:6px 10px}')
    script = root.one('script').text()
    assert script.startswith("\n(function(){\n  var KEYS=['area','severity','status','host','trend'];") and \
        script.endswith("  document.body.dataset.ready='1';\n})();\n")


def test_source_and_coverage_line():
    audit = _audit()
    audit.update(source='check-mode harden', slice='3', not_audited={'hv2': 'host unreachable: <timeout>'})
    root = _page(audit, None, CATALOG)
    assert root.one('span', id='source').text() == 'check-mode harden'
    coverage = root.one('p', id='coverage')
    assert coverage.attrs['class'] == 'coverage'
    assert coverage.one('b').text() == ('Slice 3 of a sliced run (its hosts only). 1 of 2 host(s) could not be '
                                        'audited: hv2: host unreachable: <timeout>.')


def test_overview_counts_add_up_per_status_area_severity_and_host():
    root = _page(_audit(), None, CATALOG)
    overview = root.one('section', id='overview')
    assert overview.one('h2').text() == 'Fleet overview'
    cards = [(d.attrs, d.one('b').text(), d.text()) for d in overview.classed('div', 'card')]
    assert cards == [
        ({'class': 'card st-fail', 'data-status': 'fail'}, '1', '1FAIL'),
        ({'class': 'card st-error', 'data-status': 'error'}, '2', '2ERROR'),
        ({'class': 'card st-pass', 'data-status': 'pass'}, '2', '2pass'),
        ({'class': 'card st-not_applicable', 'data-status': 'not_applicable'}, '1', '1n/a'),
        ({'class': 'card st-waived', 'data-status': 'waived'}, '1', '1waived')]
    assert sum(int(c[1]) for c in cards) == 7  # every (host, control) result once
    tables = overview.all('table', class_='counts')
    head = ['fail', 'error', 'pass', 'not_applicable', 'waived']
    assert [[th.attrs.get('class') for th in t.one('thead').all('th')] for t in tables] == [
        [None] + ['st-%s' % s for s in head] + [None]] * 3
    assert [_rows(t) for t in tables] == [
        [['area', 'FAIL', 'ERROR', 'pass', 'n/a', 'waived', 'total'],
         ['iommu', '1', '0', '2', '0', '1', '4'],
         ['mgmt_plane', '0', '2', '0', '0', '0', '2'],
         ['local', '0', '0', '0', '1', '0', '1']],
        [['severity', 'FAIL', 'ERROR', 'pass', 'n/a', 'waived', 'total'],
         ['critical', '0', '2', '0', '0', '0', '2'],
         ['high', '0', '0', '1', '0', '1', '2'],
         ['low', '1', '0', '1', '0', '0', '2'],
         ['info', '0', '0', '0', '1', '0', '1']],
        [['host', 'FAIL', 'ERROR', 'pass', 'n/a', 'waived', 'total'],
         ['hv1', '1', '1', '1', '1', '0', '4'],
         ['hv2', '0', '1', '1', '0', '1', '3']]]
    for table in _rows(tables[2])[1:]:
        assert sum(int(n) for n in table[1:-1]) == int(table[-1])
    assert [td.attrs for td in tables[0].all('td')][:1] == [{'class': 'n'}]


def test_an_unknown_status_gets_its_own_column_and_card():
    audit = _audit()
    audit['hosts']['hv1']['controls'][0]['status'] = 'odd'
    root = _page(audit, None, CATALOG)
    overview = root.one('section', id='overview')
    assert overview.one('div', class_='card st-odd').text() == '1odd'
    assert _rows(overview.all('table', class_='counts')[2])[:2] == [
        ['host', 'FAIL', 'ERROR', 'pass', 'n/a', 'waived', 'odd', 'total'], ['hv1', '1', '1', '0', '1', '0', '1', '4']]
    cell = root.one('section', id='matrix-section').one('tr', **{'data-id': 'HVS-A-01'}).all('td', **{'data-host': 'hv1'})[0]
    assert cell.text() == '?' and cell.attrs['class'] == 'c st-odd'


def test_trend_section_against_a_previous_audit():
    audit, previous = _audit(), _previous()
    trend = compute_trend(audit, previous)
    assert trend == {
        'new_fail': [{'host': 'hv1', 'id': 'HVS-A-02', 'before': 'pass', 'after': 'fail'},
                     {'host': 'hv2', 'id': 'HVS-M-01', 'before': None, 'after': 'error'}],
        'fixed': [{'host': 'hv1', 'id': 'HVS-A-01', 'before': 'fail', 'after': 'pass'}],
        'changed': [{'host': 'hv1', 'id': 'X-LOCAL-1', 'before': 'pass', 'after': 'not_applicable'}],
        'hosts_added': ['hv2'], 'hosts_removed': ['hv3']}
    section = _page(audit, previous, CATALOG).one('section', id='trend')
    assert section.one('h2').text() == 'Since the previous audit'
    assert section.all('p', id='no-previous') == []
    assert section.elements()[1].text() == (
        'Previous audit: 2026-06-01T00:00:00Z. 2 newly failing, 1 fixed, 1 other change(s). New host(s): hv2. '
        'Host(s) no longer audited: hv3.')
    assert [section.one('b', id=i).text() for i in ('n-new-fail', 'n-fixed', 'n-changed')] == ['2', '1', '1']
    new_fail, fixed = section.one('div', id='trend-new-fail'), section.one('div', id='trend-fixed')
    assert (new_fail.one('h3').text(), fixed.one('h3').text()) == ('Newly failing', 'Fixed')
    assert _rows(new_fail.one('table')) == [['host', 'control', 'before', 'now'],
                                            ['hv1', 'HVS-A-02', 'pass', 'fail'],
                                            ['hv2', 'HVS-M-01', 'not audited', 'error']]
    assert [[td.attrs.get('class') for td in tr.all('td')] for tr in new_fail.all('tr')[1:]] == [
        [None, None, 'st-pass', 'st-fail'], [None, None, 'st-missing', 'st-error']]
    assert [a.attrs for a in new_fail.all('a')] == [{'href': '#ctl-HVS-A-02', 'title': 'Beta'},
                                                    {'href': '#ctl-HVS-M-01', 'title': 'Gamma'}]
    assert _rows(fixed.one('table')) == [['host', 'control', 'before', 'now'], ['hv1', 'HVS-A-01', 'fail', 'pass']]
    # nothing but the table in each list
    assert new_fail.one('div', class_='tlist').text() == ('hostcontrolbeforenow' 'hv1HVS-A-02passfail'
                                                          'hv2HVS-M-01not auditederror')
    assert fixed.one('div', class_='tlist').text() == 'hostcontrolbeforenow' 'hv1HVS-A-01failpass'


def test_trend_section_without_a_previous_audit_or_without_changes():
    section = _page(_audit(), None, CATALOG).one('section', id='trend')
    assert [e.attrs for e in section.elements()] == [{}, {'class': 'muted', 'id': 'no-previous'}]
    assert section.text() == 'Since the previous audit' + 'No previous audit to compare with.'
    same = _audit()
    section = _page(same, copy.deepcopy(same), CATALOG).one('section', id='trend')
    assert section.elements()[1].text() == 'Previous audit: 2026-06-15T08:00:00Z. 0 newly failing, 0 fixed, 0 other change(s).'
    for kind in ('trend-new-fail', 'trend-fixed'):
        empty = section.one('div', id=kind).one('div', class_='tlist')
        assert [(p.attrs, p.text()) for p in empty.elements()] == [({'class': 'muted'}, 'none')]
        assert empty.text() == 'none'


def test_trend_of_a_control_unknown_to_the_catalog_and_malformed_previous_documents():
    audit = _audit()
    previous = {'generated_at': 'P', 'hosts': {'hv1': {'controls': [_c('X-LOCAL-1', 'error', 'bad')]}, 'hv9': None}}
    trend = compute_trend(audit, previous)
    assert trend['fixed'] == [{'host': 'hv1', 'id': 'X-LOCAL-1', 'before': 'error', 'after': 'not_applicable'}]
    assert trend['hosts_removed'] == [] and trend['hosts_added'] == ['hv2']
    fixed = _page(audit, previous, CATALOG).one('div', id='trend-fixed')
    assert [a.attrs for a in fixed.all('a')] == [{'href': '#ctl-X-LOCAL-1', 'title': ''}]
    for bad in ([], 'x', {'hosts': []}, {'hosts': {'h': {'controls': ['x', {'id': ''}, {'status': 'fail'}]}}}):
        got = compute_trend(audit, bad)
        if not isinstance(bad, dict):
            assert got is None
            continue
        assert got['fixed'] == [] and got['changed'] == [] and got['hosts_removed'] == []
        assert [(i['host'], i['id']) for i in got['new_fail']] == [
            ('hv1', 'HVS-A-02'), ('hv1', 'HVS-M-01'), ('hv2', 'HVS-M-01')]
        assert got['hosts_added'] == ['hv1', 'hv2']


def test_filters_offer_the_values_present():
    section = _page(_audit(), None, CATALOG).one('section', id='filters')
    selects = dict((s.attrs['id'], (s.attrs['name'], [(o.attrs['value'], o.text()) for o in s.all('option')]))
                   for s in section.all('select'))
    assert selects == {
        'f-area': ('area', [('', 'all'), ('iommu', 'iommu'), ('mgmt_plane', 'mgmt_plane'), ('local', 'local')]),
        'f-severity': ('severity', [('', 'all'), ('critical', 'critical'), ('high', 'high'), ('low', 'low'),
                                    ('info', 'info')]),
        'f-status': ('status', [('', 'all'), ('fail', 'FAIL'), ('error', 'ERROR'), ('pass', 'pass'),
                                ('not_applicable', 'n/a'), ('waived', 'waived')]),
        'f-host': ('host', [('', 'all'), ('hv1', 'hv1'), ('hv2', 'hv2')]),
        'f-trend': ('trend', [('', 'all'), ('new_fail', 'newly failing'), ('fixed', 'fixed'), ('changed', 'any change')]),
    }
    labels = [lab.children[0] for lab in section.all('label')]
    assert labels == ['Area', 'Severity', 'Status', 'Host', 'Since previous']
    assert section.one('button').attrs == {'type': 'button', 'id': 'f-reset'}
    assert section.one('span', id='shown').attrs['class'] == 'muted'


def test_matrix_rows_cells_and_trend_frames():
    section = _page(_audit(), _previous(), CATALOG).one('section', id='matrix-section')
    assert section.one('h2').text() == 'Controls \u00d7 hosts'
    table = section.one('table', id='matrix')
    assert [(th.attrs, th.text()) for th in table.one('thead').all('th')] == [
        ({'class': 'ctl'}, 'control'), ({}, 'severity'), ({}, 'title'),
        ({'class': 'h', 'data-host': 'hv1'}, 'hv1'), ({'class': 'h', 'data-host': 'hv2'}, 'hv2')]
    rows = table.one('tbody').all('tr')
    assert [r.attrs for r in rows] == [
        {'data-id': 'HVS-A-01', 'data-area': 'iommu', 'data-severity': 'high'},
        {'data-id': 'HVS-A-02', 'data-area': 'iommu', 'data-severity': 'low'},
        {'data-id': 'HVS-M-01', 'data-area': 'mgmt_plane', 'data-severity': 'critical'},
        {'data-id': 'X-LOCAL-1', 'data-area': 'local', 'data-severity': 'info'}]
    first = rows[0].elements()
    assert (first[0].one('a').attrs, first[0].text()) == ({'href': '#ctl-HVS-A-01'}, 'HVS-A-01')
    assert (first[1].one('span').attrs, first[1].text()) == ({'class': 'sev sev-high'}, 'high')
    assert (first[2].attrs, first[2].text()) == ({'class': 't', 'title': 'Alpha'}, 'Alpha')
    cells = [[(td.attrs, td.text()) for td in r.classed('td', 'c')] for r in rows]
    assert cells == [
        [({'class': 'c st-pass tr-fixed', 'data-host': 'hv1', 'data-status': 'pass', 'data-trend': 'fixed',
           'title': 'HVS-A-01 on hv1: pass - ok1'}, 'P'),
         ({'class': 'c st-waived', 'data-host': 'hv2', 'data-status': 'waived', 'data-trend': '',
           'title': 'HVS-A-01 on hv2: waived - KSM on'}, 'W')],
        [({'class': 'c st-fail tr-new_fail', 'data-host': 'hv1', 'data-status': 'fail', 'data-trend': 'new_fail',
           'title': 'HVS-A-02 on hv1: fail - bad2'}, 'F'),
         ({'class': 'c st-pass', 'data-host': 'hv2', 'data-status': 'pass', 'data-trend': '',
           'title': 'HVS-A-02 on hv2: pass - fine'}, 'P')],
        [({'class': 'c st-error', 'data-host': 'hv1', 'data-status': 'error', 'data-trend': '',
           'title': 'HVS-M-01 on hv1: error - ' + 'x' * 297 + '...'}, 'E'),
         ({'class': 'c st-error tr-new_fail', 'data-host': 'hv2', 'data-status': 'error', 'data-trend': 'new_fail',
           'title': 'HVS-M-01 on hv2: error - unreadable'}, 'E')],
        [({'class': 'c st-not_applicable', 'data-host': 'hv1', 'data-status': 'not_applicable', 'data-trend': 'changed',
           'title': 'X-LOCAL-1 on hv1: not_applicable - e'}, '-'),
         ({'class': 'c st-missing', 'data-host': 'hv2', 'data-status': ''}, '?')]]


def test_tooltip_keeps_evidence_of_300_characters_whole():
    audit = _audit()
    audit['hosts']['hv1']['controls'][2]['evidence'] = 'y' * 300
    audit['hosts']['hv2']['controls'][2]['evidence'] = None
    row = _page(audit, None, CATALOG).one('tr', **{'data-id': 'HVS-M-01'})
    assert [td.attrs['title'] for td in row.all('td')[2:]] == [
        'HVS-M-01 on hv1: error - ' + 'y' * 300, 'HVS-M-01 on hv2: error - ']


def _details(root):
    out = {}
    for d in root.one('section', id='details').all('details'):
        dl = d.one('dl').elements()
        out[d.attrs['id']] = {
            'attrs': d.attrs, 'summary': d.one('summary').text(),
            'dl': [(dl[i].text(), dl[i + 1].text()) for i in range(0, len(dl), 2)],
            'hosts': [[td.text() for td in tr.all('td')] for tr in d.all('tr', class_='hr')],
            'trs': [tr.attrs for tr in d.all('tr', class_='hr')]}
    return out


def test_details_per_control_from_the_catalog_and_the_results():
    root = _page(_audit(), _previous(), CATALOG)
    assert root.one('section', id='details').one('h2').text() == 'Control details'
    details = _details(root)
    assert list(details) == ['ctl-HVS-A-01', 'ctl-HVS-A-02', 'ctl-HVS-M-01', 'ctl-X-LOCAL-1']
    a1, a2, m1, x1 = (details[k] for k in details)
    assert a1['attrs'] == {'class': 'ctl', 'id': 'ctl-HVS-A-01', 'data-id': 'HVS-A-01', 'data-area': 'iommu',
                           'data-severity': 'high'}
    assert a2['attrs'] == {'class': 'ctl', 'id': 'ctl-HVS-A-02', 'data-id': 'HVS-A-02', 'data-area': 'iommu',
                           'data-severity': 'low', 'open': None}
    assert a1['summary'] == 'HVS-A-01 high Alpha (iommu; 0 of 2 host(s) fail or error)'
    assert a2['summary'] == 'HVS-A-02 low Beta (iommu; 1 of 2 host(s) fail or error)'
    assert m1['summary'] == 'HVS-M-01 critical Gamma (mgmt_plane; 2 of 2 host(s) fail or error)'
    assert x1['summary'] == 'X-LOCAL-1 info Local rule (local; 0 of 1 host(s) fail or error)'
    assert a1['dl'] == [('Rationale', 'Why alpha'), ('NIST SP 800-125A Rev. 1', 'HY-BF1'),
                        ('NIST SP 800-53 Rev. 5', 'AC-3, SC-7'), ('How it is checked', 'reads alpha'),
                        ('Remediating variable', 'hvsec_alpha'), ('Remediation', 'Set alpha'),
                        ('Fix needs a reboot', 'no')]
    assert a2['dl'][2] == ('NIST SP 800-53 Rev. 5', 'SC-39')
    assert a2['dl'][4:] == [('Remediating variable', 'none (audited only)'), ('Remediation', 'Set beta'),
                            ('Fix needs a reboot', 'yes')]
    assert m1['dl'][2] == ('NIST SP 800-53 Rev. 5', '') and m1['dl'][6] == ('Fix needs a reboot', 'unknown')
    assert x1['dl'] == [('Rationale', 'not in the catalog'), ('NIST SP 800-125A Rev. 1', 'not in the catalog'),
                        ('NIST SP 800-53 Rev. 5', ''), ('How it is checked', ''),
                        ('Remediating variable', 'none (audited only)'), ('Remediation', ''),
                        ('Fix needs a reboot', 'unknown')]
    # per host: status, since previous, reboot pending (reported, else from the catalog), evidence
    assert a1['hosts'] == [['hv1', 'pass', 'fixed', 'no', 'ok1'], ['hv2', 'waived', '', 'no', 'KSM on']]
    assert a2['hosts'] == [['hv1', 'FAIL', 'newly failing', 'after remediation', 'bad2'],
                           ['hv2', 'pass', '', 'yes', 'fine']]
    assert m1['hosts'] == [['hv1', 'ERROR', '', 'unknown', LONG], ['hv2', 'ERROR', 'newly failing', 'unknown', 'unreadable']]
    assert x1['hosts'] == [['hv1', 'n/a', 'changed', 'unknown', 'e']]
    assert a2['trs'] == [{'class': 'hr', 'data-host': 'hv1', 'data-status': 'fail', 'data-trend': 'new_fail'},
                         {'class': 'hr', 'data-host': 'hv2', 'data-status': 'pass', 'data-trend': ''}]
    d = root.one('details', id='ctl-HVS-A-02')
    assert [th.text() for th in d.one('thead').all('th')] == ['host', 'status', 'since previous', 'reboot pending', 'evidence']
    assert [td.attrs.get('class') for td in d.all('tr', class_='hr')[0].all('td')] == [None, 'st-fail', None, None, 'ev']
    assert d.one('summary').one('span', class_='sev sev-low').text() == 'low'
    assert d.one('summary').one('span', class_='muted').text() == '(iommu; 1 of 2 host(s) fail or error)'


def test_catalog_as_a_mapping_and_a_catalog_value_missing():
    by_id = dict((c['id'], c) for c in CATALOG)
    assert render_html(_audit(), None, by_id) == render_html(_audit(), None, CATALOG)
    details = _details(_page(_audit(), None, CATALOG))
    # HVS-M-01 has no area in the catalog: the results' area is used
    assert details['ctl-HVS-M-01']['attrs']['data-area'] == 'mgmt_plane'
    catalog = copy.deepcopy(CATALOG)
    catalog[0]['title'] = None
    details = _details(_page(_audit(), None, catalog))
    assert details['ctl-HVS-A-01']['summary'].startswith('HVS-A-01 high title in the result (')


def test_the_waiver_section_text():
    audit = _audit()
    audit['hosts']['hv1']['controls'][1]['waiver'] = {'reason': 'r', 'state': 'expired', 'expires': '2026-01-01'}
    audit['hosts']['hv1']['controls'][0]['waiver'] = {'reason': 'q', 'state': None}
    section = _page(audit, None, CATALOG).one('section', id='waivers')
    assert section.one('h2').text() == 'Waivers'
    assert section.one('p').text() == ('From hvsec_waivers: 1 active, 1 expired (the control is judged as without '
                                       'it), 0 unneeded (the control passes or does not apply without it).')
    table = section.one('table', id='waiver-table')
    assert _rows(table) == [
        ['host', 'control', 'waiver', 'status', 'reason', 'approved by', 'ticket', 'expires'],
        ['hv1', 'HVS-A-01', '', 'pass', 'q', '-', '-', 'never'],
        ['hv1', 'HVS-A-02', 'EXPIRED', 'FAIL', 'r', '-', '-', '2026-01-01'],
        ['hv2', 'HVS-A-01', 'active', 'waived', 'density', '-', '-', 'never']]
    assert [tr.attrs['class'] for tr in table.one('tbody').all('tr')] == [
        'waiver waiver-', 'waiver waiver-expired', 'waiver waiver-active']
    assert [a.attrs['title'] for a in table.all('a')] == ['Alpha', 'Beta', 'Alpha']
    assert [td.attrs.get('class') for td in table.one('tbody').all('tr')[1].all('td')] == [
        None, None, 'wstate', 'st-fail', None, 'approver', 'ticket', 'expires']


@pytest.mark.parametrize('hosts', [{}, {'hv1': None}, {'hv1': {'controls': None}}])
def test_a_document_without_results_still_renders(hosts):
    root = _page({'generated_at': 'T', 'hosts': hosts}, None, CATALOG)
    assert root.one('header').one('p').text().endswith('%d host(s), 0 control(s) \u00b7 NIST SP 800-125A Rev. 1' % len(hosts))
    assert root.one('table', id='matrix').one('tbody').elements() == []
    assert root.one('section', id='details').all('details') == []


def test_default_catalog_is_the_collection_catalog():
    from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
    assert report_html._catalog_map(None) == dict((c['id'], c) for c in CONTROLS)


CONTAINERS = ('html', 'head', 'body', 'main', 'table', 'thead', 'tbody', 'tr', 'select', 'dl', 'details')


def test_no_stray_text_between_elements():
    """Text sits in cells, headings, paragraphs and options only: nothing between table rows,
    options, sections or the page's parts (the tree tests above compare elements only)."""
    audit = _audit()
    audit['hosts']['hv1']['controls'][1]['waiver'] = {'reason': None, 'state': 'expired', 'expires': '2026-01-01'}
    for previous in (None, _previous()):
        root = _page(audit, previous, CATALOG)
        stack = [root.one('html')]
        while stack:
            node = stack.pop()
            # a card is a number in <b> followed by its label
            if node.tag in CONTAINERS + ('section', 'div') and not node.attrs.get('class', '').startswith('card '):
                stray = [c for c in node.children if isinstance(c, str) and c.strip()]
                assert stray == [], (node.tag, node.attrs, stray)
            stack.extend(node.elements())
        labels = [lab.children[0] for lab in root.one('section', id='filters').all('label')]
        assert labels == ['Area', 'Severity', 'Status', 'Host', 'Since previous']
        reason = root.one('tr', **{'data-id': 'HVS-A-02', 'data-host': 'hv1', 'class': 'waiver waiver-expired'})
        assert reason.all('td')[4].text() == ''
