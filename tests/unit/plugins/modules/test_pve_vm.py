"""pve_vm against the fake PVE (LabPve, guest_fake.py): finding guests, power states, config with MACs kept and
pending changes, agent addresses, template conversion, removal with purge, list form, check mode and diff."""

from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pvelab.proxmox.plugins.modules import pve_vm
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import


# A real key: PVE (and the fake, tests/fakecluster/refusals.py) refuses sshkeys lines that are no public keys.
TEACHER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExQEOO7oDYJtPmbHDrn/ax4KcpdEZ1Y4GTiyf141eX6 teacher@lab'


def vm(served, check=False, diff=False, **args):
    return served.run(pve_vm.main, args, check=check, diff=diff)


def test_find_errors_before_writing(served):
    result, failed = vm(served, name='dup', state='started')
    assert failed and 'matches 2 guests' in result['msg'] and '102, 103' in result['msg']
    result, failed = vm(served, name='ghost', state='started')
    assert failed and "no guest named 'ghost'" in result['msg'] and 'pve_clone' in result['msg']
    result, failed = vm(served, name='ghost', type='qemu', state='started')
    assert failed and "no VM named 'ghost'" in result['msg']
    result, failed = vm(served, name='web01', node='pve1', state='started')
    assert failed and 'is on node pve2, not pve1' in result['msg']
    result, failed = vm(served, name='tmpl-debian', state='started')
    assert failed and 'is a template' in result['msg']
    result, failed = vm(served, vmid=101, type='lxc', state='started')
    assert failed and 'is a qemu, not a lxc' in result['msg']
    result, failed = vm(served, vms=[{'name': 'web01'}, {'vmid': 101}], state='started')
    assert failed and 'both name web01' in result['msg']
    result, failed = vm(served, name='web01', ciuser='x', type='lxc')
    assert failed and 'do not apply to a container' in result['msg']
    assert served.writes() == []
    result, failed = vm(served, name='ghost', state='absent')
    assert not failed and not result['changed'] and result['vm']['status'] == 'absent'


def test_without_type_a_container_is_found_and_worked_on_as_a_container(served):
    """A vmid is unique across VMs and containers: without `type` the guest's own type decides (the lab role starts
    its clones by vmid whatever the template was); `type` stays a filter."""
    ct = served.pve.add_ct(300, 'ct-web', node='pve2', config={'memory': 512, 'cores': 1, 'ostype': 'debian',
                                                               'net0': 'name=eth0,bridge=vmbr0,ip=10.30.0.5/24'})
    served.settle()
    result, failed = vm(served, vmids=[300, 101], state='started')
    assert not failed and [(i['vmid'], i['type'], i['status']) for i in result['items']] == [
        (300, 'lxc', 'running'), (101, 'qemu', 'running')]
    assert ct.status == 'running' and served.vm_named('web01').status == 'running'
    assert [w for w in served.writes() if w.path.endswith('/lxc/300/status/start')]
    result, failed = vm(served, name='ct-web', cores=2)
    assert not failed and result['changed'] and result['vm']['type'] == 'lxc' and ct.config['cores'] == 2
    result, failed = vm(served, name='ct-web', cores=2)
    assert not failed and not result['changed']
    # type filters: a container by name is no VM, by vmid it is the wrong kind
    result, failed = vm(served, name='ct-web', type='qemu', cores=2)
    assert failed and "no VM named 'ct-web'" in result['msg']
    result, failed = vm(served, vmid=300, type='qemu', state='started')
    assert failed and 'is a lxc, not a qemu' in result['msg']
    # VM-only options on a container found without type: refused before any write
    written = len(served.writes())
    result, failed = vm(served, vmids=[101, 300], sshkeys=TEACHER_KEY)
    assert failed and 'ct-web (vmid 300) is a container: sshkeys do not apply to it' in result['msg']
    assert len(served.writes()) == written


def warned_run(served, **args):
    """(result, failed, warnings): a module's warning is caught where the module gives it (where it ends up depends
    on the ansible-core version, see test_pve_clone.py)."""
    warned = []
    real_warn = AnsibleModule.warn
    with mock.patch.object(AnsibleModule, 'warn', autospec=True,
                           side_effect=lambda module, msg, *a, **kw: (warned.append(msg), real_warn(module, msg))[1]):
        result, failed = vm(served, **args)
    return result, failed, warned


def test_memory_below_what_the_os_type_boots_with_is_a_warning(served):
    served.pve.add_ct(301, 'ct-small', node='pve2', config={'memory': 512, 'ostype': 'alpine'})
    served.settle()
    result, failed, warned = warned_run(served, vmid=101, memory=128)
    assert not failed and result['changed'] and int(served.vm_named('web01').config['memory']) == 128
    assert warned == ['web01 (vmid 101): memory 128 MiB is below the 256 MiB a guest of ostype other needs to boot']
    served.vm_named('web01').config['ostype'] = 'win11'
    result, failed, warned = warned_run(served, vmid=101, memory=2048)
    assert not failed and [w for w in warned if 'below the 4096 MiB a guest of ostype win11 needs to boot' in w]
    result, failed, warned = warned_run(served, vmid=301, memory=32)
    assert not failed and warned == ['ct-small (vmid 301): memory 32 MiB is below the 64 MiB a container needs to boot']
    result, failed, warned = warned_run(served, vmid=101, memory=4096)
    assert not failed and warned == []


def test_a_guest_pvestatd_has_not_reported_yet_is_found_by_name(served):
    served.hold_statd()  # /cluster/resources names no guest made from now on
    fresh = served.pve.add_vm(104, 'fresh', node='pve3', config={'memory': 512, 'cores': 1})
    result, failed = vm(served, name='fresh', state='started')
    assert not failed and result['changed'] and result['vm']['vmid'] == 104 and fresh.status == 'running'
    assert [r.get('name') for r in served.resources() if r.get('vmid') == 104] == [None]
    served.settle()  # pvestatd's next broadcast: now the cache says what the module did
    assert [(r['name'], r['status']) for r in served.resources() if r.get('vmid') == 104] == [('fresh', 'running')]


def test_power_states(served):
    web = served.vm_named('web01')
    result, failed = vm(served, name='web01', state='started', check=True)
    assert not failed and result['changed'] and result['vm']['status'] == 'running' and web.status == 'stopped'
    result, failed = vm(served, name='web01', state='started', diff=True)
    assert not failed and result['changed'] and web.status == 'running'
    assert result['diff'] == {'before': {'status': 'stopped'}, 'after': {'status': 'running'}}
    result, failed = vm(served, name='web01', state='started')
    assert not failed and not result['changed']
    result, failed = vm(served, name='web01', state='restarted')
    assert not failed and result['changed'] and web.status == 'running'
    result, failed = vm(served, name='web01', state='shutdown', timeout=30)
    assert not failed and result['changed'] and web.status == 'stopped'
    result, failed = vm(served, name='web01', state='shutdown')
    assert not failed and not result['changed']
    web.status = 'running'
    result, failed = vm(served, vmid=101, state='stopped')
    assert not failed and result['changed'] and web.status == 'stopped'


def test_shutdown_that_does_not_power_off(served):
    web = served.vm_named('web01')
    web.status = web.qmpstatus = 'running'
    web.acpi = False
    result, failed = vm(served, name='web01', state='shutdown', timeout=5)
    assert failed and 'shutdown failed' in result['msg'] and 'got timeout' in result['msg']
    result, failed = vm(served, name='web01', state='shutdown', timeout=5, force=True)
    assert not failed and result['changed'] and web.status == 'stopped'


def test_config_keeps_mac_and_is_idempotent(served):
    web = served.vm_named('web01')
    args = dict(name='web01', cores=2, memory=2048, net={'net0': 'virtio,bridge=vmbr1,firewall=1',
                                                         'net1': {'model': 'e1000', 'bridge': 'vmbr2'}},
                ciuser='student', cipassword='s3cret!', sshkeys=TEACHER_KEY + '\n',
                ipconfig={'ipconfig0': 'ip=dhcp'}, tags=['lab', 'netadmin'], description='alice', onboot=True,
                agent=True)
    result, failed = vm(served, check=True, diff=True, **args)
    assert not failed and result['changed'] and web.config['cores'] == 1
    assert 'cipassword' not in result['diff']['after'] and 's3cret' not in str(result)
    assert result['diff']['after']['net0'] == 'virtio=BC:24:11:00:01:01,bridge=vmbr1,firewall=1'
    result, failed = vm(served, **args)
    assert not failed and result['changed']
    assert web.config['net0'] == 'virtio=BC:24:11:00:01:01,bridge=vmbr1,firewall=1'
    # real PVE adds a MAC to a new NIC; the fake stores it as sent (fakepve's config update, which LabPve keeps)
    assert web.config['net1'].startswith('e1000') and web.config['tags'] == 'lab;netadmin'
    assert web.config['cipassword'] == 's3cret!' and web.config['sshkeys'].startswith('ssh-ed25519%20')
    mac1 = web.config['net1'].split(',')[0]
    other = dict(args)
    other.update(tags=['netadmin', 'lab'], cipassword='other')
    result, failed = vm(served, **other)
    assert not failed and not result['changed'], result
    assert web.config['cipassword'] == 's3cret!'
    other.update(update_cipassword='always')
    result, failed = vm(served, **other)
    assert result['changed'] and web.config['cipassword'] == 'other'
    result, failed = vm(served, name='web01', net={'net1': 'bridge=vmbr3'}, tags=[], description='')
    assert not failed and web.config['net1'] == mac1 + ',bridge=vmbr3'
    assert 'tags' not in web.config and 'description' not in web.config


def test_running_change_is_pending(served):
    teacher = served.vm_named('teacher')
    result, failed = vm(served, name='teacher', memory=8192, description='the teacher')
    assert not failed and result['changed']
    assert result['vm']['pending'] == {'memory': '8192'} and teacher.config['description'] == 'the teacher'
    result, failed = vm(served, name='teacher', memory=8192, description='the teacher')
    assert not failed and not result['changed'] and result['vm']['pending'] == {'memory': '8192'}
    result, failed = vm(served, name='teacher', state='restarted')
    assert result['changed'] and teacher.config['memory'] == '8192' and teacher.pending == {}


def test_rename_by_vmid(served):
    result, failed = vm(served, vmid=101, name='web02')
    assert not failed and result['changed'] and served.vm_named('web02').vmid == 101
    assert result['vm']['name'] == 'web02'


def test_wait_for_ip_filters_loopback_and_link_local(served):
    teacher = served.vm_named('teacher')
    teacher.agent = {'interfaces': [
        {'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1'}, {'ip-address': '::1'}]},
        {'name': 'eth0', 'ip-addresses': [{'ip-address': 'fe80::be24:11ff:fe00:100'},
                                          {'ip-address': '192.0.2.10'}, {'ip-address': '2001:db8::10'}]}]}
    result, failed = vm(served, name='teacher', state='started', wait_for_ip=True, wait_timeout=5)
    assert not failed and not result['changed']
    assert result['vm']['ips'] == ['192.0.2.10', '2001:db8::10'] and result['vm']['ip'] == '192.0.2.10'
    result, failed = vm(served, name='teacher', wait_for_agent=True, wait_timeout=5)
    assert not failed and result['vm']['ip'] == '192.0.2.10'


def test_wait_for_agent_times_out_by_name(served):
    result, failed = vm(served, name='web01', state='started', wait_for_agent=True, wait_timeout=1)
    assert failed and result['msg'].startswith('web01 (vmid 101): no answer of the guest agent after 1 s')
    assert served.vm_named('web01').status == 'running'


def test_template_conversion(served):
    web = served.vm_named('web01')
    result, failed = vm(served, name='web01', state='template')
    assert not failed and result['changed'] and web.template and result['vm']['template']
    result, failed = vm(served, name='web01', state='template')
    assert not failed and not result['changed']
    result, failed = vm(served, name='teacher', state='template')
    assert failed and 'set force=true' in result['msg'] and not served.vm_named('teacher').template


def test_absent_with_purge(served):
    served.pve.pools['lab'].add(101)
    served.pve._sync_pools()
    result, failed = vm(served, name='teacher', state='absent')
    assert failed and 'it is running' in result['msg'] and served.vm_named('teacher') is not None
    result, failed = vm(served, vms=[{'name': 'teacher'}, {'name': 'web01'}], state='absent', force=True)
    assert not failed and result['changed'] and [v['status'] for v in result['items']] == ['absent', 'absent']
    assert served.vm_named('teacher') is None and served.vm_named('web01') is None
    assert 101 not in served.pve.pools['lab']
    deletes = [r for r in served.pve.requests if r[0] == 'DELETE']
    assert len(deletes) == 2
    result, failed = vm(served, vms=[{'name': 'teacher'}, {'name': 'web01'}], state='absent', force=True)
    assert not failed and not result['changed']


@pytest.mark.parametrize('state', ['started', 'stopped'])
def test_list_form_reports_each_guest(served, state):
    served.vm_named('dup')
    result, failed = vm(served, vms=[{'vmid': 100}, {'vmid': 101}, {'vmid': 102, 'state': 'present'}], state=state)
    assert not failed
    assert [v['vmid'] for v in result['items']] == [100, 101, 102]
    expected = 'running' if state == 'started' else 'stopped'
    assert [v['status'] for v in result['items']][:2] == [expected, expected]
    assert result['items'][2]['changed'] is False


def test_locked_vm_is_retried_until_lock_timeout(served):
    web = served.vm_named('web01')
    served.pve.snapshot_lock(101, 'backup')
    result, failed = vm(served, name='web01', state='started', lock_timeout=2)
    assert failed and 'VM is locked (backup)' in result['msg'] and 'still locked after 2 s' in result['msg']
    assert web.status == 'stopped'
    starts = [r for r in served.pve.requests if r[1].endswith('/status/start')]
    assert len(starts) >= 2


def test_items_are_keyed_by_the_guest_label_and_the_single_form_keeps_vm(served):
    result, failed = vm(served, name='web01', state='started')
    assert not failed and result['vm'] == result['items'][0]
    assert result['items'][0]['key'] == 'web01 (vmid 101)' and result['items'][0]['status'] == 'running'
    result, failed = vm(served, diff=True, vms=[{'vmid': 101, 'name': 'web02'}, {'name': 'ghost', 'state': 'absent'},
                                                {'vmid': 5000, 'state': 'absent'}])
    assert not failed and 'vm' not in result
    assert [i['key'] for i in result['items']] == ['web02 (vmid 101)', "'ghost'", 'vmid 5000']
    assert [i['changed'] for i in result['items']] == [True, False, False]
    assert result['items'][1] == {'key': "'ghost'", 'vmid': None, 'name': 'ghost', 'node': None, 'type': None,
                                  'status': 'absent', 'template': False, 'changed': False}
    assert result['diff'] == {'before': {'web02 (vmid 101)': {'name': 'web01'}},
                              'after': {'web02 (vmid 101)': {'name': 'web02'}}}


def test_bad_items_are_all_named_before_anything_is_read(served):
    result, failed = vm(served, vms=[{'vmid': 42}, {'name': 'web01', 'memory': 0}, {'state': 'started'}])
    assert failed and result['msg'].startswith('nothing was changed: vms[0] vmid 42 is out of range')
    assert 'vms[1]: memory must be at least 1' in result['msg'] and 'vms[2]: give vmid or name' in result['msg']
    assert served.writes() == []
    result, failed = vm(served, name='web01', parallel=0)
    assert failed and result['msg'] == 'parallel must be at least 1'


def test_a_failed_guest_is_named_and_the_others_go_on(served):
    result, failed = vm(served, vms=[{'name': 'teacher', 'state': 'absent'}, {'name': 'web01', 'state': 'started'}])
    assert failed and result['msg'] == 'teacher (vmid 100): it is running; set force=true to stop it before removing it'
    assert [(i['key'], i['changed'], i.get('msg', '')[:13]) for i in result['items']] == [
        ('teacher (vmid 100)', False, 'it is running'), ('web01 (vmid 101)', True, '')]
    assert served.vm_named('web01').status == 'running' and served.vm_named('teacher') is not None


def test_an_empty_list_changes_nothing(served):
    result, failed = vm(served, vms=[])
    assert not failed and not result['changed'] and result['items'] == [] and served.writes() == []
