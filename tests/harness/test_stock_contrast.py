"""The behaviour fakecluster adds, checked on LabPve and (expected to fail) on stock fakepve.

Each test runs twice: on `lab` it must pass; on `stock` it is a strict xfail, so the suite breaks if stock
fakepve (or a LabPve that silently lost its extension) lets the assertion pass.
"""

import time

from proxmoxer.core import ResourceException


def wait_task(api, node, upid, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        task = api.nodes(node).tasks(upid).status.get()
        if task['status'] == 'stopped' or time.monotonic() > deadline:
            return task
        time.sleep(0.02)


def test_created_user_logs_in_and_is_refused_on_a_neighbours_vm(either_fake):
    root = either_fake.api()
    root.access.users.post(userid='alice@pve', password='alice-password')
    root.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    alice = either_fake.api('alice@pve', 'alice-password')
    assert alice.nodes('pve1').qemu(100).status.current.get()['vmid'] == 100
    try:
        alice.nodes('pve1').qemu(101).status.current.get()
    except ResourceException as e:
        assert e.status_code == 403
    else:
        raise AssertionError('alice read VM 101 without any ACL entry')


def test_node_memory_follows_a_started_vm(either_fake):
    root = either_fake.api()

    def mem():
        return [n for n in root.nodes.get() if n['node'] == 'pve1'][0]['mem']
    before = mem()
    wait_task(root, 'pve1', root.nodes('pve1').qemu(100).status.start.post())
    assert mem() - before == 1024 * 1024 ** 2


def test_agent_answers_for_a_started_clone(either_fake):
    root = either_fake.api()
    wait_task(root, 'pve1', root.nodes('pve1').qemu(9000).clone.post(newid=300, name='s1'))
    wait_task(root, 'pve1', root.nodes('pve1').qemu(300).status.start.post())
    answer = root.nodes('pve1').qemu(300).agent('network-get-interfaces').get()
    eth0 = [i for i in answer['result'] if i['name'] == 'eth0'][0]
    assert {'ip-address': '10.10.1.44', 'ip-address-type': 'ipv4', 'prefix': 16} in eth0['ip-addresses']


def test_a_dhcp_container_reports_its_lease(either_fake):
    """pve-container's /interfaces reads the running container's own addresses: a DHCP NIC shows its lease."""
    either_fake.pve.add_ct(300, 'ct-s1', node='pve1',
                           config={'net0': 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:03:00,ip=dhcp'})
    root = either_fake.api()
    wait_task(root, 'pve1', root.nodes('pve1').lxc(300).status.start.post())
    eth0 = [i for i in root.nodes('pve1').lxc(300).interfaces.get() if i['name'] == 'eth0'][0]
    assert eth0.get('inet') == '10.10.1.44/16'
    assert {'ip-address-type': 'inet', 'ip-address': '10.10.1.44', 'prefix': '16'} in eth0['ip-addresses']
    assert eth0.get('inet6', '').startswith('fe80::')


def test_a_clone_takes_clone_secs(either_fake):
    either_fake.pve.time_scale = 0.01
    either_fake.pve.clone_secs = 40  # 0.4 s of wall time
    root = either_fake.api()
    upid = root.nodes('pve1').qemu(9000).clone.post(newid=300, name='s1')
    assert root.nodes('pve1').tasks(upid).status.get()['status'] == 'running'
    assert wait_task(root, 'pve1', upid)['exitstatus'] == 'OK'


def test_privsep_token_without_acl_sees_no_vms(either_fake):
    root = either_fake.api()
    root.access.users.post(userid='bob@pve')
    root.access.acl.put(path='/', users='bob@pve', roles='PVEAuditor')
    token = root.access.users('bob@pve').token('ci').post()
    api = either_fake.api(token='bob@pve!ci', secret=token['value'])
    assert api.cluster.resources.get(type='vm') == []


def test_a_backup_appears_in_the_storage_content_with_its_notes(either_fake):
    """pve-manager's vzdump: the task ends with a backup volume in the storage's content, notes from the template."""
    root = either_fake.api()
    upid = root.nodes('pve1').vzdump.post(vmid='100', storage='local', mode='snapshot', compress='zstd',
                                          **{'notes-template': 'exam of {{guestname}} ({{vmid}})'})
    assert wait_task(root, 'pve1', upid)['exitstatus'] == 'OK'
    backups = root.nodes('pve1').storage('local').content.get(content='backup', vmid=100)
    assert [(b['vmid'], b['notes'], b['format']) for b in backups] == [(100, 'exam of alpha (100)', 'vma.zst')]
    assert backups[0]['volid'].startswith('local:backup/vzdump-qemu-100-')


def _agent_up(fake, vmid):
    """Start the VM with its agent answering: stock fakepve's agent answers only with a vm.agent dict (its way of
    programming results), LabPve's for agent=1 (and only without one)."""
    root = fake.api()
    wait_task(root, 'pve1', root.nodes('pve1').qemu(vmid).status.start.post())
    if not hasattr(fake.pve, 'set_exec'):
        fake.pve.vm(vmid).agent = {'exec': {}}
    return root


def test_agent_exec_runs_for_its_seconds_and_reports_its_exit_once(either_fake):
    root = _agent_up(either_fake, 100)
    either_fake.pve.time_scale = 0.01
    if hasattr(either_fake.pve, 'set_exec'):
        either_fake.pve.set_exec(100, ['sleep', '20'], secs=20)  # 0.2 s of wall time
    else:
        either_fake.pve.vm(100).agent['exec']['sleep 20'] = {'exitcode': 0}
    agent = root.nodes('pve1').qemu(100).agent
    pid = agent.exec.post(command=['sleep', '20'])['pid']
    assert agent('exec-status').get(pid=pid)['exited'] in (0, False)
    time.sleep(0.25)
    assert agent('exec-status').get(pid=pid)['exited'] in (1, True)
    try:
        agent('exec-status').get(pid=pid)
    except ResourceException as e:
        assert "Invalid parameter 'pid'" in str(e)
    else:
        raise AssertionError('the agent reported the same exit twice')


def test_agent_exec_of_a_program_that_is_not_there_fails(either_fake):
    root = _agent_up(either_fake, 100)
    try:
        root.nodes('pve1').qemu(100).agent.exec.post(command=['nosuch'])
    except ResourceException as e:
        assert 'Failed to execute child process' in str(e)
    else:
        raise AssertionError('a program nobody programmed ran')


def test_agent_exec_on_a_stopped_vm_says_the_vm_is_not_running(either_fake):
    try:
        either_fake.api().nodes('pve1').qemu(101).agent.exec.post(command=['true'])
    except ResourceException as e:
        assert str(e).endswith('VM 101 is not running')
    else:
        raise AssertionError('a stopped VM ran a command')
