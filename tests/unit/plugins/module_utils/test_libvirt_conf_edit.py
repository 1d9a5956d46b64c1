# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils.libvirt_conf_edit import (
    ConfSyntaxError, coerce_settings, edit, parse, parse_entries, render_value, schema_for_path)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'libvirt')


def _read(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def _uncomment_examples(text):
    """Turn every single-line commented example (`#key = value`) of a shipped file into a setting."""
    out = []
    for line in text.splitlines(True):
        m = re.match(r'^#([a-z_]+ = ("[^"]*"|\'[^\']*\'|-?[0-9]+|\[.*\]))\s*$', line)
        out.append(m.group(1) + '\n' if m else line)
    return ''.join(out)


@pytest.mark.parametrize('name', ['libvirtd.conf', 'qemu.conf'])
def test_shipped_files_parse_and_noop_edit_is_identity(name):
    text = _read(name)
    assert parse_entries(text) == []   # Debian ships everything commented out
    new, changes = edit(text, {}, [])
    assert new == text and changes == []


@pytest.mark.parametrize('name', ['libvirtd.conf', 'qemu.conf'])
def test_every_shipped_example_parses_with_the_schema_type(name):
    text = _uncomment_examples(_read(name))
    entries = parse_entries(text)
    assert len(entries) > 20
    schema = schema_for_path('/etc/libvirt/' + name)
    values = dict((e.name, e.value) for e in entries)
    converted, warnings, errors = coerce_settings(values, schema)
    assert errors == []
    assert warnings == []


def test_set_existing_keeps_spacing_and_comment_and_other_lines():
    text = '# head\nlisten_tls = 0   # why\n\nlisten_tcp=1\n#listen_tcp = 1\n'
    new, changes = edit(text, {'listen_tcp': 0, 'listen_tls': 0})
    assert new == '# head\nlisten_tls = 0   # why\n\nlisten_tcp=0\n#listen_tcp = 1\n'
    assert changes == [{'key': 'listen_tcp', 'action': 'set', 'before': 1, 'after': 0}]


def test_add_appends_and_adds_missing_newline():
    new, changes = edit('a = 1', {'vnc_listen': '127.0.0.1', 'access_drivers': ['polkit']})
    assert new == 'a = 1\nvnc_listen = "127.0.0.1"\naccess_drivers = [ "polkit" ]\n'
    assert [c['action'] for c in changes] == ['add', 'add']


def test_multiline_list_replaced_in_place_and_unset_removes_whole_entry():
    text = ('x = 1\ncgroup_device_acl = [\n    "/dev/null",\n    "/dev/full",\n]\n'
            'tls_allowed_dn_list = ["C=GB,O=a", \n "C=GB,O=b"]\ny = 2\n')
    new, changes = edit(text, {'cgroup_device_acl': ['/dev/null']}, ['tls_allowed_dn_list'])
    assert new == 'x = 1\ncgroup_device_acl = [ "/dev/null" ]\ny = 2\n'
    assert parse(new) == {'x': 1, 'cgroup_device_acl': ['/dev/null'], 'y': 2}
    assert changes[1] == {'key': 'tls_allowed_dn_list', 'action': 'unset',
                          'before': ['C=GB,O=a', 'C=GB,O=b'], 'after': None}


def test_equal_values_are_untouched_even_with_other_quotes_or_bool():
    text = "vnc_listen = '127.0.0.1'\nvnc_tls = 1\nl = [ 'a' ,\"b\" ]\n"
    new, changes = edit(text, {'vnc_listen': '127.0.0.1', 'vnc_tls': True, 'l': ['a', 'b']})
    assert new == text and changes == []


def test_duplicates_first_kept_others_removed():
    text = 'listen_tcp = 1\nfoo = 2\nlisten_tcp = 1\n'
    new, changes = edit(text, {'listen_tcp': 0})
    assert new == 'listen_tcp = 0\nfoo = 2\n'
    assert [c['action'] for c in changes] == ['set', 'unset']


def test_unset_missing_key_is_noop_and_idempotent():
    text = 'a = 1\n'
    assert edit(text, {}, ['b']) == (text, [])
    once, dummy = edit(text, {'b': 'x'}, ['a'])
    twice, changes = edit(once, {'b': 'x'}, ['a'])
    assert once == twice == 'b = "x"\n' and changes == []


def test_semicolon_separated_and_triple_quoted():
    text = 'a = 1; b = "x"\nc = """multi\nline"""\n'
    assert parse(text) == {'a': 1, 'b': 'x', 'c': 'multi\nline'}
    new, dummy = edit(text, {'b': 'y'})
    assert new == 'a = 1; b = "y"\nc = """multi\nline"""\n'


@pytest.mark.parametrize('text,line,fragment', [
    ('a = "x\n', 1, 'unterminated string'),
    ('a = 1\nb = [ "x",\n', 3, 'unterminated list'),
    ('a = yes\n', 1, 'expected a value'),
    ('a 1\n', 1, 'expected "="'),
    ('a = 1 2\n', 1, 'end of the line'),
    ('= 1\n', 1, 'setting name'),
    ('a = [ "x", # why\n "y" ]\n', 1, 'no comment inside a list'),
])
def test_syntax_errors_name_the_line(text, line, fragment):
    with pytest.raises(ConfSyntaxError) as exc:
        parse_entries(text)
    assert exc.value.line == line
    assert fragment in str(exc.value)


def test_render_value():
    assert render_value(False) == '0'
    assert render_value(16509) == '16509'
    assert render_value('say "hi"') == "'say \"hi\"'"
    assert render_value([]) == '[]'
    with pytest.raises(ValueError):
        render_value('both " and \'')
    with pytest.raises(ValueError):
        render_value('a\nb')
    with pytest.raises(ValueError):
        render_value({'a': 1})


def test_set_and_unset_same_key_refused():
    with pytest.raises(ValueError):
        edit('', {'a': 1}, ['a'])


def test_schema_for_path():
    assert schema_for_path('/etc/libvirt/qemu.conf') == 'qemu'
    assert schema_for_path('/etc/libvirt/virtproxyd.conf') == 'daemon'
    assert schema_for_path('/etc/libvirt/libvirtd.conf') == 'daemon'
    assert schema_for_path('/etc/libvirt/lxc.conf') is None


def test_coerce_types():
    conv, warnings, errors = coerce_settings(
        {'listen_tcp': True, 'tcp_port': '16509', 'max_clients': '5000', 'access_drivers': ['polkit'],
         'security_driver': ['apparmor'], 'max_core': 'unlimited', 'frobnicate': 3}, 'daemon')
    assert conv['listen_tcp'] == 1 and conv['max_clients'] == 5000 and conv['tcp_port'] == '16509'
    assert conv['frobnicate'] == 3
    assert errors == []
    assert len(warnings) == 3  # security_driver, max_core and frobnicate are not daemon keys
    conv, warnings, errors = coerce_settings({'security_driver': 'apparmor', 'max_core': 'unlimited'}, 'qemu')
    assert errors == [] and warnings == []


@pytest.mark.parametrize('settings,fragment', [
    ({'listen_tcp': 'yes'}, 'listen_tcp must be an integer'),
    ({'auth_tcp': 0}, 'auth_tcp must be a string'),
    ({'access_drivers': 'polkit'}, 'access_drivers must be a list of strings'),
    ({'tls_allowed_dn_list': [1]}, 'must be a list of strings'),
    ({'bad key': 1}, 'not a valid libvirt setting name'),
    ({'unknown': {'a': 1}}, 'neither'),
    ({'vnc_listen': 'a"\''}, 'both quote'),
])
def test_coerce_errors(settings, fragment):
    conv, warnings, errors = coerce_settings(settings, 'qemu' if 'vnc' in str(settings) else 'daemon')
    assert len(errors) == 1 and fragment in errors[0]


def test_edit_real_file_round_trip():
    text = _read('libvirtd.conf')
    wanted = {'listen_tcp': 0, 'unix_sock_group': 'libvirt', 'unix_sock_rw_perms': '0770',
              'access_drivers': ['polkit'], 'audit_logging': 1}
    new, changes = edit(text, wanted)
    assert new.startswith(text)   # nothing of the shipped file is lost
    assert parse(new) == wanted
    again, changes = edit(new, wanted)
    assert again == new and changes == []
