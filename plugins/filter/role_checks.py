# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' input checks, run by each role's ``tasks/validate.yml`` before anything changes.

Every filter takes the role's variables as ``lookup('hvsec.hypervisor.role_input', ROLE)`` returns
them (converted to the types of the role's argument spec, defaults filled in) and returns a list
of error strings naming the variable (empty when the input is valid), so a role collects every
problem into one failed assert.

``*_input_errors`` need nothing from the host and run before the facts are gathered;
``*_host_errors`` compare the input with ``ansible_facts.hvsec`` (a bridge, a PCI device or an
nwfilter that does not exist). The rules are the modules' own where the modules have them
(interface names and VLAN IDs: module_utils/netnames; OVS targets: module_utils/vswitch_ovs;
PCI addresses and ids: module_utils/pci;
MAC addresses: module_utils/sriov; nwfilter names: module_utils/nwfilter_xml; guest port
anti-spoofing: module_utils/vswitch_bridge), so a role refuses what its module would refuse later.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.six import string_types

from ansible_collections.hvsec.hypervisor.plugins.filter.input_checks import (
    sshd_option_errors, vswitch_port_errors, waived_ids, waiver_errors,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import SettingsError
from ansible_collections.hvsec.hypervisor.plugins.module_utils.netnames import ifname_errors, vlan_errors, vlan_problem
from ansible_collections.hvsec.hypervisor.plugins.module_utils.nwfilter_xml import valid_filter_name
from ansible_collections.hvsec.hypervisor.plugins.module_utils.pci import normalize_address, normalize_id
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sriov import normalize_mac
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_bridge import is_link_local, lockout_risk
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_ovs import POLICY_DEFAULT, target_errors


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value):
    """A variable as text, None and '' as ''."""
    return '' if value is None else '%s' % (value,)


def _strict(parse, text):
    """``parse(text)`` accepts the text as it is: surrounding whitespace (a trailing newline from
    a YAML block scalar) is refused, not stripped as the module parsers do."""
    if text != text.strip():
        return False
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _facts(facts):
    return facts if isinstance(facts, dict) else {}


def _part(facts, name):
    value = _facts(facts).get(name)
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------------- iommu
def iommu_input_errors(inp):
    """hvsec_waivers and the reboot and guest shutdown timeouts."""
    errors = list(waiver_errors(inp.get('hvsec_waivers')))
    for name in ('hvsec_iommu_reboot_timeout', 'hvsec_iommu_guest_shutdown_timeout'):
        if inp.get(name) is None or inp[name] <= 0:
            errors.append('%s must be greater than 0 seconds, got %s' % (name, inp.get(name)))
    return errors


# ------------------------------------------------------------------------------------ vfio
def _allow_key(address, device_id):
    """Duplicate detection key of an allow-list item (01:00.0 and 0000:01:00.0 are one device)."""
    if re.match(r'^[0-9a-fA-F]{2}:', address):
        address = '0000:' + address
    return address.lower() + '|' + device_id.lower()


def vfio_input_errors(inp):
    """Syntax of hvsec_vfio_allowlist, hvsec_vfio_sriov, hvsec_vfio_protect_interfaces and the waivers."""
    errors = []
    listed = []
    for index, item in enumerate(inp.get('hvsec_vfio_allowlist') or []):
        where = 'hvsec_vfio_allowlist[%d]' % index
        address = _text(item.get('address'))
        device_id = _text(item.get('id'))
        key = _allow_key(address, device_id)
        if key in listed:
            errors.append('%s: %s is listed twice' % (where, address or device_id))
        listed.append(key)
        if bool(address) == bool(device_id):
            errors.append('%s: give exactly one of address or id' % where)
        elif address and not _strict(normalize_address, address):
            errors.append('%s: malformed PCI address "%s" (expected DDDD:BB:SS.F, e.g. 0000:01:00.0)' % (where, address))
        elif device_id and not _strict(normalize_id, device_id):
            errors.append('%s: malformed vendor:device id "%s" (expected vvvv:dddd in hex, e.g. 8086:10d3)'
                          % (where, device_id))
    pfs = []
    for index, pf in enumerate(inp.get('hvsec_vfio_sriov') or []):
        where = 'hvsec_vfio_sriov[%d]' % index
        name = _text(pf.get('pf'))
        problems = ifname_errors(name, where + '.pf')
        if problems:
            errors.extend(problems)
        elif name in pfs:
            errors.append('%s.pf: %s is declared twice' % (where, name))
        pfs.append(name)
        num = pf.get('numvfs')
        if not _is_int(num) or num < 0:
            errors.append('%s.numvfs: must be an integer >= 0 (got %s)' % (where, num))
        seen = []
        macs = []
        for vindex, vf in enumerate(pf.get('vfs') or []):
            vwhere = '%s.vfs[%d]' % (where, vindex)
            index_ = vf.get('vf')
            if not _is_int(index_) or index_ < 0 or (_is_int(num) and index_ >= num):
                errors.append('%s.vf: %s is not a VF index 0..%d' % (
                    vwhere, 'missing' if index_ is None else index_, (num if _is_int(num) else 0) - 1))
            elif index_ in seen:
                errors.append('%s.vf: VF %s is declared twice' % (vwhere, index_))
            seen.append(index_)
            mac = _text(vf.get('mac'))
            if not _strict(normalize_mac, mac):
                errors.append('%s.mac: "%s" is not a unicast MAC address like 52:54:00:aa:bb:01' % (vwhere, mac))
            elif mac.lower() in macs:
                errors.append('%s.mac: %s is used twice' % (vwhere, mac))
            macs.append(mac.lower())
            errors.extend(vlan_errors(vf.get('vlan'), vwhere + '.vlan'))
            rate = vf.get('rate')
            if rate is not None and (not _is_int(rate) or rate < 0):
                errors.append('%s.rate: must be an integer >= 0 Mbit/s' % vwhere)
    for index, name in enumerate(inp.get('hvsec_vfio_protect_interfaces') or []):
        errors.extend(ifname_errors(_text(name), 'hvsec_vfio_protect_interfaces[%d]' % index))
    return errors + waiver_errors(inp.get('hvsec_waivers'))


def _device_id(device):
    def part(key):
        return _text(device.get(key)).lower().replace('0x', '')
    return '%s:%s' % (part('vendor'), part('device'))


def vfio_host_errors(inp, facts):
    """hvsec_vfio_sriov and hvsec_vfio_allowlist against the PCI devices of the host."""
    pci = _facts(facts).get('pci')
    devices = (pci or {}).get('devices') or [] if isinstance(pci, dict) else []
    errors = []
    if pci is None:
        errors.append('ansible_facts.hvsec.pci is unavailable: the PCI devices of this host could not be read')
    sriov = inp.get('hvsec_vfio_sriov') or []
    for index, pf in enumerate(sriov):
        where = 'hvsec_vfio_sriov[%d].pf %s' % (index, pf.get('pf'))
        found = [d for d in devices if pf.get('pf') in (d.get('net') or [])]
        if not found:
            errors.append('%s: no PCI network device with that interface name on this host' % where)
        elif found[0].get('sriov_totalvfs') is None:
            errors.append('%s (%s): the device is not SR-IOV capable' % (where, found[0].get('address')))
        elif pf.get('numvfs') > found[0]['sriov_totalvfs']:
            errors.append('%s: numvfs %s is above the device total sriov_totalvfs=%s'
                          % (where, pf.get('numvfs'), found[0]['sriov_totalvfs']))
    # Entries that may name VFs created by this run cannot be checked yet: the module checks them.
    if not sriov:
        addresses = set(d.get('address') for d in devices)
        ids = set(_device_id(d) for d in devices)
        for item in inp.get('hvsec_vfio_allowlist') or []:
            address = _text(item.get('address')).lower()
            if address:
                address = address if len(address) == 12 else '0000:' + address
                if address not in addresses:
                    errors.append('hvsec_vfio_allowlist: PCI device %s does not exist on this host' % address)
            elif _text(item.get('id')).lower() not in ids:
                errors.append('hvsec_vfio_allowlist: no PCI device matches vendor:device id %s on this host'
                              % _text(item.get('id')).lower())
    return errors


# --------------------------------------------------------------------------------- vswitch
def _port_vlans(port):
    return list(port.get('vlans') or []) + ([port['pvid']] if port.get('pvid') is not None else [])


def vswitch_input_errors(inp):
    """Bridges, OVS ports, managers, controllers, SSL files, the nwfilter name and the waivers."""
    errors = []
    seen_bridges = []
    for index, bridge in enumerate(inp.get('hvsec_vswitch_bridges') or []):
        name = bridge.get('name')
        where = 'hvsec_vswitch_bridges[%d] (%s)' % (index, name)
        problems = ifname_errors(_text(name), where)
        if problems:
            errors.extend(problems)
        elif name in seen_bridges:
            errors.append('%s: bridge declared twice' % where)
        seen_bridges.append(name)
        for pindex, port in enumerate(bridge.get('ports') or []):
            pwhere = '%s.ports[%d] (%s)' % (where, pindex, port.get('name'))
            errors.extend(ifname_errors(_text(port.get('name')), pwhere))
            vlans = _port_vlans(port)
            errors.extend(vlan_errors(vlans, pwhere))
            if not vlans:
                errors.append('%s: declare at least one VLAN (vlans or pvid)' % pwhere)
            elif port.get('ips') and len(set(vlans)) > 1:
                errors.append('%s: IP anti-spoofing needs an access port (exactly one VLAN)' % pwhere)
            errors.extend(vswitch_port_errors(port, pwhere))
    seen_ports = []
    for index, port in enumerate(inp.get('hvsec_vswitch_ovs_ports') or []):
        name = port.get('name')
        pwhere = 'hvsec_vswitch_ovs_ports[%d] (%s)' % (index, name)
        if name in seen_ports:
            errors.append('%s: port %s declared twice' % (pwhere, name))
        seen_ports.append(name)
        errors.extend(vswitch_port_errors(port, pwhere))
        if vlan_problem(port.get('tag')):
            errors.append('%s: VLAN tag %s is outside 1-4094' % (pwhere, port.get('tag')))
    # TLS or UNIX sockets, and loopback-only plain TCP under the policy: the OVS module's own rule
    allow_loopback = inp.get('hvsec_vswitch_ovs_allow_loopback_tcp', POLICY_DEFAULT)
    errors.extend(target_errors(inp.get('hvsec_vswitch_ovs_managers') or [], 'hvsec_vswitch_ovs_managers', allow_loopback))
    for bridge, targets in (inp.get('hvsec_vswitch_ovs_controllers') or {}).items():
        if isinstance(targets, (string_types, dict)) or not isinstance(targets, (list, tuple)):
            errors.append('hvsec_vswitch_ovs_controllers[%s]: must be a list of targets, got %s' % (bridge, targets))
            continue
        errors.extend(target_errors(targets, 'hvsec_vswitch_ovs_controllers[%s]' % bridge, allow_loopback))
    # the argument spec fills the keys not given with None: {} and {all None} both mean "no SSL files"
    ssl = inp.get('hvsec_vswitch_ovs_ssl') or {}
    if any(value is not None for value in ssl.values()):
        for key in ('private_key', 'certificate', 'ca_cert'):
            if not ssl.get(key):
                errors.append('hvsec_vswitch_ovs_ssl.%s: missing (private_key, certificate and ca_cert are all needed)' % key)
    nwfilter = _text(inp.get('hvsec_vswitch_nwfilter'))
    if inp.get('hvsec_vswitch_nwfilter_enforce') and not valid_filter_name(nwfilter):
        errors.append('hvsec_vswitch_nwfilter: "%s" is not a valid nwfilter name' % nwfilter)
    return errors + waiver_errors(inp.get('hvsec_waivers'))


# libvirt network forward modes in which libvirt gives the host an address on the network's own
# bridge: the guests' gateway (and DHCP/DNS server). "bridge" and the others use a host bridge or
# device that libvirt does not address.
_LIBVIRT_ADDRESSED_MODES = (None, 'nat', 'route', 'open')


def _libvirt_gateways(bridges, libvirt):
    """{bridge: (network, first non-link-local address)} for the bridges of libvirt networks whose
    host address is their guests' gateway."""
    addresses = dict((b.get('name'), [a for a in b.get('addresses') or [] if not is_link_local(a.split('/')[0])])
                     for b in bridges or [])
    out = {}
    for network in libvirt.get('networks') or []:
        bridge = network.get('bridge')
        if network.get('forward') in _LIBVIRT_ADDRESSED_MODES and addresses.get(bridge):
            out[bridge] = (network, addresses[bridge][0])
    return out


def _management_bridge_risk(bridge, bridges, net, where):
    """Why a guest_only bridge that carries the controller's SSH address, or that the default
    route leaves through, would cut the host off (vswitch_bridge.lockout_risk on the facts), or None."""
    found = [b for b in bridges if b.get('name') == bridge.get('name')]
    addresses = (found[0].get('addresses') if found else None) or []
    state = {'addresses': [{'local': str(a).split('/', maxsplit=1)[0]} for a in addresses]}
    return lockout_risk(bridge, state, net.get('ssh_server_address'), net.get('default_route_devs') or (), where=where)


def vswitch_host_errors(inp, facts):
    """Declared Linux bridges and their ports, OVS ports and bridges, and the nwfilter, against the host."""
    errors = []
    net = _part(facts, 'network')
    bridges = net.get('bridges')
    known = dict((b.get('name'), b.get('ports') or []) for b in bridges or [])
    gateways = _libvirt_gateways(bridges, _part(facts, 'libvirt'))
    try:
        remove_addresses = 'HVS-VSW-02' not in waived_ids(inp.get('hvsec_waivers'))
    except SettingsError:  # reported by the input check
        remove_addresses = True
    for index, bridge in enumerate(inp.get('hvsec_vswitch_bridges') or []):
        name = bridge.get('name')
        where = 'hvsec_vswitch_bridges[%d] (%s)' % (index, name)
        if bridges is not None and name not in known:
            errors.append('%s: Linux bridge %s does not exist on this host' % (where, name))
            continue
        if name in gateways and bridge.get('guest_only', True) and remove_addresses:
            network, address = gateways[name]
            errors.append("%s: bridge %s is the bridge of libvirt network %s (forward %s) and carries %s, its guests' "
                          "gateway; guest_only would remove it and cut the guests off. Set guest_only: false for it"
                          % (where, name, network['name'], network['forward'] or 'none', address))
        elif name in known and remove_addresses:
            # The bridge_security module's own lockout check, on the facts, before any role changes anything.
            risk = _management_bridge_risk(bridge, bridges, net, where)
            if risk:
                errors.append(risk)
        for pindex, port in enumerate(bridge.get('ports') or []):
            pname = port.get('name')
            if name in known and pname not in known[name]:
                errors.append('%s.ports[%d] (%s): %s is not a port of bridge %s' % (where, pindex, pname, pname, name))
    ovs = net.get('ovs')
    if ovs is not None:
        ovs_bridges = [b for b in (ovs.get('bridges') or []) if isinstance(b, dict)]
        ovs_ports = [p.get('name') for b in ovs_bridges for p in (b.get('ports') or [])]
        for index, port in enumerate(inp.get('hvsec_vswitch_ovs_ports') or []):
            if port.get('name') not in ovs_ports:
                errors.append('hvsec_vswitch_ovs_ports[%d] (%s): OVS port %s does not exist'
                              % (index, port.get('name'), port.get('name')))
        names = [b.get('name') for b in ovs_bridges]
        for bridge in inp.get('hvsec_vswitch_ovs_controllers') or {}:
            if bridge not in names:
                errors.append('hvsec_vswitch_ovs_controllers: OVS bridge %s does not exist' % bridge)
    libvirt = _part(facts, 'libvirt')
    nwfilters = libvirt.get('nwfilters')
    nwfilter = inp.get('hvsec_vswitch_nwfilter')
    if inp.get('hvsec_vswitch_nwfilter_enforce') and libvirt.get('installed') and nwfilters and nwfilter not in nwfilters:
        errors.append('hvsec_vswitch_nwfilter: nwfilter %s is not defined on this host' % nwfilter)
    return errors


# ------------------------------------------------------------------------------ mgmt_plane
_GROUP = re.compile(r'^[A-Za-z0-9_.][A-Za-z0-9_.-]*\Z')
_ALGORITHM = re.compile(r'^[A-Za-z0-9@._+-]+\Z')
_PORT_RANGE = re.compile(r'^[0-9]{1,5}(-[0-9]{1,5})?\Z')
# Extra sshd options may not set a keyword that one of the role's variables manages.
SSHD_RESERVED = {
    'listenaddress': 'hvsec_mgmt_plane_address',
    'permitrootlogin': 'hvsec_mgmt_plane_sshd_permit_root_login',
    'passwordauthentication': 'hvsec_mgmt_plane_sshd_password_auth',
    'kbdinteractiveauthentication': 'hvsec_mgmt_plane_sshd_password_auth',
    'challengeresponseauthentication': 'hvsec_mgmt_plane_sshd_password_auth',
    'allowgroups': 'hvsec_mgmt_plane_sshd_allow_groups',
    'ciphers': 'hvsec_mgmt_plane_sshd_ciphers',
    'macs': 'hvsec_mgmt_plane_sshd_macs',
    'kexalgorithms': 'hvsec_mgmt_plane_sshd_kex',
}


def mgmt_input_errors(inp):
    """The mgmt_plane variables that need nothing from the host."""
    errors = []
    if inp.get('hvsec_mgmt_plane_firewall') and not inp.get('hvsec_mgmt_plane_admin_cidrs'):
        errors.append('hvsec_mgmt_plane_firewall is true but hvsec_mgmt_plane_admin_cidrs is empty: list the administrator'
                      ' networks (e.g. ["192.0.2.0/24"]) or the firewall would lock everyone out')
    if inp.get('hvsec_mgmt_plane_libvirt_remote') == 'tls' and not inp.get('hvsec_mgmt_plane_libvirt_tls_allowed_dn_list'):
        errors.append('hvsec_mgmt_plane_libvirt_remote is tls but hvsec_mgmt_plane_libvirt_tls_allowed_dn_list is empty:'
                      ' list the client certificate DNs allowed to connect')
    # port ranges of qemu.conf, also firewalled
    for kind in ('console', 'migration'):
        low, high = ('hvsec_mgmt_plane_%s_port_%s' % (kind, end) for end in ('min', 'max'))
        for name in (low, high):
            if not 1 <= inp[name] <= 65535:
                errors.append('%s: port %s is outside 1-65535' % (name, inp[name]))
    for kind in ('console', 'migration'):
        if inp['hvsec_mgmt_plane_%s_port_min' % kind] > inp['hvsec_mgmt_plane_%s_port_max' % kind]:
            errors.append('hvsec_mgmt_plane_%s_port_min is greater than hvsec_mgmt_plane_%s_port_max' % (kind, kind))
    for index, port in enumerate(inp.get('hvsec_mgmt_plane_firewall_extra_tcp_ports') or []):
        text = _text(port)
        bounds = [int(b) for b in text.split('-')] if _PORT_RANGE.match(text) else []
        if not bounds or min(bounds) < 1 or max(bounds) > 65535 or bounds[0] > bounds[-1]:
            errors.append('hvsec_mgmt_plane_firewall_extra_tcp_ports[%d]: %s is not a TCP port 1-65535 or a range "low-high"'
                          % (index, text))
    # rollback timing of the firewall and of the sshd reload: a new connection must be able to
    # confirm the change before its rollback fires
    for change in ('firewall', 'sshd'):
        rollback_name = 'hvsec_mgmt_plane_%s_rollback_seconds' % change
        confirm_name = 'hvsec_mgmt_plane_%s_confirm_timeout' % change
        for name in (rollback_name, confirm_name):
            if inp[name] < 1:
                errors.append('%s must be greater than 0 seconds, got %s' % (name, inp[name]))
        if inp[confirm_name] >= inp[rollback_name]:
            errors.append('%s must be smaller than %s' % (confirm_name, rollback_name))
    # names: groups (sshd AllowGroups, libvirt socket group) and sshd algorithm lists
    bad_groups = [g for g in inp.get('hvsec_mgmt_plane_sshd_allow_groups') or [] if not _GROUP.match(_text(g))]
    if bad_groups:
        errors.append('hvsec_mgmt_plane_sshd_allow_groups holds an invalid group name: ' + ', '.join(bad_groups))
    group = _text(inp.get('hvsec_mgmt_plane_libvirt_unix_group'))
    if group and not _GROUP.match(group):
        errors.append('hvsec_mgmt_plane_libvirt_unix_group: "%s" is not a valid group name' % group)
    for name in ('hvsec_mgmt_plane_sshd_ciphers', 'hvsec_mgmt_plane_sshd_macs', 'hvsec_mgmt_plane_sshd_kex'):
        for algorithm in inp.get(name) or []:
            if not _ALGORITHM.match(_text(algorithm)):
                errors.append('%s: "%s" is not one algorithm name (one name per list item)' % (name, algorithm))
    # extra sshd options must not contradict the variables that manage the same keyword
    errors.extend(sshd_option_errors(inp.get('hvsec_mgmt_plane_sshd_extra_options') or {}, SSHD_RESERVED))
    return errors + waiver_errors(inp.get('hvsec_waivers'))


class FilterModule(object):
    def filters(self):
        return {
            'iommu_input_errors': iommu_input_errors,
            'vfio_input_errors': vfio_input_errors,
            'vfio_host_errors': vfio_host_errors,
            'vswitch_input_errors': vswitch_input_errors,
            'vswitch_host_errors': vswitch_host_errors,
            'mgmt_input_errors': mgmt_input_errors,
        }
