"""Stdout callback for the e2e tests: every task's result per host and the recap, as one JSON document.

ansible-core ships no JSON stdout callback (ansible.posix has one); this is the little the tests need.
Results are printed as ansible shows them (no_log results stay censored).
"""

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: e2e_json
type: stdout
short_description: JSON results for pvelab.proxmox's e2e tests
description: Prints one JSON document with every task's result and the play recap.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'e2e_json'

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def _task(self, task):
        entry = {'task': {'name': task.get_name()}, 'hosts': {}}
        self.plays[-1]['tasks'].append(entry)
        return entry

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def _record(self, result, **flags):
        tasks = self.plays[-1]['tasks'] if self.plays else []
        name = result._task.get_name()
        entry = tasks[-1] if tasks and tasks[-1]['task']['name'] == name else self._task(result._task)
        data = dict(self._convert(result._result), **flags)
        entry['hosts'][result._host.get_name()] = data

    @staticmethod
    def _convert(value):
        return json.loads(json.dumps(value, default=str))

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        out = {'plays': self.plays, 'stats': dict((h, stats.summarize(h)) for h in hosts)}
        self._display.display(json.dumps(out, indent=2, sort_keys=True))
