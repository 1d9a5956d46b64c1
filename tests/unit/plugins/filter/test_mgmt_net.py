# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

netaddr = pytest.importorskip('netaddr')

from ansible_collections.hvsec.hypervisor.plugins.filter.mgmt_net import (  # noqa: E402
    mgmt_cidr_contains, mgmt_cidrs, mgmt_firewall_failure, mgmt_ip, mgmt_is_loopback, mgmt_key_file_errors,
    mgmt_sshd_failure)


def test_cidrs_normalized_merged_and_split():
    out = mgmt_cidrs(['10.0.2.2/24', '10.0.2.2', '192.0.2.7/32', '2001:DB8::1/64', '10.0.3.0/24'])
    assert out == {'ipv4': ['10.0.2.0/23', '192.0.2.7/32'], 'ipv6': ['2001:db8::/64'],
                   'all': ['10.0.2.0/23', '192.0.2.7/32', '2001:db8::/64']}
    assert mgmt_cidrs([]) == {'ipv4': [], 'ipv6': [], 'all': []}


@pytest.mark.parametrize('value,fragment', [
    ('10.0.0.0/8', 'must be a list'),
    (['10.0.2.300/24'], "'10.0.2.300/24' is not a valid CIDR"),
    (['hostname'], "'hostname' is not a CIDR"),
    (['0.0.0.0/0'], 'admits every address'),
    (['::/0'], 'admits every address'),
    ([24], 'is not a CIDR'),
])
def test_cidrs_errors_name_the_variable(value, fragment):
    with pytest.raises(AnsibleFilterError) as exc:
        mgmt_cidrs(value)
    assert 'hvsec_mgmt_plane_admin_cidrs' in str(exc.value) and fragment in str(exc.value)


def test_contains():
    nets = mgmt_cidrs(['10.0.2.2/32', '2001:db8::/64'])
    assert mgmt_cidr_contains('10.0.2.2', nets) is True
    assert mgmt_cidr_contains('::ffff:10.0.2.2', nets) is True
    assert mgmt_cidr_contains('10.0.2.3', nets) is False
    assert mgmt_cidr_contains('2001:db8::5', nets['all']) is True
    with pytest.raises(AnsibleFilterError):
        mgmt_cidr_contains('nope', nets)


def test_ip_and_loopback():
    assert mgmt_ip('2001:DB8::1', 'x') == '2001:db8::1'
    for bad in ('10.0.0.1/24', 'localhost', '', 5):
        with pytest.raises(AnsibleFilterError) as exc:
            mgmt_ip(bad, 'hvsec_mgmt_plane_console_listen')
        assert 'hvsec_mgmt_plane_console_listen' in str(exc.value)
    assert mgmt_is_loopback('127.0.0.1') and mgmt_is_loopback('::1') and mgmt_is_loopback('127.3.0.1')
    assert not mgmt_is_loopback('10.0.2.15') and not mgmt_is_loopback('localhost')


@pytest.mark.parametrize('step, state', [
    ('Write the rollback ruleset (the table running now)',
     'Nothing was loaded: the running table inet hvsec_mgmt is unchanged and nothing was persisted.'),
    ('Arm the automatic rollback', 'Nothing was loaded: the running table inet hvsec_mgmt is unchanged and nothing was persisted.'),
    ('Load table inet hvsec_mgmt',
     'nft loads a ruleset whole or not at all: the running table inet hvsec_mgmt is unchanged and nothing was persisted '
     '(the armed timer hvsec-mgmt-fw-rollback re-loads that same table within 120 s).'),
    ('Open a new connection through the new firewall',
     'The new table was loaded but could not be confirmed: no new connection came through it within 60 s. The timer '
     'hvsec-mgmt-fw-rollback restores the previous table at most 120 s after it was armed; nothing was persisted.'),
    ('Confirm: cancel the rollback',
     'A new connection came through the new table, but its rollback timer could not be stopped: the timer '
     'hvsec-mgmt-fw-rollback restores the previous table at most 120 s after it was armed; nothing was persisted. '
     'Run the role again.'),
    ('Persist the confirmed table',
     'The new table is loaded and confirmed (its rollback timer is stopped) but was not persisted to '
     '/etc/hvsec/hvsec_mgmt.nft: it stays loaded until the next boot, which loads the table persisted before (or '
     'none). Run the role again.'),
    ('', 'If the new table was loaded, the timer hvsec-mgmt-fw-rollback restores the previous one at most 120 s after '
         'it was armed; nothing was persisted.'),
])
def test_firewall_failure_says_what_the_failed_step_left_running(step, state):
    message = mgmt_firewall_failure(step, 'nft:\n  line 3:  syntax error', 120, 60, '/etc/hvsec/hvsec_mgmt.nft')
    # The error's line breaks and runs of spaces end on one line.
    assert message == 'The management firewall change failed at "%s" (nft: line 3: syntax error). %s' % (step, state)


DROPIN = '/etc/ssh/sshd_config.d/00-hvsec.conf'


@pytest.mark.parametrize('step, error, armed, role_rolled_back, login_back, message', [
    # systemd-run refused: nothing was reloaded, the previous drop-in is back at once
    ('Arm the automatic sshd rollback, seconds: 300', 'Failed to start transient timer unit:\n  Unit exists', False, False, False,
     'sshd: the rollback timer could not be armed (Failed to start transient timer unit: Unit exists); the previous '
     '/etc/ssh/sshd_config.d/00-hvsec.conf was restored and sshd was not reloaded. Nothing of the sshd change remains.'),
    # the new login came, but after the timer had fired: the sshd variable to raise is named
    ('Confirm before the rollback fired', 'non-zero return code', True, False, True,
     'sshd: no new login was confirmed after the reload (the rollback timer fired before a new login confirmed the '
     'change; raise hvsec_mgmt_plane_sshd_rollback_seconds). The change was rolled back: the previous '
     '/etc/ssh/sshd_config.d/00-hvsec.conf is back and sshd was reloaded (by the timer hvsec-mgmt-sshd-rollback, '
     '300 s after it was armed). A new login works again.'),
    # another step failed, the host answered again with the timer still waiting: the role rolled back
    ('Reload sshd with the new drop-in', 'Unable to reload service ssh', True, True, True,
     'sshd: no new login was confirmed after the reload (Unable to reload service ssh). The change was rolled back: '
     'the previous /etc/ssh/sshd_config.d/00-hvsec.conf is back and sshd was reloaded (by the role, as the host '
     'answered again before the timer fired). A new login works again.'),
    # no new login within the confirmation window, the timer rolled back, a new login works again
    ('Prove the controller can still log in after the sshd reload (a new connection)',
     'timed out waiting for ping module test', True, False, True,
     'sshd: no new login was confirmed after the reload (timed out waiting for ping module test). The change was '
     'rolled back: the previous /etc/ssh/sshd_config.d/00-hvsec.conf is back and sshd was reloaded (by the timer '
     'hvsec-mgmt-sshd-rollback, 300 s after it was armed). A new login works again.'),
    # and no new login after the rollback either: the console is the way in
    ('Prove the controller can still log in after the sshd reload (a new connection)',
     'timed out waiting for ping module test', True, False, False,
     'sshd: no new login was confirmed after the reload (timed out waiting for ping module test). The change was '
     'rolled back: the previous /etc/ssh/sshd_config.d/00-hvsec.conf is back and sshd was reloaded (by the timer '
     'hvsec-mgmt-sshd-rollback, 300 s after it was armed). No new login worked within 345 s after that either: '
     'check the host on its console.'),
])
def test_sshd_failure_says_what_the_host_runs_now(step, error, armed, role_rolled_back, login_back, message):
    # the timing of the sshd change (300 s rollback, 45 s confirmation), not the firewall's
    assert mgmt_sshd_failure(step, error, armed, role_rolled_back, login_back, DROPIN, 300, '45') == message


KEY_VAR = 'hvsec_mgmt_plane_libvirt_tls_key_file'
KEY = '/etc/pki/libvirt/private/serverkey.pem'


def _key_stat(mode, uid=0, pw_name='root', path=KEY, var=KEY_VAR):
    """One result of the guard's stat loop, as ansible.builtin.stat returns it (mode as octal text)."""
    return {'item': {'var': var, 'path': path},
            'stat': {'exists': True, 'path': path, 'mode': mode, 'uid': uid, 'pw_name': pw_name}}


def _too_open(problem, mode):
    return '%s: %s %s (mode %s; make it 0600 or 0640)' % (KEY_VAR, KEY, problem, mode)


@pytest.mark.parametrize('mode, errors', [
    ('0600', []),
    ('0640', []),
    ('0400', []),
    ('0440', []),
    # group read and execute: the execute bit is more than 0640 allows
    ('0650', [_too_open('is executable by its group', '0650')]),
    ('0660', [_too_open('is writable by its group', '0660')]),
    ('0670', [_too_open('is writable by its group', '0670'), _too_open('is executable by its group', '0670')]),
    ('0641', [_too_open('is executable by others', '0641')]),
    ('0620', [_too_open('is writable by its group', '0620')]),
    ('0604', [_too_open('is readable by others', '0604')]),
    ('0644', [_too_open('is readable by others', '0644')]),
    ('0602', [_too_open('is writable by others', '0602')]),
    ('0700', [_too_open('is executable by its owner', '0700')]),
    ('4600', [_too_open('has the set-user-ID bit', '4600')]),
    ('2640', [_too_open('has the set-group-ID bit', '2640')]),
    ('1600', [_too_open('has the sticky bit', '1600')]),
    ('0777', [_too_open('is readable by others', '0777'), _too_open('is writable by others', '0777'),
              _too_open('is executable by others', '0777'), _too_open('is writable by its group', '0777'),
              _too_open('is executable by its group', '0777'), _too_open('is executable by its owner', '0777')]),
    # a mode as a number (not as stat's octal text) reads the same
    (0o650, [_too_open('is executable by its group', '0650')]),
])
def test_key_file_mode_at_most_0640(mode, errors):
    assert mgmt_key_file_errors([_key_stat(mode)], KEY_VAR) == errors


def test_key_file_owned_by_root():
    assert mgmt_key_file_errors([_key_stat('0600', uid=65534, pw_name='nobody')], KEY_VAR) == [
        '%s: %s is not owned by root but by nobody (chown root)' % (KEY_VAR, KEY)]
    # a uid without a user name, and a name without a uid
    assert mgmt_key_file_errors([_key_stat('0640', uid=1234, pw_name='')], KEY_VAR) == [
        '%s: %s is not owned by root but by uid 1234 (chown root)' % (KEY_VAR, KEY)]
    no_uid = _key_stat('0600', pw_name='libvirt-qemu')
    del no_uid['stat']['uid']
    assert mgmt_key_file_errors([no_uid], KEY_VAR) == [
        '%s: %s is not owned by root but by libvirt-qemu (chown root)' % (KEY_VAR, KEY)]
    # the owner and the mode are each named
    assert mgmt_key_file_errors([_key_stat('0644', uid=1000, pw_name='admin')], KEY_VAR) == [
        '%s: %s is not owned by root but by admin (chown root)' % (KEY_VAR, KEY), _too_open('is readable by others', '0644')]


def test_key_file_errors_only_for_the_key_that_exists():
    results = [
        _key_stat('0644', var='hvsec_mgmt_plane_libvirt_tls_cert_file', path='/etc/pki/libvirt/servercert.pem'),
        {'item': {'var': KEY_VAR, 'path': '/nonexistent/key.pem'}, 'stat': {'exists': False}},
        {'item': {'var': KEY_VAR, 'path': KEY}, 'skipped': True},
    ]
    assert mgmt_key_file_errors(results, KEY_VAR) == []
    assert mgmt_key_file_errors([], KEY_VAR) == [] and mgmt_key_file_errors(None, KEY_VAR) == []
    with pytest.raises(AnsibleFilterError) as exc:
        mgmt_key_file_errors([_key_stat('rw-r-----')], KEY_VAR)
    assert str(exc.value) == "mgmt_key_file_errors: %s has no readable mode: 'rw-r-----'" % KEY
