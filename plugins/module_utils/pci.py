# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PCI device helpers for VFIO passthrough: validation, sysfs reading, group viability.

Everything here is a pure function or reads files below a filesystem ``root``
(``/`` on a host, a fixture tree in unit tests). Nothing here writes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_int, read_text

VFIO_DRIVER = 'vfio-pci'
STUB_DRIVERS = ('vfio-pci', 'pci-stub')

_ADDR_FULL = re.compile(r'^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])\Z')
_ADDR_SHORT = re.compile(r'^([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])\Z')
_ID = re.compile(r'^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\Z')
_MODNAME = re.compile(r'^[A-Za-z0-9_-]+\Z')

MANAGED_HEADER = '# Managed by hvsec.hypervisor.pci_passthrough: do not edit.'


def normalize_address(value):
    """Return the canonical ``DDDD:BB:SS.F`` form (lower case) of a PCI address.

    Accepts ``BB:SS.F`` (domain 0000 implied). Raises ValueError naming the problem.
    """
    text = ('%s' % (value,)).strip()
    match = _ADDR_FULL.match(text)
    if match:
        domain, bus, slot, func = match.groups()
    else:
        match = _ADDR_SHORT.match(text)
        if not match:
            raise ValueError("malformed PCI address %r: expected DDDD:BB:SS.F (e.g. 0000:01:00.0)" % (value,))
        domain = '0000'
        bus, slot, func = match.groups()
    if int(slot, 16) > 0x1f:
        raise ValueError("malformed PCI address %r: slot %s is above 1f" % (value, slot))
    return ('%s:%s:%s.%s' % (domain, bus, slot, func)).lower()


def normalize_id(value):
    """Return ``vvvv:dddd`` (lower case) for a vendor:device id; ValueError when malformed."""
    text = ('%s' % (value,)).strip()
    if not _ID.match(text):
        raise ValueError("malformed vendor:device id %r: expected two 4-digit hex numbers, e.g. 8086:10d3" % (value,))
    return text.lower()


def is_bridge_class(pci_class):
    """True for PCI host/PCI/other bridges (class 0x06xxxx), which never need assigning."""
    if not pci_class:
        return False
    text = pci_class.lower()
    if text.startswith('0x'):
        text = text[2:]
    return text.startswith('06')


def _link_name(path):
    try:
        return os.path.basename(os.readlink(path))
    except (IOError, OSError):
        return None


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def sysfs_path(root, *parts):
    return os.path.join(root or '/', *parts)


def read_device(root, address):
    """Read one PCI device from ``ROOT/sys/bus/pci/devices/ADDRESS``; None when absent."""
    base = sysfs_path(root, 'sys/bus/pci/devices', address)
    if not os.path.isdir(base):
        return None
    vendor = read_text(os.path.join(base, 'vendor'), strip=True)
    device = read_text(os.path.join(base, 'device'), strip=True)
    pci_class = read_text(os.path.join(base, 'class'), strip=True)
    override = read_text(os.path.join(base, 'driver_override'), strip=True)
    if override in ('', '(null)'):
        override = None
    net_dir = os.path.join(base, 'net')
    try:
        net = sorted(os.listdir(net_dir))
    except (IOError, OSError):
        net = []
    group = _link_name(os.path.join(base, 'iommu_group'))
    module = _link_name(os.path.join(base, 'driver', 'module'))
    return {
        'address': address,
        'vendor': vendor,
        'device': device,
        'id': device_id(vendor, device),
        'class': pci_class,
        'is_bridge': is_bridge_class(pci_class),
        'driver': _link_name(os.path.join(base, 'driver')),
        'driver_module': module,
        'driver_override': override,
        'iommu_group': _int_or_none(group),
        'modalias': read_text(os.path.join(base, 'modalias'), strip=True),
        'sriov_totalvfs': read_int(os.path.join(base, 'sriov_totalvfs')),
        'sriov_numvfs': read_int(os.path.join(base, 'sriov_numvfs')),
        'physfn': _link_name(os.path.join(base, 'physfn')),
        'net': net,
    }


def device_id(vendor, device):
    """``0x8086``/``0x10d3`` -> ``8086:10d3``; None when either is unknown."""
    if not vendor or not device:
        return None

    def strip(text):
        text = text.lower()
        return text[2:] if text.startswith('0x') else text
    return '%s:%s' % (strip(vendor), strip(device))


def list_devices(root):
    """All PCI devices below ``ROOT/sys/bus/pci/devices`` as a dict address -> device."""
    base = sysfs_path(root, 'sys/bus/pci/devices')
    try:
        names = sorted(os.listdir(base))
    except (IOError, OSError):
        return {}
    result = {}
    for name in names:
        dev = read_device(root, name)
        if dev is not None:
            result[name] = dev
    return result


def group_members(root, group):
    """Addresses of the devices in IOMMU group ``group`` (sorted); [] when unknown."""
    if group is None:
        return []
    try:
        return sorted(os.listdir(sysfs_path(root, 'sys/kernel/iommu_groups', str(group), 'devices')))
    except (IOError, OSError):
        return []


def resolve_targets(devices, entries):
    """Resolve allow-list style entries to PCI addresses.

    ``devices``: dict address -> device (from list_devices). ``entries``: list of dicts with
    ``address`` or ``id`` (already normalized). Returns (targets, errors): targets is an ordered
    list of (address, entry) pairs without duplicates; errors lists readable problems (unknown
    address, no device matching an id).
    """
    targets = []
    seen = set()
    errors = []
    for entry in entries:
        if entry.get('address'):
            addr = entry['address']
            if addr not in devices:
                errors.append('PCI device %s does not exist on this host' % addr)
                continue
            matches = [addr]
        else:
            matches = sorted(a for a, d in devices.items() if d.get('id') == entry['id'])
            if not matches:
                errors.append('no PCI device matches vendor:device id %s on this host' % entry['id'])
                continue
        for addr in matches:
            if addr not in seen:
                seen.add(addr)
                targets.append((addr, entry))
    return targets, errors


def group_blockers(devices, members_by_group, targets):
    """Check IOMMU-group viability for binding ``targets`` (addresses) to vfio-pci.

    Every other member of a target's group must be a target as well, a bridge, or already
    bound to vfio-pci/pci-stub. Returns a list of dicts {address, group, blocker, reason}.
    A target without an IOMMU group is reported as well (no IOMMU: passthrough unsafe).
    """
    wanted = set(targets)
    problems = []
    for addr in targets:
        dev = devices.get(addr) or {}
        group = dev.get('iommu_group')
        if group is None:
            problems.append({'address': addr, 'group': None, 'blocker': None,
                             'reason': 'device %s has no IOMMU group (IOMMU off?)' % addr})
            continue
        for member in members_by_group.get(group, []):
            if member == addr or member in wanted:
                continue
            other = devices.get(member) or {}
            if other.get('is_bridge') or other.get('driver') in STUB_DRIVERS:
                continue
            problems.append({
                'address': addr, 'group': group, 'blocker': member,
                'reason': 'IOMMU group %s of %s also holds %s (driver %s), which is not assigned, '
                          'not a bridge and not bound to vfio-pci/pci-stub'
                          % (group, addr, member, other.get('driver') or 'none')})
    return problems


def pci_addresses_in_path(path):
    """Every PCI address appearing as a component of a sysfs device path, in order."""
    found = []
    for part in path.split('/'):
        if _ADDR_FULL.match(part) and part.lower() not in found:
            found.append(part.lower())
    return found


def netdev_pci_addresses(root, ifname, _depth=0):
    """PCI addresses behind a network interface, following bridge/bond/vlan lower links."""
    base = sysfs_path(root, 'sys/class/net', ifname)
    result = []
    dev_link = os.path.join(base, 'device')
    if os.path.exists(dev_link):
        result.extend(pci_addresses_in_path(os.path.realpath(dev_link)))
    if _depth < 4:
        try:
            names = os.listdir(base)
        except (IOError, OSError):
            names = []
        lowers = [n[len('lower_'):] for n in names if n.startswith('lower_')]
        try:
            lowers.extend(os.listdir(os.path.join(base, 'brif')))
        except (IOError, OSError):
            pass
        for lower in sorted(set(lowers)):
            for addr in netdev_pci_addresses(root, lower, _depth + 1):
                if addr not in result:
                    result.append(addr)
    return result


def block_pci_addresses(root, majmin, _depth=0):
    """PCI addresses behind a block device given as ``MAJ:MIN`` (follows dm/md slaves)."""
    base = sysfs_path(root, 'sys/dev/block', majmin)
    if not os.path.exists(base):
        return []
    real = os.path.realpath(base)
    result = pci_addresses_in_path(real)
    # A partition's parent disk carries the same path prefix; slaves live on the disk.
    candidates = [real, os.path.dirname(real)]
    if _depth < 4:
        for cand in candidates:
            try:
                slaves = os.listdir(os.path.join(cand, 'slaves'))
            except (IOError, OSError):
                continue
            for slave in slaves:
                dev = read_text(sysfs_path(root, 'sys/class/block', slave, 'dev'), strip=True)
                if dev:
                    for addr in block_pci_addresses(root, dev, _depth + 1):
                        if addr not in result:
                            result.append(addr)
    return result


def parse_mountinfo(text, mountpoints=('/', '/boot', '/boot/efi', '/usr')):
    """``MAJ:MIN`` of the devices mounted on the given mount points (from /proc/self/mountinfo)."""
    found = []
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        if fields[4] in mountpoints and fields[2] not in found and not fields[2].startswith('0:'):
            found.append(fields[2])
    return found


def default_route_interfaces(route_text, route6_text):
    """Interfaces carrying a default route, from /proc/net/route and /proc/net/ipv6_route."""
    result = []
    for line in (route_text or '').splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == '00000000' and fields[7] == '00000000':
            if fields[0] not in result:
                result.append(fields[0])
    for line in (route6_text or '').splitlines():
        fields = line.split()
        if len(fields) >= 10 and fields[0] == '0' * 32 and fields[1] == '00' and fields[9] != 'lo':
            if fields[9] not in result:
                result.append(fields[9])
    return result


def interfaces_with_addresses(ip_addr_json, addresses):
    """Interfaces (from ``ip -j addr`` output, already parsed) holding one of ``addresses``."""
    wanted = set(a for a in addresses if a)
    result = []
    for link in ip_addr_json or []:
        for info in link.get('addr_info') or []:
            if info.get('local') in wanted and link.get('ifname') not in result:
                result.append(link.get('ifname'))
    return result


def valid_module_name(name):
    return bool(_MODNAME.match(name or ''))


def parse_managed_modprobe(text):
    """Parse the modprobe.d file this collection manages.

    Returns a dict: ``ids`` (list of vvvv:dddd), ``softdeps`` (list of module names that get
    ``pre: vfio-pci``), ``overrides`` (dict module -> list of addresses for the install hook),
    ``lock_unsafe`` (bool: both unsafe options present with value 0).
    """
    result = {'ids': [], 'softdeps': [], 'overrides': {}, 'lock_unsafe': False}
    unsafe = set()
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        words = line.split()
        if words[0] == 'options' and len(words) >= 3:
            module = words[1].replace('-', '_')
            for opt in words[2:]:
                key, _sep, value = opt.partition('=')
                if module == 'vfio_pci' and key == 'ids':
                    for item in value.split(','):
                        if item and item not in result['ids']:
                            result['ids'].append(item)
                elif module == 'vfio_iommu_type1' and key == 'allow_unsafe_interrupts' and value == '0':
                    unsafe.add('interrupts')
                elif module == 'vfio' and key == 'enable_unsafe_noiommu_mode' and value == '0':
                    unsafe.add('noiommu')
        elif words[0] == 'softdep' and len(words) >= 4 and words[2] == 'pre:' and 'vfio-pci' in words[3:]:
            if words[1] not in result['softdeps']:
                result['softdeps'].append(words[1])
        elif words[0] == 'install' and len(words) >= 3:
            # Only the addresses listed before the first ';' belong to the override loop (the
            # drivers_probe loop repeats them).
            head = line.split(';', 1)[0]
            addrs = re.findall(r'\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b', head)
            result['overrides'][words[1]] = addrs
    result['lock_unsafe'] = unsafe == set(['interrupts', 'noiommu'])
    return result


def render_managed_modprobe(ids, softdeps, overrides, lock_unsafe):
    """Render the managed modprobe.d file; returns '' when there is nothing to persist."""
    lines = []
    if ids:
        lines.append('# Devices approved for passthrough, bound to vfio-pci by vendor:device id.')
        lines.append('options vfio-pci ids=%s' % ','.join(sorted(set(ids))))
    hooked = set(m for m in overrides if overrides[m])
    # kmod ignores a module's install command when the module also has a softdep (seen on Debian
    # 12, kmod 30: e1000e loaded and took the device at boot). A hooked module gets no softdep:
    # its install command loads vfio-pci itself.
    for module in sorted(set(softdeps) - hooked):
        lines.append('softdep %s pre: vfio-pci' % module)
    for module in sorted(hooked):
        addrs = sorted(set(overrides[module]))
        lines.append('# Before %s loads, hand these addresses to vfio-pci (driver_override), then let' % module)
        lines.append('# vfio-pci probe them (it may already be loaded, and then probes nothing by itself).')
        lines.append(
            'install %s for a in %s; do f=/sys/bus/pci/devices/$a/driver_override; '
            '[ -w $f ] && echo vfio-pci > $f; done; /sbin/modprobe vfio-pci; '
            'for a in %s; do [ -e /sys/bus/pci/devices/$a ] && echo $a > /sys/bus/pci/drivers_probe; done; '
            '/sbin/modprobe --ignore-install %s $CMDLINE_OPTS'
            % (module, ' '.join(addrs), ' '.join(addrs), module))
    if lock_unsafe:
        lines.append('# Refuse passthrough without interrupt remapping or without an IOMMU.')
        lines.append('options vfio_iommu_type1 allow_unsafe_interrupts=0')
        lines.append('options vfio enable_unsafe_noiommu_mode=0')
    if not lines:
        return ''
    return MANAGED_HEADER + '\n' + '\n'.join(lines) + '\n'


_UNSAFE_OPTS = {
    ('vfio_iommu_type1', 'allow_unsafe_interrupts'),
    ('vfio', 'enable_unsafe_noiommu_mode'),
}
# The modules that read those options when they load (vfio_pci pulls in the other two).
VFIO_UNSAFE_MODULES = ('vfio', 'vfio_iommu_type1', 'vfio_pci')
DISABLED_PREFIX = '# disabled by hvsec.hypervisor (HVS-VFIO-01/02): '


def kernel_bool(value):
    """Whether the kernel reads ``value`` of a bool module parameter as true (kstrtobool).

    ``None`` is a bare flag (``allow_unsafe_interrupts`` without ``=``): true. Otherwise the
    first character decides: y, Y, t, T or 1 is true; "on" (any case) is true. Everything else
    is false or invalid (n, N, f, F, 0, "off", an empty value after ``=``, other text), and an
    invalid value makes the kernel refuse the parameter, so it never enables anything. Double
    quotes around the value are removed first, as the kernel's argument parser does.
    """
    if value is None:
        return True
    value = '%s' % (value,)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value:
        return False
    return value[0] in 'yYtT1' or value[:2].lower() == 'on'


def option_is_unsafe(module, key, value):
    """True for a ``module key[=value]`` option that enables an unsafe VFIO mode. Module and
    parameter names compare as the kernel compares them ('-' and '_' alike); ``value`` is None
    for a bare flag."""
    return (module.replace('-', '_'), key.replace('-', '_')) in _UNSAFE_OPTS and kernel_bool(value)


def physical_lines(text):
    """Lines as modprobe reads them (split on newline only), each with its newline."""
    lines = (text or '').split('\n')
    return [line + '\n' for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def modprobe_logical_lines(text):
    """[(indexes of its physical lines, text)]: a line ending in a backslash continues on the next
    (modprobe.d(5)), so an option can hide on a continuation line."""
    out = []
    indexes, parts = [], []
    for index, line in enumerate(physical_lines(text)):
        body = line.rstrip('\n').rstrip('\r')
        indexes.append(index)
        if body.endswith('\\'):
            parts.append(body[:-1])
            continue
        parts.append(body)
        out.append((indexes, ' '.join(parts)))
        indexes, parts = [], []
    if indexes:
        out.append((indexes, ' '.join(parts)))
    return out


def _split_option(word):
    key, sep, value = word.partition('=')
    return key, (value if sep else None)


def unsafe_option_lines(text):
    """Line numbers (0-based) and text of the physical lines of every ``options`` line that
    enables an unsafe VFIO parameter (continuation lines included)."""
    lines = physical_lines(text)
    found = []
    for indexes, logical in modprobe_logical_lines(text):
        words = logical.split()
        if len(words) < 3 or words[0] != 'options':
            continue
        for opt in words[2:]:
            key, value = _split_option(opt)
            if option_is_unsafe(words[1], key, value):
                found.extend((i, lines[i].rstrip('\n')) for i in indexes)
                break
    return found


def disable_unsafe_lines(text):
    """Disable every unsafe VFIO option and keep the other options of its line.

    Each physical line of an ``options`` line that enables an unsafe parameter is commented out
    (the original stays readable, byte for byte after the prefix) and, when the line had other
    options (``dma_entry_limit=131072`` next to ``allow_unsafe_interrupts=1``), a new line with
    those options follows it. Other lines stay byte for byte. Returns the new text.
    """
    bad = set(i for i, _l in unsafe_option_lines(text))
    if not bad:
        return text
    lines = physical_lines(text)
    replacement = {}
    for indexes, logical in modprobe_logical_lines(text):
        if not set(indexes) & bad:
            continue
        words = logical.split()
        keep = [w for w in words[2:] if not option_is_unsafe(words[1], *_split_option(w))]
        last = lines[indexes[-1]]
        block = [DISABLED_PREFIX + lines[i] for i in indexes]
        if not block[-1].endswith('\n'):
            block[-1] += '\n'
        if last.rstrip('\n').rstrip('\r').endswith('\\'):
            # the file ended inside a continued line: an empty line ends the commented block, or
            # modprobe would join the new line into the comment
            block.append('\n')
        if keep:
            block.append(' '.join(['options', words[1]] + keep) + '\n')
        replacement[indexes[0]] = ''.join(block)
        for i in indexes[1:]:
            replacement[i] = ''
    return ''.join(replacement.get(index, line) for index, line in enumerate(lines))
