# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""secrets.xml_passwords: the three forms of a domain XML password, with the XML entity handling
of xml.sax.saxutils (which the module no longer imports: it pulls in urllib.request and ssl on
every managed host) as the oracle."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import itertools
from xml.sax.saxutils import escape, unescape

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import secrets

PIECES = ['&', '<', '>', '"', "'", 'a', ';', '&amp;', '&lt;', '&gt;', '&quot;', '&apos;', '&amp;lt;', '&#39;']


def test_entity_handling_matches_saxutils():
    for size in (1, 2, 3):
        for parts in itertools.product(PIECES, repeat=size):
            text = ''.join(parts)
            assert secrets._xml_unescape(text) == unescape(text, {'&quot;': '"', '&apos;': "'"}), text
            assert secrets._xml_escape(text) == escape(text, {'"': '&quot;'}), text


@pytest.mark.parametrize('xml,expected', [
    ("<graphics type='vnc' passwd='s3&amp;cr&lt;t'/>", ['s3&amp;cr&lt;t', 's3&cr<t', 's3&amp;cr&lt;t']),
    ('<graphics type="spice" passwd="a&quot;b"/>', ['a&quot;b', 'a"b', 'a&quot;b']),
    ("<graphics type='vnc' passwd='plain'/>", ['plain', 'plain', 'plain']),
    ("<graphics type='vnc'/>", []),
])
def test_xml_passwords_returns_every_form(xml, expected):
    assert secrets.xml_passwords(xml) == expected


def test_module_imports_no_xml_sax():
    """The facts module imports secrets on every host: keep it light."""
    with open(secrets.__file__) as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or '')
    assert not [name for name in imported if name.startswith(('xml', 'urllib'))], imported
