"""Node memory, the guest agent, task durations and clones on LabPve."""

import time

import pytest

GiB = 1024 ** 3
MiB = 1024 ** 2


def wait_task(api, node, upid, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        task = api.nodes(node).tasks(upid).status.get()
        if task['status'] == 'stopped':
            return task
        assert time.monotonic() < deadline, 'task {0} still running'.format(upid)
        time.sleep(0.02)


def node_entry(api, name, **query):
    return [n for n in api.cluster.resources.get(**query) if n['type'] == 'node' and n['node'] == name][0]


def interfaces(api, node, vmid):
    return api.nodes(node).qemu(vmid).agent('network-get-interfaces').get()['result']


def ipv4_of(api, node, vmid):
    eth0 = [i for i in interfaces(api, node, vmid) if i['name'] == 'eth0'][0]
    return [(a['ip-address'], a['prefix']) for a in eth0['ip-addresses'] if a['ip-address-type'] == 'ipv4']


# ------------------------------------------------------------------ node memory

def test_node_memory_follows_the_vms_running_on_it(pve_api):
    assert pve_api.nodes('pve1').status.get()['memory']['used'] == 2 * GiB
    assert node_entry(pve_api, 'pve1', type='node')['mem'] == 2 * GiB
    pve_api.nodes('pve1').qemu(100).status.start.post()
    pve_api.nodes('pve1').qemu(101).status.start.post()
    status = pve_api.nodes('pve1').status.get()['memory']
    assert status == {'total': 16 * GiB, 'used': 2 * GiB + 2048 * MiB, 'free': 12 * GiB, 'available': 12 * GiB}
    assert node_entry(pve_api, 'pve1')['mem'] == 4 * GiB
    assert node_entry(pve_api, 'pve2')['mem'] == 1 * GiB  # the other node is untouched
    pve_api.nodes('pve1').qemu(100).status.stop.post()
    assert [n['mem'] for n in pve_api.nodes.get() if n['node'] == 'pve1'] == [3 * GiB]


@pytest.mark.cluster('demo.json')
def test_demo_nodes_differ_in_free_memory(pve_api):
    free = dict((n['node'], n['maxmem'] - n['mem']) for n in pve_api.nodes.get())
    assert max(free, key=free.get) == 'pve2'
    assert free == {'pve1': 26 * GiB, 'pve2': 54 * GiB, 'pve3': 46 * GiB}


def test_an_offline_node_shows_no_usage(pve_cluster, pve_api, refused):
    pve_cluster.pve.set_node_offline('pve2')
    entry = [n for n in pve_api.nodes.get() if n['node'] == 'pve2'][0]
    assert entry['status'] == 'offline' and 'mem' not in entry and entry['maxmem'] == 8 * GiB
    assert refused(pve_api.nodes('pve2').status.get)[0] == 595


def test_node_usage_needs_sys_audit_on_the_node(pve_api, student):
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    nodes = student.nodes.get()
    assert [n['node'] for n in nodes] == ['pve1', 'pve2'] and all('mem' not in n for n in nodes)
    pve_api.access.acl.put(path='/nodes/pve1', users='alice@pve', roles='PVEAuditor')
    assert [n['node'] for n in student.nodes.get() if 'mem' in n] == ['pve1']


# ------------------------------------------------------------------ guest agent

def test_the_agent_answers_with_a_stable_dhcp_lease_and_a_link_local_address(pve_api, refused):
    assert refused(interfaces, pve_api, 'pve1', 101)[1].count('not running') == 1  # stopped: no agent
    pve_api.nodes('pve1').qemu(101).status.start.post()
    names = [i['name'] for i in interfaces(pve_api, 'pve1', 101)]
    assert names == ['lo', 'eth0']
    eth0 = interfaces(pve_api, 'pve1', 101)[1]
    assert eth0['hardware-address'] == 'bc:24:11:00:01:01'
    assert [a['ip-address'] for a in eth0['ip-addresses']] == ['10.10.0.101', 'fe80::be24:11ff:fe00:101']
    pve_api.nodes('pve1').qemu(101).status.stop.post()
    pve_api.nodes('pve1').qemu(101).status.start.post()
    assert ipv4_of(pve_api, 'pve1', 101) == [('10.10.0.101', 16)]


def test_the_agent_reports_the_static_ipconfig0_address(pve_api):
    pve_api.nodes('pve1').qemu(100).status.start.post()
    assert ipv4_of(pve_api, 'pve1', 100) == [('192.0.2.100', 24)]
    assert pve_api.nodes('pve1').qemu(100).agent('ping').post() == {'result': {}}


def test_a_started_clone_answers_with_its_own_lease(pve_api):
    for newid in (200, 201):
        wait_task(pve_api, 'pve1', pve_api.nodes('pve1').qemu(9000).clone.post(newid=newid, name='s{0}'.format(newid)))
        wait_task(pve_api, 'pve1', pve_api.nodes('pve1').qemu(newid).status.start.post())
    assert ipv4_of(pve_api, 'pve1', 200) == [('10.10.0.200', 16)]
    assert ipv4_of(pve_api, 'pve1', 201) == [('10.10.0.201', 16)]


def test_the_agent_follows_agent_and_ipconfig0_changes(pve_api, refused):
    pve_api.nodes('pve1').qemu(101).config.put(agent='0')
    pve_api.nodes('pve1').qemu(101).status.start.post()
    assert refused(interfaces, pve_api, 'pve1', 101)[0] == 500
    pve_api.nodes('pve1').qemu(101).config.put(agent='enabled=1,fstrim_cloned_disks=1',
                                               ipconfig0='ip=198.51.100.7/25')
    pve_api.nodes('pve1').qemu(101).status.reboot.post()  # the pending ipconfig0 applies on the next boot
    assert ipv4_of(pve_api, 'pve1', 101) == [('198.51.100.7', 25)]


def test_agent_delay_and_hang(pve_cluster, pve_api, refused):
    pve_cluster.pve.time_scale = 0.01
    vm = pve_cluster.pve.vm(101)
    vm.agent_delay_secs = 30  # 0.3 s of wall time
    wait_task(pve_api, 'pve1', pve_api.nodes('pve1').qemu(101).status.start.post())
    assert refused(interfaces, pve_api, 'pve1', 101)[1].count('QEMU guest agent is not running') == 1
    time.sleep(0.35)
    assert ipv4_of(pve_api, 'pve1', 101) == [('10.10.0.101', 16)]
    vm.agent_hangs = True
    pve_cluster.pve.time_scale = 0.001
    assert 'got timeout' in refused(interfaces, pve_api, 'pve1', 101)[1]


# ---------------------------------------------------------- clones and tasks

@pytest.mark.cluster('small.json', time_scale=0.01, clone_secs=30)
def test_a_clone_runs_for_clone_secs_holding_lock_clone(pve_api):
    started = time.monotonic()
    upid = pve_api.nodes('pve1').qemu(9000).clone.post(newid=300, name='s1', full=1)
    assert pve_api.nodes('pve1').tasks(upid).status.get()['status'] == 'running'
    new = [r for r in pve_api.cluster.resources.get(type='vm') if r['vmid'] == 300][0]
    assert new['lock'] == 'clone'
    assert wait_task(pve_api, 'pve1', upid)['exitstatus'] == 'OK'
    assert time.monotonic() - started >= 0.3
    assert 'lock' not in pve_api.nodes('pve1').qemu(300).config.get()


@pytest.mark.cluster('small.json', time_scale=0.01, clone_secs=20)
def test_clones_run_in_parallel(pve_api):
    started = time.monotonic()
    upids = [pve_api.nodes('pve1').qemu(9000).clone.post(newid=300 + n, name='s{0}'.format(n)) for n in range(4)]
    for upid in upids:
        assert wait_task(pve_api, 'pve1', upid)['exitstatus'] == 'OK'
    assert time.monotonic() - started < 0.2 * 4  # not one after the other


@pytest.mark.cluster('small.json', time_scale=0.01, default_start_secs=20, default_shutdown_secs=20)
def test_vms_made_through_the_api_get_the_default_durations(pve_api):
    wait_task(pve_api, 'pve1', pve_api.nodes('pve1').qemu(9000).clone.post(newid=300, name='s1'))
    upid = pve_api.nodes('pve1').qemu(300).status.start.post()
    assert pve_api.nodes('pve1').tasks(upid).status.get()['status'] == 'running'
    wait_task(pve_api, 'pve1', upid)
    upid = pve_api.nodes('pve1').qemu(300).status.shutdown.post()
    assert pve_api.nodes('pve1').qemu(300).status.current.get()['status'] == 'running'
    wait_task(pve_api, 'pve1', upid)
    assert pve_api.nodes('pve1').qemu(300).status.current.get()['status'] == 'stopped'


def test_a_clone_to_another_node_from_local_storage_is_refused(pve_api, refused):
    status, message = refused(pve_api.nodes('pve1').qemu(9000).clone.post, newid=300, target='pve2')
    assert status == 500 and "can't clone VM to node 'pve2' (VM uses local storage)" in message


@pytest.mark.cluster('demo.json')
def test_the_demo_template_clones_to_every_node(pve_api):
    for newid, node in ((301, 'pve1'), (302, 'pve2'), (303, 'pve3')):
        upid = pve_api.nodes('pve1').qemu(9000).clone.post(newid=newid, name='s{0}'.format(newid), target=node)
        assert wait_task(pve_api, 'pve1', upid)['exitstatus'] == 'OK'
        assert pve_api.nodes(node).qemu(newid).config.get()['scsi0'].startswith('shared-nfs:')
    linked = pve_api.nodes('pve1').qemu(9000).clone.post(newid=304, name='linked', full=0, target='pve3')
    assert wait_task(pve_api, 'pve1', linked)['exitstatus'] == 'OK'
    assert 'base-9000-disk-0' in pve_api.nodes('pve3').qemu(304).config.get()['scsi0']


# ------------------------------------------------------------- description

@pytest.mark.cluster('demo.json')
def test_the_demo_cluster_holds_the_foreign_objects(pve_cluster, pve_api):
    state = pve_cluster.pve.lab_state()
    assert [u['userid'] for u in state['users']] == ['other@pve', 'root@pam']
    assert state['roles'] == {'OpsAuditor': ['Datastore.Audit', 'Sys.Audit', 'VM.Audit']}
    assert {'path': '/vms/101', 'type': 'user', 'ugid': 'other@pve', 'roleid': 'PVEVMUser', 'propagate': 1} \
        in state['acl']
    assert state['pools'] == [{'poolid': 'web', 'comment': 'production web servers (not a lab)', 'vms': [101],
                               'storage': []}]
    assert [r['comment'] for r in pve_api.cluster.firewall.rules.get()] == ['ops ssh']
    assert pve_api.cluster.firewall.groups('webservers').get()[0]['dport'] == '443'
    assert pve_api.cluster.firewall.options.get()['policy_in'] == 'ACCEPT'
    other = pve_cluster.api('other@pve', 'other-secret')
    assert [vm['vmid'] for vm in other.cluster.resources.get(type='vm')] == [101]
    assert ipv4_of(pve_api, 'pve1', 100) == [('192.0.2.10', 24)]


def test_a_description_with_unknown_keys_is_refused():
    from fakecluster import build
    with pytest.raises(ValueError):
        build({'nodes': [{'name': 'pve1'}], 'vm': []})
    with pytest.raises(ValueError):
        build({'vms': [{'vmid': 100, 'config': {'scsi0': 'nosuchstore:vm-100-disk-0,size=1G'}}]})


# ------------------------------------------------------------- the subclass

# The FakePve methods LabPve means to override; any other name clash silently breaks a fakepve feature
# (an access handler once shadowed fakepve's firewall helper `_group_index`).
OVERRIDES = {'_authenticate', '_check', 'allowed', 'check_password', 'check_permissions', 'grant', '_password',
             '_permissions', '_ticket', '_build_app', '_middleware', '_agent_call', '_nodes', '_qm_clone',
             '_qm_create', '_resources', 'add_node', 'task', 'answer', 'resolve', '_version'}
# refusals.py: PVE's parameter decoding and format checks, empty values that do not survive a config file.
OVERRIDES |= {'answer', '_pool_update', '_qm_snapshot_config_put', '_lxc_snapshot_config_put'}
# refusals.py: a VM's sshkeys checked as public keys after the schema's checks.
OVERRIDES |= {'_verify'}
# cluster.py: a clone under way shows only its lock; the node's task list by source.
OVERRIDES |= {'_vm_status', '_config_get', '_pending', '_task_list'}
# cluster.py: a DHCP container's lease in its /interfaces.
OVERRIDES |= {'_lxc_interfaces'}
# pvefw.py: the firewall compile is noted before requests, task steps and pauses; /cluster/status shows node ips.
OVERRIDES |= {'pause', '_cluster_status'}
# sdn.py: SDN.Use on a VNet's zone for a guest NIC (VMs and containers), a guest start on an unapplied VNet.
OVERRIDES |= {'_apply_config', '_qm_create', '_check_bridge', '_do_start', '_start_steps'}


def test_labpve_overrides_only_what_it_means_to():
    from fakepve import FakePve

    from fakecluster import LabPve
    clashes = set()
    for cls in LabPve.__mro__[:LabPve.__mro__.index(FakePve)]:
        clashes |= set(k for k in vars(cls) if not k.startswith('__')) & set(dir(FakePve))
    assert clashes == OVERRIDES


@pytest.mark.cluster('demo.json')
def test_fakepves_own_routes_still_work(pve_api):
    assert [g['group'] for g in pve_api.cluster.firewall.groups.get()] == ['webservers']
    pve_api.cluster.firewall.groups.post(group='lab1', comment='made here')
    assert [g['group'] for g in pve_api.cluster.firewall.groups.get()] == ['lab1', 'webservers']
    assert [g['groupid'] for g in pve_api.access.groups.get()] == ['ops']
    assert pve_api.pools.get() == [{'poolid': 'web', 'comment': 'production web servers (not a lab)'}]
