# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side filters for the mgmt_plane role: administrator CIDRs and the lockout guard.

``mgmt_cidrs``: validate and normalize a list of administrator networks with netaddr
(host bits cleared, overlapping networks merged, IPv4 and IPv6 split).
``mgmt_cidr_contains``: whether an address is inside any of the networks.
``mgmt_ip``: validate and normalize one IP address. ``mgmt_is_loopback``: 127.0.0.0/8 or ::1.
``mgmt_firewall_failure``: what a failed management firewall change left running, by failed step.
``mgmt_sshd_failure``: what a failed sshd reload left running: restored at once, or rolled back by
the timer or by the role, and whether a new login works again.
``mgmt_key_file_errors``: a private key file (from ``ansible.builtin.stat``) that is not root's
or whose mode is more than 0640, each problem named.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover
    HAS_NETADDR = False


def _need_netaddr():
    if not HAS_NETADDR:
        raise AnsibleFilterError('the hvsec.hypervisor mgmt_* filters need the netaddr Python library on the controller')


def mgmt_cidrs(value, name='hvsec_mgmt_plane_admin_cidrs'):
    """Return {'ipv4': [...], 'ipv6': [...], 'all': [...]} of normalized, merged CIDRs.

    Raises AnsibleFilterError naming ``name`` and the bad item.
    """
    _need_netaddr()
    if value is None:
        value = []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError('%s must be a list of CIDRs, got %r' % (name, value))
    nets = []
    for item in value:
        text = str(item).strip() if isinstance(item, str) else None
        if not text or '/' not in text and not _is_address(text):
            raise AnsibleFilterError('%s: %r is not a CIDR (expected e.g. 192.0.2.0/24 or 2001:db8::/64)'
                                     % (name, item))
        try:
            net = netaddr.IPNetwork(text)
        except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
            raise AnsibleFilterError('%s: %r is not a valid CIDR (%s)' % (name, item, exc))
        if net.prefixlen == 0:
            raise AnsibleFilterError('%s: %r admits every address; list the administrator networks instead'
                                     % (name, item))
        nets.append(net.cidr)
    merged = netaddr.cidr_merge(nets)
    v4 = [str(n) for n in merged if n.version == 4]
    v6 = [str(n) for n in merged if n.version == 6]
    return {'ipv4': v4, 'ipv6': v6, 'all': v4 + v6}


def _is_address(text):
    try:
        netaddr.IPAddress(text)
        return True
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False


def mgmt_cidr_contains(address, cidrs):
    """True when ``address`` (an IP, IPv4-mapped IPv6 allowed) is in one of ``cidrs``."""
    _need_netaddr()
    if isinstance(cidrs, dict):
        cidrs = cidrs.get('all', [])
    try:
        ip = netaddr.IPAddress(str(address).strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise AnsibleFilterError('mgmt_cidr_contains: %r is not an IP address' % (address,))
    if ip.version == 6 and ip.is_ipv4_mapped():
        ip = ip.ipv4()
    for cidr in cidrs or []:
        if ip in netaddr.IPNetwork(str(cidr)):
            return True
    return False


def mgmt_ip(value, name='address'):
    """Validate one IP address (no prefix) and return it normalized; raise naming ``name``."""
    _need_netaddr()
    text = str(value).strip() if isinstance(value, str) else ''
    if not text or '/' in text:
        raise AnsibleFilterError('%s: %r is not an IP address' % (name, value))
    try:
        return str(netaddr.IPAddress(text))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise AnsibleFilterError('%s: %r is not an IP address' % (name, value))


def mgmt_is_loopback(value):
    """True for 127.0.0.0/8 and ::1 (a hostname such as localhost is not accepted)."""
    _need_netaddr()
    try:
        return netaddr.IPAddress(str(value).strip()).is_loopback()
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False


# The steps of the firewall block in roles/mgmt_plane/tasks/firewall.yml (task names after
# "HVS-MGMT-18 | "), by what a failure there leaves running.
_FW_NOTHING_LOADED = re.compile('^(Write the rollback ruleset|Clear a leftover|Arm the automatic rollback)')
_FW_LOAD = re.compile('^Load table')
_FW_RECONNECT = re.compile('^(Drop the existing connection|Open a new connection)')
_FW_CONFIRM = re.compile('^Confirm')
_FW_PERSIST = re.compile('^Persist')


def mgmt_firewall_failure(step, error, rollback_seconds, confirm_timeout, persisted):
    """The message of a failed management firewall change: the step that failed (``step``, the
    failed task's name without its ``HVS-MGMT-18 | `` prefix), the error, and what the host runs now."""
    step = str(step or '')
    if _FW_NOTHING_LOADED.search(step):
        state = 'Nothing was loaded: the running table inet hvsec_mgmt is unchanged and nothing was persisted.'
    elif _FW_LOAD.search(step):
        state = ('nft loads a ruleset whole or not at all: the running table inet hvsec_mgmt is unchanged and '
                 'nothing was persisted (the armed timer hvsec-mgmt-fw-rollback re-loads that same table '
                 'within %s s).' % rollback_seconds)
    elif _FW_RECONNECT.search(step):
        state = ('The new table was loaded but could not be confirmed: no new connection came through it '
                 'within %s s. The timer hvsec-mgmt-fw-rollback restores the previous table at most %s s '
                 'after it was armed; nothing was persisted.' % (confirm_timeout, rollback_seconds))
    elif _FW_CONFIRM.search(step):
        state = ('A new connection came through the new table, but its rollback timer could not be stopped: '
                 'the timer hvsec-mgmt-fw-rollback restores the previous table at most %s s after it was '
                 'armed; nothing was persisted. Run the role again.' % rollback_seconds)
    elif _FW_PERSIST.search(step):
        state = ('The new table is loaded and confirmed (its rollback timer is stopped) but was not persisted '
                 'to %s: it stays loaded until the next boot, which loads the table persisted before (or '
                 'none). Run the role again.' % persisted)
    else:
        state = ('If the new table was loaded, the timer hvsec-mgmt-fw-rollback restores the previous one at '
                 'most %s s after it was armed; nothing was persisted.' % rollback_seconds)
    message = 'The management firewall change failed at "%s" (%s). %s' % (step, error, state)
    return re.sub('[\n ]+', ' ', message)


# The step of the sshd block in roles/mgmt_plane/tasks/sshd.yml (task name after its control IDs)
# that fails when the new login came too late: the rollback timer had fired already.
_SSHD_TIMER_FIRED = re.compile('^Confirm before the rollback fired')


def mgmt_sshd_failure(step, error, armed, role_rolled_back, login_back, dropin, rollback_seconds, confirm_timeout):
    """The message of a failed sshd reload (the rescue of the sshd block).

    ``step`` is the failed task's name without its control IDs, ``error`` its error text; ``armed``
    whether the rollback timer was armed; ``role_rolled_back`` whether the role ran the rollback
    itself (the host answered again while the timer was still waiting); ``login_back`` whether a
    new login worked after the rollback."""
    if not armed:
        message = ('sshd: the rollback timer could not be armed (%s); the previous %s was restored and sshd was not '
                   'reloaded. Nothing of the sshd change remains.' % (error, dropin))
    else:
        if _SSHD_TIMER_FIRED.search(str(step or '')):
            cause = ('the rollback timer fired before a new login confirmed the change; raise '
                     'hvsec_mgmt_plane_sshd_rollback_seconds')
        else:
            cause = error
        if role_rolled_back:
            by = 'by the role, as the host answered again before the timer fired'
        else:
            by = 'by the timer hvsec-mgmt-sshd-rollback, %s s after it was armed' % rollback_seconds
        if login_back:
            after = 'A new login works again.'
        else:
            after = ('No new login worked within %s s after that either: check the host on its console.'
                     % (int(rollback_seconds) + int(confirm_timeout)))
        message = ('sshd: no new login was confirmed after the reload (%s). The change was rolled back: the '
                   'previous %s is back and sshd was reloaded (%s). %s' % (cause, dropin, by, after))
    return re.sub('[\n ]+', ' ', message)


# The permission bits a private key must not have (at most 0640: root reads and writes it, its
# group may read it), most exposing first, by what each lets happen.
_KEY_MODE_PROBLEMS = (
    (0o004, 'is readable by others'),
    (0o002, 'is writable by others'),
    (0o001, 'is executable by others'),
    (0o020, 'is writable by its group'),
    (0o010, 'is executable by its group'),
    (0o100, 'is executable by its owner'),
    (0o4000, 'has the set-user-ID bit'),
    (0o2000, 'has the set-group-ID bit'),
    (0o1000, 'has the sticky bit'),
)


def _stat_mode(value, path):
    """The permission bits of a stat result's ``mode`` (octal text such as "0640", or a number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value & 0o7777
    try:
        return int(str(value).strip(), 8) & 0o7777
    except (TypeError, ValueError):
        raise AnsibleFilterError('mgmt_key_file_errors: %s has no readable mode: %r' % (path, value))


def mgmt_key_file_errors(results, var):
    """Problems of the private key files among ``results`` (the results of an ``ansible.builtin.stat``
    loop over items ``{var, path}``) whose item is ``var``: each file that exists must be owned by
    root with at most mode 0640. One message per problem, naming ``var``, the file and its mode."""
    errors = []
    for result in results or []:
        if not isinstance(result, dict) or (result.get('item') or {}).get('var') != var:
            continue
        stat = result.get('stat') or {}
        if not stat.get('exists'):
            continue
        path = stat.get('path') or result['item'].get('path')
        if 'uid' in stat:
            by_root = stat['uid'] == 0
        else:
            by_root = stat.get('pw_name') == 'root'
        if not by_root:
            owner = stat.get('pw_name') or 'uid %s' % stat.get('uid')
            errors.append('%s: %s is not owned by root but by %s (chown root)' % (var, path, owner))
        mode = _stat_mode(stat.get('mode'), path)
        for bit, problem in _KEY_MODE_PROBLEMS:
            if mode & bit:
                errors.append('%s: %s %s (mode %04o; make it 0600 or 0640)' % (var, path, problem, mode))
    return errors


class FilterModule(object):
    def filters(self):
        return {
            'mgmt_cidrs': mgmt_cidrs,
            'mgmt_cidr_contains': mgmt_cidr_contains,
            'mgmt_ip': mgmt_ip,
            'mgmt_is_loopback': mgmt_is_loopback,
            'mgmt_firewall_failure': mgmt_firewall_failure,
            'mgmt_sshd_failure': mgmt_sshd_failure,
            'mgmt_key_file_errors': mgmt_key_file_errors,
        }
