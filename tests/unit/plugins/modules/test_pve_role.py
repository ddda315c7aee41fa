"""pve_role against the fake PVE's /access API (LabPve, access_fake.py)."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_role
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import access, roles  # noqa: F401 pylint: disable=unused-import


def test_create_idempotent_update_append_delete(access):
    args = dict(name='LabStudent', privileges=['VM.Console', 'VM.Audit'])
    result, failed = access.run(pve_role.main, args, check=True)
    assert not failed and result['changed'] and access.writes() == []
    result = access.run(pve_role.main, args, diff=True)[0]
    assert result['changes'] == ['created'] and roles(access)['LabStudent'] == {'VM.Console', 'VM.Audit'}
    assert result['diff']['after']['privileges'] == ['VM.Audit', 'VM.Console']
    result = access.run(pve_role.main, dict(args, privileges=['VM.Audit', 'VM.Console']))[0]
    assert not result['changed']
    result = access.run(pve_role.main, dict(name='LabStudent', privileges=['VM.PowerMgmt'], append=True))[0]
    assert result['changed'] and roles(access)['LabStudent'] == {'VM.Console', 'VM.Audit', 'VM.PowerMgmt'}
    result = access.run(pve_role.main, dict(name='LabStudent', privileges=['VM.Audit'], append=True))[0]
    assert not result['changed']
    result = access.run(pve_role.main, dict(name='LabStudent', privileges=['VM.Audit']))[0]
    assert roles(access)['LabStudent'] == {'VM.Audit'}
    result = access.run(pve_role.main, dict(name='LabStudent', privileges=[]))[0]
    assert result['changed'] and roles(access)['LabStudent'] == set()
    result = access.run(pve_role.main, dict(name='LabStudent', state='absent'))[0]
    assert result['changes'] == ['deleted'] and 'LabStudent' not in roles(access)


@pytest.mark.parametrize('name', ['PVEVMUser', 'pveMine', 'Administrator'])
def test_builtin_and_pve_names_refused(access, name):
    result, failed = access.run(pve_role.main, dict(name=name, privileges=['VM.Audit']))
    assert failed and name in result['msg'] and access.calls() == []


def test_unknown_privilege_named_with_valid_ones(access):
    result, failed = access.run(pve_role.main, dict(name='LabStudent', privileges=['VM.Audit', 'VM.Monitor']))
    assert failed and 'unknown privilege VM.Monitor' in result['msg'] and 'VM.PowerMgmt' in result['msg']
    assert access.writes() == []


def test_privileges_come_from_the_cluster(access):
    # A cluster whose Administrator knows a privilege its version's list does not have accepts it: the fake holds
    # PVE 8.4's privileges (VM.Monitor) while GET /version says 9.1.19, whose list has no VM.Monitor.
    access.pve.pve_version = '8.4'
    access.pve.answer_version('9.1.19')
    result, failed = access.run(pve_role.main, dict(name='Old', privileges=['VM.Monitor']))
    assert not failed and roles(access)['Old'] == {'VM.Monitor'}


def test_pve9_only_privilege_on_pve8_is_named_before_any_write(access):
    access.pve.pve_version = '8.4'
    result, failed = access.run(pve_role.main, dict(name='Agent', privileges=['VM.Audit', 'VM.GuestAgent.Audit']),
                                check=True)
    assert failed and 'unknown privilege VM.GuestAgent.Audit on Proxmox VE 8.4.21' in result['msg']
    assert 'VM.GuestAgent.Audit is a PVE 9 privilege' in result['msg'] and 'VM.Monitor' in result['msg']
    result, failed = access.run(pve_role.main, dict(name='Agent', privileges=['VM.Audit', 'VM.GuestAgent.Audit']))
    assert failed and access.writes() == [] and access.version_reads() == 2
    result, failed = access.run(pve_role.main, dict(name='Agent', privileges=['VM.Audit', 'VM.Monitor']))
    assert not failed and roles(access)['Agent'] == {'VM.Audit', 'VM.Monitor'}


def test_vm_monitor_on_pve9_is_named_as_pve8s(access):
    result, failed = access.run(pve_role.main, dict(name='Mon', privileges=['VM.Monitor']))
    assert failed and 'unknown privilege VM.Monitor on Proxmox VE 9.1.19' in result['msg']
    assert 'VM.Monitor is a PVE 8 privilege, dropped in PVE 9' in result['msg'] and access.writes() == []


def test_privileges_of_both_releases_need_no_version(access):
    # Every write reads GET /version first (PveClient's release check), so check mode shows what the module needs.
    result, failed = access.run(pve_role.main, dict(name='Student', privileges=['VM.Audit', 'VM.Console']),
                                check=True)
    assert not failed and result['changed'] and access.version_reads() == 0
    result, failed = access.run(pve_role.main, dict(name='Student', privileges=['VM.Audit', 'VM.Console']))
    assert not failed and result['changed'] and roles(access)['Student'] == {'VM.Audit', 'VM.Console'}


def test_list_form_one_read_for_every_role(access):
    access.run(pve_role.main, dict(name='LabTeacher', privileges=['VM.Audit']))
    before, written = len(access.calls()), len(access.writes())
    args = dict(roles=[dict(name='LabStudent', privileges=['VM.Console', 'VM.Audit']),
                       dict(name='LabTeacher', state='absent')])
    result, failed = access.run(pve_role.main, args, check=True)
    assert not failed and result['changed'] and len(access.writes()) == written
    assert [(i['key'], i['changes']) for i in result['items']] == [('LabStudent', ['created']),
                                                                   ('LabTeacher', ['deleted'])]
    result, failed = access.run(pve_role.main, args)
    assert not failed and result['changed'] and 'role' not in result
    assert roles(access)['LabStudent'] == {'VM.Console', 'VM.Audit'} and 'LabTeacher' not in roles(access)
    result, failed = access.run(pve_role.main, args)
    assert not failed and not result['changed']
    assert [i['state'] for i in result['items']] == ['present', 'absent']
    reads = [c for c in access.calls()[before:] if c.method == 'GET' and c.path == '/access/roles']
    assert len(reads) == 3


def test_list_form_refuses_every_bad_role_before_any_write(access):
    args = dict(roles=[dict(name='LabStudent', privileges=['VM.Audit']), dict(name='PVEAdmin'),
                       dict(name='Other', privileges=['VM.Nonsense'])])
    result, failed = access.run(pve_role.main, args)
    assert failed and 'roles[1] name' in result['msg'] and access.writes() == []
    bad_privilege = [dict(name='LabStudent', privileges=['VM.Audit']), dict(name='Other', privileges=['VM.Nonsense'])]
    result, failed = access.run(pve_role.main, dict(roles=bad_privilege))
    assert failed and 'roles[1] privileges' in result['msg'] and 'unknown privilege VM.Nonsense' in result['msg']
    assert access.writes() == []
