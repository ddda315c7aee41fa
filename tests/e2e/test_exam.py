"""The practical evaluation end to end (playbook lab_exam, roles/lab/tasks/exam.yml): real ansible-playbook runs on
the realistic fake, checked against what the fake holds, what pve-firewall (as compiled) lets through, and what a
student's own login may still do."""

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import AuthenticationError, ResourceException

from e2e.helpers import api_writes, run_lab

STUDENTS = [{'username': 'alice'}, {'username': 'bob'}, {'username': 'carol'}, {'username': 'dave'}]
TEACHER = '192.0.2.10'
OUTSIDE = '198.51.100.80'    # a host on the internet
MARK = 'pvelab:netadmin exam exam'
CHECKS = [{'name': 'ip_forward', 'command': ['sysctl', '-n', 'net.ipv4.ip_forward'], 'expect_stdout': '^1$', 'points': 2},
          {'name': 'nginx', 'command': ['systemctl', 'is-active', 'nginx']},
          {'name': 'resolver', 'command': ['grep', '-c', 'nameserver', '/etc/resolv.conf'], 'expect_rc': 0, 'timeout': 5}]
HOSTILE = '<script>alert("x")</script>\n=HYPERLINK("http://evil"),"a,b"\n' + 'A' * 100000


def program(cluster, vmid, answers):
    """What the student's VM answers to each check: (rc, stdout) per check, in CHECKS order."""
    for check, (rc, stdout) in zip(CHECKS, answers):
        cluster.run(cluster.pve.set_exec, vmid, check['command'], rc=rc, stdout=stdout)


class Receiver(object):
    """A course website's hook on loopback: keeps every JSON body lab_notify_url sends, answers 204."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(json.loads(self.rfile.read(int(self.headers['Content-Length'])).decode()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = HTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:{0}/hook'.format(self.server.server_port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


def lab(cluster, tmp_path, playbook='lab_up', **over):
    return run_lab(cluster, tmp_path, 'netadmin', playbook,
                   **dict(dict(lab_template='tmpl-debian', lab_students=STUDENTS, lab_backup_storage='local'), **over))


def exam(cluster, tmp_path, state, **over):
    return lab(cluster, tmp_path, 'lab_exam', lab_exam_state=state, **over)


def vms(cluster):
    return dict((vm.name, vm) for vm in cluster.pve.vms if vm.name.startswith('netadmin-'))


def passwords(tmp_path):
    with open(tmp_path / 'netadmin-roster.csv.secrets') as fh:
        return dict((r['username'], r['password']) for r in csv.DictReader(fh))


def login(cluster, username, password):
    return ProxmoxAPI(cluster.host, port=cluster.port, user=username + '@pve', password=password,
                      verify_ssl=cluster.ca_path)


def verdict(cluster, vmid, dest, proto='tcp', dport=443):
    return cluster.run(cluster.pve.fw_simulate, {'vmid': vmid}, {'ip': dest}, proto=proto, dport=dport)['verdict']


def backups(cluster):
    out = []
    for storage in ('local',):
        out += [(vol['vmid'], vol.get('notes')) for vol in cluster.pve.backups(storage).values()]
    return sorted(out)


@pytest.mark.cluster('demo.json')
def test_an_exam_from_start_to_reopening(pve_cluster, tmp_path, receiver):
    cluster = pve_cluster
    assert lab(cluster, tmp_path, lab_notify_url=receiver.url).rc == 0
    students = vms(cluster)
    alice = students['netadmin-alice'].vmid
    assert verdict(cluster, alice, OUTSIDE) == 'ACCEPT'          # lab_outbound any: the internet is open
    secret = passwords(tmp_path)

    started = exam(cluster, tmp_path, 'started', lab_notify_url=receiver.url)
    assert started.rc == 0, started
    for vm in students.values():
        assert 'exam-start' in vm.snapshots, vm.name
    assert verdict(cluster, alice, OUTSIDE) == 'DROP'            # cut for the exam
    assert verdict(cluster, alice, TEACHER, dport=22) == 'ACCEPT'
    assert verdict(cluster, alice, OUTSIDE, proto='udp', dport=53) == 'ACCEPT'   # DNS still answers
    during = login(cluster, 'alice', secret['alice'])               # a session opened during the exam
    assert during.nodes(students['netadmin-alice'].node).qemu(alice).status.current.get()['vmid'] == alice
    again = exam(cluster, tmp_path, 'started')
    assert again.rc == 0 and again.changed == 0, again.tasks()
    assert [s for s in students['netadmin-bob'].snapshots if s.startswith('exam-')] == ['exam-start']

    ended = exam(cluster, tmp_path, 'ended', lab_notify_url=receiver.url)
    assert ended.rc == 0, ended
    for vm in students.values():
        assert 'exam-end' in vm.snapshots and vm.status == 'running', vm.name
    assert backups(cluster) == sorted((vm.vmid, MARK) for vm in students.values())
    with pytest.raises(AuthenticationError):
        login(cluster, 'bob', secret['bob'])                       # no login any more
    with pytest.raises(ResourceException) as err:                # and the exam's session gets nothing
        during.nodes(students['netadmin-alice'].node).qemu(alice).vncproxy.post()
    assert err.value.status_code == 401
    again = exam(cluster, tmp_path, 'ended')
    assert again.rc == 0 and again.changed == 0, again.tasks()
    assert len(backups(cluster)) == len(students)                # a re-run adds no backup

    # grading, while the exam's isolation holds: alice passes, bob fails, carol's agent hangs, dave is hostile
    program(cluster, alice, [(0, '1\n'), (0, 'active\n'), (0, '2\n')])
    program(cluster, students['netadmin-bob'].vmid, [(0, '0\n'), (3, 'inactive\n'), (0, '1\n')])
    students['netadmin-carol'].agent_hangs = True
    program(cluster, students['netadmin-dave'].vmid, [(0, HOSTILE), (0, 'active\n'), (1, '0\n')])
    since = len(cluster.pve.request_log())
    graded = lab(cluster, tmp_path, 'lab_grade', lab_checks=CHECKS, lab_notify_url=receiver.url)
    students['netadmin-carol'].agent_hangs = False
    assert graded.rc == 0, graded
    assert [w for w in api_writes(cluster, since) if not w[1].endswith('/agent/exec')] == []   # grading changes nothing
    assert len(api_writes(cluster, since)) == 4 * 3                 # each check once in each VM, carol's unanswered
    assert '3 of 4 students graded' in str(graded.task('Summary')['msg'])
    with open(tmp_path / 'netadmin-grades.csv', newline='') as fh:
        assert list(csv.reader(fh)) == [['username', 'ip_forward', 'nginx', 'resolver', 'total', 'max'],
                                        ['alice', '2', '1', '1', '4', '4'], ['bob', '0', '0', '1', '1', '4'],
                                        ['carol', '0', '0', '0', '0', '4'], ['dave', '0', '1', '0', '1', '4']]
    report = json.loads((tmp_path / 'netadmin-grades.json').read_text())
    assert report['lab'] == 'netadmin' and [c['name'] for c in report['checks']] == ['ip_forward', 'nginx', 'resolver']
    by_user = dict((s['username'], s) for s in report['students'])
    assert by_user['bob']['checks']['nginx'] == {'passed': False, 'points': 0, 'rc': 3, 'stdout': 'inactive\n',
                                                 'stderr': '', 'error': None}
    assert all(o['error'] and not o['passed'] for o in by_user['carol']['checks'].values())
    dave = by_user['dave']['checks']['ip_forward']
    assert not dave['passed'] and dave['stdout'] == HOSTILE[:65536]   # cut at 64 KiB by pve_guest_exec
    page = (tmp_path / 'netadmin-grades.html').read_text()
    assert '<script' not in page and '&lt;script&gt;alert(&quot;x&quot;)' in page and len(page) < 30000
    assert 'Not graded (their VM did not answer): carol' in page
    assert oct((tmp_path / 'netadmin-grades.csv').stat().st_mode & 0o777) == '0o600'

    reopened = lab(cluster, tmp_path)
    assert reopened.rc == 0, reopened
    assert verdict(cluster, alice, OUTSIDE) == 'ACCEPT'          # lab_outbound restored
    assert login(cluster, 'bob', secret['bob']).version.get()

    down = lab(cluster, tmp_path, 'lab_down', lab_notify_url=receiver.url)
    assert down.rc == 0, down
    assert vms(cluster) == {}
    removal = [notes for _vmid, notes in backups(cluster) if notes != MARK]
    assert len(removal) == len(students) and all(n.startswith('pvelab:netadmin before removal ') for n in removal)

    # lab_notify_url heard of each step, with what it needs and no secret
    assert [(b['event'], b['status'], b['students'], b['lab']) for b in receiver.bodies] == [
        ('up', 'success', 4, 'netadmin'), ('exam_started', 'success', 4, 'netadmin'),
        ('exam_ended', 'success', 4, 'netadmin'), ('graded', 'success', 4, 'netadmin'),
        ('down', 'success', 4, 'netadmin')]
    assert (receiver.bodies[3]['graded'], receiver.bodies[3]['ungraded']) == (3, ['carol'])
    assert receiver.bodies[0]['roster'] == str(tmp_path / 'netadmin-roster.csv')
    assert [b['roster'] for b in receiver.bodies[1:]] == ['', '', '', '']
    sent = json.dumps(receiver.bodies)
    assert not [p for p in list(secret.values()) + [cluster.password] if p in sent]


@pytest.mark.cluster('demo.json')
def test_a_failed_run_is_notified_with_its_step(pve_cluster, tmp_path, receiver):
    run = lab(pve_cluster, tmp_path, lab_template='tmpl-missing', lab_notify_url=receiver.url)
    assert run.rc != 0
    [body] = receiver.bodies
    assert (body['event'], body['status'], body['lab']) == ('up', 'failure', 'netadmin')
    assert body['failed_task'] == "Check that each machine's template is a template"
    assert 'tmpl-missing' in body['message'] and pve_cluster.password not in json.dumps(body)


@pytest.mark.cluster('demo.json')
@pytest.mark.parametrize('over, why', [
    ({'lab_exam_state': 'paused'}, 'lab_exam_state paused: must be started or ended'),
    ({'lab_exam_state': 'started', 'lab_exam_name': '1st'}, 'lab_exam_name 1st: a letter first'),
    ({'lab_exam_state': 'started', 'lab_exam_name': 'e' * 35}, 'at most 34'),
])
def test_a_bad_exam_is_refused_before_any_write(pve_cluster, tmp_path, over, why):
    before = len(pve_cluster.pve.request_log())
    run = lab(pve_cluster, tmp_path, 'lab_exam', **over)
    assert run.rc != 0 and why in str(run.failures()), run
    assert pve_cluster.pve.request_log()[before:] == []


@pytest.mark.cluster('demo.json')
def test_an_exam_needs_the_lab_up(pve_cluster, tmp_path):
    run = exam(pve_cluster, tmp_path, 'started')
    assert run.rc != 0 and 'run lab_up first' in str(run.failures()), run
    assert [r for r in pve_cluster.pve.request_log() if r[0] != 'GET' and not r[1].endswith('/access/ticket')] == []


@pytest.mark.cluster('demo.json')
def test_a_pruned_students_vm_is_backed_up_before_it_goes(pve_cluster, tmp_path):
    assert lab(pve_cluster, tmp_path, lab_students=STUDENTS[:3]).rc == 0
    carol = vms(pve_cluster)['netadmin-carol'].vmid
    pruned = lab(pve_cluster, tmp_path, lab_students=STUDENTS[:2], lab_prune=True)
    assert pruned.rc == 0, pruned
    assert 'netadmin-carol' not in vms(pve_cluster)
    [(vmid, notes)] = backups(pve_cluster)
    assert vmid == carol and notes.startswith('pvelab:netadmin before removal ')
    again = lab(pve_cluster, tmp_path, lab_students=STUDENTS[:2], lab_prune=True)
    assert again.rc == 0 and again.changed == 0 and len(backups(pve_cluster)) == 1
