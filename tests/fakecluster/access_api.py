"""The /access API on top of access.py's state: login, password, users, tokens, groups, roles, ACL, realms.

Follows pve-access-control's API2/AccessControl.pm, User.pm, Group.pm, Role.pm, ACL.pm and Domains.pm: the same checks,
in the same order where it matters, and PVE's messages. A change that fails a check changes nothing.
"""

import time
import uuid

from fakepve import PveError
from fakepve.routing import die, param_error, split_list
from fakepve.server import USER, ok, params

from .access import USER_FIELDS, User, normalize_path


class AccessApi(object):
    """Mixin of LabPve (before AccessControl in the MRO): the hand-written login routes and the /access tables."""

    # ------------------------------------------------------- hand-written routes

    async def _ticket(self, request):
        """POST /access/ticket: a password login (or ticket renewal) of an enabled user of user.cfg."""
        p = await params(request)
        username = str(p.get('username', ''))
        if p.get('realm'):
            username += '@' + str(p['realm'])
        password = str(p.get('password', ''))
        renewal = self.tickets.get(password)
        if renewal and (renewal['expires'] < time.time() or renewal['user'] not in ('root@pam', username)):
            renewal = None
        if self.check_user_enabled(username) or not (renewal or self.check_password(username, password)):
            raise PveError(401, 'authentication failure')
        if self.tfa:
            return await super()._ticket(request)
        ticket, csrf = self.issue_ticket(username)
        data = {'ticket': ticket, 'CSRFPreventionToken': csrf, 'username': username, 'cap': self.capabilities(username)}
        if self.allowed(username, '/', 'Sys.Audit'):
            data['clustername'] = self.cluster_name
        return ok(data)

    async def _password(self, request):
        """PUT /access/password: oneself (confirming the old password), root, or a user administrator."""
        user = request[USER]
        if '!' in user:
            raise PveError(403, 'Permission check failed (API token not allowed)')
        p = self._verify(request, await params(request))
        userid = p['userid']
        if userid not in self.user_cfg.users:
            raise die("no such user ('{0}')".format(userid))
        if user != 'root@pam':
            if userid == 'root@pam':
                raise PveError(403, 'Permission check failed')
            if p.get('confirmation-password') is None:
                raise param_error(**{'confirmation-password': 'password is required to modify user'})
            if not self.check_password(user, p['confirmation-password']):
                raise die('invalid credentials')
            if userid == user:
                why = self.check_user_enabled(userid)
                if why:
                    raise die(why)
            else:
                realm_ok = self.allowed(user, '/access/realm/' + userid.rpartition('@')[2], 'Realm.AllocateUser')
                if not (realm_ok and self._check_userid_group(user, ['User.Modify'], {}, p)[0]):
                    raise PveError(403, 'Permission check failed')
                if userid.endswith('@pam'):
                    raise PveError(403, 'Permission check failed')
        self._store_password(userid, p['password'])
        return ok()

    def _store_password(self, userid, password, fail=''):
        """AccessControl::domain_set_password: pve keeps it, pam needs the Linux account."""
        name, _sep, realm = userid.rpartition('@')
        if realm == 'pve':
            self.users[userid] = password
        elif realm == 'pam':
            if name not in self.linux_accounts:
                raise die("{0}change password failed: command 'usermod -p '********' {1}' failed: exit code 6"
                          .format(fail, name))
            if userid == self.user:
                self.password = password
            else:
                self.users[userid] = password
        elif self.realm_type(realm) is None:
            raise die("{0}auth domain '{1}' does not exist".format(fail, realm))
        else:
            # Auth::Plugin::store_password: a directory (ldap, ad, openid) keeps its own passwords.
            raise die("{0}can't set password on auth type '{1}'".format(fail, self.realm_type(realm)))

    async def _permissions(self, v, user):
        """GET /access/permissions: one's own (or one's tokens'), or anyone's with Sys.Audit on /access."""
        who = v.get('userid') or user
        if who != user and who.partition('!')[0] != user and not self.allowed(user, '/access', 'Sys.Audit'):
            raise PveError(403, 'Permission check failed (/access, Sys.Audit)')
        if v.get('path') is not None:
            return {v['path']: self.permissions(who, v['path'])}
        return self.effective_permissions(who)

    # --------------------------------------------------------------- /access API

    def _routes_lab_access(self):
        users = '/access/users'
        one = users + '/{userid}'
        token = one + '/token/{tokenid}'
        groups = '/access/groups'
        roles = '/access/roles'
        return [('GET', '/access/domains', self._access_realm_index),
                ('POST', '/access/domains', self._access_realm_create),
                ('GET', users, self._access_user_index), ('POST', users, self._access_user_create),
                ('GET', one, self._access_user_read), ('PUT', one, self._access_user_update),
                ('DELETE', one, self._access_user_delete),
                ('GET', one + '/token', self._access_token_index), ('GET', token, self._access_token_read),
                ('POST', token, self._access_token_create), ('PUT', token, self._access_token_update),
                ('DELETE', token, self._access_token_delete),
                ('GET', groups, self._access_group_index), ('POST', groups, self._access_group_create),
                ('GET', groups + '/{groupid}', self._access_group_read),
                ('PUT', groups + '/{groupid}', self._access_group_update),
                ('DELETE', groups + '/{groupid}', self._access_group_delete),
                ('GET', roles, self._access_role_index), ('POST', roles, self._access_role_create),
                ('GET', roles + '/{roleid}', self._access_role_read),
                ('PUT', roles + '/{roleid}', self._access_role_update),
                ('DELETE', roles + '/{roleid}', self._access_role_delete),
                ('GET', '/access/acl', self._access_acl_index), ('PUT', '/access/acl', self._access_acl_update)]

    async def _access_realm_index(self, v, user):
        # API2/Domains.pm index: realm, type, and the comment when there is one (no login needed: the login box).
        return [dict({'realm': realm, 'type': d['type']}, **({'comment': d['comment']} if d.get('comment') else {}))
                for realm, d in sorted(self.realms.items())]

    async def _access_realm_create(self, v, user):
        # API2/Domains.pm create: the reserved names and types first, then the type's own options.
        fail = 'add auth server failed: '
        realm, kind = v['realm'], v['type']
        if realm in self.realms:
            raise die("{0}domain '{1}' already exists".format(fail, realm))
        if realm in ('pam', 'pve'):
            raise die("{0}unable to use reserved name '{1}'".format(fail, realm))
        if kind in ('pam', 'pve'):
            raise die("{0}unable to create builtin type '{1}'".format(fail, kind))
        options = dict((k, val) for k, val in v.items() if k not in ('realm', 'type', 'comment', 'password'))
        try:
            self.add_realm(realm, kind, comment=v.get('comment') or None, **options)
        except ValueError as exc:
            raise param_error(**{'realm': str(exc)}) from None

    def _user(self, userid, fail=''):
        found = self.user_cfg.users.get(userid)
        if found is None:
            raise die("{0}no such user ('{1}')".format(fail, userid))
        return found

    def _check_groups(self, groupids, fail):
        for groupid in groupids:
            if groupid not in self.user_cfg.groups:
                raise die("{0}no such group '{1}'".format(fail, groupid))

    async def _access_user_index(self, v, user):
        privs = ('User.Modify', 'Sys.Audit')
        see_all = any(self.allowed(user, '/access/groups', p) for p in privs)
        visible = set()
        for group in self.user_cfg.groups.values():
            if any(self.allowed(user, '/access/groups/' + group.groupid, p) for p in privs):
                visible |= group.users
        out = []
        for userid, entry in sorted(self.user_cfg.users.items()):
            if not (see_all or userid == user or userid in visible):
                continue
            if v.get('enabled') is not None and bool(entry.enable) != bool(v['enabled']):
                continue
            item = dict(entry.fields(), userid=userid)
            if self.realm_type(entry.realm):
                item['realm-type'] = self.realm_type(entry.realm)
            if v.get('full'):
                item['groups'] = ','.join(self.user_cfg.groups_of(userid))
                item['tokens'] = [dict(t.info(), tokenid=name) for name, t in sorted(entry.tokens.items())]
            out.append(item)
        return out

    async def _access_user_create(self, v, user):
        fail = 'create user failed: '
        userid = v['userid']
        if userid in self.user_cfg.users:
            raise die("{0}user '{1}' already exists".format(fail, userid))
        groups = split_list(v.get('groups'))
        self._check_groups(groups, fail)
        if v.get('password') is not None:
            self._store_password(userid, v['password'], fail)
        fields = dict((k, v[k]) for k in USER_FIELDS if v.get(k))
        self.add_user(userid, groups=groups, enable=1 if v.get('enable', 1) else 0, expire=v.get('expire') or None,
                      **fields)

    async def _access_user_read(self, v, user):
        entry = self._user(v['userid'])
        return dict(entry.fields(), groups=self.user_cfg.groups_of(entry.userid),
                    tokens=dict((name, t.info()) for name, t in entry.tokens.items()))

    async def _access_user_update(self, v, user):
        fail = 'update user failed: '
        entry = self._user(v['userid'], fail)
        groups = split_list(v.get('groups'))
        self._check_groups(groups, fail)
        if v.get('enable') is not None:
            entry.enable = 1 if v['enable'] else 0
        if v.get('expire') is not None:
            entry.expire = v['expire'] or None
        if v.get('groups') is not None and not v.get('append'):
            for group in self.user_cfg.groups.values():
                group.users.discard(entry.userid)
        for groupid in groups:
            self.user_cfg.groups[groupid].users.add(entry.userid)
        for key in USER_FIELDS:
            if v.get(key) is not None:
                setattr(entry, key, v[key])

    async def _access_user_delete(self, v, user):
        userid = v['userid']
        if userid not in self.user_cfg.users:
            return  # PVE 9 disables, then deletes, whatever it finds: an unknown user is no error
        for group in self.user_cfg.groups.values():
            group.users.discard(userid)
        for tokenid in self.user_cfg.users[userid].tokens:
            self.apitokens.pop('{0}!{1}'.format(userid, tokenid), None)
        self._forget_acl(lambda key, e: not (key == ('user', userid) or key[1].startswith(userid + '!')))
        self.users.pop(userid, None)
        del self.user_cfg.users[userid]
        if userid == 'root@pam':
            self.user_cfg.users[userid] = User(userid)  # PVE puts root@pam back on the next read of user.cfg

    def _token(self, v):
        entry = self._user(v['userid'])
        found = entry.tokens.get(v['tokenid'])
        if found is None:
            raise die("no such token '{0}' for user '{1}'".format(v['tokenid'], entry.userid))
        return entry, found

    async def _access_token_index(self, v, user):
        entry = self._user(v['userid'])
        return [dict(t.info(), tokenid=name) for name, t in sorted(entry.tokens.items())]

    async def _access_token_read(self, v, user):
        return self._token(v)[1].info()

    async def _access_token_create(self, v, user):
        entry = self._user(v['userid'])
        if v['tokenid'] in entry.tokens:
            raise param_error(tokenid='Token already exists.')
        secret = self.add_token(entry.userid, v['tokenid'], privsep=v.get('privsep', 1), expire=v.get('expire'),
                                comment=v.get('comment'))
        return {'info': entry.tokens[v['tokenid']].info(), 'value': secret,
                'full-tokenid': '{0}!{1}'.format(entry.userid, v['tokenid'])}

    async def _access_token_update(self, v, user):
        entry, token = self._token(v)
        if v.get('privsep') is not None:
            token.privsep = 1 if v['privsep'] else 0
        if v.get('expire') is not None:
            token.expire = v['expire'] or None
        if self.pve_version == '8.4':
            # pve-access-control 8.2 (API2/User.pm) sets the comment only when it is true for Perl: '' and '0'
            # keep the old one. (`delete` and `regenerate` are not in its schema: versions.py.)
            if v.get('comment') not in (None, '', '0'):
                token.comment = v['comment']
        elif v.get('comment') is not None:
            token.comment = v['comment'] or None
        for key in split_list(v.get('delete')):
            if key != 'comment':
                raise param_error(delete="unknown option '{0}'".format(key))
            token.comment = None
        out = token.info()
        if v.get('regenerate'):
            full = '{0}!{1}'.format(entry.userid, v['tokenid'])
            out.update(value=str(uuid.uuid4()), **{'full-tokenid': full})
            self.apitokens[full] = out['value']
        return out

    async def _access_token_delete(self, v, user):
        entry, _token = self._token(v)
        full = '{0}!{1}'.format(entry.userid, v['tokenid'])
        del entry.tokens[v['tokenid']]
        self.apitokens.pop(full, None)
        self._forget_acl(lambda key, e: key != ('token', full))  # PVE drops them on its next read of user.cfg

    async def _access_group_index(self, v, user):
        out = []
        for groupid, group in sorted(self.user_cfg.groups.items()):
            if not any(self.allowed(user, '/access/groups/' + groupid, p)
                       for p in ('User.Modify', 'Sys.Audit', 'Group.Allocate')):
                continue
            item = {'groupid': groupid, 'users': ','.join(sorted(group.users))}
            if group.comment:
                item['comment'] = group.comment
            out.append(item)
        return out

    def _group(self, groupid, fail=''):
        group = self.user_cfg.groups.get(groupid)
        if group is None:
            raise die("{0}group '{1}' does not exist".format(fail, groupid))
        return group

    async def _access_group_create(self, v, user):
        if v['groupid'] in self.user_cfg.groups:
            raise die("create group failed: group '{0}' already exists".format(v['groupid']))
        self.add_group(v['groupid'], v.get('comment') or None)

    async def _access_group_read(self, v, user):
        group = self._group(v['groupid'])
        out = {'members': sorted(group.users)}
        if group.comment:
            out['comment'] = group.comment
        return out

    async def _access_group_update(self, v, user):
        group = self._group(v['groupid'], 'update group failed: ')
        if v.get('comment') is not None:
            group.comment = v['comment'] or None

    async def _access_group_delete(self, v, user):
        self._group(v['groupid'], 'delete group failed: ')
        del self.user_cfg.groups[v['groupid']]
        self._forget_acl(lambda key, e: key != ('group', v['groupid']))

    async def _access_role_index(self, v, user):
        return [{'roleid': roleid, 'privs': ','.join(sorted(privs)), 'special': 1 if roleid in self.builtin_roles else 0}
                for roleid, privs in sorted(self.user_cfg.roles.items())]

    def _privs(self, v):
        privs = split_list(v.get('privs'))
        for priv in privs:
            if priv not in self.privileges:
                raise param_error(privs="invalid format - invalid privilege '{0}'\n".format(priv))
        return privs

    async def _access_role_create(self, v, user):
        roleid = v['roleid']
        if roleid.lower().startswith('pve'):
            raise param_error(roleid="cannot use role ID starting with the (case-insensitive) 'PVE' namespace")
        privs = self._privs(v)
        if roleid in self.user_cfg.roles:
            raise die("create role failed: role '{0}' already exists".format(roleid))
        self.add_role(roleid, privs)

    async def _access_role_read(self, v, user):
        privs = self.user_cfg.roles.get(v['roleid'])
        if privs is None:
            raise die("role '{0}' does not exist".format(v['roleid']))
        return dict.fromkeys(sorted(privs), 1)

    async def _access_role_update(self, v, user):
        roleid = v['roleid']
        if roleid in self.builtin_roles:
            raise die("auto-generated role '{0}' cannot be modified".format(roleid))
        privs = self._privs(v)
        if roleid not in self.user_cfg.roles:
            raise die("update role failed: role '{0}' does not exist".format(roleid))
        if v.get('append'):
            privs = set(privs) | self.user_cfg.roles[roleid]
        self.add_role(roleid, privs)

    async def _access_role_delete(self, v, user):
        roleid = v['roleid']
        if roleid in self.builtin_roles:
            raise die("auto-generated role '{0}' cannot be deleted".format(roleid))
        if roleid not in self.user_cfg.roles:
            raise die("delete role failed: role '{0}' does not exist".format(roleid))
        del self.user_cfg.roles[roleid]
        self._forget_acl(lambda key, e: e[1] != roleid)  # PVE ignores them on its next read of user.cfg

    async def _access_acl_index(self, v, user):
        audit = self.allowed(user, '/access', 'Sys.Audit')
        return [e for e in self.acl_entries() if audit or self._may_modify_acl(user, e['path'])[0]]

    async def _access_acl_update(self, v, user):
        """PUT /access/acl (API2/ACL.pm update_acl): every change is checked before any is made."""
        if not (v.get('users') or v.get('groups') or v.get('tokens')):
            raise param_error(**dict.fromkeys(('users', 'groups', 'tokens'),
                                              "either 'users', 'groups' or 'tokens' is required."))
        delete = bool(v.get('delete'))
        path = normalize_path(v['path'])
        if path is None or (not delete and not self.acl_path_ok(path)):
            raise param_error(path="invalid ACL path '{0}'".format(v['path']))
        propagate = 1 if v.get('propagate', 1) else 0
        fail = 'ACL update failed: '
        mine = self.permissions(user, path)
        changes = []
        for roleid in split_list(v['roles']):
            if roleid not in self.user_cfg.roles:
                raise die("{0}role '{1}' does not exist".format(fail, roleid))
            if 'Permissions.Modify' not in mine:
                # With only VM.Allocate (or the like) one may hand out no more than one holds.
                verb = 'remove' if delete else 'add'
                for priv in sorted(self.user_cfg.roles[roleid]):
                    if priv not in mine:
                        raise param_error(role="Cannot {0} role '{1}' - requires 'Permissions.Modify' or superset "
                                               "of privileges.".format(verb, roleid))
                    if propagate and mine[priv] != propagate and not delete:
                        raise param_error(role="Cannot {0} role '{1}' with propagation - requires "
                                               "'Permissions.Modify' or propagated superset of privileges."
                                          .format(verb, roleid))
                if roleid == 'NoAccess':
                    raise param_error(role="Cannot {0} role 'NoAccess' - requires 'Permissions.Modify'".format(verb))
            for groupid in split_list(v.get('groups')):
                if groupid not in self.user_cfg.groups:
                    raise die("{0}group '{1}' does not exist".format(fail, groupid))
                changes.append(('group', groupid, roleid))
            for userid in split_list(v.get('users')):
                if userid not in self.user_cfg.users:
                    raise die("{0}user '{1}' does not exist".format(fail, userid))
                changes.append(('user', userid, roleid))
            for tokenid in split_list(v.get('tokens')):
                owner, _sep, name = tokenid.partition('!')
                self._user(owner, fail)
                if self.user_cfg.token(tokenid) is None:
                    raise die("{0}no such token '{1}' for user '{2}'".format(fail, name, owner))
                changes.append(('token', tokenid, roleid))
        for kind, ugid, roleid in changes:
            if delete:
                self.delete_acl(path, kind, ugid, roleid)
            else:
                self.set_acl(path, kind, ugid, roleid, propagate)
