"""Isolation against a hostile student, proved by packets: the fake's pve-firewall evaluator (fakecluster/fwsim.py,
checked against pve-firewall's own test cases) says what passes, from the firewall state the lab left.

A student has root on their VM: they may send anything (other protocols, another source address or MAC, ARP
claiming the teacher's address). The lab must stop all of it reaching another student, keep the nodes' 8006 and
22 answering whoever they answered before, start no VM before pve-firewall has compiled its rules, and put the
datacenter firewall back when the last lab is gone.
"""

import json

import pytest

from helpers import lab_connection_vars, run_playbook

pytestmark = pytest.mark.cluster('demo.json')

TEACHER = '192.0.2.10'         # VM 100 in demo.json (static address)
CLASSROOM = '203.0.113.50'     # where the students open their consoles
CONTROLLER = '100.64.0.10'     # an Ansible controller outside the cluster network
STUDENTS = ['ann', 'ben', 'cat']


def lab_vars(cluster, tmp_path, **over):
    out = lab_connection_vars(cluster)
    out.update({'lab_name': 'hostile', 'lab_template': 'tmpl-debian',
                'lab_students': [{'username': s} for s in STUDENTS], 'lab_teacher_sources': [TEACHER + '/32'],
                'lab_roster_path': str(tmp_path / 'hostile-roster.csv')})
    out.update(over)
    return out


def lab(cluster, tmp_path, playbook='lab_up', **over):
    return run_playbook(cluster, playbook='pvelab.proxmox.' + playbook, extra_vars=lab_vars(cluster, tmp_path, **over),
                        tmp_path=tmp_path)


def roster(tmp_path):
    return json.loads((tmp_path / 'hostile-roster.json').read_text())


def verdict(cluster, src, dst=None, **packet):
    """What pve-firewall, as last compiled, does with one packet."""
    return cluster.run(cluster.pve.fw_simulate, src, dst, **packet)['verdict']


def nic(vmid):
    return {'vmid': int(vmid), 'net': 'net0'}


def fresh_cluster_options(cluster):
    """A cluster as a new PVE install has it: the datacenter firewall off and no policy_in set (demo.json sets
    policy_in ACCEPT, which would hide what turning the datacenter firewall on does to the hosts)."""
    cluster.pve.firewall_config('cluster')['options'].pop('policy_in', None)
    cluster.pve.fw_compile()
    return dict(cluster.pve.firewall_config('cluster')['options'])


def nodes_answer(cluster, sources):
    return dict(((node, src, port), verdict(cluster, {'ip': src}, {'node': node}, proto='tcp', dport=port))
                for node in ('pve1', 'pve2', 'pve3') for src in sources for port in (8006, 22))


def test_a_hostile_student_reaches_no_other_student_and_nobody_is_locked_out(pve_cluster, tmp_path):
    cluster = pve_cluster
    options_before = fresh_cluster_options(cluster)
    hosts_before = nodes_answer(cluster, [CLASSROOM, CONTROLLER])
    assert set(hosts_before.values()) == {'ACCEPT'}  # the datacenter firewall is off: everyone

    up = lab(cluster, tmp_path)
    assert up.rc == 0, up
    cluster.pve.fw_compile()
    rows = roster(tmp_path)
    a, b, c = (nic(r['vmid']) for r in rows)
    teacher = nic(100)

    # Student to student, in every protocol, from its own address: dropped by the receiver.
    for proto, port in (('tcp', 22), ('udp', 53), ('icmp', None)):
        assert verdict(cluster, a, b, proto=proto, dport=port) == 'DROP', proto
        assert verdict(cluster, c, a, proto=proto, dport=port) == 'DROP', proto
    # With the teacher's address, or another address, or another MAC: dropped by the sender's own NIC.
    assert verdict(cluster, a, b, proto='tcp', dport=22, source_ip=TEACHER) == 'DROP'
    assert verdict(cluster, a, b, proto='udp', dport=53, source_ip=TEACHER) == 'DROP'
    assert verdict(cluster, a, b, proto='tcp', dport=22, source_ip='10.10.250.1') == 'DROP'
    assert verdict(cluster, a, b, proto='tcp', dport=22, source_mac='bc:24:11:00:01:00') == 'DROP'
    # Claiming the teacher's address by ARP (to receive what others send the teacher): dropped; its own passes.
    assert verdict(cluster, a, proto='arp', arp_ip=TEACHER) == 'DROP'
    assert verdict(cluster, a, proto='arp') == 'ACCEPT'
    # The teacher reaches every student and gets the answers.
    for student in (a, b, c):
        assert verdict(cluster, teacher, student, proto='tcp', dport=22) == 'ACCEPT'
        assert verdict(cluster, teacher, student, proto='tcp', dport=22, reply=True) == 'ACCEPT'
    # lab_outbound any: a student reaches what accepts them (the teacher, web01 whose own firewall is off).
    assert verdict(cluster, a, teacher, proto='tcp', dport=22) == 'ACCEPT'
    assert verdict(cluster, a, nic(101), proto='tcp', dport=443) == 'ACCEPT'

    # The nodes answer the classroom and the controller as before (the console links of the roster work).
    assert nodes_answer(cluster, [CLASSROOM, CONTROLLER]) == hosts_before

    # No student VM ever ran with rules compiled before the lab's.
    vmids = set(int(r['vmid']) for r in rows)
    starts = [s for s in cluster.run(cluster.pve.fw_starts) if s['vmid'] in vmids]
    assert sorted(set(s['vmid'] for s in starts)) == sorted(vmids)
    assert [s for s in starts if not s['filtered']] == []

    down = lab(cluster, tmp_path, playbook='lab_down')
    assert down.rc == 0, down
    cluster.pve.fw_compile()
    # The last lab gone: the datacenter firewall options are as before, the hosts answer as before, and other
    # guests' own firewall rules do not start to apply.
    assert cluster.pve.firewall_config('cluster')['options'] == options_before
    assert 'pvelab-dc' not in cluster.pve.firewall_config('cluster')['groups']
    assert nodes_answer(cluster, [CLASSROOM, CONTROLLER]) == hosts_before
    cluster.pve.firewall_config('vm', vmid=101)['options'].update({'enable': 1})  # web01's own: policy_in DROP
    cluster.pve.fw_compile()
    assert verdict(cluster, teacher, nic(101), proto='tcp', dport=443) == 'ACCEPT'


def test_no_student_vm_starts_before_pve_firewall_compiled_its_rules(pve_cluster, tmp_path):
    """pve-firewall compiles every 10 s: a VM started right after its firewall was written runs with what was
    compiled before (nothing). Here a cycle lasts 10 real seconds, so the lab must wait for it."""
    cluster = pve_cluster
    cluster.pve.firewall_secs = 1000  # x time_scale 0.01 = 10 s
    up = lab(cluster, tmp_path, lab_firewall_compile_wait=10.5, lab_students=[{'username': 'ann'}])
    assert up.rc == 0, up
    vmid = int(roster(tmp_path)[0]['vmid'])
    starts = [s for s in cluster.run(cluster.pve.fw_starts) if s['vmid'] == vmid]
    assert len(starts) == 1 and starts[0]['filtered'] is True, starts


def test_a_cluster_that_cannot_filter_arp_starts_no_vm_unless_the_gap_is_accepted(pve_cluster, tmp_path):
    cluster = pve_cluster
    cluster.pve.firewall_config('cluster')['options']['ebtables'] = 0
    refused = lab(cluster, tmp_path)
    assert refused.rc != 0
    assert 'gaps not accepted: arp_filter' in refused.stdout and 'ebtables is 0' in refused.stdout
    assert not [s for s in cluster.run(cluster.pve.fw_starts) if s['vmid'] != 100]  # no student VM started

    accepted = lab(cluster, tmp_path, lab_isolation_accept=['arp_filter'])
    assert accepted.rc == 0, accepted
    cluster.pve.fw_compile()
    a, b, _c = (nic(r['vmid']) for r in roster(tmp_path))
    # What the report named is what happens: ARP is not filtered, the addresses still are.
    assert verdict(cluster, a, proto='arp', arp_ip=TEACHER) == 'ACCEPT'
    assert verdict(cluster, a, b, proto='tcp', dport=22, source_ip=TEACHER) == 'DROP'


def test_console_sources_open_8006_where_the_site_firewall_is_already_on(pve_cluster, tmp_path):
    cluster = pve_cluster
    options = cluster.pve.firewall_config('cluster')['options']
    options.update({'enable': 1, 'policy_in': 'DROP'})  # the site's own policy: management only
    rules_before = json.dumps(cluster.pve.firewall_config('cluster')['rules'], sort_keys=True)
    cluster.pve.fw_compile()
    assert verdict(cluster, {'ip': CLASSROOM}, {'node': 'pve2'}, proto='tcp', dport=8006) == 'DROP'

    up = lab(cluster, tmp_path, lab_console_sources=['203.0.113.0/24'])
    assert up.rc == 0, up
    cluster.pve.fw_compile()
    assert verdict(cluster, {'ip': CLASSROOM}, {'node': 'pve2'}, proto='tcp', dport=8006) == 'ACCEPT'
    assert verdict(cluster, {'ip': CLASSROOM}, {'node': 'pve2'}, proto='tcp', dport=22) == 'DROP'  # as before
    assert options['policy_in'] == 'DROP'

    assert lab(cluster, tmp_path, playbook='lab_down').rc == 0
    cluster.pve.fw_compile()
    assert verdict(cluster, {'ip': CLASSROOM}, {'node': 'pve2'}, proto='tcp', dport=8006) == 'DROP'
    assert json.dumps(cluster.pve.firewall_config('cluster')['rules'], sort_keys=True) == rules_before
    assert cluster.pve.firewall_config('cluster')['options']['enable'] >= 1  # the site's switch stays on


def test_the_report_says_what_the_compiled_firewall_lets_through_on_a_lab_of_50(pve_cluster, tmp_path):
    cluster = pve_cluster
    students = [{'username': 's{0:02d}'.format(i)} for i in range(50)]
    up = lab(cluster, tmp_path, lab_students=students)
    assert up.rc == 0, up
    vmids = [int(r['vmid']) for r in roster(tmp_path)]
    # Tamper with a few: a foreign rule open to all, a lost source filter, MAC filter off, a rule on an IP set the
    # report has not read.
    open_vm, unfiltered, macless, unknown = vmids[3], vmids[5], vmids[7], vmids[9]
    cluster.pve.firewall_config('vm', vmid=open_vm)['rules'].append(
        {'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '22', 'enable': 1, 'comment': 'ssh for all'})
    del cluster.pve.firewall_config('vm', vmid=unfiltered)['ipset']['ipfilter-net0']
    cluster.pve.firewall_config('vm', vmid=macless)['options']['macfilter'] = 0
    cluster.pve.firewall_config('vm', vmid=unknown)['rules'].append(
        {'type': 'in', 'action': 'ACCEPT', 'source': '+ops-hosts', 'enable': 1})
    cluster.pve.fw_compile()

    task = {'name': 'verify', 'pvelab.proxmox.pve_firewall_isolation': {
        'name': 'hostile', 'vmids': vmids, 'verify_only': True}, 'register': 'r', 'ignore_errors': True}
    dump = {'name': 'dump', 'ansible.builtin.copy': {'dest': str(tmp_path / 'r.json'), 'content': '{{ r | to_json }}'}}
    (tmp_path / 'verify').mkdir()
    run_playbook(cluster, tasks=[task, dump], tmp_path=tmp_path / 'verify', callback='default')
    report = json.loads((tmp_path / 'r.json').read_text())['report']
    by_id = dict((v['vmid'], v) for v in report['vms'])
    assert sorted(by_id) == sorted(vmids)

    mismatches = []
    for i, vmid in enumerate(vmids):
        other = vmids[(i + 1) % len(vmids)]
        paths = by_id[vmid]['paths']
        seen = {
            'from_students': verdict(cluster, nic(other), nic(vmid), proto='tcp', dport=22),
            'spoofing_teacher_address': verdict(cluster, nic(vmid), nic(other), proto='tcp', dport=22,
                                                source_ip=TEACHER),
            'spoofing_teacher_arp': verdict(cluster, nic(vmid), proto='arp', arp_ip=TEACHER),
        }
        for path, packet in seen.items():
            said = paths[path]
            if said == 'unknown':
                assert by_id[vmid]['isolated'] is False  # fails closed: never isolated
                continue
            if (said == 'blocked') != (packet == 'DROP'):
                mismatches.append((vmid, path, said, packet))
    assert mismatches == []
    assert by_id[open_vm]['paths']['from_students'] == 'open'
    assert by_id[unfiltered]['paths']['spoofing_teacher_address'] == 'open'
    assert by_id[macless]['isolated'] is False
    # Without macfilter a student sends with another MAC (here the teacher's) where the others cannot.
    assert verdict(cluster, nic(macless), nic(100), proto='tcp', dport=22, source_mac='bc:24:11:00:01:00') == 'ACCEPT'
    assert verdict(cluster, nic(vmids[0]), nic(100), proto='tcp', dport=22, source_mac='bc:24:11:00:01:00') == 'DROP'
    assert by_id[unknown]['status'] == 'unknown'
    assert sum(1 for v in report['vms'] if v['isolated']) == 46
