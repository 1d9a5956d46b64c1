# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab proof for the mgmt_plane role (issue 7), after the insecure prepare state
(lab/molecule/default/files/insecure-setup.sh + prepare_mgmt_plane.yml) and the role with
lab/tests/group_vars/hypervisors/mgmt_plane.yml.

What is observed, all inside the lab VM or over its SSH path:
- listening sockets (`ss`), libvirt's files and sockets, `sshd -T`, `nft list ruleset`;
- from a network namespace standing for a guest network (a veth with a host address, so packets
  really reach the host's input hook from a non-administrator source): SSH, 16509, 16514, 5900 and
  6640 unreachable even with a listener on each, while a non-management port is reachable;
- SSH over the administrator path (the lab's hostfwd) still works;
- a run whose administrator CIDRs exclude the controller fails before changing anything;
- a broken sshd option is rejected by `sshd -t` and the running sshd keeps its configuration;
- check mode reports without changing; a second run changes nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
import yaml

from conftest import hardened_areas, extended, ssh_new_connection, require_area, role_play, role_vars, run_ansible, runs_roles

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VARS = role_vars('mgmt_plane')
DROPIN = '/etc/ssh/sshd_config.d/00-hvsec.conf'
MGMT_PORTS = (22, 16509, 16514, 5900, 6640)
NS = 'hvmgmtg'
NS_HOST_IP, NS_GUEST_IP = '192.168.251.1', '192.168.251.2'


with open(VARS) as _f:
    LAB_VARS = yaml.safe_load(_f)
MGMT_ADDR = LAB_VARS['hvsec_mgmt_plane_address']


require_area('mgmt_plane')


def _listeners(host):
    out = []
    for line in host.check_output('ss -Htln').splitlines():
        local = line.split()[3]
        addr, port = local.rsplit(':', 1)
        out.append((addr.strip('[]'), int(port)))
    return out


# ------------------------------------------------------------------ state after hardening
def test_no_management_listener_on_a_wildcard_address(host):
    def mgmt(port):
        # OVSDB (6640) is the vswitch role's (HVS-VSW-05); it counts here only when that area is hardened.
        ovsdb = (6640,) if 'vswitch' in hardened_areas() else ()
        return port in (16509, 16514) + ovsdb or 5900 <= port <= 5999 or 49152 <= port <= 49215
    bad = [(a, p) for a, p in _listeners(host) if a in ('0.0.0.0', '::', '*') and mgmt(p)]
    assert bad == []


def test_sshd_listens_only_on_the_management_address(host):
    ssh = [(a, p) for a, p in _listeners(host) if p == 22]
    assert ssh == [(MGMT_ADDR, 22)]


def test_libvirt_tcp_socket_disabled_and_libvirt_still_works(host):
    assert host.run('systemctl is-enabled libvirtd-tcp.socket').stdout.strip() == 'disabled'
    assert host.run('systemctl is-active libvirtd-tcp.socket').stdout.strip() == 'inactive'
    assert host.run('systemctl is-enabled libvirtd-tls.socket').stdout.strip() == 'disabled'
    # libvirtd accepted its new configuration (it restarts through socket activation).
    host.run_expect([0], 'virsh -c qemu:///system list --all')
    sock = host.file('/run/libvirt/libvirt-sock')
    assert sock.group == 'libvirt' and sock.mode == 0o660


def _conf(host, path):
    values = {}
    for line in host.file(path).content_string.splitlines():
        m = re.match(r'^([a-z0-9_]+)\s*=\s*(.*?)\s*$', line)
        if m:
            values.setdefault(m.group(1), m.group(2))
    return values


def test_libvirtd_conf_effective_values(host):
    conf = _conf(host, '/etc/libvirt/libvirtd.conf')
    assert conf['listen_tcp'] == '0' and conf['listen_tls'] == '0'
    assert conf['auth_tcp'] == '"sasl"'
    assert conf['unix_sock_group'] == '"libvirt"' and conf['unix_sock_rw_perms'] == '"0770"'
    assert conf['access_drivers'] == '[ "polkit" ]'
    assert conf['audit_logging'] == '1' and conf['audit_level'] == '1'
    # The prepare step's insecure lines were edited in place, not duplicated.
    text = host.file('/etc/libvirt/libvirtd.conf').content_string
    assert len(re.findall(r'^listen_tcp\s*=', text, re.M)) == 1
    assert '# lab prepare: insecure remote access' in text   # comments preserved


def test_qemu_conf_effective_values(host):
    conf = _conf(host, '/etc/libvirt/qemu.conf')
    assert conf['vnc_listen'] == '"127.0.0.1"' and conf['spice_listen'] == '"127.0.0.1"'
    assert conf['migrate_tls_force'] == '1' and conf['migrate_tls_x509_verify'] == '1'
    assert conf['migration_address'] == '"%s"' % MGMT_ADDR
    assert conf['remote_display_port_min'] == '5900' and conf['remote_display_port_max'] == '5999'
    assert conf['user'] == '"libvirt-qemu"' and conf['group'] == '"libvirt-qemu"'
    assert conf['dynamic_ownership'] == '1' and conf['seccomp_sandbox'] == '1'
    apparmor = host.run('cat /sys/module/apparmor/parameters/enabled').stdout.strip() == 'Y'
    if apparmor:
        assert conf['security_driver'] == '"apparmor"'
    else:
        assert conf.get('security_driver') == '"none"'   # left alone, with a warning


def test_sshd_effective_configuration(host):
    eff = {}
    for line in host.check_output('sshd -T').splitlines():
        key, dummy, value = line.partition(' ')
        eff.setdefault(key, []).append(value)
    assert eff['permitrootlogin'] in (['prohibit-password'], ['without-password'])
    assert eff['passwordauthentication'] == ['no']
    assert eff['kbdinteractiveauthentication'] == ['no']
    assert eff['allowgroups'] == ['root']
    assert eff['listenaddress'] == ['%s:22' % MGMT_ADDR]
    for key in ('ciphers', 'macs', 'kexalgorithms'):
        algos = eff[key][0].split(',')
        assert not [a for a in algos if re.search(r'cbc|hmac-sha1|hmac-md5|group1-|group14-sha1', a)], key


def test_nft_ruleset_own_table_input_only(host):
    ruleset = host.check_output('nft list ruleset')
    assert 'table inet hvsec_mgmt' in ruleset
    table = host.check_output('nft list table inet hvsec_mgmt')
    assert 'hook input' in table and 'hook forward' not in table and 'hook output' not in table
    assert re.search(r'elements = \{ 10\.0\.2\.2 \}', table)
    for port in ('22', '16509', '16514', '6640', '5900-5999', '49152-49215'):
        assert re.search(r'\b%s\b' % port, table), port
    # persisted and loaded at boot, and no rollback pending
    assert host.file('/etc/hvsec/hvsec_mgmt.nft').exists
    assert host.run('systemctl is-enabled hvsec-mgmt-firewall.service').stdout.strip() == 'enabled'
    assert host.run('systemctl is-active hvsec-mgmt-fw-rollback.timer').stdout.strip() != 'active'


# ------------------------------------------------------------------ reachability
LISTENERS = r'''
import socket, sys, threading, time
socks = []
for port in [int(p) for p in sys.argv[1:]]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(('0.0.0.0', port))
    except OSError:
        continue        # a real service already listens there
    s.listen(5)
    socks.append(s)
time.sleep(60)
'''


@pytest.fixture(scope='module')
def guest_ns(host):
    """A namespace on a guest-facing network (veth with a host address) plus throw-away listeners
    on every management port the host does not already serve, so only the firewall can block."""
    host.run('ip netns del %s' % NS)
    host.run('ip link del %s-h' % NS)
    host.run_expect([0], 'ip netns add %s' % NS)
    host.run_expect([0], 'ip link add %s-h type veth peer name %s-g' % (NS, NS))
    host.run_expect([0], 'ip link set %s-g netns %s' % (NS, NS))
    host.run_expect([0], 'ip addr add %s/24 dev %s-h && ip link set %s-h up' % (NS_HOST_IP, NS, NS))
    host.run_expect([0], 'ip -n %s addr add %s/24 dev %s-g && ip -n %s link set %s-g up && ip -n %s link set lo up'
                    % (NS, NS_GUEST_IP, NS, NS, NS, NS))
    host.run_expect([0], 'ip -n %s route add default via %s' % (NS, NS_HOST_IP))
    host.run_expect([0], "cat > /run/hvmgmt-listen.py <<'EOF'\n%sEOF" % LISTENERS)
    ports = ' '.join(str(p) for p in MGMT_PORTS + (8088,))
    host.run_expect([0], 'nohup python3 /run/hvmgmt-listen.py %s >/dev/null 2>&1 &' % ports)
    host.run('sleep 2')
    yield NS
    host.run('pkill -f /run/hvmgmt-listen.py')
    host.run('ip netns del %s; ip link del %s-h' % (NS, NS))


# A dropped connection waits for the whole timeout (10 probes of it per verify). 3 s is enough:
# the reachability control below connects through the same veth within the same 3 s.
PROBE_TIMEOUT = 3


def _reach(host, ns, addr, port):
    return host.run('ip netns exec %s timeout %d bash -c "exec 3<>/dev/tcp/%s/%d"'
                    % (ns, PROBE_TIMEOUT, addr, port)).rc == 0


def test_guest_network_reaches_a_non_management_port(host, guest_ns):
    # the path works: the blocking below is the firewall's doing
    assert _reach(host, guest_ns, NS_HOST_IP, 8088)
    assert _reach(host, guest_ns, MGMT_ADDR, 8088)


@pytest.mark.parametrize('port', MGMT_PORTS)
def test_guest_network_cannot_reach_management_ports(host, guest_ns, port):
    for addr in (NS_HOST_IP, MGMT_ADDR):
        assert not _reach(host, guest_ns, addr, port), '%s:%d reachable from the guest network' % (addr, port)


def _ssh_ok():
    return ssh_new_connection(timeout=20)


def test_ssh_from_the_administrator_path_still_works():
    assert _ssh_ok()


# ------------------------------------------------------------------ runs of the role
def _play(check=False, extra=None):
    return run_ansible(playbook=role_play('mgmt_plane'), extra=extra, check=check)


def _snapshot(host):
    return {
        'table': host.check_output('nft -s list table inet hvsec_mgmt'),
        'dropin': host.file(DROPIN).content_string,
        'sshd': host.check_output('sshd -T'),
        'libvirtd': host.file('/etc/libvirt/libvirtd.conf').content_string,
        'qemu': host.file('/etc/libvirt/qemu.conf').content_string,
    }


@runs_roles
def test_admin_cidrs_without_the_controller_fail_before_any_change(host):
    before = _snapshot(host)
    rc, changed, output = _play(extra={'hvsec_mgmt_plane_admin_cidrs': ['192.0.2.0/24'],
                                       'hvsec_mgmt_plane_console_listen': '::1'})
    assert rc != 0
    assert 'Lockout guard: the controller connects from 10.0.2.2' in output
    assert changed == 0
    assert _snapshot(host) == before       # console_listen ::1 was not applied either
    assert _ssh_ok()


@runs_roles
def test_broken_sshd_option_rejected_running_sshd_keeps_config(host):
    before = _snapshot(host)
    pid = host.check_output('systemctl show -p MainPID --value ssh')
    rc, _changed, output = _play(extra={'hvsec_mgmt_plane_sshd_extra_options': {'MaxAuthTries': 'many'}})
    assert rc != 0
    assert 'sshd -t rejected the options' in output and 'nothing was changed' in output
    after = _snapshot(host)
    assert after['dropin'] == before['dropin'] and after['sshd'] == before['sshd']
    assert host.check_output('systemctl show -p MainPID --value ssh') == pid
    assert _ssh_ok()


@extended
@runs_roles
def test_check_mode_reports_then_run_fixes_then_nothing_left(host):
    host.run_expect([0], r"sed -i 's/^vnc_listen = .*/vnc_listen = \"0.0.0.0\"/' /etc/libvirt/qemu.conf")
    rc, changed, output = _play(check=True)
    assert rc == 0, output[-3000:]
    assert changed >= 1, 'check mode did not report the pending change'
    assert 'vnc_listen = "0.0.0.0"' in host.file('/etc/libvirt/qemu.conf').content_string
    rc, changed, output = _play()
    assert rc == 0, output[-3000:]
    assert changed >= 1
    assert 'vnc_listen = "127.0.0.1"' in host.file('/etc/libvirt/qemu.conf').content_string
    # (a second real run is Molecule's idempotence step; here a --check run must find nothing left)
    rc, changed, output = _play(check=True)
    assert rc == 0 and changed == 0, output[-3000:]
    assert _ssh_ok()
