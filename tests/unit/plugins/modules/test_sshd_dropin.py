# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Control-flow tests of sshd_dropin. The sshd binary here is a small test double that reads
the drop-in like sshd (first value wins) and rejects unknown ciphers; the real OpenSSH is
exercised on the lab VM (tests/lab/test_mgmt_plane.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import sshd_dropin

FAKE_SSHD = r'''#!%s
import glob, sys
args = sys.argv[1:]
main = args[args.index('-f') + 1]
seen = {}
def check(key, value, where):
    if key.lower() == 'ciphers' and 'bogus' in value:
        sys.stderr.write('%%s line 1: Bad SSH2 cipher spec %%r.\n' %% (where, value))
        sys.exit(255)
    # stands for a problem only visible in the files' context (e.g. a Match block before the drop-in)
    if key.lower() == 'banner' and 'fileonly' in value and where != 'command-line':
        sys.stderr.write('%%s line 1: Banner not allowed here.\n' %% where)
        sys.exit(255)
def read(path):
    for line in open(path):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        key, _, value = line.partition(' ')
        if key.lower() == 'include':
            for p in sorted(glob.glob(value.strip())):
                read(p)
            continue
        check(key, value, path)
        seen.setdefault(key.lower(), value.strip())
for i, a in enumerate(args):
    if a == '-o':
        key, _, value = args[i + 1].partition('=')
        check(key, value, 'command-line')
        seen.setdefault(key.lower(), value.strip())
read(main)
if '-T' in args:
    for k, v in seen.items():
        print('%%s %%s' %% (k, v))
''' % sys.executable


@pytest.fixture
def etc(tmp_path):
    d = tmp_path / 'sshd_config.d'
    d.mkdir()
    main = tmp_path / 'sshd_config'
    main.write_text('Include %s/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\n' % d)
    sshd = tmp_path / 'sshd'
    sshd.write_text(FAKE_SSHD)
    sshd.chmod(sshd.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def _run(capsys, etc, options, check_mode=False, **extra):
    args = {'path': str(etc / 'sshd_config.d' / '00-hvsec.conf'), 'main_config': str(etc / 'sshd_config'),
            'sshd': str(etc / 'sshd'), 'options': options, '_ansible_check_mode': check_mode, '_ansible_diff': True}
    args.update(extra)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sshd_dropin.main()
    return json.loads(capsys.readouterr().out)


GOOD = [{'name': 'PermitRootLogin', 'value': 'prohibit-password'}, {'name': 'PasswordAuthentication', 'value': False}]


def test_writes_validates_and_is_idempotent(capsys, etc):
    res = _run(capsys, etc, GOOD)
    assert res['changed'] is True, res
    dropin = (etc / 'sshd_config.d' / '00-hvsec.conf').read_text()
    assert 'PermitRootLogin prohibit-password\nPasswordAuthentication no\n' in dropin
    res = _run(capsys, etc, GOOD)
    assert res['changed'] is False


def test_check_mode_writes_nothing(capsys, etc):
    res = _run(capsys, etc, GOOD, check_mode=True)
    assert res['changed'] is True and 'PermitRootLogin' in res['diff']['after']
    assert not os.path.exists(str(etc / 'sshd_config.d' / '00-hvsec.conf'))


def test_rejected_option_refused_before_writing(capsys, etc):
    _run(capsys, etc, GOOD)
    before = (etc / 'sshd_config.d' / '00-hvsec.conf').read_text()
    res = _run(capsys, etc, GOOD + [{'name': 'Ciphers', 'value': ['bogus-cipher']}])
    assert res['failed'] is True and 'sshd -t rejected the options' in res['msg'] and 'Bad SSH2 cipher' in res['msg']
    assert 'nothing was changed' in res['msg'] and 'backup_file' not in res
    assert (etc / 'sshd_config.d' / '00-hvsec.conf').read_text() == before


def test_rejected_option_refused_in_check_mode_too(capsys, etc):
    res = _run(capsys, etc, [{'name': 'Ciphers', 'value': ['bogus-cipher']}], check_mode=True)
    assert res['failed'] is True and 'Bad SSH2 cipher' in res['msg']
    assert os.listdir(str(etc / 'sshd_config.d')) == []


def test_rejected_in_file_context_restores_previous_file(capsys, etc):
    _run(capsys, etc, GOOD)
    before = (etc / 'sshd_config.d' / '00-hvsec.conf').read_text()
    res = _run(capsys, etc, GOOD + [{'name': 'Banner', 'value': '/etc/fileonly'}])
    assert res['failed'] is True and 'sshd -t rejected the configuration' in res['msg'] and 'restored' in res['msg']
    assert (etc / 'sshd_config.d' / '00-hvsec.conf').read_text() == before


def test_new_file_rejected_in_file_context_is_removed(capsys, etc):
    res = _run(capsys, etc, [{'name': 'Banner', 'value': '/etc/fileonly'}])
    assert res['failed'] is True
    assert [n for n in os.listdir(str(etc / 'sshd_config.d')) if not n.endswith('~')] == []


def test_main_file_shadowing_refused_before_writing(capsys, etc):
    (etc / 'sshd_config').write_text('PermitRootLogin yes\nInclude %s/*.conf\n' % (etc / 'sshd_config.d'))
    res = _run(capsys, etc, GOOD)
    assert res['failed'] is True and 'permitrootlogin (line 1)' in res['msg']
    assert os.listdir(str(etc / 'sshd_config.d')) == []


def test_missing_include_refused(capsys, etc):
    (etc / 'sshd_config').write_text('PermitRootLogin yes\n')
    res = _run(capsys, etc, GOOD)
    assert res['failed'] is True and 'does not include' in res['msg']


def test_lockout_guard_refuses_and_override_applies(capsys, etc):
    guard = {'server_address': '10.0.2.15', 'server_port': '22', 'login_user': 'root'}
    opts = GOOD + [{'name': 'ListenAddress', 'value': '192.0.2.1'}]
    res = _run(capsys, etc, opts, guard=guard)
    assert res['failed'] is True and 'cut off this connection' in res['msg']
    assert os.listdir(str(etc / 'sshd_config.d')) == []
    res = _run(capsys, etc, opts, guard=guard, allow_lockout=True)
    assert res['changed'] is True


def test_earlier_dropin_shadowing_refused(capsys, etc):
    (etc / 'sshd_config.d' / '00-hvsec-lab.conf').write_text('PermitRootLogin yes\nUseDNS no\n')
    res = _run(capsys, etc, GOOD)
    assert res['failed'] is True and '00-hvsec-lab.conf line 1' in res['msg']
    assert sorted(os.listdir(str(etc / 'sshd_config.d'))) == ['00-hvsec-lab.conf']
