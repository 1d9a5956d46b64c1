# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probes of the running kernel: facts keys ``kvm``, ``ksm``, ``cmdline``, ``vfio``, ``security_module``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils import cmdline as cmdline_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import files
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import NOT_FOUND

_MODPROBE_DIRS = ('/etc/modprobe.d', '/run/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d')
_VFIO_MODULES = ('vfio', 'vfio_pci', 'vfio_pci_core', 'vfio_iommu_type1', 'vfio_virqfd')


def probe_kvm(ctx):
    """``kvm``: dev_kvm, modules, params, nested, nx_huge_pages (/dev/kvm, /sys/module/kvm*)."""
    modules = ctx.fs.listdir('/sys/module', 'kvm')
    kvm_modules = [m for m in modules or [] if m == 'kvm' or m.startswith('kvm_')]
    params = {}
    for module in kvm_modules:
        values = module_params(ctx, module, 'kvm')
        if values is not None:
            params[module] = values
    nested = None
    for module in ('kvm_intel', 'kvm_amd'):
        if 'nested' in params.get(module, {}):
            nested = procfs.sysfs_bool(params[module]['nested'])
    if not kvm_modules:
        ctx.note('kvm', '/sys/module/kvm', NOT_FOUND)
    elif nested is None:
        ctx.note('kvm', '/sys/module/kvm_{intel,amd}/parameters/nested', NOT_FOUND)
    return {
        'dev_kvm': ctx.fs.exists('/dev/kvm'),
        'modules': kvm_modules if modules is not None else None,
        'params': params if modules is not None else None,
        'nested': nested,
        'nx_huge_pages': params.get('kvm', {}).get('nx_huge_pages'),
    }


def probe_ksm(ctx):
    """``ksm``: run, pages_shared (/sys/kernel/mm/ksm)."""
    return {
        'run': procfs.to_int(ctx.fs.value('/sys/kernel/mm/ksm/run', 'ksm')),
        'pages_shared': procfs.to_int(ctx.fs.value('/sys/kernel/mm/ksm/pages_shared', 'ksm')),
    }


def probe_cmdline(ctx):
    """``cmdline``: raw, args, init_args (/proc/cmdline)."""
    raw = ctx.fs.read('/proc/cmdline', 'cmdline')
    if raw is None:
        return {'raw': None, 'args': None, 'init_args': None}
    raw = raw.strip()
    parsed = cmdline_utils.parse_cmdline(raw)
    return {'raw': raw, 'args': parsed['args'], 'init_args': parsed['init_args']}


def probe_vfio(ctx):
    """``vfio``: modules, params (/sys/module/vfio*), modprobe_options (modprobe.d), dev_vfio (/dev/vfio)."""
    loaded = [m for m in _VFIO_MODULES if ctx.fs.isdir('/sys/module/%s' % m)]
    params = {}
    for module in loaded:
        values = module_params(ctx, module, 'vfio')
        # a loaded module without a parameters directory has no parameters at all (Debian's
        # vfio without CONFIG_VFIO_NOIOMMU): {} says so, unlike a module that is not loaded
        params[module] = values if values is not None else {}
    options = []
    seen_files = set()
    for directory in _MODPROBE_DIRS:
        names = ctx.fs.listdir(directory, 'vfio', missing_ok=True)
        for name in names or []:
            if not name.endswith('.conf'):
                continue
            path = '%s/%s' % (directory, name)
            real = ctx.fs.realpath(path)
            if real in seen_files:
                continue
            seen_files.add(real)
            text = ctx.fs.read(path, 'vfio')
            if text is not None:
                options.extend(procfs.parse_modprobe_options(text, path))
    dev_vfio = ctx.fs.listdir('/dev/vfio', 'vfio' if loaded else None, missing_ok=not loaded)
    if dev_vfio is None and not loaded:
        dev_vfio = []
    return {'modules': loaded, 'params': params, 'modprobe_options': options, 'dev_vfio': dev_vfio}


def probe_security_module(ctx):
    """``security_module``: apparmor, selinux, selinux_enforcing, lsm (/sys/module/apparmor,
    /sys/fs/selinux, /sys/kernel/security/lsm)."""
    apparmor = files.read_text(ctx.fs.path('/sys/module/apparmor/parameters/enabled'), strip=True)
    lsm = files.read_text(ctx.fs.path('/sys/kernel/security/lsm'), strip=True)
    return {
        'apparmor': procfs.sysfs_bool(apparmor) is True,
        'selinux': ctx.fs.exists('/sys/fs/selinux/enforce'),
        'selinux_enforcing': procfs.sysfs_bool(files.read_text(ctx.fs.path('/sys/fs/selinux/enforce'), strip=True)),
        'lsm': lsm.split(',') if lsm else None,
    }


def module_params(ctx, module, probe):
    """{name: value} of /sys/module/MODULE/parameters, None when the module is absent."""
    base = '/sys/module/%s/parameters' % module
    names = ctx.fs.listdir(base, probe, missing_ok=True)
    if names is None:
        return None
    result = {}
    for name in names:
        value = ctx.fs.value('%s/%s' % (base, name), probe)
        if value is not None:
            result[name] = value
    return result
