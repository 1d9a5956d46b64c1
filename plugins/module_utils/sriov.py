# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SR-IOV virtual function helpers: validation, `ip -j -d link` parsing, change planning.

Pure functions only; the sriov_vf module does the reading and writing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import xml.etree.ElementTree as ET

_MAC = re.compile(r'^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$')
ZERO_MAC = '00:00:00:00:00:00'
CONFIG_HEADER = '# Managed by hvsec.hypervisor.sriov_vf: read by hvsec-sriov@.service at boot. Do not edit.'


def normalize_mac(value):
    """Lower-case unicast, non-zero MAC; ValueError otherwise."""
    text = ('%s' % (value,)).strip()
    if not _MAC.match(text):
        raise ValueError('malformed MAC address %r: expected six colon-separated hex octets' % (value,))
    text = text.lower()
    if text == ZERO_MAC:
        raise ValueError('MAC address %s is the zero address' % text)
    if int(text[:2], 16) & 1:
        raise ValueError('MAC address %s is a multicast address (first octet is odd)' % text)
    return text


def validate_vlan(value):
    try:
        vlan = int(value)
    except (TypeError, ValueError):
        raise ValueError('VLAN %r is not an integer' % (value,))
    if isinstance(value, bool) or vlan < 1 or vlan > 4094:
        raise ValueError('VLAN %r is outside 1-4094' % (value,))
    return vlan


def validate_request(numvfs, totalvfs, vfs):
    """Validate a wanted VF layout against the device. Returns a list of error strings."""
    errors = []
    if numvfs is not None:
        if numvfs < 0:
            errors.append('numvfs %d is negative' % numvfs)
        elif totalvfs is not None and numvfs > totalvfs:
            errors.append('numvfs %d is above the device total sriov_totalvfs=%d' % (numvfs, totalvfs))
    seen = set()
    macs = {}
    for item in vfs or []:
        index = item.get('vf')
        if index is None or index < 0:
            errors.append('vfs entry %r: vf must be a non-negative integer' % (item,))
            continue
        if index in seen:
            errors.append('vf %d is declared twice' % index)
        seen.add(index)
        if numvfs is not None and index >= numvfs:
            errors.append('vf %d does not exist with numvfs=%d (VF indexes are 0..numvfs-1)' % (index, numvfs))
        if item.get('mac') is not None:
            try:
                mac = normalize_mac(item['mac'])
                if mac in macs:
                    errors.append('vf %d and vf %d have the same MAC %s' % (macs[mac], index, mac))
                macs[mac] = index
            except ValueError as exc:
                errors.append('vf %d: %s' % (index, exc))
        if item.get('vlan') is not None:
            try:
                validate_vlan(item['vlan'])
            except ValueError as exc:
                errors.append('vf %d: %s' % (index, exc))
        rate = item.get('rate')
        if rate is not None and rate < 0:
            errors.append('vf %d: rate %d is negative' % (index, rate))
    return errors


def parse_vfinfo(ip_link_json):
    """VF state from parsed ``ip -j -d link show dev PF`` output: dict vf -> state.

    State: {mac, vlan (0 = none), qos, spoofchk, trust, rate (max_tx Mbps)}. Handles both
    the ``vlan_list`` form and the older flat ``vlan``/``qos`` keys, and ``address``/``mac``.
    """
    links = ip_link_json or []
    if isinstance(links, dict):
        links = [links]
    result = {}
    for link in links:
        for info in link.get('vfinfo_list') or []:
            if 'vf' not in info:
                continue
            vlan = 0
            qos = 0
            if info.get('vlan_list'):
                first = info['vlan_list'][0]
                vlan = int(first.get('vlan') or 0)
                qos = int(first.get('qos') or 0)
            elif info.get('vlan') is not None:
                vlan = int(info.get('vlan') or 0)
                qos = int(info.get('qos') or 0)
            rate = info.get('rate')
            if isinstance(rate, dict):
                max_tx = int(rate.get('max_tx') or 0)
            else:
                max_tx = int(info.get('tx_rate') or 0)
            mac = (info.get('address') or info.get('mac') or ZERO_MAC).lower()
            result[int(info['vf'])] = {
                'mac': mac,
                'vlan': vlan,
                'qos': qos,
                'spoofchk': _bool(info.get('spoofchk')),
                'trust': _bool(info.get('trust')),
                'rate': max_tx,
            }
    return result


def _bool(value):
    if isinstance(value, bool) or value is None:
        return value
    return str(value).lower() in ('1', 'on', 'true', 'yes')


def wanted_vf_settings(numvfs, vfs, secure_undeclared=True):
    """Wanted settings per VF index: declared ones in full, undeclared ones spoofchk on/trust off."""
    wanted = {}
    declared = dict((item['vf'], item) for item in vfs or [])
    for index in range(numvfs or 0):
        item = declared.get(index)
        if item is None:
            if secure_undeclared:
                wanted[index] = {'spoofchk': True, 'trust': False}
            continue
        entry = {}
        if item.get('mac') is not None:
            entry['mac'] = normalize_mac(item['mac'])
        if item.get('vlan') is not None:
            entry['vlan'] = validate_vlan(item['vlan'])
        for key in ('spoofchk', 'trust'):
            if item.get(key) is not None:
                entry[key] = bool(item[key])
        if item.get('rate') is not None:
            entry['rate'] = int(item['rate'])
        wanted[index] = entry
    return wanted


_KEY_ORDER = ('mac', 'vlan', 'spoofchk', 'trust', 'rate')


def plan_vf_changes(current, wanted):
    """Compare current (parse_vfinfo) with wanted (wanted_vf_settings).

    Returns (changes, commands): ``changes`` a list of dicts {vf, setting, before, after};
    ``commands`` a list of argument lists for ``ip link set PF`` (one per VF that changes).
    A VF absent from ``current`` (not created yet) counts as all-changed.
    """
    changes = []
    commands = []
    for index in sorted(wanted):
        want = wanted[index]
        have = current.get(index)
        args = []
        for key in _KEY_ORDER:
            if key not in want:
                continue
            before = None if have is None else have.get(key)
            after = want[key]
            if before == after:
                continue
            changes.append({'vf': index, 'setting': key, 'before': before, 'after': after})
            args.extend(vf_args(key, after))
        if args:
            commands.append(['vf', str(index)] + args)
    return changes, commands


def vf_args(key, value):
    if key == 'mac':
        return ['mac', value]
    if key == 'vlan':
        return ['vlan', str(value)]
    if key in ('spoofchk', 'trust'):
        return [key, 'on' if value else 'off']
    if key == 'rate':
        return ['max_tx_rate', str(value)]
    raise ValueError('unknown VF setting %s' % key)


def full_vf_args(settings):
    """All arguments for one VF's wanted settings, in a stable order (persistent config)."""
    args = []
    for key in _KEY_ORDER:
        if key in settings:
            args.extend(vf_args(key, settings[key]))
    return args


def render_config(pf, numvfs, wanted):
    """The boot-time config read by hvsec-sriov-apply: ``numvfs=N`` then one ``vf N ...`` line per VF."""
    lines = [CONFIG_HEADER, 'pf=%s' % pf, 'numvfs=%d' % numvfs]
    for index in sorted(wanted):
        args = full_vf_args(wanted[index])
        if args:
            lines.append('vf %d %s' % (index, ' '.join(args)))
    return '\n'.join(lines) + '\n'


def pci_address_from_xml_address(elem):
    """``<address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>`` -> 0000:01:00.1."""
    try:
        return '%04x:%02x:%02x.%x' % (int(elem.get('domain', '0'), 16), int(elem.get('bus'), 16),
                                      int(elem.get('slot'), 16), int(elem.get('function', '0'), 16))
    except (TypeError, ValueError):
        return None


def domain_hostdev_addresses(xml_text):
    """(domain name, [PCI addresses]) of the hostdev/interface type=hostdev sources in a domain XML."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None, []
    dom = root.find('domain') if root.tag == 'domstatus' else root
    if dom is None:
        return None, []
    name = dom.findtext('name')
    addrs = []
    devices = dom.find('devices')
    if devices is None:
        return name, addrs
    nodes = [h for h in devices.findall('hostdev') if h.get('type', 'pci') == 'pci']
    nodes += [i for i in devices.findall('interface') if i.get('type') == 'hostdev']
    for node in nodes:
        src = node.find('source')
        if src is None:
            continue
        addr_elem = src.find('address')
        if addr_elem is None:
            continue
        addr = pci_address_from_xml_address(addr_elem)
        if addr and addr not in addrs:
            addrs.append(addr)
    return name, addrs
