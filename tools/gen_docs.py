# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate docs/controls.md and docs/oscal/component-definition.json from the control catalog.

    python tools/gen_docs.py           write docs/controls.md and docs/oscal/component-definition.json
    python tools/gen_docs.py --check   exit 1 (with a diff) when either is out of date

The OSCAL component definition (plugins/plugin_utils/oscal.py, built and validated with
compliance-trestle's models) is the same catalog as OSCAL. Its UUIDs are name-based (uuid5), its
version is galaxy.yml's, and its last-modified time is kept from the file as long as the rest of
its content is unchanged; `make docs` sets it to the current time when the content changes. So
the check compares everything but needs no clock.

Every catalog record states whether a `harden.yml --check` run can judge its control
(``check_mode: yes|partly|no``); the docs show that value. This script derives the same judgement,
and why not one way, from the roles' tasks (their control tags, read by Ansible through
tools/role_tasks.py) and the compliance callback's rules (plugins/callback/compliance.py): when
the derivation and a record disagree, both modes name the control and exit 1.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import difflib
import importlib
import importlib.util
import json
import os
import re
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
CATALOG = os.path.join(ROOT, 'plugins', 'plugin_utils', 'catalog.py')
OUTPUT = os.path.join(ROOT, 'docs', 'controls.md')
OSCAL_OUTPUT = os.path.join(ROOT, 'docs', 'oscal', 'component-definition.json')

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import role_tasks  # noqa: E402  pylint: disable=wrong-import-position

# Modules that never report a change (read-only or controller-side), unless changed_when says so.
READ_ONLY_MODULES = frozenset((
    'assert', 'debug', 'fail', 'set_fact', 'include_vars', 'meta', 'stat', 'getent', 'find', 'setup',
    'wait_for', 'wait_for_connection', 'hypervisor_facts', 'audit_evaluate',
))
FAILING_MODULES = frozenset(('assert', 'fail'))
SKIPPED_IN_CHECK_MODE = re.compile(r'(?:^|\band\s+)not\s+ansible_check_mode\b')
LEADING_IDS = re.compile(r'^(?:HVS-[A-Z]+-[0-9]+\s+)*HVS-[A-Z]+-[0-9]+\s*\|\s*')
# How the callback's task outcomes read in the docs.
OUTCOME_WORDS = {'failed': 'a task failed', 'changed': 'a task would change something',
                 'ok': 'a task ran and would change nothing', 'skipped': 'every task was skipped'}


def short_name(task):
    """A task's name without its leading control IDs."""
    return LEADING_IDS.sub('', task['name'])


def load_catalog(path=CATALOG):
    spec = importlib.util.spec_from_file_location('hvsec_catalog', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _collection_module(name):
    """A module of this collection by its dotted name under plugins (needs ansible-core)."""
    full = 'ansible_collections.hvsec.hypervisor.plugins.' + name
    try:
        return importlib.import_module(full)
    except ImportError:
        # Outside a collections path: link this tree as hvsec.hypervisor in a temporary one.
        base = tempfile.mkdtemp(prefix='hvsec-gen-docs-')
        os.makedirs(os.path.join(base, 'ansible_collections', 'hvsec'))
        os.symlink(ROOT, os.path.join(base, 'ansible_collections', 'hvsec', 'hypervisor'))
        sys.path.insert(0, base)
        return importlib.import_module(full)


def load_callback():
    """The compliance callback module (needs ansible-core); its rules decide the judgement."""
    return _collection_module('callback.compliance')


def galaxy_version(root=ROOT):
    return _collection_module('plugin_utils.oscal').collection_version(root)


def render_oscal(catalog, previous=None, now=None):
    """The OSCAL component definition of the catalog as JSON text.

    Its last-modified time is the one of ``previous`` (the current file's text) when the rest of
    the content is the same, else ``now`` (default: the current UTC time, in seconds).
    """
    oscal = _collection_module('plugin_utils.oscal')
    version = galaxy_version()
    kept = None
    try:
        kept = json.loads(previous)['component-definition']['metadata']['last-modified']
    except (TypeError, ValueError, KeyError):
        pass
    if kept:
        text = oscal.to_json(oscal.component_definition(catalog.CONTROLS, version, kept))
        if text == previous:
            return text
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return oscal.to_json(oscal.component_definition(catalog.CONTROLS, version, now))


def reports_changed_controls(module, key, root=ROOT):
    """Does the collection's module (or action) return `key` (the callback's per-control change list)?"""
    for kind in ('modules', 'action'):
        path = os.path.join(root, 'plugins', kind, module + '.py')
        if os.path.exists(path):
            with open(path) as handle:
                if key in handle.read():
                    return True
    return False


def can_change(task):
    """Can this task report `changed`? (changed_when decides when it is given)."""
    flag = task['changed_when']
    if flag is not None:
        return not (flag is False or str(flag).strip().lower() == 'false')
    return task['module'] not in READ_ONLY_MODULES


def runs_in_check_mode(task):
    return not any(SKIPPED_IN_CHECK_MODE.search(str(cond).strip()) for cond in task['when'])


def judge(control, tasks, callback, changed_key, reports=reports_changed_controls):
    """('yes' | 'partly' | 'no', [reason, ...]) for one control from the tasks tagged with it.

    yes: a `harden.yml --check` run with the compliance callback gives the control its own verdict
    (fail only when a remediation of this control would change something). partly: it does, with
    the listed exceptions. no: the callback cannot tell compliant from non-compliant.
    """
    cid = control['id']
    tasks = [t for t in tasks if t['section'] == 'block']  # rescue/always only run after a failure
    owner = (control.get('variable') or '').split('_')[1:2]
    foreign = control.get('variable') and owner and owner[0] != control['area'] and owner[0] in role_tasks.roles()
    remediated_by = ('remediated through %s of role %s, whose tasks do not carry %s' % (
        control['variable'], owner[0], cid)) if foreign else None
    if not tasks:
        doc = callback.build_compliance_document({}, ['host'], '', '', catalog=[control])
        return 'no', [doc['hosts']['host']['controls'][0]['evidence']]
    judging = [t for t in tasks if can_change(t) and runs_in_check_mode(t)]
    passed = callback.verdict([('ok', '', '')])[0]
    failed = callback.verdict([('failed', '', '')])[0]
    fails = [t for t in tasks if t['module'] in FAILING_MODULES]
    if not judging:
        reasons = ['no task tagged with it can report a change in check mode (%s): the verdict is %s while '
                   'they run%s, whatever the host state' % (
                       ', '.join(sorted(set(t['module'] for t in tasks))), passed,
                       ' and %s when an assertion fails' % failed if fails else '')]
        return 'no', reasons + ([remediated_by] if remediated_by else [])
    reasons = []
    shared = [t for t in judging if len(t['controls']) > 1 and not reports(t['module'], changed_key)]
    if shared:
        others = sorted(set(c for t in shared for c in t['controls'] if c != cid))
        reasons.append('shares %d remediation task(s) with %s (%s): a change for any of them makes it %s, as '
                       'the module does not return %s' % (
                           len(shared), ', '.join(others), '; '.join('"%s"' % short_name(t) for t in shared),
                           callback.verdict([('changed', '', '')])[0], changed_key))
    for task in fails:
        reasons.append('"%s" stops the run when its check fails: %s, not fail' % (short_name(task), failed))
    for task in tasks:
        if task['module'] == 'debug' and not can_change(task):
            reasons.append('"%s" only reports a finding: alone it counts as %s' % (short_name(task), passed))
    if control.get('reboot'):
        reasons.append('needs a reboot: the check-mode run compares the boot configuration, the audit the running '
                       'kernel, so they disagree between the harden run and the reboot')
    if remediated_by:
        reasons.append(remediated_by)
    return ('partly' if reasons else 'yes'), reasons


def judgements(catalog, root=ROOT, callback=None):
    """{control ID: (judged, reasons, number of tasks tagged with it)} for every catalog control."""
    callback = callback or load_callback()
    changed_key = callback.CHANGED_CONTROLS_KEY
    tagged = role_tasks.controls_tagged(root)
    out = {}
    for c in catalog.CONTROLS:
        tasks = tagged.get(c['id'], [])
        verdict, reasons = judge(c, tasks, callback, changed_key,
                                 lambda module, key: reports_changed_controls(module, key, root))
        out[c['id']] = (verdict, reasons, len([t for t in tasks if t['section'] == 'block']))
    return out


def disagreements(catalog, judged):
    """One message per control whose record's check_mode differs from the judgement derived from the roles."""
    out = []
    for c in catalog.CONTROLS:
        derived, reasons = judged[c['id']][0], judged[c['id']][1]
        if c['check_mode'] != derived:
            out.append('%s: the catalog record says check_mode: %s, the roles\' tags and the compliance callback '
                       'give %s%s; change the record (plugins/plugin_utils/controls/%s.yml) or the roles' % (
                           c['id'], c['check_mode'], derived, ' (%s)' % '; '.join(reasons) if reasons else '', c['area']))
    return out


def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def render(catalog, judged=None, callback=None):
    controls = catalog.CONTROLS
    callback = callback or load_callback()
    judged = judged if judged is not None else judgements(catalog, callback=callback)
    lines = [
        '# Control catalog',
        '',
        '<!-- Generated by tools/gen_docs.py from plugins/plugin_utils/controls/*.yml. Do not edit: run `make docs`. -->',
        '',
        '%d controls across %d areas. Every control is evaluated by `playbooks/audit.yml` '
        '(see [audit.md](audit.md)) from `ansible_facts.hvsec` ([facts.md](facts.md)).' % (len(controls), len(catalog.AREAS)),
        '',
        'References: NIST SP 800-125A Rev. 1 baseline functions HY-BF1..HY-BF5 with the topic; an HY-SR number '
        'only where it is known (HY-SR-1..5). NIST SP 800-53 Rev. 5 controls where the mapping is clear.',
        '',
        '| Area | Controls | critical | high | medium | low |',
        '|------|----------|----------|------|--------|-----|',
    ]
    for area, title in catalog.AREAS.items():
        mine = [c for c in controls if c['area'] == area]
        counts = [sum(1 for c in mine if c['severity'] == s) for s in ('critical', 'high', 'medium', 'low')]
        lines.append('| [%s](#%s) (`%s`) | %d | %s |' % (
            title, _anchor(title), area, len(mine), ' | '.join(str(n) for n in counts)))
    lines.append('')
    for area, title in catalog.AREAS.items():
        mine = [c for c in controls if c['area'] == area]
        lines.extend(['## %s' % title, '',
                      'Area tag `%s`; %d controls.' % (area, len(mine)), '',
                      '| ID | Title | Severity | SP 800-125A Rev. 1 | SP 800-53 | Reboot | Role / variable '
                      '| [Judged in check mode](#judged-by-roles-check-mode) |',
                      '|----|-------|----------|--------------------|-----------|--------|-----------------'
                      '|-------------------------------------------------------|'])
        for c in mine:
            role = '`hvsec.hypervisor.%s` / `%s`' % (c['role'], c['variable']) if c['variable'] else 'audit only'
            lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                c['id'], _cell(c['title']), c['severity'], _cell(c['sp800_125a']),
                ', '.join(c['sp800_53']) or '-', 'yes' if c['reboot'] else 'no', role, c['check_mode']))
        lines.append('')
        for c in mine:
            lines.extend([
                '### %s: %s' % (c['id'], c['title']),
                '',
                '- **Severity:** %s; **reboot to fix:** %s' % (c['severity'], 'yes' if c['reboot'] else 'no'),
                '- **SP 800-125A Rev. 1:** %s' % c['sp800_125a'],
                '- **SP 800-53 Rev. 5:** %s' % (', '.join(c['sp800_53']) or '-'),
                '- **Rationale:** %s' % c['rationale'],
                '- **How it is evaluated:** %s' % c['check'],
                '- **Remediation:** %s' % c['remediation'],
                '- **Judged by the roles in check mode:** %s ([why](#judged-by-roles-check-mode))' % c['check_mode'],
                '',
            ])
    lines.extend(render_judged(controls, judged, callback))
    return '\n'.join(lines).rstrip('\n') + '\n'


def render_judged(controls, judged, callback):
    counts = dict((k, sum(1 for c in controls if c['check_mode'] == k)) for k in ('yes', 'partly', 'no'))
    rules = ', else '.join('%s if %s' % (callback.verdict([(outcome, '', '')])[0], OUTCOME_WORDS[outcome])
                           for outcome in callback.OUTCOMES)
    lines = [
        '## Judged by roles (check mode)',
        '',
        '`playbooks/harden.yml --check` with the `hvsec.hypervisor.compliance` callback '
        '([reports.md](reports.md)) gives each control the verdict of the tasks tagged with its ID: '
        '%s. Derived from the roles\' task tags and the callback\'s rules by tools/gen_docs.py:' % rules,
        '',
        '- **yes** (%d): the control gets its own verdict: fail only when a remediation of that control '
        'would change something;' % counts['yes'],
        '- **partly** (%d): it has a verdict, with the exceptions below;' % counts['partly'],
        '- **no** (%d): the callback cannot tell compliant from non-compliant; only '
        '`playbooks/audit.yml` judges it.' % counts['no'],
        '',
        'For every control: the callback has no `waived` status, so a waived control is `not_applicable` '
        'when the roles skip its tasks, or gets the verdict of a shared task that still runs for the other '
        'controls; and the roles judge the host against the role variables, so a variable that switches a '
        'remediation off makes its control pass or not_applicable here.',
        '',
        '| ID | Judged | Tasks | Why not one way |',
        '|----|--------|-------|-----------------|',
    ]
    for c in controls:
        dummy, reasons, count = judged[c['id']]
        verdict = c['check_mode']
        if verdict == 'yes':
            continue
        lines.append('| %s | %s | %d | %s |' % (c['id'], verdict, count, _cell('; '.join(reasons))))
    lines.extend(['', 'Judged one way (**yes**): %s.' % (
        ', '.join(c['id'] for c in controls if c['check_mode'] == 'yes') or 'none'), ''])
    return lines


def _anchor(title):
    return ''.join(ch for ch in title.lower().replace(' ', '-') if ch.isalnum() or ch == '-')


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except IOError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='fail when an output file is out of date')
    parser.add_argument('--output', default=OUTPUT)
    parser.add_argument('--oscal-output', default=OSCAL_OUTPUT)
    args = parser.parse_args(argv)
    catalog = load_catalog()
    callback = load_callback()
    judged = judgements(catalog, callback=callback)
    outputs = []
    for path, render_text in ((args.output, lambda current: render(catalog, judged, callback)),
                              (args.oscal_output, lambda current: render_oscal(catalog, current))):
        current = _read(path)
        outputs.append((path, current, render_text(current)))
    wrong = disagreements(catalog, judged)
    for message in wrong:
        print(message, file=sys.stderr)
    if args.check:
        stale = len(wrong)
        for path, current, text in outputs:
            if current != text:
                stale += 1
                sys.stdout.writelines(difflib.unified_diff(
                    (current or '').splitlines(True), text.splitlines(True), path, 'generated'))
                print('%s is out of date: run `make docs`' % os.path.relpath(path, ROOT), file=sys.stderr)
            else:
                print('%s is up to date' % os.path.relpath(path, ROOT))
        return 1 if stale else 0
    for path, current, text in outputs:
        if current != text:
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(text)
        print('%s %s (%d controls)' % ('wrote' if current != text else 'unchanged', os.path.relpath(path, ROOT),
                                       len(catalog.CONTROLS)))
    return 1 if wrong else 0


if __name__ == '__main__':
    sys.exit(main())
