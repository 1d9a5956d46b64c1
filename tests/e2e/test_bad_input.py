# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input is refused before anything changes (issue 9, "Bad input refused").

A table of bad role variables (wrong types, out-of-range values, malformed addresses, unknown
control IDs, contradictory settings) over every role. Each case runs the role in check mode
against this machine (``ansible_connection=local``) and must:

* fail (the host's recap shows failed=1, changed=0, and the run's exit code is not 0);
* fail in a validation task: argument spec validation, the role's input checks, or its
  host-side checks; the host appears in no task after that one, and before it only in
  read-only tasks (fact gathering);
* say why, naming the variable (the task's ``msg`` contains the variable and the case's
  specific fragment, so a case cannot pass by failing for another reason);
* leave every file under /etc/default, /etc/ssh, /etc/modprobe.d, /etc/libvirt and /boot/grub
  byte-for-byte as it was (sha256 before and after).

For speed the cases of one role run as one ``ansible-playbook --check``: every case is a host of
a generated inventory (all local connections) carrying that case's variables, so each case gets
its own task results and recap line. Cases that need real hardware (a VF count above the device's
sriov_totalvfs, a device sharing an IOMMU group, an OVS bridge that does not exist) are in
lab/tests/test_vfio.py and lab/tests/test_vswitch.py.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from conftest import tree_checksums

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
WATCHED = ['/etc/default', '/etc/ssh', '/etc/modprobe.d', '/etc/libvirt', '/boot/grub']
REPORT = os.environ.get('HVSEC_SAFETY_REPORT_DIR', os.path.join(ROOT, 'tests', 'output', 'safety'))

ARG_SPEC = r"^Validating arguments against arg spec '(main|validate)'"
# Per role: the tasks a bad input may fail in (validation), and the read-only tasks that may run
# before the failure. Anything else the host reaches means the input got past validation.
VALIDATION = {
    'iommu': [ARG_SPEC, r'^Iommu \| Validate input'],
    'vfio': [ARG_SPEC, r'^Vfio \| Validate role input', r'^Vfio \| Validate the request against this host'],
    'vswitch': [ARG_SPEC, r'(?i)vswitch \| Validate the virtual switch variables'],
    'mgmt_plane': [ARG_SPEC, r'^Mgmt_plane \| Check the role', r'^Mgmt_plane \| Validate and normalize',
                   r'^Mgmt_plane \| Fail on missing files', r'^Mgmt_plane \| Refuse a libvirt TLS server key',
                   r'^HVS-MGMT-03 \| Refuse a socket group',
                   r'^HVS-MGMT-18 \| Refuse firewall rules'],
}
# Every role first reads its variables converted to their argument spec types (a set_fact).
READ_ONLY = {
    'iommu': [r'^Iommu \| Read the role variables'],
    'vfio': [r'^Vfio \| Read the role variables', r'^Vfio \| Gather hypervisor facts'],
    'vswitch': [r'(?i)vswitch \| Read the role variables', r'(?i)vswitch \| Gather hypervisor facts once'],
    'mgmt_plane': [r'^Mgmt_plane \| Read the role variables',
                   r'^Mgmt_plane \| Gather hypervisor facts', r'^Mgmt_plane \| Check TLS files',
                   r'^HVS-MGMT-03 \| Look up the libvirt socket group',
                   r"^Mgmt_plane \| Find the controller's SSH connection",
                   r"^Mgmt_plane \| Record the controller's connection",
                   r'^Mgmt_plane \| Choose the controls to work on'],
}
# The plan of the controls to work on (controller-side, read-only) comes after the input checks of
# vfio and vswitch; a later role's failure may follow it.
PLAN_TASKS = [r'^Vfio \| Choose the controls to work on', r'(?i)vswitch \| Choose the controls to work on']
STAGE = {'spec': [ARG_SPEC]}


class Case(object):
    """One bad input. ``expect``: fragments the failure message must contain (the first is the
    variable's name); ``stage``: 'spec' (argument spec) or 'role' (the role's own checks)."""

    def __init__(self, cid, role, variables, expect, stage='role'):
        self.id = cid
        self.role = role
        self.vars = variables
        self.expect = [expect] if isinstance(expect, str) else list(expect)
        self.stage = stage


W = 'hvsec_waivers'
_VF = {'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100}


def _sriov(**vf):
    entry = dict(_VF)
    entry.update(vf)
    return {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 2, 'vfs': [entry]}]}


def _bridge(**port):
    entry = {'name': 'vnet0', 'vlans': [10]}
    entry.update(port)
    return {'hvsec_vswitch_bridges': [{'name': 'br-guest', 'ports': [entry]}]}


def _shared(role):
    """The variables every role shares: waivers and the reboot switch."""
    return [
        Case(role + '_waiver_unknown_id', role, {W: [{'id': 'HVS-NOPE-99', 'reason': 'typo'}]},
             [W + '[0].id', 'HVS-NOPE-99', 'not a known control ID']),
        Case(role + '_waiver_unknown_number', role, {W: [{'id': 'HVS-VSW-99', 'reason': 'typo'}]},
             [W + '[0].id', 'HVS-VSW-99']),
        Case(role + '_waiver_empty_reason', role, {W: [{'id': 'HVS-MGMT-01', 'reason': ' '}]},
             [W + '[0]', 'reason']),
        Case(role + '_waiver_missing_reason', role, {W: [{'id': 'HVS-MGMT-01'}]},
             [W, 'reason'], 'spec'),
        Case(role + '_waiver_unknown_key', role, {W: [{'id': 'HVS-MGMT-01', 'reason': 'x', 'until': '2030'}]},
             [W, 'until'], 'spec'),
        Case(role + '_waivers_not_a_list', role, {W: {'id': 'HVS-MGMT-01'}},
             [W, 'list'], 'spec'),
        Case(role + '_waiver_bad_expiry', role, {W: [{'id': 'HVS-MGMT-01', 'reason': 'x', 'expires': '31.12.2030'}]},
             [W + '[0].expires must be a date (YYYY-MM-DD)', '31.12.2030']),
        Case(role + '_reboot_ok_not_bool', role, {'hvsec_reboot_ok': 'maybe'},
             ['hvsec_reboot_ok', 'bool'], 'spec'),
    ]


CASES = _shared('iommu') + [
    Case('iommu_policy_unknown', 'iommu', {'hvsec_iommu_policy': 'lenient'},
         ['hvsec_iommu_policy', 'lenient'], 'spec'),
    Case('iommu_bootloader_unknown', 'iommu', {'hvsec_iommu_bootloader': 'lilo'},
         ['hvsec_iommu_bootloader', 'lilo'], 'spec'),
    Case('iommu_vendor_unknown', 'iommu', {'hvsec_iommu_vendor': 'via'}, ['hvsec_iommu_vendor', 'via'], 'spec'),
    Case('iommu_running_guests_unknown', 'iommu', {'hvsec_iommu_running_guests': 'kill'},
         ['hvsec_iommu_running_guests', 'kill'], 'spec'),
    Case('iommu_manage_cmdline_not_bool', 'iommu', {'hvsec_iommu_manage_cmdline': 'perhaps'},
         ['hvsec_iommu_manage_cmdline', 'bool'], 'spec'),
    Case('iommu_nosmt_list', 'iommu', {'hvsec_iommu_nosmt': ['yes']}, ['hvsec_iommu_nosmt', 'bool'], 'spec'),
    Case('iommu_reboot_timeout_text', 'iommu', {'hvsec_iommu_reboot_timeout': 'soon'},
         ['hvsec_iommu_reboot_timeout', 'int'], 'spec'),
    Case('iommu_reboot_timeout_zero', 'iommu', {'hvsec_iommu_reboot_timeout': 0},
         ['hvsec_iommu_reboot_timeout', 'greater than 0']),
    Case('iommu_guest_shutdown_timeout_negative', 'iommu', {'hvsec_iommu_guest_shutdown_timeout': -5},
         ['hvsec_iommu_guest_shutdown_timeout', 'greater than 0']),
    Case('iommu_shutdown_guests_without_timeout', 'iommu',
         {'hvsec_iommu_running_guests': 'shutdown', 'hvsec_iommu_guest_shutdown_timeout': 0},
         ['hvsec_iommu_guest_shutdown_timeout', 'greater than 0']),
] + _shared('vfio') + [
    Case('vfio_address_short', 'vfio', {'hvsec_vfio_allowlist': [{'address': '01:00'}]},
         ['hvsec_vfio_allowlist[0]', 'malformed PCI address', '01:00']),
    Case('vfio_address_not_hex', 'vfio', {'hvsec_vfio_allowlist': [{'address': '0000:0g:00.0'}]},
         ['hvsec_vfio_allowlist[0]', 'malformed PCI address']),
    Case('vfio_address_function_8', 'vfio', {'hvsec_vfio_allowlist': [{'address': '0000:01:00.8'}]},
         ['hvsec_vfio_allowlist[0]', 'malformed PCI address']),
    Case('vfio_address_trailing_newline', 'vfio', {'hvsec_vfio_allowlist': [{'address': '0000:01:00.0\n'}]},
         ['hvsec_vfio_allowlist[0]', 'malformed PCI address']),
    Case('vfio_id_malformed', 'vfio', {'hvsec_vfio_allowlist': [{'id': '8086-10d3'}]},
         ['hvsec_vfio_allowlist[0]', 'malformed vendor:device id']),
    Case('vfio_address_and_id', 'vfio', {'hvsec_vfio_allowlist': [{'address': '0000:01:00.0', 'id': '8086:10d3'}]},
         ['hvsec_vfio_allowlist[0]', 'exactly one of address or id']),
    Case('vfio_neither_address_nor_id', 'vfio', {'hvsec_vfio_allowlist': [{'name': 'gpu'}]},
         ['hvsec_vfio_allowlist[0]', 'exactly one of address or id']),
    Case('vfio_allowlist_typo_key', 'vfio', {'hvsec_vfio_allowlist': [{'adress': '0000:01:00.0'}]},
         ['hvsec_vfio_allowlist', 'adress'], 'spec'),
    Case('vfio_allowlist_duplicate', 'vfio',
         {'hvsec_vfio_allowlist': [{'address': '0000:01:00.0'}, {'address': '0000:01:00.0'}]},
         ['hvsec_vfio_allowlist[1]', 'listed twice']),
    Case('vfio_numvfs_text', 'vfio', {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 'four'}]},
         ['hvsec_vfio_sriov', 'numvfs', 'int'], 'spec'),
    Case('vfio_numvfs_fraction', 'vfio', {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 2.5}]},
         ['hvsec_vfio_sriov', 'numvfs'], 'spec'),
    Case('vfio_numvfs_negative', 'vfio', {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': -1}]},
         ['hvsec_vfio_sriov[0].numvfs', 'integer >= 0']),
    Case('vfio_pf_missing', 'vfio', {'hvsec_vfio_sriov': [{'numvfs': 2}]}, ['hvsec_vfio_sriov', 'pf'], 'spec'),
    Case('vfio_pf_bad_name', 'vfio', {'hvsec_vfio_sriov': [{'pf': 'eth0/../x', 'numvfs': 2}]},
         ['hvsec_vfio_sriov[0].pf', 'not a valid interface name']),
    Case('vfio_pf_twice', 'vfio', {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 1}, {'pf': 'enp1s0f0', 'numvfs': 2}]},
         ['hvsec_vfio_sriov[1].pf', 'declared twice']),
    Case('vfio_vf_vlan_0', 'vfio', _sriov(vlan=0), ['hvsec_vfio_sriov[0].vfs[0].vlan', 'outside 1-4094']),
    Case('vfio_vf_vlan_5000', 'vfio', _sriov(vlan=5000), ['hvsec_vfio_sriov[0].vfs[0].vlan', '5000']),
    Case('vfio_vf_index_out_of_range', 'vfio', _sriov(vf=2), ['hvsec_vfio_sriov[0].vfs[0].vf', 'not a VF index']),
    Case('vfio_vf_mac_multicast', 'vfio', _sriov(mac='01:00:5e:00:00:01'),
         ['hvsec_vfio_sriov[0].vfs[0].mac', 'unicast']),
    Case('vfio_vf_mac_zero', 'vfio', _sriov(mac='00:00:00:00:00:00'), ['hvsec_vfio_sriov[0].vfs[0].mac', 'unicast']),
    Case('vfio_vf_mac_missing', 'vfio', {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 1, 'vfs': [{'vf': 0, 'vlan': 5}]}]},
         ['hvsec_vfio_sriov', 'mac'], 'spec'),
    Case('vfio_vf_rate_negative', 'vfio', _sriov(rate=-1), ['hvsec_vfio_sriov[0].vfs[0].rate', '>= 0']),
    Case('vfio_vf_trust_not_bool', 'vfio', _sriov(trust='yes please'), ['hvsec_vfio_sriov', 'trust'], 'spec'),
    Case('vfio_vf_declared_twice', 'vfio',
         {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 2, 'vfs': [
             dict(_VF), dict(_VF, mac='52:54:00:aa:bb:02')]}]},
         ['hvsec_vfio_sriov[0].vfs[1].vf', 'declared twice']),
    Case('vfio_vf_mac_twice', 'vfio',
         {'hvsec_vfio_sriov': [{'pf': 'enp1s0f0', 'numvfs': 2, 'vfs': [dict(_VF), dict(_VF, vf=1)]}]},
         ['hvsec_vfio_sriov[0].vfs[1].mac', 'used twice']),
    Case('vfio_initramfs_unknown', 'vfio', {'hvsec_vfio_initramfs': 'sometimes'},
         ['hvsec_vfio_initramfs', 'sometimes'], 'spec'),
    Case('vfio_protect_interface_bad_name', 'vfio', {'hvsec_vfio_protect_interfaces': ['eth0 eth1']},
         ['hvsec_vfio_protect_interfaces[0]', 'not a valid interface name']),
] + _shared('vswitch') + [
    Case('vswitch_ovs_tag_0', 'vswitch', {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 0}]},
         ['hvsec_vswitch_ovs_ports[0]', 'outside 1-4094']),
    Case('vswitch_ovs_tag_5000', 'vswitch', {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 5000}]},
         ['hvsec_vswitch_ovs_ports[0]', '5000', 'outside 1-4094']),
    Case('vswitch_ovs_tag_text', 'vswitch', {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 'ten'}]},
         ['hvsec_vswitch_ovs_ports', 'tag', 'int'], 'spec'),
    Case('vswitch_ovs_port_without_name', 'vswitch', {'hvsec_vswitch_ovs_ports': [{'tag': 10}]},
         ['hvsec_vswitch_ovs_ports', 'name'], 'spec'),
    Case('vswitch_ovs_port_twice', 'vswitch',
         {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 10}, {'name': 'vnet0', 'tag': 20}]},
         ['hvsec_vswitch_ovs_ports[1]', 'declared twice']),
    Case('vswitch_ovs_port_bad_mac', 'vswitch',
         {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 10, 'mac': '52:54:00:zz:00:01'}]},
         ['hvsec_vswitch_ovs_ports[0]', 'not a MAC address']),
    Case('vswitch_ovs_port_bad_ip', 'vswitch',
         {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 10, 'mac': '52:54:00:00:00:01', 'ips': ['10.0.0.300']}]},
         ['hvsec_vswitch_ovs_ports[0]', '10.0.0.300', 'not an IP address']),
    Case('vswitch_ovs_port_ips_without_mac', 'vswitch',
         {'hvsec_vswitch_ovs_ports': [{'name': 'vnet0', 'tag': 10, 'ips': ['10.0.0.5']}]},
         ['hvsec_vswitch_ovs_ports[0]', 'ips given without mac']),
    Case('vswitch_ovs_manager_plain_tcp', 'vswitch', {'hvsec_vswitch_ovs_managers': ['ptcp:6640']},
         ['hvsec_vswitch_ovs_managers', 'ptcp:6640', 'not allowed']),
    Case('vswitch_ovs_controller_plain_tcp', 'vswitch',
         {'hvsec_vswitch_ovs_controllers': {'br-int': ['tcp:192.0.2.1:6653']}},
         ['hvsec_vswitch_ovs_controllers[br-int]', 'not allowed']),
    Case('vswitch_ovs_controller_not_a_list', 'vswitch',
         {'hvsec_vswitch_ovs_controllers': {'br-int': 'ssl:192.0.2.1:6653'}},
         ['hvsec_vswitch_ovs_controllers[br-int]', 'list']),
    Case('vswitch_ovs_controllers_not_a_dict', 'vswitch', {'hvsec_vswitch_ovs_controllers': ['ssl:192.0.2.1:6653']},
         ['hvsec_vswitch_ovs_controllers', 'dict'], 'spec'),
    Case('vswitch_ovs_ssl_incomplete', 'vswitch', {'hvsec_vswitch_ovs_ssl': {'private_key': '/etc/openvswitch/k.pem'}},
         ['hvsec_vswitch_ovs_ssl.certificate', 'missing']),
    Case('vswitch_ovs_ssl_unknown_key', 'vswitch', {'hvsec_vswitch_ovs_ssl': {'key': '/etc/openvswitch/k.pem'}},
         ['hvsec_vswitch_ovs_ssl', 'key'], 'spec'),
    Case('vswitch_bridge_vlan_0', 'vswitch', _bridge(vlans=[0]), ['hvsec_vswitch_bridges[0]', 'VLAN 0 is outside 1-4094']),
    Case('vswitch_bridge_vlan_5000', 'vswitch', _bridge(vlans=[10, 5000]),
         ['hvsec_vswitch_bridges[0]', 'VLAN 5000 is outside 1-4094']),
    Case('vswitch_bridge_pvid_5000', 'vswitch', _bridge(pvid=5000), ['hvsec_vswitch_bridges[0]', 'VLAN 5000']),
    Case('vswitch_bridge_vlan_text', 'vswitch', _bridge(vlans=['ten']), ['hvsec_vswitch_bridges', 'vlans'], 'spec'),
    Case('vswitch_bridge_port_no_vlan', 'vswitch', _bridge(vlans=[]),
         ['hvsec_vswitch_bridges[0]', 'declare at least one VLAN']),
    Case('vswitch_bridge_bad_mac', 'vswitch', _bridge(mac='52:54:00:00:01'),
         ['hvsec_vswitch_bridges[0]', 'not a MAC address']),
    Case('vswitch_bridge_bad_ip', 'vswitch', _bridge(mac='52:54:00:00:00:01', ips=['2001:db8::zz']),
         ['hvsec_vswitch_bridges[0]', '2001:db8::zz', 'not an IP address']),
    Case('vswitch_bridge_ips_without_mac', 'vswitch', _bridge(ips=['192.0.2.7']),
         ['hvsec_vswitch_bridges[0]', 'ips given without mac']),
    Case('vswitch_bridge_ips_on_trunk', 'vswitch', _bridge(vlans=[10, 20], mac='52:54:00:00:00:01', ips=['192.0.2.7']),
         ['hvsec_vswitch_bridges[0]', 'needs an access port']),
    Case('vswitch_bridge_twice', 'vswitch',
         {'hvsec_vswitch_bridges': [{'name': 'br-guest'}, {'name': 'br-guest'}]},
         ['hvsec_vswitch_bridges[1]', 'declared twice']),
    Case('vswitch_bridge_bad_name', 'vswitch', {'hvsec_vswitch_bridges': [{'name': 'br guest'}]},
         ['hvsec_vswitch_bridges[0]', 'not a valid interface name']),
    Case('vswitch_bridge_without_name', 'vswitch', {'hvsec_vswitch_bridges': [{'ports': []}]},
         ['hvsec_vswitch_bridges', 'name'], 'spec'),
    Case('vswitch_macvtap_mode_bridge', 'vswitch', {'hvsec_vswitch_macvtap_mode': 'bridge'},
         ['hvsec_vswitch_macvtap_mode', 'bridge'], 'spec'),
    Case('vswitch_nwfilter_empty', 'vswitch', {'hvsec_vswitch_nwfilter': ''},
         ['hvsec_vswitch_nwfilter', 'not a valid nwfilter name']),
] + _shared('mgmt_plane') + [
    Case('mgmt_cidr_prefix_33', 'mgmt_plane', {'hvsec_mgmt_plane_admin_cidrs': ['192.0.2.0/33']},
         ['hvsec_mgmt_plane_admin_cidrs', '192.0.2.0/33']),
    Case('mgmt_cidr_garbage', 'mgmt_plane', {'hvsec_mgmt_plane_admin_cidrs': ['admins']},
         ['hvsec_mgmt_plane_admin_cidrs', 'admins', 'not a CIDR']),
    Case('mgmt_cidr_everything', 'mgmt_plane', {'hvsec_mgmt_plane_admin_cidrs': ['0.0.0.0/0']},
         ['hvsec_mgmt_plane_admin_cidrs', 'admits every address']),
    Case('mgmt_firewall_without_admins', 'mgmt_plane', {'hvsec_mgmt_plane_firewall': True},
         ['hvsec_mgmt_plane_admin_cidrs is empty']),
    Case('mgmt_remote_tcp', 'mgmt_plane', {'hvsec_mgmt_plane_libvirt_remote': 'tcp'},
         ['hvsec_mgmt_plane_libvirt_remote', 'tcp'], 'spec'),
    Case('mgmt_tls_without_dn_list', 'mgmt_plane', {'hvsec_mgmt_plane_libvirt_remote': 'tls'},
         ['hvsec_mgmt_plane_libvirt_tls_allowed_dn_list is empty']),
    Case('mgmt_tls_cert_missing', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_cert_file': '/nonexistent/hvsec/servercert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_cert_file', '/nonexistent/hvsec/servercert.pem', 'does not exist']),
    Case('mgmt_console_tls_dir_missing', 'mgmt_plane',
         {'hvsec_mgmt_plane_console_tls': True, 'hvsec_mgmt_plane_qemu_tls_x509_cert_dir': '/nonexistent/hvsec/qemu'},
         ['hvsec_mgmt_plane_qemu_tls_x509_cert_dir', 'does not exist']),
    Case('mgmt_console_ports_reversed', 'mgmt_plane',
         {'hvsec_mgmt_plane_console_port_min': 6000, 'hvsec_mgmt_plane_console_port_max': 5900},
         ['hvsec_mgmt_plane_console_port_min is greater than']),
    Case('mgmt_console_port_70000', 'mgmt_plane', {'hvsec_mgmt_plane_console_port_max': 70000},
         ['hvsec_mgmt_plane_console_port_max', 'outside 1-65535']),
    Case('mgmt_migration_port_0', 'mgmt_plane', {'hvsec_mgmt_plane_migration_port_min': 0},
         ['hvsec_mgmt_plane_migration_port_min', 'outside 1-65535']),
    Case('mgmt_migration_ports_reversed', 'mgmt_plane',
         {'hvsec_mgmt_plane_migration_port_min': 49300, 'hvsec_mgmt_plane_migration_port_max': 49200},
         ['hvsec_mgmt_plane_migration_port_min is greater than']),
    Case('mgmt_port_text', 'mgmt_plane', {'hvsec_mgmt_plane_console_port_min': 'vnc'},
         ['hvsec_mgmt_plane_console_port_min', 'int'], 'spec'),
    Case('mgmt_confirm_not_below_rollback', 'mgmt_plane',
         {'hvsec_mgmt_plane_firewall_confirm_timeout': 120, 'hvsec_mgmt_plane_firewall_rollback_seconds': 120},
         ['hvsec_mgmt_plane_firewall_confirm_timeout must be smaller']),
    Case('mgmt_confirm_negative', 'mgmt_plane', {'hvsec_mgmt_plane_firewall_confirm_timeout': -1},
         ['hvsec_mgmt_plane_firewall_confirm_timeout', 'greater than 0']),
    # the sshd reload has its own rollback timing, checked like the firewall's
    Case('mgmt_sshd_confirm_not_below_rollback', 'mgmt_plane',
         {'hvsec_mgmt_plane_sshd_confirm_timeout': 90, 'hvsec_mgmt_plane_sshd_rollback_seconds': 90},
         ['hvsec_mgmt_plane_sshd_confirm_timeout must be smaller than hvsec_mgmt_plane_sshd_rollback_seconds']),
    Case('mgmt_sshd_rollback_zero', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_rollback_seconds': 0},
         ['hvsec_mgmt_plane_sshd_rollback_seconds must be greater than 0 seconds, got 0']),
    Case('mgmt_extra_port_name', 'mgmt_plane', {'hvsec_mgmt_plane_firewall_extra_tcp_ports': ['ssh']},
         ['hvsec_mgmt_plane_firewall_extra_tcp_ports', 'ssh']),
    Case('mgmt_extra_port_70000', 'mgmt_plane', {'hvsec_mgmt_plane_firewall_extra_tcp_ports': [70000]},
         ['hvsec_mgmt_plane_firewall_extra_tcp_ports', '70000']),
    Case('mgmt_extra_port_range_reversed', 'mgmt_plane', {'hvsec_mgmt_plane_firewall_extra_tcp_ports': ['9000-8000']},
         ['hvsec_mgmt_plane_firewall_extra_tcp_ports', '9000-8000']),
    Case('mgmt_allow_group_bad', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_allow_groups': ['ssh users']},
         ['hvsec_mgmt_plane_sshd_allow_groups holds an invalid group name']),
    Case('mgmt_permit_root_yes', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_permit_root_login': 'yes'},
         ['hvsec_mgmt_plane_sshd_permit_root_login', 'yes'], 'spec'),
    Case('mgmt_password_auth_not_bool', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_password_auth': 'sometimes'},
         ['hvsec_mgmt_plane_sshd_password_auth', 'bool'], 'spec'),
    Case('mgmt_address_invalid', 'mgmt_plane', {'hvsec_mgmt_plane_address': '192.0.2.300'},
         ['hvsec_mgmt_plane_address', '192.0.2.300', 'not an IP address']),
    Case('mgmt_address_not_local', 'mgmt_plane', {'hvsec_mgmt_plane_address': '192.0.2.10'},
         ['hvsec_mgmt_plane_address 192.0.2.10 is not an address of this host']),
    Case('mgmt_console_listen_any', 'mgmt_plane', {'hvsec_mgmt_plane_console_listen': '0.0.0.0'},
         ['hvsec_mgmt_plane_console_listen 0.0.0.0 is not local']),
    Case('mgmt_console_listen_remote', 'mgmt_plane', {'hvsec_mgmt_plane_console_listen': '198.51.100.9'},
         ['hvsec_mgmt_plane_console_listen 198.51.100.9 is not local']),
    Case('mgmt_console_listen_hostname', 'mgmt_plane', {'hvsec_mgmt_plane_console_listen': 'localhost'},
         ['hvsec_mgmt_plane_console_listen', 'not an IP address']),
    Case('mgmt_controller_address_invalid', 'mgmt_plane', {'hvsec_mgmt_plane_controller_address': 'my-laptop'},
         ['hvsec_mgmt_plane_controller_address', 'not an IP address']),
    Case('mgmt_access_driver_unknown', 'mgmt_plane', {'hvsec_mgmt_plane_libvirt_access_drivers': ['selinux']},
         ['hvsec_mgmt_plane_libvirt_access_drivers', 'selinux'], 'spec'),
    Case('mgmt_unix_group_bad', 'mgmt_plane', {'hvsec_mgmt_plane_libvirt_unix_group': 'libvirt users'},
         ['hvsec_mgmt_plane_libvirt_unix_group', 'not a valid group name']),
    Case('mgmt_extra_option_contradicts_root_login', 'mgmt_plane',
         {'hvsec_mgmt_plane_sshd_extra_options': {'permitrootlogin': 'yes'}},
         ['hvsec_mgmt_plane_sshd_extra_options', 'permitrootlogin', 'hvsec_mgmt_plane_sshd_permit_root_login']),
    Case('mgmt_extra_option_contradicts_password_auth', 'mgmt_plane',
         {'hvsec_mgmt_plane_sshd_extra_options': {'PasswordAuthentication': 'yes'}},
         ['hvsec_mgmt_plane_sshd_extra_options', 'PasswordAuthentication', 'hvsec_mgmt_plane_sshd_password_auth']),
    Case('mgmt_extra_option_match_block', 'mgmt_plane',
         {'hvsec_mgmt_plane_sshd_extra_options': {'Match': 'User backup'}},
         ['hvsec_mgmt_plane_sshd_extra_options', 'Match']),
    Case('mgmt_extra_option_bad_keyword', 'mgmt_plane',
         {'hvsec_mgmt_plane_sshd_extra_options': {'Client Alive': '30'}},
         ['hvsec_mgmt_plane_sshd_extra_options', 'Client Alive']),
    Case('mgmt_extra_option_newline', 'mgmt_plane',
         {'hvsec_mgmt_plane_sshd_extra_options': {'Banner': "none\nPermitRootLogin yes"}},
         ['hvsec_mgmt_plane_sshd_extra_options', 'Banner']),
    Case('mgmt_cipher_list_in_one_item', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_ciphers': ['aes256-ctr aes128-ctr']},
         ['hvsec_mgmt_plane_sshd_ciphers', 'aes256-ctr aes128-ctr']),
]


def role_spec(role):
    with open(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


# A wrong type for every variable whose type the argument spec can refuse (str and path accept
# anything; a string given for a list becomes a one-item list).
_WRONG = {'bool': ('maybe', 'bool'), 'int': ('many', 'int'), 'dict': (['x'], 'dict')}


def _type_cases():
    out = []
    for role in ['iommu', 'vfio', 'vswitch', 'mgmt_plane']:
        for name, opt in sorted(role_spec(role).items()):
            kind = opt.get('type', 'str')
            if kind in _WRONG:
                value, word = _WRONG[kind]
            elif kind == 'list' and opt.get('elements') == 'dict':
                value, word = ['x'], 'dict'
            else:
                continue
            out.append(Case('%s_type_%s' % (role, name), role, {name: value}, [name, word], 'spec'))
    return out


# Variables for which no value of the right type is invalid (free names and descriptions).
NO_INVALID_VALUE = set([
    'hvsec_vswitch_ovs_allowed_mirrors',   # OVS mirror names: any string
    'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list',   # certificate DNs (wildcards allowed): any string
])

CASES += [
    Case('mgmt_tls_key_missing', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_key_file': '/nonexistent/hvsec/serverkey.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_key_file', '/nonexistent/hvsec/serverkey.pem', 'does not exist']),
    Case('mgmt_tls_ca_missing', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_ca_file': '/nonexistent/hvsec/cacert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_ca_file', '/nonexistent/hvsec/cacert.pem', 'does not exist']),
    # certificates in place, but the private key readable by every local user (run_role creates
    # the certificates with mode 0644 and a key file of each mode its name says)
    Case('mgmt_tls_key_world_readable', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_key_file': '@WORKDIR@/serverkey-0644.pem',
          'hvsec_mgmt_plane_libvirt_tls_cert_file': '@WORKDIR@/servercert.pem',
          'hvsec_mgmt_plane_libvirt_tls_ca_file': '@WORKDIR@/cacert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_key_file', 'serverkey-0644.pem is readable by others']),
    # an execute bit for others (mode 0641) and a group that may write (0620) are named as they are,
    # not as "readable by others"
    Case('mgmt_tls_key_executable_by_others', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_key_file': '@WORKDIR@/serverkey-0641.pem',
          'hvsec_mgmt_plane_libvirt_tls_cert_file': '@WORKDIR@/servercert.pem',
          'hvsec_mgmt_plane_libvirt_tls_ca_file': '@WORKDIR@/cacert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_key_file', 'serverkey-0641.pem is executable by others (mode 0641; make it 0600 or 0640)']),
    Case('mgmt_tls_key_group_writable', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_key_file': '@WORKDIR@/serverkey-0620.pem',
          'hvsec_mgmt_plane_libvirt_tls_cert_file': '@WORKDIR@/servercert.pem',
          'hvsec_mgmt_plane_libvirt_tls_ca_file': '@WORKDIR@/cacert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_key_file', 'serverkey-0620.pem is writable by its group (mode 0620; make it 0600 or 0640)']),
    # group read and execute (0650) is more than 0640 too
    Case('mgmt_tls_key_executable_by_group', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_key_file': '@WORKDIR@/serverkey-0650.pem',
          'hvsec_mgmt_plane_libvirt_tls_cert_file': '@WORKDIR@/servercert.pem',
          'hvsec_mgmt_plane_libvirt_tls_ca_file': '@WORKDIR@/cacert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_key_file', 'serverkey-0650.pem is executable by its group (mode 0650; make it 0600 or 0640)']),
    # mode 0600 but owned by another user (nobody when the tests run as root)
    Case('mgmt_tls_key_not_roots', 'mgmt_plane',
         {'hvsec_mgmt_plane_libvirt_remote': 'tls', 'hvsec_mgmt_plane_libvirt_tls_allowed_dn_list': ['CN=admin'],
          'hvsec_mgmt_plane_libvirt_tls_key_file': '@WORKDIR@/serverkey-user.pem',
          'hvsec_mgmt_plane_libvirt_tls_cert_file': '@WORKDIR@/servercert.pem',
          'hvsec_mgmt_plane_libvirt_tls_ca_file': '@WORKDIR@/cacert.pem'},
         ['hvsec_mgmt_plane_libvirt_tls_key_file', 'serverkey-user.pem is not owned by root but by']),
    Case('mgmt_mac_with_comma', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_macs': ['hmac-sha2-512,hmac-md5']},
         ['hvsec_mgmt_plane_sshd_macs', 'hmac-sha2-512,hmac-md5']),
    Case('mgmt_kex_with_quote', 'mgmt_plane', {'hvsec_mgmt_plane_sshd_kex': ['curve25519-sha256"']},
         ['hvsec_mgmt_plane_sshd_kex', 'curve25519-sha256']),
] + _type_cases()

# The audit's own inputs (playbooks/audit.yml) that tests/e2e/test_audit_localhost.py does not
# cover already (it covers an unknown waiver ID and an unknown fail_on word). The audit must fail
# in its evaluation task; the only files it writes are its reports, which say that no host was
# audited (every case here is refused), so that an older report never looks current.
CASES += [
    Case('audit_waiver_empty_reason', 'audit', {W: [{'id': 'HVS-IOMMU-05', 'reason': ''}]},
         ['waivers[0] (HVS-IOMMU-05) needs a non-empty reason']),
    Case('audit_waiver_unknown_key', 'audit', {W: [{'id': 'HVS-IOMMU-05', 'reason': 'x', 'until': '2030-01-01'}]},
         ['waivers[0] has unknown key(s) until', 'approved_by, ticket, expires']),
    Case('audit_waiver_bad_expiry', 'audit', {W: [{'id': 'HVS-IOMMU-05', 'reason': 'x', 'expires': '2030-02-30'}]},
         ['waivers[0].expires must be a date (YYYY-MM-DD)', '2030-02-30']),
    Case('audit_waivers_not_a_list', 'audit', {W: 'HVS-IOMMU-05'}, ['waivers must be a list']),
    Case('audit_fail_on_number', 'audit', {'hvsec_audit_fail_on': 3}, ['fail_on', '3']),
    Case('audit_policy_unknown', 'audit', {'hvsec_iommu_policy': 'lenient'}, ['hvsec_iommu_policy', 'lenient']),
    Case('audit_allowlist_not_a_list', 'audit', {'hvsec_vfio_allowlist': '0000:01:00.0'},
         ['hvsec_vfio_allowlist must be a list']),
    Case('audit_allowlist_item_without_device', 'audit', {'hvsec_vfio_allowlist': [{'name': 'gpu'}]},
         ['hvsec_vfio_allowlist[0]', 'address or id']),
]
VALIDATION['audit'] = [r'^Evaluate every control on the controller']
READ_ONLY['audit'] = [r'^Gather hypervisor facts']

# The sshd lockout guard (issue 13): options that would keep the controller from logging in again
# are refused before any change, naming the option and why. The guard protects the SSH session the
# run comes from: these cases run the role locally from a simulated SSH session (SSH_CONNECTION in
# the environment: root from 198.51.100.20 to 192.0.2.99 port 22, with a key). The sshd_dropin
# module then judges sshd's own reading (sshd -T -C) on hosts with sshd (unit tests with the real
# sshd: tests/unit/plugins/modules/test_sshd_dropin_real.py); this machine may have none, so the
# refusal here is the role's check of the options, which needs no sshd.
SESSION = 'mgmt_plane_session'
SESSION_ENV = {SESSION: {'SSH_CONNECTION': '198.51.100.20 50022 192.0.2.99 22'}}
ROLE_OF = {SESSION: 'mgmt_plane'}
X = 'hvsec_mgmt_plane_sshd_extra_options'
LOCKOUT = 'could not log in again'


def _session(cid, variables, expect):
    # libvirt left alone: its host checks (the socket group) are not what these cases test
    return Case(cid, SESSION, dict({'ansible_user': 'root', 'hvsec_mgmt_plane_libvirt': False}, **variables), expect)


CASES += [
    _session('mgmt_session_allowusers_excludes_the_user', {X: {'AllowUsers': 'nobody-else'}},
             [X, 'AllowUsers nobody-else: does not admit root from 198.51.100.20', LOCKOUT]),
    _session('mgmt_session_denyusers_the_user', {X: {'DenyUsers': 'backup root'}},
             [X, 'DenyUsers backup root: root matches root', LOCKOUT]),
    _session('mgmt_session_denygroups_a_group_of_the_user', {X: {'DenyGroups': 'root'}},
             [X, 'DenyGroups root: root is a group of root', LOCKOUT]),
    _session('mgmt_session_allowgroups_without_the_user', {'hvsec_mgmt_plane_sshd_allow_groups': ['hvsec-nobody']},
             ['hvsec_mgmt_plane_sshd_allow_groups', 'AllowGroups hvsec-nobody: none of them is a group of root', LOCKOUT]),
    _session('mgmt_session_port_elsewhere', {X: {'Port': 2222}},
             [X, 'Port 2222: sshd would not listen on port 22, where this connection arrived', LOCKOUT]),
    _session('mgmt_session_listenaddress_elsewhere', {'hvsec_mgmt_plane_address': '127.0.0.1'},
             ['hvsec_mgmt_plane_address', 'ListenAddress 127.0.0.1: sshd would not listen on 192.0.2.99', LOCKOUT]),
    _session('mgmt_session_authentication_methods_unsatisfiable', {X: {'AuthenticationMethods': 'publickey,password'}},
             [X, 'AuthenticationMethods publickey,password: no list can be completed by this connection', LOCKOUT]),
    _session('mgmt_session_pubkey_off', {X: {'PubkeyAuthentication': 'no'}},
             [X, 'PubkeyAuthentication no: this connection authenticates with a key', LOCKOUT]),
    _session('mgmt_session_root_login_off', {'hvsec_mgmt_plane_sshd_permit_root_login': 'no'},
             ['hvsec_mgmt_plane_sshd_permit_root_login', 'PermitRootLogin no: this connection logs in as root', LOCKOUT]),
]
# the sshd guard's tasks are validation (or read-only) for every mgmt_plane run
VALIDATION['mgmt_plane'] += [
    r'^HVS-MGMT-13 HVS-MGMT-14 HVS-MGMT-15 HVS-MGMT-16 HVS-MGMT-17 \| Refuse sshd options that would lock',
    r'^HVS-MGMT-13 HVS-MGMT-14 HVS-MGMT-15 HVS-MGMT-16 HVS-MGMT-17 \| Validate the sshd options with sshd -t']
READ_ONLY['mgmt_plane'] += [r"^Mgmt_plane \| Look up the login user's groups"]
VALIDATION[SESSION] = VALIDATION['mgmt_plane']
READ_ONLY[SESSION] = READ_ONLY['mgmt_plane']

IDS = [c.id for c in CASES]
assert len(IDS) == len(set(IDS)), 'case IDs are unique'
ROLES = ['iommu', 'vfio', 'vswitch', 'mgmt_plane']
GROUPS = ROLES + ['audit']
RESULTS = {}


# ------------------------------------------------------------------ helpers
def checksums():
    return tree_checksums(WATCHED)


_TASK = re.compile(r'^TASK \[(?:[\w.]+ : )?(.*)\] \**$')
_RESULT = re.compile(r'^(ok|changed|skipping|fatal|failed|included): \[([^\]]+)\]')
_RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')


def parse_default_callback(stdout):
    """Per host: the tasks it appeared in (in order), its failure (task, parsed result) and recap."""
    hosts = {}
    task = None
    lines = stdout.splitlines()
    i = 0
    in_recap = False
    while i < len(lines):
        line = lines[i]
        if line.startswith('PLAY RECAP'):
            in_recap = True
        m = _TASK.match(line)
        if m:
            task = m.group(1)
        m = _RESULT.match(line)
        if m and not in_recap:
            status, host = m.groups()
            entry = hosts.setdefault(host, {'tasks': [], 'failure': None, 'recap': None})
            if not entry['tasks'] or entry['tasks'][-1] != task:
                entry['tasks'].append(task)
            if status in ('fatal', 'failed'):
                block = []
                i += 1
                while i < len(lines) and (lines[i].startswith(' ') or not lines[i].strip()):
                    if lines[i].strip():
                        block.append(lines[i])
                    i += 1
                try:
                    result = yaml.safe_load('\n'.join(block)) or {}
                except yaml.YAMLError:
                    result = {'msg': '\n'.join(block)}
                entry['failure'] = (task, result if isinstance(result, dict) else {'msg': str(result)})
                continue
        m = _RECAP.match(line)
        if m and in_recap:
            host = m.group(1)
            hosts.setdefault(host, {'tasks': [], 'failure': None, 'recap': None})['recap'] = dict(
                zip(('ok', 'changed', 'unreachable', 'failed'), [int(x) for x in m.groups()[1:]]))
        i += 1
    return hosts


def run_role(role, cases, workdir):
    """One ansible-playbook --check of ``role`` (or of the audit playbook); every case is a local
    host with its variables."""
    inventory = {'all': {'hosts': {}}}
    for name, mode in (('serverkey-0644.pem', 0o644), ('serverkey-0641.pem', 0o641), ('serverkey-0620.pem', 0o620),
                       ('serverkey-0650.pem', 0o650), ('serverkey-user.pem', 0o600),
                       ('servercert.pem', 0o644), ('cacert.pem', 0o644)):
        with open(os.path.join(workdir, name), 'w') as handle:
            handle.write('-----BEGIN PLACEHOLDER-----\nnot a real key or certificate\n-----END PLACEHOLDER-----\n')
        os.chmod(os.path.join(workdir, name), mode)
    # a key of another user: nobody's when the tests run as root (else the files are the user's anyway)
    if os.geteuid() == 0:
        os.chown(os.path.join(workdir, 'serverkey-user.pem'), 65534, 65534)
    for case in cases:
        hostvars = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        hostvars.update(json.loads(json.dumps(case.vars).replace('@WORKDIR@', workdir)))
        inventory['all']['hosts'][case.id] = hostvars
    inv_path = os.path.join(workdir, 'inventory-%s.yml' % role)
    with open(inv_path, 'w') as handle:
        yaml.safe_dump(inventory, handle, default_flow_style=False)
    if role == 'audit':
        playbook = os.path.join(ROOT, 'playbooks', 'audit.yml')
    else:
        playbook = os.path.join(workdir, 'bad-input-%s.yml' % role)
        with open(playbook, 'w') as handle:
            handle.write('- name: Bad input for %s\n  hosts: all\n  gather_facts: false\n'
                         '  roles:\n    - role: hvsec.hypervisor.%s\n' % (role, ROLE_OF.get(role, role)))
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_CACHE_PLUGIN='memory',
               ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_CALLBACK_RESULT_FORMAT='yaml',
               ANSIBLE_DISPLAY_ARGS_TO_STDOUT='0', ANSIBLE_FORKS='10')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    # a local run guards the SSH session it comes from: none, unless the case group simulates one
    for var in ('SSH_CONNECTION', 'SSH_CLIENT'):
        env.pop(var, None)
    env.update(SESSION_ENV.get(role, {}))
    before = checksums()
    start = time.time()
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', inv_path, '--check', playbook],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.time() - start
    after = checksums()
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    # the audit writes its reports under ./reports: with every host refused, only reports that say so
    reports = os.path.join(workdir, 'reports')
    if os.path.isdir(reports) and not (role == 'audit' and _no_host_audited(reports)):
        changed.extend(os.path.join(reports, name) for name in sorted(os.listdir(reports)))
    return {'rc': proc.returncode, 'stdout': proc.stdout, 'stderr': proc.stderr, 'seconds': seconds,
            'hosts': parse_default_callback(proc.stdout), 'files_changed': changed, 'files_watched': len(before)}


def _no_host_audited(reports):
    """The audit's reports exist only to say that no host was audited (every host refused)."""
    try:
        with open(os.path.join(reports, 'audit.json')) as handle:
            data = json.load(handle)
        with open(os.path.join(reports, 'audit.md')) as handle:
            markdown = handle.read()
    except (IOError, OSError, ValueError):
        return False
    return bool(data.get('hosts')) and sorted(data.get('not_audited') or {}) == sorted(data['hosts']) and \
        'NO HOST WAS AUDITED' in markdown.split('\n## ', 1)[0]


def _matches(task, patterns):
    return task is not None and any(re.search(p, task) for p in patterns)


def _message(result):
    msg = result.get('msg', '')
    return msg if isinstance(msg, str) else json.dumps(msg)


@pytest.fixture(scope='module')
def role_runs(tmp_path_factory):
    link = os.path.join(COLLECTIONS, 'ansible_collections', 'hvsec', 'hypervisor')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    runs = {}

    def get(role):
        if role not in runs:
            workdir = str(tmp_path_factory.mktemp('bad_input_' + role))
            runs[role] = run_role(role, [c for c in CASES if c.role == role], workdir)
        return runs[role]
    yield get
    os.makedirs(REPORT, exist_ok=True)
    with open(os.path.join(REPORT, 'bad_input.json'), 'w') as handle:
        json.dump({'cases': len(CASES), 'refused': sorted(k for k, v in RESULTS.items() if v),
                   'not_refused': sorted(k for k, v in RESULTS.items() if not v),
                   'seconds': dict((r, round(v['seconds'], 1)) for r, v in runs.items()),
                   'files_watched': dict((r, v['files_watched']) for r, v in runs.items())}, handle, indent=1)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_bad_input_is_refused_before_any_change(case, role_runs):
    RESULTS[case.id] = False
    run = role_runs(case.role)
    context = '\n'.join(run['stdout'].splitlines()[-60:])
    assert run['rc'] != 0, 'the run of %s succeeded\n%s' % (case.role, context)
    assert run['files_changed'] == [], 'files changed by the %s run: %s' % (case.role, run['files_changed'])
    host = run['hosts'].get(case.id)
    assert host is not None, '%s does not appear in the output\n%s' % (case.id, run['stdout'][-3000:])
    assert host['recap'] is not None and host['recap']['failed'] == 1, host['recap']
    assert host['recap']['changed'] == 0, host['recap']
    assert host['failure'] is not None, '%s did not fail; tasks: %s' % (case.id, host['tasks'])
    task, result = host['failure']
    assert _matches(task, STAGE.get(case.stage, VALIDATION[case.role])), \
        '%s failed in %r, not in a validation task: %s' % (case.id, task, _message(result))
    assert host['tasks'][-1] == task, 'tasks ran after the failure: %s' % host['tasks']
    for earlier in host['tasks']:
        assert _matches(earlier, VALIDATION[case.role] + READ_ONLY[case.role]), \
            '%s reached %r before failing' % (case.id, earlier)
    msg = _message(result)
    for fragment in case.expect:
        assert fragment in msg, '%r not in the message of %r: %s' % (fragment, task, msg)
    RESULTS[case.id] = True


def test_every_role_variable_has_a_bad_input_case():
    """Every variable of every role's argument spec is exercised: the generated wrong-type cases
    cover bool/int/dict/list-of-dict variables; the others need a case of their own."""
    covered = set()
    for case in CASES:
        covered.update(case.vars)
    missing = []
    for role in ROLES:
        missing.extend(sorted(set(role_spec(role)) - covered - NO_INVALID_VALUE))
    assert missing == [], 'variables without a bad-input case: %s' % missing


# ------------------------------------------------------------------ every role validated first
# playbooks/harden.yml with all four areas: a mistake in the variables of a later role (a Linux
# bridge that does not exist, a management address that is not the host's, a firewall without
# administrator networks) must stop the host in the validation of that role, which runs for every
# selected role before the first role (iommu: boot loader, reboot) changes anything.
HARDEN_CASES = {
    'harden_vswitch_bridge_missing': (
        {'hvsec_vswitch_bridges': [{'name': 'br-hvsec-none', 'ports': [{'name': 'vnet0', 'vlans': [10]}]}]},
        'vswitch', ['hvsec_vswitch_bridges[0]', 'br-hvsec-none', 'does not exist on this host']),
    'harden_mgmt_address_not_local': (
        {'hvsec_mgmt_plane_address': '192.0.2.77'},
        'mgmt_plane', ['hvsec_mgmt_plane_address', '192.0.2.77', 'is not an address of this host']),
    'harden_mgmt_firewall_without_cidrs': (
        {'hvsec_mgmt_plane_firewall': True},
        'mgmt_plane', ['hvsec_mgmt_plane_firewall is true but hvsec_mgmt_plane_admin_cidrs is empty']),
}
# What the validation of every role may show before the failing one: argument specs, reading the
# variables, input checks, fact gathering, host checks and the mgmt_plane lockout guard.
ALL_VALIDATION = [p for role in ROLES for p in VALIDATION[role] + READ_ONLY[role]] + PLAN_TASKS + [
    r'^Gather hypervisor facts once for every role$',
    r'^Iommu \| Validate input before anything changes$',
    r'^Vfio \| Validate role input', r'^Vfio \| Validate the request against this host',
    r'^HVS-MGMT-13 HVS-MGMT-14 HVS-MGMT-15 HVS-MGMT-16 HVS-MGMT-17 \| Validate the sshd options with sshd -t',
]


@pytest.fixture(scope='module')
def harden_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('bad_input_harden'))
    inventory = {'all': {'children': {'hypervisors': {'hosts': {}}}}}
    for host, (variables, dummy, dummy2) in sorted(HARDEN_CASES.items()):
        hostvars = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        hostvars.update(variables)
        inventory['all']['children']['hypervisors']['hosts'][host] = hostvars
    inv_path = os.path.join(workdir, 'inventory.yml')
    with open(inv_path, 'w') as handle:
        yaml.safe_dump(inventory, handle, default_flow_style=False)
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_CACHE_PLUGIN='memory',
               ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_CALLBACK_RESULT_FORMAT='yaml',
               ANSIBLE_DISPLAY_ARGS_TO_STDOUT='0')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    for var in ('ANSIBLE_RUN_TAGS', 'ANSIBLE_SKIP_TAGS'):
        env.pop(var, None)
    before = checksums()
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', inv_path, '--check',
                           os.path.join(ROOT, 'playbooks', 'harden.yml')],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=900, check=False)
    after = checksums()
    return {'rc': proc.returncode, 'stdout': proc.stdout, 'hosts': parse_default_callback(proc.stdout),
            'files_changed': sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))}


@pytest.mark.parametrize('host', sorted(HARDEN_CASES))
def test_harden_validates_every_role_before_any_role_changes_anything(harden_run, host):
    variables, role, expect = HARDEN_CASES[host]
    run = harden_run
    assert run['rc'] != 0, run['stdout'][-3000:]
    assert run['files_changed'] == [], run['files_changed']
    entry = run['hosts'].get(host)
    assert entry is not None and entry['failure'] is not None, run['stdout'][-3000:]
    assert entry['recap'] == dict(entry['recap'], changed=0, failed=1), entry['recap']
    task, result = entry['failure']
    # refused by the failing role's own validation ...
    assert _matches(task, VALIDATION[role]), '%s failed in %r: %s' % (host, task, _message(result))
    for fragment in expect:
        assert fragment in _message(result), (fragment, _message(result))
    # ... and nothing but validation ran on the host before: no task of an earlier role's
    # remediation (iommu's kernel arguments, KSM, reboot; vfio's binding) started
    assert entry['tasks'][-1] == task, entry['tasks']
    ran = [t for t in entry['tasks'] if not _matches(t, ALL_VALIDATION)]
    assert ran == [], '%s ran before the input of %s was refused: %s' % (host, role, ran)
    assert not [t for t in entry['tasks'] if t.startswith('HVS-IOMMU') or t.startswith('Iommu | Derive')], entry['tasks']
