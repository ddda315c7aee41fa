#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_role
short_description: Manage custom Proxmox VE roles
version_added: 0.1.0
description:
  - Creates, updates and deletes custom roles (C(/access/roles)) as lists of privileges.
  - Every privilege is checked before anything is written, against the privileges the cluster itself
    knows (those of its V(Administrator) role), so a typo fails with the valid names listed.
  - PVE's built-in roles (V(Administrator), V(NoAccess), the V(PVE...) roles) cannot be changed, and custom
    role ids may not start with V(PVE); the module refuses both.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  name:
    description:
      - The role id (letters, digits, V(.), V(-), V(_); not starting with V(PVE) in any case).
    type: str
    required: true
    aliases: [roleid]
  privileges:
    description:
      - Privileges of the role, for example V(VM.Console), V(VM.PowerMgmt), V(VM.Audit).
      - With O(append=false) exactly these (V([]) leaves the role without privileges); with O(append=true)
        these are added and the others kept.
      - Not changed when not given (a new role then has no privileges).
      - The names follow the cluster's Proxmox VE release - V(VM.Monitor) on PVE 8, V(VM.GuestAgent.Audit) and the
        other V(VM.GuestAgent.*) privileges and V(VM.Replicate) on PVE 9; the other release's names are refused
        before anything is written.
    type: list
    elements: str
    aliases: [privs]
  append:
    description:
      - Add O(privileges) to the role instead of replacing its privileges.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or updates the role; V(absent) deletes it (PVE drops its ACL entries too).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: pvelab.proxmox.pve_permission
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: What a student may do with their own VM
  pvelab.proxmox.pve_role:
    name: LabStudent
    privileges: [VM.Audit, VM.Console, VM.PowerMgmt, VM.Config.CDROM]

- name: Also let them take snapshots
  pvelab.proxmox.pve_role:
    name: LabStudent
    privileges: [VM.Snapshot, VM.Snapshot.Rollback]
    append: true

- name: Remove the role
  pvelab.proxmox.pve_role:
    name: LabStudent
    state: absent
'''

RETURN = r'''
role:
  description: The role after the task.
  returned: always
  type: dict
  contains:
    roleid:
      description: Role id.
      type: str
      sample: LabStudent
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    privileges:
      description: Privileges, sorted.
      type: list
      elements: str
      sample: [VM.Audit, VM.Console, VM.PowerMgmt]
changes:
  description: What changed - V(created), V(deleted), V(privileges).
  returned: always
  type: list
  elements: str
  sample: [privileges]
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    split_list,
    validate_custom_role,
    validate_privileges,
    versioned_privileges,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


class PveRole(PveModuleBase):
    option_checks = (('name', validate_custom_role),)

    def execute(self, name):
        p = self.params
        roleid = name
        roles = dict((r['roleid'], r) for r in self.client.get('/access/roles'))
        current = roles.get(roleid)
        if current is not None and int(current.get('special') or 0):
            self.fail('name {0!r} is a built-in PVE role; built-in roles cannot be changed or deleted'.format(roleid))
        before = self.view(roleid, current)
        changes = []
        if p['state'] == 'absent':
            after = self.view(roleid, None)
            if current is not None:
                changes.append('deleted')
                if not self.check_mode:
                    self.client.delete('/access/roles/{0}'.format(roleid))
        else:
            # The cluster's own privilege names: those of Administrator, which holds every one.
            admin = roles.get('Administrator')
            valid = split_list(admin.get('privs')) if admin else None
            wanted = None
            if p['privileges'] is not None:
                # Privileges of one PVE release only (VM.Monitor, VM.GuestAgent.*): GET /version names the release.
                version = self.client.version if versioned_privileges(p['privileges']) else None
                with self.checked_input():
                    wanted = validate_privileges(p['privileges'], valid=valid, field='privileges', version=version)
            have = before.get('privileges', [])
            if current is None:
                changes.append('created')
                after = {'roleid': roleid, 'state': 'present', 'privileges': wanted or []}
                if not self.check_mode:
                    self.client.post('/access/roles', roleid=roleid, privs=','.join(wanted) if wanted else None)
            else:
                after = dict(before)
                if wanted is not None:
                    if p['append']:
                        add = [x for x in wanted if x not in have]
                        if add:
                            changes.append('privileges')
                            after['privileges'] = sorted(set(have) | set(add))
                            if not self.check_mode:
                                self.client.put('/access/roles/{0}'.format(roleid), privs=','.join(add), append=1)
                    elif set(wanted) != set(have):
                        changes.append('privileges')
                        after['privileges'] = wanted
                        if not self.check_mode:
                            self.client.put('/access/roles/{0}'.format(roleid), privs=','.join(wanted))
        self.report_object('role', before, after, changes)

    @staticmethod
    def view(roleid, entry):
        if entry is None:
            return {'roleid': roleid, 'state': 'absent'}
        return {'roleid': roleid, 'state': 'present', 'privileges': sorted(split_list(entry.get('privs')))}


def main():
    module = pve_module(dict(
        name=dict(type='str', required=True, aliases=['roleid']),
        privileges=dict(type='list', elements='str', aliases=['privs']),
        append=dict(type='bool', default=False),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ))
    PveRole(module).run()


if __name__ == '__main__':
    main()
