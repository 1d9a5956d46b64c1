# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_fleet: the outcome of a host's facts task, the slice report files a merge reads, and the
fleet document merged from them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import audit_fleet
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_fleet import (
    AUDITED, FACTS_FAILED, NOT_RUN, UNREACHABLE, MergeError, facts_outcome, load_document, merge_documents,
    report_files,
)


def test_outcome_names():
    assert (AUDITED, FACTS_FAILED, NOT_RUN, UNREACHABLE) == ('audited', 'facts_failed', 'not_run', 'unreachable')


@pytest.mark.parametrize('registered, expected', [
    (None, (NOT_RUN, 'facts task did not run for this host in this run')),
    ('text', (NOT_RUN, 'facts task did not run for this host in this run')),
    ({}, (AUDITED, '')),
    ({'changed': False, 'msg': 'anything'}, (AUDITED, '')),
    ({'unreachable': True, 'msg': 'Task failed: Failed to connect:\n  refused'},
     (UNREACHABLE, 'host unreachable: Failed to connect: refused')),
    ({'unreachable': True}, (UNREACHABLE, 'host unreachable: no detail')),
    ({'unreachable': True, 'failed': True, 'msg': 'x'}, (UNREACHABLE, 'host unreachable: x')),
    ({'failed': True, 'msg': 'MODULE FAILURE\nSee stdout'}, (FACTS_FAILED, 'facts task failed: MODULE FAILURE See stdout')),
    ({'failed': True, 'msg': None}, (FACTS_FAILED, 'facts task failed: no detail')),
    ({'failed': True, 'msg': 'Task failed: \n boom'}, (FACTS_FAILED, 'facts task failed: boom')),
    ({'failed': True, 'msg': 'a Task failed: b'}, (FACTS_FAILED, 'facts task failed: a Task failed: b')),
    ({'failed': True, 'skipped': True}, (FACTS_FAILED, 'facts task failed: no detail')),
    ({'skipped': True, 'msg': 'when false'}, (NOT_RUN, 'facts task skipped for this host')),
    ({'failed': False, 'unreachable': False, 'skipped': False}, (AUDITED, '')),
])
def test_facts_outcome(registered, expected):
    assert facts_outcome(registered) == expected


def test_facts_outcome_shortens_a_long_message_to_300_characters():
    outcome, reason = facts_outcome({'failed': True, 'msg': 'y' * 300})
    assert reason == 'facts task failed: ' + 'y' * 300
    outcome, reason = facts_outcome({'failed': True, 'msg': 'Task failed: ' + 'z' * 301})
    assert reason == 'facts task failed: ' + 'z' * 297 + '...'
    assert len(reason) - len('facts task failed: ') == 300


def _write(path, document):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(document, handle)
    return path


def test_report_files_from_files_directories_and_globs(tmp_path):
    a = _write(str(tmp_path / 's' / 'a' / 'audit.json'), {'hosts': {}})
    b = _write(str(tmp_path / 's' / 'b' / 'audit.json'), {'hosts': {}})
    c = _write(str(tmp_path / 'other.json'), {'hosts': {}})
    (tmp_path / 's' / 'empty').mkdir()
    assert report_files([str(tmp_path / 's' / '*')]) == [a, b]
    assert report_files([c, str(tmp_path / 's' / 'b'), str(tmp_path / 's' / '?')]) == [c, b, a]
    assert report_files([str(tmp_path / 's' / 'a' / 'audit.json'), str(tmp_path / 's' / 'a')]) == [a]
    cwd = os.getcwd()
    try:
        os.chdir(str(tmp_path))
        assert report_files(['other.json', 's/b']) == [c, b]
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize('name', ['nowhere', 's/empty', 's/none-*', 's/[xy]'])
def test_report_files_refuses_a_path_without_a_report(tmp_path, name):
    _write(str(tmp_path / 's' / 'a' / 'audit.json'), {'hosts': {}})
    (tmp_path / 's' / 'empty').mkdir()
    with pytest.raises(MergeError) as exc:
        report_files([str(tmp_path / 's' / 'a'), str(tmp_path / name)])
    assert str(exc.value) == 'merge: no audit.json at %s' % (tmp_path / name)


def test_load_document(tmp_path):
    good = _write(str(tmp_path / 'good.json'), {'generated_at': 'T', 'hosts': {'h': {}}})
    assert load_document(good) == {'generated_at': 'T', 'hosts': {'h': {}}}
    for name, content in (('list.json', '[]'), ('nohosts.json', '{"generated_at": "T"}'),
                          ('listhosts.json', '{"hosts": []}')):
        path = str(tmp_path / name)
        (tmp_path / name).write_text(content)
        with pytest.raises(MergeError) as exc:
            load_document(path)
        assert str(exc.value) == 'merge: %s is not an audit report (no "hosts" mapping)' % path
    (tmp_path / 'broken.json').write_text('{"hosts": ')
    with pytest.raises(MergeError) as exc:
        load_document(str(tmp_path / 'broken.json'))
    assert str(exc.value).startswith('merge: cannot read %s: Expecting value' % (tmp_path / 'broken.json'))
    with pytest.raises(MergeError) as exc:
        load_document(str(tmp_path / 'missing.json'))
    assert str(exc.value).startswith('merge: cannot read %s: [Errno 2] No such file' % (tmp_path / 'missing.json'))
    assert isinstance(exc.value, ValueError)


def test_merge_documents_unions_hosts_and_not_audited_in_host_order():
    one = {'generated_at': 'T1', 'slice': '1', 'not_audited': {'hv3': 'unreachable'},
           'hosts': {'hv3': {'summary': 3}, 'hv1': {'summary': 1}}}
    two = {'generated_at': 'T2', 'slice': '2', 'hosts': {'hv2': {'summary': 2}}, 'not_audited': None}
    three = {'hosts': {}, 'not_audited': {'hv0': 'refused'}}
    merged = merge_documents([('/r/1/audit.json', one), ('/r/2/audit.json', two), ('/r/3/audit.json', three)], 'NOW')
    assert merged == {
        'generated_at': 'NOW', 'slice': None,
        'not_audited': {'hv0': 'refused', 'hv3': 'unreachable'},
        'merged_from': [{'slice': '1', 'generated_at': 'T1', 'file': '/r/1/audit.json', 'hosts': 2},
                        {'slice': '2', 'generated_at': 'T2', 'file': '/r/2/audit.json', 'hosts': 1},
                        {'slice': None, 'generated_at': None, 'file': '/r/3/audit.json', 'hosts': 0}],
        'hosts': {'hv1': {'summary': 1}, 'hv2': {'summary': 2}, 'hv3': {'summary': 3}}}
    assert list(merged) == ['generated_at', 'slice', 'not_audited', 'merged_from', 'hosts']
    assert list(merged['hosts']) == ['hv1', 'hv2', 'hv3'] and list(merged['not_audited']) == ['hv0', 'hv3']


def test_merge_refuses_a_host_in_two_slices_and_nothing_to_merge():
    one = {'hosts': {'hv1': {}, 'hv2': {}}}
    two = {'hosts': {'hv2': {}}}
    with pytest.raises(MergeError) as exc:
        merge_documents([('a.json', one), ('b.json', two)], 'NOW')
    assert str(exc.value) == 'merge: host hv2 is in two slice reports (a.json and b.json)'
    with pytest.raises(MergeError) as exc:
        merge_documents([], 'NOW')
    assert str(exc.value) == 'merge: no slice report given'
    assert issubclass(audit_fleet.MergeError, ValueError)
