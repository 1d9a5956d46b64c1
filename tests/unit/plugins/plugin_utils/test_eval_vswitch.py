# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HVS-VSW-10's reading of nftables anti-spoofing rules, rule by rule.

The rule texts are those ``module_utils/nft.py`` renders from ``nft -j list ruleset`` (sets as
``{ a, b }``), as the vswitch role writes them (``vswitch_bridge.spoof_rules``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import eval_vswitch as vsw


@pytest.mark.parametrize('value,text', [
    ('02:AA:00:00:00:01', '02:aa:00:00:00:01'),
    (' 192.168.1.5 ', '192.168.1.5'),
    ('192.168.1.5/24', '192.168.1.0/24'),
    ('10.0.0.0/8', '10.0.0.0/8'),
    ('2001:DB8:0::11', '2001:db8::11'),
    ('FE80::/10', 'fe80::/10'),
])
def test_addresses_compare_in_one_canonical_text(value, text):
    assert vsw._norm_addr_value(value) == text


@pytest.mark.parametrize('rules,match,allowed,result', [
    (['ether saddr != 02:00:00:00:50:11 drop'], 'ether saddr', {'02:00:00:00:50:11'}, True),
    (['ether saddr != 02:00:00:00:50:11 counter reject'], 'ether saddr', {'02:00:00:00:50:11'}, True),
    (['ether saddr != 02:00:00:00:50:11 reject'], 'ether saddr', {'02:00:00:00:50:11'}, True),
    (['ether saddr != 02:00:00:00:50:11 accept'], 'ether saddr', {'02:00:00:00:50:11'}, False),
    # a rule without a verdict does not end the search
    (['ether saddr != 02:00:00:00:50:11 accept', 'ether saddr != 02:00:00:00:50:11 counter drop'],
     'ether saddr', {'02:00:00:00:50:11'}, True),
    (['ip saddr != { 192.168.50.11, 192.168.50.12 } drop'], 'ip saddr', {'192.168.50.11', '192.168.50.12'}, True),
    # allowing an undeclared source is no protection
    (['ip saddr != { 192.168.50.11, 192.168.50.99 } drop'], 'ip saddr', {'192.168.50.11'}, False),
    (['ip6 saddr != { 2001:db8::11, fe80::/10 } drop'], 'ip6 saddr', {'2001:DB8::11', 'FE80::/10'}, True),
    # an ARP rule does not restrict the IP source
    (['arp saddr ip != 192.168.50.11 drop'], 'ip saddr', {'192.168.50.11'}, False),
    (['ip saddr 192.168.50.11 drop'], 'ip saddr', {'192.168.50.11'}, False),
])
def test_a_rule_drops_other_sources_only_with_a_drop_verdict_and_declared_values(rules, match, allowed, result):
    assert vsw._drops_other_than(rules, match, allowed) is result


def _table(family, name, hook, rules, devices=None):
    return {'family': family, 'name': name, 'chains': [
        {'name': hook, 'hook': hook, 'type': 'filter', 'devices': devices, 'rules': rules}]}


RULESET = [
    # nft 1.0.6: a netdev chain's device is not reported; the table is named after the port
    _table('netdev', 'hvsec_port_vo1', 'ingress', ['ether saddr != 02:00:00:00:60:11 drop']),
    _table('netdev', 'hvsec_port_vo2', 'ingress', ['ether saddr != 02:00:00:00:60:12 drop']),
    _table('netdev', 'edge', 'ingress', ['iifname "vo3" ether saddr != 02:00:00:00:60:13 drop',
                                         'iifname "vo4" ether saddr != 02:00:00:00:60:14 drop',
                                         'ether type arp drop'], devices=['vo3', 'vo5']),
    _table('bridge', 'hvsec_br_guest', 'prerouting', ['iifname "vg1" ether saddr != 02:00:00:00:50:11 drop',
                                                      'iifname "vg2" ether saddr != 02:00:00:00:50:12 drop',
                                                      'ether type vlan drop']),
    _table('netdev', 'hvsec_port_vg1', 'egress', ['ether saddr != 02:00:00:00:50:99 drop']),
]


@pytest.mark.parametrize('kind,name,rules', [
    ('ovs', 'vo1', ['ether saddr != 02:00:00:00:60:11 drop']),
    ('ovs', 'vo3', ['ether saddr != 02:00:00:00:60:13 drop', 'ether type arp drop']),
    ('ovs', 'vo5', ['ether type arp drop']),
    ('ovs', 'vg1', []),
    ('bridge', 'vg1', ['ether saddr != 02:00:00:00:50:11 drop']),
    ('ovs', 'vo9', []),
])
def test_the_rules_that_see_a_ports_frames(kind, name, rules):
    assert vsw._port_rules(RULESET, kind, name) == rules


def test_spoof_problems_name_the_declared_values_in_lower_case():
    port = {'name': 'vo1', 'mac': '02:00:00:00:60:AB', 'ips': ['2001:DB8::11']}
    assert vsw._spoof_problems([], port) == [
        'no rule drops source MAC other than 02:00:00:00:60:ab',
        'ip not dropped (no ip address declared)',
        'no rule drops ip6 source other than 2001:db8::11',
    ]
    rules = ['ether saddr != 02:00:00:00:60:ab drop', 'ether type ip drop', 'ip6 saddr != { 2001:db8::11, fe80::/10 } drop']
    assert vsw._spoof_problems(rules, port) == []
