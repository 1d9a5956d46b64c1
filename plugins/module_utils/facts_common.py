# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reasons recorded in ``notes`` by the hypervisor_facts probes (see docs/facts.md).

Shared by the reading context (hvfacts.py) and the probe areas (facts_*.py), which import this
module and not hvfacts.py, so that hvfacts.py can import every area.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno

PERMISSION_DENIED = 'permission denied'
NOT_FOUND = 'not found'
NOT_INSTALLED = 'not installed'


def reason_of(exc):
    """Short reason for an OSError."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NOT_FOUND
    return exc.strerror or str(exc)
