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
  - Refuses, before writing, a line read before the drop-in (in the main file before its Include,
    or in an earlier drop-in) that sets a wanted keyword to a different value - sshd uses the first
    value it obtains. The same value is no conflict (keywords, their aliases such as
    ChallengeResponseAuthentication, and enumerated values such as yes/no are compared as sshd does).
  - Before writing (also in check mode) it judges the configuration the drop-in would make, in a
    private copy whose Include reads the candidate drop-in in its place - C(sshd -t -f copy)
    validates it (a rejected option fails with nothing written) and C(sshd -T -f copy -C
    user=...,addr=...,laddr=...,lport=...) reads it as sshd would for the guarded connection,
    Match blocks applied.
  - The lockout guard refuses that reading when the guarded connection could not log in again - sshd
    not listening on its address and port, DenyUsers/AllowUsers/DenyGroups/AllowGroups excluding its
    user, root login refused, its authentication method (key or password) disabled, or
    AuthenticationMethods it cannot complete - unless I(allow_lockout=true).
  - After writing, validates the whole configuration with C(sshd -t -f main_config) and verifies
    with C(sshd -T) that every managed option is effective. On any failure the previous file is
    restored and the module fails; the running sshd is never touched, so it keeps its old configuration.
  - Reloading sshd is left to the caller (a handler), and only when this module reports a change.
    The caller should prove a new login afterwards and restore I(backup_file) when it fails (the
    role mgmt_plane arms a timer that does so by itself).
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
      - The connection to protect. Keys C(client_address), C(server_address) and C(server_port) (from
        C(SSH_CONNECTION) - where the controller connects from, and the address and port its connection
        arrived on), C(login_user), C(uses_password) (bool).
      - Empty keys are not checked. The user's groups are looked up on the host. Without
        C(login_user) and C(client_address) the configuration is read without C(-C) (no Match block).
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
  - Supports check mode (nothing is written; the Include and precedence checks, C(sshd -t) and the lockout
    guard still run) and diff mode.
  - The candidate copy lives in a private directory next to I(main_config) (C(.hvsec-sshd-*), mode 0700, matched by no
    Include pattern) and is removed before the module ends, in check mode too.
extends_documentation_fragment:
  - hvsec.hypervisor.common
  - hvsec.hypervisor.attributes
'''

EXAMPLES = r'''
- name: Harden sshd through a drop-in
  hvsec.hypervisor.sshd_dropin:
    options:
      - {name: PermitRootLogin, value: prohibit-password}
      - {name: PasswordAuthentication, value: false}
      - {name: Ciphers, value: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com]}
    guard:
      client_address: 10.0.2.2
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
  description: Problems found by the lockout guard (empty when safe; applied anyway with I(allow_lockout)).
  returned: always
  type: list
  elements: str
previous_exists:
  description: Whether a drop-in existed before (restoring means removing the file when it did not).
  returned: always
  type: bool
conflicts:
  description: Lines read before the drop-in that set a wanted keyword to a different value.
  returned: when the module refuses because of them
  type: list
  elements: str
'''

import glob
import grp
import os
import pwd
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.hvsec.hypervisor.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.hvsec.hypervisor.plugins.module_utils.files import read_text
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd_dropin import (
    access_problems, candidate_main, conflicts_in, effective_mismatches, include_pattern, include_status, render)
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import parse_sshd_t, spec_arg


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


def _write(module, path, text):
    write_atomic(module, path, text)


def _connection_spec(guard):
    """``sshd -T -C`` argument for the guarded connection (user, host and addr are all needed)."""
    user, client = guard.get('login_user'), guard.get('client_address')
    if not user or not client:
        return None
    return spec_arg({'user': user, 'host': client, 'addr': client,
                     'laddr': guard.get('server_address') or '', 'lport': str(guard.get('server_port') or '')})


class Candidate(object):
    """The configuration the drop-in would make, in a private directory: a copy of the main file
    whose Include reads the candidate drop-in in the drop-in's place. Removed on exit.

    The directory (``.hvsec-sshd-*``, mode 0700) is created next to the main file, so sshd reads
    it with the same security labels as its own configuration (SELinux); its name matches no
    Include pattern, and it exists only while the module runs."""

    def __init__(self, module, main_config, main_text, path, content):
        self.module = module
        self.directory = tempfile.mkdtemp(prefix='.hvsec-sshd-', dir=os.path.dirname(main_config) or '/etc/ssh')
        self.dropin = os.path.join(self.directory, os.path.basename(path))
        self.main = os.path.join(self.directory, 'sshd_config')
        self.real = (main_config, path)
        try:
            with open(self.dropin, 'w') as handle:
                handle.write(content)
            with open(self.main, 'w') as handle:
                handle.write(candidate_main(main_text, path, self.dropin, lambda pattern: sorted(glob.glob(pattern))))
        except (IOError, OSError):
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def text(self, message):
        """sshd's message with the candidate's paths replaced by the real ones."""
        return (message or '').replace(self.dropin, self.real[1]).replace(self.main, self.real[0]).strip()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.directory, ignore_errors=True)
        return False


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
    guard['uses_password'] = boolean(guard.get('uses_password') or False, strict=False)
    if guard.get('login_user'):
        guard['user_groups'] = _user_groups(guard['login_user'])

    main_text = read_text(p['main_config'])
    if main_text is None:
        module.fail_json(msg='sshd_dropin: cannot read main_config %s' % p['main_config'])
    included, conflicts = include_status(main_text, p['path'], options, name=p['main_config'])
    if not included:
        module.fail_json(msg='sshd_dropin: %s does not include %s (add "Include %s/*.conf" at its top); '
                             'nothing was changed' % (p['main_config'], p['path'], os.path.dirname(p['path'])),
                         included=False)
    pattern = include_pattern(main_text, p['path'])
    for other in sorted(glob.glob(pattern)) if pattern else []:
        if other >= p['path']:
            break
        conflicts.extend(conflicts_in(other, read_text(other) or '', options))
    if conflicts:
        module.fail_json(msg='sshd_dropin: %s or a drop-in read before %s sets %s, which would take precedence '
                             '(sshd uses the first value it obtains; the same value would be no conflict); '
                             'nothing was changed' % (p['main_config'], p['path'], '; '.join(conflicts)),
                         included=True, conflicts=conflicts)
    if not os.path.isdir(os.path.dirname(p['path'])):
        if module.check_mode:
            pass
        else:
            module.fail_json(msg='sshd_dropin: directory %s does not exist' % os.path.dirname(p['path']))
    if not os.access(p['sshd'], os.X_OK):
        module.fail_json(msg='sshd_dropin: sshd binary %s not found' % p['sshd'])

    # Judge the configuration the drop-in would make before anything is written (also in check
    # mode): sshd -t validates it in its Include context, sshd -T -C reads it as sshd would for the
    # guarded connection (Match blocks applied), and the lockout guard asks whether that
    # connection could still log in.
    spec = _connection_spec(guard)
    try:
        candidate = Candidate(module, p['main_config'], main_text, p['path'], content)
    except (IOError, OSError) as exc:
        module.fail_json(msg='sshd_dropin: cannot write the candidate copy next to %s: %s; nothing was changed'
                         % (p['main_config'], to_native(exc)))
    with candidate as cand:
        rc, out, err = module.run_command([p['sshd'], '-t', '-f', cand.main])
        if rc != 0:
            module.fail_json(msg='sshd_dropin: sshd -t rejected the options: %s; nothing was changed'
                             % cand.text(err or out), validate_stderr=cand.text(err), changed=False)
        rc, out, err = module.run_command([p['sshd'], '-T', '-f', cand.main] + (['-C', spec] if spec else []))
        if rc != 0:
            module.fail_json(msg='sshd_dropin: sshd -T%s could not read the new configuration: %s; nothing was changed'
                             % (' -C %s' % spec if spec else '', cand.text(err or out)), changed=False)
        problems = access_problems(parse_sshd_t(out), guard)
    if problems and not p['allow_lockout']:
        module.fail_json(msg='sshd_dropin: refusing a configuration that would cut off this connection%s: %s. '
                             'Nothing was changed (set allow_lockout to override).'
                             % (' (%s, as sshd -T -C reads it)' % spec if spec else '', '; '.join(problems)),
                         lockout=problems)
    if problems:
        module.warn('sshd_dropin: applied although this connection would be cut off (allow_lockout): %s'
                    % '; '.join(problems))

    before = read_text(p['path'])
    changed = before != content
    result = dict(changed=changed, content=content, included=True, lockout=problems, previous_exists=before is not None)
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
