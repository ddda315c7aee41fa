"""The fake PVE of the access modules' unit tests: LabPve (tests/unit/plugins/fake_pve.py) as it starts, with
root@pam only, PVE 9.1's built-in roles and no ACL entry; the modules log in as root@pam / 'secret'.

LabPve keeps user.cfg as PVE does (tests/fakecluster/access.py, access_api.py): users, groups, roles, ACL
entries, tokens and passwords, PVE's checks and messages, access control for every other login. Tests read
what really got written from `access.pve` (its `user_cfg`, `acl_entries()`, `check_password()`) and what the
module sent from the request log (`access.calls()`, `writes()`, `json_writes()`, `version_reads()`, `logins()`).
"""

import json

import pytest

from ansible_collections.pvelab.proxmox.tests.unit.plugins.fake_pve import new_pve, serve
from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import Exit, catch_exits  # noqa: F401 pylint: disable=unused-import


@pytest.fixture
def access(tmp_path_factory, monkeypatch):
    catch_exits(monkeypatch)
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    yield from serve(new_pve(), tmp_path_factory)


def user(access, userid):
    """A user as GET /access/users shows it: enable, expire and the fields that are set."""
    return access.pve.user_cfg.users[userid].fields()


def members(access, groupid):
    return set(access.pve.user_cfg.groups[groupid].users)


def roles(access):
    return dict((roleid, set(privs)) for roleid, privs in access.pve.user_cfg.roles.items())


def acl(access):
    """The ACL as {(path, type, ugid, roleid): propagate}."""
    return dict(((e['path'], e['type'], e['ugid'], e['roleid']), e['propagate']) for e in access.pve.acl_entries())


def tokens(access, userid):
    return dict((name, t.info()) for name, t in access.pve.user_cfg.users[userid].tokens.items())


def user_logins(access):
    """The password logins of others than the modules' own (root@pam)."""
    return [u for u in access.logins() if u != access.pve.user]


def dumps(result):
    return json.dumps(result, sort_keys=True, default=str)
