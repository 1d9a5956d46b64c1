#!/usr/bin/env bash
# `make lab-amd`: boot the AMD-Vi variant of the lab (-device amd-iommu) and run the facts, harness
# and audit tests on it; the VM is always stopped on exit. One lab at a time: run it when no other
# lab VM runs (lab/up.sh refuses a second lab in the same LAB_DIR; two TCG VMs crawl on 2 cores).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export PATH=$REPO/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$REPO/.build/collections
export LAB_DIR=${HVSEC_AMD_LAB_DIR:-$REPO/.lab/amd} LAB_IOMMU=amd
unset ANSIBLE_CONFIG
trap 'bash lab/down.sh >/dev/null 2>&1 || true' EXIT
t0=$(date +%s)
bash lab/up.sh
t1=$(date +%s)
rc=0
pytest -p no:cacheprovider -q lab/tests/test_harness.py lab/tests/test_facts.py lab/tests/test_audit_lab.py \
    2>&1 | tee "$LAB_DIR/pytest.log" || rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    python3 lab/failure_excerpt.py "$LAB_DIR/pytest.log" | tee "${HVSEC_FAILURE_EXCERPT:-/dev/null}" >&2 || true
    exit "$rc"
fi
echo "lab-amd: boot $((t1 - t0)) s, tests $(( $(date +%s) - t1 )) s"
