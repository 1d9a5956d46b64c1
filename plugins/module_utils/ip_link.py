# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iproute2 JSON output (``ip -j -d link show``, ``ip -j addr show``, ``ip -j route``,
``bridge -j vlan show``) trimmed to what the controls read, and the "what lies below this
interface" walk pci_passthrough uses to protect the uplinks of the management interface.

Every parse function returns (data, error) and never raises on odd input.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json


def _load_list(text, what):
    try:
        data = json.loads(text or '')
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested input
        return None, 'invalid JSON from %s: %s' % (what, exc)
    if not isinstance(data, list):
        return None, 'unexpected JSON from %s: not a list' % what
    return data, None


def _int_or(value, default=None):
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    return default


def _bool_or_none(value):
    if isinstance(value, bool):
        return value
    if value in ('on', 'yes', 1):
        return True
    if value in ('off', 'no', 0):
        return False
    return None


def trim_vf(vf):
    """One vfinfo_list entry -> {vf, mac, vlan, qos, spoofchk, trust, rate, link_state}."""
    if not isinstance(vf, dict):
        return None
    vlan = _int_or(vf.get('vlan'), 0)
    qos = _int_or(vf.get('qos'), 0)
    vlan_list = vf.get('vlan_list')
    if isinstance(vlan_list, list) and vlan_list and isinstance(vlan_list[0], dict):
        vlan = _int_or(vlan_list[0].get('vlan'), vlan)
        qos = _int_or(vlan_list[0].get('qos'), qos)
    # iproute2 prints {"rate": {"max_tx": N, "min_tx": N}} (IFLA_VF_RATE) or "tx_rate" (old kernels)
    rate_obj = vf.get('rate') if isinstance(vf.get('rate'), dict) else {}
    rate = _int_or(rate_obj.get('max_tx'))
    if rate is None:
        rate = _int_or(vf.get('max_tx_rate'))
    if rate is None:
        rate = _int_or(vf.get('tx_rate'), 0)
    mac = vf.get('address', vf.get('mac'))
    return {
        'vf': _int_or(vf.get('vf')),
        'mac': mac if isinstance(mac, str) else None,
        'vlan': vlan,
        'qos': qos,
        'spoofchk': _bool_or_none(vf.get('spoofchk')),
        'trust': _bool_or_none(vf.get('trust')),
        'rate': rate,
        'link_state': vf.get('link_state') if isinstance(vf.get('link_state'), str) else None,
    }


def parse_ip_link(text):
    """``ip -j -d link show`` -> list of trimmed links."""
    data, error = _load_list(text, 'ip -j -d link')
    if data is None:
        return None, error
    links = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get('ifname'), str):
            continue
        linkinfo = item.get('linkinfo') if isinstance(item.get('linkinfo'), dict) else {}
        info_data = linkinfo.get('info_data') if isinstance(linkinfo.get('info_data'), dict) else {}
        kind = linkinfo.get('info_kind') if isinstance(linkinfo.get('info_kind'), str) else None
        vfs = []
        if isinstance(item.get('vfinfo_list'), list):
            vfs = [v for v in (trim_vf(x) for x in item['vfinfo_list']) if v is not None]
        links.append({
            'ifname': item['ifname'],
            'kind': kind,
            'slave_kind': linkinfo.get('info_slave_kind') if isinstance(linkinfo.get('info_slave_kind'), str) else None,
            'master': item.get('master') if isinstance(item.get('master'), str) else None,
            'link': item.get('link') if isinstance(item.get('link'), str) else None,
            'address': item.get('address') if isinstance(item.get('address'), str) else None,
            'operstate': item.get('operstate') if isinstance(item.get('operstate'), str) else None,
            'macvtap_mode': info_data.get('mode') if kind in ('macvtap', 'macvlan') else None,
            'vlan_filtering': _bool_or_none(info_data.get('vlan_filtering')) if kind == 'bridge' else None,
            'vfs': vfs,
        })
    return links, None


def parse_ip_addr(text):
    """``ip -j addr show`` -> {ifname: ["addr/prefix", ...]}."""
    data, error = _load_list(text, 'ip -j addr')
    if data is None:
        return None, error
    result = {}
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get('ifname'), str):
            continue
        addrs = []
        infos = item.get('addr_info')
        for info in infos if isinstance(infos, list) else []:
            if isinstance(info, dict) and isinstance(info.get('local'), str):
                prefix = info.get('prefixlen')
                addrs.append('%s/%s' % (info['local'], prefix) if isinstance(prefix, int) else info['local'])
        result[item['ifname']] = addrs
    return result, None


def is_link_local(address):
    addr = address.split('/', 1)[0].lower()
    return addr.startswith('fe80:') or addr.startswith('169.254.')


def _vlan_entries(vlans):
    out = []
    for v in vlans if isinstance(vlans, list) else []:
        if not isinstance(v, dict) or _int_or(v.get('vlan')) is None:
            continue
        flags = v.get('flags') if isinstance(v.get('flags'), list) else []
        entry = {'vlan': v['vlan'], 'pvid': 'PVID' in flags, 'untagged': 'Egress Untagged' in flags}
        if _int_or(v.get('vlanEnd')) is not None:
            entry['vlan_end'] = v['vlanEnd']
        out.append(entry)
    return out


def parse_bridge_vlan(text):
    """``bridge -j vlan show`` -> {port: [{vlan, pvid, untagged}]}.

    Handles both the current layout ([{"ifname": p, "vlans": [...]}]) and the
    old one ([{p: [...]}] / {p: [...]}) of iproute2 before 5.x.
    """
    try:
        data = json.loads(text or '')
    except (ValueError, RecursionError) as exc:
        return None, 'invalid JSON from bridge -j vlan: %s' % exc
    result = {}
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return None, 'unexpected JSON from bridge -j vlan'
    for item in data:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get('ifname'), str):
            result.setdefault(item['ifname'], []).extend(_vlan_entries(item.get('vlans')))
        else:
            for port, vlans in item.items():
                if isinstance(port, str) and isinstance(vlans, list):
                    result.setdefault(port, []).extend(_vlan_entries(vlans))
    return result, None


def pci_parents(text):
    """{ifname: PCI address} from ``ip -j -d link`` (its ``parentbus``/``parentdev``). Returns
    (dict, error)."""
    data, error = _load_list(text, 'ip -j -d link')
    if data is None:
        return None, error
    return dict((item['ifname'], item['parentdev'].lower()) for item in data
                if isinstance(item, dict) and isinstance(item.get('ifname'), str)
                and item.get('parentbus') == 'pci' and isinstance(item.get('parentdev'), str)), None


def parse_route_devs(text):
    """Devices of the routes in ``ip -j route show default`` / ``ip -j route get ADDR`` output,
    every next hop of a multipath route included, in order. Returns (devs, error)."""
    data, error = _load_list(text, 'ip -j route')
    if data is None:
        return None, error
    devs = []
    for route in data:
        if not isinstance(route, dict):
            continue
        hops = route.get('nexthops') if isinstance(route.get('nexthops'), list) else [route]
        for hop in hops:
            dev = hop.get('dev') if isinstance(hop, dict) else None
            if isinstance(dev, str) and dev != 'lo' and dev not in devs:
                devs.append(dev)
    return devs, None


# ---------------------------------------------------------------------- what lies below an interface
OVS_DATAPATH = 'ovs-system'
# iproute2's "link" of these kinds is a peer or an endpoint, not a device they send through
_LINK_NOT_LOWER = ('veth', 'vxcan', 'netkit')


def _node(kind, name):
    return (kind, name)


def node_label(node):
    """How a node of the walk is named in a message."""
    kind, name = node
    return {
        'dev': '%s',
        'ovs-bridge': 'OVS bridge %s',
        'ovs-bond': 'OVS bond %s',
        'ovs-patch': 'patch %s',
        'pci': 'DPDK device %s',
        'ovs-datapath': 'Open vSwitch datapath %s (bridge membership unknown)',
    }[kind] % (name,)


def lower_graph(links, ovs_bridges=None):
    """{node: [lower nodes]}: the devices each interface sends its traffic through.

    ``links`` is ``parse_ip_link`` output. A bridge, bond or team master sends through its ports
    (their ``master``); a VLAN, macvlan, macvtap or ipvlan device through its ``link``. An Open
    vSwitch internal port (kind ``openvswitch``) sends through its OVS bridge, and the bridge
    through its ports: system interfaces, the members of a bond, the bridge on the other end of
    a patch port, the PCI device of a DPDK port (``ovs_bridges``: ``ovs.parse_topology``). When
    ``ovs_bridges`` is None (no ovs-vsctl, or its database unreadable) an OVS internal port sends
    through every port of the kernel datapath (``master ovs-system``): more is protected, not less.
    Nodes are ``(kind, name)`` tuples, kind ``dev`` for a network device.
    """
    graph = {}

    def edge(upper, lower):
        graph.setdefault(upper, [])
        if lower not in graph[upper] and lower != upper:
            graph[upper].append(lower)

    names = set(link['ifname'] for link in links or [])
    ovs_ports = []
    for link in links or []:
        dev = _node('dev', link['ifname'])
        master = link.get('master')
        if master == OVS_DATAPATH or link.get('slave_kind') == 'openvswitch':
            ovs_ports.append(dev)
        elif master:
            edge(_node('dev', master), dev)
        lower = link.get('link')
        if lower and lower in names and link.get('kind') not in _LINK_NOT_LOWER:
            edge(dev, _node('dev', lower))
    if ovs_bridges is None:
        for link in links or []:
            if link.get('kind') == 'openvswitch' and link['ifname'] != OVS_DATAPATH:
                for port in ovs_ports:
                    edge(_node('dev', link['ifname']), _node('ovs-datapath', OVS_DATAPATH))
                    edge(_node('ovs-datapath', OVS_DATAPATH), port)
        return graph
    iface_bridge = {}
    for bridge, ports in ovs_bridges.items():
        for port in ports:
            for iface in port['interfaces']:
                iface_bridge[iface['name']] = bridge
    for bridge, ports in sorted(ovs_bridges.items()):
        node = _node('ovs-bridge', bridge)
        for port in ports:
            ifaces = port['interfaces']
            if len(ifaces) > 1:
                upper = _node('ovs-bond', port['name'])
                edge(node, upper)
            else:
                upper = node
            for iface in ifaces:
                kind = iface.get('type') or ''
                if kind == 'internal':
                    # the internal port sends through its bridge (a sibling internal port is not below it)
                    edge(_node('dev', iface['name']), node)
                elif kind in ('', 'system', 'tap'):
                    edge(upper, _node('dev', iface['name']))
                elif kind == 'patch' and iface.get('peer') in iface_bridge:
                    patch = _node('ovs-patch', iface['name'])
                    edge(upper, patch)
                    edge(patch, _node('ovs-bridge', iface_bridge[iface['peer']]))
                elif kind.startswith('dpdk') and iface.get('devargs'):
                    edge(upper, _node('pci', iface['devargs'].lower()))
    return graph


def below(graph, start):
    """Every node reachable from interface ``start`` with the first (shortest) path to it:
    [(node, [nodes from start to it])], ``start`` itself first. Breadth first, so the chain a
    message names is the shortest one, and each node is listed once (cycles end there)."""
    first = _node('dev', start)
    paths = {first: [first]}
    order = [first]
    queue = [first]
    while queue:
        current = queue.pop(0)
        for lower in graph.get(current, []):
            if lower not in paths:
                paths[lower] = paths[current] + [lower]
                order.append(lower)
                queue.append(lower)
    return [(node, paths[node]) for node in order]


def chain_text(path):
    """``br-ex -> OVS bridge br-ex -> eth1``."""
    return ' -> '.join(node_label(node) for node in path)
