"""pve_role against the in-memory /access stub."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_role
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import run, stub  # noqa: F401 pylint: disable=unused-import


def test_create_idempotent_update_append_delete(stub):
    args = dict(name='LabStudent', privileges=['VM.Console', 'VM.Audit'])
    result, failed = run(pve_role.main, args, check=True)
    assert not failed and result['changed'] and stub.writes() == []
    result = run(pve_role.main, args, diff=True)[0]
    assert result['changes'] == ['created'] and stub.roles['LabStudent'] == {'VM.Console', 'VM.Audit'}
    assert result['diff']['after']['privileges'] == ['VM.Audit', 'VM.Console']
    result = run(pve_role.main, dict(args, privileges=['VM.Audit', 'VM.Console']))[0]
    assert not result['changed']
    result = run(pve_role.main, dict(name='LabStudent', privileges=['VM.PowerMgmt'], append=True))[0]
    assert result['changed'] and stub.roles['LabStudent'] == {'VM.Console', 'VM.Audit', 'VM.PowerMgmt'}
    result = run(pve_role.main, dict(name='LabStudent', privileges=['VM.Audit'], append=True))[0]
    assert not result['changed']
    result = run(pve_role.main, dict(name='LabStudent', privileges=['VM.Audit']))[0]
    assert stub.roles['LabStudent'] == {'VM.Audit'}
    result = run(pve_role.main, dict(name='LabStudent', privileges=[]))[0]
    assert result['changed'] and stub.roles['LabStudent'] == set()
    result = run(pve_role.main, dict(name='LabStudent', state='absent'))[0]
    assert result['changes'] == ['deleted'] and 'LabStudent' not in stub.roles


@pytest.mark.parametrize('name', ['PVEVMUser', 'pveMine', 'Administrator'])
def test_builtin_and_pve_names_refused(stub, name):
    result, failed = run(pve_role.main, dict(name=name, privileges=['VM.Audit']))
    assert failed and name in result['msg'] and stub.calls == []


def test_unknown_privilege_named_with_valid_ones(stub):
    result, failed = run(pve_role.main, dict(name='LabStudent', privileges=['VM.Audit', 'VM.Monitor']))
    assert failed and 'unknown privilege VM.Monitor' in result['msg'] and 'VM.PowerMgmt' in result['msg']
    assert stub.writes() == []


def test_privileges_come_from_the_cluster(stub):
    # A cluster whose Administrator knows an extra privilege (another PVE version) accepts it.
    stub.roles['Administrator'].add('VM.Monitor')
    result, failed = run(pve_role.main, dict(name='Old', privileges=['VM.Monitor']))
    assert not failed and stub.roles['Old'] == {'VM.Monitor'}


def test_pve9_only_privilege_on_pve8_is_named_before_any_write(stub):
    stub.as_pve8()
    result, failed = run(pve_role.main, dict(name='Agent', privileges=['VM.Audit', 'VM.GuestAgent.Audit']),
                         check=True)
    assert failed and 'unknown privilege VM.GuestAgent.Audit on Proxmox VE 8.4.21' in result['msg']
    assert 'VM.GuestAgent.Audit is a PVE 9 privilege' in result['msg'] and 'VM.Monitor' in result['msg']
    result, failed = run(pve_role.main, dict(name='Agent', privileges=['VM.Audit', 'VM.GuestAgent.Audit']))
    assert failed and stub.writes() == [] and stub.version_reads == 2
    result, failed = run(pve_role.main, dict(name='Agent', privileges=['VM.Audit', 'VM.Monitor']))
    assert not failed and stub.roles['Agent'] == {'VM.Audit', 'VM.Monitor'}


def test_vm_monitor_on_pve9_is_named_as_pve8s(stub):
    result, failed = run(pve_role.main, dict(name='Mon', privileges=['VM.Monitor']))
    assert failed and 'unknown privilege VM.Monitor on Proxmox VE 9.1.19' in result['msg']
    assert 'VM.Monitor is a PVE 8 privilege, dropped in PVE 9' in result['msg'] and stub.writes() == []


def test_privileges_of_both_releases_need_no_version(stub):
    result, failed = run(pve_role.main, dict(name='Student', privileges=['VM.Audit', 'VM.Console']))
    assert not failed and result['changed'] and stub.version_reads == 0
