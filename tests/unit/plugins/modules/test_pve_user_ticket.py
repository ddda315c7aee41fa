"""pve_user_ticket against the fake PVE (LabPve, access_fake.py): it logs in as the user, changes the password
idempotently with the user's own ticket."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_user_ticket
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import (  # noqa: F401 pylint: disable=unused-import
    Exit,
    access,
    dumps,
)

OLD, NEW = 'old-password-1', 'new-password-2'


@pytest.fixture
def alice(access):
    """alice@pve with password OLD, and nothing she may do but log in and change her own password."""
    access.pve.add_user('alice@pve', password=OLD)
    return access


def password_puts(access):
    return [c for c in access.calls() if c.method == 'PUT' and c.path == '/access/password']


def test_ticket_of_the_user_not_of_the_admin(alice):
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD))
    assert not failed and not result['changed']
    session = alice.pve.tickets[result['ticket']]    # a ticket the fake issued, to alice
    assert session['user'] == 'alice@pve' and result['csrf_token'] == session['csrf']
    assert result['username'] == 'alice@pve'
    assert alice.logins() == ['alice@pve'] and alice.calls() == []   # the admin connection is unused
    assert OLD not in dumps(result)


def test_no_admin_credentials_needed(alice):
    from ansible.module_utils.testing import patch_module_args
    with patch_module_args({'api_host': '127.0.0.1', 'api_port': alice.pve.port, 'ca_path': alice.cafile,
                            'userid': 'alice', 'password': OLD}):
        with pytest.raises(Exit) as exc:
            pve_user_ticket.main()
    assert not exc.value.failed and alice.pve.tickets[exc.value.result['ticket']]['user'] == 'alice@pve'


def test_change_password_then_idempotent(alice):
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW), check=True)
    assert not failed and result['changed'] and alice.pve.check_password('alice@pve', OLD)
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert result['changed'] and result['password_changed'] and alice.pve.check_password('alice@pve', NEW)
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert not failed and not result['changed'] and result['ticket']
    assert OLD not in dumps(result) and NEW not in dumps(result)


def test_refused_login(alice):
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password='wrong-one-1'))
    assert failed and 'refused the login as alice@pve' in result['msg'] and 'wrong-one-1' not in result['msg']


def test_short_new_password_fails_before_login(alice):
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password='short'))
    assert failed and 'new_password is 5 characters' in result['msg'] and alice.logins() == []


def test_tfa_user(alice):
    alice.pve.tfa = True  # every password login then wants a second factor
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD))
    assert failed and 'two-factor' in result['msg']


@pytest.mark.parametrize('release', ['9.1', '8.4'])
def test_password_change_sends_the_confirmation_on_both_releases(alice, release):
    alice.pve.pve_version = release
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert not failed and result['password_changed'] and alice.pve.check_password('alice@pve', NEW)
    # Masked in the log; the fake refuses a change without it (or with another than alice's old password).
    assert [put.data.get('confirmation-password') for put in password_puts(alice)] == ['***']
    assert alice.version_reads() == 1


def test_no_version_read_without_a_change(alice):
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW), check=True)
    assert not failed and result['changed'] and alice.version_reads() == 0


def test_an_unsupported_pve_is_refused_before_the_password_changes(alice):
    alice.pve.answer_version('8.3.5')
    result, failed = alice.run(pve_user_ticket.main, dict(userid='alice', password=OLD, new_password=NEW))
    assert failed and 'Proxmox VE 8.3.5 is not supported' in result['msg'] and 'Proxmox VE 8.4 or later' in \
        result['msg']
    assert alice.pve.check_password('alice@pve', OLD) and password_puts(alice) == [] and OLD not in result['msg']
