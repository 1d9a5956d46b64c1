# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side choice of the controls a role works on: the audit's judgement of the facts.

No remote execution: the facts were gathered by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail, AnsibleLookupError

from ansible_collections.hvsec.hypervisor.plugins.lookup.role_input import convert, role_spec
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import AREAS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.harden import facts_digest, facts_fresh, plan
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import ROLES_DIR

ARGUMENT_SPEC = dict(
    area=dict(type='str', required=True, choices=list(AREAS)),
    full=dict(type='bool', default=False),
)


class ActionModule(AuditAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def prepare_settings(self, settings):
        """Each role's options converted to its argument spec types, as the roles read them (lookup
        hvsec.hypervisor.role_input): ``-e hvsec_iommu_nosmt=false`` is judged false, as the role applies it."""
        roles_dir = self.ROLES_DIR or ROLES_DIR
        out = dict(settings)
        for role in sorted(os.listdir(roles_dir)) if os.path.isdir(roles_dir) else []:
            if not os.path.isfile(os.path.join(roles_dir, role, 'meta', 'argument_specs.yml')):
                continue
            try:
                options = role_spec(role, 'main', roles_dir)
                given = dict((k, v) for k, v in settings.items() if k in options)
                converted = convert(options, given, role)
            except AnsibleLookupError as exc:
                raise SettingsError(str(exc))
            out.update((k, converted[k]) for k in given)
        return out

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
