# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' input checks accept valid input (tests/e2e/test_bad_input.py proves they refuse bad
input; a check that refused everything would pass it). Each role's check filter
(plugins/filter/role_checks.py) gets the role's variables as the role_input lookup converts them,
from the argument spec defaults, a set of valid non-default values and, where it reads them, facts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import pytest

from ansible.utils.collection_loader import AnsibleCollectionConfig

pytestmark = pytest.mark.skipif(AnsibleCollectionConfig.collection_finder is None,
                                reason='needs the collection loader: run with ansible-test units (make units)')

if AnsibleCollectionConfig.collection_finder is not None:
    from ansible_collections.hvsec.hypervisor.plugins.filter import role_checks
    from ansible_collections.hvsec.hypervisor.plugins.lookup.role_input import convert, role_spec

WAIVERS = [{'id': 'HVS-IOMMU-14', 'reason': 'CI runners need nested virtualization'}]


def role_input(role, **overrides):
    """The role's variables as lookup('hvsec.hypervisor.role_input') gives them to the filters."""
    return convert(role_spec(role), overrides, role)


def iommu_errors(**overrides):
    return role_checks.iommu_input_errors(role_input('iommu', **overrides))


def vfio_errors(**overrides):
    return role_checks.vfio_input_errors(role_input('vfio', **overrides))


def vswitch_errors(facts, **overrides):
    inp = role_input('vswitch', **overrides)
    return role_checks.vswitch_input_errors(inp) + role_checks.vswitch_host_errors(inp, facts['hvsec'])


def mgmt_errors(**overrides):
    return role_checks.mgmt_input_errors(role_input('mgmt_plane', **overrides))


def test_iommu_accepts_valid_input():
    assert iommu_errors() == []
    assert iommu_errors(hvsec_waivers=WAIVERS, hvsec_iommu_reboot_timeout=60, hvsec_iommu_guest_shutdown_timeout=1) == []
    assert iommu_errors(hvsec_iommu_reboot_timeout=0) == ['hvsec_iommu_reboot_timeout must be greater than 0 seconds, got 0']


VFIO_VALID = dict(
    hvsec_vfio_allowlist=[{'address': '0000:01:00.0', 'name': 'GPU'}, {'address': '02:00.1'}, {'id': '8086:10CA'}],
    hvsec_vfio_sriov=[{'pf': 'enp1s0f0', 'numvfs': 2, 'vfs': [
        {'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 1, 'rate': 0},
        {'vf': 1, 'mac': '52:54:00:AA:BB:02', 'vlan': 4094, 'spoofchk': True, 'trust': False}]},
        {'pf': 'eth2', 'numvfs': 0}],
    hvsec_vfio_protect_interfaces=['eno1', 'bond0.100'],
    hvsec_waivers=WAIVERS,
)


def test_vfio_accepts_valid_input():
    assert vfio_errors() == []
    assert vfio_errors(**VFIO_VALID) == []


@pytest.mark.parametrize('override,fragment', [
    ({'hvsec_vfio_allowlist': [{'address': '0000:01:00.0\n'}]}, 'malformed PCI address'),
    ({'hvsec_vfio_protect_interfaces': ['eth0\n']}, 'not a valid interface name'),
    ({'hvsec_vfio_allowlist': [{'address': '01:00.0'}, {'address': '0000:01:00.0'}]}, 'listed twice'),
])
def test_vfio_refuses_what_a_trailing_newline_or_a_duplicate_hides(override, fragment):
    errors = vfio_errors(**override)
    assert len(errors) == 1 and fragment in errors[0]


VSWITCH_FACTS = {'hvsec': {
    'network': {'bridges': [{'name': 'br-guest', 'ports': ['vnet0', 'vnet1']}],
                'ovs': {'bridges': [{'name': 'br-int', 'ports': [{'name': 'vo1'}]}]}},
    'libvirt': {'installed': True, 'nwfilters': ['clean-traffic', 'no-ip-spoofing']}}}
VSWITCH_VALID = dict(
    hvsec_vswitch_bridges=[{'name': 'br-guest', 'ports': [
        {'name': 'vnet0', 'vlans': [100], 'mac': '52:54:00:00:00:01', 'ips': ['192.0.2.7', '2001:db8::7']},
        {'name': 'vnet1', 'vlans': [100, 200], 'pvid': 100}]}],
    hvsec_vswitch_ovs_ports=[{'name': 'vo1', 'tag': 10, 'mac': '52:54:00:00:00:02', 'ips': ['198.51.100.2']}],
    hvsec_vswitch_ovs_managers=['pssl:6640', 'punix:/run/openvswitch/db.sock'],
    hvsec_vswitch_ovs_controllers={'br-int': ['ssl:192.0.2.1:6653']},
    hvsec_vswitch_ovs_ssl={'private_key': '/etc/openvswitch/key.pem', 'certificate': '/etc/openvswitch/cert.pem',
                           'ca_cert': '/etc/openvswitch/ca.pem'},
    hvsec_vswitch_nwfilter='no-ip-spoofing',
    hvsec_waivers=WAIVERS,
)


def test_vswitch_accepts_valid_input():
    assert vswitch_errors(VSWITCH_FACTS) == []
    assert vswitch_errors(VSWITCH_FACTS, **VSWITCH_VALID) == []


def test_vswitch_refuses_a_trailing_newline():
    errors = vswitch_errors(VSWITCH_FACTS, hvsec_vswitch_nwfilter='clean-traffic\n')
    assert 'hvsec_vswitch_nwfilter: "clean-traffic\n" is not a valid nwfilter name' in errors


MGMT_VALID = dict(
    hvsec_mgmt_plane_firewall=True, hvsec_mgmt_plane_admin_cidrs=['192.0.2.0/24'],
    hvsec_mgmt_plane_libvirt_remote='tls', hvsec_mgmt_plane_libvirt_tls_allowed_dn_list=['C=GB,O=Example,CN=*'],
    hvsec_mgmt_plane_console_port_min=1, hvsec_mgmt_plane_console_port_max=65535,
    hvsec_mgmt_plane_migration_port_min=49152, hvsec_mgmt_plane_migration_port_max=49152,
    hvsec_mgmt_plane_firewall_extra_tcp_ports=[8443, '9000-9100', '10050'],
    hvsec_mgmt_plane_firewall_rollback_seconds=30, hvsec_mgmt_plane_firewall_confirm_timeout=29,
    hvsec_mgmt_plane_sshd_rollback_seconds=300, hvsec_mgmt_plane_sshd_confirm_timeout=1,
    hvsec_mgmt_plane_sshd_allow_groups=['admins', 'svc.backup'], hvsec_mgmt_plane_libvirt_unix_group='kvm-admins',
    hvsec_mgmt_plane_sshd_extra_options={'ClientAliveInterval': 300, 'AllowTcpForwarding': False, 'MaxAuthTries': '3'},
    hvsec_waivers=WAIVERS,
)


def test_mgmt_plane_accepts_valid_input():
    assert mgmt_errors() == []
    assert mgmt_errors(**MGMT_VALID) == []
    assert mgmt_errors(hvsec_mgmt_plane_libvirt_unix_group='') == []


@pytest.mark.parametrize('override,errors', [
    ({'hvsec_mgmt_plane_sshd_confirm_timeout': 120},
     ['hvsec_mgmt_plane_sshd_confirm_timeout must be smaller than hvsec_mgmt_plane_sshd_rollback_seconds']),
    ({'hvsec_mgmt_plane_sshd_confirm_timeout': 0, 'hvsec_mgmt_plane_sshd_rollback_seconds': -5},
     ['hvsec_mgmt_plane_sshd_rollback_seconds must be greater than 0 seconds, got -5',
      'hvsec_mgmt_plane_sshd_confirm_timeout must be greater than 0 seconds, got 0',
      'hvsec_mgmt_plane_sshd_confirm_timeout must be smaller than hvsec_mgmt_plane_sshd_rollback_seconds']),
    # the sshd timing is its own: the firewall's does not stand in for it, nor the other way round
    ({'hvsec_mgmt_plane_sshd_rollback_seconds': 30, 'hvsec_mgmt_plane_firewall_rollback_seconds': 600},
     ['hvsec_mgmt_plane_sshd_confirm_timeout must be smaller than hvsec_mgmt_plane_sshd_rollback_seconds']),
    ({'hvsec_mgmt_plane_firewall_rollback_seconds': 30, 'hvsec_mgmt_plane_sshd_rollback_seconds': 600},
     ['hvsec_mgmt_plane_firewall_confirm_timeout must be smaller than hvsec_mgmt_plane_firewall_rollback_seconds']),
])
def test_mgmt_plane_refuses_an_sshd_rollback_that_fires_before_the_confirmation(override, errors):
    assert mgmt_errors(**override) == errors


@pytest.mark.parametrize('override,fragment', [
    ({'hvsec_mgmt_plane_sshd_allow_groups': ['admins\n']}, 'invalid group name'),
    ({'hvsec_mgmt_plane_firewall_extra_tcp_ports': ['22\n']}, 'is not a TCP port'),
    ({'hvsec_mgmt_plane_sshd_ciphers': ['aes256-ctr\n']}, 'is not one algorithm name'),
])
def test_mgmt_plane_refuses_a_trailing_newline(override, fragment):
    errors = mgmt_errors(**override)
    assert len(errors) == 1 and fragment in errors[0]


NAT_FACTS = {'hvsec': {
    'network': {'bridges': [{'name': 'virbr0', 'ports': ['vnet3'], 'addresses': ['192.168.122.1/24', 'fe80::1/64']},
                            {'name': 'br-ext', 'ports': [], 'addresses': ['198.51.100.9/24']},
                            {'name': 'virbr1', 'ports': [], 'addresses': ['fe80::2/64']}]},
    'libvirt': {'installed': True, 'nwfilters': ['clean-traffic'],
                'networks': [{'name': 'default', 'forward': 'nat', 'bridge': 'virbr0'},
                             {'name': 'lan', 'forward': 'bridge', 'bridge': 'br-ext'},
                             {'name': 'isolated', 'forward': None, 'bridge': 'virbr1'}]}}}


def test_vswitch_refuses_a_libvirt_network_gateway_declared_guest_only():
    """A libvirt NAT/routed/isolated network's bridge carries its guests' gateway (and DHCP/DNS):
    guest_only would remove that address, so it is refused before any change; a bridge that a
    libvirt network only uses (forward bridge) or one without a host address is not."""
    errors = vswitch_errors(NAT_FACTS, hvsec_vswitch_bridges=[{'name': 'virbr0'}, {'name': 'br-ext'}, {'name': 'virbr1'}])
    assert errors == [
        'hvsec_vswitch_bridges[0] (virbr0): bridge virbr0 is the bridge of libvirt network default (forward nat) and '
        'carries 192.168.122.1/24, its guests\' gateway; guest_only would remove it and cut the guests off. '
        'Set guest_only: false for it']
    assert vswitch_errors(NAT_FACTS, hvsec_vswitch_bridges=[{'name': 'virbr0', 'guest_only': False}]) == []
    waived = [{'id': 'HVS-VSW-02', 'reason': 'libvirt NAT gateway'}]
    assert vswitch_errors(NAT_FACTS, hvsec_vswitch_bridges=[{'name': 'virbr0'}], hvsec_waivers=waived) == []


PROXMOX_FACTS = {'hvsec': {
    'network': {'bridges': [{'name': 'vmbr0', 'ports': ['eno1', 'tap100i0'], 'addresses': ['10.0.2.15/24', 'fe80::5054:ff:fe12:3456/64']},
                            {'name': 'vmbr1', 'ports': ['eno2'], 'addresses': ['192.0.2.7/24']},
                            {'name': 'vmbr2', 'ports': ['eno3'], 'addresses': []}],
                'default_route_devs': ['vmbr0'], 'ssh_server_address': '192.0.2.7'},
    'libvirt': {'installed': False}}}


def test_vswitch_refuses_a_management_bridge_declared_guest_only_before_any_change():
    """Proxmox VE's vmbr0 carries the management address and the default route; a bridge carries the
    address the controller's SSH connection reached. guest_only would remove those addresses, which
    the bridge_security module refuses only after earlier modules ran: the role's validation refuses
    it from the facts, naming the bridge. guest_only: false, or HVS-VSW-02 waived, is accepted."""
    errors = vswitch_errors(PROXMOX_FACTS, hvsec_vswitch_bridges=[{'name': 'vmbr0'}, {'name': 'vmbr1'}, {'name': 'vmbr2'}])
    assert errors == [
        'hvsec_vswitch_bridges[0] (vmbr0): bridge vmbr0 is declared guest_only but the default route leaves through it; '
        'removing its addresses would cut the host off. Set guest_only: false or move the route',
        'hvsec_vswitch_bridges[1] (vmbr1): bridge vmbr1 is declared guest_only but carries 192.0.2.7, the address this '
        'Ansible connection uses; set guest_only: false for it or move management elsewhere']
    assert vswitch_errors(PROXMOX_FACTS, hvsec_vswitch_bridges=[{'name': 'vmbr0', 'guest_only': False},
                                                                {'name': 'vmbr1', 'guest_only': False}]) == []
    waived = [{'id': 'HVS-VSW-02', 'reason': 'management on the bridges'}]
    assert vswitch_errors(PROXMOX_FACTS, hvsec_vswitch_bridges=[{'name': 'vmbr0'}, {'name': 'vmbr1'}], hvsec_waivers=waived) == []
    # Facts gathered before these keys existed (or unreadable): nothing to judge, the module still checks.
    older = {'hvsec': {'network': {'bridges': PROXMOX_FACTS['hvsec']['network']['bridges']}, 'libvirt': {'installed': False}}}
    assert vswitch_errors(older, hvsec_vswitch_bridges=[{'name': 'vmbr0'}, {'name': 'vmbr1'}]) == []
