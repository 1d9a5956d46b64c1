# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions to validate and apply a wanted/forbidden kernel-argument request.

A request is two lists of specs, ``present`` and ``absent``. A spec is ``key`` or
``key=value``. Words are the raw whitespace-separated words of a command line as they
appear in a configuration file. Words containing ``$`` are shell references (for example
``$GRUB_CMDLINE_LINUX`` in a GRUB drop-in) and are never touched or matched.

Semantics:
- present ``key=value``: afterwards every word with that key is exactly ``key=value`` (other
  values and a bare ``key`` flag are removed) and at least one such word exists. This is the
  "one value per key" rule the kernel's own parameters follow (the last value wins).
- present ``key``: a bare flag ``key`` exists; ``key=...`` words are removed.
- absent ``key``: every word with that key is removed, with or without a value.
- absent ``key=value``: only words equal to ``key=value`` are removed.
Keys compare the way the kernel compares parameter names (``-`` equals ``_``).

A lone ``--`` ends the kernel's arguments (lib/cmdline.c parse_args): the words after it go
to init. Every function here judges and edits only the words before the first ``--``; wanted
arguments are inserted before it and the words from it on are kept as they are. ``--`` itself
can be neither wanted nor forbidden.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import normalize_key, parse_word

# Characters that would need shell or boot-loader quoting, or that could inject commands.
FORBIDDEN_CHARS = '"\'`$\\;&|<>(){}#*?[]!'


class RequestError(ValueError):
    """A present/absent request is malformed; the message names the option and the problem."""


def is_opaque(word):
    """A shell reference ($VAR, ${VAR}) or anything with a dollar: never matched or edited."""
    return '$' in word


def parse_spec(item, option):
    """Validate one spec string and return (key, value); value None for a bare key."""
    if not isinstance(item, str):
        raise RequestError('%s: %r is not a string' % (option, item))
    if item == '':
        raise RequestError('%s: empty argument' % option)
    for ch in item:
        if ch.isspace():
            raise RequestError('%s: %r contains whitespace; give one argument per list item' % (option, item))
        if ch in FORBIDDEN_CHARS:
            raise RequestError('%s: %r contains the character %r (quotes, shell metacharacters and '
                               'globs are not allowed in kernel arguments managed here)' % (option, item, ch))
        if ord(ch) < 32 or ord(ch) == 127:
            raise RequestError('%s: %r contains a control character' % (option, item))
    key, value = parse_word(item)
    if key == '--':
        raise RequestError("%s: %r: '--' is not a kernel argument, it ends them: the kernel hands every word "
                           "after it to init" % (option, item))
    if key == '':
        raise RequestError('%s: %r has an empty key' % (option, item))
    if value == '':
        raise RequestError('%s: %r has an empty value; write %r to mean the bare flag' % (option, item, key))
    return key, value


def word_key(word):
    return normalize_key(parse_word(word)[0])


def spec_word(spec):
    key, value = spec
    return key if value is None else '%s=%s' % (key, value)


def same_word(word, spec):
    """True when ``word`` is exactly the argument ``spec`` (key compared kernel-style)."""
    key, value = parse_word(word)
    return normalize_key(key) == normalize_key(spec[0]) and value == spec[1]


def matches_absent(word, spec):
    if is_opaque(word):
        return False
    key, value = parse_word(word)
    if normalize_key(key) != normalize_key(spec[0]):
        return False
    return spec[1] is None or value == spec[1]


def conflicts_present(word, spec):
    """A word with the key of a present spec but not equal to it (must go)."""
    if is_opaque(word):
        return False
    return word_key(word) == normalize_key(spec[0]) and not same_word(word, spec)


def validate_request(present, absent):
    """Validate both lists; return (present_specs, absent_specs) or raise RequestError."""
    present_specs = [parse_spec(item, 'present') for item in (present or [])]
    absent_specs = [parse_spec(item, 'absent') for item in (absent or [])]
    seen = {}
    for spec in present_specs:
        nkey = normalize_key(spec[0])
        if nkey in seen and seen[nkey][1] != spec[1]:
            raise RequestError('present: %r and %r set the same key twice with different values'
                               % (spec_word(seen[nkey]), spec_word(spec)))
        seen.setdefault(nkey, spec)
    for pspec in present_specs:
        for aspec in absent_specs:
            if matches_absent(spec_word(pspec), aspec):
                raise RequestError('%r is both wanted (present) and forbidden (absent: %r)'
                                   % (spec_word(pspec), spec_word(aspec)))
    # keep order, drop duplicates
    uniq = []
    for spec in present_specs:
        if not any(same_word(spec_word(spec), other) for other in uniq):
            uniq.append(spec)
    return uniq, absent_specs


def split_init(words):
    """(kernel words, init part): the init part starts at the first lone ``--`` (kept in it)."""
    words = list(words)
    cut = words.index('--') if '--' in words else len(words)
    return words[:cut], words[cut:]


def must_go(word, present_specs, absent_specs):
    """A kernel word that is forbidden, or gives a wanted key another value."""
    return (any(matches_absent(word, spec) for spec in absent_specs)
            or any(conflicts_present(word, spec) for spec in present_specs))


def remove_words(words, present_specs, absent_specs):
    """Drop forbidden words and words conflicting with a wanted value; keep order and init words."""
    kernel, init = split_init(words)
    return [w for w in kernel if not must_go(w, present_specs, absent_specs)] + init


def missing_specs(words, present_specs):
    """Present specs that no kernel word (before ``--``) of ``words`` satisfies."""
    kernel = split_init(words)[0]
    return [spec for spec in present_specs if not any(same_word(w, spec) for w in kernel if not is_opaque(w))]


def edit_words(words, present_specs, absent_specs):
    """Apply the request to one list of words; other words keep their order, init words stay last."""
    kernel, init = split_init(remove_words(words, present_specs, absent_specs))
    return kernel + [spec_word(spec) for spec in missing_specs(kernel, present_specs)] + init


def satisfied(words, present_specs, absent_specs):
    return edit_words(words, present_specs, absent_specs) == list(words)


def pending(words, present_specs, absent_specs):
    """What differs between ``words`` (e.g. /proc/cmdline) and the request.

    Returns a list of strings: ``+key=value`` for a wanted argument that is missing (or has
    another value), ``-word`` for a word that is present but forbidden or conflicting. Words
    after ``--`` are init's: a wanted argument there is missing, a forbidden one is harmless.
    """
    out = []
    kernel = split_init(words)[0]
    for word in kernel:
        if not is_opaque(word) and must_go(word, present_specs, absent_specs):
            out.append('-' + word)
    for spec in missing_specs(kernel, present_specs):
        out.append('+' + spec_word(spec))
    return out
