#!/usr/bin/env bash
# Stop the lab VM of $LAB_DIR (default .lab) and verify that nothing is left running.
# Asks QEMU to power off, then SIGTERM, then SIGKILL; always bounded in time.
set -euo pipefail
# shellcheck source=lab/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ -d "$LAB_DIR" ] || { lab_log "no lab in $LAB_DIR"; exit 0; }

gone() { ! kill -0 "$1" 2>/dev/null; }
wait_gone() {  # pid seconds
    local i=0
    while [ "$i" -lt $(($2 * 10)) ]; do gone "$1" && return 0; sleep 0.1; i=$((i + 1)); done
    return 1
}

if pid=$(lab_running_pid); then
    lab_log "stopping QEMU pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 15; then
        lab_log "QEMU did not exit after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || lab_die "QEMU pid $pid is still running after SIGKILL"
    fi
else
    lab_log "no running lab in $LAB_DIR"
fi
# Belt and braces: any QEMU still using this LAB_DIR's overlay (e.g. a lost pid file).
for p in $(pgrep -f "qemu-system.*$LAB_DIR/overlay.qcow2" || true); do
    lab_log "stopping stray QEMU pid $p"
    kill -KILL "$p" 2>/dev/null || true
    wait_gone "$p" 10 || lab_die "stray QEMU pid $p is still running"
done
rm -f "$PIDFILE" "$INVENTORY" "$STATE" "$LAB_DIR/qmp.sock" "$LAB_DIR/overlay.qcow2"
lab_log "down (serial log kept in $SERIAL)"
