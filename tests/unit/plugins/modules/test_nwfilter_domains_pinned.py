# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nwfilter_domains pinned whole: every virsh command with its arguments, the result (controls,
changes, diff, domains), the warnings and messages word for word, HVS-VSW-12 on a Linux bridge
(br_netfilter files and /proc values in a temporary directory), live updates of a running guest.
Written from the survivors of `make mutation AREA=modules` (docs/testing.md)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hvsec.hypervisor.plugins.modules import nwfilter_domains

FIX = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'vswitch')
NET_XML = "<network><name>default</name><bridge name='virbr0' stp='on'/></network>"
BASE = ['/usr/bin/virsh', '-q', '-c', 'qemu:///system']


def _read(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


class Host(object):
    """virsh, iptables and modprobe answered from memory; every command recorded."""

    def __init__(self, running=('hvsec-guest1',), forward='-P FORWARD ACCEPT\n', fail=None, iptables=True):
        self.xml = _read('domain_guest1.xml')
        self.filters = _read('nwfilter_list.txt')
        self.running = list(running)
        self.forward = forward
        self.fail = fail or {}
        self.iptables = iptables
        self.calls = []
        self.defined = []
        self.updates = []

    def get_bin_path(self, name, *a, **kw):
        if name == 'iptables' and not self.iptables:
            return None
        return {'virsh': '/usr/bin/virsh', 'iptables': '/usr/sbin/iptables'}.get(name)

    def run_command(self, args, *a, **kw):
        args = list(args)
        self.calls.append(args)
        line = ' '.join(args[4:]) if args[:1] == ['/usr/bin/virsh'] else ' '.join(args)
        for start, answer in self.fail.items():
            if line.startswith(start):
                return answer
        if args[0] == '/usr/sbin/iptables':
            return 0, self.forward, ''
        if args[0] != '/usr/bin/virsh':
            return 0, '', ''
        sub = args[4:]
        if sub == ['list', '--all', '--name']:
            return 0, 'hvsec-guest1\n\n', ''
        if sub == ['list', '--name']:
            return 0, ''.join(n + '\n' for n in self.running), ''
        if sub == ['nwfilter-list']:
            return 0, self.filters, ''
        if sub == ['dumpxml', '--inactive', '--security-info', 'hvsec-guest1']:
            return 0, self.xml, ''
        if sub == ['net-dumpxml', 'default']:
            return 0, NET_XML, ''
        if sub[:1] == ['define']:
            with open(sub[1]) as f:
                self.xml = f.read()
            self.defined.append(self.xml)
            return 0, '', ''
        if sub[:1] == ['update-device']:
            with open(sub[2]) as f:
                self.updates.append(f.read())
            return 0, '', ''
        raise AssertionError('unexpected command %s' % args)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """MODLOAD, SYSCTL and the /proc values in tmp_path; br-guest is a Linux bridge, virbr0 is not."""
    proc = tmp_path / 'proc'
    proc.mkdir()
    for k in ('iptables', 'ip6tables'):
        (proc / ('bridge-nf-call-' + k)).write_text('0\n')
    monkeypatch.setattr(nwfilter_domains, 'MODLOAD', str(tmp_path / 'modules-load.d' / 'hvsec-br_netfilter.conf'))
    monkeypatch.setattr(nwfilter_domains, 'SYSCTL', str(tmp_path / 'sysctl.d' / '90-hvsec-bridge-nf.conf'))
    monkeypatch.setattr(nwfilter_domains, 'NF', str(proc / 'bridge-nf-call-%s'))
    (tmp_path / 'modules-load.d').mkdir()
    (tmp_path / 'sysctl.d').mkdir()
    real_isdir = os.path.isdir
    monkeypatch.setattr(nwfilter_domains.os.path, 'isdir',
                        lambda p: p == '/sys/class/net/br-guest/bridge' or (not p.startswith('/sys/') and real_isdir(p)))
    return tmp_path


def _run(monkeypatch, capsys, host, check_mode=False, **params):
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', host.get_bin_path)
    monkeypatch.setattr(AnsibleModule, 'run_command', host.run_command)
    warnings = []
    monkeypatch.setattr(AnsibleModule, 'warn', lambda self, w, *a, **k: warnings.append(w))
    params.update(_ansible_check_mode=check_mode, _ansible_diff=True)
    with patch_module_args(params):
        with pytest.raises(SystemExit) as exc:
            nwfilter_domains.main()
    out = json.loads(capsys.readouterr().out)
    out.pop('invocation', None)
    out['warnings'] = warnings      # the texts given to warn() in this run (earlier tests may leave theirs)
    out['_rc'] = exc.value.code
    return out


def _cmds(host):
    return [' '.join(c[4:]) if c[0] == '/usr/bin/virsh' else ' '.join(c) for c in host.calls]


HARDENED_IFACES = [
    {'mac': '52:54:00:50:00:21', 'type': 'bridge', 'source': 'br-guest', 'filterref': 'clean-traffic', 'mode': None},
    {'mac': '52:54:00:50:00:22', 'type': 'direct', 'source': 'vg3', 'filterref': None, 'mode': 'vepa'},
    {'mac': '52:54:00:50:00:23', 'type': 'network', 'source': 'default', 'filterref': 'clean-traffic', 'mode': None},
    {'mac': '52:54:00:50:00:24', 'type': 'user', 'source': None, 'filterref': None, 'mode': None},
]
CHANGES = [
    {'control': 'HVS-VSW-10', 'msg': 'hvsec-guest1: interface 0 (bridge br-guest, mac 52:54:00:50:00:21): add filterref clean-traffic'},
    {'control': 'HVS-VSW-11', 'msg': 'hvsec-guest1: interface 1 (direct vg3, mac 52:54:00:50:00:22): macvtap mode bridge -> vepa'},
    {'control': 'HVS-VSW-10', 'msg': 'hvsec-guest1: interface 2 (network default, mac 52:54:00:50:00:23): '
                                     'filterref no-mac-spoofing -> clean-traffic'},
]
NF_MSG = ('br_netfilter loaded, bridge-nf-call-ip(6)tables = 1, persisted in %s and %s (bridges br-guest)')
MODLOAD_TEXT = '# Managed by hvsec.hypervisor.nwfilter_domains (HVS-VSW-12)\nbr_netfilter\n'
SYSCTL_TEXT = ('# Managed by hvsec.hypervisor.nwfilter_domains (HVS-VSW-12)\n'
               'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n')


def test_constants():
    assert nwfilter_domains.MODLOAD_TEXT == MODLOAD_TEXT and nwfilter_domains.SYSCTL_TEXT == SYSCTL_TEXT
    assert nwfilter_domains.CONTROLS == ('HVS-VSW-10', 'HVS-VSW-11', 'HVS-VSW-12')


def _summaries(out):
    return [dict((k, s.get(k)) for k in ('mac', 'type', 'source', 'filterref', 'mode')) for s in out['domains']['hvsec-guest1']]


def test_check_mode_plans_everything_and_runs_nothing(monkeypatch, capsys, files):
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True)
    modload, sysctl = nwfilter_domains.MODLOAD, nwfilter_domains.SYSCTL
    assert out['_rc'] == 0 and out['changed'] is True
    assert out['controls'] == {'HVS-VSW-10': 'fixed', 'HVS-VSW-11': 'fixed', 'HVS-VSW-12': 'fixed'}
    assert out['changes'] == CHANGES + [{'control': 'HVS-VSW-12', 'msg': NF_MSG % (modload, sysctl)}]
    assert out['changes'][-1] == {'control': 'HVS-VSW-12', 'msg': NF_MSG % (modload, sysctl)}
    assert _summaries(out) == HARDENED_IFACES
    assert [d['before_header'] for d in out['diff']] == ['domain hvsec-guest1', modload, sysctl]
    assert [d['after_header'] for d in out['diff']] == ['domain hvsec-guest1', modload, sysctl]
    # the definition as virsh printed it, the console password masked
    assert out['diff'][0]['before'] == _read('domain_guest1.xml').replace("passwd='s3cret'", "passwd='********'")
    assert 's3cret' not in json.dumps(out)
    assert "<filterref filter=\"clean-traffic\"" in out['diff'][0]['after']
    assert out['diff'][1:] == [
        {'before_header': modload, 'after_header': modload, 'before': '', 'after': MODLOAD_TEXT},
        {'before_header': sysctl, 'after_header': sysctl, 'before': '', 'after': SYSCTL_TEXT}]
    assert _cmds(host) == ['list --all --name', 'list --name', 'nwfilter-list',
                           'dumpxml --inactive --security-info hvsec-guest1', 'net-dumpxml default',
                           '/usr/sbin/iptables -S FORWARD']
    assert host.defined == [] and not os.path.exists(modload)
    assert out['warnings'] == []


def test_run_defines_updates_live_and_sets_up_br_netfilter(monkeypatch, capsys, files):
    host = Host()
    out = _run(monkeypatch, capsys, host)
    modload, sysctl = nwfilter_domains.MODLOAD, nwfilter_domains.SYSCTL
    assert out['_rc'] == 0 and out['changed'] is True and out['warnings'] == []
    cmds = _cmds(host)
    assert cmds[:6] == ['list --all --name', 'list --name', 'nwfilter-list',
                        'dumpxml --inactive --security-info hvsec-guest1', 'net-dumpxml default',
                        '/usr/sbin/iptables -S FORWARD']
    assert re.match(r'^define /\S+/hvsec-dom-\w+\.xml$', cmds[6]), cmds[6]
    path = cmds[6].split()[1]
    assert cmds[7:] == ['update-device hvsec-guest1 %s --live' % path] * 3 + ['modprobe br_netfilter']
    assert not os.path.exists(path)
    # the console password is defined back (--security-info) and hidden in the diff only
    assert len(host.defined) == 1 and 'passwd="s3cret"' in host.defined[0]
    assert host.defined[0].replace('s3cret', '********') == out['diff'][0]['after']
    assert len(host.updates) == 3 and all(u.startswith('<interface') for u in host.updates)
    assert 'clean-traffic' in host.updates[0] and "vepa" in host.updates[1]
    with open(modload) as f:
        assert f.read() == MODLOAD_TEXT
    with open(sysctl) as f:
        assert f.read() == SYSCTL_TEXT
    for k in ('iptables', 'ip6tables'):
        with open(nwfilter_domains.NF % k) as f:
            assert f.read() == '1'
    # run again: the guest is hardened, the files and values are in place
    host.calls = []
    out = _run(monkeypatch, capsys, host)
    assert out['changed'] is False and out['changes'] == [] and out['diff'] == []
    assert out['controls'] == {'HVS-VSW-10': 'pass', 'HVS-VSW-11': 'pass', 'HVS-VSW-12': 'pass'}
    assert _cmds(host) == ['list --all --name', 'list --name', 'nwfilter-list',
                           'dumpxml --inactive --security-info hvsec-guest1', 'net-dumpxml default']


def test_stale_files_are_backed_up_and_rewritten(monkeypatch, capsys, files):
    modload, sysctl = nwfilter_domains.MODLOAD, nwfilter_domains.SYSCTL
    with open(modload, 'w') as f:
        f.write('old\n')
    for k in ('iptables', 'ip6tables'):
        with open(nwfilter_domains.NF % k, 'w') as f:
            f.write('1\n')
    host = Host(running=())
    out = _run(monkeypatch, capsys, host)
    assert out['changed'] is True
    cmds = _cmds(host)
    # the runtime values are 1: iptables is not asked; no running guest: no live update
    assert '/usr/sbin/iptables -S FORWARD' not in cmds
    assert [c for c in cmds if c.startswith('update-device')] == []
    assert cmds[-1] == 'modprobe br_netfilter'
    with open(modload) as f:
        assert f.read() == MODLOAD_TEXT
    backups = [n for n in os.listdir(os.path.dirname(modload)) if n != os.path.basename(modload)]
    assert len(backups) == 1
    with open(os.path.join(os.path.dirname(modload), backups[0])) as f:
        assert f.read() == 'old\n'
    assert os.listdir(os.path.dirname(sysctl)) == [os.path.basename(sysctl)]


def test_live_false_and_a_failed_live_update(monkeypatch, capsys, files):
    host = Host()
    _run(monkeypatch, capsys, host, live=False, enforce=False)
    assert [c for c in _cmds(host) if c.startswith('update-device')] == []
    host = Host(fail={'update-device hvsec-guest1': (1, '', 'error: device busy')})
    out = _run(monkeypatch, capsys, host, enforce=False)
    assert out['_rc'] == 0
    assert out['warnings'] == ['domain hvsec-guest1: the definition is changed but the running guest could not be '
                               'updated live; it takes effect at the next start']
    assert out['controls'] == {'HVS-VSW-10': 'pass', 'HVS-VSW-11': 'fixed', 'HVS-VSW-12': 'not_applicable'}
    assert 'nwfilter-list' not in _cmds(host)


def test_forward_drop_refuses_hvs_vsw_12(monkeypatch, capsys, files):
    host = Host(forward='-P FORWARD DROP\n-A FORWARD -j LIBVIRT_FWX\n')
    out = _run(monkeypatch, capsys, host, check_mode=True)
    assert out['controls'] == {'HVS-VSW-10': 'fixed', 'HVS-VSW-11': 'fixed', 'HVS-VSW-12': 'fail'}
    assert out['warnings'] == [
        'HVS-VSW-12 not applied: the iptables FORWARD policy is DROP, so enabling bridge-nf-call-iptables would '
        'cut bridged guests (br-guest) off. Allow the bridged traffic in FORWARD first.']
    assert out['changes'] == CHANGES
    assert len(out['diff']) == 1
    # iptables failing is not a DROP policy; no iptables at all either
    for host in (Host(forward='-P FORWARD DROP\n', fail={'/usr/sbin/iptables -S': (1, '-P FORWARD DROP\n', 'x')}),
                 Host(forward='-P FORWARD DROP\n', iptables=False)):
        out = _run(monkeypatch, capsys, host, check_mode=True)
        assert out['controls']['HVS-VSW-12'] == 'fixed' and out['warnings'] == []


def test_skip_and_enforce(monkeypatch, capsys, files):
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True, skip_controls=['HVS-VSW-12', 'HVS-VSW-10'])
    assert out['controls'] == {'HVS-VSW-10': 'waived', 'HVS-VSW-11': 'fixed', 'HVS-VSW-12': 'waived'}
    assert 'nwfilter-list' not in _cmds(host) and len(out['diff']) == 1
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True, macvtap_isolation=False, macvtap_mode='private')
    assert out['controls'] == {'HVS-VSW-10': 'fixed', 'HVS-VSW-11': 'pass', 'HVS-VSW-12': 'fixed'}
    assert _summaries(out)[1]['mode'] == 'bridge'
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True, macvtap_mode='private', uri='qemu+ssh://h/system')
    assert _summaries(out)[1]['mode'] == 'private'
    assert host.calls[0] == ['/usr/bin/virsh', '-q', '-c', 'qemu+ssh://h/system', 'list', '--all', '--name']


def test_messages(monkeypatch, capsys, files):
    out = _run(monkeypatch, capsys, Host(), nwfilter='bad name')
    assert out['msg'] == "hvsec_vswitch_nwfilter: 'bad name' is not a valid nwfilter name" and out['_rc'] == 1
    host = Host()
    host.filters = ''
    out = _run(monkeypatch, capsys, host)
    assert out['msg'] == 'hvsec_vswitch_nwfilter: nwfilter clean-traffic does not exist (virsh nwfilter-list: none)'
    out = _run(monkeypatch, capsys, Host(), nwfilter='mine')
    assert out['msg'] == ('hvsec_vswitch_nwfilter: nwfilter mine does not exist (virsh nwfilter-list: '
                          'allow-arp, allow-dhcp, clean-traffic, no-mac-spoofing)')
    host = Host(fail={'list --all': (1, '', 'error: failed to connect\n')})
    out = _run(monkeypatch, capsys, host)
    assert out['_rc'] == 0 and out['changed'] is False
    assert out['warnings'] == ['libvirt is installed but qemu:///system does not answer: error: failed to connect']
    assert out['controls'] == {'HVS-VSW-10': 'error', 'HVS-VSW-11': 'error', 'HVS-VSW-12': 'error'}
    host = Host(fail={'list --name': (1, '', 'error: gone\n')})
    out = _run(monkeypatch, capsys, host)
    assert out['_rc'] == 1 and out['msg'] == 'virsh list --name failed: error: gone'
    assert out['controls'] == {} and out['changes'] == []
    host = Host()
    host.xml = '<domain><name>x</name'
    out = _run(monkeypatch, capsys, host)
    assert out['_rc'] == 1 and re.match(r'^cannot parse the XML of domain hvsec-guest1: unclosed token: line 1, ', out['msg'])
    host = Host(fail={'define': (1, '', 'error: invalid\n')})
    out = _run(monkeypatch, capsys, host)
    assert re.match(r'^virsh define /\S+/hvsec-dom-\w+\.xml failed: error: invalid$', out['msg']), out['msg']
    assert out['changed'] is True and out['controls']['HVS-VSW-10'] == 'fixed'
    host = Host(fail={'modprobe br_netfilter': (1, '', 'FATAL: no module\n')})
    out = _run(monkeypatch, capsys, host)
    assert out['msg'] == 'HVS-VSW-12: modprobe br_netfilter failed: FATAL: no module'


def test_no_domain_is_not_applicable_and_no_net_bridge(monkeypatch, capsys, files):
    host = Host(fail={'list --all': (0, '', '')})
    out = _run(monkeypatch, capsys, host)
    assert out['controls'] == {'HVS-VSW-10': 'not_applicable', 'HVS-VSW-11': 'not_applicable',
                               'HVS-VSW-12': 'not_applicable'}
    assert out['domains'] == {} and out['changed'] is False
    # the network's bridge is not a Linux bridge here, and a network that cannot be read has none
    host = Host(fail={'net-dumpxml default': (1, NET_XML, 'error: no network')})
    host.xml = host.xml.replace("<source bridge='br-guest'/>", "<source bridge='virbr9'/>")
    out = _run(monkeypatch, capsys, host, check_mode=True)
    assert out['controls']['HVS-VSW-12'] == 'not_applicable'
    assert [c for c in _cmds(host) if 'iptables' in c] == []


def test_netfilter_decisions_in_a_real_run(monkeypatch, capsys, files):
    modload, sysctl = nwfilter_domains.MODLOAD, nwfilter_domains.SYSCTL
    # enforce false: HVS-VSW-12 does not apply and nothing of it runs
    host = Host()
    out = _run(monkeypatch, capsys, host, enforce=False)
    assert out['changed'] is True and 'modprobe br_netfilter' not in _cmds(host)
    # FORWARD DROP: refused, nothing of it runs while the guest is still redefined
    host = Host(forward='-P FORWARD DROP\n')
    out = _run(monkeypatch, capsys, host)
    assert out['controls']['HVS-VSW-12'] == 'fail' and 'modprobe br_netfilter' not in _cmds(host)
    assert not os.path.exists(modload)
    # everything in place already: pass, and the guest's change does not set it up again
    with open(modload, 'w') as f:
        f.write(MODLOAD_TEXT)
    with open(sysctl, 'w') as f:
        f.write(SYSCTL_TEXT)
    for k in ('iptables', 'ip6tables'):
        with open(nwfilter_domains.NF % k, 'w') as f:
            f.write('1\n')
    host = Host()
    out = _run(monkeypatch, capsys, host)
    assert out['controls']['HVS-VSW-12'] == 'pass' and out['changed'] is True
    libvirt = ('list', 'nwfilter', 'dumpxml', 'net-dumpxml', 'define', 'update-device')
    assert [c for c in _cmds(host) if not c.startswith(libvirt)] == []
    # one of the two files stale: rewritten alone
    with open(modload, 'w') as f:
        f.write('stale\n')
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True)
    assert out['controls']['HVS-VSW-12'] == 'fixed'
    assert [d['before_header'] for d in out['diff']] == ['domain hvsec-guest1', modload]


def test_skipping_one_control(monkeypatch, capsys, files):
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True, skip_controls=['HVS-VSW-12'])
    assert out['changes'] == CHANGES and len(out['diff']) == 1
    assert out['controls'] == {'HVS-VSW-10': 'fixed', 'HVS-VSW-11': 'fixed', 'HVS-VSW-12': 'waived'}
    assert '/usr/sbin/iptables -S FORWARD' not in _cmds(host)
    # HVS-VSW-10 waived: the bridge interface gets no filter, so its bridge needs no br_netfilter
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True, skip_controls=['HVS-VSW-10'])
    assert out['changes'] == [CHANGES[1]]
    assert out['controls'] == {'HVS-VSW-10': 'waived', 'HVS-VSW-11': 'fixed', 'HVS-VSW-12': 'not_applicable'}


def test_the_bridge_of_a_libvirt_network(monkeypatch, capsys, files):
    real_isdir = os.path.isdir
    monkeypatch.setattr(nwfilter_domains.os.path, 'isdir', lambda p: p in (
        '/sys/class/net/br-guest/bridge', '/sys/class/net/virbr0/bridge') or (not p.startswith('/sys/') and real_isdir(p)))
    host = Host()
    out = _run(monkeypatch, capsys, host, check_mode=True)
    assert out['changes'][-1]['msg'].endswith('(bridges br-guest, virbr0)')
    host = Host()
    host.xml = host.xml.replace("<source bridge='br-guest'/>", "<source bridge='br-other'/>")
    out = _run(monkeypatch, capsys, host, check_mode=True)
    assert out['changes'][-1]['msg'].endswith('(bridges virbr0)')
    host = Host(forward='-P FORWARD DROP\n')
    out = _run(monkeypatch, capsys, host, check_mode=True)
    assert out['warnings'][0].endswith('would cut bridged guests (br-guest, virbr0) off. Allow the bridged traffic in '
                                       'FORWARD first.')
