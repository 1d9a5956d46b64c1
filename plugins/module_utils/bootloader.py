# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for boot-loader kernel-argument stores other than /etc/default/grub.

- Boot Loader Specification entries (/boot/loader/entries/*.conf, RHEL 8/9, Fedora):
  ``key value`` lines, the kernel arguments in ``options``.
- ``grubby --info=ALL`` output: ``key=value`` lines, one block per entry starting with
  ``index=``; ``args`` holds the arguments (``root`` is reported separately).
- /etc/kernel/cmdline (systemd-boot, kernel-install, Proxmox proxmox-boot-tool): the whole
  command line on one line (see ``parse_kernel_cmdline_file`` for how each reader takes it).
- grub.cfg as grub-mkconfig writes it: the ``linux`` line of every menu entry.
- Boot-loader detection from a few paths.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re


def parse_bls_entry(text):
    """Parse one BLS entry: {key: value}.

    The first occurrence of a key wins, except ``initrd`` (a list) and ``options``: the Boot
    Loader Specification lets ``options`` repeat, and the loader joins every occurrence in order.
    """
    entry = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split(None, 1)
        key = parts[0]
        value = parts[1].strip() if len(parts) > 1 else ''
        if key == 'initrd':
            entry.setdefault('initrd', []).append(value)
        elif key == 'options' and 'options' in entry:
            entry['options'] = ('%s %s' % (entry['options'], value)).strip()
        elif key not in entry:
            entry[key] = value
    return entry


def loader_entries(roots):
    """Every BLS entry under ``<root>/loader/entries/*.conf`` for each root (the ESP, /boot, ...).

    Returns a list of (path, parsed entry), sorted by path; unreadable files are skipped.
    """
    found = []
    seen = set()
    for root in roots:
        directory = os.path.join(root, 'loader', 'entries')
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            real = os.path.realpath(path)
            if not name.endswith('.conf') or not os.path.isfile(path) or real in seen:
                continue
            seen.add(real)
            try:
                with open(path, 'rb') as f:
                    found.append((path, parse_bls_entry(f.read().decode('utf-8', 'replace'))))
            except (IOError, OSError):
                continue
    return sorted(found, key=lambda item: item[0])


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_grubby_info(text):
    """Parse ``grubby --info=ALL`` (or =DEFAULT) output into a list of entry dicts.

    Every entry has ``index`` (int when numeric), ``args`` (string) and whatever else grubby
    printed (kernel, root, initrd, title, id), quotes removed.
    """
    entries = []
    current = None
    for line in (text or '').splitlines():
        line = line.rstrip('\r')
        if '=' not in line:
            continue
        key, value = line.split('=', 1)
        key = key.strip()
        value = _unquote(value.strip())
        if key == 'index':
            current = {'index': int(value) if value.isdigit() else value, 'args': ''}
            entries.append(current)
            continue
        if current is None:
            current = {'index': None, 'args': ''}
            entries.append(current)
        current[key] = value
    return entries


# /etc/kernel/cmdline is read differently by each tool that copies it into a boot entry:
# - systemd's kernel-install (90-loaderentry.install) up to systemd 256, so Debian 12's 252:
#   ``tr -s "$IFS" ' ' </etc/kernel/cmdline``: every line, comment lines included, joined into
#   the entry's ``options`` -- "# iommu=pt (was needed for the GPU)" reaches the kernel;
# - kernel-install from systemd 257 on: ``grep -Gv '^\s*#'`` first, so comment lines are dropped
#   (the UKI plugin 60-ukify did the same only later);
# - Proxmox's proxmox-boot-tool: ``CMDLINE="$(cat /etc/kernel/cmdline)"`` written after
#   ``options`` in a here-document, so only the first line is the options line; further lines
#   become lines of their own that systemd-boot ignores.
# The only form all of them read the same way is one line of arguments and nothing else: that
# is the only form this module writes (comment and extra lines are folded or dropped, see
# render_kernel_cmdline_file), and a file in any other form counts as needing a rewrite.
def parse_kernel_cmdline_file(text):
    """The arguments the file means to give: words of every non-comment line, in order."""
    words = []
    for line in (text or '').splitlines():
        if line.lstrip().startswith('#'):
            continue
        words.extend(line.split())
    return words


def kernel_cmdline_file_comments(text):
    """The comment lines of the file (they reach the kernel on systemd < 257 and Proxmox)."""
    return [line for line in (text or '').splitlines() if line.lstrip().startswith('#')]


def kernel_cmdline_file_is_canonical(text):
    """True when every reader takes the file the same way: at most one line, not a comment."""
    body = (text or '').rstrip('\n')
    return '\n' not in body and not body.lstrip().startswith('#')


def render_kernel_cmdline_file(old_text, words):
    """New text of /etc/kernel/cmdline: the arguments on one line, nothing else.

    Comment lines are not kept (see above: systemd < 257 and proxmox-boot-tool would pass them
    to the kernel or lose the arguments after them); the module warns when it drops any.
    """
    return ' '.join(words) + '\n'


# ---------------------------------------------------------------------------- grub.cfg
_SECTION_RE = re.compile(r'^### BEGIN /etc/grub\.d/(\S+) ###\s*$')
_SECTION_END_RE = re.compile(r'^### END /etc/grub\.d/\S+ ###\s*$')
_LINUX_COMMANDS = ('linux', 'linux16', 'linuxefi')


def grub_words(line):
    """Split one line of GRUB script into words: quotes removed, ``\\`` escapes, ``$var`` kept.

    Enough for the lines grub-mkconfig writes (menuentry, submenu, linux); a ``#`` starting a
    word begins a comment.
    """
    words = []
    cur = []
    in_word = False
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch in ' \t':
            if in_word:
                words.append(''.join(cur))
                cur = []
                in_word = False
            i += 1
            continue
        if ch == '#' and not in_word:
            break
        in_word = True
        if ch == "'":
            end = line.find("'", i + 1)
            end = n if end < 0 else end
            cur.append(line[i + 1:end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == '\\' and i + 1 < n and line[i + 1] in '"\\$':
                    i += 1
                cur.append(line[i])
                i += 1
            i += 1
        elif ch == '\\' and i + 1 < n:
            cur.append(line[i + 1])
            i += 2
        else:
            cur.append(ch)
            i += 1
    if in_word:
        words.append(''.join(cur))
    return words


def parse_grub_cfg(text):
    """The Linux entries of a grub.cfg: one dict per ``linux`` line inside a menu entry.

    Each has ``title`` (submenu titles and the entry title joined with ``>``, as GRUB_DEFAULT
    names them), ``section`` (the /etc/grub.d script that wrote it, from grub-mkconfig's
    ``### BEGIN`` markers; None outside them), ``kernel`` (the image path), ``args`` (the words
    after it) and ``line`` (1-based).
    """
    entries = []
    section = None
    stack = []          # one item per open { }: a title for menuentry/submenu, None otherwise
    for number, raw in enumerate((text or '').splitlines(), 1):
        begin = _SECTION_RE.match(raw)
        if begin:
            section = begin.group(1)
            continue
        if _SECTION_END_RE.match(raw):
            section = None
            continue
        words = grub_words(raw)
        if not words:
            continue
        if words[0] in ('menuentry', 'submenu') and words[-1] == '{':
            stack.append(words[1] if len(words) > 2 else '')
        elif words[-1] == '{':
            stack.append(None)
        elif words == ['}']:
            if stack:
                stack.pop()
        elif words[0] in _LINUX_COMMANDS and len(words) >= 2:
            titles = [t for t in stack if t is not None]
            if titles:
                entries.append({'title': '>'.join(titles), 'section': section, 'kernel': words[1],
                                'args': words[2:], 'line': number})
    return entries


def grub_cfg_kernel_entries(entries):
    """The entries grub-mkconfig generated for this system's kernels from GRUB_CMDLINE_LINUX*.

    That is the ``10_linux`` script's (and Ubuntu's ``10_linux_zfs``); other scripts write
    entries the variables do not reach or not in the same way: Xen (20_linux_xen), other
    installed systems (30_os-prober), hand-written ones (40_custom, custom.cfg). Without any
    section marker (a grub.cfg not written by grub-mkconfig), every Linux entry counts.
    """
    if not any(e['section'] for e in entries):
        return list(entries)
    return [e for e in entries if e['section'] and re.match(r'^\d+_linux(_zfs)?$', e['section'])]


def grub_cfg_uses_blscfg(text):
    """grub.cfg loads Boot Loader Specification entries (RHEL/Fedora GRUB_ENABLE_BLSCFG)."""
    return any(grub_words(line)[:1] == ['blscfg'] for line in (text or '').splitlines())


SYSTEMD_BOOT_LOADER_CONFS = ('boot/efi/loader/loader.conf', 'efi/loader/loader.conf', 'boot/loader/loader.conf')


def detect(root, has_grubby, grub_config, cmdline_file):
    """Pick a backend: 'grubby', 'systemd-boot', 'grub' or None.

    - grubby: the grubby tool is installed and /boot/loader/entries holds BLS entries;
    - systemd-boot: the kernel command-line file exists and a systemd-boot loader.conf is
      found, or Proxmox's /etc/kernel/proxmox-boot-uuids exists, or there is no GRUB config;
    - grub: the GRUB default file exists.
    """
    def p(rel):
        return os.path.join(root, rel.lstrip('/'))

    entries_dir = p('boot/loader/entries')
    if has_grubby and os.path.isdir(entries_dir) and any(
            name.endswith('.conf') for name in os.listdir(entries_dir)):
        return 'grubby'
    if os.path.isfile(p(cmdline_file)):
        if (any(os.path.isfile(p(c)) for c in SYSTEMD_BOOT_LOADER_CONFS)
                or os.path.isfile(p('etc/kernel/proxmox-boot-uuids'))
                or not os.path.isfile(p(grub_config))):
            return 'systemd-boot'
    if os.path.isfile(p(grub_config)):
        return 'grub'
    return None


def grub_files(grub_config):
    """The main GRUB default file followed by its drop-ins in sourcing order."""
    files = [grub_config]
    dropdir = grub_config + '.d'
    if os.path.isdir(dropdir):
        files.extend(os.path.join(dropdir, name) for name in sorted(os.listdir(dropdir))
                     if name.endswith('.cfg') and os.path.isfile(os.path.join(dropdir, name)))
    return files
