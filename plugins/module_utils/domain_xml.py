# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt XML (domains, networks, nwfilters) -> plain dicts, with xml.etree.

Functions return (data, error): data is None and error a message when the
document cannot be parsed. They never raise.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

_UNIT_KIB = {
    'b': 1.0 / 1024, 'bytes': 1.0 / 1024,
    'k': 1, 'kib': 1, 'kb': 1000.0 / 1024,
    'm': 1024, 'mib': 1024, 'mb': 1000.0 * 1000 / 1024,
    'g': 1024 ** 2, 'gib': 1024 ** 2, 'gb': 1000.0 ** 3 / 1024,
    't': 1024 ** 3, 'tib': 1024 ** 3, 'tb': 1000.0 ** 4 / 1024,
}


def _parse(text):
    if not isinstance(text, str) or not text.strip():
        return None, 'empty document'
    try:
        # libvirt XML never uses DTDs or entities; refuse them (no entity expansion).
        if '<!DOCTYPE' in text or '<!ENTITY' in text:
            return None, 'DTD/entity declarations are not allowed'
        return ET.fromstring(text), None
    except ET.ParseError as exc:
        return None, 'XML parse error: %s' % exc
    except (ValueError, TypeError) as exc:
        return None, 'XML parse error: %s' % exc


def _int(text):
    try:
        return int((text or '').strip())
    except ValueError:
        return None


def memory_kib(element):
    """Size of a <memory unit='...'> element in KiB (int), None when unknown."""
    if element is None:
        return None
    value = _int(element.text)
    if value is None:
        return None
    unit = (element.get('unit') or 'KiB').lower()
    factor = _UNIT_KIB.get(unit)
    if factor is None:
        return None
    return int(value * factor)


def pci_address(element):
    """<address domain= bus= slot= function=/> -> "0000:06:02.0", None when incomplete."""
    if element is None:
        return None
    try:
        domain = int(element.get('domain', '0'), 0)
        bus = int(element.get('bus'), 0)
        slot = int(element.get('slot'), 0)
        function = int(element.get('function', '0'), 0)
    except (TypeError, ValueError):
        return None
    return '%04x:%02x:%02x.%x' % (domain, bus, slot, function)


def _hostdev(el):
    dev_type = el.get('type')
    source = el.find('source')
    item = {'type': dev_type, 'mode': el.get('mode'), 'managed': el.get('managed') == 'yes', 'address': None}
    if source is not None:
        if dev_type == 'pci':
            item['address'] = pci_address(source.find('address'))
        elif dev_type == 'usb':
            vendor = source.find('vendor')
            product = source.find('product')
            if vendor is not None and product is not None:
                item['address'] = '%s:%s' % (vendor.get('id'), product.get('id'))
        elif dev_type == 'mdev':
            addr = source.find('address')
            item['address'] = addr.get('uuid') if addr is not None else None
    return item


def _interface(el):
    source = el.find('source')
    src = None
    mode = None
    if source is not None:
        src = source.get('bridge') or source.get('network') or source.get('dev')
        mode = source.get('mode')
    mac = el.find('mac')
    model = el.find('model')
    filterref = el.find('filterref')
    target = el.find('target')
    vport = el.find('virtualport')
    hostdev_addr = None
    if el.get('type') == 'hostdev' and source is not None:
        hostdev_addr = pci_address(source.find('address'))
    return {
        'type': el.get('type'),
        'source': src if src is not None else hostdev_addr,
        'mac': mac.get('address') if mac is not None else None,
        'model': model.get('type') if model is not None else None,
        'filterref': filterref.get('filter') if filterref is not None else None,
        'mode': mode,
        'target': target.get('dev') if target is not None else None,
        'virtualport': vport.get('type') if vport is not None else None,
    }


def _graphics(el):
    listen = el.get('listen')
    listen_el = el.find('listen')
    if listen_el is not None:
        ltype = listen_el.get('type')
        if ltype == 'address':
            listen = listen_el.get('address', listen)
        elif ltype == 'socket':
            listen = 'socket'
        elif ltype == 'none':
            listen = 'none'
        elif ltype == 'network':
            listen = listen_el.get('address') or listen or 'network:%s' % listen_el.get('network')
    port = _int(el.get('port')) if el.get('port') is not None else None
    return {
        'type': el.get('type'),
        'listen': listen,       # None: the qemu.conf default (vnc_listen / spice_listen) applies
        'autoport': el.get('autoport') == 'yes' or (el.get('autoport') is None and port in (None, -1)),
        'port': port,
        'passwd': el.get('passwd') is not None,
    }


def parse_domain_xml(text):
    """Domain XML (or a <domstatus> status file wrapping it) -> dict."""
    root, error = _parse(text)
    if root is None:
        return None, error
    if root.tag == 'domstatus':
        dom = root.find('domain')
        if dom is None:
            return None, 'domstatus without domain element'
        root = dom
    if root.tag != 'domain':
        return None, 'root element is <%s>, not <domain>' % root.tag
    vcpu = root.find('vcpu')
    devices = root.find('devices')
    if devices is None:
        devices = ET.Element('devices')
    seclabels = [{'type': s.get('type'), 'model': s.get('model')} for s in root.findall('seclabel')]
    data = {
        'name': (root.findtext('name') or '').strip() or None,
        'uuid': (root.findtext('uuid') or '').strip() or None,
        'type': root.get('type'),
        'vcpus': _int(vcpu.text) if vcpu is not None else None,
        'memory_kib': memory_kib(root.find('memory')),
        'hostdevs': [_hostdev(h) for h in devices.findall('hostdev')],
        'interfaces': [_interface(i) for i in devices.findall('interface')],
        'graphics': [_graphics(g) for g in devices.findall('graphics')],
        'seclabels': seclabels,
    }
    return data, None


def parse_network_xml(text):
    root, error = _parse(text)
    if root is None:
        return None, error
    if root.tag != 'network':
        return None, 'root element is <%s>, not <network>' % root.tag
    forward = root.find('forward')
    bridge = root.find('bridge')
    return {
        'name': (root.findtext('name') or '').strip() or None,
        'forward': (forward.get('mode') or 'nat') if forward is not None else None,
        'bridge': bridge.get('name') if bridge is not None else None,
    }, None


def parse_nwfilter_name(text):
    root, error = _parse(text)
    if root is None:
        return None, error
    if root.tag != 'filter':
        return None, 'root element is <%s>, not <filter>' % root.tag
    return root.get('name'), None
