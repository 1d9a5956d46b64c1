# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the modules read host files through module_utils.files: what each caller gets for a
readable, a missing and an unparsable file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci
from ansible_collections.hvsec.hypervisor.plugins.modules import kernel_cmdline


def test_read_required_returns_the_text_with_stray_bytes_kept(tmp_path):
    path = tmp_path / 'grub'
    path.write_bytes(b'GRUB_CMDLINE_LINUX="quiet \xff"\r\n')
    text = kernel_cmdline.read_required(str(path))
    assert text == u'GRUB_CMDLINE_LINUX="quiet \udcff"\r\n'
    assert text.encode('utf-8', 'surrogateescape') == path.read_bytes()


def test_read_required_raises_why_a_missing_file_cannot_be_read(tmp_path):
    with pytest.raises((IOError, OSError)) as info:
        kernel_cmdline.read_required(str(tmp_path / 'absent.cfg'))
    assert info.value.errno == errno.ENOENT
    assert 'absent.cfg' in str(info.value)


def test_read_required_raises_for_a_directory(tmp_path):
    with pytest.raises((IOError, OSError)) as info:
        kernel_cmdline.read_required(str(tmp_path))
    assert info.value.errno == errno.EISDIR


def _device(tmp_path, **attributes):
    base = tmp_path / 'sys' / 'bus' / 'pci' / 'devices' / '0000:01:00.0'
    base.mkdir(parents=True)
    for name, text in attributes.items():
        (base / name).write_text(text)
    return pci.read_device(str(tmp_path), '0000:01:00.0')


def test_read_device_strips_sysfs_attributes(tmp_path):
    attrs = {'class': '0x020000\n', 'sriov_totalvfs': '7\n', 'sriov_numvfs': ' 2 \n', 'modalias': 'pci:v8086\n'}
    dev = _device(tmp_path, vendor='0x8086\n', device='0x10d3\n', **attrs)
    assert (dev['vendor'], dev['device'], dev['id'], dev['class']) == ('0x8086', '0x10d3', '8086:10d3', '0x020000')
    assert (dev['sriov_totalvfs'], dev['sriov_numvfs'], dev['modalias']) == (7, 2, 'pci:v8086')


def test_read_device_missing_or_unparsable_attributes_are_none(tmp_path):
    dev = _device(tmp_path, vendor='0x8086\n', sriov_totalvfs='many\n', driver_override='(null)\n')
    assert dev['device'] is None and dev['id'] is None and dev['class'] is None and dev['modalias'] is None
    assert dev['sriov_totalvfs'] is None and dev['sriov_numvfs'] is None
    assert dev['driver_override'] is None
