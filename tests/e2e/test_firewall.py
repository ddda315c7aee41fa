"""pve_firewall_isolation end to end: real ansible-playbook runs against the fake cluster (clusters/demo.json).

What is asserted is what the fake really stores (pve.lab_state()), and the API requests it logged:
50 VMs isolated in one run with a bounded number of requests, a re-run that writes nothing, a NIC that lost
firewall=1 caught by verify_only and fixed by apply, foreign firewall objects and other cluster options untouched
by present and absent, and the previous VM options restored by absent.
"""

import json
from pathlib import Path

import pytest

from helpers import run_playbook

pytestmark = pytest.mark.cluster('demo.json')

MODULE = 'pvelab.proxmox.pve_firewall_isolation'
# pve-firewall's 10 s compile cycle at the fake's time scale (0.01), with room: what compile_wait is for.
COMPILE_WAIT = 0.2
TEACHER_IP = '192.0.2.10/32'  # VM 100 in demo.json: running, agent, static ipconfig0


def mac(vmid):
    return 'BC:24:11:{0:02X}:{1:02X}:{2:02X}'.format(vmid >> 16 & 255, vmid >> 8 & 255, vmid & 255)


def add_students(cluster, first, count, status='stopped', **config):
    """Student VMs straight into the fake (no API calls): one NIC with a known MAC, a static address."""
    for vmid in range(first, first + count):
        conf = {'net0': 'virtio={0},bridge=vmbr0'.format(mac(vmid)), 'agent': '1',
                'ipconfig0': 'ip=10.20.{0}.{1}/16'.format(vmid // 250 % 250, vmid % 250 + 1)}
        conf.update(config)
        cluster.pve.add_vm(vmid, 'stu-{0}'.format(vmid), node='pve{0}'.format(1 + vmid % 3), status=status,
                           config=conf)


@pytest.fixture
def cluster(pve_cluster):
    return pve_cluster


class Runs(object):
    """Runs the module in playbooks and returns the registered results (dumped to a file: the stock callbacks of
    ansible-core do not give structured output)."""

    def __init__(self, cluster, tmp_path):
        self.cluster = cluster
        self.tmp_path = tmp_path
        self.count = 0

    def __call__(self, *steps, check=False, diff=False):
        self.count += 1
        workdir = Path(self.tmp_path) / 'run{0}'.format(self.count)
        workdir.mkdir()
        out = workdir / 'results.json'
        tasks = []
        for i, args in enumerate(steps):
            args = dict({'compile_wait': COMPILE_WAIT}, **args)
            tasks.append({'name': 'step{0}'.format(i), MODULE: args, 'register': 'step{0}'.format(i),
                          'ignore_errors': True})
        names = ', '.join("'step{0}': step{0}".format(i) for i in range(len(steps)))
        tasks.append({'name': 'dump', 'ansible.builtin.copy': {'dest': str(out), 'content': '{{ {' + names +
                                                                                                 '} | to_json }}'},
                      'check_mode': False, 'diff': False})
        result = run_playbook(self.cluster, tasks=tasks, check=check, diff=diff, callback='default',
                              tmp_path=workdir)
        assert out.exists(), result
        data = json.loads(out.read_text())
        return [data['step{0}'.format(i)] for i in range(len(steps))]

    def one(self, args, **kwargs):
        return self(args, **kwargs)[0]


@pytest.fixture
def runs(cluster, tmp_path):
    return Runs(cluster, tmp_path)


def writes(cluster):
    """Logged write requests, logins left out."""
    return [r for r in cluster.pve.request_log() if r[0] in ('POST', 'PUT', 'DELETE')
            and not r[1].endswith('/access/ticket')]


def fw_state(cluster):
    return cluster.pve.lab_state()['firewall']


def guest_ipset(cluster, vmid, name):
    return cluster.pve.firewall_config('vm', vmid=vmid)['ipset'].get(name)


def vm_config(cluster, vmid):
    return cluster.pve.vm(vmid).config


def assert_isolated_in_store(cluster, vmids, group):
    fw = fw_state(cluster)
    assert int(fw['options']['enable']) >= 1
    for vmid in vmids:
        guest = fw['guests'][str(vmid)]
        assert guest['options']['enable'] == 1 and guest['options']['policy_in'] == 'DROP'
        refs = [r for r in guest['rules'] if r['type'] == 'group' and r['action'] == group]
        assert len(refs) == 1 and refs[0]['enable'] == 1, guest['rules']
        assert vm_config(cluster, vmid)['net0'] == 'virtio={0},bridge=vmbr0,firewall=1'.format(mac(vmid))


# --------------------------------------------------------------------- scale

@pytest.mark.parametrize('count', [10, 50])
def test_many_vms_in_one_run_with_bounded_requests(cluster, runs, count):
    add_students(cluster, 3000, count)
    args = {'name': 'scale', 'vmid_range': {'first': 3000, 'last': 3999}, 'teacher_vmids': [100],
            'teacher_ports': [{'proto': 'tcp', 'dport': '22'}, {'proto': 'tcp', 'dport': '5900:5999'}]}
    before = cluster.count_requests()
    first = runs.one(args)
    first_requests = cluster.count_requests() - before
    assert first.get('failed') is not True, first.get('msg')
    assert first['changed'] is True
    assert first['report']['isolated'] is True
    assert len(first['report']['vms']) == count
    everyone = {'8006': ['everyone'], '22': ['everyone']}  # demo.json's cluster policy_in is ACCEPT
    assert first['report']['reachability'] == {
        'student_to_student': 'blocked', 'teacher_to_student': 'allowed', 'ports': ['tcp/22', 'tcp/5900:5999'],
        'teacher_sources': [TEACHER_IP], 'outbound': 'any', 'spoofing_teacher_address': 'blocked',
        'spoofing_teacher_arp': 'blocked', 'hosts': {'pve1': everyone, 'pve2': everyone, 'pve3': everyone}}
    assert_isolated_in_store(cluster, range(3000, 3000 + count), 'scale')
    for vmid in range(3000, 3000 + count):  # each NIC may send only from its static address
        address = vm_config(cluster, vmid)['ipconfig0'].split('=')[1].split('/')[0]
        assert [e['cidr'] for e in guest_ipset(cluster, vmid, 'ipfilter-net0')] == [address]
    group = fw_state(cluster)['groups']['scale']
    assert sorted((r['dport'], r['enable']) for r in group) == [('22', 1), ('5900:5999', 1)]
    assert fw_state(cluster)['ipset']['scale-teacher'] == [{'cidr': '192.0.2.10', 'comment': 'pvelab:scale teacher'}]

    before = cluster.count_requests()
    written = len(writes(cluster))
    again = runs.one(args)
    rerun_requests = cluster.count_requests() - before
    assert again.get('failed') is not True, again.get('msg')
    assert again['changed'] is False and again['actions'] == []
    assert len(writes(cluster)) == written  # an idempotent run writes nothing
    assert len(fw_state(cluster)['groups']['scale']) == 2  # no duplicated rules
    for vmid in range(3000, 3000 + count):
        assert len(fw_state(cluster)['guests'][str(vmid)]['rules']) == 1

    # Login, resources, 7 cluster firewall reads (options, rules, group index + rules, ipset index + entries), the
    # teacher's agent, each node's host firewall options and rules; then per VM 4 reads (options, rules, config,
    # the NIC's ipfilter set), and on the first run 5 writes (set, its entry, group reference, options, NIC flag)
    # and 4 read-backs.
    fixed = 1 + 1 + 7 + 1 + 2 * 3
    assert rerun_requests <= fixed + 4 * count
    assert first_requests <= fixed + 13 * count + 12
    print('\nrequests for {0} VMs: first run {1}, re-run {2}'.format(count, first_requests, rerun_requests))


def test_vm_added_to_the_range_picks_up_the_group(cluster, runs):
    add_students(cluster, 3100, 4)
    args = {'name': 'grow', 'vmid_range': {'first': 3100, 'last': 3199}, 'teacher_sources': ['192.0.2.10']}
    assert runs.one(args)['report']['isolated'] is True
    add_students(cluster, 3104, 1)
    written = len(writes(cluster))
    result = runs.one(args)
    assert result['changed'] is True
    assert result['actions'] == ['vm 3104: create IP set ipfilter-net0',
                                 'vm 3104: net0 may send from 10.20.12.105/32 (static configuration)',
                                 'vm 3104: reference security group grow',
                                 'vm 3104: set firewall options enable=1 policy_in=DROP policy_out=ACCEPT',
                                 'vm 3104: net0 firewall=1']
    assert all('/3104/' in path for _m, path, _b in writes(cluster)[written:])
    assert_isolated_in_store(cluster, range(3100, 3105), 'grow')


# ------------------------------------------------------------ verify, repair

def test_lost_nic_flag_is_detected_by_verify_and_fixed_by_apply(cluster, runs):
    add_students(cluster, 3200, 5)
    args = {'name': 'exam', 'vmids': [3200, 3201, 3202, 3203, 3204], 'teacher_sources': ['192.0.2.10']}
    assert runs.one(args)['report']['isolated'] is True
    ok = runs.one(dict(args, verify_only=True))
    assert ok.get('failed') is not True and ok['changed'] is False and ok['report']['isolated'] is True

    # Someone rewrites net0 of 3202 without the flag (the MAC stays).
    vm_config(cluster, 3202)['net0'] = 'virtio={0},bridge=vmbr0'.format(mac(3202))
    written = len(writes(cluster))
    bad = runs.one(dict(args, verify_only=True))
    assert bad['failed'] is True
    assert 'vm 3202: net0 has no firewall=1' in bad['msg']
    assert bad['report']['isolated'] is False
    assert bad['report']['reachability']['student_to_student'] == 'open'
    flagged = [v for v in bad['report']['vms'] if not v['isolated']]
    assert [(v['vmid'], v['nics_ok']) for v in flagged] == [(3202, False)]
    assert len(writes(cluster)) == written  # verify never writes

    fixed = runs.one(args)
    assert fixed.get('failed') is not True
    assert fixed['actions'] == ['vm 3202: net0 firewall=1']
    assert vm_config(cluster, 3202)['net0'] == 'virtio={0},bridge=vmbr0,firewall=1'.format(mac(3202))
    assert runs.one(dict(args, verify_only=True))['report']['isolated'] is True


def test_disabled_group_rule_and_vm_options_are_repaired(cluster, runs):
    add_students(cluster, 3250, 2)
    args = {'name': 'repair', 'vmids': [3250, 3251], 'teacher_sources': ['192.0.2.10']}
    runs.one(args)
    fw = fw_state(cluster)
    cluster.pve.firewall_config('cluster')['groups']['repair'][0]['enable'] = 0
    cluster.pve.firewall_config('vm', vmid=3251)['options']['policy_in'] = 'ACCEPT'
    assert fw['groups']['repair'][0]['enable'] == 1
    bad = runs.one(dict(args, verify_only=True))
    assert bad['failed'] is True and 'policy_in is ACCEPT' in bad['msg']
    assert bad['report']['reachability']['teacher_to_student'] == 'blocked'
    result = runs.one(args)
    assert result['actions'] == ['group repair: enable rule |IN ACCEPT -source +repair-teacher',
                                 'vm 3251: set firewall options policy_in=DROP']
    assert result['report']['isolated'] is True
    assert fw_state(cluster)['groups']['repair'][0]['enable'] == 1


def test_nic_change_that_stays_pending_is_reported_not_claimed(cluster, runs):
    # fakepve keeps a NIC change of a running VM pending (PVE applies firewall=1 live when network hotplug is on,
    # the default, and keeps it pending when it is off): the report must not call that isolated.
    add_students(cluster, 3300, 1, status='running')
    result = runs.one({'name': 'pend', 'vmids': [3300], 'teacher_sources': ['192.0.2.10']})
    assert result['failed'] is True
    assert 'net0: firewall=1 is pending and takes effect at the next start of the VM' in result['msg']
    assert cluster.pve.vm(3300).pending['net0'].endswith(',firewall=1')


# -------------------------------------------------------- foreign, absent

def foreign_snapshot(cluster):
    fw = fw_state(cluster)
    return {'options': dict((k, v) for k, v in fw['options'].items() if k != 'enable'),
            'rules': fw['rules'], 'groups': dict((k, v) for k, v in fw['groups'].items()
                                                 if k not in ('iso', 'pvelab-dc')),
            'ipset': dict((k, v) for k, v in fw['ipset'].items() if k != 'iso-teacher'),
            'aliases': fw['aliases'], 'vm101': fw['guests'].get('101'),
            'vm101_net0': vm_config(cluster, 101)['net0']}


def test_foreign_objects_and_other_cluster_options_untouched_by_present_and_absent(cluster, runs):
    add_students(cluster, 3400, 3)
    options = cluster.pve.firewall_config('cluster')['options']
    options['log_ratelimit'] = 'enable=1,rate=10/second,burst=20'
    # A foreign rule on a student VM and a foreign VM firewall that must survive.
    cluster.pve.firewall_config('vm', vmid=3401)['rules'].append(
        {'type': 'out', 'action': 'DROP', 'proto': 'tcp', 'dport': '25', 'enable': 1, 'comment': 'no smtp'})
    cluster.pve.firewall_config('vm', vmid=101)['options'].update({'enable': 1, 'policy_in': 'ACCEPT'})
    before = foreign_snapshot(cluster)
    assert before['options'] == {'policy_in': 'ACCEPT', 'policy_out': 'ACCEPT', 'ebtables': 1,
                                 'log_ratelimit': 'enable=1,rate=10/second,burst=20'}
    assert 'enable' not in fw_state(cluster)['options']

    args = {'name': 'iso', 'vmid_range': {'first': 3400, 'last': 3499}, 'teacher_sources': ['192.0.2.10']}
    present = runs.one(args)
    assert present['report']['isolated'] is True
    assert fw_state(cluster)['options']['enable'] == 1
    assert foreign_snapshot(cluster) == before
    assert [r['comment'] for r in fw_state(cluster)['guests']['3401']['rules']] == [
        'pvelab:iso group reference (was enable=,policy_in=,policy_out=,dhcp=,nofw=net0)', 'no smtp']

    assert 'pvelab-dc' in fw_state(cluster)['groups']  # what the lab changed cluster wide, recorded in PVE

    absent = runs.one(dict(args, state='absent'))
    assert absent.get('failed') is not True and absent['changed'] is True
    fw = fw_state(cluster)
    assert 'iso' not in fw['groups'] and 'iso-teacher' not in fw['ipset']
    # The last lab gone, the datacenter switch is as before the first (not set), and the record is gone.
    assert 'enable' not in fw['options'] and 'pvelab-dc' not in fw['groups']
    assert foreign_snapshot(cluster) == before
    assert fw['guests']['3401']['rules'] == [{'type': 'out', 'action': 'DROP', 'proto': 'tcp', 'dport': '25',
                                              'enable': 1, 'comment': 'no smtp'}]
    for vmid in range(3400, 3403):
        assert fw['guests'][str(vmid)]['options'] == {}
        assert vm_config(cluster, vmid)['net0'] == 'virtio={0},bridge=vmbr0'.format(mac(vmid))
    assert runs.one(dict(args, state='absent'))['changed'] is False


def test_the_datacenter_switch_stays_on_until_the_last_lab_goes(cluster, runs):
    add_students(cluster, 3420, 2)
    first = {'name': 'one', 'vmids': [3420], 'teacher_sources': ['192.0.2.10']}
    second = {'name': 'two', 'vmids': [3421], 'teacher_sources': ['192.0.2.10']}
    assert runs.one(first)['report']['isolated'] is True
    assert runs.one(second)['report']['isolated'] is True
    gone = runs.one(dict(first, state='absent'))
    assert not any(a.startswith('datacenter:') for a in gone['actions'])
    assert fw_state(cluster)['options']['enable'] >= 1 and 'pvelab-dc' in fw_state(cluster)['groups']
    last = runs.one(dict(second, state='absent'))
    assert [a for a in last['actions'] if a.startswith('datacenter:')] == [
        'datacenter: disable the firewall', 'datacenter: delete the record security group pvelab-dc']
    assert 'enable' not in fw_state(cluster)['options'] and 'pvelab-dc' not in fw_state(cluster)['groups']

    # Asked to, the switch goes off with a lab even while another lab needs it (and the record stays).
    runs.one(first)
    runs.one(second)
    off = runs.one(dict(first, state='absent', disable_datacenter_on_absent=True))
    assert 'datacenter: disable the firewall' in off['actions']
    assert fw_state(cluster)['options']['enable'] == 0 and 'pvelab-dc' in fw_state(cluster)['groups']


def test_a_datacenter_firewall_already_on_is_left_as_the_site_has_it(cluster, runs):
    add_students(cluster, 3440, 1)
    options = cluster.pve.firewall_config('cluster')['options']
    options.update({'enable': 1, 'policy_in': 'DROP'})
    before = json.dumps(fw_state(cluster)['rules'], sort_keys=True)
    args = {'name': 'site', 'vmids': [3440], 'teacher_sources': ['192.0.2.10']}
    result = runs.one(args)
    assert result['report']['isolated'] is True
    assert not any(a.startswith('datacenter:') for a in result['actions'])
    assert 'pvelab-dc' not in fw_state(cluster)['groups']
    assert json.dumps(fw_state(cluster)['rules'], sort_keys=True) == before
    # The report says what the site's policy allows: demo.json's datacenter rule opens 22 to one network.
    hosts = result['report']['reachability']['hosts']
    assert hosts['pve1'] == {'8006': ['management (the cluster network)'],
                             '22': ['198.51.100.0/24', 'management (the cluster network)']}
    runs.one(dict(args, state='absent'))
    assert fw_state(cluster)['options']['enable'] == 1 and fw_state(cluster)['options']['policy_in'] == 'DROP'


def test_absent_restores_the_options_a_vm_had(cluster, runs):
    add_students(cluster, 3500, 1)
    cluster.pve.firewall_config('vm', vmid=3500)['options'].update(
        {'enable': 0, 'policy_in': 'ACCEPT', 'log_level_in': 'info'})
    args = {'name': 'restore', 'vmids': [3500], 'teacher_sources': ['192.0.2.10'], 'outbound': 'teacher_only'}
    result = runs.one(args)
    assert result['report']['isolated'] is True
    assert fw_state(cluster)['guests']['3500']['options'] == {
        'enable': 1, 'policy_in': 'DROP', 'policy_out': 'DROP', 'dhcp': 1, 'log_level_in': 'info'}
    runs.one(dict(args, state='absent'))
    assert fw_state(cluster)['guests']['3500']['options'] == {'enable': 0, 'policy_in': 'ACCEPT',
                                                             'log_level_in': 'info'}


def test_teacher_vm_outbound_teacher_only(cluster, runs):
    add_students(cluster, 3600, 2)
    result = runs.one({'name': 'closed', 'vmids': [3600, 3601, 100], 'teacher_vmids': [100],
                       'outbound': 'teacher_only', 'teacher_ports': [{'proto': 'icmp', 'dport': 'echo-request'}]})
    assert result.get('failed') is not True, result.get('msg')
    assert [v['vmid'] for v in result['report']['vms']] == [3600, 3601]  # the teacher is never a student
    assert any('vm 100 is a teacher VM' in w for w in result.get('warnings', []))
    rules = sorted((r['type'], r.get('macro', ''), r.get('source', ''), r.get('dest', ''), r['enable'])
                   for r in fw_state(cluster)['groups']['closed'])
    assert rules == [('in', '', '+closed-teacher', '', 1), ('out', '', '', '+closed-teacher', 1),
                     ('out', 'DNS', '', '', 1)]
    assert result['report']['reachability']['ports'] == ['icmp/echo-request']
    assert fw_state(cluster)['guests']['3600']['options']['policy_out'] == 'DROP'


def test_check_mode_and_diff_write_nothing(cluster, runs):
    add_students(cluster, 3700, 2)
    written = len(writes(cluster))
    result = runs.one({'name': 'dry', 'vmids': [3700, 3701], 'teacher_sources': ['192.0.2.10']}, check=True,
                      diff=True)
    assert result['changed'] is True
    assert result['report']['isolated'] is True  # predicted
    assert result['diff']['before']['vms']['3700']['nics'] == {'net0': 'off'}
    assert result['diff']['after']['vms']['3700']['nics'] == {'net0': 'ok'}
    assert result['diff']['after']['group']['rules'] == ['IN ACCEPT -source +dry-teacher']
    assert len(writes(cluster)) == written
    assert 'dry' not in fw_state(cluster)['groups']


BAD_INPUT = [
    ({'vmid_range': [{'first': 3800, 'last': 3810}, {'first': 3805, 'last': 3820}]}, 'overlap'),
    ({'vmids': [3800], 'teacher_sources': ['192.0.2.10', 'not-a-cidr']}, 'teacher_sources[1]'),
    ({'vmids': [3800], 'name': 'a-lab-name-far-too-long'}, '18 characters at most'),
]


@pytest.fixture(scope='module')
def bad_input_run(tmp_path_factory):
    """The BAD_INPUT steps, in one playbook run (each step ignore_errors) against one demo.json fake with student VM
    3800, and whether the fake saw a write during it: test_bad_input_fails_before_any_write checks its step's
    result from it (one ansible start for the three, not three)."""
    from fakecluster import serving
    with serving('demo.json') as cluster:
        add_students(cluster, 3800, 1)
        written = len(writes(cluster))
        results = Runs(cluster, tmp_path_factory.mktemp('bad-input'))(
            *[dict({'name': 'bad', 'teacher_sources': ['192.0.2.10']}, **args) for args, _message in BAD_INPUT])
        yield results, writes(cluster)[written:]


@pytest.mark.parametrize('case, message', [(i, message) for i, (_args, message) in enumerate(BAD_INPUT)],
                         ids=['args{0}-{1}'.format(i, message) for i, (_args, message) in enumerate(BAD_INPUT)])
def test_bad_input_fails_before_any_write(bad_input_run, case, message):
    results, written = bad_input_run
    result = results[case]
    assert result['failed'] is True and message in result['msg']
    assert written == []


def test_a_numeric_icmp_type_fails_before_anything_is_made(cluster, runs):
    """PVE takes ICMP types by name only and refuses a number when the rule is posted, after the IP set and the
    group are made: the module refuses it first, and the firewall is as it was."""
    add_students(cluster, 3850, 2)
    before = json.dumps(fw_state(cluster), sort_keys=True)
    configs = [dict(vm_config(cluster, v)) for v in (3850, 3851)]
    written = len(writes(cluster))
    result = runs.one({'name': 'icmp', 'vmids': [3850, 3851], 'teacher_sources': ['192.0.2.10'],
                       'teacher_ports': [{'proto': 'tcp', 'dport': '22'}, {'proto': 'icmp', 'dport': '8'}]})
    assert result['failed'] is True
    assert "teacher_ports[1].dport '8': PVE takes ICMP types by name only (use 'echo-request')" in result['msg']
    assert len(writes(cluster)) == written
    assert json.dumps(fw_state(cluster), sort_keys=True) == before
    assert [vm_config(cluster, v) for v in (3850, 3851)] == configs
    again = runs.one({'name': 'icmp', 'vmids': [3850, 3851], 'teacher_sources': ['192.0.2.10'],
                      'teacher_ports': [{'proto': 'tcp', 'dport': '22'}, {'proto': 'icmp', 'dport': 'echo-request'}]})
    assert again.get('failed') is not True, again.get('msg')
    assert sorted(r.get('icmp-type', '') for r in fw_state(cluster)['groups']['icmp']) == ['', 'echo-request']


def test_a_container_student_is_isolated_through_the_same_calls(cluster, runs):
    net0 = 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:CC:00:01,ip=10.30.0.5/24'
    cluster.pve.add_ct(3900, 'ct-student', node='pve2', config={'net0': net0})
    result = runs.one({'name': 'ctlab', 'vmids': [3900], 'teacher_sources': ['192.0.2.10']})
    assert result.get('failed') is not True, result.get('msg')
    assert result['report']['isolated'] is True
    assert any('/lxc/3900/' in path for _m, path, _b in writes(cluster))
    assert fw_state(cluster)['guests']['3900']['options']['enable'] == 1
    props = dict(item.split('=', 1) for item in cluster.pve.guest(3900).config['net0'].split(','))
    assert props['firewall'] == '1' and props['hwaddr'] == 'BC:24:11:CC:00:01' and props['ip'] == '10.30.0.5/24'
    assert runs.one({'name': 'ctlab', 'vmids': [3900], 'teacher_sources': ['192.0.2.10']})['changed'] is False
    runs.one({'name': 'ctlab', 'vmids': [3900], 'state': 'absent'})
    props = dict(item.split('=', 1) for item in cluster.pve.guest(3900).config['net0'].split(','))
    assert 'firewall' not in props and props['hwaddr'] == 'BC:24:11:CC:00:01'
