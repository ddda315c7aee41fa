#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_pool
short_description: Create, update and remove Proxmox VE resource pools
version_added: 0.1.0
description:
  - Makes sure a resource pool exists with a comment, or does not exist.
  - PVE refuses to delete a pool that still has members. With O(force), the members (guests and storages) are
    taken out of the pool first; they are not deleted.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  name:
    description:
      - The pool id (letters, digits, V(.), V(-), V(_); nested pools as V(parent/child)).
    type: str
    required: true
    aliases: [poolid]
  comment:
    description:
      - Comment of the pool. Not given - left as it is (empty for a new pool).
    type: str
  state:
    description:
      - V(present) creates or updates the pool, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With V(absent), take the pool's guests and storages out of it, so that PVE can remove it. Without it,
        removing a pool that has members fails and names them.
    type: bool
    default: false
seealso:
  - module: pvelab.proxmox.pve_clone
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: The pool of a lab
  pvelab.proxmox.pve_pool:
    name: netadmin
    comment: "lab netadmin (managed by pvelab.proxmox)"

- name: Remove it at the end of term, whatever is still in it
  pvelab.proxmox.pve_pool:
    name: netadmin
    state: absent
    force: true
'''

RETURN = r'''
pool:
  description: The pool after the run (planned in check mode); empty once removed.
  returned: always
  type: dict
  contains:
    poolid:
      description: The pool id.
      type: str
      sample: netadmin
    comment:
      description: Its comment.
      type: str
      sample: lab netadmin
    vms:
      description: vmids of the guests in it.
      type: list
      elements: int
      sample: [2001, 2002]
    storage:
      description: Storages in it.
      type: list
      elements: str
      sample: []
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import validate_new_pool, validate_pool


class PvePool(PveModuleBase):

    option_checks = (('name', validate_pool),)

    def execute(self, name):
        p = self.params
        self.poolid = name
        current = self.read()
        before = self.view(current)
        after = dict(before)
        if p['state'] == 'present':
            if current is None:
                with self.checked_input():
                    validate_new_pool(self.poolid, 'name')
                after = {'poolid': self.poolid, 'comment': p['comment'] or '', 'vms': [], 'storage': []}
                self.changed()
                if not self.check_mode:
                    self.client.post('/pools', poolid=self.poolid, comment=p['comment'] or None)
            elif p['comment'] is not None and (current.get('comment') or '') != p['comment']:
                after['comment'] = p['comment']
                self.changed()
                if not self.check_mode:
                    # JSON: PVE takes an empty form value for undef and would keep the old comment.
                    self.client.put('/pools/' + self.poolid, json_body=True, comment=p['comment'])
        elif current is not None:
            self.remove(current)
            after = {}
        self.diff['before'] = dict((k, before[k]) for k in ('poolid', 'comment')) if before else {}
        self.diff['after'] = dict((k, after[k]) for k in ('poolid', 'comment')) if after else {}
        self.result['pool'] = after

    def read(self):
        """The pool with its members, or None (one GET)."""
        try:
            data = self.client.get('/pools/' + self.poolid)
        except PveApiError as exc:
            if 'does not exist' in exc.pve_message or exc.status == 404:
                return None
            raise
        return data or None

    @staticmethod
    def members(pool, kind):
        members = pool.get('members') or []
        if kind == 'storage':
            return sorted(m.get('storage') for m in members if m.get('type') == 'storage')
        return sorted(int(m['vmid']) for m in members if m.get('type') in ('qemu', 'lxc', 'openvz'))

    def view(self, pool):
        if pool is None:
            return {}
        return {'poolid': self.poolid, 'comment': pool.get('comment') or '', 'vms': self.members(pool, 'vms'),
                'storage': self.members(pool, 'storage')}

    def remove(self, pool):
        vms, storage = self.members(pool, 'vms'), self.members(pool, 'storage')
        if (vms or storage) and not self.params['force']:
            self.fail('pool {0} is not empty ({1}); PVE removes only empty pools: take them out, or set force=true to '
                      'take them out of the pool (they are not deleted)'.format(self.poolid, ', '.join(
                          ['guests ' + ', '.join(str(v) for v in vms)] * bool(vms) +
                          ['storages ' + ', '.join(storage)] * bool(storage))))
        self.changed()
        if self.check_mode:
            return
        if vms:
            self.client.put('/pools/' + self.poolid, vms=vms, delete=1)
        if storage:
            self.client.put('/pools/' + self.poolid, storage=storage, delete=1)
        self.client.delete('/pools/' + self.poolid)


def main():
    module = pve_module(dict(
        name=dict(type='str', required=True, aliases=['poolid']),
        comment=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        force=dict(type='bool', default=False),
    ))
    PvePool(module).run()


if __name__ == '__main__':
    main()
