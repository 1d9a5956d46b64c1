# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control catalog, loaded from its data: ``controls/<area>.yml``, one record per control.

A record states everything about its control once: ID, title, severity, its NIST SP 800-125A
Rev. 1 place (baseline function HY-BF1..5, an HY-SR number only where it is known with
confidence, and the topic), NIST SP 800-53 Rev. 5 mappings, rationale, the check in words, the
evaluator that judges it from ``ansible_facts.hvsec`` (``plugin_utils/eval_<area>.py``), the
kernel arguments the role writes for it, the role variable that remediates it (none for controls
that are audited only), whether fixing it needs a reboot, and whether the roles judge it in check
mode (``yes``/``partly``/``no``, checked against the roles' tags by tools/gen_docs.py).

Audits, tags, reports, the roles' kernel arguments and ``docs/controls.md`` all read it. The
loader refuses a record with a missing or unknown key, so a mistake in the data fails every test.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re

import yaml

SEVERITIES = ('low', 'medium', 'high', 'critical')
STATUSES = ('pass', 'fail', 'not_applicable', 'waived', 'error')
CHECK_MODE = ('yes', 'partly', 'no')
FUNCTIONS = {
    'HY-BF1': 'VM process isolation',
    'HY-BF2': 'device emulation and access control',
    'HY-BF3': 'execution of privileged operations on behalf of guests',
    'HY-BF4': 'VM lifecycle management',
    'HY-BF5': 'management of the hypervisor platform',
}
CONTROLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'controls')
AUDIT_ONLY = 'Audited only: no playbook can change this (hardware, firmware or administrator decision).'

_REQUIRED = ('id', 'title', 'severity', 'function', 'topic', 'sp800_53', 'rationale', 'check',
             'evaluator', 'check_mode')
_OPTIONAL = ('recommendation', 'variable', 'reboot', 'remediation', 'kernel_args', 'params', 'needs_libvirt')
_KERNEL_ARG_KEYS = ('when', 'present', 'absent')
_ID = re.compile(r'^HVS-[A-Z]+-[0-9]{2}$')


class CatalogError(ValueError):
    """The catalog data is malformed; the message names the file and the record."""


def _check_kernel_args(where, rules):
    if not isinstance(rules, list):
        raise CatalogError('%s: kernel_args must be a list of rules' % where)
    for rule in rules:
        if not isinstance(rule, dict) or set(rule) - set(_KERNEL_ARG_KEYS) or not (rule.get('present') or rule.get('absent')):
            raise CatalogError('%s: each kernel_args rule has present and/or absent (and an optional when)' % where)
        for key in ('present', 'absent'):
            if not all(isinstance(a, str) and a and ' ' not in a for a in rule.get(key, [])):
                raise CatalogError('%s: kernel_args %s holds kernel arguments (strings without spaces)' % (where, key))
        if not isinstance(rule.get('when', {}), dict):
            raise CatalogError('%s: kernel_args when is a mapping of setting to value' % where)


def _record(area, raw, where):
    if not isinstance(raw, dict):
        raise CatalogError('%s: a control record is a mapping' % where)
    missing = [k for k in _REQUIRED if k not in raw]
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if missing or unknown:
        raise CatalogError('%s %s: missing %s, unknown %s' % (where, raw.get('id'), missing or 'none', unknown or 'none'))
    cid = raw['id']
    where = '%s %s' % (where, cid)
    if not _ID.match(cid):
        raise CatalogError('%s: an ID is HVS-<AREA>-<two digits>' % where)
    if raw['severity'] not in SEVERITIES:
        raise CatalogError('%s: severity must be one of %s' % (where, ', '.join(SEVERITIES)))
    if raw['function'] not in FUNCTIONS:
        raise CatalogError('%s: function must be one of %s' % (where, ', '.join(sorted(FUNCTIONS))))
    if raw['check_mode'] not in CHECK_MODE:
        raise CatalogError('%s: check_mode must be one of %s' % (where, ', '.join(CHECK_MODE)))
    if 'kernel_args' in raw:
        _check_kernel_args(where, raw['kernel_args'])
    variable = raw.get('variable')
    if variable is not None and not variable.startswith('hvsec_'):
        raise CatalogError('%s: variable must be a role variable (hvsec_*)' % where)
    sr = raw.get('recommendation')
    return {
        'id': cid,
        'title': raw['title'],
        'area': area,
        'severity': raw['severity'],
        'sp800_125a': '%s (%s)%s: %s' % (raw['function'], FUNCTIONS[raw['function']],
                                         ', %s' % sr if sr else '', raw['topic']),
        'sp800_53': list(raw['sp800_53']),
        'rationale': raw['rationale'],
        'check': raw['check'],
        'reboot': bool(raw.get('reboot', False)),
        'role': area if variable else None,
        'variable': variable,
        'remediation': raw.get('remediation') or (
            'Role hvsec.hypervisor.%s, variable %s.' % (area, variable) if variable else AUDIT_ONLY),
        'evaluator': raw['evaluator'],
        'params': dict(raw.get('params') or {}),
        'kernel_args': list(raw.get('kernel_args') or []),
        'check_mode': raw['check_mode'],
        'needs_libvirt': bool(raw.get('needs_libvirt', False)),
    }


def load(directory=CONTROLS_DIR):
    """(areas, controls): areas as {name: title} in catalog order, controls as a list of records."""
    files = []
    for path in glob.glob(os.path.join(directory, '*.yml')):
        name = os.path.basename(path)
        with open(path) as fh:
            try:
                doc = yaml.safe_load(fh)
            except yaml.YAMLError as exc:
                raise CatalogError('%s: not valid YAML: %s' % (name, exc))
        if not isinstance(doc, dict) or set(doc) != set(('area', 'order', 'title', 'controls')):
            raise CatalogError('%s: an area file has exactly area, order, title and controls' % name)
        if doc['area'] + '.yml' != name:
            raise CatalogError('%s: area %s must be in %s.yml' % (name, doc['area'], doc['area']))
        if not isinstance(doc['controls'] or [], list):
            raise CatalogError('%s: controls is a list of control records' % name)
        files.append((doc['order'], name, doc))
    areas, controls, seen = {}, [], {}
    for _order, name, doc in sorted(files):
        areas[doc['area']] = doc['title']
        for raw in doc['controls'] or []:
            record = _record(doc['area'], raw, name)
            if record['id'] in seen:
                raise CatalogError('%s: %s is defined twice (first in %s)' % (name, record['id'], seen[record['id']]))
            seen[record['id']] = name
            controls.append(record)
    return areas, controls


AREAS, CONTROLS = load()
BY_ID = dict((c['id'], c) for c in CONTROLS)


def controls_for_area(area):
    return [c for c in CONTROLS if c['area'] == area]


def kernel_arg_rules(control, values):
    """The record's ``kernel_args`` rules that apply for ``values`` (role variables, plus ``vendor``
    for the detected IOMMU vendor): a rule applies when every item of its ``when`` equals the value
    of the name it states (a boolean only equals a boolean)."""
    applying = []
    for rule in control['kernel_args']:
        for name, wanted in (rule.get('when') or {}).items():
            actual = values.get(name)
            if actual != wanted or isinstance(actual, bool) != isinstance(wanted, bool):
                break
        else:
            applying.append(rule)
    return applying


def severity_rank(severity):
    """Return 0..3 for a severity name; raise ValueError for an unknown one."""
    return SEVERITIES.index(severity)
