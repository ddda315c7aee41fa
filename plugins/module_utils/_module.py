# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: what every module shares around AnsibleModule.

A module builds its AnsibleModule with pve_module() (connection options merged in), then
subclasses PveModuleBase: `self.client` is the logged-in PveClient, `self.cluster` the cluster
state read once per run, and run() turns any PveError into a failure with a clear message.
"""

from __future__ import annotations

import contextlib

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import (
    CONNECTION_REQUIRED_ONE_OF,
    CONNECTION_REQUIRED_TOGETHER,
    PveClient,
    PveError,
    connection_argument_spec,
    missing_proxmoxer,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import Cluster


def pve_module(argument_spec, supports_check_mode=True, required_one_of=None, required_together=None, **kwargs):
    """An AnsibleModule with the connection options added to argument_spec."""
    spec = connection_argument_spec()
    spec.update(argument_spec)
    return AnsibleModule(
        argument_spec=spec,
        supports_check_mode=supports_check_mode,
        required_one_of=list(CONNECTION_REQUIRED_ONE_OF) + list(required_one_of or []),
        required_together=list(CONNECTION_REQUIRED_TOGETHER) + list(required_together or []),
        **kwargs
    )


class PveModuleBase(object):
    """Base of every module: connection, cluster cache, result and diff bookkeeping."""

    #: (option, check) pairs. run() passes each option that is set through check(value, field=option) before
    #: execute and before the first request, and hands the results to execute by option name (None where the
    #: option is not set); a ValueError fails the run with its message, which names the option.
    option_checks = ()

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.result = {'changed': False}
        self.diff = {'before': {}, 'after': {}}
        self._client = None
        self._cluster = None

    @property
    def client(self):
        if self._client is None:
            missing = missing_proxmoxer()
            if missing:
                self.module.fail_json(msg=missing_required_lib('proxmoxer'), exception=missing)
            self._client = PveClient(self.params)
        return self._client

    @property
    def cluster(self):
        if self._cluster is None:
            self._cluster = Cluster(self.client)
        return self._cluster

    def changed(self, flag=True):
        if flag:
            self.result['changed'] = True

    def fail(self, msg, **extra):
        extra.update((k, v) for k, v in self.result.items() if k not in extra)
        self.module.fail_json(msg=msg, **extra)

    @contextlib.contextmanager
    def checked_input(self):
        """Around a module's checks of its options: the ValueError one raises fails the run with its message."""
        try:
            yield
        except ValueError as exc:
            self.fail(str(exc))

    def report_object(self, name, before, after, changes, diff_after=None):
        """The result of a module that manages one object: changed when there are `changes` (a list of what
        changed), result[name] (the object as the run leaves it), result['changes'], and then a diff of before
        and after (diff_after in place of after where the result holds what a diff must not show)."""
        self.changed(bool(changes))
        self.result[name] = after
        self.result['changes'] = changes
        if changes:
            self.diff = {'before': before, 'after': after if diff_after is None else diff_after}

    def checked_options(self):
        values = {}
        with self.checked_input():
            for option, check in self.option_checks:
                value = self.params.get(option)
                values[option] = None if value is None else check(value, field=option)
        return values

    def execute(self, **checked):
        """Do the work with the option_checks' results; fill self.result (and self.diff). Subclasses implement it."""
        raise NotImplementedError

    def run(self):
        checked = self.checked_options()
        try:
            self.execute(**checked)
        except PveError as exc:
            self.fail(str(exc))
        if self.module._diff and (self.diff['before'] or self.diff['after']):
            self.result['diff'] = self.diff
        self.module.exit_json(**self.result)
