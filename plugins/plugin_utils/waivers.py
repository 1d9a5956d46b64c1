# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waivers: an accepted deviation from one control, with its reason and optional expiry date."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import SettingsError

WAIVER_KEYS = ('id', 'reason', 'approved_by', 'ticket', 'expires')


def _waiver_date(value, where):
    """``expires`` as a datetime.date: a YAML date or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime.datetime):
        raise SettingsError('%s.expires must be a date (YYYY-MM-DD) without a time, got %s' % (where, value))
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.datetime.strptime(value.strip(), '%Y-%m-%d').date()
        except ValueError:
            pass
    raise SettingsError('%s.expires must be a date (YYYY-MM-DD), got %r' % (where, value))


def _waiver_text(value, where, key):
    """An optional text field (approved_by, ticket): a non-empty string (a ticket may be a number)."""
    if key == 'ticket' and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise SettingsError('%s.%s must be a non-empty string, got %r' % (where, key, value))
    return value.strip()


def validate_waivers(waivers, known_ids=None):
    """Return a normalized {id: waiver} dict; raise SettingsError naming the item and the field.

    A waiver is ``{id, reason}`` with the optional ``approved_by``, ``ticket`` and ``expires``
    (a date, ``YYYY-MM-DD``; the waiver holds through that day). The normalized waiver has all
    four keys (``None`` for the missing ones; ``expires`` a ``datetime.date``).
    """
    known = set(known_ids if known_ids is not None else BY_ID)
    if waivers is None:
        return {}
    if not isinstance(waivers, list):
        raise SettingsError('waivers must be a list of {id, reason} dicts, got %s' % type(waivers).__name__)
    out = {}
    for index, item in enumerate(waivers):
        where = 'waivers[%d]' % index
        if not isinstance(item, dict):
            raise SettingsError('%s must be a dict with keys id and reason' % where)
        unknown_keys = sorted(str(k) for k in set(item) - set(WAIVER_KEYS))
        if unknown_keys:
            raise SettingsError('%s has unknown key(s) %s (allowed: %s)' % (
                where, ', '.join(unknown_keys), ', '.join(WAIVER_KEYS)))
        cid = item.get('id')
        reason = item.get('reason')
        if not isinstance(cid, str) or not cid:
            raise SettingsError('%s.id must be a control ID string' % where)
        if cid not in known:
            raise SettingsError('%s.id %s is not a known control ID' % (where, cid))
        if not isinstance(reason, str) or not reason.strip():
            raise SettingsError('%s (%s) needs a non-empty reason' % (where, cid))
        waiver = {'reason': reason.strip(), 'approved_by': None, 'ticket': None, 'expires': None}
        for key in ('approved_by', 'ticket'):
            if item.get(key) is not None:
                waiver[key] = _waiver_text(item[key], where, key)
        if item.get('expires') is not None:
            waiver['expires'] = _waiver_date(item['expires'], where)
        out[cid] = waiver
    return out


def _waiver_details(waiver):
    parts = []
    if waiver.get('approved_by'):
        parts.append('approved by %s' % waiver['approved_by'])
    if waiver.get('ticket'):
        parts.append('ticket %s' % waiver['ticket'])
    if waiver.get('expires'):
        parts.append('expires %s' % waiver['expires'].isoformat())
    return ' [%s]' % '; '.join(parts) if parts else ''


def waiver_in_force(waiver, today):
    """True while a normalized waiver applies on the date ``today`` (through its expiry day)."""
    expires = waiver.get('expires')
    return expires is None or today <= expires


def apply_waiver(waiver, status, evidence, today):
    """(status, evidence, waiver record) of a control with a waiver, on the date ``today``.

    - expired (``today`` after ``expires``): the waiver no longer applies; the control keeps its
      evaluated status (a failing control is ``fail`` again) and the evidence says when it expired;
    - unneeded: the control passes (or does not apply) without it; status unchanged, the evidence
      says so;
    - active: status ``waived``, the evidence keeps the reason and what the evaluation found.

    The record (``waiver`` in the result) has reason, approved_by, ticket, expires (ISO date or
    None) and ``state`` (active, expired or unneeded).
    """
    expires = waiver.get('expires')
    record = dict(waiver, expires=expires.isoformat() if expires else None)
    if not waiver_in_force(waiver, today):
        record['state'] = 'expired'
        evidence = '%s (waiver expired on %s: %s%s)' % (
            evidence, expires.isoformat(), waiver['reason'], _waiver_details(dict(waiver, expires=None)))
    elif status in ('pass', 'not_applicable'):
        record['state'] = 'unneeded'
        evidence = '%s (waiver unneeded: %s without it; waiver: %s%s)' % (
            evidence, status, waiver['reason'], _waiver_details(waiver))
    else:
        record['state'] = 'active'
        evidence = 'waived: %s%s (would be: %s - %s)' % (waiver['reason'], _waiver_details(waiver), status, evidence)
        status = 'waived'
    return status, evidence, record
