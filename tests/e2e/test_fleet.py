# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the audit on fleets (docs/fleets.md, docs/audit.md).

- An inventory whose only host is unreachable: exit status 4, and the reports say that no host was
  audited; the previous run's content is gone from them (kept only as audit.previous.json, with the
  same mode as audit.json).
- Exit status 2 for a tripped severity gate, 4 when a host is unreachable (also with a tripped gate).
- A sliced run: 8 hosts on 127.0.0.x (real SSH, sshd instances of bench/fleet.py) in 4 slices run in
  parallel, merged with playbooks/audit_merge.yml, has the same reports as one run (times aside).
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from test_audit_localhost import ROOT, audit

CLOSED_PORT_INVENTORY = '''all:
  hosts:
    gone:
      ansible_host: 127.0.0.1
      ansible_port: {port}
      ansible_user: root
      ansible_ssh_common_args: -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
'''
LOCAL_HOST = '''    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
'''


def _closed_port():
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _inventory(tmp_path, with_localhost=False):
    text = CLOSED_PORT_INVENTORY.format(port=_closed_port())
    if with_localhost:
        text += LOCAL_HOST
    path = tmp_path / 'inventory.yml'
    path.write_text(text)
    return str(path)


def test_unreachable_only_host_reports_say_no_host_was_audited(tmp_path):
    # A reachable run of the host 'gone' leaves its facts in the fact cache (audit() keeps it
    # under tmp_path); then an audit of localhost leaves reports behind, as for the newcomer who
    # then audited an inventory whose hosts were all unreachable.
    reachable = tmp_path / 'reachable.yml'
    reachable.write_text('all:\n  hosts:\n    gone:\n' + LOCAL_HOST.split('\n', 1)[1])
    rc, out, dummy = audit(tmp_path, inventory=str(reachable))
    assert rc == 0, out[-3000:]
    # jsonfile cache (ansible.cfg: fact_caching_timeout 600), one file per host
    assert [f for f in os.listdir(str(tmp_path / 'factcache')) if f.endswith('gone')]
    rc, out, report_dir = audit(tmp_path)
    assert rc == 0, out[-3000:]
    old = json.loads((report_dir / 'audit.json').read_text())
    assert list(old['hosts']) == ['localhost']

    rc, out, report_dir = audit(tmp_path, inventory=_inventory(tmp_path))
    assert rc == 4, out[-3000:]  # unreachable: ansible-playbook's own status for it
    assert 'NO HOST WAS AUDITED' in out
    assert 'UNREACHABLE' in out.split('PLAY [Fail the hosts', 1)[1]  # the last play names the host
    data = json.loads((report_dir / 'audit.json').read_text())
    assert list(data['hosts']) == ['gone'] and list(data['not_audited']) == ['gone']
    assert data['not_audited']['gone'].startswith('host unreachable: ')
    # every control error: not evaluated from the facts the reachable run left in the cache
    assert data['hosts']['gone']['summary']['error'] == sum(data['hosts']['gone']['summary'].values())
    assert data['generated_at'] != old['generated_at'] or data['hosts'] != old['hosts']
    markdown = (report_dir / 'audit.md').read_text()
    head = markdown.split('\n## ', 1)[0]
    assert 'NO HOST WAS AUDITED' in head and 'gone: host unreachable' in head
    assert '## localhost' not in markdown
    junit = (report_dir / 'audit.junit.xml').read_text()
    assert 'audit: gone' in junit and 'localhost' not in junit
    html = (report_dir / 'audit.html').read_text()
    assert 'id="coverage"' in html and 'NO HOST WAS AUDITED' in html
    # the old report survives only as the previous one (the HTML trend's baseline), same mode
    previous = json.loads((report_dir / 'audit.previous.json').read_text())
    assert list(previous['hosts']) == ['localhost']
    modes = dict((name, os.stat(str(report_dir / name)).st_mode & 0o777) for name in os.listdir(str(report_dir)))
    assert modes['audit.previous.json'] == modes['audit.json'] == 0o644, modes


def _failing_severities(report_dir):
    data = json.loads((report_dir / 'audit.json').read_text())
    return set(c['severity'] for h in data['hosts'].values() for c in h['controls'] if c['status'] == 'fail')


def test_exit_status_tells_a_failed_gate_from_unreachable_hosts(tmp_path):
    for name in ('gate', 'clean', 'both'):
        (tmp_path / name).mkdir()
    # gate only: 2
    rc, out, report_dir = audit(tmp_path / 'gate', '-e', 'hvsec_audit_fail_on=low')
    if not _failing_severities(report_dir):
        pytest.skip('this machine fails no control: no gate can trip here')
    assert rc == 2, out[-3000:]
    assert 'at or above severity low failed: HVS-' in out
    # clean (no gate): 0
    rc, out, dummy = audit(tmp_path / 'clean')
    assert rc == 0, out[-3000:]
    # a tripped gate on localhost and an unreachable host: 4 (unreachable wins), and both are named
    rc, out, report_dir = audit(tmp_path / 'both', '-e', 'hvsec_audit_fail_on=low',
                                inventory=_inventory(tmp_path / 'both', with_localhost=True))
    assert rc == 4, out[-3000:]
    last_play = out.split('PLAY [Fail the hosts', 1)[1]
    assert 'fatal: [gone]: UNREACHABLE!' in last_play and 'fatal: [localhost]: FAILED!' in last_play
    data = json.loads((report_dir / 'audit.json').read_text())
    assert list(data['not_audited']) == ['gone'] and sorted(data['hosts']) == ['gone', 'localhost']
    assert '1 of 2 host(s) could not be audited' in (report_dir / 'audit.md').read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason='the simulated fleet needs root (sshd instances, root logins)')
def test_sliced_run_merged_equals_one_run(tmp_path):
    """bench/fleet.py --slices: 8 hosts over real SSH, once unsliced and once as 4 parallel slices,
    merged; the merged reports equal the unsliced run's, one remote execution per host each time."""
    result = tmp_path / 'fleet.json'
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', 'fleet.py'), '--sizes', '8', '--baseline-sizes', '',
                           '--slices', '4', '--json', str(result)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    runs = json.loads(result.read_text())['runs']
    unsliced = [r for r in runs if r['run'] == 'audit-8'][0]
    sliced = [r for r in runs if r['run'] == 'sliced-8'][0]
    for r in (unsliced, sliced):
        assert r['rc'] == 0 and r['remote_execs_per_host_min'] == r['remote_execs_per_host_max'] == 1, r
    assert sliced['slices'] == 4 and sliced['merge_rc'] == 0
    # each slice's report carries its slice and its hosts only (dealt out round-robin)
    assert sliced['slice_reports'] == [[str(i + 1), ['hv%03d' % h for h in range(i + 1, 9, 4)]] for i in range(4)]
    assert sliced['merge_differences'] == [] and sliced['merged_equals_unsliced'] is True
