# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evaluation engine: ``ansible_facts.hvsec`` + settings + waivers -> per-control results.

Every control record names its evaluator (``evaluator``), a function of the module of its area
(``eval_<area>.py``, see :mod:`eval_common` for the evaluator contract). An evaluator that raises
``Unknown`` (a fact it needs is unreadable) gives status ``error`` with an evidence string built
from the facts' ``notes``. Any other exception raised by an evaluator (malformed facts) also
becomes ``error``: the audit never ends in a traceback because one probe returned nonsense.

Settings are the role variables (``hvsec_*``): :func:`evaluate` lays the given ones over the
roles' defaults (``roles/*/defaults/main.yml``, see :mod:`settings`).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import functools

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import eval_boot, eval_iommu, eval_mgmt_plane, eval_vfio, eval_vswitch
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS, SEVERITIES, severity_rank
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.eval_common import Unknown, na_without_libvirt, note_for, note_text
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import (
    SettingsError, default_settings, merge_settings, validate_settings,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.waivers import apply_waiver, validate_waivers

# The evaluators of each area, by the names the records give them.
AREA_EVALUATORS = {
    'iommu': eval_iommu.EVALUATORS,
    'vfio': eval_vfio.EVALUATORS,
    'vswitch': eval_vswitch.EVALUATORS,
    'mgmt_plane': eval_mgmt_plane.EVALUATORS,
    'boot': eval_boot.EVALUATORS,
}

FAIL_ON_CHOICES = ('none',) + SEVERITIES


def validate_fail_on(fail_on):
    """Return ``fail_on`` when it is a gate severity (or none); raise SettingsError otherwise."""
    if fail_on not in FAIL_ON_CHOICES:
        raise SettingsError('fail_on must be one of %s, got %r' % (', '.join(FAIL_ON_CHOICES), fail_on))
    return fail_on


def _error_evidence(facts, exc):
    note = note_for(facts, exc.path)
    reason = exc.hint or note_text(note) or 'not reported by the facts module'
    return 'could not read %s (%s)' % (exc.path, reason)


# Controls that read libvirt domain (or network) XML: an unparsable file there means the
# evaluation saw only part of the picture.
DOMAIN_CONTROLS = frozenset([
    'HVS-IOMMU-16', 'HVS-IOMMU-17', 'HVS-VFIO-06', 'HVS-VSW-10', 'HVS-VSW-11', 'HVS-VSW-12',
    'HVS-MGMT-05', 'HVS-MGMT-06', 'HVS-MGMT-07',
])


def _xml_errors(facts):
    libvirt = facts.get('libvirt') if isinstance(facts, dict) else None
    if not isinstance(libvirt, dict) or not libvirt.get('installed'):
        return {}
    errors = libvirt.get('domain_errors')
    return errors if isinstance(errors, dict) else {}


def evaluator_for(control):
    """The evaluator of a control record: ``control['evaluator']`` of its area's module; a control
    that ``needs_libvirt`` is not applicable on a host without libvirt."""
    func = AREA_EVALUATORS[control['area']][control['evaluator']]
    if not control.get('needs_libvirt'):
        return func

    @functools.wraps(func)
    def judge(facts, settings, record):
        return na_without_libvirt(facts) or func(facts, settings, record)
    return judge


def evaluate_one(control, facts, settings):
    """(status, evidence) of one control record, without waivers."""
    func = evaluator_for(control)
    try:
        status, evidence = func(facts, settings, control)
    except Unknown as exc:
        return 'error', _error_evidence(facts, exc)
    except Exception as exc:  # pylint: disable=broad-except
        return 'error', 'evaluation failed on malformed facts: %s: %s' % (type(exc).__name__, exc)
    errors = _xml_errors(facts) if control['id'] in DOMAIN_CONTROLS else {}
    if errors:
        unreadable = '; '.join('%s: %s' % (k, errors[k]) for k in sorted(errors))
        if status == 'fail':
            evidence = '%s (also unparsable: %s)' % (evidence, unreadable)
        else:
            status, evidence = 'error', 'could not parse libvirt XML (%s); of the rest: %s' % (unreadable, evidence)
    return status, ' '.join(str(evidence).split())


def evaluate(facts, settings=None, waivers=None, controls=None, today=None):
    """Evaluate every control; return a list of result dicts in catalog order.

    ``today`` (a datetime.date; the local date when None) decides which waivers have expired.
    A control with a waiver has a ``waiver`` record in its result (see :func:`apply_waiver`).
    Raises SettingsError (before evaluating anything) for a bad waiver or setting.
    """
    waived = validate_waivers(waivers)
    settings = validate_settings(merge_settings(default_settings(), settings))
    if today is None:
        today = datetime.date.today()
    if not isinstance(facts, dict):
        facts = {}
    results = []
    for control in controls if controls is not None else CONTROLS:
        status, evidence = evaluate_one(control, facts, settings)
        record = None
        if control['id'] in waived:
            status, evidence, record = apply_waiver(waived[control['id']], status, evidence, today)
        result = {
            'id': control['id'],
            'title': control['title'],
            'area': control['area'],
            'severity': control['severity'],
            'status': status,
            'evidence': evidence,
            'reboot': control['reboot'],
        }
        if record is not None:
            result['waiver'] = record
        results.append(result)
    return results


def gate_failures(results, fail_on):
    """IDs of failed controls at or above severity ``fail_on`` (none -> always empty)."""
    validate_fail_on(fail_on)
    if fail_on == 'none':
        return []
    floor = severity_rank(fail_on)
    return [r['id'] for r in results if r['status'] == 'fail' and severity_rank(r['severity']) >= floor]
