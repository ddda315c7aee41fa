"""PveClient against the fake PVE (LabPve, tests/unit/plugins/fake_pve.py): error translation, re-login, lock retry,
network retries, the version check, JSON bodies."""

import time

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils import _client
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import (
    PveApiError, PveClient, PveConnectionError, PveError)


def test_reads_cluster_resources(fake):
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    names = [r['name'] for r in client.get('/cluster/resources', type='vm')]
    assert names == ['vm1']


def test_bad_password_is_a_clear_login_error(fake):
    with pytest.raises(PveError) as err:
        PveClient(fake.params(api_password='wrong'))
    assert 'login to 127.0.0.1 as root@pam failed' in str(err.value)
    assert 'wrong' not in str(err.value)


def test_certificate_that_does_not_verify_fails_clearly(fake, tmp_path):
    # Verify against the system store instead of the fake's CA: the self-signed cert must be refused.
    with pytest.raises(PveConnectionError) as err:
        PveClient(fake.params(ca_path=None))
    assert 'could not be verified' in str(err.value) and 'ca_path' in str(err.value)


def test_validate_certs_false_skips_verification(fake):
    client = PveClient(fake.params(ca_path=None, validate_certs=False))
    assert client.get('/version')['version']


def test_api_error_names_call_status_message_and_fields(fake):
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    with pytest.raises(PveApiError) as err:
        client.put('/nodes/pve1/qemu/100/config', cores='many')
    exc = err.value
    assert exc.status == 400
    assert 'cores' in exc.errors
    text = str(exc)
    assert text.startswith('PUT /nodes/pve1/qemu/100/config: HTTP 400: Parameter verification failed.')
    assert 'cores:' in text


def test_pve_message_is_kept(fake):
    fake.pve.fail('POST', '/nodes/pve1/qemu/100/status/start', 500, 'storage is full', times=1)
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    with pytest.raises(PveApiError) as err:
        client.post('/nodes/pve1/qemu/100/status/start')
    assert err.value.status == 500 and err.value.pve_message == 'storage is full'


def test_expired_ticket_relogs_once(fake):
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    fake.pve.revoke_tickets()
    assert client.get('/nodes/pve1/qemu/100/status/current')['status'] == 'stopped'
    logins = [r for r in fake.pve.requests if r[1].endswith('/access/ticket')]
    assert len(logins) == 2


def test_write_on_locked_vm_is_retried_until_unlocked(fake):
    vm = fake.pve.add_vm(100, 'vm1')
    vm.lock = 'backup'
    client = PveClient(fake.params(), lock_timeout=10)
    client.retry_pause = 0.05

    def unlock_later():
        time.sleep(0.3)
        vm.lock = None
    import threading
    threading.Thread(target=unlock_later).start()
    # PVE refuses a config change on a locked VM before touching it (HTTP 500 'VM is locked').
    client.put('/nodes/pve1/qemu/100/config', description='lab VM')
    assert vm.config['description'] == 'lab VM'
    puts = [r for r in fake.pve.requests if r[0] == 'PUT' and r[1].endswith('/qemu/100/config')]
    assert len(puts) >= 2


def test_lock_that_never_clears_gives_clear_error(fake):
    vm = fake.pve.add_vm(100, 'vm1')
    vm.lock = 'backup'
    client = PveClient(fake.params(), lock_timeout=0.3)
    client.retry_pause = 0.05
    with pytest.raises(PveApiError) as err:
        client.put('/nodes/pve1/qemu/100/config', description='lab VM')
    assert 'VM is locked (backup)' in str(err.value)
    assert 'still locked after' in str(err.value)


def test_reads_are_retried_on_dropped_connections(fake):
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    client.retry_pause = 0.01
    fake.pve.flaky_network(drop_rate=0.3)
    # fakepve applies flaky_network's seed only at start(); seed its generator so the drops repeat.
    fake.pve._random.seed(7)
    for dummy in range(20):
        assert client.get('/cluster/resources', type='vm')[0]['vmid'] == 100


def test_non_idempotent_write_is_not_repeated_after_a_network_error(fake):
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    client.retry_pause = 0.01
    client.check_writable()  # GET /version before the first write, while the network still works
    fake.pve.flaky_network(drop_rate=1.0)
    with pytest.raises(PveConnectionError) as err:
        client.post('/nodes/pve1/qemu/100/status/start')
    assert 'not repeated' in str(err.value)
    fake.pve.flaky_network(drop_rate=0.0)
    starts = [r for r in fake.pve.requests if r[0] == 'POST' and r[1].endswith('/status/start')]
    assert len(starts) <= 1


def test_token_login(fake):
    fake.pve.add_token('root@pam', 'ci', secret='s3cret-token')
    client = PveClient(fake.params(api_password=None, api_token_id='root@pam!ci', api_token_secret='s3cret-token'))
    assert client.get('/version')
    with pytest.raises(PveApiError) as err:
        PveClient(fake.params(api_password=None, api_token_id='root@pam!ci', api_token_secret='bad')).get('/version')
    assert err.value.status == 401


def test_wire_format():
    assert _client._wire(True) == 1
    assert _client._wire(['a', 'b']) == 'a,b'
    assert _client._wire('x') == 'x'
    assert _client._wire(_client.JsonArray(['ls', 1])) == ['ls', '1']


def test_a_json_array_goes_as_one_in_a_json_body(fake):
    fake.pve.add_vm(150, 'runs', node='pve1', status='running', config={'agent': '1'})
    fake.pve.set_exec(150, ['ls', '-l', 'a,b'], stdout='x')
    client = PveClient(fake.params())
    # no json_body asked: the array makes it one (a form would send 'ls,-l,a,b', one string)
    pid = client.post('/nodes/pve1/qemu/150/agent/exec', command=_client.JsonArray(['ls', '-l', 'a,b']))['pid']
    post = [r for r in fake.pve.requests if r[0] == 'POST'][-1]
    assert b'"command": ["ls", "-l", "a,b"]' in post[2]
    assert client.get('/nodes/pve1/qemu/150/agent/exec-status', pid=pid)['out-data'] == 'x'


# ------------------------------------------------------------------ the PVE version

def version_reads(fake):
    return len([r for r in fake.pve.requests if r[0] == 'GET' and r[1].endswith('/version')])


def test_version_is_read_once_and_only_when_asked(fake):
    client = PveClient(fake.params())
    client.get('/cluster/resources')
    assert version_reads(fake) == 0
    assert client.version.version == fake.pve.version == '9.1.19' and client.version.parts == (9, 1, 19)
    assert client.version.at_least(8, 4) and client.version.at_least(9, 1) and not client.version.at_least(9, 2)
    assert version_reads(fake) == 1 and client.version.release == '9.1' and version_reads(fake) == 1


def test_writes_check_the_version_once(fake):
    client = PveClient(fake.params())
    client.post('/pools', poolid='lab1')
    client.put('/pools/lab1', comment='first lab')
    assert version_reads(fake) == 1 and fake.pve.pools == {'lab1': set()}


@pytest.mark.parametrize('version, release', [('8.3.5', '8.3'), ('7.4-17', '7.4'), ('', '')])
def test_a_write_to_an_unsupported_pve_is_refused_before_it_is_sent(fake, version, release):
    fake.pve.answer_version(version, release)
    client = PveClient(fake.params())
    with pytest.raises(PveError) as err:
        client.post('/pools', poolid='lab1')
    assert str(err.value).startswith('Proxmox VE {0} is not supported: pvelab.proxmox needs Proxmox VE 8.4 or '
                                     'later'.format(version or 'unknown'))
    assert 'nothing was changed' in str(err.value)
    assert not [r for r in fake.pve.requests if r[0] == 'POST' and r[1].endswith('/pools')] and not fake.pve.pools
    assert client.get('/cluster/resources') is not None  # reads still work


def test_version_parts_stop_at_what_is_not_a_number():
    assert _client.PveVersion('9.0.0~13', '9.0', '').parts == (9, 0, 0)
    assert _client.PveVersion('8.4.21', '8.4', '').at_least(8, 4)
    assert str(_client.PveVersion('', '', '')) == 'unknown'


@pytest.mark.parametrize('login', ['password', 'token'])
def test_json_body_carries_an_empty_value_a_form_drops(fake, login):
    fake.pve.add_token('root@pam', 'ci', privsep=0, secret='s3cret-token')  # holds root's privileges
    params = fake.params() if login == 'password' else fake.params(
        api_password=None, api_token_id='root@pam!ci', api_token_secret='s3cret-token')
    client = PveClient(params)
    client.post('/pools', poolid='lab', comment='old')
    client.put('/pools/lab', comment='')
    assert fake.pve.pool_info['lab']['comment'] == 'old'
    client.put('/pools/lab', json_body=True, comment='')
    assert fake.pve.pool_info['lab']['comment'] is None  # cleared: PVE reads an empty comment back as none
    put = [r for r in fake.pve.requests if r[0] == 'PUT'][-1]
    assert put[1].endswith('/pools/lab') and b'"comment": ""' in put[2]


def test_json_body_errors_are_translated_too(fake):
    client = PveClient(fake.params())
    with pytest.raises(PveApiError) as err:
        client.put('/pools/ghost', json_body=True, comment='x')
    assert err.value.status == 500 and "pool 'ghost' does not exist" in err.value.pve_message
    assert str(err.value).startswith('PUT /pools/ghost: HTTP 500')
