# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluators of the boot area: boot integrity (UEFI, Secure Boot, TPM, measured boot), kernel
integrity (lockdown, module signatures, kexec), side-channel arguments, hardening sysctls, GRUB.

Each function judges one control and is named as the ``evaluator`` of its record in
``controls/boot.yml``; ``EVALUATORS`` maps those names to the functions. The area has no role yet:
a threshold is the ``hvsec_boot_*`` setting when given, else the record's ``params`` value.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.hvsec.hypervisor.plugins.module_utils.cmdline import arg_values
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_boot import EFI_GLOBAL_GUID, EFIVARS, GRUB_CFGS, sysctl_path
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.eval_common import (
    evaluator_table, Unknown, get_fact, truthy, fmt_list, outcome,
)
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import int_setting

_ABSENT = 'not found'
_STRONG_LOCKDOWN = ('integrity', 'confidentiality')


def _note_reason(facts, path):
    """The reason of the boot probe's note about ``path``, or None."""
    for note in (facts or {}).get('notes') or []:
        if isinstance(note, dict) and note.get('probe') == 'boot' and note.get('path') == path:
            return str(note.get('reason') or 'unreadable')
    return None


def _unknown(facts, fact, *paths):
    """Unknown naming the first of ``paths`` a note explains, else the fact itself."""
    for path in paths:
        reason = _note_reason(facts, path)
        if reason is not None:
            return Unknown(path, reason)
    return Unknown(fact)


def _sysctl(facts, name):
    """The sysctl's value; None when the kernel does not have it (noted not found); Unknown when it
    could not be read or the facts do not report it."""
    value = get_fact(facts, 'boot.sysctl').get(name)
    if value is not None:
        return value
    path = sysctl_path(name)
    reason = _note_reason(facts, path)
    if reason == _ABSENT:
        return None
    raise Unknown(path, reason or 'not reported by the facts module')


def _threshold(settings, control, setting, param):
    """The setting's value when given (validated by settings.py), else the record's params value."""
    value = int_setting(settings.get(setting))
    return control['params'][param] if value is None else value


def _shown(value):
    return 'absent' if value is None else str(value)


def uefi_boot(facts, s, control):
    """HVS-BOOT-01: Host booted through UEFI."""
    if truthy(get_fact(facts, 'boot.uefi')):
        return ('pass', 'booted through UEFI (/sys/firmware/efi present)')
    return ('fail', 'legacy BIOS boot (no /sys/firmware/efi): no Secure Boot and no UEFI measured boot')


def secure_boot_enabled(facts, s, control):
    """HVS-BOOT-02: UEFI Secure Boot enabled and not in setup mode."""
    if not truthy(get_fact(facts, 'boot.uefi')):
        return ('fail', 'legacy BIOS boot: no Secure Boot, the hypervisor is started unverified (HY-SR-1)')
    boot = get_fact(facts, 'boot')
    values = {}
    for key, name in (('secure_boot', 'SecureBoot'), ('setup_mode', 'SetupMode')):
        values[key] = boot.get(key)
        if values[key] is None:
            raise _unknown(facts, 'boot.' + key, '%s/%s-%s' % (EFIVARS, name, EFI_GLOBAL_GUID), EFIVARS)
    bad = []
    if not values['secure_boot']:
        bad.append('Secure Boot off (SecureBoot EFI variable 0 or not defined by the firmware)')
    if values['setup_mode']:
        bad.append('firmware in setup mode (no platform key enrolled, nothing is verified)')
    return outcome(bad, 'Secure Boot on, firmware in user mode', 'Secure Boot not enforced')


def _tpm(facts):
    tpm = get_fact(facts, 'boot.tpm')
    devices = tpm.get('devices')
    if devices is None:
        raise Unknown('boot.tpm.devices')
    return tpm, devices


def tpm2_present(facts, s, control):
    """HVS-BOOT-03: TPM 2.0 present."""
    tpm, devices = _tpm(facts)
    if not devices:
        return ('fail', 'no TPM (/sys/class/tpm has no tpm device): no measured launch')
    version = tpm.get('version_major')
    if version is None:
        raise _unknown(facts, 'boot.tpm.version_major', '/sys/class/tpm/%s/tpm_version_major' % devices[0])
    if version == 2:
        return ('pass', 'TPM 2.0 (%s)' % devices[0])
    if version == 1:
        return ('fail', 'TPM 1.2 (%s), not 2.0: SHA-1 PCR banks only' % devices[0])
    return ('fail', 'TPM version %s (%s), not 2.0' % (version, devices[0]))


def measured_boot_log(facts, s, control):
    """HVS-BOOT-04: Measured boot event log available."""
    tpm, devices = _tpm(facts)
    if not devices:
        return ('not_applicable', 'no TPM: nothing is measured (HVS-BOOT-03 reports the missing TPM)')
    path = '/sys/kernel/security/%s/binary_bios_measurements' % devices[0]
    log = tpm.get('event_log')
    if log is None:
        raise _unknown(facts, 'boot.tpm.event_log', path)
    if log:
        return ('pass', 'TCG event log %s present' % path)
    return ('fail', 'no TCG event log %s: the firmware handed over no measurement log' % path)


def _lockdown(facts):
    lockdown = get_fact(facts, 'boot').get('lockdown')
    if lockdown is None:
        raise _unknown(facts, 'boot.lockdown', '/sys/kernel/security/lockdown')
    return lockdown


def kernel_lockdown(facts, s, control):
    """HVS-BOOT-05: Kernel lockdown at least integrity."""
    lockdown = _lockdown(facts)
    order = control['params']['order']
    wanted = s.get('hvsec_boot_lockdown') or control['params']['lockdown']
    active = lockdown.get('active')
    if active is None:
        return ('fail', 'kernel without the lockdown LSM (no /sys/kernel/security/lockdown)')
    if active not in order:
        return ('fail', 'unknown lockdown mode %s (wanted at least %s)' % (active, wanted))
    if order.index(active) >= order.index(wanted):
        return ('pass', 'lockdown %s (at least %s)' % (active, wanted))
    return ('fail', 'lockdown %s, below %s (hvsec_boot_lockdown)' % (active, wanted))


def module_signatures_enforced(facts, s, control):
    """HVS-BOOT-06: Kernel module signatures enforced."""
    boot = get_fact(facts, 'boot')
    sig = boot.get('sig_enforce')
    if truthy(sig):
        return ('pass', 'sig_enforce=%s: unsigned modules are refused' % sig)
    lockdown = boot.get('lockdown')
    active = lockdown.get('active') if isinstance(lockdown, dict) else None
    if active in _STRONG_LOCKDOWN:
        return ('pass', 'sig_enforce=%s, but lockdown %s refuses unsigned modules' % (_shown(sig), active))
    disabled = _sysctl(facts, 'kernel.modules_disabled')
    if disabled == 1:
        return ('pass', 'kernel.modules_disabled=1: no module can be loaded')
    if disabled is None:
        # the sysctl exists in every kernel built with CONFIG_MODULES
        return ('pass', 'kernel without loadable module support (no kernel.modules_disabled)')
    sig_path = '/sys/module/module/parameters/sig_enforce'
    if sig is None and _note_reason(facts, sig_path):
        raise Unknown(sig_path, _note_reason(facts, sig_path))
    active = _lockdown(facts).get('active')
    signing = 'sig_enforce=%s' % sig if sig is not None else 'kernel without module signing (no sig_enforce)'
    return ('fail', 'unsigned modules load: %s, lockdown %s, kernel.modules_disabled=%s' % (
        signing, active or 'absent', disabled))


def mitigations_not_weakened(facts, s, control):
    """HVS-BOOT-07: CPU vulnerability mitigations not weakened on the kernel command line."""
    args = get_fact(facts, 'cmdline.args')
    weakening = control['params']['weakening']
    found = []
    for arg in weakening:
        key, sep, bad = arg.partition('=')
        values = arg_values(args, key)
        if not values:
            continue
        if not sep:
            found.append(key if values[-1] is None else '%s=%s' % (key, values[-1]))
        elif values[-1] == bad:
            # the kernel applies a repeated argument in order, the last value counts; it compares
            # values case-sensitively (mitigations=OFF is refused and leaves the default)
            found.append(arg)
    if found:
        return ('fail', 'weakening arguments on the running kernel command line: %s' % ', '.join(found))
    return ('pass', 'none of the %d weakening arguments on the kernel command line' % len(weakening))


def kexec_disabled(facts, s, control):
    """HVS-BOOT-08: kexec of a new kernel disabled."""
    value = _sysctl(facts, 'kernel.kexec_load_disabled')
    if value is None:
        return ('pass', 'kernel without kexec (no kernel.kexec_load_disabled)')
    if value == 1:
        return ('pass', 'kernel.kexec_load_disabled=1')
    return ('fail', 'kernel.kexec_load_disabled=%s: root can replace the running kernel' % value)


def bpf_restricted(facts, s, control):
    """HVS-BOOT-09: BPF restricted for unprivileged users and the JIT hardened."""
    wanted = _threshold(s, control, 'hvsec_boot_bpf_jit_harden', 'bpf_jit_harden')
    unpriv = _sysctl(facts, 'kernel.unprivileged_bpf_disabled')
    jit = _sysctl(facts, 'net.core.bpf_jit_harden')
    bad = []
    if unpriv is not None and unpriv not in (1, 2):
        bad.append('kernel.unprivileged_bpf_disabled=%s' % unpriv)
    if jit is not None and jit < wanted:
        bad.append('net.core.bpf_jit_harden=%s (below %d)' % (jit, wanted))
    return outcome(bad, 'kernel.unprivileged_bpf_disabled=%s, net.core.bpf_jit_harden=%s (at least %d)' % (
        _shown(unpriv), _shown(jit), wanted), 'BPF not restricted')


def _at_least(facts, names, wanted):
    """(findings, shown values) of the sysctls ``names`` against the minimum ``wanted``; an absent one is a finding."""
    bad, seen = [], []
    for name in names:
        value = _sysctl(facts, name)
        seen.append('%s=%s' % (name, _shown(value)))
        if value is None:
            bad.append('%s absent' % name)
        elif value < wanted:
            bad.append('%s=%s (below %d)' % (name, value, wanted))
    return bad, ', '.join(seen)


def kernel_info_restricted(facts, s, control):
    """HVS-BOOT-10: Kernel addresses and log hidden from unprivileged users."""
    wanted = _threshold(s, control, 'hvsec_boot_kptr_restrict', 'kptr_restrict')
    bad, kptr = _at_least(facts, ['kernel.kptr_restrict'], wanted)
    more, dmesg = _at_least(facts, ['kernel.dmesg_restrict'], 1)
    return outcome(bad + more, '%s (at least %d), %s' % (kptr, wanted, dmesg), 'kernel information exposed')


def ptrace_restricted(facts, s, control):
    """HVS-BOOT-11: ptrace restricted (Yama ptrace_scope)."""
    wanted = _threshold(s, control, 'hvsec_boot_ptrace_scope', 'ptrace_scope')
    value = _sysctl(facts, 'kernel.yama.ptrace_scope')
    if value is None:
        return ('fail', 'kernel without Yama (no kernel.yama.ptrace_scope): classic ptrace permissions')
    if value < wanted:
        return ('fail', 'kernel.yama.ptrace_scope=%s (below %d)' % (value, wanted))
    return ('pass', 'kernel.yama.ptrace_scope=%s (at least %d)' % (value, wanted))


def perf_events_restricted(facts, s, control):
    """HVS-BOOT-12: perf events restricted for unprivileged users."""
    wanted = _threshold(s, control, 'hvsec_boot_perf_event_paranoid', 'perf_event_paranoid')
    value = _sysctl(facts, 'kernel.perf_event_paranoid')
    if value is None:
        return ('pass', 'kernel without perf events (no kernel.perf_event_paranoid)')
    if value < wanted:
        return ('fail', 'kernel.perf_event_paranoid=%s (below %d)' % (value, wanted))
    return ('pass', 'kernel.perf_event_paranoid=%s (at least %d)' % (value, wanted))


def link_protections(facts, s, control):
    """HVS-BOOT-13: Link and file protections in world-writable directories on."""
    wanted = _threshold(s, control, 'hvsec_boot_protected_files', 'protected_files')
    bad, links = _at_least(facts, ['fs.protected_hardlinks', 'fs.protected_symlinks'], 1)
    more, files = _at_least(facts, ['fs.protected_fifos', 'fs.protected_regular'], wanted)
    return outcome(bad + more, '%s, %s (at least %d)' % (links, files, wanted), 'protections off')


def _all_zero(facts, v4_names, v6_names, what):
    bad, seen = [], []
    for names, optional in ((v4_names, False), (v6_names, True)):
        for name in names:
            value = _sysctl(facts, name)
            if value is None and not optional:
                raise Unknown(sysctl_path(name), _ABSENT)
            if value is None:
                seen.append('%s absent (IPv6 off)' % name)
            elif value != 0:
                bad.append('%s=%s' % (name, value))
    if bad:
        return ('fail', '%s on: %s' % (what, fmt_list(bad, 10)))
    judged = len(v4_names) + len(v6_names) - len(seen)
    return ('pass', 'all %d %s sysctls 0%s' % (judged, what, '; ' + fmt_list(seen, 2) if seen else ''))


def _conf(family, keys):
    return ['net.%s.conf.%s.%s' % (family, scope, key) for key in keys for scope in ('all', 'default')]


def icmp_redirects_off(facts, s, control):
    """HVS-BOOT-14: ICMP redirects neither accepted nor sent."""
    return _all_zero(facts, _conf('ipv4', ('accept_redirects', 'secure_redirects', 'send_redirects')),
                     _conf('ipv6', ('accept_redirects',)), 'ICMP redirect')


def source_route_off(facts, s, control):
    """HVS-BOOT-15: Source-routed packets not accepted."""
    return _all_zero(facts, _conf('ipv4', ('accept_source_route',)), _conf('ipv6', ('accept_source_route',)),
                     'source routing')


def _grub(facts, key):
    """(grub facts, path) with ``key`` known; None when the host has no grub.cfg."""
    grub = get_fact(facts, 'boot').get('grub')
    if grub is None:
        return None
    if grub.get(key) is None:
        raise _unknown(facts, 'boot.grub.' + key, grub.get('path'))
    return grub


_NO_GRUB = ('not_applicable', 'no grub.cfg (%s): the host boots with another boot loader' % ', '.join(GRUB_CFGS))


def grub_password_set(facts, s, control):
    """HVS-BOOT-16: GRUB superuser with a PBKDF2 password."""
    grub = _grub(facts, 'superusers')
    if grub is None:
        return _NO_GRUB
    path = grub['path']
    supers, hashed = grub['superusers'], grub.get('pbkdf2_users') or []
    plain = grub.get('plain_password_users') or []
    protected = [u for u in supers if u in hashed]
    bad = ['clear-text password of %s' % fmt_list(plain)] if plain else []
    if not supers:
        bad.append('no superusers set: anyone at the console can edit the kernel command line')
    elif not protected:
        bad.append('superusers %s without a password_pbkdf2 password' % fmt_list(supers))
    return outcome(bad, 'superuser %s with a PBKDF2 password in %s' % (fmt_list(protected), path), path)


def grub_cfg_protected(facts, s, control):
    """HVS-BOOT-17: grub.cfg owned by root and not readable by others."""
    grub = _grub(facts, 'mode')
    if grub is None:
        return _NO_GRUB
    limit = int(control['params']['max_mode'], 8)
    mode = int(grub['mode'], 8)
    bad = []
    if grub.get('owner') != 'root':
        bad.append('owned by %s' % grub.get('owner'))
    if mode & ~limit:
        bad.append('mode %s allows more than %s' % (grub['mode'], control['params']['max_mode']))
    return outcome(bad, '%s owned by root, mode %s' % (grub['path'], grub['mode']), grub['path'])


# The evaluators of this area, by the names the catalog records give.
EVALUATORS = evaluator_table(
    uefi_boot, secure_boot_enabled, tpm2_present, measured_boot_log, kernel_lockdown, module_signatures_enforced,
    mitigations_not_weakened, kexec_disabled, bpf_restricted, kernel_info_restricted, ptrace_restricted,
    perf_events_restricted, link_protections, icmp_redirects_off, source_route_off, grub_password_set,
    grub_cfg_protected,
)
