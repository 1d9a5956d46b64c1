# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settings of an audit: the role variables (``hvsec_*``) the evaluators read, merged and checked.

Their defaults are the roles' own: ``roles/*/defaults/main.yml`` of this collection, read by
:func:`role_defaults` (once per directory and process).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import glob
import os
import re

import yaml

ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles'))

_DEFAULTS_CACHE = {}


class SettingsError(ValueError):
    """A role variable or option has the wrong type or value."""


# Types the evaluators rely on, checked before anything is evaluated.
_CHOICES = {
    'hvsec_iommu_policy': ('strict', 'passthrough'),
    'hvsec_boot_lockdown': ('integrity', 'confidentiality'),
}
# Integer thresholds (an int, or its decimal string as `-e name=2` gives it) and their ranges. The
# boot area has no role yet: its defaults are the params of its catalog records.
_INT_RANGES = {
    'hvsec_boot_bpf_jit_harden': (0, 2),
    'hvsec_boot_kptr_restrict': (0, 2),
    'hvsec_boot_ptrace_scope': (0, 3),
    'hvsec_boot_perf_event_paranoid': (-1, 4),
    'hvsec_boot_protected_files': (0, 2),
}
_TYPES = {
    bool: ('hvsec_iommu_early_dma_protection', 'hvsec_iommu_nosmt', 'hvsec_iommu_nested',
           'hvsec_vswitch_macvtap_isolation', 'hvsec_vswitch_ovs_allow_loopback_tcp', 'hvsec_mgmt_plane_sshd_password_auth'),
    list: ('hvsec_vfio_allowlist', 'hvsec_vfio_sriov', 'hvsec_vswitch_bridges',
           'hvsec_vswitch_ovs_allowed_mirrors', 'hvsec_vswitch_ovs_ports',
           'hvsec_mgmt_plane_sshd_allow_groups'),
    str: ('hvsec_vswitch_nwfilter', 'hvsec_mgmt_plane_address'),
}


def validate_settings(settings):
    """Check the variables the evaluators rely on; raise SettingsError naming the variable."""
    if not isinstance(settings, dict):
        raise SettingsError('settings must be a dict of hvsec_* variables')
    for kind, names in _TYPES.items():
        for name in names:
            if name in settings and not isinstance(settings[name], kind):
                raise SettingsError('%s must be a %s, got %s' % (name, kind.__name__, type(settings[name]).__name__))
    for name, choices in _CHOICES.items():
        if name in settings and settings[name] not in choices:
            raise SettingsError('%s must be one of %s, got %r' % (name, ', '.join(choices), settings[name]))
    for name, (low, high) in _INT_RANGES.items():
        if name in settings and int_setting(settings[name]) not in range(low, high + 1):
            raise SettingsError('%s must be an integer from %d to %d, got %r' % (name, low, high, settings[name]))
    for index, entry in enumerate(settings.get('hvsec_vfio_allowlist') or []):
        if not isinstance(entry, dict) or not (entry.get('address') or entry.get('id')):
            raise SettingsError('hvsec_vfio_allowlist[%d] must be a dict with address or id' % index)
    for var in ('hvsec_vfio_sriov', 'hvsec_vswitch_bridges', 'hvsec_vswitch_ovs_ports'):
        for index, entry in enumerate(settings.get(var) or []):
            if not isinstance(entry, dict):
                raise SettingsError('%s[%d] must be a dict' % (var, index))
    return settings


def int_setting(value):
    """An integer setting's value: an int (not a bool) or a decimal string of one; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r'^-?[0-9]+$', value.strip()):
        return int(value.strip())
    return None


def merge_settings(*layers):
    """Overlay dicts left to right, keeping only hvsec_* keys."""
    out = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(key, str) and key.startswith('hvsec_'):
                out[key] = value
    return out


def role_defaults(roles_dir=None):
    """The defaults of every role of the collection, one mapping per role in role name order.

    ``roles_dir`` is the collection's ``roles`` directory unless given. The files are read once per
    directory; every call returns copies. Raises SettingsError naming a file that cannot be read or
    is not a mapping.
    """
    roles_dir = roles_dir or ROLES_DIR
    if roles_dir not in _DEFAULTS_CACHE:
        layers = []
        for path in sorted(glob.glob(os.path.join(roles_dir, '*', 'defaults', 'main.yml'))):
            try:
                with open(path) as handle:
                    data = yaml.safe_load(handle)
            except (IOError, OSError, yaml.YAMLError) as exc:
                raise SettingsError('cannot read role defaults %s: %s' % (path, exc))
            if data:
                if not isinstance(data, dict):
                    raise SettingsError('role defaults %s is not a mapping' % path)
                layers.append(data)
        _DEFAULTS_CACHE[roles_dir] = layers
    return copy.deepcopy(_DEFAULTS_CACHE[roles_dir])


def default_settings(roles_dir=None):
    """The hvsec_* variables of every role with their default values (later roles win on shared ones)."""
    return merge_settings(*role_defaults(roles_dir))
