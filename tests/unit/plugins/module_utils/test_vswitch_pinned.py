# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned outputs of the virtual switch planners and renderers (vswitch_bridge, vswitch_ovs,
vswitch_runner).

Every expected value is the whole result: the whole nftables file, boot script and systemd unit
each renderer writes, every action and message of a plan. Written to kill the mutants that
`make mutation AREA=editors` found surviving (docs/testing.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge as vb
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_ovs as vo
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_runner as vr


def _digest(family, table, body):
    return hashlib.sha256((family + table + body).encode('utf-8')).hexdigest()[:16]


# ------------------------------------------------------------------------- anti-spoofing rules
MAC = '02:00:00:00:50:11'
# (port declaration) -> the rules spoof_rules gives with an empty prefix
SPOOF = [
    ({'name': 'p'}, []),
    ({'name': 'p', 'mac': '', 'ips': ['192.0.2.1']}, []),
    ({'name': 'p', 'mac': '02:AB:CD:00:50:11'}, ['ether saddr != 02:ab:cd:00:50:11 drop']),
    ({'name': 'p', 'mac': MAC, 'ips': ['192.0.2.12', '192.0.2.11']}, [
        'ether saddr != %s drop' % MAC,
        'ether type != { arp, ip, ip6 } drop',
        'ether type arp arp saddr ether != %s drop' % MAC,
        'ether type arp arp saddr ip != { 192.0.2.11, 192.0.2.12 } drop',
        'ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
        'ip saddr != { 192.0.2.11, 192.0.2.12 } drop',
        'ether type ip6 drop']),
    ({'name': 'p', 'mac': MAC, 'ips': ['2001:db8::12', '2001:db8::11']}, [
        'ether saddr != %s drop' % MAC,
        'ether type != { arp, ip, ip6 } drop',
        'ether type arp arp saddr ether != %s drop' % MAC,
        'ether type arp drop',
        'ether type ip drop',
        'ip6 saddr != { fe80::/10, 2001:db8::11, 2001:db8::12 } drop']),
    ({'name': 'p', 'mac': MAC, 'ips': ['2001:db8::11', '192.0.2.11']}, [
        'ether saddr != %s drop' % MAC,
        'ether type != { arp, ip, ip6 } drop',
        'ether type arp arp saddr ether != %s drop' % MAC,
        'ether type arp arp saddr ip != { 192.0.2.11 } drop',
        'ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
        'ip saddr != { 192.0.2.11 } drop',
        'ip6 saddr != { fe80::/10, 2001:db8::11 } drop']),
]


@pytest.mark.parametrize('port, rules', SPOOF)
def test_spoof_rules(port, rules):
    assert vb.spoof_rules(port, '') == rules
    assert vb.spoof_rules(port, 'iifname "p" ') == ['iifname "p" ' + r for r in rules]


@pytest.mark.parametrize('bridge, table', [
    ('br0', 'hvsec_br0'), ('br-guest', 'hvsec_br_guest'), ('BR.Guest_1', 'hvsec_BR_Guest_1')])
def test_nft_table_name(bridge, table):
    assert vb.nft_table_name(bridge) == table


@pytest.mark.parametrize('port, table', [
    ('vo1', 'hvsec_port_vo1'), ('tap-A.1', 'hvsec_port_tap_A_1'), ('XX', 'hvsec_port_XX')])
def test_nft_port_table_name(port, table):
    assert vb.nft_port_table_name(port) == table


def test_render_nft_whole_file():
    ports = [{'name': 'vg1', 'mac': MAC, 'ips': ['192.0.2.11']},
             {'name': 'vg2', 'mac': '02:00:00:00:50:12'},
             {'name': 'vg3', 'vlans': [100]}]
    table, text, digest = vb.render_nft('br-Guest', ports)
    chain = ('    chain prerouting {\n'
             '        type filter hook prerouting priority -200; policy accept;\n'
             '        iifname "vg1" ether saddr != 02:00:00:00:50:11 drop\n'
             '        iifname "vg1" ether type != { arp, ip, ip6 } drop\n'
             '        iifname "vg1" ether type arp arp saddr ether != 02:00:00:00:50:11 drop\n'
             '        iifname "vg1" ether type arp arp saddr ip != { 192.0.2.11 } drop\n'
             '        iifname "vg1" ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept\n'
             '        iifname "vg1" ip saddr != { 192.0.2.11 } drop\n'
             '        iifname "vg1" ether type ip6 drop\n'
             '        iifname "vg2" ether saddr != 02:00:00:00:50:12 drop\n'
             '    }')
    assert table == 'hvsec_br_Guest'
    assert digest == _digest('bridge', 'hvsec_br_Guest', chain)
    assert text == ('# Managed by hvsec.hypervisor.bridge_security (anti-spoofing on bridge br-Guest). Do not edit.\n'
                    'table bridge hvsec_br_Guest {}\n'
                    'delete table bridge hvsec_br_Guest\n'
                    'table bridge hvsec_br_Guest {\n'
                    '    comment "hvsec:%s"\n'
                    '%s\n'
                    '}\n') % (digest, chain)
    assert vb.render_nft('br0', ports[2:]) == ('hvsec_br0', None, None)
    assert vb.render_nft('br0', []) == ('hvsec_br0', None, None)


@pytest.mark.parametrize('owner, header', [
    ({}, 'hvsec.hypervisor.ovs_security'),
    ({'owner': 'hvsec.hypervisor.nwfilter_domains'}, 'hvsec.hypervisor.nwfilter_domains')])
def test_render_nft_port_whole_file(owner, header):
    port = {'name': 'vo1', 'mac': '02:00:00:00:60:11', 'ips': ['2001:db8::11']}
    table, text, digest = vb.render_nft_port(port, **owner)
    chain = ('    chain ingress {\n'
             '        type filter hook ingress device "vo1" priority -500; policy accept;\n'
             '        ether saddr != 02:00:00:00:60:11 drop\n'
             '        ether type != { arp, ip, ip6 } drop\n'
             '        ether type arp arp saddr ether != 02:00:00:00:60:11 drop\n'
             '        ether type arp drop\n'
             '        ether type ip drop\n'
             '        ip6 saddr != { fe80::/10, 2001:db8::11 } drop\n'
             '    }')
    assert table == 'hvsec_port_vo1'
    assert digest == _digest('netdev', 'hvsec_port_vo1', chain)
    assert text == ('# Managed by %s (anti-spoofing on port vo1). Do not edit.\n'
                    'table netdev hvsec_port_vo1 {}\n'
                    'delete table netdev hvsec_port_vo1\n'
                    'table netdev hvsec_port_vo1 {\n'
                    '    comment "hvsec:%s"\n'
                    '%s\n'
                    '}\n') % (header, digest, chain)
    assert vb.render_nft_port({'name': 'vo2', 'ips': ['192.0.2.1']}) == ('hvsec_port_vo2', None, None)


# `nft list table bridge hvsec_br0` as nft 1.0.6 prints it
NFT_LIST = ('table bridge hvsec_br0 {\n'
            '\tcomment "hvsec:0123456789abcdef"\n'
            '\tchain prerouting {\n'
            '\t\ttype filter hook prerouting priority -200; policy accept;\n'
            '\t}\n'
            '}\n')


@pytest.mark.parametrize('text, digest', [
    (NFT_LIST, '0123456789abcdef'),
    (NFT_LIST.replace('hvsec:', 'other:'), None),
    ('', None),
    (None, None),
])
def test_nft_table_digest(text, digest):
    assert vb.nft_table_digest(text) == digest


# ------------------------------------------------------------------------- persistence
@pytest.mark.parametrize('ifname, unit', [
    ('br-é', 'sys-subsystem-net-devices-br\\x2d\\xc3\\xa9.device'),
    ('.hidden', 'sys-subsystem-net-devices-.hidden.device'),
    ('a b', 'sys-subsystem-net-devices-a\\x20b.device'),
])
def test_systemd_escape_device_bytes(ifname, unit):
    assert vb.systemd_escape_device(ifname) == unit


@pytest.mark.parametrize('kwargs, owner', [({}, 'ovs_security'), ({'owner': 'nwfilter_domains'}, 'nwfilter_domains')])
def test_render_port_script_whole(kwargs, owner):
    assert vb.render_port_script('vo1', '/etc/hvsec/vswitch/port vo1.nft', **kwargs) == (
        '#!/bin/sh\n'
        '# Managed by hvsec.hypervisor.%s. Do not edit.\n'
        '[ -e /sys/class/net/vo1 ] || exit 0\n'
        "nft -f '/etc/hvsec/vswitch/port vo1.nft'\n" % owner)


UNIT_TEMPLATE = ('# Managed by hvsec.hypervisor.%s. Do not edit.\n'
                 '[Unit]\n'
                 'Description=hvsec: re-apply %s br-guest\n'
                 'Wants=network-online.target\n'
                 'After=network-online.target systemd-networkd.service networking.service NetworkManager.service '
                 'openvswitch-switch.service libvirtd.service\n'
                 '\n'
                 '[Service]\n'
                 'Type=oneshot\n'
                 'ExecStart=/bin/sh /etc/hvsec/vswitch/bridge-br-guest.sh\n'
                 '\n'
                 '[Install]\n'
                 'WantedBy=sys-subsystem-net-devices-br\\x2dguest.device sys-subsystem-net-devices-vg1.device '
                 'multi-user.target\n')


@pytest.mark.parametrize('kwargs, owner, what', [
    ({}, 'bridge_security', 'guest bridge hardening on'),
    ({'owner': 'ovs_security', 'what': 'port anti-spoofing of'}, 'ovs_security', 'port anti-spoofing of')])
def test_render_unit_whole(kwargs, owner, what):
    spec = {'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [100]}]}
    assert vb.render_unit(spec, '/etc/hvsec/vswitch/bridge-br-guest.sh', **kwargs) == UNIT_TEMPLATE % (owner, what)


@pytest.mark.parametrize('bridge, unit', [
    ('br-guest', 'hvsec-vswitch-br-guest.service'),
    ('Br0.100', 'hvsec-vswitch-Br0.100.service'),
    ('a b/c', 'hvsec-vswitch-a_b_c.service'),
])
def test_unit_name(bridge, unit):
    assert vb.unit_name(bridge) == unit


BOOT_HEAD = ['#!/bin/sh',
             '# Managed by hvsec.hypervisor.bridge_security: guest bridge br-guest. Do not edit.',
             '[ -d /sys/class/net/br-guest/bridge ] || exit 0']
BOOT_VLANS = ['if [ -d /sys/class/net/vg1/brport ]; then',
              '  bridge vlan add dev vg1 vid 100 pvid untagged',
              '  bridge vlan del dev vg1 vid 1 2>/dev/null',
              'fi',
              'if [ -d /sys/class/net/vg2/brport ]; then',
              '  bridge vlan add dev vg2 vid 1 pvid untagged',
              '  bridge vlan add dev vg2 vid 200 ',
              'fi',
              'ip link set dev br-guest type bridge vlan_filtering 1']
BOOT_SELF = ['for v in $(bridge vlan show dev br-guest | awk \'NR>1 {print ($1 ~ /^[0-9]/) ? $1 : $2}\' '
             '| grep -E "^[0-9]+$"); do bridge vlan del dev br-guest vid "$v" self; done']
BOOT_FLUSH = ['ip -4 addr flush dev br-guest scope global',
              'ip -6 addr flush dev br-guest scope global']
BOOT_IPV6 = ['if [ -d /proc/sys/net/ipv6/conf/br-guest ]; then',
             '  echo 0 > /proc/sys/net/ipv6/conf/br-guest/autoconf',
             '  echo 0 > /proc/sys/net/ipv6/conf/br-guest/accept_ra',
             '  echo 1 > /proc/sys/net/ipv6/conf/br-guest/disable_ipv6',
             'fi']
BOOT_PROXY = ['echo 0 > /proc/sys/net/ipv4/conf/br-guest/proxy_arp']
BOOT_PORTS = [{'name': 'vg1', 'vlans': [100]}, {'name': 'vg2', 'vlans': [200, 1], 'pvid': 1}]
NFT_PATH = '/etc/hvsec/vswitch/bridge-br-guest.nft'


@pytest.mark.parametrize('extra, nft_path, lines', [
    ({}, NFT_PATH, BOOT_VLANS + BOOT_SELF + BOOT_FLUSH + BOOT_IPV6 + BOOT_PROXY + ['nft -f ' + NFT_PATH]),
    ({'vlan_filtering': True, 'guest_only': True}, None, BOOT_VLANS + BOOT_SELF + BOOT_FLUSH + BOOT_IPV6 + BOOT_PROXY),
    ({'skip': ['HVS-VSW-01']}, None, BOOT_FLUSH + BOOT_IPV6 + BOOT_PROXY),
    ({'skip': ['HVS-VSW-02']}, None, BOOT_VLANS + BOOT_IPV6 + BOOT_PROXY),
    ({'skip': ['HVS-VSW-03', 'HVS-VSW-04']}, None, BOOT_VLANS + BOOT_SELF + BOOT_FLUSH),
    ({'guest_only': False}, None, BOOT_VLANS + BOOT_PROXY),
    ({'vlan_filtering': False, 'guest_only': False}, '', BOOT_PROXY),
])
def test_render_boot_script_whole(extra, nft_path, lines):
    spec = dict({'name': 'br-guest', 'ports': BOOT_PORTS}, **extra)
    assert vb.render_boot_script(spec, nft_path) == '\n'.join(BOOT_HEAD + lines + ['exit 0']) + '\n'


def test_render_boot_script_quotes_names_and_keeps_the_comment_one_line():
    script = vb.render_boot_script({'name': 'br\nx', 'vlan_filtering': False, 'guest_only': False})
    assert script == ('#!/bin/sh\n'
                      '# Managed by hvsec.hypervisor.bridge_security: guest bridge br x. Do not edit.\n'
                      "[ -d '/sys/class/net/br\nx/bridge' ] || exit 0\n"
                      "echo 0 > '/proc/sys/net/ipv4/conf/br\nx/proxy_arp'\n"
                      'exit 0\n')


# (declared bridges, link table) -> every error, in order
LINKS = {'br0': {'kind': 'bridge', 'master': None}, 'br1': {'kind': 'bridge', 'master': None},
         'eth0': {'kind': None, 'master': None}, 'bond0': {'kind': 'bond', 'master': None},
         'vg1': {'kind': 'veth', 'master': 'br0'}, 'vg2': {'kind': 'veth', 'master': 'br1'},
         'vg3': {'kind': 'veth', 'master': None}}
B = 'hvsec_vswitch_bridges'
VALIDATE_BRIDGES_BAD_NAME = ("%s[0].name: 'bad name' is not a valid interface name (contains \"/\", \":\" or "
                             "whitespace, which the kernel refuses)" % B)
VALIDATE_BRIDGES = [
    ([{'name': 'bad name'}, {'name': 'br0', 'ports': [{'name': 'vg1', 'vlans': [10]}]}],
     ["%s[0].name: 'bad name' is not a valid interface name (contains \"/\", \":\" or whitespace, which the "
      "kernel refuses)" % B]),
    ([{'name': 'bad name'}, {'name': 'br9'}],
     [VALIDATE_BRIDGES_BAD_NAME, '%s[1] (br9): bridge br9 does not exist on this host' % B]),
    ([{'name': 'br0', 'ports': [{'name': 'vg1', 'vlans': [10]}]}, {'name': 'br0'}],
     ['%s[1] (br0): bridge declared twice' % B]),
    ([{'name': 'eth0'}, {'name': 'bond0'}, {'name': 'br9'}],
     ['%s[0] (eth0): eth0 is a non-bridge link, not a Linux bridge' % B,
      '%s[1] (bond0): bond0 is a bond link, not a Linux bridge' % B,
      '%s[2] (br9): bridge br9 does not exist on this host' % B]),
    ([{'name': 'br0', 'ports': [{'name': '-x', 'vlans': [10]}, {'name': 'vg2', 'vlans': [10]},
                                {'name': 'vg3', 'pvid': 5000}, {'name': 'vg9'}]}],
     ["%s[0] (br0).ports[0].name: '-x' is not a valid interface name (starts with \"-\", which commands would "
      "read as an option)" % B,
      '%s[0] (br0).ports[1] (vg2): vg2 is not a port of bridge br0 (master: br1)' % B,
      '%s[0] (br0).ports[2] (vg3): vg3 is not a port of bridge br0 (master: None)' % B,
      '%s[0] (br0).ports[2] (vg3).pvid: VLAN 5000 is outside 1-4094' % B,
      '%s[0] (br0).ports[3] (vg9): port vg9 does not exist on this host' % B,
      '%s[0] (br0).ports[3] (vg9): declare at least one VLAN (vlans or pvid)' % B]),
    ([{'name': 'br0', 'ports': [{'name': 'vg1', 'vlans': [10, 20], 'mac': MAC, 'ips': ['192.0.2.1']}]}],
     ['%s[0] (br0).ports[0] (vg1): IP anti-spoofing needs an access port (exactly one VLAN)' % B]),
]


@pytest.mark.parametrize('bridges, errors', VALIDATE_BRIDGES)
def test_validate_bridges_whole_errors(bridges, errors):
    assert vb.validate_bridges(bridges, LINKS) == errors


# ------------------------------------------------------------------------- lockout guard
GUEST = {'name': 'br-guest', 'ports': []}
ADDRS = {'addresses': [{'local': 'fe80::1', 'prefixlen': 64, 'family': 'inet6', 'scope': 'link'},
                       {'local': '192.0.2.1', 'prefixlen': 24, 'family': 'inet', 'scope': 'global'}]}
LINK_LOCAL_ONLY = {'addresses': [ADDRS['addresses'][0]]}
SSH_MSG = ('hvsec_vswitch_bridges: bridge br-guest is declared guest_only but carries 192.0.2.1, the address this '
           'Ansible connection uses; set guest_only: false for it or move management elsewhere')
ROUTE_MSG = ('hvsec_vswitch_bridges: bridge br-guest is declared guest_only but the default route leaves through '
             'it; removing its addresses would cut the host off. Set guest_only: false or move the route')

LOCKOUT = [
    (GUEST, ADDRS, {'ssh_server_ip': '192.0.2.1'}, SSH_MSG),
    (dict(GUEST, guest_only=True), ADDRS, {'ssh_server_ip': '192.0.2.1'}, SSH_MSG),
    (dict(GUEST, guest_only=False), ADDRS, {'ssh_server_ip': '192.0.2.1'}, None),
    (dict(GUEST, skip=['HVS-VSW-02']), ADDRS, {'ssh_server_ip': '192.0.2.1'}, None),
    (dict(GUEST, skip=['HVS-VSW-03']), ADDRS, {'ssh_server_ip': '192.0.2.1'}, SSH_MSG),
    (GUEST, ADDRS, {'default_route_devs': ('br-guest',)}, ROUTE_MSG),
    (GUEST, ADDRS, {'ssh_server_ip': '198.51.100.1', 'default_route_devs': ('eth0',)}, None),
    (GUEST, LINK_LOCAL_ONLY, {'ssh_server_ip': 'fe80::1'}, None),
    (GUEST, LINK_LOCAL_ONLY, {'default_route_devs': ('br-guest',)}, None),
    (GUEST, {}, {'default_route_devs': ('br-guest',)}, None),
]


@pytest.mark.parametrize('spec, state, kwargs, message', LOCKOUT)
def test_lockout_risk(spec, state, kwargs, message):
    assert vb.lockout_risk(spec, state, **kwargs) == message


# ------------------------------------------------------------------------- planning
PVID = {'pvid': True, 'untagged': True}
STATE = {
    'vlan_filtering': False,
    'vlans': {'vg1': {1: PVID}, 'br0': {1: PVID}},
    'addresses': [{'local': 'fe80::1', 'prefixlen': 64, 'family': 'inet6', 'scope': 'link'},
                  {'local': '192.0.2.1', 'prefixlen': 24, 'family': 'inet', 'scope': 'global'},
                  {'local': '2001:db8::1', 'prefixlen': 64, 'family': 'inet6', 'scope': 'global'}],
    'sysctl': {'autoconf': 1, 'accept_ra': 2, 'disable_ipv6': 0, 'proxy_arp': 1},
    'port_proxyarp': {'vg2': {'proxyarp_wifi': 1, 'proxyarp': 0}, 'vg1': {'proxyarp': 1, 'proxyarp_wifi': None}},
}
PORTS = [{'name': 'vg1', 'vlans': [200, 100], 'pvid': 100}, {'name': 'vg2', 'vlans': [300]}]


def _cmd(control, msg, *cmd):
    return {'control': control, 'msg': msg, 'cmd': list(cmd)}


def _write(control, msg, path, value):
    return {'control': control, 'msg': msg, 'write': (path, value)}


ALL_ACTIONS = [
    _cmd('HVS-VSW-01', 'br0: port vg1 VLAN 100 pvid untagged', 'bridge', 'vlan', 'add', 'dev', 'vg1', 'vid', '100',
         'pvid', 'untagged'),
    _cmd('HVS-VSW-01', 'br0: port vg1 VLAN 200 tagged', 'bridge', 'vlan', 'add', 'dev', 'vg1', 'vid', '200'),
    _cmd('HVS-VSW-01', 'br0: port vg2 VLAN 300 pvid untagged', 'bridge', 'vlan', 'add', 'dev', 'vg2', 'vid', '300',
         'pvid', 'untagged'),
    _cmd('HVS-VSW-01', 'br0: remove undeclared VLAN 1 from port vg1', 'bridge', 'vlan', 'del', 'dev', 'vg1', 'vid', '1'),
    _cmd('HVS-VSW-01', 'br0: enable vlan_filtering', 'ip', 'link', 'set', 'dev', 'br0', 'type', 'bridge',
         'vlan_filtering', '1'),
    _cmd('HVS-VSW-02', 'br0: remove the host (self) from VLAN 1', 'bridge', 'vlan', 'del', 'dev', 'br0', 'vid', '1',
         'self'),
    _cmd('HVS-VSW-02', 'br0: remove host address 192.0.2.1/24', 'ip', 'addr', 'del', '192.0.2.1/24', 'dev', 'br0'),
    _cmd('HVS-VSW-02', 'br0: remove host address 2001:db8::1/64', 'ip', 'addr', 'del', '2001:db8::1/64', 'dev', 'br0'),
    _write('HVS-VSW-03', 'br0: net.ipv6.conf.br0.autoconf = 0', '/proc/sys/net/ipv6/conf/br0/autoconf', '0'),
    _write('HVS-VSW-03', 'br0: net.ipv6.conf.br0.accept_ra = 0', '/proc/sys/net/ipv6/conf/br0/accept_ra', '0'),
    _write('HVS-VSW-03', 'br0: net.ipv6.conf.br0.disable_ipv6 = 1', '/proc/sys/net/ipv6/conf/br0/disable_ipv6', '1'),
    _write('HVS-VSW-04', 'br0: net.ipv4.conf.br0.proxy_arp = 0', '/proc/sys/net/ipv4/conf/br0/proxy_arp', '0'),
    _write('HVS-VSW-04', 'br0: port vg1 brport proxyarp = 0', '/sys/class/net/vg1/brport/proxyarp', '0'),
    _write('HVS-VSW-04', 'br0: port vg2 brport proxyarp_wifi = 0', '/sys/class/net/vg2/brport/proxyarp_wifi', '0'),
]


@pytest.mark.parametrize('spec, actions', [
    # vlan_filtering and guest_only default to true
    ({'name': 'br0', 'ports': PORTS}, ALL_ACTIONS),
    ({'name': 'br0', 'ports': PORTS, 'vlan_filtering': True, 'guest_only': True}, ALL_ACTIONS),
    ({'name': 'br0', 'ports': PORTS, 'skip': ['HVS-VSW-02', 'HVS-VSW-03']},
     [a for a in ALL_ACTIONS if a['control'] in ('HVS-VSW-01', 'HVS-VSW-04')]),
    ({'name': 'br0', 'ports': PORTS, 'vlan_filtering': False},
     [a for a in ALL_ACTIONS if a['control'] != 'HVS-VSW-01' and 'self' not in a.get('cmd', ())]),
    ({'name': 'br0', 'ports': PORTS, 'guest_only': False},
     [a for a in ALL_ACTIONS if a['control'] in ('HVS-VSW-01', 'HVS-VSW-04')]),
])
def test_plan_bridge_whole_plan(spec, actions):
    assert vb.plan_bridge(spec, STATE) == actions


def test_plan_bridge_nothing_when_state_matches():
    state = {'vlan_filtering': True, 'vlans': {'vg2': {300: PVID}}, 'addresses': STATE['addresses'][:1],
             'sysctl': {'autoconf': 0, 'accept_ra': 0, 'disable_ipv6': 1, 'proxy_arp': 0},
             'port_proxyarp': {'vg2': {'proxyarp': 0, 'proxyarp_wifi': None}}}
    assert vb.plan_bridge({'name': 'br0', 'ports': PORTS[1:]}, state) == []
    assert vb.plan_bridge({'name': 'br0'}, {'vlan_filtering': True, 'vlans': {}}) == []


@pytest.mark.parametrize('addr, link_local', [
    ('fe80::1', True), ('169.254.1.1', True), ('192.0.2.1', False), ('not-an-address', False), ('', False)])
def test_is_link_local(addr, link_local):
    assert vb.is_link_local(addr) is link_local


@pytest.mark.parametrize('port, errors', [
    ({'mac': MAC, 'ips': ['192.0.2.1', '2001:db8::1']}, []),
    ({}, []),
    ({'mac': '02:00:00:00:50'}, ["P.mac: '02:00:00:00:50' is not a MAC address"]),
    ({'mac': MAC, 'ips': ['192.0.2.300', 'x']},
     ["P.ips: '192.0.2.300' is not an IP address", "P.ips: 'x' is not an IP address"]),
    ({'ips': ['192.0.2.1']}, ['P: ips given without mac (anti-spoofing needs the port MAC)']),
])
def test_validate_port_address(port, errors):
    assert vb.validate_port_address(port, 'P') == errors


# ------------------------------------------------------------------------- Open vSwitch
LOOP_MSG = ("W[%d]: 'ptcp:6640:127.0.0.1' is not allowed: plain tcp:/ptcp: is refused (listens on 127.0.0.1 only) "
            "while hvsec_vswitch_ovs_allow_loopback_tcp is false; use pssl:, ssl:, punix: or unix:")
PLAIN_MSG = ("W[%d]: 'tcp:192.0.2.1:6640' is not allowed (plain tcp:/ptcp: is refused: connects to 192.0.2.1); "
             "use pssl:, ssl:, punix: or unix:, or a loopback-only tcp:/ptcp: target")
UNKNOWN_MSG = ("W[%d]: 'bogus:x' is not allowed (not an Open vSwitch connection method); "
               "use pssl:, ssl:, punix: or unix:")
TARGETS = ['ssl:192.0.2.9:6640', 'ptcp:6640:127.0.0.1', 'tcp:192.0.2.1:6640', 'bogus:x']


@pytest.mark.parametrize('allow, errors', [
    (True, [PLAIN_MSG % 2, UNKNOWN_MSG % 3]),
    (False, [LOOP_MSG % 1, PLAIN_MSG % 2, UNKNOWN_MSG % 3]),
])
def test_target_errors_whole_messages(allow, errors):
    assert vo.target_errors(TARGETS, 'W', allow) == errors


OVS_STATE = {'managers': [], 'ssl': None, 'ports': {'vo1': {'tag': None, 'trunks': [], 'vlan_mode': None}},
             'bridges': {'br-int': {'controllers': [], 'fail_mode': None, 'mirrors': []}}}
NO_SSL = ('hvsec_vswitch_ovs_ssl: ssl:/pssl: targets are declared but no certificates are given and Open vSwitch '
          'has no SSL configuration')
OVS_SSL_STATE = dict(OVS_STATE, ssl={'private_key': '/k', 'certificate': '/c', 'ca_cert': '/a'})

VALIDATE = [
    ({'controllers': {'br-x': ['ssl:192.0.2.1:6653']}}, OVS_STATE,
     ['hvsec_vswitch_ovs_controllers: OVS bridge br-x does not exist', NO_SSL]),
    ({'controllers': {'br-int': ['pssl:6653']}}, OVS_STATE, [NO_SSL]),
    ({'controllers': {'br-int': None}}, OVS_STATE, []),
    ({'controllers': {'br-int': ['punix:/run/x.sock']}}, OVS_STATE, []),
    ({'controllers': {'br-int': ['ssl:192.0.2.1:6653']}}, OVS_SSL_STATE, []),
    ({'managers': ['ssl:192.0.2.1:6640']}, OVS_STATE, [NO_SSL]),
    ({'managers': ['pssl:6640']}, OVS_STATE, [NO_SSL]),
    ({'managers': ['pssl:6640']}, OVS_SSL_STATE, []),
    ({'managers': ['pssl:6640'], 'ssl': {'private_key': '/k', 'certificate': '', 'ca_cert': '/missing'}}, OVS_STATE,
     ['hvsec_vswitch_ovs_ssl.certificate: missing (private_key, certificate and ca_cert are all needed)',
      'hvsec_vswitch_ovs_ssl.ca_cert: file /missing does not exist']),
    ({'ports': [{'name': 'bad name', 'tag': 10}, {'name': 'vo1', 'tag': 10}, {'name': 'vo1', 'tag': 5000},
                {'name': 'vo9', 'tag': 10}]}, OVS_STATE,
     ["hvsec_vswitch_ovs_ports[0].name: 'bad name' is not a valid interface name (contains \"/\", \":\" or "
      "whitespace, which the kernel refuses)",
      'hvsec_vswitch_ovs_ports[2]: port vo1 declared twice',
      'hvsec_vswitch_ovs_ports[2] (vo1).tag: VLAN 5000 is outside 1-4094',
      'hvsec_vswitch_ovs_ports[3]: OVS port vo9 does not exist']),
]


@pytest.mark.parametrize('params, state, errors', VALIDATE)
def test_ovs_validate_whole_errors(params, state, errors):
    assert vo.validate(params, state, lambda path: path == '/k') == errors


LOOP_STATE = {'managers': ['pssl:6640', 'ptcp:6640:127.0.0.1'], 'ssl': None, 'ports': {},
              'bridges': {'br-int': {'controllers': ['tcp:127.0.0.1:6633', 'tcp:192.0.2.1:6633'],
                                     'fail_mode': 'secure', 'mirrors': []}}}
KEPT_MANAGER = {'control': 'HVS-VSW-05', 'where': 'OVSDB manager', 'target': 'ptcp:6640:127.0.0.1',
                'why': 'listens on 127.0.0.1 only'}
KEPT_CONTROLLER = {'control': 'HVS-VSW-06', 'where': 'controller of br-int', 'target': 'tcp:127.0.0.1:6633',
                   'why': 'connects to 127.0.0.1 only'}


@pytest.mark.parametrize('params, kept', [
    ({}, [KEPT_MANAGER, KEPT_CONTROLLER]),
    ({'allow_loopback_tcp': False}, []),
    ({'managers': ['ptcp:6641:127.0.0.2', 'ptcp:6641:127.0.0.2', 'pssl:6640'],
      'controllers': {'br-int': ['tcp:127.0.0.3:6633', 'ssl:192.0.2.1:6653']}},
     [dict(KEPT_MANAGER, target='ptcp:6641:127.0.0.2', why='listens on 127.0.0.2 only'),
      dict(KEPT_CONTROLLER, target='tcp:127.0.0.3:6633', why='connects to 127.0.0.3 only')]),
    ({'managers': [], 'controllers': {'br-int': None}}, [KEPT_MANAGER]),
])
def test_loopback_targets(params, kept):
    assert vo.loopback_targets(params, LOOP_STATE) == kept


PLAN_STATE = {
    'managers': ['ptcp:6640', 'ptcp:6640:127.0.0.1'], 'ssl': None,
    'bridges': {'br-int': {'controllers': ['tcp:192.0.2.1:6653'], 'fail_mode': None,
                           'mirrors': [('m1', 'uuid-1'), ('span', 'uuid-2')]},
                'br-ex': {'controllers': [], 'fail_mode': None, 'mirrors': []}},
    'ports': {'vo1': {'tag': None, 'trunks': [10, 20], 'vlan_mode': 'trunk'},
              'vo2': {'tag': 30, 'trunks': [], 'vlan_mode': 'access'},
              'vo3': {'tag': 40, 'trunks': [], 'vlan_mode': None}}}
SSL = {'private_key': '/etc/openvswitch/k.pem', 'certificate': '/etc/openvswitch/c.pem',
       'ca_cert': '/etc/openvswitch/ca.pem'}
HAVE_M = "['ptcp:6640', 'ptcp:6640:127.0.0.1']"


def _plan(*steps):
    """(actions, one ovs-vsctl transaction) from (control, msg, words...) steps."""
    args = []
    for step in steps:
        args.extend((['--'] if args else []) + list(step[2:]))
    return [{'control': c[0], 'msg': c[1]} for c in steps], args


PLANS = [
    ({'ssl': SSL, 'managers': ['pssl:6640', 'pssl:6640'], 'controllers': {'br-int': ['ssl:192.0.2.1:6653']},
      'allowed_mirrors': ['span'], 'ports': [{'name': 'vo1', 'tag': 10}, {'name': 'vo2', 'tag': 30},
                                             {'name': 'vo3', 'tag': 40}, {'name': 'vo9', 'tag': 5}]},
     _plan(('HVS-VSW-05', 'set OVS SSL key/certificate/CA', 'set-ssl', SSL['private_key'], SSL['certificate'],
            SSL['ca_cert']),
           ('HVS-VSW-05', "OVSDB managers %s -> ['pssl:6640']" % HAVE_M, 'set-manager', 'pssl:6640'),
           ('HVS-VSW-06', "br-int: controllers ['tcp:192.0.2.1:6653'] -> ['ssl:192.0.2.1:6653']",
            'set-controller', 'br-int', 'ssl:192.0.2.1:6653'),
           ('HVS-VSW-07', 'br-int: fail_mode standalone (unset) -> secure', 'set-fail-mode', 'br-int', 'secure'),
           ('HVS-VSW-08', 'br-int: remove undeclared mirror m1', 'remove', 'Bridge', 'br-int', 'mirrors', 'uuid-1'),
           ('HVS-VSW-09', 'vo1: tag None -> 10 (access)', 'set', 'Port', 'vo1', 'tag=10', 'vlan_mode=access'),
           ('HVS-VSW-09', 'vo1: clear trunks [10, 20]', 'clear', 'Port', 'vo1', 'trunks'),
           ('HVS-VSW-09', 'vo3: tag 40 -> 40 (access)', 'set', 'Port', 'vo3', 'tag=40', 'vlan_mode=access'))),
    ({},
     _plan(('HVS-VSW-05', "OVSDB managers %s -> ['ptcp:6640:127.0.0.1']" % HAVE_M, 'set-manager',
            'ptcp:6640:127.0.0.1'),
           ('HVS-VSW-06', "br-int: remove controllers ['tcp:192.0.2.1:6653']", 'del-controller', 'br-int'),
           ('HVS-VSW-08', 'br-int: remove undeclared mirror m1', 'remove', 'Bridge', 'br-int', 'mirrors', 'uuid-1'),
           ('HVS-VSW-08', 'br-int: remove undeclared mirror span', 'remove', 'Bridge', 'br-int', 'mirrors',
            'uuid-2'))),
    ({'skip': ['HVS-VSW-06', 'HVS-VSW-08'], 'allow_loopback_tcp': False},
     _plan(('HVS-VSW-05', 'remove OVSDB managers %s' % HAVE_M, 'del-manager'),
           ('HVS-VSW-07', 'br-int: fail_mode standalone (unset) -> secure', 'set-fail-mode', 'br-int', 'secure'))),
    ({'skip': ['HVS-VSW-05', 'HVS-VSW-06', 'HVS-VSW-08'], 'fail_secure': False, 'ssl': SSL}, ([], [])),
]


@pytest.mark.parametrize('params, plan', PLANS)
def test_plan_ovs_whole_transaction(params, plan):
    assert vo.plan_ovs(params, PLAN_STATE) == plan


def test_plan_ovs_reads_past_an_unknown_port():
    assert vo.plan_ovs({'ports': [{'name': 'vo9', 'tag': 5}, {'name': 'vo2', 'tag': 31}],
                        'skip': ['HVS-VSW-05', 'HVS-VSW-06', 'HVS-VSW-08']}, PLAN_STATE) == _plan(
        ('HVS-VSW-07', 'br-int: fail_mode standalone (unset) -> secure', 'set-fail-mode', 'br-int', 'secure'),
        ('HVS-VSW-09', 'vo2: tag 30 -> 31 (access)', 'set', 'Port', 'vo2', 'tag=31', 'vlan_mode=access'))


def test_plan_ovs_nothing_when_hardened():
    state = {'managers': ['pssl:6640'], 'ssl': dict(SSL), 'ports': {},
             'bridges': {'br-int': {'controllers': ['ssl:192.0.2.1:6653'], 'fail_mode': 'secure', 'mirrors': []}}}
    assert vo.plan_ovs({'ssl': SSL, 'managers': ['pssl:6640']}, state) == ([], [])
    assert vo.plan_ovs({'ssl': dict(SSL, ca_cert='/other.pem')}, state) == _plan(
        ('HVS-VSW-05', 'set OVS SSL key/certificate/CA', 'set-ssl', SSL['private_key'], SSL['certificate'],
         '/other.pem'))


# ------------------------------------------------------------------------- runner steps
class Exited(Exception):
    def __init__(self, failed, result):
        Exception.__init__(self, result.get('msg'))
        self.failed = failed
        self.result = result


class Module(object):
    """AnsibleModule as the runner uses it; ``bins``: the tools get_bin_path finds."""

    def __init__(self, answers=None, bins=('systemctl',), move_fails=False):
        self.check_mode = False
        self.answers = answers or {}
        self.bins = bins
        self.commands = []
        self.backups = []
        self.move_fails = move_fails

    def atomic_move(self, src, dest):
        if self.move_fails:
            self.fail_json(msg='cannot move %s' % dest)
        os.rename(src, dest)

    def backup_local(self, path):
        self.backups.append(path)
        return path + '.bak'

    def run_command(self, cmd):
        self.commands.append(list(cmd))
        return self.answers.get(' '.join(cmd), (0, 'out of %s' % cmd[0], ''))

    def get_bin_path(self, name):
        return '/usr/bin/' + name if name in self.bins else None

    def exit_json(self, **result):
        raise Exited(False, result)

    def fail_json(self, **result):
        raise Exited(True, result)


def test_run_success_returns_stdout():
    module = Module({'bridge vlan add': (0, 'done\n', 'warning')})
    runner = vr.VswitchRunner(module, ('HVS-VSW-01',))
    assert runner.run('HVS-VSW-01', ['bridge', 'vlan', 'add']) == 'done\n'
    assert module.commands == [['bridge', 'vlan', 'add']]


@pytest.mark.parametrize('rc', [1, 2, 255])
def test_run_failure_names_control_command_and_stderr(rc):
    module = Module({'ovs-vsctl set-manager': (rc, '', ' refused \n')})
    runner = vr.VswitchRunner(module, ('HVS-VSW-05',))
    with pytest.raises(Exited) as info:
        runner.run('HVS-VSW-05', ['ovs-vsctl', 'set-manager'])
    assert info.value.failed
    assert info.value.result['msg'] == 'HVS-VSW-05: ovs-vsctl set-manager failed: refused'


def test_check_nft_passes_a_valid_file():
    module = Module()
    vr.VswitchRunner(module, ()).check_nft('/usr/sbin/nft', '/etc/hvsec/x.nft')
    assert module.commands == [['/usr/sbin/nft', '-c', '-f', '/etc/hvsec/x.nft']]


def test_write_value_writes_exactly_the_value(tmp_path):
    path = tmp_path / 'proxy_arp'
    path.write_text('1\n')
    vr.VswitchRunner(Module(), ()).write_value('HVS-VSW-04', str(path), '0')
    assert path.read_text() == '0'


@pytest.mark.parametrize('bins, commands', [
    (('systemctl',), [['systemctl', 'daemon-reload']]),
    ((), []),
])
def test_daemon_reload_only_with_systemctl(bins, commands):
    module = Module(bins=bins)
    vr.VswitchRunner(module, ()).daemon_reload()
    assert module.commands == commands


def test_plan_file_defaults(tmp_path):
    path = str(tmp_path / 'new.service')
    assert vr.plan_file(path, '[Unit]\n') == {'path': path, 'before': '', 'after': '[Unit]\n', 'mode': 0o644}
    assert vr.control_status('HVS-VSW-01', set(), set()) == 'pass'
    assert vr.control_status('HVS-VSW-01', set(), set(['HVS-VSW-01'])) == 'fixed'
    assert vr.control_status('HVS-VSW-01', set(['HVS-VSW-01']), set(['HVS-VSW-01'])) == 'waived'


def test_write_files_replaces_keeps_mode_wanted_and_backs_up(tmp_path):
    unit = tmp_path / 'x.service'
    unit.write_text('old\n')
    unit.chmod(0o600)
    link = tmp_path / 'wants' / 'x.service'
    link.parent.mkdir()
    os.symlink('/nowhere', str(link))
    module = Module()
    runner = vr.VswitchRunner(module, ())
    runner.write_files([vr.plan_link(str(link), str(unit)), vr.plan_file(str(unit), 'new\n', 0o640)])
    assert unit.read_text() == 'new\n'
    assert unit.stat().st_mode & 0o777 == 0o640
    assert module.backups == [str(unit)]
    assert os.readlink(str(link)) == str(unit)


def test_write_files_creates_directories_0755_only_for_content(tmp_path):
    old = os.umask(0)
    try:
        module = Module()
        runner = vr.VswitchRunner(module, ())
        gone = tmp_path / 'absent-dir' / 'old.nft'
        made = tmp_path / 'made' / 'new.nft'
        runner.write_files([{'path': str(gone), 'before': 'x', 'after': '', 'mode': 0o644},
                            {'path': str(made), 'before': '', 'after': 'table\n', 'mode': 0o600}])
    finally:
        os.umask(old)
    assert not gone.parent.exists()
    assert made.read_text() == 'table\n'
    assert made.parent.stat().st_mode & 0o777 == 0o755
    assert module.backups == []


def test_write_files_failed_write_leaves_no_link(tmp_path):
    unit = tmp_path / 'x.service'
    link = tmp_path / 'wants' / 'x.service'
    runner = vr.VswitchRunner(Module(move_fails=True), ())
    with pytest.raises(Exited) as info:
        runner.write_files([vr.plan_link(str(link), str(unit)), vr.plan_file(str(unit), '[Unit]\n')])
    assert info.value.failed and info.value.result['msg'] == 'cannot move %s' % unit
    assert not os.path.lexists(str(link)) and not unit.exists()


def test_malformed_output_is_a_value_error():
    def parse(text):
        """Doc of the parser."""
        return text['ifname']

    wrapped = vb._malformed_is_value_error(parse)
    assert (wrapped.__name__, wrapped.__doc__) == ('parse', 'Doc of the parser.')
    assert wrapped({'ifname': 'br0'}) == 'br0'
    with pytest.raises(ValueError) as exc:
        wrapped({})
    assert str(exc.value) == "unexpected iproute2 JSON structure (KeyError: 'ifname')"
    with pytest.raises(ValueError) as exc:
        vb.parse_links('[{"ifname": "br0", "linkinfo": "bridge"}]')
    assert str(exc.value) == "unexpected iproute2 JSON structure (AttributeError: 'str' object has no attribute 'get')"
