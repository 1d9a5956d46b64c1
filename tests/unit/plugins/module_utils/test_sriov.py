# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import sriov
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture


def test_normalize_mac():
    assert sriov.normalize_mac('52:54:00:AA:BB:01') == '52:54:00:aa:bb:01'
    for bad, why in (('52:54:00:aa:bb', 'malformed'), ('00:00:00:00:00:00', 'zero'),
                     ('01:00:5e:00:00:01', 'multicast'), ('52-54-00-aa-bb-01', 'malformed')):
        with pytest.raises(ValueError) as err:
            sriov.normalize_mac(bad)
        assert why in str(err.value)


@pytest.mark.parametrize('vlan', [0, 4095, -1, 'x', True])
def test_validate_vlan_bad(vlan):
    with pytest.raises(ValueError):
        sriov.validate_vlan(vlan)


def test_validate_vlan_ok():
    assert sriov.validate_vlan(1) == 1 and sriov.validate_vlan(4094) == 4094


def test_validate_request():
    assert sriov.validate_request(2, 7, [{'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100}]) == []
    errors = sriov.validate_request(8, 7, [])
    assert errors == ['numvfs 8 is above the device total sriov_totalvfs=7']
    errors = sriov.validate_request(2, 7, [
        {'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 5000},
        {'vf': 0, 'mac': '52:54:00:aa:bb:01'},
        {'vf': 2, 'rate': -1},
    ])
    assert 'vf 0: VLAN 5000 is outside 1-4094' in errors
    assert 'vf 0 is declared twice' in errors
    assert 'vf 0 and vf 0 have the same MAC 52:54:00:aa:bb:01' in errors
    assert 'vf 2 does not exist with numvfs=2 (VF indexes are 0..numvfs-1)' in errors
    assert 'vf 2: rate -1 is negative' in errors


def test_parse_vfinfo_current_iproute2():
    state = sriov.parse_vfinfo(json.loads(fixture('ip-link-eth2.json')))
    assert state == {
        0: {'mac': '00:00:00:00:00:00', 'vlan': 0, 'qos': 0, 'spoofchk': False, 'trust': True, 'rate': 0},
        1: {'mac': '52:54:00:aa:bb:02', 'vlan': 101, 'qos': 0, 'spoofchk': True, 'trust': False, 'rate': 0},
    }


def test_parse_vfinfo_legacy_keys():
    state = sriov.parse_vfinfo(json.loads(fixture('ip-link-legacy.json')))
    assert state == {0: {'mac': '52:54:00:aa:bb:03', 'vlan': 200, 'qos': 3, 'spoofchk': True,
                         'trust': False, 'rate': 100}}
    assert sriov.parse_vfinfo([{'ifname': 'eth0'}]) == {}


def test_plan_changes_against_current():
    current = sriov.parse_vfinfo(json.loads(fixture('ip-link-eth2.json')))
    wanted = sriov.wanted_vf_settings(2, [{'vf': 0, 'mac': '52:54:00:AA:BB:01', 'vlan': 100,
                                           'spoofchk': True, 'trust': False}])
    assert wanted == {0: {'mac': '52:54:00:aa:bb:01', 'vlan': 100, 'spoofchk': True, 'trust': False},
                      1: {'spoofchk': True, 'trust': False}}
    changes, commands = sriov.plan_vf_changes(current, wanted)
    assert changes == [
        {'vf': 0, 'setting': 'mac', 'before': '00:00:00:00:00:00', 'after': '52:54:00:aa:bb:01'},
        {'vf': 0, 'setting': 'vlan', 'before': 0, 'after': 100},
        {'vf': 0, 'setting': 'spoofchk', 'before': False, 'after': True},
        {'vf': 0, 'setting': 'trust', 'before': True, 'after': False},
    ]
    assert commands == [['vf', '0', 'mac', '52:54:00:aa:bb:01', 'vlan', '100', 'spoofchk', 'on', 'trust', 'off']]
    # Already in the wanted state: nothing to do.
    current[0].update(mac='52:54:00:aa:bb:01', vlan=100, spoofchk=True, trust=False)
    assert sriov.plan_vf_changes(current, wanted) == ([], [])


def test_plan_new_vfs_and_rate():
    wanted = sriov.wanted_vf_settings(1, [{'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 7, 'rate': 100,
                                           'spoofchk': True, 'trust': False}], secure_undeclared=False)
    changes, commands = sriov.plan_vf_changes({}, wanted)
    assert len(changes) == 5 and all(c['before'] is None for c in changes)
    assert commands[0][-2:] == ['max_tx_rate', '100']


def test_render_config():
    wanted = sriov.wanted_vf_settings(2, [{'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100,
                                           'spoofchk': True, 'trust': False}])
    text = sriov.render_config('eth2', 2, wanted)
    assert text.splitlines()[1:] == [
        'pf=eth2', 'numvfs=2',
        'vf 0 mac 52:54:00:aa:bb:01 vlan 100 spoofchk on trust off',
        'vf 1 spoofchk on trust off',
    ]


def test_domain_hostdevs():
    name, addrs = sriov.domain_hostdev_addresses(fixture('guest1-running.xml'))
    assert name == 'guest1'
    assert addrs == ['0000:01:00.1', '0000:00:10.2']
    assert sriov.domain_hostdev_addresses('<domain') == (None, [])
