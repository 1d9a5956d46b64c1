# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``sshd -T`` (the effective sshd configuration) into a dict.

``sshd -T`` prints one ``keyword value`` line per setting, keywords in lower
case. Keywords that may repeat (listenaddress, port, hostkey, allowgroups...)
become lists; algorithm lists (ciphers, macs, kexalgorithms...) are split on
commas. Every other keyword keeps its value as a string.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
