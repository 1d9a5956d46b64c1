# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading files on the managed host: the one helper every module and probe uses.

A file that is missing or unreadable reads as ``None`` (the caller decides whether that is
evidence, an error or "not configured"); text is decoded as UTF-8 with ``surrogateescape`` so
that a stray byte never makes a configuration unreadable and is written back unchanged.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def read_text(path, strip=False):
    """The file's text, or None when it cannot be read."""
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8', 'surrogateescape')
    except (IOError, OSError):
        return None
    return text.strip() if strip else text


def read_int(path):
    """The file's content as an integer (sysfs/procfs attributes), or None."""
    text = read_text(path, strip=True)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
