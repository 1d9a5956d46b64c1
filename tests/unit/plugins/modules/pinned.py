# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the *_pinned.py module tests: run a module's main() and compare its whole result
with a reviewed JSON file under fixtures/pinned/ (paths below the test's temporary directory
written as <tmp>). HVSEC_PIN_WRITE=1 (re)writes the files instead: review every change to them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

PINNED = os.path.join(os.path.dirname(__file__), 'fixtures', 'pinned')


def run_module(monkeypatch, capsys, main, params, check_mode=False, diff=True):
    """main()'s result with ``_rc`` (exit code) and ``warnings`` (the AnsibleModule.warn texts)."""
    warnings = []
    monkeypatch.setattr(AnsibleModule, 'warn', lambda self, w, *a, **k: warnings.append(w))
    params = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(params):
        with pytest.raises(SystemExit) as exc:
            main()
    out = json.loads(capsys.readouterr().out)
    out.pop('invocation', None)
    out['_rc'] = exc.value.code
    out['warnings'] = warnings
    return out


def normalise(data, tmp):
    """``data`` with the temporary directory written as <tmp>."""
    return json.loads(json.dumps(data).replace(str(tmp), '<tmp>'))


def matches(name, data, tmp=None):
    """Compare ``data`` with fixtures/pinned/NAME.json (or write it under HVSEC_PIN_WRITE=1)."""
    if tmp is not None:
        data = normalise(data, tmp)
    path = os.path.join(PINNED, name + '.json')
    if os.environ.get('HVSEC_PIN_WRITE') == '1':
        with open(path, 'w') as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write('\n')
    with open(path) as handle:
        want = json.load(handle)
    assert data == want
    return True


def file_tree(tmp_path):
    """Every file and link below tmp_path: [mode, content] of a file, '-> target' of a link (the
    temporary directory written as <tmp>)."""
    out = {}
    for base, dirs, names in os.walk(str(tmp_path)):
        for name in dirs + names:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, str(tmp_path))
            if os.path.islink(path):
                out[rel] = '-> ' + os.readlink(path).replace(str(tmp_path), '<tmp>')
            elif os.path.isfile(path):
                with open(path) as f:
                    out[rel] = [oct(stat.S_IMODE(os.stat(path).st_mode)), f.read().replace(str(tmp_path), '<tmp>')]
    return out
