#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_user
short_description: Manage Proxmox VE user accounts, one or hundreds per task
version_added: 0.1.0
description:
  - Creates, updates and deletes PVE users (C(/access/users)), with their password, groups, e-mail, names,
    comment, two-factor keys, enable flag and expiry.
  - Give one account with O(userid), or many with O(users). Either way the module reads the user list once
    (C(GET /access/users?full=1)) and writes only what differs, several accounts at a time.
  - The password is never returned, logged or shown in a diff.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  userid:
    description:
      - The user, as V(name) or V(name@realm). Without a realm the V(pve) realm is meant (the only realm whose
        passwords PVE stores), so V(alice) is V(alice@pve).
      - Users of the V(pam) realm are Linux accounts of the nodes; this module updates existing ones but does
        not create them.
      - Mutually exclusive with O(users); one of them is required.
    type: str
    aliases: [name]
  password:
    description:
      - Password of the user (V(pve) realm only), 8 to 64 characters (PVE's rule since 8.3).
      - Set on creation; on later runs only with O(update_password=always).
      - Not allowed at the top level together with O(users); give it per item there.
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the module creates the user.
      - V(always) makes sure the user's password is O(password) on every run. To stay idempotent the module
        first logs in as the user with O(password) (see O(verify_password)); only when PVE refuses that
        login does it set the password and report a change.
      - PVE refuses every login of a disabled or expired account, so for such an account the check cannot
        tell, and the password is set (and a change reported) on every run.
      - Changing the password of an existing user needs a password login (O(api_password)); PVE does not let
        API tokens change passwords. With an O(api_user) other than V(root@pam), O(api_password) is sent as
        PVE's C(confirmation-password).
    type: str
    choices: [on_create, always]
    default: on_create
  verify_password:
    description:
      - With O(update_password=always), whether to check the password by logging in as the user first.
      - The trade-off, on a real PVE, for each password that is NOT yet right, PVE answers the refused login
        after a deliberate 3 second delay (checks run in parallel), writes an C(authentication failure) line
        to the journal of C(pvedaemon), and, where an administrator set up fail2ban on that line, the
        controller's address may be banned after a few refused logins. A right password costs one
        successful login and nothing else.
      - V(false) skips the login and sets the password on every run, always reporting a change (what
        community.proxmox's proxmox_user does).
    type: bool
    default: true
  enable:
    description:
      - Whether the account may log in.
    type: bool
    default: true
  expire:
    description:
      - When the account expires, as a date V(YYYY-MM-DD) (00:00 UTC of that day) or as seconds since the
        epoch. V(0) or V(never) means it never expires.
      - Not changed when not given.
    type: str
  groups:
    description:
      - Groups the user belongs to. They must exist (see M(pvelab.proxmox.pve_group)).
      - With O(append=false) exactly these groups (V([]) removes the user from every group); with
        O(append=true) these are added and other memberships are kept.
      - Not changed when not given.
    type: list
    elements: str
  append:
    description:
      - Add O(groups) to the user's groups instead of replacing them.
    type: bool
    default: false
  email:
    description:
      - E-mail address; V('') clears it. Not changed when not given.
    type: str
  firstname:
    description:
      - First name; V('') clears it. Not changed when not given.
    type: str
  lastname:
    description:
      - Last name; V('') clears it. Not changed when not given.
    type: str
  comment:
    description:
      - Comment; V('') clears it. Not changed when not given.
    type: str
  keys:
    description:
      - Keys for two-factor authentication (Yubico), as PVE stores them. Not changed when not given.
    type: str
  state:
    description:
      - V(present) creates or updates the user, V(absent) deletes it (PVE also removes its ACL entries and
        API tokens).
    type: str
    choices: [present, absent]
    default: present
  users:
    description:
      - Many users in one run, each a dict with the suboptions below.
      - Suboptions an item leaves out take the value of the top-level option of the same name (for example
        O(update_password), O(groups) or O(state) for every item at once), except O(password).
      - Every account is checked before anything is written; accounts are then created and updated in
        parallel, and one failing account does not stop the others (the task fails at the end, naming it).
    type: list
    elements: dict
    suboptions:
      userid:
        description: The user, V(name) or V(name@realm) (see O(userid)).
        type: str
        required: true
        aliases: [name]
      password:
        description: Password of the user (see O(password)).
        type: str
      update_password:
        description: See O(update_password).
        type: str
        choices: [on_create, always]
      verify_password:
        description: See O(verify_password).
        type: bool
      enable:
        description: See O(enable).
        type: bool
      expire:
        description: See O(expire).
        type: str
      groups:
        description: See O(groups).
        type: list
        elements: str
      append:
        description: See O(append).
        type: bool
      email:
        description: See O(email).
        type: str
      firstname:
        description: See O(firstname).
        type: str
      lastname:
        description: See O(lastname).
        type: str
      comment:
        description: See O(comment).
        type: str
      keys:
        description: See O(keys).
        type: str
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
notes:
  - The module talks only to the PVE API; run it on the controller (it is usually in a play on C(localhost)).
  - In check mode the login check of O(verify_password) still runs (it changes nothing), so the prediction is
    exact.
seealso:
  - module: pvelab.proxmox.pve_group
  - module: pvelab.proxmox.pve_permission
  - module: pvelab.proxmox.pve_user_ticket
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A student account
  pvelab.proxmox.pve_user:
    userid: alice            # alice@pve
    password: "{{ alice_password }}"
    email: alice@example.org
    groups: [students]
    comment: netadmin lab

- name: A whole class in one run; passwords kept right on every run
  pvelab.proxmox.pve_user:
    update_password: always
    groups: [students]
    users: "{{ students | map('combine', {'comment': 'netadmin'}) | list }}"

- name: Lock an account until the next term
  pvelab.proxmox.pve_user:
    userid: bob@pve
    enable: false
    expire: "2030-09-01"

- name: Remove a student
  pvelab.proxmox.pve_user:
    userid: alice
    state: absent
'''

RETURN = r'''
user:
  description: The account after the task (single form, O(userid)); never holds a password.
  returned: when O(userid) is given
  type: dict
  contains:
    userid:
      description: Full user id.
      type: str
      sample: alice@pve
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    enable:
      description: Whether the account may log in.
      type: bool
      sample: true
    expire:
      description: Expiry in seconds since the epoch, 0 for never.
      type: int
      sample: 0
    groups:
      description: Groups of the user.
      type: list
      elements: str
      sample: [students]
    email:
      description: E-mail address (empty when unset).
      type: str
      sample: alice@example.org
    firstname:
      description: First name.
      type: str
      sample: Alice
    lastname:
      description: Last name.
      type: str
      sample: Liddell
    comment:
      description: Comment.
      type: str
      sample: netadmin lab
    keys:
      description: Two-factor keys as PVE stores them.
      type: str
      sample: ''
    tokens:
      description: Names of the user's API tokens.
      type: list
      elements: str
      sample: [ci]
changes:
  description:
    - What the task changed (or would change in check mode) for O(userid) - V(created), V(deleted), or
      the names of the changed fields, V(password) included.
  returned: when O(userid) is given
  type: list
  elements: str
  sample: [groups, password]
users:
  description: One result per item of O(users), in the same order.
  returned: when O(users) is given
  type: list
  elements: dict
  contains:
    userid:
      description: Full user id.
      type: str
      sample: alice@pve
    state:
      description: V(present) or V(absent), as asked.
      type: str
      sample: present
    changed:
      description: Whether this account changed (or would in check mode).
      type: bool
      sample: true
    changes:
      description: V(created), V(deleted), or the names of the changed fields.
      type: list
      elements: str
      sample: [created]
    failed:
      description: Whether writing this account failed; RV(users[].msg) says why.
      type: bool
      sample: false
    msg:
      description: The error, when RV(users[].failed).
      type: str
      returned: when writing this account failed
'''

import re
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    DEFAULT_REALM,
    TEXT_FIELDS,
    confirmation_password_accepted,
    has_empty,
    parse_expire,
    parse_userid,
    password_works,
    realm_of,
    split_list,
    user_after,
    user_from_api,
    user_update,
    validate_groupid,
    validate_password,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module

# How many accounts are written (or their passwords checked) at once. PVE serialises user.cfg writes
# behind one lock anyway; more threads mostly help the password checks, which real PVE answers after a
# 3 second delay when the password is not (yet) right.
MAX_WORKERS = 8

# PVE's user-keys pattern and email-opt format (pve-common ParseUtils EMAIL_RE).
KEYS_RE = re.compile(r'^[0-9a-zA-Z!=]{0,4096}$')
EMAIL_RE = re.compile(r'^[\w+\-~]+(?:\.[\w+\-~]+)*@[a-zA-Z0-9\-]+(?:\.[a-zA-Z0-9\-]+)*$')

ITEM_KEYS = ('userid', 'password', 'update_password', 'verify_password', 'enable', 'expire', 'groups', 'append',
             'email', 'firstname', 'lastname', 'comment', 'keys', 'state')
INHERITED = tuple(k for k in ITEM_KEYS if k not in ('userid', 'password'))


class Plan(object):
    """What one account needs: the item as asked, the account as read, and the calls to make."""

    def __init__(self, index, item, userid):
        self.index = index
        self.item = item
        self.userid = userid
        self.current = None
        self.action = None        # create | update | delete | None
        self.create = None        # POST params (password included)
        self.update = {}          # PUT params
        self.changes = []
        self.password = None      # None | 'set' | 'check'
        self.error = None

    def result(self):
        res = {'userid': self.userid, 'state': self.item['state'], 'changed': bool(self.changes),
               'changes': list(self.changes), 'failed': bool(self.error)}
        if self.error:
            res['msg'] = self.error
        return res


def usable(view):
    """Whether PVE lets the account log in at all (enabled, not expired)."""
    return bool(view['enable']) and not (view['expire'] and view['expire'] < time.time())


class PveUser(PveModuleBase):

    # ------------------------------------------------------------ input

    def items(self):
        p = self.params
        if p['users'] is None:
            return [dict((k, p[k]) for k in ITEM_KEYS)]
        if p['password'] is not None:
            self.fail('password applies to one account: give it per item of users')
        items = []
        for raw in p['users']:
            item = dict(raw)
            for key in INHERITED:
                if item.get(key) is None:
                    item[key] = p[key]
            items.append(item)
        return items

    def validate(self, items):
        """Every item checked before anything is read or written; returns Plans."""
        plans, errors, seen = [], [], {}
        for index, item in enumerate(items):
            where = 'users[{0}]'.format(index) if self.params['users'] is not None else 'userid'
            try:
                userid = parse_userid(item['userid'], field=where)
                plan = Plan(index, item, userid)
                if userid in seen:
                    raise ValueError('{0}: {1} is also given as users[{2}]'.format(where, userid, seen[userid]))
                seen[userid] = index
                if item['state'] == 'present':
                    self.validate_present(item, userid, where)
                plans.append(plan)
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            self.fail('; '.join(errors))
        return plans

    def validate_present(self, item, userid, where):
        if item['password'] is not None:
            if realm_of(userid) != DEFAULT_REALM:
                raise ValueError('{0} {1}: PVE sets passwords only for the pve realm; users of other realms '
                                 'log in with their realm\'s own password'.format(where, userid))
            validate_password(item['password'], field='{0} {1} password'.format(where, userid))
        item['expire'] = parse_expire(item['expire'], field='{0} {1} expire'.format(where, userid))
        if item['groups'] is not None:
            item['groups'] = sorted(set(validate_groupid(g, field='{0} {1} groups'.format(where, userid))
                                        for g in split_list(item['groups'])))
        if item['keys'] is not None and not KEYS_RE.match(item['keys']):
            raise ValueError('{0} {1} keys: only letters, digits, "!" and "=" are allowed'.format(where, userid))
        if item['email'] and not EMAIL_RE.match(item['email']):
            raise ValueError('{0} {1} email {2!r} does not look like an e-mail address'.format(
                where, userid, item['email']))
        for field in ('firstname', 'lastname'):
            if item[field] is not None and len(item[field]) > 1024:
                raise ValueError('{0} {1} {2} is longer than 1024 characters'.format(where, userid, field))
        if item['comment'] is not None and len(item['comment']) > 2048:
            raise ValueError('{0} {1} comment is longer than 2048 characters'.format(where, userid))

    # ------------------------------------------------------------ plan

    def plan(self, plans):
        users = dict((u['userid'], user_from_api(u)) for u in self.client.get('/access/users', full=1))
        wanted_groups = set(g for p in plans if p.item['state'] == 'present' for g in (p.item['groups'] or []))
        if wanted_groups:
            existing = set(g['groupid'] for g in self.client.get('/access/groups'))
            missing = sorted(wanted_groups - existing)
            if missing:
                msg = 'group{0} {1} do{2} not exist (create {3} with pvelab.proxmox.pve_group first); asked for ' \
                      'by {4}'.format('s' if len(missing) > 1 else '', ', '.join(missing),
                                      '' if len(missing) > 1 else 'es', 'them' if len(missing) > 1 else 'it',
                                      ', '.join(p.userid for p in plans if set(p.item['groups'] or []) & set(missing)))
                if not self.check_mode:
                    self.fail(msg)
                self.module.warn(msg + ' - in check mode this only warns, as an earlier task may create them')
        errors = []
        for plan in plans:
            plan.current = users.get(plan.userid)
            item = plan.item
            if item['state'] == 'absent':
                if plan.current:
                    plan.action = 'delete'
                    plan.changes = ['deleted']
                continue
            wanted = dict((f, item[f]) for f in ('enable', 'expire', 'groups') + TEXT_FIELDS)
            if plan.current is None:
                if realm_of(plan.userid) == 'pam':
                    errors.append('{0}: pam users are Linux accounts of the nodes; this module does not create them '
                                  '(create the Linux user on every node, or use the pve realm: {1})'.format(
                                      plan.userid, plan.userid.rsplit('@', 1)[0]))
                    continue
                params = dict((k, v) for k, v in wanted.items() if v not in (None, '', []))
                params['enable'] = bool(item['enable'])
                if item['password'] is not None:
                    params['password'] = item['password']
                plan.action = 'create'
                plan.create = params
                plan.changes = ['created']
                continue
            plan.update, plan.changes = user_update(plan.current, wanted, append=bool(item['append']))
            if plan.update:
                plan.action = 'update'
            if item['password'] is not None and item['update_password'] == 'always':
                plan.password = 'check' if item['verify_password'] else 'set'
        if errors:
            self.fail('; '.join(errors))

    # ------------------------------------------------------------ apply

    def password_right(self, plan, view):
        """Whether the user can already log in with the password (False when PVE cannot tell)."""
        if plan.password != 'check' or not usable(view):
            return False
        return password_works(self.params, plan.userid, plan.item['password'])

    def set_password(self, userid, password):
        data = {'userid': userid, 'password': password}
        if self.params.get('api_token_secret'):
            raise PveError('{0}: changing the password of an existing user needs a password login (api_password); '
                           'PVE does not let API tokens change passwords'.format(userid))
        if self.client.user != 'root@pam' and confirmation_password_accepted(self.client.version):
            data['confirmation-password'] = self.params.get('api_password')
        self.client.put('/access/password', **data)

    def apply(self, plan):
        """Carry out one plan (runs in a worker thread); errors are kept on the plan."""
        try:
            if plan.action == 'delete':
                if not self.check_mode:
                    self.client.delete('/access/users/{0}'.format(plan.userid))
                return
            if plan.action == 'create':
                if not self.check_mode:
                    self.client.post('/access/users', userid=plan.userid, **plan.create)
                return
            if plan.action == 'update' and not self.check_mode:
                path = '/access/users/{0}'.format(plan.userid)
                if has_empty(plan.update):
                    # Clearing a field (or every group) needs a JSON body: PVE drops empty form values.
                    self.client.put(path, json_body=True, **plan.update)
                else:
                    self.client.put(path, **plan.update)
            if plan.password:
                # In check mode nothing was written: judge by the account as it is now.
                view = plan.current if self.check_mode else user_after(plan.current, plan.update)
                if not self.password_right(plan, view):
                    if not self.check_mode:
                        self.set_password(plan.userid, plan.item['password'])
                    plan.changes.append('password')
        except PveError as exc:
            # name the account: POST /access/users does not have it in its path
            plan.error = str(exc) if str(exc).startswith(plan.userid) else '{0}: {1}'.format(plan.userid, exc)

    def execute(self):
        plans = self.validate(self.items())
        self.plan(plans)
        todo = [p for p in plans if p.action or p.password]
        if len(todo) == 1:
            self.apply(todo[0])
        elif todo:
            with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(todo))) as pool:
                list(pool.map(self.apply, todo))
        self.changed(any(p.changes for p in plans))
        self.report(plans)
        failed = [p for p in plans if p.error]
        if failed:
            self.fail('{0} of {1} account{2} failed: {3}'.format(
                len(failed), len(plans), 's' if len(plans) > 1 else '', '; '.join(p.error for p in failed)))

    # ------------------------------------------------------------ output

    @staticmethod
    def view(plan, data):
        if data is None:
            return {'userid': plan.userid, 'state': 'absent'}
        return dict(data, state='present')

    def after_of(self, plan):
        if plan.action == 'delete' or plan.item['state'] == 'absent':
            return None
        if plan.error:
            return plan.current
        if plan.action == 'create':
            c = plan.create
            return {'userid': plan.userid, 'enable': bool(c.get('enable', True)), 'expire': int(c.get('expire') or 0),
                    'groups': sorted(c.get('groups') or []), 'email': c.get('email', ''),
                    'firstname': c.get('firstname', ''), 'lastname': c.get('lastname', ''),
                    'comment': c.get('comment', ''), 'keys': c.get('keys', ''), 'tokens': []}
        return user_after(plan.current, plan.update)

    def report(self, plans):
        before, after = {}, {}
        for plan in plans:
            if plan.changes:
                b = self.view(plan, plan.current)
                a = self.view(plan, self.after_of(plan))
                if 'password' in plan.changes:
                    # A marker only: the password itself never reaches the diff.
                    b = dict(b, password='(previous)')
                    a = dict(a, password='(new)')
                before[plan.userid], after[plan.userid] = b, a
        if self.params['users'] is None:
            plan = plans[0]
            self.result['user'] = self.view(plan, self.after_of(plan))
            self.result['changes'] = list(plan.changes)
            if plan.changes:
                self.diff = {'before': before[plan.userid], 'after': after[plan.userid]}
        else:
            self.result['users'] = [p.result() for p in plans]
            if before or after:
                self.diff = {'before': before, 'after': after}


def item_options():
    return dict(
        userid=dict(type='str', required=True, aliases=['name']),
        password=dict(type='str', no_log=True),
        update_password=dict(type='str', choices=['on_create', 'always'], no_log=False),
        verify_password=dict(type='bool', no_log=False),
        enable=dict(type='bool'),
        expire=dict(type='str'),
        groups=dict(type='list', elements='str'),
        append=dict(type='bool'),
        email=dict(type='str'),
        firstname=dict(type='str'),
        lastname=dict(type='str'),
        comment=dict(type='str'),
        keys=dict(type='str', no_log=False),
        state=dict(type='str', choices=['present', 'absent']),
    )


def main():
    module = pve_module(
        dict(
            userid=dict(type='str', aliases=['name']),
            password=dict(type='str', no_log=True),
            update_password=dict(type='str', choices=['on_create', 'always'], default='on_create', no_log=False),
            verify_password=dict(type='bool', default=True, no_log=False),
            enable=dict(type='bool', default=True),
            expire=dict(type='str'),
            groups=dict(type='list', elements='str'),
            append=dict(type='bool', default=False),
            email=dict(type='str'),
            firstname=dict(type='str'),
            lastname=dict(type='str'),
            comment=dict(type='str'),
            keys=dict(type='str', no_log=False),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            users=dict(type='list', elements='dict', options=item_options()),
        ),
        mutually_exclusive=[('userid', 'users')],
        required_one_of=[('userid', 'users')],
    )
    PveUser(module).run()


if __name__ == '__main__':
    main()
