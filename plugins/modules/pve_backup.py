#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_backup
short_description: Back up one or many Proxmox VE guests with vzdump, once per mark
version_added: 0.1.0
description:
  - Backs up guests (VMs and containers) to a backup storage with PVE's vzdump (C(POST /nodes/{node}/vzdump)),
    one task per guest, sent to the guest's own node (vzdump skips the guests of other nodes without an error),
    and follows every task to its end. A node runs one vzdump at a time; guests on different nodes are backed up
    at once.
  - With O(state=present) a guest is backed up only if the storage holds no backup of it whose notes are what
    O(notes_template) gives for it, so a re-run (or a second run of a lab's exam) adds no second backup. With
    O(state=new) every run makes a new backup.
  - Every guest and the storage are checked before anything is written.
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
  storage:
    description: The storage the backups go to; it must allow the content type C(backup).
    type: str
    required: true
  mode:
    description: vzdump's mode. V(snapshot) backs a running guest up while it runs.
    type: str
    choices: [snapshot, suspend, stop]
    default: snapshot
  compress:
    description: Compression of the backup file (PVE's C(compress); V(0) none).
    type: str
    choices: ['0', gzip, lzo, zstd]
    default: zstd
  notes_template:
    description:
      - The backup's notes (PVE's C(notes-template)), one line; PVE replaces C({{vmid}}), C({{guestname}}),
        C({{node}}) and C({{cluster}}), and C(\\n) becomes a line break.
      - With O(state=present) it is also the mark that tells an existing backup, so it must tell the run's
        backups apart (for example the lab and the exam's name); C({{cluster}}) is not allowed there.
    type: str
  protected:
    description: Protect the backups from removal and from the storage's pruning (PVE's C(protected)).
    type: bool
    default: false
  state:
    description:
      - V(present) makes a backup of a guest unless the storage holds one with the notes O(notes_template) gives
        (O(notes_template) is required); V(new) always makes one.
    type: str
    choices: [present, new]
    default: present
  timeout:
    description: Seconds to wait for each guest's backup, from its start (a node's guests wait for each other).
    type: int
    default: 3600
  parallel:
    description: How many backups are asked for at once (a node still runs one at a time).
    type: int
    default: 8
notes:
  - Needs C(VM.Backup) on every guest and C(Datastore.AllocateSpace) on O(storage).
  - A storage with a retention policy (C(prune-backups)) removes older backups when a new one arrives, unless
    they are protected.
seealso:
  - module: pvelab.proxmox.pve_snapshot
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: The handed-in state of every student VM, once per exam
  pvelab.proxmox.pve_backup:
    vmids: "{{ lab_vms | map(attribute='vmid') }}"
    storage: backup-nfs
    notes_template: "pvelab:netadmin exam1 {{ '{{vmid}}' }}"

- name: A new backup of one VM, whatever exists
  pvelab.proxmox.pve_backup:
    name: teacher-vm
    storage: local
    state: new
'''

RETURN = r'''
items:
  description: One entry per guest, in the order asked (vmids first, then names; a guest asked twice once).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The guest as messages name it, and the key of its diff.
      type: str
      sample: netadmin-alice (vmid 2001)
    vmid:
      description: vmid of the guest.
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
    volid:
      description:
        - The backup with the notes found or made (null in check mode before it is made, and with O(state=new)
          until it is made).
      type: str
      sample: backup-nfs:backup/vzdump-qemu-2001-2026_12_03-09_00_00.vma.zst
    changed:
      description: Whether a backup was made (planned in check mode).
      type: bool
      sample: true
    msg:
      description: Why this guest failed.
      type: str
      returned: on failure
'''

import re

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import GuestBulkModule, GuestSelection, run_tasks
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import pve_module

NOTES_VARS = ('cluster', 'guestname', 'node', 'vmid')


def notes_problem(template):
    """Why PVE would refuse the notes template (pve-manager's verify_notes_template), or None."""
    if '\n' in template:
        return 'contains a line feed (write \\n)'
    bad = ["escape sequence '\\{0}'".format(m.group(1)) for m in re.finditer(r'\\(.)', template)
           if m.group(1) not in ('n', '\\')]
    bad += ["variable '{0}'".format(m.group(1)) for m in re.finditer(r'\{\{([^\s{}]+)\}\}', template)
            if m.group(1) not in NOTES_VARS]
    return 'found unknown: ' + ', '.join(bad) if bad else None


def render_notes(template, entry):
    """The notes PVE writes for this guest: escapes undone, then the variables replaced."""
    info = {'vmid': entry['vmid'], 'node': entry.get('node'),
            'guestname': entry.get('name') or 'VM {0}'.format(entry['vmid'])}
    text = re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else '\\', template)
    return re.sub(r'\{\{(guestname|node|vmid)\}\}', lambda m: str(info[m.group(1)]), text)


class Guests(GuestSelection):
    """The guests to back up, and where to."""

    def module(self):
        return pve_module(
            dict(
                self.OPTIONS,
                storage=dict(type='str', required=True),
                mode=dict(type='str', choices=['snapshot', 'suspend', 'stop'], default='snapshot'),
                compress=dict(type='str', choices=['0', 'gzip', 'lzo', 'zstd'], default='zstd'),
                notes_template=dict(type='str'),
                protected=dict(type='bool', default=False),
                state=dict(type='str', choices=['present', 'new'], default='present'),
                timeout=dict(type='int', default=3600),
                parallel=dict(type='int', default=8),
            ),
            required_if=[('state', 'present', ('notes_template',))],
            **self.RULES
        )


class PveBackup(GuestBulkModule):
    spec = Guests()

    def execute(self):
        p = self.params
        if p['state'] == 'present' and not p['notes_template']:
            self.fail('notes_template is required with state=present: it marks the backup a re-run finds')
        if p['notes_template'] is not None:
            why = notes_problem(p['notes_template'])
            if why:
                self.fail('notes_template: {0}'.format(why))
            if p['state'] == 'present' and '{{cluster}}' in p['notes_template']:
                self.fail('notes_template: {{cluster}} cannot mark a backup with state=present; name the lab instead')
        if p['parallel'] < 1:
            self.fail('parallel must be at least 1')
        super().execute()

    def resolve(self, items):
        for item in items:
            item.volid = None
        errors = self.spec.find(self.cluster, items)
        storage = self.params['storage']
        nodes = sorted(set(i.entry['node'] for i in items if i.entry is not None))
        for node in nodes:
            errors += self.check_storage(node, storage)
        return errors

    def check_storage(self, node, storage):
        """The storage as the node sees it: there, active and taking backups, before anything is written."""
        try:
            found = [s for s in self.client.get('/nodes/{0}/storage'.format(node), content='backup') or []
                     if s.get('storage') == storage]
        except PveError as exc:
            return ['storage {0!r} on node {1}: {2}'.format(storage, node, exc)]
        if not found:
            return ['storage {0!r} does not exist on node {1} or takes no backups (content backup)'.format(storage, node)]
        if not int(found[0].get('active', 1) or 0):
            return ['storage {0!r} is not active on node {1}'.format(storage, node)]
        return []

    def plan(self, items):
        live = [i for i in items if i.entry is not None and not i.again]
        if self.params['state'] == 'present':
            self.find_backups(live)
        for item in live:
            if item.volid is None:
                item.action = 'backup'
                item.changes = ['backup']

    def find_backups(self, items):
        """The backup of each guest on the storage whose notes the template gives, read once per node."""
        storage, template = self.params['storage'], self.params['notes_template']

        def read(node):
            return self.client.get('/nodes/{0}/storage/{1}/content'.format(node, storage), content='backup') or []
        nodes = sorted(set(i.entry['node'] for i in items))
        errors, content = [], []
        for node, volumes, error in parallel_map(read, nodes, self.params['parallel']):
            if error is not None:
                errors.append('reading the backups on {0} ({1}) failed: {2}'.format(storage, node, error))
            content += volumes or []
        if errors:
            self.fail('nothing was backed up: ' + '; '.join(errors))
        for item in items:
            wanted = render_notes(template, item.entry)
            mine = [v for v in content if str(v.get('vmid')) == str(item.entry['vmid'])
                    and (v.get('notes') or '') == wanted]
            if mine:
                item.volid = sorted(mine, key=lambda v: v.get('ctime') or 0)[-1]['volid']

    def apply(self, items):
        p = self.params
        by_vmid = dict((int(i.entry['vmid']), i) for i in items)

        def start(vmid):
            entry = by_vmid[vmid].entry
            params = dict(vmid=str(vmid), storage=p['storage'], mode=p['mode'], compress=p['compress'])
            if p['notes_template'] is not None:
                params['notes-template'] = p['notes_template']
            if p['protected']:
                params['protected'] = 1
            upid = self.client.post('/nodes/{0}/vzdump'.format(entry['node']), **params)
            if not str(upid or '').startswith('UPID:'):
                # PVE's answer when the guest is not on that node: nothing ran.
                raise PveError('node {0} backed nothing up ({1!r}): the guest is not there any more'.format(
                    entry['node'], upid))
            return upid
        outcome = run_tasks(self.client, list(by_vmid), start, parallel=p['parallel'], timeout=p['timeout'])
        for vmid, error in outcome.items():
            item = by_vmid[vmid]
            if error is not None:
                item.changes = []
                item.fail('backup failed: {0}'.format(error))
        if p['notes_template'] is not None and p['state'] == 'present':
            done = [i for i in items if i.error is None]
            self.find_backups(done)

    def report(self, items):
        super().report([i for i in items if not i.again])

    def describe(self, items):
        for item in items:
            entry = item.entry or {}
            item.view = dict(vmid=int(entry['vmid']) if entry else None,
                             name=entry.get('name') if entry else item.get('name'), node=entry.get('node'),
                             volid=item.volid)
            if entry:
                item.before = {'backup': item.action is None}
                item.after = {'backup': True}


def main():
    PveBackup.main()


if __name__ == '__main__':
    main()
