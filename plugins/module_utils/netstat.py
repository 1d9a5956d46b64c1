# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening sockets from /proc/net/{tcp,tcp6,udp,udp6} (pure parsing).

Addresses in those files are hex in host byte order (little-endian on x86):
IPv4 as one 32-bit word, IPv6 as four 32-bit words.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

TCP_LISTEN = '0A'
UDP_UNCONNECTED = '07'
_SOCKET_LINK = re.compile(r'^socket:\[(\d+)\]$')


def decode_address(hexaddr):
    """'0100007F' -> '127.0.0.1'; 32 hex digits -> compressed IPv6. None when malformed."""
    try:
        if len(hexaddr) == 8:
            raw = bytes.fromhex(hexaddr)[::-1]
            return str(ipaddress.IPv4Address(raw))
        if len(hexaddr) == 32:
            raw = b''.join(bytes.fromhex(hexaddr[i:i + 8])[::-1] for i in range(0, 32, 8))
            addr = ipaddress.IPv6Address(raw)
            if addr.ipv4_mapped is not None:
                return '::ffff:%s' % addr.ipv4_mapped
            return str(addr)
    except ValueError:
        return None
    return None


def parse_proc_net(text, proto):
    """Listening (TCP) or bound unconnected (UDP) sockets of one /proc/net file.

    ``proto`` is tcp, tcp6, udp or udp6. Returns a list of
    {proto: tcp|udp, address, port, inode, uid}.
    """
    base = 'udp' if proto.startswith('udp') else 'tcp'
    wanted = UDP_UNCONNECTED if base == 'udp' else TCP_LISTEN
    result = []
    for line in (text or '').splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or ':' not in fields[1] or ':' not in fields[2]:
            continue
        if fields[3].upper() != wanted:
            continue
        local_hex, port_hex = fields[1].rsplit(':', 1)
        remote_hex = fields[2].rsplit(':', 1)[0]
        if base == 'udp' and remote_hex.strip('0'):
            continue
        address = decode_address(local_hex)
        try:
            port = int(port_hex, 16)
            uid = int(fields[7])
            inode = int(fields[9])
        except ValueError:
            continue
        if address is None:
            continue
        result.append({'proto': base, 'address': address, 'port': port, 'inode': inode, 'uid': uid})
    return result


def socket_inode(link_target):
    """'socket:[12345]' (an /proc/PID/fd link) -> 12345, else None."""
    match = _SOCKET_LINK.match(link_target or '')
    return int(match.group(1)) if match else None


def attach_owners(sockets, owners):
    """Add process/pid from ``owners`` ({inode: (pid, comm)}); dedupe; sort.

    Sockets whose owner is unknown get process/pid None.
    """
    seen = set()
    result = []
    for sock in sockets:
        pid, comm = owners.get(sock['inode'], (None, None))
        key = (sock['proto'], sock['address'], sock['port'], pid)
        if key in seen:
            continue
        seen.add(key)
        result.append({'proto': sock['proto'], 'address': sock['address'], 'port': sock['port'],
                       'process': comm, 'pid': pid, 'uid': sock['uid']})
    result.sort(key=lambda s: (s['proto'], s['port'], s['address'], s['pid'] or 0))
    return result
