#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_sdn_vnet
short_description: Create, update and remove Proxmox VE SDN VNets, one or hundreds per task
version_added: 0.1.0
description:
  - Makes sure SDN VNets (C(/cluster/sdn/vnets)) exist in their zone with an alias and a VLAN tag, or do not exist.
  - PVE writes SDN changes to a pending configuration. A guest NIC can use a VNet only once it is applied; run
    M(pvelab.proxmox.pve_sdn_apply) after the SDN modules of a play.
  - Two reads per run (the zones and the VNets, with their pending changes); every item is checked against them
    before anything is written, as PVE would check it - the zone exists, no tag in a V(simple) zone, a tag of 1
    to 4096 in a V(vlan) zone that no other VNet of that zone carries.
  - PVE refuses to remove a VNet that still has subnets (M(pvelab.proxmox.pve_sdn_subnet)). It does not check
    guests - a NIC on a removed VNet has no network once the removal is applied.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  vnet:
    description:
      - The VNet id, a letter then letters and digits, 2 to 8 characters (PVE's rule). It is also the name of the
        bridge a guest NIC uses (C(bridge=<vnet>)).
      - Mutually exclusive with O(vnets); one of them is required.
    type: str
  zone:
    description: The zone of the VNet (required with O(state=present)); it must exist.
    type: str
  alias:
    description:
      - A free text shown with the VNet (up to 256 characters; letters, digits, white space and most
        punctuation). Not given - left as it is; V('') removes it.
    type: str
  tag:
    description:
      - The VLAN tag, 1 to 4096, required in a V(vlan) zone and unique in it; a V(simple) zone takes none. Not
        given - left as it is.
    type: int
  state:
    description: V(present) creates or updates the VNet, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  vnets:
    description:
      - Many VNets in one run, each a dict with the suboptions below; suboptions an item leaves out take the
        top-level option of the same name (for example O(zone) for all of them).
    type: list
    elements: dict
    suboptions:
      vnet:
        description: See O(vnet).
        type: str
        required: true
      zone:
        description: See O(zone).
        type: str
      alias:
        description: See O(alias).
        type: str
      tag:
        description: See O(tag).
        type: int
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
  parallel:
    description: How many writes are in flight at once (PVE serialises SDN writes behind one cluster-wide lock).
    type: int
    default: 4
seealso:
  - module: pvelab.proxmox.pve_sdn_zone
  - module: pvelab.proxmox.pve_sdn_subnet
  - module: pvelab.proxmox.pve_sdn_apply
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: One VNet per student in a simple zone, the student named in the alias
  pvelab.proxmox.pve_sdn_vnet:
    zone: pvelab
    vnets:
      - {vnet: lab0001, alias: alice@pve}
      - {vnet: lab0002, alias: bob@pve}

- name: A VLAN of a vlan zone
  pvelab.proxmox.pve_sdn_vnet:
    vnet: vl2000
    zone: labvlan
    tag: 2000

- name: Apply them
  pvelab.proxmox.pve_sdn_apply:
'''

RETURN = r'''
items:
  description: One entry per VNet, in the order asked (also when the module fails).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The VNet id.
      type: str
      sample: lab0001
    vnet:
      description: The VNet id.
      type: str
      sample: lab0001
    zone:
      description: Its zone.
      type: str
      sample: pvelab
    alias:
      description: Its alias (absent when it has none).
      type: str
      sample: alice@pve
    tag:
      description: Its VLAN tag (absent when it has none).
      type: int
      sample: 2000
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
      description: Whether this VNet changed (or would in check mode); an apply is then due.
      type: bool
      sample: true
    msg:
      description: Why this VNet failed.
      type: str
      returned: on failure
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import ItemSpec
from ansible_collections.pvelab.proxmox.plugins.module_utils._sdn import (
    SdnBulkModule,
    read_vnets,
    read_zones,
    validate_alias,
    validate_sdn_id,
    validate_tag,
    written,
)

SPEC = ItemSpec('vnets', dict(
    vnet=dict(type='str'),
    zone=dict(type='str'),
    alias=dict(type='str'),
    tag=dict(type='int'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
), keys=['vnet'], top_only=dict(parallel=dict(type='int', default=4)))


class PveSdnVnet(SdnBulkModule):
    """Item: key = the VNet id, entry = the VNet as written (pending or applied); action create | update |
    delete, item.params the POST or PUT parameters."""

    spec = SPEC
    noun = 'VNet'
    nouns = 'VNets'

    def validate(self, item):
        where = item.at('vnet', sep=' ') if item.where else 'vnet'
        item.key = validate_sdn_id(item['vnet'], field=where)
        if item['state'] == 'absent':
            return
        if not item['zone']:
            raise ValueError('{0} {1}: zone is required'.format(where, item.key))
        validate_sdn_id(item['zone'], field='{0} {1} zone'.format(where, item.key))
        if item['alias']:
            validate_alias(item['alias'], field='{0} {1} alias'.format(where, item.key))
        if item['tag'] is not None:
            validate_tag(item['tag'], field='{0} {1} tag'.format(where, item.key))

    def resolve(self, items):
        zones = dict((k, written(z)) for k, z in read_zones(self.client).items())
        vnets = dict((k, written(v)) for k, v in read_vnets(self.client).items())
        errors = []
        self.holders = dict(((v.get('zone'), str(v['tag'])), k) for k, v in vnets.items() if v and v.get('tag') is not None)
        # the tags each VNet carries once this run is done: what is written, with this run's items in place
        final = dict((k, v) for k, v in vnets.items() if v)
        for item in items:
            item.entry = vnets.get(item.key)
            if item['state'] == 'absent':
                final.pop(item.key, None)
                continue
            tag = item['tag'] if item['tag'] is not None else (item.entry or {}).get('tag')
            final[item.key] = dict(zone=item['zone'], tag=tag)
        for item in items:
            if item['state'] == 'present':
                errors += self.check_zone(item, zones.get(item['zone']), final)
        return errors

    def check_zone(self, item, zone, final):
        if zone is None:
            msg = 'zone {0} does not exist (create it with pvelab.proxmox.pve_sdn_zone first); asked for by vnet ' \
                  '{1}'.format(item['zone'], item.key)
            if self.check_mode:
                self.module.warn(msg + ' - in check mode this only warns, as an earlier task may create it')
                return []
            return [msg]
        tag = final[item.key]['tag']
        if zone.get('type') == 'simple' and tag is not None:
            return ['vnet {0}: zone {1} is a simple zone, which takes no tag'.format(item.key, item['zone'])]
        if zone.get('type') != 'vlan':
            return []
        if tag is None:
            return ['vnet {0}: zone {1} is a vlan zone, which needs a tag'.format(item.key, item['zone'])]
        others = sorted(k for k, v in final.items()
                        if k != item.key and v.get('zone') == item['zone'] and str(v.get('tag')) == str(tag))
        if others:
            return ['vnet {0}: tag {1} is also carried by {2} in zone {3}'.format(
                item.key, tag, ', '.join(others), item['zone'])]
        return []

    def plan(self, items):
        for item in items:
            item.params = {}
            item.before = self.view(item.key, item.entry)
            if self.plan_absent(item):
                continue
            wanted = {'zone': item['zone'], 'alias': item['alias'], 'tag': item['tag']}
            if item.entry is None:
                item.action, item.changes = 'create', ['created']
                item.params = dict((k, v) for k, v in wanted.items() if v not in (None, ''))
                item.params['vnet'] = item.key
            else:
                for key, value in wanted.items():
                    have = item.entry.get(key)
                    if value is None or str(value) == str(have if have is not None else ''):
                        continue
                    item.changes.append(key)
                    if value == '':
                        item.params['delete'] = key
                    else:
                        item.params[key] = value
                item.action = 'update' if item.changes else None
            after = dict(item.entry or {})
            after.update((k, v) for k, v in wanted.items() if v is not None)
            item.after = self.view(item.key, after)

    def apply(self, items):
        # PVE checks each write against what is written: a tag another VNet of this run gives up is taken after it
        later = [i for i in items if self.holders.get((i['zone'], str(i['tag'])), i.key) != i.key]
        super().apply([i for i in items if i not in later])
        super().apply(later)

    def collection(self, item):
        return '/cluster/sdn/vnets'

    def missing_view(self, item):
        return {'vnet': item.key}

    @staticmethod
    def view(vnet, entry):
        if not entry:
            return {}
        out = {'vnet': vnet, 'zone': entry.get('zone')}
        if entry.get('alias'):
            out['alias'] = entry['alias']
        if entry.get('tag') is not None:
            out['tag'] = int(entry['tag'])
        return out


def main():
    PveSdnVnet.main()


if __name__ == '__main__':
    main()
