#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: libvirt_config
short_description: Set and unset keys in libvirt configuration files
version_added: 0.1.0
description:
  - Sets and unsets keys in libvirt's configuration files (C(libvirtd.conf), C(virtproxyd.conf),
    C(qemu.conf) and the modular daemons' files such as C(virtqemud.conf)).
  - Values are written with libvirt's types - integers, quoted strings and lists of strings.
  - The file is read as libvirt reads it (the same parser as the facts, libvirt's grammar -
    comments, lists over several lines, triple-quoted strings, C(;) between statements).
  - Only the characters of a changed value are rewritten; comments, spacing and every other
    line stay byte-for-byte. libvirt uses the first assignment of a key that is assigned more
    than once; that assignment is the one changed, and the later ones are removed, so the file
    holds one value that every reader agrees on. A new key is appended at the end of the file.
  - Known keys are type-checked before anything is written (a value of the wrong type fails);
    unknown keys produce a warning and are written as given.
  - The file must parse before and after the edit; a file libvirt could not read is never
    rewritten.
  - Values of keys that hold secrets (any key with C(password), C(passphrase), C(secret) or
    C(token) in its name, such as C(vnc_password) and C(spice_password) of C(qemu.conf)), in
    O(settings) or already in the file, are masked (C(********)) in the result, the diff and
    error messages.
  - A file the module creates is mode 0600. An existing file keeps its mode and owner, except
    that a file holding a secret after the run (a non-empty value of such a key) ends at mode
    0600 - group and others lose access, even when its content needs no change - and a backup
    of content that holds a secret is mode 0600 too. The module fails, saying why, when that
    mode cannot be set.
options:
  path:
    description: Path of the configuration file.
    type: path
    required: true
  settings:
    description:
      - Keys to set, as a dictionary. Integers (and booleans, written as C(1)/C(0)), strings
        and lists of strings.
    type: dict
    default: {}
  unset:
    description: Keys to remove from the file (libvirt then uses its built-in default).
    type: list
    elements: str
    default: []
  schema:
    description:
      - Which key set to check values against. C(auto) picks C(qemu) for C(qemu.conf) and
        C(daemon) for C(libvirtd.conf), C(virtproxyd.conf) and the modular daemons' files;
        C(none) skips type checking.
    type: str
    choices: [auto, daemon, qemu, none]
    default: auto
  create:
    description: Create the file when it does not exist (otherwise a missing file fails).
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
notes:
  - Supports check mode and diff mode.
  - Restarting the daemon that reads the file is left to the caller (a handler), so that only
    daemons whose files changed are restarted.
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
'''

EXAMPLES = r'''
- name: No plain TCP listener, polkit access control
  hvsec.hypervisor.libvirt_config:
    path: /etc/libvirt/libvirtd.conf
    settings:
      listen_tcp: 0
      unix_sock_group: libvirt
      unix_sock_rw_perms: "0770"
      access_drivers: [polkit]
    unset: [auth_tcp]
    backup: true

- name: Consoles on loopback, migration over TLS
  hvsec.hypervisor.libvirt_config:
    path: /etc/libvirt/qemu.conf
    settings:
      vnc_listen: 127.0.0.1
      spice_listen: 127.0.0.1
      migrate_tls_force: 1
'''

RETURN = r'''
changes:
  description: What changed, one item per key.
  returned: always
  type: list
  elements: dict
  sample: [{key: listen_tcp, action: set, before: 1, after: 0}]
mode_changed:
  description: The file holds a secret and its mode gave group or others access; it was (in check
    mode, would be) set to 0600.
  returned: when the mode of an existing file is restricted
  type: dict
  sample: {before: '0644', after: '0600', secret_keys: [vnc_password]}
backup_file:
  description: Path of the backup copy (mode 0600 when the saved content holds a secret).
  returned: when a backup was made
  type: str
  sample: /etc/libvirt/libvirtd.conf.12345.2026-01-01@00:00:00~
schema:
  description: The key set values were checked against (C(daemon), C(qemu) or C(none)).
  returned: always
  type: str
  sample: daemon
'''

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hvsec.hypervisor.plugins.module_utils import secrets
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils.libvirt_conf_edit import (
    ConfSyntaxError, coerce_settings, edit, parse, parse_entries, schema_for_path, normalize_value)


def run(module):
    path = module.params['path']
    unset = module.params['unset']
    schema = module.params['schema']
    if schema == 'auto':
        schema = schema_for_path(path)
    elif schema == 'none':
        schema = None

    secrets.hide(module, secrets.secret_values(module.params['settings']))
    settings, warnings, errors = coerce_settings(module.params['settings'] or {}, schema)
    for name in unset:
        if name in settings:
            errors.append('%s is both in settings and in unset' % name)
    if errors:
        module.fail_json(msg='libvirt_config: invalid settings for %s: %s' % (path, '; '.join(errors)),
                         errors=errors)
    for warning in warnings:
        module.warn(warning)

    exists = os.path.exists(path)
    if os.path.isdir(path):
        module.fail_json(msg='libvirt_config: path %s is a directory' % path)
    if not exists and not module.params['create']:
        module.fail_json(msg='libvirt_config: %s does not exist (set create=true to create it)' % path)
    before = ''
    before_entries = []
    if exists:
        try:
            with open(path, 'rb') as f:
                before = f.read().decode('utf-8')
        except (IOError, OSError, UnicodeDecodeError) as exc:
            module.fail_json(msg='libvirt_config: cannot read %s: %s' % (path, to_native(exc)))
        try:
            before_entries = parse_entries(before)
        except ConfSyntaxError:
            pass    # edit() below refuses the file and says why
        # every assignment, the ones libvirt ignores (later duplicates) included: all are in the text
        for entry in before_entries:
            secrets.hide(module, secrets.secret_values({entry.name: entry.value}))

    try:
        after, changes = edit(before, settings, unset)
    except ConfSyntaxError as exc:
        module.fail_json(msg='libvirt_config: %s is not valid libvirt syntax (%s); not changed'
                         % (path, exc))
    except ValueError as exc:
        module.fail_json(msg='libvirt_config: %s' % to_native(exc))

    # Validate the result as libvirt will read it before writing anything.
    try:
        result_values = parse(after)
    except ConfSyntaxError as exc:  # pragma: no cover - would be a bug in edit()
        module.fail_json(msg='libvirt_config: the edited file would not parse (%s); not changed' % exc)
    for key, value in settings.items():
        if normalize_value(result_values.get(key)) != normalize_value(value):  # pragma: no cover
            module.fail_json(msg='libvirt_config: %s would read back as %r, not %r; not changed'
                             % (key, result_values.get(key), value))
    for key in unset:
        if key in result_values:  # pragma: no cover
            module.fail_json(msg='libvirt_config: %s would still be set; not changed' % key)

    # A file holding a secret (vnc_password, spice_password) is readable by its owner only.
    secret_keys = _secret_keys(parse_entries(after))
    target = os.path.realpath(path)
    mode_before = stat.S_IMODE(os.stat(target).st_mode) if exists else None
    restrict = mode_before is not None and bool(secret_keys) and bool(mode_before & 0o077)

    content_changed = after != before
    result = dict(changed=content_changed or restrict, changes=changes, schema=schema or 'none', path=path)
    if restrict:
        result['mode_changed'] = dict(before='%04o' % (mode_before or 0), after='%04o' % SECRET_MODE,
                                      secret_keys=secret_keys)
    if module._diff:
        result['diff'] = dict(before=before, after=after,
                              before_header='%s (before)' % path, after_header='%s (after)' % path)
    if module.check_mode or not result['changed']:
        return result
    if restrict:
        # before the backup and the write: both then start from (and keep) 0600
        _restrict(module, target, 'it holds %s' % ', '.join(secret_keys))
    if content_changed:
        if exists and module.params['backup']:
            backup = module.backup_local(path)
            result['backup_file'] = backup
            old_secrets = _secret_keys(before_entries)
            if backup and old_secrets:
                _restrict(module, backup, 'it is a copy of %s holding %s' % (path, ', '.join(old_secrets)))
        # a new file may come to hold passwords (vnc_password, spice_password): 0600
        write_atomic(module, path, after, SECRET_MODE)
    if secret_keys:
        final = stat.S_IMODE(os.stat(target).st_mode)
        if final & 0o077:
            module.fail_json(msg='libvirt_config: %s holds %s but is mode %04o after the write, not 0600 '
                                 '(group and others can read the secret)' % (path, ', '.join(secret_keys), final),
                             **result)
    return result


SECRET_MODE = 0o600


def _secret_keys(entries):
    """The names of the assignments (libvirt_conf.Entry) that hold a non-empty secret: every one
    in the text counts, a later duplicate libvirt ignores included."""
    return sorted(set(e.name for e in entries if secrets.secret_values({e.name: e.value})))


def _restrict(module, path, why):
    """Mode 0600 for ``path`` (owner kept), or fail saying why it cannot be."""
    try:
        os.chmod(path, SECRET_MODE)
    except (IOError, OSError) as exc:
        module.fail_json(msg='libvirt_config: cannot set %s to mode 0600 (%s): %s; the secret stays readable '
                             'by group or others, fix the mode by hand' % (path, why, to_native(exc)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            settings=dict(type='dict', default={}),
            unset=dict(type='list', elements='str', default=[]),
            schema=dict(type='str', default='auto', choices=['auto', 'daemon', 'qemu', 'none']),
            create=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
