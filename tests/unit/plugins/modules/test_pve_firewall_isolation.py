"""pve_firewall_isolation: bad input fails before any request; the plan and check mode against a scripted API."""

import json
import re

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.pvelab.proxmox.plugins.module_utils import _firewall as fw
from ansible_collections.pvelab.proxmox.plugins.module_utils import _module
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveClient
from ansible_collections.pvelab.proxmox.plugins.modules import pve_firewall_isolation as mod
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import
from ansible_collections.pvelab.proxmox.tests.unit.plugins.scripted_client import ScriptedClient, UnscriptedCall

CONN = dict(api_host='127.0.0.1', api_user='root@pam', api_password='secret')
MAC = 'virtio=BC:24:11:AA:00:01,bridge=vmbr0'


def reads_only(method, path, params):
    """What PVE answers the reads nobody scripted (no rules, no options set); a write fails the test."""
    if method != 'GET':
        raise UnscriptedCall('unexpected write {0} {1} {2}'.format(method, path, params))
    return {} if path.endswith('/options') else []


def run(args, monkeypatch, capsys, answers=None, check_mode=False):
    """The module's main() over a ScriptedClient answering GET path with answers[path]; returns (result, the
    (method, path) of every call, or None when no client was made)."""
    made = []

    def factory(params):
        script = dict((('GET', path), answer) for path, answer in (answers or {}).items())
        client = ScriptedClient(script, otherwise=reads_only, params=params)
        made.append(client)
        return client

    monkeypatch.setattr(_module, 'PveClient', factory)
    monkeypatch.setattr(_module, 'missing_proxmoxer', lambda: None)
    full = dict(CONN, **args)
    if check_mode:
        full['_ansible_check_mode'] = True
    with patch_module_args(full):
        with pytest.raises(SystemExit):
            mod.main()
    out = json.loads(capsys.readouterr().out)
    return out, ([(method, path) for method, path, _params in made[0].calls] if made else None)


@pytest.mark.parametrize('args, message', [
    (dict(name='lab', vmid_range=[{'first': 300, 'last': 320}, {'first': 310, 'last': 330}]), 'overlap'),
    (dict(name='lab', vmids=[300], teacher_sources=['192.0.2.10', 'teacher.example.org']),
     r'teacher_sources\[1\]'),
    (dict(name='lab', vmids=[300], teacher_sources=['192.0.2.0/33']), r'teacher_sources\[0\]'),
    (dict(name='averyveryverylonglabname', vmids=[300]), '18 characters at most'),
    (dict(name='lab', vmids=[300], teacher_ports=[{'proto': 'tcp', 'dport': '99999'}]), r'teacher_ports\[0\]'),
    (dict(name='lab', vmids=[300], teacher_ports=[{'proto': 'tcp', 'dport': '22'}, {'proto': 'icmp', 'dport': '8'}]),
     r"teacher_ports\[1\]\.dport '8': PVE takes ICMP types by name only \(use 'echo-request'\)"),
    (dict(name='lab', vmids=[300], pool='bad pool'), 'pool'),
    (dict(name='lab', vmids=[300], verify_only=True, state='absent'), 'verify_only'),
    (dict(name='lab', vmids=[300], nets={'300': []}), r'nets\[300\] must be a non-empty list'),
    (dict(name='lab', vmids=[300], nets={'300': ['net0', 'eth1']}), r"nets\[300\]\[1\] 'eth1' is not a NIC name"),
    (dict(name='lab', vmids=[300], nets={'router': ['net0']}), r"nets key 'router' is not a number"),
])
def test_bad_input_fails_before_any_request(args, message, monkeypatch, capsys):
    out, calls = run(args, monkeypatch, capsys)
    assert out['failed'] is True
    assert re.search(message, out['msg']), out['msg']
    assert calls is None  # no client was even made: nothing read, nothing written


def cluster_answers(vms, extra=None):
    resources = [dict({'type': 'qemu', 'node': 'pve1', 'status': 'stopped', 'template': 0}, vmid=v,
                      name='stu{0}'.format(v), id='qemu/{0}'.format(v)) for v in vms]
    resources.append({'type': 'node', 'node': 'pve1', 'status': 'online'})
    answers = {'/cluster/resources': resources, '/cluster/firewall/options': {'policy_in': 'ACCEPT', 'digest': 'x'}}
    for v in vms:
        base = '/nodes/pve1/qemu/{0}'.format(v)
        answers[base + '/pending'] = [{'key': 'net0', 'value': MAC}]
    answers.update(extra or {})
    return answers


def test_unknown_vmid_fails_before_any_write(monkeypatch, capsys):
    out, calls = run(dict(name='lab', vmids=[300, 399], teacher_sources=['192.0.2.10']), monkeypatch, capsys,
                     answers=cluster_answers([300]))
    assert out['failed'] is True
    assert out['msg'] == 'vmids[1]: there is no guest 399'
    assert all(method == 'GET' for method, _path in calls)


def test_empty_selection_is_an_error_unless_allowed(monkeypatch, capsys):
    out, _calls = run(dict(name='lab', tag='nolab', teacher_sources=['192.0.2.10']), monkeypatch, capsys,
                      answers=cluster_answers([300]))
    assert out['failed'] is True and 'allow_empty' in out['msg']


def test_foreign_group_with_the_lab_name_is_refused(monkeypatch, capsys):
    answers = cluster_answers([300], {'/cluster/firewall/groups': [{'group': 'lab', 'comment': 'made by hand'}]})
    out, calls = run(dict(name='lab', vmids=[300], teacher_sources=['192.0.2.10']), monkeypatch, capsys, answers)
    assert out['failed'] is True
    assert 'security group lab already exist' in out['msg']
    assert all(method == 'GET' for method, _path in calls)


def test_check_mode_plans_everything_and_writes_nothing(monkeypatch, capsys):
    # The VMs are stopped DHCP guests: their addresses are learned at the first start (the gap source_filter).
    out, calls = run(dict(name='Lab', vmid_range={'first': 300, 'last': 301}, teacher_sources=['192.0.2.10'],
                          teacher_ports=[{'proto': 'tcp', 'dport': '22'}], accept_gaps=['source_filter'],
                          _ansible_diff=True),
                     monkeypatch, capsys, answers=cluster_answers([300, 301]), check_mode=True)
    assert out.get('failed') is not True, out
    assert out['changed'] is True
    assert out['group'] == 'lab' and out['ipset'] == 'lab-teacher'
    assert out['actions'] == [
        'create IP set lab-teacher',
        'add 192.0.2.10/32 to IP set lab-teacher',
        'create security group lab',
        'group lab: add rule IN ACCEPT -source +lab-teacher -p tcp -dport 22',
        'vm 300: reference security group lab',
        'vm 300: set firewall options enable=1 policy_in=DROP policy_out=ACCEPT',
        'vm 300: net0 firewall=1',
        'vm 301: reference security group lab',
        'vm 301: set firewall options enable=1 policy_in=DROP policy_out=ACCEPT',
        'vm 301: net0 firewall=1',
        'datacenter: record the firewall options in security group pvelab-dc',
        'datacenter: enable the firewall',
    ]
    assert out['report']['isolated'] is True  # predicted
    assert out['diff']['before']['group'] is None
    assert out['diff']['after']['vms']['300'] == {'enable': '1', 'policy_in': 'DROP', 'policy_out': 'ACCEPT',
                                                  'dhcp': '', 'group_reference': True, 'nics': {'net0': 'ok'}}
    assert all(method == 'GET' for method, _path in calls)
    # Bounded reads: resources, 4 cluster firewall reads (options, rules, the group and IP set indexes: no group or
    # IP set to read yet), per VM 3 and its NIC's ipfilter set and its agent (to learn the address), and the host
    # firewall of the one node (options, rules: the datacenter switch is to change).
    assert len(calls) == 1 + 4 + 2 * 5 + 2


def test_verify_only_fails_with_the_report(monkeypatch, capsys):
    out, calls = run(dict(name='lab', vmids=[300], verify_only=True), monkeypatch, capsys,
                     answers=cluster_answers([300]))
    assert out['failed'] is True
    assert out['msg'].startswith('isolation of lab lab does not hold: vm 300: the datacenter firewall is off')
    assert out['report']['vms'][0]['isolated'] is False
    assert out['changed'] is False
    assert all(method == 'GET' for method, _path in calls)


def test_a_second_lab_turning_the_datacenter_firewall_on_at_the_same_time_keeps_the_first_record(
        served, monkeypatch):  # noqa: F811 pylint: disable=redefined-outer-name
    """Two labs read the datacenter firewall off and no record; the other lab creates the record group between this
    run's read and its write. PVE refuses the second create ('already exists'): the run keeps that record."""
    other = PveClient(served.params())
    read_cluster = mod.PveFirewallIsolation.read_cluster

    def read_then_the_other_lab_writes(self):
        read_cluster(self)
        assert self.record_exists is False
        other.post('/cluster/firewall/groups', group=fw.RECORD_GROUP, comment=fw.record_comment(self.cluster_options))

    monkeypatch.setattr(mod.PveFirewallIsolation, 'read_cluster', read_then_the_other_lab_writes)
    result, failed = served.run(mod.main, dict(name='laba', vmids=[101], teacher_sources=['192.0.2.10'],
                                               compile_wait=0, accept_gaps=['source_filter']))
    assert not failed, result.get('msg')
    assert other.get('/cluster/firewall/options').get('enable') == 1
    groups = [g['group'] for g in other.get('/cluster/firewall/groups')]
    assert groups.count(fw.RECORD_GROUP) == 1


@pytest.mark.parametrize('nets, message', [
    ({'301': ['net0']}, r'^nothing was changed: nets\[301\]: vm 301 is not among the selected VMs'),
    ({'300': ['net0', 'net1']}, r'^nothing was changed: nets\[300\]: vm 300 has no net1 \(its NICs: net0\)$'),
])
def test_nets_naming_what_is_not_there_fails_before_any_write(nets, message, monkeypatch, capsys):
    out, calls = run(dict(name='lab', vmids=[300], teacher_sources=['192.0.2.10'], nets=nets), monkeypatch, capsys,
                     answers=cluster_answers([300]))
    assert out['failed'] is True
    assert re.search(message, out['msg']), out['msg']
    assert calls and all(method == 'GET' for method, _path in calls)


UPLINK = 'virtio=BC:24:11:00:02:{0:02X},bridge=vmbr0'
PRIVATE_NIC = 'e1000=BC:24:11:00:03:{0:02X},bridge=v1234,tag=7,firewall=1,queues=2'


def test_nets_isolate_the_uplink_and_free_the_private_nic_of_the_listed_vm_only(
        served, monkeypatch):  # noqa: F811 pylint: disable=redefined-outer-name
    """A router (201, listed: net0 uplink, net1 private) and an unlisted VM with the same two NICs (202): check mode
    says what the run then does; the router's net1 loses only its firewall flag, gets no ipfilter set (its private
    address is never a source), and is reported private; the unlisted VM is isolated on both NICs, as before."""
    for vmid in (201, 202):
        served.pve.add_vm(vmid, 'stu{0}'.format(vmid), node='pve1', status='stopped', config={
            'net0': UPLINK.format(vmid), 'ipconfig0': 'ip=10.30.0.{0}/24'.format(vmid - 200),
            'net1': PRIVATE_NIC.format(vmid), 'ipconfig1': 'ip=192.168.7.1/24'})
    served.settle()
    args = dict(name='labn', vmids=[201, 202], teacher_sources=['192.0.2.10'], compile_wait=0,
                nets={'201': ['net0']})
    before = served.count('PUT') + served.count('POST') + served.count('DELETE')
    planned, failed = served.run(mod.main, args, check=True, diff=True)
    assert not failed, planned.get('msg')
    assert served.count('PUT') + served.count('POST') + served.count('DELETE') == before  # check mode: no write
    assert 'vm 201: net1 without firewall=1 (private)' in planned['actions']
    assert 'vm 201: net0 firewall=1' in planned['actions']
    assert not [a for a in planned['actions'] if a.startswith('vm 201:') and 'net1' in a and 'private' not in a]
    assert planned['diff']['after']['vms']['201']['nics'] == {'net0': 'ok', 'net1': 'off'}
    assert planned['diff']['before']['vms']['201']['nics'] == {'net0': 'off', 'net1': 'ok'}

    result, failed = served.run(mod.main, args)
    assert not failed, result.get('msg')
    assert result['actions'] == planned['actions']
    router = served.pve.vm(201).config
    assert router['net1'] == 'e1000=BC:24:11:00:03:C9,bridge=v1234,tag=7,queues=2'
    assert router['net0'] == UPLINK.format(201) + ',firewall=1'
    sets = served.pve.firewall_config('vm', vmid=201)['ipset']
    assert sorted(sets) == ['ipfilter-net0']
    assert [fw.norm_cidr(e['cidr']) for e in sets['ipfilter-net0']] == ['10.30.0.1/32']
    other = served.pve.vm(202).config
    assert other['net0'].endswith(',firewall=1') and other['net1'] == PRIVATE_NIC.format(202)
    assert sorted(served.pve.firewall_config('vm', vmid=202)['ipset']) == ['ipfilter-net0', 'ipfilter-net1']
    by_id = dict((v['vmid'], v) for v in result['report']['vms'])
    assert result['report']['isolated'] is True
    assert by_id[201]['covered_nets'] == ['net0']
    assert by_id[201]['isolated_nets'] == [{'net': 'net0', 'bridge': 'vmbr0'}]
    assert by_id[201]['private_nets'] == [{'net': 'net1', 'bridge': 'v1234', 'firewall': False}]
    assert by_id[201]['addresses'] == {'net0': ['10.30.0.1/32']}
    assert by_id[202]['private_nets'] == [] and by_id[202]['covered_nets'] == ['net0', 'net1']
    assert [n['net'] for n in by_id[202]['isolated_nets']] == ['net0', 'net1']

    again, failed = served.run(mod.main, args)
    assert not failed and again['changed'] is False and again['actions'] == []
    verified, failed = served.run(mod.main, dict(args, verify_only=True))
    assert not failed and verified['report']['vms'][0]['private_nets'][0]['net'] == 'net1'
    # Without nets the router's net1 is a NIC like any other: verify_only says it bypasses the firewall.
    unlisted, failed = served.run(mod.main, dict(args, verify_only=True, nets=None))
    assert failed and 'vm 201: net1 has no firewall=1' in unlisted['msg']

    # state=absent removes what the lab made on every NIC, nets or not; a private NIC's flag, removed by the lab,
    # is not put back (the documented limit of nets).
    removed, failed = served.run(mod.main, dict(args, state='absent'))
    assert not failed, removed.get('msg')
    assert served.pve.vm(201).config['net0'] == UPLINK.format(201)
    assert served.pve.vm(201).config['net1'] == 'e1000=BC:24:11:00:03:C9,bridge=v1234,tag=7,queues=2'
    assert served.pve.firewall_config('vm', vmid=202)['ipset'] == {}
    assert served.pve.firewall_config('vm', vmid=201)['rules'] == []
