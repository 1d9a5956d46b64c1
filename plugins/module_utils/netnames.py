# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One rule for network interface names and VLAN IDs, for the modules, the roles' filters and
the audit, and the shell quoting of names in generated scripts.

Interface names (``ifname_problem``): what the Linux kernel accepts (``dev_valid_name``: 1 to
15 bytes, IFNAMSIZ 16 with the terminating NUL; not ``.`` or ``..``; no ``/``, ``:`` or
whitespace) narrowed to the characters every tool that names interfaces uses: ASCII letters,
digits, ``-``, ``_`` and ``.``, not starting with ``-``. ``br-ex``, ``vmbr0``, ``bond0.100``,
``enp0s2``, ``tap3f0c2a1e-5b``, ``flannel.1`` and ``cali_1`` are valid; ``$(reboot)``,
``a;b``, ``a b``, ``eth0:1`` (an address label, not an interface) and ``-x`` (read as an option)
are not. The names reach root boot scripts, systemd unit names, nftables files and command
lines: refusing shell metacharacters up front keeps a name from ever being code, and every
generated script quotes the names as well (``sh_quote``).

Pure functions without Ansible imports: the modules, ``plugins/filter`` and ``evaluate`` can
all call them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import shlex

IFNAMSIZ = 16
VLAN_MIN = 1
VLAN_MAX = 4094

_KERNEL_FORBIDDEN = re.compile(r'[/:\s]')
_ALLOWED = re.compile(r'^[A-Za-z0-9_.-]+\Z')


def ifname_problem(name):
    """Why ``name`` is not an acceptable interface name, or None when it is."""
    if not isinstance(name, str):
        return 'not a string'
    if not name:
        return 'empty'
    if len(name.encode('utf-8')) > IFNAMSIZ - 1:
        return 'longer than %d bytes (Linux IFNAMSIZ)' % (IFNAMSIZ - 1)
    if name in ('.', '..'):
        return '"." and ".." are reserved'
    if _KERNEL_FORBIDDEN.search(name):
        return 'contains "/", ":" or whitespace, which the kernel refuses'
    if not _ALLOWED.match(name):
        bad = ''.join(sorted(set(ch for ch in name if not _ALLOWED.match(ch))))
        return 'contains %r: only letters, digits, "-", "_" and "." are accepted (no shell metacharacters)' % bad
    if name.startswith('-'):
        return 'starts with "-", which commands would read as an option'
    return None


def valid_ifname(name):
    """True when ``name`` follows the interface-name rule (see the module docstring)."""
    return ifname_problem(name) is None


def ifname_message(name, where):
    """``WHERE: 'NAME' is not a valid interface name (why)`` or None when valid."""
    problem = ifname_problem(name)
    if problem is None:
        return None
    return '%s: %r is not a valid interface name (%s)' % (where, name, problem)


def ifname_errors(name, where):
    """The interface-name rule as a list of error strings (empty when valid), for filters."""
    message = ifname_message(name, where)
    return [message] if message else []


def vlan_problem(vid):
    """Why ``vid`` is not a usable VLAN ID (an integer 1-4094, not a bool), or None."""
    if isinstance(vid, bool) or not isinstance(vid, int):
        return 'not an integer'
    if not VLAN_MIN <= vid <= VLAN_MAX:
        return 'outside %d-%d' % (VLAN_MIN, VLAN_MAX)
    return None


def vlan_errors(vids, where):
    """Errors for one VLAN ID or a list of them: ``WHERE: VLAN 5000 is outside 1-4094``."""
    items = vids if isinstance(vids, (list, tuple)) else [vids]
    errors = []
    for vid in items:
        if vlan_problem(vid) is not None:
            errors.append('%s: VLAN %r is outside %d-%d' % (where, vid, VLAN_MIN, VLAN_MAX))
    return errors


def sh_quote(value):
    """Quote one word for a POSIX shell script (shlex.quote)."""
    return shlex.quote('%s' % (value,))
