"""pve_user against the fake PVE's /access API (LabPve, access_fake.py): plans, check mode, diff, list form,
passwords (checked by logging in as the user, as the module does)."""

import pytest

from fakepve.routing import die

from ansible_collections.pvelab.proxmox.plugins.modules import pve_user
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import (  # noqa: F401 pylint: disable=unused-import
    access,
    dumps,
    user,
    user_logins,
)

PW = 'student-pass-1'
PW2 = 'student-pass-2'


def password_is(access, userid, password):
    return access.pve.check_password(userid, password)


def groups_of(access, userid):
    return access.pve.user_cfg.groups_of(userid)


def test_create_then_idempotent(access):
    args = dict(userid='alice', password=PW, email='alice@example.org', groups=[], comment='lab')
    result, failed = access.run(pve_user.main, args, diff=True)
    assert not failed and result['changed'] and result['changes'] == ['created']
    assert user(access, 'alice@pve')['email'] == 'alice@example.org' and password_is(access, 'alice@pve', PW)
    assert result['user']['userid'] == 'alice@pve' and result['user']['state'] == 'present'
    assert result['diff']['before'] == {'userid': 'alice@pve', 'state': 'absent'}
    assert PW not in dumps(result)
    writes = len(access.writes())
    result, failed = access.run(pve_user.main, dict(args, update_password='always'))
    assert not failed and not result['changed'] and result['changes'] == []
    assert len(access.writes()) == writes
    assert user_logins(access) == ['alice@pve']   # the check logged in once, wrote nothing


def test_check_mode_writes_nothing(access):
    result, failed = access.run(pve_user.main, dict(userid='alice', password=PW), check=True, diff=True)
    assert not failed and result['changed'] and result['changes'] == ['created']
    assert access.writes() == [] and 'alice@pve' not in access.pve.user_cfg.users
    assert result['diff']['after']['state'] == 'present'


def test_update_password_always_sets_only_a_wrong_password(access):
    access.run(pve_user.main, dict(userid='alice', password=PW))
    result = access.run(pve_user.main, dict(userid='alice', password=PW2))[0]
    assert not result['changed']                          # on_create: left alone
    assert password_is(access, 'alice@pve', PW)
    result = access.run(pve_user.main, dict(userid='alice', password=PW2, update_password='always'), diff=True)[0]
    assert result['changed'] and result['changes'] == ['password']
    assert password_is(access, 'alice@pve', PW2)
    assert result['diff']['before']['password'] == '(previous)' and result['diff']['after']['password'] == '(new)'
    assert PW2 not in dumps(result) and PW not in dumps(result)
    # root@pam sets it without a confirmation password
    put = [c for c in access.calls() if c.path == '/access/password'][-1]
    assert put.data == {'userid': 'alice@pve', 'password': '***'}  # the log masks the password (PW2, set above)


def test_verify_password_false_always_sets(access):
    access.run(pve_user.main, dict(userid='alice', password=PW))
    result = access.run(pve_user.main, dict(userid='alice', password=PW, update_password='always', verify_password=False))[0]
    assert result['changed'] and result['changes'] == ['password'] and user_logins(access) == []


def test_disabled_account_cannot_be_checked_so_the_password_is_set(access):
    access.run(pve_user.main, dict(userid='alice', password=PW, enable=False))
    result = access.run(pve_user.main, dict(userid='alice', password=PW, enable=False, update_password='always'))[0]
    assert result['changes'] == ['password'] and user_logins(access) == []


def test_enabling_account_checks_password_after_the_update(access):
    access.run(pve_user.main, dict(userid='alice', password=PW, enable=False))
    result = access.run(pve_user.main, dict(userid='alice', password=PW, update_password='always'))[0]
    assert result['changes'] == ['enable'] and user_logins(access) == ['alice@pve']


def test_non_root_admin_sends_its_password_as_confirmation(access):
    access.pve.add_user('automation@pve', password='adminpass')
    access.pve.set_acl('/', 'user', 'automation@pve', 'Administrator')
    admin = dict(api_user='automation@pve', api_password='adminpass')
    access.run(pve_user.main, dict(userid='alice', password=PW), **admin)
    result, failed = access.run(pve_user.main, dict(userid='alice', password=PW2, update_password='always'), **admin)
    assert not failed and password_is(access, 'alice@pve', PW2)
    put = [c for c in access.calls() if c.path == '/access/password'][-1]
    # Masked in the log; the fake accepts it only when it is automation@pve's password.
    assert put.data['confirmation-password'] == '***'


def test_token_login_cannot_change_passwords(access):
    access.pve.add_token('root@pam', 'ansible', privsep=0, secret='s3cr3t-token')  # root's privileges, a token
    access.run(pve_user.main, dict(userid='alice', password=PW))
    result, failed = access.run(pve_user.main, dict(userid='alice', password=PW2, update_password='always',
                                                    api_token_id='ansible', api_token_secret='s3cr3t-token'))
    assert failed and 'API tokens' in result['msg'] and 'api_password' in result['msg']
    assert password_is(access, 'alice@pve', PW)


def test_groups_exact_append_and_clear(access):
    for g in ('a', 'b', 'c'):
        access.pve.add_group(g)
    access.run(pve_user.main, dict(userid='alice', groups=['a', 'b']))
    assert groups_of(access, 'alice@pve') == ['a', 'b']
    result = access.run(pve_user.main, dict(userid='alice', groups=['c'], append=True))[0]
    assert result['changes'] == ['groups'] and groups_of(access, 'alice@pve') == ['a', 'b', 'c']
    result = access.run(pve_user.main, dict(userid='alice', groups=['c'], append=True))[0]
    assert not result['changed']
    result = access.run(pve_user.main, dict(userid='alice', groups=['a']))[0]
    assert groups_of(access, 'alice@pve') == ['a']
    result = access.run(pve_user.main, dict(userid='alice', groups=[]))[0]
    assert result['changed'] and groups_of(access, 'alice@pve') == []
    # PVE drops empty form values: clearing goes as JSON
    assert access.json_writes() == [('PUT', '/access/users/alice@pve', {'groups': ''})]
    result = access.run(pve_user.main, dict(userid='alice'))[0]
    assert not result['changed']                          # groups not given: not managed


def test_unknown_group_fails_before_any_write(access):
    result, failed = access.run(pve_user.main, dict(users=[{'userid': 'a1'}, {'userid': 'a2', 'groups': ['nope']}]))
    assert failed and 'nope' in result['msg'] and 'a2@pve' in result['msg']
    assert access.writes() == []


def test_unknown_group_only_warns_in_check_mode(access):
    result, failed = access.run(pve_user.main, dict(userid='a1', groups=['nope']), check=True)
    assert not failed and result['changed']


@pytest.mark.parametrize('args, words', [
    (dict(userid='al ice'), 'userid'),
    (dict(userid='alice', password='short'), 'password is 5 characters long'),
    (dict(userid='alice@corp', password='long-enough-1'), 'only for the pve realm'),
    (dict(userid='alice', expire='next week'), 'expire'),
    (dict(userid='alice', email='not an email'), 'e-mail'),
    (dict(userid='alice', keys='a b'), 'keys'),
    (dict(userid='alice', groups=['bad group']), 'groups'),
    (dict(userid='eve@pam'), 'pam users are Linux accounts'),
])
def test_bad_input_fails_before_any_write(access, args, words):
    result, failed = access.run(pve_user.main, args)
    assert failed and words in result['msg'], result['msg']
    assert access.writes() == []
    assert 'short' not in result['msg'] or 'password' in result['msg']


def test_bad_item_in_a_list_fails_them_all_before_writing(access):
    users = [{'userid': 's{0}'.format(i), 'password': PW} for i in range(5)] + [{'userid': 's9', 'password': 'tiny'}]
    result, failed = access.run(pve_user.main, dict(users=users))
    assert failed and 'users[5] s9@pve password' in result['msg'] and 'tiny' not in result['msg']
    assert access.writes() == []


def test_existing_pam_user_can_be_updated(access):
    result, failed = access.run(pve_user.main, dict(userid='root@pam', email='root@example.org'))
    assert not failed and result['changes'] == ['email']


def test_list_form_one_read_and_only_the_differences(access):
    access.pve.add_group('students')
    users = [{'userid': 's{0:03d}'.format(i), 'password': 'pw-of-s{0:03d}'.format(i)} for i in range(120)]
    result, failed = access.run(pve_user.main, dict(users=users, groups=['students'], comment='netadmin'))
    assert not failed and result['changed']
    assert access.count('GET', '/access/users') == 1 and access.count('POST', '/access/users') == 120
    assert len(access.writes()) == 120                    # one POST per new user, nothing else
    assert [r['changes'] for r in result['items']] == [['created']] * 120
    assert all(groups_of(access, u['userid'] + '@pve') == ['students'] for u in users)
    assert user(access, 's007@pve')['comment'] == 'netadmin'
    assert user_logins(access) == []                      # new accounts: no password to check
    assert not any('pw-of' in str(v) for v in result.values())

    access.forget_requests()
    users[3]['comment'] = 'moved'
    users[4]['state'] = 'absent'
    result, failed = access.run(pve_user.main, dict(users=users, groups=['students'], comment='netadmin',
                                                    update_password='always'))
    assert not failed
    changed = dict((r['userid'], r['changes']) for r in result['items'] if r['changed'])
    assert changed == {'s003@pve': ['comment'], 's004@pve': ['deleted']}
    assert access.count('GET', '/access/users') == 1 and len(access.writes()) == 2
    assert len(user_logins(access)) == 119                # one login check per remaining account
    assert result['items'][4]['state'] == 'absent'


def test_list_form_refuses_duplicates_and_top_level_password(access):
    result, failed = access.run(pve_user.main, dict(users=[{'userid': 'a'}, {'userid': 'a@pve'}]))
    assert failed and 'also given as users[0]' in result['msg']
    result, failed = access.run(pve_user.main, dict(users=[{'userid': 'a'}], password=PW))
    assert failed and 'per item' in result['msg'] and PW not in result['msg']


def test_one_failing_account_does_not_stop_the_others(access):
    add_user = access.pve.add_user

    def failing(userid, *args, **kwargs):  # POST /access/users writes user.cfg through add_user
        if userid == 's2@pve':
            raise die('create user failed: disk full')
        return add_user(userid, *args, **kwargs)
    access.pve.add_user = failing
    result, failed = access.run(pve_user.main, dict(users=[{'userid': 's1'}, {'userid': 's2'}, {'userid': 's3'}]))
    assert failed and '1 of 3 accounts failed' in result['msg'] and 'disk full' in result['msg']
    assert set(access.pve.user_cfg.users) == {'root@pam', 's1@pve', 's3@pve'}
    assert [r['failed'] for r in result['items']] == [False, True, False] and result['changed']


def test_absent(access):
    access.run(pve_user.main, dict(userid='alice', password=PW))
    result = access.run(pve_user.main, dict(userid='alice', state='absent'), diff=True)[0]
    assert result['changed'] and result['user'] == {'userid': 'alice@pve', 'state': 'absent'}
    assert result['diff']['before']['state'] == 'present'
    result = access.run(pve_user.main, dict(userid='alice', state='absent'))[0]
    assert not result['changed']


def test_clearing_a_field_is_a_json_write(access):
    access.run(pve_user.main, dict(userid='alice', email='a@example.org', comment='c'))
    result = access.run(pve_user.main, dict(userid='alice', email='', comment='d'))[0]
    assert result['changes'] == ['email', 'comment']
    assert access.json_writes() == [('PUT', '/access/users/alice@pve', {'email': '', 'comment': 'd'})]
    assert 'email' not in user(access, 'alice@pve') and user(access, 'alice@pve')['comment'] == 'd'
    result = access.run(pve_user.main, dict(userid='alice', email='', comment='d'))[0]
    assert not result['changed']


def test_expire_date_and_clear(access):
    access.run(pve_user.main, dict(userid='alice', expire='2030-01-01'))
    assert user(access, 'alice@pve')['expire'] == 1893456000
    result = access.run(pve_user.main, dict(userid='alice', expire='1893456000'))[0]
    assert not result['changed']
    result = access.run(pve_user.main, dict(userid='alice', expire='never'))[0]
    assert result['changes'] == ['expire'] and result['user']['expire'] == 0


def test_items_name_each_account_by_its_userid_in_both_forms(access):
    result, failed = access.run(pve_user.main, dict(users=[{'userid': 'a1'}, {'userid': 'a2@pve', 'state': 'absent'}]),
                                diff=True)
    assert not failed and result['items'] == [
        {'key': 'a1@pve', 'userid': 'a1@pve', 'state': 'present', 'changed': True, 'changes': ['created'],
         'failed': False},
        {'key': 'a2@pve', 'userid': 'a2@pve', 'state': 'absent', 'changed': False, 'changes': [], 'failed': False}]
    assert 'users' not in result and 'user' not in result
    assert sorted(result['diff']['after']) == ['a1@pve']                  # keyed by userid, only what changed
    result, failed = access.run(pve_user.main, dict(userid='a1', comment='c'), diff=True)
    assert not failed and result['changes'] == ['comment'] and result['user']['comment'] == 'c'
    assert result['items'] == [{'key': 'a1@pve', 'userid': 'a1@pve', 'state': 'present', 'changed': True,
                                'changes': ['comment'], 'failed': False}]
    assert result['diff']['after']['comment'] == 'c'                      # the single form's diff stays flat


def test_a_failed_item_reports_only_what_was_written(access):
    access.pve.add_token('root@pam', 'ansible', privsep=0, secret='s3cr3t-token')
    access.run(pve_user.main, dict(userid='alice', password=PW))
    # The comment is written, then the password is refused (a token login cannot set it).
    result, failed = access.run(pve_user.main, dict(userid='alice', password=PW2, update_password='always',
                                                    verify_password=False, comment='new',
                                                    api_token_id='ansible', api_token_secret='s3cr3t-token'))
    assert failed and result['msg'].startswith('1 of 1 account failed: alice@pve: changing the password')
    assert result['changes'] == ['comment'] and result['items'][0]['changed'] and result['items'][0]['failed']
    assert user(access, 'alice@pve')['comment'] == 'new' and password_is(access, 'alice@pve', PW)


def test_a_failed_create_changed_nothing(access):
    add_user = access.pve.add_user

    def failing(userid, *args, **kwargs):
        raise die('create user failed: disk full')
    access.pve.add_user = failing
    result, failed = access.run(pve_user.main, dict(userid='alice', password=PW), diff=True)
    access.pve.add_user = add_user
    assert failed and result['changes'] == [] and not result['changed'] and 'diff' not in result
    assert result['user'] == {'userid': 'alice@pve', 'state': 'absent'}
    assert result['items'][0]['msg'].startswith('alice@pve: ') and PW not in dumps(result)


def test_userids_select_many_accounts_with_the_top_level_options(access):
    access.run(pve_user.main, dict(users=[dict(userid='s1', password=PW), dict(userid='s2', password=PW)]))
    result, failed = access.run(pve_user.main, dict(userids=['s1@pve', 's2', 'ghost'], state='absent'), diff=True)
    assert not failed, result.get('msg')
    keys = [(i['key'], i['changed']) for i in result['items']]
    assert keys == [('s1@pve', True), ('s2@pve', True), ('ghost@pve', False)]
    assert set(access.pve.user_cfg.users) == {'root@pam'}
    assert sorted(result['diff']['before']) == ['s1@pve', 's2@pve']
    result, failed = access.run(pve_user.main, dict(userids=['s1'], password=PW))
    assert failed and 'password applies to one item' in result['msg']


def test_an_account_of_a_realm_that_does_not_exist_fails_before_any_write(access):
    users = [{'userid': 'ann@school'}, {'userid': 'ben@pve'}, {'userid': 'cy@corp'}, {'userid': 'di@corp'}]
    for check in (False, True):
        result, failed = access.run(pve_user.main, dict(users=users), check=check)
        assert failed and 'realm corp does not exist' in result['msg'] and 'cy@corp, di@corp' in result['msg']
        assert 'realm school does not exist' in result['msg'] and 'this cluster has: pam, pve' in result['msg']
        assert access.writes() == [] and access.count('GET', '/access/domains') == 1 + check
    access.pve.add_realm('school', 'ldap', server1='ldap.example.org', base_dn='dc=example', user_attr='uid')
    access.pve.add_realm('corp', 'ad', server1='dc.example.org', domain='corp.example.org')
    result, failed = access.run(pve_user.main, dict(users=users, comment='from the directory'))
    assert not failed and [r['changes'] for r in result['items']] == [['created']] * 4
    assert user(access, 'ann@school')['comment'] == 'from the directory'
    # Existing accounts and the built-in realms need no read of the realms.
    access.forget_requests()
    result, failed = access.run(pve_user.main, dict(users=users + [{'userid': 'ed@pve'}], comment='from the directory'))
    assert not failed and result['items'][4]['changes'] == ['created']
    assert access.count('GET', '/access/domains') == 0
