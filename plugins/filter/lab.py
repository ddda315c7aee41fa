# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters the lab roles use to turn a class list into a checked plan, before anything is written."""

from __future__ import annotations

import csv
import io
import os
import secrets
import string

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    DEFAULT_REALM,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    parse_userid,
    validate_password,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import account_comment, lab_guests
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_cidr,
    validate_lab_name,
    validate_ssh_public_key,
    validate_vm_name,
    vm_name,
)

STUDENT_KEYS = ('username', 'password', 'email', 'firstname', 'lastname', 'comment', 'ssh_key')
# A teacher the lab makes ({username, password?}) or an existing account of any realm ({userid}).
TEACHER_KEYS = {'username': ('username', 'password'), 'userid': ('userid',)}
PASSWORD_ALPHABET = string.ascii_letters + string.digits


def lab_students_csv(text, source='lab_students_csv'):
    """A class list CSV with a header row -> [{'username': ..., 'email': ..., ...}].

    Columns other than username, password, email, firstname, lastname, comment and ssh_key are ignored; a header
    without 'username' or a row without one is an error naming the row.
    """
    if text is None:
        raise AnsibleFilterError('{0}: the file is empty'.format(source))
    reader = csv.DictReader(io.StringIO(str(text).lstrip('\ufeff')))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if 'username' not in fields:
        raise AnsibleFilterError('{0}: the header row must have a "username" column (it has: {1})'.format(
            source, ', '.join(fields) or 'nothing'))
    students = []
    for number, row in enumerate(reader, start=2):
        row = dict((str(k).strip().lower(), (v or '').strip()) for k, v in row.items() if k is not None)
        if not any(row.values()):
            continue  # a blank line
        if not row.get('username'):
            raise AnsibleFilterError('{0}: line {1} has no username'.format(source, number))
        students.append(dict((k, row[k]) for k in STUDENT_KEYS if row.get(k)))
    return students


def lab_abspath(path):
    """A path relative to where ansible-playbook runs (filters run in the controller process).

    Lookups and modules would resolve a relative path against the playbook's directory, which for
    `ansible-playbook pvelab.proxmox.lab_up` is inside the installed collection.
    """
    return os.path.abspath(os.path.expanduser(str(path))) if path else path


def lab_secrets_csv(text):
    """The .secrets file (username,password) -> {username: password}."""
    out = {}
    if not text:
        return out
    for row in csv.DictReader(io.StringIO(str(text))):
        if row.get('username') and row.get('password'):
            out[row['username'].strip()] = row['password']
    return out


def _fail(field, message):
    raise AnsibleFilterError('{0}: {1}'.format(field, message))


def _size(value, field):
    """lab_cores or lab_memory: None (not given: the template's) or a whole number of at least 1."""
    if value is None or value == '':
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or number < 1 or isinstance(value, bool) or str(number) != str(value).strip():
        _fail(field, 'must be a whole number of at least 1 (it is {0!r})'.format(value))
    return number


def _check_password(field, username, password, realm):
    """A password from the class list: PVE keeps passwords for its own realm only; a directory realm (LDAP, AD,
    OpenID) has its own, and PVE refuses to set one there. Refused rather than dropped: the list is wrong."""
    if password is None:
        return
    if realm != DEFAULT_REALM:
        _fail(field, 'a password is given for {0!r}, but accounts of realm {1} log in with the password their '
                     'directory keeps (PVE sets none there): remove it from the class list'.format(username, realm))
    try:
        validate_password(str(password))
    except ValueError:
        _fail(field, 'the password of {0!r} must be {1} to {2} characters long (PVE refuses others)'.format(
            username, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH))


def lab_plan(students, lab_name, realm='pve', vm_name_format='{lab}-{username}', teacher_sources=None, cores=None,
             memory=None, machines=None):
    """Check every input of a lab and return one entry per student (no passwords).

    machines: lab_machines as lab_machine_specs (plugins/filter/topology.py) returns it. In a topology lab a
    student's VMs are named <VM name>-<machine>: the entry's vm_name is the first machine's, machines maps each
    machine to its VM name, and vm_names lists them all (a lab_template lab: its one VM name).

    Refuses, naming the input: a lab name unusable as pool/tag/firewall group, a missing or
    malformed username, a username twice, two students whose VM names collide, a password PVE
    would refuse, an ssh_key that is not an OpenSSH public key line, a teacher source that is not a CIDR,
    lab_cores or lab_memory (cores, memory) below 1, a machine name that makes a VM name PVE refuses.
    """
    try:
        validate_lab_name(lab_name)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None
    _size(cores, 'lab_cores')
    _size(memory, 'lab_memory')
    if not isinstance(students, list):
        _fail('lab_students', 'must be a list of students, each with a username')
    for source in teacher_sources or []:
        try:
            validate_cidr(source, field='lab_teacher_sources')
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None
    plan = []
    seen_users = {}
    seen_vms = {}
    for index, student in enumerate(students):
        field = 'lab_students[{0}]'.format(index)
        if isinstance(student, str):
            student = {'username': student}
        if not isinstance(student, dict) or not student.get('username'):
            _fail(field, 'each student needs a username')
        unknown = sorted(set(student) - set(STUDENT_KEYS))
        if unknown:
            _fail(field, 'unknown keys {0} (known: {1})'.format(', '.join(unknown), ', '.join(STUDENT_KEYS)))
        username = str(student['username']).strip()
        # PVE's rules for the name (pve_user's, _access.parse_userid); '@' is the lab's own: every student is in
        # one realm, given separately.
        if '@' in username:
            _fail(field, 'username {0!r} is not one PVE accepts (no spaces, ":", "/" or "@"; the realm is '
                         'added: {1})'.format(username, realm))
        try:
            userid = parse_userid(username, field='{0}: username'.format(field), default_realm=realm)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None
        if username in seen_users:
            _fail(field, 'username {0!r} is already lab_students[{1}]'.format(username, seen_users[username]))
        seen_users[username] = index
        password = student.get('password')
        _check_password(field, username, password, realm)
        name = vm_name(vm_name_format.format(lab=lab_name, username=username))
        try:
            validate_vm_name(name, field='{0} VM name'.format(field))
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None
        names = {}
        for position, machine in enumerate(m for m in machines or [] if m.get('name')):
            # Not made DNS-safe as the username is: the machine's name is the teacher's, and a wrong one is refused.
            names[machine['name']] = '{0}-{1}'.format(name, machine['name'])
            try:
                validate_vm_name(names[machine['name']], field='lab_machines[{0}] name {1!r}: the VM name of {2}'.format(
                    position, machine['name'], username))
            except ValueError as exc:
                raise AnsibleFilterError(str(exc)) from None
        for one in names.values() or [name]:
            if one in seen_vms:
                _fail(field, 'VM name {0!r} of {1!r} is also a VM name of lab_students[{2}]; rename one of the '
                             'students or change lab_vm_name_format'.format(one, username, seen_vms[one]))
            seen_vms[one] = index
        vm_names = list(names.values()) or [name]
        entry = {'username': username, 'userid': userid, 'vm_name': vm_names[0], 'vm_names': vm_names,
                 'has_password': password is not None}
        if names:
            entry['machines'] = names
        if student.get('ssh_key'):
            # PVE checks the key only when the config is written (after the clone): checked here, before any write.
            try:
                entry['ssh_key'] = validate_ssh_public_key(student['ssh_key'], field='{0} ({1}) ssh_key'.format(
                    field, username))
            except ValueError as exc:
                raise AnsibleFilterError(str(exc)) from None
        for key in ('email', 'firstname', 'lastname', 'comment'):
            if student.get(key):
                entry[key] = str(student[key])
        plan.append(entry)
    return plan


def lab_passwords(students, known=None, length=16, realm=DEFAULT_REALM):
    """{username: password}: the given one, else the one already generated (.secrets), else a new one.

    students: the class list's entries, and the teachers the lab makes (an existing account, {userid}, has none).
    In a directory realm (realm other than pve) nobody gets a password from the lab: {}.
    """
    known = dict(known or {})
    out = {}
    if realm != DEFAULT_REALM:
        return out
    for student in students:
        if isinstance(student, str):
            student = {'username': student}
        if not student.get('username'):
            continue
        username = str(student['username']).strip()
        if student.get('password'):
            out[username] = str(student['password'])
        elif known.get(username):
            out[username] = known[username]
        else:
            out[username] = ''.join(secrets.choice(PASSWORD_ALPHABET) for dummy in range(int(length)))
    return out


def lab_generated(students, passwords):
    """The (username, password) pairs that were generated, i.e. not given in the class list."""
    given = set(str(s['username']).strip() for s in students if isinstance(s, dict) and s.get('password'))
    return [{'username': u, 'password': p} for u, p in sorted(passwords.items()) if u not in given]


def lab_csv(rows, columns):
    """Rows (dicts) as CSV text with a header of columns."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow(dict((c, '' if row.get(c) is None else row.get(c)) for c in columns))
    return buf.getvalue()


def lab_user_specs(plan, passwords, lab_name, enable=True):
    """pve_user's list form for the students: one account each, marked with the lab in its comment."""
    specs = []
    for s in plan:
        spec = {'userid': s['userid'], 'enable': enable,
                'comment': account_comment(lab_name, 'student', s.get('comment'))}
        if s['username'] in passwords:
            spec['password'] = passwords[s['username']]   # none in a directory realm
        for key in ('email', 'firstname', 'lastname'):
            if s.get(key):
                spec[key] = s[key]
        specs.append(spec)
    return specs


def lab_teacher_plan(teachers, plan, lab_name, realm=DEFAULT_REALM, teacher_role=None, student_role=None):
    """Check lab_teachers against the class plan; one entry per teacher: userid, made (the lab makes the account,
    in realm; else it exists), username (made only), field (where it is in lab_teachers). No passwords.

    Refuses, naming the entry: an entry that is neither {username, password?} nor {userid}, a name PVE would
    refuse, a password PVE would refuse or one in a directory realm, a teacher twice, a teacher who is also a
    student (a teacher holds every VM of the lab, a student only their own: one account cannot be both), a
    teacher role that is also the students' role.
    """
    if teachers is None:
        return []
    if not isinstance(teachers, list):
        _fail('lab_teachers', 'must be a list of teachers, each {username: ..., password: ...} or {userid: ...}')
    if teachers and teacher_role and teacher_role == student_role:
        # One role cannot hold both privilege lists, and the lab removes the teacher role when it has no teachers.
        _fail('lab_teacher_role', '{0!r} is also lab_student_role; the teachers need a role of their own'.format(
            teacher_role))
    students = dict((s['userid'], index) for index, s in enumerate(plan or []))
    out = []
    seen = {}
    for index, teacher in enumerate(teachers):
        field = 'lab_teachers[{0}]'.format(index)
        if isinstance(teacher, str):
            teacher = {'username': teacher}
        kinds = [k for k in TEACHER_KEYS if isinstance(teacher, dict) and teacher.get(k)]
        if len(kinds) != 1:
            _fail(field, 'give either username (an account the lab makes in realm {0}, optionally with a password) '
                         'or userid (an existing account of any realm), exactly one of them'.format(realm))
        unknown = sorted(set(teacher) - set(TEACHER_KEYS[kinds[0]]))
        if unknown:
            _fail(field, 'unknown keys {0} beside {1} (known: {2})'.format(
                ', '.join(unknown), kinds[0], ', '.join(TEACHER_KEYS[kinds[0]])))
        made = kinds[0] == 'username'
        name = str(teacher[kinds[0]]).strip()
        if made and '@' in name:
            _fail(field, 'username {0!r} names a realm: the lab makes its teachers in lab_realm ({1}); give an '
                         'existing account as userid'.format(name, realm))
        try:
            userid = parse_userid(name, field='{0}: {1}'.format(field, kinds[0]), default_realm=realm if made
                                  else DEFAULT_REALM)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None
        if made:
            _check_password(field, name, teacher.get('password'), realm)
        if userid in seen:
            _fail(field, '{0} is already lab_teachers[{1}]'.format(userid, seen[userid]))
        seen[userid] = index
        if userid in students:
            _fail(field, '{0} is also a student (lab_students[{1}]); a teacher holds every VM of lab {2}, a student '
                         'only their own: give the teacher another account'.format(userid, students[userid], lab_name))
        entry = {'userid': userid, 'made': made, 'field': field}
        if made:
            entry['username'] = name
        out.append(entry)
    return out


def lab_teacher_specs(teachers, passwords, lab_name):
    """pve_user's list form for the teachers the lab makes: each marked as this lab's teacher in its comment (how
    teardown knows it), with its password (none in a directory realm, or for a dry run: passwords {})."""
    specs = []
    for t in teachers or []:
        if t['made']:
            spec = {'userid': t['userid'], 'enable': True, 'comment': account_comment(lab_name, 'teacher')}
            if t['username'] in passwords:
                spec['password'] = passwords[t['username']]
            specs.append(spec)
    return specs


def lab_teacher_errors(teachers, accounts, lab_name):
    """What a dry run of pve_user (check mode: lab_teacher_specs without passwords, and the existing teachers'
    userids; accounts is its items) says is wrong, before any write: an existing teacher's account that does not
    exist, an account the lab would make that exists and is not the lab's (the lab would take it over and remove
    it at teardown)."""
    changes = dict((a.get('userid'), a.get('changes') or []) for a in accounts or [])
    errors = []
    for t in teachers or []:
        found = changes.get(t['userid'])
        if found is None:
            continue
        if not t['made'] and 'created' in found:
            errors.append('{0}: userid {1} does not exist; an existing account is given as userid, an account the '
                          'lab makes as username'.format(t['field'], t['userid']))
        elif t['made'] and 'created' not in found and 'comment' in found:
            errors.append('{0}: {1} already exists and lab {2} did not make it (its comment is not {3!r}); give it as '
                          'userid to make that account a teacher of the lab'.format(
                              t['field'], t['userid'], lab_name, account_comment(lab_name, 'teacher')))
    return errors


def lab_owned_teachers(teachers, accounts):
    """The userids of the teachers the lab made that a dry run (see lab_teacher_errors) finds with the lab's
    teacher comment: what teardown may remove of the teachers the class list names."""
    changes = dict((a.get('userid'), a.get('changes') or []) for a in accounts or [])
    return [t['userid'] for t in teachers or [] if t['made'] and t['userid'] in changes
            and not set(changes[t['userid']]) & {'created', 'comment'}]


def _by_name(vms):
    """{VM name: guest} of a module's per-guest results (pve_clone's items, pve_vm_info's vms)."""
    return dict((v['name'], v) for v in vms or [] if v.get('name') and v.get('vmid') is not None)


def lab_clone_specs(plan, keep=None, nodes=None, placement_memory=None):
    """pve_clone's list: one clone per entry (a student of the plan, or a VM of lab_vms), by VM name; a VM in keep
    (guests with name and vmid, the ones lab_reset removed to clone again) keeps its vmid, so the student's console
    URL and ACL path stay. nodes ({username: node}) puts a student's clone on that node; placement_memory
    ({username: MiB}) is what it counts for when placement chooses its node."""
    kept = _by_name(keep)
    nodes, placement_memory = nodes or {}, placement_memory or {}
    specs = []
    for s in plan:
        spec = {'name': s['vm_name']}
        if s['vm_name'] in kept:
            spec['newid'] = int(kept[s['vm_name']]['vmid'])
        if nodes.get(s['username']):
            spec['node'] = nodes[s['username']]
        elif placement_memory.get(s['username']):
            spec['placement_memory'] = int(placement_memory[s['username']])
        specs.append(spec)
    return specs


def lab_template_type(plan, guests, template):
    """The type (qemu or lxc) of lab_template among the guests pve_vm_info read (the role has checked it is one
    template). A container takes SSH keys only when it is created (pct create's ssh-public-keys), never in the config
    of a clone: a container lab whose class list gives ssh_key is refused, naming the students, before any write."""
    by_vmid = str(template).strip().isdigit()
    found = [g for g in guests or [] if (str(g.get('vmid')) if by_vmid else g.get('name')) == str(template).strip()]
    kind = (found[0].get('type') or 'qemu') if found else 'qemu'
    keyed = [s['username'] for s in plan if s.get('ssh_key')]
    if kind == 'lxc' and keyed:
        _fail('lab_template {0}'.format(template), 'is a container template; PVE takes a container\'s SSH keys only when '
              'it is created, not for a clone, so ssh_key cannot be given (students with one: {0}). Put the keys into '
              'the template, or use a VM template with cloud-init'.format(', '.join(keyed)))
    return kind


def lab_guest_specs(plan, vms, cores=None, memory=None, nics=None):
    """pve_vm's list for what the lab sets on its clones after cloning, before their first start: lab_cores and
    lab_memory on every clone when given (a topology machine's own cores and memory first), each student's ssh_key
    as the VM's cloud-init sshkeys, and the NICs of nics ({vmid: {netN: NIC}}, lab_nic_specs). Entries with nothing
    to set are left out, so without any of them the list is empty (and the role's step skipped).
    plan: the students of lab_plan, or the VMs of lab_vms. vms: pve_clone's items (name, vmid)."""
    cores, memory = _size(cores, 'lab_cores'), _size(memory, 'lab_memory')
    nics = dict((int(k), v) for k, v in (nics or {}).items())
    by_name = _by_name(vms)
    specs = []
    for s in plan:
        vm = by_name.get(s['vm_name'])
        if not vm:
            continue
        spec = dict((k, v) for k, v in (('cores', s.get('cores') or cores), ('memory', s.get('memory') or memory),
                                        ('sshkeys', s.get('ssh_key')), ('net', nics.get(int(vm['vmid']))))
                    if v is not None)
        if spec:
            specs.append(dict(spec, vmid=int(vm['vmid'])))
    return specs


def lab_acl_entries(plan, vms, role, state='present'):
    """One ACL entry per student: its role on its own VM only (/vms/<vmid>), nothing above it. vms: pve_clone's
    items (name, vmid)."""
    by_name = _by_name(vms)
    entries = []
    for s in plan:
        vm = by_name.get(s['vm_name'])
        if vm:
            entries.append({'path': '/vms/{0}'.format(vm['vmid']), 'users': [s['userid']], 'roles': [role],
                            'propagate': False, 'state': state})
    return entries


def lab_console_url(base, vmid, name, node, kind='qemu'):
    """The noVNC console of a guest in PVE's web UI, as its Console button opens it (pve-manager's
    PVE.Utils.openVNCViewer): console=kvm for a VM, console=lxc for a container."""
    return '{0}/?console={1}&novnc=1&vmid={2}&vmname={3}&node={4}&resize=off&cmd='.format(
        str(base).rstrip('/'), 'lxc' if kind == 'lxc' else 'kvm', vmid, name, node)


# machine and network: a topology lab's (lab_machines); empty in a lab_template lab.
ROSTER_COLUMNS = ('username', 'vmid', 'node', 'ip', 'console_url', 'machine', 'network')


def lab_select(plan, only=None):
    """The students of the class plan that lab_only names, in class-list order (all of them without lab_only).
    A name that is not in the class list is refused, naming it: acting on nobody by a typo helps no one."""
    if not only:
        return plan
    if not isinstance(only, list):
        _fail('lab_only', 'must be a list of usernames of the class list')
    names = [str(n).strip() for n in only]
    known = set(s['username'] for s in plan)
    unknown = [n for n in names if n not in known]
    if unknown:
        _fail('lab_only', '{0} {1} not in the class list'.format(
            ', '.join(repr(n) for n in unknown), 'is' if len(unknown) == 1 else 'are'))
    return [s for s in plan if s['username'] in names]


def lab_dropped(plan, guests, accounts, lab_name, vm_name_format='{lab}-{username}', warn=True, machines=None):
    """What lab <lab_name> made for students no longer in the class list, read from PVE: its guests
    (_lab.in_lab) that no student's VM name names, and its students' accounts (pve_user_info lab=..., lab_kind
    student) that no student has. Returns {'vmids': [...], 'userids': [...], 'students': [one line each]}; with
    warn, each dropped student is also a warning naming the account and the VM (lab_prune: false keeps them).
    machines: the machine names of a topology lab, whose VMs are <VM name>-<machine>."""
    names = set(n for s in plan for n in s.get('vm_names') or [s['vm_name']])
    userids = set(s['userid'] for s in plan)
    vms = dict((g.get('name'), g) for g in lab_guests(guests, lab_name) if g.get('name') not in names)
    lines, out_vmids, out_userids = [], [], []
    for account in accounts or []:
        if account.get('lab_kind') != 'student' or account['userid'] in userids:
            continue
        username = account['userid'].rpartition('@')[0]
        base = vm_name(vm_name_format.format(lab=lab_name, username=username))
        found = [vm for vm in (vms.pop(n, None) for n in [base] + ['{0}-{1}'.format(base, m) for m in machines or []])
                 if vm is not None]
        out_userids.append(account['userid'])
        what = 'account {0}'.format(account['userid'])
        for vm in found:
            out_vmids.append(int(vm['vmid']))
            what += ', VM {0} (vmid {1})'.format(vm.get('name'), vm['vmid'])
        lines.append('{0} ({1})'.format(username, what))
    for name, vm in sorted(vms.items(), key=lambda pair: int(pair[1]['vmid'])):
        out_vmids.append(int(vm['vmid']))
        lines.append('VM {0} (vmid {1}), no student of the class list'.format(name, vm['vmid']))
    if warn:
        for line in lines:
            Display().warning('lab {0}: {1} is no longer in the class list and is kept; lab_prune: true removes '
                              'it'.format(lab_name, line))
    return {'vmids': sorted(out_vmids), 'userids': sorted(out_userids), 'students': lines}


def lab_roster(plan, vms, addresses=None, console_base='', kind='qemu', kept=None, networks=None):
    """Roster rows (ROSTER_COLUMNS) in class-list order, one per VM; no passwords.

    plan: the students of lab_plan, or the VMs of lab_vms (a topology lab: a row per machine, with machine, and
    network, the student's VNet id from networks {userid: vnet}, for a machine with a private NIC).

    vms: pve_clone's items (name, vmid, node). addresses: per-guest results that may carry an `ip` (the
    isolation reports, whose ip is what the guest's source filter lets it send from; pve_vm's items after a
    start); for each vmid the first one with an address wins, so put the most trusted first. kind: the
    template's type (lab_template_type), which every clone shares. kept: the rows of the roster written before
    (with lab_only): a student this run did not act on keeps that row as it was.
    """
    networks = networks or {}
    kept = dict(((r.get('username'), r.get('machine') or ''), r) for r in kept or [] if isinstance(r, dict))
    ips = {}
    for entry in addresses or []:
        if entry.get('vmid') is not None and entry.get('ip') and int(entry['vmid']) not in ips:
            ips[int(entry['vmid'])] = str(entry['ip'])
    by_name = _by_name(vms)
    rows = []
    for s in plan:
        vm = by_name.get(s['vm_name']) or {}
        key = (s['username'], s.get('machine') or '')
        if not vm and key in kept:
            rows.append(dict((k, kept[key].get(k, '')) for k in ROSTER_COLUMNS))
            continue
        vmid = int(vm['vmid']) if vm else None
        node = vm.get('node') or ''
        network = networks.get(s['userid'], '') if 'private' in (s.get('nets') or []) else ''
        rows.append({'username': s['username'], 'vmid': vmid, 'node': node, 'ip': ips.get(vmid, ''),
                     'console_url': lab_console_url(console_base, vmid, s['vm_name'], node, kind) if vmid else '',
                     'machine': s.get('machine') or '', 'network': network})
    return rows


class FilterModule(object):
    def filters(self):
        return {
            'lab_students_csv': lab_students_csv,
            'lab_secrets_csv': lab_secrets_csv,
            'lab_abspath': lab_abspath,
            'lab_plan': lab_plan,
            'lab_passwords': lab_passwords,
            'lab_generated': lab_generated,
            'lab_csv': lab_csv,
            'lab_user_specs': lab_user_specs,
            'lab_clone_specs': lab_clone_specs,
            'lab_teacher_plan': lab_teacher_plan,
            'lab_teacher_specs': lab_teacher_specs,
            'lab_teacher_errors': lab_teacher_errors,
            'lab_owned_teachers': lab_owned_teachers,
            'lab_acl_entries': lab_acl_entries,
            'lab_template_type': lab_template_type,
            'lab_guest_specs': lab_guest_specs,
            'lab_roster': lab_roster,
            'lab_select': lab_select,
            'lab_dropped': lab_dropped,
        }
