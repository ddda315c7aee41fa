"""Access control: what a user, a group member or a token may do after which ACL entries."""

import time

import pytest
import requests

from fakecluster import BUILTIN_ROLES

ALICE = ('alice@pve', 'alice-password')


def test_a_user_created_through_the_api_logs_in_with_its_password(pve_api, pve_cluster, refused):
    pve_api.access.users.post(userid='alice@pve', password='alice-password', email='alice@example.org')
    alice = pve_cluster.api(*ALICE)
    assert alice.version.get()['version']
    assert refused(pve_cluster.api, 'alice@pve', 'wrong-password')[0] == 401
    assert refused(pve_cluster.api, 'nobody@pve', 'alice-password')[0] == 401


def test_a_user_with_no_acl_entry_gets_403_on_a_vm(student, refused):
    status, message = refused(student.nodes('pve1').qemu(100).status.current.get)
    assert status == 403 and '/vms/100, VM.Audit' in message
    assert refused(student.nodes('pve1').qemu(100).status.start.post)[0] == 403
    assert student.cluster.resources.get(type='vm') == []


def test_pvevmuser_on_one_vm_allows_power_and_status_there_only(pve_api, student, refused):
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    student.nodes('pve1').qemu(100).status.start.post()
    assert student.nodes('pve1').qemu(100).status.current.get()['status'] == 'running'
    assert [vm['vmid'] for vm in student.cluster.resources.get(type='vm')] == [100]
    assert refused(student.nodes('pve1').qemu(101).status.current.get)[0] == 403
    assert refused(student.nodes('pve1').qemu(101).status.start.post)[0] == 403
    # PVEVMUser holds no VM.Config.Memory nor VM.Allocate.
    assert refused(student.nodes('pve1').qemu(100).config.put, memory=4096)[0] == 403
    assert refused(student.nodes('pve1').qemu(100).delete)[0] == 403


def test_an_entry_without_propagate_does_not_reach_the_vms_below(pve_api, student, refused):
    pve_api.access.acl.put(path='/vms', users='alice@pve', roles='PVEVMUser', propagate=0)
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403
    pve_api.access.acl.put(path='/vms', users='alice@pve', roles='PVEVMUser', propagate=1)
    assert student.nodes('pve1').qemu(100).status.current.get()['vmid'] == 100


def test_noaccess_on_a_vm_beats_a_role_on_the_root(pve_api, student, refused):
    pve_api.access.acl.put(path='/', users='alice@pve', roles='PVEVMAdmin')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='NoAccess')
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403
    assert student.nodes('pve1').qemu(101).status.current.get()['vmid'] == 101
    # NoAccess also wins next to another role at the same level.
    pve_api.access.acl.put(path='/vms/101', users='alice@pve', roles='NoAccess,PVEVMUser')
    assert refused(student.nodes('pve1').qemu(101).status.current.get)[0] == 403


def test_a_user_entry_replaces_its_groups_entry_at_the_same_path(pve_api, student, refused):
    pve_api.access.groups.post(groupid='students')
    pve_api.access.users('alice@pve').put(groups='students')
    pve_api.access.acl.put(path='/vms/100', groups='students', roles='PVEVMUser')
    assert student.access.permissions.get(path='/vms/100')['/vms/100'].get('VM.PowerMgmt') == 1
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEAuditor')
    held = student.access.permissions.get(path='/vms/100')['/vms/100']
    assert 'VM.Audit' in held and 'VM.PowerMgmt' not in held
    assert refused(student.nodes('pve1').qemu(100).status.start.post)[0] == 403


def test_a_group_entry_lower_down_replaces_a_user_entry_above(pve_api, student):
    # Per level the user's entries hide the group's; a deeper level replaces whatever was inherited.
    pve_api.access.groups.post(groupid='students')
    pve_api.access.users('alice@pve').put(groups='students')
    pve_api.access.acl.put(path='/', users='alice@pve', roles='PVEVMAdmin')
    pve_api.access.acl.put(path='/vms/100', groups='students', roles='PVEAuditor')
    held = student.access.permissions.get(path='/vms/100')['/vms/100']
    assert set(held) == set(BUILTIN_ROLES['PVEAuditor'])


def test_a_role_on_a_pool_reaches_the_pools_vms_only(pve_api, student, refused):
    pve_api.pools.post(poolid='lab1')
    pve_api.pools('lab1').put(vms='101')
    pve_api.access.acl.put(path='/pool/lab1', users='alice@pve', roles='PVEVMUser')
    assert student.nodes('pve1').qemu(101).status.current.get()['vmid'] == 101
    student.nodes('pve1').qemu(101).status.start.post()
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403
    assert [vm['vmid'] for vm in student.cluster.resources.get(type='vm')] == [101]


def test_a_pool_role_without_propagate_reaches_the_pools_vms_and_a_vm_joining_later(pve_api, student, refused):
    # RPCEnvironment's compile_acl_path asks roles() for /pool/<pool> itself, where an entry's propagate flag
    # does not matter; what the pool gives its VMs is never propagated further (the lab's teachers rely on both).
    pve_api.pools.post(poolid='lab1')
    pve_api.access.acl.put(path='/pool/lab1', users='alice@pve', roles='PVEVMUser', propagate=0)
    assert refused(student.nodes('pve1').qemu(101).status.current.get)[0] == 403
    pve_api.pools('lab1').put(vms='101')
    assert student.nodes('pve1').qemu(101).status.current.get()['vmid'] == 101
    held = student.access.permissions.get(path='/vms/101')['/vms/101']
    assert held.get('VM.Console') == 0 and held.get('VM.PowerMgmt') == 0
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403


def test_noaccess_on_a_vm_beats_its_pools_role(pve_api, student, refused):
    pve_api.pools.post(poolid='lab1')
    pve_api.pools('lab1').put(vms='100,101')
    pve_api.access.acl.put(path='/pool/lab1', users='alice@pve', roles='PVEVMUser')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='NoAccess')
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403
    assert student.nodes('pve1').qemu(101).status.current.get()['vmid'] == 101


def test_noaccess_on_a_pool_beats_a_role_on_its_vm(pve_api, student, refused):
    pve_api.pools.post(poolid='lab1')
    pve_api.pools('lab1').put(vms='100')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    pve_api.access.acl.put(path='/pool/lab1', users='alice@pve', roles='NoAccess')
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403


def test_a_privsep_token_holds_the_intersection_with_its_owner(pve_api, pve_cluster, refused):
    pve_api.access.users.post(userid='bob@pve')
    pve_api.access.acl.put(path='/vms/100', users='bob@pve', roles='PVEVMUser')
    made = pve_api.access.users('bob@pve').token('ci').post()
    assert made['full-tokenid'] == 'bob@pve!ci' and made['info']['privsep'] == 1 and made['value']
    token = pve_cluster.api(token='bob@pve!ci', secret=made['value'])
    assert token.cluster.resources.get(type='vm') == []  # privsep, no entries of its own: nothing

    pve_api.access.acl.put(path='/vms', tokens='bob@pve!ci', roles='PVEVMAdmin')
    assert [vm['vmid'] for vm in token.cluster.resources.get(type='vm')] == [100]  # only where bob holds something
    held = pve_api.access.permissions.get(userid='bob@pve!ci', path='/vms/100')['/vms/100']
    assert set(held) == set(BUILTIN_ROLES['PVEVMUser'])  # PVEVMAdmin on the token, cut to bob's PVEVMUser
    token.nodes('pve1').qemu(100).status.start.post()
    assert refused(token.nodes('pve1').qemu(100).config.put, memory=4096)[0] == 403

    unseparated = pve_api.access.users('bob@pve').token('full').post(privsep=0)
    full = pve_cluster.api(token='bob@pve!full', secret=unseparated['value'])
    assert [vm['vmid'] for vm in full.cluster.resources.get(type='vm')] == [100]


def test_a_privsep_token_of_root_holds_nothing_without_its_own_entries(pve_api, pve_cluster, refused):
    # fakepve waves every root@pam token through; PVE evaluates it like any other token.
    made = pve_api.access.users('root@pam').token('automation').post()
    token = pve_cluster.api(token='root@pam!automation', secret=made['value'])
    assert token.cluster.resources.get(type='vm') == []
    assert refused(token.nodes('pve1').qemu(100).status.start.post)[0] == 403
    pve_api.access.acl.put(path='/', tokens='root@pam!automation', roles='Administrator')
    token.nodes('pve1').qemu(100).status.start.post()


def test_a_disabled_or_expired_user_cannot_log_in(pve_api, pve_cluster, student, refused):
    pve_api.access.users('alice@pve').put(enable=0)
    assert refused(pve_cluster.api, *ALICE)[0] == 401
    # Its ticket from before is refused too (PVE checks the user on every request).
    status, message = refused(student.version.get)
    assert status == 401 and 'disabled' in message
    pve_api.access.users('alice@pve').put(enable=1)
    assert pve_cluster.api(*ALICE).version.get()
    pve_api.access.users('alice@pve').put(expire=int(time.time()) - 60)
    assert refused(pve_cluster.api, *ALICE)[0] == 401


def test_password_change_by_oneself_and_by_root(pve_api, pve_cluster, student, refused):
    status, _ = refused(student.access.password.put, userid='alice@pve', password='new-password-1')
    assert status == 400  # a user must confirm with the current password
    student.access.password.put(userid='alice@pve', password='new-password-1', **{'confirmation-password': ALICE[1]})
    assert refused(pve_cluster.api, *ALICE)[0] == 401
    assert pve_cluster.api('alice@pve', 'new-password-1').version.get()
    pve_api.access.password.put(userid='alice@pve', password='root-chose-this')
    assert pve_cluster.api('alice@pve', 'root-chose-this').version.get()
    # Nor may she change root's password.
    assert refused(student.access.password.put, userid='root@pam', password='whatever-long',
                   **{'confirmation-password': 'root-chose-this'})[0] in (403, 500)


def test_deleting_a_user_removes_its_acl_entries_groups_and_login(pve_api, pve_cluster, student, refused):
    pve_api.access.groups.post(groupid='students')
    pve_api.access.users('alice@pve').put(groups='students')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    pve_api.access.users('alice@pve').delete()
    state = pve_cluster.pve.lab_state()
    assert state['acl'] == [] and state['groups'][0]['members'] == []
    assert refused(pve_cluster.api, *ALICE)[0] == 401
    pve_api.access.users('alice@pve').delete()  # PVE 9: deleting an unknown user is no error


def test_destroying_a_vm_removes_its_acl_entries(pve_api, pve_cluster, student):
    pve_api.access.acl.put(path='/vms/101', users='alice@pve', roles='PVEVMUser')
    upid = pve_api.nodes('pve1').qemu(101).delete(purge=1)
    # PVE purges the ACL entries in the destroy task: wait for it (on a busy machine it is not done at once)
    deadline = time.time() + 30
    while pve_api.nodes('pve1').tasks(upid).status.get()['status'] != 'stopped' and time.time() < deadline:
        time.sleep(0.1)
    assert pve_cluster.pve.acl_entries() == []


def test_users_list_full_shows_groups_and_tokens_without_secrets(pve_api):
    pve_api.access.groups.post(groupid='students', comment='term 1')
    pve_api.access.users.post(userid='alice@pve', password='alice-password', groups='students', comment='A')
    pve_api.access.users('alice@pve').token('ci').post(comment='pipeline')
    users = dict((u['userid'], u) for u in pve_api.access.users.get(full=1))
    assert users['alice@pve']['groups'] == 'students' and users['alice@pve']['comment'] == 'A'
    assert users['alice@pve']['tokens'] == [{'tokenid': 'ci', 'privsep': 1, 'comment': 'pipeline'}]
    assert users['alice@pve']['realm-type'] == 'pve' and 'root@pam' in users
    assert pve_api.access.users('alice@pve').get()['groups'] == ['students']
    assert pve_api.access.groups('students').get()['members'] == ['alice@pve']


def test_a_user_sees_only_itself_in_the_user_list(pve_api, student):
    pve_api.access.users.post(userid='carol@pve')
    assert [u['userid'] for u in student.access.users.get()] == ['alice@pve']


def test_acl_list_and_delete(pve_api):
    pve_api.access.users.post(userid='alice@pve')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser,PVEAuditor', propagate=0)
    assert pve_api.access.acl.get() == [
        {'path': '/vms/100', 'type': 'user', 'ugid': 'alice@pve', 'roleid': 'PVEAuditor', 'propagate': 0},
        {'path': '/vms/100', 'type': 'user', 'ugid': 'alice@pve', 'roleid': 'PVEVMUser', 'propagate': 0}]
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEAuditor', delete=1)
    assert [e['roleid'] for e in pve_api.access.acl.get()] == ['PVEVMUser']


def test_vm_allocate_may_hand_out_no_more_than_it_holds(pve_api, student, refused):
    # perm-modify: VM.Allocate on /vms/100 lets alice grant roles there, but only within her own privileges.
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    pve_api.access.users.post(userid='carol@pve')
    assert refused(student.access.acl.put, path='/vms/100', users='carol@pve', roles='PVEVMUser')[0] == 403
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMAdmin')
    student.access.acl.put(path='/vms/100', users='carol@pve', roles='PVEVMUser', propagate=0)
    status, message = refused(student.access.acl.put, path='/vms/100', users='carol@pve', roles='Administrator',
                              propagate=0)
    assert status == 400 and 'superset of privileges' in message


@pytest.mark.parametrize('kwargs, status, text', [
    ({'userid': 'bob'}, 400, 'does not look like a valid user name'),
    ({'userid': 'bob@pve', 'password': 'short'}, 400, 'password'),
    ({'userid': 'bob@pam', 'password': 'long-enough'}, 500, 'change password failed'),
    ({'userid': 'bob@nowhere', 'password': 'long-enough'}, 500, "auth domain 'nowhere' does not exist"),
    ({'userid': 'bob@pve', 'groups': 'nosuchgroup'}, 500, "no such group 'nosuchgroup'"),
    ({'userid': 'root@pam'}, 500, 'already exists'),
])
def test_user_creation_is_validated_as_pve_does(pve_api, pve_cluster, refused, kwargs, status, text):
    got, message = refused(pve_api.access.users.post, **kwargs)
    assert got == status and text in message
    assert [u['userid'] for u in pve_api.access.users.get()] == ['root@pam']


def test_a_pam_user_without_password_is_created_but_cannot_log_in(pve_api, pve_cluster, refused):
    pve_api.access.users.post(userid='bob@pam')
    assert refused(pve_cluster.api, 'bob@pam', 'anything-at-all')[0] == 401


@pytest.mark.parametrize('kwargs, status, text', [
    ({'roleid': 'PVEStudent', 'privs': 'VM.Audit'}, 400, "'PVE' namespace"),
    ({'roleid': 'pvestudent', 'privs': 'VM.Audit'}, 400, "'PVE' namespace"),
    ({'roleid': 'Student', 'privs': 'VM.Audit,VM.Fly'}, 400, "invalid privilege 'VM.Fly'"),
    ({'roleid': 'Administrator'}, 500, 'already exists'),
])
def test_custom_roles_are_validated_as_pve_does(pve_api, refused, kwargs, status, text):
    got, message = refused(pve_api.access.roles.post, **kwargs)
    assert got == status and text in message


def test_custom_role_lifecycle(pve_api, student, refused):
    pve_api.access.roles.post(roleid='LabStudent', privs='VM.Audit,VM.Console')
    assert pve_api.access.roles('LabStudent').get() == {'VM.Audit': 1, 'VM.Console': 1}
    pve_api.access.roles('LabStudent').put(privs='VM.PowerMgmt', append=1)
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='LabStudent')
    student.nodes('pve1').qemu(100).status.start.post()
    assert refused(pve_api.access.roles('PVEVMUser').put, privs='VM.Audit')[0] == 500
    pve_api.access.roles('LabStudent').delete()
    assert pve_api.access.acl.get() == []
    assert refused(student.nodes('pve1').qemu(100).status.current.get)[0] == 403


def test_builtin_roles_are_listed_with_their_privileges(pve_api):
    roles = dict((r['roleid'], r) for r in pve_api.access.roles.get())
    assert set(BUILTIN_ROLES) <= set(roles) and all(roles[r]['special'] == 1 for r in BUILTIN_ROLES)
    assert roles['PVEVMUser']['privs'].split(',') == sorted(BUILTIN_ROLES['PVEVMUser'])


def test_permissions_of_others_need_sys_audit_on_access(pve_api, student, refused):
    pve_api.access.users.post(userid='carol@pve')
    assert refused(student.access.permissions.get, userid='carol@pve')[0] == 403
    assert student.access.permissions.get() == {}
    assert pve_api.access.permissions.get(path='/vms/100')['/vms/100']['VM.Allocate'] == 1


def test_the_login_carries_the_capabilities_of_the_user(pve_api, pve_cluster):
    pve_api.access.users.post(userid='alice@pve', password='alice-password')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    answer = requests.post(pve_cluster.url + '/api2/json/access/ticket', data={'username': ALICE[0],
                           'password': ALICE[1]}, verify=pve_cluster.ca_path, timeout=10).json()['data']
    assert answer['username'] == 'alice@pve' and answer['ticket'].startswith('PVE:alice@pve:')
    assert answer['cap']['vms'].get('VM.PowerMgmt') == 1 and answer['cap']['nodes'] == {}
    assert 'clustername' not in answer  # no Sys.Audit on /
