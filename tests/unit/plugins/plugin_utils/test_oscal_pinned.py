# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OSCAL documents of a two-control catalog and a two-host audit, pinned as the JSON they serialise
to: every title, description, property and UUID (the UUIDs recomputed here from their names)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import uuid

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import oscal

NS = 'https://github.com/hvsec/hypervisor/oscal'
SPACE = uuid.uuid5(uuid.NAMESPACE_URL, 'https://github.com/hvsec/hypervisor')


def _uuid(*parts):
    return str(uuid.uuid5(SPACE, '/'.join(parts)))


def _p(name, value, remarks=None, ns=NS):
    out = {'name': name, 'value': value}
    if ns:
        out['ns'] = ns
    if remarks is not None:
        out['remarks'] = remarks
    return out


CATALOG = [
    {'id': 'HVS-A-01', 'title': 'Alpha', 'area': 'iommu', 'severity': 'high', 'sp800_125a': ' HY-BF1\n  (x) ',
     'sp800_53': ['SC-8(1)', 'AC-3'], 'rationale': 'Why alpha.', 'check': 'Reads alpha.', 'reboot': True,
     'variable': 'hvsec_alpha', 'remediation': 'Set alpha.'},
    {'id': 'HVS-A-02', 'title': 'Beta: b', 'area': 'mgmt_plane', 'severity': 'low', 'sp800_125a': 'HY-BF2',
     'sp800_53': ['SC-10', 'SC-7'], 'rationale': 'Why beta.', 'check': 'Reads beta.', 'reboot': False,
     'variable': None, 'remediation': 'None.'},
]


def _audit():
    return {'generated_at': '2026-06-15T08:00:00Z', 'slice': '2', 'not_audited': {'hv2': 'unreachable'},
            'hosts': {'hv2': {'controls': [
                {'id': 'HVS-A-01', 'title': 'Alpha', 'severity': 'high', 'status': 'error', 'evidence': 'x'}]},
                'hv1.example.org': {'controls': [
                    {'id': 'HVS-A-01', 'title': 'Alpha', 'severity': 'high', 'status': 'fail', 'evidence': 'bad',
                     'waiver': {'reason': 'r', 'state': 'expired', 'approved_by': 'Al', 'ticket': None,
                                'expires': '2026-01-01'}},
                    {'id': 'HVS-A-02', 'title': 'Beta', 'severity': None, 'status': 'waived', 'evidence': None,
                     'waiver': {'reason': 'q', 'state': 'active', 'ticket': 'T-1'}},
                    {'id': 'HVS-X-09', 'title': 'Local', 'severity': 'low', 'status': 'fail', 'evidence': 'e',
                     'waiver': {'reason': 's', 'state': None}}]}}}


def _results_json(document, version='1.2.3'):
    return json.loads(oscal.to_json(oscal.assessment_results(document, CATALOG, version)))['assessment-results']


def test_assessment_results_whole_document():
    document = _audit()
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode('utf-8')).hexdigest()
    got = _results_json(document)
    doc_uuid = _uuid('assessment-results', digest)
    result_uuid = _uuid('result', doc_uuid)
    hv1, hv2 = _uuid('inventory-item', 'hv1.example.org'), _uuid('inventory-item', 'hv2')
    when = '2026-06-15T08:00:00+00:00'
    assert got['uuid'] == doc_uuid
    assert got['metadata'] == {'title': 'hvsec.hypervisor audit results 2026-06-15T08:00:00Z', 'last-modified': when,
                               'version': '1.2.3', 'oscal-version': oscal.models()[0]}
    assert got['import-ap'] == {'href': 'https://github.com/hvsec/hypervisor/blob/main/docs/audit.md',
                                'remarks': 'No OSCAL assessment plan: the plan is playbooks/audit.yml, which evaluates '
                                           'every catalog control on every host.'}
    assert len(got['results']) == 1
    result = got['results'][0]
    observations = result.pop('observations')
    findings = result.pop('findings')
    assert result == {
        'uuid': result_uuid,
        'title': 'hvsec.hypervisor audit of 2 host(s)',
        'description': 'playbooks/audit.yml: every control of the hvsec.hypervisor catalog evaluated on every host from '
                       'its ansible_facts.hvsec. pass 0, fail 2, not_applicable 0, waived 1, error 1.',
        'start': when, 'end': when,
        'props': [_p('result-pass', '0'), _p('result-fail', '2'), _p('result-not-applicable', '0'),
                  _p('result-waived', '1'), _p('result-error', '1'), _p('hosts-not-audited', '1'), _p('slice', '2')],
        'local-definitions': {
            'components': [{'uuid': _uuid('component', 'hvsec.hypervisor'), 'type': 'software',
                            'title': 'hvsec.hypervisor Ansible collection',
                            'description': 'The audit tool (hvsec.hypervisor 1.2.3); its controls are described in '
                                           'docs/oscal/component-definition.json.',
                            'status': {'state': 'operational'}}],
            'inventory-items': [
                {'uuid': hv1, 'description': 'Hypervisor host hv1.example.org (Ansible inventory name).',
                 'props': [_p('fqdn', 'hv1.example.org', ns=None)]},
                {'uuid': hv2, 'description': 'Hypervisor host hv2 (Ansible inventory name).',
                 'props': [_p('inventory-hostname', 'hv2'), _p('audit-state', 'not-audited', 'unreachable')]}]},
        'reviewed-controls': {
            'description': 'The NIST SP 800-53 Rev. 5 controls the hvsec.hypervisor catalog maps to.',
            'control-selections': [{'include-controls': [{'control-id': c} for c in ('ac-3', 'sc-7', 'sc-8.1', 'sc-10')]}]},
    }

    def observation(host, host_uuid, cid, title, status, props, evidence, remarks=None):
        out = {'uuid': _uuid('observation', result_uuid, host, cid), 'title': '%s on %s: %s' % (cid, host, status),
               'description': '%s (%s) on %s: %s.' % (cid, title, host, status), 'props': props,
               'methods': ['TEST'], 'types': ['control-objective'],
               'subjects': [{'subject-uuid': host_uuid, 'type': 'inventory-item', 'title': host}],
               'relevant-evidence': [{'description': evidence}], 'collected': when}
        if remarks:
            out['remarks'] = remarks
        return out

    assert observations == [
        observation('hv1.example.org', hv1, 'HVS-A-01', 'Alpha', 'fail', [
            _p('hvsec-control-id', 'HVS-A-01'), _p('status', 'fail'), _p('severity', 'high'),
            _p('waiver-state', 'expired', 'Waiver reason: r'), _p('waiver-approved-by', 'Al'),
            _p('waiver-expires', '2026-01-01')], 'bad'),
        observation('hv1.example.org', hv1, 'HVS-A-02', 'Beta', 'waived', [
            _p('hvsec-control-id', 'HVS-A-02'), _p('status', 'waived'), _p('severity', 'unknown'),
            _p('waiver-state', 'active', 'Waiver reason: q'), _p('waiver-ticket', 'T-1')], '-',
            'Waived (hvsec_waivers): q'),
        observation('hv1.example.org', hv1, 'HVS-X-09', 'Local', 'fail', [
            _p('hvsec-control-id', 'HVS-X-09'), _p('status', 'fail'), _p('severity', 'low'),
            _p('waiver-state', 'unknown', 'Waiver reason: s')], 'e'),
        observation('hv2', hv2, 'HVS-A-01', 'Alpha', 'error', [
            _p('hvsec-control-id', 'HVS-A-01'), _p('status', 'error'), _p('severity', 'high')], 'x'),
    ]
    assert findings == [
        {'uuid': _uuid('finding', result_uuid, 'hv1.example.org', 'HVS-A-01'),
         'title': 'HVS-A-01 failed on hv1.example.org',
         'description': 'HVS-A-01 (Alpha, severity high) is not met on hv1.example.org: bad',
         'props': [_p('hvsec-control-id', 'HVS-A-01'), _p('severity', 'high'), _p('sp800-53-control', 'sc-8.1'),
                   _p('sp800-53-control', 'ac-3'), _p('waiver-state', 'expired', 'Waiver expired on 2026-01-01')],
         'target': {'type': 'objective-id', 'target-id': 'HVS-A-01', 'title': 'Alpha',
                    'status': {'state': 'not-satisfied', 'reason': 'fail'}},
         'related-observations': [{'observation-uuid': observations[0]['uuid']}]},
        {'uuid': _uuid('finding', result_uuid, 'hv1.example.org', 'HVS-X-09'),
         'title': 'HVS-X-09 failed on hv1.example.org',
         'description': 'HVS-X-09 (Local, severity low) is not met on hv1.example.org: e',
         'props': [_p('hvsec-control-id', 'HVS-X-09'), _p('severity', 'low')],
         'target': {'type': 'objective-id', 'target-id': 'HVS-X-09', 'title': 'Local',
                    'status': {'state': 'not-satisfied', 'reason': 'fail'}},
         'related-observations': [{'observation-uuid': observations[2]['uuid']}]},
    ]


def test_assessment_results_of_a_run_without_results():
    got = _results_json({'generated_at': '2026-06-15T08:00:00', 'hosts': {}}, ' 9.9 ')
    result = got['results'][0]
    assert got['metadata']['version'] == '9.9' and got['metadata']['last-modified'] == '2026-06-15T08:00:00+00:00'
    assert 'observations' not in result and 'findings' not in result
    assert 'inventory-items' not in result['local-definitions']
    assert result['title'] == 'hvsec.hypervisor audit of 0 host(s)'
    assert [p['name'] for p in result['props']][-1] == 'hosts-not-audited'
    assert oscal.assessment_results({'generated_at': '2026-01-01T00:00:00Z', 'hosts': {}}, CATALOG) \
        .metadata.version == 'unknown'


def test_observation_without_severity_or_status_fields_and_a_failed_control_without_title():
    document = {'generated_at': '2026-06-15T08:00:00Z', 'hosts': {'h': {'controls': [
        {'id': 'HVS-A-02', 'status': 'fail', 'evidence': 'e', 'waiver': {}},
        {'id': 'HVS-A-01', 'status': 'waived', 'evidence': 'w', 'waiver': {'state': 'active'}},
        {'id': 'HVS-Z-01', 'status': 'pass', 'evidence': 'p', 'waiver': 'not a mapping'}]}}}
    result = _results_json(document)['results'][0]
    first, second, third = result['observations']
    assert third['props'] == [_p('hvsec-control-id', 'HVS-Z-01'), _p('status', 'pass'), _p('severity', 'unknown')]
    assert first['props'] == [_p('hvsec-control-id', 'HVS-A-02'), _p('status', 'fail'), _p('severity', 'unknown')]
    assert second['remarks'] == 'Waived (hvsec_waivers): None'
    finding = result['findings'][0]
    assert finding['target']['title'] == 'HVS-A-02'
    assert finding['props'] == [_p('hvsec-control-id', 'HVS-A-02'), _p('severity', 'unknown'),
                                _p('sp800-53-control', 'sc-10'), _p('sp800-53-control', 'sc-7')]
    assert finding['description'] == 'HVS-A-02 (None, severity None) is not met on h: e'


def test_component_definition_whole_document():
    got = json.loads(oscal.to_json(oscal.component_definition(CATALOG, '1.2.3', '2026-01-02T03:04:05Z')))
    got = got['component-definition']
    shown = [dict((k, c.get(k)) for k in ('id', 'title', 'area', 'severity', 'sp800_125a', 'sp800_53', 'rationale',
                                          'check', 'reboot', 'variable', 'remediation')) for c in CATALOG]
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True).encode('utf-8')).hexdigest()
    assert oscal.catalog_digest(CATALOG) == digest
    assert got['uuid'] == _uuid('component-definition', '1.2.3', digest)
    assert got['metadata'] == {
        'title': 'hvsec.hypervisor control catalog: KVM/libvirt hypervisor hardening (NIST SP 800-125A Rev. 1)',
        'last-modified': '2026-01-02T03:04:05+00:00', 'version': '1.2.3', 'oscal-version': oscal.models()[0],
        'remarks': 'Generated by tools/gen_docs.py from plugins/plugin_utils/controls/*.yml. Do not edit: run make docs.'}
    component = got['components'][0]
    implementation = component.pop('control-implementations')
    assert component == {
        'uuid': _uuid('component', 'hvsec.hypervisor'), 'type': 'software',
        'title': 'hvsec.hypervisor Ansible collection',
        'description': 'Audits and hardens KVM/libvirt hypervisor hosts against NIST SP 800-125A Rev. 1: IOMMU and '
                       'platform isolation, VFIO passthrough and SR-IOV, virtual switch isolation, management plane. '
                       '2 controls; playbooks/audit.yml evaluates every one, the roles remediate those with a '
                       'remediation variable.',
        'purpose': 'Hypervisor hardening and compliance audit',
        'props': [_p('catalog-controls', '2'), _p('catalog-sha256', digest)],
        'links': [{'href': 'https://github.com/hvsec/hypervisor/blob/main/docs/controls.md', 'rel': 'reference',
                   'text': 'Control catalog'}]}
    assert len(implementation) == 1
    requirements = implementation[0].pop('implemented-requirements')
    assert implementation[0] == {
        'uuid': _uuid('control-implementation', 'hvsec.hypervisor', 'sp800-53-rev5'),
        'source': 'https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/'
                  'NIST_SP-800-53_rev5_catalog.json',
        'description': 'The hvsec.hypervisor controls (NIST SP 800-125A Rev. 1 hypervisor baseline functions) mapped '
                       'to the NIST SP 800-53 Rev. 5 controls they implement: one requirement per hvsec control and '
                       'SP 800-53 control, its hvsec control ID in the property hvsec-control-id.'}
    doc = 'https://github.com/hvsec/hypervisor/blob/main/docs/controls.md'
    alpha_props = [_p('hvsec-control-id', 'HVS-A-01'), _p('severity', 'high'), _p('area', 'iommu'),
                   _p('sp800-125a-rev1', 'HY-BF1 (x)'), _p('reboot-to-fix', 'yes'),
                   _p('remediation-variable', 'hvsec_alpha')]
    beta_props = [_p('hvsec-control-id', 'HVS-A-02'), _p('severity', 'low'), _p('area', 'mgmt_plane'),
                  _p('sp800-125a-rev1', 'HY-BF2'), _p('reboot-to-fix', 'no'), _p('audit-only', 'yes')]

    def requirement(cid, control_id, description, props, anchor, remarks):
        return {'uuid': _uuid('implemented-requirement', cid, control_id), 'control-id': control_id,
                'description': description, 'props': props,
                'links': [{'href': '%s#%s' % (doc, anchor), 'rel': 'reference', 'text': '%s in docs/controls.md' % cid}],
                'remarks': remarks}
    alpha = 'HVS-A-01 Alpha. Why alpha. How it is evaluated: Reads alpha.'
    beta = 'HVS-A-02 Beta: b. Why beta. How it is evaluated: Reads beta.'
    assert requirements == [
        requirement('HVS-A-01', 'sc-8.1', alpha, alpha_props, 'hvs-a-01-alpha', 'Remediation: Set alpha.'),
        requirement('HVS-A-01', 'ac-3', alpha, alpha_props, 'hvs-a-01-alpha', 'Remediation: Set alpha.'),
        requirement('HVS-A-02', 'sc-10', beta, beta_props, 'hvs-a-02-beta-b', 'Remediation: None.'),
        requirement('HVS-A-02', 'sc-7', beta, beta_props, 'hvs-a-02-beta-b', 'Remediation: None.')]


def test_to_json_is_indented_with_a_final_newline():
    text = oscal.to_json(oscal.assessment_results(_audit(), CATALOG, '1'))
    assert text.startswith('{\n  "assessment-results": {\n    "uuid": ') and text.endswith('}\n')


def test_uuid_and_namespace():
    assert str(oscal.NAMESPACE) == str(SPACE)
    assert oscal.uuid_for('a', 1, 'b') == _uuid('a', '1', 'b')


@pytest.mark.parametrize('value, expected', [
    ('2026-01-02T03:04:05Z', datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)),
    (' 2026-01-02T03:04:05+02:00 ', datetime.datetime(2026, 1, 2, 1, 4, 5, tzinfo=datetime.timezone.utc)),
    ('2026-01-02T03:04:05', datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)),
    (datetime.datetime(2026, 1, 2), datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)),
])
def test_parse_time(value, expected):
    got = oscal.parse_time(value)
    assert got == expected and got.utcoffset() is not None


def test_parse_time_keeps_an_aware_datetime_s_zone():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    assert oscal.parse_time(datetime.datetime(2026, 1, 2, tzinfo=tz)).tzinfo == tz


@pytest.mark.parametrize('ref', ['SC 7', 'S-7', 'SCX-7', 'SC-7(a)', 'SC-', 'SC-7(1)x'])
def test_bad_sp800_53_ids(ref):
    with pytest.raises(ValueError) as exc:
        oscal.sp800_53_id(ref)
    assert str(exc.value) == 'not an SP 800-53 control ID: %r' % ref


def test_sp800_53_id_strips_blanks_and_zeros():
    assert oscal.sp800_53_id(' Sc-08(02) ') == 'sc-8.2'


def test_collection_version_from_manifest_galaxy_or_unknown(tmp_path):
    assert oscal.collection_version(str(tmp_path)) == 'unknown'
    (tmp_path / 'galaxy.yml').write_text('namespace: hvsec\n# version: 0.0.1\nversion: "1.4.0" # current\n')
    assert oscal.collection_version(str(tmp_path)) == '1.4.0'
    (tmp_path / 'galaxy.yml').write_text("name: x\nversion: '2.0.0'\nversion: 3\n")
    assert oscal.collection_version(str(tmp_path)) == '2.0.0'
    (tmp_path / 'galaxy.yml').write_text('name: x\n')
    assert oscal.collection_version(str(tmp_path)) == 'unknown'
    (tmp_path / 'MANIFEST.json').write_text('{"collection_info": {"version": 5}}')
    assert oscal.collection_version(str(tmp_path)) == '5'
    for bad in ('{"collection_info": {}}', '[]', 'not json', '{"collection_info": null}'):
        (tmp_path / 'MANIFEST.json').write_text(bad)
        (tmp_path / 'galaxy.yml').write_text('version: 0.9.0\n')
        assert oscal.collection_version(str(tmp_path)) == '0.9.0', bad
