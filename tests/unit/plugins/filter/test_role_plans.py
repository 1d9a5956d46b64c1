# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iommu and vfio roles' decisions (plugins/filter/role_plans.py) against facts in the schema of
docs/facts.md, with the role variables as the role_input lookup types them.

The ``reference/*.j2`` files are the Jinja programs these filters replace, kept here as an oracle:
the comparison tests render them with Ansible's own Templar (they need the collection loader for
their ``hvsec.hypervisor.waived_ids`` filter: ansible-test units) and require the same decisions.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import itertools
import json
import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader import AnsibleCollectionConfig

from ansible_collections.hvsec.hypervisor.plugins.filter import role_plans
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog, evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
ROLES = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..', 'roles'))
REFERENCE = os.path.join(HERE, 'reference')

needs_loader = pytest.mark.skipif(AnsibleCollectionConfig.collection_finder is None,
                                  reason='the reference templates need the collection loader: run with ansible-test units (make units)')

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


def render(name, context):
    """A reference template rendered as the role rendered it (JSON parsed back)."""
    templar = Templar(loader=DataLoader(), variables=context)
    with open(os.path.join(REFERENCE, name)) as f:
        result = templar.template(trust_as_template(f.read()))
    return json.loads(result) if isinstance(result, str) else result


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


def _vendor_facts(kind):
    facts = copy.deepcopy(FACTS)
    if kind == 'amd':
        facts['iommu'].update({'firmware_table': 'IVRS', 'vendor': 'amd'})
        facts['cpu']['vendor'] = 'AuthenticAMD'
    elif kind == 'hygon-cpu-only':
        del facts['iommu']['vendor'], facts['iommu']['firmware_table']
        facts['cpu']['vendor'] = 'HygonGenuine'
    elif kind == 'unknown':
        facts['iommu'] = {}
        facts['cpu']['vendor'] = 'SomethingElse'
    return facts


BOOLS = ('hvsec_iommu_manage_cmdline', 'hvsec_iommu_early_dma_protection', 'hvsec_iommu_nosmt', 'hvsec_iommu_ksm_disable',
         'hvsec_iommu_nested', 'hvsec_iommu_nx_huge_pages_enforce')
SELECTIONS = [
    (['all'], [], []),
    (['iommu'], [], []),
    (['HVS-IOMMU-07', 'HVS-IOMMU-15'], [], []),
    (['HVS-IOMMU-05', 'vfio'], ['HVS-IOMMU-06'], []),
    (['all'], ['HVS-IOMMU-07', 'HVS-IOMMU-13'], []),
    (['all'], [], [{'id': 'HVS-IOMMU-05', 'reason': 'r'}, {'id': 'HVS-IOMMU-12', 'reason': 'r'}]),
    (['all'], [], [{'id': 'HVS-IOMMU-15', 'reason': 'r', 'expires': '2000-01-01'}, {'id': 'HVS-IOMMU-08', 'reason': 'r'}]),
]


def _cases():
    for kind, vendor, policy in itertools.product(('intel', 'amd', 'hygon-cpu-only', 'unknown'), ('auto', 'intel', 'amd'),
                                                  ('strict', 'passthrough')):
        for flip in (None,) + BOOLS:
            yield kind, dict([('hvsec_iommu_vendor', vendor), ('hvsec_iommu_policy', policy)]), flip, SELECTIONS[0]
    for selection in SELECTIONS[1:]:
        for flip in (None, 'hvsec_iommu_nosmt'):
            yield 'intel', {}, flip, selection


@needs_loader
def test_the_plan_equals_the_reference_template():
    """Kernel arguments (in order), controls and runtime settings equal the reference derive.j2 for
    every vendor, policy, boolean, waiver and tag selection below; the evidence is the audit's."""
    count = 0
    for kind, given, flip, (run_tags, skip_tags, waivers) in _cases():
        facts = _vendor_facts(kind)
        given = dict(given, hvsec_waivers=waivers)
        if flip:
            given[flip] = not variables('iommu')[flip]
        inp = role_input('iommu', variables('iommu', **given))
        ours = role_plans.iommu_plan(inp, facts, run_tags, skip_tags)
        old = render('iommu_derive.j2', {'_hvsec_iommu_in': inp, '_hvsec_iommu_hv': facts,
                                         'ansible_run_tags': run_tags, 'ansible_skip_tags': skip_tags})
        case = (kind, given, run_tags, skip_tags)
        for key in old:
            if key != 'evidence':
                assert ours[key] == old[key], (key, case)
        assert sorted(ours['evidence']) == sorted(old['evidence']), case
        count += 1
    assert count == 4 * 3 * 2 * (len(BOOLS) + 1) + 2 * (len(SELECTIONS) - 1)


@needs_loader
@pytest.mark.parametrize('policy', ['strict', 'passthrough'])
@pytest.mark.parametrize('variant', ['as_is', 'good', 'no_groups', 'ir_off', 'ir_unknown', 'dashes', 'untyped_group'])
@pytest.mark.parametrize('waive_ir', [False, True])
def test_verify_equals_the_reference_template(policy, variant, waive_ir):
    facts = copy.deepcopy(FACTS)
    given = variables('iommu', hvsec_iommu_policy=policy,
                      hvsec_waivers=[{'id': 'HVS-IOMMU-09', 'reason': 'r'}] if waive_ir else [])
    inp = role_input('iommu', given)
    d = role_plans.iommu_plan(inp, facts, ['all'], [])
    if variant == 'good':
        facts['cmdline']['args'] = [{'key': w.split('=', 1)[0], 'value': w.split('=', 1)[1]} for w in d['present']]
    elif variant == 'no_groups':
        facts['iommu']['groups'] = []
    elif variant == 'ir_off':
        facts['iommu'].update({'interrupt_remapping': False, 'interrupt_remapping_evidence': None})
    elif variant == 'ir_unknown':
        del facts['iommu']['interrupt_remapping']
    elif variant == 'dashes':
        facts['cmdline']['args'].append({'key': 'pcie-acs-override', 'value': 'downstream'})
        facts['cmdline']['args'].append({'key': 'intel_iommu', 'value': 'off'})
    elif variant == 'untyped_group':
        facts['iommu']['groups'].append({'id': 7, 'type': 'identity', 'devices': []})
    ours = role_plans.iommu_verify_problems(d, facts, inp)
    old = render('iommu_verify.j2', dict(given, _hvsec_iommu=d, _hvsec_iommu_hv=facts))
    assert ours == old
    if variant in ('no_groups', 'dashes') or (variant in ('ir_off', 'ir_unknown') and not waive_ir):
        assert ours


# -------------------------------------------------------------------------------------- vfio
VFIO_FACTS = {
    'pci': {'devices': [
        {'address': '0000:01:00.0', 'vendor': '0x8086', 'device': '0x10D3', 'driver': 'vfio-pci', 'net': [],
         'sriov_totalvfs': None, 'sriov_numvfs': None, 'iommu_group': 11, 'physfn': None},
        {'address': '0000:02:00.0', 'vendor': '0x15b3', 'device': '0x1017', 'driver': 'mlx5_core', 'net': ['ens2f0'],
         'sriov_totalvfs': 8, 'sriov_numvfs': 4, 'iommu_group': 12, 'physfn': None},
        {'address': '0000:03:00.0', 'vendor': '0x10de', 'device': '0x1eb8', 'driver': 'vfio-pci', 'net': [],
         'sriov_totalvfs': None, 'sriov_numvfs': None, 'iommu_group': 13, 'physfn': None},
        {'address': '0000:04:00.0', 'vendor': '0x8086', 'device': '0x1572', 'driver': 'i40e', 'net': ['ens4'],
         'sriov_totalvfs': 16, 'sriov_numvfs': 2, 'iommu_group': 14, 'physfn': None},
    ]},
    'iommu': {'enabled': True, 'interrupt_remapping': True, 'interrupt_remapping_evidence': 'IR-PCI-MSI'},
    'cmdline': {'args': [{'key': 'quiet', 'value': None}]},
    'libvirt': {'domains': [
        {'name': 'gpu', 'hostdevs': [{'type': 'pci', 'address': '0000:03:00.0'}, {'address': '0000:01:00.0'}]},
        {'name': 'usb', 'hostdevs': [{'type': 'usb', 'address': None}, {'type': 'pci', 'address': '0000:09:00.0'}]},
    ]},
}

SRIOV_RESULT = {'results': [
    {'item': {'pf': 'ens4'}, 'vfs': [{'vf': 0, 'address': '0000:04:02.0', 'iommu_group': 30, 'iommu_group_size': 1},
                                     {'vf': 1, 'address': '0000:04:02.1', 'iommu_group': 30, 'iommu_group_size': 3}]},
    {'item': {'pf': 'ens5'}, 'skipped': True},
]}


def vfio_input(**overrides):
    return role_input('vfio', variables('vfio', **overrides))


def test_vfio_plan():
    inp = vfio_input(hvsec_vfio_allowlist=[{'address': '01:00.0'}, {'id': '10DE:1EB8'}])
    state = role_plans.vfio_plan(inp, VFIO_FACTS, '192.0.2.10')
    assert state['allow_addrs'] == ['0000:01:00.0'] and state['allow_ids'] == ['10de:1eb8']
    assert state['by_addr']['0000:01:00.0']['id'] == '8086:10d3'
    assert state['unlisted'] == [] and state['iommu_problems'] == []
    assert state['protect_addresses'] == ['192.0.2.10']
    assert role_plans.vfio_plan(inp, VFIO_FACTS, 'hv1.example.org')['protect_addresses'] == []
    facts = copy.deepcopy(VFIO_FACTS)
    facts['iommu'] = {'enabled': False, 'interrupt_remapping': None}
    facts['cmdline']['args'].append({'key': 'pcie_acs_override', 'value': 'downstream'})
    state = role_plans.vfio_plan(vfio_input(hvsec_waivers=[{'id': 'HVS-VFIO-03', 'reason': 'r'}]), facts)
    assert state['unlisted'] == ['0000:01:00.0', '0000:03:00.0']
    assert state['unlisted_items'] == [{'address': '0000:01:00.0'}, {'address': '0000:03:00.0'}]
    assert state['iommu_problems'] == [
        'the IOMMU is not active in the running kernel', 'interrupt remapping is not active (no evidence)',
        'pcie_acs_override is on the running kernel command line, so IOMMU groups do not reflect real isolation']
    assert state['waived'] == ['HVS-VFIO-03']


def test_vfio_audit():
    inp = vfio_input(hvsec_vfio_allowlist=[{'address': '0000:01:00.0'}], hvsec_vfio_sriov=[{'pf': 'ens4', 'numvfs': 2}])
    facts = copy.deepcopy(VFIO_FACTS)
    facts['iommu']['interrupt_remapping'] = False
    state = role_plans.vfio_plan(inp, facts)
    audit = role_plans.vfio_audit(state, facts, inp, {'devices': [{'address': '0000:01:00.0', 'driver': 'vfio-pci'}]},
                                  {}, SRIOV_RESULT)
    assert audit['failures'] == [
        'HVS-VFIO-06: libvirt domain gpu references host device 0000:03:00.0 (10de:1eb8), which is not on hvsec_vfio_allowlist',
        'HVS-VFIO-06: libvirt domain usb references host device 0000:09:00.0, which is not on hvsec_vfio_allowlist',
        'HVS-VFIO-07: 0000:01:00.0, 0000:03:00.0 bound to vfio-pci but interrupt remapping is not active (IR-PCI-MSI)']
    assert audit['warnings'] == [
        'HVS-VFIO-03: bound to vfio-pci but not allow-listed: 0000:03:00.0 (set hvsec_vfio_release_unlisted: true to release them)',
        'HVS-VFIO-08: 0000:02:00.0 (ens2f0) has 4 VFs but no cap in hvsec_vfio_sriov (cap 0)',
        'HVS-VFIO-13: ens4 vf 1 (0000:04:02.1) shares IOMMU group 30 with 2 other device(s)']
    released = role_plans.vfio_audit(state, facts, inp, {}, {'devices': [{'address': '0000:03:00.0'}]}, {})
    assert not any(m.startswith('HVS-VFIO-03') for m in released['warnings'])
    waived = vfio_input(hvsec_vfio_allowlist=[{'address': '0000:01:00.0'}],
                        hvsec_waivers=[{'id': i, 'reason': 'r'} for i in ('HVS-VFIO-06', 'HVS-VFIO-07', 'HVS-VFIO-08')])
    state = role_plans.vfio_plan(waived, facts)
    assert role_plans.vfio_audit(state, facts, waived, {}, {}, {}) == {'failures': [], 'warnings': [
        'HVS-VFIO-03: bound to vfio-pci but not allow-listed: 0000:03:00.0 (set hvsec_vfio_release_unlisted: true to release them)']}


@needs_loader
@pytest.mark.parametrize('allowlist', [[], [{'address': '01:00.0'}], [{'id': '10de:1eb8'}, {'address': '0000:02:00.0'}]])
@pytest.mark.parametrize('iommu', [{'enabled': True, 'interrupt_remapping': True}, {'enabled': False, 'interrupt_remapping': False}])
@pytest.mark.parametrize('waivers', [[], [{'id': i, 'reason': 'r'} for i in ('HVS-VFIO-03', 'HVS-VFIO-06', 'HVS-VFIO-07', 'HVS-VFIO-13')]])
@pytest.mark.parametrize('host', ['192.0.2.1', '2001:db8::1', 'hv1', ''])
def test_vfio_equals_the_reference_templates(allowlist, iommu, waivers, host):
    facts = copy.deepcopy(VFIO_FACTS)
    facts['iommu'] = iommu
    given = variables('vfio', hvsec_vfio_allowlist=allowlist, hvsec_vfio_sriov=[{'pf': 'ens2f0', 'numvfs': 4}], hvsec_waivers=waivers)
    inp = role_input('vfio', given)
    state = role_plans.vfio_plan(inp, facts, host)
    assert state == render('vfio_derive.j2', {'_hvsec_vfio_in': inp, '_vfio_hv': facts, 'ansible_host': host})
    bind = {'devices': [{'address': a, 'driver': 'vfio-pci'} for a in state['allow_addrs']]}
    release = {'devices': [{'address': '0000:03:00.0'}]}
    for results in ((bind, {}, SRIOV_RESULT), ({}, release, {}), ({}, {}, {})):
        old = render('vfio_audit.j2', dict(given, _vfio_hv=facts, _vfio_state=state, _vfio_bind=results[0],
                                           _vfio_release=results[1], _vfio_sriov_result=results[2]))
        assert role_plans.vfio_audit(state, facts, inp, *results) == old
