"""A class that changes during the term (issue 18, design.md "The lab knows what it owns"): students join and
drop out, lab_prune, lab_only for lab_up and lab_rebuild, and a teardown that finds everything the lab made in PVE
whatever the class list says by then. Real ansible-playbook runs against the realistic fake."""

import json

import pytest

from e2e.helpers import api_writes, run_lab


def lab(cluster, tmp_path, students, playbook='lab_up', **over):
    return run_lab(cluster, tmp_path, 'netadmin', playbook, lab_template='tmpl-debian',
                   lab_students=[{'username': s} for s in students], lab_roster_path=str(tmp_path / 'roster.csv'), **over)


def lab_objects(state):
    """{username: (vmid, account comment, ACL paths)} for every account or VM of lab netadmin the fake holds."""
    vms = dict((v['name'][len('netadmin-'):], v['vmid']) for v in state['vms'] if v['name'].startswith('netadmin-'))
    users = dict((u['userid'][:-len('@pve')], u.get('comment')) for u in state['users']
                 if (u.get('comment') or '').startswith('pvelab:netadmin '))
    out = {}
    for name in set(vms) | set(users):
        acl = sorted(a['path'] for a in state['acl'] if a['ugid'] == name + '@pve')
        out[name] = (vms.get(name), users.get(name), acl)
    return out


def written_vmids(cluster, since):
    """vmids named by the API writes after request number `since` (the shared lab objects aside; a clone's POST
    names the template, which it leaves as it is)."""
    out = set()
    for method, path, *_rest in api_writes(cluster, since):
        if not path.endswith('/clone'):
            parts = path.split('/')
            for kind in ('qemu', 'lxc'):
                if kind in parts and parts.index(kind) + 1 < len(parts) and parts[parts.index(kind) + 1].isdigit():
                    out.add(int(parts[parts.index(kind) + 1]))
    return out


@pytest.mark.cluster('demo.json')
def test_students_join_drop_out_are_pruned_and_teardown_finds_the_rest(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    before = pve.lab_state()
    up = lab(pve_cluster, tmp_path, ['alice', 'bob', 'carol', 'dave'])
    assert up.rc == 0, up
    first = lab_objects(pve.lab_state())
    assert sorted(first) == ['alice', 'bob', 'carol', 'dave']
    assert all(c == 'pvelab:netadmin student' and acl == ['/vms/{0}'.format(vmid)] for vmid, c, acl in first.values())

    # Two join: only they are written (their clones, configs, snapshots, starts); the others stay as they were.
    mark = len(pve.request_log())
    joined = lab(pve_cluster, tmp_path, ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'])
    assert joined.rc == 0, joined
    second = lab_objects(pve.lab_state())
    assert sorted(second) == ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
    assert dict((k, second[k]) for k in first) == first
    new = set([second['erin'][0], second['frank'][0]])
    assert written_vmids(pve_cluster, mark) == new
    rows = json.loads((tmp_path / 'roster.json').read_text())
    assert [r['username'] for r in rows] == ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']

    # Two drop out: a warning names each, and everything of theirs stays.
    mark = len(pve.request_log())
    kept = lab(pve_cluster, tmp_path, ['alice', 'bob', 'erin', 'frank'])
    # only the controller's files follow the class list (the roster and the generated passwords); PVE is not written
    assert kept.rc == 0, kept
    assert sorted(n.split(' : ')[-1] for n, r in kept.tasks() if r.get('changed')) == [
        'Keep generated passwords in the secrets file (mode 0600)', 'Write the roster (CSV and JSON)']
    assert not api_writes(pve_cluster, mark)
    output = kept.stdout + kept.stderr
    for name in ('carol', 'dave'):
        assert 'lab netadmin: {0} (account {0}@pve, VM netadmin-{0} (vmid {1}))'.format(
            name, second[name][0]) in output and 'no longer in the class list' in output
    assert lab_objects(pve.lab_state()) == second

    # lab_prune: exactly those two go, with their ACL entries; the roster lists the class as it is.
    pruned = lab(pve_cluster, tmp_path, ['alice', 'bob', 'erin', 'frank'], lab_prune=True)
    assert pruned.rc == 0, pruned
    third = lab_objects(pve.lab_state())
    assert third == dict((k, v) for k, v in second.items() if k not in ('carol', 'dave'))
    gone = ('/vms/{0}'.format(second['carol'][0]), '/vms/{0}'.format(second['dave'][0]))
    assert not [a for a in pve.lab_state()['acl'] if a['path'] in gone]
    again = lab(pve_cluster, tmp_path, ['alice', 'bob', 'erin', 'frank'], lab_prune=True)
    assert again.rc == 0 and again.changed == 0, again

    # Teardown with a class list that shrank to one: nothing of the lab is left, nothing foreign touched.
    down = lab(pve_cluster, tmp_path, ['alice'], playbook='lab_down')
    assert down.rc == 0, down
    after = pve.lab_state()
    assert lab_objects(after) == {}
    assert not [p for p in after['pools'] if p['poolid'] == 'netadmin']
    assert 'LabStudent-netadmin' not in after['roles']
    assert [u['userid'] for u in after['users']] == [u['userid'] for u in before['users']]
    assert [v['vmid'] for v in after['vms']] == [v['vmid'] for v in before['vms']]
    assert after['acl'] == before['acl']


@pytest.mark.cluster('demo.json')
def test_lab_only_acts_on_the_named_students_and_rebuild_clones_them_afresh(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    up = lab(pve_cluster, tmp_path, ['alice', 'bob'])
    assert up.rc == 0, up
    rows = json.loads((tmp_path / 'roster.json').read_text())
    objects = lab_objects(pve.lab_state())
    alice, bob = objects['alice'][0], objects['bob'][0]

    # A name not in the class list is refused before any write.
    mark = len(pve.request_log())
    bad = lab(pve_cluster, tmp_path, ['alice', 'bob'], playbook='lab_rebuild', lab_only=['bobby'])
    assert bad.rc != 0 and "lab_only: 'bobby' is not in the class list" in bad.stdout + bad.stderr, bad
    assert not api_writes(pve_cluster, mark)

    # bob's VM is rebuilt: the same vmid, a fresh clone of the template (the clone task), a new clean snapshot;
    # alice's VM is not written at all, and the roster keeps her row.
    mark = len(pve.request_log())
    rebuilt = lab(pve_cluster, tmp_path, ['alice', 'bob', 'carol'], playbook='lab_rebuild', lab_only=['bob'])
    assert rebuilt.rc == 0, rebuilt
    assert written_vmids(pve_cluster, mark) == {bob}
    state = pve.lab_state()
    assert any(t['type'] == 'qmclone' and t['id'] == '9000' for t in state['tasks'][-20:])
    after = lab_objects(state)
    assert after['bob'][0] == bob and after['alice'] == objects['alice'] and 'carol' not in after
    assert [r['username'] for r in json.loads((tmp_path / 'roster.json').read_text())] == ['alice', 'bob', 'carol']
    assert json.loads((tmp_path / 'roster.json').read_text())[0] == rows[0]

    # lab_reset with lab_only: alice's VM is rolled back (and its isolation re-applied), nobody else's is written.
    mark = len(pve.request_log())
    reset = lab(pve_cluster, tmp_path, ['alice', 'bob', 'carol'], playbook='lab_reset', lab_only=['alice'])
    assert reset.rc == 0, reset
    assert written_vmids(pve_cluster, mark) == {alice}
    assert any(t['type'] == 'qmrollback' and t['id'] == str(alice) for t in pve.lab_state()['tasks'])

    # lab_up with lab_only: carol joins, nobody else is written.
    mark = len(pve.request_log())
    joined = lab(pve_cluster, tmp_path, ['alice', 'bob', 'carol'], lab_only=['carol'])
    assert joined.rc == 0, joined
    carol = lab_objects(pve.lab_state())['carol'][0]
    assert written_vmids(pve_cluster, mark) == {carol} and carol not in (alice, bob)
