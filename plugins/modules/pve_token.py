#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_token
short_description: Manage Proxmox VE API tokens
version_added: 0.1.0
description:
  - Creates, updates and deletes API tokens of a user (C(/access/users/{userid}/token/{tokenid})).
  - PVE shows a token's secret once, when the token is created. The module returns it then, and never on
    later runs. Set C(no_log) to V(true) on the task (the secret is in the result, and Ansible cannot hide a
    returned value by itself) and store the secret where it belongs (a vault, an AWX credential).
  - A privilege-separated token (O(privsep=true), the default) has only the permissions given to the token
    itself (M(pvelab.proxmox.pve_permission) O(pvelab.proxmox.pve_permission#module:tokens)), and never more
    than its user has; without ACL entries of its own it sees nothing.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  userid:
    description:
      - Owner of the token, V(name) (meaning V(name@pve)) or V(name@realm).
    type: str
    required: true
  token:
    description:
      - Name of the token (a letter first, then letters, digits, V(.), V(-), V(_)).
    type: str
    required: true
    aliases: [tokenid]
  privsep:
    description:
      - Privilege separation; V(false) gives the token every permission of its user.
    type: bool
    default: true
  expire:
    description:
      - Expiry, as a date V(YYYY-MM-DD) (00:00 UTC) or seconds since the epoch; V(0) or V(never) for never.
      - Not changed when not given (a new token then expires with its user).
    type: str
  comment:
    description:
      - Comment; V('') clears it. Not changed when not given.
      - Proxmox VE 8 (and 9 before 9.0.13, which brought pve-access-control 9.0.4) cannot clear a token comment;
        the task then fails before changing anything, in check mode too. Set another comment, or delete and
        re-create the token.
    type: str
  state:
    description:
      - V(present) creates or updates the token; V(absent) deletes it (and its ACL entries).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: pvelab.proxmox.pve_permission
  - module: pvelab.proxmox.pve_user
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A token for the lab website, created once
  pvelab.proxmox.pve_token:
    userid: labweb
    token: portal
    comment: lab portal
  register: portal_token
  no_log: true

- name: Keep the secret (only there on the run that created the token)
  ansible.builtin.copy:
    content: "{{ portal_token.token.secret }}"
    dest: /etc/labweb/pve-token
    mode: "0600"
  when: portal_token.token.secret is defined
  no_log: true

- name: Remove the token
  pvelab.proxmox.pve_token:
    userid: labweb
    token: portal
    state: absent
'''

RETURN = r'''
token:
  description: The token after the task.
  returned: always
  type: dict
  contains:
    userid:
      description: Owner.
      type: str
      sample: labweb@pve
    tokenid:
      description: Token name.
      type: str
      sample: portal
    full_tokenid:
      description: Full token id, what an API client gives as the token id.
      type: str
      sample: labweb@pve!portal
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    privsep:
      description: Whether the token is privilege-separated.
      type: bool
      sample: true
    expire:
      description: Expiry in seconds since the epoch; 0 for never (or with the user).
      type: int
      sample: 0
    comment:
      description: Comment.
      type: str
      sample: lab portal
    secret:
      description:
        - The token's secret (PVE's C(value)). Only on the run that creates the token, never in check mode
          and never again; set C(no_log) to V(true) on the task.
      type: str
      returned: when the token was created
      sample: 5f0b3c2e-0000-4000-8000-000000000000
changes:
  description: What changed - V(created), V(deleted), or the names of the changed fields.
  returned: always
  type: list
  elements: str
  sample: [created]
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    parse_expire,
    parse_userid,
    token_comment_clearable,
    validate_token_name,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


class PveToken(PveModuleBase):
    option_checks = (('userid', parse_userid), ('token', validate_token_name), ('expire', parse_expire))

    def execute(self, userid, token, expire):
        p = self.params
        name = token
        base = '/access/users/{0}/token'.format(userid)
        try:
            tokens = dict((t['tokenid'], t) for t in self.client.get(base))
        except PveApiError as exc:
            # PVE: HTTP 500 "no such user ('x@pve')" for an unknown owner.
            if 'no such user' not in exc.pve_message:
                raise
            if p['state'] == 'absent':
                tokens = {}
            elif self.check_mode:
                self.module.warn('user {0} does not exist (check mode: an earlier task may create it)'.format(userid))
                tokens = {}
            else:
                self.fail('user {0} does not exist; create it first (pvelab.proxmox.pve_user)'.format(userid))
        current = tokens.get(name)
        before = self.view(userid, name, current)
        changes = []
        if p['state'] == 'absent':
            after = self.view(userid, name, None)
            if current is not None:
                changes.append('deleted')
                if not self.check_mode:
                    self.client.delete('{0}/{1}'.format(base, name))
        elif current is None:
            changes.append('created')
            data = {'privsep': p['privsep'], 'expire': expire, 'comment': p['comment'] or None}
            after = self.view(userid, name, dict((k, v) for k, v in data.items() if v is not None))
            if not self.check_mode:
                answer = self.client.post('{0}/{1}'.format(base, name), **data) or {}
                after = self.view(userid, name, answer.get('info') or data)
                if answer.get('full-tokenid'):
                    after['full_tokenid'] = answer['full-tokenid']
                after['secret'] = answer.get('value')
        else:
            update = {}
            if bool(p['privsep']) != before['privsep']:
                update['privsep'] = p['privsep']
            if expire is not None and expire != before['expire']:
                update['expire'] = expire
            if p['comment'] is not None and p['comment'] != before['comment']:
                update['comment'] = p['comment']
            changes.extend(sorted(update))
            after = self.view(userid, name, dict(current, **update))
            if update.get('comment') == '':
                # PVE drops an empty form value; its token update deletes the comment instead (9.0.13 and later).
                version = self.client.version
                if not token_comment_clearable(version):
                    self.fail('token {0}: Proxmox VE {1} cannot clear a token comment (PVE can since 9.0.13); set '
                              'another comment, or delete and re-create the token; nothing was changed'.format(
                                  before['full_tokenid'], version))
                del update['comment']
                update['delete'] = 'comment'
            if update and not self.check_mode:
                self.client.put('{0}/{1}'.format(base, name), **update)
        self.report_object('token', before, after, changes,
                           diff_after=dict((k, v) for k, v in after.items() if k != 'secret'))

    @staticmethod
    def view(userid, name, entry):
        view = {'userid': userid, 'tokenid': name, 'full_tokenid': '{0}!{1}'.format(userid, name)}
        if entry is None:
            view['state'] = 'absent'
            return view
        privsep = entry.get('privsep', 1)
        view.update(state='present', privsep=bool(int(privsep)) if privsep not in (None, '') else True,
                    expire=int(entry.get('expire') or 0), comment=entry.get('comment') or '')
        return view


def main():
    module = pve_module(dict(
        userid=dict(type='str', required=True),
        token=dict(type='str', required=True, aliases=['tokenid'], no_log=False),
        privsep=dict(type='bool', default=True),
        expire=dict(type='str'),
        comment=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ))
    PveToken(module).run()


if __name__ == '__main__':
    main()
