# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt configuration files (libvirtd.conf, virtproxyd.conf, virtqemud.conf, qemu.conf).

One parser for the facts (``parse_libvirt_conf``) and for the editor (``libvirt_conf_edit``,
behind the libvirt_config module), with libvirt's own semantics (src/util/virconf.c, see the
grammar below): the first assignment of a key is the one libvirt uses, and a file libvirt
refuses yields an error, never a guess at its values.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

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


# ----------------------------------------------------------------------------- the parser
# libvirt's own reader is src/util/virconf.c (virConfParse, virConfParseStatement,
# virConfParseValue, virConfParseSeparator; flags 0 for every daemon file and qemu.conf). Its
# grammar, reproduced here character for character:
#
#   file       = { blanks-and-line-ends statement separator }   (the first statement may be
#                                                                 preceded by blank lines)
#   statement  = "#" comment-text | name blanks "=" blanks value blanks [ "#" comment-text ]
#   separator  = blanks ( end-of-file | line-end {blank|line-end} | ";" {blank|line-end} )
#   name       = ASCII letter { ASCII letter | digit | "_" }
#   value      = integer | string | list
#   integer    = [ "+" | "-" ] digit { digit }
#   string     = "'" text-without-' "'" | '"' text-without-" '"'     (neither crosses a line end)
#              | '"""' any-text-without-""" '"""'                     (may span lines; only
#                                                                    when 7 characters are left)
#   list       = "[" {blank|line-end} [ value {blank|line-end} { "," {blank|line-end} value
#                {blank|line-end} } [ "," {blank|line-end} ] ] "]"
#
# with blank = space or tab and line-end = "\n" or "\r". Consequences checked against libvirtd
# 9.0 (libvirtd -f FILE --listen): a comment cannot stand inside a list; ";" separates
# statements but ";;" or a line starting with ";" is refused; names have no "." or "-" and do
# not start with "_"; a list may hold lists; a non-empty file of blank lines only is refused
# ("expecting a name"), an empty file is not. Any syntax error makes libvirt refuse the whole
# file (the daemon does not start). Of a key assigned twice, libvirt uses the FIRST assignment
# (virConfGetValue returns the first entry of that name); later ones are ignored.

_BLANKS = ' \t'
_LINE_ENDS = '\n\r'
_NAME_AT = re.compile(r'[A-Za-z][A-Za-z0-9_]*')
NAME = re.compile(r'[A-Za-z][A-Za-z0-9_]*\Z')   # a whole valid setting name
_MAX_DEPTH = 32                                  # nested lists (libvirt has no limit; no file nests)


class ConfSyntaxError(ValueError):
    """Text libvirt itself refuses to parse (so the daemon reading it does not start)."""

    def __init__(self, line, message):
        super(ConfSyntaxError, self).__init__('line %d: %s' % (line, message))
        self.line = line
        self.message = message


class Entry(object):
    """One ``name = value`` statement and where it sits in the text (offsets into it)."""

    __slots__ = ('name', 'value', 'start', 'value_start', 'value_end', 'stop', 'end', 'line')

    def __init__(self, name, value, start, value_start, value_end, stop, end, line):
        self.name = name
        self.value = value              # int, str or list
        self.start = start              # first character of the name
        self.value_start = value_start  # first character of the value
        self.value_end = value_end      # just past the value
        self.stop = stop                # just past the statement: value, trailing comment and a
        #                                 ";" (with its blanks) when another statement follows on
        #                                 the same line; the line end is not included
        self.end = end                  # like stop, but past the line end when the line ends here
        self.line = line                # 1-based line of the name

    def __repr__(self):
        return 'Entry(%r, %r, line=%d)' % (self.name, self.value, self.line)


def _shown(ch):
    return 'the end of the file' if ch == '' else repr(ch)


class _Parser(object):
    def __init__(self, text):
        self.text = text
        self.n = len(text)
        self.pos = 0
        self._counted = (0, 1)     # (offset, line there): lines are asked for in file order

    def cur(self):
        return self.text[self.pos] if self.pos < self.n else ''

    def line(self, pos=None):
        pos = self.pos if pos is None else pos
        offset, line = self._counted
        if pos < offset:
            return self.text.count('\n', 0, pos) + 1
        line += self.text.count('\n', offset, pos)
        self._counted = (pos, line)
        return line

    def fail(self, message, pos=None):
        raise ConfSyntaxError(self.line(pos), message)

    def skip(self, chars):
        while self.pos < self.n and self.text[self.pos] in chars:
            self.pos += 1

    def skip_comment(self):
        while self.pos < self.n and self.text[self.pos] not in _LINE_ENDS:
            self.pos += 1

    def value(self, depth=0):
        self.skip(_BLANKS)
        ch = self.cur()
        if ch in ('"', "'"):
            return self.string()
        if ch == '[':
            return self.list(depth)
        if ch and (ch in '+-' or '0' <= ch <= '9'):
            return self.integer()
        if ch == '#' and depth:
            self.fail('expected a value in the list, found "#": libvirt allows no comment inside a list')
        self.fail('expected a value (an integer, a quoted string or a list), found %s' % _shown(ch))
        return None  # pragma: no cover

    def string(self):
        text, start = self.text, self.pos
        if start + 6 < self.n and text.startswith('"""', start):
            close = text.find('"""', start + 3)
            if close < 0:
                self.fail('unterminated string (""" without its closing """)', start)
            self.pos = close + 3
            return text[start + 3:close]
        quote = text[start]
        close = start + 1
        while close < self.n and text[close] != quote and text[close] not in _LINE_ENDS:
            close += 1
        if close >= self.n or text[close] != quote:
            self.fail('unterminated string', start)
        self.pos = close + 1
        return text[start + 1:close]

    def integer(self):
        start = self.pos
        if self.cur() in ('+', '-'):
            self.pos += 1
        digits = self.pos
        while self.pos < self.n and '0' <= self.text[self.pos] <= '9':
            self.pos += 1
        if self.pos == digits:
            self.fail('invalid number: digits expected after %r' % self.text[start])
        return int(self.text[start:self.pos])

    def list(self, depth):
        start_line = self.line()
        if depth >= _MAX_DEPTH:
            self.fail('lists nested more than %d deep' % _MAX_DEPTH)
        self.pos += 1
        self.skip(_BLANKS + _LINE_ENDS)
        items = []
        if self.pos < self.n and self.cur() != ']':
            items.append(self.value(depth + 1))
            self.skip(_BLANKS + _LINE_ENDS)
        while self.pos < self.n and self.cur() != ']':
            if self.cur() != ',':
                hint = ': libvirt allows no comment inside a list' if self.cur() == '#' else ''
                self.fail('unterminated list (opened on line %d): expected "," or "]", found %s%s'
                          % (start_line, _shown(self.cur()), hint))
            self.pos += 1
            self.skip(_BLANKS + _LINE_ENDS)
            if self.cur() == ']':
                break
            if self.pos >= self.n:
                break   # reported below as the unterminated list it is
            items.append(self.value(depth + 1))
            self.skip(_BLANKS + _LINE_ENDS)
        if self.cur() != ']':
            self.fail('unterminated list (opened on line %d): no closing "]"' % start_line)
        self.pos += 1
        return items

    def statement_end(self):
        """(stop, end) of the statement whose value and trailing comment end at self.pos."""
        text, q = self.text, self.pos
        if q < self.n and text[q] == ';':
            q += 1
            while q < self.n and text[q] in _BLANKS:
                q += 1
            if q < self.n and text[q] not in _LINE_ENDS and text[q] != '#':
                return q, q          # another statement follows on this line
            while q < self.n and text[q] not in _LINE_ENDS:
                q += 1               # a comment after the ";"
        stop = q
        if text.startswith('\r\n', q):
            q += 2
        elif q < self.n and text[q] in _LINE_ENDS:
            q += 1
        return stop, q

    def entries(self):
        text = self.text
        out = []
        while self.pos < self.n:
            # virConfParseStatement
            self.skip(_BLANKS + _LINE_ENDS)
            name = None
            if self.cur() == '#':
                self.skip_comment()
            else:
                start = self.pos
                match = _NAME_AT.match(text, self.pos)
                if not match:
                    if self.pos >= self.n:
                        self.fail('expected a setting name, found the end of the file (libvirt refuses '
                                  'a file of blank lines only)')
                    self.fail('expected a setting name (a letter, then letters, digits or "_"), found %s'
                              % _shown(self.cur()))
                name = match.group(0)
                self.pos = match.end()
                self.skip(_BLANKS)
                if self.cur() != '=':
                    self.fail('expected "=" after %s, found %s' % (name, _shown(self.cur())))
                self.pos += 1
                self.skip(_BLANKS)
                value_start = self.pos
                value = self.value()
                value_end = self.pos
                self.skip(_BLANKS)
                if self.cur() == '#':
                    self.skip_comment()
                stop, end = self.statement_end()
                out.append(Entry(name, value, start, value_start, value_end, stop, end, self.line(start)))
            # virConfParseSeparator
            self.skip(_BLANKS)
            if self.pos >= self.n:
                break
            ch = self.cur()
            if ch in _LINE_ENDS:
                self.skip(_BLANKS + _LINE_ENDS)
            elif ch == ';':
                self.pos += 1
                self.skip(_BLANKS + _LINE_ENDS)
            else:
                self.fail('expected the end of the line or ";" after the value of %s, found %s'
                          % (name, _shown(ch)))
        return out


def parse_entries(text):
    """Every ``name = value`` statement of a libvirt configuration text, in file order.

    Raises :class:`ConfSyntaxError` (with the line) for text libvirt refuses.
    """
    if not isinstance(text, str):
        raise ConfSyntaxError(1, 'not text')
    return _Parser(text).entries()


def parse(text):
    """``{name: value}`` as libvirt reads it: of a key assigned twice, the FIRST assignment.

    Raises :class:`ConfSyntaxError` for text libvirt refuses.
    """
    values = {}
    for entry in parse_entries(text):
        values.setdefault(entry.name, entry.value)
    return values


def duplicates(text):
    """``{name: [line, ...]}`` of the keys assigned more than once (libvirt uses the first line)."""
    lines = {}
    for entry in parse_entries(text):
        lines.setdefault(entry.name, []).append(entry.line)
    return dict((name, found) for name, found in lines.items() if len(found) > 1)


def parse_libvirt_conf(text):
    """Parse a libvirt config file as libvirt does. Returns (values dict, list of error strings).

    Never raises. The first assignment of a key wins, as in libvirt. A syntax error makes libvirt
    refuse the whole file, so it yields no values and one error ``"line N: ..."``.
    """
    try:
        return parse(text), []
    except ConfSyntaxError as exc:
        return {}, [str(exc)]


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
