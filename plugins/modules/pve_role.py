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
      - Mutually exclusive with O(roles); one of them is required.
    type: str
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
  roles:
    description:
      - Several roles in one run (one read of C(/access/roles) for all), each a dict with the suboptions below;
        suboptions an item leaves out take the top-level option of the same name.
      - Every role is checked before anything is written.
    type: list
    elements: dict
    suboptions:
      name:
        description: See O(name).
        type: str
        required: true
        aliases: [roleid]
      privileges:
        description: See O(privileges).
        type: list
        elements: str
        aliases: [privs]
      append:
        description: See O(append).
        type: bool
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
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

- name: The students' role, and no teachers' role, in one run
  pvelab.proxmox.pve_role:
    roles:
      - name: LabStudent
        privileges: [VM.Audit, VM.Console, VM.PowerMgmt]
      - name: LabTeacher
        state: absent
'''

RETURN = r'''
role:
  description: The role after the task (the single form, O(name)).
  returned: with O(name)
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
  returned: with O(name)
  type: list
  elements: str
  sample: [privileges]
items:
  description: One entry per role, in the order asked (also when the module fails).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The role id.
      type: str
      sample: LabStudent
    roleid:
      description: The role id.
      type: str
      sample: LabStudent
    state:
      description: V(present) or V(absent) after the run (planned in check mode).
      type: str
      sample: present
    privileges:
      description: Its privileges after the run, sorted (a present role).
      type: list
      elements: str
    changes:
      description: What changed - V(created), V(deleted), V(privileges).
      type: list
      elements: str
    changed:
      description: Whether this role changed (or would in check mode).
      type: bool
    msg:
      description: Why this role failed.
      type: str
      returned: on failure
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    split_list,
    validate_custom_role,
    validate_privileges,
    versioned_privileges,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import BulkModule, ItemSpec

SPEC = ItemSpec('roles', dict(
    name=dict(type='str', aliases=['roleid']),
    privileges=dict(type='list', elements='str', aliases=['privs']),
    append=dict(type='bool', default=False),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
), keys=['name'])


class PveRole(BulkModule):
    """Item: key = the role id, entry = the role as read; plan sets action (create | update | delete) and
    item.privs (the privileges to write, with item.append for PVE's append=1)."""

    spec = SPEC
    noun = 'role'
    nouns = 'roles'

    def validate(self, item):
        item.key = validate_custom_role(item['name'], field=item.at('name', sep=' ') if item.where else 'name')

    def resolve(self, items):
        roles = dict((r['roleid'], r) for r in self.client.get('/access/roles'))
        # The cluster's own privilege names: those of Administrator, which holds every one.
        admin = roles.get('Administrator')
        valid = split_list(admin.get('privs')) if admin else None
        errors = []
        for item in items:
            item.entry = roles.get(item.key)
            if item.entry is not None and int(item.entry.get('special') or 0):
                errors.append(item.at('name {0!r} is a built-in PVE role; built-in roles cannot be changed or '
                                      'deleted'.format(item.key)))
            item.wanted = None
            if item['state'] == 'present' and item['privileges'] is not None:
                # Privileges of one PVE release only (VM.Monitor, VM.GuestAgent.*): GET /version names the release.
                version = self.client.version if versioned_privileges(item['privileges']) else None
                try:
                    item.wanted = validate_privileges(item['privileges'], valid=valid, version=version,
                                                      field=item.at('privileges', sep=' ') if item.where
                                                      else 'privileges')
                except ValueError as exc:
                    errors.append(str(exc))
        return errors

    def plan(self, items):
        for item in items:
            item.before = self.view(item.key, item.entry)
            item.privs, item.append = None, False
            if item['state'] == 'absent':
                item.after = self.view(item.key, None)
                if item.entry is not None:
                    item.action, item.changes = 'delete', ['deleted']
                continue
            have = item.before.get('privileges', [])
            if item.entry is None:
                item.action, item.changes, item.privs = 'create', ['created'], item.wanted or []
                item.after = {'roleid': item.key, 'state': 'present', 'privileges': item.privs}
                continue
            item.after = dict(item.before)
            if item.wanted is None:
                continue
            if item['append']:
                add = [x for x in item.wanted if x not in have]
                if add:
                    item.action, item.changes, item.privs, item.append = 'update', ['privileges'], add, True
                    item.after['privileges'] = sorted(set(have) | set(add))
            elif set(item.wanted) != set(have):
                item.action, item.changes, item.privs = 'update', ['privileges'], item.wanted
                item.after['privileges'] = item.wanted

    def apply_item(self, item):
        if item.action == 'delete':
            self.client.delete('/access/roles/{0}'.format(item.key))
        elif item.action == 'create':
            self.client.post('/access/roles', roleid=item.key, privs=','.join(item.privs) if item.privs else None)
        else:
            self.client.put('/access/roles/{0}'.format(item.key), privs=','.join(item.privs),
                            append=1 if item.append else None)

    def report(self, items):
        for item in items:
            item.view = dict(item.after if item.changed else item.before, changes=list(item.changes))
        if items and items[0].single:
            # The single form keeps its own result: the role after the run and what changed.
            self.result['role'] = items[0].after
            self.result['changes'] = list(items[0].changes)
        super().report(items)
        if items and items[0].single and not items[0].changed:
            self.diff = {'before': {}, 'after': {}}

    @staticmethod
    def view(roleid, entry):
        if entry is None:
            return {'roleid': roleid, 'state': 'absent'}
        return {'roleid': roleid, 'state': 'present', 'privileges': sorted(split_list(entry.get('privs')))}


def main():
    PveRole.main()


if __name__ == '__main__':
    main()
