# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit of Open vSwitch managers and controllers (HVS-VSW-05..07) on real ovs-vsctl output
of an OpenStack compute node, and the one rule it shares with ovs_security: a loopback-only
plain-TCP target passes when hvsec_vswitch_ovs_allow_loopback_tcp allows it, and the audit
judges every target exactly as the module's plan does."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import default_settings
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_ovs as vo

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'module_utils', 'fixtures', 'vswitch')
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
VAR = 'hvsec_vswitch_ovs_allow_loopback_tcp'


def _facts(name):
    with open(os.path.join(FIX, name)) as f:
        network_ovs, error = ovs.parse_ovs_vsctl(f.read())
    assert error is None
    return {'network': {'ovs': network_ovs}}


def _audit(facts, control, **settings):
    results = ev.evaluate(facts, settings=settings, controls=[BY_ID[control]])
    return results[0]['status'], results[0]['evidence']


def test_policy_variable_default_agrees_with_the_role():
    with open(os.path.join(ROOT, 'roles', 'vswitch', 'defaults', 'main.yml')) as f:
        defaults = yaml.safe_load(f)
    with open(os.path.join(ROOT, 'roles', 'vswitch', 'meta', 'argument_specs.yml')) as f:
        spec = yaml.safe_load(f)['argument_specs']['main']['options']
    assert default_settings()[VAR] is True and defaults[VAR] is True
    assert spec[VAR]['type'] == 'bool' and spec[VAR]['default'] is True


def test_openstack_compute_node_passes_by_default():
    facts = _facts('ovs_openstack.json')
    status, evidence = _audit(facts, 'HVS-VSW-05')
    assert status == 'pass'
    assert evidence == ('managers: ptcp:6640:127.0.0.1 (loopback-only plain TCP, listens on 127.0.0.1 only; '
                        'allowed by %s)' % VAR)
    status, evidence = _audit(facts, 'HVS-VSW-06')
    assert status == 'pass'
    assert 'br-int tcp:127.0.0.1:6633 (loopback-only plain TCP, connects to 127.0.0.1 only' in evidence
    assert VAR in evidence
    assert _audit(facts, 'HVS-VSW-07')[0] == 'pass'


def test_openstack_compute_node_fails_under_the_strict_policy():
    facts = _facts('ovs_openstack.json')
    status, evidence = _audit(facts, 'HVS-VSW-05', **{VAR: False})
    assert status == 'fail'
    assert 'ptcp:6640:127.0.0.1' in evidence and '%s is false' % VAR in evidence
    status, evidence = _audit(facts, 'HVS-VSW-06', **{VAR: False})
    assert status == 'fail' and 'br-ex tcp:127.0.0.1:6633' in evidence


def test_exposed_targets_fail_even_with_loopback_allowed():
    facts = _facts('ovs_openstack_exposed.json')
    status, evidence = _audit(facts, 'HVS-VSW-05')
    assert status == 'fail' and evidence == 'plain-TCP OVSDB manager: ptcp:6640 (listens on every address)'
    status, evidence = _audit(facts, 'HVS-VSW-06')
    assert status == 'fail'
    assert evidence == 'plain-TCP OpenFlow: br-ex tcp:192.0.2.50:6633 (connects to 192.0.2.50)'


def test_setting_must_be_a_bool():
    with pytest.raises(ev.SettingsError, match=VAR):
        ev.evaluate({}, settings={VAR: 'yes'})


TARGETS = ['ptcp:6640:127.0.0.1', 'ptcp:6640', 'ptcp:6640:[::1]', 'ptcp:6640:0.0.0.0', 'tcp:127.0.0.1:6633',
           'tcp:[::1]:6633', 'tcp:192.0.2.50:6633', 'tcp:localhost:6633', 'pssl:6640', 'punix:/run/x.sock',
           'ptcp:6640:::1', 'TCP:127.0.0.1:6633']


@pytest.mark.parametrize('allow', [True, False])
@pytest.mark.parametrize('target', TARGETS)
def test_audit_and_module_judge_every_target_alike(target, allow):
    """A target the module keeps passes the audit; one it removes fails it (one rule, two users)."""
    state = {'managers': [target], 'ssl': None, 'ports': {},
             'bridges': {'br-int': {'controllers': [target], 'fail_mode': 'secure', 'mirrors': []}}}
    params = {'managers': [], 'controllers': {}, 'allow_loopback_tcp': allow}
    actions, dummy = vo.plan_ovs(params, state)
    removed = set(a['control'] for a in actions)
    facts = {'network': {'ovs': {'managers': [target], 'version': '3.1.0',
                                 'bridges': [{'name': 'br-int', 'controllers': [target], 'fail_mode': 'secure',
                                              'mirrors': [], 'ports': []}]}}}
    for control in ('HVS-VSW-05', 'HVS-VSW-06'):
        status = _audit(facts, control, **{VAR: allow})[0]
        assert (status == 'pass') == (control not in removed), (control, status, actions)
