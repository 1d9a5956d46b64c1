#!/usr/bin/env bash
# Open a root shell on the lab VM (or run a command: lab/ssh.sh uname -a).
set -euo pipefail
# shellcheck source=lab/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

lab_running_pid >/dev/null || lab_die "no lab is running in $LAB_DIR: start one with 'make lab-up'"
port=$(lab_state PORT) || lab_die "no SSH port recorded in $STATE"
mapfile -t opts < <(lab_ssh_opts "$port")
if [ -t 0 ] && [ $# -eq 0 ]; then opts=(-t "${opts[@]}"); fi
exec ssh "${opts[@]}" root@127.0.0.1 "$@"
