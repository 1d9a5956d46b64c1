# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probes of the management plane: facts keys ``listeners``, ``processes``, ``sshd``, ``audit``, ``time_sync``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.hvsec.hypervisor.plugins.module_utils import files
from ansible_collections.hvsec.hypervisor.plugins.module_utils import netstat
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd as sshd_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import NOT_INSTALLED, PERMISSION_DENIED, reason_of

# (comm in /proc, daemon name) of the time synchronisation daemons
_TIME_DAEMONS = (('chronyd', 'chronyd'), ('ntpd', 'ntpd'), ('systemd-timesyn', 'systemd-timesyncd'),
                 ('timesyncd', 'systemd-timesyncd'), ('openntpd', 'openntpd'), ('ptp4l', 'ptp4l'))


def probe_listeners(ctx):
    """``listeners``: [{proto, address, port, process, pid, uid}] from /proc/net/{tcp,tcp6,udp,udp6},
    owners from /proc/*/fd."""
    sockets = []
    readable = False
    for proto in ('tcp', 'tcp6', 'udp', 'udp6'):
        text = ctx.fs.read('/proc/net/%s' % proto, 'listeners', missing_ok=proto.endswith('6'))
        if text is not None:
            readable = True
            sockets.extend(netstat.parse_proc_net(text, proto))
    if not readable:
        return None
    wanted = set(s['inode'] for s in sockets)
    if not wanted:
        return []
    owners = {}
    denied = 0
    for pid, comm in sorted(ctx.processes().items()):
        try:
            fds = os.listdir(ctx.fs.path('/proc/%d/fd' % pid))
        except (IOError, OSError) as exc:
            if reason_of(exc) == PERMISSION_DENIED:
                denied += 1
            continue
        for fd in fds:
            try:
                target = os.readlink(ctx.fs.path('/proc/%d/fd/%s' % (pid, fd)))
            except (IOError, OSError):
                continue
            inode = netstat.socket_inode(target)
            # socket activation: systemd (pid 1) and the service share the socket; name the service
            if inode in wanted and (inode not in owners or owners[inode][0] == 1):
                owners[inode] = (pid, comm)
    if denied:
        ctx.note('listeners', '/proc/*/fd', PERMISSION_DENIED)
    return netstat.attach_owners(sockets, owners)


def probe_processes(ctx):
    """``processes``: distinct /proc/*/comm names."""
    names = ctx.processes()
    if not names and ctx.fs.listdir('/proc', None) is None:
        return None
    return sorted(set(names.values()))


def probe_sshd(ctx):
    """``sshd``: effective, error (``sshd -T``); when it worked also config_files, match_blocks,
    connections, connections_left_out (``sshd -T -C`` per connection of interest)."""
    binary = ctx.tool('sshd')
    if binary is None:
        ctx.note('sshd', 'sshd', NOT_INSTALLED)
        return None
    # sshd -T needs root (it loads the host keys); unprivileged runs are noted as permission denied
    rc, out, err = ctx.run('sshd', [binary, '-T'], needs_root=True)
    if rc != 0:
        return {'effective': None, 'error': (err or '').strip() or 'sshd -T failed (rc=%s)' % rc}
    effective = sshd_utils.parse_sshd_t(out)
    result = {'effective': effective, 'error': None}
    result.update(_sshd_connections(ctx, binary, effective))
    return result


def _sshd_connections(ctx, binary, effective):
    """Without -C, ``sshd -T`` shows only the global values; a Match block may re-open what
    they close. Ask sshd for the connections that matter (sshd_utils.connection_specs) and
    keep, per connection, the keywords whose value differs from the global one."""
    config = sshd_utils.read_config(
        lambda path: ctx.fs.read(path, 'sshd', missing_ok=True), ctx.fs.glob, sshd_utils.MAIN_CONFIG)
    blocks = config['match_blocks']
    passwd = files.read_text(ctx.fs.path('/etc/passwd'))
    group = files.read_text(ctx.fs.path('/etc/group'))
    options = ctx.sshd_options
    nets, invalid = sshd_utils.admin_networks(options.get('admin_cidrs'))
    for item in invalid:
        ctx.note('sshd', 'sshd_admin_cidrs', 'not a CIDR: %s' % item)
    specs, left_out = sshd_utils.connection_specs(
        effective, blocks, [str(n) for n in nets], options.get('users'), options.get('local_address'),
        lambda name: sshd_utils.member_of(name, passwd, group))
    connections = []
    for spec, why in specs:
        rc, out, err = ctx.run('sshd', [binary, '-T', '-C', sshd_utils.spec_arg(spec)], needs_root=True)
        entry = {'spec': spec, 'why': why, 'differs': None, 'matched': None, 'error': None}
        if rc != 0:
            entry['error'] = (err or '').strip() or 'sshd -T -C failed (rc=%s)' % rc
        else:
            entry['differs'] = sshd_utils.differences(effective, sshd_utils.parse_sshd_t(out))
            groups = sshd_utils.groups_of(spec['user'], passwd, group)
            entry['matched'] = [i for i, block in enumerate(blocks)
                                if sshd_utils.criteria_apply(block['criteria'], spec, groups) is not False]
        connections.append(entry)
    return {'config_files': config['files'], 'match_blocks': blocks, 'connections': connections,
            'connections_left_out': left_out}


def probe_audit(ctx):
    """``audit``: rules (/etc/audit/rules.d/*.rules)."""
    directory = '/etc/audit/rules.d'
    names = ctx.fs.listdir(directory, 'audit')
    if names is None:
        return {'rules': None}
    rules = []
    for name in names:
        if name.endswith('.rules'):
            text = ctx.fs.read('%s/%s' % (directory, name), 'audit')
            if text is not None:
                rules.extend(procfs.parse_audit_rules(text))
    return {'rules': rules}


def probe_time_sync(ctx):
    """``time_sync``: active, daemon (a time synchronisation daemon in /proc)."""
    names = set(ctx.processes().values())
    for comm, daemon in _TIME_DAEMONS:
        if comm in names:
            return {'active': True, 'daemon': daemon}
    if not names:
        return {'active': None, 'daemon': None}
    return {'active': False, 'daemon': None}
