# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: PVE's SDN rules and its pending configuration, for pve_sdn_zone, pve_sdn_vnet,
pve_sdn_subnet and pve_sdn_apply.

What PVE itself checks (pve-network), so a bad item fails before the first write:
- zone and VNet ids: a letter, then letters and digits, 2 to 8 characters (`pve-sdn-zone-id`, `pve-sdn-vnet-id`);
- a vlan zone needs a bridge; a simple zone takes none (each zone type takes its own options);
- a VNet's tag: none in a simple zone, one of 1..4096 in a vlan zone, not carried by another VNet of the zone;
- a VNet's alias: up to 256 of the characters its pattern allows;
- a subnet's id is `<zone>-<cidr with - for />`; its gateway is optional and must lie in it.

SDN changes are written to a pending configuration; nothing reaches the nodes until `PUT /cluster/sdn` applies
them. `GET ...?pending=1` lists every object with `state` (new, changed, deleted) and, under `pending`, the values
not yet applied: one read gives both what is written (`written`) and whether an apply is due (`is_pending`).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import BulkModule, parallel_map

SDN_ID = re.compile(r'[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]')
SDN_ID_MAX = 8
ZONE_TYPES = ('simple', 'vlan')
VLAN_TAG_MIN, VLAN_TAG_MAX = 1, 4096
# The alias pattern of pve-network's VnetPlugin: `\)-_` there is the range from ')' to '_' (digits, capitals and
# most punctuation), plus '(' '.', word characters and white space, case-insensitive.
ALIAS = re.compile(r'[(\)-_.\w\s]{0,256}', re.IGNORECASE)
# Keys of a pending view that are not configuration values.
VIEW_KEYS = ('state', 'pending', 'digest', 'subnet', 'id', 'cidr', 'network', 'mask')


def validate_sdn_id(value, field='zone'):
    """A zone or VNet id as PVE takes it; raises ValueError naming the field."""
    text = str(value)
    if not SDN_ID.fullmatch(text) or len(text) > SDN_ID_MAX:
        raise ValueError('{0} {1!r} is not a PVE SDN id: a letter, then letters and digits, 2 to {2} characters'
                         .format(field, text, SDN_ID_MAX))
    return text


def validate_alias(value, field='alias'):
    text = str(value)
    if len(text) > 256 or not ALIAS.fullmatch(text):
        raise ValueError('{0} {1!r} has characters PVE does not take in a VNet alias (or more than 256)'
                         .format(field, text))
    return text


def validate_tag(value, field='tag'):
    tag = int(value)
    if not VLAN_TAG_MIN <= tag <= VLAN_TAG_MAX:
        raise ValueError('{0} {1} is out of range: a VLAN tag is {2} to {3}'.format(
            field, tag, VLAN_TAG_MIN, VLAN_TAG_MAX))
    return tag


def validate_cidr(value, field='subnet'):
    """The subnet as given (PVE keeps the text: it names the subnet), checked to be an IPv4 or IPv6 CIDR."""
    text = str(value)
    if '/' not in text:
        raise ValueError('{0} {1!r} is not a CIDR (address/prefix length)'.format(field, text))
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError('{0} {1!r} is not a CIDR (address/prefix length)'.format(field, text)) from None
    return text


def validate_gateway(gateway, cidr, field='gateway'):
    """SubnetPlugin's rule: the gateway lies in the subnet (an IPv4 /32 may have it outside)."""
    try:
        address = ipaddress.ip_address(str(gateway))
    except ValueError:
        raise ValueError('{0} {1!r} is not an IP address'.format(field, gateway)) from None
    network = ipaddress.ip_network(cidr, strict=False)
    if address not in network and not (address.version == 4 and network.prefixlen == 32):
        raise ValueError('{0} {1} is not in subnet {2}'.format(field, gateway, cidr))
    return str(address)


def subnet_id(zone, cidr):
    """The id PVE gives a subnet of a VNet in zone."""
    return '{0}-{1}'.format(zone, str(cidr).replace('/', '-', 1))


def written(entry):
    """The configuration as written (applied or not) from an entry of a `pending=1` list; None once deleted."""
    if entry is None or entry.get('state') == 'deleted':
        return None
    out = dict((k, v) for k, v in entry.items() if k not in VIEW_KEYS)
    for key, value in (entry.get('pending') or {}).items():
        if value == 'deleted':
            out.pop(key, None)
        else:
            out[key] = value
    return out


def is_pending(entry):
    return bool(entry.get('state'))


def node_list(value):
    """A zone's `nodes` (PVE: a comma-separated list) as a sorted list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return sorted(set(str(v) for v in value))
    return sorted(set(n for n in re.split(r'[\s,;]+', str(value)) if n))


def read_zones(client):
    """{zone: pending-view entry}: one read."""
    return dict((z['zone'], z) for z in client.get('/cluster/sdn/zones', pending=1) or [])


def read_vnets(client):
    return dict((v['vnet'], v) for v in client.get('/cluster/sdn/vnets', pending=1) or [])


def read_subnets(client, vnets, parallel=8):
    """{vnet: {subnet id: pending-view entry}} for the VNets named: one read each, in the worker pool."""
    out = {}
    for vnet, subnets, error in parallel_map(
            lambda v: client.get('/cluster/sdn/vnets/{0}/subnets'.format(v), pending=1) or [], sorted(vnets), parallel):
        if error is not None:
            raise error
        out[vnet] = dict((s['subnet'], s) for s in subnets)
    return out


def pending_changes(client, parallel=8, with_subnets=True):
    """Every SDN object an apply would change: [{'type': zone|vnet|subnet, 'id': ..., 'state': ...}]. PVE lists
    subnets only per VNet: with_subnets=False leaves out those reads (one per VNet)."""
    zones, vnets = read_zones(client), read_vnets(client)
    out = [{'type': 'zone', 'id': k, 'state': z['state']} for k, z in sorted(zones.items()) if is_pending(z)]
    out += [{'type': 'vnet', 'id': k, 'state': v['state']} for k, v in sorted(vnets.items()) if is_pending(v)]
    for vnet, subnets in sorted(read_subnets(client, vnets if with_subnets else (), parallel).items()):
        out += [{'type': 'subnet', 'id': k, 'state': s['state'], 'vnet': vnet}
                for k, s in sorted(subnets.items()) if is_pending(s)]
    return out


class SdnBulkModule(BulkModule):
    """What pve_sdn_zone, pve_sdn_vnet and pve_sdn_subnet share: an item is one SDN object, planned as create,
    update or delete (item.params the POST or PUT parameters), written at `collection(item)` (POST) and
    `collection(item)/object_id(item)` (PUT, DELETE), reported as the object after the run with its state."""

    def collection(self, item):
        raise NotImplementedError

    def object_id(self, item):
        return item.key

    def missing_view(self, item):
        """What the report shows of an object that is not there (after the run)."""
        return {}

    @staticmethod
    def plan_absent(item):
        """Plan an item with state absent (True: it is planned): delete it when it exists."""
        if item['state'] != 'absent':
            return False
        if item.entry:
            item.action, item.changes = 'delete', ['deleted']
        item.after = {}
        return True

    def apply_item(self, item):
        if item.action == 'create':
            self.client.post(self.collection(item), **item.params)
        elif item.action == 'update':
            self.client.put('{0}/{1}'.format(self.collection(item), self.object_id(item)), **item.params)
        else:
            self.client.delete('{0}/{1}'.format(self.collection(item), self.object_id(item)))

    def report(self, items):
        for item in items:
            shown = item.after if item.changed else item.before
            item.view = dict(shown or self.missing_view(item), changes=list(item.changes),
                             state='present' if shown else 'absent')
        super().report(items)
