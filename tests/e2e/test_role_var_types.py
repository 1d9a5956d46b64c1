# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every bool and int variable of every role behaves the same from YAML, JSON or ``-e key=value``.

``-e hvsec_iommu_nosmt=false`` is the text "false", which Jinja counts as true; Ansible's role
argument validation checks the type but hands the role the text. Each role therefore reads its
variables through ``lookup('hvsec.hypervisor.role_input', ROLE)`` (converted to the argument spec's
types) and never tests one of its bool/int variables as given. The variables are read from the
roles' meta/argument_specs.yml, never listed here:

- the conversion: every bool variable given as each text spelling ("false", "no", "0", "off",
  "true", "yes", "1", "on") and every int variable given as text converts to the value the
  typed form converts to;
- the roles: each role runs in check mode against this machine (``ansible_connection=local``),
  once with every bool/int variable given as ``-e name=text`` and once as ``-e`` JSON with real
  bools and ints, for two assignments (every variable at its default; every variable at another
  value); the task-by-task trace (status, module arguments, derived facts, messages) must be the
  same, with the contents of the files the role would write (--diff). Tasks that fail on this machine (no boot loader, no sshd) fail the same way in both runs:
  the play imports the role with ``ignore_errors`` so every task is reached;
- statically: no Jinja expression of a role (tasks, vars, handlers, templates) reads one of its
  bool/int variables directly; it reads ``_hvsec_<role>_in.NAME`` (or, in a file that predates
  this, ``NAME | bool`` / ``NAME | int``).

Run with ``make e2e`` or ``.venv/bin/pytest tests/e2e/test_role_var_types.py``.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys

import pytest
from jinja2 import Environment, nodes

from conftest import tree_checksums

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
WATCHED = ['/etc/default', '/etc/ssh', '/etc/modprobe.d', '/etc/libvirt', '/boot/grub', '/etc/tmpfiles.d']

sys.path.insert(0, os.path.join(ROOT, 'tools'))
import role_tasks  # noqa: E402  pylint: disable=wrong-import-position

ROLES = role_tasks.roles()
TRUE_TEXTS = ('true', 'yes', '1', 'on')
FALSE_TEXTS = ('false', 'no', '0', 'off')
# Variables of another type that every run sets alike, so that no assignment is refused as a whole
# (the firewall needs administrator networks).
CONTEXT = {'mgmt_plane': {'hvsec_mgmt_plane_admin_cidrs': ['127.0.0.0/8']}}
# The name of the converted variables each role reads (set by its tasks/validate.yml).
INPUT_FACT = {'iommu': '_hvsec_iommu_in', 'vfio': '_hvsec_vfio_in', 'vswitch': '_hvsec_vswitch_in',
              'mgmt_plane': '_hvsec_mgmt_in'}

CALLBACK = r'''
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = """
name: hvsec_trace
type: aggregate
short_description: test-only, one JSON line per task result
options: {}
"""

import json
import os

from ansible.plugins.callback import CallbackBase

KEEP = ('msg', 'stdout_lines', 'rc', 'failed', 'skipped', 'changed', 'diff')


def digest(action, result):
    out = dict((k, result[k]) for k in KEEP if k in result)
    if 'invocation' in result:
        out['args'] = result['invocation'].get('module_args')
    if action.endswith('set_fact') and 'ansible_facts' in result:
        out['facts'] = result['ansible_facts']
    if isinstance(result.get('results'), list):
        out['results'] = [digest(action, r) for r in result['results'] if isinstance(r, dict)]
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'hvsec_trace'
    CALLBACK_NEEDS_ENABLED = True

    def _log(self, status, result):
        task = result._task
        record = {'host': result._host.get_name(), 'task': task.get_name(), 'status': status,
                  'result': digest(task.action, result._result)}
        with open(os.environ['HVSEC_TRACE'], 'a') as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._log('changed' if result._result.get('changed') else 'ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._log('failed', result)

    def v2_runner_on_skipped(self, result):
        self._log('skipped', result)
'''


def spec(role):
    return role_tasks.load_yaml(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml'))['argument_specs']


def typed(role):
    """[(name, 'bool'|'int', default)] of the role's main entry point, from its argument spec."""
    options = spec(role)['main']['options']
    return [(name, o['type'], o.get('default')) for name, o in sorted(options.items()) if o.get('type') in ('bool', 'int')]


def test_every_role_has_typed_variables_and_a_validate_entry_point():
    for role in ROLES:
        assert typed(role), role
        specs = spec(role)
        assert specs['validate']['options'] == specs['main']['options'], role


# ----------------------------------------------------------------------------------------- conversion

def _lookup_module():
    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.hvsec.hypervisor.plugins.lookup import role_input  # pylint: disable=import-error
    return role_input


@pytest.mark.parametrize('role', ROLES)
def test_text_converts_like_the_typed_value(role):
    role_input = _lookup_module()
    options = role_input.role_spec(role)
    for name, kind, default in typed(role):
        if kind == 'bool':
            pairs = [(text, True) for text in TRUE_TEXTS] + [(text, False) for text in FALSE_TEXTS]
        else:
            pairs = [(str(default), default), (str(default + 1), default + 1)]
        for text, value in pairs:
            got = role_input.convert(options, {name: text}, role)
            want = role_input.convert(options, {name: value}, role)
            assert got == want and got[name] == value and type(got[name]) is type(value), (name, text)


# ----------------------------------------------------------------------------------------- static

def _role_texts(role):
    """(where, Jinja text) of every task, handler, role var and template of the role."""
    base = os.path.join(ROOT, 'roles', role)
    out = []
    for task in role_tasks.tasks(role):
        body = dict((k, v) for k, v in task['task'].items() if k not in ('block', 'rescue', 'always'))
        for key in ('when', 'changed_when', 'failed_when', 'until'):
            for expr in role_tasks._as_list(body.pop(key, None)):
                out.append((task['file'] + ': ' + task['name'], '{{ %s }}' % expr))
        action = body.get(task['action'])
        if isinstance(action, dict) and 'that' in action:
            for expr in role_tasks._as_list(action['that']):
                out.append((task['file'] + ': ' + task['name'], '{{ %s }}' % expr))
        for text in role_tasks.strings(body):
            out.append((task['file'] + ': ' + task['name'], text))
    for handler in role_tasks.handlers(role):
        for item in role_tasks.load_yaml(os.path.join(ROOT, handler['file'])) or []:
            for text in role_tasks.strings(item):
                out.append((handler['file'], text))
    for sub in ('vars', 'defaults'):
        path = os.path.join(base, sub, 'main.yml')
        if os.path.exists(path):
            for text in role_tasks.strings(role_tasks.load_yaml(path) or {}):
                out.append((os.path.relpath(path, ROOT), text))
    templates = os.path.join(base, 'templates')
    for name in sorted(os.listdir(templates)) if os.path.isdir(templates) else []:
        with open(os.path.join(templates, name)) as handle:
            out.append((os.path.relpath(os.path.join(templates, name), ROOT), handle.read()))
    return out


def raw_reads(text, names, env=Environment(extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'])):
    """Names of ``names`` the Jinja text reads other than as ``NAME | bool`` / ``NAME | int``."""
    tree = env.parse(text)
    converted = set()
    for node in tree.find_all(nodes.Filter):
        if isinstance(node.node, nodes.Name) and node.name in ('bool', 'int'):
            converted.add(id(node.node))
    return sorted(set(n.name for n in tree.find_all(nodes.Name)
                      if n.ctx == 'load' and n.name in names and id(n) not in converted))


@pytest.mark.parametrize('role', ROLES)
def test_no_role_reads_a_bool_or_int_variable_as_given(role):
    names = dict((name, kind) for name, kind, dummy in typed(role))
    found = []
    for where, text in _role_texts(role):
        for name in raw_reads(text, names):
            found.append('%s reads %s (%s) as given' % (where, name, names[name]))
    assert not found, 'read %s.%s instead:\n%s' % (INPUT_FACT[role], 'NAME', '\n'.join(found))
    # and the role does read them through its converted input
    reads = '\n'.join(text for dummy, text in _role_texts(role))
    assert INPUT_FACT[role] + '.' in reads, role


def test_the_static_check_sees_raw_reads():
    names = {'hvsec_iommu_nosmt': 'bool'}
    assert raw_reads("{% if 'x' in y and hvsec_iommu_nosmt %}{% endif %}", names) == ['hvsec_iommu_nosmt']
    assert raw_reads('{{ not hvsec_iommu_nosmt }}', names) == ['hvsec_iommu_nosmt']
    assert raw_reads('{{ hvsec_iommu_nosmt | bool }}', names) == []
    assert raw_reads('{{ _hvsec_iommu_in.hvsec_iommu_nosmt }}', names) == []


# ----------------------------------------------------------------------------------------- roles

def checksums():
    return tree_checksums(WATCHED)


def assignments(role):
    """Two assignments of every bool/int variable: its default, and another value."""
    default = dict((name, value) for name, kind, value in typed(role))
    other = dict((name, (not value) if kind == 'bool' else value + 1) for name, kind, value in typed(role))
    return {'defaults': default, 'others': other}


def as_text(values):
    """What ``-e name=value`` gives: text, in every spelling of a bool across the variables."""
    out = []
    for index, (name, value) in enumerate(sorted(values.items())):
        if isinstance(value, bool):
            texts = TRUE_TEXTS if value else FALSE_TEXTS
            out.append('%s=%s' % (name, texts[index % len(texts)]))
        else:
            out.append('%s=%s' % (name, value))
    return out


def run(workdir, role, name, extra):
    trace = os.path.join(workdir, 'trace-%s.jsonl' % name)
    if os.path.exists(trace):
        os.remove(trace)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_CACHE_PLUGIN='memory', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(workdir, 'callback_plugins'),
               ANSIBLE_CALLBACKS_ENABLED='hvsec_trace', HVSEC_TRACE=trace,
               ANSIBLE_LOCAL_TEMP=os.path.join(workdir, 'tmp-' + name))
    for var in ('ANSIBLE_RUN_TAGS', 'ANSIBLE_SKIP_TAGS'):
        env.pop(var, None)
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', os.path.join(workdir, 'inventory.yml'),
           os.path.join(workdir, 'role-%s.yml' % role), '--check', '--diff']
    for item in extra:
        cmd += ['-e', item]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900, check=False)
    records = []
    if os.path.exists(trace):
        with open(trace) as handle:
            # the controller's temporary copy of a template differs from run to run
            records = [json.loads(re.sub(r'[^"]*/ansible-local-[^"]*', '<controller temp file>', line))
                       for line in handle if line.strip()]
    return proc, [(r['task'].split(' : ', 1)[-1], r['status'], r['result']) for r in records]


@pytest.fixture(scope='module')
def traces(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('var_types'))
    os.makedirs(os.path.join(workdir, 'callback_plugins'))
    with open(os.path.join(workdir, 'callback_plugins', 'hvsec_trace.py'), 'w') as handle:
        handle.write(CALLBACK)
    with open(os.path.join(workdir, 'inventory.yml'), 'w') as handle:
        handle.write('all:\n  hosts:\n    hv-types:\n      ansible_connection: local\n'
                     '      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n')
    for role in ROLES:
        with open(os.path.join(workdir, 'role-%s.yml' % role), 'w') as handle:
            handle.write('- name: Run %s with every task reached\n  hosts: all\n  gather_facts: false\n  tasks:\n'
                         '    - name: The role\n      ansible.builtin.import_role:\n        name: hvsec.hypervisor.%s\n'
                         '      ignore_errors: true\n' % (role, role))
    jobs = []
    for role in ROLES:
        for label, values in sorted(assignments(role).items()):
            context = [json.dumps(CONTEXT[role])] if role in CONTEXT else []
            jobs.append((role, label, 'text', context + as_text(values)))
            jobs.append((role, label, 'typed', context + [json.dumps(values)]))
    before = checksums()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda job: run(workdir, job[0], '%s-%s-%s' % job[:3], job[3]), jobs))
    after = checksums()
    out = dict(((role, label, form), result) for (role, label, form, dummy), result in zip(jobs, done))
    out['files_changed'] = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    return out


@pytest.mark.parametrize('label', ['defaults', 'others'])
@pytest.mark.parametrize('role', ROLES)
def test_text_and_typed_variables_give_the_same_run(traces, role, label):
    text_proc, text_trace = traces[(role, label, 'text')]
    typed_proc, typed_trace = traces[(role, label, 'typed')]
    assert typed_trace, typed_proc.stdout[-3000:] + typed_proc.stderr[-3000:]
    # the run went past the role's validation into its remediation tasks
    assert any(task.startswith('HVS-') for task, dummy, dummy2 in typed_trace), typed_trace
    validation = ('Validating arguments', ' | Validate', ' | Check the role')
    refused = [t for t in typed_trace if t[1] == 'failed' and any(v in t[0] for v in validation)]
    assert not refused, 'the typed input was refused: %s' % refused
    for index, (text_task, typed_task) in enumerate(zip(text_trace, typed_trace)):
        assert text_task == typed_task, (
            'task %d differs between -e NAME=text and -e JSON (%s, %s):\n  text:  %s\n  typed: %s'
            % (index, role, label, json.dumps(text_task, sort_keys=True)[:1500],
               json.dumps(typed_task, sort_keys=True)[:1500]))
    assert len(text_trace) == len(typed_trace)
    assert traces['files_changed'] == [], traces['files_changed']
