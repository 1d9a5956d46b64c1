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
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from conftest import role_run, ssh_new_connection

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
    for role in ('vswitch', 'mgmt_plane'):
        rc, dummy, out = role_run(role)
        assert rc == 0, 'the %s role failed on a host with libvirt NAT:\n%s' % (role, out[-3000:])
    assert _nat_works(host, libvirt_nat) == {'dns': True, 'ip_forward': True, 'masquerade': True}
    for role in ('vswitch', 'mgmt_plane'):
        rc, changed, out = role_run(role)
        assert rc == 0 and changed == 0, 'a second %s run changed something:\n%s' % (role, out[-3000:])
    assert ssh_new_connection()
