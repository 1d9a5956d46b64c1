# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the audit reports (JSON, Markdown, JUnit) on the controller for every host of the play."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import shutil
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hvsec.hypervisor.plugins.module_utils.catalog import CONTROLS
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
)


def _read_previous(path):
    """The existing audit.json as a document, or None when absent or not a report."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get('hosts'), dict) else None


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
        hostvars = task_vars.get('hostvars') or {}

        per_host = {}
        gates = {}
        for host in hosts:
            audit = None
            if host in hostvars:
                audit = self._templar.template(hostvars[host].get(args['var']))
            if isinstance(audit, dict) and isinstance(audit.get('results'), list) and not audit.get('failed'):
                per_host[host] = audit['results']
                gates[host] = audit.get('gate_failures') or []
            else:
                reason = (audit or {}).get('msg') if isinstance(audit, dict) else None
                per_host[host] = unreachable_controls(reason or 'no audit result (facts task failed or host unreachable)')

        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        document = build_document(per_host, now.isoformat().replace('+00:00', 'Z'))

        report_dir = os.path.abspath(args['report_dir'])
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

        lines = [summary_line(host, per_host[host], gates.get(host)) for host in sorted(per_host)]
        if not args['quiet']:
            display.display('hvsec audit (%d host(s), reports in %s):\n  %s' % (len(lines), report_dir, '\n  '.join(lines)))
        result.update(changed=False, files=files, summary_lines=lines,
                      hosts=dict((h, d['summary']) for h, d in document['hosts'].items()),
                      msg='reports written to %s' % report_dir)
        return result
