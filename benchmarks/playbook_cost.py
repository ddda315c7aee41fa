#!/usr/bin/env python3
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What one ansible-playbook run of the e2e tests costs, split into its parts: wall and CPU seconds.

    PYTHONPATH=tests ANSIBLE_COLLECTIONS_PATH=<the copy scripts/test makes> .venv/bin/python benchmarks/playbook_cost.py

Runs, against one fake (clusters/small.json, the fake's realistic defaults), as tests/e2e/helpers.py runs them:
an empty play (ansible-playbook's start), ten debug tasks (the controller's cost per task) and ten
pve_node_info tasks (a module's cost: its process, imports, login and request). CPU is the children's
(ansible-playbook and its module processes); when CPU is about wall, a run is waiting on nothing, and more
e2e shards than cores only share the same cores. Measured 2026-12-03 on 2 idle cores: 1.2 s for the empty
play, under 0.05 s per debug task, about 0.8 s CPU per module task; with ANSIBLE_PIPELINING=1 the same.
"""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'e2e'))

from fakecluster import serving  # noqa: E402  (PYTHONPATH=tests)
from helpers import run_playbook  # noqa: E402


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    runs = [('empty play', []),
            ('10 debug tasks', [{'ansible.builtin.debug': {'msg': 'x'}}] * 10),
            ('10 pve_node_info tasks', [{'pvelab.proxmox.pve_node_info': {}}] * 10)]
    with serving('small.json') as cluster:
        for name, tasks in runs:
            start, cpu = time.time(), children_cpu()
            result = run_playbook(cluster, tasks=tasks)
            if result.rc != 0:
                print(result)
                return 1
            print('{0:24} wall {1:6.2f} s  cpu {2:6.2f} s'.format(name, time.time() - start, children_cpu() - cpu))
    return 0


if __name__ == '__main__':
    sys.exit(main())
