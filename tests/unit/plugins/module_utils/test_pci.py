# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import (
    add_device, fixture, lab_host, write)


@pytest.fixture
def host(tmp_path):
    return str(lab_host(tmp_path))


@pytest.mark.parametrize('text,expected', [
    ('0000:01:00.0', '0000:01:00.0'),
    ('0000:0A:1F.7', '0000:0a:1f.7'),
    ('01:00.1', '0000:01:00.1'),
    (' 0001:02:03.4 ', '0001:02:03.4'),
])
def test_normalize_address_ok(text, expected):
    assert pci.normalize_address(text) == expected


@pytest.mark.parametrize('text', ['0000:01:00', '0000:01:00.8', '0000:01:20.0', '1:00.0', 'eth0', '', '0000:01:00.0.1'])
def test_normalize_address_bad(text):
    with pytest.raises(ValueError) as err:
        pci.normalize_address(text)
    assert 'malformed PCI address' in str(err.value)


def test_normalize_id():
    assert pci.normalize_id('8086:10D3') == '8086:10d3'
    for bad in ('8086-10d3', '808:10d3', '8086:10d3x', '0x8086:0x10d3'):
        with pytest.raises(ValueError) as err:
            pci.normalize_id(bad)
        assert 'vendor:device' in str(err.value)


def test_read_device_from_sysfs(host):
    dev = pci.read_device(host, '0000:00:02.0')
    assert dev['id'] == '8086:10d3'
    assert dev['driver'] == 'e1000e'
    assert dev['driver_module'] == 'e1000e'
    assert dev['iommu_group'] == 2
    assert dev['net'] == ['eth1']
    assert dev['driver_override'] is None
    assert dev['is_bridge'] is False
    assert pci.read_device(host, '0000:00:1c.0')['is_bridge'] is True
    pf = pci.read_device(host, '0000:00:03.0')
    assert (pf['sriov_totalvfs'], pf['sriov_numvfs']) == (7, 2)
    assert pci.read_device(host, '0000:00:10.2')['physfn'] == '0000:00:03.0'
    assert pci.read_device(host, '0000:09:00.0') is None


def test_list_devices_and_groups(host):
    devices = pci.list_devices(host)
    assert '0000:01:00.1' in devices and len(devices) == 10
    assert pci.group_members(host, 4) == ['0000:00:1c.0', '0000:01:00.0', '0000:01:00.1']
    assert pci.group_members(host, 99) == []
    assert pci.group_members(host, None) == []


def test_resolve_targets(host):
    devices = pci.list_devices(host)
    targets, errors = pci.resolve_targets(devices, [{'id': '8086:10d3'}, {'address': '0000:01:00.0'}])
    assert [a for a, _e in targets] == ['0000:00:02.0', '0000:01:00.0', '0000:01:00.1']
    assert errors == []
    _t, errors = pci.resolve_targets(devices, [{'id': 'dead:beef'}, {'address': '0000:05:00.0'}])
    assert errors == ['no PCI device matches vendor:device id dead:beef on this host',
                      'PCI device 0000:05:00.0 does not exist on this host']


def test_group_viability(host):
    devices = pci.list_devices(host)
    groups = {4: pci.group_members(host, 4), 2: pci.group_members(host, 2), 7: pci.group_members(host, 7)}
    # Alone in its group: viable.
    assert pci.group_blockers(devices, groups, ['0000:00:02.0']) == []
    # Shares group 4 with 01:00.1 (host driver e1000e); the root port bridge does not count.
    problems = pci.group_blockers(devices, groups, ['0000:01:00.0'])
    assert len(problems) == 1
    assert problems[0]['blocker'] == '0000:01:00.1'
    assert '0000:01:00.1' in problems[0]['reason'] and 'e1000e' in problems[0]['reason']
    # Both functions assigned together: viable.
    assert pci.group_blockers(devices, groups, ['0000:01:00.0', '0000:01:00.1']) == []


def test_group_viability_stub_member_and_no_group(tmp_path):
    root = str(tmp_path)
    add_device(root, '0000:02:00.0', '0x10de', '0x1b80', '0x030000', driver='nouveau', group=9)
    add_device(root, '0000:02:00.1', '0x10de', '0x10f0', '0x040300', driver='pci-stub', group=9)
    add_device(root, '0000:03:00.0', '0x8086', '0x10d3', '0x020000', driver='e1000e')
    devices = pci.list_devices(root)
    groups = {9: pci.group_members(root, 9)}
    assert pci.group_blockers(devices, groups, ['0000:02:00.0']) == []
    problems = pci.group_blockers(devices, groups, ['0000:03:00.0'])
    assert problems[0]['group'] is None and 'no IOMMU group' in problems[0]['reason']


def test_host_critical_paths(host):
    assert pci.netdev_pci_addresses(host, 'mgmt0') == ['0000:00:01.0']
    assert pci.netdev_pci_addresses(host, 'eth3') == ['0000:00:1c.0', '0000:01:00.0']
    assert pci.netdev_pci_addresses(host, 'nope') == []
    assert pci.parse_mountinfo(fixture('mountinfo')) == ['8:1']
    assert pci.block_pci_addresses(host, '8:1') == ['0000:00:1f.2']
    assert pci.default_route_interfaces(fixture('route'), fixture('ipv6_route')) == ['mgmt0']
    data = json.loads(fixture('ip-addr.json'))
    assert pci.interfaces_with_addresses(data, ['10.0.2.15', '203.0.113.9']) == ['mgmt0']


def test_bridge_lower_devices(host):
    # A bridge br0 enslaving mgmt0: the bridge's lower device is protected too.
    write(host, 'sys/devices/virtual/net/br0/bridge/bridge_id', '8000.525400123456\n')
    import os
    os.symlink('../../devices/virtual/net/br0', os.path.join(host, 'sys/class/net/br0'))
    os.makedirs(os.path.join(host, 'sys/devices/virtual/net/br0/brif'))
    os.symlink('../../../../pci0000:00/0000:00:01.0/net/mgmt0/brport',
               os.path.join(host, 'sys/devices/virtual/net/br0/brif/mgmt0'))
    assert pci.netdev_pci_addresses(host, 'br0') == ['0000:00:01.0']


def test_managed_modprobe_roundtrip():
    text = pci.render_managed_modprobe(['8086:10d3', '8086:10d3', '1af4:1041'], ['e1000e', 'virtio_pci'],
                                       {'e1000e': ['0000:01:00.1', '0000:01:00.0']}, True)
    assert text.startswith(pci.MANAGED_HEADER)
    assert 'options vfio-pci ids=1af4:1041,8086:10d3\n' in text
    # kmod ignores the install command of a module that also has a softdep: hooked modules get none
    assert 'softdep e1000e' not in text and 'softdep virtio_pci pre: vfio-pci\n' in text
    assert ('install e1000e for a in 0000:01:00.0 0000:01:00.1; do' in text
            and 'echo $a > /sys/bus/pci/drivers_probe' in text
            and '/sbin/modprobe --ignore-install e1000e $CMDLINE_OPTS' in text)
    assert 'options vfio_iommu_type1 allow_unsafe_interrupts=0\n' in text
    parsed = pci.parse_managed_modprobe(text)
    assert parsed == {'ids': ['1af4:1041', '8086:10d3'], 'softdeps': ['virtio_pci'],
                      'overrides': {'e1000e': ['0000:01:00.0', '0000:01:00.1']}, 'lock_unsafe': True}
    assert pci.render_managed_modprobe([], [], {}, False) == ''
    assert pci.parse_managed_modprobe('')['lock_unsafe'] is False


def test_unsafe_lines():
    text = fixture('modprobe-unsafe.conf')
    found = pci.unsafe_option_lines(text)
    assert [i for i, _l in found] == [1, 3]
    fixed = pci.disable_unsafe_lines(text)
    assert pci.unsafe_option_lines(fixed) == []
    assert 'options kvm ignore_msrs=1\n' in fixed
    assert '# disabled by hvsec.hypervisor (HVS-VFIO-01/02): options vfio_iommu_type1 allow_unsafe_interrupts=1' in fixed
    assert pci.disable_unsafe_lines('options vfio_iommu_type1 allow_unsafe_interrupts=0\n') == \
        'options vfio_iommu_type1 allow_unsafe_interrupts=0\n'
