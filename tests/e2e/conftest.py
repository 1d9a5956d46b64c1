# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared set-up of the end-to-end tests (localhost only)."""

import hashlib
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')


@pytest.fixture(scope='session', autouse=True)
def collection_link():
    """This tree as the collection hvsec.hypervisor under .build/collections (what `make collection`
    does), so the tests also work when run directly with the venv's pytest."""
    link = os.path.join(COLLECTIONS, 'ansible_collections', 'hvsec', 'hypervisor')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)


def tree_checksums(tops):
    """sha256 of every regular file under the directories TOPS (those that exist); links by their
    target, other special files marked: what a refused or check-mode run must leave as it was."""
    out = {}
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    out[path] = 'link:%s' % os.readlink(path) if os.path.islink(path) else 'special'
                    continue
                with open(path, 'rb') as handle:
                    out[path] = hashlib.sha256(handle.read()).hexdigest()
    return out
