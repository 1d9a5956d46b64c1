# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts pinned: what main() hands gather_facts (the root, the probes, the sshd options),
how its run_command and get_bin_path call AnsibleModule (C locale, the sbin directories), and the
console passwords of qemu.conf masked in the output. From the survivors of `make mutation
AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.modules import hypervisor_facts
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import run_module


def test_gather_facts_arguments_and_callbacks(monkeypatch, capsys):
    seen = {}
    calls = []

    def gather(**kwargs):
        seen.update(kwargs)
        kwargs['run_command'](['sshd', '-T'])
        kwargs['get_bin_path']('nft')
        return {'host': {'name': 'h'}, 'libvirt': {'config': {'qemu': {'vnc_password': 'Vnc-S3cret'}, 'odd': 'x'}}}
    monkeypatch.setattr(hypervisor_facts, 'gather_facts', gather)
    monkeypatch.setattr(AnsibleModule, 'run_command', lambda self, args, **kw: calls.append(('run', args, kw)) or (0, '', ''))
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', lambda self, name, *a, **kw: calls.append(('bin', name, a, kw)))
    out = run_module(monkeypatch, capsys, hypervisor_facts.main,
                     {'gather': ['cpu', 'sshd'], 'sshd_admin_cidrs': ['10.0.0.0/8'], 'sshd_users': ['admin'],
                      'sshd_local_address': '10.0.0.5'})
    assert sorted(seen) == ['gather', 'get_bin_path', 'root', 'run_command', 'sshd_options']
    assert seen['root'] == '/' and seen['gather'] == ['cpu', 'sshd']
    assert seen['sshd_options'] == {'admin_cidrs': ['10.0.0.0/8'], 'users': ['admin'], 'local_address': '10.0.0.5'}
    assert calls == [('run', ['sshd', '-T'], {'environ_update': {'LANG': 'C', 'LC_ALL': 'C'}}),
                     ('bin', 'nft', (), {'required': False, 'opt_dirs': ['/usr/sbin', '/sbin', '/usr/local/sbin']})]
    assert out['changed'] is False and out['_rc'] == 0
    assert 'Vnc-S3cret' not in json.dumps(out)
    assert out['ansible_facts']['hvsec']['host'] == {'name': 'h'}


def test_defaults(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(hypervisor_facts, 'gather_facts', lambda **kw: seen.update(kw) or {})
    out = run_module(monkeypatch, capsys, hypervisor_facts.main, {})
    assert seen['gather'] == ['all'] and seen['sshd_options'] == {'admin_cidrs': [], 'users': [], 'local_address': ''}
    assert out['ansible_facts'] == {'hvsec': {}}
