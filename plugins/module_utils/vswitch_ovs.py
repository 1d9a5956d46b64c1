# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions for Open vSwitch hardening (controls HVS-VSW-05..09).

The module ``ovs_security`` reads the whole relevant OVSDB state with the one
``ovs-vsctl`` call the facts use too (``ovs.vsctl_args``, parsed by ``ovs.parse_tables``),
and applies every change in one ``ovs-vsctl`` transaction built by ``plan_ovs``.

``classify_target`` / ``target_allowed`` are the one rule for OVSDB manager and OpenFlow
controller targets, used by ``ovs_security`` (what it removes and refuses), the vswitch role's
input check (``target_errors``) and the audit (HVS-VSW-05/06 in ``evaluate``): a plain
``tcp:``/``ptcp:`` target bound to or connecting to a loopback address only (the Neutron Open
vSwitch agent's ``ptcp:6640:127.0.0.1`` and ``tcp:127.0.0.1:6633``) is not remote management
and is allowed while the policy ``hvsec_vswitch_ovs_allow_loopback_tcp`` is true (the default);
a listener on every address or a remote plain-TCP peer never is.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils.netnames import ifname_message, vlan_problem

PLAIN_TCP = ('tcp:', 'ptcp:')
SECURE = ('pssl:', 'ssl:', 'punix:', 'unix:')
SSL_KEYS = ('private_key', 'certificate', 'ca_cert')
POLICY_VAR = 'hvsec_vswitch_ovs_allow_loopback_tcp'
POLICY_DEFAULT = True


def _loopback_host(host):
    """The address of ``host`` when it is a literal loopback address (127.0.0.0/8, ::1, or an
    IPv4-mapped 127.x address), else None. Names (``localhost``) are not trusted: OVS resolves
    them when it connects."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(addr, 'ipv4_mapped', None)
    if addr.is_loopback or (mapped is not None and mapped.is_loopback):
        return str(addr)
    return None


def _split_host(text):
    """``[v6]rest`` or ``host:rest`` -> (host, rest, bracketed)."""
    if text.startswith('['):
        end = text.find(']')
        if end < 0:
            return None, '', True
        return text[1:end], text[end + 1:], True
    host, _sep, rest = text.partition(':')
    return host, rest, False


def classify_target(target):
    """(kind, why) of an OVSDB manager or OpenFlow controller target.

    kind is ``secure`` (ssl:, pssl:, unix:, punix:), ``loopback`` (plain tcp: connecting to, or
    ptcp: listening on, a loopback address only), ``plain`` (plain TCP reachable beyond the host:
    ``ptcp:6640`` listens on every address; also any tcp:/ptcp: target whose address is not a
    literal loopback address, an IPv6 address without brackets included) or ``unknown`` (another
    method, which Open vSwitch would not accept). ``why`` says it for the evidence.
    """
    text = '%s' % (target,)
    method, _sep, rest = text.partition(':')
    lowered = method.lower() + ':'
    if lowered in SECURE:
        return 'secure', 'authenticated or local socket'
    if lowered not in PLAIN_TCP:
        return 'unknown', 'not an Open vSwitch connection method'
    if lowered != method + ':':
        return 'plain', 'method %s is not lower case' % method
    if method == 'ptcp':
        # ptcp:[port][:host]
        _port, sep, host = rest.partition(':')
        if not sep or not host:
            return 'plain', 'listens on every address'
        bracketed = host.startswith('[') and host.endswith(']')
        address = _loopback_host(host[1:-1] if bracketed else host)
        if address and (bracketed or ':' not in host):
            return 'loopback', 'listens on %s only' % address
        return 'plain', 'listens on %s' % host
    # tcp:host[:port]
    host, _rest, bracketed = _split_host(rest)
    if not host:
        return 'plain', 'no address'
    if not bracketed and ':' in _rest:
        return 'plain', 'connects to %s' % rest        # an unbracketed IPv6 address: not trusted
    address = _loopback_host(host)
    if address:
        return 'loopback', 'connects to %s only' % address
    return 'plain', 'connects to %s' % host


def target_allowed(target, allow_loopback_tcp=POLICY_DEFAULT):
    """True when a target may stay (and may be declared): secure, or loopback-only plain TCP
    under the policy. ``unknown`` targets are not removed (Open vSwitch ignores them) but
    cannot be declared (``target_errors``)."""
    kind = classify_target(target)[0]
    return kind in ('secure', 'unknown') or (kind == 'loopback' and allow_loopback_tcp)


def target_errors(targets, where, allow_loopback_tcp=POLICY_DEFAULT):
    """Errors in a declared list of manager or controller targets (``where``: the variable, e.g.
    ``hvsec_vswitch_ovs_controllers[br-int]``). The function the role's input check calls."""
    errors = []
    for index, target in enumerate(targets or []):
        kind, why = classify_target(target)
        if kind == 'secure':
            continue
        if kind == 'loopback' and allow_loopback_tcp:
            continue
        if kind == 'loopback':
            errors.append('%s[%d]: %r is not allowed: plain tcp:/ptcp: is refused (%s) while %s is false; '
                          'use pssl:, ssl:, punix: or unix:' % (where, index, target, why, POLICY_VAR))
        elif kind == 'plain':
            errors.append('%s[%d]: %r is not allowed (plain tcp:/ptcp: is refused: %s); use pssl:, ssl:, punix: '
                          'or unix:, or a loopback-only tcp:/ptcp: target' % (where, index, target, why))
        else:
            errors.append('%s[%d]: %r is not allowed (%s); use pssl:, ssl:, punix: or unix:' % (where, index, target, why))
    return errors


def _refs(value):
    return [u for u in ovs.as_list(value) if isinstance(u, str)]


def build_state(tables):
    """Turn ``ovs.parse_tables`` output into the compact state ``validate``/``plan_ovs`` use."""
    by = dict((name, tables.get(name) or []) for name in ovs.TABLES)

    def targets(rows, column):
        return dict((r.get('_uuid'), r.get(column)) for r in rows
                    if isinstance(r.get('_uuid'), str) and isinstance(r.get(column), str))

    managers = targets(by['Manager'], 'target')
    controllers = targets(by['Controller'], 'target')
    mirrors = targets(by['Mirror'], 'name')
    root = by['Open_vSwitch'][0] if by['Open_vSwitch'] else {}
    ssl_rows = dict((r.get('_uuid'), r) for r in by['SSL'] if isinstance(r.get('_uuid'), str))
    ssl_ref = ovs.as_optional(root.get('ssl'))
    ssl = None
    if isinstance(ssl_ref, str) and ssl_ref in ssl_rows:
        row = ssl_rows[ssl_ref]
        ssl = dict((k, ovs.as_optional(row.get(k))) for k in SSL_KEYS)
    state = {
        'managers': sorted(managers[u] for u in _refs(root.get('manager_options')) if u in managers),
        'ssl': ssl,
        'bridges': {},
        'ports': {},
    }
    for r in by['Bridge']:
        if not isinstance(r.get('name'), str):
            continue
        state['bridges'][r['name']] = {
            'controllers': sorted(controllers[u] for u in _refs(r.get('controller')) if u in controllers),
            'fail_mode': ovs.as_optional(r.get('fail_mode')),
            'mirrors': sorted((mirrors[u], u) for u in _refs(r.get('mirrors')) if u in mirrors),
        }
    for r in by['Port']:
        if not isinstance(r.get('name'), str):
            continue
        state['ports'][r['name']] = {
            'tag': ovs.as_optional(r.get('tag')),
            'trunks': sorted(t for t in ovs.as_list(r.get('trunks')) if isinstance(t, int)),
            'vlan_mode': ovs.as_optional(r.get('vlan_mode')),
        }
    return state


def _policy(params):
    value = params.get('allow_loopback_tcp')
    return POLICY_DEFAULT if value is None else bool(value)


def validate(params, state, path_exists):
    """Errors (list of str) in the OVS variables, checked against the OVSDB state."""
    errors = []
    allow = _policy(params)
    managers = params.get('managers') or []
    errors.extend(target_errors(managers, 'hvsec_vswitch_ovs_managers', allow))
    ssl_targets = any(str(t).startswith(('pssl:', 'ssl:')) for t in managers)
    for br, targets in sorted((params.get('controllers') or {}).items()):
        if br not in state['bridges']:
            errors.append('hvsec_vswitch_ovs_controllers: OVS bridge %s does not exist' % br)
        errors.extend(target_errors(targets, 'hvsec_vswitch_ovs_controllers[%s]' % br, allow))
        ssl_targets = ssl_targets or any(str(t).startswith(('pssl:', 'ssl:')) for t in targets or [])
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
        message = ifname_message(name, 'hvsec_vswitch_ovs_ports[%d].name' % i)
        if message:
            # the name reaches a netdev nftables table, a boot script and a systemd unit name
            errors.append(message)
            continue
        if name in seen:
            errors.append('hvsec_vswitch_ovs_ports[%d]: port %s declared twice' % (i, name))
        seen.add(name)
        if name not in state['ports']:
            errors.append('hvsec_vswitch_ovs_ports[%d]: OVS port %s does not exist' % (i, name))
        if vlan_problem(tag):
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

    allow = _policy(params)
    have = state['managers']
    wanted_m = params.get('managers') or []
    if wanted_m:
        want = sorted(set(wanted_m))
    else:
        # No list given: only the plain-TCP managers go (loopback-only ones stay under the
        # policy), others stay.
        want = [t for t in have if target_allowed(t, allow)]
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
            want = [t for t in b['controllers'] if target_allowed(t, allow)]
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


def loopback_targets(params, state):
    """The loopback-only plain-TCP targets the plan keeps (allowed by the policy), for the module
    result: [{control, where, target, why}]."""
    allow = _policy(params)
    if not allow:
        return []
    kept = []
    managers = sorted(set(params.get('managers') or [])) or state['managers']
    for target in managers:
        kind, why = classify_target(target)
        if kind == 'loopback':
            kept.append({'control': 'HVS-VSW-05', 'where': 'OVSDB manager', 'target': target, 'why': why})
    wanted = params.get('controllers') or {}
    for br in sorted(state['bridges']):
        targets = sorted(set(wanted[br] or [])) if br in wanted else state['bridges'][br]['controllers']
        for target in targets:
            kind, why = classify_target(target)
            if kind == 'loopback':
                kept.append({'control': 'HVS-VSW-06', 'where': 'controller of %s' % br, 'target': target, 'why': why})
    return kept
