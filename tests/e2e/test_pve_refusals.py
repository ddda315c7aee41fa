"""Empty values and late refusals end to end (issue 15): ansible-playbook runs against the fake (clusters/demo.json).

PVE takes an empty form value for undef, so a comment or description set to '' must go as JSON to be cleared;
after that a re-run changes nothing. What the fake stores is asserted, not only what the modules report.
"""

import pytest

from helpers import run_playbook

pytestmark = pytest.mark.cluster('demo.json')


def steps(*tasks):
    return [dict(task, name='step{0}'.format(i), register='step{0}'.format(i)) for i, task in enumerate(tasks)]


def test_a_pool_comment_set_to_empty_is_cleared_and_a_rerun_changes_nothing(pve_cluster, tmp_path):
    pool = 'pvelab.proxmox.pve_pool'
    result = run_playbook(pve_cluster, tasks=steps({pool: {'name': 'netlab', 'comment': 'lab one'}},
                                                    {pool: {'name': 'netlab', 'comment': ''}},
                                                    {pool: {'name': 'netlab', 'comment': ''}}), tmp_path=tmp_path)
    assert not result.failures(), result
    assert [result.task('step{0}'.format(i))['changed'] for i in range(3)] == [True, True, False]
    assert not pve_cluster.pve.pool_info['netlab']['comment']
    assert 'comment' not in pve_cluster.api().pools('netlab').get()


def test_a_snapshot_description_set_to_empty_is_cleared_and_a_rerun_changes_nothing(pve_cluster, tmp_path):
    snap = 'pvelab.proxmox.pve_snapshot'
    result = run_playbook(pve_cluster, tasks=steps(
        {snap: {'vmid': 100, 'snapname': 'clean', 'description': 'before the exam'}},
        {snap: {'vmid': 100, 'snapname': 'clean', 'description': ''}},
        {snap: {'vmid': 100, 'snapname': 'clean', 'description': ''}}), tmp_path=tmp_path)
    assert not result.failures(), result
    assert [result.task('step{0}'.format(i))['changed'] for i in range(3)] == [True, True, False]
    assert 'description' not in pve_cluster.pve.vm(100).snapshots['clean']
