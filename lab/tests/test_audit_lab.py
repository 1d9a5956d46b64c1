# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit on the lab, for either IOMMU variant (Intel VT-d in the Molecule scenario, AMD-Vi in
lab/run-lab-amd.sh): every control gets a verdict from the one facts call, and the IOMMU
controls see the vendor's firmware table and units that sysfs shows."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile

from conftest import run_ansible


def test_audit_verdicts_match_the_emulated_iommu(host, lab):
    units = host.check_output('ls /sys/class/iommu').split()
    amd = any(u.startswith('ivhd') for u in units)
    assert amd == (lab.get('IOMMU') == 'amd') or not lab.get('IOMMU')
    d = tempfile.mkdtemp(prefix='hvsec-lab-audit-')
    rc, dummy, out = run_ansible(playbook='- import_playbook: hvsec.hypervisor.audit\n',
                                 extra={'hvsec_audit_report_dir': d})
    assert rc == 0, out[-3000:]
    with open(os.path.join(d, 'audit.json')) as f:
        (name, data), = json.load(f)['hosts'].items()
    controls = dict((c['id'], c) for c in data['controls'])
    assert len(controls) >= 40
    assert [c for c in controls.values() if c['status'] == 'error'] == []
    table = 'IVRS' if amd else 'DMAR'
    assert controls['HVS-IOMMU-04']['status'] == 'pass' and table in controls['HVS-IOMMU-04']['evidence']
    # IOMMU on in the running kernel: units and groups are there on both variants
    assert controls['HVS-IOMMU-05']['status'] == 'pass', controls['HVS-IOMMU-05']
    # both variants boot with intremap=on: IR-* interrupt chips, so interrupt remapping passes
    assert controls['HVS-IOMMU-09']['status'] == 'pass', controls['HVS-IOMMU-09']
    assert 'IR-' in host.check_output('cat /proc/interrupts')
    facts = host.ansible('hvsec.hypervisor.hypervisor_facts', 'gather=iommu', check=True)['ansible_facts']['hvsec']
    assert facts['iommu']['firmware_table'] == table
    assert facts['iommu']['vendor'] == ('amd' if amd else 'intel')
    assert sorted(facts['iommu']['units']) == sorted(units)
