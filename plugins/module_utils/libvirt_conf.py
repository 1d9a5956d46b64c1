# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt configuration files (libvirtd.conf, virtproxyd.conf, virtqemud.conf, qemu.conf).

Syntax (libvirt's virconf): ``key = value`` per statement, ``#`` comments,
values are integers, strings in double or single quotes, or lists
``[ "a", "b" ]`` that may span lines. Parsing never raises: problems are
returned as error strings ``"line N: ..."`` and the parser resumes on the
next line.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_KEY = re.compile(r'[A-Za-z_][A-Za-z0-9_.]*')
_INT = re.compile(r'[-+]?[0-9]+')

# libvirt's built-in values for the keys the controls read, used when a key is
# not set in the file (see libvirtd.conf / qemu.conf as shipped by libvirt).
# None means "no value" (feature off, or an automatic / compile-time choice).
LIBVIRTD_DEFAULTS = {
    'listen_tls': 1,            # only effective with --listen (or the -tls socket)
    'listen_tcp': 0,
    'listen_addr': None,        # all addresses when listening
    'tls_port': '16514',
    'tcp_port': '16509',
    'auth_tcp': 'sasl',
    'auth_tls': 'none',         # the TLS client certificate is the authentication
    'auth_unix_ro': 'polkit',   # when built with polkit (all major distributions)
    'auth_unix_rw': 'polkit',
    'unix_sock_group': 'root',
    'unix_sock_ro_perms': '0777',
    'unix_sock_rw_perms': '0777',   # 0777 with polkit auth, 0700 otherwise
    'unix_sock_admin_perms': '0700',
    'access_drivers': [],
    'tls_no_verify_certificate': 0,
    'tls_no_sanity_certificate': 0,
    'tls_allowed_dn_list': None,
    'sasl_allowed_username_list': None,
    'tls_priority': None,
    'audit_level': 1,
    'audit_logging': 0,
    'log_level': 3,
    'max_clients': 5000,
}

QEMU_DEFAULTS = {
    'vnc_listen': '127.0.0.1',
    'vnc_auto_unix_socket': 0,
    'vnc_tls': 0,
    'vnc_tls_x509_verify': None,    # resolved from default_tls_x509_verify, else 0
    'vnc_sasl': 0,
    'vnc_password': None,
    'spice_listen': '127.0.0.1',
    'spice_tls': 0,
    'spice_auto_unix_socket': 0,
    'spice_sasl': 0,
    'spice_password': None,
    'default_tls_x509_verify': None,
    'chardev_tls': 0,
    'migrate_tls_force': 0,
    'migrate_tls_x509_verify': None,  # resolved from default_tls_x509_verify, else 1
    'migration_address': None,
    'migration_host': None,
    'migration_port_min': 49152,
    'migration_port_max': 49215,
    'remote_display_port_min': 5900,
    'remote_display_port_max': 65535,
    'security_driver': None,        # first available (selinux or apparmor) when unset
    'security_default_confined': 1,
    'security_require_confined': 0,
    'user': None,                   # compile-time default (Debian libvirt-qemu, RHEL qemu)
    'group': None,
    'dynamic_ownership': 1,
    'remember_owner': 1,
    'seccomp_sandbox': 1,           # unset (-1) means on when QEMU supports it
    'set_process_name': 0,
    'clear_emulator_capabilities': 1,
}

# Keys only the daemons that listen on the network (libvirtd, virtproxyd) have: the modular
# hypervisor daemons' files (virtqemud.conf, ...) are the same template without them.
NETWORK_KEYS = ('listen_tls', 'listen_tcp', 'listen_addr', 'tls_port', 'tcp_port', 'auth_tcp', 'auth_tls',
                'tls_no_verify_certificate', 'tls_no_sanity_certificate', 'tls_allowed_dn_list', 'tls_priority')
DRIVER_DAEMON_DEFAULTS = dict((k, v) for k, v in LIBVIRTD_DEFAULTS.items() if k not in NETWORK_KEYS)

# Daemon configuration files (unix socket, authentication, access control, audit settings).
DAEMON_KINDS = ('libvirtd', 'virtproxyd', 'virtqemud')

DEFAULTS = {
    'libvirtd': LIBVIRTD_DEFAULTS,
    'virtproxyd': LIBVIRTD_DEFAULTS,
    'virtqemud': DRIVER_DAEMON_DEFAULTS,
    'qemu': QEMU_DEFAULTS,
}


class _Scanner(object):
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.line = 1

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else ''

    def advance(self, count=1):
        for _dummy in range(count):
            if self.pos < len(self.text):
                if self.text[self.pos] == '\n':
                    self.line += 1
                self.pos += 1

    def skip_blanks(self, newlines):
        """Skip spaces, comments and (when newlines) line ends."""
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '#':
                while self.pos < len(self.text) and self.text[self.pos] != '\n':
                    self.pos += 1
            elif ch == '\n':
                if not newlines:
                    return
                self.advance()
            elif ch.isspace():
                self.advance()
            else:
                return

    def skip_line(self):
        while self.pos < len(self.text) and self.text[self.pos] != '\n':
            self.pos += 1
        self.advance()


class ConfError(Exception):
    pass


def _parse_string(sc):
    quote = sc.peek()
    start_line = sc.line
    sc.advance()
    out = []
    while True:
        ch = sc.peek()
        if ch == '':
            raise ConfError('line %d: unterminated string' % start_line)
        if ch == quote:
            sc.advance()
            return ''.join(out)
        if ch == '\n':
            raise ConfError('line %d: unterminated string' % start_line)
        out.append(ch)
        sc.advance()


def _parse_scalar(sc):
    ch = sc.peek()
    if ch in ('"', "'"):
        return _parse_string(sc)
    match = _INT.match(sc.text, sc.pos)
    if match:
        end = match.end()
        if end < len(sc.text) and (sc.text[end].isalnum() or sc.text[end] in '_.'):
            raise ConfError('line %d: invalid value' % sc.line)
        sc.advance(end - sc.pos)
        return int(match.group(0))
    if ch == '':
        raise ConfError('line %d: missing value' % sc.line)
    raise ConfError('line %d: invalid value (strings must be quoted)' % sc.line)


def _parse_list(sc):
    start_line = sc.line
    sc.advance()  # [
    items = []
    sc.skip_blanks(True)
    if sc.peek() == ']':
        sc.advance()
        return items
    while True:
        sc.skip_blanks(True)
        if sc.peek() == '':
            raise ConfError('line %d: unterminated list' % start_line)
        items.append(_parse_scalar(sc))
        sc.skip_blanks(True)
        ch = sc.peek()
        if ch == ',':
            sc.advance()
            sc.skip_blanks(True)
            if sc.peek() == ']':   # trailing comma
                sc.advance()
                return items
            continue
        if ch == ']':
            sc.advance()
            return items
        if ch == '':
            raise ConfError('line %d: unterminated list' % start_line)
        raise ConfError('line %d: unterminated list (opened on line %d): expected , or ]' % (sc.line, start_line))


def parse_libvirt_conf(text):
    """Parse a libvirt config file. Returns (values dict, list of error strings).

    The last assignment of a key wins, as in libvirt.
    """
    values = {}
    errors = []
    if not isinstance(text, str):
        return values, ['not text']
    sc = _Scanner(text)
    while True:
        sc.skip_blanks(True)
        if sc.peek() == '':
            break
        match = _KEY.match(text, sc.pos)
        if not match:
            errors.append('line %d: expected a setting name' % sc.line)
            sc.skip_line()
            continue
        key = match.group(0)
        sc.advance(match.end() - sc.pos)
        sc.skip_blanks(False)
        if sc.peek() != '=':
            errors.append('line %d: expected = after %s' % (sc.line, key))
            sc.skip_line()
            continue
        sc.advance()
        sc.skip_blanks(False)
        line = sc.line
        try:
            if sc.peek() == '[':
                value = _parse_list(sc)
            else:
                value = _parse_scalar(sc)
        except ConfError as exc:
            errors.append(str(exc))
            if sc.line == line:
                sc.skip_line()
            continue
        sc.skip_blanks(False)
        if sc.peek() == ';':
            sc.advance()
            sc.skip_blanks(False)
        if sc.peek() not in ('', '\n'):
            errors.append('line %d: unexpected text after the value of %s' % (sc.line, key))
            sc.skip_line()
            continue
        values[key] = value
    return values, errors


def effective_config(kind, values):
    """Apply libvirt's defaults for ``kind`` (libvirtd, virtproxyd, virtqemud, qemu) under the file values."""
    result = dict(DEFAULTS.get(kind, {}))
    result.update(values or {})
    if kind == 'qemu':
        default_verify = result.get('default_tls_x509_verify')
        if 'vnc_tls_x509_verify' not in (values or {}):
            result['vnc_tls_x509_verify'] = default_verify if default_verify is not None else 0
        if 'migrate_tls_x509_verify' not in (values or {}):
            result['migrate_tls_x509_verify'] = default_verify if default_verify is not None else 1
    if kind in DAEMON_KINDS and 'unix_sock_rw_perms' not in (values or {}):
        result['unix_sock_rw_perms'] = '0777' if result.get('auth_unix_rw') == 'polkit' else '0700'
    return result
