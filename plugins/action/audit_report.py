# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the audit reports (JSON, Markdown, JUnit, HTML) on the controller for every host of the play.

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
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hvsec.hypervisor.plugins.action.audit_evaluate import (
    _NOT_SETTINGS, evaluate_host, host_settings, role_defaults,
)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.catalog import CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.module_utils.evaluate import (
    FAIL_ON_CHOICES, SettingsError, validate_fail_on,
)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.report import (
    atomic_write,
    build_document, render_json, render_junit, render_markdown, summary_line, unreachable_controls,
)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.report_html import render_html

display = Display()

ARGUMENT_SPEC = dict(
    report_dir=dict(type='path', default='reports'),
    var=dict(type='str', default='hvsec_audit'),
    hosts=dict(type='list', elements='str'),
    quiet=dict(type='bool', default=False),
    evaluate=dict(type='bool', default=False),
    fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES)),
)

NO_RESULT = 'no audit result (facts task failed or host unreachable)'


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


def _is_setting(key):
    return isinstance(key, str) and key.startswith('hvsec_') and key not in _NOT_SETTINGS


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hosts = args.get('hosts')
        if hosts is None:
            hosts = task_vars.get('ansible_play_hosts_all') or []
        refused = {}
        if args['evaluate']:
            per_host, gates, refused, levels = self._evaluate_hosts(hosts, task_vars, args.get('fail_on'))
        else:
            per_host, gates = self._registered_results(hosts, task_vars, args['var'])

        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        document = build_document(per_host, now.isoformat().replace('+00:00', 'Z'))

        report_dir = os.path.abspath(args['report_dir'])
        files = {}
        warnings = []
        previous_document = None
        lines = [summary_line(host, per_host[host], gates.get(host)) for host in sorted(per_host)]
        result.update(changed=False, files=files, summary_lines=lines,
                      hosts=dict((h, d['summary']) for h, d in document['hosts'].items()))
        if args['evaluate']:
            tripped = dict((h, g) for h, g in gates.items() if g)
            result.update(refused=refused, gate_failures=tripped, fail_on=levels,
                          failed_hosts=sorted(set(refused) | set(tripped)))
            if not gates:
                # Every host refused (bad input) or without facts: no report is written.
                result['msg'] = 'no host could be evaluated: no report written'
                return result
        try:
            os.makedirs(report_dir, exist_ok=True)
            current = os.path.join(report_dir, 'audit.json')
            if os.path.exists(current):
                previous_document = _read_previous(current)
                previous = os.path.join(report_dir, 'audit.previous.json')
                fd, tmpcopy = tempfile.mkstemp(prefix='.audit.previous.', dir=report_dir)
                os.close(fd)
                shutil.copyfile(current, tmpcopy)
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
        except (OSError, IOError) as exc:
            raise AnsibleActionFail('report_dir: cannot write reports in %s: %s' % (report_dir, exc))
        if warnings:
            result['warnings'] = warnings

        if not args['quiet']:
            display.display('hvsec audit (%d host(s), reports in %s):\n  %s' % (len(lines), report_dir, '\n  '.join(lines)))
        result['msg'] = 'reports written to %s' % report_dir
        return result

    def _registered_results(self, hosts, task_vars, var):
        """Results each host registered from hvsec.hypervisor.audit_evaluate."""
        hostvars = task_vars.get('hostvars') or {}
        per_host = {}
        gates = {}
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
        return per_host, gates

    def _evaluate_hosts(self, hosts, task_vars, fail_on):
        """Evaluate every host that gathered its facts in this play (``ansible_play_hosts``).

        A host outside it (facts task failed, unreachable) is reported with every control as
        ``error``, never from facts an older run left in the fact cache. A host whose settings,
        waivers or gate level are wrong is refused (reported as ``error``, message in
        ``refused``) without stopping the others.
        """
        hostvars = task_vars.get('hostvars') or {}
        active = set(task_vars.get('ansible_play_hosts') or [])
        me = task_vars.get('inventory_hostname')
        # Variables of the play (play vars, vars_files, vars of this task) are in task_vars but
        # not in other hosts' hostvars: those this host sees differently from its inventory view
        # apply to every host.
        inventory_view = _raw_vars(hostvars, me) if me else {}
        play_level = dict((k, v) for k, v in task_vars.items()
                          if _is_setting(k) and (k not in inventory_view or inventory_view[k] != v))
        defaults = role_defaults(self._loader)
        per_host, gates, refused, levels = {}, {}, {}, {}
        for host in hosts:
            if host not in active:
                per_host[host] = unreachable_controls(NO_RESULT)
                continue
            host_vars = task_vars if host == me else _raw_vars(hostvars, host)
            facts = (host_vars.get('ansible_facts') or {}).get('hvsec')
            try:
                if not isinstance(facts, dict):
                    raise SettingsError('facts: no ansible_facts.hvsec for %s; run hvsec.hypervisor.hypervisor_facts first'
                                        % host)
                settings = host_settings(self._templar, host_vars, defaults, play_level)
                level = fail_on if fail_on is not None else settings.get('hvsec_audit_fail_on', 'none')
                try:
                    validate_fail_on(level)
                except SettingsError as exc:
                    raise SettingsError('hvsec_audit_fail_on: %s' % exc)
                results, gate = evaluate_host(facts, settings, None, level)
            except (SettingsError, AnsibleError) as exc:
                message = str(exc) if isinstance(exc, SettingsError) else 'settings: %s' % exc
                refused[host] = message
                per_host[host] = unreachable_controls(message, prefix='not evaluated')
                continue
            per_host[host], gates[host], levels[host] = results, gate, level
        return per_host, gates, refused, levels
