# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/run-sanity.sh (make sanity) fails when ansible-test skips a test for a missing tool."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
SCRIPT = os.path.join(ROOT, 'tests', 'run-sanity.sh')


def _fake_ansible_test(tmp_path, output, rc):
    """An ansible-test stand-in that prints OUTPUT and exits RC; a shellcheck stand-in on PATH."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    fake = bindir / 'ansible-test'
    fake.write_text('#!/bin/sh\ncat <<"OUT"\n%s\nOUT\nexit %d\n' % (output, rc))
    (bindir / 'shellcheck').write_text('#!/bin/sh\nexit 0\n')
    for path in (fake, bindir / 'shellcheck'):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PATH='%s:%s' % (bindir, os.environ.get('PATH', '')))
    return str(fake), env


@pytest.mark.parametrize('line, reported', [
    ('WARNING: Required program "shellcheck" not found.',
     'sanity test "shellcheck" skipped: required program "shellcheck" not found'),
    ('WARNING: Skipping sanity test "pylint" due to missing virtual environment support on Python 3.11.',
     'Skipping sanity test "pylint" due to missing virtual environment support on Python 3.11.'),
])
def test_a_skipped_test_fails_the_run_naming_the_test_and_the_tool(tmp_path, line, reported):
    # as ansible-test prints it: the warning after its test's line, then repeated at the end
    output = ('Running sanity test "pep8"\nRunning sanity test "shellcheck"\n%s\nRunning sanity test "yamllint"\n'
              'WARNING: Reviewing previous 1 warning(s):\n%s' % (line, line))
    fake, env = _fake_ansible_test(tmp_path, output, 0)
    result = subprocess.run(['bash', SCRIPT, str(tmp_path), fake], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 3
    assert 'skipped a test it should run' in result.stderr
    assert '  ' + reported + '\n' in result.stderr
    assert result.stderr.count(reported) == 1  # once, not again for the repeated warning


def _path_without_shellcheck(tmp_path, fake_id=None):
    """A PATH with the programs run-sanity.sh uses, linked from the real PATH, and no shellcheck."""
    bindir = tmp_path / 'nosc'
    bindir.mkdir()
    for prog in ('bash', 'sh', 'mktemp', 'rm', 'grep', 'tee', 'awk', 'cat'):
        real = shutil.which(prog)
        assert real, prog
        (bindir / prog).symlink_to(real)
    if fake_id is not None:
        (bindir / 'id').write_text('#!/bin/sh\necho %d\n' % fake_id)
        (bindir / 'id').chmod(0o755)
    return str(bindir)


def test_without_installing_a_missing_shellcheck_fails_the_run(tmp_path):
    fake, env = _fake_ansible_test(tmp_path, 'Running sanity test "shellcheck"\n'
                                   'WARNING: Required program "shellcheck" not found.', 0)
    env.update(PATH=_path_without_shellcheck(tmp_path), HVSEC_SANITY_INSTALL='0')
    result = subprocess.run(['bash', SCRIPT, str(tmp_path), fake], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 3
    assert 'sanity test "shellcheck" skipped: required program "shellcheck" not found' in result.stderr


def test_a_missing_shellcheck_it_cannot_install_stops_before_ansible_test(tmp_path):
    fake, env = _fake_ansible_test(tmp_path, 'ANSIBLE-TEST RAN', 0)
    env.update(PATH=_path_without_shellcheck(tmp_path, fake_id=1000))
    result = subprocess.run(['bash', SCRIPT, str(tmp_path), fake], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert 'shellcheck not found; installing needs apt-get as root' in result.stderr
    assert 'ANSIBLE-TEST RAN' not in result.stdout


def test_a_clean_run_passes_and_a_failed_one_keeps_its_status(tmp_path):
    fake, env = _fake_ansible_test(tmp_path, 'Running sanity test "shellcheck"', 0)
    assert subprocess.run(['bash', SCRIPT, str(tmp_path), fake], env=env, capture_output=True, check=False).returncode == 0
    other = tmp_path / 'other'
    other.mkdir()
    fake, env = _fake_ansible_test(other, 'ERROR: Found 1 shellcheck issue(s)', 1)
    assert subprocess.run(['bash', SCRIPT, str(other), fake], env=env, capture_output=True, check=False).returncode == 1
