# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iommu and vfio roles' decisions (plugins/filter/role_plans.py) against facts in the schema of
docs/facts.md, with the role variables as the role_input lookup types them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hvsec.hypervisor.plugins.filter import role_plans
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog, evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
ROLES = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..', 'roles'))


FACTS = {
    'host': {'mem_total_kib': 1500000},
    'cpu': {'vendor': 'GenuineIntel', 'virt_extension': 'vmx', 'slat': 'ept', 'physical_cores': 2,
            'vulnerabilities': {'meltdown': 'Not affected', 'itlb_multihit': 'Not affected'}},
    'kvm': {'dev_kvm': True, 'modules': ['kvm', 'kvm_intel'], 'nested': True, 'nx_huge_pages': 'N'},
    'ksm': {'run': 1},
    'cmdline': {'args': [{'key': 'BOOT_IMAGE', 'value': '/vmlinuz'}, {'key': 'quiet', 'value': None},
                         {'key': 'iommu', 'value': 'pt'}]},
    'iommu': {'firmware_table': 'DMAR', 'vendor': 'intel', 'units': ['dmar0'], 'enabled': True,
              'groups': [{'id': 0, 'type': 'DMA-FQ', 'devices': []}, {'id': 1, 'type': 'DMA', 'devices': []}],
              'interrupt_remapping': True, 'interrupt_remapping_evidence': 'IR-PCI-MSI in /proc/interrupts'},
    'libvirt': {'installed': True,
                'domains': [{'name': 'big', 'running': True, 'vcpus': 4, 'memory_kib': 2000000},
                            {'name': 'off', 'running': False, 'vcpus': 1, 'memory_kib': 9000000}]},
}


def variables(role, **overrides):
    with open(os.path.join(ROLES, role, 'defaults', 'main.yml')) as f:
        result = yaml.safe_load(f)
    result.update(overrides)
    return result


def role_input(role, given):
    """_hvsec_<role>_in as the role's lookup('hvsec.hypervisor.role_input', role) sets it: the role
    variables converted to their argument spec types."""
    with open(os.path.join(ROLES, role, 'meta', 'argument_specs.yml')) as f:
        options = yaml.safe_load(f)['argument_specs']['main']['options']
    result = ArgumentSpecValidator(options).validate(dict((k, v) for k, v in given.items() if k in options))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def plan(facts, run_tags=None, skip_tags=None, **overrides):
    return role_plans.iommu_plan(role_input('iommu', variables('iommu', **overrides)), facts,
                                 ['all'] if run_tags is None else run_tags, skip_tags or [])


def verify(facts, d, **overrides):
    return role_plans.iommu_verify_problems(d, facts, role_input('iommu', variables('iommu', **overrides)))


# ------------------------------------------------------------------------------------- iommu
def test_strict_intel():
    d = plan(FACTS)
    assert d['vendor'] == 'intel'
    assert d['present'] == ['intel_iommu=on', 'iommu.strict=1', 'iommu.passthrough=0', 'efi=disable_early_pci_dma']
    assert set(['iommu=off', 'intel_iommu=off', 'amd_iommu=off', 'iommu=pt', 'pcie_acs_override',
                'kvm.nx_huge_pages=off']) <= set(d['absent'])
    assert d['ksm'] == {'wanted': True, 'run': 1}
    assert d['nested']['wanted_off'] is True and d['nested']['modules'] == ['kvm_intel']
    assert d['running_guests'] == ['big']
    ev = d['evidence']
    assert [ev['HVS-IOMMU-%02d' % n]['status'] for n in (1, 2, 3, 4, 9, 11)] == ['pass'] * 6
    assert ev['HVS-IOMMU-16']['status'] == 'fail' and 'big' in ev['HVS-IOMMU-16']['detail']
    assert ev['HVS-IOMMU-17']['status'] == 'fail'     # 2000000 KiB running > 1500000 KiB host


def test_evidence_is_the_audit_verdict():
    """The audit-only evidence is the audit engine's (status, evidence) of each control no role
    variable remediates, and only of those."""
    facts = copy.deepcopy(FACTS)
    facts['cpu']['vulnerabilities']['mds'] = 'Vulnerable: Clear CPU buffers attempted, no microcode'
    facts['iommu']['interrupt_remapping'] = None
    ev = plan(facts)['evidence']
    audit_only = [c for c in catalog.controls_for_area('iommu') if c['variable'] is None]
    assert sorted(ev) == sorted(c['id'] for c in audit_only) == [
        'HVS-IOMMU-%02d' % n for n in (1, 2, 3, 4, 9, 11, 16, 17)]
    for control in audit_only:
        status, detail = evaluate.evaluate_one(control, facts, {})
        assert ev[control['id']] == {'status': status, 'detail': detail}
    assert ev['HVS-IOMMU-11']['status'] == 'fail' and 'mds' in ev['HVS-IOMMU-11']['detail']
    assert ev['HVS-IOMMU-09']['status'] == 'error'


def test_amd_passthrough_nosmt_and_waiver():
    facts = copy.deepcopy(FACTS)
    facts['iommu'].update({'firmware_table': 'IVRS', 'vendor': 'amd'})
    facts['cpu']['vendor'] = 'AuthenticAMD'
    d = plan(facts, hvsec_iommu_policy='passthrough', hvsec_iommu_nosmt=True,
             hvsec_waivers=[{'id': 'HVS-IOMMU-10', 'reason': 'no EFI'}])
    assert d['vendor'] == 'amd'
    assert d['present'] == ['iommu=pt', 'mitigations=auto,nosmt']
    assert 'iommu=pt' not in d['absent'] and 'amd_iommu=off' in d['absent']
    assert 'HVS-IOMMU-10' not in d['cmdline_controls']


def test_an_expired_waiver_no_longer_skips_its_control():
    facts = copy.deepcopy(FACTS)
    facts['iommu'].update({'firmware_table': 'IVRS', 'vendor': 'amd'})
    facts['cpu']['vendor'] = 'AuthenticAMD'
    d = plan(facts, hvsec_iommu_policy='passthrough',
             hvsec_waivers=[{'id': 'HVS-IOMMU-10', 'reason': 'no EFI', 'expires': '2000-01-01'}])
    assert 'HVS-IOMMU-10' in d['cmdline_controls']


def test_tags_limit_the_request():
    d = plan(FACTS, run_tags=['HVS-IOMMU-06'])
    assert d['present'] == [] and d['absent'] == ['iommu=off', 'intel_iommu=off', 'amd_iommu=off']
    assert d['ksm']['wanted'] is False
    d = plan(FACTS, skip_tags=['HVS-IOMMU-13'])
    assert d['ksm']['wanted'] is False and d['present']


def test_manage_cmdline_off():
    d = plan(FACTS, hvsec_iommu_manage_cmdline=False)
    assert d['present'] == [] and d['absent'] == [] and d['cmdline_controls'] == []


def test_the_kernel_arguments_are_the_catalog_rules():
    """Every argument of the request is one a catalog rule of its control lists."""
    d = plan(FACTS)
    stated = {}
    for control in catalog.controls_for_area('iommu'):
        for rule in control['kernel_args']:
            for arg in rule.get('present', []) + rule.get('absent', []):
                stated.setdefault(arg, set()).add(control['id'])
    assert d['present'] and d['absent']
    for arg in d['present'] + d['absent']:
        assert stated[arg] & set(d['cmdline_controls'])


@pytest.mark.parametrize('text', ['false', 'no', '0', 'off'])
def test_booleans_given_as_text(text):
    """-e hvsec_iommu_nosmt=false (text) asks for no nosmt; -e hvsec_iommu_nested=false keeps nested off."""
    d = plan(FACTS, hvsec_iommu_nosmt=text, hvsec_iommu_nested=text, hvsec_iommu_ksm_disable=text)
    assert d == plan(FACTS, hvsec_iommu_nosmt=False, hvsec_iommu_nested=False, hvsec_iommu_ksm_disable=False)
    assert 'mitigations=auto,nosmt' not in d['present']
    assert d['nested']['wanted_off'] is True and d['ksm']['wanted'] is False


@pytest.mark.parametrize('policy', ['strict', 'passthrough'])
def test_verify(policy):
    d = plan(FACTS, hvsec_iommu_policy=policy)
    problems = verify(FACTS, d, hvsec_iommu_policy=policy)
    if policy == 'strict':
        assert '/proc/cmdline lacks iommu.strict=1' in problems
        assert '/proc/cmdline still has iommu=pt' in problems
        assert any('not of type DMA' in p for p in problems)
    else:
        assert not any('iommu=pt' in p or 'type DMA' in p for p in problems)
    good = copy.deepcopy(FACTS)
    good['cmdline']['args'] = [{'key': 'quiet', 'value': None}] + [
        {'key': w.split('=', 1)[0], 'value': w.split('=', 1)[1]} for w in d['present']]
    good['iommu']['groups'] = [{'id': 0, 'type': 'DMA' if policy == 'strict' else 'identity', 'devices': []}]
    assert verify(good, d, hvsec_iommu_policy=policy) == []
    good['iommu']['interrupt_remapping'] = False
    assert verify(good, d, hvsec_iommu_policy=policy) == [
        'interrupt remapping is off (IR-PCI-MSI in /proc/interrupts)']
    assert verify(good, d, hvsec_iommu_policy=policy, hvsec_waivers=[{'id': 'HVS-IOMMU-09', 'reason': 'old board'}]) == []
