# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluators of the iommu area: CPU virtualization, IOMMU and kernel arguments, side channels, overcommit.

Each function judges one control and is named as the ``evaluator`` of its record in
``controls/iommu.yml``; ``EVALUATORS`` maps those names to the functions.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import arg_values
from ansible_collections.hvsec.hypervisor.plugins.module_utils.pci import kernel_bool
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.eval_common import (
    evaluator_table, fact_if_present, Unknown, get_fact, opt_fact, unreadable, truthy, to_int, fmt_list, outcome, libvirt_domains,
)


def _cmd_args(facts):
    return get_fact(facts, 'cmdline.args')


def _cmd_has(args, key, value=None):
    """True when key is present (any value, or one whose comma-split parts include value)."""
    values = arg_values(args, key)
    if value is None:
        return bool(values)
    for v in values:
        if v is not None and value in str(v).lower().split(','):
            return True
    return False


def _kernel_args(control, settings, kind):
    """The kernel arguments the record's rules list under ``kind`` (present or absent) for these settings."""
    return [arg for rule in catalog.kernel_arg_rules(control, settings) for arg in rule.get(kind) or []]


def _cmd_has_arg(args, arg):
    """True when the command line has ``arg`` (``key`` alone: any value; ``key=value``: that value)."""
    key, sep, value = arg.partition('=')
    return _cmd_has(args, key, value if sep else None)


def cpu_virt_extensions(facts, s, control):
    """HVS-IOMMU-01: Hardware virtualization extensions present (VT-x/AMD-V)."""
    cpu = get_fact(facts, 'cpu')
    ext = cpu.get('virt_extension')
    if ext in ('vmx', 'svm'):
        return ('pass', 'CPU flag %s present' % ext)
    return ('fail', 'neither vmx nor svm in the CPU flags (disabled in firmware or not supported)')


def cpu_slat(facts, s, control):
    """HVS-IOMMU-02: Second-level address translation present (EPT/NPT)."""
    cpu = get_fact(facts, 'cpu')
    slat = cpu.get('slat')
    if slat in ('ept', 'npt'):
        return ('pass', 'CPU flag %s present' % slat)
    return ('fail', 'neither ept nor npt in the CPU flags: KVM must use shadow paging')


def dev_kvm_present(facts, s, control):
    """HVS-IOMMU-03: KVM device node /dev/kvm available."""
    if truthy(get_fact(facts, 'kvm.dev_kvm')):
        return ('pass', '/dev/kvm exists')
    return ('fail', '/dev/kvm missing (kvm module not loaded or virtualization disabled)')


def iommu_firmware_table(facts, s, control):
    """HVS-IOMMU-04: Firmware IOMMU table present (ACPI DMAR or IVRS)."""
    iommu = get_fact(facts, 'iommu')
    table = iommu.get('firmware_table')
    if table in ('DMAR', 'IVRS'):
        return ('pass', 'ACPI %s table present' % table)
    if table is None and unreadable(facts, 'iommu.firmware_table'):
        raise Unknown('iommu.firmware_table')
    return ('fail', 'no ACPI DMAR or IVRS table (IOMMU absent or disabled in firmware)')


def iommu_active(facts, s, control):
    """HVS-IOMMU-05: IOMMU enabled in the running kernel."""
    units = get_fact(facts, 'iommu.units')
    groups = get_fact(facts, 'iommu.groups')
    if units and groups:
        return ('pass', '%d IOMMU unit(s) (%s), %d group(s)' % (len(units), fmt_list(units, 3), len(groups)))
    return ('fail', 'IOMMU not active: %d unit(s), %d group(s)' % (len(units), len(groups)))


def iommu_not_disabled_by_args(facts, s, control):
    """HVS-IOMMU-06: No IOMMU-disabling kernel arguments."""
    args = _cmd_args(facts)
    bad = [arg for arg in _kernel_args(control, s, 'absent') if _cmd_has_arg(args, arg)]
    return outcome(bad, 'no IOMMU-disabling argument in /proc/cmdline', 'kernel command line has')


def iommu_dma_policy(facts, s, control):
    """HVS-IOMMU-07: DMA translation mode follows the IOMMU policy (strict by default)."""
    policy = s.get('hvsec_iommu_policy', 'strict')
    args = _cmd_args(facts)
    if policy == 'passthrough':
        return ('pass', 'policy passthrough chosen (hvsec_iommu_policy): host devices use identity '
                        'domains for speed, at the cost of DMA isolation of host-owned devices')
    groups = get_fact(facts, 'iommu.groups')
    bad = ['%s in cmdline' % arg for arg in _kernel_args(control, dict(s, hvsec_iommu_policy=policy), 'absent')
           if _cmd_has_arg(args, arg)]
    for value in arg_values(args, 'iommu.passthrough'):
        if value is not None and kernel_bool(value):
            bad.append('iommu.passthrough=%s in cmdline' % value)
    if not groups:
        bad.append('no IOMMU groups (no DMA translation at all)')
    types = {}
    for group in groups:
        gtype = group.get('type')
        if gtype != 'DMA':
            types.setdefault(str(gtype), []).append(str(group.get('id')))
    for gtype in sorted(types):
        bad.append('%d group(s) of type %s (e.g. %s)' % (len(types[gtype]), gtype, fmt_list(types[gtype], 3)))
    return outcome(bad, 'strict: all %d IOMMU groups of type DMA' % len(groups), 'strict policy not met')


def no_acs_override(facts, s, control):
    """HVS-IOMMU-08: No PCIe ACS override."""
    args = _cmd_args(facts)
    forbidden = _kernel_args(control, s, 'absent')
    found = [arg.partition('=')[0] for arg in forbidden if _cmd_has_arg(args, arg)]
    bad = ['%s=%s' % (key, fmt_list(arg_values(args, key))) for key in found]
    if bad:
        return ('fail', '%s in cmdline' % ', '.join(bad))
    return ('pass', 'no %s in cmdline' % fmt_list(forbidden))


def interrupt_remapping(facts, s, control):
    """HVS-IOMMU-09: Interrupt remapping active."""
    iommu = get_fact(facts, 'iommu')
    ir = iommu.get('interrupt_remapping')
    if ir is None:
        raise Unknown('iommu.interrupt_remapping')
    evidence = iommu.get('interrupt_remapping_evidence') or ''
    if ir:
        return ('pass', 'interrupt remapping active' + (' (%s)' % evidence if evidence else ''))
    return ('fail', 'interrupt remapping not active' + (' (%s)' % evidence if evidence else ''))


def early_pci_dma_protection(facts, s, control):
    """HVS-IOMMU-10: Early boot DMA protection (efi=disable_early_pci_dma)."""
    if not s.get('hvsec_iommu_early_dma_protection', True):
        return ('not_applicable', 'hvsec_iommu_early_dma_protection is false')
    args = _cmd_args(facts)
    wanted = _kernel_args(control, dict(s, hvsec_iommu_early_dma_protection=True), 'present')
    missing = [arg for arg in wanted if not _cmd_has_arg(args, arg)]
    if missing:
        return ('fail', '%s missing from cmdline' % fmt_list(missing))
    return ('pass', '%s in cmdline' % fmt_list(wanted))


def cpu_not_vulnerable(facts, s, control):
    """HVS-IOMMU-11: No CPU vulnerability reported as Vulnerable."""
    vulns = get_fact(facts, 'cpu.vulnerabilities')
    bad = sorted('%s (%s)' % (k, v) for k, v in vulns.items() if str(v).startswith('Vulnerable'))
    return outcome(bad, '%d entries, none Vulnerable' % len(vulns), 'vulnerable')


def smt_policy(facts, s, control):
    """HVS-IOMMU-12: SMT disabled when the SMT policy asks for it (mitigations=auto,nosmt)."""
    if not s.get('hvsec_iommu_nosmt', False):
        return ('not_applicable', 'hvsec_iommu_nosmt is false (SMT allowed by policy)')
    args = _cmd_args(facts)
    cpu = get_fact(facts, 'cpu')
    bad = []
    if not (_cmd_has(args, 'mitigations', 'nosmt') or _cmd_has(args, 'nosmt')):
        bad.append('mitigations=auto,nosmt missing from cmdline')
    active = cpu.get('smt_active')
    if active is None:
        if str(cpu.get('smt_control')) not in ('notsupported', 'notimplemented', 'forceoff', 'off'):
            raise Unknown('cpu.smt_active')
    elif active:
        bad.append('SMT active')
    return outcome(bad, 'SMT off (nosmt)', 'SMT policy not met')


def ksm_off(facts, s, control):
    """HVS-IOMMU-13: Kernel same-page merging (KSM) off."""
    run = fact_if_present(facts, 'ksm.run')
    if run is None:
        return ('not_applicable', 'KSM not available in this kernel (/sys/kernel/mm/ksm absent)')
    run = to_int(run)
    if run in (0, 2):
        return ('pass', 'ksm run=%d (not merging)' % run)
    return ('fail', 'ksm run=%s: pages shared across guests (pages_shared=%s)' % (run, opt_fact(facts, 'ksm.pages_shared')))


def nested_virt_policy(facts, s, control):
    """HVS-IOMMU-14: Nested virtualization off unless wanted."""
    if s.get('hvsec_iommu_nested', False):
        return ('pass', 'nested virtualization wanted (hvsec_iommu_nested true); current: %s' % opt_fact(facts, 'kvm.nested'))
    kvm = get_fact(facts, 'kvm')
    nested = kvm.get('nested')
    if nested is None:
        modules = kvm.get('modules') or []
        if not any(m in modules for m in ('kvm_intel', 'kvm_amd')):
            return ('not_applicable', 'no kvm_intel/kvm_amd module loaded')
        raise Unknown('kvm.nested')
    if truthy(nested):
        return ('fail', 'nested virtualization enabled')
    return ('pass', 'nested virtualization off')


def nx_huge_pages(facts, s, control):
    """HVS-IOMMU-15: iTLB multihit mitigation on (kvm.nx_huge_pages not off)."""
    kvm = get_fact(facts, 'kvm')
    if 'kvm' not in (kvm.get('modules') or []):
        return ('not_applicable', 'kvm module not loaded')
    value = kvm.get('nx_huge_pages')
    if value is None:
        raise Unknown('kvm.nx_huge_pages')
    if str(value).strip().lower() not in ('off', 'n', '0', 'false', 'never'):
        return ('pass', 'kvm.nx_huge_pages=%s' % value)
    # With the default "auto" the kernel reads back N on CPUs that are not affected by
    # iTLB multihit, so N is only a finding where the CPU is (or may be) affected.
    vulns = get_fact(facts, 'cpu').get('vulnerabilities') or {}
    state = vulns.get('itlb_multihit')
    if state and 'vulnerable' not in state.lower():
        return ('pass', 'kvm.nx_huge_pages=%s; itlb_multihit: %s' % (value, state))
    return ('fail', 'kvm.nx_huge_pages=%s; itlb_multihit: %s' % (value, state or 'unknown'))


def vcpus_within_cores(facts, s, control):
    """HVS-IOMMU-16: No guest with more vCPUs than host physical cores."""
    domains = libvirt_domains(facts)
    if not domains:
        return ('pass', 'no libvirt domains defined')
    cores = get_fact(facts, 'cpu.physical_cores')
    bad = ['%s (%s vCPUs)' % (d.get('name'), d.get('vcpus')) for d in domains
           if to_int(d.get('vcpus'), 0) > int(cores)]
    return outcome(bad, '%d domain(s), none above %s physical cores' % (len(domains), cores),
                   'more vCPUs than the %s physical cores' % cores)


def memory_not_overcommitted(facts, s, control):
    """HVS-IOMMU-17: Guest memory not overcommitted."""
    running = [d for d in libvirt_domains(facts) if d.get('running')]
    if not running:
        return ('pass', 'no running libvirt domains')
    total = get_fact(facts, 'host.mem_total_kib')
    used = sum(to_int(d.get('memory_kib'), 0) for d in running)
    if used > int(total):
        return ('fail', '%d running domain(s) use %d KiB > host %s KiB' % (len(running), used, total))
    return ('pass', '%d running domain(s) use %d of %s KiB' % (len(running), used, total))


# The evaluators of this area, by the names the catalog records give.
EVALUATORS = evaluator_table(
    cpu_virt_extensions, cpu_slat, dev_kvm_present, iommu_firmware_table, iommu_active,
    iommu_not_disabled_by_args, iommu_dma_policy, no_acs_override, interrupt_remapping,
    early_pci_dma_protection, cpu_not_vulnerable, smt_policy, ksm_off, nested_virt_policy, nx_huge_pages,
    vcpus_within_cores, memory_not_overcommitted,
)
