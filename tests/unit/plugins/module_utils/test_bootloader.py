# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hvsec.hypervisor.plugins.module_utils import bootloader as bl

FIX = os.path.join(os.path.dirname(__file__), 'fixtures', 'bootloader')


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def test_rhel9_bls_entry():
    entry = bl.parse_bls_entry(fixture('rhel9_bls_entry.conf'))
    assert entry['version'] == '5.14.0-362.8.1.el9_3.x86_64'
    assert entry['options'].split()[:2] == ['root=/dev/mapper/rhel-root', 'ro']
    assert entry['options'].split()[-1] == '$tuned_params'
    assert entry['initrd'] == ['/initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd']
    assert entry['grub_arg'] == '--unrestricted'


def test_grubby_info_all():
    entries = bl.parse_grubby_info(fixture('rhel9_grubby_info_all.txt'))
    assert [e['index'] for e in entries] == [0, 1, 2]
    assert entries[0]['kernel'] == '/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64'
    assert 'iommu=pt' in entries[0]['args'].split()
    assert entries[1]['args'].split()[-2:] == ['intel_iommu=off', '$tuned_params']
    assert entries[2]['root'] == '/dev/mapper/rhel-root'
    assert bl.parse_grubby_info('') == []


def test_proxmox_kernel_cmdline():
    text = fixture('proxmox_kernel_cmdline')
    words = bl.parse_kernel_cmdline_file(text)
    assert words == ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs']
    assert bl.render_kernel_cmdline_file(text, words) == text
    assert bl.kernel_cmdline_file_is_canonical(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet='abc=.,/_-0123', min_size=1, max_size=8), max_size=8))
def test_kernel_cmdline_roundtrip(words):
    assert bl.parse_kernel_cmdline_file(bl.render_kernel_cmdline_file('', words)) == words


def _touch(root, rel, text=''):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def test_detect(tmp_path):
    root = str(tmp_path)
    assert bl.detect(root, False, '/etc/default/grub', '/etc/kernel/cmdline') is None
    _touch(root, 'etc/default/grub', 'GRUB_CMDLINE_LINUX=""\n')
    assert bl.detect(root, False, '/etc/default/grub', '/etc/kernel/cmdline') == 'grub'
    # kernel-install leaves /etc/kernel/cmdline on GRUB hosts too: not enough on its own
    _touch(root, 'etc/kernel/cmdline', 'root=x\n')
    assert bl.detect(root, False, '/etc/default/grub', '/etc/kernel/cmdline') == 'grub'
    _touch(root, 'etc/kernel/proxmox-boot-uuids', 'ABCD-1234\n')
    assert bl.detect(root, False, '/etc/default/grub', '/etc/kernel/cmdline') == 'systemd-boot'
    _touch(root, 'boot/loader/entries/x.conf', fixture('rhel9_bls_entry.conf'))
    assert bl.detect(root, False, '/etc/default/grub', '/etc/kernel/cmdline') == 'systemd-boot'
    assert bl.detect(root, True, '/etc/default/grub', '/etc/kernel/cmdline') == 'grubby'


def test_grub_files_order(tmp_path):
    cfg = str(tmp_path / 'grub')
    _touch(str(tmp_path), 'grub')
    _touch(str(tmp_path), 'grub.d/50-cloudimg-settings.cfg')
    _touch(str(tmp_path), 'grub.d/40-force-partuuid.cfg')
    _touch(str(tmp_path), 'grub.d/99-x.cfg.1234.2026-01-01@00:00:00~')
    assert bl.grub_files(cfg) == [cfg, cfg + '.d/40-force-partuuid.cfg', cfg + '.d/50-cloudimg-settings.cfg']


# ------------------------------------------------------------------ /etc/kernel/cmdline
# How the file is read (see docs/iommu.md): kernel-install's 90-loaderentry before systemd 257
# (Debian 12 has 252) joins every line, comment lines included (tr -s "$IFS" ' '); from 257 on
# it drops lines starting with '#' (grep -v '^\s*#'); proxmox-boot-tool puts the whole file, as
# it is, after "options" in its loader entry, so only the first line reaches the kernel. The one
# form every reader takes the same way is a single line of arguments without comments.
def test_comment_lines_never_stay_in_the_file():
    text = '# iommu=pt (was needed for the GPU)\nroot=ZFS=rpool/ROOT/pve-1 boot=zfs\n'
    assert bl.parse_kernel_cmdline_file(text) == ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs']
    assert not bl.kernel_cmdline_file_is_canonical(text)
    new = bl.render_kernel_cmdline_file(text, ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs', 'intel_iommu=on'])
    assert new == 'root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on\n'
    assert bl.kernel_cmdline_file_is_canonical(new)
    assert bl.kernel_cmdline_file_comments(text) == ['# iommu=pt (was needed for the GPU)']


@pytest.mark.parametrize('text,canonical', [
    ('root=x quiet\n', True), ('root=x quiet', True), ('', True), ('root=x\n\n', True),
    ('root=x\nquiet\n', False), ('\nroot=x\n', False), ('  # c\nroot=x\n', False), ('root=x\n# c\n', False),
])
def test_canonical_kernel_cmdline_file(text, canonical):
    assert bl.kernel_cmdline_file_is_canonical(text) is canonical


def test_bls_entry_options_lines_are_joined():
    # BLS: "options" may appear more than once; systemd-boot joins them in order
    entry = bl.parse_bls_entry('title x\nversion 6.1\noptions root=x ro\noptions quiet -- single\nlinux /l\n')
    assert entry['options'] == 'root=x ro quiet -- single'


def test_loader_entries_under_the_esp(tmp_path):
    esp = tmp_path / 'efi'
    _touch(str(esp), 'loader/entries/abc-6.1.0-28-amd64.conf',
           'title Debian\nversion 6.1.0-28-amd64\noptions root=x ro\nlinux /abc/6.1.0-28-amd64/linux\n')
    _touch(str(esp), 'loader/entries/abc-6.1.0-27-amd64+3-0.conf', 'version 6.1.0-27-amd64\noptions root=x\n')
    _touch(str(esp), 'loader/entries/not-an-entry.txt', 'version 6.1.0-28-amd64\n')
    found = bl.loader_entries([str(tmp_path / 'boot'), str(esp)])
    assert [(os.path.basename(path), entry['version']) for path, entry in found] == [
        ('abc-6.1.0-27-amd64+3-0.conf', '6.1.0-27-amd64'), ('abc-6.1.0-28-amd64.conf', '6.1.0-28-amd64')]


# ------------------------------------------------------------------ grub.cfg (what update-grub wrote)
def test_debian12_grub_cfg_linux_lines():
    entries = bl.parse_grub_cfg(fixture('debian12_grub.cfg'))
    linux = [e for e in entries if e['section'] == '10_linux']
    assert [e['title'] for e in linux] == [
        'Debian GNU/Linux',
        'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-28-amd64',
        'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-28-amd64 (recovery mode)',
        'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-27-amd64',
        'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-27-amd64 (recovery mode)']
    first = linux[0]
    assert first['kernel'] == '/boot/vmlinuz-6.1.0-28-amd64' and first['line'] == 99
    assert first['args'] == ['root=UUID=6f1c2f2e-7f55-4c1e-9d0e-3b7d2a8c9e11', 'ro', 'console=ttyS0,115200',
                             'no_timer_check', 'quiet']
    assert linux[2]['args'][2] == 'single'
    custom = [e for e in entries if e['section'] == '40_custom']
    assert [(e['title'], e['args'][-1]) for e in custom] == [('Debian (rescue, no IOMMU)', 'intel_iommu=off')]
    assert bl.grub_cfg_kernel_entries(entries) == linux


def test_grub_cfg_quoting_and_variables():
    text = ("menuentry 'Ubuntu' {\n  linux /boot/vmlinuz-6.8.0-45-generic root=UUID=1 ro quiet splash "
            "$vt_handoff 'a b' \"c=\\\"d\\\"\" -- single\n}\n")
    entry, = bl.parse_grub_cfg(text)
    assert entry['section'] is None and entry['title'] == 'Ubuntu'
    assert entry['args'] == ['root=UUID=1', 'ro', 'quiet', 'splash', '$vt_handoff', 'a b', 'c="d"', '--', 'single']
    # no section markers (a hand-made grub.cfg): every Linux entry counts
    assert bl.grub_cfg_kernel_entries([entry]) == [entry]


def test_grub_cfg_with_bls_has_no_linux_lines():
    text = '### BEGIN /etc/grub.d/10_linux ###\ninsmod blscfg\nblscfg\n### END /etc/grub.d/10_linux ###\n'
    assert bl.parse_grub_cfg(text) == [] and bl.grub_cfg_uses_blscfg(text)
