# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mgmt_plane firewall and sshd changes report what happened and what holds, whichever step failed.

roles/mgmt_plane/tasks/firewall.yml loads table inet hvsec_mgmt in a block (write the rollback
ruleset, arm the rollback timer, load, reconnect, cancel the timer, persist) whose rescue reports
the failure. This test runs that rescue, taken from the role file as it is, after a block with the
role's own step names in which one step fails (a local command that exits 1), once per step, on
local hosts: the message must name the step and say what the host runs now. Nothing touches
nftables or systemd.

roles/mgmt_plane/tasks/sshd.yml reloads sshd in a block (arm the rollback timer, reload, new login,
confirm) whose rescue rolls back and reports. Its report task is taken from the role file as it is,
with the role's vars/main.yml; the block's steps and the rescue's other tasks (which restore files,
wait for a login and start systemd units) are simulated under their own names and registered
variables, each case choosing the failed step, whether a new login works after the rollback and
whether the timer was still waiting. The whole message is pinned per case.

Run with `make e2e`, or `.venv/bin/pytest tests/e2e/test_mgmt_rescue.py`.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
FIREWALL = os.path.join(ROOT, 'roles', 'mgmt_plane', 'tasks', 'firewall.yml')
SSHD = os.path.join(ROOT, 'roles', 'mgmt_plane', 'tasks', 'sshd.yml')
ROLE_VARS = os.path.join(ROOT, 'roles', 'mgmt_plane', 'vars', 'main.yml')
BLOCK = 'HVS-MGMT-18 | Load with automatic rollback, confirm from a new connection, persist'

# The failing step (start of its name without the control ID) and what the message must say.
CASES = {
    'Write the rollback ruleset': ['Nothing was loaded', 'the running table inet hvsec_mgmt is unchanged',
                                   'nothing was persisted'],
    'Arm the automatic rollback': ['Nothing was loaded', 'the running table inet hvsec_mgmt is unchanged'],
    'Load table inet hvsec_mgmt': ['the running table inet hvsec_mgmt is unchanged', 'nothing was persisted',
                                   're-loads that same table within 240 s'],
    'Open a new connection': ['could not be confirmed', 'within 120 s',
                              'restores the previous table at most 240 s after it was armed', 'nothing was persisted'],
    'Confirm: cancel the rollback': ['A new connection came through the new table',
                                     'restores the previous table at most 240 s', 'Run the role again'],
    'Persist the confirmed table': ['The new table is loaded and confirmed', 'was not persisted to /etc/hvsec/hvsec_mgmt.nft',
                                    'until the next boot', 'Run the role again'],
}
# Claims that would be false after the step failed.
FALSE_CLAIMS = {
    'Write the rollback ruleset': ['restores the previous table', 'was loaded but'],
    'Arm the automatic rollback': ['restores the previous table', 'was loaded but'],
    'Load table inet hvsec_mgmt': ['restores the previous table', 'was loaded but'],
    'Persist the confirmed table': ['restores the previous table', 'nothing was persisted'],
}


def _block(path=FIREWALL, name=BLOCK):
    with open(path) as handle:
        tasks = yaml.safe_load(handle)
    found = [t for t in tasks if t.get('name') == name]
    assert len(found) == 1, 'no task %r in %s' % (name, path)
    return found[0]


def _playbook(work, hosts, play):
    """Run ``play`` over the local ``hosts``; {host: the message of its failure}."""
    (work / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': hosts}}))
    (work / 'play.yml').write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_STDOUT_CALLBACK='default',
               ANSIBLE_CALLBACK_RESULT_FORMAT='json', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_FORKS='6', ANSIBLE_CACHE_PLUGIN='memory', ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', str(work / 'inventory.yml'), str(work / 'play.yml')],
                          cwd=str(work), env=env, capture_output=True, text=True, timeout=600, check=False)
    messages = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'^fatal: \[(\w+)\]: FAILED! => (\{.*\})$', line)
        if m:
            messages[m.group(1)] = json.loads(m.group(2)).get('msg', '')
    return proc, messages


def _step(name):
    return re.sub(r'^HVS-MGMT-18 \| ', '', name)


@pytest.fixture(scope='module')
def rescue_run(tmp_path_factory):
    """One playbook run: one local host per case, each failing at its step of the role's block."""
    block = _block()
    steps = [_step(t['name']) for t in block['block']]
    hosts = {}
    for index, step in enumerate(steps):
        case = [c for c in CASES if step.startswith(c)]
        if case:
            hosts['case%d' % index] = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                                       'hvsec_test_fail_at': index, 'hvsec_test_case': case[0]}
    assert sorted(h['hvsec_test_case'] for h in hosts.values()) == sorted(CASES), \
        'the block %r no longer has the steps this test expects: %s' % (BLOCK, steps)
    simulated = [{'name': t['name'], 'ansible.builtin.command': {'argv': ['/bin/sh', '-c', 'echo simulated failure >&2; exit 1']},
                  'changed_when': False, 'when': 'hvsec_test_fail_at | int == %d' % index}
                 for index, t in enumerate(block['block'])]
    play = [{'name': 'Firewall rescue', 'hosts': 'all', 'gather_facts': False,
             'vars': {'_hvsec_mgmt_in': {'hvsec_mgmt_plane_firewall_rollback_seconds': 240,
                                         'hvsec_mgmt_plane_firewall_confirm_timeout': 120},
                      '_hvsec_mgmt_fw_persisted': '/etc/hvsec/hvsec_mgmt.nft'},
             'tasks': [{'name': 'Firewall change', 'block': simulated, 'rescue': block['rescue']}]}]
    proc, by_host = _playbook(tmp_path_factory.mktemp('mgmt_rescue'), hosts, play)
    return proc, dict((hosts[host]['hvsec_test_case'], msg) for host, msg in by_host.items())


@pytest.mark.parametrize('case', sorted(CASES))
def test_firewall_rescue_says_what_happened(case, rescue_run):
    proc, messages = rescue_run
    assert proc.returncode != 0, proc.stdout[-3000:]
    msg = messages.get(case)
    assert msg is not None, 'no failure reported for %s:\n%s%s' % (case, proc.stdout[-3000:], proc.stderr[-2000:])
    assert msg.startswith('The management firewall change failed at "%s' % case), msg
    assert '(simulated failure)' in msg, msg
    for fragment in CASES[case]:
        assert fragment in msg, '%r not in the message after %r failed: %s' % (fragment, case, msg)
    for claim in FALSE_CLAIMS.get(case, []):
        assert claim not in msg, 'false claim %r after %r failed: %s' % (claim, case, msg)


# ----------------------------------------------------------------------------------------- sshd

SSHD_BLOCK = ('HVS-MGMT-13 HVS-MGMT-14 HVS-MGMT-15 HVS-MGMT-16 HVS-MGMT-17 | '
              'Reload sshd and prove a new login, with automatic rollback')
SSHD_REPORT = 'Report the rolled-back sshd change'
DROPIN = '/etc/ssh/sshd_config.d/00-hvsec.conf'
# case: (the block step that fails, a new login works after the rollback, the timer still waiting
# when the host answered again), and the whole message. The sshd timing (300 s, 45 s) differs from
# the firewall's (240 s, 120 s): the message must name the sshd's.
SSHD_CASES = {
    'not_armed': (('Arm the automatic sshd rollback', False, False),
                  'sshd: the rollback timer could not be armed (simulated failure); the previous %s was restored and '
                  'sshd was not reloaded. Nothing of the sshd change remains.' % DROPIN),
    'timer_fired': (('Confirm before the rollback fired', True, False),
                    'sshd: no new login was confirmed after the reload (the rollback timer fired before a new login '
                    'confirmed the change; raise hvsec_mgmt_plane_sshd_rollback_seconds). The change was rolled back: '
                    'the previous %s is back and sshd was reloaded (by the timer hvsec-mgmt-sshd-rollback, 300 s after '
                    'it was armed). A new login works again.' % DROPIN),
    'role_rolled_back': (('Reload sshd with the new drop-in', True, True),
                         'sshd: no new login was confirmed after the reload (simulated failure). The change was rolled '
                         'back: the previous %s is back and sshd was reloaded (by the role, as the host answered again '
                         'before the timer fired). A new login works again.' % DROPIN),
    'no_login': (('Prove the controller can still log in', False, False),
                 'sshd: no new login was confirmed after the reload (simulated failure). The change was rolled back: '
                 'the previous %s is back and sshd was reloaded (by the timer hvsec-mgmt-sshd-rollback, 300 s after it '
                 'was armed). No new login worked within 345 s after that either: check the host on its console.' % DROPIN),
}
# The rescue's tasks before the report, by the start of their name: what the simulation does. The
# wait for a new login fails when the case says no login works; the timer query says whether the
# timer was still waiting.
SSHD_RESCUE_SIMULATED = {
    'Restore the previous drop-in now': "{{ ['true'] }}",
    'Wait for the automatic rollback': "{{ ['true'] if hvsec_test_back else ['/bin/sh', '-c', 'exit 1'] }}",
    'Find whether the rollback has run': "{{ ['echo', 'active' if hvsec_test_timer_left else 'inactive'] }}",
    'Roll back now': "{{ ['true'] }}",
}


def _sshd_step(name):
    return re.sub(r'^(HVS-MGMT-[0-9]+ )+\| ', '', name)


def _simulated(task, argv):
    """``task`` as a local command running ``argv``, with its name, condition and registered variable."""
    out = {'name': task['name'], 'ansible.builtin.command': {'argv': argv}, 'changed_when': False}
    for key in ('register', 'when', 'ignore_errors', 'failed_when'):
        if key in task:
            out[key] = task[key]
    return out


@pytest.fixture(scope='module')
def sshd_rescue_run(tmp_path_factory):
    """One playbook run: one local host per case, each failing at its step of the role's sshd block."""
    block = _block(SSHD, SSHD_BLOCK)
    steps = [_sshd_step(t['name']) for t in block['block']]
    hosts = {}
    for case, ((step, back, timer_left), dummy) in sorted(SSHD_CASES.items()):
        index = [i for i, name in enumerate(steps) if name.startswith(step)]
        assert len(index) == 1, 'the block %r no longer has the step %r: %s' % (SSHD_BLOCK, step, steps)
        hosts[case] = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                       'hvsec_test_fail_at': index[0], 'hvsec_test_back': back, 'hvsec_test_timer_left': timer_left}
    fail = ['/bin/sh', '-c', 'echo simulated failure >&2; exit 1']
    simulated = [_simulated(t, "{{ %s if hvsec_test_fail_at | int == %d else ['true'] }}" % (json.dumps(fail), index))
                 for index, t in enumerate(block['block'])]
    rescue = []
    for task in block['rescue']:
        step = _sshd_step(task['name'])
        if step == SSHD_REPORT:
            rescue.append(task)
            continue
        argv = [v for k, v in SSHD_RESCUE_SIMULATED.items() if step.startswith(k)]
        assert len(argv) == 1, 'the rescue of %r has a task this test does not simulate: %r' % (SSHD_BLOCK, step)
        rescue.append(_simulated(task, argv[0]))
    assert _sshd_step(rescue[-1]['name']) == SSHD_REPORT, rescue[-1]['name']
    play = [{'name': 'sshd rescue', 'hosts': 'all', 'gather_facts': False, 'vars_files': [ROLE_VARS],
             'vars': {'_hvsec_mgmt_in': {'hvsec_mgmt_plane_sshd_rollback_seconds': 300,
                                         'hvsec_mgmt_plane_sshd_confirm_timeout': 45,
                                         'hvsec_mgmt_plane_firewall_rollback_seconds': 240,
                                         'hvsec_mgmt_plane_firewall_confirm_timeout': 120}},
             'tasks': [{'name': 'sshd change', 'block': simulated, 'rescue': rescue}]}]
    return _playbook(tmp_path_factory.mktemp('mgmt_sshd_rescue'), hosts, play)


@pytest.mark.parametrize('case', sorted(SSHD_CASES))
def test_sshd_rescue_says_what_happened(case, sshd_rescue_run):
    proc, messages = sshd_rescue_run
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert case in messages, 'no failure reported for %s:\n%s%s' % (case, proc.stdout[-3000:], proc.stderr[-2000:])
    assert messages[case] == SSHD_CASES[case][1]
