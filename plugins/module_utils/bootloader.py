# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for boot-loader kernel-argument stores other than /etc/default/grub.

- Boot Loader Specification entries (/boot/loader/entries/*.conf, RHEL 8/9, Fedora):
  ``key value`` lines, the kernel arguments in ``options``.
- ``grubby --info=ALL`` output: ``key=value`` lines, one block per entry starting with
  ``index=``; ``args`` holds the arguments (``root`` is reported separately).
- /etc/kernel/cmdline (systemd-boot, kernel-install, Proxmox proxmox-boot-tool): the whole
  command line on one line.
- Boot-loader detection from a few paths.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os


def parse_bls_entry(text):
    """Parse one BLS entry: {key: value} (first occurrence wins; initrd may repeat -> list)."""
    entry = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split(None, 1)
        key = parts[0]
        value = parts[1] if len(parts) > 1 else ''
        if key == 'initrd':
            entry.setdefault('initrd', []).append(value)
        elif key not in entry:
            entry[key] = value
    return entry


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


def parse_kernel_cmdline_file(text):
    """Words of /etc/kernel/cmdline (comment lines ignored, all lines joined)."""
    words = []
    for line in (text or '').splitlines():
        if line.lstrip().startswith('#'):
            continue
        words.extend(line.split())
    return words


def render_kernel_cmdline_file(old_text, words):
    """New text of /etc/kernel/cmdline: comment lines kept, arguments on one line."""
    comments = [line for line in (old_text or '').splitlines() if line.lstrip().startswith('#')]
    return '\n'.join(comments + [' '.join(words)]) + '\n'


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
