# Shared settings and helpers for lab/*.sh (sourced, not executed).
# shellcheck shell=bash
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_DIR=${LAB_DIR:-$REPO/.lab}
case "$LAB_DIR" in /*) ;; *) LAB_DIR=$REPO/$LAB_DIR ;; esac
PIDFILE=$LAB_DIR/qemu.pid
STATE=$LAB_DIR/lab.env
SERIAL=$LAB_DIR/serial.log
KEY=$LAB_DIR/id_ed25519
# shellcheck disable=SC2034  # read by up.sh and down.sh, which source this file
INVENTORY=$LAB_DIR/inventory.yml

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of the serial console (used whenever a wait expires).
lab_serial_tail() {
    local n=${1:-40}
    if [ "${LAB_IOMMU:-intel}" = amd ]; then
        lab_log "the AMD variant runs without a serial console (see lab/up.sh); no boot log before SSH answers"
    elif [ -s "$SERIAL" ]; then
        printf -- '---- last %s lines of the serial console (%s) ----\n' "$n" "$SERIAL" >&2
        tail -n "$n" "$SERIAL" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' >&2
        printf -- '---- end of serial console ----\n' >&2
    else
        lab_log "the serial console log $SERIAL is empty"
    fi
}

# The QEMU pid of this LAB_DIR if that process is alive and really our QEMU, else nothing.
lab_running_pid() {
    [ -s "$PIDFILE" ] || return 1
    local pid
    pid=$(tr -dc '0-9' <"$PIDFILE")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "file=$LAB_DIR/overlay.qcow2," || return 1
    echo "$pid"
}

lab_state() {  # lab_state VAR -> value from lab.env
    [ -s "$STATE" ] || return 1
    sed -n "s/^$1=//p" "$STATE" | tail -1
}

lab_ssh_opts() {
    local port=$1
    printf '%s\n' -i "$KEY" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=30 \
        -o ServerAliveInterval=10 -o IdentitiesOnly=yes
}
