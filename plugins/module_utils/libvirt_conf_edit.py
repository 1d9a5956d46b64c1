# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit libvirt configuration files (libvirtd.conf, qemu.conf, ...) without losing anything.

libvirt's configuration syntax (src/util/virconf.c) is a sequence of ``name = value``
entries, one per line (or separated by ``;``), with ``#`` comments. A value is an
integer, a string in double or single quotes (or triple double quotes, which may span
lines) or a list ``[ ... ]`` of values, which may span lines and hold comments.

This module works on the text itself: it locates every entry with the exact character
offsets of its value, so that setting a key replaces only the value characters (the
spacing, the comments, every other line stay byte-for-byte), unsetting removes only the
entry's own lines, and a new key is appended at the end. Pure functions, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_NAME_START = re.compile(r'[A-Za-z_]')
_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_.\-]*')
_INT = re.compile(r'[+-]?[0-9]+')


class ConfSyntaxError(ValueError):
    """A file that libvirt itself would refuse to parse."""

    def __init__(self, line, message):
        super(ConfSyntaxError, self).__init__('line %d: %s' % (line, message))
        self.line = line
        self.message = message


class Entry(object):
    """One ``name = value`` entry and where it sits in the text."""

    __slots__ = ('name', 'value', 'start', 'value_start', 'value_end', 'end', 'line')

    def __init__(self, name, value, start, value_start, value_end, end, line):
        self.name = name
        self.value = value              # int, str or list
        self.start = start              # offset of the first character of the name
        self.value_start = value_start  # offset of the first character of the value
        self.value_end = value_end      # offset just past the value
        self.end = end                  # offset just past the entry's line end (newline included)
        self.line = line                # 1-based line of the name

    def __repr__(self):
        return 'Entry(%r, %r, line=%d)' % (self.name, self.value, self.line)


class _Scanner(object):
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.n = len(text)

    def line(self, pos=None):
        return self.text.count('\n', 0, self.pos if pos is None else pos) + 1

    def error(self, message):
        raise ConfSyntaxError(self.line(), message)

    def peek(self):
        return self.text[self.pos] if self.pos < self.n else ''

    def skip_blanks(self):
        while self.pos < self.n and self.text[self.pos] in ' \t\r':
            self.pos += 1

    def skip_comment(self):
        if self.peek() == '#':
            nl = self.text.find('\n', self.pos)
            self.pos = self.n if nl < 0 else nl

    def skip_space_nl_comments(self):
        while self.pos < self.n:
            ch = self.text[self.pos]
            if ch in ' \t\r\n':
                self.pos += 1
            elif ch == '#':
                self.skip_comment()
            else:
                break

    def string(self):
        text = self.text
        if text.startswith('"""', self.pos):
            close = text.find('"""', self.pos + 3)
            if close < 0:
                self.error('unterminated string')
            value = text[self.pos + 3:close]
            self.pos = close + 3
            return value
        quote = text[self.pos]
        close = self.pos + 1
        while close < self.n and text[close] != quote and text[close] != '\n':
            close += 1
        if close >= self.n or text[close] != quote:
            self.error('unterminated string')
        value = text[self.pos + 1:close]
        self.pos = close + 1
        return value

    def value(self):
        ch = self.peek()
        if ch in ('"', "'"):
            return self.string()
        if ch == '[':
            self.pos += 1
            items = []
            self.skip_space_nl_comments()
            if self.peek() == ']':
                self.pos += 1
                return items
            while True:
                if self.peek() == '':
                    self.error('unterminated list')
                if self.peek() == '[':
                    self.error('nested lists are not allowed')
                items.append(self.value())
                self.skip_space_nl_comments()
                ch = self.peek()
                if ch == ',':
                    self.pos += 1
                    self.skip_space_nl_comments()
                    if self.peek() == ']':  # trailing comma
                        self.pos += 1
                        return items
                    continue
                if ch == ']':
                    self.pos += 1
                    return items
                if ch == '':
                    self.error('unterminated list')
                self.error('expected "," or "]" in list')
        m = _INT.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return int(m.group(0))
        if ch == '':
            self.error('expected a value')
        self.error('expected a value (integer, quoted string or list), found %r' % ch)
        return None  # pragma: no cover


def parse_entries(text):
    """Return the list of :class:`Entry` of a libvirt configuration text.

    Raises :class:`ConfSyntaxError` (with the line number) for text libvirt would refuse.
    """
    s = _Scanner(text)
    entries = []
    while True:
        s.skip_blanks()
        if s.pos >= s.n:
            break
        ch = s.peek()
        if ch in '\n;':
            s.pos += 1
            continue
        if ch == '#':
            s.skip_comment()
            continue
        if not _NAME_START.match(ch):
            s.error('expected a setting name, found %r' % ch)
        start = s.pos
        m = _NAME.match(text, s.pos)
        name = m.group(0)
        line = s.line()
        s.pos = m.end()
        s.skip_blanks()
        if s.peek() != '=':
            s.error('expected "=" after %s' % name)
        s.pos += 1
        s.skip_blanks()
        value_start = s.pos
        value = s.value()
        value_end = s.pos
        s.skip_blanks()
        if s.peek() == ';':
            s.pos += 1
            s.skip_blanks()
            if s.peek() not in ('#', '\n', ''):
                # another entry follows on the same line
                entries.append(Entry(name, value, start, value_start, value_end, s.pos, line))
                continue
        s.skip_comment()
        if s.pos < s.n:
            if s.peek() != '\n':
                s.error('expected end of line after the value of %s' % name)
            s.pos += 1
        entries.append(Entry(name, value, start, value_start, value_end, s.pos, line))
    return entries


def parse(text):
    """Return ``{name: value}`` (the first occurrence wins, as in libvirt)."""
    result = {}
    for entry in parse_entries(text):
        result.setdefault(entry.name, entry.value)
    return result


def render_value(value):
    """Render a Python value (int, str, list of str/int) in libvirt syntax."""
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if '\n' in value:
            raise ValueError('a string value cannot contain a newline')
        if '"' not in value:
            return '"%s"' % value
        if "'" not in value:
            return "'%s'" % value
        raise ValueError('a string value cannot contain both quote characters')
    if isinstance(value, (list, tuple)):
        if not value:
            return '[]'
        for item in value:
            if isinstance(item, (list, tuple, dict)):
                raise ValueError('lists cannot be nested')
        return '[ %s ]' % ', '.join(render_value(item) for item in value)
    raise ValueError('unsupported value type %s' % type(value).__name__)


def _line_start(text, pos):
    return text.rfind('\n', 0, pos) + 1


def _removal_span(text, entry):
    """The span to delete for an entry: its whole lines when nothing else shares them."""
    start = entry.start
    ls = _line_start(text, start)
    if text[ls:start].strip(' \t') == '':
        start = ls
    return start, entry.end


def edit(text, settings=None, unset=None):
    """Apply ``settings`` ({name: value}) and ``unset`` (names) to ``text``.

    Returns ``(new_text, changes)`` where ``changes`` is a list of
    ``{'key', 'action' (set|add|unset), 'before', 'after'}``. An existing key keeps its
    place, spacing and trailing comment (only the value characters change); later
    duplicates of a set key are removed (libvirt reads the first one); new keys are
    appended at the end of the file. Values already equal are left untouched, so the
    text is unchanged when nothing needs to change.
    """
    settings = dict(settings or {})
    unset = list(unset or [])
    overlap = set(settings) & set(unset)
    if overlap:
        raise ValueError('keys both set and unset: %s' % ', '.join(sorted(overlap)))
    entries = parse_entries(text)
    edits = []      # (start, end, replacement), non-overlapping
    changes = []
    seen = set()
    for entry in entries:
        name = entry.name
        if name in settings:
            wanted = settings[name]
            if name in seen:
                edits.append(_removal_span(text, entry) + ('',))
                changes.append({'key': name, 'action': 'unset', 'before': entry.value, 'after': None,
                                'note': 'duplicate removed'})
                continue
            seen.add(name)
            if normalize_value(entry.value) != normalize_value(wanted):
                edits.append((entry.value_start, entry.value_end, render_value(wanted)))
                changes.append({'key': name, 'action': 'set', 'before': entry.value, 'after': wanted})
        elif name in unset:
            edits.append(_removal_span(text, entry) + ('',))
            changes.append({'key': name, 'action': 'unset', 'before': entry.value, 'after': None})
    out = []
    pos = 0
    for start, end, repl in sorted(edits):
        out.append(text[pos:start])
        out.append(repl)
        pos = end
    out.append(text[pos:])
    new_text = ''.join(out)
    appended = [name for name in settings if name not in seen]
    if appended:
        if new_text and not new_text.endswith('\n'):
            new_text += '\n'
        for name in appended:
            new_text += '%s = %s\n' % (name, render_value(settings[name]))
            changes.append({'key': name, 'action': 'add', 'before': None, 'after': settings[name]})
    return new_text, changes


def normalize_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [normalize_value(v) for v in value]
    return value


# ---------------------------------------------------------------- value types of known keys
# 'int' (libvirt's booleans are integers too), 'str', 'list' (of strings), or a tuple of
# alternatives for the few keys libvirt accepts in two forms.
_DAEMON_KEYS = {
    'int': (
        'listen_tls', 'listen_tcp', 'mdns_adv', 'tcp_min_ssf', 'tls_no_sanity_certificate',
        'tls_no_verify_certificate', 'max_clients', 'max_queued_clients', 'max_anonymous_clients',
        'min_workers', 'max_workers', 'prio_workers', 'max_client_requests', 'admin_min_workers',
        'admin_max_workers', 'admin_max_clients', 'admin_max_queued_clients',
        'admin_max_client_requests', 'log_level', 'audit_level', 'audit_logging',
        'keepalive_interval', 'keepalive_count', 'keepalive_required', 'admin_keepalive_interval',
        'admin_keepalive_count', 'admin_keepalive_required', 'ovs_timeout',
    ),
    'str': (
        'tls_port', 'tcp_port', 'listen_addr', 'mdns_name', 'unix_sock_group', 'unix_sock_ro_perms',
        'unix_sock_rw_perms', 'unix_sock_admin_perms', 'unix_sock_dir', 'auth_unix_ro',
        'auth_unix_rw', 'auth_tcp', 'auth_tls', 'key_file', 'cert_file', 'ca_file', 'crl_file',
        'tls_priority', 'log_filters', 'log_outputs', 'host_uuid', 'host_uuid_source',
    ),
    'list': ('access_drivers', 'tls_allowed_dn_list', 'sasl_allowed_username_list'),
}
_QEMU_KEYS = {
    'int': (
        'default_tls_x509_verify', 'vnc_auto_unix_socket', 'vnc_tls', 'vnc_tls_x509_verify',
        'vnc_sasl', 'vnc_allow_host_audio', 'spice_tls', 'spice_auto_unix_socket', 'spice_sasl',
        'chardev_tls', 'chardev_tls_x509_verify', 'vxhs_tls', 'nbd_tls', 'migrate_tls_x509_verify',
        'migrate_tls_force', 'backup_tls_x509_verify', 'remote_display_port_min',
        'remote_display_port_max', 'remote_websocket_port_min', 'remote_websocket_port_max',
        'security_default_confined', 'security_require_confined', 'dynamic_ownership',
        'remember_owner', 'auto_dump_bypass_cache', 'auto_start_bypass_cache', 'set_process_name',
        'max_processes', 'max_files', 'max_threads_per_process', 'dump_guest_core', 'mac_filter',
        'relaxed_acs_check', 'max_queued', 'keepalive_interval', 'keepalive_count',
        'seccomp_sandbox', 'migration_port_min', 'migration_port_max', 'log_timestamp',
        'gluster_debug_level', 'virtiofsd_debug', 'auto_start_delay', 'nographics_allow_host_audio',
    ),
    'str': (
        'default_tls_x509_cert_dir', 'default_tls_x509_secret_uuid', 'vnc_listen',
        'vnc_tls_x509_cert_dir', 'vnc_tls_x509_secret_uuid', 'vnc_password', 'vnc_sasl_dir',
        'spice_listen', 'spice_tls_x509_cert_dir', 'spice_password', 'spice_sasl_dir',
        'chardev_tls_x509_cert_dir', 'chardev_tls_x509_secret_uuid', 'vxhs_tls_x509_cert_dir',
        'nbd_tls_x509_cert_dir', 'nbd_tls_x509_secret_uuid', 'migrate_tls_x509_cert_dir',
        'migrate_tls_x509_secret_uuid', 'backup_tls_x509_cert_dir', 'backup_tls_x509_secret_uuid',
        'user', 'group', 'save_image_format', 'dump_image_format', 'snapshot_image_format',
        'auto_dump_path', 'bridge_helper', 'lock_manager', 'migration_address', 'migration_host',
        'stdio_handler', 'memory_backing_dir', 'pr_helper', 'slirp_helper', 'swtpm_user',
        'swtpm_group', 'deprecation_behavior', 'vnc_tls_priority', 'spice_tls_priority',
        'tls_priority', 'dbus_daemon', 'sched_core',
    ),
    'list': ('cgroup_controllers', 'cgroup_device_acl', 'nvram', 'capability_filters',
             'namespaces', 'shared_filesystems'),
    'alt': {
        'security_driver': ('str', 'list'),
        'hugetlbfs_mount': ('str', 'list'),
        'max_core': ('int', 'str'),
    },
}


def _flatten(table):
    out = {}
    for kind in ('int', 'str', 'list'):
        for key in table.get(kind, ()):
            out[key] = (kind,)
    for key, kinds in table.get('alt', {}).items():
        out[key] = kinds
    return out


SCHEMAS = {
    'daemon': _flatten(_DAEMON_KEYS),   # libvirtd.conf, virtproxyd.conf, virtqemud.conf, ...
    'qemu': _flatten(_QEMU_KEYS),       # qemu.conf
}

DAEMON_FILES = ('libvirtd.conf', 'virtproxyd.conf', 'virtqemud.conf', 'virtnetworkd.conf',
                'virtnodedevd.conf', 'virtnwfilterd.conf', 'virtsecretd.conf',
                'virtstoraged.conf', 'virtinterfaced.conf', 'virtlxcd.conf', 'virtchd.conf',
                'virtvboxd.conf', 'virtxend.conf')


def schema_for_path(path):
    """'daemon', 'qemu' or None from a file name."""
    base = path.rstrip('/').rsplit('/', 1)[-1]
    if base == 'qemu.conf':
        return 'qemu'
    if base in DAEMON_FILES:
        return 'daemon'
    return None


def _as(kind, value):
    """Return (ok, converted) for one type."""
    if kind == 'int':
        if isinstance(value, bool):
            return True, int(value)
        if isinstance(value, int):
            return True, value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return True, int(value.strip())
        return False, None
    if kind == 'str':
        return (True, value) if isinstance(value, str) else (False, None)
    if kind == 'list':
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return True, list(value)
        return False, None
    raise ValueError(kind)


def _describe(kind):
    return {'int': 'an integer', 'str': 'a string', 'list': 'a list of strings'}[kind]


def coerce_settings(settings, schema=None):
    """Check and convert wanted values against a schema ('daemon', 'qemu' or None).

    Returns ``(converted, warnings, errors)``: a known key with a value of the wrong type is
    an error, an unknown key is a warning (its type is taken from the value as given).
    """
    known = SCHEMAS.get(schema) if schema else None
    converted, warnings, errors = {}, [], []
    for key in sorted(settings):
        value = settings[key]
        if not _NAME.fullmatch(key or ''):
            errors.append('%r is not a valid libvirt setting name' % (key,))
            continue
        kinds = known.get(key) if known is not None else None
        if kinds is None:
            if known is not None:
                warnings.append('%s is not a known %s setting; it is written as given'
                                % (key, 'qemu.conf' if schema == 'qemu' else 'libvirt daemon'))
            ok = False
            for kind in ('int', 'str', 'list'):
                if kind == 'int' and isinstance(value, str):
                    continue  # unknown key: keep a string a string
                ok, conv = _as(kind, value)
                if ok:
                    break
            if not ok:
                errors.append('%s: value %r is neither an integer, a string nor a list of strings'
                              % (key, value))
                continue
            converted[key] = conv
            continue
        for kind in kinds:
            ok, conv = _as(kind, value)
            if ok:
                converted[key] = conv
                break
        else:
            errors.append('%s must be %s, got %s %r' % (
                key, ' or '.join(_describe(k) for k in kinds), type(value).__name__, value))
    for key, value in converted.items():
        try:
            render_value(value)
        except ValueError as exc:
            errors.append('%s: %s' % (key, exc))
    return converted, warnings, errors
