# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_runner as vr


class Exited(Exception):
    def __init__(self, failed, result):
        Exception.__init__(self, result.get('msg'))
        self.failed = failed
        self.result = result


class FakeModule(object):
    """What the runner uses of AnsibleModule: commands are answered from ``answers``."""

    def __init__(self, check_mode=False, answers=None):
        self.check_mode = check_mode
        self.answers = answers or {}
        self.commands = []
        self.backups = []

    def run_command(self, cmd):
        self.commands.append(list(cmd))
        return self.answers.get(' '.join(cmd), (0, '', ''))

    def get_bin_path(self, name):
        return '/usr/bin/' + name

    def backup_local(self, path):
        self.backups.append(path)
        return path + '.bak'

    def exit_json(self, **result):
        raise Exited(False, result)

    def fail_json(self, **result):
        raise Exited(True, result)

    def atomic_move(self, src, dest):
        os.rename(src, dest)


CONTROLS = ('HVS-A', 'HVS-B')


def _finish(module, changes, apply_calls):
    runner = vr.VswitchRunner(module, CONTROLS, command=[])
    runner.add_changes(changes)
    runner.set_controls(set())
    with pytest.raises(Exited) as info:
        runner.finish(lambda: apply_calls.append(runner.run('HVS-A', ['tool', 'fix'])))
    return info.value


def test_check_mode_applies_nothing():
    module = FakeModule(check_mode=True)
    applied = []
    exited = _finish(module, [{'control': 'HVS-A', 'msg': 'fix a'}], applied)
    assert not exited.failed and exited.result['changed'] is True
    assert applied == [] and module.commands == []
    assert exited.result['controls'] == {'HVS-A': 'fixed', 'HVS-B': 'pass'}
    assert exited.result['command'] == []


def test_nothing_planned_applies_nothing_and_is_unchanged():
    module = FakeModule()
    applied = []
    exited = _finish(module, [], applied)
    assert exited.result['changed'] is False and applied == [] and module.commands == []
    assert exited.result['controls'] == {'HVS-A': 'pass', 'HVS-B': 'pass'}


def test_planned_change_is_applied_then_reported_changed():
    module = FakeModule()
    applied = []
    exited = _finish(module, [{'control': 'HVS-B', 'msg': 'fix b'}], applied)
    assert exited.result['changed'] is True and module.commands == [['tool', 'fix']]
    assert exited.result['changes'] == [{'control': 'HVS-B', 'msg': 'fix b'}]


def test_failing_step_reports_control_command_and_stderr():
    module = FakeModule(answers={'tool fix': (2, '', 'permission denied\n')})
    exited = _finish(module, [{'control': 'HVS-A', 'msg': 'fix a'}], [])
    assert exited.failed
    assert exited.result['msg'] == 'HVS-A: tool fix failed: permission denied'
    assert exited.result['changes'] == [{'control': 'HVS-A', 'msg': 'fix a'}]


def test_nft_file_that_does_not_validate_fails_with_nft_error():
    module = FakeModule(answers={'nft -c -f /etc/x.nft': (1, '', 'syntax error')})
    runner = vr.VswitchRunner(module, CONTROLS)
    with pytest.raises(Exited) as info:
        runner.check_nft('nft', '/etc/x.nft')
    assert info.value.failed and info.value.result['msg'] == 'generated nftables file /etc/x.nft does not validate: syntax error'


def test_exit_all_gives_every_control_one_status():
    runner = vr.VswitchRunner(FakeModule(), CONTROLS, domains={})
    with pytest.raises(Exited) as info:
        runner.exit_all('error')
    assert info.value.result == {'changed': False, 'changes': [], 'diff': [], 'domains': {},
                                 'controls': {'HVS-A': 'error', 'HVS-B': 'error'}}


def test_set_controls_waived_fixed_and_otherwise():
    runner = vr.VswitchRunner(FakeModule(), ('HVS-A', 'HVS-B', 'HVS-C'))
    runner.add_changes([{'control': 'HVS-B', 'msg': 'b'}, {'control': 'persistence', 'msg': 'write f'}])
    runner.set_controls({'HVS-A'}, {'HVS-C': 'not_applicable'})
    assert runner.result['controls'] == {'HVS-A': 'waived', 'HVS-B': 'fixed', 'HVS-C': 'not_applicable'}


def test_plan_file_and_report(tmp_path):
    same = tmp_path / 'same'
    same.write_text('x\n')
    assert vr.plan_file(str(same), 'x\n') is None
    entry = vr.plan_file(str(same), 'y\n', 0o600)
    assert entry == {'path': str(same), 'before': 'x\n', 'after': 'y\n', 'mode': 0o600}
    assert vr.plan_file(str(tmp_path / 'absent'), None) is None
    runner = vr.VswitchRunner(FakeModule(), CONTROLS)
    runner.add_files([entry])
    runner.add_files([vr.plan_link('/l', '/u')], persistence=False)
    assert runner.result['changes'] == [{'control': 'persistence', 'msg': 'write %s' % same}]
    assert runner.result['diff'] == [
        {'before_header': str(same), 'after_header': str(same), 'before': 'x\n', 'after': 'y\n'},
        {'before_header': '/l', 'after_header': '/l', 'before': '', 'after': '-> /u'}]


def test_actions_diff_lists_one_line_per_action():
    diff = vr.actions_diff('runtime', [{'control': 'HVS-A', 'msg': 'one'}, {'control': 'HVS-B', 'msg': 'two'}])
    assert diff == {'before_header': 'runtime', 'after_header': 'runtime', 'before': '',
                    'after': 'HVS-A | one\nHVS-B | two\n'}


def test_write_files_writes_files_before_links_and_removes_emptied(tmp_path):
    unit = tmp_path / 'units' / 'x.service'
    link = tmp_path / 'units' / 'multi-user.target.wants' / 'x.service'
    old = tmp_path / 'old.nft'
    old.write_text('table\n')
    module = FakeModule()
    runner = vr.VswitchRunner(module, CONTROLS)
    entries = [vr.plan_link(str(link), str(unit)), vr.plan_file(str(unit), '[Unit]\n', 0o644), vr.plan_file(str(old), None)]
    runner.write_files(entries)
    assert unit.read_text() == '[Unit]\n' and (unit.stat().st_mode & 0o777) == 0o644
    assert os.readlink(str(link)) == str(unit)
    assert not old.exists()


def test_write_value_failure_reports_control_and_path(tmp_path):
    runner = vr.VswitchRunner(FakeModule(), CONTROLS)
    path = str(tmp_path / 'missing' / 'value')
    with pytest.raises(Exited) as info:
        runner.write_value('HVS-A', path, '1')
    assert info.value.failed and info.value.result['msg'].startswith('HVS-A: cannot write %s: ' % path)
