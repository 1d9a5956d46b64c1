# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployments operators run, on the hardened lab (issue 13): hardening must leave them working.

lab/run-molecule.sh runs this file as its own phase (HVSEC_LAB_VERIFY_PHASE=shapes) after the
verify, when HVSEC_MOLECULE_SHAPES=1 (make test-lab-full). Each test builds one shape with the
real daemons, runs the roles with the lab's variables (the defaults for everything else), asserts
the shape still works, that a second run changes nothing, and removes the shape again. (The
OpenStack compute node's Open vSwitch agent targets are proven in test_vswitch.py's verify.)

- Plain libvirt host: libvirt's default NAT network (virbr0 with dnsmasq, libvirt's NAT rules); a
  guest namespace on virbr0 still reaches the network's DNS service on the host.
- Proxmox VE host: the management address on the guest bridge vmbr0, whose port is the lab's NIC
  (mgmt0), written as the Proxmox installer writes it (ifupdown2 stanza, here in
  /etc/network/interfaces.d/hvsec-lab-vmbr0; the lab runs systemd-networkd, so the fixture applies
  it live with ip in one detached command and removes it again, restoring the network exactly, also
  after a failure). Two guest namespaces on vmbr0 (192.168.70.0/24, an access VLAN of their own)
  reach each other. Declared guest_only: false, the roles keep management SSH, the guests and the
  address on vmbr0, and a second run changes nothing; declared guest_only: true, the vswitch role
  refuses it (lockout guard) before any change.

Run only this phase on a fresh lab (the shapes need the hardened VM the converge leaves):

    HVSEC_MOLECULE_FAULTS=0 HVSEC_MOLECULE_CHECK=0 HVSEC_MOLECULE_SHAPES=1 make molecule

or, against a kept, converged lab VM (HVSEC_MOLECULE_KEEP=1):

    HVSEC_LAB_VERIFY_PHASE=shapes LAB_DIR=.lab/molecule .venv/bin/pytest -q -s --durations=0 \
        lab/tests/test_shapes.py

Timings (TCG): each role run takes minutes; the libvirt NAT test measured 12 min 40 s under load
(four role runs). The Proxmox tests make five role runs (one refused, four in the positive test)
plus seconds of network moves; see docs/lab.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shlex

import pytest

from conftest import lab_vars, role_run, ssh_new_connection

pytestmark = pytest.mark.skipif(os.environ.get('HVSEC_LAB_VERIFY_PHASE') != 'shapes',
                                reason='deployment shapes run as their own phase (HVSEC_LAB_VERIFY_PHASE=shapes)')

VIRBR_NS = 'nat1'


@pytest.fixture
def libvirt_nat(host):
    # Debian's libvirt-daemon-system defines the network (inactive, as the lab has it) on install.
    existed = host.run('virsh net-info default').rc == 0
    if not existed:
        host.run_expect([0], 'virsh net-define /usr/share/libvirt/networks/default.xml')
    host.run_expect([0], 'virsh net-start default')
    host.run_expect([0], 'ip netns add %s && ip link add %s-h type veth peer name eth0 netns %s && '
                         'ip link set %s-h master virbr0 up && ip -n %s link set lo up && '
                         'ip -n %s addr add 192.168.122.50/24 dev eth0 && ip -n %s link set eth0 up && '
                         'ip -n %s route add default via 192.168.122.1'
                    % ((VIRBR_NS,) * 8))
    # libvirt's default network runs STP on virbr0 (delay 0): a new port is "listening" for a
    # moment, and a probe sent then fails with "No route to host" (seen on the lab under TCG).
    # A guest's port that never forwards fails here, before anything is judged.
    rc = host.run('for i in $(seq 30); do bridge link show dev %s-h | grep -q "state forwarding" && exit 0; '
                  'sleep 1; done; exit 1' % VIRBR_NS).rc
    assert rc == 0, 'the guest port %s-h on virbr0 is not forwarding after 30 s' % VIRBR_NS
    try:
        yield VIRBR_NS
    finally:
        host.run('ip netns del %s; ip link del %s-h 2>/dev/null' % (VIRBR_NS, VIRBR_NS))
        host.run('virsh net-destroy default' + ('' if existed else '; virsh net-undefine default'))


def _nat_works(host, ns):
    """The guest reaches the network's DNS service (dnsmasq on 192.168.122.1:53), the host
    forwards, and libvirt's masquerading rule for 192.168.122.0/24 is in place."""
    dns = host.run('ip netns exec %s timeout 5 bash -c "exec 3<>/dev/tcp/192.168.122.1/53"' % ns).rc == 0
    forward = host.check_output('sysctl -n net.ipv4.ip_forward').strip() == '1'
    rules = host.check_output('(iptables-save -t nat 2>/dev/null; nft -s list ruleset 2>/dev/null) | '
                              'grep -c "192.168.122.0/24.*MASQUERADE\\|192.168.122.0/24.*masquerade" || true')
    return {'dns': dns, 'ip_forward': forward, 'masquerade': int(rules.strip() or 0) > 0}


def test_libvirt_default_nat_network_keeps_working(host, libvirt_nat):
    assert _nat_works(host, libvirt_nat) == {'dns': True, 'ip_forward': True, 'masquerade': True}
    # hvsec_harden_full: every task of both roles runs on the NAT shape, not only those of the
    # controls the audit fails there (the shape must survive the whole hardening).
    for role in ('vswitch', 'mgmt_plane'):
        rc, dummy, out = role_run(role, extra={'hvsec_harden_full': True})
        assert rc == 0, 'the %s role failed on a host with libvirt NAT:\n%s' % (role, out[-3000:])
    assert _nat_works(host, libvirt_nat) == {'dns': True, 'ip_forward': True, 'masquerade': True}
    for role in ('vswitch', 'mgmt_plane'):
        rc, changed, out = role_run(role)
        assert rc == 0 and changed == 0, 'a second %s run changed something:\n%s' % (role, out[-3000:])
    assert ssh_new_connection()


# ------------------------------------------------------------------ Proxmox VE management bridge
PVE_BRIDGE = 'vmbr0'
PVE_FILE = '/etc/network/interfaces.d/hvsec-lab-%s' % PVE_BRIDGE
PVE_LOG = '/run/hvsec-lab-%s.log' % PVE_BRIDGE
# Guests on vmbr0: a private test subnet on the bridge's ports only (the management subnet stays
# the host's), in an access VLAN of their own, so the declaration's VLAN filtering is exercised.
PVE_GUESTS = (('pve1', '02:00:00:00:70:11', '192.168.70.11'), ('pve2', '02:00:00:00:70:12', '192.168.70.12'))
PVE_GUEST_VLAN = 70


def _pve_declaration(guest_only):
    """The lab's hvsec_vswitch_bridges plus vmbr0 as a Proxmox operator declares it: the guest ports
    (access VLAN, MAC and address for anti-spoofing); the NIC and the host keep VLAN 1."""
    bridge = {'name': PVE_BRIDGE, 'guest_only': guest_only,
              'ports': [{'name': '%s-h' % ns, 'vlans': [PVE_GUEST_VLAN], 'mac': mac, 'ips': [ip]}
                        for ns, mac, ip in PVE_GUESTS]}
    return {'hvsec_vswitch_bridges': lab_vars()['hvsec_vswitch_bridges'] + [bridge]}


def _ip_json(host, args):
    return json.loads(host.check_output('ip -j %s' % args) or '[]')


def _mgmt_network(host):
    """The lab's management network as up.sh/build-image.sh leave it: the default route's device
    (mgmt0), its MAC, IPv4 addresses and the default route."""
    routes = _ip_json(host, '-4 route show default')
    assert len(routes) == 1, 'expected one IPv4 default route on the lab, got %r' % routes
    nic = routes[0]['dev']
    link = _ip_json(host, 'link show dev %s' % nic)[0]
    addrs = [a for a in _ip_json(host, '-4 addr show dev %s' % nic)[0].get('addr_info') or []
             if a.get('scope') == 'global']
    assert addrs, 'the default route device %s has no global IPv4 address' % nic
    return {'nic': nic, 'mac': link['address'], 'gateway': routes[0]['gateway'],
            'route': host.check_output('ip -4 route show default'), 'addrs': addrs}


def _net_snapshot(host, nic):
    """What restoring the lab's network must give back exactly: the NIC's link (master, state) and
    addresses, every IPv4 route and whether the shape's links are still there."""
    link = _ip_json(host, 'link show dev %s' % nic)[0]
    addrs = _ip_json(host, 'addr show dev %s' % nic)[0].get('addr_info') or []
    return {'master': link.get('master'), 'operstate': link.get('operstate'),
            'addrs': sorted('%s/%s %s' % (a['local'], a['prefixlen'], a.get('scope')) for a in addrs),
            'routes': sorted(host.check_output('ip -4 route show table main').splitlines()),
            'leftover': host.check_output('ip -o link show | grep -c "%s\\|pve[12]-h" || true' % PVE_BRIDGE)}


def _addr_args(addr):
    return '%s/%s%s' % (addr['local'], addr['prefixlen'], ' brd %s' % addr['broadcast'] if addr.get('broadcast') else '')


def pve_up_script(net):
    """One shell command moving the management address onto vmbr0 (NIC as its port), as ifupdown2
    brings up the stanza: any failing step puts the NIC back as it was."""
    nic, br = net['nic'], PVE_BRIDGE
    up = ['ip link add %s type bridge stp_state 0 forward_delay 0' % br,
          # Proxmox pins the bridge MAC to its port's: QEMU's user network keeps the MAC it knows.
          'ip link set dev %s address %s' % (br, net['mac']),
          'ip link set dev %s up' % br]
    up += ['ip addr del %s/%s dev %s' % (a['local'], a['prefixlen'], nic) for a in net['addrs']]
    up += ['ip link set dev %s master %s' % (nic, br)]
    up += ['ip addr add %s dev %s' % (_addr_args(a), br) for a in net['addrs']]
    up += ['ip route replace default via %s dev %s proto static' % (net['gateway'], br)]
    back = ['ip link set dev %s nomaster' % nic, 'ip link del %s' % br]
    back += ['ip addr add %s dev %s' % (_addr_args(a), nic) for a in net['addrs']]
    back += ['ip route replace %s' % net['route']]
    return '{ %s; } || { echo "vmbr0 up failed; restoring %s"; %s; exit 1; }' % (
        ' && '.join(up), nic, '; '.join(back))


def pve_down_script(net):
    """One shell command putting the management network back exactly as it was."""
    nic, br = net['nic'], PVE_BRIDGE
    cmds = ['ip route del default dev %s' % br]
    cmds += ['ip addr del %s/%s dev %s' % (a['local'], a['prefixlen'], br) for a in net['addrs']]
    cmds += ['ip link set dev %s nomaster' % nic, 'ip link del %s' % br]
    cmds += ['ip addr add %s dev %s' % (_addr_args(a), nic) for a in net['addrs']]
    cmds += ['ip route replace %s' % net['route']]
    return '; '.join(cmds)


def pve_interfaces(net):
    """vmbr0 as the Proxmox VE installer writes it to /etc/network/interfaces (ifupdown2)."""
    lines = ['# hvsec lab shape (lab/tests/test_shapes.py): a Proxmox VE management bridge.',
             '# The lab runs no ifupdown2; the fixture applies this stanza with ip and removes it.',
             'iface %s inet manual' % net['nic'], '',
             'auto %s' % PVE_BRIDGE, 'iface %s inet static' % PVE_BRIDGE]
    lines += ['\taddress %s/%s' % (a['local'], a['prefixlen']) for a in net['addrs']]
    lines += ['\tgateway %s' % net['gateway'], '\tbridge-ports %s' % net['nic'], '\tbridge-stp off', '\tbridge-fd 0']
    return '\n'.join(lines) + '\n'


def _detached(host, script, log):
    """Run ``script`` in its own session: the SSH connection that starts it may stall while the
    management address moves, and the script must finish anyway."""
    host.run_expect([0], 'setsid -f sh -c %s >%s 2>&1 </dev/null' % (shlex.quote(script), log))


def _wait(host, condition, what, seconds=60):
    rc = host.run('for i in $(seq %d); do if %s; then exit 0; fi; sleep 1; done; exit 1' % (seconds, condition)).rc
    assert rc == 0, '%s within %d s (log: %s)' % (what, seconds, host.run('cat %s' % PVE_LOG).stdout)


def _on_vmbr0(host, net):
    """The management addresses are on vmbr0, the NIC is its port and the default route leaves
    through vmbr0."""
    addrs = {a['local'] for a in _ip_json(host, '-4 addr show dev %s' % PVE_BRIDGE)[0].get('addr_info') or []}
    nic = _ip_json(host, 'link show dev %s' % net['nic'])[0]
    return (addrs >= {a['local'] for a in net['addrs']} and nic.get('master') == PVE_BRIDGE
            and _ip_json(host, '-4 route show default')[0].get('dev') == PVE_BRIDGE)


def _pve_guests_ping(host):
    """Whether each guest namespace on vmbr0 reaches the other (ICMP; a second try for TCG)."""
    reach = {}
    for (ns, dummy, dummy2), (dummy3, dummy4, other) in zip(PVE_GUESTS, reversed(PVE_GUESTS)):
        reach[ns] = host.run('ip netns exec {ns} ping -c 1 -W 3 {ip} || ip netns exec {ns} ping -c 2 -W 5 {ip}'
                             .format(ns=ns, ip=other)).rc == 0
    return reach


def _remove_persisted(host):
    """What a vswitch run declaring vmbr0 leaves behind (boot unit and its .wants links, script, nft
    table): the lab reboots after this phase and must not find a unit for a bridge that is gone."""
    unit = 'hvsec-vswitch-%s.service' % PVE_BRIDGE
    host.run('systemctl stop {u}; rm -f /etc/systemd/system/{u} /etc/hvsec/vswitch/bridge-{br}.sh '
             '/etc/hvsec/vswitch/bridge-{br}.nft; for d in /etc/systemd/system/*.wants; do '
             'if [ -L "$d/{u}" ]; then rm -f "$d/{u}"; rmdir "$d" 2>/dev/null; fi; done; '
             'systemctl daemon-reload; systemctl reset-failed {u} 2>/dev/null; '
             'nft delete table bridge hvsec_{br} 2>/dev/null; true'.format(u=unit, br=PVE_BRIDGE))


@pytest.fixture
def proxmox_bridge(host):
    """A Proxmox VE host's network on the hardened lab: the management address on vmbr0, whose port
    is the lab's NIC, declared in /etc/network/interfaces.d/ and applied live; two guest namespaces
    on vmbr0. Teardown (also after a failure) restores the network exactly and checks it did."""
    net = _mgmt_network(host)
    before = _net_snapshot(host, net['nic'])
    made = [d for d in ('/etc/network', '/etc/network/interfaces.d') if host.run('test -d %s' % d).rc != 0]
    try:
        host.run_expect([0], 'mkdir -p /etc/network/interfaces.d && printf %%s %s > %s'
                        % (shlex.quote(pve_interfaces(net)), PVE_FILE))
        _detached(host, pve_up_script(net), PVE_LOG)
        _wait(host, 'ip -4 route show default | grep -q "dev %s " || grep -q "up failed" %s' % (PVE_BRIDGE, PVE_LOG),
              'the default route did not move to %s' % PVE_BRIDGE)
        assert _on_vmbr0(host, net), host.run('ip addr; ip route; cat %s' % PVE_LOG).stdout
        assert ssh_new_connection(), 'no new SSH connection with the management address on %s' % PVE_BRIDGE
        for ns, mac, ip in PVE_GUESTS:
            host.run_expect([0], 'ip netns add {ns} && ip link add {ns}-h type veth peer name eth0 netns {ns} && '
                                 'ip link set {ns}-h master {br} up && ip -n {ns} link set lo up && '
                                 'ip -n {ns} link set eth0 address {mac} && ip -n {ns} addr add {ip}/24 dev eth0 && '
                                 'ip -n {ns} link set eth0 up'.format(ns=ns, br=PVE_BRIDGE, mac=mac, ip=ip))
        yield net
    finally:
        for ns, dummy, dummy2 in PVE_GUESTS:
            host.run('ip netns del %s; ip link del %s-h 2>/dev/null' % (ns, ns))
        _remove_persisted(host)
        host.run('rm -f %s' % PVE_FILE + ''.join('; rmdir %s' % d for d in reversed(made)))
        if host.run('ip link show dev %s' % PVE_BRIDGE).rc == 0:
            _detached(host, pve_down_script(net), PVE_LOG)
            _wait(host, '! ip link show dev %s >/dev/null 2>&1 && ip -4 route show default | grep -q "dev %s "'
                  % (PVE_BRIDGE, net['nic']), 'the management network was not restored')
        after = _net_snapshot(host, net['nic'])
        assert after == before, 'the lab network was not restored exactly:\nbefore %r\nafter  %r' % (before, after)
        assert ssh_new_connection(), 'no new SSH connection after restoring the lab network'


def _pve_state(host, net):
    """What the refused run must leave alone: the addresses, VLAN filtering and VLANs of vmbr0."""
    link = _ip_json(host, '-d link show dev %s' % PVE_BRIDGE)[0]
    return {'addrs': sorted(a['local'] for a in _ip_json(host, 'addr show dev %s' % PVE_BRIDGE)[0].get('addr_info') or []),
            'vlan_filtering': link['linkinfo']['info_data'].get('vlan_filtering'),
            'vlans': host.check_output('bridge -j vlan show'),
            'routes': sorted(host.check_output('ip -4 route show table main').splitlines()),
            'nft': host.run('nft list table bridge hvsec_%s' % PVE_BRIDGE).rc,
            'on_vmbr0': _on_vmbr0(host, net)}


def test_proxmox_management_bridge_declared_guest_only_is_refused(host, proxmox_bridge):
    """vmbr0 declared guest_only (the default) carries the management address: the vswitch role
    refuses it before any change, naming the bridge, and the host's network stays as it was."""
    before = _pve_state(host, proxmox_bridge)
    assert _pve_guests_ping(host) == {'pve1': True, 'pve2': True}
    rc, changed, out = role_run('vswitch', extra=_pve_declaration(guest_only=True))
    assert rc != 0, 'vmbr0 declared guest_only was not refused:\n%s' % out[-3000:]
    # docs/refused-configurations.md: the bridge carries the connection's address (or the route).
    assert re.search('bridge %s is declared guest_only but (carries|the default route leaves through it)'
                     % PVE_BRIDGE, out), out[-3000:]
    assert changed == 0, 'the refused run changed something:\n%s' % out[-3000:]
    assert _pve_state(host, proxmox_bridge) == before
    assert _pve_guests_ping(host) == {'pve1': True, 'pve2': True}
    assert ssh_new_connection()


def test_proxmox_management_bridge_keeps_working(host, proxmox_bridge):
    """vmbr0 declared guest_only: false (docs/vswitch.md, docs/refused-configurations.md): both roles
    succeed, management SSH and the guests on vmbr0 keep working, and a second run changes nothing."""
    extra = _pve_declaration(guest_only=False)
    assert _pve_guests_ping(host) == {'pve1': True, 'pve2': True}
    # The lab is hardened already: the first runs work on every control (hvsec_harden_full), so
    # the guards, the firewall and sshd tasks meet the moved address, not the audit's skip.
    for role in ('vswitch', 'mgmt_plane'):
        rc, dummy, out = role_run(role, extra=dict(extra, hvsec_harden_full=True))
        assert rc == 0, 'the %s role failed on a Proxmox-style host:\n%s' % (role, out[-3000:])
        assert ssh_new_connection(), 'no new SSH connection after the %s role' % role
    assert _on_vmbr0(host, proxmox_bridge)
    assert _pve_guests_ping(host) == {'pve1': True, 'pve2': True}
    # As declared: the guest ports are access ports of their VLAN, filtering is on.
    link = _ip_json(host, '-d link show dev %s' % PVE_BRIDGE)[0]
    assert link['linkinfo']['info_data'].get('vlan_filtering') == 1
    for role in ('vswitch', 'mgmt_plane'):
        rc, changed, out = role_run(role, extra=extra)
        assert rc == 0 and changed == 0, 'a second %s run changed something:\n%s' % (role, out[-3000:])
    assert ssh_new_connection()
    assert _pve_guests_ping(host) == {'pve1': True, 'pve2': True}
