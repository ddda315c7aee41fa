"""The access modules end to end: real ansible-playbook runs against the fake cluster, whose access control is
enforced, checked by logging in as the students and tokens they create (proxmoxer), and by the request log.

Every test runs twice: against the fake as PVE 9.1 and as PVE 8.4 (`pve_release`)."""

import json

import pytest
from proxmoxer.core import AuthenticationError, ResourceException

from e2e.helpers import run_playbook

WRITES = ('POST', 'PUT', 'DELETE')


# every test on PVE 9.1 and 8.4: through the pve_release fixture (tests/e2e/conftest.py), or
# (test_bad_input_fails_before_any_write) through bad_input_run's two params
on_both_releases = pytest.mark.usefixtures('pve_release')


def writes(cluster):
    """API writes the fake has seen, logins (POST /access/ticket) excluded."""
    return [r for r in cluster.pve.request_log() if r[0] in WRITES and not r[1].endswith('/access/ticket')]


def ok(result):
    assert result.rc == 0, result
    return result


def start(api, vmid):
    return api.nodes('pve1').qemu(vmid).status.start.post()


@on_both_releases
def test_student_gets_its_vm_and_only_its_vm(pve_cluster, tmp_path):
    result = ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
        {'name': 'students', 'pvelab.proxmox.pve_user': {'users': [
            {'userid': 'alice', 'password': 'alice-pass-1', 'email': 'alice@example.org'},
            {'userid': 'bob', 'password': 'bob-pass-22'}]}},
    ]))
    assert result.changed == 1
    alice = pve_cluster.api(user='alice@pve', password='alice-pass-1')   # logs in with the password it was given
    with pytest.raises(AuthenticationError):
        pve_cluster.api(user='alice@pve', password='bob-pass-22')
    with pytest.raises(ResourceException) as denied:
        start(alice, 100)
    assert denied.value.status_code == 403                             # nothing granted yet

    ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
        {'name': 'give alice VM 100', 'pvelab.proxmox.pve_permission': {
            'path': '/vms/100', 'roles': ['PVEVMUser'], 'users': ['alice']}},
    ]))
    assert start(alice, 100).startswith('UPID:pve1:')
    with pytest.raises(ResourceException) as denied:
        start(alice, 101)
    assert denied.value.status_code == 403
    assert [vm['vmid'] for vm in alice.cluster.resources.get(type='vm')] == [100]
    bob = pve_cluster.api(user='bob@pve', password='bob-pass-22')
    assert bob.cluster.resources.get(type='vm') == []


@on_both_releases
def test_privsep_token_without_acl_sees_nothing(pve_cluster, tmp_path):
    secret_file = tmp_path / 'secret'
    ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
        {'name': 'owner', 'pvelab.proxmox.pve_user': {'userid': 'portal', 'password': 'portal-pass-1'}},
        {'name': 'owner sees every VM', 'pvelab.proxmox.pve_permission': {
            'path': '/vms', 'roles': ['PVEAuditor'], 'users': ['portal']}},
        {'name': 'token', 'pvelab.proxmox.pve_token': {'userid': 'portal', 'token': 'web'},
         'register': 'tok', 'no_log': True},
        {'name': 'keep the secret', 'ansible.builtin.copy': {'content': '{{ tok.token.secret }}',
                                                           'dest': str(secret_file), 'mode': '0600'},
         'no_log': True},
    ]))
    secret = secret_file.read_text()
    assert secret == pve_cluster.pve.apitokens['portal@pve!web']
    owner = pve_cluster.api(user='portal@pve', password='portal-pass-1')
    assert sorted(vm['vmid'] for vm in owner.cluster.resources.get(type='vm')) == [100, 101, 9000]
    token = pve_cluster.api(token='portal@pve!web', secret=secret)
    assert token.cluster.resources.get(type='vm') == []

    result = ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
        {'name': 'token again', 'pvelab.proxmox.pve_token': {'userid': 'portal', 'token': 'web'}, 'register': 'tok'},
        {'name': 'the token may audit VM 101', 'pvelab.proxmox.pve_permission': {
            'path': '/vms/101', 'roles': ['PVEAuditor'], 'tokens': ['portal!web']}},
    ]))
    again = result.task('token again')
    assert not again['changed'] and 'secret' not in again['token']
    assert [vm['vmid'] for vm in token.cluster.resources.get(type='vm')] == [101]


@on_both_releases
def test_vvv_output_never_shows_passwords_or_the_token_secret(pve_cluster, tmp_path):
    # The passwords come in as variables (as from a vault): a failed task makes ansible print the lines of
    # the playbook around it, and a password written into the playbook would show there, whatever a module does.
    passwords = {'pw0': 'first-Pa55word', 'pw1': 'second-Pa55word', 'pw2': 'third-Pa55word',
                 'pw3': 'listed-Pa55word', 'pw4': 'carol-Pa55word'}
    tasks = [
        {'name': 'create', 'pvelab.proxmox.pve_user': {'userid': 'carol', 'password': '{{ pw0 }}'}},
        {'name': 'password kept right', 'pvelab.proxmox.pve_user': {
            'userid': 'carol', 'password': '{{ pw1 }}', 'update_password': 'always', 'comment': 'x'}},
        {'name': 'list form', 'pvelab.proxmox.pve_user': {'update_password': 'always', 'users': [
            {'userid': 'dan', 'password': '{{ pw3 }}'}, {'userid': 'carol', 'password': '{{ pw4 }}'}]}},
        {'name': 'bad item', 'pvelab.proxmox.pve_user': {'users': [
            {'userid': 'erin', 'password': '{{ pw3 }}'}, {'userid': 'fay', 'password': 'short'}]},
         'ignore_errors': True},
        {'name': 'her own change', 'pvelab.proxmox.pve_user_ticket': {
            'userid': 'carol', 'password': '{{ pw4 }}', 'new_password': '{{ pw2 }}'}, 'no_log': True},
        {'name': 'ticket', 'pvelab.proxmox.pve_user_ticket': {'userid': 'carol', 'password': '{{ pw2 }}'},
         'register': 'session', 'no_log': True},
        {'name': 'token', 'pvelab.proxmox.pve_token': {'userid': 'carol', 'token': 'ci'}, 'no_log': True},
        {'name': 'token again', 'pvelab.proxmox.pve_token': {'userid': 'carol', 'token': 'ci', 'comment': 'c'}},
    ]
    result = run_playbook(pve_cluster, tmp_path=tmp_path, tasks=tasks, verbosity=3, diff=True, callback='default',
                          extra_vars=passwords)
    assert result.rc == 0, result
    output = result.stdout + result.stderr
    assert 'TASK [token again]' in output and '<localhost> ESTABLISH' in output    # really -vvv
    secret = pve_cluster.pve.apitokens['carol@pve!ci']
    for text in list(passwords.values()) + [secret]:
        assert text not in output, text
    # what was asked really happened: the last password works, the others do not
    pve_cluster.api(user='carol@pve', password=passwords['pw2'])
    pve_cluster.api(user='dan@pve', password=passwords['pw3'])
    with pytest.raises(AuthenticationError):
        pve_cluster.api(user='carol@pve', password=passwords['pw1'])
    assert 'erin@pve' not in pve_cluster.pve.user_cfg.users          # the bad list wrote nothing


@on_both_releases
def test_list_form_fifty_users_with_a_bounded_request_count(pve_cluster, tmp_path):
    n = 50
    users = [{'userid': 's{0:02d}'.format(i), 'password': 'pass-of-s{0:02d}'.format(i)} for i in range(n)]
    base = {'groups': ['students'], 'comment': 'netadmin'}
    ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
        {'name': 'group', 'pvelab.proxmox.pve_group': {'name': 'students'}}]))

    def counted(module, args, **kw):
        before = len(pve_cluster.pve.request_log())
        result = ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
            {'name': 'run', module: args, 'register': 'out'}], **kw))
        log = pve_cluster.pve.request_log()[before:]
        return result.task('run'), log

    out, log = counted('pvelab.proxmox.pve_user', dict(base, users=users))
    assert out['changed'] and [u['changes'] for u in out['items']] == [['created']] * n
    reads = [r for r in log if r[0] == 'GET']
    # GET /version once, before the first write (PveClient.check_writable)
    assert [r[1] for r in reads] == ['/api2/json/access/users', '/api2/json/access/groups', '/api2/json/version']
    assert len([r for r in log if r[0] == 'POST' and r[1].endswith('/access/users')]) == n
    assert len(log) <= 2 * n + 5, len(log)
    created = len(log)
    state = pve_cluster.pve.lab_state()
    assert all(u['groups'] == ['students'] and u['comment'] == 'netadmin' for u in state['users']
               if u['userid'].startswith('s') and u['userid'].endswith('@pve'))
    for i in (0, 17, 49):
        pve_cluster.api(user='s{0:02d}@pve'.format(i), password='pass-of-s{0:02d}'.format(i))

    out, log = counted('pvelab.proxmox.pve_user', dict(base, users=users))
    assert not out['changed'] and len(log) <= 4, log              # login, users, groups: nothing written
    on_create = len(log)

    out, log = counted('pvelab.proxmox.pve_user', dict(base, users=users, update_password='always'))
    assert not out['changed'] and not [r for r in log if r[0] in ('PUT', 'DELETE')]
    logins = [r for r in log if r[1].endswith('/access/ticket')]
    assert len(logins) == n + 1                                   # one check per account + the module's login
    assert len(log) <= 2 * n + 5
    always = len(log)

    users[7]['password'] = 'a-new-password'
    users[8]['state'] = 'absent'
    out, log = counted('pvelab.proxmox.pve_user', dict(base, users=users, update_password='always'))
    assert dict((u['userid'], u['changes']) for u in out['items'] if u['changed']) == {
        's07@pve': ['password'], 's08@pve': ['deleted']}
    assert sorted((r[0], r[1]) for r in log if r[0] in ('PUT', 'DELETE')) == [
        ('DELETE', '/api2/json/access/users/s08@pve'), ('PUT', '/api2/json/access/password')]
    pve_cluster.api(user='s07@pve', password='a-new-password')

    entries = [{'path': '/vms/100', 'users': ['s{0:02d}'.format(i)]} for i in range(n) if i != 8]
    out, log = counted('pvelab.proxmox.pve_permission', {'roles': ['PVEVMUser'], 'entries': entries})
    assert out['changed'] and out['api_calls'] == 1                # one path, one role: one PUT for 49 users
    assert len(log) <= 6                                           # 5, and GET /version before the first write
    entries = [{'path': '/vms/{0}'.format(v), 'users': ['s0{0}'.format(i)]} for i, v in enumerate((100, 101))]
    out, log = counted('pvelab.proxmox.pve_permission', {'roles': ['PVEAuditor'], 'entries': entries})
    assert out['api_calls'] == 2 and len([r for r in log if r[0] == 'PUT']) == 2
    print(json.dumps({'create_50': created, 'rerun_on_create': on_create, 'rerun_always': always}))


BAD_INPUT = [
    ({'pvelab.proxmox.pve_user': {'userid': 'bad user'}}, "userid 'bad user'"),
    ({'pvelab.proxmox.pve_user': {'users': [{'userid': 'ok1', 'password': 'long-enough'},
                                            {'userid': 'ok2', 'password': 'short'}]}}, 'users[1] ok2@pve password'),
    ({'pvelab.proxmox.pve_permission': {'path': '/vms/100', 'roles': ['NoSuchRole'], 'users': ['other']}},
     'role NoSuchRole'),
    ({'pvelab.proxmox.pve_permission': {'path': '/vms/../100', 'roles': ['PVEVMUser'], 'users': ['other']}},
     "'/vms/../100'"),
    ({'pvelab.proxmox.pve_role': {'name': 'LabX', 'privileges': ['VM.Audit', 'VM.Bogus']}}, 'VM.Bogus'),
    ({'pvelab.proxmox.pve_role': {'name': 'PVEMine', 'privileges': ['VM.Audit']}}, 'PVEMine'),
]


@pytest.fixture(scope='module', params=['9.1', '8.4'])
def bad_input_run(request, tmp_path_factory):
    """Every task of BAD_INPUT, in one playbook run (ignore_errors) against one fake per PVE release (9.1, 8.4), and
    the API writes the fake saw during that run: test_bad_input_fails_before_any_write checks its task's result
    from it (one ansible start for the six, not six)."""
    from fakecluster import serving
    with serving() as cluster:
        cluster.pve.pve_version = request.param
        cluster.pve.add_user('other@pve', password='other-pass-1')
        tasks = [dict(task, name='bad{0}'.format(i), ignore_errors=True, register='out{0}'.format(i))
                 for i, (task, _words) in enumerate(BAD_INPUT)]
        result = run_playbook(cluster, tmp_path=tmp_path_factory.mktemp('bad-input'), tasks=tasks)
        yield result, writes(cluster)


@pytest.mark.parametrize('case, words', [(i, words) for i, (_task, words) in enumerate(BAD_INPUT)],
                         ids=['task{0}-{1}'.format(i, words) for i, (_task, words) in enumerate(BAD_INPUT)])
def test_bad_input_fails_before_any_write(bad_input_run, case, words):
    """Each task fails naming the field, and the run (all six) wrote nothing."""
    result, written = bad_input_run
    out = result.task('bad{0}'.format(case))
    assert out['failed'] and words in out['msg'], out
    assert len(result.tasks()) == len(BAD_INPUT), result.tasks()
    assert written == []


@on_both_releases
def test_other_admin_logins(pve_cluster, tmp_path):
    """An administrator other than root@pam confirms with its own password; an API token cannot change passwords
    (PVE: allowtoken 0) but creates accounts, and the module says so clearly."""
    pve = pve_cluster.pve
    pve.add_user('admin@pve', password='admin-pass-1')
    pve.set_acl('/', 'user', 'admin@pve', 'Administrator')
    secret = pve.add_token('admin@pve', 'ansible', privsep=0)
    as_admin = {'api_host': pve_cluster.host, 'api_port': pve_cluster.port, 'api_user': 'admin@pve',
                'api_password': 'admin-pass-1', 'ca_path': pve_cluster.ca_path}
    as_token = {'api_host': pve_cluster.host, 'api_port': pve_cluster.port, 'api_token_id': 'admin@pve!ansible',
                'api_token_secret': secret, 'ca_path': pve_cluster.ca_path}
    play = {'module_defaults': {'group/pvelab.proxmox.pve': as_token}, 'tasks': [
        {'name': 'create with a token', 'pvelab.proxmox.pve_user': {'userid': 'hank', 'password': 'hank-pass-1',
                                                                    'email': 'h@example.org'}},
        {'name': 'clear a field with a token', 'pvelab.proxmox.pve_user': {'userid': 'hank', 'email': ''}},
        {'name': 'password with a token', 'pvelab.proxmox.pve_user': {
            'userid': 'hank', 'password': 'hank-pass-2', 'update_password': 'always'}, 'ignore_errors': True},
    ]}
    result = run_playbook(pve_cluster, tmp_path=tmp_path, play=play)
    assert result.task('create with a token')['changed'] and result.task('clear a field with a token')['changed']
    failed = result.task('password with a token')
    assert failed['failed'] and 'PVE does not let API tokens change passwords' in failed['msg']
    assert 'email' not in [u for u in pve.lab_state()['users'] if u['userid'] == 'hank@pve'][0]
    pve_cluster.api(user='hank@pve', password='hank-pass-1')

    play = {'module_defaults': {'group/pvelab.proxmox.pve': as_admin}, 'tasks': [
        {'name': 'password as admin', 'pvelab.proxmox.pve_user': {
            'userid': 'hank', 'password': 'hank-pass-2', 'update_password': 'always'}},
        {'name': 'again', 'pvelab.proxmox.pve_user': {
            'userid': 'hank', 'password': 'hank-pass-2', 'update_password': 'always'}},
    ]}
    result = ok(run_playbook(pve_cluster, tmp_path=tmp_path, play=play))
    assert result.task('password as admin')['changes'] == ['password'] and not result.task('again')['changed']
    pve_cluster.api(user='hank@pve', password='hank-pass-2')
    puts = [r for r in pve.request_log('PUT', '/access/password')]
    assert len(puts) == 1 and 'admin-pass-1' not in puts[0][2]       # sent, but masked in the log


@on_both_releases
def test_token_comment_cleared_on_pve9_refused_clearly_on_pve8(pve_cluster, tmp_path, pve_release):
    pve_cluster.pve.add_user('portal@pve', tokens=[{'tokenid': 'web', 'comment': 'lab portal'}])
    clear = {'name': 'clear', 'pvelab.proxmox.pve_token': {'userid': 'portal', 'token': 'web', 'comment': ''},
             'ignore_errors': True, 'register': 'out'}
    for check in (True, False):
        result = run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[clear], check=check)
        out = result.task('clear')
        if pve_release == '8.4':
            assert out['failed'] and 'Proxmox VE 8.4.21 cannot clear a token comment' in out['msg'], out
        else:
            assert not out.get('failed') and out['changed'] and out['token']['comment'] == '', out
    tokens = [u['tokens'] for u in pve_cluster.pve.lab_state()['users'] if u['userid'] == 'portal@pve'][0]
    assert tokens[0].get('comment') == ('lab portal' if pve_release == '8.4' else None)
    if pve_release == '8.4':
        assert writes(pve_cluster) == []
        assert [r for r in pve_cluster.pve.request_log('GET') if r[1].endswith('/version')]


@on_both_releases
def test_privileges_and_acl_paths_of_the_other_release_fail_before_any_write(pve_cluster, tmp_path, pve_release):
    other = 'VM.Monitor' if pve_release == '9.1' else 'VM.GuestAgent.Audit'
    own = 'VM.GuestAgent.Audit' if pve_release == '9.1' else 'VM.Monitor'
    tasks = [
        {'name': 'role', 'pvelab.proxmox.pve_role': {'name': 'LabAgent', 'privileges': ['VM.Audit', other]},
         'ignore_errors': True},
        {'name': 'path', 'pvelab.proxmox.pve_permission': {'path': '/sdn/fabrics/f1', 'roles': ['PVEAuditor'],
                                                            'users': ['root@pam']}, 'ignore_errors': True},
    ]
    result = run_playbook(pve_cluster, tmp_path=tmp_path, tasks=tasks)
    role = result.task('role')
    assert role['failed'] and 'unknown privilege {0} on Proxmox VE {1}.'.format(other, pve_release) in role['msg']
    path = result.task('path')
    if pve_release == '8.4':
        assert path['failed'] and "'/sdn/fabrics/f1': /sdn/fabrics is an ACL path of Proxmox VE 9.0" in path['msg']
        assert writes(pve_cluster) == []
    else:
        assert path['changed'] and [e['path'] for e in pve_cluster.api().access.acl.get()] == ['/sdn/fabrics/f1']
    ok(run_playbook(pve_cluster, tmp_path=tmp_path, tasks=[
        {'name': 'own', 'pvelab.proxmox.pve_role': {'name': 'LabAgent', 'privileges': ['VM.Audit', own]}}]))
    assert pve_cluster.api().access.roles('LabAgent').get() == {'VM.Audit': 1, own: 1}
