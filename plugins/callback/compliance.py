# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-control compliance verdicts from a (check-mode) run of the hardening roles."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: compliance
type: aggregate
short_description: Per-control compliance report from a check-mode run of the hardening roles
description:
  - Maps every task result to the control IDs in the task's tags (C(HVS-AREA-NN)) and records,
    per host and control, whether the control's remediation would change something
    (C(fail), non-compliant), changed nothing (C(pass)), was skipped on every task
    (C(not_applicable)) or failed (C(error)).
  - Run C(playbooks/harden.yml --check --diff) with this callback enabled to get the same
    per-control verdicts as C(playbooks/audit.yml) without a separate audit.
  - Controls that no task of the run carries in its tags are listed with status
    C(not_applicable), C(judged=false) and the reason (audited only, or no task of this run).
  - A task tagged with several control IDs judges all of them alike unless its result names
    the controls it would change in C(hvsec_changed_controls) (a list of IDs).
  - At the end of the playbook writes C(compliance.json), C(compliance.md),
    C(compliance.junit.xml) and C(compliance.html) in O(report_dir), in the same formats as the
    audit reports, marked with C(source) (C(check-mode harden), or C(harden) when the run was
    not in check mode, where C(fail) means that the control was non-compliant and has been changed).
version_added: 1.0.0
author:
  - hvsec.hypervisor contributors (@hvsec)
requirements:
  - enable with C(callbacks_enabled = hvsec.hypervisor.compliance) in ansible.cfg or
    C(ANSIBLE_CALLBACKS_ENABLED=hvsec.hypervisor.compliance)
options:
  report_dir:
    description: Controller directory for the reports; created when missing.
    type: path
    default: reports
    env:
      - name: HVSEC_COMPLIANCE_REPORT_DIR
    ini:
      - section: callback_hvsec_compliance
        key: report_dir
  basename:
    description: File name of the reports without extension.
    type: str
    default: compliance
    env:
      - name: HVSEC_COMPLIANCE_BASENAME
    ini:
      - section: callback_hvsec_compliance
        key: basename
'''

import datetime
import os
import re

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import (
    atomic_write,
    render_json, render_junit, render_markdown, summarize,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report_html import render_html

CONTROL_TAG = re.compile(r'HVS-[A-Z]+-[0-9]+')
# A task result may name the controls it would really change (the others of its tags then pass).
CHANGED_CONTROLS_KEY = 'hvsec_changed_controls'
OUTCOMES = ('failed', 'changed', 'ok', 'skipped')


def control_ids(tags):
    """The control IDs among a task's tags, in order, without duplicates."""
    out = []
    for tag in tags or []:
        if isinstance(tag, str) and CONTROL_TAG.fullmatch(tag) and tag not in out:
            out.append(tag)
    return out


def outcome_of(event, result):
    """One of failed|changed|ok|skipped for a runner event and its result dict."""
    if event in ('failed', 'unreachable'):
        return 'failed'
    if event == 'skipped':
        return 'skipped'
    return 'changed' if result.get('changed') else 'ok'


def verdict(records):
    """(status, evidence) of one control on one host from its task records.

    records: list of (outcome, task name, message). Any failed -> error, else any changed ->
    fail, else any ok -> pass, else (all skipped) -> not_applicable.
    """
    by = dict((o, [r for r in records if r[0] == o]) for o in OUTCOMES)
    if by['failed']:
        return 'error', 'task failed: ' + '; '.join(
            '%s%s' % (rec[1], ': %s' % rec[2] if rec[2] else '') for rec in by['failed'])
    if by['changed']:
        return 'fail', 'remediation would change: ' + '; '.join(rec[1] for rec in by['changed'])
    if by['ok']:
        return 'pass', '%d task(s) would change nothing: %s' % (
            len(by['ok']), '; '.join(rec[1] for rec in by['ok']))
    return 'not_applicable', 'all %d task(s) skipped: %s' % (
        len(records), '; '.join(rec[1] for rec in records))


def build_compliance_document(records, hosts, generated_at, source, catalog=None):
    """records: {host: {control_id: [(outcome, task, msg), ...]}} -> report document.

    Every catalog control appears for every host; unknown control IDs found in tags are
    appended. Same shape as the audit document, plus ``source`` and, per control, ``judged``.
    """
    catalog = catalog if catalog is not None else CONTROLS
    by_id = dict((c['id'], c) for c in catalog)
    doc_hosts = {}
    for host in sorted(hosts):
        per = records.get(host, {})
        controls = []
        extra = [cid for cid in per if cid not in by_id]
        for c in list(catalog) + [{'id': cid, 'title': 'Unknown control (tag only)', 'area': 'unknown',
                                   'severity': 'low', 'variable': None} for cid in sorted(extra)]:
            entry = {'id': c['id'], 'title': c['title'], 'area': c['area'], 'severity': c['severity']}
            if c['id'] in per:
                status, evidence = verdict(per[c['id']])
                entry.update(status=status, evidence=evidence, judged=True, tasks=len(per[c['id']]))
            elif not c.get('variable'):
                entry.update(status='not_applicable', judged=False, tasks=0,
                             evidence='not judged by the roles: audited only (no remediation task exists)')
            else:
                entry.update(status='not_applicable', judged=False, tasks=0,
                             evidence='not judged by the roles: no task of this run carries the tag %s '
                                      '(role %s not run, or tags/limits excluded it)' % (c['id'], c['area']))
            controls.append(entry)
        doc_hosts[host] = {'summary': summarize(controls), 'controls': controls}
    return {'generated_at': generated_at, 'source': source, 'hosts': doc_hosts}


SEVERITIES = ('critical', 'high', 'medium', 'low')


def failing_lines(controls, indent='    '):
    """Console lines naming one host's failing (``fail``) and broken (``error``) controls with their
    titles, grouped by severity, most severe first; [] when there is none."""
    bad = [c for c in controls if c.get('status') in ('fail', 'error')]
    order = list(SEVERITIES) + sorted(set(c.get('severity') for c in bad) - set(SEVERITIES), key=str)
    lines = []
    for severity in order:
        group = [c for c in bad if c.get('severity') == severity]
        if not group:
            continue
        lines.append('%s%s (%d):' % (indent, severity, len(group)))
        for c in group:
            lines.append('%s  %-5s %s  %s' % (indent, 'FAIL' if c['status'] == 'fail' else 'ERROR', c['id'], c.get('title', '')))
    return lines


def console_summary(document, report_dir):
    """The end-of-run console text: one count line per host, then its failing controls by severity."""
    judged = sum(1 for h in document['hosts'].values() for c in h['controls'] if c.get('judged'))
    out = ['hvsec compliance (%s): %d host(s), %d judged control verdict(s), reports in %s' % (
        document['source'], len(document['hosts']), judged, report_dir)]
    for host, data in document['hosts'].items():
        bad = [c for c in data['controls'] if c['status'] in ('fail', 'error')]
        out.append('  %s: %s%s' % (host, ' '.join('%s=%d' % kv for kv in sorted(data['summary'].items())),
                                   ' | %d non-compliant control(s):' % len(bad) if bad else ' | compliant'))
        out.extend(failing_lines(bad))
    return '\n'.join(out)


def write_reports(document, report_dir, basename):
    """Write the four report files; return {kind: path}."""
    os.makedirs(report_dir, exist_ok=True)
    head = '_Source: %s (per-control verdicts of the hardening roles, not of the audit)._\n\n' % document['source']
    files = {}
    for kind, ext, text in (
            ('json', 'json', render_json(document)),
            ('markdown', 'md', render_markdown(document).replace('\n', '\n\n' + head, 1)
             .replace('# hvsec.hypervisor audit report', '# hvsec.hypervisor compliance report', 1)),
            ('junit', 'junit.xml', render_junit(document).replace(
                'hvsec.hypervisor audit', 'hvsec.hypervisor %s' % document['source'])),
            ('html', 'html', render_html(document, None, CONTROLS))):
        path = os.path.join(report_dir, '%s.%s' % (basename, ext))
        atomic_write(path, text)
        files[kind] = path
    return files


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'hvsec.hypervisor.compliance'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self.records = {}
        self.hosts = set()
        self.files = {}

    # ------------------------------------------------------------------ events
    def _record(self, event, result):
        task = result.task
        host = result.host.get_name()
        self.hosts.add(host)
        ids = control_ids(task.tags)
        if not ids:
            return
        data = result.result or {}
        outcome = outcome_of(event, data)
        if outcome == 'failed' and task.ignore_errors and event != 'unreachable':
            msg = 'ignored error: %s' % data.get('msg', '')
        else:
            msg = str(data.get('msg', '')) if outcome == 'failed' else ''
        named = data.get(CHANGED_CONTROLS_KEY)
        for cid in ids:
            this = outcome
            if outcome == 'changed' and isinstance(named, list) and cid not in named:
                this = 'ok'
            self.records.setdefault(host, {}).setdefault(cid, []).append((this, task.get_name(), msg))

    def v2_runner_on_ok(self, result):
        self._record('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record('failed', result)

    def v2_runner_on_skipped(self, result):
        self._record('skipped', result)

    def v2_runner_on_unreachable(self, result):
        host = result.host.get_name()
        self.hosts.add(host)
        msg = 'host unreachable: %s' % (result.result or {}).get('msg', '')
        for c in CONTROLS:
            if c.get('variable'):
                self.records.setdefault(host, {}).setdefault(c['id'], []).append(('failed', result.task.get_name(), msg))

    def v2_playbook_on_stats(self, stats):
        self.hosts.update(stats.processed.keys())
        if not self.hosts:
            return
        check = bool(context.CLIARGS.get('check', False))
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z')
        document = build_compliance_document(self.records, self.hosts, now,
                                             'check-mode harden' if check else 'harden')
        document['check_mode'] = check
        report_dir = os.path.abspath(self.get_option('report_dir'))
        try:
            self.files = write_reports(document, report_dir, self.get_option('basename'))
        except (OSError, IOError) as exc:
            self._display.warning('hvsec.hypervisor.compliance: report_dir: cannot write reports in %s: %s'
                                  % (report_dir, exc))
            return
        self._display.display(console_summary(document, report_dir))


__all__ = ['CHANGED_CONTROLS_KEY', 'CallbackModule', 'build_compliance_document', 'console_summary', 'control_ids',
           'failing_lines', 'verdict']
