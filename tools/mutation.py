# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mutation testing of the plugin code, one area at a time, with mutmut 3 (`make mutation AREA=...`).

Usage: tools/mutation.py --area AREA --root ROOT [--out DIR] [--jobs N]
       tools/mutation.py --area AREA --root ROOT --recheck FILE [--source CHECKOUT] [--out DIR]

ROOT holds a copy of the collection at ROOT/ansible_collections/hvsec/hypervisor (what
`make test-tree TEST_ROOT=ROOT` builds), so that the code imports under its real name
``ansible_collections.hvsec.hypervisor.plugins...``. mutmut copies that tree to ROOT/mutants,
mutates the area's files there, runs the unit tests that import them (found here from their
imports) once to learn which test covers which function, then runs each mutant against only
the tests that cover its function. The summary (score, counts, surviving mutants with their
diffs) goes to OUT/AREA.txt; see docs/testing.md.

``--recheck FILE`` runs the mutants named in FILE (a summary such as OUT/AREA.txt, or one name a
line) again in the mutated tree a run left in ROOT/mutants, against the unit tests of the checkout
(``--source``, copied over the tree's tests/unit): tests written after the run, for its survivors.
Each mutant runs the area's test files in a forked pytest until the first failure; the result goes
to OUT/AREA.recheck.txt.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import collections
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import time

COLL = 'ansible_collections/hvsec/hypervisor'
MU = 'plugins/module_utils/'
PU = 'plugins/plugin_utils/'

# Areas: lists of files (relative to the collection root). One area runs in minutes on 2 cores.
AREAS = {
    # text and XML parsers of host state, pure functions (measured: docs/testing.md)
    'parsers': [MU + name + '.py' for name in (
        'nft', 'netstat', 'procfs', 'domain_xml', 'nwfilter_xml', 'systemd_unit', 'secrets')],
    # parsers of configuration files and tool output that the editors share
    'config-parsers': [MU + name + '.py' for name in (
        'libvirt_conf', 'cmdline', 'sshd', 'ip_link', 'ovs', 'pci', 'sriov', 'netnames')],
    # code that computes and writes edits of host files
    'editors': [MU + name + '.py' for name in (
        'libvirt_conf_edit', 'kernel_args', 'grub_default', 'bootloader', 'sshd_dropin',
        'atomic_file', 'vswitch_bridge', 'vswitch_ovs', 'vswitch_runner')],
    # facts -> per-control results (the audit engine, the evaluators, waivers, settings, the catalog loader)
    'evaluators': [PU + name + '.py' for name in (
        'evaluate', 'eval_common', 'eval_iommu', 'eval_vfio', 'eval_vswitch', 'eval_mgmt_plane', 'eval_boot',
        'waivers', 'settings', 'catalog')],
    # the facts probes run on the host
    'facts': [MU + name + '.py' for name in (
        'hvfacts', 'facts_common', 'facts_host', 'facts_cpu', 'facts_kernel', 'facts_iommu', 'facts_pci',
        'facts_network', 'facts_libvirt', 'facts_mgmt', 'facts_boot', 'files')],
    # report writers
    'reports': [PU + 'report.py', PU + 'report_html.py', PU + 'oscal.py', PU + 'audit_fleet.py',
                'plugins/callback/compliance.py'],
    # every module; audit_evaluate, audit_report and harden_plan are documentation only (their action
    # plugins run them), so they have no mutant
    'modules': ['plugins/modules/' + name + '.py' for name in (
        'hypervisor_facts', 'kernel_cmdline', 'libvirt_config', 'nwfilter_domains', 'bridge_security',
        'ovs_security', 'pci_passthrough', 'sriov_vf', 'sshd_dropin', 'audit_evaluate', 'audit_report',
        'harden_plan')],
    'action': ['plugins/action/audit_evaluate.py', 'plugins/action/audit_report.py', PU + 'audit_action.py'],
    'filters': ['plugins/filter/input_checks.py', 'plugins/filter/mgmt_net.py',
                'plugins/filter/role_checks.py', 'plugins/filter/role_plans.py', 'plugins/lookup/role_input.py'],
}

# mutmut's status words -> counted as killed
KILLED = ('killed', 'timeout', 'caught by type check')


def tests_for(tree, files):
    """Unit test files that import one of ``files`` (by module name), sorted."""
    patterns = []
    for path in files:
        package, name = os.path.split(os.path.splitext(path)[0])
        dotted = package.replace('/', '.')
        patterns.append(re.compile(r'\b%s(?: import (?:[\w]+, )*(?:\(\s*)?(?:[\w]+,\s*)*%s\b|\.%s\b)'
                                   % (re.escape(dotted), name, name)))
    found = []
    for base, _dirs, names in os.walk(os.path.join(tree, 'tests', 'unit')):
        for name in names:
            if not (name.startswith('test_') and name.endswith('.py')):
                continue
            path = os.path.join(base, name)
            with open(path) as handle:
                text = handle.read()
            if any(p.search(text) for p in patterns):
                found.append(os.path.relpath(path, tree))
    return sorted(found)


def write_config(root, files, tests):
    lines = ['[mutmut]', 'source_paths =']
    lines += ['    %s/%s' % (COLL, f) for f in files]
    lines += ['also_copy =', '    ansible_collections/', 'pytest_add_cli_args_test_selection =']
    lines += ['    %s/%s' % (COLL, t) for t in tests]
    lines += ['pytest_add_cli_args =', '    -p', '    no:cacheprovider',
              'use_git_change_detection = false', '']
    with open(os.path.join(root, 'setup.cfg'), 'w') as handle:
        handle.write('\n'.join(lines))


def mutmut(root, *args, **kwargs):
    exe = os.path.join(os.path.dirname(sys.executable), 'mutmut')
    return subprocess.run([exe] + list(args), cwd=root, universal_newlines=True, check=False, **kwargs)


MUTANT_NAME = re.compile('^(?P<module>.+)\\.x(?:_|\u01c1)')


def module_of(name):
    """The module a mutant belongs to: mutmut names a function's mutants ``module.x_func__mutmut_N``
    and a method's ``module.x\u01c1Class\u01c1method__mutmut_N``."""
    match = MUTANT_NAME.match(name)
    return (match.group('module') if match else name).rsplit('.', 1)[-1]


def mutant_diff(root, name, files):
    """The diff of one mutant, from mutmut's own function in this process (a `mutmut show` per
    mutant costs a second of start-up each); from `mutmut show` when that internal API moved."""
    module = module_of(name)
    path = [f for f in files if os.path.splitext(os.path.basename(f))[0] == module]
    cwd = os.getcwd()
    try:
        os.chdir(root)
        from mutmut.mutation.diff_apply import get_diff_for_mutant  # pylint: disable=import-outside-toplevel
        return get_diff_for_mutant(name, path='%s/%s' % (COLL, path[0])).rstrip()
    except Exception:  # pylint: disable=broad-exception-caught
        return mutmut(root, 'show', name, stdout=subprocess.PIPE).stdout.rstrip()
    finally:
        os.chdir(cwd)


NAME_IN_LINE = re.compile(r'^(?:# )?(\S+__mutmut_\d+)\b')


def recheck_names(path):
    """The mutant names of a summary (``# NAME: status`` lines) or of a list (one name a line)."""
    names = []
    with open(path) as handle:
        for line in handle:
            match = NAME_IN_LINE.match(line.strip())
            if match and match.group(1) not in names:
                names.append(match.group(1))
    return names


def recheck(root, names, tests, timeout=300):
    """{name: 'killed' | 'survived' | 'timeout' | 'error N'} of each mutant against ``tests`` (paths
    relative to ROOT/mutants), one forked pytest each, stopping at the first failing test."""
    import pytest  # pylint: disable=import-outside-toplevel
    mutants = os.path.join(root, 'mutants')
    os.chdir(mutants)
    sys.path.insert(0, mutants)
    argv = ['-x', '-q', '--tb=no', '-p', 'no:cacheprovider', '-W', 'ignore'] + tests
    # collected once here: each forked run then finds the test modules imported
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider'] + tests)
    finally:
        os.dup2(saved, 1)
    result = {}
    for name in [''] + names:          # '' first: the tests must pass on the unmutated code
        pid = os.fork()
        if pid == 0:
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.environ['MUTANT_UNDER_TEST'] = name
            signal.alarm(timeout)
            os._exit(int(pytest.main(argv)))  # pylint: disable=protected-access
        status = os.waitpid(pid, 0)[1]
        if os.WIFSIGNALED(status):
            word = 'timeout'
        else:
            word = {0: 'survived', 1: 'killed'}.get(os.WEXITSTATUS(status), 'error %d' % os.WEXITSTATUS(status))
        if not name:
            if word != 'survived':
                raise RuntimeError('the tests fail on the unmutated tree (%s)' % word)
            continue
        result[name] = word
    return result


def commit_of(source, rev):
    try:
        out = subprocess.run(['git', '-C', source, 'rev-parse', '--short', rev or 'HEAD'], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', source, 'status', '--porcelain', '--'], stdout=subprocess.PIPE,
                               universal_newlines=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return out + (' (work tree with uncommitted changes)' if dirty and not rev else '')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--area', required=True, choices=sorted(AREAS))
    parser.add_argument('--root', required=True, help='directory holding ansible_collections/hvsec/hypervisor')
    parser.add_argument('--out', default='tests/output/mutation')
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('--source', default='.', help='the git checkout the tree was copied from')
    parser.add_argument('--report-only', action='store_true', help='summarise the last run in ROOT again')
    parser.add_argument('--recheck', metavar='FILE',
                        help="run the mutants named in FILE again in ROOT/mutants against --source's unit tests")
    parser.add_argument('--rev', default='', help='the commit the tree was extracted from (empty: the work tree)')
    args = parser.parse_args(argv)
    # Resolved now: HEAD may move (a commit in the checkout) while the mutants run.
    commit = commit_of(args.source, args.rev)

    root = os.path.abspath(args.root)
    tree = os.path.join(root, COLL)
    files = AREAS[args.area]
    missing = [f for f in files if not os.path.isfile(os.path.join(tree, f))]
    if missing:
        parser.error('not in %s: %s' % (tree, ', '.join(missing)))
    if args.recheck:
        return main_recheck(args, root, files, commit)
    tests = tests_for(tree, files)
    if not tests:
        parser.error('no unit test imports any file of area %s' % args.area)
    print('mutation: area %s, %d files, %d test files: %s' % (args.area, len(files), len(tests), ' '.join(tests)))
    elapsed = 0
    if not args.report_only:
        shutil.rmtree(os.path.join(root, 'mutants'), ignore_errors=True)
        write_config(root, files, tests)
        started = time.time()
        run = mutmut(root, 'run', '--max-children', str(args.jobs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        elapsed = time.time() - started
        if run.returncode != 0:
            sys.stdout.write(run.stdout[-4000:])
            print('mutation: mutmut run failed (rc %d)' % run.returncode)
            return 2

    listing = mutmut(root, 'results', '--all', 'true', stdout=subprocess.PIPE).stdout
    status = {}
    for line in listing.splitlines():
        name, sep, word = line.strip().rpartition(': ')
        if sep:
            status[name] = word
    counts = collections.Counter(status.values())
    total = sum(n for word, n in counts.items() if word != 'skipped')
    killed = sum(counts[w] for w in KILLED)
    score = 100.0 * killed / total if total else 0.0
    survivors = sorted(n for n, w in status.items() if w not in KILLED and w != 'skipped')

    per_file = collections.defaultdict(lambda: [0, 0])
    for name, word in status.items():
        if word == 'skipped':
            continue
        module = module_of(name)
        per_file[module][1] += 1
        per_file[module][0] += word in KILLED

    out_dir = os.path.abspath(args.out)
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    report = [
        'area: %s' % args.area,
        'date: %s' % datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'commit: %s' % commit,
        'time: %d s (%d parallel mutants)' % (elapsed, args.jobs),
        'mutants: %d, killed %d (%s)' % (total, killed, ', '.join('%s %d' % kv for kv in sorted(counts.items()))),
        'score: %.1f%%' % score,
        'per file: ' + ', '.join('%s %d/%d' % (m, k, t) for m, (k, t) in sorted(per_file.items())),
        'tests: ' + ' '.join(tests),
        '',
        'not killed (%d):' % len(survivors),
    ]
    for name in survivors:
        report.append('# %s: %s' % (name, status[name]))
        report.append(mutant_diff(root, name, files))
        report.append('')
    path = os.path.join(out_dir, '%s.txt' % args.area)
    with open(path, 'w') as handle:
        handle.write('\n'.join(report) + '\n')
    print('\n'.join(report[:8]))
    print('mutation: %d not killed, listed with their diffs in %s' % (len(survivors), path))
    return 0


def main_recheck(args, root, files, commit):
    """--recheck: the current tests against the named mutants of a run's mutated tree."""
    names = recheck_names(args.recheck)
    mutated = os.path.join(root, 'mutants', COLL)
    target = os.path.join(mutated, 'tests', 'unit')
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(os.path.abspath(args.source), 'tests', 'unit'), target,
                    ignore=shutil.ignore_patterns('__pycache__', '.pytest_cache'))
    tests = ['%s/%s' % (COLL, t) for t in tests_for(mutated, files)]
    print('mutation: recheck of %d mutants against %d test files of %s' % (len(names), len(tests), commit))
    started = time.time()
    result = recheck(root, names, tests)
    counts = collections.Counter(result.values())
    lines = ['area: %s (recheck)' % args.area,
             'date: %s' % datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
             'tests: commit %s' % commit,
             'time: %d s' % (time.time() - started),
             'mutants: %d (%s)' % (len(result), ', '.join('%s %d' % kv for kv in sorted(counts.items()))),
             ''] + ['%s: %s' % (name, word) for name, word in sorted(result.items())]
    out_dir = os.path.abspath(args.out)
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    with open(os.path.join(out_dir, '%s.recheck.txt' % args.area), 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    print('\n'.join(lines[:5]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
