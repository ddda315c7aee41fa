#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_vm
short_description: Manage the power state, config and life of existing Proxmox VE guests, one or many at once
version_added: 0.1.0
description:
  - Finds a guest - a VM or a container - by vmid or by name and brings it to a state - started, stopped,
    shut down, restarted, converted to a template or removed - and to a config (CPU, memory, NICs keeping their
    MAC addresses, cloud-init, tags, description, start at boot, guest agent).
  - Whether a guest is a VM or a container is read from the cluster (a vmid is unique across both); O(type)
    only narrows the search.
  - The list form O(vms) handles many guests in one run - one read of the cluster, config reads and power
    actions in parallel (O(parallel) at a time), each task followed to its end.
  - Can wait until the guest agent answers and until the guest reports an IP address.
  - It does not create guests; make them with M(pvelab.proxmox.pve_clone).
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  vmid:
    description:
      - vmid of the guest. With O(name) too, the guest is found by vmid and renamed to O(name).
    type: int
  name:
    description:
      - Name of the guest (found by name when O(vmid) is not given). A name two guests carry is an error.
    type: str
  node:
    description:
      - Node the guest must be on; a guest found elsewhere is an error. Narrows a search by name.
    type: str
  type:
    description:
      - V(qemu) for a VM, V(lxc) for a container. Not set - either; the guest's own type is used.
      - Given, a guest of the other type is an error (by vmid), or is not a match (by name).
    type: str
    choices: [qemu, lxc]
  vmids:
    description:
      - Many guests in one run, each with the top-level options (for example O(state=absent) for all of them); the
        same as O(vms) with only O(vms[].vmid) in each item. Can be given with O(vms).
    type: list
    elements: int
  vms:
    description:
      - Many guests in one run. Each item takes the same options as the module (C(vmid) or C(name), C(state),
        config options, ...); what an item leaves out comes from the module's options.
      - Mutually exclusive with O(vmid) and O(name).
    type: list
    elements: dict
    suboptions:
      vmid:
        description: See O(vmid).
        type: int
      name:
        description: See O(name).
        type: str
      node:
        description: See O(node).
        type: str
      type:
        description: See O(type).
        type: str
        choices: [qemu, lxc]
      state:
        description: See O(state).
        type: str
        choices: [present, started, stopped, shutdown, restarted, absent, template]
      force:
        description: See O(force).
        type: bool
      purge:
        description: See O(purge).
        type: bool
      timeout:
        description: See O(timeout).
        type: int
      cores:
        description: See O(cores).
        type: int
      sockets:
        description: See O(sockets).
        type: int
      memory:
        description: See O(memory).
        type: int
      net:
        description: See O(net).
        type: dict
      ciuser:
        description: See O(ciuser).
        type: str
      cipassword:
        description: See O(cipassword).
        type: str
      sshkeys:
        description: See O(sshkeys).
        type: str
      ipconfig:
        description: See O(ipconfig).
        type: dict
      tags:
        description: See O(tags).
        type: list
        elements: str
      description:
        description: See O(description).
        type: str
      onboot:
        description: See O(onboot).
        type: bool
      agent:
        description: See O(agent).
        type: bool
      wait_for_agent:
        description: See O(wait_for_agent).
        type: bool
      wait_for_ip:
        description: See O(wait_for_ip).
        type: bool
  state:
    description:
      - V(present) only applies the config. A missing guest is an error for every state but V(absent).
      - V(started), V(stopped) (a hard stop), V(shutdown) (ACPI power off within O(timeout) seconds; with O(force)
        stopped hard when the time is up), V(restarted) (a reboot, which also applies pending changes; a
        stopped guest is started; always a change).
      - V(template) converts the guest to a template and waits for the task; a running guest is stopped first
        only with O(force).
      - V(absent) removes the guest (with O(purge) also from ACLs, pools, replication and backup jobs, and its
        unreferenced disks); a running guest is stopped first only with O(force).
    type: str
    choices: [present, started, stopped, shutdown, restarted, absent, template]
    default: present
  force:
    description:
      - V(absent), V(template) - stop a running guest first. V(shutdown) - stop it hard when it did not power
        off within O(timeout).
    type: bool
    default: false
  purge:
    description:
      - With V(absent), also remove the guest from ACLs, pools, replication and backup jobs, and destroy its
        disks that the config does not reference.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each task (start, stop, shutdown, reboot, template, delete). For V(shutdown) it is
        also the time the guest gets to power off.
    type: int
    default: 300
  cores:
    description: CPU cores per socket.
    type: int
  sockets:
    description: CPU sockets (VMs only).
    type: int
  memory:
    description:
      - Memory in MiB.
      - Below what the guest's OS type (its config's C(ostype)) needs to boot, the module warns - the floors are
        256 MiB for Linux 2.6+ (V(l26)) and V(other), 64 MiB for V(l24), 1024 MiB for Solaris, Windows 7 and
        Server 2008 (V(win7), V(w2k8)), 2048 MiB for later Windows (V(win8), V(win10), V(w2k12) ...), 4096 MiB
        for Windows 11 (V(win11)), and 64 MiB for every container.
    type: int
  net:
    description:
      - 'NICs, C(netN) to a property string (V(virtio,bridge=vmbr0,firewall=1)) or a dict
        (C({model: virtio, bridge: vmbr0, firewall: true})).'
      - The NIC keeps its MAC address (and, if none is given, its model) unless the value names one. An empty
        value removes the NIC. A NIC the VM does not have yet, given without a model, gets the model of the VM's
        first NIC (and a new MAC from PVE).
      - For a container, C(name=eth0,bridge=vmbr0,ip=dhcp); its C(hwaddr) is kept the same way.
      - Everything else of the NIC is what the value says (items it leaves out are removed).
    type: dict
  ciuser:
    description: cloud-init user (VMs only).
    type: str
  cipassword:
    description:
      - cloud-init password (VMs only). PVE shows a stored password only as asterisks, so it is set when the
        guest has none, or on every run with O(update_cipassword=always).
    type: str
  update_cipassword:
    description:
      - V(on_create) sets O(cipassword) only when the guest has no cloud-init password yet; V(always) sets it on
        every run (and so always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  sshkeys:
    description: cloud-init public SSH keys, one per line (VMs only).
    type: str
  ipconfig:
    description:
      - cloud-init network config, C(ipconfigN) to a value like V(ip=dhcp) or V(ip=192.0.2.20/24,gw=192.0.2.1)
        (VMs only). An empty value removes it.
    type: dict
  tags:
    description: Tags of the guest (the whole list; an empty list removes every tag).
    type: list
    elements: str
  description:
    description: Description (notes) of the guest.
    type: str
  onboot:
    description: Start the guest when its node boots.
    type: bool
  agent:
    description: Enable the QEMU guest agent (VMs only; other agent settings are kept).
    type: bool
  wait_for_agent:
    description:
      - Wait until the guest agent answers (a container - until it runs), then return its addresses.
      - Applies to guests that run after the state is applied (a stopped guest with V(present) is skipped with a
        warning).
    type: bool
    default: false
  wait_for_ip:
    description:
      - Wait until the guest reports an address that is not loopback or link-local, and return its addresses.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for O(wait_for_agent) and O(wait_for_ip).
    type: int
    default: 300
  parallel:
    description: How many guests are worked on at once (config reads and changes, tasks, agent queries).
    type: int
    default: 8
  lock_timeout:
    description:
      - Seconds to keep retrying while PVE refuses because the guest's config is locked (a backup, a snapshot,
        another task).
    type: int
    default: 120
notes:
  - Config changes to a running VM that PVE cannot apply live become pending; they are returned in
    RV(items[].pending) and applied at the next start or with O(state=restarted).
  - A running guest with pending changes is not restarted by O(state=started).
seealso:
  - module: pvelab.proxmox.pve_clone
  - module: pvelab.proxmox.pve_vm_info
  - module: pvelab.proxmox.pve_snapshot
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Start a lab VM and wait for its address
  pvelab.proxmox.pve_vm:
    name: netadmin-alice
    state: started
    wait_for_ip: true
  register: vm

- name: Its address
  ansible.builtin.debug:
    msg: "{{ vm.vm.ip }}"

- name: Size and cloud-init of a stopped VM (the NIC keeps its MAC)
  pvelab.proxmox.pve_vm:
    vmid: 2001
    cores: 2
    memory: 4096
    net:
      net0: virtio,bridge=vmbr1,firewall=1
    ciuser: student
    cipassword: "{{ vault_student_password }}"
    sshkeys: "{{ lookup('ansible.builtin.file', 'teacher.pub') }}"
    ipconfig:
      ipconfig0: ip=dhcp
    tags: [netadmin]

- name: Start guests by vmid, VMs and containers alike (each one's type is read from the cluster)
  pvelab.proxmox.pve_vm:
    vmids: [2001, 2002, 3001]
    state: started

- name: Start a whole class at once
  pvelab.proxmox.pve_vm:
    vms:
      - name: netadmin-alice
      - name: netadmin-bob
      - vmid: 2003
        state: stopped
    state: started
    wait_for_ip: true
    parallel: 16
  register: started

- name: Their addresses (items in brackets - started.items would be the dict's method)
  ansible.builtin.debug:
    msg: "{{ started['items'] | items2dict(key_name='name', value_name='ip') }}"

- name: Remove a VM, stopping it first
  pvelab.proxmox.pve_vm:
    name: netadmin-alice
    state: absent
    force: true
'''

RETURN = r'''
items:
  description:
    - One entry per guest, in the order asked (the single form gives one); also when the module fails.
    - It replaced C(vms), the result of the list form, in this 0.x release.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description:
        - The guest as messages name it, and the key of its diff in the list form - its name and vmid, or
          V(vmid 2001) for a guest without a name.
        - A guest not found (only with O(state=absent)) as it was asked - its name in quotes, or V(vmid 2001).
      type: str
      sample: netadmin-alice (vmid 2001)
    vmid:
      description: vmid.
      type: int
      sample: 2001
    name:
      description: Name.
      type: str
      sample: netadmin-alice
    node:
      description: Node.
      type: str
      sample: pve2
    type:
      description: V(qemu) or V(lxc).
      type: str
      sample: qemu
    status:
      description: V(running), V(stopped), or V(absent) once removed (planned status in check mode).
      type: str
      sample: running
    template:
      description: Whether it is a template.
      type: bool
      sample: false
    changed:
      description: Whether this guest changed.
      type: bool
      sample: true
    ips:
      description: Its addresses without loopback and link-local ones, in the order the guest lists them.
      type: list
      elements: str
      returned: with O(wait_for_ip) or O(wait_for_agent)
      sample: [10.10.7.209]
    ip:
      description: The first IPv4 address of RV(items[].ips) (else the first address).
      type: str
      returned: with O(wait_for_ip) or O(wait_for_agent)
      sample: 10.10.7.209
    pending:
      description: Config changes waiting for the next start (key to new value; a removal is null). The
        cloud-init password shows as asterisks.
      type: dict
      returned: when config options are given
      sample: {memory: "4096"}
    msg:
      description: Why this guest failed.
      type: str
      returned: on failure
vm:
  description: The guest of the single form - the one entry of RV(items), with the same fields.
  returned: when O(vmid) or O(name) is given
  type: dict
  sample: {key: netadmin-alice (vmid 2001), vmid: 2001, name: netadmin-alice, node: pve2, type: qemu,
           status: running, template: false, changed: true}
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import ItemSpec, parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import is_template
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    KINDS,
    QEMU_ONLY,
    STATES,
    GuestBulkModule,
    destroy,
    agent_ping,
    first_ipv4,
    item_label,
    label,
    memory_floor,
    next_config,
    plan_config,
    power,
    power_action,
    power_params,
    read_ips,
    read_pending,
    run_tasks,
    to_template,
    update_config,
    wait_until,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_tag,
    validate_vm_name,
    validate_vmid,
)

CONFIG_FIELDS = dict(
    cores=dict(type='int'),
    sockets=dict(type='int'),
    memory=dict(type='int'),
    net=dict(type='dict'),
    ciuser=dict(type='str'),
    cipassword=dict(type='str', no_log=True),
    sshkeys=dict(type='str', no_log=False),
    ipconfig=dict(type='dict'),
    tags=dict(type='list', elements='str'),
    description=dict(type='str'),
    onboot=dict(type='bool'),
    agent=dict(type='bool'),
)
CONFIG = tuple(CONFIG_FIELDS)

SPEC = ItemSpec('vms', dict(
    vmid=dict(type='int'),
    name=dict(type='str'),
    node=dict(type='str'),
    type=dict(type='str', choices=list(KINDS)),
    state=dict(type='str', choices=list(STATES), default='present'),
    force=dict(type='bool', default=False),
    purge=dict(type='bool', default=True),
    timeout=dict(type='int', default=300),
    wait_for_agent=dict(type='bool', default=False),
    wait_for_ip=dict(type='bool', default=False),
    **CONFIG_FIELDS
), keys=['vmid', 'name'], selectors={'vmids': 'vmid'}, top_only=dict(
    update_cipassword=dict(type='str', choices=['on_create', 'always'], default='on_create', no_log=False),
    wait_timeout=dict(type='int', default=300),
    parallel=dict(type='int', default=8),
    lock_timeout=dict(type='int', default=120),
))

# A shutdown or reboot task runs up to `timeout` in PVE; give it this much more before giving up on it.
TASK_SLACK = 60


class PveVm(GuestBulkModule):
    spec = SPEC
    # apply() reads and plans config and power in check mode too; it leaves out the writes there
    apply_in_check_mode = True

    def execute(self):
        if self.params['parallel'] < 1:
            self.fail('parallel must be at least 1')
        self.client.lock_timeout = self.params['lock_timeout']
        super().execute()

    # ------------------------------------------------------------------ input

    def validate(self, item):
        item.status, item.template, item.pending, item.ips = None, False, None, None
        item.config_changes, item.was = ({}, []), (None, False)
        if item['vmid'] is None and item['name'] is None:
            raise ValueError(item.at('give vmid or name'))
        if item['vmid'] is not None:
            item.values['vmid'] = validate_vmid(item['vmid'], item.at('vmid', ' '))
        if item['name'] is not None:
            validate_vm_name(item['name'], item.at('name', ' '))
        for tag in item['tags'] or []:
            validate_tag(tag, item.at('tag', ' '))
        if item['type'] == 'lxc':
            bad = self.qemu_only(item)
            if bad:
                raise ValueError(item.at('{0} do not apply to a container (type lxc)'.format(', '.join(bad))))
        for option in ('cores', 'sockets', 'memory'):
            if item[option] is not None and item[option] < 1:
                raise ValueError(item.at('{0} must be at least 1'.format(option)))

    @staticmethod
    def qemu_only(item):
        return [o for o in QEMU_ONLY if item.get(o) is not None]

    def resolve(self, items):
        """Find every guest in the one cluster read; refuse unknown or ambiguous ones before writing anything."""
        errors, seen = [], {}
        for item in items:
            try:
                if item['vmid'] is not None:
                    entry = self.cluster.find_guest(vmid=item['vmid'], kind=item['type'], live=True)
                else:
                    matches = self.cluster.guests_named(item['name'], item['type'], live=True)
                    if len(matches) > 1 and item['node']:
                        matches = [g for g in matches if g.get('node') == item['node']] or matches
                    if len(matches) > 1:
                        raise PveError('name {0!r} matches {1} guests ({2}); give the vmid'.format(
                            item['name'], len(matches), ', '.join(str(m['vmid']) for m in matches)))
                    entry = matches[0] if matches else None
            except PveError as exc:
                errors.append(item.at(str(exc)))
                continue
            if entry is None:
                if item['state'] != 'absent':
                    errors.append(item.at('no {0} {1} (pve_vm does not create guests; clone them with '
                                          'pvelab.proxmox.pve_clone)'.format(
                                              {'lxc': 'container', 'qemu': 'VM'}.get(item['type'], 'guest'),
                                              'with vmid {0}'.format(item['vmid']) if item['vmid'] is not None
                                              else 'named {0!r}'.format(item['name']))))
                continue
            item.entry = dict(entry)
            # Without `type` the guest's own type decides; a container refuses the VM-only options before any write.
            if entry.get('type') == 'lxc' and item['type'] is None and self.qemu_only(item):
                errors.append(item.at('{0} is a container: {1} do not apply to it'.format(
                    label(entry), ', '.join(self.qemu_only(item)))))
            if item['node'] and entry.get('node') != item['node']:
                errors.append(item.at('{0} is on node {1}, not {2}'.format(label(entry), entry.get('node'),
                                                                           item['node'])))
            vmid = int(entry['vmid'])
            if vmid in seen:
                errors.append('{0} and {1} both name {2}'.format(seen[vmid], item.where or 'the guest', label(entry)))
            seen[vmid] = item.where
            item.status = entry.get('status')
            item.template = is_template(entry)
            if item.template and item['state'] in ('started', 'stopped', 'shutdown', 'restarted'):
                errors.append(item.at('{0} is a template; it cannot be {1}'.format(label(entry), item['state'])))
            if self.cluster.node_offline(entry):
                errors.append(item.at('the node {0} of {1} is not online'.format(entry.get('node'), label(entry))))
        return errors

    @staticmethod
    def config_of(item):
        wanted = dict((k, item[k]) for k in CONFIG if item.get(k) is not None)
        if item['vmid'] is not None and item['name'] is not None:
            wanted['name'] = item['name']
        return wanted

    # ------------------------------------------------------------------- plan

    def plan(self, items):
        """The config each guest needs (its config read, with pending changes), then its staged life: config,
        power (or removal, conversion), waiting for the agent or an address."""
        live = [i for i in items if i.entry is not None]
        self.plan_config([i for i in live if i['state'] != 'absent' and self.config_of(i)])
        for item in live:
            steps = []
            if item.config_changes[0] or item.config_changes[1]:
                steps.append('config')
            if (item['state'] in ('absent', 'template') and not (item['state'] == 'template' and item.template)) \
                    or power_action(item.status, item['state']):
                steps.append('power')
            if item['state'] in ('present', 'started', 'restarted') and (item['wait_for_agent'] or item['wait_for_ip']):
                steps.append('wait')
            item.action = steps or None

    def plan_config(self, items):
        """Read each guest's config (with pending changes) and work out the changes."""
        p = self.params
        for item, read, error in parallel_map(lambda i: read_pending(self.client, i.entry), items, p['parallel']):
            if error is not None:
                item.fail('reading its config failed: {0}'.format(error))
                continue
            current, pending, deleted = read
            try:
                changes, deletes, before, after = plan_config(
                    item.entry['type'], next_config(current, pending, deleted), self.config_of(item),
                    p['update_cipassword'])
            except ValueError as exc:
                item.fail(str(exc))
                continue
            self.warn_memory(item, next_config(current, pending, deleted))
            item.pending = self.pending_view(pending, deleted)
            item.before.update(before)
            item.after.update(after)
            item.config_changes = (changes, deletes)
            if changes or deletes:
                item.changes.append('config')
                if 'name' in changes or 'hostname' in changes:
                    item.entry['name'] = changes.get('name', changes.get('hostname'))

    def warn_memory(self, item, config):
        """PVE takes any memory from 16 MiB; below what the guest's OS type boots with it is set, with a warning."""
        floor = memory_floor(item.entry.get('type'), config.get('ostype'))
        if item['memory'] is not None and item['memory'] < floor:
            self.module.warn('{0}: memory {1} MiB is below the {2} MiB {3} needs to boot'.format(
                item_label(item), item['memory'], floor, 'a container' if item.entry.get('type') == 'lxc'
                else 'a guest of ostype {0}'.format(config.get('ostype') or 'other')))

    @staticmethod
    def pending_view(pending, deleted):
        view = dict((k, '**********' if k == 'cipassword' else v) for k, v in pending.items())
        view.update((k, None) for k in deleted)
        return view

    # ------------------------------------------------------------------ apply

    def apply(self, items):
        """Config PUTs, then the power stages (PVE tasks), then waiting for the agent or an address; in check mode
        only the planned transitions."""
        self.put_config([i for i in items if 'config' in i.action])
        self.lifecycle([i for i in items if i.error is None and 'power' in i.action])
        if not self.check_mode:
            self.wait([i for i in items if i.error is None and 'wait' in i.action])

    def put_config(self, items):
        if self.check_mode:
            return

        def put(item):
            update_config(self.client, item.entry, *item.config_changes)
            if item.status == 'running':
                # what PVE could not apply live is pending now
                current, pending, deleted = read_pending(self.client, item.entry)
                item.pending = self.pending_view(pending, deleted)
        for item, _none, error in parallel_map(put, items, self.params['parallel']):
            if error is not None:
                item.fail('changing its config failed: {0}'.format(error))

    def lifecycle(self, items):
        """Stops that must come first (absent, template with force), then the state's own action."""
        first, second = [], []
        for item in items:
            state, running = item['state'], item.status == 'running'
            if state in ('absent', 'template'):
                if running:
                    if not item['force']:
                        item.fail('it is running; set force=true to stop it before {0}'.format(
                            'removing it' if state == 'absent' else 'converting it to a template'))
                        continue
                    first.append((item, 'stop'))
                second.append((item, 'destroy' if state == 'absent' else 'template'))
            else:
                second.append((item, power_action(item.status, state)))
        for stage in (first, second):
            stage = [(i, a) for i, a in stage if i.error is None]
            for item, action in stage:
                item.changes.append(action)
                item.was = (item.status, item.template)
                self.record_transition(item, action)
            if not self.check_mode and stage:
                self.run_stage(stage)

    @staticmethod
    def record_transition(item, action):
        item.before.setdefault('status', item.status)
        if action in ('start', 'reboot'):
            item.status = 'running'
        elif action in ('stop', 'shutdown'):
            item.status = 'stopped'
        elif action == 'template':
            item.template = True
            item.before['template'] = False
            item.after['template'] = True
        elif action == 'destroy':
            item.status = 'absent'
        item.after['status'] = item.status

    def run_stage(self, stage):
        actions = dict((item.index, (item, action)) for item, action in stage)
        timeout = max(item['timeout'] for item, _a in stage)

        def start(index):
            item, action = actions[index]
            if action == 'destroy':
                return destroy(self.client, item.entry, purge=item['purge'])
            if action == 'template':
                return to_template(self.client, item.entry)
            return power(self.client, item.entry, action, **power_params(action, item['timeout'], item['force']))
        outcome = run_tasks(self.client, list(actions), start, parallel=self.params['parallel'],
                            timeout=timeout + TASK_SLACK)
        for index, error in outcome.items():
            item, action = actions[index]
            if error is not None:
                item.fail('{0} failed: {1}'.format(action, error))
                item.status, item.template = item.was
                item.changes = [c for c in item.changes if c == 'config']
            elif action == 'destroy':
                self.cluster.forget(item.entry['vmid'])
            elif action in ('start', 'reboot') and item.pending is not None:
                item.pending = {}  # PVE applies the pending changes when the guest starts

    def wait(self, items):
        ready = []
        for item in items:
            if item.status == 'running':
                ready.append(item)
            else:
                # state=present leaves a stopped guest stopped: there is nothing to wait for
                self.module.warn('{0} is not running: not waiting for its {1}'.format(
                    item_label(item), 'address' if item['wait_for_ip'] else 'guest agent'))
        if not ready:
            return
        p = self.params
        by_index = dict((i.index, i) for i in ready)

        def probe(index):
            item = by_index[index]
            if item['wait_for_ip']:
                return read_ips(self.client, item.entry) or None
            if agent_ping(self.client, item.entry):
                return read_ips(self.client, item.entry) if item.entry.get('type') != 'lxc' else []
            return None
        answers, missing = wait_until(list(by_index), probe, p['wait_timeout'], parallel=p['parallel'])
        for index, ips in answers.items():
            by_index[index].ips = ips
        for index, error in missing.items():
            item = by_index[index]
            item.ips = []
            item.fail('no {0} after {1} s{2}'.format(
                'address (other than loopback and link-local)' if item['wait_for_ip'] else 'answer of the '
                'guest agent', p['wait_timeout'], ' (last answer: {0})'.format(error) if error else ''))

    # ----------------------------------------------------------------- result

    def describe(self, items):
        for item in items:
            entry = item.entry or {}
            item.view = dict(vmid=int(entry['vmid']) if entry else item['vmid'],
                             name=entry.get('name') if entry else item['name'], node=entry.get('node'),
                             type=entry.get('type') or item['type'], status=item.status or 'absent',
                             template=item.template)
            if item.ips is not None:
                item.view.update(ips=item.ips, ip=first_ipv4(item.ips))
            if item.pending is not None:
                item.view['pending'] = item.pending
        if items and items[0].single:
            self.result['vm'] = items[0].result()


def main():
    PveVm.main()


if __name__ == '__main__':
    main()
