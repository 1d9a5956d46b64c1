# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the audit reports (JSON, Markdown, JUnit, HTML; OSCAL with ``oscal: true``) on the controller
for every host of the play.

With ``evaluate: true`` it also evaluates every host itself, from each host's
``ansible_facts.hvsec`` and ``hvsec_*`` variables, in this one task: the audit playbook needs no
per-host evaluation task (each per-host task costs Ansible a worker process, the host's variables
and a callback round per host, which dominated the controller time on large inventories).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import shutil
import tempfile

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.utils.display import Display

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction, is_setting
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import FAIL_ON_CHOICES, SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import (
    atomic_write,
    build_document, coverage_line, render_json, render_junit, render_markdown, summary_line, unreachable_controls,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report_html import render_html
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_fleet import (
    AUDITED, UNREACHABLE, MergeError, facts_outcome, load_document, merge_documents, report_files,
)

display = Display()

ARGUMENT_SPEC = dict(
    report_dir=dict(type='path', default='reports'),
    var=dict(type='str', default='hvsec_audit'),
    hosts=dict(type='list', elements='str'),
    quiet=dict(type='bool', default=False),
    evaluate=dict(type='bool', default=False),
    fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES)),
    oscal=dict(type='bool', default=False),
    facts_var=dict(type='str'),
    slice=dict(type='str'),
    merge=dict(type='list', elements='str'),
    outcome=dict(type='dict'),
)

NO_RESULT = 'no audit result (facts task failed or host unreachable)'
COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))


def _load_oscal():
    """plugin_utils.oscal with compliance-trestle imported: only when OSCAL output is asked for."""
    try:
        from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import oscal
        oscal.models()
    except ImportError as exc:
        raise AnsibleActionFail('oscal: OSCAL output needs compliance-trestle on the controller (%s); '
                                'install it with pip install compliance-trestle==5.2.0' % exc)
    return oscal


def _read_previous(path):
    """The existing audit.json as a document, or None when absent or not a report."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get('hosts'), dict) else None


def _raw_vars(hostvars, host):
    """A host's variables, untemplated (``HostVars.raw_get``; a plain mapping in unit tests)."""
    if hasattr(hostvars, 'raw_get'):
        data = hostvars.raw_get(host)
    else:
        data = hostvars.get(host)
    return data if isinstance(data, dict) else {}


def _host_outcome(run, host):
    """This host's verdict from the audit's registered result (``outcome``): unreachable when its
    facts task could not reach it (ansible-playbook then exits 4), failed when it was not audited
    otherwise, its settings were refused or its severity gate tripped (exit 2), else ok."""
    run = run if isinstance(run, dict) else {}
    if host in (run.get('unreachable_hosts') or []):
        return dict(changed=False, unreachable=True,
                    msg='not audited: %s' % (run.get('not_audited') or {}).get(host, 'host unreachable'))
    refused = run.get('refused') or {}
    if host in refused:
        return dict(changed=False, failed=True, msg=refused[host])
    not_audited = run.get('not_audited') or {}
    if host in not_audited:
        return dict(changed=False, failed=True, msg='not audited: %s' % not_audited[host])
    gate = (run.get('gate_failures') or {}).get(host)
    if gate:
        return dict(changed=False, failed=True, msg='%d control(s) at or above severity %s failed: %s' % (
            len(gate), (run.get('fail_on') or {}).get(host, '?'), ', '.join(gate)))
    return dict(changed=False, msg='audited; no gate failure')


def _write_reports(report_dir, document, oscal=None):
    """Write the reports of ``document`` in ``report_dir``: ({format: path}, warnings).

    The existing audit.json becomes audit.previous.json (the HTML report's trend compares with
    it); audit.oscal.json is written with ``oscal`` (plugin_utils.oscal) and removed otherwise,
    so that an older run's OSCAL results never pass for this run's.
    """
    files = {}
    warnings = []
    previous_document = None
    try:
        os.makedirs(report_dir, exist_ok=True)
        current = os.path.join(report_dir, 'audit.json')
        if os.path.exists(current):
            previous_document = _read_previous(current)
            previous = os.path.join(report_dir, 'audit.previous.json')
            fd, tmpcopy = tempfile.mkstemp(prefix='.audit.previous.', dir=report_dir)
            os.close(fd)
            shutil.copyfile(current, tmpcopy)
            os.chmod(tmpcopy, 0o644)  # the reports' mode (atomic_write), not mkstemp's 0600
            os.replace(tmpcopy, previous)
            files['previous'] = previous
        for key, name, render in (('json', 'audit.json', render_json),
                                  ('markdown', 'audit.md', render_markdown),
                                  ('junit', 'audit.junit.xml', render_junit)):
            path = os.path.join(report_dir, name)
            atomic_write(path, render(document))
            files[key] = path
        try:
            html = render_html(document, previous_document, CONTROLS)
        except (ValueError, TypeError, KeyError) as exc:
            warnings.append('audit.html not written: %s' % exc)
        else:
            files['html'] = os.path.join(report_dir, 'audit.html')
            atomic_write(files['html'], html)
        stale = os.path.join(report_dir, 'audit.oscal.json')
        if oscal is not None:
            try:
                text = oscal.to_json(oscal.assessment_results(document, CONTROLS, oscal.collection_version(COLLECTION_ROOT)))
            except ValueError as exc:
                warnings.append('audit.oscal.json not written: %s' % exc)
                if os.path.exists(stale):
                    os.unlink(stale)
            else:
                files['oscal'] = stale
                atomic_write(files['oscal'], text)
        elif os.path.exists(stale):
            os.unlink(stale)
    except (OSError, IOError) as exc:
        raise AnsibleActionFail('report_dir: cannot write reports in %s: %s' % (report_dir, exc))
    return files, warnings


class ActionModule(AuditAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def audit(self, args, task_vars, result):
        """Build the run's document (registered results, own evaluation or merged slices), write the reports."""
        if args.get('outcome') is not None:
            result.update(_host_outcome(args['outcome'], task_vars.get('inventory_hostname')))
            return result
        oscal = _load_oscal() if args['oscal'] else None
        document, per_host, gates, evaluated = self._document(args, task_vars)
        report_dir = os.path.abspath(args['report_dir'])
        lines = [summary_line(host, per_host[host], gates.get(host)) for host in sorted(per_host)]
        result.update(changed=False, files={}, summary_lines=lines,
                      hosts=dict((h, d['summary']) for h, d in document['hosts'].items()))
        # Not 'unreachable': a true value there would make Ansible take this task itself as unreachable.
        result.update(not_audited=document['not_audited'], unreachable_hosts=sorted(evaluated.pop('unreachable', [])))
        result.update(evaluated)
        result['files'], warnings = _write_reports(report_dir, document, oscal)
        if warnings:
            result['warnings'] = warnings

        coverage = coverage_line(document)
        if not args['quiet']:
            display.display('hvsec audit (%d host(s), reports in %s):\n  %s%s' % (
                len(lines), report_dir, '\n  '.join(lines), '\n  ' + coverage if coverage else ''))
        if document['hosts'] and len(document['not_audited']) >= len(document['hosts']):
            result['msg'] = 'no host could be audited: the reports in %s say so' % report_dir
        else:
            result['msg'] = 'reports written to %s' % report_dir
        return result

    def _document(self, args, task_vars):
        """(document, per-host results, per-host gate failures, evaluation keys of the result).

        The evaluation keys (with ``evaluate``: refused, gate_failures, fail_on, failed_hosts) go
        into the task result as they are, plus ``unreachable``, the hosts the facts task could not reach.
        """
        hosts = args.get('hosts')
        if hosts is None:
            hosts = task_vars.get('ansible_play_hosts_all') or []
        stamp = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z')
        if args.get('merge'):
            try:
                files_in = report_files(args['merge'])
                document = merge_documents([(f, load_document(f)) for f in files_in], stamp)
            except MergeError as exc:
                raise AnsibleActionFail(str(exc))
            per_host = dict((h, d['controls']) for h, d in document['hosts'].items())
            return document, per_host, {}, {}
        evaluated = {}
        if args['evaluate']:
            per_host, gates, refused, levels, not_audited, unreachable = self._evaluate_hosts(
                hosts, task_vars, args.get('fail_on'), args.get('facts_var'))
            tripped = dict((h, g) for h, g in gates.items() if g)
            evaluated = dict(refused=refused, gate_failures=tripped, fail_on=levels, unreachable=unreachable,
                             # Not those Ansible itself already failed or found unreachable (out of the play).
                             failed_hosts=sorted(set(refused) | set(tripped) | (
                                 set(not_audited) & set(task_vars.get('ansible_play_hosts') or []))))
        else:
            per_host, gates, not_audited = self._registered_results(hosts, task_vars, args['var'])
        built = build_document(per_host, stamp)
        document = {'generated_at': built['generated_at'], 'slice': args.get('slice'),
                    'not_audited': dict((h, not_audited[h]) for h in sorted(not_audited)),
                    'hosts': built['hosts']}
        return document, per_host, gates, evaluated

    def _registered_results(self, hosts, task_vars, var):
        """Results each host registered from hvsec.hypervisor.audit_evaluate."""
        hostvars = task_vars.get('hostvars') or {}
        per_host = {}
        gates = {}
        not_audited = {}
        for host in hosts:
            audit = None
            if host in hostvars:
                audit = self._templar.template(hostvars[host].get(var))
            if isinstance(audit, dict) and isinstance(audit.get('results'), list) and not audit.get('failed'):
                per_host[host] = audit['results']
                gates[host] = audit.get('gate_failures') or []
            else:
                reason = (audit or {}).get('msg') if isinstance(audit, dict) else None
                per_host[host] = unreachable_controls(reason or NO_RESULT)
                not_audited[host] = reason or NO_RESULT
        return per_host, gates, not_audited

    def _evaluate_hosts(self, hosts, task_vars, fail_on, facts_var=None):
        """Evaluate every host that gathered its facts in this play (``ansible_play_hosts``; with
        ``facts_var``, also only the hosts whose registered facts result there succeeded).

        A host outside it (facts task failed, unreachable) is reported with every control as
        ``error``, never from facts an older run left in the fact cache. A host whose settings,
        waivers or gate level are wrong is refused (reported as ``error``, message in
        ``refused``) without stopping the others. Every host not evaluated is in ``not_audited``
        with the reason; the unreachable ones are also listed in ``unreachable``.
        """
        hostvars = task_vars.get('hostvars') or {}
        active = set(task_vars.get('ansible_play_hosts') or [])
        me = task_vars.get('inventory_hostname')
        # Variables of the play (play vars, vars_files, vars of this task) are in task_vars but
        # not in other hosts' hostvars: those this host sees differently from its inventory view
        # apply to every host.
        inventory_view = _raw_vars(hostvars, me) if me else {}
        play_level = dict((k, v) for k, v in task_vars.items()
                          if is_setting(k) and (k not in inventory_view or inventory_view[k] != v))
        per_host, gates, refused, levels, not_audited, unreachable = {}, {}, {}, {}, {}, []
        for host in hosts:
            if host not in active:
                per_host[host] = unreachable_controls(NO_RESULT)
                not_audited[host] = NO_RESULT
                continue
            host_vars = task_vars if host == me else _raw_vars(hostvars, host)
            if facts_var:
                outcome, reason = facts_outcome(host_vars.get(facts_var))
                if outcome != AUDITED:
                    per_host[host] = unreachable_controls(reason)
                    not_audited[host] = reason
                    if outcome == UNREACHABLE:
                        unreachable.append(host)
                    continue
            facts = (host_vars.get('ansible_facts') or {}).get('hvsec')
            try:
                if not isinstance(facts, dict):
                    raise SettingsError('facts: no ansible_facts.hvsec for %s; run hvsec.hypervisor.hypervisor_facts first'
                                        % host)
                results, gate, level = self.judge(facts, host_vars, play_level, None, fail_on)
            except (SettingsError, AnsibleError) as exc:
                message = str(exc) if isinstance(exc, SettingsError) else 'settings: %s' % exc
                refused[host] = message
                not_audited[host] = 'settings refused: %s' % message
                per_host[host] = unreachable_controls(message, prefix='not evaluated')
                continue
            per_host[host], gates[host], levels[host] = results, gate, level
        return per_host, gates, refused, levels, not_audited, unreachable
