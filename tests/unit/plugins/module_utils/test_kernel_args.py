# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hvsec.hypervisor.plugins.module_utils.kernel_args import (
    RequestError, edit_words, pending, satisfied, validate_request)

STRICT_PRESENT = ['intel_iommu=on', 'iommu.strict=1', 'iommu.passthrough=0', 'efi=disable_early_pci_dma']
STRICT_ABSENT = ['iommu=off', 'intel_iommu=off', 'amd_iommu=off', 'iommu=pt', 'pcie_acs_override']


@pytest.mark.parametrize('present,absent,fragment', [
    (['a b'], [], 'whitespace'),
    (['foo="x"'], [], "character '\"'"),
    (["foo='x'"], [], "character \"'\""),
    (['$(reboot)'], [], "character '$'"),
    ([''], [], 'empty argument'),
    (['=1'], [], 'empty key'),
    (['foo='], [], 'empty value'),
    (['iommu=pt'], ['iommu'], 'both wanted (present) and forbidden'),
    (['iommu=pt'], ['iommu=pt'], 'both wanted'),
    (['iommu.strict=1', 'iommu.strict=0'], [], 'same key twice'),
    ([], ['x;y'], "absent: 'x;y'"),
])
def test_bad_requests_are_rejected(present, absent, fragment):
    with pytest.raises(RequestError) as exc:
        validate_request(present, absent)
    assert fragment in str(exc.value)


def test_not_conflicting_values_are_accepted():
    present, absent = validate_request(['intel_iommu=on', 'intel_iommu=on'], ['intel_iommu=off'])
    assert present == [('intel_iommu', 'on')]
    assert absent == [('intel_iommu', 'off')]


def test_strict_policy_on_insecure_cmdline():
    p, a = validate_request(STRICT_PRESENT, STRICT_ABSENT)
    words = 'BOOT_IMAGE=/vmlinuz root=UUID=1 ro quiet iommu=pt intel_iommu=off pcie_acs_override=downstream,multifunction iommu.strict=0'.split()
    out = edit_words(words, p, a)
    assert out == ['BOOT_IMAGE=/vmlinuz', 'root=UUID=1', 'ro', 'quiet'] + STRICT_PRESENT
    assert satisfied(out, p, a)
    assert not satisfied(words, p, a)
    assert pending(words, p, a) == ['-iommu=pt', '-intel_iommu=off', '-pcie_acs_override=downstream,multifunction',
                                    '-iommu.strict=0', '+intel_iommu=on', '+iommu.strict=1', '+iommu.passthrough=0',
                                    '+efi=disable_early_pci_dma']
    assert pending(out, p, a) == []


def test_keys_compare_kernel_style_and_flags():
    p, a = validate_request(['kvm.nx-huge-pages=auto', 'nosmt'], ['pcie-acs-override'])
    words = ['kvm.nx_huge_pages=off', 'nosmt=force', 'pcie_acs_override=id:8086:1234']
    assert edit_words(words, p, a) == ['kvm.nx-huge-pages=auto', 'nosmt']


def test_absent_key_value_removes_only_that_value():
    p, a = validate_request([], ['iommu=pt'])
    assert edit_words(['iommu=pt', 'iommu=force', 'iommu'], p, a) == ['iommu=force', 'iommu']


def test_opaque_words_untouched():
    p, a = validate_request(['a=1'], ['b'])
    assert edit_words(['$tuned_params', 'b=$x', 'b'], p, a) == ['$tuned_params', 'b=$x', 'a=1']


_key = st.text(alphabet='abcdefg_.-', min_size=1, max_size=6).filter(lambda k: not k.startswith('='))
_val = st.one_of(st.none(), st.text(alphabet='0123xyz,:/', min_size=1, max_size=5))
_word = st.builds(lambda k, v: k if v is None else '%s=%s' % (k, v), _key, _val)


@settings(max_examples=300, deadline=None)
@given(st.lists(_word, max_size=12), st.lists(_word, max_size=4), st.lists(_word, max_size=4))
def test_edit_properties(words, present, absent):
    try:
        p, a = validate_request(present, absent)
    except RequestError:
        return
    out = edit_words(words, p, a)
    # the result satisfies the request and editing again changes nothing (idempotence)
    assert satisfied(out, p, a)
    assert edit_words(out, p, a) == out
    assert pending(out, p, a) == []
    # words the request does not mention keep their relative order
    from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import normalize_key, parse_word
    keys = set(normalize_key(k) for k, dummy in p + a)
    untouched = [w for w in words if normalize_key(parse_word(w)[0]) not in keys]
    assert [w for w in out if normalize_key(parse_word(w)[0]) not in keys] == untouched


# ------------------------------------------------------------------ '--': the rest goes to init
# The kernel stops reading its own parameters at a lone '--' (lib/cmdline.c parse_args); every
# word after it is an argument of init. A kernel argument written after '--' never reaches the
# kernel, and a forbidden word after it is not a kernel argument.
@pytest.mark.parametrize('present,absent,option', [
    (['--'], [], 'present'),
    ([], ['--'], 'absent'),
    (['--=1'], [], 'present'),
])
def test_double_dash_is_refused_naming_the_option(present, absent, option):
    with pytest.raises(RequestError) as exc:
        validate_request(present, absent)
    assert str(exc.value).startswith(option + ':') and "'--'" in str(exc.value)
    assert 'init' in str(exc.value)


def test_wanted_arguments_go_before_the_double_dash():
    p, a = validate_request(['intel_iommu=on', 'iommu.strict=1'], ['iommu'])
    words = ['quiet', 'iommu=pt', '--', 'single', 'iommu=pt']
    out = edit_words(words, p, a)
    assert out == ['quiet', 'intel_iommu=on', 'iommu.strict=1', '--', 'single', 'iommu=pt']
    assert satisfied(out, p, a) and edit_words(out, p, a) == out


def test_arguments_after_the_double_dash_do_not_count():
    p, a = validate_request(['intel_iommu=on'], ['iommu'])
    assert not satisfied(['quiet', '--', 'intel_iommu=on'], p, a)
    assert pending(['quiet', '--', 'intel_iommu=on', 'iommu=pt'], p, a) == ['+intel_iommu=on']
    assert pending(['intel_iommu=on', '--', 'iommu=pt'], p, a) == []


def test_kernel_words_follow_the_kernel_tokenizer():
    from ansible_collections.hvsec.hypervisor.plugins.module_utils import cmdline
    # lib/cmdline.c next_arg: a leading quote and quotes around a value are dropped
    assert cmdline.split_words('a "b c" d="e f" "g=h i" -- x "--"') == ['a', 'b c', 'd=e f', 'g=h i', '--', 'x', '--']
    p, a = validate_request(['iommu=pt'], [])
    assert not satisfied(cmdline.split_words('ro quiet -- single iommu=pt\n'), p, a)
    # '"--"' is the terminator too (the kernel strips the quotes first); '--=x' is not
    assert cmdline.split_words('a "--" b') == ['a', '--', 'b']
    assert not satisfied(cmdline.split_words('a "--" iommu=pt'), p, a)
    assert cmdline.split_words('a --=x b') == ['a', '--=x', 'b']
    assert satisfied(cmdline.split_words('a --=x iommu=pt'), p, a)


_kword = st.sampled_from(['quiet', 'ro', 'iommu=pt', 'iommu=off', 'intel_iommu=on', 'intel_iommu=off', 'a=1', '--'])


@settings(max_examples=300, deadline=None)
@given(st.lists(_kword, max_size=10), st.lists(_word, max_size=3), st.lists(_word, max_size=3))
def test_edit_properties_with_init_arguments(words, present, absent):
    try:
        p, a = validate_request(present, absent)
    except RequestError:
        return
    out = edit_words(words, p, a)
    cut = words.index('--') if '--' in words else len(words)
    # the init arguments (from the first '--' on) are kept byte for byte, after the kernel's own
    assert out[len(out) - (len(words) - cut):] == words[cut:]
    assert satisfied(out, p, a) and edit_words(out, p, a) == out and pending(out, p, a) == []
