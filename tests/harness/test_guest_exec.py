"""Commands run through the guest agent on LabPve (tests/fakecluster/guestexec.py): exec and exec-status as PVE
answers them, with results tests program in-process or through POST /_fake/exec."""

import time

import pytest
import requests
from proxmoxer.core import ResourceException

MiB = 1024 * 1024


def start(api, vmid, node='pve1'):
    api.nodes(node).qemu(vmid).status.start.post()
    deadline = time.monotonic() + 10
    while api.nodes(node).qemu(vmid).status.current.get()['status'] != 'running':
        assert time.monotonic() < deadline, 'VM {0} did not start'.format(vmid)
        time.sleep(0.02)


def agent(api, vmid, node='pve1'):
    return api.nodes(node).qemu(vmid).agent


def run(api, vmid, command, **extra):
    """POST exec with a JSON body (command is an array), -> pid."""
    return agent(api, vmid).exec.post(command=command, **extra)['pid']


def status(api, vmid, pid):
    return agent(api, vmid)('exec-status').get(pid=pid)


def refused(call, *args, **kwargs):
    with pytest.raises(ResourceException) as info:
        call(*args, **kwargs)
    return info.value.status_code, str(info.value)


@pytest.fixture
def api(pve_cluster, pve_api):
    start(pve_api, 100)
    return pve_api


# ------------------------------------------------------------------ results

def test_a_programmed_command_answers_its_output_decoded_and_is_forgotten_after_its_exit(pve_cluster, api):
    pve_cluster.pve.set_exec(100, ['sysctl', '-n', 'net.ipv4.ip_forward'], stdout='1\n', stderr='note\n')
    pid = run(api, 100, ['sysctl', '-n', 'net.ipv4.ip_forward'])
    assert status(api, 100, pid) == {'exited': 1, 'exitcode': 0, 'out-data': '1\n', 'out-truncated': 0,
                                     'err-data': 'note\n', 'err-truncated': 0}
    # qemu-ga removes the process once it reported the exit
    assert refused(status, api, 100, pid) == (500, "500 Internal Server Error: Agent error: Invalid parameter 'pid'")


def test_empty_streams_are_left_out_and_the_exit_code_is_the_programmed_one(pve_cluster, api):
    pve_cluster.pve.set_exec(100, ['false'], rc=1)
    assert status(api, 100, run(api, 100, ['false'])) == {'exited': 1, 'exitcode': 1}


def test_stdin_selects_the_result_and_is_passed_on(pve_cluster, api):
    pve = pve_cluster.pve
    pve.set_exec(100, ['sh'], input='exit 3\n', rc=3)
    pve.set_exec(100, ['sh'], rc=0, stdout='any other input')
    assert status(api, 100, run(api, 100, ['sh'], **{'input-data': 'exit 3\n'}))['exitcode'] == 3
    assert status(api, 100, run(api, 100, ['sh'], **{'input-data': 'true'}))['out-data'] == 'any other input'
    asked = [values for command, values in pve.vm(100).agent_requests if command == 'exec']
    assert asked[0] == {'command': ['sh'], 'input-data': 'exit 3\n'}


def test_a_signal_ends_a_command_without_an_exit_code(pve_cluster, api):
    pve_cluster.pve.set_exec(100, ['sleep', '600'], signal=9)
    assert status(api, 100, run(api, 100, ['sleep', '600'])) == {'exited': 1, 'signal': 9}


def test_a_command_runs_for_its_pve_seconds(pve_cluster, api):
    pve_cluster.pve.time_scale = 0.01
    pve_cluster.pve.set_exec(100, ['sleep', '30'], secs=30)  # 0.3 s of wall time
    began = time.monotonic()
    pid = run(api, 100, ['sleep', '30'])
    assert status(api, 100, pid) == {'exited': 0}
    while status(api, 100, pid)['exited'] == 0:  # the loop ends: an exited status is read once only
        assert time.monotonic() - began < 5
        time.sleep(0.05)
    assert time.monotonic() - began >= 0.3


def test_every_vm_default_a_vm_of_its_own_and_a_handler(pve_cluster, api):
    pve = pve_cluster.pve
    start(api, 101)
    pve.set_exec(None, ['hostname'], stdout='any\n')
    pve.set_exec(101, ['hostname'], stdout='beta\n')
    assert status(api, 100, run(api, 100, ['hostname']))['out-data'] == 'any\n'
    assert status(api, 101, run(api, 101, ['hostname']))['out-data'] == 'beta\n'
    pve.set_exec_handler(100, lambda argv, data: {'stdout': ' '.join(reversed(argv))} if argv[0] == 'echo' else None)
    assert status(api, 100, run(api, 100, ['echo', 'a', 'b']))['out-data'] == 'b a echo'
    assert status(api, 100, run(api, 100, ['hostname']))['out-data'] == 'any\n'  # the handler passed: the table


def test_output_is_truncated_at_the_agents_16_mib(pve_cluster, api):
    pve_cluster.pve.set_exec(100, ['yes'], stdout='y' * (16 * MiB + 5), stderr='e' * 10)
    answer = status(api, 100, run(api, 100, ['yes']))
    assert len(answer['out-data']) == 16 * MiB and answer['out-truncated'] == 1
    assert answer['err-data'] == 'e' * 10 and answer['err-truncated'] == 0


# ------------------------------------------------------------------ refusals

def test_a_program_nobody_programmed_does_not_exist(api):
    code, message = refused(run, api, 100, ['nosuch', '-x'])
    # glib's quotes around the name are not ASCII: the status line, where PVE puts its message, garbles them
    assert code == 500 and 'Agent error: Failed to execute child process ' in message
    assert 'nosuch' in message and '(No such file or directory)' in message


def json_post(cluster, path, body):
    """A POST with a JSON body as root@pam: a form body cannot carry an empty array."""
    session = requests.Session()
    session.trust_env = False
    login = session.post(cluster.url + '/api2/json/access/ticket', verify=cluster.ca_path, timeout=10,
                         data={'username': cluster.user, 'password': cluster.password}).json()['data']
    return session.post(cluster.url + '/api2/json' + path, json=body, verify=cluster.ca_path, timeout=10,
                        cookies={'PVEAuthCookie': login['ticket']},
                        headers={'CSRFPreventionToken': login['CSRFPreventionToken']})


def test_an_empty_command_without_input_is_refused(pve_cluster, api):
    answer = json_post(pve_cluster, '/nodes/pve1/qemu/100/agent/exec', {'command': []})
    assert answer.status_code == 500 and 'command or input-data (or both) required' in answer.reason
    assert refused(run, api, 100, [])[0] == 400  # a form body drops the empty list: the parameter is missing


def test_a_stopped_vm_is_not_running(pve_api):
    assert refused(run, pve_api, 101, ['true'])[1].endswith('VM 101 is not running')


def test_no_agent_key_is_not_configured_agent_0_is_not_running(pve_cluster, api):
    pve_cluster.pve.set_exec(None, ['true'])
    pve_cluster.pve.vm(101).config.pop('agent')
    start(api, 101)
    assert refused(run, api, 101, ['true'])[1].endswith('No QEMU guest agent configured')
    api.nodes('pve1').qemu(100).config.put(agent='0')  # a key: PVE goes on and finds no agent socket
    assert refused(run, api, 100, ['true'])[1].endswith('QEMU guest agent is not running')
    api.nodes('pve1').qemu(100).config.put(agent='1')
    assert status(api, 100, run(api, 100, ['true']))['exitcode'] == 0


def test_a_hanging_agent_fails_the_ping_after_3_s_a_hanging_exec_after_5_s(pve_cluster, api):
    pve = pve_cluster.pve
    pve.set_exec(None, ['true'])
    pve.time_scale = 0.05
    pve.vm(100).agent_hangs = True
    began = time.monotonic()
    assert refused(run, api, 100, ['true'])[1].endswith('QEMU guest agent is not running')
    assert time.monotonic() - began >= 0.15
    pve.vm(100).agent_hangs = False
    pve.vm(100).exec_hangs = True
    began = time.monotonic()
    assert refused(run, api, 100, ['true'])[1].endswith("VM 100 qga command 'guest-exec' failed - got timeout")
    assert time.monotonic() - began >= 0.25


def test_an_agent_not_up_yet_is_not_running(pve_cluster, pve_api):
    pve_cluster.pve.set_exec(None, ['true'])
    pve_cluster.pve.time_scale = 0.01
    pve_cluster.pve.vm(100).agent_delay_secs = 1000
    start(pve_api, 100)
    assert refused(run, pve_api, 100, ['true'])[1].endswith('QEMU guest agent is not running')


# ---------------------------------------------------------------- privileges

@pytest.mark.parametrize('release, needed, weaker', [('8.4', 'VM.Monitor', 'VM.Audit'),
                                                     ('9.1', 'VM.GuestAgent.Unrestricted', 'VM.GuestAgent.Audit')])
def test_exec_needs_vm_monitor_on_pve8_and_guestagent_unrestricted_on_pve9(pve_cluster, api, release, needed, weaker):
    pve_cluster.pve.pve_version = release
    root = pve_cluster.api()
    pve_cluster.pve.set_exec(100, ['id'], stdout='uid=0(root)\n')
    root.access.users.post(userid='alice@pve', password='alice-password')
    root.access.roles.post(roleid='Exec', privs=needed)
    root.access.roles.post(roleid='Less', privs=weaker)
    root.access.acl.put(path='/vms/100', users='alice@pve', roles='Less')
    alice = pve_cluster.api('alice@pve', 'alice-password')
    code, message = refused(run, alice, 100, ['id'])
    assert code == 403 and needed in message
    root.access.acl.put(path='/vms/100', users='alice@pve', roles='Exec')
    pid = run(alice, 100, ['id'])
    assert status(alice, 100, pid)['out-data'] == 'uid=0(root)\n'


# ------------------------------------------------------------- control route

def test_the_control_route_programs_results_for_another_process(pve_cluster, api):
    def post(body):
        return requests.post(pve_cluster.control_url + '/exec', json=body, timeout=10, verify=pve_cluster.ca_path)
    answer = post({'vmid': 100, 'command': ['cat', '/etc/hostname'], 'stdout': 'alpha\n', 'rc': 0, 'secs': 0})
    assert answer.json() == {'vmid': 100, 'programmed': 1}
    assert post({'vmid': None, 'command': ['uptime'], 'rc': 2, 'stderr': 'no'}).json()['vmid'] is None
    assert status(api, 100, run(api, 100, ['cat', '/etc/hostname']))['out-data'] == 'alpha\n'
    assert status(api, 100, run(api, 100, ['uptime'])) == {'exited': 1, 'exitcode': 2, 'err-data': 'no',
                                                           'err-truncated': 0}
    assert post({'vmid': 100, 'command': 'cat'}).status_code == 400
    assert post({'vmid': 100, 'command': ['x'], 'exitcode': 1}).status_code == 400  # rc, not PVE's name
    assert post({'vmid': 4242, 'command': ['x']}).status_code == 400
    assert post({'vmid': 100, 'clear': True}).json()['programmed'] == 0
    assert 'Failed to execute' in refused(run, api, 100, ['cat', '/etc/hostname'])[1]
    hang = requests.post(pve_cluster.control_url + '/vm', json={'vmid': 100, 'exec_hangs': True}, timeout=10,
                         verify=pve_cluster.ca_path)
    assert hang.status_code == 200 and pve_cluster.pve.vm(100).exec_hangs is True


# ---------------------------------------------------------------- description

def test_a_description_programs_results_and_a_hanging_exec():
    from fakecluster import build, serving
    vm = {'vmid': 100, 'name': 'alpha', 'node': 'pve1', 'status': 'running', 'config': {'agent': '1'},
          'exec': [{'command': ['hostname'], 'stdout': 'alpha\n'}]}
    with serving({'nodes': [{'name': 'pve1'}], 'vms': [vm, dict(vm, vmid=101, name='beta', exec_hangs=True)]},
                 time_scale=0.001) as cluster:
        api = cluster.api()
        assert status(api, 100, run(api, 100, ['hostname']))['out-data'] == 'alpha\n'
        assert refused(run, api, 101, ['hostname'])[1].endswith('got timeout')
    with pytest.raises(ValueError, match='exec'):
        build({'vms': [dict(vm, exec=[{'command': ['x'], 'exitcode': 1}])]})
