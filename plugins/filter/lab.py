# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters the lab roles use to turn a class list into a checked plan, before anything is written."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import string
import time

from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_cidr,
    validate_lab_name,
    validate_vm_name,
    vm_name,
)

# PVE::Auth::Plugin::verify_username: no white space, ':' or '/'; the whole userid 3 to 64 characters.
# '@' is refused too: the lab puts every student in one realm, given separately.
USERNAME_RE = re.compile(r'^[^\s:/@]+$')
USERID_MAX = 64
# PVE 9's password rule for pve realm users: 8 to 64 characters (pve-access-control).
PASSWORD_MIN = 8
PASSWORD_MAX = 64
STUDENT_KEYS = ('username', 'password', 'email', 'firstname', 'lastname', 'comment')
PASSWORD_ALPHABET = string.ascii_letters + string.digits


def lab_students_csv(text, source='lab_students_csv'):
    """A class list CSV with a header row -> [{'username': ..., 'email': ..., ...}].

    Columns other than username, password, email, firstname and lastname are ignored; a header
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


def lab_plan(students, lab_name, realm='pve', vm_name_format='{lab}-{username}', teacher_sources=None):
    """Check every input of a lab and return one entry per student (no passwords).

    Refuses, naming the input: a lab name unusable as pool/tag/firewall group, a missing or
    malformed username, a username twice, two students whose VM names collide, a password PVE
    would refuse, a teacher source that is not a CIDR.
    """
    try:
        validate_lab_name(lab_name)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None
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
        userid = '{0}@{1}'.format(username, realm)
        if not USERNAME_RE.match(username):
            _fail(field, 'username {0!r} is not one PVE accepts (no spaces, ":", "/" or "@"; the realm is '
                         'added: {1})'.format(username, realm))
        if not 3 <= len(userid) <= USERID_MAX:
            _fail(field, 'userid {0!r} must be 3 to {1} characters long'.format(userid, USERID_MAX))
        if username in seen_users:
            _fail(field, 'username {0!r} is already lab_students[{1}]'.format(username, seen_users[username]))
        seen_users[username] = index
        password = student.get('password')
        if password is not None and not PASSWORD_MIN <= len(str(password)) <= PASSWORD_MAX:
            _fail(field, 'the password of {0!r} must be {1} to {2} characters long (PVE refuses others)'.format(
                username, PASSWORD_MIN, PASSWORD_MAX))
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


def lab_clone_specs(plan, keep_vmids=None):
    """pve_clone's bulk form: one clone per student, by VM name (with its old vmid when reset keeps it)."""
    keep = keep_vmids or {}
    return [dict({'name': s['vm_name']}, **({'newid': int(keep[s['vm_name']])} if s['vm_name'] in keep else {}))
            for s in plan]


def lab_vmid_spec(vmid, state):
    return {'vmid': int(vmid), 'state': state}


def lab_vmid_of(vm_map, vmids):
    """{VM name: vmid} for the given vmids."""
    wanted = set(int(v) for v in vmids or [])
    return dict((name, vm['vmid']) for name, vm in vm_map.items() if int(vm['vmid']) in wanted)


def lab_vm_specs(vm_map, state=None):
    """pve_vm's list form for the lab's VMs (vmid order)."""
    vmids = sorted(int(v['vmid']) for v in vm_map.values())
    return [dict({'vmid': vmid}, **({'state': state} if state else {})) for vmid in vmids]


def lab_vmids(vm_map):
    return sorted(int(v['vmid']) for v in vm_map.values())


def lab_owned_vms(vms, plan, lab_name):
    """The lab's VMs among all guests: named as the lab names them AND in its pool or with its tag.

    A VM of the same name outside the lab (another pool, no tag) is not the lab's and is left alone.
    """
    names = set(s['vm_name'] for s in plan)
    owned = {}
    for vm in vms or []:
        tags = vm.get('tags') or []
        if isinstance(tags, str):
            tags = [t for t in tags.replace(',', ';').split(';') if t]
        if vm.get('name') in names and (vm.get('pool') == lab_name or lab_name in tags) and not vm.get('template'):
            owned[vm['name']] = {'vmid': int(vm['vmid']), 'node': vm.get('node')}
    return owned


def lab_absent_users(userids):
    return [{'userid': u, 'state': 'absent'} for u in userids]


def lab_template_matches(vms, template):
    """The guests lab_template names: by vmid when it is a number, else by name."""
    text = str(template).strip()
    if text.isdigit():
        return [vm for vm in vms or [] if int(vm.get('vmid', -1)) == int(text)]
    return [vm for vm in vms or [] if vm.get('name') == text]


def lab_unstarted(vm_map, clones, guests):
    """vmids of the lab's VMs that still need their clean snapshot: cloned by this run, or not running.

    A VM that was running when the run began has been started before, so it already had its chance at
    the snapshot (and a snapshot now would not be clean); skipping them spares a re-run one read per VM.
    """
    created = set(int(c['vmid']) for c in clones or [] if c.get('changed') and c.get('vmid') is not None)
    running = set(int(g['vmid']) for g in guests or [] if g.get('status') == 'running')
    return sorted(vmid for vmid in (int(v['vmid']) for v in vm_map.values())
                  if vmid in created or vmid not in running)


def lab_previous_roster(path):
    """The roster JSON an earlier run wrote, and its age: {'age': seconds since it was written, 'rows': [...]}.

    Missing, unreadable or not a roster: {'age': None, 'rows': []}, and the run asks every VM for its
    address again. Runs on the controller, like the roster it reads.
    """
    try:
        with open(path) as fh:
            rows = json.load(fh)
        age = max(0.0, time.time() - os.stat(path).st_mtime)
    except (OSError, ValueError):
        return {'age': None, 'rows': []}
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return {'age': None, 'rows': []}
    return {'age': age, 'rows': rows}


def lab_kept_addresses(vm_map, guests, previous):
    """Addresses a run need not ask the guest agents for again, as pve_vm reports them ({vmid, node, ips, ip}).

    Kept: a lab VM that was running when the run began, has been up since the earlier roster was written
    (its uptime covers the roster's age) and had an address in it. A VM started since may have a new DHCP
    lease; it is asked again. PVE gives uptime in whole seconds, hence the one second of slack.
    """
    age = (previous or {}).get('age')
    if age is None:
        return []
    known = {}
    for row in (previous or {}).get('rows') or []:
        if str(row.get('vmid', '')).isdigit() and row.get('ip'):
            known[int(row['vmid'])] = str(row['ip'])
    by_vmid = dict((int(g['vmid']), g) for g in guests or [] if g.get('vmid') is not None)
    kept = []
    for vm in vm_map.values():
        vmid = int(vm['vmid'])
        guest = by_vmid.get(vmid) or {}
        uptime = guest.get('uptime')
        if vmid in known and guest.get('status') == 'running' and uptime is not None and int(uptime) + 1 >= age:
            kept.append({'vmid': vmid, 'node': guest.get('node') or vm.get('node'), 'ips': [known[vmid]],
                         'ip': known[vmid]})
    return sorted(kept, key=lambda k: k['vmid'])


def lab_start_specs(vm_map, guests, kept=None, wait_for_ip=True):
    """pve_vm's list for the start step: the lab's VMs that are not running, or whose address is wanted and
    not kept from the earlier roster (lab_kept_addresses). Empty on a re-run where nothing changed."""
    running = set(int(g['vmid']) for g in guests or [] if g.get('status') == 'running')
    kept_ids = set(int(k['vmid']) for k in kept or [])
    specs = []
    for vmid in lab_vmids(vm_map):
        if vmid in running and (vmid in kept_ids or not wait_for_ip):
            continue
        specs.append({'vmid': vmid})
    return specs


def lab_vm_map(clones):
    """pve_clone's per-clone results -> {VM name: {'vmid', 'node'}}."""
    return dict((c['name'], {'vmid': int(c['vmid']), 'node': c.get('node')}) for c in clones or []
                if c.get('vmid') is not None)


def lab_acl_entries(plan, vm_map, role, state='present'):
    """One ACL entry per student: its role on its own VM only (/vms/<vmid>), nothing above it."""
    entries = []
    for s in plan:
        vm = vm_map.get(s['vm_name'])
        if vm:
            entries.append({'path': '/vms/{0}'.format(vm['vmid']), 'users': [s['userid']], 'roles': [role],
                            'propagate': False, 'state': state})
    return entries


def lab_console_url(base, vmid, name, node):
    """The noVNC console of a VM in PVE's web UI."""
    return '{0}/?console=kvm&novnc=1&vmid={1}&vmname={2}&node={3}&resize=off&cmd='.format(
        str(base).rstrip('/'), vmid, name, node)


def lab_roster(plan, vm_map, vms=None, console_base=''):
    """Roster rows (username, vmid, node, ip, console_url) in class-list order; no passwords."""
    by_vmid = dict((int(v['vmid']), v) for v in vms or [] if v.get('vmid') is not None)
    rows = []
    for s in plan:
        vm = vm_map.get(s['vm_name']) or {}
        vmid = vm.get('vmid')
        live = by_vmid.get(int(vmid)) if vmid is not None else None
        node = (live or {}).get('node') or vm.get('node') or ''
        ips = (live or {}).get('ips') or []
        rows.append({'username': s['username'], 'vmid': vmid, 'node': node, 'ip': ips[0] if ips else '',
                     'console_url': lab_console_url(console_base, vmid, s['vm_name'], node) if vmid else ''})
    return rows


class FilterModule(object):
    def filters(self):
        return {
            'lab_students_csv': lab_students_csv,
            'lab_secrets_csv': lab_secrets_csv,
            'lab_plan': lab_plan,
            'lab_passwords': lab_passwords,
            'lab_generated': lab_generated,
            'lab_csv': lab_csv,
            'lab_abspath': lab_abspath,
            'lab_user_specs': lab_user_specs,
            'lab_vm_map': lab_vm_map,
            'lab_template_matches': lab_template_matches,
            'lab_unstarted': lab_unstarted,
            'lab_clone_specs': lab_clone_specs,
            'lab_vm_specs': lab_vm_specs,
            'lab_vmids': lab_vmids,
            'lab_vmid_spec': lab_vmid_spec,
            'lab_vmid_of': lab_vmid_of,
            'lab_owned_vms': lab_owned_vms,
            'lab_absent_users': lab_absent_users,
            'lab_acl_entries': lab_acl_entries,
            'lab_roster': lab_roster,
            'lab_previous_roster': lab_previous_roster,
            'lab_kept_addresses': lab_kept_addresses,
            'lab_start_specs': lab_start_specs,
        }
