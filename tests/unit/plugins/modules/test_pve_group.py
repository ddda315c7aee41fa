"""pve_group against the fake PVE's /access API (LabPve, access_fake.py)."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_group
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import access, members  # noqa: F401 pylint: disable=unused-import


def test_create_idempotent_update_delete(access):
    groups = access.pve.user_cfg.groups
    result, failed = access.run(pve_group.main, dict(name='students', comment='lab'), check=True)
    assert not failed and result['changed'] and access.writes() == []
    result = access.run(pve_group.main, dict(name='students', comment='lab'), diff=True)[0]
    assert result['changes'] == ['created'] and groups['students'].comment == 'lab'
    assert result['group'] == {'groupid': 'students', 'state': 'present', 'comment': 'lab', 'users': []}
    result = access.run(pve_group.main, dict(name='students', comment='lab'))[0]
    assert not result['changed']
    result = access.run(pve_group.main, dict(name='students', comment=''))[0]
    assert result['changes'] == ['comment'] and not groups['students'].comment  # PVE keeps no empty comment
    assert access.json_writes() == [('PUT', '/access/groups/students', {'comment': ''})]
    result = access.run(pve_group.main, dict(name='students', state='absent'))[0]
    assert result['changes'] == ['deleted'] and 'students' not in groups
    result = access.run(pve_group.main, dict(name='students', state='absent'))[0]
    assert not result['changed']


def test_members(access):
    for name in ('a', 'b', 'c'):
        access.pve.add_user(name + '@pve')
    access.pve.add_group('other').users.add('b@pve')
    result = access.run(pve_group.main, dict(name='students', users=['a', 'b']))[0]
    assert members(access, 'students') == {'a@pve', 'b@pve'} and result['group']['users'] == ['a@pve', 'b@pve']
    result = access.run(pve_group.main, dict(name='students', users=['c']))[0]
    assert members(access, 'students') == {'c@pve'}
    assert members(access, 'other') == {'b@pve'}              # b's other membership survives the removal
    assert access.json_writes() == [('PUT', '/access/users/a@pve', {'groups': ''})]   # a had no other group
    result = access.run(pve_group.main, dict(name='students', users=['a'], append=True))[0]
    assert members(access, 'students') == {'a@pve', 'c@pve'}
    result = access.run(pve_group.main, dict(name='students', users=['a', 'c']))[0]
    assert not result['changed']


def test_bad_input(access):
    result, failed = access.run(pve_group.main, dict(name='bad group'))
    assert failed and "'bad group'" in result['msg'] and access.calls() == []
    result, failed = access.run(pve_group.main, dict(name='g', users=['ghost']))
    assert failed and 'ghost@pve' in result['msg'] and access.writes() == []
