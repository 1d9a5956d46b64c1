# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
from ansible_collections.hvsec.hypervisor.plugins.modules import hypervisor_facts
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft


def run_module(capsys, tmp_path, args, fixture='intel_vtd', check=False):
    """Run main() against a fixture root; tools answered from the fixture's captured outputs."""
    root = ft.build_root(fixture, tmp_path)
    runner = ft.fake_runner(fixture)
    bins = ft.fake_bin_path(fixture)
    calls = []
    seen_env = []

    def fake_run_command(module, cmd, *a, **kw):
        calls.append(list(cmd))
        seen_env.append(kw.get('environ_update'))
        return runner(cmd)

    def fake_bin(module, name, required=False, opt_dirs=None):
        assert '/usr/sbin' in opt_dirs     # sshd and nft live in sbin
        return bins(name)

    def at_fixture_root(root_arg='/', **kwargs):
        assert root_arg == '/'
        return hvfacts.gather_facts(root, euid=0, **kwargs)

    args = dict(args)
    args['_ansible_check_mode'] = check
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, 'run_command', fake_run_command), \
            mock.patch.object(basic.AnsibleModule, 'get_bin_path', fake_bin), \
            mock.patch.object(hypervisor_facts, 'gather_facts',
                              lambda root='/', **kw: at_fixture_root(root, **kw)):
        with pytest.raises(SystemExit) as exc:
            hypervisor_facts.main()
    out = json.loads(capsys.readouterr().out)
    return exc.value.code, out, calls, seen_env


def test_main_returns_facts(capsys, tmp_path):
    rc, out, calls, env = run_module(capsys, tmp_path, {})
    assert rc == 0
    assert out['changed'] is False
    facts = out['ansible_facts']['hvsec']
    assert facts['schema_version'] == 1
    assert facts['iommu']['firmware_table'] == 'DMAR'
    assert facts['libvirt']['domains'][0]['name'] == 'guest1'
    assert facts['sshd']['effective']['permitrootlogin'] == 'without-password'
    assert len(calls) == 8     # seven tool commands, and sshd -T -C for root from outside
    assert facts['sshd']['connections'][0]['spec']['addr'] == '203.0.113.7'
    assert all(e == {'LANG': 'C', 'LC_ALL': 'C'} for e in env)


def test_main_passes_the_sshd_connections_of_interest(capsys, tmp_path):
    args = {'gather': ['sshd'], 'sshd_admin_cidrs': ['203.0.113.0/24'], 'sshd_users': ['admin'],
            'sshd_local_address': '10.0.2.15'}
    rc, out, calls, dummy = run_module(capsys, tmp_path, args)
    assert rc == 0
    specs = [c[3] for c in calls if c[1:3] == ['-T', '-C']]
    # the outside address avoids the administrator network; root and admin from each side
    assert specs == ['user=root,host=198.51.100.7,addr=198.51.100.7,laddr=10.0.2.15,lport=22',
                     'user=admin,host=198.51.100.7,addr=198.51.100.7,laddr=10.0.2.15,lport=22',
                     'user=root,host=203.0.113.1,addr=203.0.113.1,laddr=10.0.2.15,lport=22',
                     'user=admin,host=203.0.113.1,addr=203.0.113.1,laddr=10.0.2.15,lport=22']


def test_main_check_mode_same_result(capsys, tmp_path):
    rc, out, dummy, dummy2 = run_module(capsys, tmp_path, {}, check=True)
    assert rc == 0 and out['changed'] is False
    assert out['ansible_facts']['hvsec']['cpu']['vendor'] == 'GenuineIntel'


def test_main_gather_subset(capsys, tmp_path):
    rc, out, calls, dummy = run_module(capsys, tmp_path, {'gather': ['sshd', 'cpu']}, fixture='amd_vi')
    assert rc == 0
    facts = out['ansible_facts']['hvsec']
    assert 'iommu' not in facts and 'libvirt' not in facts
    assert facts['cpu']['vendor'] == 'AuthenticAMD'
    assert facts['sshd']['error'] == 'sshd: no hostkeys available -- exiting.'
    assert [os.path.basename(c[0]) for c in calls] == ['sshd']


def test_main_rejects_unknown_gather(capsys, tmp_path):
    rc, out, calls, dummy = run_module(capsys, tmp_path, {'gather': ['iommu', 'bogus']})
    assert rc == 1 and out['failed'] is True
    assert 'gather' in out['msg'] and 'bogus' in out['msg']
    assert calls == []


def test_main_on_this_host_never_fails(capsys):
    """The real probes against the machine running the tests: must not fail or raise."""
    with patch_module_args({'_ansible_check_mode': True}):
        with pytest.raises(SystemExit) as exc:
            hypervisor_facts.main()
    out = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0, out
    facts = out['ansible_facts']['hvsec']
    assert facts['cmdline']['raw'] is not None
    assert not [n for n in facts['notes'] if n['reason'].startswith('internal error')]
