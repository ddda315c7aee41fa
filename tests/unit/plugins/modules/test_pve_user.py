"""pve_user against the in-memory /access stub: plans, check mode, diff, list form, passwords."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_user
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import dumps, run, stub  # noqa: F401 pylint: disable=unused-import

PW = 'student-pass-1'
PW2 = 'student-pass-2'


@pytest.fixture
def logins(stub, monkeypatch):
    """pve_user's login check answered by the stub's password table; records who was tried."""
    tried = []

    def password_works(params, userid, password):
        tried.append(userid)
        return stub.users.get(userid, {}).get('enable', 1) and stub.passwords.get(userid) == password
    monkeypatch.setattr(pve_user, 'password_works', password_works)
    return tried


def test_create_then_idempotent(stub, logins):
    args = dict(userid='alice', password=PW, email='alice@example.org', groups=[], comment='lab')
    result, failed = run(pve_user.main, args, diff=True)
    assert not failed and result['changed'] and result['changes'] == ['created']
    assert stub.users['alice@pve']['email'] == 'alice@example.org' and stub.passwords['alice@pve'] == PW
    assert result['user']['userid'] == 'alice@pve' and result['user']['state'] == 'present'
    assert result['diff']['before'] == {'userid': 'alice@pve', 'state': 'absent'}
    assert PW not in dumps(result)
    writes = len(stub.writes())
    result, failed = run(pve_user.main, dict(args, update_password='always'))
    assert not failed and not result['changed'] and result['changes'] == []
    assert len(stub.writes()) == writes
    assert logins == ['alice@pve']           # the check logged in once, wrote nothing


def test_check_mode_writes_nothing(stub, logins):
    result, failed = run(pve_user.main, dict(userid='alice', password=PW), check=True, diff=True)
    assert not failed and result['changed'] and result['changes'] == ['created']
    assert stub.writes() == [] and 'alice@pve' not in stub.users
    assert result['diff']['after']['state'] == 'present'


def test_update_password_always_sets_only_a_wrong_password(stub, logins):
    run(pve_user.main, dict(userid='alice', password=PW))
    result = run(pve_user.main, dict(userid='alice', password=PW2))[0]
    assert not result['changed']                          # on_create: left alone
    assert stub.passwords['alice@pve'] == PW
    result = run(pve_user.main, dict(userid='alice', password=PW2, update_password='always'), diff=True)[0]
    assert result['changed'] and result['changes'] == ['password']
    assert stub.passwords['alice@pve'] == PW2
    assert result['diff']['before']['password'] == '(previous)' and result['diff']['after']['password'] == '(new)'
    assert PW2 not in dumps(result) and PW not in dumps(result)
    # root@pam sets it without a confirmation password
    put = [c for c in stub.calls if c[1] == '/access/password'][-1]
    assert put[2] == {'userid': 'alice@pve', 'password': PW2}


def test_verify_password_false_always_sets(stub, logins):
    run(pve_user.main, dict(userid='alice', password=PW))
    result = run(pve_user.main, dict(userid='alice', password=PW, update_password='always', verify_password=False))[0]
    assert result['changed'] and result['changes'] == ['password'] and logins == []


def test_disabled_account_cannot_be_checked_so_the_password_is_set(stub, logins):
    run(pve_user.main, dict(userid='alice', password=PW, enable=False))
    result = run(pve_user.main, dict(userid='alice', password=PW, enable=False, update_password='always'))[0]
    assert result['changes'] == ['password'] and logins == []


def test_enabling_account_checks_password_after_the_update(stub, logins):
    run(pve_user.main, dict(userid='alice', password=PW, enable=False))
    result = run(pve_user.main, dict(userid='alice', password=PW, update_password='always'))[0]
    assert result['changes'] == ['enable'] and logins == ['alice@pve']


def test_non_root_admin_sends_its_password_as_confirmation(stub, logins):
    stub.user = 'automation@pve'
    run(pve_user.main, dict(userid='alice', password=PW))
    run(pve_user.main, dict(userid='alice', password=PW2, update_password='always'))
    put = [c for c in stub.calls if c[1] == '/access/password'][-1]
    assert put[2]['confirmation-password'] == 'adminpass'


def test_token_login_cannot_change_passwords(stub, logins):
    run(pve_user.main, dict(userid='alice', password=PW))
    result, failed = run(pve_user.main, dict(userid='alice', password=PW2, update_password='always',
                                             api_token_id='ansible', api_token_secret='s3cr3t-token'))
    assert failed and 'API tokens' in result['msg'] and 'api_password' in result['msg']


def test_groups_exact_append_and_clear(stub, logins):
    for g in ('a', 'b', 'c'):
        stub.group_call('POST', '/access/groups', None, {'groupid': g})
    run(pve_user.main, dict(userid='alice', groups=['a', 'b']))
    assert stub.groups_of('alice@pve') == ['a', 'b']
    result = run(pve_user.main, dict(userid='alice', groups=['c'], append=True))[0]
    assert result['changes'] == ['groups'] and stub.groups_of('alice@pve') == ['a', 'b', 'c']
    result = run(pve_user.main, dict(userid='alice', groups=['c'], append=True))[0]
    assert not result['changed']
    result = run(pve_user.main, dict(userid='alice', groups=['a']))[0]
    assert stub.groups_of('alice@pve') == ['a']
    result = run(pve_user.main, dict(userid='alice', groups=[]))[0]
    assert result['changed'] and stub.groups_of('alice@pve') == []
    # PVE drops empty form values: clearing goes as JSON
    assert stub.json_writes == [('PUT', '/access/users/alice@pve', {'groups': ''})]
    result = run(pve_user.main, dict(userid='alice'))[0]
    assert not result['changed']                          # groups not given: not managed


def test_unknown_group_fails_before_any_write(stub, logins):
    result, failed = run(pve_user.main, dict(users=[{'userid': 'a1'}, {'userid': 'a2', 'groups': ['nope']}]))
    assert failed and 'nope' in result['msg'] and 'a2@pve' in result['msg']
    assert stub.writes() == []


def test_unknown_group_only_warns_in_check_mode(stub, logins):
    result, failed = run(pve_user.main, dict(userid='a1', groups=['nope']), check=True)
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
def test_bad_input_fails_before_any_write(stub, logins, args, words):
    result, failed = run(pve_user.main, args)
    assert failed and words in result['msg'], result['msg']
    assert stub.writes() == []
    assert 'short' not in result['msg'] or 'password' in result['msg']


def test_bad_item_in_a_list_fails_them_all_before_writing(stub, logins):
    users = [{'userid': 's{0}'.format(i), 'password': PW} for i in range(5)] + [{'userid': 's9', 'password': 'tiny'}]
    result, failed = run(pve_user.main, dict(users=users))
    assert failed and 'users[5] s9@pve password' in result['msg'] and 'tiny' not in result['msg']
    assert stub.writes() == []


def test_existing_pam_user_can_be_updated(stub, logins):
    result, failed = run(pve_user.main, dict(userid='root@pam', email='root@example.org'))
    assert not failed and result['changes'] == ['email']


def test_list_form_one_read_and_only_the_differences(stub, logins):
    stub.group_call('POST', '/access/groups', None, {'groupid': 'students'})
    users = [{'userid': 's{0:03d}'.format(i), 'password': 'pw-of-s{0:03d}'.format(i)} for i in range(120)]
    result, failed = run(pve_user.main, dict(users=users, groups=['students'], comment='netadmin'))
    assert not failed and result['changed']
    assert stub.count('GET', '/access/users') == 1 and stub.count('POST', '/access/users') == 120
    assert len(stub.writes()) == 120                      # one POST per new user, nothing else
    assert [r['changes'] for r in result['users']] == [['created']] * 120
    assert all(stub.groups_of(u['userid'] + '@pve') == ['students'] for u in users)
    assert stub.users['s007@pve']['comment'] == 'netadmin'
    assert not any('pw-of' in str(v) for v in result.values())

    stub.calls[:] = []
    users[3]['comment'] = 'moved'
    users[4]['state'] = 'absent'
    result, failed = run(pve_user.main, dict(users=users, groups=['students'], comment='netadmin',
                                             update_password='always'))
    assert not failed
    changed = dict((r['userid'], r['changes']) for r in result['users'] if r['changed'])
    assert changed == {'s003@pve': ['comment'], 's004@pve': ['deleted']}
    assert stub.count('GET', '/access/users') == 1 and len(stub.writes()) == 2
    assert len(logins) == 119                             # one login check per remaining account
    assert result['users'][4]['state'] == 'absent'


def test_list_form_refuses_duplicates_and_top_level_password(stub, logins):
    result, failed = run(pve_user.main, dict(users=[{'userid': 'a'}, {'userid': 'a@pve'}]))
    assert failed and 'also given as users[0]' in result['msg']
    result, failed = run(pve_user.main, dict(users=[{'userid': 'a'}], password=PW))
    assert failed and 'per item' in result['msg'] and PW not in result['msg']


def test_one_failing_account_does_not_stop_the_others(stub, logins, monkeypatch):
    original = stub.route

    def route(method, path, d):
        if method == 'POST' and d.get('userid') == 's2@pve':
            stub.die(method, path, 'create user failed: disk full')
        return original(method, path, d)
    monkeypatch.setattr(stub, 'route', route)
    result, failed = run(pve_user.main, dict(users=[{'userid': 's1'}, {'userid': 's2'}, {'userid': 's3'}]))
    assert failed and '1 of 3 accounts failed' in result['msg'] and 'disk full' in result['msg']
    assert set(stub.users) == {'root@pam', 's1@pve', 's3@pve'}
    assert [r['failed'] for r in result['users']] == [False, True, False] and result['changed']


def test_absent(stub, logins):
    run(pve_user.main, dict(userid='alice', password=PW))
    result = run(pve_user.main, dict(userid='alice', state='absent'), diff=True)[0]
    assert result['changed'] and result['user'] == {'userid': 'alice@pve', 'state': 'absent'}
    assert result['diff']['before']['state'] == 'present'
    result = run(pve_user.main, dict(userid='alice', state='absent'))[0]
    assert not result['changed']


def test_clearing_a_field_is_a_json_write(stub, logins):
    run(pve_user.main, dict(userid='alice', email='a@example.org', comment='c'))
    result = run(pve_user.main, dict(userid='alice', email='', comment='d'))[0]
    assert result['changes'] == ['email', 'comment']
    assert stub.json_writes == [('PUT', '/access/users/alice@pve', {'email': '', 'comment': 'd'})]
    assert stub.users['alice@pve']['email'] == ''
    result = run(pve_user.main, dict(userid='alice', email='', comment='d'))[0]
    assert not result['changed']


def test_expire_date_and_clear(stub, logins):
    run(pve_user.main, dict(userid='alice', expire='2030-01-01'))
    assert stub.users['alice@pve']['expire'] == 1893456000
    result = run(pve_user.main, dict(userid='alice', expire='1893456000'))[0]
    assert not result['changed']
    result = run(pve_user.main, dict(userid='alice', expire='never'))[0]
    assert result['changes'] == ['expire'] and result['user']['expire'] == 0
