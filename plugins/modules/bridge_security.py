#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: bridge_security
short_description: Harden Linux bridges that carry guest traffic
version_added: 0.1.0
description:
  - Enforces controls HVS-VSW-01 to HVS-VSW-04 on declared Linux bridges, and MAC/IP
    anti-spoofing for declared non-libvirt ports (HVS-VSW-10 for ports that libvirt's nwfilter does not cover).
  - "HVS-VSW-01: C(vlan_filtering) on and exactly the declared VLANs on each declared port."
  - "HVS-VSW-02: on C(guest_only) bridges no host address (link-local excepted) and the bridge device itself
    (the host's own port) is removed from every VLAN, so no guest frame reaches the host's IP stack."
  - "HVS-VSW-03: on C(guest_only) bridges IPv6 autoconf and router advertisements off and IPv6 disabled."
  - "HVS-VSW-04: proxy ARP off on the bridge and its ports."
  - Declared ports with a C(mac) (and optional C(ips)) get an nftables C(bridge) family table that drops
    frames whose source MAC, ARP sender or IP source differ from the declaration.
  - The state is read with C(ip -j), C(bridge -j vlan show), sysfs and procfs; changes are made with C(ip),
    C(bridge), C(nft) and procfs writes. Persistence is a small idempotent script plus a oneshot systemd unit
    that runs whenever the bridge or a declared port appears, so it works whichever tool (ifupdown,
    systemd-networkd, NetworkManager, libvirt) creates the bridge.
  - Every input error (bridge or port missing, port on another bridge, VLAN outside 1-4094, bad MAC/IP) is
    reported before anything changes. A guest_only bridge that carries the address of the running SSH
    connection or the default route is refused.
options:
  bridges:
    description: Bridges to harden (the role's C(hvsec_vswitch_bridges)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Bridge name; it must exist and be a Linux bridge.
        type: str
        required: true
      guest_only:
        description: The bridge carries only guest traffic (no host address, host not a VLAN member, no IPv6).
        type: bool
        default: true
      vlan_filtering:
        description: Turn vlan_filtering on and enforce the declared port VLANs.
        type: bool
        default: true
      ports:
        description:
          - Guest ports with their VLANs. One VLAN and no C(pvid) makes an access port (untagged, PVID);
            otherwise C(pvid) is untagged and the other VLANs are tagged. Undeclared VLANs are removed.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Port name; it must be a port of this bridge.
            type: str
            required: true
          vlans:
            description: VLAN IDs 1-4094.
            type: list
            elements: int
            default: []
          pvid:
            description: Untagged native VLAN 1-4094.
            type: int
          mac:
            description: The guest's MAC address; frames from the port with another source MAC are dropped.
            type: str
          ips:
            description: The guest's IP addresses; needs C(mac) and an access port.
            type: list
            elements: str
            default: []
  persist:
    description: Install the boot-time re-apply script and systemd unit.
    type: bool
    default: true
  config_dir:
    description: Directory for the generated scripts and nftables files.
    type: path
    default: /etc/hvsec/vswitch
notes:
  - Supports check mode (reports the pending changes without making them) and diff mode.
  - Bridges not declared are left alone; undeclared ports of declared bridges keep their VLANs.
requirements:
  - iproute2 (C(ip), C(bridge)); nftables when a port declares C(mac).
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
  - hvsec.hypervisor.remediation
  - hvsec.hypervisor.remediation.systemd_units
'''

EXAMPLES = r'''
- name: Harden the guest bridge
  hvsec.hypervisor.bridge_security:
    bridges:
      - name: br-guest
        guest_only: true
        ports:
          - {name: vnet-a, vlans: [100], mac: "02:00:00:00:01:01", ips: [192.0.2.11]}
          - {name: uplink0, vlans: [100, 200]}
'''

RETURN = r'''
changes:
  description: One entry per change made (or, in check mode, pending), with its control ID.
  returned: always
  type: list
  elements: dict
  sample: [{control: HVS-VSW-01, msg: "br-guest: enable vlan_filtering"}]
controls:
  description: Control ID to C(pass), C(fixed) or C(not_applicable).
  returned: always
  type: dict
  sample: {HVS-VSW-01: fixed, HVS-VSW-02: pass}
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_int
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge as vb
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_runner import VswitchRunner, actions_diff, plan_file, plan_link

CONTROLS = ('HVS-VSW-01', 'HVS-VSW-02', 'HVS-VSW-03', 'HVS-VSW-04')


def _run(module, args):
    rc, out, err = module.run_command(args)
    if rc != 0:
        module.fail_json(msg='%s failed: %s' % (' '.join(args), err.strip()))
    return out


def gather(module, bridges):
    try:
        links = vb.parse_links(_run(module, ['ip', '-j', '-d', 'link', 'show']))
        addrs = vb.parse_addresses(_run(module, ['ip', '-j', 'addr', 'show']))
        vlans = vb.parse_bridge_vlans(_run(module, ['bridge', '-j', 'vlan', 'show']))
    except ValueError as e:
        module.fail_json(msg='cannot parse iproute2 JSON output: %s' % e)
    states = {}
    for br in bridges:
        name = br['name']
        if links.get(name, {}).get('kind') != 'bridge':
            continue
        ports = [p for p, link in links.items() if link.get('master') == name]
        states[name] = {
            'vlan_filtering': read_int('/sys/class/net/%s/bridge/vlan_filtering' % name) == 1,
            'vlans': vlans,
            'addresses': addrs.get(name, []),
            'sysctl': {
                'autoconf': read_int('/proc/sys/net/ipv6/conf/%s/autoconf' % name),
                'accept_ra': read_int('/proc/sys/net/ipv6/conf/%s/accept_ra' % name),
                'disable_ipv6': read_int('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % name),
                'proxy_arp': read_int('/proc/sys/net/ipv4/conf/%s/proxy_arp' % name),
            },
            'port_proxyarp': dict(
                (p, {'proxyarp': read_int('/sys/class/net/%s/brport/proxyarp' % p),
                     'proxyarp_wifi': read_int('/sys/class/net/%s/brport/proxyarp_wifi' % p)})
                for p in sorted(ports)),
        }
    return links, states


def default_route_devs(module):
    rc, out, err = module.run_command(['ip', '-j', 'route', 'show', 'default'])
    if rc != 0:
        return set()
    try:
        return set(vb.parse_default_route_devs(out))
    except ValueError:
        return set()


def ssh_server_ip():
    return vb.ssh_server_address(os.environ)


def read_host(module, runner):
    """The nft binary (None when not installed) and the state of the declared bridges; every
    control is not applicable without bridges, and any input error fails before planning."""
    bridges = module.params['bridges']
    if not bridges:
        runner.exit_all('not_applicable')
    for tool in ('ip', 'bridge'):
        if not module.get_bin_path(tool):
            module.fail_json(msg='%s (iproute2) is not installed but hvsec_vswitch_bridges declares bridges' % tool)
    links, states = gather(module, bridges)
    errors = vb.validate_bridges(bridges, links)
    # nft is looked up also when no port declares a MAC: a table an earlier run loaded must be
    # deleted with the declaration (without nft installed, no such table can be loaded).
    needs_nft = any(port.get('mac') for br in bridges for port in br['ports'])
    nft = module.get_bin_path('nft')
    if needs_nft and not nft:
        errors.append('hvsec_vswitch_bridges: ports declare mac/ips but nft (nftables) is not installed')
    if errors:
        module.fail_json(msg='invalid hvsec_vswitch_bridges: ' + '; '.join(errors), errors=errors)
    return nft, states


def plan(module, runner, nft, states, skip):
    """Plan the runtime actions and the files of every declared bridge into ``runner``; return
    what applying needs: the actions, the files, whether a unit changes and the nft files to load."""
    p = module.params
    bridges = p['bridges']
    route_devices = default_route_devs(module)
    ssh_address = ssh_server_ip()
    actions = []
    files = []
    units_changed = False
    nft_loads = []
    for br in bridges:
        spec = dict(br, skip=skip)
        risk = vb.lockout_risk(spec, states[br['name']], ssh_address, route_devices)
        if risk:
            module.fail_json(msg=risk)
        actions.extend(vb.plan_bridge(spec, states[br['name']]))
        table, text, digest = vb.render_nft(br['name'], br['ports'])
        nft_path = os.path.join(p['config_dir'], 'bridge-%s.nft' % br['name'])
        live = None
        if nft:
            rc, out, err = module.run_command([nft, 'list', 'table', 'bridge', table])
            live = vb.nft_table_digest(out) if rc == 0 else None
            live_exists = rc == 0
        else:
            live_exists = False
        if text is not None:
            if live != digest:
                actions.append({'control': 'HVS-VSW-10', 'msg': '%s: load anti-spoofing table bridge %s' % (br['name'], table),
                                'nft': nft_path})
                nft_loads.append((nft_path, text))
        elif live_exists:
            actions.append({'control': 'HVS-VSW-10', 'msg': '%s: delete anti-spoofing table bridge %s (no port declares a MAC)'
                            % (br['name'], table), 'cmd': [nft, 'delete', 'table', 'bridge', table]})
        if p['persist']:
            script_path = os.path.join(p['config_dir'], 'bridge-%s.sh' % br['name'])
            unit = vb.unit_name(br['name'])
            unit_path = os.path.join(p['unit_dir'], unit)
            for path, content, mode in ((nft_path, text, 0o600),
                                        (script_path, vb.render_boot_script(spec, nft_path if text else None), 0o700),
                                        (unit_path, vb.render_unit(spec, script_path), 0o644)):
                entry = plan_file(path, content, mode)
                if entry:
                    files.append(entry)
                    units_changed = units_changed or path == unit_path
            for wanted_by in vb.unit_wanted_by(spec):
                link = os.path.join(p['unit_dir'], wanted_by + '.wants', unit)
                if os.path.realpath(link) != os.path.realpath(unit_path) or not os.path.islink(link):
                    files.append(plan_link(link, unit_path))
                    units_changed = True
        elif text is not None:
            entry = plan_file(nft_path, text, 0o600)
            if entry:
                files.append(entry)

    runner.add_changes(dict(control=a['control'], msg=a['msg']) for a in actions)
    runner.add_files(files)
    if actions:
        runner.result['diff'].append(actions_diff('runtime', actions))
    runner.set_controls(skip)
    return actions, files, units_changed, nft_loads


def apply(runner, nft, actions, files, units_changed, nft_loads):
    """Files first: the nft file must exist before it is loaded; then the runtime actions."""
    runner.write_files(files)
    for path, text in nft_loads:
        if not os.path.exists(path):
            runner.write_files([plan_file(path, text, 0o600)])
    for action in actions:
        if 'nft' in action:
            runner.check_nft(nft, action['nft'])
            runner.run(action['control'], [nft, '-f', action['nft']])
        elif 'cmd' in action:
            runner.run(action['control'], action['cmd'])
        else:
            runner.write_value(action['control'], *action['write'])
    if units_changed:
        runner.daemon_reload()


def main():
    port_spec = dict(name=dict(type='str', required=True), vlans=dict(type='list', elements='int', default=[]),
                     pvid=dict(type='int'), mac=dict(type='str'), ips=dict(type='list', elements='str', default=[]))
    bridge_spec = dict(name=dict(type='str', required=True), guest_only=dict(type='bool', default=True),
                       vlan_filtering=dict(type='bool', default=True),
                       ports=dict(type='list', elements='dict', default=[], options=port_spec))
    module = AnsibleModule(
        argument_spec=dict(
            bridges=dict(type='list', elements='dict', default=[], options=bridge_spec),
            skip_controls=dict(type='list', elements='str', default=[]),
            persist=dict(type='bool', default=True),
            config_dir=dict(type='path', default='/etc/hvsec/vswitch'),
            unit_dir=dict(type='path', default='/etc/systemd/system'),
        ),
        supports_check_mode=True,
    )
    runner = VswitchRunner(module, CONTROLS)
    nft, states = read_host(module, runner)
    planned = plan(module, runner, nft, states, set(module.params['skip_controls']))
    runner.finish(lambda: apply(runner, nft, *planned))


if __name__ == '__main__':
    main()
