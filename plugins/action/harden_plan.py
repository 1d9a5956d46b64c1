# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side choice of the controls a role works on: the audit's judgement of the facts.

No remote execution: the facts were gathered by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import AREAS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.harden import facts_digest, facts_fresh, plan

ARGUMENT_SPEC = dict(
    area=dict(type='str', required=True, choices=list(AREAS)),
    full=dict(type='bool', default=False),
)


class ActionModule(AuditAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def audit(self, args, task_vars, result):
        """The plan of one area from this host's facts and settings (role defaults < host variables)."""
        facts = (task_vars.get('ansible_facts') or {}).get('hvsec')
        fresh = facts_fresh(facts, task_vars)
        results = None
        if fresh and not args['full']:
            try:
                results = self.judge(facts, task_vars, waivers=None, fail_on='none')[0]
            except SettingsError as exc:
                raise AnsibleActionFail(str(exc))
        work = plan(args['area'], results, full=args['full'], fresh=fresh)
        result.update(work)
        result.update(changed=False, area=args['area'], fresh=fresh,
                      facts_digest=facts_digest(facts) if fresh else None,
                      msg='%s: %s%s' % (args['area'], work['reason'],
                                        '' if work['full'] else '; to do: %s' % (', '.join(work['todo']) or 'nothing')))
        return result
