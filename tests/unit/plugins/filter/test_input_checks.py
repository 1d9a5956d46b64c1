# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.hvsec.hypervisor.plugins.filter.input_checks import (
    sshd_lockout_errors, sshd_option_errors, vswitch_port_errors, waived_ids, waiver_errors)

RESERVED = {'permitrootlogin': 'hvsec_mgmt_plane_sshd_permit_root_login'}


def test_waivers_valid_and_empty():
    assert waiver_errors([{'id': 'HVS-IOMMU-14', 'reason': 'CI needs nested virtualization'}]) == []
    assert waiver_errors([{'id': 'HVS-IOMMU-14', 'reason': 'CI', 'approved_by': 'alice', 'ticket': 'SEC-1',
                           'expires': '2026-03-31'}]) == []
    assert waiver_errors([]) == [] and waiver_errors(None) == []


@pytest.mark.parametrize('waivers,expected', [
    ([{'id': 'HVS-NOPE-99', 'reason': 'typo'}], ['hvsec_waivers[0].id HVS-NOPE-99 is not a known control ID']),
    ([{'id': 'HVS-MGMT-01', 'reason': 'ok'}, {'id': 'HVS-MGMT-01', 'reason': ' '}],
     ['hvsec_waivers[1] (HVS-MGMT-01) needs a non-empty reason']),
    ([{'id': 'HVS-MGMT-01', 'reason': 'x', 'until': '2030'}],
     ['hvsec_waivers[0] has unknown key(s) until (allowed: id, reason, approved_by, ticket, expires)']),
    ([{'id': 'HVS-MGMT-01', 'reason': 'x', 'expires': '2026-13-01'}],
     ["hvsec_waivers[0].expires must be a date (YYYY-MM-DD), got '2026-13-01'"]),
    ([{'id': 'HVS-MGMT-01', 'reason': 'x', 'approved_by': ' '}],
     ["hvsec_waivers[0].approved_by must be a non-empty string, got ' '"]),
    (['HVS-MGMT-01'], ['hvsec_waivers[0] must be a dict with keys id and reason']),
    ({'id': 'HVS-MGMT-01'}, ['hvsec_waivers must be a list of {id, reason} dicts, got dict']),
])
def test_waiver_errors_name_the_item(waivers, expected):
    assert waiver_errors(waivers) == expected


def test_vswitch_port_errors_are_the_modules_rules():
    assert vswitch_port_errors({'name': 'vnet0', 'mac': '52:54:00:00:00:01', 'ips': ['192.0.2.7']}, 'p') == []
    assert vswitch_port_errors({'name': 'vnet0', 'ips': ['192.0.2.7']}, 'p') == [
        'p: ips given without mac (anti-spoofing needs the port MAC)']
    assert vswitch_port_errors({'mac': 'zz', 'ips': ['10.0.0.300']}, 'p') == [
        "p.mac: 'zz' is not a MAC address", "p.ips: '10.0.0.300' is not an IP address"]
    assert vswitch_port_errors('vnet0', 'p') == ['p must be a dict']


@pytest.mark.parametrize('options,fragment', [
    ({'Match': 'User backup'}, 'Match is not allowed in the drop-in'),
    ({'include': '/tmp/x.conf'}, 'include is not allowed'),
    ({'permitrootlogin': 'yes'}, 'permitrootlogin contradicts hvsec_mgmt_plane_sshd_permit_root_login'),
    ({'Client Alive': '30'}, "invalid sshd keyword 'Client Alive'"),
    ({'Banner': 'none\nPermitRootLogin yes'}, 'Banner: invalid sshd value'),
    ({'Banner': '"x"'}, 'Banner: invalid sshd value'),
    ({3: 'x'}, 'keyword 3 is not a string'),
])
def test_sshd_option_errors(options, fragment):
    errors = sshd_option_errors(options, RESERVED)
    assert len(errors) == 1 and fragment in errors[0]
    assert errors[0].startswith('hvsec_mgmt_plane_sshd_extra_options: ')


def test_sshd_options_that_are_fine():
    assert sshd_option_errors({'ClientAliveInterval': 30, 'MaxAuthTries': '3', 'AllowTcpForwarding': False}, RESERVED) == []
    assert sshd_option_errors([], RESERVED) == ['hvsec_mgmt_plane_sshd_extra_options must be a dict of {Keyword: value}']


# ------------------------------------------------------------------ sshd lockout guard (the options alone)
CONN = {'login_user': 'root', 'user_groups': ['root'], 'client_address': '198.51.100.20',
        'server_address': '10.0.2.15', 'server_port': '22', 'uses_password': False}
ROLE_OPTIONS = [{'name': 'PermitRootLogin', 'value': 'prohibit-password'},
                {'name': 'PasswordAuthentication', 'value': 'no'}, {'name': 'KbdInteractiveAuthentication', 'value': 'no'},
                {'name': 'Ciphers', 'value': ['aes256-ctr']}]


@pytest.mark.parametrize('option, expected', [
    ({'name': 'AllowUsers', 'value': 'nobody-else'},
     'hvsec_mgmt_plane_sshd_extra_options: AllowUsers nobody-else: does not admit root from 198.51.100.20'),
    ({'name': 'DenyUsers', 'value': 'root'}, 'hvsec_mgmt_plane_sshd_extra_options: DenyUsers root: root matches root'),
    ({'name': 'DenyGroups', 'value': 'wheel root'}, 'hvsec_mgmt_plane_sshd_extra_options: DenyGroups wheel root: root is'),
    ({'name': 'AllowGroups', 'value': ['admins']},
     'hvsec_mgmt_plane_sshd_allow_groups: AllowGroups admins: none of them is a group of root (root)'),
    ({'name': 'Port', 'value': 2222},
     'hvsec_mgmt_plane_sshd_extra_options: Port 2222: sshd would not listen on port 22'),
    ({'name': 'ListenAddress', 'value': '10.0.2.99'},
     'hvsec_mgmt_plane_address: ListenAddress 10.0.2.99: sshd would not listen on 10.0.2.15'),
    ({'name': 'AuthenticationMethods', 'value': 'publickey,password'},
     'hvsec_mgmt_plane_sshd_extra_options: AuthenticationMethods publickey,password: no list can be completed'),
    ({'name': 'PubkeyAuthentication', 'value': 'no'},
     'hvsec_mgmt_plane_sshd_extra_options: PubkeyAuthentication no: this connection authenticates with a key'),
])
def test_sshd_lockout_errors_name_the_variable_and_the_option(option, expected):
    errors = sshd_lockout_errors(ROLE_OPTIONS + [option], CONN)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_sshd_lockout_errors_root_login_and_password():
    options = [{'name': 'PermitRootLogin', 'value': 'no'}]
    assert sshd_lockout_errors(options, CONN) == \
        ['hvsec_mgmt_plane_sshd_permit_root_login: PermitRootLogin no: this connection logs in as root']
    assert sshd_lockout_errors(options, dict(CONN, login_user='admin', user_groups=['admins'])) == []
    assert sshd_lockout_errors(ROLE_OPTIONS, dict(CONN, uses_password=True)) == [
        'hvsec_mgmt_plane_sshd_permit_root_login: PermitRootLogin prohibit-password: this connection logs in as '
        'root with a password',
        'hvsec_mgmt_plane_sshd_password_auth: PasswordAuthentication no: this connection authenticates with a password']


def test_sshd_lockout_errors_without_a_connection_or_with_fine_options():
    assert sshd_lockout_errors(ROLE_OPTIONS + [{'name': 'AllowUsers', 'value': 'backup root@198.51.100.0/24'},
                                               {'name': 'ListenAddress', 'value': '10.0.2.15'}], CONN) == []
    assert sshd_lockout_errors(ROLE_OPTIONS + [{'name': 'AllowUsers', 'value': 'nobody-else'}], {}) == []
    # groups unknown: AllowGroups/DenyGroups are left to the module, which looks them up
    assert sshd_lockout_errors([{'name': 'AllowGroups', 'value': ['admins']}], dict(CONN, user_groups=None)) == []


# ----------------------------------------------------------------------------- waived_ids
WAIVERS = [
    {'id': 'HVS-MGMT-18', 'reason': 'perimeter firewall', 'expires': '2026-03-31'},
    {'id': 'HVS-IOMMU-14', 'reason': 'nested lab hosts', 'expires': datetime.date(2026, 4, 2)},
    {'id': 'HVS-VSW-05', 'reason': 'no expiry'},
]


@pytest.mark.parametrize('today,expected', [
    ('2026-03-31', ['HVS-IOMMU-14', 'HVS-MGMT-18', 'HVS-VSW-05']),   # the expiry day itself holds
    ('2026-04-01', ['HVS-IOMMU-14', 'HVS-VSW-05']),                  # HVS-MGMT-18 expired
    (datetime.date(2026, 4, 3), ['HVS-VSW-05']),                     # both dated waivers expired
])
def test_waived_ids_leaves_out_expired_waivers(today, expected):
    assert waived_ids(WAIVERS, today=today) == expected


def test_waived_ids_of_no_waivers_and_today_by_default():
    assert waived_ids(None) == []
    assert waived_ids([{'id': 'HVS-VSW-05', 'reason': 'r'}]) == ['HVS-VSW-05']
    assert waived_ids([{'id': 'HVS-VSW-05', 'reason': 'r', 'expires': '2000-01-01'}]) == []
