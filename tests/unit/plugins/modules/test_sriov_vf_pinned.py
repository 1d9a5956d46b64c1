# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sriov_vf pinned: the refusal to change numvfs word for word with every busy VF listed (running
domains named from their XML or their file, open /dev/vfio groups among other descriptors), the
changes reported with a failure, and wait_vfs on a real root (polling, deadline, message). From the
survivors of `make mutation AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from unittest import mock

from ansible_collections.hvsec.hypervisor.plugins.modules import sriov_vf
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture, write
# the module tests' lab host (with eth2's ip link JSON) and their way of running the module
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_sriov_vf import host, invoke  # noqa: F401 pylint: disable=unused-import


def test_every_vf_in_a_running_domain_is_named(host, capsys):
    xml = fixture('guest1-running.xml')
    # the same VF in a second guest's file without <name>: named after the file
    write(host, 'run/libvirt/qemu/guest1.xml', xml)
    write(host, 'run/libvirt/qemu/other-guest.xml', xml.replace('0x10', '0x10').replace('<name>guest1</name>', ''))
    write(host, 'run/libvirt/qemu/broken.xml', '<domain')
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3})
    assert res['msg'] == ('refusing to change numvfs of eth2 from 2 to 3: vf 1 (0000:00:10.2) is assigned to running '
                          'domain %s' % res['msg'].rsplit(' ', 1)[1])
    assert res['msg'].rsplit(' ', 1)[1] in ('guest1', 'other-guest')


def test_two_vfs_in_running_domains(host, capsys):
    xml = fixture('guest1-running.xml')
    write(host, 'run/libvirt/qemu/guest1.xml', xml)
    write(host, 'run/libvirt/qemu/guest2.xml', xml.replace('<name>guest1</name>', '<name>guest2</name>').replace(
        "bus='0x00' slot='0x10' function='0x2'", "bus='0x00' slot='0x10' function='0x0'"))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 0})
    assert res['msg'] == ('refusing to change numvfs of eth2 from 2 to 0: vf 0 (0000:00:10.0) is assigned to running '
                          'domain guest2; vf 1 (0000:00:10.2) is assigned to running domain guest1')


def test_domain_without_name_is_named_after_its_file(host, capsys):
    write(host, 'run/libvirt/qemu/guest-x.xml', fixture('guest1-running.xml').replace('<name>guest1</name>', ''))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3})
    assert res['msg'] == ('refusing to change numvfs of eth2 from 2 to 3: vf 1 (0000:00:10.2) is assigned to running '
                          'domain guest-x')


def test_open_vfio_group_among_other_descriptors(host, capsys):
    os.makedirs(os.path.join(host, 'proc/4242/fd'))
    os.makedirs(os.path.join(host, 'proc/4243/fd'))
    os.symlink('/dev/null', os.path.join(host, 'proc/4242/fd/0'))
    os.symlink('/dev/vfio/vfio', os.path.join(host, 'proc/4242/fd/1'))
    os.symlink('/dev/vfio/7', os.path.join(host, 'proc/4243/fd/21'))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 0})
    assert res['msg'] == 'refusing to change numvfs of eth2 from 2 to 0: vf 1 (0000:00:10.2) is in use: /dev/vfio/7 is open'
    p = sriov_vf.SriovVf(mock.Mock(params={'root': host}))
    assert p.open_vfio_groups() == {7}


def test_group_open_but_vf_not_on_vfio(host, capsys):
    os.makedirs(os.path.join(host, 'proc/4242/fd'))
    os.symlink('/dev/vfio/6', os.path.join(host, 'proc/4242/fd/3'))
    # 00:10.0 is in group 6 but on igbvf: not in use by a guest
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3, '_ansible_check_mode': True})
    assert 'failed' not in res and res['changes'][0] == 'numvfs 2 -> 3'


class Clock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_vfs_on_a_real_root():
    module = mock.Mock(params={'root': '/', 'timeout': 2})
    module.fail_json.side_effect = SystemExit
    p = sriov_vf.SriovVf(module)
    counts = iter([0, 1, 3])
    clock = Clock()
    with mock.patch.object(sriov_vf.SriovVf, 'vf_state', lambda self, pf: dict.fromkeys(range(next(counts)))), \
            mock.patch.object(sriov_vf, 'time', clock):
        p.wait_vfs('eth2', 3)
    assert clock.sleeps == [0.5, 0.5]
    clock = Clock()
    with mock.patch.object(sriov_vf.SriovVf, 'vf_state', lambda self, pf: {0: {}}), \
            mock.patch.object(sriov_vf, 'time', clock):
        with pytest.raises(SystemExit):
            p.wait_vfs('eth2', 2)
    assert clock.sleeps == [0.5, 0.5, 0.5, 0.5] and clock.now == 1002.0
    module.fail_json.assert_called_once_with(msg='eth2: 2 VFs did not appear within 2s')
    # a test root never waits
    p = sriov_vf.SriovVf(mock.Mock(params={'root': '/tmp/x', 'timeout': 2}))
    with mock.patch.object(sriov_vf.SriovVf, 'vf_state', lambda self, pf: {}):
        p.wait_vfs('eth2', 5)


def test_failure_after_changes_reports_them(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 2, 'vfs': [{'vf': 0, 'vlan': 100}]})
    assert res['msg'] == ('root=%s: changes are only applied on a real host (root=/); use check mode with a test root'
                          % host)
    assert res['changes'] == ['vf 0 vlan 0 -> 100', 'vf 0 spoofchk False -> True', 'vf 0 trust True -> False',
                              'wrote /etc/hvsec/sriov/eth2.conf']


def test_numvfs_change_result_whole(host, capsys, monkeypatch, tmp_path):
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import matches, run_module
    res = run_module(monkeypatch, capsys, sriov_vf.main,
                     {'root': host, 'pf': 'eth2', 'numvfs': 3, 'vfs': [{'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100}]},
                     check_mode=True)
    assert matches('sriov_vf_numvfs_check', res, tmp_path)


def test_vf_state_readers():
    module = mock.Mock(params={'root': '/'})
    module.fail_json.side_effect = SystemExit
    p = sriov_vf.SriovVf(module)
    p.ip = '/sbin/ip'
    module.run_command.return_value = (0, '', '')
    assert p.vf_state('eth2') == {}
    module.run_command.assert_called_once_with(['/sbin/ip', '-j', '-d', 'link', 'show', 'dev', 'eth2'])
    module.run_command.return_value = (1, '', ' Device "eth2" does not exist. \n')
    with pytest.raises(SystemExit):
        p.vf_state('eth2')
    module.fail_json.assert_called_with(msg='ip -j -d link show dev eth2 failed: Device "eth2" does not exist.')
    module.run_command.return_value = (0, '[{', '')
    with pytest.raises(SystemExit):
        p.vf_state('eth2')
    module.fail_json.assert_called_with(msg='could not parse ip -j output for eth2')
    # a test root without the captured output: no VF
    p = sriov_vf.SriovVf(mock.Mock(params={'root': '/nonexistent'}))
    assert p.vf_state('eth2') == {}


def test_write_config_makes_the_directory_and_backs_up(host, tmp_path):
    module = mock.Mock(params={'root': host})
    written = []
    with mock.patch.object(sriov_vf, 'write_atomic', lambda m, path, text: written.append((path, text))):
        p = sriov_vf.SriovVf(module)
        p.write_config('/etc/hvsec/sriov/eth2.conf', 'numvfs=2\n')
        full = os.path.join(host, 'etc/hvsec/sriov/eth2.conf')
        assert oct(os.stat(os.path.dirname(full)).st_mode & 0o777) == oct(0o755)
        assert written == [(full, 'numvfs=2\n')] and module.backup_local.call_count == 0
        write(host, 'etc/hvsec/sriov/eth2.conf', 'old\n')
        p.write_config('/etc/hvsec/sriov/eth2.conf', 'numvfs=3\n')
        module.backup_local.assert_called_once_with(full)


def test_pf_messages(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth9'})
    assert res['msg'] == 'pf: interface eth9 does not exist'
    os.makedirs(os.path.join(host, 'sys/class/net/veth9'))
    res = invoke(capsys, {'root': host, 'pf': 'veth9'})
    assert res['msg'] == 'pf: interface veth9 is not backed by a PCI device'
    os.unlink(os.path.join(host, 'sys/class/net/eth2/device/sriov_totalvfs'))
    res = invoke(capsys, {'root': host, 'pf': 'eth2'})
    assert res['msg'] == 'pf: eth2 is not SR-IOV capable (no sriov_totalvfs)'


def test_runtime_diff_whole(host, capsys, tmp_path):
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import matches
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'vfs': [{'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100}],
                          '_ansible_check_mode': True, '_ansible_diff': True})
    assert res['numvfs'] == 2
    assert matches('sriov_vf_runtime_diff', res['diff'], tmp_path)
    # an empty sriov_numvfs reads as 0
    with open(os.path.join(host, 'sys/class/net/eth2/device/sriov_numvfs'), 'w') as handle:
        handle.write('\n')
    res = invoke(capsys, {'root': host, 'pf': 'eth2', '_ansible_check_mode': True})
    assert res['numvfs_before'] == 0 and res['numvfs'] == 0


def test_unreadable_descriptors_are_skipped(host):
    write(host, 'proc/4240/fd', 'not a directory')
    os.makedirs(os.path.join(host, 'proc/4241/fd'))
    write(host, 'proc/4241/fd/0', 'a file, not a link')
    os.symlink('/dev/vfio/7', os.path.join(host, 'proc/4241/fd/9'))
    os.makedirs(os.path.join(host, 'proc/4242/fd'))
    os.symlink('/dev/vfio/6', os.path.join(host, 'proc/4242/fd/3'))
    p = sriov_vf.SriovVf(mock.Mock(params={'root': host}))
    assert p.open_vfio_groups() == {6, 7}


def test_fresh_vfs_without_secure_undeclared(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3, 'secure_undeclared': False,
                          '_ansible_check_mode': True, '_ansible_diff': True})
    assert res['diff'][0]['after'].splitlines()[3] == 'vf 2 mac 00:00:00:00:00:00 vlan 0 spoofchk on trust off rate 0'
    # no sriov_numvfs file: 0 VFs now
    os.unlink(os.path.join(host, 'sys/class/net/eth2/device/sriov_numvfs'))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', '_ansible_check_mode': True})
    assert res['numvfs_before'] == 0


def test_unreadable_domain_status_files_are_skipped(host, capsys):
    # a directory where a status file would be reads as nothing; the other files are still read
    xml = fixture('guest1-running.xml')
    os.makedirs(os.path.join(host, 'run/libvirt/qemu/aaa.xml'))
    os.makedirs(os.path.join(host, 'run/libvirt/qemu/zzz.xml'))
    write(host, 'run/libvirt/qemu/guest1.xml', xml)
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3})
    assert res['msg'].endswith('vf 1 (0000:00:10.2) is assigned to running domain guest1')


def test_request_errors_joined(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 9, 'vfs': [{'vf': 0}, {'vf': 0}]})
    assert res['msg'] == ('sriov_vf eth2: numvfs 9 is above the device total sriov_totalvfs=7; vf 0 is declared twice')


def test_not_persistent_not_secured_no_diff(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'persistent': False, 'secure_undeclared': False,
                          '_ansible_check_mode': True, '_ansible_diff': True})
    assert res['changed'] is False and res['changes'] == [] and res['config_file'] is None and 'diff' not in res
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'persistent': False, '_ansible_check_mode': True})
    assert res['changes'] == ['vf 0 spoofchk False -> True', 'vf 0 trust True -> False'] and 'diff' not in res


def _apply(host, capsys, args, fail_write=False):
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_sriov_vf import install_fake_ip
    install_fake_ip(host)
    writes, waits = [], []

    def write_value(self, path, value):
        writes.append((os.path.relpath(path, host), value))
        if fail_write:
            raise IOError(16, 'Device or resource busy')
        with open(path, 'w') as handle:
            handle.write(value)
    with mock.patch.object(sriov_vf.SriovVf, 'write', write_value), \
            mock.patch.object(sriov_vf.SriovVf, 'wait_vfs', lambda self, pf, n: waits.append((pf, n))):
        res = invoke(capsys, dict(args, root=host))
    return res, writes, waits


def test_numvfs_writes_in_order(host, capsys):
    res, writes, waits = _apply(host, capsys, {'pf': 'eth2', 'numvfs': 3, 'persistent': False})
    assert writes == [('sys/class/net/eth2/device/sriov_numvfs', '0'), ('sys/class/net/eth2/device/sriov_numvfs', '3')]
    assert waits == [('eth2', 3)] and 'failed' not in res
    res, writes, waits = _apply(host, capsys, {'pf': 'eth2', 'numvfs': 0, 'persistent': False})
    assert writes == [('sys/class/net/eth2/device/sriov_numvfs', '0')] and waits == [('eth2', 0)]
    res, writes, waits = _apply(host, capsys, {'pf': 'eth2', 'numvfs': 2, 'persistent': False})
    assert writes == [('sys/class/net/eth2/device/sriov_numvfs', '2')]


def test_apply_failure_messages(host, capsys):
    res, writes, waits = _apply(host, capsys, {'pf': 'eth2', 'numvfs': 3, 'persistent': False}, fail_write=True)
    assert res['msg'] == 'setting eth2 sriov_numvfs to 3 failed: [Errno 16] Device or resource busy'
    assert res['changes'][0] == 'numvfs 2 -> 3' and waits == []
    script = os.path.join(host, 'run/hvsec-test/ip')
    res, writes, waits = _apply(host, capsys, {'pf': 'eth2', 'persistent': False,
                                               'vfs': [{'vf': 0, 'mac': '52:54:00:aa:bb:01'}]})
    assert 'failed' not in res
    with open(script, 'w') as handle:
        handle.write('#!/bin/sh\necho "RTNETLINK answers: Operation not permitted" >&2\nexit 2\n')
    # an ip that refuses every change (kept: _apply installs the stand-in only through this name)
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules import test_sriov_vf as base
    with mock.patch.object(base, 'install_fake_ip', lambda root: None):
        res, writes, waits = _apply(host, capsys, {'pf': 'eth2', 'persistent': False,
                                                   'vfs': [{'vf': 0, 'mac': '52:54:00:aa:bb:09', 'vlan': 7}]})
    assert res['msg'] == ('ip link set dev eth2 vf 0 mac 52:54:00:aa:bb:09 vlan 7 failed: RTNETLINK answers: '
                          'Operation not permitted')
    assert res['changes'] == ['vf 0 mac 52:54:00:aa:bb:01 -> 52:54:00:aa:bb:09', 'vf 0 vlan 0 -> 7']


def test_settings_that_do_not_stick_whole_message(host, capsys):
    from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.test_sriov_vf import install_fake_ip
    install_fake_ip(host)
    script = os.path.join(host, 'run/hvsec-test/ip')
    with open(script) as handle:
        text = handle.read()
    with open(script, 'w') as handle:
        handle.write(text.replace("json.dump(data, open(path, 'w'))", 'pass'))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'persistent': False, 'vfs': [{'vf': 0, 'mac': '52:54:00:aa:bb:01'}]})
    assert res['msg'] == ('VF settings did not take effect on eth2: vf 0 mac is 00:00:00:00:00:00, wanted '
                          '52:54:00:aa:bb:01; vf 0 spoofchk is False, wanted True; vf 0 trust is True, wanted False')
    assert res['changes'] == ['vf 0 mac 00:00:00:00:00:00 -> 52:54:00:aa:bb:01', 'vf 0 spoofchk False -> True',
                              'vf 0 trust True -> False']
