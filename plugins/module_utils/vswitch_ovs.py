# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions for Open vSwitch hardening (controls HVS-VSW-05..09).

The module ``ovs_security`` reads the whole relevant OVSDB state with the one
``ovs-vsctl`` call the facts use too (``ovs.vsctl_args``, parsed by ``ovs.parse_tables``),
and applies every change in one ``ovs-vsctl`` transaction built by ``plan_ovs``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs

PLAIN_TCP = ('tcp:', 'ptcp:')
MANAGER_OK = ('pssl:', 'ssl:', 'punix:', 'unix:')
CONTROLLER_OK = ('pssl:', 'ssl:', 'punix:', 'unix:')
SSL_KEYS = ('private_key', 'certificate', 'ca_cert')


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
