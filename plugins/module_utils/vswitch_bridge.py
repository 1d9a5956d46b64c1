# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions for Linux bridge hardening (controls HVS-VSW-01..04).

Nothing here touches a host: the module ``bridge_security`` reads the state
(``ip -j``, ``bridge -j vlan show``, sysfs, procfs), hands it to these
functions and runs the commands they return.  Every function is unit tested
against real command output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import ipaddress
import json
import re
import string

from ansible_collections.hvsec.hypervisor.plugins.module_utils import netnames
from ansible_collections.hvsec.hypervisor.plugins.module_utils.netnames import VLAN_MAX, VLAN_MIN, sh_quote

_MAC_RE = re.compile(r'^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\Z')


# --------------------------------------------------------------------- parsing
def parse_json_list(text):
    """``ip -j``/``bridge -j`` print one JSON array; empty output means none."""
    text = (text or '').strip()
    if not text:
        return []
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError('expected a JSON array, got %s' % type(data).__name__)
    return data


def _malformed_is_value_error(parse):
    """Output of another shape than iproute2's raises ValueError (the modules report it), never a traceback."""
    def wrapper(text):
        try:
            return parse(text)
        except (AttributeError, KeyError, TypeError, IndexError) as exc:
            raise ValueError('unexpected iproute2 JSON structure (%s: %s)' % (type(exc).__name__, exc))
    wrapper.__doc__ = parse.__doc__
    wrapper.__name__ = parse.__name__
    return wrapper


@_malformed_is_value_error
def parse_links(text):
    """``ip -j -d link show`` -> {ifname: {kind, master, address}}."""
    links = {}
    for item in parse_json_list(text):
        name = item.get('ifname')
        if not name:
            continue
        info = item.get('linkinfo') or {}
        links[name] = {
            'kind': info.get('info_kind'),
            'slave_kind': info.get('info_slave_kind'),
            'master': item.get('master'),
            'address': item.get('address'),
        }
    return links


@_malformed_is_value_error
def parse_addresses(text):
    """``ip -j addr show`` -> {ifname: [{'local','prefixlen','family','scope'}]}."""
    out = {}
    for item in parse_json_list(text):
        name = item.get('ifname')
        if not name:
            continue
        addrs = []
        for a in item.get('addr_info') or []:
            if 'local' not in a:
                continue
            addrs.append({'local': a['local'], 'prefixlen': a.get('prefixlen'),
                          'family': a.get('family'), 'scope': a.get('scope')})
        out[name] = addrs
    return out


@_malformed_is_value_error
def parse_bridge_vlans(text):
    """``bridge -j vlan show`` -> {ifname: {vid: {'pvid': bool, 'untagged': bool}}}.

    iproute2 prints ``{"ifname": "veth0", "vlans": [{"vlan": 1, "flags": ["PVID",
    "Egress Untagged"]}]}``; ranges carry ``vlanEnd``.
    """
    out = {}
    for item in parse_json_list(text):
        name = item.get('ifname')
        if not name:
            continue
        vids = out.setdefault(name, {})
        for v in item.get('vlans') or []:
            start = int(v['vlan'])
            end = int(v.get('vlanEnd', start))
            if not VLAN_MIN <= start <= end <= VLAN_MAX:
                raise ValueError('%s: VLAN range %d-%d outside 1-4094' % (name, start, end))
            flags = v.get('flags') or []
            for vid in range(start, end + 1):
                vids[vid] = {'pvid': 'PVID' in flags, 'untagged': 'Egress Untagged' in flags}
    return out


def is_link_local(addr):
    try:
        return ipaddress.ip_address(addr).is_link_local
    except ValueError:
        return False


# ------------------------------------------------------------------ validation
def validate_bridges(bridges, links):
    """Return a list of error strings for hvsec_vswitch_bridges (empty = valid).

    ``links`` is the parsed link table of the host: every declared bridge and
    port must exist, bridges must be Linux bridges.
    """
    errors = []
    seen = set()
    for i, br in enumerate(bridges):
        where = 'hvsec_vswitch_bridges[%d]' % i
        name = br.get('name')
        message = netnames.ifname_message(name, '%s.name' % where)
        if message:
            errors.append(message)
            continue
        where = '%s (%s)' % (where, name)
        if name in seen:
            errors.append('%s: bridge declared twice' % where)
        seen.add(name)
        link = links.get(name)
        if link is None:
            errors.append('%s: bridge %s does not exist on this host' % (where, name))
        elif link.get('kind') != 'bridge':
            errors.append('%s: %s is a %s link, not a Linux bridge' % (where, name, link.get('kind') or 'non-bridge'))
        for j, port in enumerate(br.get('ports') or []):
            pw = '%s.ports[%d]' % (where, j)
            pname = port.get('name')
            message = netnames.ifname_message(pname, '%s.name' % pw)
            if message:
                errors.append(message)
                continue
            pw = '%s (%s)' % (pw, pname)
            plink = links.get(pname)
            if plink is None:
                errors.append('%s: port %s does not exist on this host' % (pw, pname))
            elif link is not None and plink.get('master') != name:
                errors.append('%s: %s is not a port of bridge %s (master: %s)'
                              % (pw, pname, name, plink.get('master')))
            vlans = port.get('vlans') or []
            errors.extend(netnames.vlan_errors(list(vlans), '%s.vlans' % pw))
            pvid = port.get('pvid')
            if pvid is not None:
                errors.extend(netnames.vlan_errors(pvid, '%s.pvid' % pw))
            if not vlans and pvid is None:
                errors.append('%s: declare at least one VLAN (vlans or pvid)' % pw)
            errors.extend(validate_port_address(port, pw))
            if port.get('ips') and len(port_vlan_plan(port)) > 1:
                errors.append('%s: IP anti-spoofing needs an access port (exactly one VLAN)' % pw)
    return errors


def validate_port_address(port, where):
    """Errors in a port's optional anti-spoofing declaration (mac, ips)."""
    errors = []
    mac = port.get('mac')
    if mac is not None and not _MAC_RE.match(str(mac)):
        errors.append('%s.mac: %r is not a MAC address' % (where, mac))
    for ip in port.get('ips') or []:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errors.append('%s.ips: %r is not an IP address' % (where, ip))
    if port.get('ips') and not mac:
        errors.append('%s: ips given without mac (anti-spoofing needs the port MAC)' % where)
    return errors


# ------------------------------------------------------------------ planning
def port_vlan_plan(port):
    """Wanted {vid: {'pvid','untagged'}} for a declared port.

    A port with exactly one VLAN and no pvid is an access port (that VLAN
    untagged as PVID); otherwise ``pvid`` (if any) is untagged and every other
    VLAN is tagged.
    """
    vlans = sorted(set(port.get('vlans') or []))
    pvid = port.get('pvid')
    if pvid is None and len(vlans) == 1:
        pvid = vlans[0]
    wanted = {}
    for v in vlans:
        wanted[v] = {'pvid': False, 'untagged': False}
    if pvid is not None:
        wanted[pvid] = {'pvid': True, 'untagged': True}
    return wanted


def _flags(f):
    out = []
    if f['pvid']:
        out.append('pvid')
    if f['untagged']:
        out.append('untagged')
    return out


def plan_bridge(spec, state):
    """Compute the changes for one declared bridge.

    ``state`` keys: vlan_filtering (bool), vlans ({ifname: {vid: flags}}),
    addresses ([{'local','prefixlen','family','scope'}] of the bridge),
    sysctl ({'autoconf','accept_ra','disable_ipv6','proxy_arp'} -> int|None),
    port_proxyarp ({port: {'proxyarp': int, 'proxyarp_wifi': int}}).
    ``spec['skip']`` is a set of control IDs not to remediate.

    Returns a list of actions ``{'control', 'msg', 'cmd'|'write'}`` in the order
    they must run: port VLANs are added before old ones are removed and before
    filtering is switched on, so declared traffic keeps flowing.
    """
    name = spec['name']
    skip = set(spec.get('skip') or ())
    guest_only = spec.get('guest_only', True)
    actions = []

    def act(control, msg, cmd=None, write=None):
        if control in skip:
            return
        a = {'control': control, 'msg': msg}
        if cmd is not None:
            a['cmd'] = cmd
        if write is not None:
            a['write'] = write
        actions.append(a)

    if spec.get('vlan_filtering', True):
        removals = []
        for port in spec.get('ports') or []:
            pname = port['name']
            have = state['vlans'].get(pname, {})
            want = port_vlan_plan(port)
            for vid in sorted(want):
                if have.get(vid) != want[vid]:
                    act('HVS-VSW-01', '%s: port %s VLAN %d %s' % (name, pname, vid, ' '.join(_flags(want[vid])) or 'tagged'),
                        cmd=['bridge', 'vlan', 'add', 'dev', pname, 'vid', str(vid)] + _flags(want[vid]))
            for vid in sorted(have):
                if vid not in want:
                    removals.append(('HVS-VSW-01', '%s: remove undeclared VLAN %d from port %s' % (name, vid, pname),
                                     ['bridge', 'vlan', 'del', 'dev', pname, 'vid', str(vid)]))
        for control, msg, cmd in removals:
            act(control, msg, cmd=cmd)
        if not state.get('vlan_filtering'):
            act('HVS-VSW-01', '%s: enable vlan_filtering' % name,
                cmd=['ip', 'link', 'set', 'dev', name, 'type', 'bridge', 'vlan_filtering', '1'])
        if guest_only:
            # The bridge device itself ("self") is the host's port on the bridge:
            # a guest-only bridge gives the host no VLAN, so no guest frame
            # reaches the host's IP stack.
            for vid in sorted(state['vlans'].get(name, {})):
                act('HVS-VSW-02', '%s: remove the host (self) from VLAN %d' % (name, vid),
                    cmd=['bridge', 'vlan', 'del', 'dev', name, 'vid', str(vid), 'self'])

    if guest_only:
        for a in state.get('addresses') or []:
            if is_link_local(a['local']):
                continue
            act('HVS-VSW-02', '%s: remove host address %s/%s' % (name, a['local'], a['prefixlen']),
                cmd=['ip', 'addr', 'del', '%s/%s' % (a['local'], a['prefixlen']), 'dev', name])
        sysctl = state.get('sysctl') or {}
        for key, want in (('autoconf', 0), ('accept_ra', 0), ('disable_ipv6', 1)):
            have = sysctl.get(key)
            if have is not None and have != want:
                act('HVS-VSW-03', '%s: net.ipv6.conf.%s.%s = %d' % (name, name, key, want),
                    write=('/proc/sys/net/ipv6/conf/%s/%s' % (name, key), str(want)))
    sysctl = state.get('sysctl') or {}
    if sysctl.get('proxy_arp') not in (None, 0):
        act('HVS-VSW-04', '%s: net.ipv4.conf.%s.proxy_arp = 0' % (name, name),
            write=('/proc/sys/net/ipv4/conf/%s/proxy_arp' % name, '0'))
    for pname in sorted(state.get('port_proxyarp') or {}):
        for key, have in sorted(state['port_proxyarp'][pname].items()):
            if have not in (None, 0):
                act('HVS-VSW-04', '%s: port %s brport %s = 0' % (name, pname, key),
                    write=('/sys/class/net/%s/brport/%s' % (pname, key), '0'))
    return actions


def ssh_server_address(environ):
    """The host address the controller's SSH connection reached (from ``SSH_CONNECTION``), or None."""
    parts = (environ.get('SSH_CONNECTION') or '').split()
    return parts[2] if len(parts) >= 4 else None


def parse_default_route_devs(text):
    """Interfaces the default routes leave through, from ``ip -j route show default`` (the next
    hops of a multipath route included)."""
    devs = set()
    for route in parse_json_list(text):
        if not isinstance(route, dict):
            continue
        for hop in [route] + [h for h in route.get('nexthops') or [] if isinstance(h, dict)]:
            if hop.get('dev'):
                devs.add(hop['dev'])
    return sorted(devs)


def lockout_risk(spec, state, ssh_server_ip=None, default_route_devs=(), where='hvsec_vswitch_bridges'):
    """Why removing the host addresses of a guest_only bridge would cut the controller off, or None;
    the message starts with ``where`` (the variable, or the entry of it, that declares the bridge)."""
    if not spec.get('guest_only', True) or 'HVS-VSW-02' in set(spec.get('skip') or ()):
        return None
    name = spec['name']
    locals_ = [a['local'] for a in state.get('addresses') or [] if not is_link_local(a['local'])]
    if ssh_server_ip and ssh_server_ip in locals_:
        return ('%s: bridge %s is declared guest_only but carries %s, the address this Ansible connection '
                'uses; set guest_only: false for it or move management elsewhere' % (where, name, ssh_server_ip))
    if locals_ and name in default_route_devs:
        return ('%s: bridge %s is declared guest_only but the default route leaves through it; '
                'removing its addresses would cut the host off. Set guest_only: false or move the route' % (where, name))
    return None


# ------------------------------------------------------------- anti-spoofing
def nft_table_name(bridge):
    return 'hvsec_' + re.sub(r'[^A-Za-z0-9_]', '_', bridge)


def nft_port_table_name(port):
    """netdev table holding the anti-spoofing rules of one (OVS) port."""
    return 'hvsec_port_' + re.sub(r'[^A-Za-z0-9_]', '_', port)


def spoof_rules(port, prefix):
    """nft rule lines that drop frames not matching the port's declared MAC/IPs.

    ``prefix`` is put before every rule (``iifname "p" `` in a bridge-family
    chain, empty in a netdev ingress chain bound to the port).
    """
    mac = port.get('mac')
    if not mac:
        return []
    mac = mac.lower()
    ips = [ipaddress.ip_address(i) for i in port.get('ips') or []]
    v4 = sorted(str(i) for i in ips if i.version == 4)
    v6 = sorted(str(i) for i in ips if i.version == 6)
    rules = ['ether saddr != %s drop' % mac]
    if ips:
        rules.append('ether type != { arp, ip, ip6 } drop')
        rules.append('ether type arp arp saddr ether != %s drop' % mac)
        if v4:
            rules.append('ether type arp arp saddr ip != { %s } drop' % ', '.join(v4))
            rules.append('ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept')
            rules.append('ip saddr != { %s } drop' % ', '.join(v4))
        else:
            rules.append('ether type arp drop')
            rules.append('ether type ip drop')
        if v6:
            rules.append('ip6 saddr != { fe80::/10, %s } drop' % ', '.join(v6))
        else:
            rules.append('ether type ip6 drop')
    return [prefix + r for r in rules]


def _wrap_table(family, table, chains, header):
    body = '\n'.join(chains)
    digest = hashlib.sha256((family + table + body).encode('utf-8')).hexdigest()[:16]
    text = ('# %s\n'
            'table %s %s {}\n'
            'delete table %s %s\n'
            'table %s %s {\n'
            '    comment "hvsec:%s"\n'
            '%s\n'
            '}\n') % (header, family, table, family, table, family, table, digest, body)
    return text, digest


def render_nft(bridge, ports):
    """nftables bridge-family ruleset enforcing each declared port's MAC/IPs.

    Returns (table_name, text, digest) or (table_name, None, None) when no port
    declares a MAC.  The text first creates then deletes the table so that
    ``nft -f`` replaces it atomically.
    """
    table = nft_table_name(bridge)
    rules = []
    for port in ports:
        rules.extend(spoof_rules(port, 'iifname "%s" ' % port['name']))
    if not rules:
        return table, None, None
    chain = ('    chain prerouting {\n'
             '        type filter hook prerouting priority -200; policy accept;\n'
             + ''.join('        %s\n' % r for r in rules) + '    }')
    text, digest = _wrap_table('bridge', table, [chain], 'Managed by hvsec.hypervisor.bridge_security '
                               '(anti-spoofing on bridge %s). Do not edit.' % bridge)
    return table, text, digest


def render_nft_port(port, owner='hvsec.hypervisor.ovs_security'):
    """netdev-family ingress table for one port (switch independent, used for OVS ports).

    Returns (table_name, text, digest) or (table_name, None, None) without a MAC.
    """
    table = nft_port_table_name(port['name'])
    rules = spoof_rules(port, '')
    if not rules:
        return table, None, None
    chain = ('    chain ingress {\n'
             '        type filter hook ingress device "%s" priority -500; policy accept;\n' % port['name']
             + ''.join('        %s\n' % r for r in rules) + '    }')
    text, digest = _wrap_table('netdev', table, [chain], 'Managed by %s (anti-spoofing on port %s). Do not edit.'
                               % (owner, port['name']))
    return table, text, digest


def nft_table_digest(list_output):
    """Digest from the comment of ``nft list table bridge X`` output, or None."""
    m = re.search(r'comment "hvsec:([0-9a-f]+)"', list_output or '')
    return m.group(1) if m else None


# ----------------------------------------------------------------- persistence
# the characters systemd-escape keeps as they are (ASCII only: str.isalnum() admits any letter)
_SYSTEMD_PLAIN = frozenset(string.ascii_letters + string.digits + ':_')


def systemd_escape_device(ifname):
    """Unit name of the device unit systemd creates for a network interface (``systemd-escape
    --path``: ``/`` becomes ``-``, every byte outside ASCII letters, digits, ``:``, ``_`` and a
    ``.`` that does not start the path becomes ``\\xNN``)."""
    path = 'sys/subsystem/net/devices/' + ifname
    out = []
    for i, ch in enumerate(path):
        if ch == '/':
            out.append('-')
        elif ch in _SYSTEMD_PLAIN or (ch == '.' and i > 0):
            out.append(ch)
        else:
            out.append(''.join('\\x%02x' % b for b in ch.encode('utf-8')))
    return ''.join(out) + '.device'


def render_boot_script(spec, nft_path=None):
    """A POSIX sh script that re-applies the wanted end state at boot.

    Run by a oneshot unit whenever the bridge or a declared port appears; every
    command is idempotent and failures of single commands are tolerated so a
    port that is not there yet does not stop the rest. Every name and path is
    shell-quoted (``netnames.sh_quote``), although the names were validated.
    """
    name = spec['name']
    q = sh_quote
    skip = set(spec.get('skip') or ())
    lines = ['#!/bin/sh',
             '# Managed by hvsec.hypervisor.bridge_security: guest bridge %s. Do not edit.' % ' '.join(name.split()),
             '[ -d %s ] || exit 0' % q('/sys/class/net/%s/bridge' % name)]
    if spec.get('vlan_filtering', True) and 'HVS-VSW-01' not in skip:
        for port in spec.get('ports') or []:
            pname = port['name']
            want = port_vlan_plan(port)
            lines.append('if [ -d %s ]; then' % q('/sys/class/net/%s/brport' % pname))
            for vid in sorted(want):
                lines.append('  bridge vlan add dev %s vid %d %s' % (q(pname), vid, ' '.join(_flags(want[vid]))))
            if 1 not in want:
                lines.append('  bridge vlan del dev %s vid 1 2>/dev/null' % q(pname))
            lines.append('fi')
        lines.append('ip link set dev %s type bridge vlan_filtering 1' % q(name))
        if spec.get('guest_only', True) and 'HVS-VSW-02' not in skip:
            lines.append('for v in $(bridge vlan show dev %s | awk \'NR>1 {print ($1 ~ /^[0-9]/) ? $1 : $2}\' '
                         '| grep -E "^[0-9]+$"); do bridge vlan del dev %s vid "$v" self; done' % (q(name), q(name)))
    if spec.get('guest_only', True):
        if 'HVS-VSW-02' not in skip:
            lines.append('ip -4 addr flush dev %s scope global' % q(name))
            lines.append('ip -6 addr flush dev %s scope global' % q(name))
        if 'HVS-VSW-03' not in skip:
            lines.append('if [ -d %s ]; then' % q('/proc/sys/net/ipv6/conf/%s' % name))
            for key, val in (('autoconf', 0), ('accept_ra', 0), ('disable_ipv6', 1)):
                lines.append('  echo %d > %s' % (val, q('/proc/sys/net/ipv6/conf/%s/%s' % (name, key))))
            lines.append('fi')
    if 'HVS-VSW-04' not in skip:
        lines.append('echo 0 > %s' % q('/proc/sys/net/ipv4/conf/%s/proxy_arp' % name))
    if nft_path:
        lines.append('nft -f %s' % q(nft_path))
    lines.append('exit 0')
    return '\n'.join(lines) + '\n'


def render_port_script(port_name, nft_path, owner='ovs_security'):
    """The boot script that loads one port's anti-spoofing table when the port exists."""
    return ('#!/bin/sh\n# Managed by hvsec.hypervisor.%s. Do not edit.\n[ -e %s ] || exit 0\nnft -f %s\n'
            % (owner, sh_quote('/sys/class/net/%s' % port_name), sh_quote(nft_path)))


def unit_wanted_by(spec):
    """Units whose .wants/ directory gets the re-apply unit: the device units of the
    bridge and its declared ports (it runs whenever one appears) and multi-user.target
    (a final run once the network configuration of the host is up)."""
    return ([systemd_escape_device(spec['name'])] + [systemd_escape_device(p['name']) for p in spec.get('ports') or []]
            + ['multi-user.target'])


def render_unit(spec, script_path, owner='bridge_security', what='guest bridge hardening on'):
    name = spec['name']
    return ('# Managed by hvsec.hypervisor.%s. Do not edit.\n'
            '[Unit]\n'
            'Description=hvsec: re-apply %s %s\n'
            'Wants=network-online.target\n'
            'After=network-online.target systemd-networkd.service networking.service NetworkManager.service '
            'openvswitch-switch.service libvirtd.service\n'
            '\n'
            '[Service]\n'
            'Type=oneshot\n'
            'ExecStart=/bin/sh %s\n'
            '\n'
            '[Install]\n'
            'WantedBy=%s\n') % (owner, what, name, script_path, ' '.join(unit_wanted_by(spec)))


def unit_name(bridge):
    return 'hvsec-vswitch-%s.service' % re.sub(r'[^A-Za-z0-9_.-]', '_', bridge)
