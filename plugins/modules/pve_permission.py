#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_permission
short_description: Manage Proxmox VE permissions (ACL entries), one path or hundreds per task
version_added: 0.1.0
description:
  - Grants and removes roles on an ACL path (C(/access/acl)) for users, groups and API tokens.
  - Give one statement with O(path), or many with O(entries). Either way the module reads the ACL once
    (C(GET /access/acl)), works out every change, and makes them with as few C(PUT /access/acl) calls as PVE
    allows (one per path, propagate flag and set of roles, however many users share it).
  - Changing O(propagate) of an existing entry (also from V(true) to V(false)) replaces the entry.
  - O(state=absent) removes only the entries it names; O(exclusive=true) is the one way to remove entries
    the task does not name, and only on the paths it names.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  path:
    description:
      - The ACL path, in one of PVE's forms - V(/), V(/vms), V(/vms/{vmid}), V(/pool/{pool}), V(/nodes/{node}),
        V(/storage/{storage}), V(/access), V(/access/groups/{group}), V(/access/realm/{realm}), V(/sdn/...),
        V(/mapping/{type}/{id}).
      - A trailing V(/) is dropped; empty segments, V(.) and V(..) are refused.
      - V(/sdn/fabrics) (PVE 9.0 and later), V(/sdn/prefix-lists) and V(/sdn/route-maps) (PVE 9.1 and later) are
        refused on older Proxmox VE releases before anything is read or written.
      - Mutually exclusive with O(entries); one of them is required.
    type: str
  roles:
    description:
      - Roles to grant or remove, for example V(PVEVMUser). They must exist.
      - Required with O(state=present). With O(state=absent) and no roles, every role the named users,
        groups and tokens hold on O(path) is removed.
      - With O(entries), the roles of items that give none.
    type: list
    elements: str
  users:
    description:
      - Users, as V(name) (meaning V(name@pve)) or V(name@realm).
    type: list
    elements: str
  groups:
    description:
      - Groups.
    type: list
    elements: str
  tokens:
    description:
      - API tokens, as V(user@realm!name) (V(user!name) means V(user@pve!name)).
    type: list
    elements: str
  propagate:
    description:
      - Whether the roles also apply below O(path) (to every VM under V(/vms), for example).
      - With O(entries), the value for items that do not set it.
    type: bool
    default: true
  exclusive:
    description:
      - With O(state=present), make the given entries the only ones on O(path) - every other user, group and
        token entry there is removed. Other paths are never touched.
    type: bool
    default: false
  state:
    description:
      - V(present) grants the roles, V(absent) removes them.
      - With O(entries), the state of items that do not set one.
    type: str
    choices: [present, absent]
    default: present
  entries:
    description:
      - Many statements in one run, applied in order to the ACL as read; each is a dict with the suboptions
        below. At least one of O(entries[].users), O(entries[].groups) and O(entries[].tokens) per item.
      - When several items name one path and one of them has O(entries[].exclusive=true), what all the
        O(state=present) items name on that path stays and everything else there goes.
    type: list
    elements: dict
    suboptions:
      path:
        description: The ACL path (see O(path)).
        type: str
        required: true
      roles:
        description: Roles (see O(roles)); defaults to the top-level O(roles).
        type: list
        elements: str
      users:
        description: Users (see O(users)).
        type: list
        elements: str
      groups:
        description: Groups.
        type: list
        elements: str
      tokens:
        description: API tokens (see O(tokens)).
        type: list
        elements: str
      propagate:
        description: See O(propagate); defaults to the top-level value.
        type: bool
      exclusive:
        description: See O(exclusive); V(false) when not given.
        type: bool
      state:
        description: See O(state); defaults to the top-level value.
        type: str
        choices: [present, absent]
notes:
  - Users, groups, tokens and roles named by O(state=present) statements must exist; the module checks
    that (and every path and name) before it writes anything. In check mode a missing one is only a
    warning, since an earlier task of the same check run may be the one that creates it.
  - The module reads C(/access/acl) once, and C(/access/roles), C(/access/users) and C(/access/groups) once
    each when an entry has to be granted (an entry already there needs no check).
seealso:
  - module: pvelab.proxmox.pve_user
  - module: pvelab.proxmox.pve_role
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Give alice her VM
  pvelab.proxmox.pve_permission:
    path: /vms/{{ alice_vmid }}
    roles: [PVEVMUser]
    users: [alice]

- name: Every student their own VM, in one run (one PUT per VM)
  pvelab.proxmox.pve_permission:
    roles: [PVEVMUser]
    entries:
      - {path: /vms/201, users: [alice]}
      - {path: /vms/202, users: [bob]}

- name: Teachers audit everything, but only on / (not inherited)
  pvelab.proxmox.pve_permission:
    path: /
    roles: [PVEAuditor]
    groups: [teachers]
    propagate: false

- name: The lab pool belongs to the teachers group and nobody else
  pvelab.proxmox.pve_permission:
    path: /pool/netadmin
    roles: [PVEVMAdmin]
    groups: [teachers]
    exclusive: true

- name: Take bob's VM away again (his other entries stay)
  pvelab.proxmox.pve_permission:
    path: /vms/202
    users: [bob]
    state: absent
'''

RETURN = r'''
changes:
  description: The entry changes made (or, in check mode, that would be made), in the order made.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: V(add), V(update) (propagate changed) or V(remove).
      type: str
      sample: add
    path:
      description: ACL path.
      type: str
      sample: /vms/201
    type:
      description: V(user), V(group) or V(token).
      type: str
      sample: user
    ugid:
      description: User id, group id or full token id.
      type: str
      sample: alice@pve
    roleid:
      description: Role.
      type: str
      sample: PVEVMUser
    propagate:
      description: Propagate flag of the entry (after an add or update, before a removal).
      type: bool
      sample: true
acl:
  description: Every entry on the paths the task names, after the task.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: ACL path.
      type: str
      sample: /vms/201
    type:
      description: V(user), V(group) or V(token).
      type: str
      sample: user
    ugid:
      description: User id, group id or full token id.
      type: str
      sample: alice@pve
    roleid:
      description: Role.
      type: str
      sample: PVEVMUser
    propagate:
      description: Whether the role applies below the path too.
      type: bool
      sample: true
items:
  description:
    - One result per statement, in the order of O(entries) (the single form, O(path), gives one).
    - This replaced the result C(entries) of the list form in this 0.x release; the entries are the same, with
      RV(items[].key) added.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description:
        - "What names the statement, C(<path> <principals> <roles>): the normalised path; the groups, tokens and
          users (in that order, comma-separated) as PVE's user.cfg writes them, a group with a leading C(@), a token
          as C(user@realm!name); the roles, comma-separated. An O(state=absent) statement without roles has no
          roles part."
        - Two statements that name the same entries share a key.
      type: str
      sample: /vms/201 @teachers,alice@pve PVEVMUser
    path:
      description: The item's path, normalised.
      type: str
      sample: /vms/201
    state:
      description: The item's state.
      type: str
      sample: present
    changed:
      description: Whether an entry this item names (or, with exclusive, any entry on its path) changed.
      type: bool
      sample: true
api_calls:
  description: How many C(PUT /access/acl) calls the changes took (or would take).
  returned: always
  type: int
  sample: 1
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    acl_calls,
    acl_from_api,
    acl_path_since,
    acl_view,
    check_acl_path_release,
    diff_acl,
    parse_acl_spec,
    plan_acl,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import BulkModule, ItemSpec, parallel_map

# How many PUT /access/acl calls are in flight at once.
WORKERS = 4

PRINCIPALS = ('users', 'groups', 'tokens')


class AclSpec(ItemSpec):
    """An ACL statement. The principals (and exclusive) belong to one statement: beside O(entries) they are refused
    with this module's own words, and an empty list there is no principal (as before the engine)."""

    def items(self, params):
        if params.get(self.list_name) is not None:
            stray = [k for k in PRINCIPALS if params.get(k)]
            if stray or params.get('exclusive'):
                raise ValueError('{0} belong{1} in the items of {2}, not beside them'.format(
                    ', '.join(stray + (['exclusive'] if params.get('exclusive') else [])),
                    's' if len(stray) < 2 else '', self.list_name))
            params = dict(params, **dict((k, None) for k in PRINCIPALS))
        return super(AclSpec, self).items(params)


SPEC = AclSpec('entries', dict(
    path=dict(type='str'),
    roles=dict(type='list', elements='str'),
    users=dict(type='list', elements='str'),
    groups=dict(type='list', elements='str'),
    tokens=dict(type='list', elements='str', no_log=False),
    propagate=dict(type='bool', default=True),
    exclusive=dict(type='bool', default=False),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
), keys=['path'], per_item=PRINCIPALS)


def entry_text(entry):
    return '{type} {ugid} {roleid}{flag}'.format(flag='' if entry['propagate'] else ' (no propagate)', **entry)


def statement_key(spec):
    """'<path> <principals> <roles>': the principals as user.cfg writes them (a group with '@', a token as
    user@realm!name), the roles left out when an absent statement names none (it removes all of them)."""
    principals = ','.join(('@' + ugid) if kind == 'group' else ugid for kind, ugid in spec['principals'])
    return ' '.join([spec['path'], principals] + ([','.join(spec['roles'])] if spec['roles'] else []))


def is_mine(spec, change):
    """Whether an entry change comes from this statement: an entry it names, or, with exclusive, any on its path."""
    if change['path'] != spec['path']:
        return False
    if spec['exclusive']:
        return True
    return (change['type'], change['ugid']) in set(spec['principals']) and \
        (not spec['roles'] or change['roleid'] in spec['roles'])


class PvePermission(BulkModule):
    """Item: one statement, item.spec as parse_acl_spec() gives it; the whole ACL is planned at once (the
    statements apply in order), so resolve() plans it and apply() makes the batched PUTs of every item."""

    spec = SPEC
    noun = 'entry'
    nouns = 'entries'

    def validate(self, item):
        item.spec = parse_acl_spec(item.values, field=item.where)

    def resolve(self, items):
        # Paths only newer PVE releases take (/sdn/fabrics, ...): GET /version, only when one is granted on.
        newer = [i for i in items if i.spec['state'] == 'present' and acl_path_since(i.spec['path'])]
        errors = []
        if newer:
            version = self.client.version
            for item in newer:
                try:
                    check_acl_path_release(item.spec['path'], version, field=item.at('path', sep=' '))
                except ValueError as exc:
                    errors.append(str(exc))
        if errors:
            return errors
        self.current = acl_from_api(self.client.get('/access/acl'))
        self.target = plan_acl(self.current, [i.spec for i in items])
        self.acl_changes = diff_acl(self.current, self.target)
        self.calls = acl_calls(self.acl_changes)
        return self.check_names(self.acl_changes)

    def check_names(self, changes):
        """Roles, users, groups and tokens that the grants name must exist: one read of each kind needed.

        Only grants are checked: an entry already in the ACL names things that exist (PVE drops the entries
        of a deleted user, group, token or role), so a run with nothing to grant reads nothing more.
        """
        want = {'role': set(), 'user': set(), 'group': set(), 'token': set()}
        for change in changes:
            if change['action'] != 'remove':
                want['role'].add(change['roleid'])
                want[change['type']].add(change['ugid'])
        missing = []
        if want['role']:
            have = set(r['roleid'] for r in self.client.get('/access/roles'))
            missing += ['role ' + r for r in sorted(want['role'] - have)]
        if want['user'] or want['token']:
            users = self.client.get('/access/users', full=1 if want['token'] else 0)
            have = set(u['userid'] for u in users)
            missing += ['user ' + u for u in sorted(want['user'] - have)]
            tokens = set('{0}!{1}'.format(u['userid'], t.get('tokenid')) for u in users for t in (u.get('tokens') or []))
            missing += ['token ' + t for t in sorted(want['token'] - tokens)]
        if want['group']:
            have = set(g['groupid'] for g in self.client.get('/access/groups'))
            missing += ['group ' + g for g in sorted(want['group'] - have)]
        if not missing:
            return []
        msg = 'these do not exist: {0}'.format(', '.join(missing))
        if not self.check_mode:
            return [msg]
        self.module.warn(msg + ' (check mode: an earlier task may create them)')
        return []

    def plan(self, items):
        for item in items:
            item.key = statement_key(item.spec)
            item.view = {'path': item.spec['path'], 'state': item.spec['state']}
            item.changes = [c for c in self.acl_changes if is_mine(item.spec, c)]
            item.action = 'acl' if item.changes else None

    def put(self, call):
        # request(), not put(): the ACL's own 'path' parameter would clash with put()'s first argument.
        self.client.request('PUT', '/access/acl', call, idempotent=True)

    def apply(self, items):
        """The few PUTs of the whole ACL change (one per path, propagate flag and set of roles), not one per item:
        grants before removals, so replacing one entry by another never leaves a gap."""
        for batch in ([c for c in self.calls if not c.get('delete')], [c for c in self.calls if c.get('delete')]):
            errors = [error for _call, _result, error in parallel_map(self.put, batch, WORKERS) if error]
            if errors:
                self.result['changes'] = self.acl_changes
                self.changed()
                self.fail('{0} (some of the {1} ACL changes may have been made; run again to finish)'.format(
                    errors[0], len(self.acl_changes)))

    def report(self, items):
        super(PvePermission, self).report(items)
        changes = self.acl_changes
        self.changed(bool(changes))
        self.result['changes'] = changes
        self.result['acl'] = acl_view(self.target, set(i.spec['path'] for i in items))
        self.result['api_calls'] = len(self.calls)
        self.diff = {'before': {}, 'after': {}}
        if changes:
            touched = sorted(set(c['path'] for c in changes))
            self.diff = {
                'before': dict((p, [entry_text(e) for e in acl_view(self.current, [p])]) for p in touched),
                'after': dict((p, [entry_text(e) for e in acl_view(self.target, [p])]) for p in touched),
            }


def main():
    PvePermission.main()


if __name__ == '__main__':
    main()
