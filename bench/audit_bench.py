# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the audit: wall time per host and remote module invocations per host.

    python bench/audit_bench.py [--runs N] [--inventory FILE] [--playbook FILE] [--oscal off|on|both]  (make bench)

--playbook times another audit playbook, e.g. bench/variants/per_host_tasks.yml (the former
per-host evaluation, report and gate tasks) to compare with playbooks/audit.yml.

--oscal on runs the audit with hvsec_audit_oscal=true (it also writes audit.oscal.json, which
imports compliance-trestle); --oscal both alternates runs without and with it (N of each) and
prints both series, so the two see the same machine load.

Timing: N plain runs of `ansible-playbook playbooks/audit.yml` (as `make audit` does), wall
clock per run divided by the number of hosts, and the CPU time (user+sys) of all processes of
the run, which depends much less on what else the machine is doing. The 1-minute load average
is printed next to every run. The minimum of the runs is the figure least disturbed by other
work on the machine; the median is printed too.

Floor: the same number of runs of `ansible-playbook --version` (Python and Ansible start-up) and
of an empty play against the same inventory (plus inventory, playbook and plugin loading): what
no change to this collection can take away.

Remote invocations: one extra run at -vvv. Ansible logs every command it executes through a
host's connection as `<HOST> EXEC ...`, and every module it ships as an `AnsiballZ_<module>.py`
payload (or, with pipelining, a `PUT`-less EXEC of the interpreter). We count, per host, the
EXEC lines that start a Python interpreter, i.e. module executions; controller-side action
plugins (audit_report, add_host, fail) execute nothing on the host and do not appear.
Results go to bench/results/audit-<timestamp>.json (git-ignored).
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
BIN = os.path.dirname(sys.executable)
RESULTS = os.path.join(ROOT, 'bench', 'results')
# The local connection logs `<HOST> EXEC cmd`, the ssh connection `<HOST> SSH: EXEC ssh ... cmd`.
EXEC_RE = re.compile(r'^<(?P<host>[^>]+)> (?:SSH: )?EXEC (?P<cmd>.*)$')
# A module execution: the interpreter run on an AnsiballZ payload, or (pipelining) the bare
# interpreter reading the payload from stdin. mkdir/chmod/rm housekeeping does not count.
MODULE_RE = re.compile(r"python[0-9.]*(?: +(?P<payload>\S*AnsiballZ_(?P<module>\w+)\.py))? *(?:&&|'|$)")
TASK_RE = re.compile(r'^(?:TASK|RUNNING HANDLER) \[(?P<name>.*?)\]')


def _env(tmp):
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_CACHE_PLUGIN_CONNECTION=os.path.join(tmp, 'factcache'), ANSIBLE_VERBOSE_TO_STDERR='False')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    return env


OSCAL_ON = ('-e', 'hvsec_audit_oscal=true')

EMPTY_PLAY = """- name: Empty play (start-up floor)
  hosts: all
  gather_facts: false
  tasks: []
"""


def run_audit(inventory, tmp, verbose=False, extra=(), playbook=None):
    if playbook == '--version':
        cmd = [os.path.join(BIN, 'ansible-playbook'), '--version']
    else:
        cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory,
               playbook or os.path.join(ROOT, 'playbooks', 'audit.yml'),
               '-e', 'hvsec_audit_report_dir=%s' % os.path.join(tmp, 'reports')] + list(extra)
    if verbose:
        cmd.append('-vvv')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp, env=_env(tmp), capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, cpu, proc.stdout + proc.stderr


def count_invocations(output):
    """{host: {'module_execs': n, 'execs': n, 'by_task': {task: n}}} from -vvv output.

    ``execs`` counts every remote command (housekeeping included), ``module_execs`` only the
    module executions.
    """
    counts = {}
    task = None
    for line in output.splitlines():
        match = TASK_RE.match(line)
        if match:
            task = match.group('name')
            continue
        match = EXEC_RE.match(line.strip())
        if not match:
            continue
        host, cmd = match.group('host'), match.group('cmd')
        entry = counts.setdefault(host, {'module_execs': 0, 'execs': 0, 'by_task': {}})
        entry['execs'] += 1
        if MODULE_RE.search(cmd):
            entry['module_execs'] += 1
            entry['by_task'][task] = entry['by_task'].get(task, 0) + 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--inventory', default=os.path.join(ROOT, 'playbooks', 'inventory', 'localhost.yml'))
    parser.add_argument('--playbook', default=os.path.join(ROOT, 'playbooks', 'audit.yml'),
                        help='an audit playbook that writes reports/audit.json')
    parser.add_argument('--oscal', choices=('off', 'on', 'both'), default='off',
                        help='write audit.oscal.json too (on), or alternate runs without and with it (both)')
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error('--runs must be at least 1')

    with tempfile.TemporaryDirectory(prefix='hvsec-bench-') as tmp:
        walls = []
        cpus = []
        loads = []
        hosts = None
        modes = {'off': [False], 'on': [True], 'both': [False, True]}[args.oscal]
        series = dict((mode, {'wall': [], 'cpu': []}) for mode in modes)
        for index in range(args.runs):
            for oscal in modes:
                load = os.getloadavg()[0]
                oscal_file = os.path.join(tmp, 'reports', 'audit.oscal.json')
                if os.path.exists(oscal_file):
                    os.unlink(oscal_file)
                rc, wall, cpu, output = run_audit(args.inventory, tmp, playbook=os.path.abspath(args.playbook),
                                                  extra=OSCAL_ON if oscal else ())
                if rc != 0:
                    print(output[-3000:])
                    print('run %d failed (rc=%d)' % (index + 1, rc), file=sys.stderr)
                    return 1
                if os.path.exists(oscal_file) != oscal:
                    print('run %d: audit.oscal.json %s' % (index + 1, 'missing' if oscal else 'written unasked'),
                          file=sys.stderr)
                    return 1
                with open(os.path.join(tmp, 'reports', 'audit.json')) as handle:
                    hosts = sorted(json.load(handle)['hosts'])
                series[oscal]['wall'].append(wall)
                series[oscal]['cpu'].append(cpu)
                if oscal == modes[-1]:
                    walls.append(wall)
                    cpus.append(cpu)
                loads.append(load)
                print('run %d%s: %.2f s wall, %.2f s CPU (user+sys of all processes), %d host(s), %.2f s wall per host'
                      ' (load average %.2f)' % (index + 1, ' with OSCAL' if oscal else '', wall, cpu, len(hosts),
                                                wall / len(hosts), load))
        empty = os.path.join(tmp, 'empty.yml')
        with open(empty, 'w') as handle:
            handle.write(EMPTY_PLAY)
        floor = {}
        for name, playbook in (('version', '--version'), ('empty_play', empty)):
            times = []
            for dummy in range(args.runs):
                rc, wall, cpu, output = run_audit(args.inventory, tmp, playbook=playbook)
                if rc != 0:
                    print(output[-3000:])
                    return 1
                times.append(wall)
            floor[name] = {'wall_min_s': round(min(times), 3), 'wall_median_s': round(statistics.median(times), 3)}
        rc, dummy, dummy, output = run_audit(args.inventory, tmp, verbose=True, playbook=os.path.abspath(args.playbook),
                                             extra=OSCAL_ON if modes[-1] else ())
        if rc != 0:
            print(output[-3000:])
            return 1
        counts = count_invocations(output)

    per_host = dict((h, counts.get(h, {'module_execs': 0, 'execs': 0, 'by_task': {}})) for h in hosts)
    result = {
        'generated_at': datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        'inventory': os.path.relpath(args.inventory, ROOT),
        'playbook': os.path.relpath(os.path.abspath(args.playbook), ROOT),
        'hosts': len(hosts),
        'runs': args.runs,
        'cpu_count': os.cpu_count(),
        'loadavg_1m': os.getloadavg()[0],
        'wall_s': [round(w, 3) for w in walls],
        'loadavg_1m_before_each_run': [round(x, 2) for x in loads],
        'wall_min_s': round(min(walls), 3),
        'wall_median_s': round(statistics.median(walls), 3),
        'wall_per_host_min_s': round(min(walls) / len(hosts), 3),
        'wall_per_host_median_s': round(statistics.median(walls) / len(hosts), 3),
        'floor': floor,
        'cpu_s': [round(c, 3) for c in cpus],
        'cpu_median_s': round(statistics.median(cpus), 3),
        'remote_invocations': per_host,
        'oscal': args.oscal,
    }
    if args.oscal == 'both':
        result['oscal_comparison'] = dict(
            ('with_oscal' if oscal else 'without_oscal',
             {'wall_s': [round(w, 3) for w in data['wall']], 'wall_min_s': round(min(data['wall']), 3),
              'wall_median_s': round(statistics.median(data['wall']), 3),
              'cpu_s': [round(c, 3) for c in data['cpu']], 'cpu_median_s': round(statistics.median(data['cpu']), 3)})
            for oscal, data in series.items())
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, 'audit-%s.json' % datetime.datetime.now().strftime('%Y%m%dT%H%M%S'))
    with open(path, 'w') as handle:
        json.dump(result, handle, indent=2)
    print('min %.2f s / median %.2f s wall (%.2f / %.2f s per host), %.2f s CPU median, over %d run(s); '
          'load average %.2f-%.2f during the runs on %d CPUs'
          % (result['wall_min_s'], result['wall_median_s'], result['wall_per_host_min_s'],
             result['wall_per_host_median_s'], result['cpu_median_s'], args.runs, min(loads), max(loads),
             result['cpu_count']))
    for key, data in sorted(result.get('oscal_comparison', {}).items(), reverse=True):
        print('%s: min %.2f s / median %.2f s wall, %.2f s CPU median' % (
            key.replace('_', ' '), data['wall_min_s'], data['wall_median_s'], data['cpu_median_s']))
    print('floor: ansible-playbook --version %.2f s, empty play %.2f s (min of %d; medians %.2f s, %.2f s)'
          % (floor['version']['wall_min_s'], floor['empty_play']['wall_min_s'], args.runs,
             floor['version']['wall_median_s'], floor['empty_play']['wall_median_s']))
    for host, entry in sorted(per_host.items()):
        print('%s: %d remote module invocation(s) %s, %d remote command(s) in total'
              % (host, entry['module_execs'], json.dumps(entry['by_task']), entry['execs']))
    print('results: %s' % os.path.relpath(path, ROOT))
    ok = all(e['module_execs'] == 1 for e in per_host.values())
    if not ok:
        print('TARGET MISSED: expected exactly one remote module invocation per host', file=sys.stderr)
    return 0 if ok else 2


if __name__ == '__main__':
    sys.exit(main())
