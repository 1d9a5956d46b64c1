# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the one-line summary of `make test-safety` from the JSON the safety tests leave.

    safety: bad inputs refused N/N, secret options no_log N/N, files checked N, temp files left 0

bad_input.json comes from tests/e2e/test_bad_input.py, own_security.json from
tests/unit/plugins/test_own_security.py (both written when HVSEC_SAFETY_REPORT_DIR is set).
Exit status 1 when a report is missing or a figure is not perfect, so the line can gate.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys


def load(directory, name):
    try:
        with open(os.path.join(directory, name)) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def summary(directory):
    bad = load(directory, 'bad_input.json')
    own = load(directory, 'own_security.json')
    parts, ok = [], bad is not None and own is not None
    if bad is None:
        parts.append('bad inputs refused ?/? (no report)')
    else:
        parts.append('bad inputs refused %d/%d' % (len(bad['refused']), bad['cases']))
        ok = ok and len(bad['refused']) == bad['cases']
    if own is None:
        parts.append('secret options no_log ?/?, files checked ?, temp files left ? (no report)')
    else:
        secret = sorted(set(own['secret_options']))
        hidden = sorted(set(own['secret_options_hidden']))
        files = len(own['role_files']) + len(set(own['module_files']))
        parts.append('secret options no_log %d/%d' % (len(hidden), len(secret)))
        parts.append('files checked %d' % files)
        parts.append('temp files left %d' % len(own['temp_files_left']))
        ok = ok and hidden == secret and not own['temp_files_left']
    return 'safety: ' + ', '.join(parts), ok


def main(argv):
    directory = argv[1] if len(argv) > 1 else os.path.join('tests', 'output', 'safety')
    line, ok = summary(directory)
    print(line)
    bad = load(directory, 'bad_input.json')
    if bad:
        print('  bad-input runs (s): %s' % ', '.join('%s %s' % kv for kv in sorted(bad['seconds'].items())))
        if bad['not_refused']:
            print('  not refused: %s' % ', '.join(bad['not_refused']))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
