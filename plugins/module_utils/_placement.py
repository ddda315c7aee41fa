# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: which vmid a new guest gets, and on which node it goes.

Not a public API. Everything here works on the ONE /cluster/resources read of a module run
(see _cluster.py) and on what the run itself reserves or places, so it is pure logic that
unit tests drive with plain dicts.

vmids: PVE's GET /cluster/nextid does not reserve the id it answers, so parallel clones (in one
run, or two playbooks at once) race for it; the loser gets `unable to create VM N: config file
already exists`. VmidAllocator hands out the smallest id at or above a floor that is neither in
the cluster read nor reserved earlier in this run, and a caller that loses a race marks the id
taken and asks for the next one.

Nodes: Placer picks a node per new guest by a policy and updates its projection after each
choice, so a bulk of clones spreads by free memory instead of all landing on the emptiest node.
"""

from __future__ import annotations

import random
import re
import threading

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import is_template
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import VMID_MAX, VMID_MIN

PLACEMENTS = ('memory', 'memory_percent', 'round_robin', 'random', 'template')

# Drive keys whose volumes PVE checks before a clone (qemu: disks, CD-ROM images, cloud-init; lxc: rootfs, mpN).
_VOLUME_KEY = re.compile(r'^(ide\d+|sata\d+|scsi\d+|virtio\d+|efidisk\d+|tpmstate\d+|rootfs|mp\d+)$')


# ---------------------------------------------------------------- vmid allocation

def is_vmid_collision(message, vmid):
    """True if PVE refused a new guest because its vmid is already in use (by a guest or a clone under way).

    Synchronous: `unable to create VM N: config file already exists`, `VM N already exists on node 'x'`;
    inside the clone task: the same, pmxcfs' `File exists`, or the new id's config lock held by the other
    clone (`can't lock file '/var/lock/qemu-server/lock-N.conf' - got timeout`).
    """
    text = str(message)
    vmid = str(vmid)
    if 'config file already exists' in text:
        return True
    if re.search(r'\b{0}\b'.format(re.escape(vmid)), text) is None:
        return False
    return ('already exists' in text or 'File exists' in text
            or 'lock-{0}.conf'.format(vmid) in text)


class VmidAllocator(object):
    """Smallest free vmid at or above a floor; safe to share between threads.

    `used`: the vmids of the cluster read. Ids handed out are reserved for the rest of the run, so two
    clones of one run never get the same id; an id another client took first is marked with taken().
    """

    def __init__(self, used, floor=VMID_MIN, maximum=VMID_MAX):
        self._lock = threading.Lock()
        self._used = set(int(v) for v in used)
        self.floor = max(int(floor), VMID_MIN)
        self.maximum = int(maximum)
        self.reserved = set()
        self._cursor = self.floor

    def _free(self, vmid):
        return vmid not in self._used and vmid not in self.reserved

    def allocate(self):
        """Reserve and return the smallest free id at or above the floor."""
        with self._lock:
            vmid = self._cursor
            while not self._free(vmid):
                vmid += 1
            if vmid > self.maximum:
                raise PveError('no free vmid between {0} and {1}'.format(self.floor, self.maximum))
            self._cursor = vmid + 1
            self.reserved.add(vmid)
            return vmid

    def reserve(self, vmid):
        """Reserve an id the user chose; False if the cluster read or this run already has it."""
        vmid = int(vmid)
        with self._lock:
            if not self._free(vmid):
                return False
            self.reserved.add(vmid)
            return True

    def taken(self, vmid):
        """Someone else holds this id (we lost a race for it): never hand it out again in this run."""
        with self._lock:
            self._used.add(int(vmid))
            self.reserved.discard(int(vmid))

    def release(self, vmid):
        """An id reserved here was not used after all (the create was refused for another reason)."""
        vmid = int(vmid)
        with self._lock:
            if vmid in self.reserved:
                self.reserved.discard(vmid)
                if self.floor <= vmid < self._cursor:
                    self._cursor = vmid

    def planned(self, count):
        """The ids the next `count` allocations would give, without reserving them (for check mode)."""
        with self._lock:
            out, vmid = [], self._cursor
            while len(out) < count and vmid <= self.maximum:
                if self._free(vmid):
                    out.append(vmid)
                vmid += 1
            return out


# ----------------------------------------------------------------------- storage

def volumes_of(config):
    """{storage id: [config keys]} of the volumes of a guest config, as PVE's clone checks them.

    Counts disks, CD-ROM images and the cloud-init drive; skips `none`, `cdrom` (the host drive) and
    plain paths, which have no storage.
    """
    found = {}
    for key, value in (config or {}).items():
        if not _VOLUME_KEY.match(str(key)):
            continue
        first = str(value).split(',', 1)[0]
        if first.startswith('file='):
            first = first[len('file='):]
        if '=' in first or first in ('', 'none', 'cdrom') or first.startswith('/') or ':' not in first:
            continue
        found.setdefault(first.split(':', 1)[0], []).append(key)
    for keys in found.values():
        keys.sort()
    return found


def storage_table(resources):
    """{storage id: {'shared': bool, 'nodes': set of nodes it is enabled on}} from /cluster/resources."""
    table = {}
    for r in resources:
        if r.get('type') != 'storage' or not r.get('storage'):
            continue
        entry = table.setdefault(r['storage'], {'shared': False, 'nodes': set()})
        entry['shared'] = entry['shared'] or str(r.get('shared', 0)) in ('1', 'True', 'true')
        if r.get('node'):
            entry['nodes'].add(r['node'])
    return table


def clone_targets(template_node, volumes, storages, storage=None, nodes=None):
    """Where a clone of this template may go: (set of node names or None for any node, reason or None).

    PVE (qemu-server API2/Qemu.pm clone_vm) refuses a clone to another node unless every volume of the
    source is on shared storage (`can't clone VM to node 'x' (VM uses local storage)`), and a target
    `storage` for another node must be shared too. A storage the cluster read does not show (no audit
    right on it) is left for PVE to judge. `nodes`: every node of the cluster (to tell whether a storage
    enabled on some nodes only narrows the choice).
    """
    local = sorted(sid for sid in volumes if sid in storages and not storages[sid]['shared'])
    if local:
        return {template_node}, 'the template has volumes on local storage {0} ({1}), and PVE clones such a ' \
            'template only on its own node {2!r}'.format(
                ', '.join(local), ', '.join(k for sid in local for k in volumes[sid]), template_node)
    if storage and storage in storages and not storages[storage]['shared']:
        return {template_node}, 'storage {0!r} is not shared, so PVE clones to it only on the template\'s node ' \
            '{1!r}'.format(storage, template_node)
    allowed = None
    for sid in list(volumes) + ([storage] if storage else []):
        if sid in storages and storages[sid]['nodes']:
            allowed = set(storages[sid]['nodes']) if allowed is None else allowed & storages[sid]['nodes']
    if allowed is None or (nodes is not None and set(nodes) <= allowed):
        return None, None
    allowed.add(template_node)
    return allowed, 'the storages the clone needs are enabled only on {0}'.format(', '.join(sorted(allowed)))


# --------------------------------------------------------------------- placement

def node_loads(resources):
    """{node: {'online', 'maxmem', 'used', 'guests'}} from /cluster/resources.

    `used` is the memory the node would use with all its guests running: what it uses now (running
    guests are in it) plus the configured memory of its stopped guests, which a lab starts later.
    `guests` counts guests that are not templates.
    """
    loads = {}
    for r in resources:
        if r.get('type') == 'node' and r.get('node'):
            loads[r['node']] = {'online': r.get('status') == 'online', 'maxmem': int(r.get('maxmem') or 0),
                                'used': int(r.get('mem') or 0), 'guests': 0}
    for r in resources:
        if r.get('type') not in ('qemu', 'lxc') or r.get('node') not in loads or is_template(r):
            continue
        load = loads[r['node']]
        load['guests'] += 1
        if r.get('status') == 'stopped':
            load['used'] += int(r.get('maxmem') or 0)
    return loads


class Placer(object):
    """Chooses a node for each new guest and projects the load it adds.

    policy: memory (most free bytes), memory_percent (largest free share), round_robin (the online nodes
    in name order, in turn, starting with the one holding the fewest guests), random, template (the
    template's node). Offline nodes and nodes outside `eligible` are never chosen. `need` is the memory
    (bytes) each new guest adds to its node's projection.
    """

    def __init__(self, loads, policy='memory', need=0, eligible=None, template_node=None, rng=None):
        if policy not in PLACEMENTS:
            raise PveError('placement {0!r} is not one of {1}'.format(policy, ', '.join(PLACEMENTS)))
        self.loads = dict((name, dict(load)) for name, load in loads.items())
        self.policy = policy
        self.need = int(need or 0)
        self.template_node = template_node
        self.rng = rng or random.Random()
        self.candidates = sorted(n for n, load in self.loads.items()
                                 if load['online'] and (eligible is None or n in eligible))
        self._rotation = None
        self.warnings = []

    def free(self, node):
        load = self.loads[node]
        return load['maxmem'] - load['used']

    def free_percent(self, node):
        load = self.loads[node]
        return 100.0 * (load['maxmem'] - load['used']) / load['maxmem'] if load['maxmem'] else 0.0

    def check(self, node):
        """Why node cannot take a guest, or None."""
        if node not in self.loads:
            return 'node {0!r} is not in the cluster (nodes: {1})'.format(node, ', '.join(sorted(self.loads)))
        if not self.loads[node]['online']:
            return 'node {0!r} is offline'.format(node)
        if node not in self.candidates:
            return 'node {0!r} cannot take a clone of this template'.format(node)
        return None

    def choose(self, need=None):
        """The node for the next guest (its projection is updated); need: the memory in bytes it counts for, if not
        self.need."""
        if not self.candidates:
            raise PveError('no online node can take the clone (nodes: {0})'.format(
                ', '.join('{0} ({1})'.format(n, 'online' if load['online'] else 'offline')
                          for n, load in sorted(self.loads.items())) or 'none'))
        if self.policy == 'template':
            reason = self.check(self.template_node)
            if reason:
                raise PveError('placement template: ' + reason)
            node = self.template_node
        elif self.policy == 'memory':
            node = min(self.candidates, key=lambda n: (-self.free(n), n))
        elif self.policy == 'memory_percent':
            node = min(self.candidates, key=lambda n: (-self.free_percent(n), n))
        elif self.policy == 'random':
            node = self.rng.choice(self.candidates)
        else:
            if self._rotation is None:
                start = min(range(len(self.candidates)),
                            key=lambda i: (self.loads[self.candidates[i]]['guests'], i))
                self._rotation = start
            node = self.candidates[self._rotation % len(self.candidates)]
            self._rotation += 1
        self.place(node, need)
        return node

    def place(self, node, need=None):
        """Count one more guest on node (chosen here or given by the user)."""
        load = self.loads.get(node)
        if load is None:
            return
        load['used'] += self.need if need is None else int(need)
        load['guests'] += 1
        if load['maxmem'] and load['used'] > load['maxmem']:
            warning = 'node {0} is planned beyond its memory ({1} MiB of {2} MiB with every guest running)'.format(
                node, load['used'] // 1048576, load['maxmem'] // 1048576)
            if not any(w.startswith('node {0} '.format(node)) for w in self.warnings):
                self.warnings.append(warning)
