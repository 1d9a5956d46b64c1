# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions for Linux kernel command lines (/proc/cmdline, GRUB_CMDLINE_LINUX, BLS options).

The splitting follows the kernel's own rules (lib/cmdline.c, next_arg): words are separated by
whitespace; a double quote starts or ends a quoted run in which whitespace does not split; a
quote at the start of a word and quotes around a value are removed (``"a b"`` gives ``a b``,
``k="v w"`` gives ``k=v w``), other quotes stay. A lone ``--`` ends the kernel's arguments
(lib/cmdline.c parse_args): every word after it is an argument of init, never of the kernel.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

_SPACE = ' \t\n\r\v\f'


def _next_arg(text, i):
    """One kernel word starting at ``text[i]`` (not a space): (word, index after it)."""
    quoted = in_quote = False
    if text[i] == '"':
        i += 1
        quoted = in_quote = True
    start = i
    equals = None
    while i < len(text):
        ch = text[i]
        if ch in _SPACE and not in_quote:
            break
        if equals is None and ch == '=':
            equals = i
        if ch == '"':
            in_quote = not in_quote
        i += 1
    word = list(text[start:i])
    # the kernel writes NULs over the quotes it drops; here the dropped positions are removed
    drop = set()
    if equals is not None:
        value_at = equals - start + 1
        if value_at < len(word) and word[value_at] == '"':
            drop.add(value_at)
            if len(word) - 1 > value_at and word[-1] == '"':
                drop.add(len(word) - 1)
    if quoted and word and word[-1] == '"' and (len(word) - 1) not in drop:
        drop.add(len(word) - 1)
    return ''.join(ch for n, ch in enumerate(word) if n not in drop), i


def split_words(text):
    """Split a command line into words the way the kernel does (quotes handled as above)."""
    words = []
    text = text or ''
    i = 0
    while i < len(text):
        if text[i] in _SPACE:
            i += 1
            continue
        word, i = _next_arg(text, i)
        words.append(word)
    return words


def parse_word(word):
    """Return (key, value) for one argument; value is None for a flag without '='."""
    if '=' in word:
        key, value = word.split('=', 1)
        return key, value
    return word, None


def parse_cmdline(text):
    """Parse a command line.

    Returns a dict with ``args`` (ordered list of {'key', 'value'} dicts, value None
    for flags, repeated keys kept in order) and ``init_args`` (words after ``--``).
    """
    args = []
    init_args = []
    words = split_words(text)
    for index, word in enumerate(words):
        if word == '--':
            init_args = words[index + 1:]
            break
        key, value = parse_word(word)
        args.append({'key': key, 'value': value})
    return {'args': args, 'init_args': init_args}


def arg_values(args, key):
    """All values given for ``key`` in a parsed args list, in order (None for flags).

    Keys compare the way the kernel compares parameter names: dashes and
    underscores are equivalent.
    """
    wanted = normalize_key(key)
    return [a['value'] for a in args if normalize_key(a['key']) == wanted]


def normalize_key(key):
    return key.replace('-', '_')
