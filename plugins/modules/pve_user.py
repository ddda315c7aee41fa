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
      - An account of a directory realm (LDAP, AD, OpenID) is made without a password; the realm must exist
        (C(GET /access/domains)). PVE would make an account of a realm that does not exist, which could never log
        in, so the module refuses it before anything is written.
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
  userids:
    description:
      - Many users in one run, each with the top-level options (for example O(state=absent) for all of them); the
        same as O(users) with only O(users[].userid) in each item. Can be given with O(users).
    type: list
    elements: str
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

- name: Remove a whole class
  pvelab.proxmox.pve_user:
    userids: [alice@pve, bob@pve, carol@pve]
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
items:
  description:
    - One result per account, in the order of O(users) (the single form, O(userid), gives one).
    - This replaced the result C(users) of the list form in this 0.x release; the entries are the same, with
      RV(items[].key) added.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: What names the account in this result and in the diff, its full user id.
      type: str
      sample: alice@pve
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
      description: Whether writing this account failed; RV(items[].msg) says why.
      type: bool
      sample: false
    msg:
      description: The error, when RV(items[].failed).
      type: str
      returned: when writing this account failed
'''

import re
import time

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    BUILTIN_REALMS,
    DEFAULT_REALM,
    TEXT_FIELDS,
    confirmation_password_accepted,
    has_empty,
    missing_realms,
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
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import BulkModule, ItemSpec
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError

# PVE's user-keys pattern and email-opt format (pve-common ParseUtils EMAIL_RE).
KEYS_RE = re.compile(r'^[0-9a-zA-Z!=]{0,4096}$')
EMAIL_RE = re.compile(r'^[\w+\-~]+(?:\.[\w+\-~]+)*@[a-zA-Z0-9\-]+(?:\.[a-zA-Z0-9\-]+)*$')

# One account, with its top-level defaults. Accounts are written (and their passwords checked) in the engine's
# worker pool: PVE serialises user.cfg writes behind one lock anyway; the threads mostly help the password
# checks, which real PVE answers after a 3 second delay when the password is not (yet) right.
SPEC = ItemSpec('users', dict(
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
), keys=['userid'], per_item=['password'], selectors={'userids': 'userid'})


def usable(view):
    """Whether PVE lets the account log in at all (enabled, not expired)."""
    return bool(view['enable']) and not (view['expire'] and view['expire'] < time.time())


class PveUser(BulkModule):
    """Item: key = the full userid, entry = the account as read; plan sets action (create | update | delete),
    item.create (POST params, password included), item.update (PUT params) and item.password (None | 'set' |
    'check'); apply_item keeps in item.done what was written before a failure."""

    spec = SPEC
    noun = 'account'
    nouns = 'accounts'
    apply_in_check_mode = True      # the password checks run in check mode too; apply_item skips the writes

    # ------------------------------------------------------------ input

    def validate(self, item):
        where = item.where or 'userid'
        item.key = userid = parse_userid(item['userid'], field=where)
        if item['state'] == 'present':
            self.validate_present(item, userid, where)

    @staticmethod
    def validate_present(item, userid, where):
        values = item.values
        if item['password'] is not None:
            if realm_of(userid) != DEFAULT_REALM:
                raise ValueError('{0} {1}: PVE sets passwords only for the pve realm; users of other realms '
                                 'log in with their realm\'s own password'.format(where, userid))
            validate_password(item['password'], field='{0} {1} password'.format(where, userid))
        values['expire'] = parse_expire(item['expire'], field='{0} {1} expire'.format(where, userid))
        if item['groups'] is not None:
            values['groups'] = sorted(set(validate_groupid(g, field='{0} {1} groups'.format(where, userid))
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

    # ------------------------------------------------------------ resolve and plan

    def resolve(self, items):
        users = dict((u['userid'], user_from_api(u)) for u in self.client.get('/access/users', full=1))
        errors = []
        wanted_groups = set(g for i in items if i['state'] == 'present' for g in (i['groups'] or []))
        if wanted_groups:
            existing = set(g['groupid'] for g in self.client.get('/access/groups'))
            missing = sorted(wanted_groups - existing)
            if missing:
                msg = 'group{0} {1} do{2} not exist (create {3} with pvelab.proxmox.pve_group first); asked for ' \
                      'by {4}'.format('s' if len(missing) > 1 else '', ', '.join(missing),
                                      '' if len(missing) > 1 else 'es', 'them' if len(missing) > 1 else 'it',
                                      ', '.join(i.key for i in items if set(i['groups'] or []) & set(missing)))
                if not self.check_mode:
                    return [msg]
                self.module.warn(msg + ' - in check mode this only warns, as an earlier task may create them')
        errors += self.check_realms([i.key for i in items if i['state'] == 'present' and i.key not in users])
        for item in items:
            item.entry = users.get(item.key)
            if item.entry is None and item['state'] == 'present' and realm_of(item.key) == 'pam':
                errors.append('{0}: pam users are Linux accounts of the nodes; this module does not create them '
                              '(create the Linux user on every node, or use the pve realm: {1})'.format(
                                  item.key, item.key.rsplit('@', 1)[0]))
        return errors

    def check_realms(self, userids):
        """The accounts to be made in a realm that does not exist: one read of GET /access/domains, and only for
        realms other than pam and pve (PVE would make them, and they could never log in)."""
        if not [u for u in userids if realm_of(u) not in BUILTIN_REALMS]:
            return []
        domains = self.client.get('/access/domains')
        known = ', '.join(sorted(set(BUILTIN_REALMS) | set(d.get('realm') for d in domains)))
        return ['realm {0} does not exist (this cluster has: {1}; add it under Datacenter > Permissions > Realms '
                'first); asked for by {2}'.format(realm, known, ', '.join(ids))
                for realm, ids in missing_realms(userids, domains)]

    def plan(self, items):
        for item in items:
            item.create, item.update, item.password, item.done = None, {}, None, []
            if item['state'] == 'absent':
                if item.entry:
                    item.action, item.changes = 'delete', ['deleted']
                continue
            wanted = dict((f, item[f]) for f in ('enable', 'expire', 'groups') + TEXT_FIELDS)
            if item.entry is None:
                params = dict((k, v) for k, v in wanted.items() if v not in (None, '', []))
                params['enable'] = bool(item['enable'])
                if item['password'] is not None:
                    params['password'] = item['password']
                item.action, item.create, item.changes = 'create', params, ['created']
                continue
            item.update, item.changes = user_update(item.entry, wanted, append=bool(item['append']))
            if item['password'] is not None and item['update_password'] == 'always':
                item.password = 'check' if item['verify_password'] else 'set'
            if item.update or item.password:
                item.action = 'update'

    # ------------------------------------------------------------ apply

    def password_right(self, item, view):
        """Whether the user can already log in with the password (False when PVE cannot tell)."""
        if item.password != 'check' or not usable(view):
            return False
        return password_works(self.params, item.key, item['password'])

    def set_password(self, userid, password):
        data = {'userid': userid, 'password': password}
        if self.params.get('api_token_secret'):
            raise PveError('{0}: changing the password of an existing user needs a password login (api_password); '
                           'PVE does not let API tokens change passwords'.format(userid))
        if self.client.user != 'root@pam' and confirmation_password_accepted(self.client.version):
            data['confirmation-password'] = self.params.get('api_password')
        self.client.put('/access/password', **data)

    def apply_item(self, item):
        """One account's writes (in a worker thread); in check mode only the password check."""
        if item.action == 'delete':
            if not self.check_mode:
                self.client.delete('/access/users/{0}'.format(item.key))
            return
        if item.action == 'create':
            if not self.check_mode:
                self.client.post('/access/users', userid=item.key, **item.create)
            return
        if item.update and not self.check_mode:
            path = '/access/users/{0}'.format(item.key)
            # Clearing a field (or every group) needs a JSON body: PVE drops empty form values.
            self.client.put(path, json_body=has_empty(item.update), **item.update)
        item.done = list(item.changes)
        if item.password:
            # In check mode nothing was written: judge by the account as it is now.
            view = item.entry if self.check_mode else user_after(item.entry, item.update)
            if not self.password_right(item, view):
                if not self.check_mode:
                    self.set_password(item.key, item['password'])
                item.changes.append('password')

    def apply(self, items):
        super(PveUser, self).apply(items)
        for item in items:
            if item.error:
                item.changes = item.done    # the fields written before the password failed stay changed

    @staticmethod
    def failure(item, error):
        # name the account: POST /access/users does not have it in its path
        return str(error) if str(error).startswith(item.key) else '{0}: {1}'.format(item.key, error)

    # ------------------------------------------------------------ output

    @staticmethod
    def view(item, data):
        if data is None:
            return {'userid': item.key, 'state': 'absent'}
        return dict(data, state='present')

    @staticmethod
    def after_of(item):
        if item.action == 'delete' or item['state'] == 'absent':
            return None
        if item.error and not item.changes:
            return item.entry
        if item.action == 'create':
            c = item.create
            return {'userid': item.key, 'enable': bool(c.get('enable', True)), 'expire': int(c.get('expire') or 0),
                    'groups': sorted(c.get('groups') or []), 'email': c.get('email', ''),
                    'firstname': c.get('firstname', ''), 'lastname': c.get('lastname', ''),
                    'comment': c.get('comment', ''), 'keys': c.get('keys', ''), 'tokens': []}
        return user_after(item.entry, item.update)

    def report(self, items):
        for item in items:
            item.view = {'userid': item.key, 'state': item['state'], 'changes': list(item.changes),
                         'failed': bool(item.error)}
            if item.changes:
                item.before, item.after = self.view(item, item.entry), self.view(item, self.after_of(item))
                if 'password' in item.changes:
                    # A marker only: the password itself never reaches the diff.
                    item.before = dict(item.before, password='(previous)')
                    item.after = dict(item.after, password='(new)')
        if items[0].single:
            self.result['user'] = self.view(items[0], self.after_of(items[0]))
            self.result['changes'] = list(items[0].changes)
        super(PveUser, self).report(items)


def main():
    PveUser.main()


if __name__ == '__main__':
    main()
