# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure renderer of the self-contained HTML audit report (``reports/audit.html``).

:func:`render_html` takes the audit document written as ``audit.json`` (see
``report.py``), optionally the previous one (``audit.previous.json``) and the control
catalog, and returns one HTML page that loads nothing from the network: CSS and
JavaScript are inline and a Content-Security-Policy forbids every other source.

The page holds
- a fleet overview: a controls x hosts matrix coloured by status, counts per status,
  per area and per severity;
- the trend since the previous audit: newly failing and fixed (host, control) pairs;
- the waivers (when any control has one): per host and control its state (active, expired,
  unneeded), the control's status, reason, approver, ticket and expiry;
- filters by area, severity, status, host and trend. Their state lives in the URL
  fragment (``#area=iommu&status=fail&host=hv1``), so a filtered view can be bookmarked;
- per-control detail: rationale, the SP 800-125A reference, SP 800-53 mappings, the
  remediating variable, whether the fix needs a reboot and, per host, status and
  evidence (and ``reboot_pending`` when the audit reports it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from html import escape

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.report import coverage_line

STATUS_ORDER = ('fail', 'error', 'pass', 'not_applicable', 'waived')
STATUS_LABEL = {'pass': 'pass', 'fail': 'FAIL', 'error': 'ERROR', 'not_applicable': 'n/a', 'waived': 'waived'}
STATUS_SHORT = {'pass': 'P', 'fail': 'F', 'error': 'E', 'not_applicable': '-', 'waived': 'W'}
BAD = ('fail', 'error')
SEVERITY_ORDER = ('critical', 'high', 'medium', 'low')

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:14px 22px}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#c9d1e0;font-size:13px}
main{padding:14px 22px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;margin:0 0 14px}
h2{font-size:16px;margin:0 0 8px}
h3{font-size:14px;margin:0 0 6px}
table{border-collapse:collapse}
th,td{border:1px solid #dde1e8;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
.counts td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{padding:8px 14px;border-radius:6px;min-width:96px;text-align:center}
.card b{display:block;font-size:22px}
.st-pass{background:#d5f0dc;color:#14532d}
.st-fail{background:#f9d2d0;color:#7f1d1d}
.st-error{background:#f7c46c;color:#5c3a00}
.st-not_applicable{background:#e6e8ec;color:#4b5563}
.st-waived{background:#dcd7f5;color:#3b2f80}
.st-missing{background:#fff;color:#9aa1ad}
.filters{display:flex;flex-wrap:wrap;gap:14px;align-items:end}
.filters label{display:flex;flex-direction:column;font-size:12px;color:#4b5563}
.filters select{font-size:14px;padding:2px 4px;min-width:130px}
#matrix-wrap{overflow:auto;max-height:70vh}
#matrix td.c{text-align:center;font-weight:600;min-width:26px;cursor:default}
#matrix th.h{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500}
#matrix th.ctl{position:sticky;left:0;z-index:1;white-space:nowrap}
#matrix td.t{white-space:nowrap;max-width:420px;overflow:hidden;text-overflow:ellipsis}
.tr-new_fail{outline:3px solid #b91c1c;outline-offset:-3px}
.tr-fixed{outline:3px solid #15803d;outline-offset:-3px}
.sev{font-size:11px;padding:1px 6px;border-radius:8px;background:#eef1f5;text-transform:uppercase}
.sev-critical{background:#7f1d1d;color:#fff}.sev-high{background:#dc2626;color:#fff}
.sev-medium{background:#f59e0b;color:#1d2330}.sev-low{background:#cbd5e1}
details.ctl{border-top:1px solid #dde1e8;padding:6px 0}
details.ctl summary{cursor:pointer}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}
dt{color:#4b5563}dd{margin:0}
.ev{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-word}
.muted{color:#6b7280}
.tlist{max-height:260px;overflow:auto}
tr.waiver-expired td.wstate{background:#f9d2d0;color:#7f1d1d;font-weight:600}
tr.waiver-unneeded td.wstate{color:#6b7280}
[hidden]{display:none!important}
"""

_JS = """
(function(){
  var KEYS=['area','severity','status','host','trend'];
  function sel(k){return document.getElementById('f-'+k);}
  function state(){var s={};KEYS.forEach(function(k){s[k]=sel(k).value;});return s;}
  function fromHash(){
    var h=decodeURIComponent((location.hash||'').replace(/^#/,''));
    var s={};h.split('&').forEach(function(p){var i=p.indexOf('=');if(i>0){s[p.slice(0,i)]=p.slice(i+1);}});
    KEYS.forEach(function(k){var e=sel(k);var v=s[k]||'';
      var ok=false;for(var j=0;j<e.options.length;j++){if(e.options[j].value===v){ok=true;}}
      e.value=ok?v:'';});
  }
  function toHash(){
    var s=state();var parts=[];KEYS.forEach(function(k){if(s[k]){parts.push(k+'='+encodeURIComponent(s[k]));}});
    var h=parts.length?'#'+parts.join('&'):' ';
    if(history.replaceState){history.replaceState(null,'',h===' '?location.pathname+location.search:h);}
  }
  function cellOk(e,s){
    return (!s.host||e.dataset.host===s.host)&&(!s.status||e.dataset.status===s.status)
      &&(!s.trend||(s.trend==='changed'?!!e.dataset.trend:e.dataset.trend===s.trend));
  }
  function apply(){
    var s=state();var shown=0;var shownCells=0;
    document.querySelectorAll('#matrix th.h').forEach(function(th){th.hidden=!!s.host&&th.dataset.host!==s.host;});
    document.querySelectorAll('#matrix tbody tr').forEach(function(tr){
      var ctlOk=(!s.area||tr.dataset.area===s.area)&&(!s.severity||tr.dataset.severity===s.severity);
      var any=false;
      tr.querySelectorAll('td.c').forEach(function(td){
        td.hidden=!!s.host&&td.dataset.host!==s.host;
        var m=ctlOk&&cellOk(td,s);
        td.classList.toggle('dim',!m);
        if(m){any=true;shownCells++;}
      });
      tr.hidden=!any;if(any){shown++;}
    });
    document.querySelectorAll('details.ctl').forEach(function(d){
      var ctlOk=(!s.area||d.dataset.area===s.area)&&(!s.severity||d.dataset.severity===s.severity);
      var any=false;
      d.querySelectorAll('tr.hr').forEach(function(r){var m=ctlOk&&cellOk(r,s);r.hidden=!m;if(m){any=true;}});
      d.hidden=!any;
    });
    document.getElementById('shown').textContent=shown+' control(s), '+shownCells+' result(s) shown';
    document.body.dataset.filtered=KEYS.map(function(k){return s[k];}).join('|');
  }
  KEYS.forEach(function(k){sel(k).addEventListener('change',function(){toHash();apply();});});
  document.getElementById('f-reset').addEventListener('click',function(){KEYS.forEach(function(k){sel(k).value='';});toHash();apply();});
  window.addEventListener('hashchange',function(){fromHash();apply();});
  fromHash();apply();
  document.body.dataset.ready='1';
})();
"""

_CSS_DIM = '#matrix td.c.dim{opacity:.18}.coverage{border-left:4px solid #b00020;padding:6px 10px}'


def _e(value):
    return escape('' if value is None else str(value), quote=True)


def _catalog_map(catalog):
    if catalog is None:
        from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import CONTROLS
        catalog = CONTROLS
    if isinstance(catalog, dict):
        return dict(catalog)
    return dict((c['id'], c) for c in catalog)


def _status_map(document):
    """{(host, control_id): status} of an audit document (empty for None or a malformed one)."""
    out = {}
    hosts = (document or {}).get('hosts') if isinstance(document, dict) else None
    if not isinstance(hosts, dict):
        return out
    for host, data in hosts.items():
        for c in (data or {}).get('controls') or []:
            if isinstance(c, dict) and c.get('id'):
                out[(host, c['id'])] = c.get('status')
    return out


def compute_trend(audit, previous):
    """Compare two audit documents.

    Returns a dict with lists of ``{host, id, before, after}``: ``new_fail`` (now fail or
    error, before anything else, a host or control that is new included), ``fixed`` (before
    fail or error, now pass, not_applicable or waived), ``changed`` (any other status change)
    and the sorted lists ``hosts_added`` and ``hosts_removed``. ``None`` when there is no
    previous document.
    """
    if not isinstance(previous, dict):
        return None
    now = _status_map(audit)
    before = _status_map(previous)
    hosts_now = set(key[0] for key in now)
    hosts_before = set(key[0] for key in before)
    trend = {'new_fail': [], 'fixed': [], 'changed': [],
             'hosts_added': sorted(hosts_now - hosts_before),
             'hosts_removed': sorted(hosts_before - hosts_now)}
    for key in sorted(now):
        after = now[key]
        prior = before.get(key)
        if prior == after:
            continue
        item = {'host': key[0], 'id': key[1], 'before': prior, 'after': after}
        if after in BAD and prior not in BAD:
            trend['new_fail'].append(item)
        elif prior in BAD and after not in BAD:
            trend['fixed'].append(item)
        elif prior is not None:
            trend['changed'].append(item)
    return trend


def _trend_index(trend):
    idx = {}
    if trend:
        for kind in ('new_fail', 'fixed', 'changed'):
            for item in trend[kind]:
                idx[(item['host'], item['id'])] = kind
    return idx


def _count_table(title, keys, rows, statuses):
    """rows: {key: {status: n}} -> HTML table with a total column."""
    out = ['<table class="counts"><thead><tr><th>%s</th>' % _e(title)]
    out += ['<th class="st-%s">%s</th>' % (s, _e(STATUS_LABEL.get(s, s))) for s in statuses]
    out.append('<th>total</th></tr></thead><tbody>')
    for key in keys:
        counts = rows.get(key, {})
        out.append('<tr><th>%s</th>' % _e(key))
        out += ['<td class="n">%d</td>' % counts.get(s, 0) for s in statuses]
        out.append('<td class="n">%d</td></tr>' % sum(counts.values()))
    out.append('</tbody></table>')
    return ''.join(out)


def _options(name, label, values, labels=None):
    labels = labels or {}
    opts = ['<option value="">all</option>']
    opts += ['<option value="%s">%s</option>' % (_e(v), _e(labels.get(v, v))) for v in values]
    return '<label>%s<select id="f-%s" name="%s">%s</select></label>' % (_e(label), name, name, ''.join(opts))


def _trend_list(items, catalog):
    if not items:
        return '<p class="muted">none</p>'
    rows = ['<table><thead><tr><th>host</th><th>control</th><th>before</th><th>now</th></tr></thead><tbody>']
    for it in items:
        title = catalog.get(it['id'], {}).get('title', '')
        rows.append('<tr><td>%s</td><td><a href="#ctl-%s" title="%s">%s</a></td><td class="st-%s">%s</td>'
                    '<td class="st-%s">%s</td></tr>' % (
                        _e(it['host']), _e(it['id']), _e(title), _e(it['id']),
                        _e(it['before'] or 'missing'), _e(it['before'] or 'not audited'),
                        _e(it['after']), _e(it['after'])))
    rows.append('</tbody></table>')
    return ''.join(rows)


def _waiver_section(hosts, audit, cat):
    """The waivers of the audit (``waiver`` of each control result): host, control, state, the
    control's status, reason, approver, ticket and expiry. Empty when no control has one."""
    rows = []
    for host in hosts:
        for c in (audit['hosts'][host] or {}).get('controls') or []:
            if isinstance(c, dict) and c.get('id') and isinstance(c.get('waiver'), dict):
                rows.append((host, c, c['waiver']))
    if not rows:
        return ''
    counts = dict((state, sum(1 for r in rows if r[2].get('state') == state)) for state in ('active', 'expired', 'unneeded'))
    out = ['<section id="waivers"><h2>Waivers</h2><p>From <code>hvsec_waivers</code>: <b id="n-waivers-active">%d</b> '
           'active, <b id="n-waivers-expired">%d</b> expired (the control is judged as without it), '
           '<b id="n-waivers-unneeded">%d</b> unneeded (the control passes or does not apply without it).</p>'
           '<table id="waiver-table"><thead><tr><th>host</th><th>control</th><th>waiver</th><th>status</th>'
           '<th>reason</th><th>approved by</th><th>ticket</th><th>expires</th></tr></thead><tbody>' % (
               counts['active'], counts['expired'], counts['unneeded'])]
    for host, c, w in rows:
        state = w.get('state') or ''
        st = c.get('status')
        out.append('<tr class="waiver waiver-%s" data-host="%s" data-id="%s"><td>%s</td><td><a href="#ctl-%s" title="%s">%s</a></td>'
                   '<td class="wstate">%s</td><td class="st-%s">%s</td><td>%s</td><td class="approver">%s</td>'
                   '<td class="ticket">%s</td><td class="expires">%s</td></tr>' % (
                       _e(state), _e(host), _e(c['id']), _e(host), _e(c['id']),
                       _e(cat.get(c['id'], {}).get('title', c.get('title'))), _e(c['id']),
                       _e('EXPIRED' if state == 'expired' else state), _e(st), _e(STATUS_LABEL.get(st, st)),
                       _e(w.get('reason')), _e(w.get('approved_by') or '-'), _e(w.get('ticket') or '-'),
                       _e(w.get('expires') or 'never')))
    out.append('</tbody></table></section>')
    return ''.join(out)


def render_html(audit, previous=None, catalog=None):
    """Render the audit document (and the previous one, for the trend) as one HTML page.

    ``catalog`` is the list of catalog controls (or a dict by ID); ``None`` uses
    ``catalog.CONTROLS``. Controls of the audit that the catalog does not know are still
    shown, with what the audit says about them. Returns the page as text.
    """
    if not isinstance(audit, dict) or not isinstance(audit.get('hosts'), dict):
        raise ValueError('audit: expected a report document with a "hosts" mapping')
    cat = _catalog_map(catalog)
    hosts = sorted(audit['hosts'])
    results = {}
    order = list(cat)
    seen_extra = []
    for host in hosts:
        for c in (audit['hosts'][host] or {}).get('controls') or []:
            if not isinstance(c, dict) or not c.get('id'):
                continue
            results[(host, c['id'])] = c
            if c['id'] not in cat and c['id'] not in seen_extra:
                seen_extra.append(c['id'])
    audited_ids = set(key[1] for key in results)
    order = [cid for cid in order if cid in audited_ids] + seen_extra

    def meta(cid, key, default=''):
        if cid in cat and cat[cid].get(key) is not None:
            return cat[cid][key]
        for host in hosts:
            r = results.get((host, cid))
            if r and r.get(key) is not None:
                return r[key]
        return default

    trend = compute_trend(audit, previous)
    tidx = _trend_index(trend)
    statuses = list(STATUS_ORDER)
    for r in results.values():
        if r.get('status') not in statuses:
            statuses.append(r.get('status'))
    areas = []
    for cid in order:
        a = meta(cid, 'area')
        if a not in areas:
            areas.append(a)
    severities = [s for s in SEVERITY_ORDER if any(meta(cid, 'severity') == s for cid in order)]
    severities += sorted(set(meta(cid, 'severity') for cid in order) - set(severities))

    total = {}
    by_area = {}
    by_sev = {}
    by_host = {}
    for (host, cid), r in results.items():
        st = r.get('status')
        total[st] = total.get(st, 0) + 1
        for bucket, key in ((by_area, meta(cid, 'area')), (by_sev, meta(cid, 'severity')), (by_host, host)):
            bucket.setdefault(key, {})
            bucket[key][st] = bucket[key].get(st, 0) + 1

    source = audit.get('source') or 'audit'
    out = []
    out.append('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    out.append('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
               'style-src \'unsafe-inline\'; script-src \'unsafe-inline\'; img-src data:">')
    out.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    out.append('<title>hvsec.hypervisor audit report (%s)</title>' % _e(audit.get('generated_at')))
    out.append('<style>%s%s</style></head><body data-ready="0">' % (_CSS, _CSS_DIM))
    out.append('<header><h1>hvsec.hypervisor audit report</h1><p>Generated at %s &middot; source: '
               '<span id="source">%s</span> &middot; %d host(s), %d control(s) &middot; NIST SP 800-125A Rev. 1</p>'
               '</header><main>' % (_e(audit.get('generated_at')), _e(source), len(hosts), len(order)))
    coverage = coverage_line(audit)
    if coverage:
        out.append('<p id="coverage" class="coverage"><b>%s</b></p>' % _e(coverage))

    # Overview
    out.append('<section id="overview"><h2>Fleet overview</h2><div class="cards">')
    for st in statuses:
        out.append('<div class="card st-%s" data-status="%s"><b>%d</b>%s</div>' % (
            _e(st), _e(st), total.get(st, 0), _e(STATUS_LABEL.get(st, st))))
    out.append('</div><div class="cards" style="margin-top:10px;align-items:flex-start">')
    out.append(_count_table('area', areas, by_area, statuses))
    out.append(_count_table('severity', severities, by_sev, statuses))
    out.append(_count_table('host', hosts, by_host, statuses))
    out.append('</div></section>')

    # Trend
    out.append('<section id="trend"><h2>Since the previous audit</h2>')
    if trend is None:
        out.append('<p class="muted" id="no-previous">No previous audit to compare with.</p>')
    else:
        out.append('<p>Previous audit: %s. <b id="n-new-fail">%d</b> newly failing, <b id="n-fixed">%d</b> fixed, '
                   '<b id="n-changed">%d</b> other change(s).' % (
                       _e(previous.get('generated_at')), len(trend['new_fail']), len(trend['fixed']),
                       len(trend['changed'])))
        if trend['hosts_added']:
            out.append(' New host(s): %s.' % _e(', '.join(trend['hosts_added'])))
        if trend['hosts_removed']:
            out.append(' Host(s) no longer audited: %s.' % _e(', '.join(trend['hosts_removed'])))
        out.append('</p><div class="cards" style="align-items:flex-start"><div id="trend-new-fail"><h3>Newly failing</h3><div class="tlist">%s</div></div>'
                   '<div id="trend-fixed"><h3>Fixed</h3><div class="tlist">%s</div></div></div>' % (
                       _trend_list(trend['new_fail'], cat), _trend_list(trend['fixed'], cat)))
    out.append('</section>')
    out.append(_waiver_section(hosts, audit, cat))

    # Filters
    out.append('<section id="filters"><h2>Filters</h2><div class="filters">')
    out.append(_options('area', 'Area', areas))
    out.append(_options('severity', 'Severity', severities))
    out.append(_options('status', 'Status', statuses, STATUS_LABEL))
    out.append(_options('host', 'Host', hosts))
    out.append(_options('trend', 'Since previous', ['new_fail', 'fixed', 'changed'],
                        {'new_fail': 'newly failing', 'fixed': 'fixed', 'changed': 'any change'}))
    out.append('<button type="button" id="f-reset">Reset</button><span id="shown" class="muted"></span></div></section>')

    # Matrix
    out.append('<section id="matrix-section"><h2>Controls &times; hosts</h2><p class="muted">'
               'P pass, F fail, E error, - not applicable, W waived; a red frame marks newly failing, a green one fixed.'
               '</p><div id="matrix-wrap"><table id="matrix"><thead><tr><th class="ctl">control</th><th>severity</th><th>title</th>')
    for host in hosts:
        out.append('<th class="h" data-host="%s">%s</th>' % (_e(host), _e(host)))
    out.append('</tr></thead><tbody>')
    for cid in order:
        area, sev = meta(cid, 'area'), meta(cid, 'severity')
        out.append('<tr data-id="%s" data-area="%s" data-severity="%s"><th class="ctl"><a href="#ctl-%s">%s</a></th>'
                   '<td><span class="sev sev-%s">%s</span></td><td class="t" title="%s">%s</td>' % (
                       _e(cid), _e(area), _e(sev), _e(cid), _e(cid), _e(sev), _e(sev),
                       _e(meta(cid, 'title')), _e(meta(cid, 'title'))))
        for host in hosts:
            r = results.get((host, cid))
            if r is None:
                out.append('<td class="c st-missing" data-host="%s" data-status="">?</td>' % _e(host))
                continue
            st = r.get('status')
            tr = tidx.get((host, cid), '')
            ev = str(r.get('evidence') or '')
            tip = '%s on %s: %s - %s' % (cid, host, st, ev if len(ev) <= 300 else ev[:297] + '...')
            out.append('<td class="c st-%s%s" data-host="%s" data-status="%s" data-trend="%s" title="%s">%s</td>' % (
                _e(st), ' tr-' + tr if tr in ('new_fail', 'fixed') else '', _e(host), _e(st), tr, _e(tip),
                _e(STATUS_SHORT.get(st, '?'))))
        out.append('</tr>')
    out.append('</tbody></table></div></section>')

    # Details
    out.append('<section id="details"><h2>Control details</h2>')
    for cid in order:
        area, sev = meta(cid, 'area'), meta(cid, 'severity')
        host_statuses = [results[(h, cid)].get('status') for h in hosts if (h, cid) in results]
        bad = sum(1 for s in host_statuses if s in BAD)
        reboot = meta(cid, 'reboot', None)
        std53 = meta(cid, 'sp800_53', [])
        out.append('<details class="ctl" id="ctl-%s" data-id="%s" data-area="%s" data-severity="%s"%s>'
                   '<summary><b>%s</b> <span class="sev sev-%s">%s</span> %s <span class="muted">(%s; %d of %d host(s) '
                   'fail or error)</span></summary>' % (
                       _e(cid), _e(cid), _e(area), _e(sev), ' open' if bad else '', _e(cid), _e(sev), _e(sev),
                       _e(meta(cid, 'title')), _e(area), bad, len(host_statuses)))
        out.append('<dl>')
        for label, value in (
                ('Rationale', meta(cid, 'rationale', 'not in the catalog')),
                ('NIST SP 800-125A Rev. 1', meta(cid, 'sp800_125a', 'not in the catalog')),
                ('NIST SP 800-53 Rev. 5', ', '.join(std53) if isinstance(std53, list) else std53),
                ('How it is checked', meta(cid, 'check', '')),
                ('Remediating variable', meta(cid, 'variable', None) or 'none (audited only)'),
                ('Remediation', meta(cid, 'remediation', '')),
                ('Fix needs a reboot', 'unknown' if reboot is None else ('yes' if reboot else 'no'))):
            out.append('<dt>%s</dt><dd>%s</dd>' % (_e(label), _e(value)))
        out.append('</dl><table><thead><tr><th>host</th><th>status</th><th>since previous</th>'
                   '<th>reboot pending</th><th>evidence</th></tr></thead><tbody>')
        for host in hosts:
            r = results.get((host, cid))
            if r is None:
                continue
            st = r.get('status')
            tr = tidx.get((host, cid), '')
            pending = r.get('reboot_pending')
            if pending is None:
                pending_text = 'after remediation' if (reboot and st == 'fail') else 'no' if reboot is not None else 'unknown'
            else:
                pending_text = 'yes' if pending else 'no'
            out.append('<tr class="hr" data-host="%s" data-status="%s" data-trend="%s"><td>%s</td>'
                       '<td class="st-%s">%s</td><td>%s</td><td>%s</td><td class="ev">%s</td></tr>' % (
                           _e(host), _e(st), tr, _e(host), _e(st), _e(STATUS_LABEL.get(st, st)),
                           _e({'new_fail': 'newly failing', 'fixed': 'fixed', 'changed': 'changed'}.get(tr, '')),
                           _e(pending_text), _e(r.get('evidence'))))
        out.append('</tbody></table></details>')
    out.append('</section></main><script>%s</script></body></html>\n' % _JS)
    return ''.join(out)
