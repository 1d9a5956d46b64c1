# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned results of the configuration editors: libvirt configuration files, kernel arguments,
/etc/default/grub, boot-loader entries, /etc/kernel/cmdline and the atomic file writer.

Tables of real file contents with the whole text each edit gives (and its change list), every
accepted value and each limit. Written to kill the mutants that `make mutation AREA=editors`
found surviving (docs/testing.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hvsec.hypervisor.plugins.module_utils import atomic_file as af
from ansible_collections.hvsec.hypervisor.plugins.module_utils import bootloader as bl
from ansible_collections.hvsec.hypervisor.plugins.module_utils import grub_default as gd
from ansible_collections.hvsec.hypervisor.plugins.module_utils import kernel_args as ka
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf_edit as lce


# ------------------------------------------------------------------------- libvirt schema tables
def test_flatten_schema_table():
    # SCHEMAS is built at import time; the helper itself, on a table with and without each part
    table = {'int': ('listen_tls',), 'str': ('listen_addr',), 'list': ('access_drivers',),
             'alt': {'max_core': ('int', 'str')}}
    assert lce._flatten(table) == {'listen_tls': ('int',), 'listen_addr': ('str',),
                                   'access_drivers': ('list',), 'max_core': ('int', 'str')}
    assert lce._flatten({'str': ('user',)}) == {'user': ('str',)}
    assert lce._flatten({}) == {}
    assert lce.SCHEMAS['qemu']['security_driver'] == ('str', 'list')
    assert lce.SCHEMAS['daemon']['listen_tls'] == ('int',)


@pytest.mark.parametrize('path, schema', [
    ('/etc/libvirt/qemu.conf', 'qemu'),
    ('qemu.conf', 'qemu'),
    ('/etc/libvirt/libvirtd.conf/', 'daemon'),
    ('/etc/libvirt/virtqemud.conf', 'daemon'),
    ('virtxend.conf', 'daemon'),
    ('/etc/libvirt/qemu.confX', None),
    ('/etc/libvirt/qemu.conf.bak', None),
    ('/etc/libvirt/lxc.conf', None),
])
def test_schema_for_path(path, schema):
    assert lce.schema_for_path(path) == schema


COERCE = [
    (None, {'1bad': 1, 'a': '1', 'b': 2, 'c': ['x'], 'd': 1.5, 'e': ['x', 1], 'f': 'x"y\'z', 'g': True},
     {'a': '1', 'b': 2, 'c': ['x'], 'f': 'x"y\'z', 'g': 1}, [],
     ["'1bad' is not a valid libvirt setting name",
      'd: value 1.5 is neither an integer, a string nor a list of strings',
      "e: value ['x', 1] is neither an integer, a string nor a list of strings",
      'f: a string value cannot contain both quote characters']),
    ('qemu', {'cgroup_device_acl': 'x', 'max_core': 'unlimited', 'security_driver': ['selinux'], 'unknown_key': 1,
              'user': 5, 'vnc_tls': ' 1 ', 'hugetlbfs_mount': 5, 'max_files': '-3'},
     {'max_core': 'unlimited', 'security_driver': ['selinux'], 'unknown_key': 1, 'vnc_tls': 1, 'max_files': -3},
     ['unknown_key is not a known qemu.conf setting; it is written as given'],
     ["cgroup_device_acl must be a list of strings, got str 'x'",
      'hugetlbfs_mount must be a string or a list of strings, got int 5',
      'user must be a string, got int 5']),
    ('daemon', {'foo': 'x', 'listen_tls': 'yes', 'max_clients': '5000'},
     {'foo': 'x', 'max_clients': 5000},
     ['foo is not a known libvirt daemon setting; it is written as given'],
     ["listen_tls must be an integer, got str 'yes'"]),
]


@pytest.mark.parametrize('schema, settings, converted, warnings, errors', COERCE)
def test_coerce_settings_whole_result(schema, settings, converted, warnings, errors):
    assert lce.coerce_settings(settings, schema) == (converted, warnings, errors)


def test_as_refuses_an_unknown_kind():
    with pytest.raises(ValueError) as exc:
        lce._as('float', 1.0)
    assert str(exc.value) == 'float'


# ------------------------------------------------------------------------- kernel arguments
GLOBS = '(quotes, shell metacharacters and globs are not allowed in kernel arguments managed here)'
SPEC_ERRORS = [
    (5, 'present', 'present: 5 is not a string'),
    (None, 'absent', 'absent: None is not a string'),
    ('', 'present', 'present: empty argument'),
    ('a b', 'present', "present: 'a b' contains whitespace; give one argument per list item"),
    ('a\tb', 'absent', "absent: 'a\\tb' contains whitespace; give one argument per list item"),
    ('a;b', 'absent', "absent: 'a;b' contains the character ';' " + GLOBS),
    ('x=$y', 'present', "present: 'x=$y' contains the character '$' " + GLOBS),
    ('a*', 'present', "present: 'a*' contains the character '*' " + GLOBS),
    ('a\x1b', 'present', "present: 'a\\x1b' contains a control character"),
    ('a\x7f', 'present', "present: 'a\\x7f' contains a control character"),
    ('a\x00', 'present', "present: 'a\\x00' contains a control character"),
    ('--', 'present', "present: '--': '--' is not a kernel argument, it ends them: the kernel hands every word "
                      "after it to init"),
    ('--=1', 'absent', "absent: '--=1': '--' is not a kernel argument, it ends them: the kernel hands every word "
                       "after it to init"),
    ('=x', 'present', "present: '=x' has an empty key"),
    ('quiet=', 'absent', "absent: 'quiet=' has an empty value; write 'quiet' to mean the bare flag"),
]


@pytest.mark.parametrize('item, option, message', SPEC_ERRORS)
def test_parse_spec_errors(item, option, message):
    with pytest.raises(ka.RequestError) as exc:
        ka.parse_spec(item, option)
    assert str(exc.value) == message


@pytest.mark.parametrize('item, spec', [
    ('quiet', ('quiet', None)),
    ('iommu=pt', ('iommu', 'pt')),
    ('a~b=c=d', ('a~b', 'c=d')),
    ('x-y.z=1,2:3/4@5%6+7', ('x-y.z', '1,2:3/4@5%6+7')),
    ('-', ('-', None)),
])
def test_parse_spec_accepts(item, spec):
    assert ka.parse_spec(item, 'present') == spec


@pytest.mark.parametrize('present, absent, message', [
    (['iommu=pt', 'iommu=on'], [], "present: 'iommu=pt' and 'iommu=on' set the same key twice with different values"),
    (['a-b=1', 'a_b'], [], "present: 'a-b=1' and 'a_b' set the same key twice with different values"),
    (['iommu=pt'], ['iommu'], "'iommu=pt' is both wanted (present) and forbidden (absent: 'iommu')"),
    (['quiet'], ['splash', 'quiet'], "'quiet' is both wanted (present) and forbidden (absent: 'quiet')"),
])
def test_validate_request_errors(present, absent, message):
    with pytest.raises(ka.RequestError) as exc:
        ka.validate_request(present, absent)
    assert str(exc.value) == message


@pytest.mark.parametrize('present, absent, result', [
    (None, None, ([], [])),
    (['iommu=pt', 'iommu=pt', 'intel_iommu=on', 'intel-iommu=on'], ['iommu=off', 'quiet'],
     ([('iommu', 'pt'), ('intel_iommu', 'on')], [('iommu', 'off'), ('quiet', None)])),
])
def test_validate_request_result(present, absent, result):
    assert ka.validate_request(present, absent) == result


# words of a real command line (Debian 12) -> (edit_words, pending) for one request
CMDLINE = ['BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64', 'root=UUID=0b3c', 'ro', 'quiet', 'iommu=off', 'intel-iommu=on',
           '$tuned_params', '--', 'single', 'iommu=off']
EDITS = [
    ((['iommu=pt', 'intel_iommu=on'], ['quiet']),
     ['BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64', 'root=UUID=0b3c', 'ro', 'intel-iommu=on', '$tuned_params', 'iommu=pt',
      '--', 'single', 'iommu=off'],
     ['-quiet', '-iommu=off', '+iommu=pt']),
    ((['iommu'], ['intel_iommu=off']),
     ['BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64', 'root=UUID=0b3c', 'ro', 'quiet', 'intel-iommu=on', '$tuned_params',
      'iommu', '--', 'single', 'iommu=off'],
     ['-iommu=off', '+iommu']),
    (([], ['intel_iommu']),
     ['BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64', 'root=UUID=0b3c', 'ro', 'quiet', 'iommu=off', '$tuned_params', '--',
      'single', 'iommu=off'],
     ['-intel-iommu=on']),
    (([], ['tuned_params', 'single']), CMDLINE, []),
]


@pytest.mark.parametrize('request_, edited, diff', EDITS)
def test_edit_words_and_pending(request_, edited, diff):
    present, absent = ka.validate_request(*request_)
    assert ka.edit_words(CMDLINE, present, absent) == edited
    assert ka.pending(CMDLINE, present, absent) == diff
    assert ka.satisfied(CMDLINE, present, absent) is (edited == CMDLINE)
    assert ka.satisfied(edited, present, absent) is True
    assert ka.pending(edited, present, absent) == []


@pytest.mark.parametrize('words, kernel, init', [
    (['a', '--', 'b', '--', 'c'], ['a'], ['--', 'b', '--', 'c']),
    (['a', 'b'], ['a', 'b'], []),
    (['--'], [], ['--']),
    ((w for w in ['x', '--']), ['x'], ['--']),
])
def test_split_init(words, kernel, init):
    assert ka.split_init(words) == (kernel, init)


@pytest.mark.parametrize('word, spec, absent, conflicts', [
    ('iommu=pt', ('iommu', None), True, True),
    ('iommu=pt', ('iommu', 'pt'), True, False),
    ('iommu', ('iommu', 'pt'), False, True),
    ('intel-iommu=on', ('intel_iommu', 'on'), True, False),
    ('intel-iommu=on', ('intel_iommu', 'off'), False, True),
    ('$iommu', ('$iommu', None), False, False),
    ('iommu=$x', ('iommu', None), False, False),
    ('quiet', ('splash', None), False, False),
])
def test_matches_absent_and_conflicts_present(word, spec, absent, conflicts):
    assert ka.matches_absent(word, spec) is absent
    assert ka.conflicts_present(word, spec) is conflicts


# ------------------------------------------------------------------------- atomic writes
@pytest.fixture
def module():
    with patch_module_args({}):
        yield AnsibleModule(argument_spec={})


def _listing(path):
    return sorted(os.listdir(str(path)))


@pytest.mark.parametrize('umask', [0o000, 0o077])
@pytest.mark.parametrize('kwargs, mode', [({}, 0o644), ({'mode': 0o600}, 0o600), ({'mode': 0o750}, 0o750)])
def test_new_file_gets_the_mode_whatever_the_umask(module, tmp_path, umask, kwargs, mode):
    old = os.umask(umask)
    try:
        af.write_atomic(module, str(tmp_path / 'new.conf'), u'listen_tls = 0\n', **kwargs)
    finally:
        os.umask(old)
    assert (tmp_path / 'new.conf').read_bytes() == b'listen_tls = 0\n'
    assert (tmp_path / 'new.conf').stat().st_mode & 0o7777 == mode
    assert _listing(tmp_path) == ['new.conf']


@pytest.mark.parametrize('enforce, mode', [(False, 0o640), (True, 0o600)])
def test_existing_file_keeps_its_mode_unless_enforced(module, tmp_path, enforce, mode):
    path = tmp_path / 'qemu.conf'
    path.write_text('old\n')
    path.chmod(0o640)
    af.write_atomic(module, str(path), b'new\n', mode=0o600, enforce_mode=enforce)
    assert path.read_bytes() == b'new\n'
    assert path.stat().st_mode & 0o7777 == mode


def test_validate_sees_the_new_content_and_a_failure_leaves_the_old_file(module, tmp_path):
    path = tmp_path / 'sshd_config'
    path.write_text('old\n')
    seen = []

    def refuse(tmp):
        with open(tmp) as handle:
            seen.append((os.path.dirname(tmp), os.path.basename(tmp)[:7], handle.read()))
        raise RuntimeError('sshd -t failed')

    with pytest.raises(RuntimeError):
        af.write_atomic(module, str(path), 'Port 2222\n', validate=refuse)
    assert seen == [(str(tmp_path), '.hvsec-', 'Port 2222\n')]
    assert path.read_text() == 'old\n' and _listing(tmp_path) == ['sshd_config']


def test_move_replaces_atomic_move(module, tmp_path):
    moves = []

    def move(src, dest):
        moves.append((os.path.dirname(src), dest, oct(os.stat(src).st_mode & 0o777)))
        os.rename(src, dest)

    path = tmp_path / 'cmdline'
    af.write_atomic(module, str(path), 'quiet\n', mode=0o644, move=move)
    assert moves == [(str(tmp_path), str(path), oct(0o644))]
    assert path.read_text() == 'quiet\n'


def test_relative_path_is_written_in_the_current_directory(module, tmp_path, monkeypatch):
    # (AnsibleModule.atomic_move itself needs a directory in the destination: the modules pass absolute paths)
    monkeypatch.chdir(str(tmp_path))
    af.write_atomic(module, 'cmdline', 'ro\n', move=af.replace_keeping_attrs)
    assert (tmp_path / 'cmdline').read_text() == 'ro\n' and _listing(tmp_path) == ['cmdline']


@pytest.mark.parametrize('exists', [True, False])
def test_replace_keeping_attrs(tmp_path, exists):
    dest = tmp_path / 'grub'
    if exists:
        dest.write_text('old\n')
        dest.chmod(0o640)
    src = tmp_path / 'new'
    src.write_text('new\n')
    src.chmod(0o600)
    af.replace_keeping_attrs(str(src), str(dest))
    assert dest.read_text() == 'new\n' and _listing(tmp_path) == ['grub']
    assert dest.stat().st_mode & 0o777 == (0o640 if exists else 0o600)


# ------------------------------------------------------------------------- /etc/default/grub
REFUSE = '; refusing to edit or judge it (edit the files by hand, or simplify them: see docs/iommu.md)'
CMDSUB = 'GRUB_CMDLINE_LINUX uses command substitution %s: its output is only known when grub-mkconfig runs'
GRUB_REFUSED = [
    ('GRUB_CMDLINE_LINUX="$(echo a \\) b) quiet"\n', 'line 1: ' + CMDSUB % '$(echo a \\) b)'),
    ('GRUB_CMDLINE_LINUX="$(echo `)` x)"\n', 'line 1: ' + CMDSUB % '$(echo `)` x)'),
    ('GRUB_CMDLINE_LINUX="$(echo $(cat /a) b) c"\n', 'line 1: ' + CMDSUB % '$(echo $(cat /a) b)'),
    ('GRUB_CMDLINE_LINUX="$(echo \\\\)"\n', 'line 1: ' + CMDSUB % '$(echo \\\\)'),
    ('GRUB_CMDLINE_LINUX=${A:-$(x)}\n', 'line 1: GRUB_CMDLINE_LINUX uses the parameter expansion ${A:-$(x)}'),
    ('A=1\nGRUB_CMDLINE_LINUX=$(echo x\n\n', 'line 4: unterminated ()'),
    ('A=1\nGRUB_CMDLINE_LINUX=$(echo `x)\n', 'line 3: unterminated ()'),
    ('GRUB_CMDLINE_LINUX=${x\n', 'line 2: unterminated {}'),
]


@pytest.mark.parametrize('text, message', GRUB_REFUSED)
def test_grub_refusals_name_file_line_and_construct(text, message):
    with pytest.raises(gd.GrubParseError) as exc:
        gd.effective([('/etc/default/grub', text)])
    assert str(exc.value) == '/etc/default/grub ' + message + REFUSE


@pytest.mark.parametrize('text, uses', [
    ('insmod blscfg\nblscfg\n', True),
    ('  blscfg --extra\n', True),
    ('insmod blscfg\n', False),
    ('# blscfg\n', False),
    ('', False),
    (None, False),
])
def test_grub_cfg_uses_blscfg(text, uses):
    assert bl.grub_cfg_uses_blscfg(text) is uses


MAY_NOT = 'GRUB_CMDLINE_LINUX is assigned %s: it may or may not take effect when grub-mkconfig runs'
GRUB_REFUSED_WHOLE = [
    ('if [ -d /sys/firmware/efi ]; then\n  GRUB_CMDLINE_LINUX="iommu=pt"\nfi\n', 2, MAY_NOT % 'inside if ... fi'),
    ('while false; do GRUB_CMDLINE_LINUX=a; done\n', 1, MAY_NOT % 'inside while ... done'),
    ('until true; do GRUB_CMDLINE_LINUX=a; done\n', 1, MAY_NOT % 'inside until ... done'),
    ('for x in 1; do GRUB_CMDLINE_LINUX=a; done\n', 1, MAY_NOT % 'inside for ... done'),
    ('case "$x" in\n  a) GRUB_CMDLINE_LINUX=a ;;\nesac\n', 2, MAY_NOT % 'inside case ... esac'),
    ('{ GRUB_CMDLINE_LINUX=a; }\n', 1, MAY_NOT % 'inside a function or { } block'),
    ('function f {\n  GRUB_CMDLINE_LINUX=a\n}\n', 2, MAY_NOT % 'inside a function or { } block'),
    ('( GRUB_CMDLINE_LINUX=a )\n', 1, MAY_NOT % 'inside a subshell ( )'),
    ('true && GRUB_CMDLINE_LINUX=a\n', 1, MAY_NOT % 'after &&'),
    ('false || GRUB_CMDLINE_LINUX=a\n', 1, MAY_NOT % 'after ||'),
    ('echo x | GRUB_CMDLINE_LINUX=a\n', 1, MAY_NOT % 'after |'),
    ('GRUB_CMDLINE_LINUX=a &\n', 1, MAY_NOT % 'before &'),
    ('GRUB_CMDLINE_LINUX=a | cat\n', 1, MAY_NOT % 'before |'),
    ('GRUB_CMDLINE_LINUX=a update-grub\n', 1,
     MAY_NOT % "as a prefix of the command 'update-grub': it sets the variable for one command only"),
    ('GRUB_CMDLINE_LINUX=a > /dev/null\n', 1, MAY_NOT % 'with a redirection'),
    ('EXTRA=x\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX $EXTRA"\n', 2,
     "GRUB_CMDLINE_LINUX refers to $EXTRA: the module follows only a reference to the variable's own earlier value "
     "($GRUB_CMDLINE_LINUX); write the arguments into GRUB_CMDLINE_LINUX itself"),
    ('GRUB_CMDLINE_LINUX="$1 quiet"\n', 1, 'GRUB_CMDLINE_LINUX uses the special parameter $1'),
    ('GRUB_CMDLINE_LINUX="${#} quiet"\n', 1, 'GRUB_CMDLINE_LINUX uses the special parameter ${#}'),
    ('GRUB_CMDLINE_LINUX="quiet ${EXTRA:-iommu=pt}"\n', 1,
     'GRUB_CMDLINE_LINUX uses the parameter expansion ${EXTRA:-iommu=pt}'),
    ('GRUB_CMDLINE_LINUX="a$GRUB_CMDLINE_LINUX"\n', 1,
     "GRUB_CMDLINE_LINUX: the reference in 'a$GRUB_CMDLINE_LINUX' is not a word of its own"),
    ("A=1\nGRUB_CMDLINE_LINUX='$GRUB_CMDLINE_LINUX quiet'\n", 2,
     "GRUB_CMDLINE_LINUX has the literal text '$GRUB_CMDLINE_LINUX'"),
    ('GRUB_CMDLINE_LINUX=a\nunset GRUB_CMDLINE_LINUX\n', 2,
     "GRUB_CMDLINE_LINUX is used by the command 'unset': the module cannot tell what it sets"),
    ('X=1 read GRUB_CMDLINE_LINUX < /etc/x\n', 1,
     "GRUB_CMDLINE_LINUX is used by the command 'read': the module cannot tell what it sets"),
    (': ${GRUB_CMDLINE_LINUX:=iommu=pt}\n', 1,
     'the parameter expansion ${GRUB_CMDLINE_LINUX:=iommu=pt} may set GRUB_CMDLINE_LINUX'),
    ('GRUB_CMDLINE_LINUX="quiet\n', 1, 'unterminated double quote'),
    # at the opening quote (it was the end of the file, a line that does not exist)
    ("A=1\nGRUB_CMDLINE_LINUX='quiet\n", 2, 'unterminated single quote'),
    ('A=1\nGRUB_CMDLINE_LINUX="$(echo \'x)"\n\n', 2, 'unterminated single quote'),
    ('GRUB_CMDLINE_LINUX=`cat /x\n', 1, 'unterminated ` (command substitution)'),
    ('GRUB_CMDLINE_LINUX=`cat /x`\n', 1, CMDSUB % '`cat /x`'),
]


@pytest.mark.parametrize('text, line, message', GRUB_REFUSED_WHOLE)
def test_grub_refusals_whole_messages(text, line, message):
    with pytest.raises(gd.GrubParseError) as exc:
        gd.plan([('/etc/default/grub.d/50-x.cfg', text)], [], [])
    assert str(exc.value) == '/etc/default/grub.d/50-x.cfg line %d: %s%s' % (line, message, REFUSE)


@pytest.mark.parametrize('value, style, rendered', [
    ('quiet splash', "'", "'quiet splash'"),
    ("it's", "'", '"it\'s"'),
    ('quiet', '"', '"quiet"'),
    ('quiet', '', '"quiet"'),
    ('a\\b "c" `d` $e', '"', '"a\\\\b \\"c\\" \\`d\\` \\$e"'),
    ('$tuned_params', "'", "'$tuned_params'"),
])
def test_quote_value(value, style, rendered):
    assert gd.quote_value(value, style) == rendered


@pytest.mark.parametrize('words, style, rendered', [
    (['quiet', 'splash'], "'", "'quiet splash'"),
    ([], '"', '""'),
    (['$GRUB_CMDLINE_LINUX', 'iommu=pt'], "'", '"$GRUB_CMDLINE_LINUX iommu=pt"'),
    (['${GRUB_CMDLINE_LINUX}', '$tuned_params'], '', '"${GRUB_CMDLINE_LINUX} \\$tuned_params"'),
    (['${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }', 'a"b'], '"', '"${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX } a\\"b"'),
    (['$GRUB_CMDLINE_LINUX_DEFAULT', 'x'], "'", "'$GRUB_CMDLINE_LINUX_DEFAULT x'"),
])
def test_render_value(words, style, rendered):
    assert gd.render_value(words, 'GRUB_CMDLINE_LINUX', style) == rendered


@pytest.mark.parametrize('out, env', [
    ('ro quiet\0console=ttyS0  splash\0',
     {'GRUB_CMDLINE_LINUX': ['ro', 'quiet'], 'GRUB_CMDLINE_LINUX_DEFAULT': ['console=ttyS0', 'splash']}),
    ('\0\0', {'GRUB_CMDLINE_LINUX': [], 'GRUB_CMDLINE_LINUX_DEFAULT': []}),
    ('ro\0', None),
    ('ro\0quiet\0x', None),
    ('ro\0quiet\0\0', None),
    ('', None),
    (None, None),
])
def test_parse_shell_output(out, env):
    assert gd.parse_shell_output(out) == env


def test_shell_argv():
    assert gd.shell_argv('/bin/dash', ['/etc/default/grub', '/etc/default/grub.d/50.cfg']) == [
        '/bin/dash', '-c', gd.SHELL_SCRIPT, 'sh', '/etc/default/grub', '/etc/default/grub.d/50.cfg']


@pytest.mark.parametrize('text, found', [
    ('export GRUB_CMDLINE_LINUX="quiet splash"\n',
     [{'var': 'GRUB_CMDLINE_LINUX', 'value': 'quiet splash', 'words': ['quiet', 'splash'], 'start': 26, 'end': 40,
       'style': '"', 'pos': 7, 'exported': True}]),
    ("A=1; GRUB_CMDLINE_LINUX_DEFAULT='quiet'\n",
     [{'var': 'GRUB_CMDLINE_LINUX_DEFAULT', 'value': 'quiet', 'words': ['quiet'], 'start': 32, 'end': 39,
       'style': "'", 'pos': 5, 'exported': False}]),
    ('GRUB_CMDLINE_LINUX=\nGRUB_CMDLINE_LINUX=ro\\ x\n',
     [{'var': 'GRUB_CMDLINE_LINUX', 'value': '', 'words': [], 'start': 19, 'end': 19, 'style': '', 'pos': 0,
       'exported': False},
      {'var': 'GRUB_CMDLINE_LINUX', 'value': 'ro x', 'words': ['ro', 'x'], 'start': 39, 'end': 44, 'style': '',
       'pos': 20, 'exported': False}]),
    ('GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }\\$tuned_params"\n',
     [{'var': 'GRUB_CMDLINE_LINUX', 'value': '${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }$tuned_params',
       'words': ['${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }', '$tuned_params'], 'start': 19, 'end': 78,
       'style': '"', 'pos': 0, 'exported': False}]),
    ('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT ${GRUB_CMDLINE_LINUX_DEFAULT} a"\n',
     [{'var': 'GRUB_CMDLINE_LINUX_DEFAULT', 'value': '$GRUB_CMDLINE_LINUX_DEFAULT ${GRUB_CMDLINE_LINUX_DEFAULT} a',
       'words': ['$GRUB_CMDLINE_LINUX_DEFAULT', '${GRUB_CMDLINE_LINUX_DEFAULT}', 'a'], 'start': 27, 'end': 88,
       'style': '"', 'pos': 0, 'exported': False}]),
    ('GRUB_TIMEOUT=5 # GRUB_CMDLINE_LINUX=x\necho "$GRUB_CMDLINE_LINUX"\n', []),
])
def test_find_assignments_whole(text, found):
    assert gd.find_assignments(text) == found


GRUB_MAIN = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"\nGRUB_CMDLINE_LINUX="ro -- single"\n'
GRUB_DROPIN = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT \\$tuned_params"\n'


def test_plan_whole_result():
    # GRUB_CMDLINE_LINUX has a '--': every word of _DEFAULT comes after it in a normal entry, an argument of
    # init, so iommu=pt there is left alone
    present, absent = ka.validate_request(['intel_iommu=on'], ['iommu'])
    files = [('/etc/default/grub', GRUB_MAIN), ('/etc/default/grub.d/50.cfg', GRUB_DROPIN)]
    assert gd.plan(files, present, absent) == {
        'texts': [('/etc/default/grub', 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"\n'
                                        'GRUB_CMDLINE_LINUX="ro intel_iommu=on -- single"\n'),
                  ('/etc/default/grub.d/50.cfg', GRUB_DROPIN)],
        'changed_paths': ['/etc/default/grub'],
        'before': ['ro', '--', 'single', 'quiet', 'iommu=pt'],
        'after': ['ro', 'intel_iommu=on', '--', 'single', 'quiet', 'iommu=pt'],
        'before_env': {'GRUB_CMDLINE_LINUX': ['ro', '--', 'single'],
                       'GRUB_CMDLINE_LINUX_DEFAULT': ['quiet', 'iommu=pt', '$tuned_params']},
        'after_env': {'GRUB_CMDLINE_LINUX': ['ro', 'intel_iommu=on', '--', 'single'],
                      'GRUB_CMDLINE_LINUX_DEFAULT': ['quiet', 'iommu=pt', '$tuned_params']}}
    # without the '--' the same word reaches the kernel and goes
    files = [('/etc/default/grub', GRUB_MAIN.replace(' -- single', '')), ('/etc/default/grub.d/50.cfg', GRUB_DROPIN)]
    result = gd.plan(files, present, absent)
    assert result['texts'][0][1] == ('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
                                     'GRUB_CMDLINE_LINUX="ro intel_iommu=on"\n')
    assert result['after'] == ['ro', 'intel_iommu=on', 'quiet']


@pytest.mark.parametrize('env, ok', [
    ({'GRUB_CMDLINE_LINUX': ['intel_iommu=on'], 'GRUB_CMDLINE_LINUX_DEFAULT': ['quiet']}, True),
    ({'GRUB_CMDLINE_LINUX': [], 'GRUB_CMDLINE_LINUX_DEFAULT': ['intel_iommu=on']}, False),
    ({'GRUB_CMDLINE_LINUX': ['intel_iommu=on'], 'GRUB_CMDLINE_LINUX_DEFAULT': ['iommu=pt']}, False),
    ({'GRUB_CMDLINE_LINUX': ['intel_iommu=on', 'iommu=pt'], 'GRUB_CMDLINE_LINUX_DEFAULT': []}, False),
    ({'GRUB_CMDLINE_LINUX': ['intel_iommu=on', '--', 'iommu=pt'], 'GRUB_CMDLINE_LINUX_DEFAULT': []}, True),
    ({'GRUB_CMDLINE_LINUX': ['$intel_iommu', 'intel_iommu=on'], 'GRUB_CMDLINE_LINUX_DEFAULT': ['$iommu']}, True),
    ({'GRUB_CMDLINE_LINUX': ['$intel_iommu'], 'GRUB_CMDLINE_LINUX_DEFAULT': []}, False),
])
def test_env_satisfies(env, ok):
    present, absent = ka.validate_request(['intel_iommu=on'], ['iommu'])
    assert gd.env_satisfies(env, present, absent) is ok


# ------------------------------------------------------------------------- boot-loader stores
RHEL9_ENTRY = ('title Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)\n'
               'version 5.14.0-362.8.1.el9_3.x86_64\n'
               '# a comment\n'
               '\n'
               'linux /vmlinuz-5.14.0-362.8.1.el9_3.x86_64\n'
               'initrd /initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd\n'
               'initrd /microcode.img\n'
               'options root=/dev/mapper/rhel-root ro iommu=pt $tuned_params\n'
               'options   quiet  \n'
               'version 0\n'
               'grub_users $grub_users\n'
               'grub_arg --unrestricted\n'
               'devicetree\n')


def test_parse_bls_entry_whole():
    assert bl.parse_bls_entry(RHEL9_ENTRY) == {
        'title': 'Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)',
        'version': '5.14.0-362.8.1.el9_3.x86_64',
        'linux': '/vmlinuz-5.14.0-362.8.1.el9_3.x86_64',
        'initrd': ['/initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd', '/microcode.img'],
        'options': 'root=/dev/mapper/rhel-root ro iommu=pt $tuned_params quiet',
        'grub_users': '$grub_users', 'grub_arg': '--unrestricted', 'devicetree': ''}
    assert bl.parse_bls_entry(None) == {}


GRUBBY = ('index=0\n'
          'kernel="/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"\n'
          'args="ro iommu=pt $tuned_params"\n'
          'root="/dev/mapper/rhel-root"\n'
          'title="a=b"\r\n'
          'index=x\n'
          'args=\n'
          'no equals sign\n'
          'id="\n')


def test_parse_grubby_info_whole():
    assert bl.parse_grubby_info(GRUBBY) == [
        {'index': 0, 'args': 'ro iommu=pt $tuned_params', 'kernel': '/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64',
         'root': '/dev/mapper/rhel-root', 'title': 'a=b'},
        {'index': 'x', 'args': '', 'id': '"'}]
    assert bl.parse_grubby_info('args="quiet"\n') == [{'index': None, 'args': 'quiet'}]
    assert bl.parse_grubby_info(None) == []


@pytest.mark.parametrize('line, words', [
    ("\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=6f1c ro  quiet",
     ['linux', '/boot/vmlinuz-6.1.0-28-amd64', 'root=UUID=6f1c', 'ro', 'quiet']),
    ("menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-6f1c' {",
     ['menuentry', 'Debian GNU/Linux', '--class', 'debian', '$menuentry_id_option', 'gnulinux-simple-6f1c', '{']),
    ('linux /v "a b" c=\\"d\\" \\$x \'e\'f "g\\\\h" "\\n"', ['linux', '/v', 'a b', 'c="d"', '$x', 'ef', 'g\\h', '\\n']),
    ("echo 'unterminated", ['echo', 'unterminated']),
    ('echo "unterminated', ['echo', 'unterminated']),
    ('set x=1 # comment', ['set', 'x=1']),
    ('a#b c', ['a#b', 'c']),
    ('# only a comment', []),
    ('trailing\\', ['trailing\\']),
    ('', []),
])
def test_grub_words(line, words):
    assert bl.grub_words(line) == words


GRUB_CFG = """### BEGIN /etc/grub.d/10_linux ###
menuentry 'Debian GNU/Linux' --class debian {
\tinsmod gzio
\tif [ x$grub_platform = xxen ]; then insmod xzio; fi
\tlinux	/boot/vmlinuz-6.1.0-28-amd64 root=UUID=6f1c ro quiet
\tinitrd	/boot/initrd.img-6.1.0-28-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-6f1c' {
\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-28-amd64 (recovery mode)' {
\t\tif true ; then
\t\t\tlinuxefi /boot/vmlinuz-6.1.0-28-amd64 root=UUID=6f1c ro single
\t\tfi
\t}
}
### END /etc/grub.d/10_linux ###
### BEGIN /etc/grub.d/20_linux_xen ###
menuentry 'Debian GNU/Linux, with Xen hypervisor' {
\tmultiboot2	/boot/xen.gz
\tlinux16 /boot/vmlinuz-6.1.0-28-amd64
}
### END /etc/grub.d/20_linux_xen ###
linux /outside/any/entry x
### BEGIN /etc/grub.d/10_linux_zfs ###
menuentry 'Ubuntu on ZFS' {
\tlinux /BOOT/ubuntu@/vmlinuz root=ZFS=rpool/ROOT/ubuntu
}
}
}
### END /etc/grub.d/10_linux_zfs ###
"""
LINUX_ENTRIES = [
    {'title': 'Debian GNU/Linux', 'section': '10_linux', 'kernel': '/boot/vmlinuz-6.1.0-28-amd64',
     'args': ['root=UUID=6f1c', 'ro', 'quiet'], 'line': 5},
    {'title': 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-28-amd64 (recovery mode)',
     'section': '10_linux', 'kernel': '/boot/vmlinuz-6.1.0-28-amd64', 'args': ['root=UUID=6f1c', 'ro', 'single'],
     'line': 11},
]
XEN_ENTRY = {'title': 'Debian GNU/Linux, with Xen hypervisor', 'section': '20_linux_xen',
             'kernel': '/boot/vmlinuz-6.1.0-28-amd64', 'args': [], 'line': 19}
ZFS_ENTRY = {'title': 'Ubuntu on ZFS', 'section': '10_linux_zfs', 'kernel': '/BOOT/ubuntu@/vmlinuz',
             'args': ['root=ZFS=rpool/ROOT/ubuntu'], 'line': 25}


def test_parse_grub_cfg_whole():
    entries = bl.parse_grub_cfg(GRUB_CFG)
    assert entries == LINUX_ENTRIES + [XEN_ENTRY, ZFS_ENTRY]
    assert bl.grub_cfg_kernel_entries(entries) == LINUX_ENTRIES + [ZFS_ENTRY]
    assert bl.parse_grub_cfg(None) == []


def test_grub_cfg_kernel_entries_without_markers_or_named_sections():
    plain = [dict(XEN_ENTRY, section=None)]
    assert bl.grub_cfg_kernel_entries(plain) == plain
    named = [dict(XEN_ENTRY, section='11_linux_extra'), dict(XEN_ENTRY, section='x10_linux')]
    assert bl.grub_cfg_kernel_entries(named + [dict(XEN_ENTRY, section=None)]) == []
    assert bl.grub_cfg_kernel_entries([]) == []


def _file(path, text=''):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize('files, grubby, backend', [
    ([], False, None),
    (['etc/default/grub'], True, 'grub'),
    (['boot/loader/entries/readme.txt', 'etc/default/grub'], True, 'grub'),
    (['boot/loader/entries/a.conf', 'etc/default/grub'], True, 'grubby'),
    (['boot/loader/entries/a.conf', 'etc/default/grub'], False, 'grub'),
    (['etc/kernel/cmdline'], False, 'systemd-boot'),
    (['etc/kernel/cmdline', 'etc/default/grub'], False, 'grub'),
    (['etc/kernel/cmdline', 'etc/default/grub', 'boot/efi/loader/loader.conf'], False, 'systemd-boot'),
    (['etc/kernel/cmdline', 'etc/default/grub', 'efi/loader/loader.conf'], False, 'systemd-boot'),
    (['etc/kernel/cmdline', 'etc/default/grub', 'boot/loader/loader.conf'], False, 'systemd-boot'),
    (['etc/kernel/cmdline', 'etc/default/grub', 'etc/kernel/proxmox-boot-uuids'], False, 'systemd-boot'),
    (['boot/efi/loader/loader.conf', 'etc/default/grub'], False, 'grub'),
])
def test_detect_backends(tmp_path, files, grubby, backend):
    for rel in files:
        _file(tmp_path / rel)
    assert bl.detect(str(tmp_path), grubby, '/etc/default/grub', '/etc/kernel/cmdline') == backend


def test_detect_directory_is_not_a_file(tmp_path):
    (tmp_path / 'etc' / 'kernel' / 'cmdline').mkdir(parents=True)
    (tmp_path / 'etc' / 'default' / 'grub').mkdir(parents=True)
    assert bl.detect(str(tmp_path), False, '/etc/default/grub', '/etc/kernel/cmdline') is None


def test_grub_files_without_drop_in_directory_and_with_a_directory_named_cfg(tmp_path):
    cfg = tmp_path / 'grub'
    _file(cfg)
    assert bl.grub_files(str(cfg)) == [str(cfg)]
    (tmp_path / 'grub.d' / 'sub.cfg').mkdir(parents=True)
    _file(tmp_path / 'grub.d' / '10.cfg')
    assert bl.grub_files(str(cfg)) == [str(cfg), str(tmp_path / 'grub.d' / '10.cfg')]


def test_loader_entries_skip_links_to_the_same_entry_and_unreadable(tmp_path):
    entries = tmp_path / 'boot' / 'loader' / 'entries'
    _file(entries / 'b.conf', 'version 2\noptions root=x\n')
    os.symlink('b.conf', str(entries / 'a.conf'))
    (entries / 'c.conf').mkdir()
    _file(entries / 'd.conf', 'version 4\n')
    (entries / 'd.conf').chmod(0)
    try:
        found = bl.loader_entries([str(tmp_path / 'boot'), str(tmp_path / 'boot')])
    finally:
        (entries / 'd.conf').chmod(0o644)
    names = [(os.path.basename(path), entry) for path, entry in found]
    if os.geteuid() == 0:       # root reads the file anyway
        assert names == [('a.conf', {'version': '2', 'options': 'root=x'}), ('d.conf', {'version': '4'})]
    else:
        assert names == [('a.conf', {'version': '2', 'options': 'root=x'})]


@pytest.mark.parametrize('text, words, comments, canonical', [
    ('root=ZFS=rpool/ROOT/pve-1 boot=zfs\n', ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs'], [], True),
    ('  # iommu=pt\nroot=x  quiet\n\n', ['root=x', 'quiet'], ['  # iommu=pt'], False),
    ('root=x # not a comment\n', ['root=x', '#', 'not', 'a', 'comment'], [], True),
    (None, [], [], True),
])
def test_kernel_cmdline_file(text, words, comments, canonical):
    assert bl.parse_kernel_cmdline_file(text) == words
    assert bl.kernel_cmdline_file_comments(text) == comments
    assert bl.kernel_cmdline_file_is_canonical(text) is canonical
    assert bl.render_kernel_cmdline_file(text, words) == ' '.join(words) + '\n'
