# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions for Open vSwitch hardening (controls HVS-VSW-05..09).

The module ``ovs_security`` reads the whole relevant OVSDB state with one
``ovs-vsctl --format=json`` call (``READ_ARGS``), and applies every change in
one ``ovs-vsctl`` transaction built by ``plan_ovs``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

PLAIN_TCP = ('tcp:', 'ptcp:')
MANAGER_OK = ('pssl:', 'ssl:', 'punix:', 'unix:')
CONTROLLER_OK = ('pssl:', 'ssl:', 'punix:', 'unix:')
SSL_KEYS = ('private_key', 'certificate', 'ca_cert')

# Table -> columns read. One ovs-vsctl call: the commands are joined with "--".
READ_TABLES = (
    ('Open_vSwitch', ('manager_options', 'ssl')),
    ('Manager', ('_uuid', 'target')),
    ('Bridge', ('_uuid', 'name', 'controller', 'fail_mode', 'mirrors', 'ports')),
    ('Controller', ('_uuid', 'target')),
    ('Mirror', ('_uuid', 'name')),
    ('Port', ('_uuid', 'name', 'tag', 'trunks', 'vlan_mode')),
    ('SSL', ('_uuid', 'private_key', 'certificate', 'ca_cert')),
)


def read_args(binary='ovs-vsctl'):
    args = [binary, '--format=json']
    for i, (table, cols) in enumerate(READ_TABLES):
        if i:
            args.append('--')
        args.extend(['--columns=' + ','.join(cols), 'list', table])
    return args


def _atom(v):
    """OVSDB JSON value -> python: uuid -> str, set -> list, map -> dict."""
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
        kind, payload = v
        if kind in ('uuid', 'named-uuid'):
            return payload
        if kind == 'set':
            return [_atom(x) for x in payload]
        if kind == 'map':
            return dict((_atom(k), _atom(x)) for k, x in payload)
    return v


def as_list(v):
    """A set column holding one element is printed as the bare atom."""
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def as_optional(v):
    """An optional column (min 0, max 1) is an empty set when unset."""
    if isinstance(v, list):
        return v[0] if v else None
    return v


def parse_vsctl_json(text):
    """Split the concatenated JSON documents of a multi-command ovs-vsctl call.

    Returns one list of row dicts per command.
    """
    dec = json.JSONDecoder()
    text = text or ''
    pos = 0
    out = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        doc, pos = dec.raw_decode(text, pos)
        heads = doc.get('headings') or []
        rows = []
        for row in doc.get('data') or []:
            rows.append(dict((h, _atom(v)) for h, v in zip(heads, row)))
        out.append(rows)
    return out


def build_state(tables):
    """Turn the READ_TABLES results into a compact state dict."""
    if len(tables) != len(READ_TABLES):
        raise ValueError('expected %d tables from ovs-vsctl, got %d' % (len(READ_TABLES), len(tables)))
    by = dict((name, rows) for (name, _cols), rows in zip(READ_TABLES, tables))
    managers = dict((r['_uuid'], r['target']) for r in by['Manager'])
    controllers = dict((r['_uuid'], r['target']) for r in by['Controller'])
    mirrors = dict((r['_uuid'], r['name']) for r in by['Mirror'])
    ovs = by['Open_vSwitch'][0] if by['Open_vSwitch'] else {}
    ssl_rows = dict((r['_uuid'], r) for r in by['SSL'])
    ssl_ref = as_optional(ovs.get('ssl'))
    ssl = None
    if ssl_ref and ssl_ref in ssl_rows:
        row = ssl_rows[ssl_ref]
        ssl = dict((k, row.get(k)) for k in SSL_KEYS)
    state = {
        'managers': sorted(managers[u] for u in as_list(ovs.get('manager_options')) if u in managers),
        'ssl': ssl,
        'bridges': {},
        'ports': {},
    }
    for r in by['Bridge']:
        state['bridges'][r['name']] = {
            'controllers': sorted(controllers[u] for u in as_list(r.get('controller')) if u in controllers),
            'fail_mode': as_optional(r.get('fail_mode')),
            'mirrors': sorted((mirrors[u], u) for u in as_list(r.get('mirrors')) if u in mirrors),
        }
    for r in by['Port']:
        state['ports'][r['name']] = {
            'tag': as_optional(r.get('tag')),
            'trunks': sorted(as_list(r.get('trunks'))),
            'vlan_mode': as_optional(r.get('vlan_mode')),
        }
    return state


def validate(params, state, path_exists):
    """Errors (list of str) in the OVS variables, checked against the OVSDB state."""
    errors = []
    ssl_targets = False
    for i, t in enumerate(params.get('managers') or []):
        if not isinstance(t, str) or not t.startswith(MANAGER_OK):
            errors.append('hvsec_vswitch_ovs_managers[%d]: %r is not allowed; use pssl:, ssl:, punix: or unix: '
                          '(plain tcp:/ptcp: is refused)' % (i, t))
        elif t.startswith(('pssl:', 'ssl:')):
            ssl_targets = True
    for br, targets in sorted((params.get('controllers') or {}).items()):
        if br not in state['bridges']:
            errors.append('hvsec_vswitch_ovs_controllers: OVS bridge %s does not exist' % br)
        for i, t in enumerate(targets or []):
            if not isinstance(t, str) or not t.startswith(CONTROLLER_OK):
                errors.append('hvsec_vswitch_ovs_controllers[%s][%d]: %r is not allowed; use ssl:, pssl:, unix: or '
                              'punix: (plain tcp:/ptcp: is refused)' % (br, i, t))
            elif t.startswith(('pssl:', 'ssl:')):
                ssl_targets = True
    ssl = params.get('ssl') or {}
    if ssl:
        for k in SSL_KEYS:
            if not ssl.get(k):
                errors.append('hvsec_vswitch_ovs_ssl.%s: missing (private_key, certificate and ca_cert are all needed)' % k)
            elif not path_exists(ssl[k]):
                errors.append('hvsec_vswitch_ovs_ssl.%s: file %s does not exist' % (k, ssl[k]))
    elif ssl_targets and not state.get('ssl'):
        errors.append('hvsec_vswitch_ovs_ssl: ssl:/pssl: targets are declared but no certificates are given '
                      'and Open vSwitch has no SSL configuration')
    seen = set()
    for i, port in enumerate(params.get('ports') or []):
        name = port.get('name')
        tag = port.get('tag')
        if name in seen:
            errors.append('hvsec_vswitch_ovs_ports[%d]: port %s declared twice' % (i, name))
        seen.add(name)
        if name not in state['ports']:
            errors.append('hvsec_vswitch_ovs_ports[%d]: OVS port %s does not exist' % (i, name))
        if not isinstance(tag, int) or isinstance(tag, bool) or not 1 <= tag <= 4094:
            errors.append('hvsec_vswitch_ovs_ports[%d] (%s).tag: VLAN %r is outside 1-4094' % (i, name, tag))
    return errors


def plan_ovs(params, state):
    """Return (actions, vsctl_args): actions are {'control','msg'}, args one transaction."""
    skip = set(params.get('skip') or ())
    actions = []
    args = []

    def cmd(control, msg, *words):
        if control in skip:
            return False
        actions.append({'control': control, 'msg': msg})
        if args:
            args.append('--')
        args.extend(words)
        return True

    ssl = params.get('ssl') or {}
    if ssl and state.get('ssl') != dict((k, ssl[k]) for k in SSL_KEYS):
        cmd('HVS-VSW-05', 'set OVS SSL key/certificate/CA', 'set-ssl', ssl['private_key'], ssl['certificate'], ssl['ca_cert'])

    have = state['managers']
    wanted_m = params.get('managers') or []
    if wanted_m:
        want = sorted(set(wanted_m))
    else:
        # No list given: only the plain-TCP managers go, others stay.
        want = [t for t in have if not t.startswith(PLAIN_TCP)]
    if want != have:
        if want:
            cmd('HVS-VSW-05', 'OVSDB managers %s -> %s' % (have, want), 'set-manager', *want)
        else:
            cmd('HVS-VSW-05', 'remove OVSDB managers %s' % have, 'del-manager')

    wanted_c = params.get('controllers') or {}
    for br in sorted(state['bridges']):
        b = state['bridges'][br]
        if br in wanted_c:
            want = sorted(set(wanted_c[br] or []))
        else:
            want = [t for t in b['controllers'] if not t.startswith(PLAIN_TCP)]
        final = b['controllers']
        if want != b['controllers']:
            if want:
                ok = cmd('HVS-VSW-06', '%s: controllers %s -> %s' % (br, b['controllers'], want), 'set-controller', br, *want)
            else:
                ok = cmd('HVS-VSW-06', '%s: remove controllers %s' % (br, b['controllers']), 'del-controller', br)
            if ok:
                final = want
        if params.get('fail_secure', True) and final and b['fail_mode'] != 'secure':
            cmd('HVS-VSW-07', '%s: fail_mode %s -> secure' % (br, b['fail_mode'] or 'standalone (unset)'),
                'set-fail-mode', br, 'secure')
        allowed = set(params.get('allowed_mirrors') or [])
        for name, uuid in b['mirrors']:
            if name not in allowed:
                cmd('HVS-VSW-08', '%s: remove undeclared mirror %s' % (br, name), 'remove', 'Bridge', br, 'mirrors', uuid)

    for port in params.get('ports') or []:
        name, tag = port['name'], port['tag']
        p = state['ports'].get(name)
        if p is None:
            continue
        if p['tag'] != tag or p['vlan_mode'] not in ('access',):
            cmd('HVS-VSW-09', '%s: tag %s -> %d (access)' % (name, p['tag'], tag),
                'set', 'Port', name, 'tag=%d' % tag, 'vlan_mode=access')
        if p['trunks']:
            cmd('HVS-VSW-09', '%s: clear trunks %s' % (name, p['trunks']), 'clear', 'Port', name, 'trunks')
    return actions, args
