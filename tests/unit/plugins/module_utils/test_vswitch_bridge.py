# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures are JSON in the format iproute2 6.1 (Debian 12) prints for `ip -j -d link show`,
`ip -j addr show` and `bridge -j vlan show`, for the lab's state before (`*_insecure`) and
after (`*_hardened`) the vswitch role. They were written by hand (the build machine's kernel
has no bridge support and the lab was too slow to capture them in time): replace them with
captures from the lab when possible."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge as vb

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'vswitch')

SPEC = {'name': 'br-guest', 'guest_only': True, 'vlan_filtering': True, 'ports': [
    {'name': 'vg1', 'vlans': [100], 'mac': '02:00:00:00:50:11', 'ips': ['192.168.50.11']},
    {'name': 'vg2', 'vlans': [100], 'mac': '02:00:00:00:50:12', 'ips': ['192.168.50.12']},
    {'name': 'vg3', 'vlans': [200], 'mac': '02:00:00:00:50:13', 'ips': ['192.168.50.13']},
]}


def _read(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def _state(kind, vlan_filtering, sysctl, proxyarp=0):
    addrs = vb.parse_addresses(_read('ip_addr_%s.json' % kind))
    return {'vlan_filtering': vlan_filtering,
            'vlans': vb.parse_bridge_vlans(_read('bridge_vlan_%s.json' % kind)),
            'addresses': addrs.get('br-guest', []),
            'sysctl': sysctl,
            'port_proxyarp': dict((p, {'proxyarp': proxyarp, 'proxyarp_wifi': 0}) for p in ('vg1', 'vg2', 'vg3'))}


INSECURE_SYSCTL = {'autoconf': 1, 'accept_ra': 1, 'disable_ipv6': 0, 'proxy_arp': 1}
HARDENED_SYSCTL = {'autoconf': 0, 'accept_ra': 0, 'disable_ipv6': 1, 'proxy_arp': 0}


def test_parse_links_real_output():
    links = vb.parse_links(_read('ip_link_insecure.json'))
    assert links['br-guest']['kind'] == 'bridge'
    assert links['vg1']['master'] == 'br-guest'
    assert links['vg1']['kind'] == 'veth'
    assert links['vo1']['master'] == 'ovs-system'


def test_parse_vlans_real_output():
    vlans = vb.parse_bridge_vlans(_read('bridge_vlan_insecure.json'))
    assert vlans['vg1'] == {1: {'pvid': True, 'untagged': True}}
    assert vlans['br-guest'] == {1: {'pvid': True, 'untagged': True}}
    hard = vb.parse_bridge_vlans(_read('bridge_vlan_hardened.json'))
    assert hard['vg3'] == {200: {'pvid': True, 'untagged': True}}
    assert hard.get('br-guest', {}) == {}


def test_parse_vlan_ranges():
    text = '[{"ifname":"up0","vlans":[{"vlan":10,"vlanEnd":12},{"vlan":20,"flags":["PVID","Egress Untagged"]}]}]'
    assert vb.parse_bridge_vlans(text) == {'up0': {10: {'pvid': False, 'untagged': False},
                                                   11: {'pvid': False, 'untagged': False},
                                                   12: {'pvid': False, 'untagged': False},
                                                   20: {'pvid': True, 'untagged': True}}}


def test_parse_addresses_real_output():
    addrs = vb.parse_addresses(_read('ip_addr_insecure.json'))
    assert '192.168.50.1' in [a['local'] for a in addrs['br-guest']]


def test_plan_on_insecure_state():
    actions = vb.plan_bridge(dict(SPEC), _state('insecure', False, INSECURE_SYSCTL, proxyarp=1))
    by = {}
    for a in actions:
        by.setdefault(a['control'], []).append(a)
    assert set(by) == {'HVS-VSW-01', 'HVS-VSW-02', 'HVS-VSW-03', 'HVS-VSW-04'}
    cmds = [' '.join(a['cmd']) for a in actions if 'cmd' in a]
    # Declared VLANs are added before VLAN 1 is removed and before filtering goes on.
    add = cmds.index('bridge vlan add dev vg1 vid 100 pvid untagged')
    dele = cmds.index('bridge vlan del dev vg1 vid 1')
    on = cmds.index('ip link set dev br-guest type bridge vlan_filtering 1')
    assert add < dele < on
    assert 'bridge vlan del dev br-guest vid 1 self' in cmds
    assert 'ip addr del 192.168.50.1/24 dev br-guest' in cmds
    assert not [c for c in cmds if 'fe80' in c]            # link-local is not a host address
    writes = dict(a['write'] for a in actions if 'write' in a)
    assert writes['/proc/sys/net/ipv6/conf/br-guest/disable_ipv6'] == '1'
    assert writes['/proc/sys/net/ipv4/conf/br-guest/proxy_arp'] == '0'
    assert writes['/sys/class/net/vg1/brport/proxyarp'] == '0'


def test_plan_on_hardened_state_is_empty():
    assert vb.plan_bridge(dict(SPEC), _state('hardened', True, HARDENED_SYSCTL)) == []


def test_plan_not_guest_only_keeps_host_side():
    spec = dict(SPEC, guest_only=False)
    actions = vb.plan_bridge(spec, _state('insecure', False, INSECURE_SYSCTL))
    controls = set(a['control'] for a in actions)
    assert 'HVS-VSW-02' not in controls and 'HVS-VSW-03' not in controls
    assert 'HVS-VSW-04' in controls and 'HVS-VSW-01' in controls


def test_plan_skip_waived_control():
    spec = dict(SPEC, skip={'HVS-VSW-01'})
    actions = vb.plan_bridge(spec, _state('insecure', False, INSECURE_SYSCTL))
    assert 'HVS-VSW-01' not in set(a['control'] for a in actions)


def test_port_vlan_semantics():
    assert vb.port_vlan_plan({'vlans': [100]}) == {100: {'pvid': True, 'untagged': True}}
    assert vb.port_vlan_plan({'vlans': [100, 200]}) == {100: {'pvid': False, 'untagged': False},
                                                        200: {'pvid': False, 'untagged': False}}
    assert vb.port_vlan_plan({'vlans': [200], 'pvid': 100}) == {100: {'pvid': True, 'untagged': True},
                                                                200: {'pvid': False, 'untagged': False}}


@pytest.mark.parametrize('bridges, needle', [
    ([{'name': 'br-nope', 'ports': []}], 'bridge br-nope does not exist'),
    ([{'name': 'vg1', 'ports': []}], 'not a Linux bridge'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vgX', 'vlans': [100]}]}], 'port vgX does not exist'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vo1', 'vlans': [100]}]}], 'is not a port of bridge br-guest'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [4095]}]}], 'VLAN 4095 is outside 1-4094'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [0]}]}], 'VLAN 0 is outside 1-4094'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [10], 'pvid': 5000}]}], '.pvid: VLAN 5000'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': []}]}], 'declare at least one VLAN'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [1], 'mac': 'zz'}]}], 'is not a MAC address'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [1], 'ips': ['10.0.0.1']}]}], 'ips given without mac'),
    ([{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [1, 2], 'mac': '02:00:00:00:00:01',
                                      'ips': ['10.0.0.1']}]}], 'needs an access port'),
])
def test_validation_errors_name_the_variable(bridges, needle):
    links = vb.parse_links(_read('ip_link_insecure.json'))
    errors = vb.validate_bridges(bridges, links)
    assert any(needle in e for e in errors), errors
    assert all(e.startswith('hvsec_vswitch_bridges[') for e in errors)


def test_lab_spec_is_valid():
    assert vb.validate_bridges([SPEC], vb.parse_links(_read('ip_link_insecure.json'))) == []


def test_lockout_guard():
    st = _state('insecure', False, INSECURE_SYSCTL)
    assert 'Ansible connection' in vb.lockout_risk(SPEC, st, ssh_server_ip='192.168.50.1')
    assert 'default route' in vb.lockout_risk(SPEC, st, default_route_devs={'br-guest'})
    assert vb.lockout_risk(SPEC, st, ssh_server_ip='10.0.2.15', default_route_devs={'mgmt0'}) is None
    assert vb.lockout_risk(dict(SPEC, guest_only=False), st, ssh_server_ip='192.168.50.1') is None


def test_nft_ruleset():
    table, text, digest = vb.render_nft('br-guest', SPEC['ports'])
    assert table == 'hvsec_br_guest'
    assert 'table bridge hvsec_br_guest {}\ndelete table bridge hvsec_br_guest\n' in text
    assert 'iifname "vg1" ether saddr != 02:00:00:00:50:11 drop' in text
    assert 'iifname "vg1" ip saddr != { 192.168.50.11 } drop' in text
    assert 'iifname "vg1" ether type arp arp saddr ip != { 192.168.50.11 } drop' in text
    assert 'iifname "vg1" ether type ip6 drop' in text
    assert vb.nft_table_digest('table bridge x {\n\tcomment "hvsec:%s"\n}' % digest) == digest
    # Same input, same digest (idempotence); another MAC, another digest.
    assert vb.render_nft('br-guest', SPEC['ports'])[2] == digest
    other = [dict(SPEC['ports'][0], mac='02:00:00:00:50:99')] + SPEC['ports'][1:]
    assert vb.render_nft('br-guest', other)[2] != digest
    assert vb.render_nft('br-guest', [{'name': 'vg1', 'vlans': [1]}]) == ('hvsec_br_guest', None, None)


def test_nft_port_table_for_ovs():
    table, text, digest = vb.render_nft_port({'name': 'vo1', 'mac': '02:00:00:00:60:11', 'ips': ['192.168.60.11', '2001:db8::11']})
    assert table == 'hvsec_port_vo1'
    assert 'type filter hook ingress device "vo1" priority -500; policy accept;' in text
    assert 'ip6 saddr != { fe80::/10, 2001:db8::11 } drop' in text
    assert 'iifname' not in text


def test_boot_script_and_unit():
    script = vb.render_boot_script(dict(SPEC), '/etc/hvsec/vswitch/bridge-br-guest.nft')
    assert 'bridge vlan add dev vg1 vid 100 pvid untagged' in script
    assert 'bridge vlan del dev vg1 vid 1 2>/dev/null' in script
    assert 'ip -4 addr flush dev br-guest scope global' in script
    assert 'nft -f /etc/hvsec/vswitch/bridge-br-guest.nft' in script
    unit = vb.render_unit(SPEC, '/etc/hvsec/vswitch/bridge-br-guest.sh')
    assert 'WantedBy=sys-subsystem-net-devices-br\\x2dguest.device sys-subsystem-net-devices-vg1.device' in unit
    assert unit.rstrip().endswith('multi-user.target')


@pytest.mark.parametrize('ifname, unit', [
    ('br-guest', 'sys-subsystem-net-devices-br\\x2dguest.device'),
    ('eth0', 'sys-subsystem-net-devices-eth0.device'),
    ('br0.100', 'sys-subsystem-net-devices-br0.100.device'),
    ('vnet_1', 'sys-subsystem-net-devices-vnet_1.device'),
])
def test_systemd_escape(ifname, unit):
    assert vb.systemd_escape_device(ifname) == unit


def test_ssh_server_address_reads_the_server_side_of_ssh_connection():
    assert vb.ssh_server_address({'SSH_CONNECTION': '192.0.2.50 51234 10.0.2.15 22'}) == '10.0.2.15'
    assert vb.ssh_server_address({'SSH_CONNECTION': 'fe80::1%eth0 40000 2001:db8::7 2222'}) == '2001:db8::7'
    assert vb.ssh_server_address({'SSH_CONNECTION': '192.0.2.50 51234'}) is None
    assert vb.ssh_server_address({}) is None


def test_parse_default_route_devs_of_iproute2_json():
    out = ('[{"dst":"default","gateway":"10.0.2.2","dev":"vmbr0","protocol":"dhcp","metric":100,"flags":[]},'
           '{"dst":"default","gateway":"192.0.2.1","dev":"bond0.100","metric":200,"flags":[]},'
           '{"dst":"default","nexthops":[{"gateway":"198.51.100.1","dev":"eno1","weight":1}],"flags":[]},'
           '{"dst":"default","gateway":"10.0.2.2","dev":"vmbr0","metric":300,"flags":[]}]\n')
    # a multipath route names its devices per next hop
    assert vb.parse_default_route_devs(out) == ['bond0.100', 'eno1', 'vmbr0']
    assert vb.parse_default_route_devs('') == []
    assert vb.parse_default_route_devs('[]') == []
    with pytest.raises(ValueError):
        vb.parse_default_route_devs('{"dst": "default"}')
