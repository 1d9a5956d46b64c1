# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the evaluators of every area share: fact accessors, value readers, the result shape.

An evaluator takes ``(facts, settings, control)`` (``control`` is its catalog record, whose
``params`` and ``kernel_args`` hold the values its rule is defined by) and returns
``(status, evidence)`` with status ``pass``, ``fail`` or ``not_applicable``. When a fact it
needs is ``null`` (unreadable) it raises :class:`Unknown`, which the engine turns into status
``error`` with an evidence string built from the facts' ``notes``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def evaluator_table(*functions):
    """{name: function} of an area module's evaluators; the catalog records name them."""
    return dict((func.__name__, func) for func in functions)


class Unknown(Exception):
    """A fact an evaluator needs is null (unreadable); ``path`` is its dotted name."""

    def __init__(self, path, hint=None):
        super(Unknown, self).__init__(path)
        self.path = path
        self.hint = hint


_MISSING = object()


def get_fact(facts, path, default=_MISSING):
    """Walk a dotted path; raise Unknown when a step is null or absent (unless default given)."""
    node = facts
    for part in path.split('.'):
        if isinstance(node, dict) and node.get(part) is not None:
            node = node[part]
        else:
            if default is not _MISSING:
                return default
            raise Unknown(path)
    return node


def opt_fact(facts, path):
    """Like get_fact but return None for null/absent."""
    return get_fact(facts, path, None)


def note_for(facts, path):
    """Return the note that best explains why ``path`` (dotted) is unknown, or None.

    Notes name the probe (the top-level section, e.g. ``kvm``) and the file or tool. A note of
    the same probe whose path mentions the leaf name wins; else the first note of the probe.
    """
    notes = [n for n in (facts or {}).get('notes') or [] if isinstance(n, dict)]
    parts = [p.split('[')[0] for p in path.split('.')]
    prefixes = ['.'.join(parts[:i]) for i in range(len(parts), 0, -1)]
    leaf = parts[-1].replace('_', '')
    for prefix in prefixes:
        same = [n for n in notes if n.get('probe') == prefix]
        for note in same:
            if leaf and leaf in str(note.get('path') or '').replace('_', '').replace('-', ''):
                return note
        if same:
            return same[0]
    return None


def note_text(note):
    """A note as evidence text, ``path: reason``; empty for no note."""
    if not note:
        return ''
    where = note.get('path') or note.get('probe') or '?'
    return '%s: %s' % (where, note.get('reason') or 'unreadable')


_ABSENT_REASONS = ('not found', 'not installed')


def unreadable(facts, path):
    """True when a note says ``path`` exists but could not be read (not merely absent)."""
    note = note_for(facts, path)
    return bool(note) and str(note.get('reason') or '').lower() not in _ABSENT_REASONS


def fact_if_present(facts, path):
    """The fact at ``path``; None when it is absent; raise Unknown when a note says it exists but
    could not be read."""
    value = opt_fact(facts, path)
    if value is None and unreadable(facts, path):
        raise Unknown(path)
    return value


def truthy(value):
    """Interpret sysfs/config values: Y/y/1/on/true/yes -> True."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    return str(value).strip().lower() in ('y', '1', 'on', 'true', 'yes')


def to_int(value, default=None):
    """An integer from a fact or setting (decimal, 0x hex, 0o octal, a bool), ``default`` for none or no number."""
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        return default


def fmt_list(items, limit=6):
    """Items joined with commas, the first ``limit`` of them and the count of the others."""
    items = [str(i) for i in items]
    if len(items) > limit:
        return ', '.join(items[:limit]) + ' (+%d more)' % (len(items) - limit)
    return ', '.join(items)


def outcome(failures, ok_msg, fail_prefix):
    """(fail, ``fail_prefix: failures``) when there are failures, else (pass, ``ok_msg``)."""
    if failures:
        return ('fail', '%s: %s' % (fail_prefix, fmt_list(failures)))
    return ('pass', ok_msg)


def libvirt_installed(facts):
    """True when the facts say libvirt is installed; Unknown when they cannot tell."""
    installed = get_fact(facts, 'libvirt.installed')
    return truthy(installed)


def na_without_libvirt(facts):
    """The not_applicable result of a libvirt control on a host without libvirt, else None."""
    if not libvirt_installed(facts):
        return ('not_applicable', 'libvirt is not installed')
    return None


def libvirt_domains(facts):
    """The libvirt domains of the facts; Unknown when they could not be read."""
    return get_fact(facts, 'libvirt.domains')
