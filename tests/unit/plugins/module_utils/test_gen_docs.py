# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/controls.md is generated from the catalog and is up to date."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import gen_docs  # noqa: E402  pylint: disable=wrong-import-position


def test_controls_md_is_current():
    with open(os.path.join(ROOT, 'docs', 'controls.md')) as handle:
        current = handle.read()
    assert current == gen_docs.render(gen_docs.load_catalog()), 'docs/controls.md is out of date: run make docs'


def test_every_control_is_documented_once():
    catalog = gen_docs.load_catalog()
    text = gen_docs.render(catalog)
    for control in catalog.CONTROLS:
        assert text.count('### %s:' % control['id']) == 1
        assert control['rationale'] in text


def test_check_detects_stale_file(tmp_path):
    out = tmp_path / 'controls.md'
    assert gen_docs.main(['--output', str(out)]) == 0
    assert gen_docs.main(['--check', '--output', str(out)]) == 0
    out.write_text(out.read_text().replace('HVS-IOMMU-01', 'HVS-IOMMU-0X', 1))
    assert gen_docs.main(['--check', '--output', str(out)]) == 1
