"""Issue 9's fault matrix against the fake cluster: a lab is set up minutes before a class, so every fault
either converges or stops with a message naming the object and PVE's reason, and a re-run after the fault
clears converges to the full lab with no duplicates and no orphans.

Faults are injected with the fake's own knobs (config locks, task errors, task durations, ticket expiry and
revocation, a flaky and slow network, an offline node, lost quorum), a second lab run at the same time, and a
run killed mid-way. Module-level faults use one small playbook each; lab-level faults run the lab_up playbook
with a few students. `assert_converged` checks the full lab against the fake's own state.
"""

import asyncio
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from e2e.helpers import clone_task_fails, collections_path, run_playbook

LAB = 'flt'
STUDENTS = ['ada', 'bo', 'cy', 'di']
WRITES = ('POST', 'PUT', 'DELETE')

# every test on PVE 9.1 and 8.4: through the pve_release fixture (tests/e2e/conftest.py), or (test_ticket_expiring_and_
# revoked_mid_run, test_node_offline) through faulty_lab's two params
on_both_releases = pytest.mark.usefixtures('pve_release')


# ------------------------------------------------------------------ helpers

def lab_vars(cluster, tmp_path, lab=LAB, students=STUDENTS, **over):
    out = {'pve_api_host': cluster.host, 'pve_api_port': cluster.port, 'pve_api_user': cluster.user,
           'pve_api_password': cluster.password, 'pve_ca_path': cluster.ca_path,
           'lab_name': lab, 'lab_template': 'tmpl-debian',
           'lab_students': [{'username': s} for s in students],
           'lab_teacher_sources': ['192.0.2.10/32'], 'lab_roster_path': str(tmp_path / '{0}-roster.csv'.format(lab))}
    out.update(over)
    return out


def lab_up(cluster, tmp_path, lab=LAB, students=STUDENTS, **over):
    return run_playbook(cluster, playbook='pvelab.proxmox.lab_up', tmp_path=tmp_path,
                        extra_vars=lab_vars(cluster, tmp_path, lab=lab, students=students, **over))


def lab_failure(result):
    """The role's final message ('Lab X stopped at ...') and every failed task's message, as one text."""
    return ' | '.join(str(msg) for _name, msg in result.failures())


def writes(cluster):
    return [r for r in cluster.pve.request_log() if r[0] in WRITES and not r[1].endswith('/access/ticket')]


def on_request(pve, method, contains, action, nth=1):
    """Run action() inside the fake, synchronously, when the nth request of method with `contains` in its path
    is logged (before it is answered): deterministic, unlike a watcher polling from another thread."""
    record = pve._record
    seen = [0]

    def hooked(request, body):
        record(request, body)
        if request.method == method and contains in request.path:
            seen[0] += 1
            if seen[0] == nth:
                action()
    pve._record = hooked
    return seen


def later(secs, fn):
    """From inside the fake (an on_request action): call fn after secs real seconds."""
    asyncio.get_running_loop().call_later(secs, fn)


def lock_for(pve, vmid, lock, secs, then=None):
    """An on_request action: the VM gets `lock` now (as a backup or migration takes it) and loses it after secs."""
    def action():
        pve.snapshot_lock(vmid, lock)

        def release():
            if then:
                then()
            pve.unlock(vmid)
        later(secs, release)
    return action


def vms_of(state, lab=LAB):
    return [vm for vm in state['vms'] if (vm['name'] or '').startswith(lab + '-')]


def assert_converged(cluster, tmp_path, lab=LAB, students=STUDENTS, running=True):
    """The full lab, checked in the fake's own state: one VM per student (no duplicates), no other VM named like
    the lab (no orphans), none locked, each in the pool and tagged, isolated, started, the student's role on its
    own VM only, and a roster listing the same vmids."""
    state = cluster.pve.lab_state()
    wanted = ['{0}-{1}'.format(lab, s) for s in students]
    counts = collections.Counter(vm['name'] for vm in vms_of(state, lab))
    assert dict(counts) == dict((n, 1) for n in wanted), 'duplicates or orphans: {0}'.format(dict(counts))
    vms = dict((vm['name'], vm) for vm in vms_of(state, lab))
    role = 'LabStudent-' + lab
    pool = [p for p in state['pools'] if p['poolid'] == lab]
    assert pool and sorted(pool[0]['vms']) == sorted(vm['vmid'] for vm in vms.values())
    users = dict((u['userid'], u) for u in state['users'])
    for s, name in zip(students, wanted):
        vm = vms[name]
        assert not vm['lock'] and not vm['template'], vm
        assert lab in (vm['tags'] or '').split(';'), vm
        assert 'firewall=1' in vm['config']['net0'], vm
        assert vm['status'] == ('running' if running else 'stopped'), vm
        fw = state['firewall']['guests'][str(vm['vmid'])]
        assert fw['options'].get('enable') in (1, '1'), fw
        assert any(r.get('type') == 'group' and r.get('action') == lab for r in fw['rules']), fw
        userid = s + '@pve'
        assert users[userid]['enable'] in (1, True, '1')
        entries = [(a['path'], a['roleid']) for a in state['acl'] if a['ugid'] == userid]
        assert entries == [('/vms/{0}'.format(vm['vmid']), role)], (userid, entries)
    with open(tmp_path / '{0}-roster.json'.format(lab)) as fh:
        roster = json.load(fh)
    assert [(r['username'], r['vmid']) for r in roster] == [(s, vms[n]['vmid']) for s, n in zip(students, wanted)]
    return state


def nothing_half_made(cluster, lab=LAB, may_have_started=False):
    """After a failed run: no VM of the lab locked, none started (isolation comes first). may_have_started: the
    failure may have come after the start step (a fault that hits any request): a running VM must be isolated."""
    state = cluster.pve.lab_state()
    for vm in vms_of(state, lab):
        assert not vm['lock'], vm
        if vm['status'] == 'stopped':
            continue
        assert may_have_started, vm
        fw = state['firewall']['guests'].get(str(vm['vmid'])) or {'options': {}, 'rules': []}
        assert 'firewall=1' in vm['config'].get('net0', ''), vm
        assert fw['options'].get('enable') in (1, '1'), (vm, fw)
        assert any(r.get('type') == 'group' and r.get('action') == lab for r in fw['rules']), (vm, fw)


def vm_named(cluster, name):
    found = [vm for vm in cluster.pve.vms if vm.name == name]
    assert len(found) == 1, found
    return found[0]


def control(cluster, route, body):
    """An ansible.builtin.uri task calling the fake's control route (runs inside the playbook, between tasks)."""
    return {'name': 'fake {0}'.format(route), 'ansible.builtin.uri': {
        'url': '{0}/{1}'.format(cluster.control_url, route), 'method': 'POST', 'body_format': 'json', 'body': body,
        'validate_certs': True, 'ca_path': cluster.ca_path}}


# ------------------------------------------------------------- config locks

def refused(cluster, method, contains):
    """How many calls the fake refused (HTTP) or whose task failed because the VM was locked: every attempt
    beyond the last one of each path counts."""
    calls = collections.Counter(path for m, path, _ in cluster.pve.request_log(method, contains))
    return sum(n - 1 for n in calls.values())


@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01)
def test_config_lock_during_clone_config_firewall_and_delete(pve_cluster, tmp_path):
    """A backup, a snapshot or a migration holds the config lock just as a module writes to the VM: the write is
    tried again until the lock goes and the run converges (a migration that ends meanwhile moves the VM: the write
    follows it). A lock that stays past lock_timeout is reported naming the VM and PVE's reason, nothing is
    half-made, and the same tasks converge once the lock is gone."""
    pve = pve_cluster.pve
    # the ids pve_clone takes (cluster/nextid from 102); each lock starts with the write it is meant to meet
    on_request(pve, 'POST', '/qemu/9000/clone', lock_for(pve, 9000, 'backup', 1.0))
    on_request(pve, 'PUT', '/qemu/102/config', lock_for(pve, 102, 'backup', 1.0))
    on_request(pve, 'PUT', '/qemu/103/config', lock_for(pve, 103, 'snapshot', 1.0))
    on_request(pve, 'DELETE', '/qemu/103', lock_for(pve, 103, 'migrate', 1.0,
                                                    then=lambda: setattr(pve.vm(103), 'node', 'pve3')))
    tasks = [
        {'name': 'clone', 'pvelab.proxmox.pve_clone': {'template': 'tmpl-debian', 'clones': [
            {'name': 'lk-1', 'newid': 102}, {'name': 'lk-2', 'newid': 103}, {'name': 'lk-3', 'newid': 104}]}},
        {'name': 'config', 'pvelab.proxmox.pve_vm': {'name': 'lk-1', 'description': 'configured under a lock'}},
        # stopped DHCP clones: their addresses are learned at the first start (the gap source_filter until then)
        {'name': 'firewall', 'pvelab.proxmox.pve_firewall_isolation': {
            'name': 'lk', 'vmids': [102, 103], 'teacher_sources': ['192.0.2.10'], 'accept_gaps': ['source_filter'],
            'compile_wait': 0.2}},
        {'name': 'delete', 'pvelab.proxmox.pve_vm': {'name': 'lk-2', 'state': 'absent'}},
    ]
    result = run_playbook(pve_cluster, tasks=tasks, tmp_path=tmp_path)
    assert result.rc == 0, result
    for name in ('clone', 'config', 'firewall', 'delete'):
        assert result.task(name)['changed'], name
    # each write really met the lock and was tried again
    log = pve.request_log()
    assert [m for m, path, _ in log if path.endswith('/qemu/9000/clone')].count('POST') >= 4
    # 102: the refused description, its retry, then firewall=1; 103: the refused firewall=1, then its retry
    assert len([1 for m, path, _ in log if m == 'PUT' and path.endswith('/qemu/102/config')]) >= 3
    assert len([1 for m, path, _ in log if m == 'PUT' and path.endswith('/qemu/103/config')]) >= 2
    assert [path for m, path, _ in log if m == 'DELETE'][-1].endswith('/nodes/pve3/qemu/103')
    assert sorted(vm.name for vm in pve.vms if vm.name.startswith('lk-')) == ['lk-1', 'lk-3']
    lk1 = pve.vm(102)
    assert lk1.config['description'] == 'configured under a lock' and 'firewall=1' in lk1.config['net0']

    # held for good (as an interrupted backup, snapshot or migration leaves it): named, with PVE's reason
    pve.snapshot_lock(9000, 'backup')
    pve.snapshot_lock(102, 'snapshot')
    pve.snapshot_lock(104, 'migrate')
    stuck = [
        {'name': 'clone', 'pvelab.proxmox.pve_clone': {'template': 'tmpl-debian', 'name': 'lk-4', 'lock_timeout': 1}},
        {'name': 'config', 'pvelab.proxmox.pve_vm': {'name': 'lk-1', 'memory': 1024, 'lock_timeout': 1}},
        {'name': 'delete', 'pvelab.proxmox.pve_vm': {'name': 'lk-3', 'state': 'absent', 'lock_timeout': 1}},
    ]
    result = run_playbook(pve_cluster, tasks=[dict(t, ignore_errors=True) for t in stuck], tmp_path=tmp_path)
    clone_msg, config_msg, delete_msg = (result.task(n)['msg'] for n in ('clone', 'config', 'delete'))
    assert 'lk-4' in clone_msg and 'VM is locked (backup)' in clone_msg, clone_msg
    assert 'lk-1' in config_msg and 'VM is locked (snapshot)' in config_msg, config_msg
    assert 'lk-3' in delete_msg and 'VM is locked (migrate)' in delete_msg, delete_msg
    assert not [vm for vm in pve.vms if vm.name == 'lk-4'] and int(lk1.config.get('memory', 0)) != 1024

    # the locks go: the same tasks converge, with no duplicate and nothing left locked
    for vmid in (9000, 102, 104):
        pve.unlock(vmid)
    result = run_playbook(pve_cluster, tasks=stuck, tmp_path=tmp_path)
    assert result.rc == 0, result
    assert sorted(vm.name for vm in pve.vms if vm.name.startswith('lk-')) == ['lk-1', 'lk-4']
    assert int(lk1.config['memory']) == 1024 and not [vm.vmid for vm in pve.vms if vm.lock]


# ------------------------------------------------------- a clone task fails

@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=30)
def test_clone_task_error_for_one_student(pve_cluster, tmp_path):
    """The clone task of one student out of many ends in TASK ERROR (storage full): the run stops naming that
    student's VM and PVE's reason, no student VM is started, the half-made VM is removed; a re-run converges."""
    pve = pve_cluster.pve
    with clone_task_fails(pve, 'flt-cy', "clone failed: write to storage 'shared-nfs': No space left on device"):
        result = lab_up(pve_cluster, tmp_path)
    assert result.rc != 0
    text = lab_failure(result)
    assert "Lab flt stopped at 'VMs of the students, cloned from the template'" in text, text
    assert 'flt-cy' in text and 'No space left on device' in text, text
    assert sorted(vm['name'] for vm in vms_of(pve.lab_state())) == ['flt-ada', 'flt-bo', 'flt-di']
    nothing_half_made(pve_cluster)

    again = lab_up(pve_cluster, tmp_path)
    assert again.rc == 0, again
    assert_converged(pve_cluster, tmp_path)


# ------------------------------------------------------- an interrupted run

def start_lab_up(cluster, tmp_path, **over):
    """lab_up as its own process group (so the kill takes ansible's workers and modules with it)."""
    vars_file = tmp_path / 'interrupted-vars.json'
    vars_file.write_text(json.dumps(lab_vars(cluster, tmp_path, **over)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    env.pop('REQUESTS_CA_BUNDLE', None)
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           'pvelab.proxmox.lab_up', '-e', '@' + str(vars_file)]
    return subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def descendants(pid):
    """Every process below pid (ansible's workers call setsid, so its process group alone misses them)."""
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/{0}/stat'.format(entry)) as fh:
                    fields = fh.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            children[int(fields[1])].append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(proc):
    """SIGKILL to ansible-playbook's process group and to every process below it (the module included), at
    once: as when the controller dies."""
    pids = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(30)


@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=1000)
def test_interrupted_run_then_rerun(pve_cluster, tmp_path):
    """The process is killed while the clones run (ansible, its workers and the module at once). PVE finishes
    the clones it started; the re-run, which reaches its clone step while they still run (10 s each), cannot see
    their names (a clone under way has only its lock), waits for the template's clone tasks, clones the rest, and
    converges: exactly one VM per student, none left locked, no orphan, and the passwords saved before the kill
    are the ones the accounts have."""
    pve = pve_cluster.pve
    cloning = threading.Event()
    on_request(pve, 'POST', '/qemu/9000/clone', cloning.set, nth=2)
    proc = start_lab_up(pve_cluster, tmp_path)
    try:
        assert cloning.wait(120), 'the run never reached the clones'
        time.sleep(0.3)
    finally:
        kill_tree(proc)
    in_flight = [vm for vm in vms_of(pve.lab_state()) if vm['lock'] == 'clone']
    assert in_flight, 'the kill should leave clones running in PVE'

    again = lab_up(pve_cluster, tmp_path)
    assert again.rc == 0, again
    assert_converged(pve_cluster, tmp_path)
    # the clones the killed run had started are the students' VMs now (none was made a second time)
    kept = set(vm['vmid'] for vm in vms_of(pve.lab_state()))
    assert set(vm['vmid'] for vm in in_flight) <= kept
    with open(tmp_path / 'flt-roster.csv.secrets') as fh:
        rows = [line.split(',', 1) for line in fh.read().splitlines()[1:]]
    assert sorted(u for u, _ in rows) == sorted(STUDENTS)
    for username, password in rows:
        pve_cluster.api(user=username + '@pve', password=password)


# ----------------------------------------------------------------- timeouts

@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=400)
def test_task_outlasting_its_timeout(pve_cluster, tmp_path):
    """A slow clone and a slow shutdown outlast the module's timeout: each is reported naming the VM, saying the
    task goes on in PVE; the re-run waits for what is still under way and converges with no duplicate."""
    pve = pve_cluster.pve
    on_request(pve, 'POST', '/status/shutdown', lambda: setattr(vm_named(pve_cluster, 'to-1'), 'shutdown_secs', 300))
    slow = [
        {'name': 'slow clone', 'pvelab.proxmox.pve_clone': {'template': 'tmpl-debian', 'name': 'to-1', 'timeout': 1},
         'ignore_errors': True},
        {'name': 'clone again', 'pvelab.proxmox.pve_clone': {'template': 'tmpl-debian', 'name': 'to-1'}},
        {'name': 'start', 'pvelab.proxmox.pve_vm': {'name': 'to-1', 'state': 'started'}},
        {'name': 'slow shutdown', 'pvelab.proxmox.pve_vm': {'name': 'to-1', 'state': 'shutdown', 'timeout': 1},
         'ignore_errors': True},
        {'name': 'shutdown again', 'pvelab.proxmox.pve_vm': {'name': 'to-1', 'state': 'shutdown'}},
    ]
    result = run_playbook(pve_cluster, tasks=slow, tmp_path=tmp_path)
    assert result.rc == 0, result
    clone_msg = result.task('slow clone')['msg']
    assert 'to-1' in clone_msg and 'still running after 1 s' in clone_msg and 'run again' in clone_msg, clone_msg
    stop_msg = result.task('slow shutdown')['msg']
    # the shutdown's timeout is PVE's own (the task gives up and says so)
    assert 'to-1 (vmid' in stop_msg and 'VM quit/powerdown failed - got timeout' in stop_msg, stop_msg
    again = result.task('clone again')
    assert again['items'][0]['status'] == 'exists', again
    vm = vm_named(pve_cluster, 'to-1')
    assert vm.status == 'stopped' and not vm.lock
    assert pve_cluster.count_requests('POST', '/clone') == 1


# ------------------------------------------------------------ login tickets

def count_refused_logins(pve):
    """Count the requests the fake refuses for want of a valid ticket (401)."""
    authenticate = pve._authenticate
    refused = [0]

    def counted(request):
        try:
            return authenticate(request)
        except Exception:
            refused[0] += 1
            raise
    pve._authenticate = counted
    return refused


@pytest.fixture(scope='module', params=['9.1', '8.4'])
def faulty_lab(request, tmp_path_factory):
    """One lab_up, per PVE release, through two faults at once, shared by test_ticket_expiring_and_revoked_mid_run and
    test_node_offline (in this order: the first only reads the lab): pve2 (the most free memory) is offline, tickets
    live 2 s, and every ticket is revoked while the clones run, while the ACLs are written and while the firewall is
    applied. (A re-run of the whole lab_up each, before: the same run serves both.)"""
    from fakecluster import serving
    with serving('demo.json', time_scale=0.01, clone_secs=100, ticket_ttl=2) as cluster:
        pve = cluster.pve
        pve.pve_version = request.param
        tmp_path = tmp_path_factory.mktemp('faulty-lab-' + request.param.replace('.', '-'))
        pve.set_node_offline('pve2')
        refused = count_refused_logins(pve)
        for method, path, nth in (('POST', '/qemu/9000/clone', 2), ('PUT', '/access/acl', 1),
                                  ('PUT', '/firewall/options', 2)):
            on_request(pve, method, path, pve.revoke_tickets, nth=nth)
        result = lab_up(cluster, tmp_path)
        yield {'cluster': cluster, 'tmp_path': tmp_path, 'result': result, 'refused': refused[0]}


def test_ticket_expiring_and_revoked_mid_run(faulty_lab):
    """Tickets live 2 s, and every ticket is revoked while the clones run, while the ACLs are written and while
    the firewall is applied: each module logs in again and repeats the refused call; the run converges (faulty_lab:
    pve2 is offline meanwhile)."""
    pve_cluster, tmp_path, result = faulty_lab['cluster'], faulty_lab['tmp_path'], faulty_lab['result']
    assert result.rc == 0, result
    assert faulty_lab['refused'] >= 3, 'the fault did not hit'
    assert_converged(pve_cluster, tmp_path)


# ------------------------------------------------------------ flaky network

class CountingRandom(random.Random):
    """fakepve's network dice, counted: per request one draw for a drop, then (if not dropped) one for a hang."""

    def __init__(self, seed):
        super().__init__(seed)
        self.draws = []

    def random(self):
        value = super().random()
        self.draws.append(value)
        return value

    def uniform(self, a, b):  # the jitter: not one of the dice
        return a + (b - a) * super().random()

    def faults(self, drop_rate, hang_rate):
        drops = hangs = 0
        draws = iter(self.draws)
        for value in draws:
            if value < drop_rate:
                drops += 1
            elif next(draws, 1.0) < hang_rate:
                hangs += 1
        return drops, hangs


def lab_playbook(tmp_path, **connection):
    """lab_up's play with more connection options in its module_defaults (as a user would write it)."""
    with open(os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'lab_up.yml')) as fh:
        plays = yaml.safe_load(fh)
    plays[0]['module_defaults']['group/pvelab.proxmox.pve'].update(connection)
    path = tmp_path / 'lab_up_custom.yml'
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return str(path)


@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=30, latency=2, jitter=3)
def test_flaky_and_slow_network(pve_cluster, tmp_path):
    """A few percent of requests dropped (connection reset) or hung past the client's timeout, on top of added
    latency: reads are tried again; a write that may have been applied is not repeated blindly - the run then
    stops naming the call - and a re-run converges, with no duplicate."""
    pve = pve_cluster.pve
    drop_rate, hang_rate = 0.03, 0.02
    dice = pve._random = CountingRandom(9)
    pve.flaky_network(drop_rate=drop_rate, hang_rate=hang_rate, hang_secs=400)     # 4 s here, api_timeout 2 s
    playbook = lab_playbook(tmp_path, api_timeout=2)
    result = run_playbook(pve_cluster, playbook=playbook, tmp_path=tmp_path, extra_vars=lab_vars(pve_cluster, tmp_path))
    drops, hangs = dice.faults(drop_rate, hang_rate)
    assert drops + hangs >= 2, 'the fault did not hit'
    if result.rc != 0:
        text = lab_failure(result)
        assert 'network error' in text and ('not repeated' in text or 'gave up after retries' in text), text
        # the call is named with its object: a guest path, a student, or the identifying parameters
        assert re.search(r'/qemu/\d+|vm \d+|flt-\w+|\w+@pve|\(\w+=', text), text
        nothing_half_made(pve_cluster, may_have_started=True)
        pve.flaky_network()
        result = run_playbook(pve_cluster, playbook=playbook, tmp_path=tmp_path,
                              extra_vars=lab_vars(pve_cluster, tmp_path))
        assert result.rc == 0, result
    assert_converged(pve_cluster, tmp_path)


# -------------------------------------------------------------- node offline

def test_node_offline(faulty_lab):
    """pve2 (the most free memory) is offline: placement avoids it and the lab converges (faulty_lab: its tickets
    revoked meanwhile). Then the node of one lab VM goes offline: an operation on the lab's VMs names that VM and the
    node; once the node is back, a re-run converges."""
    pve_cluster, tmp_path, result = faulty_lab['cluster'], faulty_lab['tmp_path'], faulty_lab['result']
    pve = pve_cluster.pve
    assert result.rc == 0, result
    state = assert_converged(pve_cluster, tmp_path)
    assert not [vm['name'] for vm in vms_of(state) if vm['node'] == 'pve2']

    victim = [vm for vm in vms_of(state) if vm['node'] == 'pve3'][0]
    pve.set_node_offline('pve3')
    stop = [{'name': 'stop', 'pvelab.proxmox.pve_vm': {'vms': [{'name': vm['name']} for vm in vms_of(state)],
                                                      'state': 'stopped'}, 'ignore_errors': True}]
    result = run_playbook(pve_cluster, tasks=stop, tmp_path=tmp_path)
    msg = result.task('stop').get('msg', '')
    assert victim['name'] in msg and 'pve3' in msg, msg
    pve.set_node_offline('pve3', offline=False)
    result = run_playbook(pve_cluster, tasks=stop, tmp_path=tmp_path)
    assert result.rc == 0 and not result.failures(), result
    assert_converged(pve_cluster, tmp_path, running=False)


# -------------------------------------------------------------- lost quorum

@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=100)
def test_lost_quorum(pve_cluster, tmp_path):
    """Quorum is lost while the clones are being started: PVE refuses every write. The run stops naming the VMs
    whose clone was refused and PVE's reason; nothing is half-made (no VM locked or started, no student's ACL
    entry); once quorum is back, a re-run converges with no duplicate."""
    pve = pve_cluster.pve
    on_request(pve, 'POST', '/qemu/9000/clone', pve.lose_quorum, nth=3)
    result = lab_up(pve_cluster, tmp_path)
    assert result.rc != 0
    text = lab_failure(result)
    assert 'cluster not ready - no quorum?' in text, text
    made = [vm['name'] for vm in vms_of(pve.lab_state())]
    assert len(made) == 2, made
    for student in STUDENTS:
        if 'flt-' + student not in made:
            assert 'flt-' + student in text, text
    nothing_half_made(pve_cluster)
    assert not [a for a in pve.lab_state()['acl'] if a['ugid'] in [s + '@pve' for s in STUDENTS]]

    pve.regain_quorum()
    result = lab_up(pve_cluster, tmp_path)
    assert result.rc == 0, result
    assert_converged(pve_cluster, tmp_path)


# ------------------------------------------------------- two labs at a time

@on_both_releases
@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=100)
def test_two_labs_at_the_same_time(pve_cluster, tmp_path):
    """lab_up for two labs at the same moment: no vmid is taken twice, each student holds its own lab's role on
    its own VM only, and each lab's VMs reference only their lab's security group.

    The labs clone from two templates: a run that finds clones of its own template under way waits for them
    (their names are not known until they end), so two labs of one template would take turns instead."""
    labs = {'laba': ['anna', 'arno', 'ayla', 'axel'], 'labb': ['bert', 'bea', 'boris', 'bruno']}
    templates = {'laba': 'tmpl-debian', 'labb': 'tmpl-second'}
    results = {}
    pve = pve_cluster.pve
    root = pve_cluster.api()
    upid = root.nodes('pve1').qemu(9000).clone.post(newid=9001, name='tmpl-second', full=1)
    while root.nodes('pve1').tasks(upid).status.get()['status'] == 'running':
        time.sleep(0.05)
    root.nodes('pve1').qemu(9001).template.post()
    # The clones of whichever lab comes first run until the other lab has asked for its own (30 s at most):
    # the two runs always clone at the same time, whatever the machine's load.
    record, original = pve._record, pve.task
    both, posted, overlapped = asyncio.Event(), set(), []

    def watch(request, body):
        record(request, body)
        if request.method == 'POST' and request.path.endswith('/clone'):
            mine = 'laba' if b'pool=laba' in bytes(body or b'') else 'labb'
            if [vm for vm in pve.vms if vm.lock == 'clone' and vm.name and not vm.name.startswith(mine + '-')]:
                overlapped.append(mine)
            posted.add(mine)
            if len(posted) == 2:
                both.set()

    async def gated(node, ttype, tid, user, body, vm=None, lock=True, log=()):
        if ttype == 'qmclone':
            inner = body

            async def body():  # noqa: F811
                try:
                    await asyncio.wait_for(both.wait(), 30)
                except asyncio.TimeoutError:
                    pass
                return await inner()
        return await original(node, ttype, tid, user, body, vm=vm, lock=lock, log=log)
    pve._record, pve.task = watch, gated

    def run(lab):
        workdir = tmp_path / lab
        workdir.mkdir()
        results[lab] = (workdir, lab_up(pve_cluster, workdir, lab=lab, students=labs[lab], lab_template=templates[lab]))
    threads = [threading.Thread(target=run, args=(lab,)) for lab in labs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    vmids = {}
    for lab, (workdir, result) in sorted(results.items()):
        assert result.rc == 0, (lab, result)
        state = assert_converged(pve_cluster, workdir, lab=lab, students=labs[lab])
        vmids[lab] = set(vm['vmid'] for vm in vms_of(state, lab))
        for vmid in vmids[lab]:
            groups = [r['action'] for r in state['firewall']['guests'][str(vmid)]['rules'] if r.get('type') == 'group']
            assert groups == [lab], (vmid, groups)
    assert not vmids['laba'] & vmids['labb']
    # both clone runs overlapped (otherwise this proves nothing about collisions)
    # one lab's clones were requested while the other's were still running in PVE
    assert overlapped, 'the two runs did not clone at the same time'
