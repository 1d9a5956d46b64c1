# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""write_atomic writes through symbolic links: the link stays, its target gets the content."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import (
    replace_keeping_attrs, write_atomic)


@pytest.fixture
def module():
    with patch_module_args({}):
        yield AnsibleModule(argument_spec={})


def _linked(tmp_path, relative):
    """/etc/default/grub -> ../../srv/config/grub (a config repository checked out elsewhere)."""
    target_dir = tmp_path / 'srv' / 'config'
    target_dir.mkdir(parents=True)
    target = target_dir / 'grub'
    target.write_text('GRUB_CMDLINE_LINUX="iommu=pt"\n')
    target.chmod(0o640)
    link_dir = tmp_path / 'etc' / 'default'
    link_dir.mkdir(parents=True)
    link = link_dir / 'grub'
    os.symlink(os.path.relpath(str(target), str(link_dir)) if relative else str(target), str(link))
    return link, target


@pytest.mark.parametrize('relative', [True, False])
@pytest.mark.parametrize('move', [None, replace_keeping_attrs])
def test_a_symlink_is_written_through(module, tmp_path, relative, move):
    link, target = _linked(tmp_path, relative)
    before = os.readlink(str(link))
    write_atomic(module, str(link), 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n', move=move)
    assert os.path.islink(str(link)) and os.readlink(str(link)) == before
    assert target.read_text() == 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n'
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    # no temporary file left next to the link or the target
    assert sorted(os.listdir(str(link.parent))) == ['grub']
    assert sorted(os.listdir(str(target.parent))) == ['grub']


def test_a_chain_of_links_is_followed_to_the_end(module, tmp_path):
    link, target = _linked(tmp_path, True)
    second = tmp_path / 'etc' / 'grub-link'
    os.symlink('default/grub', str(second))
    write_atomic(module, str(second), 'x\n')
    assert os.path.islink(str(second)) and os.path.islink(str(link))
    assert target.read_text() == 'x\n'


def test_a_regular_file_is_still_replaced_atomically(module, tmp_path):
    path = tmp_path / 'f'
    path.write_text('old\n')
    inode = path.stat().st_ino
    write_atomic(module, str(path), 'new\n')
    assert path.read_text() == 'new\n' and not path.is_symlink()
    assert path.stat().st_ino != inode        # a new file renamed over the old one
