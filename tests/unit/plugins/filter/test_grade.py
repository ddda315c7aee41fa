"""The grading filters (plugins/filter/grade.py): checks refused before anything runs, points from what the VMs
answered, and a grade sheet in which a student's output is data - quoted in the CSV, escaped in the HTML."""

import csv
import io
import json
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.filter.grade import lab_checks, lab_grade_files, lab_grades

PLAN = [{'username': u, 'vm_name': 'netadmin-' + u} for u in ('alice', 'bob', 'carol', 'dave')]
CHECKS = [{'name': 'ip_forward', 'command': ['sysctl', '-n', 'net.ipv4.ip_forward'], 'expect_stdout': '^1$',
           'points': 2},
          {'name': 'nginx', 'command': ['systemctl', 'is-active', 'nginx']}]
HOSTILE = '<script>alert(1)</script>,"=cmd|\' /C calc\'!A0"\n' + 'x' * 70000


def item(vm, rc=0, stdout='', stderr='', error=None, timed_out=False):
    return {'name': 'netadmin-' + vm, 'vmid': 1, 'rc': rc, 'stdout': stdout, 'stderr': stderr, 'error': error,
            'timed_out': timed_out}


def results():
    return [[item('alice', stdout='1\n'), item('bob', stdout='0\n'), item('carol', rc=None, error='QEMU guest agent is not running'),
             item('dave', stdout=HOSTILE)],
            [item('alice'), item('bob', rc=3, stdout='inactive'), item('carol', rc=None, error='QEMU guest agent is not running'),
             item('dave', rc=None, timed_out=True)]]


def test_points_from_what_each_vm_answered():
    checks = lab_checks(CHECKS)
    assert [(c['expect_rc'], c['points'], c['timeout']) for c in checks] == [(0, 2, 30), (0, 1, 30)]
    report = lab_grades(PLAN, checks, results(), 'netadmin')
    got = dict((s['username'], (s['total'], s['max'], [(n, o['passed'], o['points']) for n, o in s['checks'].items()]))
               for s in report['students'])
    assert got == {'alice': (3, 3, [('ip_forward', True, 2), ('nginx', True, 1)]),
                   'bob': (0, 3, [('ip_forward', False, 0), ('nginx', False, 0)]),
                   'carol': (0, 3, [('ip_forward', False, 0), ('nginx', False, 0)]),
                   'dave': (0, 3, [('ip_forward', False, 0), ('nginx', False, 0)])}
    dave = report['students'][3]['checks']
    assert dave['nginx']['error'] == 'timed out after 30 s' and dave['ip_forward']['error'] is None
    assert report['students'][2]['checks']['nginx']['error'] == 'QEMU guest agent is not running'
    assert report['checks'] == [{'name': 'ip_forward', 'machine': None, 'points': 2},
                                {'name': 'nginx', 'machine': None, 'points': 1}]


def test_a_student_without_a_vm_earns_nothing():
    report = lab_grades(PLAN, lab_checks(CHECKS), [[], []], 'netadmin')
    assert all(s['total'] == 0 and s['checks']['nginx']['error'] == 'no VM' for s in report['students'])
    assert lab_grade_files(report, lab_checks(CHECKS))['ungraded'] == ['alice', 'bob', 'carol', 'dave']


def test_the_sheet_holds_a_hostile_output_as_data():
    checks = lab_checks(CHECKS)
    files = lab_grade_files(lab_grades(PLAN, checks, results(), 'netadmin'), checks)
    rows = list(csv.reader(io.StringIO(files['csv'])))
    assert rows == [['username', 'ip_forward', 'nginx', 'total', 'max'], ['alice', '2', '1', '3', '3'],
                    ['bob', '0', '0', '0', '3'], ['carol', '0', '0', '0', '3'], ['dave', '0', '0', '0', '3']]
    assert files['ungraded'] == ['carol']            # dave's VM answered one check: graded
    data = json.loads(files['json'])
    assert data['students'][3]['checks']['ip_forward']['stdout'] == HOSTILE
    page = files['html']
    assert '<script' not in page and '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert not re.search(r'(src|href)=', page)        # nothing to fetch: it opens from disk
    assert 'Not graded (their VM did not answer): carol' in page
    assert 'title="sysctl -n net.ipv4.ip_forward"' in page
    assert len(page) < 20000                          # ten megabytes printed are not ten megabytes of page
    assert page.count('<td class="pass"') == 2 and page.count('<td class="fail"') == 3 and page.count('<td class="error"') == 3


@pytest.mark.parametrize('checks, why', [
    ([], 'must be a non-empty list'),
    ([{'name': 'a b', 'command': ['true']}], "name 'a b'"),
    ([{'name': 'total', 'command': ['true']}], 'is a column of the grade sheet'),
    ([{'name': 'x', 'command': ['true']}, {'name': 'x', 'command': ['false']}], "name 'x' is also lab_checks[0]"),
    ([{'name': 'x', 'command': 'sysctl -n x'}], 'command must be a non-empty list'),
    ([{'name': 'x', 'command': []}], 'command must be a non-empty list'),
    ([{'name': 'x', 'command': ['true'], 'expect_stdout': '('}], 'is no regular expression'),
    ([{'name': 'x', 'command': ['true'], 'points': -1}], 'points: must be at least 0'),
    ([{'name': 'x', 'command': ['true'], 'timeout': 'soon'}], 'timeout: must be a whole number'),
    ([{'name': 'x', 'command': ['true'], 'machine': 'router'}], 'leave machine out'),
    ([{'name': 'x', 'command': ['true'], 'expect': 0}], "unknown key(s) expect"),
])
def test_bad_checks_are_refused_naming_them(checks, why):
    with pytest.raises(AnsibleFilterError) as err:
        lab_checks(checks)
    assert why in str(err.value)


def test_a_topology_check_names_its_machine():
    with pytest.raises(AnsibleFilterError) as err:
        lab_checks([{'name': 'x', 'command': ['true']}], machines=['router', 'client'])
    assert 'which of lab_machines (router, client)' in str(err.value)
    with pytest.raises(AnsibleFilterError) as err:
        lab_checks([{'name': 'x', 'command': ['true'], 'machine': 'server'}], machines=['router'])
    assert "machine 'server' is not one of lab_machines" in str(err.value)
    assert lab_checks([{'name': 'x', 'command': ['true'], 'machine': 'router'}], machines=['router'])[0]['machine'] == 'router'
