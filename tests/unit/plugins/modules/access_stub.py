"""An in-memory stand-in for PVE's /access API and a runner for the access modules' main().

Unit tests only: it keeps users, groups, roles, ACL entries, tokens and passwords the way PVE does
(GET /access/users?full=1 gives groups as a comma string, PUT /access/acl replaces an entry's propagate),
logs every call, and refuses what PVE refuses where the modules rely on it. The behaviour that needs real
enforcement (logins, 403s) is tested against tests/fakecluster in the integration targets and tests/e2e.
"""

import json
import re
import threading

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils import _module
from ansible_collections.pvelab.proxmox.plugins.module_utils._access import PRIVILEGES, PRIVILEGES_8, split_list
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError, PveVersion, _wire
from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import Exit, catch_exits, run_main  # noqa: F401 pylint: disable=unused-import

CONNECTION = dict(api_host='127.0.0.1', api_user='root@pam', api_password='adminpass')
# What GET /version answers (PveClient.version): PVE 9.1 unless a test sets stub.release = PVE_8_4.
PVE_9_1 = PveVersion('9.1.19', '9.1', '076d7c3c108f0346')
PVE_8_4 = PveVersion('8.4.21', '8.4', '2606ac850d46da29')


class StubPve(object):
    """PVE's user.cfg in memory, answering the calls PveClient makes."""

    def __init__(self):
        self.users = {'root@pam': {'enable': 1}}
        self.passwords = {}
        self.groups = {}
        self.members = {}          # groupid -> set of userids
        self.roles = {'Administrator': set(PRIVILEGES), 'NoAccess': set(), 'PVEVMUser': {'VM.Audit', 'VM.Console',
                                                                                         'VM.PowerMgmt'},
                      'PVEAuditor': {'VM.Audit', 'Sys.Audit'}}
        self.acl = {}              # (path, type, ugid, roleid) -> propagate
        self.tokens = {}           # userid -> {tokenid: info}
        self.calls = []
        self.json_writes = []
        self.lock = threading.Lock()
        # what the client exposes
        self.user = 'root@pam'
        self.token_id = None
        self.requests_made = 0
        self.release = PVE_9_1
        self.version_reads = 0

    @property
    def version(self):
        """PveClient.version: counted, so tests can tell when a module needed it."""
        self.version_reads += 1
        return self.release

    def as_pve8(self):
        """The stub as a PVE 8.4 cluster: its version, and VM.Monitor instead of VM.GuestAgent.* and VM.Replicate."""
        self.release = PVE_8_4
        self.roles['Administrator'] = set(PRIVILEGES_8)

    # -------------------------------------------------------------- client API

    def get(self, path, **params):
        return self.request('GET', path, params)

    def post(self, path, idempotent=False, json_body=False, **data):
        return self.request('POST', path, data, json_body=json_body)

    def put(self, path, idempotent=True, json_body=False, **data):
        return self.request('PUT', path, data, json_body=json_body)

    def delete(self, path, idempotent=False, **params):
        return self.request('DELETE', path, params)

    def request(self, method, path, data=None, idempotent=None, json_body=False):
        if json_body:
            # JSON writes (for empty values), marked so tests can tell them apart
            self.json_writes.append((method, path, dict(data)))
        data = dict((k, _wire(v)) for k, v in (data or {}).items() if v is not None)
        with self.lock:
            self.requests_made += 1
            self.calls.append((method, path, data))
            return self.route(method, path, data)

    def writes(self):
        return [c for c in self.calls if c[0] != 'GET']

    def count(self, method, path=None):
        return len([c for c in self.calls if c[0] == method and (path is None or c[1] == path)])

    # -------------------------------------------------------------- routes

    def die(self, method, path, message, status=500):
        raise PveApiError(method, path, status, message)

    def route(self, method, path, d):
        m = re.match(r'^/access/users/([^/]+)/token(?:/([^/]+))?$', path)
        if m:
            return self.token(method, path, m.group(1), m.group(2), d)
        m = re.match(r'^/access/users(?:/([^/]+))?$', path)
        if m:
            return self.user_call(method, path, m.group(1), d)
        m = re.match(r'^/access/groups(?:/([^/]+))?$', path)
        if m:
            return self.group_call(method, path, m.group(1), d)
        m = re.match(r'^/access/roles(?:/([^/]+))?$', path)
        if m:
            return self.role_call(method, path, m.group(1), d)
        if path == '/access/acl':
            return self.acl_call(method, path, d)
        if path == '/access/password' and method == 'PUT':
            if d['userid'] not in self.users:
                self.die(method, path, "no such user ('{0}')".format(d['userid']))
            if len(d['password']) < 8:
                self.die(method, path, 'Parameter verification failed.', 400)
            self.passwords[d['userid']] = d['password']
            return None
        self.die(method, path, 'stub: no route', 501)

    def groups_of(self, userid):
        return sorted(g for g, users in self.members.items() if userid in users)

    def user_call(self, method, path, userid, d):
        if method == 'GET' and userid is None:
            out = []
            for uid, u in sorted(self.users.items()):
                item = dict(u, userid=uid)
                if d.get('full'):
                    item['groups'] = ','.join(self.groups_of(uid))
                    item['tokens'] = [dict(t, tokenid=k) for k, t in sorted(self.tokens.get(uid, {}).items())]
                out.append(item)
            return out
        if method == 'POST':
            uid = d['userid']
            if uid in self.users:
                self.die(method, path, "create user failed: user '{0}' already exists".format(uid))
            for g in split_list(d.get('groups')):
                if g not in self.groups:
                    self.die(method, path, "create user failed: no such group '{0}'".format(g))
            self.users[uid] = dict((k, d[k]) for k in ('expire', 'email', 'firstname', 'lastname', 'comment', 'keys')
                                   if d.get(k) not in (None, '', 0))
            self.users[uid]['enable'] = int(d.get('enable', 1))
            for g in split_list(d.get('groups')):
                self.members[g].add(uid)
            if d.get('password') is not None:
                self.passwords[uid] = d['password']
            return None
        if userid not in self.users:
            self.die(method, path, "no such user ('{0}')".format(userid))
        if method == 'PUT':
            u = self.users[userid]
            for k in ('enable', 'expire', 'email', 'firstname', 'lastname', 'comment', 'keys'):
                if k in d:
                    u[k] = d[k]
            if 'groups' in d:
                if not d.get('append'):
                    for users in self.members.values():
                        users.discard(userid)
                for g in split_list(d['groups']):
                    if g not in self.groups:
                        self.die(method, path, "update user failed: no such group '{0}'".format(g))
                    self.members[g].add(userid)
            return None
        if method == 'DELETE':
            del self.users[userid]
            self.passwords.pop(userid, None)
            self.tokens.pop(userid, None)
            for users in self.members.values():
                users.discard(userid)
            self.acl = dict((k, v) for k, v in self.acl.items() if k[2] != userid and not k[2].startswith(userid + '!'))
            return None
        self.die(method, path, 'stub: no route', 501)

    def group_call(self, method, path, groupid, d):
        if method == 'GET' and groupid is None:
            return [dict(self.groups[g], groupid=g, users=','.join(sorted(self.members[g]))) for g in sorted(self.groups)]
        if method == 'POST':
            self.groups[d['groupid']] = dict((k, d[k]) for k in ('comment',) if d.get(k))
            self.members[d['groupid']] = set()
            return None
        if groupid not in self.groups:
            self.die(method, path, "group '{0}' does not exist".format(groupid))
        if method == 'PUT':
            if 'comment' in d:
                self.groups[groupid]['comment'] = d['comment']
            return None
        if method == 'DELETE':
            del self.groups[groupid]
            del self.members[groupid]
            return None
        self.die(method, path, 'stub: no route', 501)

    def role_call(self, method, path, roleid, d):
        if method == 'GET' and roleid is None:
            return [{'roleid': r, 'privs': ','.join(sorted(p)),
                     'special': 1 if r in ('Administrator', 'NoAccess') or r.startswith('PVE') else 0}
                    for r, p in sorted(self.roles.items())]
        privs = split_list(d.get('privs'))
        bad = [p for p in privs if p not in self.roles['Administrator']]
        if bad:
            self.die(method, path, 'Parameter verification failed.', 400)
        if method == 'POST':
            self.roles[d['roleid']] = set(privs)
            return None
        if roleid not in self.roles:
            self.die(method, path, "role '{0}' does not exist".format(roleid))
        if method == 'PUT':
            self.roles[roleid] = (self.roles[roleid] if d.get('append') else set()) | set(privs)
            return None
        if method == 'DELETE':
            del self.roles[roleid]
            return None
        self.die(method, path, 'stub: no route', 501)

    def acl_call(self, method, path, d):
        if method == 'GET':
            return [{'path': k[0], 'type': k[1], 'ugid': k[2], 'roleid': k[3], 'propagate': v}
                    for k, v in sorted(self.acl.items())]
        propagate = int(d.get('propagate', 1))
        for role in split_list(d['roles']):
            if role not in self.roles:
                self.die(method, path, "ACL update failed: role '{0}' does not exist".format(role))
            for kind in ('user', 'group', 'token'):
                for ugid in split_list(d.get(kind + 's')):
                    key = (d['path'], kind, ugid, role)
                    if d.get('delete'):
                        self.acl.pop(key, None)
                    else:
                        self.acl[key] = propagate
        return None

    def token(self, method, path, userid, tokenid, d):
        if userid not in self.users:
            self.die(method, path, "no such user ('{0}')".format(userid))
        mine = self.tokens.setdefault(userid, {})
        if method == 'GET' and tokenid is None:
            return [dict(t, tokenid=k) for k, t in sorted(mine.items())]
        if method == 'POST':
            info = {'privsep': int(d.get('privsep', 1))}
            if d.get('expire') is not None:
                info['expire'] = d['expire']
            if d.get('comment'):
                info['comment'] = d['comment']
            mine[tokenid] = info
            return {'info': info, 'value': 'secret-of-' + tokenid, 'full-tokenid': '{0}!{1}'.format(userid, tokenid)}
        if tokenid not in mine:
            self.die(method, path, "no such token '{0}' for user '{1}'".format(tokenid, userid))
        if method == 'PUT':
            if 'delete' in d and not self.release.at_least(9, 0, 13):
                # pve-access-control before 9.0.4 has no `delete` in its schema.
                raise PveApiError(method, path, 400, 'Parameter verification failed.',
                                  {'delete': 'property is not defined in schema and the schema does not allow '
                                             'additional properties'})
            for k in ('privsep', 'expire', 'comment'):
                if k in d:
                    mine[tokenid][k] = d[k]
            for k in split_list(d.get('delete')):
                mine[tokenid].pop(k, None)
            return dict(mine[tokenid])
        if method == 'DELETE':
            del mine[tokenid]
            return None
        self.die(method, path, 'stub: no route', 501)


@pytest.fixture
def stub(monkeypatch):
    """A StubPve that every module's PveModuleBase.client will be."""
    pve = StubPve()
    monkeypatch.setattr(_module, 'PveClient', lambda params: pve)
    monkeypatch.setattr(_module, 'HAS_PROXMOXER', True)
    catch_exits(monkeypatch)
    return pve


def run(main, args, check=False, diff=False, warnings=None):
    """Run a module's main() with args (plus the connection); returns (result, failed)."""
    return run_main(main, args, CONNECTION, check=check, diff=diff)


def dumps(result):
    return json.dumps(result, sort_keys=True, default=str)
