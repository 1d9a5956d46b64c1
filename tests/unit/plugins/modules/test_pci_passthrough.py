# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
from unittest import mock

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.modules import pci_passthrough
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture, lab_host, write


def run(args, env=None):
    """Run the module with SSH_CONNECTION from ``env`` (unset when None); output goes to stdout."""
    with patch_module_args(args), mock.patch.dict(os.environ, env or {}, clear=False):
        if env is None:
            os.environ.pop('SSH_CONNECTION', None)
        with pytest.raises(SystemExit):
            pci_passthrough.main()


@pytest.fixture
def host(tmp_path):
    root = str(lab_host(tmp_path))
    write(root, 'run/hvsec-test/ip-addr.json', fixture('ip-addr.json'))
    return root


def invoke(capsys, args, env=None):
    run(args, env)
    out = capsys.readouterr().out
    return json.loads(out)


def read(root, rel):
    with open(os.path.join(root, rel)) as handle:
        return handle.read()


def test_check_mode_predicts_bind_and_writes_nothing(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}],
                          '_ansible_check_mode': True, '_ansible_diff': True})
    assert res['changed'] is True
    assert '0000:00:02.0: e1000e -> vfio-pci' in res['changes']
    assert res['devices'][0]['action'] == 'bind'
    assert res['devices'][0]['persistence'] == 'install-hook'
    assert 'install e1000e for a in 0000:00:02.0;' in res['modprobe_conf']
    assert 'softdep e1000e' not in res['modprobe_conf']   # kmod would ignore the install hook
    assert 'options vfio_iommu_type1 allow_unsafe_interrupts=0' in res['modprobe_conf']
    headers = [d['after_header'] for d in res['diff']]
    assert 'runtime drivers' in headers and host + '/etc/modprobe.d/hvsec-vfio.conf' in headers
    assert not os.path.exists(os.path.join(host, 'etc/modprobe.d/hvsec-vfio.conf'))
    assert read(host, 'sys/bus/pci/devices/0000:00:02.0/driver_override') == '(null)\n'
    assert res['protected'] == {'0000:00:01.0': 'carries the default route (mgmt0)',
                                '0000:00:1f.2': 'controls the boot/root disk (block 8:1)'}


def test_id_entry_persists_by_ids(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'id': '8086:10CA'}], '_ansible_check_mode': True})
    # The id matches both VFs; 00:10.2 already is on vfio-pci but without driver_override.
    assert [d['address'] for d in res['devices']] == ['0000:00:10.0', '0000:00:10.2']
    assert 'options vfio-pci ids=8086:10ca' in res['modprobe_conf']
    assert 'softdep igbvf pre: vfio-pci' in res['modprobe_conf']


def test_refuses_management_nic_unless_forced(host, capsys):
    run({'root': host, 'devices': [{'id': '1af4:1041'}], '_ansible_check_mode': True})
    res = json.loads(capsys.readouterr().out)
    assert res['failed'] is True
    assert 'refusing to bind device(s) the host needs: 0000:00:01.0 carries the default route (mgmt0)' in res['msg']
    res = invoke(capsys, {'root': host, 'devices': [{'id': '1af4:1041'}], 'force': True,
                          '_ansible_check_mode': True})
    assert res['changed'] is True


def test_refuses_ssh_address_nic(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True},
                 env={'SSH_CONNECTION': '10.0.2.2 53422 192.168.50.2 22'})
    assert res['failed'] is True
    assert '0000:00:02.0 holds the management address 192.168.50.2 (eth1)' in res['msg']
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True,
                          'protect_interfaces': ['eth1']})
    assert 'protected interface eth1' in res['msg']


def test_refuses_boot_disk_controller(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:1f.2'}], '_ansible_check_mode': True})
    assert res['failed'] is True and 'controls the boot/root disk' in res['msg']


def test_group_not_viable_names_blocker_and_changes_nothing(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:01:00.0'}]})
    assert res['failed'] is True
    assert 'IOMMU group 4 of 0000:01:00.0 also holds 0000:01:00.1 (driver e1000e)' in res['msg']
    assert res['blockers'][0]['blocker'] == '0000:01:00.1'
    assert not os.path.exists(os.path.join(host, 'etc/modprobe.d/hvsec-vfio.conf'))
    assert read(host, 'sys/bus/pci/devices/0000:01:00.0/driver_override') == '(null)\n'


def test_whole_group_is_viable(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:01:00.0'}, {'address': '0000:01:00.1'}],
                          '_ansible_check_mode': True})
    assert res['changed'] is True and len(res['devices']) == 2


@pytest.mark.parametrize('devices,message', [
    ([{'address': '0000:01:00'}], "devices[0]: malformed PCI address '0000:01:00'"),
    ([{'id': '8086:zzzz'}], "devices[0]: malformed vendor:device id '8086:zzzz'"),
    ([{'id': 'dead:beef'}], 'no PCI device matches vendor:device id dead:beef on this host'),
    ([{'address': '0000:05:00.0'}], 'PCI device 0000:05:00.0 does not exist on this host'),
    ([{'address': '0000:00:02.0', 'id': '8086:10d3'}], 'devices[0]: give exactly one of address or id'),
    ([{'name': 'x'}], 'devices[0]: give exactly one of address or id'),
])
def test_bad_input(host, capsys, devices, message):
    res = invoke(capsys, {'root': host, 'devices': devices})
    assert res['failed'] is True
    assert message in res['msg']
    assert os.listdir(os.path.join(host, 'etc/modprobe.d')) == []


def test_release_plan_for_vfio_device(host, capsys):
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:10.2'}], 'state': 'absent',
                          '_ansible_check_mode': True, 'lock_unsafe': False})
    assert res['changed'] is True
    assert res['changes'] == ['0000:00:10.2: vfio-pci -> host driver']
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], 'state': 'absent',
                          '_ansible_check_mode': True, 'lock_unsafe': False})
    assert res['changed'] is False


def test_bound_device_is_idempotent(host, capsys):
    write(host, 'sys/bus/pci/devices/0000:00:10.2/driver_override', 'vfio-pci\n')
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:10.2'}], 'lock_unsafe': False,
                          'persistent': False})
    assert res['changed'] is False
    assert res['devices'][0]['dev_vfio'] == '/dev/vfio/7'


def test_lock_unsafe_applies_and_is_idempotent(host, capsys):
    write(host, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 'Y\n')
    write(host, 'sys/module/vfio/parameters/enable_unsafe_noiommu_mode', 'N\n')
    write(host, 'etc/modprobe.d/iommu_unsafe_interrupts.conf', fixture('modprobe-unsafe.conf'))
    res = invoke(capsys, {'root': host, 'devices': [], '_ansible_check_mode': True})
    assert res['changed'] is True
    assert read(host, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts') == 'Y\n'
    res = invoke(capsys, {'root': host, 'devices': []})
    assert res['changed'] is True
    assert 'runtime vfio_iommu_type1.allow_unsafe_interrupts Y -> N' in res['changes']
    assert read(host, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts') == 'N'
    fixed = read(host, 'etc/modprobe.d/iommu_unsafe_interrupts.conf')
    assert '\noptions vfio_iommu_type1 allow_unsafe_interrupts=1' not in fixed
    assert 'options kvm ignore_msrs=1' in fixed
    backups = [n for n in os.listdir(os.path.join(host, 'etc/modprobe.d')) if n.startswith('iommu_unsafe_interrupts.conf.')]
    assert len(backups) == 1
    managed = read(host, 'etc/modprobe.d/hvsec-vfio.conf')
    assert 'options vfio enable_unsafe_noiommu_mode=0' in managed
    res = invoke(capsys, {'root': host, 'devices': []})
    assert res['changed'] is False, res['changes']


def test_exclusive_drops_old_entries(host, capsys):
    write(host, 'etc/modprobe.d/hvsec-vfio.conf',
          '# old\noptions vfio-pci ids=dead:beef\nsoftdep e1000e pre: vfio-pci\n')
    res = invoke(capsys, {'root': host, 'devices': [], 'exclusive': True, 'lock_unsafe': False,
                          '_ansible_check_mode': True})
    assert res['changed'] is True and res['modprobe_conf'] == ''
    res = invoke(capsys, {'root': host, 'devices': [], 'lock_unsafe': True, '_ansible_check_mode': True})
    assert 'options vfio-pci ids=dead:beef' in res['modprobe_conf']


class FakeKernel(object):
    """Mimics the PCI core's sysfs semantics on the fixture tree.

    driver_override: stored; DEV/driver/unbind: drops the driver link; drivers_probe: binds the
    device to its driver_override driver if set, else back to its original host driver (if that
    driver is "loaded", i.e. has a directory). Everything the module writes is recorded.
    """

    def __init__(self, root, refuse=False):
        self.root = root
        self.refuse = refuse
        self.writes = []
        self.host_driver = {}

    def as_method(self):
        """A plain function to patch Passthrough.write_sysfs with (bound like a method)."""
        def write_sysfs(passthrough, rel, value):
            return self(passthrough, rel, value)
        return write_sysfs

    def link(self, addr):
        return os.path.join(self.root, 'sys/bus/pci/devices', addr, 'driver')

    def __call__(self, _passthrough, rel, value):
        self.writes.append((rel, value))
        full = os.path.join(self.root, rel)
        if rel.endswith('/driver/unbind'):
            addr = value.strip()
            current = os.path.basename(os.readlink(self.link(addr)))
            self.host_driver.setdefault(addr, current)
            os.unlink(self.link(addr))
            return
        if rel == 'sys/bus/pci/drivers_probe':
            addr = value.strip()
            if os.path.lexists(self.link(addr)) or self.refuse:
                return
            override = read(self.root, 'sys/bus/pci/devices/%s/driver_override' % addr).strip()
            drv = override if override not in ('', '(null)') else self.host_driver.get(addr)
            if drv and os.path.isdir(os.path.join(self.root, 'sys/bus/pci/drivers', drv)):
                os.symlink(os.path.join(self.root, 'sys/bus/pci/drivers', drv), self.link(addr))
            return
        if rel.endswith('/remove_id'):
            return
        with open(full, 'w') as handle:
            handle.write(value)


def test_bind_then_release_against_fake_kernel(host, capsys):
    fake = FakeKernel(host)
    args = {'root': host, 'devices': [{'address': '0000:00:02.0'}], 'timeout': 2}
    with mock.patch.object(pci_passthrough.Passthrough, 'write_sysfs', fake.as_method()):
        res = invoke(capsys, args)
        assert res['changed'] is True, res
        assert fake.writes == [('sys/bus/pci/devices/0000:00:02.0/driver_override', 'vfio-pci'),
                               ('sys/bus/pci/devices/0000:00:02.0/driver/unbind', '0000:00:02.0'),
                               ('sys/bus/pci/drivers_probe', '0000:00:02.0')]
        assert res['devices'][0]['driver'] == 'vfio-pci' and res['devices'][0]['driver_before'] == 'e1000e'
        conf = read(host, 'etc/modprobe.d/hvsec-vfio.conf')
        assert 'install e1000e for a in 0000:00:02.0;' in conf
        # Second run: nothing to do, nothing written.
        fake.writes = []
        res = invoke(capsys, args)
        assert res['changed'] is False and fake.writes == []
        # Release: override cleared, unbound, reprobed to the host driver; persistence removed.
        res = invoke(capsys, dict(args, state='absent'))
        assert res['changed'] is True
        assert res['devices'][0]['driver'] == 'e1000e'
        assert 'install e1000e' not in read(host, 'etc/modprobe.d/hvsec-vfio.conf')
        assert read(host, 'sys/bus/pci/devices/0000:00:02.0/driver_override') == '\n'
        res = invoke(capsys, dict(args, state='absent'))
        assert res['changed'] is False


def test_bind_that_does_not_take_effect_fails(host, capsys):
    fake = FakeKernel(host, refuse=True)  # the probe binds nothing (e.g. vfio-pci rejects the device)
    with mock.patch.object(pci_passthrough.Passthrough, 'write_sysfs', fake.as_method()):
        res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], 'timeout': 1})
    assert res['failed'] is True
    assert res['msg'] == '0000:00:02.0 did not bind to vfio-pci (driver now None)'
    # Persistence is only written after the runtime binding worked.
    assert not os.path.exists(os.path.join(host, 'etc/modprobe.d/hvsec-vfio.conf'))


def test_vfio_modules_loaded_by_the_bind_get_their_unsafe_parameters_reset(host, capsys):
    """Found on the lab: binding loaded vfio_iommu_type1 while an old modprobe.d file still enabled
    allow_unsafe_interrupts, so the parameter was Y after the run and the next run changed it.
    The unsafe option lines are now commented out before binding, and the parameters are checked
    again after binding."""
    write(host, 'etc/modprobe.d/vfio-insecure.conf', 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n')
    fake = FakeKernel(host)
    seen = []

    def probe_loads_vfio(self, rel, value):
        if rel == 'sys/bus/pci/drivers_probe':
            # the module load reads modprobe.d at this moment, as modprobe would
            seen.append(read(host, 'etc/modprobe.d/vfio-insecure.conf'))
            write(host, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts',
                  'Y\n' if '\noptions vfio_iommu_type1 allow_unsafe_interrupts=1' in '\n' + seen[-1] else 'N\n')
        return fake.as_method()(self, rel, value)

    args = {'root': host, 'devices': [{'address': '0000:00:02.0'}], 'timeout': 2}
    with mock.patch.object(pci_passthrough.Passthrough, 'write_sysfs', probe_loads_vfio):
        res = invoke(capsys, args)
        assert res['changed'] is True, res
        assert seen and 'disabled by hvsec.hypervisor' in seen[0], 'unsafe options were still active when vfio loaded'
        assert read(host, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts').strip() == 'N'
        res = invoke(capsys, args)
        assert res['changed'] is False, res['changes']


# ------------------------------------------------------------------ uplinks of OVS, bonds, VLANs, macvlans
# ip-*-ovs.json / ip-*-stack.json are ip -j (-d) link/addr/route output in iproute2 6.1's layout
# (the route files in exactly the shape captured on Debian 12; links and addresses written in the
# layout captured for veth devices, with the keys iproute2 prints for openvswitch, bond, vlan,
# macvlan and bridge devices); ovs-topology.json is ovs-vsctl output of Open vSwitch 3.1.0
# (tools/capture_fixtures.py): br-ex with eth1 and the bond bond0 (eth3 + eth4), patched to
# br-int, and the OVS-DPDK bridge br-phy on 0000:00:03.0.
SSH_TO_BR_EX = {'SSH_CONNECTION': '198.51.100.7 53422 192.168.50.2 22'}


def ovs_host(root):
    for name in ('ip-link', 'ip-addr', 'ip-route', 'ip-route6', 'ip-route-get'):
        write(root, 'run/hvsec-test/%s.json' % name, fixture('%s-ovs.json' % name))
    write(root, 'run/hvsec-test/ovs-topology.json', fixture('ovs-topology.json'))
    return root


def stack_host(root):
    for name in ('ip-link', 'ip-addr', 'ip-route'):
        write(root, 'run/hvsec-test/%s.json' % name, fixture('%s-stack.json' % name))
    return root


def test_uplink_of_the_ovs_bridge_holding_the_management_address_is_refused(host, capsys):
    ovs_host(host)
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True},
                 env=SSH_TO_BR_EX)
    assert res['failed'] is True
    assert ('refusing to bind device(s) the host needs: 0000:00:02.0 carries the default route '
            '(br-ex -> OVS bridge br-ex -> eth1)') in res['msg']
    assert not os.path.exists(os.path.join(host, 'etc/modprobe.d/hvsec-vfio.conf'))


def test_ovs_bond_members_are_refused_with_the_chain(host, capsys):
    ovs_host(host)
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:01:00.0'}, {'address': '0000:01:00.1'}],
                          '_ansible_check_mode': True}, env=SSH_TO_BR_EX)
    assert res['failed'] is True
    assert '0000:01:00.0 carries the default route (br-ex -> OVS bridge br-ex -> OVS bond bond0 -> eth3)' in res['msg']
    assert '0000:01:00.1 carries the default route (br-ex -> OVS bridge br-ex -> OVS bond bond0 -> eth4)' in res['msg']


def test_management_address_and_controller_route_without_default_route(host, capsys):
    """No default route through br-ex: the SSH address and the route back to the controller still
    protect its uplinks; an unrelated OVS bridge (br-phy, OVS-DPDK) and a guest port do not."""
    ovs_host(host)
    write(host, 'run/hvsec-test/ip-route.json', '[]\n')
    write(host, 'run/hvsec-test/ip-route6.json', '[]\n')
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True},
                 env=SSH_TO_BR_EX)
    assert '0000:00:02.0 holds the management address 192.168.50.2 (br-ex -> OVS bridge br-ex -> eth1)' in res['msg']
    write(host, 'run/hvsec-test/ip-addr.json', fixture('ip-addr.json'))   # 192.168.50.2 now on eth1 itself
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:10.0'}], '_ansible_check_mode': True},
                 env={'SSH_CONNECTION': '198.51.100.7 53422 203.0.113.5 22'})
    protected = res['protected']
    assert protected['0000:00:02.0'] == 'carries the connection to the controller 198.51.100.7 (br-ex -> OVS bridge br-ex -> eth1)'
    assert '0000:00:03.0' not in protected            # br-phy's DPDK port: not below the management path
    assert res['changed'] is True                      # 0000:00:10.0 (eth5) is not protected


def test_patch_ports_are_followed(host, capsys):
    """An address on br-int reaches the wire through the patch to br-ex: br-ex's uplinks count."""
    ovs_host(host)
    addrs = json.loads(fixture('ip-addr-ovs.json'))
    for item in addrs:
        if item['ifname'] == 'br-ex':
            item['ifname'] = 'br-int'
    write(host, 'run/hvsec-test/ip-addr.json', json.dumps(addrs))
    write(host, 'run/hvsec-test/ip-route.json', '[]\n')
    write(host, 'run/hvsec-test/ip-route6.json', '[]\n')
    write(host, 'run/hvsec-test/ip-route-get.json', '[]\n')
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True},
                 env=SSH_TO_BR_EX)
    assert ('0000:00:02.0 holds the management address 192.168.50.2 (br-int -> OVS bridge br-int -> patch int-br-ex '
            '-> OVS bridge br-ex -> eth1)') in res['msg']


def test_ovs_database_unreadable_protects_every_ovs_port(host, capsys):
    """ovs-vsctl present but the topology unknown: every port of the datapath counts, with a warning."""
    ovs_host(host)
    os.unlink(os.path.join(host, 'run/hvsec-test/ovs-topology.json'))
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True},
                 env=SSH_TO_BR_EX)
    assert ('0000:00:02.0 carries the default route (br-ex -> Open vSwitch datapath ovs-system '
            '(bridge membership unknown) -> eth1)') in res['msg']


def test_bond_vlan_and_macvlan_lowers_are_refused_with_the_chain(host, capsys):
    stack_host(host)
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:01:00.0'}, {'address': '0000:01:00.1'}],
                          '_ansible_check_mode': True}, env={'SSH_CONNECTION': '198.51.100.7 53422 192.168.50.2 22'})
    assert res['failed'] is True
    assert '0000:01:00.0 holds the management address 192.168.50.2 (bond0.100 -> bond0 -> eth3)' in res['msg']
    assert '0000:01:00.1 holds the management address 192.168.50.2 (bond0.100 -> bond0 -> eth4)' in res['msg']
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], '_ansible_check_mode': True})
    # a multipath default route: both next hops count
    assert '0000:00:02.0 carries the default route (mv0 -> eth1)' in res['msg']
    assert res['protected']['0000:00:01.0'] == 'carries the default route (mgmt0)'
    # a Linux bridge's port is protected only when the bridge is on the management path (br0 is not)
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:10.0'}], '_ansible_check_mode': True})
    assert res['changed'] is True
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:10.0'}], '_ansible_check_mode': True,
                          'protect_interfaces': ['br0']})
    assert '0000:00:10.0 protected interface br0 (br0 -> eth5)' in res['msg']


# ------------------------------------------------------------------ unsafe options: keep the rest, refresh the initramfs
def test_commenting_out_unsafe_option_keeps_the_other_options(host, capsys):
    write(host, 'etc/modprobe.d/vfio.conf',
          '# Proxmox: no interrupt remapping here\n'
          'options vfio_iommu_type1 allow_unsafe_interrupts=1 dma_entry_limit=131072\n')
    res = invoke(capsys, {'root': host, 'devices': []})
    assert res['changed'] is True
    fixed = read(host, 'etc/modprobe.d/vfio.conf')
    assert fixed == ('# Proxmox: no interrupt remapping here\n'
                     '# disabled by hvsec.hypervisor (HVS-VFIO-01/02): '
                     'options vfio_iommu_type1 allow_unsafe_interrupts=1 dma_entry_limit=131072\n'
                     'options vfio_iommu_type1 dma_entry_limit=131072\n')
    res = invoke(capsys, {'root': host, 'devices': []})
    assert res['changed'] is False, res['changes']


INITRAMFS_WITH_VFIO = '''\
.
etc/modprobe.d
etc/modprobe.d/vfio.conf
usr/lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/vfio.ko
usr/lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/vfio_iommu_type1.ko
usr/lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/pci/vfio-pci.ko
usr/lib/modules/6.1.0-28-amd64/kernel/drivers/virtio/virtio_pci.ko
'''


def test_initramfs_refreshed_after_only_commenting_out_unsafe_options(host, capsys):
    """The managed file is already in place; only another file's unsafe option is commented out.
    vfio_iommu_type1 loads from the initramfs, which holds the old option: it must be rebuilt."""
    first = invoke(capsys, {'root': host, 'devices': [], '_ansible_check_mode': True})
    write(host, 'etc/modprobe.d/hvsec-vfio.conf', first['modprobe_conf'])
    write(host, 'etc/modprobe.d/vfio.conf', 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n')
    write(host, 'run/hvsec-test/initramfs.txt', INITRAMFS_WITH_VFIO)
    res = invoke(capsys, {'root': host, 'devices': [], '_ansible_check_mode': True})
    assert res['changes'][0].endswith('etc/modprobe.d/vfio.conf: commented out unsafe VFIO option(s)')
    assert res['initramfs_refreshed'] is True
    assert 'vfio_iommu_type1' in res['initramfs_reason']
    # without VFIO modules in the initramfs the options are read from the root filesystem: no refresh
    write(host, 'run/hvsec-test/initramfs.txt', INITRAMFS_WITH_VFIO.replace('vfio', 'other'))
    res = invoke(capsys, {'root': host, 'devices': [], '_ansible_check_mode': True})
    assert res['initramfs_refreshed'] is False and 'no refresh needed' in res['initramfs_reason']
