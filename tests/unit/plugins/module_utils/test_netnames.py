# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one interface-name rule (netnames) and every place that must use it: the modules'
validation (bridge_security, ovs_security, pci_passthrough, sriov_vf) and the shell quoting of
names in the scripts they generate."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shlex
import subprocess

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import netnames
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge as vb

HOSTILE = ['$(reboot)', '`id`', 'a;b', 'a|b', 'a&b', "a'b", 'a"b', 'a>b', 'x$IFS', 'a\\b', 'a*', '-x']

# Names real hosts have: udev predictable names, bonds and VLANs, OpenStack, Proxmox, Docker, CNI.
REAL = ['br-ex', 'br-int', 'vmbr0', 'bond0.100', 'enp0s2', 'eth0', 'ens1f0np0', 'tap3f0c2a1e-5b',
        'qvo3f0c2a1e-5b', 'tap100i0', 'fwbr100i0', 'virbr0', 'vnet12', 'docker0', 'flannel.1',
        'cali_1', 'wg0', 'a' * 15]


@pytest.mark.parametrize('name', REAL)
def test_real_names_are_valid(name):
    assert netnames.valid_ifname(name), netnames.ifname_problem(name)


@pytest.mark.parametrize('name, why', [
    ('', 'empty'),
    ('a' * 16, 'longer than 15 bytes'),
    ('.', 'reserved'),
    ('..', 'reserved'),
    ('eth0/1', 'the kernel refuses'),
    ('eth0:1', 'the kernel refuses'),
    ('eth 0', 'the kernel refuses'),
    ('eth0\n', 'the kernel refuses'),
    ('$(reboot)', 'no shell metacharacters'),
    ('a;b', 'no shell metacharacters'),
    ('-x', 'read as an option'),
    (None, 'not a string'),
    (7, 'not a string'),
])
def test_invalid_names_say_why(name, why):
    assert not netnames.valid_ifname(name)
    assert why in netnames.ifname_problem(name)


def test_messages_for_filters():
    assert netnames.ifname_errors('br-ex', 'x') == []
    msg = netnames.ifname_errors('$(reboot)', 'hvsec_vswitch_bridges[0].name')
    assert msg == ["hvsec_vswitch_bridges[0].name: '$(reboot)' is not a valid interface name (contains '$()': "
                   "only letters, digits, \"-\", \"_\" and \".\" are accepted (no shell metacharacters))"]


@pytest.mark.parametrize('vid, ok', [(1, True), (4094, True), (0, False), (4095, False), (True, False),
                                     ('100', False), (None, False)])
def test_vlan_rule(vid, ok):
    assert (netnames.vlan_problem(vid) is None) is ok
    assert (netnames.vlan_errors(vid, 'w') == []) is ok


def test_vlan_errors_message():
    assert netnames.vlan_errors([10, 5000], 'p.vlans') == ['p.vlans: VLAN 5000 is outside 1-4094']


# ----------------------------------------------------------------- the modules use the rule
@pytest.mark.parametrize('name', HOSTILE)
def test_netdev_rule_refuses_hostile_names(name):
    assert netnames.valid_ifname(name) is False


@pytest.mark.parametrize('name', HOSTILE)
def test_bridge_validation_refuses_shell_metacharacters(name):
    links = {name: {'kind': 'bridge', 'master': None}, 'vg1': {'kind': 'veth', 'master': name}}
    errors = vb.validate_bridges([{'name': name, 'ports': [{'name': 'vg1', 'vlans': [100]}]}], links)
    assert errors and 'is not a valid interface name' in errors[0], errors
    errors = vb.validate_bridges([{'name': 'br0', 'ports': [{'name': name, 'vlans': [100]}]}],
                                 {'br0': {'kind': 'bridge'}, name: {'kind': 'veth', 'master': 'br0'}})
    assert errors and 'is not a valid interface name' in errors[0], errors


# ----------------------------------------------------------------- generated scripts quote names
def _words(script):
    """Every word of every command line of a POSIX sh script (comments dropped)."""
    out = []
    for line in script.splitlines():
        out.extend(shlex.split(line, comments=True))
    return out


def test_boot_script_quotes_every_name():
    """Even a name that slipped past validation stays one word: it is never code."""
    evil = 'x;touch /tmp/p'
    spec = {'name': evil, 'guest_only': True, 'ports': [{'name': 'p$(id)', 'vlans': [100]}]}
    script = vb.render_boot_script(spec, '/etc/hvsec/vswitch/bridge-x.nft')
    words = _words(script)
    assert '/sys/class/net/%s/bridge' % evil in words
    assert 'p$(id)' in words and evil in words          # unquoted, the space would split it
    assert "'p$(id)'" in script and "'x;touch /tmp/p'" in script


def test_boot_script_of_a_normal_bridge_is_unchanged():
    spec = {'name': 'br-guest', 'guest_only': True, 'ports': [{'name': 'vg1', 'vlans': [100]}]}
    script = vb.render_boot_script(spec, '/etc/hvsec/vswitch/bridge-br-guest.nft')
    assert '[ -d /sys/class/net/br-guest/bridge ] || exit 0' in script
    assert 'bridge vlan add dev vg1 vid 100 pvid untagged' in script
    assert "'" not in script.replace("awk 'NR>1 {print ($1 ~ /^[0-9]/) ? $1 : $2}'", '')


@pytest.mark.skipif(not os.path.exists('/bin/sh'), reason='needs /bin/sh')
def test_boot_script_with_hostile_name_runs_nothing(tmp_path):
    """sh -n parses it, and running it (the bridge does not exist) executes no injected command."""
    marker = tmp_path / 'pwned'
    evil = 'b$(touch %s)' % marker
    script = vb.render_boot_script({'name': evil, 'guest_only': True, 'ports': []}, None)
    path = tmp_path / 'boot.sh'
    path.write_text(script)
    assert subprocess.call(['/bin/sh', '-n', str(path)]) == 0
    subprocess.call(['/bin/sh', str(path)])
    assert not marker.exists()


def test_port_script_quotes_the_port():
    script = vb.render_port_script('vo1$(id)', '/etc/hvsec/vswitch/port-vo1.nft')
    assert "[ -e '/sys/class/net/vo1$(id)' ] || exit 0" in script
    assert vb.render_port_script('vo1', '/etc/hvsec/vswitch/port-vo1.nft').splitlines()[-2:] == [
        '[ -e /sys/class/net/vo1 ] || exit 0', 'nft -f /etc/hvsec/vswitch/port-vo1.nft']
