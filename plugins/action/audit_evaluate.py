# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side evaluation of every catalog control against ``ansible_facts.hvsec``.

No remote execution: the facts were gathered once by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import FAIL_ON_CHOICES, SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import summarize, summary_line

ARGUMENT_SPEC = dict(
    facts=dict(type='dict'),
    waivers=dict(type='list', elements='dict'),
    fail_on=dict(type='str', default='none', choices=list(FAIL_ON_CHOICES)),
    enforce=dict(type='bool', default=False),
    settings=dict(type='dict'),
)


class ActionModule(AuditAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def audit(self, args, task_vars, result):
        """Evaluate this host from its facts (or ``facts``) and settings; gate with ``fail_on``."""
        host = task_vars.get('inventory_hostname', 'host')
        facts = args.get('facts')
        if facts is None:
            facts = (task_vars.get('ansible_facts') or {}).get('hvsec')
        if not isinstance(facts, dict):
            raise AnsibleActionFail('facts: no ansible_facts.hvsec for %s; run hvsec.hypervisor.hypervisor_facts first '
                                    'or pass facts' % task_vars.get('inventory_hostname', 'this host'))
        try:
            results, gate, dummy = self.judge(facts, task_vars, args.get('settings'), args.get('waivers'), args['fail_on'])
        except SettingsError as exc:
            raise AnsibleActionFail(str(exc))
        result.update(changed=False, results=results, summary=summarize(results), fail_on=args['fail_on'],
                      gate_failures=gate, msg=summary_line(host, results, gate))
        if args['enforce'] and gate:
            result['failed'] = True
            result['msg'] = 'Gate fail_on=%s: %d control(s) failed: %s' % (args['fail_on'], len(gate), ', '.join(gate))
        return result
