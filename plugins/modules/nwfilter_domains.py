#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: nwfilter_domains
short_description: Put an anti-spoofing nwfilter on every libvirt guest interface and isolate macvtap guests
version_added: 0.1.0
description:
  - "HVS-VSW-10: every C(bridge) and C(network) interface of every defined libvirt domain gets
    C(<filterref filter=NAME/>) (default C(clean-traffic)); an interface with another filter gets NAME,
    its C(<parameter>) children are kept."
  - "HVS-VSW-11: C(direct) (macvtap) interfaces in C(bridge) mode are switched to O(macvtap_mode)."
  - "HVS-VSW-12: when a filtered interface sits on a Linux bridge, C(br_netfilter) is loaded and
    C(bridge-nf-call-iptables)/C(ip6tables) are 1, persistently (modules-load.d, sysctl.d). Refused (reported,
    not applied) when the iptables FORWARD policy is DROP, because that would cut bridged guests off."
  - Changes go through libvirt only (C(virsh dumpxml --inactive --security-info), C(virsh define), and
    C(virsh update-device --live) for running domains when O(live) is true). Files under /etc/libvirt are
    never edited directly.
  - Without C(virsh) every control is C(not_applicable).
options:
  nwfilter:
    description: Name of the nwfilter to attach; it must exist (C(virsh nwfilter-list)).
    type: str
    default: clean-traffic
  enforce:
    description: Attach the filter (HVS-VSW-10, HVS-VSW-12).
    type: bool
    default: true
  macvtap_isolation:
    description: Move macvtap interfaces out of bridge mode (HVS-VSW-11).
    type: bool
    default: true
  macvtap_mode:
    description: Mode for macvtap interfaces that were in bridge mode.
    type: str
    choices: [vepa, private]
    default: vepa
  live:
    description: Also apply the change to running domains with C(virsh update-device --live).
    type: bool
    default: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
notes:
  - Supports check mode and diff mode.
requirements:
  - libvirt client tools (C(virsh)).
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
  - hvsec.hypervisor.remediation
'''

EXAMPLES = r'''
- name: clean-traffic on every guest interface
  hvsec.hypervisor.nwfilter_domains:
    nwfilter: clean-traffic
'''

RETURN = r'''
changes:
  description: One entry per change made (or pending in check mode), with its control ID.
  returned: always
  type: list
  elements: dict
controls:
  description: Control ID to C(pass), C(fixed), C(fail), C(waived), C(error) or C(not_applicable).
  returned: always
  type: dict
domains:
  description: Domain name to its interfaces after the change.
  returned: always
  type: dict
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_text
from ansible_collections.hvsec.hypervisor.plugins.module_utils import nwfilter_xml as nx
from ansible_collections.hvsec.hypervisor.plugins.module_utils import secrets
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_runner import VswitchRunner, plan_file

CONTROLS = ('HVS-VSW-10', 'HVS-VSW-11', 'HVS-VSW-12')
MODLOAD = '/etc/modules-load.d/hvsec-br_netfilter.conf'
SYSCTL = '/etc/sysctl.d/90-hvsec-bridge-nf.conf'
MODLOAD_TEXT = '# Managed by hvsec.hypervisor.nwfilter_domains (HVS-VSW-12)\nbr_netfilter\n'
SYSCTL_TEXT = ('# Managed by hvsec.hypervisor.nwfilter_domains (HVS-VSW-12)\n'
               'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n')
NF = '/proc/sys/net/bridge/bridge-nf-call-%s'


class Virsh(object):
    """virsh on the module's connection URI; a failing command fails the module with the result so far."""

    def __init__(self, module, runner, virsh):
        self.module = module
        self.runner = runner
        self.base = [virsh, '-q', '-c', module.params['uri']]

    def __call__(self, args, check=True):
        rc, out, err = self.module.run_command(self.base + args)
        if rc != 0 and check:
            self.runner.fail('virsh %s failed: %s' % (' '.join(args), err.strip()))
        return rc, out


def plan_domains(module, runner, virsh, names, skip):
    """Plan the hardened definition of every domain into ``runner``; return the planned domains
    (name, new XML, changes, interfaces) and the Linux bridges their filtered interfaces use."""
    p = module.params
    plans = []
    bridges = set()
    net_bridge = {}
    for name in names:
        xml = virsh(['dumpxml', '--inactive', '--security-info', name])[1]
        # --security-info keeps the console password in the definition; it must not reach the diff
        secrets.hide(module, secrets.xml_passwords(xml))
        try:
            new, changes, summaries, ifaces = nx.harden_domain(
                xml, p['nwfilter'], p['enforce'], p['macvtap_isolation'], p['macvtap_mode'], skip)
        except Exception as e:  # ElementTree raises ParseError (SyntaxError subclass)
            runner.fail('cannot parse the XML of domain %s: %s' % (name, e))
        runner.result['domains'][name] = summaries
        for summary in summaries:
            if summary['type'] not in nx.FILTERABLE or not summary['filterref']:
                continue
            if summary['type'] == 'bridge':
                bridges.add(summary['source'])
            elif summary['source'] not in net_bridge:
                rc, net_xml = virsh(['net-dumpxml', summary['source']], check=False)
                net_bridge[summary['source']] = nx.network_bridge(net_xml) if rc == 0 else None
                if net_bridge[summary['source']]:
                    bridges.add(net_bridge[summary['source']])
        if new:
            plans.append((name, new, changes, ifaces))
            runner.add_changes(changes)
            runner.result['diff'].append(dict(before_header='domain %s' % name, after_header='domain %s' % name,
                                              before=xml, after=new))
    return plans, bridges


def plan_bridge_netfilter(module, runner, bridges, skip):
    """HVS-VSW-12: bridged traffic through netfilter for filtered interfaces on Linux bridges.
    Return the control's status when not fixed and whether br_netfilter is to be set up."""
    linux_bridges = sorted(b for b in bridges if b and os.path.isdir('/sys/class/net/%s/bridge' % b))
    if not (module.params['enforce'] and 'HVS-VSW-12' not in skip and linux_bridges):
        return 'not_applicable', False
    live = [read_text(NF % k) for k in ('iptables', 'ip6tables')]
    runtime_ok = all(v is not None and v.strip() == '1' for v in live)
    files_ok = read_text(MODLOAD) == MODLOAD_TEXT and read_text(SYSCTL) == SYSCTL_TEXT
    if runtime_ok and files_ok:
        return 'pass', False
    iptables = module.get_bin_path('iptables')
    if iptables and not runtime_ok:
        rc, rules, dummy = module.run_command([iptables, '-S', 'FORWARD'])
        if rc == 0 and '-P FORWARD DROP' in rules:
            module.warn('HVS-VSW-12 not applied: the iptables FORWARD policy is DROP, so enabling '
                        'bridge-nf-call-iptables would cut bridged guests (%s) off. Allow the bridged '
                        'traffic in FORWARD first.' % ', '.join(linux_bridges))
            return 'fail', False
    runner.add_changes([{'control': 'HVS-VSW-12', 'msg': 'br_netfilter loaded, bridge-nf-call-ip(6)tables = 1, '
                         'persisted in %s and %s (bridges %s)' % (MODLOAD, SYSCTL, ', '.join(linux_bridges))}])
    runner.add_files([entry for entry in (plan_file(MODLOAD, MODLOAD_TEXT), plan_file(SYSCTL, SYSCTL_TEXT)) if entry],
                     persistence=False)
    return 'pass', True


def apply(module, runner, virsh, running, plans, netfilter):
    """Define each hardened domain (and update its running interfaces), then set up br_netfilter."""
    for name, new, changes, ifaces in plans:
        fd, path = tempfile.mkstemp(prefix='hvsec-dom-', suffix='.xml')
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(new)
            virsh(['define', path])
            if module.params['live'] and name in running:
                for iface in ifaces:
                    with open(path, 'w') as f:
                        f.write(iface)
                    rc, out = virsh(['update-device', name, path, '--live'], check=False)
                    if rc != 0:
                        module.warn('domain %s: the definition is changed but the running guest could not be updated '
                                    'live; it takes effect at the next start' % name)
        finally:
            os.unlink(path)
    if netfilter:
        runner.run('HVS-VSW-12', ['modprobe', 'br_netfilter'])
        for path, text in ((MODLOAD, MODLOAD_TEXT), (SYSCTL, SYSCTL_TEXT)):
            if read_text(path) != text:
                if os.path.exists(path):
                    module.backup_local(path)
                write_atomic(module, path, text)
        for k in ('iptables', 'ip6tables'):
            with open(NF % k, 'w') as f:
                f.write('1')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nwfilter=dict(type='str', default='clean-traffic'),
            enforce=dict(type='bool', default=True),
            macvtap_isolation=dict(type='bool', default=True),
            macvtap_mode=dict(type='str', default='vepa', choices=['vepa', 'private']),
            live=dict(type='bool', default=True),
            uri=dict(type='str', default='qemu:///system'),
            skip_controls=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    skip = set(p['skip_controls'])
    runner = VswitchRunner(module, CONTROLS, domains={})
    if not nx.valid_filter_name(p['nwfilter']):
        module.fail_json(msg='hvsec_vswitch_nwfilter: %r is not a valid nwfilter name' % p['nwfilter'])
    virsh_bin = module.get_bin_path('virsh')
    if not virsh_bin:
        runner.exit_all('not_applicable')
    virsh = Virsh(module, runner, virsh_bin)
    rc, out, err = module.run_command(virsh.base + ['list', '--all', '--name'])
    if rc != 0:
        module.warn('libvirt is installed but %s does not answer: %s' % (p['uri'], err.strip()))
        runner.exit_all('error')
    names = nx.parse_name_list(out)
    running = set(nx.parse_name_list(virsh(['list', '--name'])[1]))
    if p['enforce'] and 'HVS-VSW-10' not in skip:
        filters = nx.parse_nwfilter_list(virsh(['nwfilter-list'])[1])
        if p['nwfilter'] not in filters:
            module.fail_json(msg='hvsec_vswitch_nwfilter: nwfilter %s does not exist (virsh nwfilter-list: %s)'
                             % (p['nwfilter'], ', '.join(filters) or 'none'))

    plans, bridges = plan_domains(module, runner, virsh, names, skip)
    status12, netfilter = plan_bridge_netfilter(module, runner, bridges, skip)
    domains_status = 'pass' if names else 'not_applicable'
    runner.set_controls(skip, {'HVS-VSW-10': domains_status, 'HVS-VSW-11': domains_status, 'HVS-VSW-12': status12})
    runner.finish(lambda: apply(module, runner, virsh, running, plans, netfilter))


if __name__ == '__main__':
    main()
