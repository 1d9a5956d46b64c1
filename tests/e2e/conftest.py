# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared set-up of the end-to-end tests (localhost only)."""

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
