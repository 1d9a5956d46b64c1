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


# The lab's vswitch variables (lab/tests/group_vars/hypervisors/vswitch.yml): its insecure
# fixture's tcp:127.0.0.1:6653 controller stands for any plain-TCP target, so the lab runs strict.
LAB = {'managers': [], 'controllers': {'ovsbr1': ['punix:/run/openvswitch/ovsbr1.hvsec.ctl']},
       'fail_secure': True, 'allowed_mirrors': [], 'allow_loopback_tcp': False,
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
    ({'controllers': {'ovsbr0': ['tcp:127.0.0.1:6653']}, 'allow_loopback_tcp': False},
     'hvsec_vswitch_ovs_controllers[ovsbr0][0]'),
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


# ------------------------------------------------------------------ loopback-only plain TCP (OpenStack)
# ovs_openstack.json: a compute node as the Neutron OVS agent leaves it (ptcp:6640:127.0.0.1,
# tcp:127.0.0.1:6633 on br-int/br-tun/br-ex, fail_mode secure); ovs_openstack_exposed.json: the
# same with ptcp:6640 on every address, a remote tcp:192.0.2.50:6633 on br-ex and tcp:[::1]:6633
# on br-tun. Both captured from an ovsdb-server of Open vSwitch 3.1.0 (tools/capture_fixtures.py).
ROLE_DEFAULTS = {'managers': [], 'controllers': {}, 'fail_secure': True, 'allowed_mirrors': [], 'ports': [],
                 'allow_loopback_tcp': True}


@pytest.mark.parametrize('target, kind', [
    ('ptcp:6640:127.0.0.1', 'loopback'),
    ('ptcp:6640:127.0.0.53', 'loopback'),
    ('ptcp:6640:[::1]', 'loopback'),
    ('ptcp::127.0.0.1', 'loopback'),
    ('tcp:127.0.0.1:6633', 'loopback'),
    ('tcp:127.0.0.1', 'loopback'),
    ('tcp:[::1]:6633', 'loopback'),
    ('tcp:[::ffff:127.0.0.1]:6633', 'loopback'),
    ('ptcp:6640', 'plain'),
    ('ptcp:', 'plain'),
    ('ptcp:6640:0.0.0.0', 'plain'),
    ('ptcp:6640:[::]', 'plain'),
    ('ptcp:6640:192.0.2.10', 'plain'),
    ('ptcp:6640:::1', 'plain'),                  # IPv6 without brackets: not trusted to be loopback
    ('tcp:192.0.2.50:6633', 'plain'),
    ('tcp:localhost:6633', 'plain'),             # a name is resolved at connect time: not trusted
    ('TCP:127.0.0.1:6633', 'plain'),
    ('ssl:192.0.2.10:6653', 'secure'),
    ('pssl:6640', 'secure'),
    ('punix:/var/run/openvswitch/db.sock', 'secure'),
    ('unix:/run/openvswitch/br-int.mgmt', 'secure'),
    ('bogus:1', 'unknown'),
])
def test_target_classification(target, kind):
    assert vo.classify_target(target)[0] == kind


def test_target_reasons_for_the_evidence():
    assert vo.classify_target('ptcp:6640')[1] == 'listens on every address'
    assert vo.classify_target('ptcp:6640:127.0.0.1')[1] == 'listens on 127.0.0.1 only'
    assert vo.classify_target('tcp:192.0.2.50:6633')[1] == 'connects to 192.0.2.50'
    assert vo.classify_target('tcp:[::1]:6633')[1] == 'connects to ::1 only'


def test_openstack_compute_node_keeps_its_agent_targets():
    """The role's default variables leave the Neutron agent connected."""
    st = _state('ovs_openstack.json')
    assert st['managers'] == ['ptcp:6640:127.0.0.1']
    assert st['bridges']['br-int'] == {'controllers': ['tcp:127.0.0.1:6633'], 'fail_mode': 'secure', 'mirrors': []}
    assert vo.validate(ROLE_DEFAULTS, st, lambda p: False) == []
    assert vo.plan_ovs(ROLE_DEFAULTS, st) == ([], [])
    kept = vo.loopback_targets(ROLE_DEFAULTS, st)
    assert kept == [{'control': 'HVS-VSW-05', 'where': 'OVSDB manager', 'target': 'ptcp:6640:127.0.0.1',
                     'why': 'listens on 127.0.0.1 only'}] + [
        {'control': 'HVS-VSW-06', 'where': 'controller of %s' % br, 'target': 'tcp:127.0.0.1:6633',
         'why': 'connects to 127.0.0.1 only'} for br in ('br-ex', 'br-int', 'br-tun')]


def test_strict_policy_removes_loopback_targets_too():
    st = _state('ovs_openstack.json')
    actions, args = vo.plan_ovs(dict(ROLE_DEFAULTS, allow_loopback_tcp=False), st)
    text = ' '.join(args)
    assert 'del-manager' in text
    for br in ('br-ex', 'br-int', 'br-tun'):
        assert 'del-controller %s' % br in text
    assert vo.loopback_targets(dict(ROLE_DEFAULTS, allow_loopback_tcp=False), st) == []


def test_exposed_targets_still_go_with_loopback_allowed():
    st = _state('ovs_openstack_exposed.json')
    actions, args = vo.plan_ovs(ROLE_DEFAULTS, st)
    assert args == ['del-manager', '--', 'set-controller', 'br-ex', 'tcp:127.0.0.1:6633']
    assert [a['control'] for a in actions] == ['HVS-VSW-05', 'HVS-VSW-06']
    # br-tun's tcp:[::1]:6633 is loopback as well and stays
    assert 'br-tun' not in args


def test_declaring_loopback_targets_follows_the_policy():
    st = _state('ovs_openstack.json')
    declared = dict(ROLE_DEFAULTS, managers=['ptcp:6640:127.0.0.1', 'punix:/var/run/openvswitch/db.sock'],
                    controllers={'br-int': ['tcp:127.0.0.1:6633']})
    assert vo.validate(declared, st, lambda p: False) == []
    assert vo.plan_ovs(declared, st)[1] == ['set-manager', 'ptcp:6640:127.0.0.1', 'punix:/var/run/openvswitch/db.sock']
    errors = vo.validate(dict(declared, allow_loopback_tcp=False), st, lambda p: False)
    assert len(errors) == 2 and all('hvsec_vswitch_ovs_allow_loopback_tcp' in e for e in errors), errors
    for bad in ('ptcp:6640', 'tcp:192.0.2.50:6633', 'ptcp:6640:0.0.0.0'):
        errors = vo.validate(dict(ROLE_DEFAULTS, managers=[bad]), st, lambda p: False)
        assert errors and bad in errors[0] and 'plain tcp:/ptcp: is refused' in errors[0], errors
        errors = vo.validate(dict(ROLE_DEFAULTS, controllers={'br-ex': [bad]}), st, lambda p: False)
        assert errors and bad in errors[0], errors


def test_target_errors_is_the_function_for_the_role_filter():
    """What the vswitch role's input check calls (one rule with the module and the audit)."""
    assert vo.target_errors(['ptcp:6640:127.0.0.1'], 'hvsec_vswitch_ovs_managers', True) == []
    assert vo.target_errors(['ptcp:6640'], 'hvsec_vswitch_ovs_managers', True) == [
        "hvsec_vswitch_ovs_managers[0]: 'ptcp:6640' is not allowed (plain tcp:/ptcp: is refused: listens on every "
        "address); use pssl:, ssl:, punix: or unix:, or a loopback-only tcp:/ptcp: target"]
    assert 'hvsec_vswitch_ovs_allow_loopback_tcp is false' in vo.target_errors(
        ['tcp:127.0.0.1:6633'], 'hvsec_vswitch_ovs_controllers[br-int]', False)[0]
