# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_security end to end with ip/bridge/nft replaced by fixture output and sysfs/procfs
reads served from a dict: check mode writes nothing, a run writes the persistence files and
runs the commands, the hardened state plus those files gives changed=false, bad input and a
lockout risk fail before anything is written."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import bridge_security

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch')
PORTS = [{'name': 'vg1', 'vlans': [100]}, {'name': 'vg2', 'vlans': [100]}, {'name': 'vg3', 'vlans': [200]}]


class Host(object):
    def __init__(self, kind):
        self.kind = kind
        self.calls = []
        hardened = kind == 'hardened'
        self.values = {
            '/sys/class/net/br-guest/bridge/vlan_filtering': 1 if hardened else 0,
            '/proc/sys/net/ipv6/conf/br-guest/autoconf': 0 if hardened else 1,
            '/proc/sys/net/ipv6/conf/br-guest/accept_ra': 0 if hardened else 1,
            '/proc/sys/net/ipv6/conf/br-guest/disable_ipv6': 1 if hardened else 0,
            '/proc/sys/net/ipv4/conf/br-guest/proxy_arp': 0,
        }

    def _fix(self, name):
        with open(os.path.join(FIX, name)) as f:
            return f.read()

    def read_int(self, path):
        return self.values.get(path)

    def get_bin_path(self, name, *a, **kw):
        return None if name in ('nft', 'systemctl') else '/usr/sbin/' + name

    def run_command(self, args, *a, **kw):
        self.calls.append(list(args))
        key = ' '.join(args)
        if key == 'ip -j -d link show':
            return 0, self._fix('ip_link_insecure.json'), ''
        if key == 'ip -j addr show':
            return 0, self._fix('ip_addr_%s.json' % self.kind), ''
        if key == 'bridge -j vlan show':
            return 0, self._fix('bridge_vlan_%s.json' % self.kind), ''
        if key == 'ip -j route show default':
            return 0, '[{"dst":"default","gateway":"10.0.2.2","dev":"mgmt0","protocol":"dhcp","flags":[]}]', ''
        return 0, '', ''


READS = ('ip -j -d link show', 'ip -j addr show', 'bridge -j vlan show', 'ip -j route show default')


def _run(monkeypatch, capsys, host, tmp_path, check_mode=False, bridges=None):
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', host.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', host.run_command)
    monkeypatch.setattr(bridge_security, 'read_int', host.read_int)
    monkeypatch.delenv('SSH_CONNECTION', raising=False)
    args = {'bridges': bridges or [{'name': 'br-guest', 'ports': PORTS}],
            'config_dir': str(tmp_path / 'etc'), 'unit_dir': str(tmp_path / 'units'),
            '_ansible_check_mode': check_mode, '_ansible_diff': True}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            bridge_security.main()
    return json.loads(capsys.readouterr().out)


def _writes(host):
    return [' '.join(c) for c in host.calls if ' '.join(c) not in READS]


def test_check_mode_reports_and_changes_nothing(monkeypatch, capsys, tmp_path):
    host = Host('insecure')
    out = _run(monkeypatch, capsys, host, tmp_path, check_mode=True)
    assert out['changed'] is True
    assert out['controls'] == {'HVS-VSW-01': 'fixed', 'HVS-VSW-02': 'fixed', 'HVS-VSW-03': 'fixed', 'HVS-VSW-04': 'pass'}
    assert _writes(host) == []
    assert not (tmp_path / 'etc').exists() and not (tmp_path / 'units').exists()


def test_run_then_second_run_is_unchanged(monkeypatch, capsys, tmp_path):
    host = Host('insecure')
    out = _run(monkeypatch, capsys, host, tmp_path)
    assert out['changed'] is True
    cmds = _writes(host)
    assert 'ip link set dev br-guest type bridge vlan_filtering 1' in cmds
    assert 'ip addr del 192.168.50.1/24 dev br-guest' in cmds
    assert (tmp_path / 'etc' / 'bridge-br-guest.sh').exists()
    assert (tmp_path / 'units' / 'hvsec-vswitch-br-guest.service').exists()
    assert os.path.islink(str(tmp_path / 'units' / 'sys-subsystem-net-devices-br\\x2dguest.device.wants'
                              / 'hvsec-vswitch-br-guest.service'))
    # The host now is in the hardened state: nothing to do.
    host2 = Host('hardened')
    out = _run(monkeypatch, capsys, host2, tmp_path)
    assert out['changed'] is False, out['changes']
    assert _writes(host2) == []


def test_bad_input_fails_before_any_change(monkeypatch, capsys, tmp_path):
    host = Host('insecure')
    out = _run(monkeypatch, capsys, host, tmp_path,
               bridges=[{'name': 'br-guest', 'ports': [{'name': 'vg1', 'vlans': [4095]}]},
                        {'name': 'br-missing', 'ports': []}])
    assert out['failed'] is True
    assert 'VLAN 4095 is outside 1-4094' in out['msg'] and 'bridge br-missing does not exist' in out['msg']
    assert _writes(host) == [] and not (tmp_path / 'etc').exists()


def test_lockout_refused(monkeypatch, capsys, tmp_path):
    host = Host('insecure')
    monkeypatch.setattr(bridge_security, 'ssh_server_ip', lambda: '192.168.50.1')
    out = _run(monkeypatch, capsys, host, tmp_path)
    assert out['failed'] is True and 'Ansible connection' in out['msg']
    assert _writes(host) == []
