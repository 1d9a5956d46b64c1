# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_security pinned whole: the result compared with reviewed JSON (fixtures/pinned/ovs_security_*.json),
the per-port anti-spoofing tables through nft (load, replace, delete, skip), the files and links
written with their modes, every command in order, persist false, and each message word for word.
From the survivors of `make mutation AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.modules import ovs_security
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import file_tree, matches, normalise, run_module

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch')
PORTS = [{'name': 'vo1', 'tag': 100, 'mac': '52:54:00:bb:00:01', 'ips': ['192.168.60.11', 'fd00::11']},
         {'name': 'vo2', 'tag': 100}, {'name': 'vo3', 'tag': 200}]
LAB = {'controllers': {'ovsbr1': ['punix:/run/openvswitch/ovsbr1.hvsec.ctl']}, 'allow_loopback_tcp': False,
       'ports': PORTS}


class Tools(object):
    def __init__(self, fixture='ovs_insecure.json', nft=True, tables=None, fail=None):
        self.calls = []
        self.nft = nft
        self.tables = tables or {}
        self.fail = fail or {}
        with open(os.path.join(FIX, fixture)) as f:
            self.db = f.read()

    def get_bin_path(self, name, *args, **kwargs):
        if name == 'nft' and not self.nft:
            return None
        return {'ovs-vsctl': '/usr/bin/ovs-vsctl', 'nft': '/usr/sbin/nft', 'systemctl': '/bin/systemctl'}.get(name)

    def run_command(self, args, *a, **kw):
        args = list(args)
        self.calls.append(args)
        line = ' '.join(args)
        for start, answer in self.fail.items():
            if line.startswith(start):
                return answer
        if '--format=json' in args:
            return 0, self.db, ''
        if line.startswith('/usr/sbin/nft list table netdev '):
            table = args[-1]
            return (0, self.tables[table], '') if table in self.tables else (1, '', 'Error: No such file or directory')
        return 0, '', ''


def _run(monkeypatch, capsys, tools, tmp_path, args, check_mode=False):
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', tools.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', tools.run_command)
    args = dict(args, config_dir=str(tmp_path / 'etc'), unit_dir=str(tmp_path / 'units'))
    return run_module(monkeypatch, capsys, ovs_security.main, args, check_mode=check_mode)


def _cmds(tools, tmp_path):
    return normalise([' '.join(c) for c in tools.calls if '--format=json' not in c], tmp_path)


def test_check_mode_result_whole(monkeypatch, capsys, tmp_path):
    tools = Tools()
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB, check_mode=True)
    assert matches('ovs_security_check', out, tmp_path)
    assert _cmds(tools, tmp_path) == ['/usr/sbin/nft list table netdev hvsec_port_vo1',
                                      '/usr/sbin/nft list table netdev hvsec_port_vo2',
                                      '/usr/sbin/nft list table netdev hvsec_port_vo3']
    assert file_tree(tmp_path) == {}


def test_run_commands_files_then_unchanged(monkeypatch, capsys, tmp_path):
    tools = Tools()
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB)
    assert out['_rc'] == 0 and out['changed'] is True
    assert matches('ovs_security_run_commands', _cmds(tools, tmp_path))
    assert matches('ovs_security_run_files', file_tree(tmp_path))
    digest = [line.strip() for line in file_tree(tmp_path)['etc/port-vo1.nft'][1].splitlines() if 'hvsec:' in line][0]
    tools = Tools('ovs_hardened.json', tables={'hvsec_port_vo1': 'table netdev hvsec_port_vo1 {\n\t%s\n}\n' % digest})
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB)
    assert out['changed'] is False and out['changes'] == [] and out['diff'] == [] and out['command'] == []
    assert set(out['controls'].values()) == {'pass'}
    # a table left behind by a port that no longer declares a MAC is deleted
    tools = Tools('ovs_hardened.json', tables={'hvsec_port_vo2': 'table netdev hvsec_port_vo2 {\n}\n',
                                               'hvsec_port_vo1': 'table netdev hvsec_port_vo1 {\n\t%s\n}\n' % digest})
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB)
    assert out['changes'] == [{'control': 'HVS-VSW-10', 'msg': 'vo2: delete anti-spoofing table'}]
    assert _cmds(tools, tmp_path)[-1] == '/usr/sbin/nft delete table netdev hvsec_port_vo2'


def test_persist_false_skip_and_no_mac(monkeypatch, capsys, tmp_path):
    tools = Tools()
    out = _run(monkeypatch, capsys, tools, tmp_path, dict(LAB, persist=False))
    assert sorted(file_tree(tmp_path)) == ['etc/port-vo1.nft']
    assert file_tree(tmp_path)['etc/port-vo1.nft'][0] == '0o600'
    # the nft file is a file written: systemd is reloaded after it too
    assert _cmds(tools, tmp_path)[-3:] == ['/usr/sbin/nft -c -f <tmp>/etc/port-vo1.nft',
                                           '/usr/sbin/nft -f <tmp>/etc/port-vo1.nft', 'systemctl daemon-reload']
    tools = Tools()
    out = _run(monkeypatch, capsys, tools, tmp_path / 's', dict(LAB, skip_controls=['HVS-VSW-10']), check_mode=True)
    assert [c for c in out['changes'] if c['control'] in ('HVS-VSW-10', 'persistence')] == []
    assert _cmds(tools, tmp_path) == []
    tools = Tools(nft=False)
    out = _run(monkeypatch, capsys, tools, tmp_path / 'n', dict(LAB, ports=[{'name': 'vo1', 'tag': 100}]),
               check_mode=True)
    assert out['_rc'] == 0 and _cmds(tools, tmp_path) == []


def test_messages(monkeypatch, capsys, tmp_path):
    out = _run(monkeypatch, capsys, Tools(fail={'/usr/bin/ovs-vsctl': (1, '', ' database connection failed \n')}),
               tmp_path, LAB)
    assert out['msg'] == 'cannot read the Open vSwitch database: database connection failed' and out['_rc'] == 1
    out = _run(monkeypatch, capsys, Tools(fail={'/usr/bin/ovs-vsctl': (0, '{"data": [', '')}), tmp_path, LAB)
    assert out['msg'].startswith('cannot parse ovs-vsctl output: ') and out['_rc'] == 1
    out = _run(monkeypatch, capsys, Tools(nft=False), tmp_path, LAB)
    assert out['msg'] == ('invalid Open vSwitch variables: hvsec_vswitch_ovs_ports: ports declare mac/ips but nft '
                          '(nftables) is not installed')
    assert out['errors'] == ['hvsec_vswitch_ovs_ports: ports declare mac/ips but nft (nftables) is not installed']
    bad = dict(LAB, ports=[PORTS[1], {'name': 'vo1', 'tag': 100, 'mac': 'zz', 'ips': ['x']}])
    out = _run(monkeypatch, capsys, Tools(), tmp_path, bad)
    assert out['errors'][0] == "hvsec_vswitch_ovs_ports[1] (vo1).mac: 'zz' is not a MAC address"
    assert len(out['errors']) == 2 and out['errors'][1].startswith('hvsec_vswitch_ovs_ports[1] (vo1).ips'), out['errors']
    assert out['msg'] == 'invalid Open vSwitch variables: ' + '; '.join(out['errors'])
    tools = Tools(fail={'/usr/bin/ovs-vsctl del-manager': (1, '', 'transaction error\n')})
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB)
    assert out['msg'] == 'ovs-vsctl transaction failed (nothing was changed): transaction error'
    assert file_tree(tmp_path) == {}
    tools = Tools(fail={'/usr/sbin/nft -c': (1, '', 'Error: x\n')})
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB)
    assert out['msg'] == 'generated nftables file %s/etc/port-vo1.nft does not validate: Error: x\n' % tmp_path
    tools = Tools(fail={'/usr/sbin/nft -f': (1, '', 'Error: y\n')})
    out = _run(monkeypatch, capsys, tools, tmp_path, LAB)
    assert out['msg'] == 'HVS-VSW-10: /usr/sbin/nft -f %s/etc/port-vo1.nft failed: Error: y' % tmp_path


def test_ssl_empty_values_are_dropped(monkeypatch, capsys, tmp_path):
    cert = tmp_path / 'c.pem'
    cert.write_text('x')
    out = _run(monkeypatch, capsys, Tools(), tmp_path, dict(LAB, ssl={'private_key': '', 'certificate': str(cert)}),
               check_mode=True)
    assert out['_rc'] == 1 and 'hvsec_vswitch_ovs_ssl' in out['msg']
    out = _run(monkeypatch, capsys, Tools(), tmp_path, dict(LAB, ssl={'private_key': None}), check_mode=True)
    assert out['_rc'] == 0


def test_nft_only_asked_for_ports_with_a_mac(monkeypatch, capsys, tmp_path):
    # no port declares a MAC: nft is not even looked up, so no table is listed or deleted
    tools = Tools(tables={'hvsec_port_vo2': 'table netdev hvsec_port_vo2 {\n}\n'})
    out = _run(monkeypatch, capsys, tools, tmp_path, dict(LAB, ports=PORTS[1:]), check_mode=True)
    assert out['_rc'] == 0 and _cmds(tools, tmp_path) == []
    # the MAC port after ports without one: its table is planned too (and the stale one deleted)
    ports = [PORTS[1], PORTS[2], PORTS[0]]
    tools = Tools(tables={'hvsec_port_vo2': 'table netdev hvsec_port_vo2 {\n}\n'})
    out = _run(monkeypatch, capsys, tools, tmp_path, dict(LAB, ports=ports), check_mode=True)
    assert [c for c in out['changes'] if c['control'] == 'HVS-VSW-10'] == [
        {'control': 'HVS-VSW-10', 'msg': 'vo2: delete anti-spoofing table'},
        {'control': 'HVS-VSW-10', 'msg': 'vo1: load anti-spoofing table netdev hvsec_port_vo1'}]


def test_no_ovs_result_whole(monkeypatch, capsys, tmp_path):
    tools = Tools()
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', lambda self, name, *a, **k: None)
    monkeypatch.setattr(AnsibleModule, 'run_command', tools.run_command)
    out = run_module(monkeypatch, capsys, ovs_security.main, dict(LAB, config_dir=str(tmp_path)))
    assert out == {'_rc': 0, 'changed': False, 'changes': [], 'command': [], 'loopback_tcp': [], 'diff': [],
                   'controls': dict((c, 'not_applicable') for c in ovs_security.CONTROLS), 'warnings': []}
    assert tools.calls == []
