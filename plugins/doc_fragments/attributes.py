# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Check mode and diff mode support, stated once for the collection's modules.

    A module that describes an attribute in its own words keeps its ``description`` in its
    DOCUMENTATION; the ``support`` level comes from here.
    """

    # A module that changes the host: it predicts every change in check mode and shows it in diff mode.
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
'''

    # A module that only reads the host or the controller: check mode changes nothing, there is no diff.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode; the module changes nothing in either mode.
    support: full
  diff_mode:
    description: The module changes nothing, so there is nothing to show in diff mode.
    support: none
'''

    # An action that runs on the controller only (with action_common_attributes): it never contacts
    # the managed host. Each module states its own check_mode details.
    CONTROLLER_ACTION = r'''
options: {}
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  connection:
    support: none
  delegation:
    support: none
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
'''
