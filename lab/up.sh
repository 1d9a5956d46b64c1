#!/usr/bin/env bash
# Boot the lab hypervisor VM (building or reusing the cached image), wait for SSH, and write
# $LAB_DIR/inventory.yml (host hvlab in group hypervisors).
#
#   LAB_DIR           state directory (default .lab): key, overlay, pid, serial log, inventory
#   LAB_IOMMU         intel (default: -device intel-iommu) | amd (-device amd-iommu)
#   LAB_CPU           QEMU -cpu model (default qemu64,+svm,+npt; see docs/lab.md)
#   LAB_MEM           MiB of guest memory (default 1536)
#   LAB_BOOT_TIMEOUT  seconds to wait for SSH (default 900)
set -euo pipefail
# shellcheck source=lab/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LAB_IOMMU=${LAB_IOMMU:-intel}
case "$LAB_IOMMU" in
    intel|amd) ;;
    *) lab_die "LAB_IOMMU must be 'intel' or 'amd', not '$LAB_IOMMU'" ;;
esac
LAB_CPU=${LAB_CPU:-qemu64,+svm,+npt}
LAB_MEM=${LAB_MEM:-1536}
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-900}
[[ "$LAB_MEM" =~ ^[0-9]+$ ]] || lab_die "LAB_MEM must be a number of MiB, not '$LAB_MEM'"
[[ "$LAB_BOOT_TIMEOUT" =~ ^[0-9]+$ ]] || lab_die "LAB_BOOT_TIMEOUT must be a number of seconds, not '$LAB_BOOT_TIMEOUT'"

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null 2>&1 || lab_die "QEMU ($QEMU) is not installed: run 'make deps' (lab/deps.sh) as root"
command -v qemu-img >/dev/null 2>&1 || lab_die "qemu-img is not installed: run 'make deps' (lab/deps.sh) as root"
for c in ssh ssh-keygen python3; do command -v "$c" >/dev/null 2>&1 || lab_die "'$c' is not installed: run 'make deps'"; done

mkdir -p "$LAB_DIR"
exec 8>"$LAB_DIR/.up.lock"
flock -n 8 || lab_die "another 'lab up' is already starting in $LAB_DIR"
if pid=$(lab_running_pid); then
    lab_die "a lab is already running in $LAB_DIR (QEMU pid $pid, SSH port $(lab_state PORT || echo '?')); use it ('make lab-ssh') or stop it first ('make lab-down'), or set LAB_DIR for a second lab"
fi

if [ -n "${HVSEC_LAB_BASE:-}" ]; then
    BASE=$HVSEC_LAB_BASE   # used by build-image.sh for the warm-up boot of a new image
else
    BASE=$(bash "$REPO/lab/build-image.sh" --print-path)
fi
[ -s "$BASE" ] || lab_die "no base image (lab/build-image.sh printed '$BASE')"

# Fresh per-lab state: overlay on the pristine base, a new key, a new serial log.
rm -f "$LAB_DIR/overlay.qcow2" "$KEY" "$KEY.pub" "$SERIAL" "$PIDFILE" "$STATE" "$INVENTORY" "$LAB_DIR/qmp.sock"
qemu-img create -q -f qcow2 -F qcow2 -b "$BASE" "$LAB_DIR/overlay.qcow2"
ssh-keygen -q -t ed25519 -N '' -C "hvsec-lab@$(hostname)" -f "$KEY"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

has_device() { "$QEMU" -device help 2>/dev/null | grep -q "\"$1\""; }

# Devices. IOMMU first (it must exist before the PCI devices it translates for).
# Serial console to a file (every wait prints its tail). Not on the AMD variant: with QEMU's
# amd-iommu the guest's 16550 transmit interrupt (IOAPIC, edge) never arrives, so every console
# write from user space (systemd's status lines, the serial getty) blocks until the tty's 30 s
# timeout and the boot takes tens of minutes (measured: systemd advanced one line per 30 s, with
# intremap on and off); without the UART it boots in ~95 s. Its kernel log is saved over SSH instead.
dev_args=()
if [ "$LAB_IOMMU" = intel ]; then
    dev_args+=(-device "intel-iommu,intremap=on")
    serial_args=(-serial "file:$SERIAL")
else
    dev_args+=(-device "amd-iommu,intremap=on")
    serial_args=(-serial none)
fi
# Management NIC: SSH forward on loopback only; restrict=on keeps the guest from reaching the
# host or any other network through it.
dev_args+=(-device "virtio-net-pci,netdev=mgmt,mac=52:54:00:4c:00:01")
# SR-IOV physical function (QEMU >= 8: igb). Its network is restricted too.
if has_device igb; then
    dev_args+=(-netdev "user,id=sriov,restrict=on" -device "igb,netdev=sriov,mac=52:54:00:4c:00:02")
    sriov=igb
else
    lab_log "WARNING: this QEMU has no igb device: the lab has no SR-IOV NIC (run 'make deps' for QEMU from bookworm-backports)"
    sriov=none
fi
# Spare NIC to bind to vfio-pci, and the guest-only "VM network" NIC.
dev_args+=(-netdev "user,id=spare,restrict=on" -device "e1000e,netdev=spare,mac=52:54:00:4c:00:03")
dev_args+=(-netdev "user,id=vmnet,restrict=on" -device "virtio-net-pci,netdev=vmnet,mac=52:54:00:4c:00:04")

start_qemu() {
    local port=$1
    "$QEMU" -name "hvlab,process=hvlab-qemu" \
        -machine q35,accel=tcg,kernel-irqchip=split -cpu "$LAB_CPU" -smp 2 -m "$LAB_MEM" \
        "${dev_args[@]}" \
        -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22" \
        -drive "file=$LAB_DIR/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
        -fw_cfg "name=opt/hvsec/authorized_keys,file=$KEY.pub" \
        -display none -vga none "${serial_args[@]}" -monitor none \
        -qmp "unix:$LAB_DIR/qmp.sock,server=on,wait=off" \
        -pidfile "$PIDFILE" -daemonize 2>"$LAB_DIR/qemu.err" 8>&-
}

T0=$(date +%s)
port=""
for attempt in 1 2 3; do
    port=$(free_port)
    if start_qemu "$port"; then break; fi
    if grep -qi 'hostfwd\|address already in use\|could not set up host forwarding' "$LAB_DIR/qemu.err" && [ "$attempt" -lt 3 ]; then
        lab_log "port $port was taken meanwhile; retrying"
        continue
    fi
    cat "$LAB_DIR/qemu.err" >&2
    lab_die "QEMU failed to start (see above)"
done
pid=$(lab_running_pid) || { cat "$LAB_DIR/qemu.err" >&2; lab_die "QEMU exited right after starting"; }
cat >"$STATE" <<EOF
PID=$pid
PORT=$port
IOMMU=$LAB_IOMMU
CPU=$LAB_CPU
SRIOV=$sriov
BASE=$BASE
STARTED=$T0
EOF
lab_log "QEMU pid $pid ($LAB_IOMMU IOMMU, SR-IOV NIC: $sriov), SSH on 127.0.0.1:$port; waiting up to ${LAB_BOOT_TIMEOUT}s"

mapfile -t SSH_OPTS < <(lab_ssh_opts "$port")
deadline=$((T0 + LAB_BOOT_TIMEOUT))
while :; do
    if ! lab_running_pid >/dev/null; then
        lab_serial_tail 60
        cat "$LAB_DIR/qemu.err" >&2 2>/dev/null || true
        lab_die "QEMU exited while booting"
    fi
    if ssh "${SSH_OPTS[@]}" root@127.0.0.1 true </dev/null >/dev/null 2>&1; then break; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        lab_serial_tail 60
        bash "$REPO/lab/down.sh" >/dev/null 2>&1 || true
        lab_die "no SSH after ${LAB_BOOT_TIMEOUT}s; the VM was stopped (raise LAB_BOOT_TIMEOUT on a busy machine)"
    fi
    sleep 3
done
boot_s=$(( $(date +%s) - T0 ))
echo "BOOT_SECONDS=$boot_s" >>"$STATE"
if [ "$LAB_IOMMU" = amd ]; then
    ssh "${SSH_OPTS[@]}" root@127.0.0.1 dmesg </dev/null >"$SERIAL" 2>/dev/null || true
fi

cat >"$INVENTORY" <<EOF
# Written by lab/up.sh; valid while this lab runs (make lab-down removes it).
all:
  children:
    hypervisors:
      hosts:
        hvlab:
          ansible_host: 127.0.0.1
          ansible_port: $port
          ansible_user: root
          ansible_ssh_private_key_file: $KEY
          ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=60"
          ansible_python_interpreter: /usr/bin/python3
          ansible_ssh_timeout: 60
          hvsec_lab_iommu: $LAB_IOMMU
          hvsec_lab_sriov_nic: $sriov
EOF
lab_log "up in ${boot_s}s: ssh root@127.0.0.1 -p $port (make lab-ssh); inventory $INVENTORY"
