# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`python -m fakecluster serve`, as the benchmark starts it (PYTHONPATH=tests:benchmarks).

Same arguments as tests/fakecluster's serve command. The only difference: if the fake in the checkout
still has the name clash between its /access/groups handler and fakepve's firewall helper (both called
`_group_index`, which broke GET /cluster/firewall/groups), the served instance gets a method that tells
the two callers apart, so the benchmark measures what it should. Nothing is changed when the clash is gone.
"""

import inspect
import sys

import fakecluster.__main__ as serve_command
from fakecluster import LabPve


def _has_group_index_clash():
    from fakepve.firewall import FirewallApi
    mine = inspect.getattr_static(LabPve, '_group_index', None)
    theirs = inspect.getattr_static(FirewallApi, '_group_index', None)
    return mine is not None and theirs is not None and mine is not theirs and not isinstance(mine, staticmethod)


def _fixed_class():
    from fakepve.firewall import FirewallApi
    access_index = LabPve._group_index

    class BenchPve(LabPve):
        def _group_index(self, *args):
            if len(args) == 1:  # fakepve's firewall: _group_index(conf)
                return FirewallApi._group_index(args[0])
            return access_index(self, *args)  # the /access/groups handler: (values, user)

    return BenchPve


def main(argv=None):
    if _has_group_index_clash():
        fixed = _fixed_class()
        build = serve_command.build

        def build_fixed(*args, **kwargs):
            pve = build(*args, **kwargs)
            pve.__class__ = fixed
            return pve

        serve_command.build = build_fixed
    serve_command.main(argv)


if __name__ == '__main__':
    main(sys.argv[1:])
