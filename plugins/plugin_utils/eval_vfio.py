# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluators of the vfio area: VFIO unsafe modes, passthrough allow-list, IOMMU groups, SR-IOV.

Each function judges one control and is named as the ``evaluator`` of its record in
``controls/vfio.yml``; ``EVALUATORS`` maps those names to the functions.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import arg_values
from ansible_collections.hvsec.hypervisor.plugins.module_utils.pci import kernel_bool
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.eval_common import (
    evaluator_table, Unknown, get_fact, opt_fact, truthy, to_int, fmt_list, outcome, libvirt_domains,
)


def _pci_devices(facts):
    return get_fact(facts, 'pci.devices')


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


def _unsafe_param(facts, module, param):
    vfio = get_fact(facts, 'vfio')
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
        elif truthy(value):
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
    args = opt_fact(facts, 'cmdline.args') or []
    for value in arg_values(args, '%s.%s' % (module, param)):
        if kernel_bool(value):
            bad.append('cmdline %s.%s' % (module, param) + ('' if value is None else '=%s' % value))
    if loaded == 'absent':
        state = 'module loaded, %s not built into this kernel' % param
    else:
        state = 'module loaded, %s=N' % param if loaded else 'module not loaded'
    return outcome(bad, '%s; no modprobe.d or cmdline option enables it' % state, 'unsafe mode enabled')


def _sriov_decl(settings):
    """pf ifname -> declaration dict."""
    out = {}
    for item in settings.get('hvsec_vfio_sriov') or []:
        if isinstance(item, dict) and item.get('pf'):
            out[str(item['pf'])] = item
    return out


def _all_vfs(facts):
    """[(pf ifname, vf dict)]; Unknown when links are unreadable but VFs exist."""
    links = opt_fact(facts, 'network.links')
    if links is None:
        devices = opt_fact(facts, 'pci.devices') or []
        if any(to_int(d.get('sriov_numvfs'), 0) for d in devices):
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
        if isinstance(vf, dict) and to_int(vf.get('vf')) == to_int(vfnum):
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
    return outcome(bad, ok_msg % len(vfs), fail_prefix)


def _zero_mac(mac):
    return not mac or all(c in '0:' for c in str(mac))


def vfio_unsafe_interrupts_refused(facts, s, control):
    """HVS-VFIO-01: VFIO unsafe interrupts refused (allow_unsafe_interrupts=0)."""
    return _unsafe_param(facts, 'vfio_iommu_type1', 'allow_unsafe_interrupts')


def vfio_noiommu_off(facts, s, control):
    """HVS-VFIO-02: VFIO no-IOMMU mode off (enable_unsafe_noiommu_mode=0)."""
    return _unsafe_param(facts, 'vfio', 'enable_unsafe_noiommu_mode')


def vfio_bound_devices_allowed(facts, s, control):
    """HVS-VFIO-03: Only allow-listed devices bound to vfio-pci."""
    bound = _vfio_bound(facts)
    bad = [d.get('address') for d in bound if not _allowed(s, d)]
    if not bound:
        return ('pass', 'no device bound to vfio-pci')
    return outcome(bad, '%d vfio-pci device(s), all allow-listed' % len(bound), 'bound to vfio-pci but not allow-listed')


def allowed_devices_bound(facts, s, control):
    """HVS-VFIO-04: Allow-listed devices bound to vfio-pci."""
    allow = s.get('hvsec_vfio_allowlist') or []
    if not allow:
        return ('not_applicable', 'hvsec_vfio_allowlist is empty')
    matching = [d for d in _pci_devices(facts) if _allowed(s, d)]
    if not matching:
        return ('not_applicable', 'no present device matches hvsec_vfio_allowlist')
    bad = ['%s (driver %s)' % (d.get('address'), d.get('driver')) for d in matching if d.get('driver') != 'vfio-pci']
    return outcome(bad, '%d allow-listed device(s) bound to vfio-pci' % len(matching), 'allow-listed but not on vfio-pci')


def iommu_groups_viable(facts, s, control):
    """HVS-VFIO-05: IOMMU groups of assigned devices are viable."""
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
    return outcome(sorted(set(bad)), 'group(s) %s viable' % fmt_list(groups), 'group not viable')


def domain_hostdevs_allowed(facts, s, control):
    """HVS-VFIO-06: libvirt domains reference only allow-listed host devices."""
    devices = dict((_norm_addr(d.get('address')), d) for d in (opt_fact(facts, 'pci.devices') or []))
    bad = []
    count = 0
    for dom in libvirt_domains(facts):
        for hd in dom.get('hostdevs') or []:
            if hd.get('type') != 'pci':
                continue
            count += 1
            addr = _norm_addr(hd.get('address'))
            device = devices.get(addr, {'address': addr})
            if not _allowed(s, device):
                bad.append('%s: %s' % (dom.get('name'), addr))
    return outcome(bad, '%d PCI hostdev(s), all allow-listed' % count, 'unapproved hostdev')


def passthrough_needs_isolation(facts, s, control):
    """HVS-VFIO-07: Passthrough only with an active IOMMU and interrupt remapping."""
    bound = _vfio_bound(facts)
    if not bound:
        return ('not_applicable', 'no device bound to vfio-pci')
    iommu = get_fact(facts, 'iommu')
    bad = []
    if not iommu.get('enabled'):
        bad.append('IOMMU not enabled')
    if iommu.get('interrupt_remapping') is None:
        raise Unknown('iommu.interrupt_remapping')
    if not iommu.get('interrupt_remapping'):
        bad.append('interrupt remapping off')
    return outcome(bad, '%d vfio-pci device(s); IOMMU and interrupt remapping active' % len(bound),
                   '%d vfio-pci device(s) but' % len(bound))


def sriov_vf_count_capped(facts, s, control):
    """HVS-VFIO-08: SR-IOV virtual function count within the declared cap."""
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
                cap = to_int(decl[ifname].get('numvfs'), 0)
        if int(numvfs) > cap:
            bad.append('%s (%s): %s VFs > cap %d' % (pf.get('address'), fmt_list(pf.get('net') or []), numvfs, cap))
    return outcome(bad, '%d physical function(s) within their caps' % len(pfs), 'too many VFs')


def sriov_vf_spoofchk(facts, s, control):
    """HVS-VFIO-09: SR-IOV VF spoof checking on."""
    return _vf_check(facts, lambda pf, vf: None if vf.get('spoofchk') is True else 'spoofchk %s' % vf.get('spoofchk'),
                     '%d VF(s), spoof checking on', 'spoof checking off')


def sriov_vf_trust_off(facts, s, control):
    """HVS-VFIO-10: SR-IOV VF trust off."""
    return _vf_check(facts, lambda pf, vf: None if vf.get('trust') is False else 'trust %s' % vf.get('trust'),
                     '%d VF(s), trust off', 'trusted VF')


def sriov_vf_mac_set(facts, s, control):
    """HVS-VFIO-11: SR-IOV VF MAC set by the administrator."""
    def test(pf, vf):
        mac = str(vf.get('mac') or '').lower()
        if _zero_mac(mac):
            return 'has no MAC set'
        want = _vf_decl(s, pf, vf.get('vf'))
        if want and want.get('mac') and str(want['mac']).lower() != mac:
            return 'MAC %s, declared %s' % (mac, want['mac'])
        return None
    return _vf_check(facts, test, '%d VF(s) with administrator-set MACs', 'VF MAC')


def sriov_vf_vlan_set(facts, s, control):
    """HVS-VFIO-12: SR-IOV VF VLAN set by the administrator."""
    def test(pf, vf):
        vlan = to_int(vf.get('vlan'), 0)
        want = _vf_decl(s, pf, vf.get('vf'))
        if want and want.get('vlan') is not None:
            if vlan != to_int(want['vlan']):
                return 'VLAN %d, declared %s' % (vlan, want['vlan'])
            return None
        if not vlan:
            return 'has no VLAN'
        return None
    return _vf_check(facts, test, '%d VF(s) with enforced VLANs', 'VF VLAN')


def sriov_vf_own_group(facts, s, control):
    """HVS-VFIO-13: Each SR-IOV VF in its own IOMMU group."""
    devices = _pci_devices(facts)
    vfs = [d for d in devices if d.get('physfn')]
    if not vfs:
        return ('not_applicable', 'no SR-IOV virtual functions')
    members = {}
    for d in devices:
        if d.get('iommu_group') is not None:
            members.setdefault(d['iommu_group'], []).append(d.get('address'))
    for group in opt_fact(facts, 'iommu.groups') or []:
        if group.get('id') is not None and group.get('devices') is not None:
            members[group['id']] = list(group['devices'])
    bad = []
    for vf in vfs:
        group = vf.get('iommu_group')
        if group is None:
            bad.append('%s has no IOMMU group' % vf.get('address'))
        elif len(members.get(group, [])) != 1:
            bad.append('%s shares group %s with %s' % (
                vf.get('address'), group, fmt_list(a for a in members[group] if a != vf.get('address'))))
    return outcome(bad, '%d VF(s), each in its own IOMMU group' % len(vfs), 'VF group shared')


# The evaluators of this area, by the names the catalog records give.
EVALUATORS = evaluator_table(
    vfio_unsafe_interrupts_refused, vfio_noiommu_off, vfio_bound_devices_allowed, allowed_devices_bound,
    iommu_groups_viable, domain_hostdevs_allowed, passthrough_needs_isolation, sriov_vf_count_capped,
    sriov_vf_spoofchk, sriov_vf_trust_off, sriov_vf_mac_set, sriov_vf_vlan_set, sriov_vf_own_group,
)
