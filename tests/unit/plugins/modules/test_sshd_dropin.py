# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Control-flow tests of sshd_dropin. The sshd binary here is a small test double that reads
the drop-in like sshd (first value wins) and rejects unknown ciphers; the real OpenSSH is
exercised on the lab VM (lab/tests/test_mgmt_plane.py)."""
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
ACCUMULATE = ('listenaddress', 'port', 'allowgroups', 'allowusers', 'denygroups', 'denyusers')
def check(key, value, where):
    if key.lower() == 'ciphers' and 'bogus' in value:
        sys.stderr.write('%%s line 1: Bad SSH2 cipher spec %%r.\n' %% (where, value))
        sys.exit(255)
    # stands for a problem only visible once the real drop-in is in place (the candidate copy passes)
    if key.lower() == 'banner' and 'fileonly' in value and where.endswith('sshd_config.d/00-hvsec.conf'):
        sys.stderr.write('%%s line 1: Banner not allowed here.\n' %% where)
        sys.exit(255)
def read(path):
    for line in open(path):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        key, _, value = line.partition(' ')
        if key.lower() == 'include':
            for pattern in value.split():
                for p in sorted(glob.glob(pattern)):
                    read(p)
            continue
        check(key, value, path)
        if key.lower() in ACCUMULATE:
            seen.setdefault(key.lower(), []).extend(value.split())
        else:
            seen.setdefault(key.lower(), value.strip())
read(main)
if '-T' in args:
    ports = seen.pop('port', None) or ['22']
    listen = seen.pop('listenaddress', None) or ['0.0.0.0', '[::]']
    for p in ports:
        print('port %%s' %% p)
    for a in listen:
        print('listenaddress %%s' %% (a if a.count(':') == 1 or ']:' in a else '%%s:%%s' %% (a, ports[0])))
    for k, v in seen.items():
        for item in (v if isinstance(v, list) else [v]):
            print('%%s %%s' %% (k, item))
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


def test_rejection_names_the_real_drop_in_not_the_candidate_copy(capsys, etc):
    res = _run(capsys, etc, [{'name': 'Ciphers', 'value': ['bogus-cipher']}], check_mode=True)
    assert str(etc / 'sshd_config.d' / '00-hvsec.conf') + ' line 1' in res['msg'], res['msg']
    assert 'hvsec-sshd-' not in res['msg']


def test_new_file_rejected_in_file_context_is_removed(capsys, etc):
    res = _run(capsys, etc, [{'name': 'Banner', 'value': '/etc/fileonly'}])
    assert res['failed'] is True
    assert [n for n in os.listdir(str(etc / 'sshd_config.d')) if not n.endswith('~')] == []


def test_main_file_shadowing_refused_before_writing(capsys, etc):
    (etc / 'sshd_config').write_text('PermitRootLogin yes\nInclude %s/*.conf\n' % (etc / 'sshd_config.d'))
    res = _run(capsys, etc, GOOD)
    assert res['failed'] is True and 'PermitRootLogin yes (%s line 1; the role wants PermitRootLogin prohibit-password)' \
        % (etc / 'sshd_config') in res['msg'], res['msg']
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


# ------------------------------------------------------------------ precedence: only a different value conflicts
# sshd uses the first value it obtains: a file read before the drop-in that sets a managed keyword
# wins. When it sets the SAME value (keywords are case-insensitive, yes/no and the other
# enumerated values too), nothing conflicts: the effective value is the one the role wants.
@pytest.mark.parametrize('earlier', [
    'PermitRootLogin prohibit-password\nUseDNS no\n',       # the lab image's 00-hvsec-lab.conf
    'permitrootlogin PROHIBIT-PASSWORD\n',
    'PermitRootLogin without-password\n',                   # the old name of prohibit-password
    'PasswordAuthentication No\n',
    'PermitRootLogin=prohibit-password\n',
])
def test_earlier_dropin_with_the_same_value_is_no_conflict(capsys, etc, earlier):
    (etc / 'sshd_config.d' / '00-hvsec-lab.conf').write_text(earlier)
    res = _run(capsys, etc, GOOD)
    assert res.get('failed') is not True, res['msg']
    assert res['changed'] is True
    assert 'PermitRootLogin prohibit-password\n' in (etc / 'sshd_config.d' / '00-hvsec.conf').read_text()


def test_main_file_with_the_same_value_before_the_include_is_no_conflict(capsys, etc):
    (etc / 'sshd_config').write_text('PermitRootLogin prohibit-password\nInclude %s/*.conf\n' % (etc / 'sshd_config.d'))
    res = _run(capsys, etc, GOOD)
    assert res.get('failed') is not True, res['msg']


@pytest.mark.parametrize('earlier, named', [
    ('PermitRootLogin yes\n', 'PermitRootLogin yes'),
    ('ChallengeResponseAuthentication yes\n', 'ChallengeResponseAuthentication yes'),   # alias of KbdInteractiveAuthentication
    ('Ciphers aes256-ctr,aes128-ctr\n', 'Ciphers aes256-ctr,aes128-ctr'),                # order and content matter
    ('Banner /etc/Issue\n', 'Banner /etc/Issue'),                                        # paths are case-sensitive
])
def test_earlier_dropin_with_a_different_value_is_refused(capsys, etc, earlier, named):
    (etc / 'sshd_config.d' / '00-hvsec-lab.conf').write_text(earlier)
    opts = GOOD + [{'name': 'KbdInteractiveAuthentication', 'value': False},
                   {'name': 'Ciphers', 'value': ['aes128-ctr', 'aes256-ctr']}, {'name': 'Banner', 'value': '/etc/issue'}]
    res = _run(capsys, etc, opts)
    assert res['failed'] is True and 'would take precedence' in res['msg'], res
    assert named in res['msg'] and '00-hvsec-lab.conf line 1' in res['msg']
    assert sorted(os.listdir(str(etc / 'sshd_config.d'))) == ['00-hvsec-lab.conf']


def test_the_candidate_copy_is_removed_on_every_path(capsys, etc):
    def leftovers():
        return [n for n in os.listdir(str(etc)) if n.startswith('.hvsec')]
    _run(capsys, etc, GOOD, check_mode=True)                                       # check mode
    _run(capsys, etc, GOOD + [{'name': 'Ciphers', 'value': ['bogus-cipher']}])     # sshd -t refuses
    _run(capsys, etc, GOOD + [{'name': 'ListenAddress', 'value': '192.0.2.1'}],    # the guard refuses
         guard={'server_address': '10.0.2.15', 'server_port': '22', 'login_user': 'root'})
    res = _run(capsys, etc, GOOD)                                                  # written
    assert res['changed'] is True and leftovers() == []
