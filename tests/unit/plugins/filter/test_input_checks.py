# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.filter.input_checks import (
    sshd_option_errors, vswitch_port_errors, waiver_errors)

RESERVED = {'permitrootlogin': 'hvsec_mgmt_plane_sshd_permit_root_login'}


def test_waivers_valid_and_empty():
    assert waiver_errors([{'id': 'HVS-IOMMU-14', 'reason': 'CI needs nested virtualization'}]) == []
    assert waiver_errors([]) == [] and waiver_errors(None) == []


@pytest.mark.parametrize('waivers,expected', [
    ([{'id': 'HVS-NOPE-99', 'reason': 'typo'}], ['hvsec_waivers[0].id HVS-NOPE-99 is not a known control ID']),
    ([{'id': 'HVS-MGMT-01', 'reason': 'ok'}, {'id': 'HVS-MGMT-01', 'reason': ' '}],
     ['hvsec_waivers[1] (HVS-MGMT-01) needs a non-empty reason']),
    ([{'id': 'HVS-MGMT-01', 'reason': 'x', 'until': '2030'}],
     ['hvsec_waivers[0] has unknown key(s) until (allowed: id, reason)']),
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
