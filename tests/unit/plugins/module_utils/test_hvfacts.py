# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gather_facts against fixture host roots (Intel VT-d, AMD-Vi, no IOMMU, iommu=pt)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import grp
import json
import os
import shutil

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate
from ansible_collections.hvsec.hypervisor.plugins.module_utils import facts_kernel
from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft


def gather(tmp_path, name, euid=0, calls=None, **kwargs):
    root = ft.build_root(name, tmp_path)
    facts = hvfacts.gather_facts(root, ft.fake_runner(name, calls), ft.fake_bin_path(name), euid=euid, **kwargs)
    json.dumps(facts)   # must be plain JSON data
    return facts


def note_for(facts, probe, path=None):
    return [n for n in facts['notes'] if n['probe'] == probe and (path is None or n['path'] == path)]


def device(facts, address):
    return [d for d in facts['pci']['devices'] if d['address'] == address][0]


@pytest.fixture(scope='module')
def intel(tmp_path_factory):
    calls = []
    facts = gather(tmp_path_factory.mktemp('intel'), 'intel_vtd', calls=calls)
    return facts, calls


# ---------------------------------------------------------------- Intel VT-d host
def test_intel_cpu_and_kvm(intel):
    facts = intel[0]
    assert facts['schema_version'] == 1
    assert facts['privileged'] is True
    cpu = facts['cpu']
    assert cpu['vendor'] == 'GenuineIntel'
    assert (cpu['virt_extension'], cpu['slat']) == ('vmx', 'ept')
    assert (cpu['logical_cpus'], cpu['physical_cores']) == (4, 2)
    assert cpu['smt_control'] == 'on' and cpu['smt_active'] is True
    assert cpu['vulnerabilities']['meltdown'] == 'Not affected'
    assert not any(v.startswith('Vulnerable') for v in cpu['vulnerabilities'].values())
    kvm = facts['kvm']
    assert kvm['dev_kvm'] is True
    assert kvm['modules'] == ['kvm', 'kvm_intel']
    assert kvm['nested'] is False
    assert kvm['nx_huge_pages'] == 'auto'
    assert kvm['params']['kvm_intel']['ept'] == 'Y'
    assert facts['ksm'] == {'run': 0, 'pages_shared': 0}
    assert facts['host']['mem_total_kib'] == 65756832
    assert facts['host']['os'] == {'id': 'debian', 'version_id': '12', 'id_like': []}


def test_intel_cmdline_quotes_repeats_and_init_args(intel):
    cmd = intel[0]['cmdline']
    keys = [a['key'] for a in cmd['args']]
    assert keys[:4] == ['BOOT_IMAGE', 'root', 'ro', 'quiet']
    assert {'key': 'dyndbg', 'value': 'file drivers/vfio/* +p'} in cmd['args']
    assert [a['value'] for a in cmd['args'] if a['key'] == 'console'] == ['ttyS0,115200n8', 'tty0']
    assert {'key': 'ro', 'value': None} in cmd['args']
    assert cmd['init_args'] == ['splash', 'single']
    assert cmd['raw'].endswith('-- splash single')


def test_intel_iommu(intel):
    iommu = intel[0]['iommu']
    assert iommu['firmware_table'] == 'DMAR'
    assert iommu['vendor'] == 'intel'
    assert iommu['units'] == ['dmar0']
    assert iommu['enabled'] is True
    assert iommu['interrupt_remapping'] is True
    assert 'IR-PCI-MSI' in iommu['interrupt_remapping_evidence']
    assert [g['id'] for g in iommu['groups']] == [0, 1, 2, 3, 4, 5, 6]
    assert set(g['type'] for g in iommu['groups']) == set(['DMA'])
    assert iommu['groups'][6]['devices'] == ['0000:00:1f.0', '0000:00:1f.2']


def test_intel_pci(intel):
    facts = intel[0]
    pf = device(facts, '0000:00:02.0')
    assert pf['driver'] == 'igb' and pf['net'] == ['eth1']
    assert (pf['sriov_totalvfs'], pf['sriov_numvfs'], pf['physfn']) == (7, 2, None)
    vf = device(facts, '0000:01:10.0')
    assert vf['driver'] == 'vfio-pci' and vf['driver_override'] == 'vfio-pci'
    assert vf['physfn'] == '0000:00:02.0' and vf['iommu_group'] == 4
    assert vf['sriov_totalvfs'] is None
    assert device(facts, '0000:01:10.2')['driver_override'] is None
    virtio = device(facts, '0000:00:01.0')
    assert virtio['net'] == ['eth0'] and virtio['vendor'] == '0x1af4'
    sata = device(facts, '0000:00:1f.2')
    assert sata['block'] == ['sda'] and sata['class'] == '0x010601'
    assert device(facts, '0000:00:00.0')['is_bridge'] is True
    assert device(facts, '0000:00:00.0')['driver'] is None
    assert device(facts, '0000:00:1c.0')['is_bridge'] is True
    assert device(facts, '0000:00:1f.0')['is_bridge'] is False   # ISA bridge 0x0601 is not a PCI bridge


def test_intel_vfio(intel):
    vfio = intel[0]['vfio']
    assert vfio['modules'] == ['vfio', 'vfio_pci', 'vfio_iommu_type1']
    assert vfio['params']['vfio_iommu_type1']['allow_unsafe_interrupts'] == 'N'
    assert vfio['params']['vfio']['enable_unsafe_noiommu_mode'] == 'N'
    assert {'file': '/etc/modprobe.d/vfio.conf', 'module': 'vfio_pci', 'option': 'ids',
            'value': '8086:10ca'} in vfio['modprobe_options']
    # continuation lines are joined
    assert {'file': '/etc/modprobe.d/kvm.conf', 'module': 'kvm_intel', 'option': 'enable_apicv',
            'value': '1'} in vfio['modprobe_options']
    assert vfio['dev_vfio'] == ['4', 'vfio']


def test_intel_network(intel):
    net = intel[0]['network']
    eth1 = [link for link in net['links'] if link['ifname'] == 'eth1'][0]
    assert eth1['vfs'][0] == {'vf': 0, 'mac': '52:54:00:aa:bb:01', 'vlan': 100, 'qos': 0, 'spoofchk': True,
                              'trust': False, 'rate': 0, 'link_state': 'auto'}
    assert eth1['vfs'][1]['spoofchk'] is False and eth1['vfs'][1]['trust'] is True
    assert eth1['vfs'][1]['vlan'] == 0
    macvtap = [link for link in net['links'] if link['ifname'] == 'macvtap0'][0]
    assert macvtap['kind'] == 'macvtap' and macvtap['macvtap_mode'] == 'bridge'
    vnet0 = [link for link in net['links'] if link['ifname'] == 'vnet0'][0]
    assert vnet0['master'] == 'br-guest'
    assert net['addresses']['eth0'] == ['10.0.2.15/24', 'fe80::5054:ff:fe12:3456/64']
    assert len(net['bridges']) == 1
    br = net['bridges'][0]
    assert br['name'] == 'br-guest'
    assert br['vlan_filtering'] is False
    assert br['ports'] == ['vnet0']
    assert br['addresses'] == ['192.168.50.1/24']          # link-local left out
    assert (br['ipv6_autoconf'], br['ipv6_accept_ra'], br['ipv6_disabled']) == (True, 1, False)
    assert br['proxy_arp'] is False
    # ip -j route show default: every interface a default route leaves through, for the lockout checks
    assert net['default_route_devs'] == ['br-guest', 'eth0']
    assert br['vlans']['vnet0'][1] == {'vlan': 100, 'pvid': False, 'untagged': False}
    ovs = net['ovs']
    assert ovs['managers'] == ['pssl:6641:127.0.0.1', 'ptcp:6640']
    assert ovs['bridges'][0]['name'] == 'ovsbr0'
    assert ovs['bridges'][0]['controllers'] == ['tcp:127.0.0.1:6653']
    assert ovs['bridges'][0]['fail_mode'] is None
    assert ovs['bridges'][0]['mirrors'] == ['mirror0']
    assert {'name': 'vnet1', 'tag': 100, 'trunks': [100, 200], 'vlan_mode': 'access'} in ovs['bridges'][0]['ports']


def test_network_without_default_route_output_or_ssh(tmp_path, monkeypatch):
    monkeypatch.setenv('SSH_CONNECTION', '192.0.2.50 51234 10.0.2.15 22')
    assert gather(tmp_path, 'intel_vtd')['network']['ssh_server_address'] == '10.0.2.15'
    monkeypatch.delenv('SSH_CONNECTION')
    facts = gather(tmp_path / 'amd', 'amd_vi')
    # no captured route output: an empty answer is no default route, not an unknown one
    assert facts['network']['default_route_devs'] == []
    assert facts['network']['ssh_server_address'] is None


def test_intel_libvirt(intel):
    lv = intel[0]['libvirt']
    assert lv['installed'] is True
    assert lv['config']['libvirtd']['listen_tcp'] == 1
    assert lv['config']['libvirtd']['auth_tcp'] == 'none'
    assert lv['config']['libvirtd']['listen_tls'] == 1            # default
    assert lv['config']['libvirtd']['access_drivers'] == ['polkit']
    assert lv['config']['virtproxyd']['listen_tcp'] == 0          # absent file: defaults
    assert lv['config_set']['virtproxyd'] == []
    qemu = lv['config']['qemu']
    assert qemu['vnc_listen'] == '0.0.0.0' and qemu['spice_listen'] == '127.0.0.1'
    assert qemu['security_driver'] == 'apparmor' and qemu['user'] == 'libvirt-qemu'
    assert qemu['dynamic_ownership'] == 1 and qemu['migrate_tls_force'] == 1
    assert qemu['vnc_tls_x509_verify'] == 0
    assert qemu['cgroup_device_acl'][-1] == '/dev/userfaultfd'
    assert 'vnc_listen' in lv['config_set']['qemu'] and 'dynamic_ownership' not in lv['config_set']['qemu']
    assert lv['config_errors'] == {}
    assert lv['sockets'] == {'libvirtd.socket': 'enabled', 'libvirtd-ro.socket': 'enabled',
                             'libvirtd-admin.socket': 'disabled', 'libvirtd-tcp.socket': 'enabled',
                             'libvirtd-tls.socket': 'masked', 'virtproxyd-tcp.socket': 'disabled'}
    assert lv['services'] == {'libvirtd.service': 'enabled'}
    # Debian 12's libvirtd.socket (SocketMode=0666) with a local drop-in setting the group
    assert lv['socket_units'] == {'libvirtd.socket': {
        'listen': ['/run/libvirt/libvirt-sock'], 'mode': '0666', 'mode_set': True, 'group': 'libvirt', 'user': None,
        'files': ['/lib/systemd/system/libvirtd.socket', '/etc/systemd/system/libvirtd.socket.d/50-group.conf']}}
    sock = lv['unix_sockets']['/run/libvirt/libvirt-sock']
    assert sock['mode'] == '0666' and sock['socket'] is True
    assert sock['group'] == grp.getgrgid(os.getgid()).gr_name     # the fixture's socket belongs to the test user
    assert lv['config']['virtqemud']['auth_unix_rw'] == 'polkit'  # absent file: defaults
    assert 'listen_tcp' not in lv['config']['virtqemud']
    assert lv['daemon_args'] == ['--timeout', '120']
    doms = dict((d['name'], d) for d in lv['domains'])
    assert sorted(doms) == ['guest1', 'guest2']
    g1 = doms['guest1']
    assert g1['running'] is True and g1['vcpus'] == 2 and g1['memory_kib'] == 2097152
    assert g1['hostdevs'] == [{'type': 'pci', 'mode': 'subsystem', 'managed': True, 'address': '0000:01:10.0'}]
    assert g1['interfaces'][0]['filterref'] == 'clean-traffic'
    assert g1['interfaces'][0]['target'] == 'vnet0'      # from the live /run status file
    assert g1['interfaces'][1]['type'] == 'network' and g1['interfaces'][1]['source'] == 'default'
    assert g1['graphics'][0]['listen'] == '0.0.0.0' and g1['graphics'][0]['port'] == 5900
    g2 = doms['guest2']
    assert g2['running'] is False and g2['vcpus'] == 8 and g2['memory_kib'] == 4 * 1024 * 1024
    assert g2['interfaces'][0]['type'] == 'direct' and g2['interfaces'][0]['mode'] == 'bridge'
    assert g2['graphics'][0] == {'type': 'spice', 'listen': None, 'autoport': True, 'port': None, 'passwd': False}
    assert lv['networks'] == [{'name': 'default', 'forward': 'nat', 'bridge': 'virbr0'}]
    assert lv['nwfilters'] == ['clean-traffic', 'no-mac-spoofing']


def test_intel_mgmt_plane(intel):
    facts = intel[0]
    listeners = facts['listeners']
    assert {'proto': 'tcp', 'address': '0.0.0.0', 'port': 22, 'process': 'sshd', 'pid': 612, 'uid': 0} in listeners
    assert {'proto': 'tcp', 'address': '::', 'port': 22, 'process': 'sshd', 'pid': 612, 'uid': 0} in listeners
    # socket-activated: systemd and libvirtd share the socket; the service is named
    assert {'proto': 'tcp', 'address': '0.0.0.0', 'port': 16509, 'process': 'libvirtd', 'pid': 700, 'uid': 0} in listeners
    assert [s['process'] for s in listeners if s['port'] == 5900] == ['qemu-system-x86']
    # pid 1 is kept when it is the only holder
    assert [(s['process'], s['pid']) for s in listeners if s['port'] == 111] == [('systemd', 1)]
    assert {'proto': 'udp', 'address': '127.0.0.1', 'port': 323, 'process': 'chronyd', 'pid': 650, 'uid': 104} in listeners
    unowned = [s for s in listeners if s['port'] == 631][0]
    assert (unowned['address'], unowned['process'], unowned['pid']) == ('::1', None, None)
    # the established connection and the connected UDP socket are not listeners
    assert not [s for s in listeners if s['address'] == '10.0.2.15']
    assert facts['processes'] == ['chronyd', 'libvirtd', 'qemu-system-x86', 'sshd', 'systemd']
    sshd = facts['sshd']
    assert sshd['error'] is None
    eff = sshd['effective']
    assert eff['permitrootlogin'] == 'without-password'
    assert eff['listenaddress'] == ['[::]:22', '0.0.0.0:22']
    assert eff['allowgroups'] == ['sshadmins', 'wheel']
    assert 'hmac-sha1' in eff['macs'] and eff['ciphers'][0] == 'chacha20-poly1305@openssh.com'
    nft = facts['nftables']
    assert nft['installed'] is True
    assert nft['tables'] == ['inet filter', 'ip libvirt_network', 'ip6 libvirt_network', 'inet hvsec_mgmt']
    mgmt = [t for t in nft['ruleset'] if t['name'] == 'hvsec_mgmt'][0]
    assert mgmt['family'] == 'inet' and [c['name'] for c in mgmt['chains']] == ['input']
    chain = mgmt['chains'][0]
    assert (chain['type'], chain['hook'], chain['priority'], chain['policy']) == ('filter', 'input', -10, 'accept')
    assert chain['rules'] == ['iif "lo" accept', 'tcp dport != @mgmt_tcp accept', 'ct state established,related accept',
                              'ip saddr @admin_v4 accept', 'ip6 saddr @admin_v6 accept',
                              'counter drop comment "hvsec: management port from a non-administrator address"']
    assert '-w /etc/libvirt -p wa -k libvirt' in facts['audit']['rules']
    assert facts['sysctl']['bridge_nf_call_iptables'] == 1 and facts['sysctl']['ip_forward'] == 1
    assert facts['security_module']['apparmor'] is True and facts['security_module']['selinux'] is False
    assert facts['time_sync'] == {'active': True, 'daemon': 'chronyd'}


def test_intel_each_tool_runs_once(intel):
    calls = intel[1]
    names = [os.path.basename(c[0]) + ' ' + c[1] for c in calls]
    assert len(names) == len(set(tuple(c) for c in calls))
    others = [c for c in calls if c[1:3] != ['-T', '-C']]
    assert sorted(os.path.basename(c[0]) for c in others) == ['bridge', 'ip', 'ip', 'ip', 'nft', 'ovs-vsctl', 'sshd']
    # sshd -T -C once per connection of interest: without administrator CIDRs, users or Match
    # blocks only root from an address outside (the fixture has no sshd_config: no Match block)
    assert [c[1:] for c in calls if c[1:3] == ['-T', '-C']] == \
        [['-T', '-C', 'user=root,host=203.0.113.7,addr=203.0.113.7,laddr=0.0.0.0,lport=22']]


def test_intel_only_expected_notes(intel):
    assert intel[0]['notes'] == [{'probe': 'libvirt', 'path': '/etc/libvirt/virtproxyd.conf', 'reason': 'not found'},
                                 {'probe': 'libvirt', 'path': '/etc/libvirt/virtqemud.conf', 'reason': 'not found'}]


# ---------------------------------------------------------------- AMD-Vi host
def test_amd_vi(tmp_path):
    facts = gather(tmp_path, 'amd_vi')
    assert facts['cpu']['vendor'] == 'AuthenticAMD'
    assert (facts['cpu']['virt_extension'], facts['cpu']['slat']) == ('svm', 'npt')
    assert facts['cpu']['physical_cores'] == 4 and facts['cpu']['smt_control'] == 'notsupported'
    assert facts['kvm']['modules'] == ['kvm', 'kvm_amd'] and facts['kvm']['nested'] is True
    iommu = facts['iommu']
    assert (iommu['firmware_table'], iommu['vendor'], iommu['units']) == ('IVRS', 'amd', ['ivhd0'])
    assert iommu['interrupt_remapping'] is True
    assert [g['type'] for g in iommu['groups']] == ['DMA', 'DMA', 'DMA-FQ']
    assert iommu['groups'][0]['devices'] == ['0000:00:00.0', '0000:00:00.2']
    nvme = device(facts, '0000:01:00.0')
    assert nvme['block'] == ['nvme0n1'] and nvme['driver'] == 'nvme'
    assert device(facts, '0000:02:00.0')['sriov_numvfs'] == 0
    assert facts['host']['os']['id'] == 'rocky' and facts['host']['os']['id_like'] == ['rhel', 'centos', 'fedora']
    assert {'key': 'amd_iommu', 'value': 'on'} in facts['cmdline']['args']
    # tools: sshd fails without host keys, nft is denied, ovs and bridge absent
    assert facts['sshd'] == {'effective': None, 'error': 'sshd: no hostkeys available -- exiting.'}
    assert facts['nftables'] == {'installed': True, 'tables': None, 'ruleset': None}
    assert note_for(facts, 'nftables')[0]['reason'] == 'permission denied'
    assert facts['network']['ovs'] is None
    assert note_for(facts, 'network', 'ovs-vsctl')[0]['reason'] == 'not installed'
    assert facts['network']['bridges'] == []
    assert facts['libvirt']['installed'] is False and facts['libvirt']['config'] is None
    assert facts['audit']['rules'] == []
    assert facts['time_sync'] == {'active': True, 'daemon': 'ntpd'}
    assert facts['vfio']['modules'] == [] and facts['vfio']['dev_vfio'] == []


def test_amd_vi_unprivileged_sshd_is_permission_denied(tmp_path):
    facts = gather(tmp_path, 'amd_vi', euid=1000, gather=['sshd'])
    assert facts['privileged'] is False
    assert facts['sshd']['effective'] is None and 'no hostkeys' in facts['sshd']['error']
    assert note_for(facts, 'sshd') == [{'probe': 'sshd', 'path': '/usr/sbin/sshd', 'reason': 'permission denied'}]


def test_amd_vi_privileged_sshd_failure_keeps_its_reason(tmp_path):
    facts = gather(tmp_path, 'amd_vi', gather=['sshd'])
    assert note_for(facts, 'sshd')[0]['reason'] == 'failed (rc=255): sshd: no hostkeys available -- exiting.'


# ---------------------------------------------------------------- host without IOMMU
def test_no_iommu(tmp_path):
    facts = gather(tmp_path, 'no_iommu')
    iommu = facts['iommu']
    assert iommu['firmware_table'] is None and iommu['vendor'] is None
    assert iommu['units'] == [] and iommu['groups'] == [] and iommu['enabled'] is False
    assert iommu['interrupt_remapping'] is False
    assert facts['cpu']['slat'] is None and facts['cpu']['virt_extension'] == 'vmx'
    assert facts['cpu']['vulnerabilities']['mds'].startswith('Vulnerable')
    assert facts['ksm']['run'] == 1 and facts['ksm']['pages_shared'] == 18211
    assert facts['kvm']['nested'] is True and facts['kvm']['nx_huge_pages'] == 'off'
    assert {'key': 'intel_iommu', 'value': 'off'} in facts['cmdline']['args']
    assert {'key': 'pcie_acs_override', 'value': 'downstream,multifunction'} in facts['cmdline']['args']
    gpu = device(facts, '0000:01:00.0')
    assert gpu['driver'] == 'vfio-pci' and gpu['iommu_group'] is None
    assert facts['vfio']['params']['vfio_iommu_type1']['allow_unsafe_interrupts'] == 'Y'
    assert {'file': '/etc/modprobe.d/vfio.conf', 'module': 'vfio', 'option': 'enable_unsafe_noiommu_mode',
            'value': '1'} in facts['vfio']['modprobe_options']
    # vfio loaded but /dev/vfio missing: null + note
    assert facts['vfio']['dev_vfio'] is None and note_for(facts, 'vfio', '/dev/vfio')
    # malformed qemu.conf: error evidence, no guessed values; other files still parsed
    lv = facts['libvirt']
    assert lv['config']['qemu'] is None
    assert 'unterminated list' in lv['config_errors']['qemu']
    assert lv['config']['libvirtd']['listen_tcp'] == 0 and lv['config_set']['libvirtd'] == []
    assert lv['config']['virtproxyd']['listen_tcp'] == 1 and lv['config']['virtproxyd']['auth_tcp'] == 'none'
    assert lv['domains'] == [] and 'XML parse error' in lv['domain_errors']['/etc/libvirt/qemu/broken.xml']
    assert lv['nwfilters'] == []
    # broken ip output and failing ovs-vsctl: null + notes, never an exception
    assert facts['network']['links'] is None
    assert 'invalid JSON' in note_for(facts, 'network', 'ip -j -d link show')[0]['reason']
    assert facts['network']['ovs'] is None
    assert 'database connection failed' in note_for(facts, 'network', '/usr/sbin/ovs-vsctl')[0]['reason']
    assert facts['sshd']['effective']['ciphers'] == ['aes128-cbc', 'aes256-ctr']
    assert facts['nftables'] == {'installed': False, 'tables': None, 'ruleset': None}
    assert facts['time_sync'] == {'active': False, 'daemon': None}
    assert {'proto': 'tcp', 'address': '0.0.0.0', 'port': 6640, 'process': 'ovsdb-server', 'pid': 310,
            'uid': 0} in facts['listeners']
    assert facts['sysctl']['bridge_nf_call_iptables'] is None
    assert note_for(facts, 'sysctl', '/proc/sys/net/bridge/bridge-nf-call-iptables')[0]['reason'] == 'not found'
    assert facts['audit']['rules'] is None and note_for(facts, 'audit')


# ---------------------------------------------------------------- iommu=pt host
def test_iommu_pt(tmp_path):
    facts = gather(tmp_path, 'iommu_pt')
    iommu = facts['iommu']
    assert iommu['units'] == ['dmar0', 'dmar1'] and iommu['vendor'] == 'intel'
    assert set(g['type'] for g in iommu['groups']) == set(['identity'])
    assert iommu['interrupt_remapping'] is True
    assert iommu['interrupt_remapping_evidence'] == 'IR-IO-APIC, IR-PCI-MSIX in /proc/interrupts'
    assert {'key': 'iommu', 'value': 'pt'} in facts['cmdline']['args']
    assert facts['cpu']['smt_control'] == 'off' and facts['cpu']['smt_active'] is False
    assert facts['time_sync'] == {'active': True, 'daemon': 'systemd-timesyncd'}
    assert facts['listeners'] == []
    lv = facts['libvirt']
    assert lv['installed'] is True
    assert lv['config']['qemu']['vnc_listen'] == '127.0.0.1' and lv['config_set']['qemu'] == []
    assert lv['domains'] == [] and lv['networks'] == []
    assert facts['sshd'] is None and note_for(facts, 'sshd')[0]['reason'] == 'not installed'


# ---------------------------------------------------------------- robustness
def test_empty_root_never_raises(tmp_path):
    facts = hvfacts.gather_facts(str(tmp_path), None, None, euid=1000)
    assert facts['privileged'] is False
    assert facts['cpu']['vendor'] is None and facts['cmdline']['raw'] is None
    assert facts['iommu']['enabled'] is None
    assert facts['pci']['devices'] is None
    assert facts['libvirt']['installed'] is False
    assert facts['listeners'] is None
    assert not [n for n in facts['notes'] if n['reason'].startswith('internal error')]
    assert len(facts['notes']) > 10


def test_gather_subset(tmp_path):
    calls = []
    facts = gather(tmp_path, 'intel_vtd', calls=calls, gather=['iommu', 'cmdline'])
    assert sorted(k for k in facts if k not in ('schema_version', 'privileged', 'notes')) == ['cmdline', 'host', 'iommu']
    assert calls == []


def test_probe_exception_becomes_note(tmp_path, monkeypatch):
    def boom(ctx):
        raise RuntimeError('kaput')
    monkeypatch.setattr(facts_kernel, 'probe_ksm', boom)
    facts = gather(tmp_path, 'intel_vtd', gather=['ksm'])
    assert facts['ksm'] is None
    assert note_for(facts, 'ksm') == [{'probe': 'ksm', 'path': None, 'reason': 'internal error: RuntimeError: kaput'}]


def test_permission_denied_is_reported(tmp_path, monkeypatch):
    """Unprivileged run: root-only files and other users' /proc/PID/fd are denied."""
    root = ft.build_root('intel_vtd', tmp_path)
    denied_files = ('/etc/libvirt/qemu.conf', '/sys/module/kvm_intel/parameters/nested')
    denied_dirs = ('/etc/audit/rules.d', '/proc/612/fd', '/run/libvirt/qemu')
    real_open = open
    real_listdir = os.listdir

    def fake_open(path, *args, **kwargs):
        if any(path == os.path.join(root, p.lstrip('/')) for p in denied_files):
            raise IOError(errno.EACCES, 'Permission denied', path)
        return real_open(path, *args, **kwargs)

    def fake_listdir(path):
        if any(path == os.path.join(root, p.lstrip('/')) for p in denied_dirs):
            raise OSError(errno.EACCES, 'Permission denied', path)
        return real_listdir(path)

    monkeypatch.setattr(hvfacts, 'open', fake_open, raising=False)
    monkeypatch.setattr(hvfacts.os, 'listdir', fake_listdir)
    facts = hvfacts.gather_facts(root, ft.fake_runner('intel_vtd'), ft.fake_bin_path('intel_vtd'), euid=1000)
    assert facts['privileged'] is False
    assert facts['libvirt']['config']['qemu'] is None
    assert facts['libvirt']['config']['libvirtd']['listen_tcp'] == 1
    assert note_for(facts, 'libvirt', '/etc/libvirt/qemu.conf')[0]['reason'] == 'permission denied'
    assert 'nested' not in facts['kvm']['params']['kvm_intel'] and facts['kvm']['nested'] is None
    assert note_for(facts, 'kvm', '/sys/module/kvm_intel/parameters/nested')[0]['reason'] == 'permission denied'
    assert facts['audit']['rules'] is None
    assert note_for(facts, 'audit', '/etc/audit/rules.d')[0]['reason'] == 'permission denied'
    ssh = [s for s in facts['listeners'] if s['port'] == 22]
    assert ssh and all(s['process'] is None for s in ssh)
    assert note_for(facts, 'listeners', '/proc/*/fd')[0]['reason'] == 'permission denied'
    # running domains unreadable: defined ones still listed, their running state unknown
    assert note_for(facts, 'libvirt', '/run/libvirt/qemu')[0]['reason'] == 'permission denied'
    assert [d['running'] for d in facts['libvirt']['domains']] == [None, None]


# ---------------------------------------------------------------- modular libvirt daemons
LIBVIRT_FIX = os.path.join(ft.FIXTURES, 'libvirt')
ROLE_DROPIN = '[Socket]\nSocketGroup=libvirt\nSocketMode=0660\n'   # what mgmt_plane writes (HVS-MGMT-03)


def _modular_root(tmp_path, virtqemud_extra=''):
    """A host on the modular daemons (Fedora / RHEL 9 layout): virtqemud and virtproxyd sockets
    enabled from /usr/lib/systemd/system, libvirtd.conf present but its daemon not in use."""
    root = str(tmp_path / 'modular')
    units = os.path.join(root, 'usr/lib/systemd/system')
    wants = os.path.join(root, 'etc/systemd/system/sockets.target.wants')
    for path in (units, wants, os.path.join(root, 'etc/libvirt')):
        os.makedirs(path)
    for unit in ('virtqemud.socket', 'virtqemud-ro.socket', 'virtproxyd.socket', 'virtproxyd-ro.socket'):
        shutil.copy(os.path.join(LIBVIRT_FIX, 'units', 'modular', unit), units)
        os.symlink('/usr/lib/systemd/system/' + unit, os.path.join(wants, unit))
    with open(os.path.join(LIBVIRT_FIX, 'virtqemud.conf')) as src:
        text = src.read()
    with open(os.path.join(root, 'etc/libvirt/virtqemud.conf'), 'w') as dst:
        dst.write(text + virtqemud_extra)
    with open(os.path.join(root, 'etc/libvirt/libvirtd.conf'), 'w') as dst:
        dst.write('audit_logging = 1\naccess_drivers = [ "polkit" ]\n')
    return root


def _dropin(root, directory, unit, name, text):
    path = os.path.join(root, directory.lstrip('/'), unit + '.d')
    if not os.path.isdir(path):
        os.makedirs(path)
    with open(os.path.join(path, name), 'w') as handle:
        handle.write(text)


def _audit(facts, *cids):
    results = evaluate.evaluate(facts, {}, [], controls=[BY_ID[c] for c in cids])
    return dict((r['id'], (r['status'], r['evidence'])) for r in results)


def test_modular_daemons_facts(tmp_path):
    root = _modular_root(tmp_path)
    _dropin(root, '/etc/systemd/system', 'virtqemud.socket', 'hvsec.conf', ROLE_DROPIN)
    _dropin(root, '/run/systemd/system', 'virtqemud.socket', 'hvsec.conf', '[Socket]\nSocketMode=0666\n')  # hidden by /etc
    _dropin(root, '/usr/lib/systemd/system', 'virtqemud.socket', 'zz-local.conf', '[Socket]\nSocketMode=0600\n')
    lv = hvfacts.gather_facts(root, None, lambda name: None, euid=0, gather=['libvirt'])['libvirt']
    assert lv['sockets'] == {'virtqemud.socket': 'enabled', 'virtqemud-ro.socket': 'enabled',
                             'virtproxyd.socket': 'enabled', 'virtproxyd-ro.socket': 'enabled'}
    assert lv['services'] == {}
    qemud = lv['socket_units']['virtqemud.socket']
    # drop-ins in name order; /etc's hvsec.conf hides /run's; zz-local.conf comes last
    assert qemud['files'] == ['/usr/lib/systemd/system/virtqemud.socket', '/etc/systemd/system/virtqemud.socket.d/hvsec.conf',
                              '/usr/lib/systemd/system/virtqemud.socket.d/zz-local.conf']
    assert (qemud['mode'], qemud['group'], qemud['listen']) == ('0600', 'libvirt', ['/run/libvirt/virtqemud-sock'])
    proxy = lv['socket_units']['virtproxyd.socket']
    assert (proxy['mode'], proxy['group'], proxy['listen']) == ('0666', None, ['/run/libvirt/libvirt-sock'])
    assert lv['config']['virtqemud']['audit_logging'] == 0 and lv['config_set']['virtqemud'] == []
    assert lv['unix_sockets'] == {}


def test_modular_daemons_evaluated_from_their_own_files(tmp_path):
    facts = hvfacts.gather_facts(_modular_root(tmp_path), None, lambda name: None, euid=0, gather=['libvirt'])
    res = _audit(facts, 'HVS-MGMT-03', 'HVS-MGMT-04', 'HVS-MGMT-20')
    # stock files: polkit authorizes every connection on the 0666 sockets
    assert res['HVS-MGMT-03'][0] == 'pass'
    assert 'virtqemud auth_unix_rw=polkit (socket 0666 group root from virtqemud.socket' in res['HVS-MGMT-03'][1]
    assert 'virtproxyd auth_unix_rw=polkit' in res['HVS-MGMT-03'][1] and 'libvirtd' not in res['HVS-MGMT-03'][1]
    # libvirtd.conf has audit and polkit, but the QEMU driver runs in virtqemud
    assert res['HVS-MGMT-20'] == ('fail', 'libvirt audit: virtqemud audit_logging=0')
    assert res['HVS-MGMT-04'] == ('fail', 'no polkit access driver: virtqemud access_drivers=[]')


def test_modular_daemons_hardened_and_unauthenticated(tmp_path):
    root = _modular_root(tmp_path, 'audit_logging = 1\naccess_drivers = [ "polkit" ]\nauth_unix_rw = "none"\n')
    facts = hvfacts.gather_facts(root, None, lambda name: None, euid=0, gather=['libvirt'])
    res = _audit(facts, 'HVS-MGMT-03', 'HVS-MGMT-04', 'HVS-MGMT-20')
    assert res['HVS-MGMT-20'] == ('pass', 'virtqemud.conf: audit_level on and audit_logging=1')
    assert res['HVS-MGMT-04'][0] == 'pass'
    # without polkit the unit's SocketMode=0666 lets every local user in
    assert res['HVS-MGMT-03'][0] == 'fail'
    assert 'virtqemud auth_unix_rw=none and unix_sock_rw_perms=0666 (from virtqemud.socket' in res['HVS-MGMT-03'][1]
    # the role's drop-in (and the socket it leaves) fixes it
    _dropin(root, '/etc/systemd/system', 'virtqemud.socket', 'hvsec.conf', ROLE_DROPIN)
    ft.make_socket(os.path.join(root, 'run/libvirt/virtqemud-sock'), 0o660)
    facts = hvfacts.gather_facts(root, None, lambda name: None, euid=0, gather=['libvirt'])
    assert facts['libvirt']['unix_sockets']['/run/libvirt/virtqemud-sock']['mode'] == '0660'
    assert _audit(facts, 'HVS-MGMT-03')['HVS-MGMT-03'][0] == 'pass'
