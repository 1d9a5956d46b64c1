# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers of the audit for fleets: which hosts were really audited in this run,
and the merge of a sliced run's reports into one fleet report.

- :func:`facts_outcome`: what a host's registered ``hypervisor_facts`` result says (audited,
  unreachable, facts failed), so that a host whose facts task did not succeed in *this* run is
  never evaluated from facts an older run left in the fact cache.
- :func:`merge_documents`: the ``audit.json`` documents of the slices of one run (AWX job slicing,
  or ``--limit`` slices run in parallel) as one document with the same content as an unsliced run
  of the same hosts: ``hosts`` and ``not_audited`` are unions, ``slice`` is null; what was merged
  is kept in ``merged_from`` (each slice's label, time and file).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os

UNREACHABLE = 'unreachable'
FACTS_FAILED = 'facts_failed'
AUDITED = 'audited'
NOT_RUN = 'not_run'


class MergeError(ValueError):
    """A slice report that cannot be merged (unreadable, not a report, a host in two slices)."""


def facts_outcome(registered):
    """(outcome, reason) of one host from its registered ``hypervisor_facts`` result.

    ``registered`` is the value of the host's register variable: missing (``None``) when the task
    did not run for the host in this play. Outcomes: ``audited``, ``unreachable`` (the connection
    failed: with ``ignore_unreachable`` the host stays in the play), ``facts_failed`` (the module
    failed: with ``ignore_errors``), ``not_run``.
    """
    if not isinstance(registered, dict):
        return NOT_RUN, 'facts task did not run for this host in this run'
    msg = ' '.join(str(registered.get('msg') or '').split())
    if msg.startswith('Task failed: '):
        msg = msg[len('Task failed: '):]
    if len(msg) > 300:
        msg = msg[:297] + '...'
    if registered.get('unreachable'):
        return UNREACHABLE, 'host unreachable: %s' % (msg or 'no detail')
    if registered.get('failed'):
        return FACTS_FAILED, 'facts task failed: %s' % (msg or 'no detail')
    if registered.get('skipped'):
        return NOT_RUN, 'facts task skipped for this host'
    return AUDITED, ''


def report_files(paths):
    """The ``audit.json`` files named by ``paths``: files, directories holding one, or globs of
    either, in the order given (each glob sorted). Raises MergeError when one matches nothing."""
    out = []
    for path in paths:
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        found = []
        for match in matches:
            candidate = os.path.join(match, 'audit.json') if os.path.isdir(match) else match
            if os.path.isfile(candidate):
                found.append(os.path.abspath(candidate))
        if not found:
            raise MergeError('merge: no audit.json at %s' % path)
        out.extend(f for f in found if f not in out)
    return out


def load_document(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise MergeError('merge: cannot read %s: %s' % (path, exc))
    if not isinstance(data, dict) or not isinstance(data.get('hosts'), dict):
        raise MergeError('merge: %s is not an audit report (no "hosts" mapping)' % path)
    return data


def merge_documents(named_documents, generated_at):
    """[(path, document), ...] -> the fleet document. A host reported by two slices is an error
    (slices overlap, or a report directory was given twice)."""
    if not named_documents:
        raise MergeError('merge: no slice report given')
    hosts, not_audited, owner, merged_from = {}, {}, {}, []
    for path, doc in named_documents:
        for host, data in doc['hosts'].items():
            if host in owner:
                raise MergeError('merge: host %s is in two slice reports (%s and %s)' % (host, owner[host], path))
            owner[host] = path
            hosts[host] = data
        not_audited.update(doc.get('not_audited') or {})
        merged_from.append({'slice': doc.get('slice'), 'generated_at': doc.get('generated_at'), 'file': path,
                            'hosts': len(doc['hosts'])})
    return {
        'generated_at': generated_at,
        'slice': None,
        'not_audited': dict((h, not_audited[h]) for h in sorted(not_audited)),
        'merged_from': merged_from,
        'hosts': dict((h, hosts[h]) for h in sorted(hosts)),
    }
