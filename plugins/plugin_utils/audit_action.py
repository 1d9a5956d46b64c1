# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the audit action plugins (``audit_evaluate``, ``audit_report``) share: a host's settings
from the roles' defaults and its variables, its gate level, and its evaluation.

No remote execution: the facts were gathered once by ``hvsec.hypervisor.hypervisor_facts``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.evaluate import (
    SettingsError, evaluate, gate_failures, merge_settings, validate_fail_on,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import settings as settings_utils

# Host variables that are results, not settings.
NOT_SETTINGS = ('hvsec_audit', 'hvsec_audit_run', 'hvsec_audit_facts')


def is_setting(key):
    """True for a host variable that is an audit setting (``hvsec_*``, not a result)."""
    return isinstance(key, str) and key.startswith('hvsec_') and key not in NOT_SETTINGS


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
        return [_trusted(layer) for layer in settings_utils.role_defaults(roles_dir)]
    except SettingsError as exc:
        raise AnsibleActionFail(str(exc))


def host_settings(templar, host_vars, defaults, overrides=None):
    """The host's settings: role defaults < its hvsec_* variables < overrides, templated with
    the host's variables (so a default may refer to another variable of that host)."""
    own = dict((k, host_vars[k]) for k in host_vars if is_setting(k))
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


class AuditAction(ActionBase):
    """Base of the audit actions: ``run`` validates the arguments against ``ARGUMENT_SPEC`` and
    hands them to ``audit``; ``judge`` evaluates one host."""

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC = {}
    # The collection's roles directory; None: the one next to this file (tests point it elsewhere).
    ROLES_DIR = None
    # The role defaults as template layers, read at the first judge() of this task.
    _role_defaults = None

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(AuditAction, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        return self.audit(args, task_vars, result)

    def audit(self, args, task_vars, result):
        """Fill ``result`` from the validated ``args``; each action says what it does."""
        raise NotImplementedError

    def prepare_settings(self, settings):
        """The merged settings as this action judges them (as they are; an action may convert them)."""
        return settings

    def judge(self, facts, host_vars, overrides=None, waivers=None, fail_on=None):
        """(results, gate failures, gate level) of one host from its facts and variables.

        Settings: role defaults < the host's hvsec_* variables < ``overrides``. Gate level:
        ``fail_on``, else the host's ``hvsec_audit_fail_on``. Waivers: ``waivers``, else the
        host's ``hvsec_waivers``. SettingsError names the option or variable at fault.
        """
        if self._role_defaults is None:
            self._role_defaults = role_defaults(self.ROLES_DIR)
        settings = self.prepare_settings(host_settings(self._templar, host_vars, self._role_defaults, overrides))
        level = fail_on if fail_on is not None else settings.get('hvsec_audit_fail_on', 'none')
        try:
            validate_fail_on(level)
        except SettingsError as exc:
            raise SettingsError('hvsec_audit_fail_on: %s' % exc)
        results, gate = evaluate_host(facts, settings, waivers, level)
        return results, gate, level
