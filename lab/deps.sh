#!/usr/bin/env bash
# Install what the lab needs on this (Debian 12) machine: QEMU, debootstrap, partitioning and
# filesystem tools. Idempotent and quick when everything is already present.
#
# QEMU: the lab uses `-device igb` (an SR-IOV capable NIC), which QEMU 7.2 from bookworm does
# not have. QEMU 10 from bookworm-backports does; this script adds a temporary
# `bookworm-backports` source for the mirror apt already uses, installs qemu-system-x86 and
# qemu-utils from it, and removes the source again. HVSEC_LAB_QEMU_BACKPORTS=0 keeps QEMU 7.2
# (the lab then boots without the SR-IOV NIC; see docs/lab.md).
set -euo pipefail

BACKPORTS=${HVSEC_LAB_QEMU_BACKPORTS:-1}
export DEBIAN_FRONTEND=noninteractive

log() { printf 'lab/deps: %s\n' "$*" >&2; }
die() { printf 'lab/deps: ERROR: %s\n' "$*" >&2; exit 1; }

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

qemu_has_igb() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 || return 1
    qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'
}

if [ "$(id -u)" -ne 0 ]; then
    # Only fail when something is actually missing.
    for c in qemu-system-x86_64 qemu-img debootstrap sfdisk partx mkfs.ext4 ssh ssh-keygen; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' is missing and installing it needs root (run: sudo make deps)"
    done
    exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: the lab needs a Debian/Ubuntu machine (install qemu-system-x86, qemu-utils, debootstrap, fdisk by hand)"

# The mirror apt already uses (deb822 or one-line sources), so we never add another host.
mirror() {
    local m=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
    fi
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

BASE_PKGS=(qemu-system-x86 qemu-utils debootstrap fdisk util-linux e2fsprogs openssh-client
           python3 iproute2 procps coreutils)
missing=()
for p in "${BASE_PKGS[@]}"; do have_pkg "$p" || missing+=("$p"); done

updated=0
apt_update() { [ "$updated" = 1 ] || { apt-get update -qq; updated=1; }; }

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_update
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$BACKPORTS" = 1 ] && ! qemu_has_igb; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ "$codename" = bookworm ] || die "QEMU has no igb device and backports are only wired for bookworm (set HVSEC_LAB_QEMU_BACKPORTS=0)"
    list=/etc/apt/sources.list.d/hvsec-lab-backports.list
    m=$(mirror)
    log "QEMU $(qemu-system-x86_64 --version | awk 'NR==1{print $4}') has no igb: installing QEMU from bookworm-backports ($m)"
    trap 'rm -f "$list"; apt-get update -qq >/dev/null 2>&1 || true' EXIT
    echo "deb $m bookworm-backports main" > "$list"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 qemu-utils >/dev/null
    rm -f "$list"
    apt-get update -qq >/dev/null 2>&1 || true
    trap - EXIT
    qemu_has_igb || die "QEMU from bookworm-backports still has no igb device"
fi

log "ok: $(qemu-system-x86_64 --version | head -1)"
