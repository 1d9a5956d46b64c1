# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report writers pinned on a small hand-made result set: the whole Markdown, JUnit and JSON
text of two hosts (every status, waivers in each state, characters that need escaping), counts
that add up to the total, the console line and the coverage sentence in each case."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import report
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS, STATUSES


def _r(cid, status, evidence, area='iommu', severity='high', **extra):
    out = dict(id=cid, title='Title of %s' % cid, area=area, severity=severity, status=status, evidence=evidence)
    out.update(extra)
    return out


ACTIVE = {'reason': 'density | lab', 'approved_by': 'Alice', 'ticket': 'SEC-1', 'expires': '2027-01-01',
          'state': 'active', 'note': 'not a report field'}
EXPIRED = {'reason': 'old', 'approved_by': 'Bob', 'ticket': None, 'expires': '2026-01-01', 'state': 'expired'}
UNNEEDED = {'reason': 'just in case', 'state': 'unneeded'}


def _results():
    """hv2: one control of each status, three waivers; hv1: two passes (hosts out of order)."""
    return {
        'hv2': [
            _r('HVS-A-01', 'pass', 'ok', severity='low', params={'dropped': True}),
            _r('HVS-A-02', 'fail', 'a | b\nc \\ d', severity='critical'),
            _r('HVS-A-03', 'error', 'cannot read <x> & "y"', area='mgmt_plane'),
            _r('HVS-A-04', 'not_applicable', 'no device'),
            _r('HVS-A-05', 'waived', 'KSM on', waiver=ACTIVE),
            _r('HVS-A-06', 'fail', 'still bad', waiver=EXPIRED),
            _r('HVS-A-07', 'pass', 'fine', waiver=UNNEEDED),
            _r('HVS-A-08', 'pass', 'fine', waiver='not a mapping'),
        ],
        'hv1': [_r('HVS-A-01', 'pass', 'ok'), _r('HVS-A-02', 'pass', 'ok')],
    }


@pytest.fixture
def document():
    return report.build_document(_results(), '2026-06-15T08:00:00Z')


def test_document_keeps_report_fields_only_and_counts_add_up(document):
    assert document['generated_at'] == '2026-06-15T08:00:00Z'
    assert list(document['hosts']) == ['hv1', 'hv2']
    hv2 = document['hosts']['hv2']
    assert hv2['summary'] == {'pass': 3, 'fail': 2, 'not_applicable': 1, 'waived': 1, 'error': 1}
    assert list(hv2['summary']) == list(STATUSES)
    assert sum(hv2['summary'].values()) == len(hv2['controls']) == 8
    assert document['hosts']['hv1']['summary'] == {'pass': 2, 'fail': 0, 'not_applicable': 0, 'waived': 0, 'error': 0}
    assert hv2['controls'][0] == {'id': 'HVS-A-01', 'title': 'Title of HVS-A-01', 'area': 'iommu', 'severity': 'low',
                                  'status': 'pass', 'evidence': 'ok'}
    assert hv2['controls'][4]['waiver'] == {'reason': 'density | lab', 'approved_by': 'Alice', 'ticket': 'SEC-1',
                                            'expires': '2027-01-01', 'state': 'active'}
    assert hv2['controls'][6]['waiver'] == {'reason': 'just in case', 'approved_by': None, 'ticket': None,
                                            'expires': None, 'state': 'unneeded'}
    assert 'waiver' not in hv2['controls'][7]
    assert [list(c) for c in hv2['controls'][:2]] == [list(report.REPORT_FIELDS)] * 2


def test_summarize_counts_an_unknown_status_too():
    counts = report.summarize([{'status': 'pass'}, {'status': 'odd'}, {'status': 'odd'}])
    assert counts == {'pass': 1, 'fail': 0, 'not_applicable': 0, 'waived': 0, 'error': 0, 'odd': 2}


def test_json_is_the_document_indented_in_its_order(document):
    text = report.render_json(document)
    assert text.endswith('}\n') and not text.endswith('\n\n')
    assert json.loads(text) == document
    assert text.startswith('{\n  "generated_at": "2026-06-15T08:00:00Z",\n  "hosts": {\n    "hv1": {\n      "summary"')


MARKDOWN = '\n'.join([
    '# hvsec.hypervisor audit report',
    '',
    'Generated at 2026-06-15T08:00:00Z. Controls and their references: docs/controls.md.',
    '',
    '## hv1',
    '',
    'pass: 2, fail: 0, not_applicable: 0, waived: 0, error: 0',
    '',
    '| ID | Title | Area | Severity | Status | Evidence |',
    '|----|-------|------|----------|--------|----------|',
    '| HVS-A-01 | Title of HVS-A-01 | iommu | high | pass | ok |',
    '| HVS-A-02 | Title of HVS-A-02 | iommu | high | pass | ok |',
    '',
    '## hv2',
    '',
    'pass: 3, fail: 2, not_applicable: 1, waived: 1, error: 1',
    '',
    '| ID | Title | Area | Severity | Status | Evidence |',
    '|----|-------|------|----------|--------|----------|',
    '| HVS-A-01 | Title of HVS-A-01 | iommu | low | pass | ok |',
    '| HVS-A-02 | Title of HVS-A-02 | iommu | critical | **FAIL** | a \\| b c \\\\ d |',
    '| HVS-A-03 | Title of HVS-A-03 | mgmt_plane | high | **ERROR** | cannot read <x> & "y" |',
    '| HVS-A-04 | Title of HVS-A-04 | iommu | high | not_applicable | no device |',
    '| HVS-A-05 | Title of HVS-A-05 | iommu | high | waived | KSM on |',
    '| HVS-A-06 | Title of HVS-A-06 | iommu | high | **FAIL** | still bad |',
    '| HVS-A-07 | Title of HVS-A-07 | iommu | high | pass | fine |',
    '| HVS-A-08 | Title of HVS-A-08 | iommu | high | pass | fine |',
    '',
    '## Waivers',
    '',
    'From `hvsec_waivers`. Active: the control is `waived`. EXPIRED: past its expiry date, the control is '
    'judged as without it. Unneeded: the control passes or does not apply without it.',
    '',
    '| Host | Control | Waiver | Status | Reason | Approved by | Ticket | Expires |',
    '|------|---------|--------|--------|--------|-------------|--------|---------|',
    '| hv2 | HVS-A-05 | active | waived | density \\| lab | Alice | SEC-1 | 2027-01-01 |',
    '| hv2 | HVS-A-06 | **EXPIRED** | fail | old | Bob | - | 2026-01-01 |',
    '| hv2 | HVS-A-07 | unneeded | pass | just in case | - | - | never |',
    '',
])


def test_markdown_whole_text(document):
    assert report.render_markdown(document) == MARKDOWN


def test_markdown_coverage_line_and_no_waiver_section():
    document = report.build_document({'hv1': [_r('HVS-A-01', 'pass', 'ok')],
                                      'hv2': report.unreachable_controls('ssh timeout')}, 'T')
    document.update(slice='2', not_audited={'hv2': 'host unreachable: ssh | timeout'})
    lines = report.render_markdown(document).split('\n')
    assert lines[:7] == [
        '# hvsec.hypervisor audit report', '',
        'Generated at T. Controls and their references: docs/controls.md.', '',
        '**Slice 2 of a sliced run (its hosts only). 1 of 2 host(s) could not be audited: hv2: host '
        'unreachable: ssh \\| timeout.**', '',
        '## hv1']
    assert '## Waivers' not in lines
    assert lines[-1] == ''
    assert lines[-2].startswith('| %s | ' % CONTROLS[-1]['id']) and lines[-2].endswith(
        ' | **ERROR** | facts not gathered: ssh timeout |')


@pytest.mark.parametrize('slice_, not_audited, hosts, expected', [
    (None, None, 2, ''),
    (None, {}, 2, ''),
    ('a', None, 2, 'Slice a of a sliced run (its hosts only).'),
    ('0', {}, 1, 'Slice 0 of a sliced run (its hosts only).'),
    (None, {'hv2': 'x', 'hv1': 'y'}, 3, '2 of 3 host(s) could not be audited: hv1: y; hv2: x.'),
    (None, {'hv2': 'x', 'hv1': 'y'}, 2,
     'NO HOST WAS AUDITED: none of the 2 host(s) could be audited (hv1: y; hv2: x).'),
    ('s', {'hv1': 'y'}, 1,
     'Slice s of a sliced run (its hosts only). NO HOST WAS AUDITED: none of the 1 host(s) could be audited (hv1: y).'),
])
def test_coverage_line(slice_, not_audited, hosts, expected):
    document = {'hosts': dict(('hv%d' % i, {}) for i in range(1, hosts + 1))}
    if slice_ is not None:
        document['slice'] = slice_
    if not_audited is not None:
        document['not_audited'] = not_audited
    assert report.coverage_line(document) == expected


def test_coverage_line_without_hosts():
    assert report.coverage_line({}) == ''
    assert report.coverage_line({'hosts': None, 'not_audited': {'a': 'b'}}) == \
        'NO HOST WAS AUDITED: none of the 0 host(s) could be audited (a: b).'


def test_junit_whole_structure(document):
    text = report.render_junit(document)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ') and text.endswith('</testsuites>\n')
    root = ET.fromstring(text)
    assert root.tag == 'testsuites'
    assert root.attrib == {'name': 'hvsec.hypervisor audit', 'tests': '10', 'failures': '2', 'errors': '1',
                           'skipped': '2'}
    suites = root.findall('testsuite')
    assert [s.attrib for s in suites] == [
        {'name': 'hvsec.hypervisor audit: hv1', 'tests': '2', 'failures': '0', 'errors': '0', 'skipped': '0',
         'timestamp': '2026-06-15T08:00:00Z'},
        {'name': 'hvsec.hypervisor audit: hv2', 'tests': '8', 'failures': '2', 'errors': '1', 'skipped': '2',
         'timestamp': '2026-06-15T08:00:00Z'}]
    cases = [(c.attrib, [(ch.tag, ch.attrib, ch.text) for ch in c]) for c in suites[1].findall('testcase')]
    assert cases == [
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-01 Title of HVS-A-01'}, [('system-out', {}, 'ok')]),
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-02 Title of HVS-A-02'},
         [('failure', {'type': 'fail', 'message': 'fail (critical): a | b\nc \\ d'}, 'a | b\nc \\ d')]),
        ({'classname': 'hvsec.hv2.mgmt_plane', 'name': 'HVS-A-03 Title of HVS-A-03'},
         [('error', {'type': 'error', 'message': 'error (high): cannot read <x> & "y"'}, 'cannot read <x> & "y"')]),
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-04 Title of HVS-A-04'},
         [('skipped', {'message': 'not_applicable (high): no device'}, None)]),
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-05 Title of HVS-A-05'},
         [('skipped', {'message': 'waived (high): KSM on'}, None)]),
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-06 Title of HVS-A-06'},
         [('failure', {'type': 'fail', 'message': 'fail (high): still bad'}, 'still bad')]),
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-07 Title of HVS-A-07'}, [('system-out', {}, 'fine')]),
        ({'classname': 'hvsec.hv2.iommu', 'name': 'HVS-A-08 Title of HVS-A-08'}, [('system-out', {}, 'fine')]),
    ]
    # the lines as written: one element per line, indented by depth
    lines = text.split('\n')
    assert lines[2].startswith('  <testsuite name="hvsec.hypervisor audit: hv1" tests="2"')
    assert lines[3:6] == ['    <testcase classname="hvsec.hv1.iommu" name="HVS-A-01 Title of HVS-A-01">',
                          '      <system-out>ok</system-out>', '    </testcase>']
    assert '      <skipped message="not_applicable (high): no device"/>' in lines


def test_junit_counts_come_from_the_summary():
    """A document whose summary disagrees with its controls: the counts are the summary's."""
    document = {'generated_at': 'T', 'hosts': {'h': {'summary': {'fail': 5, 'error': 1, 'not_applicable': 2},
                                                     'controls': [_r('HVS-A-01', 'pass', 'ok')]}}}
    root = ET.fromstring(report.render_junit(document))
    assert root.attrib == {'name': 'hvsec.hypervisor audit', 'tests': '1', 'failures': '5', 'errors': '1', 'skipped': '2'}
    document['hosts']['h']['summary'] = {'waived': 3}
    root = ET.fromstring(report.render_junit(document))
    assert (root.get('failures'), root.get('errors'), root.get('skipped')) == ('0', '0', '3')


def test_summary_line_whole_text(document):
    controls = _results()['hv2']
    assert report.summary_line('hv2', controls) == (
        'hv2: pass=3 fail=2 not_applicable=1 waived=1 error=1 | fail: HVS-A-02 HVS-A-06 | error: HVS-A-03')
    assert report.summary_line('hv2', controls, ['HVS-A-02'], limit=1) == (
        'hv2: pass=3 fail=2 not_applicable=1 waived=1 error=1 | fail: HVS-A-02 (+1 more) | error: HVS-A-03'
        ' | GATE: HVS-A-02')
    assert report.summary_line('hv1', _results()['hv1'], []) == 'hv1: pass=2 fail=0 not_applicable=0 waived=0 error=0'


def test_summary_line_limit_default_and_edges():
    fails = [_r('HVS-F-%02d' % i, 'fail', 'x') for i in range(1, 14)]
    line = report.summary_line('h', fails)
    assert line.endswith('| fail: %s (+1 more)' % ' '.join('HVS-F-%02d' % i for i in range(1, 13)))
    line = report.summary_line('h', fails[:12])
    assert line.endswith('| fail: %s' % ' '.join('HVS-F-%02d' % i for i in range(1, 13)))


def test_summary_line_of_a_single_error():
    assert report.summary_line('h', [_r('HVS-E-01', 'error', 'facts not gathered: y')]) == \
        'h: pass=0 fail=0 not_applicable=0 waived=0 error=1 | facts not gathered: y'


def test_junit_has_no_text_between_elements(document):
    root = ET.fromstring(report.render_junit(document))
    for element in root.iter():
        assert (element.tail or '').strip() == '', element.tag
        if element.tag in ('testsuites', 'testsuite', 'testcase'):
            assert (element.text or '').strip() == '', element.tag


def test_summary_line_errors_same_or_different_evidence():
    same = [_r('HVS-E-01', 'error', 'facts not gathered: x'), _r('HVS-E-02', 'error', 'facts not gathered: x')]
    assert report.summary_line('h', same) == 'h: pass=0 fail=0 not_applicable=0 waived=0 error=2 | facts not gathered: x'
    different = [same[0], _r('HVS-E-02', 'error', 'other')]
    assert report.summary_line('h', different) == 'h: pass=0 fail=0 not_applicable=0 waived=0 error=2 | error: HVS-E-01 HVS-E-02'
    partial = same + [_r('HVS-P-01', 'pass', 'ok')]
    assert report.summary_line('h', partial) == 'h: pass=1 fail=0 not_applicable=0 waived=0 error=2 | error: HVS-E-01 HVS-E-02'
    many = [_r('HVS-E-%02d' % i, 'error', 'e%d' % i) for i in range(3)] + [_r('HVS-P-01', 'pass', 'ok')]
    assert report.summary_line('h', many, limit=2) == \
        'h: pass=1 fail=0 not_applicable=0 waived=0 error=3 | error: HVS-E-00 HVS-E-01 (+1 more)'
    assert report.summary_line('h', many, ['HVS-E-00', 'HVS-E-01', 'HVS-E-02'], limit=2).endswith(
        ' | GATE: HVS-E-00 HVS-E-01 (+1 more)')


def test_unreachable_controls_whole_records():
    records = report.unreachable_controls('why')
    assert records[0] == dict(id=CONTROLS[0]['id'], title=CONTROLS[0]['title'], area=CONTROLS[0]['area'],
                              severity=CONTROLS[0]['severity'], status='error', evidence='facts not gathered: why')
    assert [r['id'] for r in records] == [c['id'] for c in CONTROLS]
    assert report.unreachable_controls('why', prefix='not evaluated')[-1]['evidence'] == 'not evaluated: why'


def test_atomic_write_replaces_with_mode_0644_and_leaves_nothing(tmp_path):
    target = tmp_path / 'audit.md'
    target.write_text('old')
    os.chmod(str(target), 0o600)
    report.atomic_write(str(target), 'new text')
    assert target.read_text() == 'new text'
    assert os.stat(str(target)).st_mode & 0o777 == 0o644
    assert os.listdir(str(tmp_path)) == ['audit.md']


def test_atomic_write_failure_removes_its_temporary_file(tmp_path):
    class Boom(object):
        def __str__(self):
            raise RuntimeError('boom')

    with pytest.raises(TypeError):
        report.atomic_write(str(tmp_path / 'x.json'), Boom())
    assert os.listdir(str(tmp_path)) == []
