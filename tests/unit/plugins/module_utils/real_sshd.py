# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real OpenSSH sshd for unit tests that must see sshd's own reading of a configuration.

``sshd()`` is $HVSEC_TEST_SSHD (a binary or a wrapper script, e.g. Debian's openssh-server
unpacked with ``apt-get download openssh-server && dpkg-deb -x``) or /usr/sbin/sshd; tests skip
when neither runs. ``sshd -T`` needs root, a host key, the privilege separation user ``sshd``
and /run/sshd, as on any host with openssh-server installed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest


def sshd():
    """Path of a working sshd, or skip the test."""
    for path in (os.environ.get('HVSEC_TEST_SSHD'), '/usr/sbin/sshd'):
        if path and os.access(path, os.X_OK):
            break
    else:
        pytest.skip('no sshd here (set HVSEC_TEST_SSHD to an sshd binary or wrapper)')
    if os.geteuid() != 0:
        pytest.skip('sshd -T needs root')
    return path


def host_key(directory):
    """A fresh ed25519 host key in ``directory``; its path."""
    path = os.path.join(str(directory), 'hostkey')
    if not os.path.exists(path):
        try:
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path], check=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip('ssh-keygen failed: %s' % exc)
    return path


def run(args):
    """``(rc, stdout, stderr)`` of sshd with ``args``; skip when sshd cannot start at all here."""
    proc = subprocess.run([sshd()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if proc.returncode != 0 and ('Privilege separation user' in proc.stderr
                                 or 'Missing privilege separation directory' in proc.stderr):
        pytest.skip('sshd cannot run here: %s' % proc.stderr.strip())
    return proc.returncode, proc.stdout, proc.stderr
