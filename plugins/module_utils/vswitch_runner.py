# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan, apply and report for the virtual switch modules (bridge_security, ovs_security,
nwfilter_domains).

Each module reads the host and plans its changes into a ``VswitchRunner``: runtime actions
(``{'control', 'msg'}``), files to write (``plan_file``/``plan_link`` entries) and diffs. The
runner reports them the same way for the three modules (``changes``, ``diff``, per-control status),
applies nothing in check mode or when nothing is planned, and otherwise calls the module's apply
function, whose steps fail with the control, the command and its stderr.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_text


def plan_file(path, content, mode=0o644):
    """A file entry when ``path`` does not hold ``content`` (None: the file must be absent), else None."""
    have = read_text(path)
    if have == content:
        return None
    return {'path': path, 'before': have or '', 'after': content or '', 'mode': mode}


def plan_link(link, target):
    """A symlink entry: ``link`` must point to ``target``."""
    return {'path': link, 'symlink': target, 'before': '', 'after': '-> ' + target}


def file_diff(entry):
    return dict(before_header=entry['path'], after_header=entry['path'], before=entry['before'], after=entry['after'])


def actions_diff(header, actions):
    """One diff entry listing the runtime actions, one ``CONTROL | message`` line each."""
    return dict(before_header=header, after_header=header, before='',
                after=''.join('%s | %s\n' % (a['control'], a['msg']) for a in actions))


def control_status(control, skip, done, otherwise='pass'):
    if control in skip:
        return 'waived'
    return 'fixed' if control in done else otherwise


class VswitchRunner(object):
    """The result of one vswitch module, built while planning, and the steps that apply it."""

    def __init__(self, module, controls, **returns):
        self.module = module
        self.controls = controls
        self.result = dict(changed=False, changes=[], controls={}, diff=[])
        self.result.update(returns)

    # ------------------------------------------------------------------------------- report
    def exit_all(self, status):
        """Exit without planning: every control has ``status`` (not_applicable, error)."""
        self.result['controls'] = dict((c, status) for c in self.controls)
        self.module.exit_json(**self.result)

    def add_changes(self, changes):
        self.result['changes'].extend(changes)

    def add_files(self, entries, persistence=True):
        """Report planned file entries in the diff and, with ``persistence``, as ``persistence`` changes."""
        if persistence:
            self.add_changes(dict(control='persistence', msg='write %s' % e['path']) for e in entries)
        self.result['diff'].extend(file_diff(e) for e in entries)

    def done(self):
        """The controls a planned change fixes."""
        return set(c['control'] for c in self.result['changes'])

    def set_controls(self, skip, otherwise=None):
        """Status of every control: waived, fixed, or ``otherwise[control]`` (default ``pass``)."""
        done = self.done()
        otherwise = otherwise or {}
        for control in self.controls:
            self.result['controls'][control] = control_status(control, skip, done, otherwise.get(control, 'pass'))

    def finish(self, apply):
        """Exit with the result; ``apply()`` runs first only when a change is planned and not in check mode."""
        self.result['changed'] = bool(self.result['changes'])
        if self.result['changed'] and not self.module.check_mode:
            apply()
        self.module.exit_json(**self.result)

    # -------------------------------------------------------------------------------- steps
    def fail(self, msg):
        self.module.fail_json(msg=msg, **self.result)

    def run(self, control, cmd):
        """Run one step; a failure reports the control, the command and its stderr."""
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            self.fail('%s: %s failed: %s' % (control, ' '.join(cmd), err.strip()))
        return out

    def check_nft(self, nft, path):
        """``nft -c -f PATH``: a generated nftables file must validate before it is loaded."""
        rc, out, err = self.module.run_command([nft, '-c', '-f', path])
        if rc != 0:
            self.fail('generated nftables file %s does not validate: %s' % (path, err))

    def write_value(self, control, path, value):
        """Write a runtime value (sysfs, procfs)."""
        try:
            with open(path, 'w') as handle:
                handle.write(value)
        except (IOError, OSError) as exc:
            self.fail('%s: cannot write %s: %s' % (control, path, exc))

    def write_files(self, entries):
        """Write the planned files, then the symlinks to them (a failed write leaves no link to a
        missing unit). An entry whose ``after`` is empty is removed; a replaced file is backed up."""
        for entry in sorted(entries, key=lambda e: 'symlink' in e):
            directory = os.path.dirname(entry['path'])
            if entry['after'] != '' and not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            if 'symlink' in entry:
                if os.path.lexists(entry['path']):
                    os.unlink(entry['path'])
                os.symlink(entry['symlink'], entry['path'])
            elif entry['after'] == '':
                if os.path.exists(entry['path']):
                    os.unlink(entry['path'])
            else:
                if os.path.exists(entry['path']):
                    self.module.backup_local(entry['path'])
                write_atomic(self.module, entry['path'], entry['after'], entry['mode'], enforce_mode=True)

    def daemon_reload(self):
        if self.module.get_bin_path('systemctl'):
            self.module.run_command(['systemctl', 'daemon-reload'])
