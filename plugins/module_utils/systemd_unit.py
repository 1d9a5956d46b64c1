# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd unit files: the syntax of systemd.syntax(7) and the effective [Socket] settings.

A unit's settings are its unit file followed by its drop-ins (``UNIT.d/*.conf``) in the
order systemd applies them: drop-in file names sorted, a name in a directory of higher
priority (``/etc`` before ``/run`` before ``/usr/lib`` and ``/lib``) hiding the same name
below it. Later assignments win; an empty assignment resets a setting to its default
(for list settings such as ``ListenStream=`` it empties the list).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Search path of system units, highest priority first (systemd.unit(5)).
UNIT_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system')

# systemd's value when SocketMode= is not set (systemd.socket(5)).
DEFAULT_SOCKET_MODE = '0666'


def parse_unit(text):
    """Unit file text -> list of (section, key, value) in file order.

    Comments (``#``, ``;``) and lines outside a section are skipped; a line ending in a
    backslash continues on the next line (the backslash becomes a space).
    """
    out = []
    section = None
    pending = ''
    for raw in (text or '').splitlines():
        line = raw.strip()
        if pending:
            if line.startswith(('#', ';')):
                continue   # comments inside a continuation are ignored
            line = pending + ' ' + line
            pending = ''
        elif not line or line.startswith(('#', ';')):
            continue
        if line.endswith('\\'):
            pending = line[:-1].rstrip()
            continue
        if line.startswith('[') and line.endswith(']'):
            section = line[1:-1].strip()
            continue
        if section is None or '=' not in line:
            continue
        key, value = line.split('=', 1)
        out.append((section, key.strip(), value.strip()))
    if pending and section is not None and '=' in pending:
        key, value = pending.split('=', 1)
        out.append((section, key.strip(), value.strip()))
    return out


def dropin_order(found):
    """[(directory, file name)] of every drop-in found -> the file names' paths in applying order.

    ``found`` lists directories by priority (highest first); a name seen once is not taken again.
    """
    chosen = {}
    for directory, name in found:
        if name.endswith('.conf') and name not in chosen:
            chosen[name] = '%s/%s' % (directory, name)
    return [chosen[name] for name in sorted(chosen)]


def socket_settings(texts):
    """Effective [Socket] settings of a unit from its texts in applying order.

    Returns {'listen': [ListenStream values], 'mode': SocketMode (systemd's default 0666 when
    unset), 'mode_set': whether a file sets it, 'group': SocketGroup or None (root),
    'user': SocketUser or None (root)}.
    """
    listen = []
    mode = None
    group = None
    user = None
    for text in texts:
        for section, key, value in parse_unit(text):
            if section != 'Socket':
                continue
            if key == 'ListenStream':
                if value:
                    listen.append(value)
                else:
                    listen = []
            elif key == 'SocketMode':
                mode = value or None
            elif key == 'SocketGroup':
                group = value or None
            elif key == 'SocketUser':
                user = value or None
    return {'listen': listen, 'mode': normalize_mode(mode) if mode else DEFAULT_SOCKET_MODE,
            'mode_set': mode is not None, 'group': group, 'user': user}


def normalize_mode(value):
    """An octal access mode as a 4-digit string ("660" -> "0660"); the text itself when not octal."""
    text = str(value).strip()
    try:
        return '%04o' % int(text, 8)
    except ValueError:
        return text
