# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for a managed sshd drop-in (``/etc/ssh/sshd_config.d/00-hvsec.conf``).

- :func:`render` writes the drop-in text from an ordered list of (keyword, value).
- :func:`include_status` tells whether the main sshd_config includes the drop-in before any
  directive that would take precedence (sshd uses the first value it reads for most keywords).
- :func:`lockout_problems` lists the ways a drop-in would cut off the connection in use.
- :func:`effective_mismatches` compares wanted values with ``sshd -T`` output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import ipaddress
import re

HEADER = ('# Managed by hvsec.hypervisor (role mgmt_plane). Local changes are overwritten.\n'
          '# sshd uses the first value it reads: this file is included at the top of sshd_config.\n')

# keywords whose list values are comma-separated (others are space-separated or repeated)
COMMA_LISTS = frozenset(['ciphers', 'macs', 'kexalgorithms', 'hostkeyalgorithms',
                         'pubkeyacceptedalgorithms', 'casignaturealgorithms'])
# keywords written once per value
REPEATED = frozenset(['listenaddress', 'port'])
_KEYWORD = re.compile(r'^[A-Za-z][A-Za-z0-9]*\Z')


def _word(value):
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    text = str(value)
    if not text or any(c in text for c in '\n\r#"') or text != text.strip():
        raise ValueError('invalid sshd value %r' % (value,))
    return text


def render(options):
    """Render ``[(Keyword, value)]``; a value may be a scalar or a list."""
    lines = [HEADER]
    for key, value in options:
        if not _KEYWORD.match(key or ''):
            raise ValueError('invalid sshd keyword %r' % (key,))
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values:
            continue
        words = [_word(v) for v in values]
        low = key.lower()
        if low in REPEATED:
            for word in words:
                lines.append('%s %s\n' % (key, word))
        elif low in COMMA_LISTS:
            lines.append('%s %s\n' % (key, ','.join(words)))
        else:
            lines.append('%s %s\n' % (key, ' '.join(words)))
    return ''.join(lines)


def override_args(content):
    """``sshd -o`` arguments carrying every directive of a rendered drop-in, so ``sshd -t`` can
    validate the options before anything is written (command-line options take precedence over
    the configuration files)."""
    args = []
    for line in content.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        key, dummy, value = line.partition(' ')
        args.extend(['-o', '%s=%s' % (key, value)])
    return args


def _directives(text):
    for number, raw in enumerate((text or '').splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split(None, 1)
        key = parts[0].split('=', 1)[0]
        value = parts[1] if len(parts) > 1 else ''
        if '=' in parts[0] and not value:
            value = parts[0].split('=', 1)[1]
        yield number, key.lower(), value.strip().lstrip('=').strip()


def include_pattern(main_text, dropin_path):
    """The top-level ``Include`` pattern (absolute) that matches ``dropin_path``, or None."""
    for number, key, value in _directives(main_text):
        if key == 'match':
            return None
        if key == 'include':
            for pattern in value.split():
                if not pattern.startswith('/'):
                    pattern = '/etc/ssh/' + pattern
                if fnmatch.fnmatch(dropin_path, pattern):
                    return pattern
    return None


def shadowing_in(name, text, managed_keywords):
    """Managed keywords (lower case) set at top level of another file read before the drop-in."""
    managed = set(k.lower() for k in managed_keywords)
    found = []
    for number, key, value in _directives(text):
        if key == 'match':
            break
        if key in managed:
            found.append('%s (%s line %d)' % (key, name, number))
    return found


def include_status(main_text, dropin_path, managed_keywords):
    """Return ``(included, shadowing)``.

    ``included``: an ``Include`` at top level (before any ``Match``) whose pattern matches
    ``dropin_path``. ``shadowing``: the managed keywords (lower case) that the main file sets
    before that Include (or at all, when it does not include the drop-in): sshd would use those.
    """
    managed = set(k.lower() for k in managed_keywords)
    shadowing = []
    for number, key, value in _directives(main_text):
        if key == 'match':
            break
        if key == 'include':
            for pattern in value.split():
                if not pattern.startswith('/'):
                    pattern = '/etc/ssh/' + pattern
                if fnmatch.fnmatch(dropin_path, pattern):
                    return True, shadowing
            continue
        if key in managed:
            shadowing.append('%s (line %d)' % (key, number))
    return False, shadowing


def _addr_host(item):
    item = str(item).strip()
    if item.startswith('['):
        return item[1:].split(']', 1)[0]
    if item.count(':') == 1:
        return item.split(':', 1)[0]
    return item


def lockout_problems(options, guard):
    """Ways the wanted options would cut off the connection described by ``guard``.

    ``guard``: {server_address, server_port, login_user, user_groups (list), uses_password}.
    Empty values are not checked. Returns a list of sentences (empty = safe).
    """
    guard = guard or {}
    opts = dict((k.lower(), v) for k, v in options)
    problems = []
    server = guard.get('server_address') or ''
    port = guard.get('server_port')
    listen = opts.get('listenaddress')
    if listen and server:
        hosts = [_addr_host(a) for a in (listen if isinstance(listen, list) else [listen])]
        try:
            server_ip = ipaddress.ip_address(server)
            hit = any(h in ('0.0.0.0', '::') or ipaddress.ip_address(h) == server_ip for h in hosts
                      if _is_ip(h))
        except ValueError:
            hit = server in hosts
        if not hit:
            problems.append('ListenAddress %s does not include %s, the address this connection uses'
                            % (', '.join(hosts), server))
    ports = opts.get('port')
    if ports and port:
        ports = ports if isinstance(ports, list) else [ports]
        if str(port) not in [str(p) for p in ports]:
            problems.append('Port %s does not include %s, the port this connection uses'
                            % (', '.join(str(p) for p in ports), port))
    user = guard.get('login_user') or ''
    if user == 'root' and str(opts.get('permitrootlogin', '')).lower() == 'no':
        problems.append('PermitRootLogin no while this connection logs in as root')
    if guard.get('uses_password') and str(opts.get('passwordauthentication', '')).lower() in ('no', 'false'):
        problems.append('PasswordAuthentication no while this connection authenticates with a password')
    if guard.get('uses_password') and user == 'root' and \
            str(opts.get('permitrootlogin', '')).lower() in ('prohibit-password', 'without-password'):
        problems.append('PermitRootLogin %s while this connection logs in as root with a password'
                        % opts.get('permitrootlogin'))
    groups = opts.get('allowgroups')
    if groups and user:
        wanted = groups if isinstance(groups, list) else str(groups).split()
        have = guard.get('user_groups')
        if have is not None and not set(wanted) & set(have):
            problems.append('AllowGroups %s does not contain any group of %s (%s)'
                            % (' '.join(wanted), user, ', '.join(have) or 'none'))
    return problems


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


_ALIASES = {'without-password': 'prohibit-password'}


def _norm(value):
    return _ALIASES.get(str(value).lower(), str(value).lower())


def effective_mismatches(options, effective):
    """Compare wanted ``[(Keyword, value)]`` with parsed ``sshd -T`` output ({keyword: value}).

    Returns a list of ``keyword: wanted X, effective Y`` strings.
    """
    bad = []
    for key, value in options:
        low = key.lower()
        if low not in effective:
            bad.append('%s: wanted %s, sshd -T does not show it' % (key, value))
            continue
        have = effective[low]
        if low in REPEATED and not isinstance(value, (list, tuple)):
            value = [value]
        if isinstance(value, (list, tuple)):
            if low == 'listenaddress':
                want_set = set(_addr_host(v) for v in value)
                have_set = set(_addr_host(v) for v in (have if isinstance(have, list) else [have]))
            else:
                want_set = set(_norm(v) for v in value)
                have_list = have if isinstance(have, list) else re.split(r'[ ,]+', str(have))
                have_set = set(_norm(v) for v in have_list if v)
            if want_set != have_set:
                bad.append('%s: wanted %s, effective %s' % (key, ', '.join(sorted(want_set)),
                                                            ', '.join(sorted(have_set))))
        else:
            have_value = have[0] if isinstance(have, list) and have else have
            want = _norm('yes' if value is True else 'no' if value is False else value)
            if _norm(have_value) != want:
                bad.append('%s: wanted %s, effective %s' % (key, want, have_value))
    return bad
