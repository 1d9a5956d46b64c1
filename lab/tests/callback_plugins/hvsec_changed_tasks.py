# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: append, per playbook run, the changed tasks per host to a JSON-lines file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: hvsec_changed_tasks
type: aggregate
short_description: Record the changed tasks of a run (lab tests only)
description:
  - Appends one JSON line per playbook run to the file named by C(HVSEC_CHANGED_TASKS_LOG)
    (nothing when unset) with the playbook, whether it ran in check mode, and per host the
    tasks that reported changed (handlers included; name and the HVS control IDs in the task's
    tags) and the names of those that failed, and the slowest tasks with their wall time.
  - Used by lab/tests/test_safety_check_mode.py to compare a C(--check) run with the real run.
options: {}
'''

import json
import os
import re
import time

from ansible import context
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'hvsec_changed_tasks'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._playbook = None
        self._changed = {}
        self._failed = {}
        self._durations = {}
        self._current = None

    def _start(self, task):
        self._stop()
        self._current = (task.get_name().strip(), time.time())

    def _stop(self):
        if self._current:
            name, t0 = self._current
            self._durations[name] = self._durations.get(name, 0.0) + time.time() - t0
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(playbook._file_name)

    def _task_name(self, result):
        name = result._task.get_name().strip()
        item = result._result.get('item') if isinstance(result._result, dict) else None
        if item is not None and result._task.loop is not None:
            name += ' (item %s)' % (item.get('name', item) if isinstance(item, dict) else item)
        return name

    def _record(self, result):
        if result._result.get('changed', False):
            controls = sorted(t for t in result._task.tags if re.match(r'^HVS-[A-Z]+-\d+$', t))
            entry = {'task': self._task_name(result), 'controls': controls}
            seen = self._changed.setdefault(result._host.get_name(), [])
            if entry not in seen:
                seen.append(entry)

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_item_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._failed.setdefault(result._host.get_name(), []).append(self._task_name(result))

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('HVSEC_CHANGED_TASKS_LOG')
        if not path or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            return
        self._stop()
        check = bool(context.CLIARGS.get('check', False))
        slowest = sorted(self._durations.items(), key=lambda kv: -kv[1])[:25]
        line = {'playbook': self._playbook, 'check': check,
                'changed': dict((h, sorted(t, key=lambda e: e['task'])) for h, t in self._changed.items()),
                'failed': self._failed, 'tasks': len(self._durations),
                'seconds': round(sum(self._durations.values()), 1),
                'slowest': [[n, round(d, 1)] for n, d in slowest]}
        with open(path, 'a') as f:
            f.write(json.dumps(line, sort_keys=True) + '\n')
