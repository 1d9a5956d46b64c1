# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab itself: a GRUB-booted Debian 12 hypervisor VM with an emulated IOMMU and the extra
PCI devices the roles need. Every assertion reads real state from the VM over SSH."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest

NICS = {
    'mgmt0': '52:54:00:4c:00:01',
    'spare0': '52:54:00:4c:00:03',
    'vmnet0': '52:54:00:4c:00:04',
}


def iommu_groups(host):
    """{group id: (type, [devices])} read from /sys/kernel/iommu_groups."""
    out = host.check_output(
        'for g in /sys/kernel/iommu_groups/*; do '
        'printf "%s %s %s\\n" "${g##*/}" "$(cat $g/type)" "$(ls $g/devices | tr "\\n" ",")"; done')
    groups = {}
    for line in out.splitlines():
        gid, gtype, devs = line.split(' ', 2)
        groups[int(gid)] = (gtype, [d for d in devs.split(',') if d])
    return groups


def test_ssh_and_identity(host):
    assert host.check_output('id -u') == '0'
    assert host.check_output('hostname') == 'hvlab'
    os_release = host.file('/etc/os-release').content_string
    assert 'VERSION_ID="12"' in os_release


def test_booted_by_grub_from_disk(host):
    cmdline = host.file('/proc/cmdline').content_string.strip()
    # BOOT_IMAGE is set by GRUB's linux command, not by QEMU -kernel.
    assert re.match(r'^BOOT_IMAGE=\S*/vmlinuz-\S+ ', cmdline), cmdline
    uuid = re.search(r'\broot=UUID=([0-9a-f-]+)', cmdline)
    assert uuid, cmdline
    assert host.file('/boot/grub/grub.cfg').contains('root=UUID=%s' % uuid.group(1))
    assert host.file('/boot/grub/i386-pc/core.img').exists
    assert 'console=ttyS0' in cmdline


def test_emulated_iommu(host, lab):
    units = host.check_output('ls /sys/class/iommu').split()
    variant = lab.get('IOMMU')
    if variant == 'intel' or (not variant and 'dmar0' in units):
        assert units == ['dmar0']
        assert host.file('/sys/firmware/acpi/tables/DMAR').exists
    else:
        assert any(u.startswith('ivhd') for u in units), units
        assert host.file('/sys/firmware/acpi/tables/IVRS').exists
    groups = iommu_groups(host)
    assert len(groups) >= 6, groups
    for gtype, devices in groups.values():
        assert gtype in ('DMA', 'DMA-FQ', 'identity'), gtype
        assert devices
    # Interrupt remapping is on (intremap=on), visible as IR-PCI-MSI interrupts.
    assert 'IR-PCI-MSI' in host.file('/proc/interrupts').content_string


# The spare NIC (e1000e 82574L) may be bound to vfio-pci by the vfio role: then it has no netdev.
SPARE_ID = ('0x8086', '0x10d3')


def _spare_pci(host):
    return host.check_output('for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor) $(cat $d/device)" = "%s %s" ] '
                             '&& basename $d; done; true' % SPARE_ID).split()


def test_nics_named_by_mac(host):
    for name, mac in NICS.items():
        if name == 'spare0' and not host.file('/sys/class/net/spare0').exists:
            drivers = [host.check_output('basename "$(readlink -f /sys/bus/pci/devices/%s/driver)"' % a) for a in _spare_pci(host)]
            assert drivers == ['vfio-pci'], 'spare0 is gone and its PCI function is not on vfio-pci: %s' % drivers
            continue
        link = host.check_output('cat /sys/class/net/%s/address' % name)
        assert link == mac, name
    # Only the management NIC carries an address.
    assert '10.0.2.15/24' in host.check_output('ip -o -4 addr show dev mgmt0')


def test_spare_nic_in_its_own_iommu_group(host):
    devs = _spare_pci(host)
    assert len(devs) == 1, devs
    dev = devs[0]
    group = int(host.check_output('basename "$(readlink -f /sys/bus/pci/devices/%s/iommu_group)"' % dev))
    assert iommu_groups(host)[group][1] == [dev]


def test_sriov_capable_nic(host, lab):
    if lab.get('SRIOV') == 'none':
        pytest.skip('this lab runs a QEMU without igb (no SR-IOV NIC)')
    total = int(host.check_output('cat /sys/class/net/sriov0/device/sriov_totalvfs'))
    assert total >= 2
    assert host.check_output('cat /sys/class/net/sriov0/device/vendor') == '0x8086'
    assert host.check_output('basename "$(readlink -f /sys/class/net/sriov0/device/driver)"') == 'igb'


def test_hypervisor_packages(host):
    for pkg in ('libvirt-daemon-system', 'libvirt-clients', 'qemu-system-x86', 'openvswitch-switch',
                'nftables', 'auditd', 'chrony', 'openssh-server', 'python3', 'pciutils', 'grub-pc'):
        assert host.package(pkg).is_installed, pkg
    # Debian 12 socket-activates libvirtd (and stops it when idle): the socket must listen.
    assert host.service('libvirtd.socket').is_running
    assert host.socket('unix:///run/libvirt/libvirt-sock').is_listening
    assert host.service('ovs-vswitchd').is_running


def virt_host_validate(host):
    res = host.run('virt-host-validate qemu')
    checks = {}
    for line in res.stdout.splitlines():
        m = re.match(r'\s*QEMU: (.+?)\s+: (PASS|WARN|FAIL)\s*(?:\((.*)\))?$', line)
        if m:
            checks[m.group(1)] = (m.group(2), m.group(3) or '')
    return checks


def test_virt_host_validate(host, lab):
    """libvirt's own checker is the external oracle for the virtualization host basics."""
    checks = virt_host_validate(host)
    assert checks, 'virt-host-validate printed no QEMU checks'
    for name in ('Checking for hardware virtualization', 'Checking if device /dev/kvm exists',
                 'Checking if device /dev/kvm is accessible', 'Checking if device /dev/vhost-net exists',
                 'Checking if device /dev/net/tun exists'):
        assert checks[name][0] == 'PASS', (name, checks[name])
    assert not [n for n, (r, dummy) in checks.items() if r == 'FAIL'], checks
    iommu = checks['Checking for device assignment IOMMU support']
    if lab.get('IOMMU') == 'amd':
        assert iommu[0] == 'PASS', iommu
        assert checks['Checking if IOMMU is enabled by kernel'][0] == 'PASS'
    else:
        # Intel variant: TCG emulates only AMD-V (svm), so virt-host-validate looks for the
        # AMD IVRS table and warns; the DMAR unit itself is asserted in test_emulated_iommu.
        assert iommu[0] == 'WARN' and 'IVRS' in iommu[1], iommu
