"""The VM modules end to end, with real ansible-playbook runs against the fake cluster and Python-level fault knobs:
parallel clones with task durations, two bulk runs at once, placement by free memory, a locked VM, a clone task
that fails for one name, waiting for an address, request counts of a bulk clone and of its idempotent re-run."""

import collections
import threading
import time

import pytest

from e2e.helpers import clone_task_fails, run_playbook
from fakecluster import guestagent


def names(prefix, count):
    return ['{0}-{1:02d}'.format(prefix, n) for n in range(1, count + 1)]


def clone_task(clones, **args):
    spec = dict(template='tmpl-debian', clones=[{'name': n} for n in clones])
    spec.update(args)
    return {'name': 'clone', 'pvelab.proxmox.pve_clone': spec, 'register': 'out', 'ignore_errors': True}


def clone(cluster, clones, tmp_path=None, **args):
    result = run_playbook(cluster, tasks=[clone_task(clones, **args)], tmp_path=tmp_path)
    return result, result.task('clone')


def timed(cluster, tasks, tmp_path):
    """(result, seconds the tasks took): the playbook's wall time less that of an empty playbook (start-up)."""
    began = time.monotonic()
    run_playbook(cluster, tasks=[], tmp_path=tmp_path)
    baseline = time.monotonic() - began
    began = time.monotonic()
    result = run_playbook(cluster, tasks=tasks, tmp_path=tmp_path)
    return result, time.monotonic() - began - baseline


def vms_named(cluster, prefix):
    return [vm for vm in cluster.pve.vms if vm.name.startswith(prefix)]


# ----------------------------------------------------------------- parallel clones

@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=200)
def test_twenty_clones_in_parallel(pve_cluster, tmp_path):
    """20 clones of 2 s each (200 PVE s at time_scale 0.01) take a few seconds, not 40, and never share a vmid."""
    clone_real = 200 * 0.01
    result, seconds = timed(pve_cluster, [clone_task(names('par', 20), parallel=10)], tmp_path)
    out = result.task('clone')
    assert result.rc == 0 and not out.get('failed'), result
    assert seconds < 0.35 * 20 * clone_real, seconds          # ten at a time: about 2 clone times
    vmids = [c['vmid'] for c in out['items']]
    assert len(set(vmids)) == 20
    made = vms_named(pve_cluster, 'par-')
    assert sorted(vm.vmid for vm in made) == sorted(vmids) and not any(vm.lock for vm in made)
    print('\n20 clones of {0:.1f} s each, parallel 10: {1:.1f} s'.format(clone_real, seconds))


@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=30)
def test_two_bulk_runs_at_once_do_not_collide(pve_cluster, tmp_path):
    """Two playbooks clone 15 VMs each at the same moment from the same vmid floor: every VM is made once."""
    results = {}

    def run(prefix):
        results[prefix] = clone(pve_cluster, names(prefix, 15), tmp_path=tmp_path / prefix, vmid_floor=3000, parallel=5)
    (tmp_path / 'ra').mkdir()
    (tmp_path / 'rb').mkdir()
    threads = [threading.Thread(target=run, args=(p,)) for p in ('ra', 'rb')]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    vmids = []
    for prefix in ('ra', 'rb'):
        result, out = results[prefix]
        assert result.rc == 0 and not out.get('failed'), result
        assert [c['status'] for c in out['items']] == ['created'] * 15
        vmids += [c['vmid'] for c in out['items']]
    assert len(vmids) == len(set(vmids)) == 30
    made = vms_named(pve_cluster, 'ra-') + vms_named(pve_cluster, 'rb-')
    assert len(made) == 30 and len(set(vm.name for vm in made)) == 30
    assert sorted(vm.vmid for vm in made) == sorted(vmids)
    posts = pve_cluster.count_requests('POST', '/clone')
    print('\ntwo runs of 15 from vmid 3000: {0} clone POSTs for 30 VMs ({1} lost races retried)'.format(
        posts, posts - 30))


# ------------------------------------------------------------------------ placement

@pytest.mark.cluster('demo.json')
def test_placement_by_free_memory_on_three_nodes(pve_cluster, tmp_path):
    """demo.json: pve1 26 GiB free, pve2 54, pve3 46; 30 clones of a 2 GiB template level them out."""
    result, out = clone(pve_cluster, names('mem', 30), tmp_path=tmp_path, placement='memory')
    assert result.rc == 0 and not out.get('failed'), result
    chosen = [c['node'] for c in out['items']]
    assert chosen[:4] == ['pve2'] * 4
    assert collections.Counter(chosen) == {'pve1': 2, 'pve2': 16, 'pve3': 12}
    for vm in vms_named(pve_cluster, 'mem-'):
        assert vm.node == dict((c['name'], c['node']) for c in out['items'])[vm.name]
    # round robin and an offline node
    pve_cluster.pve.set_node_offline('pve2')
    result, out = clone(pve_cluster, names('rr', 4), tmp_path=tmp_path, placement='round_robin')
    pve_cluster.pve.set_node_offline('pve2', offline=False)
    assert result.rc == 0 and 'pve2' not in [c['node'] for c in out['items']]
    assert collections.Counter(c['node'] for c in out['items']) == {'pve1': 2, 'pve3': 2}


@pytest.mark.cluster('demo.json')
def test_local_storage_template_is_refused_on_another_node(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    pve.add_vm(9001, 'tmpl-local', node='pve1', template=True,
               config={'memory': 1024, 'scsi0': 'local-lvm:base-9001-disk-0,size=4G', 'template': 1})
    result, out = clone(pve_cluster, ['loc-1'], tmp_path=tmp_path, template='tmpl-local', node='pve2')
    assert out['failed'] and 'local storage local-lvm (scsi0)' in out['msg']
    assert pve_cluster.count_requests('POST', '/clone') == 0


# ------------------------------------------------------------------ locks and faults

@pytest.mark.cluster('demo.json', time_scale=0.01)
def test_locked_vm_is_retried_then_reported(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    result, out = clone(pve_cluster, ['lock-1'], tmp_path=tmp_path)
    vmid = out['items'][0]['vmid']
    # another task holds the config lock until the first start task has failed on it (released then, however slow
    # the machine is): the start is retried until it gets through
    pve_cluster.call(pve.hold_config_lock(vmid, None))

    def refused_starts():
        return [t for t in pve_cluster.run(lambda: list(pve.tasklog))
                if t['type'] == 'qmstart' and t['status'] == 'stopped' and t.get('exitstatus') != 'OK']

    def release_after_a_refusal():
        deadline = time.monotonic() + 120
        while not refused_starts() and time.monotonic() < deadline:
            time.sleep(0.05)
        pve_cluster.run(pve.release_config_lock, vmid)
    releaser = threading.Thread(target=release_after_a_refusal, daemon=True)
    releaser.start()
    start = {'name': 'start', 'pvelab.proxmox.pve_vm': {'vmid': vmid, 'state': 'started', 'lock_timeout': 60},
             'register': 'out', 'ignore_errors': True}
    result = run_playbook(pve_cluster, tasks=[start], tmp_path=tmp_path)
    releaser.join(5)
    assert result.rc == 0 and result.task('start')['changed'], result
    assert pve.vm(vmid).status == 'running'
    assert 'lock' in refused_starts()[0]['exitstatus'] and pve_cluster.count_requests('POST', '/status/start') >= 2
    # held for good: reported after lock_timeout, naming the VM
    pve_cluster.call(pve.hold_config_lock(vmid, None))
    stop = {'name': 'stop', 'pvelab.proxmox.pve_vm': {'vmid': vmid, 'state': 'stopped', 'lock_timeout': 3},
            'register': 'out', 'ignore_errors': True}
    result = run_playbook(pve_cluster, tasks=[stop], tmp_path=tmp_path)
    pve.release_config_lock(vmid)
    out = result.task('stop')
    assert out['failed'] and out['msg'].startswith('lock-1 (vmid {0}): stop failed'.format(vmid))
    assert 'still locked after 3 s' in out['msg'] and pve.vm(vmid).status == 'running'


@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=20)
def test_failing_clone_task_is_reported_by_name_and_a_rerun_finishes(pve_cluster, tmp_path):
    """The clone task of one name dies after PVE wrote the new config, leaving it locked 'clone': the module
    reports that name with PVE's reason, removes the half-made VM, makes the others, and a re-run finishes."""
    wanted = names('flt', 5)
    full = 'clone failed: storage shared-nfs: write error: No space left on device'
    with clone_task_fails(pve_cluster.pve, 'flt-03', full):
        result, out = clone(pve_cluster, wanted, tmp_path=tmp_path)
    assert out['failed'] and out['msg'].startswith('1 of 5 clones failed: flt-03: ')
    assert 'No space left on device' in out['msg'] and 'was removed' in out['msg']
    assert [c['status'] for c in out['items']] == ['created', 'created', 'failed', 'created', 'created']
    assert out['changed'] and out['items'][2]['vmid'] is None
    assert sorted(vm.name for vm in vms_named(pve_cluster, 'flt-')) == ['flt-01', 'flt-02', 'flt-04', 'flt-05']
    result, out = clone(pve_cluster, wanted, tmp_path=tmp_path)
    assert result.rc == 0 and [c['changed'] for c in out['items']] == [False, False, True, False, False]
    assert len(vms_named(pve_cluster, 'flt-')) == 5 and not any(vm.lock for vm in vms_named(pve_cluster, 'flt-'))


# --------------------------------------------------------------------- addresses

@pytest.mark.cluster('demo.json', time_scale=0.01, default_agent_delay_secs=200)
def test_wait_for_ip_returns_the_lease_without_loopback_or_link_local(pve_cluster, tmp_path):
    result, out = clone(pve_cluster, ['ip-1', 'ip-2'], tmp_path=tmp_path)
    vmids = [c['vmid'] for c in out['items']]
    start = {'name': 'start', 'register': 'out',
             'pvelab.proxmox.pve_vm': {'vms': [{'vmid': v} for v in vmids], 'state': 'started', 'wait_for_ip': True,
                                       'wait_timeout': 60}}
    info = {'name': 'info', 'register': 'info', 'pvelab.proxmox.pve_vm_info': {'agent_ips': True, 'name': 'ip-1'}}
    result, seconds = timed(pve_cluster, [start, info], tmp_path)
    assert result.rc == 0, result
    for vm, vmid in zip(result.task('start')['items'], vmids):
        lease = guestagent.dhcp_lease(vmid, pve_cluster.pve.dhcp_pool)[0]
        assert vm['ips'] == [lease] and vm['ip'] == lease
    # the agent answered only after its delay (200 PVE s = 2 s), with lo and an fe80:: address the module dropped
    assert seconds >= 2
    assert result.task('info')['vms'][0]['ips'] == [guestagent.dhcp_lease(vmids[0], pve_cluster.pve.dhcp_pool)[0]]


# ----------------------------------------------------------------------- containers

@pytest.mark.cluster('demo.json')
def test_container_power_and_config(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    pve.add_ct(300, 'ct-web', node='pve2', config={'hostname': 'ct-web', 'memory': 512, 'cores': 1,
                                                    'net0': 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:03:00,ip=dhcp'})
    tasks = [
        {'name': 'config', 'register': 'a', 'pvelab.proxmox.pve_vm': {
            'name': 'ct-web', 'type': 'lxc', 'memory': 1024, 'tags': ['lab'],
            'net': {'net0': 'name=eth0,bridge=vmbr1,ip=dhcp'}}},
        {'name': 'again', 'register': 'b', 'pvelab.proxmox.pve_vm': {
            'name': 'ct-web', 'type': 'lxc', 'memory': 1024, 'tags': ['lab'],
            'net': {'net0': 'name=eth0,bridge=vmbr1,ip=dhcp'}}},
        {'name': 'start', 'register': 'c', 'pvelab.proxmox.pve_vm': {'vmid': 300, 'type': 'lxc', 'state': 'started'}},
        {'name': 'shutdown', 'register': 'd', 'pvelab.proxmox.pve_vm': {'vmid': 300, 'type': 'lxc',
                                                                        'state': 'shutdown', 'timeout': 30}},
        {'name': 'remove', 'register': 'e', 'pvelab.proxmox.pve_vm': {'vmid': 300, 'type': 'lxc', 'state': 'absent'}},
    ]
    result = run_playbook(pve_cluster, tasks=tasks, tmp_path=tmp_path)
    assert result.rc == 0, result
    assert result.task('config')['changed'] and not result.task('again')['changed']
    assert result.task('start')['vm']['status'] == 'running' and result.task('shutdown')['vm']['status'] == 'stopped'
    assert result.task('remove')['changed'] and pve.ct(300) is None


@pytest.mark.cluster('demo.json')
def test_container_clones_under_way_are_waited_for_not_made_twice(pve_cluster, tmp_path):
    """Containers from a container template; a second run that starts while the first run's clones still hold
    lock 'create' (a container's hostname is in its config from the start) waits for them and clones nothing.
    (A name the first run has not asked PVE for yet cannot be seen: PVE has no way to reserve a name.)"""
    pve = pve_cluster.pve
    pve.add_ct(8000, 'ct-tmpl', node='pve1', template=True)
    pve.ct_secs['clone'] = 500  # 5 s
    cloning = threading.Event()
    record = pve._record

    def watch(request, body):
        record(request, body)
        if request.method == 'POST' and request.path.endswith('/lxc/8000/clone'):
            cloning.set()
    pve._record = watch
    wanted = ['ct-s1']
    clone = {'pvelab.proxmox.pve_clone': {'template': 'ct-tmpl', 'clones': [{'name': n} for n in wanted],
                                          'vmid_floor': 4000}}
    results = {}
    first = threading.Thread(target=lambda: results.update(first=run_playbook(
        pve_cluster, tasks=[dict(clone, name='clone', register='out')], tmp_path=tmp_path / 'a')))
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    first.start()
    assert cloning.wait(60)
    deadline = time.monotonic() + 60
    while not [ct for ct in pve.cts if 4000 <= ct.vmid < 8000 and ct.lock == 'create']:
        assert time.monotonic() < deadline, [(ct.vmid, ct.lock) for ct in pve.cts]
        time.sleep(0.05)
    second = run_playbook(pve_cluster, tasks=[dict(clone, name='clone', register='out')], tmp_path=tmp_path / 'b')
    # it came back once the clone had ended: the container is usable, not still locked
    assert [ct.lock for ct in pve.cts if 4000 <= ct.vmid < 8000] == [None]
    first.join(120)
    assert results['first'].rc == 0 and second.rc == 0, (results['first'], second)
    assert second.task('clone')['changed'] is False, second.task('clone')['items']
    made = sorted((ct.config.get('hostname'), ct.vmid) for ct in pve.cts if 4000 <= ct.vmid < 8000)
    assert [h for h, _v in made] == wanted and not [ct for ct in pve.cts if ct.lock]
    assert pve_cluster.count_requests('POST', '/lxc/8000/clone') == 1
    assert sorted(c['vmid'] for c in second.task('clone')['items']) == [v for _h, v in made]


@pytest.mark.cluster('demo.json', statd_secs=1e9)
def test_a_vm_converted_just_before_is_cloned_as_a_template(pve_cluster, tmp_path):
    """pvestatd last reported the VM before its conversion (template 0 in /cluster/resources): pve_clone asks the
    node, which says it is a template now."""
    pve, root = pve_cluster.pve, pve_cluster.api()
    upid = root.nodes('pve1').qemu(9000).clone.post(newid=9100, name='tmpl-fresh', full=1)
    while root.nodes('pve1').tasks(upid).status.get()['status'] == 'running':
        time.sleep(0.05)
    pve.statd_refresh()
    root.nodes('pve1').qemu(9100).template.post()
    assert [r for r in root.cluster.resources.get(type='vm') if r['vmid'] == 9100][0]['template'] == 0
    result = run_playbook(pve_cluster, tasks=[{'name': 'clone', 'pvelab.proxmox.pve_clone': {
        'template': 'tmpl-fresh', 'name': 'from-fresh'}}], tmp_path=tmp_path)
    assert result.rc == 0 and result.task('clone')['changed'], result
    assert [vm for vm in pve.lab_state()['vms'] if vm['name'] == 'from-fresh']


# ------------------------------------------------------------------------- requests

@pytest.mark.cluster('demo.json')
def test_request_counts_of_a_bulk_clone_and_its_rerun(pve_cluster, tmp_path):
    wanted = names('req', 50)
    before = pve_cluster.count_requests()
    result, out = clone(pve_cluster, wanted, tmp_path=tmp_path, pool='web', tags=['req'], parallel=8)
    assert result.rc == 0 and not out.get('failed'), result
    bulk = pve_cluster.count_requests() - before
    bulk_log = pve_cluster.pve.request_log()[before:before + bulk]
    posts = pve_cluster.count_requests('POST', '/clone')
    before = pve_cluster.count_requests()
    result, out = clone(pve_cluster, wanted, tmp_path=tmp_path, pool='web', tags=['req'], parallel=8)
    rerun_log = pve_cluster.pve.request_log()[before:]
    assert result.rc == 0 and not out['changed']
    assert [r[:2] for r in rerun_log] == [['POST', '/api2/json/access/ticket'], ['GET', '/api2/json/cluster/resources']]
    assert posts == 50
    # per clone: the POST and the tags PUT, plus its task's status reads (one per polling round while it runs: a
    # clone of 0.2 s is read up to 4 times); plus login, the cluster, the template's node, its config, nextid and
    # the pool list
    polls = len([r for r in bulk_log if r[0] == 'GET' and '/tasks/' in r[1] and r[1].endswith('/status')])
    assert bulk - polls <= 50 * 2 + 10 and polls <= 50 * 4, (bulk, polls)
    print('\nbulk clone of 50: {0} requests ({1:.1f} per VM); idempotent re-run: {2} requests'.format(
        bulk, bulk / 50.0, len(rerun_log)))
