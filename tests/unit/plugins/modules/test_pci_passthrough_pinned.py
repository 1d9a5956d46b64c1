# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pci_passthrough pinned: the host readers on a real root ('/': ip -j and ovs-vsctl with their
exact arguments and warnings), netdev_addresses, release() step by step (sysfs writes in order,
the vfio-pci dynamic id removed, modprobe of the host driver, the messages), and each device's
record in the result whole (fixtures/pinned/pci_passthrough_*.json). Direct calls of the
Passthrough methods use a small fake module. From the survivors of `make mutation AREA=modules`
(docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
from unittest import mock

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.modules import pci_passthrough
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import matches
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture, lab_host, write


class Failed(Exception):
    pass


class FakeModule(object):
    def __init__(self, root='/', bins=('ip', 'ovs-vsctl', 'modprobe'), answers=None, timeout=5):
        self.params = {'root': root, 'timeout': timeout, 'devices': [], 'protect_interfaces': []}
        self.bins = bins
        self.answers = answers or {}
        self.calls = []

    def get_bin_path(self, name, *a, **kw):
        return '/sbin/' + name if name in self.bins else None

    def run_command(self, args, *a, **kw):
        args = list(args)
        self.calls.append(args)
        return self.answers.get(' '.join(args), (0, '', ''))

    def fail_json(self, **kw):
        raise Failed(kw)


def test_ip_readers_on_the_real_root():
    module = FakeModule(answers={
        '/sbin/ip -j addr show': (0, '[{"ifname": "eth0"}]', ''),
        '/sbin/ip -j route get 192.0.2.1': (0, '[{"dst": "192.0.2.1", "dev": "eth1"}]', ''),
    })
    p = pci_passthrough.Passthrough(module)
    assert p.ip_addr_json() == [{'ifname': 'eth0'}]
    assert p.route_to_devs('192.0.2.1') == ['eth1']
    assert module.calls == [['/sbin/ip', '-j', 'addr', 'show'], ['/sbin/ip', '-j', 'route', 'get', '192.0.2.1']]
    assert p.warnings == []
    module = FakeModule(answers={'/sbin/ip -j addr show': (1, '', ' Cannot talk \n'),
                                 '/sbin/ip -j route get 192.0.2.1': (0, 'nonsense', '')})
    p = pci_passthrough.Passthrough(module)
    assert p.ip_addr_json() == [] and p.route_to_devs('192.0.2.1') == []
    assert p.warnings == ['ip -j addr show failed (Cannot talk): interface addresses could not be read',
                          'ip -j route get 192.0.2.1 printed no JSON: the route to 192.0.2.1 could not be read']
    # no output at all is an empty list, not an error
    p = pci_passthrough.Passthrough(FakeModule(answers={'/sbin/ip -j addr show': (0, '', '')}))
    assert p.ip_json(['addr', 'show'], 'interface addresses') == [] and p.warnings == []
    p = pci_passthrough.Passthrough(FakeModule(bins=()))
    assert p.ip_addr_json() == [] and p.route_to_devs('192.0.2.1') == []
    assert p.warnings == ['ip command not found: interface addresses could not be read',
                          'ip command not found: the route to 192.0.2.1 could not be read']


def test_ip_readers_in_a_test_tree(tmp_path):
    write(str(tmp_path), 'run/hvsec-test/ip-route-get.json', '[{"dev": "eth7"}]')
    module = FakeModule(root=str(tmp_path))
    p = pci_passthrough.Passthrough(module)
    assert p.route_to_devs('192.0.2.1') == ['eth7'] and p.ip_addr_json() == [] and module.calls == []
    assert p.ovs_topology() is None
    write(str(tmp_path), 'run/hvsec-test/ovs-topology.json', '')
    assert p.ovs_topology() is None


def test_ovs_topology_on_the_real_root():
    from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
    argv = ovs.topology_args('/sbin/ovs-vsctl')
    module = FakeModule(answers={' '.join(argv): (1, 'x', ' database connection failed \n')})
    p = pci_passthrough.Passthrough(module)
    assert p.ovs_topology() is None
    assert module.calls == [argv]
    assert p.warnings == ['cannot read the Open vSwitch database (database connection failed): every port of the OVS '
                          'datapath counts as an uplink of an OVS internal port']
    p = pci_passthrough.Passthrough(FakeModule(bins=('ip',)))
    assert p.ovs_topology() is None and p.warnings == []
    good = fixture('ovs-topology.json')
    assert ovs.parse_topology(good)[0]
    module = FakeModule(answers={' '.join(argv): (0, good, '')})
    p = pci_passthrough.Passthrough(module)
    assert p.ovs_topology() == ovs.parse_topology(good)[0] and p.warnings == []


def test_netdev_addresses(tmp_path):
    root = str(lab_host(tmp_path))
    p = pci_passthrough.Passthrough(FakeModule(root=root))
    assert p.netdev_addresses('mgmt0', {}) == ['0000:00:01.0']
    assert p.netdev_addresses('nosuch', {'nosuch': '0000:00:05.0'}) == ['0000:00:05.0']
    assert p.netdev_addresses('nosuch', {'other': '0000:00:05.0'}) == []
    assert p.netdev_addresses('nosuch', {'nosuch': None}) == []
    # an interface without a device link in sysfs: iproute2's parent device is used
    os.makedirs(os.path.join(root, 'sys/devices/virtual/net/vnet0'))
    os.symlink('../../devices/virtual/net/vnet0', os.path.join(root, 'sys/class/net/vnet0'))
    assert p.netdev_addresses('vnet0', {'vnet0': '0000:00:05.0'}) == ['0000:00:05.0']


class Sysfs(object):
    """write_sysfs recorded; ``fail`` names a path whose write raises; wait_driver answers in turn."""

    def __init__(self, drivers, fail=()):
        self.writes = []
        self.waits = []
        self.drivers = list(drivers)
        self.fail = fail

    def write(self, _p, rel, value):
        self.writes.append((rel, value))
        if rel in self.fail:
            raise IOError(13, 'Permission denied')

    def wait(self, _p, addr, want_vfio, timeout=None):
        self.waits.append((addr, want_vfio, timeout))
        return {'driver': self.drivers.pop(0)}


def _release(sysfs, dev, entry, modules, root='/', timeout=5, bins=('modprobe',)):
    module = FakeModule(root=root, bins=bins, timeout=timeout)
    p = pci_passthrough.Passthrough(module)
    p.changes = ['a change']

    def write_sysfs(passthrough, rel, value):
        sysfs.write(passthrough, rel, value)

    def wait_driver(passthrough, addr, want_vfio, timeout=None):
        return sysfs.wait(passthrough, addr, want_vfio, timeout)
    with mock.patch.object(pci_passthrough.Passthrough, 'write_sysfs', write_sysfs), \
            mock.patch.object(pci_passthrough.Passthrough, 'wait_driver', wait_driver):
        return p.release('0000:00:02.0', dev, entry, modules), module


def test_release_steps_and_modprobe():
    sysfs = Sysfs([None, 'e1000e'])
    after, module = _release(sysfs, {'driver': 'vfio-pci'}, {'id': '8086:10d3'}, ['e1000e', 'other'])
    assert after == {'driver': 'e1000e'}
    assert sysfs.writes == [('sys/bus/pci/devices/0000:00:02.0/driver_override', '\n'),
                            ('sys/bus/pci/drivers/vfio-pci/remove_id', '8086 10d3'),
                            ('sys/bus/pci/devices/0000:00:02.0/driver/unbind', '0000:00:02.0'),
                            ('sys/bus/pci/drivers_probe', '0000:00:02.0')]
    assert sysfs.waits == [('0000:00:02.0', False, 3), ('0000:00:02.0', False, None)]
    assert module.calls == [['/sbin/modprobe', 'e1000e']]
    # a short module timeout is used as it is; no id: no remove_id; not on vfio-pci: no unbind
    sysfs = Sysfs(['e1000e'])
    after, module = _release(sysfs, {'driver': None}, {'address': '0000:00:02.0'}, ['e1000e'], timeout=2)
    assert sysfs.writes == [('sys/bus/pci/devices/0000:00:02.0/driver_override', '\n'),
                            ('sys/bus/pci/drivers_probe', '0000:00:02.0')]
    assert sysfs.waits == [('0000:00:02.0', False, 2)] and module.calls == []
    # remove_id refused: the id was not a dynamic id, not an error
    sysfs = Sysfs(['e1000e'], fail=('sys/bus/pci/drivers/vfio-pci/remove_id',))
    after, module = _release(sysfs, {'driver': 'vfio-pci'}, {'id': '8086:10d3'}, [])
    assert after == {'driver': 'e1000e'} and len(sysfs.writes) == 4
    # no modprobe call: in a test tree, without modules, without modprobe, or when a driver took it
    for kwargs in ({'root': '/tmp/x'}, {'bins': ()}):
        sysfs = Sysfs([None])
        after, module = _release(sysfs, {'driver': 'vfio-pci'}, {}, ['e1000e'], **kwargs)
        assert module.calls == [] and after == {'driver': None} and len(sysfs.waits) == 1
    sysfs = Sysfs([None])
    after, module = _release(sysfs, {'driver': 'vfio-pci'}, {}, [])
    assert module.calls == [] and len(sysfs.waits) == 1


def test_release_messages():
    sysfs = Sysfs([], fail=('sys/bus/pci/drivers_probe',))
    with pytest.raises(Failed) as exc:
        _release(sysfs, {'driver': 'vfio-pci'}, {}, [])
    assert exc.value.args[0] == {'msg': 'releasing 0000:00:02.0 from vfio-pci failed: [Errno 13] Permission denied',
                                 'changes': ['a change']}
    sysfs = Sysfs(['vfio-pci'])
    with pytest.raises(Failed) as exc:
        _release(sysfs, {'driver': 'vfio-pci'}, {}, [])
    assert exc.value.args[0] == {'msg': '0000:00:02.0 is still bound to vfio-pci after release', 'changes': ['a change']}


# ------------------------------------------------------------------ each device's record, whole
@pytest.fixture
def host(tmp_path):
    root = str(lab_host(tmp_path))
    write(root, 'run/hvsec-test/ip-addr.json', fixture('ip-addr.json'))
    return root


def invoke(capsys, args):
    with patch_module_args(args), mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop('SSH_CONNECTION', None)
        with pytest.raises(SystemExit):
            pci_passthrough.main()
    return json.loads(capsys.readouterr().out)


def test_device_records_whole(host, capsys, tmp_path):
    write(host, 'dev/vfio/7', '')
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0', 'name': 'nic'}, {'id': '8086:10ca'}],
                          '_ansible_check_mode': True})
    assert matches('pci_passthrough_bind_records', res['devices'], tmp_path)
    res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:10.2', 'name': 'vf'}], 'state': 'absent',
                          'lock_unsafe': False, '_ansible_check_mode': True})
    assert matches('pci_passthrough_release_records', res['devices'], tmp_path)


def test_device_record_after_a_bind_whole(host, capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_pci_passthrough import FakeKernel
    fake = FakeKernel(host)
    with mock.patch.object(pci_passthrough.Passthrough, 'write_sysfs', fake.as_method()):
        res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0', 'name': 'nic'}], 'timeout': 2})
        assert matches('pci_passthrough_bound_records', res['devices'], tmp_path)
        res = invoke(capsys, {'root': host, 'devices': [{'address': '0000:00:02.0'}], 'timeout': 2, 'state': 'absent'})
        assert matches('pci_passthrough_released_records', res['devices'], tmp_path)


def _refresh(module):
    p = pci_passthrough.Passthrough(module)
    p.changes = ['a change']
    with mock.patch.object(pci_passthrough.os, 'uname', lambda: ('Linux', 'h', '6.1.0-28-amd64', '#1', 'x86_64')):
        p.refresh_initramfs()
    return module


def test_refresh_initramfs_commands_and_messages():
    module = _refresh(FakeModule(bins=('update-initramfs', 'dracut')))
    assert module.calls == [['/sbin/update-initramfs', '-u', '-k', '6.1.0-28-amd64']]
    module = _refresh(FakeModule(bins=('dracut',)))
    assert module.calls == [['/sbin/dracut', '-f']]
    with pytest.raises(Failed) as exc:
        _refresh(FakeModule(bins=()))
    assert exc.value.args[0] == {'msg': 'initramfs refresh needed but neither update-initramfs nor dracut found',
                                 'changes': ['a change']}
    with pytest.raises(Failed) as exc:
        _refresh(FakeModule(bins=('dracut',), answers={'/sbin/dracut -f': (1, '', ' dracut: no space left \n')}))
    assert exc.value.args[0] == {'msg': 'initramfs refresh failed: dracut: no space left', 'changes': ['a change']}
    with pytest.raises(Failed) as exc:
        _refresh(FakeModule(root='/tmp/x', bins=('dracut',)))
    assert exc.value.args[0] == {'msg': 'root=/tmp/x: the initramfs is only refreshed on a real host',
                                 'changes': ['a change']}
