"""pve_guest_exec against the fake PVE (LabPve, guest_fake.py; exec results programmed with
tests/fakecluster/guestexec.py): every guest's result, per-guest failures that do not fail the module, timeouts,
output cut at 64 KiB, refusals before anything runs, check mode."""

import time

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_guest_exec
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import

STUDENT = {'memory': 1024, 'cores': 1, 'agent': '1', 'net0': 'virtio=BC:24:11:00:02:00,bridge=vmbr0'}


@pytest.fixture
def lab(served):
    """Two running students' VMs with an agent beside guest_fake's running teacher (100) and stopped web01 (101,
    no agent key)."""
    served.pve.add_vm(201, 'alice', node='pve2', status='running', config=dict(STUDENT))
    served.pve.add_vm(202, 'bob', node='pve3', status='running', config=dict(STUDENT))
    served.pve.statd_refresh()
    return served


def run(served, check=False, **args):
    args.setdefault('command', ['sysctl', '-n', 'net.ipv4.ip_forward'])
    return served.run(pve_guest_exec.main, args, check=check)


def execs(served, vmid):
    return [values for command, values in served.pve.vm(vmid).agent_requests if command == 'exec']


def test_every_guest_answers_its_own_result(lab):
    lab.pve.set_exec(201, ['sysctl', '-n', 'net.ipv4.ip_forward'], stdout='1\n')
    lab.pve.set_exec(202, ['sysctl', '-n', 'net.ipv4.ip_forward'], rc=255, stderr='sysctl: permission denied\n')
    result, failed = run(lab, vms=[201, 'bob'])
    assert not failed and result['changed']
    assert result['items'] == [
        {'vmid': 201, 'name': 'alice', 'node': 'pve2', 'ran': True, 'rc': 0, 'signal': None, 'stdout': '1\n',
         'stderr': '', 'truncated': False, 'timed_out': False, 'error': None},
        {'vmid': 202, 'name': 'bob', 'node': 'pve3', 'ran': True, 'rc': 255, 'signal': None, 'stdout': '',
         'stderr': 'sysctl: permission denied\n', 'truncated': False, 'timed_out': False, 'error': None}]
    # the argv went as one JSON array, not as PVE's comma list
    assert execs(lab, 201) == [{'command': ['sysctl', '-n', 'net.ipv4.ip_forward']}]


def test_stdin_reaches_the_command(lab):
    lab.pve.set_exec(201, ['sh', '-s'], input='echo ok\n', stdout='ok\n')
    result, failed = run(lab, vms=[201], command=['sh', '-s'], input='echo ok\n')
    assert not failed and result['items'][0]['stdout'] == 'ok\n'
    assert execs(lab, 201) == [{'command': ['sh', '-s'], 'input-data': 'echo ok\n'}]


def test_a_guest_that_cannot_run_it_is_a_result_not_a_failure(lab):
    lab.pve.set_exec(None, ['true'])
    lab.pve.vm(202).agent_hangs = True
    lab.pve.vm(201).config['agent'] = '0'
    result, failed = run(lab, vms=[100, 101, 201, 202], command=['true'])
    assert not failed and result['changed']  # the teacher's VM ran it
    by_vmid = dict((i['vmid'], i) for i in result['items'])
    assert by_vmid[100]['rc'] == 0 and by_vmid[100]['error'] is None
    assert by_vmid[101]['error'] == 'No QEMU guest agent configured' and not by_vmid[101]['ran']
    assert by_vmid[201]['error'] == 'QEMU guest agent is not running' and by_vmid[201]['rc'] is None
    assert by_vmid[202]['error'] == 'QEMU guest agent is not running' and not by_vmid[202]['timed_out']
    lab.pve.vm(101).config['agent'] = '1'
    result, failed = run(lab, vms=[101], command=['true'])
    assert not failed and not result['changed'] and result['items'][0]['error'] == 'VM 101 is not running'


def test_a_program_that_is_not_there_is_the_agents_error(lab):
    result, failed = run(lab, vms=[201], command=['nosuch'])
    assert not failed and not result['changed']
    assert result['items'][0]['error'].startswith('Agent error: Failed to execute child process')


def test_a_long_command_is_followed_to_its_end_a_longer_one_times_out(lab):
    lab.pve.set_exec(201, ['sleep', '50'], secs=50, stdout='done')      # 0.5 s of wall time
    lab.pve.set_exec(202, ['sleep', '50'], secs=100000, stdout='never')  # 1000 s
    began = time.monotonic()
    result, failed = run(lab, vms=[201, 202], command=['sleep', '50'], timeout=2)
    assert not failed and time.monotonic() - began < 6
    alice, bob = result['items']
    assert alice['rc'] == 0 and alice['stdout'] == 'done' and not alice['timed_out']
    assert bob['ran'] and bob['timed_out'] and bob['rc'] is None and bob['stdout'] == '' and bob['error'] is None


def test_the_status_read_failing_is_the_guests_error(lab):
    lab.pve.set_exec(201, ['true'], secs=20)
    lab.pve.fail('GET', '/nodes/pve2/qemu/201/agent/exec-status', 500, 'QEMU guest agent is not running')
    result, failed = run(lab, vms=[201], command=['true'])
    assert not failed and result['items'][0]['error'] == 'QEMU guest agent is not running'
    assert result['items'][0]['ran'] and not result['items'][0]['timed_out']


def test_output_is_cut_at_64_kib_each(lab):
    lab.pve.set_exec(201, ['cat'], stdout='x' * 70000, stderr='\u00e9' * 40000)  # stderr: 80000 bytes of UTF-8
    lab.pve.set_exec(202, ['cat'], stdout='short')
    result, failed = run(lab, vms=[201, 202], command=['cat'])
    alice, bob = result['items']
    assert not failed and alice['truncated'] and alice['stdout'] == 'x' * 65536
    assert alice['stderr'] == '\u00e9' * 32768 and len(alice['stderr'].encode('utf-8')) == 65536
    assert not bob['truncated'] and bob['stdout'] == 'short'
    lab.pve.exec_max_output = 3  # the agent's own cut counts too
    result, failed = run(lab, vms=[202], command=['cat'])
    assert result['items'][0]['truncated'] and result['items'][0]['stdout'] == 'sho'


def test_a_signal_has_no_exit_code(lab):
    lab.pve.set_exec(201, ['sleep', '9'], signal=9)
    item = run(lab, vms=[201], command=['sleep', '9'])[0]['items'][0]
    assert item['rc'] is None and item['signal'] == 9


@pytest.mark.parametrize('args, message', [
    ({'vms': [201], 'command': []}, 'command must name a program'),
    ({'vms': [201], 'command': ['']}, 'command must name a program'),
    ({'vms': [], 'command': ['true']}, 'vms must name at least one VM'),
    ({'vms': [201, 'ghost'], 'command': ['true']}, "vms[1]: no guest with name 'ghost'"),
    ({'vms': [201, 4242], 'command': ['true']}, 'vms[1]: no guest with vmid 4242'),
    ({'vms': ['dup'], 'command': ['true']}, "vms[0]: name 'dup' matches 2 guests"),
    ({'vms': [201, 'alice'], 'command': ['true']}, 'vms[1]: alice (vmid 201) is also given as vms[0]'),
    ({'vms': ['300'], 'command': ['true']}, 'vms[0]: ct1 (vmid 300) is a container'),
    ({'vms': [201], 'command': ['cat'], 'input': 'x' * 65537}, 'input is 65537 characters long'),
    ({'vms': [201], 'command': ['true'], 'timeout': 0}, 'timeout must be at least 1'),
])
def test_bad_input_fails_before_anything_runs(lab, args, message):
    lab.pve.set_exec(None, ['true'])
    lab.pve.add_ct(300, 'ct1', node='pve1')
    lab.pve.statd_refresh()
    result, failed = run(lab, **args)
    assert failed and message in result['msg']
    assert execs(lab, 201) == [] and lab.writes() == []


def test_check_mode_runs_nothing_and_says_so(lab):
    lab.pve.set_exec(None, ['true'])
    result, failed = run(lab, check=True, vms=[201, 'bob'], command=['true'])
    assert not failed and result['changed'] and lab.writes() == []
    assert [(i['vmid'], i['ran'], i['msg']) for i in result['items']] == [
        (201, False, 'check mode: the command was not run'), (202, False, 'check mode: the command was not run')]
