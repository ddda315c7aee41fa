#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_group
short_description: Manage Proxmox VE user groups
version_added: 0.1.0
description:
  - Creates, updates and deletes PVE groups (C(/access/groups)), and optionally sets their members.
  - Membership is stored with each user in PVE; M(pvelab.proxmox.pve_user) manages it from the user's side
    (its O(pvelab.proxmox.pve_user#module:groups) option), this module from the group's side.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  name:
    description:
      - The group id (letters, digits, V(.), V(-), V(_)).
    type: str
    required: true
    aliases: [groupid]
  comment:
    description:
      - Comment; V('') clears it. Not changed when not given.
    type: str
  users:
    description:
      - Members of the group, as V(name) (meaning V(name@pve)) or V(name@realm). They must exist.
      - With O(append=false) exactly these users (V([]) empties the group); with O(append=true) these are
        added and the other members are kept.
      - Not changed when not given.
    type: list
    elements: str
  append:
    description:
      - Add O(users) to the members instead of replacing them.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or updates the group; V(absent) deletes it (PVE removes it from its members and
        drops its ACL entries).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: pvelab.proxmox.pve_user
  - module: pvelab.proxmox.pve_permission
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A group for the students of a lab
  pvelab.proxmox.pve_group:
    name: netadmin-students
    comment: Students of the netadmin lab

- name: Exactly these teachers
  pvelab.proxmox.pve_group:
    name: teachers
    users: [carol, dave@pam]

- name: Remove the group
  pvelab.proxmox.pve_group:
    name: netadmin-students
    state: absent
'''

RETURN = r'''
group:
  description: The group after the task.
  returned: always
  type: dict
  contains:
    groupid:
      description: Group id.
      type: str
      sample: netadmin-students
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    comment:
      description: Comment (empty when unset).
      type: str
      sample: Students of the netadmin lab
    users:
      description: Members.
      type: list
      elements: str
      sample: [alice@pve, bob@pve]
changes:
  description: What changed - V(created), V(deleted), V(comment), V(users).
  returned: always
  type: list
  elements: str
  sample: [created]
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    parse_userid,
    split_list,
    validate_groupid,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


def parse_members(value, field):
    return sorted(set(parse_userid(u, field=field) for u in split_list(value)))


class PveGroup(PveModuleBase):
    option_checks = (('name', validate_groupid), ('users', parse_members))

    def execute(self, name, users):
        p = self.params
        groupid, wanted_users = name, users
        groups = dict((g['groupid'], g) for g in self.client.get('/access/groups'))
        current = groups.get(groupid)
        before = self.view(groupid, current)
        changes = []
        if p['state'] == 'absent':
            if current:
                changes.append('deleted')
                if not self.check_mode:
                    self.client.delete('/access/groups/{0}'.format(groupid))
            after = self.view(groupid, None)
        else:
            after = self.view(groupid, current if current is not None else {})
            members_of = {}
            if wanted_users is not None:
                # Membership lives with each user: one read gives every user's groups (and who exists).
                members_of = dict((u['userid'], sorted(split_list(u.get('groups'))))
                                  for u in self.client.get('/access/users', full=1))
                missing = [u for u in wanted_users if u not in members_of]
                if missing:
                    msg = 'user{0} {1} do{2} not exist'.format('s' if len(missing) > 1 else '', ', '.join(missing),
                                                               '' if len(missing) > 1 else 'es')
                    if not self.check_mode:
                        self.fail(msg + '; nothing was changed')
                    self.module.warn(msg + ' (check mode: an earlier task may create them)')
            if current is None:
                changes.append('created')
                after['comment'] = p['comment'] or ''
                if not self.check_mode:
                    self.client.post('/access/groups', groupid=groupid, comment=p['comment'] or None)
            elif p['comment'] is not None and p['comment'] != before['comment']:
                changes.append('comment')
                after['comment'] = p['comment']
                if not self.check_mode:
                    path = '/access/groups/{0}'.format(groupid)
                    if p['comment'] == '':
                        # PVE drops an empty form value: clearing needs a JSON body.
                        self.client.put(path, json_body=True, comment='')
                    else:
                        self.client.put(path, comment=p['comment'])
            if wanted_users is not None:
                have = set(before.get('users', []))
                add = [u for u in wanted_users if u not in have]
                remove = [] if p['append'] else sorted(have - set(wanted_users))
                if add or remove:
                    changes.append('users')
                    after['users'] = sorted((have | set(add)) - set(remove))
                    if not self.check_mode:
                        for userid in add:
                            if userid in members_of:
                                self.client.put('/access/users/{0}'.format(userid), groups=groupid, append=1)
                        for userid in remove:
                            others = [g for g in members_of.get(userid, []) if g != groupid]
                            path = '/access/users/{0}'.format(userid)
                            if others:
                                self.client.put(path, groups=','.join(others))
                            else:
                                # groups='' without append empties the memberships; only JSON keeps ''.
                                self.client.put(path, json_body=True, groups='')
        self.report_object('group', before, after, changes)

    @staticmethod
    def view(groupid, entry):
        if entry is None:
            return {'groupid': groupid, 'state': 'absent'}
        return {'groupid': groupid, 'state': 'present', 'comment': entry.get('comment') or '',
                'users': sorted(split_list(entry.get('users')))}


def main():
    module = pve_module(dict(
        name=dict(type='str', required=True, aliases=['groupid']),
        comment=dict(type='str'),
        users=dict(type='list', elements='str'),
        append=dict(type='bool', default=False),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ))
    PveGroup(module).run()


if __name__ == '__main__':
    main()
