# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' tasks as ansible-playbook flattens them, read by Ansible's own loader.

Each role entry point is imported into a play built in memory (``Play.load`` with a
``DataLoader``, a ``VariableManager`` and an empty inventory) and compiled as ansible-playbook
compiles it: static ``import_tasks`` files are inlined, and every task carries the tags and
conditions it inherits from its blocks, imports and role. Used by tools/gen_docs.py (which
controls the roles can judge in check mode) and by the e2e tests under tests/e2e (which tasks a
tag selection must list, which Jinja text a role reads).

Ansible resolves the roles' actions (``hvsec.hypervisor.*``) through the collection this tree
is, also for roles read from another directory. The loading runs in a child Python process (this file run as a script), which installs
Ansible's collection finder over the collections directory that holds this tree, or else over a
temporary one that links it as ``hvsec.hypervisor``: the caller's imports (a test runner that
imported the collection as plain packages, or ansible-test's own finder) are left as they are.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
CONTROL_TAG = re.compile(r'^HVS-[A-Z]+-[0-9]+$')
SECTIONS = ('block', 'rescue', 'always')


def roles(root=ROOT):
    """Names of the roles under root/roles that have tasks/main.yml, sorted."""
    base = os.path.join(root, 'roles')
    return sorted(name for name in os.listdir(base)
                  if os.path.isfile(os.path.join(base, name, 'tasks', 'main.yml')))


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def strings(obj):
    """Every string in a loaded YAML structure (dict values and list items, recursively)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, (dict, list)):
        for value in obj.values() if isinstance(obj, dict) else obj:
            yield from strings(value)


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def short_action(action):
    """ansible.builtin.copy -> copy, hvsec.hypervisor.sshd_dropin -> sshd_dropin."""
    return (action or '').rsplit('.', 1)[-1]


def _plain(obj):
    """A loaded datastructure as plain dicts, lists and strings (Ansible tags what it loads)."""
    if isinstance(obj, dict):
        return dict((_plain(k), _plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    return obj


def _collections_dir(scratch, root=ROOT):
    """A collections directory in which hvsec.hypervisor is this tree (a link made in scratch if needed).

    The roles read may lie elsewhere (a copy under test): they are loaded by path, and their
    actions resolve to the modules and action plugins of this tree.
    """
    real = os.path.realpath(root)
    parts = real.split(os.sep)
    if parts[-4:-2] == ['ansible_collections', 'hvsec'] and parts[-1] == 'hypervisor':
        return os.sep.join(parts[:-3])
    built = os.path.join(root, '.build', 'collections')
    if os.path.realpath(os.path.join(built, 'ansible_collections', 'hvsec', 'hypervisor')) == real:
        return built
    os.makedirs(os.path.join(scratch, 'ansible_collections', 'hvsec'))
    os.symlink(real, os.path.join(scratch, 'ansible_collections', 'hvsec', 'hypervisor'))
    return scratch


def _ansible():
    """(DataLoader, VariableManager) over an empty inventory."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager
    loader = DataLoader()
    return loader, VariableManager(loader=loader, inventory=InventoryManager(loader=loader, sources=[], parse=False))


def _play(role, entry, root):
    """The play ``- hosts: all / tasks: - import_role: {name: <role dir>, tasks_from: entry}``."""
    from ansible.playbook.play import Play
    loader, variables = _ansible()
    loader.set_basedir(root)
    data = {'name': 'role_tasks', 'hosts': 'all', 'gather_facts': False,
            'tasks': [{'name': 'Import %s' % role,
                       'ansible.builtin.import_role': {'name': os.path.join(root, 'roles', role), 'tasks_from': entry}}]}
    return Play.load(data, variable_manager=variables, loader=loader)


def _origin(task):
    """The file a task was written in (its path without the line number)."""
    path = task.get_path()
    return path.rsplit(':', 1)[0] if path else ''


def _record(task, role, section, root):
    raw = _plain(task.get_ds())
    tags = []
    for tag in task.tags:  # Ansible repeats a tag once per level that carries it
        if str(tag) not in tags:
            tags.append(str(tag))
    return {
        'role': role,
        'file': os.path.relpath(os.path.realpath(_origin(task)), os.path.realpath(root)),
        'name': str(task.name or ''),
        'action': str(task.action),
        'module': short_action(task.action),
        'args': _plain(task.args),
        'tags': tags,
        'controls': [t for t in tags if CONTROL_TAG.match(t)],
        'when': [_plain(w) for w in task.when],
        'check_mode': raw.get('check_mode'),
        'changed_when': raw.get('changed_when'),
        'section': section,
        'task': raw,
    }


def _walk(block, role, section, root, out):
    from ansible.playbook.block import Block
    for part in SECTIONS:
        for item in getattr(block, part) or []:
            here = section if part == 'block' else part
            if isinstance(item, Block):
                _walk(item, role, here, root, out)
            elif not getattr(item, 'implicit', False) and item.action != 'ansible.builtin.validate_argument_spec':
                out.append(_record(item, role, here, root))


def _compiled(role, entry, root):
    """The tasks of one entry point, read in this process (see entry_tasks)."""
    out = []
    for block in _play(role, entry, root).compile():
        _walk(block, role, 'block', root, out)
    return out


def _load(root, wanted):
    """{(role, entry): [task, ...]} for every (role, entry) in wanted, read by a child process."""
    root = os.path.abspath(root)
    cmd = [sys.executable, os.path.abspath(__file__), root] + ['%s:%s' % pair for pair in wanted]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('Ansible could not load the roles of %s:\n%s' % (root, proc.stderr.strip()))
    loaded = json.loads(proc.stdout)
    return dict((pair, loaded['%s:%s' % pair]) for pair in wanted)


def entry_tasks(role, entry='main', root=ROOT):
    """Every task of a role entry point (tasks/ENTRY.yml), in the order ansible-playbook lists them.

    Each task is a dict: role, file (relative to root), name, action (as written), module (its
    last part), args (as Ansible parsed them), tags (the effective ones, inherited included),
    controls (the tags that are control IDs), when (every condition, inherited included),
    check_mode and changed_when (as written on the task), section (block, or rescue / always
    for the tasks that only run after a failure or in any case) and task (the task's
    datastructure as written, for scanning). Ansible's argument validation task is left out.
    """
    return _load(root, [(role, entry)])[(role, entry)]


def tasks(role, root=ROOT):
    """Every task of a role's main entry point, in the order ansible-playbook lists them."""
    return entry_tasks(role, 'main', root)


def handlers(role, root=ROOT):
    """Handlers of a role: [{'name', 'listen', 'file'}] from handlers/*.yml (empty without)."""
    base = os.path.join(root, 'roles', role, 'handlers')
    out = []
    if not os.path.isdir(base):
        return out
    for name in sorted(os.listdir(base)):
        if name.endswith(('.yml', '.yaml')):
            for item in load_yaml(os.path.join(base, name)) or []:
                out.append({'name': item.get('name', ''), 'listen': _as_list(item.get('listen')),
                            'file': os.path.relpath(os.path.join(base, name), root)})
    return out


def all_tasks(root=ROOT):
    """{role: [task, ...]} for every role (its main entry point)."""
    loaded = _load(root, [(role, 'main') for role in roles(root)])
    return dict((role, found) for (role, dummy), found in loaded.items())


def controls_tagged(root=ROOT):
    """{control ID: [task, ...]} over every role's tasks."""
    out = {}
    for role_tasks in all_tasks(root).values():
        for task in role_tasks:
            for cid in task['controls']:
                out.setdefault(cid, []).append(task)
    return out


def main(argv):
    """role_tasks.py ROOT ROLE:ENTRY... prints {"ROLE:ENTRY": [task, ...]} as JSON."""
    from ansible.plugins.loader import init_plugin_loader
    root = os.path.abspath(argv[0])
    out = {}
    with tempfile.TemporaryDirectory(prefix='hvsec-role-tasks-') as scratch:
        init_plugin_loader([_collections_dir(scratch)])
        for pair in argv[1:]:
            role, entry = pair.split(':', 1)
            out[pair] = _compiled(role, entry, root)
    json.dump(out, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
