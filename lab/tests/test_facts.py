# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsec.hypervisor.hypervisor_facts on the lab agrees with what SSH reads from the VM."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from conftest import REPO

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(REPO, 'plugins', 'modules', 'hypervisor_facts.py')),
    reason='plugins/modules/hypervisor_facts.py does not exist yet')


@pytest.fixture(scope='module')
def facts(host):
    res = host.ansible('hvsec.hypervisor.hypervisor_facts', check=True)
    assert 'ansible_facts' in res, res
    return res['ansible_facts']['hvsec']


def test_cmdline_matches_proc(host, facts):
    assert facts['cmdline']['raw'] == host.file('/proc/cmdline').content_string.strip()


def test_iommu_groups_match_sysfs(host, facts):
    out = host.check_output(
        'for g in /sys/kernel/iommu_groups/*; do [ -r "$g/type" ] && echo "${g##*/} $(cat $g/type)"; done; true')
    sysfs = dict((int(g), t) for g, t in (line.split() for line in out.splitlines()))
    assert dict((g['id'], g['type']) for g in facts['iommu']['groups']) == sysfs


def test_iommu_units_match_sysfs(host, facts):
    assert sorted(facts['iommu']['units']) == sorted(host.check_output('ls /sys/class/iommu').split())


def test_cpu_and_kvm_match(host, facts):
    cpuinfo = host.file('/proc/cpuinfo').content_string
    assert facts['cpu']['logical_cpus'] == cpuinfo.count('processor\t:')
    assert facts['kvm']['dev_kvm'] == host.file('/dev/kvm').exists
