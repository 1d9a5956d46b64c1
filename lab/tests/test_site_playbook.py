# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The example site playbook (playbooks/examples/site.yml) against the lab VM.

The example imports the roles into a site's own plays (import_role, include_role, a roles: list).
Here it runs once with the lab's variables (lab/tests/group_vars/hypervisors/*.yml, passed as
extra vars, the same values `-i lab/tests/inventory.yml` adds) on the lab that converge has
hardened: rc 0, and no role task changes anything (only the site's own tasks may).

Areas: the roles of the areas the lab hardens (hvsec_harden_areas in lab/tests/group_vars/
hypervisors/lab.yml, or HVSEC_SITE_AREAS=iommu,vfio,... to choose) run; the others are left out
with --skip-tags AREA (ANSIBLE_SKIP_TAGS), which also skips an include_role tagged with
the area. The site's own `common` tasks always run.

Skips with the reason when no lab inventory exists (make lab-up writes .lab/inventory.yml).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

from conftest import REPO, hardened_areas, lab_dir, lab_inventory, extended, lab_vars, run_ansible, runs_roles

if lab_inventory() is None:
    pytest.skip('no lab inventory (HVSEC_LAB_INVENTORY or %s/inventory.yml): start the lab with make lab-up'
                % lab_dir(), allow_module_level=True)

SITE = os.path.join(REPO, 'playbooks', 'examples', 'site.yml')
AREAS = ('iommu', 'vfio', 'vswitch', 'mgmt_plane')


def site_areas():
    chosen = os.environ.get('HVSEC_SITE_AREAS')
    areas = set(a.strip() for a in chosen.split(',') if a.strip()) if chosen else hardened_areas()
    unknown = areas - set(AREAS)
    assert not unknown, 'HVSEC_SITE_AREAS: unknown areas %s' % sorted(unknown)
    return areas


@pytest.fixture(scope='module')
def site_run():
    """One real run of the example on the hardened lab: (areas, (rc, changed, output))."""
    areas = site_areas()
    skipped = [a for a in AREAS if a not in areas]
    env = {'ANSIBLE_SKIP_TAGS': ','.join(skipped)} if skipped else {}
    playbook = '- ansible.builtin.import_playbook: %s\n' % SITE
    return areas, run_ansible(playbook=playbook, extra=lab_vars(), env_extra=env)


def changed_tasks(output):
    """Names of the tasks that reported changed in a default-callback output."""
    names, task = [], None
    for line in output.splitlines():
        match = re.match(r'^TASK \[(.*)\] \*+$', line)
        if match:
            task = match.group(1)
        elif line.startswith('changed: ') and task not in names:
            names.append(task)
    return names


def started_roles(output):
    return set(re.findall(r'^TASK \[hvsec\.hypervisor\.([a-z_]+) : ', output, re.M))


@extended
@runs_roles
def test_site_playbook_runs_the_roles_on_the_lab_and_they_change_nothing_more(site_run):
    """The lab is already hardened by converge (harden.yml): the same roles imported into a site's
    plays (import_role, include_role, roles: list) must succeed and change nothing; only the
    site's own common tasks may change (one real run, minutes under TCG)."""
    areas, (rc, dummy, out) = site_run
    assert rc == 0, out[-6000:]
    assert 'TASK [Common | Legal notice shown before SSH login]' in out
    # the roles of the chosen areas ran; the others did not get past their argument validation
    assert areas <= started_roles(out), out[-6000:]
    for area in set(AREAS) - areas:
        assert not re.search(r'^TASK \[hvsec\.hypervisor\.%s : (?!Validating arguments)' % area, out, re.M), area
    role_changes = [t for t in changed_tasks(out) if t.startswith('hvsec.hypervisor.')]
    assert role_changes == [], 'the site playbook\'s roles changed the hardened lab: %s' % role_changes
