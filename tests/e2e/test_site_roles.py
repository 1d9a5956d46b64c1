# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles inside site playbooks, proven without a host (nothing here connects anywhere).

- every role parses and lists its tasks with import_role, include_role and in a roles: list next
  to another role, in plays without any variables (ansible-playbook --syntax-check / --list-tasks);
- a role reads no variable that is neither documented in meta/argument_specs.yml nor set by the
  role itself (static analysis of every Jinja expression of the role);
- handler names are unique across roles and every notify reaches a handler of its own role;
- `--tags HVS-XXX-NN`, `--tags AREA`, `--skip-tags HVS-XXX-NN` and `--skip-tags AREA` list exactly
  the tasks the role YAML tags that way (plus the always-tagged validation and fact tasks), for
  every control of the catalog that has a role;
- a tag selection never separates a task from what it depends on (handler flushes, registered
  results, follow-up steps of a change).

Run with `make e2e`, or `.venv/bin/pytest tests/e2e/test_site_roles.py`.
"""

import concurrent.futures
import os
import re
import subprocess
import sys

import pytest
import yaml
from jinja2 import Environment, nodes

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')

sys.path.insert(0, os.path.join(ROOT, 'tools'))
import gen_docs  # noqa: E402  pylint: disable=wrong-import-position
import role_tasks  # noqa: E402  pylint: disable=wrong-import-position

CATALOG = gen_docs.load_catalog()
ROLES = role_tasks.roles()
TASKS = role_tasks.all_tasks()
FQCN = 'hvsec.hypervisor.%s'
CONTROL_ID = re.compile(r'HVS-[A-Z]+-[0-9]+')
# Variables Ansible itself provides (magic and connection variables, Jinja globals and `loop`) that a
# role may read.
ANSIBLE_PROVIDED = frozenset((
    'ansible_facts', 'ansible_check_mode', 'ansible_diff_mode', 'ansible_connection', 'ansible_env',
    'ansible_user', 'ansible_password', 'ansible_ssh_pass', 'ansible_failed_result', 'ansible_failed_task',
    'ansible_managed', 'ansible_loop', 'ansible_play_hosts', 'ansible_playbook_python', 'inventory_hostname',
    'hostvars', 'item', 'omit', 'lookup', 'query', 'q', 'range', 'dict', 'namespace', 'lipsum', 'cycler',
    'joiner', 'now', 'undef', 'loop', 'ansible_run_tags', 'ansible_skip_tags', 'ansible_host',
))
ROLES_WITH_CONTROLS = sorted(set(c['role'] for c in CATALOG.CONTROLS if c['role']))


def test_every_catalog_role_exists():
    assert ROLES_WITH_CONTROLS and set(ROLES_WITH_CONTROLS) <= set(ROLES)


# ----------------------------------------------------------------------------- running ansible


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """An inventory of local-only hosts (group hypervisors); nothing is ever executed on them."""
    path = tmp_path_factory.mktemp('site')
    (path / 'inventory.yml').write_text(
        'all:\n  children:\n    hypervisors:\n      hosts:\n' + ''.join(
            '        %s:\n          ansible_connection: local\n'
            '          ansible_python_interpreter: "{{ ansible_playbook_python }}"\n' % host
            for host in ('hv-import', 'hv-include', 'hv-roles')))
    return path


def ansible_playbook(workdir, name, text, *args):
    """Run ansible-playbook on a playbook written as workdir/name; return (rc, output)."""
    playbook = workdir / name
    if not playbook.exists():
        playbook.write_text(text)
    else:
        assert playbook.read_text() == text
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_CACHE_PLUGIN='memory',
               ANSIBLE_LOCAL_TEMP=str(workdir / 'tmp'), ANSIBLE_RETRY_FILES_ENABLED='0')
    for var in ('ANSIBLE_RUN_TAGS', 'ANSIBLE_SKIP_TAGS', 'ANSIBLE_CALLBACKS_ENABLED'):
        env.pop(var, None)
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', str(workdir / 'inventory.yml'), str(playbook)] + list(args)
    proc = subprocess.run(cmd, cwd=str(workdir), env=env, capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


LISTED = re.compile(r'^ {6}(?P<name>.*)\tTAGS: \[(?P<tags>[^\]]*)\]$')
PLAY = re.compile(r'^  play #(?P<n>\d+) ')


def listed_tasks(output):
    """--list-tasks output -> [(play number, 'role : task name' or 'task name', frozenset(tags))]."""
    out, play = [], 0
    for line in output.splitlines():
        match = PLAY.match(line)
        if match:
            play = int(match.group('n'))
            continue
        match = LISTED.match(line)
        if match:
            tags = frozenset(t.strip() for t in match.group('tags').split(',') if t.strip())
            out.append((play, match.group('name'), tags))
    return out


def list_tasks(workdir, name, text, *args):
    rc, out = ansible_playbook(workdir, name, text, '--list-tasks', *args)
    assert rc == 0, out
    listed = listed_tasks(out)
    assert listed, out
    return listed


# ----------------------------------------------------------------------------- expected listings


def short_description(role, entry='main'):
    spec = role_tasks.load_yaml(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml'))
    return spec['argument_specs'][entry]['short_description']


def entry_tasks(role, entry='main'):
    """The tasks of a role entry point (tasks/ENTRY.yml) as ansible-playbook flattens them."""
    if entry == 'main':
        return TASKS[role]
    return role_tasks.entry_tasks(role, entry)


def role_listing(role, extra_tags=(), entry='main'):
    """What --list-tasks prints for one imported role: the argument validation, then its tasks
    (ansible-playbook lists the tasks of a block, not those of its rescue/always sections)."""
    prefix = FQCN % role + ' : '
    out = [(prefix + "Validating arguments against arg spec '%s' - " % entry + short_description(role, entry),
            frozenset(('always',) + tuple(extra_tags)))]
    for task in entry_tasks(role, entry):
        if task['section'] != 'block':
            continue
        out.append((prefix + task['name'], frozenset(task['tags']) | frozenset(extra_tags)))
    return out


def selected(tags, only=(), skip=()):
    """Ansible's rule (Taggable.evaluate_tags) for one tag to run and/or skip."""
    run = not only or 'always' in tags or not tags.isdisjoint(only)
    return run and tags.isdisjoint(skip)


def expected(plays, only=(), skip=()):
    out = []
    for number, listing in enumerate(plays, 1):
        out.extend((number, name, tags) for name, tags in listing if selected(tags, only, skip))
    return out


COMMON = ('Common | Record the site baseline', frozenset(['common']))


def common_task():
    return ('    - name: %s\n      ansible.builtin.set_fact:\n        site_baseline: true\n'
            '      tags: [common]\n' % COMMON[0])


def play(hosts, name, body):
    return '- name: %s\n  hosts: %s\n  gather_facts: false\n%s' % (name, hosts, body)


def forms_playbook(role, other):
    """Three plays without variables: import_role, include_role, roles: next to another role."""
    return ''.join([
        play('hv-import', 'import_role', '  tasks:\n' + common_task()
             + '    - name: Harden with %s\n      ansible.builtin.import_role:\n        name: %s\n'
             % (role, FQCN % role)),
        play('hv-include', 'include_role', '  tasks:\n' + common_task()
             + '    - name: Harden with %s\n      ansible.builtin.include_role:\n        name: %s\n'
               '      tags: [always]\n' % (role, FQCN % role)),
        play('hv-roles', 'roles next to another role',
             '  roles:\n    - role: %s\n    - role: %s\n' % (FQCN % role, FQCN % other)),
    ])


def forms_listing(role, other):
    return [
        [COMMON] + role_listing(role),
        [COMMON, ('Harden with %s' % role, frozenset(['always']))],
        role_listing(role) + role_listing(other),
    ]


# One playbook with every role, as a site would combine them: imports into an existing play,
# then a roles: list in a second play.
SELECTION_PLAYS = [
    ('hypervisors', [COMMON] + role_listing('iommu') + role_listing('vfio')),
    ('hypervisors', role_listing('vswitch') + role_listing('mgmt_plane')),
]
SELECTION_PLAYBOOK = ''.join([
    play('hypervisors', 'Site play with imported roles', '  tasks:\n' + common_task() + ''.join(
        '    - name: Harden with %s\n      ansible.builtin.import_role:\n        name: %s\n' % (r, FQCN % r)
        for r in ('iommu', 'vfio'))),
    play('hypervisors', 'Site play with a roles list',
         '  roles:\n    - role: %s\n    - role: %s\n' % (FQCN % 'vswitch', FQCN % 'mgmt_plane')),
])


def test_selection_playbook_covers_every_role():
    covered = set(name.split(' : ')[0] for dummy, listing in SELECTION_PLAYS for name, dummy2 in listing)
    assert set(FQCN % r for r in ROLES) <= covered


# ----------------------------------------------------------------------------- the three forms


@pytest.mark.parametrize('role', ROLES)
def test_role_in_import_include_and_roles_forms(workdir, role):
    other = ROLES[(ROLES.index(role) + 1) % len(ROLES)]
    text = forms_playbook(role, other)
    name = 'forms_%s.yml' % role
    rc, out = ansible_playbook(workdir, name, text, '--syntax-check')
    assert rc == 0, out
    assert 'playbook: ' in out
    got = list_tasks(workdir, name, text)
    want = expected(forms_listing(role, other))
    assert got == want
    # --list-tags: every tag of the role YAML in the import and roles plays; the include play only
    # has its own tags (the included role's tasks are read at run time).
    rc, out = ansible_playbook(workdir, name, text, '--list-tags')
    assert rc == 0, out
    play_tags = [set(t.strip() for t in found.split(',') if t.strip())
                 for found in re.findall(r'TASK TAGS: \[([^\]]*)\]', out)]
    assert play_tags == [set().union(*(tags for dummy, tags in listing)) for listing in forms_listing(role, other)]
    assert role in play_tags[0] and role in play_tags[2] and role not in play_tags[1]


def test_include_role_runs_its_argument_validation_first(workdir):
    """include_role resolves each role at run time and validates its input before any task.

    Runs in check mode against local-only hosts, one per role, each with one invalid documented
    value (a host variable), so every host stops at its role's validation task: nothing else runs."""
    bad = {'iommu': ('hvsec_iommu_policy', 'lenient'), 'vfio': ('hvsec_vfio_initramfs', 'sometimes'),
           'vswitch': ('hvsec_vswitch_macvtap_mode', 'bridge'), 'mgmt_plane': ('hvsec_mgmt_plane_libvirt_remote', 'tcp')}
    assert set(bad) == set(ROLES), 'one invalid value per role'
    inventory = workdir / 'include_inventory.yml'
    inventory.write_text('all:\n  hosts:\n' + ''.join(
        '    hv-include-%s:\n      ansible_connection: local\n'
        '      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n      %s: %s\n' % ((role,) + bad[role])
        for role in ROLES))
    text = play('all', 'include_role per host', '  tasks:\n' + ''.join(
        '    - name: Harden with %s\n      ansible.builtin.include_role:\n        name: %s\n'
        '      when: inventory_hostname == "hv-include-%s"\n' % (role, FQCN % role, role) for role in ROLES))
    rc, out = ansible_playbook(workdir, 'include_invalid.yml', text, '--check', '-i', str(inventory), '--limit', 'hv-include-*')
    assert rc != 0, out
    for role in ROLES:
        var, value = bad[role]
        assert "TASK [%s : Validating arguments against arg spec 'main'" % (FQCN % role) in out, out
        assert re.search(r'value of %s must be one of: .*got: %s' % (var, value), out), out
        assert re.search(r'hv-include-%s\s+:\s+ok=\d+\s+changed=0\s+unreachable=0\s+failed=1' % role, out), out
    # the validation task is the only task of any role that started
    started = re.findall(r'^TASK \[(hvsec\.hypervisor\.[a-z_]+) : ([^\]]*)\]', out, re.M)
    assert sorted(r for r, dummy in started) == sorted(FQCN % r for r in ROLES), started
    assert all(t.startswith('Validating arguments') for dummy, t in started), started


# ----------------------------------------------------------------------------- tag selections


def selections():
    out = [('--tags', area) for area in ROLES_WITH_CONTROLS] + [('--skip-tags', area) for area in ROLES_WITH_CONTROLS]
    for control in CATALOG.CONTROLS:
        if control['role']:
            out += [('--tags', control['id']), ('--skip-tags', control['id'])]
    return out


@pytest.fixture(scope='module')
def selection_listings(workdir):
    """--list-tasks of the site-like playbook for every selection, run concurrently."""
    workdir.joinpath('selection.yml').write_text(SELECTION_PLAYBOOK)
    runs = [()] + selections()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda args: list_tasks(workdir, 'selection.yml', SELECTION_PLAYBOOK, *args), runs))
    return dict(zip(runs, results))


def test_full_listing_matches_role_yaml(selection_listings):
    assert selection_listings[()] == expected([listing for dummy, listing in SELECTION_PLAYS])


@pytest.mark.parametrize('option,tag', selections(), ids=['%s=%s' % s for s in selections()])
def test_tag_selection_lists_exactly_the_tagged_tasks(selection_listings, option, tag):
    plays = [listing for dummy, listing in SELECTION_PLAYS]
    only, skip = ((tag,), ()) if option == '--tags' else ((), (tag,))
    got = selection_listings[(option, tag)]
    assert got == expected(plays, only, skip)
    if CONTROL_ID.fullmatch(tag):
        role = CATALOG.BY_ID[tag]['role']
        mine = [t for t in TASKS[role] if tag in t['controls'] and t['section'] == 'block']
        assert mine, '%s has role %s but no task of it carries the tag' % (tag, role)
        names = set(name for dummy, name, dummy2 in got)
        if option == '--tags':
            # every task tagged with the control, and nothing else except always-tagged tasks
            assert all(FQCN % role + ' : ' + t['name'] in names for t in mine)
            assert all(tag in tags or 'always' in tags for dummy, dummy2, tags in got)
            # remediation tasks of the control are not always-tagged (validation/fact tasks are)
            assert any('always' not in t['tags'] for t in mine), tag
        else:
            assert all(tag not in tags for dummy, dummy2, tags in got)
            assert len(got) == len(selection_listings[()]) - len(mine)
    elif option == '--tags':
        assert [n for dummy, n, tags in got if 'always' not in tags and 'common' not in tags] == [
            FQCN % tag + ' : ' + t['name'] for t in TASKS[tag] if 'always' not in t['tags'] and t['section'] == 'block']
    else:
        assert not [n for dummy, n, dummy2 in got if n.startswith(FQCN % tag + ' : ') and 'Validating' not in n]


# ----------------------------------------------------------------------------- static proofs


@pytest.mark.parametrize('role', ROLES)
def test_task_names_carry_exactly_their_control_tags(role):
    for task in TASKS[role]:
        assert set(CONTROL_ID.findall(task['name'])) == set(task['controls']), (task['file'], task['name'])
        assert role in task['tags'] or 'always' in task['tags'], (task['file'], task['name'])
        if task['controls']:
            for cid in task['controls']:
                assert cid in CATALOG.BY_ID, '%s tags an unknown control %s' % (task['name'], cid)


def test_handler_names_are_unique_across_roles():
    seen = {}
    for role in ROLES:
        for handler in role_tasks.handlers(role):
            for name in [handler['name']] + handler['listen']:
                assert name not in seen, '%s (%s) and %s' % (name, handler['file'], seen[name])
                seen[name] = handler['file']
            # the role's name in every handler keeps it apart from a site's own handlers
            assert role.replace('_', ' ') in handler['name'].lower().replace('_', ' '), handler
    assert seen, 'no handlers found'


@pytest.mark.parametrize('role', ROLES)
def test_every_notify_reaches_a_handler_of_its_role(role):
    names = [h['name'] for h in role_tasks.handlers(role)] + [n for h in role_tasks.handlers(role) for n in h['listen']]
    for task in TASKS[role]:
        for notify in role_tasks._as_list(task['task'].get('notify')):
            literal = notify.split('{{', 1)[0]
            if '{{' in notify:
                assert any(n.startswith(literal) for n in names), (task['name'], notify)
            else:
                assert notify in names, (task['name'], notify)


def _needed_by(task):
    """The tags that select a task: always-tagged tasks run under any selection (None)."""
    return None if 'always' in task['tags'] else set(task['controls'])


def _selected_with(dependency, dependant):
    """Does every control selection that runs `dependant` also run `dependency`?"""
    need = _needed_by(dependency)
    have = _needed_by(dependant)
    if need is None:
        return True
    if have is None:
        return False
    return have <= need


@pytest.mark.parametrize('role', ROLES)
def test_tag_selection_keeps_dependencies_together(role):
    tasks = TASKS[role]
    for index, task in enumerate(tasks):
        text = '\n'.join(role_tasks.strings(dict((k, v) for k, v in task['task'].items() if k != 'name')))
        if task['module'] == 'meta' and 'flush_handlers' in str(task['task'].get(task['action'])):
            # every task that notifies before this flush must select the flush with it
            for earlier in tasks[:index]:
                if earlier['task'].get('notify'):
                    assert _selected_with(task, earlier), (
                        'flush "%s" is not selected with notifying task "%s"' % (task['name'], earlier['name']))
        for producer in tasks[:index]:
            register = producer['task'].get('register')
            facts = list((producer['task'].get(producer['action']) or {}).keys()) if producer['module'] == 'set_fact' else []
            for var in ([register] if register else []) + facts:
                if not re.search(r'\b%s\b' % re.escape(var), text):
                    continue
                guarded = re.search(r'\b%s\b[^|\n]*?(\|\s*default\b|\s+is\s+(not\s+)?defined)' % re.escape(var), text)
                if re.search(r'\b%s\s+is\s+changed\b' % re.escape(var), text):
                    # a follow-up of a change runs whenever the change can
                    assert _selected_with(task, producer), (
                        'follow-up "%s" is not selected with "%s"' % (task['name'], producer['name']))
                if not guarded:
                    assert _selected_with(producer, task), (
                        '"%s" reads %s from "%s", which a tag selection can leave out' % (
                            task['name'], var, producer['name']))


def _jinja_names(text, env=Environment(extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'])):
    """(loaded, stored) variable names of a Jinja template, without needing Ansible's filters."""
    tree = env.parse(text)
    loaded = set(n.name for n in tree.find_all(nodes.Name) if n.ctx == 'load')
    stored = set(n.name for n in tree.find_all(nodes.Name) if n.ctx in ('store', 'param'))
    return loaded, stored


BARE = ('when', 'changed_when', 'failed_when', 'until')


def _task_templates(task):
    """Every Jinja text of a task (conditionals and assert's `that` are bare expressions)."""
    for key, value in task.items():
        if key in BARE:
            for expr in role_tasks._as_list(value):
                yield '{{ %s }}' % expr if isinstance(expr, str) else ''
        elif key in ('block', 'rescue', 'always'):
            continue
        elif isinstance(value, dict) and 'that' in value:
            for k, v in value.items():
                for expr in role_tasks._as_list(v) if k == 'that' else role_tasks.strings(v):
                    yield '{{ %s }}' % expr if k == 'that' else expr
        else:
            yield from role_tasks.strings(value)


@pytest.mark.parametrize('role', ROLES)
def test_role_reads_only_documented_or_own_variables(role):
    base = os.path.join(ROOT, 'roles', role)
    spec = role_tasks.load_yaml(os.path.join(base, 'meta', 'argument_specs.yml'))['argument_specs']['main']['options']
    defaults = role_tasks.load_yaml(os.path.join(base, 'defaults', 'main.yml')) or {}
    own_vars = {}
    if os.path.exists(os.path.join(base, 'vars', 'main.yml')):
        own_vars = role_tasks.load_yaml(os.path.join(base, 'vars', 'main.yml')) or {}
    # nothing is required at play level: every documented option has a default
    for name, option in spec.items():
        assert not option.get('required'), '%s is required' % name
        assert name in defaults, '%s is documented but has no default' % name
    assert set(defaults) <= set(spec), 'undocumented defaults: %s' % sorted(set(defaults) - set(spec))
    assert all(k.startswith('_') for k in own_vars), 'role vars/ are internal (_...): %s' % sorted(own_vars)

    set_here = set(defaults) | set(own_vars)
    texts = []
    for task in TASKS[role]:
        body = task['task']
        set_here.update(role_tasks._as_list(body.get('register')))
        set_here.update((body.get('vars') or {}).keys())
        set_here.update(role_tasks._as_list((body.get('loop_control') or {}).get('loop_var')))
        if task['module'] == 'set_fact':
            set_here.update(k for k in (body.get(task['action']) or {}) if k != 'cacheable')
        texts.extend(_task_templates(body))
    for handler_file in [h['file'] for h in role_tasks.handlers(role)]:
        for handler in role_tasks.load_yaml(os.path.join(ROOT, handler_file)) or []:
            texts.extend(_task_templates(handler))
    for data in (defaults, own_vars):
        texts.extend(role_tasks.strings(data))
    templates = os.path.join(base, 'templates')
    for name in sorted(os.listdir(templates)) if os.path.isdir(templates) else []:
        with open(os.path.join(templates, name)) as handle:
            texts.append(handle.read())
    read = set()
    for text in texts:
        loaded, stored = _jinja_names(text)
        read |= loaded - stored
    assert read, 'no variable found: the analysis read nothing'
    unknown = read - set_here - set(spec) - ANSIBLE_PROVIDED
    assert not unknown, '%s reads variables that are neither documented nor its own: %s' % (role, sorted(unknown))


# ----------------------------------------------------------------------------- the example site playbook

EXAMPLE = os.path.join(ROOT, 'playbooks', 'examples', 'site.yml')
EXAMPLE_INVENTORY = os.path.join(ROOT, 'playbooks', 'examples', 'inventory')
TEST_NETS = ('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24')  # RFC 5737 documentation ranges


def example_listing():
    """The example's plays as --list-tasks must show them, from the example and the role YAML."""
    with open(EXAMPLE) as handle:
        plays = yaml.safe_load(handle)
    out = []
    for entry in plays:
        listing = []
        for role in entry.get('roles', []):
            listing += role_listing(role['role'].rsplit('.', 1)[-1])
        for task in entry.get('tasks', []) + entry.get('post_tasks', []):
            tags = frozenset(task.get('tags', []))
            if 'ansible.builtin.import_role' in task:
                imported = task['ansible.builtin.import_role']
                listing += role_listing(imported['name'].rsplit('.', 1)[-1], tags, imported.get('tasks_from', 'main'))
            else:
                listing.append((task['name'], tags))
        out.append(listing)
    return out


def example_run(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_example_site_playbook_imports_includes_and_lists_roles():
    with open(EXAMPLE) as handle:
        plays = yaml.safe_load(handle)
    actions = [key for p in plays for t in p.get('tasks', []) for key in t]
    assert 'ansible.builtin.import_role' in actions and 'ansible.builtin.include_role' in actions
    assert any(len(p.get('roles', [])) >= 2 for p in plays), 'a roles: list with more than one role'
    assert any(t.get('tags') == ['common'] for p in plays for t in p.get('tasks', [])), "the site's own tasks"
    used = set()
    for p in plays:
        used |= set(r['role'] for r in p.get('roles', []))
        for t in p.get('tasks', []):
            for key in ('ansible.builtin.import_role', 'ansible.builtin.include_role'):
                if key in t:
                    used.add(t[key]['name'])
    assert used == set(FQCN % r for r in ROLES)
    example_run('ansible-playbook', '-i', EXAMPLE_INVENTORY, EXAMPLE, '--syntax-check')
    listing = example_listing()
    for args, only, skip in (((), (), ()), (('--tags', 'HVS-VFIO-03'), ('HVS-VFIO-03',), ()),
                             (('--tags', 'mgmt_plane'), ('mgmt_plane',), ()), (('--skip-tags', 'vfio'), (), ('vfio',)),
                             (('--skip-tags', 'HVS-MGMT-18'), (), ('HVS-MGMT-18',))):
        out = example_run('ansible-playbook', '-i', EXAMPLE_INVENTORY, EXAMPLE, '--list-tasks', *args)
        assert listed_tasks(out) == expected(listing, only, skip), args


def test_every_role_validates_before_any_role_changes_anything():
    """playbooks/harden.yml and the example site playbook list every role's validation (tasks_from:
    validate: argument spec, input and host checks, all always-tagged and changing nothing) before the
    first task of any role's main entry point, also under --tags of a control or an area."""
    validate_names = set()
    for role in ROLES:
        tasks = entry_tasks(role, 'validate')
        assert tasks, role
        for task in tasks:
            assert 'always' in task['tags'] and role in task['tags'], (role, task['name'])
            # read-only: modules that only read, a command that changes nothing, a module in check mode
            read_only = task['module'] in ('set_fact', 'assert', 'fail', 'hypervisor_facts', 'harden_plan', 'stat', 'getent', 'setup',
                                           'debug')
            read_only = read_only or (task['module'] in ('command', 'shell') and task['changed_when'] is False)
            read_only = read_only or task['check_mode'] is True
            assert read_only, (role, task['name'], task['module'])
            validate_names.add(FQCN % role + ' : ' + task['name'])
        # main imports the same checks, so a role imported alone still validates first
        assert [t['name'] for t in TASKS[role][:len(tasks)]] == [t['name'] for t in tasks], role
    harden = os.path.join(ROOT, 'playbooks', 'harden.yml')
    for args in ((), ('--tags', 'HVS-MGMT-18'), ('--tags', 'vswitch')):
        for playbook, inventory in ((harden, EXAMPLE_INVENTORY), (EXAMPLE, EXAMPLE_INVENTORY)):
            names = [name for dummy, name, dummy2 in listed_tasks(
                example_run('ansible-playbook', '-i', inventory, playbook, '--list-tasks', *args))]
            # the first task of a role's main entry point: its argument validation where the role
            # is imported, the include_role task where harden.yml includes it (listed, not expanded)
            first_main = min(i for i, n in enumerate(names) if (n.startswith('hvsec.hypervisor.')
                                                                and "arg spec 'main'" in n) or n.startswith('Harden the '))
            validations = [n for n in names[:first_main] if n.startswith('hvsec.hypervisor.')]
            roles = set(n.split(' : ')[0].rsplit('.', 1)[-1] for n in validations)
            # always-tagged: --tags of one control or area still validates every role (as the roles'
            # own always-tagged validation and fact tasks run under any --tags)
            assert roles == set(ROLES), (playbook, args, roles)
            assert set(n for n in validations if 'arg spec' not in n) <= validate_names, (playbook, args)


def test_example_inventory_uses_documentation_placeholders():
    import ipaddress
    import json
    data = json.loads(example_run('ansible-inventory', '-i', EXAMPLE_INVENTORY, '--list'))
    hostvars = data['_meta']['hostvars']
    assert set(data['hypervisors']['hosts']) == set(hostvars) and len(hostvars) >= 2
    nets = [ipaddress.ip_network(n) for n in TEST_NETS]
    for host, hv in hostvars.items():
        assert re.fullmatch(r'[a-z0-9-]+\.example\.(net|com|org)', host), host
        assert any(ipaddress.ip_address(hv['ansible_host']) in n for n in nets), (host, hv['ansible_host'])
        for cidr in hv.get('hvsec_mgmt_plane_admin_cidrs', []):
            assert any(ipaddress.ip_network(cidr).subnet_of(n) for n in nets), cidr


def test_example_inventory_sets_documented_valid_role_variables():
    import json
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    data = json.loads(example_run('ansible-inventory', '-i', EXAMPLE_INVENTORY, '--list'))
    specs = dict((role, role_tasks.load_yaml(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml'))
                  ['argument_specs']['main']['options']) for role in ROLES)
    for host, hv in data['_meta']['hostvars'].items():
        ours = set(k for k in hv if k.startswith('hvsec_'))
        documented = set().union(*specs.values())
        assert ours <= documented, 'undocumented: %s' % sorted(ours - documented)
        for role, spec in specs.items():
            params = dict((k, v) for k, v in hv.items() if k in spec)
            # every role gets its own variables from the example, not only the shared ones
            assert set(params) - {'hvsec_reboot_ok', 'hvsec_waivers'}, (host, role)
            result = ArgumentSpecValidator(spec).validate(params)
            assert not result.error_messages, (host, role, result.error_messages)
        for waiver in hv.get('hvsec_waivers', []):
            assert waiver['id'] in CATALOG.BY_ID and waiver['reason']
