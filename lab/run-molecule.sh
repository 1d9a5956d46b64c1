#!/usr/bin/env bash
# `make molecule`: the default Molecule scenario on one booted lab VM, step by step and timed:
# image (build or cache), create (boot), prepare (insecure state + reboot), converge,
# idempotence, check (must report no change), verify, side_effect (reboot), verify, destroy.
# The VM is always destroyed on exit, also on failure or interruption.
#
#   HVSEC_MOLECULE_LAB_DIR  lab state directory for the scenario (default .lab/molecule)
#   HVSEC_MOLECULE_KEEP=1   keep the VM running after the run (for debugging; lab/down.sh stops it)
#   HVSEC_MOLECULE_CHECK=0  skip Molecule's check step (a --check run after converge)
#   HVSEC_MOLECULE_FAULTS=1 run the fault-injection phase (lab/tests/test_safety_faults.py);
#                           quick: the four faults without a full role run and the sshd rollback (make test)
#   HVSEC_MOLECULE_SHAPES=1 run the deployment shapes (lab/tests/test_shapes.py: libvirt NAT, Proxmox
#                           VE vmbr0; the OpenStack OVS agent is in the verify) after the faults
#   HVSEC_MOLECULE_REBOOT=0 skip the reboot side effect and the boot-time verify
#   HVSEC_MOLECULE_BENCH=1  benchmark instead of test (make bench-harden): create, prepare, converge, then
#                           bench/harden_bench.py on the hardened VM (audit, full and skipping harden
#                           re-runs), destroy; HVSEC_BENCH_RUNS runs of each (default 2)
#   HVSEC_LAB_EXTENDED=1    also run the extended lab proofs in the verify (per-role check/fix
#                           cycles, the example site playbook; see lab/tests/conftest.py)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

export PATH=$REPO/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$REPO/.build/collections
# The scenario lives in lab/molecule/; Molecule runs from the repository root, so the project
# directory ($MOLECULE_PROJECT_DIRECTORY in molecule.yml, create.yml, destroy.yml) is the repository.
export MOLECULE_GLOB='lab/molecule/*/molecule.yml'
export HVSEC_MOLECULE_LAB_DIR=${HVSEC_MOLECULE_LAB_DIR:-$REPO/.lab/molecule}
export LAB_DIR=$HVSEC_MOLECULE_LAB_DIR
# The roles record on the controller the variables their last complete run applied to a host
# (docs/harden.md). Every scenario starts from a new VM, so from an empty record.
export HVSEC_HARDEN_STATE_DIR=$LAB_DIR/harden-state
rm -rf "$HVSEC_HARDEN_STATE_DIR"
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 MOLECULE_NO_COLOR=1 PY_COLORS=0 NO_COLOR=1
unset ANSIBLE_CONFIG  # Molecule writes its own ansible.cfg for the scenario
command -v molecule >/dev/null 2>&1 || { echo "run-molecule: molecule not found: run 'make venv'" >&2; exit 1; }
mkdir -p "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/hvsec"
[ -e "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/hvsec/hypervisor" ] || ln -sfn "$REPO" "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/hvsec/hypervisor"

mkdir -p "$LAB_DIR"
LOG=$LAB_DIR/molecule.log
TIMINGS=$LAB_DIR/timings.txt
: >"$LOG"; : >"$TIMINGS"

cleanup() {
    local rc=$?
    if [ "${HVSEC_MOLECULE_KEEP:-0}" = 1 ]; then
        echo "run-molecule: HVSEC_MOLECULE_KEEP=1: the lab VM keeps running (LAB_DIR=$LAB_DIR bash lab/down.sh stops it)" >&2
    else
        molecule destroy >>"$LOG" 2>&1 || true
        bash "$REPO/lab/down.sh" >/dev/null 2>&1 || true
    fi
    echo "---- phase timings (s) ----" >&2
    cat "$TIMINGS" >&2
    if [ "$rc" -ne 0 ]; then
        echo "run-molecule: FAILED (rc $rc); full log: $LOG" >&2
        # The failed phase's cause in a few lines, last (CI keeps only the tail of the output);
        # make test prints it again after its phase times (HVSEC_FAILURE_EXCERPT).
        python3 "$REPO/lab/failure_excerpt.py" "$LAB_DIR/phase.log" | tee "${HVSEC_FAILURE_EXCERPT:-/dev/null}" >&2 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

phase() {  # phase NAME command...
    local name=$1; shift
    local t0 rc=0
    t0=$(date +%s)
    echo "run-molecule: == $name ==" >&2
    : >"$LAB_DIR/phase.log"
    "$@" 2>&1 | tee -a "$LOG" "$LAB_DIR/phase.log" | sed -u "s/^/[$name] /" || rc=${PIPESTATUS[0]}
    printf '%-14s %5d%s\n' "$name" "$(( $(date +%s) - t0 ))" "$([ "$rc" -eq 0 ] || echo '  FAILED')" >>"$TIMINGS"
    [ "$rc" -eq 0 ] || { echo "run-molecule: phase '$name' failed (rc $rc)" >&2; return "$rc"; }
}

# A --check run after converge must report no change on any host.
check_no_change() {
    local out
    out=$(mktemp)
    molecule check 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || { rm -f "$out"; return "$rc"; }
    python3 - "$out" <<'EOF'
import re, sys
recap = [l for l in open(sys.argv[1], errors="replace") if re.search(r"\bok=\d+\s+changed=\d+", l)]
if not recap:
    sys.exit("check: no PLAY RECAP line found in the check run's output")
bad = [l.strip() for l in recap if int(re.search(r"changed=(\d+)", l).group(1)) != 0]
if bad:
    sys.exit("check: the --check run after converge predicts changes:\n  " + "\n  ".join(bad))
print("check: no change predicted (%d recap line(s))" % len(recap))
EOF
    rc=$?
    rm -f "$out"
    return "$rc"
}

phase deps        bash lab/deps.sh
phase image       bash lab/build-image.sh
phase destroy-old molecule destroy
phase syntax      molecule syntax
phase create      molecule create
phase prepare     molecule prepare
# Before converge, on the insecure state: a --check run of harden.yml changes nothing, predicts
# changes, and its per-control verdicts agree with the audit's (lab/tests/test_safety_check_mode.py).
if [ "${HVSEC_MOLECULE_BENCH:-0}" = 1 ]; then
    phase converge    molecule converge
    phase bench       python bench/harden_bench.py --inventory "$LAB_DIR/inventory.yml" --runs "${HVSEC_BENCH_RUNS:-2}"
    [ "${HVSEC_MOLECULE_KEEP:-0}" = 1 ] || phase destroy molecule destroy
    echo "run-molecule: OK (bench)" >&2
    exit 0
fi
phase check-safe  env HVSEC_LAB_VERIFY_PHASE=prepared pytest -p no:cacheprovider -q lab/tests/test_safety_check_mode.py
phase converge    molecule converge
phase idempotence molecule idempotence
# Molecule's check step: a --check run after converge must predict no change (~4.5 min).
if [ "${HVSEC_MOLECULE_CHECK:-1}" = 1 ]; then
    phase check       check_no_change
fi
phase verify      env HVSEC_LAB_VERIFY_PHASE=converged molecule verify
# Fault injection on the hardened lab (lab/tests/test_safety_faults.py); the reboot and the
# boot-time verify that follow also prove the host still boots after the faults.
#   HVSEC_MOLECULE_FAULTS=1      all nine (make test-lab-full; eight measured 1244 s of TCG)
#   HVSEC_MOLECULE_FAULTS=quick  the four that need no full role run, and the sshd reload rollback (make test):
#                                boot-loader update, sshd -t, Open vSwitch down, unreadable probe inputs
faults_cmd=(env HVSEC_LAB_VERIFY_PHASE=faults pytest -p no:cacheprovider -q -s --durations=0 lab/tests/test_safety_faults.py)
case "${HVSEC_MOLECULE_FAULTS:-0}" in
    1) phase faults "${faults_cmd[@]}" ;;
    quick) phase faults "${faults_cmd[@]}" -k 'bootloader or sshd_validation or sshd_change_that_blocks or ovs_daemons or missing_and_unreadable or zz_summary' ;;
esac
# Deployments operators run (lab/tests/test_shapes.py): libvirt's default NAT network and a
# Proxmox VE management bridge (vmbr0) keep working after hardening (the OpenStack OVS agent's
# targets are proven in the verify). HVSEC_MOLECULE_SHAPES=1 (make test-lab-full).
if [ "${HVSEC_MOLECULE_SHAPES:-0}" = 1 ]; then
    phase shapes env HVSEC_LAB_VERIFY_PHASE=shapes pytest -p no:cacheprovider -q -s --durations=0 lab/tests/test_shapes.py
fi
# Reboot side effect, then the verify of boot-time state (kernel arguments, IOMMU groups, sshd on
# the management address, firewall table, VFs, bridge settings). HVSEC_MOLECULE_REBOOT=0 skips it.
if [ "${HVSEC_MOLECULE_REBOOT:-1}" = 1 ]; then
    phase reboot      molecule side-effect
    phase verify-boot env HVSEC_LAB_VERIFY_PHASE=rebooted molecule verify
fi
phase destroy     molecule destroy
echo "run-molecule: OK" >&2
