"""UserClient and _access's logins as another user against a stock fakepve: the user's own ticket, through the same
request loop as PveClient (retries, re-login, errors naming the call)."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils import _access
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import (
    PveApiError, PveConnectionError, UserClient)


def logins(fake):
    return [r for r in fake.pve.requests if r[1].endswith('/access/ticket')]


def account(fake, userid, password):
    """A pve account with that password (tests/fakecluster's LabPve keeps accounts in user.cfg, a stock fakepve only
    their passwords)."""
    add_user = getattr(fake.pve, 'add_user', None)
    if add_user is not None:
        add_user(userid, password=password)
    else:
        fake.pve.users[userid] = password


def user_params(fake, **over):
    # The connection's own credentials are not used: a wrong admin password changes nothing.
    return fake.params(api_password='not-used', **over)


def test_login_as_the_user_not_as_the_connection(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    login = _access.user_login(user_params(fake), 'alice@pve', 'alice-pass-1')
    assert login['username'] == 'alice@pve' and login['ticket'] and login['CSRFPreventionToken']
    assert len(logins(fake)) == 1
    assert fake.pve.tickets[login['ticket']]['user'] == 'alice@pve'


def test_refused_login_is_none_and_asked_once(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    assert _access.user_login(user_params(fake), 'alice@pve', 'wrong-pass-1') is None
    assert not _access.password_works(user_params(fake), 'alice@pve', 'wrong-pass-2')
    assert _access.password_works(user_params(fake), 'alice@pve', 'alice-pass-1')
    assert len(logins(fake)) == 3   # a refusal is the answer: neither retried nor a reason to log in again


def test_a_pending_second_factor_still_proves_the_password(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    fake.pve.tfa = True
    login = _access.user_login(user_params(fake), 'alice@pve', 'alice-pass-1')
    assert login['NeedTFA'] == 1 and len(logins(fake)) == 1


def test_version_and_own_password_change_with_the_users_ticket(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    params = user_params(fake)
    login = _access.user_login(params, 'alice@pve', 'alice-pass-1')
    assert _access.user_version(params, login).version == fake.pve.version
    _access.change_own_password(params, login, 'alice@pve', 'alice-pass-1', 'alice-pass-2')
    assert fake.pve.users['alice@pve'] == 'alice-pass-2'
    versions = [r for r in fake.pve.requests if r[1].endswith('/version')]
    assert len(versions) == 1    # the release check before the write reuses what user_version read
    # a ticket handed over as PVE gave it (a plain dict) works the same way
    plain = dict(login)
    _access.change_own_password(params, plain, 'alice@pve', 'alice-pass-2', 'alice-pass-3')
    assert fake.pve.users['alice@pve'] == 'alice-pass-3'


def test_a_revoked_ticket_means_one_more_login_with_the_same_password(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    client = UserClient(user_params(fake))
    assert client.login('alice@pve', 'alice-pass-1')
    fake.pve.revoke_tickets()
    assert client.get('/version')['version'] == fake.pve.version
    assert len(logins(fake)) == 2


def test_a_given_ticket_is_not_renewed(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    login = _access.user_login(user_params(fake), 'alice@pve', 'alice-pass-1')
    client = UserClient(user_params(fake), login['ticket'], login['CSRFPreventionToken'])
    fake.pve.revoke_tickets()
    with pytest.raises(PveApiError) as err:
        client.get('/version')
    assert err.value.status == 401 and len(logins(fake)) == 1   # no password to log in with again


def test_login_is_retried_after_a_dropped_connection_and_names_the_user(fake):
    account(fake, 'alice@pve', 'alice-pass-1')
    client = UserClient(user_params(fake))
    client.retry_pause = 0.01
    fake.pve.flaky_network(drop_rate=1.0)
    with pytest.raises(PveConnectionError) as err:
        client.login('alice@pve', 'alice-pass-1')
    fake.pve.flaky_network(drop_rate=0.0)
    assert 'POST /access/ticket (username=alice@pve)' in str(err.value) and 'gave up after retries' in str(err.value)
    assert 'alice-pass-1' not in str(err.value)


def test_login_names_ca_path_when_the_certificate_does_not_verify(fake):
    with pytest.raises(PveConnectionError) as err:
        _access.user_login(user_params(fake, ca_path=None), 'alice@pve', 'alice-pass-1')
    assert 'could not be verified' in str(err.value) and 'ca_path' in str(err.value)
