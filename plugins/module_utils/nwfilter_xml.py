# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions on libvirt domain XML for HVS-VSW-10/11/12.

The module ``nwfilter_domains`` gets the XML from ``virsh dumpxml --inactive
--security-info`` and gives the edited XML back to ``virsh define`` (libvirt
validates it); files under /etc/libvirt/qemu are never touched directly.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import xml.etree.ElementTree as ET

FILTERABLE = ('bridge', 'network')
_FILTER_RE = re.compile(r'^[A-Za-z0-9_.:-]+\Z')


def valid_filter_name(name):
    return bool(name) and bool(_FILTER_RE.match(name))


def interface_summary(iface):
    src = iface.find('source')
    fr = iface.find('filterref')
    mac = iface.find('mac')
    target = iface.find('target')
    return {
        'type': iface.get('type'),
        'source': None if src is None else (src.get('bridge') or src.get('network') or src.get('dev')),
        'mode': None if src is None else src.get('mode'),
        'mac': None if mac is None else mac.get('address'),
        'filterref': None if fr is None else fr.get('filter'),
        'target': None if target is None else target.get('dev'),
    }


def harden_domain(xml_text, nwfilter, enforce=True, macvtap_isolation=True, macvtap_mode='vepa', skip=()):
    """Edit one domain definition.

    Returns (new_xml_or_None, changes, interfaces, changed_ifaces) where
    ``changes`` are {'control','msg'}, ``interfaces`` the summaries after the
    edit and ``changed_ifaces`` the serialized <interface> elements that
    changed (for ``virsh update-device --live``).
    """
    root = ET.fromstring(xml_text)
    name = root.findtext('name') or '?'
    changes = []
    changed_ifaces = []
    devices = root.find('devices')
    ifaces = [] if devices is None else devices.findall('interface')
    for idx, iface in enumerate(ifaces):
        info = interface_summary(iface)
        label = '%s: interface %d (%s %s, mac %s)' % (name, idx, info['type'], info['source'], info['mac'])
        touched = False
        if enforce and info['type'] in FILTERABLE and 'HVS-VSW-10' not in skip:
            fr = iface.find('filterref')
            if fr is None:
                fr = ET.SubElement(iface, 'filterref')
                fr.set('filter', nwfilter)
                changes.append({'control': 'HVS-VSW-10', 'msg': '%s: add filterref %s' % (label, nwfilter)})
                touched = True
            elif fr.get('filter') != nwfilter:
                changes.append({'control': 'HVS-VSW-10', 'msg': '%s: filterref %s -> %s' % (label, fr.get('filter'), nwfilter)})
                fr.set('filter', nwfilter)
                touched = True
        if macvtap_isolation and info['type'] == 'direct' and info['mode'] == 'bridge' and 'HVS-VSW-11' not in skip:
            iface.find('source').set('mode', macvtap_mode)
            changes.append({'control': 'HVS-VSW-11', 'msg': '%s: macvtap mode bridge -> %s' % (label, macvtap_mode)})
            touched = True
        if touched:
            changed_ifaces.append(ET.tostring(iface, encoding='unicode'))
    summaries = [interface_summary(i) for i in ifaces]
    if not changes:
        return None, [], summaries, []
    return ET.tostring(root, encoding='unicode'), changes, summaries, changed_ifaces


def parse_name_list(text):
    """``virsh list --all --name`` / ``virsh nwfilter-list`` name column -> names."""
    return [line.strip() for line in (text or '').splitlines() if line.strip()]


def parse_nwfilter_list(text):
    """``virsh nwfilter-list`` table -> filter names."""
    names = []
    for line in (text or '').splitlines():
        parts = line.split()
        if len(parts) == 2 and re.match(r'^[0-9a-f-]{36}$', parts[0]):
            names.append(parts[1])
    return names


def network_bridge(xml_text):
    """Bridge device of a libvirt network definition, or None."""
    root = ET.fromstring(xml_text)
    br = root.find('bridge')
    return None if br is None else br.get('name')
