# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probe of the processor: facts key ``cpu``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs


def probe_cpu(ctx):
    """``cpu``: vendor, model_name, virt_extension, slat, logical_cpus, physical_cores (/proc/cpuinfo),
    smt_control, smt_active, vulnerabilities (/sys/devices/system/cpu)."""
    text = ctx.fs.read('/proc/cpuinfo', 'cpu')
    info = procfs.parse_cpuinfo(text) if text is not None else None
    vulns = None
    vdir = '/sys/devices/system/cpu/vulnerabilities'
    names = ctx.fs.listdir(vdir, 'cpu')
    if names is not None:
        vulns = {}
        for name in names:
            value = ctx.fs.value('%s/%s' % (vdir, name), 'cpu')
            if value is not None:
                vulns[name] = value
    smt_control = ctx.fs.value('/sys/devices/system/cpu/smt/control', 'cpu')
    smt_active = ctx.fs.value('/sys/devices/system/cpu/smt/active', 'cpu')
    return {
        'vendor': info['vendor'] if info else None,
        'model_name': info['model_name'] if info else None,
        'virt_extension': procfs.virt_extension(info['flags']) if info else None,
        'slat': procfs.slat(info['flags']) if info else None,
        'logical_cpus': info['logical_cpus'] if info else None,
        'physical_cores': info['physical_cores'] if info else None,
        'smt_control': smt_control,
        'smt_active': procfs.sysfs_bool(smt_active),
        'vulnerabilities': vulns,
    }
