# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure control evaluators: ``ansible_facts.hvsec`` + settings + waivers -> per-control results.

Every control of the catalog has exactly one evaluator here (``EVALUATORS``). An evaluator
takes ``(facts, settings)`` and returns ``(status, evidence)`` with status ``pass``, ``fail``
or ``not_applicable``. When a fact it needs is ``null`` (unreadable) it raises ``Unknown``,
which :func:`evaluate` turns into status ``error`` with an evidence string built from the
facts' ``notes``. Any other exception raised by an evaluator (malformed facts) also becomes
``error``: the audit never ends in a traceback because one probe returned nonsense.

Settings are the role variables (``hvsec_*``). ``FALLBACK_DEFAULTS`` below holds the agreed
defaults, used for every variable whose role has no ``defaults/main.yml`` yet; the action
plugin overlays the roles' real defaults and then the host's variables.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import (
    BY_ID, CONTROLS, SEVERITIES, severity_rank,
)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import arg_values
from ansible_collections.hvsec.hypervisor.plugins.module_utils.pci import kernel_bool
from ansible_collections.hvsec.hypervisor.plugins.module_utils import nft as nft_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import block_name, spec_text
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_bridge import nft_port_table_name
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_ovs

# ---------------------------------------------------------------------------------------
# FALLBACK DEFAULTS: the agreed role variables and their defaults. Used only until the
# owning role ships roles/<role>/defaults/main.yml; a unit test checks that every existing
# defaults file agrees with these values, so the two cannot drift apart.
# ---------------------------------------------------------------------------------------
FALLBACK_DEFAULTS = {
    'hvsec_reboot_ok': False,
    'hvsec_waivers': [],
    # iommu
    'hvsec_iommu_policy': 'strict',
    'hvsec_iommu_manage_cmdline': True,
    'hvsec_iommu_bootloader': 'auto',
    'hvsec_iommu_early_dma_protection': True,
    'hvsec_iommu_nosmt': False,
    'hvsec_iommu_ksm_disable': True,
    'hvsec_iommu_nested': False,
    'hvsec_iommu_nx_huge_pages_enforce': True,
    'hvsec_iommu_reboot_ok': False,
    'hvsec_iommu_running_guests': 'refuse',
    # vfio
    'hvsec_vfio_lock_unsafe': True,
    'hvsec_vfio_allowlist': [],
    'hvsec_vfio_release_unlisted': False,
    'hvsec_vfio_sriov': [],
    # vswitch
    'hvsec_vswitch_bridges': [],
    'hvsec_vswitch_ovs_managers': [],
    'hvsec_vswitch_ovs_controllers': {},
    'hvsec_vswitch_ovs_ssl': {},
    'hvsec_vswitch_ovs_fail_secure': True,
    'hvsec_vswitch_ovs_allow_loopback_tcp': True,
    'hvsec_vswitch_ovs_allowed_mirrors': [],
    'hvsec_vswitch_ovs_ports': [],
    'hvsec_vswitch_nwfilter': 'clean-traffic',
    'hvsec_vswitch_nwfilter_enforce': True,
    'hvsec_vswitch_macvtap_isolation': True,
    # mgmt_plane
    'hvsec_mgmt_plane_admin_cidrs': [],
    'hvsec_mgmt_plane_address': '',
    'hvsec_mgmt_plane_libvirt_remote': 'none',
    'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': [],
    'hvsec_mgmt_plane_libvirt_unix_group': 'libvirt',
    'hvsec_mgmt_plane_libvirt_access_drivers': ['polkit'],
    'hvsec_mgmt_plane_console_listen': '127.0.0.1',
    'hvsec_mgmt_plane_console_tls': False,
    'hvsec_mgmt_plane_migration_tls': True,
    'hvsec_mgmt_plane_qemu_confinement': True,
    'hvsec_mgmt_plane_sshd': True,
    'hvsec_mgmt_plane_sshd_permit_root_login': 'prohibit-password',
    'hvsec_mgmt_plane_sshd_password_auth': False,
    'hvsec_mgmt_plane_sshd_allow_groups': [],
    'hvsec_mgmt_plane_sshd_crypto': True,
    'hvsec_mgmt_plane_firewall': False,
    'hvsec_mgmt_plane_audit': True,
    'hvsec_mgmt_plane_time_sync': True,
}

# Role owning each fallback variable (shared ones have None).
ROLE_PREFIXES = ('iommu', 'vfio', 'vswitch', 'mgmt_plane')

FAIL_ON_CHOICES = ('none',) + SEVERITIES

# Types the evaluators rely on, checked before anything is evaluated.
_CHOICES = {
    'hvsec_iommu_policy': ('strict', 'passthrough'),
}
_TYPES = {
    bool: ('hvsec_iommu_early_dma_protection', 'hvsec_iommu_nosmt', 'hvsec_iommu_nested',
           'hvsec_vswitch_macvtap_isolation', 'hvsec_vswitch_ovs_allow_loopback_tcp', 'hvsec_mgmt_plane_sshd_password_auth'),
    list: ('hvsec_vfio_allowlist', 'hvsec_vfio_sriov', 'hvsec_vswitch_bridges',
           'hvsec_vswitch_ovs_allowed_mirrors', 'hvsec_vswitch_ovs_ports',
           'hvsec_mgmt_plane_sshd_allow_groups'),
    str: ('hvsec_vswitch_nwfilter', 'hvsec_mgmt_plane_address'),
}


class Unknown(Exception):
    """A fact an evaluator needs is null (unreadable); ``path`` is its dotted name."""

    def __init__(self, path, hint=None):
        super(Unknown, self).__init__(path)
        self.path = path
        self.hint = hint


class SettingsError(ValueError):
    """A role variable or option has the wrong type or value."""


# ------------------------------------------------------------------------------ helpers
_MISSING = object()


def _get(facts, path, default=_MISSING):
    """Walk a dotted path; raise Unknown when a step is null or absent (unless default given)."""
    node = facts
    for part in path.split('.'):
        if isinstance(node, dict) and node.get(part) is not None:
            node = node[part]
        else:
            if default is not _MISSING:
                return default
            raise Unknown(path)
    return node


def _opt(facts, path):
    """Like _get but return None for null/absent."""
    return _get(facts, path, None)


def note_for(facts, path):
    """Return the note that best explains why ``path`` (dotted) is unknown, or None.

    Notes name the probe (the top-level section, e.g. ``kvm``) and the file or tool. A note of
    the same probe whose path mentions the leaf name wins; else the first note of the probe.
    """
    notes = [n for n in (facts or {}).get('notes') or [] if isinstance(n, dict)]
    parts = [p.split('[')[0] for p in path.split('.')]
    prefixes = ['.'.join(parts[:i]) for i in range(len(parts), 0, -1)]
    leaf = parts[-1].replace('_', '')
    for prefix in prefixes:
        same = [n for n in notes if n.get('probe') == prefix]
        for note in same:
            if leaf and leaf in str(note.get('path') or '').replace('_', '').replace('-', ''):
                return note
        if same:
            return same[0]
    return None


def _note_text(note):
    if not note:
        return ''
    where = note.get('path') or note.get('probe') or '?'
    return '%s: %s' % (where, note.get('reason') or 'unreadable')


_ABSENT_REASONS = ('not found', 'not installed')


def _unreadable(facts, path):
    """True when a note says ``path`` exists but could not be read (not merely absent)."""
    note = note_for(facts, path)
    return bool(note) and str(note.get('reason') or '').lower() not in _ABSENT_REASONS


def _truthy(value):
    """Interpret sysfs/config values: Y/y/1/on/true/yes -> True."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    return str(value).strip().lower() in ('y', '1', 'on', 'true', 'yes')


def _int(value, default=None):
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        return default


def _fmt_list(items, limit=6):
    items = [str(i) for i in items]
    if len(items) > limit:
        return ', '.join(items[:limit]) + ' (+%d more)' % (len(items) - limit)
    return ', '.join(items)


def _words(value):
    """A list from a list or a comma/space separated string."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(_words(item))
        return out
    return [w for w in str(value).replace(',', ' ').split() if w]


def _is_loopback(address):
    address = str(address or '').strip().strip('[]').lower()
    return address.startswith('127.') or address in ('::1', 'localhost')


def _cmd_args(facts):
    return _get(facts, 'cmdline.args')


def _cmd_has(args, key, value=None):
    """True when key is present (any value, or one whose comma-split parts include value)."""
    values = arg_values(args, key)
    if value is None:
        return bool(values)
    for v in values:
        if v is not None and value in str(v).lower().split(','):
            return True
    return False


def _libvirt_installed(facts):
    installed = _get(facts, 'libvirt.installed')
    return _truthy(installed)


def _na_without_libvirt(facts):
    if not _libvirt_installed(facts):
        return ('not_applicable', 'libvirt is not installed')
    return None


def _libvirt_conf(facts, name):
    """Effective config of one libvirt file; Unknown when it could not be parsed/read."""
    errors = _opt(facts, 'libvirt.config_errors') or {}
    if name in errors:
        raise Unknown('libvirt.config.%s' % name, hint='%s.conf: %s' % (name, errors[name]))
    configs = _opt(facts, 'libvirt.config')
    if isinstance(configs, dict) and configs.get(name) is None:
        # Name this file's own note: the generic lookup matches notes by substring, and
        # "qemu" is in /etc/libvirt/virtqemud.conf too (a host without virtqemud.conf has a
        # "not found" note for it, which is no reason for an unreadable qemu.conf).
        path = '/etc/libvirt/%s.conf' % name
        notes = [n for n in _opt(facts, 'notes') or [] if isinstance(n, dict) and n.get('path') == path]
        raise Unknown('libvirt.config.%s' % name,
                      hint=_note_text(notes[0]) if notes else '%s: unreadable (no reason reported)' % path)
    return _get(facts, 'libvirt.config.%s' % name)


# libvirt daemons. The QEMU driver runs in libvirtd (monolithic) or virtqemud (modular daemons,
# the default of Fedora and RHEL 9); remote clients connect to libvirtd or virtproxyd. Each daemon
# has its own file /etc/libvirt/NAME.conf and its own read-write socket.
DRIVER_DAEMONS = ('libvirtd', 'virtqemud')
FRONT_DAEMONS = ('libvirtd', 'virtproxyd')
RW_SOCKETS = {'libvirtd': '/run/libvirt/libvirt-sock', 'virtproxyd': '/run/libvirt/libvirt-sock',
              'virtqemud': '/run/libvirt/virtqemud-sock'}


def _unit_daemon(unit):
    """Daemon of a systemd unit name: virtqemud-ro.socket -> virtqemud."""
    return str(unit).split('.', 1)[0].split('-', 1)[0]


def _daemon_in_use(facts, name):
    """Why daemon ``name`` counts as in use (its process runs, one of its sockets or its service
    is enabled, or its own socket exists), or None."""
    if name in (_opt(facts, 'processes') or []):
        return '%s running' % name
    for key in ('sockets', 'services'):
        units = _opt(facts, 'libvirt.%s' % key) or {}
        for unit in sorted(units):
            if _unit_daemon(unit) == name and str(units[unit]).lower() == 'enabled':
                return '%s enabled' % unit
    path = RW_SOCKETS.get(name)
    # libvirt-sock is libvirtd's or virtproxyd's: only a socket of one daemon tells which is in use
    if list(RW_SOCKETS.values()).count(path) == 1 and path in (_opt(facts, 'libvirt.unix_sockets') or {}):
        return '%s exists' % path
    return None


def _daemons_in_use(facts, candidates):
    return [name for name in candidates if _daemon_in_use(facts, name)]


def _active_daemons(facts):
    """The libvirt front-end daemons in use: libvirtd (monolithic), virtproxyd (modular).

    When nothing tells, libvirtd (the default of Debian 12 and of older RHEL) is assumed.
    """
    return _daemons_in_use(facts, FRONT_DAEMONS) or ['libvirtd']


def _driver_daemons(facts):
    """The daemons running the QEMU driver: libvirtd and/or virtqemud (libvirtd when nothing tells).

    Guest lifecycle auditing and API access control happen there, so audit_* and access_drivers
    are read from their files.
    """
    return _daemons_in_use(facts, DRIVER_DAEMONS) or ['libvirtd']


def _rw_daemons(facts):
    """Every daemon in use that has a read-write socket (front-ends and QEMU driver daemons)."""
    names = _daemons_in_use(facts, ('libvirtd', 'virtqemud', 'virtproxyd'))
    return names or ['libvirtd']


def _daemon_confs(facts, names=None):
    """The (name, effective config) pairs of the active libvirt daemons; Unknown when unreadable."""
    out = []
    for name in names or _active_daemons(facts):
        out.append((name, _libvirt_conf(facts, name)))
    return out


def _sockets(facts):
    return _opt(facts, 'libvirt.sockets') or {}


def _socket_enabled(facts, suffix):
    return sorted(name for name, state in _sockets(facts).items()
                  if name.endswith(suffix) and str(state).lower() in ('enabled', 'active', 'static', 'true'))


def _listeners(facts):
    return _get(facts, 'listeners')


def _domains(facts):
    return _get(facts, 'libvirt.domains')


def _pci_devices(facts):
    return _get(facts, 'pci.devices')


def _norm_addr(address):
    address = str(address or '').strip().lower()
    if address.count(':') == 1:
        address = '0000:' + address
    return address


def _norm_id(vendor, device):
    def strip(v):
        v = str(v or '').lower()
        return v[2:] if v.startswith('0x') else v
    return '%s:%s' % (strip(vendor), strip(device))


def _allow_match(entry, device):
    if not isinstance(entry, dict):
        return False
    if entry.get('address'):
        return _norm_addr(entry['address']) == _norm_addr(device.get('address'))
    if entry.get('id'):
        return str(entry['id']).lower() == _norm_id(device.get('vendor'), device.get('device'))
    return False


def _allowed(settings, device):
    return any(_allow_match(e, device) for e in settings.get('hvsec_vfio_allowlist') or [])


def _vfio_bound(facts):
    return [d for d in _pci_devices(facts) if d.get('driver') == 'vfio-pci']


def _result(failures, ok_msg, fail_prefix):
    if failures:
        return ('fail', '%s: %s' % (fail_prefix, _fmt_list(failures)))
    return ('pass', ok_msg)


# ------------------------------------------------------------------------------ iommu
def ev_iommu_01(facts, s):
    cpu = _get(facts, 'cpu')
    ext = cpu.get('virt_extension')
    if ext in ('vmx', 'svm'):
        return ('pass', 'CPU flag %s present' % ext)
    return ('fail', 'neither vmx nor svm in the CPU flags (disabled in firmware or not supported)')


def ev_iommu_02(facts, s):
    cpu = _get(facts, 'cpu')
    slat = cpu.get('slat')
    if slat in ('ept', 'npt'):
        return ('pass', 'CPU flag %s present' % slat)
    return ('fail', 'neither ept nor npt in the CPU flags: KVM must use shadow paging')


def ev_iommu_03(facts, s):
    if _truthy(_get(facts, 'kvm.dev_kvm')):
        return ('pass', '/dev/kvm exists')
    return ('fail', '/dev/kvm missing (kvm module not loaded or virtualization disabled)')


def ev_iommu_04(facts, s):
    iommu = _get(facts, 'iommu')
    table = iommu.get('firmware_table')
    if table in ('DMAR', 'IVRS'):
        return ('pass', 'ACPI %s table present' % table)
    if table is None and _unreadable(facts, 'iommu.firmware_table'):
        raise Unknown('iommu.firmware_table')
    return ('fail', 'no ACPI DMAR or IVRS table (IOMMU absent or disabled in firmware)')


def ev_iommu_05(facts, s):
    units = _get(facts, 'iommu.units')
    groups = _get(facts, 'iommu.groups')
    if units and groups:
        return ('pass', '%d IOMMU unit(s) (%s), %d group(s)' % (len(units), _fmt_list(units, 3), len(groups)))
    return ('fail', 'IOMMU not active: %d unit(s), %d group(s)' % (len(units), len(groups)))


def ev_iommu_06(facts, s):
    args = _cmd_args(facts)
    bad = []
    for key in ('iommu', 'intel_iommu', 'amd_iommu'):
        if _cmd_has(args, key, 'off'):
            bad.append('%s=off' % key)
    return _result(bad, 'no IOMMU-disabling argument in /proc/cmdline', 'kernel command line has')


def ev_iommu_07(facts, s):
    policy = s.get('hvsec_iommu_policy', 'strict')
    args = _cmd_args(facts)
    if policy == 'passthrough':
        return ('pass', 'policy passthrough chosen (hvsec_iommu_policy): host devices use identity '
                        'domains for speed, at the cost of DMA isolation of host-owned devices')
    groups = _get(facts, 'iommu.groups')
    bad = []
    if _cmd_has(args, 'iommu', 'pt'):
        bad.append('iommu=pt in cmdline')
    for value in arg_values(args, 'iommu.passthrough'):
        if value is not None and _truthy(value):
            bad.append('iommu.passthrough=%s in cmdline' % value)
    if not groups:
        bad.append('no IOMMU groups (no DMA translation at all)')
    types = {}
    for group in groups:
        gtype = group.get('type')
        if gtype != 'DMA':
            types.setdefault(str(gtype), []).append(str(group.get('id')))
    for gtype in sorted(types):
        bad.append('%d group(s) of type %s (e.g. %s)' % (len(types[gtype]), gtype, _fmt_list(types[gtype], 3)))
    return _result(bad, 'strict: all %d IOMMU groups of type DMA' % len(groups), 'strict policy not met')


def ev_iommu_08(facts, s):
    args = _cmd_args(facts)
    if _cmd_has(args, 'pcie_acs_override'):
        return ('fail', 'pcie_acs_override=%s in cmdline' % _fmt_list(arg_values(args, 'pcie_acs_override')))
    return ('pass', 'no pcie_acs_override in cmdline')


def ev_iommu_09(facts, s):
    iommu = _get(facts, 'iommu')
    ir = iommu.get('interrupt_remapping')
    if ir is None:
        raise Unknown('iommu.interrupt_remapping')
    evidence = iommu.get('interrupt_remapping_evidence') or ''
    if ir:
        return ('pass', 'interrupt remapping active' + (' (%s)' % evidence if evidence else ''))
    return ('fail', 'interrupt remapping not active' + (' (%s)' % evidence if evidence else ''))


def ev_iommu_10(facts, s):
    if not s.get('hvsec_iommu_early_dma_protection', True):
        return ('not_applicable', 'hvsec_iommu_early_dma_protection is false')
    if _cmd_has(_cmd_args(facts), 'efi', 'disable_early_pci_dma'):
        return ('pass', 'efi=disable_early_pci_dma in cmdline')
    return ('fail', 'efi=disable_early_pci_dma missing from cmdline')


def ev_iommu_11(facts, s):
    vulns = _get(facts, 'cpu.vulnerabilities')
    bad = sorted('%s (%s)' % (k, v) for k, v in vulns.items() if str(v).startswith('Vulnerable'))
    return _result(bad, '%d entries, none Vulnerable' % len(vulns), 'vulnerable')


def ev_iommu_12(facts, s):
    if not s.get('hvsec_iommu_nosmt', False):
        return ('not_applicable', 'hvsec_iommu_nosmt is false (SMT allowed by policy)')
    args = _cmd_args(facts)
    cpu = _get(facts, 'cpu')
    bad = []
    if not (_cmd_has(args, 'mitigations', 'nosmt') or _cmd_has(args, 'nosmt')):
        bad.append('mitigations=auto,nosmt missing from cmdline')
    active = cpu.get('smt_active')
    if active is None:
        if str(cpu.get('smt_control')) not in ('notsupported', 'notimplemented', 'forceoff', 'off'):
            raise Unknown('cpu.smt_active')
    elif active:
        bad.append('SMT active')
    return _result(bad, 'SMT off (nosmt)', 'SMT policy not met')


def ev_iommu_13(facts, s):
    run = _opt(facts, 'ksm.run')
    if run is None:
        if _unreadable(facts, 'ksm.run'):
            raise Unknown('ksm.run')
        return ('not_applicable', 'KSM not available in this kernel (/sys/kernel/mm/ksm absent)')
    run = _int(run)
    if run in (0, 2):
        return ('pass', 'ksm run=%d (not merging)' % run)
    return ('fail', 'ksm run=%s: pages shared across guests (pages_shared=%s)' % (run, _opt(facts, 'ksm.pages_shared')))


def ev_iommu_14(facts, s):
    if s.get('hvsec_iommu_nested', False):
        return ('pass', 'nested virtualization wanted (hvsec_iommu_nested true); current: %s' % _opt(facts, 'kvm.nested'))
    kvm = _get(facts, 'kvm')
    nested = kvm.get('nested')
    if nested is None:
        modules = kvm.get('modules') or []
        if not any(m in modules for m in ('kvm_intel', 'kvm_amd')):
            return ('not_applicable', 'no kvm_intel/kvm_amd module loaded')
        raise Unknown('kvm.nested')
    if _truthy(nested):
        return ('fail', 'nested virtualization enabled')
    return ('pass', 'nested virtualization off')


def ev_iommu_15(facts, s):
    kvm = _get(facts, 'kvm')
    if 'kvm' not in (kvm.get('modules') or []):
        return ('not_applicable', 'kvm module not loaded')
    value = kvm.get('nx_huge_pages')
    if value is None:
        raise Unknown('kvm.nx_huge_pages')
    if str(value).strip().lower() not in ('off', 'n', '0', 'false', 'never'):
        return ('pass', 'kvm.nx_huge_pages=%s' % value)
    # With the default "auto" the kernel reads back N on CPUs that are not affected by
    # iTLB multihit, so N is only a finding where the CPU is (or may be) affected.
    vulns = _get(facts, 'cpu').get('vulnerabilities') or {}
    state = vulns.get('itlb_multihit')
    if state and 'vulnerable' not in state.lower():
        return ('pass', 'kvm.nx_huge_pages=%s; itlb_multihit: %s' % (value, state))
    return ('fail', 'kvm.nx_huge_pages=%s; itlb_multihit: %s' % (value, state or 'unknown'))


def ev_iommu_16(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    domains = _domains(facts)
    if not domains:
        return ('pass', 'no libvirt domains defined')
    cores = _get(facts, 'cpu.physical_cores')
    bad = ['%s (%s vCPUs)' % (d.get('name'), d.get('vcpus')) for d in domains
           if _int(d.get('vcpus'), 0) > int(cores)]
    return _result(bad, '%d domain(s), none above %s physical cores' % (len(domains), cores),
                   'more vCPUs than the %s physical cores' % cores)


def ev_iommu_17(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    running = [d for d in _domains(facts) if d.get('running')]
    if not running:
        return ('pass', 'no running libvirt domains')
    total = _get(facts, 'host.mem_total_kib')
    used = sum(_int(d.get('memory_kib'), 0) for d in running)
    if used > int(total):
        return ('fail', '%d running domain(s) use %d KiB > host %s KiB' % (len(running), used, total))
    return ('pass', '%d running domain(s) use %d of %s KiB' % (len(running), used, total))


# ------------------------------------------------------------------------------ vfio
def _unsafe_param(facts, module, param):
    vfio = _get(facts, 'vfio')
    bad = []
    loaded = module in (vfio.get('modules') or [])
    if loaded:
        params = vfio.get('params')
        if params is None:
            raise Unknown('vfio.params')
        mod_params = params.get(module)
        value = (mod_params or {}).get(param)
        if value is None and module not in params:
            raise Unknown('vfio.params.%s.%s' % (module, param))
        if value is None:
            # The module is loaded but has no such parameter (its parameters directory lacks it, or
            # it has none at all): the kernel is built without the feature (e.g. vfio without
            # CONFIG_VFIO_NOIOMMU on Debian 12, which has no /sys/module/vfio/parameters).
            loaded = 'absent'
        elif _truthy(value):
            bad.append('runtime %s=%s' % (param, value))
    options = vfio.get('modprobe_options')
    if options is None:
        raise Unknown('vfio.modprobe_options')
    for opt in options:
        # read as the kernel reads a bool parameter (pci.kernel_bool: a bare flag, y..., t..., 1...
        # or on is true), with '-' and '_' alike in the module and parameter names
        name = str(opt.get('option') or '').replace('-', '_')
        if str(opt.get('module') or '').replace('-', '_') == module and name == param and kernel_bool(opt.get('value')):
            bad.append('%s sets %s' % (opt.get('file'), opt.get('option') if opt.get('value') is None
                                       else '%s=%s' % (opt.get('option'), opt.get('value'))))
    args = _opt(facts, 'cmdline.args') or []
    for value in arg_values(args, '%s.%s' % (module, param)):
        if kernel_bool(value):
            bad.append('cmdline %s.%s' % (module, param) + ('' if value is None else '=%s' % value))
    if loaded == 'absent':
        state = 'module loaded, %s not built into this kernel' % param
    else:
        state = 'module loaded, %s=N' % param if loaded else 'module not loaded'
    return _result(bad, '%s; no modprobe.d or cmdline option enables it' % state, 'unsafe mode enabled')


def ev_vfio_01(facts, s):
    return _unsafe_param(facts, 'vfio_iommu_type1', 'allow_unsafe_interrupts')


def ev_vfio_02(facts, s):
    return _unsafe_param(facts, 'vfio', 'enable_unsafe_noiommu_mode')


def ev_vfio_03(facts, s):
    bound = _vfio_bound(facts)
    bad = [d.get('address') for d in bound if not _allowed(s, d)]
    if not bound:
        return ('pass', 'no device bound to vfio-pci')
    return _result(bad, '%d vfio-pci device(s), all allow-listed' % len(bound), 'bound to vfio-pci but not allow-listed')


def ev_vfio_04(facts, s):
    allow = s.get('hvsec_vfio_allowlist') or []
    if not allow:
        return ('not_applicable', 'hvsec_vfio_allowlist is empty')
    matching = [d for d in _pci_devices(facts) if _allowed(s, d)]
    if not matching:
        return ('not_applicable', 'no present device matches hvsec_vfio_allowlist')
    bad = ['%s (driver %s)' % (d.get('address'), d.get('driver')) for d in matching if d.get('driver') != 'vfio-pci']
    return _result(bad, '%d allow-listed device(s) bound to vfio-pci' % len(matching), 'allow-listed but not on vfio-pci')


def ev_vfio_05(facts, s):
    devices = _pci_devices(facts)
    bound = [d for d in devices if d.get('driver') == 'vfio-pci']
    if not bound:
        return ('not_applicable', 'no device bound to vfio-pci')
    by_group = {}
    for d in devices:
        if d.get('iommu_group') is not None:
            by_group.setdefault(d['iommu_group'], []).append(d)
    bad = []
    for d in bound:
        group = d.get('iommu_group')
        if group is None:
            bad.append('%s has no IOMMU group' % d.get('address'))
            continue
        for other in by_group.get(group, []):
            if other is d or other.get('is_bridge'):
                continue
            if other.get('driver') not in ('vfio-pci', 'pci-stub', None):
                bad.append('group %s: %s on %s' % (group, other.get('address'), other.get('driver')))
    groups = sorted(set(str(d.get('iommu_group')) for d in bound))
    return _result(sorted(set(bad)), 'group(s) %s viable' % _fmt_list(groups), 'group not viable')


def ev_vfio_06(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    devices = dict((_norm_addr(d.get('address')), d) for d in (_opt(facts, 'pci.devices') or []))
    bad = []
    count = 0
    for dom in _domains(facts):
        for hd in dom.get('hostdevs') or []:
            if hd.get('type') != 'pci':
                continue
            count += 1
            addr = _norm_addr(hd.get('address'))
            device = devices.get(addr, {'address': addr})
            if not _allowed(s, device):
                bad.append('%s: %s' % (dom.get('name'), addr))
    return _result(bad, '%d PCI hostdev(s), all allow-listed' % count, 'unapproved hostdev')


def ev_vfio_07(facts, s):
    bound = _vfio_bound(facts)
    if not bound:
        return ('not_applicable', 'no device bound to vfio-pci')
    iommu = _get(facts, 'iommu')
    bad = []
    if not iommu.get('enabled'):
        bad.append('IOMMU not enabled')
    if iommu.get('interrupt_remapping') is None:
        raise Unknown('iommu.interrupt_remapping')
    if not iommu.get('interrupt_remapping'):
        bad.append('interrupt remapping off')
    return _result(bad, '%d vfio-pci device(s); IOMMU and interrupt remapping active' % len(bound),
                   '%d vfio-pci device(s) but' % len(bound))


def _sriov_decl(settings):
    """pf ifname -> declaration dict."""
    out = {}
    for item in settings.get('hvsec_vfio_sriov') or []:
        if isinstance(item, dict) and item.get('pf'):
            out[str(item['pf'])] = item
    return out


def ev_vfio_08(facts, s):
    pfs = [d for d in _pci_devices(facts) if d.get('sriov_totalvfs') and not d.get('physfn')]
    if not pfs:
        return ('not_applicable', 'no SR-IOV capable device')
    decl = _sriov_decl(s)
    bad = []
    for pf in pfs:
        numvfs = pf.get('sriov_numvfs')
        if numvfs is None:
            raise Unknown('pci.devices[%s].sriov_numvfs' % pf.get('address'))
        cap = 0
        for ifname in pf.get('net') or []:
            if ifname in decl:
                cap = _int(decl[ifname].get('numvfs'), 0)
        if int(numvfs) > cap:
            bad.append('%s (%s): %s VFs > cap %d' % (pf.get('address'), _fmt_list(pf.get('net') or []), numvfs, cap))
    return _result(bad, '%d physical function(s) within their caps' % len(pfs), 'too many VFs')


def _all_vfs(facts):
    """[(pf ifname, vf dict)]; Unknown when links are unreadable but VFs exist."""
    links = _opt(facts, 'network.links')
    if links is None:
        devices = _opt(facts, 'pci.devices') or []
        if any(_int(d.get('sriov_numvfs'), 0) for d in devices):
            raise Unknown('network.links')
        return []
    out = []
    for link in links:
        for vf in link.get('vfs') or []:
            out.append((link.get('ifname'), vf))
    return out


def _vf_decl(settings, pf, vfnum):
    decl = _sriov_decl(settings).get(pf) or {}
    for vf in decl.get('vfs') or []:
        if isinstance(vf, dict) and _int(vf.get('vf')) == _int(vfnum):
            return vf
    return None


def _vf_check(facts, test, ok_msg, fail_prefix):
    vfs = _all_vfs(facts)
    if not vfs:
        return ('not_applicable', 'no SR-IOV virtual functions')
    bad = []
    for pf, vf in vfs:
        problem = test(pf, vf)
        if problem:
            bad.append('%s vf %s %s' % (pf, vf.get('vf'), problem))
    return _result(bad, ok_msg % len(vfs), fail_prefix)


def ev_vfio_09(facts, s):
    return _vf_check(facts, lambda pf, vf: None if vf.get('spoofchk') is True else 'spoofchk %s' % vf.get('spoofchk'),
                     '%d VF(s), spoof checking on', 'spoof checking off')


def ev_vfio_10(facts, s):
    return _vf_check(facts, lambda pf, vf: None if vf.get('trust') is False else 'trust %s' % vf.get('trust'),
                     '%d VF(s), trust off', 'trusted VF')


def _zero_mac(mac):
    return not mac or all(c in '0:' for c in str(mac))


def ev_vfio_11(facts, s):
    def test(pf, vf):
        mac = str(vf.get('mac') or '').lower()
        if _zero_mac(mac):
            return 'has no MAC set'
        want = _vf_decl(s, pf, vf.get('vf'))
        if want and want.get('mac') and str(want['mac']).lower() != mac:
            return 'MAC %s, declared %s' % (mac, want['mac'])
        return None
    return _vf_check(facts, test, '%d VF(s) with administrator-set MACs', 'VF MAC')


def ev_vfio_12(facts, s):
    def test(pf, vf):
        vlan = _int(vf.get('vlan'), 0)
        want = _vf_decl(s, pf, vf.get('vf'))
        if want and want.get('vlan') is not None:
            if vlan != _int(want['vlan']):
                return 'VLAN %d, declared %s' % (vlan, want['vlan'])
            return None
        if not vlan:
            return 'has no VLAN'
        return None
    return _vf_check(facts, test, '%d VF(s) with enforced VLANs', 'VF VLAN')


def ev_vfio_13(facts, s):
    devices = _pci_devices(facts)
    vfs = [d for d in devices if d.get('physfn')]
    if not vfs:
        return ('not_applicable', 'no SR-IOV virtual functions')
    members = {}
    for d in devices:
        if d.get('iommu_group') is not None:
            members.setdefault(d['iommu_group'], []).append(d.get('address'))
    for group in _opt(facts, 'iommu.groups') or []:
        if group.get('id') is not None and group.get('devices') is not None:
            members[group['id']] = list(group['devices'])
    bad = []
    for vf in vfs:
        group = vf.get('iommu_group')
        if group is None:
            bad.append('%s has no IOMMU group' % vf.get('address'))
        elif len(members.get(group, [])) != 1:
            bad.append('%s shares group %s with %s' % (
                vf.get('address'), group, _fmt_list(a for a in members[group] if a != vf.get('address'))))
    return _result(bad, '%d VF(s), each in its own IOMMU group' % len(vfs), 'VF group shared')


# ------------------------------------------------------------------------------ vswitch
def _declared_bridges(settings, guest_only=False):
    out = []
    for item in settings.get('hvsec_vswitch_bridges') or []:
        if not isinstance(item, dict) or not item.get('name'):
            continue
        if guest_only and not item.get('guest_only', True):
            continue
        out.append(item)
    return out


def _bridge_check(facts, settings, guest_only, test, ok_msg, fail_prefix):
    declared = _declared_bridges(settings, guest_only)
    if not declared:
        return ('not_applicable', 'no %sbridge declared in hvsec_vswitch_bridges' % ('guest-only ' if guest_only else ''))
    present = dict((b.get('name'), b) for b in _get(facts, 'network.bridges'))
    bad = []
    for item in declared:
        bridge = present.get(item['name'])
        if bridge is None:
            bad.append('%s missing' % item['name'])
            continue
        problem = test(item, bridge)
        if problem:
            bad.append('%s %s' % (item['name'], problem))
    return _result(bad, ok_msg % _fmt_list(i['name'] for i in declared), fail_prefix)


def ev_vsw_01(facts, s):
    def test(item, bridge):
        problems = []
        if item.get('vlan_filtering', True) is not False and bridge.get('vlan_filtering') is not True:
            problems.append('vlan_filtering off')
        ports = item.get('ports') or []
        if ports:
            vlans = bridge.get('vlans')
            if vlans is None:
                raise Unknown('network.bridges[%s].vlans' % item['name'])
            for port in ports:
                have = set(_int(v.get('vlan')) for v in vlans.get(port.get('name')) or [])
                missing = [str(v) for v in port.get('vlans') or [] if _int(v) not in have]
                if missing:
                    problems.append('port %s lacks VLAN %s' % (port.get('name'), ','.join(missing)))
                if port.get('pvid') is not None:
                    pvids = [_int(v.get('vlan')) for v in vlans.get(port.get('name')) or [] if v.get('pvid')]
                    if _int(port['pvid']) not in pvids:
                        problems.append('port %s pvid %s not set' % (port.get('name'), port['pvid']))
        return '; '.join(problems)
    return _bridge_check(facts, s, False, test, 'VLAN filtering as declared on %s', 'bridge')


def ev_vsw_02(facts, s):
    def test(item, bridge):
        if bridge.get('addresses') is None:
            raise Unknown('network.addresses')
        addrs = [a for a in bridge['addresses'] if not str(a).lower().startswith('fe80:')]
        return 'has host address %s' % _fmt_list(addrs) if addrs else None
    return _bridge_check(facts, s, True, test, 'no host address on %s', 'guest-only bridge')


def ev_vsw_03(facts, s):
    def test(item, bridge):
        if bridge.get('ipv6_disabled') is True:
            return None
        autoconf, accept_ra = bridge.get('ipv6_autoconf'), bridge.get('ipv6_accept_ra')
        if autoconf is None and accept_ra is None:
            raise Unknown('network.bridges[%s].ipv6_autoconf' % item['name'])
        problems = []
        if _truthy(autoconf):
            problems.append('autoconf on')
        if _int(accept_ra, 0):
            problems.append('accept_ra=%s' % accept_ra)
        return ', '.join(problems)
    return _bridge_check(facts, s, True, test, 'no IPv6 autoconfiguration on %s', 'guest-only bridge')


def ev_vsw_04(facts, s):
    def test(item, bridge):
        return 'proxy_arp on' if _truthy(bridge.get('proxy_arp')) else None
    return _bridge_check(facts, s, False, test, 'proxy ARP off on %s', 'bridge')


def _ovs(facts):
    ovs = _opt(facts, 'network.ovs')
    if ovs is None:
        if _unreadable(facts, 'network.ovs'):
            raise Unknown('network.ovs')
        return None
    return ovs


def _ovs_target(target, s):
    """(ok, text) of an OVSDB manager or OpenFlow controller target, by the rule ovs_security
    applies (vswitch_ovs.classify_target / target_allowed): a loopback-only plain-TCP target is
    ok while hvsec_vswitch_ovs_allow_loopback_tcp is true, and the text says so."""
    allow = s.get(vswitch_ovs.POLICY_VAR, vswitch_ovs.POLICY_DEFAULT)
    kind, why = vswitch_ovs.classify_target(target)
    ok = vswitch_ovs.target_allowed(target, allow)
    if kind == 'loopback' and ok:
        return True, '%s (loopback-only plain TCP, %s; allowed by %s)' % (target, why, vswitch_ovs.POLICY_VAR)
    if kind == 'loopback':
        return False, '%s (%s; %s is false)' % (target, why, vswitch_ovs.POLICY_VAR)
    if kind == 'plain':
        return False, '%s (%s)' % (target, why)
    return ok, '%s' % (target,)


def ev_vsw_05(facts, s):
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    managers = ovs.get('managers')
    if managers is None:
        raise Unknown('network.ovs.managers')
    judged = [_ovs_target(m, s) for m in managers]
    bad = [text for ok, text in judged if not ok]
    return _result(bad, 'managers: %s' % (_fmt_list(text for ok, text in judged) or 'none'), 'plain-TCP OVSDB manager')


def ev_vsw_06(facts, s):
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    bad = []
    kept = []
    for bridge in ovs.get('bridges') or []:
        for target in bridge.get('controllers') or []:
            ok, text = _ovs_target(target, s)
            if not ok:
                bad.append('%s %s' % (bridge.get('name'), text))
            elif vswitch_ovs.classify_target(target)[0] == 'loopback':
                kept.append('%s %s' % (bridge.get('name'), text))
    ok_msg = 'no plain-TCP OpenFlow target reachable beyond the host on %d bridge(s)' % len(ovs.get('bridges') or [])
    return _result(bad, ok_msg + ('; %s' % _fmt_list(kept) if kept else ''), 'plain-TCP OpenFlow')


def ev_vsw_07(facts, s):
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    with_ctl = [b for b in ovs.get('bridges') or [] if b.get('controllers')]
    if not with_ctl:
        return ('not_applicable', 'no OVS bridge has a controller')
    bad = ['%s (fail_mode %s)' % (b.get('name'), b.get('fail_mode')) for b in with_ctl if b.get('fail_mode') != 'secure']
    return _result(bad, 'fail_mode secure on %s' % _fmt_list(b.get('name') for b in with_ctl), 'not secure')


def ev_vsw_08(facts, s):
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    allowed = set(str(m) for m in s.get('hvsec_vswitch_ovs_allowed_mirrors') or [])
    bad = []
    for bridge in ovs.get('bridges') or []:
        bad.extend('%s on %s' % (m, bridge.get('name')) for m in bridge.get('mirrors') or [] if str(m) not in allowed)
    return _result(bad, 'no undeclared mirror', 'undeclared mirror')


def ev_vsw_09(facts, s):
    declared = [p for p in s.get('hvsec_vswitch_ovs_ports') or [] if isinstance(p, dict) and p.get('name')]
    if not declared:
        return ('not_applicable', 'hvsec_vswitch_ovs_ports is empty')
    ovs = _ovs(facts)
    if ovs is None:
        return ('fail', 'ports declared but Open vSwitch not installed')
    present = {}
    for bridge in ovs.get('bridges') or []:
        for port in bridge.get('ports') or []:
            present[port.get('name')] = port
    bad = []
    for want in declared:
        port = present.get(want['name'])
        if port is None:
            bad.append('%s missing' % want['name'])
        elif _int(port.get('tag')) != _int(want.get('tag')):
            bad.append('%s tag %s, declared %s' % (want['name'], port.get('tag'), want.get('tag')))
    return _result(bad, '%d declared port(s) tagged' % len(declared), 'OVS port')


def _guest_nics(facts, types=('bridge', 'network')):
    out = []
    for dom in _domains(facts):
        for nic in dom.get('interfaces') or []:
            if nic.get('type') in types:
                out.append((dom.get('name'), nic))
    return out


def _spoof_ports(settings):
    """Declared guest ports that get MAC/IP anti-spoofing tables: (kind, bridge, port) with
    kind ``bridge`` (a Linux bridge port, hvsec_vswitch_bridges) or ``ovs`` (hvsec_vswitch_ovs_ports)."""
    out = []
    for bridge in _declared_bridges(settings):
        for port in bridge.get('ports') or []:
            if isinstance(port, dict) and port.get('name') and port.get('mac'):
                out.append(('bridge', bridge['name'], port))
    for port in settings.get('hvsec_vswitch_ovs_ports') or []:
        if isinstance(port, dict) and port.get('name') and port.get('mac'):
            out.append(('ovs', None, port))
    return out


def _port_rules(ruleset, kind, name):
    """The nftables rules that see frames entering port ``name``, its iifname condition removed.

    netdev ingress chains bound to the port (nft 1.0.6 does not report a netdev chain's device
    in JSON: then the chain counts when its table is the one the vswitch role names after the
    port) and, for a Linux bridge port, bridge-family prerouting rules that match its iifname.
    """
    prefix = 'iifname "%s" ' % name
    rules = []
    for table, chain in nft_utils.base_chains(ruleset, 'netdev', ('ingress',)):
        devices = chain.get('devices')
        if name in (devices or []) or (devices is None and table.get('name') == nft_port_table_name(name)):
            rules.extend(r[len(prefix):] if r.startswith(prefix) else r for r in chain.get('rules') or []
                         if r.startswith(prefix) or not r.startswith('iifname '))
    if kind == 'bridge':
        for dummy, chain in nft_utils.base_chains(ruleset, 'bridge', ('prerouting',)):
            rules.extend(r[len(prefix):] for r in chain.get('rules') or [] if r.startswith(prefix))
    return rules


def _drops_other_than(rules, match, allowed):
    """True when a rule ``MATCH != VALUES (counter) drop|reject`` has VALUES within ``allowed``."""
    for rule in rules:
        words = rule.split(' != ', 1)
        if len(words) != 2 or words[0] != match:
            continue
        rest = words[1]
        for verdict in (' drop', ' reject', ' counter drop', ' counter reject'):
            if rest.endswith(verdict):
                values = rest[:-len(verdict)].strip()
                break
        else:
            continue
        values = values[1:-1] if values.startswith('{') and values.endswith('}') else values
        items = set(_norm_addr_value(v) for v in values.split(',') if v.strip())
        if items and items <= set(_norm_addr_value(a) for a in allowed):
            return True
    return False


def _norm_addr_value(value):
    """Canonical text of an address, prefix or MAC, so that nft's output compares with declarations."""
    value = str(value).strip().lower()
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return value
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _spoof_problems(rules, port):
    """What the rules of a port with a declared MAC (and IPs) do not enforce."""
    mac = str(port.get('mac')).lower()
    ips = [str(i).lower() for i in port.get('ips') or []]
    v4 = set(i for i in ips if ':' not in i)
    v6 = set(i for i in ips if ':' in i)
    problems = []
    if not _drops_other_than(rules, 'ether saddr', set([mac])):
        problems.append('no rule drops source MAC other than %s' % mac)
    if ips:
        for family, ether, addrs, extra in (('ip', 'ip', v4, set()), ('ip6', 'ip6', v6, set(['fe80::/10']))):
            if addrs and not _drops_other_than(rules, '%s saddr' % family, addrs | extra):
                problems.append('no rule drops %s source other than %s' % (family, _fmt_list(sorted(addrs))))
            if not addrs and 'ether type %s drop' % ether not in rules:
                problems.append('%s not dropped (no %s address declared)' % (ether, family))
    return problems


def _spoof_check(facts, s):
    """(checked count, failures) for the declared ports' anti-spoofing tables."""
    ports = _spoof_ports(s)
    if not ports:
        return 0, []
    nft = _get(facts, 'nftables')
    if not nft.get('installed'):
        return len(ports), ['nftables not installed: no anti-spoofing for %s' % _fmt_list(p['name'] for k, b, p in ports)]
    ruleset = nft.get('ruleset')
    if ruleset is None:
        raise Unknown('nftables.ruleset')
    bad = []
    for kind, bridge, port in ports:
        problems = _spoof_problems(_port_rules(ruleset, kind, port['name']), port)
        if problems:
            bad.append('port %s%s: %s' % (port['name'], ' (%s)' % bridge if bridge else ' (OVS)', '; '.join(problems)))
    return len(ports), bad


def ev_vsw_10(facts, s):
    """libvirt guest interfaces carry the nwfilter (libvirt instantiates it with ebtables/iptables);
    ports the administrator declared with a MAC have the role's nftables anti-spoofing rules loaded."""
    want = s.get('hvsec_vswitch_nwfilter') or 'clean-traffic'
    nics = []
    if _libvirt_installed(facts):
        nics = _guest_nics(facts)
    ports, port_bad = _spoof_check(facts, s)
    if not nics and not ports:
        if not _libvirt_installed(facts):
            return ('not_applicable', 'libvirt is not installed and no port declares a MAC')
        return ('not_applicable', 'no bridge/network guest interface defined and no port declares a MAC')
    bad = ['%s %s (%s)' % (dom, nic.get('mac') or nic.get('source'), nic.get('filterref') or 'no filter')
           for dom, nic in nics if nic.get('filterref') != want]
    done = []
    if nics:
        done.append('%d guest interface(s) filtered by %s' % (len(nics), want))
    if ports:
        done.append('%d declared port(s) with nftables MAC/IP anti-spoofing' % ports)
    if bad or port_bad:
        parts = []
        if bad:
            parts.append('not filtered by %s: %s' % (want, _fmt_list(bad)))
        if port_bad:
            parts.append(_fmt_list(port_bad))
        return ('fail', '; '.join(parts))
    return ('pass', '; '.join(done))


def ev_vsw_11(facts, s):
    if not s.get('hvsec_vswitch_macvtap_isolation', True):
        return ('not_applicable', 'hvsec_vswitch_macvtap_isolation is false')
    na = _na_without_libvirt(facts)
    if na:
        return na
    nics = _guest_nics(facts, ('direct',))
    if not nics:
        return ('not_applicable', 'no macvtap (direct) guest interface')
    bad = ['%s %s' % (dom, nic.get('source')) for dom, nic in nics if str(nic.get('mode') or 'vepa').lower() == 'bridge']
    return _result(bad, '%d macvtap interface(s), none in bridge mode' % len(nics), 'macvtap bridge mode')


def ev_vsw_12(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    bridges = set(b.get('name') for b in _opt(facts, 'network.bridges') or [])
    nets = dict((n.get('name'), n.get('bridge')) for n in _opt(facts, 'libvirt.networks') or [])
    filtered = []
    for dom, nic in _guest_nics(facts):
        if not nic.get('filterref'):
            continue
        source = nic.get('source')
        bridge = nets.get(source) if nic.get('type') == 'network' else source
        if bridge in bridges:
            filtered.append(bridge)
    if not filtered:
        return ('not_applicable', 'no filtered guest interface on a Linux bridge')
    value = _opt(facts, 'sysctl.bridge_nf_call_iptables')
    if value is None:
        if _unreadable(facts, 'sysctl.bridge_nf_call_iptables'):
            raise Unknown('sysctl.bridge_nf_call_iptables')
        return ('fail', 'br_netfilter not loaded: nwfilter IP rules do not see bridged traffic on %s' % _fmt_list(sorted(set(filtered))))
    if _int(value) == 1:
        return ('pass', 'bridge-nf-call-iptables=1')
    return ('fail', 'bridge-nf-call-iptables=%s' % value)


# ------------------------------------------------------------------------------ mgmt_plane
def ev_mgmt_01(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    bad = []
    tcp_sockets = _socket_enabled(facts, '-tcp.socket')
    for name, conf in _daemon_confs(facts):
        active = _truthy(conf.get('listen_tcp', 0)) or any(sock.startswith(name) for sock in tcp_sockets)
        auth = str(conf.get('auth_tcp') or 'sasl').lower()
        if active and auth != 'sasl':
            bad.append('%s TCP listener with auth_tcp=%s' % (name, auth))
    if bad:
        return ('fail', '; '.join(bad))
    if tcp_sockets:
        return ('pass', 'TCP socket(s) %s enabled with SASL authentication' % _fmt_list(tcp_sockets))
    return ('pass', 'no libvirt plain TCP listener')


def _listening_flag(facts):
    args = _opt(facts, 'libvirt.daemon_args') or []
    return '--listen' in args or '-l' in args


def _tls_on(facts, name, conf):
    """TLS listener of ``name``: its -tls socket enabled, or listen_tls with --listen."""
    sockets = _socket_enabled(facts, '-tls.socket')
    if any(sock.startswith(name) for sock in sockets):
        return True
    if name == 'libvirtd' and _truthy(conf.get('listen_tls', 0)) and _listening_flag(facts):
        return True
    return any(_int(l.get('port')) == _int(conf.get('tls_port', 16514)) and l.get('process') == name
               for l in _opt(facts, 'listeners') or [])


def ev_mgmt_02(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    bad = []
    active = []
    for name, conf in _daemon_confs(facts):
        if not _tls_on(facts, name, conf):
            continue
        active.append(name)
        if _truthy(conf.get('tls_no_verify_certificate', 0)):
            bad.append('%s tls_no_verify_certificate=1' % name)
        if not conf.get('tls_allowed_dn_list'):
            bad.append('%s tls_allowed_dn_list not set' % name)
    if not active:
        return ('not_applicable', 'no libvirt TLS listener')
    return _result(bad, 'TLS on %s verifies client certificates against tls_allowed_dn_list' % _fmt_list(active),
                   'TLS')


_AUTHENTICATING = ('polkit', 'sasl')


def _rw_socket_access(facts, name, conf):
    """(mode, group, where) of the read-write socket of daemon ``name``.

    The socket itself when it exists (the best evidence); else, under socket activation (its
    .socket unit enabled), the unit's SocketMode/SocketGroup, which replace the daemon's
    unix_sock_rw_perms/unix_sock_group; else the daemon's own file.
    """
    path = RW_SOCKETS[name]
    real = (_opt(facts, 'libvirt.unix_sockets') or {}).get(path)
    if real:
        return str(real.get('mode')), real.get('group'), path
    unit = '%s.socket' % name
    if str(_sockets(facts).get(unit)).lower() == 'enabled':
        libvirt = _get(facts, 'libvirt')
        if 'socket_units' in libvirt:   # facts of this schema read the unit files
            settings = (libvirt.get('socket_units') or {}).get(unit)
            if settings is None:
                raise Unknown('libvirt.socket_units.%s' % unit)
            return str(settings.get('mode')), settings.get('group') or 'root', '%s (%s)' % (
                unit, ', '.join(settings.get('files') or []) or 'systemd defaults')
    return str(conf.get('unix_sock_rw_perms') or '0700'), conf.get('unix_sock_group'), '%s.conf' % name


def ev_mgmt_03(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    bad = []
    shown = []
    for name, conf in _daemon_confs(facts, _rw_daemons(facts)):
        auth = str(conf.get('auth_unix_rw') or 'polkit').lower()
        perms, group, where = _rw_socket_access(facts, name, conf)
        if auth in _AUTHENTICATING:
            # Every read-write connection is authorized (polkit: org.libvirt.unix.manage),
            # so a socket anyone may connect to is libvirt's intended, safe default.
            shown.append('%s auth_unix_rw=%s (socket %s group %s from %s)' % (name, auth, perms, group, where))
            continue
        shown.append('%s auth_unix_rw=%s, socket %s group %s from %s' % (name, auth, perms, group, where))
        try:
            other = int(perms, 8) & 0o7
        except ValueError:
            other = 7
        if other:
            bad.append('%s auth_unix_rw=%s and unix_sock_rw_perms=%s (from %s) grants access to others'
                       % (name, auth, perms, where))
        if not group:
            bad.append('%s unix_sock_group not set' % name)
    return _result(bad, '; '.join(shown), 'socket')


def ev_mgmt_04(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    bad = []
    for name, conf in _daemon_confs(facts, _driver_daemons(facts)):
        drivers = _words(conf.get('access_drivers'))
        if 'polkit' not in drivers:
            bad.append('%s access_drivers=%s' % (name, drivers or '[]'))
    return _result(bad, 'access_drivers include polkit (%s)' % _fmt_list(
        '%s.conf' % n for n in _driver_daemons(facts)), 'no polkit access driver')


def _console_listen(facts, s, kind):
    na = _na_without_libvirt(facts)
    if na:
        return na
    qemu = _libvirt_conf(facts, 'qemu')
    mgmt = str(s.get('hvsec_mgmt_plane_address') or '')
    default = '127.0.0.1'
    addresses = [('qemu.conf', qemu.get('%s_listen' % kind) or default)]
    for dom in _domains(facts):
        for g in dom.get('graphics') or []:
            if g.get('type') == kind and g.get('listen'):
                addresses.append((dom.get('name'), g['listen']))
    bad = ['%s %s' % (where, addr) for where, addr in addresses
           if not (_is_loopback(addr) or (mgmt and str(addr) == mgmt))]
    return _result(bad, '%s listeners on loopback/management address (%s)' % (kind.upper(), _fmt_list(sorted(set(a for w, a in addresses)))),
                   '%s listens beyond loopback/management address' % kind.upper())


def ev_mgmt_05(facts, s):
    return _console_listen(facts, s, 'vnc')


def ev_mgmt_06(facts, s):
    return _console_listen(facts, s, 'spice')


def ev_mgmt_07(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    qemu = _libvirt_conf(facts, 'qemu')
    bad = []
    exposed = []
    for kind in ('vnc', 'spice'):
        addrs = [qemu.get('%s_listen' % kind) or '127.0.0.1']
        for dom in _domains(facts):
            addrs.extend(g.get('listen') for g in dom.get('graphics') or [] if g.get('type') == kind and g.get('listen'))
        if all(_is_loopback(a) for a in addrs):
            continue
        exposed.append(kind)
        if kind == 'vnc':
            if not _truthy(qemu.get('vnc_tls', 0)):
                bad.append('vnc_tls=0')
            if not _truthy(qemu.get('vnc_tls_x509_verify', 0)):
                bad.append('vnc_tls_x509_verify=0')
        elif not _truthy(qemu.get('spice_tls', 0)):
            bad.append('spice_tls=0')
    if not exposed:
        return ('pass', 'consoles listen on loopback only')
    return _result(bad, '%s beyond loopback use TLS with x509 verification' % '/'.join(exposed),
                   '%s beyond loopback without TLS' % '/'.join(exposed))


def ev_mgmt_08(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    qemu = _libvirt_conf(facts, 'qemu')
    if _truthy(qemu.get('migrate_tls_force', 0)):
        return ('pass', 'migrate_tls_force=1')
    return ('fail', 'migrate_tls_force=%s' % qemu.get('migrate_tls_force', 0))


def ev_mgmt_09(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    qemu = _libvirt_conf(facts, 'qemu')
    lsm = _get(facts, 'security_module')
    active = [name for name in ('apparmor', 'selinux') if lsm.get(name)]
    drivers = _words(qemu.get('security_driver'))
    if 'none' in drivers:
        return ('fail', 'security_driver="none" in qemu.conf')
    if drivers:
        missing = [d for d in drivers if d in ('apparmor', 'selinux') and d not in active]
        if missing:
            return ('fail', 'security_driver %s configured but not active' % _fmt_list(missing))
        return ('pass', 'security_driver %s, active LSM: %s' % (_fmt_list(drivers), _fmt_list(active) or 'none'))
    if active:
        return ('pass', 'security_driver default, active LSM: %s' % _fmt_list(active))
    return ('fail', 'no AppArmor or SELinux active: QEMU runs unconfined')


_NONROOT_DEFAULT_OS = ('debian', 'ubuntu', 'rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'suse', 'opensuse')


def ev_mgmt_10(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    qemu = _libvirt_conf(facts, 'qemu')
    user, group = qemu.get('user'), qemu.get('group')
    bad = ['%s=%s' % (k, v) for k, v in (('user', user), ('group', group)) if str(v) in ('root', '0', '+0')]
    if bad:
        return ('fail', 'qemu.conf %s' % ', '.join(bad))
    if user is None:
        os_info = _opt(facts, 'host.os') or {}
        ids = [os_info.get('id')] + list(os_info.get('id_like') or [])
        if not any(i in _NONROOT_DEFAULT_OS for i in ids):
            raise Unknown('libvirt.config.qemu.user', hint='user not set and the build default of %s is unknown'
                          % (os_info.get('id') or 'this OS'))
        return ('pass', 'user not set: %s packages default to a non-root QEMU user' % os_info.get('id'))
    return ('pass', 'qemu user %s, group %s' % (user, group))


def ev_mgmt_11(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    value = _libvirt_conf(facts, 'qemu').get('dynamic_ownership', 1)
    if _truthy(value):
        return ('pass', 'dynamic_ownership=%s' % value)
    return ('fail', 'dynamic_ownership=%s' % value)


def ev_mgmt_12(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    value = _libvirt_conf(facts, 'qemu').get('seccomp_sandbox', 1)
    if _int(value, 1) == 0:
        return ('fail', 'seccomp_sandbox=0')
    return ('pass', 'seccomp_sandbox=%s' % value)


def _sshd(facts):
    sshd = _opt(facts, 'sshd')
    if sshd is None:
        if _unreadable(facts, 'sshd'):
            raise Unknown('sshd')
        return None
    if sshd.get('effective') is None:
        raise Unknown('sshd.effective', hint='sshd -T failed: %s' % (sshd.get('error') or 'no output'))
    return sshd['effective']


def _ssh_val(eff, key, default=''):
    value = eff.get(key, default)
    if isinstance(value, list):
        value = value[0] if value else default
    return str(value).lower()


def _ssh_connections(facts, eff):
    """``[(connection, effective)]`` for every connection the facts read with ``sshd -T -C``
    (outside/inside the administrator networks, root, administrator users, one per Match block);
    ``effective`` is the global reading with that connection's differences applied. Empty for
    facts without per-connection readings. Unknown when sshd failed for a connection."""
    conns = (_opt(facts, 'sshd') or {}).get('connections') or []
    out = []
    for conn in conns:
        if conn.get('error') is not None or conn.get('differs') is None:
            raise Unknown('sshd.connections', hint='sshd -T -C for %s failed: %s'
                          % (spec_text(conn.get('spec') or {}), conn.get('error') or 'no output'))
        merged = dict(eff)
        for key, value in conn['differs'].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        out.append((conn, merged))
    return out


def _ssh_origin(facts, conn, key):
    """The Match block that sets ``key`` for this connection (sshd uses the first that applies)."""
    blocks = (_opt(facts, 'sshd') or {}).get('match_blocks') or []
    for index in conn.get('matched') or []:
        if 0 <= index < len(blocks) and key in (blocks[index].get('settings') or {}):
            return block_name(blocks[index])
    return 'no Match block named'


def _ssh_per_connection(facts, eff, global_bad, check):
    """Failures of ``check(connection, effective)`` (a message or None) over every connection
    read with ``sshd -T -C``, after ``global_bad``. A failed per-connection reading is an error
    unless the global values fail already."""
    try:
        conns = _ssh_connections(facts, eff)
    except Unknown:
        if global_bad:
            return global_bad, 0
        raise
    bad = list(global_bad)
    for conn, merged in conns:
        problem = check(conn, merged)
        if problem and problem not in bad:
            bad.append(problem)
    return bad, len(conns)


def _ssh_checked(count):
    return ' (also for %d connection(s) read with sshd -T -C)' % count if count else ''


_ROOT_LOGIN_SAFE = ('no', 'prohibit-password', 'without-password', 'forced-commands-only')


def ev_mgmt_13(facts, s):
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    value = _ssh_val(eff, 'permitrootlogin', 'prohibit-password')
    global_bad = [] if value in _ROOT_LOGIN_SAFE else ['PermitRootLogin %s' % value]

    def check(conn, merged):
        spec = conn.get('spec') or {}
        have = _ssh_val(merged, 'permitrootlogin', 'prohibit-password')
        if spec.get('user') == 'root' and have not in _ROOT_LOGIN_SAFE:
            return 'PermitRootLogin %s for %s, set by %s' % (have, spec_text(spec), _ssh_origin(facts, conn, 'permitrootlogin'))
        return None
    bad, count = _ssh_per_connection(facts, eff, global_bad, check)
    if bad:
        return ('fail', '; '.join(bad[:4]) + (' (+%d more)' % (len(bad) - 4) if len(bad) > 4 else ''))
    return ('pass', 'PermitRootLogin %s%s' % (value, _ssh_checked(count)))


def ev_mgmt_14(facts, s):
    if s.get('hvsec_mgmt_plane_sshd_password_auth', False):
        return ('not_applicable', 'hvsec_mgmt_plane_sshd_password_auth is true (password login wanted)')
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    keys = ('passwordauthentication', 'kbdinteractiveauthentication')
    global_bad = []
    for key in keys:
        if key in eff and _ssh_val(eff, key) != 'no':
            global_bad.append('%s %s' % (key, _ssh_val(eff, key)))
    if 'passwordauthentication' not in eff:
        global_bad.append('passwordauthentication unknown (default yes)')

    def check(conn, merged):
        found = ['%s %s' % (key, _ssh_val(merged, key)) for key in keys if key in merged and _ssh_val(merged, key) != 'no']
        if not found:
            return None
        key = keys[0] if _ssh_val(merged, keys[0]) != 'no' else keys[1]
        return '%s for %s, set by %s' % (' and '.join(found), spec_text(conn.get('spec') or {}),
                                         _ssh_origin(facts, conn, key))
    bad, count = _ssh_per_connection(facts, eff, global_bad, check)
    return _result(bad, 'password and keyboard-interactive authentication off%s' % _ssh_checked(count), 'sshd allows')


def ev_mgmt_15(facts, s):
    wanted = [str(g) for g in s.get('hvsec_mgmt_plane_sshd_allow_groups') or []]
    if not wanted:
        return ('not_applicable', 'hvsec_mgmt_plane_sshd_allow_groups is empty')
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')

    def problem(groups, where):
        if not groups:
            return 'AllowGroups not set%s (wanted %s)' % (where, _fmt_list(wanted))
        extra = [g for g in groups if g not in wanted]
        if extra:
            return 'AllowGroups %s%s includes undeclared %s' % (_fmt_list(groups), where, _fmt_list(extra))
        return None
    have = _words(eff.get('allowgroups'))
    first = problem(have, '')
    global_bad = [first] if first else []

    def check(conn, merged):
        found = problem(_words(merged.get('allowgroups')), ' for %s' % spec_text(conn.get('spec') or {}))
        return found and '%s, set by %s' % (found, _ssh_origin(facts, conn, 'allowgroups'))
    bad, count = _ssh_per_connection(facts, eff, global_bad, check)
    if bad:
        return ('fail', '; '.join(bad[:4]) + (' (+%d more)' % (len(bad) - 4) if len(bad) > 4 else ''))
    return ('pass', 'AllowGroups %s%s' % (_fmt_list(have), _ssh_checked(count)))


_WEAK_SSH = ('-cbc', 'hmac-sha1', 'hmac-md5', 'umac-64', 'diffie-hellman-group1-', 'diffie-hellman-group14-sha1',
             'diffie-hellman-group-exchange-sha1', 'arcfour', '3des')


def ev_mgmt_16(facts, s):
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    bad = []
    for key in ('ciphers', 'macs', 'kexalgorithms'):
        if key not in eff:
            raise Unknown('sshd.effective.%s' % key)
        bad.extend(a for a in _words(eff.get(key)) if any(w in a.lower() for w in _WEAK_SSH))
    return _result(bad, 'no weak cipher, MAC or key exchange offered', 'weak algorithms')


def ev_mgmt_17(facts, s):
    mgmt = str(s.get('hvsec_mgmt_plane_address') or '')
    if not mgmt:
        return ('not_applicable', 'hvsec_mgmt_plane_address not set')
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    listen = _words(eff.get('listenaddress'))
    bad = []
    for item in listen:
        host = item.rsplit(':', 1)[0] if item.count(':') == 1 or item.startswith('[') else item
        if host.strip('[]') != mgmt:
            bad.append(item)
    if not listen:
        bad.append('no ListenAddress (all addresses)')
    return _result(bad, 'sshd listens on %s' % _fmt_list(listen), 'sshd also listens on')


def ev_mgmt_18(facts, s):
    nft = _get(facts, 'nftables')
    if not nft.get('installed'):
        return ('fail', 'nftables not installed: no hvsec management firewall')
    tables = nft.get('tables')
    if tables is None:
        raise Unknown('nftables.tables')
    if 'inet hvsec_mgmt' in tables:
        return ('pass', 'nftables table inet hvsec_mgmt loaded')
    return ('fail', 'no nftables table inet hvsec_mgmt (tables: %s)' % (_fmt_list(tables) or 'none'))


def _mgmt_port(port, s):
    """Management ports: libvirt 16509/16514, OVSDB 6640, the console and migration ranges."""
    if port in (16509, 16514, 6640):
        return True
    for low, high, dlow, dhigh in (('console_port_min', 'console_port_max', 5900, 5999),
                                   ('migration_port_min', 'migration_port_max', 49152, 49215)):
        lo = _int(s.get('hvsec_mgmt_plane_' + low), dlow)
        hi = _int(s.get('hvsec_mgmt_plane_' + high), dhigh)
        if lo <= port <= hi:
            return True
    return False


def ev_mgmt_19(facts, s):
    listeners = _listeners(facts)
    bad = sorted(set('%s %s:%s (%s)' % (l.get('proto'), l.get('address'), l.get('port'), l.get('process') or '?')
                     for l in listeners
                     if str(l.get('address')) in ('0.0.0.0', '::', '::ffff:0.0.0.0', '*') and l.get('proto', 'tcp').startswith('tcp')
                     and _mgmt_port(_int(l.get('port'), 0), s)))
    return _result(bad, 'no management listener on a wildcard address', 'wildcard listener')


def ev_mgmt_20(facts, s):
    na = _na_without_libvirt(facts)
    if na:
        return na
    bad = []
    names = _driver_daemons(facts)
    for name, conf in _daemon_confs(facts, names):
        if _int(conf.get('audit_level', 1), 1) == 0:
            bad.append('%s audit_level=0' % name)
        if not _truthy(conf.get('audit_logging', 0)):
            bad.append('%s audit_logging=%s' % (name, conf.get('audit_logging', 0)))
    return _result(bad, '%s: audit_level on and audit_logging=1' % _fmt_list('%s.conf' % n for n in names),
                   'libvirt audit')


def ev_mgmt_21(facts, s):
    rules = _get(facts, 'audit').get('rules')
    if rules is None:
        if _unreadable(facts, 'audit.rules'):
            raise Unknown('audit.rules')
        return ('fail', 'no audit rules directory (/etc/audit/rules.d): auditd not installed')
    for rule in rules:
        words = str(rule).split()
        if '-w' in words:
            idx = words.index('-w')
            if idx + 1 < len(words) and words[idx + 1].rstrip('/') == '/etc/libvirt':
                return ('pass', 'audit rule: %s' % rule)
        if any(w in ('dir=/etc/libvirt', 'dir=/etc/libvirt/') for w in words):
            return ('pass', 'audit rule: %s' % rule)
    return ('fail', 'no audit watch on /etc/libvirt (%d rule(s) read)' % len(rules))


def ev_mgmt_22(facts, s):
    ts = _get(facts, 'time_sync')
    if ts.get('active') is None:
        raise Unknown('processes')
    if ts.get('active'):
        return ('pass', '%s running' % (ts.get('daemon') or 'time daemon'))
    return ('fail', 'no time synchronisation daemon running')


def ev_mgmt_23(facts, s):
    mgmt = str(s.get('hvsec_mgmt_plane_address') or '')
    if not mgmt:
        return ('not_applicable', 'hvsec_mgmt_plane_address not set')
    na = _na_without_libvirt(facts)
    if na:
        return na
    value = _libvirt_conf(facts, 'qemu').get('migration_address')
    if str(value) == mgmt:
        return ('pass', 'migration_address=%s' % value)
    return ('fail', 'migration_address=%s, management address %s' % (value, mgmt))


EVALUATORS = {}
for _name, _func in list(globals().items()):
    if _name.startswith('ev_') and callable(_func):
        _area, _num = _name[3:].rsplit('_', 1)
        EVALUATORS['HVS-%s-%s' % ({'iommu': 'IOMMU', 'vfio': 'VFIO', 'vsw': 'VSW', 'mgmt': 'MGMT'}[_area], _num)] = _func


# ------------------------------------------------------------------------------ driver
WAIVER_KEYS = ('id', 'reason', 'approved_by', 'ticket', 'expires')
WAIVER_STATES = ('active', 'expired', 'unneeded')


def _waiver_date(value, where):
    """``expires`` as a datetime.date: a YAML date or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime.datetime):
        raise SettingsError('%s.expires must be a date (YYYY-MM-DD) without a time, got %s' % (where, value))
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.datetime.strptime(value.strip(), '%Y-%m-%d').date()
        except ValueError:
            pass
    raise SettingsError('%s.expires must be a date (YYYY-MM-DD), got %r' % (where, value))


def _waiver_text(value, where, key):
    """An optional text field (approved_by, ticket): a non-empty string (a ticket may be a number)."""
    if key == 'ticket' and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise SettingsError('%s.%s must be a non-empty string, got %r' % (where, key, value))
    return value.strip()


def validate_waivers(waivers, known_ids=None):
    """Return a normalized {id: waiver} dict; raise SettingsError naming the item and the field.

    A waiver is ``{id, reason}`` with the optional ``approved_by``, ``ticket`` and ``expires``
    (a date, ``YYYY-MM-DD``; the waiver holds through that day). The normalized waiver has all
    four keys (``None`` for the missing ones; ``expires`` a ``datetime.date``).
    """
    known = set(known_ids if known_ids is not None else BY_ID)
    if waivers is None:
        return {}
    if not isinstance(waivers, list):
        raise SettingsError('waivers must be a list of {id, reason} dicts, got %s' % type(waivers).__name__)
    out = {}
    for index, item in enumerate(waivers):
        where = 'waivers[%d]' % index
        if not isinstance(item, dict):
            raise SettingsError('%s must be a dict with keys id and reason' % where)
        unknown_keys = sorted(str(k) for k in set(item) - set(WAIVER_KEYS))
        if unknown_keys:
            raise SettingsError('%s has unknown key(s) %s (allowed: %s)' % (
                where, ', '.join(unknown_keys), ', '.join(WAIVER_KEYS)))
        cid = item.get('id')
        reason = item.get('reason')
        if not isinstance(cid, str) or not cid:
            raise SettingsError('%s.id must be a control ID string' % where)
        if cid not in known:
            raise SettingsError('%s.id %s is not a known control ID' % (where, cid))
        if not isinstance(reason, str) or not reason.strip():
            raise SettingsError('%s (%s) needs a non-empty reason' % (where, cid))
        waiver = {'reason': reason.strip(), 'approved_by': None, 'ticket': None, 'expires': None}
        for key in ('approved_by', 'ticket'):
            if item.get(key) is not None:
                waiver[key] = _waiver_text(item[key], where, key)
        if item.get('expires') is not None:
            waiver['expires'] = _waiver_date(item['expires'], where)
        out[cid] = waiver
    return out


def _waiver_details(waiver):
    parts = []
    if waiver.get('approved_by'):
        parts.append('approved by %s' % waiver['approved_by'])
    if waiver.get('ticket'):
        parts.append('ticket %s' % waiver['ticket'])
    if waiver.get('expires'):
        parts.append('expires %s' % waiver['expires'].isoformat())
    return ' [%s]' % '; '.join(parts) if parts else ''


def waiver_in_force(waiver, today):
    """True while a normalized waiver applies on the date ``today`` (through its expiry day)."""
    expires = waiver.get('expires')
    return expires is None or today <= expires


def apply_waiver(waiver, status, evidence, today):
    """(status, evidence, waiver record) of a control with a waiver, on the date ``today``.

    - expired (``today`` after ``expires``): the waiver no longer applies; the control keeps its
      evaluated status (a failing control is ``fail`` again) and the evidence says when it expired;
    - unneeded: the control passes (or does not apply) without it; status unchanged, the evidence
      says so;
    - active: status ``waived``, the evidence keeps the reason and what the evaluation found.

    The record (``waiver`` in the result) has reason, approved_by, ticket, expires (ISO date or
    None) and ``state`` (active, expired or unneeded).
    """
    expires = waiver.get('expires')
    record = dict(waiver, expires=expires.isoformat() if expires else None)
    if not waiver_in_force(waiver, today):
        record['state'] = 'expired'
        evidence = '%s (waiver expired on %s: %s%s)' % (
            evidence, expires.isoformat(), waiver['reason'], _waiver_details(dict(waiver, expires=None)))
    elif status in ('pass', 'not_applicable'):
        record['state'] = 'unneeded'
        evidence = '%s (waiver unneeded: %s without it; waiver: %s%s)' % (
            evidence, status, waiver['reason'], _waiver_details(waiver))
    else:
        record['state'] = 'active'
        evidence = 'waived: %s%s (would be: %s - %s)' % (waiver['reason'], _waiver_details(waiver), status, evidence)
        status = 'waived'
    return status, evidence, record


def validate_settings(settings):
    """Check the variables the evaluators rely on; raise SettingsError naming the variable."""
    if not isinstance(settings, dict):
        raise SettingsError('settings must be a dict of hvsec_* variables')
    for kind, names in _TYPES.items():
        for name in names:
            if name in settings and not isinstance(settings[name], kind):
                raise SettingsError('%s must be a %s, got %s' % (name, kind.__name__, type(settings[name]).__name__))
    for name, choices in _CHOICES.items():
        if name in settings and settings[name] not in choices:
            raise SettingsError('%s must be one of %s, got %r' % (name, ', '.join(choices), settings[name]))
    for index, entry in enumerate(settings.get('hvsec_vfio_allowlist') or []):
        if not isinstance(entry, dict) or not (entry.get('address') or entry.get('id')):
            raise SettingsError('hvsec_vfio_allowlist[%d] must be a dict with address or id' % index)
    for var in ('hvsec_vfio_sriov', 'hvsec_vswitch_bridges', 'hvsec_vswitch_ovs_ports'):
        for index, entry in enumerate(settings.get(var) or []):
            if not isinstance(entry, dict):
                raise SettingsError('%s[%d] must be a dict' % (var, index))
    return settings


def merge_settings(*layers):
    """Overlay dicts left to right, keeping only hvsec_* keys."""
    out = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(key, str) and key.startswith('hvsec_'):
                out[key] = value
    return out


def validate_fail_on(fail_on):
    if fail_on not in FAIL_ON_CHOICES:
        raise SettingsError('fail_on must be one of %s, got %r' % (', '.join(FAIL_ON_CHOICES), fail_on))
    return fail_on


def _error_evidence(facts, exc):
    note = note_for(facts, exc.path)
    reason = exc.hint or _note_text(note) or 'not reported by the facts module'
    return 'could not read %s (%s)' % (exc.path, reason)


# Controls that read libvirt domain (or network) XML: an unparsable file there means the
# evaluation saw only part of the picture.
DOMAIN_CONTROLS = frozenset([
    'HVS-IOMMU-16', 'HVS-IOMMU-17', 'HVS-VFIO-06', 'HVS-VSW-10', 'HVS-VSW-11', 'HVS-VSW-12',
    'HVS-MGMT-05', 'HVS-MGMT-06', 'HVS-MGMT-07',
])


def _xml_errors(facts):
    libvirt = facts.get('libvirt') if isinstance(facts, dict) else None
    if not isinstance(libvirt, dict) or not libvirt.get('installed'):
        return {}
    errors = libvirt.get('domain_errors')
    return errors if isinstance(errors, dict) else {}


def evaluate_one(control, facts, settings):
    func = EVALUATORS[control['id']]
    try:
        status, evidence = func(facts, settings)
    except Unknown as exc:
        return 'error', _error_evidence(facts, exc)
    except Exception as exc:  # pylint: disable=broad-except
        return 'error', 'evaluation failed on malformed facts: %s: %s' % (type(exc).__name__, exc)
    errors = _xml_errors(facts) if control['id'] in DOMAIN_CONTROLS else {}
    if errors:
        unreadable = '; '.join('%s: %s' % (k, errors[k]) for k in sorted(errors))
        if status == 'fail':
            evidence = '%s (also unparsable: %s)' % (evidence, unreadable)
        else:
            status, evidence = 'error', 'could not parse libvirt XML (%s); of the rest: %s' % (unreadable, evidence)
    return status, ' '.join(str(evidence).split())


def evaluate(facts, settings=None, waivers=None, controls=None, today=None):
    """Evaluate every control; return a list of result dicts in catalog order.

    ``today`` (a datetime.date; the local date when None) decides which waivers have expired.
    A control with a waiver has a ``waiver`` record in its result (see :func:`apply_waiver`).
    Raises SettingsError (before evaluating anything) for a bad waiver or setting.
    """
    waived = validate_waivers(waivers)
    settings = validate_settings(merge_settings(FALLBACK_DEFAULTS, settings))
    if today is None:
        today = datetime.date.today()
    if not isinstance(facts, dict):
        facts = {}
    results = []
    for control in controls if controls is not None else CONTROLS:
        status, evidence = evaluate_one(control, facts, settings)
        record = None
        if control['id'] in waived:
            status, evidence, record = apply_waiver(waived[control['id']], status, evidence, today)
        result = {
            'id': control['id'],
            'title': control['title'],
            'area': control['area'],
            'severity': control['severity'],
            'status': status,
            'evidence': evidence,
            'reboot': control['reboot'],
        }
        if record is not None:
            result['waiver'] = record
        results.append(result)
    return results


def gate_failures(results, fail_on):
    """IDs of failed controls at or above severity ``fail_on`` (none -> always empty)."""
    validate_fail_on(fail_on)
    if fail_on == 'none':
        return []
    floor = severity_rank(fail_on)
    return [r['id'] for r in results if r['status'] == 'fail' and severity_rank(r['severity']) >= floor]
