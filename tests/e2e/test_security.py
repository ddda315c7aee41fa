"""Issue 9's security promises, end to end against the fake cluster:

- passwords (given and generated), the API password, token secrets and login tickets never appear in a -vvv --diff
  run's output nor in ansible's log file;
- certificates are verified by default, a wrong CA fails clearly, the docs show ca_path;
- the default student role lets a student use its own VM and nothing more: its own login is refused VM.Allocate,
  VM.Config.Network and Permissions.Modify;
- isolation fails closed: a VM whose firewall cannot be set stops the run before any student VM starts, naming it;
- the file with generated passwords is written 0600.
"""

import csv
import os
import stat

import pytest
import yaml
from proxmoxer.core import ResourceException

from e2e.helpers import REPO, connection_vars, run_playbook
from e2e.test_faults import assert_converged, lab_failure, lab_up, lab_vars, vms_of

LAB = 'flt'
GIVEN = {'ada': 'ada-Given-pw-1', 'bo': 'bo-Given-pw-22'}
STUDENTS = ['ada', 'bo', 'cy', 'di']


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """One lab made by a -vvv --diff run (two given passwords, two generated), followed in the same run by a
    student's API token and a student's ticket, as a teacher's playbook would get them (no_log, as documented)."""
    from fakecluster import serving
    tmp_path = tmp_path_factory.mktemp('security')
    with serving('demo.json', time_scale=0.01, clone_secs=30, password='Root-Api-Pa55-7q') as cluster:
        students = [dict({'username': s}, **({'password': GIVEN[s]} if s in GIVEN else {})) for s in STUDENTS]
        extra = lab_vars(cluster, tmp_path, students=[], lab_students=students)
        playbook = tmp_path / 'lab-and-credentials.yml'
        playbook.write_text(yaml.safe_dump([
            {'ansible.builtin.import_playbook': 'pvelab.proxmox.lab_up'},
            {'name': 'credentials for a course website', 'hosts': 'localhost', 'gather_facts': False,
             'module_defaults': {'group/pvelab.proxmox.pve': connection_vars(cluster)},
             'tasks': [
                 {'name': 'token', 'pvelab.proxmox.pve_token': {'userid': 'cy', 'token': 'portal', 'privsep': True},
                  'register': 'token', 'no_log': True},
                 {'name': 'keep the secret', 'ansible.builtin.copy': {
                     'content': '{{ token.token.secret }}', 'dest': str(tmp_path / 'token.secret'), 'mode': '0600'},
                  'no_log': True},
                 {'name': 'token again', 'pvelab.proxmox.pve_token': {'userid': 'cy', 'token': 'portal',
                                                                      'privsep': True, 'comment': 'website'}},
                 {'name': 'ticket', 'pvelab.proxmox.pve_user_ticket': {'userid': 'bo', 'password': GIVEN['bo']},
                  'register': 'session', 'no_log': True},
                 {'name': 'keep the ticket', 'ansible.builtin.copy': {
                     'content': '{{ session.ticket }}\n{{ session.csrf_token }}\n',
                     'dest': str(tmp_path / 'ticket'), 'mode': '0600'}, 'no_log': True},
                 {'name': 'password kept', 'pvelab.proxmox.pve_user': {
                     'userid': 'ada', 'password': GIVEN['ada'], 'update_password': 'always'}},
             ]},
        ], sort_keys=False))
        log_path = tmp_path / 'ansible.log'
        result = run_playbook(cluster, playbook=str(playbook), extra_vars=extra, verbosity=3, diff=True,
                              callback='default', tmp_path=tmp_path, env={'ANSIBLE_LOG_PATH': str(log_path)})
        with open(log_path) as fh:
            log = fh.read()
        yield cluster, tmp_path, result, log


def secrets_file(tmp_path):
    with open(tmp_path / 'flt-roster.csv.secrets') as fh:
        return dict((row['username'], row['password']) for row in csv.DictReader(fh))


def test_no_secret_in_vvv_output_diff_or_log(lab):
    cluster, tmp_path, result, log = lab
    assert result.rc == 0, result
    output = result.stdout + result.stderr
    assert '<localhost> ESTABLISH LOCAL CONNECTION' in output and 'TASK [password kept]' in output   # really -vvv
    generated = secrets_file(tmp_path)
    assert sorted(generated) == ['cy', 'di']
    with open(tmp_path / 'token.secret') as fh:
        token_secret = fh.read().strip()
    with open(tmp_path / 'ticket') as fh:
        ticket, csrf = fh.read().split()
    assert token_secret == cluster.pve.apitokens['cy@pve!portal'] and ticket.startswith('PVE:bo@pve:')
    issued = list(cluster.pve.tickets)        # every login of every module in the run, and bo's own
    assert ticket in issued and len(issued) > 10
    secrets = dict(('password of ' + u, p) for u, p in list(GIVEN.items()) + list(generated.items()))
    secrets.update({'API password': cluster.password, 'token secret': token_secret, 'CSRF token': csrf})
    secrets.update(('ticket {0}'.format(n), t.split('::')[-1]) for n, t in enumerate(issued))
    for what, text in secrets.items():
        assert text not in output, what + ' in the -vvv output'
        assert text not in log, what + ' in the log file'
    # the passwords work: the run really set them
    for user, password in list(GIVEN.items()) + list(generated.items()):
        cluster.api(user=user + '@pve', password=password)


def test_generated_passwords_file_is_0600_and_the_roster_has_none(lab):
    cluster, tmp_path, result, _log = lab
    assert stat.S_IMODE(os.stat(tmp_path / 'flt-roster.csv.secrets').st_mode) == 0o600
    generated = secrets_file(tmp_path)
    for name in ('flt-roster.csv', 'flt-roster.json'):
        with open(tmp_path / name) as fh:
            text = fh.read()
        assert 'cy' in text and not [p for p in list(generated.values()) + list(GIVEN.values()) if p in text]


def refused(call):
    with pytest.raises(ResourceException) as err:
        call()
    assert err.value.status_code == 403, err.value


def test_student_login_is_refused_allocate_network_and_permissions(lab):
    """The student's own login: its VM works (console, power), but VM.Allocate (create, destroy, clone to a new
    id), VM.Config.Network and Permissions.Modify are refused by PVE."""
    cluster, tmp_path, result, _log = lab
    state = cluster.pve.lab_state()
    vm = [v for v in vms_of(state, LAB) if v['name'] == 'flt-cy'][0]
    other = [v for v in vms_of(state, LAB) if v['name'] == 'flt-di'][0]
    student = cluster.api(user='cy@pve', password=secrets_file(tmp_path)['cy'])
    own = student.nodes(vm['node']).qemu(vm['vmid'])
    assert own.status.current.get()['status'] == 'running'
    own.status.reboot.post()                                              # VM.PowerMgmt: granted
    own.vncproxy.post()                                                   # VM.Console: granted
    perms = student.access.permissions.get()          # what PVE says the student holds, on every path
    assert sorted(perms['/vms/{0}'.format(vm['vmid'])]) == ['VM.Audit', 'VM.Console', 'VM.PowerMgmt']
    assert not [(path, p) for path, privs in perms.items() for p in privs
                if p in ('VM.Allocate', 'VM.Config.Network', 'Permissions.Modify')], perms

    refused(lambda: student.nodes(vm['node']).qemu.post(vmid=990, name='mine', memory=512))
    refused(lambda: own.delete())
    refused(lambda: own.clone.post(newid=991, name='copy'))
    refused(lambda: own.config.put(net0='virtio,bridge=vmbr0'))
    refused(lambda: own.config.put(net0=vm['config']['net0'].replace(',firewall=1', '')))
    refused(lambda: own.firewall.options.put(enable=0))
    refused(lambda: student.access.acl.put(
        path='/vms/{0}'.format(vm['vmid']), roles='PVEVMAdmin', users='cy@pve'))
    refused(lambda: student.access.acl.put(path='/vms/{0}'.format(other['vmid']), roles='LabStudent-flt',
                                           users='cy@pve'))
    refused(lambda: student.nodes(other['node']).qemu(other['vmid']).status.stop.post())
    after = cluster.pve.lab_state()
    assert [a for a in after['acl'] if a['ugid'] == 'cy@pve'] == [a for a in state['acl'] if a['ugid'] == 'cy@pve']
    assert cluster.pve.guest(990) is None and cluster.pve.guest(991) is None


def test_certificates_are_verified_by_default(pve_cluster, tmp_path):
    """No ca_path: the system store does not know the fake's CA, and validate_certs is on by default. Another CA:
    refused. Both fail before any request reaches PVE, with a message saying what to do."""
    from fakepve.certs import make_cert
    other_ca = make_cert(str(tmp_path), name='someone-else', hosts=('127.0.0.1',))[0]
    base = dict(connection_vars(pve_cluster))
    base.pop('ca_path')
    tasks = [
        {'name': 'default', 'pvelab.proxmox.pve_node_info': {}, 'ignore_errors': True},
        {'name': 'wrong CA', 'pvelab.proxmox.pve_node_info': {'ca_path': other_ca}, 'ignore_errors': True},
        {'name': 'right CA', 'pvelab.proxmox.pve_node_info': {'ca_path': pve_cluster.ca_path}},
    ]
    result = run_playbook(pve_cluster, play={'tasks': tasks, 'module_defaults': {'group/pvelab.proxmox.pve': base}},
                          tmp_path=tmp_path, env={'PROXMOX_CA_PATH': '', 'SSL_CERT_FILE': '', 'SSL_CERT_DIR': ''})
    for name in ('default', 'wrong CA'):
        msg = result.task(name)['msg']
        assert result.task(name)['failed'] and 'TLS certificate of 127.0.0.1 could not be verified' in msg, msg
        assert 'ca_path' in msg and 'CERTIFICATE_VERIFY_FAILED' in msg, msg
    assert not result.task('right CA').get('failed') and result.task('right CA')['nodes']
    assert pve_cluster.count_requests() == 2       # the right CA's login and its one read; nothing else got through


def test_certificate_options_documented():
    with open(os.path.join(REPO, 'plugins', 'doc_fragments', 'api.py')) as fh:
        fragment = yaml.safe_load(fh.read().split("DOCUMENTATION = r'''")[1].split("'''")[0])
    assert fragment['options']['validate_certs']['default'] is True
    assert 'ca_path' in fragment['options']
    with open(os.path.join(REPO, 'README.md')) as fh:
        readme = fh.read()
    assert 'ca_path' in readme


@pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=30)
def test_isolation_fails_closed(pve_cluster, tmp_path):
    """PVE refuses the firewall options of one student VM: the run stops before any student VM starts, naming the
    VM left unprotected and PVE's reason; once the fault is gone a re-run converges, every VM isolated then
    started."""
    pve = pve_cluster.pve
    record = pve._record
    reason = "close (rename) atomic file '/etc/pve/firewall/{0}.fw' failed: Input/output error"
    victim = {}

    def hooked(request, body):
        record(request, body)
        if request.method == 'POST' and request.path.endswith('/clone') and b'name=flt-bo' in bytes(body or b''):
            vmid = int(dict(p.split('=', 1) for p in bytes(body).decode().split('&'))['newid'])
            victim['vmid'] = vmid
            pve.fail('PUT', '/qemu/{0}/firewall/options'.format(vmid), 500, reason.format(vmid))
    pve._record = hooked
    result = lab_up(pve_cluster, tmp_path)
    assert result.rc != 0 and victim
    text = lab_failure(result)
    assert "stopped at 'Isolate the students' VMs" in text, text
    assert 'vm {0}'.format(victim['vmid']) in text.lower() and reason.format(victim['vmid']) in text, text
    state = pve.lab_state()
    assert len(vms_of(state, LAB)) == 4
    assert not [vm['name'] for vm in vms_of(state, LAB) if vm['status'] != 'stopped']
    assert not [t for t in state['tasks'] if t['type'] in ('qmstart', 'qmsnapshot')]

    pve.failures.clear()
    again = lab_up(pve_cluster, tmp_path)
    assert again.rc == 0, again
    assert_converged(pve_cluster, tmp_path)
