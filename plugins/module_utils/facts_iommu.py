# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probe of the IOMMU: facts key ``iommu``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import NOT_FOUND


def probe_iommu(ctx):
    """``iommu``: firmware_table, vendor, units, groups, enabled, interrupt_remapping,
    interrupt_remapping_evidence (ACPI tables, /sys/class/iommu, /sys/kernel/iommu_groups, /proc/interrupts)."""
    tables_dir = '/sys/firmware/acpi/tables'
    firmware_table = None
    if ctx.fs.isdir(tables_dir):
        for table in ('DMAR', 'IVRS'):
            if ctx.fs.exists('%s/%s' % (tables_dir, table)):
                firmware_table = table
                break
    else:
        ctx.note('iommu', tables_dir, NOT_FOUND)
    units = ctx.fs.listdir('/sys/class/iommu', 'iommu')
    vendor = {'DMAR': 'intel', 'IVRS': 'amd'}.get(firmware_table)
    if vendor is None and units:
        if any(u.startswith('dmar') for u in units):
            vendor = 'intel'
        elif any(u.startswith('ivhd') for u in units):
            vendor = 'amd'
    groups = None
    group_ids = ctx.fs.listdir('/sys/kernel/iommu_groups', 'iommu')
    if group_ids is not None:
        groups = []
        for gid in sorted((g for g in group_ids if g.isdigit()), key=int):
            base = '/sys/kernel/iommu_groups/%s' % gid
            devices = ctx.fs.listdir(base + '/devices', 'iommu')
            groups.append({
                'id': int(gid),
                'type': ctx.fs.value(base + '/type', 'iommu', missing_ok=True),
                'devices': devices if devices is not None else [],
            })
    if units is None and groups is None:
        enabled = None
    else:
        enabled = bool(units) or bool(groups)
    interrupts = ctx.fs.read('/proc/interrupts', 'iommu')
    ir = None
    evidence = None
    if interrupts is not None:
        chips = procfs.interrupt_remapping_chips(interrupts)
        ir = bool(chips)
        evidence = ('%s in /proc/interrupts' % ', '.join(chips)) if chips else \
            'no IR-* interrupt chip in /proc/interrupts'
    return {
        'firmware_table': firmware_table,
        'vendor': vendor,
        'units': units,
        'groups': groups,
        'enabled': enabled,
        'interrupt_remapping': ir,
        'interrupt_remapping_evidence': evidence,
    }
