"""_access: ids, paths, privileges, passwords, expiry, the user update and the ACL plan."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils import _access as a
from ansible_collections.pvelab.proxmox.plugins.module_utils._access import AclKey


# ------------------------------------------------------------------ ids

@pytest.mark.parametrize('value, expected', [
    ('alice', 'alice@pve'),
    ('alice@pve', 'alice@pve'),
    ('root@pam', 'root@pam'),
    ('  bob@corp-ldap  ', 'bob@corp-ldap'),
    ('john.doe@example.org@ad', 'john.doe@example.org@ad'),  # PVE splits at the last '@'
])
def test_parse_userid(value, expected):
    assert a.parse_userid(value) == expected


@pytest.mark.parametrize('value, words', [
    ('', 'name part'),
    ('al ice', 'name part'),
    ('a:b', 'name part'),
    ('a/b@pve', 'name part'),
    ('alice@1realm', 'realm'),
    ('alice@p', 'realm'),                 # realms are at least 2 characters
    ('x' * 70, '3 to 64'),
])
def test_parse_userid_refuses_what_pve_refuses(value, words):
    with pytest.raises(ValueError) as err:
        a.parse_userid(value, field='users[3]')
    assert str(err.value).startswith('users[3] ')
    assert words in str(err.value)


def test_parse_tokenid():
    assert a.parse_tokenid('bob!ci') == 'bob@pve!ci'
    assert a.parse_tokenid('bob@pam!ci-1') == 'bob@pam!ci-1'
    for bad in ('bob', 'bob@pve!1ci', 'bob@pve!', '!ci'):
        with pytest.raises(ValueError):
            a.parse_tokenid(bad)


def test_groupid_and_roleid():
    assert a.validate_groupid('net-admin_1.x') == 'net-admin_1.x'
    with pytest.raises(ValueError, match="group 'a b'"):
        a.validate_groupid('a b', field='group')
    with pytest.raises(ValueError, match='roles'):
        a.validate_roleid('PVE VMUser')


@pytest.mark.parametrize('name', ['PVEVMUser', 'pveMine', 'Pve-x', 'Administrator', 'NoAccess'])
def test_custom_role_names_refused(name):
    with pytest.raises(ValueError) as err:
        a.validate_custom_role(name)
    assert name in str(err.value)


def test_custom_role_name_allowed():
    assert a.validate_custom_role('LabStudent') == 'LabStudent'


# ------------------------------------------------------------------ password

def test_password_rule_never_echoes_the_password():
    secret = 'abc12'
    with pytest.raises(ValueError) as err:
        a.validate_password(secret, field='users[0] alice@pve password')
    msg = str(err.value)
    assert secret not in msg
    assert '5 characters' in msg and '8 to 64' in msg and 'alice@pve' in msg
    assert a.validate_password('x' * 8) == 'x' * 8
    with pytest.raises(ValueError):
        a.validate_password('x' * 65)


# ------------------------------------------------------------------ privileges

def test_privileges_from_pve_sources():
    # PVE 9: VM.Monitor is gone, the guest agent privileges are in.
    assert 'VM.Monitor' not in a.PRIVILEGES
    assert {'VM.GuestAgent.Audit', 'Sys.AccessNetwork', 'Permissions.Modify', 'Mapping.Use'} <= a.PRIVILEGES
    assert len(a.PRIVILEGES) == 47


def test_unknown_privileges_named_with_the_valid_ones():
    with pytest.raises(ValueError) as err:
        a.validate_privileges(['VM.Audit', 'VM.Bogus', 'Sys.Nope'])
    msg = str(err.value)
    assert 'Sys.Nope, VM.Bogus' in msg
    assert 'valid privileges are: ' in msg and 'VM.PowerMgmt' in msg


def test_privileges_of_the_cluster_win():
    assert a.validate_privileges('VM.Monitor VM.Audit', valid=['VM.Monitor', 'VM.Audit']) == ['VM.Audit', 'VM.Monitor']
    assert a.validate_privileges(['VM.Audit', 'VM.Audit']) == ['VM.Audit']


# ------------------------------------------------------------------ expire

@pytest.mark.parametrize('value, epoch', [
    (None, None), ('0', 0), (0, 0), ('never', 0), ('1893456000', 1893456000), (1893456000, 1893456000),
    ('2030-01-01', 1893456000),
])
def test_parse_expire(value, epoch):
    assert a.parse_expire(value) == epoch


@pytest.mark.parametrize('value', ['2030-13-01', 'tomorrow', '-5', True])
def test_parse_expire_refuses(value):
    with pytest.raises(ValueError) as err:
        a.parse_expire(value, field='expire')
    assert str(err.value).startswith('expire ')


# ------------------------------------------------------------------ ACL paths

@pytest.mark.parametrize('path, expected', [
    ('/', '/'), ('/vms', '/vms'), ('/vms/100', '/vms/100'), ('/vms/100/', '/vms/100'), ('/pool/lab', '/pool/lab'),
    ('/pool/a/b/c', '/pool/a/b/c'), ('/nodes/pve1', '/nodes/pve1'), ('/storage/local-lvm', '/storage/local-lvm'),
    ('/access/groups/students', '/access/groups/students'), ('/sdn/zones/z1/vnet1', '/sdn/zones/z1/vnet1'),
    ('/sdn/zones/z1/vnet1/100', '/sdn/zones/z1/vnet1/100'), ('/mapping/pci/gpu1', '/mapping/pci/gpu1'),
    ('/access', '/access'),
])
def test_acl_paths_pve_accepts(path, expected):
    assert a.normalize_acl_path(path) == expected


@pytest.mark.parametrize('path, words', [
    ('vms/100', 'must start with "/"'),
    ('/vms//100', 'empty segment'),
    ('/vms/../100', '".."'),
    ('/storage/..', '".."'),
    ('/nodes/.', '"."'),
    ('/vms/99', 'not an ACL path'),
    ('/vms/abc', 'not an ACL path'),
    ('/pool/a/b/c/d', 'not an ACL path'),
    ('/foo', 'not an ACL path'),
    ('/vms/100 ', None),     # surrounding blanks are trimmed: valid
    ('', 'must start'),
])
def test_acl_paths_refused(path, words):
    if words is None:
        assert a.normalize_acl_path(path) == '/vms/100'
        return
    with pytest.raises(ValueError) as err:
        a.normalize_acl_path(path, field='entries[2] path')
    assert str(err.value).startswith('entries[2] path ')
    assert words in str(err.value)


# ------------------------------------------------------------------ users

def view(**over):
    base = a.user_from_api({'userid': 'alice@pve', 'enable': 1, 'expire': 0, 'groups': 'a,b', 'email': 'x@y.z'})
    base.update(over)
    return base


def test_user_from_api_shapes():
    v = a.user_from_api({'userid': 'u@pve', 'groups': 'b,a', 'tokens': [{'tokenid': 't1', 'privsep': 1}]})
    assert v['enable'] is True and v['expire'] == 0 and v['groups'] == ['a', 'b'] and v['tokens'] == ['t1']
    assert v['email'] == '' and 'password' not in v
    # GET /access/users/{userid} gives groups as a list and tokens as a dict
    v = a.user_from_api({'userid': 'u@pve', 'enable': 0, 'groups': ['x'], 'tokens': {'t2': {}}})
    assert v['enable'] is False and v['groups'] == ['x'] and v['tokens'] == ['t2']


def test_user_update_unmanaged_fields_untouched():
    params, changed = a.user_update(view(), {'email': None, 'groups': None, 'enable': True})
    assert params == {} and changed == []


def test_user_update_groups_exact_append_and_clear():
    assert a.user_update(view(), {'groups': ['b', 'a']})[0] == {}
    params, changed = a.user_update(view(), {'groups': ['a', 'c']})
    assert params == {'groups': 'a,c'} and changed == ['groups']
    params = a.user_update(view(), {'groups': ['c']}, append=True)[0]
    assert params == {'groups': ['c'], 'append': True}
    assert a.user_update(view(), {'groups': ['a']}, append=True)[0] == {}
    params = a.user_update(view(), {'groups': []})[0]
    assert params == {'groups': ''}      # PVE: groups='' without append empties the memberships


def test_user_update_fields():
    params, changed = a.user_update(view(), {'enable': False, 'expire': 1893456000, 'email': '', 'comment': 'c'})
    assert params == {'enable': False, 'expire': 1893456000, 'email': '', 'comment': 'c'}
    assert changed == ['enable', 'expire', 'email', 'comment']
    after = a.user_after(view(), params)
    assert after['enable'] is False and after['email'] == '' and after['comment'] == 'c'
    assert a.user_after(view(), {'groups': ['c'], 'append': True})['groups'] == ['a', 'b', 'c']


# ------------------------------------------------------------------ ACL plan

def spec(**item):
    return a.parse_acl_spec(item, field='t')


def current_acl():
    return a.acl_from_api([
        {'path': '/vms/101', 'type': 'user', 'ugid': 'other@pve', 'roleid': 'PVEVMUser', 'propagate': 1},
        {'path': '/vms/201', 'type': 'user', 'ugid': 'alice@pve', 'roleid': 'PVEVMUser', 'propagate': 1},
        {'path': '/vms/201', 'type': 'group', 'ugid': 'ops', 'roleid': 'PVEAuditor', 'propagate': 0},
    ])


def test_spec_validation():
    s = spec(path='/vms/201/', roles=['PVEVMUser'], users=['alice'], tokens=['bob!ci'], groups=['ops'])
    assert s['path'] == '/vms/201' and s['propagate'] is True and s['state'] == 'present'
    assert s['principals'] == [('group', 'ops'), ('token', 'bob@pve!ci'), ('user', 'alice@pve')]
    with pytest.raises(ValueError, match='at least one of users, groups or tokens'):
        spec(path='/vms/201', roles=['PVEVMUser'], state='absent')
    with pytest.raises(ValueError, match='roles is required'):
        spec(path='/vms/201', users=['alice'])
    with pytest.raises(ValueError, match='exclusive applies to state=present'):
        spec(path='/vms/201', users=['alice'], state='absent', exclusive=True)
    with pytest.raises(ValueError, match="t path '/vms/1'"):
        spec(path='/vms/1', roles=['R'], users=['alice'])


def test_present_is_idempotent():
    cur = current_acl()
    target = a.plan_acl(cur, [spec(path='/vms/201', roles=['PVEVMUser'], users=['alice'])])
    assert a.diff_acl(cur, target) == []


def test_propagate_one_to_zero_is_an_update_in_one_put():
    cur = current_acl()
    target = a.plan_acl(cur, [spec(path='/vms/201', roles=['PVEVMUser'], users=['alice'], propagate=False)])
    changes = a.diff_acl(cur, target)
    assert [(c['action'], c['propagate']) for c in changes] == [('update', False)]
    assert a.acl_calls(changes) == [{'path': '/vms/201', 'roles': 'PVEVMUser', 'users': 'alice@pve',
                                     'propagate': False}]


def test_absent_removes_only_what_it_names():
    cur = current_acl()
    target = a.plan_acl(cur, [spec(path='/vms/201', users=['alice'], state='absent')])
    assert set(cur) - set(target) == {AclKey('/vms/201', 'user', 'alice@pve', 'PVEVMUser')}
    # a role alice does not hold there: nothing
    target = a.plan_acl(cur, [spec(path='/vms/201', users=['alice'], roles=['PVEAdmin'], state='absent')])
    assert target == cur


def test_exclusive_removes_the_others_on_that_path_only():
    cur = current_acl()
    target = a.plan_acl(cur, [spec(path='/vms/201', roles=['PVEVMUser'], users=['bob'], exclusive=True)])
    assert sorted(k for k in target if k.path == '/vms/201') == [AclKey('/vms/201', 'user', 'bob@pve', 'PVEVMUser')]
    assert AclKey('/vms/101', 'user', 'other@pve', 'PVEVMUser') in target
    calls = a.acl_calls(a.diff_acl(cur, target))
    # the grant comes first, then one removal per distinct role set
    assert calls[0] == {'path': '/vms/201', 'roles': 'PVEVMUser', 'users': 'bob@pve', 'propagate': True}
    assert all(c.get('delete') for c in calls[1:]) and len(calls) == 3


def test_exclusive_keeps_what_other_items_name_on_the_path():
    cur = current_acl()
    target = a.plan_acl(cur, [spec(path='/vms/201', roles=['PVEVMUser'], users=['alice'], exclusive=True),
                              spec(path='/vms/201', roles=['PVEAuditor'], groups=['ops'], propagate=False)])
    assert target == cur


def test_many_students_one_put_per_vm():
    specs = [spec(path='/vms/{0}'.format(300 + i), roles=['PVEVMUser'], users=['s{0}'.format(i)]) for i in range(40)]
    calls = a.acl_calls(a.diff_acl({}, a.plan_acl({}, specs)))
    assert len(calls) == 40
    assert calls[5] == {'path': '/vms/305', 'roles': 'PVEVMUser', 'users': 's5@pve', 'propagate': True}


def test_principals_with_the_same_roles_share_one_put():
    specs = [spec(path='/pool/lab', roles=['PVEVMUser', 'PVEAuditor'], users=['a', 'b'], groups=['g'],
                  tokens=['a!tk'])]
    calls = a.acl_calls(a.diff_acl({}, a.plan_acl({}, specs)))
    assert calls == [{'path': '/pool/lab', 'roles': 'PVEAuditor,PVEVMUser', 'users': 'a@pve,b@pve', 'groups': 'g',
                      'tokens': 'a@pve!tk', 'propagate': True}]


def test_principals_with_different_roles_get_separate_puts():
    cur = a.acl_from_api([{'path': '/pool/lab', 'type': 'user', 'ugid': 'a@pve', 'roleid': 'PVEAuditor',
                           'propagate': 1}])
    specs = [spec(path='/pool/lab', roles=['PVEVMUser', 'PVEAuditor'], users=['a', 'b'])]
    calls = a.acl_calls(a.diff_acl(cur, a.plan_acl(cur, specs)))
    # a needs only PVEVMUser, b both: a PUT must never grant a role nobody asked a principal to get
    assert sorted((c['users'], c['roles']) for c in calls) == [('a@pve', 'PVEVMUser'),
                                                               ('b@pve', 'PVEAuditor,PVEVMUser')]


def test_later_items_win():
    specs = [spec(path='/vms/300', roles=['PVEVMUser'], users=['a']),
             spec(path='/vms/300', users=['a'], state='absent')]
    assert a.plan_acl({}, specs) == {}


# ------------------------------------------------------------------ PVE releases

def version(text):
    from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveVersion
    return PveVersion(text, '.'.join(text.split('.')[:2]), '0' * 16)


def test_the_pve8_privileges_are_pve9s_with_vm_monitor_instead_of_guest_agent_and_replicate():
    assert a.PRIVILEGES - a.PRIVILEGES_8 == {'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.Replicate',
                                             'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.FileWrite',
                                             'VM.GuestAgent.Unrestricted'}
    assert a.PRIVILEGES_8 - a.PRIVILEGES == {'VM.Monitor'}
    assert a.privileges_of(version('8.4.21')) == a.PRIVILEGES_8 and a.privileges_of(version('9.0.0')) == a.PRIVILEGES
    assert a.versioned_privileges('VM.Audit,VM.Monitor VM.GuestAgent.Audit') == ['VM.GuestAgent.Audit', 'VM.Monitor']


def test_validate_privileges_names_the_release_of_a_privilege():
    with pytest.raises(ValueError) as err:
        a.validate_privileges(['VM.Audit', 'VM.GuestAgent.FileRead'], version=version('8.4.21'))
    assert str(err.value).startswith('privileges: unknown privilege VM.GuestAgent.FileRead on Proxmox VE 8.4.21 '
                                     '(VM.GuestAgent.FileRead is a PVE 9 privilege')
    assert a.validate_privileges(['VM.Monitor'], version=version('8.4.21')) == ['VM.Monitor']
    with pytest.raises(ValueError, match='VM.Monitor is a PVE 8 privilege, dropped in PVE 9'):
        a.validate_privileges(['VM.Monitor'], version=version('9.1.19'))


@pytest.mark.parametrize('text, clearable', [('8.4.21', False), ('9.0.12', False), ('9.0.13', True),
                                             ('9.1.0', True), ('10.0.1', True)])
def test_token_comment_delete_from_pve_9_0_13(text, clearable):
    assert a.token_comment_clearable(version(text)) is clearable


@pytest.mark.parametrize('text, accepted', [('8.1.6', False), ('8.1.7', True), ('8.4.21', True), ('9.1.19', True)])
def test_confirmation_password_from_pve_8_1_7(text, accepted):
    assert a.confirmation_password_accepted(version(text)) is accepted


@pytest.mark.parametrize('path, release, ok', [
    ('/sdn/fabrics', '8.4.21', False), ('/sdn/fabrics/f1', '9.0.1', True), ('/sdn/prefix-lists/p1', '9.0.18', False),
    ('/sdn/prefix-lists', '9.1.19', True), ('/sdn/route-maps/r1', '8.4.21', False), ('/sdn/zones/z1', '8.4.21', True),
    ('/sdn/fabricsx', '8.4.21', True),   # not a fabrics path (and not an ACL path at all: normalize_acl_path says so)
])
def test_acl_paths_by_release(path, release, ok):
    if ok:
        assert a.check_acl_path_release(path, version(release)) == path
    else:
        with pytest.raises(ValueError, match=r"path '{0}': /sdn/[a-z-]+ is an ACL path of Proxmox VE 9\.[01] and "
                                             r"later; this cluster runs Proxmox VE {1}".format(path, release)):
            a.check_acl_path_release(path, version(release))


def test_missing_realms_names_each_realm_with_its_accounts():
    domains = [{'realm': 'pam', 'type': 'pam'}, {'realm': 'pve', 'type': 'pve'}, {'realm': 'school', 'type': 'ldap'}]
    userids = ['b@corp', 'a@school', 'x@pve', 'a@corp', 'r@pam', 'z@sso']
    assert a.missing_realms(userids, domains) == [('corp', ['a@corp', 'b@corp']), ('sso', ['z@sso'])]
    assert a.missing_realms(['x@pve', 'root@pam'], []) == []  # the built-in realms need no listing
