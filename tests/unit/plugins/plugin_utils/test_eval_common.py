# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helpers every evaluator shares: fact accessors, notes as evidence, value readers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import eval_common as ec


def _one():
    return 'one'


def _two():
    return 'two'


def test_evaluator_table_maps_each_function_name_to_its_function():
    assert ec.evaluator_table(_one, _two) == {'_one': _one, '_two': _two}


def test_unknown_carries_its_path_as_message_and_its_hint():
    exc = ec.Unknown('kvm.nested', hint='see dmesg')
    assert (str(exc), exc.path, exc.hint) == ('kvm.nested', 'kvm.nested', 'see dmesg')
    assert ec.Unknown('ksm.run').hint is None


def test_get_fact_walks_the_path_and_keeps_false_and_zero():
    facts = {'kvm': {'nested': False, 'halt_poll_ns': 0, 'params': {'x': 'y'}}}
    assert ec.get_fact(facts, 'kvm.nested') is False
    assert ec.get_fact(facts, 'kvm.halt_poll_ns') == 0
    assert ec.get_fact(facts, 'kvm.params.x') == 'y'
    with pytest.raises(ec.Unknown) as err:
        ec.get_fact(facts, 'kvm.params.x.deeper')
    assert err.value.path == 'kvm.params.x.deeper'
    assert ec.get_fact({'kvm': None}, 'kvm.nested', 'fallback') == 'fallback'
    assert ec.opt_fact({'kvm': {'nested': None}}, 'kvm.nested') is None


NOTES = [
    {'probe': 'kvm', 'path': '/sys/module/kvm/parameters/ignore_msrs', 'reason': 'permission denied'},
    {'probe': 'kvm', 'path': '/sys/module/kvm/parameters/halt_poll_ns', 'reason': 'I/O error'},
    {'probe': 'sysctl', 'path': '/proc/sys/kernel/randomize_va_space', 'reason': 'permission denied'},
    {'probe': 'sysctl', 'path': '/proc/sys/net/bridge/bridge-nf-call-iptables', 'reason': 'not found'},
    {'probe': 'libvirt', 'path': '/etc/libvirt/libvirtd.conf', 'reason': 'permission denied'},
    {'probe': 'libvirt.domains', 'path': '/etc/libvirt/qemu', 'reason': 'permission denied'},
    'not a note',
]


@pytest.mark.parametrize('path,index', [
    # the note of the probe whose file names the leaf, though another note of the probe comes first
    ('kvm.halt_poll_ns', 1),
    # an index in the path is not part of the leaf
    ('kvm.halt_poll_ns[2]', 1),
    # underscores of the leaf match hyphens of the file
    ('sysctl.bridge_nf_call_iptables', 3),
    # no note names the leaf: the probe's first note
    ('kvm.nested', 0),
    # a note of the longer probe name wins over one of its parent
    ('libvirt.domains.0.name', 5),
    ('libvirt.config', 4),
])
def test_note_for_picks_the_note_that_explains_the_path(path, index):
    assert ec.note_for({'notes': NOTES}, path) is NOTES[index]


def test_note_for_without_a_note_of_the_probe_is_none():
    assert ec.note_for({'notes': NOTES}, 'ksm.run') is None
    assert ec.note_for({}, 'kvm.nested') is None
    assert ec.note_for(None, 'kvm.nested') is None
    # a note without a path still explains its probe
    assert ec.note_for({'notes': [{'probe': 'ksm', 'reason': 'x'}]}, 'ksm.run') == {'probe': 'ksm', 'reason': 'x'}


@pytest.mark.parametrize('note,text', [
    ({'probe': 'kvm', 'path': '/dev/kvm', 'reason': 'permission denied'}, '/dev/kvm: permission denied'),
    ({'probe': 'kvm', 'reason': 'internal error'}, 'kvm: internal error'),
    ({'reason': 'gone'}, '?: gone'),
    ({'probe': 'kvm', 'path': '/dev/kvm'}, '/dev/kvm: unreadable'),
    (None, ''),
    ({}, ''),
])
def test_note_text(note, text):
    assert ec.note_text(note) == text


@pytest.mark.parametrize('reason,result', [
    ('permission denied', True),
    ('not found', False),
    ('Not Installed', False),
    ('', True),
    (None, True),
])
def test_unreadable_unless_the_note_says_absent(reason, result):
    facts = {'notes': [{'probe': 'audit', 'path': '/etc/audit/rules.d', 'reason': reason}]}
    assert ec.unreadable(facts, 'audit.rules') is result
    assert ec.unreadable({}, 'audit.rules') is False


def test_fact_if_present():
    denied = {'notes': [{'probe': 'audit', 'path': '/etc/audit/rules.d', 'reason': 'permission denied'}]}
    absent = {'notes': [{'probe': 'audit', 'path': '/etc/audit/rules.d', 'reason': 'not found'}]}
    assert ec.fact_if_present({'audit': {'rules': []}}, 'audit.rules') == []
    assert ec.fact_if_present(absent, 'audit.rules') is None
    assert ec.fact_if_present({}, 'audit.rules') is None
    with pytest.raises(ec.Unknown) as err:
        ec.fact_if_present(denied, 'audit.rules')
    assert err.value.path == 'audit.rules'


@pytest.mark.parametrize('value', [True, 1, 2, -1, 'Y', 'y', '1', 'on', 'ON', ' true\n', 'True', 'yes', 'YES'])
def test_truthy_values(value):
    assert ec.truthy(value) is True


@pytest.mark.parametrize('value', [False, 0, 'N', 'n', '0', 'off', 'false', 'no', '', None, '2', 'enabled'])
def test_falsy_values(value):
    assert ec.truthy(value) is False


@pytest.mark.parametrize('value,default,result', [
    (None, 7, 7),
    (True, None, 1),
    (False, 9, 0),
    (12, None, 12),
    (' 42\n', None, 42),
    ('0x1f', None, 31),
    ('0o17', None, 15),
    ('-3', None, -3),
    ('many', 5, 5),
    ('', None, None),
])
def test_to_int(value, default, result):
    assert ec.to_int(value, default) == result


def test_fmt_list_names_the_first_items_and_counts_the_rest():
    assert ec.fmt_list([]) == ''
    assert ec.fmt_list(range(6)) == '0, 1, 2, 3, 4, 5'
    assert ec.fmt_list(range(8)) == '0, 1, 2, 3, 4, 5 (+2 more)'
    assert ec.fmt_list(['a', 'b', 'c'], limit=2) == 'a, b (+1 more)'
    assert ec.fmt_list(['a', 'b'], limit=2) == 'a, b'


def test_outcome():
    assert ec.outcome([], 'all good', 'bad') == ('pass', 'all good')
    assert ec.outcome(['x', 'y'], 'all good', 'bad') == ('fail', 'bad: x, y')


def test_libvirt_helpers():
    assert ec.na_without_libvirt({'libvirt': {'installed': False}}) == ('not_applicable', 'libvirt is not installed')
    assert ec.na_without_libvirt({'libvirt': {'installed': 'yes'}}) is None
    with pytest.raises(ec.Unknown) as err:
        ec.na_without_libvirt({'libvirt': {}})
    assert err.value.path == 'libvirt.installed'
    assert ec.libvirt_domains({'libvirt': {'domains': [{'name': 'a'}]}}) == [{'name': 'a'}]
    with pytest.raises(ec.Unknown):
        ec.libvirt_domains({'libvirt': {'domains': None}})
