# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's playbook commands run as written, as far as they can without a lab VM.

- "Site playbooks": every file its `ansible-playbook` commands name exists (the lab's .lab/
  inventory aside: make lab-up writes it); the example playbook with the example inventory passes
  --syntax-check and --list-tasks (the validation play first, then the site plays); the roles the
  README's YAML excerpt imports are imported the same way (role, tasks_from, import or include) by
  playbooks/examples/site.yml, the file that lab/tests/test_site_playbook.py runs on the lab VM.
- "Audit" / "Fleets and AWX": the collection playbooks the README names exist and pass --syntax-check.
"""

import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')


def _section(title):
    with open(os.path.join(ROOT, 'README.md')) as handle:
        text = handle.read()
    body = text.split('\n## %s\n' % title, 1)[1]
    return body.split('\n## ', 1)[0]


def _blocks(section, lang):
    return re.findall(r'```%s\n(.*?)```' % lang, section, re.S)


def _commands(section):
    out = []
    for block in _blocks(section, 'sh'):
        for line in block.splitlines():
            line = line.split('  #', 1)[0].strip()
            if line.startswith('ansible-playbook '):
                out.append(line.split())
    return out


def _playbook(args, cwd=ROOT):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_CACHE_PLUGIN='memory')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _role_imports(plays):
    """(module, role, tasks_from) of every import_role/include_role and roles: entry of the plays."""
    out = set()
    for play in plays or []:
        for task in (play.get('tasks') or []) + (play.get('pre_tasks') or []) + (play.get('post_tasks') or []):
            for module in ('ansible.builtin.import_role', 'ansible.builtin.include_role'):
                if module in task:
                    out.add((module, task[module]['name'], task[module].get('tasks_from')))
        for role in play.get('roles') or []:
            out.add(('roles', role['role'] if isinstance(role, dict) else role, None))
    return out


def test_site_playbook_commands_and_example():
    section = _section('Site playbooks')
    commands = _commands(section)
    assert commands, 'no ansible-playbook command in the README section'
    for cmd in commands:
        for arg in cmd[1:]:
            if arg.startswith('-') or arg.startswith('.lab/') or '/' not in arg:
                continue
            assert os.path.exists(os.path.join(ROOT, arg)), '%s: %s does not exist' % (' '.join(cmd), arg)
    rc, out = _playbook(['-i', 'playbooks/examples/inventory', 'playbooks/examples/site.yml', '--syntax-check'])
    assert rc == 0, out
    rc, out = _playbook(['-i', 'playbooks/examples/inventory', 'playbooks/examples/site.yml', '--list-tasks'])
    assert rc == 0, out
    plays = re.findall(r'^  play #\d+ \(([^)]*)\): (.*?)\tTAGS', out, re.M)
    assert plays and plays[0][1].startswith('Validate'), plays
    with open(os.path.join(ROOT, 'playbooks', 'examples', 'site.yml')) as handle:
        site = _role_imports(yaml.safe_load(handle))
    excerpt = set()
    for block in _blocks(section, 'yaml'):
        excerpt |= _role_imports(yaml.safe_load(block))
    assert excerpt, 'the README shows no role import'
    assert excerpt <= site, 'imports in the README that playbooks/examples/site.yml does not make: %s' % (
        sorted(excerpt - site, key=str))


def test_audit_and_fleet_playbooks_named_in_the_readme_exist():
    text = _section('Audit') + _section('Fleets and AWX')
    for name in sorted(set(re.findall(r'hvsec\.hypervisor\.(audit\w*)', text)) | {'audit_merge'}):
        path = os.path.join(ROOT, 'playbooks', '%s.yml' % name)
        if not os.path.exists(path):
            continue  # a module name (hvsec.hypervisor.audit_report), not a playbook
        rc, out = _playbook(['-i', 'localhost,', path, '--syntax-check'])
        assert rc == 0, out
    for path in re.findall(r'`(playbooks/[\w/]+\.yml)`', text):
        assert os.path.exists(os.path.join(ROOT, path)), path
