# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned outputs of the host-state text parsers: nft JSON, /proc/net, procfs, systemd units.

Tables of real inputs (the formats nft 1.0.6, Linux 6.1 procfs and systemd 252 print) with the
exact output each must give. Written to kill the mutants that `make mutation AREA=parsers`
found surviving (docs/testing.md): every expected value here is the whole result, not a part.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import netstat
from ansible_collections.hvsec.hypervisor.plugins.module_utils import nft
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import systemd_unit


# ------------------------------------------------------------------------------------- nft
def _match(left, right, op='=='):
    return {'match': {'op': op, 'left': left, 'right': right}}


TCP_DPORT = {'payload': {'protocol': 'tcp', 'field': 'dport'}}
IP_SADDR = {'payload': {'protocol': 'ip', 'field': 'saddr'}}
IIFNAME = {'meta': {'key': 'iifname'}}

# One rule's "expr" list (as nft -j prints it) -> the line render_rule gives.
RULES = [
    ([_match(TCP_DPORT, 22), {'accept': None}], 'tcp dport 22 accept'),
    ([_match(TCP_DPORT, 22, '!='), {'drop': None}], 'tcp dport != 22 drop'),
    ([_match({'ct': {'key': 'state'}}, ['established', 'related'], 'in'), {'accept': None}],
     'ct state established,related accept'),
    ([_match({'ct': {'key': 'saddr', 'dir': 'original'}}, '192.0.2.1')], 'ct original saddr 192.0.2.1'),
    ([_match(IIFNAME, 'lo'), {'accept': None}], 'iifname "lo" accept'),
    ([_match({'meta': {'key': 'oifname'}}, {'set': ['br0', 'br1']})], 'oifname { "br0", "br1" }'),
    ([_match({'meta': {'key': 'iif'}}, 'lo')], 'iif "lo"'),
    ([_match({'meta': {'key': 'iiftype'}}, 'ether')], 'iiftype ether'),
    ([_match(IIFNAME, '@mgmt_ifs')], 'iifname @mgmt_ifs'),
    ([_match({'meta': {'key': 'l4proto'}}, 'tcp')], 'meta l4proto tcp'),
    ([_match({'meta': {'key': 'mark'}}, 1)], 'meta mark 1'),
    ([_match(IP_SADDR, {'prefix': {'addr': '192.0.2.0', 'len': 24}}), {'counter': {'packets': 3, 'bytes': 180}},
      {'accept': None}], 'ip saddr 192.0.2.0/24 counter accept'),
    ([_match(IP_SADDR, {'set': [{'prefix': {'addr': '10.0.0.0', 'len': 8}}, '192.0.2.7']})],
     'ip saddr { 10.0.0.0/8, 192.0.2.7 }'),
    ([_match(TCP_DPORT, {'set': 16509})], 'tcp dport { 16509 }'),
    ([_match(TCP_DPORT, {'range': [5900, 5999]})], 'tcp dport 5900-5999'),
    ([_match(IIFNAME, {'range': ['a', 'b']})], 'iifname "a"-"b"'),
    ([_match(IP_SADDR, {'set': [{'elem': {'val': '192.0.2.9', 'timeout': 60}}]})], 'ip saddr { 192.0.2.9 }'),
    ([_match(IP_SADDR, '@allowed')], 'ip saddr @allowed'),
    ([_match({'payload': {'base': 'th', 'offset': 16, 'len': 16}}, 22)], '@th,16,16 22'),
    ([_match({'fib': {'result': 'type', 'flags': ['daddr']}}, 'local')], '<fib> local'),
    ([_match(TCP_DPORT, True)], 'tcp dport true'),
    ([_match(TCP_DPORT, False)], 'tcp dport false'),
    ([_match(TCP_DPORT, 1.5)], 'tcp dport 1.5'),
    ([_match(TCP_DPORT, None)], 'tcp dport ?'),
    ([_match(TCP_DPORT, {'numgen': {'mode': 'inc'}})], 'tcp dport <numgen>'),
    ([_match(TCP_DPORT, {'range': [1]})], 'tcp dport <range>'),
    ([{'match': {'left': TCP_DPORT, 'right': 80}}], 'tcp dport 80'),
    ([_match(TCP_DPORT, 'x', '>=')], 'tcp dport >= x'),
    ([{'jump': {'target': 'hvsec_mgmt'}}], 'jump hvsec_mgmt'),
    ([{'goto': {'target': 'other'}}], 'goto other'),
    ([{'jump': 'bad'}], 'jump'),
    ([{'reject': {'type': 'icmpx', 'expr': 'admin-prohibited'}}], 'reject'),
    ([{'reject': None}], 'reject'),
    ([{'xt': {'type': 'match', 'name': 'conntrack'}}], 'xt match conntrack'),
    ([{'xt': 'x'}], 'xt'),
    ([{'log': {'prefix': 'hvsec-drop '}}, {'drop': None}], 'log drop'),
    ([{'continue': None}, {'return': None}, {'queue': {'num': 1}}], 'continue return queue'),
    ([{'match': 'x'}], 'match'),
    (['accept', {'accept': None, 'drop': None}], '<?> <?>'),
]


@pytest.mark.parametrize('expr, line', RULES)
def test_render_rule(expr, line):
    assert nft.render_rule({'expr': expr}) == line


def test_render_rule_comment_and_empty():
    assert nft.render_rule({'expr': [{'accept': None}], 'comment': 'ssh from admins'}) == 'accept comment "ssh from admins"'
    assert nft.render_rule({'expr': None, 'comment': ''}) == ''
    assert nft.render_rule({}) == ''


@pytest.mark.parametrize('expr, text', [
    ({'payload': {'protocol': 'udp', 'field': 'sport'}}, 'udp sport'),
    ({'meta': {'key': 'oif'}}, 'oif'),
    ({'meta': {'key': 'nfproto'}}, 'meta nfproto'),
    ({'ct': {'key': 'state'}}, 'ct state'),
    ({'ct': {'key': 'mark', 'dir': ''}}, 'ct mark'),
    ({'ct': {'key': 'proto-dst', 'dir': 'reply'}}, 'ct reply proto-dst'),
    ({'set': ['a', 'b']}, '{ a, b }'),
    ({'prefix': {'addr': 'fe80::', 'len': 10}}, 'fe80::/10'),
    ({'range': [1, 2]}, '1-2'),
    ({'payload': 'x'}, '<payload>'),
    ({'meta': 'x'}, '<meta>'),
    ({'ct': 'x'}, '<ct>'),
    ('plain', 'plain'),
    (7, '7'),
    ({'a': 1, 'b': 2}, '<?>'),
    ({}, '<?>'),
    ({'prefix': '192.0.2.0/24'}, '<prefix>'),
])
def test_expression(expr, text):
    assert nft.expression(expr) == text


RULESET = {'nftables': [
    {'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
    # junk items first: skipping one is not the end of the list
    {'rule': 'not an object'},
    {'rule': {}, 'chain': {}},
    'junk',
    # two tables of the same name in two families, both listed before their chains
    {'table': {'family': 'inet', 'name': 'hvsec_mgmt', 'handle': 7, 'comment': 'hvsec'}},
    {'table': {'family': 'ip', 'name': 'hvsec_mgmt', 'handle': 8}},
    {'chain': {'family': 'inet', 'table': 'hvsec_mgmt', 'name': 'input', 'handle': 1, 'type': 'filter',
               'hook': 'input', 'prio': -10, 'policy': 'drop'}},
    {'chain': {'family': 'inet', 'table': 'hvsec_mgmt', 'name': 'mgmt', 'handle': 2}},
    {'rule': {'family': 'inet', 'table': 'hvsec_mgmt', 'chain': 'input', 'handle': 3,
              'expr': [_match(IIFNAME, 'lo'), {'accept': None}]}},
    {'rule': {'family': 'inet', 'table': 'hvsec_mgmt', 'chain': 'input', 'handle': 4,
              'expr': [_match(TCP_DPORT, 22), {'jump': {'target': 'mgmt'}}]}},
    {'rule': {'family': 'inet', 'table': 'hvsec_mgmt', 'chain': 'mgmt', 'handle': 5,
              'expr': [_match(IP_SADDR, {'prefix': {'addr': '192.0.2.0', 'len': 24}}), {'accept': None}]}},
    {'chain': {'family': 'ip', 'table': 'hvsec_mgmt', 'name': 'fwd', 'type': 'filter', 'hook': 'forward',
               'prio': 0, 'policy': 'accept'}},
    {'rule': {'family': 'ip', 'table': 'hvsec_mgmt', 'chain': 'fwd', 'expr': [{'drop': None}]}},
    {'table': {'family': 'netdev', 'name': 'ingress', 'handle': 9}},
    {'chain': {'family': 'netdev', 'table': 'ingress', 'name': 'in_eth0', 'type': 'filter', 'hook': 'ingress',
               'prio': 0, 'dev': 'eth0', 'policy': 'accept'}},
    {'chain': {'family': 'netdev', 'table': 'ingress', 'name': 'in_both', 'type': 'filter', 'hook': 'ingress',
               'prio': 0, 'dev': ['eth1', 'eth2'], 'policy': 'accept'}},
    # a chain and rules of a table never listed, a rule of an unknown chain, junk items: all ignored
    {'chain': {'family': 'bridge', 'table': 'ghost', 'name': 'input', 'hook': 'input'}},
    {'rule': {'family': 'bridge', 'table': 'ghost', 'chain': 'input', 'expr': [{'drop': None}]}},
    {'rule': {'family': 'inet', 'table': 'hvsec_mgmt', 'chain': 'nochain', 'expr': [{'drop': None}]}},
    {'set': {'family': 'inet', 'table': 'hvsec_mgmt', 'name': 'admins', 'type': 'ipv4_addr'}},
]}

PARSED_TABLES = [
    {'family': 'inet', 'name': 'hvsec_mgmt', 'comment': 'hvsec', 'chains': [
        {'name': 'input', 'type': 'filter', 'hook': 'input', 'priority': -10, 'policy': 'drop', 'devices': None,
         'rules': ['iifname "lo" accept', 'tcp dport 22 jump mgmt']},
        {'name': 'mgmt', 'type': None, 'hook': None, 'priority': None, 'policy': None, 'devices': None,
         'rules': ['ip saddr 192.0.2.0/24 accept']}]},
    {'family': 'ip', 'name': 'hvsec_mgmt', 'comment': None, 'chains': [
        {'name': 'fwd', 'type': 'filter', 'hook': 'forward', 'priority': 0, 'policy': 'accept', 'devices': None,
         'rules': ['drop']}]},
    {'family': 'netdev', 'name': 'ingress', 'comment': None, 'chains': [
        {'name': 'in_eth0', 'type': 'filter', 'hook': 'ingress', 'priority': 0, 'policy': 'accept',
         'devices': ['eth0'], 'rules': []},
        {'name': 'in_both', 'type': 'filter', 'hook': 'ingress', 'priority': 0, 'policy': 'accept',
         'devices': ['eth1', 'eth2'], 'rules': []}]},
]


def test_parse_ruleset_whole_result():
    data, error = nft.parse_ruleset(json.dumps(RULESET))
    assert error is None
    assert data == {'tables': ['inet hvsec_mgmt', 'ip hvsec_mgmt', 'netdev ingress'], 'ruleset': PARSED_TABLES}


def test_parse_ruleset_empty_ruleset():
    assert nft.parse_ruleset('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}') == ({'tables': [], 'ruleset': []}, None)


@pytest.mark.parametrize('text, error', [
    ('{"nftables": {}}', 'no "nftables" list in the nft JSON output'),
    ('[]', 'no "nftables" list in the nft JSON output'),
    ('{"other": []}', 'no "nftables" list in the nft JSON output'),
])
def test_parse_ruleset_refuses_other_shapes(text, error):
    assert nft.parse_ruleset(text) == (None, error)


@pytest.mark.parametrize('text', ['', None, 'Error: Could not process rule', '{"nftables": ['])
def test_parse_ruleset_invalid_json(text):
    data, error = nft.parse_ruleset(text)
    assert data is None
    assert error.startswith('invalid JSON from nft: ') and len(error) > len('invalid JSON from nft: ')


def test_base_chains_by_family_and_hook():
    chains = nft.base_chains(PARSED_TABLES, 'inet', ('input', 'forward'))
    assert [(t['family'], c['name']) for t, c in chains] == [('inet', 'input')]
    assert [c['name'] for _t, c in nft.base_chains(PARSED_TABLES, 'ip', ('forward',))] == ['fwd']
    assert [c['name'] for _t, c in nft.base_chains(PARSED_TABLES, 'netdev', ('ingress',))] == ['in_eth0', 'in_both']
    assert nft.base_chains(PARSED_TABLES, 'ip6', ('input',)) == []
    assert nft.base_chains(None, 'inet', ('input',)) == []
    assert nft.base_chains([{'family': 'inet', 'chains': None}], 'inet', ('input',)) == []


# ---------------------------------------------------------------------------------- netstat
PROC_NET_HEADER = ('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n')
TCP_TEXT = PROC_NET_HEADER + (
    '   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23001 1 0000000000000000 100 0 0 10 0\n'
    '   1: 0100007F:4051 00000000:0000 0A 00000000:00000000 00:00000000 00000000   118        0 24567 1 0000000000000000 100 0 0 10 0\n'
    '   2: 0F02000A:0016 0202000A:D3C4 01 00000000:00000000 02:000A7E3C 00000000     0        0 31337 4 0000000000000000 20 4 29 10 -1\n'
    '   3: 0F02000A:0050 00000000:0000 0a 00000000:00000000 00:00000000 00000000    33        0 40001\n'
    '   4: 0F02000A:0051 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0\n'
    '   5: 0F0200:0052 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 40002 1\n'
    '   6: 0F02000A:zz 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 40003 1\n'
    '   7: 0F02000A:0053 00000000:0000 0A 00000000:00000000 00:00000000 00000000    x        0 40004 1\n'
    '   8: 0F02000A:0054 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 y 1\n'
    '   9: 0F02000A 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 40005 1\n'
    '  10: 0F02000A:0055 00000000 0A 00000000:00000000 00:00000000 00000000    33        0 40006 1\n'
    # every kind of skipped line above is followed by one that counts: a skip is not an end
    '  11: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 40007 1\n'
)
TCP6_TEXT = PROC_NET_HEADER + (
    '   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 '
    '00:00000000 00000000     0        0 23002 1 0000000000000000 100 0 0 10 0\n'
    '   1: 00000000000000000000000001000000:40F1 00000000000000000000000000000000:0000 0A 00000000:00000000 '
    '00:00000000 00000000     0        0 23003 1 0000000000000000 100 0 0 10 0\n'
)
UDP_TEXT = PROC_NET_HEADER + (
    '  256: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 18001 2 0000000000000000 0\n'
    '  300: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 18002 2 0000000000000000 0\n'
    '  301: 0F02000A:A1B2 0202000A:0035 07 00000000:00000000 00:00000000 00000000   101        0 18003 2 0000000000000000 0\n'
    '  302: 0F02000A:0045 00000000:0000 01 00000000:00000000 00:00000000 00000000   101        0 18004 2 0000000000000000 0\n'
    # the remote address decides (a port 0 does not make it unconnected)
    '  303: 0F02000A:0046 0202000A:0000 07 00000000:00000000 00:00000000 00000000   101        0 18005 2 0000000000000000 0\n'
    '  304: 0F02000A:0047 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 18006 2 0000000000000000 0\n'
    '  305: 0F02000A:0048 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 18007 2 0000000000000000 0\n'
)
UDP6_TEXT = PROC_NET_HEADER + (
    '  100: 0000000000000000FFFF00000100007F:0202 00000000000000000000000000000000:0000 07 00000000:00000000 '
    '00:00000000 00000000     0        0 19001 2 0000000000000000 0\n'
    '  101: B80D0120000000000000000001000000:0203 B80D0120000000000000000002000000:0035 07 00000000:00000000 '
    '00:00000000 00000000     0        0 19002 2 0000000000000000 0\n'
)


@pytest.mark.parametrize('text, proto, sockets', [
    (TCP_TEXT, 'tcp', [
        {'proto': 'tcp', 'address': '0.0.0.0', 'port': 22, 'inode': 23001, 'uid': 0},
        {'proto': 'tcp', 'address': '127.0.0.1', 'port': 16465, 'inode': 24567, 'uid': 118},
        {'proto': 'tcp', 'address': '10.0.2.15', 'port': 80, 'inode': 40001, 'uid': 33},
        {'proto': 'tcp', 'address': '127.0.0.1', 'port': 8080, 'inode': 40007, 'uid': 1000}]),
    (TCP6_TEXT, 'tcp6', [
        {'proto': 'tcp', 'address': '::', 'port': 22, 'inode': 23002, 'uid': 0},
        {'proto': 'tcp', 'address': '::1', 'port': 16625, 'inode': 23003, 'uid': 0}]),
    (UDP_TEXT, 'udp', [
        {'proto': 'udp', 'address': '0.0.0.0', 'port': 68, 'inode': 18001, 'uid': 0},
        {'proto': 'udp', 'address': '127.0.0.1', 'port': 53, 'inode': 18002, 'uid': 101},
        {'proto': 'udp', 'address': '10.0.2.15', 'port': 71, 'inode': 18006, 'uid': 101},
        {'proto': 'udp', 'address': '10.0.2.15', 'port': 72, 'inode': 18007, 'uid': 101}]),
    (UDP6_TEXT, 'udp6', [
        {'proto': 'udp', 'address': '::ffff:127.0.0.1', 'port': 514, 'inode': 19001, 'uid': 0}]),
    # the same UDP text read as TCP: no line is in state 0A
    (UDP_TEXT, 'tcp', []),
    (TCP_TEXT, 'udp', []),
    # the first line is the header, whatever it holds
    (TCP_TEXT.split('\n', 1)[1], 'tcp', [
        {'proto': 'tcp', 'address': '127.0.0.1', 'port': 16465, 'inode': 24567, 'uid': 118},
        {'proto': 'tcp', 'address': '10.0.2.15', 'port': 80, 'inode': 40001, 'uid': 33},
        {'proto': 'tcp', 'address': '127.0.0.1', 'port': 8080, 'inode': 40007, 'uid': 1000}]),
    ('', 'tcp', []),
    (None, 'udp', []),
])
def test_parse_proc_net(text, proto, sockets):
    assert netstat.parse_proc_net(text, proto) == sockets


@pytest.mark.parametrize('hexaddr, address', [
    ('0100007F', '127.0.0.1'),
    ('0F02000A', '10.0.2.15'),
    ('00000000', '0.0.0.0'),
    ('FFFFFFFF', '255.255.255.255'),
    ('00000000000000000000000000000000', '::'),
    ('00000000000000000000000001000000', '::1'),
    ('0000000000000000FFFF00000100007F', '::ffff:127.0.0.1'),
    ('0000000000000000FFFF000000000000', '::ffff:0.0.0.0'),
    ('B80D0120000000000000000001000000', '2001:db8::1'),
    ('000080FE00000000FF005450563412FE', 'fe80::5054:ff:fe12:3456'),
    ('0100007', None),
    ('0100007F0', None),
    ('ZZ00007F', None),
    ('', None),
    ('0000000000000000000000000100000', None),
    ('0000000000000000000000000100000G', None),
])
def test_decode_address(hexaddr, address):
    assert netstat.decode_address(hexaddr) == address


@pytest.mark.parametrize('link, inode', [
    ('socket:[4242]', 4242), ('socket:[0]', 0), ('pipe:[4242]', None), ('socket:[4242] ', None),
    ('xsocket:[1]', None), ('socket:[]', None), ('socket:[12a]', None), ('', None), (None, None),
])
def test_socket_inode(link, inode):
    assert netstat.socket_inode(link) == inode


def test_attach_owners_dedupes_and_sorts():
    sockets = (netstat.parse_proc_net(TCP_TEXT, 'tcp') + netstat.parse_proc_net(TCP6_TEXT, 'tcp6')
               + netstat.parse_proc_net(UDP_TEXT, 'udp'))
    # the IPv4 sshd socket twice, as a forked listener shares it (not last: a duplicate is no end)
    sockets.insert(1, dict(sockets[0]))
    owners = {23001: (612, 'sshd'), 23002: (612, 'sshd'), 24567: (1024, 'libvirtd'), 18001: (700, 'dhclient'),
              40001: (2, 'nginx'), 40007: (1, 'systemd')}
    assert netstat.attach_owners(sockets, owners) == [
        {'proto': 'tcp', 'address': '0.0.0.0', 'port': 22, 'process': 'sshd', 'pid': 612, 'uid': 0},
        {'proto': 'tcp', 'address': '::', 'port': 22, 'process': 'sshd', 'pid': 612, 'uid': 0},
        {'proto': 'tcp', 'address': '10.0.2.15', 'port': 80, 'process': 'nginx', 'pid': 2, 'uid': 33},
        {'proto': 'tcp', 'address': '127.0.0.1', 'port': 8080, 'process': 'systemd', 'pid': 1, 'uid': 1000},
        {'proto': 'tcp', 'address': '127.0.0.1', 'port': 16465, 'process': 'libvirtd', 'pid': 1024, 'uid': 118},
        {'proto': 'tcp', 'address': '::1', 'port': 16625, 'process': None, 'pid': None, 'uid': 0},
        {'proto': 'udp', 'address': '127.0.0.1', 'port': 53, 'process': None, 'pid': None, 'uid': 101},
        {'proto': 'udp', 'address': '0.0.0.0', 'port': 68, 'process': 'dhclient', 'pid': 700, 'uid': 0},
        {'proto': 'udp', 'address': '10.0.2.15', 'port': 71, 'process': None, 'pid': None, 'uid': 101},
        {'proto': 'udp', 'address': '10.0.2.15', 'port': 72, 'process': None, 'pid': None, 'uid': 101},
    ]


def test_attach_owners_same_socket_two_owners_sorted_by_pid():
    sock = {'proto': 'tcp', 'address': '0.0.0.0', 'port': 22, 'inode': 1, 'uid': 0}
    other = dict(sock, inode=2)
    unowned = dict(sock, inode=3)
    result = netstat.attach_owners([sock, other, unowned], {1: (900, 'sshd'), 2: (15, 'sshd')})
    assert [s['pid'] for s in result] == [None, 15, 900]
    # systemd (pid 1) holding a socket-activated listener sorts after the unknown owner
    activated = dict(sock, inode=4)
    result = netstat.attach_owners([activated, unowned], {4: (1, 'systemd')})
    assert [s['pid'] for s in result] == [None, 1]


# ----------------------------------------------------------------------------------- procfs
CPUINFO = '''processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
a line without a colon does not end the block
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vmx ept vpid
bugs\t\t: spectre_v1

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vmx ept vpid

processor\t: 2
vendor_id\t: GenuineIntel
physical id\t: 1
core id\t\t: 0
flags\t\t: fpu

power management:
this line has no colon
'''


def test_parse_cpuinfo_two_sockets_with_smt():
    assert procfs.parse_cpuinfo(CPUINFO) == {
        'vendor': 'GenuineIntel', 'model_name': 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
        'flags': {'fpu', 'vmx', 'ept', 'vpid'}, 'logical_cpus': 3, 'physical_cores': 2}


@pytest.mark.parametrize('text, expected', [
    ('', {'vendor': None, 'model_name': None, 'flags': set(), 'logical_cpus': 0, 'physical_cores': 0}),
    (None, {'vendor': None, 'model_name': None, 'flags': set(), 'logical_cpus': 0, 'physical_cores': 0}),
    # no blank line at the end, no topology: cores fall back to the logical count
    ('processor : 0\nvendor_id : AuthenticAMD\nflags : svm npt\n\n\nprocessor : 1\nflags : svm',
     {'vendor': 'AuthenticAMD', 'model_name': None, 'flags': {'svm', 'npt'}, 'logical_cpus': 2, 'physical_cores': 2}),
    # a block without "processor" (the s390 header) does not count
    ('vendor_id : IBM/S390\n\nprocessor : 0\nvendor_id :\nmodel name :\ncore id : 3\n',
     {'vendor': None, 'model_name': None, 'flags': set(), 'logical_cpus': 1, 'physical_cores': 1}),
    ('processor : 0\nmodel name : Example: 8 cores: 16 threads\n',
     {'vendor': None, 'model_name': 'Example: 8 cores: 16 threads', 'flags': set(), 'logical_cpus': 1, 'physical_cores': 1}),
    ('processor : 0\nphysical id : 0\ncore id : 0\n\nprocessor : 1\nphysical id : 0\ncore id : 1\n\n'
     'processor : 2\nphysical id : 0\ncore id : 1\n',
     {'vendor': None, 'model_name': None, 'flags': set(), 'logical_cpus': 3, 'physical_cores': 2}),
])
def test_parse_cpuinfo_shapes(text, expected):
    assert procfs.parse_cpuinfo(text) == expected


@pytest.mark.parametrize('flags, virt, slat_kind', [
    ({'vmx', 'ept'}, 'vmx', 'ept'), ({'svm', 'npt'}, 'svm', 'npt'), ({'vmx', 'svm', 'ept', 'npt'}, 'vmx', 'ept'),
    (set(), None, None), ({'vmxx', 'eptx'}, None, None),
])
def test_virt_extension_and_slat(flags, virt, slat_kind):
    assert procfs.virt_extension(flags) == virt
    assert procfs.slat(flags) == slat_kind


def test_parse_meminfo():
    text = ('MemTotal:       16318212 kB\nMemFree:         1216016 kB\nActive(anon):     151340 kB\n'
            'HugePages_Total:       8\nHugepagesize:       2048 kB\nDirectMap1G:    14680064 kB\n'
            'Broken line\nNoValue:\n  Indented:  5 kB\nNegative: -1 kB\n')
    assert procfs.parse_meminfo(text) == {
        'MemTotal': 16318212, 'MemFree': 1216016, 'Active(anon)': 151340, 'HugePages_Total': 8,
        'Hugepagesize': 2048, 'DirectMap1G': 14680064}
    assert procfs.parse_meminfo(None) == {}


@pytest.mark.parametrize('text, chips', [
    ('  24:          0   IR-PCI-MSI 327680-edge      xhci_hcd\n   9:  0  IR-IO-APIC    9-fasteoi   acpi\n'
     '  25:  0  IR-PCI-MSI 1-edge  x\n', ['IR-IO-APIC', 'IR-PCI-MSI']),
    (' 40:  0  IR-PCI-MSIX-0000:00:02.0    0-edge      i915\n', ['IR-PCI-MSIX']),
    ('  24:  0   PCI-MSI 327680-edge      xhci_hcd\n   9:  0  IO-APIC    9-fasteoi   acpi\n', []),
    ('  1: 0 XIR-PCI-MSI 1-edge\n  2: 0 A-IR-IO-APIC\n', []),
    (None, []),
])
def test_interrupt_remapping_chips(text, chips):
    assert procfs.interrupt_remapping_chips(text) == chips


@pytest.mark.parametrize('text, expected', [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
     {'id': 'debian', 'version_id': '12', 'id_like': []}),
    ("# comment\n\nID='rocky'\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=9.4\nno equals sign\n",
     {'id': 'rocky', 'version_id': '9.4', 'id_like': ['rhel', 'centos', 'fedora']}),
    ('  ID = ubuntu  \nVERSION_ID="\nID_LIKE=debian\n', {'id': 'ubuntu', 'version_id': '"', 'id_like': ['debian']}),
    ('ID=""\nVERSION_ID=\'1"\n', {'id': None, 'version_id': '\'1"', 'id_like': []}),
    ('ID=x\nVERSION_ID="1=2"\n', {'id': 'x', 'version_id': '1=2', 'id_like': []}),
    ('ID=XX\nVERSION_ID=1.21\n', {'id': 'XX', 'version_id': '1.21', 'id_like': []}),
    ('#ID=arch\n', {'id': None, 'version_id': None, 'id_like': []}),
    (None, {'id': None, 'version_id': None, 'id_like': []}),
])
def test_parse_os_release(text, expected):
    assert procfs.parse_os_release(text) == expected


def _opt(module, option, value, filename='/etc/modprobe.d/x.conf'):
    return {'file': filename, 'module': module, 'option': option, 'value': value}


@pytest.mark.parametrize('text, expected', [
    ('options vfio-pci ids="8086:10ca,8086:10cb" disable_vga=1 # why\n',
     [_opt('vfio_pci', 'ids', '8086:10ca,8086:10cb'), _opt('vfio_pci', 'disable_vga', '1')]),
    ('options kvm_intel nested=0 \\\n  enable_apicv=1\n',
     [_opt('kvm_intel', 'nested', '0'), _opt('kvm_intel', 'enable_apicv', '1')]),
    ('options kvm_amd nested=1\\\nnpt=1\\\n avic=0\n',
     [_opt('kvm_amd', 'nested', '1'), _opt('kvm_amd', 'npt', '1'), _opt('kvm_amd', 'avic', '0')]),
    ('options vfio_iommu_type1 allow_unsafe_interrupts\n', [_opt('vfio_iommu_type1', 'allow_unsafe_interrupts', None)]),
    ('options kvm ignore_msrs=Y \\', [_opt('kvm', 'ignore_msrs', 'Y')]),
    ('options kvm a="x" b="" c=" d="y\n',
     [_opt('kvm', 'a', 'x'), _opt('kvm', 'b', ''), _opt('kvm', 'c', '"'), _opt('kvm', 'd', '"y')]),
    ('options kvm k=v=w\n', [_opt('kvm', 'k', 'v=w')]),
    ('#options kvm nested=1\n# options kvm nested=1\noptions\noptions kvm\ninstall kvm /bin/true\n'
     'blacklist kvm\nOPTIONS kvm nested=1\n', []),
])
def test_parse_modprobe_options(text, expected):
    assert procfs.parse_modprobe_options(text, '/etc/modprobe.d/x.conf') == expected


def test_parse_audit_rules():
    text = '## header\n-D\n\n   \n-b 8192\n  -w /etc/libvirt/ -p wa -k libvirt  \n  # -w /tmp\n-e 2'
    assert procfs.parse_audit_rules(text) == ['-D', '-b 8192', '-w /etc/libvirt/ -p wa -k libvirt', '-e 2']
    assert procfs.parse_audit_rules(None) == []


@pytest.mark.parametrize('value, result', [
    ('Y', True), ('y\n', True), ('1', True), (' on ', True), ('yes', True), ('TRUE', True),
    ('N', False), ('n\n', False), ('0', False), ('off', False), ('NO', False), ('false', False),
    ('auto', None), ('2', None), ('', None), (None, None),
])
def test_sysfs_bool(value, result):
    assert procfs.sysfs_bool(value) is result


@pytest.mark.parametrize('value, result', [
    ('0', 0), (' 7\n', 7), ('010', 10), ('-1', -1), ('0x10', 16), ('0X1f', 31), (' 0x0 ', 0),
    ('x', None), ('0x', None), ('', None), ('1.5', None), (None, None),
])
def test_to_int(value, result):
    assert procfs.to_int(value) == result


# ----------------------------------------------------------------------------- systemd_unit
@pytest.mark.parametrize('text, entries', [
    ('[Unit]\nDescription=Libvirt local socket\nBefore=libvirtd.service\n\n[Socket]\nListenStream=/run/libvirt/libvirt-sock\n'
     'Service=libvirtd.service\nSocketMode=0666\n\n[Install]\nWantedBy=sockets.target\n',
     [('Unit', 'Description', 'Libvirt local socket'), ('Unit', 'Before', 'libvirtd.service'),
      ('Socket', 'ListenStream', '/run/libvirt/libvirt-sock'), ('Socket', 'Service', 'libvirtd.service'),
      ('Socket', 'SocketMode', '0666'), ('Install', 'WantedBy', 'sockets.target')]),
    ('# c\n; c\nkey=outside\n[ Socket ]\n  ListenStream = a=b  \n#ListenStream=x\n;SocketMode=0600\nnot an assignment\n',
     [('Socket', 'ListenStream', 'a=b')]),
    ('[Service]\nExecStart=/usr/bin/foo \\\n  --bar \\\n# a comment inside\n; another\n  --baz\nUser=x\n',
     [('Service', 'ExecStart', '/usr/bin/foo --bar --baz'), ('Service', 'User', 'x')]),
    ('[Service]\nExecStart=/bin/a\\\nb\n', [('Service', 'ExecStart', '/bin/a b')]),
    # a continuation at the end of the file still counts, one outside a section does not
    ('[Socket]\nListenStream=/run/x \\', [('Socket', 'ListenStream', '/run/x')]),
    ('[Service]\nEnvironment=A=1 B=2 \\', [('Service', 'Environment', 'A=1 B=2')]),
    ('ListenStream=/run/x \\', []),
    ('[Socket]\nnovalue \\', []),
    ('[Socket]\n\\\nListenStream=/y\n', [('Socket', 'ListenStream', '/y')]),
    ('[Socket\nListenStream=/z\n', []),
    ('[Socket]\nSocketMode=\n', [('Socket', 'SocketMode', '')]),
    ('', []),
    (None, []),
])
def test_parse_unit(text, entries):
    assert systemd_unit.parse_unit(text) == entries


def test_dropin_order():
    found = [('/etc/systemd/system/libvirtd.socket.d', 'zz.conf'),
             ('/etc/systemd/system/libvirtd.socket.d', 'override.conf'),
             ('/etc/systemd/system/libvirtd.socket.d', 'README'),
             ('/run/systemd/system/libvirtd.socket.d', 'override.conf'),
             ('/run/systemd/system/libvirtd.socket.d', 'a.conf'),
             ('/usr/lib/systemd/system/libvirtd.socket.d', 'a.conf'),
             ('/usr/lib/systemd/system/libvirtd.socket.d', 'm.conf.disabled')]
    assert systemd_unit.dropin_order(found) == [
        '/run/systemd/system/libvirtd.socket.d/a.conf',
        '/etc/systemd/system/libvirtd.socket.d/override.conf',
        '/etc/systemd/system/libvirtd.socket.d/zz.conf']
    assert systemd_unit.dropin_order([]) == []


@pytest.mark.parametrize('texts, settings', [
    ([], {'listen': [], 'mode': '0666', 'mode_set': False, 'group': None, 'user': None}),
    (['[Socket]\nListenStream=/run/libvirt/libvirt-sock\nSocketMode=0666\n'],
     {'listen': ['/run/libvirt/libvirt-sock'], 'mode': '0666', 'mode_set': True, 'group': None, 'user': None}),
    (['[Socket]\nListenStream=/run/libvirt/libvirt-admin-sock\nSocketMode=0600\nSocketGroup=libvirt\nSocketUser=root\n'],
     {'listen': ['/run/libvirt/libvirt-admin-sock'], 'mode': '0600', 'mode_set': True, 'group': 'libvirt', 'user': 'root'}),
    # drop-ins: an empty ListenStream= empties the list, later assignments win, empty ones reset
    (['[Socket]\nListenStream=16509\nListenStream=[::]:16509\nSocketGroup=kvm\nSocketUser=qemu\n',
      '[Socket]\nListenStream=\nListenStream=192.0.2.10:16509\nSocketMode=660\nSocketGroup=\nSocketUser=\n'],
     {'listen': ['192.0.2.10:16509'], 'mode': '0660', 'mode_set': True, 'group': None, 'user': None}),
    (['[Socket]\nSocketMode=0600\n', '[Socket]\nSocketMode=\n'],
     {'listen': [], 'mode': '0666', 'mode_set': False, 'group': None, 'user': None}),
    # settings outside [Socket] do not count
    (['[Unit]\nListenStream=/x\nSocketMode=0600\nSocketGroup=g\nSocketUser=u\n[Service]\nSocketMode=0600\n'],
     {'listen': [], 'mode': '0666', 'mode_set': False, 'group': None, 'user': None}),
    (['[Socket]\nSocketMode=u+rw\nListenDatagram=/dev/log\n'],
     {'listen': [], 'mode': 'u+rw', 'mode_set': True, 'group': None, 'user': None}),
])
def test_socket_settings(texts, settings):
    assert systemd_unit.socket_settings(texts) == settings


@pytest.mark.parametrize('value, mode', [
    ('660', '0660'), ('0600', '0600'), (' 755 ', '0755'), ('7', '0007'), ('0', '0000'), ('01777', '1777'),
    ('8', '8'), ('u+rw', 'u+rw'), ('', ''), (644, '0644'),
])
def test_normalize_mode(value, mode):
    assert systemd_unit.normalize_mode(value) == mode


def test_unit_search_path_and_default_mode():
    assert systemd_unit.UNIT_DIRS == ('/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system',
                                      '/lib/systemd/system')
    assert systemd_unit.DEFAULT_SOCKET_MODE == '0666'
