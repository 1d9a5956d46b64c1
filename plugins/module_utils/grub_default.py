# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and edit GRUB_CMDLINE_LINUX / GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub.

/etc/default/grub is a POSIX shell fragment that grub-mkconfig sources (under ``set -e``),
followed by every /etc/default/grub.d/*.cfg in glob order; a later assignment overrides an
earlier one and may refer to the earlier value (``GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX foo"``).
grub-mkconfig then writes ``linux ... ro ${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}``
for normal entries and ``... ro single ${GRUB_CMDLINE_LINUX}`` for recovery entries.

What the module reads and edits exactly (anything else that could set the two variables is
refused with the file and line, before anything changes; see docs/iommu.md):
- assignments of the two variables that run unconditionally at the top level: at the start of
  a line or after ``;`` (``A=1; GRUB_CMDLINE_LINUX="..."``), optionally with ``export``, not
  inside if/case/for/while/until, a function, ``{ }`` or ``( )``, not after ``&&``, ``||`` or
  ``|``, not before ``&`` or ``|``, not as a prefix of a command;
- values made of words and whole-word references to the variable's own earlier value
  (``$GRUB_CMDLINE_LINUX``, ``${GRUB_CMDLINE_LINUX}``, and tuned's
  ``${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }``): no other variable, no
  command substitution, no other ``${...}`` operator. A literal ``$`` (RHEL tuned's
  ``\\$tuned_params``) is a GRUB variable GRUB expands at boot: an opaque word, kept, never judged;
- any other occurrence of the names must be a plain read (``$NAME``, ``${NAME}``) or
  ``export NAME``: ``unset``, ``read``, ``eval``, ``${NAME:=...}`` and the like are refused.

Editing rules:
- forbidden words, and words giving a wanted key another value, are removed from every
  assignment of both variables in every file where they reach the kernel, i.e. before the first
  ``--`` of the command line (the words after it are init's arguments; lib/cmdline.c);
- a missing wanted argument goes into GRUB_CMDLINE_LINUX (it reaches every entry, recovery
  included): just before the ``--`` when the value has one (into the assignment that wrote the
  ``--``), otherwise at the end of the *last* assignment, the one that decides the value; when
  no file assigns it, a line is appended to the main file;
- only the value of an edited assignment is rewritten; every other byte of every file,
  including comments, other variables and the text after the value, is kept.

``shell_argv``/``parse_shell_output`` let the caller read the same files with the shell, the way
grub-mkconfig does, as a second reader (the module compares both before and after editing).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.hvsec.hypervisor.plugins.module_utils.kernel_args import (
    is_opaque, missing_specs, must_go, remove_words, spec_word)

VARIABLES = ('GRUB_CMDLINE_LINUX', 'GRUB_CMDLINE_LINUX_DEFAULT')
# the start of a simple assignment line (kept for the property tests: changed lines match it)
_ASSIGN_RE = re.compile(r'^([ \t]*(?:export[ \t]+)?)(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=', re.M)
_ASSIGN_WORD_RE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)=')
_NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_MENTION_RE = re.compile(r'(?<![A-Za-z0-9_])GRUB_CMDLINE_LINUX(?:_DEFAULT)?(?![A-Za-z0-9_])')
_SPECIAL = '0123456789@*#?$!-'
_OPEN = {'if': 'if', 'while': 'while', 'until': 'until', 'for': 'for', 'case': 'case', '{': 'brace'}
_CLOSE = {'fi': ('if',), 'done': ('while', 'until', 'for'), 'esac': ('case',), '}': ('brace',)}
_INSIDE = {'if': 'inside if ... fi', 'while': 'inside while ... done', 'until': 'inside until ... done',
           'for': 'inside for ... done', 'case': 'inside case ... esac',
           'brace': 'inside a function or { } block', 'subshell': 'inside a subshell ( )'}

SHELL_SCRIPT = ('set -e\n'
                'unset GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT\n'
                '{ for hvsec_f in "$@"; do . "$hvsec_f"; done; } >&2 </dev/null\n'
                'printf \'%s\\0%s\\0\' "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"\n')


class GrubParseError(ValueError):
    pass


class _Refuse(Exception):
    def __init__(self, pos, msg):
        Exception.__init__(self, msg)
        self.pos = pos
        self.msg = msg


# ---------------------------------------------------------------------------- shell scanner
def _skip_quoted(text, i, n, quote):
    """Index after the closing ``quote`` of a quoted run starting at ``text[i]``; an unterminated run is
    refused at its opening quote."""
    start = i
    i += 1
    while i < n:
        c = text[i]
        if quote == '"' and c == '\\':
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    raise _Refuse(start, 'unterminated %s quote' % ('double' if quote == '"' else 'single'))


def _skip_balanced(text, i, n, opening, closing):
    """Index after the ``closing`` that matches the ``opening`` at ``text[i - 1]``."""
    depth = 1
    while i < n:
        c = text[i]
        if c == '\\':
            i += 2
            continue
        if c in '"\'':
            i = _skip_quoted(text, i, n, c)
            continue
        if c == '`':
            end = text.find('`', i + 1)
            i = n if end < 0 else end + 1
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _Refuse(i, 'unterminated %s%s' % (opening, closing))


def _read_expansion(text, i, n, exps):
    """Read ``$...`` or a backquote run at ``text[i]``; record (kind, name, raw, pos) in ``exps``.

    kind: 'ref' ($NAME, ${NAME}), 'param' (${NAME<op>...}), 'special' ($1, $@, ...),
    'cmdsub' ($(...), `...`, $((...))), 'literal' (a lone $). Returns (raw text, next index).
    """
    start = i
    if text[i] == '`':
        j = i + 1
        while j < n and text[j] != '`':
            j += 2 if text[j] == '\\' else 1
        if j >= n:
            raise _Refuse(i, 'unterminated ` (command substitution)')
        exps.append(('cmdsub', None, text[i:j + 1], i))
        return text[i:j + 1], j + 1
    nxt = text[i + 1] if i + 1 < n else ''
    if nxt == '(':
        end = _skip_balanced(text, i + 2, n, '(', ')')
        exps.append(('cmdsub', None, text[start:end], start))
        return text[start:end], end
    if nxt == '{':
        end = _skip_balanced(text, i + 2, n, '{', '}')
        inner = text[i + 2:end - 1]
        if _NAME_RE.fullmatch(inner):
            exps.append(('ref', inner, text[start:end], start))
        elif inner[:1] in _SPECIAL and len(inner) == 1:
            exps.append(('special', inner, text[start:end], start))
        else:
            m = _NAME_RE.match(inner)
            exps.append(('param', m.group(0) if m else None, text[start:end], start))
        return text[start:end], end
    m = _NAME_RE.match(text, i + 1)
    if m:
        exps.append(('ref', m.group(0), text[start:m.end()], start))
        return text[start:m.end()], m.end()
    if nxt and nxt in _SPECIAL:
        exps.append(('special', nxt, text[start:i + 2], start))
        return text[start:i + 2], i + 2
    exps.append(('literal', None, '$', start))
    return '$', i + 1


def _read_word(text, i, n):
    """One shell word at ``text[i]``.

    Returns (word, next index). The word has its raw span (``start``/``end``/``plain``), its
    ``value`` (quotes removed, expansions kept as written), ``parts`` (the same in order:
    ('lit', char) or ('exp', (kind, name, raw, pos))), the quote ``style`` of its first
    character, its expansions ``exps`` and whether it has a literal ``$``.
    """
    start = i
    parts = []
    exps = []
    style = None

    def lit(chars):
        parts.extend(('lit', c) for c in chars)

    def exp(i):
        raw, j = _read_expansion(text, i, n, exps)
        parts.append(('exp', exps[-1]) if exps[-1][0] != 'literal' else ('lit', '$'))
        return j

    while i < n:
        ch = text[i]
        if ch in ' \t\n;&|()<>':
            break
        if style is None:
            style = ch if ch in '"\'' else ''
        if ch == '\\':
            if i + 1 < n and text[i + 1] == '\n':
                i += 2
                continue
            if i + 1 < n:
                lit(text[i + 1])
            i += 2
        elif ch == "'":
            end = _skip_quoted(text, i, n, "'")
            lit(text[i + 1:end - 1])
            i = end
        elif ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise _Refuse(start, 'unterminated double quote')
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == '\\' and i + 1 < n and text[i + 1] in '"\\`$\n':
                    if text[i + 1] != '\n':
                        lit(text[i + 1])
                    i += 2
                    continue
                if c in '$`':
                    i = exp(i)
                    continue
                lit(c)
                i += 1
        elif ch in '$`':
            i = exp(i)
        else:
            lit(ch)
            i += 1
    value = ''.join(x if kind == 'lit' else x[2] for kind, x in parts)
    literal_dollar = any(kind == 'lit' and x == '$' for kind, x in parts)
    return {'start': start, 'end': i, 'value': value, 'parts': parts, 'style': style or '', 'exps': exps,
            'literal_dollar': literal_dollar, 'plain': text[start:i]}, i


def _scan(text):
    """Split a shell file into simple commands.

    Returns (commands, skipped spans). A command: ``words`` (see _read_word), ``stack`` (the
    compound commands around it, innermost last), ``left``/``right`` (the operators around it:
    'start', 'newline', ';', '&', '&&', '||', '|', ';;', ')', 'end'), ``start``/``end``,
    ``redirect`` (it has a redirection). Skipped spans are comments and here-document bodies.
    """
    n = len(text)
    commands = []
    skipped = []
    stack = []
    heredocs = []
    state = {'cur': None, 'left': 'start', 'for_header': False, 'case_header': False, 'funcname': False}

    def current(pos):
        if state['cur'] is None:
            state['cur'] = {'words': [], 'stack': tuple(stack), 'left': state['left'], 'start': pos,
                            'end': pos, 'redirect': False}
        return state['cur']

    def finish(op, pos):
        cur = state['cur']
        if cur is not None:
            cur['right'] = op
            cur['end'] = pos
            commands.append(cur)
        state['cur'] = None
        state['left'] = op

    i = 0
    while i < n:
        ch = text[i]
        if ch in ' \t\r':
            i += 1
            continue
        if ch == '\\' and i + 1 < n and text[i + 1] == '\n':
            i += 2
            continue
        if ch == '#':
            end = text.find('\n', i)
            end = n if end < 0 else end
            skipped.append((i, end))
            i = end
            continue
        if ch == '\n':
            finish('newline', i)
            state['for_header'] = state['case_header'] = False
            i += 1
            for delim, strip in heredocs:
                body_start = i
                while i < n:
                    end = text.find('\n', i)
                    end = n if end < 0 else end
                    line = text[i:end]
                    i = min(end + 1, n)
                    if (line.lstrip('\t') if strip else line) == delim:
                        break
                skipped.append((body_start, i))
            heredocs = []
            continue
        if ch in ';&|()':
            two = text[i:i + 2]
            op = two if two in ('&&', '||', ';;') else ch
            i += len(op)
            if op == '(':
                cur = state['cur']
                if stack and stack[-1] == 'case':
                    continue
                if cur is not None and cur['words']:
                    state['funcname'] = True       # name ( ) compound-command
                    continue
                finish('(', i)
                stack.append('subshell')
                continue
            if op == ')':
                if state['funcname']:
                    state['funcname'] = False
                    finish(')', i)
                    continue
                if stack and stack[-1] == 'case':
                    finish(')', i)                 # end of a case pattern
                    continue
                finish(')', i)
                if stack and stack[-1] == 'subshell':
                    stack.pop()
                continue
            finish(op, i)
            if op in (';', ';;'):
                state['for_header'] = state['case_header'] = False
            continue
        if ch in '<>':
            j = i
            while j < n and text[j] in '<>&|-':
                j += 1
            op = text[i:j]
            cur = current(i)
            cur['redirect'] = True
            i = j
            while i < n and text[i] in ' \t':
                i += 1
            if i < n and text[i] not in '\n;&|()':
                word, i = _read_word(text, i, n)
                if op.startswith('<<') and op != '<<<':
                    heredocs.append((word['value'], op.startswith('<<-')))
            continue
        word, i = _read_word(text, i, n)
        cur = state['cur']
        command_position = cur is None or not cur['words']
        if state['for_header'] or state['case_header']:
            current(word['start'])['words'].append(word)
            if state['case_header'] and word['plain'] == 'in':
                finish('in', i)
                state['case_header'] = False
            continue
        if command_position and word['plain'] in _OPEN:
            finish(word['plain'], word['start'])
            stack.append(_OPEN[word['plain']])
            if word['plain'] == 'for':
                state['for_header'] = True
            elif word['plain'] == 'case':
                state['case_header'] = True
            continue
        if command_position and word['plain'] in _CLOSE:
            finish(word['plain'], word['start'])
            if stack and stack[-1] in _CLOSE[word['plain']]:
                stack.pop()
            continue
        if command_position and word['plain'] in ('then', 'else', 'elif', 'do', '!', 'in'):
            finish(word['plain'], word['start'])
            continue
        if command_position and word['plain'] == 'function':
            state['funcname'] = True
            continue
        if state['funcname'] and cur is None:
            # 'function NAME {': the name is not a command
            state['funcname'] = False
            finish('function', i)
            continue
        current(word['start'])['words'].append(word)
    finish('end', n)
    return commands, skipped


# ---------------------------------------------------------------------------- parsing
def _self_forms(var):
    """How a value may refer to the variable's own earlier value: $V, ${V}, and tuned's
    ``${V:+$V }`` (the earlier value and a space, or nothing when it is empty)."""
    return ('$' + var, '${%s}' % var, '${%s:+$%s }' % (var, var), '${%s:+${%s} }' % (var, var))


def _is_self_ref(word, var):
    return word in _self_forms(var)


def _value_words(var, parts):
    """Split a value into words as grub-mkconfig's output is split: at whitespace of the literal
    text, expansions kept whole. Returns the words (self references as written, literal words as
    their text) or raises _Refuse."""
    words = []
    cur = []

    def flush():
        if cur:
            if any(kind == 'exp' for kind, dummy in cur):
                if len(cur) != 1:
                    raw = ''.join(x if kind == 'lit' else x[2] for kind, x in cur)
                    raise _Refuse(cur[0][1][3] if cur[0][0] == 'exp' else [x for k, x in cur if k == 'exp'][0][3],
                                  '%s: the reference in %r is not a word of its own' % (var, raw))
                words.append(cur[0][1][2])
            else:
                word = ''.join(x for dummy, x in cur)
                if _is_self_ref(word, var) or '`' in word:
                    raise _Refuse(0, '%s has the literal text %r' % (var, word))
                words.append(word)
            del cur[:]

    for kind, x in parts:
        if kind == 'lit' and x.isspace():
            flush()
            continue
        cur.append((kind, x))
        if kind == 'exp' and x[2].endswith(' }'):
            flush()                 # ${V:+$V }: the space inside ends the word
    flush()
    return words


def _check_value(var, value_exps):
    """The first expansion in a value of ``var`` that the module cannot follow (a _Refuse), or None."""
    for kind, name, raw, pos in value_exps:
        if kind == 'cmdsub':
            return _Refuse(pos, '%s uses command substitution %s: its output is only known when grub-mkconfig '
                                'runs' % (var, raw))
        if kind == 'param' and not _is_self_ref(raw, var):
            return _Refuse(pos, '%s uses the parameter expansion %s' % (var, raw))
        if kind == 'special':
            return _Refuse(pos, '%s uses the special parameter %s' % (var, raw))
        if kind == 'ref' and name != var:
            return _Refuse(pos, '%s refers to $%s: the module follows only a reference to the variable\'s own '
                                'earlier value ($%s); write the arguments into %s itself' % (var, name, var, var))
    return None


def _assignment_of(word):
    m = _ASSIGN_WORD_RE.match(word['plain'])
    return m.group(1) if m else None


def find_assignments(text):
    """All assignments of the two variables in one file, in order; raises _Refuse.

    Each is a dict: var, value (unquoted), words (value split on whitespace), start/end (offsets
    of the value text), style (quote used), line (1-based), pos (offset of the name).
    """
    commands, skipped = _scan(text)
    found = []
    accounted = set()
    accepted = []
    problems = []
    for cmd in commands:
        words = cmd['words']
        prefix = []
        for w in words:
            if _assignment_of(w) is None:
                break
            prefix.append(w)
        rest = words[len(prefix):]
        exported = False
        if not prefix and rest and rest[0]['plain'] == 'export':
            exported = True
            for w in rest[1:]:
                if w['plain'] in VARIABLES:
                    accounted.add(w['start'])
            prefix = [w for w in rest[1:] if _assignment_of(w) is not None]
            rest = []
        for w in prefix:
            var = _assignment_of(w)
            if var not in VARIABLES:
                continue
            accounted.add(w['start'])
            why = None
            if cmd['stack']:
                why = _INSIDE[cmd['stack'][-1]]
            elif cmd['left'] in ('&&', '||', '|'):
                why = 'after %s' % cmd['left']
            elif cmd['right'] in ('&', '|'):
                why = 'before %s' % cmd['right']
            elif rest or cmd['redirect']:
                why = ('as a prefix of the command %r: it sets the variable for one command only'
                       % rest[0]['plain'] if rest else 'with a redirection')
            if why:
                problems.append(_Refuse(w['start'], '%s is assigned %s: it may or may not take effect when '
                                                    'grub-mkconfig runs' % (var, why)))
                continue
            bad = _check_value(var, w['exps'])
            try:
                if bad:
                    raise bad
                words = _value_words(var, w['parts'][len(var) + 1:])
            except _Refuse as exc:
                exc.pos = exc.pos or w['start']
                problems.append(exc)
                continue
            accepted.append((w['start'], w['end']))
            start = w['start'] + len(var) + 1
            value = w['value'][len(var) + 1:]
            found.append({'var': var, 'value': value, 'words': words, 'start': start, 'end': w['end'],
                          'style': _value_style(text, start, w['end']), 'pos': w['start'], 'exported': exported})
    # every other occurrence of the names must be a plain read ($NAME, ${NAME}) or export NAME
    for m in _MENTION_RE.finditer(text):
        pos = m.start()
        if pos in accounted or any(a <= pos < b for a, b in skipped + accepted):
            continue
        before = text[max(0, pos - 2):pos]
        if before.endswith('$'):
            continue
        if before == '${':
            if text[m.end():m.end() + 1] == '}':
                continue
            end = text.find('}', m.end())
            problems.append(_Refuse(pos, 'the parameter expansion %s may set %s' % (
                text[pos - 2:end + 1 if end >= 0 else m.end()], m.group(0))))
            continue
        owner = [c for c in commands if c['words'] and c['start'] <= pos <= c['end']]
        name = None
        if owner:
            names = [w['plain'] for w in owner[-1]['words'] if _assignment_of(w) is None]
            name = names[0] if names else None
        problems.append(_Refuse(pos, '%s is used by %s: the module cannot tell what it sets' % (
            m.group(0), "the command '%s'" % name if name else 'a construct it does not read')))
    if problems:
        raise min(problems, key=lambda p: p.pos)
    return found


def _value_style(text, start, end):
    ch = text[start:start + 1]
    return ch if ch in '"\'' and start < end else ''


def _line_of(text, pos):
    return text.count('\n', 0, pos) + 1


def _parse(files):
    parsed = []
    for path, text in files:
        try:
            assigns = find_assignments(text)
        except _Refuse as exc:
            raise GrubParseError('%s line %d: %s; refusing to edit or judge it (edit the files by hand, or '
                                 'simplify them: see docs/iommu.md)' % (path, _line_of(text, exc.pos), exc.msg))
        for a in assigns:
            a['line'] = _line_of(text, a['pos'])
        parsed.append((path, text, assigns))
    return parsed


def quote_value(value, style):
    """Render a literal value for the shell, keeping single quotes when they were used and fit."""
    if style == "'" and "'" not in value:
        return "'%s'" % value
    return '"%s"' % _escape(value)


def _escape(text):
    return text.replace('\\', '\\\\').replace('"', '\\"').replace('`', '\\`').replace('$', '\\$')


def render_value(words, var, style):
    """Render the words of a value of ``var``: references as they were written, every other word
    literal (a ``$`` in it escaped, so a GRUB variable such as $tuned_params stays one)."""
    if not any(_is_self_ref(w, var) for w in words):
        return quote_value(' '.join(words), style)
    return '"%s"' % ' '.join(w if _is_self_ref(w, var) else _escape(w) for w in words)


# ---------------------------------------------------------------------------- values
def _traced(parsed, overrides=None):
    """{var: [(word, origin)]} after sourcing every file; origin = (file, assignment, index)."""
    overrides = overrides or {}
    env = {var: [] for var in VARIABLES}
    for fi, (dummy, dummy2, assigns) in enumerate(parsed):
        for ai, a in enumerate(assigns):
            new = []
            for idx, w in enumerate(overrides.get((fi, ai), a['words'])):
                if _is_self_ref(w, a['var']):
                    new.extend(env[a['var']])
                else:
                    new.append((w, (fi, ai, idx)))
            env[a['var']] = new
    return env


def _words(traced):
    return {var: [w for w, dummy in traced[var]] for var in VARIABLES}


def _kernel_part(pairs):
    out = []
    for w, origin in pairs:
        if w == '--':
            break
        out.append((w, origin))
    return out


def effective(files):
    """Simulate grub-mkconfig's sourcing: {var: words} after all files, references expanded.

    ``files`` is an ordered list of (path, text); raises GrubParseError like ``plan``.
    """
    return _words(_traced(_parse(files)))


def kernel_words(env):
    """The words a normal boot entry gets: GRUB_CMDLINE_LINUX then _DEFAULT, references dropped."""
    return [w for w in env['GRUB_CMDLINE_LINUX'] + env['GRUB_CMDLINE_LINUX_DEFAULT'] if not is_opaque(w)]


def plan(files, present_specs, absent_specs):
    """Compute the edit of a set of GRUB default files.

    Returns a dict: ``texts`` (ordered list of (path, new_text)), ``changed_paths``,
    ``before``/``after`` (kernel words of a normal entry), ``before_env``/``after_env``.
    Raises GrubParseError (naming the file and line) when a file has something the module
    cannot read exactly (see the module docstring).
    """
    parsed = _parse(files)
    traced = _traced(parsed)
    normal = traced['GRUB_CMDLINE_LINUX'] + traced['GRUB_CMDLINE_LINUX_DEFAULT']
    reaching = set(o for dummy, o in _kernel_part(normal) + _kernel_part(traced['GRUB_CMDLINE_LINUX']))
    live = set(o for dummy, o in normal)

    new_words = {}
    for fi, (dummy, dummy2, assigns) in enumerate(parsed):
        for ai, a in enumerate(assigns):
            cut = a['words'].index('--') if '--' in a['words'] else len(a['words'])
            kept = []
            for idx, w in enumerate(a['words']):
                origin = (fi, ai, idx)
                kernel = origin in reaching if origin in live else idx < cut
                if kernel and not _is_self_ref(w, a['var']) and must_go(w, present_specs, absent_specs):
                    continue
                kept.append(w)
            if kept != a['words']:
                new_words[(fi, ai)] = kept

    edited = _traced(parsed, new_words)['GRUB_CMDLINE_LINUX']
    missing = missing_specs([w for w, dummy in edited if not is_opaque(w)], present_specs)
    appended_line = None
    if missing:
        add = [spec_word(s) for s in missing]
        dashes = [origin for w, origin in edited if w == '--']
        targets = [(fi, ai) for fi, (dummy, dummy2, assigns) in enumerate(parsed)
                   for ai, a in enumerate(assigns) if a['var'] == 'GRUB_CMDLINE_LINUX']
        if dashes:
            fi, ai, idx = dashes[0]
            base = new_words.get((fi, ai), parsed[fi][2][ai]['words'])
            new_words[(fi, ai)] = base[:idx] + add + base[idx:]
        elif targets:
            fi, ai = targets[-1]
            new_words[(fi, ai)] = new_words.get((fi, ai), parsed[fi][2][ai]['words']) + add
        else:
            appended_line = add

    texts = []
    changed = []
    for fi, (path, text, assigns) in enumerate(parsed):
        pieces = []
        last = 0
        for ai, a in enumerate(assigns):
            if (fi, ai) not in new_words:
                continue
            pieces.append(text[last:a['start']])
            pieces.append(render_value(new_words[(fi, ai)], a['var'], a['style']))
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
    before_env = _words(traced)
    after_env = effective(texts)
    return {'texts': texts, 'changed_paths': changed, 'before': kernel_words(before_env),
            'after': kernel_words(after_env), 'before_env': before_env, 'after_env': after_env}


def env_satisfies(env, present_specs, absent_specs):
    """The values give every entry the wanted arguments and no forbidden one (``--`` aware)."""
    linux = [w for w in env['GRUB_CMDLINE_LINUX'] if not is_opaque(w)]
    normal = kernel_words(env)
    return (not missing_specs(linux, present_specs)
            and remove_words(normal, present_specs, absent_specs) == normal
            and remove_words(linux, present_specs, absent_specs) == linux)


def verify(files, present_specs, absent_specs):
    """True when the files already satisfy the request (used after editing as a self-check)."""
    return env_satisfies(effective(files), present_specs, absent_specs)


# ---------------------------------------------------------------------------- the shell's reading
def shell_argv(sh, paths):
    """argv that sources ``paths`` in order like grub-mkconfig (``set -e``, output to stderr)
    and prints both values NUL-terminated; read it with ``parse_shell_output``."""
    return [sh, '-c', SHELL_SCRIPT, 'sh'] + list(paths)


def parse_shell_output(out):
    """{var: words} from the output of ``shell_argv``, or None when it is not that output."""
    fields = (out or '').split('\0')
    if len(fields) != 3 or fields[2] != '':
        return None
    return {VARIABLES[0]: fields[0].split(), VARIABLES[1]: fields[1].split()}
