"""The lab's people beyond its students (roles/lab/tasks/teachers.yml): teachers on the lab's pool, and a class in a
directory realm; end to end with real ansible-playbook runs, checked against what the fake holds and what a
teacher's own login may do."""

import csv
import os

import pytest
from proxmoxer.core import ResourceException

from e2e.helpers import api_writes, run_lab
from fakecluster import load

STUDENTS = [{'username': 'alice'}, {'username': 'bob', 'password': 'bob-given-pw'}]
ROLE = 'LabTeacher-netadmin'
TEACHER_PRIVS = ['Pool.Audit', 'VM.Audit', 'VM.Console', 'VM.PowerMgmt', 'VM.Snapshot', 'VM.Snapshot.Rollback']
# An existing account (staff, not the lab's) and the school's directory realm.
DEMO = load('demo.json')
DEMO['users'].append({'userid': 'ann@pve', 'password': 'ann-own-password', 'email': 'ann@example.org',
                      'comment': 'staff'})
DEMO['realms'] = [{'realm': 'school', 'type': 'ldap', 'server1': 'ldap.example.org',
                   'base_dn': 'ou=people,dc=example,dc=org', 'user_attr': 'uid'}]


def lab(cluster, tmp_path, playbook='lab_up', **over):
    return run_lab(cluster, tmp_path, 'netadmin', playbook, **dict(dict(lab_template='tmpl-debian', lab_students=STUDENTS), **over))


def secrets(tmp_path):
    with open(tmp_path / 'netadmin-roster.csv.secrets') as fh:
        return dict((r['username'], r['password']) for r in csv.DictReader(fh))


def refused(call, *args, **kwargs):
    with pytest.raises(ResourceException) as err:
        call(*args, **kwargs)
    assert err.value.status_code == 403, err.value


def writes(cluster):
    return api_writes(cluster)


def wait(api, node, upid):
    status = api.nodes(node).tasks(upid).status.get()
    for _ in range(500):
        if status['status'] == 'stopped':
            break
        status = api.nodes(node).tasks(upid).status.get()
    assert status.get('exitstatus') == 'OK', status


@pytest.mark.cluster(DEMO)
def test_teachers_hold_every_lab_vm_and_nothing_else(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    ann_before = [u for u in pve.lab_state()['users'] if u['userid'] == 'ann@pve'][0]
    teachers = [{'username': 'tom'}, {'userid': 'ann@pve'}]
    up = lab(pve_cluster, tmp_path, lab_teachers=teachers)
    assert up.rc == 0, up
    state = pve.lab_state()
    users = dict((u['userid'], u) for u in state['users'])
    assert users['tom@pve']['comment'] == 'pvelab:netadmin teacher' and users['tom@pve']['enable'] in (1, True)
    assert users['ann@pve'] == ann_before                       # an existing account is never changed
    generated = secrets(tmp_path)
    assert sorted(generated) == ['alice', 'tom']                # tom's beside the students', in the same file
    assert generated['tom'] not in up.stdout
    assert sorted(state['roles'][ROLE]) == TEACHER_PRIVS
    teacher_acl = sorted((a['path'], a['ugid'], a['propagate']) for a in state['acl'] if a['roleid'] == ROLE)
    assert teacher_acl == [('/pool/netadmin', 'ann@pve', 0), ('/pool/netadmin', 'tom@pve', 0)]
    lab_vms = [v for v in state['vms'] if v['pool'] == 'netadmin']
    assert sorted(v['name'] for v in lab_vms) == ['netadmin-alice', 'netadmin-bob']

    # The teacher's own login: console, power, snapshot and rollback on every VM of the lab.
    tom = pve_cluster.api(user='tom@pve', password=generated['tom'])
    for vm in lab_vms:
        own = tom.nodes(vm['node']).qemu(vm['vmid'])
        assert own.status.current.get()['status'] == 'running'
        own.vncproxy.post()
        wait(tom, vm['node'], own.snapshot.post(snapname='checkpoint'))
        wait(tom, vm['node'], own.snapshot('lab-clean').rollback.post())
        wait(tom, vm['node'], own.status.start.post())
        wait(tom, vm['node'], own.status.reboot.post())
        refused(own.config.put, memory=4096)                    # no VM.Config.*
        refused(own.delete)                                     # no VM.Allocate
    # ... and nothing outside it: the other VMs, the template, the nodes, the other pools, the others' accounts.
    assert sorted(v['name'] for v in tom.cluster.resources.get(type='vm')) == ['netadmin-alice', 'netadmin-bob']
    for vmid, node in ((100, 'pve1'), (101, 'pve2'), (9000, 'pve1')):
        refused(tom.nodes(node).qemu(vmid).status.current.get)
        refused(tom.nodes(node).qemu(vmid).vncproxy.post)
    refused(tom.nodes('pve1').status.get)
    assert [p['poolid'] for p in tom.pools.get()] == ['netadmin']
    assert [u['userid'] for u in tom.access.users.get()] == ['tom@pve']
    perms = tom.access.permissions.get()
    assert sorted(perms) == ['/pool/netadmin'] + sorted('/vms/{0}'.format(v['vmid']) for v in lab_vms), perms
    # The existing teacher, with her own password, holds the same.
    ann = pve_cluster.api(user='ann@pve', password='ann-own-password')
    assert sorted(v['name'] for v in ann.cluster.resources.get(type='vm')) == ['netadmin-alice', 'netadmin-bob']

    again = lab(pve_cluster, tmp_path, lab_teachers=teachers)
    assert again.rc == 0 and again.changed == 0, again

    # A teacher dropped from the list loses the role (her account stays as it was).
    fewer = lab(pve_cluster, tmp_path, lab_teachers=teachers[:1])
    assert fewer.rc == 0, fewer
    state = pve.lab_state()
    assert [a['ugid'] for a in state['acl'] if a['roleid'] == ROLE] == ['tom@pve']
    assert [u for u in state['users'] if u['userid'] == 'ann@pve'] == [ann_before]

    # No teachers: no teacher role. One that names the students' role leaves that role and their entries alone.
    student_acl = sorted((a['path'], a['ugid']) for a in state['acl'] if a['roleid'] == 'LabStudent-netadmin')
    assert len(student_acl) == 2
    for over in ({}, {'lab_teacher_role': 'LabStudent-netadmin'}):
        alone = lab(pve_cluster, tmp_path, lab_teachers=[], **over)
        assert alone.rc == 0, alone
        state = pve.lab_state()
        assert ROLE not in state['roles'] and 'LabStudent-netadmin' in state['roles']
        assert sorted((a['path'], a['ugid']) for a in state['acl'] if a['roleid'] == 'LabStudent-netadmin') == \
            student_acl

    down = lab(pve_cluster, tmp_path, playbook='lab_down', lab_teachers=teachers)
    assert down.rc == 0, down
    after = pve.lab_state()
    userids = [u['userid'] for u in after['users']]
    assert 'tom@pve' not in userids and 'alice@pve' not in userids
    assert [u for u in after['users'] if u['userid'] == 'ann@pve'] == [ann_before]
    assert ROLE not in after['roles']
    assert not [a for a in after['acl'] if a['roleid'] == ROLE or a['path'] == '/pool/netadmin']
    down_again = lab(pve_cluster, tmp_path, playbook='lab_down', lab_teachers=teachers)
    assert down_again.rc == 0 and down_again.changed == 0, down_again


@pytest.mark.cluster(DEMO)
def test_a_class_in_a_directory_realm_has_no_passwords(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    students = [{'username': 'alice', 'email': 'alice@example.org'}, {'username': 'bob'}]
    over = dict(lab_realm='school', lab_students=students, lab_teachers=[{'username': 'tom'}])
    up = lab(pve_cluster, tmp_path, **over)
    assert up.rc == 0, up
    state = pve.lab_state()
    users = dict((u['userid'], u) for u in state['users'])
    for userid in ('alice@school', 'bob@school', 'tom@school'):
        assert users[userid]['enable'] in (1, True) and userid not in pve.users   # made without a password
    assert users['alice@school']['email'] == 'alice@example.org'
    assert not os.path.exists(tmp_path / 'netadmin-roster.csv.secrets')
    assert not [r for r in pve.request_log('POST', '/access/users') if 'password' in str(r[2])]
    vms = dict((v['name'], v['vmid']) for v in state['vms'] if v['pool'] == 'netadmin')
    assert sorted((a['path'], a['ugid']) for a in state['acl'] if a['ugid'].endswith('@school')) == [
        ('/pool/netadmin', 'tom@school'), ('/vms/{0}'.format(vms['netadmin-alice']), 'alice@school'),
        ('/vms/{0}'.format(vms['netadmin-bob']), 'bob@school')]
    with open(tmp_path / 'netadmin-roster.csv') as fh:
        assert [r['username'] for r in csv.DictReader(fh)] == ['alice', 'bob']

    again = lab(pve_cluster, tmp_path, **over)
    assert again.rc == 0 and again.changed == 0, again

    down = lab(pve_cluster, tmp_path, playbook='lab_down', **over)
    assert down.rc == 0, down
    after = pve.lab_state()
    assert not [u for u in after['users'] if u['userid'].endswith('@school')]
    assert not [v for v in after['vms'] if v['name'].startswith('netadmin-')]
    assert not [a for a in after['acl'] if a['ugid'].endswith('@school')]
    assert not os.path.exists(tmp_path / 'netadmin-roster.csv.secrets')


@pytest.mark.cluster(DEMO)
def test_bad_people_are_refused_before_any_write(pve_cluster, tmp_path):
    cases = [
        (dict(lab_teachers=[{'username': 'tom'}, {'username': 'bob'}]),
         'lab_teachers[1]: bob@pve is also a student (lab_students[1])'),
        (dict(lab_realm='nowhere', lab_students=[{'username': 'alice'}]),
         'realm nowhere does not exist (this cluster has: pam, pve, school'),
        (dict(lab_teachers=[{'userid': 'ghost@school'}]), 'lab_teachers[0]: userid ghost@school does not exist'),
        (dict(lab_teachers=[{'userid': 'tom@corp'}]), 'realm corp does not exist'),
        (dict(lab_teachers=[{'username': 'other'}]), 'lab_teachers[0]: other@pve already exists and lab netadmin did '
                                                     'not make it'),
        (dict(lab_realm='school'), "lab_students[1]: a password is given for 'bob', but accounts of realm school"),
    ]
    before = pve_cluster.pve.lab_state()
    for over, needle in cases:
        result = lab(pve_cluster, tmp_path, **over)
        assert result.rc != 0 and needle in result.stdout, (over, result)
        assert writes(pve_cluster) == [], over
        assert not os.path.exists(tmp_path / 'netadmin-roster.csv.secrets'), over
    assert pve_cluster.pve.lab_state() == before
