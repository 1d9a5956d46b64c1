# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared file reader: missing and unreadable files read as None, bytes survive."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_int, read_text


def test_read_text_missing_is_none(tmp_path):
    assert read_text(str(tmp_path / 'absent')) is None
    assert read_text(str(tmp_path)) is None  # a directory cannot be read as a file


def test_read_text_keeps_bytes_and_strips_on_request(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b' a\xffb \n')
    text = read_text(str(path))
    assert text == ' a\udcffb \n'
    assert text.encode('utf-8', 'surrogateescape') == b' a\xffb \n'
    assert read_text(str(path), strip=True) == 'a\udcffb'


def test_read_int(tmp_path):
    path = tmp_path / 'n'
    path.write_text('42\n')
    assert read_int(str(path)) == 42
    path.write_text('Y\n')
    assert read_int(str(path)) is None
    assert read_int(str(tmp_path / 'absent')) is None
    os.chmod(str(path), 0)
    if os.geteuid() != 0:
        assert read_int(str(path)) is None
