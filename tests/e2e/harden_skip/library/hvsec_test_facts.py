# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test stand-in for hvsec.hypervisor.hypervisor_facts: returns the given facts as ansible_facts.hvsec."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(facts=dict(type='dict', required=True)), supports_check_mode=True)
    module.exit_json(changed=False, ansible_facts={'hvsec': module.params['facts']})


if __name__ == '__main__':
    main()
