# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for procfs/sysfs/etc text formats used by hypervisor_facts.

Every function takes text and returns plain data; none touches the filesystem.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re


def parse_cpuinfo(text):
    """Parse /proc/cpuinfo (x86 layout).

    Returns vendor, model_name, flags (set), logical_cpus and physical_cores
    (distinct (physical id, core id) pairs; falls back to logical_cpus).
    """
    processors = []
    current = {}
    for line in (text or '').splitlines():
        if not line.strip():
            if current:
                processors.append(current)
                current = {}
            continue
        if ':' not in line:
            continue
        key, value = line.split(':', 1)
        current[key.strip()] = value.strip()
    if current:
        processors.append(current)
    processors = [p for p in processors if 'processor' in p]
    first = processors[0] if processors else {}
    flags = set(first.get('flags', '').split())
    cores = set()
    for proc in processors:
        if 'physical id' in proc and 'core id' in proc:
            cores.add((proc['physical id'], proc['core id']))
    logical = len(processors)
    return {
        'vendor': first.get('vendor_id') or None,
        'model_name': first.get('model name') or None,
        'flags': flags,
        'logical_cpus': logical,
        'physical_cores': len(cores) if cores else logical,
    }


def virt_extension(flags):
    if 'vmx' in flags:
        return 'vmx'
    if 'svm' in flags:
        return 'svm'
    return None


def slat(flags):
    if 'ept' in flags:
        return 'ept'
    if 'npt' in flags:
        return 'npt'
    return None


def parse_meminfo(text):
    """Return {key: int kB} from /proc/meminfo."""
    result = {}
    for line in (text or '').splitlines():
        match = re.match(r'^([A-Za-z0-9_()]+):\s+(\d+)', line)
        if match:
            result[match.group(1)] = int(match.group(2))
    return result


# IR-IO-APIC, IR-PCI-MSI, and on newer kernels per-device IR-PCI-MSIX-0000:00:02.0 (device part dropped)
_IR_CHIP = re.compile(r'(?<![A-Za-z0-9-])(IR-[A-Za-z]+(?:-[A-Za-z]+)*)')


def interrupt_remapping_chips(text):
    """Sorted distinct interrupt-remapping irq chip names (IR-PCI-MSI, IR-IO-APIC...) in /proc/interrupts."""
    return sorted(set(_IR_CHIP.findall(text or '')))


def parse_os_release(text):
    """Parse /etc/os-release into {id, version_id, id_like}."""
    values = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        values[key.strip()] = value
    return {
        'id': values.get('ID') or None,
        'version_id': values.get('VERSION_ID') or None,
        'id_like': values.get('ID_LIKE', '').split(),
    }


def parse_modprobe_options(text, filename):
    """`options MODULE key=value ...` lines of a modprobe.d file.

    Module names are normalised with underscores (modprobe treats - and _ alike).
    Returns a list of {file, module, option, value} (value None for a bare flag).
    """
    result = []
    logical = []
    pending = ''
    for line in (text or '').splitlines():
        if line.endswith('\\'):
            pending += line[:-1] + ' '
            continue
        logical.append(pending + line)
        pending = ''
    if pending:
        logical.append(pending)
    for line in logical:
        words = line.split()
        if len(words) < 2 or words[0] != 'options' or words[0].startswith('#'):
            continue
        module = words[1].replace('-', '_')
        for word in words[2:]:
            if word.startswith('#'):
                break
            if '=' in word:
                key, value = word.split('=', 1)
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
            else:
                key, value = word, None
            result.append({'file': filename, 'module': module, 'option': key, 'value': value})
    return result


def parse_audit_rules(text):
    """Non-empty, non-comment lines of an audit rules file."""
    return [line.strip() for line in (text or '').splitlines()
            if line.strip() and not line.strip().startswith('#')]


def sysfs_bool(value):
    """Y/N/1/0/on/off as printed by sysfs -> bool, None when unknown."""
    if value is None:
        return None
    value = value.strip().lower()
    if value in ('y', '1', 'on', 'yes', 'true'):
        return True
    if value in ('n', '0', 'off', 'no', 'false'):
        return False
    return None


def to_int(value):
    """int of a sysfs value ("0", "0x10"), None when not a number."""
    if value is None:
        return None
    value = value.strip()
    try:
        return int(value, 0) if value.lower().startswith('0x') else int(value)
    except ValueError:
        return None
