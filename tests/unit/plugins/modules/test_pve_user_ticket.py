"""pve_user_ticket with the logins stubbed: it logs in as the user, changes the password idempotently."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveVersion
from ansible_collections.pvelab.proxmox.plugins.modules import pve_user_ticket
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import (  # noqa: F401 pylint: disable=unused-import
    PVE_8_4,
    PVE_9_1,
    dumps,
    run,
    stub,
)

OLD, NEW = 'old-password-1', 'new-password-2'


@pytest.fixture
def accounts(stub, monkeypatch):
    table = {'alice@pve': OLD}
    seen = []
    versions = [PVE_9_1]  # what GET /version answers the user's ticket; the last item is read
    confirms = []

    def user_login(params, userid, password):
        seen.append((params['api_host'], userid))
        if table.get(userid) != password:
            return None
        return {'ticket': 'PVE:{0}:TICKET'.format(userid), 'CSRFPreventionToken': 'CSRF', 'username': userid}

    def change_own_password(params, login, userid, old, new, confirm=True):
        assert login['ticket'] == 'PVE:alice@pve:TICKET' and table[userid] == old
        confirms.append(confirm)
        table[userid] = new

    def user_version(params, login):
        assert login['ticket'] == 'PVE:alice@pve:TICKET'
        seen.append('GET /version')
        return versions[-1]
    monkeypatch.setattr(pve_user_ticket, 'user_login', user_login)
    monkeypatch.setattr(pve_user_ticket, 'change_own_password', change_own_password)
    monkeypatch.setattr(pve_user_ticket, 'user_version', user_version)
    return table, seen, versions, confirms


def test_ticket_of_the_user_not_of_the_admin(stub, accounts):
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD))
    assert not failed and not result['changed']
    assert result['ticket'] == 'PVE:alice@pve:TICKET' and result['csrf_token'] == 'CSRF'
    assert result['username'] == 'alice@pve'
    assert accounts[1] == [('127.0.0.1', 'alice@pve')] and stub.calls == []   # the admin connection is unused
    assert OLD not in dumps(result)


def test_no_admin_credentials_needed(stub, accounts):
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import Exit
    with patch_module_args({'api_host': 'pve1', 'userid': 'alice', 'password': OLD}):
        with pytest.raises(Exit) as exc:
            pve_user_ticket.main()
    assert not exc.value.failed and exc.value.result['ticket']


def test_change_password_then_idempotent(stub, accounts):
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW), check=True)
    assert not failed and result['changed'] and accounts[0]['alice@pve'] == OLD
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert result['changed'] and result['password_changed'] and accounts[0]['alice@pve'] == NEW
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert not failed and not result['changed'] and result['ticket']
    assert OLD not in dumps(result) and NEW not in dumps(result)


def test_refused_login(stub, accounts):
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password='wrong-one-1'))
    assert failed and 'refused the login as alice@pve' in result['msg'] and 'wrong-one-1' not in result['msg']


def test_short_new_password_fails_before_login(stub, accounts):
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password='short'))
    assert failed and 'new_password is 5 characters' in result['msg'] and accounts[1] == []


def test_tfa_user(stub, accounts, monkeypatch):
    monkeypatch.setattr(pve_user_ticket, 'user_login', lambda *a: {'ticket': 'PVE:!tfa!x', 'NeedTFA': 1})
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD))
    assert failed and 'two-factor' in result['msg']


@pytest.mark.parametrize('release', [PVE_9_1, PVE_8_4])
def test_password_change_sends_the_confirmation_on_both_releases(stub, accounts, release):
    accounts[2].append(release)
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert not failed and result['password_changed'] and accounts[3] == [True]
    assert accounts[1].count('GET /version') == 1


def test_no_version_read_without_a_change(stub, accounts):
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW), check=True)
    assert not failed and result['changed'] and 'GET /version' not in accounts[1]


def test_an_unsupported_pve_is_refused_before_the_password_changes(stub, accounts):
    accounts[2].append(PveVersion('8.3.5', '8.3', '0' * 16))
    result, failed = run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert failed and 'Proxmox VE 8.3.5 is not supported' in result['msg'] and 'Proxmox VE 8.4 or later' in \
        result['msg']
    assert accounts[0]['alice@pve'] == OLD and accounts[3] == [] and OLD not in result['msg']
