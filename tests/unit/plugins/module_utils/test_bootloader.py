# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

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
    assert bl.render_kernel_cmdline_file('# hi\nroot=x\n', ['root=x', 'quiet']) == '# hi\nroot=x quiet\n'


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
