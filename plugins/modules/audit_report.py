#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: audit_report
short_description: Write the hvsec audit reports (JSON, Markdown, JUnit) on the controller
description:
  - Collects the registered M(hvsec.hypervisor.audit_evaluate) result of every host of the play and writes
    C(audit.json), C(audit.md), C(audit.junit.xml) and the self-contained C(audit.html) (with the trend
    since the previous audit) into O(report_dir) on the controller.
  - Each file is written atomically (temporary file, then rename). An existing C(audit.json) is kept as
    C(audit.previous.json).
  - A host without an audit result (unreachable, facts failed) is reported with every control in status V(error).
  - Prints one summary line per host on the console.
  - Run it once per play (C(run_once)); it never contacts a managed host.
version_added: 0.1.0
author:
  - hvsec.hypervisor contributors (@hvsec)
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
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The reports are written on the controller in check mode too; no managed host is changed.
  connection:
    support: none
  delegation:
    support: none
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
seealso:
  - module: hvsec.hypervisor.audit_evaluate
'''

EXAMPLES = r'''
- name: Write the reports once for all hosts
  hvsec.hypervisor.audit_report:
    report_dir: /var/tmp/hvsec-reports
  run_once: true
  delegate_to: localhost
'''

RETURN = r'''
files:
  description: Paths written (keys json, markdown, junit, html and, when an older report existed, previous).
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
'''
