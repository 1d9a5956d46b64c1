# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import xml.etree.ElementTree as ET

from ansible_collections.hvsec.hypervisor.plugins.module_utils import nwfilter_xml as nx

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'vswitch')


def _read(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def test_adds_filterref_and_isolates_macvtap():
    new, changes, summaries, ifaces = nx.harden_domain(_read('domain_guest1.xml'), 'clean-traffic')
    assert [c['control'] for c in changes] == ['HVS-VSW-10', 'HVS-VSW-11', 'HVS-VSW-10']
    root = ET.fromstring(new)
    got = [(i.get('type'), i.find('filterref').get('filter') if i.find('filterref') is not None else None)
           for i in root.find('devices').findall('interface')]
    assert got == [('bridge', 'clean-traffic'), ('direct', None), ('network', 'clean-traffic'), ('user', None)]
    assert root.find("devices/interface[@type='direct']/source").get('mode') == 'vepa'
    # The existing filter's parameters are kept when the filter name changes.
    params = root.findall("devices/interface[@type='network']/filterref/parameter")
    assert [(p.get('name'), p.get('value')) for p in params] == [('IP', '192.168.122.23')]
    # --security-info content survives the round trip (redefining must not drop the VNC password).
    assert root.find('devices/graphics').get('passwd') == 's3cret'
    assert len(ifaces) == 3 and all(i.startswith('<interface') for i in ifaces)
    assert summaries[0]['filterref'] == 'clean-traffic'


def test_second_pass_changes_nothing():
    new, changes, _s, _i = nx.harden_domain(_read('domain_guest1.xml'), 'clean-traffic')
    again, changes2, summaries, ifaces = nx.harden_domain(new, 'clean-traffic')
    assert again is None and changes2 == [] and ifaces == []
    assert summaries[1]['mode'] == 'vepa'


def test_switches_respected():
    xml = _read('domain_guest1.xml')
    new, changes, _s, _i = nx.harden_domain(xml, 'clean-traffic', enforce=False, macvtap_mode='private')
    assert [c['control'] for c in changes] == ['HVS-VSW-11']
    assert ET.fromstring(new).find("devices/interface[@type='direct']/source").get('mode') == 'private'
    new, changes, _s, _i = nx.harden_domain(xml, 'clean-traffic', macvtap_isolation=False)
    assert [c['control'] for c in changes] == ['HVS-VSW-10', 'HVS-VSW-10']
    assert nx.harden_domain(xml, 'clean-traffic', skip=('HVS-VSW-10', 'HVS-VSW-11'))[0] is None


def test_nwfilter_list_and_names():
    assert nx.parse_nwfilter_list(_read('nwfilter_list.txt'))[:2] == ['allow-arp', 'allow-dhcp']
    assert 'clean-traffic' in nx.parse_nwfilter_list(_read('nwfilter_list.txt'))
    assert nx.parse_name_list('guest1\n\nguest2\n') == ['guest1', 'guest2']
    assert nx.network_bridge(_read('net_default.xml')) == 'virbr0'
    assert nx.valid_filter_name('clean-traffic')
    assert not nx.valid_filter_name("x' y")
    assert not nx.valid_filter_name('')
