"""pve_sdn_apply against the fake's SDN (tests/fakecluster/sdn.py): applies only what is pending, waits for the
node reloads, check mode applies nothing."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_sdn_apply, pve_sdn_subnet, pve_sdn_vnet, pve_sdn_zone
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.sdn_fake import sdn  # noqa: F401 pylint: disable=unused-import


def test_nothing_pending_is_no_apply(sdn):
    result, failed = sdn.run(pve_sdn_apply.main, {})
    assert not failed and not result['changed'] and result['pending'] == [] and sdn.count('PUT', '/cluster/sdn') == 0


def test_check_mode_lists_what_is_pending_and_applies_nothing(sdn):
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.run(pve_sdn_vnet.main, dict(vnet='s1', zone='lab'))
    sdn.run(pve_sdn_subnet.main, dict(vnet='s1', subnet='10.1.0.0/24'))
    result, failed = sdn.run(pve_sdn_apply.main, {}, check=True, diff=True)
    assert not failed and result['changed'] and sdn.count('PUT', '/cluster/sdn') == 0
    assert result['pending'] == [{'type': 'zone', 'id': 'lab', 'state': 'new'},
                                 {'type': 'vnet', 'id': 's1', 'state': 'new'},
                                 {'type': 'subnet', 'id': 'lab-10.1.0.0-24', 'state': 'new', 'vnet': 's1'}]
    assert result['diff']['after'] == {'pending': []} and sdn.pve.sdn_running['vnets'] == {}


def test_apply_waits_for_every_node_and_is_idempotent(sdn):
    sdn.pve.add_node('pve2')
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.run(pve_sdn_vnet.main, dict(vnet='s1', zone='lab', alias='alice@pve'))
    result, failed = sdn.run(pve_sdn_apply.main, {})
    assert not failed and result['changed'] and ':reloadnetworkall:' in result['upid']
    assert sdn.pve.sdn_running['vnets'] == {'s1': {'zone': 'lab', 'type': 'vnet', 'alias': 'alice@pve'}}
    assert sorted(result['reloads']) == sorted(sdn.pve.nodes)
    for node, upid in result['reloads'].items():
        task = sdn.pve.tasks[upid]
        assert task['node'] == node and task['type'] == 'srvreload' and task['status'] == 'stopped'
    assert sdn.count('PUT', '/cluster/sdn') == 1
    result = sdn.run(pve_sdn_apply.main, {})[0]
    assert not result['changed'] and sdn.count('PUT', '/cluster/sdn') == 1
    # a change and a deletion are pending again
    sdn.run(pve_sdn_vnet.main, dict(vnet='s1', zone='lab', alias='bob@pve'))
    assert sdn.run(pve_sdn_apply.main, {}, check=True)[0]['pending'] == [{'type': 'vnet', 'id': 's1', 'state': 'changed'}]
    sdn.run(pve_sdn_vnet.main, dict(vnet='s1', state='absent'))
    assert sdn.run(pve_sdn_apply.main, {}, check=True)[0]['pending'] == [{'type': 'vnet', 'id': 's1', 'state': 'deleted'}]
    assert sdn.run(pve_sdn_apply.main, {})[0]['changed'] and sdn.pve.sdn_running['vnets'] == {}


def test_subnets_false_reads_no_subnets(sdn):
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.run(pve_sdn_vnet.main, dict(zone='lab', vnets=[dict(vnet='s1'), dict(vnet='s2')]))
    sdn.run(pve_sdn_apply.main, {})
    sdn.run(pve_sdn_subnet.main, dict(vnet='s1', subnet='10.1.0.0/24'))
    sdn.forget_requests()
    result = sdn.run(pve_sdn_apply.main, dict(subnets=False), check=True)[0]
    assert not result['changed'] and sdn.count('GET') == 2     # the zones and the VNets, no subnet list
    result = sdn.run(pve_sdn_apply.main, {}, check=True)[0]
    assert result['changed'] and result['pending'][0]['id'] == 'lab-10.1.0.0-24'
