#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_sdn_info
short_description: List Proxmox VE SDN zones and VNets as written, applied or not, or the VNets a lab made
version_added: 0.1.0
description:
  - Reads the SDN zones and VNets in two calls (C(GET /cluster/sdn/zones?pending=1) and
    C(GET /cluster/sdn/vnets?pending=1)) and returns them as they are written, with whether each still waits for
    M(pvelab.proxmox.pve_sdn_apply). An object removed but not applied yet is not listed.
  - With O(lab), RV(vnets) holds only the VNets that lab made, one per student, each with the student's
    RV(vnets[].userid) (the lab records it in the VNet's alias, C(pvelab:<lab> <userid>)).
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.INFO_MODULE
options:
  zone:
    description: Only this zone and its VNets.
    type: str
  lab:
    description: Only the VNets lab O(lab) made (see above). RV(zones) is not filtered by it.
    type: str
notes:
  - A user without C(SDN.Audit) sees only the zones and VNets it has it on.
seealso:
  - module: pvelab.proxmox.pve_sdn_zone
  - module: pvelab.proxmox.pve_sdn_vnet
  - module: pvelab.proxmox.pve_sdn_apply
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: The VNets of lab netadmin
  pvelab.proxmox.pve_sdn_info:
    lab: netadmin
  register: sdn

- name: Which student has which VNet
  ansible.builtin.debug:
    msg: "{{ sdn.vnets | items2dict(key_name='userid', value_name='vnet') }}"
'''

RETURN = r'''
zones:
  description: The zones, sorted by id.
  returned: always
  type: list
  elements: dict
  contains:
    zone:
      description: The zone id.
      type: str
      sample: pvelab
    type:
      description: The zone type.
      type: str
      sample: vlan
    bridge:
      description: Its bridge (vlan zones).
      type: str
      returned: when it has one
      sample: vmbr1
    nodes:
      description: The nodes it is limited to (empty - all).
      type: list
      elements: str
    pending:
      description: Whether a change of it waits for an apply.
      type: bool
vnets:
  description: The VNets, sorted by id.
  returned: always
  type: list
  elements: dict
  contains:
    vnet:
      description: The VNet id (also the bridge name guests use).
      type: str
      sample: neta0001
    zone:
      description: Its zone.
      type: str
    alias:
      description: Its alias (empty without one).
      type: str
      sample: pvelab:netadmin alice@pve
    tag:
      description: Its VLAN tag, or null.
      type: int
    pending:
      description: Whether a change of it waits for an apply.
      type: bool
    userid:
      description: The student it is for.
      type: str
      returned: with O(lab)
      sample: alice@pve
pending:
  description: Whether any zone or VNet listed waits for an apply.
  returned: always
  type: bool
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import vnet_owner
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module
from ansible_collections.pvelab.proxmox.plugins.module_utils._sdn import (
    is_pending,
    node_list,
    read_vnets,
    read_zones,
    written,
)


class PveSdnInfo(PveModuleBase):

    def execute(self):
        zone_filter, lab = self.params['zone'], self.params['lab']
        zones, vnets = [], []
        for zone_id, entry in sorted(read_zones(self.client).items()):
            config = written(entry)
            if config is None or zone_filter not in (None, zone_id):
                continue
            view = dict(zone=zone_id, type=config.get('type'), nodes=node_list(config.get('nodes')),
                        pending=is_pending(entry))
            if config.get('bridge'):
                view['bridge'] = config['bridge']
            zones.append(view)
        for vnet_id, entry in sorted(read_vnets(self.client).items()):
            config = written(entry)
            if config is None or zone_filter not in (None, config.get('zone')):
                continue
            tag = config.get('tag')
            view = dict(vnet=vnet_id, zone=config.get('zone'), alias=config.get('alias') or '',
                        tag=int(tag) if tag not in (None, '') else None, pending=is_pending(entry))
            if lab is not None:
                view['userid'] = vnet_owner(view['alias'], lab)
                if view['userid'] is None:
                    continue
            vnets.append(view)
        self.result.update(zones=zones, vnets=vnets, pending=any(z['pending'] for z in zones + vnets))


def main():
    module = pve_module(dict(
        zone=dict(type='str'),
        lab=dict(type='str'),
    ))
    PveSdnInfo(module).run()


if __name__ == '__main__':
    main()
