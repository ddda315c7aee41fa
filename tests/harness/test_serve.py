"""The serve command (python -m fakecluster serve) and the /_fake control routes."""

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def served(tmp_path):
    """The serve command running demo.json; yields its info file's content."""
    info_file = tmp_path / 'pve.json'
    env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-m', 'fakecluster', 'serve', 'demo.json', '--info-file', str(info_file),
                             '--time-scale', '0.01', '--clone-secs', '10'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith('fakecluster listening on https://127.0.0.1:'), line + proc.stderr.read()
        info = json.loads(info_file.read_text())
        assert line.split()[-1] == info['url']
        yield dict(info, proc=proc, info_file=info_file)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def call(info, method, route, **kwargs):
    """A /_fake control call."""
    answer = requests.request(method, info['control_url'] + route, verify=info['ca_path'], timeout=10, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_serve_command_serves_demo_json_with_its_own_ca(served):
    assert set(served) >= {'url', 'host', 'port', 'user', 'password', 'ca_path', 'control_url'}
    assert served['user'] == 'root@pam' and os.path.exists(served['ca_path'])
    session = requests.Session()
    session.trust_env = False  # the fake's CA, not REQUESTS_CA_BUNDLE
    answer = session.post(served['url'] + '/api2/json/access/ticket', verify=served['ca_path'], timeout=10,
                          data={'username': served['user'], 'password': served['password']})
    assert answer.status_code == 200 and answer.json()['data']['ticket'].startswith('PVE:root@pam:')
    with pytest.raises(requests.exceptions.SSLError):
        session.get(served['url'] + '/api2/json/version', timeout=10, verify=True)  # no public CA signed it


def test_control_routes_count_requests_inject_faults_and_show_state(served):
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import ResourceException
    api = ProxmoxAPI(served['host'], port=served['port'], user=served['user'], password=served['password'],
                     verify_ssl=served['ca_path'])
    call(served, 'POST', '/requests/clear')
    api.nodes.get()
    api.cluster.resources.get(type='vm')
    log = call(served, 'GET', '/requests', params={'method': 'GET'})
    assert log['count'] == 2 and log['requests'][0][:2] == ['GET', '/api2/json/nodes']

    call(served, 'POST', '/fail', json={'method': 'POST', 'path': '/nodes/{node}/qemu/{vmid}/clone',
                                        'status': 500, 'message': 'storage is locked', 'times': 1})
    with pytest.raises(ResourceException) as failed:
        api.nodes('pve1').qemu(9000).clone.post(newid=300, name='s1')
    assert failed.value.status_code == 500 and 'storage is locked' in str(failed.value)
    upid = api.nodes('pve1').qemu(9000).clone.post(newid=300, name='s1', target='pve2')  # `times` ran out
    assert api.nodes('pve1').tasks(upid).status.get()['status'] == 'running'  # --clone-secs 10 at 0.01

    call(served, 'POST', '/vm', json={'vmid': 100, 'lock': 'backup'})
    api.access.users.post(userid='alice@pve', password='alice-password')
    api.access.acl.put(path='/vms/300', users='alice@pve', roles='PVEVMUser')
    state = call(served, 'GET', '/state')
    assert [u['userid'] for u in state['users']] == ['alice@pve', 'other@pve', 'root@pam']
    assert {'path': '/vms/300', 'type': 'user', 'ugid': 'alice@pve', 'roleid': 'PVEVMUser', 'propagate': 1} \
        in state['acl']
    assert dict((vm['vmid'], vm['lock']) for vm in state['vms']) == {100: 'backup', 101: None, 300: 'clone',
                                                                     9000: None}
    assert [n['node'] for n in state['nodes']] == ['pve1', 'pve2', 'pve3'] and state['nodes'][1]['mem'] > 0
    assert state['firewall']['options']['policy_in'] == 'ACCEPT' and 'webservers' in state['firewall']['groups']
    assert 'password' not in json.dumps(state['users'])

    assert call(served, 'POST', '/set', json={'clone_secs': 0})['clone_secs'] == 0
    assert call(served, 'POST', '/node', json={'node': 'pve3', 'online': False}) == {'node': 'pve3', 'online': False}
    with pytest.raises(ResourceException) as offline:
        api.nodes('pve3').status.get()
    assert offline.value.status_code == 595
    call(served, 'POST', '/revoke-tickets')
    with pytest.raises(ResourceException) as revoked:
        api.version.get()
    assert revoked.value.status_code == 401


def test_control_routes_refuse_unknown_settings(served):
    answer = requests.post(served['control_url'] + '/set', json={'clone_sec': 3}, verify=served['ca_path'],
                           timeout=10)
    assert answer.status_code == 400 and 'clone_sec' in answer.json()['error']


def test_the_serve_command_cleans_up_on_sigterm(served):
    served['proc'].send_signal(signal.SIGTERM)
    assert served['proc'].wait(10) == 0
    assert not served['info_file'].exists() and not os.path.exists(served['ca_path'])


def test_the_serve_command_refuses_a_non_loopback_host():
    env = dict(os.environ, PYTHONPATH=TESTS)
    done = subprocess.run([sys.executable, '-m', 'fakecluster', 'serve', 'small.json', '--host', '0.0.0.0'],
                          capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 2 and '127.0.0.0/8' in done.stderr


def test_serving_refuses_a_non_loopback_host():
    from fakecluster import serving
    with pytest.raises(ValueError):
        with serving('small.json', host='192.0.2.1'):
            pass


def test_the_control_routes_work_in_process_too(pve_cluster, pve_api):
    # Fixture users get the same routes (e.g. for a playbook run that cannot reach pve_cluster.pve).
    pve_api.nodes.get()
    answer = requests.get(pve_cluster.control_url + '/requests', verify=pve_cluster.ca_path, timeout=10).json()
    assert answer['count'] == pve_cluster.count_requests() == 2  # the login and GET /nodes
    assert pve_cluster.count_requests('POST', '/access/ticket') == 1
