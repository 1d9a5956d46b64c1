# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enforcement at audit cost: a role runs only the tasks of the controls the audit does not judge pass.

- Every task of every role that contacts the host is gated by the role's plan
  (``hvsec.hypervisor.harden_needed`` in its conditions, inherited ones included, naming exactly the
  controls of its tags, or ``'any'`` for a task that serves the whole role), after the plan task;
  the few that must always run are listed here with the reason. A new task cannot forget the gate.
- Against localhost in check mode, over the hardened lab facts (fixture) registered as gathered in
  this run: no role runs any task that contacts the host; with KSM re-enabled in the facts only the
  HVS-IOMMU-13 tasks run; facts not gathered in this run, variables other than those the last
  completed run recorded, or hvsec_harden_full, give a full plan; check mode records nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
BIN = os.path.dirname(sys.executable)
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'harden_skip')
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'plugins', 'plugin_utils', 'fixtures', 'audit')
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import role_tasks  # noqa: E402  pylint: disable=wrong-import-position

TASKS = role_tasks.all_tasks()

# Actions that run on the controller only (no module is sent to the host).
CONTROLLER_ONLY = frozenset([
    'set_fact', 'assert', 'debug', 'fail', 'meta', 'harden_plan', 'audit_evaluate', 'include_role', 'import_role',
])

# Tasks that contact the host and run whatever the plan says, with the reason.
ALWAYS = {
    ('iommu', 'Iommu | Gather hypervisor facts'):
        'the plan judges these facts (skipped when the play gathered them)',
    ('vfio', 'Vfio | Gather hypervisor facts'):
        'the plan judges these facts (skipped when the play gathered them)',
    ('vswitch', 'Vswitch | Gather hypervisor facts once'):
        'the plan judges these facts (skipped when the play gathered them)',
    ('mgmt_plane', 'Mgmt_plane | Gather hypervisor facts (one read-only call)'):
        'the plan judges these facts (skipped when the play gathered them)',
}

GATE = re.compile(r"harden_needed\((?P<args>\[[^\]]*\]|'any')\)")


def _gates(task):
    """The control-ID lists (or 'any') of the harden_needed gates among a task's conditions."""
    out = []
    for cond in task['when']:
        for match in GATE.finditer(str(cond)):
            args = match.group('args')
            out.append('any' if args == "'any'" else re.findall(r'HVS-[A-Z]+-[0-9]+', args))
    return out


@pytest.mark.parametrize('role', sorted(TASKS))
def test_every_task_that_contacts_the_host_is_gated_by_the_plan(role):
    tasks = TASKS[role]
    plan_at = [i for i, t in enumerate(tasks) if t['module'] == 'harden_plan' and not t['args'].get('record')]
    assert len(plan_at) == 1, '%s: one harden_plan task expected, found %d' % (role, len(plan_at))
    assert tasks[plan_at[0]]['args'].get('area') == role
    assert 'always' in tasks[plan_at[0]]['tags']
    # The record of the applied variables is the role's last task.
    assert tasks[-1]['module'] == 'harden_plan' and tasks[-1]['args'].get('record') is True, tasks[-1]['name']
    assert tasks[-1]['args'].get('area') == role and 'always' in tasks[-1]['tags']
    problems = []
    for index, task in enumerate(tasks):
        if task['module'] in CONTROLLER_ONLY:
            continue
        if (role, task['name']) in ALWAYS:
            assert index < plan_at[0], '%s: %s must come before the plan' % (role, task['name'])
            continue
        gates = _gates(task)
        where = '%s: %s (%s, %s)' % (role, task['name'], task['module'], task['file'])
        if not gates:
            problems.append('%s: not gated by hvsec.hypervisor.harden_needed' % where)
            continue
        if index < plan_at[0]:
            problems.append('%s: runs before the plan task' % where)
        if not any(g == 'any' or sorted(g) == sorted(task['controls']) for g in gates):
            problems.append('%s: gate %s does not name the controls of its tags %s' % (where, gates, task['controls']))
    assert problems == []


@pytest.mark.parametrize('role', sorted(TASKS))
def test_handlers_are_notified_only_by_gated_tasks(role):
    for task in TASKS[role]:
        if task['task'].get('notify'):
            assert _gates(task), '%s: %s notifies a handler but is not gated' % (role, task['name'])


def _run(tmp_path, role, facts, register=True, extra=(), tags=None):
    """ansible-playbook of tests/e2e/harden_skip/play.yml in check mode: the task log records."""
    facts_file = tmp_path / 'facts.json'
    facts_file.write_text(json.dumps(facts))
    log = tmp_path / ('tasks-%s.jsonl' % role)
    if log.exists():
        log.unlink()
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
                         '      ansible_python_interpreter: %s\n' % sys.executable)
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / 'factcache'),
               ANSIBLE_CALLBACKS_ENABLED='task_log', ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
               ANSIBLE_LIBRARY=os.path.join(HERE, 'library'), HVSEC_TASK_LOG=str(log),
               HVSEC_HARDEN_STATE_DIR=str(tmp_path / 'state'))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    common = ['-i', str(inventory), '-e', 'hvsec_test_role=%s' % role,
              '-e', '@%s' % os.path.join(FIXTURES, 'settings_hardened.json')] + list(extra)
    if 'hvsec_test_recorded=false' not in extra:
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), os.path.join(HERE, 'record.yml')] + common,
                              cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join(HERE, 'play.yml'), '--check',
           '-e', 'hvsec_test_register=%s' % register, '-e', 'hvsec_test_facts_file=%s' % facts_file] + common
    if tags:
        cmd += ['--tags', tags]
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    with open(str(log)) as handle:
        return [json.loads(line) for line in handle]


def _role_part(records, role):
    prefix = 'hvsec.hypervisor.%s : ' % role
    return [r for r in records if r['name'].startswith(prefix)]


def _host_tasks(records):
    """Tasks that ran (not skipped) and contact the host."""
    return [r['name'].split(' : ', 1)[-1] for r in records
            if r['status'] != 'skipped' and r['action'].rsplit('.', 1)[-1] not in CONTROLLER_ONLY
            and r['action'] != 'ansible.builtin.validate_argument_spec']


def _plans(records):
    return [r['plan'] for r in records if 'plan' in r and r['plan'].get('todo') is not None]


def _facts():
    with open(os.path.join(FIXTURES, 'facts_hardened.json')) as handle:
        return json.load(handle)


@pytest.mark.parametrize('role', sorted(TASKS))
def test_compliant_host_runs_no_task_that_contacts_it(tmp_path, role):
    records = _role_part(_run(tmp_path, role, _facts()), role)
    assert records, 'the role did not run'
    plans = _plans(records)
    assert plans and all(p['todo'] == [] and p['fresh'] and not p['full'] for p in plans)
    assert _host_tasks(records) == []
    assert not [r for r in records if r['changed']]


def test_drifted_ksm_runs_only_its_tasks(tmp_path):
    facts = _facts()
    facts['ksm']['run'] = 1
    records = _role_part(_run(tmp_path, 'iommu', facts), 'iommu')
    assert [p['todo'] for p in _plans(records)] == [['HVS-IOMMU-13']]
    ran = _host_tasks(records)
    assert ran == ['HVS-IOMMU-13 | Keep KSM off at every boot (systemd-tmpfiles)',
                   'HVS-IOMMU-13 HVS-IOMMU-14 HVS-IOMMU-15 | Apply KSM off, nested off and nx_huge_pages now']


@pytest.mark.parametrize('register, extra, reason', [
    (False, (), 'not gathered in this run'),
    (True, ('-e', 'hvsec_harden_full=true'), 'hvsec_harden_full'),
    (True, ('-e', '{"hvsec_harden_full": true}'), 'hvsec_harden_full'),
])
def test_full_plan_without_fresh_facts_or_on_request(tmp_path, register, extra, reason):
    # --tags always: the plan and the validation run, no remediation task (a full run would
    # contact this machine).
    records = _role_part(_run(tmp_path, 'vswitch', _facts(), register=register, extra=extra, tags='always'),
                         'vswitch')
    plans = _plans(records)
    assert plans and all(p['full'] and reason in p['reason'] for p in plans)
    assert all(len(p['todo']) == 12 for p in plans)


def test_other_variables_than_the_last_completed_run_give_a_full_plan(tmp_path):
    # Nothing recorded on this controller: full. Recorded with other variables: full.
    records = _role_part(_run(tmp_path, 'vswitch', _facts(), extra=('-e', 'hvsec_test_recorded=false'),
                              tags='always'), 'vswitch')
    plans = _plans(records)
    assert plans and all(p['full'] and not p['same_input'] and 'variables differ' in p['reason'] for p in plans)
    other = json.dumps({'hvsec_test_recorded_vars': {'hvsec_vswitch_persist': False}})
    records = _role_part(_run(tmp_path, 'vswitch', _facts(), extra=('-e', other), tags='always'), 'vswitch')
    plans = _plans(records)
    assert plans and all(p['full'] and not p['same_input'] for p in plans)
    # The same variables as recorded: the audit's judgement decides.
    records = _role_part(_run(tmp_path, 'vswitch', _facts(), tags='always'), 'vswitch')
    assert [(p['full'], p['same_input'], p['todo']) for p in _plans(records)] == [(False, True, [])]
    # A run with a tag selection applies part of the role: it records nothing.
    last = [r for r in records if r['name'].endswith('Record the variables this run applied (on the controller)')]
    assert [(r['status'], r['plan']['recorded']) for r in last] == [('ok', False)]
    assert '--tags always' in last[0]['plan']['msg']


def test_check_mode_records_nothing(tmp_path):
    records = _run(tmp_path, 'vswitch', _facts())
    last = [r for r in records if r['name'].endswith('Record the variables this run applied (on the controller)')]
    assert [(r['status'], r['plan']['recorded']) for r in last] == [('ok', False)]


def test_harden_full_false_from_the_command_line_is_false(tmp_path):
    records = _role_part(_run(tmp_path, 'vswitch', _facts(), extra=('-e', 'hvsec_harden_full=false'),
                              tags='always'), 'vswitch')
    assert [p['full'] for p in _plans(records)] == [False]


# ------------------------------------------------------------------ playbooks/harden.yml as a whole


def _harden_playbook(tmp_path, facts_file):
    """playbooks/harden.yml against localhost with one change: its facts task reads the test facts."""
    import yaml
    with open(os.path.join(ROOT, 'playbooks', 'harden.yml')) as handle:
        plays = yaml.safe_load(handle)
    assert len(plays) == 1
    first = plays[0]['pre_tasks'][0]
    assert first['register'] == '_hvsec_facts_gathered_harden' and 'hvsec.hypervisor.hypervisor_facts' in first
    del first['hvsec.hypervisor.hypervisor_facts']
    first['hvsec_test_facts'] = {'facts': "{{ lookup('ansible.builtin.file', '%s') | from_json }}" % facts_file}
    plays[0]['hosts'] = 'localhost'
    plays[0]['connection'] = 'local'
    path = tmp_path / 'harden.yml'
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return str(path)


def _run_harden(tmp_path, facts):
    """The harden playbook in check mode after an earlier completed run of every role was recorded."""
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
                         '      ansible_python_interpreter: %s\n' % sys.executable)
    facts_file = tmp_path / 'facts-harden.json'
    facts_file.write_text(json.dumps(facts))
    log = tmp_path / 'tasks-harden.jsonl'
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_CALLBACKS_ENABLED='task_log',
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
               ANSIBLE_LIBRARY=os.path.join(HERE, 'library'), HVSEC_TASK_LOG=str(log),
               HVSEC_HARDEN_STATE_DIR=str(tmp_path / 'state'))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    settings = ['-i', str(inventory), '-e', '@%s' % os.path.join(FIXTURES, 'settings_hardened.json')]
    for role in sorted(TASKS):
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), os.path.join(HERE, 'record.yml'),
                               '-e', 'hvsec_test_role=%s' % role] + settings,
                              cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    cmd = [os.path.join(BIN, 'ansible-playbook'), _harden_playbook(tmp_path, str(facts_file)), '--check'] + settings
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    with open(str(log)) as handle:
        return [json.loads(line) for line in handle]


def _included(records):
    return dict((r['name'].split(' ')[2], r['status']) for r in records if r['name'].startswith('Harden the '))


def test_harden_playbook_leaves_a_compliant_area_out_whole(tmp_path):
    # Recorded runs of every role (same variables), facts gathered in this run, all compliant: no
    # role is included; what runs is the facts call, the validation of every role and the plans.
    records = _run_harden(tmp_path, _facts())
    assert _included(records) == {'iommu': 'skipped', 'vfio': 'skipped', 'vswitch': 'skipped', 'mgmt_plane': 'skipped'}
    assert _host_tasks(records) == ['Gather hypervisor facts once for every role']
    main_tasks = set()
    for role in TASKS:
        main_tasks |= set('hvsec.hypervisor.%s : %s' % (role, t['name']) for t in TASKS[role]
                          if t['module'] == 'harden_plan' and t['args'].get('record'))
    assert not [r for r in records if r['name'] in main_tasks], 'a role main entry point ran'
    # every skipped task costs the controller a worker process: the roles' ~100 are not walked
    assert len([r for r in records if r['status'] == 'skipped']) <= 25, len(records)
    assert not [r for r in records if r['changed']]


def test_harden_playbook_includes_only_the_drifted_area(tmp_path):
    facts = _facts()
    facts['ksm']['run'] = 1
    records = _run_harden(tmp_path, facts)
    assert _included(records) == {'iommu': 'ok', 'vfio': 'skipped', 'vswitch': 'skipped', 'mgmt_plane': 'skipped'}
    assert _host_tasks(records) == [
        'Gather hypervisor facts once for every role',
        'HVS-IOMMU-13 | Keep KSM off at every boot (systemd-tmpfiles)',
        'HVS-IOMMU-13 HVS-IOMMU-14 HVS-IOMMU-15 | Apply KSM off, nested off and nx_huge_pages now']
