# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Materialise a fixture host root for the hypervisor_facts tests.

A fixture ``fixtures/NAME/`` holds:
- ``root/``: files in their real formats (procfs, sysfs attributes, /etc configs);
- ``tree.json``: what git or ansible-test cannot hold in the tree itself: sysfs paths with
  colons (PCI addresses), symlinks (driver, iommu_group, physfn, /sys/class/net, /proc/PID/fd),
  empty directories and UNIX sockets with their mode (/run/libvirt/*-sock):
  {"files": {path: text}, "links": {path: target}, "dirs": [path], "sockets": {path: "0660"}};
- ``cmd/``: captured outputs of the tools, looked up by ``fake_runner`` (``sshd_T_C.json``: real
  ``sshd -T -C SPEC`` outputs by SPEC, for a fixture with Match blocks).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import socket

from ansible_collections.hvsec.hypervisor.plugins.module_utils import ovs

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
VARIANTS = ('intel_vtd', 'amd_vi', 'no_iommu', 'iommu_pt')

# tool invocation (binary basename + args) -> (file under cmd/, rc, stderr)
COMMANDS = {
    ('ip', '-j', '-d', 'link', 'show'): 'ip_link.json',
    ('ip', '-j', 'addr', 'show'): 'ip_addr.json',
    ('ip', '-j', 'route', 'show', 'default'): 'ip_route_default.json',
    ('bridge', '-j', 'vlan', 'show'): 'bridge_vlan.json',
    ('sshd', '-T'): 'sshd_T.txt',
    ('nft', '-j', 'list', 'ruleset'): 'nft_ruleset.json',
    tuple(ovs.vsctl_args('ovs-vsctl')): 'ovs_vsctl.json',
}


def build_root(name, dest):
    """Copy fixture NAME into ``dest`` (a new directory) and return the root path."""
    src = os.path.join(FIXTURES, name)
    root = os.path.join(str(dest), name)
    if os.path.isdir(os.path.join(src, 'root')):
        shutil.copytree(os.path.join(src, 'root'), root, symlinks=True)
    else:
        os.makedirs(root)
    with open(os.path.join(src, 'tree.json')) as handle:
        tree = json.load(handle)
    for path in tree.get('dirs', []):
        full = os.path.join(root, path)
        if not os.path.isdir(full):
            os.makedirs(full)
    for path, text in tree.get('files', {}).items():
        full = os.path.join(root, path)
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        with open(full, 'w') as handle:
            handle.write(text)
    for path, target in tree.get('links', {}).items():
        full = os.path.join(root, path)
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        os.symlink(target, full)
    for path, mode in tree.get('sockets', {}).items():
        make_socket(os.path.join(root, path), int(mode, 8))
    return root


def make_socket(path, mode):
    """Leave a bound UNIX socket at ``path`` (bound by its relative name: test paths are long)."""
    directory, name = os.path.split(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    cwd = os.getcwd()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.chdir(directory)
        sock.bind(name)
    finally:
        os.chdir(cwd)
        sock.close()
    os.chmod(path, mode)


def tools_of(name):
    """Names of the tools whose output the fixture captured (the others are 'not installed')."""
    cmd_dir = os.path.join(FIXTURES, name, 'cmd')
    present = set(os.listdir(cmd_dir)) if os.path.isdir(cmd_dir) else set()
    tools = set()
    for args, filename in COMMANDS.items():
        if filename in present or filename + '.rc' in present:
            tools.add(args[0])
    return tools


def fake_bin_path(name):
    tools = tools_of(name)

    def get_bin_path(tool):
        return '/usr/sbin/%s' % tool if tool in tools else None
    return get_bin_path


def _sshd_for_connection(cmd_dir, spec):
    """``sshd -T -C SPEC``: the captured answer in cmd/sshd_T_C.json ({spec: output}); without
    that file the fixture has no Match block and every connection reads like ``sshd -T``."""
    answers = os.path.join(cmd_dir, 'sshd_T_C.json')
    if os.path.exists(answers):
        with open(answers) as handle:
            known = json.load(handle)
        if spec not in known:
            return 127, '', 'no captured sshd -T -C %s' % spec
        return 0, known[spec], ''
    path = os.path.join(cmd_dir, 'sshd_T.txt')
    with open(path) as handle:
        return 0, handle.read(), ''


def fake_runner(name, calls=None):
    """run_command replacement answering from fixtures/NAME/cmd/.

    ``FILE.rc`` (optional) holds "RC\\nSTDERR" for a failing tool. ``calls`` collects every call.
    """
    cmd_dir = os.path.join(FIXTURES, name, 'cmd')

    def run_command(args):
        if calls is not None:
            calls.append(list(args))
        key = tuple([os.path.basename(args[0])] + list(args[1:]))
        if key[:3] == ('sshd', '-T', '-C') and len(key) == 4:
            return _sshd_for_connection(cmd_dir, key[3])
        filename = COMMANDS.get(key)
        if filename is None:
            return 127, '', 'unexpected command %r' % (args,)
        out = ''
        path = os.path.join(cmd_dir, filename)
        if os.path.exists(path):
            with open(path) as handle:
                out = handle.read()
        rc, err = 0, ''
        if os.path.exists(path + '.rc'):
            with open(path + '.rc') as handle:
                first, dummy, err = handle.read().partition('\n')
            rc = int(first)
        return rc, out, err
    return run_command
