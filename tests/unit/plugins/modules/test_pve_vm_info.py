"""pve_vm_info against the fake PVE (LabPve, guest_fake.py): filters, agent addresses, uptime."""

import time

from ansible_collections.pvelab.proxmox.plugins.modules import pve_vm_info
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import


def info(served, **args):
    result, failed = served.run(pve_vm_info.main, args)
    assert not failed, result
    return result['vms']


def test_filters(served):
    served.pve.pools['lab'].add(101)
    served.pve._sync_pools()
    assert [v['vmid'] for v in info(served)] == [100, 101, 102, 103, 9000]
    assert [v['vmid'] for v in info(served, name='dup')] == [102, 103]
    assert [v['vmid'] for v in info(served, node='pve2')] == [101, 102]
    assert [v['vmid'] for v in info(served, vmid=9000)] == [9000]
    web = info(served, pool='lab')
    assert web == [{'vmid': 101, 'name': 'web01', 'node': 'pve2', 'type': 'qemu', 'status': 'stopped',
                    'template': False, 'pool': 'lab', 'tags': ['prod', 'web'], 'lock': None,
                    'maxmem': 1024 * 1048576, 'maxcpu': 1, 'uptime': 0}]
    assert [v['vmid'] for v in info(served, tag='web')] == [101]
    assert info(served, type='lxc') == []
    assert info(served, name='ghost') == []


def test_agent_ips_only_for_running_guests(served):
    vms = info(served, agent_ips=True)  # the teacher's agent: lo, its ipconfig0 address and a link-local one
    by_vmid = dict((v['vmid'], v) for v in vms)
    assert by_vmid[100]['ips'] == ['192.0.2.10'] and by_vmid[100]['ip'] == '192.0.2.10'
    assert by_vmid[101]['ips'] == [] and by_vmid[101]['ip'] is None
    agent_calls = [r for r in served.pve.requests if '/agent/' in r[1]]
    assert len(agent_calls) == 1


def test_uptime_of_running_guests(served):
    teacher = served.vm_named('teacher')
    teacher.status = 'running'
    teacher.started_at = time.time() - 100
    by_name = dict((v['name'], v) for v in info(served))
    assert 99 <= by_name['teacher']['uptime'] <= 105
    assert by_name['web01']['uptime'] == 0
