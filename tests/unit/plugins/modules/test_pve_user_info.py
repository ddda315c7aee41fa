"""pve_user_info against the fake PVE's /access API (LabPve, access_fake.py): filters, a lab's accounts by their
comment, one read, no secrets."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_user, pve_user_info
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import (  # noqa: F401 pylint: disable=unused-import
    access,
    dumps,
)


def make(access, **accounts):
    users = [dict(userid=u, password='long-password-{0}'.format(u), comment=c) for u, c in accounts.items()]
    result, failed = access.run(pve_user.main, dict(users=users))
    assert not failed, result


def info(access, **args):
    result, failed = access.run(pve_user_info.main, args)
    assert not failed, result
    assert not result['changed']
    return result['users']


def test_the_accounts_a_lab_made_are_found_by_their_comment(access):
    make(access, alice='pvelab:netadmin student', bob='pvelab:netadmin student group B',
         tim='pvelab:netadmin teacher', old='pvelab.proxmox lab netadmin', eve='pvelab:netadmin2 student',
         ops='operations')
    access.forget_requests()
    lab = info(access, lab='netadmin')
    assert [(r.method, r.path) for r in access.calls()] == [('GET', '/access/users')]
    assert [(u['userid'], u['lab_kind']) for u in lab] == [
        ('alice@pve', 'student'), ('bob@pve', 'student'), ('old@pve', 'student'), ('tim@pve', 'teacher')]
    assert [u['userid'] for u in info(access, lab='netadmin2')] == ['eve@pve']
    everyone = info(access)
    assert [u['userid'] for u in everyone] == ['alice@pve', 'bob@pve', 'eve@pve', 'old@pve', 'ops@pve', 'root@pam',
                                               'tim@pve']
    assert 'lab_kind' not in everyone[0] and 'long-password' not in dumps(everyone)


def test_userids_and_realm_filters(access):
    make(access, alice='x', bob='y')
    assert [u['userid'] for u in info(access, userids=['alice', 'root@pam', 'nobody'])] == ['alice@pve', 'root@pam']
    assert [u['userid'] for u in info(access, realm='pam')] == ['root@pam']
    result, failed = access.run(pve_user_info.main, dict(userids=['bad name']))
    assert failed and 'userids' in result['msg'] and "'bad name'" in result['msg']
