# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OSCAL documents of the catalog and of an audit, built with compliance-trestle's OSCAL models.

- :func:`component_definition`: the control catalog as an OSCAL component definition
  (``docs/oscal/component-definition.json``, written by ``tools/gen_docs.py``). One component,
  the collection; one control implementation against the NIST SP 800-53 Rev. 5 catalog; per
  catalog control one implemented requirement for each SP 800-53 control it maps to, carrying the
  hvsec control ID, severity, area, the SP 800-125A Rev. 1 reference and the remediation.
- :func:`assessment_results`: one audit run (the ``audit.json`` document) as OSCAL assessment
  results (``reports/audit.oscal.json``): one result for the run, an inventory item per host, an
  observation per host and control with its evidence, a finding per failed control; a waiver's
  state, approver, ticket and expiry are properties of its observation.

Every UUID is a name-based UUID (uuid5) in :data:`NAMESPACE`, so the same input gives the same
document. compliance-trestle (and pydantic) are imported inside the functions only: the audit
imports this module only when OSCAL output is asked for, and importing it costs nothing else.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import re
import uuid

# Fixed namespace of every UUID of these documents (itself uuid5(NAMESPACE_URL, HOME)).
HOME = 'https://github.com/hvsec/hypervisor'
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, HOME)
# Namespace of this collection's own OSCAL properties (those OSCAL does not define).
PROP_NS = HOME + '/oscal'
SP800_53_CATALOG = ('https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/'
                    'NIST_SP-800-53_rev5_catalog.json')
CONTROLS_DOC = HOME + '/blob/main/docs/controls.md'
AUDIT_DOC = HOME + '/blob/main/docs/audit.md'
COMPONENT_TITLE = 'hvsec.hypervisor'

NO_PLAN = ('No OSCAL assessment plan: the plan is playbooks/audit.yml, which evaluates every catalog control on '
           'every host.')


def uuid_for(*parts):
    """The UUID of a named thing: uuid5 in NAMESPACE of the parts joined by '/'."""
    return str(uuid.uuid5(NAMESPACE, '/'.join(str(p) for p in parts)))


def sp800_53_id(control):
    """An SP 800-53 control as the OSCAL catalog names it: AC-17 -> ac-17, SC-8(1) -> sc-8.1."""
    match = re.match(r'^([A-Za-z]{2})-(\d+)(?:\((\d+)\))?$', control.strip())
    if not match:
        raise ValueError('not an SP 800-53 control ID: %r' % control)
    family, number, enhancement = match.groups()
    return '%s-%s%s' % (family.lower(), int(number), '.%d' % int(enhancement) if enhancement else '')


# The keys of a control record that the component definition shows; how a control is evaluated
# (evaluator, params, kernel_args) is not part of the document.
DOCUMENT_KEYS = ('id', 'title', 'area', 'severity', 'sp800_125a', 'sp800_53', 'rationale', 'check', 'reboot',
                 'variable', 'remediation')


def catalog_digest(controls):
    """sha256 of the catalog content that the component definition is made of."""
    shown = [dict((key, control.get(key)) for key in DOCUMENT_KEYS) for control in controls]
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode('utf-8')).hexdigest()


def parse_time(value):
    """An aware datetime from ISO 8601 (``2026-01-01T00:00:00Z``) or a datetime (UTC when naive)."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value).strip().replace('Z', '+00:00'))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def models():
    """compliance-trestle's OSCAL models (imported on first use only)."""
    from trestle.oscal import OSCAL_VERSION
    from trestle.oscal import assessment_results as ar
    from trestle.oscal import common
    from trestle.oscal import component
    return OSCAL_VERSION, common, component, ar


def _prop(common, name, value, remarks=None):
    return common.Property(name=name, value=str(value), ns=PROP_NS, remarks=remarks)


def _text(value):
    """A one-line text for fields that forbid newlines or surrounding blanks."""
    return ' '.join(str(value).split()) or '-'


def component_definition(controls, version, last_modified):
    """The catalog as a compliance-trestle ``ComponentDefinition`` model.

    ``controls``: catalog controls (``catalog.CONTROLS``); ``version``: the document's version
    (the collection's); ``last_modified``: when its content last changed (ISO 8601 or datetime).
    """
    oscal_version, common, component, dummy = models()
    component_uuid = uuid_for('component', COMPONENT_TITLE)
    requirements = []
    for control in controls:
        for ref in control['sp800_53']:
            control_id = sp800_53_id(ref)
            props = [_prop(common, 'hvsec-control-id', control['id']),
                     _prop(common, 'severity', control['severity']),
                     _prop(common, 'area', control['area']),
                     _prop(common, 'sp800-125a-rev1', _text(control['sp800_125a'])),
                     _prop(common, 'reboot-to-fix', 'yes' if control['reboot'] else 'no')]
            if control.get('variable'):
                props.append(_prop(common, 'remediation-variable', control['variable']))
            else:
                props.append(_prop(common, 'audit-only', 'yes'))
            requirements.append(component.ImplementedRequirement(
                uuid=uuid_for('implemented-requirement', control['id'], control_id),
                control_id=control_id,
                description='%s %s. %s How it is evaluated: %s' % (
                    control['id'], control['title'], control['rationale'], control['check']),
                props=props,
                links=[common.Link(href='%s#%s' % (CONTROLS_DOC, _anchor(control)), rel='reference',
                                   text='%s in docs/controls.md' % control['id'])],
                remarks='Remediation: %s' % control['remediation'],
            ))
    implementation = component.ControlImplementation(
        uuid=uuid_for('control-implementation', COMPONENT_TITLE, 'sp800-53-rev5'),
        source=SP800_53_CATALOG,
        description='The hvsec.hypervisor controls (NIST SP 800-125A Rev. 1 hypervisor baseline functions) mapped '
                    'to the NIST SP 800-53 Rev. 5 controls they implement: one requirement per hvsec control and '
                    'SP 800-53 control, its hvsec control ID in the property hvsec-control-id.',
        implemented_requirements=requirements,
    )
    summary = ('Audits and hardens KVM/libvirt hypervisor hosts against NIST SP 800-125A Rev. 1: IOMMU and '
               'platform isolation, VFIO passthrough and SR-IOV, virtual switch isolation, management plane. '
               '%d controls; playbooks/audit.yml evaluates every one, the roles remediate those with a '
               'remediation variable.' % len(controls))
    component_props = [_prop(common, 'catalog-controls', len(controls)),
                       _prop(common, 'catalog-sha256', catalog_digest(controls))]
    defined = component.DefinedComponent(
        uuid=component_uuid,
        type='software',
        title='hvsec.hypervisor Ansible collection',
        description=summary,
        purpose='Hypervisor hardening and compliance audit',
        props=component_props,
        links=[common.Link(href=CONTROLS_DOC, rel='reference', text='Control catalog')],
        control_implementations=[implementation],
    )
    digest = catalog_digest(controls)
    return component.ComponentDefinition(
        uuid=uuid_for('component-definition', version, digest),
        metadata=common.Metadata(
            title='hvsec.hypervisor control catalog: KVM/libvirt hypervisor hardening (NIST SP 800-125A Rev. 1)',
            last_modified=parse_time(last_modified),
            version=version,
            oscal_version=oscal_version,
            remarks='Generated by tools/gen_docs.py from plugins/plugin_utils/controls/*.yml. Do not edit: run make docs.',
        ),
        components=[defined],
    )


def _anchor(control):
    """GitHub's anchor of a control's heading in docs/controls.md."""
    heading = '%s: %s' % (control['id'], control['title'])
    return ''.join(ch for ch in heading.lower().replace(' ', '-') if ch.isalnum() or ch in '-_')


def _host_uuid(host):
    return uuid_for('inventory-item', host)


def assessment_results(document, controls, version='unknown'):
    """One audit run (the report document of ``report.build_document``) as a trestle
    ``AssessmentResults`` model: one result, one observation per host and control, one finding per
    control in status ``fail``.

    ``controls``: the catalog (for each control's SP 800-53 mapping); ``version``: the
    collection's version, recorded in the metadata.
    """
    oscal_version, common, dummy, ar = models()
    generated = parse_time(document['generated_at'])
    by_id = dict((c['id'], c) for c in controls)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode('utf-8')).hexdigest()
    doc_uuid = uuid_for('assessment-results', digest)
    result_uuid = uuid_for('result', doc_uuid)
    component_uuid = uuid_for('component', COMPONENT_TITLE)
    hosts = sorted(document['hosts'])

    not_audited = document.get('not_audited') or {}
    inventory = []
    for host in hosts:
        if '.' in host:
            host_props = [common.Property(name='fqdn', value=_text(host))]
        else:
            host_props = [_prop(common, 'inventory-hostname', _text(host))]
        if host in not_audited:
            host_props.append(_prop(common, 'audit-state', 'not-audited', remarks=str(not_audited[host])))
        inventory.append(common.InventoryItem(
            uuid=_host_uuid(host), description='Hypervisor host %s (Ansible inventory name).' % host,
            props=host_props))

    observations, findings = [], []
    for host in hosts:
        subject = common.SubjectReference(subject_uuid=_host_uuid(host), type='inventory-item', title=_text(host))
        for c in document['hosts'][host]['controls']:
            cid, status = c['id'], c['status']
            observation_uuid = uuid_for('observation', result_uuid, host, cid)
            props = [_prop(common, 'hvsec-control-id', cid), _prop(common, 'status', status),
                     _prop(common, 'severity', c.get('severity') or 'unknown')]
            waiver = c.get('waiver') if isinstance(c.get('waiver'), dict) else None
            if waiver:
                props.append(_prop(common, 'waiver-state', waiver.get('state') or 'unknown',
                                   remarks='Waiver reason: %s' % waiver.get('reason')))
                for key in ('approved_by', 'ticket', 'expires'):
                    if waiver.get(key):
                        props.append(_prop(common, 'waiver-%s' % key.replace('_', '-'), _text(waiver[key])))
            observations.append(common.Observation(
                uuid=observation_uuid,
                title=_text('%s on %s: %s' % (cid, host, status)),
                description='%s (%s) on %s: %s.' % (cid, c.get('title'), host, status),
                props=props,
                methods=['TEST'],
                types=['control-objective'],
                subjects=[subject],
                relevant_evidence=[common.RelevantEvidence(description=str(c.get('evidence') or '-'))],
                collected=generated,
                remarks=('Waived (hvsec_waivers): %s' % waiver.get('reason')) if status == 'waived' and waiver else None,
            ))
            if status != 'fail':
                continue
            finding_props = [_prop(common, 'hvsec-control-id', cid), _prop(common, 'severity', c.get('severity') or 'unknown')]
            finding_props += [_prop(common, 'sp800-53-control', sp800_53_id(ref)) for ref in by_id.get(cid, {}).get('sp800_53', [])]
            if waiver and waiver.get('state') == 'expired':
                finding_props.append(_prop(common, 'waiver-state', 'expired', remarks='Waiver expired on %s' % waiver.get('expires')))
            findings.append(common.Finding(
                uuid=uuid_for('finding', result_uuid, host, cid),
                title=_text('%s failed on %s' % (cid, host)),
                description='%s (%s, severity %s) is not met on %s: %s' % (
                    cid, c.get('title'), c.get('severity'), host, c.get('evidence')),
                props=finding_props,
                target=common.FindingTarget(
                    type='objective-id', target_id=cid, title=_text(c.get('title') or cid),
                    status=common.ObjectiveStatus(state='not-satisfied', reason='fail')),
                related_observations=[common.RelatedObservation(observation_uuid=observation_uuid)],
            ))

    selected = sorted(set(sp800_53_id(ref) for c in controls for ref in c['sp800_53']), key=_control_sort_key)
    counts = dict((s, sum(1 for h in hosts for c in document['hosts'][h]['controls'] if c['status'] == s))
                  for s in ('pass', 'fail', 'not_applicable', 'waived', 'error'))
    result_props = [_prop(common, 'result-%s' % k.replace('_', '-'), v) for k, v in counts.items()]
    result_props.append(_prop(common, 'hosts-not-audited', len([h for h in hosts if h in not_audited])))
    if document.get('slice'):
        result_props.append(_prop(common, 'slice', _text(document['slice'])))
    result = ar.Result(
        uuid=result_uuid,
        title='hvsec.hypervisor audit of %d host(s)' % len(hosts),
        description='playbooks/audit.yml: every control of the hvsec.hypervisor catalog evaluated on every host '
                    'from its ansible_facts.hvsec. %s.' % ', '.join('%s %d' % (k, v) for k, v in counts.items()),
        start=generated,
        end=generated,
        props=result_props,
        local_definitions=ar.LocalDefinitions1(
            components=[common.SystemComponent(
                uuid=component_uuid, type='software', title='hvsec.hypervisor Ansible collection',
                description='The audit tool (hvsec.hypervisor %s); its controls are described in '
                            'docs/oscal/component-definition.json.' % version,
                status=common.Status(state='operational'))],
            inventory_items=inventory or None,
        ),
        reviewed_controls=common.ReviewedControls(
            description='The NIST SP 800-53 Rev. 5 controls the hvsec.hypervisor catalog maps to.',
            control_selections=[common.ControlSelections(
                include_controls=[common.SelectControlById(control_id=cid) for cid in selected])]),
        observations=observations or None,
        findings=findings or None,
    )
    return ar.AssessmentResults(
        uuid=doc_uuid,
        metadata=common.Metadata(
            title='hvsec.hypervisor audit results %s' % document['generated_at'],
            last_modified=generated,
            version=_text(version),
            oscal_version=oscal_version,
        ),
        import_ap=ar.ImportAp(href=AUDIT_DOC, remarks=NO_PLAN),
        results=[result],
    )


def _control_sort_key(control_id):
    family, rest = control_id.split('-', 1)
    return [family] + [int(part) for part in rest.split('.')]


def to_json(model):
    """The model as OSCAL JSON (wrapped in its root key, indented), with a final newline."""
    return model.oscal_serialize_json_bytes(pretty=True).decode('utf-8') + '\n'


def collection_version(root):
    """The collection's version: MANIFEST.json of an installed collection, else galaxy.yml."""
    import os
    try:
        with open(os.path.join(root, 'MANIFEST.json')) as handle:
            return str(json.load(handle)['collection_info']['version'])
    except (IOError, OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, 'galaxy.yml')) as handle:
            for line in handle:
                match = re.match(r'^version:\s*["\']?([^"\'\s#]+)', line)
                if match:
                    return match.group(1)
    except (IOError, OSError):
        pass
    return 'unknown'
