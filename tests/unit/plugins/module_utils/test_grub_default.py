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


def test_command_substitution_refused_only_when_it_must_change():
    text = 'GRUB_CMDLINE_LINUX="$(cat /etc/x) iommu=pt"\n'
    with pytest.raises(gd.GrubParseError) as exc:
        gd.plan([('/g', text)], [], [('iommu', None)])
    assert 'command substitution' in str(exc.value)
    assert gd.plan([('/g', text)], [], [('nothing_here', None)])['changed_paths'] == []


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
                     'GRUB_TERMINAL="console serial"', 'if true; then', 'fi', 'GRUB_CMDLINE_XEN="iommu=off"']),
    st.text(alphabet='abcXYZ_=#" -', max_size=20).filter(lambda s: 'GRUB_CMDLINE_LINUX' not in s and s.count('"') % 2 == 0
                                                         and '\\' not in s))
_arg = st.sampled_from(['quiet', 'splash', 'iommu=pt', 'iommu=off', 'intel_iommu=off', 'intel_iommu=on',
                        'iommu.strict=0', 'iommu.strict=1', 'console=ttyS0,115200n8', 'pcie_acs_override=downstream',
                        'mitigations=off', 'net.ifnames=0', '$GRUB_CMDLINE_LINUX'])
_quote = st.sampled_from(['"', "'", ''])


@st.composite
def _assignment(draw):
    var = draw(st.sampled_from(gd.VARIABLES))
    words = draw(st.lists(_arg, max_size=5))
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
