"""The lab's plan filters: every bad input is refused with a message naming it, before any write."""

import os
import time

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.filter import lab


def plan(students, name='netadmin', **kw):
    return lab.lab_plan(students, name, **kw)


def test_plan_names_accounts_and_vms():
    p = plan([{'username': 'alice', 'email': 'a@example.org'}, 'bob'])
    assert [(s['userid'], s['vm_name']) for s in p] == [('alice@pve', 'netadmin-alice'), ('bob@pve', 'netadmin-bob')]
    assert p[0]['email'] == 'a@example.org'
    assert all('password' not in s for s in p)


def test_vm_name_characters_become_dashes():
    assert plan([{'username': 'jean_luc'}])[0]['vm_name'] == 'netadmin-jean-luc'


@pytest.mark.parametrize('students, needle', [
    ([{'username': 'a b'}], "lab_students[0]: username 'a b'"),
    ([{'username': 'a:b'}], "username 'a:b'"),
    ([{'username': 'al@pam'}], "username 'al@pam'"),
    ([{'email': 'x@example.org'}], 'lab_students[0]: each student needs a username'),
    ([{'username': 'al'}, {'username': 'al'}], "lab_students[1]: username 'al' is already lab_students[0]"),
    ([{'username': 'a_b'}, {'username': 'a-b'}], "VM name 'netadmin-a-b'"),
    ([{'username': 'xy', 'password': 'abc'}], 'must be 8 to 64 characters'),
    ([{'username': 'xy', 'pasword': 'abcdef'}], 'unknown keys pasword'),
    ([{'username': 'x' * 61}], 'must be 3 to 64 characters'),
])
def test_bad_students_are_refused(students, needle):
    with pytest.raises(AnsibleFilterError) as err:
        plan(students)
    assert needle in str(err.value)


@pytest.mark.parametrize('name', ['Netadmin', 'a', '1lab', 'lab name', 'x' * 19, 'lab.x'])
def test_bad_lab_names_are_refused(name):
    with pytest.raises(AnsibleFilterError) as err:
        plan([], name)
    assert 'lab_name' in str(err.value)


def test_bad_teacher_source_is_refused():
    with pytest.raises(AnsibleFilterError) as err:
        plan([], teacher_sources=['192.0.2.10/32', '192.0.2.300'])
    assert "lab_teacher_sources '192.0.2.300'" in str(err.value)


def test_csv_class_list():
    text = '\ufeffUsername,Email,Shoe size\nalice,a@example.org,42\n\nbob,,\n'
    assert lab.lab_students_csv(text) == [{'username': 'alice', 'email': 'a@example.org'}, {'username': 'bob'}]
    with pytest.raises(AnsibleFilterError) as err:
        lab.lab_students_csv('name,email\nalice,a@x\n', 'class.csv')
    assert 'class.csv: the header row must have a "username" column' in str(err.value)
    with pytest.raises(AnsibleFilterError) as err:
        lab.lab_students_csv('username,email\n,a@x\n', 'class.csv')
    assert 'class.csv: line 2 has no username' in str(err.value)


def test_passwords_given_kept_or_generated():
    students = [{'username': 'alice'}, {'username': 'bob', 'password': 'given-pass'}, {'username': 'carol'}]
    first = lab.lab_passwords(students, {}, 20)
    assert first['bob'] == 'given-pass' and len(first['alice']) == 20 and first['alice'] != first['carol']
    secrets_file = lab.lab_csv(lab.lab_generated(students, first), ['username', 'password'])
    again = lab.lab_passwords(students, lab.lab_secrets_csv(secrets_file))
    assert again == first
    assert [g['username'] for g in lab.lab_generated(students, first)] == ['alice', 'carol']


def test_owned_vms_need_name_and_pool_or_tag():
    p = plan(['alice', 'bob', 'carol'])
    vms = [{'vmid': 201, 'name': 'netadmin-alice', 'pool': 'netadmin', 'node': 'pve1'},
           {'vmid': 202, 'name': 'netadmin-bob', 'tags': ['netadmin'], 'node': 'pve2'},
           {'vmid': 203, 'name': 'netadmin-carol', 'pool': 'other', 'node': 'pve1'},
           {'vmid': 204, 'name': 'web01', 'pool': 'netadmin', 'node': 'pve1'}]
    owned = lab.lab_owned_vms(vms, p, 'netadmin')
    assert sorted(owned) == ['netadmin-alice', 'netadmin-bob']


def test_acl_entries_and_roster():
    p = plan(['alice', 'bob'])
    vm_map = lab.lab_vm_map([{'name': 'netadmin-alice', 'vmid': 201, 'node': 'pve1'},
                             {'name': 'netadmin-bob', 'vmid': 202, 'node': 'pve2'}])
    entries = lab.lab_acl_entries(p, vm_map, 'LabStudent-netadmin')
    assert entries[0] == {'path': '/vms/201', 'users': ['alice@pve'], 'roles': ['LabStudent-netadmin'],
                          'propagate': False, 'state': 'present'}
    rows = lab.lab_roster(p, vm_map, [{'vmid': 201, 'node': 'pve1', 'ips': ['10.10.0.201']}], 'https://pve:8006')
    assert rows[0]['ip'] == '10.10.0.201' and rows[1]['ip'] == ''
    assert rows[0]['console_url'].startswith('https://pve:8006/?console=kvm&novnc=1&vmid=201&vmname=netadmin-alice')
    text = lab.lab_csv(rows, ['username', 'vmid', 'node', 'ip', 'console_url'])
    assert text.splitlines()[0] == 'username,vmid,node,ip,console_url'


def test_template_matches_by_vmid_or_name():
    vms = [{'vmid': 9000, 'name': 'tmpl-debian', 'template': True}, {'vmid': 100, 'name': '9000'}]
    assert [v['vmid'] for v in lab.lab_template_matches(vms, '9000')] == [9000]
    assert [v['vmid'] for v in lab.lab_template_matches(vms, 9000)] == [9000]
    assert [v['vmid'] for v in lab.lab_template_matches(vms, 'tmpl-debian')] == [9000]
    assert lab.lab_template_matches(vms, 'nope') == []


def test_unstarted_are_the_new_clones_and_the_stopped():
    vm_map = {'l-a': {'vmid': 201}, 'l-b': {'vmid': 202}, 'l-c': {'vmid': 203}, 'l-d': {'vmid': 204}}
    clones = [{'name': 'l-a', 'vmid': 201, 'changed': True}, {'name': 'l-b', 'vmid': 202, 'changed': False},
              {'name': 'l-c', 'vmid': 203, 'changed': False}, {'name': 'l-d', 'vmid': 204, 'changed': False}]
    guests = [{'vmid': 202, 'status': 'running'}, {'vmid': 203, 'status': 'stopped'}, {'vmid': 204, 'status': 'running'}]
    assert lab.lab_unstarted(vm_map, clones, guests) == [201, 203]


def test_previous_roster_reads_rows_and_age(tmp_path):
    path = tmp_path / 'l-roster.json'
    assert lab.lab_previous_roster(str(path)) == {'age': None, 'rows': []}
    path.write_text('[{"username": "a", "vmid": 201, "node": "pve1", "ip": "10.0.0.1", "console_url": ""}]')
    old = time.time() - 100
    os.utime(str(path), (old, old))
    got = lab.lab_previous_roster(str(path))
    assert got['rows'][0]['ip'] == '10.0.0.1'
    assert 99 <= got['age'] <= 110
    for text in ('not json', '{"a": 1}', '[1, 2]'):
        path.write_text(text)
        assert lab.lab_previous_roster(str(path)) == {'age': None, 'rows': []}, text


def test_kept_addresses_only_for_vms_up_since_the_roster():
    vm_map = {'l-a': {'vmid': 201}, 'l-b': {'vmid': 202}, 'l-c': {'vmid': 203}, 'l-d': {'vmid': 204},
              'l-e': {'vmid': 205}}
    previous = {'age': 60.0, 'rows': [{'vmid': 201, 'ip': '10.0.0.1'}, {'vmid': '202', 'ip': '10.0.0.2'},
                                      {'vmid': 203, 'ip': '10.0.0.3'}, {'vmid': 204, 'ip': ''},
                                      {'vmid': 205, 'ip': '10.0.0.5'}]}
    guests = [{'vmid': 201, 'status': 'running', 'uptime': 3600, 'node': 'pve2'},
              {'vmid': 202, 'status': 'running', 'uptime': 59, 'node': 'pve1'},   # whole seconds: still kept
              {'vmid': 203, 'status': 'running', 'uptime': 30, 'node': 'pve1'},   # restarted since
              {'vmid': 204, 'status': 'running', 'uptime': 3600, 'node': 'pve1'},  # had no address
              {'vmid': 205, 'status': 'stopped', 'uptime': 0, 'node': 'pve1'}]
    kept = lab.lab_kept_addresses(vm_map, guests, previous)
    assert kept == [{'vmid': 201, 'node': 'pve2', 'ips': ['10.0.0.1'], 'ip': '10.0.0.1'},
                    {'vmid': 202, 'node': 'pve1', 'ips': ['10.0.0.2'], 'ip': '10.0.0.2'}]
    assert lab.lab_kept_addresses(vm_map, guests, {'age': None, 'rows': previous['rows']}) == []
    # A roster row of a vmid that is no longer the lab's gives nothing.
    assert lab.lab_kept_addresses({'l-x': {'vmid': 999}}, guests, previous) == []


def test_start_specs_leave_out_running_vms_with_kept_addresses():
    vm_map = {'l-a': {'vmid': 203}, 'l-b': {'vmid': 201}, 'l-c': {'vmid': 202}}
    guests = [{'vmid': 201, 'status': 'running'}, {'vmid': 202, 'status': 'running'}, {'vmid': 203, 'status': 'stopped'}]
    kept = [{'vmid': 201}]
    assert lab.lab_start_specs(vm_map, guests, kept) == [{'vmid': 202}, {'vmid': 203}]
    assert lab.lab_start_specs(vm_map, guests, kept, wait_for_ip=False) == [{'vmid': 203}]
    all_running = guests + [{'vmid': 203, 'status': 'running'}]
    all_kept = [{'vmid': 201}, {'vmid': 202}, {'vmid': 203}]
    assert lab.lab_start_specs(vm_map, all_running, all_kept) == []
    # kept never hides a VM that is not running.
    assert lab.lab_start_specs(vm_map, guests, [{'vmid': 203}]) == [{'vmid': 201}, {'vmid': 202}, {'vmid': 203}]


def test_roster_takes_kept_addresses_like_pve_vm_results():
    plan_ = plan(['alice', 'bob'], name='lab')
    vm_map = {'lab-alice': {'vmid': 201, 'node': 'pve1'}, 'lab-bob': {'vmid': 202, 'node': 'pve1'}}
    vms = [{'vmid': 201, 'node': 'pve1', 'ips': ['10.0.0.9']},
           {'vmid': 202, 'node': 'pve3', 'ips': ['10.0.0.2'], 'ip': '10.0.0.2'}]
    rows = lab.lab_roster(plan_, vm_map, vms, 'https://pve:8006')
    assert [(r['username'], r['node'], r['ip']) for r in rows] == [('alice', 'pve1', '10.0.0.9'),
                                                                   ('bob', 'pve3', '10.0.0.2')]
