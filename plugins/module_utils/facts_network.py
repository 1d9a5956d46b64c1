# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probes of the network: facts keys ``network``, ``nftables``, ``sysctl``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ip_link
from ansible_collections.hvsec.hypervisor.plugins.module_utils import nft as nft_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs as ovs_utils
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import NOT_INSTALLED


def probe_network(ctx):
    """``network``: links (``ip -j -d link show``), addresses (``ip -j addr show``), bridges
    (/sys/class/net/*/bridge, ``bridge -j vlan show``), ovs (``ovs-vsctl``), default_route_devs
    (``ip -j route show default``) and ssh_server_address (the host address the controller's SSH
    connection reached, ``SSH_CONNECTION``): what the roles' lockout checks need before any change."""
    links = None
    ip = ctx.tool('ip')
    if ip is not None:
        rc, out, dummy = ctx.run('network', [ip, '-j', '-d', 'link', 'show'])
        if rc == 0:
            links, error = ip_link.parse_ip_link(out)
            if error:
                ctx.note('network', 'ip -j -d link show', error)
    addresses = _addresses(ctx)
    return {
        'links': links,
        'addresses': addresses,
        'bridges': _bridges(ctx, addresses),
        'ovs': _ovs(ctx),
        'default_route_devs': _default_route_devs(ctx),
        'ssh_server_address': vswitch_bridge.ssh_server_address(os.environ),
    }


def _default_route_devs(ctx):
    """Interfaces the default routes leave through, or None when unknown."""
    ip = ctx.tool('ip')
    if ip is None:
        return None
    rc, out, dummy = ctx.run('network', [ip, '-j', 'route', 'show', 'default'])
    if rc != 0:
        return None
    try:
        return vswitch_bridge.parse_default_route_devs(out)
    except ValueError as exc:
        ctx.note('network', 'ip -j route show default', str(exc))
        return None


def _addresses(ctx):
    """{interface: [address/prefix]} from ``ip -j addr show``, or None."""
    ip = ctx.tool('ip')
    if ip is None:
        ctx.note('network', 'ip', NOT_INSTALLED)
        return None
    rc, out, dummy = ctx.run('network', [ip, '-j', 'addr', 'show'])
    if rc != 0:
        return None
    addresses, error = ip_link.parse_ip_addr(out)
    if error:
        ctx.note('network', 'ip -j addr show', error)
    return addresses


def _bridges(ctx, addresses):
    names = ctx.fs.listdir('/sys/class/net', 'network')
    if names is None:
        return None
    bridge_names = [n for n in names if ctx.fs.isdir('/sys/class/net/%s/bridge' % n)]
    vlans = None
    if bridge_names:
        tool = ctx.tool('bridge')
        if tool is None:
            ctx.note('network', 'bridge', NOT_INSTALLED)
        else:
            rc, out, dummy = ctx.run('network', [tool, '-j', 'vlan', 'show'])
            if rc == 0:
                vlans, error = ip_link.parse_bridge_vlan(out)
                if error:
                    ctx.note('network', 'bridge -j vlan show', error)
    bridges = []
    for name in bridge_names:
        base = '/sys/class/net/%s' % name
        ports = ctx.fs.listdir(base + '/brif', 'network') or []
        v6 = '/proc/sys/net/ipv6/conf/%s' % name
        host_addrs = None
        if addresses is not None:
            host_addrs = [a for a in addresses.get(name, []) if not ip_link.is_link_local(a)]
        bridge_vlans = None
        if vlans is not None:
            bridge_vlans = dict((p, vlans[p]) for p in [name] + ports if p in vlans)
        disable = procfs.to_int(ctx.fs.value(v6 + '/disable_ipv6', 'network', missing_ok=True))
        autoconf = procfs.to_int(ctx.fs.value(v6 + '/autoconf', 'network', missing_ok=True))
        bridges.append({
            'name': name,
            'vlan_filtering': procfs.sysfs_bool(ctx.fs.value(base + '/bridge/vlan_filtering', 'network')),
            'ports': ports,
            'addresses': host_addrs,
            'ipv6_autoconf': None if autoconf is None else bool(autoconf),
            'ipv6_accept_ra': procfs.to_int(ctx.fs.value(v6 + '/accept_ra', 'network', missing_ok=True)),
            'ipv6_disabled': _ipv6_disabled(ctx, v6, disable),
            'proxy_arp': procfs.sysfs_bool(ctx.fs.value('/proc/sys/net/ipv4/conf/%s/proxy_arp' % name,
                                                        'network', missing_ok=True)),
            'vlans': bridge_vlans,
        })
    return bridges


def _ipv6_disabled(ctx, conf_dir, disable):
    if disable is not None:
        return bool(disable)
    # no per-interface IPv6 directory: IPv6 is off in the kernel (ipv6.disable=1)
    if not ctx.fs.isdir(conf_dir) and not ctx.fs.isdir('/proc/sys/net/ipv6'):
        return True
    return None


def _ovs(ctx):
    tool = ctx.tool('ovs-vsctl')
    if tool is None:
        ctx.note('network', 'ovs-vsctl', NOT_INSTALLED)
        return None
    rc, out, dummy = ctx.run('network', ovs_utils.vsctl_args(tool))
    if rc != 0:
        return None
    data, error = ovs_utils.parse_ovs_vsctl(out)
    if error:
        ctx.note('network', 'ovs-vsctl', error)
    return data


def probe_nftables(ctx):
    """``nftables``: installed, tables, ruleset (``nft -j list ruleset``)."""
    binary = ctx.tool('nft')
    if binary is None:
        ctx.note('nftables', 'nft', NOT_INSTALLED)
        return {'installed': False, 'tables': None, 'ruleset': None}
    rc, out, dummy = ctx.run('nftables', [binary] + list(nft_utils.ARGS), needs_root=True)
    if rc != 0:
        return {'installed': True, 'tables': None, 'ruleset': None}
    data, error = nft_utils.parse_ruleset(out)
    if error:
        ctx.note('nftables', 'nft -j list ruleset', error)
        return {'installed': True, 'tables': None, 'ruleset': None}
    return {'installed': True, 'tables': data['tables'], 'ruleset': data['ruleset']}


def probe_sysctl(ctx):
    """``sysctl``: bridge_nf_call_iptables, bridge_nf_call_ip6tables, ip_forward, ipv6_forwarding (/proc/sys)."""
    keys = {
        'bridge_nf_call_iptables': '/proc/sys/net/bridge/bridge-nf-call-iptables',
        'bridge_nf_call_ip6tables': '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
        'ip_forward': '/proc/sys/net/ipv4/ip_forward',
        'ipv6_forwarding': '/proc/sys/net/ipv6/conf/all/forwarding',
    }
    return dict((k, procfs.to_int(ctx.fs.value(p, 'sysctl'))) for k, p in keys.items())
