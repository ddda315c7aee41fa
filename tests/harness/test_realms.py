"""Realms (domains.cfg) and what the lab's teardown relies on for the ACL entries of a pool and a role.

pve-access-control: API2/Domains.pm (index, create), API2/User.pm create_user (an account of any realm name is
written; only a password goes through the realm, AccessControl::domain_set_password, and a directory realm's
Auth plugin refuses it: "can't set password on auth type 'ldap'"), API2/Role.pm delete_role (the entries naming
the role are ignored from the next read of user.cfg on) and AccessControl::delete_pool_acl (pve-manager's pool
delete drops the entries on /pool/<pool>).
"""

import pytest

from fakecluster import serving

LDAP = {'realm': 'school', 'type': 'ldap', 'server1': 'ldap.example.org', 'base_dn': 'ou=people,dc=example,dc=org',
        'user_attr': 'uid', 'comment': 'the school directory'}


def test_a_realm_made_through_the_api_is_listed_and_its_accounts_take_no_password(either_fake, refused):
    root = either_fake.api()
    root.access.domains.post(**LDAP)
    realms = dict((d['realm'], d) for d in root.access.domains.get())
    assert realms['school']['type'] == 'ldap' and realms['school']['comment'] == 'the school directory'
    assert realms['pve']['type'] == 'pve' and realms['pam']['type'] == 'pam'
    status, message = refused(root.access.users.post, userid='bob@school', password='bob-password')
    assert status == 500 and "can't set password on auth type 'ldap'" in message
    root.access.users.post(userid='bob@school', comment='from the directory')
    users = dict((u['userid'], u) for u in root.access.users.get())
    assert users['bob@school']['realm-type'] == 'ldap'
    # Nothing behind the realm is modelled: its account cannot log in with any password.
    assert refused(either_fake.api, 'bob@school', 'bob-password')[0] == 401


def test_a_realm_that_does_not_exist_is_not_listed_and_refuses_a_password_only(pve_cluster, pve_api, refused):
    assert sorted(d['realm'] for d in pve_api.access.domains.get()) == ['pam', 'pve']
    status, message = refused(pve_api.access.users.post, userid='carol@nowhere', password='carol-password')
    assert status == 500 and "auth domain 'nowhere' does not exist" in message
    # As PVE: without a password the account is written whatever its realm (the collection must check).
    pve_api.access.users.post(userid='carol@nowhere')
    assert 'realm-type' not in [u for u in pve_api.access.users.get() if u['userid'] == 'carol@nowhere'][0]


def test_a_realm_is_refused_with_a_reserved_name_a_builtin_type_or_a_missing_option(pve_api, refused):
    assert "domain 'pve' already exists" in refused(pve_api.access.domains.post, realm='pve', type='pve')[1]
    assert "unable to create builtin type 'pam'" in refused(pve_api.access.domains.post, realm='unix', type='pam')[1]
    assert 'base_dn is missing' in refused(pve_api.access.domains.post, realm='dir', type='ldap', server1='x',
                                           user_attr='uid')[1]
    assert sorted(d['realm'] for d in pve_api.access.domains.get()) == ['pam', 'pve']


def test_a_described_realm_is_served():
    with serving({'realms': [dict(LDAP, realm='corp', type='ad', domain='corp.example.org')]}) as cluster:
        realms = dict((d['realm'], d['type']) for d in cluster.api().access.domains.get())
        assert realms == {'corp': 'ad', 'pam': 'pam', 'pve': 'pve'}
        assert cluster.pve.lab_state()['realms'][0]['realm'] == 'corp'
    with pytest.raises(ValueError, match='issuer-url is missing'):
        with serving({'realms': [{'realm': 'sso', 'type': 'openid', 'client-id': 'pve'}]}):
            pass


def test_deleting_a_pool_or_a_role_drops_their_acl_entries(pve_api):
    pve_api.access.users.post(userid='tom@pve')
    pve_api.access.roles.post(roleid='LabTeacher-x', privs='VM.Audit,Pool.Audit')
    pve_api.pools.post(poolid='x')
    pve_api.access.acl.put(path='/pool/x', users='tom@pve', roles='LabTeacher-x')
    pve_api.access.acl.put(path='/vms/100', users='tom@pve', roles='LabTeacher-x')
    pve_api.pools('x').delete()
    assert [(a['path'], a['roleid']) for a in pve_api.access.acl.get() if a['ugid'] == 'tom@pve'] == \
        [('/vms/100', 'LabTeacher-x')]
    pve_api.access.roles('LabTeacher-x').delete()
    assert [a for a in pve_api.access.acl.get() if a['ugid'] == 'tom@pve'] == []
