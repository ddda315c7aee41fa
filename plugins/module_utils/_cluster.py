# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: the cluster's state, read once per module run.

One GET /cluster/resources answers "which guests exist, where, named what, in which pool,
with which tags" and "which nodes are online with how much memory". Modules look guests up
here instead of asking per guest, and update the cache for what they create or delete.
"""

from __future__ import annotations

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError

GUEST_TYPES = ('qemu', 'lxc')


def split_tags(text):
    """PVE stores tags as one string separated by ';' (older releases also ',' or ' ')."""
    return [t for t in str(text or '').replace(',', ';').replace(' ', ';').split(';') if t]


class Cluster(object):
    def __init__(self, client):
        self.client = client
        self._resources = None

    def refresh(self):
        self._resources = None

    @property
    def resources(self):
        if self._resources is None:
            self._resources = list(self.client.get('/cluster/resources') or [])
        return self._resources

    # ------------------------------------------------------------------ guests

    def guests(self, kind=None):
        """VMs (qemu) and containers (lxc); kind narrows to one of them."""
        kinds = (kind,) if kind else GUEST_TYPES
        return [r for r in self.resources if r.get('type') in kinds]

    def guest(self, vmid):
        """The guest with this vmid, or None (vmids are unique across VMs and containers)."""
        vmid = int(vmid)
        for r in self.guests():
            if int(r.get('vmid', -1)) == vmid:
                return r
        return None

    def guests_named(self, name, kind=None):
        return [r for r in self.guests(kind) if r.get('name') == name]

    def find_guest(self, name=None, vmid=None, kind=None):
        """One guest by vmid or by name; a name that two guests carry is an error, not a guess."""
        if vmid is not None:
            found = self.guest(vmid)
            if found is not None and kind and found.get('type') != kind:
                raise PveError('vmid {0} is a {1}, not a {2}'.format(vmid, found.get('type'), kind))
            return found
        matches = self.guests_named(name, kind)
        if len(matches) > 1:
            raise PveError('name {0!r} matches {1} guests ({2}); give the vmid'.format(
                name, len(matches), ', '.join(str(m['vmid']) for m in matches)))
        return matches[0] if matches else None

    def used_vmids(self):
        return set(int(r['vmid']) for r in self.guests())

    def remember(self, entry):
        """Record a guest this run created (so later lookups in the same run see it)."""
        self.forget(entry['vmid'])
        entry.setdefault('type', 'qemu')
        self.resources.append(entry)

    def forget(self, vmid):
        self._resources = [r for r in self.resources
                           if not (r.get('type') in GUEST_TYPES and int(r.get('vmid', -1)) == int(vmid))]

    # ------------------------------------------------------------------- nodes

    def nodes(self):
        return [r for r in self.resources if r.get('type') == 'node']

    def node(self, name):
        for r in self.nodes():
            if r.get('node') == name:
                return r
        return None

    def online_nodes(self):
        return [r for r in self.nodes() if r.get('status') == 'online']

    # ------------------------------------------------------------------- pools

    def pool_members(self, pool):
        return [r for r in self.guests() if r.get('pool') == pool]

    def tagged(self, tag):
        return [r for r in self.guests() if tag in split_tags(r.get('tags'))]
