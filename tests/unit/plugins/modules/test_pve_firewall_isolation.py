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
    monkeypatch.setattr(_module, 'HAS_PROXMOXER', True)
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
