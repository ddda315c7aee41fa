#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_sdn_apply
short_description: Apply the pending Proxmox VE SDN configuration and wait for every node's network reload
version_added: 0.1.0
description:
  - PVE keeps SDN changes (zones, VNets, subnets) pending until they are applied (C(PUT /cluster/sdn)), which makes
    them the running configuration and reloads the network of every node. Until then a guest cannot start on a new
    VNet.
  - Applies only when something is pending, so a run after which nothing changed reloads no node's network. The
    pending objects are read first (C(GET ...?pending=1) of the zones, the VNets and each VNet's subnets).
  - Follows the C(reloadnetworkall) task, then each node's network reload (C(srvreload)) to its end.
  - In check mode reports what is pending and applies nothing.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  timeout:
    description: Seconds to wait for the apply task and for each node's network reload.
    type: int
    default: 300
  parallel:
    description: How many reads of VNets' subnets are in flight at once.
    type: int
    default: 8
  subnets:
    description:
      - Whether to look for pending subnets. PVE lists subnets only per VNet, so this is one read per VNet;
        V(false) saves them where no subnet is managed (pure layer-2 VNets). A subnet change pending alone is
        then not seen, and nothing is applied for it (an apply, when one happens, applies everything pending).
    type: bool
    default: true
notes:
  - SDN controllers, IPAM, DNS and fabrics are not read; a change pending only there is not applied by this module.
seealso:
  - module: pvelab.proxmox.pve_sdn_zone
  - module: pvelab.proxmox.pve_sdn_vnet
  - module: pvelab.proxmox.pve_sdn_subnet
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Apply the SDN changes of the tasks before
  pvelab.proxmox.pve_sdn_apply:

- name: What an apply would change
  pvelab.proxmox.pve_sdn_apply:
  check_mode: true
  register: sdn

- name: Show it
  ansible.builtin.debug:
    msg: "{{ sdn.pending | map(attribute='id') | list }}"
'''

RETURN = r'''
pending:
  description: The objects that were pending before the run (what check mode would apply), in PVE's words.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: V(zone), V(vnet) or V(subnet).
      type: str
      sample: vnet
    id:
      description: The object's id.
      type: str
      sample: lab0001
    state:
      description: V(new), V(changed) or V(deleted).
      type: str
      sample: new
    vnet:
      description: The VNet of a subnet.
      type: str
      returned: for subnets
      sample: lab0001
upid:
  description: The apply task (C(reloadnetworkall)); empty when nothing was applied.
  returned: always
  type: str
  sample: "UPID:pve1:0000A1B2:00C3D4E5:6650F00D:reloadnetworkall::root@pam:"
reloads:
  description: Each node's network reload task (C(srvreload)) by node; empty when nothing was applied.
  returned: always
  type: dict
  sample: {"pve1": "UPID:pve1:0000A1B3:00C3D4E6:6650F00E:srvreload:networking:root@pam:"}
'''

from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module
from ansible_collections.pvelab.proxmox.plugins.module_utils._sdn import pending_changes
from ansible_collections.pvelab.proxmox.plugins.module_utils._tasks import wait_task, wait_tasks


def upid_starttime(upid):
    """UPID:node:pid:pstart:starttime:... -> the start time (seconds, from hex)."""
    return int(str(upid).split(':')[4], 16)


class PveSdnApply(PveModuleBase):

    def execute(self):
        p = self.params
        pending = pending_changes(self.client, p['parallel'], p['subnets'])
        self.result.update(pending=pending, upid='', reloads={})
        if not pending:
            return
        self.changed()
        self.diff = {'before': {'pending': ['{0} {1} ({2})'.format(c['type'], c['id'], c['state']) for c in pending]},
                     'after': {'pending': []}}
        if self.check_mode:
            return
        upid = self.client.put('/cluster/sdn')
        self.result['upid'] = upid
        wait_task(self.client, upid, timeout=p['timeout'], what='SDN apply')
        self.result['reloads'] = reloads = self.node_reloads(upid_starttime(upid))
        failed = dict((node, error) for node, error in wait_tasks(self.client, reloads, timeout=p['timeout']).items()
                      if error is not None)
        if failed:
            self.fail('SDN is applied, but the network reload failed on {0}: {1}'.format(
                ', '.join(sorted(failed)), '; '.join(str(failed[n]) for n in sorted(failed))))

    def node_reloads(self, since):
        """{node: upid} of the network reload each online node started for this apply (the newest since it)."""
        out = {}
        for node in sorted(n['node'] for n in self.client.get('/nodes') if n.get('status', 'online') == 'online'):
            tasks = [t for t in self.client.get('/nodes/{0}/tasks'.format(node), typefilter='srvreload', source='all')
                     if int(t.get('starttime', 0)) >= since]
            if tasks:
                out[node] = max(tasks, key=lambda t: int(t['starttime']))['upid']
            else:
                self.module.warn('node {0} started no network reload for this SDN apply'.format(node))
        return out


def main():
    module = pve_module(dict(
        timeout=dict(type='int', default=300),
        parallel=dict(type='int', default=8),
        subnets=dict(type='bool', default=True),
    ))
    PveSdnApply(module).run()


if __name__ == '__main__':
    main()
