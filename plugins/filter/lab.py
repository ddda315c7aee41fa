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

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    parse_userid,
    validate_password,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_cidr,
    validate_lab_name,
    validate_ssh_public_key,
    validate_vm_name,
    vm_name,
)

STUDENT_KEYS = ('username', 'password', 'email', 'firstname', 'lastname', 'comment', 'ssh_key')
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


def lab_plan(students, lab_name, realm='pve', vm_name_format='{lab}-{username}', teacher_sources=None, cores=None,
             memory=None):
    """Check every input of a lab and return one entry per student (no passwords).

    Refuses, naming the input: a lab name unusable as pool/tag/firewall group, a missing or
    malformed username, a username twice, two students whose VM names collide, a password PVE
    would refuse, an ssh_key that is not an OpenSSH public key line, a teacher source that is not a CIDR,
    lab_cores or lab_memory (cores, memory) below 1.
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
        if password is not None:
            try:
                validate_password(str(password))
            except ValueError:
                _fail(field, 'the password of {0!r} must be {1} to {2} characters long (PVE refuses others)'.format(
                    username, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH))
        name = vm_name(vm_name_format.format(lab=lab_name, username=username))
        try:
            validate_vm_name(name, field='{0} VM name'.format(field))
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None
        if name in seen_vms:
            _fail(field, 'VM name {0!r} of {1!r} is also the VM name of lab_students[{2}]; rename one of the '
                         'students or change lab_vm_name_format'.format(name, username, seen_vms[name]))
        seen_vms[name] = index
        entry = {'username': username, 'userid': userid, 'vm_name': name, 'has_password': password is not None}
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


def lab_passwords(students, known=None, length=16):
    """{username: password}: the given one, else the one already generated (.secrets), else a new one."""
    known = dict(known or {})
    out = {}
    for student in students:
        if isinstance(student, str):
            student = {'username': student}
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
        spec = {'userid': s['userid'], 'password': passwords[s['username']], 'enable': enable,
                'comment': s.get('comment') or 'pvelab.proxmox lab {0}'.format(lab_name)}
        for key in ('email', 'firstname', 'lastname'):
            if s.get(key):
                spec[key] = s[key]
        specs.append(spec)
    return specs


def _by_name(vms):
    """{VM name: guest} of a module's per-guest results (pve_clone's items, pve_vm_info's vms)."""
    return dict((v['name'], v) for v in vms or [] if v.get('name') and v.get('vmid') is not None)


def lab_clone_specs(plan, keep=None):
    """pve_clone's list: one clone per student, by VM name; a VM in keep (guests with name and vmid, the ones
    lab_reset removed to clone again) keeps its vmid, so the student's console URL and ACL path stay."""
    kept = _by_name(keep)
    return [dict({'name': s['vm_name']}, **({'newid': int(kept[s['vm_name']]['vmid'])} if s['vm_name'] in kept
                                            else {})) for s in plan]


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


def lab_guest_specs(plan, vms, cores=None, memory=None):
    """pve_vm's list for what the lab sets on its clones after cloning, before their first start: lab_cores and
    lab_memory on every clone when given, each student's ssh_key as the VM's cloud-init sshkeys. Students with nothing
    to set are left out, so without any of them the list is empty (and the role's step skipped).
    vms: pve_clone's items (name, vmid)."""
    cores, memory = _size(cores, 'lab_cores'), _size(memory, 'lab_memory')
    by_name = _by_name(vms)
    specs = []
    for s in plan:
        vm = by_name.get(s['vm_name'])
        spec = dict((k, v) for k, v in (('cores', cores), ('memory', memory), ('sshkeys', s.get('ssh_key')))
                    if v is not None)
        if vm and spec:
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


def lab_roster(plan, vms, addresses=None, console_base='', kind='qemu'):
    """Roster rows (username, vmid, node, ip, console_url) in class-list order; no passwords.

    vms: pve_clone's items (name, vmid, node). addresses: per-guest results that may carry an `ip` (the
    isolation reports, whose ip is what the guest's source filter lets it send from; pve_vm's items after a
    start); for each vmid the first one with an address wins, so put the most trusted first. kind: the
    template's type (lab_template_type), which every clone shares.
    """
    ips = {}
    for entry in addresses or []:
        if entry.get('vmid') is not None and entry.get('ip') and int(entry['vmid']) not in ips:
            ips[int(entry['vmid'])] = str(entry['ip'])
    by_name = _by_name(vms)
    rows = []
    for s in plan:
        vm = by_name.get(s['vm_name']) or {}
        vmid = int(vm['vmid']) if vm else None
        node = vm.get('node') or ''
        rows.append({'username': s['username'], 'vmid': vmid, 'node': node, 'ip': ips.get(vmid, ''),
                     'console_url': lab_console_url(console_base, vmid, s['vm_name'], node, kind) if vmid else ''})
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
            'lab_acl_entries': lab_acl_entries,
            'lab_template_type': lab_template_type,
            'lab_guest_specs': lab_guest_specs,
            'lab_roster': lab_roster,
        }
