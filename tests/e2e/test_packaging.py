# -*- coding: utf-8 -*-
"""The collection builds, installs from its tarball, documents itself, and packs into an EE context."""

import glob
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)


def _galaxy():
    with open(os.path.join(ROOT, 'galaxy.yml')) as f:
        return yaml.safe_load(f)


def _run(cmd, **kwargs):
    env = dict(os.environ)
    env.update(kwargs.pop('env', {}))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run(cmd, cwd=kwargs.pop('cwd', ROOT), env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, '%s failed (%s):\n%s\n%s' % (
        ' '.join(cmd), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:])
    return proc.stdout


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    _run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(out), ROOT])
    galaxy = _galaxy()
    path = out / ('%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version']))
    assert path.exists()
    return path


@pytest.fixture(scope='module')
def installed(tarball, tmp_path_factory):
    dest = tmp_path_factory.mktemp('collections')
    _run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(dest), str(tarball)])
    coll = dest / 'ansible_collections' / 'hvsec' / 'hypervisor'
    assert (coll / 'MANIFEST.json').exists()
    # Nothing from the working tree's private state leaks into the artifact.
    for leaked in ('.venv', '.lab', '.build', 'reports', '.git'):
        assert not (coll / leaked).exists(), leaked
    return dest


def test_every_module_documents_itself_from_the_installed_tarball(installed):
    modules = sorted(os.path.splitext(os.path.basename(p))[0]
                     for p in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))
    assert modules, 'no modules found'
    env = {'ANSIBLE_COLLECTIONS_PATH': str(installed)}
    out = _run([os.path.join(BIN, 'ansible-doc'), '-t', 'module', '--json'] +
               ['hvsec.hypervisor.%s' % m for m in modules], env=env)
    docs = yaml.safe_load(out)
    for module in modules:
        entry = docs['hvsec.hypervisor.%s' % module]
        assert entry['doc']['short_description'], module
        assert entry['examples'], module


def test_every_role_documents_its_entry_point(installed):
    roles = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, 'roles', '*')) if os.path.isdir(p))
    if not roles:
        pytest.skip('no roles in this tree yet')
    env = {'ANSIBLE_COLLECTIONS_PATH': str(installed)}
    for role in roles:
        out = _run([os.path.join(BIN, 'ansible-doc'), '-t', 'role', '--json', 'hvsec.hypervisor.%s' % role], env=env)
        doc = yaml.safe_load(out)
        options = doc['hvsec.hypervisor.%s' % role]['entry_points']['main']['options']
        assert options, role


def test_antsibull_docs_lint(installed):
    env = {'ANSIBLE_COLLECTIONS_PATH': str(installed)}
    coll = os.path.join(str(installed), 'ansible_collections', 'hvsec', 'hypervisor')
    _run([os.path.join(BIN, 'antsibull-docs'), 'lint-collection-docs', '--plugin-docs', coll], env=env)


def test_execution_environment_context(tarball, tmp_path):
    """ansible-builder lays out a build context that installs exactly this collection version."""
    with open(os.path.join(ROOT, 'execution-environment.yml')) as f:
        ee = yaml.safe_load(f)
    assert ee['version'] == 3
    galaxy = _galaxy()
    wanted = '%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version'])
    assert any(os.path.basename(f['src']) == wanted for f in ee['additional_build_files'])
    assert any(c['name'].endswith(wanted) for c in ee['dependencies']['galaxy']['collections'])
    # The EE file refers to the tarball under .build/dist (what `make build` writes).
    dist = os.path.join(ROOT, '.build', 'dist')
    os.makedirs(dist, exist_ok=True)
    target = os.path.join(dist, wanted)
    with open(str(tarball), 'rb') as src, open(target, 'wb') as dst:
        dst.write(src.read())
    context = tmp_path / 'ee'
    _run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', 'execution-environment.yml', '-c', str(context)])
    assert (context / '_build' / 'hvsec-collections' / wanted).exists()
    with open(str(context / '_build' / 'requirements.yml')) as f:
        reqs = yaml.safe_load(f)
    assert reqs['collections'][0]['name'].endswith(wanted)
    with open(str(context / '_build' / 'requirements.txt')) as f:
        python_reqs = f.read()
    assert 'netaddr' in python_reqs and 'jmespath' in python_reqs
