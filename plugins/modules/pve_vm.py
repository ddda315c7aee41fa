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
  - Finds a VM (or, with O(type=lxc), a container) by vmid or by name and brings it to a state - started, stopped,
    shut down, restarted, converted to a template or removed - and to a config (CPU, memory, NICs keeping their
    MAC addresses, cloud-init, tags, description, start at boot, guest agent).
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
      - V(qemu) for a VM, V(lxc) for a container.
    type: str
    choices: [qemu, lxc]
    default: qemu
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
    description: Memory in MiB.
    type: int
  net:
    description:
      - 'NICs, C(netN) to a property string (V(virtio,bridge=vmbr0,firewall=1)) or a dict
        (C({model: virtio, bridge: vmbr0, firewall: true})).'
      - The NIC keeps its MAC address (and, if none is given, its model) unless the value names one. An empty
        value removes the NIC.
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
    RV(vm.pending) and applied at the next start or with O(state=restarted).
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

- name: Remove a VM, stopping it first
  pvelab.proxmox.pve_vm:
    name: netadmin-alice
    state: absent
    force: true
'''

RETURN = r'''
vm:
  description: The guest (single form).
  returned: when O(vmid) or O(name) is given
  type: dict
  contains:
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
      description: The first IPv4 address of RV(vm.ips) (else the first address).
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
vms:
  description: One entry per item of O(vms), in order, shaped as RV(vm); also when the module fails.
  returned: when O(vms) is given
  type: list
  elements: dict
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    KINDS,
    STATES,
    destroy,
    agent_ping,
    first_ipv4,
    is_template,
    label,
    next_config,
    parallel_map,
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
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_tag,
    validate_vm_name,
    validate_vmid,
)

CONFIG = ('cores', 'sockets', 'memory', 'net', 'ciuser', 'cipassword', 'sshkeys', 'ipconfig', 'tags', 'description',
          'onboot', 'agent')
# Item options and the module options they default to.
ITEM = ('vmid', 'name', 'node', 'type', 'state', 'force', 'purge', 'timeout') + CONFIG + ('wait_for_agent', 'wait_for_ip')


def at(where, text, sep=': '):
    """A message about an item of the list form ('vms[2]: ...'), or plain for the single form."""
    return '{0}{1}{2}'.format(where, sep, text) if where else text


# A shutdown or reboot task runs up to `timeout` in PVE; give it this much more before giving up on it.
TASK_SLACK = 60


class Job(object):
    """One guest of the run: what was asked, what was found, and what happened."""

    def __init__(self, index, spec, where):
        self.index = index
        self.spec = spec
        self.where = where
        self.entry = None
        self.error = None
        self.changed = False
        self.status = None
        self.template = False
        self.pending = None
        self.ips = None
        self.config_changes = ({}, [])
        self.was = (None, False)
        self.before = {}
        self.after = {}

    @property
    def label(self):
        if self.entry is not None:
            return label(self.entry)
        return repr(self.spec['name']) if self.spec.get('name') else 'vmid {0}'.format(self.spec.get('vmid'))

    def failed(self, msg):
        if self.error is None:
            self.error = msg

    def view(self):
        out = dict(vmid=int(self.entry['vmid']) if self.entry else self.spec.get('vmid'),
                   name=self.entry.get('name') if self.entry else self.spec.get('name'),
                   node=self.entry.get('node') if self.entry else None,
                   type=(self.entry or {}).get('type') or self.spec['type'],
                   status=self.status or 'absent', template=self.template, changed=self.changed)
        if self.ips is not None:
            out.update(ips=self.ips, ip=first_ipv4(self.ips))
        if self.pending is not None:
            out['pending'] = self.pending
        if self.error:
            out['msg'] = self.error
        return out


class PveVm(PveModuleBase):

    def execute(self):
        p = self.params
        self.client.lock_timeout = p['lock_timeout']
        self.jobs = self.requested()
        self.resolve()
        live = [j for j in self.jobs if j.error is None and j.entry is not None]
        self.configure([j for j in live if j.spec['state'] != 'absent' and self.config_of(j)])
        self.lifecycle([j for j in live if j.error is None])
        if not self.check_mode:
            self.wait([j for j in live if j.error is None and j.spec['state'] in ('present', 'started', 'restarted')
                       and (j.spec['wait_for_agent'] or j.spec['wait_for_ip'])])
        self.report()

    # ------------------------------------------------------------------ input

    def requested(self):
        p = self.params
        raw = p['vms'] if p['vms'] is not None else [dict((k, p[k]) for k in ('vmid', 'name'))]
        jobs, errors = [], []
        for n, item in enumerate(raw):
            spec = dict((k, item.get(k) if item.get(k) is not None else p[k]) for k in ITEM)
            if p['vms'] is not None:
                spec.update(vmid=item.get('vmid'), name=item.get('name'))
            where = 'vms[{0}]'.format(n) if p['vms'] is not None else ''
            job = Job(n, spec, where)
            try:
                if spec['vmid'] is None and spec['name'] is None:
                    raise ValueError(at(where, 'give vmid or name'))
                if spec['vmid'] is not None:
                    spec['vmid'] = validate_vmid(spec['vmid'], at(where, 'vmid', ' '))
                if spec['name'] is not None:
                    validate_vm_name(spec['name'], at(where, 'name', ' '))
                for tag in spec['tags'] or []:
                    validate_tag(tag, at(where, 'tag', ' '))
                if spec['type'] == 'lxc':
                    bad = [o for o in ('sockets', 'agent', 'ciuser', 'cipassword', 'sshkeys', 'ipconfig')
                           if spec.get(o) is not None]
                    if bad:
                        raise ValueError(at(where, '{0} do not apply to a container (type lxc)'.format(', '.join(bad))))
                for option in ('cores', 'sockets', 'memory'):
                    if spec[option] is not None and spec[option] < 1:
                        raise ValueError(at(where, '{0} must be at least 1'.format(option)))
            except ValueError as exc:
                errors.append(str(exc))
            jobs.append(job)
        if p['parallel'] < 1:
            errors.append('parallel must be at least 1')
        if errors:
            self.fail('; '.join(errors))
        return jobs

    def resolve(self):
        """Find every guest in the one cluster read; refuse unknown or ambiguous ones before writing anything."""
        errors, seen = [], {}
        for job in self.jobs:
            spec = job.spec
            try:
                if spec['vmid'] is not None:
                    entry = self.cluster.find_guest(vmid=spec['vmid'], kind=spec['type'], live=True)
                else:
                    matches = self.cluster.guests_named(spec['name'], spec['type'], live=True)
                    if len(matches) > 1 and spec['node']:
                        matches = [g for g in matches if g.get('node') == spec['node']] or matches
                    if len(matches) > 1:
                        raise PveError('name {0!r} matches {1} guests ({2}); give the vmid'.format(
                            spec['name'], len(matches), ', '.join(str(m['vmid']) for m in matches)))
                    entry = matches[0] if matches else None
            except PveError as exc:
                errors.append(at(job.where, str(exc)))
                continue
            if entry is None:
                if spec['state'] != 'absent':
                    errors.append(at(job.where, 'no {0} {1} (pve_vm does not create guests; clone them with '
                                  'pvelab.proxmox.pve_clone)'.format(
                                      'container' if spec['type'] == 'lxc' else 'VM',
                                      'with vmid {0}'.format(spec['vmid']) if spec['vmid'] is not None
                                      else 'named {0!r}'.format(spec['name']))))
                continue
            job.entry = dict(entry)
            if spec['node'] and entry.get('node') != spec['node']:
                errors.append(at(job.where, '{0} is on node {1}, not {2}'.format(
                    label(entry), entry.get('node'), spec['node'])))
            vmid = int(entry['vmid'])
            if vmid in seen:
                errors.append('{0} and {1} both name {2}'.format(seen[vmid], job.where or 'the guest', label(entry)))
            seen[vmid] = job.where
            job.status = entry.get('status')
            job.template = is_template(entry)
            if job.template and spec['state'] in ('started', 'stopped', 'shutdown', 'restarted'):
                errors.append(at(job.where, '{0} is a template; it cannot be {1}'.format(label(entry), spec['state'])))
            if self.cluster.node_offline(entry):
                errors.append(at(job.where, 'the node {0} of {1} is not online'.format(entry.get('node'), label(entry))))
        if errors:
            self.fail('nothing was changed: ' + '; '.join(errors))

    @staticmethod
    def config_of(job):
        spec = job.spec
        wanted = dict((k, spec[k]) for k in CONFIG if spec.get(k) is not None)
        if spec['vmid'] is not None and spec['name'] is not None:
            wanted['name'] = spec['name']
        return wanted

    # ----------------------------------------------------------------- config

    def configure(self, jobs):
        """Read each guest's config (with pending changes), work out the changes, and PUT them."""
        if not jobs:
            return
        p = self.params
        for job, read, error in parallel_map(lambda j: read_pending(self.client, j.entry), jobs, p['parallel']):
            if error is not None:
                job.failed('reading its config failed: {0}'.format(error))
                continue
            current, pending, deleted = read
            try:
                changes, deletes, before, after = plan_config(job.entry['type'], next_config(current, pending, deleted),
                                                              self.config_of(job), p['update_cipassword'])
            except ValueError as exc:
                job.failed(str(exc))
                continue
            job.pending = self.pending_view(pending, deleted)
            job.before.update(before)
            job.after.update(after)
            job.config_changes = (changes, deletes)
            if changes or deletes:
                job.changed = True
                if 'name' in changes or 'hostname' in changes:
                    job.entry['name'] = changes.get('name', changes.get('hostname'))
        todo = [j for j in jobs if j.error is None and (j.config_changes[0] or j.config_changes[1])]
        if self.check_mode or not todo:
            return

        def put(job):
            update_config(self.client, job.entry, *job.config_changes)
            if job.status == 'running':
                # what PVE could not apply live is pending now
                current, pending, deleted = read_pending(self.client, job.entry)
                job.pending = self.pending_view(pending, deleted)
        for job, _none, error in parallel_map(put, todo, p['parallel']):
            if error is not None:
                job.failed('changing its config failed: {0}'.format(error))

    @staticmethod
    def pending_view(pending, deleted):
        view = dict((k, '**********' if k == 'cipassword' else v) for k, v in pending.items())
        view.update((k, None) for k in deleted)
        return view

    # -------------------------------------------------------------- lifecycle

    def lifecycle(self, jobs):
        """Stops that must come first (absent, template with force), then the state's own action."""
        first, second = [], []
        for job in jobs:
            state, running = job.spec['state'], job.status == 'running'
            if state in ('absent', 'template'):
                if state == 'template' and job.template:
                    continue
                if running:
                    if not job.spec['force']:
                        job.failed('it is running; set force=true to stop it before {0}'.format(
                            'removing it' if state == 'absent' else 'converting it to a template'))
                        continue
                    first.append((job, 'stop'))
                second.append((job, 'destroy' if state == 'absent' else 'template'))
            else:
                action = power_action(job.status, state)
                if action:
                    second.append((job, action))
        for stage in (first, second):
            stage = [(j, a) for j, a in stage if j.error is None]
            for job, action in stage:
                job.changed = True
                job.was = (job.status, job.template)
                self.record_transition(job, action)
            if not self.check_mode and stage:
                self.run_stage(stage)

    @staticmethod
    def record_transition(job, action):
        job.before.setdefault('status', job.status)
        if action in ('start', 'reboot'):
            job.status = 'running'
        elif action in ('stop', 'shutdown'):
            job.status = 'stopped'
        elif action == 'template':
            job.template = True
            job.before['template'] = False
            job.after['template'] = True
        elif action == 'destroy':
            job.status = 'absent'
        job.after['status'] = job.status

    def run_stage(self, stage):
        p = self.params
        actions = dict((job.index, (job, action)) for job, action in stage)
        timeout = max(job.spec['timeout'] for job, _a in stage)

        def start(index):
            job, action = actions[index]
            if action == 'destroy':
                return destroy(self.client, job.entry, purge=job.spec['purge'])
            if action == 'template':
                return to_template(self.client, job.entry)
            return power(self.client, job.entry, action,
                         **power_params(action, job.spec['timeout'], job.spec['force']))
        outcome = run_tasks(self.client, list(actions), start, parallel=p['parallel'], timeout=timeout + TASK_SLACK)
        for index, error in outcome.items():
            job, action = actions[index]
            if error is not None:
                job.failed('{0} failed: {1}'.format(action, error))
                job.status, job.template = job.was
                job.changed = bool(job.config_changes[0] or job.config_changes[1])
            elif action == 'destroy':
                self.cluster.forget(job.entry['vmid'])
            elif action in ('start', 'reboot') and job.pending is not None:
                job.pending = {}  # PVE applies the pending changes when the guest starts

    # ------------------------------------------------------------------- wait

    def wait(self, jobs):
        ready = []
        for job in jobs:
            if job.status == 'running':
                ready.append(job)
            else:
                # state=present leaves a stopped guest stopped: there is nothing to wait for
                self.module.warn('{0} is not running: not waiting for its {1}'.format(
                    job.label, 'address' if job.spec['wait_for_ip'] else 'guest agent'))
        if not ready:
            return
        p = self.params
        by_index = dict((j.index, j) for j in ready)

        def probe(index):
            job = by_index[index]
            if job.spec['wait_for_ip']:
                ips = read_ips(self.client, job.entry)
                return ips or None
            if agent_ping(self.client, job.entry):
                return read_ips(self.client, job.entry) if job.entry.get('type') != 'lxc' else []
            return None
        answers, missing = wait_until(list(by_index), probe, p['wait_timeout'], parallel=p['parallel'])
        for index, ips in answers.items():
            by_index[index].ips = ips
        for index, error in missing.items():
            job = by_index[index]
            job.ips = []
            job.failed('no {0} after {1} s{2}'.format(
                'address (other than loopback and link-local)' if job.spec['wait_for_ip'] else 'answer of the '
                'guest agent', p['wait_timeout'], ' (last answer: {0})'.format(error) if error else ''))

    # ----------------------------------------------------------------- result

    def report(self):
        views = [job.view() for job in self.jobs]
        if any(j.changed for j in self.jobs):
            self.changed()
        if self.params['vms'] is not None:
            self.result['vms'] = views
            self.diff['before'] = dict((j.label, j.before) for j in self.jobs if j.before or j.after)
            self.diff['after'] = dict((j.label, j.after) for j in self.jobs if j.before or j.after)
        else:
            self.result['vm'] = views[0]
            self.diff['before'] = dict(self.jobs[0].before)
            self.diff['after'] = dict(self.jobs[0].after)
        failed = [j for j in self.jobs if j.error]
        if failed:
            self.fail('; '.join('{0}: {1}'.format(j.label, j.error) for j in failed))


def main():
    config = dict(
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
    item = dict(
        vmid=dict(type='int'),
        name=dict(type='str'),
        node=dict(type='str'),
        type=dict(type='str', choices=list(KINDS)),
        state=dict(type='str', choices=list(STATES)),
        force=dict(type='bool'),
        purge=dict(type='bool'),
        timeout=dict(type='int'),
        wait_for_agent=dict(type='bool'),
        wait_for_ip=dict(type='bool'),
    )
    item.update(config)
    spec = dict(
        vmid=dict(type='int'),
        name=dict(type='str'),
        node=dict(type='str'),
        type=dict(type='str', choices=list(KINDS), default='qemu'),
        vms=dict(type='list', elements='dict', options=item),
        state=dict(type='str', choices=list(STATES), default='present'),
        force=dict(type='bool', default=False),
        purge=dict(type='bool', default=True),
        timeout=dict(type='int', default=300),
        update_cipassword=dict(type='str', choices=['on_create', 'always'], default='on_create', no_log=False),
        wait_for_agent=dict(type='bool', default=False),
        wait_for_ip=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=300),
        parallel=dict(type='int', default=8),
        lock_timeout=dict(type='int', default=120),
    )
    spec.update(config)
    module = pve_module(
        spec,
        mutually_exclusive=[('vms', 'vmid'), ('vms', 'name')],
        required_one_of=[('vmid', 'name', 'vms')],
    )
    PveVm(module).run()


if __name__ == '__main__':
    main()
