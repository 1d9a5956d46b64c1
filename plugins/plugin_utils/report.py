# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure renderers for the audit reports (JSON, Markdown, JUnit XML) and the console summary.

The report document is::

    {"generated_at": ISO-8601 UTC, "hosts": {HOST: {"summary": {STATUS: COUNT},
                                                     "controls": [{id, title, area, severity,
                                                                   status, evidence}, ...]}}}

A control with a waiver (``hvsec_waivers``) also has ``waiver``: ``{reason, approved_by, ticket,
expires, state}`` with state ``active`` (the control is ``waived``), ``expired`` (it is judged as
if it had none) or ``unneeded`` (it passes or does not apply without it).

The audit adds ``slice`` (the label of a sliced run's slice, or null), ``not_audited`` ({HOST:
reason} for the hosts it could not audit: unreachable, facts failed, settings refused; every control
of such a host is ``error``) and, in a report merged from slices, ``merged_from`` (each slice's label,
time and file).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS, STATUSES

REPORT_FIELDS = ('id', 'title', 'area', 'severity', 'status', 'evidence')
WAIVER_FIELDS = ('reason', 'approved_by', 'ticket', 'expires', 'state')


def summarize(controls):
    counts = dict((s, 0) for s in STATUSES)
    for c in controls:
        counts[c['status']] = counts.get(c['status'], 0) + 1
    return counts


def unreachable_controls(reason, prefix='facts not gathered'):
    """Every catalog control as ``error`` for a host whose facts could not be gathered (or, with
    another ``prefix``, that could not be evaluated)."""
    return [dict(id=c['id'], title=c['title'], area=c['area'], severity=c['severity'],
                 status='error', evidence='%s: %s' % (prefix, reason)) for c in CONTROLS]


def build_document(host_results, generated_at):
    """host_results: {host: list of result dicts}. Returns the report document."""
    hosts = {}
    for host in sorted(host_results):
        controls = []
        for r in host_results[host]:
            control = dict((k, r.get(k)) for k in REPORT_FIELDS)
            if isinstance(r.get('waiver'), dict):
                control['waiver'] = dict((k, r['waiver'].get(k)) for k in WAIVER_FIELDS)
            controls.append(control)
        hosts[host] = {'summary': summarize(controls), 'controls': controls}
    return {'generated_at': generated_at, 'hosts': hosts}


def render_json(document):
    return json.dumps(document, indent=2, sort_keys=False) + '\n'


def _md_cell(text):
    return str(text).replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def waiver_rows(document):
    """Every waiver of the document, as ``(host, control, waiver)`` in host and catalog order."""
    rows = []
    for host, data in document['hosts'].items():
        for c in data['controls']:
            if isinstance(c.get('waiver'), dict):
                rows.append((host, c, c['waiver']))
    return rows


def _markdown_waivers(document):
    rows = waiver_rows(document)
    if not rows:
        return []
    lines = ['## Waivers', '',
             'From `hvsec_waivers`. Active: the control is `waived`. EXPIRED: past its expiry date, the '
             'control is judged as without it. Unneeded: the control passes or does not apply without it.', '']
    lines.append('| Host | Control | Waiver | Status | Reason | Approved by | Ticket | Expires |')
    lines.append('|------|---------|--------|--------|--------|-------------|--------|---------|')
    for host, c, w in rows:
        state = '**EXPIRED**' if w.get('state') == 'expired' else w.get('state')
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            _md_cell(host), c['id'], state, c['status'], _md_cell(w.get('reason')),
            _md_cell(w.get('approved_by') or '-'), _md_cell(w.get('ticket') or '-'), w.get('expires') or 'never'))
    lines.append('')
    return lines


def coverage_line(document):
    """One sentence on what the run covered: its slice, and the hosts that could not be audited
    (``not_audited``: {host: reason}), or '' when every host was audited in an unsliced run."""
    parts = []
    if document.get('slice') is not None:
        parts.append('Slice %s of a sliced run (its hosts only).' % document['slice'])
    skipped = document.get('not_audited') or {}
    total = len(document.get('hosts') or {})
    if skipped and len(skipped) >= total:
        parts.append('NO HOST WAS AUDITED: none of the %d host(s) could be audited (%s).' % (
            total, '; '.join('%s: %s' % (h, skipped[h]) for h in sorted(skipped))))
    elif skipped:
        parts.append('%d of %d host(s) could not be audited: %s.' % (
            len(skipped), total, '; '.join('%s: %s' % (h, skipped[h]) for h in sorted(skipped))))
    return ' '.join(parts)


def render_markdown(document):
    lines = ['# hvsec.hypervisor audit report', '',
             'Generated at %s. Controls and their references: docs/controls.md.' % document['generated_at'], '']
    coverage = coverage_line(document)
    if coverage:
        lines.extend(['**%s**' % _md_cell(coverage), ''])
    for host, data in document['hosts'].items():
        summary = data['summary']
        lines.append('## %s' % host)
        lines.append('')
        lines.append(', '.join('%s: %d' % (s, summary.get(s, 0)) for s in STATUSES))
        lines.append('')
        lines.append('| ID | Title | Area | Severity | Status | Evidence |')
        lines.append('|----|-------|------|----------|--------|----------|')
        for c in data['controls']:
            status = c['status']
            shown = '**%s**' % status.upper() if status in ('fail', 'error') else status
            lines.append('| %s | %s | %s | %s | %s | %s |' % (
                c['id'], _md_cell(c['title']), c['area'], c['severity'], shown, _md_cell(c['evidence'])))
        lines.append('')
    lines.extend(_markdown_waivers(document))
    return '\n'.join(lines)


def render_junit(document):
    """JUnit XML: one testsuite per host, one testcase per control.

    fail -> <failure>, error -> <error>, not_applicable and waived -> <skipped>.
    """
    total = dict((k, 0) for k in ('tests', 'failures', 'errors', 'skipped'))
    suites = []
    for host, data in document['hosts'].items():
        s = data['summary']
        counts = {'tests': len(data['controls']), 'failures': s.get('fail', 0), 'errors': s.get('error', 0),
                  'skipped': s.get('not_applicable', 0) + s.get('waived', 0)}
        for k in total:
            total[k] += counts[k]
        cases = []
        for c in data['controls']:
            head = '    <testcase classname=%s name=%s>' % (
                quoteattr('hvsec.%s.%s' % (host, c['area'])), quoteattr('%s %s' % (c['id'], c['title'])))
            msg = quoteattr('%s (%s): %s' % (c['status'], c['severity'], c['evidence']))
            if c['status'] == 'fail':
                body = '      <failure type="fail" message=%s>%s</failure>' % (msg, escape(c['evidence']))
            elif c['status'] == 'error':
                body = '      <error type="error" message=%s>%s</error>' % (msg, escape(c['evidence']))
            elif c['status'] in ('not_applicable', 'waived'):
                body = '      <skipped message=%s/>' % msg
            else:
                body = '      <system-out>%s</system-out>' % escape(c['evidence'])
            cases.append('\n'.join([head, body, '    </testcase>']))
        suites.append('  <testsuite name=%s tests="%d" failures="%d" errors="%d" skipped="%d" timestamp=%s>\n%s\n  </testsuite>' % (
            quoteattr('hvsec.hypervisor audit: %s' % host), counts['tests'], counts['failures'], counts['errors'],
            counts['skipped'], quoteattr(document['generated_at']), '\n'.join(cases)))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<testsuites name="hvsec.hypervisor audit" tests="%d" failures="%d" errors="%d" skipped="%d">\n%s\n</testsuites>\n'
            % (total['tests'], total['failures'], total['errors'], total['skipped'], '\n'.join(suites)))


def _ids(ids, limit):
    if len(ids) > limit:
        return ' '.join(ids[:limit]) + ' (+%d more)' % (len(ids) - limit)
    return ' '.join(ids)


def summary_line(host, controls, gate=None, limit=12):
    """One console line: counts per status and the failing/error IDs (at most ``limit`` each)."""
    s = summarize(controls)
    parts = ['%s=%d' % (k, s[k]) for k in STATUSES]
    line = '%s: %s' % (host, ' '.join(parts))
    failed = [c['id'] for c in controls if c['status'] == 'fail']
    errors = [c for c in controls if c['status'] == 'error']
    if failed:
        line += ' | fail: %s' % _ids(failed, limit)
    if errors and len(errors) == len(controls) and len(set(c['evidence'] for c in errors)) == 1:
        line += ' | %s' % errors[0]['evidence']
    elif errors:
        line += ' | error: %s' % _ids([c['id'] for c in errors], limit)
    if gate:
        line += ' | GATE: %s' % _ids(gate, limit)
    return line


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename,
    so a reader never sees a half-written report (mode 0644)."""
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
