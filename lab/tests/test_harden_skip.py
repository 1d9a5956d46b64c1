# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enforcement at audit cost on the lab (issue 19), after converge hardened it.

- A first playbooks/harden.yml run with a controller state of its own (HVSEC_HARDEN_STATE_DIR,
  empty) is a full run (no recorded variables) and changes nothing; it records the variables.
- The next run makes at most 3 remote module executions on the host (counted from -vvv output as
  bench/audit_bench.py counts them) and changes nothing (its wall time against the audit's is
  measured by bench/harden_bench.py, not asserted in a test).
- KSM switched back on by hand: a --check run predicts changes only in HVS-IOMMU-13 tasks and
  changes nothing; the next run executes modules only for the facts and the HVS-IOMMU-13 tasks, turns KSM off, and the audit passes HVS-IOMMU-13 again.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import sys
import tempfile
import time

import pytest

from conftest import REPO, hardened_areas, lab_dir, lab_inventory, lab_vars, run_ansible, runs_roles

sys.path.insert(0, os.path.join(REPO, 'bench'))
from audit_bench import count_invocations  # noqa: E402  pylint: disable=wrong-import-position

if lab_inventory() is None:
    pytest.skip('no lab inventory (HVSEC_LAB_INVENTORY or %s/inventory.yml): start the lab with make lab-up'
                % lab_dir(), allow_module_level=True)

HARDEN = '- ansible.builtin.import_playbook: hvsec.hypervisor.harden\n'
AUDIT = '- ansible.builtin.import_playbook: hvsec.hypervisor.audit\n'
FACTS_TASK = 'Gather hypervisor facts once for every role'
TASK_LINE = re.compile(r'^TASK \[(.*)\] \*+$')


@pytest.fixture(scope='module')
def state_dir():
    return tempfile.mkdtemp(prefix='hvsec-harden-state-')


def harden(state, verbose=False, check=False):
    """(rc, changed, output, wall seconds) of harden.yml on the lab with the lab's variables."""
    env = {'HVSEC_HARDEN_STATE_DIR': state}
    if verbose:
        # -vvv lines on stdout, in order with the TASK headers they belong to (Molecule's
        # environment may send them to stderr, which would lose the order).
        env.update(ANSIBLE_VERBOSITY='3', ANSIBLE_VERBOSE_TO_STDERR='False')
    start = time.monotonic()
    rc, changed, out = run_ansible(playbook=HARDEN, extra=lab_vars(), env_extra=env, check=check)
    return rc, changed, out, time.monotonic() - start


def changed_tasks(out):
    """Names of the tasks the default callback reports as changed on a host."""
    names, task = [], None
    for line in out.splitlines():
        match = TASK_LINE.match(line)
        if match:
            task = match.group(1)
        elif line.startswith('changed: [') and task not in names:
            names.append(task)
    return names


def audit():
    """(audit.json document, wall seconds)."""
    d = tempfile.mkdtemp(prefix='hvsec-lab-audit-')
    start = time.monotonic()
    rc, dummy, out = run_ansible(playbook=AUDIT, extra=dict(lab_vars(), hvsec_audit_report_dir=d))
    wall = time.monotonic() - start
    assert rc == 0, out[-3000:]
    with open(os.path.join(d, 'audit.json')) as f:
        return json.load(f), wall


def statuses(document, areas=None):
    """{control ID: status} of the one host, of the controls of ``areas`` only when given."""
    (dummy, data), = document['hosts'].items()
    return dict((c['id'], c['status']) for c in data['controls'] if areas is None or c['area'] in areas)


def module_tasks(out):
    """{task name: module executions} of the one lab host, from -vvv output."""
    counts = count_invocations(out)
    assert len(counts) == 1, 'expected one host in the -vvv output: %s' % sorted(counts)
    return list(counts.values())[0]['by_task']


@pytest.fixture(scope='module')
def all_areas():
    wanted = {'iommu', 'vfio', 'vswitch', 'mgmt_plane'}
    if hardened_areas() != wanted:
        pytest.skip('the lab hardens %s, not every area' % sorted(hardened_areas()))
    return wanted


@runs_roles
def test_first_run_without_a_record_is_full_and_changes_nothing(all_areas, state_dir):
    rc, changed, out, wall = harden(state_dir, verbose=True)
    assert rc == 0, out[-4000:]
    assert changed == 0, out[-4000:]
    assert sorted(os.listdir(state_dir)) != [], 'the complete run recorded nothing'
    executions = sum(module_tasks(out).values())
    print('full run: %.1f s, %d module executions' % (wall, executions))
    # Nothing recorded: every role works on every control (its tasks contact the host).
    assert executions > 3 * len(all_areas), module_tasks(out)


@runs_roles
def test_second_run_costs_what_an_audit_costs(all_areas, state_dir):
    document, audit_wall = audit()
    # Compliant: nothing of the hardened areas fails or is unknown (controls whose policy is off are
    # not_applicable). Areas without a role (boot: Secure Boot, TPM on this BIOS lab) are audit-only.
    assert [c for c, s in statuses(document, all_areas).items() if s in ('fail', 'error')] == [], \
        statuses(document, all_areas)
    rc, changed, out, dummy = harden(state_dir, verbose=True)
    assert rc == 0 and changed == 0, out[-4000:]
    tasks = module_tasks(out)
    print('remote module executions: %s' % tasks)
    assert sum(tasks.values()) <= 3, tasks
    rc, changed, out, wall = harden(state_dir)
    assert rc == 0 and changed == 0, out[-4000:]
    # Wall time is measured by bench/harden_bench.py (make bench-harden), not asserted here.
    print('audit %.1f s, harden %.1f s' % (audit_wall, wall))


@runs_roles
def test_drifted_ksm_runs_only_its_tasks_and_is_fixed(host, all_areas, state_dir):
    host.run_expect([0], 'echo 1 > /sys/kernel/mm/ksm/run')
    try:
        document, dummy = audit()
        assert statuses(document)['HVS-IOMMU-13'] == 'fail'
        # Check mode predicts the skipping run: only the drifted control's tasks would change.
        rc, changed, out, dummy = harden(state_dir, check=True)
        assert rc == 0 and changed >= 1, out[-4000:]
        predicted = changed_tasks(out)
        assert predicted and [t for t in predicted if 'HVS-IOMMU-13' not in t] == [], predicted
        assert host.file('/sys/kernel/mm/ksm/run').content_string.strip() == '1', 'check mode changed KSM'
        rc, changed, out, dummy = harden(state_dir, verbose=True)
        assert rc == 0, out[-4000:]
        tasks = module_tasks(out)
        print('remote module executions: %s' % tasks)
        other = [t for t in tasks if FACTS_TASK not in t and 'HVS-IOMMU-13' not in t]
        assert other == [], tasks
        assert [t for t in tasks if 'HVS-IOMMU-13' in t], tasks
        assert changed >= 1, out[-4000:]
        assert host.file('/sys/kernel/mm/ksm/run').content_string.strip() == '0'
        document, dummy = audit()
        assert [c for c, s in statuses(document, all_areas).items() if s in ('fail', 'error')] == [], \
            statuses(document, all_areas)
    finally:
        host.run('echo 0 > /sys/kernel/mm/ksm/run')
