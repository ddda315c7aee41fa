"""Task waiting: OK, WARNINGS, a failed task with its log tail, timeouts, many tasks at once (scripted task
statuses), and real tasks of the fake PVE."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveClient, PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._tasks import (
    PveTaskError, PveTaskTimeout, node_of, task_ok, wait_task, wait_tasks)
from ansible_collections.pvelab.proxmox.tests.unit.plugins.scripted_client import ScriptedClient


class FakeClock(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, secs):
        self.sleeps.append(secs)
        self.now += secs


def scripted(script, log=()):
    """A ScriptedClient answering each UPID's status reads with its list of statuses (the last one repeating) and
    its log with the lines of `log`."""
    client = ScriptedClient()
    for upid, states in script.items():
        client.on('GET', '/nodes/pve1/tasks/{0}/status'.format(upid), *states)
        client.on('GET', '/nodes/pve1/tasks/{0}/log'.format(upid), [{'n': i + 1, 't': t} for i, t in enumerate(log)])
    return client


UPID = 'UPID:pve1:00001234:00005678:65000000:qmclone:100:root@pam:'
RUNNING = {'status': 'running'}


def test_node_of_and_task_ok():
    assert node_of(UPID) == 'pve1'
    assert task_ok('OK') and task_ok('WARNINGS: 2') and not task_ok('clone failed: no space')
    with pytest.raises(PveError):
        node_of('not-a-upid')


def test_ok_after_polling_with_backoff():
    clock = FakeClock()
    client = scripted({UPID: [RUNNING, RUNNING, RUNNING, {'status': 'stopped', 'exitstatus': 'OK'}]})
    status = wait_task(client, UPID, timeout=60, sleep=clock.sleep, clock=clock.clock)
    assert status['exitstatus'] == 'OK'
    assert len(clock.sleeps) == 3 and clock.sleeps[0] < clock.sleeps[1] < clock.sleeps[2]


def test_warnings_count_as_success():
    client = scripted({UPID: [{'status': 'stopped', 'exitstatus': 'WARNINGS: 1'}]})
    assert wait_task(client, UPID, timeout=5)['exitstatus'] == 'WARNINGS: 1'


def test_failed_task_fails_at_once_with_log_tail():
    clock = FakeClock()
    client = scripted({UPID: [RUNNING, {'status': 'stopped', 'exitstatus': 'clone failed: out of space'}]},
                      log=['create full clone of drive scsi0', 'out of space on local-lvm',
                           'TASK ERROR: clone failed: out of space'])
    with pytest.raises(PveTaskError) as err:
        wait_task(client, UPID, timeout=600, what='clone of student-1', sleep=clock.sleep, clock=clock.clock)
    text = str(err.value)
    assert text.startswith('clone of student-1: task UPID:pve1:')
    assert 'clone failed: out of space' in text and 'out of space on local-lvm' in text
    assert clock.now < 1  # did not spin until the timeout


def test_timeout_says_task_goes_on():
    clock = FakeClock()
    client = scripted({UPID: [RUNNING]})
    with pytest.raises(PveTaskTimeout) as err:
        wait_task(client, UPID, timeout=10, sleep=clock.sleep, clock=clock.clock)
    assert 'still running after 10 s' in str(err.value)
    assert 9.9 <= clock.now <= 10.1


def test_wait_tasks_reports_each():
    other = UPID.replace('00001234', '00001235')
    third = UPID.replace('00001234', '00001236')
    clock = FakeClock()
    client = scripted({UPID: [RUNNING, {'status': 'stopped', 'exitstatus': 'OK'}],
                       other: [{'status': 'stopped', 'exitstatus': 'boom'}],
                       third: [RUNNING]})
    results = wait_tasks(client, {'a': UPID, 'b': other, 'c': third, 'd': None}, timeout=5,
                         sleep=clock.sleep, clock=clock.clock)
    assert results['a'] is None and results['d'] is None
    assert isinstance(results['b'], PveTaskError) and 'boom' in str(results['b'])
    assert isinstance(results['c'], PveTaskTimeout)


def test_real_task_on_fake(fake):
    fake.pve.add_vm(100, 'vm1')
    client = PveClient(fake.params())
    upid = client.post('/nodes/pve1/qemu/100/status/start')
    assert wait_task(client, upid, timeout=10)['exitstatus'] == 'OK'
    fake.pve.fail('POST', '/nodes/pve1/qemu/100/status/stop', error='stop_timeout', times=1) \
        if any(e['name'] == 'stop_timeout' for e in fake.pve.errors_for('POST', '/nodes/pve1/qemu/100/status/stop')) \
        else None
    vm = fake.pve.vm(100)
    vm.status = 'stopped'
    vm.start_error = 'start failed: QEMU exited with code 1'
    upid = client.post('/nodes/pve1/qemu/100/status/start')
    with pytest.raises(PveTaskError) as err:
        wait_task(client, upid, timeout=10)
    assert 'QEMU exited with code 1' in str(err.value)
