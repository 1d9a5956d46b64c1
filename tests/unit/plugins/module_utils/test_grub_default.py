# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hvsec.hypervisor.plugins.module_utils import grub_default as gd
from ansible_collections.hvsec.hypervisor.plugins.module_utils.kernel_args import validate_request

FIX = os.path.join(os.path.dirname(__file__), 'fixtures', 'bootloader')
STRICT = validate_request(['intel_iommu=on', 'iommu.strict=1', 'iommu.passthrough=0', 'efi=disable_early_pci_dma'],
                          ['iommu=off', 'intel_iommu=off', 'amd_iommu=off', 'iommu=pt', 'pcie_acs_override'])


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def changed_lines(old, new):
    a, b = old.splitlines(), new.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def test_debian12_default_file():
    text = fixture('debian12_default_grub')
    assigns = gd.find_assignments(text)
    assert [(a['var'], a['value'], a['style']) for a in assigns] == [
        ('GRUB_CMDLINE_LINUX_DEFAULT', 'quiet', '"'), ('GRUB_CMDLINE_LINUX', '', '"')]
    plan = gd.plan([('/etc/default/grub', text)], *STRICT)
    new = plan['texts'][0][1]
    assert changed_lines(text, new) == [
        ('GRUB_CMDLINE_LINUX=""',
         'GRUB_CMDLINE_LINUX="intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma"')]
    assert plan['before'] == ['quiet']
    assert plan['after'] == ['intel_iommu=on', 'iommu.strict=1', 'iommu.passthrough=0', 'efi=disable_early_pci_dma',
                             'quiet']
    again = gd.plan([('/etc/default/grub', new)], *STRICT)
    assert again['changed_paths'] == []
    assert gd.verify([('/etc/default/grub', new)], *STRICT)
    assert not gd.verify([('/etc/default/grub', text)], *STRICT)


def test_forbidden_args_removed_from_default_and_dropins():
    main = fixture('ubuntu2204_default_grub').replace('"quiet splash"', '"quiet splash iommu=pt"')
    dropin = fixture('ubuntu_50-cloudimg-settings.cfg').replace('console=ttyS0"', 'console=ttyS0 intel_iommu=off"')
    files = [('/etc/default/grub', main), ('/etc/default/grub.d/50-cloudimg-settings.cfg', dropin)]
    plan = gd.plan(files, *STRICT)
    assert plan['changed_paths'] == ['/etc/default/grub', '/etc/default/grub.d/50-cloudimg-settings.cfg']
    new_main, new_dropin = plan['texts'][0][1], plan['texts'][1][1]
    assert changed_lines(main, new_main) == [
        ('GRUB_CMDLINE_LINUX_DEFAULT="quiet splash iommu=pt"', 'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"'),
        ('GRUB_CMDLINE_LINUX=""',
         'GRUB_CMDLINE_LINUX="intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma"')]
    assert changed_lines(dropin, new_dropin) == [
        ('GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0 intel_iommu=off"',
         'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"')]
    # the drop-in overrides _DEFAULT: the effective value comes from it
    assert plan['after_env']['GRUB_CMDLINE_LINUX_DEFAULT'] == ['console=tty1', 'console=ttyS0']
    assert gd.plan(plan['texts'], *STRICT)['changed_paths'] == []


def test_wanted_args_go_to_the_last_assignment_and_references_expand():
    main = 'GRUB_CMDLINE_LINUX="root=/dev/sda1 iommu.strict=0"\n'
    dropin = '# ours\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0"  # keep me\n'
    files = [('/g', main), ('/g.d/10.cfg', dropin)]
    plan = gd.plan(files, *STRICT)
    assert plan['texts'][0][1] == 'GRUB_CMDLINE_LINUX="root=/dev/sda1"\n'
    assert plan['texts'][1][1] == ('# ours\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0 intel_iommu=on '
                                   'iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma"  # keep me\n')
    assert plan['before'] == ['root=/dev/sda1', 'iommu.strict=0', 'console=ttyS0']
    assert plan['after'][:2] == ['root=/dev/sda1', 'console=ttyS0']


def test_missing_assignment_is_appended_and_quoting_kept():
    plan = gd.plan([('/g', 'GRUB_TIMEOUT=5')], [('nosmt', None)], [])
    assert plan['texts'][0][1] == 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="nosmt"\n'
    plan = gd.plan([('/g', "export GRUB_CMDLINE_LINUX='a iommu=pt'\n")], [], [('iommu', None)])
    assert plan['texts'][0][1] == "export GRUB_CMDLINE_LINUX='a'\n"
    plan = gd.plan([('/g', 'GRUB_CMDLINE_LINUX=iommu=pt\n')], [], [('iommu', None)])
    assert plan['texts'][0][1] == 'GRUB_CMDLINE_LINUX=""\n'


def test_multiline_value_and_continuations():
    text = 'A=1\nGRUB_CMDLINE_LINUX="a \\\n iommu=pt\n b"\nB=2\n'
    assigns = gd.find_assignments(text)
    assert assigns[0]['words'] == ['a', 'iommu=pt', 'b']
    plan = gd.plan([('/g', text)], [], [('iommu', None)])
    assert plan['texts'][0][1] == 'A=1\nGRUB_CMDLINE_LINUX="a b"\nB=2\n'


def test_command_substitution_in_the_value_is_refused():
    # its output is unknown until grub-mkconfig runs: the module can neither edit nor verify it
    text = 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="$(cat /etc/x) quiet"\n'
    for request in (([], [('iommu', None)]), ([], [('nothing_here', None)])):
        with pytest.raises(gd.GrubParseError) as exc:
            gd.plan([('/g', text)], *request)
        assert str(exc.value).startswith('/g line 2: ') and 'command substitution' in str(exc.value)


def test_unterminated_quote():
    with pytest.raises(gd.GrubParseError) as exc:
        gd.plan([('/etc/default/grub', 'GRUB_CMDLINE_LINUX="quiet\n')], [], [])
    assert '/etc/default/grub' in str(exc.value) and 'unterminated' in str(exc.value)


def test_rhel9_default_file_untouched_lines():
    text = fixture('rhel9_default_grub')
    plan = gd.plan([('/etc/default/grub', text)], *STRICT)
    (old, new), = changed_lines(text, plan['texts'][0][1])
    assert new == old[:-1] + ' intel_iommu=on iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma"'


# ------------------------------------------------------------------ property-based
_other_line = st.one_of(
    st.sampled_from(['', '# comment GRUB_CMDLINE_LINUX="iommu=pt"', 'GRUB_TIMEOUT=5', 'GRUB_DEFAULT=saved',
                     '#GRUB_CMDLINE_LINUX="iommu=off"', 'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`',
                     'GRUB_TERMINAL="console serial"', 'if true; then GRUB_TIMEOUT=1; fi', 'GRUB_CMDLINE_XEN="iommu=off"',
                     'A=1; B="x y"', '[ -n "$GRUB_CMDLINE_LINUX" ] && GRUB_TIMEOUT=2',
                     'GRUB_CMDLINE_LINUX_RECOVERY="$GRUB_CMDLINE_LINUX"', 'export GRUB_CMDLINE_LINUX']),
    st.text(alphabet='abcXYZ_=#" -', max_size=20).filter(lambda s: 'GRUB_CMDLINE_LINUX' not in s and s.count('"') % 2 == 0
                                                         and '\\' not in s))
_arg = st.sampled_from(['quiet', 'splash', 'iommu=pt', 'iommu=off', 'intel_iommu=off', 'intel_iommu=on',
                        'iommu.strict=0', 'iommu.strict=1', 'console=ttyS0,115200n8', 'pcie_acs_override=downstream',
                        'mitigations=off', 'net.ifnames=0', '$GRUB_CMDLINE_LINUX'])
_quote = st.sampled_from(['"', "'", ''])


@st.composite
def _assignment(draw):
    var = draw(st.sampled_from(gd.VARIABLES))
    # a reference to the variable's own earlier value (the drop-in idiom); others are refused
    words = [('$' + var if w == '$GRUB_CMDLINE_LINUX' else w) for w in draw(st.lists(_arg, max_size=5))]
    q = draw(_quote)
    if q == "'" and any('$' in w for w in words):
        q = '"'
    if q == '' and len(words) > 1:
        q = '"'
    return '%s=%s%s%s' % (var, q, ' '.join(words), q)


_file = st.lists(st.one_of(_other_line, _assignment()), max_size=12).map(lambda lines: '\n'.join(lines) + '\n')


@settings(max_examples=250, deadline=None)
@given(st.lists(_file, min_size=1, max_size=3))
def test_editing_never_disturbs_other_lines(texts):
    files = [('/etc/default/grub' if i == 0 else '/etc/default/grub.d/%02d.cfg' % i, t) for i, t in enumerate(texts)]
    plan = gd.plan(files, *STRICT)
    for (path, old), (dummy, new) in zip(files, plan['texts']):
        old_lines = old.splitlines()
        new_lines = new.splitlines()
        if path == '/etc/default/grub' and len(new_lines) == len(old_lines) + 1:
            assert new_lines[-1].startswith('GRUB_CMDLINE_LINUX="')
            new_lines = new_lines[:-1]
        assert len(new_lines) == len(old_lines)
        for a, b in zip(old_lines, new_lines):
            if a != b:
                assert gd._ASSIGN_RE.match(a), (a, b)
                assert gd._ASSIGN_RE.match(b).group(0) == gd._ASSIGN_RE.match(a).group(0)
    # the result satisfies the request and a second edit changes nothing
    assert gd.verify(plan['texts'], *STRICT)
    assert gd.plan(plan['texts'], *STRICT)['changed_paths'] == []


# ------------------------------------------------------------------ shell semantics
# /etc/default/grub and its drop-ins are shell, sourced by grub-mkconfig (with set -e). The
# module edits only what it can read exactly: assignments of GRUB_CMDLINE_LINUX(_DEFAULT) that
# run unconditionally at the top level, whose values are words and self-references. Anything
# else that could set them is refused with the file and line, before anything changes.
def test_assignment_after_a_semicolon_is_edited_in_place():
    text = 'A="x"; GRUB_CMDLINE_LINUX="quiet iommu=pt" ; B=2\n'
    plan = gd.plan([('/g', text)], *STRICT)
    assert plan['texts'][0][1] == ('A="x"; GRUB_CMDLINE_LINUX="quiet intel_iommu=on iommu.strict=1 '
                                   'iommu.passthrough=0 efi=disable_early_pci_dma" ; B=2\n')
    assert plan['before'] == ['quiet', 'iommu=pt']
    assert gd.verify(plan['texts'], *STRICT)


@pytest.mark.parametrize('text,line,fragment', [
    ('GRUB_TIMEOUT=5\nif [ -d /sys/firmware/efi ]; then\n  GRUB_CMDLINE_LINUX="iommu=pt"\nfi\n', 3, 'inside if'),
    ('case "$(uname -m)" in\n  x86_64) GRUB_CMDLINE_LINUX="iommu=pt" ;;\nesac\n', 2, 'inside case'),
    ('for x in 1; do GRUB_CMDLINE_LINUX="$x"; done\n', 1, 'inside for'),
    ('f() {\n  GRUB_CMDLINE_LINUX="iommu=pt"\n}\nf\n', 2, 'inside a function or { } block'),
    ('( GRUB_CMDLINE_LINUX="iommu=pt" )\n', 1, 'inside a subshell'),
    ('true && GRUB_CMDLINE_LINUX="iommu=pt"\n', 1, 'after &&'),
    ('[ -e /x ] || GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n', 1, 'after ||'),
    ('GRUB_CMDLINE_LINUX="iommu=pt" &\n', 1, 'before &'),
    ('GRUB_CMDLINE_LINUX="iommu=pt" update-grub\n', 1, 'for one command only'),
    ('EXTRA="intel_iommu=off"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX $EXTRA"\n', 2, '$EXTRA'),
    ('GRUB_CMDLINE_LINUX="quiet ${EXTRA:-iommu=pt}"\n', 1, 'parameter expansion'),
    ('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX_DEFAULT quiet"\n', 1, '$GRUB_CMDLINE_LINUX_DEFAULT'),
    ('GRUB_CMDLINE_LINUX="a"\nunset GRUB_CMDLINE_LINUX\n', 2, 'unset'),
    (': ${GRUB_CMDLINE_LINUX:=iommu=pt}\n', 1, 'parameter expansion'),
    ("eval 'GRUB_CMDLINE_LINUX=iommu=pt'\n", 1, 'eval'),
    ('read GRUB_CMDLINE_LINUX < /etc/x\n', 1, 'read'),
    ('GRUB_CMDLINE_LINUX=`cat /etc/x`\n', 1, 'command substitution'),
])
def test_what_cannot_be_edited_safely_is_refused_with_file_and_line(text, line, fragment):
    path = '/etc/default/grub.d/50-x.cfg'
    with pytest.raises(gd.GrubParseError) as exc:
        gd.plan([('/etc/default/grub', 'GRUB_CMDLINE_LINUX=""\n'), (path, text)], *STRICT)
    msg = str(exc.value)
    assert msg.startswith('%s line %d: ' % (path, line)), msg
    assert fragment in msg, msg


@pytest.mark.parametrize('text', [
    'if [ -n "$GRUB_CMDLINE_LINUX" ]; then GRUB_TIMEOUT=1; fi\n',          # reads are fine
    'GRUB_CMDLINE_LINUX_RECOVERY="${GRUB_CMDLINE_LINUX} single"\n',       # another variable
    'export GRUB_CMDLINE_LINUX\n',
    'export GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"\n',
    '# GRUB_CMDLINE_LINUX="iommu=pt" in a comment\nGRUB_CMDLINE_XEN_DEFAULT="x"\n',
    'case "$x" in a) GRUB_TIMEOUT=1 ;; *) ;; esac\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"\n',
    'cat > /dev/null <<EOF\nGRUB_CMDLINE_LINUX=not-code\nEOF\nGRUB_TIMEOUT=1\n',
])
def test_plain_shell_around_the_variables_is_accepted(text):
    plan = gd.plan([('/etc/default/grub', 'GRUB_CMDLINE_LINUX="quiet"\n'), ('/d/50.cfg', text)], [], [])
    assert plan['changed_paths'] == []


def test_self_references_chain_through_the_drop_ins():
    files = [('/g', 'GRUB_CMDLINE_LINUX="root=x"\n'),
             ('/g.d/10.cfg', 'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} console=ttyS0"\n'),
             ('/g.d/20.cfg', 'export GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt"\n')]
    plan = gd.plan(files, [('nosmt', None)], [('iommu', None)])
    assert plan['before_env']['GRUB_CMDLINE_LINUX'] == ['root=x', 'console=ttyS0', 'iommu=pt']
    assert plan['texts'][2][1] == 'export GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX nosmt"\n'
    assert plan['after_env']['GRUB_CMDLINE_LINUX'] == ['root=x', 'console=ttyS0', 'nosmt']


# ------------------------------------------------------------------ '--' in the GRUB variables
def test_wanted_arguments_are_inserted_before_the_double_dash():
    text = 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="quiet -- single"\n'
    plan = gd.plan([('/g', text)], *STRICT)
    assert plan['texts'][0][1] == ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="quiet intel_iommu=on '
                                   'iommu.strict=1 iommu.passthrough=0 efi=disable_early_pci_dma -- single"\n')
    assert gd.verify(plan['texts'], *STRICT)
    after_dashes = text.replace('"quiet -- single"', '"quiet -- single intel_iommu=on iommu.strict=1 '
                                                     'iommu.passthrough=0 efi=disable_early_pci_dma"')
    assert not gd.verify([('/g', after_dashes)], *STRICT)


def test_double_dash_from_an_earlier_assignment():
    # the drop-in appends after the main file's '--': its words go to init; the wanted
    # arguments must go before the '--', into the main file
    files = [('/g', 'GRUB_CMDLINE_LINUX="root=x -- single"\n'),
             ('/g.d/10.cfg', 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt"\n')]
    plan = gd.plan(files, [('nosmt', None)], [('iommu', None)])
    assert plan['texts'][0][1] == 'GRUB_CMDLINE_LINUX="root=x nosmt -- single"\n'
    # iommu=pt after the '--' is an argument of init, not of the kernel: not touched
    assert plan['changed_paths'] == ['/g']
    assert gd.verify(plan['texts'], [('nosmt', None)], [('iommu', None)])


def test_default_words_after_a_double_dash_in_linux_are_init_arguments():
    text = 'GRUB_CMDLINE_LINUX="ro -- single"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"\n'
    assert gd.verify([('/g', text)], [], [('iommu', None)])
    assert not gd.verify([('/g', text.replace('ro -- single', 'ro'))], [], [('iommu', None)])


# ------------------------------------------------------------------ the shell as a second reader
def test_shell_reads_the_files_like_grub_mkconfig(tmp_path):
    import subprocess
    main = tmp_path / 'grub'
    main.write_text(fixture('debian12_default_grub').replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="ro -- x"'))
    dropin = tmp_path / '50.cfg'
    dropin.write_text('echo noise\nGRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0"\n')
    argv = gd.shell_argv('/bin/sh', [str(main), str(dropin)])
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert gd.parse_shell_output(out) == {'GRUB_CMDLINE_LINUX': ['ro', '--', 'x'],
                                          'GRUB_CMDLINE_LINUX_DEFAULT': ['quiet', 'console=ttyS0']}
    files = [(str(main), main.read_text()), (str(dropin), dropin.read_text())]
    assert gd.effective(files) == gd.parse_shell_output(out)


_block = st.sampled_from(['if [ -d /sys/firmware/efi ]; then\n%s\nfi', 'case "$x" in\n  a) %s ;;\nesac',
                          'f() {\n%s\n}', 'true && %s', '( %s )', '%s &', 'for a in 1; do %s; done'])


@settings(max_examples=100, deadline=None)
@given(st.lists(_other_line, max_size=4), _block, _assignment(), st.lists(_other_line, max_size=4))
def test_assignments_that_may_not_run_are_always_refused(head, block, assignment, tail):
    text = '\n'.join(head + [block % assignment] + tail) + '\n'
    line = len(head) + 1 + (block % assignment).split('\n').index([x for x in (block % assignment).split('\n')
                                                                   if assignment in x][0])
    with pytest.raises(gd.GrubParseError) as exc:
        gd.plan([('/etc/default/grub', text)], [], [])
    assert str(exc.value).startswith('/etc/default/grub line %d: ' % line)


# ------------------------------------------------------------------ RHEL's tuned line
# tuned's bootloader plugin (installed and active by default on RHEL 8/9) adds these lines; the
# GRUB variable $tuned_params is expanded by GRUB at boot from grubenv: an opaque word here.
TUNED = ('GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }\\$tuned_params"\n'
         'GRUB_INITRD_OVERLAY="${GRUB_INITRD_OVERLAY:+$GRUB_INITRD_OVERLAY }\\$tuned_initrd"\n')


def test_rhel_tuned_lines_are_read_and_kept(tmp_path):
    import subprocess
    text = fixture('rhel9_default_grub').replace('GRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"',
                                                 'GRUB_DISTRIBUTOR="Red Hat Enterprise Linux"') + TUNED
    plan = gd.plan([('/etc/default/grub', text)], *STRICT)
    assert plan['before_env']['GRUB_CMDLINE_LINUX_DEFAULT'] == ['$tuned_params']
    (old, new), = changed_lines(text, plan['texts'][0][1])
    assert old.startswith('GRUB_CMDLINE_LINUX="crashkernel=') and new.endswith(' efi=disable_early_pci_dma"')
    path = tmp_path / 'grub'
    for t, env in ((text, plan['before_env']), (plan['texts'][0][1], plan['after_env'])):
        path.write_text(t)
        out = subprocess.run(gd.shell_argv('/bin/sh', [str(path)]), capture_output=True, text=True, check=True).stdout
        assert gd.parse_shell_output(out) == env


def test_tuned_style_line_edited_keeps_its_meaning(tmp_path):
    import subprocess
    text = ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
            'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }\\$tuned_params iommu=pt"\n')
    plan = gd.plan([('/g', text)], [], [('iommu', None)])
    new = plan['texts'][0][1]
    assert plan['after_env']['GRUB_CMDLINE_LINUX_DEFAULT'] == ['quiet', '$tuned_params']
    path = tmp_path / 'grub'
    path.write_text(new)
    out = subprocess.run(gd.shell_argv('/bin/sh', [str(path)]), capture_output=True, text=True, check=True).stdout
    assert gd.parse_shell_output(out)['GRUB_CMDLINE_LINUX_DEFAULT'] == ['quiet', '$tuned_params']


def test_stock_drop_ins_are_accepted():
    # Ubuntu's init-select.cfg (comments only), kdump-tools' and Proxmox VE's ZFS-root drop-ins
    files = [('/etc/default/grub', fixture('ubuntu2204_default_grub')),
             ('/etc/default/grub.d/init-select.cfg',
              '# Work around a bug in the obsolete init-select package which broke\n'
              '# grub-mkconfig when init-select was removed but not purged.  This file does\n'
              '# nothing and will be removed in a later release.\n'),
             ('/etc/default/grub.d/kdump-tools.cfg',
              'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=512M-:192M"\n'),
             ('/etc/default/grub.d/zfs.cfg',
              'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX root=ZFS=rpool/ROOT/pve-1 boot=zfs"\n')]
    plan = gd.plan(files, *STRICT)
    assert plan['changed_paths'] == ['/etc/default/grub.d/zfs.cfg']
    assert plan['after'] == ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs', 'intel_iommu=on', 'iommu.strict=1',
                             'iommu.passthrough=0', 'efi=disable_early_pci_dma', 'quiet', 'splash',
                             'crashkernel=512M-:192M']
