# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypervisor_facts probe of libvirt: facts key ``libvirt``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import os
import pwd
import stat

from ansible_collections.hvsec.hypervisor.plugins.module_utils import domain_xml
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf
from ansible_collections.hvsec.hypervisor.plugins.module_utils import systemd_unit
from ansible_collections.hvsec.hypervisor.plugins.module_utils.facts_common import NOT_FOUND, NOT_INSTALLED, reason_of

_LIBVIRT_SOCKETS = (
    'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket', 'libvirtd-tcp.socket',
    'libvirtd-tls.socket', 'virtproxyd.socket', 'virtproxyd-ro.socket', 'virtproxyd-admin.socket',
    'virtproxyd-tcp.socket', 'virtproxyd-tls.socket', 'virtqemud.socket', 'virtqemud-ro.socket',
    'virtqemud-admin.socket',
)
_LIBVIRT_SERVICES = ('libvirtd.service', 'virtproxyd.service', 'virtqemud.service')
# Read-write sockets: the unit that creates each under socket activation, and its path.
_LIBVIRT_RW_SOCKET_UNITS = ('libvirtd.socket', 'virtproxyd.socket', 'virtqemud.socket')
_LIBVIRT_RW_SOCKETS = ('/run/libvirt/libvirt-sock', '/run/libvirt/virtqemud-sock')
_LIBVIRT_CONFS = ('libvirtd', 'virtproxyd', 'virtqemud', 'qemu')


def _name_of(lookup, ident):
    """User or group name of a numeric id (the id as a string when it has no name)."""
    try:
        return lookup(ident)[0]
    except (KeyError, OverflowError):
        return str(ident)


def probe_libvirt(ctx):
    """``libvirt``: installed, config, config_set, config_errors, sockets, services, socket_units,
    unix_sockets, daemon_args, domains, domain_errors, networks, nwfilters."""
    fs = ctx.fs
    installed = fs.isdir('/etc/libvirt') or any(
        ctx.tool(b) for b in ('libvirtd', 'virtqemud', 'virtproxyd'))
    result = {'installed': installed, 'config': None, 'config_set': None, 'config_errors': {},
              'sockets': None, 'services': None, 'socket_units': None, 'unix_sockets': None,
              'daemon_args': None, 'domains': None, 'domain_errors': {}, 'networks': None, 'nwfilters': None}
    if not installed:
        ctx.note('libvirt', '/etc/libvirt', NOT_INSTALLED)
        return result
    config = {}
    config_set = {}
    for kind in _LIBVIRT_CONFS:
        path = '/etc/libvirt/%s.conf' % kind
        text = fs.read(path, 'libvirt')
        if text is None:
            if fs.exists(path) or not fs.isdir('/etc/libvirt'):
                config[kind] = None      # unreadable: effective values unknown
                config_set[kind] = None
            else:
                config[kind] = libvirt_conf.effective_config(kind, {})
                config_set[kind] = []
            continue
        values, errors = libvirt_conf.parse_libvirt_conf(text)
        config_set[kind] = sorted(values)
        if errors:
            result['config_errors'][kind] = '; '.join(errors)
            config[kind] = None
        else:
            config[kind] = libvirt_conf.effective_config(kind, values)
    result['config'] = config
    result['config_set'] = config_set
    result['sockets'] = _unit_states(ctx, _LIBVIRT_SOCKETS)
    result['services'] = _unit_states(ctx, _LIBVIRT_SERVICES)
    result['socket_units'] = dict((unit, _socket_unit(ctx, unit)) for unit in _LIBVIRT_RW_SOCKET_UNITS
                                  if result['sockets'].get(unit) not in (None, 'masked'))
    result['unix_sockets'] = _unix_sockets(ctx, _LIBVIRT_RW_SOCKETS)
    result['daemon_args'] = _daemon_args(ctx)
    result['domains'] = _domains(ctx, result['domain_errors'])
    result['networks'] = _xml_dir(ctx, '/etc/libvirt/qemu/networks', domain_xml.parse_network_xml,
                                       result['domain_errors'])
    filters = None
    for directory in ('/etc/libvirt/nwfilter', '/usr/share/libvirt/nwfilter'):
        names = _xml_dir(ctx, directory, domain_xml.parse_nwfilter_name, result['domain_errors'],
                         missing_ok=directory.startswith('/usr'))
        if names is not None:
            filters = sorted(set((filters or []) + [n for n in names if n]))
    result['nwfilters'] = filters
    return result


def _unit_states(ctx, units):
    states = {}
    wants = []
    for directory in ('/etc/systemd/system', '/run/systemd/system'):
        for entry in ctx.fs.listdir(directory, None) or []:
            if entry.endswith('.wants') or entry.endswith('.requires'):
                wants.append('%s/%s' % (directory, entry))
    for unit in units:
        masked = False
        defined = False
        for directory in systemd_unit.UNIT_DIRS:
            path = '%s/%s' % (directory, unit)
            if ctx.fs.exists(path):
                target = ctx.fs.readlink(path)
                if target == '/dev/null':
                    masked = True
                defined = True
        if not defined:
            continue
        if masked:
            states[unit] = 'masked'
        elif any(ctx.fs.exists('%s/%s' % (w, unit)) for w in wants):
            states[unit] = 'enabled'
        else:
            states[unit] = 'disabled'
    return states


def _unit_text(ctx, path):
    """Text of a unit file or drop-in; a symlink is followed below the root."""
    target = ctx.fs.readlink(path)
    if target is not None:
        if not target.startswith('/'):
            target = os.path.join(os.path.dirname(path), target)
        return ctx.fs.read(target, 'libvirt')
    return ctx.fs.read(path, 'libvirt')


def _socket_unit(ctx, unit):
    """Effective [Socket] settings of ``unit``: unit file (first in the search path) and drop-ins."""
    texts = []
    files = []
    for directory in systemd_unit.UNIT_DIRS:
        path = '%s/%s' % (directory, unit)
        if ctx.fs.exists(path):
            text = _unit_text(ctx, path)
            if text is None:
                return None        # unreadable: the effective settings are unknown
            texts.append(text)
            files.append(path)
            break
    found = []
    for directory in systemd_unit.UNIT_DIRS:
        dropins = '%s/%s.d' % (directory, unit)
        for name in ctx.fs.listdir(dropins, 'libvirt', missing_ok=True) or []:
            found.append((dropins, name))
    for path in systemd_unit.dropin_order(found):
        text = _unit_text(ctx, path)
        if text is None:
            return None
        texts.append(text)
        files.append(path)
    settings = systemd_unit.socket_settings(texts)
    settings['files'] = files
    return settings


def _unix_sockets(ctx, paths):
    """{path: {mode, owner, group, socket}} of the libvirt sockets that exist (lstat)."""
    out = {}
    for path in paths:
        try:
            st = os.lstat(ctx.fs.path(path))
        except (IOError, OSError) as exc:
            if reason_of(exc) != NOT_FOUND:
                ctx.note('libvirt', path, reason_of(exc))
            continue
        out[path] = {
            'mode': '%04o' % stat.S_IMODE(st.st_mode),
            'owner': _name_of(pwd.getpwuid, st.st_uid),
            'group': _name_of(grp.getgrgid, st.st_gid),
            'socket': stat.S_ISSOCK(st.st_mode),
        }
    return out


def _daemon_args(ctx):
    for path in ('/etc/default/libvirtd', '/etc/sysconfig/libvirtd'):
        text = ctx.fs.read(path, 'libvirt', missing_ok=True)
        if text is None:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith('LIBVIRTD_ARGS='):
                value = line.split('=', 1)[1].strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                    value = value[1:-1]
                return value.split()
        return []
    return None


def _xml_dir(ctx, directory, parser, errors, missing_ok=False):
    names = ctx.fs.listdir(directory, 'libvirt', missing_ok=True)
    if names is None:
        if not missing_ok and not ctx.fs.exists(directory):
            return []
        return None
    out = []
    for name in names:
        if not name.endswith('.xml'):
            continue
        path = '%s/%s' % (directory, name)
        text = ctx.fs.read(path, 'libvirt')
        if text is None:
            continue
        data, error = parser(text)
        if error:
            errors[path] = error
        else:
            out.append(data)
    return out


def _domains(ctx, errors):
    defined = _xml_dir(ctx, '/etc/libvirt/qemu', domain_xml.parse_domain_xml, errors)
    running = _xml_dir(ctx, '/run/libvirt/qemu', domain_xml.parse_domain_xml, errors, missing_ok=True)
    if defined is None and running is None:
        return None
    # status directory present but unreadable: whether a domain runs is unknown
    unknown = running is None and ctx.fs.exists('/run/libvirt/qemu')
    by_key = {}
    order = []
    for dom in defined or []:
        dom['running'] = None if unknown else False
        dom['persistent'] = True
        key = dom.get('uuid') or dom.get('name')
        by_key[key] = dom
        order.append(key)
    for dom in running or []:
        key = dom.get('uuid') or dom.get('name')
        dom['running'] = True
        if key in by_key:
            dom['persistent'] = True
            by_key[key] = dom      # the live definition is what is in effect
        else:
            dom['persistent'] = False
            by_key[key] = dom
            order.append(key)
    return [by_key[k] for k in order]
