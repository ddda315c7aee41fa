# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the playbook lab_grade: the checks checked before anything runs, the grades computed from what each
student's VM answered (pve_guest_exec's items), and the grade sheet as a self-contained HTML page.

What a student's VM printed is data, never markup or a formula: the HTML escapes all of it, the CSV quotes it
(lab_csv), and a cell that a spreadsheet would read as a formula does not come from a student at all (the sheet
holds only usernames, check names and numbers).
"""

from __future__ import annotations

import html
import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.filter.lab import lab_csv

CHECK_KEYS = ('name', 'machine', 'command', 'expect_stdout', 'expect_rc', 'points', 'timeout')
# Columns of the grade sheet besides the checks: a check may not be called so.
SHEET_COLUMNS = ('username', 'total', 'max')
# What the HTML shows of a VM's output: its start (the JSON keeps what pve_guest_exec returned).
HTML_OUTPUT_CHARS = 400


def _fail(field, message):
    raise AnsibleFilterError('{0}: {1}'.format(field, message))


def _int(value, field, least):
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip('-').isdigit():
        _fail(field, 'must be a whole number, not {0!r}'.format(value))
    if int(value) < least:
        _fail(field, 'must be at least {0}, not {1}'.format(least, value))
    return int(value)


def lab_checks(checks, machines=None):
    """lab_checks checked before any guest runs anything; each with its defaults (expect_rc 0, points 1, timeout
    30). machines: the names of lab_machines (a topology lab), or None for a lab_template lab."""
    if not isinstance(checks, list) or not checks:
        _fail('lab_checks', 'must be a non-empty list of checks, each {name, command, ...}')
    out, seen = [], {}
    for index, check in enumerate(checks):
        field = 'lab_checks[{0}]'.format(index)
        if not isinstance(check, dict):
            _fail(field, 'must be a dict with name and command')
        unknown = sorted(set(check) - set(CHECK_KEYS))
        if unknown:
            _fail(field, 'unknown key(s) {0}; a check takes {1}'.format(', '.join(unknown), ', '.join(CHECK_KEYS)))
        name = check.get('name')
        if not isinstance(name, str) or not re.match(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$', name):
            _fail(field, 'name {0!r}: a column of the grade sheet - letters, digits, _, . and -'.format(name))
        if name in SHEET_COLUMNS:
            _fail(field, 'name {0!r} is a column of the grade sheet already'.format(name))
        if name in seen:
            _fail(field, 'name {0!r} is also {1}'.format(name, seen[name]))
        seen[name] = field
        field = 'lab_checks[{0}] ({1})'.format(index, name)
        command = check.get('command')
        if not isinstance(command, list) or not command or \
                not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in command) or \
                not str(command[0]).strip():
            _fail(field, 'command must be a non-empty list of arguments (argv), for example [sysctl, -n, net.ipv4.ip_forward]')
        pattern = check.get('expect_stdout')
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                _fail(field, 'expect_stdout {0!r} is no regular expression: {1}'.format(pattern, exc))
        machine = check.get('machine')
        if machines is None and machine is not None:
            _fail(field, 'machine {0!r}: this lab has one VM per student (lab_template); leave machine out'.format(machine))
        if machines is not None:
            if machine is None:
                _fail(field, 'machine: which of lab_machines ({0}) runs it'.format(', '.join(machines)))
            if machine not in machines:
                _fail(field, 'machine {0!r} is not one of lab_machines ({1})'.format(machine, ', '.join(machines)))
        out.append({'name': name, 'machine': machine, 'command': [str(a) for a in command],
                    'expect_stdout': None if pattern is None else str(pattern),
                    'expect_rc': _int(check.get('expect_rc', 0), field + ' expect_rc', -2 ** 31),
                    'points': _int(check.get('points', 1), field + ' points', 0),
                    'timeout': _int(check.get('timeout', 30), field + ' timeout', 1)})
    return out


def _outcome(check, item):
    """One check on one VM: passed, points and what the VM answered."""
    if item is None:
        return {'passed': False, 'points': 0, 'rc': None, 'stdout': '', 'stderr': '', 'error': 'no VM'}
    error = item.get('error') or None
    if not error and item.get('timed_out'):
        error = 'timed out after {0} s'.format(check['timeout'])
    rc = item.get('rc')
    stdout = item.get('stdout') or ''
    passed = not error and rc is not None and int(rc) == check['expect_rc'] and \
        (check['expect_stdout'] is None or re.search(check['expect_stdout'], stdout) is not None)
    return {'passed': bool(passed), 'points': check['points'] if passed else 0, 'rc': rc, 'stdout': stdout,
            'stderr': item.get('stderr') or '', 'error': error}


def lab_grades(plan, checks, results, lab_name):
    """The grade report: results[i] is pve_guest_exec's items for checks[i] (matched to a student by the VM's
    name, plan's vm_name). -> {lab, checks: [{name, machine, points}], students: [{username, total, max, checks:
    {name: {passed, points, rc, stdout, stderr, error}}}]}"""
    if len(results) != len(checks):
        _fail('lab_grades', '{0} checks but {1} results'.format(len(checks), len(results)))
    by_vm = [dict((str(item.get('name')), item) for item in (items or [])) for items in results]
    students = []
    most = sum(c['points'] for c in checks)
    for s in plan:
        done = {}
        for check, items in zip(checks, by_vm):
            vm = s.get('machines', {}).get(check['machine']) if check.get('machine') else s['vm_name']
            done[check['name']] = _outcome(check, items.get(str(vm)))
        students.append({'username': s['username'], 'total': sum(d['points'] for d in done.values()), 'max': most,
                         'checks': done})
    return {'lab': lab_name, 'checks': [{'name': c['name'], 'machine': c['machine'], 'points': c['points']}
                                        for c in checks],
            'students': students}


def _rows(report):
    """The CSV's rows: username, the points of each check, total, max."""
    rows = []
    for s in report['students']:
        row = {'username': s['username'], 'total': s['total'], 'max': s['max']}
        row.update((name, outcome['points']) for name, outcome in s['checks'].items())
        rows.append(row)
    return rows


def _ungraded(report):
    """The usernames whose VM answered none of the checks (no agent, not running, no VM)."""
    return [s['username'] for s in report['students']
            if s['checks'] and all(o['error'] for o in s['checks'].values())]


def _cut(text):
    text = str(text or '')
    return text if len(text) <= HTML_OUTPUT_CHARS else text[:HTML_OUTPUT_CHARS] + ' [...]'


def _html(report, checks):
    """The grade sheet as one HTML page that opens from disk: no script, no remote asset; every value escaped."""
    esc = html.escape
    commands = dict((c['name'], ' '.join(c['command'])) for c in checks)
    head = ''.join('<th title="{0}">{1}<br><small>{2} pt</small></th>'.format(
        esc(commands[c['name']]), esc(c['name']), c['points']) for c in report['checks'])
    rows = []
    for s in report['students']:
        cells = []
        for c in report['checks']:
            o = s['checks'][c['name']]
            kind = 'error' if o['error'] else ('pass' if o['passed'] else 'fail')
            mark = {'pass': '&#10004;', 'fail': '&#10008;', 'error': '?'}[kind]
            detail = o['error'] or 'rc {0}\n{1}\n{2}'.format(o['rc'], _cut(o['stdout']), _cut(o['stderr']))
            cells.append('<td class="{0}" title="{1}">{2} {3}</td>'.format(kind, esc(detail), mark, o['points']))
        rows.append('<tr><th scope="row">{0}</th>{1}<td class="total">{2} / {3}</td></tr>'.format(
            esc(s['username']), ''.join(cells), s['total'], s['max']))
    legend = ''.join('<li><b>{0}</b>{1}: <code>{2}</code></li>'.format(
        esc(c['name']), ' on ' + esc(c['machine']) if c['machine'] else '', esc(commands[c['name']]))
        for c in report['checks'])
    ungraded = _ungraded(report)
    note = '<p class="error">Not graded (their VM did not answer): {0}</p>'.format(
        esc(', '.join(ungraded))) if ungraded else ''
    return '\n'.join([
        '<!DOCTYPE html>',
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<title>Grades of lab {0}</title>'.format(esc(report['lab'])),
        '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}'
        'th,td{border:1px solid #999;padding:.3em .6em;text-align:center}'
        'td.pass{background:#c8f0c8}td.fail{background:#f6c6c6}td.error{background:#e4e4e4;color:#555}'
        'td.total{font-weight:bold}p.error{color:#a00}code{background:#f4f4f4}</style>',
        '</head><body>',
        '<h1>Grades of lab {0}</h1>'.format(esc(report['lab'])),
        '<p>{0} students, {1} checks. &#10004; passed, &#10008; failed, ? the VM did not answer '
        '(hover a cell for what the VM printed).</p>'.format(len(report['students']), len(report['checks'])),
        note,
        '<table><thead><tr><th>username</th>{0}<th>total</th></tr></thead><tbody>'.format(head),
        '\n'.join(rows),
        '</tbody></table>',
        '<h2>Checks</h2><ul>{0}</ul>'.format(legend),
        '</body></html>', ''])


def lab_grade_files(report, checks):
    """What lab_grade writes: {csv, json, html} texts, and ungraded (the students whose VM answered no check)."""
    columns = ['username'] + [c['name'] for c in report['checks']] + ['total', 'max']
    return {'csv': lab_csv(_rows(report), columns), 'json': json.dumps(report, indent=2, sort_keys=False) + '\n',
            'html': _html(report, checks), 'ungraded': _ungraded(report)}


class FilterModule(object):
    def filters(self):
        return {
            'lab_checks': lab_checks,
            'lab_grades': lab_grades,
            'lab_grade_files': lab_grade_files,
        }
