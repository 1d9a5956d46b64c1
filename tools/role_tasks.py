# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' tasks as ansible-playbook flattens them, read from the role YAML.

Static ``import_tasks`` files and blocks are inlined in order; their ``tags`` and ``when`` are
inherited by the tasks inside, as Ansible does. Used by tools/gen_docs.py (which controls the
roles can judge in check mode) and by tests/e2e/test_site_roles.py (which tasks a tag selection
must list).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
CONTROL_TAG = re.compile(r'^HVS-[A-Z]+-[0-9]+$')

# Keywords of a task or block; the one remaining key of a task is its action.
KEYWORDS = frozenset((
    'name', 'action', 'args', 'local_action', 'when', 'tags', 'register', 'notify', 'listen',
    'loop', 'loop_control', 'vars', 'become', 'become_user', 'become_method', 'become_flags',
    'become_exe', 'check_mode', 'diff', 'changed_when', 'failed_when', 'ignore_errors',
    'ignore_unreachable', 'delegate_to', 'delegate_facts', 'run_once', 'until', 'retries', 'delay',
    'environment', 'no_log', 'any_errors_fatal', 'async', 'poll', 'throttle', 'timeout',
    'connection', 'collections', 'module_defaults', 'debugger', 'port', 'remote_user',
    'block', 'rescue', 'always',
))
IMPORT_TASKS = ('import_tasks', 'ansible.builtin.import_tasks', 'ansible.legacy.import_tasks')


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


def action_of(task):
    """The module or action name of a task dict (``with_*`` loops are keywords too)."""
    for key in task:
        if key not in KEYWORDS and not key.startswith('with_'):
            return key
    return task.get('action')


def short_action(action):
    """ansible.builtin.copy -> copy, hvsec.hypervisor.sshd_dropin -> sshd_dropin."""
    return (action or '').rsplit('.', 1)[-1]


def _flatten(items, role, path, inherited_tags, inherited_when, root, out, section):
    for item in items or []:
        tags = inherited_tags + [t for t in _as_list(item.get('tags')) if t not in inherited_tags]
        when = inherited_when + _as_list(item.get('when'))
        if 'block' in item:
            for part in ('block', 'rescue', 'always'):
                _flatten(item.get(part), role, path, tags, when, root, out, part if part != 'block' else section)
            continue
        action = action_of(item)
        if action in IMPORT_TASKS:
            target = item[action] if isinstance(item[action], str) else item[action].get('file')
            sub = os.path.join(root, 'roles', role, 'tasks', target)
            _flatten(load_yaml(sub), role, sub, tags, when, root, out, section)
            continue
        out.append({
            'role': role,
            'file': os.path.relpath(path, root),
            'name': item.get('name', ''),
            'action': action,
            'module': short_action(action),
            'tags': tags,
            'controls': [t for t in tags if isinstance(t, str) and CONTROL_TAG.match(t)],
            'when': when,
            'check_mode': item.get('check_mode'),
            'changed_when': item.get('changed_when'),
            'section': section,
            'task': item,
        })


def tasks(role, root=ROOT):
    """Every task of a role, in the order ansible-playbook lists them."""
    path = os.path.join(root, 'roles', role, 'tasks', 'main.yml')
    out = []
    _flatten(load_yaml(path), role, path, [], [], root, out, 'block')
    return out


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
    """{role: [task, ...]} for every role."""
    return dict((role, tasks(role, root)) for role in roles(root))


def controls_tagged(root=ROOT):
    """{control ID: [task, ...]} over every role's tasks."""
    out = {}
    for role_tasks in all_tasks(root).values():
        for task in role_tasks:
            for cid in task['controls']:
                out.setdefault(cid, []).append(task)
    return out
