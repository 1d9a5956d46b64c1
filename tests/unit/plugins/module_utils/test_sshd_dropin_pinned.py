# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned results of the sshd drop-in helpers: value comparison as sshd reads it, conflicting
lines of sshd_config (Debian 12, openssh-server 9.2p1), ``sshd -T`` comparison and the
login check. Every expected value is the whole result. Written to kill the mutants that
`make mutation AREA=editors` found surviving (docs/testing.md)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd_dropin
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd_dropin import (
    access_problems, candidate_main, conflicts_in, effective_mismatches, include_pattern, include_status, same_value)

# (keyword, the value an earlier line gives, the wanted value) -> sshd ends with the wanted value
SAME = [
    ('Ciphers', 'aes256-ctr,aes128-ctr', 'aes256-ctr,aes128-ctr', True),
    ('Ciphers', 'aes256-ctr,aes128-ctr', ['aes256-ctr', 'aes128-ctr'], True),
    ('Ciphers', 'aes256-ctr,aes128-ctr', 'aes128-ctr,aes256-ctr', False),
    ('Ciphers', 'aes256-ctr', 'aes256-ctr,aes128-ctr', False),
    ('Banner', '/etc/issue.net', 'a#b', False),
    ('Banner', 'a#b', 'a#b', False),
    ('PermitRootLogin', 'without-password', 'prohibit-password', True),
    ('PermitRootLogin', 'No', 'no', True),
    ('X11Forwarding', 'no yes', 'no', False),
    ('X11Forwarding', 'no', 'no yes', False),
    ('X11Forwarding', 'yes', False, False),
    ('X11Forwarding', 'no', False, True),
    ('AllowUsers', 'alice', ['alice', 'bob'], True),
    ('AllowUsers', 'alice carol', ['alice', 'bob'], False),
    ('MaxAuthTries', '3', 3, True),
    ('MaxAuthTries', '6', 3, False),
]


@pytest.mark.parametrize('keyword, have, want, same', SAME)
def test_same_value(keyword, have, want, same):
    assert same_value(keyword, have, want) is same


MAIN = ('# head\n'
        'AllowUsers alice bob carol\n'
        'Banner=/etc/issue=x\n'
        'PermitRootLogin no\n'
        'Ciphers aes128-ctr\n'
        'Match User backup\n'
        '    PermitRootLogin yes\n')


def test_conflicts_in_names_each_line_as_written():
    options = [('AllowUsers', ['alice', 'bob']), ('Banner', 'none'), ('PermitRootLogin', 'no'), 'Ciphers']
    assert conflicts_in('sshd_config', MAIN, options) == [
        'AllowUsers alice bob carol (sshd_config line 2; the role wants AllowUsers alice bob)',
        'Banner /etc/issue=x (sshd_config line 3; the role wants Banner none)',
        'Ciphers aes128-ctr (sshd_config line 5; the role wants a value)']
    assert conflicts_in('sshd_config', MAIN, options, before_line=3) == [
        'AllowUsers alice bob carol (sshd_config line 2; the role wants AllowUsers alice bob)']


# (wanted options, parsed `sshd -T`) -> mismatches
MISMATCH = [
    ([('PermitRootLogin', 'no'), ('X11Forwarding', False)], {'x11forwarding': 'yes'},
     ['PermitRootLogin: wanted no, sshd -T does not show it', 'X11Forwarding: wanted no, effective yes']),
    ([('X11Forwarding', True), ('PasswordAuthentication', False)],
     {'x11forwarding': 'yes', 'passwordauthentication': 'no'}, []),
    ([('X11Forwarding', True)], {'x11forwarding': 'no'}, ['X11Forwarding: wanted yes, effective no']),
    ([('PermitRootLogin', 'without-password')], {'permitrootlogin': 'prohibit-password'}, []),
    ([('PermitRootLogin', 'no')], {'permitrootlogin': ['no', 'yes']}, []),
    ([('PermitRootLogin', 'no')], {'permitrootlogin': []}, ['PermitRootLogin: wanted no, effective []']),
    ([('ListenAddress', '10.0.2.15')], {'listenaddress': '10.0.2.15:22'}, []),
    ([('ListenAddress', ['10.0.2.15', '::1'])], {'listenaddress': ['[::1]:22', '10.0.2.15:22']}, []),
    ([('ListenAddress', '10.0.2.15')], {'listenaddress': ['0.0.0.0:22']},
     ['ListenAddress: wanted 10.0.2.15, effective 0.0.0.0']),
    ([('Port', 22)], {'port': ['22']}, []),
    ([('Port', 22)], {'port': '22'}, []),
    ([('Ciphers', ['aes256-ctr', 'aes128-ctr'])], {'ciphers': 'aes128-ctr,aes256-ctr'}, []),
    ([('Ciphers', ['aes256-ctr', 'aes128-ctr'])], {'ciphers': 'aes128-ctr aes256-ctr'}, []),
    ([('Ciphers', ['c', 'a'])], {'ciphers': ['a', 'b', 'd']}, ['Ciphers: wanted a, c, effective a, b, d']),
    ([('Ciphers', ['c', 'a'])], {'ciphers': 'a,,b'}, ['Ciphers: wanted a, c, effective a, b']),
]


@pytest.mark.parametrize('options, effective, bad', MISMATCH)
def test_effective_mismatches(options, effective, bad):
    assert effective_mismatches(options, effective) == bad


CONN = {'login_user': 'alice@example.com', 'client_address': '10.0.0.5', 'server_address': '10.0.2.15',
        'server_port': 22, 'uses_password': False}


@pytest.mark.parametrize('allow, problems', [
    # sshd splits USER@HOST at the first '@' (match_user, strchr): the user part is "alice"
    (['alice@example.com@10.0.0.0/8', 'bob'],
     ['AllowUsers alice@example.com@10.0.0.0/8 bob: does not admit alice@example.com from 10.0.0.5, '
      'the user this connection logs in as']),
    # ... and so here too: user "alice" from the host example.com
    (['alice@example.com', 'bob'],
     ['AllowUsers alice@example.com bob: does not admit alice@example.com from 10.0.0.5, '
      'the user this connection logs in as']),
    (['alice*@10.0.0.0/8'], []),
    (['alice*@192.0.2.0/24'], ['AllowUsers alice*@192.0.2.0/24: does not admit alice@example.com from 10.0.0.5, '
                               'the user this connection logs in as']),
])
def test_access_problems_user_at_host(allow, problems):
    assert access_problems({'allowusers': allow}, CONN) == problems


@pytest.mark.parametrize('item, split', [
    ('10.0.2.15:22', ('10.0.2.15', '22')),
    (' 10.0.2.15:2222 ', ('10.0.2.15', '2222')),
    ('[::1]:22', ('::1', '22')),
    ('[fe80::1%eth0]:2222', ('fe80::1%eth0', '2222')),
    ('[::1]', ('::1', None)),
    ('10.0.2.15', ('10.0.2.15', None)),
    ('::1', ('::1', None)),
    ('mgmt.example.org:22', ('mgmt.example.org', '22')),
])
def test_split_listen(item, split):
    assert sshd_dropin._split_listen(item) == split


@pytest.mark.parametrize('host, server, covers', [
    ('0.0.0.0', '10.0.2.15', True),
    ('0.0.0.0', '2001:db8::15', False),
    ('::', '2001:db8::15', True),
    ('::', '10.0.2.15', False),          # sshd listens IPV6_V6ONLY
    ('10.0.2.15', '10.0.2.15', True),
    ('10.0.2.16', '10.0.2.15', False),
    ('mgmt.example.org', '10.0.2.15', None),
])
def test_listen_covers(host, server, covers):
    assert sshd_dropin._listen_covers(host, ipaddress.ip_address(server)) is covers


SERVER = {'login_user': 'ansible', 'server_address': '10.0.2.15', 'server_port': 22, 'uses_password': False}


@pytest.mark.parametrize('eff, problems', [
    ({'listenaddress': ['[::]:22', '10.0.2.15:22'], 'port': ['22']}, []),
    ({'listenaddress': ['[::]:22', '0.0.0.0:2222'], 'port': ['22', '2222']},
     ['ListenAddress [::]:22 0.0.0.0:2222: sshd would not listen on 10.0.2.15 port 22, where this connection arrived']),
    ({'listenaddress': ['10.0.2.15'], 'port': ['22']}, []),
    ({'listenaddress': ['10.0.2.15'], 'port': ['2222']},
     ['ListenAddress 10.0.2.15: sshd would not listen on 10.0.2.15 port 22, where this connection arrived']),
    ({'listenaddress': ['10.0.2.15']}, []),
    ({'listenaddress': ['mgmt.example.org:2222']}, []),
    ({'port': ['2222']}, ['Port 2222: sshd would not listen on port 22, where this connection arrived']),
    ({'listenaddress': ['10.0.2.16:22', '10.0.2.15:22']}, []),
])
def test_access_problems_listen(eff, problems):
    assert access_problems(eff, SERVER) == problems


@pytest.mark.parametrize('conn, problems', [
    # what the connection does not tell is not judged
    ({}, []),
    ({'server_address': '10.0.2.15'},
     ['ListenAddress 10.0.2.16:2222: sshd would not listen on 10.0.2.15 port ?, where this connection arrived']),
    ({'server_port': 22}, ['Port 2222: sshd would not listen on port 22, where this connection arrived']),
    ({'login_user': 'alice'}, ['AllowUsers bob: does not admit alice, the user this connection logs in as']),
    ({'login_user': 'alice', 'client_address': '10.0.0.5'},
     ['AllowUsers bob: does not admit alice from 10.0.0.5, the user this connection logs in as']),
])
def test_access_problems_unknown_parts(conn, problems):
    assert access_problems({'port': ['2222'], 'allowusers': ['bob'], 'listenaddress': ['10.0.2.16:2222']},
                           conn) == problems


DROPIN = '/etc/ssh/sshd_config.d/00-hvsec.conf'
GLOB = {'/etc/ssh/sshd_config.d/*.conf': ['/etc/ssh/sshd_config.d/50-cloud-init.conf',
                                          '/etc/ssh/sshd_config.d/99 local.conf']}
D = '/etc/ssh/sshd_config.d/'
CAND = 'Include /run/hvsec/cand.conf %s50-cloud-init.conf "%s99 local.conf"' % (D, D)

# (a line of sshd_config) -> the line candidate_main writes for it
CANDIDATE_LINES = [
    ('# Include /etc/ssh/sshd_config.d/*.conf', '# Include /etc/ssh/sshd_config.d/*.conf'),
    ('PermitRootLogin no', 'PermitRootLogin no'),
    ('Include /etc/ssh/sshd_config.d/*.conf', CAND),
    ('  include sshd_config.d/*.conf', CAND),
    ('Include=/etc/ssh/other.conf', 'Include /etc/ssh/other.conf'),
    ('Include=/etc/ssh/a=b.conf', 'Include /etc/ssh/a=b.conf'),
    ('Include = extra.conf sshd_config.d/*.conf', CAND.replace('Include ', 'Include /etc/ssh/extra.conf ')),
    ('Include extra.conf sshd_config.d/*.conf', CAND.replace('Include ', 'Include /etc/ssh/extra.conf ')),
    ('Include sshd_config.d/*.conf extra.conf', CAND + ' /etc/ssh/extra.conf'),
    ('Include=Xtra.conf', 'Include /etc/ssh/Xtra.conf'),
    ('Include', '# hvsec: include of nothing'),
    ('Include=', '# hvsec: include of nothing'),
]


@pytest.mark.parametrize('line, written', CANDIDATE_LINES)
def test_candidate_main_lines(line, written):
    text = '# head\n%s\nX11Forwarding no' % line
    assert candidate_main(text, DROPIN, '/run/hvsec/cand.conf', lambda pattern: GLOB.get(pattern, [])) == (
        '# head\n%s\nX11Forwarding no\n' % written)


def test_candidate_main_of_nothing():
    assert candidate_main(None, DROPIN, '/c', lambda pattern: []) == '\n'
    assert candidate_main('Include sshd_config.d/*.conf', DROPIN, '/c', lambda pattern: []) == 'Include /c\n'


@pytest.mark.parametrize('main, pattern', [
    ('Include /etc/ssh/sshd_config.d/*.conf\n', '/etc/ssh/sshd_config.d/*.conf'),
    ('Include sshd_config.d/*.conf /etc/ssh/sshd_config.d/00-*.conf\n', '/etc/ssh/sshd_config.d/*.conf'),
    ('Include /etc/ssh/sshd_config.d/00-*.conf sshd_config.d/*.conf\n', '/etc/ssh/sshd_config.d/00-*.conf'),
    ('PermitRootLogin no\nInclude /etc/ssh/other/*.conf\nInclude=sshd_config.d/*.conf\n',
     '/etc/ssh/sshd_config.d/*.conf'),
    ('Match User backup\nInclude sshd_config.d/*.conf\n', None),
    ('Include /etc/ssh/other/*.conf\n', None),
    ('', None),
])
def test_include_pattern(main, pattern):
    assert include_pattern(main, DROPIN) == pattern


@pytest.mark.parametrize('main, status', [
    ('Include /etc/ssh/other.conf\n', (False, [])),
    ('PermitRootLogin yes\nInclude /etc/ssh/other.conf\n',
     (False, ['PermitRootLogin yes (main line 1; the role wants PermitRootLogin no)'])),
    ('PermitRootLogin yes\nInclude sshd_config.d/*.conf\nPermitRootLogin without-password\n',
     (True, ['PermitRootLogin yes (main line 1; the role wants PermitRootLogin no)'])),
    ('Include sshd_config.d/*.conf\nPermitRootLogin yes\n', (True, [])),
])
def test_include_status(main, status):
    assert include_status(main, DROPIN, [('PermitRootLogin', 'no')], name='main') == status


ALICE = {'login_user': 'alice', 'client_address': '10.0.0.5', 'server_address': '10.0.2.15', 'server_port': 22,
         'uses_password': False, 'user_groups': ['users', 'wheel']}
ROOT_PW = dict(ALICE, login_user='root', uses_password=True, user_groups=None)
AS_USER = ', the user this connection logs in as'
NO_LIST = 'AuthenticationMethods %s: no list can be completed by this connection, which authenticates with %s only'
KEY = 'a key (publickey)'

ACCESS = [
    ({'denyusers': ['bob', 'alice@10.0.0.0/8']}, ALICE,
     ['DenyUsers bob alice@10.0.0.0/8: alice@10.0.0.0/8 matches alice' + AS_USER]),
    ({'denyusers': ['alice@192.0.2.0/24']}, ALICE, []),
    ({'port': ['2222', '2200']}, ALICE,
     ['Port 2222 2200: sshd would not listen on port 22, where this connection arrived']),
    ({'denygroups': ['adm', 'users']}, ALICE, ['DenyGroups adm users: users is a group of alice' + AS_USER]),
    ({'allowgroups': ['admins', 'ops']}, ALICE,
     ['AllowGroups admins ops: none of them is a group of alice (users, wheel)' + AS_USER]),
    ({'allowgroups': ['admins']}, dict(ALICE, user_groups=[]),
     ['AllowGroups admins: none of them is a group of alice (no group)' + AS_USER]),
    ({'allowgroups': ['admins'], 'denygroups': ['users']}, dict(ALICE, user_groups=None), []),
    ({'allowgroups': ['wh*']}, ALICE, []),
    ({}, ROOT_PW, []),
    ({'permitrootlogin': 'yes'}, ROOT_PW, []),
    ({'permitrootlogin': 'no'}, ROOT_PW, ['PermitRootLogin no: this connection logs in as root']),
    ({'permitrootlogin': 'forced-commands-only'}, ROOT_PW,
     ['PermitRootLogin forced-commands-only: root may only run the command= of its key, Ansible could not run its '
      'modules as root']),
    ({'permitrootlogin': 'without-password'}, ROOT_PW,
     ['PermitRootLogin without-password: this connection logs in as root with a password']),
    ({'permitrootlogin': 'prohibit-password'}, dict(ROOT_PW, uses_password=False), []),
    # how the connection authenticates
    ({'authenticationmethods': ['password']}, ROOT_PW, []),
    ({'authenticationmethods': ['keyboard-interactive:pam']}, ROOT_PW, []),
    ({'authenticationmethods': ['publickey,password']}, ROOT_PW,
     [NO_LIST % ('publickey,password', 'a password')]),
    ({'authenticationmethods': ['password'], 'passwordauthentication': 'no'}, ROOT_PW,
     ['PasswordAuthentication no: this connection authenticates with a password', NO_LIST % ('password', 'a password')]),
    ({'authenticationmethods': ['password keyboard-interactive'], 'passwordauthentication': 'no'}, ROOT_PW,
     ['PasswordAuthentication no: this connection authenticates with a password']),
    ({'authenticationmethods': ['keyboard-interactive'], 'kbdinteractiveauthentication': 'no'}, ROOT_PW,
     [NO_LIST % ('keyboard-interactive', 'a password')]),
    ({'authenticationmethods': ['publickey'], 'pubkeyauthentication': 'no'}, ALICE,
     ['PubkeyAuthentication no: this connection authenticates with a key', NO_LIST % ('publickey', KEY)]),
    ({'authenticationmethods': ['password']}, ALICE, [NO_LIST % ('password', KEY)]),
    ({'authenticationmethods': ['publickey,publickey']}, ALICE, [NO_LIST % ('publickey,publickey', KEY)]),
    ({'authenticationmethods': ['publickey,password', 'publickey']}, ALICE, []),
    ({'authenticationmethods': ['any']}, ALICE, []),
    ({'authenticationmethods': ['password,keyboard-interactive']}, ROOT_PW, []),
    ({'authenticationmethods': ['publickey,password publickey,keyboard-interactive']}, ROOT_PW,
     [NO_LIST % ('publickey,password publickey,keyboard-interactive', 'a password')]),
]


@pytest.mark.parametrize('eff, conn, problems', ACCESS)
def test_access_problems_whole(eff, conn, problems):
    assert access_problems(eff, conn) == problems


def test_conflicts_in_reads_past_other_keywords_and_compares_lists():
    text = ('X11Forwarding yes\n'
            'Ciphers aes256-ctr,aes128-ctr\n'
            'PermitRootLogin yes\n')
    assert conflicts_in('sshd_config', text, [('PermitRootLogin', 'no'),
                                              ('Ciphers', ['aes256-ctr', 'aes128-ctr'])]) == [
        'PermitRootLogin yes (sshd_config line 3; the role wants PermitRootLogin no)']
    assert conflicts_in('sshd_config', text, [('Ciphers', 'chacha20-poly1305@openssh.com,aes256-ctr')]) == [
        'Ciphers aes256-ctr,aes128-ctr (sshd_config line 2; the role wants Ciphers '
        'chacha20-poly1305@openssh.com aes256-ctr)']
