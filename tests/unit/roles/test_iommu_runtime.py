# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iommu role's runtime script (roles/iommu/files/runtime.sh) as its task runs it: /bin/sh -c with
the switches the task's argv computes from the plan. Only check mode is run here (it changes nothing)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'iommu'))
TASK = 'HVS-IOMMU-13 HVS-IOMMU-14 HVS-IOMMU-15 | Apply KSM off, nested off and nx_huge_pages now'


def task_argv(plan, check_mode):
    """The task's argv with the script text and the switches templated as Ansible would."""
    with open(os.path.join(ROLE, 'tasks', 'main.yml')) as f:
        task = [t for t in yaml.safe_load(f) if t.get('name') == TASK][0]
    argv = task['ansible.builtin.command']['argv']
    assert argv[:2] == ['/bin/sh', '-c'] and 'runtime.sh' in argv[2]
    with open(os.path.join(ROLE, 'files', 'runtime.sh')) as f:
        script = f.read().rstrip()
    templar = Templar(loader=DataLoader(), variables={'_hvsec_iommu': plan, 'ansible_check_mode': check_mode})
    return argv[:2] + [script, argv[3]] + ['%s' % templar.template(trust_as_template(a)) for a in argv[4:]]


def plan(ksm=False, nested_off=False, guests=(), nx=False):
    return {'ksm': {'wanted': ksm}, 'nested': {'wanted_off': nested_off}, 'running_guests': list(guests), 'nx': {'enforce': nx}}


def test_switches():
    assert task_argv(plan(), True)[4:] == ['1', '0', '0', '0', '0']
    assert task_argv(plan(ksm=True, nested_off=True, guests=['g'], nx=True), False)[4:] == ['0', '1', '1', '1', '1']
    assert task_argv(plan(nested_off=True), True)[4:] == ['1', '0', '1', '0', '0']


def test_nothing_wanted_prints_nothing():
    out = subprocess.run(task_argv(plan(), True), capture_output=True, text=True, check=True)
    assert out.stdout == '' and out.stderr == ''


@pytest.mark.parametrize('guests', [(), ('g',)])
def test_check_mode_only_predicts(guests):
    """In check mode every line is a prediction (CHANGE) or a pending reboot (REBOOT), whatever this host's state."""
    out = subprocess.run(task_argv(plan(ksm=True, nested_off=True, guests=guests, nx=True), True),
                         capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        assert line.startswith(('CHANGE HVS-IOMMU-1', 'REBOOT HVS-IOMMU-14')), line
        assert 'reloaded' not in line
        if guests:
            assert 'reload' not in line
