# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mgmt_plane firewall change reports what happened and what holds, whichever step failed.

roles/mgmt_plane/tasks/firewall.yml loads table inet hvsec_mgmt in a block (write the rollback
ruleset, arm the rollback timer, load, reconnect, cancel the timer, persist) whose rescue reports
the failure. This test runs that rescue, taken from the role file as it is, after a block with the
role's own step names in which one step fails (a local command that exits 1), once per step, on
local hosts: the message must name the step and say what the host runs now. Nothing touches
nftables or systemd. Run with `make e2e`, or `.venv/bin/pytest tests/e2e/test_mgmt_rescue.py`.
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
FIREWALL = os.path.join(ROOT, 'roles', 'mgmt_plane', 'tasks', 'firewall.yml')
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


def _block():
    with open(FIREWALL) as handle:
        tasks = yaml.safe_load(handle)
    found = [t for t in tasks if t.get('name') == BLOCK]
    assert len(found) == 1, 'no task %r in %s' % (BLOCK, FIREWALL)
    return found[0]


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
    work = tmp_path_factory.mktemp('mgmt_rescue')
    (work / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': hosts}}))
    (work / 'play.yml').write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_STDOUT_CALLBACK='default',
               ANSIBLE_CALLBACK_RESULT_FORMAT='json', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_FORKS='6', ANSIBLE_CACHE_PLUGIN='memory')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', str(work / 'inventory.yml'), str(work / 'play.yml')],
                          cwd=str(work), env=env, capture_output=True, text=True, timeout=600, check=False)
    messages = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'^fatal: \[(\w+)\]: FAILED! => (\{.*\})$', line)
        if m:
            messages[hosts[m.group(1)]['hvsec_test_case']] = json.loads(m.group(2)).get('msg', '')
    return proc, messages


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
