# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every control evaluator against fact fixtures: pass, fail, and error/not_applicable cases.

The hardened fixture (fixtures/audit/facts_hardened.json + settings_hardened.json) passes every
control; each table row below changes one fact or setting and names the status and a piece of
evidence the evaluator must then report.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import glob
import json
import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import default_settings, int_setting, role_defaults
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID, CONTROLS, STATUSES
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import summarize

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'audit')
COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


HARDENED = _load('facts_hardened.json')
SETTINGS = _load('settings_hardened.json')
CONTAINER = _load('facts_localhost_container.json')

DELETE = object()


def _set(data, path, value):
    """Set (or delete, with DELETE) a dotted path; numeric parts index lists."""
    parts = list(path) if isinstance(path, tuple) else path.split('.')
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is DELETE:
        del node[last]
    else:
        node[last] = value


def _run(cid, changes=(), settings=None, facts=None):
    facts = copy.deepcopy(HARDENED if facts is None else facts)
    for path, value in changes:
        _set(facts, path, value)
    merged = dict(SETTINGS)
    merged.update(settings or {})
    results = ev.evaluate(facts, merged, [], controls=[BY_ID[cid]])
    assert len(results) == 1
    return results[0]


def test_every_record_names_a_function_of_its_area_module():
    missing = ['%s: %s not in eval_%s.py' % (c['id'], c['evaluator'], c['area']) for c in CONTROLS
               if c['evaluator'] not in ev.AREA_EVALUATORS.get(c['area'], {})]
    assert missing == []
    for control in CONTROLS:
        func = ev.evaluator_for(control)
        assert func.__name__ == control['evaluator']
        assert func.__module__.endswith('.eval_%s' % control['area'])


def test_every_evaluator_function_is_used_by_exactly_one_record():
    used = [(c['area'], c['evaluator']) for c in CONTROLS]
    assert len(set(used)) == len(used), 'two records share an evaluator'
    unused = ['eval_%s.%s' % (area, name) for area, funcs in sorted(ev.AREA_EVALUATORS.items())
              for name in sorted(funcs) if (area, name) not in used]
    assert unused == []
    assert sum(len(funcs) for funcs in ev.AREA_EVALUATORS.values()) == len(CONTROLS)


def test_area_modules_list_their_evaluators_in_catalog_order():
    for area, funcs in ev.AREA_EVALUATORS.items():
        assert list(funcs) == [c['evaluator'] for c in CONTROLS if c['area'] == area]
        for func in funcs.values():
            assert func.__doc__ and len(func.__doc__.strip().splitlines()) == 1


def test_hardened_fixture_passes_every_control():
    results = ev.evaluate(HARDENED, SETTINGS, [])
    assert [r['id'] for r in results] == [c['id'] for c in CONTROLS]
    bad = [(r['id'], r['status'], r['evidence']) for r in results if r['status'] != 'pass']
    assert bad == []
    for r in results:
        assert r['evidence'] and '\n' not in r['evidence']
        assert r['reboot'] is BY_ID[r['id']]['reboot']


# (control, fact changes, setting changes, expected status, evidence fragment)
CASES = [
    # ---------------------------------------------------------------- iommu
    ('HVS-IOMMU-01', [('cpu.virt_extension', None)], {}, 'fail', 'neither vmx nor svm'),
    ('HVS-IOMMU-01', [('cpu', None)], {}, 'error', 'could not read cpu'),
    ('HVS-IOMMU-02', [('cpu.slat', None)], {}, 'fail', 'shadow paging'),
    ('HVS-IOMMU-03', [('kvm.dev_kvm', False)], {}, 'fail', '/dev/kvm missing'),
    ('HVS-IOMMU-03', [('kvm.dev_kvm', None)], {}, 'error', 'kvm.dev_kvm'),
    ('HVS-IOMMU-04', [('iommu.firmware_table', None)], {}, 'fail', 'no ACPI DMAR or IVRS'),
    ('HVS-IOMMU-04', [('iommu.firmware_table', None),
                      ('notes', [{'probe': 'iommu', 'path': '/sys/firmware/acpi/tables', 'reason': 'permission denied'}])],
     {}, 'error', 'permission denied'),
    ('HVS-IOMMU-05', [('iommu.units', []), ('iommu.groups', [])], {}, 'fail', 'IOMMU not active'),
    ('HVS-IOMMU-05', [('iommu.groups', None)], {}, 'error', 'iommu.groups'),
    ('HVS-IOMMU-06', [('cmdline.args.4', {'key': 'intel_iommu', 'value': 'off'})], {}, 'fail', 'intel_iommu=off'),
    ('HVS-IOMMU-06', [('cmdline.args.4', {'key': 'amd_iommu', 'value': 'off'})], {}, 'fail', 'amd_iommu=off'),
    ('HVS-IOMMU-06', [('cmdline', None)], {}, 'error', 'cmdline.args'),
    ('HVS-IOMMU-07', [('iommu.groups.0.type', 'DMA-FQ')], {}, 'fail', 'type DMA-FQ'),
    ('HVS-IOMMU-07', [('iommu.groups.0.type', 'identity')], {}, 'fail', 'type identity'),
    ('HVS-IOMMU-07', [('cmdline.args.5', {'key': 'iommu', 'value': 'pt'})], {}, 'fail', 'iommu=pt'),
    ('HVS-IOMMU-07', [('cmdline.args.6', {'key': 'iommu.passthrough', 'value': '1'})], {}, 'fail', 'iommu.passthrough=1'),
    ('HVS-IOMMU-07', [('iommu.groups.0.type', 'identity')], {'hvsec_iommu_policy': 'passthrough'}, 'pass', 'policy passthrough'),
    ('HVS-IOMMU-08', [('cmdline.args.3', {'key': 'pcie_acs_override', 'value': 'downstream,multifunction'})], {},
     'fail', 'pcie_acs_override=downstream'),
    ('HVS-IOMMU-09', [('iommu.interrupt_remapping', False)], {}, 'fail', 'not active'),
    ('HVS-IOMMU-09', [('iommu.interrupt_remapping', None)], {}, 'error', 'interrupt_remapping'),
    ('HVS-IOMMU-10', [('cmdline.args.7', {'key': 'quiet', 'value': None})], {}, 'fail', 'missing'),
    ('HVS-IOMMU-10', [('cmdline.args.7', {'key': 'quiet', 'value': None})], {'hvsec_iommu_early_dma_protection': False},
     'not_applicable', 'early_dma_protection is false'),
    ('HVS-IOMMU-11', [('cpu.vulnerabilities.meltdown', 'Vulnerable')], {}, 'fail', 'meltdown (Vulnerable)'),
    ('HVS-IOMMU-11', [('cpu.vulnerabilities', None)], {}, 'error', 'cpu.vulnerabilities'),
    ('HVS-IOMMU-12', [('cpu.smt_active', True)], {}, 'fail', 'SMT active'),
    ('HVS-IOMMU-12', [('cmdline.args.8', {'key': 'quiet', 'value': None})], {}, 'fail', 'mitigations=auto,nosmt missing'),
    ('HVS-IOMMU-12', [('cpu.smt_active', None), ('cpu.smt_control', None)], {}, 'error', 'cpu.smt_active'),
    ('HVS-IOMMU-12', [('cpu.smt_active', True)], {'hvsec_iommu_nosmt': False}, 'not_applicable', 'SMT allowed'),
    ('HVS-IOMMU-13', [('ksm.run', 1)], {}, 'fail', 'run=1'),
    ('HVS-IOMMU-13', [('ksm.run', None)], {}, 'not_applicable', 'KSM not available'),
    ('HVS-IOMMU-13', [('ksm.run', None),
                      ('notes', [{'probe': 'ksm', 'path': '/sys/kernel/mm/ksm/run', 'reason': 'permission denied'}])],
     {}, 'error', '/sys/kernel/mm/ksm/run: permission denied'),
    ('HVS-IOMMU-14', [('kvm.nested', True)], {}, 'fail', 'nested virtualization enabled'),
    ('HVS-IOMMU-14', [('kvm.nested', True)], {'hvsec_iommu_nested': True}, 'pass', 'wanted'),
    ('HVS-IOMMU-14', [('kvm.nested', None)], {}, 'error', 'kvm.nested'),
    ('HVS-IOMMU-14', [('kvm.nested', None), ('kvm.modules', ['kvm'])], {}, 'not_applicable', 'no kvm_intel'),
    ('HVS-IOMMU-15', [('kvm.nx_huge_pages', 'off')], {}, 'fail', 'nx_huge_pages=off'),
    ('HVS-IOMMU-15', [('kvm.nx_huge_pages', 'N'), ('cpu.vulnerabilities.itlb_multihit', 'KVM: Vulnerable')], {}, 'fail', 'nx_huge_pages=N'),
    ('HVS-IOMMU-15', [('kvm.nx_huge_pages', 'N'), ('cpu.vulnerabilities', {})], {}, 'fail', 'itlb_multihit: unknown'),
    ('HVS-IOMMU-15', [('kvm.nx_huge_pages', 'N'), ('cpu.vulnerabilities.itlb_multihit', 'Not affected')], {}, 'pass', 'Not affected'),
    ('HVS-IOMMU-15', [('kvm.modules', [])], {}, 'not_applicable', 'kvm module not loaded'),
    ('HVS-IOMMU-15', [('kvm.nx_huge_pages', None)], {}, 'error', 'kvm.nx_huge_pages'),
    ('HVS-IOMMU-16', [('libvirt.domains.1.vcpus', 6)], {}, 'fail', 'guest2 (6 vCPUs)'),
    ('HVS-IOMMU-16', [('cpu.physical_cores', None)], {}, 'error', 'cpu.physical_cores'),
    ('HVS-IOMMU-16', [('libvirt.installed', False)], {}, 'not_applicable', 'libvirt is not installed'),
    ('HVS-IOMMU-17', [('libvirt.domains.0.memory_kib', 20000000)], {}, 'fail', '> host'),
    ('HVS-IOMMU-17', [('host.mem_total_kib', None)], {}, 'error', 'host.mem_total_kib'),
    # ---------------------------------------------------------------- vfio
    ('HVS-VFIO-01', [('vfio.params.vfio_iommu_type1.allow_unsafe_interrupts', 'Y')], {}, 'fail', 'runtime allow_unsafe_interrupts=Y'),
    ('HVS-VFIO-01', [('vfio.modprobe_options.1.value', '1')], {}, 'fail', 'hvsec-vfio.conf sets allow_unsafe_interrupts=1'),
    ('HVS-VFIO-01', [('cmdline.args.3', {'key': 'vfio_iommu_type1.allow_unsafe_interrupts', 'value': '1'})], {},
     'fail', 'cmdline vfio_iommu_type1.allow_unsafe_interrupts=1'),
    # the kernel reads bool parameters with kstrtobool: a bare flag, 'yes', 'on' are all true; 'off' is not
    ('HVS-VFIO-01', [('vfio.modprobe_options.1.value', None)], {}, 'fail', 'hvsec-vfio.conf sets allow_unsafe_interrupts'),
    ('HVS-VFIO-01', [('vfio.modprobe_options.1.value', 'yes')], {}, 'fail', 'sets allow_unsafe_interrupts=yes'),
    ('HVS-VFIO-01', [('vfio.modprobe_options.1.value', 'on')], {}, 'fail', 'sets allow_unsafe_interrupts=on'),
    ('HVS-VFIO-01', [('vfio.modprobe_options.1.value', 'off')], {}, 'pass', 'no modprobe.d or cmdline option enables it'),
    ('HVS-VFIO-01', [('cmdline.args.3', {'key': 'vfio_iommu_type1.allow_unsafe_interrupts', 'value': None})], {},
     'fail', 'cmdline vfio_iommu_type1.allow_unsafe_interrupts'),
    ('HVS-VFIO-01', [('vfio.params', None)], {}, 'error', 'vfio.params'),
    ('HVS-VFIO-01', [('vfio.modules', []), ('vfio.params', {})], {}, 'pass', 'module not loaded'),
    ('HVS-VFIO-02', [('vfio.params.vfio.enable_unsafe_noiommu_mode', 'Y')], {}, 'fail', 'enable_unsafe_noiommu_mode=Y'),
    ('HVS-VFIO-02', [('vfio', None)], {}, 'error', 'could not read vfio'),
    # Debian 12's vfio has no parameters at all (no CONFIG_VFIO_NOIOMMU): seen on the lab
    ('HVS-VFIO-02', [('vfio.params.vfio', {})], {}, 'pass', 'enable_unsafe_noiommu_mode not built into this kernel'),
    ('HVS-VFIO-03', [('pci.devices.2.driver', 'vfio-pci')], {}, 'fail', '0000:01:00.0'),
    ('HVS-VFIO-03', [], {'hvsec_vfio_allowlist': [{'id': '8086:10d3'}]}, 'pass', 'all allow-listed'),
    ('HVS-VFIO-03', [('pci', None)], {}, 'error', 'pci.devices'),
    ('HVS-VFIO-04', [('pci.devices.1.driver', 'e1000e')], {}, 'fail', '0000:00:03.0 (driver e1000e)'),
    ('HVS-VFIO-04', [], {'hvsec_vfio_allowlist': []}, 'not_applicable', 'allowlist is empty'),
    ('HVS-VFIO-05', [('pci.devices.3.iommu_group', 3)], {}, 'fail', 'group 3: 0000:01:10.0 on igbvf'),
    ('HVS-VFIO-05', [('pci.devices.1.driver', 'e1000e')], {}, 'not_applicable', 'no device bound'),
    ('HVS-VFIO-06', [('libvirt.domains.0.hostdevs.0.address', '0000:01:00.0')], {}, 'fail', 'guest1: 0000:01:00.0'),
    ('HVS-VFIO-06', [('libvirt.installed', False)], {}, 'not_applicable', 'libvirt is not installed'),
    ('HVS-VFIO-07', [('iommu.interrupt_remapping', False)], {}, 'fail', 'interrupt remapping off'),
    ('HVS-VFIO-07', [('iommu.enabled', False)], {}, 'fail', 'IOMMU not enabled'),
    ('HVS-VFIO-07', [('iommu.interrupt_remapping', None)], {}, 'error', 'interrupt_remapping'),
    ('HVS-VFIO-08', [('pci.devices.2.sriov_numvfs', 5)], {}, 'fail', '5 VFs > cap 2'),
    ('HVS-VFIO-08', [], {'hvsec_vfio_sriov': []}, 'fail', '2 VFs > cap 0'),
    ('HVS-VFIO-08', [('pci.devices.2.sriov_numvfs', None)], {}, 'error', 'sriov_numvfs'),
    ('HVS-VFIO-09', [('network.links.1.vfs.1.spoofchk', False)], {}, 'fail', 'eth1 vf 1 spoofchk False'),
    ('HVS-VFIO-09', [('network.links', None)], {}, 'error', 'network.links'),
    ('HVS-VFIO-09', [('network.links.1.vfs', [])], {}, 'not_applicable', 'no SR-IOV virtual functions'),
    ('HVS-VFIO-10', [('network.links.1.vfs.0.trust', True)], {}, 'fail', 'eth1 vf 0 trust True'),
    ('HVS-VFIO-11', [('network.links.1.vfs.0.mac', '00:00:00:00:00:00')], {}, 'fail', 'has no MAC set'),
    ('HVS-VFIO-11', [('network.links.1.vfs.0.mac', '52:54:00:aa:bb:99')], {}, 'fail', 'declared 52:54:00:aa:bb:01'),
    ('HVS-VFIO-12', [('network.links.1.vfs.0.vlan', 0)], {}, 'fail', 'VLAN 0, declared 100'),
    ('HVS-VFIO-12', [('network.links.1.vfs.0.vlan', 0)], {'hvsec_vfio_sriov': []}, 'fail', 'has no VLAN'),
    ('HVS-VFIO-13', [('pci.devices.4.iommu_group', 5), ('iommu.groups.3.devices', ['0000:01:10.0', '0000:01:10.2'])],
     {}, 'fail', 'shares group 5'),
    ('HVS-VFIO-13', [('pci.devices.3.physfn', None), ('pci.devices.4.physfn', None)], {}, 'not_applicable', 'no SR-IOV'),
    # ---------------------------------------------------------------- vswitch
    ('HVS-VSW-01', [('network.bridges.0.vlan_filtering', False)], {}, 'fail', 'vlan_filtering off'),
    ('HVS-VSW-01', [('network.bridges.0.vlans.vnet0', [{'vlan': 1, 'pvid': True, 'untagged': True}])], {},
     'fail', 'port vnet0 lacks VLAN 100'),
    ('HVS-VSW-01', [('network.bridges.0.vlans', None)], {}, 'error', 'vlans'),
    ('HVS-VSW-01', [('network.bridges', [])], {}, 'fail', 'br-guest missing'),
    ('HVS-VSW-01', [('network.bridges', None)], {}, 'error', 'network.bridges'),
    ('HVS-VSW-01', [], {'hvsec_vswitch_bridges': []}, 'not_applicable', 'no bridge declared'),
    ('HVS-VSW-02', [('network.bridges.0.addresses', ['192.0.2.99/24'])], {}, 'fail', 'has host address 192.0.2.99/24'),
    ('HVS-VSW-02', [('network.bridges.0.addresses', None)], {}, 'error', 'network.addresses'),
    ('HVS-VSW-02', [('network.bridges.0.addresses', ['192.0.2.99/24'])],
     {'hvsec_vswitch_bridges': [{'name': 'br-guest', 'guest_only': False}]}, 'not_applicable', 'no guest-only bridge'),
    ('HVS-VSW-03', [('network.bridges.0.ipv6_autoconf', True)], {}, 'fail', 'autoconf on'),
    ('HVS-VSW-03', [('network.bridges.0.ipv6_accept_ra', 1)], {}, 'fail', 'accept_ra=1'),
    ('HVS-VSW-03', [('network.bridges.0.ipv6_autoconf', True), ('network.bridges.0.ipv6_disabled', True)], {}, 'pass', ''),
    ('HVS-VSW-04', [('network.bridges.0.proxy_arp', True)], {}, 'fail', 'proxy_arp on'),
    ('HVS-VSW-05', [('network.ovs.managers', ['ptcp:6640'])], {}, 'fail', 'ptcp:6640'),
    ('HVS-VSW-05', [('network.ovs', None)], {}, 'not_applicable', 'Open vSwitch not installed'),
    ('HVS-VSW-05', [('network.ovs', None),
                    ('notes', [{'probe': 'network', 'path': 'ovs-vsctl', 'reason': 'rc=1: database connection failed'}])],
     {}, 'error', 'database connection failed'),
    ('HVS-VSW-06', [('network.ovs.bridges.0.controllers', ['tcp:192.0.2.50:6653'])], {}, 'fail', 'ovsbr0 tcp:'),
    ('HVS-VSW-07', [('network.ovs.bridges.0.fail_mode', None)], {}, 'fail', 'ovsbr0 (fail_mode None)'),
    ('HVS-VSW-07', [('network.ovs.bridges.0.controllers', [])], {}, 'not_applicable', 'no OVS bridge has a controller'),
    ('HVS-VSW-08', [('network.ovs.bridges.0.mirrors', ['spy'])], {}, 'fail', 'spy on ovsbr0'),
    ('HVS-VSW-08', [('network.ovs.bridges.0.mirrors', ['ids'])], {'hvsec_vswitch_ovs_allowed_mirrors': ['ids']}, 'pass', ''),
    ('HVS-VSW-09', [('network.ovs.bridges.0.ports.0.tag', None)], {}, 'fail', 'vnet1 tag None, declared 300'),
    ('HVS-VSW-09', [], {'hvsec_vswitch_ovs_ports': []}, 'not_applicable', 'ovs_ports is empty'),
    ('HVS-VSW-10', [('libvirt.domains.1.interfaces.0.filterref', None)], {}, 'fail', 'guest2 52:54:00:02:00:01 (no filter)'),
    ('HVS-VSW-10', [('libvirt.domains', None)], {}, 'error', 'libvirt.domains'),
    ('HVS-VSW-11', [('libvirt.domains.0.interfaces.1.mode', 'bridge')], {}, 'fail', 'guest1 eth2'),
    ('HVS-VSW-11', [('libvirt.domains.0.interfaces.1.mode', 'bridge')], {'hvsec_vswitch_macvtap_isolation': False},
     'not_applicable', 'macvtap_isolation is false'),
    ('HVS-VSW-12', [('sysctl.bridge_nf_call_iptables', 0)], {}, 'fail', 'bridge-nf-call-iptables=0'),
    ('HVS-VSW-12', [('sysctl.bridge_nf_call_iptables', None)], {}, 'fail', 'br_netfilter not loaded'),
    ('HVS-VSW-12', [('libvirt.domains.0.interfaces.0.filterref', None)], {}, 'not_applicable', 'no filtered guest interface'),
    # ---------------------------------------------------------------- mgmt_plane
    ('HVS-MGMT-01', [('libvirt.config.libvirtd.listen_tcp', 1), ('libvirt.config.libvirtd.auth_tcp', 'none')], {},
     'fail', 'libvirtd TCP listener with auth_tcp=none'),
    ('HVS-MGMT-01', [(('libvirt', 'sockets', 'libvirtd-tcp.socket'), 'enabled'), ('libvirt.config.libvirtd.auth_tcp', 'none')], {},
     'fail', 'auth_tcp=none'),
    ('HVS-MGMT-01', [('libvirt.config.libvirtd', None), ('libvirt.config_errors', {'libvirtd': 'line 3: expected a value'})],
     {}, 'error', 'libvirtd.conf: line 3: expected a value'),
    ('HVS-MGMT-01', [('libvirt.config.libvirtd', None)], {}, 'error', 'libvirt.config.libvirtd'),
    ('HVS-MGMT-02', [('libvirt.config.libvirtd.tls_no_verify_certificate', 1)], {}, 'fail', 'tls_no_verify_certificate=1'),
    ('HVS-MGMT-02', [('libvirt.config.libvirtd.tls_allowed_dn_list', None)], {}, 'fail', 'tls_allowed_dn_list not set'),
    ('HVS-MGMT-02', [(('libvirt', 'sockets', 'libvirtd-tls.socket'), 'disabled'), ('listeners', [])], {},
     'not_applicable', 'no libvirt TLS listener'),
    # the real socket is the best evidence; with polkit (libvirt's and Debian's default) any mode is fine
    ('HVS-MGMT-03', [], {}, 'pass', 'libvirtd auth_unix_rw=polkit (socket 0660 group libvirt from /run/libvirt/libvirt-sock)'),
    ('HVS-MGMT-03', [(('libvirt', 'unix_sockets', '/run/libvirt/libvirt-sock', 'mode'), '0666')], {}, 'pass',
     'auth_unix_rw=polkit (socket 0666'),
    ('HVS-MGMT-03', [('libvirt.config.libvirtd.auth_unix_rw', 'none'),
                     (('libvirt', 'unix_sockets', '/run/libvirt/libvirt-sock', 'mode'), '0666')], {}, 'fail',
     'libvirtd auth_unix_rw=none and unix_sock_rw_perms=0666 (from /run/libvirt/libvirt-sock) grants access to others'),
    # socket activation: the unit's SocketMode/SocketGroup, not the daemon file, decide
    ('HVS-MGMT-03', [('libvirt.config.libvirtd.auth_unix_rw', 'none'), ('libvirt.unix_sockets', {}),
                     (('libvirt', 'socket_units', 'libvirtd.socket', 'mode'), '0666')], {}, 'fail',
     'unix_sock_rw_perms=0666 (from libvirtd.socket (/lib/systemd/system/libvirtd.socket, '
     '/etc/systemd/system/libvirtd.socket.d/hvsec.conf)) grants access to others'),
    ('HVS-MGMT-03', [('libvirt.config.libvirtd.auth_unix_rw', 'none'), ('libvirt.unix_sockets', {}),
                     ('libvirt.config.libvirtd.unix_sock_rw_perms', '0777')], {}, 'pass',
     'socket 0660 group libvirt from libvirtd.socket'),
    ('HVS-MGMT-03', [('libvirt.config.libvirtd.auth_unix_rw', 'none'), ('libvirt.unix_sockets', {}),
                     (('libvirt', 'socket_units', 'libvirtd.socket'), DELETE)], {}, 'error', 'libvirt.socket_units.libvirtd.socket'),
    # no socket activation: the daemon file decides
    ('HVS-MGMT-03', [('libvirt.config.libvirtd.auth_unix_rw', 'none'), ('libvirt.unix_sockets', {}),
                     (('libvirt', 'sockets', 'libvirtd.socket'), 'disabled'),
                     ('libvirt.config.libvirtd.unix_sock_rw_perms', '0777')], {}, 'fail', 'from libvirtd.conf) grants access'),
    ('HVS-MGMT-03', [('libvirt.config.libvirtd.auth_unix_rw', 'none'), ('libvirt.unix_sockets', {}),
                     (('libvirt', 'sockets', 'libvirtd.socket'), 'disabled'),
                     ('libvirt.config.libvirtd.unix_sock_group', None)], {}, 'fail', 'unix_sock_group not set'),
    # modular daemons: virtqemud's and virtproxyd's own sockets
    ('HVS-MGMT-03', [('processes', ['virtproxyd']), ('libvirt.sockets', {}), ('libvirt.services', {}), ('libvirt.unix_sockets', {}),
                     ('libvirt.config.virtproxyd.auth_unix_rw', 'none')], {}, 'fail',
     'virtproxyd auth_unix_rw=none and unix_sock_rw_perms=0777 (from virtproxyd.conf)'),
    ('HVS-MGMT-03', [('processes', ['systemd']), ('libvirt.services', {}),
                     ('libvirt.sockets', {'virtqemud.socket': 'enabled', 'libvirtd.socket': 'disabled'}),
                     ('libvirt.unix_sockets', {'/run/libvirt/virtqemud-sock': {'mode': '0666', 'group': 'root'}}),
                     ('libvirt.config.virtqemud.auth_unix_rw', 'none')], {}, 'fail',
     'virtqemud auth_unix_rw=none and unix_sock_rw_perms=0666 (from /run/libvirt/virtqemud-sock)'),
    ('HVS-MGMT-04', [('libvirt.config.libvirtd.access_drivers', [])], {}, 'fail', 'no polkit access driver'),
    ('HVS-MGMT-04', [], {}, 'pass', 'access_drivers include polkit (libvirtd.conf)'),
    ('HVS-MGMT-04', [('processes', ['systemd']), ('libvirt.services', {'virtqemud.service': 'enabled'}),
                     ('libvirt.sockets', {})], {}, 'fail', 'virtqemud access_drivers=[]'),
    ('HVS-MGMT-05', [('libvirt.config.qemu.vnc_listen', '0.0.0.0')], {}, 'fail', 'qemu.conf 0.0.0.0'),
    ('HVS-MGMT-05', [('libvirt.domains.0.graphics.0.listen', '0.0.0.0')], {}, 'fail', 'guest1 0.0.0.0'),
    ('HVS-MGMT-05', [('libvirt.config_errors', {'qemu': 'line 12: unterminated list'}), ('libvirt.config.qemu', None)],
     {}, 'error', 'qemu.conf: line 12: unterminated list'),
    ('HVS-MGMT-06', [('libvirt.domains.1.graphics.0.listen', '0.0.0.0')], {}, 'fail', 'guest2 0.0.0.0'),
    ('HVS-MGMT-06', [], {'hvsec_mgmt_plane_address': ''}, 'fail', 'guest2 192.0.2.10'),
    ('HVS-MGMT-07', [('libvirt.config.qemu.vnc_listen', '192.0.2.10')], {}, 'fail', 'vnc_tls=0'),
    ('HVS-MGMT-07', [('libvirt.config.qemu.spice_tls', 0)], {}, 'fail', 'spice_tls=0'),
    ('HVS-MGMT-08', [('libvirt.config.qemu.migrate_tls_force', 0)], {}, 'fail', 'migrate_tls_force=0'),
    ('HVS-MGMT-09', [('libvirt.config.qemu.security_driver', 'none')], {}, 'fail', 'security_driver="none"'),
    ('HVS-MGMT-09', [('security_module.apparmor', False)], {}, 'fail', 'apparmor configured but not active'),
    ('HVS-MGMT-09', [('libvirt.config.qemu.security_driver', None), ('security_module.apparmor', False)], {},
     'fail', 'QEMU runs unconfined'),
    ('HVS-MGMT-09', [('security_module', None)], {}, 'error', 'security_module'),
    ('HVS-MGMT-10', [('libvirt.config.qemu.user', 'root')], {}, 'fail', 'user=root'),
    ('HVS-MGMT-10', [('libvirt.config.qemu.user', None)], {}, 'pass', 'non-root'),
    ('HVS-MGMT-10', [('libvirt.config.qemu.user', None), ('host.os', {'id': 'gentoo', 'id_like': []})], {},
     'error', 'build default'),
    ('HVS-MGMT-11', [('libvirt.config.qemu.dynamic_ownership', 0)], {}, 'fail', 'dynamic_ownership=0'),
    ('HVS-MGMT-12', [('libvirt.config.qemu.seccomp_sandbox', 0)], {}, 'fail', 'seccomp_sandbox=0'),
    ('HVS-MGMT-13', [('sshd.effective.permitrootlogin', 'yes')], {}, 'fail', 'PermitRootLogin yes'),
    ('HVS-MGMT-13', [('sshd', None)], {}, 'not_applicable', 'sshd not installed'),
    ('HVS-MGMT-13', [('sshd', {'effective': None, 'error': '/etc/ssh/sshd_config line 3: Bad configuration option'})], {},
     'error', 'Bad configuration option'),
    ('HVS-MGMT-14', [('sshd.effective.passwordauthentication', 'yes')], {}, 'fail', 'passwordauthentication yes'),
    ('HVS-MGMT-14', [('sshd.effective.kbdinteractiveauthentication', 'yes')], {}, 'fail', 'kbdinteractiveauthentication yes'),
    ('HVS-MGMT-14', [('sshd.effective.passwordauthentication', 'yes')], {'hvsec_mgmt_plane_sshd_password_auth': True},
     'not_applicable', 'password login wanted'),
    ('HVS-MGMT-15', [('sshd.effective.allowgroups', DELETE)], {}, 'fail', 'AllowGroups not set'),
    ('HVS-MGMT-15', [('sshd.effective.allowgroups', ['hvadmin', 'users'])], {}, 'fail', 'undeclared users'),
    ('HVS-MGMT-15', [], {'hvsec_mgmt_plane_sshd_allow_groups': []}, 'not_applicable', 'allow_groups is empty'),
    ('HVS-MGMT-16', [('sshd.effective.ciphers', ['aes256-cbc', 'aes256-gcm@openssh.com'])], {}, 'fail', 'aes256-cbc'),
    ('HVS-MGMT-16', [('sshd.effective.macs', ['hmac-sha1'])], {}, 'fail', 'hmac-sha1'),
    ('HVS-MGMT-16', [('sshd.effective.kexalgorithms', ['diffie-hellman-group14-sha1'])], {}, 'fail', 'group14-sha1'),
    ('HVS-MGMT-16', [('sshd.effective.macs', DELETE)], {}, 'error', 'sshd.effective.macs'),
    ('HVS-MGMT-17', [('sshd.effective.listenaddress', ['0.0.0.0:22', '[::]:22'])], {}, 'fail', '0.0.0.0:22, [::]:22'),
    ('HVS-MGMT-17', [], {'hvsec_mgmt_plane_address': ''}, 'not_applicable', 'hvsec_mgmt_plane_address not set'),
    ('HVS-MGMT-18', [('nftables.tables', ['ip filter'])], {}, 'fail', 'no nftables table inet hvsec_mgmt'),
    ('HVS-MGMT-18', [('nftables', {'installed': False, 'tables': None})], {}, 'fail', 'nftables not installed'),
    ('HVS-MGMT-18', [('nftables.tables', None)], {}, 'error', 'nftables.tables'),
    ('HVS-MGMT-19', [('listeners.1.address', '::')], {}, 'fail', 'tcp :::16514 (libvirtd)'),
    ('HVS-MGMT-19', [('listeners.2.address', '0.0.0.0')], {}, 'fail', 'tcp 0.0.0.0:5900'),
    ('HVS-MGMT-19', [('listeners', None)], {}, 'error', 'could not read listeners'),
    ('HVS-MGMT-19', [('listeners.2.address', '0.0.0.0'), ('listeners.2.port', 6100)], {}, 'pass', ''),
    ('HVS-MGMT-19', [('listeners.2.address', '0.0.0.0'), ('listeners.2.port', 6100)],
     {'hvsec_mgmt_plane_console_port_min': 6000, 'hvsec_mgmt_plane_console_port_max': 6199}, 'fail', '0.0.0.0:6100'),
    ('HVS-MGMT-20', [('libvirt.config.libvirtd.audit_logging', 0)], {}, 'fail', 'audit_logging=0'),
    ('HVS-MGMT-20', [('libvirt.config.libvirtd.audit_level', 0)], {}, 'fail', 'audit_level=0'),
    ('HVS-MGMT-20', [], {}, 'pass', 'libvirtd.conf: audit_level on and audit_logging=1'),
    # modular daemons: virtqemud.conf is what the QEMU driver reads; libvirtd.conf does not count
    ('HVS-MGMT-20', [('processes', ['systemd']), ('libvirt.services', {}),
                     ('libvirt.sockets', {'virtqemud.socket': 'enabled', 'virtproxyd.socket': 'enabled'})], {}, 'fail',
     'libvirt audit: virtqemud audit_logging=0'),
    ('HVS-MGMT-20', [('processes', ['systemd', 'virtqemud']), ('libvirt.services', {}), ('libvirt.sockets', {}),
                     ('libvirt.config.virtqemud.audit_logging', 1)], {}, 'pass', 'virtqemud.conf: audit_level on'),
    # only the socket tells: virtqemud idle-exited (--timeout) and its units are enabled elsewhere
    ('HVS-MGMT-20', [('processes', ['systemd']), ('libvirt.services', {}), ('libvirt.sockets', {}),
                     ('libvirt.unix_sockets', {'/run/libvirt/virtqemud-sock': {'mode': '0666'}})], {}, 'fail',
     'virtqemud audit_logging=0'),
    ('HVS-MGMT-20', [('processes', ['systemd', 'virtqemud']), ('libvirt.config.virtqemud', None),
                     ('libvirt.config_errors', {'virtqemud': 'line 9: missing value'})], {}, 'error',
     'virtqemud.conf: line 9: missing value'),
    ('HVS-MGMT-21', [('audit.rules', ['-w /etc/ssh -p wa'])], {}, 'fail', 'no audit watch on /etc/libvirt'),
    ('HVS-MGMT-21', [('audit.rules', ['-a always,exit -F dir=/etc/libvirt/ -F perm=wa'])], {}, 'pass', 'dir=/etc/libvirt'),
    ('HVS-MGMT-21', [('audit.rules', None),
                     ('notes', [{'probe': 'audit', 'path': '/etc/audit/rules.d', 'reason': 'not found'}])],
     {}, 'fail', 'auditd not installed'),
    ('HVS-MGMT-21', [('audit.rules', None),
                     ('notes', [{'probe': 'audit', 'path': '/etc/audit/rules.d', 'reason': 'permission denied'}])],
     {}, 'error', '/etc/audit/rules.d: permission denied'),
    ('HVS-MGMT-22', [('time_sync', {'active': False, 'daemon': None})], {}, 'fail', 'no time synchronisation'),
    ('HVS-MGMT-22', [('time_sync', {'active': None, 'daemon': None})], {}, 'error', 'processes'),
    ('HVS-MGMT-23', [('libvirt.config.qemu.migration_address', None)], {}, 'fail', 'migration_address=None'),
    ('HVS-MGMT-23', [], {'hvsec_mgmt_plane_address': ''}, 'not_applicable', 'hvsec_mgmt_plane_address not set'),
    # ---------------------------------------------------------------- boot (control_cases/boot.yml has the full tables)
    ('HVS-BOOT-01', [('boot.uefi', False)], {}, 'fail', 'legacy BIOS boot'),
    ('HVS-BOOT-01', [('boot', None)], {}, 'error', 'could not read boot.uefi'),
    ('HVS-BOOT-02', [('boot.secure_boot', False)], {}, 'fail', 'Secure Boot off'),
    ('HVS-BOOT-02', [('boot.secure_boot', None)], {}, 'error', 'boot.secure_boot'),
    ('HVS-BOOT-03', [('boot.tpm.version_major', 1)], {}, 'fail', 'TPM 1.2 (tpm0), not 2.0'),
    ('HVS-BOOT-03', [('boot.tpm.devices', None)], {}, 'error', 'boot.tpm.devices'),
    ('HVS-BOOT-04', [('boot.tpm.event_log', False)], {}, 'fail', 'no TCG event log'),
    ('HVS-BOOT-04', [('boot.tpm.devices', [])], {}, 'not_applicable', 'HVS-BOOT-03'),
    ('HVS-BOOT-05', [('boot.lockdown.active', 'none')], {}, 'fail', 'lockdown none, below integrity'),
    ('HVS-BOOT-05', [('boot.lockdown', None)], {}, 'error', 'boot.lockdown'),
    ('HVS-BOOT-06', [('boot.sig_enforce', 'N'), ('boot.lockdown.active', 'none')], {}, 'fail', 'unsigned modules load'),
    ('HVS-BOOT-06', [('boot.sig_enforce', 'N'), ('boot.lockdown', None)], {}, 'error', 'boot.lockdown'),
    ('HVS-BOOT-07', [('cmdline.args.8', {'key': 'mitigations', 'value': 'off'})], {}, 'fail', 'mitigations=off'),
    ('HVS-BOOT-07', [('cmdline', None)], {}, 'error', 'cmdline.args'),
    ('HVS-BOOT-08', [(('boot', 'sysctl', 'kernel.kexec_load_disabled'), 0)], {}, 'fail', 'kernel.kexec_load_disabled=0'),
    ('HVS-BOOT-08', [(('boot', 'sysctl', 'kernel.kexec_load_disabled'), None)], {}, 'error',
     '/proc/sys/kernel/kexec_load_disabled (not reported by the facts module)'),
    ('HVS-BOOT-09', [(('boot', 'sysctl', 'kernel.unprivileged_bpf_disabled'), 0)], {}, 'fail', 'unprivileged_bpf_disabled=0'),
    ('HVS-BOOT-09', [('boot.sysctl', None)], {}, 'error', 'boot.sysctl'),
    ('HVS-BOOT-10', [(('boot', 'sysctl', 'kernel.kptr_restrict'), 0)], {}, 'fail', 'kernel.kptr_restrict=0 (below 1)'),
    ('HVS-BOOT-10', [(('boot', 'sysctl', 'kernel.dmesg_restrict'), None),
                     ('notes', [{'probe': 'boot', 'path': '/proc/sys/kernel/dmesg_restrict', 'reason': 'permission denied'}])],
     {}, 'error', 'could not read /proc/sys/kernel/dmesg_restrict (permission denied)'),
    ('HVS-BOOT-11', [(('boot', 'sysctl', 'kernel.yama.ptrace_scope'), 0)], {}, 'fail', 'ptrace_scope=0 (below 1)'),
    ('HVS-BOOT-11', [('boot.sysctl', {})], {}, 'error', '/proc/sys/kernel/yama/ptrace_scope'),
    ('HVS-BOOT-12', [(('boot', 'sysctl', 'kernel.perf_event_paranoid'), 1)], {}, 'fail', 'perf_event_paranoid=1 (below 2)'),
    ('HVS-BOOT-12', [('boot.sysctl', {})], {}, 'error', '/proc/sys/kernel/perf_event_paranoid'),
    ('HVS-BOOT-13', [(('boot', 'sysctl', 'fs.protected_symlinks'), 0)], {}, 'fail', 'fs.protected_symlinks=0 (below 1)'),
    ('HVS-BOOT-13', [('boot.sysctl', {})], {}, 'error', '/proc/sys/fs/protected_hardlinks'),
    ('HVS-BOOT-14', [(('boot', 'sysctl', 'net.ipv4.conf.all.send_redirects'), 1)], {}, 'fail',
     'ICMP redirect on: net.ipv4.conf.all.send_redirects=1'),
    ('HVS-BOOT-14', [('boot.sysctl', {})], {}, 'error', '/proc/sys/net/ipv4/conf/all/accept_redirects'),
    ('HVS-BOOT-15', [(('boot', 'sysctl', 'net.ipv6.conf.default.accept_source_route'), 1)], {}, 'fail',
     'net.ipv6.conf.default.accept_source_route=1'),
    ('HVS-BOOT-15', [('boot.sysctl', {})], {}, 'error', '/proc/sys/net/ipv4/conf/all/accept_source_route'),
    ('HVS-BOOT-16', [('boot.grub.superusers', [])], {}, 'fail', 'no superusers set'),
    ('HVS-BOOT-16', [('boot.grub', None)], {}, 'not_applicable', 'no grub.cfg'),
    ('HVS-BOOT-17', [('boot.grub.mode', '0644')], {}, 'fail', 'mode 0644 allows more than 0640'),
    ('HVS-BOOT-17', [('boot.grub.mode', None)], {}, 'error', 'boot.grub.mode'),
]


@pytest.mark.parametrize('cid,changes,settings,status,fragment', CASES,
                         ids=['%s-%d' % (c[0], i) for i, c in enumerate(CASES)])
def test_evaluator_case(cid, changes, settings, status, fragment):
    result = _run(cid, changes, settings)
    assert result['status'] == status, result['evidence']
    assert fragment in result['evidence']


def test_every_control_has_a_fail_or_not_applicable_case_and_an_error_or_na_case():
    covered_fail = set(c[0] for c in CASES if c[3] == 'fail')
    # Controls that can only be not_applicable/pass by design are listed explicitly.
    assert set(BY_ID) - covered_fail == set()
    covered_other = set(c[0] for c in CASES if c[3] in ('error', 'not_applicable'))
    missing = sorted(set(BY_ID) - covered_other)
    # These evaluate settings only or degrade to fail on absence; an empty fact dict still errors them:
    for cid in missing:
        result = ev.evaluate({}, SETTINGS, [], controls=[BY_ID[cid]])[0]
        assert result['status'] in ('error', 'not_applicable'), (cid, result)


def test_empty_facts_never_raise_and_yield_error_or_not_applicable():
    results = ev.evaluate({}, {}, [])
    assert len(results) == len(CONTROLS)
    assert set(r['status'] for r in results) <= set(['error', 'not_applicable'])


def test_malformed_facts_become_error_not_traceback():
    facts = copy.deepcopy(HARDENED)
    facts['pci']['devices'] = 'garbage'
    facts['libvirt']['domains'] = [42]
    results = dict((r['id'], r) for r in ev.evaluate(facts, SETTINGS, []))
    assert results['HVS-VFIO-03']['status'] == 'error'
    assert 'malformed facts' in results['HVS-VFIO-03']['evidence']
    assert results['HVS-IOMMU-16']['status'] == 'error'


def test_real_container_facts_evaluate_without_error_except_documented():
    """Facts captured by hypervisor_facts on the CI container (no IOMMU, no libvirt, no sshd)."""
    results = dict((r['id'], r) for r in ev.evaluate(CONTAINER, {}, []))
    assert results['HVS-IOMMU-05']['status'] == 'fail'
    assert results['HVS-MGMT-01']['status'] == 'not_applicable'
    assert results['HVS-MGMT-13']['status'] == 'not_applicable'
    assert results['HVS-VSW-05']['status'] == 'not_applicable'
    # securityfs is not mounted in the container: the lockdown mode cannot be known
    assert results['HVS-BOOT-05']['evidence'] == (
        'could not read /sys/kernel/security/lockdown (securityfs not mounted at /sys/kernel/security)')
    # its kernel has no loadable modules and no kexec (no modules_disabled, no kexec_load_disabled), no Yama
    assert results['HVS-BOOT-06']['evidence'] == 'kernel without loadable module support (no kernel.modules_disabled)'
    assert results['HVS-BOOT-08']['evidence'] == 'kernel without kexec (no kernel.kexec_load_disabled)'
    assert results['HVS-BOOT-11']['status'] == 'fail'
    assert [r['id'] for r in results.values() if r['status'] == 'error'] == ['HVS-BOOT-05']


# ---------------------------------------------------------------- waivers
def test_waiver_marks_status_and_keeps_finding():
    facts = copy.deepcopy(HARDENED)
    facts['ksm']['run'] = 1
    results = dict((r['id'], r) for r in ev.evaluate(facts, SETTINGS, [{'id': 'HVS-IOMMU-13', 'reason': 'dev box'}]))
    assert results['HVS-IOMMU-13']['status'] == 'waived'
    assert results['HVS-IOMMU-13']['evidence'].startswith('waived: dev box (would be: fail - ksm run=1')


@pytest.mark.parametrize('waivers,message', [
    ([{'id': 'HVS-NOPE-99', 'reason': 'x'}], 'waivers[0].id HVS-NOPE-99 is not a known control ID'),
    ([{'id': 'HVS-IOMMU-13'}], 'needs a non-empty reason'),
    ([{'id': 'HVS-IOMMU-13', 'reason': '  '}], 'needs a non-empty reason'),
    (['HVS-IOMMU-13'], 'waivers[0] must be a dict'),
    ({'id': 'HVS-IOMMU-13'}, 'waivers must be a list'),
    ([{'id': 'HVS-IOMMU-13', 'reason': 'r', 'until': 'never'}], 'unknown key(s) until'),
])
def test_bad_waivers_raise_before_evaluation(waivers, message):
    with pytest.raises(ev.SettingsError) as exc:
        ev.evaluate(HARDENED, SETTINGS, waivers)
    assert message in str(exc.value)


# Waivers with approver, ticket and expiry. "today" is always passed in: no test here depends on
# the real date.
KSM_ON = (('ksm.run', 1),)
FULL_WAIVER = {'id': 'HVS-IOMMU-13', 'reason': 'dev box', 'approved_by': 'alice (CISO)', 'ticket': 'SEC-12',
               'expires': '2026-03-31'}


def _waived(waiver, today, changes=KSM_ON):
    facts = copy.deepcopy(HARDENED)
    for path, value in changes:
        _set(facts, path, value)
    results = dict((r['id'], r) for r in ev.evaluate(facts, SETTINGS, [waiver], today=today))
    return results['HVS-IOMMU-13']


def test_waiver_before_expiry_is_active_and_names_approver_ticket_expiry():
    result = _waived(FULL_WAIVER, datetime.date(2026, 3, 1))
    assert result['status'] == 'waived'
    assert result['evidence'].startswith(
        'waived: dev box [approved by alice (CISO); ticket SEC-12; expires 2026-03-31] (would be: fail - ksm run=1')
    assert result['waiver'] == {'reason': 'dev box', 'approved_by': 'alice (CISO)', 'ticket': 'SEC-12',
                                'expires': '2026-03-31', 'state': 'active'}


def test_waiver_holds_on_its_expiry_day_and_expires_the_day_after():
    on_the_day = _waived(FULL_WAIVER, datetime.date(2026, 3, 31))
    assert (on_the_day['status'], on_the_day['waiver']['state']) == ('waived', 'active')
    day_after = _waived(FULL_WAIVER, datetime.date(2026, 4, 1))
    assert (day_after['status'], day_after['waiver']['state']) == ('fail', 'expired')


def test_expired_waiver_turns_the_control_back_into_fail_saying_when():
    result = _waived(FULL_WAIVER, datetime.date(2027, 1, 15))
    assert result['status'] == 'fail'
    assert result['evidence'].startswith('ksm run=1')
    assert result['evidence'].endswith(
        '(waiver expired on 2026-03-31: dev box [approved by alice (CISO); ticket SEC-12])')
    assert result['waiver']['state'] == 'expired'


def test_expired_waiver_trips_the_gate_an_active_one_does_not():
    facts = copy.deepcopy(HARDENED)
    facts['ksm']['run'] = 1
    severity = BY_ID['HVS-IOMMU-13']['severity']
    expired = ev.evaluate(facts, SETTINGS, [FULL_WAIVER], today=datetime.date(2026, 4, 1))
    active = ev.evaluate(facts, SETTINGS, [FULL_WAIVER], today=datetime.date(2026, 3, 31))
    assert ev.gate_failures(expired, severity) == ['HVS-IOMMU-13']
    assert ev.gate_failures(active, severity) == []


def test_waiver_on_a_passing_control_is_unneeded_and_the_control_passes():
    result = _waived(FULL_WAIVER, datetime.date(2026, 3, 1), changes=())
    assert result['status'] == 'pass'
    assert result['waiver']['state'] == 'unneeded'
    assert '(waiver unneeded: pass without it; waiver: dev box [approved by alice (CISO)' in result['evidence']


def test_waiver_on_a_control_that_does_not_apply_is_unneeded():
    facts = copy.deepcopy(HARDENED)
    results = dict((r['id'], r) for r in ev.evaluate(
        facts, SETTINGS, [{'id': 'HVS-MGMT-17', 'reason': 'r'}], today=datetime.date(2026, 1, 1)))
    settings = dict(SETTINGS, hvsec_mgmt_plane_address='')
    na = dict((r['id'], r) for r in ev.evaluate(
        facts, settings, [{'id': 'HVS-MGMT-17', 'reason': 'r'}], today=datetime.date(2026, 1, 1)))
    assert results['HVS-MGMT-17']['status'] == 'pass'
    assert na['HVS-MGMT-17']['status'] == 'not_applicable'
    assert na['HVS-MGMT-17']['waiver']['state'] == 'unneeded'
    assert 'waiver unneeded: not_applicable without it' in na['HVS-MGMT-17']['evidence']


def test_expired_waiver_on_a_passing_control_says_expired():
    result = _waived(FULL_WAIVER, datetime.date(2026, 5, 1), changes=())
    assert (result['status'], result['waiver']['state']) == ('pass', 'expired')
    assert 'waiver expired on 2026-03-31' in result['evidence']


def test_todays_form_without_the_new_fields_stays_valid_and_never_expires():
    result = _waived({'id': 'HVS-IOMMU-13', 'reason': 'dev box'}, datetime.date(2999, 1, 1))
    assert result['status'] == 'waived'
    assert result['evidence'].startswith('waived: dev box (would be: fail - ksm run=1')
    assert result['waiver'] == {'reason': 'dev box', 'approved_by': None, 'ticket': None, 'expires': None,
                                'state': 'active'}


def test_expiry_as_a_yaml_date_equals_the_iso_string_and_a_numeric_ticket_is_text():
    waiver = dict(FULL_WAIVER, expires=datetime.date(2026, 3, 31), ticket=4711)
    assert ev.validate_waivers([waiver])['HVS-IOMMU-13'] == {
        'reason': 'dev box', 'approved_by': 'alice (CISO)', 'ticket': '4711', 'expires': datetime.date(2026, 3, 31)}
    assert _waived(waiver, datetime.date(2026, 4, 1))['status'] == 'fail'


def test_controls_without_a_waiver_have_no_waiver_record():
    results = ev.evaluate(HARDENED, SETTINGS, [FULL_WAIVER], today=datetime.date(2026, 1, 1))
    assert [r['id'] for r in results if 'waiver' in r] == ['HVS-IOMMU-13']


@pytest.mark.parametrize('changes,message', [
    ({'expires': '2026-02-30'}, "waivers[0].expires must be a date (YYYY-MM-DD), got '2026-02-30'"),
    ({'expires': '31.03.2026'}, "waivers[0].expires must be a date (YYYY-MM-DD), got '31.03.2026'"),
    ({'expires': 20260331}, 'waivers[0].expires must be a date (YYYY-MM-DD), got 20260331'),
    ({'expires': datetime.datetime(2026, 3, 31, 12, 0)},
     'waivers[0].expires must be a date (YYYY-MM-DD) without a time, got 2026-03-31 12:00:00'),
    ({'approved_by': ''}, "waivers[0].approved_by must be a non-empty string, got ''"),
    ({'approved_by': ['alice']}, "waivers[0].approved_by must be a non-empty string, got ['alice']"),
    ({'ticket': True}, 'waivers[0].ticket must be a non-empty string, got True'),
    ({'approver': 'alice'},
     'waivers[0] has unknown key(s) approver (allowed: id, reason, approved_by, ticket, expires)'),
])
def test_malformed_waiver_fields_are_refused_naming_the_field(changes, message):
    with pytest.raises(ev.SettingsError) as exc:
        ev.evaluate(HARDENED, SETTINGS, [dict(FULL_WAIVER, **changes)], today=datetime.date(2026, 1, 1))
    assert str(exc.value) == message


@pytest.mark.parametrize('settings,message', [
    ({'hvsec_iommu_policy': 'lazy'}, 'hvsec_iommu_policy must be one of strict, passthrough'),
    ({'hvsec_vfio_allowlist': '0000:00:03.0'}, 'hvsec_vfio_allowlist must be a list'),
    ({'hvsec_vfio_allowlist': [{'name': 'x'}]}, 'hvsec_vfio_allowlist[0] must be a dict with address or id'),
    ({'hvsec_iommu_nosmt': 'yes'}, 'hvsec_iommu_nosmt must be a bool'),
    ({'hvsec_vswitch_bridges': ['br0']}, 'hvsec_vswitch_bridges[0] must be a dict'),
])
def test_bad_settings_raise_naming_the_variable(settings, message):
    with pytest.raises(ev.SettingsError) as exc:
        ev.evaluate(HARDENED, settings, [])
    assert message in str(exc.value)


# ---------------------------------------------------------------- gate
def _results(*pairs):
    return [{'id': 'X-%d' % i, 'severity': sev, 'status': st} for i, (sev, st) in enumerate(pairs)]


@pytest.mark.parametrize('fail_on,expected', [
    ('none', []),
    ('critical', ['X-3']),
    ('high', ['X-1', 'X-3']),
    ('medium', ['X-1', 'X-2', 'X-3']),
    ('low', ['X-0', 'X-1', 'X-2', 'X-3']),
])
def test_gate_failures(fail_on, expected):
    results = _results(('low', 'fail'), ('high', 'fail'), ('medium', 'fail'), ('critical', 'fail'),
                       ('critical', 'waived'), ('critical', 'error'), ('high', 'pass'))
    assert ev.gate_failures(results, fail_on) == expected


def test_gate_rejects_unknown_severity():
    with pytest.raises(ev.SettingsError) as exc:
        ev.gate_failures([], 'severe')
    assert 'fail_on must be one of none, low, medium, high, critical' in str(exc.value)


def test_summary_counts_every_status():
    facts = copy.deepcopy(HARDENED)
    facts['ksm']['run'] = 1
    summary = summarize(ev.evaluate(facts, SETTINGS, [{'id': 'HVS-IOMMU-13', 'reason': 'r'}]))
    assert set(summary) == set(STATUSES)
    assert summary['waived'] == 1 and summary['pass'] == len(CONTROLS) - 1


# ---------------------------------------------------------------- settings
def test_merge_settings_keeps_only_hvsec_keys_and_later_layers_win():
    merged = ev.merge_settings({'hvsec_a': 1, 'other': 2}, {'hvsec_a': 3})
    assert merged == {'hvsec_a': 3}


def _roles_defaults_read_here():
    """Every roles/*/defaults/main.yml of the collection, merged in role name order (read by this test)."""
    yaml = pytest.importorskip('yaml')
    merged = {}
    for path in sorted(glob.glob(os.path.join(COLLECTION_ROOT, 'roles', '*', 'defaults', 'main.yml'))):
        with open(path) as handle:
            merged.update(yaml.safe_load(handle) or {})
    return merged


def test_evaluate_without_settings_uses_exactly_the_roles_defaults(monkeypatch):
    seen = []

    def capture(control, facts, settings):
        seen.append(settings)
        return 'pass', 'captured'
    monkeypatch.setattr(ev, 'evaluate_one', capture)
    expected = _roles_defaults_read_here()
    assert expected and all(name.startswith('hvsec_') for name in expected)
    ev.evaluate(HARDENED)
    assert len(seen) == len(CONTROLS)
    assert all(settings == expected for settings in seen)
    del seen[:]
    ev.evaluate(HARDENED, {'hvsec_iommu_nested': True})
    assert seen[0] == dict(expected, hvsec_iommu_nested=True)


def test_roles_agree_on_the_variables_they_share():
    yaml = pytest.importorskip('yaml')
    seen = {}
    for path in sorted(glob.glob(os.path.join(COLLECTION_ROOT, 'roles', '*', 'defaults', 'main.yml'))):
        with open(path) as handle:
            for name, value in (yaml.safe_load(handle) or {}).items():
                seen.setdefault(name, {})[path] = value
    shared = dict((name, by_path) for name, by_path in seen.items() if len(by_path) > 1)
    assert 'hvsec_reboot_ok' in shared and 'hvsec_waivers' in shared
    disagree = dict((name, by_path) for name, by_path in shared.items() if len(set(repr(v) for v in by_path.values())) > 1)
    assert disagree == {}


def test_every_catalog_variable_has_a_role_default():
    variables = set(c['variable'] for c in CONTROLS if c['variable'])
    assert sorted(variables - set(default_settings())) == []


def test_role_defaults_are_read_once_and_handed_out_as_copies(tmp_path):
    role = tmp_path / 'roles' / 'demo' / 'defaults'
    role.mkdir(parents=True)
    (role / 'main.yml').write_text('hvsec_demo_list: [a]\n')
    first = role_defaults(str(tmp_path / 'roles'))
    assert first == [{'hvsec_demo_list': ['a']}]
    first[0]['hvsec_demo_list'].append('b')
    (role / 'main.yml').write_text('hvsec_demo_list: [changed]\n')
    assert role_defaults(str(tmp_path / 'roles')) == [{'hvsec_demo_list': ['a']}]
    assert default_settings(str(tmp_path / 'roles')) == {'hvsec_demo_list': ['a']}


def test_role_defaults_that_are_not_a_mapping_are_refused(tmp_path):
    role = tmp_path / 'roles' / 'demo' / 'defaults'
    role.mkdir(parents=True)
    (role / 'main.yml').write_text('- a list\n')
    with pytest.raises(ev.SettingsError, match='role defaults .*demo/defaults/main.yml is not a mapping'):
        role_defaults(str(tmp_path / 'roles'))
    (role / 'main.yml').write_text('key: [unclosed\n')
    with pytest.raises(ev.SettingsError, match='cannot read role defaults'):
        role_defaults(str(tmp_path / 'roles'))


def test_management_port_ranges_missing_from_the_settings_are_the_roles_defaults():
    control = BY_ID['HVS-MGMT-19']
    facts = copy.deepcopy(HARDENED)
    facts['listeners'][2]['address'] = '0.0.0.0'
    assert ev.evaluate_one(control, facts, {})[0] == 'fail'   # 5900: within the role's default console range
    facts['listeners'][2]['port'] = 6100
    assert ev.evaluate_one(control, facts, {})[0] == 'pass'
    assert ev.evaluate_one(control, facts, {'hvsec_mgmt_plane_console_port_max': 6100})[0] == 'fail'


def _with_record(cid, changes=(), settings=None, **record):
    """(status, evidence) of control ``cid`` judged by ev.evaluate_one with its record's keys replaced."""
    facts = copy.deepcopy(HARDENED)
    for path, value in changes:
        _set(facts, path, value)
    control = dict(BY_ID[cid], **record)
    return ev.evaluate_one(control, facts, ev.merge_settings(SETTINGS, settings))


def test_iommu_disabling_arguments_are_the_records_kernel_args():
    changes = [('cmdline.args.4', {'key': 'intel_iommu', 'value': 'off'})]
    assert _with_record('HVS-IOMMU-06', changes)[0] == 'fail'
    assert _with_record('HVS-IOMMU-06', changes, kernel_args=[{'absent': ['iommu=off']}]) == \
        ('pass', 'no IOMMU-disabling argument in /proc/cmdline')
    assert _with_record('HVS-IOMMU-06', [], kernel_args=[{'absent': ['quiet']}]) == ('fail', 'kernel command line has: quiet')


def test_kernel_args_rules_apply_by_their_when_settings():
    # HVS-IOMMU-07: iommu=pt is absent only under the strict policy rule
    changes = [('cmdline.args.3', {'key': 'iommu', 'value': 'pt'})]
    assert 'iommu=pt in cmdline' in _with_record('HVS-IOMMU-07', changes)[1]
    rules = [{'when': {'hvsec_iommu_policy': 'passthrough'}, 'absent': ['iommu=pt']}]
    status, evidence = _with_record('HVS-IOMMU-07', changes, kernel_args=rules)
    assert 'iommu=pt' not in evidence and status == 'pass'
    # HVS-IOMMU-10 wants the record's present arguments; HVS-IOMMU-08 refuses its absent ones
    assert _with_record('HVS-IOMMU-10', kernel_args=[{'when': {'hvsec_iommu_early_dma_protection': True}, 'present': ['ro', 'quiet']}]) == \
        ('pass', 'ro, quiet in cmdline')
    assert _with_record('HVS-IOMMU-10', kernel_args=[{'present': ['nosmt']}]) == ('fail', 'nosmt missing from cmdline')
    assert _with_record('HVS-IOMMU-08', kernel_args=[{'absent': ['mitigations']}]) == ('fail', 'mitigations=auto,nosmt in cmdline')
    assert _with_record('HVS-IOMMU-08', kernel_args=[{'absent': ['mitigations=auto']}]) == ('fail', 'mitigations=auto,nosmt in cmdline')
    assert _with_record('HVS-IOMMU-08', kernel_args=[{'absent': ['mitigations=off']}]) == ('pass', 'no mitigations=off in cmdline')


def test_sshd_rule_values_are_the_records_params():
    weak = ['chacha20-poly1305']
    assert _with_record('HVS-MGMT-16', params={'weak_fragments': weak}) == ('fail', 'weak algorithms: chacha20-poly1305@openssh.com')
    changes = [('sshd.effective.permitrootlogin', 'yes')]
    assert _with_record('HVS-MGMT-13', changes)[0] == 'fail'
    assert _with_record('HVS-MGMT-13', changes, params={'safe_permit_root_login': ['yes']})[0] == 'pass'


def test_management_ports_are_the_records_params():
    changes = [('listeners.2.address', '0.0.0.0'), ('listeners.2.port', 6100)]
    params = dict(BY_ID['HVS-MGMT-19']['params'], ports=[6100])
    assert _with_record('HVS-MGMT-19', changes)[0] == 'pass'
    assert _with_record('HVS-MGMT-19', changes, params=params) == ('fail', 'wildcard listener: tcp 0.0.0.0:6100 (qemu-system-x86)')


def test_unparsable_domain_xml_turns_pass_into_error_and_is_noted_on_fail():
    facts = copy.deepcopy(HARDENED)
    facts['libvirt']['domain_errors'] = {'/etc/libvirt/qemu/broken.xml': 'mismatched tag: line 7, column 2'}
    result = ev.evaluate(facts, SETTINGS, [], controls=[BY_ID['HVS-VSW-10']])[0]
    assert result['status'] == 'error'
    assert 'broken.xml: mismatched tag' in result['evidence']
    facts['libvirt']['domains'][0]['interfaces'][0]['filterref'] = None
    result = ev.evaluate(facts, SETTINGS, [], controls=[BY_ID['HVS-VSW-10']])[0]
    assert result['status'] == 'fail'
    assert 'also unparsable' in result['evidence']
    # controls not reading domain XML are unaffected
    assert ev.evaluate(facts, SETTINGS, [], controls=[BY_ID['HVS-MGMT-08']])[0]['status'] == 'pass'


# ---------------------------------------------------------------- HVS-VSW-10: declared ports, nftables
# `nft -j list ruleset` captured by tools/capture_fixtures.py (nftables 1.0.6) after loading the tables
# the vswitch role renders for these declarations (vswitch_bridge.render_nft / render_nft_port).
SPOOF_SETTINGS = {
    'hvsec_vswitch_bridges': [{'name': 'br-guest', 'ports': [
        {'name': 'vg1', 'vlans': [100], 'mac': '02:00:00:00:50:11', 'ips': ['192.168.50.11']},
        {'name': 'vg2', 'vlans': [100], 'mac': '02:00:00:00:50:12', 'ips': ['192.168.50.12']},
        {'name': 'vg3', 'vlans': [200], 'mac': '02:00:00:00:50:13', 'ips': ['192.168.50.13']}]}],
    'hvsec_vswitch_ovs_ports': [
        {'name': 'vo1', 'tag': 100, 'mac': '02:00:00:00:60:11', 'ips': ['192.168.60.11', '2001:DB8:0::11']},
        {'name': 'vo2', 'tag': 100, 'mac': '02:00:00:00:60:12'}],
}


def _with_ruleset(name):
    from ansible_collections.hvsec.hypervisor.plugins.module_utils import nft
    with open(os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch', name)) as handle:
        data, error = nft.parse_ruleset(handle.read())
    assert error is None
    facts = copy.deepcopy(HARDENED)
    facts['nftables'] = {'installed': True, 'tables': data['tables'], 'ruleset': data['ruleset']}
    return facts


def test_vsw_10_declared_ports_protected_by_the_loaded_tables():
    result = _run('HVS-VSW-10', settings=SPOOF_SETTINGS, facts=_with_ruleset('nft_ruleset_hardened.json'))
    assert result['status'] == 'pass', result['evidence']
    assert '5 declared port(s) with nftables MAC/IP anti-spoofing' in result['evidence']
    assert '2 guest interface(s) filtered by clean-traffic' in result['evidence']
    assert result['evidence'] == ('2 guest interface(s) filtered by clean-traffic; '
                                  '5 declared port(s) with nftables MAC/IP anti-spoofing')


def test_vsw_10_missing_or_wrong_tables_fail_per_port():
    result = _run('HVS-VSW-10', settings=SPOOF_SETTINGS, facts=_with_ruleset('nft_ruleset_partial.json'))
    assert result['status'] == 'fail'
    evidence = result['evidence']
    assert 'port vg2 (br-guest): no rule drops source MAC other than 02:00:00:00:50:12' in evidence
    assert 'port vg3 (br-guest): no rule drops source MAC other than 02:00:00:00:50:13' in evidence
    assert 'port vo2 (OVS): no rule drops source MAC' in evidence
    assert 'vg1' not in evidence and 'vo1' not in evidence


def test_vsw_10_ip_rules_must_not_allow_undeclared_sources():
    facts = _with_ruleset('nft_ruleset_hardened.json')
    settings = copy.deepcopy(SPOOF_SETTINGS)
    settings['hvsec_vswitch_bridges'][0]['ports'][0]['ips'] = ['192.168.50.99']   # the table allows .11
    settings['hvsec_vswitch_ovs_ports'][1]['ips'] = ['192.168.60.12']            # vo2's table has no IP rules
    result = _run('HVS-VSW-10', settings=settings, facts=facts)
    assert result['status'] == 'fail'
    assert 'port vg1 (br-guest): no rule drops ip source other than 192.168.50.99' in result['evidence']
    assert 'port vo2 (OVS): no rule drops ip source other than 192.168.60.12; ip6 not dropped' in result['evidence']


def test_vsw_10_ports_without_nftables_or_ruleset():
    facts = _with_ruleset('nft_ruleset_hardened.json')
    facts['nftables'] = {'installed': False, 'tables': None, 'ruleset': None}
    result = _run('HVS-VSW-10', settings=SPOOF_SETTINGS, facts=facts)
    assert result['status'] == 'fail' and 'nftables not installed' in result['evidence']
    facts['nftables'] = {'installed': True, 'tables': None, 'ruleset': None}
    result = _run('HVS-VSW-10', settings=SPOOF_SETTINGS, facts=facts)
    assert result['status'] == 'error' and 'nftables.ruleset' in result['evidence']
    # without libvirt only the ports are evaluated
    facts = _with_ruleset('nft_ruleset_hardened.json')
    facts['libvirt'] = {'installed': False}
    result = _run('HVS-VSW-10', settings=SPOOF_SETTINGS, facts=facts)
    assert result['status'] == 'pass' and 'guest interface' not in result['evidence']
    assert _run('HVS-VSW-10', facts=facts)['status'] == 'not_applicable'


# ---------------------------------------------------------------- the engine's own words
# Messages and evidence the engine writes, compared whole: users read them, reports quote them.

def test_unreadable_fact_evidence_names_the_path_and_the_note_or_the_hint():
    control = BY_ID['HVS-IOMMU-05']
    assert ev.evaluate_one(control, {}, SETTINGS) == (
        'error', 'could not read iommu.units (not reported by the facts module)')
    facts = {'notes': [{'probe': 'iommu', 'path': '/sys/class/iommu', 'reason': 'permission denied'}]}
    assert ev.evaluate_one(control, facts, SETTINGS) == (
        'error', 'could not read iommu.units (/sys/class/iommu: permission denied)')
    assert ev._error_evidence(facts, ev.Unknown('iommu.units', hint='see the kernel log')) == (
        'could not read iommu.units (see the kernel log)')


def test_malformed_facts_evidence_names_the_exception():
    facts = copy.deepcopy(HARDENED)
    facts['pci']['devices'] = 'garbage'
    status, evidence = ev.evaluate_one(BY_ID['HVS-VFIO-03'], facts, SETTINGS)
    assert status == 'error'
    assert evidence.startswith('evaluation failed on malformed facts: ') and evidence.count(':') >= 2
    assert evidence.split(': ')[1] in ('AttributeError', 'TypeError', 'KeyError', 'ValueError', 'IndexError')


TWO_XML_ERRORS = {'/etc/libvirt/qemu/b.xml': 'mismatched tag', '/etc/libvirt/qemu/a.xml': 'no element found'}


def test_unparsable_domain_xml_evidence_lists_every_file_in_order():
    facts = copy.deepcopy(HARDENED)
    facts['libvirt']['domain_errors'] = dict(TWO_XML_ERRORS)
    passing = ev.evaluate_one(BY_ID['HVS-VSW-10'], copy.deepcopy(HARDENED), SETTINGS)
    assert passing[0] == 'pass'
    assert ev.evaluate_one(BY_ID['HVS-VSW-10'], facts, SETTINGS) == (
        'error', 'could not parse libvirt XML (/etc/libvirt/qemu/a.xml: no element found; '
        '/etc/libvirt/qemu/b.xml: mismatched tag); of the rest: %s' % passing[1])
    facts['libvirt']['domains'][0]['interfaces'][0]['filterref'] = None
    failing = ev.evaluate_one(BY_ID['HVS-VSW-10'], dict(facts, libvirt=dict(facts['libvirt'], domain_errors={})), SETTINGS)
    assert failing[0] == 'fail'
    assert ev.evaluate_one(BY_ID['HVS-VSW-10'], facts, SETTINGS) == (
        'fail', '%s (also unparsable: /etc/libvirt/qemu/a.xml: no element found; '
        '/etc/libvirt/qemu/b.xml: mismatched tag)' % failing[1])


def test_domain_errors_count_only_when_libvirt_is_installed_and_they_are_a_mapping():
    facts = copy.deepcopy(HARDENED)
    facts['libvirt']['domain_errors'] = ['/etc/libvirt/qemu/broken.xml']
    assert ev.evaluate_one(BY_ID['HVS-VSW-10'], facts, SETTINGS)[0] == 'pass'
    facts = {'libvirt': {'installed': False, 'domain_errors': dict(TWO_XML_ERRORS)}}
    assert ev.evaluate_one(BY_ID['HVS-IOMMU-16'], facts, SETTINGS) == ('not_applicable', 'libvirt is not installed')


def test_gate_rejects_unknown_severity_in_these_words():
    with pytest.raises(ev.SettingsError) as exc:
        ev.validate_fail_on('severe')
    assert str(exc.value) == "fail_on must be one of none, low, medium, high, critical, got 'severe'"
    assert ev.validate_fail_on('high') == 'high'


@pytest.mark.parametrize('settings,message', [
    ([], 'settings must be a dict of hvsec_* variables'),
    ({'hvsec_iommu_nosmt': 'yes'}, 'hvsec_iommu_nosmt must be a bool, got str'),
    ({'hvsec_vfio_allowlist': {'id': '8086:1521'}}, 'hvsec_vfio_allowlist must be a list, got dict'),
    ({'hvsec_mgmt_plane_address': 10}, 'hvsec_mgmt_plane_address must be a str, got int'),
    ({'hvsec_iommu_policy': 'lazy'}, "hvsec_iommu_policy must be one of strict, passthrough, got 'lazy'"),
    ({'hvsec_vfio_allowlist': [{'address': '0000:01:00.0'}, 'x']},
     'hvsec_vfio_allowlist[1] must be a dict with address or id'),
    ({'hvsec_vfio_allowlist': [{'address': ''}]}, 'hvsec_vfio_allowlist[0] must be a dict with address or id'),
    ({'hvsec_vfio_sriov': ['enp1s0f0']}, 'hvsec_vfio_sriov[0] must be a dict'),
    ({'hvsec_vswitch_bridges': [{'name': 'br0'}, 'br1']}, 'hvsec_vswitch_bridges[1] must be a dict'),
    ({'hvsec_vswitch_ovs_ports': ['vnet0']}, 'hvsec_vswitch_ovs_ports[0] must be a dict'),
    ({'hvsec_boot_lockdown': 'none'}, "hvsec_boot_lockdown must be one of integrity, confidentiality, got 'none'"),
    ({'hvsec_boot_kptr_restrict': 3}, 'hvsec_boot_kptr_restrict must be an integer from 0 to 2, got 3'),
    ({'hvsec_boot_kptr_restrict': -1}, 'hvsec_boot_kptr_restrict must be an integer from 0 to 2, got -1'),
    ({'hvsec_boot_bpf_jit_harden': True}, 'hvsec_boot_bpf_jit_harden must be an integer from 0 to 2, got True'),
    ({'hvsec_boot_ptrace_scope': '1.5'}, "hvsec_boot_ptrace_scope must be an integer from 0 to 3, got '1.5'"),
    ({'hvsec_boot_ptrace_scope': 4}, 'hvsec_boot_ptrace_scope must be an integer from 0 to 3, got 4'),
    ({'hvsec_boot_perf_event_paranoid': -2}, 'hvsec_boot_perf_event_paranoid must be an integer from -1 to 4, got -2'),
    ({'hvsec_boot_perf_event_paranoid': 5}, 'hvsec_boot_perf_event_paranoid must be an integer from -1 to 4, got 5'),
    ({'hvsec_boot_protected_files': None}, 'hvsec_boot_protected_files must be an integer from 0 to 2, got None'),
    ({'hvsec_boot_protected_files': 3}, 'hvsec_boot_protected_files must be an integer from 0 to 2, got 3'),
])
def test_bad_settings_are_refused_in_these_words(settings, message):
    with pytest.raises(ev.SettingsError) as exc:
        ev.validate_settings(settings)
    assert str(exc.value) == message


def test_good_settings_are_returned_unchanged():
    settings = {'hvsec_vfio_allowlist': [{'id': '8086:1521'}], 'hvsec_vfio_sriov': [{'pf': 'enp1s0f0'}],
                'hvsec_iommu_policy': 'passthrough', 'hvsec_other': object()}
    assert ev.validate_settings(settings) is settings


@pytest.mark.parametrize('name, value', [
    ('hvsec_boot_lockdown', 'integrity'), ('hvsec_boot_lockdown', 'confidentiality'),
    ('hvsec_boot_kptr_restrict', 0), ('hvsec_boot_kptr_restrict', 2), ('hvsec_boot_bpf_jit_harden', '2'),
    ('hvsec_boot_ptrace_scope', 3), ('hvsec_boot_perf_event_paranoid', -1), ('hvsec_boot_perf_event_paranoid', '4'),
    ('hvsec_boot_perf_event_paranoid', ' -1 '), ('hvsec_boot_protected_files', 0),
])
def test_boot_thresholds_accept_their_range(name, value):
    assert ev.validate_settings({name: value}) == {name: value}


@pytest.mark.parametrize('value, number', [
    (2, 2), (0, 0), ('2', 2), (' 3 ', 3), ('-1', -1), (True, None), (False, None), ('x', None), ('', None),
    ('1.5', None), (None, None), (2.0, None), ('--1', None),
])
def test_int_setting(value, number):
    assert int_setting(value) == number


def test_boot_thresholds_default_to_the_records_params():
    """The boot area has no role: its thresholds come from the catalog unless a setting is given."""
    facts = copy.deepcopy(HARDENED)
    facts['boot']['sysctl']['kernel.perf_event_paranoid'] = 2
    assert 'hvsec_boot_perf_event_paranoid' not in default_settings()
    assert BY_ID['HVS-BOOT-12']['params'] == {'perf_event_paranoid': 2}
    assert ev.evaluate_one(BY_ID['HVS-BOOT-12'], facts, {}) == ('pass', 'kernel.perf_event_paranoid=2 (at least 2)')
    assert ev.evaluate_one(BY_ID['HVS-BOOT-12'], facts, {'hvsec_boot_perf_event_paranoid': 3}) == (
        'fail', 'kernel.perf_event_paranoid=2 (below 3)')


def test_role_defaults_are_refused_in_these_words(tmp_path):
    role = tmp_path / 'roles' / 'demo' / 'defaults'
    role.mkdir(parents=True)
    (role / 'main.yml').write_text('- a list\n')
    with pytest.raises(ev.SettingsError) as exc:
        role_defaults(str(tmp_path / 'roles'))
    assert str(exc.value) == 'role defaults %s is not a mapping' % (role / 'main.yml')
    (role / 'main.yml').write_text('key: [unclosed\n')
    with pytest.raises(ev.SettingsError) as exc:
        role_defaults(str(tmp_path / 'roles'))
    assert str(exc.value).startswith('cannot read role defaults %s: while parsing' % (role / 'main.yml'))


@pytest.mark.parametrize('waivers,message', [
    ('HVS-IOMMU-13', 'waivers must be a list of {id, reason} dicts, got str'),
    ({'id': 'HVS-IOMMU-13'}, 'waivers must be a list of {id, reason} dicts, got dict'),
    ([{'id': 'HVS-IOMMU-13', 'reason': 'r'}, 'HVS-IOMMU-14'], 'waivers[1] must be a dict with keys id and reason'),
    ([{'id': 'HVS-IOMMU-13', 'reason': 'r', 'until': 'x', 'owner': 'y'}],
     'waivers[0] has unknown key(s) owner, until (allowed: id, reason, approved_by, ticket, expires)'),
    ([{'id': 13, 'reason': 'r'}], 'waivers[0].id must be a control ID string'),
    ([{'id': '', 'reason': 'r'}], 'waivers[0].id must be a control ID string'),
    ([{'reason': 'r'}], 'waivers[0].id must be a control ID string'),
    ([{'id': 'HVS-IOMMU-13', 'reason': ' '}], 'waivers[0] (HVS-IOMMU-13) needs a non-empty reason'),
])
def test_bad_waivers_are_refused_in_these_words(waivers, message):
    with pytest.raises(ev.SettingsError) as exc:
        ev.validate_waivers(waivers)
    assert str(exc.value) == message


def test_waivers_are_checked_against_the_given_control_ids():
    assert list(ev.validate_waivers([{'id': 'X-1', 'reason': 'r'}], known_ids=['X-1'])) == ['X-1']
    with pytest.raises(ev.SettingsError) as exc:
        ev.validate_waivers([{'id': 'HVS-IOMMU-13', 'reason': 'r'}], known_ids=['X-1'])
    assert str(exc.value) == 'waivers[0].id HVS-IOMMU-13 is not a known control ID'


def test_unneeded_waiver_evidence_in_these_words():
    waiver = ev.validate_waivers([dict(FULL_WAIVER)])['HVS-IOMMU-13']
    status, evidence, record = ev.apply_waiver(waiver, 'pass', 'ksm run=0', datetime.date(2026, 1, 1))
    assert (status, record['state']) == ('pass', 'unneeded')
    assert evidence == ('ksm run=0 (waiver unneeded: pass without it; waiver: dev box '
                        '[approved by alice (CISO); ticket SEC-12; expires 2026-03-31])')
