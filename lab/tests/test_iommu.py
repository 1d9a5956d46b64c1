# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab proof for the iommu role (issue 4).

Boot configuration (GRUB defaults, grub.cfg, backups, KSM, nested) is checked in every phase;
the running kernel (/proc/cmdline, IOMMU group types, interrupt remapping, virt-host-validate)
in the "rebooted" phase (after Molecule's reboot side effect) and in standalone runs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest

from conftest import require_area

require_area('iommu')

STRICT = ['iommu.strict=1', 'iommu.passthrough=0', 'efi=disable_early_pci_dma']
FORBIDDEN_KEYS = ['pcie_acs_override']
FORBIDDEN = ['iommu=off', 'intel_iommu=off', 'amd_iommu=off', 'iommu=pt']
MODPROBE = '/etc/modprobe.d/zz-hvsec-kvm.conf'


@pytest.fixture(scope='module')
def intel(host):
    return host.file('/sys/firmware/acpi/tables/DMAR').exists


@pytest.fixture(scope='module')
def wanted(intel):
    return (['intel_iommu=on'] if intel else []) + STRICT


@pytest.fixture(scope='module')
def running(host, phase):
    if phase == 'converged':
        pytest.skip('the running kernel is checked after the reboot side effect')
    return host.file('/proc/cmdline').content_string.split()


def _grub_value(host, var):
    # Let the shell evaluate the files the way grub-mkconfig does.
    out = host.check_output(
        "sh -c '. /etc/default/grub; for f in /etc/default/grub.d/*.cfg; do [ -e \"$f\" ] && . \"$f\"; done; "
        "printf %%s \"$%s\"'" % var)
    return out.split()


def test_grub_defaults_carry_the_strict_arguments(host, wanted):
    linux = _grub_value(host, 'GRUB_CMDLINE_LINUX')
    default = _grub_value(host, 'GRUB_CMDLINE_LINUX_DEFAULT')
    for arg in wanted:
        assert arg in linux, (arg, linux)
    for arg in FORBIDDEN:
        assert arg not in linux + default
    assert not [w for w in linux + default if w.split('=')[0] in FORBIDDEN_KEYS]
    assert 'quiet' in default          # the operator's own argument is kept


def test_grub_cfg_generated_with_the_arguments(host, wanted):
    cfg = host.file('/boot/grub/grub.cfg').content_string
    linux_lines = [line for line in cfg.splitlines() if re.match(r'\s*linux\s', line)]
    assert linux_lines
    for line in linux_lines:
        for arg in wanted:
            assert arg in line.split(), (arg, line)
        assert 'iommu=pt' not in line.split()


def test_grub_backup_kept(host):
    out = host.run('ls /etc/default/ | grep -E "^grub\\..*~$"')
    assert out.rc == 0 and out.stdout.strip(), 'no backup of /etc/default/grub'


def test_running_cmdline(running, wanted):
    for arg in wanted:
        assert arg in running
    for arg in FORBIDDEN:
        assert arg not in running
    assert not [w for w in running if w.split('=')[0] in FORBIDDEN_KEYS]


def test_iommu_groups_strict(host, running):
    groups = host.check_output('ls /sys/kernel/iommu_groups').split()
    assert groups, 'no IOMMU groups: the IOMMU is off'
    types = dict((g, host.file('/sys/kernel/iommu_groups/%s/type' % g).content_string.strip()) for g in groups)
    assert set(types.values()) == {'DMA'}, types


def test_interrupt_remapping(host, running):
    interrupts = host.file('/proc/interrupts').content_string
    dmesg = host.run('dmesg').stdout
    assert ('IR-PCI-MSI' in interrupts or 'IR-IO-APIC' in interrupts
            or 'Enabled IRQ remapping' in dmesg or 'Interrupt remapping enabled' in dmesg)


def test_virt_host_validate_iommu(host, running, intel):
    out = host.run('virt-host-validate qemu')
    lines = dict((m.group(1).strip(), m.group(2)) for m in
                 re.finditer(r'QEMU: Checking (?:for |if )?(.*?)\s*:\s*(PASS|WARN|FAIL)', out.stdout))
    enabled = [v for k, v in lines.items() if 'IOMMU is enabled by kernel' in k]
    support = [v for k, v in lines.items() if 'device assignment IOMMU support' in k]
    cpu_svm = ' svm' in host.file('/proc/cpuinfo').content_string
    if support != ['PASS'] and intel and cpu_svm:
        # virt-host-validate looks for the IOMMU table of the CPU's vendor (IVRS for svm) and only
        # then checks "IOMMU is enabled by kernel". The Intel lab variant pairs an svm CPU with
        # intel-iommu (docs/lab.md), so neither can PASS there; the IOMMU itself is proven by
        # test_iommu_groups_strict and test_interrupt_remapping.
        assert support and support[0] == 'WARN', out.stdout
        pytest.skip('lab pairs an AMD-V CPU with an Intel IOMMU: %s' % support)
    assert enabled == ['PASS'], out.stdout
    assert support == ['PASS'], out.stdout


def test_ksm_off(host):
    assert host.file('/sys/kernel/mm/ksm/run').content_string.strip() == '0'
    assert 'w- /sys/kernel/mm/ksm/run - - - - 0' in host.file('/etc/tmpfiles.d/00-hvsec-ksm.conf').content_string


def test_nested_off(host):
    assert 'options kvm_amd nested=0' in host.file(MODPROBE).content_string
    for mod in ('kvm_intel', 'kvm_amd'):
        param = host.file('/sys/module/%s/parameters/nested' % mod)
        if param.exists:
            assert param.content_string.strip() in ('0', 'N')
