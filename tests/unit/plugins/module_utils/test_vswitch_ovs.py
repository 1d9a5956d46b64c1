# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_ovs as vo

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'vswitch')


def _state(name):
    with open(os.path.join(FIX, name)) as f:
        tables, error = ovs.parse_tables(f.read())
    assert error is None
    return vo.build_state(tables)


def test_parse_insecure_lab_state():
    st = _state('ovs_insecure.json')
    assert st['managers'] == ['ptcp:6640']
    assert st['bridges']['ovsbr0']['controllers'] == ['tcp:127.0.0.1:6653']
    assert st['bridges']['ovsbr1']['controllers'] == ['ptcp:6653']
    assert st['bridges']['ovsbr0']['fail_mode'] is None
    assert [m[0] for m in st['bridges']['ovsbr0']['mirrors']] == ['m0']
    assert st['ports']['vo1'] == {'tag': None, 'trunks': [], 'vlan_mode': None}
    assert st['ssl'] is None


def test_parse_hardened_lab_state():
    st = _state('ovs_hardened.json')
    assert st['managers'] == [] and st['bridges']['ovsbr0'] == {'controllers': [], 'fail_mode': None, 'mirrors': []}
    assert st['bridges']['ovsbr1'] == {'controllers': ['punix:/run/openvswitch/ovsbr1.hvsec.ctl'], 'fail_mode': 'secure',
                                       'mirrors': []}
    assert st['ports']['vo3'] == {'tag': 200, 'trunks': [], 'vlan_mode': 'access'}


def test_facts_and_module_read_the_same_call():
    """The facts' network.ovs and ovs_security's state come from one parser over one output."""
    with open(os.path.join(FIX, 'ovs_insecure.json')) as f:
        text = f.read()
    facts, error = ovs.parse_ovs_vsctl(text)
    assert error is None
    st = _state('ovs_insecure.json')
    assert facts['managers'] == st['managers']
    for bridge in facts['bridges']:
        assert bridge['controllers'] == st['bridges'][bridge['name']]['controllers']
        assert bridge['mirrors'] == [m[0] for m in st['bridges'][bridge['name']]['mirrors']]
        for port in bridge['ports']:
            assert port['tag'] == st['ports'][port['name']]['tag']


def test_ssl_row_is_read():
    tables = {'Open_vSwitch': [{'manager_options': [], 'ssl': 'u-ssl'}],
              'SSL': [{'_uuid': 'u-ssl', 'private_key': '/k', 'certificate': '/c', 'ca_cert': '/a'}]}
    assert vo.build_state(tables)['ssl'] == {'private_key': '/k', 'certificate': '/c', 'ca_cert': '/a'}


LAB = {'managers': [], 'controllers': {'ovsbr1': ['punix:/run/openvswitch/ovsbr1.hvsec.ctl']},
       'fail_secure': True, 'allowed_mirrors': [],
       'ports': [{'name': 'vo1', 'tag': 100}, {'name': 'vo2', 'tag': 100}, {'name': 'vo3', 'tag': 200}]}


def test_plan_fixes_everything_in_one_transaction():
    st = _state('ovs_insecure.json')
    assert vo.validate(LAB, st, lambda p: False) == []
    actions, args = vo.plan_ovs(LAB, st)
    controls = sorted(set(a['control'] for a in actions))
    assert controls == ['HVS-VSW-05', 'HVS-VSW-06', 'HVS-VSW-07', 'HVS-VSW-08', 'HVS-VSW-09']
    text = ' '.join(args)
    assert 'del-manager' in text
    assert 'del-controller ovsbr0' in text
    assert 'set-controller ovsbr1 punix:/run/openvswitch/ovsbr1.hvsec.ctl' in text
    assert 'set-fail-mode ovsbr1 secure' in text
    assert 'set-fail-mode ovsbr0' not in text          # ovsbr0 keeps no controller
    assert 'remove Bridge ovsbr0 mirrors' in text
    assert 'set Port vo3 tag=200 vlan_mode=access' in text


def test_hardened_state_plans_nothing():
    st = _state('ovs_hardened.json')
    actions, args = vo.plan_ovs(LAB, st)
    assert actions == [] and args == []


def test_empty_manager_list_keeps_secure_managers():
    st = {'managers': ['pssl:6640', 'ptcp:6641'], 'bridges': {}, 'ports': {}, 'ssl': None}
    actions, args = vo.plan_ovs({'managers': []}, st)
    assert args == ['set-manager', 'pssl:6640']
    actions, args = vo.plan_ovs({'managers': ['punix:/run/x.sock']}, st)
    assert args == ['set-manager', 'punix:/run/x.sock']


def test_skip_and_fail_secure_toggle():
    st = _state('ovs_insecure.json')
    actions, _args = vo.plan_ovs(dict(LAB, skip={'HVS-VSW-08'}, fail_secure=False), st)
    controls = set(a['control'] for a in actions)
    assert 'HVS-VSW-08' not in controls and 'HVS-VSW-07' not in controls


def test_trunks_cleared():
    st = {'managers': [], 'bridges': {}, 'ssl': None,
          'ports': {'p': {'tag': 100, 'trunks': [100, 200], 'vlan_mode': 'access'}}}
    _a, args = vo.plan_ovs({'ports': [{'name': 'p', 'tag': 100}]}, st)
    assert args == ['clear', 'Port', 'p', 'trunks']


@pytest.mark.parametrize('params, needle', [
    ({'managers': ['ptcp:6640']}, 'hvsec_vswitch_ovs_managers[0]'),
    ({'managers': ['tcp:192.0.2.1:6640']}, 'plain tcp'),
    ({'controllers': {'nosuchbr': ['unix:/x']}}, 'OVS bridge nosuchbr does not exist'),
    ({'controllers': {'ovsbr0': ['tcp:127.0.0.1:6653']}}, 'hvsec_vswitch_ovs_controllers[ovsbr0][0]'),
    ({'ports': [{'name': 'vo1', 'tag': 4095}]}, 'outside 1-4094'),
    ({'ports': [{'name': 'vo1', 'tag': 0}]}, 'outside 1-4094'),
    ({'ports': [{'name': 'nope', 'tag': 10}]}, 'OVS port nope does not exist'),
    ({'managers': ['pssl:6640']}, 'no certificates are given'),
    ({'ssl': {'private_key': '/nonexistent/key.pem', 'certificate': '/c', 'ca_cert': '/a'}},
     'hvsec_vswitch_ovs_ssl.private_key: file /nonexistent/key.pem does not exist'),
])
def test_validation_errors(params, needle):
    st = _state('ovs_insecure.json')
    errors = vo.validate(params, st, lambda p: p in ('/c', '/a'))
    assert any(needle in e for e in errors), errors


def test_parse_rejects_garbage():
    assert ovs.parse_tables('{"data": [}')[1].startswith('invalid JSON from ovs-vsctl')
    assert ovs.parse_tables('{"data": [], "headings": []}')[1] == 'expected 7 tables from ovs-vsctl, got 1'
    assert vo.build_state({}) == {'managers': [], 'ssl': None, 'bridges': {}, 'ports': {}}
