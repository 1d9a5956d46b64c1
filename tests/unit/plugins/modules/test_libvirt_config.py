# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest
from unittest import mock

from ansible.module_utils import _internal
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import libvirt_config

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'libvirt')


def _run(capsys, args, check_mode=False, diff=False):
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    # Warnings go into the result only on the target side: a test module imported before this one may
    # have loaded controller code, which marks the whole process as the controller (ansible-core 2.19).
    with patch_module_args(args), mock.patch.object(_internal, 'is_controller', False):
        with pytest.raises(SystemExit) as exc:
            libvirt_config.main()
    out = json.loads(capsys.readouterr().out)
    out['_rc'] = exc.value.code
    return out


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / 'libvirtd.conf'
    shutil.copy(os.path.join(FIXTURES, 'libvirtd.conf'), str(path))
    with open(str(path), 'a') as f:
        f.write('listen_tcp = 1\nauth_tcp = "none"\n')
    os.chmod(str(path), 0o640)
    return path


def test_set_unset_backup_diff_then_idempotent(capsys, conf):
    before = conf.read_text()
    args = {'path': str(conf), 'settings': {'listen_tcp': 0, 'access_drivers': ['polkit']},
            'unset': ['auth_tcp'], 'backup': True}
    res = _run(capsys, args, diff=True)
    assert res['_rc'] == 0 and res['changed'] is True
    after = conf.read_text()
    assert after.endswith('listen_tcp = 0\naccess_drivers = [ "polkit" ]\n')
    assert 'auth_tcp = "none"' not in after
    assert res['diff']['before'] == before and res['diff']['after'] == after
    with open(res['backup_file']) as f:
        assert f.read() == before
    assert oct(os.stat(str(conf)).st_mode & 0o777) == oct(0o640)
    args['backup'] = False
    res = _run(capsys, args)
    assert res['changed'] is False and res['changes'] == []
    assert conf.read_text() == after


def test_check_mode_predicts_and_changes_nothing(capsys, conf):
    before = conf.read_text()
    res = _run(capsys, {'path': str(conf), 'settings': {'listen_tcp': 0}}, check_mode=True, diff=True)
    assert res['changed'] is True
    assert 'listen_tcp = 0' in res['diff']['after']
    assert conf.read_text() == before
    assert 'backup_file' not in res


def test_wrong_type_fails_before_writing(capsys, conf):
    before = conf.read_text()
    res = _run(capsys, {'path': str(conf), 'settings': {'listen_tcp': 'yes', 'auth_tcp': 'sasl'}})
    assert res['failed'] is True and 'listen_tcp must be an integer' in res['msg']
    assert conf.read_text() == before


def test_unknown_key_warns(capsys, conf):
    res = _run(capsys, {'path': str(conf), 'settings': {'no_such_knob': 1}})
    assert res['changed'] is True
    assert 'no_such_knob is not a known libvirt daemon setting' in json.dumps(res['warnings'])


def test_broken_file_is_not_rewritten(capsys, tmp_path):
    path = tmp_path / 'qemu.conf'
    path.write_text('vnc_listen = "0.0.0.0\n')
    res = _run(capsys, {'path': str(path), 'settings': {'vnc_listen': '127.0.0.1'}})
    assert res['failed'] is True and 'line 1' in res['msg'] and 'not changed' in res['msg']
    assert path.read_text() == 'vnc_listen = "0.0.0.0\n'


def test_missing_file_fails_unless_create(capsys, tmp_path):
    path = tmp_path / 'virtproxyd.conf'
    res = _run(capsys, {'path': str(path), 'settings': {'listen_tcp': 0}})
    assert res['failed'] is True and 'does not exist' in res['msg']
    res = _run(capsys, {'path': str(path), 'settings': {'listen_tcp': 0}, 'create': True})
    assert res['changed'] is True and path.read_text() == 'listen_tcp = 0\n'
    assert res['schema'] == 'daemon'


# ---------------------------------------------------------------- files holding secrets: 0600
def _mode(path):
    return os.stat(str(path)).st_mode & 0o777


def _backups(directory):
    return sorted(p for p in os.listdir(str(directory)) if p.startswith('qemu.conf.') and p.endswith('~'))


@pytest.fixture
def qemu_conf(tmp_path):
    """Debian's qemu.conf as an administrator may leave it: world-readable."""
    path = tmp_path / 'qemu.conf'
    shutil.copy(os.path.join(FIXTURES, 'qemu.conf'), str(path))
    os.chmod(str(path), 0o644)
    return path


def test_writing_a_password_leaves_file_and_backup_0600(capsys, qemu_conf):
    res = _run(capsys, {'path': str(qemu_conf), 'settings': {'vnc_listen': '127.0.0.1', 'vnc_password': 'S3cret-vnc'},
                        'backup': True})
    assert res['_rc'] == 0 and res['changed'] is True
    assert 'vnc_password = "S3cret-vnc"' in qemu_conf.read_text()
    assert _mode(qemu_conf) == 0o600
    assert res['mode_changed'] == {'before': '0644', 'after': '0600', 'secret_keys': ['vnc_password']}
    # the backup holds the old content (no secret yet), taken after the file was restricted
    assert _mode(res['backup_file']) == 0o600
    # the next run changes nothing and leaves the mode alone
    res = _run(capsys, {'path': str(qemu_conf), 'settings': {'vnc_listen': '127.0.0.1', 'vnc_password': 'S3cret-vnc'},
                        'backup': True})
    assert res['changed'] is False and 'mode_changed' not in res and _mode(qemu_conf) == 0o600


def test_check_mode_reports_the_mode_and_writes_nothing(capsys, qemu_conf, tmp_path):
    before = qemu_conf.read_text()
    res = _run(capsys, {'path': str(qemu_conf), 'settings': {'vnc_password': 'S3cret-vnc'}, 'backup': True},
               check_mode=True)
    assert res['changed'] is True and res['mode_changed']['after'] == '0600'
    assert qemu_conf.read_text() == before and _mode(qemu_conf) == 0o644
    assert _backups(tmp_path) == [] and 'backup_file' not in res


def test_existing_password_in_a_readable_file_is_restricted(capsys, qemu_conf):
    with open(str(qemu_conf), 'a') as f:
        f.write('vnc_listen = "127.0.0.1"\nspice_password = "0ld-spice"\n')
    text = qemu_conf.read_text()
    res = _run(capsys, {'path': str(qemu_conf), 'settings': {'vnc_listen': '127.0.0.1'}, 'backup': True})
    assert res['changed'] is True and res['changes'] == []
    assert res['mode_changed']['secret_keys'] == ['spice_password']
    assert qemu_conf.read_text() == text and _mode(qemu_conf) == 0o600
    assert 'backup_file' not in res      # content unchanged: nothing to back up


def test_a_dead_duplicate_password_counts_too(capsys, qemu_conf):
    # libvirt reads the first (empty) vnc_password, but the later one is still in the text
    with open(str(qemu_conf), 'a') as f:
        f.write('vnc_password = ""\nvnc_password = "dead-but-readable"\n')
    res = _run(capsys, {'path': str(qemu_conf), 'settings': {'vnc_listen': '127.0.0.1'}})
    assert res['_rc'] == 0 and _mode(qemu_conf) == 0o600
    assert res['mode_changed']['secret_keys'] == ['vnc_password']


def test_backup_of_a_removed_password_is_0600(capsys, qemu_conf):
    with open(str(qemu_conf), 'a') as f:
        f.write('vnc_password = "0ld-vnc"\n')
    os.chmod(str(qemu_conf), 0o644)
    res = _run(capsys, {'path': str(qemu_conf), 'unset': ['vnc_password'], 'backup': True})
    assert res['changed'] is True and 'mode_changed' not in res
    assert '0ld-vnc' not in qemu_conf.read_text() and _mode(qemu_conf) == 0o644   # no secret left
    with open(res['backup_file']) as f:
        assert '0ld-vnc' in f.read()
    assert _mode(res['backup_file']) == 0o600


def test_mode_that_cannot_be_set_fails_saying_why(capsys, qemu_conf, monkeypatch):
    before = qemu_conf.read_text()

    def refuse(path, mode):
        raise OSError(1, 'Operation not permitted', path)

    monkeypatch.setattr(libvirt_config.os, 'chmod', refuse)
    res = _run(capsys, {'path': str(qemu_conf), 'settings': {'vnc_password': 'S3cret-vnc'}})
    assert res['failed'] is True
    assert 'cannot set %s to mode 0600 (it holds vnc_password)' % qemu_conf in res['msg']
    assert 'S3cret-vnc' not in json.dumps(res)
    assert qemu_conf.read_text() == before
