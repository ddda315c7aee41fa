"""pve_snapshot against the fake PVE (LabPve, guest_fake.py): create, idempotency, description, rollback (always
a change), delete, the list form, refusals before writing, lock retries."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_snapshot
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import


def snap(served, check=False, diff=False, **args):
    args.setdefault('snapname', 'clean')
    return served.run(pve_snapshot.main, args, check=check, diff=diff)


def test_create_idempotent_rollback_delete(served):
    web = served.vm_named('web01')
    result, failed = snap(served, name='web01', description='before the exam', check=True, diff=True)
    assert not failed and result['changed'] and web.snapshots == {} and served.writes() == []
    assert result['diff'] == {'before': {'web01 (vmid 101)': {'snapshot': False}},
                              'after': {'web01 (vmid 101)': {'snapshot': True}}}
    result, failed = snap(served, name='web01', description='before the exam')
    assert not failed and result['changed'] and web.snapshots['clean']['description'] == 'before the exam'
    assert result['items'] == [{'key': 'web01 (vmid 101)', 'vmid': 101, 'name': 'web01', 'node': 'pve2',
                                'snapname': 'clean', 'exists': True, 'changed': True}]
    result, failed = snap(served, name='web01', description='before the exam')
    assert not failed and not result['changed']
    result, failed = snap(served, name='web01', description='new text')
    assert not failed and result['changed'] and web.snapshots['clean']['description'] == 'new text'
    web.config['memory'] = 9999
    result, failed = snap(served, vmid=101, state='rollback', start_after_rollback=True)
    assert not failed and result['changed'] and web.config['memory'] == 1024 and web.status == 'running'
    result, failed = snap(served, vmid=101, state='rollback')
    assert not failed and result['changed']  # a rollback is always a change
    result, failed = snap(served, name='web01', state='absent')
    assert not failed and result['changed'] and web.snapshots == {}
    result, failed = snap(served, name='web01', state='absent')
    assert not failed and not result['changed']


def test_list_form_checks_everything_first(served):
    result, failed = snap(served, vmids=[100, 101], names=['web01', 'ghost'])
    assert failed and "no guest with name 'ghost'" in result['msg'] and served.writes() == []
    result, failed = snap(served, vmids=[100, 101], names=['web01'], vmstate=True)
    assert not failed and [s['vmid'] for s in result['items']] == [100, 101]
    assert served.vm_named('teacher').snapshots['clean'].get('vmstate')
    del served.vm_named('web01').snapshots['clean']
    result, failed = snap(served, vmids=[100, 101], state='rollback')
    assert failed and 'nothing was rolled back' in result['msg'] and 'web01 (vmid 101)' in result['msg']
    assert result['missing'] == [101]
    result, failed = snap(served, vmids=[100, 101], state='rollback', missing='skip')
    assert not failed and result['missing'] == [101]
    assert [s['changed'] for s in result['items']] == [True, False]
    result, failed = snap(served, vmids=[100, 101, 999], state='absent')
    assert not failed and [s['changed'] for s in result['items']] == [True, False, False]
    result, failed = snap(served, name='dup')
    assert failed and 'matches 2 guests' in result['msg']
    result, failed = snap(served, name='web01', snapname='current')
    assert failed and 'cannot name a snapshot' in result['msg']


def test_locked_guest_is_retried_then_reported(served):
    served.pve.snapshot_lock(101, 'backup')
    result, failed = snap(served, name='web01', lock_timeout=1)
    assert failed and 'VM is locked (backup)' in result['msg'] and 'web01 (vmid 101): create failed' in result['msg']
    assert result['items'][0]['changed'] is False
    served.pve.unlock(101)
    result, failed = snap(served, name='web01')
    assert not failed and result['changed']


def test_empty_description_clears_it_and_a_rerun_changes_nothing(served):
    web = served.vm_named('web01')
    assert not snap(served, name='web01', description='before the exam')[1]
    result, failed = snap(served, name='web01', description='')
    assert not failed and result['changed'] and not web.snapshots['clean'].get('description')
    writes = served.writes()
    result, failed = snap(served, name='web01', description='')
    assert not failed and not result['changed'] and served.writes() == writes


def test_snapshot_names_have_at_most_40_characters(served):
    result, failed = snap(served, name='web01', snapname='s' * 41)
    assert failed and repr('s' * 41) in result['msg'] and '40' in result['msg'] and served.writes() == []
    result, failed = snap(served, name='web01', snapname='s' * 40)
    assert not failed and result['changed'] and list(served.vm_named('web01').snapshots) == ['s' * 40]


def test_an_unknown_guest_status_is_not_an_offline_node(served):
    web = served.vm_named('web01')
    web.status = 'unknown'  # what /cluster/resources shows until pvestatd has seen a new guest
    result, failed = snap(served, name='web01')
    assert not failed and result['changed'] and 'clean' in web.snapshots
    # And a guest pvestatd has really not seen yet: made since its last broadcast, so nameless and unknown there.
    served.hold_statd()
    fresh = served.pve.add_vm(104, 'fresh', node='pve2', config={'memory': 512, 'cores': 1})
    assert [(r['status'], r.get('name')) for r in served.resources() if r.get('vmid') == 104] == [('unknown', None)]
    result, failed = snap(served, name='fresh')
    assert not failed and result['changed'] and 'clean' in fresh.snapshots
    served.pve.set_node_offline('pve2')
    before = served.writes()
    result, failed = snap(served, name='web01', snapname='other')
    assert failed and 'the node pve2 of web01 (vmid 101) is not online' in result['msg']
    assert served.writes() == before and 'other' not in web.snapshots


def test_items_are_keyed_by_the_guest_and_a_guest_asked_twice_is_one_item(served):
    result, failed = snap(served, vmids=[101, 999], names=['web01', 'teacher', 'ghost'], state='absent', diff=True)
    assert not failed and not result['changed']
    assert [(i['key'], i['vmid'], i['name']) for i in result['items']] == [
        ('web01 (vmid 101)', 101, 'web01'), ('vmid 999', None, None), ('teacher (vmid 100)', 100, 'teacher'),
        ("'ghost'", None, 'ghost')]
    assert result['diff'] == {'before': {'web01 (vmid 101)': {'snapshot': False},
                                         'teacher (vmid 100)': {'snapshot': False}},
                              'after': {'web01 (vmid 101)': {'snapshot': False},
                                        'teacher (vmid 100)': {'snapshot': False}}}
    assert served.writes() == []


def test_a_failed_guest_is_named_and_the_others_go_on(served):
    served.pve.snapshot_lock(101, 'backup')
    result, failed = snap(served, vmids=[100, 101], lock_timeout=1)
    assert failed and result['msg'].startswith('web01 (vmid 101): create failed: ')
    assert [(i['key'], i['changed'], i['exists']) for i in result['items']] == [
        ('teacher (vmid 100)', True, True), ('web01 (vmid 101)', False, False)]
    assert result['items'][1]['msg'].startswith('create failed: ') and 'msg' not in result['items'][0]
    assert 'clean' in served.vm_named('teacher').snapshots and result['missing'] == []
