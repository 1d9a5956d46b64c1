# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluators of the vswitch area: Linux bridges, Open vSwitch, guest anti-spoofing, macvtap.

Each function judges one control and is named as the ``evaluator`` of its record in
``controls/vswitch.yml``; ``EVALUATORS`` maps those names to the functions.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.hvsec.hypervisor.plugins.module_utils import nft as nft_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_bridge import nft_port_table_name
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.eval_common import (
    evaluator_table, fact_if_present, Unknown, get_fact, opt_fact, truthy, to_int, fmt_list, outcome, libvirt_installed, na_without_libvirt,
    libvirt_domains,
)


def _declared_bridges(settings, guest_only=False):
    out = []
    for item in settings.get('hvsec_vswitch_bridges') or []:
        if not isinstance(item, dict) or not item.get('name'):
            continue
        if guest_only and not item.get('guest_only', True):
            continue
        out.append(item)
    return out


def _bridge_check(facts, settings, guest_only, test, ok_msg, fail_prefix):
    declared = _declared_bridges(settings, guest_only)
    if not declared:
        return ('not_applicable', 'no %sbridge declared in hvsec_vswitch_bridges' % ('guest-only ' if guest_only else ''))
    present = dict((b.get('name'), b) for b in get_fact(facts, 'network.bridges'))
    bad = []
    for item in declared:
        bridge = present.get(item['name'])
        if bridge is None:
            bad.append('%s missing' % item['name'])
            continue
        problem = test(item, bridge)
        if problem:
            bad.append('%s %s' % (item['name'], problem))
    return outcome(bad, ok_msg % fmt_list(i['name'] for i in declared), fail_prefix)


def _ovs(facts):
    return fact_if_present(facts, 'network.ovs')


def _ovs_target(target, s):
    """(ok, text) of an OVSDB manager or OpenFlow controller target, by the rule ovs_security
    applies (vswitch_ovs.classify_target / target_allowed): a loopback-only plain-TCP target is
    ok while hvsec_vswitch_ovs_allow_loopback_tcp is true, and the text says so."""
    allow = s.get(vswitch_ovs.POLICY_VAR, vswitch_ovs.POLICY_DEFAULT)
    kind, why = vswitch_ovs.classify_target(target)
    ok = vswitch_ovs.target_allowed(target, allow)
    if kind == 'loopback' and ok:
        return True, '%s (loopback-only plain TCP, %s; allowed by %s)' % (target, why, vswitch_ovs.POLICY_VAR)
    if kind == 'loopback':
        return False, '%s (%s; %s is false)' % (target, why, vswitch_ovs.POLICY_VAR)
    if kind == 'plain':
        return False, '%s (%s)' % (target, why)
    return ok, '%s' % (target,)


def _guest_nics(facts, types=('bridge', 'network')):
    out = []
    for dom in libvirt_domains(facts):
        for nic in dom.get('interfaces') or []:
            if nic.get('type') in types:
                out.append((dom.get('name'), nic))
    return out


def _spoof_ports(settings):
    """Declared guest ports that get MAC/IP anti-spoofing tables: (kind, bridge, port) with
    kind ``bridge`` (a Linux bridge port, hvsec_vswitch_bridges) or ``ovs`` (hvsec_vswitch_ovs_ports)."""
    out = []
    for bridge in _declared_bridges(settings):
        for port in bridge.get('ports') or []:
            if isinstance(port, dict) and port.get('name') and port.get('mac'):
                out.append(('bridge', bridge['name'], port))
    for port in settings.get('hvsec_vswitch_ovs_ports') or []:
        if isinstance(port, dict) and port.get('name') and port.get('mac'):
            out.append(('ovs', None, port))
    return out


def _port_rules(ruleset, kind, name):
    """The nftables rules that see frames entering port ``name``, its iifname condition removed.

    netdev ingress chains bound to the port (nft 1.0.6 does not report a netdev chain's device
    in JSON: then the chain counts when its table is the one the vswitch role names after the
    port) and, for a Linux bridge port, bridge-family prerouting rules that match its iifname.
    """
    prefix = 'iifname "%s" ' % name
    rules = []
    for table, chain in nft_utils.base_chains(ruleset, 'netdev', ('ingress',)):
        devices = chain.get('devices')
        if name in (devices or []) or (devices is None and table.get('name') == nft_port_table_name(name)):
            rules.extend(r[len(prefix):] if r.startswith(prefix) else r for r in chain.get('rules') or []
                         if r.startswith(prefix) or not r.startswith('iifname '))
    if kind == 'bridge':
        for dummy, chain in nft_utils.base_chains(ruleset, 'bridge', ('prerouting',)):
            rules.extend(r[len(prefix):] for r in chain.get('rules') or [] if r.startswith(prefix))
    return rules


def _drops_other_than(rules, match, allowed):
    """True when a rule ``MATCH != VALUES (counter) drop|reject`` has VALUES within ``allowed``."""
    for rule in rules:
        words = rule.split(' != ', 1)
        if len(words) != 2 or words[0] != match:
            continue
        rest = words[1]
        for verdict in (' counter drop', ' counter reject', ' drop', ' reject'):  # longest ending first
            if rest.endswith(verdict):
                values = rest[:-len(verdict)].strip()
                break
        else:
            continue
        values = values[1:-1] if values.startswith('{') and values.endswith('}') else values
        items = set(_norm_addr_value(v) for v in values.split(',') if v.strip())
        if items and items <= set(_norm_addr_value(a) for a in allowed):
            return True
    return False


def _norm_addr_value(value):
    """Canonical text of an address, prefix or MAC, so that nft's output compares with declarations."""
    value = str(value).strip().lower()
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return value
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _spoof_problems(rules, port):
    """What the rules of a port with a declared MAC (and IPs) do not enforce."""
    mac = str(port.get('mac')).lower()
    ips = [str(i).lower() for i in port.get('ips') or []]
    v4 = set(i for i in ips if ':' not in i)
    v6 = set(i for i in ips if ':' in i)
    problems = []
    if not _drops_other_than(rules, 'ether saddr', set([mac])):
        problems.append('no rule drops source MAC other than %s' % mac)
    if ips:
        for family, ether, addrs, extra in (('ip', 'ip', v4, set()), ('ip6', 'ip6', v6, set(['fe80::/10']))):
            if addrs and not _drops_other_than(rules, '%s saddr' % family, addrs | extra):
                problems.append('no rule drops %s source other than %s' % (family, fmt_list(sorted(addrs))))
            if not addrs and 'ether type %s drop' % ether not in rules:
                problems.append('%s not dropped (no %s address declared)' % (ether, family))
    return problems


def _spoof_check(facts, s):
    """(checked count, failures) for the declared ports' anti-spoofing tables."""
    ports = _spoof_ports(s)
    if not ports:
        return 0, []
    nft = get_fact(facts, 'nftables')
    if not nft.get('installed'):
        return len(ports), ['nftables not installed: no anti-spoofing for %s' % fmt_list(p['name'] for k, b, p in ports)]
    ruleset = nft.get('ruleset')
    if ruleset is None:
        raise Unknown('nftables.ruleset')
    bad = []
    for kind, bridge, port in ports:
        problems = _spoof_problems(_port_rules(ruleset, kind, port['name']), port)
        if problems:
            bad.append('port %s%s: %s' % (port['name'], ' (%s)' % bridge if bridge else ' (OVS)', '; '.join(problems)))
    return len(ports), bad


def bridge_vlan_filtering(facts, s, control):
    """HVS-VSW-01: VLAN filtering on guest bridges."""
    def test(item, bridge):
        problems = []
        if item.get('vlan_filtering', True) is not False and bridge.get('vlan_filtering') is not True:
            problems.append('vlan_filtering off')
        ports = item.get('ports') or []
        if ports:
            vlans = bridge.get('vlans')
            if vlans is None:
                raise Unknown('network.bridges[%s].vlans' % item['name'])
            for port in ports:
                have = set(to_int(v.get('vlan')) for v in vlans.get(port.get('name')) or [])
                missing = [str(v) for v in port.get('vlans') or [] if to_int(v) not in have]
                if missing:
                    problems.append('port %s lacks VLAN %s' % (port.get('name'), ','.join(missing)))
                if port.get('pvid') is not None:
                    pvids = [to_int(v.get('vlan')) for v in vlans.get(port.get('name')) or [] if v.get('pvid')]
                    if to_int(port['pvid']) not in pvids:
                        problems.append('port %s pvid %s not set' % (port.get('name'), port['pvid']))
        return '; '.join(problems)
    return _bridge_check(facts, s, False, test, 'VLAN filtering as declared on %s', 'bridge')


def guest_bridge_no_host_ip(facts, s, control):
    """HVS-VSW-02: No host IP address on guest-only bridges."""
    def test(item, bridge):
        if bridge.get('addresses') is None:
            raise Unknown('network.addresses')
        addrs = [a for a in bridge['addresses'] if not str(a).lower().startswith('fe80:')]
        return 'has host address %s' % fmt_list(addrs) if addrs else None
    return _bridge_check(facts, s, True, test, 'no host address on %s', 'guest-only bridge')


def guest_bridge_no_ipv6_autoconf(facts, s, control):
    """HVS-VSW-03: No IPv6 autoconfiguration on guest-only bridges."""
    def test(item, bridge):
        if bridge.get('ipv6_disabled') is True:
            return None
        autoconf, accept_ra = bridge.get('ipv6_autoconf'), bridge.get('ipv6_accept_ra')
        if autoconf is None and accept_ra is None:
            raise Unknown('network.bridges[%s].ipv6_autoconf' % item['name'])
        problems = []
        if truthy(autoconf):
            problems.append('autoconf on')
        if to_int(accept_ra, 0):
            problems.append('accept_ra=%s' % accept_ra)
        return ', '.join(problems)
    return _bridge_check(facts, s, True, test, 'no IPv6 autoconfiguration on %s', 'guest-only bridge')


def bridge_proxy_arp_off(facts, s, control):
    """HVS-VSW-04: Proxy ARP off on guest bridges."""
    def test(item, bridge):
        return 'proxy_arp on' if truthy(bridge.get('proxy_arp')) else None
    return _bridge_check(facts, s, False, test, 'proxy ARP off on %s', 'bridge')


def ovs_manager_not_plain_tcp(facts, s, control):
    """HVS-VSW-05: No plain-TCP OVSDB manager listener."""
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    managers = ovs.get('managers')
    if managers is None:
        raise Unknown('network.ovs.managers')
    judged = [_ovs_target(m, s) for m in managers]
    bad = [text for ok, text in judged if not ok]
    return outcome(bad, 'managers: %s' % (fmt_list(text for ok, text in judged) or 'none'), 'plain-TCP OVSDB manager')


def ovs_controller_not_plain_tcp(facts, s, control):
    """HVS-VSW-06: No plain-TCP OpenFlow controller or listener."""
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    bad = []
    kept = []
    for bridge in ovs.get('bridges') or []:
        for target in bridge.get('controllers') or []:
            ok, text = _ovs_target(target, s)
            if not ok:
                bad.append('%s %s' % (bridge.get('name'), text))
            elif vswitch_ovs.classify_target(target)[0] == 'loopback':
                kept.append('%s %s' % (bridge.get('name'), text))
    ok_msg = 'no plain-TCP OpenFlow target reachable beyond the host on %d bridge(s)' % len(ovs.get('bridges') or [])
    return outcome(bad, ok_msg + ('; %s' % fmt_list(kept) if kept else ''), 'plain-TCP OpenFlow')


def ovs_fail_mode_secure(facts, s, control):
    """HVS-VSW-07: fail_mode secure on OVS bridges with a controller."""
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    with_ctl = [b for b in ovs.get('bridges') or [] if b.get('controllers')]
    if not with_ctl:
        return ('not_applicable', 'no OVS bridge has a controller')
    bad = ['%s (fail_mode %s)' % (b.get('name'), b.get('fail_mode')) for b in with_ctl if b.get('fail_mode') != 'secure']
    return outcome(bad, 'fail_mode secure on %s' % fmt_list(b.get('name') for b in with_ctl), 'not secure')


def ovs_mirrors_declared(facts, s, control):
    """HVS-VSW-08: No undeclared OVS port mirrors."""
    ovs = _ovs(facts)
    if ovs is None:
        return ('not_applicable', 'Open vSwitch not installed')
    allowed = set(str(m) for m in s.get('hvsec_vswitch_ovs_allowed_mirrors') or [])
    bad = []
    for bridge in ovs.get('bridges') or []:
        bad.extend('%s on %s' % (m, bridge.get('name')) for m in bridge.get('mirrors') or [] if str(m) not in allowed)
    return outcome(bad, 'no undeclared mirror', 'undeclared mirror')


def ovs_ports_tagged(facts, s, control):
    """HVS-VSW-09: OVS guest ports tagged with their declared VLAN."""
    declared = [p for p in s.get('hvsec_vswitch_ovs_ports') or [] if isinstance(p, dict) and p.get('name')]
    if not declared:
        return ('not_applicable', 'hvsec_vswitch_ovs_ports is empty')
    ovs = _ovs(facts)
    if ovs is None:
        return ('fail', 'ports declared but Open vSwitch not installed')
    present = {}
    for bridge in ovs.get('bridges') or []:
        for port in bridge.get('ports') or []:
            present[port.get('name')] = port
    bad = []
    for want in declared:
        port = present.get(want['name'])
        if port is None:
            bad.append('%s missing' % want['name'])
        elif to_int(port.get('tag')) != to_int(want.get('tag')):
            bad.append('%s tag %s, declared %s' % (want['name'], port.get('tag'), want.get('tag')))
    return outcome(bad, '%d declared port(s) tagged' % len(declared), 'OVS port')


def guest_nics_antispoof(facts, s, control):
    """HVS-VSW-10: Anti-spoofing nwfilter on every guest interface."""
    # libvirt guest interfaces carry the nwfilter (libvirt instantiates it with ebtables/iptables);
    # ports the administrator declared with a MAC have the role's nftables anti-spoofing rules loaded.
    want = s.get('hvsec_vswitch_nwfilter') or 'clean-traffic'
    nics = []
    if libvirt_installed(facts):
        nics = _guest_nics(facts)
    ports, port_bad = _spoof_check(facts, s)
    if not nics and not ports:
        if not libvirt_installed(facts):
            return ('not_applicable', 'libvirt is not installed and no port declares a MAC')
        return ('not_applicable', 'no bridge/network guest interface defined and no port declares a MAC')
    bad = ['%s %s (%s)' % (dom, nic.get('mac') or nic.get('source'), nic.get('filterref') or 'no filter')
           for dom, nic in nics if nic.get('filterref') != want]
    done = []
    if nics:
        done.append('%d guest interface(s) filtered by %s' % (len(nics), want))
    if ports:
        done.append('%d declared port(s) with nftables MAC/IP anti-spoofing' % ports)
    if bad or port_bad:
        parts = []
        if bad:
            parts.append('not filtered by %s: %s' % (want, fmt_list(bad)))
        if port_bad:
            parts.append(fmt_list(port_bad))
        return ('fail', '; '.join(parts))
    return ('pass', '; '.join(done))


def macvtap_not_bridge_mode(facts, s, control):
    """HVS-VSW-11: macvtap interfaces not in bridge mode where isolation is wanted."""
    if not s.get('hvsec_vswitch_macvtap_isolation', True):
        return ('not_applicable', 'hvsec_vswitch_macvtap_isolation is false')
    na = na_without_libvirt(facts)
    if na:
        return na
    nics = _guest_nics(facts, ('direct',))
    if not nics:
        return ('not_applicable', 'no macvtap (direct) guest interface')
    bad = ['%s %s' % (dom, nic.get('source')) for dom, nic in nics if str(nic.get('mode') or 'vepa').lower() == 'bridge']
    return outcome(bad, '%d macvtap interface(s), none in bridge mode' % len(nics), 'macvtap bridge mode')


def bridge_netfilter_on(facts, s, control):
    """HVS-VSW-12: Guest bridge traffic passes the host firewall (br_netfilter)."""
    bridges = set(b.get('name') for b in opt_fact(facts, 'network.bridges') or [])
    nets = dict((n.get('name'), n.get('bridge')) for n in opt_fact(facts, 'libvirt.networks') or [])
    filtered = []
    for dom, nic in _guest_nics(facts):
        if not nic.get('filterref'):
            continue
        source = nic.get('source')
        bridge = nets.get(source) if nic.get('type') == 'network' else source
        if bridge in bridges:
            filtered.append(bridge)
    if not filtered:
        return ('not_applicable', 'no filtered guest interface on a Linux bridge')
    value = fact_if_present(facts, 'sysctl.bridge_nf_call_iptables')
    if value is None:
        return ('fail', 'br_netfilter not loaded: nwfilter IP rules do not see bridged traffic on %s' % fmt_list(sorted(set(filtered))))
    if to_int(value) == 1:
        return ('pass', 'bridge-nf-call-iptables=1')
    return ('fail', 'bridge-nf-call-iptables=%s' % value)


# The evaluators of this area, by the names the catalog records give.
EVALUATORS = evaluator_table(
    bridge_vlan_filtering, guest_bridge_no_host_ip, guest_bridge_no_ipv6_autoconf, bridge_proxy_arp_off,
    ovs_manager_not_plain_tcp, ovs_controller_not_plain_tcp, ovs_fail_mode_secure, ovs_mirrors_declared,
    ovs_ports_tagged, guest_nics_antispoof, macvtap_not_bridge_mode, bridge_netfilter_on,
)
