# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which controls a hardening run works on: the audit's judgement of the host's facts.

A role skips the tasks of a control the audit judges ``pass`` (or ``waived``: the roles skip
waived controls anyway) and runs the tasks of every other control of its area: ``fail``,
``error`` (evidence missing), ``not_applicable`` and controls without a result. It works on
every control of its area (a full run) when asked to (``hvsec_harden_full``), when the facts
were not gathered in this run (a fact cache could hide drift), or when the role's variables differ
from those its last completed run on the host applied (recorded on the controller): a control the
audit judges pass may still need the new values (an administrator network, an sshd option).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import tempfile

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import AREAS, BY_ID, CONTROLS

# Results that need no work from a role: not_applicable is judged so when the thing the control is
# about is absent or the policy variables switch it off; a role has nothing to enforce there that the
# record of its variables does not already cover (docs/harden.md).
DONE = frozenset(['pass', 'waived', 'not_applicable'])

# Registered results of the collection's facts tasks carry this prefix; harden plans this one.
FACTS_PREFIX = '_hvsec_facts_gathered'
PLAN_PREFIX = '_hvsec_work_'


def area_ids(area):
    """Control IDs of one area in catalog order; ValueError for an unknown area."""
    if area not in AREAS:
        raise ValueError('area must be one of %s, got %r' % (', '.join(AREAS), area))
    return [c['id'] for c in CONTROLS if c['area'] == area]


def facts_digest(facts):
    """A digest of ``ansible_facts.hvsec`` (equal facts, equal digest)."""
    text = json.dumps(facts, sort_keys=True, default=str, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def facts_fresh(facts, task_vars):
    """True when ``facts`` are what a facts task of this collection returned in this run.

    Registered results live only as long as the run (a fact cache keeps facts, not them): facts
    equal to a registered ``_hvsec_facts_gathered*`` result, or to the facts an earlier plan of
    this run found fresh, were gathered in this run.
    """
    if not isinstance(facts, dict):
        return False
    digest = None
    for name, value in task_vars.items():
        if not isinstance(name, str) or not isinstance(value, dict):
            continue
        if name.startswith(FACTS_PREFIX):
            gathered = (value.get('ansible_facts') or {}).get('hvsec') if not value.get('skipped') else None
            if isinstance(gathered, dict):
                digest = digest or facts_digest(facts)
                if facts_digest(gathered) == digest:
                    return True
        elif name.startswith(PLAN_PREFIX) and value.get('fresh') and value.get('facts_digest'):
            digest = digest or facts_digest(facts)
            if value['facts_digest'] == digest:
                return True
    return False


def plan(area, results, full=False, fresh=True, same_input=True):
    """The work of one area's role: a dict with ``todo`` (control IDs to work on, catalog order),
    ``full``, ``reason`` and ``statuses`` (the audit's status of each control of the area).

    ``results`` is the audit's result list (``None`` when the facts could not be judged).
    """
    ids = area_ids(area)
    statuses = {}
    for result in results or []:
        if isinstance(result, dict) and result.get('id') in ids:
            statuses[result['id']] = result.get('status')
    if full:
        reason = 'full run requested (hvsec_harden_full)'
    elif not fresh:
        reason = 'full run: ansible_facts.hvsec was not gathered in this run (a cached copy could hide drift)'
    elif not same_input:
        reason = ('full run: the role\'s variables differ from those of its last completed run on this host '
                  '(or none was recorded on this controller)')
    elif results is None:
        reason = 'full run: no audit judgement of the facts'
    else:
        reason = None
    if reason is not None:
        return {'todo': ids, 'full': True, 'reason': reason, 'statuses': statuses}
    todo = [i for i in ids if statuses.get(i) not in DONE]
    done = len(ids) - len(todo)
    return {'todo': todo, 'full': False, 'statuses': statuses,
            'reason': '%d of %d controls pass, are waived or do not apply: their tasks are skipped' % (done, len(ids))}


def needed(work, ids):
    """True when a task serving the controls ``ids`` must run under the plan ``work``.

    ``ids`` ``'any'``: the task serves the whole role (a lockout guard, a host-side validation):
    it runs when any control of the role is on the to-do list.

    Without a plan (``work`` not a dict with a ``todo`` list, e.g. the plan task was skipped by
    ``--skip-tags always``) every task runs, and so does a task naming a control the catalog
    does not know.
    """
    if not isinstance(work, dict) or not isinstance(work.get('todo'), list) or work.get('full'):
        return True
    if ids == 'any':
        return len(work['todo']) > 0
    if isinstance(ids, str):
        ids = [ids]
    if not ids or any(i not in BY_ID for i in ids):
        return True
    todo = set(work['todo'])
    return any(i in todo for i in ids)


# The variables a role last applied to a host, kept on the controller: a run with other variables
# (a new admin CIDR, an sshd option the audit does not judge) must not skip anything.
STATE_ENV = 'HVSEC_HARDEN_STATE_DIR'
STATE_DEFAULT = os.path.join('~', '.cache', 'hvsec.hypervisor', 'harden-state')
# Variables that say how to run, not what to apply.
NOT_APPLIED = frozenset(['hvsec_harden_full'])


def selection_problem(run_tags, skip_tags):
    """Why a run under this tag selection may have left tasks of the collection's roles out (so it
    must not be recorded as complete), or None. The roles tag their tasks with control IDs, area
    names and ``always``; any other skip tag (Molecule's ``molecule-notest``, a site playbook's own
    tags) deselects none of their tasks."""
    run = sorted(set(run_tags or ['all']))
    if run != ['all']:
        return '--tags %s selects part of the tasks' % ','.join(run)
    ours = [t for t in skip_tags or [] if t == 'always' or t in AREAS or str(t).startswith('HVS-')]
    if ours:
        return '--skip-tags %s leaves tasks out' % ','.join(sorted(set(ours)))
    return None


def state_dir():
    """The directory of the recorded states: $HVSEC_HARDEN_STATE_DIR, else ~/.cache/hvsec.hypervisor/harden-state."""
    return os.path.expanduser(os.environ.get(STATE_ENV) or STATE_DEFAULT)


def input_digest(inp, version=''):
    """A digest of a role's typed variables (those it applies) and the collection's version."""
    applied = dict((k, v) for k, v in (inp or {}).items() if k not in NOT_APPLIED)
    return facts_digest({'input': applied, 'version': version})


def _state_path(host, directory=None):
    safe = re.sub(r'[^A-Za-z0-9_.@-]', '_', str(host)) or '_'
    return os.path.join(directory or state_dir(), safe + '.json')


def recorded(host, area, directory=None):
    """The digest recorded for ``area`` on ``host`` (None when there is none or it is unreadable)."""
    try:
        with open(_state_path(host, directory)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    value = data.get(area) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def record(host, area, digest, directory=None):
    """Record ``digest`` for ``area`` on ``host`` (atomic replace of the host's file)."""
    path = _state_path(host, directory)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        with open(path) as handle:
            data = json.load(handle)
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[area] = digest
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.hvsec-')
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
