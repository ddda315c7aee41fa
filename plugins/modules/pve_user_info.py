#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_user_info
short_description: List Proxmox VE user accounts, or the accounts a lab made
version_added: 0.1.0
description:
  - Reads every account in one call (C(GET /access/users?full=1)) and returns those that match all the filters
    given. Never returns a password (PVE has none to give) nor a token secret.
  - With O(lab), only the accounts that lab made, as its comment records (C(pvelab:<lab> student ...) or
    C(pvelab:<lab> teacher ...); accounts of versions before 1.1, commented C(pvelab.proxmox lab <lab>), are its
    students). This is how the lab roles find every account of a lab, whatever the class list says now.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.INFO_MODULE
options:
  userids:
    description: Only these accounts (C(alice) means C(alice@pve)). One PVE would refuse fails the task naming it.
    type: list
    elements: str
  lab:
    description: Only the accounts lab O(lab) made (see above); each then carries RV(users[].lab_kind).
    type: str
  realm:
    description: Only accounts of this realm.
    type: str
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Every account lab netadmin made
  pvelab.proxmox.pve_user_info:
    lab: netadmin
  register: accounts

- name: Its students
  ansible.builtin.debug:
    msg: "{{ accounts.users | selectattr('lab_kind', 'equalto', 'student') | map(attribute='userid') | list }}"
'''

RETURN = r'''
users:
  description: The accounts, sorted by userid.
  returned: always
  type: list
  elements: dict
  contains:
    userid:
      description: The account, C(<name>@<realm>).
      type: str
      sample: alice@pve
    enable:
      description: Whether it may log in.
      type: bool
    expire:
      description: Seconds since the epoch when it expires, 0 for never.
      type: int
    groups:
      description: Its groups.
      type: list
      elements: str
    email:
      description: E-mail address.
      type: str
    firstname:
      description: First name.
      type: str
    lastname:
      description: Last name.
      type: str
    comment:
      description: Comment.
      type: str
      sample: pvelab:netadmin student
    tokens:
      description: Names of its API tokens (never their secrets).
      type: list
      elements: str
    lab_kind:
      description: V(student) or V(teacher), what the lab made the account for.
      type: str
      returned: with O(lab)
      sample: student
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import parse_userid, user_from_api
from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import account_kind
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


def parse_userids(values, field):
    return set(parse_userid(v, field=field) for v in values)


class PveUserInfo(PveModuleBase):
    option_checks = (('userids', parse_userids),)

    def execute(self, userids):
        lab, realm = self.params['lab'], self.params['realm']
        out = []
        for entry in self.client.get('/access/users', full=1):
            view = user_from_api(entry)
            view.pop('keys', None)  # TOTP/U2F key material of old PVE releases: not for a listing
            if userids is not None and view['userid'] not in userids:
                continue
            if realm is not None and view['userid'].rpartition('@')[2] != realm:
                continue
            if lab is not None:
                view['lab_kind'] = account_kind(view['comment'], lab)
                if view['lab_kind'] is None:
                    continue
            out.append(view)
        self.result['users'] = sorted(out, key=lambda u: u['userid'])


def main():
    module = pve_module(dict(
        userids=dict(type='list', elements='str'),
        lab=dict(type='str'),
        realm=dict(type='str'),
    ))
    PveUserInfo(module).run()


if __name__ == '__main__':
    main()
