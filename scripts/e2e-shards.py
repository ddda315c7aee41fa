"""Split the collected e2e test ids into shards of about equal running time.

    e2e-shards.py IDS SHARDS OUT_PREFIX

IDS holds one pytest node id per line (pytest --collect-only -q). A test file that has a module-scoped fixture
(it starts one fake or builds one collection for all its tests) goes whole into one shard: split, every shard
would pay for the fixture again. Other files are split test by test. The groups are given to the shard with
the least time so far, longest first; a group's time comes from tests/e2e/durations.json (seconds per test id,
measured by a run with PVELAB_E2E_DURATIONS set: tests/conftest.py), and a test not in it counts as the median.
Each shard keeps the collection order, so a file's tests stay together. Writes OUT_PREFIX<i>.args, i from 1.
"""

import json
import os
import re
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE_FIXTURE = re.compile(r"@pytest\.fixture\([^)]*scope=['\"]module['\"]")


def main(ids_path, shards, prefix):
    with open(ids_path) as fh:
        ids = [line.strip() for line in fh if '::' in line]
    try:
        with open(os.path.join(ROOT, 'tests', 'e2e', 'durations.json')) as fh:
            durations = json.load(fh)
    except (OSError, ValueError):
        durations = {}
    default = statistics.median(durations.values()) if durations else 1.0
    whole_files = {}
    groups = {}
    for order, test in enumerate(ids):
        path = test.split('::', 1)[0]
        if path not in whole_files:
            with open(os.path.join(ROOT, path)) as fh:
                whole_files[path] = bool(MODULE_FIXTURE.search(fh.read()))
        key = path if whole_files[path] else test
        groups.setdefault(key, []).append((order, test))
    loads = [0.0] * shards
    chosen = [[] for unused in range(shards)]
    weight = dict((key, sum(durations.get(t, default) for unused, t in tests)) for key, tests in groups.items())
    for key in sorted(groups, key=lambda k: (-weight[k], k)):
        i = loads.index(min(loads))
        loads[i] += weight[key]
        chosen[i].extend(groups[key])
    for i, tests in enumerate(chosen, 1):
        with open('{0}{1}.args'.format(prefix, i), 'w') as out:
            out.writelines(t + '\n' for unused, t in sorted(tests))
        print('e2e shard {0}: {1} tests, about {2:.0f} s'.format(i, len(tests), loads[i - 1]))


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
