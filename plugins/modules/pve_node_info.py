#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_node_info
short_description: List the nodes of a Proxmox VE cluster with their state and resource use
version_added: 0.1.0
description:
  - Reads every node of the cluster in one call (C(/cluster/resources)) and returns its online state,
    memory and CPU use, so a playbook can choose where to put guests.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.INFO_MODULE
options:
  node:
    description:
      - Return only this node.
    type: str
  online_only:
    description:
      - Return only nodes that are online.
    type: bool
    default: false
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Nodes with their free memory
  pvelab.proxmox.pve_node_info:
    api_host: pve1.example.org
    api_user: automation@pve
    api_token_id: ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
  register: nodes

- name: The online node with the most free memory
  ansible.builtin.debug:
    msg: "{{ (nodes.nodes | selectattr('online') | sort(attribute='mem_free', reverse=true) | first).node }}"
'''

RETURN = r'''
nodes:
  description: The nodes, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    node:
      description: Node name.
      type: str
      sample: pve1
    online:
      description: Whether the node is online.
      type: bool
      sample: true
    status:
      description: PVE's status word (V(online), V(offline), V(unknown)).
      type: str
      sample: online
    mem:
      description: Memory in use, in bytes (0 when offline).
      type: int
      sample: 4294967296
    maxmem:
      description: Memory of the node, in bytes (0 when offline).
      type: int
      sample: 68719476736
    mem_free:
      description: RV(nodes[].maxmem) minus RV(nodes[].mem), in bytes.
      type: int
      sample: 64424509440
    mem_free_percent:
      description: Free memory as a percentage of the node's memory.
      type: float
      sample: 93.75
    cpu:
      description: CPU load, 0 to 1.
      type: float
      sample: 0.02
    maxcpu:
      description: CPUs of the node.
      type: int
      sample: 16
    uptime:
      description: Seconds since the node booted.
      type: int
      sample: 3600
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


def node_view(entry):
    mem = int(entry.get('mem') or 0)
    maxmem = int(entry.get('maxmem') or 0)
    return {
        'node': entry.get('node'),
        'status': entry.get('status', 'unknown'),
        'online': entry.get('status') == 'online',
        'mem': mem,
        'maxmem': maxmem,
        'mem_free': max(maxmem - mem, 0),
        'mem_free_percent': round(100.0 * (maxmem - mem) / maxmem, 2) if maxmem else 0.0,
        'cpu': float(entry.get('cpu') or 0),
        'maxcpu': int(entry.get('maxcpu') or 0),
        'uptime': int(entry.get('uptime') or 0),
    }


class PveNodeInfo(PveModuleBase):
    def execute(self):
        nodes = [node_view(n) for n in self.cluster.nodes()]
        if self.params['node']:
            nodes = [n for n in nodes if n['node'] == self.params['node']]
        if self.params['online_only']:
            nodes = [n for n in nodes if n['online']]
        self.result['nodes'] = sorted(nodes, key=lambda n: n['node'])


def main():
    module = pve_module(dict(
        node=dict(type='str'),
        online_only=dict(type='bool', default=False),
    ))
    PveNodeInfo(module).run()


if __name__ == '__main__':
    main()
