# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_security end to end with ovs-vsctl replaced by fixture output (captured from a private
ovsdb-server of Open vSwitch 3.1.0 by tools/capture_fixtures.py, for the lab state): check mode
runs no write, a real run writes once, a hardened database gives changed=false, bad input
fails before any write, and a host without ovs-vsctl is not_applicable."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import ovs_security

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch')
LAB = {'controllers': {'ovsbr1': ['punix:/run/openvswitch/ovsbr1.hvsec.ctl']}, 'allow_loopback_tcp': False,
       'ports': [{'name': 'vo1', 'tag': 100}, {'name': 'vo2', 'tag': 100}, {'name': 'vo3', 'tag': 200}]}


class FakeTools(object):
    def __init__(self, fixture, have_ovs=True):
        self.calls = []
        self.have_ovs = have_ovs
        with open(os.path.join(FIX, fixture)) as f:
            self.db = f.read()

    def get_bin_path(self, name, *args, **kwargs):
        return '/usr/bin/' + name if (name == 'ovs-vsctl' and self.have_ovs) else None

    def run_command(self, args, *a, **kw):
        self.calls.append(list(args))
        if '--format=json' in args:
            return 0, self.db, ''
        return 0, '', ''


def _run(monkeypatch, capsys, tools, args, check_mode=False):
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', tools.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', tools.run_command)
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            ovs_security.main()
    return json.loads(capsys.readouterr().out)


def _writes(tools):
    return [c for c in tools.calls if '--format=json' not in c]


def test_check_mode_reports_and_writes_nothing(monkeypatch, capsys):
    tools = FakeTools('ovs_insecure.json')
    out = _run(monkeypatch, capsys, tools, LAB, check_mode=True)
    assert out['changed'] is True
    assert out['controls']['HVS-VSW-05'] == 'fixed'
    assert out['command'][0] == '/usr/bin/ovs-vsctl'
    assert _writes(tools) == []


def test_run_applies_one_transaction(monkeypatch, capsys):
    tools = FakeTools('ovs_insecure.json')
    out = _run(monkeypatch, capsys, tools, LAB)
    assert out['changed'] is True
    writes = _writes(tools)
    assert len(writes) == 1 and writes[0] == out['command']
    assert 'del-manager' in writes[0]


def test_hardened_database_is_unchanged(monkeypatch, capsys):
    tools = FakeTools('ovs_hardened.json')
    out = _run(monkeypatch, capsys, tools, LAB)
    assert out['changed'] is False and _writes(tools) == []
    assert set(out['controls'].values()) == {'pass'}


def test_bad_input_fails_before_writing(monkeypatch, capsys):
    tools = FakeTools('ovs_insecure.json')
    bad = dict(LAB, ports=[{'name': 'vo1', 'tag': 5000}],
               ssl={'private_key': '/nonexistent/k', 'certificate': '/nonexistent/c', 'ca_cert': '/nonexistent/a'})
    out = _run(monkeypatch, capsys, tools, bad)
    assert out['failed'] is True
    assert 'outside 1-4094' in out['msg'] and 'hvsec_vswitch_ovs_ssl.private_key' in out['msg']
    assert _writes(tools) == []


def test_no_ovs_is_not_applicable(monkeypatch, capsys):
    tools = FakeTools('ovs_insecure.json', have_ovs=False)
    out = _run(monkeypatch, capsys, tools, LAB)
    assert out['changed'] is False
    assert set(out['controls'].values()) == {'not_applicable'}
    assert tools.calls == []


def test_openstack_compute_node_is_left_connected(monkeypatch, capsys):
    """The role's default variables on a Neutron compute node: nothing to change, and the result
    says which loopback-only plain-TCP targets were kept and why."""
    tools = FakeTools('ovs_openstack.json')
    out = _run(monkeypatch, capsys, tools, {})
    assert out['changed'] is False and _writes(tools) == [] and out['command'] == []
    assert set(out['controls'].values()) == {'pass'}
    assert out['loopback_tcp'][0] == {'control': 'HVS-VSW-05', 'where': 'OVSDB manager',
                                      'target': 'ptcp:6640:127.0.0.1', 'why': 'listens on 127.0.0.1 only'}
    assert [k['where'] for k in out['loopback_tcp'][1:]] == ['controller of br-ex', 'controller of br-int',
                                                             'controller of br-tun']


def test_openstack_compute_node_strict_policy(monkeypatch, capsys):
    tools = FakeTools('ovs_openstack.json')
    out = _run(monkeypatch, capsys, tools, {'allow_loopback_tcp': False}, check_mode=True)
    assert out['changed'] is True and out['loopback_tcp'] == []
    assert 'del-manager' in out['command'] and 'del-controller' in out['command']


def test_exposed_openstack_targets_are_removed(monkeypatch, capsys):
    tools = FakeTools('ovs_openstack_exposed.json')
    out = _run(monkeypatch, capsys, tools, {})
    assert _writes(tools) == [['/usr/bin/ovs-vsctl', 'del-manager', '--', 'set-controller', 'br-ex',
                               'tcp:127.0.0.1:6633']]
    assert out['controls']['HVS-VSW-05'] == 'fixed' and out['controls']['HVS-VSW-06'] == 'fixed'


def test_port_names_follow_the_interface_name_rule(monkeypatch, capsys):
    tools = FakeTools('ovs_insecure.json')
    out = _run(monkeypatch, capsys, tools, dict(LAB, ports=[{'name': 'vo1;reboot', 'tag': 100}]))
    assert out['failed'] is True and "'vo1;reboot' is not a valid interface name" in out['msg']
    assert _writes(tools) == []
