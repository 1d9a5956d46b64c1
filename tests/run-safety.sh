#!/usr/bin/env bash
# `make test-safety`: the safety proofs of issue 9 that need no lab VM.
#   tests/e2e/test_bad_input.py                  bad role/audit input refused before any change
#   tests/unit/plugins/test_own_security.py      no_log, file owners/modes, no temporary files left
#   tests/unit/plugins/module_utils/test_parser_properties.py   parsers fuzzed (hypothesis)
# Runs every part even when one fails, then prints the summary line (tools/safety_summary.py).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
out=$PWD/tests/output/safety
rm -rf "$out" && mkdir -p "$out"
export HVSEC_SAFETY_REPORT_DIR=$out
rc=0
.venv/bin/pytest -q -p no:cacheprovider tests/e2e/test_bad_input.py || rc=1
PYTHONPATH=$PWD/.build/collections .venv/bin/pytest -q -p no:cacheprovider \
  tests/unit/plugins/test_own_security.py tests/unit/plugins/module_utils/test_parser_properties.py || rc=1
.venv/bin/python tools/safety_summary.py "$out" || rc=1
exit $rc
