# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/run-sanity.sh (make sanity) fails when ansible-test skips a test for a missing tool."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
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


@pytest.mark.parametrize('line', [
    'WARNING: Required program "shellcheck" not found.',
    'WARNING: Skipping sanity test "pylint" due to missing virtual environment support on Python 3.11.',
])
def test_a_skipped_test_fails_the_run(tmp_path, line):
    fake, env = _fake_ansible_test(tmp_path, 'Running sanity test "shellcheck"\n' + line, 0)
    result = subprocess.run(['bash', SCRIPT, str(tmp_path), fake], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert 'skipped a test it should run' in result.stderr
    assert line in result.stderr


def test_a_clean_run_passes_and_a_failed_one_keeps_its_status(tmp_path):
    fake, env = _fake_ansible_test(tmp_path, 'Running sanity test "shellcheck"', 0)
    assert subprocess.run(['bash', SCRIPT, str(tmp_path), fake], env=env, capture_output=True, check=False).returncode == 0
    other = tmp_path / 'other'
    other.mkdir()
    fake, env = _fake_ansible_test(other, 'ERROR: Found 1 shellcheck issue(s)', 1)
    assert subprocess.run(['bash', SCRIPT, str(other), fake], env=env, capture_output=True, check=False).returncode == 1
