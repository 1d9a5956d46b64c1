# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kernel_cmdline pinned: the grubby path whole (the diff of every entry, the files it reports,
backups, the entry that grubby did not change with its "--" hint, DEFAULT against ALL, entries
without kernel or args), the kernel-install and proxmox-boot-tool messages (rc, stdout, stderr,
restore and re-run), the warnings word for word, installed kernels under /boot, and the GRUB
shell mismatch message. Uses the fake host of test_kernel_cmdline.py. From the survivors of
`make mutation AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from unittest import mock

from ansible_collections.hvsec.hypervisor.plugins.modules import kernel_cmdline
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_kernel_cmdline import (
    Host, FakeGrubby, run, fixture, read, ok, STRICT, RUNNING)

ENTRY = fixture('rhel9_bls_entry.conf')
NEW = 'intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma'


@pytest.fixture
def bls2(tmp_path):
    d = tmp_path / 'entries'
    d.mkdir()
    (d / 'a-5.14.0-362.8.1.el9_3.x86_64.conf').write_text(ENTRY)
    (d / 'a-5.14.0-284.11.1.el9_2.x86_64.conf').write_text(
        ENTRY.replace('362.8.1.el9_3', '284.11.1.el9_2').replace('iommu=pt', 'iommu=pt intel_iommu=off'))
    (d / 'README').write_text('not an entry\n')
    return d


class Grubby(FakeGrubby):
    """FakeGrubby with a DEFAULT entry of choice, extra --info records and an update that can be ignored."""

    def __init__(self, bls_dir, default=0, extra='', ignore_update=False, fail_info_after_update=False):
        FakeGrubby.__init__(self, bls_dir)
        self.default = default
        self.extra = extra
        self.ignore_update = ignore_update
        self.fail_info_after_update = fail_info_after_update
        self.updated = False

    def __call__(self, cmd):
        if cmd[1] == '--info=DEFAULT':
            rc, out, err = FakeGrubby.__call__(self, [cmd[0], '--info=ALL'])
            records = ['index=' + r for r in out.split('index=')[1:]]
            return rc, records[self.default] if self.default is not None else '', err
        if cmd[1] == '--info=ALL':
            if self.updated and self.fail_info_after_update:
                return 1, '', 'grubby: cannot read entries'
            rc, out, err = FakeGrubby.__call__(self, cmd)
            return rc, out + self.extra, err
        self.updated = True
        if self.ignore_update:
            return 0, '', ''
        return FakeGrubby.__call__(self, cmd)


def _grubby_args(tmp_path, **kw):
    args = dict(STRICT, bootloader='grubby', grub_config=str(tmp_path / 'nogrub'),
                cmdline_file=str(tmp_path / 'nocmdline'), running_cmdline=RUNNING)
    args.update(kw)
    return args


def _run_grubby(capsys, bls, tmp_path, grubby, check=False, **kw):
    host = Host({'grubby': '/usr/sbin/grubby'}, grubby)
    with mock.patch.object(kernel_cmdline.Runner, 'BLS_DIR', str(bls)), \
            mock.patch.object(kernel_cmdline.Runner, 'GRUBENV', str(tmp_path / 'grubenv')):
        res = run(capsys, _grubby_args(tmp_path, **kw), host, check=check)
    return res, host


def test_grubby_check_mode_diff_and_files(capsys, bls2, tmp_path):
    cmdline = tmp_path / 'cmdline'
    cmdline.write_text('root=UUID=1 iommu=pt\n')
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, default=1), check=True, cmdline_file=str(cmdline))
    old = 'root=UUID=1 iommu=pt\n'
    assert read(cmdline) == old
    files = [str(bls2 / 'a-5.14.0-284.11.1.el9_2.x86_64.conf'), str(bls2 / 'a-5.14.0-362.8.1.el9_3.x86_64.conf'),
             str(cmdline)]
    assert res['files'] == files and res['changed'] is True
    # DEFAULT is the second record here (the 362 entry): before is its args, not the first entry's
    k284, k362 = '/boot/vmlinuz-5.14.0-284.11.1.el9_2.x86_64', '/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64'
    base = ' '.join(w for w in [line for line in ENTRY.splitlines() if line.startswith('options ')][0].split()[1:]
                    if not w.startswith('root='))
    assert res['before'] == base.split()
    assert res['after'] == [w for w in base.split() if w != 'iommu=pt'] + NEW.split()
    kept = ' '.join(w for w in base.split() if w != 'iommu=pt')
    assert res['diff'][0]['before_header'] == 'grubby --info=ALL (args)'
    assert res['diff'][0]['after_header'] == 'grubby --info=ALL (args)'
    assert res['diff'][0]['before'] == ''.join('%s: %s\n' % (k, a) for k, a in (
        (k284, base.replace('iommu=pt', 'iommu=pt intel_iommu=off')), (k362, base)))
    after = kept + ' ' + NEW
    assert res['diff'][0]['after'] == '%s: %s\n%s: %s\n' % (k284, after, k362, after)
    assert res['diff'][1] == {'before_header': str(cmdline), 'after_header': str(cmdline), 'before': old,
                              'after': 'root=UUID=1 ' + NEW + '\n'}
    assert [c[1] for c in host.calls] == ['--info=ALL', '--info=DEFAULT']
    # without a DEFAULT record, before is the first entry's args
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, default=None), check=True)
    assert res['before'] == base.replace('iommu=pt', 'iommu=pt intel_iommu=off').split()


def test_grubby_run_backups_and_no_bls_dir(capsys, bls2, tmp_path):
    # no BLS directory: the change is reported as grubby:ALL
    res, host = _run_grubby(capsys, tmp_path / 'none', tmp_path, Grubby(bls2), check=True)
    assert res['files'] == ['grubby:ALL']
    (tmp_path / 'grubenv').write_text('# GRUB Environment Block\nsaved_entry=a\n')
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2))
    assert 'failed' not in res, res
    assert sorted(res['backups']) == sorted([str(tmp_path / 'grubenv'), str(bls2 / 'a-5.14.0-284.11.1.el9_2.x86_64.conf'),
                                             str(bls2 / 'a-5.14.0-362.8.1.el9_3.x86_64.conf')])
    for path, backup in res['backups'].items():
        assert backup and os.path.isfile(backup) and backup.startswith(path + '.')
    assert res['update_command'] == ['/usr/sbin/grubby --info=ALL', '/usr/sbin/grubby --info=DEFAULT',
                                     '/usr/sbin/grubby --update-kernel=ALL \'--remove-args=iommu=pt intel_iommu=off\' '
                                     '\'--args=%s\'' % NEW, '/usr/sbin/grubby --info=ALL']


def test_grubby_entry_left_unchanged_fails_and_restores(capsys, bls2, tmp_path):
    originals = dict((p.name, read(p)) for p in bls2.iterdir())
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, ignore_update=True))
    args284 = [line for line in originals['a-5.14.0-284.11.1.el9_2.x86_64.conf'].splitlines()
               if line.startswith('options ')][0].split()[1:]
    assert res['msg'] == ('after grubby, entry /boot/vmlinuz-5.14.0-284.11.1.el9_2.x86_64 still has "%s"; restored the '
                          'original of: %s, %s' % (' '.join(w for w in args284 if not w.startswith('root=')),
                                                   bls2 / 'a-5.14.0-284.11.1.el9_2.x86_64.conf',
                                                   bls2 / 'a-5.14.0-362.8.1.el9_3.x86_64.conf'))
    assert dict((p.name, read(p)) for p in bls2.iterdir() if p.name.endswith('.conf')) == \
        dict((k, v) for k, v in originals.items() if k.endswith('.conf'))
    # an entry with "--": the hint says why
    for p in bls2.iterdir():
        if p.name.endswith('.conf'):
            p.write_text(read(p).replace('iommu=pt', 'iommu=pt -- single'))
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, ignore_update=True))
    assert ('; the entry has "--" and grubby appends after it, where arguments go to init: move the "--" part by hand; '
            'restored the original of: ') in res['msg']


def test_grubby_info_failure_after_update_does_not_restore(capsys, bls2, tmp_path):
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, fail_info_after_update=True))
    assert res['msg'] == '"/usr/sbin/grubby --info=ALL" failed (rc=1): grubby: cannot read entries'
    assert (res['rc'], res['stdout'], res['stderr']) == (1, '', 'grubby: cannot read entries')
    assert sorted(res['backups']) == sorted(str(p) for p in bls2.iterdir() if p.name.endswith('.conf'))
    assert 'iommu=pt' not in read(bls2 / 'a-5.14.0-362.8.1.el9_3.x86_64.conf')


def test_grubby_records_without_kernel_or_args(capsys, bls2, tmp_path):
    # a record with a kernel and no args is kept (its args are checked), one with neither is dropped
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, extra='index=7\ntitle="rescue"\n'), check=True)
    assert res['diff'][0]['before'].count('\n') == 2
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, extra='index=8\nkernel="/boot/vmlinuz-x"\nargs=""\n'),
                            check=True)
    assert res['diff'][0]['before'].endswith('\n/boot/vmlinuz-x: \n')
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, extra='index=9\nargs="quiet iommu=pt"\n'),
                            check=True)
    assert res['diff'][0]['before'].endswith('9: quiet iommu=pt\n')
    assert res['diff'][0]['after'].endswith('\n9: quiet %s\n' % NEW)


def test_grubby_messages(capsys, bls2, tmp_path):
    host = Host({}, ok)
    res = run(capsys, _grubby_args(tmp_path), host)
    assert res['msg'] == 'bootloader=grubby but the grubby command is not installed'
    empty = tmp_path / 'empty'
    empty.mkdir()
    res, host = _run_grubby(capsys, empty, tmp_path, Grubby(empty))
    assert res['msg'] == 'grubby --info=ALL listed no boot entries'


# ------------------------------------------------------------------ systemd-boot
@pytest.fixture
def kcmd(tmp_path):
    path = tmp_path / 'cmdline'
    path.write_text(fixture('proxmox_kernel_cmdline').replace('boot=zfs', 'boot=zfs iommu=pt'))
    return path


def _sd(capsys, kcmd, host, tmp_path, mods=None, boot=None, **kw):
    args = dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING)
    args.update(kw)
    with mock.patch.object(kernel_cmdline.Runner, 'MODULE_DIRS', (str(mods or tmp_path / 'nomods'),)), \
            mock.patch.object(kernel_cmdline.Runner, 'BOOT_DIR', str(boot or tmp_path / 'noboot')):
        return run(capsys, args, host)


def test_kernel_install_failure_result_whole(capsys, kcmd, tmp_path):
    before = read(kcmd)
    mods = tmp_path / 'modules'
    (mods / '6.1.0-28-amd64').mkdir(parents=True)
    boot = tmp_path / 'boot'
    boot.mkdir()
    (boot / 'vmlinuz-6.1.0-28-amd64').write_text('x')
    (mods / '6.1.0-29-amd64').mkdir()
    (mods / '6.1.0-29-amd64' / 'vmlinuz').write_text('x')
    (mods / '6.1.0-30-amd64').mkdir()        # no image anywhere: not a kernel to install

    def handler(cmd):
        return (3, 'partial output\n', ' dracut failed \n') if cmd[2] == '6.1.0-29-amd64' else (0, '', '')
    host = Host({'kernel-install': '/usr/bin/kernel-install'}, handler)
    res = _sd(capsys, kcmd, host, tmp_path, mods=mods, boot=boot)
    cmd28 = ['/usr/bin/kernel-install', 'add', '6.1.0-28-amd64', str(boot / 'vmlinuz-6.1.0-28-amd64')]
    cmd29 = ['/usr/bin/kernel-install', 'add', '6.1.0-29-amd64', str(mods / '6.1.0-29-amd64' / 'vmlinuz')]
    assert host.calls == [cmd28, cmd29, cmd28, cmd29]
    assert res['msg'] == ('"%s" failed (rc=3): dracut failed; restored the original of: %s and re-ran the update'
                          % (' '.join(cmd29), kcmd))
    assert res['rc'] == 3 and res['stdout'] == 'partial output\n' and res['stderr'] == ' dracut failed \n'
    assert list(res['backups']) == [str(kcmd)] and read(kcmd) == before


def test_kernel_install_messages(capsys, kcmd, tmp_path):
    before = read(kcmd)
    res = _sd(capsys, kcmd, Host({}, ok), tmp_path)
    assert res['msg'] == ('neither proxmox-boot-tool nor kernel-install found to apply %s; restored the original of: %s'
                          % (kcmd, kcmd))
    assert read(kcmd) == before
    res = _sd(capsys, kcmd, Host({'kernel-install': '/usr/bin/kernel-install'}, ok), tmp_path)
    assert res['msg'] == ('kernel-install: no installed kernel image found under /usr/lib/modules or /boot; '
                          'restored the original of: %s' % kcmd)
    assert read(kcmd) == before
    res = _sd(capsys, tmp_path / 'missing', Host({}, ok), tmp_path)
    assert res['msg'] == 'cmdline_file %s does not exist' % (tmp_path / 'missing') and res['backups'] == {}


def test_cmdline_file_warnings_word_for_word(capsys, tmp_path):
    path = tmp_path / 'cmdline'
    path.write_text('# iommu=pt\nroot=UUID=1 ro\n# second\n')
    host = Host({}, ok)
    res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(path), running_cmdline=RUNNING,
                           update=False), host)
    assert host.warnings == ["%s: removed comment lines '# iommu=pt', '# second': systemd before 257 (kernel-install) "
                             "passes them to the kernel as arguments and proxmox-boot-tool keeps only the first line "
                             "(the old file is in the backup when backup=true)" % path]
    assert res['diff'] == [{'before_header': str(path), 'after_header': str(path),
                            'before': '# iommu=pt\nroot=UUID=1 ro\n# second\n', 'after': 'root=UUID=1 ro %s\n' % NEW}]
    path.write_text('root=UUID=1 ro\nquiet\n')
    host = Host({}, ok)
    run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(path), running_cmdline=RUNNING,
                     update=False), host)
    assert host.warnings == ['%s: joined its lines into one: proxmox-boot-tool would use only the first' % path]
    path.write_text('root=UUID=1 ro iommu=pt\n')
    host = Host({}, ok)
    run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(path), running_cmdline=RUNNING,
                     update=False), host)
    assert host.warnings == []


def test_loader_entry_messages(capsys, kcmd, tmp_path):
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok, generate=False)
    _sd(capsys, kcmd, host, tmp_path)
    assert host.warnings == [
        'no boot loader entry written by "/usr/sbin/proxmox-boot-tool refresh" is visible under %s (an ESP mounted '
        'only while the tool runs, as proxmox-boot-tool does, or a UKI layout): the options could not be verified; '
        'check them after the reboot' % host.esp]
    kcmd.write_text(fixture('proxmox_kernel_cmdline').replace('boot=zfs', 'boot=zfs iommu=pt'))
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok, generate=False,
                kernels=('6.8.12-4-pve',))
    host.args = {'cmdline_file': str(kcmd)}
    host.loader_entry('proxmox-6.8.12-4-pve.conf', '6.8.12-4-pve', 'root=ZFS=rpool iommu=pt')
    host.loader_entry('proxmox-6.8.12-5-pve.conf', '6.8.12-5-pve', '')
    with open(os.path.join(host.esp, 'loader', 'entries', 'proxmox-6.8.12-6-pve.conf'), 'w') as f:
        f.write('title x\nversion 6.8.12-6-pve\n')
    res = _sd(capsys, kcmd, host, tmp_path)
    d = os.path.join(host.esp, 'loader', 'entries')
    missing = 'intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma'
    assert res['msg'] == (
        'after "/usr/sbin/proxmox-boot-tool refresh", boot entries do not have the requested arguments: '
        '%s/proxmox-6.8.12-4-pve.conf (-iommu=pt %s); %s/proxmox-6.8.12-5-pve.conf (%s); '
        '%s/proxmox-6.8.12-6-pve.conf (%s); restored the original of: %s and re-ran the update'
        % (d, ' '.join('+' + w for w in missing.split()), d, ' '.join('+' + w for w in missing.split()),
           d, ' '.join('+' + w for w in missing.split()), kcmd))


def test_grub_shell_mismatch_message(capsys, tmp_path):
    cfg = tmp_path / 'grub'
    cfg.write_text('GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    host = Host({'sh': '/bin/sh'}, ok)
    with mock.patch.object(kernel_cmdline.grub_default, 'parse_shell_output',
                           lambda out: {'GRUB_CMDLINE_LINUX': ['b', 'c'], 'GRUB_CMDLINE_LINUX_DEFAULT': ['quiet']}):
        res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(cfg), running_cmdline=RUNNING), host)
    assert res['msg'] == ('sourcing %s with sh as grub-mkconfig does gives GRUB_CMDLINE_LINUX="b c", '
                          'GRUB_CMDLINE_LINUX_DEFAULT="quiet", but the module reads GRUB_CMDLINE_LINUX="a", '
                          'GRUB_CMDLINE_LINUX_DEFAULT="quiet": something it does not follow (a sourced file, eval, the '
                          'environment) sets them; refusing to edit or judge them' % cfg)


def test_two_restored_files_are_named(capsys, tmp_path):
    cfg = tmp_path / 'grub'
    cfg.write_text(fixture('debian12_default_grub').replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="iommu=pt"'))
    (tmp_path / 'grub.d').mkdir()
    dropin = tmp_path / 'grub.d' / '50-cloudimg-settings.cfg'
    dropin.write_text(fixture('ubuntu_50-cloudimg-settings.cfg').replace('console=ttyS0"', 'console=ttyS0 iommu=pt"'))
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok, generate=False)
    os.makedirs(os.path.dirname(host.grub_cfg))
    with open(host.grub_cfg, 'w') as f:
        f.write(fixture('debian12_grub.cfg'))
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(cfg), running_cmdline=RUNNING), host)
    assert res['msg'].endswith('; restored the original of: %s, %s and re-ran the update' % (cfg, dropin)) or \
        res['msg'].endswith('; restored the original of: %s, %s and re-ran the update' % (dropin, cfg)), res['msg']


def test_unchanged_record_without_kernel_is_named_by_index(capsys, bls2, tmp_path):
    # grubby updates the BLS files but a record it lists without a kernel keeps its arguments
    res, host = _run_grubby(capsys, bls2, tmp_path, Grubby(bls2, extra='index=9\nargs="quiet iommu=pt"\n'))
    assert res['msg'].startswith('after grubby, entry 9 still has "quiet iommu=pt"; restored the original of: ')


def test_update_failure_without_files_to_restore(capsys, tmp_path):
    # no BLS directory and no grubenv: nothing was saved, so the message says nothing was restored
    bls = tmp_path / 'entries'
    bls.mkdir()
    (bls / 'a.conf').write_text(ENTRY)

    def grubby(cmd):
        if cmd[1] == '--update-kernel=ALL':
            return 1, '', 'grubby: failed'
        return Grubby(bls)(cmd)
    host = Host({'grubby': '/usr/sbin/grubby'}, grubby)
    with mock.patch.object(kernel_cmdline.Runner, 'BLS_DIR', str(tmp_path / 'none')), \
            mock.patch.object(kernel_cmdline.Runner, 'GRUBENV', str(tmp_path / 'grubenv')):
        res = run(capsys, _grubby_args(tmp_path), host)
    assert res['msg'].startswith('"/usr/sbin/grubby --update-kernel=ALL --remove-args=iommu=pt --args=')
    assert res['msg'].endswith('" failed (rc=1): grubby: failed')


def test_installed_kernels_from_both_module_directories(tmp_path):
    usr, lib, boot = tmp_path / 'usr-lib-modules', tmp_path / 'lib-modules', tmp_path / 'boot'
    for d, versions in ((lib, ('6.1.0-27-amd64', '6.1.0-28-amd64')), (usr, ('6.1.0-27-amd64',))):
        for v in versions:
            (d / v).mkdir(parents=True)
            (d / v / 'vmlinuz').write_text('x')
    runner = kernel_cmdline.Runner(mock.Mock(params={}, check_mode=False))
    with mock.patch.object(kernel_cmdline.Runner, 'MODULE_DIRS', (str(tmp_path / 'none'), str(usr), str(lib))), \
            mock.patch.object(kernel_cmdline.Runner, 'BOOT_DIR', str(boot)):
        assert runner.installed_kernels() == [('6.1.0-27-amd64', str(usr / '6.1.0-27-amd64' / 'vmlinuz')),
                                              ('6.1.0-28-amd64', str(lib / '6.1.0-28-amd64' / 'vmlinuz'))]


def test_no_visible_entry_warning_names_the_command_and_every_root(tmp_path):
    module = mock.Mock(params={}, check_mode=False)
    runner = kernel_cmdline.Runner(module)
    roots = (str(tmp_path / 'efi'), str(tmp_path / 'boot'))
    with mock.patch.object(kernel_cmdline.Runner, 'ESP_ROOTS', roots):
        runner.verify_loader_entries([['/usr/bin/kernel-install', 'add', '6.1.0-28-amd64', '/boot/vmlinuz']], [], [])
    module.warn.assert_called_once_with(
        'no boot loader entry written by "/usr/bin/kernel-install add" is visible under %s, %s (an ESP mounted only '
        'while the tool runs, as proxmox-boot-tool does, or a UKI layout): the options could not be verified; check '
        'them after the reboot' % roots)
    assert runner.verified == []


def test_grubby_then_grub_defaults_that_cannot_be_edited(capsys, bls2, tmp_path):
    # GRUB defaults the module refuses (a conditional block) are refused before grubby changes any
    # entry: nothing is half-done (grubby used to change the entries first and fail afterwards)
    cfg = tmp_path / 'grub'
    cfg.write_text('if [ -d /sys/firmware/efi ]; then\n    GRUB_CMDLINE_LINUX="iommu=pt"\nfi\n')
    entry = bls2 / 'a-5.14.0-362.8.1.el9_3.x86_64.conf'
    before = read(entry)
    grubby = Grubby(bls2)
    res, host = _run_grubby(capsys, bls2, tmp_path, grubby, grub_config=str(cfg))
    assert res['msg'].startswith('cannot edit the GRUB configuration: %s line 2: ' % cfg), res['msg']
    assert 'restored' not in res['msg']
    assert not grubby.updated and [c[1] for c in host.calls] == ['--info=ALL', '--info=DEFAULT']
    assert read(entry) == before


def test_stale_kernel_install_entry_message(capsys, kcmd, tmp_path):
    mods = tmp_path / 'modules' / '6.1.0-28-amd64'
    mods.mkdir(parents=True)
    (mods / 'vmlinuz').write_text('x')
    host = Host({'kernel-install': '/usr/bin/kernel-install'}, ok, generate=False)
    host.args = {'cmdline_file': str(kcmd)}
    host.loader_entry('%s-6.1.0-28-amd64.conf' % Host.TOKEN, '6.1.0-28-amd64', 'root=ZFS=rpool/ROOT/pve-1 iommu=pt')
    res = _sd(capsys, kcmd, host, tmp_path, mods=tmp_path / 'modules')
    assert res['msg'].startswith('after "/usr/bin/kernel-install add", boot entries do not have the requested '
                                 'arguments: %s/loader/entries/%s-6.1.0-28-amd64.conf (' % (host.esp, Host.TOKEN))


def test_restore_that_fails_is_a_warning(tmp_path):
    module = mock.Mock(params={}, check_mode=False)
    runner = kernel_cmdline.Runner(module)
    target = tmp_path / 'gone' / 'grub'
    runner.originals = {str(target): 'GRUB_CMDLINE_LINUX=""\n'}
    with mock.patch.object(kernel_cmdline, 'write_atomic', mock.Mock(side_effect=OSError(30, 'Read-only file system'))):
        assert runner.restore() == []
    module.warn.assert_called_once_with('could not restore %s: [Errno 30] Read-only file system' % target)
