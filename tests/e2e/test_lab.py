"""The lab role's contract (its inputs in roles/lab/meta/argument_specs.yml, the workflow in docs/lab-workflow.md,
the guarantees in README.md), end to end: lab_up -> re-run -> a student's view -> reset -> lab_down, with real
ansible-playbook runs against the fake cluster, checked against what the fake holds."""

import csv
import json
import os
import re
import stat

import pytest

from e2e.helpers import lab_connection_vars, run_playbook

STUDENTS = [{'username': 'alice', 'email': 'alice@example.org'}, {'username': 'bob', 'password': 'bob-given-pw'},
            {'username': 'carol'}, {'username': 'dave'}, {'username': 'erin'}, {'username': 'frank'},
            {'username': 'grace'}, {'username': 'heidi'}, {'username': 'ivan'}, {'username': 'jean_luc'}]
WRITES = ('POST', 'PUT', 'DELETE')


def lab_vars(cluster, tmp_path, **over):
    out = lab_connection_vars(cluster)
    out.update({'lab_name': 'netadmin', 'lab_template': 'tmpl-debian', 'lab_students': STUDENTS,
                'lab_teacher_sources': ['192.0.2.10/32'], 'lab_roster_path': str(tmp_path / 'netadmin-roster.csv')})
    out.update(over)
    return out


def lab(cluster, tmp_path, playbook='lab_up', **over):
    return run_playbook(cluster, playbook='pvelab.proxmox.' + playbook, extra_vars=lab_vars(cluster, tmp_path, **over),
                        tmp_path=tmp_path)


def writes(cluster):
    """API writes (login excluded) the fake has seen."""
    return [r for r in cluster.pve.request_log() if r[0] in WRITES and not r[1].endswith('/access/ticket')]


def foreign(state):
    """What a lab must never touch, from the fake's state."""
    fw = state['firewall']
    options = dict((k, v) for k, v in fw['options'].items() if k != 'enable')
    return {
        'users': [u for u in state['users'] if not u['userid'].endswith('@pve') or u['userid'] == 'other@pve'],
        'acl': [a for a in state['acl'] if not a['path'].startswith('/vms/') or a['path'] == '/vms/101'],
        'vms': [v for v in state['vms'] if v['vmid'] in (100, 101, 9000)],
        'roles': dict((k, v) for k, v in state['roles'].items() if not k.startswith('LabStudent')),
        'groups': state['groups'],
        'pools': [p for p in state['pools'] if p['poolid'] != 'netadmin'],
        'fw_options': options, 'fw_rules': fw['rules'],
        'fw_groups': dict((k, v) for k, v in fw['groups'].items() if k != 'netadmin'),
        'fw_ipset': dict((k, v) for k, v in fw['ipset'].items() if not k.startswith('netadmin')),
    }


def read_roster(tmp_path):
    with open(tmp_path / 'netadmin-roster.csv') as fh:
        text = fh.read()
    rows = list(csv.DictReader(text.splitlines()))
    with open(tmp_path / 'netadmin-roster.json') as fh:
        as_json = json.load(fh)
    return text, rows, as_json


@pytest.mark.cluster('demo.json')
@pytest.mark.usefixtures('pve_release')  # on PVE 9.1 and 8.4 (tests/e2e/conftest.py)
def test_lab_lifecycle(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    before = pve.lab_state()

    up = lab(pve_cluster, tmp_path)
    assert up.rc == 0, up
    state = pve.lab_state()

    # Accounts: enabled <username>@pve, one per student.
    users = dict((u['userid'], u) for u in state['users'])
    for s in STUDENTS:
        assert users[s['username'] + '@pve']['enable'] in (1, True, '1')

    # VMs: one per student, from the template, in pool and tag netadmin, running.
    vms = dict((v['name'], v) for v in state['vms'])
    names = ['netadmin-' + s['username'].replace('_', '-') for s in STUDENTS]
    for name in names:
        vm = vms[name]
        assert vm['status'] == 'running' and not vm['template']
        assert vm['pool'] == 'netadmin' and 'netadmin' in (vm['tags'] or '').split(';')
        assert vm['config']['net0'].endswith('firewall=1') or 'firewall=1' in vm['config']['net0']
    assert len({vms[n]['vmid'] for n in names}) == len(names)
    assert len({vms[n]['node'] for n in names}) > 1, 'placement by free memory should use more than one node'

    # Permissions: each student's role on its own VM only.
    for s, name in zip(STUDENTS, names):
        entries = [a for a in state['acl'] if a['ugid'] == s['username'] + '@pve']
        assert [(a['path'], a['roleid']) for a in entries] == [('/vms/{0}'.format(vms[name]['vmid']),
                                                                'LabStudent-netadmin')]
    assert sorted(state['roles']['LabStudent-netadmin']) == ['VM.Audit', 'VM.Console', 'VM.PowerMgmt']

    # Isolation: datacenter on (other options unchanged), each VM on with DROP in and the lab's group.
    assert state['firewall']['options']['enable'] in (1, '1')
    for name in names:
        fw = state['firewall']['guests'][str(vms[name]['vmid'])]
        assert fw['options'].get('enable') in (1, '1') and fw['options'].get('policy_in', 'DROP') == 'DROP'
        assert any(r.get('type') == 'group' and r.get('action') == 'netadmin' and r.get('enable') in (1, '1')
                   for r in fw['rules'])

    # Roster: CSV header and one row per student, the same rows as JSON; no passwords in it.
    text, rows, as_json = read_roster(tmp_path)
    assert text.splitlines()[0] == 'username,vmid,node,ip,console_url,machine,network'
    assert [r['username'] for r in rows] == [s['username'] for s in STUDENTS]
    assert [str(r['vmid']) for r in as_json] == [r['vmid'] for r in rows]
    for row, name in zip(rows, names):
        assert int(row['vmid']) == vms[name]['vmid'] and row['node'] == vms[name]['node']
        assert row['ip'] and not row['ip'].startswith(('127.', 'fe80'))
        assert 'vmid={0}'.format(row['vmid']) in row['console_url']
    secrets_path = tmp_path / 'netadmin-roster.csv.secrets'
    assert stat.S_IMODE(os.stat(secrets_path).st_mode) == 0o600
    with open(secrets_path) as fh:
        generated = dict((r['username'], r['password']) for r in csv.DictReader(fh))
    assert sorted(generated) == sorted(s['username'] for s in STUDENTS if 'password' not in s)
    for password in list(generated.values()) + ['bob-given-pw']:
        assert password not in text and password not in up.stdout

    # Run again: nothing changes.
    again = lab(pve_cluster, tmp_path)
    assert again.rc == 0 and again.changed == 0, again

    # A student logs in with the generated password and can use only its own VM.
    alice_vmid = vms['netadmin-alice']['vmid']
    bob_vmid = vms['netadmin-bob']['vmid']
    alice = pve_cluster.api(user='alice@pve', password=generated['alice'])
    node = vms['netadmin-alice']['node']
    assert alice.nodes(node).qemu(alice_vmid).status.current.get()['status'] == 'running'
    alice.nodes(node).qemu(alice_vmid).status.shutdown.post()
    from proxmoxer.core import ResourceException
    with pytest.raises(ResourceException) as err:
        alice.nodes(vms['netadmin-bob']['node']).qemu(bob_vmid).status.stop.post()
    assert err.value.status_code == 403
    with pytest.raises(ResourceException) as err:
        alice.nodes(node).qemu(alice_vmid).config.put(net0='virtio,bridge=vmbr1')
    assert err.value.status_code == 403
    bob = pve_cluster.api(user='bob@pve', password='bob-given-pw')
    assert bob.nodes(vms['netadmin-bob']['node']).qemu(bob_vmid).status.current.get()['status'] == 'running'

    # Reset: every VM back to the clean snapshot and running; one VM without the snapshot is cloned again
    # with the same vmid.
    pve.vm(bob_vmid).snapshots.clear()
    pve.vm(bob_vmid).config.pop('parent', None)
    reset = lab(pve_cluster, tmp_path, playbook='lab_reset')
    assert reset.rc == 0, reset
    state = pve.lab_state()
    vms_after = dict((v['name'], v) for v in state['vms'])
    assert vms_after['netadmin-alice']['vmid'] == alice_vmid and vms_after['netadmin-alice']['status'] == 'running'
    assert vms_after['netadmin-bob']['vmid'] == bob_vmid and vms_after['netadmin-bob']['status'] == 'running'
    assert any(t['type'] == 'qmrollback' and t['id'] == str(alice_vmid) for t in state['tasks'])
    bob_entries = [a for a in state['acl'] if a['ugid'] == 'bob@pve']
    assert [(a['path'], a['roleid']) for a in bob_entries] == [('/vms/{0}'.format(bob_vmid), 'LabStudent-netadmin')]
    assert str(bob_vmid) in state['firewall']['guests']

    # Teardown removes exactly what the lab made; a second teardown changes nothing.
    down = lab(pve_cluster, tmp_path, playbook='lab_down')
    assert down.rc == 0, down
    after = pve.lab_state()
    assert not [u for u in after['users'] if u['userid'] in users and u['userid'] != 'other@pve'
                and u['userid'] not in [b['userid'] for b in before['users']]]
    assert not [v for v in after['vms'] if v['name'].startswith('netadmin-')]
    assert not [p for p in after['pools'] if p['poolid'] == 'netadmin']
    assert 'LabStudent-netadmin' not in after['roles']
    assert 'netadmin' not in after['firewall']['groups']
    assert not [k for k in after['firewall']['ipset'] if k.startswith('netadmin')]
    assert not [a for a in after['acl'] if a['ugid'].endswith('@pve') and a['ugid'] != 'other@pve']
    assert foreign(after) == foreign(before)
    down_again = lab(pve_cluster, tmp_path, playbook='lab_down')
    assert down_again.rc == 0 and down_again.changed == 0, down_again


@pytest.mark.cluster('demo.json')
@pytest.mark.parametrize('over, needle', [
    ({'lab_students': [{'username': 'alice'}, {'username': 'alice'}]}, "username 'alice' is already"),
    ({'lab_students': [{'username': 'bad name'}]}, "username 'bad name'"),
    ({'lab_students': [{'username': 'alice', 'password': 'abc'}]}, 'must be 8 to 64 characters'),
    ({'lab_name': 'a-lab-name-far-too-long'}, "lab_name 'a-lab-name-far-too-long'"),
    ({'lab_name': 'Net Admin'}, "lab_name 'Net Admin'"),
    ({'lab_teacher_sources': ['192.0.2.999/32']}, "lab_teacher_sources '192.0.2.999/32'"),
    ({'lab_template': 'teacher'}, 'lab_template teacher: is not a template'),
    ({'lab_template': 'no-such-template'}, 'lab_template no-such-template: no such VM'),
    ({'lab_template': 100}, 'lab_template 100: is not a template'),
])
def test_bad_input_is_refused_before_any_write(pve_cluster, tmp_path, over, needle):
    result = lab(pve_cluster, tmp_path, **over)
    assert result.rc != 0
    assert needle in result.stdout, result
    assert writes(pve_cluster) == []
    assert not os.path.exists(tmp_path / 'netadmin-roster.csv.secrets')


@pytest.mark.cluster('demo.json')
def test_class_list_from_csv(pve_cluster, tmp_path):
    (tmp_path / 'class.csv').write_text('username,email\nalice,alice@example.org\nbob,bob@example.org\n')
    result = lab(pve_cluster, tmp_path, lab_students=[], lab_students_csv=str(tmp_path / 'class.csv'),
                 lab_wait_for_ip=False)
    assert result.rc == 0, result
    _, rows, _ = read_roster(tmp_path)
    assert [r['username'] for r in rows] == ['alice', 'bob']
    emails = dict((u['userid'], u.get('email')) for u in pve_cluster.pve.lab_state()['users'])
    assert emails['alice@pve'] == 'alice@example.org'


def agent_calls(cluster):
    return sorted(int(re.search(r'/qemu/(\d+)/agent/', path).group(1))
                  for _m, path, _b in cluster.pve.request_log('GET', '/agent/'))


@pytest.mark.cluster('demo.json')
def test_rerun_takes_addresses_from_the_source_filters_not_from_the_roster(pve_cluster, tmp_path):
    """The roster shows the address each VM's source filter holds (learned from its agent at the first start):
    a re-run asks no guest agent of a running VM, deleting the roster changes nothing (no run reads it), a
    stopped VM is started and asked, and lab_refresh_addresses asks them all."""
    pve = pve_cluster.pve
    api = pve_cluster.api()
    few = dict(lab_students=STUDENTS[:3])
    assert lab(pve_cluster, tmp_path, **few).rc == 0
    _, rows, _ = read_roster(tmp_path)
    vmids = [int(r['vmid']) for r in rows]
    assert all(r['ip'] for r in rows)
    for row in rows:
        held = [e['cidr'].split('/')[0] for e in
                api.nodes(row['node']).qemu(row['vmid']).firewall.ipset('ipfilter-net0').get()]
        assert held == [row['ip']], (row, held)

    del pve.requests[:]
    again = lab(pve_cluster, tmp_path, **few)
    assert again.rc == 0 and again.changed == 0, again
    assert agent_calls(pve_cluster) == []
    assert read_roster(tmp_path)[1] == rows

    # The roster is output only: without it the run asks no agent either, and writes the same rows.
    os.unlink(tmp_path / 'netadmin-roster.json')
    os.unlink(tmp_path / 'netadmin-roster.csv')
    del pve.requests[:]
    assert lab(pve_cluster, tmp_path, **few).rc == 0
    assert agent_calls(pve_cluster) == []
    assert read_roster(tmp_path)[1] == rows

    # A stopped VM is started and asked; the others keep their addresses.
    api.nodes(rows[0]['node']).qemu(rows[0]['vmid']).status.stop.post()
    del pve.requests[:]
    assert lab(pve_cluster, tmp_path, **few).rc == 0
    assert agent_calls(pve_cluster) == [vmids[0]]
    assert pve.vm(vmids[0]).status == 'running'
    assert read_roster(tmp_path)[1] == rows

    # When asked to, every VM is asked.
    del pve.requests[:]
    assert lab(pve_cluster, tmp_path, lab_refresh_addresses=True, **few).rc == 0
    assert agent_calls(pve_cluster) == vmids
    assert read_roster(tmp_path)[1] == rows


# pvestatd reports the cluster once, when the run first reads it, and never again: every VM the run makes is
# `unknown` and nameless in /cluster/resources, as it is on a real cluster for the first 10 s of its life.
@pytest.mark.cluster('demo.json', statd_secs=1e9)
@pytest.mark.usefixtures('pve_release')
def test_lab_before_pvestatd_has_seen_its_vms(pve_cluster, tmp_path):
    """lab_up, a re-run and lab_down while the cluster's status cache knows none of the lab's VMs: nothing is
    taken for an offline node, the re-run clones nothing again and changes nothing, teardown removes them all."""
    students = STUDENTS[:4]
    first = lab(pve_cluster, tmp_path, lab_students=students)
    assert first.rc == 0, first
    resources = pve_cluster.api().cluster.resources.get(type='vm')
    unseen = [r for r in resources if r['vmid'] not in (100, 101, 9000)]
    assert len(unseen) == 4 and all(r['status'] == 'unknown' and 'name' not in r for r in unseen), unseen
    state = pve_cluster.pve.lab_state()
    lab_vms = [vm for vm in state['vms'] if (vm['name'] or '').startswith('netadmin-')]
    assert sorted(vm['name'] for vm in lab_vms) == ['netadmin-alice', 'netadmin-bob', 'netadmin-carol', 'netadmin-dave']
    assert all(vm['status'] == 'running' for vm in lab_vms)
    _, rows, _ = read_roster(tmp_path)
    assert [r['vmid'] for r in rows] == [str(vm['vmid']) for vm in sorted(lab_vms, key=lambda v: v['name'])]
    again = lab(pve_cluster, tmp_path, lab_students=students)
    assert again.rc == 0 and again.changed == 0, again
    assert pve_cluster.count_requests('POST', '/clone') == 4
    down = lab(pve_cluster, tmp_path, playbook='lab_down', lab_students=students)
    assert down.rc == 0, down
    assert not [vm for vm in pve_cluster.pve.lab_state()['vms'] if (vm['name'] or '').startswith('netadmin-')]
