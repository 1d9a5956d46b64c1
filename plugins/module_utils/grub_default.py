# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and edit GRUB_CMDLINE_LINUX / GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub.

/etc/default/grub is a POSIX shell fragment that grub-mkconfig sources, followed by every
/etc/default/grub.d/*.cfg in glob order; a later assignment overrides an earlier one and may
refer to the earlier value (``GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX foo"``).

Editing rules (see docs/iommu.md):
- forbidden words, and words giving a wanted key another value, are removed from every
  assignment of both variables in every file (wherever they are set, they reach the kernel);
- a missing wanted argument is appended to the *last* assignment of GRUB_CMDLINE_LINUX, the
  one that decides the value (GRUB_CMDLINE_LINUX reaches every entry, recovery included);
  when no file assigns it, a line is appended to the main file;
- only the value of an edited assignment is rewritten; every other byte of every file,
  including comments, other variables and the text after the value, is kept.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.hvsec.hypervisor.plugins.module_utils.kernel_args import (
    is_opaque, missing_specs, remove_words, spec_word)

VARIABLES = ('GRUB_CMDLINE_LINUX', 'GRUB_CMDLINE_LINUX_DEFAULT')
_ASSIGN_RE = re.compile(r'^([ \t]*(?:export[ \t]+)?)(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=', re.M)
_REF_RE = re.compile(r'^\$(?:\{(\w+)\}|(\w+))$')


class GrubParseError(ValueError):
    pass


def _line_of(text, pos):
    return text.count('\n', 0, pos) + 1


def read_shell_word(text, pos):
    """Read one shell word starting at ``pos``.

    Returns (value, end, style, complex): the value with quotes removed (an unescaped ``$``
    is kept as is, so references stay visible), the offset after the word, the first quote
    character ('"', "'" or '' for none) and whether the word uses command substitution or
    escaped dollars, which this module refuses to rewrite.
    """
    out = []
    style = None
    cplx = False
    i = pos
    n = len(text)
    while i < n:
        ch = text[i]
        if style is None:
            style = ch if ch in '"\'' else ''
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise GrubParseError('unterminated single quote starting on line %d' % _line_of(text, i))
            chunk = text[i + 1:end]
            if '$' in chunk:
                cplx = True
            out.append(chunk)
            i = end + 1
        elif ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise GrubParseError('unterminated double quote starting on line %d' % _line_of(text, pos))
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == '\\' and i + 1 < n and text[i + 1] in '"\\`$\n':
                    if text[i + 1] == '\n':
                        i += 2
                        continue
                    if text[i + 1] in '$`':
                        cplx = True
                    out.append(text[i + 1])
                    i += 2
                    continue
                if c == '`' or (c == '$' and i + 1 < n and text[i + 1] == '('):
                    cplx = True
                out.append(c)
                i += 1
        elif ch == '\\':
            if i + 1 < n:
                if text[i + 1] != '\n':
                    out.append(text[i + 1])
                    if text[i + 1] in '$`':
                        cplx = True
                i += 2
            else:
                i += 1
        elif ch.isspace() or ch in ';&|<>()':
            break
        else:
            if ch == '`' or (ch == '$' and i + 1 < n and text[i + 1] == '('):
                cplx = True
            out.append(ch)
            i += 1
    return ''.join(out), i, style or '', cplx


def find_assignments(text):
    """All assignments of the two variables in one file, in order.

    Each is a dict: var, value (unquoted), words (value split on whitespace), start/end (offsets
    of the value text), style (quote used), complex (True when it cannot be rewritten safely),
    line (1-based).
    """
    found = []
    pos = 0
    while True:
        m = _ASSIGN_RE.search(text, pos)
        if not m:
            break
        start = m.end()
        value, end, style, cplx = read_shell_word(text, start)
        found.append({'var': m.group(2), 'value': value, 'words': value.split(), 'start': start,
                      'end': end, 'style': style, 'complex': cplx, 'line': _line_of(text, m.start())})
        pos = max(end, start + 1)
    return found


def quote_value(value, style):
    """Render a value for the shell, keeping single quotes when they were used and still fit."""
    if style == "'" and "'" not in value and '$' not in value:
        return "'%s'" % value
    escaped = value.replace('\\', '\\\\').replace('"', '\\"').replace('`', '\\`')
    return '"%s"' % escaped


def _expand(words, env):
    out = []
    for word in words:
        m = _REF_RE.match(word)
        if m and (m.group(1) or m.group(2)) in env:
            out.extend(env[m.group(1) or m.group(2)])
        else:
            out.append(word)
    return out


def effective(files):
    """Simulate grub-mkconfig's sourcing: {var: words} after all files, references expanded.

    ``files`` is an ordered list of (path, text).
    """
    env = {var: [] for var in VARIABLES}
    for dummy, text in files:
        for a in find_assignments(text):
            env[a['var']] = _expand(a['words'], env)
    return env


def kernel_words(env):
    """The words a normal boot entry gets: GRUB_CMDLINE_LINUX then _DEFAULT, references dropped."""
    return [w for w in env['GRUB_CMDLINE_LINUX'] + env['GRUB_CMDLINE_LINUX_DEFAULT'] if not is_opaque(w)]


def plan(files, present_specs, absent_specs):
    """Compute the edit of a set of GRUB default files.

    Returns a dict: ``texts`` (ordered list of (path, new_text)), ``changed_paths``,
    ``before``/``after`` (kernel words of a normal entry), ``before_env``/``after_env``.
    Raises GrubParseError when a file cannot be parsed or a needed edit touches an
    assignment using command substitution.
    """
    parsed = []
    for path, text in files:
        try:
            parsed.append((path, text, find_assignments(text)))
        except GrubParseError as exc:
            raise GrubParseError('%s: %s' % (path, exc))
    new_words = {}
    for fi, (path, text, assigns) in enumerate(parsed):
        for ai, a in enumerate(assigns):
            kept = remove_words(a['words'], present_specs, absent_specs)
            if kept != a['words']:
                new_words[(fi, ai)] = kept

    def env_with_edits():
        env = {var: [] for var in VARIABLES}
        for fi, (path, text, assigns) in enumerate(parsed):
            for ai, a in enumerate(assigns):
                env[a['var']] = _expand(new_words.get((fi, ai), a['words']), env)
        return env

    target = None
    for fi, (path, text, assigns) in enumerate(parsed):
        for ai, a in enumerate(assigns):
            if a['var'] == 'GRUB_CMDLINE_LINUX':
                target = (fi, ai)
    missing = missing_specs([w for w in env_with_edits()['GRUB_CMDLINE_LINUX'] if not is_opaque(w)], present_specs)
    appended_line = None
    if missing:
        add = [spec_word(s) for s in missing]
        if target is None:
            appended_line = add
        else:
            fi, ai = target
            base = new_words.get(target, parsed[fi][2][ai]['words'])
            new_words[target] = base + add

    texts = []
    changed = []
    for fi, (path, text, assigns) in enumerate(parsed):
        pieces = []
        last = 0
        for ai, a in enumerate(assigns):
            if (fi, ai) not in new_words:
                continue
            if a['complex']:
                raise GrubParseError('%s line %d: %s uses command substitution or escaped dollars; '
                                     'edit it by hand or simplify it' % (path, a['line'], a['var']))
            pieces.append(text[last:a['start']])
            pieces.append(quote_value(' '.join(new_words[(fi, ai)]), a['style']))
            last = a['end']
        pieces.append(text[last:])
        new_text = ''.join(pieces)
        if fi == 0 and appended_line is not None:
            if new_text and not new_text.endswith('\n'):
                new_text += '\n'
            new_text += 'GRUB_CMDLINE_LINUX="%s"\n' % ' '.join(appended_line)
        texts.append((path, new_text))
        if new_text != text:
            changed.append(path)
    before_env = effective([(p, t) for p, t, dummy in parsed])
    after_env = effective(texts)
    return {'texts': texts, 'changed_paths': changed, 'before': kernel_words(before_env),
            'after': kernel_words(after_env), 'before_env': before_env, 'after_env': after_env}


def verify(files, present_specs, absent_specs):
    """True when the files already satisfy the request (used after editing as a self-check)."""
    env = effective(files)
    linux = [w for w in env['GRUB_CMDLINE_LINUX'] if not is_opaque(w)]
    words = kernel_words(env)
    return not missing_specs(linux, present_specs) and remove_words(words, present_specs, absent_specs) == words
