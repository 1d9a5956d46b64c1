# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side evaluation of every catalog control against ``ansible_facts.hvsec``.

No remote execution: the facts were gathered once by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import (
    FAIL_ON_CHOICES, SettingsError, evaluate, gate_failures, merge_settings,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import summarize, summary_line
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import ROLES_DIR, role_defaults as settings_defaults

ARGUMENT_SPEC = dict(
    facts=dict(type='dict'),
    waivers=dict(type='list', elements='dict'),
    fail_on=dict(type='str', default='none', choices=list(FAIL_ON_CHOICES)),
    enforce=dict(type='bool', default=False),
    settings=dict(type='dict'),
)

# Host variables that are results, not settings.
_NOT_SETTINGS = ('hvsec_audit', 'hvsec_audit_run', 'hvsec_audit_facts')


def _trusted(value):
    """``value`` with every string marked as a template (role defaults are the collection's own)."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((k, _trusted(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def role_defaults(roles_dir=None):
    """hvsec_* defaults of every role shipped in this collection (trusted as templates), one
    mapping per role in name order."""
    try:
        return [_trusted(layer) for layer in settings_defaults(roles_dir or ROLES_DIR)]
    except SettingsError as exc:
        raise AnsibleActionFail(str(exc))


def host_settings(templar, host_vars, defaults, overrides=None):
    """The host's settings: role defaults < its hvsec_* variables < overrides, templated with
    the host's variables (so a default may refer to another variable of that host)."""
    own = dict((k, host_vars[k]) for k in host_vars
               if isinstance(k, str) and k.startswith('hvsec_') and k not in _NOT_SETTINGS)
    merged = merge_settings(*(list(defaults) + [own, overrides or {}]))
    variables = dict(host_vars)
    variables.update(merged)
    return templar.copy_with_new_env(available_variables=variables).template(merged)


def evaluate_host(facts, settings, waivers=None, fail_on='none'):
    """(results, gate failures) of one host; SettingsError names the bad option or variable."""
    if waivers is None:
        waivers = settings.get('hvsec_waivers') or []
    try:
        results = evaluate(facts, settings, waivers)
        return results, gate_failures(results, fail_on)
    except SettingsError as exc:
        option = 'waivers' if str(exc).startswith('waivers') else 'settings'
        raise SettingsError('%s: %s' % (option, exc))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

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

        settings = host_settings(self._templar, task_vars, role_defaults(), args.get('settings'))
        try:
            results, gate = evaluate_host(facts, settings, args.get('waivers'), args['fail_on'])
        except SettingsError as exc:
            raise AnsibleActionFail(str(exc))

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
