#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_snapshot
short_description: Create, roll back and delete a named snapshot of one or many Proxmox VE guests
version_added: 0.1.0
description:
  - Takes, rolls back to, or deletes the snapshot O(snapname) of a guest (VM or container), or of many at once
    (a whole lab), following each task to its end.
  - Idempotent for V(present) and V(absent). A rollback is always reported as a change - PVE cannot tell whether
    a guest changed since its snapshot.
  - Every guest and, for V(rollback), every snapshot is checked before anything is written.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  vmid:
    description: vmid of the guest.
    type: int
  name:
    description: Name of the guest (a name two guests carry is an error).
    type: str
  vmids:
    description: vmids of many guests (list form; may be combined with O(names)).
    type: list
    elements: int
  names:
    description: Names of many guests (list form; may be combined with O(vmids)).
    type: list
    elements: str
  snapname:
    description:
      - Name of the snapshot (a letter first, then letters, digits, V(-) and V(_); at least 2 characters).
    type: str
    required: true
  description:
    description:
      - Description of the snapshot. With V(present), an existing snapshot's description is updated to it.
    type: str
  vmstate:
    description:
      - Save the RAM of a running VM with the snapshot, so a rollback resumes it running. Ignored for containers
        and stopped VMs.
    type: bool
    default: false
  state:
    description:
      - V(present) takes the snapshot unless it exists; V(absent) deletes it if it exists; V(rollback) rolls the
        guest back to it (the snapshot must exist).
    type: str
    choices: [present, absent, rollback]
    default: present
  missing:
    description:
      - What V(rollback) does with guests that do not have the snapshot. V(fail) refuses before anything is rolled
        back, naming them; V(skip) rolls back the others and returns those in RV(missing) (for example to clone
        them again).
    type: str
    choices: [fail, skip]
    default: fail
  start_after_rollback:
    description:
      - Start the guest after a rollback (PVE's C(start) parameter). A snapshot with RAM state resumes running
        anyway.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each snapshot task.
    type: int
    default: 300
  parallel:
    description: How many snapshot tasks run at once.
    type: int
    default: 8
  lock_timeout:
    description:
      - Seconds to keep retrying while PVE refuses because the guest's config is locked (a backup, another
        snapshot, ...).
    type: int
    default: 120
notes:
  - A guest that does not exist is an error, except with O(state=absent).
seealso:
  - module: pvelab.proxmox.pve_vm
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A clean snapshot of every student VM before the exam
  pvelab.proxmox.pve_snapshot:
    vmids: "{{ lab['items'] | map(attribute='vmid') }}"
    snapname: clean
    description: before the exam

- name: Reset the lab to it and start the VMs again; list those without it
  pvelab.proxmox.pve_snapshot:
    names: [netadmin-alice, netadmin-bob]
    snapname: clean
    state: rollback
    missing: skip
    start_after_rollback: true
  register: reset

- name: The guests rolled back (items in brackets - reset.items would be the dict's method)
  ansible.builtin.debug:
    msg: "{{ reset['items'] | selectattr('changed') | map(attribute='name') | list }}"

- name: Delete the snapshot of one VM
  pvelab.proxmox.pve_snapshot:
    name: netadmin-alice
    snapname: clean
    state: absent
'''

RETURN = r'''
missing:
  description: vmids of the guests that do not have the snapshot (with O(state=rollback); otherwise empty).
  returned: always
  type: list
  elements: int
  sample: [2003]
items:
  description:
    - One entry per guest, in the order asked (vmids first, then names; a guest asked twice once), also when the
      module fails.
    - It replaced C(snapshots) in this 0.x release.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description:
        - The guest as messages name it, and the key of its diff - its name and vmid, or V(vmid 2001) for a guest
          without a name.
        - A guest that does not exist (only with O(state=absent)) as it was asked - its name in quotes, or
          V(vmid 2001).
      type: str
      sample: netadmin-alice (vmid 2001)
    vmid:
      description: vmid of the guest (null for a guest that does not exist).
      type: int
      sample: 2001
    name:
      description: Name of the guest.
      type: str
      sample: netadmin-alice
    node:
      description: Node of the guest.
      type: str
      sample: pve2
    snapname:
      description: The snapshot.
      type: str
      sample: clean
    exists:
      description: Whether the snapshot exists after the run (planned in check mode).
      type: bool
      sample: true
    changed:
      description: Whether this guest changed.
      type: bool
      sample: true
    msg:
      description: Why this guest failed.
      type: str
      returned: on failure
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import GuestBulkModule, GuestSelection, guest_path, label, run_tasks
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import pve_module
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import validate_snapname


class Guests(GuestSelection):
    """The guests to snapshot, and the snapshot."""

    def module(self):
        return pve_module(
            dict(
                self.OPTIONS,
                snapname=dict(type='str', required=True),
                description=dict(type='str'),
                vmstate=dict(type='bool', default=False),
                state=dict(type='str', choices=['present', 'absent', 'rollback'], default='present'),
                missing=dict(type='str', choices=['fail', 'skip'], default='fail'),
                start_after_rollback=dict(type='bool', default=False),
                timeout=dict(type='int', default=300),
                parallel=dict(type='int', default=8),
                lock_timeout=dict(type='int', default=120),
            ),
            **self.RULES
        )


class PveSnapshot(GuestBulkModule):
    spec = Guests()

    def execute(self):
        p = self.params
        self.result['missing'] = []
        self.client.lock_timeout = p['lock_timeout']
        try:
            validate_snapname(p['snapname'])
        except ValueError as exc:
            self.fail(str(exc))
        if p['parallel'] < 1:
            self.fail('parallel must be at least 1')
        super().execute()

    def resolve(self, items):
        for item in items:
            item.exists, item.description = False, None
        return self.spec.find(self.cluster, items, missing_ok=self.params['state'] == 'absent')

    def plan(self, items):
        p = self.params
        live = [i for i in items if i.entry is not None and not i.again]
        self.read_snapshots(live)
        missing = []
        for item in live:
            if p['state'] == 'present' and not item.exists:
                item.action = 'create'
            elif p['state'] == 'present' and p['description'] is not None and \
                    item.description.rstrip('\n') != p['description'].rstrip('\n'):
                item.action = 'describe'
            elif p['state'] == 'absent' and item.exists:
                item.action = 'delete'
            elif p['state'] == 'rollback':
                if item.exists:
                    item.action = 'rollback'
                else:
                    missing.append(item)
            if item.action:
                item.changes = [item.action]
        self.result['missing'] = [int(i.entry['vmid']) for i in missing]
        if missing and p['missing'] == 'fail':
            self.fail('nothing was rolled back: snapshot {0!r} does not exist on {1}'.format(
                p['snapname'], ', '.join(label(i.entry) for i in missing)))

    def read_snapshots(self, items):
        def read(item):
            return self.client.get(guest_path(item.entry) + '/snapshot') or []
        errors = []
        for item, snaps, error in parallel_map(read, items, self.params['parallel']):
            if error is not None:
                errors.append('{0}: reading its snapshots failed: {1}'.format(label(item.entry), error))
                continue
            for snap in snaps:
                if snap.get('name') == self.params['snapname']:
                    item.exists = True
                    item.description = snap.get('description') or ''
        if errors:
            self.fail('nothing was changed: ' + '; '.join(errors))

    def apply(self, items):
        p = self.params
        snap = p['snapname']
        by_vmid = dict((int(i.entry['vmid']), i) for i in items)

        def start(vmid):
            item = by_vmid[vmid]
            base = guest_path(item.entry) + '/snapshot'
            if item.action == 'create':
                params = dict(snapname=snap, description=p['description'])
                if item.entry.get('type', 'qemu') == 'qemu' and p['vmstate']:
                    params['vmstate'] = 1
                return self.client.post(base, **params)
            if item.action == 'describe':
                # JSON: an empty form value arrives as undef and PVE would keep the old description.
                self.client.put('{0}/{1}/config'.format(base, snap), json_body=True, description=p['description'])
                return None
            if item.action == 'delete':
                return self.client.delete('{0}/{1}'.format(base, snap))
            return self.client.post('{0}/{1}/rollback'.format(base, snap),
                                    start=1 if p['start_after_rollback'] else None)
        outcome = run_tasks(self.client, list(by_vmid), start, parallel=p['parallel'], timeout=p['timeout'])
        for vmid, error in outcome.items():
            if error is not None:
                item = by_vmid[vmid]
                item.changes = []
                item.fail('{0} failed: {1}'.format(item.action, error))

    def report(self, items):
        super().report([i for i in items if not i.again])

    def describe(self, items):
        for item in items:
            entry = item.entry or {}
            exists = item.exists
            if item.changed and item.action in ('create', 'delete'):
                exists = item.action == 'create'
            item.view = dict(vmid=int(entry['vmid']) if entry else None,
                             name=entry.get('name') if entry else item.get('name'), node=entry.get('node'),
                             snapname=self.params['snapname'], exists=exists)
            if entry:
                item.before, item.after = {'snapshot': item.exists}, {'snapshot': exists}
                if item.action == 'rollback':
                    item.after['rolled_back'] = item.changed


def main():
    PveSnapshot.main()


if __name__ == '__main__':
    main()
