"""A topology lab (lab_machines) through its whole life on the fake, in a simple and in a vlan SDN zone.

Eight students with two machines each: a router with an uplink (net0, isolated as a lab_template lab's NIC) and a
NIC on the student's own VNet, and a client on the VNet only. Each stage is checked against design.md's outcome
from what the fake holds (its written and applied SDN, the VMs' configs, ACLs, the firewall evaluator), not from
what the playbook says it did: lab_up, a re-run with nothing changed (no SDN apply), lab_reset, lab_rebuild of one
student, prune of one student, lab_down.
"""

import csv
import json

import pytest

from helpers import api_writes, run_lab

pytestmark = pytest.mark.cluster('demo.json', time_scale=0)

LAB = 'topo'
STUDENTS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal']
MACHINES = [
    {'name': 'router', 'template': 'tmpl-debian', 'nets': ['uplink', 'private'], 'memory': 1024},
    {'name': 'client', 'template': 'tmpl-debian', 'nets': ['private'], 'memory': 512},
]
ZONES = {
    'simple': {'lab_sdn_zone': 'labs', 'lab_sdn_zone_type': 'simple'},
    'vlan': {'lab_sdn_zone': 'labv', 'lab_sdn_zone_type': 'vlan', 'lab_sdn_bridge': 'vmbr1',
             'lab_sdn_vlan_range': [2000, 2007]},
}


def nic_fields(value):
    out = {}
    for part in str(value).split(','):
        key, _sep, val = part.partition('=')
        out[key] = val
    return out


def lab_vms(state):
    """{name: (vmid, node, config)} of the lab's VMs, from the fake's own state (lab_state)."""
    return dict((vm['name'], (vm['vmid'], vm['node'], vm['config'])) for vm in state['vms']
                if vm['pool'] == LAB and not vm['template'])


def sdn_views(state):
    """(the running VNets, the running subnets, whether the written SDN differs from what the nodes run)."""
    written, running = state['sdn']['written'], state['sdn']['running']
    pending = any(written.get(k, {}) != running.get(k, {}) for k in ('zones', 'vnets', 'subnets'))
    return running.get('vnets', {}), running.get('subnets', {}), pending


def up(cluster, tmp_path, zone, playbook='lab_up', **extra):
    return run_lab(cluster, tmp_path, LAB, playbook=playbook, lab_students=[{'username': s} for s in STUDENTS],
                   lab_machines=MACHINES, lab_firewall_compile_wait=0.2, **dict(ZONES[zone], **extra))


def check_outcome(pve, zone, students, tmp_path):
    """design.md "Topologies", point by point, for these students."""
    state = pve.lab_state()
    vms = lab_vms(state)
    assert sorted(vms) == sorted('{0}-{1}-{2}'.format(LAB, s, m['name']) for s in students for m in MACHINES)
    vnets, subnets, pending = sdn_views(state)
    assert not pending, 'an SDN change is left pending'
    mine = dict((v, c) for v, c in vnets.items() if str(c.get('alias', '')).startswith('pvelab:' + LAB + ' '))
    owner = dict((c['alias'].split(' ', 1)[1], v) for v, c in mine.items())
    assert sorted(owner) == sorted('{0}@pve'.format(s) for s in students), 'one VNet per student'
    assert all(c['zone'] == ZONES[zone]['lab_sdn_zone'] for c in mine.values())
    assert all(len(v) <= 8 for v in mine)
    if zone == 'vlan':
        tags = [int(c['tag']) for c in mine.values()]
        assert len(set(tags)) == len(tags) and all(2000 <= t <= 2007 for t in tags)
    # no gateway: no subnet on any of the lab's VNets
    assert not [x for x in subnets.values() if x.get('vnet') in mine]
    for s in students:
        router = vms['{0}-{1}-router'.format(LAB, s)]
        client = vms['{0}-{1}-client'.format(LAB, s)]
        vnet = owner['{0}@pve'.format(s)]
        up_nic, priv_nic = nic_fields(router[2]['net0']), nic_fields(router[2]['net1'])
        assert up_nic['bridge'] == 'vmbr0' and up_nic.get('firewall') == '1'
        assert priv_nic['bridge'] == vnet and 'firewall' not in priv_nic
        assert nic_fields(client[2]['net0'])['bridge'] == vnet
        assert 'net1' not in client[2]
        if zone == 'simple':
            assert router[1] == client[1], '{0}: machines on two nodes in a simple zone'.format(s)
        # each student's role on each of their VMs
        for vm in (router, client):
            acl = [a for a in state['acl'] if a['path'] == '/vms/{0}'.format(vm[0])]
            assert [a['ugid'] for a in acl] == ['{0}@pve'.format(s)], acl
    rows = list(csv.DictReader(open(str(tmp_path / '{0}-roster.csv'.format(LAB)))))
    assert list(rows[0])[-2:] == ['machine', 'network']
    by = dict(((r['username'], r['machine']), r) for r in rows)
    assert len(rows) == 2 * len(students)
    for s in students:
        assert by[(s, 'router')]['network'] == owner['{0}@pve'.format(s)]
        assert by[(s, 'client')]['network'] == owner['{0}@pve'.format(s)]
        assert by[(s, 'router')]['ip'], 'the router (uplink, DHCP) has its address in the roster'
        assert by[(s, 'client')]['ip'] == ''
    data = json.load(open(str(tmp_path / '{0}-roster.json'.format(LAB))))
    assert [dict((k, str(v) if v is not None else '') for k, v in r.items()) for r in data] == rows
    return vms, owner


def verdict(cluster, src, dst=None, **packet):
    return cluster.run(cluster.pve.fw_simulate, src, dst, **packet)['verdict']


def check_isolation(cluster, vms, owner):
    """The hostile-student proof on the topology: the uplinks isolated as a lab_template lab's NIC (pve-firewall's
    evaluator says what passes), a student's private network open between their own machines, and on every VNet of
    the lab no NIC but its student's (no other guest, so no gateway of the lab's routes between VNets)."""
    cluster.pve.fw_compile()
    ann_r, ann_c = vms[LAB + '-ann-router'][0], vms[LAB + '-ann-client'][0]
    ben_r, ben_c = vms[LAB + '-ben-router'][0], vms[LAB + '-ben-client'][0]
    nic = (lambda vmid, net='net0': {'vmid': vmid, 'net': net})
    assert {
        'ann router to ben router': verdict(cluster, nic(ann_r), nic(ben_r), proto='tcp', dport=22),
        'teacher to ann router': verdict(cluster, nic(100), nic(ann_r), proto='tcp', dport=22),
        'ann router as the teacher': verdict(cluster, nic(ann_r), nic(ben_r), proto='tcp', dport=22,
                                             source_ip='192.0.2.10'),
        'ann router claiming the teacher by ARP': verdict(cluster, nic(ann_r), proto='arp', arp_ip='192.0.2.10'),
        # the private network has no DHCP: the student's own addresses
        'ann router to ann client (private)': verdict(cluster, nic(ann_r, 'net1'), nic(ann_c), proto='tcp', dport=22,
                                                      source_ip='192.168.7.1', dest_ip='192.168.7.2'),
        'ann client to ann router (private)': verdict(cluster, nic(ann_c), nic(ann_r, 'net1'), proto='icmp',
                                                      source_ip='192.168.7.2', dest_ip='192.168.7.1'),
    } == {'ann router to ben router': 'DROP', 'teacher to ann router': 'ACCEPT', 'ann router as the teacher': 'DROP',
          'ann router claiming the teacher by ARP': 'DROP', 'ann router to ann client (private)': 'ACCEPT',
          'ann client to ann router (private)': 'ACCEPT'}
    assert ben_c  # ben's client exists; its NICs are checked below with everyone's
    students_of = dict((v, u.split('@')[0]) for u, v in owner.items())
    for vm in cluster.pve.lab_state()['vms']:
        for key, value in vm['config'].items():
            if key.startswith('net') and key[3:].isdigit() and nic_fields(value)['bridge'] in students_of:
                student = students_of[nic_fields(value)['bridge']]
                assert vm['name'].startswith('{0}-{1}-'.format(LAB, student)), (vm['name'], key, value)


def macs(vms, name):
    return nic_fields(vms[name][2]['net0']).get('virtio')


CHECKS = [{'name': 'forwarding', 'machine': 'router', 'command': ['sysctl', '-n', 'net.ipv4.ip_forward'],
           'expect_stdout': '^1$', 'points': 2},
          {'name': 'route', 'machine': 'client', 'command': ['ip', 'route', 'show', 'default'],
           'expect_stdout': 'via 192.168.7.1'}]


def check_exam_and_grading(cluster, tmp_path, students):
    """lab_exam started on a topology lab cuts the uplinks' outbound traffic and leaves the private networks as they
    are; lab_grade runs each check in its machine's VMs only."""
    pve = cluster.pve
    vms = lab_vms(pve.lab_state())
    ann_r, ann_c = vms[LAB + '-ann-router'][0], vms[LAB + '-ann-client'][0]
    nic = (lambda vmid, net='net0': {'vmid': vmid, 'net': net})
    pve.fw_compile()
    assert verdict(cluster, nic(ann_r), dst={'ip': '198.51.100.80'}, proto='tcp', dport=443) == 'ACCEPT'
    started = run_lab(cluster, tmp_path, LAB, playbook='lab_exam', lab_exam_state='started',
                      lab_students=[{'username': s} for s in students], lab_machines=MACHINES,
                      lab_firewall_compile_wait=0.2, **ZONES['simple'])
    assert started.rc == 0, started
    pve.fw_compile()
    assert verdict(cluster, nic(ann_r), dst={'ip': '198.51.100.80'}, proto='tcp', dport=443) == 'DROP'
    assert verdict(cluster, nic(ann_r), nic(100), proto='tcp', dport=22) == 'ACCEPT'
    assert verdict(cluster, nic(ann_r, 'net1'), nic(ann_c), proto='tcp', dport=22, source_ip='192.168.7.1',
                   dest_ip='192.168.7.2') == 'ACCEPT'
    after = lab_vms(pve.lab_state())
    assert 'firewall' not in nic_fields(after[LAB + '-ann-router'][2]['net1'])
    assert 'firewall' not in nic_fields(after[LAB + '-ann-client'][2]['net0'])

    for s in students:
        router, client = vms['{0}-{1}-router'.format(LAB, s)][0], vms['{0}-{1}-client'.format(LAB, s)][0]
        cluster.run(pve.set_exec, router, CHECKS[0]['command'], rc=0, stdout='1\n' if s == 'ann' else '0\n')
        cluster.run(pve.set_exec, client, CHECKS[1]['command'], rc=0,
                    stdout='default via 192.168.7.1 dev eth0\n' if s in ('ann', 'ben') else '')
    since = len(pve.request_log())
    graded = run_lab(cluster, tmp_path, LAB, playbook='lab_grade', lab_checks=CHECKS,
                     lab_grades_path=str(tmp_path / 'grades.csv'),
                     lab_students=[{'username': s} for s in students], lab_machines=MACHINES, **ZONES['simple'])
    assert graded.rc == 0, graded
    report = json.load(open(str(tmp_path / 'grades.json')))
    totals = dict((st['username'], st['total']) for st in report['students'])
    assert totals == dict((s, {'ann': 3, 'ben': 1}.get(s, 0)) for s in students)
    assert [c['machine'] for c in report['checks']] == ['router', 'client']
    ran = [int(path.split('/qemu/')[1].split('/')[0]) for method, path, _b in pve.request_log()[since:]
           if method == 'POST' and path.endswith('/agent/exec')]
    routers = set(vms['{0}-{1}-router'.format(LAB, s)][0] for s in students)
    clients = set(vms['{0}-{1}-client'.format(LAB, s)][0] for s in students)
    assert sorted(ran) == sorted(routers | clients), 'each check runs once in each VM of its machine'
    assert len(ran) == 2 * len(students)


@pytest.mark.parametrize('zone', ['simple', 'vlan'])
def test_topology_lab_lifecycle(pve_cluster, tmp_path, zone):
    pve = pve_cluster.pve
    first = up(pve_cluster, tmp_path, zone)
    assert first.rc == 0, first
    vms, owner = check_outcome(pve, zone, STUDENTS, tmp_path)

    since = len(pve.request_log())
    again = up(pve_cluster, tmp_path, zone)
    assert again.rc == 0, again
    assert again.changed == 0, again.failures()
    assert not api_writes(pve_cluster, since), 'a re-run wrote to PVE (an SDN apply reloads every node)'
    check_isolation(pve_cluster, vms, owner)

    # lab_reset: every machine back to its clean snapshot, same VMs, same networks
    reset = up(pve_cluster, tmp_path, zone, playbook='lab_reset')
    assert reset.rc == 0, reset
    after, after_owner = check_outcome(pve, zone, STUDENTS, tmp_path)
    assert dict((n, v[0]) for n, v in after.items()) == dict((n, v[0]) for n, v in vms.items())
    assert after_owner == owner
    rolled = [r for r in pve.request_log()[since:] if r[0] == 'POST' and r[1].endswith('/rollback')]
    assert len(rolled) == 2 * len(STUDENTS)

    # lab_rebuild of one student: both of ann's machines cloned afresh (new MACs), same vmids and VNet; others kept
    rebuild = up(pve_cluster, tmp_path, zone, playbook='lab_rebuild', lab_only=['ann'])
    assert rebuild.rc == 0, rebuild
    rebuilt, rebuilt_owner = check_outcome(pve, zone, STUDENTS, tmp_path)
    assert rebuilt_owner == owner
    for m in ('router', 'client'):
        assert rebuilt['topo-ann-' + m][0] == vms['topo-ann-' + m][0]
        assert macs(rebuilt, 'topo-ann-' + m) != macs(vms, 'topo-ann-' + m)
        assert macs(rebuilt, 'topo-ben-' + m) == macs(vms, 'topo-ben-' + m)
    check_isolation(pve_cluster, rebuilt, owner)

    # prune: hal leaves the class; his machines, account and VNet go, SDN applied
    staying = [s for s in STUDENTS if s != 'hal']
    pruned = run_lab(pve_cluster, tmp_path, LAB, lab_students=[{'username': s} for s in staying],
                     lab_machines=MACHINES, lab_firewall_compile_wait=0.2, lab_prune=True, **ZONES[zone])
    assert pruned.rc == 0, pruned
    _vms, pruned_owner = check_outcome(pve, zone, staying, tmp_path)
    assert pruned_owner == dict((u, v) for u, v in owner.items() if u != 'hal@pve')
    state = pve.lab_state()
    assert 'hal@pve' not in [u['userid'] for u in state['users']]
    assert owner['hal@pve'] not in state['sdn']['written']['vnets']

    if zone == 'simple':
        check_exam_and_grading(pve_cluster, tmp_path, staying)

    # lab_down: no VM, no VNet of the lab, the zone the lab made removed, all applied
    down = run_lab(pve_cluster, tmp_path, LAB, playbook='lab_down', lab_students=[{'username': s} for s in staying],
                   lab_machines=MACHINES, **ZONES[zone])
    assert down.rc == 0, down
    state = pve.lab_state()
    assert not lab_vms(state)
    _vnets, _subnets, pending = sdn_views(state)
    assert not pending
    assert state['sdn']['running']['vnets'] == {} and state['sdn']['running']['zones'] == {}
    assert LAB not in [p['poolid'] for p in state['pools']]


BAD = [
    ({'lab_machines': [dict(MACHINES[0], name='my router')]}, "lab_machines[0] name 'my router'"),
    ({'lab_machines': [MACHINES[0], dict(MACHINES[1], name='router')]},
     "lab_machines[1]: machine name 'router' is already lab_machines[0]"),
    ({'lab_machines': [dict(MACHINES[0], nets=['uplink', 'dmz'])]}, "lab_machines[0].nets[1]: 'dmz' is neither"),
    ({'lab_machines': [dict(MACHINES[0], template='teacher')]}, 'lab_machines[0].template teacher: is not a template'),
    (dict(ZONES['vlan'], lab_sdn_vlan_range=[2000, 2006]),
     'lab_sdn_vlan_range: 2000 to 2006 has 7 tags free on bridge vmbr1'),
    ({'lab_sdn_zone': 'lab-zone'}, "lab_sdn_zone 'lab-zone' is not a PVE SDN id"),
    ({'lab_template': 'tmpl-debian'}, 'lab_machines: lab_template is given too'),
]


def test_bad_topology_input_is_refused_before_any_write(pve_cluster, tmp_path):
    """design.md's refusals, each before any write to PVE (one fake for all of them: none of them writes)."""
    for over, needle in BAD:
        args = dict(ZONES['simple'], lab_machines=MACHINES)
        args.update(over)
        result = run_lab(pve_cluster, tmp_path, LAB, lab_students=[{'username': s} for s in STUDENTS],
                         lab_firewall_compile_wait=0.2, **args)
        assert result.rc != 0, (over, result)
        assert needle in result.stdout, (needle, result)
        assert api_writes(pve_cluster) == [], over
