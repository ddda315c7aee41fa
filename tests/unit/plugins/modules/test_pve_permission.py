"""pve_permission against the in-memory /access stub: one read, batched PUTs, exclusive, propagate, check mode."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveVersion
from ansible_collections.pvelab.proxmox.plugins.modules import pve_permission
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import run, stub  # noqa: F401 pylint: disable=unused-import


def users(stub, *names):
    for name in names:
        stub.user_call('POST', '/access/users', None, {'userid': name + '@pve'})


def acl_puts(stub):
    return [c for c in stub.calls if c[0] == 'PUT' and c[1] == '/access/acl']


def test_grant_idempotent_update_absent(stub):
    users(stub, 'alice')
    args = dict(path='/vms/201', roles=['PVEVMUser'], users=['alice'])
    result, failed = run(pve_permission.main, args, diff=True)
    assert not failed and result['changed'] and result['api_calls'] == 1
    assert stub.acl == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 1}
    assert result['diff'] == {'before': {'/vms/201': []}, 'after': {'/vms/201': ['user alice@pve PVEVMUser']}}
    result = run(pve_permission.main, args)[0]
    assert not result['changed'] and len(acl_puts(stub)) == 1
    result = run(pve_permission.main, dict(args, propagate=False))[0]
    assert result['changes'][0]['action'] == 'update'
    assert stub.acl == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 0}
    result = run(pve_permission.main, dict(path='/vms/201', users=['alice'], state='absent'))[0]
    assert result['changed'] and stub.acl == {}
    assert stub.count('GET', '/access/acl') == 4


def test_check_mode_writes_nothing(stub):
    users(stub, 'alice')
    result, failed = run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['alice']), check=True)
    assert not failed and result['changed'] and stub.writes() == [] and stub.acl == {}
    assert result['acl'] == [{'path': '/vms/201', 'type': 'user', 'ugid': 'alice@pve', 'roleid': 'PVEVMUser',
                              'propagate': True}]


def test_absent_never_removes_unnamed_entries(stub):
    users(stub, 'alice', 'bob')
    stub.acl[('/vms/201', 'user', 'bob@pve', 'PVEVMUser')] = 1
    stub.acl[('/vms/201', 'user', 'alice@pve', 'PVEAuditor')] = 1
    result = run(pve_permission.main, dict(path='/vms/201', users=['alice'], roles=['PVEVMUser'], state='absent'))[0]
    assert not result['changed'] and len(stub.acl) == 2
    result, failed = run(pve_permission.main, dict(path='/vms/201', state='absent'))
    assert failed and 'at least one of users, groups or tokens' in result['msg']
    assert len(stub.acl) == 2


def test_exclusive(stub):
    users(stub, 'alice', 'bob')
    stub.acl[('/vms/201', 'user', 'bob@pve', 'PVEVMUser')] = 1
    stub.acl[('/vms/202', 'user', 'bob@pve', 'PVEVMUser')] = 1
    result = run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['alice'], exclusive=True))[0]
    assert stub.acl == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 1,
                        ('/vms/202', 'user', 'bob@pve', 'PVEVMUser'): 1}
    assert [c['action'] for c in result['changes']] == ['add', 'remove']
    puts = acl_puts(stub)
    assert 'delete' not in puts[0][2] and puts[1][2]['delete'] == 1   # grant first, then removal


def test_list_form_one_read_one_put_per_vm(stub):
    names = ['s{0}'.format(i) for i in range(60)]
    users(stub, *names)
    stub.calls[:] = []
    entries = [{'path': '/vms/{0}'.format(300 + i), 'users': [n]} for i, n in enumerate(names)]
    result, failed = run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))
    assert not failed and result['api_calls'] == 60 and len(acl_puts(stub)) == 60
    assert stub.count('GET', '/access/acl') == 1 and stub.count('GET') == 3     # acl, roles, users
    assert all(e['changed'] for e in result['entries'])
    stub.calls[:] = []
    result = run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))[0]
    # Nothing to grant: the entries there already name users and roles that exist, so only the ACL is read.
    assert not result['changed'] and stub.count('GET') == 1 and stub.count('GET', '/access/acl') == 1
    stub.calls[:] = []
    entries[7]['state'] = 'absent'
    result = run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))[0]
    assert [e['changed'] for e in result['entries']].count(True) == 1 and len(acl_puts(stub)) == 1


def test_shared_path_is_one_put(stub):
    users(stub, 'a', 'b', 'c')
    stub.group_call('POST', '/access/groups', None, {'groupid': 'teachers'})
    args = dict(path='/pool/lab', roles=['PVEVMUser', 'PVEAuditor'], users=['a', 'b', 'c'], groups=['teachers'])
    result = run(pve_permission.main, args)[0]
    assert result['api_calls'] == 1 and len(stub.acl) == 8


def test_missing_names_fail_before_any_write(stub):
    users(stub, 'alice')
    stub.calls[:] = []
    for args, words in ((dict(roles=['NoSuchRole'], users=['alice']), 'role NoSuchRole'),
                        (dict(roles=['PVEVMUser'], users=['ghost']), 'user ghost@pve'),
                        (dict(roles=['PVEVMUser'], groups=['ghosts']), 'group ghosts'),
                        (dict(roles=['PVEVMUser'], tokens=['alice!ci']), 'token alice@pve!ci')):
        result, failed = run(pve_permission.main, dict(args, path='/vms/201'))
        assert failed and words in result['msg'] and 'nothing was changed' in result['msg']
    assert stub.writes() == []


def test_missing_names_only_warn_in_check_mode(stub):
    result, failed = run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['ghost']), check=True)
    assert not failed and result['changed']


def test_malformed_paths_fail_before_reading(stub):
    for path in ('/vms/../100', '/vms//100', 'vms/100', '/vms/7', '/bogus'):
        result, failed = run(pve_permission.main, dict(path=path, roles=['PVEVMUser'], users=['alice']))
        assert failed and repr(path) in result['msg'], result['msg']
    entries = [{'path': '/vms/300', 'users': ['a']}, {'path': '/vms/x', 'users': ['b']}]
    result, failed = run(pve_permission.main, dict(entries=entries, roles=['R']))
    assert failed and "entries[1] path '/vms/x'" in result['msg']
    assert stub.calls == []


def test_principals_beside_entries_refused(stub):
    entries = [{'path': '/vms/300', 'users': ['a']}]
    result, failed = run(pve_permission.main, dict(entries=entries, users=['b'], roles=['R']))
    assert failed and 'users belongs in the items of entries' in result['msg']


PVE9_PATHS = ['/sdn/fabrics', '/sdn/fabrics/f1', '/sdn/prefix-lists/pl1', '/sdn/route-maps/rm1']


@pytest.mark.parametrize('path', PVE9_PATHS)
def test_a_pve9_acl_path_on_pve8_is_named_before_any_read_or_write(stub, path):
    stub.as_pve8()
    users(stub, 'alice')
    result, failed = run(pve_permission.main, dict(path=path, roles=['PVEAuditor'], users=['alice']), check=True)
    assert failed and 'path {0!r}'.format(path) in result['msg'] and 'Proxmox VE 8.4.21, which refuses it' in \
        result['msg']
    result, failed = run(pve_permission.main, dict(entries=[dict(path='/vms/100', roles=['PVEAuditor'],
                                                                 users=['alice']),
                                                            dict(path=path, roles=['PVEAuditor'], users=['alice'])]))
    assert failed and 'entries[1] path {0!r}'.format(path) in result['msg']
    assert stub.calls == [] and stub.acl == {}


def test_pve9_0_has_fabrics_but_not_prefix_lists(stub):
    stub.release = PveVersion('9.0.18', '9.0', '0' * 16)
    users(stub, 'alice')
    result, failed = run(pve_permission.main, dict(path='/sdn/fabrics/f1', roles=['PVEAuditor'], users=['alice']))
    assert not failed and result['changed']
    result, failed = run(pve_permission.main, dict(path='/sdn/route-maps', roles=['PVEAuditor'], users=['alice']))
    assert failed and '/sdn/route-maps is an ACL path of Proxmox VE 9.1 and later' in result['msg']


def test_pve9_paths_are_granted_on_pve9_and_removed_on_pve8(stub):
    users(stub, 'alice')
    for path in PVE9_PATHS:
        result, failed = run(pve_permission.main, dict(path=path, roles=['PVEAuditor'], users=['alice']))
        assert not failed and result['changed']
    stub.as_pve8()
    stub.version_reads = 0
    result, failed = run(pve_permission.main, dict(path='/sdn/fabrics', users=['alice'], state='absent'))
    assert not failed and result['changed'] and stub.version_reads == 0  # PVE deletes on any path


def test_common_paths_need_no_version(stub):
    users(stub, 'alice')
    result, failed = run(pve_permission.main, dict(path='/sdn/zones/z1', roles=['PVEAuditor'], users=['alice']))
    assert not failed and result['changed'] and stub.version_reads == 0
