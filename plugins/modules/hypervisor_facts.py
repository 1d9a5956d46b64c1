#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hypervisor_facts
short_description: Gather the security-relevant state of a KVM/libvirt hypervisor host
version_added: 0.1.0
description:
  - Reads, in one read-only pass, everything the C(hvsec.hypervisor) controls evaluate and
    returns it as C(ansible_facts.hvsec) (schema in C(docs/facts.md) of the collection).
  - Covers CPU virtualization features and vulnerabilities, KVM and KSM, the running kernel
    command line, IOMMU units and groups, PCI devices with drivers and SR-IOV state, VFIO,
    Linux bridges, Open vSwitch, SR-IOV VF settings, libvirt configuration and domains,
    listening sockets, the effective sshd configuration, nftables, audit rules and time sync.
  - Never changes the host. A probe whose file or tool is absent, or that is denied by
    permissions, yields C(null) and an entry in C(notes); the module does not fail because of it.
  - Runs without root (reporting what it could not read as C(permission denied)); with
    C(become) it reads everything.
  - Each tool command is run at most once (C(ip) for links, addresses and default routes, C(bridge), C(ovs-vsctl),
    C(sshd -T), C(nft)), except
    C(sshd -T -C), run once per connection of interest (at most 40, a few milliseconds each).
    C(virsh) is never called; domain XML is read from C(/etc/libvirt/qemu) and C(/run/libvirt/qemu).
options:
  gather:
    description:
      - Which parts to gather. C(all) gathers everything. C(host) (hostname, kernel, memory,
        OS) is always gathered.
    type: list
    elements: str
    default: [all]
    choices: [all, host, cpu, kvm, ksm, cmdline, iommu, pci, vfio, network, libvirt, listeners,
              processes, sshd, nftables, audit, sysctl, security_module, time_sync, boot]
  sshd_admin_cidrs:
    description:
      - The administrator networks (normally C(hvsec_mgmt_plane_admin_cidrs)). Besides the global
        C(sshd -T), sshd's effective configuration is read with C(sshd -T -C) for a connection from
        an address outside them and from one inside each, so a C(Match) block that sets
        PermitRootLogin or PasswordAuthentication back for some clients is seen. Entries that are not
        CIDRs are noted and skipped.
    type: list
    elements: str
    default: []
  sshd_users:
    description:
      - Administrator users (e.g. the inventory's C(ansible_user)) whose effective sshd
        configuration is read as well; C(root) always is.
    type: list
    elements: str
    default: []
  sshd_local_address:
    description:
      - The address connections arrive on (normally C(hvsec_mgmt_plane_address)); empty takes
        sshd's first specific ListenAddress.
    type: str
    default: ''
attributes:
  facts:
    description: Returns C(ansible_facts.hvsec).
    support: full
notes:
  - Uses only the Python standard library on the managed host.
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes.info_module
'''

EXAMPLES = r'''
- name: Gather the hypervisor security facts
  hvsec.hypervisor.hypervisor_facts:

- name: Gather only IOMMU, PCI and kernel command line facts
  hvsec.hypervisor.hypervisor_facts:
    gather: [iommu, pci, cmdline]

- name: Show whether interrupt remapping is active
  ansible.builtin.debug:
    var: ansible_facts.hvsec.iommu.interrupt_remapping
'''

RETURN = r'''
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    hvsec:
      description:
        - The hypervisor security state; see C(docs/facts.md) for every key.
        - Keys of parts not selected with O(gather) are absent.
      returned: always
      type: dict
      contains:
        schema_version:
          description: Version of the facts schema.
          type: int
          returned: always
          sample: 1
        privileged:
          description: Whether the module ran with effective uid 0.
          type: bool
          returned: always
        notes:
          description: Every probe that could not be read, with the path or tool and the reason.
          type: list
          elements: dict
          returned: always
          sample: [{probe: sshd, path: sshd, reason: not installed}]
        host:
          description: Hostname, kernel release, total memory (KiB) and OS identity.
          type: dict
          returned: always
        cpu:
          description: CPU vendor, virtualization extension, SLAT, core counts, SMT and vulnerabilities.
          type: dict
          returned: when gathered
        kvm:
          description: /dev/kvm, loaded kvm modules and their parameters, nested, nx_huge_pages.
          type: dict
          returned: when gathered
        ksm:
          description: Kernel same-page merging state.
          type: dict
          returned: when gathered
        cmdline:
          description: Running kernel command line, raw and parsed into ordered arguments.
          type: dict
          returned: when gathered
        iommu:
          description: Firmware table, IOMMU units, groups with their type and devices, interrupt remapping.
          type: dict
          returned: when gathered
        pci:
          description: PCI devices with class, ids, driver, IOMMU group and SR-IOV state.
          type: dict
          returned: when gathered
        vfio:
          description: Loaded VFIO modules, their parameters, modprobe options and /dev/vfio entries.
          type: dict
          returned: when gathered
        network:
          description: Links (with SR-IOV VFs), addresses, Linux bridges and Open vSwitch.
          type: dict
          returned: when gathered
        libvirt:
          description:
            - Effective configuration of libvirtd, virtproxyd, virtqemud and the QEMU driver, socket and service
              unit states, the read-write sockets' unit settings and modes, domains, networks, nwfilters.
          type: dict
          returned: when gathered
        listeners:
          description: Listening TCP and bound UDP sockets with their owning process.
          type: list
          elements: dict
          returned: when gathered
        processes:
          description: Distinct process names.
          type: list
          elements: str
          returned: when gathered
        sshd:
          description:
            - Effective sshd configuration from C(sshd -T), the Match blocks of sshd_config and its
              Includes, and per connection of interest (C(sshd -T -C)) the values that differ.
          type: dict
          returned: when gathered
        nftables:
          description: Whether nft is installed, the loaded tables and the ruleset (chains with their rules).
          type: dict
          returned: when gathered
        audit:
          description: Audit rules from /etc/audit/rules.d.
          type: dict
          returned: when gathered
        sysctl:
          description: Selected kernel parameters (bridge netfilter, forwarding).
          type: dict
          returned: when gathered
        security_module:
          description: Active Linux security modules relevant to sVirt.
          type: dict
          returned: when gathered
        time_sync:
          description: Whether a time synchronisation daemon runs.
          type: dict
          returned: when gathered
        boot:
          description:
            - Boot integrity and kernel attack surface, UEFI, Secure Boot, TPM, lockdown, module signature
              enforcement, hardening sysctls and the GRUB configuration's superusers (never a password hash).
          type: dict
          returned: when gathered
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvsec.hypervisor.plugins.module_utils import secrets
from ansible_collections.hvsec.hypervisor.plugins.module_utils.hvfacts import gather_facts, PROBES

_SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin']


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather=dict(type='list', elements='str', default=['all'], choices=['all'] + list(PROBES)),
            sshd_admin_cidrs=dict(type='list', elements='str', default=[]),
            sshd_users=dict(type='list', elements='str', default=[]),
            sshd_local_address=dict(type='str', default=''),
        ),
        supports_check_mode=True,
    )

    def run_command(args):
        return module.run_command(args, environ_update={'LANG': 'C', 'LC_ALL': 'C'})

    def get_bin_path(name):
        return module.get_bin_path(name, required=False, opt_dirs=_SBIN)

    facts = gather_facts(root='/', run_command=run_command, get_bin_path=get_bin_path,
                         gather=module.params['gather'],
                         sshd_options={'admin_cidrs': module.params['sshd_admin_cidrs'],
                                       'users': module.params['sshd_users'],
                                       'local_address': module.params['sshd_local_address']})
    # qemu.conf may hold console passwords: the facts keep that a key is set, never its value.
    for conf in ((facts.get('libvirt') or {}).get('config') or {}).values():
        secrets.hide(module, secrets.secret_values(conf if isinstance(conf, dict) else {}))
    module.exit_json(changed=False, ansible_facts={'hvsec': facts})


if __name__ == '__main__':
    main()
