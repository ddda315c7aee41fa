"""The lab's guests beyond the default VM (roles/lab/meta/argument_specs.yml: lab_template, lab_cores, lab_memory,
lab_students[].ssh_key): a class of LXC containers through its whole lifecycle, clones sized and given each
student's SSH key by cloud-init, and the bad values of these inputs refused before any write."""

import csv
import json
from urllib.parse import unquote

import pytest

from fakecluster import guestagent

from e2e.helpers import api_writes, run_lab

STUDENTS = [{'username': 'alice'}, {'username': 'bob'}, {'username': 'carol'}]
# Real key lines (ssh-keygen -t ed25519 / -t ecdsa): PVE runs ssh-keygen -l on each before it takes them.
ALICE_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAs/VsZkKD0kirVGTqRIc/7Y8Pq377N33wprEF+YPXLE alice@laptop'
BOB_KEY = ('ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKojyMfH0Don0HGTxOHMD1gSM+znGw21'
           'LOJnTyVYgZZwV9r7zQCENkvD4GAHiww8klrJlypXwmnVJAzsxaw5j1Q= bob@desk')
# Well formed, but its point is not on the curve: ssh-keygen (so PVE) refuses it.
BAD_ECDSA = ('ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIJ0yyRa0r06ybdP9SRj+OlgpbUm/l'
             'mL8u+KMt6FBSgcUObkVqvW1g53VcpyDdN7NBy5R39bxpHeI4Wdhzjq2Dk= bob@desk')
CT_NET0 = 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:80:00,ip=dhcp'


def lab(cluster, tmp_path, playbook='lab_up', **over):
    return run_lab(cluster, tmp_path, 'ctlab', playbook, **dict(dict(lab_template='tmpl-debian', lab_students=STUDENTS), **over))


def writes(cluster):
    return api_writes(cluster)


def container_template(pve):
    """An LXC template as `pct template` leaves it: its rootfs a base volume on local-lvm (LVM-thin: container
    snapshots need a storage that takes them, which raw files on NFS do not), DHCP on net0. Its clones stay on its
    node (local storage)."""
    pve.storages['local-lvm'].setdefault('volumes', {})['base-8000-disk-0'] = {
        'content': 'rootdir', 'format': 'raw', 'size': 4 * 1024 ** 3, 'vmid': 8000, 'ctime': 0}
    return pve.add_ct(8000, 'ct-debian', node='pve1', template=True, config={
        'hostname': 'ct-debian', 'ostype': 'debian', 'memory': 512, 'cores': 1, 'net0': CT_NET0,
        'rootfs': 'local-lvm:base-8000-disk-0,size=4G'})


def lab_cts(pve):
    return dict((ct.config.get('hostname'), ct) for ct in pve.cts if ct.config.get('hostname', '').startswith('ctlab-'))


def nic(config):
    return dict(p.split('=', 1) for p in config['net0'].split(',') if '=' in p)


@pytest.mark.cluster('demo.json')
def test_a_container_class_runs_the_whole_lifecycle(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    container_template(pve)
    vms_before = [(v.vmid, v.name) for v in pve.vms]

    up = lab(pve_cluster, tmp_path, lab_template='ct-debian', lab_memory=1024)
    assert up.rc == 0, up
    cts = lab_cts(pve)
    assert sorted(cts) == ['ctlab-alice', 'ctlab-bob', 'ctlab-carol']
    assert [(v.vmid, v.name) for v in pve.vms] == vms_before  # containers, not VMs
    state = pve.lab_state()
    pool = [p for p in state['pools'] if p['poolid'] == 'ctlab'][0]
    for name, ct in cts.items():
        assert ct.status == 'running' and not ct.template and ct.vmid in pool['vms']
        assert 'ctlab' in ct.config.get('tags', '').split(';')
        assert int(ct.config['memory']) == 1024 and int(ct.config.get('cores', 1)) == 1  # lab_memory; template's
        props = nic(ct.config)
        assert props['firewall'] == '1' and props['ip'] == 'dhcp' and props['hwaddr'] != 'BC:24:11:00:80:00'
        fw = state['firewall']['guests'][str(ct.vmid)]
        assert fw['options'].get('enable') in (1, '1')
        assert any(r.get('type') == 'group' and r.get('action') == 'ctlab' for r in fw['rules'])
        # the clean snapshot was taken before the first start
        assert 'lab-clean' in ct.snapshots
        # the lease its /interfaces reported is the only source its NIC may send from
        lease = guestagent.dhcp_lease(ct.vmid, pve.dhcp_pool)[0]
        assert [e['cidr'] for e in pve.firewall_config('ct', vmid=ct.vmid)['ipset'].get('ipfilter-net0', [])] == [lease]
    # the isolation holds for containers as for VMs: no student reaches another
    alice, bob = cts['ctlab-alice'].vmid, cts['ctlab-bob'].vmid
    verdict = pve_cluster.run(pve.fw_simulate, {'vmid': alice}, {'vmid': bob}, proto='tcp', dport=22)
    assert verdict['verdict'] == 'DROP', verdict

    # roster: container console links, the leases as addresses
    with open(tmp_path / 'ctlab-roster.csv') as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        ct = cts['ctlab-' + row['username']]
        assert row['console_url'].endswith('/?console=lxc&novnc=1&vmid={0}&vmname=ctlab-{1}&node={2}&resize=off&cmd='
                                           .format(ct.vmid, row['username'], ct.node))
        assert row['ip'] == guestagent.dhcp_lease(ct.vmid, pve.dhcp_pool)[0]
    assert [r['console_url'] for r in json.loads((tmp_path / 'ctlab-roster.json').read_text())] == [
        r['console_url'] for r in rows]

    again = lab(pve_cluster, tmp_path, lab_template='ct-debian', lab_memory=1024)
    assert again.rc == 0 and again.changed == 0, again

    # lab_reset: every container rolled back to its clean snapshot and running again, same vmids; one that lost its
    # snapshot is cloned again with its vmid (and sized, isolated, snapshotted like the first time)
    vmids = dict((n, ct.vmid) for n, ct in cts.items())
    cts['ctlab-bob'].snapshots.clear()
    cts['ctlab-bob'].config.pop('parent', None)
    reset = lab(pve_cluster, tmp_path, playbook='lab_reset', lab_template='ct-debian', lab_memory=1024)
    assert reset.rc == 0, reset
    rolled = [t['id'] for t in pve.lab_state()['tasks'] if t['type'] == 'vzrollback']
    assert sorted(rolled) == sorted(str(vmids[n]) for n in ('ctlab-alice', 'ctlab-carol'))
    after_reset = lab_cts(pve)
    assert dict((n, ct.vmid) for n, ct in after_reset.items()) == vmids
    assert all(ct.status == 'running' for ct in after_reset.values())
    bob_ct = after_reset['ctlab-bob']
    assert bob_ct is not cts['ctlab-bob'] and 'lab-clean' in bob_ct.snapshots and int(bob_ct.config['memory']) == 1024
    assert nic(bob_ct.config)['firewall'] == '1'

    down = lab(pve_cluster, tmp_path, playbook='lab_down', lab_template='ct-debian')
    assert down.rc == 0, down
    after = pve.lab_state()
    assert lab_cts(pve) == {} and pve.ct(8000) is not None and pve.ct(8000).template
    assert not [p for p in after['pools'] if p['poolid'] == 'ctlab']
    assert 'ctlab' not in after['firewall']['groups']
    assert not [k for k in after['firewall']['ipset'] if k.startswith('ctlab')]
    assert not [u for u in after['users'] if u['userid'] in ('alice@pve', 'bob@pve', 'carol@pve')]
    assert not [a for a in after['acl'] if a['ugid'] in ('alice@pve', 'bob@pve', 'carol@pve')]
    assert [(v.vmid, v.name) for v in pve.vms] == vms_before


@pytest.mark.cluster('demo.json')
def test_clones_are_sized_and_get_each_students_key_before_their_first_start(pve_cluster, tmp_path):
    pve = pve_cluster.pve
    students = [{'username': 'alice', 'ssh_key': ALICE_KEY}, {'username': 'bob'}]
    (tmp_path / 'class.csv').write_text('username,ssh_key\nalice,{0}\nbob,{1}\ncarol,\n'.format(ALICE_KEY, BOB_KEY))
    up = lab(pve_cluster, tmp_path, lab_students=[], lab_students_csv=str(tmp_path / 'class.csv'), lab_cores=1,
             lab_memory=200)
    assert up.rc == 0, up
    vms = dict((v.name, v) for v in pve.vms if v.name.startswith('ctlab-'))
    assert sorted(vms) == ['ctlab-alice', 'ctlab-bob', 'ctlab-carol']
    for vm in vms.values():
        # set before the first start: the config holds it, nothing waits as pending
        assert int(vm.config['cores']) == 1 and int(vm.config['memory']) == 200 and not vm.pending
        assert vm.status == 'running'
        assert 'lab-clean' in vm.snapshots and int(vm.snapshots['lab-clean']['memory']) == 200
    # sshkeys as PVE keeps them: URL-encoded, one key a line
    assert unquote(vms['ctlab-alice'].config['sshkeys']).strip() == ALICE_KEY
    assert unquote(vms['ctlab-bob'].config['sshkeys']).strip() == BOB_KEY
    assert 'sshkeys' not in vms['ctlab-carol'].config
    # 200 MiB is below what an l26 guest boots with: set, and said
    sized = up.task('Size the clones')
    assert any('memory 200 MiB is below the 256 MiB a guest of ostype l26 needs to boot' in w
               for w in sized.get('warnings', [])), sized
    # a re-run reads the configs and writes nothing; without sizes and keys the step is not even run
    again = lab(pve_cluster, tmp_path, lab_students=[], lab_students_csv=str(tmp_path / 'class.csv'), lab_cores=1,
                lab_memory=200)
    assert again.rc == 0 and again.changed == 0, again
    plain = lab(pve_cluster, tmp_path, lab_students=[{'username': s['username']} for s in students])
    assert plain.rc == 0, plain
    assert plain.task('Size the clones').get('skipped') is True


@pytest.mark.cluster('demo.json')
def test_bad_sizes_and_keys_are_refused_before_any_write(pve_cluster, tmp_path):
    container_template(pve_cluster.pve)
    cases = [
        ({'lab_cores': 0}, 'lab_cores: must be a whole number of at least 1 (it is 0)'),
        ({'lab_memory': -256}, 'lab_memory: must be a whole number of at least 1 (it is -256)'),
        ({'lab_students': [{'username': 'alice'}, {'username': 'bob', 'ssh_key': ALICE_KEY[:-30]}]},
         'lab_students[1] (bob) ssh_key: the ssh-ed25519 key is not a valid key'),
        ({'lab_students': [{'username': 'alice'}, {'username': 'bob', 'ssh_key': BAD_ECDSA}]},
         'lab_students[1] (bob) ssh_key: the ecdsa-sha2-nistp256 key is not a valid key'),
        ({'lab_students': [{'username': 'alice', 'ssh_key': 'my key'}]},
         "lab_students[0] (alice) ssh_key: 'my key' is not an OpenSSH public key line"),
        ({'lab_template': 'ct-debian', 'lab_students': [{'username': 'alice', 'ssh_key': ALICE_KEY}, {'username': 'bob'}]},
         'lab_template ct-debian: is a container template; PVE takes a container\'s SSH keys only when it is '
         'created, not for a clone, so ssh_key cannot be given (students with one: alice)'),
    ]
    for over, needle in cases:
        result = lab(pve_cluster, tmp_path, **over)
        assert result.rc != 0 and needle in result.stdout, (over, result)
        assert writes(pve_cluster) == [], over
        assert not (tmp_path / 'ctlab-roster.csv.secrets').exists()
