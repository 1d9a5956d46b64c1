# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions for Linux kernel command lines (/proc/cmdline, GRUB_CMDLINE_LINUX, BLS options).

The splitting follows the kernel's own rules (lib/cmdline.c, next_arg): words are
separated by whitespace, double quotes group a word or a value and are removed,
and a lone ``--`` ends the kernel's arguments (the rest goes to init).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def split_words(text):
    """Split a command line into words, honouring double quotes (which are removed)."""
    words = []
    current = []
    in_word = False
    in_quote = False
    for ch in text or '':
        if ch == '"':
            in_quote = not in_quote
            in_word = True
            continue
        if ch.isspace() and not in_quote:
            if in_word:
                words.append(''.join(current))
                current = []
                in_word = False
            continue
        current.append(ch)
        in_word = True
    if in_word:
        words.append(''.join(current))
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


def format_arg(key, value):
    """Render one argument, quoting the value when it contains whitespace."""
    if value is None:
        return key
    if any(ch.isspace() for ch in value):
        return '%s="%s"' % (key, value)
    return '%s=%s' % (key, value)
