#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: sriov_vf
short_description: Set the SR-IOV virtual functions of a physical function and lock each VF down
version_added: 0.1.0
description:
  - Sets the number of virtual functions (VFs) of an SR-IOV physical function (PF), never above the
    device's C(sriov_totalvfs) and never while a VF is assigned to a running guest.
  - Sets each VF's spoof checking, trust, MAC address, VLAN and transmit rate with
    C(ip link set PF vf N ...), at runtime and persistently (a config file read at boot by the
    C(hvsec-sriov@PF.service) unit that the C(hvsec.hypervisor.vfio) role installs).
  - Reports exactly which setting of which VF changed, from what to what.
  - Implements controls HVS-VFIO-08, HVS-VFIO-09, HVS-VFIO-10, HVS-VFIO-11 and HVS-VFIO-12.
options:
  pf:
    description: Network interface name of the physical function.
    type: str
    required: true
  numvfs:
    description:
      - Wanted number of VFs (0 removes them all). Omit to keep the current number.
      - Changing it recreates every VF (the kernel only allows 0 -> N), so it is refused while any
        VF is used by a running libvirt domain or has its /dev/vfio group open.
    type: int
  vfs:
    description: Settings per VF; VFs not listed get spoofchk on and trust off when O(secure_undeclared).
    type: list
    elements: dict
    default: []
    suboptions:
      vf:
        description: VF index, 0 .. numvfs-1.
        type: int
        required: true
      mac:
        description: Administrator-set unicast MAC address of the VF.
        type: str
      vlan:
        description: VLAN id 1-4094 enforced on the VF's traffic.
        type: int
      spoofchk:
        description: Source MAC spoof checking.
        type: bool
        default: true
      trust:
        description: Trusted mode (promiscuous, MAC changes by the guest). Keep off.
        type: bool
        default: false
      rate:
        description: Maximum transmit rate in Mbit/s (0 = unlimited).
        type: int
  secure_undeclared:
    description: Set spoofchk on and trust off on VFs that O(vfs) does not list.
    type: bool
    default: true
  persistent:
    description: Write O(config_dir)/PF.conf so that C(hvsec-sriov@PF.service) recreates the VFs at boot.
    type: bool
    default: true
  config_dir:
    description: Directory of the boot-time configuration files.
    type: path
    default: /etc/hvsec/sriov
  timeout:
    description: Seconds to wait for new VFs to appear.
    type: int
    default: 30
  root:
    description:
      - Filesystem root below which C(/sys), C(/run), C(/proc) and O(config_dir) are read and written.
        Only for tests against a fixture tree; keep the default on real hosts. Under a test root the
        VF state is read from C(run/hvsec-test/ip-link-PF.json), and changes are applied only through
        an C(ip) stand-in at C(run/hvsec-test/ip), never with the host's own C(ip).
    type: path
    default: /
notes:
  - Needs root and the C(ip) command (iproute2). Supports check mode and diff mode.
seealso:
  - module: hvsec.hypervisor.pci_passthrough
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
- name: HVS-VFIO-08..12 | Two locked-down VFs on eth1
  hvsec.hypervisor.sriov_vf:
    pf: eth1
    numvfs: 2
    vfs:
      - {vf: 0, mac: "52:54:00:aa:bb:01", vlan: 100}
      - {vf: 1, mac: "52:54:00:aa:bb:02", vlan: 101, rate: 1000}

- name: Remove every VF of eth1
  hvsec.hypervisor.sriov_vf:
    pf: eth1
    numvfs: 0
'''

RETURN = r'''
changes:
  description: Every change made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: str
  sample: ["numvfs 0 -> 2", "vf 0 spoofchk False -> True", "vf 0 vlan 0 -> 100"]
vf_changes:
  description: The VF setting changes as data.
  returned: always
  type: list
  elements: dict
  sample: [{vf: 0, setting: vlan, before: 0, after: 100}]
numvfs_before:
  description: VF count before the run.
  returned: always
  type: int
numvfs:
  description: VF count after the run (wanted count in check mode).
  returned: always
  type: int
totalvfs:
  description: The device's sriov_totalvfs.
  returned: always
  type: int
vfs:
  description: State of every VF after the run (as read back with ip link; predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{vf: 0, mac: "52:54:00:aa:bb:01", vlan: 100, qos: 0, spoofchk: true, trust: false, rate: 0,
            address: "0000:01:10.0", driver: igbvf, iommu_group: 12, iommu_group_size: 1}]
config_file:
  description: Path of the boot-time configuration (null when not persistent).
  returned: always
  type: str
'''

import glob
import json
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sriov as srlib
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils import files
from ansible_collections.hvsec.hypervisor.plugins.module_utils import netnames
from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci as pcilib


class SriovVf(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.root = module.params['root'] or '/'
        self.ip = None

    def path(self, *parts):
        return os.path.join(self.root, *[p.lstrip('/') for p in parts])

    def read_text(self, *parts):
        """The text of a file under the root, or None when it cannot be read."""
        return files.read_text(self.path(*parts))

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    # ------------------------------------------------------------------ reading
    def vf_state(self, pf):
        if self.root != '/':
            text = self.read_text('run/hvsec-test/ip-link-%s.json' % pf) or '[]'
            return srlib.parse_vfinfo(json.loads(text))
        rc, out, err = self.module.run_command([self.ip, '-j', '-d', 'link', 'show', 'dev', pf])
        if rc != 0:
            self.fail('ip -j -d link show dev %s failed: %s' % (pf, err.strip()))
        try:
            return srlib.parse_vfinfo(json.loads(out or '[]'))
        except ValueError:
            self.fail('could not parse ip -j output for %s' % pf)

    def vf_addresses(self, dev_dir):
        result = {}
        for link in glob.glob(os.path.join(dev_dir, 'virtfn*')):
            match = re.match(r'^virtfn(\d+)$', os.path.basename(link))
            if match:
                result[int(match.group(1))] = os.path.basename(os.readlink(link))
        return result

    def open_vfio_groups(self):
        """IOMMU group numbers whose /dev/vfio/N is open by some process."""
        groups = set()
        for fd_dir in glob.glob(self.path('proc/[0-9]*/fd')):
            try:
                names = os.listdir(fd_dir)
            except (IOError, OSError):
                continue
            for name in names:
                try:
                    target = os.readlink(os.path.join(fd_dir, name))
                except (IOError, OSError):
                    continue
                match = re.match(r'^/dev/vfio/(\d+)$', target)
                if match:
                    groups.add(int(match.group(1)))
        return groups

    def running_domain_hostdevs(self):
        """PCI address -> running libvirt domain name, from /run/libvirt/qemu/*.xml."""
        result = {}
        for path in glob.glob(self.path('run/libvirt/qemu/*.xml')):
            text = files.read_text(path)
            if text is None:
                continue
            name, addrs = srlib.domain_hostdev_addresses(text)
            for addr in addrs:
                result[addr] = name or os.path.basename(path)[:-4]
        return result

    def assigned_vfs(self, vf_addrs):
        hostdevs = self.running_domain_hostdevs()
        open_groups = None
        busy = []
        for index in sorted(vf_addrs):
            addr = vf_addrs[index]
            if addr in hostdevs:
                busy.append('vf %d (%s) is assigned to running domain %s' % (index, addr, hostdevs[addr]))
                continue
            dev = pcilib.read_device(self.root, addr) or {}
            if dev.get('driver') == pcilib.VFIO_DRIVER and dev.get('iommu_group') is not None:
                if open_groups is None:
                    open_groups = self.open_vfio_groups()
                if dev['iommu_group'] in open_groups:
                    busy.append('vf %d (%s) is in use: /dev/vfio/%s is open' % (index, addr, dev['iommu_group']))
        return busy

    # ------------------------------------------------------------------ main
    def run(self):
        params = self.params
        pf = params['pf']
        message = netnames.ifname_message(pf, 'pf')
        if message:
            self.fail(message)
        dev_dir = self.path('sys/class/net', pf, 'device')
        if not os.path.isdir(self.path('sys/class/net', pf)):
            self.fail('pf: interface %s does not exist' % pf)
        if not os.path.isdir(dev_dir):
            self.fail('pf: interface %s is not backed by a PCI device' % pf)
        total_text = self.read_text('sys/class/net', pf, 'device', 'sriov_totalvfs')
        if total_text is None:
            self.fail('pf: %s is not SR-IOV capable (no sriov_totalvfs)' % pf)
        totalvfs = int(total_text.strip())
        current_num = int((self.read_text('sys/class/net', pf, 'device', 'sriov_numvfs') or '0').strip() or 0)
        numvfs = params['numvfs'] if params['numvfs'] is not None else current_num
        vfs = params['vfs'] or []
        errors = srlib.validate_request(numvfs, totalvfs, vfs)
        if errors:
            self.fail('sriov_vf %s: %s' % (pf, '; '.join(errors)))

        if self.root == '/':
            self.ip = self.module.get_bin_path('ip', required=True)
        elif os.access(self.path('run/hvsec-test/ip'), os.X_OK):
            # Test tree: an ip(8) stand-in that edits run/hvsec-test/ip-link-PF.json.
            self.ip = self.path('run/hvsec-test/ip')

        changes = []
        numvfs_change = numvfs != current_num
        if numvfs_change:
            busy = self.assigned_vfs(self.vf_addresses(dev_dir))
            if busy:
                self.fail('refusing to change numvfs of %s from %d to %d: %s'
                          % (pf, current_num, numvfs, '; '.join(busy)))
            changes.append('numvfs %d -> %d' % (current_num, numvfs))

        current = {} if numvfs_change else self.vf_state(pf)
        wanted = srlib.wanted_vf_settings(numvfs, vfs, params['secure_undeclared'])
        vf_changes, commands = srlib.plan_vf_changes(current, wanted)
        changes.extend('vf %d %s %s -> %s' % (c['vf'], c['setting'], c['before'], c['after']) for c in vf_changes)

        config_file = None
        old_conf = new_conf = None
        if params['persistent']:
            config_file = os.path.join(params['config_dir'], '%s.conf' % pf)
            old_conf = self.read_text(config_file) or ''
            new_conf = srlib.render_config(pf, numvfs, wanted)
            if old_conf != new_conf:
                changes.append('wrote %s' % config_file)

        diffs = []
        before_rt = self.describe_text(current_num, current)
        predicted = self.predict(current, wanted, numvfs)
        after_rt = self.describe_text(numvfs, predicted)
        if before_rt != after_rt:
            diffs.append({'before_header': '%s VFs' % pf, 'after_header': '%s VFs' % pf,
                          'before': before_rt, 'after': after_rt})
        if params['persistent'] and old_conf != new_conf:
            diffs.append({'before_header': config_file, 'after_header': config_file,
                          'before': old_conf, 'after': new_conf})

        result = dict(changed=bool(changes), changes=changes, vf_changes=vf_changes,
                      numvfs_before=current_num, numvfs=numvfs, totalvfs=totalvfs, config_file=config_file)
        if self.module._diff and diffs:
            result['diff'] = diffs

        if self.module.check_mode or not changes:
            result['vfs'] = self.vf_list(predicted, self.vf_addresses(dev_dir))
            self.module.exit_json(**result)

        # ---- apply
        if self.root != '/' and self.ip is None:
            self.fail('root=%s: changes are only applied on a real host (root=/); use check mode with a test root'
                      % self.root, changes=changes)
        if numvfs_change:
            sysfile = os.path.join(dev_dir, 'sriov_numvfs')
            try:
                if current_num != 0:
                    self.write(sysfile, '0')
                if numvfs != 0:
                    self.write(sysfile, str(numvfs))
            except (IOError, OSError) as exc:
                self.fail('setting %s sriov_numvfs to %d failed: %s' % (pf, numvfs, exc), changes=changes)
            self.wait_vfs(pf, numvfs)
        for cmd in commands:
            rc, _out, err = self.module.run_command([self.ip, 'link', 'set', 'dev', pf] + cmd)
            if rc != 0:
                self.fail('ip link set dev %s %s failed: %s' % (pf, ' '.join(cmd), err.strip()), changes=changes)
        after = self.vf_state(pf)
        mismatches = []
        for index, want in wanted.items():
            have = after.get(index) or {}
            for key, value in want.items():
                if have.get(key) != value:
                    mismatches.append('vf %d %s is %s, wanted %s' % (index, key, have.get(key), value))
        if mismatches:
            self.fail('VF settings did not take effect on %s: %s' % (pf, '; '.join(mismatches)), changes=changes)
        if params['persistent'] and old_conf != new_conf:
            self.write_config(config_file, new_conf)
        result['vfs'] = self.vf_list(after, self.vf_addresses(dev_dir))
        self.module.exit_json(**result)

    def predict(self, current, wanted, numvfs):
        state = {}
        for index in range(numvfs):
            fresh = {'mac': srlib.ZERO_MAC, 'vlan': 0, 'qos': 0, 'spoofchk': True, 'trust': False, 'rate': 0}
            base = dict(current.get(index) or fresh)
            base.update(wanted.get(index) or {})
            state[index] = base
        return state

    @staticmethod
    def describe_text(numvfs, state):
        lines = ['numvfs %d' % numvfs]
        for index in sorted(state):
            vf = state[index]
            lines.append('vf %d mac %s vlan %s spoofchk %s trust %s rate %s' % (
                index, vf.get('mac'), vf.get('vlan'), 'on' if vf.get('spoofchk') else 'off',
                'on' if vf.get('trust') else 'off', vf.get('rate')))
        return '\n'.join(lines) + '\n'

    def vf_list(self, state, addrs):
        out = []
        for index in sorted(state):
            item = dict(state[index])
            item['vf'] = index
            item['address'] = addrs.get(index)
            dev = pcilib.read_device(self.root, addrs[index]) if addrs.get(index) else None
            item['driver'] = dev.get('driver') if dev else None
            item['iommu_group'] = dev.get('iommu_group') if dev else None
            item['iommu_group_size'] = (len(pcilib.group_members(self.root, dev['iommu_group']))
                                        if dev and dev.get('iommu_group') is not None else None)
            out.append(item)
        return out

    def write(self, path, value):
        with open(path, 'w') as handle:
            handle.write(value)

    def wait_vfs(self, pf, numvfs):
        deadline = time.time() + self.params['timeout']
        while self.root == '/':
            if len(self.vf_state(pf)) >= numvfs:
                return
            if time.time() >= deadline:
                self.fail('%s: %d VFs did not appear within %ds' % (pf, numvfs, self.params['timeout']))
            time.sleep(0.5)

    def write_config(self, config_file, content):
        full = self.path(config_file)
        directory = os.path.dirname(full)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if os.path.exists(full):
            self.module.backup_local(full)
        write_atomic(self.module, full, content)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pf=dict(type='str', required=True),
            numvfs=dict(type='int'),
            vfs=dict(type='list', elements='dict', default=[], options=dict(
                vf=dict(type='int', required=True),
                mac=dict(type='str'),
                vlan=dict(type='int'),
                spoofchk=dict(type='bool', default=True),
                trust=dict(type='bool', default=False),
                rate=dict(type='int'),
            )),
            secure_undeclared=dict(type='bool', default=True),
            persistent=dict(type='bool', default=True),
            config_dir=dict(type='path', default='/etc/hvsec/sriov'),
            timeout=dict(type='int', default=30),
            root=dict(type='path', default='/'),
        ),
        supports_check_mode=True,
    )
    SriovVf(module).run()


if __name__ == '__main__':
    main()
