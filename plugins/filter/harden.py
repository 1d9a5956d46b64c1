# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``harden_needed``: whether a role task serving some controls runs under the role's plan
(``hvsec.hypervisor.harden_plan``)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.harden import needed


def harden_needed(work, ids):
    """True when any of ``ids`` is on the plan's to-do list (or the run is full)."""
    if not isinstance(ids, (list, tuple, str)):
        raise AnsibleFilterError('harden_needed: ids must be a list of control IDs, got %s' % type(ids).__name__)
    return needed(work, list(ids) if not isinstance(ids, str) else ids)


class FilterModule(object):
    def filters(self):
        return {'harden_needed': harden_needed}
