# -*- coding: utf-8 -*-
"""The HTML audit report renders and filters in a real headless Chromium.

Chromium (Debian's ``chromium`` package; the test installs it with apt-get when it runs as
root and the browser is missing) is started with loopback-only, no-network flags and driven
over the DevTools protocol through ``--remote-debugging-pipe`` (file descriptors 3 and 4,
NUL-terminated JSON), so no websocket library and no TCP port are needed. The test selects
filters the way a user does (set a <select>, fire ``change``), reads back which rows are
visible and compares them with what the fixture audit says, checks that the page made no
request other than its own file, and keeps screenshots in tests/output/ as artifacts.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'plugins', 'plugin_utils', 'fixtures', 'report_html')
OUTPUT = os.path.join(ROOT, 'tests', 'output')
BAD = ('fail', 'error')


def _import_renderer():
    """Import report_html through an ansible_collections tree that points at this checkout."""
    base = tempfile.mkdtemp(prefix='hvsec-coll-')
    os.makedirs(os.path.join(base, 'ansible_collections', 'hvsec'))
    os.symlink(ROOT, os.path.join(base, 'ansible_collections', 'hvsec', 'hypervisor'))
    sys.path.insert(0, base)
    from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import report_html, catalog
    return report_html, catalog


def _chromium():
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() == 0 and shutil.which('apt-get'):
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        for cmd in (['apt-get', 'install', '-y', '--no-install-recommends', 'chromium'],
                    ['apt-get', 'update'],
                    ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']):
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
            if shutil.which('chromium'):
                return shutil.which('chromium')
    return None


class Browser(object):
    """A minimal DevTools-protocol client over --remote-debugging-pipe."""

    def __init__(self, binary, profile):
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        high_r = os.dup(to_child_r) if to_child_r < 10 else to_child_r
        high_w = os.dup(from_child_w) if from_child_w < 10 else from_child_w
        while high_r < 10:
            high_r = os.dup(high_r)
        while high_w < 10:
            high_w = os.dup(high_w)

        def child_fds():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [binary, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
                '--disable-domain-reliability', '--disable-client-side-phishing-detection',
                '--metrics-recording-only', '--no-pings', '--host-resolver-rules=MAP * ~NOTFOUND',
                '--proxy-server=127.0.0.1:9',
                '--user-data-dir=%s' % profile, '--remote-debugging-pipe', '--window-size=1400,1000',
                'about:blank']
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, pass_fds=(3, 4, high_r, high_w),
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, 'stderr.log'), 'wb'))
        for fd in set((to_child_r, from_child_w, high_r, high_w)):
            os.close(fd)
        self._buf = b''
        self._id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.send('Browser.close', session=False, timeout=10)
        except Exception:  # pylint: disable=broad-except
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._to_child_w)
        os.close(self._from_child_r)

    def _read_message(self, deadline):
        while b'\0' not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError('no DevTools reply in time')
            ready, dummy, dummy = select.select([self._from_child_r], [], [], left)
            if ready:
                chunk = os.read(self._from_child_r, 1 << 20)
                if not chunk:
                    raise RuntimeError('chromium closed the DevTools pipe (exit %s)' % self.proc.poll())
                self._buf += chunk
        raw, self._buf = self._buf.split(b'\0', 1)
        return json.loads(raw.decode('utf-8'))

    def send(self, method, params=None, session=True, timeout=30):
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params or {}}
        if session and self.session:
            msg['sessionId'] = self.session
        os.write(self._to_child_w, json.dumps(msg).encode('utf-8') + b'\0')
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get('id') == self._id:
                if 'error' in reply:
                    raise RuntimeError('%s: %s' % (method, reply['error']))
                return reply.get('result', {})
            self.events.append(reply)

    def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get('method') == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def js(self, expression):
        res = self.send('Runtime.evaluate', {'expression': expression, 'returnByValue': True, 'awaitPromise': True})
        if 'exceptionDetails' in res:
            raise AssertionError('JS error in %r: %s' % (expression, res['exceptionDetails']))
        return res['result'].get('value')

    def open(self, url):
        target = self.send('Target.createTarget', {'url': 'about:blank'}, session=False)
        self.session = self.send('Target.attachToTarget', {'targetId': target['targetId'], 'flatten': True},
                                 session=False)['sessionId']
        self.send('Network.enable')
        self.send('Page.enable')
        self.send('Runtime.enable')
        self.send('Emulation.setDeviceMetricsOverride',
                  {'width': 1400, 'height': 1000, 'deviceScaleFactor': 1, 'mobile': False})
        self.navigate(url)

    def navigate(self, url):
        # A fresh document every time (a fragment-only change would not reload the page).
        for step in ('about:blank', url):
            self.send('Page.navigate', {'url': step})
            self.wait_event('Page.loadEventFired')
        deadline = time.time() + 20
        while self.js("document.body && document.body.dataset.ready") != '1':
            if time.time() > deadline:
                raise AssertionError('page script did not finish (body[data-ready] never became 1)')
            time.sleep(0.1)

    def screenshot(self, path, anchor=None):
        if anchor:
            self.js("document.getElementById(%s).scrollIntoView()" % json.dumps(anchor))
        data = self.send('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': False})['data']
        raw = base64.b64decode(data)
        with open(path, 'wb') as f:
            f.write(raw)
        return raw


VISIBLE_ROWS = "Array.from(document.querySelectorAll('#matrix tbody tr')).filter(r => !r.hidden).map(r => r.dataset.id)"
VISIBLE_DETAIL = ("Array.from(document.querySelectorAll('details.ctl')).filter(d => !d.hidden).flatMap(d => "
                  "Array.from(d.querySelectorAll('tr.hr')).filter(r => !r.hidden).map(r => [r.dataset.host, d.dataset.id]))")


def _set_filters(browser, **values):
    """Select filter values like a user: set each <select> and fire its change event."""
    script = []
    for key in ('area', 'severity', 'status', 'host', 'trend'):
        value = values.get(key, '')
        script.append("(function(){var s=document.getElementById('f-%s'); s.value=%s; "
                      "if(s.value!==%s) throw new Error('no option %s'); s.dispatchEvent(new Event('change'));})();"
                      % (key, json.dumps(value), json.dumps(value), key))
    browser.js(''.join(script))


@pytest.fixture(scope='module')
def docs():
    with open(os.path.join(FIXTURES, 'audit.json')) as f:
        audit = json.load(f)
    with open(os.path.join(FIXTURES, 'audit.previous.json')) as f:
        previous = json.load(f)
    return audit, previous


@pytest.fixture(scope='module')
def page(docs, tmp_path_factory):
    binary = _chromium()
    if binary is None:
        pytest.skip('chromium is not installed and could not be installed (needs root and apt-get)')
    report_html, catalog = _import_renderer()
    audit, previous = docs
    html = report_html.render_html(audit, previous, catalog.CONTROLS)
    work = tmp_path_factory.mktemp('report_html')
    path = work / 'audit.html'
    path.write_text(html, encoding='utf-8')
    profile = str(work / 'profile')
    os.makedirs(profile)
    browser = Browser(binary, profile)
    try:
        browser.open('file://%s' % path)
        yield browser, html, 'file://%s' % path
    finally:
        browser.close()


def _expected(audit, area=None, severity=None, status=None, host=None, pairs=None):
    ids, cells = [], []
    for h, data in sorted(audit['hosts'].items()):
        for c in data['controls']:
            if area and c['area'] != area or severity and c['severity'] != severity:
                continue
            if status and c['status'] != status or host and h != host:
                continue
            if pairs is not None and (h, c['id']) not in pairs:
                continue
            cells.append([h, c['id']])
            ids.append(c['id'])
    order = [c['id'] for d in audit['hosts'].values() for c in d['controls']]
    return sorted(set(ids), key=order.index), cells


def test_self_contained(page):
    dummy, html, dummy = page
    assert 'http://' not in html and 'https://' not in html
    assert "default-src 'none'" in html
    assert '<link' not in html and ' src=' not in html


def test_renders_every_control_and_host(page, docs):
    browser = page[0]
    audit = docs[0]
    ids = browser.js(VISIBLE_ROWS)
    assert ids == [c['id'] for c in audit['hosts']['hv1.example']['controls']]
    hosts = browser.js("Array.from(document.querySelectorAll('#matrix th.h')).map(t => t.dataset.host)")
    assert hosts == sorted(audit['hosts'])
    cells = browser.js("Array.from(document.querySelectorAll('#matrix td.c')).map(td => "
                       "[td.dataset.host, td.closest('tr').dataset.id, td.dataset.status, getComputedStyle(td).backgroundColor])")
    want = dict(((h, c['id']), c['status']) for h, d in audit['hosts'].items() for c in d['controls'])
    assert dict(((h, i), s) for h, i, s, dummy in cells) == want
    # Colour by status: every status has one background colour, and the five differ.
    colours = {}
    for dummy, dummy, s, bg in cells:
        colours.setdefault(s, set()).add(bg)
    assert all(len(v) == 1 for v in colours.values()) and len(set(next(iter(v)) for v in colours.values())) == len(colours)
    assert set(colours) == {'pass', 'fail', 'error', 'not_applicable', 'waived'}
    cards = browser.js("Object.fromEntries(Array.from(document.querySelectorAll('#overview .card')).map("
                       "c => [c.dataset.status, parseInt(c.querySelector('b').textContent)]))")
    for st in cards:
        assert cards[st] == sum(d['summary'].get(st, 0) for d in audit['hosts'].values())
    # The detail of a control carries its catalog reference and remediation variable.
    detail = browser.js("document.getElementById('ctl-HVS-IOMMU-06').innerText")
    assert 'HY-BF2' in detail and 'hvsec_iommu_manage_cmdline' in detail and 'Fix needs a reboot' in detail
    os.makedirs(OUTPUT, exist_ok=True)
    raw = browser.screenshot(os.path.join(OUTPUT, 'report_html_overview.png'))
    assert raw[:8] == b'\x89PNG\r\n\x1a\n' and len(raw) > 10000


def test_filters(page, docs):
    browser = page[0]
    audit = docs[0]
    for filters in ({'area': 'vfio'}, {'severity': 'high', 'status': 'fail'},
                    {'area': 'mgmt_plane', 'status': 'error', 'host': 'hv3.example'},
                    {'status': 'waived'}, {'host': 'hv2.example'}):
        _set_filters(browser, **filters)
        ids, cells = _expected(audit, **filters)
        assert browser.js(VISIBLE_ROWS) == ids, filters
        assert sorted(browser.js(VISIBLE_DETAIL)) == sorted(cells), filters
        for key, value in filters.items():
            assert '%s=%s' % (key, value) in browser.js('location.hash'), filters
    visible_hosts = browser.js("Array.from(document.querySelectorAll('#matrix th.h')).filter(t => !t.hidden).map(t => t.dataset.host)")
    assert visible_hosts == ['hv2.example']
    _set_filters(browser, area='iommu', status='fail')
    browser.screenshot(os.path.join(OUTPUT, 'report_html_filtered.png'), anchor='filters')
    browser.js("document.getElementById('f-reset').click()")
    assert len(browser.js(VISIBLE_ROWS)) == len(audit['hosts']['hv1.example']['controls'])
    assert browser.js('location.hash') == ''


def test_trend_and_fragment(page, docs):
    browser, url = page[0], page[2]
    audit, previous = docs
    before = dict(((h, c['id']), c['status']) for h, d in previous['hosts'].items() for c in d['controls'])
    now = dict(((h, c['id']), c['status']) for h, d in audit['hosts'].items() for c in d['controls'])
    new_fail = set(k for k, s in now.items() if s in BAD and before.get(k) not in BAD)
    fixed = set(k for k, s in now.items() if before.get(k) in BAD and s not in BAD)
    assert new_fail and fixed
    assert browser.js("parseInt(document.getElementById('n-new-fail').textContent)") == len(new_fail)
    assert browser.js("parseInt(document.getElementById('n-fixed').textContent)") == len(fixed)
    # A bookmarked view: the filters come from the URL fragment.
    browser.navigate(url + '#trend=fixed&area=iommu')
    assert browser.js("document.getElementById('f-trend').value") == 'fixed'
    ids, cells = _expected(audit, area='iommu', pairs=fixed)
    assert ids and browser.js(VISIBLE_ROWS) == ids
    assert sorted(browser.js(VISIBLE_DETAIL)) == sorted(cells)
    framed = browser.js("document.querySelectorAll('#matrix td.c.tr-fixed').length")
    assert framed == len(fixed)
    browser.navigate(url + '#trend=new_fail')
    assert sorted(browser.js(VISIBLE_DETAIL)) == sorted([list(k) for k in new_fail])
    browser.screenshot(os.path.join(OUTPUT, 'report_html_trend.png'), anchor='filters')


def test_no_network_requests(page):
    browser, url = page[0], page[2]
    base = url.split('#')[0]
    requests = [ev['params']['request']['url'] for ev in browser.events
                if ev.get('method') == 'Network.requestWillBeSent']
    assert requests, 'no request recorded at all: Network events are not reaching the test'
    assert all(r.split('#')[0] in (base, 'about:blank') for r in requests), requests
