# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sshd's configuration as sshd reads it.

- :func:`parse_sshd_t` parses ``sshd -T`` (the effective configuration) into a dict: one
  ``keyword value`` line per setting, keywords in lower case. Keywords that may repeat
  (listenaddress, port, hostkey, allowgroups...) become lists; algorithm lists (ciphers, macs,
  kexalgorithms...) are split on commas. Every other keyword keeps its value as a string.
- :func:`read_config` follows sshd_config and its Includes and lists the ``Match`` blocks (file,
  line, criteria, what each sets), to name the block behind a per-connection value.
- :func:`connection_specs` chooses the connections to ask sshd about (``sshd -T -C ...``):
  outside and inside the administrator networks, root and the administrator users, and one
  connection satisfying each Match block. The verdict comes from sshd; the Match parsing here
  only chooses connections and names blocks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

MULTI_KEYS = frozenset([
    'listenaddress', 'port', 'hostkey', 'hostcertificate', 'allowgroups', 'allowusers',
    'denygroups', 'denyusers', 'acceptenv', 'setenv', 'subsystem', 'authorizedkeysfile',
    'permitopen', 'permitlisten', 'include', 'channeltimeout', 'authenticationmethods',
    'logverbose',
])

LIST_KEYS = frozenset([
    'ciphers', 'macs', 'kexalgorithms', 'hostkeyalgorithms', 'pubkeyacceptedalgorithms',
    'pubkeyacceptedkeytypes', 'hostbasedacceptedalgorithms', 'hostbasedacceptedkeytypes',
    'casignaturealgorithms', 'gssapikexalgorithms',
])

# keywords whose single line may hold several space-separated entries
_SPACE_SPLIT = frozenset(['allowgroups', 'allowusers', 'denygroups', 'denyusers', 'acceptenv',
                          'authorizedkeysfile', 'permitopen', 'permitlisten', 'setenv'])


def parse_sshd_t(text):
    """Return {keyword: value} for ``sshd -T`` output. Never raises."""
    result = {}
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split(None, 1)
        key = parts[0].lower()
        value = parts[1].strip() if len(parts) > 1 else ''
        if key in LIST_KEYS:
            result[key] = [v for v in value.split(',') if v]
        elif key in MULTI_KEYS:
            items = value.split() if key in _SPACE_SPLIT else [value]
            result.setdefault(key, [])
            if isinstance(result[key], list):
                result[key].extend(i for i in items if i)
        else:
            result[key] = value
    return result


# ---------------------------------------------------------------------------------------------
# sshd_config and its Includes, Match blocks, and the connections whose effective configuration
# the audit asks sshd for (`sshd -T -C user=...,addr=...`): without -C, `sshd -T` shows only the
# global values, and a Match block may re-open what they close for some connections.
# ---------------------------------------------------------------------------------------------

SSH_DIR = '/etc/ssh'
MAIN_CONFIG = '/etc/ssh/sshd_config'
MAX_INCLUDE_DEPTH = 16          # sshd's own limit (SERVCONF_MAX_DEPTH)
MAX_CONNECTIONS = 40            # sshd -T -C runs per host at most (about 7 ms each)
# Addresses from the documentation/benchmark ranges, one of which is outside any admin network.
OUTSIDE_CANDIDATES = ('203.0.113.7', '198.51.100.7', '192.0.2.7', '100.64.0.7', '172.31.255.7',
                      '10.255.255.7')
OUTSIDE_CANDIDATES6 = ('2001:db8:ffff::7', '2001:db8::7', 'fd00:ffff::7')
# keyword aliases sshd accepts (the first value read under either name wins)
KEYWORD_ALIASES = {
    'challengeresponseauthentication': 'kbdinteractiveauthentication',
    'pubkeyacceptedkeytypes': 'pubkeyacceptedalgorithms',
    'hostbasedacceptedkeytypes': 'hostbasedacceptedalgorithms',
    'dsaauthentication': 'pubkeyauthentication',
}


def canonical_keyword(key):
    low = str(key).lower()
    return KEYWORD_ALIASES.get(low, low)


def split_args(text):
    """Words of an sshd_config value: whitespace separated, double quotes group (as argv_split)."""
    words = []
    current = []
    quoted = False
    started = False
    for char in text or '':
        if char == '"':
            quoted = not quoted
            started = True
        elif char.isspace() and not quoted:
            if started:
                words.append(''.join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    if started:
        words.append(''.join(current))
    return words


def config_directives(text):
    """``(line number, lower-case keyword, value)`` of every directive of an sshd_config text."""
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


def include_paths(value):
    """Absolute glob patterns of an ``Include`` value (relative ones are below /etc/ssh)."""
    out = []
    for pattern in split_args(value):
        out.append(pattern if pattern.startswith('/') else SSH_DIR + '/' + pattern)
    return out


def read_config(read, glob_paths, main=MAIN_CONFIG):
    """Follow sshd_config and its Includes in the order sshd reads them.

    ``read(path)`` returns the text or None; ``glob_paths(pattern)`` the sorted matching paths.
    Returns ``{'files': [...], 'unreadable': [...], 'match_blocks': [...]}`` where each Match
    block is ``{'file', 'line', 'criteria', 'settings': {keyword: first value}}`` (lower-case,
    canonical keywords). A Match block ends at the next Match or at the end of its file (an
    Include inside a Match block adds the included file's lines to that block).
    """
    state = {'files': [], 'unreadable': [], 'match_blocks': []}

    def walk(path, block, depth):
        if depth > MAX_INCLUDE_DEPTH:
            return
        text = read(path)
        if text is None:
            state['unreadable'].append(path)
            return
        state['files'].append(path)
        current = block
        for number, key, value in config_directives(text):
            if key == 'match':
                current = {'file': path, 'line': number, 'criteria': value, 'settings': {}}
                state['match_blocks'].append(current)
            elif key == 'include':
                for pattern in include_paths(value):
                    for found in glob_paths(pattern):
                        walk(found, current, depth + 1)
            elif current is not None:
                current['settings'].setdefault(canonical_keyword(key), value)

    walk(main, None, 0)
    return state


def block_name(block):
    """``Match Address 10.0.0.0/8 (/etc/ssh/sshd_config.d/50-x.conf line 3)``."""
    return 'Match %s (%s line %s)' % (block.get('criteria'), block.get('file'), block.get('line'))


# ------------------------------------------------------------------ Match criteria
_CRITERIA = ('user', 'group', 'host', 'address', 'localaddress', 'localport', 'rdomain')


def parse_criteria(text):
    """``[(criterion, value)]`` of a Match line; ``all`` has value None."""
    words = split_args(text)
    out = []
    index = 0
    while index < len(words):
        word = words[index]
        if '=' in word and word.split('=', 1)[0].lower() in _CRITERIA:
            attr, value = word.split('=', 1)
            out.append((attr.lower(), value))
            index += 1
            continue
        attr = word.lower()
        if attr == 'all':
            out.append(('all', None))
            index += 1
            continue
        out.append((attr, words[index + 1] if index + 1 < len(words) else ''))
        index += 2
    return out


def wildcard_match(value, pattern, lower=False):
    """sshd's match_pattern: ``*`` and ``?`` wildcards, the rest literal."""
    if lower:
        value, pattern = value.lower(), pattern.lower()
    regex = ''.join('.*' if c == '*' else '.' if c == '?' else re.escape(c) for c in pattern)
    return re.match('^%s\\Z' % regex, value, re.S) is not None


def pattern_list_match(value, patterns, lower=False):
    """sshd's match_pattern_list: a negated match refuses, otherwise any positive match admits."""
    if value is None:
        return False
    positive = False
    for pattern in str(patterns).split(','):
        negated = pattern.startswith('!')
        if negated:
            pattern = pattern[1:]
        if wildcard_match(str(value), pattern, lower):
            if negated:
                return False
            positive = True
    return positive


def ip_or_none(text):
    """TEXT as an IP address (brackets of [::1] allowed), or None when it is not one."""
    try:
        return ipaddress.ip_address(str(text).strip('[]'))
    except ValueError:
        return None


def address_list_match(addr, patterns):
    """sshd's addr_match_list: CIDR entries or wildcard patterns, ``!`` negates."""
    if not addr:
        return False
    ip = ip_or_none(addr)
    positive = False
    for pattern in str(patterns).split(','):
        negated = pattern.startswith('!')
        if negated:
            pattern = pattern[1:]
        if '/' in pattern:
            try:
                hit = ip is not None and ip in ipaddress.ip_network(pattern, strict=False)
            except ValueError:
                hit = False
        else:
            hit = wildcard_match(str(addr), pattern)
        if hit:
            if negated:
                return False
            positive = True
    return positive


def criteria_apply(criteria, spec, groups=None):
    """Whether a Match line applies to the connection ``spec`` ({user, host, addr, laddr,
    lport}); ``groups``: the user's groups (None when unknown). None when it cannot be told."""
    unknown = False
    for attr, value in parse_criteria(criteria):
        if attr == 'all':
            continue
        if attr == 'user':
            hit = pattern_list_match(spec.get('user'), value)
        elif attr == 'group':
            if groups is None:
                unknown = True
                continue
            hit = any(pattern_list_match(g, value) for g in groups)
        elif attr == 'host':
            hit = pattern_list_match(spec.get('host'), value, lower=True)
        elif attr == 'address':
            hit = address_list_match(spec.get('addr'), value)
        elif attr == 'localaddress':
            hit = address_list_match(spec.get('laddr'), value)
        elif attr == 'localport':
            hit = str(spec.get('lport')) == str(value)
        else:
            unknown = True
            continue
        if not hit:
            return False
    return None if unknown else True


def _first_positive(value):
    for pattern in str(value).split(','):
        if pattern and not pattern.startswith('!'):
            return pattern
    return None


def _representative_address(pattern):
    """An address inside a CIDR / wildcard pattern / literal address, or None."""
    if not pattern:
        return None
    if '/' in pattern:
        try:
            net = ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return None
        return str(net.network_address + 1) if net.num_addresses > 2 else str(net.network_address)
    candidate = pattern.replace('*', '1').replace('?', '1')
    return candidate if ip_or_none(candidate) is not None else None


def spec_for_block(criteria, base, group_member=None):
    """A connection spec that satisfies the Match line (positive criteria), starting from
    ``base``; None when no such spec can be built (a group without members, an rdomain...)."""
    spec = dict(base)
    for attr, value in parse_criteria(criteria):
        if attr == 'all':
            continue
        pattern = _first_positive(value or '')
        if attr == 'user':
            if pattern is None or '*' in pattern or '?' in pattern:
                if pattern is None or not wildcard_match(spec['user'], pattern):
                    return None
            else:
                spec['user'] = pattern
        elif attr == 'group':
            member = group_member(pattern) if (group_member and pattern and '*' not in pattern
                                               and '?' not in pattern) else None
            if member is None:
                return None
            spec['user'] = member
        elif attr == 'host':
            if pattern and '*' not in pattern and '?' not in pattern:
                spec['host'] = pattern
        elif attr in ('address', 'localaddress'):
            address = _representative_address(pattern)
            if address is None:
                return None
            spec['addr' if attr == 'address' else 'laddr'] = address
            if attr == 'address':
                spec['host'] = address
        elif attr == 'localport':
            spec['lport'] = str(value)
        else:
            return None
    return spec


def spec_arg(spec):
    """The ``-C`` argument of ``sshd -T`` (user, host and addr always: older sshd wants all three)."""
    return ','.join('%s=%s' % (key, spec[key]) for key in ('user', 'host', 'addr', 'laddr', 'lport')
                    if spec.get(key) not in (None, ''))


def spec_text(spec):
    """``root from 203.0.113.7`` (``... to 10.0.2.15:2222`` when the local side is specific) for messages."""
    text = '%s from %s' % (spec.get('user'), spec.get('addr'))
    if spec.get('laddr') not in (None, '', '0.0.0.0', '::') or str(spec.get('lport') or '22') != '22':
        text += ' to %s port %s' % (spec.get('laddr') or 'any address', spec.get('lport') or 22)
    return text


def outside_address(networks, version=4):
    """A documentation/benchmark address outside every administrator network."""
    for candidate in (OUTSIDE_CANDIDATES if version == 4 else OUTSIDE_CANDIDATES6):
        ip = ipaddress.ip_address(candidate)
        if not any(ip.version == n.version and ip in n for n in networks):
            return candidate
    return None


def admin_networks(cidrs):
    """``(networks, invalid entries)`` of the administrator CIDR strings."""
    nets, bad = [], []
    for item in cidrs or []:
        try:
            nets.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            bad.append(str(item))
    return nets, bad


def listen_host(item):
    """The address part of a ListenAddress value (``addr``, ``addr:port``, ``[v6]:port``)."""
    item = str(item).strip()
    if item.startswith('['):
        return item[1:].split(']', 1)[0]
    if item.count(':') == 1:
        return item.split(':', 1)[0]
    return item


def connection_specs(effective, blocks, cidrs=None, users=None, local_address='', group_member=None,
                     limit=MAX_CONNECTIONS):
    """The connections whose effective configuration matters, as ``(spec, why)`` pairs.

    - an address outside every administrator network and one inside each (the first 4), each
      for root and for the given administrator users (the first 4);
    - for every Match block, a connection that satisfies it (its user/group/address/local
      address/port; root from outside otherwise), so no block is left unexamined.
    Returns ``(pairs, left_out)``: at most ``limit`` pairs, ``left_out`` the number dropped.
    """
    nets, dummy = admin_networks(cidrs)
    ports = effective.get('port') or ['22']
    lport = str(ports[0] if isinstance(ports, list) else ports)
    laddr = str(local_address or '')
    if not laddr:
        for item in effective.get('listenaddress') or []:
            host = listen_host(item)
            if ip_or_none(host) is not None and host not in ('0.0.0.0', '::'):
                laddr = host
                break
    laddr = laddr or '0.0.0.0'
    addresses = [(outside_address(nets), 'outside the administrator networks')]
    if any(n.version == 6 for n in nets):
        addresses.append((outside_address(nets, 6), 'outside the administrator networks (IPv6)'))
    for net in nets[:4]:
        addresses.append((_representative_address(str(net)), 'administrator network %s' % net))
    names = ['root'] + [u for u in (str(x) for x in users or []) if u and u != 'root'][:4]
    pairs = []
    for addr, why in addresses:
        if addr is None:
            continue
        for user in names:
            pairs.append(({'user': user, 'host': addr, 'addr': addr, 'laddr': laddr, 'lport': lport}, why))
    base = {'user': 'root', 'host': pairs[0][0]['addr'] if pairs else '203.0.113.7',
            'addr': pairs[0][0]['addr'] if pairs else '203.0.113.7', 'laddr': laddr, 'lport': lport}
    for block in blocks or []:
        spec = spec_for_block(block.get('criteria') or '', base, group_member)
        if spec is not None:
            pairs.append((spec, block_name(block)))
    seen, unique = set(), []
    for spec, why in pairs:
        key = spec_arg(spec)
        if key not in seen:
            seen.add(key)
            unique.append((spec, why))
    return unique[:limit], max(0, len(unique) - limit)


# ------------------------------------------------------------------ users and groups (/etc files)
def _colon_rows(text):
    for line in (text or '').splitlines():
        if line and not line.startswith('#'):
            yield line.split(':')


def groups_of(user, passwd_text, group_text):
    """Group names of ``user`` from /etc/passwd and /etc/group texts; None when unknown."""
    gid = None
    for row in _colon_rows(passwd_text):
        if len(row) > 3 and row[0] == user:
            gid = row[3]
            break
    if gid is None:
        return None
    names = set()
    for row in _colon_rows(group_text):
        if len(row) > 3 and (row[2] == gid or user in row[3].split(',')):
            names.add(row[0])
    return sorted(names)


def member_of(group, passwd_text, group_text):
    """A user of ``group`` (listed member first, else a user whose primary group it is)."""
    gid = None
    for row in _colon_rows(group_text):
        if len(row) > 3 and row[0] == group:
            gid = row[2]
            members = [m for m in row[3].split(',') if m]
            if members:
                return members[0]
    if gid is None:
        return None
    for row in _colon_rows(passwd_text):
        if len(row) > 3 and row[3] == gid:
            return row[0]
    return None


def differences(effective, other):
    """Keywords whose value in ``other`` differs from ``effective`` (both parsed ``sshd -T``)."""
    out = {}
    for key, value in other.items():
        if effective.get(key) != value:
            out[key] = value
    for key in effective:
        if key not in other:
            out[key] = None
    return out
