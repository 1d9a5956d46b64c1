# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe orchestration for hvsec.hypervisor.hypervisor_facts.

``gather_facts(root, run_command, get_bin_path, euid, gather)`` reads every
file below ``root`` (``/`` on a host, a fixture tree in unit tests) and calls
the external tools through the injected ``run_command(args) -> (rc, out, err)``
and ``get_bin_path(name) -> path or None``. It never raises and never writes:
every missing or unreadable source becomes ``None`` plus an entry in
``notes``. See docs/facts.md for the schema.

This file holds the reading context shared by the probes (``Reader``, ``Context``) and the
order in which they run; each probe area is one ``facts_<area>.py`` file whose
``probe_<key>(ctx)`` returns the value of one top-level facts key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os

from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_boot
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_cpu
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_host
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_iommu
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_kernel
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_libvirt
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_mgmt
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_network
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_pci
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import (
    NOT_FOUND, PERMISSION_DENIED, reason_of)

SCHEMA_VERSION = 1

# facts key -> the area module whose probe_<key>(ctx) produces it, in the order the probes run
AREAS = (
    ('host', facts_host),
    ('cpu', facts_cpu),
    ('kvm', facts_kernel),
    ('ksm', facts_kernel),
    ('cmdline', facts_kernel),
    ('iommu', facts_iommu),
    ('pci', facts_pci),
    ('vfio', facts_kernel),
    ('network', facts_network),
    ('libvirt', facts_libvirt),
    ('listeners', facts_mgmt),
    ('processes', facts_mgmt),
    ('sshd', facts_mgmt),
    ('nftables', facts_network),
    ('audit', facts_mgmt),
    ('sysctl', facts_network),
    ('security_module', facts_kernel),
    ('time_sync', facts_mgmt),
    ('boot', facts_boot),
)
PROBES = tuple(name for name, dummy in AREAS)


class Reader(object):
    """Filesystem access below ``root`` that records what it could not read."""

    def __init__(self, root='/'):
        self.root = root or '/'
        self.notes = []

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def note(self, probe, path, reason):
        entry = {'probe': probe, 'path': path, 'reason': reason}
        if entry not in self.notes:
            self.notes.append(entry)

    def read(self, path, probe=None, missing_ok=False):
        """Text of a file, or None (noted unless missing_ok and it is absent)."""
        try:
            with open(self.path(path), 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            reason = reason_of(exc)
            if probe and not (missing_ok and reason == NOT_FOUND):
                self.note(probe, path, reason)
            return None
        return data.decode('utf-8', 'replace')

    def value(self, path, probe=None, missing_ok=False):
        """Stripped text of a one-line sysfs/procfs file, or None."""
        text = self.read(path, probe, missing_ok)
        return text.strip() if text is not None else None

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def glob(self, pattern):
        """Sorted paths (as on the host) matching a glob pattern."""
        prefix = self.root.rstrip('/')
        return sorted(p[len(prefix):] for p in glob.glob(self.path(pattern)))

    def isdir(self, path):
        return os.path.isdir(self.path(path))

    def listdir(self, path, probe=None, missing_ok=False):
        """Sorted entries of a directory, or None (noted unless missing_ok and absent)."""
        try:
            return sorted(os.listdir(self.path(path)))
        except (IOError, OSError) as exc:
            reason = reason_of(exc)
            if probe and not (missing_ok and reason == NOT_FOUND):
                self.note(probe, path, reason)
            return None

    def link_name(self, path):
        """Last component of a symlink's target, or None."""
        try:
            return os.path.basename(os.readlink(self.path(path)).rstrip('/')) or None
        except (IOError, OSError):
            return None

    def readlink(self, path):
        try:
            return os.readlink(self.path(path))
        except (IOError, OSError):
            return None

    def realpath(self, path):
        return os.path.realpath(self.path(path))


class Context(object):
    """What every probe shares: the Reader, the tool runner with its cache, the notes and /proc."""

    def __init__(self, root='/', run_command=None, get_bin_path=None, euid=None, sshd_options=None):
        self.fs = Reader(root)
        # the connections to read sshd's effective configuration for: admin_cidrs, users, local_address
        self.sshd_options = sshd_options or {}
        self.run_command = run_command
        self.get_bin_path = get_bin_path or (lambda name: None)
        self.euid = os.geteuid() if euid is None else euid
        self._pid_comm = None
        self._tool_cache = {}

    @property
    def privileged(self):
        return self.euid == 0

    def note(self, probe, path, reason):
        self.fs.note(probe, path, reason)

    def tool(self, name):
        try:
            return self.get_bin_path(name)
        except Exception:  # pylint: disable=broad-except
            return None

    def run(self, probe, args, needs_root=False):
        """Run a tool once. Returns (rc, out, err); rc None when it could not run.

        ``needs_root``: a failure of an unprivileged run is noted as permission denied.
        """
        key = tuple(args)
        if key in self._tool_cache:
            return self._tool_cache[key]
        if self.run_command is None:
            result = (None, '', 'no command runner')
        else:
            try:
                rc, out, err = self.run_command(list(args))
                result = (rc, out or '', err or '')
            except Exception as exc:  # pylint: disable=broad-except
                result = (None, '', str(exc))
        if result[0] != 0:
            reason = self._failure_reason(result)
            if needs_root and not self.privileged and result[0] is not None:
                reason = PERMISSION_DENIED
            self.note(probe, args[0], reason)
        self._tool_cache[key] = result
        return result

    def _failure_reason(self, result):
        rc, dummy, err = result
        text = (err or '').strip().lower()
        if 'permission denied' in text or 'operation not permitted' in text or (
                not self.privileged and rc not in (None, 0) and 'privilege' in text):
            return PERMISSION_DENIED
        first = (err or '').strip().splitlines()
        detail = first[0] if first else ''
        return ('failed (rc=%s)%s' % (rc, ': ' + detail if detail else ''))[:300]

    def processes(self):
        """{pid: comm} of /proc (cached)."""
        if self._pid_comm is None:
            self._pid_comm = {}
            for entry in self.fs.listdir('/proc', 'processes') or []:
                if entry.isdigit():
                    comm = self.fs.value('/proc/%s/comm' % entry)
                    if comm is not None:
                        self._pid_comm[int(entry)] = comm
        return self._pid_comm


def gather_facts(root='/', run_command=None, get_bin_path=None, euid=None, gather=None, sshd_options=None):
    """Gather ``ansible_facts.hvsec``. ``gather``: iterable of probe names, None/'all' for all.
    ``sshd_options``: {admin_cidrs, users, local_address} for the per-connection sshd reading."""
    wanted = set(PROBES) if not gather or 'all' in gather else set(gather) | set(['host'])
    ctx = Context(root, run_command, get_bin_path, euid, sshd_options)
    facts = {'schema_version': SCHEMA_VERSION, 'privileged': ctx.privileged}
    for name, area in AREAS:
        if name not in wanted:
            continue
        try:
            facts[name] = getattr(area, 'probe_' + name)(ctx)
        except Exception as exc:  # pylint: disable=broad-except
            facts[name] = None
            ctx.note(name, None, 'internal error: %s: %s' % (type(exc).__name__, exc))
    facts['notes'] = ctx.fs.notes
    return facts
