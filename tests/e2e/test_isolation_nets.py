"""pve_firewall_isolation with nets, proved by packets: the fake's pve-firewall evaluator (fakecluster/fwsim.py)
says what passes on the uplink and on the private network of one student's two machines.

Two VMs each with net0 on the lab's bridge (vmbr0) and net1 on the student's own VNet (v1234), as a topology lab
makes them (a router and a client; docs/architecture.md). A first run without nets isolates every NIC, as the
module did before nets existed: the student's own network is cut. The run with nets keeps net0 exactly as it was
and leaves net1 unfiltered.
"""

import json
from pathlib import Path

import pytest

from helpers import run_playbook

pytestmark = pytest.mark.cluster('demo.json')

MODULE = 'pvelab.proxmox.pve_firewall_isolation'
TEACHER = '192.0.2.10'         # VM 100 in demo.json (static address)
ROUTER, CLIENT = 201, 202
FORWARDED = '10.99.0.5'        # an address behind the router: what it forwards onto its private network


def add_machines(cluster):
    for vmid, host in ((ROUTER, 1), (CLIENT, 2)):
        cluster.pve.add_vm(vmid, 'lab-ann-{0}'.format(vmid), node='pve1', status='stopped', config={
            'net0': 'virtio=BC:24:11:00:02:{0:02X},bridge=vmbr0'.format(vmid),
            'ipconfig0': 'ip=10.30.0.{0}/24'.format(host),
            'net1': 'virtio=BC:24:11:00:03:{0:02X},bridge=v1234,mtu=1450'.format(vmid),
            'ipconfig1': 'ip=192.168.7.{0}/24'.format(host)})


def isolate(cluster, tmp_path, **args):
    """One playbook run of the module; its registered result."""
    workdir = Path(tmp_path) / 'run-{0}'.format(len(list(Path(tmp_path).glob('run-*'))))
    workdir.mkdir()
    out = workdir / 'result.json'
    task = {'name': 'isolate', MODULE: dict({'name': 'topo', 'vmids': [ROUTER, CLIENT], 'teacher_sources': [TEACHER],
                                             'compile_wait': 0.2}, **args), 'register': 'r', 'ignore_errors': True}
    dump = {'name': 'dump', 'ansible.builtin.copy': {'dest': str(out), 'content': '{{ r | to_json }}'}}
    result = run_playbook(cluster, tasks=[task, dump], tmp_path=workdir, callback='default')
    assert out.exists(), result
    return json.loads(out.read_text())


def verdict(cluster, src, dst=None, **packet):
    return cluster.run(cluster.pve.fw_simulate, src, dst, **packet)['verdict']


def nic(vmid, net='net0'):
    return {'vmid': vmid, 'net': net}


def uplink_verdicts(cluster):
    """What the lab's bridge lets through: the other machine (another student, for the lab), the teacher, a
    spoofed source address and ARP claiming the teacher's address."""
    return {
        'router to client': verdict(cluster, nic(ROUTER), nic(CLIENT), proto='tcp', dport=22),
        'client to router': verdict(cluster, nic(CLIENT), nic(ROUTER), proto='icmp'),
        'teacher to router': verdict(cluster, nic(100), nic(ROUTER), proto='tcp', dport=22),
        'teacher to client': verdict(cluster, nic(100), nic(CLIENT), proto='tcp', dport=22),
        'router as the teacher': verdict(cluster, nic(ROUTER), nic(CLIENT), proto='tcp', dport=22, source_ip=TEACHER),
        'router forwarding onto the uplink': verdict(cluster, nic(ROUTER), nic(CLIENT), proto='tcp', dport=22,
                                                     source_ip=FORWARDED),
        'router claiming the teacher by ARP': verdict(cluster, nic(ROUTER), proto='arp', arp_ip=TEACHER),
    }


def private_verdicts(cluster):
    return {
        'client to router': verdict(cluster, nic(CLIENT, 'net1'), nic(ROUTER, 'net1'), proto='tcp', dport=22),
        'router to client': verdict(cluster, nic(ROUTER, 'net1'), nic(CLIENT, 'net1'), proto='icmp'),
        'router forwarding': verdict(cluster, nic(ROUTER, 'net1'), nic(CLIENT, 'net1'), proto='tcp', dport=80,
                                     source_ip=FORWARDED),
    }


def test_nets_isolate_the_uplink_as_before_and_leave_the_private_network_to_the_student(pve_cluster, tmp_path):
    cluster = pve_cluster
    add_machines(cluster)

    whole = isolate(cluster, tmp_path)
    assert not whole.get('failed'), whole.get('msg')
    cluster.pve.fw_compile()
    before = uplink_verdicts(cluster)
    assert before == {'router to client': 'DROP', 'client to router': 'DROP', 'teacher to router': 'ACCEPT',
                      'teacher to client': 'ACCEPT', 'router as the teacher': 'DROP',
                      'router forwarding onto the uplink': 'DROP', 'router claiming the teacher by ARP': 'DROP'}
    # Every NIC isolated: the student's own network is cut, which is why nets exists.
    assert private_verdicts(cluster) == {'client to router': 'DROP', 'router to client': 'DROP',
                                         'router forwarding': 'DROP'}

    split = isolate(cluster, tmp_path, nets={str(ROUTER): ['net0'], str(CLIENT): ['net0']})
    assert not split.get('failed'), split.get('msg')
    assert split['changed'] is True
    cluster.pve.fw_compile()
    assert uplink_verdicts(cluster) == before
    assert private_verdicts(cluster) == {'client to router': 'ACCEPT', 'router to client': 'ACCEPT',
                                         'router forwarding': 'ACCEPT'}
    for vmid in (ROUTER, CLIENT):
        config = cluster.pve.vm(vmid).config
        assert config['net1'] == 'virtio=BC:24:11:00:03:{0:02X},bridge=v1234,mtu=1450'.format(vmid)
        assert config['net0'].endswith(',firewall=1')
        # The set the first run made for net1 is left (a NIC without firewall=1 is not filtered by it); state=absent
        # removes it with the rest of what the lab made.
        assert 'ipfilter-net1' in cluster.pve.firewall_config('vm', vmid=vmid)['ipset']
    by_id = dict((v['vmid'], v) for v in split['report']['vms'])
    assert split['report']['isolated'] is True
    for vmid in (ROUTER, CLIENT):
        assert by_id[vmid]['isolated_nets'] == [{'net': 'net0', 'bridge': 'vmbr0'}]
        assert by_id[vmid]['private_nets'] == [{'net': 'net1', 'bridge': 'v1234', 'firewall': False}]
        assert list(by_id[vmid]['addresses']) == ['net0']
