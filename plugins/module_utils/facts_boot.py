# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probe of boot integrity and the kernel's attack surface: facts key ``boot``.

The parsers (``efivar_value``, ``parse_lockdown``, ``parse_grub_cfg``, ``parse_grub_user_cfg``,
``sysctl_path``) are pure functions of the files' real formats; ``probe_boot`` reads the files
below the context's root and never raises.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import os
import pwd
import re
import stat

from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import NOT_FOUND, reason_of

# The EFI global variable GUID (UEFI specification, EFI_GLOBAL_VARIABLE).
EFI_GLOBAL_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c'
EFIVARS = '/sys/firmware/efi/efivars'
SECURITYFS = '/sys/kernel/security'
GRUB_CFGS = ('/boot/grub/grub.cfg', '/boot/grub2/grub.cfg')

# The sysctls the boot controls judge, by their sysctl name (read from /proc/sys).
SYSCTLS = (
    'kernel.kexec_load_disabled', 'kernel.modules_disabled', 'kernel.unprivileged_bpf_disabled',
    'net.core.bpf_jit_harden', 'kernel.kptr_restrict', 'kernel.dmesg_restrict', 'kernel.yama.ptrace_scope',
    'kernel.perf_event_paranoid', 'fs.protected_hardlinks', 'fs.protected_symlinks', 'fs.protected_fifos',
    'fs.protected_regular',
    'net.ipv4.conf.all.accept_redirects', 'net.ipv4.conf.default.accept_redirects',
    'net.ipv4.conf.all.secure_redirects', 'net.ipv4.conf.default.secure_redirects',
    'net.ipv4.conf.all.send_redirects', 'net.ipv4.conf.default.send_redirects',
    'net.ipv4.conf.all.accept_source_route', 'net.ipv4.conf.default.accept_source_route',
    'net.ipv6.conf.all.accept_redirects', 'net.ipv6.conf.default.accept_redirects',
    'net.ipv6.conf.all.accept_source_route', 'net.ipv6.conf.default.accept_source_route',
)

_GRUB_SEPARATORS = re.compile(r'[\s,;|]+')


def efivar_value(data):
    """The value byte of a one-byte EFI variable as efivarfs shows it (4 bytes of attributes, then
    the data); None for anything shorter or longer than 5 bytes."""
    if data is None or len(data) != 5:
        return None
    return bytearray(data)[4]


def parse_lockdown(text):
    """{modes, active} of /sys/kernel/security/lockdown (``none [integrity] confidentiality``:
    the bracketed word is the active mode); None when no word is bracketed."""
    modes, active = [], None
    for word in (text or '').split():
        if word.startswith('[') and word.endswith(']') and len(word) > 2:
            word = word[1:-1]
            active = word
        modes.append(word)
    if active is None:
        return None
    return {'modes': modes, 'active': active}


def sysctl_path(name):
    """/proc/sys path of a sysctl name (``kernel.yama.ptrace_scope`` -> /proc/sys/kernel/yama/ptrace_scope)."""
    return '/proc/sys/' + name.replace('.', '/')


def _grub_words(line):
    """Words of one grub.cfg command line, without the quotes around them (no variable expansion)."""
    words = []
    for word in line.split():
        if len(word) >= 2 and word[0] == word[-1] and word[0] in '"\'':
            word = word[1:-1]
        words.append(word)
    return words


def parse_grub_cfg(text):
    """What grub.cfg says about its superusers and their passwords (never a hash itself).

    Returns ``superusers`` (names from every ``set superusers=...``), ``pbkdf2_users`` (users of a
    ``password_pbkdf2 USER grub.pbkdf2...`` line), ``variable_password_users`` ({user: variable} of a
    ``password_pbkdf2 USER ${VAR}`` line, as RHEL's 01_users writes with GRUB2_PASSWORD from user.cfg)
    and ``plain_password_users`` (users of a clear-text ``password USER PASSWORD`` line).
    """
    out = {'superusers': [], 'pbkdf2_users': [], 'variable_password_users': {}, 'plain_password_users': []}
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        # an `if ...; then set superusers=...` line puts the command after `then`
        for command in re.split(r';\s*|\bthen\s+', line):
            words = _grub_words(command)
            if not words:
                continue
            if words[0] == 'set' and len(words) > 1 and words[1].startswith('superusers='):
                value = ' '.join([words[1][len('superusers='):]] + words[2:]).strip('"\'')
                for name in _GRUB_SEPARATORS.split(value):
                    if name and name not in out['superusers']:
                        out['superusers'].append(name)
            elif words[0] == 'password_pbkdf2' and len(words) >= 3:
                user, secret = words[1], words[2]
                match = re.match(r'^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$', secret)
                if match:
                    out['variable_password_users'][user] = match.group(1)
                elif secret.startswith('grub.pbkdf2.') and user not in out['pbkdf2_users']:
                    out['pbkdf2_users'].append(user)
            elif words[0] == 'password' and len(words) >= 3 and words[1] not in out['plain_password_users']:
                out['plain_password_users'].append(words[1])
    return out


def parse_grub_user_cfg(text):
    """Names of the variables user.cfg sets to a PBKDF2 hash (``GRUB2_PASSWORD=grub.pbkdf2...``)."""
    names = []
    for raw in (text or '').splitlines():
        name, sep, value = raw.strip().partition('=')
        if sep and re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', name) and value.strip('"\'').startswith('grub.pbkdf2.'):
            names.append(name)
    return names


def _name_of(lookup, ident):
    try:
        return lookup(ident)[0]
    except (KeyError, OverflowError):
        return str(ident)


def _read_bytes(ctx, path, probe):
    """Bytes of a file, None (noted) when it cannot be read."""
    try:
        with open(ctx.fs.path(path), 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        ctx.note(probe, path, reason_of(exc))
        return None


def _efi(ctx):
    """(uefi, secure_boot, setup_mode)."""
    if not ctx.fs.isdir('/sys/firmware/efi'):
        return False, None, None
    names = ctx.fs.listdir(EFIVARS, 'boot', missing_ok=True)
    if not names:
        if names is not None or not ctx.fs.exists(EFIVARS):
            ctx.note('boot', EFIVARS, 'efivarfs not mounted')
        return True, None, None
    values = []
    for name in ('SecureBoot', 'SetupMode'):
        path = '%s/%s-%s' % (EFIVARS, name, EFI_GLOBAL_GUID)
        if not ctx.fs.exists(path):
            # firmware without Secure Boot support defines neither variable
            ctx.note('boot', path, NOT_FOUND)
            values.append(False)
            continue
        data = _read_bytes(ctx, path, 'boot')
        value = efivar_value(data)
        if data is not None and value is None:
            ctx.note('boot', path, 'not a one-byte EFI variable (%d bytes)' % len(data))
        values.append(None if value is None else value == 1)
    return True, values[0], values[1]


def _tpm(ctx):
    devices = [os.path.basename(p) for p in ctx.fs.glob('/sys/class/tpm/tpm[0-9]*')]
    if not devices:
        return {'devices': [], 'version_major': None, 'event_log': None, 'pcr7_sha256': None}
    base = '/sys/class/tpm/%s' % devices[0]
    version = procfs.to_int(ctx.fs.value(base + '/tpm_version_major', 'boot', missing_ok=True))
    if version is None and ctx.fs.exists(base + '/caps'):
        version = 1  # only TPM 1.2 chips have caps; kernels before 5.6 lack tpm_version_major
    elif version is None:
        ctx.note('boot', base + '/tpm_version_major', NOT_FOUND)
    log = '%s/%s/binary_bios_measurements' % (SECURITYFS, devices[0])
    event_log = ctx.fs.exists(log)
    if not event_log and not ctx.fs.exists(SECURITYFS + '/lsm'):
        ctx.note('boot', log, 'securityfs not mounted at %s' % SECURITYFS)
        event_log = None
    pcr7 = ctx.fs.value(base + '/pcr-sha256/7', 'boot', missing_ok=True)
    return {'devices': devices, 'version_major': version, 'event_log': event_log, 'pcr7_sha256': pcr7}


def _lockdown(ctx):
    path = SECURITYFS + '/lockdown'
    text = ctx.fs.read(path, 'boot', missing_ok=True)
    if text is None:
        if not ctx.fs.exists(path) and ctx.fs.exists(SECURITYFS + '/lsm'):
            return {'modes': [], 'active': None}  # securityfs mounted, no lockdown LSM in this kernel
        if not ctx.fs.exists(path):
            ctx.note('boot', path, 'securityfs not mounted at %s' % SECURITYFS)
        return None
    parsed = parse_lockdown(text)
    if parsed is None:
        ctx.note('boot', path, 'no active mode in %r' % text.strip()[:80])
    return parsed


def _sysctls(ctx):
    out = {}
    for name in SYSCTLS:
        out[name] = procfs.to_int(ctx.fs.value(sysctl_path(name), 'boot'))
    return out


def _grub(ctx):
    for path in GRUB_CFGS:
        try:
            st = os.stat(ctx.fs.path(path))
        except (IOError, OSError) as exc:
            if reason_of(exc) != NOT_FOUND:
                ctx.note('boot', path, reason_of(exc))
                return {'path': path, 'mode': None, 'owner': None, 'group': None, 'superusers': None,
                        'pbkdf2_users': None, 'plain_password_users': None}
            continue
        text = ctx.fs.read(path, 'boot')
        parsed = parse_grub_cfg(text) if text is not None else None
        pbkdf2 = None
        if parsed is not None:
            pbkdf2 = list(parsed['pbkdf2_users'])
            if parsed['variable_password_users']:
                user_cfg = ctx.fs.read(os.path.dirname(path) + '/user.cfg', 'boot', missing_ok=True)
                hashed = parse_grub_user_cfg(user_cfg)
                for user, variable in sorted(parsed['variable_password_users'].items()):
                    if variable in hashed and user not in pbkdf2:
                        pbkdf2.append(user)
        return {
            'path': path,
            'mode': '%04o' % stat.S_IMODE(st.st_mode),
            'owner': _name_of(pwd.getpwuid, st.st_uid),
            'group': _name_of(grp.getgrgid, st.st_gid),
            'superusers': parsed['superusers'] if parsed else None,
            'pbkdf2_users': pbkdf2,
            'plain_password_users': parsed['plain_password_users'] if parsed else None,
        }
    return None


def probe_boot(ctx):
    """``boot``: uefi (/sys/firmware/efi), secure_boot and setup_mode (the SecureBoot and SetupMode
    EFI variables), tpm (devices, version_major, event_log, pcr7_sha256: /sys/class/tpm, securityfs),
    lockdown (/sys/kernel/security/lockdown), sig_enforce (/sys/module/module/parameters),
    sysctl (/proc/sys) and grub (grub.cfg mode, owner, superusers and password users)."""
    uefi, secure_boot, setup_mode = _efi(ctx)
    return {
        'uefi': uefi,
        'secure_boot': secure_boot,
        'setup_mode': setup_mode,
        'tpm': _tpm(ctx),
        'lockdown': _lockdown(ctx),
        'sig_enforce': ctx.fs.value('/sys/module/module/parameters/sig_enforce', 'boot', missing_ok=True),
        'sysctl': _sysctls(ctx),
        'grub': _grub(ctx),
    }
