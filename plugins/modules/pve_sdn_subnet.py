#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_sdn_subnet
short_description: Create, update and remove the subnets of Proxmox VE SDN VNets, one or many per task
version_added: 0.1.0
description:
  - Makes sure a VNet has a subnet (C(/cluster/sdn/vnets/<vnet>/subnets)) with an optional gateway and SNAT, or
    does not have it.
  - PVE names a subnet C(<zone>-<cidr with - for />), for example V(pvelab-10.0.0.0-24); the module finds it by
    O(vnet) and O(subnet) (the CIDR).
  - A VNet needs no subnet to carry traffic - a pure layer-2 network has none. PVE writes SDN changes to a
    pending configuration; run M(pvelab.proxmox.pve_sdn_apply) after the SDN modules of a play.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  subnet:
    description:
      - The subnet as a CIDR, V(10.0.0.0/24) or an IPv6 one. PVE keeps it as written (it names the subnet).
      - Mutually exclusive with O(subnets); one of them is required.
    type: str
    aliases: [cidr]
  vnet:
    description: The VNet of the subnet (it must exist with O(state=present)).
    type: str
  gateway:
    description:
      - The gateway address, in the subnet (PVE's rule). Optional - not given, a new subnet has none and an
        existing one keeps its own; V('') removes it.
    type: str
  snat:
    description: Masquerade traffic leaving the subnet (PVE's C(snat)). Not given - left as it is (off when new).
    type: bool
  state:
    description: V(present) creates or updates the subnet, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  subnets:
    description:
      - Many subnets in one run, each a dict with the suboptions below; suboptions an item leaves out take the
        top-level option of the same name.
    type: list
    elements: dict
    suboptions:
      subnet:
        description: See O(subnet).
        type: str
        required: true
        aliases: [cidr]
      vnet:
        description: See O(vnet).
        type: str
      gateway:
        description: See O(gateway).
        type: str
      snat:
        description: See O(snat).
        type: bool
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
  parallel:
    description: How many requests are in flight at once (PVE serialises SDN writes behind one cluster-wide lock).
    type: int
    default: 4
seealso:
  - module: pvelab.proxmox.pve_sdn_vnet
  - module: pvelab.proxmox.pve_sdn_apply
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: A subnet without gateway (the students' own router routes)
  pvelab.proxmox.pve_sdn_subnet:
    vnet: lab0001
    subnet: 192.168.10.0/24

- name: Subnets with a gateway and SNAT on many VNets
  pvelab.proxmox.pve_sdn_subnet:
    snat: true
    subnets:
      - {vnet: lab0001, subnet: 10.1.0.0/24, gateway: 10.1.0.1}
      - {vnet: lab0002, subnet: 10.2.0.0/24, gateway: 10.2.0.1}

- name: Apply them
  pvelab.proxmox.pve_sdn_apply:
'''

RETURN = r'''
items:
  description: One entry per subnet, in the order asked (also when the module fails).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The VNet and the CIDR, V(<vnet>:<cidr>).
      type: str
      sample: lab0001:10.1.0.0/24
    subnet:
      description: PVE's id of the subnet (null when its VNet does not exist).
      type: str
      sample: pvelab-10.1.0.0-24
    cidr:
      description: The CIDR.
      type: str
      sample: 10.1.0.0/24
    vnet:
      description: Its VNet.
      type: str
      sample: lab0001
    gateway:
      description: Its gateway (absent when it has none).
      type: str
      sample: 10.1.0.1
    snat:
      description: Whether SNAT is on.
      type: bool
      sample: false
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
      description: Whether this subnet changed (or would in check mode); an apply is then due.
      type: bool
      sample: true
    msg:
      description: Why this subnet failed.
      type: str
      returned: on failure
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import ItemSpec
from ansible_collections.pvelab.proxmox.plugins.module_utils._sdn import (
    SdnBulkModule,
    read_subnets,
    read_vnets,
    subnet_id,
    validate_cidr,
    validate_gateway,
    validate_sdn_id,
    written,
)

SPEC = ItemSpec('subnets', dict(
    subnet=dict(type='str', aliases=['cidr']),
    vnet=dict(type='str'),
    gateway=dict(type='str'),
    snat=dict(type='bool'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
), keys=['subnet'], top_only=dict(parallel=dict(type='int', default=4)))


def truth(value):
    return str(value).lower() in ('1', 'true', 'yes', 'on')


class PveSdnSubnet(SdnBulkModule):
    """Item: key = '<vnet>:<cidr>', item.sid = PVE's subnet id, entry = the subnet as written; action create |
    update | delete, item.params the POST or PUT parameters."""

    spec = SPEC
    noun = 'subnet'
    nouns = 'subnets'

    def validate(self, item):
        where = item.at('subnet', sep=' ') if item.where else 'subnet'
        cidr = validate_cidr(item['subnet'], field=where)
        if not item['vnet']:
            raise ValueError('{0} {1}: vnet is required'.format(where, cidr))
        validate_sdn_id(item['vnet'], field='{0} {1} vnet'.format(where, cidr))
        item.key = '{0}:{1}'.format(item['vnet'], cidr)
        if item['state'] == 'present' and item['gateway']:
            item.values['gateway'] = validate_gateway(item['gateway'], cidr, field='{0} {1} gateway'.format(
                where, cidr))

    def resolve(self, items):
        vnets = dict((k, written(v)) for k, v in read_vnets(self.client).items())
        present = [v for v in set(i['vnet'] for i in items) if vnets.get(v)]
        subnets = read_subnets(self.client, present, self.params['parallel'])
        errors = []
        for item in items:
            item.sid, item.entry = None, None
            vnet = vnets.get(item['vnet'])
            if vnet is None:
                if item['state'] == 'present':
                    msg = 'vnet {0} does not exist (create it with pvelab.proxmox.pve_sdn_vnet first); asked for by ' \
                          'subnet {1}'.format(item['vnet'], item['subnet'])
                    if not self.check_mode:
                        errors.append(msg)
                    else:
                        self.module.warn(msg + ' - in check mode this only warns, as an earlier task may create it')
                continue
            item.sid = subnet_id(vnet['zone'], item['subnet'])
            item.entry = written(subnets.get(item['vnet'], {}).get(item.sid))
        return errors

    def plan(self, items):
        for item in items:
            item.params = {}
            item.before = self.view(item, item.entry)
            if self.plan_absent(item):
                continue
            if item.entry is None:
                item.action, item.changes = 'create', ['created']
                item.params = dict(subnet=item['subnet'], type='subnet')
                if item['gateway']:
                    item.params['gateway'] = item['gateway']
                if item['snat']:
                    item.params['snat'] = 1
                after = dict((k, v) for k, v in item.params.items() if k in ('gateway', 'snat'))
            else:
                after = dict(item.entry)
                if item['gateway'] is not None and item['gateway'] != (item.entry.get('gateway') or ''):
                    item.changes.append('gateway')
                    if item['gateway']:
                        item.params['gateway'] = after['gateway'] = item['gateway']
                    else:
                        item.params['delete'] = 'gateway'
                        after.pop('gateway', None)
                if item['snat'] is not None and item['snat'] != truth(item.entry.get('snat')):
                    item.changes.append('snat')
                    item.params['snat'] = after['snat'] = int(item['snat'])
                item.action = 'update' if item.changes else None
            item.after = self.view(item, after)

    def collection(self, item):
        return '/cluster/sdn/vnets/{0}/subnets'.format(item['vnet'])

    def object_id(self, item):
        return item.sid

    def missing_view(self, item):
        return {'subnet': item.sid, 'cidr': item['subnet'], 'vnet': item['vnet']}

    @staticmethod
    def view(item, entry):
        if entry is None:
            return {}
        out = {'subnet': item.sid, 'cidr': item['subnet'], 'vnet': item['vnet'], 'snat': truth(entry.get('snat'))}
        if entry.get('gateway'):
            out['gateway'] = entry['gateway']
        return out


def main():
    PveSdnSubnet.main()


if __name__ == '__main__':
    main()
