# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/controls.md is generated from the catalog (and the roles' tags for check-mode judgement) and is up to date."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import gen_docs  # noqa: E402  pylint: disable=wrong-import-position


def test_controls_md_is_current():
    with open(os.path.join(ROOT, 'docs', 'controls.md')) as handle:
        current = handle.read()
    assert current == gen_docs.render(gen_docs.load_catalog()), 'docs/controls.md is out of date: run make docs'


def test_every_control_is_documented_once():
    catalog = gen_docs.load_catalog()
    text = gen_docs.render(catalog)
    for control in catalog.CONTROLS:
        assert text.count('### %s:' % control['id']) == 1
        assert control['rationale'] in text


def test_check_detects_stale_file(tmp_path):
    out = tmp_path / 'controls.md'
    args = ['--output', str(out), '--oscal-output', str(tmp_path / 'oscal' / 'component-definition.json')]
    assert gen_docs.main(args) == 0
    assert gen_docs.main(['--check'] + args) == 0
    out.write_text(out.read_text().replace('HVS-IOMMU-01', 'HVS-IOMMU-0X', 1))
    assert gen_docs.main(['--check'] + args) == 1


# ------------------------------------------------------------------ OSCAL component definition

OSCAL_FILE = os.path.join(ROOT, 'docs', 'oscal', 'component-definition.json')


def test_oscal_component_definition_is_current():
    with open(OSCAL_FILE) as handle:
        current = handle.read()
    assert current == gen_docs.render_oscal(gen_docs.load_catalog(), current), \
        'docs/oscal/component-definition.json is out of date: run make docs'


class _Catalog(object):
    def __init__(self, controls):
        self.CONTROLS = controls


def test_oscal_last_modified_is_kept_until_the_content_changes():
    import datetime
    import json
    catalog = gen_docs.load_catalog()
    then = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    later = datetime.datetime(2026, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    first = gen_docs.render_oscal(catalog, None, now=then)
    assert '"last-modified": "2026-01-02T03:04:05+00:00"' in first
    assert gen_docs.render_oscal(catalog, first, now=later) == first
    changed = [dict(c) for c in catalog.CONTROLS]
    changed[0]['rationale'] = 'A new rationale.'
    second = gen_docs.render_oscal(_Catalog(changed), first, now=later)
    meta = json.loads(second)['component-definition']['metadata']
    assert meta['last-modified'] == '2026-05-06T07:08:09+00:00'
    assert json.loads(second)['component-definition']['uuid'] != json.loads(first)['component-definition']['uuid']


def test_check_detects_a_stale_oscal_file(tmp_path):
    oscal_out = tmp_path / 'component-definition.json'
    args = ['--output', str(tmp_path / 'controls.md'), '--oscal-output', str(oscal_out)]
    assert gen_docs.main(args) == 0
    written = oscal_out.read_text()
    assert gen_docs.main(args) == 0 and oscal_out.read_text() == written  # unchanged: nothing rewritten
    assert gen_docs.main(['--check'] + args) == 0
    oscal_out.write_text(written.replace('"control-id": "sc-39"', '"control-id": "sc-40"', 1))
    assert gen_docs.main(['--check'] + args) == 1


# ------------------------------------------------------------------ judged by roles (check mode)

CALLBACK = gen_docs.load_callback()
KEY = CALLBACK.CHANGED_CONTROLS_KEY


def _control(cid='HVS-TEST-01', area='iommu', variable='hvsec_iommu_nested', reboot=False):
    return {'id': cid, 'title': 'test control', 'area': area, 'severity': 'low', 'variable': variable,
            'reboot': reboot, 'role': area if variable else None}


def _task(module, controls, name='do it', when=(), changed_when=None, section='block'):
    return {'name': '%s | %s' % (' '.join(controls), name), 'module': module, 'controls': list(controls),
            'tags': list(controls), 'when': list(when), 'changed_when': changed_when, 'section': section}


def _judge(control, tasks, reports=lambda module, key: False):
    return gen_docs.judge(control, tasks, CALLBACK, KEY, reports)


def test_judge_own_remediation_task_is_judged_one_way():
    assert _judge(_control(), [_task('template', ['HVS-TEST-01'])]) == ('yes', [])
    # a debug that reports a change (changed_when) judges too
    assert _judge(_control(), [_task('debug', ['HVS-TEST-01'], changed_when=True)]) == ('yes', [])


def test_judge_shared_task_is_partly_unless_the_module_names_its_controls():
    tasks = [_task('libvirt_config', ['HVS-TEST-01', 'HVS-TEST-02'], name='Harden qemu.conf')]
    verdict, reasons = _judge(_control(), tasks)
    assert verdict == 'partly'
    assert 'HVS-TEST-02' in reasons[0] and '"Harden qemu.conf"' in reasons[0] and KEY in reasons[0]
    assert 'HVS-TEST-01' not in reasons[0]
    assert _judge(_control(), tasks, reports=lambda module, key: module == 'libvirt_config' and key == KEY) == ('yes', [])


def test_judge_tasks_that_cannot_change_do_not_judge():
    verdict, reasons = _judge(_control(), [_task('set_fact', ['HVS-TEST-01']), _task('assert', ['HVS-TEST-01'])])
    assert verdict == 'no'
    assert 'assert, set_fact' in reasons[0] and 'error when an assertion fails' in reasons[0]
    # a command whose changed_when is false, or a change that is skipped in check mode, neither
    assert _judge(_control(), [_task('command', ['HVS-TEST-01'], changed_when=False)])[0] == 'no'
    assert _judge(_control(), [_task('copy', ['HVS-TEST-01'], when=['x is changed and not ansible_check_mode'])])[0] == 'no'
    assert _judge(_control(), [_task('copy', ['HVS-TEST-01'], when=['not (ansible_check_mode and x is changed)'])])[0] == 'yes'
    # rescue tasks only run after a failure
    verdict, reasons = _judge(_control(), [_task('copy', ['HVS-TEST-01'], section='rescue')])
    assert verdict == 'no' and reasons[0].startswith('not judged by the roles')


def test_judge_caveats_of_asserts_findings_reboots_and_other_roles():
    tasks = [_task('copy', ['HVS-TEST-01']), _task('assert', ['HVS-TEST-01'], name='Refuse a bad group'),
             _task('debug', ['HVS-TEST-01'], name='Warn about it')]
    verdict, reasons = _judge(_control(reboot=True), tasks)
    assert verdict == 'partly'
    assert '"Refuse a bad group" stops the run when its check fails: error, not fail' in reasons
    assert '"Warn about it" only reports a finding: alone it counts as pass' in reasons
    assert any(r.startswith('needs a reboot') for r in reasons)
    verdict, reasons = _judge(_control(area='vfio', variable='hvsec_iommu_manage_cmdline'),
                              [_task('assert', ['HVS-TEST-01'])])
    assert verdict == 'no'
    assert reasons[-1] == 'remediated through hvsec_iommu_manage_cmdline of role iommu, whose tasks do not carry HVS-TEST-01'


def test_judge_untagged_controls_get_the_callback_reason():
    for control, words in ((_control(variable=None), 'audited only'), (_control(), 'no task of this run carries the tag')):
        verdict, reasons = _judge(control, [])
        doc = CALLBACK.build_compliance_document({}, ['h'], '', '', catalog=[control])
        assert verdict == 'no' and reasons == [doc['hosts']['h']['controls'][0]['evidence']] and words in reasons[0]


def test_judgements_of_the_real_roles_follow_their_tags():
    catalog = gen_docs.load_catalog()
    judged = gen_docs.judgements(catalog, callback=CALLBACK)
    tagged = gen_docs.role_tasks.controls_tagged()
    assert set(judged) == set(c['id'] for c in catalog.CONTROLS)
    for control in catalog.CONTROLS:
        verdict, reasons, count = judged[control['id']]
        tasks = [t for t in tagged.get(control['id'], []) if t['section'] == 'block']
        assert count == len(tasks)
        changing = [t for t in tasks if gen_docs.can_change(t) and gen_docs.runs_in_check_mode(t)]
        if not changing:
            assert verdict == 'no', control['id']
        if verdict == 'yes':
            assert reasons == [] and not control['reboot']
            assert all(t['controls'] == [control['id']] for t in changing), control['id']
        else:
            assert reasons and all(reasons), control['id']
        if not control['variable'] and not tasks:
            assert verdict == 'no' and 'audited only' in reasons[0]


def test_judged_section_lists_every_control_that_is_not_judged_one_way():
    catalog = gen_docs.load_catalog()
    judged = gen_docs.judgements(catalog, callback=CALLBACK)
    text = gen_docs.render(catalog, judged, CALLBACK)
    section = text.split('## Judged by roles (check mode)', 1)[1]
    rows = dict((line.split(' | ')[0].lstrip('| '), line) for line in section.splitlines() if line.startswith('| HVS-'))
    for cid, (verdict, reasons, count) in judged.items():
        if verdict == 'yes':
            assert cid not in rows
        else:
            assert rows[cid].startswith('| %s | %s | %d | ' % (cid, verdict, count))
            assert gen_docs._cell('; '.join(reasons)) in rows[cid]
    yes = [cid for cid, value in judged.items() if value[0] == 'yes']
    assert 'Judged one way (**yes**): %s.' % (', '.join(yes) or 'none') in section
    assert sum(int(n) for n in re.findall(r'^- \*\*(?:yes|partly|no)\*\* \((\d+)\)', section, re.M)) == len(judged)
    # and every area table has the column with each control's judgement
    for control in catalog.CONTROLS:
        row = [line for line in text.splitlines() if line.startswith('| %s | ' % control['id'])][0]
        assert row.rstrip().endswith('| %s |' % judged[control['id']][0])


@pytest.fixture
def roles_copy(tmp_path):
    root = tmp_path / 'tree'
    shutil.copytree(os.path.join(ROOT, 'roles'), str(root / 'roles'))
    os.makedirs(str(root / 'plugins' / 'modules'))
    return root


def test_judgements_are_read_from_the_role_yaml(roles_copy):
    """Tagging a single-control task with a second control turns both into shared judgements."""
    catalog = gen_docs.load_catalog()
    before = gen_docs.judgements(catalog, root=str(roles_copy), callback=CALLBACK)
    assert before == gen_docs.judgements(catalog, callback=CALLBACK)
    tasks = gen_docs.role_tasks.all_tasks(str(roles_copy))
    target = [t for role in tasks.values() for t in role
              if len(t['controls']) == 1 and gen_docs.can_change(t) and gen_docs.runs_in_check_mode(t)
              and not any(f['module'] in gen_docs.FAILING_MODULES for f in tasks[t['role']] if t['controls'][0] in f['controls'])]
    assert target, 'no single-control remediation task in the roles'
    task = target[0]
    cid = task['controls'][0]
    other = [c['id'] for c in catalog.CONTROLS if c['area'] == task['role'] and c['id'] != cid][0]
    path = str(roles_copy / task['file'])
    with open(path) as handle:
        text = handle.read()
    old = 'tags: [%s]' % ', '.join(task['task']['tags'])
    assert text.count(old) >= 1, old
    with open(path, 'w') as handle:
        handle.write(text.replace(old, 'tags: [%s, %s]' % (', '.join(task['task']['tags']), other), 1))
    after = gen_docs.judgements(catalog, root=str(roles_copy), callback=CALLBACK)
    assert after[cid][0] == 'partly' and any(other in r for r in after[cid][1])
    assert any(cid in r for r in after[other][1])
    # the task's module reporting the callback's per-control list makes the share harmless again
    (roles_copy / 'plugins' / 'modules' / (task['module'] + '.py')).write_text('RESULT_KEY = %r\n' % KEY)
    again = gen_docs.judgements(catalog, root=str(roles_copy), callback=CALLBACK)
    assert not any(other in r for r in again[cid][1])


# ------------------------------------------------------------------ the records' check_mode against the roles


class _Records(object):
    """The real catalog with one control's check_mode replaced."""

    def __init__(self, catalog, cid, check_mode):
        self.AREAS = catalog.AREAS
        self.CONTROLS = [dict(c, check_mode=check_mode) if c['id'] == cid else c for c in catalog.CONTROLS]
        self.BY_ID = dict((c['id'], c) for c in self.CONTROLS)


def _flipped(judged, verdict):
    """A control judged `verdict` by the roles, and another value for its record."""
    cid = sorted(k for k, v in judged.items() if v[0] == verdict)[0]
    return cid, [v for v in ('yes', 'partly', 'no') if v != verdict][0]


def test_records_agree_with_the_roles():
    catalog = gen_docs.load_catalog()
    judged = gen_docs.judgements(catalog, callback=CALLBACK)
    assert gen_docs.disagreements(catalog, judged) == []
    assert set(v[0] for v in judged.values()) == {'yes', 'partly', 'no'}


@pytest.mark.parametrize('verdict', ['yes', 'partly', 'no'])
def test_a_record_that_disagrees_with_the_roles_is_named(verdict):
    catalog = gen_docs.load_catalog()
    judged = gen_docs.judgements(catalog, callback=CALLBACK)
    cid, stated = _flipped(judged, verdict)
    messages = gen_docs.disagreements(_Records(catalog, cid, stated), judged)
    assert len(messages) == 1
    assert messages[0].startswith('%s: the catalog record says check_mode: %s, ' % (cid, stated))
    assert 'give %s' % verdict in messages[0] and '%s.yml' % catalog.BY_ID[cid]['area'] in messages[0]


def test_docs_show_the_records_value():
    catalog = gen_docs.load_catalog()
    judged = gen_docs.judgements(catalog, callback=CALLBACK)
    cid, stated = _flipped(judged, 'yes')
    text = gen_docs.render(_Records(catalog, cid, stated), judged, CALLBACK)
    row = [line for line in text.splitlines() if line.startswith('| %s | ' % cid)][0]
    assert row.rstrip().endswith('| %s |' % stated)
    assert '### %s:' % cid in text
    section = text.split('### %s:' % cid, 1)[1].split('###', 1)[0]
    assert '**Judged by the roles in check mode:** %s ' % stated in section


@pytest.mark.parametrize('verdict', ['yes', 'no'])
def test_check_fails_naming_the_control_when_a_record_disagrees(tmp_path, monkeypatch, capsys, verdict):
    catalog = gen_docs.load_catalog()
    judged = gen_docs.judgements(catalog, callback=CALLBACK)
    args = ['--output', str(tmp_path / 'controls.md'), '--oscal-output', str(tmp_path / 'component-definition.json')]
    assert gen_docs.main(args) == 0
    assert gen_docs.main(['--check'] + args) == 0
    cid, stated = _flipped(judged, verdict)
    monkeypatch.setattr(gen_docs, 'load_catalog', lambda: _Records(catalog, cid, stated))
    capsys.readouterr()
    # the written files show the record: regenerated they are current, and still the check fails
    assert gen_docs.main(args) == 1
    assert gen_docs.main(['--check'] + args) == 1
    err = capsys.readouterr().err
    assert '%s: the catalog record says check_mode: %s' % (cid, stated) in err
    assert 'out of date' not in err
