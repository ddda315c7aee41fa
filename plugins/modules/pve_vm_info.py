#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_vm_info
short_description: List Proxmox VE guests (VMs and containers), filtered, optionally with their IP addresses
version_added: 0.1.0
description:
  - Reads every guest of the cluster in one call (C(/cluster/resources)) and each node's own guest list (one call
    per node), and returns those that match all the filters given. Names, states, template flags and uptimes
    come from the nodes' lists, which are live; in C(/cluster/resources) they are pvestatd's cache, up to about
    10 s old (a guest made since is C(unknown) there, with no name).
  - With O(agent_ips), asks the guest agent of each running VM (and each running container) for its addresses,
    in parallel.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.INFO_MODULE
options:
  vmid:
    description: Only the guest with this vmid.
    type: int
  name:
    description: Only guests with this name.
    type: str
  node:
    description: Only guests on this node.
    type: str
  pool:
    description: Only guests in this pool.
    type: str
  tag:
    description: Only guests carrying this tag.
    type: str
  lab:
    description:
      - Only the guests of this lab, as the lab roles recognise them (in the pool named after the lab or carrying
        its tag, and not a template).
    type: str
  names:
    description: Only guests with one of these names.
    type: list
    elements: str
  type:
    description: Only VMs (V(qemu)) or only containers (V(lxc)).
    type: str
    choices: [qemu, lxc]
  agent_ips:
    description:
      - Add RV(vms[].ips), the addresses the guest agent reports (without loopback and link-local ones). Only
        running guests are asked; a guest whose agent does not answer gets an empty list.
    type: bool
    default: false
  config:
    description:
      - Add RV(vms[].config), each guest's configuration as PVE holds it (C(GET .../config), one read per guest), for
        example to read a template's NICs. Secrets in it (C(cipassword)) are left out.
    type: bool
    default: false
  parallel:
    description: How many guests are asked for their addresses (or configurations) at once.
    type: int
    default: 8
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: The VMs of a lab with their addresses
  pvelab.proxmox.pve_vm_info:
    pool: netadmin
    agent_ips: true
  register: lab

- name: The VMs the lab role made for these students (what its teardown removes)
  pvelab.proxmox.pve_vm_info:
    lab: netadmin
    names: [netadmin-alice, netadmin-bob]
  register: owned

- name: name -> address
  ansible.builtin.debug:
    msg: "{{ lab.vms | items2dict(key_name='name', value_name='ip') }}"
'''

RETURN = r'''
vms:
  description: The matching guests, sorted by vmid.
  returned: always
  type: list
  elements: dict
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
      description: V(running), V(stopped), or V(unknown) when its node is offline.
      type: str
      sample: running
    template:
      description: Whether it is a template.
      type: bool
      sample: false
    pool:
      description: Its pool, or null.
      type: str
      sample: netadmin
    tags:
      description: Its tags.
      type: list
      elements: str
      sample: [netadmin]
    lock:
      description: The config lock it holds (V(backup), V(clone), ...), or null.
      type: str
      sample: null
    maxmem:
      description: Configured memory in bytes.
      type: int
      sample: 2147483648
    maxcpu:
      description: Configured CPUs.
      type: int
      sample: 2
    uptime:
      description: Seconds since it was started (0 when it is not running).
      type: int
      sample: 5400
    ips:
      description: Addresses the guest reports, without loopback and link-local ones.
      type: list
      elements: str
      returned: with O(agent_ips)
      sample: [10.10.7.209]
    ip:
      description: The first IPv4 address of RV(vms[].ips) (else the first one), or null.
      type: str
      returned: with O(agent_ips)
      sample: 10.10.7.209
    config:
      description: Its configuration (C(net0), C(memory), ...), without C(cipassword).
      type: dict
      returned: with O(config)
      sample: {net0: 'virtio=BC:24:11:2A:7E:01,bridge=vmbr0', memory: '2048'}
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import is_template, split_tags
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    first_ipv4,
    guest_path,
    read_ips,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import in_lab
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


def vm_view(entry):
    return {
        'vmid': int(entry['vmid']),
        'name': entry.get('name'),
        'node': entry.get('node'),
        'type': entry.get('type'),
        'status': entry.get('status'),
        'template': is_template(entry),
        'pool': entry.get('pool'),
        'tags': split_tags(entry.get('tags')),
        'lock': entry.get('lock'),
        'maxmem': int(entry.get('maxmem') or 0),
        'maxcpu': int(entry.get('maxcpu') or 0),
        'uptime': int(entry.get('uptime') or 0),
    }


class PveVmInfo(PveModuleBase):
    def execute(self):
        p = self.params
        if p['parallel'] < 1:
            self.fail('parallel must be at least 1')
        out = []
        for entry in self.cluster.guests(p['type'], live=True):
            if p['vmid'] is not None and int(entry['vmid']) != p['vmid']:
                continue
            if p['name'] is not None and entry.get('name') != p['name']:
                continue
            if p['node'] is not None and entry.get('node') != p['node']:
                continue
            if p['pool'] is not None and entry.get('pool') != p['pool']:
                continue
            if p['tag'] is not None and p['tag'] not in split_tags(entry.get('tags')):
                continue
            if p['lab'] is not None and not in_lab(entry, p['lab']):
                continue
            if p['names'] is not None and entry.get('name') not in p['names']:
                continue
            out.append((entry, vm_view(entry)))
        out.sort(key=lambda pair: pair[1]['vmid'])
        if p['agent_ips']:
            for _e, view in out:
                view.update(ips=[], ip=None)
            running = [pair for pair in out if pair[0].get('status') == 'running' and not is_template(pair[0])]
            for (_entry, view), ips, error in parallel_map(lambda pair: read_ips(self.client, pair[0]), running,
                                                           p['parallel']):
                if error is None:
                    view.update(ips=ips, ip=first_ipv4(ips))
        if p['config']:
            for (_entry, view), config, error in parallel_map(
                    lambda pair: self.client.get(guest_path(pair[0]) + '/config') or {}, out, p['parallel']):
                if error is not None:
                    self.fail('could not read the configuration of {0} {1}: {2}'.format(
                        view['vmid'], view.get('name') or '', error))
                view['config'] = dict((k, v) for k, v in config.items() if k != 'cipassword')
        self.result['vms'] = [view for _e, view in out]


def main():
    module = pve_module(dict(
        vmid=dict(type='int'),
        name=dict(type='str'),
        node=dict(type='str'),
        pool=dict(type='str'),
        tag=dict(type='str'),
        lab=dict(type='str'),
        names=dict(type='list', elements='str'),
        type=dict(type='str', choices=['qemu', 'lxc']),
        agent_ips=dict(type='bool', default=False),
        config=dict(type='bool', default=False),
        parallel=dict(type='int', default=8),
    ))
    PveVmInfo(module).run()


if __name__ == '__main__':
    main()
