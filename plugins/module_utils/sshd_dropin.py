# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for a managed sshd drop-in (``/etc/ssh/sshd_config.d/00-hvsec.conf``).

- :func:`render` writes the drop-in text from an ordered list of (keyword, value).
- :func:`include_status` / :func:`conflicts_in` tell whether the main sshd_config includes the
  drop-in, and which lines read before it set a wanted keyword to a DIFFERENT value (sshd uses
  the first value it obtains; the same value, compared as sshd does, is no conflict).
- :func:`candidate_main` writes a main file that reads the candidate drop-in in its place, so
  ``sshd -t/-T -f`` judge the configuration before anything is written.
- :func:`access_problems` lists why the connection in use could not log in again under a
  configuration (sshd's own ``sshd -T -C`` reading of the candidate, or a model of the options).
- :func:`effective_mismatches` compares wanted values with ``sshd -T`` output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import re

from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import (
    address_list_match, canonical_keyword, config_directives, include_paths, ip_or_none, listen_host,
    parse_sshd_t, split_args, wildcard_match)

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


def _wanted(options):
    """{canonical keyword: (Keyword, value)} of the wanted options; a bare keyword (str) wants any value."""
    out = {}
    for item in options:
        key, value = (item, _ANY) if not isinstance(item, (list, tuple)) else (item[0], item[1])
        out.setdefault(canonical_keyword(key), (key, value))
    return out


_ANY = object()
# enumerated values sshd compares case-insensitively (strcasecmp in its option parser)
_ENUM_WORDS = frozenset(['yes', 'no', 'prohibit-password', 'without-password', 'forced-commands-only', 'any',
                         'inet', 'inet6', 'local', 'remote', 'all', 'none', 'point-to-point', 'ethernet',
                         'clientspecified', 'quiet', 'fatal', 'error', 'info', 'verbose', 'debug', 'debug1',
                         'debug2', 'debug3', 'daemon', 'user', 'auth', 'authpriv', 'local0', 'local1', 'local2',
                         'local3', 'local4', 'local5', 'local6', 'local7', 'md5', 'sha256'])
# keywords whose values add up over every line and file instead of the first one winning
ACCUMULATING = frozenset(['listenaddress', 'port', 'allowgroups', 'allowusers', 'denygroups', 'denyusers',
                          'acceptenv', 'hostkey', 'hostcertificate', 'subsystem'])


def _want_words(key, value):
    values = value if isinstance(value, (list, tuple)) else [value]
    words = [_word(v) for v in values]
    if key in COMMA_LISTS:
        return [w for word in words for w in word.split(',') if w]
    return [w for word in words for w in word.split()]


def _have_words(key, raw):
    words = split_args(raw)
    if key in COMMA_LISTS:
        return [w for word in words for w in word.split(',') if w]
    return words


def _enum(word):
    low = word.lower()
    return 'prohibit-password' if low == 'without-password' else low


def same_value(keyword, have_raw, want_value):
    """Whether an earlier line ``keyword have_raw`` leaves sshd with the value the role wants."""
    key = canonical_keyword(keyword)
    have = _have_words(key, have_raw)
    try:
        want = _want_words(key, want_value)
    except ValueError:
        return False
    if len(have) == 1 and len(want) == 1 and have[0].lower() in _ENUM_WORDS and want[0].lower() in _ENUM_WORDS:
        return _enum(have[0]) == _enum(want[0])
    if key in ACCUMULATING:
        # the earlier line adds its items to the role's: harmless when they are among them
        return set(have) <= set(want)
    return have == want


def conflicts_in(name, text, options, before_line=None):
    """Top-level lines of ``text`` (a file sshd reads before the drop-in; up to ``before_line``)
    that set a wanted keyword to a different value: sshd would use theirs (or add them, for
    ListenAddress, Port, AllowGroups...). Each as ``Keyword value (NAME line N; the role wants X)``."""
    wanted = _wanted(options)
    found = []
    for number, key, value in config_directives(text):
        if key == 'match' or (before_line is not None and number >= before_line):
            break
        canon = canonical_keyword(key)
        if canon not in wanted:
            continue
        want_key, want_value = wanted[canon]
        if want_value is not _ANY and same_value(canon, value, want_value):
            continue
        original = _original_keyword(text, number)
        found.append('%s %s (%s line %d; the role wants %s)' % (
            original, value, name, number,
            'a value' if want_value is _ANY else '%s %s' % (want_key, ' '.join(_want_words(canon, want_value)))))
    return found


def _original_keyword(text, number):
    line = text.splitlines()[number - 1].strip()
    return line.split(None, 1)[0].split('=', 1)[0]


def _include_hits(value, dropin_path):
    return [p for p in include_paths(value) if fnmatch.fnmatch(dropin_path, p)]


def include_pattern(main_text, dropin_path):
    """The top-level ``Include`` pattern (absolute) that matches ``dropin_path``, or None."""
    for dummy, key, value in config_directives(main_text):
        if key == 'match':
            return None
        if key == 'include':
            hits = _include_hits(value, dropin_path)
            if hits:
                return hits[0]
    return None


def include_status(main_text, dropin_path, options, name='sshd_config'):
    """Return ``(included, conflicts)``.

    ``included``: an ``Include`` at top level (before any ``Match``) whose pattern matches
    ``dropin_path``. ``conflicts``: lines of the main file before that Include (or anywhere at top
    level when it does not include the drop-in) that set a wanted keyword to a different value.
    ``options``: ``[(Keyword, value)]`` (a bare keyword conflicts with any value).
    """
    for number, key, value in config_directives(main_text):
        if key == 'match':
            break
        if key == 'include' and _include_hits(value, dropin_path):
            return True, conflicts_in(name, main_text, options, before_line=number)
    return False, conflicts_in(name, main_text, options)


def candidate_main(main_text, dropin_path, candidate_path, glob_paths):
    """The main sshd_config text with every ``Include`` pattern that matches ``dropin_path``
    expanded to its files in sshd's order, ``candidate_path`` standing for the drop-in (also when
    the drop-in does not exist yet). ``sshd -T -f`` on it reads the configuration the drop-in
    would make, without writing the drop-in. ``glob_paths(pattern)``: sorted matching paths."""
    out = []
    for raw in (main_text or '').splitlines():
        parts = raw.strip().split(None, 1)
        if not parts or parts[0].split('=', 1)[0].lower() != 'include':
            out.append(raw)
            continue
        value = parts[1] if len(parts) > 1 else parts[0].split('=', 1)[1] if '=' in parts[0] else ''
        words = []
        for pattern in include_paths(value.lstrip('=').strip()):
            if not fnmatch.fnmatch(dropin_path, pattern):
                words.append(pattern)
                continue
            files = sorted(set(glob_paths(pattern)) | set([dropin_path]))
            words.extend(candidate_path if f == dropin_path else f for f in files)
        out.append('Include ' + ' '.join('"%s"' % w if any(c.isspace() for c in w) else w for w in words)
                   if words else '# hvsec: include of nothing')
    return '\n'.join(out) + '\n'


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
                want_set = set(listen_host(v) for v in value)
                have_set = set(listen_host(v) for v in (have if isinstance(have, list) else [have]))
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


# ------------------------------------------------------------------ can this connection still log in?
def _list(value):
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _split_listen(item):
    """``(host, port or None)`` of a ListenAddress entry (``10.0.2.15:22``, ``[::]:22``, ``10.0.2.15``)."""
    item = str(item).strip()
    if item.startswith('['):
        host, dummy, rest = item[1:].partition(']')
        return host, (rest[1:] if rest.startswith(':') else None)
    if item.count(':') == 1:
        host, port = item.split(':', 1)
        return host, port
    return item, None


def _listen_covers(host, server_ip):
    ip = ip_or_none(host)
    if ip is None:
        return None                      # a host name: cannot tell
    if ip.is_unspecified:
        return ip.version == server_ip.version
    return ip == server_ip


def _host_part_match(pattern_list, client):
    """The HOST of a USER@HOST pattern: addresses, CIDRs or wildcards, ``!`` negates."""
    return address_list_match(client, pattern_list)


def _user_pattern_match(pattern, user, client):
    if '@' in pattern:
        user_part, host_part = pattern.split('@', 1)
        return wildcard_match(user, user_part) and bool(client) and _host_part_match(host_part, client)
    return wildcard_match(user, pattern)


def _describe(key, eff):
    names = {'allowusers': 'AllowUsers', 'denyusers': 'DenyUsers', 'allowgroups': 'AllowGroups',
             'denygroups': 'DenyGroups'}
    return '%s %s' % (names[key], ' '.join(_list(eff.get(key))))


def access_problems(eff, conn):
    """Why the connection ``conn`` could not log in again under the configuration ``eff``.

    ``eff``: parsed ``sshd -T -C conn`` output of the candidate configuration (sshd's own
    reading, Match blocks applied), or the wanted options alone (:func:`model_effective`):
    keywords they do not set are then unknown and not judged.
    ``conn``: {login_user, user_groups (list, None = unknown), client_address, server_address,
    server_port, uses_password}; empty values are not judged.
    Returns sentences naming the option and why (empty = the connection can log in).
    """
    conn = conn or {}
    problems = []
    server = str(conn.get('server_address') or '')
    port = str(conn.get('server_port') or '')
    user = str(conn.get('login_user') or '')
    client = str(conn.get('client_address') or '')
    uses_password = bool(conn.get('uses_password'))
    groups = conn.get('user_groups')

    # where sshd listens: ListenAddress entries carry their port in sshd -T output
    server_ip = ip_or_none(server)
    listen = _list(eff.get('listenaddress'))
    ports = _list(eff.get('port'))
    if listen and server_ip is not None:
        covered, unknown = False, False
        for item in listen:
            host, item_port = _split_listen(item)
            hit = _listen_covers(host, server_ip)
            item_ports = [item_port] if item_port else ports
            if hit is None:
                unknown = True              # a host name
            elif not hit:
                continue
            elif not port or port in item_ports:
                covered = True
            elif not item_ports:
                unknown = True              # no port given and none known (the model of the options)
        if not covered and not unknown:
            problems.append('ListenAddress %s: sshd would not listen on %s port %s, where this connection arrived'
                            % (' '.join(listen), server, port or '?'))
    elif ports and port and port not in ports:
        problems.append('Port %s: sshd would not listen on port %s, where this connection arrived'
                        % (' '.join(ports), port))

    if user:
        # sshd's allowed_user(): DenyUsers, AllowUsers, DenyGroups, AllowGroups, in that order
        deny = [p for p in _list(eff.get('denyusers')) if _user_pattern_match(p, user, client)]
        if deny:
            problems.append('%s: %s matches %s, the user this connection logs in as'
                            % (_describe('denyusers', eff), deny[0], user))
        allow = _list(eff.get('allowusers'))
        if allow and not any(_user_pattern_match(p, user, client) for p in allow):
            problems.append('%s: does not admit %s%s, the user this connection logs in as'
                            % (_describe('allowusers', eff), user, ' from %s' % client if client else ''))
        if groups is not None:
            hit = [g for g in groups for p in _list(eff.get('denygroups')) if wildcard_match(g, p)]
            if hit:
                problems.append('%s: %s is a group of %s, the user this connection logs in as'
                                % (_describe('denygroups', eff), hit[0], user))
            allow_groups = _list(eff.get('allowgroups'))
            if allow_groups and not any(wildcard_match(g, p) for g in groups for p in allow_groups):
                problems.append('%s: none of them is a group of %s (%s), the user this connection logs in as'
                                % (_describe('allowgroups', eff), user, ', '.join(groups) or 'no group'))
        if user == 'root':
            root_login = _norm(_list(eff.get('permitrootlogin'))[0]) if eff.get('permitrootlogin') else ''
            if root_login == 'no':
                problems.append('PermitRootLogin no: this connection logs in as root')
            elif root_login == 'forced-commands-only':
                problems.append('PermitRootLogin forced-commands-only: root may only run the command= of its key, '
                                'Ansible could not run its modules as root')
            elif root_login == 'prohibit-password' and uses_password:
                problems.append('PermitRootLogin %s: this connection logs in as root with a password'
                                % _list(eff.get('permitrootlogin'))[0])

    # how this connection authenticates: a password (ansible_password) or a key
    have = ['password', 'keyboard-interactive'] if uses_password else ['publickey']
    enabled = {'password': 'passwordauthentication', 'keyboard-interactive': 'kbdinteractiveauthentication',
               'publickey': 'pubkeyauthentication'}
    if uses_password and _norm(_list(eff.get('passwordauthentication') or ['yes'])[0]) == 'no':
        problems.append('PasswordAuthentication no: this connection authenticates with a password')
    if not uses_password and _norm(_list(eff.get('pubkeyauthentication') or ['yes'])[0]) == 'no':
        problems.append('PubkeyAuthentication no: this connection authenticates with a key')
    methods = ' '.join(_list(eff.get('authenticationmethods'))).split()
    if methods and methods != ['any']:
        def usable(method):
            base = method.split(':', 1)[0]
            return base in have and _norm(_list(eff.get(enabled[base]) or ['yes'])[0]) != 'no'
        if not any(all(usable(m) for m in alt.split(',')) and alt.split(',').count('publickey') < 2
                   for alt in methods):
            method = 'a password' if uses_password else 'a key (publickey)'
            problems.append('AuthenticationMethods %s: no list can be completed by this connection, which '
                            'authenticates with %s only' % (' '.join(methods), method))
    return problems


def model_effective(options):
    """The wanted options as a partial ``sshd -T`` reading (lower-case keywords, the same value
    shapes), for :func:`access_problems` before sshd itself is asked."""
    eff = parse_sshd_t(render([(canonical_keyword(k), v) for k, v in options]))
    return eff
