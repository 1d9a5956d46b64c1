# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a file on the managed host the safe way, for every module that writes one.

The content goes to a private temporary file (``mkstemp``, mode 0600) in the target's own
directory and replaces the target with ``AnsibleModule.atomic_move`` (one rename: a reader, a
crash or a power cut sees the old file or the new one, never half of it). ``atomic_move`` keeps
an existing file's mode, owner and SELinux context; a new file gets the caller's mode whatever
the umask (atomic_move alone would apply the umask). The temporary file is removed on every path
out, a failure included (``fail_json`` exits through ``finally``), and its name (``.hvsec-*``)
matches no ``*.conf``/``*.cfg``/unit glob, so even a killed process leaves nothing a daemon reads.

A path that is a symbolic link (``/etc/default/grub`` pointing into a configuration repository,
a drop-in linked from a shared directory) is written through: the link's final target gets the
new content, atomically, in its own directory, and the link stays as it was. Replacing the link
with a regular file would leave its target, the file the administrator maintains, stale.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes


def replace_keeping_attrs(src, dest):
    """Rename ``src`` over ``dest`` after giving it ``dest``'s mode and owner; raises OSError.

    For failure paths (restoring an original), where ``atomic_move`` would end the module
    with its own message instead of letting the caller report the first failure.
    """
    if os.path.exists(dest):
        st = os.stat(dest)
        os.chmod(src, stat.S_IMODE(st.st_mode))
        if os.geteuid() == 0:
            os.chown(src, st.st_uid, st.st_gid)
    os.rename(src, dest)


def write_atomic(module, path, content, mode=0o644, enforce_mode=False, validate=None, move=None):
    """Replace ``path`` with ``content`` (str or bytes).

    ``mode`` applies to a new file; an existing file keeps its mode unless ``enforce_mode``
    (files the collection owns completely, such as its own units and nftables tables).
    ``validate(tmp)`` may check the new content in place before the move (and fail the module);
    ``move(src, dest)`` replaces ``module.atomic_move`` (see ``replace_keeping_attrs``).
    A symbolic link is followed to its final target, which is the file replaced (see above).
    """
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.hvsec-', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(content, errors='surrogate_or_strict'))
            handle.flush()
            os.fsync(handle.fileno())
        if validate is not None:
            validate(tmp)
        existed = os.path.exists(path)
        if not existed:
            os.chmod(tmp, mode)
        # atomic_move gives a file it creates 0666 & ~umask (0666 under umask 0, which some
        # service managers and containers use): create it 0600 at most, then set ``mode``.
        umask = os.umask(0o077)
        try:
            (move or module.atomic_move)(tmp, path)
        finally:
            os.umask(umask)
        if not existed or enforce_mode:
            os.chmod(path, mode)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
