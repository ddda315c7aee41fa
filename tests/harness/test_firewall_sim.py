"""The firewall evaluator (fakecluster/fwsim.py) and pve-firewall's compile cycle on LabPve (pvefw.py).

Three parts: pve-firewall's own test cases (fw_cases.py) run through the evaluator; behaviour those cases do not
cover, on small configurations; and a LabPve set up through PVE's API as the collection sets up a lab, asked
through the control routes what passes. The LabPve tests run on stock fakepve too, as strict xfails (either_fake):
stock fakepve keeps the firewall configuration but evaluates nothing, and has no compile cycle or start record.
"""

import time

import pytest
import requests

import fw_cases
from fakecluster import fwsim
from test_stock_contrast import wait_task

TEACHER_IP = '192.0.2.100'  # VM 100 (alpha) of small.json: ipconfig0 ip=192.0.2.100/24, inside localnet
TEACHER, S1, S2 = {'vmid': 100}, {'vmid': 101}, {'vmid': 300}  # 101: DHCP 10.10.0.101; 300 a clone: 10.10.1.44
S1_IP = '10.10.0.101'


# =========================================================== pve-firewall's own tests

def _zone(name, role):
    """An endpoint of fwtester.pl's world (fw_cases.py)."""
    ip = fw_cases.DEFAULT_SOURCE if role == 'from' else fw_cases.DEFAULT_DEST
    if name == 'host':
        return fwsim.node_endpoint('proxself', fw_cases.HOST_IP)
    if name in ('outside', 'nfvm') or '/' in name:
        bridge, port = {'outside': ('vmbr0', 'eth0'), 'nfvm': ('vmbr0', 'tapXYZ')}.get(name) or name.split('/')
        return fwsim.outside_endpoint(ip, bridge=bridge, port=port, node='proxself')
    kind, vmid, net = ('lxc' if name.startswith('ct') else 'qemu'), int(name[2:].split('i')[0]), 0
    if 'i' in name[2:]:
        net = int(name[2:].split('i')[1])
    return fwsim.guest_endpoint(vmid, fw_cases.GUESTS[vmid][1], kind, node='proxself', net=net)


def _run_case(compiled, src, dst, fields):
    packet = dict(fields)
    source, dest = packet.pop('source', None), packet.pop('dest', None)
    if packet.get('proto') != 'icmpv6':  # fwtester.pl's default addresses are IPv4
        source = source or (fw_cases.HOST_IP if src == 'host' else fw_cases.DEFAULT_SOURCE)
        dest = dest or (fw_cases.HOST_IP if dst == 'host' else fw_cases.DEFAULT_DEST)
    return fwsim.simulate(compiled, _zone(src, 'from'), _zone(dst, 'to'), source_ip=source, dest_ip=dest, **packet)


@pytest.mark.parametrize('name', sorted(fw_cases.TESTS))
def test_pve_firewalls_own_test_cases(name):
    test = fw_cases.TESTS[name]
    compiled = fwsim.compile(fw_cases.state_of(test))
    failed = []
    for src, dst, expected, fields in fw_cases.expand(test['cases']):
        result = _run_case(compiled, src, dst, fields)
        if result['verdict'] != expected:
            failed.append('{0} -> {1} {2}: {3}, expected {4} ({5})'.format(src, dst, fields, result['verdict'],
                                                                           expected, result['reason']))
    assert failed == []
    for error in test.get('errors', ()):
        assert error in compiled.errors


def test_the_transcription_covers_every_verdict_of_those_tests():
    """Every test directory of pve-firewall is here, with all its verdicts (fw_cases.py says how each differs)."""
    counts = dict((name, len(list(fw_cases.expand(t['cases'])))) for name, t in fw_cases.TESTS.items())
    assert sorted(counts) == ['test-basic1', 'test-default-rules1', 'test-errors1', 'test-errors2', 'test-errors3',
                              'test-errors4', 'test-group1', 'test-ipset1', 'test-ipset2', 'test-unconfigured',
                              'test-vm-aliases1', 'test-vm-ipfilter1', 'test-vm-ipfilter2']
    assert sum(counts.values()) == 244


# ================================================================ the evaluator alone

NODE_IP = '192.0.2.11'


def world(guests, cluster=None, host=None, localnet='192.0.2.0/24'):
    """A one-node state: pve1 with these guests; the datacenter firewall on unless cluster says."""
    cluster = dict(cluster or {})
    cluster.setdefault('options', {'enable': 1})
    node = dict(host or {}, addresses=[NODE_IP], guests=guests)
    return {'localnet': localnet, 'cluster': cluster, 'nodes': {'pve1': node}}


def guest(vmid, firewall=None, ip=None, kind='qemu', nic_firewall=1, mac=None):
    mac = mac or 'BC:24:11:00:{0:02X}:{1:02X}'.format(vmid // 256, vmid % 256)
    if kind == 'lxc':
        config = {'net0': 'name=eth0,bridge=vmbr0,hwaddr={0},firewall={1}{2}'.format(
            mac, nic_firewall, ',ip=' + ip if ip else '')}
    else:
        config = {'net0': 'virtio={0},bridge=vmbr0,firewall={1}'.format(mac, nic_firewall)}
        if ip:
            config['ipconfig0'] = 'ip={0}/24'.format(ip)
    return {'type': kind, 'config': config, 'firewall': firewall}


def end(state, vmid, net=0):
    entry = state['nodes']['pve1']['guests'][vmid]
    return fwsim.guest_endpoint(vmid, entry['config'], entry['type'], node='pve1', net=net)


def fw(rules=(), **options):
    return {'options': dict({'enable': 1}, **options), 'rules': list(rules)}


IN, OUT, GROUP, ipset = fw_cases.IN, fw_cases.OUT, fw_cases.GROUP, fw_cases.ipset
OUTSIDE = fwsim.outside_endpoint('198.51.100.7')


def verdict(state, src, dst, **packet):
    return fwsim.simulate(fwsim.compile(state), src, dst, **packet)['verdict']


def test_rules_apply_in_order_and_disabled_ones_not_at_all():
    state = world({101: guest(101, fw([IN('DROP', proto='tcp', dport=22), IN('ACCEPT', proto='tcp', dport=22),
                                       IN('ACCEPT', proto='tcp', dport=80, enable=0)]))})
    assert verdict(state, OUTSIDE, end(state, 101), dport=22) == 'DROP'
    assert verdict(state, OUTSIDE, end(state, 101), dport=80) == 'DROP'  # disabled: policy_in DROP
    state['nodes']['pve1']['guests'][101]['firewall']['rules'][0]['enable'] = 0
    assert verdict(state, OUTSIDE, end(state, 101), dport=22) == 'ACCEPT'


def test_macros_expand_to_their_ports_and_an_unknown_one_is_skipped_as_an_error():
    state = world({101: guest(101, fw([IN('ACCEPT', macro='DNS'), IN('ACCEPT', macro='ssh'), IN('ACCEPT', macro='HTTP'),
                                       IN('ACCEPT', macro='HTTPS'), IN('ACCEPT', macro='Ping'),
                                       IN('ACCEPT', macro='NoSuchMacro'), IN('ACCEPT', macro='SSH', dport=2222)]))})
    dst = end(state, 101)
    for proto, port in (('udp', 53), ('tcp', 53), ('tcp', 22), ('tcp', 80), ('tcp', 443)):
        assert verdict(state, OUTSIDE, dst, proto=proto, dport=port) == 'ACCEPT', (proto, port)
    assert verdict(state, OUTSIDE, dst, proto='udp', dport=22) == 'DROP'
    assert verdict(state, OUTSIDE, dst, proto='tcp', dport=2222) == 'DROP'
    assert verdict(state, OUTSIDE, dst, proto='icmp') == 'ACCEPT'  # echo-request
    assert verdict(state, OUTSIDE, dst, proto='icmp', icmp_type='timestamp-request') == 'DROP'
    # Ping is icmpv6 echo-request in the IPv6 ruleset (to the guest's link-local address)
    assert verdict(state, fwsim.outside_endpoint('fe80::1'), dst, proto='icmpv6') == 'ACCEPT'
    errors = fwsim.compile(state).errors
    assert "vm 101 rule 5: IN NoSuchMacro(ACCEPT) skipped: unknown macro 'NoSuchMacro'" in errors
    assert any('rule 6' in e and "parameter 'dport' already defined in macro SSH" in e for e in errors)


def test_ip_sets_with_nomatch_aliases_lists_and_scopes():
    cluster = {'options': {'enable': 1}, 'aliases': {'teacher': {'name': 'teacher', 'cidr': '198.51.100.10'}},
               'ipset': {'campus': ipset('198.51.100.0/24', '!198.51.100.128/25', '198.51.100.200'),
                         'both': ipset('203.0.113.1')}}
    by_port = ((22, '+campus'), (80, 'teacher'), (81, '203.0.113.5,203.0.113.9'), (82, '203.0.113.20-203.0.113.29'),
               (83, '+dc/both'), (84, '+both'), (85, 'dc/teacher'), (86, '+guest/both'))
    rules = [IN('ACCEPT', source=source, proto='tcp', dport=port) for port, source in by_port]
    own = fw(rules)
    own['ipset'] = {'both': ipset('203.0.113.2')}  # the guest's own set wins for +both, not for +dc/both
    own['aliases'] = {'teacher': {'name': 'teacher', 'cidr': '198.51.100.11'}}  # and its own alias
    state = world({101: guest(101, own)}, cluster=cluster)
    dst = end(state, 101)

    def ok(source, port):
        return verdict(state, fwsim.outside_endpoint(source), dst, dport=port) == 'ACCEPT'
    assert ok('198.51.100.5', 22) and not ok('198.51.100.130', 22) and ok('198.51.100.200', 22)  # most specific
    assert ok('198.51.100.11', 80) and not ok('198.51.100.10', 80) and ok('198.51.100.10', 85)
    assert ok('203.0.113.9', 81) and not ok('203.0.113.7', 81)
    assert ok('203.0.113.25', 82) and not ok('203.0.113.30', 82)
    assert ok('203.0.113.1', 83) and not ok('203.0.113.2', 83)
    assert ok('203.0.113.2', 84) and not ok('203.0.113.1', 84)
    assert ok('203.0.113.2', 86) and not ok('203.0.113.1', 86)


def test_icmp_types_by_name_or_number_and_source_ports():
    state = world({101: guest(101, fw([IN('ACCEPT', proto='icmp', icmp_type='echo-request'),
                                       IN('ACCEPT', proto='icmp', dport='destination-unreachable'),
                                       IN('ACCEPT', proto='udp', sport=123, dport=123)]))})
    dst = end(state, 101)
    assert verdict(state, OUTSIDE, dst, proto='icmp', icmp_type='echo-request') == 'ACCEPT'
    assert verdict(state, OUTSIDE, dst, proto='icmp', icmp_type='8') == 'ACCEPT'
    assert verdict(state, OUTSIDE, dst, proto='icmp', icmp_type='3/3') == 'ACCEPT'  # port-unreachable: a type 3
    assert verdict(state, OUTSIDE, dst, proto='icmp', icmp_type='echo-reply') == 'DROP'
    assert verdict(state, OUTSIDE, dst, proto='udp', sport=123, dport=123) == 'ACCEPT'
    assert verdict(state, OUTSIDE, dst, proto='udp', sport=40000, dport=123) == 'DROP'


def test_outbound_to_the_teacher_only_through_a_group_with_policy_out_drop():
    cluster = {'options': {'enable': 1}, 'ipset': {'lab-teacher': ipset(TEACHER_IP)},
               'groups': {'lab': [IN('ACCEPT', source='+lab-teacher'), OUT('ACCEPT', dest='+lab-teacher'),
                                  OUT('ACCEPT', macro='DNS')]}}
    state = world({101: guest(101, fw([GROUP('lab')], policy_out='DROP')),
                   102: guest(102, fw([GROUP('lab')], policy_out='DROP'))}, cluster=cluster)
    me, teacher = end(state, 101), fwsim.outside_endpoint(TEACHER_IP)
    assert verdict(state, me, teacher, dport=22) == 'ACCEPT'
    assert verdict(state, me, OUTSIDE, dport=443) == 'DROP'
    assert verdict(state, me, OUTSIDE, proto='udp', dport=53) == 'ACCEPT'
    assert verdict(state, me, end(state, 102), dport=22) == 'DROP'
    assert verdict(state, teacher, me, dport=22) == 'ACCEPT'


def test_a_node_with_its_firewall_off_accepts_everything_its_guests_do_not_filter():
    state = world({101: guest(101, fw())}, host={'options': {'enable': 0}})
    node = fwsim.node_endpoint('pve1', NODE_IP)
    assert verdict(state, OUTSIDE, node, dport=8006) == 'ACCEPT'
    assert verdict(state, node, end(state, 101), dport=22) == 'DROP'
    state['nodes']['pve1']['options'] = {}  # enable defaults to on
    assert verdict(state, OUTSIDE, node, dport=8006) == 'DROP'


def test_security_groups_use_enabled_rules_and_iface_picks_the_nic():
    cluster = {'options': {'enable': 1}, 'groups': {'lab': [IN('ACCEPT', proto='tcp', dport=22),
                                                            IN('ACCEPT', proto='tcp', dport=80, enable=0)]}}
    two = guest(101, fw([GROUP('lab', iface='net1')]))
    two['config'].update(net1='virtio=BC:24:11:00:01:99,bridge=vmbr1,firewall=1', ipconfig1='ip=10.30.0.5/24')
    state = world({101: two}, cluster=cluster)
    assert verdict(state, OUTSIDE, end(state, 101, 1), dport=22) == 'ACCEPT'
    assert verdict(state, OUTSIDE, end(state, 101, 1), dport=80) == 'DROP'
    assert verdict(state, OUTSIDE, end(state, 101, 0), dport=22) == 'DROP'
    missing = world({101: guest(101, fw([GROUP('nosuchgroup')]))}, cluster=cluster)
    assert verdict(missing, OUTSIDE, end(missing, 101), dport=22) == 'DROP'
    assert any('nosuchgroup' in e for e in fwsim.compile(missing).errors)


def test_policies_drop_reject_and_the_icmp_pve_lets_through():
    state = world({101: guest(101, fw(policy_in='REJECT')), 102: guest(102, fw())})
    rejecting, dropping = end(state, 101), end(state, 102)
    assert verdict(state, OUTSIDE, rejecting, dport=22) == 'REJECT'
    assert verdict(state, OUTSIDE, rejecting, proto='udp', dport=5000) == 'REJECT'
    assert verdict(state, OUTSIDE, rejecting, proto='udp', dport=1900) == 'DROP'  # UPnP noise is not answered
    assert verdict(state, OUTSIDE, rejecting, proto='icmp') == 'DROP'  # ICMP is never rejected
    assert verdict(state, OUTSIDE, dropping, proto='icmp') == 'DROP'
    assert verdict(state, OUTSIDE, dropping, proto='icmp', icmp_type='time-exceeded') == 'ACCEPT'
    assert verdict(state, OUTSIDE, dropping, proto='icmp', icmp_type='fragmentation-needed') == 'ACCEPT'


def test_dhcp_passes_both_ways_first_unless_the_option_is_off():
    state = world({101: guest(101, fw(policy_out='DROP')), 102: guest(102, fw(policy_out='DROP', dhcp=0))})
    server = fwsim.outside_endpoint('192.0.2.1')
    for vmid, expected in ((101, 'ACCEPT'), (102, 'DROP')):
        me = end(state, vmid)
        assert verdict(state, me, server, proto='udp', sport=68, dport=67, dest_ip='255.255.255.255',
                       source_ip='0.0.0.0') == expected
        assert verdict(state, server, me, proto='udp', sport=67, dport=68) == expected
    # before the MAC filter: a DHCP request from another MAC passes, anything else from it does not
    assert verdict(state, end(state, 101), server, proto='udp', sport=68, dport=67,
                   source_mac='02:00:00:00:00:01') == 'ACCEPT'
    assert verdict(state, end(state, 101), server, proto='udp', sport=5000, dport=67,
                   source_mac='02:00:00:00:00:01') == 'DROP'


def test_macfilter_and_the_implicit_ipfilter_set_of_a_vm():
    state = world({101: guest(101, fw(macfilter=0)), 102: guest(102, fw(ipfilter=1))})
    other_mac = '02:00:00:00:00:01'
    assert verdict(state, end(state, 101), OUTSIDE, dport=80, source_mac=other_mac) == 'ACCEPT'
    me = end(state, 102)
    # option ipfilter without an ipfilter-net0 set: the set holds only the NIC's link-local address, so a VM
    # sends no IPv4 at all (but DHCP, which comes first) and IPv6 from that one address only
    assert verdict(state, me, OUTSIDE, dport=80) == 'DROP'
    assert verdict(state, me, OUTSIDE, proto='udp', sport=68, dport=67) == 'ACCEPT'
    assert verdict(state, me, fwsim.outside_endpoint('fe80::1'), dport=80) == 'ACCEPT'
    assert verdict(state, me, fwsim.outside_endpoint('fe80::1'), dport=80, source_ip='fe80::2') == 'DROP'


def test_replies_of_accepted_connections_pass_and_others_are_invalid():
    state = world({101: guest(101, fw())})
    me = end(state, 101)
    answer = fwsim.simulate(fwsim.compile(state), me, OUTSIDE, dport=443, reply=True)
    assert answer['verdict'] == 'ACCEPT' and answer['connection'] == 'ACCEPT'
    assert 'a reply of an accepted connection' in answer['reason']  # although policy_in is DROP
    refused = fwsim.simulate(fwsim.compile(state), OUTSIDE, me, dport=22, reply=True)
    assert refused['connection'] == 'DROP' and refused['verdict'] == 'DROP'
    assert 'INVALID' in refused['reason']


def test_arp_is_filtered_by_ebtables_for_explicit_ipfilter_sets_only():
    with_set = fw(ipfilter=1)
    with_set['ipset'] = {'ipfilter-net0': ipset('10.10.0.101')}
    state = world({101: guest(101, with_set), 102: guest(102, fw(ipfilter=1)),
                   200: guest(200, fw(ipfilter=1), ip='10.20.0.5/24', kind='lxc')})
    compiled = fwsim.compile(state)

    def arp(vmid, ip, **extra):
        return fwsim.simulate(compiled, end(state, vmid), proto='arp', arp_ip=ip, **extra)['verdict']
    assert arp(101, '10.10.0.101') == 'ACCEPT' and arp(101, TEACHER_IP) == 'DROP'
    assert arp(102, TEACHER_IP) == 'ACCEPT'  # a VM's option ipfilter alone has no ARP filter
    assert arp(200, '10.20.0.5') == 'ACCEPT' and arp(200, TEACHER_IP) == 'DROP'  # a container's own IP counts
    assert arp(101, '10.10.0.101', source_mac='02:00:00:00:00:01') == 'DROP'  # ebtables MAC filter
    state['cluster']['options']['ebtables'] = 0
    compiled = fwsim.compile(state)
    assert arp(101, TEACHER_IP) == 'ACCEPT' and arp(101, '10.10.0.101', source_mac='02:00:00:00:00:01') == 'ACCEPT'


def test_a_datacenter_enable_stamp_expires_after_60_seconds():
    state = world({101: guest(101, fw())}, cluster={'options': {'enable': int(time.time()) - 30}})
    assert fwsim.compile(state).enabled
    state['cluster']['options']['enable'] = int(time.time()) - 61
    assert not fwsim.compile(state).enabled
    assert verdict(state, OUTSIDE, end(state, 101), dport=22) == 'ACCEPT'


def test_one_packet_on_a_50_vm_lab_takes_a_few_ms():
    cluster = {'options': {'enable': 1}, 'ipset': {'lab-teacher': ipset(TEACHER_IP)},
               'groups': {'lab': [IN('ACCEPT', source='+lab-teacher', proto='tcp', dport=22),
                                  IN('ACCEPT', source='+lab-teacher', proto='icmp', icmp_type='echo-request'),
                                  OUT('ACCEPT', dest='+lab-teacher'), OUT('ACCEPT', macro='DNS')]}}
    guests = dict((vmid, guest(vmid, fw([GROUP('lab')], policy_out='DROP'))) for vmid in range(101, 151))
    state = world(guests, cluster=cluster)
    compiled = fwsim.compile(state)
    teacher = fwsim.outside_endpoint(TEACHER_IP)
    ends = [end(state, vmid) for vmid in range(101, 151)]
    fwsim.simulate(compiled, ends[0], ends[1], dport=22)  # builds the chains once
    began = time.perf_counter()
    for i in range(200):
        assert fwsim.simulate(compiled, ends[i % 50], ends[(i + 7) % 50], dport=22)['verdict'] == 'DROP'
        assert fwsim.simulate(compiled, teacher, ends[i % 50], dport=22)['verdict'] == 'ACCEPT'
    per_packet = (time.perf_counter() - began) / 400
    assert per_packet < 0.02, '{0:.1f} ms per packet'.format(per_packet * 1000)


# ====================================================================== on a LabPve

def control(cluster, method, route, body=None, **query):
    answer = requests.request(method, cluster.control_url + route, json=body, params=query, verify=cluster.ca_path,
                              timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def simulate(cluster, src, dst=None, **packet):
    return control(cluster, 'POST', '/firewall/simulate', dict(packet, src=src, dst=dst))


def compile_now(cluster):
    return control(cluster, 'POST', '/firewall/compile')


def clone_student(api, vmid=300):
    wait_task(api, 'pve1', api.nodes('pve1').qemu(9000).clone.post(newid=vmid, name='s{0}'.format(vmid)))


def isolate(api, students, nic_firewall=True):
    """What the collection's pve_firewall_isolation writes: the teacher IP set, a security group accepting only
    it, the datacenter switch, and per student its firewall on with policy_in DROP, the group, firewall=1."""
    fw = api.cluster.firewall
    fw.ipset.post(name='lab-teacher', comment='pvelab:lab')
    fw.ipset('lab-teacher').post(cidr=TEACHER_IP, comment='pvelab:lab')
    fw.groups.post(group='lab', comment='pvelab:lab')
    fw.groups('lab').post(type='in', action='ACCEPT', source='+lab-teacher', enable=1, comment='pvelab:lab')
    fw.options.put(enable=1)
    for vmid in students:
        vm = api.nodes('pve1').qemu(vmid)
        net0 = vm.config.get()['net0']
        if nic_firewall and 'firewall=1' not in net0:
            vm.config.put(net0=net0 + ',firewall=1')
        vm.firewall.options.put(enable=1, policy_in='DROP')
        vm.firewall.rules.post(type='group', action='lab', enable=1, comment='pvelab:lab group reference')


@pytest.fixture
def lab(either_fake):
    """small.json with VM 101 and a clone 300 isolated as students of teacher VM 100, compiled."""
    api = either_fake.api()
    clone_student(api)
    isolate(api, [101, 300])
    compile_now(either_fake)
    return either_fake


def test_student_to_student_is_dropped_and_the_teacher_accepted(lab):
    blocked = simulate(lab, S1, S2, dport=22)
    assert blocked['verdict'] == 'DROP' and 'tap300i0-IN: policy_in DROP' in blocked['reason']
    assert simulate(lab, S2, S1, proto='icmp')['verdict'] == 'DROP'
    allowed = simulate(lab, TEACHER, S2, dport=22)
    assert allowed['verdict'] == 'ACCEPT' and 'GROUP lab' in allowed['reason']
    assert allowed['packet']['source'] == TEACHER_IP and allowed['packet']['dest'] == '10.10.1.44'
    assert simulate(lab, S1, TEACHER, dport=22)['verdict'] == 'ACCEPT'  # the teacher's firewall is off


def test_a_spoofed_teacher_source_passes_until_an_ipfilter_set_stops_it(lab):
    api = lab.api()
    assert simulate(lab, S1, S2, dport=22, source_ip=TEACHER_IP)['verdict'] == 'ACCEPT'
    s1 = api.nodes('pve1').qemu(101).firewall
    s1.ipset.post(name='ipfilter-net0')
    s1.ipset('ipfilter-net0').post(cidr=S1_IP)
    compile_now(lab)
    spoofed = simulate(lab, S1, S2, dport=22, source_ip=TEACHER_IP)
    assert spoofed['verdict'] == 'DROP' and 'ipfilter' in spoofed['reason']
    assert simulate(lab, S1, TEACHER, dport=22)['verdict'] == 'ACCEPT'  # its own address still goes out
    # the option alone, on a VM, leaves it no IPv4 source at all (only its link-local IPv6)
    api.nodes('pve1').qemu(300).firewall.options.put(ipfilter=1)
    compile_now(lab)
    assert simulate(lab, S2, TEACHER, dport=22)['verdict'] == 'DROP'


def test_an_arp_claim_of_the_teachers_ip_is_dropped_only_with_an_ipfilter_set(lab):
    api = lab.api()
    api.nodes('pve1').qemu(101).firewall.options.put(ipfilter=1)
    compile_now(lab)
    claim = simulate(lab, S1, proto='arp', arp_ip=TEACHER_IP)
    assert claim['verdict'] == 'ACCEPT' and 'no ARP filter' in claim['reason']
    s1 = api.nodes('pve1').qemu(101).firewall
    s1.ipset.post(name='ipfilter-net0')
    s1.ipset('ipfilter-net0').post(cidr=S1_IP)
    compile_now(lab)
    claim = simulate(lab, S1, proto='arp', arp_ip=TEACHER_IP)
    assert claim['verdict'] == 'DROP' and 'ARP' in claim['reason']
    assert simulate(lab, S1, proto='arp')['verdict'] == 'ACCEPT'  # its own address


def test_ebtables_0_disables_the_arp_filter_but_not_the_mac_filter_of_ip(lab):
    api = lab.api()
    s1 = api.nodes('pve1').qemu(101).firewall
    s1.ipset.post(name='ipfilter-net0')
    s1.ipset('ipfilter-net0').post(cidr=S1_IP)
    api.cluster.firewall.options.put(ebtables=0)
    compile_now(lab)
    assert simulate(lab, S1, proto='arp', arp_ip=TEACHER_IP)['verdict'] == 'ACCEPT'
    assert simulate(lab, S1, proto='arp', source_mac='02:00:00:00:00:01')['verdict'] == 'ACCEPT'
    spoofed = simulate(lab, S1, TEACHER, dport=22, source_mac='02:00:00:00:00:01')
    assert spoofed['verdict'] == 'DROP' and 'macfilter' in spoofed['reason']


def test_a_nic_without_firewall_1_bypasses_the_guests_chains(either_fake):
    api = either_fake.api()
    clone_student(api)
    isolate(api, [101])
    api.nodes('pve1').qemu(300).firewall.options.put(enable=1, policy_in='DROP')  # but net0 without firewall=1
    compile_now(either_fake)
    passed = simulate(either_fake, S1, S2, dport=22)
    assert passed['verdict'] == 'ACCEPT' and not any('tap300i0-IN' in line for line in passed['trace'])
    assert simulate(either_fake, S2, S1, dport=22)['verdict'] == 'DROP'  # S1 still filters what it receives


def test_a_nodes_api_answers_the_management_network_only(either_fake):
    api = either_fake.api()
    isolate(api, [101])
    compile_now(either_fake)
    pve1, pve2 = {'node': 'pve1'}, {'node': 'pve2'}
    blocked = simulate(either_fake, S1, pve1, dport=8006)
    assert blocked['verdict'] == 'DROP' and 'cluster policy_in DROP' in blocked['reason']
    allowed = simulate(either_fake, TEACHER, pve1, dport=8006)  # 192.0.2.100 is in localnet 192.0.2.0/24
    assert allowed['verdict'] == 'ACCEPT' and 'management' in allowed['reason']
    assert simulate(either_fake, pve2, pve1, dport=8006)['verdict'] == 'ACCEPT'
    assert simulate(either_fake, {'ip': '198.51.100.7'}, pve1, dport=8006)['verdict'] == 'DROP'
    assert simulate(either_fake, S1, pve1, dport=22)['verdict'] == 'DROP'
    api.nodes('pve1').firewall.rules.post(type='in', action='ACCEPT', proto='tcp', dport='8006', enable=1)
    compile_now(either_fake)
    assert simulate(either_fake, S1, pve1, dport=8006)['verdict'] == 'ACCEPT'  # that node's host rule
    assert simulate(either_fake, S1, pve2, dport=8006)['verdict'] == 'DROP'
    api.cluster.firewall.options.put(policy_in='ACCEPT')
    compile_now(either_fake)
    assert simulate(either_fake, S1, pve2, dport=8006)['verdict'] == 'ACCEPT'
    api.cluster.firewall.options.put(enable=0)
    compile_now(either_fake)
    off = simulate(either_fake, S1, {'vmid': 101}, dport=22, source_ip=TEACHER_IP)
    assert off['verdict'] == 'ACCEPT' and 'datacenter firewall is off' in off['reason']


def test_a_change_is_not_in_effect_until_a_compile(either_fake):
    either_fake.pve.firewall_secs = 1e6  # no compile on the grid during the test
    api = either_fake.api()
    clone_student(api)
    isolate(api, [101, 300])
    assert simulate(either_fake, S1, S2, dport=22)['verdict'] == 'ACCEPT'  # written, not compiled
    compiled_at = compile_now(either_fake)['compiled_at']
    assert simulate(either_fake, S1, S2, dport=22)['verdict'] == 'DROP'
    api.nodes('pve1').qemu(300).firewall.options.put(policy_in='ACCEPT')
    still = simulate(either_fake, S1, S2, dport=22)
    assert still['verdict'] == 'DROP' and still['compiled_at'] == compiled_at
    compile_now(either_fake)
    assert simulate(either_fake, S1, S2, dport=22)['verdict'] == 'ACCEPT'


def test_a_vm_started_before_the_compile_ran_unfiltered(either_fake):
    either_fake.pve.firewall_secs = 1e6
    api = either_fake.api()
    isolate(api, [101])
    compile_now(either_fake)
    clone_student(api)
    vm300 = api.nodes('pve1').qemu(300)
    vm300.config.put(net0=vm300.config.get()['net0'] + ',firewall=1')
    vm300.firewall.options.put(enable=1, policy_in='DROP')
    vm300.firewall.rules.post(type='group', action='lab', enable=1)
    wait_task(api, 'pve1', vm300.status.start.post())
    wait_task(api, 'pve1', api.nodes('pve1').qemu(101).status.start.post())
    starts = dict((s['vmid'], s) for s in control(either_fake, 'GET', '/firewall/starts')['starts'])
    assert starts[300]['filtered'] is False and 'not compiled on pve1 yet' in starts[300]['why'][0]
    assert starts[101]['filtered'] is True and starts[101]['why'] == []
    assert simulate(either_fake, S1, S2, dport=22)['verdict'] == 'ACCEPT'  # running unfiltered meanwhile
    compile_now(either_fake)
    assert simulate(either_fake, S1, S2, dport=22)['verdict'] == 'DROP'
    wait_task(api, 'pve1', vm300.status.stop.post())
    wait_task(api, 'pve1', vm300.status.start.post())
    again = control(either_fake, 'GET', '/firewall/starts', vmid=300)['starts']
    assert [s['filtered'] for s in again] == [False, True]


@pytest.mark.cluster('small.json', time_scale=0.01, firewall_secs=20)
def test_pve_firewall_compiles_on_a_grid_of_firewall_secs(pve_cluster):
    """(LabPve only: stock fakepve has no compile cycle) a change is in effect within one interval."""
    api = pve_cluster.api()
    isolate(api, [101])
    deadline = time.monotonic() + 3
    while simulate(pve_cluster, {'ip': '198.51.100.7'}, S1, dport=22)['verdict'] != 'DROP':
        assert time.monotonic() < deadline, 'no compile within 3 s (firewall_secs 20 = 0.2 s)'
        time.sleep(0.02)
    first = simulate(pve_cluster, S1, {'node': 'pve1'}, dport=22)['compiled_at']
    assert first % 20 == pytest.approx(0, abs=0.01) or first % 20 == pytest.approx(20, abs=0.01)


def test_a_containers_configured_ip_is_its_ip_and_arp_filter(pve_cluster):
    """(LabPve only) a container with option ipfilter: its netN ip= is the one source it may use and claim."""
    pve = pve_cluster.pve
    pve_cluster.run(pve.add_ct, 200, 'ct200', node='pve1', config={
        'net0': 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:00,ip=10.20.0.5/24,firewall=1'})
    api = pve_cluster.api()
    api.cluster.firewall.options.put(enable=1)
    api.nodes('pve1').lxc(200).firewall.options.put(enable=1, ipfilter=1)
    compile_now(pve_cluster)
    ct = {'vmid': 200}
    assert simulate(pve_cluster, ct, TEACHER, dport=22)['verdict'] == 'ACCEPT'
    assert simulate(pve_cluster, ct, TEACHER, dport=22, source_ip='10.20.0.6')['verdict'] == 'DROP'
    assert simulate(pve_cluster, ct, proto='arp')['verdict'] == 'ACCEPT'
    assert simulate(pve_cluster, ct, proto='arp', arp_ip=TEACHER_IP)['verdict'] == 'DROP'
    assert pve_cluster.run(pve.fw_simulate, ct, TEACHER, dport=22)['packet']['source'] == '10.20.0.5'


def test_replies_pass_as_established_through_the_control_route(lab):
    assert simulate(lab, S1, {'ip': '198.51.100.7'}, dport=443, reply=True)['verdict'] == 'ACCEPT'
    refused = simulate(lab, {'ip': '198.51.100.7'}, S1, dport=22, reply=True)
    assert refused['connection'] == 'DROP' and refused['verdict'] == 'DROP'
    assert simulate(lab, TEACHER, S1, dport=22, reply=True)['verdict'] == 'ACCEPT'


LOCALNET_LAB = {'localnet': '10.0.0.0/24', 'nodes': [{'name': 'pve1', 'ip': '10.0.0.5'}, {'name': 'pve2'}],
                'firewall': {'options': {'enable': 1}}}


@pytest.mark.cluster(LOCALNET_LAB)
def test_localnet_and_node_addresses_make_the_management_set(pve_cluster, pve_api):
    """(LabPve only) the description's localnet and node ips: /cluster/status and the management IP set."""
    ips = dict((n['name'], n['ip']) for n in pve_api.cluster.status.get() if n['type'] == 'node')
    assert ips == {'pve1': '10.0.0.5', 'pve2': '10.0.0.12'}
    assert simulate(pve_cluster, {'ip': '10.0.0.99'}, {'node': 'pve1'}, dport=8006)['verdict'] == 'ACCEPT'
    assert simulate(pve_cluster, {'ip': '192.0.2.99'}, {'node': 'pve1'}, dport=8006)['verdict'] == 'DROP'
    assert control(pve_cluster, 'POST', '/set', {'localnet': '192.0.2.0/24'})['localnet'] == '192.0.2.0/24'
    compile_now(pve_cluster)
    assert simulate(pve_cluster, {'ip': '192.0.2.99'}, {'node': 'pve1'}, dport=8006)['verdict'] == 'ACCEPT'
    assert control(pve_cluster, 'GET', '/state')['nodes'][1]['ip'] == '192.0.2.12'
    pve_api.cluster.firewall.aliases.post(name='local_network', cidr='198.51.100.0/24')  # PVE's override
    compile_now(pve_cluster)
    assert simulate(pve_cluster, {'ip': '192.0.2.99'}, {'node': 'pve1'}, dport=8006)['verdict'] == 'DROP'
    assert simulate(pve_cluster, {'ip': '198.51.100.9'}, {'node': 'pve1'}, dport=8006)['verdict'] == 'ACCEPT'


def test_the_simulate_route_refuses_what_it_cannot_evaluate(pve_cluster):
    def refused(body):
        answer = requests.post(pve_cluster.control_url + '/firewall/simulate', json=body, verify=pve_cluster.ca_path,
                               timeout=10)
        assert answer.status_code == 400
        return answer.json()['error']
    assert 'src is required' in refused({'dst': S1})
    assert 'no guest 999' in refused({'src': {'vmid': 999}, 'dst': S1})
    assert 'unknown packet fields: dports' in refused({'src': S1, 'dst': TEACHER, 'dports': 22})
    assert 'unknown endpoint keys: host' in refused({'src': {'host': 'x'}, 'dst': TEACHER})
    assert 'no IPv6 destination known for node pve1' in refused({'src': S1, 'dst': {'node': 'pve1'},
                                                                 'proto': 'icmpv6'})


@pytest.mark.cluster('small.json', time_scale=0)
def test_with_time_scale_0_every_evaluation_compiles(pve_cluster, pve_api):
    """(LabPve only) nothing waits at time_scale 0: a change is in effect at once, a start is never unfiltered by
    timing."""
    isolate(pve_api, [101])
    assert simulate(pve_cluster, {'ip': '198.51.100.7'}, S1, dport=22)['verdict'] == 'DROP'
    pve_api.nodes('pve1').qemu(101).status.start.post()
    assert [s['filtered'] for s in control(pve_cluster, 'GET', '/firewall/starts')['starts']] == [True]
