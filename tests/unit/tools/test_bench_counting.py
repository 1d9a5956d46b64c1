# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/audit_bench.py's count of remote module executions from -vvv output (local and ssh)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))

import audit_bench  # noqa: E402  pylint: disable=wrong-import-position

# Shapes of ansible-core 2.19 -vvv lines with pipelining: the local connection, and the ssh
# connection with become (the module's interpreter inside the nested quoting).
LOCAL = """TASK [Gather hypervisor facts once for every role] ****
<127.0.0.1> EXEC /bin/sh -c 'sudo -H -S -n  -u root /bin/sh -c '"'"'echo BECOME-SUCCESS-abc ; /usr/bin/python3'"'"' && sleep 0'
TASK [Write the reports] ****
"""
SSH = ("""TASK [Gather hypervisor facts once for every role] ****
<127.0.0.1> ESTABLISH SSH CONNECTION FOR USER: root
<127.0.0.1> SSH: EXEC ssh -C -o ControlMaster=auto -o ControlPersist=60s -o Port=2222 127.0.0.1 '/bin/sh -c '"'"'/usr/bin/python3 && sleep 0'"'"''
<127.0.0.1> (0, b'{}', b'')
TASK [hvsec.hypervisor.iommu : HVS-IOMMU-13 | Keep KSM off at every boot (systemd-tmpfiles)] ****
<127.0.0.1> SSH: EXEC ssh -C -o ControlMaster=auto -o Port=2222 127.0.0.1 '/bin/sh -c '"'"'echo ~root && sleep 0'"'"''
<127.0.0.1> SSH: EXEC ssh -C -o ControlMaster=auto -o Port=2222 127.0.0.1"""
       """ '/bin/sh -c '"'"'sudo -H -S -n  -u root /bin/sh -c '"'"'"'"'"'"'"'"'echo BECOME-SUCCESS-xyz ; /usr/bin/python3'"'"'"'"'"'"'"'"' && sleep 0'"'"''
""")


def test_local_connection_module_execution_is_counted():
    counts = audit_bench.count_invocations(LOCAL)
    assert counts == {'127.0.0.1': {'module_execs': 1, 'execs': 1,
                                    'by_task': {'Gather hypervisor facts once for every role': 1}}}


def test_ssh_connection_executions_are_counted_per_task():
    counts = audit_bench.count_invocations(SSH)
    assert counts == {'127.0.0.1': {'module_execs': 2, 'execs': 3, 'by_task': {
        'Gather hypervisor facts once for every role': 1,
        'hvsec.hypervisor.iommu : HVS-IOMMU-13 | Keep KSM off at every boot (systemd-tmpfiles)': 1}}}


def test_handler_executions_count_under_the_handler():
    out = ('TASK [hvsec.hypervisor.vfio : HVS-VFIO-03 | Write the unit] ****\n'
           "<127.0.0.1> SSH: EXEC ssh -o Port=2222 127.0.0.1 '/bin/sh -c '\"'\"'/usr/bin/python3 && sleep 0'\"'\"''\n"
           'RUNNING HANDLER [hvsec.hypervisor.vfio : Vfio | Reload systemd units] ****\n'
           "<127.0.0.1> SSH: EXEC ssh -o Port=2222 127.0.0.1 '/bin/sh -c '\"'\"'/usr/bin/python3 && sleep 0'\"'\"''\n")
    assert audit_bench.count_invocations(out)['127.0.0.1']['by_task'] == {
        'hvsec.hypervisor.vfio : HVS-VFIO-03 | Write the unit': 1,
        'hvsec.hypervisor.vfio : Vfio | Reload systemd units': 1}
