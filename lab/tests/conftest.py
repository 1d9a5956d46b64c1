# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""testinfra tests of the lab hypervisor VM and of the Molecule harness.

Run by Molecule's testinfra verifier (which passes --hosts and --ansible-inventory), or by hand
against a lab started with `make lab-up`:

    .venv/bin/pytest lab/tests                       # uses $LAB_DIR/inventory.yml (default .lab)

Environment:
    LAB_DIR                  the lab's state directory (lab.env tells the IOMMU variant); inside
                             Molecule: HVSEC_MOLECULE_LAB_DIR (default .lab/molecule)
    HVSEC_LAB_VERIFY_PHASE   set by lab/run-molecule.sh: "converged" (after converge) or
                             "rebooted" (after the reboot side effect)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The lab's group variables: lab.yml (areas, lab-wide settings) and one ROLE.yml per role.
GROUP_VARS = os.path.join(REPO, 'lab', 'tests', 'group_vars', 'hypervisors')


def lab_dir():
    if os.environ.get('MOLECULE_PROJECT_DIRECTORY'):  # inside the Molecule scenario
        d = os.environ.get('HVSEC_MOLECULE_LAB_DIR') or os.path.join(REPO, '.lab', 'molecule')
    else:
        d = os.environ.get('LAB_DIR') or os.path.join(REPO, '.lab')
    return d if os.path.isabs(d) else os.path.join(REPO, d)


def lab_state():
    """The lab's lab.env (written by lab/up.sh) as a dict; empty when absent."""
    state = {}
    path = os.path.join(lab_dir(), 'lab.env')
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if '=' in line:
                    k, v = line.rstrip('\n').split('=', 1)
                    state[k] = v
    return state


def pytest_configure(config):
    # Standalone runs: point testinfra at the running lab's inventory.
    if not getattr(config.option, 'hosts', None):
        inv = os.path.join(lab_dir(), 'inventory.yml')
        if not os.path.exists(inv):
            raise pytest.UsageError('no --hosts given and no lab inventory at %s: run make lab-up first' % inv)
        config.option.hosts = 'ansible://hvlab'
        config.option.ansible_inventory = inv
        config.option.connection = 'ansible'


@pytest.fixture(scope='session')
def lab():
    return lab_state()


def hardened_areas():
    """The areas the Molecule scenario hardens (hvsec_harden_areas in the lab's group_vars)."""
    with open(os.path.join(GROUP_VARS, 'lab.yml')) as f:
        return set(yaml.safe_load(f)['hvsec_harden_areas'])


def require_area(area):
    """Skip a test module whose area the scenario does not harden (the reason names it)."""
    if area not in hardened_areas():
        pytest.skip('%s is not in hvsec_harden_areas of lab/tests/group_vars/hypervisors/lab.yml' % area,
                    allow_module_level=True)


@pytest.fixture(scope='session')
def areas():
    """Hardened areas after converge; empty before playbooks/harden.yml exists."""
    if not os.path.exists(os.path.join(REPO, 'playbooks', 'harden.yml')):
        return set()
    return hardened_areas()


@pytest.fixture(scope='session')
def phase():
    return os.environ.get('HVSEC_LAB_VERIFY_PHASE', '')


def lab_inventory():
    """The lab's own inventory written by lab/up.sh (SSH key, port). Molecule's generated
    inventory has Molecule's layout, so it is not used for the tests' own ansible runs."""
    path = os.environ.get('HVSEC_LAB_INVENTORY') or os.path.join(lab_dir(), 'inventory.yml')
    return path if os.path.exists(path) else None


def run_ansible(playbook=None, args=None, extra=None, check=False, timeout=1800, env_extra=None, diff=False):
    """Run ansible-playbook (playbook text) or ad-hoc ansible (args) against the lab with the
    collection from .build/collections and the default callback.

    Returns (rc, changed, output): changed is the sum of changed= over the PLAY RECAP (0 for
    ad-hoc runs), output is stdout + stderr. Skips the test when no lab inventory exists."""
    import json
    import re
    import subprocess
    import tempfile
    inv = lab_inventory()
    if inv is None:
        pytest.skip('no lab inventory (HVSEC_LAB_INVENTORY or %s/inventory.yml)' % lab_dir())
    env = dict(os.environ, ANSIBLE_CACHE_PLUGIN='memory', ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'))
    for var in ('ANSIBLE_CONFIG', 'ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CALLBACKS_ENABLED', 'ANSIBLE_CALLBACK_PLUGINS'):
        env.pop(var, None)
    env.update(env_extra or {})
    files = []
    try:
        if playbook is not None:
            with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as f:
                f.write(playbook)
            files.append(f.name)
            cmd = ['ansible-playbook', '-i', inv, f.name]
        else:
            cmd = ['ansible', '-i', inv, 'hypervisors'] + list(args or [])
        if extra is not None:
            with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
                json.dump(extra, f)
            files.append(f.name)
            cmd += ['-e', '@' + f.name]
        if check:
            cmd.append('--check')
        if diff:
            cmd.append('--diff')
        out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=timeout, check=False)
    finally:
        for name in files:
            os.unlink(name)
    text = out.stdout + out.stderr
    changed = 0
    if playbook is not None:
        recap = re.findall(r'^\S+\s+:\s+ok=\d+\s+changed=(\d+)', out.stdout, re.M)
        if not recap:
            raise AssertionError('no PLAY RECAP from %s:\n%s' % (' '.join(cmd), text[-3000:]))
        changed = sum(int(c) for c in recap)
    return out.returncode, changed, text


def role_vars(role):
    """The lab's variables for ROLE (lab/tests/group_vars/hypervisors/ROLE.yml)."""
    return os.path.join(GROUP_VARS, '%s.yml' % role)


def role_play(role):
    """A one-play playbook applying hvsec.hypervisor.ROLE to the lab, with the lab's variables
    (lab.yml and ROLE.yml where the lab has one)."""
    files = [os.path.join(GROUP_VARS, 'lab.yml')]
    if os.path.exists(role_vars(role)):
        files.append(role_vars(role))
    return ('- hosts: hypervisors\n  gather_facts: false\n  vars_files: [%s]\n'
            '  roles: [hvsec.hypervisor.%s]\n' % (', '.join(files), role))


def role_run(role, extra=None, tags=None):
    """ROLE on the lab with the lab's variables; ``tags`` limits it to the controls a test
    concerns (plus the always-tagged validation, facts and guards), to keep TCG minutes down."""
    env = {'ANSIBLE_RUN_TAGS': tags} if tags else None
    return run_ansible(playbook=role_play(role), extra=dict(lab_vars(), **(extra or {})), env_extra=env)


def lab_vars():
    """Every lab group variable (lab/tests/group_vars/hypervisors/*.yml) merged, for runs that
    use the lab's own inventory (which has no group_vars) and must see what Molecule's sees."""
    merged = {}
    for name in sorted(os.listdir(GROUP_VARS)):
        if name.endswith('.yml'):
            with open(os.path.join(GROUP_VARS, name)) as f:
                merged.update(yaml.safe_load(f) or {})
    return merged


# Tests that run a role or playbook against the lab (minutes each under TCG) prove behaviour,
# not boot-time state: the verify after the reboot side effect skips them.
runs_roles = pytest.mark.skipif(os.environ.get('HVSEC_LAB_VERIFY_PHASE') == 'rebooted',
                                reason='role runs are proven after converge; after the reboot only boot-time state is verified')

# Extra role-run proofs (minutes of TCG each) whose behaviour the scenario's own steps already
# cover for the whole play (check-safe: --check predicts without changing; idempotence; check):
# per-role check/fix cycles and the example site playbook. `make molecule` runs them with
# HVSEC_LAB_EXTENDED=1 (lab/run-molecule.sh passes it through); `make test` leaves them out to
# stay within its time budget.
extended = pytest.mark.skipif(os.environ.get('HVSEC_LAB_EXTENDED', '0') != '1',
                              reason='extended lab proof: set HVSEC_LAB_EXTENDED=1 (minutes of TCG per role run)')


def ssh_new_connection(timeout=20):
    """True when a NEW SSH connection to the lab succeeds over the administrator path (no
    multiplexing: an existing master would survive a firewall that drops new connections)."""
    import subprocess
    inv = lab_inventory()
    if inv is None:
        pytest.skip('no lab inventory')
    with open(inv) as f:
        h = yaml.safe_load(f)['all']['children']['hypervisors']['hosts']['hvlab']
    cmd = ['ssh', '-i', h['ansible_ssh_private_key_file'], '-p', str(h['ansible_port']), '-o', 'BatchMode=yes',
           '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=%d' % timeout,
           '-o', 'IdentitiesOnly=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none',
           '%s@%s' % (h['ansible_user'], h['ansible_host']), 'true']
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 100,
                          check=False).returncode == 0
