# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import libvirt_config

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'libvirt')


def _run(capsys, args, check_mode=False, diff=False):
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    with patch_module_args(args):
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
