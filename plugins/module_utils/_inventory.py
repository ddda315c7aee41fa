# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: what the inventory plugin reads from PVE, without Ansible's inventory objects.

Not a public API. The cost on a cluster of N guests is one GET /cluster/resources, plus, for each running
guest the plugin keeps, one guest agent call (VMs) or one /interfaces call (containers), and a config read
only for those that gave no address. The per-guest calls run in parallel (_bulk.parallel_map).
"""

from __future__ import annotations

import re

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import GUEST_TYPES, is_template, split_tags
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    first_ipv4,
    guest_ips,
    ipv4_first,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import guest_lab

_GROUP_UNSAFE = re.compile(r'[^A-Za-z0-9_]')


def safe_group(name):
    """A group name Ansible accepts without a warning: anything but letters, digits and '_' becomes '_'."""
    return _GROUP_UNSAFE.sub('_', str(name))


def guest_from_resource(resource):
    """The plugin's view of a /cluster/resources guest entry (JSON-serializable, so it can be cached)."""
    tags = split_tags(resource.get('tags'))
    pool = resource.get('pool') or None
    return {
        'vmid': int(resource['vmid']),
        'name': resource.get('name') or '',
        'node': resource.get('node'),
        'type': resource.get('type'),
        'status': resource.get('status') or 'unknown',
        'template': is_template(resource),
        'tags': tags,
        'pool': pool,
        'lab': None,  # set by assign_labs()
        'lock': resource.get('lock') or None,
        'maxcpu': resource.get('maxcpu'),
        'maxmem': resource.get('maxmem'),
        'ips': [],
        'ip_source': None,
    }


def guests_from_resources(resources, include_templates=False, include_stopped=True):
    """The guests (VMs and containers) of a /cluster/resources answer, by vmid, narrowed as asked."""
    out = []
    for resource in resources or []:
        if resource.get('type') not in GUEST_TYPES or resource.get('vmid') is None:
            continue
        guest = guest_from_resource(resource)
        if guest['template'] and not include_templates:
            continue
        if not include_stopped and guest['status'] != 'running' and not guest['template']:
            continue
        out.append(guest)
    return sorted(out, key=lambda g: g['vmid'])


def lab_pools(pools):
    """{poolid: comment} of a GET /pools answer."""
    return dict((p['poolid'], p.get('comment') or '') for p in pools or [] if p.get('poolid'))


def assign_labs(guests, pools=None):
    """Set each guest's lab: _lab.guest_lab, the pool it is in if that pool is a lab's. pools: {poolid: comment},
    or None when they could not be read."""
    for guest in guests:
        guest['lab'] = guest_lab(guest, pools)
    return guests


def host_names(guests):
    """{vmid: inventory host name}: the guest's name; guests that share a name get '<name>-<vmid>'.

    Every guest of a shared name is renamed (not only the later ones), so a host's name does not depend on
    which of them PVE happened to list first. A guest without a name is '<type>-<vmid>'.
    """
    counts = {}
    for guest in guests:
        counts[guest['name']] = counts.get(guest['name'], 0) + 1
    names = {}
    taken = set(name for name, count in counts.items() if name and count == 1)
    for guest in guests:
        name = guest['name']
        if not name:
            candidate = '{0}-{1}'.format(guest['type'], guest['vmid'])
        elif counts[name] == 1:
            candidate = name
        else:
            candidate = '{0}-{1}'.format(name, guest['vmid'])
        while candidate in taken and candidate != name:
            candidate += '-{0}'.format(guest['vmid'])
        taken.add(candidate)
        names[guest['vmid']] = candidate
    return names


# ---------------------------------------------------------------- addresses

def ansible_host(ips):
    """The address Ansible connects to: the first IPv4 address, else the first other one, else None."""
    return first_ipv4(ips)


def lookup_ips(client, guest):
    """(ips, source, problem) for one running guest by _guests.guest_ips' rule, IPv4 first (pve_ips). problem is
    PVE's reason when no address was found, else None."""
    try:
        ips, source, problem = guest_ips(client, guest)
    except PveApiError as exc:  # neither an agent's answer nor a readable config: that guest has no address
        return [], None, 'config: {0}'.format(exc.pve_message or exc)
    return ipv4_first(ips), source, problem


def gather_ips(client, guests, parallel=8):
    """Fill in ips/ip_source of each guest (running ones only), `parallel` lookups at a time.

    Returns (problems, errors): {vmid: why no address was found} (PVE's reason, e.g. the agent is not
    running) and {vmid: error} for lookups that failed on the network after the client's retries.
    """
    todo = [g for g in guests if g['status'] == 'running' and not g['template']]
    problems, errors = {}, {}
    for guest, found, error in parallel_map(lambda g: lookup_ips(client, g), todo, max(1, int(parallel))):
        if error is not None:  # a network fault that outlived the client's retries
            guest['ips'], guest['ip_source'] = [], None
            errors[guest['vmid']] = str(error)
            continue
        guest['ips'], guest['ip_source'], problem = found
        if problem:
            problems[guest['vmid']] = problem
    return problems, errors
