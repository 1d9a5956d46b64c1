# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/mutation.py: mutants are counted under the file they mutate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import mutation  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = 'ansible_collections.hvsec.hypervisor.plugins.plugin_utils.'


def test_function_and_method_mutants_belong_to_their_module():
    assert mutation.module_of(PREFIX + 'eval_iommu.x_ksm_off__mutmut_3') == 'eval_iommu'
    assert mutation.module_of(PREFIX + 'eval_common.x\u01c1Unknown\u01c1__init____mutmut_1') == 'eval_common'
    assert mutation.module_of(PREFIX + 'catalog.x__check_kernel_args__mutmut_20') == 'catalog'
    assert mutation.module_of('unparsable') == 'unparsable'
