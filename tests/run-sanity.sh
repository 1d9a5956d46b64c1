#!/usr/bin/env bash
# `make sanity`: ansible-test sanity with every tool it uses. A sanity test that ansible-test skips
# (a missing program such as shellcheck, a missing virtual environment) fails the run: a skipped
# test would otherwise pass silently.
#   usage: tests/run-sanity.sh TEST_TREE ANSIBLE_TEST
set -uo pipefail
tree=$1 ansible_test=$2
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "sanity: installing shellcheck (Debian package) for ansible-test's shellcheck test"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; } >/dev/null ||
        { echo "sanity: cannot install shellcheck (apt-get as root); install it and run again" >&2; exit 2; }
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$tree" || exit 2
"$ansible_test" sanity --local --python 3.11 --color no 2>&1 | grep -v "^WARNING: Location 'file:" | tee "$log"
rc=${PIPESTATUS[0]}
# ansible-test reports a skipped test only as a warning: "Required program ... not found" or
# "Skipping sanity test ...".
if grep -E 'Required program "[^"]+" not found|Skipping sanity test' "$log" >/dev/null; then
    echo "sanity: FAILED: ansible-test skipped a test it should run:" >&2
    grep -E 'Required program "[^"]+" not found|Skipping sanity test' "$log" >&2
    [ "$rc" -ne 0 ] || rc=3
fi
exit "$rc"
