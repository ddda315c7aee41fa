#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_sdn_zone
short_description: Create, update and remove Proxmox VE SDN zones, one or many per task
version_added: 0.1.0
description:
  - Makes sure SDN zones (C(/cluster/sdn/zones)) of type V(simple) or V(vlan) exist with their bridge and nodes,
    or do not exist.
  - PVE writes SDN changes to a pending configuration; nothing reaches the nodes until it is applied. Run
    M(pvelab.proxmox.pve_sdn_apply) after the SDN modules of a play.
  - One read of the zones (C(GET /cluster/sdn/zones?pending=1)) per run; every item is checked before anything
    is written.
  - PVE refuses to remove a zone that still has VNets; remove them first (M(pvelab.proxmox.pve_sdn_vnet)).
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  zone:
    description:
      - The zone id, a letter then letters and digits, 2 to 8 characters (PVE's rule).
      - Mutually exclusive with O(zones); one of them is required.
    type: str
  type:
    description:
      - V(simple) a zone local to each node (its VNets are bridges without uplink), V(vlan) VNets as VLANs of
        O(bridge). A zone's type cannot change.
    type: str
    choices: [simple, vlan]
    default: simple
  bridge:
    description: The bridge that carries the VLANs of a V(vlan) zone (required for it); not taken by V(simple).
    type: str
  nodes:
    description:
      - The nodes the zone exists on. Not given - all nodes for a new zone, left as it is for an existing one;
        V([]) clears the restriction.
    type: list
    elements: str
  state:
    description: V(present) creates or updates the zone, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  zones:
    description:
      - Many zones in one run, each a dict with the suboptions below; suboptions an item leaves out take the
        top-level option of the same name.
    type: list
    elements: dict
    suboptions:
      zone:
        description: See O(zone).
        type: str
        required: true
      type:
        description: See O(type).
        type: str
        choices: [simple, vlan]
      bridge:
        description: See O(bridge).
        type: str
      nodes:
        description: See O(nodes).
        type: list
        elements: str
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
  parallel:
    description: How many writes are in flight at once (PVE serialises SDN writes behind one cluster-wide lock).
    type: int
    default: 4
seealso:
  - module: pvelab.proxmox.pve_sdn_vnet
  - module: pvelab.proxmox.pve_sdn_apply
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A simple zone for the students' private networks
  pvelab.proxmox.pve_sdn_zone:
    zone: pvelab
    type: simple

- name: A VLAN zone on vmbr1, only on two nodes
  pvelab.proxmox.pve_sdn_zone:
    zone: labvlan
    type: vlan
    bridge: vmbr1
    nodes: [pve1, pve2]

- name: Apply, so the nodes get the zone
  pvelab.proxmox.pve_sdn_apply:
'''

RETURN = r'''
items:
  description: One entry per zone, in the order asked (also when the module fails).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The zone id.
      type: str
      sample: pvelab
    zone:
      description: The zone id.
      type: str
      sample: pvelab
    type:
      description: Its type.
      type: str
      sample: simple
    bridge:
      description: Its bridge (V(vlan) zones).
      type: str
      sample: vmbr1
    nodes:
      description: The nodes it is restricted to; empty for all nodes.
      type: list
      elements: str
      sample: []
    state:
      description: V(present) or V(absent) after the run (planned in check mode).
      type: str
      sample: present
    changes:
      description: V(created), V(deleted) or the changed options.
      type: list
      elements: str
      sample: [created]
    changed:
      description: Whether this zone changed (or would in check mode); an apply is then due.
      type: bool
      sample: true
    msg:
      description: Why this zone failed.
      type: str
      returned: on failure
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import ItemSpec
from ansible_collections.pvelab.proxmox.plugins.module_utils._sdn import SdnBulkModule, node_list, read_zones, validate_sdn_id, written

SPEC = ItemSpec('zones', dict(
    zone=dict(type='str'),
    type=dict(type='str', choices=['simple', 'vlan'], default='simple'),
    bridge=dict(type='str'),
    nodes=dict(type='list', elements='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
), keys=['zone'], top_only=dict(parallel=dict(type='int', default=4)))


class PveSdnZone(SdnBulkModule):
    """Item: key = the zone id, entry = the zone as written (pending or applied); action create | update | delete,
    item.params the POST or PUT parameters."""

    spec = SPEC
    noun = 'zone'
    nouns = 'zones'

    def validate(self, item):
        where = item.at('zone', sep=' ') if item.where else 'zone'
        item.key = validate_sdn_id(item['zone'], field=where)
        if item['state'] == 'absent':
            return
        if item['type'] == 'vlan' and not item['bridge']:
            raise ValueError('{0} {1}: a vlan zone needs a bridge'.format(where, item.key))
        if item['type'] == 'simple' and item['bridge']:
            raise ValueError('{0} {1}: a simple zone takes no bridge'.format(where, item.key))

    def resolve(self, items):
        zones = read_zones(self.client)
        errors = []
        for item in items:
            item.entry = written(zones.get(item.key))
            if item.entry and item['state'] == 'present' and item.entry.get('type') != item['type']:
                errors.append('zone {0} is of type {1}, not {2}: PVE cannot change a zone\'s type (remove it '
                              'first)'.format(item.key, item.entry.get('type'), item['type']))
        return errors

    def plan(self, items):
        for item in items:
            item.params = {}
            item.before = self.view(item.key, item.entry)
            if self.plan_absent(item):
                continue
            wanted = {'bridge': item['bridge']}
            if item['nodes'] is not None:
                wanted['nodes'] = ','.join(node_list(item['nodes']))
            if item.entry is None:
                item.action, item.changes = 'create', ['created']
                item.params = dict((k, v) for k, v in wanted.items() if v)
                item.params.update(zone=item.key, type=item['type'])
            else:
                for key, value in wanted.items():
                    have = ','.join(node_list(item.entry.get(key))) if key == 'nodes' else item.entry.get(key)
                    if value is None or (value or None) == (have or None):
                        continue
                    item.changes.append(key)
                    if value:
                        item.params[key] = value
                    else:
                        item.params['delete'] = ','.join(filter(None, [item.params.get('delete'), key]))
                item.action = 'update' if item.changes else None
            after = dict(item.entry or {'type': item['type']})
            after.update((k, v) for k, v in wanted.items() if v is not None)
            item.after = self.view(item.key, after)

    def collection(self, item):
        return '/cluster/sdn/zones'

    def missing_view(self, item):
        return {'zone': item.key}

    @staticmethod
    def view(zone, entry):
        if not entry:
            return {}
        out = {'zone': zone, 'type': entry.get('type'), 'nodes': node_list(entry.get('nodes'))}
        if entry.get('bridge'):
            out['bridge'] = entry['bridge']
        return out


def main():
    PveSdnZone.main()


if __name__ == '__main__':
    main()
