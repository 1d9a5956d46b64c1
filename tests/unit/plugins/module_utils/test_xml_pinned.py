# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned outputs of the libvirt XML code: domain/network/nwfilter parsing, the nwfilter edit, secrets.

Tables of libvirt XML as ``virsh dumpxml --inactive --security-info`` and the status files under
/run/libvirt/qemu write it, with the exact result each must give. Written to kill the mutants
that `make mutation AREA=parsers` found surviving (docs/testing.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import domain_xml
from ansible_collections.hvsec.hypervisor.plugins.module_utils import nwfilter_xml
from ansible_collections.hvsec.hypervisor.plugins.module_utils import secrets


# ------------------------------------------------------------------------------- domain_xml
@pytest.mark.parametrize('unit, value, kib', [
    (None, '4194304', 4194304),
    ('KiB', '4194304', 4194304), ('k', '2048', 2048), ('kb', '1024', 1000),
    ('b', '1048576', 1024), ('bytes', '2097152', 2048),
    ('MiB', '2048', 2097152), ('M', '1', 1024), ('MB', '1', 976),
    ('GiB', '4', 4194304), ('G', '1', 1048576), ('GB', '1', 976562),
    ('TiB', '1', 1073741824), ('T', '2', 2147483648), ('TB', '1', 976562500),
    ('PiB', '1', None), ('KiB', 'lots', None), ('KiB', '', None), ('KiB', None, None), ('MiB', ' 16 ', 16384),
])
def test_memory_kib_units(unit, value, kib):
    element = ET.Element('memory')
    if unit is not None:
        element.set('unit', unit)
    element.text = value
    assert domain_xml.memory_kib(element) == kib


def test_memory_kib_without_element():
    assert domain_xml.memory_kib(None) is None


@pytest.mark.parametrize('attrs, address', [
    ({'domain': '0x0000', 'bus': '0x06', 'slot': '0x02', 'function': '0x0'}, '0000:06:02.0'),
    ({'domain': '0x0001', 'bus': '0xaf', 'slot': '0x1f', 'function': '0x7'}, '0001:af:1f.7'),
    ({'bus': '6', 'slot': '2'}, '0000:06:02.0'),
    ({'domain': '0', 'bus': '0', 'slot': '0', 'function': '1'}, '0000:00:00.1'),
    ({'slot': '0x02'}, None), ({'bus': '0x06'}, None), ({'bus': 'x', 'slot': '1'}, None),
    ({'bus': '1', 'slot': '1', 'function': 'zz'}, None), ({'domain': '', 'bus': '1', 'slot': '1'}, None),
])
def test_pci_address(attrs, address):
    assert domain_xml.pci_address(ET.Element('address', attrs)) == address


def test_pci_address_without_element():
    assert domain_xml.pci_address(None) is None


DOMAIN = '''<domain type='kvm' id='3'>
  <name> guest1 </name>
  <uuid>6f1c7e0a-4a55-4c1e-9d60-2a5ef2d7b001</uuid>
  <memory unit='KiB'>2097152</memory>
  <vcpu placement='static'>4</vcpu>
  <devices>
    <interface type='bridge'>
      <mac address='52:54:00:aa:bb:01'/>
      <source bridge='br-vm'/>
      <target dev='vnet0'/>
      <model type='virtio'/>
      <filterref filter='clean-traffic'/>
      <virtualport type='openvswitch'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:aa:bb:02'/>
      <source network='default'/>
    </interface>
    <interface type='direct'>
      <source dev='eno1' mode='bridge'/>
    </interface>
    <interface type='hostdev' managed='yes'>
      <source><address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/></source>
    </interface>
    <interface type='user'/>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x06' slot='0x00' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source><vendor id='0x046d'/><product id='0xc52b'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb' managed='no'>
      <source><vendor id='0x046d'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
      <source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='mdev'><source/></hostdev>
    <hostdev mode='capabilities' type='storage'/>
    <graphics type='vnc' port='5900' autoport='no' listen='0.0.0.0' passwd='s3cret'>
      <listen type='address' address='0.0.0.0'/>
    </graphics>
    <graphics type='spice' autoport='yes'>
      <listen type='address'/>
    </graphics>
    <graphics type='vnc' port='-1'><listen type='socket' socket='/run/x.sock'/></graphics>
    <graphics type='vnc' listen='127.0.0.1'><listen type='none'/></graphics>
    <graphics type='spice' port='5901'><listen type='network' network='mgmt'/></graphics>
    <graphics type='spice' port='x' listen='192.0.2.5'><listen type='network' network='mgmt'/></graphics>
    <graphics type='vnc' port='5902' autoport='no'><listen type='network' address='192.0.2.6' network='m'/></graphics>
    <graphics type='vnc'><listen type='weird' address='1.2.3.4'/></graphics>
    <graphics type='vnc' port='5903'><listen type='address' address='192.0.2.7'/></graphics>
    <graphics type='vnc' listen='127.0.0.1' autoport='no' port='-1'><listen type='address'/></graphics>
  </devices>
  <seclabel type='dynamic' model='apparmor' relabel='yes'/>
  <seclabel type='dynamic' model='dac' relabel='yes'/>
</domain>'''

DOMAIN_PARSED = {
    'name': 'guest1', 'uuid': '6f1c7e0a-4a55-4c1e-9d60-2a5ef2d7b001', 'type': 'kvm', 'vcpus': 4, 'memory_kib': 2097152,
    'hostdevs': [
        {'type': 'pci', 'mode': 'subsystem', 'managed': True, 'address': '0000:06:00.0'},
        {'type': 'usb', 'mode': 'subsystem', 'managed': False, 'address': '0x046d:0xc52b'},
        {'type': 'usb', 'mode': 'subsystem', 'managed': False, 'address': None},
        {'type': 'mdev', 'mode': 'subsystem', 'managed': False, 'address': 'c2177883-f1bb-47f0-914d-32a22e3a8804'},
        {'type': 'mdev', 'mode': 'subsystem', 'managed': False, 'address': None},
        {'type': 'storage', 'mode': 'capabilities', 'managed': False, 'address': None},
    ],
    'interfaces': [
        {'type': 'bridge', 'source': 'br-vm', 'mac': '52:54:00:aa:bb:01', 'model': 'virtio', 'filterref': 'clean-traffic',
         'mode': None, 'target': 'vnet0', 'virtualport': 'openvswitch'},
        {'type': 'network', 'source': 'default', 'mac': '52:54:00:aa:bb:02', 'model': None, 'filterref': None,
         'mode': None, 'target': None, 'virtualport': None},
        {'type': 'direct', 'source': 'eno1', 'mac': None, 'model': None, 'filterref': None,
         'mode': 'bridge', 'target': None, 'virtualport': None},
        {'type': 'hostdev', 'source': '0000:3b:02.1', 'mac': None, 'model': None, 'filterref': None,
         'mode': None, 'target': None, 'virtualport': None},
        {'type': 'user', 'source': None, 'mac': None, 'model': None, 'filterref': None,
         'mode': None, 'target': None, 'virtualport': None},
    ],
    'graphics': [
        {'type': 'vnc', 'listen': '0.0.0.0', 'autoport': False, 'port': 5900, 'passwd': True},
        {'type': 'spice', 'listen': None, 'autoport': True, 'port': None, 'passwd': False},
        {'type': 'vnc', 'listen': 'socket', 'autoport': True, 'port': -1, 'passwd': False},
        {'type': 'vnc', 'listen': 'none', 'autoport': True, 'port': None, 'passwd': False},
        {'type': 'spice', 'listen': 'network:mgmt', 'autoport': False, 'port': 5901, 'passwd': False},
        {'type': 'spice', 'listen': '192.0.2.5', 'autoport': True, 'port': None, 'passwd': False},
        {'type': 'vnc', 'listen': '192.0.2.6', 'autoport': False, 'port': 5902, 'passwd': False},
        {'type': 'vnc', 'listen': None, 'autoport': True, 'port': None, 'passwd': False},
        {'type': 'vnc', 'listen': '192.0.2.7', 'autoport': False, 'port': 5903, 'passwd': False},
        {'type': 'vnc', 'listen': '127.0.0.1', 'autoport': False, 'port': -1, 'passwd': False},
    ],
    'seclabels': [{'type': 'dynamic', 'model': 'apparmor'}, {'type': 'dynamic', 'model': 'dac'}],
}


def test_parse_domain_xml_whole_result():
    assert domain_xml.parse_domain_xml(DOMAIN) == (DOMAIN_PARSED, None)


def test_parse_domstatus_wrapping_a_domain():
    status = "<domstatus state='running' reason='booted' pid='4242'><taint flag='high-privileges'/>%s</domstatus>" % DOMAIN
    assert domain_xml.parse_domain_xml(status) == (DOMAIN_PARSED, None)


@pytest.mark.parametrize('text, parsed', [
    ("<domain type='qemu'><name/></domain>",
     {'name': None, 'uuid': None, 'type': 'qemu', 'vcpus': None, 'memory_kib': None, 'hostdevs': [], 'interfaces': [],
      'graphics': [], 'seclabels': []}),
    ("<domain type='qemu'><name>  </name></domain>",
     {'name': None, 'uuid': None, 'type': 'qemu', 'vcpus': None, 'memory_kib': None, 'hostdevs': [], 'interfaces': [],
      'graphics': [], 'seclabels': []}),
    ("<domain><name>a</name><uuid> u </uuid><vcpu>two</vcpu><memory unit='GiB'>1</memory><devices/></domain>",
     {'name': 'a', 'uuid': 'u', 'type': None, 'vcpus': None, 'memory_kib': 1048576, 'hostdevs': [], 'interfaces': [],
      'graphics': [], 'seclabels': []}),
])
def test_parse_domain_xml_sparse(text, parsed):
    assert domain_xml.parse_domain_xml(text) == (parsed, None)


@pytest.mark.parametrize('text, error', [
    ('', 'empty document'),
    ('  \n ', 'empty document'),
    (None, 'empty document'),
    (b'<domain/>', 'empty document'),
    ('<!DOCTYPE domain [<!ENTITY x "y">]><domain/>', 'DTD/entity declarations are not allowed'),
    ('<!ENTITY x "y"><domain/>', 'DTD/entity declarations are not allowed'),
    ('<!DOCTYPE domain SYSTEM "domain.dtd"><domain/>', 'DTD/entity declarations are not allowed'),
    # invalid UTF-8 read with surrogateescape: a lone surrogate cannot be encoded for the parser
    ('<domain><name>\udcff</name></domain>',
     "XML parse error: 'utf-8' codec can't encode character '\\udcff' in position 14: surrogates not allowed"),
    ('<domstatus state="running"/>', 'domstatus without domain element'),
    ('<domstatus><network/></domstatus>', 'domstatus without domain element'),
    ('<network/>', 'root element is <network>, not <domain>'),
])
def test_parse_domain_xml_errors(text, error):
    assert domain_xml.parse_domain_xml(text) == (None, error)


@pytest.mark.parametrize('text', ['<domain>', '<domain></network>', 'not xml', '<domain>\x00</domain>'])
def test_parse_errors_name_the_parser_error(text):
    data, error = domain_xml.parse_domain_xml(text)
    assert data is None
    assert error.startswith('XML parse error: ') and len(error) > len('XML parse error: ')


@pytest.mark.parametrize('text, parsed, error', [
    ("<network><name> default </name><forward mode='nat'/><bridge name='virbr0' stp='on'/></network>",
     {'name': 'default', 'forward': 'nat', 'bridge': 'virbr0'}, None),
    ("<network><name>iso</name><bridge name='virbr1'/></network>", {'name': 'iso', 'forward': None, 'bridge': 'virbr1'}, None),
    ("<network><name>r</name><forward/></network>", {'name': 'r', 'forward': 'nat', 'bridge': None}, None),
    ("<network><forward mode='bridge'/><bridge/></network>", {'name': None, 'forward': 'bridge', 'bridge': None}, None),
    ('<domain/>', None, 'root element is <domain>, not <network>'),
    ('', None, 'empty document'),
])
def test_parse_network_xml(text, parsed, error):
    assert domain_xml.parse_network_xml(text) == (parsed, error)


@pytest.mark.parametrize('text, name, error', [
    ("<filter name='clean-traffic' chain='root'><filterref filter='no-mac-spoofing'/></filter>", 'clean-traffic', None),
    ('<filter chain="root"/>', None, None),
    ('<rule/>', None, 'root element is <rule>, not <filter>'),
    ('', None, 'empty document'),
])
def test_parse_nwfilter_name(text, name, error):
    assert domain_xml.parse_nwfilter_name(text) == (name, error)


# ----------------------------------------------------------------------------- nwfilter_xml
@pytest.mark.parametrize('name, valid', [
    ('clean-traffic', True), ('hvsec-clean:v1.0_a', True), ('A', True),
    ('', False), (None, False), ('a b', False), ('x\n', False), ('a/b', False), ("a'", False), ('é', False),
])
def test_valid_filter_name(name, valid):
    assert nwfilter_xml.valid_filter_name(name) is valid


def _iface_el(text):
    return ET.fromstring(text)


@pytest.mark.parametrize('text, summary', [
    ("<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet1'/>"
     "<filterref filter='clean-traffic'/></interface>",
     {'type': 'bridge', 'source': 'br0', 'mode': None, 'mac': '52:54:00:00:00:01', 'filterref': 'clean-traffic',
      'target': 'vnet1'}),
    ("<interface type='network'><source network='default' bridge='virbr0'/></interface>",
     {'type': 'network', 'source': 'virbr0', 'mode': None, 'mac': None, 'filterref': None, 'target': None}),
    ("<interface type='network'><source network='default'/></interface>",
     {'type': 'network', 'source': 'default', 'mode': None, 'mac': None, 'filterref': None, 'target': None}),
    ("<interface type='direct'><source dev='eno1' mode='vepa'/></interface>",
     {'type': 'direct', 'source': 'eno1', 'mode': 'vepa', 'mac': None, 'filterref': None, 'target': None}),
    ("<interface type='user'/>",
     {'type': 'user', 'source': None, 'mode': None, 'mac': None, 'filterref': None, 'target': None}),
])
def test_interface_summary(text, summary):
    assert nwfilter_xml.interface_summary(_iface_el(text)) == summary


GUEST = ("<domain type='kvm'><name>web1</name><devices>"
         "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>"
         "<interface type='network'><mac address='52:54:00:00:00:02'/><source network='default'/>"
         "<filterref filter='allow-all'/></interface>"
         "<interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eno1' mode='bridge'/></interface>"
         "<interface type='direct'><source dev='eno2' mode='private'/></interface>"
         "<interface type='bridge'><source bridge='br1'/><filterref filter='hvsec-clean'/></interface>"
         "<interface type='user'/>"
         "</devices></domain>")


def test_harden_domain_every_change():
    new, changes, summaries, changed = nwfilter_xml.harden_domain(GUEST, 'hvsec-clean')
    assert changes == [
        {'control': 'HVS-VSW-10', 'msg': 'web1: interface 0 (bridge br0, mac 52:54:00:00:00:01): add filterref hvsec-clean'},
        {'control': 'HVS-VSW-10',
         'msg': 'web1: interface 1 (network default, mac 52:54:00:00:00:02): filterref allow-all -> hvsec-clean'},
        {'control': 'HVS-VSW-11', 'msg': 'web1: interface 2 (direct eno1, mac 52:54:00:00:00:03): macvtap mode bridge -> vepa'},
    ]
    assert [(s['type'], s['source'], s['mode'], s['filterref']) for s in summaries] == [
        ('bridge', 'br0', None, 'hvsec-clean'), ('network', 'default', None, 'hvsec-clean'),
        ('direct', 'eno1', 'vepa', None), ('direct', 'eno2', 'private', None), ('bridge', 'br1', None, 'hvsec-clean'),
        ('user', None, None, None)]
    assert changed == [
        '<interface type="bridge"><mac address="52:54:00:00:00:01" /><source bridge="br0" />'
        '<filterref filter="hvsec-clean" /></interface>',
        '<interface type="network"><mac address="52:54:00:00:00:02" /><source network="default" />'
        '<filterref filter="hvsec-clean" /></interface>',
        '<interface type="direct"><mac address="52:54:00:00:00:03" /><source dev="eno1" mode="vepa" /></interface>',
    ]
    root = ET.fromstring(new)
    assert root.findtext('name') == 'web1'
    assert [ET.tostring(i, encoding='unicode') for i in root.find('devices').findall('interface')][:3] == changed
    # the edited definition is stable: a second pass changes nothing
    assert nwfilter_xml.harden_domain(new, 'hvsec-clean') == (None, [], summaries, [])


@pytest.mark.parametrize('kwargs, controls', [
    ({'enforce': False}, ['HVS-VSW-11']),
    ({'macvtap_isolation': False}, ['HVS-VSW-10', 'HVS-VSW-10']),
    ({'skip': ('HVS-VSW-10',)}, ['HVS-VSW-11']),
    ({'skip': ('HVS-VSW-11',)}, ['HVS-VSW-10', 'HVS-VSW-10']),
    ({'enforce': False, 'macvtap_isolation': False}, []),
])
def test_harden_domain_switches(kwargs, controls):
    new, changes, _summaries, changed = nwfilter_xml.harden_domain(GUEST, 'hvsec-clean', **kwargs)
    assert [c['control'] for c in changes] == controls
    assert len(changed) == len(controls)
    assert (new is None) == (not controls)


def test_harden_domain_macvtap_mode_and_unnamed_domain():
    text = "<domain><devices><interface type='direct'><source dev='eno1' mode='bridge'/></interface></devices></domain>"
    new, changes, summaries, changed = nwfilter_xml.harden_domain(text, 'f', macvtap_mode='private')
    assert changes == [{'control': 'HVS-VSW-11', 'msg': '?: interface 0 (direct eno1, mac None): macvtap mode bridge -> private'}]
    assert summaries == [{'type': 'direct', 'source': 'eno1', 'mode': 'private', 'mac': None, 'filterref': None, 'target': None}]
    assert changed == ['<interface type="direct"><source dev="eno1" mode="private" /></interface>']
    assert new == ('<domain><devices><interface type="direct"><source dev="eno1" mode="private" /></interface>'
                   '</devices></domain>')


def test_harden_domain_without_devices():
    assert nwfilter_xml.harden_domain('<domain><name>x</name></domain>', 'f') == (None, [], [], [])


def test_parse_name_and_filter_lists():
    assert nwfilter_xml.parse_name_list(' web1\n\ndb2  \n \n') == ['web1', 'db2']
    assert nwfilter_xml.parse_name_list(None) == []
    table = (' UUID                                   Name\n'
             '------------------------------------------------------------------\n'
             ' 5f0c8f4e-1c8c-4a0e-9d5c-0c2e0f0d7f5a   allow-arp\n'
             ' 0a1b2c3d-0000-4000-8000-00000000abcd   clean-traffic\n'
             ' 0A1B2C3D-0000-4000-8000-00000000ABCD   upper-case-uuid\n'
             ' 0a1b2c3d-0000-4000-8000-00000000abc    short-uuid\n'
             ' 0a1b2c3d-0000-4000-8000-00000000abcd   two words\n'
             'x0a1b2c3d-0000-4000-8000-00000000abcd   prefixed\n\n')
    assert nwfilter_xml.parse_nwfilter_list(table) == ['allow-arp', 'clean-traffic']
    assert nwfilter_xml.parse_nwfilter_list(None) == []


@pytest.mark.parametrize('text, bridge', [
    ("<network><name>default</name><bridge name='virbr0' stp='on' delay='0'/></network>", 'virbr0'),
    ('<network><name>x</name></network>', None),
    ('<network><bridge/></network>', None),
])
def test_network_bridge(text, bridge):
    assert nwfilter_xml.network_bridge(text) == bridge


def test_constants():
    assert nwfilter_xml.FILTERABLE == ('bridge', 'network')


# ---------------------------------------------------------------------------------- secrets
@pytest.mark.parametrize('mapping, values', [
    ({'vnc_password': 'v3ry', 'spice_password': 'sp1ce', 'vnc_listen': '0.0.0.0', 'vnc_tls': 1}, ['v3ry', 'sp1ce']),
    ({'VNC_PASSWORD': 'UP', 'tls_priority': 'x', 'ssh_passphrase': 'pp', 'auth_token': 't', 'migrate_secret': 's',
      'passwd': 'p'}, ['UP', 'pp', 't', 's', 'p']),
    ({'vnc_password': None, 'spice_password': '', 'x_secret': ['a', '', 'b']}, ['a', 'b']),
    ({'secret_uuid': 5, 7: 'seven'}, ['5']),
    ({}, []), (None, []),
])
def test_secret_values(mapping, values):
    assert secrets.secret_values(mapping) == values


@pytest.mark.parametrize('text, values', [
    ("<graphics type='vnc' port='-1' passwd='s3cret'/>", ['s3cret', 's3cret', 's3cret']),
    ('<graphics type="vnc" passwd="two words"/>', ['two words', 'two words', 'two words']),
    ("<graphics passwd = 'a&amp;b&lt;c&gt;&quot;&apos;'/>",
     ['a&amp;b&lt;c&gt;&quot;&apos;', 'a&b<c>"\'', 'a&amp;b&lt;c&gt;&quot;\'']),
    ("<graphics passwd='&amp;lt;'/>", ['&amp;lt;', '&lt;', '&amp;lt;']),
    ("<graphics type='spice' passwd=''/><graphics type='vnc' passwd='x'/>", ['x', 'x', 'x']),
    ("<graphics mypasswd='no' passwdx='no'/>", []),
    ("<graphics type='vnc'/>", []),
    (None, []),
])
def test_xml_passwords(text, values):
    assert secrets.xml_passwords(text) == values


class _Module:
    def __init__(self):
        self.no_log_values = set()


def test_hide_registers_non_empty_values():
    module = _Module()
    secrets.hide(module, ['s3cret', '', None, 'two words', 's3cret'])
    assert module.no_log_values == {'s3cret', 'two words'}
