# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a fake host root (sysfs, procfs, /etc, /run) the way the kernel lays it out.

Devices live under sys/devices/pci0000:00/[bridge/]ADDR with sys/bus/pci/devices/ADDR symlinks,
``driver`` and ``iommu_group`` symlinks, sysfs attribute files as the kernel prints them
("0x8086\\n"), net/IFNAME directories with sys/class/net/IFNAME -> device links, and
sys/kernel/iommu_groups/N/devices/ADDR links. Static files (ip -j output, domain XML,
/proc/net/route) come from fixtures/vfio/.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'vfio')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def write(root, rel, text):
    path = os.path.join(str(root), rel)
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text)
    return path


def symlink(root, rel, target):
    path = os.path.join(str(root), rel)
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    os.symlink(target, path)


def add_driver(root, name, module=None):
    base = 'sys/bus/pci/drivers/%s' % name
    if not os.path.isdir(os.path.join(str(root), base)):
        os.makedirs(os.path.join(str(root), base))
        if module:
            os.makedirs(os.path.join(str(root), 'sys/module', module))
            symlink(root, base + '/module', '../../../../module/%s' % module)


def add_device(root, address, vendor, device, pci_class, driver=None, module=None, group=None,
               parent=None, net=(), totalvfs=None, numvfs=None, physfn=None, override=None):
    """Add one PCI device; ``parent`` is a bridge address it sits behind."""
    rel = 'sys/devices/pci0000:00/' + ('%s/' % parent if parent else '') + address
    write(root, rel + '/vendor', '%s\n' % vendor)
    write(root, rel + '/device', '%s\n' % device)
    write(root, rel + '/class', '%s\n' % pci_class)
    write(root, rel + '/modalias', 'pci:v0000%sd0000%ssv00001AF4sd00001100bc%ssc%si00\n'
          % (vendor[2:].upper(), device[2:].upper(), pci_class[2:4].upper(), pci_class[4:6].upper()))
    write(root, rel + '/driver_override', '%s\n' % (override or '(null)'))
    depth = rel.count('/') + 1
    up = '../' * depth
    symlink(root, 'sys/bus/pci/devices/%s' % address, '../../../' + rel[len('sys/'):])
    if driver:
        add_driver(root, driver, module)
        symlink(root, rel + '/driver', up + 'sys/bus/pci/drivers/%s' % driver)
    if group is not None:
        gdir = 'sys/kernel/iommu_groups/%d' % group
        write(root, gdir + '/type', 'DMA\n')
        symlink(root, rel + '/iommu_group', up + gdir)
        symlink(root, gdir + '/devices/%s' % address, '../../../../' + rel[len('sys/'):])
    for ifname in net:
        os.makedirs(os.path.join(str(root), rel, 'net', ifname))
        symlink(root, 'sys/class/net/%s' % ifname, '../../' + rel[len('sys/'):] + '/net/%s' % ifname)
        symlink(root, rel + '/net/%s/device' % ifname, '../../../%s' % address)
    if totalvfs is not None:
        write(root, rel + '/sriov_totalvfs', '%d\n' % totalvfs)
        write(root, rel + '/sriov_numvfs', '%d\n' % (numvfs or 0))
    if physfn:
        symlink(root, rel + '/physfn', '../%s' % physfn)
        pf_rel = os.path.dirname(rel) + '/' + physfn
        index = len([n for n in os.listdir(os.path.join(str(root), pf_rel)) if n.startswith('virtfn')])
        symlink(root, pf_rel + '/virtfn%d' % index, '../%s' % address)
    return rel


def lab_host(root):
    """A q35 host like the lab VM: mgmt NIC, spare NIC, igb PF with 2 VFs, a NIC sharing a group, a disk."""
    add_device(root, '0000:00:00.0', '0x8086', '0x29c0', '0x060000', group=0)
    add_device(root, '0000:00:01.0', '0x1af4', '0x1041', '0x020000', driver='virtio-pci', module='virtio_pci',
               group=1, net=['mgmt0'])
    add_device(root, '0000:00:02.0', '0x8086', '0x10d3', '0x020000', driver='e1000e', module='e1000e',
               group=2, net=['eth1'])
    add_device(root, '0000:00:03.0', '0x8086', '0x10c9', '0x020000', driver='igb', module='igb',
               group=3, net=['eth2'], totalvfs=7, numvfs=2)
    add_device(root, '0000:00:1c.0', '0x8086', '0x2918', '0x060400', driver='pcieport', group=4)
    add_device(root, '0000:01:00.0', '0x8086', '0x10d3', '0x020000', driver='e1000e', module='e1000e',
               group=4, parent='0000:00:1c.0', net=['eth3'])
    add_device(root, '0000:01:00.1', '0x8086', '0x10d3', '0x020000', driver='e1000e', module='e1000e',
               group=4, parent='0000:00:1c.0', net=['eth4'])
    add_device(root, '0000:00:1f.2', '0x8086', '0x2922', '0x010601', driver='ahci', module='ahci', group=5)
    add_device(root, '0000:00:10.0', '0x8086', '0x10ca', '0x020000', driver='igbvf', module='igbvf',
               group=6, physfn='0000:00:03.0', net=['eth5'])
    add_device(root, '0000:00:10.2', '0x8086', '0x10ca', '0x020000', driver='vfio-pci', module='vfio_pci',
               group=7, physfn='0000:00:03.0')
    # Boot disk sda behind the AHCI controller, root on sda1.
    disk = 'sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda'
    write(root, disk + '/dev', '8:0\n')
    write(root, disk + '/sda1/dev', '8:1\n')
    symlink(root, 'sys/dev/block/8:1', '../../' + disk[len('sys/'):] + '/sda1')
    symlink(root, 'sys/dev/block/8:0', '../../' + disk[len('sys/'):])
    write(root, 'proc/self/mountinfo', fixture('mountinfo'))
    write(root, 'proc/net/route', fixture('route'))
    write(root, 'proc/net/ipv6_route', fixture('ipv6_route'))
    os.makedirs(os.path.join(str(root), 'etc/modprobe.d'))
    os.makedirs(os.path.join(str(root), 'dev/vfio'))
    write(root, 'dev/vfio/7', '')
    for name in ('drivers_probe',):
        write(root, 'sys/bus/pci/' + name, '')
    return root
