# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: what the access-control modules share.

User, group, role and token ids as PVE checks them, ACL paths as PVE accepts them, the valid
privilege names, PVE's password rule, the ACL entry model with the plan that turns wanted entries
into the fewest PUT /access/acl calls, and a login as another user (for checking a password and for
handing a ticket to a website). Facts come from pve-access-control (AccessControl.pm,
Auth/Plugin.pm, API2/User.pm, API2/ACL.pm, API2/AccessControl.pm); each is named where it is used.
"""

from __future__ import annotations

import calendar
import collections
import datetime
import re

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import UserClient

DEFAULT_REALM = 'pve'

# API2/User.pm create_user and API2/AccessControl.pm change_password: minLength 8 (PVE 8.3 and later;
# 5 before), maxLength 64.
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 64

# Auth/Plugin.pm: user_regex [^\s:/]+, realm_regex [A-Za-z][A-Za-z0-9\.\-_]+, groupname_regex;
# a whole user id is 3 to 64 characters. Token names use the realm pattern (token_subid_regex).
USER_NAME_RE = re.compile(r'^[^\s:/]+$')
REALM_RE = re.compile(r'^[A-Za-z][A-Za-z0-9.\-_]+$')
GROUP_RE = re.compile(r'^[A-Za-z0-9.\-_]+$')
ROLE_RE = re.compile(r'^[A-Za-z0-9.\-_]+$')
TOKEN_NAME_RE = REALM_RE
USERID_MIN, USERID_MAX = 3, 64

# AccessControl.pm $privgroups plus Permissions.Modify, PVE 9.1 (pve-access-control 9.1). A cluster's own list
# is the privileges of its Administrator role (GET /access/roles); modules prefer that when they have read it.
PRIVILEGES = frozenset((
    'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit',
    'Group.Allocate',
    'Mapping.Audit', 'Mapping.Modify', 'Mapping.Use',
    'Permissions.Modify',
    'Pool.Allocate', 'Pool.Audit',
    'Realm.Allocate', 'Realm.AllocateUser',
    'SDN.Allocate', 'SDN.Audit', 'SDN.Use',
    'Sys.AccessNetwork', 'Sys.Audit', 'Sys.Console', 'Sys.Incoming', 'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Syslog',
    'User.Modify',
    'VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit',
    'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options',
    'VM.Console', 'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt',
    'VM.GuestAgent.FileWrite', 'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.PowerMgmt', 'VM.Replicate',
    'VM.Snapshot', 'VM.Snapshot.Rollback',
))

# What PVE 8.4 (pve-access-control 8.2, branch stable-bookworm) has instead: pve-access-control 9.0.2 dropped
# VM.Monitor for the VM.GuestAgent.* privileges, 9.0.3 added VM.Replicate; every PVE 9 release has both.
PVE9_PRIVILEGES = frozenset(('VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt',
                             'VM.GuestAgent.FileWrite', 'VM.GuestAgent.Unrestricted', 'VM.Replicate'))
PVE8_PRIVILEGES = frozenset(('VM.Monitor',))
PRIVILEGES_8 = (PRIVILEGES - PVE9_PRIVILEGES) | PVE8_PRIVILEGES

# What a PVE release accepts, by the pve-manager version of GET /version (docs/pve-versions.md). pve-manager's
# debian/control names the pve-access-control it needs, so from these versions on the feature is sure to be there.
# PUT /access/users/{userid}/token/{tokenid} `delete`: pve-access-control 9.0.4, needed by pve-manager 9.0.13.
TOKEN_DELETE_SINCE = (9, 0, 13)
# PUT /access/password `confirmation-password`: pve-access-control 8.1.3, needed by pve-manager 8.1.7.
CONFIRMATION_PASSWORD_SINCE = (8, 1, 7)
# ACL paths check_path (AccessControl.pm) added in PVE 9: /sdn/fabrics in pve-access-control 9.0.1 (every PVE 9),
# /sdn/prefix-lists and /sdn/route-maps in 9.1.0 (PVE 9.1). Refused before any write on a release without them.
PVE9_ACL_PATHS = (('/sdn/fabrics', (9, 0)), ('/sdn/prefix-lists', (9, 1)), ('/sdn/route-maps', (9, 1)))


def token_comment_clearable(version):
    """Whether PUT .../token/{tokenid} takes delete=comment on this PVE (PveVersion)."""
    return version.at_least(*TOKEN_DELETE_SINCE)


def confirmation_password_accepted(version):
    return version.at_least(*CONFIRMATION_PASSWORD_SINCE)


def privileges_of(version):
    """The privilege names of this PVE release (PveVersion)."""
    return PRIVILEGES if version.at_least(9) else PRIVILEGES_8


def versioned_privileges(values):
    """The privileges among values that only some PVE releases have (deciding about them needs GET /version)."""
    return sorted(set(split_list(values)) & (PVE9_PRIVILEGES | PVE8_PRIVILEGES))


def _release_note(priv):
    if priv in PVE8_PRIVILEGES:
        return '{0} is a PVE 8 privilege, dropped in PVE 9 for VM.GuestAgent.*'.format(priv)
    return '{0} is a PVE 9 privilege (PVE 8 has VM.Monitor instead of VM.GuestAgent.*)'.format(priv)


def acl_path_since(path):
    """(prefix, (major, minor)) of an ACL path only newer PVE releases have, or None when every supported one has it."""
    for prefix, since in PVE9_ACL_PATHS:
        if path == prefix or path.startswith(prefix + '/'):
            return prefix, since
    return None


def check_acl_path_release(path, version, field='path'):
    """ValueError naming the path when this PVE release (PveVersion) does not have it."""
    found = acl_path_since(path)
    if found is not None and not version.at_least(*found[1]):
        raise ValueError('{0} {1!r}: {2} is an ACL path of Proxmox VE {3} and later; this cluster runs Proxmox VE {4}, '
                         'which refuses it'.format(field, path, found[0], '.'.join(str(p) for p in found[1]), version))
    return path


# AccessControl.pm create_roles(): the built-in ("special") roles. They cannot be changed or deleted,
# and custom role ids may not start with PVE in any case (API2/Role.pm create_role).
BUILTIN_ROLES = frozenset((
    'Administrator', 'NoAccess', 'PVEAdmin', 'PVEAuditor', 'PVEDatastoreAdmin', 'PVEDatastoreUser',
    'PVEMappingAdmin', 'PVEMappingUser', 'PVEPoolAdmin', 'PVEPoolUser', 'PVESDNAdmin', 'PVESDNUser',
    'PVESysAdmin', 'PVETemplateUser', 'PVEUserAdmin', 'PVEVMAdmin', 'PVEVMUser',
))

# AccessControl.pm check_path(): every ACL path PVE accepts.
_NAME = r'[A-Za-z0-9.\-_]+'
_ALNUM = r'[A-Za-z0-9]+'
ACL_PATH_RE = re.compile(r'^(?:' + '|'.join((
    r'/',
    r'/access', r'/access/groups', r'/access/groups/' + _NAME, r'/access/realm', r'/access/realm/' + _NAME,
    r'/nodes', r'/nodes/' + _NAME,
    r'/pool', r'/pool/' + _NAME + r'(?:/' + _NAME + r'){0,2}',
    r'/sdn', r'/sdn/controllers', r'/sdn/controllers/[A-Za-z0-9_\-]+',
    r'/sdn/dns', r'/sdn/dns/' + _ALNUM, r'/sdn/fabrics', r'/sdn/fabrics/' + _ALNUM,
    r'/sdn/ipams', r'/sdn/ipams/' + _ALNUM, r'/sdn/prefix-lists', r'/sdn/prefix-lists/' + _ALNUM,
    r'/sdn/route-maps', r'/sdn/route-maps/' + _ALNUM,
    r'/sdn/zones', r'/sdn/zones/' + _NAME, r'/sdn/zones/' + _NAME + '/' + _NAME,
    r'/sdn/zones/' + _NAME + '/' + _NAME + r'/[1-9][0-9]{0,3}',
    r'/storage', r'/storage/' + _NAME,
    r'/vms', r'/vms/[1-9][0-9]{2,}',
    r'/mapping', r'/mapping/' + _NAME, r'/mapping/' + _NAME + '/' + _NAME,
)) + r')$')

ACL_PATH_FORMS = ('/', '/vms', '/vms/{vmid}', '/pool/{name}', '/nodes/{node}', '/storage/{id}', '/access',
                  '/access/groups/{group}', '/access/realm/{realm}', '/sdn/...', '/mapping/{type}/{id}')

ACL_TYPES = ('user', 'group', 'token')


# ------------------------------------------------------------------ ids

def split_list(value):
    """PVE's comma (or space/semicolon) separated list, or a list already, as a list of non-empty strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        items = value
    else:
        items = re.split(r'[,;\s]+', str(value))
    return [str(i).strip() for i in items if str(i).strip()]


def parse_userid(value, field='userid', default_realm=DEFAULT_REALM):
    """'alice' -> 'alice@pve'; 'alice@pam' stays. ValueError naming the field when PVE would refuse it."""
    text = '' if value is None else str(value).strip()
    if '@' in text:
        name, realm = text.rsplit('@', 1)
    else:
        name, realm = text, default_realm
    userid = '{0}@{1}'.format(name, realm)
    if not name or not USER_NAME_RE.match(name):
        raise ValueError('{0} {1!r} is not a valid user id: the name part must not be empty and may not hold '
                         'white space, ":" or "/"'.format(field, value))
    if not REALM_RE.match(realm):
        raise ValueError('{0} {1!r} is not a valid user id: realm {2!r} must start with a letter, then letters, '
                         'digits, ".", "-" or "_"'.format(field, value, realm))
    if not USERID_MIN <= len(userid) <= USERID_MAX:
        raise ValueError('{0} {1!r} is not a valid user id: {2!r} must be {3} to {4} characters long'.format(
            field, value, userid, USERID_MIN, USERID_MAX))
    return userid


def realm_of(userid):
    return userid.rsplit('@', 1)[1]


# Every cluster has these two realms (domains.cfg); only other realms need GET /access/domains to be known.
BUILTIN_REALMS = ('pam', 'pve')


def missing_realms(userids, domains):
    """The realms of userids that are not among domains (GET /access/domains), each with its userids, sorted.

    PVE writes an account whatever realm its userid names (API2/User.pm create_user checks the realm only to store
    a password), and such an account can never log in, so a caller checks the realm itself.
    """
    known = set(BUILTIN_REALMS) | set(d.get('realm') for d in domains or [])
    missing = {}
    for userid in userids:
        if realm_of(userid) not in known:
            missing.setdefault(realm_of(userid), []).append(userid)
    return sorted((realm, sorted(ids)) for realm, ids in missing.items())


def validate_token_name(value, field='token'):
    text = '' if value is None else str(value)
    if not TOKEN_NAME_RE.match(text):
        raise ValueError('{0} {1!r} is not a valid API token name: a letter first, then letters, digits, ".", "-" '
                         'or "_" (at least 2 characters)'.format(field, value))
    return text


def parse_tokenid(value, field='tokens'):
    """'alice!ci' -> 'alice@pve!ci'; the owner part follows parse_userid."""
    text = '' if value is None else str(value).strip()
    if '!' not in text:
        raise ValueError('{0} {1!r} is not an API token id: write it as user@realm!name'.format(field, value))
    user, name = text.rsplit('!', 1)
    userid = parse_userid(user, field=field)
    validate_token_name(name, field=field)
    return '{0}!{1}'.format(userid, name)


def validate_groupid(value, field='group'):
    text = '' if value is None else str(value).strip()
    if not GROUP_RE.match(text):
        raise ValueError('{0} {1!r} is not a valid group id (letters, digits, ".", "-", "_")'.format(field, value))
    return text


def validate_roleid(value, field='roles'):
    text = '' if value is None else str(value).strip()
    if not ROLE_RE.match(text):
        raise ValueError('{0} {1!r} is not a valid role id (letters, digits, ".", "-", "_")'.format(field, value))
    return text


def validate_custom_role(value, field='name'):
    """A role this collection may create or change: not built in and not in PVE's 'PVE' namespace."""
    roleid = validate_roleid(value, field)
    if roleid in BUILTIN_ROLES:
        raise ValueError('{0} {1!r} is a built-in PVE role; built-in roles cannot be changed or deleted'.format(
            field, roleid))
    if roleid.lower().startswith('pve'):
        raise ValueError('{0} {1!r}: custom role ids may not start with "PVE" (in any case); PVE keeps that '
                         'namespace for its own roles'.format(field, roleid))
    return roleid


def validate_password(value, field='password'):
    """PVE's rule for new passwords of the pve realm (8 to 64 characters since PVE 8.3)."""
    text = '' if value is None else str(value)
    if not PASSWORD_MIN_LENGTH <= len(text) <= PASSWORD_MAX_LENGTH:
        # Never echo the password itself, not even in an error.
        raise ValueError('{0} is {1} characters long; PVE wants {2} to {3} characters'.format(
            field, len(text), PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH))
    return text


def validate_privileges(values, valid=None, field='privileges', version=None):
    """The privileges sorted and unique; unknown names refused with the valid ones named.

    valid: the cluster's own names (else those of `version`, a PveVersion, else PVE 9's). With a version, a
    privilege of the other major release is named as such.
    """
    valid = frozenset(valid) if valid else privileges_of(version) if version else PRIVILEGES
    privs = sorted(set(split_list(values)))
    unknown = [p for p in privs if p not in valid]
    if unknown:
        notes = [_release_note(p) for p in unknown if p in PVE8_PRIVILEGES | PVE9_PRIVILEGES]
        on = ' on Proxmox VE {0}'.format(version) if version else ''
        raise ValueError('{0}: unknown privilege{1} {2}{3}{4}; valid privileges are: {5}'.format(
            field, 's' if len(unknown) > 1 else '', ', '.join(unknown), on,
            ' ({0})'.format('; '.join(notes)) if notes else '', ', '.join(sorted(valid))))
    return privs


def parse_expire(value, field='expire'):
    """An expiry as PVE stores it: seconds since the epoch, 0 for never.

    Accepts an epoch (int or digits), V(0)/V(never), or a date YYYY-MM-DD meaning 00:00 UTC of that day.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError('{0} {1!r} is neither a date (YYYY-MM-DD) nor seconds since the epoch'.format(field, value))
    if isinstance(value, int):
        epoch = value
    else:
        text = str(value).strip()
        if text.lower() in ('never', '0', ''):
            return 0
        if re.match(r'^\d+$', text):
            epoch = int(text)
        else:
            try:
                day = datetime.datetime.strptime(text, '%Y-%m-%d')
            except ValueError:
                raise ValueError('{0} {1!r} is neither a date (YYYY-MM-DD) nor seconds since the epoch'.format(
                    field, value)) from None
            epoch = calendar.timegm(day.timetuple())
    if epoch < 0:
        raise ValueError('{0} {1!r} is before 1970'.format(field, value))
    return epoch


def normalize_acl_path(value, field='path'):
    """An ACL path as PVE stores it; ValueError naming the path when PVE would not accept it."""
    text = '' if value is None else str(value).strip()
    if not text.startswith('/'):
        raise ValueError('{0} {1!r} must start with "/"; valid forms: {2}'.format(
            field, value, ', '.join(ACL_PATH_FORMS)))
    if len(text) > 1 and text.endswith('/'):
        text = text[:-1]
    segments = text.split('/')[1:] if text != '/' else []
    if any(s == '' for s in segments):
        raise ValueError('{0} {1!r} has an empty segment ("//")'.format(field, value))
    if any(s in ('.', '..') for s in segments):
        raise ValueError('{0} {1!r} may not contain "." or ".." segments'.format(field, value))
    if not ACL_PATH_RE.match(text):
        raise ValueError('{0} {1!r} is not an ACL path PVE accepts; valid forms: {2} (VM ids from 100)'.format(
            field, value, ', '.join(ACL_PATH_FORMS)))
    return text


# ------------------------------------------------------------------ users

USER_FIELDS = ('enable', 'expire', 'groups', 'email', 'firstname', 'lastname', 'comment', 'keys')
TEXT_FIELDS = ('email', 'firstname', 'lastname', 'comment', 'keys')


def user_from_api(entry):
    """An entry of GET /access/users?full=1 as the modules return it (never a password: PVE has none here)."""
    tokens = entry.get('tokens') or []
    if isinstance(tokens, dict):  # GET /access/users/{userid} shape
        tokens = [dict(v, tokenid=k) for k, v in tokens.items()]
    enable = entry.get('enable', 1)
    return {
        'userid': entry['userid'],
        'enable': bool(int(enable)) if enable not in (None, '') else True,
        'expire': int(entry.get('expire') or 0),
        'groups': sorted(split_list(entry.get('groups'))),
        'email': entry.get('email') or '',
        'firstname': entry.get('firstname') or '',
        'lastname': entry.get('lastname') or '',
        'comment': entry.get('comment') or '',
        'keys': entry.get('keys') or '',
        'tokens': sorted(t.get('tokenid') for t in tokens if t.get('tokenid')),
    }


def user_update(current, wanted, append=False):
    """What PUT /access/users/{userid} needs to turn current into wanted.

    current: user_from_api() view; wanted: field -> value for the fields the task sets (None: not managed).
    Returns (params, changed field names). Group lists compare as sets; append adds without removing.
    """
    params = {}
    changed = []
    for field in USER_FIELDS:
        want = wanted.get(field)
        if want is None:
            continue
        have = current.get(field)
        if field == 'groups':
            want_set = set(want)
            have_set = set(have or [])
            if append:
                if not want_set <= have_set:
                    params['groups'] = sorted(want_set - have_set)
                    params['append'] = True
                    changed.append(field)
            elif want_set != have_set:
                params['groups'] = ','.join(sorted(want_set))  # '' clears every membership
                changed.append(field)
        elif field == 'enable':
            if bool(want) != bool(have):
                params['enable'] = bool(want)
                changed.append(field)
        elif field == 'expire':
            if int(want) != int(have or 0):
                params['expire'] = int(want)
                changed.append(field)
        elif str(want) != str(have or ''):
            params[field] = str(want)
            changed.append(field)
    return params, changed


def user_after(current, params):
    """The user view after PUT params (for check mode and diff)."""
    after = dict(current)
    for key, value in params.items():
        if key == 'append':
            continue
        if key == 'groups':
            groups = split_list(value)
            after['groups'] = sorted(set(groups) | set(current.get('groups') or [])) if params.get('append') \
                else sorted(set(groups))
        elif key == 'enable':
            after['enable'] = bool(value)
        else:
            after[key] = value
    return after


# ------------------------------------------------------------------ ACL

AclKey = collections.namedtuple('AclKey', 'path type ugid roleid')


def acl_from_api(items):
    """GET /access/acl -> {AclKey: propagate (bool)}."""
    acl = {}
    for item in items or []:
        key = AclKey(item['path'], item['type'], item['ugid'], item['roleid'])
        acl[key] = bool(int(item.get('propagate', 1)))
    return acl


def acl_entry(key, propagate):
    return {'path': key.path, 'type': key.type, 'ugid': key.ugid, 'roleid': key.roleid, 'propagate': propagate}


def acl_view(acl, paths=None):
    """Entries as dicts, sorted, optionally only on the given paths."""
    return [acl_entry(k, acl[k]) for k in sorted(acl) if paths is None or k.path in paths]


def parse_acl_spec(item, field='entries'):
    """One wanted ACL statement, validated: path, roles, principals [(type, ugid)], propagate, state, exclusive."""
    state = item.get('state') or 'present'

    def sub(name):  # 'entries[1] path', or just 'path' for the single form (field '')
        return '{0} {1}'.format(field, name) if field else name
    path = normalize_acl_path(item.get('path'), field=sub('path'))
    roles = [validate_roleid(r, field=sub('roles')) for r in split_list(item.get('roles'))]
    principals = []
    for u in split_list(item.get('users')):
        principals.append(('user', parse_userid(u, field=sub('users'))))
    for g in split_list(item.get('groups')):
        principals.append(('group', validate_groupid(g, field=sub('groups'))))
    for t in split_list(item.get('tokens')):
        principals.append(('token', parse_tokenid(t, field=sub('tokens'))))
    exclusive = bool(item.get('exclusive'))
    where = '{0} on {1}'.format(field, path) if field else 'path {0}'.format(path)
    if not principals:
        raise ValueError('{0}: give at least one of users, groups or tokens (an entry without them '
                         'would name every entry on the path)'.format(where))
    if state == 'present' and not roles:
        raise ValueError('{0}: roles is required with state=present'.format(where))
    if state == 'absent' and exclusive:
        raise ValueError('{0}: exclusive applies to state=present only'.format(where))
    propagate = item.get('propagate')
    return {
        'path': path,
        'roles': sorted(set(roles)),
        'principals': sorted(set(principals)),
        'propagate': True if propagate is None else bool(propagate),
        'state': state,
        'exclusive': exclusive,
    }


def plan_acl(current, specs):
    """The ACL wanted after applying specs (in order) to current.

    present: every principal x role gets the entry with that propagate (a different propagate replaces it).
    absent: removes the named principals' entries for the named roles (all their roles on the path if no
    roles are given) and nothing else. exclusive: on that path, only entries some present spec names remain.
    """
    target = dict(current)
    exclusive = set()
    for spec in specs:
        path = spec['path']
        if spec['state'] == 'present':
            for kind, ugid in spec['principals']:
                for role in spec['roles']:
                    target[AclKey(path, kind, ugid, role)] = spec['propagate']
            if spec['exclusive']:
                exclusive.add(path)
        else:
            named = set(spec['principals'])
            roles = set(spec['roles'])
            for key in [k for k in target if k.path == path]:
                if (key.type, key.ugid) in named and (not roles or key.roleid in roles):
                    del target[key]
    for path in exclusive:
        # What any present spec on that path names stays (exclusive or not); everything else goes.
        named = set(AclKey(path, kind, ugid, role) for spec in specs if spec['path'] == path
                    and spec['state'] == 'present' for kind, ugid in spec['principals'] for role in spec['roles'])
        for key in [k for k in target if k.path == path and k not in named]:
            del target[key]
    return target


def diff_acl(current, target):
    """Changes from current to target: dicts with action add | update | remove and the entry.

    Grants (add, update) come before removals, the order acl_calls() makes them in.
    """
    grants, removals = [], []
    for key in sorted(set(current) | set(target)):
        if key not in current:
            grants.append(dict(acl_entry(key, target[key]), action='add'))
        elif key not in target:
            removals.append(dict(acl_entry(key, current[key]), action='remove'))
        elif current[key] != target[key]:
            grants.append(dict(acl_entry(key, target[key]), action='update'))
    return grants + removals


def acl_calls(changes):
    """The fewest PUT /access/acl parameter sets that carry out changes: grants first, then removals.

    One PUT sets every listed role for every listed user, group and token on one path with one propagate
    (an existing entry with another propagate is replaced), so principals that need the same roles on the
    same path with the same propagate share a call; removals (delete=1) group the same way.
    """
    grants = collections.OrderedDict()
    removals = collections.OrderedDict()
    for change in changes:
        principal = (change['type'], change['ugid'])
        if change['action'] == 'remove':
            bucket = removals.setdefault((change['path'], None), collections.OrderedDict())
        else:
            bucket = grants.setdefault((change['path'], change['propagate']), collections.OrderedDict())
        bucket.setdefault(principal, set()).add(change['roleid'])
    calls = []
    for delete, table in ((False, grants), (True, removals)):
        for (path, propagate), principals in table.items():
            by_roles = collections.OrderedDict()
            for principal, roles in principals.items():
                by_roles.setdefault(tuple(sorted(roles)), []).append(principal)
            for roles, members in by_roles.items():
                call = {'path': path, 'roles': ','.join(roles)}
                for kind in ACL_TYPES:
                    ids = sorted(ugid for k, ugid in members if k == kind)
                    if ids:
                        call[kind + 's'] = ','.join(ids)
                if delete:
                    call['delete'] = True
                else:
                    call['propagate'] = propagate
                calls.append(call)
    return calls


# ------------------------------------------------------------------ logins as another user

class _Login(dict):
    """PVE's answer to a user's login, with the UserClient that made it (the user's later calls go through it)."""

    client = None


def _as_user(params, login):
    client = getattr(login, 'client', None)
    return client if client is not None else UserClient(params, login['ticket'], login.get('CSRFPreventionToken'))


def user_login(params, userid, password):
    """POST /access/ticket as userid with password (not with the module's own connection).

    Returns PVE's answer (ticket, CSRFPreventionToken, username, and NeedTFA when a second factor is
    due) or None when PVE refuses the login (401). Raises PveConnectionError / PveApiError otherwise.
    Real PVE answers a refused login only after 3 seconds and logs an authentication failure.
    """
    client = UserClient(params)
    answer = client.login(userid, password)
    if answer is None:
        return None
    login = _Login(answer)
    login.client = client
    return login


def has_empty(data):
    return any(v == '' for v in data.values())


def password_works(params, userid, password):
    """True if userid can log in with password (a pending second factor still proves the password)."""
    return user_login(params, userid, password) is not None


def user_version(params, login):
    """GET /version with a user's own ticket (any logged-in user may read it): a PveVersion."""
    return _as_user(params, login).version


def change_own_password(params, login, userid, old_password, new_password, confirm=True):
    """PUT /access/password with the user's own ticket; PVE (8.1.3 and later: confirm) wants the old one as
    confirmation-password."""
    data = {'userid': userid, 'password': new_password}
    if confirm:
        data['confirmation-password'] = old_password
    # Not repeated after a network fault: once applied, the old password no longer confirms a second one.
    _as_user(params, login).put('/access/password', idempotent=False, **data)
