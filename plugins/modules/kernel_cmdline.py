#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kernel_cmdline
short_description: Manage kernel boot arguments idempotently on GRUB, grubby/BLS and systemd-boot hosts
description:
  - Ensures kernel arguments are present (with or without a value) and others absent (by key or by
    exact C(key=value)) in the boot loader configuration, then runs the boot loader's update command.
  - "GRUB (Debian, Ubuntu): edits C(GRUB_CMDLINE_LINUX) in the GRUB default file and its drop-ins
    (C(<grub_config>.d/*.cfg), sourced after it). Forbidden arguments, and other values of a wanted
    key, are removed from every assignment of C(GRUB_CMDLINE_LINUX) and C(GRUB_CMDLINE_LINUX_DEFAULT)
    in every file. Missing wanted arguments are appended to the last assignment of
    C(GRUB_CMDLINE_LINUX), the one that decides its value. Only the edited values change; other
    lines, comments and variables are kept byte for byte. Then C(update-grub) (or C(grub-mkconfig))."
  - "The GRUB files are shell: the module edits only assignments that run unconditionally at the top
    level (at the start of a line or after C(;), optionally with C(export)) whose values are words and
    references to the variable's own earlier value. An assignment inside if/case/a loop/a function/C({ })/C(( )),
    after C(&&)/C(||)/C(|), a reference to another variable, a command substitution, C(unset), C(read),
    C(eval) of the two variables and the like are refused, naming the file and line, before anything
    changes. The files are also sourced with C(sh) the way grub-mkconfig does (C(set -e)), in check
    mode too; the module refuses when the shell's values differ from its own reading."
  - "After C(update-grub) the module reads the generated grub.cfg back: every menu entry of the
    C(10_linux) script (default, advanced and recovery, every kernel) must have the wanted arguments
    and none of the forbidden ones, otherwise the files are restored, the update runs again and the
    module fails."
  - "grubby (RHEL family, BLS entries in /boot/loader/entries): C(grubby --update-kernel=ALL) with
    the exact words to remove and add, then re-reads every entry to verify; the GRUB default file
    and C(cmdline_file) are kept in step when they exist, so future kernels get the same arguments."
  - "systemd-boot: edits C(cmdline_file) (/etc/kernel/cmdline), then C(proxmox-boot-tool refresh) on
    Proxmox VE or C(kernel-install add) for every installed kernel, then reads back the loader entries
    they wrote (C(loader/entries/*.conf) under /efi, /boot/efi or /boot) and verifies their C(options).
    The file is always written as one line of arguments without comment lines: kernel-install before
    systemd 257 passes comment lines to the kernel, proxmox-boot-tool uses only the first line."
  - A lone C(--) ends the kernel's arguments (the words after it go to init) wherever it appears
    (GRUB variables, the cmdline file, BLS entries, the running command line); wanted arguments are
    inserted before it and words after it are neither counted nor removed.
  - "Every edited file is checked before it replaces the original (GRUB files with C(sh -n)), backed up
    when O(backup=true), and restored when the update command or the verification fails. A symbolic
    link is written through: its target gets the new content and the link stays."
  - C(reboot_required) compares the request with the running kernel's command line, so it stays true
    until the host boots with the wanted arguments.
version_added: 1.0.0
options:
  present:
    description:
      - Arguments that must be present, each C(key) (a bare flag) or C(key=value).
      - For C(key=value), every other value of the same key is removed (the kernel uses one value per
        parameter). Do not use this for keys that are meant to repeat, such as C(console).
      - Keys compare as the kernel compares them (C(-) equals C(_)).
      - "C(--) is refused here and in O(absent): it is not an argument, it ends the kernel's arguments."
    type: list
    elements: str
    default: []
  absent:
    description:
      - Arguments that must not be present. C(key) removes the key with any value or none;
        C(key=value) removes only that exact argument.
      - An argument both in O(present) and matched by O(absent) is an error.
    type: list
    elements: str
    default: []
  bootloader:
    description:
      - Which boot loader configuration to manage.
      - V(auto) picks V(grubby) when grubby is installed and BLS entries exist, V(systemd-boot) when
        O(cmdline_file) exists and a systemd-boot C(loader.conf) or Proxmox's C(/etc/kernel/proxmox-boot-uuids)
        exists (or there is no GRUB default file), otherwise V(grub) when O(grub_config) exists.
    type: str
    choices: [auto, grub, grubby, systemd-boot]
    default: auto
  backup:
    description:
      - Keep a timestamped copy of every file before it is changed (next to it, ending in C(~), which
        neither GRUB's C(*.cfg) drop-in glob nor BLS's C(*.conf) glob picks up).
    type: bool
    default: true
  update:
    description:
      - Run the boot loader update command after a change (C(update-grub), C(proxmox-boot-tool refresh),
        C(kernel-install)). grubby always updates its entries directly.
    type: bool
    default: true
  grub_config:
    description:
      - The GRUB default file. Its drop-ins are read from C(<grub_config>.d/*.cfg).
    type: path
    default: /etc/default/grub
  cmdline_file:
    description:
      - The kernel command-line file of systemd-boot / kernel-install hosts.
    type: path
    default: /etc/kernel/cmdline
  running_cmdline:
    description:
      - The running kernel command line to compare the request with for RV(reboot_required).
      - Read from C(/proc/cmdline) when not given.
    type: str
notes:
  - A changed command line takes effect at the next boot. This module never reboots.
  - Arguments must not contain whitespace, quotes, shell metacharacters or globs.
  - Boot entries an update writes where they cannot be read afterwards (an ESP that proxmox-boot-tool
    mounts only while it runs, a UKI) are not verified; the module warns.
attributes:
  check_mode:
    description: Predicts the change and the boot loader update without writing anything or running the
      update; the GRUB default files are still sourced with C(sh), as grub-mkconfig would, to read them.
  diff_mode:
    description: Shows every edited file before and after (for grubby, the arguments of every entry).
seealso:
  - name: Kernel parameters
    description: The kernel's list of boot parameters.
    link: https://docs.kernel.org/admin-guide/kernel-parameters.html
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
'''

EXAMPLES = r'''
- name: IOMMU on and strict, IOMMU-disabling arguments removed
  hvsec.hypervisor.kernel_cmdline:
    present:
      - intel_iommu=on
      - iommu.strict=1
      - iommu.passthrough=0
    absent:
      - iommu=off
      - intel_iommu=off
      - amd_iommu=off
      - iommu=pt
      - pcie_acs_override
  register: kcl

- name: Tell when a reboot is needed
  ansible.builtin.debug:
    msg: "Reboot needed for {{ kcl.pending | join(' ') }}"
  when: kcl.reboot_required

- name: Proxmox VE on systemd-boot, without refreshing the ESPs yet
  hvsec.hypervisor.kernel_cmdline:
    bootloader: systemd-boot
    present: ['mitigations=auto,nosmt']
    update: false
'''

RETURN = r'''
bootloader:
  description: The boot loader backend used.
  returned: always
  type: str
  sample: grub
before:
  description:
    - Kernel arguments of a normal boot entry before the change.
    - GRUB_CMDLINE_LINUX then _DEFAULT for GRUB; the default entry for grubby; the file for systemd-boot.
  returned: always
  type: list
  elements: str
  sample: [quiet, iommu=pt]
after:
  description: The same list after the change (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [quiet, intel_iommu=on, iommu.strict=1]
added:
  description: Words added.
  returned: always
  type: list
  elements: str
removed:
  description: Words removed.
  returned: always
  type: list
  elements: str
files:
  description: Files changed (or that would change in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/default/grub]
backups:
  description: Backup file per changed file.
  returned: when a file was changed with backup enabled
  type: dict
  sample: {/etc/default/grub: /etc/default/grub.1234.2026-01-01@00:00:00~}
reboot_required:
  description: The running kernel's command line does not match the request.
  returned: always
  type: bool
pending:
  description: Differences between the running command line and the request, C(+arg) missing, C(-arg) still present.
  returned: always
  type: list
  elements: str
  sample: [+iommu.strict=1, -iommu=pt]
running:
  description: Words of the running command line.
  returned: always
  type: list
  elements: str
update_command:
  description: The boot loader update command(s) run.
  returned: when one ran
  type: list
  elements: str
verified:
  description:
    - What was read back after the update and found to carry the request, the generated grub.cfg
      (with the number of Linux entries) or the loader entry files. Empty when nothing was updated
      or nothing could be read.
  returned: always
  type: list
  elements: str
  sample: ["/boot/grub/grub.cfg: 5 Linux entries"]
'''

import os
import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hvsec.hypervisor.plugins.module_utils import bootloader as bl
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import replace_keeping_attrs, write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_text
from ansible_collections.hvsec.hypervisor.plugins.module_utils import grub_default
from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import split_words
from ansible_collections.hvsec.hypervisor.plugins.module_utils.kernel_args import (
    RequestError, edit_words, pending, satisfied, validate_request)


def read_required(path):
    """The file's text; raises the OS error (missing file, permission) when it cannot be read,
    so that callers can report why."""
    text = read_text(path)
    if text is None:
        # read_text only says the file is unreadable: opening it again raises the reason
        open(path, 'rb').close()
        raise IOError('cannot read %s' % path)
    return text


def ordered_diff(before, after):
    added = [w for w in after if w not in before]
    removed = [w for w in before if w not in after]
    return added, removed


class Runner(object):
    MODULE_DIRS = ('/usr/lib/modules', '/lib/modules')
    BOOT_DIR = '/boot'
    BLS_DIR = '/boot/loader/entries'
    GRUBENV = '/boot/grub2/grubenv'
    GRUB_CFG = '/boot/grub/grub.cfg'         # update-grub, grub-mkconfig
    GRUB2_CFG = '/boot/grub2/grub.cfg'       # grub2-mkconfig
    # where kernel-install's BOOT_ROOT (and a mounted ESP) can be: <root>/loader/entries/*.conf
    ESP_ROOTS = ('/efi', '/boot/efi', '/boot')

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.originals = {}
        self.backups = {}
        self.diffs = []
        self.commands = []
        self.verified = []

    # ---------------------------------------------------------------- files
    def write(self, path, text, validate_sh=False):
        """Write atomically after an optional shell syntax check; keep the original for restore."""
        if path not in self.originals:
            self.originals[path] = read_required(path) if os.path.exists(path) else None
            if self.p['backup'] and os.path.exists(path):
                self.backups[path] = self.module.backup_local(path)

        def shell_syntax(tmp):
            sh = self.module.get_bin_path('sh')
            if sh:
                rc, dummy, err = self.module.run_command([sh, '-n', tmp])
                if rc != 0:
                    self.fail('the edited %s does not pass "sh -n" (nothing was changed): %s' % (path, err.strip()),
                              restore=True)
        write_atomic(self.module, path, text, 0o644, validate=shell_syntax if validate_sh else None)

    def restore(self):
        restored = []
        for path, text in self.originals.items():
            try:
                if text is None:
                    if os.path.exists(path):
                        os.unlink(path)
                else:
                    # atomically too: a crash while restoring must not leave half a file
                    write_atomic(self.module, path, text, move=replace_keeping_attrs)
                restored.append(path)
            except (IOError, OSError) as exc:
                self.module.warn('could not restore %s: %s' % (path, to_native(exc)))
        return restored

    def fail(self, msg, restore=False, **kw):
        if restore and self.originals:
            restored = self.restore()
            msg += '; restored the original of: %s' % ', '.join(restored)
        self.module.fail_json(msg=msg, backups=self.backups, **kw)

    def fail_resync(self, msg, cmds, **kw):
        """Restore the edited files, re-run the update commands so the boot entries follow the
        restored files again (best effort), then fail."""
        restored = self.restore()
        for cmd in cmds:
            self.module.run_command(cmd)
        if restored:
            msg += '; restored the original of: %s and re-ran the update' % ', '.join(restored)
        self.module.fail_json(msg=msg, backups=self.backups, **kw)

    def run(self, cmd, restore=True):
        self.commands.append(' '.join(shlex.quote(c) for c in cmd))
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            self.fail('"%s" failed (rc=%d): %s' % (' '.join(cmd), rc, (err or out).strip()), restore=restore,
                      rc=rc, stdout=out, stderr=err)
        return out

    def add_diff(self, path, before, after):
        self.diffs.append({'before_header': path, 'after_header': path, 'before': before or '', 'after': after})

    # ---------------------------------------------------------------- GRUB default files
    def grub_shell_env(self, paths, after_edit=False):
        """The two values as the shell reads the files, sourcing them like grub-mkconfig (set -e).

        None when there is no sh to ask. A failure fails the module (restoring after an edit):
        grub-mkconfig, hence update-grub, would fail on the same files.
        """
        sh = self.module.get_bin_path('sh')
        if not sh:
            return None
        rc, out, err = self.module.run_command(grub_default.shell_argv(sh, paths))
        env = grub_default.parse_shell_output(out) if rc == 0 else None
        if env is None:
            detail = (': ' + err.strip()) if err.strip() else ''
            self.fail('sourcing %s with sh the way grub-mkconfig does (set -e) failed (rc=%d)%s: update-grub would '
                      'fail the same way%s' % (', '.join(paths), rc, detail, ' with the edited files' if after_edit else ''),
                      restore=after_edit)
        return env

    def grub_edit(self, present, absent, required=True):
        read = self.grub_read(present, absent, required)
        return self.grub_write(read, present, absent) if read else None

    def grub_read(self, present, absent, required=True):
        """(plan, paths, original texts) of the GRUB defaults, or None without grub_config (when not
        required). Everything that refuses the files happens here, before anything is written."""
        cfg = self.p['grub_config']
        if not os.path.isfile(cfg):
            if required:
                self.fail('grub_config %s does not exist' % cfg)
            return None
        paths = bl.grub_files(cfg)
        files = [(path, read_required(path)) for path in paths]
        try:
            plan = grub_default.plan(files, present, absent)
        except grub_default.GrubParseError as exc:
            self.fail('cannot edit the GRUB configuration: %s' % exc)
        # a second reader: the shell, as grub-mkconfig reads the files (catches what the module
        # does not follow: a file sourced from a drop-in, eval, the environment)
        shell = self.grub_shell_env(paths)
        if shell is not None and shell != plan['before_env']:
            self.fail('sourcing %s with sh as grub-mkconfig does gives %s, but the module reads %s: something it '
                      'does not follow (a sourced file, eval, the environment) sets them; refusing to edit or judge '
                      'them' % (', '.join(paths), _env_text(shell), _env_text(plan['before_env'])))
        return plan, paths, dict(files)

    def grub_write(self, read, present, absent):
        """Write what grub_read planned, then verify it with the module's reader and the shell."""
        plan, paths, old = read
        for path, text in plan['texts']:
            if path in plan['changed_paths']:
                self.add_diff(path, old[path], text)
        if plan['changed_paths'] and not self.check:
            for path, text in plan['texts']:
                if path in plan['changed_paths']:
                    self.write(path, text, validate_sh=True)
            written = [(path, read_required(path)) for path, dummy in plan['texts']]
            if not grub_default.verify(written, present, absent):
                self.fail('the GRUB configuration does not satisfy the request after editing', restore=True)
            shell = self.grub_shell_env(paths, after_edit=True)
            if shell is not None and (shell != plan['after_env']
                                      or not grub_default.env_satisfies(shell, present, absent)):
                self.fail('after editing, sourcing %s with sh gives %s, not what the request needs (%s)'
                          % (', '.join(paths), _env_text(shell), _env_text(plan['after_env'])), restore=True)
        return plan

    def grub_update_command(self):
        """(argv, the grub.cfg it writes)."""
        update = self.module.get_bin_path('update-grub')
        if update:
            return [update], self.GRUB_CFG          # Debian's update-grub: grub-mkconfig -o /boot/grub/grub.cfg
        mk = self.module.get_bin_path('grub-mkconfig') or self.module.get_bin_path('grub2-mkconfig')
        if not mk:
            self.fail('neither update-grub nor grub-mkconfig/grub2-mkconfig found', restore=True)
        out_cfg = self.GRUB2_CFG if mk.endswith('grub2-mkconfig') else self.GRUB_CFG
        return [mk, '-o', out_cfg], out_cfg

    def verify_grub_cfg(self, cfg, present, absent, cmd):
        """Every Linux entry grub-mkconfig wrote must carry the request (what GRUB will boot)."""
        try:
            text = read_required(cfg)
        except (IOError, OSError) as exc:
            self.fail_resync('"%s" succeeded but %s cannot be read to verify it: %s' % (' '.join(cmd), cfg,
                                                                                        to_native(exc)), [cmd])
        entries = bl.grub_cfg_kernel_entries(bl.parse_grub_cfg(text))
        if not entries:
            hint = (' (it loads BLS entries with blscfg: use bootloader=grubby)' if bl.grub_cfg_uses_blscfg(text)
                    else '')
            self.fail_resync('after "%s", %s has no Linux menu entry to verify%s' % (' '.join(cmd), cfg, hint), [cmd])
        bad = []
        for entry in entries:
            diff = pending(entry['args'], present, absent)
            if diff:
                bad.append("'%s' (line %d: %s)" % (entry['title'], entry['line'], ' '.join(diff)))
        if bad:
            self.fail_resync('after "%s", %s does not boot with the requested arguments: %s'
                             % (' '.join(cmd), cfg, '; '.join(bad)), [cmd])
        self.verified.append('%s: %d Linux entries' % (cfg, len(entries)))

    def grub(self, present, absent):
        plan = self.grub_edit(present, absent)
        if plan['changed_paths'] and not self.check and self.p['update']:
            cmd, cfg = self.grub_update_command()
            self.run(cmd)
            self.verify_grub_cfg(cfg, present, absent, cmd)
        return plan['before'], plan['after'], plan['changed_paths']

    # ---------------------------------------------------------------- /etc/kernel/cmdline
    def cmdline_file_edit(self, present, absent, required=True):
        """Edit the kernel-install / proxmox-boot-tool command-line file (see bootloader.py for how
        each tool reads it): the result is always one line of arguments without comments."""
        path = self.p['cmdline_file']
        if not os.path.isfile(path):
            if required:
                self.fail('cmdline_file %s does not exist' % path)
            return None
        text = read_required(path)
        words = bl.parse_kernel_cmdline_file(text)
        new_words = edit_words(words, present, absent)
        changed = new_words != words or not bl.kernel_cmdline_file_is_canonical(text)
        if changed:
            new_text = bl.render_kernel_cmdline_file(text, new_words)
            comments = bl.kernel_cmdline_file_comments(text)
            if comments:
                self.module.warn('%s: removed comment lines %s: systemd before 257 (kernel-install) passes them to '
                                 'the kernel as arguments and proxmox-boot-tool keeps only the first line (the old '
                                 'file is in the backup when backup=true)' % (path, ', '.join(repr(c) for c in comments)))
            elif len([line for line in text.splitlines() if line.strip()]) > 1:
                self.module.warn('%s: joined its lines into one: proxmox-boot-tool would use only the first' % path)
            self.add_diff(path, text, new_text)
            if not self.check:
                self.write(path, new_text)
        return words, new_words, changed

    def installed_kernels(self):
        """(version, image) of every installed kernel with an image, newest name last."""
        found = []
        for moddir in self.MODULE_DIRS:
            if not os.path.isdir(moddir):
                continue
            for version in sorted(os.listdir(moddir)):
                if any(v == version for v, dummy in found):
                    continue
                for image in (os.path.join(moddir, version, 'vmlinuz'), os.path.join(self.BOOT_DIR, 'vmlinuz-%s' % version)):
                    if os.path.isfile(image):
                        found.append((version, image))
                        break
        return found

    def kernel_install_commands(self):
        proxmox = self.module.get_bin_path('proxmox-boot-tool')
        if proxmox:
            return [[proxmox, 'refresh']]
        kinstall = self.module.get_bin_path('kernel-install')
        if not kinstall:
            self.fail('neither proxmox-boot-tool nor kernel-install found to apply %s' % self.p['cmdline_file'],
                      restore=True)
        cmds = [[kinstall, 'add', version, image] for version, image in self.installed_kernels()]
        if not cmds:
            self.fail('kernel-install: no installed kernel image found under /usr/lib/modules or /boot', restore=True)
        return cmds

    def verify_loader_entries(self, cmds, present, absent):
        """Read back the boot entries the update wrote: their options are what the kernel gets."""
        if os.path.basename(cmds[0][0]) == 'proxmox-boot-tool':
            # it rewrites all its entries (and removes stale ones) on every refresh
            entries = [(path, e) for path, e in bl.loader_entries(self.ESP_ROOTS)
                       if os.path.basename(path).startswith('proxmox-')]
        else:
            versions = set(cmd[2] for cmd in cmds)
            entries = [(path, e) for path, e in bl.loader_entries(self.ESP_ROOTS) if e.get('version') in versions]
        if not entries:
            self.module.warn('no boot loader entry written by "%s" is visible under %s (an ESP mounted only while '
                             'the tool runs, as proxmox-boot-tool does, or a UKI layout): the options could not be '
                             'verified; check them after the reboot' % (' '.join(cmds[0][:2]), ', '.join(self.ESP_ROOTS)))
            return
        bad = []
        for path, entry in entries:
            diff = pending(split_words(entry.get('options', '')), present, absent)
            if diff:
                bad.append('%s (%s)' % (path, ' '.join(diff)))
        if bad:
            self.fail_resync('after "%s", boot entries do not have the requested arguments: %s'
                             % (' '.join(cmds[0][:2]), '; '.join(bad)), cmds)
        self.verified.extend(path for path, dummy in entries)

    def systemd_boot(self, present, absent):
        before, after, changed = self.cmdline_file_edit(present, absent)
        if changed and not self.check and self.p['update']:
            cmds = self.kernel_install_commands()
            for cmd in cmds:
                self.commands.append(' '.join(shlex.quote(c) for c in cmd))
                rc, out, err = self.module.run_command(cmd)
                if rc != 0:
                    self.fail_resync('"%s" failed (rc=%d): %s' % (' '.join(cmd), rc, (err or out).strip()), cmds,
                                     rc=rc, stdout=out, stderr=err)
            self.verify_loader_entries(cmds, present, absent)
        return before, after, [self.p['cmdline_file']] if changed else []

    # ---------------------------------------------------------------- grubby / BLS
    def grubby_info(self, grubby, which):
        out = self.run([grubby, '--info=%s' % which], restore=False)
        return [e for e in bl.parse_grubby_info(out) if 'kernel' in e or e.get('args')]

    def grubby(self, present, absent):
        grubby = self.module.get_bin_path('grubby')
        if not grubby:
            self.fail('bootloader=grubby but the grubby command is not installed')
        entries = self.grubby_info(grubby, 'ALL')
        if not entries:
            self.fail('grubby --info=ALL listed no boot entries')
        default = self.grubby_info(grubby, 'DEFAULT')
        before = split_words((default[0] if default else entries[0])['args'])
        after = edit_words(before, present, absent)
        # the GRUB defaults (the source of future entries) are read and judged before grubby
        # changes any entry: a refusal there leaves the entries as they were
        grub_read = self.grub_read(present, absent, required=False)
        to_remove, to_add = [], []
        for entry in entries:
            words = split_words(entry['args'])
            new = edit_words(words, present, absent)
            add, rem = ordered_diff(words, new)
            to_add.extend(w for w in add if w not in to_add)
            to_remove.extend(w for w in rem if w not in to_remove)
        changed_files = []
        if to_add or to_remove:
            entries_dir = self.BLS_DIR
            bls_files = []
            if os.path.isdir(entries_dir):
                bls_files = [os.path.join(entries_dir, n) for n in sorted(os.listdir(entries_dir)) if n.endswith('.conf')]
            changed_files = list(bls_files) or ['grubby:ALL']
            self.diffs.append({'before_header': 'grubby --info=ALL (args)', 'after_header': 'grubby --info=ALL (args)',
                               'before': ''.join('%s: %s\n' % (e.get('kernel', e['index']), e['args']) for e in entries),
                               'after': ''.join('%s: %s\n' % (e.get('kernel', e['index']),
                                                              ' '.join(edit_words(split_words(e['args']), present,
                                                                                  absent)))
                                                for e in entries)})
            if not self.check:
                for path in bls_files + [self.GRUBENV]:
                    if os.path.isfile(path) and path not in self.originals:
                        self.originals[path] = read_required(path)
                        if self.p['backup']:
                            self.backups[path] = self.module.backup_local(path)
                cmd = [grubby, '--update-kernel=ALL']
                if to_remove:
                    cmd.append('--remove-args=%s' % ' '.join(to_remove))
                if to_add:
                    cmd.append('--args=%s' % ' '.join(to_add))
                self.run(cmd)
                for entry in self.grubby_info(grubby, 'ALL'):
                    words = split_words(entry['args'])
                    if not satisfied(words, present, absent):
                        name = entry.get('kernel', entry['index'])
                        hint = ('; the entry has "--" and grubby appends after it, where arguments go to init: move '
                                'the "--" part by hand' if '--' in words else '')
                        self.fail('after grubby, entry %s still has "%s"%s' % (name, entry['args'], hint), restore=True)
        # keep the sources of future entries in step
        plan = self.grub_write(grub_read, present, absent) if grub_read else None
        if plan:
            changed_files.extend(plan['changed_paths'])
        res = self.cmdline_file_edit(present, absent, required=False)
        if res and res[2]:
            changed_files.append(self.p['cmdline_file'])
        return before, after, changed_files


def _env_text(env):
    return ', '.join('%s="%s"' % (var, ' '.join(env[var])) for var in grub_default.VARIABLES)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            present=dict(type='list', elements='str', default=[]),
            absent=dict(type='list', elements='str', default=[]),
            bootloader=dict(type='str', default='auto', choices=['auto', 'grub', 'grubby', 'systemd-boot']),
            backup=dict(type='bool', default=True),
            update=dict(type='bool', default=True),
            grub_config=dict(type='path', default='/etc/default/grub'),
            cmdline_file=dict(type='path', default='/etc/kernel/cmdline'),
            running_cmdline=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    try:
        present, absent = validate_request(module.params['present'], module.params['absent'])
    except RequestError as exc:
        module.fail_json(msg=to_native(exc))

    running_text = module.params['running_cmdline']
    if running_text is None:
        try:
            running_text = read_required('/proc/cmdline')
        except (IOError, OSError) as exc:
            module.fail_json(msg='cannot read /proc/cmdline: %s' % to_native(exc))
    # the kernel's own tokenizer: quotes as the kernel handles them, '--' ends its arguments
    running = split_words(running_text)

    loader = module.params['bootloader']
    if loader == 'auto':
        loader = bl.detect('/', module.get_bin_path('grubby') is not None,
                           module.params['grub_config'], module.params['cmdline_file'])
        if loader is None:
            module.fail_json(msg='bootloader=auto found no boot loader configuration (no BLS entries with grubby, '
                                 'no %s, no %s); set bootloader' % (module.params['cmdline_file'],
                                                                    module.params['grub_config']))
    runner = Runner(module)
    if loader == 'grub':
        before, after, files = runner.grub(present, absent)
    elif loader == 'grubby':
        before, after, files = runner.grubby(present, absent)
    else:
        before, after, files = runner.systemd_boot(present, absent)

    added, removed = ordered_diff(before, after)
    diff_pending = pending(running, present, absent)
    result = dict(
        changed=bool(files),
        bootloader=loader,
        before=before,
        after=after,
        added=added,
        removed=removed,
        files=files,
        reboot_required=bool(diff_pending),
        pending=diff_pending,
        running=running,
        verified=runner.verified,
    )
    if runner.backups:
        result['backups'] = runner.backups
    if runner.commands:
        result['update_command'] = runner.commands
    if module._diff:
        result['diff'] = runner.diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
