#!/bin/sh
# Put the lab hypervisor into a realistically insecure starting state: the mistakes found on
# real KVM hosts, so the hardening roles have real work to do. Test fixture only (run by
# lab/molecule/default/prepare.yml); never run this on a real host.
set -eu

# --- kernel command line: passthrough-mode IOMMU (iommu=pt) and an unsafe ACS override
sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"/' /etc/default/grub
update-grub >/dev/null 2>&1

# --- VFIO: passthrough allowed without interrupt remapping, no-IOMMU mode allowed
cat >/etc/modprobe.d/vfio-insecure.conf <<'CONF'
options vfio_iommu_type1 allow_unsafe_interrupts=1
options vfio enable_unsafe_noiommu_mode=1
CONF

# --- KSM page sharing on (a cross-VM side channel), persistently
echo 'w /sys/kernel/mm/ksm/run - - - - 1' >/etc/tmpfiles.d/ksm-insecure.conf
echo 1 >/sys/kernel/mm/ksm/run

# --- libvirt: plain TCP without authentication, world-writable unix socket
cat >>/etc/libvirt/libvirtd.conf <<'CONF'
# lab prepare: insecure remote access
listen_tls = 0
listen_tcp = 1
auth_tcp = "none"
unix_sock_rw_perms = "0777"
auth_unix_rw = "none"
CONF
# --- qemu: consoles on every address, no migration TLS, no security driver
cat >>/etc/libvirt/qemu.conf <<'CONF'
# lab prepare: insecure consoles and confinement
vnc_listen = "0.0.0.0"
spice_listen = "0.0.0.0"
vnc_tls = 0
migrate_tls_force = 0
security_driver = "none"
CONF
systemctl stop libvirtd.service libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket >/dev/null 2>&1 || true
systemctl enable libvirtd-tcp.socket >/dev/null 2>&1
systemctl start libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket libvirtd-tcp.socket
systemctl start libvirtd.service

# --- Open vSwitch and the guest bridge: tasks/prepare_vswitch.yml (ovsbr0/ovsbr1 with plain-TCP
#     listeners, br-guest with a host address and proxy ARP, guest namespaces).

# --- SR-IOV: VFs created at boot with spoof checking off and trust on
if [ -e /sys/class/net/sriov0/device/sriov_totalvfs ]; then
    cat >/etc/systemd/system/lab-sriov.service <<'CONF'
[Unit]
Description=Lab: create SR-IOV VFs on sriov0 (insecure settings)
Wants=systemd-udev-settle.service
After=systemd-udev-settle.service network-pre.target
Before=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for i in $(seq 60); do [ -e /sys/class/net/sriov0/device/sriov_numvfs ] && break; sleep 1; done; echo 2 > /sys/class/net/sriov0/device/sriov_numvfs; ip link set sriov0 vf 0 spoofchk off trust on; ip link set sriov0 vf 1 spoofchk off trust on'

[Install]
WantedBy=multi-user.target
CONF
    systemctl enable lab-sriov.service >/dev/null 2>&1
fi

# --- sshd: root and password logins (the lab baseline drop-in must not override them)
sed -i '/^PermitRootLogin/d' /etc/ssh/sshd_config.d/00-hvsec-lab.conf
sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin yes/; s/^#\?PasswordAuthentication.*/PasswordAuthentication yes/' /etc/ssh/sshd_config
echo 'root:hvlab-insecure' | chpasswd
sshd -t
systemctl reload ssh

mkdir -p /var/lib/hvsec-lab
date -u +%FT%TZ >/var/lib/hvsec-lab/prepared
