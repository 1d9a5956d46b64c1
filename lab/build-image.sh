#!/usr/bin/env bash
# Build the lab hypervisor's disk image from scratch: Debian 12 by debootstrap on this host,
# packages installed in a chroot (seconds, not the 39 minutes it takes inside a TCG guest),
# GRUB installed on the disk's MBR so the VM boots through SeaBIOS + GRUB and kernel
# command-line changes made by the roles take effect on reboot.
#
# Output: a qcow2 base image in the cache, keyed by a hash of this script's recipe part (the
# package list and every file written into the image live here). A second build is instant,
# a changed recipe builds a new image. Labs boot from qcow2 overlays; the base stays pristine.
#
#   HVSEC_LAB_CACHE  cache directory (default /var/tmp/hvsec-lab)
#   HVSEC_LAB_MIRROR Debian mirror (default: the one apt on this machine uses)
#   --print-path     print the base image path (building it if needed) and nothing else on stdout
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HVSEC_LAB_CACHE:-/var/tmp/hvsec-lab}
SUITE=bookworm
DISK_SIZE=6G

log() { printf 'lab/build-image: %s\n' "$*" >&2; }
die() { printf 'lab/build-image: ERROR: %s\n' "$*" >&2; exit 1; }

# Everything installed on top of debootstrap's minbase. Keep sorted; changing it rebuilds.
PACKAGES=(
    apparmor auditd bridge-utils chrony dbus dmidecode dnsmasq-base ethtool grub-pc
    initramfs-tools iproute2 iptables iputils-ping kmod less libvirt-clients
    libvirt-daemon-system linux-image-amd64 netcat-openbsd nftables openssh-server
    openvswitch-switch pciutils polkitd procps python3 python3-apt qemu-system-x86
    qemu-utils sudo systemd systemd-sysv udev zstd
)
STAGE1_INCLUDE=systemd,systemd-sysv,udev,dbus,kmod,ca-certificates,gnupg

# The key covers the recipe (everything above the warm-up section, comment lines aside): packages
# and every file written into the image. Tuning the warm-up boot (timeouts) or a comment does not
# invalidate the cache.
recipe_key() { sed '/^# ---- warm-up boot/,$d' "$HERE/build-image.sh" | grep -v '^[[:space:]]*#' | sha256sum | cut -c1-16; }
KEY=$(recipe_key)
BASE=$CACHE/base-$KEY.qcow2

if [ "${1:-}" = "--print-path" ] && [ -s "$BASE" ]; then echo "$BASE"; exit 0; fi
if [ -s "$BASE" ]; then log "cached: $BASE"; [ "${1:-}" = "--print-path" ] && echo "$BASE"; exit 0; fi

[ "$(id -u)" -eq 0 ] || die "building the image needs root (loop devices, chroot, mount); run as root or reuse a cached image in $CACHE"
for c in debootstrap sfdisk partx losetup mkfs.ext4 qemu-img unshare chroot flock; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found: run 'make deps' (lab/deps.sh) first"
done

mirror() {
    if [ -n "${HVSEC_LAB_MIRROR:-}" ]; then echo "$HVSEC_LAB_MIRROR"; return; fi
    local m=""
    [ -f /etc/apt/sources.list.d/debian.sources ] && m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    [ -z "$m" ] && [ -f /etc/apt/sources.list ] && m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
    echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)
SECURITY_MIRROR=${MIRROR%/debian}/debian-security

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
    log "another build holds $CACHE/.build.lock; waiting up to 30 minutes"
    flock -w 1800 9 || die "timed out waiting for the other image build"
fi
if [ -s "$BASE" ]; then log "cached (built meanwhile): $BASE"; [ "${1:-}" = "--print-path" ] && echo "$BASE"; exit 0; fi

T0=$(date +%s)
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
MNT=$WORK/mnt
RAW=$WORK/disk.raw
LOOP=""
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    set +e
    [ -d "$WORK/warm" ] && LAB_DIR=$WORK/warm bash "$HERE/down.sh" >/dev/null 2>&1
    for m in dev/pts dev proc sys run; do mountpoint -q "$MNT/$m" && umount -l "$MNT/$m"; done
    mountpoint -q "$MNT" && umount -l "$MNT"
    [ -n "$LOOP" ] && { partx -d "$LOOP" 2>/dev/null; losetup -d "$LOOP"; }
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- stage 1: debootstrap tree, cached as a tarball keyed by suite, mirror and include list
S1KEY=$(printf '%s|%s|%s|minbase\n' "$SUITE" "$MIRROR" "$STAGE1_INCLUDE" | sha256sum | cut -c1-16)
S1TAR=$CACHE/rootfs-$S1KEY.tar
if [ ! -s "$S1TAR" ]; then
    log "debootstrap $SUITE from $MIRROR (stage 1)"
    mkdir -p "$WORK/s1"
    debootstrap --variant=minbase --include="$STAGE1_INCLUDE" "$SUITE" "$WORK/s1" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    tar -C "$WORK/s1" --numeric-owner -cf "$S1TAR.tmp" . && mv "$S1TAR.tmp" "$S1TAR"
    rm -rf "$WORK/s1"
fi
log "stage 1 ready after $(( $(date +%s) - T0 )) s"

# ---- the disk: MBR, one ext4 partition with a UUID we choose
truncate -s "$DISK_SIZE" "$RAW"
echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$RAW"
LOOP=$(losetup -fP --show "$RAW")
partx -a "$LOOP" 2>/dev/null || true
PART=${LOOP}p1
for _ in $(seq 1 50); do [ -b "$PART" ] && break; sleep 0.1; done
[ -b "$PART" ] || die "partition device $PART did not appear"
ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
mkfs.ext4 -q -L hvlab-root -U "$ROOT_UUID" "$PART"
mkdir -p "$MNT"
mount "$PART" "$MNT"
tar -C "$MNT" --numeric-owner -xf "$S1TAR"

mount --bind /dev "$MNT/dev"; mount --bind /dev/pts "$MNT/dev/pts"
mount -t proc proc "$MNT/proc"; mount -t sysfs sysfs "$MNT/sys"; mount -t tmpfs tmpfs "$MNT/run"
in_root() { chroot "$MNT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

# ---- stage 2: configuration written before packages, so maintainer scripts see it
cp /etc/resolv.conf "$MNT/etc/resolv.conf"
cat >"$MNT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
printf '#!/bin/sh\nexit 101\n' >"$MNT/usr/sbin/policy-rc.d"; chmod 755 "$MNT/usr/sbin/policy-rc.d"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$MNT/etc/apt/apt.conf.d/90hvsec-lab"
# A small initrd: only what boots a virtio disk with ext4 (the BIOS loads it slowly under TCG).
mkdir -p "$MNT/etc/initramfs-tools/conf.d"
printf 'MODULES=list\nCOMPRESS=zstd\n' >"$MNT/etc/initramfs-tools/conf.d/hvsec-lab.conf"
cat >"$MNT/etc/initramfs-tools/modules" <<'EOF'
virtio_pci
virtio_blk
ext4
crc32c_generic
EOF
echo hvlab >"$MNT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thvlab\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$MNT/etc/hosts"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$ROOT_UUID" >"$MNT/etc/fstab"
in_root debconf-set-selections <<'EOF'
grub-pc grub-pc/install_devices_empty boolean true
grub-pc grub-pc/install_devices multiselect
EOF

log "installing ${#PACKAGES[@]} packages in the chroot"
in_root apt-get update -qq >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log" >&2; die "apt-get update in chroot failed"; }
in_root apt-get install -y -qq "${PACKAGES[@]}" >>"$WORK/apt.log" 2>&1 || { tail -40 "$WORK/apt.log" >&2; die "apt-get install in chroot failed"; }
in_root apt-get clean
log "packages installed after $(( $(date +%s) - T0 )) s"

# ---- boot loader: serial console, no menu delay; no_timer_check keeps the AMD-Vi variant
#      from panicking (timer through the interrupt-remapped IO-APIC) and is harmless otherwise.
cat >"$MNT/etc/default/grub" <<'EOF'
# Lab hypervisor (hvsec.hypervisor lab/build-image.sh). Roles edit GRUB_CMDLINE_LINUX*.
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_RECORDFAIL_TIMEOUT=0
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200 no_timer_check"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF

# ---- network: name NICs by MAC (the first-probed NIC must not steal the management name);
#      only mgmt0 gets an address. QEMU's user network is restricted, so nothing leaves the VM
#      except through the SSH port forward on 127.0.0.1.
mkdir -p "$MNT/etc/systemd/network"
link() { printf '[Match]\nMACAddress=%s\n\n[Link]\nName=%s\n' "$1" "$2" >"$MNT/etc/systemd/network/10-$2.link"; }
link 52:54:00:4c:00:01 mgmt0    # virtio-net, user netdev with the SSH forward
link 52:54:00:4c:00:02 sriov0   # igb: SR-IOV physical function
link 52:54:00:4c:00:03 spare0   # e1000e: spare NIC for vfio-pci binding
link 52:54:00:4c:00:04 vmnet0   # virtio-net on the guest-only "VM network"
cat >"$MNT/etc/systemd/network/20-mgmt0.network" <<'EOF'
[Match]
Name=mgmt0

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
IPv6AcceptRA=no
EOF
: >"$MNT/etc/resolv.conf"
in_root systemctl enable systemd-networkd.service >/dev/null 2>&1
in_root systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true

# ---- per-lab SSH key: up.sh passes the public key through QEMU fw_cfg; this unit installs it
#      for root before sshd starts. The image itself holds no credential.
cat >"$MNT/usr/local/sbin/hvsec-lab-key" <<'EOF'
#!/bin/sh
# Install the lab's SSH public key (QEMU fw_cfg opt/hvsec/authorized_keys) for root.
set -e
modprobe qemu_fw_cfg 2>/dev/null || true
src=/sys/firmware/qemu_fw_cfg/by_name/opt/hvsec/authorized_keys/raw
i=0
while [ ! -r "$src" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -r "$src" ] || { echo "hvsec-lab-key: no key in fw_cfg" >&2; exit 0; }
install -d -m 700 /root/.ssh
umask 077
cat "$src" >/root/.ssh/authorized_keys.new
mv /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
EOF
chmod 755 "$MNT/usr/local/sbin/hvsec-lab-key"
cat >"$MNT/etc/systemd/system/hvsec-lab-key.service" <<'EOF'
[Unit]
Description=Install the lab SSH key from QEMU fw_cfg
Before=ssh.service
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hvsec-lab-key
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable hvsec-lab-key.service >/dev/null 2>&1
# Key-only root login is the lab's baseline; prepare may weaken it on purpose.
mkdir -p "$MNT/etc/ssh/sshd_config.d"
printf 'PermitRootLogin prohibit-password\nUseDNS no\n' >"$MNT/etc/ssh/sshd_config.d/00-hvsec-lab.conf"

# ---- boot speed: timers and services irrelevant to a lab that lives minutes
for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer \
         e2scrub_reap.service; do
    in_root systemctl disable "$u" >/dev/null 2>&1 || true
done
in_root systemctl mask apt-daily.service apt-daily-upgrade.service >/dev/null 2>&1 || true
: >"$MNT/etc/machine-id"
rm -f "$MNT/var/lib/dbus/machine-id"
passwd_line=$(grep '^root:' "$MNT/etc/shadow")
[ -n "$passwd_line" ] || die "no root entry in the image's /etc/shadow"
rm -f "$MNT/usr/sbin/policy-rc.d"

# ---- GRUB on the MBR; update-grub in a private mount namespace with a by-uuid link, because
#      this host has no udev (otherwise grub.cfg would say root=/dev/loopNp1).
in_root grub-install --target=i386-pc "$LOOP" >"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "grub-install failed"; }
umount "$MNT/dev/pts"; umount "$MNT/dev"
# shellcheck disable=SC2016  # the inner bash expands its own positional parameters
unshare -m /bin/bash -euo pipefail -c '
    mnt=$1; loop=$2; part=$3; uuid=$4
    mount -t tmpfs tmpfs "$mnt/dev"
    mkdir -p "$mnt/dev/disk/by-uuid" "$mnt/dev/pts"
    cp -a "$loop" "$part" /dev/null /dev/zero /dev/urandom /dev/random "$mnt/dev/"
    ln -s "../../$(basename "$part")" "$mnt/dev/disk/by-uuid/$uuid"
    chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C update-grub
' _ "$MNT" "$LOOP" "$PART" "$ROOT_UUID" >"$WORK/update-grub.log" 2>&1 || { cat "$WORK/update-grub.log" >&2; die "update-grub failed"; }
grep -q "root=UUID=$ROOT_UUID" "$MNT/boot/grub/grub.cfg" || die "grub.cfg does not boot root=UUID=$ROOT_UUID"
in_root debconf-set-selections <<'EOF'
grub-pc grub-pc/install_devices multiselect /dev/vda
grub-pc grub-pc/install_devices_empty boolean false
EOF
mount --bind /dev "$MNT/dev"

for m in run sys proc dev; do umount "$MNT/$m"; done
umount "$MNT"
partx -d "$LOOP" 2>/dev/null || true
losetup -d "$LOOP"; LOOP=""

log "converting to qcow2"
qemu-img convert -O qcow2 "$RAW" "$WORK/base.qcow2"
rm -f "$RAW"

# ---- warm-up boot: the first boot of a Debian system does slow one-time work (AppArmor
#      policy compilation ~80 s under TCG, OVSDB creation, machine-id, ...). Boot the new image
#      once through lab/up.sh, power it off cleanly and commit that state into the base, so
#      every lab boots warm.
log "warm-up boot of the new image (first boot is slow under TCG)"
WARM=$WORK/warm
T1=$(date +%s)
LAB_DIR=$WARM HVSEC_LAB_BASE=$WORK/base.qcow2 LAB_IOMMU=intel LAB_BOOT_TIMEOUT=${HVSEC_LAB_WARM_TIMEOUT:-1800} bash "$HERE/up.sh" >&2 \
    || die "the warm-up boot of the new image failed (serial log above)"
WPORT=$(sed -n 's/^PORT=//p' "$WARM/lab.env")
WPID=$(sed -n 's/^PID=//p' "$WARM/lab.env")
ssh -i "$WARM/id_ed25519" -p "$WPORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1 \
    'timeout 600 systemctl is-system-running --wait >/dev/null 2>&1; systemctl --failed --no-legend;
     rm -f /root/.ssh/authorized_keys; journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-time=1s >/dev/null 2>&1;
     sync; systemctl poweroff' >&2 || true
for _ in $(seq 1 300); do kill -0 "$WPID" 2>/dev/null || break; sleep 1; done
if kill -0 "$WPID" 2>/dev/null; then
    LAB_DIR=$WARM bash "$HERE/down.sh" >&2 || true
    die "the warm-up VM did not power off within 300 s"
fi
qemu-img commit -q "$WARM/overlay.qcow2"
rm -rf "$WARM"
log "warm-up done in $(( $(date +%s) - T1 )) s"
mv "$WORK/base.qcow2" "$BASE"
# Keep only the newest few base images.
find "$CACHE" -maxdepth 1 -name 'base-*.qcow2' -printf '%T@ %p\n' | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
log "built $BASE in $(( $(date +%s) - T0 )) s"
[ "${1:-}" = "--print-path" ] && echo "$BASE"
exit 0
