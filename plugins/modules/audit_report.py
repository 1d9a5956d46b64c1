#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: audit_report
short_description: Write the hvsec audit reports (JSON, Markdown, JUnit, HTML, OSCAL) on the controller
description:
  - Collects the registered M(hvsec.hypervisor.audit_evaluate) result of every host of the play and writes
    C(audit.json), C(audit.md), C(audit.junit.xml) and the self-contained C(audit.html) (with the trend
    since the previous audit) into O(report_dir) on the controller.
  - With O(evaluate=true) it evaluates every host itself instead, in this one task, from each host's
    C(ansible_facts.hvsec) and C(hvsec_*) variables, exactly as M(hvsec.hypervisor.audit_evaluate) would,
    so no per-host evaluation task is needed. The audit playbook works this way (on 100 hosts the
    per-host tasks cost Ansible about 21 seconds).
  - Each file is written atomically (temporary file, then rename). An existing C(audit.json) is kept as
    C(audit.previous.json).
  - A host without an audit result (unreachable, facts failed) is reported with every control in status V(error)
    and listed with the reason under C(not_audited) in C(audit.json); the reports are written even when no host
    could be audited, and then say so in their first lines, so an older report never passes for this run's.
  - With O(merge), it merges the reports of the slices of a sliced run into one instead (see
    C(playbooks/audit_merge.yml)).
  - Prints one summary line per host on the console.
  - Run it once per play (C(run_once)); it never contacts a managed host.
version_added: 0.1.0
options:
  report_dir:
    description:
      - Directory on the controller for the reports; relative paths are relative to the current working directory.
    type: path
    default: reports
  var:
    description:
      - Name of the variable each host registered the M(hvsec.hypervisor.audit_evaluate) result in.
    type: str
    default: hvsec_audit
  hosts:
    description:
      - Hosts to report. Defaults to every host of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
  quiet:
    description:
      - Do not print the per-host summary.
    type: bool
    default: false
  evaluate:
    description:
      - Evaluate every host of O(hosts) here instead of reading O(var).
      - Only the hosts that are still active in the play (C(ansible_play_hosts)) are evaluated, so a host
        whose facts task failed is reported with every control as V(error), never from facts an older run
        left in the fact cache.
      - Settings are, per host, the roles' defaults overlaid with the host's C(hvsec_*) variables (inventory,
        group and host variables, extra variables, facts set earlier). C(hvsec_*) variables of the play (or
        of this task) that the host running this task sees apply to every host.
      - A host whose waivers, settings or gate level are wrong is refused. It is reported with every control
        as V(error), its message is returned in RV(refused), and the other hosts are still evaluated.
    type: bool
    default: false
  fail_on:
    description:
      - With O(evaluate=true), the severity floor of the gate for every host. When omitted, each host's
        C(hvsec_audit_fail_on) variable (default V(none)).
      - The gate never fails this task. Failed controls at or above it are returned in RV(gate_failures) and
        the hosts in RV(failed_hosts).
    type: str
    choices: [none, low, medium, high, critical]
  oscal:
    description:
      - Also write C(audit.oscal.json), the run as OSCAL assessment results (one result, an observation per host
        and control with its evidence, a finding per failed control, waivers as properties of their
        observations), built and validated with compliance-trestle's OSCAL models.
      - Needs the Python package C(compliance-trestle) on the controller (it is in the collection's
        C(requirements.txt)); it is imported only when this is V(true). Without it the task fails before
        anything is written.
    type: bool
    default: false
  facts_var:
    description:
      - With O(evaluate=true), the variable each host registered its M(hvsec.hypervisor.hypervisor_facts) result
        in. A host whose result there is unreachable, failed or missing is not evaluated (every control
        V(error), the reason in RV(not_audited)); the unreachable ones are listed in RV(unreachable_hosts).
      - This lets the facts task run with C(ignore_unreachable) and C(ignore_errors), so that the reports are
        written even when no host could be audited.
    type: str
  slice:
    description:
      - Label of this run's slice when the inventory is split into slices run apart (AWX job slicing,
        C(--limit) slices). Written as C(slice) in C(audit.json) and in the first lines of the other reports.
    type: str
  merge:
    description:
      - Merge the C(audit.json) of the slices of one run into one fleet report in O(report_dir) instead of
        reporting the play's hosts. Slice report directories, C(audit.json) files, or globs of either.
      - The result has the same content as one unsliced run of the same hosts, and C(merged_from) (each
        slice's label, time and file). A host found in two slices is an error.
    type: list
    elements: str
  outcome:
    description:
      - The registered result of the reporting task (O(evaluate=true)). In this mode the task reports only
        the current host's verdict, for a play over RV(failed_hosts), and writes nothing. V(unreachable) when
        its facts task could not reach it (C(ansible-playbook) then exits 4), failed with the reason when it
        was not audited otherwise, its settings were refused or its gate tripped (exit 2).
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
    details: The reports are written on the controller in check mode too; no managed host is changed.
seealso:
  - module: hvsec.hypervisor.audit_evaluate
'''

EXAMPLES = r'''
- name: Write the reports once for all hosts (each registered hvsec_audit from audit_evaluate)
  hvsec.hypervisor.audit_report:
    report_dir: /var/tmp/hvsec-reports
  run_once: true
  delegate_to: localhost

- name: Evaluate every host and write the reports in one task (after hypervisor_facts)
  hvsec.hypervisor.audit_report:
    evaluate: true
    report_dir: /var/tmp/hvsec-reports
  run_once: true
  delegate_to: localhost
  register: hvsec_audit_run

- name: Merge the reports of a sliced run into one fleet report
  hvsec.hypervisor.audit_report:
    merge: [reports/slices/*]
    report_dir: reports/fleet
  run_once: true
  delegate_to: localhost
'''

RETURN = r'''
files:
  description: Paths written (keys json, markdown, junit, html, oscal with O(oscal=true) and, when an older report
    existed, previous).
  returned: success
  type: dict
  sample: {json: /work/reports/audit.json, markdown: /work/reports/audit.md, junit: /work/reports/audit.junit.xml}
hosts:
  description: Status counts per host.
  returned: success
  type: dict
summary_lines:
  description: The per-host console summary lines.
  returned: success
  type: list
  elements: str
msg:
  description: Where the reports were written.
  returned: always
  type: str
refused:
  description: With O(evaluate=true), the hosts whose input was refused and why.
  returned: success and O(evaluate=true)
  type: dict
  sample: {hv02: "waivers: waivers[0].id HVS-NOPE-99 is not a known control ID"}
gate_failures:
  description: With O(evaluate=true), per host whose gate tripped, the failed control IDs at or above its gate level.
  returned: success and O(evaluate=true)
  type: dict
  sample: {hv01: [HVS-VSW-01, HVS-MGMT-18]}
fail_on:
  description: With O(evaluate=true), the gate level applied to each evaluated host.
  returned: success and O(evaluate=true)
  type: dict
  sample: {hv01: high, hv03: high}
not_audited:
  description: The hosts that could not be audited in this run (unreachable, facts failed, settings refused), with
    the reason; the same mapping as C(not_audited) in C(audit.json).
  returned: success
  type: dict
  sample: {hv07: "host unreachable: Failed to connect to the host via ssh: Connection refused"}
unreachable_hosts:
  description: The hosts whose facts task could not reach them (with O(facts_var)), sorted.
  returned: success
  type: list
  elements: str
failed_hosts:
  description: With O(evaluate=true), the hosts in RV(refused), RV(gate_failures) or RV(not_audited), sorted.
  returned: success and O(evaluate=true)
  type: list
  elements: str
'''
