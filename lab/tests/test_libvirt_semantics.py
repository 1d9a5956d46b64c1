# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt itself as the oracle for our reading of its configuration files (issue 13).

On the lab VM, a separate libvirt daemon (libvirtd, or virtproxyd on a host with only the
modular daemons) is started with a temporary configuration file, and what it really does is
compared with what plugins/module_utils/libvirt_conf.py (the parser behind the facts, the audit
and the libvirt_config module) says the file means:

- a key assigned twice: libvirt uses the FIRST assignment (listen_tcp, tcp_port, auth_tcp), seen
  as the TCP port it listens on (``ss``) and as a client that connects without credentials;
- syntax libvirt accepts (``;``, triple-quoted strings, lists over several lines) and syntax it
  refuses (a comment inside a list, a dotted name, a file of blank lines only), seen as the
  daemon running or stopping with "configuration file syntax error: FILE:LINE".

The lab's own daemons and files are not touched: the test daemon runs unprivileged (user nobody,
libvirt's session mode) with its own HOME/XDG directories, pid file and UNIX sockets in a
temporary directory, and listens on 127.0.0.1 only, on free ports above 40000 (no management
port, none the lab firewall restricts); every value in the files keeps it on loopback, whichever
assignment wins. It is stopped by its pid, and a ``timeout`` ends it anyway after a few minutes;
the temporary directory is removed.

Run (the lab up, `make lab-up`):  .venv/bin/pytest lab/tests/test_libvirt_semantics.py
The same file also runs on any machine with libvirtd installed: ``--hosts=local://`` as root.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import importlib.util
import os
import random
import re
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _load_reader():
    """plugins/module_utils/libvirt_conf.py, loaded from the tree (it imports nothing but re)."""
    path = os.path.join(REPO, 'plugins', 'module_utils', 'libvirt_conf.py')
    spec = importlib.util.spec_from_file_location('hvsec_libvirt_conf_under_test', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


READER = _load_reader()

pytestmark = pytest.mark.skipif(os.environ.get('HVSEC_LAB_VERIFY_PHASE') == 'rebooted',
                                reason="libvirt's parsing does not change across a reboot; proven after converge")

READY_SECONDS = 180     # libvirtd initialises its drivers before it accepts clients (slow under TCG)
LIFETIME_SECONDS = 600  # the daemon ends by itself after this, whatever happens to the test


@pytest.fixture(scope='module')
def daemon_binary(host):
    if host.user().name != 'root':
        pytest.skip('needs root on the host (to start the test daemon as nobody and read ss -p)')
    for tool in ('setpriv', 'setsid', 'ss', 'virsh', 'timeout', 'base64'):
        if not host.exists(tool):
            pytest.skip('%s is not installed on the host' % tool)
    if host.run('id -u nobody').rc != 0:
        pytest.skip('no user nobody on the host')
    for path in ('/usr/sbin/libvirtd', '/usr/sbin/virtproxyd'):
        if host.file(path).exists:
            return path
    pytest.skip('neither libvirtd nor virtproxyd is installed on the host')


def _listening_ports(host):
    ports = set()
    for line in host.check_output('ss -Hltn').splitlines():
        fields = line.split()
        if len(fields) >= 4:
            ports.add(int(fields[3].rsplit(':', 1)[1]))
    return ports


@pytest.fixture
def free_ports(host):
    """Ports that nothing listens on, in 40000-48999 (below the migration range 49152+)."""
    def pick(count):
        taken = _listening_ports(host)
        choices = [p for p in random.sample(range(40000, 49000), 200) if p not in taken]
        return choices[:count]
    return pick


@pytest.fixture(scope='module')
def cache_dir(host, daemon_binary):
    """One XDG cache for the module's daemons: the session QEMU driver probes the emulators'
    capabilities once (slow under TCG) and the later daemons reuse the result."""
    path = host.check_output('mktemp -d /tmp/hvsec-virtconf-cache.XXXXXX').strip()
    host.run_expect([0], 'chown nobody: %s' % path)
    yield path
    if re.match(r'^/tmp/hvsec-virtconf-cache\.[A-Za-z0-9]+$', path):
        host.run('rm -rf %s' % path)


class Daemon(object):
    """One unprivileged libvirt daemon with its own configuration file, on the host."""

    def __init__(self, host, binary, conf_text, cache):
        self.host = host
        self.binary = binary
        self.conf_text = conf_text
        self.cache = cache
        self.dir = None
        self.pid = None
        self.rc = None
        self.log = ''

    # -- shell pieces
    def _env(self):
        d = self.dir
        return ('env -i HOME=%s/home XDG_RUNTIME_DIR=%s/run XDG_CONFIG_HOME=%s/config XDG_CACHE_HOME=%s '
                'LIBVIRT_AUTOSTART=0 PATH=/usr/sbin:/usr/bin:/sbin:/bin' % (d, d, d, self.cache))

    def as_nobody(self, command):
        return 'setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups %s %s' % (self._env(), command)

    def start(self):
        host = self.host
        self.dir = host.check_output('mktemp -d /tmp/hvsec-virtconf.XXXXXX').strip()
        d = self.dir
        conf = base64.b64encode(self.conf_text.encode('utf-8')).decode('ascii')
        wrapper = ('#!/bin/sh\n'
                   'echo $$ > %(d)s/wrapper.pid\n'
                   'timeout %(life)d %(cmd)s %(bin)s -f %(d)s/test.conf --listen -p %(d)s/state/daemon.pid'
                   ' </dev/null >%(d)s/daemon.log 2>&1\n'
                   'echo $? > %(d)s/rc\n') % {
                       'd': d, 'life': LIFETIME_SECONDS, 'bin': self.binary,
                       'cmd': self.as_nobody('')}
        host.run_expect([0], 'cd %s && mkdir home run config state && printf %%s %s | base64 -d > test.conf'
                        ' && chmod 0644 test.conf && chown -R nobody: home run config state'
                        ' && chmod 0755 . && printf %%s %s | base64 -d > run.sh'
                        % (d, conf, base64.b64encode(wrapper.encode('ascii')).decode('ascii')))
        host.run_expect([0], 'setsid -f sh %s/run.sh </dev/null >/dev/null 2>&1' % d)

    def wait(self, ready):
        """Poll until the daemon exited or ``ready()``; returns 'exited' or 'ready'."""
        deadline = time.time() + READY_SECONDS
        while time.time() < deadline:
            rc = self.host.run('cat %s/rc' % self.dir)
            if rc.rc == 0 and rc.stdout.strip():
                self.rc = int(rc.stdout.strip())
                self.log = self.host.run('cat %s/daemon.log' % self.dir).stdout
                return 'exited'
            pid = self.host.run('cat %s/state/daemon.pid' % self.dir).stdout.strip()
            if pid.isdigit():
                self.pid = int(pid)
                if ready():
                    return 'ready'
            time.sleep(1)
        self.log = self.host.run('cat %s/daemon.log' % self.dir).stdout
        raise AssertionError('the test daemon neither exited nor became ready in %d s; log:\n%s'
                             % (READY_SECONDS, self.log[-3000:]))

    def accepts_on_unix_socket(self):
        """The daemon answers on its own UNIX socket: its drivers and services are up."""
        sock = '%s/run/libvirt/libvirt-sock' % self.dir
        return self.host.run('timeout 30 ' + self.as_nobody(
            "virsh -q -c 'test+unix:///default?socket=%s' uri" % sock)).rc == 0

    def tcp_listeners(self):
        """(address, port) of every TCP socket the daemon listens on."""
        out = []
        for line in self.host.check_output('ss -Hltnp').splitlines():
            if re.search(r'pid=%d,' % self.pid, line):
                addr, port = line.split()[3].rsplit(':', 1)
                out.append((addr.strip('[]'), int(port)))
        return sorted(out)

    def connect_without_credentials(self, port):
        """A client with no credentials (stdin closed: nothing to answer a SASL prompt with)."""
        res = self.host.run('timeout 60 ' + self.as_nobody(
            "virsh -q -c 'test+tcp://127.0.0.1:%d/default' uri </dev/null" % port))
        return res.rc == 0, res.stdout + res.stderr

    def stop(self):
        host = self.host
        if self.dir is None:
            return
        try:
            pid = host.run('cat %s/state/daemon.pid' % self.dir).stdout.strip()
            if pid.isdigit() and host.run('test -d /proc/%s' % pid).rc == 0:
                host.run('kill -TERM %s' % pid)
            for dummy in range(30):
                if host.run('test -s %s/rc' % self.dir).rc == 0:
                    break
                time.sleep(1)
            else:
                wrapper = host.run('cat %s/wrapper.pid' % self.dir).stdout.strip()
                if pid.isdigit():
                    host.run('kill -KILL %s' % pid)
                if wrapper.isdigit():
                    host.run('pkill -KILL -P %s' % wrapper)   # its timeout child, by parent pid
        finally:
            if re.match(r'^/tmp/hvsec-virtconf\.[A-Za-z0-9]+$', self.dir):
                host.run('rm -rf %s' % self.dir)


@pytest.fixture
def daemon(host, daemon_binary, cache_dir):
    started = []

    def start(conf_text):
        d = Daemon(host, daemon_binary, conf_text, cache_dir)
        started.append(d)
        d.start()
        return d
    yield start
    for d in started:
        d.stop()


def _syntax_error(log):
    """(line, message) of libvirt's "configuration file syntax error: FILE:LINE: MESSAGE"."""
    m = re.search(r'syntax error: \S+test\.conf:(\d+): ([^:\n]+)', log)
    return (int(m.group(1)), m.group(2)) if m else None


# ------------------------------------------------------------------ duplicate keys
def test_first_assignment_wins_listener_port_and_authentication(daemon, free_ports):
    p1, p2 = free_ports(2)
    conf = ('# hvsec lab test: the first assignments listen without authentication\n'
            'listen_tls = 0\nlisten_addr = "127.0.0.1"\n'
            'listen_tcp = 1\ntcp_port = "%d"\nauth_tcp = "none"\n'
            '# later assignments of the same keys\n'
            'listen_tcp = 0\ntcp_port = "%d"\nauth_tcp = "sasl"\n' % (p1, p2))
    values, errors = READER.parse_libvirt_conf(conf)
    assert errors == []
    d = daemon(conf)
    state = d.wait(lambda: (('127.0.0.1', p1) in d.tcp_listeners() or ('127.0.0.1', p2) in d.tcp_listeners())
                   and d.accepts_on_unix_socket())
    assert state == 'ready', 'libvirt refused the file (rc %s):\n%s' % (d.rc, d.log[-3000:])
    # what libvirt does ...
    listening = d.tcp_listeners()
    unauthenticated, output = d.connect_without_credentials(listening[0][1])
    # ... is what our reader says the file means
    expected = [('127.0.0.1', int(values['tcp_port']))] if values['listen_tcp'] else []
    assert listening == expected == [('127.0.0.1', p1)]
    assert values['auth_tcp'] == 'none'
    assert unauthenticated, output


def test_first_assignment_wins_no_listener(daemon, free_ports):
    p1, p2 = free_ports(2)
    conf = ('listen_tls = 0\nlisten_addr = "127.0.0.1"\n'
            'listen_tcp = 0\ntcp_port = "%d"\n'
            'listen_tcp = 1\ntcp_port = "%d"\nauth_tcp = "none"\n' % (p1, p2))
    values, errors = READER.parse_libvirt_conf(conf)
    assert errors == [] and values['listen_tcp'] == 0
    d = daemon(conf)
    state = d.wait(d.accepts_on_unix_socket)
    assert state == 'ready', 'libvirt refused the file (rc %s):\n%s' % (d.rc, d.log[-3000:])
    assert d.tcp_listeners() == []


# ------------------------------------------------------------------ syntax
def test_syntax_libvirt_accepts_reads_as_we_read_it(daemon, free_ports):
    p1, p2 = free_ports(2)
    conf = ('# separators, triple quotes and a list over several lines\n'
            'listen_tls = 0; listen_addr = "127.0.0.1"\n'
            'listen_tcp = 1; auth_tcp = "none"\n'
            'tcp_port = """%d"""\n'
            'sasl_allowed_username_list = [\n  "nobody",\n  "admin",\n]\n'
            'tcp_port = "%d"\n' % (p1, p2))
    values, errors = READER.parse_libvirt_conf(conf)
    assert errors == []
    assert values['sasl_allowed_username_list'] == ['nobody', 'admin']
    d = daemon(conf)
    state = d.wait(lambda: bool(d.tcp_listeners()) and d.accepts_on_unix_socket())
    assert state == 'ready', 'libvirt refused the file (rc %s):\n%s' % (d.rc, d.log[-3000:])
    assert d.tcp_listeners() == [('127.0.0.1', int(values['tcp_port']))] == [('127.0.0.1', p1)]


@pytest.mark.parametrize('name,body', [
    ('comment inside a list', 'sasl_allowed_username_list = [\n  # admins\n  "admin",\n]\n'),
    ('dotted name', 'log.level = 1\n'),
    ('double separator', 'log_level = 3;;\n'),
])
def test_syntax_libvirt_refuses_is_an_error_on_the_same_line(daemon, free_ports, name, body):
    port, = free_ports(1)
    conf = 'listen_tls = 0\nlisten_addr = "127.0.0.1"\nlisten_tcp = 1\ntcp_port = "%d"\n%s' % (port, body)
    values, errors = READER.parse_libvirt_conf(conf)
    d = daemon(conf)
    state = d.wait(lambda: bool(d.tcp_listeners()))
    assert state == 'exited', '%s: libvirt accepted the file' % name
    found = _syntax_error(d.log)
    assert found is not None, d.log[-3000:]
    assert values == {} and len(errors) == 1, (name, values, errors)
    assert errors[0].startswith('line %d: ' % found[0]), (name, found, errors)


def test_file_of_blank_lines_only_is_refused(daemon):
    values, errors = READER.parse_libvirt_conf('\n\n')
    d = daemon('\n\n')
    assert d.wait(lambda: False) == 'exited'
    found = _syntax_error(d.log)
    assert found is not None and errors and errors[0].startswith('line %d: ' % found[0]), (found, errors, d.log[-2000:])
