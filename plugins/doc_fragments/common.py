# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """What every module of the collection states the same way: its authors."""

    DOCUMENTATION = r'''
options: {}
author:
  - hvsec.hypervisor contributors (@hvsec)
'''
