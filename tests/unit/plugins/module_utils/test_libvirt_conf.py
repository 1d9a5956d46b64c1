# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's configuration semantics, shared by the facts (libvirt_conf) and the editor
(libvirt_conf_edit, behind the libvirt_config module).

Every case below was checked against libvirt itself: Debian 12's libvirtd 9.0.0 started
unprivileged with ``libvirtd -f FILE --listen`` on a file holding the case (listen_tls = 0,
listen_addr = "127.0.0.1", listen_tcp = 1 and a tcp_port before it): an accepted file made it
listen on the port the case names, a refused one stopped it with "configuration file syntax
error: FILE:LINE: ...". lab/tests/test_libvirt_semantics.py repeats the duplicate-key and syntax
proofs on the lab VM.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import eval_mgmt_plane
from ansible_collections.hvsec.hypervisor.plugins.module_utils import hvfacts
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf_edit as lce
from ansible_collections.hvsec.hypervisor.tests.unit.plugins.module_utils import fixture_tree as ft

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'libvirt')


def _read(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


# Debian 12's libvirtd.conf (every setting commented out) with the remote-access lines an
# administrator added at the end, then a later "fix" appended below them: libvirtd uses the
# FIRST assignment and keeps listening without authentication.
DEBIAN_LIBVIRTD = _read('libvirtd.conf')
DUPLICATED = (DEBIAN_LIBVIRTD
              + '\n# remote access for the migration test\nlisten_tcp = 1\nauth_tcp = "none"\ntcp_port = "16509"\n'
              + '\n# hardening, appended later\nlisten_tcp = 0\nauth_tcp = "sasl"\ntcp_port = "16600"\n')


def _both(text):
    """What the facts read and what the editor reads, for one text."""
    values, errors = libvirt_conf.parse_libvirt_conf(text)
    try:
        edit_values = lce.parse(text)
    except lce.ConfSyntaxError as exc:
        edit_values = str(exc)
    return values, errors, edit_values


# ------------------------------------------------------------------ duplicate keys: the first wins
def test_duplicate_keys_read_as_libvirt_reads_them():
    values, errors, edit_values = _both(DUPLICATED)
    assert errors == []
    assert (values['listen_tcp'], values['auth_tcp'], values['tcp_port']) == (1, 'none', '16509')
    assert edit_values == values     # one parser, one answer
    assert libvirt_conf.duplicates(DUPLICATED) == {
        'listen_tcp': [DEBIAN_LIBVIRTD.count('\n') + 3, DEBIAN_LIBVIRTD.count('\n') + 8],
        'auth_tcp': [DEBIAN_LIBVIRTD.count('\n') + 4, DEBIAN_LIBVIRTD.count('\n') + 9],
        'tcp_port': [DEBIAN_LIBVIRTD.count('\n') + 5, DEBIAN_LIBVIRTD.count('\n') + 10]}


def test_duplicate_keys_fail_hvs_mgmt_01_end_to_end(tmp_path):
    root = ft.build_root('intel_vtd', tmp_path)
    with open(os.path.join(root, 'etc', 'libvirt', 'libvirtd.conf'), 'w') as f:
        f.write(DUPLICATED)
    facts = hvfacts.gather_facts(root, ft.fake_runner('intel_vtd'), ft.fake_bin_path('intel_vtd'), euid=0)
    assert facts['libvirt']['config']['libvirtd']['listen_tcp'] == 1
    result = dict((r['id'], r) for r in ev.evaluate(facts, {}, []))['HVS-MGMT-01']
    assert result['status'] == 'fail', result
    assert 'auth_tcp=none' in result['evidence']


def test_editor_changes_the_effective_assignment_and_drops_the_later_ones():
    new, changes = lce.edit(DUPLICATED, {'listen_tcp': 0, 'auth_tcp': 'sasl'})
    assert new.startswith(DEBIAN_LIBVIRTD)       # the shipped file's comments are all kept
    tail = new[len(DEBIAN_LIBVIRTD):]
    assert tail == ('\n# remote access for the migration test\nlisten_tcp = 0\nauth_tcp = "sasl"\ntcp_port = "16509"\n'
                    '\n# hardening, appended later\ntcp_port = "16600"\n')
    assert libvirt_conf.parse_libvirt_conf(new) == (lce.parse(new), [])
    assert lce.parse(new)['listen_tcp'] == 0 and lce.parse(new)['auth_tcp'] == 'sasl'
    assert [(c['key'], c['action']) for c in changes] == [
        ('listen_tcp', 'set'), ('auth_tcp', 'set'), ('listen_tcp', 'unset'), ('auth_tcp', 'unset')]
    assert 'libvirt reads the first assignment' in changes[2]['note']
    assert lce.edit(new, {'listen_tcp': 0, 'auth_tcp': 'sasl'}) == (new, [])


@pytest.mark.parametrize('text,wanted,expected', [
    # a later duplicate on the same line as the first: only its statement goes
    ('listen_tcp = 1; listen_tcp = 0\nx = 1\n', {'listen_tcp': 0}, 'listen_tcp = 0; \nx = 1\n'),
    # both statements of a line removed: the line goes, no blank line is left
    ('listen_tcp = 0\nauth_tcp = "none"; auth_tcp = "x"\n', {'listen_tcp': 0}, 'listen_tcp = 0\nauth_tcp = "none"; auth_tcp = "x"\n'),
    ('a = 1\nlisten_tcp = 1; listen_tcp = 2\n', {'listen_tcp': 0}, 'a = 1\nlisten_tcp = 0; \n'),
    ('listen_tcp = 0\nlisten_tcp = 1; listen_tcp = 2\nb = 2\n', {'listen_tcp': 0}, 'listen_tcp = 0\nb = 2\n'),
    # a duplicate whose list spans lines, and a CRLF file
    ('listen_tcp = 1\naccess_drivers = [\n  "polkit",\n]\naccess_drivers = [\n  "x"\n]\n', {'access_drivers': ['polkit']},
     'listen_tcp = 1\naccess_drivers = [\n  "polkit",\n]\n'),
    ('listen_tcp = 1\r\nlisten_tcp = 1\r\nz = 0\r\n', {'listen_tcp': 0}, 'listen_tcp = 0\r\nz = 0\r\n'),
])
def test_editor_removes_later_duplicates_cleanly(text, wanted, expected):
    new, dummy = lce.edit(text, wanted)
    assert new == expected
    assert lce.duplicates(new) == {} or set(lce.duplicates(new)).isdisjoint(wanted)
    assert lce.edit(new, wanted) == (new, [])


# ------------------------------------------------------------------ syntax libvirt accepts
ACCEPTED = [
    # ";" between statements
    ('listen_tcp = 1; tcp_port = "16509"\n', {'listen_tcp': 1, 'tcp_port': '16509'}),
    # triple-quoted strings, on one line or over several
    ('tcp_port = """16509"""\nlog_filters = """1:qemu\n3:remote"""\n', {'tcp_port': '16509', 'log_filters': '1:qemu\n3:remote'}),
    ('x = """say "hi" and \'bye\'"""\n', {'x': 'say "hi" and \'bye\''}),
    # lists of lists (libvirt parses them; only the keys it reads must hold strings)
    ('foo = [ [ "a" ], 1 ]\n', {'foo': [['a'], 1]}),
    # a CR alone ends a line
    ('tcp_port = "16509"\rfoo = 1\r', {'tcp_port': '16509', 'foo': 1}),
]
# Read right before the shared parser too; kept so that it stays so.
ACCEPTED_BEFORE = [
    ('tcp_port = "16509"; # why\nlisten_tcp = 0;\n', {'tcp_port': '16509', 'listen_tcp': 0}),
    ('sasl_allowed_username_list = [\n "a",\n "b",\n]\n', {'sasl_allowed_username_list': ['a', 'b']}),
    ('l = [ "a"\n , "b" ]\n', {'l': ['a', 'b']}),
    ('tcp_port = "16509"\r\nfoo = 1\r\n', {'tcp_port': '16509', 'foo': 1}),
    ('tcp_port = "16509"#c\nlisten_tcp = +1\n', {'tcp_port': '16509', 'listen_tcp': 1}),
    ('unix_sock_group = "a#b"  #c\n', {'unix_sock_group': 'a#b'}),
    ('\n  \n\ttcp_port = "16509"\n  \n\t', {'tcp_port': '16509'}),    # blank lines around statements
    ('', {}),
    ('# only a comment', {}),
]


@pytest.mark.parametrize('text,expected', ACCEPTED + ACCEPTED_BEFORE)
def test_syntax_libvirt_accepts(text, expected):
    values, errors, edit_values = _both(text)
    assert (values, errors) == (expected, [])
    assert edit_values == expected


def test_real_files_with_every_shipped_example_enabled():
    """Debian's libvirtd.conf and qemu.conf with each single-line example uncommented parse the
    same in both readers (the multi-line list examples included, uncommented line by line)."""
    single = re.compile(r'^#([a-z_]+ = ("[^"]*"|\'[^\']*\'|-?[0-9]+|\[.*\]))\s*$')
    opening = re.compile(r'^#[a-z_]+ = \[\s*$')
    for name in ('libvirtd.conf', 'qemu.conf', 'virtqemud.conf'):
        lines, in_list, lists = [], False, 0
        for line in _read(name).splitlines(True):
            if in_list or opening.match(line):
                lists += not in_list
                in_list = not line.startswith('#]')
                line = line[1:]
            elif single.match(line):
                line = line[1:]
            lines.append(line)
        values, errors, edit_values = _both(''.join(lines))
        assert errors == [], (name, errors)
        assert edit_values == values and len(values) > 20
        if name == 'qemu.conf':
            assert lists >= 2
            assert values['cgroup_device_acl'][-1] == '/dev/kvm' and len(values['nvram']) == 4


# ------------------------------------------------------------------ syntax libvirt refuses
@pytest.mark.parametrize('text,line,fragment', [
    # a comment inside a list (libvirt: "expecting a value")
    ('access_drivers = [\n # polkit only\n "polkit" ]\n', 2, 'no comment inside a list'),
    ('l = [ "a", # c\n "b" ]\n', 1, 'no comment inside a list'),
    ('l = [ "a" # c\n, "b" ]\n', 1, 'no comment inside a list'),
    # names: no ".", no "-", no leading "_" ("expecting an assignment" / "expecting a name")
    ('foo.bar = 1\n', 1, 'expected "=" after foo'),
    ('foo-bar = 1\n', 1, 'expected "=" after foo'),
    ('_foo = 1\n', 1, 'expected a setting name'),
    # ";;" and a line starting with ";" ("expecting a name")
    ('tcp_port = "16509";;\n', 1, 'expected a setting name'),
    ('tcp_port = "16509"\n; a = 1\n', 2, 'expected a setting name'),
    # a non-empty file of blank lines only ("expecting a name")
    ('\n\n', 3, 'blank lines only'),
    ('   \n', 2, 'blank lines only'),
    # a form feed is no blank; the value must be on the name's line
    ('a = 1\n\f\n', 2, 'expected a setting name'),
    ('foo =\n 1\n', 1, 'expected a value'),
    ('foo\n= 1\n', 1, 'expected "=" after foo'),
    # values: unquoted words, text after the value, an empty list item, a dangling sign
    ('tcp_port = 16509x\n', 1, 'after the value of tcp_port'),
    ('foo = [ , ]\n', 1, 'expected a value'),
    ('foo = -\n', 1, 'invalid number'),
    ('foo = """"""', 1, 'after the value of foo'),   # fewer than 7 characters left: not a """ string
    ('foo = """never closed\n', 1, 'unterminated string'),
    ('foo = "a\nb"\n', 1, 'unterminated string'),
])
def test_syntax_libvirt_refuses(text, line, fragment):
    values, errors = libvirt_conf.parse_libvirt_conf(text)
    assert values == {} and len(errors) == 1
    assert errors[0].startswith('line %d: ' % line) and fragment in errors[0], errors
    with pytest.raises(lce.ConfSyntaxError) as exc:
        lce.parse_entries(text)
    assert str(exc.value) == errors[0]
    with pytest.raises(lce.ConfSyntaxError):
        lce.edit(text, {'listen_tcp': 0})


def test_deeply_nested_list_is_an_error_not_a_crash():
    values, errors = libvirt_conf.parse_libvirt_conf('a = ' + '[' * 500 + ']' * 500 + '\n')
    assert values == {} and 'nested' in errors[0]


@pytest.mark.parametrize('name', ['foo.bar', 'foo-bar', '_foo', '9lives', 'a b', ''])
def test_editor_writes_no_name_libvirt_would_refuse(name):
    with pytest.raises(ValueError):
        lce.edit('', {name: 1})
    conv, warnings, errors = lce.coerce_settings({name: 1}, None)
    assert errors and name not in conv


def test_editor_never_leaves_a_file_of_blank_lines():
    assert lce.edit('\nlisten_tcp = 1\n\n', {}, ['listen_tcp']) == ('', [
        {'key': 'listen_tcp', 'action': 'unset', 'before': 1, 'after': None}])
    assert lce.edit('\nlisten_tcp = 1\n', {'auth_tcp': 'sasl'}, ['listen_tcp'])[0] == '\nauth_tcp = "sasl"\n'


# ------------------------------------------------------------------ evidence names the right file
def test_unreadable_qemu_conf_evidence_names_qemu_conf(tmp_path, monkeypatch):
    """A host without virtqemud.conf has a "not found" note for it; an unreadable qemu.conf must
    be reported with its own note, not that one ("qemu" is a substring of "virtqemud")."""
    root = ft.build_root('intel_vtd', tmp_path)
    assert not os.path.exists(os.path.join(root, 'etc', 'libvirt', 'virtqemud.conf'))
    denied = os.path.join(root, 'etc', 'libvirt', 'qemu.conf')
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path == denied:
            raise IOError(errno.EACCES, 'Permission denied', path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(hvfacts, 'open', fake_open, raising=False)
    facts = hvfacts.gather_facts(root, ft.fake_runner('intel_vtd'), ft.fake_bin_path('intel_vtd'), euid=0)
    assert facts['libvirt']['config']['qemu'] is None
    assert {'probe': 'libvirt', 'path': '/etc/libvirt/virtqemud.conf', 'reason': 'not found'} in facts['notes']
    results = dict((r['id'], r) for r in ev.evaluate(facts, {}, []))
    for cid in ('HVS-MGMT-05', 'HVS-MGMT-08', 'HVS-MGMT-11'):
        assert results[cid]['status'] == 'error', results[cid]
        assert '/etc/libvirt/qemu.conf: permission denied' in results[cid]['evidence'], results[cid]
        assert 'virtqemud' not in results[cid]['evidence'], results[cid]


def test_unreadable_daemon_conf_without_a_note_says_so():
    facts = {'libvirt': {'installed': True, 'config': {'qemu': None}}, 'notes': [
        {'probe': 'libvirt', 'path': '/etc/libvirt/virtqemud.conf', 'reason': 'not found'}]}
    with pytest.raises(ev.Unknown) as exc:
        eval_mgmt_plane._libvirt_conf(facts, 'qemu')
    assert exc.value.hint == '/etc/libvirt/qemu.conf: unreadable (no reason reported)'
