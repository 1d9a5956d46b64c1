#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: audit_evaluate
short_description: Evaluate every hvsec control against the gathered hypervisor facts
description:
  - Evaluates every control of the collection's catalog (65 controls across the areas iommu, vfio,
    vswitch and mgmt_plane) against C(ansible_facts.hvsec) as returned by M(hvsec.hypervisor.hypervisor_facts).
  - Runs entirely on the controller (action plugin); it never contacts the managed host.
  - Each control gets a status V(pass), V(fail), V(not_applicable), V(waived) or V(error) (evidence unreadable)
    and a one-line evidence string.
  - Settings are the roles' defaults (read from C(roles/*/defaults/main.yml) of this collection) overlaid
    with the host's C(hvsec_*) variables.
version_added: 0.1.0
options:
  facts:
    description:
      - The facts to evaluate. Defaults to C(ansible_facts.hvsec) of the host.
    type: dict
  waivers:
    description:
      - Controls to waive, each with a reason. Defaults to the C(hvsec_waivers) variable.
      - Each item is C({id, reason}) with the optional C(approved_by), C(ticket) and C(expires) (a date
        C(YYYY-MM-DD), the last day the waiver holds; the controller's local date decides). An expired waiver
        no longer applies; a waiver on a control that passes or does not apply is reported as unneeded.
      - A waiver naming an unknown control ID is an error, raised before anything is evaluated.
    type: list
    elements: dict
  fail_on:
    description:
      - Severity floor of the gate. Failed controls at or above it are returned in RV(gate_failures).
      - V(none) disables the gate.
    type: str
    choices: [none, low, medium, high, critical]
    default: none
  enforce:
    description:
      - Fail the task when RV(gate_failures) is not empty. The audit playbook leaves this off and
        applies the gate after the reports are written.
    type: bool
    default: false
  settings:
    description:
      - Extra C(hvsec_*) variables overriding role defaults and host variables (mainly for tests).
    type: dict
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes.controller_action
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Read-only; behaves the same in check mode.
seealso:
  - module: hvsec.hypervisor.hypervisor_facts
  - module: hvsec.hypervisor.audit_report
'''

EXAMPLES = r'''
- name: Gather the facts (the only remote call)
  hvsec.hypervisor.hypervisor_facts:

- name: Evaluate every control
  hvsec.hypervisor.audit_evaluate:
    fail_on: high
    waivers:
      - id: HVS-MGMT-18
        reason: Perimeter firewall owned by the network team (ticket NET-42)
  register: hvsec_audit
'''

RETURN = r'''
results:
  description: One entry per catalog control, in catalog order.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Control ID.
      type: str
      sample: HVS-IOMMU-05
    title:
      description: Control title.
      type: str
    area:
      description: Area (iommu, vfio, vswitch, mgmt_plane).
      type: str
    severity:
      description: low, medium, high or critical.
      type: str
    status:
      description: pass, fail, not_applicable, waived or error.
      type: str
    evidence:
      description: One-line evidence. For waived controls, the reason and what the evaluation found.
      type: str
      sample: "1 IOMMU unit(s) (dmar0), 7 group(s)"
    reboot:
      description: Whether fixing the control needs a reboot.
      type: bool
    waiver:
      description:
        - Only for a control with a waiver. Its V(reason), V(approved_by), V(ticket), V(expires) (ISO date or
          null) and V(state) - V(active) (the control is V(waived)), V(expired) (after its expiry date the control
          is judged as without it) or V(unneeded) (the control passes or does not apply without it).
      type: dict
      returned: when the control has a waiver
      sample: {reason: perimeter firewall, approved_by: Jane Doe, ticket: SEC-1234, expires: '2026-12-31', state: active}
summary:
  description: Count of controls per status.
  returned: success
  type: dict
  sample: {pass: 30, fail: 10, not_applicable: 20, waived: 1, error: 4}
gate_failures:
  description: IDs of failed controls at or above O(fail_on).
  returned: success
  type: list
  elements: str
  sample: [HVS-MGMT-08]
fail_on:
  description: The gate's severity floor.
  returned: success
  type: str
msg:
  description: One-line summary for the console.
  returned: always
  type: str
'''
