# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import parse_sshd_t
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd_dropin import (
    HEADER, access_problems, candidate_main, conflicts_in, effective_mismatches, include_status, model_effective,
    render, same_value)

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
                          [('PermitRootLogin', 'prohibit-password'), ('KbdInteractiveAuthentication', False)]) == (True, [])


def test_include_status_directive_before_include_conflicts_only_with_a_different_value():
    text = 'PermitRootLogin yes\nPasswordAuthentication no\nInclude sshd_config.d/*.conf\nCiphers aes128-ctr\n'
    included, conflicts = include_status(text, '/etc/ssh/sshd_config.d/00-hvsec.conf',
                                         [('PermitRootLogin', 'prohibit-password'), ('PasswordAuthentication', False),
                                          ('Ciphers', ['aes256-ctr'])])
    assert included is True
    assert conflicts == ['PermitRootLogin yes (sshd_config line 1; the role wants PermitRootLogin prohibit-password)']


def test_include_status_missing_or_inside_match():
    assert include_status('PermitRootLogin no\n', '/etc/ssh/sshd_config.d/00-hvsec.conf', [])[0] is False
    text = 'Match User bob\n  Include /etc/ssh/sshd_config.d/*.conf\n'
    assert include_status(text, '/etc/ssh/sshd_config.d/00-hvsec.conf', [])[0] is False


@pytest.mark.parametrize('keyword, have, want, same', [
    ('PermitRootLogin', 'prohibit-password', 'prohibit-password', True),
    ('permitrootlogin', 'PROHIBIT-PASSWORD', 'prohibit-password', True),
    ('PermitRootLogin', 'without-password', 'prohibit-password', True),
    ('PermitRootLogin', 'yes', 'prohibit-password', False),
    ('PasswordAuthentication', 'No', False, True),
    ('PasswordAuthentication', '"no"', 'no', True),
    ('ChallengeResponseAuthentication', 'no', False, True),
    ('Ciphers', 'aes256-ctr,aes128-ctr', ['aes256-ctr', 'aes128-ctr'], True),
    ('Ciphers', 'aes128-ctr,aes256-ctr', ['aes256-ctr', 'aes128-ctr'], False),   # order is preference
    ('Ciphers', 'AES256-CTR', ['aes256-ctr'], False),
    ('AllowGroups', 'root', ['adm', 'root'], True),          # accumulates: adds nothing new
    ('AllowGroups', 'wheel', ['adm', 'root'], False),
    ('ListenAddress', '10.0.2.15', ['10.0.2.15'], True),
    ('ListenAddress', '0.0.0.0', ['10.0.2.15'], False),
    ('Banner', '/etc/Issue', '/etc/issue', False),
])
def test_same_value_compares_as_sshd_reads(keyword, have, want, same):
    assert same_value(keyword, have, want) is same


def test_conflicts_in_knows_keyword_aliases_and_stops_at_match():
    text = 'challengeresponseauthentication yes\nUseDNS no\nMatch User x\n  PermitRootLogin yes\n'
    assert conflicts_in('50-x.conf', text, [('KbdInteractiveAuthentication', False), ('PermitRootLogin', 'no')]) == \
        ['challengeresponseauthentication yes (50-x.conf line 1; the role wants KbdInteractiveAuthentication no)']


def test_candidate_main_reads_the_candidate_in_the_drop_ins_place():
    existing = ['/etc/ssh/sshd_config.d/00-hvsec-lab.conf', '/etc/ssh/sshd_config.d/00-hvsec.conf',
                '/etc/ssh/sshd_config.d/50-cloud-init.conf']
    text = candidate_main(DEBIAN_MAIN, '/etc/ssh/sshd_config.d/00-hvsec.conf', '/tmp/c/00-hvsec.conf',
                          lambda pattern: existing)
    assert ('\nInclude /etc/ssh/sshd_config.d/00-hvsec-lab.conf /tmp/c/00-hvsec.conf '
            '/etc/ssh/sshd_config.d/50-cloud-init.conf\n') in text
    assert text.replace('Include /etc/ssh/sshd_config.d/00-hvsec-lab.conf /tmp/c/00-hvsec.conf '
                        '/etc/ssh/sshd_config.d/50-cloud-init.conf', 'Include /etc/ssh/sshd_config.d/*.conf') \
        == DEBIAN_MAIN
    # a drop-in that does not exist yet takes its sorted place; other Includes stay as they are
    text = candidate_main('Include other.d/*.conf\nInclude /etc/ssh/sshd_config.d/*.conf\n',
                          '/etc/ssh/sshd_config.d/00-hvsec.conf', '/tmp/c/00-hvsec.conf',
                          lambda pattern: ['/etc/ssh/sshd_config.d/50-cloud-init.conf'])
    assert text == ('Include /etc/ssh/other.d/*.conf\n'
                    'Include /tmp/c/00-hvsec.conf /etc/ssh/sshd_config.d/50-cloud-init.conf\n')


# sshd -T -C output of OpenSSH 9.2 for the lines that matter (the real thing: test_sshd_dropin_real.py)
GLOBAL = ('port 22\nlistenaddress 10.0.2.15:22\npermitrootlogin without-password\npubkeyauthentication yes\n'
          'passwordauthentication no\nkbdinteractiveauthentication no\nauthenticationmethods any\n')
CONN = {'login_user': 'root', 'user_groups': ['root'], 'client_address': '10.0.2.2', 'server_address': '10.0.2.15',
        'server_port': '22', 'uses_password': False}


@pytest.mark.parametrize('extra, fragment', [
    ('', None),
    ('listenaddress 10.0.2.16:22\n', None),                       # one of several addresses is enough
    ('allowusers nobody-else\n', 'AllowUsers nobody-else: does not admit root from 10.0.2.2'),
    ('allowusers root@192.0.2.0/24\n', 'AllowUsers root@192.0.2.0/24: does not admit root from 10.0.2.2'),
    ('allowusers root@10.0.2.0/24\n', None),
    ('denyusers r*\n', 'DenyUsers r*: r* matches root'),
    ('denygroups root\n', 'DenyGroups root: root is a group of root'),
    ('allowgroups admins\n', 'AllowGroups admins: none of them is a group of root (root)'),
    ('authenticationmethods publickey,password\n', 'AuthenticationMethods publickey,password: no list can be completed'),
    ('authenticationmethods publickey,password publickey\n', None),
])
def test_access_problems_of_the_connection(extra, fragment):
    text = GLOBAL.replace('authenticationmethods any\n', '') if 'authenticationmethods' in extra else GLOBAL
    problems = access_problems(parse_sshd_t(text + extra), CONN)
    if fragment is None:
        assert problems == []
    else:
        assert len(problems) == 1 and fragment in problems[0], problems


def test_access_problems_listen_port_root_and_password():
    eff = parse_sshd_t(GLOBAL.replace('listenaddress 10.0.2.15:22', 'listenaddress 10.0.2.15:2222'))
    assert access_problems(eff, CONN) == [
        'ListenAddress 10.0.2.15:2222: sshd would not listen on 10.0.2.15 port 22, where this connection arrived']
    eff = parse_sshd_t(GLOBAL.replace('without-password', 'no'))
    assert access_problems(eff, CONN) == ['PermitRootLogin no: this connection logs in as root']
    eff = parse_sshd_t(GLOBAL.replace('without-password', 'forced-commands-only'))
    assert 'PermitRootLogin forced-commands-only' in access_problems(eff, CONN)[0]
    password = dict(CONN, uses_password=True)
    assert access_problems(parse_sshd_t(GLOBAL), password) == [
        'PermitRootLogin without-password: this connection logs in as root with a password',
        'PasswordAuthentication no: this connection authenticates with a password']
    assert access_problems(parse_sshd_t(GLOBAL.replace('pubkeyauthentication yes', 'pubkeyauthentication no')), CONN) \
        == ['PubkeyAuthentication no: this connection authenticates with a key']


def test_model_of_the_wanted_options_judges_only_what_they_set():
    conn = dict(CONN, uses_password=False)
    assert access_problems(model_effective([('AllowUsers', 'nobody-else')]), conn) == \
        ['AllowUsers nobody-else: does not admit root from 10.0.2.2, the user this connection logs in as']
    assert access_problems(model_effective([('ListenAddress', '10.0.2.15:2222')]), conn)[0].startswith(
        'ListenAddress 10.0.2.15:2222: sshd would not listen on 10.0.2.15 port 22')
    # a ListenAddress without a port, no Port option: the port is the host's, unknown here
    assert access_problems(model_effective([('ListenAddress', '10.0.2.15')]), conn) == []
    assert access_problems(model_effective([('Port', 2222)]), conn) == \
        ['Port 2222: sshd would not listen on port 22, where this connection arrived']
    assert access_problems(model_effective(OPTIONS), conn) == []
    assert access_problems(model_effective([('PermitRootLogin', 'no')]), dict(conn, login_user='admin')) == []


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
