# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_security pinned whole: the result (changes, diff, controls) compared with reviewed JSON
(fixtures/pinned/bridge_security_*.json), every command run in order, every file written with its
mode and content, the sysfs/procfs paths read, the anti-spoofing table loaded, replaced or deleted
through nft, persist false, and each message word for word. From the survivors of
`make mutation AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.modules import bridge_security
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_runner import VswitchRunner
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.modules.pinned import file_tree, matches, normalise, run_module

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch')
PORTS = [{'name': 'vg1', 'vlans': [100], 'mac': '52:54:00:aa:00:01', 'ips': ['192.168.50.11']},
         {'name': 'vg2', 'vlans': [100, 101], 'pvid': 100},
         {'name': 'vg3', 'vlans': [200]}]
READS = ('ip -j -d link show', 'ip -j addr show', 'bridge -j vlan show', 'ip -j route show default')


class Host(object):
    """iproute2 answers from the fixtures, nft with a table listing, sysfs/procfs from a dict
    (a path not in it reads as absent)."""

    def __init__(self, kind='insecure', nft=True, table='', fail=None, missing=()):
        self.kind = kind
        self.nft = nft
        self.table = table
        self.fail = fail or {}
        self.missing = missing
        self.calls = []
        hardened = kind == 'hardened'
        self.values = {
            '/sys/class/net/br-guest/bridge/vlan_filtering': 1 if hardened else 0,
            '/proc/sys/net/ipv6/conf/br-guest/autoconf': 0 if hardened else 1,
            '/proc/sys/net/ipv6/conf/br-guest/accept_ra': 0 if hardened else 2,
            '/proc/sys/net/ipv6/conf/br-guest/disable_ipv6': 1 if hardened else 0,
            '/proc/sys/net/ipv4/conf/br-guest/proxy_arp': 0 if hardened else 1,
            '/sys/class/net/vg1/brport/proxyarp': 0 if hardened else 1,
            '/sys/class/net/vg1/brport/proxyarp_wifi': 0,
            '/sys/class/net/vg2/brport/proxyarp': 0,
            '/sys/class/net/vg2/brport/proxyarp_wifi': 0 if hardened else 1,
            '/sys/class/net/vg3/brport/proxyarp': 0,
            '/sys/class/net/vg3/brport/proxyarp_wifi': 0,
        }

    def _fix(self, name):
        with open(os.path.join(FIX, name)) as f:
            return f.read()

    def read_int(self, path):
        return self.values.get(path)

    def get_bin_path(self, name, *a, **kw):
        if name in self.missing or (name == 'nft' and not self.nft):
            return None
        return '/usr/sbin/' + name

    def run_command(self, args, *a, **kw):
        args = list(args)
        self.calls.append(args)
        key = ' '.join(args)
        for start, answer in self.fail.items():
            if key.startswith(start):
                return answer
        if key == 'ip -j -d link show':
            return 0, self._fix('ip_link_insecure.json'), ''
        if key == 'ip -j addr show':
            return 0, self._fix('ip_addr_%s.json' % self.kind), ''
        if key == 'bridge -j vlan show':
            return 0, self._fix('bridge_vlan_%s.json' % self.kind), ''
        if key == 'ip -j route show default':
            return 0, '[{"dst":"default","gateway":"10.0.2.2","dev":"mgmt0","protocol":"dhcp","flags":[]}]', ''
        if key.startswith('/usr/sbin/nft list table bridge '):
            return (0, self.table, '') if self.table else (1, '', 'Error: No such file or directory')
        return 0, '', ''


def _run(monkeypatch, capsys, host, tmp_path, check_mode=False, **params):
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', host.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', host.run_command)
    monkeypatch.setattr(bridge_security, 'read_int', host.read_int)
    monkeypatch.setattr(VswitchRunner, 'write_value', lambda self, control, path, value: host.calls.append(
        ['write', control, path, value]))
    monkeypatch.delenv('SSH_CONNECTION', raising=False)
    args = {'bridges': [{'name': 'br-guest', 'ports': PORTS}],
            'config_dir': str(tmp_path / 'etc'), 'unit_dir': str(tmp_path / 'units')}
    args.update(params)
    return run_module(monkeypatch, capsys, bridge_security.main, args, check_mode=check_mode)


def _cmds(host):
    calls = [' '.join(a.decode() if isinstance(a, bytes) else a for a in c) for c in host.calls]
    return [c for c in calls if c not in READS]


def test_check_mode_result_whole(monkeypatch, capsys, tmp_path):
    host = Host()
    out = _run(monkeypatch, capsys, host, tmp_path, check_mode=True)
    assert matches('bridge_security_check', out, tmp_path)
    assert _cmds(host) == ['/usr/sbin/nft list table bridge hvsec_br_guest']
    assert not os.path.exists(str(tmp_path / 'etc'))


def test_run_commands_and_files_whole(monkeypatch, capsys, tmp_path):
    host = Host()
    out = _run(monkeypatch, capsys, host, tmp_path)
    assert out['_rc'] == 0 and out['changed'] is True
    assert matches('bridge_security_run_commands', normalise(_cmds(host), tmp_path))
    assert matches('bridge_security_run_files', file_tree(tmp_path))
    # the same result as check mode predicted
    check = _run(monkeypatch, capsys, Host(), tmp_path / 'x', check_mode=True)
    assert normalise(check, tmp_path / 'x') == normalise(out, tmp_path)


def test_hardened_host_with_the_table_loaded_is_unchanged(monkeypatch, capsys, tmp_path):
    hardened = [{'bridges': [{'name': 'br-guest', 'ports': [PORTS[0], {'name': 'vg2', 'vlans': [100]}, PORTS[2]]}]}]
    out = _run(monkeypatch, capsys, Host(), tmp_path, **hardened[0])
    digest = [line for line in file_tree(tmp_path)['etc/bridge-br-guest.nft'][1].splitlines() if 'hvsec:' in line]
    table = 'table bridge hvsec_br_guest {\n%s\n}\n' % digest[0]
    host = Host('hardened', table=table)
    out = _run(monkeypatch, capsys, host, tmp_path, **hardened[0])
    assert out['changes'] == [], out['changes']
    assert out['changed'] is False and out['diff'] == []
    assert out['controls'] == {'HVS-VSW-01': 'pass', 'HVS-VSW-02': 'pass', 'HVS-VSW-03': 'pass', 'HVS-VSW-04': 'pass'}
    assert _cmds(host) == ['/usr/sbin/nft list table bridge hvsec_br_guest']
    # no port declares a MAC any more: the loaded table is deleted with the nft file (it was left
    # loaded, with the old MAC rules, until a reboot)
    ports = [dict((k, v) for k, v in p.items() if k not in ('mac', 'ips')) for p in PORTS]
    host = Host('hardened', table=table)
    out = _run(monkeypatch, capsys, host, tmp_path, check_mode=True, bridges=[{'name': 'br-guest', 'ports': ports}])
    assert matches('bridge_security_delete_table', out, tmp_path)
    assert {'control': 'HVS-VSW-10', 'msg': 'br-guest: delete anti-spoofing table bridge hvsec_br_guest (no port '
            'declares a MAC)'} in out['changes']
    assert _cmds(host) == ['/usr/sbin/nft list table bridge hvsec_br_guest']
    host = Host('hardened', table=table)
    out = _run(monkeypatch, capsys, host, tmp_path, bridges=[{'name': 'br-guest', 'ports': ports}])
    assert '/usr/sbin/nft delete table bridge hvsec_br_guest' in _cmds(host)


def test_no_mac_no_nft_and_persist_false(monkeypatch, capsys, tmp_path):
    ports = [dict((k, v) for k, v in p.items() if k not in ('mac', 'ips')) for p in PORTS]
    host = Host(nft=False)
    out = _run(monkeypatch, capsys, host, tmp_path, persist=False, bridges=[{'name': 'br-guest', 'ports': ports}])
    assert matches('bridge_security_persist_false', out, tmp_path)
    assert matches('bridge_security_persist_false_commands', _cmds(host))
    assert file_tree(tmp_path) == {}
    # persist false with a MAC: the nft file is still written, nothing else
    host = Host()
    out = _run(monkeypatch, capsys, host, tmp_path, persist=False)
    assert sorted(file_tree(tmp_path)) == ['etc/bridge-br-guest.nft']
    assert file_tree(tmp_path)['etc/bridge-br-guest.nft'][0] == '0o600'
    assert [c for c in _cmds(host) if 'nft' in c] == [
        '/usr/sbin/nft list table bridge hvsec_br_guest',
        '/usr/sbin/nft -c -f %s/etc/bridge-br-guest.nft' % tmp_path,
        '/usr/sbin/nft -f %s/etc/bridge-br-guest.nft' % tmp_path]
    assert 'systemctl daemon-reload' not in _cmds(host)


def test_messages(monkeypatch, capsys, tmp_path):
    out = _run(monkeypatch, capsys, Host(), tmp_path, bridges=[])
    assert out['controls'] == dict((c, 'not_applicable') for c in bridge_security.CONTROLS) and out['_rc'] == 0
    for tool in ('ip', 'bridge'):
        out = _run(monkeypatch, capsys, Host(missing=(tool,)), tmp_path)
        assert out['msg'] == '%s (iproute2) is not installed but hvsec_vswitch_bridges declares bridges' % tool
    out = _run(monkeypatch, capsys, Host(), tmp_path, bridges=[{'name': 'br-guest', 'ports': [{'name': 'vg1'}]},
                                                               {'name': 'br-missing', 'ports': []}])
    assert out['msg'] == 'invalid hvsec_vswitch_bridges: ' + '; '.join(out['errors']) and len(out['errors']) == 2
    out = _run(monkeypatch, capsys, Host(nft=False), tmp_path)
    assert out['msg'] == ('invalid hvsec_vswitch_bridges: hvsec_vswitch_bridges: ports declare mac/ips but nft '
                          '(nftables) is not installed')
    assert out['errors'] == ['hvsec_vswitch_bridges: ports declare mac/ips but nft (nftables) is not installed']
    out = _run(monkeypatch, capsys, Host(fail={'ip -j addr show': (1, '', 'Cannot talk to rtnetlink\n')}), tmp_path)
    assert out['msg'] == 'ip -j addr show failed: Cannot talk to rtnetlink' and out['_rc'] == 1
    out = _run(monkeypatch, capsys, Host(fail={'bridge -j vlan show': (0, '[{', '')}), tmp_path)
    assert out['msg'].startswith('cannot parse iproute2 JSON output: ') and out['_rc'] == 1
    # no default route answer: nothing leaves through br-guest, no lockout
    out = _run(monkeypatch, capsys, Host(fail={'ip -j route': (1, '', 'x')}), tmp_path, check_mode=True)
    assert out['_rc'] == 0 and out['changed'] is True
    out = _run(monkeypatch, capsys, Host(fail={'ip -j route': (0, '{bad', '')}), tmp_path, check_mode=True)
    assert out['_rc'] == 0
    out = _run(monkeypatch, capsys, Host(fail={'ip -j route': (0, '[{"dst":"default","dev":"br-guest"}]', '')}),
               tmp_path, check_mode=True)
    assert out['msg'] == ('hvsec_vswitch_bridges: bridge br-guest is declared guest_only but the default route leaves '
                          'through it; removing its addresses would cut the host off. Set guest_only: false or move the route')
    monkeypatch.setenv('SSH_CONNECTION', '10.0.2.2 50000 192.168.50.1 22')
    monkeypatch.setattr(AnsibleModule, 'run_command', Host().run_command)
    out = run_module(monkeypatch, capsys, bridge_security.main,
                     {'bridges': [{'name': 'br-guest', 'ports': PORTS}], 'config_dir': str(tmp_path)}, check_mode=True)
    assert out['msg'].startswith('hvsec_vswitch_bridges: bridge br-guest is declared guest_only but carries 192.168.50.1,')
    host = Host(fail={'/usr/sbin/nft -f': (1, '', 'Error: syntax\n')})
    out = _run(monkeypatch, capsys, host, tmp_path)
    assert out['msg'] == 'HVS-VSW-10: /usr/sbin/nft -f %s/etc/bridge-br-guest.nft failed: Error: syntax' % tmp_path
    host = Host(fail={'/usr/sbin/nft -c': (1, '', 'Error: bad\n')})
    out = _run(monkeypatch, capsys, host, tmp_path)
    assert out['msg'] == 'generated nftables file %s/etc/bridge-br-guest.nft does not validate: Error: bad\n' % tmp_path


def test_waived_controls(monkeypatch, capsys, tmp_path):
    out = _run(monkeypatch, capsys, Host(), tmp_path, check_mode=True,
               skip_controls=['HVS-VSW-01', 'HVS-VSW-02', 'HVS-VSW-03', 'HVS-VSW-04'])
    assert out['controls'] == {'HVS-VSW-01': 'waived', 'HVS-VSW-02': 'waived', 'HVS-VSW-03': 'waived',
                               'HVS-VSW-04': 'waived'}
    assert sorted(set(c['control'] for c in out['changes'])) == ['HVS-VSW-10', 'persistence']


def test_delete_table_of_a_bridge_without_mac_ports(monkeypatch, capsys, tmp_path):
    """A table left loaded on a bridge whose ports declare no MAC is deleted, also when another
    bridge still declares one (with no MAC anywhere: test_hardened_host_with_the_table_loaded_is_unchanged)."""
    import json as _json

    class TwoBridges(Host):
        def _fix(self, name):
            text = Host._fix(self, name)
            if name == 'ip_link_insecure.json':
                links = _json.loads(text)
                links.append({'ifindex': 40, 'ifname': 'br-two', 'address': '5e:0f:c3:4d:a1:40',
                              'linkinfo': {'info_kind': 'bridge'}})
                links.append({'ifindex': 41, 'ifname': 'vt1', 'master': 'br-two', 'address': '7a:91:25:0d:4b:01',
                              'linkinfo': {'info_kind': 'veth'}})
                text = _json.dumps(links)
            return text
    bridges = [{'name': 'br-guest', 'ports': PORTS},
               {'name': 'br-two', 'guest_only': False, 'vlan_filtering': False, 'ports': [{'name': 'vt1', 'vlans': [300]}]}]
    host = TwoBridges(table='table bridge hvsec_br_two {\n}\n', fail={'/usr/sbin/nft delete': (1, '', 'Error: busy\n')})
    out = _run(monkeypatch, capsys, host, tmp_path, check_mode=True, bridges=bridges)
    assert 'msg' not in out, out['msg']
    assert {'control': 'HVS-VSW-10', 'msg': 'br-two: delete anti-spoofing table bridge hvsec_br_two (no port '
            'declares a MAC)'} in out['changes']
    out = _run(monkeypatch, capsys, host, tmp_path, persist=False, bridges=bridges)
    assert out['msg'] == 'HVS-VSW-10: /usr/sbin/nft delete table bridge hvsec_br_two failed: Error: busy'


def test_daemon_reload_only_when_a_unit_or_link_changes(monkeypatch, capsys, tmp_path):
    _run(monkeypatch, capsys, Host(), tmp_path)
    # only the nft file changes (another MAC): the unit and its links are the same, no reload
    ports = [dict(PORTS[0], mac='52:54:00:aa:00:09')] + PORTS[1:]
    host = Host()
    out = _run(monkeypatch, capsys, host, tmp_path, bridges=[{'name': 'br-guest', 'ports': ports}])
    assert [c['msg'] for c in out['changes'] if c['control'] == 'persistence'] == ['write %s/etc/bridge-br-guest.nft'
                                                                                   % tmp_path]
    assert 'systemctl daemon-reload' not in _cmds(host)
    # only the unit changes (its script moved with config_dir), the links exist: reload
    host = Host()
    out = _run(monkeypatch, capsys, host, tmp_path, bridges=[{'name': 'br-guest', 'ports': ports}],
               config_dir=str(tmp_path / 'etc2'))
    assert '%s/units/hvsec-vswitch-br-guest.service' % tmp_path in [
        c['msg'][len('write '):] for c in out['changes'] if c['control'] == 'persistence']
    assert not [c for c in out['changes'] if c['control'] == 'persistence' and '.wants/' in c['msg']]
    assert _cmds(host)[-1] == 'systemctl daemon-reload'


def test_a_link_to_another_unit_is_replaced(monkeypatch, capsys, tmp_path):
    _run(monkeypatch, capsys, Host(), tmp_path)
    link = tmp_path / 'units' / 'multi-user.target.wants' / 'hvsec-vswitch-br-guest.service'
    os.unlink(str(link))
    os.symlink('/lib/systemd/system/other.service', str(link))
    host = Host()
    out = _run(monkeypatch, capsys, host, tmp_path)
    assert [c['msg'] for c in out['changes'] if c['control'] == 'persistence'] == ['write %s' % link]
    assert os.readlink(str(link)) == str(tmp_path / 'units' / 'hvsec-vswitch-br-guest.service')
    assert _cmds(host)[-1] == 'systemctl daemon-reload'


def test_persist_false_reports_the_nft_file(monkeypatch, capsys, tmp_path):
    out = _run(monkeypatch, capsys, Host(), tmp_path, persist=False, check_mode=True)
    nft = '%s/etc/bridge-br-guest.nft' % tmp_path
    assert [c for c in out['changes'] if c['control'] == 'persistence'] == [{'control': 'persistence',
                                                                             'msg': 'write %s' % nft}]
    assert [d['before_header'] for d in out['diff']] == [nft, 'runtime']
