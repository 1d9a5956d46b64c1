#!/usr/bin/env bash
# `make sanity`: ansible-test sanity with every tool it uses. A sanity test that ansible-test skips
# (a missing program such as shellcheck, a missing virtual environment) fails the run: a skipped
# test would otherwise pass silently.
#   usage: tests/run-sanity.sh TEST_TREE ANSIBLE_TEST [ansible-test sanity options, e.g. --test shellcheck]
# Tools installed when missing (Debian packages, as root): shellcheck. HVSEC_SANITY_INSTALL=0
# installs nothing; a missing tool then fails the run when ansible-test skips its test.
set -uo pipefail
tree=$1 ansible_test=$2
shift 2

# program -> Debian package, for every external program an ansible-test sanity test looks for that
# this collection has files for (pslint's pwsh is only looked for when there are .ps1 files).
declare -A TOOLS=([shellcheck]=shellcheck)

missing=()
for prog in "${!TOOLS[@]}"; do
    command -v "$prog" >/dev/null 2>&1 || missing+=("$prog")
done
if [ "${#missing[@]}" -gt 0 ] && [ "${HVSEC_SANITY_INSTALL:-1}" != 0 ]; then
    pkgs=()
    for prog in "${missing[@]}"; do pkgs+=("${TOOLS[$prog]}"); done
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "sanity: ${missing[*]} not found; installing needs apt-get as root (run: sudo apt-get install ${pkgs[*]})" >&2
        exit 2
    fi
    echo "sanity: installing ${pkgs[*]} (Debian packages) for ansible-test's sanity tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >/dev/null ||
        { echo "sanity: cannot install ${pkgs[*]} with apt-get; install it and run again" >&2; exit 2; }
    for prog in "${missing[@]}"; do
        command -v "$prog" >/dev/null 2>&1 ||
            { echo "sanity: '$prog' is still not on PATH after installing ${TOOLS[$prog]} (PATH=$PATH)" >&2; exit 2; }
    done
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$tree" || exit 2
"$ansible_test" sanity --local --python 3.11 --color no "$@" 2>&1 | grep -v "^WARNING: Location 'file:" | tee "$log"
rc=${PIPESTATUS[0]}
# ansible-test reports a skipped test only as a warning, after its 'Running sanity test "NAME"'
# line: 'Required program "PROG" not found.' (the test is then skipped), or
# 'Skipping sanity test "NAME" ...' (a missing virtual environment, interpreter or libyaml).
# ansible-test repeats its warnings at the end ("Reviewing previous N warning(s)"): read up to there.
skipped=$(awk '
    /^WARNING: Reviewing previous/ { exit }
    /^Running sanity test "/ { split($0, q, "\""); test = q[2] }
    /Required program "[^"]+" not found/ {
        split($0, q, "\""); printf "sanity test \"%s\" skipped: required program \"%s\" not found\n", test, q[2] }
    /Skipping sanity test "/ { sub(/^WARNING: /, ""); print }
' "$log")
if [ -n "$skipped" ]; then
    {
        echo "sanity: FAILED: ansible-test skipped a test it should run:"
        while IFS= read -r line; do echo "  $line"; done <<<"$skipped"
        echo "  (install the missing tool; make sanity installs shellcheck itself when run as root)"
    } >&2
    [ "$rc" -ne 0 ] || rc=3
fi
exit "$rc"
