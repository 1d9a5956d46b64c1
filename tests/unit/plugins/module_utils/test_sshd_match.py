# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Match blocks: ``sshd -T`` without ``-C`` shows only the global values, so it cannot see a
``Match Address`` block re-opening root and password logins. The facts read the effective
configuration per connection of interest with ``sshd -T -C`` and HVS-MGMT-13/14/15 fail when any
of them re-opens access, naming the Match block.

Fixture ``sshd_match``: Debian 12's sshd_config, the role's drop-in and a drop-in with
``Match Address 10.0.0.0/8`` (PermitRootLogin yes, PasswordAuthentication yes), with real
``sshd -T`` / ``sshd -T -C`` output of OpenSSH 9.2p1 (see its README). The tests marked
"real sshd" run the installed sshd (or $HVSEC_TEST_SSHD) and skip without one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import json
import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import default_settings
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd as su
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import real_sshd

OPTIONS = {'admin_cidrs': ['192.0.2.0/24'], 'users': ['admin'], 'local_address': '10.0.2.15'}
LEGACY = '/etc/ssh/sshd_config.d/50-legacy-backup.conf'
SETTINGS = dict(default_settings(), hvsec_mgmt_plane_sshd_allow_groups=['root', 'admins'])


def _judge(cid, facts, settings):
    """(status, evidence) of the evaluator of control ``cid``, called directly (Unknown propagates)."""
    control = BY_ID[cid]
    return evaluate.evaluator_for(control)(facts, settings, control)


@pytest.fixture(scope='module')
def facts(tmp_path_factory):
    root = ft.build_root('sshd_match', tmp_path_factory.mktemp('sshd_match'))
    calls = []
    result = hvfacts.gather_facts(root, ft.fake_runner('sshd_match', calls), ft.fake_bin_path('sshd_match'),
                                  euid=0, gather=['sshd'], sshd_options=OPTIONS)
    json.dumps(result)
    return result, calls, root


# ------------------------------------------------------------------ reading sshd_config
def test_read_config_follows_includes_and_lists_match_blocks(facts):
    sshd = facts[0]['sshd']
    assert sshd['config_files'] == ['/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d/00-hvsec.conf', LEGACY]
    assert [(b['file'], b['line'], b['criteria']) for b in sshd['match_blocks']] == [
        (LEGACY, 2, 'Address 10.0.0.0/8'), (LEGACY, 6, 'User deploy'), (LEGACY, 10, 'Group root')]
    assert sshd['match_blocks'][0]['settings'] == {'passwordauthentication': 'yes', 'permitrootlogin': 'yes'}


def test_match_context_of_included_files():
    files = {
        '/etc/ssh/sshd_config': 'Include sshd_config.d/*.conf\nPermitRootLogin no\n'
                                'Match User backup\n  Include /etc/ssh/backup.d/*.conf\n  X11Forwarding no\n',
        '/etc/ssh/sshd_config.d/10-a.conf': 'Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n',
        '/etc/ssh/sshd_config.d/20-b.conf': 'ChallengeResponseAuthentication yes\n',
        '/etc/ssh/backup.d/x.conf': 'PermitRootLogin yes\n',
    }

    def glob_paths(pattern):
        return sorted(p for p in files if fnmatch.fnmatch(p, pattern))
    state = su.read_config(files.get, glob_paths)
    assert state['files'] == ['/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d/10-a.conf',
                              '/etc/ssh/sshd_config.d/20-b.conf', '/etc/ssh/backup.d/x.conf']
    # 10-a.conf's Match ends with its file; 20-b.conf is global again; the Include inside
    # "Match User backup" adds x.conf's line to that block
    assert [(b['criteria'], b['settings']) for b in state['match_blocks']] == [
        ('Address 10.0.0.0/8', {'passwordauthentication': 'yes'}),
        ('User backup', {'permitrootlogin': 'yes', 'x11forwarding': 'no'})]


@pytest.mark.parametrize('criteria, spec, groups, expected', [
    ('Address 10.0.0.0/8', {'addr': '10.1.2.3'}, None, True),
    ('Address 10.0.0.0/8', {'addr': '203.0.113.7'}, None, False),
    ('Address !10.0.0.0/8,*', {'addr': '203.0.113.7'}, None, True),
    ('Address !10.0.0.0/8,*', {'addr': '10.0.0.1'}, None, False),
    ('Address 192.0.2.*', {'addr': '192.0.2.77'}, None, True),
    ('User root Address 10.0.0.0/8', {'user': 'root', 'addr': '10.0.0.1'}, None, True),
    ('User root Address 10.0.0.0/8', {'user': 'admin', 'addr': '10.0.0.1'}, None, False),
    ('User ad*,!admin', {'user': 'admin'}, None, False),
    ('User ad*,!admin', {'user': 'adele'}, None, True),
    ('Group wheel', {'user': 'root'}, ['root'], False),
    ('Group wheel', {'user': 'root'}, None, None),
    ('LocalPort 2222', {'lport': '2222'}, None, True),
    ('All', {}, None, True),
    ('RDomain vrf1', {}, None, None),
])
def test_criteria_apply(criteria, spec, groups, expected):
    assert su.criteria_apply(criteria, spec, groups) is expected


def test_connection_specs_outside_inside_users_and_one_per_block():
    eff = {'port': ['2222'], 'listenaddress': ['0.0.0.0:2222']}
    blocks = [{'file': 'f', 'line': 3, 'criteria': 'Address 10.0.0.0/8', 'settings': {}},
              {'file': 'f', 'line': 7, 'criteria': 'Group backup', 'settings': {}},
              {'file': 'f', 'line': 9, 'criteria': 'LocalAddress 10.9.0.0/16 User ops', 'settings': {}},
              {'file': 'f', 'line': 12, 'criteria': 'RDomain vrf1', 'settings': {}}]
    pairs, left_out = su.connection_specs(eff, blocks, ['203.0.113.0/24', '2001:db8::/32'], ['ops', 'root'], '',
                                          lambda group: 'bkp' if group == 'backup' else None)
    args = [su.spec_arg(spec) for spec, why in pairs]
    assert args == [
        'user=root,host=198.51.100.7,addr=198.51.100.7,laddr=0.0.0.0,lport=2222',
        'user=ops,host=198.51.100.7,addr=198.51.100.7,laddr=0.0.0.0,lport=2222',
        'user=root,host=fd00:ffff::7,addr=fd00:ffff::7,laddr=0.0.0.0,lport=2222',
        'user=ops,host=fd00:ffff::7,addr=fd00:ffff::7,laddr=0.0.0.0,lport=2222',
        'user=root,host=203.0.113.1,addr=203.0.113.1,laddr=0.0.0.0,lport=2222',
        'user=ops,host=203.0.113.1,addr=203.0.113.1,laddr=0.0.0.0,lport=2222',
        'user=root,host=2001:db8::1,addr=2001:db8::1,laddr=0.0.0.0,lport=2222',
        'user=ops,host=2001:db8::1,addr=2001:db8::1,laddr=0.0.0.0,lport=2222',
        'user=root,host=10.0.0.1,addr=10.0.0.1,laddr=0.0.0.0,lport=2222',
        'user=bkp,host=198.51.100.7,addr=198.51.100.7,laddr=0.0.0.0,lport=2222',
        'user=ops,host=198.51.100.7,addr=198.51.100.7,laddr=10.9.0.1,lport=2222']
    assert left_out == 0
    assert pairs[8][1] == 'Match Address 10.0.0.0/8 (f line 3)'
    assert su.connection_specs(eff, blocks, [], [], '', None, limit=2)[1] == 1


def test_outside_address_avoids_every_admin_network():
    nets, bad = su.admin_networks(['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', 'admins'])
    assert bad == ['admins']
    assert su.outside_address(nets) == '100.64.0.7'


# ------------------------------------------------------------------ facts and evaluation
def test_facts_read_every_connection_with_sshd_T_C(facts):
    sshd, calls = facts[0]['sshd'], facts[1]
    specs = [c[3] for c in calls if c[1:3] == ['-T', '-C']]
    assert specs[:4] == ['user=root,host=203.0.113.7,addr=203.0.113.7,laddr=10.0.2.15,lport=22',
                         'user=admin,host=203.0.113.7,addr=203.0.113.7,laddr=10.0.2.15,lport=22',
                         'user=root,host=192.0.2.1,addr=192.0.2.1,laddr=10.0.2.15,lport=22',
                         'user=admin,host=192.0.2.1,addr=192.0.2.1,laddr=10.0.2.15,lport=22']
    legacy = [c for c in sshd['connections'] if c['spec']['addr'] == '10.0.0.1'][0]
    assert legacy['why'] == 'Match Address 10.0.0.0/8 (%s line 2)' % LEGACY
    # Match Address re-opens root and password logins; Match Group root applies to root as well
    assert legacy['differs'] == {'permitrootlogin': 'yes', 'passwordauthentication': 'yes', 'allowagentforwarding': 'no'}
    assert legacy['matched'] == [0, 2]
    # the global reading alone says everything is closed: this is what the audit used to see
    assert sshd['effective']['permitrootlogin'] == 'without-password'
    assert sshd['effective']['passwordauthentication'] == 'no'
    assert sshd['connections_left_out'] == 0


def test_match_block_reopening_root_and_password_login_fails_the_audit(facts):
    status, evidence = _judge('HVS-MGMT-13', facts[0], SETTINGS)
    assert status == 'fail', evidence
    assert evidence == ('PermitRootLogin yes for root from 10.0.0.1 to 10.0.2.15 port 22, set by '
                        'Match Address 10.0.0.0/8 (%s line 2)' % LEGACY)
    status, evidence = _judge('HVS-MGMT-14', facts[0], SETTINGS)
    assert status == 'fail', evidence
    assert 'passwordauthentication yes for root from 10.0.0.1' in evidence and LEGACY + ' line 2' in evidence
    status, evidence = _judge('HVS-MGMT-15', facts[0], SETTINGS)
    assert status == 'pass' and 'also for 6 connection(s)' in evidence


def test_without_the_match_block_every_connection_passes(facts):
    closed = json.loads(json.dumps(facts[0]))
    for conn in closed['sshd']['connections']:
        for key in ('permitrootlogin', 'passwordauthentication'):
            conn['differs'].pop(key, None)
    assert _judge('HVS-MGMT-13', closed, SETTINGS) == \
        ('pass', 'PermitRootLogin without-password (also for 6 connection(s) read with sshd -T -C)')
    assert _judge('HVS-MGMT-14', closed, SETTINGS)[0] == 'pass'


def test_a_failed_per_connection_reading_is_an_error_unless_the_global_values_fail(facts):
    broken = json.loads(json.dumps(facts[0]))
    broken['sshd']['connections'][1].update(differs=None, matched=None, error='sshd: bad spec')
    with pytest.raises(evaluate.Unknown) as exc:
        _judge('HVS-MGMT-13', broken, SETTINGS)
    assert 'admin from 203.0.113.7' in exc.value.hint and 'sshd: bad spec' in exc.value.hint
    broken['sshd']['effective']['permitrootlogin'] = 'yes'
    assert _judge('HVS-MGMT-13', broken, SETTINGS) == ('fail', 'PermitRootLogin yes')


def test_facts_without_per_connection_readings_evaluate_the_global_values(facts):
    old = json.loads(json.dumps(facts[0]))
    for key in ('connections', 'match_blocks', 'config_files', 'connections_left_out'):
        del old['sshd'][key]
    assert _judge('HVS-MGMT-13', old, SETTINGS) == ('pass', 'PermitRootLogin without-password')
    assert _judge('HVS-MGMT-14', old, SETTINGS) == ('pass', 'password and keyboard-interactive authentication off')


# ------------------------------------------------------------------ real sshd
def _real_tree(tmp_path, files):
    """Write ``files`` ({relative path: text}, '@D@' standing for the tree) below tmp_path."""
    base = str(tmp_path)
    for rel, text in files.items():
        path = os.path.join(base, rel)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as handle:
            handle.write(text.replace('@D@', base))
    return base


def _real_facts(monkeypatch, base, key, options):
    binary = real_sshd.sshd()
    main = os.path.join(base, 'sshd_config')
    monkeypatch.setattr(su, 'MAIN_CONFIG', main)

    def run_command(args):
        assert os.path.basename(args[0]) == 'sshd'
        return real_sshd.run(['-f', main, '-o', 'HostKey=' + key] + list(args[1:]))
    return hvfacts.gather_facts('/', run_command, lambda name: binary if name == 'sshd' else None, euid=0,
                                gather=['sshd'], sshd_options=options)


def test_real_sshd_match_in_the_main_file_inside_the_admin_network(tmp_path, monkeypatch):
    """A Match block at the end of sshd_config (where most real ones are) that re-opens password
    login for the administrator network: HVS-MGMT-14 fails, HVS-MGMT-13 passes (root keeps
    prohibit-password), and sshd -T alone would have passed both."""
    key = real_sshd.host_key(tmp_path)
    base = _real_tree(tmp_path, {
        'sshd_config': 'Include @D@/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n'
                       '\n# admins may still type passwords from the office\nMatch Address 192.0.2.0/24,198.51.100.0/24\n'
                       '    PasswordAuthentication yes\n',
        'sshd_config.d/00-hvsec.conf': 'PermitRootLogin prohibit-password\nPasswordAuthentication no\n',
    })
    result = _real_facts(monkeypatch, base, key, {'admin_cidrs': ['192.0.2.0/24'], 'users': [], 'local_address': ''})
    sshd = result['sshd']
    assert sshd['effective']['passwordauthentication'] == 'no'
    inside = [c for c in sshd['connections'] if c['spec']['addr'] == '192.0.2.1'][0]
    assert inside['differs'] == {'passwordauthentication': 'yes'} and inside['why'] == 'administrator network 192.0.2.0/24'
    status, evidence = _judge('HVS-MGMT-14', result, SETTINGS)
    assert status == 'fail'
    assert ('passwordauthentication yes for root from 192.0.2.1, set by Match Address 192.0.2.0/24,198.51.100.0/24 '
            '(%s line 6)' % os.path.join(base, 'sshd_config')) in evidence
    assert _judge('HVS-MGMT-13', result, SETTINGS)[0] == 'pass'


def test_real_sshd_agrees_with_the_captured_fixture(tmp_path, monkeypatch, facts):
    """The fixture's captured answers are what this sshd says for the same tree (the values the
    evaluators read)."""
    key = real_sshd.host_key(tmp_path)
    root = facts[2]
    files = {}
    for rel in ('sshd_config', 'sshd_config.d/00-hvsec.conf', 'sshd_config.d/50-legacy-backup.conf'):
        with open(os.path.join(root, 'etc', 'ssh', rel)) as handle:
            files[rel] = handle.read().replace('/etc/ssh/', '@D@/')
    base = _real_tree(tmp_path, files)
    result = _real_facts(monkeypatch, base, key, OPTIONS)
    keys = ('permitrootlogin', 'passwordauthentication', 'kbdinteractiveauthentication', 'allowgroups')
    mine = dict((c['spec']['addr'] + c['spec']['user'], dict((k, c['differs'].get(k)) for k in keys))
                for c in result['sshd']['connections'])
    captured = dict((c['spec']['addr'] + c['spec']['user'], dict((k, c['differs'].get(k)) for k in keys))
                    for c in facts[0]['sshd']['connections'])
    assert mine == captured
