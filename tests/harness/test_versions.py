"""The PVE release switch (fakecluster/versions.py): the fake answers as PVE 9.1 (default) or as PVE 8.4.

Tests of behaviour run on `either_fake`: they must pass on LabPve and fail on stock fakepve (strict xfail), which
knows one PVE 9 only. Setting `pve.pve_version` on stock fakepve is a plain attribute that changes nothing.
"""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import requests
from proxmoxer.core import ResourceException

from fakecluster import build

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST_AGENT = {'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt',
               'VM.GuestAgent.FileWrite', 'VM.GuestAgent.Unrestricted'}
PVE9_PATHS = ('/sdn/fabrics', '/sdn/fabrics/f1', '/sdn/prefix-lists', '/sdn/prefix-lists/pl1', '/sdn/route-maps',
              '/sdn/route-maps/rm1')


def refusal(call, *args, **kwargs):
    with pytest.raises(ResourceException) as info:
        call(*args, **kwargs)
    return info.value.status_code, str(info.value.content), info.value.errors or {}


def as_pve(cluster, release):
    cluster.pve.pve_version = release
    return cluster.api()


def json_put(cluster, path, body):
    """A PUT with a JSON body as root@pam (a form body would drop an empty value on the way)."""
    session = requests.Session()
    session.trust_env = False
    login = session.post(cluster.url + '/api2/json/access/ticket', verify=cluster.ca_path, timeout=10,
                         data={'username': cluster.user, 'password': cluster.password}).json()['data']
    return session.put(cluster.url + '/api2/json' + path, json=body, verify=cluster.ca_path, timeout=10,
                       cookies={'PVEAuthCookie': login['ticket']},
                       headers={'CSRFPreventionToken': login['CSRFPreventionToken']})


# ------------------------------------------------------------------ GET /version

def test_version_is_pve_9_1_by_default(either_fake):
    answer = either_fake.api().version.get()
    assert answer['release'] == '9.1' and answer['version'].startswith('9.1.')
    assert re.fullmatch(r'[0-9a-f]{16}', answer['repoid'])  # pve-manager's short git id; stock says 'fakepve'


def test_version_is_pve_8_4_when_asked(either_fake):
    answer = as_pve(either_fake, '8.4').version.get()
    assert answer['release'] == '8.4' and answer['version'].startswith('8.4.')
    assert re.fullmatch(r'[0-9a-f]{16}', answer['repoid'])


# ------------------------------------------------------------------ API tokens

def test_pve8_token_update_has_no_delete_parameter(either_fake):
    api = as_pve(either_fake, '8.4')
    api.access.users.post(userid='bob@pve')
    api.access.users('bob@pve').token('ci').post(comment='build bot')
    status, message, errors = refusal(api.access.users('bob@pve').token('ci').put, delete='comment')
    assert status == 400 and message == 'Parameter verification failed.'
    assert errors['delete'].startswith('property is not defined in schema')
    status, _message, errors = refusal(api.access.users('bob@pve').token('ci').put, regenerate=1)
    assert status == 400 and 'regenerate' in errors
    assert api.access.users('bob@pve').token('ci').get()['comment'] == 'build bot'


def test_pve9_token_update_deletes_the_comment(either_fake):
    api = either_fake.api()
    api.access.users.post(userid='bob@pve')
    api.access.users('bob@pve').token('ci').post(comment='build bot')
    assert api.access.users('bob@pve').token('ci').get()['comment'] == 'build bot'
    api.access.users('bob@pve').token('ci').put(delete='comment')
    assert 'comment' not in api.access.users('bob@pve').token('ci').get()


def test_pve8_token_keeps_its_comment_on_an_empty_one_pve9_clears_it(either_fake):
    api = as_pve(either_fake, '8.4')
    api.access.users.post(userid='bob@pve')
    api.access.users('bob@pve').token('ci').post(comment='build bot')
    assert json_put(either_fake, '/access/users/bob@pve/token/ci', {'comment': ''}).status_code == 200
    assert api.access.users('bob@pve').token('ci').get()['comment'] == 'build bot'  # 8.2: `if $param->{comment}`
    either_fake.pve.pve_version = '9.1'
    assert json_put(either_fake, '/access/users/bob@pve/token/ci', {'comment': ''}).status_code == 200
    assert 'comment' not in api.access.users('bob@pve').token('ci').get()  # 9.0.4: `if defined(...)`


# ------------------------------------------------------------------ privileges and roles

def test_pve8_privileges_and_builtin_roles(either_fake):
    api = as_pve(either_fake, '8.4')
    roles = dict((r['roleid'], set(r['privs'].split(','))) for r in api.access.roles.get())
    assert 'VM.Monitor' in roles['Administrator'] and 'VM.Monitor' in roles['PVEVMAdmin']
    assert not (GUEST_AGENT | {'VM.Replicate'}) & roles['Administrator']
    assert roles['PVEVMUser'] == {'VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.Backup',
                                  'VM.PowerMgmt', 'VM.Audit'}
    assert roles['PVEAuditor'] >= {'VM.Audit'} and 'VM.GuestAgent.Audit' not in roles['PVEAuditor']
    status, _message, errors = refusal(api.access.roles.post, roleid='Agent', privs='VM.GuestAgent.Audit')
    assert status == 400 and "invalid privilege 'VM.GuestAgent.Audit'" in errors['privs']
    api.access.roles.post(roleid='Monitor', privs='VM.Monitor')
    assert api.access.roles('Monitor').get() == {'VM.Monitor': 1}


def test_pve9_has_no_vm_monitor(either_fake):
    api = either_fake.api()
    roles = dict((r['roleid'], set(r['privs'].split(','))) for r in api.access.roles.get())
    assert GUEST_AGENT | {'VM.Replicate'} <= roles['Administrator'] and 'VM.Monitor' not in roles['Administrator']
    status, _message, errors = refusal(api.access.roles.post, roleid='Monitor', privs='VM.Monitor')
    assert status == 400 and "invalid privilege 'VM.Monitor'" in errors['privs']


# ------------------------------------------------------------------ ACL paths

@pytest.mark.parametrize('path', PVE9_PATHS)
def test_pve8_refuses_the_pve9_sdn_acl_paths(either_fake, path):
    api = as_pve(either_fake, '8.4')
    status, _message, errors = refusal(api.access.acl.put, path=path, users='root@pam', roles='PVEAuditor')
    assert status == 400 and errors['path'] == "invalid ACL path '{0}'".format(path)
    api.access.acl.put(path='/sdn/zones/z1', users='root@pam', roles='PVEAuditor')  # older SDN paths stay
    assert [e['path'] for e in api.access.acl.get()] == ['/sdn/zones/z1']


def test_both_releases_take_only_the_acl_paths_of_check_path(either_fake):
    api = either_fake.api()
    for path in PVE9_PATHS:
        api.access.acl.put(path=path, users='root@pam', roles='PVEAuditor')
    assert sorted(e['path'] for e in api.access.acl.get()) == sorted(PVE9_PATHS)
    for path in PVE9_PATHS:
        api.access.acl.put(path=path, users='root@pam', roles='PVEAuditor', delete=1)
    for release in ('9.1', '8.4'):
        either_fake.pve.pve_version = release
        for path in ('/sdn/vnets/v1', '/sdn/zones/z1/v1/0', '/sdn/fabrics/f_1', '/vms/99'):
            assert refusal(api.access.acl.put, path=path, users='root@pam', roles='PVEAuditor')[0] == 400, path


def test_switching_to_pve8_refuses_what_it_cannot_hold(pve_cluster):
    api = pve_cluster.api()
    api.access.roles.post(roleid='Agent', privs='VM.GuestAgent.Audit')
    with pytest.raises(ValueError, match='role Agent holds VM.GuestAgent.Audit, which PVE 8.4 does not have'):
        pve_cluster.pve.pve_version = '8.4'
    api.access.roles('Agent').delete()
    api.access.acl.put(path='/sdn/fabrics', users='root@pam', roles='PVEAuditor')
    with pytest.raises(ValueError, match='/sdn/fabrics'):
        pve_cluster.pve.pve_version = '8.4'
    assert pve_cluster.pve.pve_version == '9.1'
    with pytest.raises(ValueError, match="pve_version '9.0'"):
        pve_cluster.pve.pve_version = '9.0'


# ------------------------------------------------------------------ guest agent

@pytest.mark.parametrize('release, needed, other', [('8.4', 'VM.Monitor', 'VM.Audit'),
                                                    ('9.1', 'VM.GuestAgent.Audit', 'VM.Audit')])
def test_the_agent_needs_vm_monitor_on_pve8_and_guestagent_audit_on_pve9(either_fake, release, needed, other):
    api = as_pve(either_fake, release)
    api.nodes('pve1').qemu(100).config.put(agent=1)
    api.nodes('pve1').qemu(100).status.start.post()
    api.access.users.post(userid='alice@pve', password='alice-password')
    api.access.roles.post(roleid='Agent', privs=needed)
    api.access.roles.post(roleid='Look', privs=other)
    api.access.acl.put(path='/vms/100', users='alice@pve', roles='Look')
    alice = either_fake.api('alice@pve', 'alice-password')
    status, message, _errors = refusal(alice.nodes('pve1').qemu(100).agent('network-get-interfaces').get)
    assert status == 403 and needed in message
    api.access.acl.put(path='/vms/100', users='alice@pve', roles='Agent')
    assert alice.nodes('pve1').qemu(100).agent('network-get-interfaces').get()['result']
    alice.nodes('pve1').qemu(100).agent.ping.post()


# ------------------------------------------------------------------ password

def test_pve8_password_change_wants_the_confirmation_password(either_fake):
    api = as_pve(either_fake, '8.4')
    api.access.users.post(userid='alice@pve', password='alice-password')
    alice = either_fake.api('alice@pve', 'alice-password')
    status, _message, errors = refusal(alice.access.password.put, userid='alice@pve', password='new-password-1')
    assert status == 400 and 'confirmation-password' in errors
    alice.access.password.put(userid='alice@pve', password='new-password-1', **{'confirmation-password':
                                                                                 'alice-password'})
    assert either_fake.api('alice@pve', 'new-password-1').version.get()['release'] == '8.4'


# ------------------------------------------------------------------ the switch itself

def test_build_takes_pve_version_from_settings_or_the_description():
    assert build('small.json').pve_version == '9.1'
    assert build('small.json', pve_version='8.4').pve_version == '8.4'
    assert build({'pve_version': '8.4', 'roles': [{'roleid': 'Mon', 'privs': 'VM.Monitor'}]}).pve_version == '8.4'
    with pytest.raises(ValueError, match='VM.Monitor'):
        build({'roles': [{'roleid': 'Mon', 'privs': 'VM.Monitor'}]})  # PVE 9.1 has no VM.Monitor
    with pytest.raises(ValueError, match="pve_version '7.4'"):
        build('small.json', pve_version='7.4')


@pytest.mark.cluster('small.json', pve_version='8.4')
def test_the_cluster_marker_takes_pve_version(pve_cluster):
    assert pve_cluster.api().version.get()['release'] == '8.4'


def test_control_set_and_the_serve_command_take_pve_version(tmp_path):
    info_file = tmp_path / 'pve.json'
    env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-m', 'fakecluster', 'serve', 'small.json', '--info-file',
                             str(info_file), '--pve-version', '8.4'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith('fakecluster listening on'), line + proc.stderr.read()
        info = json.loads(info_file.read_text())
        session = requests.Session()
        session.trust_env = False

        def release():
            login = session.post(info['url'] + '/api2/json/access/ticket', verify=info['ca_path'], timeout=10,
                                 data={'username': info['user'], 'password': info['password']}).json()['data']
            return session.get(info['url'] + '/api2/json/version', verify=info['ca_path'], timeout=10,
                               cookies={'PVEAuthCookie': login['ticket']}).json()['data']['release']
        assert release() == '8.4'
        answer = session.post(info['control_url'] + '/set', json={'pve_version': '9.1'}, verify=info['ca_path'],
                              timeout=10)
        assert answer.status_code == 200 and answer.json()['pve_version'] == '9.1'
        assert release() == '9.1'
        answer = session.post(info['control_url'] + '/set', json={'pve_version': '8.3'}, verify=info['ca_path'],
                              timeout=10)
        assert answer.status_code == 400 and "pve_version '8.3'" in answer.json()['error']
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
