# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: operations on guests (VMs and containers) the modules share.

Not a public API. A guest is named by its /cluster/resources entry (a dict with `vmid`, `node`,
`type` qemu|lxc, `name`, `status`, ...). Here: running many tasks at once with a concurrency limit
(one status read per running task per round, lock refusals retried), power actions, config reads
and updates that keep each NIC's MAC, a guest's addresses (guest_ips: what its agent reports,
else its static config; never loopback or link-local ones), delete with purge, and the bulk flow
of modules whose items are guests (GuestBulkModule).
"""

from __future__ import annotations

import collections
import ipaddress
import re
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from urllib.parse import quote, unquote

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import LOCK_MARKERS, PveApiError, PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import BulkModule, Item, parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import split_tags
from ansible_collections.pvelab.proxmox.plugins.module_utils._tasks import (
    POLL_FACTOR,
    POLL_FIRST,
    POLL_MAX,
    PveTaskError,
    PveTaskTimeout,
    wait_task,
    wait_tasks,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import format_props, parse_props

KINDS = ('qemu', 'lxc')
STATES = ('present', 'started', 'stopped', 'shutdown', 'restarted', 'absent', 'template')
# PVE's NIC models (qemu-server PVE/QemuServer/Network.pm): `model=MAC` leads a netN value.
NET_MODELS = ('e1000', 'e1000-82540em', 'e1000-82544gc', 'e1000-82545em', 'e1000e', 'i82551', 'i82557b',
              'i82559er', 'ne2k_isa', 'ne2k_pci', 'pcnet', 'rtl8139', 'virtio', 'vmxnet3')
# Defaults PVE assumes for a key the config does not hold.
CONFIG_DEFAULTS = {'cores': 1, 'sockets': 1, 'memory': 512}
CLOUD_INIT = ('ciuser', 'cipassword', 'sshkeys', 'ipconfig')
# Options only a VM has (a container's config has none of them).
QEMU_ONLY = CLOUD_INIT + ('sockets', 'agent')
# The least memory (MiB) a guest of a qemu-server ostype boots with: the OS vendors' stated minimums (Debian and
# most current Linux distributions 256 MiB, Windows 7 and Server 2008 1 GiB, Windows 8 and 10 64-bit 2 GiB,
# Windows 11 4 GiB). PVE itself takes 16 MiB and up; below these the guest is set but will not boot (a warning).
MEMORY_FLOORS = {'l26': 256, 'other': 256, 'l24': 64, 'w2k': 64, 'wxp': 128, 'w2k3': 128, 'wvista': 512,
                 'win7': 1024, 'w2k8': 1024, 'solaris': 1024, 'win8': 2048, 'win10': 2048, 'win11': 4096}
# A container shares its node's kernel: its floor is a distribution's init and shell, whatever its ostype.
CONTAINER_MEMORY_FLOOR = 64


def memory_floor(kind, ostype):
    """The least memory (MiB) a guest of this kind (qemu or lxc) and ostype boots with (MEMORY_FLOORS); a VM
    without an ostype is PVE's `other`."""
    if kind == 'lxc':
        return CONTAINER_MEMORY_FLOOR
    return MEMORY_FLOORS.get(str(ostype or 'other'), MEMORY_FLOORS['other'])


def guest_path(entry):
    return '/nodes/{0}/{1}/{2}'.format(entry['node'], entry.get('type') or 'qemu', entry['vmid'])


def label(entry):
    """How messages name a guest: 'web01 (vmid 101)'."""
    name = entry.get('name')
    return '{0} (vmid {1})'.format(name, entry['vmid']) if name else 'vmid {0}'.format(entry['vmid'])


def item_label(item):
    """How messages name a bulk item that is a guest: label() once found, else as asked ("'ghost'", 'vmid 5000')."""
    if item.entry is not None:
        return label(item.entry)
    return repr(item.get('name')) if item.get('name') else 'vmid {0}'.format(item.get('vmid'))


class GuestBulkModule(BulkModule):
    """The bulk flow of a module whose items are guests (pve_vm, pve_snapshot): an item's key is its guest's label
    (item_label), and a failure names each failed guest ('web01 (vmid 101): stop failed: ...'), where the engine
    would say 'n of m items failed'."""

    def report(self, items):
        for item in items:
            item.key = item_label(item)
        self.describe(items)
        if any(item.error for item in items):
            self.result['items'] = [item.result() for item in items]
            self.fail('; '.join('{0}: {1}'.format(i.key, i.error) for i in items if i.error))
        super().report(items)

    def describe(self, items):
        """Set what each item reports (item.view; item.before and item.after for the diff) and the module's own
        results, before a failure is reported."""


class GuestSelection(object):
    """The item spec of a module whose items are guests, not dicts (pve_snapshot, pve_backup): the guest (vmid or
    name) or the guests (vmids, then names; both may be given), one item each, all with the module's options.
    A subclass's module() adds its own options to OPTIONS."""

    OPTIONS = dict(vmid=dict(type='int'), name=dict(type='str'), vmids=dict(type='list', elements='int'),
                   names=dict(type='list', elements='str'))
    RULES = dict(mutually_exclusive=[('vmid', 'name', 'vmids'), ('vmid', 'name', 'names')],
                 required_one_of=[('vmid', 'name', 'vmids', 'names')])

    @staticmethod
    def items(params):
        asked = [('', key, params[key]) for key in ('vmid', 'name') if params[key] is not None]
        for option, key in (('vmids', 'vmid'), ('names', 'name')):
            asked += [('{0}[{1}]'.format(option, n), key, value) for n, value in enumerate(params[option] or [])]
        return [Item(index, where, {key: value}) for index, (where, key, value) in enumerate(asked)]

    @staticmethod
    def find(cluster, items, missing_ok=False):
        """Find every item's guest (item.entry) in the one cluster read; a guest asked twice (by vmid and by name) is
        one item, the later ones marked item.again. Returns the errors that stop the run before any write: a guest
        not found (unless missing_ok), a name two guests carry, a guest whose node is offline."""
        errors, seen = [], set()
        for item in items:
            item.again = False
            (key, value), = item.values.items()
            try:
                item.entry = cluster.find_guest(**{key: value})
            except PveError as exc:
                errors.append(str(exc))
                continue
            if item.entry is None:
                if not missing_ok:
                    errors.append('no guest with {0} {1!r}'.format(key, value))
                continue
            if int(item.entry['vmid']) in seen:
                item.again = True
                continue
            seen.add(int(item.entry['vmid']))
            # A guest pvestatd has not seen yet (just made) is 'unknown' too: only the node's own entry says
            # whether its node is offline.
            if cluster.node_offline(item.entry):
                errors.append('the node {0} of {1} is not online'.format(item.entry.get('node'), label(item.entry)))
        return errors


def is_lock_error(error):
    """A refusal because another task holds the guest's config lock: worth trying again a little later."""
    text = error.exitstatus if isinstance(error, PveTaskError) else str(error)
    return any(m in str(text) for m in LOCK_MARKERS)


# ----------------------------------------------------------------- parallelism

def run_tasks(client, keys, start, parallel=4, timeout=600, retry=None, lock_timeout=None,
              sleep=time.sleep, clock=time.monotonic):
    """Run one PVE task per key, at most `parallel` at a time; returns {key: None or the PveError}.

    start(key) sends the request and returns its UPID (None if PVE finished synchronously); it may raise
    PveError. Running tasks are followed with wait_tasks, one status read per running task per round,
    and each gets `timeout` seconds from its start. retry(key, error) may ask for the key to be started
    again (for example with another vmid after a collision). A task that failed because the guest's
    config was locked is started again, with backoff, until `lock_timeout` (the client's by default).
    """
    lock_timeout = getattr(client, 'lock_timeout', 120) if lock_timeout is None else lock_timeout
    parallel = max(int(parallel or 1), 1)
    queue = collections.deque(keys)
    results = {}
    running = {}
    begun = {}
    locked_since = {}
    lock_tries = collections.Counter()
    not_before = {}
    starting = {}
    pause = POLL_FIRST

    def failed(key, error, in_task):
        now = clock()
        if retry is not None and retry(key, error):
            queue.append(key)
            return
        if in_task and is_lock_error(error):
            first = locked_since.setdefault(key, now)
            if now - first < lock_timeout:
                lock_tries[key] += 1
                not_before[key] = now + min(0.5 * 2 ** (lock_tries[key] - 1), 5.0)
                queue.append(key)
                return
            error = PveTaskError(error.upid, '{0} (still locked after {1:.0f} s)'.format(
                error.exitstatus, lock_timeout), [line for line in error.log_tail if line != error.exitstatus])
        results[key] = error

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        while queue or running or starting:
            now = clock()
            waiting = collections.deque()
            while queue and len(running) + len(starting) < parallel:
                key = queue.popleft()
                if not_before.get(key, 0) > now:
                    waiting.append(key)
                    continue
                starting[pool.submit(start, key)] = key
            queue.extendleft(reversed(waiting))
            if starting:
                done, _pending = wait_futures(list(starting), timeout=0 if running else POLL_MAX,
                                              return_when=FIRST_COMPLETED)
                for future in done:
                    key = starting.pop(future)
                    try:
                        upid = future.result()
                    except PveError as exc:
                        failed(key, exc, False)
                        continue
                    if upid:
                        running[key] = upid
                        begun[key] = clock()
                        pause = POLL_FIRST
                    else:
                        results[key] = None
            if running:
                status = wait_tasks(client, running, timeout=0)
                now = clock()
                for key, outcome in status.items():
                    if isinstance(outcome, PveTaskTimeout):
                        if now - begun[key] >= timeout:
                            results[key] = PveTaskTimeout(running.pop(key), timeout)
                        continue
                    running.pop(key)
                    if isinstance(outcome, PveTaskError):
                        # the caller says what the task was for: drop wait_tasks' key from the message
                        outcome = PveTaskError(outcome.upid, outcome.exitstatus, outcome.log_tail)
                    if outcome is None:
                        results[key] = None
                    else:
                        failed(key, outcome, isinstance(outcome, PveTaskError))
                if running:
                    sleep(pause)
                    pause = min(pause * POLL_FACTOR, POLL_MAX)
            elif queue and not starting:
                later = min(not_before.get(k, 0) for k in queue) - clock()
                if later > 0:
                    sleep(min(later, POLL_MAX))
    return results


def wait_until(keys, probe, timeout, parallel=8, sleep=time.sleep, clock=time.monotonic, first_pause=0.5):
    """Ask probe(key) in rounds until it answers something other than None, for up to `timeout` seconds.

    Returns ({key: answer}, {key: last PveError or None} for the keys that never answered).
    """
    pending = list(keys)
    answers, last = {}, {}
    deadline = clock() + timeout
    pause = first_pause
    while pending:
        for key, answer, error in parallel_map(probe, pending, parallel):
            if error is None and answer is not None:
                answers[key] = answer
            else:
                last[key] = error
        pending = [k for k in pending if k not in answers]
        now = clock()
        if not pending or now >= deadline:
            break
        sleep(min(pause, deadline - now))
        pause = min(pause * POLL_FACTOR, 5.0)
    return answers, dict((k, last.get(k)) for k in pending)


# ------------------------------------------------------------------------ power

def power_action(status, state):
    """The status/<action> that takes a guest in `status` (PVE's running/stopped) to `state`, or None."""
    running = status == 'running'
    if state == 'started':
        return None if running else 'start'
    if state == 'stopped':
        return 'stop' if running else None
    if state == 'shutdown':
        return 'shutdown' if running else None
    if state == 'restarted':
        return 'reboot' if running else 'start'
    return None


def power_params(action, timeout=None, force=False):
    """PVE's parameters of a power action."""
    if action == 'shutdown':
        params = {'forceStop': 1 if force else 0}
        if timeout:
            params['timeout'] = int(timeout)
        return params
    if action == 'reboot' and timeout:
        return {'timeout': int(timeout)}
    return {}


def power(client, entry, action, **params):
    """POST status/<action>; returns the UPID."""
    return client.post(guest_path(entry) + '/status/' + action, **params)


def to_template(client, entry):
    """Convert to a template; returns the UPID (or None when PVE did it synchronously)."""
    return client.post(guest_path(entry) + '/template')


def destroy(client, entry, purge=True, skiplock=False):
    """DELETE the guest; with purge also from ACLs, pools, replication and backup jobs, and its unreferenced
    disks. Returns the UPID. skiplock is qemu only and root@pam only (see may_skiplock)."""
    params = {}
    if purge:
        params.update({'purge': 1, 'destroy-unreferenced-disks': 1})
    if skiplock:
        params['skiplock'] = 1
    return client.delete(guest_path(entry), **params)


def may_skiplock(client, kind):
    """Whether a delete may skip the guest's lock: qemu-server takes skiplock from the root@pam login only ("Only
    root may use this option."; its tokens are refused too), and a container delete has no skiplock at all."""
    return kind == 'qemu' and client.user == 'root@pam' and not client.token_id


def remove_leftover(client, nodes, vmid, name, kind='qemu', timeout=300):
    """After a failed clone task: destroy guest `vmid` if PVE left it behind under our name.

    Returns a note of what was found and done ('' when nothing was left). Raises PveError, naming the
    guest and how to remove it, when it is there and could not be removed: a leftover still locked can be
    removed through the API only by root@pam, and only a VM (see may_skiplock).
    """
    for node in nodes:
        entry = {'node': node, 'type': kind, 'vmid': vmid, 'name': name}
        try:
            config = client.get(guest_path(entry) + '/config') or {}
        except PveApiError as exc:
            if 'does not exist' in exc.pve_message or exc.status == 404:
                continue
            raise PveError('{0} may have been left behind on node {1}; it could not be checked: {2}'.format(
                label(entry), node, exc)) from None
        if config.get('hostname' if kind == 'lxc' else 'name') != name:
            return ''  # that id is someone else's guest now
        lock = config.get('lock')
        tool = 'pct' if kind == 'lxc' else 'qm'
        by_hand = 'remove it on node {0} with `{1} unlock {2} && {1} destroy {2} --purge`'.format(node, tool, vmid)
        if lock and not may_skiplock(client, kind):
            raise PveError("{0} was left behind on node {1} with lock '{2}' and was not removed: {3}; {4}".format(
                label(entry), node, lock,
                'PVE deletes no locked container' if kind == 'lxc' else
                'only root@pam (a password login, not a token) may skip the lock of a VM', by_hand))
        try:
            wait_task(client, destroy(client, entry, purge=True, skiplock=bool(lock)), timeout,
                      what='remove the half-made {0}'.format(label(entry)))
        except PveError as exc:
            raise PveError('{0} was left behind on node {1}{2} and could not be removed ({3}); {4}'.format(
                label(entry), node, " with lock '{0}'".format(lock) if lock else '', exc, by_hand)) from None
        return 'the half-made {0} it left{1} was removed'.format(
            label(entry), " (lock '{0}')".format(lock) if lock else '')
    return ''


# ----------------------------------------------------------------------- config

def read_pending(client, entry):
    """(current, pending, deleted) of a guest's config, from one GET .../pending."""
    current, pending, deleted = {}, {}, set()
    for item in client.get(guest_path(entry) + '/pending') or []:
        key = item.get('key')
        if key is None:
            continue
        if 'value' in item:
            current[key] = item['value']
        if 'pending' in item:
            pending[key] = item['pending']
        if str(item.get('delete', 0)) not in ('0', ''):
            deleted.add(key)
    return current, pending, deleted


def next_config(current, pending, deleted):
    """The config the guest has once its pending changes are applied (what a comparison must use)."""
    config = dict(current)
    config.update(pending)
    for key in deleted:
        config.pop(key, None)
    return config


def update_config(client, entry, changes, deletes=()):
    """PUT the config changes (and deletions)."""
    params = dict(changes)
    if deletes:
        params['delete'] = ','.join(deletes)
    return client.put(guest_path(entry) + '/config', **params)


def _net_items(value):
    """A netN given as a property string or a dict, as (key, value) items."""
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if v is None:
                continue
            if isinstance(v, bool):
                v = 1 if v else 0
            items.append((str(k), str(v)))
        return items
    return parse_props(value)


def _qemu_nic(items):
    """(model, mac, other items) of a qemu netN."""
    model, mac, rest = None, None, []
    for k, v in items:
        if k is None and v in NET_MODELS:
            model = v
        elif k in NET_MODELS:
            model, mac = k, v or None
        elif k == 'model':
            model = v
        elif k == 'macaddr':
            mac = v or None
        else:
            rest.append((k, v))
    return model, mac, rest


def merge_net(kind, key, current, wanted, like=None):
    """The netN value to write: `wanted` with the current MAC kept when `wanted` gives none.

    qemu: `virtio,bridge=vmbr0,firewall=1` or {model: virtio, bridge: vmbr0, firewall: true} keeps the
    NIC's MAC; a wanted value without a model keeps the current model too, and a new NIC without one takes the
    model of `like` (the guest's first NIC: a template with fewer NICs than a lab needs is extended so). PVE
    gives a new NIC its MAC. lxc: `hwaddr` is kept.
    """
    items = _net_items(wanted)
    if kind == 'lxc':
        if any(k is None for k, _v in items):
            raise ValueError('{0}: {1!r} is not a container NIC (name=eth0,bridge=vmbr0,ip=dhcp,...)'.format(
                key, wanted))
        if 'hwaddr' not in dict(items) and current:
            mac = dict((k, v) for k, v in parse_props(current) if k).get('hwaddr')
            if mac:
                items.insert(1 if items and items[0][0] == 'name' else 0, ('hwaddr', mac))
        return format_props(items)
    model, mac, rest = _qemu_nic(items)
    current_model, current_mac, _rest = _qemu_nic(parse_props(current)) if current else (None, None, [])
    if current is None and like:
        current_model = _qemu_nic(parse_props(like))[0]
    model = model or current_model
    if model is None:
        raise ValueError('{0}: give the NIC model (for example virtio,bridge=vmbr0): the VM has no {0} to take '
                         'it from'.format(key))
    if model not in NET_MODELS:
        raise ValueError('{0}: {1!r} is not a NIC model PVE knows ({2})'.format(key, model, ', '.join(NET_MODELS)))
    mac = mac or current_mac
    return format_props([(model, mac) if mac else (None, model)] + rest)


def first_nic(config):
    """The value of the lowest-numbered netN of a guest config, or None."""
    keys = sorted((int(k[3:]), k) for k in config or {} if re.match(r'^net\d+$', k))
    return config[keys[0][1]] if keys else None


def net_same(kind, a, b):
    """True if two netN values say the same (item order and MAC case aside)."""
    def norm(value):
        items = parse_props(value)
        if kind == 'qemu':
            model, mac, rest = _qemu_nic(items)
            out = dict(rest)
            out.update(model=model, macaddr=(mac or '').upper())
            return out
        out = dict((k, v) for k, v in items if k)
        if 'hwaddr' in out:
            out['hwaddr'] = out['hwaddr'].upper()
        out.setdefault('type', 'veth')  # PVE writes the default type of a container NIC
        return out
    return a is not None and b is not None and norm(a) == norm(b)


def _number(value, default):
    """cores '2', memory '2048' or 'current=2048' -> int."""
    if value is None or value == '':
        return default
    first = str(value).split(',', 1)[0]
    try:
        return int(first.split('=', 1)[-1])
    except ValueError:
        return default


def _flag(value):
    """PVE's boolean (0/1), or the first item of a property string like agent's `enabled=1,fstrim...`."""
    first = str(value if value is not None else '0').split(',', 1)[0]
    return first.split('=', 1)[-1] in ('1', 'true', 'on', 'yes')


def _ssh_keys(text):
    lines = [line.strip() for line in unquote(str(text or '')).replace('\r\n', '\n').split('\n')]
    return [line for line in lines if line]


def _props_same(a, b):
    return dict(parse_props(a)) == dict(parse_props(b))


def plan_config(kind, config, wanted, update_cipassword='on_create'):
    """What to PUT to give a guest the wanted config.

    config: the guest's config with pending changes applied (next_config). wanted: module options, None
    where not given: name, cores, sockets, memory, net (dict netN -> str or dict), ciuser, cipassword,
    sshkeys, ipconfig (dict ipconfigN -> str), tags (list), description, onboot, agent.
    Returns (changes {key: value to send}, deletes [keys], before {key: value}, after {key: value}); before
    and after hold the compared keys for a diff and never a password. Raises ValueError naming the option.
    """
    changes, deletes, before, after = {}, [], {}, {}

    def want(key, new_value, old_value, same, send=None):
        before[key] = old_value
        after[key] = old_value if same else new_value
        if not same:
            if new_value in ('', None, []):
                if old_value not in ('', None, []):
                    deletes.append(key)
            else:
                changes[key] = send if send is not None else new_value

    if kind == 'lxc':
        for option in QEMU_ONLY:
            if wanted.get(option) is not None:
                raise ValueError('{0} is not an option of a container (type lxc)'.format(option))
    name_key = 'hostname' if kind == 'lxc' else 'name'
    if wanted.get('name') is not None:
        want(name_key, wanted['name'], config.get(name_key), config.get(name_key) == wanted['name'])
    for key in ('cores', 'sockets', 'memory'):
        if wanted.get(key) is not None:
            old = _number(config.get(key), CONFIG_DEFAULTS[key])
            want(key, int(wanted[key]), old, old == int(wanted[key]))
    if wanted.get('onboot') is not None:
        old = _flag(config.get('onboot'))
        want('onboot', bool(wanted['onboot']), old, old == bool(wanted['onboot']), send=int(wanted['onboot']))
    if wanted.get('agent') is not None:
        old_text = config.get('agent')
        old = _flag(old_text)
        items = parse_props(old_text) if old_text else []
        flag = '1' if wanted['agent'] else '0'
        if items and items[0][0] in (None, 'enabled'):
            items[0] = (items[0][0], flag)
        else:
            items.insert(0, (None, flag))
        want('agent', bool(wanted['agent']), old, old == bool(wanted['agent']), send=format_props(items))
    if wanted.get('tags') is not None:
        old = split_tags(config.get('tags'))
        new = list(dict.fromkeys(str(t) for t in wanted['tags']))
        want('tags', new, old, sorted(old) == sorted(new), send=';'.join(new))
    if wanted.get('description') is not None:
        old = str(config.get('description') or '')
        new = str(wanted['description'])
        want('description', new, old, old.rstrip('\n') == new.rstrip('\n'))
    if wanted.get('ciuser') is not None:
        old = config.get('ciuser')
        want('ciuser', wanted['ciuser'], old, (old or '') == wanted['ciuser'])
    if wanted.get('sshkeys') is not None:
        old = _ssh_keys(config.get('sshkeys'))
        new = _ssh_keys(wanted['sshkeys'])
        want('sshkeys', '\n'.join(new), '\n'.join(old), old == new,
             send=quote('\n'.join(new) + '\n', safe='') if new else None)
    like = first_nic(config)  # the model a NIC the guest lacks gets (merge_net)
    for option, pattern in (('ipconfig', r'^ipconfig\d+$'), ('net', r'^net\d+$')):
        for key, value in sorted((wanted.get(option) or {}).items()):
            if not re.match(pattern, str(key)):
                raise ValueError('{0}: {1!r} is not a key like {0}0'.format(option, key))
            old = config.get(key)
            if value in (None, '', {}):
                want(key, None, old, old is None)
            elif option == 'ipconfig':
                new = value if isinstance(value, str) else format_props(_net_items(value))
                want(key, new, old, old is not None and _props_same(old, new))
            else:
                new = merge_net(kind, key, old, value, like=like)
                want(key, new, old, net_same(kind, old, new))
    if wanted.get('cipassword') is not None:
        # PVE shows a stored password only as '**********': it can be seen to exist, not compared.
        if update_cipassword == 'always' or not config.get('cipassword'):
            changes['cipassword'] = wanted['cipassword']
    return changes, deletes, before, after


# ------------------------------------------------------------------ addresses

# Where a guest's addresses came from (guest_ips; the inventory's hostvar pve_ip_source).
FROM_AGENT = 'agent'
FROM_INTERFACES = 'interfaces'
FROM_CONFIG = 'config'


def usable_ip(text):
    """The address in text ('10.0.0.5', '10.0.0.5/24', 'fe80::1%eth0') as a string, or None when it is not one or
    is one nobody reaches the guest at: loopback, link-local, multicast or unspecified."""
    try:
        address = ipaddress.ip_address(str(text).split('/', 1)[0].split('%', 1)[0])
    except ValueError:
        return None
    if address.is_loopback or address.is_link_local or address.is_multicast or address.is_unspecified:
        return None
    return str(address)


def usable_ips(interfaces):
    """The usable addresses of a guest's interfaces (QEMU guest agent's network-get-interfaces, or a container's
    /interfaces), in the order the guest lists them."""
    out = []
    for iface in interfaces or []:
        if not isinstance(iface, dict) or iface.get('name') == 'lo':
            continue
        texts = [a.get('ip-address') for a in iface.get('ip-addresses') or [] if isinstance(a, dict)]
        if not texts:
            # pct's /interfaces: inet and inet6 as CIDRs.
            texts = [iface.get('inet'), iface.get('inet6')]
        for text in texts:
            address = usable_ip(text) if text else None
            if address is not None and address not in out:
                out.append(address)
    return out


def static_ips(config):
    """The usable static addresses of a guest's config: cloud-init's ipconfigN ip=/ip6= (VMs), then a container's
    netN ip=/ip6= (a VM's netN has no ip=, a container no ipconfigN), each in key order. dhcp, auto and manual are
    ways to get an address, not addresses."""
    out = []
    for prefix in ('ipconfig', 'net'):
        keys = [k for k in config or {} if re.match('^' + prefix + r'\d+$', k)]
        for key in sorted(keys, key=lambda k: int(k[len(prefix):])):
            for prop, value in parse_props(config[key]):
                address = usable_ip(value) if prop in ('ip', 'ip6') else None
                if address is not None and address not in out:
                    out.append(address)
    return out


def first_ipv4(ips):
    for ip in ips:
        if ipaddress.ip_address(ip).version == 4:
            return ip
    return ips[0] if ips else None


def ipv4_first(ips):
    """The addresses with the IPv4 ones first, each family in the order given."""
    return sorted(ips, key=lambda ip: ipaddress.ip_address(ip).version)


def host_cidrs(ips):
    """Addresses as host networks ('192.0.2.10/32', '2001:db8::1/128'): how an IP set holds them."""
    return [str(ipaddress.ip_network(ip)) for ip in ips]


def ips_by_mac(interfaces):
    """{MAC in lower case: [usable address]} of a guest's interfaces (as usable_ips reads them): which address is on
    which NIC."""
    out = {}
    for iface in interfaces or []:
        if not isinstance(iface, dict):
            continue
        mac = str(iface.get('hardware-address') or iface.get('hwaddr') or '').lower()
        if mac:
            found = out.setdefault(mac, [])
            found += [ip for ip in usable_ips([iface]) if ip not in found]
    return out


def read_interfaces(client, entry):
    """The guest's interfaces: the QEMU guest agent's network-get-interfaces, or a container's /interfaces.
    Raises PveApiError when the agent does not answer."""
    if entry.get('type') == 'lxc':
        return client.get(guest_path(entry) + '/interfaces') or []
    data = client.get(guest_path(entry) + '/agent/network-get-interfaces') or {}
    return data.get('result', []) if isinstance(data, dict) else data


def read_ips(client, entry):
    """The guest's usable addresses (read_interfaces). Raises PveApiError when the agent does not answer."""
    return usable_ips(read_interfaces(client, entry))


def guest_ips(client, entry):
    """(ips, source, problem): a guest's addresses by the one rule every reader of them follows.

    A running guest whose agent (a VM's QEMU guest agent, a container's /interfaces) answers with usable addresses:
    those, source FROM_AGENT or FROM_INTERFACES. Otherwise the static addresses of its config (static_ips), source
    FROM_CONFIG; the config is read only then. None found: ([], None, why), why being PVE's reason (for example
    'QEMU guest agent is not running'). Raises PveApiError when the config cannot be read, PveError on a network
    fault the client's retries did not get past.
    """
    problem = 'the guest is not running'
    if entry.get('status') == 'running':
        source = FROM_INTERFACES if entry.get('type') == 'lxc' else FROM_AGENT
        try:
            ips = read_ips(client, entry)
            if ips:
                return ips, source, None
            problem = '{0} reported no usable address'.format(source)
        except PveApiError as exc:
            problem = exc.pve_message or str(exc)
    ips = static_ips(client.get(guest_path(entry) + '/config') or {})
    return (ips, FROM_CONFIG, None) if ips else ([], None, problem)


def guest_cidrs(client, entry):
    """guest_ips' addresses as host CIDRs (what an IP set holds)."""
    return host_cidrs(guest_ips(client, entry)[0])


def static_cidrs(config):
    """static_ips' addresses as host CIDRs."""
    return host_cidrs(static_ips(config))


def agent_ping(client, entry):
    """True if the guest agent answers (a running container counts as answering)."""
    if entry.get('type') == 'lxc':
        status = client.get(guest_path(entry) + '/status/current') or {}
        return status.get('status') == 'running' or None
    client.post(guest_path(entry) + '/agent/ping')
    return True
