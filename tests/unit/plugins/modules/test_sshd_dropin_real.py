# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sshd_dropin against the real OpenSSH sshd: the lockout guard judges sshd's own reading of the
configuration the drop-in would make (``sshd -T -f <candidate> -C user=,addr=,laddr=,lport=``),
Match blocks of the host's configuration included, and refuses before anything is written.

Skipped without sshd (see tests/unit/plugins/module_utils/real_sshd.py; HVSEC_TEST_SSHD).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import sshd_dropin
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import real_sshd

# The controller: root with a key, from 10.0.2.2 to 10.0.2.15 port 22 (the lab's user networking).
GUARD = {'client_address': '10.0.2.2', 'server_address': '10.0.2.15', 'server_port': '22', 'login_user': 'root'}
HARDENED = [{'name': 'PermitRootLogin', 'value': 'prohibit-password'}, {'name': 'PasswordAuthentication', 'value': False},
            {'name': 'KbdInteractiveAuthentication', 'value': False}]


@pytest.fixture
def etc(tmp_path):
    real_sshd.sshd()
    key = real_sshd.host_key(tmp_path)
    (tmp_path / 'sshd_config.d').mkdir()
    # Debian 12's sshd_config with its Include pointed here, and a test host key
    (tmp_path / 'sshd_config').write_text(
        'Include %s/sshd_config.d/*.conf\nHostKey %s\nKbdInteractiveAuthentication no\nUsePAM yes\n'
        'X11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\n' % (tmp_path, key))
    return tmp_path


def run(capsys, etc, options, check_mode=False, **extra):
    args = {'path': str(etc / 'sshd_config.d' / '00-hvsec.conf'), 'main_config': str(etc / 'sshd_config'),
            'sshd': real_sshd.sshd(), 'options': options, 'guard': GUARD, '_ansible_check_mode': check_mode}
    args.update(extra)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sshd_dropin.main()
    return json.loads(capsys.readouterr().out)


def files(etc):
    return sorted(os.listdir(str(etc / 'sshd_config.d')))


def test_hardened_options_pass_and_are_written(capsys, etc):
    res = run(capsys, etc, HARDENED)
    assert res['changed'] is True and res['lockout'] == [], res
    assert files(etc) == ['00-hvsec.conf']


@pytest.mark.parametrize('extra, fragment', [
    ({'name': 'AllowUsers', 'value': 'nobody-else'}, 'AllowUsers nobody-else: does not admit root from 10.0.2.2'),
    ({'name': 'DenyUsers', 'value': 'root'}, 'DenyUsers root: root matches root'),
    ({'name': 'DenyGroups', 'value': 'root'}, 'DenyGroups root: root is a group of root'),
    ({'name': 'AllowGroups', 'value': ['hvsec-nobody']}, 'AllowGroups hvsec-nobody: none of them is a group of root'),
    ({'name': 'ListenAddress', 'value': '10.0.2.15:2222'},
     'ListenAddress 10.0.2.15:2222: sshd would not listen on 10.0.2.15 port 22'),
    ({'name': 'Port', 'value': 2222}, 'sshd would not listen on 10.0.2.15 port 22'),
    # a key and a password: sshd accepts it (password login is on), this key-only connection cannot
    ({'name': 'AuthenticationMethods', 'value': 'publickey,keyboard-interactive'},
     'AuthenticationMethods publickey,keyboard-interactive: no list can be completed by this connection'),
    ({'name': 'PubkeyAuthentication', 'value': False}, 'PubkeyAuthentication no: this connection authenticates with a key'),
])
def test_options_that_lock_the_connection_out_are_refused_before_writing(capsys, etc, extra, fragment):
    options = HARDENED[:1] + [{'name': 'KbdInteractiveAuthentication', 'value': True}] \
        if extra['name'] == 'AuthenticationMethods' else HARDENED
    for check_mode in (True, False):
        res = run(capsys, etc, options + [extra], check_mode=check_mode)
        assert res['failed'] is True and 'would cut off this connection' in res['msg'], res
        assert fragment in res['msg'], res['msg']
        assert 'Nothing was changed' in res['msg'] and files(etc) == []


def test_a_match_block_of_the_host_is_part_of_the_judgement(capsys, etc):
    """Not our model of the options: the host's own Match block makes root need a password after
    its key, which this key-only connection cannot give. sshd -T -C says so; the options alone
    look harmless."""
    with open(str(etc / 'sshd_config'), 'a') as handle:
        handle.write('Match User root Address 10.0.2.0/24\n    AuthenticationMethods publickey,keyboard-interactive\n')
    res = run(capsys, etc, HARDENED)
    assert res['failed'] is True, res
    assert 'AuthenticationMethods publickey,keyboard-interactive' in res['msg']
    assert 'user=root,host=10.0.2.2,addr=10.0.2.2,laddr=10.0.2.15,lport=22' in res['msg']
    # from another client the same configuration is fine: the Match block does not apply
    res = run(capsys, etc, HARDENED, guard=dict(GUARD, client_address='192.0.2.9'))
    assert res['changed'] is True and res['lockout'] == []


def test_allow_lockout_applies_and_warns(capsys, etc):
    res = run(capsys, etc, HARDENED + [{'name': 'AllowUsers', 'value': 'nobody-else'}], allow_lockout=True)
    assert res['changed'] is True and 'AllowUsers nobody-else' in res['lockout'][0]


def test_earlier_dropin_with_the_same_value_in_other_case_passes_and_is_effective(capsys, etc):
    (etc / 'sshd_config.d' / '00-hvsec-lab.conf').write_text('permitrootlogin Prohibit-Password\nUseDNS no\n')
    res = run(capsys, etc, HARDENED)
    assert res['changed'] is True, res
    rc, out, dummy = real_sshd.run(['-T', '-f', str(etc / 'sshd_config')])
    assert rc == 0 and 'permitrootlogin without-password' in out.splitlines()


def test_invalid_option_is_rejected_by_sshd_before_writing(capsys, etc):
    res = run(capsys, etc, HARDENED + [{'name': 'MaxAuthTries', 'value': 'many'}], check_mode=True)
    assert res['failed'] is True and 'sshd -t rejected the options' in res['msg'], res
    assert str(etc / 'sshd_config.d' / '00-hvsec.conf') in res['msg'] and 'hvsec-sshd-' not in res['msg']
    assert files(etc) == []
