# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nwfilter_domains with virsh replaced by a fake that keeps domain XML in memory: check mode
defines nothing, a run redefines through `virsh define` (never a file under /etc/libvirt), a
second run is unchanged, an unknown filter fails first, no virsh is not_applicable."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import nwfilter_domains

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch')


class Virsh(object):
    def __init__(self, have=True):
        self.have = have
        self.calls = []
        with open(os.path.join(FIX, 'domain_guest1.xml')) as f:
            self.xml = f.read()
        with open(os.path.join(FIX, 'nwfilter_list.txt')) as f:
            self.filters = f.read()

    def get_bin_path(self, name, *a, **kw):
        return '/usr/bin/virsh' if (name == 'virsh' and self.have) else None

    def run_command(self, args, *a, **kw):
        self.calls.append(list(args))
        sub = args[4:]
        if sub[:1] == ['list']:
            return 0, '' if '--all' not in sub else 'hvsec-guest1\n', ''
        if sub[:1] == ['nwfilter-list']:
            return 0, self.filters, ''
        if sub[:1] == ['dumpxml']:
            return 0, self.xml, ''
        if sub[:1] == ['net-dumpxml']:
            return 1, '', 'network not found'
        if sub[:1] == ['define']:
            with open(sub[1]) as f:
                self.xml = f.read()
            return 0, '', ''
        return 0, '', ''


def _run(monkeypatch, capsys, virsh, check_mode=False, **params):
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', virsh.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', virsh.run_command)
    # No Linux bridge on the build machine: HVS-VSW-12 stays out of these tests.
    monkeypatch.setattr(nwfilter_domains.os.path, 'isdir', lambda p: False)
    params.update(_ansible_check_mode=check_mode, _ansible_diff=True)
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            nwfilter_domains.main()
    return json.loads(capsys.readouterr().out)


def _defines(virsh):
    return [c for c in virsh.calls if 'define' in c]


def test_check_mode_defines_nothing(monkeypatch, capsys):
    v = Virsh()
    out = _run(monkeypatch, capsys, v, check_mode=True)
    assert out['changed'] is True and _defines(v) == []
    assert out['controls']['HVS-VSW-10'] == 'fixed' and out['controls']['HVS-VSW-11'] == 'fixed'
    assert "filterref filter=\"clean-traffic\"" in out['diff'][0]['after']


def test_run_defines_then_second_run_unchanged(monkeypatch, capsys):
    v = Virsh()
    out = _run(monkeypatch, capsys, v)
    assert out['changed'] is True and len(_defines(v)) == 1
    assert 'clean-traffic' in v.xml and "mode='bridge'" not in v.xml.replace('"', "'")
    v.calls = []
    out = _run(monkeypatch, capsys, v)
    assert out['changed'] is False and _defines(v) == []
    assert out['controls']['HVS-VSW-10'] == 'pass'


def test_unknown_filter_fails_first(monkeypatch, capsys):
    v = Virsh()
    out = _run(monkeypatch, capsys, v, nwfilter='no-such-filter')
    assert out['failed'] is True and 'hvsec_vswitch_nwfilter' in out['msg']
    assert _defines(v) == []


def test_no_libvirt_not_applicable(monkeypatch, capsys):
    v = Virsh(have=False)
    out = _run(monkeypatch, capsys, v)
    assert out['changed'] is False and set(out['controls'].values()) == {'not_applicable'}
