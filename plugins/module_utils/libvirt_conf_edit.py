# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit libvirt configuration files (libvirtd.conf, qemu.conf, ...) without losing anything.

The text is read by the same parser as the facts (``libvirt_conf.parse_entries``, libvirt's own
grammar and semantics: ``name = value`` statements separated by line ends or ``;``, ``#``
comments, integers, strings in single, double or triple double quotes, lists over several
lines; of a key assigned twice libvirt uses the first assignment).

This module works on the text itself: every entry comes with the exact character offsets of
its value, so that setting a key replaces only the value characters of its first (effective)
assignment (the spacing, the comments, every other line stay byte-for-byte) and removes the
later assignments (dead text that would make the file ambiguous to a reader that takes the
last), unsetting removes only the entry's own text, and a new key is appended at the end.
Pure functions, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# One parser for the editor and the facts, with libvirt's semantics (see libvirt_conf).
from ansible_collections.hvsec.hypervisor.plugins.module_utils.libvirt_conf import (
    NAME, ConfSyntaxError, Entry, duplicates, parse, parse_entries)

__all__ = ['ConfSyntaxError', 'Entry', 'parse_entries', 'parse', 'duplicates', 'edit', 'render_value',
           'normalize_value', 'coerce_settings', 'schema_for_path', 'SCHEMAS', 'DAEMON_FILES']

_INT = re.compile(r'[+-]?[0-9]+')


def render_value(value):
    """Render a Python value (int, str, list of str/int) in libvirt syntax."""
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if '\n' in value or '\r' in value:
            raise ValueError('a string value cannot contain a line break')
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
    return max(text.rfind('\n', 0, pos), text.rfind('\r', 0, pos)) + 1


def _removal_span(text, entry):
    """The span to delete for an entry: its whole line(s) when it starts its line (leading blanks
    and line end included), else only its own statement (the line end stays, for the statement
    before it on the same line)."""
    start = _line_start(text, entry.start)
    if text[start:entry.start].strip(' \t') == '':
        return start, entry.end
    return entry.start, entry.stop


def _whole_lines(text, spans):
    """Merge touching removal spans; a merged span that leaves only blanks on its line takes the
    whole line (statements of one line all removed: no blank line is left behind)."""
    merged = []
    for start, end in sorted(spans):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    out = []
    for start, end in merged:
        line_start = _line_start(text, start)
        rest = end
        while rest < len(text) and text[rest] in ' \t':
            rest += 1
        ends_line = end > start and text[end - 1] in '\r\n'
        if not ends_line and text[line_start:start].strip(' \t') == '' and (rest == len(text) or text[rest] in '\r\n'):
            start, end = line_start, rest + (2 if text.startswith('\r\n', rest) else 1 if rest < len(text) else 0)
        out.append((start, end))
    return out


def _check_name(name):
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError('%r is not a valid libvirt setting name (a letter, then letters, digits or "_")'
                         % (name,))


def edit(text, settings=None, unset=None):
    """Apply ``settings`` ({name: value}) and ``unset`` (names) to ``text``.

    Returns ``(new_text, changes)`` where ``changes`` is a list of
    ``{'key', 'action' (set|add|unset), 'before', 'after'}``. libvirt uses the first assignment
    of a key: that one is changed in place, keeping its place, spacing and trailing comment
    (only the value characters change), and the later assignments of a set key are removed
    (``'note': 'duplicate removed'``), so every reader sees one value. Unset keys lose every
    assignment. New keys are appended at the end of the file. Values already equal are left
    untouched, so the text is unchanged when nothing needs to change.

    Raises :class:`ConfSyntaxError` when libvirt would refuse ``text`` and ValueError for an
    invalid request.
    """
    settings = dict(settings or {})
    unset = list(unset or [])
    for name in list(settings) + unset:
        _check_name(name)
    overlap = set(settings) & set(unset)
    if overlap:
        raise ValueError('keys both set and unset: %s' % ', '.join(sorted(overlap)))
    entries = parse_entries(text)
    edits = []      # (start, end, replacement) of the values set, non-overlapping
    removals = []   # (start, end) of the entries removed
    changes = []
    seen = set()
    first_line = {}
    for entry in entries:
        name = entry.name
        if name in settings:
            wanted = settings[name]
            if name in seen:
                removals.append(_removal_span(text, entry))
                changes.append({'key': name, 'action': 'unset', 'before': entry.value, 'after': None,
                                'note': 'duplicate removed (libvirt reads the first assignment, line %d)'
                                        % first_line[name]})
                continue
            seen.add(name)
            first_line[name] = entry.line
            if normalize_value(entry.value) != normalize_value(wanted):
                edits.append((entry.value_start, entry.value_end, render_value(wanted)))
                changes.append({'key': name, 'action': 'set', 'before': entry.value, 'after': wanted})
        elif name in unset:
            removals.append(_removal_span(text, entry))
            changes.append({'key': name, 'action': 'unset', 'before': entry.value, 'after': None})
    edits.extend(span + ('',) for span in _whole_lines(text, removals))
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
        if new_text and not new_text.endswith(('\n', '\r')):
            new_text += '\n'
        for name in appended:
            new_text += '%s = %s\n' % (name, render_value(settings[name]))
            changes.append({'key': name, 'action': 'add', 'before': None, 'after': settings[name]})
    if new_text != text and new_text.strip(' \t\r\n') == '':
        # libvirt refuses a file of blank lines only ("expecting a name"); an empty one is fine
        new_text = ''
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
        if not isinstance(key, str) or not NAME.match(key):
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
