# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (hypothesis) for the parsers and rewriters that other test files do not
fuzz yet (issue 9). Two properties each:

* no crash on any input: a parser returns a value or raises its documented error (ValueError and
  its subclasses), never anything else;
* a rewrite keeps every line it has no business with byte-for-byte, its result is what was asked,
  and rewriting again changes nothing.

Already fuzzed elsewhere: the kernel command line (test_facts_parsers, test_kernel_args), the GRUB
default files' edit (test_grub_default), libvirt config parsing, ``sshd -T``, ``ip -j`` and
``ovs-vsctl`` output (test_facts_parsers). Here: libvirt config rewriting (libvirt_config), the
modprobe.d rewrite that disables unsafe VFIO options (pci_passthrough), /etc/kernel/cmdline, BLS
and ``grubby --info`` (kernel_cmdline), GRUB files on arbitrary text, sshd_config reading and the
drop-in rendering (sshd_dropin), and the ``ip``/``bridge`` JSON readers of bridge_security.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from hypothesis import given, settings, strategies as st

from ansible_collections.hvsec.hypervisor.plugins.module_utils import bootloader as bl
from ansible_collections.hvsec.hypervisor.plugins.module_utils import grub_default as gd
from ansible_collections.hvsec.hypervisor.plugins.module_utils import libvirt_conf_edit as lce
from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd_dropin as sd
from ansible_collections.hvsec.hypervisor.plugins.module_utils import vswitch_bridge as vb
from ansible_collections.hvsec.hypervisor.plugins.module_utils import sshd as su
from ansible_collections.hvsec.hypervisor.plugins.module_utils.sshd import parse_sshd_t

FAST = settings(max_examples=150, deadline=None)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=300)


# ------------------------------------------------------------------ libvirt configuration files
_NAMES = ['listen_tcp', 'auth_tcp', 'unix_sock_group', 'access_drivers', 'vnc_listen', 'log_level', 'X9_y']
_scalar = st.one_of(st.integers(-5, 70000), st.sampled_from(['"none"', "'sasl'", '"127.0.0.1"', '""',
                                                             '"""two\nlines"""', '+1']))
_list = st.lists(st.sampled_from(['"polkit"', '"a b"', "'c'"]), max_size=3)


@st.composite
def _entry(draw):
    name = draw(st.sampled_from(_NAMES))
    sp1, sp2 = draw(st.sampled_from(['', ' ', '\t'])), draw(st.sampled_from(['', ' ', '  ']))
    if draw(st.booleans()):
        value = str(draw(_scalar))
    else:
        items = draw(_list)
        sep = draw(st.sampled_from([', ', ',\n  ', ',']))
        value = '[' + draw(st.sampled_from(['', ' ', '\n  '])) + sep.join(items) + draw(st.sampled_from(['', ' ', '\n'])) + ']'
    comment = draw(st.sampled_from(['', '  # trailing', '# x=1']))
    return '%s%s%s=%s%s%s' % (draw(st.sampled_from(['', ' '])), name, sp1, sp2, value, comment)


_conf_line = st.one_of(_entry(), st.builds(lambda a, b: a + '; ' + b, _entry(), _entry()),
                       st.sampled_from(['', '# comment', '#listen_tcp = 1', '   ', '# vnc_listen = "0.0.0.0"']))
_conf = st.builds(lambda lines, end: '\n'.join(lines) + end, st.lists(_conf_line, max_size=10),
                  st.sampled_from(['\n', '']))
_wanted = st.dictionaries(st.sampled_from(_NAMES), st.one_of(st.integers(0, 9), st.sampled_from(['none', 'a b']),
                                                             st.lists(st.sampled_from(['polkit', 'x']), max_size=2)),
                          max_size=3)


def _untouched_lines(text, names):
    """The lines of ``text`` that hold no part of an entry named in ``names`` (newline dropped)."""
    spans = [(e.start, e.end) for e in lce.parse_entries(text) if e.name in names]
    out = []
    pos = 0
    for line in text.splitlines(True):
        start, end = pos, pos + len(line)
        pos = end
        if not any(s < end and start < e for s, e in spans):
            out.append(line.rstrip('\n'))
    return out


@FAST
@given(ANY_TEXT, _wanted)
def test_libvirt_edit_never_crashes(text, wanted):
    try:
        lce.edit(text, wanted, [])
    except ValueError:
        pass


@FAST
@given(_conf, _wanted, st.lists(st.sampled_from(_NAMES), max_size=2))
def test_libvirt_edit_keeps_other_lines_and_is_idempotent(text, wanted, unset):
    unset = [n for n in unset if n not in wanted]
    try:
        lce.parse_entries(text)
    except lce.ConfSyntaxError:
        return
    new, dummy = lce.edit(text, wanted, unset)
    touched = set(wanted) | set(unset)
    kept, now = _untouched_lines(text, touched), _untouched_lines(new, touched)
    if new == '':   # all that was left were blank lines, which libvirt refuses on their own
        assert all(not line.strip() for line in kept)
    else:
        # every untouched line is still there, in order; a line that appears is what is left of a
        # line whose other statement (after a ";") was removed
        rest = iter(now)
        assert all(line in rest for line in kept)
        assert all(line in kept or any(line.strip() in old for old in text.splitlines()) for line in now)
    values = lce.parse(new)
    for name, value in wanted.items():
        assert lce.normalize_value(values[name]) == lce.normalize_value(value)
    for name in unset:
        assert name not in values
    assert lce.edit(new, wanted, unset) == (new, [])


# ------------------------------------------------------------------ modprobe.d (unsafe VFIO options)
_opt = st.sampled_from(['allow_unsafe_interrupts=1', 'allow_unsafe_interrupts=0', 'allow-unsafe-interrupts=Y',
                        'allow_unsafe_interrupts="yes"', 'allow_unsafe_interrupts', 'allow_unsafe_interrupts=off',
                        'enable_unsafe_noiommu_mode=true', 'enable_unsafe_noiommu_mode=N', 'enable_unsafe_noiommu_mode=on',
                        'ids=8086:10d3', 'ignore_msrs=1'])
_module = st.sampled_from(['vfio_iommu_type1', 'vfio-iommu-type1', 'vfio', 'kvm', 'vfio-pci'])


@st.composite
def _modprobe_line(draw):
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.sampled_from(['', '# comment', 'blacklist nouveau', 'softdep e1000e pre: vfio-pci',
                                     'install e1000e /bin/true', '\toptions']))
    opts = draw(st.lists(_opt, min_size=1, max_size=3))
    words = ['options', draw(_module)] + opts
    if kind == 4:   # a continuation somewhere
        cut = draw(st.integers(1, len(words) - 1))
        return ' '.join(words[:cut]) + ' \\\n  ' + ' '.join(words[cut:])
    return draw(st.sampled_from(['', ' '])) + ' '.join(words)


_modprobe = st.builds(lambda lines, end: '\n'.join(lines) + end, st.lists(_modprobe_line(), max_size=8),
                      st.sampled_from(['\n', '']))


def _enabled_unsafe(text):
    """Unsafe options left enabled, read the way the audit (hypervisor_facts) reads modprobe.d."""
    return [opt for opt in procfs.parse_modprobe_options(text, 'f.conf')
            if pci.option_is_unsafe(opt['module'], opt['option'], opt['value'])]


def _safe_options(text):
    """Every other option, as modprobe passes it on (module names with '_')."""
    return sorted((opt['module'], opt['option'], opt['value'] or '')
                  for opt in procfs.parse_modprobe_options(text, 'f.conf')
                  if not pci.option_is_unsafe(opt['module'], opt['option'], opt['value']))


@FAST
@given(st.one_of(ANY_TEXT, _modprobe))
def test_modprobe_parsers_never_crash(text):
    pci.unsafe_option_lines(text)
    pci.disable_unsafe_lines(text)
    pci.parse_managed_modprobe(text)


@FAST
@given(_modprobe)
def test_disabling_unsafe_options_keeps_other_lines(text):
    new = pci.disable_unsafe_lines(text)
    old_lines, new_lines = pci.physical_lines(text), pci.physical_lines(new)
    # every old line is still there, in order, as it was or commented out; the lines added
    # after a commented-out one carry the other options of its line (or end a dangling continuation)
    added = []
    rest = iter(new_lines)
    for old in old_lines:
        for line in rest:
            if line in (old, pci.DISABLED_PREFIX + old, pci.DISABLED_PREFIX + old + '\n'):
                break
            added.append(line)
        else:
            raise AssertionError('line %r lost' % old)
    added.extend(rest)
    assert all(line == '\n' or line.startswith('options ') for line in added), added
    assert _enabled_unsafe(new) == []
    # the other options of a disabled line survive (dma_entry_limit next to allow_unsafe_interrupts)
    assert _safe_options(new) == _safe_options(text)
    assert pci.unsafe_option_lines(new) == []
    assert pci.disable_unsafe_lines(new) == new
    # only lines that really enabled something were touched
    if not _enabled_unsafe(text):
        assert new == text


@FAST
@given(st.lists(st.sampled_from(['8086:10d3', '1af4:1041']), max_size=2),
       st.lists(st.sampled_from(['e1000e', 'igb']), max_size=2), st.booleans())
def test_managed_modprobe_round_trip(ids, softdeps, lock):
    text = pci.render_managed_modprobe(ids, softdeps, {}, lock)
    parsed = pci.parse_managed_modprobe(text)
    assert parsed['ids'] == sorted(set(ids)) and parsed['softdeps'] == sorted(set(softdeps))
    assert parsed['lock_unsafe'] is lock


# ------------------------------------------------------------------ boot loader files
@FAST
@given(ANY_TEXT)
def test_boot_loader_parsers_never_crash(text):
    bl.parse_bls_entry(text)
    bl.parse_grubby_info(text)
    bl.parse_kernel_cmdline_file(text)


@FAST
@given(st.lists(st.one_of(st.sampled_from(['# comment', '  # indented', 'root=ZFS=rpool quiet', '']),
                          st.text(alphabet='abc=# ', max_size=12)), max_size=6),
       st.lists(st.text(alphabet='abc=.,/_-0123', min_size=1, max_size=8), max_size=6))
def test_kernel_cmdline_file_is_written_as_one_line(lines, words):
    # every reader of /etc/kernel/cmdline (kernel-install before and after systemd 257,
    # proxmox-boot-tool) takes one line without comments the same way: that is all it renders
    old = '\n'.join(lines) + '\n'
    new = bl.render_kernel_cmdline_file(old, words)
    assert new.count('\n') == 1 and bl.kernel_cmdline_file_comments(new) == []
    assert bl.kernel_cmdline_file_is_canonical(new)
    assert bl.parse_kernel_cmdline_file(new) == words
    assert bl.render_kernel_cmdline_file(new, words) == new


@FAST
@given(st.lists(st.text(alphabet='GRUB_CMDLINE_LINUX=DEFAULT"\'$\\ `\n#iommu=pt', max_size=60), min_size=1, max_size=2))
def test_grub_plan_never_crashes(texts):
    files = [('/etc/default/grub' if i == 0 else '/etc/default/grub.d/%d.cfg' % i, t) for i, t in enumerate(texts)]
    try:
        gd.plan(files, ['iommu.strict=1'], ['iommu=pt'])
    except ValueError:
        pass


# ------------------------------------------------------------------ sshd_config and the drop-in
@FAST
@given(ANY_TEXT)
def test_sshd_config_readers_never_crash(text):
    sd.include_pattern(text, '/etc/ssh/sshd_config.d/00-hvsec.conf')
    sd.include_status(text, '/etc/ssh/sshd_config.d/00-hvsec.conf', ['PermitRootLogin', 'Ciphers'])
    sd.conflicts_in('x', text, [('PermitRootLogin', 'no'), ('Ciphers', ['aes256-ctr']), ('AllowGroups', ['a'])])
    sd.candidate_main(text, '/etc/ssh/sshd_config.d/00-hvsec.conf', '/tmp/c/00-hvsec.conf', lambda pattern: [])
    eff = parse_sshd_t(text)
    sd.access_problems(eff, {'login_user': 'root', 'user_groups': ['root'], 'client_address': '10.0.2.2',
                             'server_address': '10.0.2.15', 'server_port': '22'})
    state = su.read_config(lambda path: text if path == su.MAIN_CONFIG else None, lambda pattern: [])
    spec = {'user': 'root', 'host': '10.0.0.1', 'addr': '10.0.0.1', 'laddr': '10.0.2.15', 'lport': '22'}
    for block in state['match_blocks']:
        su.criteria_apply(block['criteria'], spec, ['root'])
        su.spec_for_block(block['criteria'], spec, lambda group: None)
    su.connection_specs(eff, state['match_blocks'], ['10.0.0.0/8', text[:20]], [text[:10]], '')


_keyword = st.one_of(st.sampled_from(['PermitRootLogin', 'Ciphers', 'ListenAddress', 'AllowGroups', 'Banner']),
                     st.text(alphabet='AbZ9 #\n=', min_size=0, max_size=8))
_value = st.one_of(st.booleans(), st.integers(0, 99), st.text(alphabet='ab -#"\n\r,', max_size=8),
                   st.lists(st.text(alphabet='ab-1', min_size=1, max_size=5), max_size=3))


@FAST
@given(st.lists(st.tuples(_keyword, _value), max_size=5))
def test_sshd_dropin_render_cannot_inject_lines(options):
    try:
        text = sd.render(options)
    except ValueError:
        return
    body = [line for line in text.splitlines() if not line.startswith('#')]
    expected = []
    for key, value in options:
        values = value if isinstance(value, list) else [value]
        if not values:
            continue
        expected.extend([key] * (len(values) if key.lower() in sd.REPEATED else 1))
    # one line per option (per value for repeated keywords), each starting with its keyword
    assert [line.split(' ', 1)[0] for line in body] == expected
    for key, value in options:
        if key.lower() not in sd.REPEATED and not isinstance(value, list):
            assert parse_sshd_t(text).get(key.lower()) is not None


# ------------------------------------------------------------------ ip -j / bridge -j (bridge_security)
@FAST
@given(ANY_TEXT)
def test_bridge_security_json_readers_never_crash_on_text(text):
    for parse in (vb.parse_links, vb.parse_addresses, vb.parse_bridge_vlans):
        try:
            parse(text)
        except ValueError:
            pass


_JSON_KEYS = st.sampled_from(['ifname', 'master', 'linkinfo', 'info_kind', 'addr_info', 'local', 'vlans', 'vlan',
                              'flags', 'family', 'prefixlen', 'scope'])
_json = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
                     lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_JSON_KEYS, inner, max_size=4)),
                     max_leaves=12)


@FAST
@given(st.lists(_json, max_size=3))
def test_bridge_security_json_readers_never_crash_on_json(doc):
    import json
    text = json.dumps(doc)
    for parse in (vb.parse_links, vb.parse_addresses, vb.parse_bridge_vlans):
        try:
            parse(text)
        except ValueError:
            pass
