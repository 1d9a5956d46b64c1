# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test callback: one JSON line per task result (name, action, status, changed) in $HVSEC_TASK_LOG."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_log'
    CALLBACK_NEEDS_ENABLED = False

    def _log(self, result, status):
        path = os.environ.get('HVSEC_TASK_LOG')
        if not path:
            return
        task = result._task
        record = {'name': str(task.get_name()), 'action': str(task.action), 'status': status,
                  'changed': bool(result._result.get('changed')), 'handler': bool(getattr(task, 'implicit', False)) or
                  type(task).__name__ == 'Handler'}
        if task.action.endswith('harden_plan'):
            record['plan'] = dict((k, result._result.get(k)) for k in ('todo', 'full', 'fresh', 'same_input', 'reason', 'recorded', 'msg'))
        with open(path, 'a') as handle:
            handle.write(json.dumps(record) + '\n')

    def v2_runner_on_ok(self, result):
        self._log(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._log(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._log(result, 'skipped')

    def v2_runner_item_on_ok(self, result):
        pass
