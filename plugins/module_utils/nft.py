# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The loaded nftables ruleset from ``nft -j list ruleset`` (libnftables-json(5)).

The JSON is one object ``{"nftables": [...]}`` whose items are ``{"metainfo": ...}``,
``{"table": ...}``, ``{"chain": ...}``, ``{"rule": ...}``, ``{"set": ...}`` and so on.
:func:`parse_ruleset` turns it into the tables with their chains, and every rule rendered
back into nft's own syntax (the part of it the controls read: matches on payload, meta
and ct keys, sets, prefixes, ranges and the usual statements). An expression outside that
part is rendered as its JSON key in angle brackets, so a rule is never dropped silently.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

ARGS = ('-j', 'list', 'ruleset')

# meta keys nft prints without the "meta" keyword
_BARE_META = ('iif', 'oif', 'iifname', 'oifname', 'iiftype', 'oiftype')
_NAME_KEYS = ('iif', 'oif', 'iifname', 'oifname')
_VERDICTS = ('accept', 'drop', 'continue', 'return', 'queue')


def _value(value, quote=False):
    """A right-hand side value (atom, set, prefix, range, list of flags)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return '"%s"' % value if quote and not value.startswith('@') else value
    if isinstance(value, list):
        return ','.join(_value(v, quote) for v in value)
    if isinstance(value, dict):
        if 'set' in value:
            items = value['set'] if isinstance(value['set'], list) else [value['set']]
            return '{ %s }' % ', '.join(_value(v, quote) for v in items)
        if 'prefix' in value and isinstance(value['prefix'], dict):
            return '%s/%s' % (_value(value['prefix'].get('addr')), value['prefix'].get('len'))
        if 'range' in value and isinstance(value['range'], list) and len(value['range']) == 2:
            return '%s-%s' % (_value(value['range'][0], quote), _value(value['range'][1], quote))
        if 'elem' in value and isinstance(value['elem'], dict):
            return _value(value['elem'].get('val'), quote)
        kind = next(iter(value)) if len(value) == 1 else '?'
        if kind in ('?', 'prefix', 'range'):
            return '<%s>' % kind    # malformed: expression() would hand it back here, forever
        return expression(value)
    return '?'


def expression(expr):
    """A left-hand side (or any non-statement) expression in nft syntax."""
    if not isinstance(expr, dict) or len(expr) != 1:
        return _value(expr)
    (kind, body), = expr.items()
    if kind == 'payload' and isinstance(body, dict):
        if 'protocol' in body:
            return '%s %s' % (body.get('protocol'), body.get('field'))
        return '@%s,%s,%s' % (body.get('base'), body.get('offset'), body.get('len'))
    if kind == 'meta' and isinstance(body, dict):
        key = body.get('key')
        return key if key in _BARE_META else 'meta %s' % key
    if kind == 'ct' and isinstance(body, dict):
        words = ['ct']
        if body.get('dir'):
            words.append(str(body['dir']))
        words.append(str(body.get('key')))
        return ' '.join(words)
    if kind in ('set', 'prefix', 'range'):
        return _value(expr)
    return '<%s>' % kind


def _statement(stmt):
    if not isinstance(stmt, dict) or len(stmt) != 1:
        return '<?>'
    (kind, body), = stmt.items()
    if kind == 'match' and isinstance(body, dict):
        left = body.get('left')
        quote = isinstance(left, dict) and isinstance(left.get('meta'), dict) and left['meta'].get('key') in _NAME_KEYS
        op = body.get('op', '==')
        right = _value(body.get('right'), quote)
        if op in ('==', 'in'):
            return '%s %s' % (expression(left), right)
        return '%s %s %s' % (expression(left), op, right)
    if kind in _VERDICTS:
        return kind
    if kind in ('jump', 'goto') and isinstance(body, dict):
        return '%s %s' % (kind, body.get('target'))
    if kind == 'reject':
        return 'reject'
    if kind == 'xt' and isinstance(body, dict):
        return 'xt %s %s' % (body.get('type'), body.get('name'))
    return kind


def render_rule(rule):
    """A rule object's expressions as one line of nft syntax (counters without their numbers)."""
    words = [_statement(stmt) for stmt in rule.get('expr') or []]
    if rule.get('comment'):
        words.append('comment "%s"' % rule['comment'])
    return ' '.join(words)


def parse_ruleset(text):
    """``nft -j list ruleset`` output -> ({'tables': [...], 'ruleset': [...]}, error).

    ``tables`` are "family name" strings in listing order (what ``nft list tables`` prints);
    ``ruleset`` is one dict per table: family, name, comment, chains (name, type, hook,
    priority, policy, devices, rules as text). nft 1.0.6 (Debian 12) leaves the table comment
    and a netdev chain's device out of its JSON: they are null then.
    """
    try:
        data = json.loads(text or '')
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested input
        return None, 'invalid JSON from nft: %s' % exc
    items = data.get('nftables') if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None, 'no "nftables" list in the nft JSON output'
    tables = []
    by_table = {}
    chains = {}
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, obj), = item.items()
        if not isinstance(obj, dict):
            continue
        key = (obj.get('family'), obj.get('table') if kind != 'table' else obj.get('name'))
        if kind == 'table':
            entry = {'family': obj.get('family'), 'name': obj.get('name'), 'comment': obj.get('comment'),
                     'chains': []}
            by_table[key] = entry
            tables.append(entry)
        elif kind == 'chain' and key in by_table:
            devices = obj.get('dev')
            if devices is not None and not isinstance(devices, list):
                devices = [devices]
            chain = {'name': obj.get('name'), 'type': obj.get('type'), 'hook': obj.get('hook'),
                     'priority': obj.get('prio'), 'policy': obj.get('policy'), 'devices': devices, 'rules': []}
            by_table[key]['chains'].append(chain)
            chains[key + (obj.get('name'),)] = chain
        elif kind == 'rule':
            chain = chains.get(key + (obj.get('chain'),))
            if chain is not None:
                chain['rules'].append(render_rule(obj))
    return {'tables': ['%s %s' % (t['family'], t['name']) for t in tables], 'ruleset': tables}, None


def base_chains(ruleset, family, hooks):
    """(table, chain) of the base chains of ``family`` attached to one of ``hooks``."""
    out = []
    for table in ruleset or []:
        if table.get('family') != family:
            continue
        for chain in table.get('chains') or []:
            if chain.get('hook') in hooks:
                out.append((table, chain))
    return out
