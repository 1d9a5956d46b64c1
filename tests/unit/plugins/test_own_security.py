# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own security (issue 9): secrets stay out of output, the files it creates
are not world-writable and are owned as they should be, nothing temporary is left behind.

What is checked, over the real code:

* Module options. Every module's argument spec is taken from the module itself (its ``main()``
  runs against a recording ``AnsibleModule``; doc-only modules from their action plugin) and
  walked with its suboptions. An option whose name or documented description says it holds a
  secret (password, passphrase, secret, token, key, credential) must be ``no_log=True`` unless its
  type cannot hold one (a path names a file, a bool or number is no secret). Free-form options
  (dicts, raw lists) must each be classified: either they cannot carry a secret, or a test below
  proves the module masks the secrets they can carry (libvirt_config ``settings``).
* Secrets the modules read: libvirt_config and hypervisor_facts read qemu.conf, which can hold
  ``vnc_password``/``spice_password``; nwfilter_domains reads domain XML with the console
  ``passwd``. Each is run on real file formats with a password in them; the module's whole JSON
  output (result, facts, diff, messages) must not contain it.
* Role tasks. Every ansible.builtin.template/copy/file (and any other file-creating module)
  task in roles/*/tasks and handlers sets owner, group and a quoted octal mode; none is
  world-writable; key material is 0600/0640 and root-owned.
* Module writes. Each module that writes files runs in a temporary directory on success and on
  injected failures (the rename fails; sshd -t, update-grub refuse): afterwards the directory
  holds only the target and the module's backups (no temporary file), an existing file keeps
  its mode, a new file gets the module's mode, nothing is world-writable, and a failure leaves
  the previous content intact.

``make test-safety`` runs this file with HVSEC_SAFETY_REPORT_DIR set; the counts go to
own_security.json there for the summary line.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import json
import os
import re
import stat

import pytest
import yaml
from unittest import mock

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PKG = 'ansible_collections.hvsec.hypervisor.'
COUNTS = {'secret_options': [], 'secret_options_hidden': [], 'options_checked': 0, 'role_files': [],
          'key_files': [], 'module_runs': [], 'module_files': [], 'temp_files_left': []}


@pytest.fixture(scope='module', autouse=True)
def report():
    yield
    out = os.environ.get('HVSEC_SAFETY_REPORT_DIR')
    if out:
        if not os.path.isdir(out):
            os.makedirs(out)
        with open(os.path.join(out, 'own_security.json'), 'w') as handle:
            json.dump(COUNTS, handle, indent=1, sort_keys=True)


# ================================================================== module options and secrets
NAME_RE = re.compile(r'pass(?!ive)|secret|token|key|credential|cookie', re.I)
DESC_RE = re.compile(r'\b(passwords?|passphrases?|passwd|secrets?|tokens?|private keys?|credentials?|key material)\b',
                     re.I)
CANNOT_HOLD_SECRET = ('path', 'bool', 'int', 'float')

# Free-form options (dict, raw, list of dicts without suboptions) and why no secret can leak
# through them. A new free-form option fails test_free_form_options_are_classified until added.
FREE_FORM = {
    'audit_evaluate.facts': 'hypervisor_facts output, already masked by that module (tested below)',
    'audit_evaluate.settings': 'hvsec_* role variables; no role variable holds a secret (paths only)',
    'audit_evaluate.waivers': 'control IDs and reasons',
    'harden_plan.input': 'a role\'s typed hvsec_* variables (paths only, no secret); only their digest is kept',
    'audit_report.outcome': "the reporting task's registered result (verdicts, counts, messages; no facts values)",
    'ovs_security.controllers': 'OpenFlow controller targets (ssl:/unix: addresses)',
    'sshd_dropin.guard': 'the controller connection (address, port, user name, whether a password is used)',
    'sshd_dropin.options': 'sshd keywords; sshd_config has no secret-valued keyword (keys live in files)',
}
# Free-form options that CAN carry a secret: masked by the module, proven by the named test.
FREE_FORM_SECRETS = {
    'libvirt_config.settings': 'test_libvirt_config_masks_passwords',
}


class _Built(Exception):
    pass


def module_names():
    return sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, 'plugins', 'modules'))
                  if n.endswith('.py') and not n.startswith('_'))


def argument_spec(name):
    """(argument_spec, documented options) of module ``name``, from the code itself."""
    mod = importlib.import_module(PKG + 'plugins.modules.' + name)
    doc = yaml.safe_load(mod.DOCUMENTATION) or {}
    if not hasattr(mod, 'main'):
        action = importlib.import_module(PKG + 'plugins.action.' + name)
        return action.ARGUMENT_SPEC, doc.get('options') or {}
    built = {}

    def record(*args, **kwargs):
        built.update(kwargs)
        raise _Built()
    with mock.patch.object(mod, 'AnsibleModule', record):
        with pytest.raises(_Built):
            mod.main()
    return built['argument_spec'], doc.get('options') or {}


def walk(spec, docs, prefix):
    for opt, entry in sorted(spec.items()):
        doc = (docs or {}).get(opt) or {}
        desc = doc.get('description') or ''
        desc = ' '.join(desc) if isinstance(desc, list) else str(desc)
        yield prefix + opt, entry, desc
        if entry.get('options'):
            yield from walk(entry['options'], doc.get('suboptions') or doc.get('options'), prefix + opt + '.')


def all_options():
    out = []
    for name in module_names():
        spec, docs = argument_spec(name)
        out.extend(walk(spec, docs, name + '.'))
    return out


OPTIONS = all_options()


def test_every_module_is_inspected():
    names = set(o[0].split('.', 1)[0] for o in OPTIONS)
    assert names == set(module_names())
    assert len(OPTIONS) > 50


def test_every_option_that_can_hold_a_secret_is_no_log():
    missing = []
    for qualname, entry, desc in OPTIONS:
        says_secret = NAME_RE.search(qualname.rsplit('.', 1)[1]) or DESC_RE.search(desc)
        if not says_secret:
            continue
        if entry.get('type', 'str') in CANNOT_HOLD_SECRET or entry.get('choices'):
            continue
        COUNTS['secret_options'].append(qualname)
        if entry.get('no_log') is True:
            COUNTS['secret_options_hidden'].append(qualname)
        else:
            missing.append(qualname)
    COUNTS['options_checked'] = len(OPTIONS)
    assert missing == [], 'options that can hold a secret without no_log=True: %s' % missing


def test_free_form_options_are_classified():
    free = []
    for qualname, entry, desc in OPTIONS:
        kind = entry.get('type', 'str')
        if entry.get('options'):
            continue
        if kind in ('dict', 'raw') or (kind == 'list' and entry.get('elements') in ('dict', 'raw', None)):
            free.append(qualname)
    unclassified = sorted(set(free) - set(FREE_FORM) - set(FREE_FORM_SECRETS))
    assert unclassified == [], 'free-form options nobody checked for secrets: %s' % unclassified
    stale = sorted((set(FREE_FORM) | set(FREE_FORM_SECRETS)) - set(free))
    assert stale == [], 'classified options that no longer exist: %s' % stale
    for test in FREE_FORM_SECRETS.values():
        assert callable(globals().get(test)), test


def _module_output(capsys, module, args):
    """Run ``module.main()`` with ``args``; return (parsed result, raw stdout)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    raw = capsys.readouterr().out
    return json.loads(raw), raw


QEMU_CONF = ('# qemu.conf\nvnc_listen = "0.0.0.0"\nvnc_password = "Old-Vnc-S3cret"\n'
             'spice_password = "Old-Spice-S3cret"\n')


def test_libvirt_config_masks_passwords(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import libvirt_config
    conf = tmp_path / 'qemu.conf'
    conf.write_text(QEMU_CONF)
    conf.chmod(0o600)
    args = {'path': str(conf), 'settings': {'vnc_listen': '127.0.0.1', 'vnc_password': 'New-Vnc-S3cret'},
            'backup': True, '_ansible_diff': True}
    res, raw = _module_output(capsys, libvirt_config, args)
    assert res['changed'] is True and 'diff' in res
    for secret in ('Old-Vnc-S3cret', 'Old-Spice-S3cret', 'New-Vnc-S3cret'):
        assert secret not in raw, secret
    assert 'vnc_password = "New-Vnc-S3cret"' in conf.read_text()    # written, just not shown
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    # a failing call (wrong type for a known key) masks the secret in its message too
    res, raw = _module_output(capsys, libvirt_config, {'path': str(conf), 'settings': {
        'spice_password': 'Third-S3cret', 'vnc_tls': 'maybe'}})
    assert res['failed'] is True and 'Third-S3cret' not in raw and 'Old-Spice-S3cret' not in raw
    COUNTS['secret_options'].append('libvirt_config.settings')
    COUNTS['secret_options_hidden'].append('libvirt_config.settings')


def test_hypervisor_facts_mask_qemu_conf_passwords(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import hypervisor_facts
    from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft
    root = ft.build_root('intel_vtd', tmp_path)
    with open(os.path.join(root, 'etc/libvirt/qemu.conf'), 'a') as handle:
        handle.write('vnc_password = "Facts-Vnc-S3cret"\n')

    def gather(**kwargs):
        kwargs.update(root=root, run_command=ft.fake_runner('intel_vtd'), get_bin_path=ft.fake_bin_path('intel_vtd'))
        return hvfacts.gather_facts(**kwargs)
    with mock.patch.object(hypervisor_facts, 'gather_facts', gather):
        res, raw = _module_output(capsys, hypervisor_facts, {'gather': ['libvirt']})
    qemu = res['ansible_facts']['hvsec']['libvirt']['config']['qemu']
    assert 'vnc_password' in qemu and qemu['vnc_password'] not in (None, '')   # set, and says so
    assert 'Facts-Vnc-S3cret' not in raw


def test_nwfilter_domains_masks_the_console_password(monkeypatch, capsys):
    from ansible_collections.hvsec.hypervisor.plugins.modules import nwfilter_domains
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_nwfilter_domains import Virsh
    virsh = Virsh()
    assert "passwd='s3cret'" in virsh.xml      # the fixture domain has a VNC password
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', virsh.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', virsh.run_command)
    monkeypatch.setattr(nwfilter_domains.os.path, 'isdir', lambda p: False)
    res, raw = _module_output(capsys, nwfilter_domains, {'_ansible_check_mode': True, '_ansible_diff': True})
    assert res['changed'] is True and res['diff'], res
    assert 's3cret' not in raw


# ================================================================== files the roles create
FILE_MODULES = ('ansible.builtin.template', 'ansible.builtin.copy', 'ansible.builtin.file',
                'ansible.builtin.lineinfile', 'ansible.builtin.blockinfile', 'ansible.builtin.get_url',
                'ansible.builtin.unarchive', 'ansible.builtin.assemble')
KEY_MATERIAL = re.compile(r'key|private|secret|passw|\.pem$|\.p12$', re.I)


def role_task_files():
    out = []
    for role in sorted(os.listdir(os.path.join(ROOT, 'roles'))):
        for part in ('tasks', 'handlers'):
            base = os.path.join(ROOT, 'roles', role, part)
            if os.path.isdir(base):
                out.extend(os.path.join(base, n) for n in sorted(os.listdir(base)) if n.endswith(('.yml', '.yaml')))
    return out


def iter_tasks(tasks):
    for task in tasks or []:
        yield task
        for key in ('block', 'rescue', 'always'):
            yield from iter_tasks(task.get(key))


def file_tasks():
    """(where, module, args, item) of every file-creating task; loop items resolved for item.mode."""
    out = []
    for path in role_task_files():
        with open(path) as handle:
            tasks = yaml.safe_load(handle) or []
        for task in iter_tasks(tasks):
            module = [m for m in FILE_MODULES if m in task]
            short = [k for k in task if k in [m.rsplit('.', 1)[1] for m in FILE_MODULES]]
            assert not short, '%s: %s uses a short module name' % (path, task.get('name'))
            if not module:
                continue
            args = task[module[0]]
            where = '%s: %s' % (os.path.relpath(path, ROOT), task.get('name'))
            loop = task.get('loop')
            if isinstance(loop, list) and all(isinstance(i, dict) for i in loop):
                out.extend((where, module[0], args, item) for item in loop)
            else:
                out.append((where, module[0], args, None))
    return out


def _resolve(value, item):
    m = re.match(r'^\{\{\s*item\.(\w+)\s*\}\}$', str(value))
    if m and item is not None:
        return item.get(m.group(1))
    return value


FILE_TASKS = file_tasks()


def test_role_file_tasks_are_found():
    assert len(FILE_TASKS) >= 10
    assert set(t[1] for t in FILE_TASKS) >= set(['ansible.builtin.template', 'ansible.builtin.copy',
                                                 'ansible.builtin.file'])


FILE_TASK_IDS = ['%s [%s]' % (t[0], (t[3] or {}).get('dest', '')) for t in FILE_TASKS]


@pytest.mark.parametrize('where,module,args,item', FILE_TASKS, ids=FILE_TASK_IDS)
def test_role_file_task_owner_group_mode(where, module, args, item):
    if args.get('state') == 'absent':
        return
    for key in ('owner', 'group', 'mode'):
        assert key in args, '%s: no explicit %s' % (where, key)
    owner, group = _resolve(args['owner'], item), _resolve(args['group'], item)
    mode = _resolve(args['mode'], item)
    assert isinstance(mode, str) and re.match(r'^0[0-7]{3}$', mode), \
        '%s: mode %r must be a quoted octal string like "0644"' % (where, mode)
    bits = int(mode, 8)
    assert not bits & stat.S_IWOTH, '%s: mode %s is world-writable' % (where, mode)
    assert (owner, group) == ('root', 'root'), '%s: owned by %s:%s' % (where, owner, group)
    target = ' '.join(str(_resolve(args.get(k, ''), item)) for k in ('dest', 'path', 'src'))
    COUNTS['role_files'].append('%s -> %s' % (where, target))
    if KEY_MATERIAL.search(target):
        assert mode in ('0600', '0640') and owner == 'root', '%s: key material with mode %s' % (where, mode)
        COUNTS['key_files'].append(target)


# ================================================================== files the modules write
BACKUP_RE = re.compile(r'\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$')


def snapshot(*dirs):
    """{path: mode} of every file, link and directory under ``dirs``."""
    out = {}
    for top in dirs:
        for dirpath, dirnames, filenames in os.walk(str(top)):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                out[path] = stat.S_IMODE(os.lstat(path).st_mode) if not os.path.islink(path) else 'link'
    return out


def contents(paths):
    out = {}
    for path in paths:
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, 'rb') as handle:
                out[path] = handle.read()
    return out


class Injected(object):
    """AnsibleModule.atomic_move that fails the way the real one does (fail_json) on a rename error."""

    def __init__(self):
        self.hits = 0

    def method(self):
        def atomic_move(module, src, dest, *args, **kwargs):
            self.hits += 1
            module.fail_json(msg='injected: could not replace %s' % dest)
        return atomic_move


def check_run(label, dirs, before, allowed_new, changed, failed=False, new_modes=None, before_text=None):
    """After a module run: no stray file, modes kept or as wanted, nothing world-writable."""
    after = snapshot(*dirs)
    created = sorted(set(after) - set(before))
    stray = [p for p in created if p not in allowed_new and not BACKUP_RE.search(p)
             and not any(p.startswith(a + os.sep) for a in allowed_new)]
    COUNTS['module_runs'].append(label)
    COUNTS['temp_files_left'].extend(stray)
    assert stray == [], '%s left files behind: %s' % (label, stray)
    for path in set(after) & set(before):
        if before[path] != 'link':
            assert after[path] == before[path], '%s changed the mode of %s: %o -> %o' % (
                label, path, before[path], after[path])
    for path in created:
        if after[path] != 'link':
            assert not after[path] & stat.S_IWOTH, '%s created world-writable %s' % (label, path)
            if new_modes and path in new_modes:
                assert after[path] == new_modes[path], '%s created %s with mode %o, wanted %o' % (
                    label, path, after[path], new_modes[path])
    if failed and before_text is not None:
        assert contents(before_text) == before_text, '%s: a failed run changed files' % label
    for path in changed:
        assert path in after, '%s did not write %s' % (label, path)
        COUNTS['module_files'].append(path)


def _failing_move():
    injected = Injected()
    return injected, mock.patch.object(AnsibleModule, 'atomic_move', injected.method())


def fail_then_apply(capsys, module, args, label, dirs, written, allowed_new=(), new_modes=None, created_on_failure=()):
    """Run ``module`` once with its rename failing (nothing may be left behind, nothing changed),
    then for real (only ``written``, backups and ``allowed_new`` may appear)."""
    before = snapshot(*dirs)
    text = contents(before)
    injected, patch = _failing_move()
    with patch:
        res, raw = _module_output(capsys, module, args)
    assert res['failed'] is True and injected.hits == 1, res
    check_run(label + ' failed rename', dirs, before, list(created_on_failure), [], failed=True, before_text=text)
    res, raw = _module_output(capsys, module, args)
    assert res['changed'] is True, res
    check_run(label + ' apply', dirs, before, list(allowed_new) + list(written), written, new_modes=new_modes)


# ---------------------------------------------------------------- libvirt_config
def test_libvirt_config_writes(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import libvirt_config
    conf = tmp_path / 'qemu.conf'
    # no secret in it: an existing file keeps its mode (one holding a password ends at 0600,
    # tests/unit/plugins/modules/test_libvirt_config.py)
    conf.write_text('# qemu.conf\nvnc_listen = "0.0.0.0"\n')
    conf.chmod(0o640)
    before = snapshot(tmp_path)
    res, raw = _module_output(capsys, libvirt_config, {'path': str(conf), 'settings': {'vnc_listen': '127.0.0.1'},
                                                       'backup': True})
    assert res['changed'] is True
    check_run('libvirt_config update', [tmp_path], before, [], [str(conf)])
    new = tmp_path / 'virtqemud.conf'
    before = snapshot(tmp_path)
    _module_output(capsys, libvirt_config, {'path': str(new), 'settings': {'audit_level': 1}, 'create': True})
    check_run('libvirt_config create', [tmp_path], before, [str(new)], [str(new)], new_modes={str(new): 0o600})
    before = snapshot(tmp_path)
    text = contents(before)
    injected, patch = _failing_move()
    with patch:
        res, raw = _module_output(capsys, libvirt_config, {'path': str(conf), 'settings': {'vnc_listen': '::1'}})
    assert res['failed'] is True and injected.hits == 1
    check_run('libvirt_config failed rename', [tmp_path], before, [], [], failed=True, before_text=text)


# ---------------------------------------------------------------- sshd_dropin
def test_sshd_dropin_writes(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import sshd_dropin
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_sshd_dropin import FAKE_SSHD, GOOD
    conf_d = tmp_path / 'sshd_config.d'
    conf_d.mkdir()
    (tmp_path / 'sshd_config').write_text('Include %s/*.conf\nPermitRootLogin yes\n' % conf_d)
    sshd = tmp_path / 'sshd'
    sshd.write_text(FAKE_SSHD)
    sshd.chmod(0o755)
    dropin = conf_d / '00-hvsec.conf'
    args = {'path': str(dropin), 'main_config': str(tmp_path / 'sshd_config'), 'sshd': str(sshd), 'options': GOOD}
    before = snapshot(tmp_path)
    res, raw = _module_output(capsys, sshd_dropin, args)
    assert res['changed'] is True, res
    check_run('sshd_dropin create', [tmp_path], before, [str(dropin)], [str(dropin)], new_modes={str(dropin): 0o644})
    dropin.chmod(0o600)
    before = snapshot(tmp_path)
    text = contents(before)
    bad = dict(args, options=GOOD + [{'name': 'Ciphers', 'value': ['bogus-cipher']}])
    res, raw = _module_output(capsys, sshd_dropin, bad)
    assert res['failed'] is True and 'sshd -t rejected' in res['msg']
    check_run('sshd_dropin sshd -t refused', [tmp_path], before, [], [], failed=True, before_text=text)
    injected, patch = _failing_move()
    with patch:
        res, raw = _module_output(capsys, sshd_dropin, dict(args, options=[{'name': 'PermitRootLogin', 'value': 'no'}]))
    assert res['failed'] is True and injected.hits >= 1
    check_run('sshd_dropin failed rename', [tmp_path], before, [], [], failed=True, before_text=text)
    res, raw = _module_output(capsys, sshd_dropin, dict(args, options=[{'name': 'PermitRootLogin', 'value': 'no'}]))
    assert res['changed'] is True
    check_run('sshd_dropin update', [tmp_path], before, [], [str(dropin)])


# ---------------------------------------------------------------- kernel_cmdline
def test_kernel_cmdline_writes(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules import test_kernel_cmdline as kc
    grub = tmp_path / 'grub'
    grub.write_text(kc.fixture('debian12_default_grub').replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="iommu=pt"'))
    grub.chmod(0o640)
    (tmp_path / 'grub.d').mkdir()
    args = dict(kc.STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=kc.RUNNING, backup=True)
    host = kc.Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, lambda cmd: (1, '', 'error: disk full\n'))
    before = snapshot(tmp_path)
    text = contents(before)
    res = kc.run(capsys, args, host)
    assert res['failed'] is True and 'restored the original' in res['msg']
    check_run('kernel_cmdline update-grub failed', [tmp_path], before, [], [], failed=True, before_text=text)
    host = kc.Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, kc.ok)
    injected, patch = _failing_move()
    with patch:
        res = kc.run(capsys, args, host)
    assert res['failed'] is True and injected.hits == 1
    check_run('kernel_cmdline failed rename', [tmp_path], before, [], [], failed=True, before_text=text)
    res = kc.run(capsys, args, host)
    assert res['changed'] is True
    check_run('kernel_cmdline update', [tmp_path], before, [], [str(grub)])


# ---------------------------------------------------------------- pci_passthrough
def test_pci_passthrough_writes(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import pci_passthrough
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture, lab_host, write
    root = str(lab_host(tmp_path))
    write(root, 'run/hvsec-test/ip-addr.json', fixture('ip-addr.json'))
    write(root, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 'Y\n')
    write(root, 'sys/module/vfio/parameters/enable_unsafe_noiommu_mode', 'N\n')
    admin = write(root, 'etc/modprobe.d/iommu_unsafe_interrupts.conf', fixture('modprobe-unsafe.conf'))
    os.chmod(admin, 0o640)
    etc = os.path.join(root, 'etc')
    managed = os.path.join(root, 'etc/modprobe.d/hvsec-vfio.conf')
    before = snapshot(etc)
    text = contents(before)
    injected, patch = _failing_move()
    with patch, mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop('SSH_CONNECTION', None)
        res, raw = _module_output(capsys, pci_passthrough, {'root': root, 'devices': []})
    assert res['failed'] is True and injected.hits == 1
    check_run('pci_passthrough failed rename', [etc], before, [], [], failed=True, before_text=text)
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop('SSH_CONNECTION', None)
        res, raw = _module_output(capsys, pci_passthrough, {'root': root, 'devices': []})
    assert res['changed'] is True, res
    check_run('pci_passthrough lock_unsafe', [etc], before, [managed], [admin, managed], new_modes={managed: 0o644})


# ---------------------------------------------------------------- sriov_vf
def test_sriov_vf_writes(capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import sriov_vf
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules import test_sriov_vf as sv
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture, lab_host, write
    root = str(lab_host(tmp_path))
    write(root, 'run/hvsec-test/ip-link-eth2.json', fixture('ip-link-eth2.json'))
    sv.install_fake_ip(root)
    etc = os.path.join(root, 'etc')
    conf = os.path.join(root, 'etc/hvsec/sriov/eth2.conf')
    args = {'root': root, 'pf': 'eth2', 'numvfs': 2, 'vfs': [sv.VF0, sv.VF1]}
    fail_then_apply(capsys, sriov_vf, args, 'sriov_vf', [etc], [conf], allowed_new=[os.path.join(root, 'etc/hvsec')],
                    new_modes={conf: 0o644}, created_on_failure=[os.path.join(root, 'etc/hvsec')])


# ---------------------------------------------------------------- bridge_security
def test_bridge_security_writes(monkeypatch, capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import bridge_security
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_bridge_security import Host, PORTS
    host = Host('insecure')
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', host.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', host.run_command)
    monkeypatch.setattr(bridge_security, 'read_int', host.read_int)
    monkeypatch.delenv('SSH_CONNECTION', raising=False)
    etc, units = tmp_path / 'etc', tmp_path / 'units'
    args = {'bridges': [{'name': 'br-guest', 'ports': PORTS}], 'config_dir': str(etc), 'unit_dir': str(units)}
    etc.mkdir()
    units.mkdir()
    script, unit = os.path.join(str(etc), 'bridge-br-guest.sh'), os.path.join(str(units), 'hvsec-vswitch-br-guest.service')
    fail_then_apply(capsys, bridge_security, args, 'bridge_security', [tmp_path], [script, unit],
                    allowed_new=[str(units)], new_modes={script: 0o700, unit: 0o644})


# ---------------------------------------------------------------- ovs_security
def test_ovs_security_writes(monkeypatch, capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import ovs_security
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_ovs_security import FakeTools

    class Tools(FakeTools):
        def get_bin_path(self, name, *args, **kwargs):
            return '/usr/sbin/nft' if name == 'nft' else FakeTools.get_bin_path(self, name)

        def run_command(self, args, *a, **kw):
            if args[1:3] == ['list', 'table']:
                self.calls.append(list(args))
                return 1, '', 'No such file or directory'
            return FakeTools.run_command(self, args)
    tools = Tools('ovs_insecure.json')
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', tools.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', tools.run_command)
    etc, units = tmp_path / 'etc', tmp_path / 'units'
    etc.mkdir()
    units.mkdir()
    args = {'ports': [{'name': 'vo1', 'tag': 100, 'mac': '52:54:00:00:00:01', 'ips': ['192.0.2.7']}],
            'config_dir': str(etc), 'unit_dir': str(units)}
    nft, script = os.path.join(str(etc), 'port-vo1.nft'), os.path.join(str(etc), 'port-vo1.sh')
    unit = os.path.join(str(units), 'hvsec-vswitch-port-vo1.service')
    fail_then_apply(capsys, ovs_security, args, 'ovs_security', [tmp_path], [nft, script, unit], allowed_new=[str(units)],
                    new_modes={nft: 0o600, script: 0o700, unit: 0o644})


# ---------------------------------------------------------------- nwfilter_domains
def test_nwfilter_domains_writes(monkeypatch, capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.plugins.modules import nwfilter_domains
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_nwfilter_domains import Virsh
    virsh = Virsh()
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', virsh.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', virsh.run_command)
    etc = tmp_path / 'etc'
    (etc / 'modules-load.d').mkdir(parents=True)
    (etc / 'sysctl.d').mkdir()
    proc = tmp_path / 'proc'
    proc.mkdir()
    for k in ('iptables', 'ip6tables'):
        (proc / ('bridge-nf-call-' + k)).write_text('0\n')
    modload, sysctl = str(etc / 'modules-load.d' / 'hvsec.conf'), str(etc / 'sysctl.d' / '90-hvsec.conf')
    monkeypatch.setattr(nwfilter_domains, 'MODLOAD', modload)
    monkeypatch.setattr(nwfilter_domains, 'SYSCTL', sysctl)
    monkeypatch.setattr(nwfilter_domains, 'NF', str(proc / 'bridge-nf-call-%s'))
    real_isdir = os.path.isdir
    monkeypatch.setattr(nwfilter_domains.os.path, 'isdir',
                        lambda p: p == '/sys/class/net/br-guest/bridge' or (not p.startswith('/sys/') and real_isdir(p)))
    tmpdir = tmp_path / 'tmp'
    tmpdir.mkdir()
    monkeypatch.setattr(nwfilter_domains.tempfile, 'tempdir', str(tmpdir))
    fail_then_apply(capsys, nwfilter_domains, {}, 'nwfilter_domains', [etc, tmpdir], [modload, sysctl],
                    new_modes={modload: 0o644, sysctl: 0o644})
