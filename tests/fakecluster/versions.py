"""The Proxmox VE release the fake serves: 9.1 (the default) or 8.4.

fakepve validates every request against PVE 9's API schema. With `pve_version = '8.4'` a LabPve answers as
PVE 8.4 does wherever the two differ in what the collection uses; each difference was read in PVE's sources
(branch master for 9.x; stable-8 of pve-manager, stable-bookworm of pve-access-control and qemu-server for 8.4):

- `GET /version` (pve-manager `PVE/API2.pm`, `PVE/pvecfg.pm.in`): `version` is the pve-manager package version,
  `release` its x.y, `repoid` the short git id it was built from (16 hex digits since PVE 8);
- privileges and built-in roles (privileges.py): VM.Monitor on 8.4, VM.GuestAgent.* and VM.Replicate on 9;
- ACL paths (access.py, `check_path` of pve-access-control `src/PVE/AccessControl.pm`): `/sdn/fabrics` (9.0.1),
  `/sdn/prefix-lists` and `/sdn/route-maps` (9.1.0) are PVE 9 only;
- `PUT /access/users/{userid}/token/{tokenid}` (pve-access-control `src/PVE/API2/User.pm`): `delete` (9.0.4) and
  `regenerate` (9.1.0) are not in 8.4's schema, so sending them is PVE's 400 "Parameter verification failed."
  (`property is not defined in schema ...`); and 8.4 keeps the old comment when `comment` is empty
  (access_api.py);
- guest agent commands (qemu-server `src/PVE/API2/Qemu/Agent.pm`): every one needs VM.Monitor on /vms/{vmid} on
  8.4; PVE 9 asks for VM.GuestAgent.* (Audit for ping and network-get-interfaces) or VM.GuestAgent.Unrestricted.

The same in both (checked): `PUT /access/password` with `confirmation-password` (pve-access-control 8.1.3 and
later) and passwords of 8 to 64 characters; the clone, start/stop/shutdown, delete, config and snapshot
parameters the collection sends; `/cluster/resources`' `shared` flag of storages.
"""

from fakepve import schema as pve_schema
from fakepve.server import ok

from .privileges import BY_RELEASE

DEFAULT_RELEASE = '9.1'
# GET /version of each release: the last pve-manager of that release in its debian/changelog, and the 16-digit
# id of its "bump version" commit (what the build writes as repoid).
RELEASES = {
    '9.1': {'version': '9.1.19', 'release': '9.1', 'repoid': '076d7c3c108f0346'},
    '8.4': {'version': '8.4.21', 'release': '8.4', 'repoid': '2606ac850d46da29'},
}
# Request parameters 8.4's schema does not have: (method, schema path) -> names.
NOT_IN_8 = {('PUT', '/access/users/{userid}/token/{tokenid}'): ('delete', 'regenerate')}
AGENT = '/nodes/{node}/qemu/{vmid}/agent/'
PVE8_AGENT_PERMISSION = {'check': ['perm', '/vms/{vmid}', ['VM.Monitor']]}


def _as_pve8(template, methods):
    """fakepve's schema methods of one path as PVE 8.4 has them (a copy; fakepve's own stay untouched)."""
    out = {}
    for method, info in methods.items():
        info = dict(info)
        drop = NOT_IN_8.get((method, template))
        if drop:
            parameters = dict(info.get('parameters') or {})
            parameters['properties'] = dict((k, v) for k, v in parameters.get('properties', {}).items()
                                            if k not in drop)
            info['parameters'] = parameters
        if template.startswith(AGENT) or template == AGENT.rstrip('/') and method == 'POST':
            info['permissions'] = PVE8_AGENT_PERMISSION
        out[method] = info
    return out


class PveVersions(object):
    """Mixin of LabPve (first in its bases): which PVE release the fake is, and what that changes."""

    _pve_version = DEFAULT_RELEASE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schema_cache = {}
        self._set_version_fields()

    def _set_version_fields(self):
        # fakepve's own attributes (which it answers GET /version from) agree with the release.
        info = RELEASES[self._pve_version]
        self.version, self.release_version = info['version'], info['release']

    @property
    def pve_version(self):
        """'9.1' or '8.4'."""
        return self._pve_version

    @pve_version.setter
    def pve_version(self, value):
        value = str(value)
        if value not in RELEASES:
            raise ValueError('pve_version {0!r}: the fake serves {1}'.format(value, ' or '.join(sorted(RELEASES))))
        privileges, roles = BY_RELEASE[value]
        cfg = getattr(self, 'user_cfg', None)
        if cfg is not None:
            custom = dict((rid, privs) for rid, privs in cfg.roles.items() if rid not in roles)
            for rid, privs in sorted(custom.items()):
                unknown = sorted(set(privs) - privileges)
                if unknown:
                    raise ValueError('role {0} holds {1}, which PVE {2} does not have'.format(
                        rid, ', '.join(unknown), value))
            for entry in self.acl_entries():
                if not self.acl_path_ok(entry['path'], value):
                    raise ValueError('an ACL entry is on {0}, a path PVE {1} does not have'.format(
                        entry['path'], value))
            cfg.roles = dict(roles, **custom)
        self._pve_version = value
        self._set_version_fields()

    @property
    def privileges(self):
        """Every privilege name of this release."""
        return BY_RELEASE[self._pve_version][0]

    @property
    def builtin_roles(self):
        """This release's built-in roles: {roleid: privileges}."""
        return BY_RELEASE[self._pve_version][1]

    # ----------------------------------------------------------- the schema

    def _as_release(self, match):
        """The schema match with this release's methods (PVE 9's as fakepve has them, or PVE 8.4's)."""
        if match is None or self._pve_version == DEFAULT_RELEASE:
            return match
        methods = self._schema_cache.get(match.template)
        if methods is None:
            methods = self._schema_cache[match.template] = _as_pve8(match.template, match.methods)
        if match.methods is methods:
            return match
        return pve_schema.Match(match.template, match.params, methods)

    def resolve(self, request, prefix):
        return self._as_release(super().resolve(request, prefix))

    async def answer(self, request, match, params, user, call=None):
        return await super().answer(request, self._as_release(match), params, user, call)

    async def _version(self, request):
        """GET /version (any logged-in user or token): pve-manager's version, release and repoid."""
        return ok(dict(RELEASES[self._pve_version]))
