# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A controller-side action plugin built as Ansible builds it, with a real loader and templar and
a connection that fails the test if the action ever contacts the host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar


class FakeTask(object):
    def __init__(self, args, action, check_mode=False):
        self.args = args
        self.async_val = 0
        self.check_mode = check_mode
        self.diff = False
        self.action = action
        self.delegate_to = None
        self.environment = None
        self.become = False
        self.no_log = False

    def get_name(self):
        return 'test'


class FakeShell(object):
    tmpdir = 'unused'  # not None: the actions never ask for a remote temporary directory


class FakeConnection(object):
    _shell = FakeShell()

    def exec_command(self, *args, **kwargs):
        raise AssertionError('controller-side action tried to execute a remote command')

    def put_file(self, *args, **kwargs):
        raise AssertionError('controller-side action tried to transfer a file')


def build(cls, args, action='test', check_mode=False):
    """An instance of the action plugin class ``cls`` for a task with ``args``."""
    loader = DataLoader()
    return cls(task=FakeTask(args, action, check_mode), connection=FakeConnection(), play_context=PlayContext(),
               loader=loader, templar=Templar(loader=loader), shared_loader_obj=None)
