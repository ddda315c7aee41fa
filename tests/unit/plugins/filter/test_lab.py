"""The lab's plan filters: every bad input is refused with a message naming it, before any write."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.filter import lab
from ansible_collections.pvelab.proxmox.plugins.module_utils import _lab


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


def test_the_lab_vms_are_those_named_by_the_plan_in_its_pool_or_with_its_tag():
    """What teardown and reset take (pve_vm_info lab + names, _lab.lab_guests)."""
    p = plan(['alice', 'bob', 'carol'])
    vms = [{'vmid': 201, 'name': 'netadmin-alice', 'pool': 'netadmin', 'node': 'pve1'},
           {'vmid': 202, 'name': 'netadmin-bob', 'tags': ['netadmin'], 'node': 'pve2'},
           {'vmid': 203, 'name': 'netadmin-carol', 'pool': 'other', 'node': 'pve1'},
           {'vmid': 204, 'name': 'web01', 'pool': 'netadmin', 'node': 'pve1'}]
    owned = _lab.lab_guests(vms, 'netadmin', names=[s['vm_name'] for s in p])
    assert sorted(v['name'] for v in owned) == ['netadmin-alice', 'netadmin-bob']


CLONES = [{'key': 'netadmin-alice', 'name': 'netadmin-alice', 'vmid': 201, 'node': 'pve1', 'changed': False},
          {'key': 'netadmin-bob', 'name': 'netadmin-bob', 'vmid': 202, 'node': 'pve2', 'changed': True}]


def test_acl_entries_and_roster():
    p = plan(['alice', 'bob'])
    entries = lab.lab_acl_entries(p, CLONES, 'LabStudent-netadmin')
    assert entries[0] == {'path': '/vms/201', 'users': ['alice@pve'], 'roles': ['LabStudent-netadmin'],
                          'propagate': False, 'state': 'present'}
    assert entries[1]['path'] == '/vms/202' and entries[1]['users'] == ['bob@pve']
    rows = lab.lab_roster(p, CLONES, [{'vmid': 201, 'node': 'pve1', 'ip': '10.10.0.201'}], 'https://pve:8006')
    assert rows[0]['ip'] == '10.10.0.201' and rows[1]['ip'] == ''
    assert rows[0]['console_url'].startswith('https://pve:8006/?console=kvm&novnc=1&vmid=201&vmname=netadmin-alice')
    text = lab.lab_csv(rows, ['username', 'vmid', 'node', 'ip', 'console_url'])
    assert text.splitlines()[0] == 'username,vmid,node,ip,console_url'


def test_roster_takes_the_first_address_given_for_each_vm():
    p = plan(['alice', 'bob'])
    filters = [{'vmid': 201, 'ip': '10.0.0.9'}, {'vmid': 202, 'ip': None}]
    started = [{'vmid': 201, 'ip': '10.0.0.77', 'ips': ['10.0.0.77']}, {'vmid': 202, 'ip': '10.0.0.2'}]
    rows = lab.lab_roster(p, CLONES, filters + started)
    assert [(r['username'], r['vmid'], r['node'], r['ip']) for r in rows] == [
        ('alice', 201, 'pve1', '10.0.0.9'), ('bob', 202, 'pve2', '10.0.0.2')]


def test_a_student_without_a_vm_gets_an_empty_roster_row():
    rows = lab.lab_roster(plan(['alice', 'carol']), CLONES)
    assert rows[1] == {'username': 'carol', 'vmid': None, 'node': '', 'ip': '', 'console_url': '', 'machine': '',
                       'network': ''}


def test_clone_specs_keep_the_vmids_of_vms_cloned_again():
    p = plan(['alice', 'bob'])
    assert lab.lab_clone_specs(p) == [{'name': 'netadmin-alice'}, {'name': 'netadmin-bob'}]
    keep = [{'name': 'netadmin-bob', 'vmid': 202, 'node': 'pve2', 'status': 'stopped'}]
    assert lab.lab_clone_specs(p, keep) == [{'name': 'netadmin-alice'}, {'name': 'netadmin-bob', 'newid': 202}]


# A real ed25519 key line (ssh-keygen -t ed25519): a 32-byte key after its type in the base64 blob.
ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAs/VsZkKD0kirVGTqRIc/7Y8Pq377N33wprEF+YPXLE alice@lab'


BAD_ECDSA = ('ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIJ0yyRa0r06ybdP9SRj+OlgpbUm/l'
             'mL8u+KMt6FBSgcUObkVqvW1g53VcpyDdN7NBy5R39bxpHeI4Wdhzjq2Dk= bob@desk')


def test_ssh_key_is_checked_and_kept_in_the_plan():
    p = plan([{'username': 'alice', 'ssh_key': '  ' + ED25519 + '\n'}, 'bob'])
    assert p[0]['ssh_key'] == ED25519 and 'ssh_key' not in p[1]
    rows = lab.lab_students_csv('username,ssh_key\nalice,{0}\nbob,\n'.format(ED25519))
    assert rows == [{'username': 'alice', 'ssh_key': ED25519}, {'username': 'bob'}]


@pytest.mark.parametrize('key, needle', [
    ('hello', "lab_students[1] (bob) ssh_key: 'hello' is not an OpenSSH public key line"),
    ('ssh-ed25519 AAAAC3Nza bob', 'lab_students[1] (bob) ssh_key: the ssh-ed25519 key is not a valid key'),
    (ED25519[:-20], 'the ssh-ed25519 key is not a valid key'),  # cut short when pasted
    (ED25519.replace('ssh-ed25519', 'ssh-rsa'), 'the ssh-rsa key is not a valid key'),  # type and blob disagree
    ('command="ls" ' + ED25519, 'is not an OpenSSH public key line'),  # authorized_keys options are not taken
    (ED25519 + '\n' + ED25519, 'one public key on one line'),
    # well formed, but its point is not on the curve: ssh-keygen (so PVE) refuses it
    (BAD_ECDSA, 'the ecdsa-sha2-nistp256 key is not a valid key'),
])
def test_a_key_pve_would_refuse_is_refused_naming_the_student(key, needle):
    with pytest.raises(AnsibleFilterError) as err:
        plan(['alice', {'username': 'bob', 'ssh_key': key}])
    assert needle in str(err.value)


@pytest.mark.parametrize('over, needle', [
    ({'cores': 0}, "lab_cores: must be a whole number of at least 1 (it is 0)"),
    ({'memory': -512}, "lab_memory: must be a whole number of at least 1 (it is -512)"),
    ({'memory': '1.5'}, "lab_memory: must be a whole number"),
    ({'cores': True}, "lab_cores: must be a whole number"),
])
def test_sizes_below_one_are_refused(over, needle):
    with pytest.raises(AnsibleFilterError) as err:
        plan(['alice'], **over)
    assert needle in str(err.value)


def test_guest_specs_size_every_clone_and_give_each_key():
    p = plan([{'username': 'alice', 'ssh_key': ED25519}, 'bob', 'carol'])
    clones = [{'name': 'netadmin-alice', 'vmid': 201}, {'name': 'netadmin-bob', 'vmid': 202}]
    assert lab.lab_guest_specs(p, clones, 2, '1024') == [
        {'vmid': 201, 'cores': 2, 'memory': 1024, 'sshkeys': ED25519}, {'vmid': 202, 'cores': 2, 'memory': 1024}]
    # nothing given: only the students with a key; no key either: nothing to do (the role skips the step)
    assert lab.lab_guest_specs(p, clones) == [{'vmid': 201, 'sshkeys': ED25519}]
    assert lab.lab_guest_specs(plan(['alice', 'bob']), clones, None, '') == []


def test_template_type_and_a_container_lab_refuses_ssh_keys():
    guests = [{'vmid': 9000, 'name': 'tmpl-debian', 'type': 'qemu', 'template': 1},
              {'vmid': 8000, 'name': 'ct-tmpl', 'type': 'lxc', 'template': 1}]
    keyed = plan([{'username': 'alice', 'ssh_key': ED25519}, 'bob'])
    assert lab.lab_template_type(keyed, guests, 'tmpl-debian') == 'qemu'
    assert lab.lab_template_type(plan(['alice']), guests, 8000) == 'lxc'
    assert lab.lab_template_type(plan(['alice']), guests, '8000') == 'lxc'
    with pytest.raises(AnsibleFilterError) as err:
        lab.lab_template_type(keyed, guests, 'ct-tmpl')
    assert 'lab_template ct-tmpl: is a container template' in str(err.value)
    assert 'students with one: alice)' in str(err.value)


def test_a_container_roster_links_the_container_console():
    p = plan(['alice'])
    rows = lab.lab_roster(p, [{'name': 'netadmin-alice', 'vmid': 201, 'node': 'pve2'}], [], 'https://pve:8006', 'lxc')
    assert rows[0]['console_url'] == ('https://pve:8006/?console=lxc&novnc=1&vmid=201&vmname=netadmin-alice'
                                      '&node=pve2&resize=off&cmd=')


# ------------------------------------------------------------------ teachers and directory realms

def test_a_directory_realm_takes_no_password_and_generates_none():
    p = plan([{'username': 'alice'}, 'bob'], realm='school')
    assert [s['userid'] for s in p] == ['alice@school', 'bob@school']
    with pytest.raises(AnsibleFilterError, match=r"lab_students\[1\]: a password is given for 'bob', but accounts of "
                                                 r"realm school"):
        plan(['alice', {'username': 'bob', 'password': 'long-enough-pw'}], realm='school')
    assert lab.lab_passwords(['alice', 'bob'], {'alice': 'kept-password'}, 16, realm='school') == {}
    assert lab.lab_generated(['alice', 'bob'], {}) == []
    specs = lab.lab_user_specs(p, {}, 'netadmin')
    assert [sorted(s) for s in specs] == [['comment', 'enable', 'userid']] * 2


def test_teacher_plan_made_and_existing_accounts():
    students = plan(['alice', 'bob'])
    t = lab.lab_teacher_plan([{'username': 'tom', 'password': 'tom-password'}, 'uma', {'userid': 'ann@pam'},
                              {'userid': 'zed'}], students, 'netadmin')
    assert [(e['userid'], e['made'], e.get('username'), e['field']) for e in t] == [
        ('tom@pve', True, 'tom', 'lab_teachers[0]'), ('uma@pve', True, 'uma', 'lab_teachers[1]'),
        ('ann@pam', False, None, 'lab_teachers[2]'), ('zed@pve', False, None, 'lab_teachers[3]')]
    assert all('password' not in e for e in t)
    assert lab.lab_teacher_plan(None, students, 'netadmin') == []
    # Made ones in the lab's realm, existing ones in theirs.
    t = lab.lab_teacher_plan(['tom', {'userid': 'ann@pve'}], plan(['alice'], realm='school'), 'netadmin',
                             realm='school')
    assert [e['userid'] for e in t] == ['tom@school', 'ann@pve']


def test_teacher_passwords_specs_and_secrets_beside_the_students():
    students = [{'username': 'alice'}, {'username': 'bob', 'password': 'bob-given-pw'}]
    teachers = [{'username': 'tom'}, {'username': 'uma', 'password': 'uma-given-pw'}, {'userid': 'ann@pam'}]
    passwords = lab.lab_passwords(students + teachers, {'tom': 'tom-kept-pw'}, 16)
    assert sorted(passwords) == ['alice', 'bob', 'tom', 'uma'] and passwords['tom'] == 'tom-kept-pw'
    assert [g['username'] for g in lab.lab_generated(students + teachers, passwords)] == ['alice', 'tom']
    t = lab.lab_teacher_plan(teachers, plan(students), 'netadmin')
    specs = lab.lab_teacher_specs(t, passwords, 'netadmin')
    assert specs == [
        {'userid': 'tom@pve', 'enable': True, 'comment': 'pvelab:netadmin teacher', 'password': 'tom-kept-pw'},
        {'userid': 'uma@pve', 'enable': True, 'comment': 'pvelab:netadmin teacher', 'password': 'uma-given-pw'}]
    assert all(_lab.account_kind(s['comment'], 'netadmin') == 'teacher' for s in specs)
    assert [sorted(s) for s in lab.lab_teacher_specs(t, {}, 'netadmin')] == [['comment', 'enable', 'userid']] * 2


@pytest.mark.parametrize('teachers, needle', [
    ('tom', 'lab_teachers: must be a list'),
    ([{'username': 'tom', 'userid': 'tom@pam'}], 'lab_teachers[0]: give either username'),
    ([{'password': 'x' * 10}], 'lab_teachers[0]: give either username'),
    ([{'userid': 'ann@pam', 'password': 'x' * 10}], "lab_teachers[0]: unknown keys password beside userid"),
    ([{'username': 'tom', 'email': 'tom@example.org'}], 'unknown keys email beside username'),
    ([{'username': 'tom@pam'}], "lab_teachers[0]: username 'tom@pam' names a realm"),
    ([{'username': 'to m'}], "lab_teachers[0]: username 'to m'"),
    ([{'username': 'tom', 'password': 'short'}], "lab_teachers[0]: the password of 'tom' must be 8 to 64"),
    (['tom', {'userid': 'tom@pve'}], 'lab_teachers[1]: tom@pve is already lab_teachers[0]'),
    (['carol', 'bob'], 'lab_teachers[1]: bob@pve is also a student (lab_students[1])'),
    ([{'userid': 'alice'}], 'lab_teachers[0]: alice@pve is also a student (lab_students[0])'),
])
def test_teacher_plan_refuses_naming_the_entry(teachers, needle):
    with pytest.raises(AnsibleFilterError) as info:
        lab.lab_teacher_plan(teachers, plan(['alice', 'bob']), 'netadmin')
    assert needle in str(info.value)
    assert 'short' not in str(info.value).replace('password', '')


def test_teacher_role_must_not_be_the_students_role():
    with pytest.raises(AnsibleFilterError, match="lab_teacher_role: 'LabX' is also lab_student_role"):
        lab.lab_teacher_plan(['tom'], [], 'netadmin', teacher_role='LabX', student_role='LabX')
    assert lab.lab_teacher_plan([], [], 'netadmin', teacher_role='LabX', student_role='LabX') == []


def test_teacher_password_refused_in_a_directory_realm():
    with pytest.raises(AnsibleFilterError, match=r"lab_teachers\[0\]: a password is given for 'tom', but accounts "
                                                 r"of realm school"):
        lab.lab_teacher_plan([{'username': 'tom', 'password': 'tom-password'}], [], 'netadmin', realm='school')


def test_teacher_errors_and_owned_teachers_from_a_dry_run():
    t = lab.lab_teacher_plan(['tom', 'uma', 'vic', {'userid': 'ann@pam'}, {'userid': 'ben@school'}], [], 'netadmin')
    dry_run = [{'userid': 'tom@pve', 'changes': []},                 # the lab's (made earlier)
               {'userid': 'uma@pve', 'changes': ['comment']},        # someone else's account
               {'userid': 'vic@pve', 'changes': ['created']},        # to be made
               {'userid': 'ann@pam', 'changes': ['enable']},         # exists (disabled)
               {'userid': 'ben@school', 'changes': ['created']}]     # does not exist
    errors = lab.lab_teacher_errors(t, dry_run, 'netadmin')
    assert errors == [
        "lab_teachers[1]: uma@pve already exists and lab netadmin did not make it (its comment is not "
        "'pvelab:netadmin teacher'); give it as userid to make that account a teacher of the lab",
        'lab_teachers[4]: userid ben@school does not exist; an existing account is given as userid, an account the '
        'lab makes as username']
    assert lab.lab_owned_teachers(t, dry_run) == ['tom@pve']
    assert lab.lab_owned_teachers(t, [dict(dry_run[0], changes=['enable'])]) == ['tom@pve']
    assert lab.lab_teacher_errors(t, [], 'netadmin') == [] and lab.lab_owned_teachers(t, None) == []


# ------------------------------------------------------------------ lab_only and dropped students

def test_lab_select_takes_the_named_students_and_refuses_a_name_not_in_the_class():
    p = plan(['alice', 'bob', 'carol'])
    assert [s['username'] for s in lab.lab_select(p, ['carol', 'alice'])] == ['alice', 'carol']
    assert lab.lab_select(p, []) == p and lab.lab_select(p, None) == p
    with pytest.raises(AnsibleFilterError, match=r"lab_only: 'dave' is not in the class list"):
        lab.lab_select(p, ['alice', 'dave'])


def test_dropped_students_are_what_pve_holds_for_the_lab_beyond_the_class(monkeypatch):
    warnings = []
    monkeypatch.setattr(lab.Display, 'warning', lambda self, msg, *a, **k: warnings.append(msg))
    p = plan(['alice'])
    guests = [{'vmid': 201, 'name': 'netadmin-alice', 'pool': 'netadmin', 'tags': ['netadmin']},
              {'vmid': 202, 'name': 'netadmin-bob', 'pool': 'netadmin', 'tags': ['netadmin']},
              {'vmid': 203, 'name': 'netadmin-x', 'tags': 'netadmin'},
              {'vmid': 204, 'name': 'netadmin-carol', 'pool': 'web', 'tags': []},        # not the lab's
              {'vmid': 9000, 'name': 'netadmin-tmpl', 'pool': 'netadmin', 'tags': ['netadmin'], 'template': 1}]
    accounts = [{'userid': 'alice@pve', 'lab_kind': 'student'}, {'userid': 'bob@pve', 'lab_kind': 'student'},
                {'userid': 'carol@pve', 'lab_kind': 'student'}, {'userid': 'tim@pve', 'lab_kind': 'teacher'}]
    out = lab.lab_dropped(p, guests, accounts, 'netadmin')
    assert out['vmids'] == [202, 203] and out['userids'] == ['bob@pve', 'carol@pve']
    assert out['students'] == ['bob (account bob@pve, VM netadmin-bob (vmid 202))', 'carol (account carol@pve)',
                               'VM netadmin-x (vmid 203), no student of the class list']
    assert len(warnings) == 3 and 'lab netadmin: bob (account bob@pve' in warnings[0]
    assert 'lab_prune: true' in warnings[0]
    warnings[:] = []
    assert lab.lab_dropped(plan(['alice', 'bob', 'carol']), guests, accounts, 'netadmin', warn=False)['vmids'] == [203]
    assert warnings == []


def test_with_lab_only_the_roster_keeps_the_other_students_rows():
    p = plan(['alice', 'bob'])
    kept = [{'username': 'bob', 'vmid': 202, 'node': 'pve3', 'ip': '10.0.0.2', 'console_url': 'u', 'x': 1}]
    rows = lab.lab_roster(p, [{'name': 'netadmin-alice', 'vmid': 201, 'node': 'pve2'}], [], '', kept=kept)
    # a row of a roster written before the machine and network columns: they are empty
    assert rows[0]['vmid'] == 201 and rows[1] == {'username': 'bob', 'vmid': 202, 'node': 'pve3', 'ip': '10.0.0.2',
                                                  'console_url': 'u', 'machine': '', 'network': ''}
