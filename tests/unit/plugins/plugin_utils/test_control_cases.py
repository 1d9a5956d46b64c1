# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each control's pass/fail cases, stated as data (control_cases/<area>.yml), run through the engine.

A case names a control, a minimal ``facts`` mapping (the shape of ``ansible_facts.hvsec``),
optional ``settings`` (role variables, merged over the defaults by the engine), the status the
control must then have and a fragment its evidence must contain. A fragment that starts with
``^`` must start the evidence, one that ends with ``$`` must end it (``^...$``: the whole
evidence). Every control needs at least one passing and one non-passing case, so a new control
without cases fails this suite.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os

import pytest
import yaml

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import catalog, evaluate

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'control_cases')
CASE_KEYS = set(('control', 'name', 'facts', 'settings', 'status', 'evidence'))
STATUSES = ('pass', 'fail', 'not_applicable', 'error')


def _load_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(CASES_DIR, '*.yml'))):
        with open(path) as handle:
            doc = yaml.safe_load(handle)
        area = os.path.basename(path)[:-len('.yml')]
        assert isinstance(doc, dict) and doc.get('area') == area, '%s: needs area: %s' % (path, area)
        for case in doc.get('cases') or []:
            case = dict(case)
            case['file'] = os.path.basename(path)
            cases.append(case)
    return cases


CASES = _load_cases()


def evidence_matches(fragment, evidence):
    """True when ``evidence`` has ``fragment``; ``^`` anchors it at the start, ``$`` at the end."""
    text = fragment[1:] if fragment.startswith('^') else fragment
    text = text[:-1] if text.endswith('$') else text
    if fragment.startswith('^') and not evidence.startswith(text):
        return False
    if fragment.endswith('$') and not evidence.endswith(text):
        return False
    return text in evidence


def _case_id(case):
    return '%s-%s' % (case.get('control'), case.get('name'))


def test_cases_are_well_formed():
    problems = []
    for case in CASES:
        where = '%s %s' % (case['file'], _case_id(case))
        keys = set(case) - set(['file'])
        if keys - CASE_KEYS or not set(('control', 'name', 'facts', 'status', 'evidence')) <= keys:
            problems.append('%s: keys %s' % (where, sorted(keys)))
        if not isinstance(case.get('name'), str) or not case.get('name'):
            problems.append('%s: name must be a string (quote on/off/yes/no)' % where)
        if case.get('status') not in STATUSES:
            problems.append('%s: status %r' % (where, case.get('status')))
        if not isinstance(case.get('facts'), dict) or not isinstance(case.get('settings') or {}, dict):
            problems.append('%s: facts and settings are mappings' % where)
        if not str(case.get('evidence') or '').strip():
            problems.append('%s: empty evidence fragment' % where)
        control = catalog.BY_ID.get(case.get('control'))
        if control is None:
            problems.append('%s: unknown control %r' % (where, case.get('control')))
        elif case['file'] != '%s.yml' % control['area']:
            problems.append('%s: %s belongs in %s.yml' % (where, control['id'], control['area']))
    assert problems == []
    ids = [_case_id(c) for c in CASES]
    assert sorted(set(i for i in ids if ids.count(i) > 1)) == []


def test_every_control_has_a_pass_and_a_non_pass_case():
    statuses = {}
    for case in CASES:
        statuses.setdefault(case.get('control'), set()).add(case.get('status'))
    missing = []
    for control in catalog.CONTROLS:
        have = statuses.get(control['id'], set())
        if 'pass' not in have:
            missing.append('%s has no pass case' % control['id'])
        if not have - set(['pass']):
            missing.append('%s has no fail/not_applicable/error case' % control['id'])
    assert missing == []


@pytest.mark.parametrize('case', CASES, ids=[_case_id(c) for c in CASES])
def test_control_case(case):
    control = catalog.BY_ID[case['control']]
    results = evaluate.evaluate(case['facts'], case.get('settings') or {}, [], controls=[control], today='2026-01-01')
    assert len(results) == 1
    result = results[0]
    assert result['id'] == control['id']
    assert (result['status'], evidence_matches(case['evidence'], result['evidence'])) == (case['status'], True), \
        result['evidence']


@pytest.mark.parametrize('fragment,result', [
    ('remapping', True), ('^interrupt', True), ('^remapping', False), ('active$', True), ('interrupt$', False),
    ('^interrupt remapping active$', True), ('^interrupt remapping$', False), ('^interrupt remapping active (x)$', False),
])
def test_evidence_fragments_and_anchors(fragment, result):
    assert evidence_matches(fragment, 'interrupt remapping active') is result
