"""pve_permission against the fake PVE's /access API (LabPve, access_fake.py): one read, batched PUTs, exclusive,
propagate, check mode, the ACL paths of each release."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_permission
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import access, acl  # noqa: F401 pylint: disable=unused-import


def users(access, *names):
    for name in names:
        access.pve.add_user(name + '@pve')


def acl_puts(access):
    return [c for c in access.calls() if c.method == 'PUT' and c.path == '/access/acl']


def grant(access, path, ugid, roleid, propagate=1):
    access.pve.set_acl(path, 'user', ugid, roleid, propagate)


def test_grant_idempotent_update_absent(access):
    users(access, 'alice')
    args = dict(path='/vms/201', roles=['PVEVMUser'], users=['alice'])
    result, failed = access.run(pve_permission.main, args, diff=True)
    assert not failed and result['changed'] and result['api_calls'] == 1
    assert acl(access) == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 1}
    assert result['diff'] == {'before': {'/vms/201': []}, 'after': {'/vms/201': ['user alice@pve PVEVMUser']}}
    result = access.run(pve_permission.main, args)[0]
    assert not result['changed'] and len(acl_puts(access)) == 1
    result = access.run(pve_permission.main, dict(args, propagate=False))[0]
    assert result['changes'][0]['action'] == 'update'
    assert acl(access) == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 0}
    result = access.run(pve_permission.main, dict(path='/vms/201', users=['alice'], state='absent'))[0]
    assert result['changed'] and acl(access) == {}
    assert access.count('GET', '/access/acl') == 4


def test_check_mode_writes_nothing(access):
    users(access, 'alice')
    result, failed = access.run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['alice']), check=True)
    assert not failed and result['changed'] and access.writes() == [] and acl(access) == {}
    assert result['acl'] == [{'path': '/vms/201', 'type': 'user', 'ugid': 'alice@pve', 'roleid': 'PVEVMUser',
                              'propagate': True}]


def test_absent_never_removes_unnamed_entries(access):
    users(access, 'alice', 'bob')
    grant(access, '/vms/201', 'bob@pve', 'PVEVMUser')
    grant(access, '/vms/201', 'alice@pve', 'PVEAuditor')
    result = access.run(pve_permission.main, dict(path='/vms/201', users=['alice'], roles=['PVEVMUser'], state='absent'))[0]
    assert not result['changed'] and len(acl(access)) == 2
    result, failed = access.run(pve_permission.main, dict(path='/vms/201', state='absent'))
    assert failed and 'at least one of users, groups or tokens' in result['msg']
    assert len(acl(access)) == 2


def test_exclusive(access):
    users(access, 'alice', 'bob')
    grant(access, '/vms/201', 'bob@pve', 'PVEVMUser')
    grant(access, '/vms/202', 'bob@pve', 'PVEVMUser')
    result = access.run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['alice'], exclusive=True))[0]
    assert acl(access) == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 1,
                           ('/vms/202', 'user', 'bob@pve', 'PVEVMUser'): 1}
    assert [c['action'] for c in result['changes']] == ['add', 'remove']
    puts = acl_puts(access)
    assert 'delete' not in puts[0].data and puts[1].data['delete'] == '1'   # grant first, then removal


def test_list_form_one_read_one_put_per_vm(access):
    names = ['s{0}'.format(i) for i in range(60)]
    users(access, *names)
    access.forget_requests()
    entries = [{'path': '/vms/{0}'.format(300 + i), 'users': [n]} for i, n in enumerate(names)]
    result, failed = access.run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))
    assert not failed and result['api_calls'] == 60 and len(acl_puts(access)) == 60
    assert access.count('GET', '/access/acl') == 1 and access.count('GET') == 3     # acl, roles, users
    assert all(e['changed'] for e in result['items'])
    access.forget_requests()
    result = access.run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))[0]
    # Nothing to grant: the entries there already name users and roles that exist, so only the ACL is read.
    assert not result['changed'] and access.count('GET') == 1 and access.count('GET', '/access/acl') == 1
    access.forget_requests()
    entries[7]['state'] = 'absent'
    result = access.run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))[0]
    assert [e['changed'] for e in result['items']].count(True) == 1 and len(acl_puts(access)) == 1


def test_shared_path_is_one_put(access):
    users(access, 'a', 'b', 'c')
    access.pve.add_group('teachers')
    args = dict(path='/pool/lab', roles=['PVEVMUser', 'PVEAuditor'], users=['a', 'b', 'c'], groups=['teachers'])
    result = access.run(pve_permission.main, args)[0]
    assert result['api_calls'] == 1 and len(acl(access)) == 8


def test_missing_names_fail_before_any_write(access):
    users(access, 'alice')
    access.forget_requests()
    for args, words in ((dict(roles=['NoSuchRole'], users=['alice']), 'role NoSuchRole'),
                        (dict(roles=['PVEVMUser'], users=['ghost']), 'user ghost@pve'),
                        (dict(roles=['PVEVMUser'], groups=['ghosts']), 'group ghosts'),
                        (dict(roles=['PVEVMUser'], tokens=['alice!ci']), 'token alice@pve!ci')):
        result, failed = access.run(pve_permission.main, dict(args, path='/vms/201'))
        assert failed and words in result['msg'] and 'nothing was changed' in result['msg']
    assert access.writes() == []


def test_missing_names_only_warn_in_check_mode(access):
    result, failed = access.run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['ghost']), check=True)
    assert not failed and result['changed']


def test_malformed_paths_fail_before_reading(access):
    for path in ('/vms/../100', '/vms//100', 'vms/100', '/vms/7', '/bogus'):
        result, failed = access.run(pve_permission.main, dict(path=path, roles=['PVEVMUser'], users=['alice']))
        assert failed and repr(path) in result['msg'], result['msg']
    entries = [{'path': '/vms/300', 'users': ['a']}, {'path': '/vms/x', 'users': ['b']}]
    result, failed = access.run(pve_permission.main, dict(entries=entries, roles=['R']))
    assert failed and "entries[1] path '/vms/x'" in result['msg']
    assert access.calls() == []


def test_principals_beside_entries_refused(access):
    entries = [{'path': '/vms/300', 'users': ['a']}]
    result, failed = access.run(pve_permission.main, dict(entries=entries, users=['b'], roles=['R']))
    assert failed and 'users belongs in the items of entries' in result['msg']


PVE9_PATHS = ['/sdn/fabrics', '/sdn/fabrics/f1', '/sdn/prefix-lists/pl1', '/sdn/route-maps/rm1']


@pytest.mark.parametrize('path', PVE9_PATHS)
def test_a_pve9_acl_path_on_pve8_is_named_before_any_read_or_write(access, path):
    access.pve.pve_version = '8.4'
    users(access, 'alice')
    result, failed = access.run(pve_permission.main, dict(path=path, roles=['PVEAuditor'], users=['alice']), check=True)
    assert failed and 'path {0!r}'.format(path) in result['msg'] and 'Proxmox VE 8.4.21, which refuses it' in \
        result['msg']
    entries = [dict(path='/vms/100', roles=['PVEAuditor'], users=['alice']),
               dict(path=path, roles=['PVEAuditor'], users=['alice'])]
    result, failed = access.run(pve_permission.main, dict(entries=entries))
    assert failed and 'entries[1] path {0!r}'.format(path) in result['msg']
    assert access.calls() == [] and acl(access) == {}   # only GET /version was asked


def test_pve9_0_has_fabrics_but_not_prefix_lists(access):
    access.pve.answer_version('9.0.18')  # GET /version says so; the API stays 9.1's
    users(access, 'alice')
    result, failed = access.run(pve_permission.main, dict(path='/sdn/fabrics/f1', roles=['PVEAuditor'], users=['alice']))
    assert not failed and result['changed']
    result, failed = access.run(pve_permission.main, dict(path='/sdn/route-maps', roles=['PVEAuditor'], users=['alice']))
    assert failed and '/sdn/route-maps is an ACL path of Proxmox VE 9.1 and later' in result['msg']


def test_pve9_paths_are_granted_on_pve9_and_removed_on_pve8(access):
    users(access, 'alice')
    for path in PVE9_PATHS:
        result, failed = access.run(pve_permission.main, dict(path=path, roles=['PVEAuditor'], users=['alice']))
        assert not failed and result['changed']
    # The cluster now says it is 8.4 (the fake cannot switch releases with entries 8.4 has no path for).
    access.pve.answer_version('8.4.21')
    reads = access.version_reads()
    # Every write reads GET /version first (PveClient's release check), so check mode shows what the module needs.
    result, failed = access.run(pve_permission.main, dict(path='/sdn/fabrics', users=['alice'], state='absent'),
                                check=True)
    assert not failed and result['changed'] and access.version_reads() == reads  # PVE deletes on any path
    result, failed = access.run(pve_permission.main, dict(path='/sdn/fabrics', users=['alice'], state='absent'))
    assert not failed and result['changed'] and not [k for k in acl(access) if k[0] == '/sdn/fabrics']


def test_common_paths_need_no_version(access):
    users(access, 'alice')
    # Every write reads GET /version first (PveClient's release check), so check mode shows what the module needs.
    args = dict(path='/sdn/zones/z1', roles=['PVEAuditor'], users=['alice'])
    result, failed = access.run(pve_permission.main, args, check=True)
    assert not failed and result['changed'] and access.version_reads() == 0
    result, failed = access.run(pve_permission.main, args)
    assert not failed and result['changed'] and acl(access) == {('/sdn/zones/z1', 'user', 'alice@pve', 'PVEAuditor'): 1}


def test_items_are_keyed_by_path_principals_and_roles(access):
    users(access, 'alice', 'bob')
    access.pve.add_group('teachers')
    access.pve.add_token('alice@pve', 'ci')
    entries = [{'path': '/vms/201/', 'users': ['bob', 'alice'], 'groups': ['teachers'], 'tokens': ['alice!ci']},
               {'path': '/pool/lab', 'roles': ['PVEAuditor', 'PVEVMUser'], 'users': ['alice']},
               {'path': '/vms/201', 'users': ['bob'], 'roles': [], 'state': 'absent'}]   # every role of bob's
    result, failed = access.run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))
    assert not failed and result['items'] == [
        {'key': '/vms/201 @teachers,alice@pve!ci,alice@pve,bob@pve PVEVMUser', 'path': '/vms/201',
         'state': 'present', 'changed': True},
        {'key': '/pool/lab alice@pve PVEAuditor,PVEVMUser', 'path': '/pool/lab', 'state': 'present', 'changed': True},
        {'key': '/vms/201 bob@pve', 'path': '/vms/201', 'state': 'absent', 'changed': False}]
    assert 'entries' not in result and result['api_calls'] == 2    # bob granted and removed in one run: no call
    result, failed = access.run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['alice']))
    assert not failed and result['items'] == [{'key': '/vms/201 alice@pve PVEVMUser', 'path': '/vms/201',
                                               'state': 'present', 'changed': False}]


def test_statements_sharing_a_key_are_not_duplicates_they_apply_in_order(access):
    users(access, 'alice')
    entries = [{'path': '/vms/201', 'users': ['alice'], 'state': 'absent'}, {'path': '/vms/201', 'users': ['alice']}]
    result, failed = access.run(pve_permission.main, dict(roles=['PVEVMUser'], entries=entries))
    assert not failed and [i['key'] for i in result['items']] == ['/vms/201 alice@pve PVEVMUser'] * 2
    assert [i['changed'] for i in result['items']] == [True, True]    # both name the entry that was added
    assert acl(access) == {('/vms/201', 'user', 'alice@pve', 'PVEVMUser'): 1}


def test_exclusive_beside_entries_refused_and_an_empty_principal_list_is_none(access):
    entries = [{'path': '/vms/300', 'users': ['a']}]
    result, failed = access.run(pve_permission.main, dict(entries=entries, exclusive=True, roles=['R']))
    assert failed and result['msg'] == 'exclusive belongs in the items of entries, not beside them'
    result, failed = access.run(pve_permission.main, dict(entries=entries, users=['b'], groups=['g'], roles=['R']))
    assert failed and result['msg'] == 'users, groups belong in the items of entries, not beside them'
    users(access, 'a')
    result, failed = access.run(pve_permission.main, dict(entries=entries, users=[], roles=['PVEVMUser']))
    assert not failed and result['changed']


def test_a_failed_put_stops_before_the_removals(access, monkeypatch):
    users(access, 'alice', 'bob')
    grant(access, '/vms/201', 'bob@pve', 'PVEVMUser')
    put = pve_permission.PvePermission.put

    def refused(self, call):
        if not call.get('delete'):
            raise PveError('PUT /access/acl: refused')
        return put(self, call)
    monkeypatch.setattr(pve_permission.PvePermission, 'put', refused)
    result, failed = access.run(pve_permission.main, dict(path='/vms/201', roles=['PVEVMUser'], users=['alice'],
                                                          exclusive=True))
    assert failed and result['msg'] == ('PUT /access/acl: refused (some of the 2 ACL changes may have been made; '
                                        'run again to finish)')
    assert result['changed'] and [c['action'] for c in result['changes']] == ['add', 'remove']
    assert acl(access) == {('/vms/201', 'user', 'bob@pve', 'PVEVMUser'): 1}     # bob's entry was not removed
