#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: harden_plan
short_description: Choose the controls of one area a hardening role works on, by the audit's judgement
description:
  - Judges the controls of one area against C(ansible_facts.hvsec) with the audit's own engine and
    settings (the roles' defaults overlaid with the host's C(hvsec_*) variables, waivers included)
    and returns the controls a role must work on in RV(todo) - every control of the area that is not
    V(pass), V(waived) or V(not_applicable) (V(fail), V(error) or without a result).
  - Returns every control of the area (a full run) when O(full) is true, when the facts were not
    gathered in this run by a facts task of this collection (facts from a fact cache could hide drift),
    or when O(input) differs from the variables the role's last completed run on this host applied
    (recorded on the controller under C($HVSEC_HARDEN_STATE_DIR), default
    C(~/.cache/hvsec.hypervisor/harden-state); none recorded counts as different).
  - With O(record) it records O(input) as what the role's run applied to this host instead (nothing in
    check mode); the roles do so as their last task of a run without a tag selection.
  - Runs entirely on the controller (action plugin); it never contacts the managed host. The roles
    gate their tasks with P(hvsec.hypervisor.harden_needed#filter).
version_added: 0.2.0
options:
  area:
    description: The area of the role (C(iommu), C(vfio), C(vswitch), C(mgmt_plane)).
    type: str
    required: true
    choices: [iommu, vfio, vswitch, mgmt_plane]
  full:
    description: Work on every control of the area, whatever the audit judges (C(hvsec_harden_full)).
    type: bool
    default: false
  input:
    description:
      - The role's variables as it read them (C(_hvsec_<role>_in)). Without it the recorded variables
        are not compared.
    type: dict
  record:
    description: Record O(input) as applied to this host by a completed run, instead of planning.
    type: bool
    default: false
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes.controller_action
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Read-only; the same result in check mode, so C(--check) predicts the skipping run.
seealso:
  - module: hvsec.hypervisor.audit_evaluate
'''

EXAMPLES = r'''
- name: Choose the controls to work on
  hvsec.hypervisor.harden_plan:
    area: iommu
    full: "{{ _hvsec_iommu_in.hvsec_harden_full }}"
    input: "{{ _hvsec_iommu_in }}"
  register: _hvsec_work_iommu

- name: HVS-IOMMU-13 | Keep KSM off
  ansible.builtin.command: /bin/true
  when: _hvsec_work_iommu | hvsec.hypervisor.harden_needed(['HVS-IOMMU-13'])

- name: Record the variables this run applied
  hvsec.hypervisor.harden_plan:
    area: iommu
    input: "{{ _hvsec_iommu_in }}"
    record: true
'''

RETURN = r'''
todo:
  description: IDs of the area's controls to work on, in catalog order.
  returned: unless O(record)
  type: list
  elements: str
  sample: [HVS-IOMMU-13]
full:
  description: Whether this is a full run (every control of the area in RV(todo)).
  returned: success
  type: bool
reason:
  description: Why the run is full, or how many controls are skipped.
  returned: success
  type: str
statuses:
  description: The audit's status of each control of the area (empty in a full run that judged nothing).
  returned: success
  type: dict
  sample: {HVS-IOMMU-13: fail, HVS-IOMMU-14: pass}
fresh:
  description: Whether C(ansible_facts.hvsec) was gathered in this run.
  returned: success
  type: bool
same_input:
  description: Whether O(input) equals the variables recorded for the role's last completed run on this host.
  returned: success
  type: bool
recorded:
  description: Whether O(record) recorded O(input) (false in check mode).
  returned: with O(record)
  type: bool
facts_digest:
  description: Digest of the facts judged (null unless RV(fresh)); a later plan in the run with the same facts is fresh too.
  returned: success
  type: str
area:
  description: The area.
  returned: success
  type: str
msg:
  description: One-line summary for the console.
  returned: always
  type: str
'''
