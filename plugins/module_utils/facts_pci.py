# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probe of the PCI devices: facts key ``pci``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs

_PCI_ADDR = re.compile(r'^[0-9a-fA-F]{4,}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$')


def probe_pci(ctx):
    """``pci``: devices (/sys/bus/pci/devices with drivers, IOMMU groups, SR-IOV state, net and block children)."""
    base = '/sys/bus/pci/devices'
    addresses = ctx.fs.listdir(base, 'pci')
    if addresses is None:
        return {'devices': None}
    nets = _devices_below(ctx, '/sys/class/net')
    blocks = _devices_below(ctx, '/sys/block')
    devices = []
    for addr in addresses:
        path = '%s/%s' % (base, addr)
        pclass = ctx.fs.value(path + '/class', 'pci')
        override = ctx.fs.value(path + '/driver_override', 'pci', missing_ok=True)
        group = ctx.fs.link_name(path + '/iommu_group')
        devices.append({
            'address': addr,
            'class': pclass,
            'vendor': ctx.fs.value(path + '/vendor', 'pci'),
            'device': ctx.fs.value(path + '/device', 'pci'),
            'driver': ctx.fs.link_name(path + '/driver'),
            'driver_override': None if override in (None, '', '(null)') else override,
            'iommu_group': int(group) if group and group.isdigit() else None,
            'is_bridge': bool(pclass) and (pclass.startswith('0x0604') or pclass.startswith('0x0600')),
            'sriov_totalvfs': procfs.to_int(ctx.fs.value(path + '/sriov_totalvfs', 'pci', missing_ok=True)),
            'sriov_numvfs': procfs.to_int(ctx.fs.value(path + '/sriov_numvfs', 'pci', missing_ok=True)),
            'physfn': ctx.fs.link_name(path + '/physfn'),
            'net': sorted(nets.get(addr, [])),
            'block': sorted(blocks.get(addr, [])),
        })
    return {'devices': devices}


def _devices_below(ctx, class_dir):
    """{pci address: [names]} for entries of /sys/class/net or /sys/block."""
    result = {}
    for name in ctx.fs.listdir(class_dir, 'pci', missing_ok=True) or []:
        real = ctx.fs.realpath('%s/%s' % (class_dir, name))
        owner = None
        for part in real.split(os.sep):
            if _PCI_ADDR.match(part):
                owner = part
        if owner:
            result.setdefault(owner, []).append(name)
    return result
