# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.module_utils import sriov
from ansible_collections.hvsec.hypervisor.plugins.modules import sriov_vf
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.vfio_tree import fixture, lab_host, write

VF0 = {'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100}
VF1 = {'vf': 1, 'mac': '52:54:00:aa:bb:02', 'vlan': 101}


@pytest.fixture
def host(tmp_path):
    root = str(lab_host(tmp_path))
    write(root, 'run/hvsec-test/ip-link-eth2.json', fixture('ip-link-eth2.json'))
    return root


def invoke(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sriov_vf.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_reports_each_vf_change(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 2, 'vfs': [VF0, VF1],
                          '_ansible_check_mode': True, '_ansible_diff': True})
    assert res['changed'] is True
    assert res['changes'] == [
        'vf 0 mac 00:00:00:00:00:00 -> 52:54:00:aa:bb:01',
        'vf 0 vlan 0 -> 100',
        'vf 0 spoofchk False -> True',
        'vf 0 trust True -> False',
        'wrote /etc/hvsec/sriov/eth2.conf',
    ]
    assert res['totalvfs'] == 7 and res['numvfs_before'] == 2
    assert [v['address'] for v in res['vfs']] == ['0000:00:10.0', '0000:00:10.2']
    assert res['vfs'][1]['iommu_group'] == 7 and res['vfs'][1]['iommu_group_size'] == 1
    assert res['diff'][0]['after'].splitlines()[1] == \
        'vf 0 mac 52:54:00:aa:bb:01 vlan 100 spoofchk on trust off rate 0'
    assert not os.path.exists(os.path.join(host, 'etc/hvsec/sriov/eth2.conf'))


def test_in_wanted_state_is_unchanged(host, capsys):
    data = json.loads(fixture('ip-link-eth2.json'))
    data[0]['vfinfo_list'][0].update({'address': '52:54:00:aa:bb:01', 'vlan_list': [{'vlan': 100}],
                                      'spoofchk': True, 'trust': False})
    write(host, 'run/hvsec-test/ip-link-eth2.json', json.dumps(data))
    wanted = sriov.wanted_vf_settings(2, [dict(VF0, spoofchk=True, trust=False), dict(VF1, spoofchk=True, trust=False)])
    write(host, 'etc/hvsec/sriov/eth2.conf', sriov.render_config('eth2', 2, wanted))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 2, 'vfs': [VF0, VF1]})
    assert res['changed'] is False and res['changes'] == []


@pytest.mark.parametrize('args,message', [
    ({'pf': 'eth2', 'numvfs': 8}, 'numvfs 8 is above the device total sriov_totalvfs=7'),
    ({'pf': 'eth2', 'numvfs': 2, 'vfs': [dict(VF0, vlan=4095)]}, 'vf 0: VLAN 4095 is outside 1-4094'),
    ({'pf': 'eth2', 'numvfs': 2, 'vfs': [dict(VF0, vlan=0)]}, 'vf 0: VLAN 0 is outside 1-4094'),
    ({'pf': 'eth2', 'numvfs': 1, 'vfs': [VF1]}, 'vf 1 does not exist with numvfs=1'),
    ({'pf': 'eth2', 'numvfs': 2, 'vfs': [dict(VF0, mac='01:00:5e:00:00:01')]}, 'multicast'),
    ({'pf': 'eth9', 'numvfs': 1}, 'pf: interface eth9 does not exist'),
    ({'pf': 'mgmt0', 'numvfs': 1}, 'pf: mgmt0 is not SR-IOV capable'),
    ({'pf': '../x', 'numvfs': 1}, "pf: '../x' is not a valid interface name"),
    # the shared rule (module_utils/netnames): the name becomes a file name and a systemd instance
    ({'pf': 'eth2;id', 'numvfs': 1}, "pf: 'eth2;id' is not a valid interface name (contains ';'"),
])
def test_bad_input_fails_before_change(host, capsys, args, message):
    args = dict(args, root=host)
    res = invoke(capsys, args)
    assert res['failed'] is True
    assert message in res['msg']
    assert not os.path.exists(os.path.join(host, 'etc/hvsec'))
    with open(os.path.join(host, 'sys/bus/pci/devices/0000:00:03.0/sriov_numvfs')) as handle:
        assert handle.read() == '2\n'


def test_refuses_numvfs_change_with_vf_in_running_guest(host, capsys):
    write(host, 'run/libvirt/qemu/guest1.xml', fixture('guest1-running.xml'))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3})
    assert res['failed'] is True
    assert 'refusing to change numvfs of eth2 from 2 to 3' in res['msg']
    assert 'vf 1 (0000:00:10.2) is assigned to running domain guest1' in res['msg']


def test_refuses_numvfs_change_with_open_vfio_group(host, capsys):
    os.makedirs(os.path.join(host, 'proc/4242/fd'))
    os.symlink('/dev/vfio/7', os.path.join(host, 'proc/4242/fd/21'))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 0})
    assert res['failed'] is True
    assert 'vf 1 (0000:00:10.2) is in use: /dev/vfio/7 is open' in res['msg']


def test_numvfs_change_plans_recreation(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3, 'vfs': [VF0], '_ansible_check_mode': True})
    assert res['changes'][0] == 'numvfs 2 -> 3'
    assert 'vf 2 spoofchk None -> True' in res['changes']
    assert res['numvfs'] == 3


def test_test_root_never_applies(host, capsys):
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 2, 'vfs': [VF0]})
    assert res['failed'] is True and 'only applied on a real host' in res['msg']


FAKE_IP = r'''#!{python}
"""ip(8) stand-in for the fixture tree: `ip link set dev PF vf N KEY VALUE...` edits
run/hvsec-test/ip-link-PF.json the way the kernel would (fresh VFs after a numvfs change)."""
import json, os, sys
root = {root!r}
args = sys.argv[1:]
with open(os.path.join(root, 'run/hvsec-test/calls'), 'a') as log:
    log.write(' '.join(args) + '\n')
assert args[:3] == ['link', 'set', 'dev'] and args[4] == 'vf', args
pf, vf, rest = args[3], int(args[5]), args[6:]
path = os.path.join(root, 'run/hvsec-test/ip-link-%s.json' % pf)
data = json.load(open(path))
with open(os.path.join(root, 'sys/class/net/%s/device/sriov_numvfs' % pf)) as f:
    numvfs = int(f.read())
vfs = data[0].setdefault('vfinfo_list', [])
if len(vfs) != numvfs:
    vfs[:] = [{{'vf': i, 'address': '00:00:00:00:00:00', 'spoofchk': True, 'trust': False}} for i in range(numvfs)]
if vf >= numvfs:
    sys.stderr.write('RTNETLINK answers: Invalid argument\n')
    sys.exit(2)
entry = vfs[vf]
for key, value in zip(rest[::2], rest[1::2]):
    if key == 'mac':
        entry['address'] = value
    elif key == 'vlan':
        entry['vlan_list'] = [{{'vlan': int(value)}}]
    elif key in ('spoofchk', 'trust'):
        entry[key] = value == 'on'
    elif key == 'max_tx_rate':
        entry['rate'] = {{'max_tx': int(value), 'min_tx': 0}}
json.dump(data, open(path, 'w'))
'''


def install_fake_ip(root):
    import sys
    path = write(root, 'run/hvsec-test/ip', FAKE_IP.format(python=sys.executable, root=root))
    os.chmod(path, 0o755)


def calls(root):
    with open(os.path.join(root, 'run/hvsec-test/calls')) as handle:
        return handle.read().splitlines()


def test_apply_with_ip_stand_in_then_idempotent(host, capsys):
    install_fake_ip(host)
    args = {'root': host, 'pf': 'eth2', 'numvfs': 2, 'vfs': [VF0, dict(VF1, rate=500)]}
    res = invoke(capsys, args)
    assert res['changed'] is True, res
    assert calls(host) == [
        'link set dev eth2 vf 0 mac 52:54:00:aa:bb:01 vlan 100 spoofchk on trust off',
        'link set dev eth2 vf 1 max_tx_rate 500',
    ]
    assert [(v['vf'], v['mac'], v['vlan'], v['spoofchk'], v['trust'], v['rate']) for v in res['vfs']] == [
        (0, '52:54:00:aa:bb:01', 100, True, False, 0), (1, '52:54:00:aa:bb:02', 101, True, False, 500)]
    conf = read_conf(host)
    assert 'vf 1 mac 52:54:00:aa:bb:02 vlan 101 spoofchk on trust off max_tx_rate 500' in conf
    res = invoke(capsys, args)
    assert res['changed'] is False and len(calls(host)) == 2


def test_apply_numvfs_change_recreates_and_configures(host, capsys):
    install_fake_ip(host)
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 3, 'vfs': [VF0]})
    assert res['changed'] is True and res['numvfs'] == 3
    with open(os.path.join(host, 'sys/class/net/eth2/device/sriov_numvfs')) as handle:
        assert handle.read() == '3'
    assert calls(host)[0] == 'link set dev eth2 vf 0 mac 52:54:00:aa:bb:01 vlan 100 spoofchk on trust off'
    assert 'numvfs=3' in read_conf(host)


def test_setting_that_does_not_stick_fails(host, capsys):
    install_fake_ip(host)
    # A driver that ignores trust changes: the stand-in keeps trust on whatever it is told.
    script = os.path.join(host, 'run/hvsec-test/ip')
    with open(script) as handle:
        text = handle.read()
    with open(script, 'w') as handle:
        handle.write(text.replace("entry[key] = value == 'on'", "entry[key] = True if key == 'trust' else value == 'on'"))
    res = invoke(capsys, {'root': host, 'pf': 'eth2', 'numvfs': 2, 'vfs': [VF0]})
    assert res['failed'] is True
    assert 'VF settings did not take effect on eth2: vf 0 trust is True, wanted False' in res['msg']
    assert not os.path.exists(os.path.join(host, 'etc/hvsec/sriov/eth2.conf'))


def read_conf(root):
    with open(os.path.join(root, 'etc/hvsec/sriov/eth2.conf')) as handle:
        return handle.read()
