# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: waiting for PVE tasks (UPIDs).

A task can fail after the POST that started it succeeded, so every long operation is followed
to its end: polled with backoff, failed at once when it ends in error (with the tail of its log),
`WARNINGS: n` counted as success, and a clear timeout that says the task may still be running.
"""

from __future__ import annotations

import time

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError

# Polling: first look at once (a fast task is often done), then back off up to POLL_MAX seconds.
POLL_FIRST = 0.1
POLL_FACTOR = 1.5
POLL_MAX = 3.0
LOG_TAIL = 10


class PveTaskError(PveError):
    """A task ended with an exit status other than OK or WARNINGS."""

    def __init__(self, upid, exitstatus, log_tail, what=None):
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_tail = log_tail
        text = '{0}task {1} failed: {2}'.format(what + ': ' if what else '', upid, exitstatus)
        if log_tail:
            text += '; last log lines: ' + ' | '.join(log_tail)
        super().__init__(text)


class PveTaskTimeout(PveError):
    """The task was still running when our timeout ran out (it may still finish on PVE)."""

    def __init__(self, upid, timeout, what=None):
        self.upid = upid
        super().__init__('{0}task {1} still running after {2} s (it goes on in PVE; raise the timeout for slow '
                         'storage or check the task log)'.format(what + ': ' if what else '', upid, timeout))


def node_of(upid):
    """UPID:node:pid:pstart:starttime:type:id:user: -> node."""
    parts = str(upid).split(':')
    if len(parts) < 8 or parts[0] != 'UPID':
        raise PveError('not a PVE task id: {0!r}'.format(upid))
    return parts[1]


def task_ok(exitstatus):
    """PVE's own rule: OK, or WARNINGS: n (the task did its work and logged warnings)."""
    return exitstatus == 'OK' or str(exitstatus).startswith('WARNINGS')


def task_log_tail(client, upid, lines=LOG_TAIL):
    node = node_of(upid)
    try:
        log = client.get('/nodes/{0}/tasks/{1}/log'.format(node, upid), start=0, limit=1000) or []
    except PveError:
        return []
    text = [entry.get('t', '') for entry in log if isinstance(entry, dict)]
    return [t for t in text if t and not t.startswith('TASK ')][-lines:] or text[-lines:]


def wait_task(client, upid, timeout=600, what=None, sleep=time.sleep, clock=time.monotonic):
    """Follow the task to its end; returns its status dict. Raises PveTaskError or PveTaskTimeout."""
    if not upid:
        return {'status': 'stopped', 'exitstatus': 'OK'}  # some calls finish synchronously
    node = node_of(upid)
    deadline = clock() + timeout
    pause = POLL_FIRST
    while True:
        status = client.get('/nodes/{0}/tasks/{1}/status'.format(node, upid)) or {}
        if status.get('status') == 'stopped':
            exitstatus = status.get('exitstatus', '')
            if task_ok(exitstatus):
                return status
            raise PveTaskError(upid, exitstatus, task_log_tail(client, upid), what)
        now = clock()
        if now >= deadline:
            raise PveTaskTimeout(upid, timeout, what)
        sleep(min(pause, deadline - now))
        pause = min(pause * POLL_FACTOR, POLL_MAX)


def wait_tasks(client, upids, timeout=600, sleep=time.sleep, clock=time.monotonic):
    """Follow many tasks at once, one status read per running task per round.

    upids: {key: upid}. Returns {key: None on success, or the PveError}; never raises for one task.
    """
    pending = dict((k, u) for k, u in upids.items() if u)
    results = dict((k, None) for k in upids)
    deadline = clock() + timeout
    pause = POLL_FIRST
    while pending:
        for key, upid in list(pending.items()):
            try:
                status = client.get('/nodes/{0}/tasks/{1}/status'.format(node_of(upid), upid)) or {}
            except PveError as exc:
                results[key] = exc
                del pending[key]
                continue
            if status.get('status') == 'stopped':
                exitstatus = status.get('exitstatus', '')
                if not task_ok(exitstatus):
                    results[key] = PveTaskError(upid, exitstatus, task_log_tail(client, upid), str(key))
                del pending[key]
        if not pending:
            break
        now = clock()
        if now >= deadline:
            for key, upid in pending.items():
                results[key] = PveTaskTimeout(upid, timeout, str(key))
            break
        sleep(min(pause, deadline - now))
        pause = min(pause * POLL_FACTOR, POLL_MAX)
    return results
