# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe orchestration for hvsec.hypervisor.hypervisor_facts.

``gather_facts(root, run_command, get_bin_path, euid, gather)`` reads every
file below ``root`` (``/`` on a host, a fixture tree in unit tests) and calls
the external tools through the injected ``run_command(args) -> (rc, out, err)``
and ``get_bin_path(name) -> path or None``. It never raises and never writes:
every missing or unreadable source becomes ``None`` plus an entry in
``notes``. See docs/facts.md for the schema.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import glob
import grp
import os
import pwd
import re
import stat

from ansible_collections.hvsec.hypervisor.plugins.module_utils import cmdline as cmdline_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf
from ansible_collections.hvsec.hypervisor.plugins.module_utils import domain_xml
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs as ovs_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ip_link
from ansible_collections.hvsec.hypervisor.plugins.module_utils import netstat
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd as sshd_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import systemd_unit
from ansible_collections.hvsec.hypervisor.plugins.module_utils import nft as nft_utils

SCHEMA_VERSION = 1

PROBES = ('host', 'cpu', 'kvm', 'ksm', 'cmdline', 'iommu', 'pci', 'vfio', 'network', 'libvirt',
          'listeners', 'processes', 'sshd', 'nftables', 'audit', 'sysctl', 'security_module',
          'time_sync')

PERMISSION_DENIED = 'permission denied'
NOT_FOUND = 'not found'
NOT_INSTALLED = 'not installed'

_PCI_ADDR = re.compile(r'^[0-9a-fA-F]{4,}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$')
_LIBVIRT_SOCKETS = (
    'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket', 'libvirtd-tcp.socket',
    'libvirtd-tls.socket', 'virtproxyd.socket', 'virtproxyd-ro.socket', 'virtproxyd-admin.socket',
    'virtproxyd-tcp.socket', 'virtproxyd-tls.socket', 'virtqemud.socket', 'virtqemud-ro.socket',
    'virtqemud-admin.socket',
)
_LIBVIRT_SERVICES = ('libvirtd.service', 'virtproxyd.service', 'virtqemud.service')
# Read-write sockets: the unit that creates each under socket activation, and its path.
_LIBVIRT_RW_SOCKET_UNITS = ('libvirtd.socket', 'virtproxyd.socket', 'virtqemud.socket')
_LIBVIRT_RW_SOCKETS = ('/run/libvirt/libvirt-sock', '/run/libvirt/virtqemud-sock')
_LIBVIRT_CONFS = ('libvirtd', 'virtproxyd', 'virtqemud', 'qemu')
_UNIT_DIRS = systemd_unit.UNIT_DIRS
_MODPROBE_DIRS = ('/etc/modprobe.d', '/run/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d')
_TIME_DAEMONS = (('chronyd', 'chronyd'), ('ntpd', 'ntpd'), ('systemd-timesyn', 'systemd-timesyncd'),
                 ('timesyncd', 'systemd-timesyncd'), ('openntpd', 'openntpd'), ('ptp4l', 'ptp4l'))
_VFIO_MODULES = ('vfio', 'vfio_pci', 'vfio_pci_core', 'vfio_iommu_type1', 'vfio_virqfd')


def reason_of(exc):
    """Short reason for an OSError."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NOT_FOUND
    return exc.strerror or str(exc)


def _name_of(lookup, ident):
    """User or group name of a numeric id (the id as a string when it has no name)."""
    try:
        return lookup(ident)[0]
    except (KeyError, OverflowError):
        return str(ident)


class Reader(object):
    """Filesystem access below ``root`` that records what it could not read."""

    def __init__(self, root='/'):
        self.root = root or '/'
        self.notes = []

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def note(self, probe, path, reason):
        entry = {'probe': probe, 'path': path, 'reason': reason}
        if entry not in self.notes:
            self.notes.append(entry)

    def read(self, path, probe=None, missing_ok=False):
        """Text of a file, or None (noted unless missing_ok and it is absent)."""
        try:
            with open(self.path(path), 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            reason = reason_of(exc)
            if probe and not (missing_ok and reason == NOT_FOUND):
                self.note(probe, path, reason)
            return None
        return data.decode('utf-8', 'replace')

    def value(self, path, probe=None, missing_ok=False):
        """Stripped text of a one-line sysfs/procfs file, or None."""
        text = self.read(path, probe, missing_ok)
        return text.strip() if text is not None else None

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def glob(self, pattern):
        """Sorted paths (as on the host) matching a glob pattern."""
        prefix = self.root.rstrip('/')
        return sorted(p[len(prefix):] for p in glob.glob(self.path(pattern)))

    def isdir(self, path):
        return os.path.isdir(self.path(path))

    def listdir(self, path, probe=None, missing_ok=False):
        """Sorted entries of a directory, or None (noted unless missing_ok and absent)."""
        try:
            return sorted(os.listdir(self.path(path)))
        except (IOError, OSError) as exc:
            reason = reason_of(exc)
            if probe and not (missing_ok and reason == NOT_FOUND):
                self.note(probe, path, reason)
            return None

    def link_name(self, path):
        """Last component of a symlink's target, or None."""
        try:
            return os.path.basename(os.readlink(self.path(path)).rstrip('/')) or None
        except (IOError, OSError):
            return None

    def readlink(self, path):
        try:
            return os.readlink(self.path(path))
        except (IOError, OSError):
            return None

    def realpath(self, path):
        return os.path.realpath(self.path(path))


class Gatherer(object):
    def __init__(self, root='/', run_command=None, get_bin_path=None, euid=None, sshd_options=None):
        self.fs = Reader(root)
        # the connections to read sshd's effective configuration for: admin_cidrs, users, local_address
        self.sshd_options = sshd_options or {}
        self.run_command = run_command
        self.get_bin_path = get_bin_path or (lambda name: None)
        self.euid = os.geteuid() if euid is None else euid
        self._processes = None
        self._pid_comm = None
        self._addresses = None
        self._addresses_done = False
        self._tool_cache = {}

    @property
    def privileged(self):
        return self.euid == 0

    # ------------------------------------------------------------- helpers
    def note(self, probe, path, reason):
        self.fs.note(probe, path, reason)

    def tool(self, name):
        try:
            return self.get_bin_path(name)
        except Exception:  # pylint: disable=broad-except
            return None

    def run(self, probe, args, needs_root=False):
        """Run a tool once. Returns (rc, out, err); rc None when it could not run.

        ``needs_root``: a failure of an unprivileged run is noted as permission denied.
        """
        key = tuple(args)
        if key in self._tool_cache:
            return self._tool_cache[key]
        if self.run_command is None:
            result = (None, '', 'no command runner')
        else:
            try:
                rc, out, err = self.run_command(list(args))
                result = (rc, out or '', err or '')
            except Exception as exc:  # pylint: disable=broad-except
                result = (None, '', str(exc))
        if result[0] != 0:
            reason = self._failure_reason(result)
            if needs_root and not self.privileged and result[0] is not None:
                reason = PERMISSION_DENIED
            self.note(probe, args[0], reason)
        self._tool_cache[key] = result
        return result

    def _failure_reason(self, result):
        rc, dummy, err = result
        text = (err or '').strip().lower()
        if 'permission denied' in text or 'operation not permitted' in text or (
                not self.privileged and rc not in (None, 0) and 'privilege' in text):
            return PERMISSION_DENIED
        first = (err or '').strip().splitlines()
        detail = first[0] if first else ''
        return ('failed (rc=%s)%s' % (rc, ': ' + detail if detail else ''))[:300]

    def params(self, module, probe):
        """{name: value} of /sys/module/MODULE/parameters, None when the module is absent."""
        base = '/sys/module/%s/parameters' % module
        names = self.fs.listdir(base, probe, missing_ok=True)
        if names is None:
            return None
        result = {}
        for name in names:
            value = self.fs.value('%s/%s' % (base, name), probe)
            if value is not None:
                result[name] = value
        return result

    def processes(self):
        """{pid: comm} of /proc (cached)."""
        if self._pid_comm is None:
            self._pid_comm = {}
            for entry in self.fs.listdir('/proc', 'processes') or []:
                if entry.isdigit():
                    comm = self.fs.value('/proc/%s/comm' % entry)
                    if comm is not None:
                        self._pid_comm[int(entry)] = comm
        return self._pid_comm

    # ------------------------------------------------------------- probes
    def probe_host(self):
        meminfo = procfs.parse_meminfo(self.fs.read('/proc/meminfo', 'host'))
        os_release = self.fs.read('/etc/os-release', 'host', missing_ok=True)
        if os_release is None:
            os_release = self.fs.read('/usr/lib/os-release', 'host')
        return {
            'hostname': self.fs.value('/proc/sys/kernel/hostname', 'host'),
            'kernel_release': self.fs.value('/proc/sys/kernel/osrelease', 'host'),
            'mem_total_kib': meminfo.get('MemTotal'),
            'os': procfs.parse_os_release(os_release) if os_release is not None else None,
        }

    def probe_cpu(self):
        text = self.fs.read('/proc/cpuinfo', 'cpu')
        info = procfs.parse_cpuinfo(text) if text is not None else None
        vulns = None
        vdir = '/sys/devices/system/cpu/vulnerabilities'
        names = self.fs.listdir(vdir, 'cpu')
        if names is not None:
            vulns = {}
            for name in names:
                value = self.fs.value('%s/%s' % (vdir, name), 'cpu')
                if value is not None:
                    vulns[name] = value
        smt_control = self.fs.value('/sys/devices/system/cpu/smt/control', 'cpu')
        smt_active = self.fs.value('/sys/devices/system/cpu/smt/active', 'cpu')
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

    def probe_kvm(self):
        modules = self.fs.listdir('/sys/module', 'kvm')
        kvm_modules = [m for m in modules or [] if m == 'kvm' or m.startswith('kvm_')]
        params = {}
        for module in kvm_modules:
            values = self.params(module, 'kvm')
            if values is not None:
                params[module] = values
        nested = None
        for module in ('kvm_intel', 'kvm_amd'):
            if 'nested' in params.get(module, {}):
                nested = procfs.sysfs_bool(params[module]['nested'])
        if not kvm_modules:
            self.note('kvm', '/sys/module/kvm', NOT_FOUND)
        elif nested is None:
            self.note('kvm', '/sys/module/kvm_{intel,amd}/parameters/nested', NOT_FOUND)
        return {
            'dev_kvm': self.fs.exists('/dev/kvm'),
            'modules': kvm_modules if modules is not None else None,
            'params': params if modules is not None else None,
            'nested': nested,
            'nx_huge_pages': params.get('kvm', {}).get('nx_huge_pages'),
        }

    def probe_ksm(self):
        return {
            'run': procfs.to_int(self.fs.value('/sys/kernel/mm/ksm/run', 'ksm')),
            'pages_shared': procfs.to_int(self.fs.value('/sys/kernel/mm/ksm/pages_shared', 'ksm')),
        }

    def probe_cmdline(self):
        raw = self.fs.read('/proc/cmdline', 'cmdline')
        if raw is None:
            return {'raw': None, 'args': None, 'init_args': None}
        raw = raw.strip()
        parsed = cmdline_utils.parse_cmdline(raw)
        return {'raw': raw, 'args': parsed['args'], 'init_args': parsed['init_args']}

    def probe_iommu(self):
        tables_dir = '/sys/firmware/acpi/tables'
        firmware_table = None
        if self.fs.isdir(tables_dir):
            for table in ('DMAR', 'IVRS'):
                if self.fs.exists('%s/%s' % (tables_dir, table)):
                    firmware_table = table
                    break
        else:
            self.note('iommu', tables_dir, NOT_FOUND)
        units = self.fs.listdir('/sys/class/iommu', 'iommu')
        vendor = {'DMAR': 'intel', 'IVRS': 'amd'}.get(firmware_table)
        if vendor is None and units:
            if any(u.startswith('dmar') for u in units):
                vendor = 'intel'
            elif any(u.startswith('ivhd') for u in units):
                vendor = 'amd'
        groups = None
        group_ids = self.fs.listdir('/sys/kernel/iommu_groups', 'iommu')
        if group_ids is not None:
            groups = []
            for gid in sorted((g for g in group_ids if g.isdigit()), key=int):
                base = '/sys/kernel/iommu_groups/%s' % gid
                devices = self.fs.listdir(base + '/devices', 'iommu')
                groups.append({
                    'id': int(gid),
                    'type': self.fs.value(base + '/type', 'iommu', missing_ok=True),
                    'devices': devices if devices is not None else [],
                })
        if units is None and groups is None:
            enabled = None
        else:
            enabled = bool(units) or bool(groups)
        interrupts = self.fs.read('/proc/interrupts', 'iommu')
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

    def _devices_below(self, class_dir):
        """{pci address: [names]} for entries of /sys/class/net or /sys/block."""
        result = {}
        for name in self.fs.listdir(class_dir, 'pci', missing_ok=True) or []:
            real = self.fs.realpath('%s/%s' % (class_dir, name))
            owner = None
            for part in real.split(os.sep):
                if _PCI_ADDR.match(part):
                    owner = part
            if owner:
                result.setdefault(owner, []).append(name)
        return result

    def probe_pci(self):
        base = '/sys/bus/pci/devices'
        addresses = self.fs.listdir(base, 'pci')
        if addresses is None:
            return {'devices': None}
        nets = self._devices_below('/sys/class/net')
        blocks = self._devices_below('/sys/block')
        devices = []
        for addr in addresses:
            path = '%s/%s' % (base, addr)
            pclass = self.fs.value(path + '/class', 'pci')
            override = self.fs.value(path + '/driver_override', 'pci', missing_ok=True)
            group = self.fs.link_name(path + '/iommu_group')
            devices.append({
                'address': addr,
                'class': pclass,
                'vendor': self.fs.value(path + '/vendor', 'pci'),
                'device': self.fs.value(path + '/device', 'pci'),
                'driver': self.fs.link_name(path + '/driver'),
                'driver_override': None if override in (None, '', '(null)') else override,
                'iommu_group': int(group) if group and group.isdigit() else None,
                'is_bridge': bool(pclass) and (pclass.startswith('0x0604') or pclass.startswith('0x0600')),
                'sriov_totalvfs': procfs.to_int(self.fs.value(path + '/sriov_totalvfs', 'pci', missing_ok=True)),
                'sriov_numvfs': procfs.to_int(self.fs.value(path + '/sriov_numvfs', 'pci', missing_ok=True)),
                'physfn': self.fs.link_name(path + '/physfn'),
                'net': sorted(nets.get(addr, [])),
                'block': sorted(blocks.get(addr, [])),
            })
        return {'devices': devices}

    def probe_vfio(self):
        loaded = [m for m in _VFIO_MODULES if self.fs.isdir('/sys/module/%s' % m)]
        params = {}
        for module in loaded:
            values = self.params(module, 'vfio')
            # a loaded module without a parameters directory has no parameters at all (Debian's
            # vfio without CONFIG_VFIO_NOIOMMU): {} says so, unlike a module that is not loaded
            params[module] = values if values is not None else {}
        options = []
        seen_files = set()
        for directory in _MODPROBE_DIRS:
            names = self.fs.listdir(directory, 'vfio', missing_ok=True)
            for name in names or []:
                if not name.endswith('.conf'):
                    continue
                path = '%s/%s' % (directory, name)
                real = self.fs.realpath(path)
                if real in seen_files:
                    continue
                seen_files.add(real)
                text = self.fs.read(path, 'vfio')
                if text is not None:
                    options.extend(procfs.parse_modprobe_options(text, path))
        dev_vfio = self.fs.listdir('/dev/vfio', 'vfio' if loaded else None, missing_ok=not loaded)
        if dev_vfio is None and not loaded:
            dev_vfio = []
        return {'modules': loaded, 'params': params, 'modprobe_options': options, 'dev_vfio': dev_vfio}

    def addresses(self):
        if not self._addresses_done:
            self._addresses_done = True
            ip = self.tool('ip')
            if ip is None:
                self.note('network', 'ip', NOT_INSTALLED)
            else:
                rc, out, dummy = self.run('network', [ip, '-j', 'addr', 'show'])
                if rc == 0:
                    self._addresses, error = ip_link.parse_ip_addr(out)
                    if error:
                        self.note('network', 'ip -j addr show', error)
        return self._addresses

    def probe_network(self):
        links = None
        ip = self.tool('ip')
        if ip is not None:
            rc, out, dummy = self.run('network', [ip, '-j', '-d', 'link', 'show'])
            if rc == 0:
                links, error = ip_link.parse_ip_link(out)
                if error:
                    self.note('network', 'ip -j -d link show', error)
        addresses = self.addresses()
        return {
            'links': links,
            'addresses': addresses,
            'bridges': self._bridges(addresses),
            'ovs': self._ovs(),
        }

    def _bridges(self, addresses):
        names = self.fs.listdir('/sys/class/net', 'network')
        if names is None:
            return None
        bridge_names = [n for n in names if self.fs.isdir('/sys/class/net/%s/bridge' % n)]
        vlans = None
        if bridge_names:
            tool = self.tool('bridge')
            if tool is None:
                self.note('network', 'bridge', NOT_INSTALLED)
            else:
                rc, out, dummy = self.run('network', [tool, '-j', 'vlan', 'show'])
                if rc == 0:
                    vlans, error = ip_link.parse_bridge_vlan(out)
                    if error:
                        self.note('network', 'bridge -j vlan show', error)
        bridges = []
        for name in bridge_names:
            base = '/sys/class/net/%s' % name
            ports = self.fs.listdir(base + '/brif', 'network') or []
            v6 = '/proc/sys/net/ipv6/conf/%s' % name
            host_addrs = None
            if addresses is not None:
                host_addrs = [a for a in addresses.get(name, []) if not ip_link.is_link_local(a)]
            bridge_vlans = None
            if vlans is not None:
                bridge_vlans = dict((p, vlans[p]) for p in [name] + ports if p in vlans)
            disable = procfs.to_int(self.fs.value(v6 + '/disable_ipv6', 'network', missing_ok=True))
            autoconf = procfs.to_int(self.fs.value(v6 + '/autoconf', 'network', missing_ok=True))
            bridges.append({
                'name': name,
                'vlan_filtering': procfs.sysfs_bool(self.fs.value(base + '/bridge/vlan_filtering', 'network')),
                'ports': ports,
                'addresses': host_addrs,
                'ipv6_autoconf': None if autoconf is None else bool(autoconf),
                'ipv6_accept_ra': procfs.to_int(self.fs.value(v6 + '/accept_ra', 'network', missing_ok=True)),
                'ipv6_disabled': self._ipv6_disabled(v6, disable),
                'proxy_arp': procfs.sysfs_bool(self.fs.value('/proc/sys/net/ipv4/conf/%s/proxy_arp' % name,
                                                             'network', missing_ok=True)),
                'vlans': bridge_vlans,
            })
        return bridges

    def _ipv6_disabled(self, conf_dir, disable):
        if disable is not None:
            return bool(disable)
        # no per-interface IPv6 directory: IPv6 is off in the kernel (ipv6.disable=1)
        if not self.fs.isdir(conf_dir) and not self.fs.isdir('/proc/sys/net/ipv6'):
            return True
        return None

    def _ovs(self):
        tool = self.tool('ovs-vsctl')
        if tool is None:
            self.note('network', 'ovs-vsctl', NOT_INSTALLED)
            return None
        rc, out, dummy = self.run('network', ovs_utils.vsctl_args(tool))
        if rc != 0:
            return None
        data, error = ovs_utils.parse_ovs_vsctl(out)
        if error:
            self.note('network', 'ovs-vsctl', error)
        return data

    def probe_libvirt(self):
        fs = self.fs
        installed = fs.isdir('/etc/libvirt') or any(
            self.tool(b) for b in ('libvirtd', 'virtqemud', 'virtproxyd'))
        result = {'installed': installed, 'config': None, 'config_set': None, 'config_errors': {},
                  'sockets': None, 'services': None, 'socket_units': None, 'unix_sockets': None,
                  'daemon_args': None, 'domains': None, 'domain_errors': {}, 'networks': None, 'nwfilters': None}
        if not installed:
            self.note('libvirt', '/etc/libvirt', NOT_INSTALLED)
            return result
        config = {}
        config_set = {}
        for kind in _LIBVIRT_CONFS:
            path = '/etc/libvirt/%s.conf' % kind
            text = fs.read(path, 'libvirt')
            if text is None:
                if fs.exists(path) or not fs.isdir('/etc/libvirt'):
                    config[kind] = None      # unreadable: effective values unknown
                    config_set[kind] = None
                else:
                    config[kind] = libvirt_conf.effective_config(kind, {})
                    config_set[kind] = []
                continue
            values, errors = libvirt_conf.parse_libvirt_conf(text)
            config_set[kind] = sorted(values)
            if errors:
                result['config_errors'][kind] = '; '.join(errors)
                config[kind] = None
            else:
                config[kind] = libvirt_conf.effective_config(kind, values)
        result['config'] = config
        result['config_set'] = config_set
        result['sockets'] = self._unit_states(_LIBVIRT_SOCKETS)
        result['services'] = self._unit_states(_LIBVIRT_SERVICES)
        result['socket_units'] = dict((unit, self._socket_unit(unit)) for unit in _LIBVIRT_RW_SOCKET_UNITS
                                      if result['sockets'].get(unit) not in (None, 'masked'))
        result['unix_sockets'] = self._unix_sockets(_LIBVIRT_RW_SOCKETS)
        result['daemon_args'] = self._daemon_args()
        result['domains'] = self._domains(result['domain_errors'])
        result['networks'] = self._xml_dir('/etc/libvirt/qemu/networks', domain_xml.parse_network_xml,
                                           result['domain_errors'])
        filters = None
        for directory in ('/etc/libvirt/nwfilter', '/usr/share/libvirt/nwfilter'):
            names = self._xml_dir(directory, domain_xml.parse_nwfilter_name, result['domain_errors'],
                                  missing_ok=directory.startswith('/usr'))
            if names is not None:
                filters = sorted(set((filters or []) + [n for n in names if n]))
        result['nwfilters'] = filters
        return result

    def _unit_states(self, units):
        states = {}
        wants = []
        for directory in ('/etc/systemd/system', '/run/systemd/system'):
            for entry in self.fs.listdir(directory, None) or []:
                if entry.endswith('.wants') or entry.endswith('.requires'):
                    wants.append('%s/%s' % (directory, entry))
        for unit in units:
            masked = False
            defined = False
            for directory in _UNIT_DIRS:
                path = '%s/%s' % (directory, unit)
                if self.fs.exists(path):
                    target = self.fs.readlink(path)
                    if target == '/dev/null':
                        masked = True
                    defined = True
            if not defined:
                continue
            if masked:
                states[unit] = 'masked'
            elif any(self.fs.exists('%s/%s' % (w, unit)) for w in wants):
                states[unit] = 'enabled'
            else:
                states[unit] = 'disabled'
        return states

    def _unit_text(self, path):
        """Text of a unit file or drop-in; a symlink is followed below the root."""
        target = self.fs.readlink(path)
        if target is not None:
            if not target.startswith('/'):
                target = os.path.join(os.path.dirname(path), target)
            return self.fs.read(target, 'libvirt')
        return self.fs.read(path, 'libvirt')

    def _socket_unit(self, unit):
        """Effective [Socket] settings of ``unit``: unit file (first in the search path) and drop-ins."""
        texts = []
        files = []
        for directory in _UNIT_DIRS:
            path = '%s/%s' % (directory, unit)
            if self.fs.exists(path):
                text = self._unit_text(path)
                if text is None:
                    return None        # unreadable: the effective settings are unknown
                texts.append(text)
                files.append(path)
                break
        found = []
        for directory in _UNIT_DIRS:
            dropins = '%s/%s.d' % (directory, unit)
            for name in self.fs.listdir(dropins, 'libvirt', missing_ok=True) or []:
                found.append((dropins, name))
        for path in systemd_unit.dropin_order(found):
            text = self._unit_text(path)
            if text is None:
                return None
            texts.append(text)
            files.append(path)
        settings = systemd_unit.socket_settings(texts)
        settings['files'] = files
        return settings

    def _unix_sockets(self, paths):
        """{path: {mode, owner, group, socket}} of the libvirt sockets that exist (lstat)."""
        out = {}
        for path in paths:
            try:
                st = os.lstat(self.fs.path(path))
            except (IOError, OSError) as exc:
                if reason_of(exc) != NOT_FOUND:
                    self.note('libvirt', path, reason_of(exc))
                continue
            out[path] = {
                'mode': '%04o' % stat.S_IMODE(st.st_mode),
                'owner': _name_of(pwd.getpwuid, st.st_uid),
                'group': _name_of(grp.getgrgid, st.st_gid),
                'socket': stat.S_ISSOCK(st.st_mode),
            }
        return out

    def _daemon_args(self):
        for path in ('/etc/default/libvirtd', '/etc/sysconfig/libvirtd'):
            text = self.fs.read(path, 'libvirt', missing_ok=True)
            if text is None:
                continue
            for line in text.splitlines():
                line = line.strip()
                if line.startswith('LIBVIRTD_ARGS='):
                    value = line.split('=', 1)[1].strip()
                    if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                        value = value[1:-1]
                    return value.split()
            return []
        return None

    def _xml_dir(self, directory, parser, errors, missing_ok=False):
        names = self.fs.listdir(directory, 'libvirt', missing_ok=True)
        if names is None:
            if not missing_ok and not self.fs.exists(directory):
                return []
            return None
        out = []
        for name in names:
            if not name.endswith('.xml'):
                continue
            path = '%s/%s' % (directory, name)
            text = self.fs.read(path, 'libvirt')
            if text is None:
                continue
            data, error = parser(text)
            if error:
                errors[path] = error
            else:
                out.append(data)
        return out

    def _domains(self, errors):
        defined = self._xml_dir('/etc/libvirt/qemu', domain_xml.parse_domain_xml, errors)
        running = self._xml_dir('/run/libvirt/qemu', domain_xml.parse_domain_xml, errors, missing_ok=True)
        if defined is None and running is None:
            return None
        # status directory present but unreadable: whether a domain runs is unknown
        unknown = running is None and self.fs.exists('/run/libvirt/qemu')
        by_key = {}
        order = []
        for dom in defined or []:
            dom['running'] = None if unknown else False
            dom['persistent'] = True
            key = dom.get('uuid') or dom.get('name')
            by_key[key] = dom
            order.append(key)
        for dom in running or []:
            key = dom.get('uuid') or dom.get('name')
            dom['running'] = True
            if key in by_key:
                dom['persistent'] = True
                by_key[key] = dom      # the live definition is what is in effect
            else:
                dom['persistent'] = False
                by_key[key] = dom
                order.append(key)
        return [by_key[k] for k in order]

    def probe_listeners(self):
        sockets = []
        readable = False
        for proto in ('tcp', 'tcp6', 'udp', 'udp6'):
            text = self.fs.read('/proc/net/%s' % proto, 'listeners', missing_ok=proto.endswith('6'))
            if text is not None:
                readable = True
                sockets.extend(netstat.parse_proc_net(text, proto))
        if not readable:
            return None
        wanted = set(s['inode'] for s in sockets)
        if not wanted:
            return []
        owners = {}
        denied = 0
        for pid, comm in sorted(self.processes().items()):
            try:
                fds = os.listdir(self.fs.path('/proc/%d/fd' % pid))
            except (IOError, OSError) as exc:
                if reason_of(exc) == PERMISSION_DENIED:
                    denied += 1
                continue
            for fd in fds:
                try:
                    target = os.readlink(self.fs.path('/proc/%d/fd/%s' % (pid, fd)))
                except (IOError, OSError):
                    continue
                inode = netstat.socket_inode(target)
                # socket activation: systemd (pid 1) and the service share the socket; name the service
                if inode in wanted and (inode not in owners or owners[inode][0] == 1):
                    owners[inode] = (pid, comm)
        if denied:
            self.note('listeners', '/proc/*/fd', PERMISSION_DENIED)
        return netstat.attach_owners(sockets, owners)

    def probe_processes(self):
        names = self.processes()
        if not names and self.fs.listdir('/proc', None) is None:
            return None
        return sorted(set(names.values()))

    def probe_sshd(self):
        binary = self.tool('sshd')
        if binary is None:
            self.note('sshd', 'sshd', NOT_INSTALLED)
            return None
        # sshd -T needs root (it loads the host keys); unprivileged runs are noted as permission denied
        rc, out, err = self.run('sshd', [binary, '-T'], needs_root=True)
        if rc != 0:
            return {'effective': None, 'error': (err or '').strip() or 'sshd -T failed (rc=%s)' % rc}
        effective = sshd_utils.parse_sshd_t(out)
        result = {'effective': effective, 'error': None}
        result.update(self._sshd_connections(binary, effective))
        return result

    def _sshd_connections(self, binary, effective):
        """Without -C, ``sshd -T`` shows only the global values; a Match block may re-open what
        they close. Ask sshd for the connections that matter (sshd_utils.connection_specs) and
        keep, per connection, the keywords whose value differs from the global one."""
        config = sshd_utils.read_config(
            lambda path: self.fs.read(path, 'sshd', missing_ok=True), self.fs.glob, sshd_utils.MAIN_CONFIG)
        blocks = config['match_blocks']
        passwd = self.fs.read('/etc/passwd', None)
        group = self.fs.read('/etc/group', None)
        options = self.sshd_options
        nets, invalid = sshd_utils.admin_networks(options.get('admin_cidrs'))
        for item in invalid:
            self.note('sshd', 'sshd_admin_cidrs', 'not a CIDR: %s' % item)
        specs, left_out = sshd_utils.connection_specs(
            effective, blocks, [str(n) for n in nets], options.get('users'), options.get('local_address'),
            lambda name: sshd_utils.member_of(name, passwd, group))
        connections = []
        for spec, why in specs:
            rc, out, err = self.run('sshd', [binary, '-T', '-C', sshd_utils.spec_arg(spec)], needs_root=True)
            entry = {'spec': spec, 'why': why, 'differs': None, 'matched': None, 'error': None}
            if rc != 0:
                entry['error'] = (err or '').strip() or 'sshd -T -C failed (rc=%s)' % rc
            else:
                entry['differs'] = sshd_utils.differences(effective, sshd_utils.parse_sshd_t(out))
                groups = sshd_utils.groups_of(spec['user'], passwd, group)
                entry['matched'] = [i for i, block in enumerate(blocks)
                                    if sshd_utils.criteria_apply(block['criteria'], spec, groups) is not False]
            connections.append(entry)
        return {'config_files': config['files'], 'match_blocks': blocks, 'connections': connections,
                'connections_left_out': left_out}

    def probe_nftables(self):
        binary = self.tool('nft')
        if binary is None:
            self.note('nftables', 'nft', NOT_INSTALLED)
            return {'installed': False, 'tables': None, 'ruleset': None}
        rc, out, dummy = self.run('nftables', [binary] + list(nft_utils.ARGS), needs_root=True)
        if rc != 0:
            return {'installed': True, 'tables': None, 'ruleset': None}
        data, error = nft_utils.parse_ruleset(out)
        if error:
            self.note('nftables', 'nft -j list ruleset', error)
            return {'installed': True, 'tables': None, 'ruleset': None}
        return {'installed': True, 'tables': data['tables'], 'ruleset': data['ruleset']}

    def probe_audit(self):
        directory = '/etc/audit/rules.d'
        names = self.fs.listdir(directory, 'audit')
        if names is None:
            return {'rules': None}
        rules = []
        for name in names:
            if name.endswith('.rules'):
                text = self.fs.read('%s/%s' % (directory, name), 'audit')
                if text is not None:
                    rules.extend(procfs.parse_audit_rules(text))
        return {'rules': rules}

    def probe_sysctl(self):
        keys = {
            'bridge_nf_call_iptables': '/proc/sys/net/bridge/bridge-nf-call-iptables',
            'bridge_nf_call_ip6tables': '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
            'ip_forward': '/proc/sys/net/ipv4/ip_forward',
            'ipv6_forwarding': '/proc/sys/net/ipv6/conf/all/forwarding',
        }
        return dict((k, procfs.to_int(self.fs.value(p, 'sysctl'))) for k, p in keys.items())

    def probe_security_module(self):
        apparmor = self.fs.value('/sys/module/apparmor/parameters/enabled', None)
        lsm = self.fs.value('/sys/kernel/security/lsm', None)
        return {
            'apparmor': procfs.sysfs_bool(apparmor) is True,
            'selinux': self.fs.exists('/sys/fs/selinux/enforce'),
            'selinux_enforcing': procfs.sysfs_bool(self.fs.value('/sys/fs/selinux/enforce', None)),
            'lsm': lsm.split(',') if lsm else None,
        }

    def probe_time_sync(self):
        names = set(self.processes().values())
        for comm, daemon in _TIME_DAEMONS:
            if comm in names:
                return {'active': True, 'daemon': daemon}
        if not names:
            return {'active': None, 'daemon': None}
        return {'active': False, 'daemon': None}


def gather_facts(root='/', run_command=None, get_bin_path=None, euid=None, gather=None, sshd_options=None):
    """Gather ``ansible_facts.hvsec``. ``gather``: iterable of probe names, None/'all' for all.
    ``sshd_options``: {admin_cidrs, users, local_address} for the per-connection sshd reading."""
    wanted = set(PROBES) if not gather or 'all' in gather else set(gather) | set(['host'])
    gatherer = Gatherer(root, run_command, get_bin_path, euid, sshd_options)
    facts = {'schema_version': SCHEMA_VERSION, 'privileged': gatherer.privileged}
    for name in PROBES:
        if name not in wanted:
            continue
        try:
            facts[name] = getattr(gatherer, 'probe_' + name)()
        except Exception as exc:  # pylint: disable=broad-except
            facts[name] = None
            gatherer.note(name, None, 'internal error: %s: %s' % (type(exc).__name__, exc))
    facts['notes'] = gatherer.fs.notes
    return facts
