# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what users see of the collection, to prove a refactoring changed none of it.

Writes into OUT (one file per item, stable text):
- ``audit-FIXTURE-SETTINGS.json``: the audit's per-control results (status, evidence, severity,
  title, remediation...) of every facts fixture host tree, gathered by the real facts code,
  with the role defaults and with the hardened settings fixture;
- ``list-PLAYBOOK.txt``: ``ansible-playbook --list-tasks --list-tags`` of every playbook and of
  a play importing each role;
- ``controls.md``: docs/controls.md.

Usage: tools/behaviour_snapshot.py OUT   (then ``diff -r BEFORE AFTER``)
Run with the project's venv python from the repository root (``make collection`` first).
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
AUDIT_FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'plugins', 'plugin_utils', 'fixtures', 'audit')


def _import(name):
    sys.path.insert(0, COLLECTIONS)
    __import__(name)
    return sys.modules[name]


def _evaluator():
    for mod in ('ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate',
                'ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate'):
        try:
            return _import(mod)
        except ImportError:
            continue
    raise SystemExit('no evaluate module found')


def audits(out):
    ev = _evaluator()
    hvfacts = _import('ansible_collections.hvsec.hypervisor.plugins.module_utils.hvfacts')
    ft = _import('ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils.fixture_tree')
    hosts = {}
    for name in ft.VARIANTS:
        dest = tempfile.mkdtemp(prefix='hvsec-snap-')
        try:
            root = ft.build_root(name, dest)
            hosts[name] = hvfacts.gather_facts(root, ft.fake_runner(name), ft.fake_bin_path(name), euid=0)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
    for path in sorted(glob.glob(os.path.join(AUDIT_FIXTURES, 'facts_*.json'))):
        with open(path) as fh:
            hosts[os.path.basename(path)[:-5]] = json.load(fh)
    with open(os.path.join(AUDIT_FIXTURES, 'settings_hardened.json')) as fh:
        hardened = json.load(fh)
    # The engine merges the given settings over the roles' defaults.
    layers = {'defaults': {}, 'hardened': hardened}
    for host, facts in sorted(hosts.items()):
        for label, settings in sorted(layers.items()):
            results = ev.evaluate(facts, settings, [], today='2026-01-01')
            with open(os.path.join(out, 'audit-%s-%s.json' % (host, label)), 'w') as fh:
                json.dump(results, fh, indent=1, sort_keys=True, default=str)
                fh.write('\n')


def listings(out):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    bin_dir = os.path.dirname(sys.executable)
    playbooks = sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))
                       + glob.glob(os.path.join(ROOT, 'playbooks', 'examples', '*.yml')))
    tmp = tempfile.mkdtemp(prefix='hvsec-snap-')
    try:
        for role in sorted(os.listdir(os.path.join(ROOT, 'roles'))):
            path = os.path.join(tmp, 'role-%s.yml' % role)
            with open(path, 'w') as fh:
                fh.write('- hosts: localhost\n  gather_facts: false\n  roles:\n'
                         '    - hvsec.hypervisor.%s\n' % role)
            playbooks.append(path)
        for path in playbooks:
            proc = subprocess.run(
                [os.path.join(bin_dir, 'ansible-playbook'), '-i', 'localhost,', '--list-tasks',
                 '--list-tags', path], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
            text = proc.stdout.replace(tmp, '<tmp>').replace(ROOT, '<root>')
            name = os.path.relpath(path, ROOT).replace('/', '_') if path.startswith(ROOT) \
                else os.path.basename(path)
            with open(os.path.join(out, 'list-%s.txt' % name), 'w') as fh:
                fh.write('rc=%d\n%s' % (proc.returncode, text))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    audits(out)
    listings(out)
    shutil.copy(os.path.join(ROOT, 'docs', 'controls.md'), os.path.join(out, 'controls.md'))
    print('snapshot written to %s (%d files)' % (out, len(os.listdir(out))))


if __name__ == '__main__':
    main(sys.argv)
