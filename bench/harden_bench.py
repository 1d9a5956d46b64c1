# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark hardening at audit cost on a hardened lab VM: audit, full and skipping harden re-runs.

    python bench/harden_bench.py --inventory LAB_DIR/inventory.yml [--runs N]   (make bench-harden)

The host must be the lab hypervisor after converge (compliant with the lab's variables): `make
bench-harden` boots the lab, prepares and hardens it through the Molecule scenario and then runs
this script (HVSEC_MOLECULE_BENCH=1 in lab/run-molecule.sh). The lab's group variables
(lab/tests/group_vars/hypervisors/*.yml) are passed to every run, as the lab tests pass them.

Three kinds of run, measured in the same invocation, one after the other, N times each:

- audit:        playbooks/audit.yml (one remote module call per host)
- harden full:  playbooks/harden.yml with hvsec_harden_full=true (every task of every role)
- harden skip:  playbooks/harden.yml as it runs by default (only the controls the audit does
                not judge pass; on a compliant host, none)

Before the timed runs one harden run records the variables each role applies (an empty
HVSEC_HARDEN_STATE_DIR of this run: without a record the first run is full). Every harden run
must report changed=0 (the host is compliant); the script fails otherwise. Remote module
executions per host come from one extra run of each kind at -vvv, counted as
bench/audit_bench.py counts them. Wall figures are the minimum and median of the N runs; the
1-minute load average is printed with each run. Results: bench/results/harden-<timestamp>.json.
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from audit_bench import BIN, RESULTS, ROOT, count_invocations

sys.path.insert(0, os.path.join(ROOT, 'lab', 'tests'))
from conftest import lab_vars  # noqa: E402  pylint: disable=wrong-import-position

RECAP_RE = re.compile(r'^\S+\s+:\s+ok=\d+\s+changed=(\d+)', re.M)
KINDS = ('audit', 'harden_full', 'harden_skip')


def command(kind, inventory, varfile, reports, verbose=False):
    playbook = 'audit.yml' if kind == 'audit' else 'harden.yml'
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, os.path.join(ROOT, 'playbooks', playbook),
           '-e', '@' + varfile]
    if kind == 'audit':
        cmd += ['-e', 'hvsec_audit_report_dir=%s' % reports]
    if kind == 'harden_full':
        cmd += ['-e', '{"hvsec_harden_full": true}']
    if verbose:
        cmd.append('-vvv')
    return cmd


def run(cmd, state_dir):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_CACHE_PLUGIN='memory',
               HVSEC_HARDEN_STATE_DIR=state_dir, ANSIBLE_VERBOSE_TO_STDERR='False')
    for var in ('ANSIBLE_CONFIG', 'ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CALLBACKS_ENABLED', 'ANSIBLE_VERBOSITY'):
        env.pop(var, None)
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    output = proc.stdout + proc.stderr
    changed = sum(int(c) for c in RECAP_RE.findall(proc.stdout))
    return proc.returncode, wall, changed, output


def summary(walls):
    return {'wall_s': [round(w, 2) for w in walls], 'wall_min_s': round(min(walls), 2),
            'wall_median_s': round(statistics.median(walls), 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--inventory', required=True, help="the lab's inventory (LAB_DIR/inventory.yml)")
    parser.add_argument('--runs', type=int, default=2)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error('--runs must be at least 1')
    if not os.path.exists(args.inventory):
        parser.error('--inventory %s: no such file (start the lab: make lab-up, or run make bench-harden)'
                     % args.inventory)

    result = {'generated_at': datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
              'runs': args.runs, 'cpu_count': os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix='hvsec-bench-harden-') as tmp:
        varfile = os.path.join(tmp, 'lab-vars.json')
        with open(varfile, 'w') as handle:
            json.dump(lab_vars(), handle)
        state = os.path.join(tmp, 'state')
        os.mkdir(state)
        reports = os.path.join(tmp, 'reports')

        # The record of each role's variables: the first run without one is a full run.
        rc, wall, changed, output = run(command('harden_skip', args.inventory, varfile, reports), state)
        print('recording run: %.1f s, changed=%d (rc %d)' % (wall, changed, rc))
        if rc != 0 or changed != 0:
            print(output[-4000:])
            print('the host is not compliant with the lab variables (rc %d, changed=%d): harden it first'
                  % (rc, changed), file=sys.stderr)
            return 1

        walls = dict((kind, []) for kind in KINDS)
        loads = []
        for index in range(args.runs):
            for kind in KINDS:
                load = os.getloadavg()[0]
                rc, wall, changed, output = run(command(kind, args.inventory, varfile, reports), state)
                if rc != 0 or changed != 0:
                    print(output[-4000:])
                    print('%s run %d: rc %d, changed=%d' % (kind, index + 1, rc, changed), file=sys.stderr)
                    return 1
                walls[kind].append(wall)
                loads.append(load)
                print('run %d %-12s %6.1f s wall (load average %.2f)' % (index + 1, kind, wall, load))

        executions = {}
        for kind in KINDS:
            rc, dummy, changed, output = run(command(kind, args.inventory, varfile, reports, verbose=True), state)
            if rc != 0 or changed != 0:
                print(output[-4000:])
                print('%s -vvv run: rc %d, changed=%d' % (kind, rc, changed), file=sys.stderr)
                return 1
            counts = count_invocations(output)
            if len(counts) != 1:
                print('%s -vvv run: expected one host, found %s' % (kind, sorted(counts)), file=sys.stderr)
                return 1
            executions[kind] = list(counts.values())[0]

    for kind in KINDS:
        result[kind] = dict(summary(walls[kind]), module_execs=executions[kind]['module_execs'],
                            remote_commands=executions[kind]['execs'], by_task=executions[kind]['by_task'])
    audit_min = result['audit']['wall_min_s']
    result['ratio'] = {
        'harden_full_to_audit_wall': round(result['harden_full']['wall_min_s'] / audit_min, 2),
        'harden_skip_to_audit_wall': round(result['harden_skip']['wall_min_s'] / audit_min, 2),
        'harden_full_to_skip_wall': round(result['harden_full']['wall_min_s'] / result['harden_skip']['wall_min_s'], 2),
        'harden_full_to_skip_module_execs': round(
            float(result['harden_full']['module_execs']) / max(result['harden_skip']['module_execs'], 1), 1),
    }
    result['loadavg_1m_before_each_run'] = [round(x, 2) for x in loads]
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, 'harden-%s.json' % datetime.datetime.now().strftime('%Y%m%dT%H%M%S'))
    with open(path, 'w') as handle:
        json.dump(result, handle, indent=2)

    print('%-12s %14s %14s %14s %16s' % ('', 'wall min s', 'wall median s', 'module execs', 'remote commands'))
    for kind in KINDS:
        entry = result[kind]
        print('%-12s %14.1f %14.1f %14d %16d' % (kind, entry['wall_min_s'], entry['wall_median_s'],
                                                 entry['module_execs'], entry['remote_commands']))
    print('ratios (wall min): full/audit %.2f, skip/audit %.2f, full/skip %.2f; module executions full/skip %.1f'
          % (result['ratio']['harden_full_to_audit_wall'], result['ratio']['harden_skip_to_audit_wall'],
             result['ratio']['harden_full_to_skip_wall'], result['ratio']['harden_full_to_skip_module_execs']))
    print('load average %.2f-%.2f during the runs on %d CPUs' % (min(loads), max(loads), result['cpu_count']))
    print('results: %s' % os.path.relpath(path, ROOT))
    ok = result['harden_skip']['module_execs'] <= 3 and result['ratio']['harden_skip_to_audit_wall'] <= 2
    if not ok:
        print('TARGET MISSED: a skipping run should make at most 3 module executions and take at most twice'
              " the audit's wall time", file=sys.stderr)
    return 0 if ok else 2


if __name__ == '__main__':
    sys.exit(main())
