"""Access control as PVE keeps and enforces it: users, groups, roles, ACL entries, API tokens (the /access
routes that change them are in access_api.py).

fakepve 0.5.0 answers /access/users, /access/groups, /access/roles and /access/acl with sample data and lets every
logged-in user do everything until someone calls grant(). This mixin keeps the state (PVE's user.cfg) and evaluates
privileges the way pve-access-control does (`PVE::AccessControl::roles` and `PVE::RPCEnvironment::permissions`):

- walk from / to the path; at each level the token's entries, else the user's, else the user's groups' entries
  replace what was inherited; entries above the final level count only with propagate=1;
- NoAccess wins, also over roles a pool gives;
- roles on /pool/<name> reach the pool's VMs and storages (exactly /vms/<vmid>, /storage/<id>, never propagated);
- a privilege-separated token holds the intersection of its own privileges and its owner's; one without
  privilege separation holds its owner's;
- only the root@pam login skips the checks (fakepve also waves its tokens through; PVE does not).

Everything fakepve checks goes through `allowed(user, path, priv)`, so every fakepve endpoint enforces this.

`pve.acl` is fakepve's own attribute, reshaped as {(type, ugid): [(path, roleid, propagate)]}: the entries'
first item stays the path, so fakepve's own clean-up (VM destroyed, pool or storage deleted) keeps working.
Passwords stay in fakepve's `pve.users` (userid -> password), like PVE keeps them apart in shadow.cfg.
"""

import dataclasses
import hmac
import re
import time
import uuid

from fakepve import PveError
from fakepve.routing import split_list

from .privileges import BUILTIN_ROLES

# pve-access-control's user, realm and token id patterns (Auth/Plugin.pm, AccessControl.pm).
USERID = re.compile(r'^([^\s:/]+)@([A-Za-z][A-Za-z0-9.\-_]+)$')
TOKENID = re.compile(r'^([^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$')
# AccessControl.pm check_path: the paths an ACL entry may be set on ([[:alnum:]] is [A-Za-z0-9]), in PVE 8.4
# (stable-bookworm) and 9.1 (master, which adds /sdn/fabrics in 9.0.1, /sdn/prefix-lists and /sdn/route-maps
# in 9.1.0).
_SEG = r'[A-Za-z0-9.\-_]+'
_ACL_PATHS_8 = (r'/', r'/access', r'/access/groups', r'/access/groups/{s}', r'/access/realm', r'/access/realm/{s}',
                r'/nodes', r'/nodes/{s}', r'/pool', r'/pool/{s}(?:/{s}){{0,2}}', r'/sdn', r'/sdn/controllers',
                r'/sdn/controllers/[A-Za-z0-9_\-]+', r'/sdn/dns', r'/sdn/dns/[A-Za-z0-9]+', r'/sdn/ipams',
                r'/sdn/ipams/[A-Za-z0-9]+', r'/sdn/zones', r'/sdn/zones/{s}', r'/sdn/zones/{s}/{s}',
                r'/sdn/zones/{s}/{s}/[1-9][0-9]{{0,3}}', r'/storage', r'/storage/{s}', r'/vms', r'/vms/[1-9][0-9]{{2,}}',
                r'/mapping', r'/mapping/{s}', r'/mapping/{s}/{s}')
_ACL_PATHS_9 = _ACL_PATHS_8 + (r'/sdn/fabrics', r'/sdn/fabrics/[A-Za-z0-9]+', r'/sdn/prefix-lists',
                               r'/sdn/prefix-lists/[A-Za-z0-9]+', r'/sdn/route-maps', r'/sdn/route-maps/[A-Za-z0-9]+')
ACL_PATHS = dict((release, re.compile('^(?:' + '|'.join(paths).format(s=_SEG) + ')$'))
                 for release, paths in (('8.4', _ACL_PATHS_8), ('9.1', _ACL_PATHS_9)))
ACL_PATH = ACL_PATHS['9.1']
# Top levels of GET /access/permissions without a path (RPCEnvironment::get_effective_permissions).
EFFECTIVE_PATHS = ('/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms')
# The `cap` of a login (RPCEnvironment::compute_api_permission): section -> privilege prefixes.
CAP_SECTIONS = {'vms': ('VM.', 'Permissions.Modify'), 'access': ('User.', 'Group.', 'Permissions.Modify'),
                'storage': ('Datastore.', 'Permissions.Modify'), 'nodes': ('Sys.', 'Permissions.Modify'),
                'sdn': ('SDN.', 'Permissions.Modify'), 'dc': ('Sys.Audit', 'Sys.Modify', 'SDN.'),
                'mapping': ('Mapping.', 'Permissions.Modify')}
CAP_PATHS = ('/', '/nodes', '/access/groups', '/vms', '/storage', '/sdn', '/mapping')
# The two built-in realms every cluster has (domains.cfg), and the types a realm of one's own can have
# (PVE::Auth::Plugin's subclasses) with the options each type needs (their options() without `optional`).
REALMS = {'pam': 'Linux PAM standard authentication', 'pve': 'Proxmox VE authentication server'}
REALM_TYPES = {'ldap': ('server1', 'base_dn', 'user_attr'), 'ad': ('server1', 'domain'),
               'openid': ('issuer-url', 'client-id')}
# Auth/Plugin.pm's realm_regex.
REALM_ID = re.compile(r'^[A-Za-z][A-Za-z0-9.\-_]+$')
USER_FIELDS = ('firstname', 'lastname', 'email', 'comment', 'keys')
# The privilege that, besides Permissions.Modify, lets one set ACL entries on an object (check_perm_modify).
OWN_ALLOCATE = (('/storage/', 'Datastore.Allocate'), ('/vms/', 'VM.Allocate'), ('/pool/', 'Pool.Allocate'))


def normalize_path(path):
    """AccessControl::normalize_path: one slash between segments, none at the end; None if it has odd characters."""
    if not path:
        return None
    path = '/' + re.sub(r'/+', '/', str(path)).strip('/')
    return path if re.fullmatch(r'[A-Za-z0-9.\-_/]+', path) else None


def path_levels(path):
    """'/vms/100' -> ['/', '/vms', '/vms/100']: the levels the ACL walk visits."""
    parts = [p for p in path.split('/') if p]
    return ['/'] + ['/' + '/'.join(parts[:n]) for n in range(1, len(parts) + 1)]


@dataclasses.dataclass
class Token:
    privsep: int = 1
    expire: int | None = None
    comment: str | None = None

    def info(self):
        return dict((k, v) for k, v in dataclasses.asdict(self).items() if v is not None)


@dataclasses.dataclass
class User:
    userid: str
    enable: int = 1
    expire: int | None = None
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    comment: str | None = None
    keys: str | None = None
    tokens: dict = dataclasses.field(default_factory=dict)  # tokenid -> Token

    @property
    def realm(self):
        return self.userid.rpartition('@')[2]

    def fields(self):
        """enable, expire and the set names, as PVE's extract_user_data gives them."""
        out = {'enable': self.enable}
        if self.expire:
            out['expire'] = self.expire
        out.update((k, getattr(self, k)) for k in USER_FIELDS if getattr(self, k))
        return out


@dataclasses.dataclass
class Group:
    groupid: str
    comment: str | None = None
    users: set = dataclasses.field(default_factory=set)


class UserConfig(object):
    """PVE's /etc/pve/user.cfg without the ACL and the pools (those are pve.acl and fakepve's pool tables)."""

    def __init__(self, builtin_roles=None):
        self.users = {'root@pam': User('root@pam')}
        self.groups = {}
        # roleid -> privileges; the built-in ones are PVE's "special" roles (of the release the fake serves).
        self.roles = dict(BUILTIN_ROLES if builtin_roles is None else builtin_roles)

    def groups_of(self, userid):
        return sorted(g.groupid for g in self.groups.values() if userid in g.users)

    def token(self, tokenid):
        """The Token of 'user@realm!name', or None."""
        found = TOKENID.match(tokenid)
        user = self.users.get(found.group(1)) if found else None
        return user.tokens.get(found.group(2)) if user else None


class AccessControl(object):
    """Mixin of LabPve (before FakePve in the MRO): the state, the evaluation and the /access API."""

    def _init_access(self):
        self.user_cfg = UserConfig(self.builtin_roles)
        # domains.cfg: realm -> its options (type, comment, and the type's own: server1, base_dn, ...).
        self.realms = dict((realm, {'type': realm, 'comment': comment}) for realm, comment in REALMS.items())
        # Access control is on from the start: a user holds nothing until an ACL entry grants it.
        self.acl = {}
        # Linux accounts on the nodes: pam users that can hold a password (PAM's store_password runs usermod).
        self.linux_accounts = {'root'}
        if self.user != 'root@pam':
            # The fake's own login (another than root@pam) is an administrator of everything.
            self.add_user(self.user, password=self.password)
            self.set_acl('/', 'user', self.user, 'Administrator')

    # ------------------------------------------------------------------ state

    def add_user(self, userid, password=None, groups=(), tokens=(), **fields):
        """Add a user as POST /access/users does (ValueError on bad input); returns the User.

        A pam user with a password stands for an existing Linux account. tokens: dicts with tokenid, privsep,
        expire, comment and secret.
        """
        found = USERID.match(userid)
        if not found or len(userid) > 64:
            raise ValueError("value '{0}' does not look like a valid user name".format(userid))
        if userid in self.user_cfg.users and userid != 'root@pam':
            raise ValueError("user '{0}' already exists".format(userid))
        unknown = set(fields) - set(USER_FIELDS) - {'enable', 'expire'}
        if unknown:
            raise ValueError('unknown user fields: {0}'.format(', '.join(sorted(unknown))))
        user = self.user_cfg.users.setdefault(userid, User(userid))
        for key, value in fields.items():
            setattr(user, key, value)
        for groupid in groups:
            if groupid not in self.user_cfg.groups:
                self.add_group(groupid)
            self.user_cfg.groups[groupid].users.add(userid)
        if password is not None:
            if found.group(2) == 'pam':
                self.linux_accounts.add(found.group(1))
            if userid == self.user:
                self.password = password
            else:
                self.users[userid] = password
        for token in tokens:
            token = dict(token)
            self.add_token(userid, token.pop('tokenid'), **token)
        return user

    def add_realm(self, realm, type, comment=None, **options):
        """A directory realm as POST /access/domains adds it (ValueError on bad input). Nothing behind it is
        modelled: its users are accounts of user.cfg that can never log in (no LDAP bind, no OpenID flow)."""
        if not REALM_ID.match(str(realm)):
            raise ValueError("realm '{0}': value does not look like a valid realm".format(realm))
        if realm in self.realms:
            raise ValueError("domain '{0}' already exists".format(realm))
        if type not in REALM_TYPES:
            raise ValueError("realm '{0}': type must be one of {1}, not {2!r}".format(
                realm, ', '.join(sorted(REALM_TYPES)), type))
        missing = [key for key in REALM_TYPES[type] if not options.get(key)]
        if missing:
            raise ValueError("realm '{0}': {1} is missing (type {2} needs it)".format(realm, missing[0], type))
        self.realms[realm] = dict(options, type=type, comment=comment)
        return self.realms[realm]

    def realm_type(self, realm):
        """The type of a realm of domains.cfg, or None if there is no such realm."""
        return (self.realms.get(realm) or {}).get('type')

    def add_group(self, groupid, comment=None):
        if not re.fullmatch(_SEG, groupid):
            raise ValueError("group name '{0}' contains invalid characters".format(groupid))
        self.user_cfg.groups[groupid] = Group(groupid, comment)
        return self.user_cfg.groups[groupid]

    def add_role(self, roleid, privs):
        """A custom role; privs is a list or PVE's comma/space separated string."""
        privs = split_list(privs) if isinstance(privs, str) else list(privs)
        bad = [p for p in privs if p not in self.privileges]
        if bad:
            raise ValueError("invalid privilege '{0}'".format(bad[0]))
        self.user_cfg.roles[roleid] = frozenset(privs)

    def add_token(self, userid, tokenid, privsep=1, expire=None, comment=None, secret=None):
        """An API token of an existing user; returns its secret (a new UUID unless given)."""
        if userid not in self.user_cfg.users:
            raise ValueError("no such user ('{0}')".format(userid))
        self.user_cfg.users[userid].tokens[tokenid] = Token(1 if privsep else 0, expire or None, comment or None)
        secret = secret or str(uuid.uuid4())
        self.apitokens['{0}!{1}'.format(userid, tokenid)] = secret
        return secret

    def set_acl(self, path, kind, ugid, roleid, propagate=1):
        """Add (or replace) one ACL entry; kind is 'user', 'group' or 'token'."""
        if kind not in ('user', 'group', 'token'):
            raise ValueError('ACL type must be user, group or token, not {0!r}'.format(kind))
        if roleid not in self.user_cfg.roles:
            raise ValueError("role '{0}' does not exist".format(roleid))
        path = normalize_path(path)
        if path is None or not self.acl_path_ok(path):
            raise ValueError('invalid ACL path {0!r} (PVE {1})'.format(path, self.pve_version))
        self.delete_acl(path, kind, ugid, roleid)
        self.acl.setdefault((kind, ugid), []).append((path, roleid, 1 if propagate else 0))

    def acl_path_ok(self, path, release=None):
        """AccessControl::check_path of the release the fake serves (or of `release`)."""
        return ACL_PATHS[release or self.pve_version].match(path) is not None

    def delete_acl(self, path, kind, ugid, roleid):
        entries = self.acl.get((kind, ugid), [])
        entries[:] = [e for e in entries if (e[0], e[1]) != (path, roleid)]

    def acl_entries(self):
        """Every ACL entry as GET /access/acl lists them."""
        out = [{'path': path, 'type': kind, 'ugid': ugid, 'roleid': roleid, 'propagate': propagate}
               for (kind, ugid), entries in self.acl.items() for path, roleid, propagate in entries]
        return sorted(out, key=lambda e: (e['path'], e['type'], e['ugid'], e['roleid']))

    def _forget_acl(self, keep):
        """Drop the ACL entries for which keep((type, ugid), entry) is false."""
        for key, entries in self.acl.items():
            entries[:] = [e for e in entries if keep(key, e)]

    def grant(self, user, path, *privs):
        """fakepve's grant(), kept working: an ad-hoc role with these privileges on path, propagated."""
        roleid = 'Grant-' + '-'.join(sorted(p.replace('.', '') for p in privs))[:120]
        self.user_cfg.roles[roleid] = frozenset(privs)
        if '!' in user:
            owner, _sep, tokenid = user.partition('!')
            if owner not in self.user_cfg.users:
                self.add_user(owner)
            if self.user_cfg.token(user) is None:
                self.add_token(owner, tokenid, secret=self.apitokens.get(user))
            self.set_acl(path, 'token', user, roleid)
        else:
            if user not in self.user_cfg.users:
                self.add_user(user)
            self.set_acl(path, 'user', user, roleid)

    # ------------------------------------------------------------- evaluation

    def acl_roles(self, ugid, path):
        """PVE::AccessControl::roles: {roleid: propagate} of a user or token on path (pools not included)."""
        if ugid == 'root@pam':
            return {'Administrator': 1}
        if '!' in ugid:
            token = self.user_cfg.token(ugid)
            if token is None:
                return {}
            if not token.privsep:
                return self.acl_roles(ugid.partition('!')[0], path)
            layers = [self.acl.get(('token', ugid), [])]
        else:
            layers = [self.acl.get(('user', ugid), []),
                      [e for g in self.user_cfg.groups_of(ugid) for e in self.acl.get(('group', g), [])]]
        roles = {}
        levels = path_levels(path)
        for depth, level in enumerate(levels):
            final = depth == len(levels) - 1
            for entries in layers:
                found = dict((role, prop) for where, role, prop in entries if where == level and (final or prop))
                if found:
                    roles = found  # replaces what was inherited; the token's or user's entries hide the groups'
                    break
        if 'NoAccess' in roles:
            return {'NoAccess': roles['NoAccess']}
        return roles

    def _pool_paths(self, path):
        """The /pool/<name> paths whose roles reach path (a pool member VM or storage)."""
        found = re.fullmatch(r'/vms/(\d+)', path)
        if found:
            return ['/pool/' + name for name, ids in sorted(self.pools.items()) if int(found.group(1)) in ids]
        found = re.fullmatch(r'/storage/([^/]+)', path)
        if found:
            return ['/pool/' + name for name, meta in sorted(self.pool_info.items())
                    if found.group(1) in meta.get('storage', ()) and name in self.pools]
        return []

    def permissions(self, ugid, path):
        """RPCEnvironment::permissions: {privilege: propagate} a user or token holds on path."""
        if ugid is None:
            return {}
        if ugid == 'root@pam':
            return dict.fromkeys(self.privileges, 1)
        path = normalize_path(path) or path
        owner = None
        if '!' in ugid:
            token = self.user_cfg.token(ugid)
            if token is None:
                return {}
            owner = self.permissions(ugid.partition('!')[0], path)
            if not token.privsep:
                return owner
        roles = self.acl_roles(ugid, path)
        pool_roles = {}
        for pool_path in self._pool_paths(path):
            pool_roles.update(dict.fromkeys(self.acl_roles(ugid, pool_path), 0))
        if pool_roles and 'NoAccess' not in roles:
            if 'NoAccess' in pool_roles:
                roles = {'NoAccess': 0}  # a pool's NoAccess beats the regular entries
            else:
                for role in pool_roles:
                    roles.setdefault(role, 0)  # pool roles never propagate
        privs = {}
        for role, propagate in roles.items():
            for priv in self.user_cfg.roles.get(role, ()):
                privs[priv] = privs.get(priv, 0) or propagate
        if owner is not None:
            privs = dict((p, owner[p] and v) for p, v in privs.items() if p in owner)
        return privs

    def allowed(self, user, path, priv):
        """fakepve's single permission predicate, answered by PVE's evaluation."""
        if user == 'root@pam':
            return True
        return priv in self.permissions(user, path)

    def effective_permissions(self, ugid):
        """GET /access/permissions without a path: every path that matters, with what ugid holds there."""
        paths = set(EFFECTIVE_PATHS) | set(e['path'] for e in self.acl_entries())
        for name, ids in self.pools.items():
            paths.update('/vms/{0}'.format(vmid) for vmid in ids)
            paths.update('/storage/' + sid for sid in self.pool_info.get(name, {}).get('storage', ()))
        out = {}
        for path in sorted(paths):
            held = self.permissions(ugid, path)
            if held:
                out[path] = held
        return out

    def capabilities(self, ugid):
        """The `cap` of a login ticket (RPCEnvironment::compute_api_permission)."""
        cap = dict((section, {}) for section in CAP_SECTIONS)
        for path in dict.fromkeys(CAP_PATHS + tuple(e['path'] for e in self.acl_entries())):
            held = self.permissions(ugid, path)
            top = path.split('/')[1] if path != '/' else 'dc'
            if top == 'pool':
                for priv in held:
                    if priv.startswith('VM.') or priv == 'Permissions.Modify':
                        cap['vms'][priv] = 1
                    if priv.startswith('Datastore.') or priv == 'Permissions.Modify':
                        cap['storage'][priv] = 1
            elif top in cap:
                cap[top].update((p, 1) for p in held if p.startswith(CAP_SECTIONS[top]))
        return cap

    def check_user_enabled(self, userid):
        """AccessControl::check_user_enabled: the reason userid may not log in, or None."""
        user = self.user_cfg.users.get(userid)
        if user is None:
            return "no such user ('{0}')".format(userid)
        if not user.enable:
            return "user '{0}' is disabled".format(userid)
        if user.expire and user.expire < time.time():
            return "user '{0}' access expired".format(userid)
        return None

    # ------------------------------------------------- authentication (fakepve hooks)

    def check_password(self, user, password):
        """A login with a password: the user exists in user.cfg and its realm holds this password."""
        if user == self.user:
            stored = self.password
        elif user in self.user_cfg.users:
            stored = self.users.get(user)
        else:
            return False
        return stored is not None and hmac.compare_digest(str(stored).encode(), str(password).encode())

    def _authenticate(self, request):
        """fakepve's ticket and token check, then PVE's: the user still exists and is enabled, the token is valid."""
        who = super()._authenticate(request)
        if who is None:
            return who
        userid, _sep, tokenid = who.partition('!')
        why = self.check_user_enabled(userid)
        if why is None and tokenid:
            token = self.user_cfg.token(who)
            if token is None:
                why = "no such token '{0}' for user '{1}'".format(tokenid, userid)
            elif token.expire and token.expire < time.time():
                why = "token '{0}' access expired".format(tokenid)
        if why:
            raise PveError(401, why)
        return who

    def check_permissions(self, user, perms, values, declared=None):
        """RPCEnvironment::check_api2_permissions: only the root@pam login itself skips the checks."""
        if user == 'root@pam':
            return
        if perms and perms.get('user') in ('all', 'world') and (user is not None or perms['user'] == 'world'):
            return
        if user is None or not perms or 'check' not in perms:
            raise PveError(403, 'Permission check failed (user != root@pam)')
        allowed, why = self._check(user, perms['check'], values, declared)
        if not allowed:
            raise PveError(403, 'Permission check failed ({0})'.format(why) if why else 'Permission check failed')

    def _check(self, user, check, values, declared=None):
        """The permission rules fakepve simplifies, as RPCEnvironment::exec_api2_perm_check has them."""
        form = check[0]
        if form == 'userid-param' and check[1] == 'self':
            # A token is not its owner here.
            return values.get('userid') in self.user_cfg.users and values.get('userid') == user, ''
        if form == 'userid-group':
            return self._check_userid_group(user, check[1], dict(zip(check[2::2], check[3::2])), values)
        if form == 'perm-modify':
            return self._may_modify_acl(user, normalize_path(values.get('path')))
        return super()._check(user, check, values, declared)

    def _check_userid_group(self, user, privs, opts, values):
        """User.Modify (or the given privileges) on /access/groups, or on the groups involved."""
        userid = values.get('userid')
        existing = opts.get('groups_param') != 'create'
        wanted = '|'.join(privs)
        if existing and userid not in self.user_cfg.users:
            return False, ''
        if any(self.allowed(user, '/access/groups', p) for p in privs):
            return True, ''
        mine = set(g for g in self.user_cfg.groups if any(self.allowed(user, '/access/groups/' + g, p) for p in privs))
        if opts.get('groups_param'):
            asked = split_list(values.get('groups'))
            if not asked:
                return False, '/access/groups, ' + wanted
            for groupid in asked:
                if groupid not in mine:
                    return False, '/access/groups/{0}, {1}'.format(groupid, wanted)
        if existing and not any(userid in self.user_cfg.groups[g].users for g in mine):
            return False, ''
        return True, ''

    def _may_modify_acl(self, user, path):
        """RPCEnvironment::check_perm_modify: Permissions.Modify, or the object's own allocate privilege."""
        if path is None:
            return False, ''
        privs = ['Permissions.Modify']
        for prefix, priv in OWN_ALLOCATE:
            if path.startswith(prefix):
                privs.append(priv)
        return any(self.allowed(user, path, p) for p in privs), '{0}, {1}'.format(path, '|'.join(privs))
