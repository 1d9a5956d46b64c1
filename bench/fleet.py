# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet benchmark: audit N simulated hosts over real SSH, against a naive baseline.

Each simulated host is a distinct loopback address (127.0.0.2 .. 127.0.0.251, then 127.0.1.2 ..
for more than 250 hosts: every 127.x address is this machine's loopback), served by
local OpenSSH daemons that this script starts and stops itself: one sshd instance per
``--hosts-per-sshd`` (default 10) addresses, each instance with one ``ListenAddress`` line per
address (so the daemons are separate processes with their own logs, but we do not need 100 of
them). Every host is the local machine, so the audit gathers real facts of this machine.

Per N it runs, with the repository's ansible.cfg (pipelining, SSH ControlPersist, forks):
1. ``playbooks/audit.yml`` (one hypervisor_facts call per host, evaluation on the controller);
2. ``bench/fleet_naive.yml``: a naive audit with one remote task per control.
and measures
- wall time of ansible-playbook;
- remote executions per host, really counted on the server side: sshd runs every session
  through a ``ForceCommand`` wrapper that appends the server address the client connected to
  (from SSH_CONNECTION) and the kind of command (python module or other) to a log before it
  execs the original command;
- controller peak memory: the peak over time of the summed PSS (proportional set size, so
  forks sharing pages are not counted twice) of ansible-playbook, its forks and the ssh client
  processes (ControlPersist masters included: this script is a child subreaper so they stay in
  its tree), sampled every 0.25 s from /proc; plus the largest single-process peak RSS
  (``getrusage(RUSAGE_CHILDREN).ru_maxrss``);
- controller CPU time (user + system) of the run, which, unlike wall time, does not depend on
  what else the machine is doing;
- CPU time of the simulated hosts (the sshd instances and every session below them: key
  exchange, the module's Python), which on a real fleet is spent on the hosts, not here;
- the 1-minute load average before and after each run (the machine may be shared).

Only loopback addresses are used. The generated client key is authorised through the
daemons' own ``AuthorizedKeysFile`` (root's ~/.ssh is not touched). When this machine has no
sshd, the Debian openssh-server (and libwrap0) package is downloaded with ``apt-get download``
and unpacked into bench/results/.sshd (no service is installed or started); the privilege
separation user ``sshd`` is created if missing (as the Debian package would).

Everything is torn down on exit (also on Ctrl-C / SIGTERM): ansible runs, ssh masters, sshd
instances, the temporary directory. Results: bench/results/fleet-<UTC time>.{json,md}.

Usage: .venv/bin/python bench/fleet.py [--sizes 10,50,100] [--baseline-sizes 10,50,100]
       [--baseline-timeout 600] [--timeout 900] [--forks N] [--hosts-per-sshd 10]
       [--repeat R] [--audit-playbook FILE] [--slices K]
--slices K also audits each size as K slices run in parallel (``--limit``, round-robin as AWX
job slicing deals hosts out, each with ``hvsec_audit_slice``), merges their reports with
playbooks/audit_merge.yml and checks that the merged report has the same content as the
unsliced run's (times aside); the sizes go up to 1000 hosts (500: ``--sizes 100,500``).
--repeat runs every audit R times (the ratios use the fastest); --audit-playbook times another
playbook in place of playbooks/audit.yml (bench/variants/: the facts task alone, ping, raw, the
former per-host evaluation tasks), e.g. to see what the simulated hosts alone cost. Ansible
settings can be varied through the environment (ANSIBLE_PIPELINING=False, ANSIBLE_SSH_ARGS=...).
A baseline run that exceeds --baseline-timeout is stopped; its wall time is then extrapolated
from the executions it completed (marked "extrapolated" in the table).
"""

import argparse
import ctypes
import datetime
import glob
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
RESULTS = os.path.join(ROOT, 'bench', 'results')
BIN = os.path.join(ROOT, '.venv', 'bin')
PLAYBOOK = os.path.join(ROOT, 'playbooks', 'audit.yml')
MERGE_PLAYBOOK = os.path.join(ROOT, 'playbooks', 'audit_merge.yml')
MAX_HOSTS = 1000
NAIVE = os.path.join(ROOT, 'bench', 'fleet_naive.yml')
PR_SET_CHILD_SUBREAPER = 36
PAGE_KIB = os.sysconf('SC_PAGE_SIZE') // 1024


def log(msg):
    sys.stdout.write('[fleet %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stdout.flush()


# ----------------------------------------------------------------------------- processes
def _proc_table():
    """{pid: (ppid, comm)} of every process."""
    table = {}
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index('(') + 1:data.rindex(')')]
        fields = data[data.rindex(')') + 2:].split()
        table[int(stat.split('/')[2])] = (int(fields[1]), comm)
    return table


def _descendants(table, roots, exclude=()):
    children = {}
    for pid, (ppid, dummy) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = set(), [r for r in roots if r in table and r not in exclude]
    while todo:
        pid = todo.pop()
        if pid in out or pid in exclude:
            continue
        out.add(pid)
        todo.extend(children.get(pid, []))
    return out


def _pss_kib(pid):
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:
        with open('/proc/%d/statm' % pid) as f:
            return int(f.read().split()[1]) * PAGE_KIB
    except (OSError, ValueError):
        return 0


class MemorySampler(threading.Thread):
    """Peak of the summed PSS of the controller-side process tree (ansible + ssh clients)."""

    def __init__(self, root_pids, exclude_trees):
        super(MemorySampler, self).__init__(daemon=True)
        self.root_pids = list(root_pids)
        self.exclude_trees = exclude_trees
        self.peak_kib = 0
        self.peak_procs = 0
        self._halt = threading.Event()

    def run(self):
        me = os.getpid()
        while not self._halt.is_set():
            table = _proc_table()
            excluded = _descendants(table, self.exclude_trees)
            # ansible's tree, plus orphans re-parented to us (ssh ControlPersist masters).
            roots = self.root_pids + [p for p, (pp, comm) in table.items() if pp == me and comm == 'ssh']
            pids = _descendants(table, roots, excluded)
            total = sum(_pss_kib(p) for p in pids)
            if total > self.peak_kib:
                self.peak_kib, self.peak_procs = total, len(pids)
            self._halt.wait(0.25)

    def stop(self):
        self._halt.set()
        self.join(5)


def _kill(pid, sig=signal.SIGTERM):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap_ssh_clients():
    """Stop the ssh client processes (ControlPersist masters) that were re-parented to us."""
    me = os.getpid()
    pids = [p for p, (pp, comm) in _proc_table().items() if pp == me and comm == 'ssh']
    for pid in pids:
        _kill(pid)
    deadline = time.time() + 5
    for pid in pids:
        while time.time() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.05)
        else:
            _kill(pid, signal.SIGKILL)
    return len(pids)


# ----------------------------------------------------------------------------- sshd
def find_sshd(cache):
    """Return (sshd path, extra environment); unpack Debian's package when none is installed."""
    for path in ('/usr/sbin/sshd', shutil.which('sshd') or ''):
        if path and os.access(path, os.X_OK):
            return path, {}
    root = os.path.join(cache, 'root')
    sshd = os.path.join(root, 'usr', 'sbin', 'sshd')
    if not os.path.exists(sshd):
        log('no sshd on this machine: unpacking Debian openssh-server into %s (nothing installed)' % cache)
        os.makedirs(cache, exist_ok=True)
        for pkg in ('openssh-server', 'libwrap0'):
            cmd = ['apt-get', 'download', pkg]
            if subprocess.run(cmd, cwd=cache, check=False, timeout=300, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0:
                # a fresh machine may have no package lists yet
                subprocess.run(['apt-get', 'update', '-qq'], check=True, timeout=600, stdout=subprocess.DEVNULL)
                subprocess.run(cmd, cwd=cache, check=True, timeout=300, stdout=subprocess.DEVNULL)
        for deb in glob.glob(os.path.join(cache, '*.deb')):
            subprocess.run(['dpkg-deb', '-x', deb, root], check=True, timeout=120)
    libdirs = [os.path.join(root, 'usr', 'lib', 'x86_64-linux-gnu'), os.path.join(root, 'lib', 'x86_64-linux-gnu')]
    return sshd, {'LD_LIBRARY_PATH': os.pathsep.join(libdirs)}


def ensure_privsep():
    os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
    if subprocess.run(['getent', 'passwd', 'sshd'], stdout=subprocess.DEVNULL, check=False).returncode != 0:
        log('creating the sshd privilege-separation user (as the Debian package does)')
        subprocess.run(['useradd', '--system', '--no-create-home', '--home-dir', '/run/sshd',
                        '--shell', '/usr/sbin/nologin', 'sshd'], check=True)


def free_port(addresses):
    """A TCP port that is free on every given loopback address."""
    for port in range(23022, 24000, 7):
        socks = []
        try:
            for addr in addresses:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError('no free port on the loopback addresses')


WRAPPER = r'''#!/bin/sh
# Counts every remote execution: server address and kind, then runs the original command.
set -- $SSH_CONNECTION
case "$SSH_ORIGINAL_COMMAND" in
  *python*) kind=module ;;
  "") kind=shell ;;
  *) kind=command ;;
esac
echo "$3 $kind" >> %(log)s
if [ -z "$SSH_ORIGINAL_COMMAND" ]; then exec /bin/sh -l; fi
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
'''

SSHD_CONFIG = '''# bench/fleet.py sshd instance %(index)d (loopback only)
%(listen)s
HostKey %(work)s/ssh_host_ed25519_key
PidFile %(work)s/sshd-%(index)d.pid
AuthorizedKeysFile %(work)s/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
ForceCommand %(work)s/count-exec.sh
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
PrintMotd no
UseDNS no
MaxStartups 300
MaxSessions 200
LogLevel INFO
'''


def address(index):
    """Loopback address of simulated host ``index`` (0-based): 127.0.0.2-251, 127.0.1.2-251, ..."""
    return '127.0.%d.%d' % (index // 250, index % 250 + 2)


class Fleet(object):
    def __init__(self, work, size, per_sshd):
        self.work = work
        self.size = size
        self.per_sshd = per_sshd
        self.addresses = [address(i) for i in range(size)]
        self.port = None
        self.sshd = []
        self.exec_log = os.path.join(work, 'exec.log')

    def start(self):
        if self.size > MAX_HOSTS:
            raise SystemExit('at most %d hosts' % MAX_HOSTS)
        binary, env = find_sshd(os.path.join(RESULTS, '.sshd'))
        ensure_privsep()
        w = self.work
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', os.path.join(w, 'ssh_host_ed25519_key')], check=True)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', os.path.join(w, 'id_ed25519')], check=True)
        shutil.copyfile(os.path.join(w, 'id_ed25519.pub'), os.path.join(w, 'authorized_keys'))
        os.chmod(os.path.join(w, 'authorized_keys'), 0o600)
        wrapper = os.path.join(w, 'count-exec.sh')
        with open(wrapper, 'w') as f:
            f.write(WRAPPER % {'log': self.exec_log})
        os.chmod(wrapper, 0o755)
        self.port = free_port(self.addresses)
        full_env = dict(os.environ, **env)
        for index in range(0, self.size, self.per_sshd):
            group = self.addresses[index:index + self.per_sshd]
            cfg = os.path.join(w, 'sshd-%d.conf' % index)
            with open(cfg, 'w') as f:
                f.write(SSHD_CONFIG % {'index': index, 'work': w, 'listen': '\n'.join(
                    'ListenAddress %s:%d' % (a, self.port) for a in group)})
            test = subprocess.run([binary, '-t', '-f', cfg], env=full_env, capture_output=True, text=True, check=False)
            if test.returncode:
                raise RuntimeError('sshd -t rejected %s: %s' % (cfg, test.stderr.strip()))
            proc = subprocess.Popen([binary, '-D', '-f', cfg, '-E', os.path.join(w, 'sshd-%d.log' % index)],
                                    env=full_env, stdin=subprocess.DEVNULL)
            self.sshd.append(proc)
        deadline = time.time() + 20
        for addr in self.addresses:
            while True:
                try:
                    socket.create_connection((addr, self.port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError('sshd not listening on %s:%d' % (addr, self.port))
                    time.sleep(0.1)
        log('%d sshd instance(s) serving %d loopback addresses on port %d' % (len(self.sshd), self.size, self.port))

    def inventory(self, n):
        path = os.path.join(self.work, 'inventory-%d.ini' % n)
        with open(path, 'w') as f:
            f.write('[fleet]\n')
            for i, addr in enumerate(self.addresses[:n]):
                f.write('hv%03d ansible_host=%s\n' % (i + 1, addr))
            f.write('\n[fleet:vars]\nansible_port=%d\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n'
                    'ansible_ssh_private_key_file=%s\nansible_ssh_common_args="-o UserKnownHostsFile=/dev/null '
                    '-o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o LogLevel=ERROR"\n'
                    % (self.port, os.path.join(self.work, 'id_ed25519')))
        return path

    def take_exec_log(self, name):
        """Move the execution log aside; return {address: {kind: count}}."""
        counts = {}
        if os.path.exists(self.exec_log):
            dest = os.path.join(self.work, 'exec-%s.log' % name)
            os.replace(self.exec_log, dest)
            with open(dest) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        counts.setdefault(parts[0], {}).setdefault(parts[1], 0)
                        counts[parts[0]][parts[1]] += 1
        return counts

    def cpu_seconds(self):
        """CPU time of the daemons and of their reaped sessions (cutime/cstime) so far."""
        total = 0
        for proc in self.sshd:
            try:
                with open('/proc/%d/stat' % proc.pid) as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rindex(')') + 2:].split()
            total += sum(int(x) for x in fields[11:15])
        return total / float(os.sysconf('SC_CLK_TCK'))

    def sessions(self):
        """PIDs of the sshd session processes (and what they run) below our daemons."""
        table = _proc_table()
        daemons = [p.pid for p in self.sshd]
        return _descendants(table, daemons) - set(daemons)

    def drain(self, timeout=60):
        """Wait until no remote session is left (a stopped run leaves some); kill stragglers."""
        deadline = time.time() + timeout
        left = self.sessions()
        while left and time.time() < deadline:
            time.sleep(0.5)
            left = self.sessions()
        for pid in left:
            _kill(pid, signal.SIGKILL)
        return len(left)

    def stop(self):
        self.drain(timeout=5)
        for proc in self.sshd:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.sshd:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.sshd = []


# ----------------------------------------------------------------------------- runs
def ansible_env(fleet, forks):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': os.path.join(ROOT, 'ansible.cfg'),
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.build', 'collections'),
        'ANSIBLE_SSH_CONTROL_PATH_DIR': os.path.join(fleet.work, 'cp'),
        'ANSIBLE_CACHE_PLUGIN_CONNECTION': os.path.join(fleet.work, 'facts-cache'),
        'ANSIBLE_LOCAL_TEMP': os.path.join(fleet.work, 'ansible-tmp'),
        'ANSIBLE_NOCOLOR': '1',
    })
    if forks:
        env['ANSIBLE_FORKS'] = str(forks)
    return env


def slice_hosts(n, count):
    """Inventory names of each of ``count`` slices of the first ``n`` hosts, dealt out round-robin
    (as AWX job slicing does: slice i gets hosts i, i+count, ...)."""
    names = ['hv%03d' % (i + 1) for i in range(n)]
    return [names[i::count] for i in range(count)]


def run_playbook(fleet, n, playbook, name, timeout, forks, extra, slices=None):
    """Run ``playbook`` on the first ``n`` hosts and measure it; with ``slices`` (a list of host-name
    lists), as one ansible-playbook per slice, all at once (``--limit``), measured together."""
    inventory = fleet.inventory(n)
    env = ansible_env(fleet, forks)
    base = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, playbook] + extra
    if slices:
        runs = [('%s-slice%d' % (name, i),
                 base + ['--limit', ','.join(hosts), '-e', 'hvsec_audit_slice=%d' % (i + 1),
                         '-e', 'hvsec_audit_report_dir=%s' % slice_dir(fleet, n, i)])
                for i, hosts in enumerate(slices)]
    else:
        runs = [(name, base)]
    fleet.take_exec_log('stale-%s' % name)
    load0 = os.getloadavg()[0]
    remote0 = fleet.cpu_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    procs, outs = [], []
    for run_name, cmd in runs:
        out_path = os.path.join(fleet.work, '%s.out' % run_name)
        out = open(out_path, 'w')
        outs.append((out, out_path))
        procs.append(subprocess.Popen(cmd, cwd=fleet.work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    sampler = MemorySampler([p.pid for p in procs], [p.pid for p in fleet.sshd])
    sampler.start()
    timed_out = False
    rcs = []
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            rcs.append(proc.wait(timeout=max(1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                rcs.append(proc.wait(timeout=15))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rcs.append(proc.wait())
    wall = time.monotonic() - start
    sampler.stop()
    for out, dummy in outs:
        out.close()
    masters = _reap_ssh_clients()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # Remote sessions of a stopped run can still be starting: wait for all of them, so that
    # their executions are counted in this run and never in the next one.
    killed = fleet.drain(timeout=60)
    time.sleep(0.5)  # let the last wrapper lines land
    remote_cpu = fleet.cpu_seconds() - remote0
    counts = fleet.take_exec_log(name)
    per_host = [counts.get(a, {}) for a in fleet.addresses[:n]]
    totals = [sum(c.values()) for c in per_host]
    modules = [c.get('module', 0) for c in per_host]
    tails, recaps = [], []
    for dummy, out_path in outs:
        with open(out_path) as f:
            text = f.read()
        tails.append(text[-3000:])
        recaps.append('PLAY RECAP' in text)
    recap_ok = all(recaps) and not timed_out
    return {
        'run': name, 'hosts': n, 'rc': max(rcs), 'timed_out': timed_out, 'wall_s': round(wall, 2),
        'slices': len(slices) if slices else 0,
        'remote_execs_total': sum(totals), 'remote_execs_per_host_min': min(totals),
        'remote_execs_per_host_max': max(totals), 'module_invocations_per_host_max': max(modules),
        'module_invocations_per_host_min': min(modules),
        'controller_cpu_s': round(cpu, 1), 'controller_cpu_ms_per_host': round(1000.0 * cpu / n, 1),
        'controller_peak_pss_mib': round(sampler.peak_kib / 1024.0, 1),
        'controller_peak_pss_mib_per_host': round(sampler.peak_kib / 1024.0 / n, 2),
        'controller_peak_processes': sampler.peak_procs,
        'simulated_hosts_cpu_s': round(remote_cpu, 1), 'load_1m_before': round(load0, 2), 'load_1m_after': round(os.getloadavg()[0], 2),
        'ssh_masters_stopped': masters, 'remote_sessions_killed': killed, 'recap': recap_ok, 'output_tail': tails[-1],
    }


def report_dir(fleet, n):
    return os.path.join(fleet.work, 'reports-%d' % n)


def slice_dir(fleet, n, index):
    return os.path.join(fleet.work, 'slices-%d' % n, str(index + 1))


def merge_slices(fleet, n, count, forks=0):
    """playbooks/audit_merge.yml over the slices' report directories; (rc, seconds, fleet report dir)."""
    target = os.path.join(fleet.work, 'merged-%d' % n)
    cmd = [os.path.join(BIN, 'ansible-playbook'), MERGE_PLAYBOOK,
           '-e', json.dumps({'hvsec_audit_merge': [slice_dir(fleet, n, i) for i in range(count)]}),
           '-e', 'hvsec_audit_report_dir=%s' % target]
    start = time.monotonic()
    with open(os.path.join(fleet.work, 'merge-%d.out' % n), 'w') as out:
        rc = subprocess.run(cmd, cwd=fleet.work, env=ansible_env(fleet, forks), stdout=out,
                            stderr=subprocess.STDOUT, check=False, timeout=600).returncode
    return rc, round(time.monotonic() - start, 2), target


def _without_times(name, text, stamps):
    for stamp in stamps:
        text = text.replace(stamp, '<time>')
    return text


def compare_reports(one_run, merged):
    """Differences between an unsliced run's reports and the merged slices' reports, timestamps
    (and the merge's provenance, ``merged_from``) aside: [] when they have the same content."""
    docs = []
    for directory in (one_run, merged):
        with open(os.path.join(directory, 'audit.json')) as f:
            docs.append(json.load(f))
    stamps = [d['generated_at'] for d in docs] + [m.get('generated_at') for m in docs[1].get('merged_from') or []]
    diffs = []
    plain = [dict((k, v) for k, v in d.items() if k not in ('generated_at', 'merged_from')) for d in docs]
    if plain[0] != plain[1]:
        for host in sorted(set(plain[0]['hosts']) | set(plain[1]['hosts'])):
            if plain[0]['hosts'].get(host) != plain[1]['hosts'].get(host):
                diffs.append('audit.json: host %s differs' % host)
        for key in sorted(set(plain[0]) | set(plain[1])):
            if key != 'hosts' and plain[0].get(key) != plain[1].get(key):
                diffs.append('audit.json: %s differs: %r != %r' % (key, plain[0].get(key), plain[1].get(key)))
    for name in ('audit.md', 'audit.junit.xml'):
        texts = []
        for directory in (one_run, merged):
            with open(os.path.join(directory, name)) as f:
                texts.append(_without_times(name, f.read(), [s for s in stamps if s]))
        if texts[0] != texts[1]:
            diffs.append('%s differs' % name)
    return diffs


def run_sliced(fleet, n, count, playbook, timeout, forks):
    """N hosts as ``count`` parallel --limit slices, merged; compared with the unsliced run's reports."""
    log('N=%d: hvsec audit in %d slices run in parallel, then merged ...' % (n, count))
    r = run_playbook(fleet, n, playbook, 'sliced-%d' % n, timeout, forks, [], slices=slice_hosts(n, count))
    merge_rc, merge_s, merged = merge_slices(fleet, n, count, forks)
    diffs = None
    if os.path.exists(os.path.join(report_dir(fleet, n), 'audit.json')) and merge_rc == 0:
        diffs = compare_reports(report_dir(fleet, n), merged)
    labels = []
    for i in range(count):
        try:
            with open(os.path.join(slice_dir(fleet, n, i), 'audit.json')) as f:
                data = json.load(f)
            labels.append([data.get('slice'), sorted(data['hosts'])])
        except (OSError, ValueError, KeyError):
            labels.append(None)
    r.update(playbook=os.path.relpath(playbook, ROOT), merge_rc=merge_rc, merge_s=merge_s, slice_reports=labels,
             merged_equals_unsliced=None if diffs is None else not diffs, merge_differences=diffs)
    log('N=%d sliced (%d): %.1f s + merge %.1f s (rc=%s), %s remote exec(s)/host, rc=%s, merged report %s' % (
        n, count, r['wall_s'], merge_s, merge_rc, r['remote_execs_per_host_max'], r['rc'],
        'not compared' if diffs is None else ('EQUAL to the unsliced run' if not diffs else 'DIFFERS: %s' % diffs)))
    return r


def extrapolate(result, expected_execs):
    """Wall time of a bounded run scaled to the executions it should have done."""
    done = result['remote_execs_total']
    if done <= 0:
        return None
    return round(result['wall_s'] * expected_execs / float(done), 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='10,50,100')
    parser.add_argument('--baseline-sizes', default='10,50,100')
    parser.add_argument('--timeout', type=int, default=900, help='limit of one audit run (s)')
    parser.add_argument('--baseline-timeout', type=int, default=600, help='limit of one baseline run (s)')
    parser.add_argument('--forks', type=int, default=0, help='override ansible.cfg forks (0: keep)')
    parser.add_argument('--hosts-per-sshd', type=int, default=10)
    parser.add_argument('--keep', action='store_true', help='keep the work directory (logs) for debugging')
    parser.add_argument('--repeat', type=int, default=1, help='audit runs per size (the ratios use the fastest)')
    parser.add_argument('--audit-playbook', default=PLAYBOOK, help='playbook timed as the audit')
    parser.add_argument('--json', help='also write the results JSON here (tests read it)')
    parser.add_argument('--slices', type=int, default=0,
                        help='also run each size as K parallel --limit slices, merge them and compare (0: no)')
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(',') if s]
        baseline_sizes = [int(s) for s in args.baseline_sizes.split(',') if s]
    except ValueError:
        parser.error('--sizes/--baseline-sizes: comma-separated integers expected')
    if not sizes or min(sizes + baseline_sizes) < 1 or max(sizes + baseline_sizes) > MAX_HOSTS:
        parser.error('--sizes/--baseline-sizes: between 1 and %d hosts' % MAX_HOSTS)
    if args.repeat < 1:
        parser.error('--repeat must be at least 1')
    if args.slices < 0 or args.slices == 1 or (args.slices and args.slices > min(sizes)):
        parser.error('--slices: 0 (none) or between 2 and the smallest size')
    if os.geteuid() != 0:
        parser.error('run as root: sshd instances and root logins are needed')
    if not os.path.exists(os.path.join(ROOT, '.build', 'collections', 'ansible_collections', 'hvsec', 'hypervisor')):
        parser.error('collection not linked: run "make collection" first (make bench-fleet does)')
    with open(NAIVE) as f:
        naive_tasks = sum(1 for line in f if line.startswith('    - name:'))

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    os.makedirs(RESULTS, exist_ok=True)
    work = tempfile.mkdtemp(prefix='hvsec-fleet-')
    fleet = Fleet(work, max(sizes + baseline_sizes), args.hosts_per_sshd)

    def on_signal(signum, frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, on_signal)

    rows = []
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    try:
        fleet.start()
        # All audits first, then the baselines: a stopped baseline run can leave remote
        # sessions behind that must never be counted in an audit run.
        playbook = os.path.abspath(args.audit_playbook)
        for n in sorted(set(sizes)):
            for index in range(args.repeat):
                log('N=%d: hvsec audit (%s) ...' % (n, os.path.relpath(playbook, ROOT)))
                r = run_playbook(fleet, n, playbook, 'audit-%d' % n, args.timeout, args.forks,
                                 ['-e', 'hvsec_audit_report_dir=%s' % report_dir(fleet, n)])
                r.update(playbook=os.path.relpath(playbook, ROOT), repeat=index + 1)
                log('N=%d audit: %.1f s, %s remote exec(s)/host, controller %.1f CPU-s (%.0f ms/host), peak %.0f MiB, '
                    'rc=%s, load %.1f -> %.1f' % (
                        n, r['wall_s'], r['remote_execs_per_host_max'], r['controller_cpu_s'],
                        r['controller_cpu_ms_per_host'], r['controller_peak_pss_mib'], r['rc'],
                        r['load_1m_before'], r['load_1m_after']))
                rows.append(r)
            if args.slices:
                rows.append(run_sliced(fleet, n, args.slices, playbook, args.timeout, args.forks))
        for n in sorted(set(baseline_sizes)):
            if n in baseline_sizes:
                log('N=%d: naive baseline (%d tasks, one per control) ...' % (n, naive_tasks))
                r = run_playbook(fleet, n, NAIVE, 'naive-%d' % n, args.baseline_timeout, args.forks, [])
                r['expected_execs'] = naive_tasks * n
                r['wall_s_extrapolated'] = extrapolate(r, naive_tasks * n) if r['timed_out'] else None
                log('N=%d naive: %.1f s%s, %s remote exec(s)/host, peak %.0f MiB, rc=%s' % (
                    n, r['wall_s'], ' (stopped; extrapolated %s s)' % r['wall_s_extrapolated'] if r['timed_out'] else '',
                    r['remote_execs_per_host_max'], r['controller_peak_pss_mib'], r['rc']))
                rows.append(r)
    except KeyboardInterrupt as exc:
        log('interrupted (%s): cleaning up' % exc)
    finally:
        _reap_ssh_clients()
        fleet.stop()
        if args.keep:
            log('work directory kept: %s' % work)
        else:
            for dummy in range(20):  # a last remote session may still write its log line
                shutil.rmtree(work, ignore_errors=True)
                if not os.path.exists(work):
                    break
                time.sleep(0.5)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = render(rows, ru, args, naive_tasks)
    print(report)
    base = os.path.join(RESULTS, 'fleet-%s' % stamp)
    for path in [base + '.json'] + ([args.json] if args.json else []):
        with open(path, 'w') as f:
            json.dump({'generated_at': stamp, 'cpus': os.cpu_count(), 'load_before': os.getloadavg(),
                       'max_single_process_rss_mib': round(ru / 1024.0, 1), 'runs': rows}, f, indent=2)
    with open(base + '.md', 'w') as f:
        f.write(report)
    log('results: %s.json / .md' % base)
    failed = [r for r in rows if r['run'].startswith(('audit', 'sliced')) and (r['rc'] != 0 or r['timed_out'])]
    failed += [r for r in rows if r.get('merged_equals_unsliced') is False or r.get('merge_rc')]
    return 1 if failed or not rows else 0


def render(rows, ru_maxrss, args, naive_tasks):
    lines = ['# Fleet benchmark (%s cores, load %.1f at the end)' % (os.cpu_count(), os.getloadavg()[0]), '',
             'Audit playbook: %s%s.' % (os.path.relpath(os.path.abspath(args.audit_playbook), ROOT),
                                        ', %d runs per size' % args.repeat if args.repeat > 1 else ''), '',
             '| N | run | wall s | remote execs/host | module runs/host | controller CPU s | controller CPU ms/host '
             '| simulated hosts CPU s | controller peak PSS MiB | peak PSS MiB/host | load before -> after | rc |',
             '|---|-----|--------|-------------------|------------------|------------------|------------------------'
             '|-----------------------|-------------------------|-------------------|----------------------|----|']
    for r in rows:
        wall = '%.1f' % r['wall_s']
        if r.get('wall_s_extrapolated'):
            wall = '>%.0f (stopped; ~%.0f extrapolated)' % (r['wall_s'], r['wall_s_extrapolated'])
        execs = '%d' % r['remote_execs_per_host_max'] if r['remote_execs_per_host_min'] == r['remote_execs_per_host_max'] \
            else '%d-%d' % (r['remote_execs_per_host_min'], r['remote_execs_per_host_max'])
        mods = '%d' % r['module_invocations_per_host_max'] if r['module_invocations_per_host_min'] == \
            r['module_invocations_per_host_max'] else '%d-%d' % (r['module_invocations_per_host_min'],
                                                                 r['module_invocations_per_host_max'])
        kind = r['run'].split('-')[0]
        if r.get('slices'):
            kind = '%d slices + merge (%.1f s)' % (r['slices'], r.get('merge_s') or 0)
            if r.get('merged_equals_unsliced') is not None:
                kind += ', merged %s unsliced' % ('=' if r['merged_equals_unsliced'] else '!=')
        lines.append('| %d | %s | %s | %s | %s | %.1f | %.0f | %.1f | %.0f | %.2f | %.1f -> %.1f | %s |' % (
            r['hosts'], kind, wall, execs, mods, r['controller_cpu_s'], r['controller_cpu_ms_per_host'],
            r['simulated_hosts_cpu_s'], r['controller_peak_pss_mib'], r['controller_peak_pss_mib_per_host'],
            r['load_1m_before'], r['load_1m_after'], 'timeout' if r['timed_out'] else r['rc']))
    lines += ['', 'Ratios (naive / hvsec audit):', '']
    by = {}
    for r in rows:  # the fastest run of each name
        if r['run'] not in by or r['wall_s'] < by[r['run']]['wall_s']:
            by[r['run']] = r
    for n in sorted(set(r['hosts'] for r in rows)):
        a, b = by.get('audit-%d' % n), by.get('naive-%d' % n)
        if not a or not b or not a['remote_execs_total']:
            continue
        bwall = b.get('wall_s_extrapolated') or b['wall_s']
        bexecs = b['expected_execs'] if b['timed_out'] else b['remote_execs_total']
        lines.append('- N=%d: %.1fx fewer remote round trips, %.1fx less wall time%s' % (
            n, bexecs / float(a['remote_execs_total']), bwall / a['wall_s'],
            ' (baseline extrapolated)' if b['timed_out'] else ''))
    lines += ['', 'Largest single controller process peak RSS: %.0f MiB. Naive baseline: %d tasks (one per control).'
              % (ru_maxrss / 1024.0, naive_tasks), '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
