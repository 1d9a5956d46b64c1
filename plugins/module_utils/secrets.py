# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep secrets the modules read or write out of their output.

libvirt's configuration files can hold passwords (``vnc_password`` and ``spice_password`` in
qemu.conf) and a domain's XML read with ``--security-info`` holds its console password
(``<graphics passwd='...'>``). A module that reads such a file registers the secret values with
``AnsibleModule.no_log_values``; Ansible then masks them wherever they appear in the result
(facts, ``changes``, ``diff``, messages), as it does for options declared ``no_log``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.common.text.converters import to_native

# Keys whose values are secrets.
SECRET_KEY = re.compile(r'password|passphrase|passwd|secret|token', re.I)
# <graphics ... passwd='...'> (libvirt writes single quotes; double quotes are valid XML too)
_PASSWD_ATTR = re.compile(r'''\bpasswd\s*=\s*(?:'([^']*)'|"([^"]*)")''')


def secret_values(mapping):
    """The values of the secret keys of a (libvirt configuration) dict, as non-empty strings."""
    out = []
    for key, value in (mapping or {}).items():
        if not SECRET_KEY.search(str(key)) or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            text = to_native(item)
            if text:
                out.append(text)
    return out


# XML attribute entities, as xml.sax.saxutils handles them (not imported: it pulls in
# urllib.request, http.client and ssl, a sixth of this collection's share of the facts
# module's start-up on every host).
_XML_UNESCAPE = (('&lt;', '<'), ('&gt;', '>'), ('&quot;', '"'), ('&apos;', "'"), ('&amp;', '&'))
_XML_ESCAPE = (('&', '&amp;'), ('<', '&lt;'), ('>', '&gt;'), ('"', '&quot;'))


def _xml_unescape(text):
    for entity, char in _XML_UNESCAPE:
        text = text.replace(entity, char)
    return text


def _xml_escape(text):
    for char, entity in _XML_ESCAPE:
        text = text.replace(char, entity)
    return text


def xml_passwords(text):
    """The ``passwd`` attribute values in a libvirt XML document, as written there, unescaped and
    escaped the way ElementTree writes them back (each form can reach the output)."""
    out = []
    for raw in [a or b for a, b in _PASSWD_ATTR.findall(text or '') if a or b]:
        plain = _xml_unescape(raw)
        out.extend([raw, plain, _xml_escape(plain)])
    return out


def hide(module, values):
    """Register ``values`` so AnsibleModule masks them in everything the module returns."""
    for value in values:
        if value:
            module.no_log_values.add(value)
