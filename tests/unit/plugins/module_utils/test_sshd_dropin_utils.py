# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import parse_sshd_t
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd_dropin import (
    HEADER, effective_mismatches, include_status, lockout_problems, render)

# The top of Debian 12's /etc/ssh/sshd_config (openssh-server 1:9.2p1-2).
DEBIAN_MAIN = """
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/bin:/usr/games

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#PermitRootLogin prohibit-password
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem\tsftp\t/usr/lib/openssh/sftp-server
"""

OPTIONS = [('ListenAddress', '10.0.2.15'), ('PermitRootLogin', 'prohibit-password'),
           ('PasswordAuthentication', 'no'), ('AllowGroups', ['adm', 'root']),
           ('Ciphers', ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com'])]


def test_render():
    text = render(OPTIONS + [('X11Forwarding', False), ('Port', [22, 2222])])
    assert text == HEADER + (
        'ListenAddress 10.0.2.15\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n'
        'AllowGroups adm root\nCiphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\n'
        'X11Forwarding no\nPort 22\nPort 2222\n')


@pytest.mark.parametrize('options', [[('Bad Key', 'x')], [('Ciphers', 'a\nPermitRootLogin yes')],
                                     [('Banner', '')], [('Banner', 'x # y')]])
def test_render_refuses_injection(options):
    with pytest.raises(ValueError):
        render(options)


def test_include_status_debian_default():
    assert include_status(DEBIAN_MAIN, '/etc/ssh/sshd_config.d/00-hvsec.conf',
                          ['PermitRootLogin', 'KbdInteractiveAuthentication']) == (True, [])


def test_include_status_directive_before_include_shadows():
    text = 'PermitRootLogin yes\nPasswordAuthentication yes\nInclude sshd_config.d/*.conf\n'
    included, shadowing = include_status(text, '/etc/ssh/sshd_config.d/00-hvsec.conf',
                                         ['PermitRootLogin', 'Ciphers'])
    assert included is True and shadowing == ['permitrootlogin (line 1)']


def test_include_status_missing_or_inside_match():
    assert include_status('PermitRootLogin no\n', '/etc/ssh/sshd_config.d/00-hvsec.conf', [])[0] is False
    text = 'Match User bob\n  Include /etc/ssh/sshd_config.d/*.conf\n'
    assert include_status(text, '/etc/ssh/sshd_config.d/00-hvsec.conf', [])[0] is False


def test_lockout_listen_address_must_cover_connection():
    guard = {'server_address': '10.0.2.15', 'server_port': '22'}
    assert lockout_problems(OPTIONS, guard) == []
    problems = lockout_problems([('ListenAddress', '192.0.2.1')], guard)
    assert len(problems) == 1 and '10.0.2.15' in problems[0]
    assert lockout_problems([('ListenAddress', ['192.0.2.1', '10.0.2.15:22'])], guard) == []
    assert lockout_problems([('ListenAddress', '0.0.0.0')], guard) == []


def test_lockout_port_root_password_and_groups():
    guard = {'server_port': '22', 'login_user': 'root', 'uses_password': True, 'user_groups': ['root']}
    problems = lockout_problems([('Port', 2222), ('PermitRootLogin', 'prohibit-password'),
                                 ('PasswordAuthentication', 'no'), ('AllowGroups', ['admins'])], guard)
    text = ' | '.join(problems)
    assert 'Port 2222' in text and 'PasswordAuthentication no' in text
    assert 'PermitRootLogin prohibit-password' in text and 'AllowGroups admins' in text
    assert len(problems) == 4
    guard = {'login_user': 'root', 'user_groups': ['root']}
    assert lockout_problems([('PermitRootLogin', 'no')], guard) == \
        ['PermitRootLogin no while this connection logs in as root']
    assert lockout_problems([('PermitRootLogin', 'prohibit-password'), ('AllowGroups', ['root', 'x'])], guard) == []


def test_effective_mismatches_against_sshd_t():
    # Lines as OpenSSH 9.2 `sshd -T` prints them.
    eff = parse_sshd_t('port 22\nlistenaddress 10.0.2.15:22\npermitrootlogin without-password\n'
                       'passwordauthentication no\nallowgroups adm\nallowgroups root\n'
                       'ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\n')
    assert effective_mismatches(OPTIONS, eff) == []
    eff['passwordauthentication'] = 'yes'
    eff['ciphers'] = ['aes128-cbc']
    bad = effective_mismatches(OPTIONS, eff)
    assert len(bad) == 2 and bad[0].startswith('PasswordAuthentication: wanted no, effective yes')
    assert effective_mismatches([('Banner', '/etc/issue')], eff) == \
        ['Banner: wanted /etc/issue, sshd -T does not show it']
