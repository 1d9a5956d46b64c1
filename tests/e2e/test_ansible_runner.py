# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the audit under ansible-runner (the engine AWX runs jobs with), with the collection
laid out as the execution environment (execution-environment.yml) installs it: the built tarball,
installed with ansible-galaxy under a collections path like an EE's /usr/share/ansible/collections
(emulated in a temporary directory, the only entry of ANSIBLE_COLLECTIONS_PATH), against localhost.
"""

import importlib.metadata
import json
import os
import subprocess
import sys

import yaml

from ansible.release import __version__ as ANSIBLE_CORE_VERSION

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)


def _pins(path):
    out = {}
    with open(path) as handle:
        for line in handle:
            line = line.split('#', 1)[0].strip()
            if '==' in line and not line.startswith('-'):
                name, version = line.split('==', 1)
                out[name.strip().lower()] = version.strip()
    return out


def _run(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_audit_runs_under_ansible_runner_with_the_ee_collection_layout(tmp_path, monkeypatch):
    import ansible_runner

    with open(os.path.join(ROOT, 'execution-environment.yml')) as handle:
        ee = yaml.safe_load(handle)
    deps = ee['dependencies']
    # The EE is built from the same pins this test runs with (and make audit installs).
    assert deps['ansible_core']['package_pip'] == 'ansible-core==%s' % ANSIBLE_CORE_VERSION
    assert deps['ansible_runner']['package_pip'] == 'ansible-runner==%s' % importlib.metadata.version('ansible-runner')
    pins = _pins(os.path.join(ROOT, 'requirements.txt'))
    for requirement in deps['python']:
        name, version = requirement.split('==')
        assert pins.get(name.lower()) == version, requirement
    # ... and has everything make audit installs
    ee_names = set(r.split('==')[0].lower() for r in deps['python']) | {'ansible-core'}
    audit_top = {'ansible-core', 'jmespath', 'netaddr'}
    assert audit_top <= ee_names and audit_top <= set(_pins(os.path.join(ROOT, 'requirements-audit.txt')))

    # The collection as the EE has it: the built tarball, installed by ansible-galaxy.
    env = dict(os.environ)
    for name in ('ANSIBLE_CONFIG', 'ANSIBLE_COLLECTIONS_PATH'):
        env.pop(name, None)
    dist = tmp_path / 'dist'
    _run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist), ROOT], env)
    tarball = [str(dist / f) for f in os.listdir(str(dist)) if f.endswith('.tar.gz')][0]
    assert tarball.endswith(os.path.basename(ee['dependencies']['galaxy']['collections'][0]['name']))
    collections = tmp_path / 'ee' / 'usr' / 'share' / 'ansible' / 'collections'
    _run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(collections), tarball], env)
    installed = collections / 'ansible_collections' / 'hvsec' / 'hypervisor'
    assert (installed / 'playbooks' / 'audit.yml').is_file() and not installed.is_symlink()

    # A job as AWX gives it to ansible-runner: a private data directory with the project (here
    # without any ansible.cfg: the EE's defaults), the inventory and extra variables.
    for name in ('ANSIBLE_CONFIG', 'ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_CACHE_PLUGIN_CONNECTION'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('PATH', BIN + os.pathsep + os.environ.get('PATH', ''))
    private = tmp_path / 'job'
    (private / 'project').mkdir(parents=True)
    reports = private / 'artifacts' / 'hvsec'
    run = ansible_runner.run(
        private_data_dir=str(private), playbook='hvsec.hypervisor.audit', ident='audit', quiet=True,
        inventory={'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                   'ansible_python_interpreter': sys.executable}}}},
        extravars={'hvsec_audit_report_dir': str(reports)},
        envvars={'ANSIBLE_COLLECTIONS_PATH': str(collections), 'ANSIBLE_NOCOLOR': '1'})
    stdout = run.stdout.read()
    assert run.status == 'successful' and run.rc == 0, stdout[-4000:]
    ok = [e['event_data'].get('task') for e in run.events if e['event'] == 'runner_on_ok']
    assert 'Gather hypervisor facts (the only remote call)' in ok
    # the job's playbook came from the EE's collections path, not from this checkout
    starts = [e for e in run.events if e['event'] == 'playbook_on_task_start'
              and e['event_data'].get('task') == 'Gather hypervisor facts (the only remote call)']
    assert starts and starts[0]['event_data']['task_path'].startswith(str(installed)), starts[:1]
    data = json.loads((reports / 'audit.json').read_text())
    assert list(data['hosts']) == ['localhost'] and data['not_audited'] == {}
    assert sorted(os.listdir(str(reports))) == ['audit.html', 'audit.json', 'audit.junit.xml', 'audit.md']
    assert 'hvsec audit (1 host(s)' in stdout
