# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import tempfile
import weakref

import pytest
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.modules import kernel_cmdline

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'bootloader')
STRICT = dict(present=['intel_iommu=on', 'iommu.strict=1', 'iommu.passthrough=0', 'efi=disable_early_pci_dma'],
              absent=['iommu=off', 'intel_iommu=off', 'amd_iommu=off', 'iommu=pt', 'pcie_acs_override'])
RUNNING = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=6f1c ro quiet iommu=pt'


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def read(path):
    with open(str(path)) as f:
        return f.read()


class Host(object):
    """Fake command runner: records commands, runs `sh` for real, answers the rest with ``handler``.

    The boot-loader update commands also do to the boot files what the real ones do, in a
    directory of their own (``boot``, outside the test's tmp_path): update-grub / grub-mkconfig
    write grub.cfg from the GRUB defaults as grub-mkconfig reads them (sourced by sh, then
    Debian's 10_linux lines "ro LINUX DEFAULT" and "ro single LINUX"); kernel-install writes
    <esp>/loader/entries/<token>-<version>.conf from the cmdline file the way systemd
    ``systemd`` reads it (252: every line, comment lines too; 257: lines starting with # dropped);
    proxmox-boot-tool writes proxmox-<version>.conf with the file as it is after "options".
    ``generate=False`` leaves the boot files alone (a stale grub.cfg, entries not rewritten).
    """

    TOKEN = '0d5f3b7e2c6a4e0f9b1d8c7a6e5f4d3c'

    def __init__(self, bins, handler=None, generate=True, systemd=252, kernels=('6.1.0-28-amd64',)):
        self.bins = bins
        self.handler = handler
        self.calls = []
        self.generate = generate
        self.systemd = systemd
        self.kernels = list(kernels)
        self.args = {}
        self.warnings = []      # AnsibleModule.warn, captured (ansible-core keeps them process-wide)
        self.boot = tempfile.mkdtemp(prefix='hvsec-test-boot-')
        weakref.finalize(self, shutil.rmtree, self.boot, True)
        self.grub_cfg = os.path.join(self.boot, 'grub', 'grub.cfg')
        self.grub2_cfg = os.path.join(self.boot, 'grub2', 'grub.cfg')
        self.esp = os.path.join(self.boot, 'efi')

    def get_bin_path(self, module, name, *args, **kwargs):
        return self.bins.get(name)

    def run_command(self, module, cmd, *args, **kwargs):
        self.calls.append(list(cmd))
        if os.path.basename(cmd[0]) == 'sh':
            p = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return p.returncode, p.stdout, p.stderr
        rc, out, err = self.handler(cmd)
        name = os.path.basename(cmd[0])
        if rc == 0 and self.generate:
            if name in ('update-grub', 'grub-mkconfig', 'grub2-mkconfig'):
                self.mkconfig(cmd[cmd.index('-o') + 1] if '-o' in cmd else self.grub_cfg)
            elif name == 'kernel-install' and cmd[1] == 'add':
                self.loader_entry('%s-%s.conf' % (self.TOKEN, cmd[2]), cmd[2], self.kernel_install_options())
            elif name == 'proxmox-boot-tool':
                for version in self.kernels:
                    self.loader_entry('proxmox-%s.conf' % version, version,
                                      read(self.args['cmdline_file']).rstrip('\n'))
        return rc, out, err

    def mkconfig(self, out_cfg):
        from ansible_collections.hvsec.hypervisor.plugins.module_utils import bootloader, grub_default
        argv = grub_default.shell_argv('/bin/sh', bootloader.grub_files(self.args['grub_config']))
        env = grub_default.parse_shell_output(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
        linux, default = ' '.join(env['GRUB_CMDLINE_LINUX']), ' '.join(env['GRUB_CMDLINE_LINUX_DEFAULT'])
        text = fixture('debian12_grub.cfg').replace(
            ' ro console=ttyS0,115200 no_timer_check quiet\n', ' ro %s %s\n' % (linux, default)).replace(
            ' ro single console=ttyS0,115200 no_timer_check\n', ' ro single %s\n' % linux)
        os.makedirs(os.path.dirname(out_cfg), exist_ok=True)
        with open(out_cfg, 'w') as f:
            f.write(text)

    def kernel_install_options(self):
        lines = read(self.args['cmdline_file']).splitlines()
        if self.systemd >= 257:
            lines = [line for line in lines if not line.lstrip().startswith('#')]
        return ' '.join(' '.join(lines).split()) + ' systemd.machine_id=' + self.TOKEN

    def loader_entry(self, name, version, options):
        os.makedirs(os.path.join(self.esp, 'loader', 'entries'), exist_ok=True)
        with open(os.path.join(self.esp, 'loader', 'entries', name), 'w') as f:
            f.write('title Debian GNU/Linux 12 (bookworm)\nversion %s\noptions %s\nlinux /%s/%s/linux\n'
                    % (version, options, self.TOKEN, version))

    def entries(self):
        d = os.path.join(self.esp, 'loader', 'entries')
        return {n: read(os.path.join(d, n)) for n in sorted(os.listdir(d))} if os.path.isdir(d) else {}


def run(capsys, args, host, check=False, diff=True):
    args = dict(args)
    host.args = dict(args)
    args['_ansible_check_mode'] = check
    args['_ansible_diff'] = diff
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, 'get_bin_path', lambda m, n, *a, **k: host.get_bin_path(m, n)), \
            mock.patch.object(basic.AnsibleModule, 'run_command', lambda m, c, *a, **k: host.run_command(m, c)), \
            mock.patch.object(kernel_cmdline.Runner, 'GRUB_CFG', host.grub_cfg), \
            mock.patch.object(kernel_cmdline.Runner, 'GRUB2_CFG', host.grub2_cfg), \
            mock.patch.object(kernel_cmdline.Runner, 'ESP_ROOTS', (host.esp,)), \
            mock.patch.object(basic.AnsibleModule, 'warn', lambda m, w, *a, **k: host.warnings.append(w)):
        with pytest.raises(SystemExit):
            kernel_cmdline.main()
    return json.loads(capsys.readouterr().out)


def ok(*dummy):
    return 0, '', ''


@pytest.fixture
def grub(tmp_path):
    cfg = tmp_path / 'grub'
    cfg.write_text(fixture('debian12_default_grub').replace('GRUB_CMDLINE_LINUX_DEFAULT="quiet"',
                                                            'GRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"')
                   .replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="iommu=pt"'))
    (tmp_path / 'grub.d').mkdir()
    (tmp_path / 'grub.d' / '50-cloudimg-settings.cfg').write_text(fixture('ubuntu_50-cloudimg-settings.cfg'))
    return cfg


def test_grub_check_mode_changes_nothing(capsys, grub):
    before = read(grub)
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host, check=True)
    assert res['changed'] is True
    assert res['files'] == [str(grub)]
    assert read(grub) == before
    # only the shell's reading of the defaults (sourcing them, as grub-mkconfig does) ran
    assert [c[:2] for c in host.calls] == [['/bin/sh', '-c']]
    assert res['removed'] == ['iommu=pt']
    assert res['added'] == STRICT['present']
    assert res['reboot_required'] is True
    assert '-iommu=pt' in res['pending'] and '+iommu.strict=1' in res['pending']
    assert res['diff'][0]['before'] == before and 'iommu.strict=1' in res['diff'][0]['after']


def test_grub_apply_then_idempotent(capsys, grub):
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    args = dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING)
    res = run(capsys, args, host)
    assert res['changed'] is True
    assert ['/usr/sbin/update-grub'] in host.calls
    text = read(grub)
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n' in text
    assert 'GRUB_CMDLINE_LINUX="intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma"\n' in text
    backup = res['backups'][str(grub)]
    assert 'iommu=pt' in read(backup)
    assert not backup.endswith('.cfg')
    host2 = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res2 = run(capsys, args, host2)
    # nothing to change: only the read-only shell reading of the defaults ran
    assert res2['changed'] is False and [c[0] for c in host2.calls] == ['/bin/sh']
    assert res2['reboot_required'] is True      # the running kernel still has iommu=pt
    res3 = run(capsys, dict(args, running_cmdline=RUNNING.replace('iommu=pt', ' '.join(STRICT['present']))), host2)
    assert res3['reboot_required'] is False and res3['pending'] == []


def test_grub_update_failure_restores(capsys, grub):
    before = read(grub)
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'},
                lambda cmd: (1, '', 'error: syntax error.\n'))
    args = dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING)
    res = run(capsys, args, host)
    assert res['failed'] is True
    assert 'update-grub' in res['msg'] and 'restored the original' in res['msg'] and 'syntax error' in res['msg']
    assert read(grub) == before


def test_grub_bad_request_fails_before_anything(capsys, grub):
    host = Host({'sh': '/bin/sh'}, ok)
    res = run(capsys, dict(present=['iommu=pt'], absent=['iommu'], bootloader='grub', grub_config=str(grub),
                           running_cmdline=RUNNING), host)
    assert res['failed'] is True and 'both wanted' in res['msg']
    res = run(capsys, dict(present=['quiet splash'], bootloader='grub', grub_config=str(grub),
                           running_cmdline=RUNNING), host)
    assert res['failed'] is True and 'present' in res['msg'] and 'whitespace' in res['msg']
    assert host.calls == []


def test_auto_detects_grub(capsys, grub, tmp_path):
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res = run(capsys, dict(absent=['iommu=pt'], grub_config=str(grub), cmdline_file=str(tmp_path / 'none'),
                           running_cmdline=RUNNING), host, check=True)
    assert res['bootloader'] == 'grub' and res['changed'] is True


# ------------------------------------------------------------------ systemd-boot
@pytest.fixture
def kcmd(tmp_path):
    path = tmp_path / 'cmdline'
    path.write_text(fixture('proxmox_kernel_cmdline').replace('boot=zfs', 'boot=zfs iommu=pt'))
    return path


def test_systemd_boot_proxmox(capsys, kcmd):
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok)
    args = dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING)
    res = run(capsys, args, host)
    assert res['changed'] is True
    assert read(kcmd) == ('root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu.strict=1 iommu.passthrough=0 '
                          'efi=disable_early_pci_dma\n')
    assert host.calls == [['/usr/sbin/proxmox-boot-tool', 'refresh']]
    res = run(capsys, args, Host({}, ok))
    assert res['changed'] is False


def test_systemd_boot_kernel_install_failure_restores(capsys, kcmd, tmp_path):
    before = read(kcmd)
    mods = tmp_path / 'modules'
    for ver in ('6.1.0-27-amd64', '6.1.0-28-amd64'):
        (mods / ver).mkdir(parents=True)
        (mods / ver / 'vmlinuz').write_text('x')

    def handler(cmd):
        return (1, '', 'boom') if cmd[2] == '6.1.0-28-amd64' else (0, '', '')
    host = Host({'kernel-install': '/usr/bin/kernel-install'}, handler)
    with mock.patch.object(kernel_cmdline.Runner, 'MODULE_DIRS', (str(mods),)):
        res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING), host)
    assert res['failed'] is True and 'boom' in res['msg']
    assert read(kcmd) == before
    # both kernels updated, then the update re-run after restoring the file
    assert [c[2] for c in host.calls] == ['6.1.0-27-amd64', '6.1.0-28-amd64', '6.1.0-27-amd64', '6.1.0-28-amd64']


# ------------------------------------------------------------------ grubby / BLS
class FakeGrubby(object):
    """A small grubby over real BLS entry files, enough to test the module's protocol."""

    def __init__(self, bls_dir, fail_update=False):
        self.dir = str(bls_dir)
        self.fail_update = fail_update

    def files(self):
        return sorted(os.path.join(self.dir, n) for n in os.listdir(self.dir) if n.endswith('.conf'))

    def __call__(self, cmd):
        if cmd[1] in ('--info=ALL', '--info=DEFAULT'):
            out = []
            files = self.files() if cmd[1] == '--info=ALL' else self.files()[:1]
            for i, path in enumerate(files):
                lines = dict(line.split(' ', 1) for line in read(path).splitlines() if ' ' in line)
                opts = lines['options'].split()
                root = [w for w in opts if w.startswith('root=')]
                out.append('index=%d\nkernel="/boot%s"\nargs="%s"\nroot="%s"\n' % (
                    i, lines['linux'], ' '.join(w for w in opts if not w.startswith('root=')), root[0][5:]))
            return 0, ''.join(out), ''
        assert cmd[1] == '--update-kernel=ALL'
        remove, add = [], []
        for opt in cmd[2:]:
            if opt.startswith('--remove-args='):
                remove = opt.split('=', 1)[1].split()
            elif opt.startswith('--args='):
                add = opt.split('=', 1)[1].split()
        for path in self.files():
            text = read(path)
            out = []
            for line in text.splitlines():
                if line.startswith('options '):
                    words = [w for w in line.split()[1:] if w not in remove]
                    for a in add:
                        key = a.split('=', 1)[0]
                        words = [w for w in words if w.split('=', 1)[0] != key] + [a]
                    line = 'options ' + ' '.join(words)
                out.append(line)
            with open(path, 'w') as f:
                f.write('\n'.join(out) + '\n')
            if self.fail_update:
                return 1, '', 'grubby: failed to write entry'
        return 0, '', ''


@pytest.fixture
def bls(tmp_path):
    d = tmp_path / 'entries'
    d.mkdir()
    entry = fixture('rhel9_bls_entry.conf')
    (d / 'a-5.14.0-362.8.1.el9_3.x86_64.conf').write_text(entry)
    (d / 'a-5.14.0-284.11.1.el9_2.x86_64.conf').write_text(
        entry.replace('362.8.1.el9_3', '284.11.1.el9_2').replace('iommu=pt', 'iommu=pt intel_iommu=off'))
    return d


def test_grubby_apply_verify_idempotent(capsys, bls, tmp_path):
    # grub2-mkconfig sources the defaults under set -e: GRUB_DISTRIBUTOR's $(sed ... /etc/system-release)
    # must find the file, as on a real RHEL host
    (tmp_path / 'system-release').write_text('Red Hat Enterprise Linux release 9.3 (Plow)\n')
    (tmp_path / 'grub').write_text(fixture('rhel9_default_grub').replace('/etc/system-release',
                                                                         str(tmp_path / 'system-release')))
    fake = FakeGrubby(bls)
    host = Host({'grubby': '/usr/sbin/grubby', 'sh': '/bin/sh'}, fake)
    args = dict(STRICT, bootloader='grubby', grub_config=str(tmp_path / 'grub'),
                cmdline_file=str(tmp_path / 'nocmdline'), running_cmdline=RUNNING)
    with mock.patch.object(kernel_cmdline.Runner, 'BLS_DIR', str(bls)):
        res = run(capsys, args, host, check=True)
        assert res['changed'] is True and not [c for c in host.calls if c[1] == '--update-kernel=ALL']
        assert 'iommu=pt' in read(sorted(bls.iterdir())[0])
        res = run(capsys, args, host)
        update = [c for c in host.calls if c[1] == '--update-kernel=ALL']
        assert update == [['/usr/sbin/grubby', '--update-kernel=ALL', '--remove-args=iommu=pt intel_iommu=off',
                           '--args=intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma']]
        assert res['changed'] is True
        assert str(tmp_path / 'grub') in res['files']
        for path in bls.iterdir():
            if path.name.endswith('.conf'):
                opts = [line for line in read(path).splitlines() if line.startswith('options ')][0].split()
                assert 'iommu=pt' not in opts and 'intel_iommu=off' not in opts
                assert opts[-4:] == STRICT['present'] and '$tuned_params' in opts
        assert 'iommu.strict=1' in read(tmp_path / 'grub')
        res = run(capsys, args, host)
        assert res['changed'] is False


def test_grubby_failure_restores_entries(capsys, bls, tmp_path):
    originals = {p.name: read(p) for p in bls.iterdir()}
    host = Host({'grubby': '/usr/sbin/grubby'}, FakeGrubby(bls, fail_update=True))
    with mock.patch.object(kernel_cmdline.Runner, 'BLS_DIR', str(bls)):
        res = run(capsys, dict(STRICT, bootloader='grubby', grub_config=str(tmp_path / 'nogrub'),
                               cmdline_file=str(tmp_path / 'nocmdline'), running_cmdline=RUNNING), host)
    assert res['failed'] is True and 'failed to write entry' in res['msg']
    assert {p.name: read(p) for p in bls.iterdir() if p.name.endswith('.conf')} == originals


# ------------------------------------------------------------------ '--' (issue 13, item 1)
def test_grub_double_dash_wanted_arguments_reach_the_kernel(capsys, tmp_path):
    cfg = tmp_path / 'grub'
    cfg.write_text(fixture('debian12_default_grub').replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="quiet -- single"'))
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    # the running kernel got the strict arguments, but after '--': they went to init
    running = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=6f1c ro quiet -- single ' + ' '.join(STRICT['present'])
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(cfg), running_cmdline=running), host)
    assert res['changed'] is True, res
    assert ('GRUB_CMDLINE_LINUX="quiet intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma '
            '-- single"\n') in read(cfg)
    assert res['reboot_required'] is True
    assert res['pending'] == ['+' + w for w in STRICT['present']]
    # and grub.cfg, read back after update-grub, has them before the '--'
    linux = [line for line in read(host.grub_cfg).splitlines() if line.strip().startswith('linux')][0].split()
    assert linux.index('intel_iommu=on') < linux.index('--')


@pytest.mark.parametrize('option', ['present', 'absent'])
def test_double_dash_in_the_request_is_refused(capsys, grub, option):
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    before = read(grub)
    res = run(capsys, {option: ['iommu.strict=1', '--'], 'bootloader': 'grub', 'grub_config': str(grub),
                       'running_cmdline': RUNNING}, host)
    assert res['failed'] is True and res['msg'].startswith(option + ': ') and "'--'" in res['msg'], res
    assert host.calls == [] and read(grub) == before


def test_systemd_boot_double_dash(capsys, tmp_path):
    path = tmp_path / 'cmdline'
    path.write_text('root=ZFS=rpool/ROOT/pve-1 boot=zfs -- splash\n')
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok)
    res = run(capsys, dict(present=['iommu.strict=1'], bootloader='systemd-boot', cmdline_file=str(path),
                           running_cmdline='root=ZFS=rpool/ROOT/pve-1 boot=zfs -- splash iommu.strict=1'), host)
    assert read(path) == 'root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu.strict=1 -- splash\n'
    assert res['pending'] == ['+iommu.strict=1'] and res['reboot_required'] is True


# ------------------------------------------------------------------ GRUB defaults are shell (item 2)
def test_grub_conditional_assignment_is_refused_with_file_and_line(capsys, grub):
    dropin = grub.parent / 'grub.d' / '60-efi.cfg'
    dropin.write_text('# EFI hosts only\nif [ -d /sys/firmware/efi ]; then\n    GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt"\nfi\n')
    before = {p: read(p) for p in (grub, dropin)}
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    for check in (True, False):
        res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host, check=check)
        assert res['failed'] is True and '%s line 3: ' % dropin in res['msg'] and 'inside if' in res['msg'], res
    assert {p: read(p) for p in before} == before
    assert [c for c in host.calls if 'update-grub' in c[0]] == []


def test_grub_reference_to_another_variable_is_refused(capsys, grub):
    dropin = grub.parent / 'grub.d' / '60-extra.cfg'
    dropin.write_text('EXTRA="intel_iommu=off"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX $EXTRA"\n')
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host)
    assert res['failed'] is True and '%s line 2: ' % dropin in res['msg'] and '$EXTRA' in res['msg'], res
    assert 'intel_iommu=off' in read(dropin)


def test_grub_value_the_shell_sees_differently_is_refused(capsys, grub, tmp_path):
    # a drop-in sources a file the module does not read: the shell (as grub-mkconfig) sees iommu=pt
    extra = tmp_path / 'site-grub.sh'
    extra.write_text('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt"\n')
    (grub.parent / 'grub.d' / '70-site.cfg').write_text('. %s\n' % extra)
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host, check=True)
    assert res['failed'] is True and 'sh' in res['msg'] and 'iommu=pt' in res['msg'], res


def test_grub_cfg_is_verified_after_update_grub(capsys, grub):
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host)
    assert res['changed'] is True and 'failed' not in res, res
    assert res['verified'] == ['%s: 5 Linux entries' % host.grub_cfg]


def test_stale_grub_cfg_fails_and_restores(capsys, grub):
    # update-grub "succeeds" but grub.cfg does not get the arguments (a stale or diverted file)
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok, generate=False)
    os.makedirs(os.path.dirname(host.grub_cfg))
    with open(host.grub_cfg, 'w') as f:
        f.write(fixture('debian12_grub.cfg'))
    before = read(grub)
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host)
    assert res['failed'] is True, res
    assert host.grub_cfg in res['msg'] and "'Debian GNU/Linux'" in res['msg'] and '+intel_iommu=on' in res['msg']
    assert 'restored the original' in res['msg'] and read(grub) == before
    # update-grub ran again after the restore, so grub.cfg follows the restored defaults
    assert [c for c in host.calls if c[0].endswith('update-grub')] == [['/usr/sbin/update-grub']] * 2


def test_grub_cfg_without_linux_entries_fails(capsys, grub):
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok, generate=False)
    os.makedirs(os.path.dirname(host.grub_cfg))
    with open(host.grub_cfg, 'w') as f:
        f.write('### BEGIN /etc/grub.d/10_linux ###\ninsmod blscfg\nblscfg\n### END /etc/grub.d/10_linux ###\n')
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host)
    assert res['failed'] is True and 'blscfg' in res['msg'] and 'grubby' in res['msg'], res


# ------------------------------------------------------------------ /etc/kernel/cmdline comments (item 3)
def test_comment_lines_never_reach_the_loader_entry(capsys, tmp_path):
    path = tmp_path / 'cmdline'
    path.write_text('# iommu=pt (was needed for the GPU)\nroot=UUID=6f1c ro quiet\n')
    mods = tmp_path / 'modules' / '6.1.0-28-amd64'
    mods.mkdir(parents=True)
    (mods / 'vmlinuz').write_text('x')
    host = Host({'kernel-install': '/usr/bin/kernel-install'}, ok, systemd=252)
    with mock.patch.object(kernel_cmdline.Runner, 'MODULE_DIRS', (str(tmp_path / 'modules'),)):
        res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(path), running_cmdline=RUNNING), host)
    assert 'failed' not in res, res
    assert read(path) == 'root=UUID=6f1c ro quiet ' + ' '.join(STRICT['present']) + '\n'
    options = host.entries()['%s-6.1.0-28-amd64.conf' % Host.TOKEN].splitlines()[2]
    assert options == 'options root=UUID=6f1c ro quiet %s systemd.machine_id=%s' % (' '.join(STRICT['present']), Host.TOKEN)
    assert "removed comment lines '# iommu=pt (was needed for the GPU)'" in ' '.join(host.warnings)
    assert res['verified'] == [os.path.join(host.esp, 'loader', 'entries', '%s-6.1.0-28-amd64.conf' % Host.TOKEN)]


def test_a_comment_alone_is_removed_from_the_file(capsys, tmp_path):
    # nothing of the request is missing, but systemd 252 would pass "# keep" to the kernel
    path = tmp_path / 'cmdline'
    path.write_text('root=ZFS=rpool/ROOT/pve-1 boot=zfs\n# keep\n')
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok)
    res = run(capsys, dict(absent=['pcie_acs_override'], bootloader='systemd-boot', cmdline_file=str(path),
                           running_cmdline='root=ZFS=rpool/ROOT/pve-1 boot=zfs'), host)
    assert res['changed'] is True and read(path) == 'root=ZFS=rpool/ROOT/pve-1 boot=zfs\n'
    assert res['files'] == [str(path)] and res['before'] == res['after'] == ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs']
    res = run(capsys, dict(absent=['pcie_acs_override'], bootloader='systemd-boot', cmdline_file=str(path),
                           running_cmdline='root=ZFS=rpool/ROOT/pve-1 boot=zfs'), Host({}, ok))
    assert res['changed'] is False


def test_stale_loader_entry_fails_restores_and_resyncs(capsys, kcmd, tmp_path):
    mods = tmp_path / 'modules' / '6.1.0-28-amd64'
    mods.mkdir(parents=True)
    (mods / 'vmlinuz').write_text('x')
    before = read(kcmd)
    host = Host({'kernel-install': '/usr/bin/kernel-install'}, ok, generate=False)
    host.args = {'cmdline_file': str(kcmd)}
    host.loader_entry('%s-6.1.0-28-amd64.conf' % Host.TOKEN, '6.1.0-28-amd64', 'root=ZFS=rpool/ROOT/pve-1 iommu=pt')
    with mock.patch.object(kernel_cmdline.Runner, 'MODULE_DIRS', (str(tmp_path / 'modules'),)):
        res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING), host)
    assert res['failed'] is True, res
    assert '%s-6.1.0-28-amd64.conf' % Host.TOKEN in res['msg'] and '-iommu=pt' in res['msg']
    assert 'restored the original' in res['msg'] and read(kcmd) == before
    assert [c[1] for c in host.calls] == ['add', 'add']      # the update, then again after the restore


def test_proxmox_entries_are_verified(capsys, kcmd):
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok, kernels=('6.8.12-4-pve', '6.8.12-5-pve'))
    res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING), host)
    assert 'failed' not in res, res
    assert [os.path.basename(p) for p in res['verified']] == ['proxmox-6.8.12-4-pve.conf', 'proxmox-6.8.12-5-pve.conf']


def test_no_visible_loader_entry_is_a_warning(capsys, kcmd):
    # proxmox-boot-tool mounts the ESPs privately: nothing to read afterwards
    host = Host({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, ok, generate=False)
    res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING), host)
    assert res['changed'] is True and res['verified'] == []
    assert 'no boot loader entry' in ' '.join(host.warnings), res


# ------------------------------------------------------------------ symlinked defaults (item 4)
def test_symlinked_grub_defaults_are_edited_through_the_link(capsys, grub, tmp_path):
    repo = tmp_path / 'repo'
    repo.mkdir()
    os.rename(str(grub), str(repo / 'grub'))
    os.symlink('repo/grub', str(grub))
    dropin = grub.parent / 'grub.d' / '50-cloudimg-settings.cfg'
    os.rename(str(dropin), str(repo / '50.cfg'))
    os.symlink(str(repo / '50.cfg'), str(dropin))
    (repo / '50.cfg').write_text(read(repo / '50.cfg').replace('console=ttyS0"', 'console=ttyS0 iommu=pt"'))
    host = Host({'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}, ok)
    res = run(capsys, dict(STRICT, bootloader='grub', grub_config=str(grub), running_cmdline=RUNNING), host)
    assert res['changed'] is True and 'failed' not in res, res
    assert os.path.islink(str(grub)) and os.readlink(str(grub)) == 'repo/grub'
    assert os.path.islink(str(dropin))
    assert 'iommu.strict=1' in read(repo / 'grub') and 'iommu=pt' not in read(repo / '50.cfg')
    assert not os.path.islink(res['backups'][str(grub)]) and 'iommu=pt' in read(res['backups'][str(grub)])


# ------------------------------------------------------------------ check mode and follow-up commands (item 5)
def test_systemd_boot_check_mode_writes_nothing(capsys, kcmd):
    before = read(kcmd)
    for bins in ({'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}, {'kernel-install': '/usr/bin/kernel-install'}):
        host = Host(bins, ok)
        res = run(capsys, dict(STRICT, bootloader='systemd-boot', cmdline_file=str(kcmd), running_cmdline=RUNNING),
                  host, check=True)
        assert res['changed'] is True and res['files'] == [str(kcmd)]
        assert read(kcmd) == before and host.calls == [] and host.entries() == {}
        assert 'update_command' not in res and res['diff'][0]['before'] == before
        assert 'iommu.strict=1' in res['diff'][0]['after']


def _grub_case(tmp_path, bins):
    cfg = tmp_path / 'grub'
    cfg.write_text(fixture('debian12_default_grub'))
    return dict(bootloader='grub', grub_config=str(cfg)), bins, str(cfg)


def _kcmd_case(tmp_path, bins):
    path = tmp_path / 'cmdline'
    path.write_text(fixture('proxmox_kernel_cmdline'))
    mods = tmp_path / 'modules' / '6.1.0-28-amd64'
    mods.mkdir(parents=True)
    (mods / 'vmlinuz').write_text('x')
    return dict(bootloader='systemd-boot', cmdline_file=str(path)), bins, str(path)


@pytest.mark.parametrize('case,command', [
    (lambda t: _grub_case(t, {'sh': '/bin/sh', 'update-grub': '/usr/sbin/update-grub'}), ['/usr/sbin/update-grub']),
    (lambda t: _grub_case(t, {'sh': '/bin/sh', 'grub-mkconfig': '/usr/sbin/grub-mkconfig'}),
     ['/usr/sbin/grub-mkconfig', '-o', 'GRUB_CFG']),
    (lambda t: _grub_case(t, {'sh': '/bin/sh', 'grub2-mkconfig': '/usr/sbin/grub2-mkconfig'}),
     ['/usr/sbin/grub2-mkconfig', '-o', 'GRUB2_CFG']),
    (lambda t: _kcmd_case(t, {'proxmox-boot-tool': '/usr/sbin/proxmox-boot-tool'}),
     ['/usr/sbin/proxmox-boot-tool', 'refresh']),
    (lambda t: _kcmd_case(t, {'kernel-install': '/usr/bin/kernel-install'}),
     ['/usr/bin/kernel-install', 'add', '6.1.0-28-amd64', 'VMLINUZ']),
])
def test_follow_up_command_runs_only_outside_check_mode(capsys, tmp_path, case, command):
    args, bins, path = case(tmp_path)
    before = read(path)
    args = dict(args, present=['iommu.strict=1'], running_cmdline=RUNNING)
    with mock.patch.object(kernel_cmdline.Runner, 'MODULE_DIRS', (str(tmp_path / 'modules'),)):
        host = Host(bins, ok)
        res = run(capsys, args, host, check=True)
        assert res['changed'] is True and read(path) == before
        assert [c for c in host.calls if os.path.basename(c[0]) != 'sh'] == []
        host = Host(bins, ok)
        expected = [{'GRUB_CFG': host.grub_cfg, 'GRUB2_CFG': host.grub2_cfg,
                     'VMLINUZ': str(tmp_path / 'modules' / '6.1.0-28-amd64' / 'vmlinuz')}.get(w, w) for w in command]
        res = run(capsys, args, host)
        assert 'failed' not in res, res
        assert [c for c in host.calls if os.path.basename(c[0]) != 'sh'] == [expected]
        assert res['update_command'] == [' '.join(expected)]
        assert 'iommu.strict=1' in read(path)


def test_grubby_runs_only_outside_check_mode(capsys, bls, tmp_path):
    fake = FakeGrubby(bls)
    args = dict(present=['iommu.strict=1'], bootloader='grubby', grub_config=str(tmp_path / 'nogrub'),
                cmdline_file=str(tmp_path / 'nocmdline'), running_cmdline=RUNNING)
    with mock.patch.object(kernel_cmdline.Runner, 'BLS_DIR', str(bls)):
        host = Host({'grubby': '/usr/sbin/grubby'}, fake)
        originals = {p.name: read(p) for p in bls.iterdir()}
        res = run(capsys, args, host, check=True)
        assert res['changed'] is True and {p.name: read(p) for p in bls.iterdir()} == originals
        assert [c[1] for c in host.calls] == ['--info=ALL', '--info=DEFAULT']
        host = Host({'grubby': '/usr/sbin/grubby'}, fake)
        res = run(capsys, args, host)
        assert [c[1] for c in host.calls if c[1].startswith('--update')] == ['--update-kernel=ALL']
