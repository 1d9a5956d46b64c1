# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side evaluation of every catalog control against ``ansible_facts.hvsec``.

No remote execution: the facts were gathered once by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hvsec.hypervisor.plugins.module_utils.evaluate import (
    FAIL_ON_CHOICES, SettingsError, evaluate, gate_failures, merge_settings,
)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.report import summarize, summary_line

ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles'))

ARGUMENT_SPEC = dict(
    facts=dict(type='dict'),
    waivers=dict(type='list', elements='dict'),
    fail_on=dict(type='str', default='none', choices=list(FAIL_ON_CHOICES)),
    enforce=dict(type='bool', default=False),
    settings=dict(type='dict'),
)

# Host variables that are results, not settings.
_NOT_SETTINGS = ('hvsec_audit',)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

    def _role_defaults(self):
        """hvsec_* defaults of every role shipped in this collection (trusted as templates)."""
        layers = []
        for path in sorted(glob.glob(os.path.join(ROLES_DIR, '*', 'defaults', 'main.yml'))):
            try:
                data = self._loader.load_from_file(path, trusted_as_template=True)
            except Exception as exc:  # pylint: disable=broad-except
                raise AnsibleActionFail('cannot read role defaults %s: %s' % (path, exc))
            if data:
                if not isinstance(data, dict):
                    raise AnsibleActionFail('role defaults %s is not a mapping' % path)
                layers.append(data)
        return layers

    def _settings(self, task_vars, overrides):
        host_vars = dict((k, task_vars[k]) for k in task_vars
                         if isinstance(k, str) and k.startswith('hvsec_') and k not in _NOT_SETTINGS)
        layers = self._role_defaults() + [host_vars, overrides or {}]
        merged = merge_settings(*layers)
        variables = dict(task_vars)
        variables.update(merged)
        templar = self._templar.copy_with_new_env(available_variables=variables)
        return templar.template(merged)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        facts = args.get('facts')
        if facts is None:
            facts = (task_vars.get('ansible_facts') or {}).get('hvsec')
        if not isinstance(facts, dict):
            raise AnsibleActionFail('facts: no ansible_facts.hvsec for %s; run hvsec.hypervisor.hypervisor_facts first '
                                    'or pass facts' % task_vars.get('inventory_hostname', 'this host'))

        settings = self._settings(task_vars, args.get('settings'))
        waivers = args.get('waivers')
        if waivers is None:
            waivers = settings.get('hvsec_waivers') or []
        try:
            results = evaluate(facts, settings, waivers)
            gate = gate_failures(results, args['fail_on'])
        except SettingsError as exc:
            option = 'waivers' if str(exc).startswith('waivers') else 'settings'
            raise AnsibleActionFail('%s: %s' % (option, exc))

        host = task_vars.get('inventory_hostname', 'host')
        result.update(
            changed=False,
            results=results,
            summary=summarize(results),
            fail_on=args['fail_on'],
            gate_failures=gate,
            msg=summary_line(host, results, gate),
        )
        if args['enforce'] and gate:
            result['failed'] = True
            result['msg'] = 'Gate fail_on=%s: %d control(s) failed: %s' % (args['fail_on'], len(gate), ', '.join(gate))
        return result
