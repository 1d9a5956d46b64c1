# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluators of the mgmt_plane area: libvirt remote access and sockets, consoles, QEMU confinement, sshd, firewall, audit.

Each function judges one control and is named as the ``evaluator`` of its record in
``controls/mgmt_plane.yml``; ``EVALUATORS`` maps those names to the functions.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import block_name, spec_text
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.eval_common import (
    evaluator_table, fact_if_present, Unknown, get_fact, opt_fact, note_text, unreadable, truthy, to_int, fmt_list, outcome,
    na_without_libvirt, libvirt_domains,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import default_settings


def _words(value):
    """A list from a list or a comma/space separated string."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(_words(item))
        return out
    return [w for w in str(value).replace(',', ' ').split() if w]


def _is_loopback(address):
    address = str(address or '').strip().strip('[]').lower()
    return address.startswith('127.') or address in ('::1', 'localhost')


def _libvirt_conf(facts, name):
    """Effective config of one libvirt file; Unknown when it could not be parsed/read."""
    errors = opt_fact(facts, 'libvirt.config_errors') or {}
    if name in errors:
        raise Unknown('libvirt.config.%s' % name, hint='%s.conf: %s' % (name, errors[name]))
    configs = opt_fact(facts, 'libvirt.config')
    if isinstance(configs, dict) and configs.get(name) is None:
        # Name this file's own note: the generic lookup matches notes by substring, and
        # "qemu" is in /etc/libvirt/virtqemud.conf too (a host without virtqemud.conf has a
        # "not found" note for it, which is no reason for an unreadable qemu.conf).
        path = '/etc/libvirt/%s.conf' % name
        notes = [n for n in opt_fact(facts, 'notes') or [] if isinstance(n, dict) and n.get('path') == path]
        raise Unknown('libvirt.config.%s' % name,
                      hint=note_text(notes[0]) if notes else '%s: unreadable (no reason reported)' % path)
    return get_fact(facts, 'libvirt.config.%s' % name)


# libvirt daemons. The QEMU driver runs in libvirtd (monolithic) or virtqemud (modular daemons,
# the default of Fedora and RHEL 9); remote clients connect to libvirtd or virtproxyd. Each daemon
# has its own file /etc/libvirt/NAME.conf and its own read-write socket.
DRIVER_DAEMONS = ('libvirtd', 'virtqemud')


FRONT_DAEMONS = ('libvirtd', 'virtproxyd')


RW_SOCKETS = {'libvirtd': '/run/libvirt/libvirt-sock', 'virtproxyd': '/run/libvirt/libvirt-sock',
              'virtqemud': '/run/libvirt/virtqemud-sock'}


def _unit_daemon(unit):
    """Daemon of a systemd unit name: virtqemud-ro.socket -> virtqemud."""
    return str(unit).split('.', 1)[0].split('-', 1)[0]


def _daemon_in_use(facts, name):
    """Why daemon ``name`` counts as in use (its process runs, one of its sockets or its service
    is enabled, or its own socket exists), or None."""
    if name in (opt_fact(facts, 'processes') or []):
        return '%s running' % name
    for key in ('sockets', 'services'):
        units = opt_fact(facts, 'libvirt.%s' % key) or {}
        for unit in sorted(units):
            if _unit_daemon(unit) == name and str(units[unit]).lower() == 'enabled':
                return '%s enabled' % unit
    path = RW_SOCKETS.get(name)
    # libvirt-sock is libvirtd's or virtproxyd's: only a socket of one daemon tells which is in use
    if list(RW_SOCKETS.values()).count(path) == 1 and path in (opt_fact(facts, 'libvirt.unix_sockets') or {}):
        return '%s exists' % path
    return None


def _daemons_in_use(facts, candidates):
    return [name for name in candidates if _daemon_in_use(facts, name)]


def _active_daemons(facts):
    """The libvirt front-end daemons in use: libvirtd (monolithic), virtproxyd (modular).

    When nothing tells, libvirtd (the default of Debian 12 and of older RHEL) is assumed.
    """
    return _daemons_in_use(facts, FRONT_DAEMONS) or ['libvirtd']


def _driver_daemons(facts):
    """The daemons running the QEMU driver: libvirtd and/or virtqemud (libvirtd when nothing tells).

    Guest lifecycle auditing and API access control happen there, so audit_* and access_drivers
    are read from their files.
    """
    return _daemons_in_use(facts, DRIVER_DAEMONS) or ['libvirtd']


def _rw_daemons(facts):
    """Every daemon in use that has a read-write socket (front-ends and QEMU driver daemons)."""
    names = _daemons_in_use(facts, ('libvirtd', 'virtqemud', 'virtproxyd'))
    return names or ['libvirtd']


def _daemon_confs(facts, names=None):
    """The (name, effective config) pairs of the active libvirt daemons; Unknown when unreadable."""
    out = []
    for name in names or _active_daemons(facts):
        out.append((name, _libvirt_conf(facts, name)))
    return out


def _sockets(facts):
    return opt_fact(facts, 'libvirt.sockets') or {}


def _socket_enabled(facts, suffix):
    return sorted(name for name, state in _sockets(facts).items()
                  if name.endswith(suffix) and str(state).lower() in ('enabled', 'active', 'static', 'true'))


def _listeners(facts):
    return get_fact(facts, 'listeners')


def _listening_flag(facts):
    args = opt_fact(facts, 'libvirt.daemon_args') or []
    return '--listen' in args or '-l' in args


def _tls_on(facts, name, conf):
    """TLS listener of ``name``: its -tls socket enabled, or listen_tls with --listen."""
    sockets = _socket_enabled(facts, '-tls.socket')
    if any(sock.startswith(name) for sock in sockets):
        return True
    if name == 'libvirtd' and truthy(conf.get('listen_tls', 0)) and _listening_flag(facts):
        return True
    return any(to_int(l.get('port')) == to_int(conf.get('tls_port', 16514)) and l.get('process') == name
               for l in opt_fact(facts, 'listeners') or [])


_AUTHENTICATING = ('polkit', 'sasl')


def _rw_socket_access(facts, name, conf):
    """(mode, group, where) of the read-write socket of daemon ``name``.

    The socket itself when it exists (the best evidence); else, under socket activation (its
    .socket unit enabled), the unit's SocketMode/SocketGroup, which replace the daemon's
    unix_sock_rw_perms/unix_sock_group; else the daemon's own file.
    """
    path = RW_SOCKETS[name]
    real = (opt_fact(facts, 'libvirt.unix_sockets') or {}).get(path)
    if real:
        return str(real.get('mode')), real.get('group'), path
    unit = '%s.socket' % name
    if str(_sockets(facts).get(unit)).lower() == 'enabled':
        libvirt = get_fact(facts, 'libvirt')
        if 'socket_units' in libvirt:   # facts of this schema read the unit files
            settings = (libvirt.get('socket_units') or {}).get(unit)
            if settings is None:
                raise Unknown('libvirt.socket_units.%s' % unit)
            return str(settings.get('mode')), settings.get('group') or 'root', '%s (%s)' % (
                unit, ', '.join(settings.get('files') or []) or 'systemd defaults')
    return str(conf.get('unix_sock_rw_perms') or '0700'), conf.get('unix_sock_group'), '%s.conf' % name


def _network_listener(listen):
    """False for a console without a network listener: ``<listen type='socket'/>`` (a UNIX socket)
    or ``type='none'`` (no listener), as the facts report them."""
    return str(listen) not in ('socket', 'none')


def _console_listen(facts, s, kind):
    na = na_without_libvirt(facts)
    if na:
        return na
    qemu = _libvirt_conf(facts, 'qemu')
    mgmt = str(s.get('hvsec_mgmt_plane_address') or '')
    default = '127.0.0.1'
    addresses = [('qemu.conf', qemu.get('%s_listen' % kind) or default)]
    for dom in libvirt_domains(facts):
        for g in dom.get('graphics') or []:
            if g.get('type') == kind and g.get('listen'):
                addresses.append((dom.get('name'), g['listen']))
    bad = ['%s %s' % (where, addr) for where, addr in addresses
           if _network_listener(addr) and not (_is_loopback(addr) or (mgmt and str(addr) == mgmt))]
    return outcome(bad, '%s listeners on loopback/management address (%s)' % (kind.upper(), fmt_list(sorted(set(a for w, a in addresses)))),
                   '%s listens beyond loopback/management address' % kind.upper())


_NONROOT_DEFAULT_OS = ('debian', 'ubuntu', 'rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'suse', 'opensuse')


def _sshd(facts):
    sshd = fact_if_present(facts, 'sshd')
    if sshd is None:
        return None
    if sshd.get('effective') is None:
        raise Unknown('sshd.effective', hint='sshd -T failed: %s' % (sshd.get('error') or 'no output'))
    return sshd['effective']


def _ssh_val(eff, key, default=''):
    value = eff.get(key, default)
    if isinstance(value, list):
        value = value[0] if value else default
    return str(value).lower()


def _ssh_connections(facts, eff):
    """``[(connection, effective)]`` for every connection the facts read with ``sshd -T -C``
    (outside/inside the administrator networks, root, administrator users, one per Match block);
    ``effective`` is the global reading with that connection's differences applied. Empty for
    facts without per-connection readings. Unknown when sshd failed for a connection."""
    conns = (opt_fact(facts, 'sshd') or {}).get('connections') or []
    out = []
    for conn in conns:
        if conn.get('error') is not None or conn.get('differs') is None:
            raise Unknown('sshd.connections', hint='sshd -T -C for %s failed: %s'
                          % (spec_text(conn.get('spec') or {}), conn.get('error') or 'no output'))
        merged = dict(eff)
        for key, value in conn['differs'].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        out.append((conn, merged))
    return out


def _ssh_origin(facts, conn, key):
    """The Match block that sets ``key`` for this connection (sshd uses the first that applies)."""
    blocks = (opt_fact(facts, 'sshd') or {}).get('match_blocks') or []
    for index in conn.get('matched') or []:
        if 0 <= index < len(blocks) and key in (blocks[index].get('settings') or {}):
            return block_name(blocks[index])
    return 'no Match block named'


def _ssh_per_connection(facts, eff, global_bad, check):
    """Failures of ``check(connection, effective)`` (a message or None) over every connection
    read with ``sshd -T -C``, after ``global_bad``. A failed per-connection reading is an error
    unless the global values fail already."""
    try:
        conns = _ssh_connections(facts, eff)
    except Unknown:
        if global_bad:
            return global_bad, 0
        raise
    bad = list(global_bad)
    for conn, merged in conns:
        problem = check(conn, merged)
        if problem and problem not in bad:
            bad.append(problem)
    return bad, len(conns)


def _ssh_checked(count):
    return ' (also for %d connection(s) read with sshd -T -C)' % count if count else ''


def _mgmt_port(port, s, params):
    """True for a management port: one of ``params['ports']`` or within one of ``params['port_ranges']``
    (a range bound not set as an integer in ``s`` has its role's default)."""
    if port in params['ports']:
        return True
    defaults = None
    for span in params['port_ranges']:
        bounds = []
        for key in (span['first'], span['last']):
            value = to_int(s.get(key))
            if value is None:
                defaults = defaults if defaults is not None else default_settings()
                value = to_int(defaults.get(key))
            bounds.append(value)
        if bounds[0] <= port <= bounds[1]:
            return True
    return False


def libvirt_tcp_authenticated(facts, s, control):
    """HVS-MGMT-01: libvirt has no unauthenticated plain TCP listener."""
    bad = []
    tcp_sockets = _socket_enabled(facts, '-tcp.socket')
    for name, conf in _daemon_confs(facts):
        active = truthy(conf.get('listen_tcp', 0)) or any(sock.startswith(name) for sock in tcp_sockets)
        auth = str(conf.get('auth_tcp') or 'sasl').lower()
        if active and auth != 'sasl':
            bad.append('%s TCP listener with auth_tcp=%s' % (name, auth))
    if bad:
        return ('fail', '; '.join(bad))
    if tcp_sockets:
        return ('pass', 'TCP socket(s) %s enabled with SASL authentication' % fmt_list(tcp_sockets))
    return ('pass', 'no libvirt plain TCP listener')


def libvirt_tls_verifies_clients(facts, s, control):
    """HVS-MGMT-02: libvirt TLS verifies client certificates."""
    bad = []
    active = []
    for name, conf in _daemon_confs(facts):
        if not _tls_on(facts, name, conf):
            continue
        active.append(name)
        if truthy(conf.get('tls_no_verify_certificate', 0)):
            bad.append('%s tls_no_verify_certificate=1' % name)
        if not conf.get('tls_allowed_dn_list'):
            bad.append('%s tls_allowed_dn_list not set' % name)
    if not active:
        return ('not_applicable', 'no libvirt TLS listener')
    return outcome(bad, 'TLS on %s verifies client certificates against tls_allowed_dn_list' % fmt_list(active),
                   'TLS')


def libvirt_rw_socket_restricted(facts, s, control):
    """HVS-MGMT-03: libvirt read-write UNIX socket authenticated or restricted to its group."""
    bad = []
    shown = []
    for name, conf in _daemon_confs(facts, _rw_daemons(facts)):
        auth = str(conf.get('auth_unix_rw') or 'polkit').lower()
        perms, group, where = _rw_socket_access(facts, name, conf)
        if auth in _AUTHENTICATING:
            # Every read-write connection is authorized (polkit: org.libvirt.unix.manage),
            # so a socket anyone may connect to is libvirt's intended, safe default.
            shown.append('%s auth_unix_rw=%s (socket %s group %s from %s)' % (name, auth, perms, group, where))
            continue
        shown.append('%s auth_unix_rw=%s, socket %s group %s from %s' % (name, auth, perms, group, where))
        try:
            other = int(perms, 8) & 0o7
        except ValueError:
            other = 7
        if other:
            bad.append('%s auth_unix_rw=%s and unix_sock_rw_perms=%s (from %s) grants access to others'
                       % (name, auth, perms, where))
        if not group:
            bad.append('%s unix_sock_group not set' % name)
    return outcome(bad, '; '.join(shown), 'socket')


def libvirt_access_drivers(facts, s, control):
    """HVS-MGMT-04: libvirt access control driver (polkit) enabled."""
    bad = []
    for name, conf in _daemon_confs(facts, _driver_daemons(facts)):
        drivers = _words(conf.get('access_drivers'))
        if 'polkit' not in drivers:
            bad.append('%s access_drivers=%s' % (name, drivers or '[]'))
    return outcome(bad, 'access_drivers include polkit (%s)' % fmt_list(
        '%s.conf' % n for n in _driver_daemons(facts)), 'no polkit access driver')


def vnc_listen_restricted(facts, s, control):
    """HVS-MGMT-05: VNC consoles listen on loopback or the management address."""
    return _console_listen(facts, s, 'vnc')


def spice_listen_restricted(facts, s, control):
    """HVS-MGMT-06: SPICE consoles listen on loopback or the management address."""
    return _console_listen(facts, s, 'spice')


def console_tls(facts, s, control):
    """HVS-MGMT-07: Remote consoles use TLS with x509 verification."""
    qemu = _libvirt_conf(facts, 'qemu')
    bad = []
    exposed = []
    for kind in ('vnc', 'spice'):
        addrs = [qemu.get('%s_listen' % kind) or '127.0.0.1']
        for dom in libvirt_domains(facts):
            addrs.extend(g.get('listen') for g in dom.get('graphics') or [] if g.get('type') == kind and g.get('listen'))
        if all(_is_loopback(a) or not _network_listener(a) for a in addrs):
            continue
        exposed.append(kind)
        if kind == 'vnc':
            if not truthy(qemu.get('vnc_tls', 0)):
                bad.append('vnc_tls=0')
            if not truthy(qemu.get('vnc_tls_x509_verify', 0)):
                bad.append('vnc_tls_x509_verify=0')
        elif not truthy(qemu.get('spice_tls', 0)):
            bad.append('spice_tls=0')
    if not exposed:
        return ('pass', 'consoles listen on loopback only')
    return outcome(bad, '%s beyond loopback use TLS with x509 verification' % '/'.join(exposed),
                   '%s beyond loopback without TLS' % '/'.join(exposed))


def migration_tls_forced(facts, s, control):
    """HVS-MGMT-08: Live migration encrypted (migrate_tls_force)."""
    qemu = _libvirt_conf(facts, 'qemu')
    if truthy(qemu.get('migrate_tls_force', 0)):
        return ('pass', 'migrate_tls_force=1')
    return ('fail', 'migrate_tls_force=%s' % qemu.get('migrate_tls_force', 0))


def qemu_confined(facts, s, control):
    """HVS-MGMT-09: QEMU processes confined by a security driver."""
    qemu = _libvirt_conf(facts, 'qemu')
    lsm = get_fact(facts, 'security_module')
    active = [name for name in ('apparmor', 'selinux') if lsm.get(name)]
    drivers = _words(qemu.get('security_driver'))
    if 'none' in drivers:
        return ('fail', 'security_driver="none" in qemu.conf')
    if drivers:
        missing = [d for d in drivers if d in ('apparmor', 'selinux') and d not in active]
        if missing:
            return ('fail', 'security_driver %s configured but not active' % fmt_list(missing))
        return ('pass', 'security_driver %s, active LSM: %s' % (fmt_list(drivers), fmt_list(active) or 'none'))
    if active:
        return ('pass', 'security_driver default, active LSM: %s' % fmt_list(active))
    return ('fail', 'no AppArmor or SELinux active: QEMU runs unconfined')


def qemu_unprivileged(facts, s, control):
    """HVS-MGMT-10: QEMU runs as an unprivileged user."""
    qemu = _libvirt_conf(facts, 'qemu')
    user, group = qemu.get('user'), qemu.get('group')
    bad = ['%s=%s' % (k, v) for k, v in (('user', user), ('group', group)) if str(v) in ('root', '0', '+0')]
    if bad:
        return ('fail', 'qemu.conf %s' % ', '.join(bad))
    if user is None:
        os_info = opt_fact(facts, 'host.os') or {}
        ids = [os_info.get('id')] + list(os_info.get('id_like') or [])
        if not any(i in _NONROOT_DEFAULT_OS for i in ids):
            raise Unknown('libvirt.config.qemu.user', hint='user not set and the build default of %s is unknown'
                          % (os_info.get('id') or 'this OS'))
        return ('pass', 'user not set: %s packages default to a non-root QEMU user' % os_info.get('id'))
    return ('pass', 'qemu user %s, group %s' % (user, group))


def libvirt_dynamic_ownership(facts, s, control):
    """HVS-MGMT-11: libvirt dynamic ownership of guest resources."""
    value = _libvirt_conf(facts, 'qemu').get('dynamic_ownership', 1)
    if truthy(value):
        return ('pass', 'dynamic_ownership=%s' % value)
    return ('fail', 'dynamic_ownership=%s' % value)


def qemu_seccomp(facts, s, control):
    """HVS-MGMT-12: QEMU seccomp sandbox on."""
    value = _libvirt_conf(facts, 'qemu').get('seccomp_sandbox', 1)
    if to_int(value, 1) == 0:
        return ('fail', 'seccomp_sandbox=0')
    return ('pass', 'seccomp_sandbox=%s' % value)


def sshd_no_root_password_login(facts, s, control):
    """HVS-MGMT-13: sshd refuses root login with a password."""
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    safe = control['params']['safe_permit_root_login']
    value = _ssh_val(eff, 'permitrootlogin', 'prohibit-password')
    global_bad = [] if value in safe else ['PermitRootLogin %s' % value]

    def check(conn, merged):
        spec = conn.get('spec') or {}
        have = _ssh_val(merged, 'permitrootlogin', 'prohibit-password')
        if spec.get('user') == 'root' and have not in safe:
            return 'PermitRootLogin %s for %s, set by %s' % (have, spec_text(spec), _ssh_origin(facts, conn, 'permitrootlogin'))
        return None
    bad, count = _ssh_per_connection(facts, eff, global_bad, check)
    if bad:
        return ('fail', '; '.join(bad[:4]) + (' (+%d more)' % (len(bad) - 4) if len(bad) > 4 else ''))
    return ('pass', 'PermitRootLogin %s%s' % (value, _ssh_checked(count)))


def sshd_no_password_auth(facts, s, control):
    """HVS-MGMT-14: sshd password authentication off."""
    if s.get('hvsec_mgmt_plane_sshd_password_auth', False):
        return ('not_applicable', 'hvsec_mgmt_plane_sshd_password_auth is true (password login wanted)')
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    keys = ('passwordauthentication', 'kbdinteractiveauthentication')
    global_bad = []
    for key in keys:
        if key in eff and _ssh_val(eff, key) != 'no':
            global_bad.append('%s %s' % (key, _ssh_val(eff, key)))
    if 'passwordauthentication' not in eff:
        global_bad.append('passwordauthentication unknown (default yes)')

    def check(conn, merged):
        found = ['%s %s' % (key, _ssh_val(merged, key)) for key in keys if key in merged and _ssh_val(merged, key) != 'no']
        if not found:
            return None
        key = keys[0] if _ssh_val(merged, keys[0]) != 'no' else keys[1]
        return '%s for %s, set by %s' % (' and '.join(found), spec_text(conn.get('spec') or {}),
                                         _ssh_origin(facts, conn, key))
    bad, count = _ssh_per_connection(facts, eff, global_bad, check)
    return outcome(bad, 'password and keyboard-interactive authentication off%s' % _ssh_checked(count), 'sshd allows')


def sshd_allow_groups(facts, s, control):
    """HVS-MGMT-15: sshd limited to administrator groups (AllowGroups)."""
    wanted = [str(g) for g in s.get('hvsec_mgmt_plane_sshd_allow_groups') or []]
    if not wanted:
        return ('not_applicable', 'hvsec_mgmt_plane_sshd_allow_groups is empty')
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')

    def problem(groups, where):
        if not groups:
            return 'AllowGroups not set%s (wanted %s)' % (where, fmt_list(wanted))
        extra = [g for g in groups if g not in wanted]
        if extra:
            return 'AllowGroups %s%s includes undeclared %s' % (fmt_list(groups), where, fmt_list(extra))
        return None
    have = _words(eff.get('allowgroups'))
    first = problem(have, '')
    global_bad = [first] if first else []

    def check(conn, merged):
        found = problem(_words(merged.get('allowgroups')), ' for %s' % spec_text(conn.get('spec') or {}))
        return found and '%s, set by %s' % (found, _ssh_origin(facts, conn, 'allowgroups'))
    bad, count = _ssh_per_connection(facts, eff, global_bad, check)
    if bad:
        return ('fail', '; '.join(bad[:4]) + (' (+%d more)' % (len(bad) - 4) if len(bad) > 4 else ''))
    return ('pass', 'AllowGroups %s%s' % (fmt_list(have), _ssh_checked(count)))


def sshd_modern_crypto(facts, s, control):
    """HVS-MGMT-16: sshd uses modern ciphers, MACs and key exchange."""
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    bad = []
    weak = control['params']['weak_fragments']
    for key in ('ciphers', 'macs', 'kexalgorithms'):
        if key not in eff:
            raise Unknown('sshd.effective.%s' % key)
        bad.extend(a for a in _words(eff.get(key)) if any(w in a.lower() for w in weak))
    return outcome(bad, 'no weak cipher, MAC or key exchange offered', 'weak algorithms')


def sshd_listens_on_mgmt_address(facts, s, control):
    """HVS-MGMT-17: sshd listens on the management address."""
    mgmt = str(s.get('hvsec_mgmt_plane_address') or '')
    if not mgmt:
        return ('not_applicable', 'hvsec_mgmt_plane_address not set')
    eff = _sshd(facts)
    if eff is None:
        return ('not_applicable', 'sshd not installed')
    listen = _words(eff.get('listenaddress'))
    bad = []
    for item in listen:
        host = item.rsplit(':', 1)[0] if item.count(':') == 1 or item.startswith('[') else item
        if host.strip('[]') != mgmt:
            bad.append(item)
    if not listen:
        bad.append('no ListenAddress (all addresses)')
    return outcome(bad, 'sshd listens on %s' % fmt_list(listen), 'sshd also listens on')


def mgmt_firewall_present(facts, s, control):
    """HVS-MGMT-18: Host firewall limits management ports to administrator networks."""
    nft = get_fact(facts, 'nftables')
    if not nft.get('installed'):
        return ('fail', 'nftables not installed: no hvsec management firewall')
    tables = nft.get('tables')
    if tables is None:
        raise Unknown('nftables.tables')
    if 'inet hvsec_mgmt' in tables:
        return ('pass', 'nftables table inet hvsec_mgmt loaded')
    return ('fail', 'no nftables table inet hvsec_mgmt (tables: %s)' % (fmt_list(tables) or 'none'))


def no_wildcard_mgmt_listeners(facts, s, control):
    """HVS-MGMT-19: Management daemons not listening on wildcard addresses."""
    listeners = _listeners(facts)
    bad = sorted(set('%s %s:%s (%s)' % (l.get('proto'), l.get('address'), l.get('port'), l.get('process') or '?')
                     for l in listeners
                     if str(l.get('address')) in ('0.0.0.0', '::', '::ffff:0.0.0.0', '*') and l.get('proto', 'tcp').startswith('tcp')
                     and _mgmt_port(to_int(l.get('port'), 0), s, control['params'])))
    return outcome(bad, 'no management listener on a wildcard address', 'wildcard listener')


def libvirt_audit_logging(facts, s, control):
    """HVS-MGMT-20: libvirt audit logging on."""
    bad = []
    names = _driver_daemons(facts)
    for name, conf in _daemon_confs(facts, names):
        if to_int(conf.get('audit_level', 1), 1) == 0:
            bad.append('%s audit_level=0' % name)
        if not truthy(conf.get('audit_logging', 0)):
            bad.append('%s audit_logging=%s' % (name, conf.get('audit_logging', 0)))
    return outcome(bad, '%s: audit_level on and audit_logging=1' % fmt_list('%s.conf' % n for n in names),
                   'libvirt audit')


def auditd_watches_libvirt(facts, s, control):
    """HVS-MGMT-21: auditd watches libvirt configuration."""
    rules = get_fact(facts, 'audit').get('rules')
    if rules is None:
        if unreadable(facts, 'audit.rules'):
            raise Unknown('audit.rules')
        return ('fail', 'no audit rules directory (/etc/audit/rules.d): auditd not installed')
    for rule in rules:
        words = str(rule).split()
        if '-w' in words:
            idx = words.index('-w')
            if idx + 1 < len(words) and words[idx + 1].rstrip('/') == '/etc/libvirt':
                return ('pass', 'audit rule: %s' % rule)
        if any(w in ('dir=/etc/libvirt', 'dir=/etc/libvirt/') for w in words):
            return ('pass', 'audit rule: %s' % rule)
    return ('fail', 'no audit watch on /etc/libvirt (%d rule(s) read)' % len(rules))


def time_sync_active(facts, s, control):
    """HVS-MGMT-22: Time synchronisation active."""
    ts = get_fact(facts, 'time_sync')
    if ts.get('active') is None:
        raise Unknown('processes')
    if ts.get('active'):
        return ('pass', '%s running' % (ts.get('daemon') or 'time daemon'))
    return ('fail', 'no time synchronisation daemon running')


def migration_on_mgmt_address(facts, s, control):
    """HVS-MGMT-23: Migration traffic bound to the management network."""
    mgmt = str(s.get('hvsec_mgmt_plane_address') or '')
    if not mgmt:
        return ('not_applicable', 'hvsec_mgmt_plane_address not set')
    na = na_without_libvirt(facts)
    if na:
        return na
    value = _libvirt_conf(facts, 'qemu').get('migration_address')
    if str(value) == mgmt:
        return ('pass', 'migration_address=%s' % value)
    return ('fail', 'migration_address=%s, management address %s' % (value, mgmt))


# The evaluators of this area, by the names the catalog records give.
EVALUATORS = evaluator_table(
    libvirt_tcp_authenticated, libvirt_tls_verifies_clients, libvirt_rw_socket_restricted,
    libvirt_access_drivers, vnc_listen_restricted, spice_listen_restricted, console_tls, migration_tls_forced,
    qemu_confined, qemu_unprivileged, libvirt_dynamic_ownership, qemu_seccomp, sshd_no_root_password_login,
    sshd_no_password_auth, sshd_allow_groups, sshd_modern_crypto, sshd_listens_on_mgmt_address,
    mgmt_firewall_present, no_wildcard_mgmt_listeners, libvirt_audit_logging, auditd_watches_libvirt,
    time_sync_active, migration_on_mgmt_address,
)
