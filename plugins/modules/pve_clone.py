#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_clone
short_description: Clone Proxmox VE guests from a template, one or many at once, idempotent by name
version_added: 0.1.0
description:
  - Makes new guests from a template, by name. A guest that already has the name is reported unchanged,
    with its vmid and node, and is never cloned again.
  - Gives each new guest the smallest free vmid at or above O(vmid_floor) (or PVE's next free id), in a way that
    survives races with parallel clones and other playbooks; chooses the node by a placement policy or takes
    O(node); clones many guests in parallel with O(parallel) tasks at a time.
  - Reads the cluster once per run (C(/cluster/resources); for a template converted in the last seconds, which
    PVE still reports there as a VM, also its node's own guest list); a re-run where every guest exists sends no
    request per guest. A guest that pvestatd has not reported yet (C(unknown) in C(/cluster/resources), as every
    guest is in its first seconds) is looked up in its node's list.
  - A failed clone is reported by name with PVE's reason, the other clones go on, and a guest PVE left behind
    half-made is removed so that a re-run can finish the job.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  template:
    description:
      - The template to clone, by name or by vmid.
      - A name that two guests carry is an error; give the vmid then.
    type: str
    required: true
    aliases: [source]
  allow_non_template:
    description:
      - Clone O(template) even if it is not a template (a full copy of an ordinary VM).
    type: bool
    default: false
  name:
    description:
      - Name of the one new guest (a DNS name). Use O(clones) for many.
      - Mutually exclusive with O(clones).
    type: str
  newid:
    description:
      - vmid for the guest O(name). Without it the vmid is allocated (see O(vmid_floor)).
      - If a guest named O(name) exists with another vmid, or another guest has this vmid, the module fails.
    type: int
  clones:
    description:
      - Many new guests in one run, cloned in parallel. Each item takes the common options as defaults.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the new guest.
        type: str
        required: true
      newid:
        description:
          - vmid for this guest.
        type: int
      node:
        description:
          - Node for this guest (else O(node) or O(placement)).
        type: str
      description:
        description:
          - Description for this guest (else O(description)).
        type: str
      tags:
        description:
          - Tags for this guest (else O(tags)).
        type: list
        elements: str
      pool:
        description:
          - Pool for this guest (else O(pool)).
        type: str
      placement_memory:
        description:
          - Memory in MiB this guest counts for on its node in the placement projection (else O(placement_memory)).
        type: int
  vmid_floor:
    description:
      - Allocate the smallest vmid at or above this that no guest has and no other clone of this run took.
      - Without it, allocation starts at PVE's C(/cluster/nextid) (the lowest free id, or the C(next-id) range of
        C(datacenter.cfg)), still race-safe.
      - When PVE answers that the id exists (another playbook took it meanwhile), the next free id is tried.
    type: int
  node:
    description:
      - Node for every new guest. Without it, O(placement) chooses.
    type: str
  placement:
    description:
      - How the node of each new guest is chosen when neither the item nor O(node) gives it. Offline nodes are
        skipped, and the choice is projected after each guest, counting the template's memory for it, so a bulk
        of clones spreads out.
      - V(memory) the online node with the most free memory in bytes; V(memory_percent) the largest free share
        of its memory; V(round_robin) the online nodes in name order, in turn, starting with the node holding
        the fewest guests; V(random) any online node; V(template) the template's node.
      - Free memory counts the memory of stopped guests as used (a lab starts them later).
      - PVE clones to another node only if every volume of the template is on shared storage (and O(storage),
        if given, is shared). Otherwise every clone goes on the template's node, with a warning.
    type: str
    choices: [memory, memory_percent, round_robin, random, template]
    default: memory
  placement_memory:
    description:
      - Memory in MiB each new guest counts for on its node in the placement projection (what O(placement)
        chooses by, and the warning about a node planned beyond its memory), instead of the template's.
      - For guests that will get more memory after the clone (M(pvelab.proxmox.pve_vm) O(pvelab.proxmox.pve_vm#module:memory)),
        or for one guest that stands for several which follow it onto its node (the lab role places a student's
        machines together this way).
    type: int
  full:
    description:
      - Full clone (a copy of the disks). V(false) makes linked clones, which need a template and refuse
        O(storage) and O(format).
    type: bool
    default: true
  storage:
    description:
      - Target storage for the disks of a full clone. It must be shared for a clone to another node.
    type: str
  format:
    description:
      - Target disk format of a full clone.
    type: str
    choices: [raw, qcow2, vmdk]
  pool:
    description:
      - Pool the new guests join. It must exist (see M(pvelab.proxmox.pve_pool)).
    type: str
  description:
    description:
      - Description of the new guests.
    type: str
  tags:
    description:
      - Tags of the new guests, replacing the template's tags. Set after the clone (the clone API takes none).
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for each clone task. Full clones on slow storage take minutes.
    type: int
    default: 900
  parallel:
    description:
      - How many clone tasks run at once.
    type: int
    default: 4
  lock_timeout:
    description:
      - Seconds to keep retrying while PVE refuses because the template's or a guest's config is locked
        (a backup, another clone, ...).
    type: int
    default: 120
notes:
  - A re-run finds a guest under its name. A guest of that name still locked by a clone under way (another run)
    is waited for, up to O(timeout).
  - A VM clone under way has no name yet (until the clone ends, PVE writes only the lock V(clone) into its config).
    When such a clone exists and the template's node lists running clone tasks of this template (an earlier run
    that was stopped, or another run at the same time), those tasks are waited for, up to O(timeout), before
    anything is cloned, so that no name is cloned twice. A user without C(Sys.Audit) on the node sees only its
    own tasks there.
  - O(tags), O(description) and O(pool) apply to guests this run creates; an existing guest is left as it is
    (change it with M(pvelab.proxmox.pve_vm)), except that one still carrying the template's tags gets O(tags),
    because the run that cloned it was stopped before it could set them.
  - PVE has no way to reserve a name. Two runs that clone the B(same) name at the same moment can both clone it (a
    later run then fails on the ambiguous name); runs with different names never collide, whatever their vmids.
seealso:
  - module: pvelab.proxmox.pve_vm
  - module: pvelab.proxmox.pve_pool
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: One VM from a template, on the node with the most free memory
  pvelab.proxmox.pve_clone:
    template: tmpl-debian
    name: netadmin-alice
    pool: netadmin
    tags: [netadmin]

- name: A whole class at once, ids from 2000 up, spread round robin
  pvelab.proxmox.pve_clone:
    template: 9000
    clones:
      - name: netadmin-alice
      - name: netadmin-bob
      - name: netadmin-carol
        node: pve3
    vmid_floor: 2000
    placement: round_robin
    pool: netadmin
    parallel: 8
  register: lab

- name: The vmid and node of every student VM
  ansible.builtin.debug:
    msg: "{{ lab['items'] | items2dict(key_name='name', value_name='vmid') }}"
'''

RETURN = r'''
vmid:
  description: vmid of the guest O(name) (single form); in check mode the planned id.
  returned: when O(name) is given
  type: int
  sample: 2001
node:
  description: Node of the guest O(name) (single form).
  returned: when O(name) is given
  type: str
  sample: pve2
name:
  description: The name (single form).
  returned: when O(name) is given
  type: str
  sample: netadmin-alice
items:
  description:
    - One entry per requested guest, in the order asked, also when the module fails.
    - It replaced the result C(clones) in this 0.x release (the same entries, with O(clones[].name) also as RV(items[].key)),
      the result shape every list-form module of the collection shares.
    - "Read it as C(result['items']): in Jinja C(result.items) is the dictionary's own method."
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: What names the entry, the name of the guest (as in the diff).
      type: str
      sample: netadmin-alice
    name:
      description: Name of the guest.
      type: str
      sample: netadmin-alice
    vmid:
      description: Its vmid (planned in check mode; null for a failed clone that got none).
      type: int
      sample: 2001
    node:
      description: Its node (planned in check mode).
      type: str
      sample: pve2
    changed:
      description: Whether this run cloned it (or would, in check mode).
      type: bool
      sample: true
    status:
      description: V(exists) (found by name, left as it is), V(created), V(planned) (check mode) or V(failed).
      type: str
      sample: created
    msg:
      description: Why the clone failed, or what was cleaned up after it.
      type: str
      returned: when there is something to say
      sample: "clone task failed: storage 'local-lvm' is full"
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import BulkModule, ItemSpec, parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    guest_path,
    remove_leftover,
    run_tasks,
    update_config,
    wait_until,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._placement import (
    PLACEMENTS,
    Placer,
    VmidAllocator,
    clone_targets,
    is_vmid_collision,
    node_loads,
    storage_table,
    volumes_of,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import is_template, split_tags
from ansible_collections.pvelab.proxmox.plugins.module_utils._tasks import PveTaskError, PveTaskTimeout, wait_tasks
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_pool,
    validate_tag,
    validate_vm_name,
    validate_vmid,
)

# How often one clone takes another vmid after losing a race for one.
MAX_COLLISIONS = 50

# One new guest: `name` alone (the single form) or an item of `clones`; node, description, tags and pool default to
# the top-level value, newid is one guest's (in the list form only per item).
SPEC = ItemSpec('clones', dict(
    name=dict(type='str'),
    newid=dict(type='int'),
    node=dict(type='str'),
    description=dict(type='str'),
    tags=dict(type='list', elements='str'),
    pool=dict(type='str'),
    placement_memory=dict(type='int'),
), keys=['name'], per_item=['newid'], top_only=dict(
    template=dict(type='str', required=True, aliases=['source']),
    allow_non_template=dict(type='bool', default=False),
    vmid_floor=dict(type='int'),
    placement=dict(type='str', choices=list(PLACEMENTS), default='memory'),
    full=dict(type='bool', default=True),
    storage=dict(type='str'),
    format=dict(type='str', choices=['raw', 'qcow2', 'vmdk']),
    timeout=dict(type='int', default=900),
    parallel=dict(type='int', default=4),
    lock_timeout=dict(type='int', default=120),
))


class PveClone(BulkModule):
    """validate: names, ids, pools and tags, and the top-level options; resolve: the template and every name in
    the one read of the cluster (waiting for clones under way); plan: node, pool check and vmid of each clone;
    apply: the clone tasks and the tags. An item's own state: vmid, target (its node), status, msg, collisions."""

    spec = SPEC
    noun = 'clone'
    nouns = 'clones'
    # apply() leaves out the clones in check mode, but still tells which guests would get their tags (finish_tags)
    apply_in_check_mode = True

    @classmethod
    def main(cls):
        cls(cls.spec.module(required_by={'newid': 'name'})).run()

    def __init__(self, module):
        super().__init__(module)
        self.names, self.ids = set(), {}
        self.todo, self.untagged = [], []

    # ------------------------------------------------------------------ input

    def validate(self, item):
        """One guest asked for; also refuses a name or a newid asked for twice. The last item carries the errors of
        the top-level options, so that one message names every problem."""
        values = item.values
        errors = []
        try:
            values['name'] = validate_vm_name(item['name'], item.where or 'name')
            if item['newid'] is not None:
                values['newid'] = validate_vmid(item['newid'], '{0} newid'.format(item['name']))
            if item['pool'] is not None:
                validate_pool(item['pool'], '{0} pool'.format(item['name']))
            if item['tags'] is not None:
                values['tags'] = [validate_tag(t, '{0} tag'.format(item['name'])) for t in item['tags']]
            if item['placement_memory'] is not None and item['placement_memory'] < 1:
                raise ValueError('{0} placement_memory must be at least 1 (MiB)'.format(item['name']))
        except ValueError as exc:
            errors.append(str(exc))
        else:
            if item['name'] in self.names:
                errors.append('name {0!r} is asked for twice'.format(item['name']))
            self.names.add(item['name'])
            if item['newid'] is not None:
                if item['newid'] in self.ids:
                    errors.append('newid {0} is asked for both {1!r} and {2!r}'.format(
                        item['newid'], self.ids[item['newid']], item['name']))
                self.ids[item['newid']] = item['name']
            item.key = item['name']
        item.vmid, item.target, item.status, item.msg, item.collisions = item['newid'], None, None, None, 0
        if item.index == len(self.items) - 1:
            errors += self.option_errors()
        if errors:
            raise ValueError('; '.join(errors))

    def duplicates(self, items):
        # validate() refused the names asked for twice; an empty list still has its options checked
        return super().duplicates(items) + ([] if items else self.option_errors())

    def option_errors(self):
        p = self.params
        errors = []
        if not p['full'] and (p['storage'] or p['format']):
            errors.append('storage and format apply to full clones only (full=true)')
        if p['vmid_floor'] is not None:
            try:
                validate_vmid(p['vmid_floor'], 'vmid_floor')
            except ValueError as exc:
                errors.append(str(exc))
        if p['parallel'] < 1:
            errors.append('parallel must be at least 1')
        return errors

    # ---------------------------------------------------------------- resolve

    def resolve(self, items):
        """The template, then every name (one read of the cluster); a conflict fails the run here."""
        self.client.lock_timeout = self.params['lock_timeout']
        self.template = self.find_template()
        self.kind = self.template.get('type') or 'qemu'
        # The lock a guest holds while it is being cloned: qemu-server's 'clone', pve-container's 'create'.
        self.clone_lock = 'create' if self.kind == 'lxc' else 'clone'
        self.untagged = []
        self.todo = self.sort_out()
        if self.todo and self.wait_for_template_clones():
            # clones of this template ran when the cluster was read: their names are known only now
            self._cluster = None
            self.template = self.find_template()
            self.untagged = []
            self.todo = self.sort_out()
        return []

    def find_template(self):
        p = self.params
        ref = str(p['template']).strip()
        found = self.cluster.guest(int(ref)) if ref.isdigit() else self.cluster.find_guest(name=ref)
        if found is not None and not (self.cluster.vouched(found) and is_template(found)):
            # A template never turns back into a VM, so a reported template is one; a guest reported as a VM may
            # have been converted since pvestatd's last report: its node's own list says what it is now.
            found = self.cluster.guest(found['vmid'], live=True)
        if found is None:
            self.fail('template {0!r} not found (no guest with that {1})'.format(ref, 'vmid' if ref.isdigit() else 'name'))
        if not is_template(found) and not p['allow_non_template']:
            self.fail('{0!r} (vmid {1}) is not a template; convert it (pve_vm state=template) or set '
                      'allow_non_template=true for a full copy'.format(found.get('name'), found['vmid']))
        if not is_template(found) and not p['full']:
            self.fail('linked clones (full=false) need a template; {0!r} (vmid {1}) is not one'.format(
                found.get('name'), found['vmid']))
        return found

    def sort_out(self):
        """Split the items into those that exist (by name) and those to clone; refuse conflicts up front."""
        errors, todo, busy = [], [], []
        for item in self.items:
            try:
                found = self.cluster.find_guest(name=item['name'])
            except PveError as exc:
                errors.append(str(exc))
                continue
            if found is not None:
                if int(found['vmid']) == int(self.template['vmid']):
                    errors.append('{0!r} is the template itself'.format(item['name']))
                elif item['newid'] is not None and int(found['vmid']) != item['newid']:
                    errors.append('{0!r} exists with vmid {1}, not newid {2}'.format(
                        item['name'], found['vmid'], item['newid']))
                else:
                    item.vmid, item.target, item.status = int(found['vmid']), found.get('node'), 'exists'
                    if item['tags'] is not None and self.template_tagged(found) and \
                            sorted(set(item['tags'])) != self.template_tags():
                        self.untagged.append(item)
                    if found.get('lock') == self.clone_lock and not self.check_mode:
                        busy.append(item)
                continue
            if item['newid'] is not None:
                other = self.cluster.guest(item['newid'])
                if other is not None:
                    errors.append('newid {0} for {1!r} is taken by {2!r}'.format(
                        item['newid'], item['name'], other.get('name')))
                    continue
            todo.append(item)
        if errors:
            self.fail('nothing was cloned: ' + '; '.join(errors))
        return todo + self.wait_for_busy(busy)

    def wait_for_template_clones(self):
        """Wait for the template's clone tasks that ran when the cluster was read; True if there were any.

        A qemu clone under way has a config holding only `lock: clone` (qemu-server writes the name when the
        clone ends), so a guest this or an earlier, killed or concurrent run is cloning cannot be found by its
        name. The template's node lists its running clone tasks (source=active; a user without Sys.Audit on the
        node sees its own): while one runs and a nameless clone exists, the names still missing may be among
        them, so those tasks are waited for (up to O(timeout)) before anything is cloned.
        """
        if self.kind != 'qemu' or self.check_mode or not self.cluster.unnamed_clones():
            return False
        tasks = self.client.get('/nodes/{0}/tasks'.format(self.template['node']), source='active',
                                typefilter='qmclone', vmid=int(self.template['vmid'])) or []
        running = dict((t['upid'], t['upid']) for t in tasks if t.get('status') == 'RUNNING')
        if not running:
            return False
        outcome = wait_tasks(self.client, running, timeout=self.params['timeout'])
        stuck = [upid for upid, error in outcome.items() if isinstance(error, PveTaskTimeout)]
        if stuck:
            self.fail('nothing was cloned: {0} clone task(s) of template {1!r} still run after {2} s ({3}); one may be '
                      'making a guest of the names asked for, so none is cloned again: run again once they have '
                      'ended'.format(len(stuck), self.template.get('name'), self.params['timeout'], ', '.join(stuck)))
        return True

    def wait_for_busy(self, busy):
        """Guests of our names still locked by a clone under way (another run): wait; clone those that vanish."""
        if not busy:
            return []

        def probe(item):
            entry = {'node': item.target, 'type': self.kind, 'vmid': item.vmid}
            try:
                status = self.client.get(guest_path(entry) + '/status/current') or {}
            except PveError as exc:
                if 'does not exist' not in str(exc):
                    raise
                # A clone to another node ends by moving the config there: look for it before calling it gone
                # (the vmid's node is live in /cluster/resources, its name only in its own config).
                now = [g for g in self.client.get('/cluster/resources', type='vm') or []
                       if int(g.get('vmid', 0)) == item.vmid and g.get('node') != item.target]
                if not now:
                    return 'gone'
                entry = dict(entry, node=now[0]['node'])
                try:
                    status = self.client.get(guest_path(entry) + '/config') or {}
                except PveError as again:
                    if 'does not exist' not in str(again):
                        raise
                    return 'gone'
                if status.get('hostname' if self.kind == 'lxc' else 'name') != item['name']:
                    return 'gone'
                item.target = entry['node']
            return None if status.get('lock') == self.clone_lock else 'done'
        by_name = dict((i['name'], i) for i in busy)
        done, stuck = wait_until(list(by_name), lambda name: probe(by_name[name]), self.params['timeout'],
                                 parallel=self.params['parallel'])
        again = []
        for item in busy:
            if done.get(item['name']) == 'gone':
                self.cluster.forget(item.vmid)
                item.vmid, item.target, item.status = item['newid'], None, None
                again.append(item)
            elif item['name'] in stuck:
                item.status = 'failed'
                item.msg = ('{0} (vmid {1}) exists but is still locked by a clone after {2} s; if no clone runs, '
                            'remove it (qm unlock {1}; qm destroy {1} --purge) and run again'.format(
                                item['name'], item.vmid, self.params['timeout']))
        return again

    # --------------------------------------------------------------- planning

    def plan(self, items):
        """Node, pool and vmid of every guest to clone; a guest found with the template's tags gets the asked ones."""
        if self.todo:
            self.place(self.todo)
            self.check_pools(self.todo)
            self.allocate(self.todo)
        for item in self.todo:
            item.action = 'clone'
        for item in self.untagged:
            item.action = item.action or 'tags'

    def place(self, todo):
        p = self.params
        tnode = self.template['node']
        loads = node_loads(self.cluster.resources)
        if not loads.get(tnode, {}).get('online'):
            self.fail('the node {0!r} of template {1!r} is not online; PVE clones on the template\'s node'.format(
                tnode, self.template.get('name')))
        explicit = set(i['node'] for i in todo if i['node'])
        online = [n for n, load in loads.items() if load['online']]
        eligible, reason = None, None
        if len(online) > 1 and (p['placement'] != 'template' and any(not i['node'] for i in todo)
                                or explicit - {tnode}):
            config = self.client.get(guest_path(self.template) + '/config') or {}
            eligible, reason = clone_targets(tnode, volumes_of(config), storage_table(self.cluster.resources),
                                             p['storage'], nodes=list(loads))
        self.placer = Placer(loads, p['placement'], need=int(self.template.get('maxmem') or 0),
                             eligible=eligible, template_node=tnode)
        errors, warned = [], False
        for item in todo:
            if item['node']:
                why = self.placer.check(item['node'])
                if why:
                    errors.append('{0!r}: {1}{2}'.format(item['name'], why, ' ({0})'.format(reason) if reason and
                                                         item['node'] not in (eligible or ()) else ''))
                    continue
                need = item['placement_memory']
                self.placer.place(item['node'], need=None if need is None else need * 1048576)
                item.target = item['node']
            else:
                need = item['placement_memory']
                item.target = self.placer.choose(need=None if need is None else need * 1048576)
                if reason and p['placement'] != 'template' and not warned:
                    warned = True
                    self.module.warn('placement {0}: {1}'.format(p['placement'], reason))
        if errors:
            self.fail('nothing was cloned: ' + '; '.join(errors))
        for warning in self.placer.warnings:
            self.module.warn(warning)

    def check_pools(self, todo):
        pools = set(i['pool'] for i in todo if i['pool'])
        if not pools:
            return
        known = set(x.get('poolid') for x in self.client.get('/pools') or [])
        missing = sorted(pools - known)
        if missing and self.check_mode:
            self.module.warn('pool {0} does not exist yet (check mode: it may be made by an earlier task)'.format(
                ', '.join(missing)))
        elif missing:
            self.fail('nothing was cloned: pool {0} does not exist (create it with pvelab.proxmox.pve_pool)'.format(
                ', '.join(missing)))

    def allocate(self, todo):
        floor = self.params['vmid_floor']
        if floor is None:
            floor = int(self.client.get('/cluster/nextid'))
        self.allocator = VmidAllocator(self.cluster.used_vmids(), floor=floor)
        for item in todo:
            if item['newid'] is not None and not self.allocator.reserve(item['newid']):
                self.fail('nothing was cloned: newid {0} for {1!r} is taken'.format(item['newid'], item['name']))
        auto = [i for i in todo if i['newid'] is None]
        for item, vmid in zip(auto, self.allocator.planned(len(auto))):
            item.vmid = vmid
        for item in todo:
            item.status, item.changes = 'planned', ['clone']
        self.changed()

    # ---------------------------------------------------------------- writes

    def apply(self, items):
        """The clone tasks (not in check mode) in the order sort_out found them, then the tags of the guests found
        with the template's."""
        if not self.check_mode:
            self.clone(self.todo)
        self.finish_tags(self.untagged)

    def clone(self, todo):
        p = self.params
        by_name = dict((i['name'], i) for i in todo)
        tpath = guest_path(self.template)
        for item in todo:
            if item['newid'] is None:
                item.vmid = None

        def start(name):
            item = by_name[name]
            if item.vmid is None:
                item.vmid = self.allocator.allocate()
            params = dict(newid=item.vmid, full=p['full'], storage=p['storage'], format=p['format'],
                          pool=item['pool'], description=item['description'])
            params['hostname' if self.kind == 'lxc' else 'name'] = item['name']
            if item.target != self.template['node']:
                params['target'] = item.target
            if self.kind == 'lxc':
                params.pop('format')
            return self.client.post(tpath + '/clone', **params)

        def retry(name, error):
            item = by_name[name]
            if item['newid'] is None and item.vmid is not None and is_vmid_collision(error, item.vmid) \
                    and item.collisions < MAX_COLLISIONS:
                self.allocator.taken(item.vmid)
                item.collisions += 1
                item.vmid = None
                return True
            if item['newid'] is None and item.vmid is not None and not isinstance(error, PveTaskError):
                # refused before PVE made anything: the id is free again for the others
                self.allocator.release(item.vmid)
            return False

        outcome = run_tasks(self.client, list(by_name), start, parallel=p['parallel'], timeout=p['timeout'],
                            retry=retry)
        made = []
        for name, error in outcome.items():
            item = by_name[name]
            if error is None:
                item.status = 'created'
                made.append(item)
                continue
            item.status, item.changes, item.msg = 'failed', [], self.reason(error)
            if isinstance(error, PveTaskError) and item.vmid is not None:
                try:
                    note = remove_leftover(self.client, list(dict.fromkeys([self.template['node'], item.target])),
                                           item.vmid, item['name'], self.kind, timeout=p['timeout'])
                except PveError as exc:
                    note = str(exc)
                if note:
                    item.msg += '; ' + note
            if item['newid'] is None and not isinstance(error, PveTaskTimeout):
                item.vmid = None  # nothing holds the id: PVE refused, or the failed clone was cleaned up
        for item in made:
            self.cluster.remember(dict(vmid=item.vmid, name=item['name'], node=item.target, type=self.kind,
                                       status='stopped', template=0, maxmem=self.template.get('maxmem'),
                                       pool=item['pool']))
        self.set_tags(made)

    def put_tags(self, item):
        entry = {'node': item.target, 'type': self.kind, 'vmid': item.vmid}
        if item['tags']:
            update_config(self.client, entry, {'tags': ';'.join(item['tags'])})
        else:
            update_config(self.client, entry, {}, ['tags'])

    def set_tags(self, made):
        """The clone copies the template's tags; set the asked ones where they differ."""
        old = sorted(split_tags(self.template.get('tags')))
        todo = [i for i in made if i['tags'] is not None and sorted(set(i['tags'])) != old]
        for item, _none, error in parallel_map(self.put_tags, todo, self.params['parallel']):
            if error is not None:
                item.status = 'failed'
                item.msg = 'cloned as vmid {0}, but setting its tags failed: {1}'.format(item.vmid, error)

    def template_tags(self):
        return sorted(set(split_tags(self.template.get('tags'))))

    def template_tagged(self, guest):
        return sorted(set(split_tags(guest.get('tags')))) == self.template_tags()

    def finish_tags(self, items):
        """Guests of our names that still carry the template's tags: the run that cloned them was killed before it
        set the asked ones (set_tags follows the clone task). Set them now, unless they changed meanwhile."""
        def put(item):
            if self.check_mode:
                return True
            entry = {'node': item.target, 'type': self.kind, 'vmid': item.vmid}
            if not self.template_tagged(self.client.get(guest_path(entry) + '/config') or {}):
                return False
            self.put_tags(item)
            return True
        for item, changed, error in parallel_map(put, items, self.params['parallel']):
            if error is not None:
                item.status = 'failed'
                item.msg = 'setting the tags of {0} (vmid {1}) failed: {2}'.format(item['name'], item.vmid, error)
            elif changed:
                item.changes = item.changes or ['tags']

    @staticmethod
    def reason(error):
        if isinstance(error, PveTaskTimeout):
            return '{0}; the clone may still finish in PVE: run again once it has'.format(error)
        return str(error)

    # ----------------------------------------------------------------- result

    def report(self, items):
        """`items` (key = name, with vmid, node and status), the single form's vmid, node and name, a diff keyed by
        name, and a failure that names each failed clone."""
        for item in items:
            item.view = dict(name=item['name'], vmid=item.vmid, node=item.target, status=item.status)
            item.error = item.msg
        self.result['items'] = [item.result() for item in items]
        if items and items[0].single:
            self.result.update(vmid=items[0].vmid, node=items[0].target, name=items[0]['name'])
        self.diff['before'] = dict((i.key, {'vmid': i.vmid, 'node': i.target}) for i in items if i.status == 'exists')
        self.diff['after'] = dict((i.key, {'vmid': i.vmid, 'node': i.target}) for i in items
                                  if i.status in ('exists', 'created', 'planned'))
        self.changed(any(item.changed for item in items))
        failed = [i for i in items if i.status == 'failed']
        if failed:
            self.fail('{0} of {1} {2} failed: {3}'.format(len(failed), len(items), self.nouns, '; '.join(
                '{0}: {1}'.format(i['name'], i.msg) for i in failed)))


def main():
    PveClone.main()


if __name__ == '__main__':
    main()
