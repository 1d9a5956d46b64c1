# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts module -> evaluators, end to end on the facts module's fixture host trees.

The fixture roots (Intel VT-d, AMD-Vi, no IOMMU with broken configs, iommu=pt) are gathered
by the real ``hvfacts.gather_facts`` and then evaluated, so the evaluators are checked against
what the producer really emits, not only against hand-written fact dicts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft


@pytest.fixture(scope='module')
def audited(tmp_path_factory):
    out = {}
    for name in ('intel_vtd', 'amd_vi', 'no_iommu', 'iommu_pt'):
        root = ft.build_root(name, tmp_path_factory.mktemp(name))
        facts = hvfacts.gather_facts(root, ft.fake_runner(name), ft.fake_bin_path(name), euid=0)
        out[name] = dict((r['id'], r) for r in ev.evaluate(facts, {}, []))
    return out


def _status(audited, host, cid):
    return audited[host][cid]['status'], audited[host][cid]['evidence']


@pytest.mark.parametrize('host', ['intel_vtd', 'amd_vi', 'no_iommu', 'iommu_pt'])
def test_every_control_evaluated_once(audited, host):
    assert sorted(audited[host]) == sorted(c['id'] for c in CONTROLS)


@pytest.mark.parametrize('host,cid,status,fragment', [
    # IOMMU platform
    ('intel_vtd', 'HVS-IOMMU-04', 'pass', 'DMAR'),
    ('amd_vi', 'HVS-IOMMU-04', 'pass', 'IVRS'),
    ('no_iommu', 'HVS-IOMMU-05', 'fail', 'IOMMU not active'),
    ('no_iommu', 'HVS-IOMMU-06', 'fail', 'intel_iommu=off'),
    ('no_iommu', 'HVS-IOMMU-08', 'fail', 'pcie_acs_override'),
    ('iommu_pt', 'HVS-IOMMU-07', 'fail', 'iommu=pt'),
    ('amd_vi', 'HVS-IOMMU-07', 'fail', 'DMA-FQ'),
    ('no_iommu', 'HVS-IOMMU-13', 'fail', 'ksm run=1'),
    ('no_iommu', 'HVS-IOMMU-11', 'fail', 'mds (Vulnerable'),
    # VFIO / SR-IOV
    ('no_iommu', 'HVS-VFIO-01', 'fail', 'allow_unsafe_interrupts'),
    ('no_iommu', 'HVS-VFIO-07', 'fail', 'IOMMU not enabled'),
    ('intel_vtd', 'HVS-VFIO-09', 'fail', 'eth1 vf 1 spoofchk False'),
    ('intel_vtd', 'HVS-VFIO-08', 'fail', 'cap 0'),
    # vswitch
    ('intel_vtd', 'HVS-VSW-05', 'fail', 'ptcp:6640'),
    ('no_iommu', 'HVS-VSW-05', 'error', 'database connection failed'),
    # management plane
    ('intel_vtd', 'HVS-MGMT-01', 'fail', 'auth_tcp=none'),
    ('intel_vtd', 'HVS-MGMT-05', 'fail', '0.0.0.0'),
    # a malformed qemu.conf is error evidence on the qemu.conf controls, never a traceback
    ('no_iommu', 'HVS-MGMT-08', 'error', 'qemu.conf: line 8: unterminated list'),
    ('no_iommu', 'HVS-MGMT-10', 'error', 'qemu.conf: line 8'),
    # an unparsable domain XML is error evidence on the domain controls
    ('no_iommu', 'HVS-VSW-10', 'error', 'broken.xml'),
    # unreadable tool output
    ('amd_vi', 'HVS-MGMT-13', 'error', 'sshd -T failed'),
    ('amd_vi', 'HVS-MGMT-18', 'error', 'permission denied'),
])
def test_fixture_host_findings(audited, host, cid, status, fragment):
    got, evidence = _status(audited, host, cid)
    assert got == status, evidence
    assert fragment in evidence


def test_no_evaluator_crashes_on_producer_output(audited):
    for host, results in audited.items():
        for cid, r in results.items():
            assert 'evaluation failed on malformed facts' not in r['evidence'], (host, cid, r['evidence'])
