# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side input checks the roles run before anything changes.

Each filter returns a list of error strings (empty when the input is valid) naming the variable,
so a role collects every problem into one failed assert. They reuse the checks the modules and
the audit apply, so a role refuses exactly what its module or the audit would refuse later.

``waiver_errors``: hvsec_waivers items need a known control ID and a non-empty reason; approved_by,
ticket and expires (a date) are optional, any other key is refused.
``waived_ids``: the control IDs whose waiver is in force today (what the roles skip).
``vswitch_port_errors``: a guest port's anti-spoofing declaration (mac, ips).
``sshd_option_errors``: extra sshd options that would be unsafe or contradict a role variable.
``sshd_lockout_errors``: sshd options that would keep the controller's connection from logging in
again (our reading of the options alone; the sshd_dropin module then asks sshd itself).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible.module_utils.common.collections import is_sequence
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.settings import SettingsError
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.waivers import validate_waivers, waiver_in_force
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import canonical_keyword
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd_dropin import access_problems, model_effective, render
from ansible_collections.hvsec.hypervisor.plugins.module_utils.vswitch_bridge import validate_port_address

# sshd keywords that change how sshd reads every line after them (a drop-in is included at the
# top of sshd_config, so a Match block would swallow the main file's global options).
SSHD_STRUCTURAL = frozenset(['match', 'include'])


def waiver_errors(waivers, name='hvsec_waivers'):
    """Errors in a waiver list: the same rules as the audit (known control ID, non-empty reason,
    optional approved_by / ticket / expires, each error naming the item and the field)."""
    if waivers is None:
        return []
    if not is_sequence(waivers):
        return ['%s must be a list of {id, reason} dicts, got %s' % (name, type(waivers).__name__)]
    errors = []
    for index, item in enumerate(waivers):
        try:
            validate_waivers([item])
        except SettingsError as exc:
            errors.append('%s[%d]%s' % (name, index, str(exc)[len('waivers[0]'):]))
    return errors


def waived_ids(waivers, today=None):
    """The control IDs whose waiver is in force on ``today`` (the controller's date by default):
    what the roles skip. An expired waiver no longer skips its control, as in the audit."""
    if today is None:
        today = datetime.date.today()
    elif not isinstance(today, datetime.date):
        today = datetime.date.fromisoformat(str(today))
    return sorted(cid for cid, waiver in validate_waivers(waivers).items() if waiver_in_force(waiver, today))


def vswitch_port_errors(port, where):
    """Errors in a guest port's optional anti-spoofing declaration (mac, ips), as the modules see them."""
    if not isinstance(port, dict):
        return ['%s must be a dict' % where]
    return validate_port_address(port, where)


def sshd_option_errors(options, reserved=None, name='hvsec_mgmt_plane_sshd_extra_options'):
    """Errors in extra sshd options ``{Keyword: value}``.

    ``reserved`` maps lower-case keywords to the role variable that manages them: setting such a
    keyword here as well would contradict that variable (sshd takes the first value it reads).
    """
    if not isinstance(options, dict):
        return ['%s must be a dict of {Keyword: value}' % name]
    reserved = reserved or {}
    errors = []
    for key in sorted(options, key=str):
        low = str(key).lower()
        if low in SSHD_STRUCTURAL:
            errors.append('%s: %s is not allowed in the drop-in (it would change how sshd reads the rest of '
                          'sshd_config)' % (name, key))
        elif low in reserved:
            errors.append('%s: %s contradicts %s, which manages it; set it there' % (name, key, reserved[low]))
        elif not isinstance(key, string_types):
            errors.append('%s: keyword %r is not a string' % (name, key))
        else:
            try:
                render([(key, options[key])])
            except ValueError as exc:
                errors.append('%s: %s: %s' % (name, key, exc))
    return errors


# The mgmt_plane variable behind each sshd keyword of the drop-in (the others come from
# hvsec_mgmt_plane_sshd_extra_options).
SSHD_OPTION_VARIABLES = {
    'listenaddress': 'hvsec_mgmt_plane_address',
    'permitrootlogin': 'hvsec_mgmt_plane_sshd_permit_root_login',
    'passwordauthentication': 'hvsec_mgmt_plane_sshd_password_auth',
    'kbdinteractiveauthentication': 'hvsec_mgmt_plane_sshd_password_auth',
    'allowgroups': 'hvsec_mgmt_plane_sshd_allow_groups',
    'ciphers': 'hvsec_mgmt_plane_sshd_ciphers',
    'macs': 'hvsec_mgmt_plane_sshd_macs',
    'kexalgorithms': 'hvsec_mgmt_plane_sshd_kex',
}


def sshd_lockout_errors(options, connection, sources=None, extra='hvsec_mgmt_plane_sshd_extra_options'):
    """Why the connection in use could not log in again once the drop-in holds ``options``.

    ``options``: the drop-in's ``[{name, value}]`` (the role's ``_hvsec_mgmt_sshd_options``).
    ``connection``: {login_user, user_groups, client_address, server_address, server_port,
    uses_password} (empty values are not judged). Only what the options set is judged (a
    ListenAddress without a port against the connection's address, a Port, Allow/Deny users and
    groups, PermitRootLogin for root, the connection's authentication method and
    AuthenticationMethods); the module then judges the whole configuration with sshd -T -C.
    Each error starts with the variable that sets the option.
    """
    if not isinstance(options, (list, tuple)) or not isinstance(connection, dict):
        return []
    sources = SSHD_OPTION_VARIABLES if sources is None else sources
    connection = dict(connection, uses_password=boolean(connection.get('uses_password') or False, strict=False))
    pairs = []
    for item in options:
        if isinstance(item, dict) and 'name' in item and item.get('value') not in (None, '', []):
            pairs.append((str(item['name']), item['value']))
    try:
        eff = model_effective(pairs)
    except ValueError:
        return []      # malformed options are sshd_option_errors' business
    errors = []
    for problem in access_problems(eff, connection):
        keyword = canonical_keyword(problem.split(None, 1)[0].rstrip(':'))
        errors.append('%s: %s' % (sources.get(keyword, extra), problem))
    return errors


class FilterModule(object):
    def filters(self):
        return {
            'waiver_errors': waiver_errors,
            'waived_ids': waived_ids,
            'vswitch_port_errors': vswitch_port_errors,
            'sshd_option_errors': sshd_option_errors,
            'sshd_lockout_errors': sshd_lockout_errors,
        }
