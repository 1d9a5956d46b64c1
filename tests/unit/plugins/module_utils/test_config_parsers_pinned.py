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

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ip_link
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
