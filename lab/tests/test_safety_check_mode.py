# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode changes nothing, and the check-mode roles agree with the audit (issues 9, 8, 4).

Phase "prepared" (lab/run-molecule.sh runs this file alone after prepare, before converge, with
HVSEC_LAB_VERIFY_PHASE=prepared) on the lab's insecure starting state:
- snapshot the host (checksums and metadata of every file under /etc and /boot, service states
  and start times, loaded nftables ruleset, OVS database, sysfs/sysctl state, PCI driver bindings);
- run playbooks/audit.yml (read-only) and playbooks/harden.yml --check --diff with the
  hvsec.hypervisor.compliance callback and the test callback that records changed tasks;
- the snapshot afterwards is identical; the check run predicted changes; the per-control
  verdicts of the check-mode roles and of the audit agree for every control the roles judge.

Phase "converged" (the Molecule verify after converge):
- the real converge changed the same set of tasks the check run predicted (recorded by
  lab/tests/callback_plugins/hvsec_changed_tasks.py, enabled for Molecule's runs);
- the audit now passes every control it failed before that the hardened areas remediate, and
  Molecule's check step (its per-control verdicts kept by the compliance callback) reports
  nothing left to change, again in agreement with the audit.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import json
import os
import re

import pytest

from conftest import REPO, hardened_areas, lab_dir, lab_vars, run_ansible

PHASE = os.environ.get('HVSEC_LAB_VERIFY_PHASE', '')
CALLBACKS = os.path.join(REPO, 'lab', 'tests', 'callback_plugins')

SERVICES = ('ssh.service', 'libvirtd.socket', 'libvirtd-tcp.socket', 'libvirtd-tls.socket',
            'libvirtd-ro.socket', 'libvirtd-admin.socket', 'virtlogd.service',
            'openvswitch-switch.service', 'ovs-vswitchd.service', 'ovsdb-server.service',
            'nftables.service', 'auditd.service', 'chrony.service', 'systemd-networkd.service',
            'lab-sriov.service', 'hvsec-lab-vswitch-guests.service')

SNAPSHOT = r'''
set -u
echo '### files'
find /etc /boot -xdev \( -type f -o -type l -o -type d \) -printf '%p %m %U %G %l\n' 2>/dev/null | sort
find /etc /boot -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum
echo '### services'
for u in {services}; do
  case $u in
    # a socket's SubState is running/listening by whether socket activation has its daemon up
    # (libvirtd exits when idle): volatile, not a change; its start time and state are kept
    *.socket) props=Id,ActiveState,UnitFileState,ActiveEnterTimestampMonotonic ;;
    *) props=Id,ActiveState,SubState,UnitFileState,ActiveEnterTimestampMonotonic,MainPID ;;
  esac
  systemctl show -p $props "$u" | tr '\n' ' '; echo
done
echo '### nftables'
nft list ruleset 2>&1 | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'
echo '### ovs'
if command -v ovs-vsctl >/dev/null; then
  ovs-vsctl --timeout=20 get-manager
  ovs-vsctl --timeout=20 --format=csv --columns=name,fail_mode,controller,mirrors list Bridge
  ovs-vsctl --timeout=20 --format=csv --columns=target list Controller
  ovs-vsctl --timeout=20 --format=csv --columns=name,select_all,output_port list Mirror
  ovs-vsctl --timeout=20 --format=csv --columns=name,tag,trunks list Port | sort
fi
echo '### net'
ip -br link | sort
ip -br addr | sort
bridge -j vlan show
for f in /sys/class/net/*/bridge/vlan_filtering; do echo "$f $(cat "$f")"; done
ip -d link show dev sriov0 2>/dev/null | grep -E '^ +vf ' | sed -E 's/, link-state.*//'
sysctl -a 2>/dev/null | grep -E '^net\.(ipv4\.conf|ipv6\.conf|bridge)\.' | grep -v stable_secret | sort
echo '### kernel'
for f in /sys/kernel/mm/ksm/run /sys/module/kvm*/parameters/nested /sys/module/vfio*/parameters/*; do
  if [ -r "$f" ]; then echo "$f $(cat "$f")"; fi
done
for d in /sys/bus/pci/devices/*; do
  echo "$d $(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null) $(cat "$d/driver_override" 2>/dev/null)"
  if [ -r "$d/sriov_numvfs" ]; then echo "$d numvfs $(cat "$d/sriov_numvfs")"; fi
done
true
'''.replace('{services}', ' '.join(SERVICES))


def snapshot(host):
    out = host.run(SNAPSHOT)
    assert out.rc == 0, out.stderr
    sections, name = {}, None
    for line in out.stdout.splitlines():
        if line.startswith('### '):
            name = line[4:]
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def snapshot_diff(before, after):
    lines = []
    for name in before:
        if before[name] != after.get(name):
            lines += ['--- %s' % name] + list(difflib.unified_diff(before[name], after.get(name, []), lineterm='', n=0))
    return '\n'.join(lines)


def _reports(kind):
    return os.path.join(lab_dir(), 'reports-%s-%s' % (PHASE or 'manual', kind))


def run_audit():
    d = _reports('audit')
    extra = dict(lab_vars(), hvsec_audit_report_dir=d)
    rc, dummy, out = run_ansible(playbook='- import_playbook: hvsec.hypervisor.audit\n', extra=extra)
    assert rc == 0, out[-4000:]
    with open(os.path.join(d, 'audit.json')) as f:
        return json.load(f)


def run_check_harden():
    d = _reports('compliance')
    env = {'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS,
           'ANSIBLE_CALLBACKS_ENABLED': 'hvsec.hypervisor.compliance,hvsec_changed_tasks',
           'HVSEC_COMPLIANCE_REPORT_DIR': d,
           'HVSEC_CHANGED_TASKS_LOG': os.path.join(lab_dir(), 'changed-tasks.jsonl')}
    # hvsec_harden_full: the roles judge every control themselves (a default run would skip the
    # tasks of the controls the audit passes, and so agree with the audit by construction).
    rc, changed, out = run_ansible(playbook='- import_playbook: hvsec.hypervisor.harden\n',
                                   extra=dict(lab_vars(), hvsec_harden_full=True),
                                   check=True, diff=True, env_extra=env)
    assert rc == 0, out[-4000:]
    with open(os.path.join(d, 'compliance.json')) as f:
        return changed, json.load(f), out


def verdicts(document):
    (dummy, data), = document['hosts'].items()
    return dict((c['id'], c) for c in data['controls'])


def disagreements(audit, compliance):
    """Controls on which the check-mode roles and the audit disagree, after the one documented
    allowance (docs/controls.md, "Judged by roles (check mode)"): a task that remediates several
    controls judges them alike, so a control the audit passes may show as "would change" when it
    shares the changed task with a control the audit fails. The other way round (the audit fails a
    control the roles would leave alone) is always a disagreement. Returns (disagreements, shared)."""
    a, c = verdicts(audit), verdicts(compliance)
    bad, shared = [], []
    for cid, entry in sorted(c.items()):
        if not entry.get('judged'):
            continue
        mine, theirs = entry['status'], a[cid]['status']
        if mine == theirs or 'not_applicable' in (mine, theirs) or 'waived' in (mine, theirs):
            continue
        line = '%s: roles %s (%s) / audit %s (%s)' % (cid, mine, entry['evidence'][:200], theirs, a[cid]['evidence'][:160])
        if mine == 'fail' and theirs == 'pass':
            partners = set(re.findall(r'HVS-[A-Z]+-\d+', entry['evidence'])) - set([cid])
            if [p for p in partners if a.get(p, {}).get('status') == 'fail']:
                shared.append(line)
                continue
        bad.append(line)
    return bad, shared


# ------------------------------------------------------------------ phase "prepared"
prepared = pytest.mark.skipif(PHASE != 'prepared', reason='runs before converge (HVSEC_LAB_VERIFY_PHASE=prepared)')
converged = pytest.mark.skipif(PHASE != 'converged', reason='runs after converge (HVSEC_LAB_VERIFY_PHASE=converged)')


@prepared
def test_check_mode_changes_nothing_and_agrees_with_the_audit(host):
    log = os.path.join(lab_dir(), 'changed-tasks.jsonl')
    if os.path.exists(log):
        os.unlink(log)
    before = snapshot(host)
    audit = run_audit()
    changed, compliance, dummy = run_check_harden()
    after = snapshot(host)
    files = len([x for x in before['files'] if ' ' in x and len(x.split(' ')[0]) == 64])
    print('snapshot: %d files checksummed, %d services, %d check-mode changes predicted'
          % (files, len(before['services']), changed))
    assert files > 500, 'the snapshot did not checksum /etc and /boot'
    assert before == after, 'the --check run changed the host:\n' + snapshot_diff(before, after)
    assert changed > 0, 'the insecure lab needs changes; the check run predicted none'
    failing = sorted(cid for cid, c in verdicts(audit).items() if c['status'] == 'fail')
    judged_fail = sorted(cid for cid, c in verdicts(compliance).items() if c.get('judged') and c['status'] == 'fail')
    print('audit fails %d controls: %s' % (len(failing), ' '.join(failing)))
    print('check-mode roles would change %d controls: %s' % (len(judged_fail), ' '.join(judged_fail)))
    bad, shared = disagreements(audit, compliance)
    print('judged alike through a shared remediation task (%d):\n  %s' % (len(shared), '\n  '.join(shared)))
    assert not bad, 'check-mode roles and audit disagree:\n' + '\n'.join(bad)
    with open(os.path.join(lab_dir(), 'audit-prepared-failing.json'), 'w') as f:
        json.dump(failing, f)


# ------------------------------------------------------------------ phase "converged"
def _runs():
    path = os.path.join(lab_dir(), 'changed-tasks.jsonl')
    if not os.path.exists(path):
        pytest.skip('no recorded runs (%s): the prepared-phase check run did not happen' % path)
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@converged
def test_the_check_run_predicted_the_real_run():
    """The converge changed exactly the controls the --check run predicted. Task by task the runs
    may differ where check mode runs a stand-in for work it cannot simulate (the firewall
    load/confirm block reports one "Check mode: ... would be loaded" task) or skips a command
    (handlers that restart daemons): those differences are printed, the verdict is per control."""
    # The first real run of the roles (Molecule's converge) and the last --check run before it (the
    # prepared-phase run of test_check_mode_changes_nothing_and_agrees_with_the_audit, whose
    # playbook is a temporary file); later runs (idempotence, Molecule's check step) change nothing.
    runs = _runs()
    first_real = next((i for i, r in enumerate(runs)
                       if not r['check'] and r['playbook'] in ('harden.yml', 'converge.yml')), None)
    checks = [r for r in runs[:first_real or 0] if r['check']]
    if first_real is None or not checks:
        pytest.skip('need the prepared-phase check run and the converge run in changed-tasks.jsonl')
    check, real = checks[-1], runs[first_real]
    assert set(check['changed']) == set(real['changed'])
    for host in real['changed']:
        p_tasks = dict((e['task'], e['controls']) for e in check['changed'][host])
        r_tasks = dict((e['task'], e['controls']) for e in real['changed'][host])
        p_controls = set(c for cs in p_tasks.values() for c in cs)
        r_controls = set(c for cs in r_tasks.values() for c in cs)
        only_real = sorted(set(r_tasks) - set(p_tasks))
        only_check = sorted(set(p_tasks) - set(r_tasks))
        print('%s: converge changed %d tasks (%d controls), --check predicted %d tasks (%d controls)'
              % (host, len(r_tasks), len(r_controls), len(p_tasks), len(p_controls)))
        print('  changed only by converge: %s' % only_real)
        print('  predicted only by --check: %s' % only_check)
        assert sorted(r_controls - p_controls) == [], 'controls changed by converge but not predicted by --check'
        assert sorted(p_controls - r_controls) == [], 'controls predicted by --check but not changed by converge'
        # Tasks without a control ID that only one run changed (handlers whose command check mode
        # skips, the reboot) are listed above for the record; the verdict is per control.


@converged
def test_audit_passes_after_hardening_and_agrees_with_check_mode_roles():
    path = os.path.join(lab_dir(), 'audit-prepared-failing.json')
    if not os.path.exists(path):
        pytest.skip('the prepared-phase audit did not run')
    with open(path) as f:
        failing_before = json.load(f)
    audit = run_audit()
    # The per-control verdicts of the last Molecule run before the verify (the check step, or
    # idempotence when make test skips the check step), written by the compliance callback
    # enabled in molecule.yml: nothing left to change.
    path = os.path.join(lab_dir(), 'compliance-molecule', 'compliance.json')
    if not os.path.exists(path):
        pytest.skip('no compliance report of a Molecule run at %s' % path)
    with open(path) as f:
        compliance = json.load(f)
    assert compliance['source'] in ('check-mode harden', 'harden'), compliance['source']
    left = sorted(cid for cid, c in verdicts(compliance).items() if c['status'] in ('fail', 'error'))
    assert left == [], 'the check-mode roles still find changes after converge: %s' % left
    after = verdicts(audit)
    areas = hardened_areas()
    roles = _roles()
    # audit-only controls (hardware, evidence) have no role; they are reported, not asserted
    remediated = [cid for cid in failing_before if roles.get(cid) in areas]
    still = ['%s: %s' % (cid, after[cid]['evidence'][:200]) for cid in remediated if after[cid]['status'] != 'pass']
    print('fixed by the roles: %d of %d failing controls' % (len(remediated) - len(still), len(failing_before)))
    assert not still, 'failing before, remediable by a hardened area, still not passing:\n' + '\n'.join(still)
    bad, shared = disagreements(audit, compliance)
    assert not bad and not shared, 'check-mode roles and audit disagree after hardening:\n' + '\n'.join(bad + shared)


def _roles():
    import sys
    sys.path.insert(0, os.path.join(REPO, '.build', 'collections'))
    from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
    return dict((c['id'], c.get('role')) for c in CONTROLS)
