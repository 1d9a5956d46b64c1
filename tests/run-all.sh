#!/usr/bin/env bash
# `make test`: every gate in order, with the time of each phase. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -a PHASES=()
# The lab scripts write the cause of a failure here in a few lines (lab/failure_excerpt.py);
# it is printed last, after the phase times, since CI keeps only the tail of the output.
HVSEC_FAILURE_EXCERPT=$(mktemp)
export HVSEC_FAILURE_EXCERPT
trap 'rm -f "$HVSEC_FAILURE_EXCERPT"' EXIT
run_phase() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== [$name] $*"
  if "$@"; then
    PHASES+=("$name: $((SECONDS - start)) s ok")
  else
    local rc=$?
    PHASES+=("$name: $((SECONDS - start)) s FAILED (rc=$rc)")
    printf '%s\n' "--- phase times" "${PHASES[@]}"
    cat "$HVSEC_FAILURE_EXCERPT"
    exit "$rc"
  fi
}
run_phase docs-check make --no-print-directory docs-check
run_phase lint make --no-print-directory lint
run_phase sanity make --no-print-directory sanity
run_phase units make --no-print-directory units
run_phase safety make --no-print-directory test-safety
run_phase e2e make --no-print-directory e2e
# The whole default lab scenario (create ... check ... verify, quick faults, reboot, verify-boot,
# destroy). The other four faults (~17 min of TCG: nft -c, firewall rollback, libvirtd restart,
# killed play) and the per-role check/fix cycles are in make test-lab-full: with them make test
# would exceed its 60-minute budget.
run_phase molecule env HVSEC_MOLECULE_FAULTS=quick make --no-print-directory molecule
# The AMD-Vi variant of the lab (facts, harness, audit; ~3 min): after the Intel lab is destroyed,
# one TCG VM at a time.
run_phase lab-amd make --no-print-directory lab-amd
printf '%s\n' "--- phase times" "${PHASES[@]}"
