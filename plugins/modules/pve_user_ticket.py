#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_user_ticket
short_description: Log in as a Proxmox VE user to get its ticket and CSRF token, or change its password
version_added: 0.1.0
description:
  - Logs in AS the user O(userid) with that user's own O(password) (C(POST /access/ticket)), not with the
    connection's O(api_user), and returns the login ticket and CSRF prevention token - what a website needs
    to open a console session for that user (set the ticket as cookie C(PVEAuthCookie)). PVE tickets are
    valid for 2 hours.
  - With O(new_password), changes the user's password the way the user would (C(PUT /access/password) with
    the user's own ticket, the old password as confirmation). Run again with the same passwords, the module
    finds O(new_password) already in place and changes nothing.
  - The ticket is a credential. Set C(no_log) to V(true) on the task; the module itself never prints or returns
    a password.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  userid:
    description:
      - The user to log in as, V(name) (meaning V(name@pve)) or V(name@realm).
    type: str
    required: true
  password:
    description:
      - The user's password (with O(new_password), the current one).
    type: str
    required: true
  new_password:
    description:
      - Change the user's password to this (8 to 64 characters).
      - If the login with O(password) is refused but one with O(new_password) works, the password was already
        changed; nothing is changed and the ticket comes from that login.
    type: str
notes:
  - Of the connection options only O(api_host), O(api_port), O(validate_certs), O(ca_path) and O(api_timeout)
    are used; O(api_user), O(api_password) and the token options are ignored (and not required).
  - A refused login is answered by real PVE after 3 seconds and logged as an authentication failure (fail2ban
    may act on it).
  - Users with two-factor authentication cannot get a ticket this way (the second factor is not handled).
  - In check mode the module still logs in (that changes nothing) but does not change the password.
seealso:
  - module: pvelab.proxmox.pve_user
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A console session for alice, handed to the lab website
  pvelab.proxmox.pve_user_ticket:
    api_host: pve1.example.org
    ca_path: /etc/labweb/pve-root-ca.pem
    userid: alice
    password: "{{ alice_password }}"
  register: alice_session
  no_log: true

- name: Alice changes her password (ProxmoxManager's change_password)
  pvelab.proxmox.pve_user_ticket:
    api_host: pve1.example.org
    userid: alice
    password: "{{ old_password }}"
    new_password: "{{ new_password }}"
  no_log: true
'''

RETURN = r'''
ticket:
  description: The login ticket (cookie C(PVEAuthCookie)). A credential - set C(no_log) to V(true) on the task.
  returned: success
  type: str
  sample: PVE:alice@pve:66F00000::c2lnbmF0dXJl
csrf_token:
  description: PVE's C(CSRFPreventionToken) that goes with the ticket (header C(CSRFPreventionToken) on writes).
  returned: success
  type: str
  sample: 66F00000:Y3NyZnRva2Vu
username:
  description: The user id PVE logged in.
  returned: success
  type: str
  sample: alice@pve
password_changed:
  description: Whether the password was changed (would be, in check mode).
  returned: always
  type: bool
  sample: false
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    change_own_password,
    confirmation_password_accepted,
    parse_userid,
    user_login,
    user_version,
    validate_password,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import (
    check_supported,
    connection_argument_spec,
    missing_proxmoxer,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase


class PveUserTicket(PveModuleBase):
    option_checks = (('userid', parse_userid), ('new_password', validate_password))

    def execute(self, userid, new_password):
        p = self.params
        self.result['password_changed'] = False
        login = user_login(p, userid, p['password'])
        change = new_password is not None and new_password != p['password']
        if login is None and change:
            login = user_login(p, userid, new_password)
            change = False  # the new password already works
        if login is None:
            self.fail('PVE refused the login as {0}: wrong password, or the account is disabled or expired'.format(
                userid))
        if login.get('NeedTFA'):
            self.fail('{0} has two-factor authentication: PVE wants a second factor for a ticket, which this '
                      'module does not give'.format(userid))
        if change:
            if not self.check_mode:
                # The user's own ticket reads the version: an unsupported PVE is refused before the change.
                version = user_version(p, login)
                check_supported(version)
                change_own_password(p, login, userid, p['password'], new_password,
                                    confirm=confirmation_password_accepted(version))
            self.result['password_changed'] = True
            self.changed()
        self.result.update(ticket=login.get('ticket'), csrf_token=login.get('CSRFPreventionToken'),
                           username=login.get('username', userid))


def main():
    spec = connection_argument_spec()
    spec.update(
        userid=dict(type='str', required=True),
        password=dict(type='str', required=True, no_log=True),
        new_password=dict(type='str', no_log=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    missing = missing_proxmoxer()
    if missing:
        module.fail_json(msg=missing_required_lib('proxmoxer'), exception=missing)
    PveUserTicket(module).run()


if __name__ == '__main__':
    main()
