# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark-only callback: counts what a playbook run changed and times each task.

Not part of the collection. Enabled by benchmarks/run.py with ANSIBLE_CALLBACK_PLUGINS and
ANSIBLE_CALLBACKS_ENABLED=bench_stats; writes JSON to $PVELAB_BENCH_STATS when the play ends:

    {"changed_items": int,  # changed loop items, plus changed tasks without a loop
     "changed_tasks": int,  # what the PLAY RECAP counts as changed
     "failed": int, "recap": {host: {...}},
     "tasks": [{"name", "action", "secs", "items", "changed_items", "requests"}]}

`requests` (API requests the fake logged during the task) is filled in only when
$PVELAB_BENCH_CONTROL_URL is set (profile runs): it asks the fake for its request log at every task
boundary, which costs time, so timed runs leave it unset.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.request

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_stats
type: aggregate
short_description: changed items and per-task times for the pvelab.proxmox benchmark
description: Writes changed counts, the recap and per-task wall times as JSON to $PVELAB_BENCH_STATS.
requirements: [enabled in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_stats'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.out = os.environ.get('PVELAB_BENCH_STATS')
        self.control = os.environ.get('PVELAB_BENCH_CONTROL_URL')
        self.ca = os.environ.get('PVELAB_BENCH_CA')
        self.changed_items = 0
        self.changed_tasks = 0
        self.failed = 0
        self.tasks = []
        self.current = None

    # ------------------------------------------------------------ helpers

    def _request_count(self):
        if not self.control:
            return None
        context = ssl.create_default_context(cafile=self.ca) if self.ca else None
        with urllib.request.urlopen(self.control + '/requests', context=context, timeout=60) as answer:
            return json.load(answer)['count']

    def _close_task(self):
        if self.current is None:
            return
        task = self.current
        task['secs'] = round(time.monotonic() - task.pop('_t0'), 3)
        before = task.pop('_r0')
        if before is not None:
            task['requests'] = self._request_count() - before
        self.tasks.append(task)
        self.current = None

    def _start_task(self, task):
        self._close_task()
        self.current = {'name': task.get_name(), 'action': task.action, 'items': 0, 'changed_items': 0,
                        '_r0': self._request_count(), '_t0': time.monotonic()}

    # ------------------------------------------------------------ events

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start_task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start_task(task)

    def v2_runner_item_on_ok(self, result):
        if self.current is not None:
            self.current['items'] += 1
        if result._result.get('changed'):
            self.changed_items += 1
            if self.current is not None:
                self.current['changed_items'] += 1

    def v2_runner_on_ok(self, result):
        changed = bool(result._result.get('changed'))
        self.changed_tasks += changed
        if 'results' not in result._result and changed:  # a loop's items were counted one by one
            self.changed_items += 1
            if self.current is not None:
                self.current['changed_items'] += 1

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self.failed += 1

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        recap = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        data = {'changed_items': self.changed_items, 'changed_tasks': self.changed_tasks, 'failed': self.failed,
                'recap': recap, 'tasks': self.tasks}
        if self.out:
            with open(self.out, 'w', encoding='utf-8') as fh:
                json.dump(data, fh, indent=1)
