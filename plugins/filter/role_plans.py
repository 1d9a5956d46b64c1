# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the iommu and vfio roles decide from their variables and ``ansible_facts.hvsec``.

Each filter takes the role's variables as ``lookup('hvsec.hypervisor.role_input', ROLE)`` returns
them (converted to the types of the role's argument spec) and states no rule of its own where one
exists elsewhere:

``iommu_plan``: the kernel arguments come from the ``kernel_args`` rules of the iommu records of the
catalog (plugin_utils/controls/iommu.yml), the controls from ``catalog.controls_for_area('iommu')``,
and the evidence of the audit-only controls from the audit engine (``evaluate.evaluate_one``), so the
role reports the audit's own verdict.
``iommu_verify_problems``: the running kernel against that plan after the reboot.
``vfio_plan``: the allow-list in the canonical forms of module_utils/pci, the devices bound to
vfio-pci that it does not name, and what keeps passthrough from being safe.
``vfio_audit``: the audited vfio controls after the role's changes (failures and warnings).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.hvsec.hypervisor.plugins.filter.input_checks import waived_ids
from ansible_collections.hvsec.hypervisor.plugins.filter.role_checks import _device_id
from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import normalize_key
from ansible_collections.hvsec.hypervisor.plugins.module_utils.pci import normalize_address, normalize_id
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog, evaluate

# The key of a kernel_args rule's ``when`` that names the detected IOMMU vendor, not a role variable.
VENDOR_KEY = 'vendor'
# ansible_host values passed on as addresses the vfio module must not take away (its connection).
_IP_LIKE = re.compile(r'^([0-9]{1,3}\.){3}[0-9]{1,3}$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$')


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def enabled_controls(area, waived, run_tags=None, skip_tags=None):
    """IDs of the area's controls the run selects, in catalog order.

    A control is left out when it is waived, named by --skip-tags, or when --tags names controls of
    the area without naming it (--tags all or the area's name selects every control).
    """
    run_tags = ['all'] if run_tags is None else list(run_tags)
    skip_tags = list(skip_tags or [])
    controls = catalog.controls_for_area(area)
    pattern = r'^%s-[0-9]+$' % re.escape(controls[0]['id'].rsplit('-', 1)[0]) if controls else r'^$'
    picked = [t for t in run_tags if re.match(pattern, '%s' % (t,))]
    all_picked = 'all' in run_tags or area in run_tags or not picked
    return [c['id'] for c in controls
            if c['id'] not in waived and c['id'] not in skip_tags and (all_picked or c['id'] in picked)]


def iommu_vendor(inp, facts):
    """intel, amd or None: the variable when not auto, else the firmware IOMMU, then the CPU vendor."""
    if inp.get('hvsec_iommu_vendor') != 'auto':
        return inp.get('hvsec_iommu_vendor')
    iommu = _dict(_dict(facts).get('iommu'))
    cpu = _dict(_dict(facts).get('cpu'))
    if iommu.get('vendor') in ('intel', 'amd'):
        return iommu['vendor']
    table = iommu.get('firmware_table')
    if table == 'DMAR':
        return 'intel'
    if table == 'IVRS':
        return 'amd'
    if cpu.get('vendor') == 'GenuineIntel':
        return 'intel'
    if cpu.get('vendor') in ('AuthenticAMD', 'HygonGenuine'):
        return 'amd'
    return None


def kernel_request(inp, vendor, enabled):
    """(present, absent, controls): the kernel arguments the enabled iommu controls want."""
    present, absent, controls = [], [], []
    if not inp.get('hvsec_iommu_manage_cmdline'):
        return present, absent, controls
    for control in catalog.controls_for_area('iommu'):
        if control['id'] not in enabled:
            continue
        rules = catalog.kernel_arg_rules(control, dict(inp, **{VENDOR_KEY: vendor}))
        for rule in rules:
            present.extend(rule.get('present') or [])
            absent.extend(rule.get('absent') or [])
        if rules:
            controls.append(control['id'])
    return present, absent, controls


def audit_only_evidence(inp, facts):
    """{id: {status, detail}} of the iommu controls no role variable remediates, as the audit judges them."""
    evidence = {}
    for control in catalog.controls_for_area('iommu'):
        if control['variable'] is None:
            status, detail = evaluate.evaluate_one(control, _dict(facts), dict(inp))
            evidence[control['id']] = {'status': status, 'detail': detail}
    return evidence


def iommu_plan(inp, facts, run_tags=None, skip_tags=None):
    """The iommu role's request: kernel arguments, runtime settings and the audit-only evidence."""
    facts = _dict(facts)
    cpu, kvm, ksm = _dict(facts.get('cpu')), _dict(facts.get('kvm')), _dict(facts.get('ksm'))
    domains = _list(_dict(facts.get('libvirt')).get('domains'))
    waived = waived_ids(inp.get('hvsec_waivers') or [])
    enabled = enabled_controls('iommu', waived, run_tags, skip_tags)
    vendor = iommu_vendor(inp, facts)
    present, absent, controls = kernel_request(inp, vendor, enabled)
    vulns = cpu.get('vulnerabilities')
    return {
        'vendor': vendor,
        'present': present,
        'absent': absent,
        'cmdline_controls': controls,
        'waived': waived,
        'running_guests': [d.get('name') for d in domains if isinstance(d, dict) and d.get('running')],
        'ksm': {'wanted': bool(inp.get('hvsec_iommu_ksm_disable')) and 'HVS-IOMMU-13' in enabled, 'run': ksm.get('run')},
        'nested': {'wanted_off': not inp.get('hvsec_iommu_nested') and 'HVS-IOMMU-14' in enabled,
                   'now': kvm.get('nested'),
                   'modules': [m for m in _list(kvm.get('modules')) if m in ('kvm_intel', 'kvm_amd')]},
        'nx': {'enforce': bool(inp.get('hvsec_iommu_nx_huge_pages_enforce')) and 'HVS-IOMMU-15' in enabled,
               'now': kvm.get('nx_huge_pages'),
               'itlb_multihit': vulns.get('itlb_multihit') if isinstance(vulns, dict) else None},
        'evidence': audit_only_evidence(inp, facts),
    }


def iommu_verify_problems(plan, facts, inp):
    """Where the running kernel differs from the plan (``iommu_plan``): arguments, IOMMU groups,
    interrupt remapping (unless HVS-IOMMU-09 is waived)."""
    iommu = _dict(_dict(facts).get('iommu'))
    args = [a for a in _list(_dict(_dict(facts).get('cmdline')).get('args')) if isinstance(a, dict)]
    words = [a['key'] if a.get('value') is None else '%s=%s' % (a['key'], a['value']) for a in args]
    keys = [normalize_key(a['key']) for a in args]
    controls = plan.get('cmdline_controls') or []
    problems = ['/proc/cmdline lacks %s' % w for w in plan.get('present') or [] if w not in words]
    for w in plan.get('absent') or []:
        if (w in words) if '=' in w else (normalize_key(w) in keys):
            problems.append('/proc/cmdline still has %s' % w)
    groups = _list(iommu.get('groups'))
    if ('HVS-IOMMU-05' in controls or 'HVS-IOMMU-06' in controls) and not groups:
        problems.append('no IOMMU groups in /sys/kernel/iommu_groups: the IOMMU is not active')
    if 'HVS-IOMMU-07' in controls and inp.get('hvsec_iommu_policy') == 'strict':
        lazy = [g for g in groups if g.get('type') != 'DMA']
        if lazy:
            types = []
            for g in lazy:
                gtype = '' if g.get('type') is None else '%s' % (g['type'],)
                if gtype not in types:
                    types.append(gtype)
            problems.append('%d IOMMU group(s) not of type DMA (strict): %s have %s'
                            % (len(lazy), ','.join('%s' % (g.get('id'),) for g in lazy), ','.join(types)))
    if 'HVS-IOMMU-09' not in waived_ids(inp.get('hvsec_waivers') or []):
        ir = iommu.get('interrupt_remapping')
        if ir is False:
            problems.append('interrupt remapping is off (%s)' % (iommu.get('interrupt_remapping_evidence') or 'no evidence'))
        elif ir is None:
            problems.append('interrupt remapping could not be determined')
    return problems


def vfio_plan(inp, facts, host=None):
    """The vfio role's view of the host: allow-list, devices by address, unlisted vfio-pci devices,
    IOMMU problems for passthrough, and the connection's address to protect."""
    facts = _dict(facts)
    allow_addrs, allow_ids = [], []
    for item in inp.get('hvsec_vfio_allowlist') or []:
        if item.get('address'):
            allow_addrs.append(normalize_address(item['address']))
        else:
            allow_ids.append(normalize_id(item.get('id')))
    by_addr, unlisted = {}, []
    for d in _list(_dict(facts.get('pci')).get('devices')):
        did = _device_id(d)
        by_addr[d.get('address')] = {'id': did, 'driver': d.get('driver'), 'net': d.get('net') or [],
                                     'totalvfs': d.get('sriov_totalvfs'), 'numvfs': d.get('sriov_numvfs'),
                                     'group': d.get('iommu_group'), 'physfn': d.get('physfn')}
        if d.get('driver') == 'vfio-pci' and d.get('address') not in allow_addrs and did not in allow_ids:
            unlisted.append(d.get('address'))
    iommu = _dict(facts.get('iommu'))
    problems = []
    if not iommu.get('enabled'):
        problems.append('the IOMMU is not active in the running kernel')
    if iommu.get('interrupt_remapping') is not True:
        problems.append('interrupt remapping is not active (%s)' % (iommu.get('interrupt_remapping_evidence') or 'no evidence'))
    args = _list(_dict(facts.get('cmdline')).get('args'))
    if any(isinstance(a, dict) and a.get('key') == 'pcie_acs_override' for a in args):
        problems.append('pcie_acs_override is on the running kernel command line, so IOMMU groups do not reflect real isolation')
    host = '' if host is None else '%s' % (host,)
    return {
        'waived': waived_ids(inp.get('hvsec_waivers') or []),
        'allow_addrs': allow_addrs,
        'allow_ids': allow_ids,
        'by_addr': by_addr,
        'unlisted': unlisted,
        'unlisted_items': [{'address': a} for a in unlisted],
        'iommu_problems': problems,
        'protect_addresses': [host] if _IP_LIKE.match(host) else [],
    }


def vfio_audit(plan, facts, inp, bind=None, release=None, sriov=None):
    """{failures, warnings} of the audited vfio controls (HVS-VFIO-03, 06, 07, 08, 13) after the run.

    ``bind``, ``release`` and ``sriov`` are the registered results of the role's pci_passthrough
    (present, absent) and sriov_vf tasks (undefined or skipped: nothing done).
    """
    waived = plan['waived']
    failures, warnings = [], []
    if 'HVS-VFIO-06' not in waived:
        for dom in _list(_dict(_dict(facts).get('libvirt')).get('domains')):
            for hd in _list(dom.get('hostdevs')):
                if hd.get('type', 'pci') != 'pci' or not hd.get('address'):
                    continue
                info = plan['by_addr'].get(hd['address'], {})
                if hd['address'] not in plan['allow_addrs'] and info.get('id', '-') not in plan['allow_ids']:
                    failures.append('HVS-VFIO-06: libvirt domain %s references host device %s%s, which is not on hvsec_vfio_allowlist'
                                    % (dom.get('name'), hd['address'], ' (%s)' % info['id'] if 'id' in info else ''))
    bound = [d.get('address') for d in _list(_dict(bind).get('devices')) if d.get('driver') == 'vfio-pci']
    released = [d.get('address') for d in _list(_dict(release).get('devices'))]
    bound.extend(a for a in plan['unlisted'] if a not in released and a not in bound)
    if bound and plan['iommu_problems'] and 'HVS-VFIO-07' not in waived:
        failures.append('HVS-VFIO-07: %s bound to vfio-pci but %s' % (', '.join(bound), '; '.join(plan['iommu_problems'])))
    still = [a for a in plan['unlisted'] if a not in released]
    if still and 'HVS-VFIO-03' not in waived:
        warnings.append('HVS-VFIO-03: bound to vfio-pci but not allow-listed: %s (set hvsec_vfio_release_unlisted: true to release them)'
                        % ', '.join(still))
    declared = [s.get('pf') for s in inp.get('hvsec_vfio_sriov') or []]
    if 'HVS-VFIO-08' not in waived:
        for addr, info in plan['by_addr'].items():
            if (info.get('numvfs') or 0) > 0 and not [n for n in info.get('net') or [] if n in declared]:
                warnings.append('HVS-VFIO-08: %s (%s) has %s VFs but no cap in hvsec_vfio_sriov (cap 0)'
                                % (addr, ','.join(info.get('net') or []), info['numvfs']))
    if 'HVS-VFIO-13' not in waived:
        for res in _list(_dict(sriov).get('results')):
            for vf in _list(res.get('vfs')):
                size = vf.get('iommu_group_size') or 1
                if size > 1:
                    warnings.append('HVS-VFIO-13: %s vf %s (%s) shares IOMMU group %s with %s other device(s)'
                                    % (_dict(res.get('item')).get('pf'), vf.get('vf'), vf.get('address'), vf.get('iommu_group'), size - 1))
    return {'failures': failures, 'warnings': warnings}


class FilterModule(object):
    def filters(self):
        return {
            'iommu_plan': iommu_plan,
            'iommu_verify_problems': iommu_verify_problems,
            'vfio_plan': vfio_plan,
            'vfio_audit': vfio_audit,
        }
