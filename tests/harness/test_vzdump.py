"""vzdump on LabPve (tests/fakecluster/vzdump.py) as pve-manager's PVE/API2/VZDump.pm and PVE/VZDump.pm run it:
local guests only (the string 'OK' when none is), one vzdump per node at a time, `lock: backup` while a guest is
backed up, the notes template's rules, the privileges. The contrast with stock fakepve is in test_stock_contrast.py.
"""

import time

import pytest
from proxmoxer.core import ResourceException

from harness.test_stock_contrast import wait_task


def backups(api, node='pve1', storage='local'):
    return api.nodes(node).storage(storage).content.get(content='backup')


def test_guests_of_another_node_are_skipped_silently(pve_cluster):
    root = pve_cluster.api()
    pve_cluster.pve.add_vm(200, 'gamma', node='pve2', config={'memory': 512})
    assert root.nodes('pve2').vzdump.post(vmid='100,101', storage='local') == 'OK'   # none of them is on pve2
    upid = root.nodes('pve1').vzdump.post(vmid='100,200', storage='local', compress='zstd')
    task = wait_task(root, 'pve1', upid)
    assert task['exitstatus'] == 'OK' and task['id'] == '100'   # one local guest: the task is named after it
    assert [b['vmid'] for b in backups(root)] == [100]


def test_one_task_backs_its_guests_up_one_after_another_under_lock(pve_cluster):
    pve_cluster.pve.backup_secs = 20    # 0.2 s each
    root = pve_cluster.api()
    first = root.nodes('pve1').vzdump.post(vmid='100,101', storage='local')
    second = root.nodes('pve1').vzdump.post(vmid='100', storage='local')
    assert ':vzdump::' in first and ':vzdump:100:' in second   # the task id: the vmid when there is one guest
    seen = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and root.nodes('pve1').tasks(second).status.get()['status'] == 'running':
        locked = [vmid for vmid in (100, 101)
                  if root.nodes('pve1').qemu(vmid).config.get().get('lock') == 'backup']
        assert len(locked) <= 1, 'two backups ran at once on one node'
        seen.update(locked)
        time.sleep(0.02)
    assert seen == {100, 101}
    assert wait_task(root, 'pve1', first)['exitstatus'] == 'OK' == wait_task(root, 'pve1', second)['exitstatus']
    assert sorted(b['vmid'] for b in backups(root)) == [100, 100, 101]
    assert len(set(b['volid'] for b in backups(root))) == 3


@pytest.mark.parametrize('template, why', [
    ('{{hostname}}', "variable 'hostname'"),
    ('a\\tb', 'escape sequence'),
])
def test_a_notes_template_pve_refuses(pve_cluster, template, why):
    root = pve_cluster.api()
    with pytest.raises(ResourceException) as err:
        root.nodes('pve1').vzdump.post(vmid='100', storage='local', **{'notes-template': template})
    assert err.value.status_code == 400 and why in str(err.value)
    assert backups(root) == []


def test_notes_escapes_and_protection(pve_cluster):
    root = pve_cluster.api()
    upid = root.nodes('pve1').vzdump.post(vmid='101', storage='local', protected=1,
                                          **{'notes-template': 'lab\\nexam {{vmid}} on {{node}}'})
    wait_task(root, 'pve1', upid)
    [backup] = backups(root)
    assert backup['notes'] == 'lab\nexam 101 on pve1' and backup['protected'] == 1


def test_backup_needs_vm_backup_and_allocate_space(pve_cluster):
    root = pve_cluster.api()
    root.access.users.post(userid='ops@pve', password='ops-password-1')
    root.access.acl.put(path='/vms/100', users='ops@pve', roles='PVEVMAdmin')
    ops = pve_cluster.api('ops@pve', 'ops-password-1')
    with pytest.raises(ResourceException) as err:
        ops.nodes('pve1').vzdump.post(vmid='101', storage='local')
    assert err.value.status_code == 403 and '/vms/101' in str(err.value)
    with pytest.raises(ResourceException) as err:
        ops.nodes('pve1').vzdump.post(vmid='100', storage='local')
    assert err.value.status_code == 403 and '/storage/local' in str(err.value)
    root.access.acl.put(path='/storage/local', users='ops@pve', roles='PVEDatastoreUser')
    wait_task(root, 'pve1', ops.nodes('pve1').vzdump.post(vmid='100', storage='local'))
    assert [b['vmid'] for b in backups(root)] == [100]
