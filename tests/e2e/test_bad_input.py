"""Bad input is refused before any write, with a message naming the field (issue 9).

Every case is one task of a single playbook run against one fake cluster (so the whole matrix costs one ansible
start); each test checks its task's message, and that the fake logged no write at all during the run.
"""

import pytest

from e2e.helpers import run_playbook

WRITES = ('POST', 'PUT', 'DELETE')

# (case id, module, arguments, words the message must contain: the field and the offending value)
CASES = [
    # user ids and realms
    ('userid with a space', 'pve_user', {'userid': 'bad name@pve'}, ["userid 'bad name@pve'", 'white space']),
    ('userid with a colon', 'pve_user', {'userid': 'a:b@pve'}, ["userid 'a:b@pve'"]),
    ('realm starting with a digit', 'pve_user', {'userid': 'alice@1pve'}, ["userid 'alice@1pve'", "realm '1pve'"]),
    ('empty realm', 'pve_user', {'userid': 'alice@'}, ["userid 'alice@'", 'realm']),
    ('userid too long', 'pve_user', {'userid': 'x' * 61 + '@pve'}, ['userid', '3 to 64 characters']),
    ('bad userid in a list', 'pve_user', {'users': [{'userid': 'ok1', 'password': 'long-enough-1'},
                                                     {'userid': 'no good'}]}, ['users[1]', "'no good'"]),
    ('userid twice in a list', 'pve_user', {'users': [{'userid': 'twin'}, {'userid': 'twin@pve'}]},
     ['users[1]', 'twin@pve']),
    ('group member userid', 'pve_group', {'name': 'grp1', 'users': ['fine', 'not fine']}, ["users 'not fine'"]),
    ('token owner userid', 'pve_token', {'userid': 'bad user', 'token': 'ci'}, ["userid 'bad user'"]),
    ('token name', 'pve_token', {'userid': 'other', 'token': '1-starts-with-digit'}, ["token '1-starts-with-digit'"]),
    # passwords PVE refuses
    ('password too short', 'pve_user', {'userid': 'shorty', 'password': 'Abc1234'}, ['password', '8 to 64']),
    ('password too long', 'pve_user', {'userid': 'longy', 'password': 'p' * 65}, ['password', '8 to 64']),
    ('password in a list', 'pve_user', {'users': [{'userid': 'ok2', 'password': 'long-enough-2'},
                                                   {'userid': 'ok3', 'password': 'short'}]},
     ['users[1] ok3@pve password']),
    ('new password too short', 'pve_user_ticket', {'userid': 'other', 'password': 'other-secret',
                                                   'new_password': 'tiny'}, ['new_password', '8 to 64']),
    # vmids out of range
    ('clone newid below 100', 'pve_clone', {'template': 'tmpl-debian', 'name': 'low', 'newid': 99},
     ['newid 99', 'out of range']),
    ('clone newid too big', 'pve_clone', {'template': 'tmpl-debian', 'name': 'high', 'newid': 1000000000},
     ['newid 1000000000', 'out of range']),
    ('clone vmid_floor', 'pve_clone', {'template': 'tmpl-debian', 'name': 'flr', 'vmid_floor': 5},
     ['vmid_floor 5', 'out of range']),
    ('vm vmid below 100', 'pve_vm', {'vmid': 42, 'state': 'started'}, ['vmid 42', 'out of range']),
    ('firewall vmid below 100', 'pve_firewall_isolation', {'name': 'lab1', 'vmids': [100, 7],
                                                           'teacher_sources': ['192.0.2.10']}, ['vmids[1] 7', 'out of range']),
    ('acl path vmid below 100', 'pve_permission', {'path': '/vms/99', 'roles': ['PVEVMUser'], 'users': ['other']},
     ["path '/vms/99'"]),
    # ACL paths that are not PVE paths
    ('acl path with ..', 'pve_permission', {'path': '/vms/../100', 'roles': ['PVEVMUser'], 'users': ['other']},
     ["path '/vms/../100'", '".."']),
    ('acl path with //', 'pve_permission', {'path': '/vms//100', 'roles': ['PVEVMUser'], 'users': ['other']},
     ["path '/vms//100'", 'empty segment']),
    ('acl path relative', 'pve_permission', {'path': 'vms/100', 'roles': ['PVEVMUser'], 'users': ['other']},
     ["path 'vms/100'", 'must start with "/"']),
    ('acl path unknown', 'pve_permission', {'path': '/virtual-machines/100', 'roles': ['PVEVMUser'],
                                            'users': ['other']}, ["path '/virtual-machines/100'", 'valid forms']),
    ('acl path trailing junk', 'pve_permission', {'path': '/vms/100abc', 'roles': ['PVEVMUser'], 'users': ['other']},
     ["path '/vms/100abc'"]),
    ('acl path in entries', 'pve_permission', {'entries': [
        {'path': '/vms/100', 'roles': ['PVEVMUser'], 'users': ['other']},
        {'path': '/pool/web/../..', 'roles': ['PVEVMUser'], 'users': ['other']}]}, ["entries[1] path '/pool/web/../..'"]),
    # unknown roles and privileges
    ('unknown role', 'pve_permission', {'path': '/vms/100', 'roles': ['NoSuchRole'], 'users': ['other']},
     ['role NoSuchRole', 'nothing was changed']),
    ('unknown privilege', 'pve_role', {'name': 'LabX', 'privileges': ['VM.Audit', 'VM.Bogus']},
     ['privileges', 'VM.Bogus']),
    ('role in the PVE namespace', 'pve_role', {'name': 'PVEMine', 'privileges': ['VM.Audit']}, ["name 'PVEMine'"]),
    ('built-in role', 'pve_role', {'name': 'PVEVMUser', 'privileges': ['VM.Audit']}, ["name 'PVEVMUser'", 'built-in']),
    # teacher sources that are not CIDRs
    ('teacher source out of range', 'pve_firewall_isolation', {'name': 'lab1', 'vmids': [100],
                                                               'teacher_sources': ['192.0.2.300/32']},
     ["teacher_sources[0] '192.0.2.300/32'"]),
    ('teacher source a host name', 'pve_firewall_isolation', {'name': 'lab1', 'vmids': [100],
                                                              'teacher_sources': ['teacher-pc']},
     ["teacher_sources[0] 'teacher-pc'"]),
    ('teacher source host bits', 'pve_firewall_isolation', {'name': 'lab1', 'vmids': [100],
                                                            'teacher_sources': ['192.0.2.10/24']},
     ["teacher_sources[0] '192.0.2.10/24'", 'host bits']),
    # a template that is not a template
    ('template is a running VM', 'pve_clone', {'template': 'teacher', 'name': 'copy1'},
     ["'teacher' (vmid 100) is not a template"]),
    ('template does not exist', 'pve_clone', {'template': 'no-such-template', 'name': 'copy2'},
     ["template 'no-such-template' not found"]),
    # lab names unusable as pool / tag / security group
    ('group name with a space', 'pve_firewall_isolation', {'name': 'Net Admin', 'vmids': [100],
                                                           'teacher_sources': ['192.0.2.10']}, ["name 'net admin'"]),
    ('group name too long', 'pve_firewall_isolation', {'name': 'a-lab-name-far-too-long', 'vmids': [100],
                                                       'teacher_sources': ['192.0.2.10']},
     ["name 'a-lab-name-far-too-long'", '18']),
    ('pool name', 'pve_pool', {'name': 'net/admin'}, ["name 'net/admin'"]),
    ('clone pool name', 'pve_clone', {'template': 'tmpl-debian', 'name': 'pooled', 'pool': 'net admin'},
     ["pool 'net admin'"]),
    ('clone tag', 'pve_clone', {'template': 'tmpl-debian', 'name': 'tagged', 'tags': ['Net Admin']},
     ["tag 'Net Admin'"]),
    ('vm name', 'pve_clone', {'template': 'tmpl-debian', 'name': 'under_score'}, ["name 'under_score'"]),
    ('vm name twice', 'pve_clone', {'template': 'tmpl-debian', 'clones': [{'name': 'same'}, {'name': 'same'}]},
     ["name 'same' is asked for twice"]),
    ('snapshot name', 'pve_snapshot', {'vmid': 100, 'snapname': 'current'}, ["snapname 'current'"]),
    # names and values PVE would refuse only at a later write (issue 15)
    ('snapshot name over 40 characters', 'pve_snapshot', {'vmid': 100, 'snapname': 's' * 41},
     ["snapname '{0}'".format('s' * 41), '40']),
    ('new pool name with a digit first', 'pve_pool', {'name': '1lab', 'comment': 'lab one'},
     ["name '1lab'", 'letter first']),
    ('numeric ICMP type', 'pve_firewall_isolation', {'name': 'lab1', 'vmids': [100], 'teacher_sources': ['192.0.2.10'],
                                                     'teacher_ports': [{'proto': 'icmp', 'dport': '8'}]},
     ["teacher_ports[0].dport '8'", "'echo-request'"]),
]


@pytest.fixture(scope='module')
def bad_run(tmp_path_factory):
    from fakecluster import serving
    tmp_path = tmp_path_factory.mktemp('bad-input')
    with serving('demo.json') as cluster:
        tasks = [{'name': case, 'pvelab.proxmox.' + module: args, 'ignore_errors': True}
                 for case, module, args, _words in CASES]
        result = run_playbook(cluster, tasks=tasks, tmp_path=tmp_path)
        log = cluster.pve.request_log()
        yield result, log


@pytest.mark.parametrize('case, module, args, words', CASES, ids=[c[0] for c in CASES])
def test_refused_naming_the_field(bad_run, case, module, args, words):
    result, _log = bad_run
    out = result.task(case)
    assert out.get('failed'), out
    for word in words:
        assert word in out['msg'], out['msg']


def test_nothing_written(bad_run):
    result, log = bad_run
    assert len(result.tasks()) == len(CASES)
    assert [r for r in log if r[0] in WRITES and not r[1].endswith('/access/ticket')] == []

