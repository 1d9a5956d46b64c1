# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probe of the host identity: facts key ``host``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs


def probe_host(ctx):
    """``host``: hostname, kernel_release, mem_total_kib (/proc/meminfo), os (/etc/os-release)."""
    meminfo = procfs.parse_meminfo(ctx.fs.read('/proc/meminfo', 'host'))
    os_release = ctx.fs.read('/etc/os-release', 'host', missing_ok=True)
    if os_release is None:
        os_release = ctx.fs.read('/usr/lib/os-release', 'host')
    return {
        'hostname': ctx.fs.value('/proc/sys/kernel/hostname', 'host'),
        'kernel_release': ctx.fs.value('/proc/sys/kernel/osrelease', 'host'),
        'mem_total_kib': meminfo.get('MemTotal'),
        'os': procfs.parse_os_release(os_release) if os_release is not None else None,
    }
