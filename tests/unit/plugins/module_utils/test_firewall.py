"""Firewall isolation planning (pure functions of _firewall.py), the isolation report (_isolation.py), plus the
write helpers against the fake PVE (and a scripted client where only the requests matter)."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils import _firewall as fw
from ansible_collections.pvelab.proxmox.plugins.module_utils import _isolation
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveClient
from ansible_collections.pvelab.proxmox.tests.unit.plugins.scripted_client import ScriptedClient

LAB = 'netlab'
GROUP, IPSET = 'netlab', 'netlab-teacher'
MAC = 'virtio=BC:24:11:AA:00:01,bridge=vmbr0'


# ------------------------------------------------------------------ inputs

def test_lab_names_lower_case_and_derived_ipset():
    assert fw.lab_names('NetLab') == ('netlab', 'netlab-teacher')


@pytest.mark.parametrize('name', ['a' * 19, '1lab', 'lab name', 'x'])
def test_lab_names_refuses_what_cannot_name_a_group(name):
    with pytest.raises(ValueError, match='name'):
        fw.lab_names(name)


def test_ranges_dict_and_list_sorted():
    assert fw.parse_ranges({'first': 300, 'last': 309}) == [(300, 309)]
    assert fw.parse_ranges([{'first': 400, 'last': 410}, {'first': 300, 'last': 399}]) == [(300, 399), (400, 410)]
    assert fw.parse_ranges(None) == []


@pytest.mark.parametrize('raw, message', [
    ([{'first': 300, 'last': 320}, {'first': 310, 'last': 330}], 'overlap'),
    ([{'first': 300, 'last': 320}, {'first': 320, 'last': 330}], 'overlap'),
    ({'first': 320, 'last': 300}, 'after last'),
    ({'first': 300}, 'first and last'),
    ({'first': 300, 'last': 310, 'step': 2}, 'first and last'),
    ({'first': 'x', 'last': 310}, 'first'),
    ({'first': 1, 'last': 310}, 'out of range'),
    ('300-310', 'first and last'),
])
def test_ranges_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        fw.parse_ranges(raw)


def test_ports_normalised_and_deduplicated():
    ports = fw.parse_ports([{'proto': 'TCP', 'dport': '22'}, {'proto': 'tcp', 'dport': '22'},
                            {'proto': 'tcp', 'dport': '5900:5999'}, {'proto': 'icmp', 'dport': 'echo-request'},
                            {'proto': 'udp', 'dport': None}])
    assert ports == [{'proto': 'tcp', 'dport': '22'}, {'proto': 'tcp', 'dport': '5900:5999'},
                     {'proto': 'icmp', 'dport': 'echo-request'}, {'proto': 'udp', 'dport': ''}]


@pytest.mark.parametrize('entry, message', [
    ({'proto': 'gre'}, r'teacher_ports\[0\]\.proto'),
    ({'proto': 'tcp', 'dport': 'ssh-ish'}, 'not a port'),
    ({'proto': 'tcp', 'dport': '70000'}, '1 to 65535'),
    ({'proto': 'tcp', 'dport': '5999:5900'}, 'backwards'),
    ({'proto': 'tcp', 'dport': ','.join(str(p) for p in range(1, 17))}, 'at most 15'),
    ({'proto': 'icmp', 'dport': 'ping-please'}, 'ICMP type'),
    ({'proto': 'icmp', 'dport': '8'}, r"teacher_ports\[0\]\.dport '8': PVE takes ICMP types by name only \(use 'echo-request'\)"),
    ({'proto': 'icmp', 'dport': '200'}, "'200': PVE takes ICMP types by name only, for example echo-request"),
])
def test_ports_refused(entry, message):
    with pytest.raises(ValueError, match=message):
        fw.parse_ports([entry])


def test_sources_normalised_and_bad_one_named():
    assert fw.parse_sources(['192.0.2.10', '192.0.2.0/28', '192.0.2.10/32', '2001:db8::1']) == [
        '192.0.2.10/32', '192.0.2.0/28', '2001:db8::1/128']
    with pytest.raises(ValueError, match=r'teacher_sources\[1\]'):
        fw.parse_sources(['192.0.2.10', '192.0.2.300/24'])
    with pytest.raises(ValueError, match=r'teacher_sources\[0\]'):
        fw.parse_sources(['192.0.2.1/24'])  # host bits set: not a network


def test_owned_needs_the_exact_lab():
    assert fw.owned('pvelab:netlab', LAB)
    assert fw.owned('pvelab:netlab teacher', LAB)
    assert not fw.owned('pvelab:netlab2 teacher', LAB)
    assert not fw.owned('pvelab:net teacher', LAB)
    assert not fw.owned(None, LAB)
    assert not fw.owned('https', LAB)


def test_teacher_addresses_agent_first_then_static_config():
    from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError
    base = '/nodes/pve1/qemu/100'
    agent = {'result': [
        {'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4'}]},
        {'name': 'eth0', 'ip-addresses': [{'ip-address': '192.0.2.10', 'ip-address-type': 'ipv4'},
                                          {'ip-address': 'fe80::1%eth0', 'ip-address-type': 'ipv6'},
                                          {'ip-address': '2001:db8::10', 'ip-address-type': 'ipv6'}]}]}
    teacher = {'vmid': 100, 'node': 'pve1', 'type': 'qemu', 'status': 'running'}
    client = ScriptedClient({('GET', base + '/agent/network-get-interfaces'): agent, ('GET', base + '/config'): {}})
    assert fw.teacher_addresses(client, teacher) == ['192.0.2.10/32', '2001:db8::10/128']
    no_agent = PveApiError('GET', 'x', 500, 'QEMU guest agent is not running')
    down = ScriptedClient({('GET', base + '/agent/network-get-interfaces'): no_agent,
                           ('GET', base + '/config'): {'ipconfig0': 'ip=192.0.2.11/24'}})
    assert fw.teacher_addresses(down, teacher) == ['192.0.2.11/32']
    stopped = ScriptedClient({('GET', base + '/config'): {'ipconfig0': 'ip=dhcp'}})
    assert fw.teacher_addresses(stopped, dict(teacher, status='stopped')) == []
    assert [c[1] for c in stopped.calls] == [base + '/config']  # no agent asked for a stopped guest


def test_teacher_addresses_from_config():
    config = {'ipconfig0': 'ip=192.0.2.10/24,gw=192.0.2.1', 'ipconfig1': 'ip=dhcp', 'net0': MAC,
              'net1': 'name=eth1,bridge=vmbr1,ip=198.51.100.7/24'}
    assert fw.ips_from_config(config) == ['192.0.2.10/32', '198.51.100.7/32']
    assert fw.ips_from_config({'ipconfig0': 'ip=dhcp'}) == []


# ------------------------------------------------------------------- rules

def test_rule_key_ignores_position_comment_enable_and_ipset_scope():
    a = {'type': 'in', 'action': 'ACCEPT', 'source': '+dc/NetLab-Teacher', 'proto': 'TCP', 'dport': '22',
         'pos': 3, 'digest': 'x', 'enable': 0, 'comment': 'a', 'ipversion': 4}
    b = {'type': 'in', 'action': 'ACCEPT', 'source': '+netlab-teacher', 'proto': 'tcp', 'dport': '22'}
    assert fw.rule_key(a) == fw.rule_key(b)
    assert fw.rule_key({'type': 'in', 'action': 'ACCEPT', 'source': '192.0.2.10'}) == \
        fw.rule_key({'type': 'in', 'action': 'ACCEPT', 'source': '192.0.2.10/32'})
    assert fw.rule_key({'type': 'out', 'action': 'ACCEPT', 'macro': 'dns'}) == \
        fw.rule_key({'type': 'out', 'action': 'ACCEPT', 'macro': 'DNS'})
    assert fw.rule_key(b) != fw.rule_key(dict(b, dport='23'))


def test_desired_group_rules_all_traffic_when_no_ports():
    rules = fw.desired_group_rules(LAB, IPSET, [], 'any', None)
    assert rules == [{'type': 'in', 'action': 'ACCEPT', 'source': '+netlab-teacher',
                      'comment': 'pvelab:netlab teacher to student: all'}]


def test_desired_group_rules_ports_and_teacher_only():
    ports = fw.parse_ports([{'proto': 'tcp', 'dport': '22'}, {'proto': 'icmp', 'dport': 'echo-request'}])
    rules = fw.desired_group_rules(LAB, IPSET, ports, 'teacher_only', True)
    assert [fw.describe_rule(dict(r, enable=1)) for r in rules] == [
        'IN ACCEPT -source +netlab-teacher -p tcp -dport 22',
        'IN ACCEPT -source +netlab-teacher -p icmp -icmp-type echo-request',
        'OUT ACCEPT -dest +netlab-teacher',
        'OUT DNS(ACCEPT)',
    ]
    assert all(fw.owned(r['comment'], LAB) for r in rules)
    # Every inbound rule is limited to the teacher set: nothing accepts other students.
    assert all(r['source'] == '+netlab-teacher' for r in rules if r['type'] == 'in')
    no_dns = fw.desired_group_rules(LAB, IPSET, ports, 'teacher_only', False)
    assert not any(r.get('macro') for r in no_dns)


def _listed(rules):
    return [dict(r, pos=i, digest='d') for i, r in enumerate(rules)]


def test_plan_rules_creates_keeps_deletes_and_leaves_foreign_alone():
    desired = fw.desired_group_rules(LAB, IPSET, fw.parse_ports([{'proto': 'tcp', 'dport': '22'}]), 'any', None)
    existing = _listed([
        {'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '443', 'enable': 1, 'comment': 'https'},
        {'type': 'in', 'action': 'ACCEPT', 'source': '+netlab-teacher', 'enable': 1,
         'comment': 'pvelab:netlab teacher to student: all'},
        {'type': 'in', 'action': 'ACCEPT', 'source': '+netlab-teacher', 'proto': 'tcp', 'dport': '22',
         'enable': 1},  # same content, no lab comment: foreign
    ])
    plan = fw.plan_rules(existing, desired, LAB)
    assert plan['create'] == desired
    assert plan['delete'] == [existing[1]]
    assert plan['enable'] == []


def test_plan_rules_idempotent_enables_disabled_and_drops_duplicates():
    desired = fw.desired_group_rules(LAB, IPSET, [], 'any', None)
    rule = dict(desired[0])
    existing = _listed([dict(rule, enable=0), dict(rule, enable=1)])
    plan = fw.plan_rules(existing, desired, LAB)
    assert plan == {'create': [], 'enable': [existing[0]], 'delete': [existing[1]]}
    assert fw.plan_rules(_listed([dict(rule, enable=1)]), desired, LAB) == {'create': [], 'enable': [],
                                                                            'delete': []}


def test_plan_ipset():
    entries = [{'cidr': '192.0.2.10', 'comment': 'pvelab:netlab teacher'},
               {'cidr': '192.0.2.99', 'comment': 'pvelab:netlab teacher'},
               {'cidr': '198.51.100.1', 'comment': 'added by hand'}]
    plan = fw.plan_ipset(entries, ['192.0.2.10/32', '198.51.100.1/32', '203.0.113.0/24'], LAB)
    assert plan == {'add': ['203.0.113.0/24'], 'delete': ['192.0.2.99']}
    assert fw.plan_ipset(entries[:1], ['192.0.2.10/32'], LAB) == {'add': [], 'delete': []}


# ------------------------------------------------------------------ guests

def vm(vmid=301, options=None, rules=None, current=None, pending=None, **extra):
    state = {'vmid': vmid, 'name': 'stu{0}'.format(vmid), 'node': 'pve1', 'type': 'qemu',
             'options': dict(options or {}, digest='o'), 'rules': _listed(rules or []),
             'current': dict(current if current is not None else {'net0': MAC}), 'pending': dict(pending or {}),
             'digest': 'c'}
    state.update(extra)
    return state


def test_merge_pending():
    current, pending, digest = fw.merge_pending(
        {'digest': 'abc', 'name': 'x', 'net0': MAC, 'net1': MAC}, {'net0': MAC + ',firewall=1', 'net2': MAC},
        {'net1'})
    assert digest == 'abc'
    assert current == {'name': 'x', 'net0': MAC, 'net1': MAC}
    assert pending == {'net0': MAC + ',firewall=1', 'net1': None, 'net2': MAC}


def test_nic_states():
    state = vm(current={'net0': MAC + ',firewall=1', 'net1': MAC, 'net2': MAC, 'net3': MAC},
               pending={'net1': MAC + ',firewall=1', 'net3': None, 'net4': MAC + ',firewall=1'})
    assert fw.nic_states(state) == {'net0': 'ok', 'net1': 'pending', 'net2': 'off', 'net4': 'pending'}


def test_plan_vm_present_fresh_vm_keeps_mac_and_records_previous_options():
    state = vm(options={'policy_out': 'REJECT'}, current={'net0': MAC, 'net1': MAC + ',firewall=1'})
    desired = fw.desired_vm_options('any', None)
    plan = fw.plan_vm_present(state, LAB, GROUP, desired)
    assert plan['ref_create'] == {
        'type': 'group', 'action': 'netlab', 'enable': 1,
        'comment': 'pvelab:netlab group reference (was enable=,policy_in=,policy_out=REJECT,dhcp=,nofw=net0)'}
    assert plan['options'] == {'enable': 1, 'policy_in': 'DROP', 'policy_out': 'ACCEPT'}
    assert plan['nets'] == {'net0': MAC + ',firewall=1'}
    assert plan['actions'][0] == 'vm 301: reference security group netlab'


def test_plan_vm_present_edits_the_pending_value():
    state = vm(current={'net0': MAC}, pending={'net0': MAC + ',tag=20'})
    plan = fw.plan_vm_present(state, LAB, GROUP, fw.desired_vm_options('any', None))
    assert plan['nets'] == {'net0': MAC + ',tag=20,firewall=1'}


def test_plan_vm_present_is_a_no_op_when_isolated():
    ref = {'type': 'group', 'action': 'netlab', 'enable': 1,
           'comment': fw.ref_comment(LAB, {}, ['net0'])}
    state = vm(options={'enable': 1, 'policy_in': 'DROP', 'policy_out': 'ACCEPT'}, rules=[ref],
               current={'net0': MAC + ',firewall=1'})
    plan = fw.plan_vm_present(state, LAB, GROUP, fw.desired_vm_options('any', None))
    assert not fw._has_work(plan)
    assert plan['actions'] == []


def test_plan_vm_present_fixes_disabled_reference_duplicates_and_lost_nic_flag():
    ref = {'type': 'group', 'action': 'netlab', 'comment': fw.ref_comment(LAB, {}, [])}
    state = vm(options={'enable': 1, 'policy_in': 'DROP', 'policy_out': 'ACCEPT'},
               rules=[dict(ref, enable=0), dict(ref, enable=1)], current={'net0': MAC})
    plan = fw.plan_vm_present(state, LAB, GROUP, fw.desired_vm_options('any', None))
    assert plan['ref_create'] is None
    assert plan['ref_enable'] == [state['rules'][0]]
    assert plan['ref_delete'] == [state['rules'][1]]
    assert plan['options'] == {}
    assert plan['nets'] == {'net0': MAC + ',firewall=1'}


def test_desired_vm_options():
    assert fw.desired_vm_options('any', None) == {'enable': 1, 'policy_in': 'DROP', 'policy_out': 'ACCEPT'}
    assert fw.desired_vm_options('teacher_only', True) == {'enable': 1, 'policy_in': 'DROP', 'policy_out': 'DROP',
                                                           'dhcp': 1}
    assert fw.desired_vm_options('any', False)['dhcp'] == 0


def test_ref_comment_round_trip():
    comment = fw.ref_comment(LAB, {'enable': 0, 'policy_in': 'ACCEPT', 'dhcp': 1}, ['net0', 'net2'])
    assert fw.owned(comment, LAB)
    assert fw.parse_ref_comment(comment) == (
        {'enable': '0', 'policy_in': 'ACCEPT', 'policy_out': '', 'dhcp': '1'}, ['net0', 'net2'])
    assert fw.parse_ref_comment('pvelab:netlab something else') is None


def test_plan_vm_absent_restores_what_was_recorded():
    ref = {'type': 'group', 'action': 'netlab', 'enable': 1,
           'comment': fw.ref_comment(LAB, {'enable': 0, 'policy_out': 'REJECT'}, ['net0'])}
    foreign = {'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '80', 'enable': 1, 'comment': 'web'}
    state = vm(options={'enable': 1, 'policy_in': 'DROP', 'policy_out': 'ACCEPT', 'dhcp': 1}, rules=[ref, foreign],
               current={'net0': MAC + ',firewall=1', 'net1': MAC + ',firewall=1'})
    plan = fw.plan_vm_absent(state, LAB, GROUP)
    assert plan['ref_delete'] == [state['rules'][0]]
    assert plan['record'] is True
    assert plan['options'] == {'enable': 0, 'policy_out': 'REJECT'}
    assert sorted(plan['delete_options']) == ['dhcp', 'policy_in']
    assert plan['nets'] == {'net0': MAC}  # net1 had firewall=1 before: kept
    after = fw.predict_vm(state, plan)
    assert [r['comment'] for r in after['rules']] == ['web']
    assert after['options'] == {'enable': 0, 'policy_out': 'REJECT', 'digest': 'o'}


def test_plan_vm_absent_without_record_leaves_options():
    state = vm(options={'enable': 1}, rules=[])
    plan = fw.plan_vm_absent(state, LAB, GROUP)
    assert plan == {'lab': LAB, 'sets': {}, 'ref_delete': [], 'options': {}, 'delete_options': [], 'nets': {}, 'record': False,
                    'actions': []}


# ------------------------------------------------------------------ report

def isolated_vm(vmid=301, **over):
    ref = {'type': 'group', 'action': 'netlab', 'enable': 1, 'comment': fw.ref_comment(LAB, {}, ['net0'])}
    address = '10.1.0.{0}'.format(vmid - 300)
    state = vm(vmid, options={'enable': 1, 'policy_in': 'DROP', 'policy_out': 'ACCEPT'}, rules=[ref],
               current={'net0': MAC + ',firewall=1', 'ipconfig0': 'ip={0}/24'.format(address)},
               ipsets={'net0': [{'cidr': address, 'comment': fw.source_entry_comment(LAB, 'static configuration')}]})
    state.update(over)
    return state


GROUP_RULES = _listed([dict(r, enable=1) for r in fw.desired_group_rules(
    LAB, IPSET, fw.parse_ports([{'proto': 'tcp', 'dport': '22'}]), 'any', None)])
ENTRIES = [{'cidr': '192.0.2.10', 'comment': 'pvelab:netlab teacher'}]


def report(vms, options=None, group_rules=None, entries=None, others=None, outbound='any', accept=()):
    return _isolation.isolation_report(vms, {'enable': 1} if options is None else options, GROUP, IPSET,
                                       GROUP_RULES if group_rules is None else group_rules,
                                       ENTRIES if entries is None else entries, others or {}, outbound, accept)


def test_report_isolated():
    rep = report([isolated_vm(301), isolated_vm(302)])
    assert rep['isolated'] is True
    assert rep['reachability'] == {'student_to_student': 'blocked', 'teacher_to_student': 'allowed',
                                   'ports': ['tcp/22'], 'teacher_sources': ['192.0.2.10/32'], 'outbound': 'any',
                                   'spoofing_teacher_address': 'blocked', 'spoofing_teacher_arp': 'blocked',
                                   'hosts': {}}
    assert rep['gaps'] == []
    first = rep['vms'][0]
    assert first == {'vmid': 301, 'name': 'stu301', 'node': 'pve1', 'addresses': {'net0': ['10.1.0.1/32']},
                     'ip': '10.1.0.1', 'firewall_enabled': True, 'policy_in': 'DROP',
                     'policy_out': 'ACCEPT', 'nics_ok': True, 'group_referenced': True, 'datacenter_enabled': True,
                     'source_filter': True, 'arp_filter': True, 'status': 'isolated', 'gaps': [],
                     'paths': {'from_students': 'blocked', 'spoofing_teacher_address': 'blocked',
                               'spoofing_teacher_arp': 'blocked'},
                     'isolated': True, 'problems': [], 'covered_nets': ['net0'],
                     'isolated_nets': [{'net': 'net0', 'bridge': 'vmbr0'}], 'private_nets': []}


def test_report_every_switch_counts():
    rep = report([isolated_vm(301), isolated_vm(302, current={'net0': MAC, 'net1': MAC + ',firewall=1'}),
                  isolated_vm(303, options={'enable': 0, 'policy_in': 'DROP'}),
                  isolated_vm(304, options={'enable': 1, 'policy_in': 'ACCEPT'}),
                  isolated_vm(305, rules=[])], options={'enable': 0})
    assert rep['isolated'] is False
    assert rep['reachability']['student_to_student'] == 'open'
    assert rep['reachability']['teacher_to_student'] == 'blocked'  # 305 does not reference the group
    by_id = dict((v['vmid'], v) for v in rep['vms'])
    assert all(not v['datacenter_enabled'] for v in rep['vms'])
    assert by_id[302]['nics_ok'] is False
    assert any('net0 has no firewall=1' in p for p in by_id[302]['problems'])
    assert by_id[303]['firewall_enabled'] is False
    assert any('policy_in is ACCEPT' in p for p in by_id[304]['problems'])
    assert by_id[305]['group_referenced'] is False


def test_report_datacenter_enable_timestamp_counts_as_on():
    assert report([isolated_vm()], options={'enable': 1717171717})['isolated'] is True


def test_report_pending_nic_is_not_isolated():
    rep = report([isolated_vm(current={'net0': MAC}, pending={'net0': MAC + ',firewall=1'})])
    assert rep['isolated'] is False
    assert 'pending' in rep['vms'][0]['problems'][0]


def test_report_finds_open_rules_on_the_vm_in_foreign_groups_and_in_the_lab_group():
    open_vm_rule = {'type': 'in', 'action': 'ACCEPT', 'macro': 'SSH', 'enable': 1, 'comment': 'ssh for all'}
    disabled = {'type': 'in', 'action': 'ACCEPT', 'enable': 0}
    limited = {'type': 'in', 'action': 'ACCEPT', 'source': '198.51.100.0/24', 'enable': 1}
    a = isolated_vm(301)
    a['rules'] = a['rules'] + _listed([open_vm_rule, disabled, limited])
    b = isolated_vm(302)
    b['rules'] = b['rules'] + _listed([{'type': 'group', 'action': 'webservers', 'enable': 1}])
    rep = report([a, b, isolated_vm(303)],
                 others={'webservers': [{'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '443',
                                         'enable': 1}]})
    by_id = dict((v['vmid'], v) for v in rep['vms'])
    assert by_id[301]['problems'] == ['a VM rule accepts inbound traffic from any source: IN SSH(ACCEPT) '
                                      '# ssh for all']
    assert by_id[302]['problems'] == ['security group webservers accepts inbound traffic from any source: '
                                      'IN ACCEPT -p tcp -dport 443']
    assert by_id[303]['isolated'] is True
    # A foreign rule added to the lab's own group opens every VM.
    hole = GROUP_RULES + _listed([{'type': 'in', 'action': 'ACCEPT', 'enable': 1}])
    assert not any(v['isolated'] for v in report([isolated_vm()], group_rules=hole)['vms'])


def test_report_teacher_only_needs_blocking_policy_out():
    rep = report([isolated_vm()], outbound='teacher_only')
    assert rep['vms'][0]['problems'] == ['policy_out is ACCEPT but outbound is teacher_only']
    ok = isolated_vm(options={'enable': 1, 'policy_in': 'DROP', 'policy_out': 'DROP'})
    assert report([ok], outbound='teacher_only')['isolated'] is True


def test_report_student_address_inside_a_teacher_source():
    rep = report([isolated_vm(301)], entries=[{'cidr': '10.1.0.0/24', 'comment': 'pvelab:netlab teacher'}])
    assert rep['vms'][0]['problems'] == [
        'security group netlab accepts inbound traffic from a student address: IN ACCEPT -source +netlab-teacher '
        '-p tcp -dport 22 # pvelab:netlab teacher to student: tcp/22',
        'its address 10.1.0.1 is inside the teacher source 10.1.0.0/24',
        'net0 may send from a teacher address (10.1.0.1/32)']
    assert rep['reachability']['student_to_student'] == 'open'


def test_report_without_vms_or_teacher():
    assert report([])['isolated'] is False
    rep = report([isolated_vm()], entries=[])
    assert rep['isolated'] is True
    assert rep['reachability']['teacher_to_student'] == 'blocked'
    assert rep['reachability']['ports'] == []


def test_predicted_state_of_a_present_plan_is_isolated():
    state = vm(options={}, current={'net0': MAC, 'net1': MAC.replace('01,', '02,'), 'ipconfig0': 'ip=10.1.0.1/24'},
               ipsets={'net0': None, 'net1': None})
    plan = fw.plan_vm_present(state, LAB, GROUP, fw.desired_vm_options('any', None),
                              learned={'net1': ['10.1.0.2/32']})
    after = fw.predict_vm(state, plan)
    assert report([after])['isolated'] is True
    assert after['current']['net0'] == MAC + ',firewall=1'
    again = fw.plan_vm_present(after, LAB, GROUP, fw.desired_vm_options('any', None))
    assert not fw._has_work(again)


# ------------------------------------------- writes (the fake PVE, or scripted)

def test_delete_rules_spares_the_kept_twin_and_rereads_between_deletions(fake):
    path = '/cluster/firewall/groups/netlab'
    rule = {'type': 'in', 'action': 'ACCEPT', 'source': '+netlab-teacher', 'enable': 1, 'comment': 'pvelab:netlab x'}
    other = {'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '443', 'enable': 1, 'comment': 'https'}
    conf = fake.pve.firewall_config('cluster')
    conf['ipset']['netlab-teacher'] = []
    conf['groups']['netlab'] = [dict(r) for r in (rule, other, rule, rule)]
    client = PveClient(fake.params())
    listed = client.get(path)
    fake.forget_requests()
    assert fw.delete_rules(client, path, listed, [listed[2], listed[3]]) == 2
    calls = fake.calls()
    assert [(c.method, c.path) for c in calls] == [('DELETE', path + '/3'), ('GET', path), ('DELETE', path + '/2')]
    assert calls[0].data == {'digest': listed[0]['digest']}  # the digest of the list it was found in
    left = conf['groups']['netlab']
    assert [dict((k, r.get(k)) for k in want) for r, want in zip(left, (rule, other))] == [rule, other]
    assert len(left) == 2


def test_write_rule_always_sends_enable():
    client = ScriptedClient({('POST', '/x'): None})
    fw.write_rule(client, '/x', {'type': 'group', 'action': 'netlab', 'comment': 'pvelab:netlab', 'pos': 4,
                                 'digest': 'z', 'ipversion': 4})
    assert client.calls == [('POST', '/x', {'type': 'group', 'action': 'netlab', 'comment': 'pvelab:netlab',
                                            'enable': 1})]


def test_apply_vm_order_reference_then_options_then_nics_then_read_back(fake):
    fake.pve.add_vm(301, 'stu301', config={'net0': MAC})
    fake.pve.firewall_config('cluster')['groups']['netlab'] = []
    client = PveClient(fake.params())
    state = fw.read_vm(client, {'vmid': 301, 'name': 'stu301', 'node': 'pve1', 'type': 'qemu'})
    plan = fw.plan_vm_present(state, LAB, GROUP, fw.desired_vm_options('any', None))
    fake.forget_requests()
    fw.apply_vm(client, state, plan)
    base = '/nodes/pve1/qemu/301'
    calls = fake.calls()
    writes = [c for c in calls if c.method != 'GET']
    assert [(c.method, c.path) for c in writes] == [('POST', base + '/firewall/rules'),
                                                    ('PUT', base + '/firewall/options'), ('PUT', base + '/config')]
    options_put = writes[1].data
    assert options_put['enable'] == '1' and options_put['policy_in'] == 'DROP'  # one request: switch and policy
    assert writes[2].data == {'net0': MAC + ',firewall=1'}  # no digest: a lock waited out changes it
    reads = [c.path for c in calls if c.method == 'GET']
    assert sorted(reads) == sorted([base + '/firewall/rules', base + '/firewall/options', base + '/pending'])
    guest = fake.pve.firewall_config('vm', vmid=301)
    assert [(r['type'], r['action']) for r in guest['rules']] == [('group', 'netlab')]
    assert fake.pve.vm(301).config['net0'] == MAC + ',firewall=1'


def test_apply_vm_without_work_makes_no_request():
    client = ScriptedClient()  # any call would fail the test
    fw.apply_vms(client, [vm()], {301: {'ref_create': None, 'options': {}, 'nets': {}}})
    assert client.calls == []


def test_ipset_entry_path_encodes_the_cidr():
    assert fw.ipset_entry_path('netlab-teacher', '192.0.2.0/24') == '/cluster/firewall/ipset/netlab-teacher/192.0.2.0%2F24'


def test_every_rule_the_module_makes_passes_check_writes():
    ports = fw.parse_ports([{'proto': 'tcp', 'dport': '22,5900:5999'}, {'proto': 'icmp', 'dport': 'echo-request'},
                            {'proto': 'udp'}])
    rules = fw.desired_group_rules(LAB, IPSET, ports, 'teacher_only', True)
    plan = {'ref_create': {'type': 'group', 'action': LAB, 'enable': 1, 'comment': fw.ref_comment(LAB, {}, [])}}
    fw.check_writes(LAB, rules, {300: plan, 301: {'ref_create': None}})


@pytest.mark.parametrize('rule, message', [
    ({'type': 'in', 'action': 'ACCEPT', 'proto': 'icmp', 'icmp-type': '8'}, "icmp-type '8'.*'echo-request'"),
    ({'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'icmp-type': 'echo-request'}, 'needs proto icmp'),
    ({'type': 'in', 'action': 'ACCEPT', 'proto': 'icmp', 'dport': '22'}, 'needs proto tcp or udp'),
    ({'type': 'in', 'action': 'ACCEPT', 'source': '+1bad'}, 'source'),
    ({'type': 'in', 'action': 'ACCEPT', 'comment': 'two\nlines'}, 'line break'),
    ({'type': 'group', 'action': 'x' * 19}, 'group'),
])
def test_check_rule_refuses_what_pve_refuses_naming_the_rule(rule, message):
    with pytest.raises(ValueError, match=message) as err:
        fw.check_writes(LAB, [rule], {})
    assert str(err.value).startswith('security group {0}: rule '.format(LAB))


# ------------------------------------------------- source filter, gaps, hosts

def test_source_filter_static_learned_kept_and_none():
    state = vm(current={'net0': MAC, 'ipconfig0': 'ip=10.1.0.1/24', 'net1': MAC, 'net2': MAC, 'net3': MAC},
               ipsets={'net0': None, 'net1': None, 'net2': [{'cidr': '10.9.0.9', 'comment': 'pvelab:netlab x'}],
                       'net3': None})
    plan = fw.plan_source_filter(state, LAB, {'net1': ['10.1.0.7/32'], 'net2': ['10.1.0.8/32']})
    assert plan == {'net0': {'create': True, 'add': [('10.1.0.1/32', 'static configuration')], 'delete': []},
                    'net1': {'create': True, 'add': [('10.1.0.7/32', 'learned from the guest agent')],
                             'delete': []}}  # net2 keeps what it learned once; net3 has no address known
    assert fw.needs_learning(state) == ['net1', 'net3']
    # A static address that changed replaces the lab's entry; a foreign entry stays.
    moved = vm(current={'net0': MAC, 'ipconfig0': 'ip=10.1.0.5/24'},
               ipsets={'net0': [{'cidr': '10.1.0.1', 'comment': 'pvelab:netlab source address (static)'},
                                {'cidr': '10.7.0.1', 'comment': 'admin'}]})
    assert fw.plan_source_filter(moved, LAB, {}) == {
        'net0': {'create': False, 'add': [('10.1.0.5/32', 'static configuration')], 'delete': ['10.1.0.1']}}


def test_agent_addresses_matched_to_nics_by_mac():
    state = vm(current={'net0': 'virtio=BC:24:11:AA:00:01,bridge=vmbr0', 'net1': 'virtio=BC:24:11:AA:00:02,bridge=x'})
    interfaces = [{'name': 'lo', 'hardware-address': '00:00:00:00:00:00',
                   'ip-addresses': [{'ip-address': '127.0.0.1'}]},
                  {'name': 'eth1', 'hardware-address': 'bc:24:11:aa:00:02',
                   'ip-addresses': [{'ip-address': '10.2.0.9', 'prefix': 24},
                                    {'ip-address': 'fe80::be24:11ff:feaa:2', 'prefix': 64},
                                    {'ip-address': '2001:db8::9', 'prefix': 64}]}]
    assert fw.agent_nic_addresses(state, interfaces) == {'net1': ['10.2.0.9/32', '2001:db8::9/128']}
    ct = dict(vm(current={'net0': 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:CC:00:01,ip=dhcp'}), type='lxc')
    assert fw.agent_nic_addresses(ct, [{'name': 'eth0', 'hwaddr': 'bc:24:11:cc:00:01', 'inet': '10.3.0.4/24'}]) == {
        'net0': ['10.3.0.4/32']}


def test_learned_addresses_of_a_teacher_or_of_two_guests_are_refused():
    a = vm(301, ipsets={'net0': None})
    b = vm(302, ipsets={'net0': None})
    c = vm(303, current={'net0': MAC, 'ipconfig0': 'ip=10.1.0.3/24'}, ipsets={'net0': None})
    learned = {301: {'net0': ['10.1.0.9/32']}, 302: {'net0': ['10.1.0.9/32']}, 304: {'net0': ['192.0.2.10/32']},
               305: {'net0': ['10.1.0.3/32']}}
    problems = fw.check_learned([a, b, c], learned, ['192.0.2.0/24'])
    assert problems == ['vm 301 net0 reports 10.1.0.9/32, which vm 302 net0 has too',
                        'vm 302 net0 reports 10.1.0.9/32, which vm 301 net0 has too',
                        'vm 304 net0 reports 192.0.2.10/32, a teacher address',
                        'vm 305 net0 reports 10.1.0.3/32, which vm 303 net0 has too']


def test_a_nic_without_addresses_is_a_gap_that_can_be_accepted():
    rep = report([isolated_vm(301), isolated_vm(302, ipsets={'net0': None})])
    assert rep['isolated'] is False
    by_id = dict((v['vmid'], v) for v in rep['vms'])
    assert by_id[302]['gaps'] == ['source_filter'] and by_id[302]['status'] == 'open'
    assert by_id[302]['paths']['spoofing_teacher_address'] == 'open'
    assert rep['reachability']['spoofing_teacher_address'] == 'open'
    assert rep['reachability']['student_to_student'] == 'blocked'  # from the students' own addresses
    accepted = report([isolated_vm(301), isolated_vm(302, ipsets={'net0': None})], accept=['source_filter'])
    assert accepted['isolated'] is True
    assert accepted['gaps'] == [{'name': 'source_filter', 'what': 'the source addresses of a NIC are not limited',
                                 'accepted': True}]


def test_ebtables_off_is_an_arp_gap():
    rep = report([isolated_vm()], options={'enable': 1, 'ebtables': 0})
    assert rep['isolated'] is False and rep['vms'][0]['gaps'] == ['arp_filter']
    assert rep['reachability']['spoofing_teacher_arp'] == 'open'
    assert rep['reachability']['spoofing_teacher_address'] == 'blocked'
    assert report([isolated_vm()], options={'enable': 1, 'ebtables': 0}, accept=['arp_filter'])['isolated'] is True


def test_macfilter_off_lets_a_student_spoof():
    rep = report([isolated_vm(options={'enable': 1, 'policy_in': 'DROP', 'macfilter': 0})])
    assert rep['vms'][0]['problems'] == ['macfilter=0: it may send with any source MAC']
    assert rep['isolated'] is False
    assert rep['reachability']['spoofing_teacher_address'] == 'blocked'  # the address is still filtered


def test_a_rule_the_report_cannot_evaluate_makes_the_vm_unknown_never_isolated():
    a = isolated_vm(301)
    a['rules'] = a['rules'] + _listed([{'type': 'in', 'action': 'ACCEPT', 'source': '+ops-hosts', 'enable': 1}])
    b = isolated_vm(302)
    b['rules'] = b['rules'] + _listed([{'type': 'group', 'action': 'unread', 'enable': 1}])
    rep = report([a, b])
    assert [v['status'] for v in rep['vms']] == ['unknown', 'unknown']
    assert rep['isolated'] is False and rep['reachability']['student_to_student'] == 'unknown'
    assert rep['vms'][0]['problems'] == ['a VM rule: IN ACCEPT -source +ops-hosts: its source +ops-hosts cannot be '
                                         'evaluated']
    # A source that holds a student's address opens the VM; one that holds none does not.
    c = isolated_vm(303)
    c['rules'] = c['rules'] + _listed([{'type': 'in', 'action': 'ACCEPT', 'source': '10.1.0.0/30', 'enable': 1}])
    d = isolated_vm(304)
    d['rules'] = d['rules'] + _listed([{'type': 'in', 'action': 'ACCEPT', 'source': '172.16.0.0/12', 'enable': 1}])
    by_id = dict((v['vmid'], v) for v in report([isolated_vm(301), isolated_vm(302), c, d])['vms'])
    assert by_id[303]['paths']['from_students'] == 'open' and by_id[304]['isolated'] is True


@pytest.mark.parametrize('options, host, rules, port, who', [
    ({'enable': 0}, {}, [], '8006', ['everyone']),
    ({'enable': 1}, {'enable': 0}, [], '8006', ['everyone']),
    ({'enable': 1}, {}, [], '8006', ['management (the cluster network)']),
    ({'enable': 1, 'policy_in': 'ACCEPT'}, {}, [], '22', ['everyone']),
    ({'enable': 1}, {}, [{'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '8006', 'source': '10.5.0.0/16',
                          'enable': 1}], '8006', ['10.5.0.0/16', 'management (the cluster network)']),
    ({'enable': 1}, {}, [{'type': 'in', 'action': 'ACCEPT', 'macro': 'SSH', 'enable': 1}], '22', ['everyone']),
    ({'enable': 1}, {}, [{'type': 'in', 'action': 'ACCEPT', 'macro': 'SSH', 'enable': 1}], '8006',
     ['management (the cluster network)']),
    ({'enable': 1}, {}, [{'type': 'in', 'action': 'DROP', 'enable': 1}], '22', []),
    ({'enable': 1}, {}, [{'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': '8000:8010', 'enable': 0}],
     '8006', ['management (the cluster network)']),
])
def test_host_answers(options, host, rules, port, who):
    assert _isolation.host_answers(options, host, [], rules, [], port) == who


def test_datacenter_on_keeps_the_hosts_open_and_restore_puts_back_only_what_it_changed():
    assert fw.plan_datacenter_on({}) == {'options': {'enable': 1, 'policy_in': 'ACCEPT'}, 'rules': []}
    assert fw.plan_datacenter_on({'policy_in': 'ACCEPT'}) == {'options': {'enable': 1}, 'rules': []}
    kept = fw.plan_datacenter_on({'policy_in': 'DROP'})
    assert kept['options'] == {'enable': 1} and [r['dport'] for r in kept['rules']] == ['8006', '22']
    record = fw.parse_record(fw.record_comment({'ebtables': 1}))
    assert record == {'enable': '', 'policy_in': ''}
    assert fw.plan_datacenter_restore(record, {'enable': 1, 'policy_in': 'ACCEPT'}) == {
        'options': {}, 'delete': ['enable', 'policy_in']}
    assert fw.plan_datacenter_restore(fw.parse_record(fw.record_comment({'enable': 0, 'policy_in': 'DROP'})),
                                      {'enable': 1717171717, 'policy_in': 'DROP'}) == {
        'options': {'enable': 0}, 'delete': []}
    # Someone changed policy_in meanwhile: it stays.
    assert fw.plan_datacenter_restore(record, {'enable': 1, 'policy_in': 'REJECT'}) == {
        'options': {}, 'delete': ['enable']}
    assert fw.parse_record('pvelab:lab something') is None


def test_vm_addresses_are_what_each_source_filter_holds():
    from ansible_collections.pvelab.proxmox.plugins.module_utils._isolation import vm_addresses
    vm = {'current': {'net0': 'virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1',
                      'net1': 'virtio=BC:24:11:00:00:02,bridge=vmbr1,firewall=1',
                      'net2': 'virtio=BC:24:11:00:00:03,bridge=vmbr2,firewall=1'},
          'ipsets': {'net0': [{'cidr': 'fd00::5'}, {'cidr': '10.0.0.0/24'}],
                     'net1': [{'cidr': '192.0.2.7'}], 'net2': []}}
    addresses, ip = vm_addresses(vm)
    assert addresses == {'net0': ['fd00::5/128', '10.0.0.0/24'], 'net1': ['192.0.2.7/32']}
    assert ip == '192.0.2.7'  # the first single IPv4 address: not a network, not IPv6
    assert vm_addresses({'current': {}, 'ipsets': {}}) == ({}, None)


# ------------------------------------------------- nets: uplinks covered, private NICs left to the student

PRIVATE = 'virtio=BC:24:11:AA:00:02,bridge=v1234,tag=5,firewall=1,mtu=1400'


def router(vmid=301, covered=('net0',), **over):
    """A student's router: net0 on the lab's bridge (static address), net1 on the student's own VNet, with the
    firewall=1 a run without nets left there, and a static address on the private side too."""
    state = vm(vmid, options={}, current={'net0': MAC, 'ipconfig0': 'ip=10.1.0.{0}/24'.format(vmid - 300),
                                          'net1': PRIVATE, 'ipconfig1': 'ip=192.168.50.1/24'},
               ipsets={'net0': None}, covered=None if covered is None else list(covered))
    state.update(over)
    return state


def test_parse_nets_normalises_and_refuses_naming_the_entry():
    assert fw.parse_nets(None) == {}
    assert fw.parse_nets({'302': ['net2', 'net0', 'net2'], 301: ['net0']}) == {301: ['net0'], 302: ['net0', 'net2']}
    for raw, message in (
            (['net0'], r'nets must be a dict'),
            ({'abc': ['net0']}, r"nets key 'abc' is not a number"),
            ({'50': ['net0']}, r'nets key 50 is out of range'),
            ({'301': []}, r'nets\[301\] must be a non-empty list'),
            ({'301': 'net0'}, r'nets\[301\] must be a non-empty list'),
            ({'301': ['net0', 'eth1']}, r"nets\[301\]\[1\] 'eth1' is not a NIC name net<N>"),
            ({'301': ['net01']}, r"nets\[301\]\[0\] 'net01' is not a NIC name"),
            ({'301': ['net0'], 301: ['net1']}, r'nets: vm 301 is given twice')):
        with pytest.raises(ValueError, match=message):
            fw.parse_nets(raw)


def test_check_nets_needs_a_selected_vm_and_its_nics():
    vms = [router(301), router(302)]
    fw.check_nets({301: ['net0', 'net1']}, vms)
    with pytest.raises(ValueError, match=r'nets\[303\]: vm 303 is not among the selected VMs'):
        fw.check_nets({301: ['net0'], 303: ['net0']}, vms)
    with pytest.raises(ValueError, match=r'nets\[302\]: vm 302 has no net2 \(its NICs: net0, net1\)'):
        fw.check_nets({302: ['net0', 'net2']}, vms)
    fw.check_nets({302: ['net2']}, vms, nics=False)  # state=absent: only the selection counts
    # A NIC that goes away at the next start is one the VM does not have.
    with pytest.raises(ValueError, match='has no net1'):
        fw.check_nets({301: ['net1']}, [router(301, pending={'net1': None})])


def test_a_private_nic_loses_its_firewall_flag_and_gets_no_source_filter():
    state = router()
    learned = {'net0': ['10.1.0.9/32'], 'net1': ['192.168.50.1/32']}
    plan = fw.plan_vm_present(state, LAB, GROUP, fw.desired_vm_options('any', None), learned=learned)
    # MAC, model, bridge, tag and mtu kept; only the flag goes. net0 is isolated as today.
    assert plan['nets'] == {'net0': MAC + ',firewall=1', 'net1': 'virtio=BC:24:11:AA:00:02,bridge=v1234,tag=5,mtu=1400'}
    assert plan['sets'] == {'net0': {'create': True, 'add': [('10.1.0.1/32', 'static configuration')], 'delete': []}}
    assert 'vm 301: net1 without firewall=1 (private)' in plan['actions']
    assert fw.nic_static_addresses(state) == {'net0': ['10.1.0.1/32']}  # the private address is no source
    assert fw.needs_learning(router(ipsets={}, current={'net0': MAC, 'net1': PRIVATE})) == ['net0']
    after = fw.predict_vm(state, plan)
    rep = report([after])
    assert rep['isolated'] is True
    first = rep['vms'][0]
    assert first['covered_nets'] == ['net0']
    assert first['isolated_nets'] == [{'net': 'net0', 'bridge': 'vmbr0'}]
    assert first['private_nets'] == [{'net': 'net1', 'bridge': 'v1234', 'firewall': False}]
    assert first['addresses'] == {'net0': ['10.1.0.1/32']}
    assert not fw._has_work(fw.plan_vm_present(after, LAB, GROUP, fw.desired_vm_options('any', None)))
    # The same VM not listed in nets: every NIC isolated, as before nets existed.
    whole = fw.plan_vm_present(router(covered=None, ipsets={'net0': None, 'net1': None}), LAB, GROUP,
                               fw.desired_vm_options('any', None))
    assert sorted(whole['sets']) == ['net0', 'net1']
    assert 'net1' not in whole['nets']  # it has firewall=1 already
    assert report([fw.predict_vm(router(covered=None, ipsets={'net0': None, 'net1': None}), whole)])[
        'vms'][0]['private_nets'] == []


def test_a_private_nic_without_the_flag_is_left_alone_and_a_pending_one_is_edited():
    clean = router(current={'net0': MAC, 'net1': 'virtio=BC:24:11:AA:00:02,bridge=v1234'})
    assert 'net1' not in fw.plan_vm_present(clean, LAB, GROUP, fw.desired_vm_options('any', None))['nets']
    for value in ('1', 'on', 'yes'):
        pending = router(pending={'net1': 'virtio=BC:24:11:AA:00:02,bridge=v9999,firewall=' + value})
        assert fw.plan_vm_present(pending, LAB, GROUP, fw.desired_vm_options('any', None))['nets']['net1'] == \
            'virtio=BC:24:11:AA:00:02,bridge=v9999'
    zero = router(current={'net0': MAC, 'net1': 'virtio=BC:24:11:AA:00:02,bridge=v1234,firewall=0'})
    assert 'net1' not in fw.plan_vm_present(zero, LAB, GROUP, fw.desired_vm_options('any', None))['nets']


def test_report_with_nets_counts_the_covered_nics_and_never_calls_a_private_one_isolated():
    uplink_only = isolated_vm(301, covered=['net0'])
    uplink_only['current'] = dict(uplink_only['current'], net1='virtio=BC:24:11:AA:00:02,bridge=v1234')
    # Without nets the same VM is open: its net1 bypasses the firewall.
    unlisted = dict(uplink_only, covered=None)
    assert report([unlisted])['vms'][0]['problems'] == ['net1 has no firewall=1: its traffic bypasses the firewall']
    rep = report([uplink_only])
    assert rep['isolated'] is True and rep['reachability']['student_to_student'] == 'blocked'
    assert rep['vms'][0]['private_nets'] == [{'net': 'net1', 'bridge': 'v1234', 'firewall': False}]
    # Still filtered until the next start (a change waiting in pending): said, and the covered NICs decide.
    waiting = dict(uplink_only, pending={'net1': 'virtio=BC:24:11:AA:00:02,bridge=v1234'},
                   current=dict(uplink_only['current'], net1='virtio=BC:24:11:AA:00:02,bridge=v1234,firewall=1'))
    assert report([waiting])['vms'][0]['private_nets'] == [{'net': 'net1', 'bridge': 'v1234', 'firewall': True}]
    # A covered NIC the VM does not have: not isolated (fail closed), and no NIC of it is reported isolated.
    gone = isolated_vm(302, covered=['net0', 'net3'])
    second = report([gone])['vms'][0]
    assert second['isolated'] is False and second['nics_ok'] is False
    assert 'net3 is to be isolated (nets) but the VM has no such NIC' in second['problems']
    assert second['isolated_nets'] == [] and second['paths']['from_students'] == 'open'
    # A covered NIC without the flag opens the VM; its private NIC is never listed as isolated.
    off = isolated_vm(303, covered=['net0'])
    off['current'] = dict(off['current'], net0=MAC, net1='virtio=BC:24:11:AA:00:03,bridge=v1235,firewall=1')
    third = report([off])['vms'][0]
    assert third['isolated'] is False and third['isolated_nets'] == []
    assert third['private_nets'] == [{'net': 'net1', 'bridge': 'v1235', 'firewall': True}]


def test_read_vm_reads_the_source_filter_of_the_covered_nics_only():
    base = '/nodes/pve1/qemu/301'
    config = [{'key': 'net0', 'value': MAC}, {'key': 'net1', 'value': PRIVATE}]
    client = ScriptedClient({('GET', base + '/firewall/options'): {}, ('GET', base + '/firewall/rules'): [],
                             ('GET', base + '/pending'): config,
                             ('GET', base + '/firewall/ipset/ipfilter-net0'): []})
    state = fw.read_vm(client, {'vmid': 301, 'node': 'pve1', 'type': 'qemu', 'covered': ['net0']})
    assert state['ipsets'] == {'net0': []}
    assert [path for _m, path, _p in client.calls if 'ipset' in path] == [base + '/firewall/ipset/ipfilter-net0']
