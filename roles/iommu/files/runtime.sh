#!/bin/sh
# hvsec.hypervisor.iommu: runtime KSM / nested / nx_huge_pages settings (HVS-IOMMU-13, 14, 15).
# Run by tasks/main.yml as /bin/sh -c "<this file>" hvsec-iommu-runtime CHECK KSM NESTED_OFF GUESTS NX
# (each 1 or 0): CHECK for check mode, KSM to turn KSM off, NESTED_OFF to turn nested
# virtualization off, GUESTS when libvirt guests are running (no module reload then), NX to keep
# kvm.nx_huge_pages on; the values come from the hvsec.hypervisor.iommu_plan filter.
# Prints "CHANGE <what>" for each change (predicted only in check mode) and "REBOOT <why>" when a
# setting can only take effect at the next boot. Exit status non-zero only on a real failure.
set -u
CHECK=${1:-0}
KSM=${2:-0}
NESTED_OFF=${3:-0}
GUESTS=${4:-0}
NX=${5:-0}
act() { if [ "$CHECK" = 1 ]; then return 0; fi; "$@"; }
if [ "$KSM" = 1 ]; then
  for unit in ksm.service ksmtuned.service; do
    if [ "$(systemctl is-enabled "$unit" 2>/dev/null)" = enabled ] || systemctl is-active --quiet "$unit" 2>/dev/null; then
      act systemctl disable --now "$unit" || { echo "cannot disable $unit" >&2; exit 1; }
      echo "CHANGE HVS-IOMMU-13 disabled $unit"
    fi
  done
  run=/sys/kernel/mm/ksm/run
  if [ -e "$run" ] && [ "$(cat "$run")" != 0 ]; then
    act sh -c "echo 2 > $run && echo 0 > $run" || { echo "cannot write $run" >&2; exit 1; }
    echo "CHANGE HVS-IOMMU-13 $run unmerged and set to 0"
  fi
fi
if [ "$NESTED_OFF" = 1 ]; then
  for mod in kvm_intel kvm_amd; do
    param=/sys/module/$mod/parameters/nested
    [ -r "$param" ] || continue
    case "$(cat "$param")" in
      Y|y|1)
        if [ "$GUESTS" = 1 ]; then
          echo "REBOOT HVS-IOMMU-14 $mod nested=1 (guests running: not reloading the module)"
        elif [ "$CHECK" = 1 ]; then
          echo "CHANGE HVS-IOMMU-14 reload $mod with nested=0"
        elif modprobe -r "$mod" 2>/dev/null && modprobe "$mod" && { [ "$(cat "$param")" = 0 ] || [ "$(cat "$param")" = N ]; }; then
          echo "CHANGE HVS-IOMMU-14 reloaded $mod with nested=0"
        else
          modprobe "$mod" 2>/dev/null
          echo "REBOOT HVS-IOMMU-14 $mod nested=1 (module in use, could not be reloaded)"
        fi
        ;;
    esac
  done
fi
if [ "$NX" = 1 ]; then
  param=/sys/module/kvm/parameters/nx_huge_pages
  vuln=/sys/devices/system/cpu/vulnerabilities/itlb_multihit
  if [ -r "$param" ]; then
    now=$(cat "$param")
    if [ "$now" = off ] || { [ "$now" = N ] && [ -r "$vuln" ] && grep -q Vulnerable "$vuln"; }; then
      act sh -c "echo auto > $param" || { echo "cannot write $param" >&2; exit 1; }
      echo "CHANGE HVS-IOMMU-15 kvm.nx_huge_pages $now -> auto"
    fi
  fi
fi
exit 0
