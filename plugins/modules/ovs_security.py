#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ovs_security
short_description: Harden Open vSwitch managers, controllers, fail mode, mirrors and guest port VLANs
version_added: 0.1.0
description:
  - Enforces controls HVS-VSW-05 to HVS-VSW-09 with C(ovs-vsctl), reading the state in one call and applying
    every change in one OVSDB transaction, so the OVS database (persistent across reboot) holds the result.
  - "HVS-VSW-05: OVSDB managers. A non-empty O(managers) is the complete wanted list (C(pssl:), C(ssl:),
    C(punix:), C(unix:), and loopback-only C(ptcp:)/C(tcp:) under O(allow_loopback_tcp)); an empty list removes
    only the plain C(ptcp:)/C(tcp:) managers reachable beyond the host."
  - "HVS-VSW-06: OpenFlow controllers. A bridge listed in O(controllers) gets exactly its list; on other bridges
    only plain C(tcp:)/C(ptcp:) controllers reachable beyond the host are removed."
  - "Loopback-only plain TCP (C(ptcp:6640:127.0.0.1), C(tcp:127.0.0.1:6633), C(tcp:[::1]:6633): what the
    OpenStack Neutron Open vSwitch agent configures on a compute node) is not remote management: with
    O(allow_loopback_tcp=true) such targets stay, may be declared, and are listed in RV(loopback_tcp).
    C(ptcp:6640) (every address), C(ptcp:6640:0.0.0.0) and a plain-TCP peer elsewhere always go. A host name
    (C(tcp:localhost:6633)) does not count as loopback."
  - "HVS-VSW-07: C(fail_mode=secure) on every bridge that keeps a controller."
  - "HVS-VSW-08: mirrors not listed in O(allowed_mirrors) are removed."
  - "HVS-VSW-09: declared guest ports become access ports with their tag (trunks cleared)."
  - Declared ports with a C(mac) (and optional C(ips)) get a switch-independent nftables C(netdev) ingress table
    dropping frames with another source MAC, ARP sender or IP source (anti-spoofing for non-libvirt guests),
    re-applied at boot by a oneshot systemd unit bound to the port device.
  - Without C(ovs-vsctl) every control is C(not_applicable) and nothing fails.
options:
  managers:
    description: Wanted OVSDB manager targets (see description).
    type: list
    elements: str
    default: []
  controllers:
    description: OVS bridge name to its wanted OpenFlow controller targets.
    type: dict
    default: {}
  ssl:
    description: Certificates for ssl/pssl targets; all three files must exist.
    type: dict
    default: {}
    suboptions:
      private_key:
        description: Private key path.
        type: path
      certificate:
        description: Certificate path.
        type: path
      ca_cert:
        description: CA certificate path.
        type: path
  fail_secure:
    description: Set fail_mode secure on bridges with a controller.
    type: bool
    default: true
  allow_loopback_tcp:
    description:
      - Keep (and accept declared) plain C(tcp:)/C(ptcp:) targets bound to or connecting to a loopback address
        only (127.0.0.0/8, C(::1)). Any local process can use them, none beyond the host.
      - V(false) removes every plain-TCP target, loopback ones included.
    type: bool
    default: true
  allowed_mirrors:
    description: Names of the mirrors that may exist.
    type: list
    elements: str
    default: []
  ports:
    description: Guest ports and their VLAN tag (1-4094); optional C(mac) and C(ips) for anti-spoofing.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: OVS port name; it must exist.
        type: str
        required: true
      tag:
        description: Access VLAN 1-4094.
        type: int
        required: true
      mac:
        description: The guest's MAC address.
        type: str
      ips:
        description: The guest's IP addresses (needs C(mac)).
        type: list
        elements: str
        default: []
  persist:
    description: Install the boot-time units for the anti-spoofing tables.
    type: bool
    default: true
  config_dir:
    description: Directory for generated nftables files and scripts.
    type: path
    default: /etc/hvsec/vswitch
notes:
  - Supports check mode and diff mode.
requirements:
  - Open vSwitch (C(ovs-vsctl)); nftables when a port declares C(mac).
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
  - hvsec.hypervisor.remediation
  - hvsec.hypervisor.remediation.systemd_units
'''

EXAMPLES = r'''
- name: Harden Open vSwitch
  hvsec.hypervisor.ovs_security:
    managers: ["punix:/var/run/openvswitch/db.sock"]
    controllers: {ovsbr0: ["ssl:192.0.2.10:6653"]}
    ssl: {private_key: /etc/openvswitch/key.pem, certificate: /etc/openvswitch/cert.pem, ca_cert: /etc/openvswitch/ca.pem}
    ports:
      - {name: vnet0, tag: 100}
'''

RETURN = r'''
changes:
  description: One entry per change made (or pending in check mode), with its control ID.
  returned: always
  type: list
  elements: dict
  sample: [{control: HVS-VSW-05, msg: "remove OVSDB managers ['ptcp:6640']"}]
controls:
  description: Control ID to C(pass), C(fixed), C(waived) or C(not_applicable).
  returned: always
  type: dict
  sample: {HVS-VSW-05: fixed}
loopback_tcp:
  description: The loopback-only plain-TCP targets kept because O(allow_loopback_tcp) allows them (empty otherwise).
  returned: always
  type: list
  elements: dict
  sample: [{control: HVS-VSW-05, where: OVSDB manager, target: "ptcp:6640:127.0.0.1", why: listens on 127.0.0.1 only}]
command:
  description: The ovs-vsctl transaction that was (or would be) run, empty when nothing changes.
  returned: always
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_ovs as vo
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge as vb
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_runner import VswitchRunner, actions_diff, plan_file, plan_link

CONTROLS = ('HVS-VSW-05', 'HVS-VSW-06', 'HVS-VSW-07', 'HVS-VSW-08', 'HVS-VSW-09')


def read_host(module, vsctl):
    """The module's parameters as the planner reads them, the Open vSwitch state and the nft binary
    (when a port declares a MAC); any input error fails before planning."""
    p = module.params
    rc, out, err = module.run_command(ovs.vsctl_args(vsctl))
    if rc != 0:
        # ovs-vsctl installed but ovsdb-server not running: report, do not guess.
        module.fail_json(msg='cannot read the Open vSwitch database: %s' % err.strip())
    tables, error = ovs.parse_tables(out)
    if error:
        module.fail_json(msg='cannot parse ovs-vsctl output: %s' % error)
    state = vo.build_state(tables)

    ssl = dict((k, v) for k, v in (p['ssl'] or {}).items() if v)
    params = dict(p, ssl=ssl, skip=set(p['skip_controls']))
    errors = vo.validate(params, state, os.path.isfile)
    for i, port in enumerate(p['ports']):
        errors.extend(vb.validate_port_address(port, 'hvsec_vswitch_ovs_ports[%d] (%s)' % (i, port['name'])))
    needs_nft = any(port.get('mac') for port in p['ports'])
    nft = module.get_bin_path('nft') if needs_nft else None
    if needs_nft and not nft:
        errors.append('hvsec_vswitch_ovs_ports: ports declare mac/ips but nft (nftables) is not installed')
    if errors:
        module.fail_json(msg='invalid Open vSwitch variables: ' + '; '.join(errors), errors=errors)
    return params, state, nft


def plan_port_tables(module, params, nft):
    """Anti-spoofing tables for declared ports with a MAC: the nft steps and the files to write."""
    p = module.params
    nft_actions = []
    files = []
    if not nft or 'HVS-VSW-10' in params['skip']:
        return nft_actions, files
    for port in p['ports']:
        table, text, digest = vb.render_nft_port(port)
        rc, listed, dummy = module.run_command([nft, 'list', 'table', 'netdev', table])
        live = vb.nft_table_digest(listed) if rc == 0 else None
        path = os.path.join(p['config_dir'], 'port-%s.nft' % port['name'])
        if text is None:
            if rc == 0:
                nft_actions.append(({'control': 'HVS-VSW-10', 'msg': '%s: delete anti-spoofing table' % port['name']},
                                    [nft, 'delete', 'table', 'netdev', table]))
            continue
        if live != digest:
            nft_actions.append(({'control': 'HVS-VSW-10', 'msg': '%s: load anti-spoofing table netdev %s'
                                 % (port['name'], table)}, [nft, '-f', path]))
        wanted = [(path, text, 0o600)]
        if p['persist']:
            script = os.path.join(p['config_dir'], 'port-%s.sh' % port['name'])
            unit_path = os.path.join(p['unit_dir'], 'hvsec-vswitch-port-%s.service' % port['name'])
            spec = {'name': port['name'], 'ports': []}
            wanted.append((script, vb.render_port_script(port['name'], path), 0o700))
            wanted.append((unit_path, vb.render_unit(spec, script, 'ovs_security', 'anti-spoofing on port'), 0o644))
            for wanted_by in vb.unit_wanted_by(spec):
                link = os.path.join(p['unit_dir'], wanted_by + '.wants', os.path.basename(unit_path))
                if not os.path.islink(link):
                    files.append(plan_link(link, unit_path))
        for file_path, content, mode in wanted:
            entry = plan_file(file_path, content, mode)
            if entry:
                files.append(entry)
    return nft_actions, files


def plan(module, runner, vsctl, params, state, nft):
    """Plan the ovs-vsctl transaction and the anti-spoofing tables into ``runner``; return what
    applying needs: the transaction's arguments, the nft steps and the files."""
    actions, args = vo.plan_ovs(params, state)
    runner.result['loopback_tcp'] = vo.loopback_targets(params, state)
    nft_actions, files = plan_port_tables(module, params, nft)
    runner.result['command'] = [vsctl] + args if args else []
    runner.add_changes(actions)
    runner.add_changes(action for action, dummy in nft_actions)
    runner.add_files(files)
    if actions:
        runner.result['diff'].append(actions_diff('ovsdb', actions))
    runner.set_controls(params['skip'])
    return args, nft_actions, files


def apply(runner, vsctl, nft, args, nft_actions, files):
    """The ovs-vsctl transaction first (all or nothing), then the files, then the nft steps."""
    if args:
        rc, out, err = runner.module.run_command([vsctl] + args)
        if rc != 0:
            runner.fail('ovs-vsctl transaction failed (nothing was changed): %s' % err.strip())
    runner.write_files(files)
    for action, command in nft_actions:
        if command[1] == '-f':
            runner.check_nft(nft, command[2])
        runner.run(action['control'], command)
    if files:
        runner.daemon_reload()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            managers=dict(type='list', elements='str', default=[]),
            controllers=dict(type='dict', default={}),
            ssl=dict(type='dict', default={}, options=dict(private_key=dict(type='path'), certificate=dict(type='path'),
                                                           ca_cert=dict(type='path'))),
            fail_secure=dict(type='bool', default=True),
            allow_loopback_tcp=dict(type='bool', default=True),
            allowed_mirrors=dict(type='list', elements='str', default=[]),
            ports=dict(type='list', elements='dict', default=[],
                       options=dict(name=dict(type='str', required=True), tag=dict(type='int', required=True),
                                    mac=dict(type='str'), ips=dict(type='list', elements='str', default=[]))),
            skip_controls=dict(type='list', elements='str', default=[]),
            persist=dict(type='bool', default=True),
            config_dir=dict(type='path', default='/etc/hvsec/vswitch'),
            unit_dir=dict(type='path', default='/etc/systemd/system'),
        ),
        supports_check_mode=True,
    )
    runner = VswitchRunner(module, CONTROLS, command=[], loopback_tcp=[])
    vsctl = module.get_bin_path('ovs-vsctl')
    if not vsctl:
        runner.exit_all('not_applicable')
    params, state, nft = read_host(module, vsctl)
    planned = plan(module, runner, vsctl, params, state, nft)
    runner.finish(lambda: apply(runner, vsctl, nft, *planned))


if __name__ == '__main__':
    main()
