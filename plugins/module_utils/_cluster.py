# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: the cluster's state, read once per module run.

One GET /cluster/resources answers, live, which guests exist (vmid, node, type), their lock, tags
and pool (the pool only for a caller with Pool.Audit on it), and which nodes are online with how
much memory. A guest's name, status, template flag and uptime there are NOT live: PVE fills them
from pvestatd's cache, refreshed about every 10 s, and a guest it has not seen yet is
`status: unknown` with no name (pve-manager PVE/API2Tools.pm extract_vm_stats). So a guest the
cache cannot vouch for (unknown, nameless, or locked by a clone under way) is taken from its node's
own guest list (GET /nodes/{node}/qemu or /lxc, built from each guest's config and process), read
once per node and kind; and callers that decide on what runs ask for every guest live
(`live=True`). Modules look guests up here instead of asking per guest, and update the state for
what they create or delete.
"""

from __future__ import annotations

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError

GUEST_TYPES = ('qemu', 'lxc')


def split_tags(text):
    """PVE stores tags as one string separated by ';' (older releases also ',' or ' ')."""
    return [t for t in str(text or '').replace(',', ';').replace(' ', ';').split(';') if t]


def is_template(entry):
    """True for a template: PVE gives its template flag as 1 (or a JSON boolean); a guest without it is none."""
    return str(entry.get('template', 0)) in ('1', 'True', 'true')


# What the node's own guest list (qemu-server / pve-container vmstatus) says live, over the cached entry.
LIVE_FIELDS = ('name', 'status', 'template', 'uptime', 'lock', 'tags', 'maxmem', 'mem', 'maxdisk', 'cpu')


def placeholder_name(entry):
    """True for the name vmstatus gives a guest whose config has none (a qemu clone under way): 'VM 123'."""
    name = entry.get('name')
    return not name or name in ('VM {0}'.format(entry.get('vmid')), 'CT{0}'.format(entry.get('vmid')))


class Cluster(object):
    def __init__(self, client):
        self.client = client
        self._resources = None
        self._listings = {}
        self._fresh = set()  # vmids whose entry holds what the node said (or what this run made)

    @property
    def resources(self):
        """The /cluster/resources answer as PVE gave it (guest names and states there are cached)."""
        if self._resources is None:
            self._resources = list(self.client.get('/cluster/resources') or [])
        return self._resources

    def _listing(self, node, kind):
        """{vmid: entry} of GET /nodes/{node}/{kind}, or None when the node does not answer (offline)."""
        key = (node, kind)
        if key not in self._listings:
            try:
                self._listings[key] = dict((int(g['vmid']), g) for g in self.client.get(
                    '/nodes/{0}/{1}'.format(node, kind)) or [] if g.get('vmid') is not None)
            except PveError:
                self._listings[key] = None
        return self._listings[key]

    @staticmethod
    def vouched(entry):
        """True if the cached entry's name and template flag can be used: pvestatd has reported the guest, it
        has a name of its own and no clone is making it (a vmid reused since the last report is being made)."""
        return entry.get('status') != 'unknown' and not placeholder_name(entry) and \
            entry.get('lock') not in ('clone', 'create')

    def _view(self, entry, live):
        return self._live(entry) if live or not self.vouched(entry) else entry

    def _live(self, entry):
        """The resources entry with its name, status and template flag as the guest's node says them now."""
        if int(entry['vmid']) in self._fresh:
            return entry
        node = self.node(entry.get('node'))
        listing = self._listing(entry['node'], entry['type']) if node and node.get('status') == 'online' else None
        own = (listing or {}).get(int(entry['vmid']))
        if own is not None:
            for key in LIVE_FIELDS:
                entry.pop(key, None)
                if own.get(key) is not None:
                    entry[key] = own[key]
            entry.setdefault('template', 0)
            if placeholder_name(entry):
                entry.pop('name', None)  # its config has no name yet: a clone under way
        self._fresh.add(int(entry['vmid']))
        return entry

    # ------------------------------------------------------------------ guests

    def guests(self, kind=None, live=False):
        """VMs (qemu) and containers (lxc); kind narrows to one of them. live: every guest's name, status,
        template flag and uptime from its node (for a decision on what runs), not only the unvouched ones."""
        kinds = (kind,) if kind else GUEST_TYPES
        return [self._view(r, live) for r in self.resources if r.get('type') in kinds]

    def guest(self, vmid, live=False):
        """The guest with this vmid, or None (vmids are unique across VMs and containers)."""
        vmid = int(vmid)
        for r in self.resources:
            if r.get('type') in GUEST_TYPES and int(r.get('vmid', -1)) == vmid:
                return self._view(r, live)
        return None

    def guests_named(self, name, kind=None, live=False):
        return [r for r in self.guests(kind, live) if r.get('name') == name]

    def find_guest(self, name=None, vmid=None, kind=None, live=False):
        """One guest by vmid or by name; a name that two guests carry is an error, not a guess."""
        if vmid is not None:
            found = self.guest(vmid, live)
            if found is not None and kind and found.get('type') != kind:
                raise PveError('vmid {0} is a {1}, not a {2}'.format(vmid, found.get('type'), kind))
            return found
        matches = self.guests_named(name, kind, live)
        if len(matches) > 1:
            raise PveError('name {0!r} matches {1} guests ({2}); give the vmid'.format(
                name, len(matches), ', '.join(str(m['vmid']) for m in matches)))
        return matches[0] if matches else None

    def unnamed_clones(self):
        """VMs being cloned whose name is not known yet (qemu-server writes it when the clone ends)."""
        return [g for g in self.guests('qemu') if g.get('lock') == 'clone' and not g.get('name')]

    def node_offline(self, entry):
        """True if the guest's node is not online (the node's own entry says so; a guest's `unknown` does not)."""
        node = self.node(entry.get('node'))
        return node is None or node.get('status') != 'online'

    def used_vmids(self):
        return set(int(r['vmid']) for r in self.guests())

    def remember(self, entry):
        """Record a guest this run created (so later lookups in the same run see it)."""
        self.forget(entry['vmid'])
        entry.setdefault('type', 'qemu')
        self.resources.append(entry)
        self._fresh.add(int(entry['vmid']))

    def forget(self, vmid):
        self._fresh.discard(int(vmid))
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

    # ------------------------------------------------------------------- pools

    def pool_members(self, pool):
        """The guests in the pool, from the pool itself (GET /pools/{pool}): /cluster/resources leaves a guest's
        pool out for a caller without Pool.Audit on it, where this says so instead of selecting nothing."""
        data = self.client.get('/pools/{0}'.format(pool)) or {}
        vmids = set(int(m['vmid']) for m in data.get('members') or [] if m.get('type') in GUEST_TYPES)
        return [r for r in self.guests() if int(r['vmid']) in vmids]

    def tagged(self, tag):
        return [r for r in self.guests() if tag in split_tags(r.get('tags'))]
