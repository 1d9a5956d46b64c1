# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OSCAL documents: every produced document is loaded back with compliance-trestle's models and
checked against the audit (or the catalog) it was made from."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import json
import os
import subprocess
import sys

import pytest

from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.component import ComponentDefinition

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import evaluate as ev
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import report
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID, CONTROLS
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import oscal

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'fixtures', 'audit')
COLLECTION_ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
COMPONENT_DEFINITION = os.path.join(COLLECTION_ROOT, 'docs', 'oscal', 'component-definition.json')
TODAY = datetime.date(2026, 6, 15)


def _load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def _audit():
    """hv1: hardened but for three failing controls, with an active waiver (approver, ticket,
    expiry), an expired one and an unneeded one; hv2: hardened; hv3: unreachable."""
    settings = _load('settings_hardened.json')
    hardened = _load('facts_hardened.json')
    broken = copy.deepcopy(hardened)
    broken['ksm']['run'] = 1                                      # HVS-IOMMU-13 fails
    broken['nftables']['tables'] = []                             # HVS-MGMT-18 fails
    broken['libvirt']['config']['qemu']['migrate_tls_force'] = 0  # HVS-MGMT-08 fails
    waivers = [
        {'id': 'HVS-MGMT-18', 'reason': 'perimeter firewall', 'approved_by': 'Alice', 'ticket': 'SEC-42',
         'expires': '2026-12-31'},
        {'id': 'HVS-IOMMU-13', 'reason': 'density', 'approved_by': 'Bob', 'expires': '2026-06-14'},
        {'id': 'HVS-MGMT-22', 'reason': 'lab clock'},
    ]
    results = {
        'hv1.example.org': ev.evaluate(broken, settings, waivers, today=TODAY),
        'hv2': ev.evaluate(hardened, settings, [], today=TODAY),
        'hv3': report.unreachable_controls('UNREACHABLE: ssh timeout'),
    }
    return report.build_document(results, '2026-06-15T08:00:00Z')


def _read(model, text, tmp_path, name):
    path = tmp_path / name
    path.write_text(text)
    return model.oscal_read(path)


def _props(item):
    return [(p.name, p.value) for p in item.props or []]


@pytest.fixture
def audit():
    return _audit()


@pytest.fixture
def loaded(audit, tmp_path):
    text = oscal.to_json(oscal.assessment_results(audit, CONTROLS, '0.1.0'))
    return _read(AssessmentResults, text, tmp_path, 'audit.oscal.json')


def test_one_result_with_an_observation_per_host_and_control(audit, loaded):
    assert len(loaded.results) == 1
    result = loaded.results[0]
    controls = [(h, c) for h in sorted(audit['hosts']) for c in audit['hosts'][h]['controls']]
    assert len(result.observations) == len(controls) == 3 * len(CONTROLS)
    inventory = dict((item.uuid, item) for item in result.local_definitions.inventory_items)
    seen = []
    for observation, (host, control) in zip(result.observations, controls):
        props = dict(_props(observation))
        assert (props['hvsec-control-id'], props['status']) == (control['id'], control['status'])
        assert observation.relevant_evidence[0].description == control['evidence']
        subject = observation.subjects[0]
        assert subject.subject_uuid in inventory and subject.title == host
        seen.append((subject.title, props['hvsec-control-id']))
    assert seen == [(h, c['id']) for h, c in controls]
    assert result.start == result.end == datetime.datetime(2026, 6, 15, 8, 0, tzinfo=datetime.timezone.utc)


def test_a_finding_for_each_failure_and_none_for_anything_else(audit, loaded):
    result = loaded.results[0]
    failed = [(h, c['id']) for h in sorted(audit['hosts']) for c in audit['hosts'][h]['controls'] if c['status'] == 'fail']
    assert failed == [('hv1.example.org', 'HVS-IOMMU-13'), ('hv1.example.org', 'HVS-MGMT-08')]
    assert len(result.findings) == len(failed)
    observations = dict((o.uuid, o) for o in result.observations)
    for finding, (host, cid) in zip(result.findings, failed):
        assert finding.target.target_id == cid
        assert finding.target.status.state.value == 'not-satisfied'
        observed = observations[finding.related_observations[0].observation_uuid]
        assert dict(_props(observed))['status'] == 'fail' and observed.subjects[0].title == host
        assert sorted(v for n, v in _props(finding) if n == 'sp800-53-control') == sorted(
            oscal.sp800_53_id(ref) for ref in BY_ID[cid]['sp800_53'])
    counts = dict((n, v) for n, v in _props(result))
    assert counts['result-fail'] == str(len(failed))
    assert counts['result-error'] == str(len(CONTROLS))


def test_waivers_are_marked_on_their_observations(loaded):
    result = loaded.results[0]
    by_key = dict(((o.subjects[0].title, dict(_props(o))['hvsec-control-id']), o) for o in result.observations)
    active = by_key[('hv1.example.org', 'HVS-MGMT-18')]
    assert dict(_props(active)) == {
        'hvsec-control-id': 'HVS-MGMT-18', 'status': 'waived', 'severity': BY_ID['HVS-MGMT-18']['severity'],
        'waiver-state': 'active', 'waiver-approved-by': 'Alice', 'waiver-ticket': 'SEC-42',
        'waiver-expires': '2026-12-31'}
    assert active.remarks == 'Waived (hvsec_waivers): perimeter firewall'
    expired = by_key[('hv1.example.org', 'HVS-IOMMU-13')]
    assert dict(_props(expired))['status'] == 'fail' and dict(_props(expired))['waiver-state'] == 'expired'
    assert 'waiver expired on 2026-06-14' in expired.relevant_evidence[0].description
    finding = [f for f in result.findings if f.target.target_id == 'HVS-IOMMU-13'][0]
    assert ('waiver-state', 'expired') in _props(finding)
    unneeded = dict(_props(by_key[('hv1.example.org', 'HVS-MGMT-22')]))
    assert (unneeded['status'], unneeded['waiver-state']) == ('pass', 'unneeded')
    assert not any(n.startswith('waiver') for n, v in _props(by_key[('hv2', 'HVS-MGMT-18')]))


def test_assessment_results_are_deterministic_and_change_with_the_run(audit):
    first = oscal.to_json(oscal.assessment_results(audit, CONTROLS, '0.1.0'))
    assert first == oscal.to_json(oscal.assessment_results(copy.deepcopy(audit), CONTROLS, '0.1.0'))
    later = dict(audit, generated_at='2026-06-16T08:00:00Z')
    second = json.loads(oscal.to_json(oscal.assessment_results(later, CONTROLS, '0.1.0')))['assessment-results']
    assert second['uuid'] != json.loads(first)['assessment-results']['uuid']
    assert second['metadata']['last-modified'] == '2026-06-16T08:00:00+00:00'


def test_reviewed_controls_are_the_sp800_53_controls_of_the_catalog(loaded):
    selection = loaded.results[0].reviewed_controls.control_selections[0]
    ids = [c.control_id for c in selection.include_controls]
    assert sorted(ids) == sorted(set(oscal.sp800_53_id(r) for c in CONTROLS for r in c['sp800_53']))
    assert 'sc-8.1' in ids


@pytest.mark.parametrize('ref,expected', [('AC-17', 'ac-17'), ('SC-8(1)', 'sc-8.1'), ('sc-39', 'sc-39'),
                                          ('SI-02', 'si-2')])
def test_sp800_53_ids_in_the_oscal_catalog_form(ref, expected):
    assert oscal.sp800_53_id(ref) == expected


def test_bad_sp800_53_id_is_refused():
    with pytest.raises(ValueError):
        oscal.sp800_53_id('SC 7')


def test_component_definition_file_loads_with_trestle_and_maps_every_control():
    definition = ComponentDefinition.oscal_read(__import__('pathlib').Path(COMPONENT_DEFINITION))
    component = definition.components[0]
    assert component.uuid == oscal.uuid_for('component', 'hvsec.hypervisor')
    assert dict(_props(component))['catalog-sha256'] == oscal.catalog_digest(CONTROLS)
    implementation = component.control_implementations[0]
    assert implementation.source == oscal.SP800_53_CATALOG
    requirements = implementation.implemented_requirements
    pairs = [(dict(_props(r))['hvsec-control-id'], r.control_id) for r in requirements]
    assert pairs == [(c['id'], oscal.sp800_53_id(ref)) for c in CONTROLS for ref in c['sp800_53']]
    for requirement, (cid, control_id) in zip(requirements, pairs):
        control = BY_ID[cid]
        props = dict(_props(requirement))
        assert requirement.uuid == oscal.uuid_for('implemented-requirement', cid, control_id)
        assert props['sp800-125a-rev1'] == ' '.join(control['sp800_125a'].split())
        assert props['severity'] == control['severity'] and props['area'] == control['area']
        assert props.get('remediation-variable') == control['variable']
        assert requirement.description.startswith('%s %s. ' % (cid, control['title']))
    assert definition.metadata.version == oscal.collection_version(COLLECTION_ROOT)


def test_component_definition_is_deterministic():
    one = oscal.to_json(oscal.component_definition(CONTROLS, '0.1.0', '2026-01-01T00:00:00Z'))
    assert one == oscal.to_json(oscal.component_definition(copy.deepcopy(CONTROLS), '0.1.0', '2026-01-01T00:00:00Z'))
    changed = copy.deepcopy(CONTROLS)
    changed[0]['title'] += ' (changed)'
    other = json.loads(oscal.to_json(oscal.component_definition(changed, '0.1.0', '2026-01-01T00:00:00Z')))
    assert other['component-definition']['uuid'] != json.loads(one)['component-definition']['uuid']
    first = other['component-definition']['components'][0]['control-implementations'][0]['implemented-requirements'][0]
    assert first['uuid'] == oscal.uuid_for('implemented-requirement', CONTROLS[0]['id'],
                                           oscal.sp800_53_id(CONTROLS[0]['sp800_53'][0]))


def test_catalog_digest_follows_what_the_document_shows_only():
    base = oscal.catalog_digest(CONTROLS)
    tuned = copy.deepcopy(CONTROLS)
    tuned[0]['params'] = {'limit': 3}
    tuned[0]['kernel_args'] = [{'absent': ['iommu=off']}]
    tuned[0]['evaluator'] = 'another_name'
    assert oscal.catalog_digest(tuned) == base
    for key in oscal.DOCUMENT_KEYS:
        changed = copy.deepcopy(CONTROLS)
        changed[-1][key] = 'changed %s' % key
        assert oscal.catalog_digest(changed) != base, key


def test_importing_the_module_and_the_audit_action_does_not_import_trestle():
    """The audit pays for compliance-trestle only when OSCAL output is asked for."""
    code = ('import sys\n'
            'from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import oscal\n'
            'from ansible_collections.hvsec.hypervisor.plugins.action import audit_report\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] in ("trestle", "pydantic")))\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'


def test_hosts_not_audited_and_the_slice_are_marked(audit, tmp_path):
    audit = dict(audit, slice='2/4', not_audited={'hv3': 'unreachable: ssh timeout'})
    loaded = _read(AssessmentResults, oscal.to_json(oscal.assessment_results(audit, CONTROLS, '0.1.0')),
                   tmp_path, 'sliced.json')
    result = loaded.results[0]
    items = dict((dict(_props(i)).get('inventory-hostname') or dict(_props(i)).get('fqdn'), i)
                 for i in result.local_definitions.inventory_items)
    assert sorted(items) == ['hv1.example.org', 'hv2', 'hv3']
    marked = [p for p in items['hv3'].props if p.name == 'audit-state']
    assert [(p.value, p.remarks) for p in marked] == [('not-audited', 'unreachable: ssh timeout')]
    assert not [p for p in items['hv2'].props if p.name == 'audit-state']
    props = dict(_props(result))
    assert (props['hosts-not-audited'], props['slice']) == ('1', '2/4')
