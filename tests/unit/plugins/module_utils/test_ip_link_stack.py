# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_link's route parsing and "what lies below this interface" walk (pci_passthrough's
protection of the management path's uplinks).

ROUTES_* are `ip -j route` / `ip -j -6 route` / `ip -j route get` output captured on Debian 12
(iproute2 6.1.0) in a private network namespace with two veth pairs (v0, v2), a multipath
default route and a single one; the link and topology fixtures are the ones of
tests/unit/plugins/modules (see test_pci_passthrough.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ip_link
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'modules', 'fixtures', 'vfio')

ROUTES_DEFAULT = ('[{"dst":"default","flags":[],"nexthops":[{"gateway":"192.0.2.1","dev":"v0","weight":1,"flags":[]},'
                  '{"gateway":"198.51.100.1","dev":"v2","weight":1,"flags":[]}]},{"dst":"default","gateway":"192.0.2.1",'
                  '"dev":"v0","protocol":"dhcp","prefsrc":"192.0.2.10","metric":100,"flags":[]}]')
ROUTES_DEFAULT6 = ('[{"dst":"default","gateway":"2001:db8::1","dev":"v0","metric":1024,"flags":[],"pref":"medium"}]')
ROUTE_GET = ('[{"dst":"203.0.113.7","gateway":"192.0.2.1","dev":"v0","prefsrc":"192.0.2.10","flags":[],"uid":0,'
             '"cache":[]}]')
ROUTE_GET_LOCAL = '[{"type":"local","dst":"127.0.0.1","dev":"lo","prefsrc":"127.0.0.1","flags":[],"uid":0,"cache":["local"]}]'


def _fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def test_route_devices_with_multipath():
    assert ip_link.parse_route_devs(ROUTES_DEFAULT) == (['v0', 'v2'], None)
    assert ip_link.parse_route_devs(ROUTES_DEFAULT6) == (['v0'], None)
    assert ip_link.parse_route_devs(ROUTE_GET) == (['v0'], None)
    assert ip_link.parse_route_devs(ROUTE_GET_LOCAL) == ([], None)      # the controller is this host
    assert ip_link.parse_route_devs('[]') == ([], None)
    assert ip_link.parse_route_devs('nonsense')[0] is None


def test_pci_parents_from_ip_link():
    parents, error = ip_link.pci_parents(_fixture('ip-link-ovs.json'))
    assert error is None
    assert parents['eth1'] == '0000:00:02.0' and 'br-ex' not in parents


def _stack(links_fixture, topology_fixture=None):
    links, error = ip_link.parse_ip_link(_fixture(links_fixture))
    assert error is None
    topology = ovs.parse_topology(_fixture(topology_fixture))[0] if topology_fixture else None
    return ip_link.lower_graph(links, topology)


def _chains(graph, start):
    return dict((node, ip_link.chain_text(path)) for node, path in ip_link.below(graph, start))


def test_ovs_internal_port_to_bridge_bond_and_patch():
    chains = _chains(_stack('ip-link-ovs.json', 'ovs-topology.json'), 'br-ex')
    assert chains[('dev', 'eth1')] == 'br-ex -> OVS bridge br-ex -> eth1'
    assert chains[('dev', 'eth3')] == 'br-ex -> OVS bridge br-ex -> OVS bond bond0 -> eth3'
    assert chains[('dev', 'vnet0')] == 'br-ex -> OVS bridge br-ex -> patch phy-br-ex -> OVS bridge br-int -> vnet0'
    assert ('pci', '0000:00:03.0') not in chains          # br-phy is another bridge
    assert ('dev', 'br-int') not in chains                 # an internal port is not below its bridge
    dpdk = _chains(_stack('ip-link-ovs.json', 'ovs-topology.json'), 'br-phy')
    assert dpdk[('pci', '0000:00:03.0')] == 'br-phy -> OVS bridge br-phy -> DPDK device 0000:00:03.0'


def test_ovs_without_topology_protects_every_datapath_port():
    chains = _chains(_stack('ip-link-ovs.json'), 'br-ex')
    datapath = 'br-ex -> Open vSwitch datapath ovs-system (bridge membership unknown) -> %s'
    for dev in ('eth1', 'eth3', 'eth4', 'vnet0'):
        assert chains[('dev', dev)] == datapath % dev
    assert ('dev', 'mgmt0') not in chains


def test_linux_bond_vlan_macvlan_bridge():
    graph = _stack('ip-link-stack.json')
    assert _chains(graph, 'bond0.100')[('dev', 'eth4')] == 'bond0.100 -> bond0 -> eth4'
    assert _chains(graph, 'mv0')[('dev', 'eth1')] == 'mv0 -> eth1'
    assert _chains(graph, 'br0')[('dev', 'eth5')] == 'br0 -> eth5'
    assert list(_chains(graph, 'eth2')) == [('dev', 'eth2')]


def test_veth_peers_and_cycles_end_the_walk():
    links = [{'ifname': 'v0', 'kind': 'veth', 'link': 'v1', 'master': 'br0'},
             {'ifname': 'v1', 'kind': 'veth', 'link': 'v0', 'master': None},
             {'ifname': 'br0', 'kind': 'bridge', 'link': None, 'master': None},
             {'ifname': 'a', 'kind': 'vlan', 'link': 'b', 'master': None},
             {'ifname': 'b', 'kind': 'vlan', 'link': 'a', 'master': None}]
    graph = ip_link.lower_graph(links)
    assert [n for n, _p in ip_link.below(graph, 'br0')] == [('dev', 'br0'), ('dev', 'v0')]
    assert [n for n, _p in ip_link.below(graph, 'a')] == [('dev', 'a'), ('dev', 'b')]
    assert ip_link.below(graph, 'nosuch') == [(('dev', 'nosuch'), [('dev', 'nosuch')])]


def test_topology_parse_of_real_output():
    topology, error = ovs.parse_topology(_fixture('ovs-topology.json'))
    assert error is None
    bond = [p for p in topology['br-ex'] if p['name'] == 'bond0'][0]
    assert [i['name'] for i in bond['interfaces']] == ['eth3', 'eth4']
    patch = [p for p in topology['br-int'] if p['name'] == 'int-br-ex'][0]['interfaces'][0]
    assert (patch['type'], patch['peer']) == ('patch', 'phy-br-ex')
    assert ovs.topology_args('ovs-vsctl')[-3:] == ['--columns=_uuid,name,type,options', 'list', 'Interface']
    assert ovs.parse_topology('{"data": [}')[0] is None
    assert json.loads(_fixture('ovs-topology.json').splitlines()[0])['headings'] == ['name', 'ports']
