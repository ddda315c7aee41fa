"""pve_group against the in-memory /access stub."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_group
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import run, stub  # noqa: F401 pylint: disable=unused-import


def test_create_idempotent_update_delete(stub):
    result, failed = run(pve_group.main, dict(name='students', comment='lab'), check=True)
    assert not failed and result['changed'] and stub.writes() == []
    result = run(pve_group.main, dict(name='students', comment='lab'), diff=True)[0]
    assert result['changes'] == ['created'] and stub.groups['students'] == {'comment': 'lab'}
    assert result['group'] == {'groupid': 'students', 'state': 'present', 'comment': 'lab', 'users': []}
    result = run(pve_group.main, dict(name='students', comment='lab'))[0]
    assert not result['changed']
    result = run(pve_group.main, dict(name='students', comment=''))[0]
    assert result['changes'] == ['comment'] and stub.groups['students']['comment'] == ''
    assert stub.json_writes == [('PUT', '/access/groups/students', {'comment': ''})]
    result = run(pve_group.main, dict(name='students', state='absent'))[0]
    assert result['changes'] == ['deleted'] and 'students' not in stub.groups
    result = run(pve_group.main, dict(name='students', state='absent'))[0]
    assert not result['changed']


def test_members(stub):
    for name in ('a', 'b', 'c'):
        stub.user_call('POST', '/access/users', None, {'userid': name + '@pve'})
    stub.group_call('POST', '/access/groups', None, {'groupid': 'other'})
    stub.members['other'].add('b@pve')
    result = run(pve_group.main, dict(name='students', users=['a', 'b']))[0]
    assert stub.members['students'] == {'a@pve', 'b@pve'} and result['group']['users'] == ['a@pve', 'b@pve']
    result = run(pve_group.main, dict(name='students', users=['c']))[0]
    assert stub.members['students'] == {'c@pve'}
    assert stub.members['other'] == {'b@pve'}              # b's other membership survives the removal
    assert stub.json_writes == [('PUT', '/access/users/a@pve', {'groups': ''})]   # a had no other group
    result = run(pve_group.main, dict(name='students', users=['a'], append=True))[0]
    assert stub.members['students'] == {'a@pve', 'c@pve'}
    result = run(pve_group.main, dict(name='students', users=['a', 'c']))[0]
    assert not result['changed']


def test_bad_input(stub):
    result, failed = run(pve_group.main, dict(name='bad group'))
    assert failed and "'bad group'" in result['msg'] and stub.calls == []
    result, failed = run(pve_group.main, dict(name='g', users=['ghost']))
    assert failed and 'ghost@pve' in result['msg'] and stub.writes() == []
