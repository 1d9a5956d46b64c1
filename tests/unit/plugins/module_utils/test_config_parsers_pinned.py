# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned results of the configuration and tool-output parsers the editors share: ``ip -j``
output, sshd_config Match criteria, /etc/passwd and /etc/group, PCI ids and module names.

Tables of real inputs (iproute2 6.1 JSON, Debian 12 /etc files) with the whole result of each.
Written to kill the mutants that `make mutation AREA=config-parsers` found surviving
(docs/testing.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ip_link
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf
from ansible_collections.hvsec.hypervisor.plugins.module_utils import netnames
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd

# ------------------------------------------------------------------------- ip -j
IP_LINK_D = json.dumps([
    {'ifindex': 1, 'ifname': 'lo', 'flags': ['LOOPBACK', 'UP'], 'link_type': 'loopback'},
    {'ifindex': 2, 'ifname': 'enp1s0', 'link_type': 'ether', 'parentbus': 'pci', 'parentdev': '0000:01:00.0'},
    {'ifindex': 3, 'ifname': 'enp59s0f0', 'link_type': 'ether', 'parentbus': 'pci', 'parentdev': '0000:3B:00.0'},
    {'ifindex': 4, 'ifname': 'usb0', 'link_type': 'ether', 'parentbus': 'usb', 'parentdev': '1-1:1.0'},
    {'ifindex': 5, 'ifname': 'odd', 'parentbus': 'pci', 'parentdev': 5},
    {'ifindex': 6, 'parentbus': 'pci', 'parentdev': '0000:02:00.0'},
    'not an object',
])


def test_pci_parents():
    assert ip_link.pci_parents(IP_LINK_D) == ({'enp1s0': '0000:01:00.0', 'enp59s0f0': '0000:3b:00.0'}, None)
    assert ip_link.pci_parents('') == (
        None, 'invalid JSON from ip -j -d link: Expecting value: line 1 column 1 (char 0)')
    assert ip_link.pci_parents('{}') == (None, 'unexpected JSON from ip -j -d link: not a list')


ROUTES = json.dumps([
    {'dst': 'default', 'gateway': '192.0.2.1', 'dev': 'eth0', 'protocol': 'dhcp', 'flags': []},
    'not an object',
    {'dst': 'default', 'flags': [], 'nexthops': [
        {'gateway': '192.0.2.1', 'dev': 'eth1', 'weight': 1, 'flags': []},
        'not a hop',
        {'gateway': '198.51.100.1', 'dev': 'eth2', 'weight': 1, 'flags': []}]},
    {'dst': '127.0.0.1', 'dev': 'lo', 'flags': []},
    {'dst': 'default', 'dev': 'eth0', 'metric': 200, 'flags': []},
    {'dst': 'default', 'nexthops': 'eth9'},
])


def test_parse_route_devs():
    assert ip_link.parse_route_devs(ROUTES) == (['eth0', 'eth1', 'eth2'], None)
    assert ip_link.parse_route_devs('nope') == (
        None, 'invalid JSON from ip -j route: Expecting value: line 1 column 1 (char 0)')
    assert ip_link.parse_route_devs('{"dst": "default"}') == (None, 'unexpected JSON from ip -j route: not a list')


# ------------------------------------------------------------------------- sshd Match criteria
@pytest.mark.parametrize('value, first', [
    ('!root,admin*', 'admin*'), ('root', 'root'), ('!a,!b', None), ('', None), (',x', 'x'), ('a b,c', 'a b'),
    (None, 'None'),
])
def test_first_positive(value, first):
    assert sshd._first_positive(value) == first


BASE = {'user': 'root', 'host': 'h.example.org', 'addr': '203.0.113.7'}
SPECS = [
    ('All', BASE),
    ('All User bob', dict(BASE, user='bob')),
    ('User !root,ad*', None),
    ('User !root', None),
    ('User', None),
    ('User r?ot', BASE),
    ('User ro*', BASE),
    ('User=alice Host mgmt', dict(BASE, user='alice', host='mgmt')),
    ('Host *.example.org', BASE),
    ('Group wheel', dict(BASE, user='alice')),
    ('Group wh*', None),
    ('Group nobody', None),
    ('Address 10.0.0.0/8', dict(BASE, addr='10.0.0.1', host='10.0.0.1')),
    ('Address !10.0.0.0/8', None),
    ('LocalAddress 10.0.2.15 LocalPort 2222', dict(BASE, laddr='10.0.2.15', lport='2222')),
    ('RDomain vrf1', None),
]


@pytest.mark.parametrize('criteria, spec', SPECS)
def test_spec_for_block(criteria, spec):
    assert sshd.spec_for_block(criteria, BASE, {'wheel': 'alice'}.get) == spec


def test_spec_for_block_group_without_lookup():
    assert sshd.spec_for_block('Group wheel', BASE) is None


# ------------------------------------------------------------------------- /etc/passwd, /etc/group
PASSWD = ('root:x:0:0:root:/root:/bin/bash\n'
          '# a comment line\n'
          'alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n'
          'carol:x:1001:100:Carol:/home/carol:/bin/bash\n'
          'truncated:x:1002\n'
          'nobody:x:65534::nobody:/nonexistent:/usr/sbin/nologin\n')
GROUP = ('root:x:0:\n'
         'adm:x:4:syslog,alice\n'
         'wheel:x:10:,bob,alice\n'
         'users:x:100:\n'
         'alice:x:1000:\n'
         'legacy:x:5\n'
         'staff:x:50:\n')


@pytest.mark.parametrize('group, user', [
    ('wheel', 'bob'), ('adm', 'syslog'), ('users', 'carol'), ('root', 'root'), ('staff', None), ('legacy', None),
    ('nogroup', None), ('x', None),
])
def test_member_of(group, user):
    assert sshd.member_of(group, PASSWD, GROUP) == user


@pytest.mark.parametrize('user, groups', [
    ('alice', ['adm', 'alice', 'wheel']), ('carol', ['users']), ('root', ['root']), ('truncated', None),
    ('ghost', None), ('bob', None),
])
def test_groups_of(user, groups):
    assert sshd.groups_of(user, PASSWD, GROUP) == groups


# ------------------------------------------------------------------------- PCI ids, module names
@pytest.mark.parametrize('value, normalized', [
    ('8086:10D3', '8086:10d3'), (' 10de:1eb8 ', '10de:1eb8'), ('1af4:1041', '1af4:1041')])
def test_normalize_id(value, normalized):
    assert pci.normalize_id(value) == normalized


@pytest.mark.parametrize('value', ['8086-10d3', '8086:10d', 'x086:10d3', 8086, None])
def test_normalize_id_refuses(value):
    with pytest.raises(ValueError) as exc:
        pci.normalize_id(value)
    assert str(exc.value) == ('malformed vendor:device id %r: expected two 4-digit hex numbers, e.g. 8086:10d3'
                              % (value,))


@pytest.mark.parametrize('name, valid', [
    ('nouveau', True), ('snd_hda_intel', True), ('i915', True), ('nvidia-drm', True), ('', False), (None, False),
    ('a b', False), ('a\n', False), ('../x', False), ('vfio_pci', True),
])
def test_valid_module_name(name, valid):
    assert pci.valid_module_name(name) is valid


# ------------------------------------------------------------------------- sysfs: what lies below
def _dir(root, rel, dev=None):
    path = os.path.join(root, rel)
    os.makedirs(path, exist_ok=True)
    if dev:
        with open(os.path.join(path, 'dev'), 'w') as handle:
            handle.write(dev + '\n')
    return path


def _link(root, rel, target):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(os.path.relpath(os.path.join(root, target), os.path.dirname(path)), path)


SDA = 'sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda'
NVME = 'sys/devices/pci0000:00/0000:00:1D.0/0000:3D:00.0/nvme/nvme0/nvme0n1'


@pytest.fixture
def blocks(tmp_path):
    """A sysfs tree laid out as Linux 6.1 does: disks under their PCI controller, dm/md devices
    under devices/virtual/block with ``slaves``, and the sys/dev/block and sys/class/block links."""
    root = str(tmp_path)
    devs = {'sda': (SDA, '8:0'), 'nvme0n1': (NVME, '259:0')}
    chain = ['dm-0', 'v1', 'v2', 'v3', 'v4', 'v5']
    for number, name in enumerate(chain):
        devs[name] = ('sys/devices/virtual/block/' + name, '254:%d' % (number * 16))
    for name, (rel, dev) in devs.items():
        _dir(root, rel, dev)
        _link(root, 'sys/dev/block/' + dev, rel)
        _link(root, 'sys/class/block/' + name, rel)
    _dir(root, devs['dm-0'][0] + '/dm-0p1', '254:1')
    _link(root, 'sys/dev/block/254:1', devs['dm-0'][0] + '/dm-0p1')
    _dir(root, devs['dm-0'][0] + '/slaves/sda')
    _dir(root, devs['dm-0'][0] + '/slaves/nvme0n1')
    for upper, lower in zip(chain[1:], chain[2:]):          # v1 -> v2 -> ... -> v5 -> sda
        _dir(root, devs[upper][0] + '/slaves/' + lower)
    _dir(root, devs['v5'][0] + '/slaves/sda')
    return root


@pytest.mark.parametrize('majmin, addresses', [
    ('8:0', ['0000:00:17.0']),
    ('259:0', ['0000:00:1d.0', '0000:3d:00.0']),
    ('254:0', ['0000:00:17.0', '0000:00:1d.0', '0000:3d:00.0']),     # dm-0 over sda and nvme0n1
    ('254:1', ['0000:00:17.0', '0000:00:1d.0', '0000:3d:00.0']),     # a partition of dm-0
    ('254:32', ['0000:00:17.0']),     # v2 -> v3 -> v4 -> v5 -> sda: four levels are followed
    ('254:16', []),                   # v1: sda is five levels down
    ('1:1', []),
])
def test_block_pci_addresses(blocks, majmin, addresses):
    found = pci.block_pci_addresses(blocks, majmin)
    assert sorted(found) == addresses and len(found) == len(set(found))


@pytest.fixture
def netdevs(tmp_path):
    """sys/class/net links into sys/devices as Linux does; a bridge with brif, a bond with lower_*."""
    root = str(tmp_path)
    nic = 'sys/devices/pci0000:00/0000:00:03.0'
    _dir(root, nic + '/net/eth0')
    _link(root, nic + '/net/eth0/device', nic)
    _link(root, 'sys/class/net/eth0', nic + '/net/eth0')
    for name in ('bond0', 'br0', 'n1', 'n2', 'n3', 'n4', 'n5'):
        _dir(root, 'sys/devices/virtual/net/' + name)
        _link(root, 'sys/class/net/' + name, 'sys/devices/virtual/net/' + name)
    _link(root, 'sys/devices/virtual/net/bond0/lower_eth0', nic + '/net/eth0')
    _dir(root, 'sys/devices/virtual/net/br0/brif/bond0')
    for upper, lower in (('n1', 'n2'), ('n2', 'n3'), ('n3', 'n4'), ('n4', 'n5'), ('n5', 'eth0')):
        _link(root, 'sys/devices/virtual/net/%s/lower_%s' % (upper, lower), 'sys/devices/virtual/net/' + lower)
    return root


@pytest.mark.parametrize('ifname, addresses', [
    ('eth0', ['0000:00:03.0']), ('bond0', ['0000:00:03.0']), ('br0', ['0000:00:03.0']),
    ('n2', ['0000:00:03.0']),         # n2 -> n3 -> n4 -> n5 -> eth0: four levels are followed
    ('n1', []),                       # eth0 is five levels down
    ('missing', []),
])
def test_netdev_pci_addresses(netdevs, ifname, addresses):
    assert pci.netdev_pci_addresses(netdevs, ifname) == addresses


# ------------------------------------------------------------------------- /proc: mounts and routes
# /proc/self/mountinfo of a Debian 12 host (root on LVM, /boot and the ESP on sda, a data disk)
MOUNTINFO = (
    '22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n'
    '28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw,errors=remount-ro\n'
    '30 28 8:1 / /boot rw,relatime shared:62 - ext2 /dev/sda1 rw\n'
    '31 30 8:2 / /boot/efi rw,relatime shared:64 - vfat /dev/sda2 rw,fmask=0077,dmask=0077\n'
    '45 28 254:1 /usr /usr rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw,errors=remount-ro\n'
    '47 28 8:17 / /srv rw,relatime shared:66 - xfs /dev/sdb1 rw\n'
    '50 28 0:45 / /run/user/0 rw,nosuid,nodev,relatime shared:300 - tmpfs tmpfs rw,size=401224k,mode=700\n')
# a container: the root is an overlay (an anonymous 0:N device)
CONTAINER = '580 501 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/x/l/A\n'


@pytest.mark.parametrize('text, kwargs, found', [
    (MOUNTINFO, {}, ['254:1', '8:1', '8:2']),
    (MOUNTINFO, {'mountpoints': ('/srv',)}, ['8:17']),
    (CONTAINER, {}, []),
    (None, {}, []),
])
def test_parse_mountinfo(text, kwargs, found):
    assert pci.parse_mountinfo(text, **kwargs) == found


# /proc/net/route and /proc/net/ipv6_route (Linux 6.1)
ROUTE = ('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n'
         'eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n'
         'eth3\t0003000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n'
         'eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n'
         'eth1\t00000000\t0201A8C0\t0003\t0\t0\t300\t00000000\t0\t0\t0\n')
Z = '0' * 32
ROUTE6 = ('%s 00 %s 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth2\n'
          '%s 00 %s 00 %s ffffffff 00000001 00000000 00200200       lo\n'
          '20010db8000000000000000000000000 40 %s 00 %s 00000100 00000001 00000000 00000001     eth3\n'
          '%s 00 %s 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n'
          '%s 00 %s 00 fe800000000000000000000000000002 00000400 00000001 00000000 00000003     eth2\n'
          % (Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z))


@pytest.mark.parametrize('route, route6, devs', [
    (ROUTE, ROUTE6, ['eth0', 'eth1', 'eth2']),
    (ROUTE, None, ['eth0', 'eth1']),
    (None, ROUTE6, ['eth2', 'eth0']),
    ('', '', []),
])
def test_default_route_interfaces(route, route6, devs):
    assert pci.default_route_interfaces(route, route6) == devs


def test_interfaces_with_addresses():
    links = [{'ifname': 'br0', 'addr_info': [{'local': '10.0.2.15', 'prefixlen': 24},
                                             {'local': '10.0.2.16', 'prefixlen': 24}]},
             {'ifname': 'eth1', 'addr_info': [{'local': '192.0.2.1'}]},
             {'ifname': 'eth2'},
             {'ifname': 'eth3', 'addr_info': [{'local': '10.0.2.16'}]}]
    assert pci.interfaces_with_addresses(links, ['10.0.2.15', '10.0.2.16', '', None]) == ['br0', 'eth3']
    assert pci.interfaces_with_addresses(None, ['10.0.2.15']) == []


def test_ovs_topology_args():
    assert ovs.topology_args('/usr/bin/ovs-vsctl') == [
        '/usr/bin/ovs-vsctl', '--timeout=5', '--format=json', '--data=json',
        '--columns=name,ports', 'list', 'Bridge', '--',
        '--columns=_uuid,name,interfaces', 'list', 'Port', '--',
        '--columns=_uuid,name,type,options', 'list', 'Interface']


@pytest.mark.parametrize('value, patterns, lower, hit', [
    ('root', 'root', False, True),
    ('Root', 'root', False, False),
    ('Root', 'root', True, True),
    ('HOST.Example.org', '*.example.ORG', True, True),
    ('root', '!root,*', False, False),
    ('alice', '!root,*', False, True),
    ('alice', 'bob,carol', False, False),
    (None, '*', False, False),
    (22, '2?', False, True),
])
def test_pattern_list_match(value, patterns, lower, hit):
    assert sshd.pattern_list_match(value, patterns, lower) is hit


def test_pattern_list_match_is_case_sensitive_by_default():
    assert sshd.pattern_list_match('Root', 'root') is False


@pytest.mark.parametrize('addr, patterns, hit', [
    ('10.0.0.5', '10.0.0.0/8', True),
    ('10.0.0.5', '10.0.0.1/8', True),            # sshd takes a CIDR with host bits set
    ('10.0.0.5', '!10.0.0.0/8,*', False),
    ('192.0.2.7', '!10.0.0.0/8,*', True),
    ('192.0.2.7', '10.0.0.0/33,192.0.2.*', True),
    ('192.0.2.7', '10.0.0.0/33', False),
    ('192.0.2.7', 'bad/mask', False),
    ('mgmt.example.org', '10.0.0.0/8,mgmt.*', True),
    ('2001:db8::7', '2001:db8::/32', True),
    ('', '*', False),
    (None, '*', False),
])
def test_address_list_match(addr, patterns, hit):
    assert sshd.address_list_match(addr, patterns) is hit


SPEC = {'user': 'alice', 'host': 'WS1.example.org', 'addr': '10.0.0.5', 'laddr': '10.0.2.15', 'lport': 22}


@pytest.mark.parametrize('criteria, groups, applies', [
    ('All', None, True),
    ('User alice', None, True),
    ('User bob', None, False),
    ('All User bob', None, False),
    ('Group wheel', ['users', 'wheel'], True),
    ('Group wheel', ['users'], False),
    ('Group wheel', None, None),
    ('Group wheel User bob', None, False),
    ('Host ws1.example.org', None, True),
    ('Host *.example.net', None, False),
    ('Address 10.0.0.0/8', None, True),
    ('Address 192.0.2.0/24', None, False),
    ('LocalAddress 10.0.2.15', None, True),
    ('LocalAddress 10.0.2.16', None, False),
    ('LocalPort 22', None, True),
    ('LocalPort 2222', None, False),
    ('RDomain vrf1', None, None),
    ('RDomain vrf1 User bob', None, False),
])
def test_criteria_apply(criteria, groups, applies):
    assert sshd.criteria_apply(criteria, SPEC, groups) is applies


DEVICES = {'0000:01:00.0': {'id': '8086:10d3'}, '0000:02:00.0': {'id': '8086:10d3'},
           '0000:03:00.0': {'id': '10de:1eb8'}}


def test_resolve_targets_whole():
    entries = [{'address': '0000:09:00.0'}, {'id': 'dead:beef'}, {'id': '8086:10d3'}, {'address': '0000:02:00.0'},
               {'address': '0000:03:00.0'}]
    assert pci.resolve_targets(DEVICES, entries) == (
        [('0000:01:00.0', {'id': '8086:10d3'}), ('0000:02:00.0', {'id': '8086:10d3'}),
         ('0000:03:00.0', {'address': '0000:03:00.0'})],
        ['PCI device 0000:09:00.0 does not exist on this host',
         'no PCI device matches vendor:device id dead:beef on this host'])


# `ovs-vsctl --format=json --data=json` output of topology_args (Open vSwitch 3.1), with a few
# malformed cells (a row without a name, a map where a uuid belongs, options that are no map)
TOPOLOGY = '\n'.join(json.dumps(doc) for doc in (
    {'headings': ['name', 'ports'], 'data': [
        [7, ['set', [['uuid', 'p1']]]],
        ['br-int', ['set', [['uuid', 'p2'], ['map', []], ['uuid', 'p9'], ['uuid', 'p3'], ['uuid', 'p1']]]],
        ['br-ex', ['uuid', 'p4']]]},
    {'headings': ['_uuid', 'name', 'interfaces'], 'data': [
        [['uuid', 'p3'], 5, ['uuid', 'i3']],
        [['uuid', 'p1'], 'patch-tun', ['uuid', 'i1']],
        [['uuid', 'p2'], 'bond0', ['set', [['uuid', 'i2'], ['map', []], ['uuid', 'i9'], ['uuid', 'i5'],
                                           ['uuid', 'i3']]]],
        [['uuid', 'p4'], 'eth9', ['uuid', 'i4']]]},
    {'headings': ['_uuid', 'name', 'type', 'options'], 'data': [
        [['uuid', 'i5'], 3, '', ['map', []]],
        [['uuid', 'i1'], 'patch-tun', 'patch', ['map', [['peer', 'patch-int']]]],
        [['uuid', 'i2'], 'dpdk0', 'dpdk', ['map', [['dpdk-devargs', '0000:01:00.0']]]],
        [['uuid', 'i3'], 'eth1', '', ['map', []]],
        [['uuid', 'i4'], 'eth9', ['set', []], 'not a map']]}))


def test_parse_topology():
    assert ovs.parse_topology(TOPOLOGY) == ({
        'br-int': [
            {'name': 'bond0', 'interfaces': [
                {'name': 'dpdk0', 'type': 'dpdk', 'peer': None, 'devargs': '0000:01:00.0'},
                {'name': 'eth1', 'type': '', 'peer': None, 'devargs': None}]},
            {'name': 'patch-tun', 'interfaces': [
                {'name': 'patch-tun', 'type': 'patch', 'peer': 'patch-int', 'devargs': None}]}],
        'br-ex': [{'name': 'eth9', 'interfaces': [{'name': 'eth9', 'type': '', 'peer': None, 'devargs': None}]}]},
        None)
    assert ovs.parse_topology('{"headings": [], "data": []}') == (None, 'expected 3 tables from ovs-vsctl, got 1')


@pytest.mark.parametrize('vid, problem', [
    (1, None), (4094, None), (0, 'outside 1-4094'), (4095, 'outside 1-4094'), (-1, 'outside 1-4094'),
    (True, 'not an integer'), ('5', 'not an integer'), (None, 'not an integer'), (5.0, 'not an integer'),
])
def test_vlan_problem(vid, problem):
    assert netnames.vlan_problem(vid) == problem


@pytest.mark.parametrize('value, message', [
    ('01:00', "malformed PCI address '01:00': expected DDDD:BB:SS.F (e.g. 0000:01:00.0)"),
    ('0000:01:20.0', "malformed PCI address '0000:01:20.0': slot 20 is above 1f"),
    ('01:3F.1', "malformed PCI address '01:3F.1': slot 3F is above 1f"),
])
def test_normalize_address_refuses(value, message):
    with pytest.raises(ValueError) as exc:
        pci.normalize_address(value)
    assert str(exc.value) == message


@pytest.mark.parametrize('value, address', [('01:1F.7', '0000:01:1f.7'), (' 0000:3B:00.0 ', '0000:3b:00.0')])
def test_normalize_address(value, address):
    assert pci.normalize_address(value) == address


@pytest.mark.parametrize('text, criteria', [
    ('User=alice,bob Address 10.0.0.0/8 All', [('user', 'alice,bob'), ('address', '10.0.0.0/8'), ('all', None)]),
    ('USER=x HOST y', [('user', 'x'), ('host', 'y')]),
    ('User=a=b', [('user', 'a=b')]),
    ('Host a=b', [('host', 'a=b')]),
    ('X=1 y', [('x=1', 'y')]),
    ('Group', [('group', '')]),
    ('User "a b"', [('user', 'a b')]),
    ('All User=alice Address=10.0.0.0/8', [('all', None), ('user', 'alice'), ('address', '10.0.0.0/8')]),
])
def test_parse_criteria(text, criteria):
    assert sshd.parse_criteria(text) == criteria


@pytest.mark.parametrize('value, pattern, kwargs, hit', [
    ('root', 'r?ot', {}, True),
    ('root', 'r??t', {}, True),
    ('root', 'r?t', {}, False),
    ('Root', 'root', {}, False),
    ('Root', 'ROOT', {'lower': True}, True),
    ('Root', 'r*', {'lower': True}, True),
    ('host.example.org', '*.example.org', {}, True),
    ('hostXexample.org', 'host.example.org', {}, False),
    ('a\nb', 'a*b', {}, True),
    ('a+b', 'a+b', {}, True),
])
def test_wildcard_match(value, pattern, kwargs, hit):
    assert sshd.wildcard_match(value, pattern, **kwargs) is hit


@pytest.mark.parametrize('text, words', [
    ('  a "b c"  d', ['a', 'b c', 'd']),
    ('a\t\tb', ['a', 'b']),
    ('""', ['']),
    ('x""y', ['xy']),
    ('', []),
    (None, []),
])
def test_split_args(text, words):
    assert sshd.split_args(text) == words


def test_libvirt_entry_repr():
    entry = libvirt_conf.parse_entries('# x\nlisten_tls = 0\nlisten_addr = "0.0.0.0"\n')[1]
    assert repr(entry) == "Entry('listen_addr', '0.0.0.0', line=3)"
