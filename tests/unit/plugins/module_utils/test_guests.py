"""Shared guest operations: bounded parallel tasks with lock retries (scripted tasks), power plans, config planning
that keeps MACs, a guest's addresses (agent address filtering, the static config's, the rule between them),
removal of half-made guests (on the fake PVE)."""

import itertools
import threading

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import Item
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError, PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    FROM_AGENT,
    FROM_CONFIG,
    FROM_INTERFACES,
    first_ipv4,
    guest_cidrs,
    guest_ips,
    ipv4_first,
    item_label,
    first_nic,
    merge_net,
    net_same,
    next_config,
    plan_config,
    power_action,
    power_params,
    read_ips,
    read_pending,
    run_tasks,
    static_cidrs,
    static_ips,
    usable_ip,
    usable_ips,
    wait_until,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._tasks import PveTaskError, PveTaskTimeout
from ansible_collections.pvelab.proxmox.tests.unit.plugins.scripted_client import ScriptedClient


class FakeClock(object):
    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self):
        return self.now

    def sleep(self, secs):
        with self.lock:
            self.now += secs


def start_path(key):
    return '/nodes/pve1/qemu/{0}/status/start'.format(key)


def status_path(upid):
    return '/nodes/pve1/tasks/{0}/status'.format(upid)


def task_client(plans):
    """A ScriptedClient whose starts of key (POST start_path(key)) answer the key's plan, one item per start, the
    last one repeating: an exception (raised), None (a synchronous answer) or (polls, exitstatus), a task that is
    running for `polls` status reads (None: for ever) and then ends with exitstatus."""
    client = ScriptedClient()
    serial = itertools.count(1)
    for key, plan in plans.items():
        answers = []
        for item in plan:
            if isinstance(item, tuple):
                polls, exitstatus = item
                upid = 'UPID:pve1:{0:08X}:00000000:00000000:qmstart:{1}:root@pam:'.format(next(serial), key)
                ended = {'status': 'stopped', 'exitstatus': exitstatus}
                client.on('GET', status_path(upid), *([RUNNING] if polls is None else [RUNNING] * polls + [ended]))
                client.on('GET', '/nodes/pve1/tasks/{0}/log'.format(upid), [{'n': 1, 't': 'log line'}])
                item = upid
            answers.append(item)
        client.on('POST', start_path(key), *answers)
    return client


def starts(client):
    """The keys started, in order."""
    return [path.split('/')[4] for method, path, _params in client.calls if method == 'POST']


def status_reads(client):
    return len([c for c in client.calls if c[0] == 'GET' and c[1].endswith('/status')])


def most_running(client):
    """How many tasks ran at once at most: started, and not yet seen ended by a status read."""
    running, most = set(), 0
    for (method, path, _params), answer in zip(client.calls, client.answers):
        if method == 'POST' and isinstance(answer, str):
            running.add(answer)
            most = max(most, len(running))
        elif method == 'GET' and path.endswith('/status') and answer['status'] == 'stopped':
            running.discard(path.split('/')[4])
    return most


RUNNING = {'status': 'running'}


def run(client, keys, parallel=3, timeout=600, retry=None, lock_timeout=None):
    clock = FakeClock()
    return run_tasks(client, keys, lambda key: client.post(start_path(key)), parallel=parallel, timeout=timeout,
                     retry=retry, lock_timeout=lock_timeout, sleep=clock.sleep, clock=clock.clock), clock


LOCKED = "can't lock file '/var/lock/qemu-server/lock-{0}.conf' - got timeout"


def test_bounded_parallel_tasks():
    keys = ['vm{0}'.format(n) for n in range(10)]
    client = task_client(dict((k, [(2, 'OK')]) for k in keys))
    results, _clock = run(client, keys, parallel=3)
    assert results == dict((k, None) for k in keys)
    assert most_running(client) <= 3 and len(starts(client)) == 10
    assert status_reads(client) == 10 * 3  # one status read per running task per round, nothing more


def test_failures_are_per_key_and_synchronous_answers_count():
    client = task_client({'ok': [(0, 'WARNINGS: 1')], 'bad': [(1, 'clone failed: no space')], 'sync': [None],
                         'refused': [PveApiError('POST', '/x', 500, 'VM 7 not running')]})
    results, _clock = run(client, ['ok', 'bad', 'sync', 'refused'])
    assert results['ok'] is None and results['sync'] is None
    assert isinstance(results['bad'], PveTaskError) and 'no space' in str(results['bad'])
    assert isinstance(results['refused'], PveApiError)


def test_retry_callback_starts_again():
    collision = PveApiError('POST', '/nodes/pve1/qemu/9000/clone', 500, 'unable to create VM 5: config file already exists')
    client = task_client({'a': [collision, (0, 'OK')]})
    asked = []

    def retry(key, error):
        asked.append((key, str(error)))
        return 'already exists' in str(error)
    results, _clock = run(client, ['a'], retry=retry)
    assert results == {'a': None} and starts(client) == ['a', 'a'] and len(asked) == 1


def test_lock_refusal_in_task_is_retried_until_it_works():
    client = task_client({'a': [(0, LOCKED.format(5)), (1, 'VM is locked (backup)'), (0, 'OK')], 'b': [(0, 'OK')]})
    results, clock = run(client, ['a', 'b'])
    assert results == {'a': None, 'b': None} and starts(client).count('a') == 3
    assert clock.now > 1                   # it backed off between tries


def test_lock_refusal_gives_up_after_lock_timeout():
    client = task_client({'a': [(0, 'VM is locked (backup)')]})
    results, clock = run(client, ['a'], lock_timeout=7)
    assert isinstance(results['a'], PveTaskError) and 'still locked after 7 s' in str(results['a'])
    assert 7 <= clock.now < 15


def test_task_timeout():
    client = task_client({'slow': [(None, 'OK')], 'fast': [(0, 'OK')]})
    results, clock = run(client, ['slow', 'fast'], timeout=30)
    assert results['fast'] is None and isinstance(results['slow'], PveTaskTimeout)
    assert 'still running after 30 s' in str(results['slow']) and clock.now < 40


def test_wait_until():
    clock = FakeClock()
    answers = {'a': [None, None, ['10.0.0.1']], 'b': [PveApiError('GET', '/agent', 500, 'QEMU guest agent is not running')]}

    def probe(key):
        queue = answers[key]
        value = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(value, Exception):
            raise value
        return value
    got, missing = wait_until(['a', 'b'], probe, timeout=20, sleep=clock.sleep, clock=clock.clock)
    assert got == {'a': ['10.0.0.1']} and list(missing) == ['b'] and 'not running' in str(missing['b'])
    assert 20 <= clock.now < 26


# ------------------------------------------------------------------------ power

@pytest.mark.parametrize('status, state, action', [
    ('stopped', 'started', 'start'), ('running', 'started', None),
    ('running', 'stopped', 'stop'), ('stopped', 'stopped', None),
    ('running', 'shutdown', 'shutdown'), ('stopped', 'shutdown', None),
    ('running', 'restarted', 'reboot'), ('stopped', 'restarted', 'start'),
    ('running', 'present', None),
])
def test_power_action(status, state, action):
    assert power_action(status, state) == action


def test_power_params():
    assert power_params('shutdown', 120, True) == {'forceStop': 1, 'timeout': 120}
    assert power_params('shutdown', None, False) == {'forceStop': 0}
    assert power_params('reboot', 60) == {'timeout': 60}
    assert power_params('start', 60) == {}


# ----------------------------------------------------------------------- config

MAC = 'BC:24:11:00:01:01'


def test_merge_net_keeps_mac_and_model():
    current = 'virtio={0},bridge=vmbr0,firewall=1'.format(MAC)
    assert merge_net('qemu', 'net0', current, 'virtio,bridge=vmbr1') == 'virtio={0},bridge=vmbr1'.format(MAC)
    assert merge_net('qemu', 'net0', current, 'bridge=vmbr1,firewall=1') == \
        'virtio={0},bridge=vmbr1,firewall=1'.format(MAC)
    assert merge_net('qemu', 'net0', current, {'model': 'e1000', 'bridge': 'vmbr0', 'firewall': True}) == \
        'e1000={0},bridge=vmbr0,firewall=1'.format(MAC)
    assert merge_net('qemu', 'net0', current, 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0') == \
        'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0'
    assert merge_net('qemu', 'net1', None, 'virtio,bridge=vmbr2') == 'virtio,bridge=vmbr2'
    with pytest.raises(ValueError, match='net1: give the NIC model'):
        merge_net('qemu', 'net1', None, 'bridge=vmbr2')
    # a NIC the guest lacks takes its first NIC's model (not its MAC: PVE gives the new NIC one)
    assert merge_net('qemu', 'net1', None, 'bridge=vmbr2', like='e1000={0},bridge=vmbr0'.format(MAC)) == \
        'e1000,bridge=vmbr2'
    assert merge_net('qemu', 'net0', current, 'bridge=vmbr2', like='e1000,bridge=vmbr0') == \
        'virtio={0},bridge=vmbr2'.format(MAC)
    assert first_nic({'net2': 'e1000,bridge=a', 'net10': 'x', 'name': 'n'}) == 'e1000,bridge=a' and first_nic({}) is None
    with pytest.raises(ValueError, match='not a NIC model'):
        merge_net('qemu', 'net1', None, {'model': 'nic9000'})
    lxc = 'name=eth0,bridge=vmbr0,hwaddr={0},ip=dhcp,type=veth'.format(MAC)
    assert merge_net('lxc', 'net0', lxc, 'name=eth0,bridge=vmbr1,ip=dhcp') == \
        'name=eth0,hwaddr={0},bridge=vmbr1,ip=dhcp'.format(MAC)


def test_net_same_ignores_order_and_mac_case():
    assert net_same('qemu', 'virtio={0},bridge=vmbr0,firewall=1'.format(MAC),
                    'virtio={0},firewall=1,bridge=vmbr0'.format(MAC.lower()))
    assert not net_same('qemu', 'virtio={0},bridge=vmbr0'.format(MAC), 'virtio={0},bridge=vmbr0,firewall=1'.format(MAC))
    assert not net_same('qemu', None, 'virtio,bridge=vmbr0')
    assert net_same('lxc', 'name=eth0,bridge=vmbr0,hwaddr={0},ip=dhcp,type=veth'.format(MAC),
                    'name=eth0,hwaddr={0},bridge=vmbr0,ip=dhcp'.format(MAC))


CONFIG = {'name': 'alice', 'cores': 2, 'memory': 'current=2048', 'net0': 'virtio={0},bridge=vmbr0'.format(MAC),
          'tags': 'lab;netadmin', 'description': 'alice\n', 'onboot': 1, 'agent': 'enabled=1,fstrim_cloned_disks=1',
          'ciuser': 'student', 'cipassword': '**********', 'ipconfig0': 'gw=192.0.2.1,ip=192.0.2.20/24',
          'sshkeys': 'ssh-ed25519%20AAAA%20teacher%40lab%0A'}


def test_plan_config_nothing_to_do():
    wanted = dict(cores=2, memory=2048, sockets=1, net={'net0': 'virtio,bridge=vmbr0'}, tags=['netadmin', 'lab'],
                  description='alice', onboot=True, agent=True, ciuser='student', cipassword='x',
                  ipconfig={'ipconfig0': 'ip=192.0.2.20/24,gw=192.0.2.1'}, sshkeys='ssh-ed25519 AAAA teacher@lab')
    changes, deletes, before, after = plan_config('qemu', CONFIG, wanted)
    assert (changes, deletes) == ({}, [])
    assert before == after and 'cipassword' not in before


def test_plan_config_changes():
    wanted = dict(cores=4, memory=4096, agent=False, onboot=False, tags=[], description='',
                  net={'net0': 'virtio,bridge=vmbr1,firewall=1', 'net1': ''}, ipconfig={'ipconfig1': 'ip=dhcp'},
                  sshkeys='ssh-ed25519 BBBB a@b\nssh-rsa CCCC c@d', name='alice2')
    changes, deletes, before, after = plan_config('qemu', CONFIG, wanted)
    assert changes == {'name': 'alice2', 'cores': 4, 'memory': 4096, 'agent': 'enabled=0,fstrim_cloned_disks=1',
                       'onboot': 0, 'net0': 'virtio={0},bridge=vmbr1,firewall=1'.format(MAC),
                       'ipconfig1': 'ip=dhcp',
                       'sshkeys': 'ssh-ed25519%20BBBB%20a%40b%0Assh-rsa%20CCCC%20c%40d%0A'}
    assert sorted(deletes) == ['description', 'tags']        # net1 does not exist: nothing to delete
    assert before['memory'] == 2048 and after['memory'] == 4096


def test_plan_config_defaults_and_passwords():
    changes, _d, _b, _a = plan_config('qemu', {}, dict(cores=1, sockets=1, memory=512, cipassword='pw'))
    assert changes == {'cipassword': 'pw'}
    changes, _d, _b, _a = plan_config('qemu', {'cipassword': '**********'}, dict(cipassword='pw'))
    assert changes == {}
    changes, _d, _b, _a = plan_config('qemu', {'cipassword': '**********'}, dict(cipassword='pw'), 'always')
    assert changes == {'cipassword': 'pw'}
    changes, _d, _b, _a = plan_config('qemu', {}, dict(agent=True))
    assert changes == {'agent': '1'}


def test_plan_config_container():
    config = {'hostname': 'ct1', 'cores': 1, 'memory': 512,
              'net0': 'name=eth0,bridge=vmbr0,hwaddr={0},ip=dhcp'.format(MAC)}
    changes, _d, _b, _a = plan_config('lxc', config, dict(name='ct2', memory=1024,
                                                          net={'net0': 'name=eth0,bridge=vmbr1,ip=dhcp'}))
    assert changes == {'hostname': 'ct2', 'memory': 1024,
                       'net0': 'name=eth0,hwaddr={0},bridge=vmbr1,ip=dhcp'.format(MAC)}
    with pytest.raises(ValueError, match='ciuser is not an option of a container'):
        plan_config('lxc', config, dict(ciuser='x'))


def test_plan_config_bad_keys():
    with pytest.raises(ValueError, match="net: 'eth0' is not a key like net0"):
        plan_config('qemu', {}, dict(net={'eth0': 'virtio'}))


def test_read_pending_and_next_config():
    client = ScriptedClient({('GET', '/nodes/pve1/qemu/100/pending'): [
        {'key': 'memory', 'value': '2048', 'pending': '4096'}, {'key': 'cores', 'value': 2},
        {'key': 'tags', 'value': 'a', 'delete': 1}, {'key': 'net1', 'pending': 'virtio,bridge=vmbr1'}]})
    current, pending, deleted = read_pending(client, {'node': 'pve1', 'type': 'qemu', 'vmid': 100})
    assert [c[1] for c in client.calls] == ['/nodes/pve1/qemu/100/pending']
    assert current == {'memory': '2048', 'cores': 2, 'tags': 'a'} and deleted == {'tags'}
    assert next_config(current, pending, deleted) == {'memory': '4096', 'cores': 2, 'net1': 'virtio,bridge=vmbr1'}


# ------------------------------------------------------------------ guest agent

INTERFACES = [
    {'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1'}, {'ip-address': '::1'}]},
    {'name': 'eth0', 'ip-addresses': [{'ip-address': 'fe80::be24:11ff:fe00:101%eth0'}, {'ip-address': '10.10.0.5'},
                                      {'ip-address': '2001:db8::5'}]},
    {'name': 'eth1', 'ip-addresses': [{'ip-address': '169.254.3.4'}, {'ip-address': '127.0.1.1'},
                                      {'ip-address': '0.0.0.0'}, {'ip-address': 'garbage'}]},
    {'name': 'docker0'},
]


def test_usable_ips():
    assert usable_ips(INTERFACES) == ['10.10.0.5', '2001:db8::5']
    assert usable_ips([{'name': 'eth0', 'inet': '192.0.2.5/24', 'inet6': 'fe80::1/64'}]) == ['192.0.2.5']
    assert first_ipv4(['2001:db8::5', '10.10.0.5']) == '10.10.0.5'
    assert first_ipv4(['2001:db8::5']) == '2001:db8::5' and first_ipv4([]) is None


def test_read_ips():
    client = ScriptedClient({
        ('GET', '/nodes/pve1/qemu/100/agent/network-get-interfaces'): {'result': INTERFACES},
        ('GET', '/nodes/pve1/lxc/200/interfaces'): [{'name': 'lo', 'inet': '127.0.0.1/8'},
                                                    {'name': 'eth0', 'inet': '10.1.1.1/24'}]})
    assert read_ips(client, {'node': 'pve1', 'type': 'qemu', 'vmid': 100}) == ['10.10.0.5', '2001:db8::5']
    assert read_ips(client, {'node': 'pve1', 'type': 'lxc', 'vmid': 200}) == ['10.1.1.1']
    assert [c[1] for c in client.calls] == ['/nodes/pve1/qemu/100/agent/network-get-interfaces',
                                            '/nodes/pve1/lxc/200/interfaces']


# guest_ips: the one rule by which the inventory, the firewall's teacher addresses and the modules read a guest's
# addresses (the agent's when the guest runs and its agent answers, else the static config's)

VM = {'vmid': 100, 'node': 'pve1', 'type': 'qemu', 'status': 'running'}
NO_AGENT = PveApiError('GET', '/nodes/pve1/qemu/100/agent/network-get-interfaces', 500,
                       'QEMU guest agent is not running')


def agent(*addresses):
    return {'result': [{'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1'}]},
                       {'name': 'eth0', 'ip-addresses': [{'ip-address': a} for a in addresses]}]}


def address_client(answers, vm=None):
    """A ScriptedClient answering a guest's agent, container interfaces and config reads by their last segment."""
    vm = vm or VM
    base = '/nodes/{0}/{1}/{2}'.format(vm['node'], vm['type'], vm['vmid'])
    where = {'network-get-interfaces': base + '/agent/network-get-interfaces', 'interfaces': base + '/interfaces',
             'config': base + '/config'}
    return ScriptedClient(dict((('GET', where[k]), v) for k, v in answers.items()))


def paths(client):
    return [path for _method, path, _params in client.calls]


def test_guest_ips_of_a_running_guest_whose_agent_answers_need_no_config_read():
    client = address_client({'network-get-interfaces': agent('fe80::1%eth0', '2001:db8::5', '10.0.0.5')})
    assert guest_ips(client, VM) == (['2001:db8::5', '10.0.0.5'], FROM_AGENT, None)
    assert paths(client) == ['/nodes/pve1/qemu/100/agent/network-get-interfaces']
    assert guest_cidrs(client, VM) == ['2001:db8::5/128', '10.0.0.5/32']
    container = dict(VM, type='lxc', vmid=200)
    client = address_client({'interfaces': [{'name': 'lo', 'inet': '127.0.0.1/8'},
                                            {'name': 'eth0', 'inet': '10.1.1.1/24'}]}, container)
    assert guest_ips(client, container) == (['10.1.1.1'], FROM_INTERFACES, None)


def test_guest_ips_fall_back_to_the_static_config():
    client = address_client({'network-get-interfaces': NO_AGENT,
                             'config': {'ipconfig0': 'ip=192.0.2.11/24,gw=192.0.2.1'}})
    assert guest_ips(client, VM) == (['192.0.2.11'], FROM_CONFIG, None)
    client = address_client({'network-get-interfaces': agent('169.254.0.9', '0.0.0.0'), 'config': {}})
    assert guest_ips(client, VM) == ([], None, 'agent reported no usable address')
    client = address_client({'network-get-interfaces': NO_AGENT, 'config': {'ipconfig0': 'ip=dhcp'}})
    assert guest_ips(client, VM) == ([], None, 'QEMU guest agent is not running')
    client = address_client({'config': {'ipconfig0': 'ip=192.0.2.12/24'}})
    assert guest_ips(client, dict(VM, status='stopped')) == (['192.0.2.12'], FROM_CONFIG, None)
    assert paths(client) == ['/nodes/pve1/qemu/100/config']     # a stopped guest's agent is not asked


def test_guest_ips_an_unreadable_config_and_a_network_fault_are_errors():
    refused = PveApiError('GET', '/nodes/pve1/qemu/100/config', 403, 'Permission check failed')
    with pytest.raises(PveApiError):
        guest_ips(address_client({'network-get-interfaces': NO_AGENT, 'config': refused}), VM)
    with pytest.raises(PveError):
        guest_ips(address_client({'network-get-interfaces': PveError('GET ...: network error')}), VM)


def test_static_addresses_of_vms_and_containers():
    config = {'ipconfig1': 'ip=192.0.2.2/24', 'ipconfig0': 'ip=dhcp,ip6=2001:db8::1/64', 'ipconfig10': 'ip=auto',
              'net0': 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0', 'net1': 'name=eth1,bridge=vmbr1,ip=198.51.100.7/24',
              'net2': 'name=eth2,ip=224.0.0.5/4,ip6=manual'}
    assert static_ips(config) == ['2001:db8::1', '192.0.2.2', '198.51.100.7']
    assert static_cidrs(config) == ['2001:db8::1/128', '192.0.2.2/32', '198.51.100.7/32']
    assert static_ips({}) == [] and static_ips(None) == []
    assert ipv4_first(static_ips(config)) == ['192.0.2.2', '198.51.100.7', '2001:db8::1']


@pytest.mark.parametrize('text, address', [
    ('10.0.0.5', '10.0.0.5'), ('10.0.0.5/24', '10.0.0.5'), ('2001:db8::5%eth0', '2001:db8::5'),
    ('127.0.1.1', None), ('::1', None), ('fe80::1%eth0', None), ('169.254.3.4', None), ('0.0.0.0', None),
    ('ff02::1', None), ('dhcp', None), ('', None), (None, None),
])
def test_usable_ip(text, address):
    assert usable_ip(text) == address


# ------------------------------------------------------------- remove_leftover

def leftover_client(fake, user='root@pam', token=False):
    from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveClient
    if not token:
        return PveClient(fake.params())
    if user != 'root@pam':
        fake.pve.add_user(user)
        fake.pve.set_acl('/', 'user', user, 'Administrator')
    fake.pve.add_token(user, 'ci', privsep=0, secret='ci-secret')  # the token holds its owner's privileges
    return PveClient(fake.params(api_user=None, api_password=None, api_token_id=user + '!ci',
                                 api_token_secret='ci-secret'))


def deletes(fake):
    """The DELETE requests, with their parameters (a DELETE sends them in the query string)."""
    return [r for r in fake.calls() if r.method == 'DELETE']


def test_a_locked_vm_leftover_is_removed_with_skiplock_by_root_only(fake):
    from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import remove_leftover
    fake.pve.add_vm(300, 's1')
    fake.pve.snapshot_lock(300, 'clone')  # the lock a clone that ended badly may leave (config and guest)
    note = remove_leftover(leftover_client(fake), ['pve1'], 300, 's1')
    assert note == "the half-made s1 (vmid 300) it left (lock 'clone') was removed"
    assert fake.pve.vm(300) is None and len(deletes(fake)) == 1  # a locked VM goes only with skiplock
    assert deletes(fake)[0].data.get('skiplock') == '1'


@pytest.mark.parametrize('user', ['root@pam', 'ops@pve'])
def test_a_locked_vm_leftover_is_named_not_forced_by_a_token_or_another_user(fake, user):
    from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import remove_leftover
    fake.pve.add_vm(300, 's1')
    fake.pve.snapshot_lock(300, 'clone')  # the lock a clone that ended badly may leave (config and guest)
    with pytest.raises(PveError) as err:
        remove_leftover(leftover_client(fake, user, token=True), ['pve1'], 300, 's1')
    assert str(err.value) == (
        "s1 (vmid 300) was left behind on node pve1 with lock 'clone' and was not removed: only root@pam (a password "
        "login, not a token) may skip the lock of a VM; remove it on node pve1 with "
        "`qm unlock 300 && qm destroy 300 --purge`")
    assert deletes(fake) == [] and fake.pve.vm(300) is not None


def test_a_container_leftover_is_removed_without_skiplock_or_named_when_locked(fake):
    from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import remove_leftover
    fake.pve.add_ct(301, 'c1', lock='create')
    client = leftover_client(fake)
    with pytest.raises(PveError) as err:
        remove_leftover(client, ['pve1'], 301, 'c1', kind='lxc')
    assert "c1 (vmid 301) was left behind on node pve1 with lock 'create'" in str(err.value)
    assert 'PVE deletes no locked container' in str(err.value)
    assert '`pct unlock 301 && pct destroy 301 --purge`' in str(err.value)
    assert deletes(fake) == []
    fake.pve.add_ct(302, 'c2')
    assert remove_leftover(client, ['pve1'], 302, 'c2', kind='lxc') == 'the half-made c2 (vmid 302) it left was removed'
    assert [c.vmid for c in fake.pve.cts] == [301] and [d.path for d in deletes(fake)] == ['/nodes/pve1/lxc/302']
    assert 'skiplock' not in deletes(fake)[0].data and deletes(fake)[0].data.get('purge') == '1'


def test_a_guest_of_another_name_is_no_leftover(fake):
    from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import remove_leftover
    fake.pve.add_vm(300, 'someone-else')
    fake.pve.snapshot_lock(300, 'clone')
    assert remove_leftover(leftover_client(fake), ['pve1'], 300, 's1') == ''
    assert remove_leftover(leftover_client(fake), ['pve1'], 301, 's1') == ''
    assert deletes(fake) == [] and fake.pve.vm(300) is not None


def test_a_guest_item_is_named_by_its_guest_once_found_else_as_asked():
    found = Item(0, 'vms[0]', {'vmid': None, 'name': 'web01'})
    found.entry = {'vmid': 101, 'name': 'web02', 'node': 'pve2'}
    nameless = Item(1, 'vms[1]', {'vmid': 101})
    nameless.entry = {'vmid': 101, 'node': 'pve2'}
    assert [item_label(i) for i in (found, nameless, Item(2, '', {'vmid': None, 'name': 'ghost'}),
                                    Item(3, 'vmids[0]', {'vmid': 5000}))] == [
        'web02 (vmid 101)', 'vmid 101', "'ghost'", 'vmid 5000']
