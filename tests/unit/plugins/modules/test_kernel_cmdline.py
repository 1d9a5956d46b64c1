# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

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
    """Fake command runner: records commands, runs `sh -n` for real, answers the rest."""

    def __init__(self, bins, handler=None):
        self.bins = bins
        self.handler = handler
        self.calls = []

    def get_bin_path(self, module, name, *args, **kwargs):
        return self.bins.get(name)

    def run_command(self, module, cmd, *args, **kwargs):
        self.calls.append(list(cmd))
        if os.path.basename(cmd[0]) == 'sh':
            p = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return p.returncode, p.stdout, p.stderr
        return self.handler(cmd)


def run(capsys, args, host, check=False, diff=True):
    args = dict(args)
    args['_ansible_check_mode'] = check
    args['_ansible_diff'] = diff
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, 'get_bin_path', lambda m, n, *a, **k: host.get_bin_path(m, n)), \
            mock.patch.object(basic.AnsibleModule, 'run_command', lambda m, c, *a, **k: host.run_command(m, c)):
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
    assert host.calls == []
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
    assert res2['changed'] is False and host2.calls == []
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
    (tmp_path / 'grub').write_text(fixture('rhel9_default_grub'))
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
