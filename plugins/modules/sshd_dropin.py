#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: sshd_dropin
short_description: Manage an sshd drop-in safely (validated, verified, never locking out)
version_added: 0.1.0
description:
  - Writes an sshd configuration drop-in (by default C(/etc/ssh/sshd_config.d/00-hvsec.conf))
    from a list of options.
  - Before writing, refuses options that would cut off the connection in use (the listen address
    and port it arrived on, root login, password login, AllowGroups), unless I(allow_lockout=true).
  - Before writing (also in check mode), validates the wanted options with sshd itself
    (C(sshd -t -f main_config -o Keyword=value ...)); a rejected option fails with nothing written.
  - After writing, validates the whole configuration with C(sshd -t -f main_config) (so the
    drop-in is checked in its Include context) and verifies with C(sshd -T) that every managed
    option is effective. On any failure the previous file is restored and the module fails;
    the running sshd is never touched, so it keeps its old configuration.
  - Reloading sshd is left to the caller (a handler), and only when this module reports a change.
author:
  - hvsec.hypervisor contributors (@hvsec)
options:
  path:
    description: The drop-in file.
    type: path
    default: /etc/ssh/sshd_config.d/00-hvsec.conf
  main_config:
    description: The main sshd configuration, which must include I(path) before setting any managed option.
    type: path
    default: /etc/ssh/sshd_config
  options:
    description:
      - Ordered list of C({name, value}); I(value) is a string, number, boolean (yes/no) or list
        (comma-joined for Ciphers/MACs/KexAlgorithms, one line per item for ListenAddress and Port,
        space-joined otherwise).
    type: list
    elements: dict
    required: true
  sshd:
    description: Path of the sshd binary.
    type: path
    default: /usr/sbin/sshd
  guard:
    description:
      - The connection to protect. Keys C(server_address) and C(server_port) (where the controller's
        connection arrived, from C(SSH_CONNECTION)), C(login_user), C(uses_password) (bool).
      - Empty keys are not checked. The user's groups are looked up on the host.
    type: dict
    default: {}
  allow_lockout:
    description: Apply even when the guard finds that the connection in use would be cut off.
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the previous drop-in.
    type: bool
    default: true
notes:
  - Supports check mode (nothing is written; the lockout guard and the Include check still run) and diff mode.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
'''

EXAMPLES = r'''
- name: Harden sshd through a drop-in
  hvsec.hypervisor.sshd_dropin:
    options:
      - {name: PermitRootLogin, value: prohibit-password}
      - {name: PasswordAuthentication, value: false}
      - {name: Ciphers, value: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com]}
    guard:
      server_address: 10.0.2.15
      server_port: 22
      login_user: root
  register: hvsec_sshd
  notify: reload sshd
'''

RETURN = r'''
content:
  description: The drop-in text wanted.
  returned: always
  type: str
backup_file:
  description: Copy of the previous drop-in.
  returned: when a previous drop-in was replaced
  type: str
included:
  description: Whether the main configuration includes the drop-in.
  returned: always
  type: bool
lockout:
  description: Problems found by the lockout guard (empty when safe).
  returned: always
  type: list
  elements: str
'''

import glob
import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd_dropin import (
    effective_mismatches, include_pattern, include_status, lockout_problems, override_args, render, shadowing_in)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import parse_sshd_t


def _user_groups(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    names = set()
    try:
        names.add(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    for group in grp.getgrall():
        if user in group.gr_mem:
            names.add(group.gr_name)
    return sorted(names)


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8')
    except (IOError, OSError):
        return None


def _write(module, path, text):
    write_atomic(module, path, text)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/ssh/sshd_config.d/00-hvsec.conf'),
            main_config=dict(type='path', default='/etc/ssh/sshd_config'),
            options=dict(type='list', elements='dict', required=True),
            sshd=dict(type='path', default='/usr/sbin/sshd'),
            guard=dict(type='dict', default={}),
            allow_lockout=dict(type='bool', default=False),
            backup=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    options = []
    for item in p['options']:
        if set(item) - set(['name', 'value']) or 'name' not in item or 'value' not in item:
            module.fail_json(msg='sshd_dropin: each item of options needs exactly name and value, got %r' % (item,))
        if item['value'] is None or item['value'] == '' or item['value'] == []:
            continue
        options.append((str(item['name']), item['value']))
    try:
        content = render(options)
    except ValueError as exc:
        module.fail_json(msg='sshd_dropin: %s' % to_native(exc))

    guard = dict(p['guard'] or {})
    if guard.get('login_user'):
        guard['user_groups'] = _user_groups(guard['login_user'])
    problems = lockout_problems(options, guard)
    if problems and not p['allow_lockout']:
        module.fail_json(msg='sshd_dropin: refusing a configuration that would cut off this connection: %s. '
                             'Nothing was changed (set allow_lockout to override).' % '; '.join(problems),
                         lockout=problems)

    main_text = _read(p['main_config'])
    if main_text is None:
        module.fail_json(msg='sshd_dropin: cannot read main_config %s' % p['main_config'])
    included, shadowing = include_status(main_text, p['path'], [k for k, v in options])
    if not included:
        module.fail_json(msg='sshd_dropin: %s does not include %s (add "Include %s/*.conf" at its top); '
                             'nothing was changed' % (p['main_config'], p['path'], os.path.dirname(p['path'])),
                         included=False)
    pattern = include_pattern(main_text, p['path'])
    for other in sorted(glob.glob(pattern)) if pattern else []:
        if other >= p['path']:
            break
        shadowing.extend(shadowing_in(other, _read(other) or '', [k for k, v in options]))
    if shadowing:
        module.fail_json(msg='sshd_dropin: %s or a drop-in read before %s sets %s, which would take precedence '
                             '(sshd uses the first value); nothing was changed'
                             % (p['main_config'], p['path'], ', '.join(shadowing)),
                         included=True)
    if not os.path.isdir(os.path.dirname(p['path'])):
        if module.check_mode:
            pass
        else:
            module.fail_json(msg='sshd_dropin: directory %s does not exist' % os.path.dirname(p['path']))
    if not os.access(p['sshd'], os.X_OK):
        module.fail_json(msg='sshd_dropin: sshd binary %s not found' % p['sshd'])

    # Validate the wanted options with sshd itself before anything is written (also in check mode).
    rc, out, err = module.run_command([p['sshd'], '-t', '-f', p['main_config']] + override_args(content))
    if rc != 0:
        module.fail_json(msg='sshd_dropin: sshd -t rejected the options: %s; nothing was changed' % (err or out).strip(),
                         validate_stderr=err, changed=False)

    before = _read(p['path'])
    changed = before != content
    result = dict(changed=changed, content=content, included=True, lockout=problems)
    if module._diff:
        result['diff'] = dict(before=before or '', after=content, before_header=p['path'], after_header=p['path'])
    if not changed or module.check_mode:
        module.exit_json(**result)

    if before is not None and p['backup']:
        result['backup_file'] = module.backup_local(p['path'])

    def restore(reason, **extra):
        if before is None:
            os.unlink(p['path'])
        else:
            _write(module, p['path'], before)
        result.update(extra)
        result['changed'] = False
        module.fail_json(msg='sshd_dropin: %s; the previous %s was restored and sshd was not reloaded'
                         % (reason, p['path']), **dict((k, v) for k, v in result.items() if k != 'msg'))

    _write(module, p['path'], content)
    rc, out, err = module.run_command([p['sshd'], '-t', '-f', p['main_config']])
    if rc != 0:
        restore('sshd -t rejected the configuration: %s' % (err or out).strip(), validate_stderr=err)
    rc, out, err = module.run_command([p['sshd'], '-T', '-f', p['main_config']])
    if rc != 0:
        restore('sshd -T failed: %s' % (err or out).strip())
    mismatches = effective_mismatches(options, parse_sshd_t(out))
    if mismatches:
        restore('the drop-in is not effective: %s' % '; '.join(mismatches), mismatches=mismatches)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
