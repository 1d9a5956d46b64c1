# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capture the unit-test fixtures that are real tool output (run as root on Debian 12).

    python tools/capture_fixtures.py nft    nft -j list ruleset, in a private network namespace
    python tools/capture_fixtures.py ovs    ovs-vsctl JSON, against a private ovsdb-server

Nothing touches the host: nft runs under ``unshare -n`` (its own, empty ruleset), the OVS
database is a new file served on a socket in a temporary directory (no ovs-vswitchd, so
``--no-wait``). ``OVS_BIN`` may name a directory holding ovs-vsctl, ovsdb-server and ovsdb-tool
and ``OVS_SCHEMA`` the vswitch.ovsschema (for example from the extracted Debian packages:
``apt-get download openvswitch-common openvswitch-switch libxdp1``, ``dpkg -x`` each into one
directory, then small wrapper scripts in ``OVS_BIN`` that set ``LD_LIBRARY_PATH`` to its
usr/lib/x86_64-linux-gnu; that is how the OpenStack and pci_passthrough topology fixtures were
captured, with Open vSwitch 3.1.0).
"""

from __future__ import absolute_import, division, print_function

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils', 'fixtures')


def _load(name):
    path = os.path.join(ROOT, 'plugins', 'module_utils', name + '.py')
    spec = importlib.util.spec_from_file_location('hvsec_' + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path, text):
    with open(path, 'w') as handle:
        handle.write(text if text.endswith('\n') else text + '\n')
    print('wrote %s' % os.path.relpath(path, ROOT))


# ------------------------------------------------------------------ nftables
# Debian 12's /etc/nftables.conf
DEBIAN_FILTER = '''table inet filter {
    chain input { type filter hook input priority filter; }
    chain forward { type filter hook forward priority filter; }
    chain output { type filter hook output priority filter; }
}
'''
# the shape libvirt's nftables firewall backend creates for a NAT network
LIBVIRT_NETWORK = '''table %(family)s libvirt_network {
    chain forward {
        type filter hook forward priority filter; policy accept;
        counter jump guest_cross
    }
    chain guest_cross {
    }
}
'''
# roles/mgmt_plane/templates/hvsec_mgmt.nft.j2 rendered for admin 192.0.2.0/24 and the default ports
MGMT = '''table inet hvsec_mgmt {
    set admin_v4 { type ipv4_addr; flags interval; auto-merge; elements = { 192.0.2.0/24 } }
    set admin_v6 { type ipv6_addr; flags interval; auto-merge; }
    set mgmt_tcp { type inet_service; flags interval; auto-merge;
                   elements = { 22, 5900-5999, 6640, 16509, 16514, 49152-49215 } }
    chain input {
        type filter hook input priority filter - 10; policy accept;
        iif "lo" accept
        tcp dport != @mgmt_tcp accept
        ct state established,related accept
        ip saddr @admin_v4 accept
        ip6 saddr @admin_v6 accept
        counter drop comment "hvsec: management port from a non-administrator address"
    }
}
'''
BRIDGE_PORTS = [
    {'name': 'vg1', 'vlans': [100], 'mac': '02:00:00:00:50:11', 'ips': ['192.168.50.11']},
    {'name': 'vg2', 'vlans': [100], 'mac': '02:00:00:00:50:12', 'ips': ['192.168.50.12']},
    {'name': 'vg3', 'vlans': [200], 'mac': '02:00:00:00:50:13', 'ips': ['192.168.50.13']},
]
OVS_PORTS = [
    {'name': 'vo1', 'tag': 100, 'mac': '02:00:00:00:60:11', 'ips': ['192.168.60.11', '2001:db8::11']},
    {'name': 'vo2', 'tag': 100, 'mac': '02:00:00:00:60:12', 'ips': []},
]


def _nft_capture(ruleset, devices=()):
    """Load ``ruleset`` into a new network namespace (with veth ``devices``) and list it as JSON."""
    script = ['set -e']
    for dev in devices:
        script.append('ip link add %s type veth peer name %sp' % (dev, dev))
    script.append('nft -f -')
    script.append('nft -j list ruleset')
    return subprocess.check_output(['unshare', '-n', 'sh', '-c', '\n'.join(script)],
                                   input=ruleset.encode(), universal_newlines=False).decode()


def capture_nft():
    vb = _load('vswitch_bridge')
    host = DEBIAN_FILTER + LIBVIRT_NETWORK % {'family': 'ip'} + LIBVIRT_NETWORK % {'family': 'ip6'} + MGMT
    _write(os.path.join(FIXTURES, 'intel_vtd', 'cmd', 'nft_ruleset.json'), _nft_capture(host))
    tables = [vb.render_nft('br-guest', BRIDGE_PORTS)[1]] + [vb.render_nft_port(p)[1] for p in OVS_PORTS]
    _write(os.path.join(FIXTURES, 'vswitch', 'nft_ruleset_hardened.json'),
           _nft_capture(host + ''.join(tables), [p['name'] for p in OVS_PORTS]))
    # vg2's table entry and vo2's whole table missing; vg3 declared with another MAC
    broken = [dict(BRIDGE_PORTS[0]), dict(BRIDGE_PORTS[2], mac='02:00:00:00:50:99')]
    tables = [vb.render_nft('br-guest', broken)[1], vb.render_nft_port(OVS_PORTS[0])[1]]
    _write(os.path.join(FIXTURES, 'vswitch', 'nft_ruleset_partial.json'),
           _nft_capture(host + ''.join(tables), ['vo1']))


# ------------------------------------------------------------------ Open vSwitch
class OvsDb(object):
    """A private ovsdb-server on a fresh database."""

    def __init__(self):
        self.bin = os.environ.get('OVS_BIN', '')
        schema = os.environ.get('OVS_SCHEMA', '/usr/share/openvswitch/vswitch.ovsschema')
        self.dir = tempfile.mkdtemp(prefix='hvsec-ovs-')
        self.db = os.path.join(self.dir, 'conf.db')
        self.sock = os.path.join(self.dir, 'db.sock')
        subprocess.check_call([self.tool('ovsdb-tool'), 'create', self.db, schema])
        subprocess.check_call([self.tool('ovsdb-server'), self.db, '--remote=punix:' + self.sock,
                               '--unixctl=' + os.path.join(self.dir, 'ctl'), '--pidfile=' + os.path.join(self.dir, 'pid'),
                               '--detach', '--no-chdir', '--log-file=' + os.path.join(self.dir, 'log')])
        for dummy in range(50):
            if os.path.exists(self.sock):
                break
            time.sleep(0.1)
        self.vsctl('init')

    def tool(self, name):
        return os.path.join(self.bin, name) if self.bin else name

    def vsctl(self, *args):
        return subprocess.check_output([self.tool('ovs-vsctl'), '--db=unix:' + self.sock, '--no-wait'] + list(args),
                                       universal_newlines=True)

    def read(self, args):
        """Run the read-only call ``args`` (its binary replaced by ours)."""
        return subprocess.check_output([self.tool('ovs-vsctl'), '--db=unix:' + self.sock] + list(args[1:]),
                                       universal_newlines=True)

    def close(self):
        with open(os.path.join(self.dir, 'pid')) as handle:
            os.kill(int(handle.read().strip()), 15)
        shutil.rmtree(self.dir, ignore_errors=True)


def _lab_insecure(db):
    """The lab's OVS state before the vswitch role (lab/molecule/default/tasks/prepare_vswitch.yml)."""
    db.vsctl('add-br', 'ovsbr0', '--', 'add-br', 'ovsbr1')
    for port in ('vo1', 'vo2', 'vo3'):
        db.vsctl('add-port', 'ovsbr0', port)
    db.vsctl('set-manager', 'ptcp:6640')
    db.vsctl('set-controller', 'ovsbr0', 'tcp:127.0.0.1:6653')
    db.vsctl('set-controller', 'ovsbr1', 'ptcp:6653')
    db.vsctl('--', '--id=@p', 'get', 'Port', 'vo1', '--', '--id=@m', 'create', 'Mirror', 'name=m0',
             'select-all=true', 'output-port=@p', '--', 'add', 'Bridge', 'ovsbr0', 'mirrors', '@m')


def _lab_hardened(db):
    """The same database after the vswitch role (what ovs_security's transaction leaves)."""
    db.vsctl('del-manager', '--', 'del-controller', 'ovsbr0',
             '--', 'set-controller', 'ovsbr1', 'punix:/run/openvswitch/ovsbr1.hvsec.ctl',
             '--', 'set-fail-mode', 'ovsbr1', 'secure', '--', 'clear', 'Bridge', 'ovsbr0', 'mirrors')
    for port, tag in (('vo1', 100), ('vo2', 100), ('vo3', 200)):
        db.vsctl('set', 'Port', port, 'tag=%d' % tag, 'vlan_mode=access')


def _facts_host(db):
    """The intel_vtd fixture host: one bridge, a guest port with a tag and trunks, two managers, a mirror."""
    db.vsctl('add-br', 'ovsbr0', '--', 'add-port', 'ovsbr0', 'vnet1', 'tag=100', 'trunks=100,200',
             'vlan_mode=access', '--', 'set', 'Port', 'vnet1', 'external_ids:vm-id=guest1')
    db.vsctl('set-manager', 'ptcp:6640', 'pssl:6641:127.0.0.1')
    db.vsctl('set-controller', 'ovsbr0', 'tcp:127.0.0.1:6653')
    db.vsctl('--', '--id=@p', 'get', 'Port', 'ovsbr0', '--', '--id=@m', 'create', 'Mirror', 'name=mirror0',
             'select-all=true', 'output-port=@p', '--', 'add', 'Bridge', 'ovsbr0', 'mirrors', '@m')
    db.vsctl('set', 'Open_vSwitch', '.', 'ovs_version=3.1.0', 'db_version=8.3.1')


def _openstack_compute(db):
    """A compute node as the Neutron Open vSwitch agent leaves it: OVSDB manager on loopback only
    (ptcp:6640:127.0.0.1), its native OpenFlow controller on loopback (tcp:127.0.0.1:6633) on
    br-int, br-tun and br-ex, fail_mode secure, patch ports, a VXLAN tunnel, the uplink eth1 on
    br-ex and one guest tap port (local VLAN 1)."""
    for br in ('br-int', 'br-tun', 'br-ex'):
        db.vsctl('add-br', br, '--', 'set-fail-mode', br, 'secure',
                 '--', 'set', 'Bridge', br, 'protocols=OpenFlow10,OpenFlow13,OpenFlow14')
    for br, port, peer in (('br-int', 'patch-tun', 'patch-int'), ('br-tun', 'patch-int', 'patch-tun'),
                           ('br-int', 'int-br-ex', 'phy-br-ex'), ('br-ex', 'phy-br-ex', 'int-br-ex')):
        db.vsctl('add-port', br, port, '--', 'set', 'Interface', port, 'type=patch', 'options:peer=%s' % peer)
    db.vsctl('add-port', 'br-tun', 'vxlan-0a000002', '--', 'set', 'Interface', 'vxlan-0a000002', 'type=vxlan',
             'options:remote_ip=10.0.0.2', 'options:local_ip=10.0.0.1', 'options:key=flow', 'options:df_default=true')
    db.vsctl('add-port', 'br-ex', 'eth1')
    db.vsctl('add-port', 'br-int', 'tap3f0c2a1e-5b', 'tag=1', '--', 'set', 'Interface', 'tap3f0c2a1e-5b',
             'external_ids:iface-id=3f0c2a1e-5b1d-4c4e-9a0e-6d2b8f1e7c11', 'external_ids:attached-mac=fa:16:3e:12:34:56')
    db.vsctl('set-manager', 'ptcp:6640:127.0.0.1')
    for br in ('br-int', 'br-tun', 'br-ex'):
        db.vsctl('set-controller', br, 'tcp:127.0.0.1:6633')
    for uuid in db.vsctl('--bare', '--columns=_uuid', 'list', 'Controller').split():
        db.vsctl('set', 'Controller', uuid, 'connection_mode=out-of-band', 'inactivity_probe=0')


def _openstack_exposed(db):
    """The same node where someone opened the OVSDB manager on every address and added a remote
    plain-TCP controller to br-ex; br-tun's controller uses the IPv6 loopback."""
    _openstack_compute(db)
    db.vsctl('set-manager', 'ptcp:6640')
    db.vsctl('set-controller', 'br-ex', 'tcp:127.0.0.1:6633', 'tcp:192.0.2.50:6633')
    db.vsctl('set-controller', 'br-tun', 'tcp:[::1]:6633')


def _passthrough_uplinks(db):
    """The OVS side of tests/unit/plugins/modules (pci_passthrough): the management address sits
    on br-ex's internal port, whose uplinks are eth1 and the OVS bond bond0 (eth3 + eth4); br-ex
    is patched to br-int (guest port vnet0); br-phy is an OVS-DPDK bridge on 0000:00:03.0."""
    db.vsctl('add-br', 'br-ex', '--', 'add-port', 'br-ex', 'eth1', '--', 'add-bond', 'br-ex', 'bond0', 'eth3', 'eth4')
    db.vsctl('add-br', 'br-int', '--', 'add-port', 'br-int', 'vnet0')
    for br, port, peer in (('br-int', 'int-br-ex', 'phy-br-ex'), ('br-ex', 'phy-br-ex', 'int-br-ex')):
        db.vsctl('add-port', br, port, '--', 'set', 'Interface', port, 'type=patch', 'options:peer=%s' % peer)
    db.vsctl('add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev',
             '--', 'add-port', 'br-phy', 'dpdk0', '--', 'set', 'Interface', 'dpdk0', 'type=dpdk',
             'options:dpdk-devargs=0000:00:03.0')


def capture_ovs():
    ovs = _load('ovs')
    args = ovs.vsctl_args('ovs-vsctl')
    for setup, targets in (((_lab_insecure,), [os.path.join(FIXTURES, 'vswitch', 'ovs_insecure.json')]),
                           ((_lab_insecure, _lab_hardened), [os.path.join(FIXTURES, 'vswitch', 'ovs_hardened.json')]),
                           ((_facts_host,), [os.path.join(FIXTURES, 'intel_vtd', 'cmd', 'ovs_vsctl.json')]),
                           ((_openstack_compute,), [os.path.join(FIXTURES, 'vswitch', 'ovs_openstack.json')]),
                           ((_openstack_exposed,), [os.path.join(FIXTURES, 'vswitch', 'ovs_openstack_exposed.json')])):
        db = OvsDb()
        try:
            for step in setup:
                step(db)
            out = db.read(args)
        finally:
            db.close()
        for target in targets:
            _write(target, out)
    # pci_passthrough's own read: which interfaces sit below each OVS bridge
    db = OvsDb()
    try:
        _passthrough_uplinks(db)
        out = db.read(ovs.topology_args('ovs-vsctl'))
    finally:
        db.close()
    _write(os.path.join(ROOT, 'tests', 'unit', 'plugins', 'modules', 'fixtures', 'vfio', 'ovs-topology.json'), out)


def main(argv):
    actions = {'nft': capture_nft, 'ovs': capture_ovs}
    if len(argv) != 2 or argv[1] not in actions:
        sys.stderr.write('usage: %s nft|ovs\n' % argv[0])
        return 2
    actions[argv[1]]()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
