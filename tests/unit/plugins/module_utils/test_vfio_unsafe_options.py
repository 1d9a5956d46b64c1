# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""allow_unsafe_interrupts / enable_unsafe_noiommu_mode are read the way the kernel reads a bool
module parameter (kstrtobool; a bare flag is true) everywhere a value is read: pci_passthrough's
search for conflicting modprobe.d lines, the facts' modprobe parser feeding the audit
(HVS-VFIO-01/02) and the kernel command line. Commenting an unsafe option out keeps the other
options of its line."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.hvsec.hypervisor.plugins.plugin_utils import eval_vfio
from ansible_collections.hvsec.hypervisor.plugins.plugin_utils.catalog import BY_ID
from ansible_collections.hvsec.hypervisor.plugins.module_utils import pci
from ansible_collections.hvsec.hypervisor.plugins.module_utils import procfs

ENABLED = ['1', 'Y', 'y', 'T', 't', 'true', 'True', 'yes', 'on', 'ON', 'On', '"1"', '"on"', None]
DISABLED = ['0', 'N', 'n', 'F', 'false', 'no', 'off', 'OFF', '"0"', '', 'x', '2']


@pytest.mark.parametrize('value', ENABLED)
def test_kernel_bool_true(value):
    assert pci.kernel_bool(value) is True


@pytest.mark.parametrize('value', DISABLED)
def test_kernel_bool_not_true(value):
    """kstrtobool: n/N/f/F/0/off are false; anything else (an empty value after '=' included)
    is invalid: the kernel refuses the parameter, so it never enables the unsafe mode."""
    assert pci.kernel_bool(value) is False


def _line(value, key='allow_unsafe_interrupts', module='vfio_iommu_type1'):
    return 'options %s %s\n' % (module, key if value is None else '%s=%s' % (key, value))


@pytest.mark.parametrize('value', ENABLED)
@pytest.mark.parametrize('key, module', [('allow_unsafe_interrupts', 'vfio_iommu_type1'),
                                         ('allow-unsafe-interrupts', 'vfio-iommu-type1'),
                                         ('enable_unsafe_noiommu_mode', 'vfio')])
def test_enabled_values_are_found_in_modprobe_d(value, key, module):
    text = _line(value, key, module)
    assert [i for i, _l in pci.unsafe_option_lines(text)] == [0]
    assert pci.unsafe_option_lines(pci.disable_unsafe_lines(text)) == []


@pytest.mark.parametrize('value', DISABLED)
def test_disabled_values_are_left_alone(value):
    text = _line(value)
    assert pci.unsafe_option_lines(text) == []
    assert pci.disable_unsafe_lines(text) == text


def _facts(text, args=()):
    return {'vfio': {'modules': [], 'params': {}, 'dev_vfio': [],
                     'modprobe_options': procfs.parse_modprobe_options(text, '/etc/modprobe.d/x.conf')},
            'cmdline': {'args': list(args)}}


@pytest.mark.parametrize('value', ENABLED)
@pytest.mark.parametrize('key', ['allow_unsafe_interrupts', 'allow-unsafe-interrupts'])
def test_audit_reads_modprobe_d_like_the_kernel(value, key):
    facts = _facts(_line(value, key, 'vfio-iommu-type1'))
    assert eval_vfio.vfio_unsafe_interrupts_refused(facts, {}, BY_ID['HVS-VFIO-01'])[0] == 'fail'


@pytest.mark.parametrize('value', DISABLED)
def test_audit_passes_disabled_values(value):
    assert eval_vfio.vfio_unsafe_interrupts_refused(_facts(_line(value)), {}, BY_ID['HVS-VFIO-01'])[0] == 'pass'


@pytest.mark.parametrize('value, status', [(None, 'fail'), ('T', 'fail'), ('on', 'fail'), ('', 'pass'),
                                           ('0', 'pass')])
def test_audit_reads_the_command_line_like_the_kernel(value, status):
    arg = {'key': 'vfio_iommu_type1.allow-unsafe-interrupts', 'value': value}
    assert eval_vfio.vfio_unsafe_interrupts_refused(_facts('', [arg]), {}, BY_ID['HVS-VFIO-01'])[0] == status


def test_rewrite_keeps_the_other_options():
    text = 'options vfio_iommu_type1 allow_unsafe_interrupts=1 dma_entry_limit=131072\n'
    assert pci.disable_unsafe_lines(text) == (
        '# disabled by hvsec.hypervisor (HVS-VFIO-01/02): options vfio_iommu_type1 allow_unsafe_interrupts=1 '
        'dma_entry_limit=131072\n'
        'options vfio_iommu_type1 dma_entry_limit=131072\n')


def test_rewrite_of_a_continued_line():
    text = ('options vfio_iommu_type1 dma_entry_limit=131072 \\\n'
            '    allow_unsafe_interrupts=Y\n'
            'options kvm ignore_msrs=1\n')
    fixed = pci.disable_unsafe_lines(text)
    assert fixed == ('# disabled by hvsec.hypervisor (HVS-VFIO-01/02): options vfio_iommu_type1 dma_entry_limit=131072 \\\n'
                     '# disabled by hvsec.hypervisor (HVS-VFIO-01/02):     allow_unsafe_interrupts=Y\n'
                     'options vfio_iommu_type1 dma_entry_limit=131072\n'
                     'options kvm ignore_msrs=1\n')
    # modprobe joins the commented continuation into one comment line: only the rewrite counts
    options = procfs.parse_modprobe_options(fixed, 'x.conf')
    assert [(o['module'], o['option'], o['value']) for o in options] == [
        ('vfio_iommu_type1', 'dma_entry_limit', '131072'), ('kvm', 'ignore_msrs', '1')]


def test_rewrite_keeps_a_safe_setting_on_the_same_line_and_drops_only_the_unsafe_ones():
    text = 'options vfio enable_unsafe_noiommu_mode=1 enable_unsafe_noiommu_mode=0\n'
    fixed = pci.disable_unsafe_lines(text)
    assert fixed.endswith('\noptions vfio enable_unsafe_noiommu_mode=0\n')
    text = 'options vfio_iommu_type1 allow_unsafe_interrupts\n'      # only the unsafe flag: no new line
    assert pci.disable_unsafe_lines(text) == '# disabled by hvsec.hypervisor (HVS-VFIO-01/02): ' + text


def test_rewrite_at_end_of_file_without_newline_and_after_a_dangling_backslash():
    assert pci.disable_unsafe_lines('options vfio_iommu_type1 allow_unsafe_interrupts=1 dma_entry_limit=9') == (
        '# disabled by hvsec.hypervisor (HVS-VFIO-01/02): options vfio_iommu_type1 allow_unsafe_interrupts=1 '
        'dma_entry_limit=9\noptions vfio_iommu_type1 dma_entry_limit=9\n')
    fixed = pci.disable_unsafe_lines('options vfio_iommu_type1 allow_unsafe_interrupts=1 dma_entry_limit=9 \\\n')
    assert pci.unsafe_option_lines(fixed) == []
    options = procfs.parse_modprobe_options(fixed, 'x.conf')
    assert [(o['option'], o['value']) for o in options] == [('dma_entry_limit', '9')]
