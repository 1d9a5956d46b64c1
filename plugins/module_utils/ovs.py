# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open vSwitch state from one read-only ``ovs-vsctl`` call, for the facts and for ovs_security.

The call (``vsctl_args``) is ``ovs-vsctl --timeout=5 --format=json --data=json
--columns=... list Open_vSwitch -- --columns=... list Bridge -- ...`` over the tables and
columns of ``READ``: its output is one JSON table object ({"headings": [...], "data": [[...]]})
per command, in command order. Cells use OVSDB's JSON encoding: ["uuid", U], ["set", [...]],
["map", [[k, v], ...]] or a bare atom (a set with one element is printed as the element).

``parse_tables`` decodes it into {table: [row dicts]}; ``parse_ovs_vsctl`` turns that into
the ``network.ovs`` facts, ``vswitch_ovs.build_state`` into the state ovs_security plans from.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

# Table -> the columns read (both consumers' needs).
READ = (
    ('Open_vSwitch', ('manager_options', 'ssl', 'ovs_version')),
    ('Bridge', ('_uuid', 'name', 'controller', 'fail_mode', 'mirrors', 'ports')),
    ('Port', ('_uuid', 'name', 'tag', 'trunks', 'vlan_mode')),
    ('Controller', ('_uuid', 'target')),
    ('Manager', ('_uuid', 'target')),
    ('Mirror', ('_uuid', 'name')),
    ('SSL', ('_uuid', 'private_key', 'certificate', 'ca_cert')),
)
TABLES = tuple(table for table, dummy in READ)


# pci_passthrough's read: which interfaces (netdevs, bonds, patch peers, DPDK devices) sit below
# each bridge, so an uplink of the bridge holding the management address is protected.
TOPOLOGY = (
    ('Bridge', ('name', 'ports')),
    ('Port', ('_uuid', 'name', 'interfaces')),
    ('Interface', ('_uuid', 'name', 'type', 'options')),
)


def _list_args(binary, read):
    args = [binary, '--timeout=5', '--format=json', '--data=json']
    for index, (table, columns) in enumerate(read):
        if index:
            args.append('--')
        args.extend(['--columns=' + ','.join(columns), 'list', table])
    return args


def vsctl_args(binary):
    """The one read-only call (each ``list`` command with its own ``--columns``)."""
    return _list_args(binary, READ)


def topology_args(binary):
    """The read-only call ``parse_topology`` reads."""
    return _list_args(binary, TOPOLOGY)


def decode_datum(value):
    """OVSDB JSON datum -> Python (uuid -> str, set -> list, map -> dict)."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, payload = value
        if kind in ('uuid', 'named-uuid'):
            return payload
        if kind == 'set' and isinstance(payload, list):
            return [decode_datum(v) for v in payload]
        if kind == 'map' and isinstance(payload, list):
            result = {}
            for pair in payload:
                if isinstance(pair, list) and len(pair) == 2:
                    key = decode_datum(pair[0])
                    if isinstance(key, (str, int, float, bool)):
                        result[key] = decode_datum(pair[1])
            return result
    return value


def as_list(value):
    """A set column (bare atom for one element, ["set", []] for none) as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_optional(value):
    """An optional column (empty set when unset) -> value or None."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def split_json_documents(text):
    """Decode consecutive JSON documents in ``text``. Returns (documents, error)."""
    decoder = json.JSONDecoder()
    docs = []
    pos = 0
    text = text or ''
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs, None
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            return docs, 'invalid JSON from ovs-vsctl: %s' % exc
        docs.append(doc)


def table_rows(doc):
    """One ovs-vsctl JSON table -> list of {column: decoded value}."""
    if not isinstance(doc, dict):
        return None
    headings = doc.get('headings')
    data = doc.get('data')
    if not isinstance(headings, list) or not isinstance(data, list):
        return None
    rows = []
    for raw in data:
        if not isinstance(raw, list):
            continue
        rows.append(dict((str(h), decode_datum(v)) for h, v in zip(headings, raw)))
    return rows


def _by_uuid(rows):
    return dict((r.get('_uuid'), r) for r in rows if isinstance(r.get('_uuid'), str))


def _names(refs, table, column):
    out = []
    for ref in as_list(refs):
        row = table.get(ref) if isinstance(ref, str) else None
        if row is not None and row.get(column) is not None:
            out.append(row.get(column))
    return out


def parse_tables(text, names=TABLES):
    """The call's output -> ({table: [row dicts]}, None) or (None, error)."""
    docs, error = split_json_documents(text)
    if error:
        return None, error
    if len(docs) != len(names):
        return None, 'expected %d tables from ovs-vsctl, got %d' % (len(names), len(docs))
    tables = {}
    for name, doc in zip(names, docs):
        rows = table_rows(doc)
        if rows is None:
            return None, 'table %s: unexpected JSON shape' % name
        tables[name] = rows
    return tables, None


def parse_ovs_vsctl(text):
    """Parse the combined output into the ``network.ovs`` facts. Returns (ovs dict, error)."""
    tables, error = parse_tables(text)
    if error:
        return None, error
    ports = _by_uuid(tables['Port'])
    controllers = _by_uuid(tables['Controller'])
    managers = _by_uuid(tables['Manager'])
    mirrors = _by_uuid(tables['Mirror'])
    manager_targets = []
    ovs_version = None
    for row in tables['Open_vSwitch']:
        manager_targets.extend(_names(row.get('manager_options'), managers, 'target'))
        ovs_version = as_optional(row.get('ovs_version'))
    bridges = []
    for row in sorted(tables['Bridge'], key=lambda r: str(r.get('name'))):
        bridge_ports = []
        for ref in as_list(row.get('ports')):
            port = ports.get(ref) if isinstance(ref, str) else None
            if port is None:
                continue
            tag = as_optional(port.get('tag'))
            bridge_ports.append({
                'name': port.get('name'),
                'tag': tag if isinstance(tag, int) else None,
                'trunks': [t for t in as_list(port.get('trunks')) if isinstance(t, int)],
                'vlan_mode': as_optional(port.get('vlan_mode')),
            })
        bridge_ports.sort(key=lambda p: str(p['name']))
        bridges.append({
            'name': row.get('name'),
            'controllers': _names(row.get('controller'), controllers, 'target'),
            'fail_mode': as_optional(row.get('fail_mode')),
            'mirrors': sorted(str(n) for n in _names(row.get('mirrors'), mirrors, 'name')),
            'ports': bridge_ports,
        })
    return {'managers': sorted(str(t) for t in manager_targets), 'bridges': bridges,
            'version': ovs_version}, None


def parse_topology(text):
    """``topology_args`` output -> ({bridge: [port]}, None) or (None, error).

    A port is {'name', 'interfaces': [{'name', 'type', 'peer', 'devargs'}]}: ``type`` is the
    Interface type ('' for a system netdev, 'internal', 'patch', 'dpdk', 'vxlan', ...), ``peer``
    the other end of a patch port, ``devargs`` the PCI device of a DPDK port (or None).
    """
    tables, error = parse_tables(text, tuple(table for table, dummy in TOPOLOGY))
    if error:
        return None, error
    ports = _by_uuid(tables['Port'])
    interfaces = _by_uuid(tables['Interface'])
    bridges = {}
    for row in tables['Bridge']:
        if not isinstance(row.get('name'), str):
            continue
        out = []
        for ref in as_list(row.get('ports')):
            port = ports.get(ref) if isinstance(ref, str) else None
            if port is None or not isinstance(port.get('name'), str):
                continue
            ifaces = []
            for iref in as_list(port.get('interfaces')):
                iface = interfaces.get(iref) if isinstance(iref, str) else None
                if iface is None or not isinstance(iface.get('name'), str):
                    continue
                options = iface.get('options') if isinstance(iface.get('options'), dict) else {}
                kind = as_optional(iface.get('type'))
                ifaces.append({'name': iface['name'], 'type': kind if isinstance(kind, str) else '',
                               'peer': options.get('peer') if isinstance(options.get('peer'), str) else None,
                               'devargs': options.get('dpdk-devargs')
                               if isinstance(options.get('dpdk-devargs'), str) else None})
            out.append({'name': port['name'], 'interfaces': sorted(ifaces, key=lambda i: i['name'])})
        bridges[row['name']] = sorted(out, key=lambda p: p['name'])
    return bridges, None
