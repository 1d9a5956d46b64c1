# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_config pinned: each message word for word (invalid settings, a directory, a missing
file, unreadable and invalid files, a mode that cannot be set with the reason, the mode left
readable after the write) and the result whole for a set, an unset and a restricted mode. From the
survivors of `make mutation AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.hvsec.hypervisor.plugins.modules import libvirt_config
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import run_module

DAEMON = 'listen_tls = 0\nauth_tcp = "sasl"\n'


def _run(monkeypatch, capsys, params, **kw):
    return run_module(monkeypatch, capsys, libvirt_config.main, params, **kw)


def test_result_whole(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'libvirtd.conf'
    path.write_text(DAEMON)
    os.chmod(str(path), 0o640)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'listen_tls': 1}, 'unset': ['auth_tcp']},
               check_mode=True)
    for attr in ('uid', 'gid', 'owner', 'group', 'mode', 'size', 'state', 'secontext'):
        out.pop(attr, None)
    assert out == {'_rc': 0, 'changed': True, 'path': str(path), 'schema': 'daemon', 'warnings': [],
                   'changes': out['changes'],
                   'diff': {'before': DAEMON, 'after': 'listen_tls = 1\n', 'before_header': '%s (before)' % path,
                            'after_header': '%s (after)' % path}}
    assert path.read_text() == DAEMON
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'listen_tls': 1}, 'unset': ['auth_tcp'],
                                     'schema': 'none'}, diff=False)
    assert out['schema'] == 'none' and 'diff' not in out and 'backup_file' not in out
    assert path.read_text() == 'listen_tls = 1\n'
    assert os.stat(str(path)).st_mode & 0o777 == 0o640     # no secret in it: the mode is kept


def test_messages(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': 1, 'vnc_tls': 1},
                                     'unset': ['vnc_tls']})
    assert out['msg'] == ('libvirt_config: invalid settings for %s: vnc_listen must be a string, got int 1; vnc_tls is '
                          'both in settings and in unset' % path)
    assert out['errors'] == ['vnc_listen must be a string, got int 1', 'vnc_tls is both in settings and in unset']
    out = _run(monkeypatch, capsys, {'path': str(tmp_path), 'settings': {'vnc_listen': 'x'}})
    assert out['msg'] == 'libvirt_config: path %s is a directory' % tmp_path
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': 'x'}})
    assert out['msg'] == 'libvirt_config: %s does not exist (set create=true to create it)' % path
    path.write_bytes(b'vnc_listen = "\xff"\n')
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': 'x'}})
    assert out['msg'].startswith('libvirt_config: cannot read %s: ' % path) and 'utf-8' in out['msg']
    path.write_text('vnc_listen = [\n')
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': 'x'}})
    assert out['msg'].startswith('libvirt_config: %s is not valid libvirt syntax (' % path)
    assert out['msg'].endswith('); not changed')


def test_mode_messages(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('vnc_password = "S3cret-old"\n')
    os.chmod(str(path), 0o644)

    def refuse(p, mode):
        raise OSError(1, 'Operation not permitted')
    monkeypatch.setattr(libvirt_config.os, 'chmod', refuse)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.1'}})
    assert out['msg'] == ('libvirt_config: cannot set %s to mode 0600 (it holds vnc_password): [Errno 1] Operation not '
                          'permitted; the secret stays readable by group or others, fix the mode by hand' % path)
    monkeypatch.undo()
    # the write leaves the mode readable (an ACL or a filesystem ignoring modes): refused after the fact
    monkeypatch.setattr(libvirt_config, 'write_atomic', lambda module, p, text, mode: open(p, 'w').write(text))
    monkeypatch.setattr(libvirt_config, '_restrict', lambda module, p, why: None)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.1'}})
    assert out['msg'] == ('libvirt_config: %s holds vnc_password but is mode 0644 after the write, not 0600 (group and '
                          'others can read the secret)' % path)
    assert out['mode_changed'] == {'before': '0644', 'after': '0600', 'secret_keys': ['vnc_password']}
    assert out['changed'] is True and out['path'] == str(path)


def test_value_the_file_cannot_hold(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('')
    out = _run(monkeypatch, capsys, {'path': str(path), 'unset': ['1bad']})
    assert out['msg'] == ('libvirt_config: \'1bad\' is not a valid libvirt setting name (a letter, then letters, digits '
                          'or "_")')


def test_explicit_schema_checks_types(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'custom.conf'
    path.write_text('')
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'listen_tls': 'yes'}, 'schema': 'daemon'})
    assert out['msg'].startswith('libvirt_config: invalid settings for %s: listen_tls must be an integer' % path)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'listen_tls': 'yes'}, 'schema': 'none'},
               check_mode=True)
    assert out['_rc'] == 0 and out['schema'] == 'none'


def test_the_edit_is_read_back_before_writing(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('vnc_tls = 1\n')
    read_back = "libvirt_config: vnc_listen would read back as '0.0.0.0', not '127.0.0.1'; not changed"
    still_set = 'libvirt_config: vnc_tls would still be set; not changed'
    for text, message in (('vnc_listen = [\n', None),
                          ('vnc_listen = "0.0.0.0"\nvnc_tls = 1\n', read_back),
                          ('vnc_listen = "127.0.0.1"\nvnc_tls = 1\n', still_set)):
        monkeypatch.setattr(libvirt_config, 'edit', lambda before, settings, unset, text=text: (text, []))
        out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.1'},
                                         'unset': ['vnc_tls']})
        if message is None:
            assert out['msg'].startswith('libvirt_config: the edited file would not parse (')
            assert out['msg'].endswith('); not changed')
        else:
            assert out['msg'] == message
        assert path.read_text() == 'vnc_tls = 1\n'


def test_two_secrets_and_backups(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('vnc_listen = "0.0.0.0"\n')
    os.chmod(str(path), 0o644)
    # no secret in the old file nor in the new one: the backup keeps the mode
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '0.0.0.1'}, 'backup': True})
    assert os.stat(out['backup_file']).st_mode & 0o777 == 0o644 and 'mode_changed' not in out
    both = {'vnc_password': 'Vnc-S3cret', 'spice_password': 'Spice-S3cret'}
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': both, 'backup': True})
    assert out['mode_changed'] == {'before': '0644', 'after': '0600', 'secret_keys': ['spice_password', 'vnc_password']}
    # the backup of a file holding both is restricted, and says why when it cannot be
    real_chmod = os.chmod

    def chmod(p, mode, **kw):
        # the module's own chmod of the backup fails (shutil's, with follow_symlinks, copying it does not)
        if str(p) != str(path) and not kw:
            raise OSError(1, 'Operation not permitted')
        real_chmod(p, mode, **kw)
    monkeypatch.setattr(libvirt_config.os, 'chmod', chmod)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.1'}, 'backup': True})
    assert out['msg'].startswith('libvirt_config: cannot set %s.' % path)
    assert out['msg'].endswith(' to mode 0600 (it is a copy of %s holding spice_password, vnc_password): [Errno 1] '
                               'Operation not permitted; the secret stays readable by group or others, fix the mode '
                               'by hand' % path)
    monkeypatch.undo()
    os.chmod(str(path), 0o640)

    def refuse(p, mode, **kw):
        if kw:
            return real_chmod(p, mode, **kw)
        raise OSError(1, 'Operation not permitted')
    monkeypatch.setattr(libvirt_config.os, 'chmod', refuse)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.2'}})
    assert '(it holds spice_password, vnc_password)' in out['msg']


def test_mode_left_readable_names_both_secrets(monkeypatch, capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('vnc_password = "Vnc-S3cret"\nspice_password = "Spice-S3cret"\n')
    os.chmod(str(path), 0o644)
    monkeypatch.setattr(libvirt_config, 'write_atomic', lambda module, p, text, mode: open(p, 'w').write(text))
    monkeypatch.setattr(libvirt_config, '_restrict', lambda module, p, why: None)
    out = _run(monkeypatch, capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.1'}})
    assert out['msg'] == ('libvirt_config: %s holds spice_password, vnc_password but is mode 0644 after the write, not '
                          '0600 (group and others can read the secret)' % path)
