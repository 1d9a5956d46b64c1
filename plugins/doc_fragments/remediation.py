# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Options shared by the modules that remediate a set of controls."""

    # Waiving controls: every remediation module reports a waived control and leaves it alone.
    DOCUMENTATION = r'''
options:
  skip_controls:
    description: Control IDs not to remediate (waived).
    type: list
    elements: str
    default: []
'''

    # Persisting the runtime settings through systemd units.
    SYSTEMD_UNITS = r'''
options:
  unit_dir:
    description: systemd unit directory.
    type: path
    default: /etc/systemd/system
'''
