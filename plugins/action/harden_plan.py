# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side choice of the controls a role works on: the audit's judgement of the facts.

No remote execution: the facts were gathered by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import yaml

from ansible.errors import AnsibleActionFail, AnsibleLookupError

from ansible_collections.hvsec.hypervisor.plugins.lookup.role_input import convert, role_spec
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.audit_action import AuditAction
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import AREAS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.harden import (
    facts_digest, facts_fresh, input_digest, plan, record, recorded, selection_problem,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import ROLES_DIR

ARGUMENT_SPEC = dict(
    area=dict(type='str', required=True, choices=list(AREAS)),
    full=dict(type='bool', default=False),
    input=dict(type='dict'),
    record=dict(type='bool', default=False),
)

COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))


def collection_version(root=COLLECTION_ROOT):
    """The collection's version (MANIFEST.json of an installed build, else galaxy.yml); '' when unknown."""
    try:
        with open(os.path.join(root, 'MANIFEST.json')) as handle:
            return str(json.load(handle)['collection_info']['version'])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, 'galaxy.yml')) as handle:
            return str((yaml.safe_load(handle) or {}).get('version') or '')
    except (OSError, yaml.YAMLError, AttributeError):
        return ''


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
        """The plan of one area from this host's facts and settings (role defaults < host variables),
        or (``record``) the record that the role's run with ``input`` completed."""
        host = str(task_vars.get('inventory_hostname', 'localhost'))
        area = args['area']
        digest = input_digest(args['input'], collection_version()) if args['input'] is not None else None
        if args['record']:
            if digest is None:
                raise AnsibleActionFail('record: needs input (the role\'s typed variables)')
            partial = selection_problem(task_vars.get('ansible_run_tags'), task_vars.get('ansible_skip_tags'))
            if partial:
                result.update(changed=False, recorded=False, msg='%s: not recorded: %s' % (area, partial))
                return result
            if self._task.check_mode:
                result.update(changed=False, recorded=False, msg='%s: check mode records nothing' % area)
                return result
            try:
                record(host, area, digest)
            except OSError as exc:
                raise AnsibleActionFail('cannot record the run of %s for %s: %s' % (area, host, exc))
            result.update(changed=False, recorded=True, msg='%s: recorded the variables this run applied' % area)
            return result
        facts = (task_vars.get('ansible_facts') or {}).get('hvsec')
        fresh = facts_fresh(facts, task_vars)
        same_input = digest is None or recorded(host, area) == digest
        results = None
        if fresh and same_input and not args['full']:
            try:
                results = self.judge(facts, task_vars, waivers=None, fail_on='none')[0]
            except SettingsError as exc:
                raise AnsibleActionFail(str(exc))
        work = plan(area, results, full=args['full'], fresh=fresh, same_input=same_input)
        result.update(work)
        result.update(changed=False, area=area, fresh=fresh, same_input=same_input,
                      facts_digest=facts_digest(facts) if fresh else None,
                      msg='%s: %s%s' % (area, work['reason'],
                                        '' if work['full'] else '; to do: %s' % (', '.join(work['todo']) or 'nothing')))
        return result
