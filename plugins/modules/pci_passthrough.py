#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: pci_passthrough
short_description: Bind PCI devices to vfio-pci for passthrough, or release them, safely
version_added: 0.1.0
description:
  - Binds PCI devices, given by address or by C(vendor:device) id (every matching device), to the
    C(vfio-pci) driver at runtime (C(driver_override), unbind, C(drivers_probe)) and persistently,
    or releases them back to their host driver.
  - Persistence lives in one managed modprobe.d file. Devices given by id use
    C(options vfio-pci ids=) plus C(softdep <host driver> pre vfio-pci) lines; devices given by address
    use an C(install) hook of the host driver that writes C(driver_override) before the driver loads.
    The initramfs is refreshed only when the host driver or vfio-pci is inside it (detected with
    C(lsinitramfs)), because only then does the driver load before the root filesystem is mounted.
  - Before anything changes it checks IOMMU-group viability (every other member of each device's
    group must be assigned too, be a bridge, or already be bound to vfio-pci/pci-stub) and refuses
    devices the host needs unless O(force=true) - the controller of the boot disk, and every NIC
    (transitively) below an interface that carries the default route, holds the management address
    (O(protect_addresses), the server address of C(SSH_CONNECTION)), carries the route back to the
    controller (the client address of C(SSH_CONNECTION), C(ip route get)) or is listed in
    O(protect_interfaces). Below means a port of a Linux bridge, a bond or team member, the lower
    device of a VLAN, macvlan or ipvlan, or an uplink of an Open vSwitch bridge whose internal port
    holds the address (its system ports, the members of an OVS bond, bridges reached through patch
    ports, the PCI device of a DPDK port). The refusal names the chain, for example
    C(0000:00:02.0 holds the management address 192.0.2.10 (br-ex -> OVS bridge br-ex -> eth1)).
    The stack is read from C(ip -j -d link) and C(ovs-vsctl); when the OVS database cannot be read,
    every port of the OVS datapath counts.
  - With O(lock_unsafe=true) it also persists C(allow_unsafe_interrupts=0) and
    C(enable_unsafe_noiommu_mode=0), comments out modprobe.d lines that enable them (read as the
    kernel reads a bool parameter - C(1), C(Y), C(T), C(true), C(on) or a bare flag - keeping a
    backup and adding a line with the other options of that line, for example C(dma_entry_limit)),
    and resets the runtime parameters when the modules are loaded with them on.
  - Implements controls HVS-VFIO-01, HVS-VFIO-02, HVS-VFIO-03, HVS-VFIO-04 and HVS-VFIO-05.
options:
  devices:
    description:
      - Devices to bind (O(state=present)) or release (O(state=absent)).
      - Each item has exactly one of C(address) or C(id). An id that matches no device and an
        address that does not exist are errors.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: PCI address C(DDDD:BB:SS.F) (C(BB:SS.F) implies domain 0000).
        type: str
      id:
        description: Vendor and device id C(vvvv:dddd) in hex; selects every matching device.
        type: str
      name:
        description: Free text describing the device (documentation only).
        type: str
  state:
    description: V(present) binds the devices to vfio-pci, V(absent) releases them to their host driver.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - When true (with O(state=present)), the persistent configuration lists exactly O(devices);
        entries of earlier runs that are not in O(devices) are dropped from the file.
        Runtime bindings of other devices are not touched; release them with O(state=absent).
    type: bool
    default: false
  persistent:
    description: Also make the binding (or release) survive a reboot through O(modprobe_conf).
    type: bool
    default: true
  lock_unsafe:
    description:
      - Persist C(vfio_iommu_type1 allow_unsafe_interrupts=0) and C(vfio enable_unsafe_noiommu_mode=0),
        comment out C(/etc/modprobe.d) lines enabling either, and reset them at runtime.
    type: bool
    default: true
  force:
    description: Bind devices the host needs (management NIC, boot disk controller) anyway.
    type: bool
    default: false
  protect_interfaces:
    description:
      - Extra network interfaces whose PCI devices, and the PCI devices below them (ports, bond
        members, lower devices, OVS uplinks), must never be bound (unless O(force)).
      - Names follow the interface-name rule of the collection (1-15 letters, digits, C(-), C(_), C(.)).
    type: list
    elements: str
    default: []
  protect_addresses:
    description:
      - IP addresses whose interfaces must never be bound (unless O(force)), typically the address
        Ansible connects to. The server address of C(SSH_CONNECTION) is always protected.
    type: list
    elements: str
    default: []
  initramfs:
    description:
      - V(auto) refreshes the initramfs after a persistent change only when a module it concerns
        loads from the current initramfs (before the root filesystem and its modprobe.d are there),
        that is the host driver of a bound or released device, and vfio, vfio_iommu_type1 or vfio_pci when
        an unsafe VFIO option was commented out or the managed lock lines changed (the initramfs
        holds the old copy of modprobe.d). V(always) always does; V(never) never does.
    type: str
    choices: [auto, always, never]
    default: auto
  modprobe_conf:
    description: The modprobe.d file this module manages.
    type: path
    default: /etc/modprobe.d/hvsec-vfio.conf
  backup:
    description: Keep a timestamped backup of every existing file the module edits.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for a device to appear on its new driver.
    type: int
    default: 20
  root:
    description:
      - Filesystem root below which C(/sys), C(/proc), C(/etc) and C(/dev) are read and written.
        Only for tests against a fixture tree; keep the default on real hosts.
    type: path
    default: /
notes:
  - Needs root. Supports check mode (nothing is written; the result predicts the change) and diff mode.
seealso:
  - module: hvsec.hypervisor.sriov_vf
attributes:
  check_mode:
    description: Computes the whole plan and reports it (changed, changes, diff) without writing anything.
  diff_mode:
    description: Shows the runtime state and every managed file before and after.
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
'''

EXAMPLES = r'''
- name: HVS-VFIO-04 | Bind the approved spare NIC to vfio-pci
  hvsec.hypervisor.pci_passthrough:
    devices:
      - address: "0000:00:05.0"
        name: spare NIC for guest1

- name: Bind every Intel 82574L, persist exactly the allow-list
  hvsec.hypervisor.pci_passthrough:
    devices:
      - id: "8086:10d3"
    exclusive: true
    protect_addresses: ["{{ ansible_host }}"]

- name: Release a device back to its host driver
  hvsec.hypervisor.pci_passthrough:
    devices:
      - address: "0000:00:05.0"
    state: absent

- name: Only lock the unsafe VFIO parameters
  hvsec.hypervisor.pci_passthrough:
    devices: []
    lock_unsafe: true
'''

RETURN = r'''
devices:
  description: Every device the request resolved to, with its state after the run.
  returned: always
  type: list
  elements: dict
  sample:
    - {address: "0000:00:05.0", id: "8086:10d3", driver_before: e1000e, driver: vfio-pci,
       iommu_group: 7, dev_vfio: /dev/vfio/7, action: bind, persistence: install-hook}
changes:
  description: Human-readable list of what changed (or would change in check mode).
  returned: always
  type: list
  elements: str
  sample: ["0000:00:05.0: e1000e -> vfio-pci", "wrote /etc/modprobe.d/hvsec-vfio.conf"]
protected:
  description: PCI addresses the host needs, with the reason (refused unless force).
  returned: always
  type: dict
  sample: {"0000:00:02.0": "carries the default route (mgmt0)",
           "0000:01:00.0": "holds the management address 192.0.2.10 (br-ex -> OVS bridge br-ex -> OVS bond bond0 -> eno1)"}
initramfs_refreshed:
  description: Whether the initramfs was (or, in check mode, would be) rebuilt.
  returned: always
  type: bool
initramfs_reason:
  description: Why the initramfs was or was not refreshed.
  returned: always
  type: str
  sample: "e1000e is not in /boot/initrd.img-6.1.0-28-amd64: no refresh needed"
modprobe_conf:
  description: Content of the managed modprobe.d file after the run ('' when removed).
  returned: always
  type: str
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils import files
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ip_link as iplink
from ansible_collections.hvsec.hypervisor.plugins.module_utils import netnames
from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci as pcilib


class Passthrough(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.root = module.params['root'] or '/'
        self.changes = []
        self.diffs = []
        self.warnings = []

    def path(self, *parts):
        return os.path.join(self.root, *[p.lstrip('/') for p in parts])

    # ----------------------------------------------------------------- validation
    def normalized_entries(self):
        entries = []
        for index, item in enumerate(self.params['devices'] or []):
            has_addr = bool(item.get('address'))
            has_id = bool(item.get('id'))
            if has_addr == has_id:
                self.module.fail_json(msg='devices[%d]: give exactly one of address or id (got %r)' % (index, item))
            try:
                if has_addr:
                    entries.append({'address': pcilib.normalize_address(item['address']), 'name': item.get('name')})
                else:
                    entries.append({'id': pcilib.normalize_id(item['id']), 'name': item.get('name')})
            except ValueError as exc:
                self.module.fail_json(msg='devices[%d]: %s' % (index, exc))
        for index, name in enumerate(self.params['protect_interfaces']):
            message = netnames.ifname_message(name, 'protect_interfaces[%d]' % index)
            if message:
                self.module.fail_json(msg=message)
        return entries

    # ----------------------------------------------------------------- host-critical devices
    def read_text(self, *parts):
        """The text of a file under the root; empty when it cannot be read."""
        return files.read_text(self.path(*parts)) or ''

    def test_json(self, name):
        """In a test tree, the output of a command from ``run/hvsec-test/NAME.json``; None when the
        tree has no such file."""
        text = self.read_text('run/hvsec-test', name + '.json')
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    def ip_json(self, args, what):
        """``ip -j ARGS`` parsed, or None (with a warning) when it cannot be read."""
        ip = self.module.get_bin_path('ip')
        if not ip:
            self.warnings.append('ip command not found: %s could not be read' % what)
            return None
        rc, out, err = self.module.run_command([ip, '-j'] + args)
        if rc != 0:
            self.warnings.append('ip -j %s failed (%s): %s could not be read' % (' '.join(args), err.strip(), what))
            return None
        try:
            return json.loads(out or '[]')
        except ValueError:
            self.warnings.append('ip -j %s printed no JSON: %s could not be read' % (' '.join(args), what))
            return None

    def ip_addr_json(self):
        if self.root != '/':
            return self.test_json('ip-addr') or []
        return self.ip_json(['addr', 'show'], 'interface addresses') or []

    def links(self):
        """(``ip -j -d link`` trimmed by ip_link.parse_ip_link, {ifname: PCI parent}), or (None, {})."""
        data = self.test_json('ip-link') if self.root != '/' else self.ip_json(['-d', 'link', 'show'], 'the interface stack')
        if data is None:
            return None, {}
        text = json.dumps(data)
        return iplink.parse_ip_link(text)[0], iplink.pci_parents(text)[0] or {}

    def ovs_topology(self):
        """Ports and interfaces of every Open vSwitch bridge (ovs.parse_topology), or None when
        Open vSwitch is not installed or its database cannot be read."""
        if self.root != '/':
            data = self.read_text('run/hvsec-test/ovs-topology.json')
            return ovs.parse_topology(data)[0] if data else None
        vsctl = self.module.get_bin_path('ovs-vsctl')
        if not vsctl:
            return None
        rc, out, err = self.module.run_command(ovs.topology_args(vsctl))
        topology, error = ovs.parse_topology(out) if rc == 0 else (None, err.strip())
        if topology is None:
            self.warnings.append('cannot read the Open vSwitch database (%s): every port of the OVS datapath '
                                 'counts as an uplink of an OVS internal port' % error)
        return topology

    def default_route_devs(self):
        if self.root != '/':
            v4, v6 = self.test_json('ip-route'), self.test_json('ip-route6')
        else:
            v4 = self.ip_json(['route', 'show', 'default'], 'the default route')
            v6 = self.ip_json(['-6', 'route', 'show', 'default'], 'the IPv6 default route')
        if v4 is None and v6 is None:
            return pcilib.default_route_interfaces(self.read_text('proc/net/route'),
                                                   self.read_text('proc/net/ipv6_route'))
        devs = []
        for data in (v4 or [], v6 or []):
            for dev in iplink.parse_route_devs(json.dumps(data))[0] or []:
                if dev not in devs:
                    devs.append(dev)
        return devs

    def route_to_devs(self, address):
        """Devices the host sends packets for ``address`` through (``ip -j route get``)."""
        if self.root != '/':
            data = self.test_json('ip-route-get')
        else:
            data = self.ip_json(['route', 'get', address], 'the route to %s' % address)
        return iplink.parse_route_devs(json.dumps(data))[0] or [] if data is not None else []

    def netdev_addresses(self, ifname, parents):
        """PCI addresses of a network device itself (sysfs, else iproute2's parentdev)."""
        dev_link = self.path('sys/class/net', ifname, 'device')
        if os.path.exists(dev_link):
            return pcilib.pci_addresses_in_path(os.path.realpath(dev_link))
        return [parents[ifname]] if parents.get(ifname) else []

    def protected_devices(self):
        """PCI address -> why the host needs it. A device is protected when its network device
        is (transitively) below an interface that carries the default route, holds the
        management address (protect_addresses, the server address of SSH_CONNECTION), carries
        the route to the controller (the client address of SSH_CONNECTION) or is listed in
        protect_interfaces: below a Linux bridge, bond, VLAN, macvlan, Open vSwitch bridge or
        OVS bond. The reason names the chain, e.g. ``br-ex -> OVS bridge br-ex -> eth1``."""
        reasons = {}

        def add(addrs, reason):
            for addr in addrs:
                reasons.setdefault(addr, reason)

        links, parents = self.links()
        graph = iplink.lower_graph(links, self.ovs_topology()) if links is not None else None

        def protect(ifname, reason, named=False):
            def why(path):
                # "protected interface eth1", "carries the default route (mgmt0)", "... (br-ex -> ... -> eth1)"
                return reason if named and len(path) == 1 else '%s (%s)' % (reason, iplink.chain_text(path))
            if graph is not None:
                for node, path in iplink.below(graph, ifname):
                    kind, name = node
                    if kind == 'dev':
                        addrs = self.netdev_addresses(name, parents)
                    elif kind == 'pci':
                        addrs = [name]
                    else:
                        continue
                    add(addrs, why(path))
            # sysfs lower_*/brif links as well (the only source without iproute2's JSON)
            add(pcilib.netdev_pci_addresses(self.root, ifname), why([('dev', ifname)]))

        for ifname in self.default_route_devs():
            protect(ifname, 'carries the default route')
        addresses = list(self.params['protect_addresses'])
        ssh = os.environ.get('SSH_CONNECTION', '').split()
        if len(ssh) >= 3:
            addresses.append(ssh[2])
        if addresses:
            data = self.ip_addr_json()
            for address in addresses:
                for ifname in pcilib.interfaces_with_addresses(data, [address]):
                    protect(ifname, 'holds the management address %s' % address)
        if ssh:
            for ifname in self.route_to_devs(ssh[0]):
                protect(ifname, 'carries the connection to the controller %s' % ssh[0])
        for ifname in self.params['protect_interfaces']:
            protect(ifname, 'protected interface %s' % ifname, named=True)
        for majmin in pcilib.parse_mountinfo(self.read_text('proc/self/mountinfo')):
            add(pcilib.block_pci_addresses(self.root, majmin), 'controls the boot/root disk (block %s)' % majmin)
        return reasons

    # ----------------------------------------------------------------- host driver modules
    def host_modules(self, dev):
        """Kernel modules of the device's host (non-vfio) driver."""
        if dev.get('driver') and dev['driver'] not in pcilib.STUB_DRIVERS and dev.get('driver_module'):
            return [dev['driver_module']]
        if self.root != '/' or not dev.get('modalias'):
            return []
        modprobe = self.module.get_bin_path('modprobe')
        if not modprobe:
            return []
        rc, out, _err = self.module.run_command([modprobe, '-R', dev['modalias']])
        if rc != 0:
            return []
        mods = []
        for name in out.split():
            name = name.replace('-', '_')
            if name.startswith('vfio') or name == 'pci_stub' or not pcilib.valid_module_name(name):
                continue
            if name not in mods:
                mods.append(name)
        return mods

    # ----------------------------------------------------------------- runtime writes
    def write_sysfs(self, rel, value):
        with open(self.path(rel), 'w') as handle:
            handle.write(value)

    def wait_driver(self, addr, want_vfio, timeout=None):
        deadline = time.time() + (self.params['timeout'] if timeout is None else timeout)
        while True:
            dev = pcilib.read_device(self.root, addr) or {}
            drv = dev.get('driver')
            done = drv == pcilib.VFIO_DRIVER if want_vfio else (drv is not None and drv != pcilib.VFIO_DRIVER)
            if done or time.time() >= deadline:
                return dev
            time.sleep(0.25)

    def ensure_vfio_loaded(self):
        if os.path.isdir(self.path('sys/bus/pci/drivers/vfio-pci')):
            return
        if self.root != '/':
            self.module.fail_json(msg='root=%s: vfio-pci is not loaded in the test tree (modules are only loaded on a real host)'
                                  % self.root, changes=self.changes)
        modprobe = self.module.get_bin_path('modprobe', required=True)
        rc, _out, err = self.module.run_command([modprobe, 'vfio-pci'])
        if rc != 0:
            self.module.fail_json(msg='could not load vfio-pci: %s' % err.strip(), changes=self.changes)

    def bind(self, addr, dev):
        self.ensure_vfio_loaded()
        base = 'sys/bus/pci/devices/%s' % addr
        try:
            self.write_sysfs(base + '/driver_override', pcilib.VFIO_DRIVER)
            if dev.get('driver') and dev['driver'] != pcilib.VFIO_DRIVER:
                self.write_sysfs(base + '/driver/unbind', addr)
            if not dev.get('driver') or dev['driver'] != pcilib.VFIO_DRIVER:
                self.write_sysfs('sys/bus/pci/drivers_probe', addr)
        except (IOError, OSError) as exc:
            self.module.fail_json(msg='binding %s to vfio-pci failed: %s' % (addr, exc), changes=self.changes)
        after = self.wait_driver(addr, True)
        if after.get('driver') != pcilib.VFIO_DRIVER:
            self.module.fail_json(msg='%s did not bind to vfio-pci (driver now %s)' % (addr, after.get('driver')),
                                  changes=self.changes)
        return after

    def release(self, addr, dev, entry, modules):
        base = 'sys/bus/pci/devices/%s' % addr
        try:
            self.write_sysfs(base + '/driver_override', '\n')
            if entry.get('id'):
                vendor, device = entry['id'].split(':')
                try:
                    self.write_sysfs('sys/bus/pci/drivers/vfio-pci/remove_id', '%s %s' % (vendor, device))
                except (IOError, OSError):
                    pass  # the id was not a dynamic id of vfio-pci
            if dev.get('driver') == pcilib.VFIO_DRIVER:
                self.write_sysfs(base + '/driver/unbind', addr)
            self.write_sysfs('sys/bus/pci/drivers_probe', addr)
        except (IOError, OSError) as exc:
            self.module.fail_json(msg='releasing %s from vfio-pci failed: %s' % (addr, exc), changes=self.changes)
        after = self.wait_driver(addr, False, timeout=min(3, self.params['timeout']))
        if after.get('driver') is None and modules and self.root == '/':
            modprobe = self.module.get_bin_path('modprobe')
            if modprobe:
                self.module.run_command([modprobe, modules[0]])
                after = self.wait_driver(addr, False)
        if after.get('driver') == pcilib.VFIO_DRIVER:
            self.module.fail_json(msg='%s is still bound to vfio-pci after release' % addr, changes=self.changes)
        return after

    # ----------------------------------------------------------------- unsafe parameters
    def runtime_unsafe(self):
        found = []
        for module_name, param in (('vfio_iommu_type1', 'allow_unsafe_interrupts'),
                                   ('vfio', 'enable_unsafe_noiommu_mode')):
            rel = 'sys/module/%s/parameters/%s' % (module_name, param)
            value = self.read_text(rel).strip()
            if value and pcilib.kernel_bool(value):
                found.append((rel, module_name, param))
        return found

    def conflicting_files(self):
        result = []
        conf_dir = self.path('etc/modprobe.d')
        managed = os.path.realpath(self.path(self.params['modprobe_conf']))
        try:
            names = sorted(os.listdir(conf_dir))
        except (IOError, OSError):
            return result
        for name in names:
            full = os.path.join(conf_dir, name)
            if not name.endswith('.conf') or os.path.realpath(full) == managed or not os.path.isfile(full):
                continue
            text = self.read_text('etc/modprobe.d', name)
            if pcilib.unsafe_option_lines(text):
                result.append((full, text, pcilib.disable_unsafe_lines(text)))
        return result

    # ----------------------------------------------------------------- files
    def write_file(self, full, content):
        if os.path.exists(full) and self.params['backup']:
            self.module.backup_local(full)
        if content == '' and os.path.exists(full):
            os.unlink(full)
            return
        directory = os.path.dirname(full)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        write_atomic(self.module, full, content)

    def initramfs_listing(self):
        """(image, set of kernel module names in it) of the running kernel's initramfs, or
        (None, reason) when it cannot be inspected."""
        if self.root != '/':
            text = self.read_text('run/hvsec-test/initramfs.txt')
            if not text:
                return None, 'test root: initramfs not inspected'
            image, out = '/boot/initrd.img-test', text
        else:
            release = os.uname()[2]
            image = '/boot/initrd.img-%s' % release
            if not os.path.exists(image):
                image = '/boot/initramfs-%s.img' % release
            if not os.path.exists(image):
                return None, 'no initramfs image for %s found' % release
            tool = self.module.get_bin_path('lsinitramfs') or self.module.get_bin_path('lsinitrd')
            if not tool:
                return None, 'neither lsinitramfs nor lsinitrd found: initramfs not inspected'
            rc, out, _err = self.module.run_command([tool, image])
            if rc != 0:
                return None, 'could not list %s' % image
        names = set()
        for line in out.splitlines():
            base = os.path.basename(line.strip().split()[-1] if line.strip() else '')
            for ext in ('.ko', '.ko.xz', '.ko.zst', '.ko.gz'):
                if base.endswith(ext):
                    names.add(base[:-len(ext)].replace('-', '_'))
        return image, names

    def initramfs_decision(self, modules, unsafe_options_changed=False):
        """Whether the persistent change needs a new initramfs: only when a module it concerns
        loads from the initramfs (before the root filesystem and its modprobe.d are there).
        ``modules``: the host drivers of the devices (a binding by address or id); with
        ``unsafe_options_changed`` (an unsafe VFIO option commented out, or the lock lines of the
        managed file changed) vfio, vfio_iommu_type1 and vfio_pci count too: loaded from the
        initramfs they read its old copy of modprobe.d."""
        mode = self.params['initramfs']
        if mode == 'never':
            return False, 'initramfs=never'
        if mode == 'always':
            return True, 'initramfs=always'
        image, names = self.initramfs_listing()
        if image is None:
            return False, names
        relevant = set(modules)
        if unsafe_options_changed:
            relevant |= set(pcilib.VFIO_UNSAFE_MODULES)
        inside = sorted(m for m in relevant if m in names)
        if inside:
            return True, '%s load(s) from %s: refresh needed' % (', '.join(inside), image)
        return False, '%s not in %s: no refresh needed' % (', '.join(sorted(relevant)) or 'no host driver', image)

    def refresh_initramfs(self):
        if self.root != '/':
            self.module.fail_json(msg='root=%s: the initramfs is only refreshed on a real host' % self.root,
                                  changes=self.changes)
        tool = self.module.get_bin_path('update-initramfs')
        if tool:
            cmd = [tool, '-u', '-k', os.uname()[2]]
        else:
            tool = self.module.get_bin_path('dracut')
            if not tool:
                self.module.fail_json(msg='initramfs refresh needed but neither update-initramfs nor dracut found',
                                      changes=self.changes)
            cmd = [tool, '-f']
        rc, _out, err = self.module.run_command(cmd)
        if rc != 0:
            self.module.fail_json(msg='initramfs refresh failed: %s' % err.strip(), changes=self.changes)

    # ----------------------------------------------------------------- main
    def run(self):
        params = self.params
        entries = self.normalized_entries()
        present = params['state'] == 'present'
        devices = pcilib.list_devices(self.root)
        targets, errors = pcilib.resolve_targets(devices, entries)
        if errors:
            self.module.fail_json(msg='; '.join(errors), changes=[])
        target_addrs = [a for a, _e in targets]

        protected = self.protected_devices()
        if present:
            refused = [a for a in target_addrs if a in protected]
            if refused and not params['force']:
                self.module.fail_json(
                    msg='refusing to bind device(s) the host needs: %s (set force=true to override)'
                        % '; '.join('%s %s' % (a, protected[a]) for a in refused),
                    protected=protected, changes=[])
            groups = {}
            for addr in target_addrs:
                group = devices[addr].get('iommu_group')
                if group is not None and group not in groups:
                    groups[group] = pcilib.group_members(self.root, group)
            blockers = pcilib.group_blockers(devices, groups, target_addrs)
            if blockers:
                self.module.fail_json(msg='IOMMU group not viable: ' + '; '.join(b['reason'] for b in blockers),
                                      blockers=blockers, changes=[])

        conf_full = self.path(params['modprobe_conf'])
        old_conf = self.read_text(params['modprobe_conf'])
        parsed = pcilib.parse_managed_modprobe(old_conf)
        # Host driver modules recorded by earlier runs: a device already on vfio-pci no longer shows
        # its host driver, and modprobe -R may be unavailable.
        known_modules = {}
        for mod, addrs in parsed['overrides'].items():
            for addr in addrs:
                known_modules.setdefault(addr, []).append(mod)

        # ---- plan runtime
        plan = []
        for addr, entry in targets:
            dev = devices[addr]
            on_vfio = dev.get('driver') == pcilib.VFIO_DRIVER
            override_vfio = dev.get('driver_override') == pcilib.VFIO_DRIVER
            if present:
                action = None if (on_vfio and override_vfio) else 'bind'
            else:
                action = 'release' if (on_vfio or override_vfio) else None
            plan.append((addr, entry, dev, action, self.host_modules(dev) or known_modules.get(addr, [])))

        # ---- plan persistence
        ids = [] if (present and params['exclusive']) else list(parsed['ids'])
        addr_entries = set()
        if not (present and params['exclusive']):
            for addrs in parsed['overrides'].values():
                addr_entries.update(addrs)
        entry_ids = set(e['id'] for e in entries if e.get('id'))
        entry_addrs = set(e['address'] for e in entries if e.get('address'))
        if present:
            ids.extend(i for i in sorted(entry_ids) if i not in ids)
            addr_entries.update(entry_addrs)
        else:
            ids = [i for i in ids if i not in entry_ids]
            addr_entries -= set(target_addrs)
        persistence = {}
        softdeps = set()
        overrides = {}
        module_cache = dict((p[0], p[4]) for p in plan)
        for addr, dev in devices.items():
            by_id = dev.get('id') in ids
            by_addr = addr in addr_entries
            if not (by_id or by_addr):
                continue
            mods = module_cache.get(addr)
            if mods is None:
                mods = self.host_modules(dev) or known_modules.get(addr, [])
            softdeps.update(mods)
            if by_addr and not by_id:
                if mods:
                    for mod in mods:
                        overrides.setdefault(mod, []).append(addr)
                    persistence[addr] = 'install-hook'
                else:
                    persistence[addr] = 'none'
                    self.warnings.append('%s: its host driver is built into the kernel or unknown, so the '
                                         'modprobe hook cannot persist the binding; add it by id or use '
                                         'vfio-pci.ids= on the kernel command line' % addr)
            else:
                persistence[addr] = 'ids'
        # Keep hooks for addresses that are not present right now (hot-unpluggable devices).
        for mod, addrs in parsed['overrides'].items():
            for addr in addrs:
                if addr in addr_entries and addr not in devices:
                    overrides.setdefault(mod, []).append(addr)
        if not params['persistent']:
            new_conf = old_conf
        else:
            new_conf = pcilib.render_managed_modprobe(ids, softdeps, overrides, params['lock_unsafe'])
        conf_changed = params['persistent'] and new_conf != old_conf

        unsafe_runtime = self.runtime_unsafe() if params['lock_unsafe'] else []
        conflicts = self.conflicting_files() if params['lock_unsafe'] else []

        # ---- report the plan
        for addr, entry, dev, action, _mods in plan:
            if action == 'bind':
                self.changes.append('%s: %s -> vfio-pci' % (addr, dev.get('driver') or 'no driver'))
            elif action == 'release':
                self.changes.append('%s: vfio-pci -> host driver' % addr)
        runtime_before = ''.join('%s %s\n' % (p[0], p[2].get('driver') or '-') for p in plan)
        runtime_after = ''.join('%s %s\n' % (p[0], 'vfio-pci' if p[3] == 'bind' else (
            'host-driver' if p[3] == 'release' else (p[2].get('driver') or '-'))) for p in plan)
        if runtime_before != runtime_after:
            self.diffs.append({'before_header': 'runtime drivers', 'after_header': 'runtime drivers',
                               'before': runtime_before, 'after': runtime_after})
        if conf_changed:
            self.changes.append('%s %s' % ('removed' if new_conf == '' else 'wrote', conf_full))
            self.diffs.append({'before_header': conf_full, 'after_header': conf_full,
                               'before': old_conf, 'after': new_conf})
        for full, old, new in conflicts:
            self.changes.append('%s: commented out unsafe VFIO option(s)' % full)
            self.diffs.append({'before_header': full, 'after_header': full, 'before': old, 'after': new})
        for rel, module_name, param in unsafe_runtime:
            self.changes.append('runtime %s.%s Y -> N' % (module_name, param))
            self.diffs.append({'before_header': '/' + rel, 'after_header': '/' + rel, 'before': 'Y\n', 'after': 'N\n'})

        all_mods = set()
        for p in plan:
            all_mods.update(p[4])
        refresh, refresh_reason = False, 'no persistent change'
        if conf_changed or conflicts:
            lock_changed = parsed['lock_unsafe'] != pcilib.parse_managed_modprobe(new_conf)['lock_unsafe']
            refresh, refresh_reason = self.initramfs_decision(
                all_mods | softdeps, unsafe_options_changed=bool(conflicts) or (conf_changed and lock_changed))
            if refresh:
                self.changes.append('initramfs refresh (%s)' % refresh_reason)
        changed = bool(self.changes)

        result = dict(changed=changed, changes=self.changes, protected=protected,
                      initramfs_refreshed=refresh, initramfs_reason=refresh_reason, modprobe_conf=new_conf)

        if self.module.check_mode:
            result['devices'] = [self.describe(p, None, persistence) for p in plan]
            return self.finish(result)

        # ---- apply: unsafe options commented out first (binding may load vfio modules, which must
        # not read them), then runtime binding, then the managed file after success
        for full, _old, new in conflicts:
            self.write_file(full, new)
        after_state = {}
        for addr, entry, dev, action, mods in plan:
            if action == 'bind':
                after_state[addr] = self.bind(addr, dev)
            elif action == 'release':
                after_state[addr] = self.release(addr, dev, entry, mods)
        if params['lock_unsafe']:
            # Binding may just have loaded vfio/vfio_iommu_type1: check their parameters again.
            for item in self.runtime_unsafe():
                if item not in unsafe_runtime:
                    unsafe_runtime.append(item)
                    self.changes.append('runtime %s.%s Y -> N' % (item[1], item[2]))
        for rel, _module_name, _param in unsafe_runtime:
            try:
                self.write_sysfs(rel, 'N')
            except (IOError, OSError) as exc:
                self.module.fail_json(msg='could not reset /%s: %s' % (rel, exc), changes=self.changes)
        if conf_changed:
            self.write_file(conf_full, new_conf)
        if refresh:
            self.refresh_initramfs()
        result['devices'] = [self.describe(p, after_state.get(p[0]), persistence) for p in plan]
        return self.finish(result)

    def describe(self, item, after, persistence):
        addr, entry, dev, action, mods = item
        now = after or dev
        group = now.get('iommu_group')
        dev_vfio = '/dev/vfio/%s' % group if group is not None else None
        return {
            'address': addr,
            'id': dev.get('id'),
            'name': entry.get('name'),
            'driver_before': dev.get('driver'),
            'driver': now.get('driver') if after is not None or action is None else (
                pcilib.VFIO_DRIVER if action == 'bind' else 'host driver'),
            'host_modules': mods,
            'iommu_group': group,
            'dev_vfio': dev_vfio if dev_vfio and os.path.exists(self.path(dev_vfio)) else None,
            'action': action,
            'persistence': persistence.get(addr, 'none'),
        }

    def finish(self, result):
        for warning in self.warnings:
            self.module.warn(warning)
        if self.module._diff and self.diffs:
            result['diff'] = self.diffs
        self.module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            devices=dict(type='list', elements='dict', default=[], options=dict(
                address=dict(type='str'),
                id=dict(type='str'),
                name=dict(type='str'),
            )),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            exclusive=dict(type='bool', default=False),
            persistent=dict(type='bool', default=True),
            lock_unsafe=dict(type='bool', default=True),
            force=dict(type='bool', default=False),
            protect_interfaces=dict(type='list', elements='str', default=[]),
            protect_addresses=dict(type='list', elements='str', default=[]),
            initramfs=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
            modprobe_conf=dict(type='path', default='/etc/modprobe.d/hvsec-vfio.conf'),
            backup=dict(type='bool', default=True),
            timeout=dict(type='int', default=20),
            root=dict(type='path', default='/'),
        ),
        supports_check_mode=True,
    )
    Passthrough(module).run()


if __name__ == '__main__':
    main()
