"""pve_backup against the fake PVE (LabPve with vzdump, guest_fake.py): one backup per guest and mark, sent to
the guest's own node, check mode, the refusals before any write, a failed backup named."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_backup
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import

MARK = 'pvelab:lab exam1 {{vmid}}'


def backup(served, check=False, diff=False, **args):
    args.setdefault('storage', 'local')
    args.setdefault('notes_template', MARK)
    return served.run(pve_backup.main, args, check=check, diff=diff)


def backups(served):
    return sorted((vol['vmid'], vol.get('notes') or '') for vol in served.pve.backups('local').values())


def test_once_per_mark_on_each_guests_node(served):
    result, failed = backup(served, vmids=[100], names=['web01'], check=True, diff=True)
    assert not failed and result['changed'] and backups(served) == [] and served.writes() == []
    assert result['diff']['after'] == {'teacher (vmid 100)': {'backup': True}, 'web01 (vmid 101)': {'backup': True}}
    result, failed = backup(served, vmids=[100], names=['web01'])
    assert not failed and result['changed'], result
    assert backups(served) == [(100, 'pvelab:lab exam1 100'), (101, 'pvelab:lab exam1 101')]
    # each guest's vzdump went to its own node (pve1, pve2): PVE skips guests of other nodes without an error
    assert sorted(r.path for r in served.writes()) == ['/nodes/pve1/vzdump', '/nodes/pve2/vzdump']
    assert [i['volid'].startswith('local:backup/vzdump-qemu-{0}-'.format(i['vmid'])) for i in result['items']] \
        == [True, True]
    assert all(r.data['mode'] == 'snapshot' and r.data['compress'] == 'zstd' for r in served.writes())
    before = len(served.writes())
    result, failed = backup(served, vmids=[100, 101])
    assert not failed and not result['changed'] and len(served.writes()) == before
    result, failed = backup(served, vmids=[100], notes_template='pvelab:lab exam2 {{vmid}}')
    assert not failed and result['changed'] and len(backups(served)) == 3
    result, failed = backup(served, vmid=100, state='new', notes_template=None)
    assert not failed and result['changed'] and len(backups(served)) == 4


def test_refused_before_any_write(served):
    for args, why in (({'vmids': [100], 'names': ['ghost']}, "no guest with name 'ghost'"),
                      ({'name': 'dup'}, "name 'dup' matches 2 guests"),
                      ({'vmid': 100, 'storage': 'shared'}, "storage 'shared' does not exist on node pve1 or takes no backups"),
                      ({'vmid': 100, 'notes_template': 'exam {{hostname}}'}, "variable 'hostname'"),
                      ({'vmid': 100, 'notes_template': '{{cluster}} exam'}, '{{cluster}} cannot mark'),
                      ({'vmid': 100, 'notes_template': None}, 'notes_template')):
        result, failed = backup(served, **args)
        assert failed and why in result['msg'], (args, result['msg'])
    assert served.writes() == [] and backups(served) == []


def test_a_failed_backup_is_named_and_the_others_are_made(served):
    served.pve.fail('POST', '/nodes/pve2/vzdump', 500, "storage 'local' is full")
    result, failed = backup(served, vmids=[100, 101])
    assert failed and "web01 (vmid 101): backup failed" in result['msg'] and 'is full' in result['msg']
    assert [i['changed'] for i in result['items']] == [True, False]
    assert backups(served) == [(100, 'pvelab:lab exam1 100')]
    served.pve.failures.clear()
    result, failed = backup(served, vmids=[100, 101])   # the re-run finishes the job
    assert not failed and [i['changed'] for i in result['items']] == [False, True]
