"""pve_sdn_info against the fake's SDN (tests/fakecluster/sdn.py): zones and VNets as written, pending or not, a
removal not yet applied left out, and a lab's VNets with their students read back from the alias."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_sdn_apply, pve_sdn_info, pve_sdn_vnet, pve_sdn_zone
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.sdn_fake import sdn  # noqa: F401 pylint: disable=unused-import


def test_written_and_pending_views(sdn):
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.run(pve_sdn_zone.main, dict(zone='vl', type='vlan', bridge='vmbr1'))
    sdn.run(pve_sdn_vnet.main, dict(vnets=[dict(vnet='s1', zone='lab', alias='pvelab:net alice@pve'),
                                           dict(vnet='v1', zone='vl', tag=2000)]))
    result, failed = sdn.run(pve_sdn_info.main, {})
    assert not failed and not result['changed'] and result['pending']
    assert result['zones'] == [dict(zone='lab', type='simple', nodes=[], pending=True),
                               dict(zone='vl', type='vlan', nodes=[], pending=True, bridge='vmbr1')]
    assert result['vnets'] == [dict(vnet='s1', zone='lab', alias='pvelab:net alice@pve', tag=None, pending=True),
                               dict(vnet='v1', zone='vl', alias='', tag=2000, pending=True)]
    sdn.run(pve_sdn_apply.main, {})
    result = sdn.run(pve_sdn_info.main, dict(zone='vl'))[0]
    assert not result['pending'] and [z['zone'] for z in result['zones']] == ['vl']
    assert [v['vnet'] for v in result['vnets']] == ['v1']
    # a removal is written at once: the VNet is no longer listed, though the nodes still run it until the apply
    sdn.run(pve_sdn_vnet.main, dict(vnet='v1', state='absent'))
    result = sdn.run(pve_sdn_info.main, {})[0]
    assert [v['vnet'] for v in result['vnets']] == ['s1'] and sdn.pve.sdn_running['vnets'].get('v1')


def test_a_labs_vnets_name_their_students(sdn):
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.run(pve_sdn_vnet.main, dict(zone='lab', vnets=[dict(vnet='n1', alias='pvelab:net alice@pve'),
                                                       dict(vnet='n2', alias='pvelab:netadmin bob@pve'),
                                                       dict(vnet='n3', alias='alice@pve')]))
    result = sdn.run(pve_sdn_info.main, dict(lab='net'))[0]
    assert [(v['vnet'], v['userid']) for v in result['vnets']] == [('n1', 'alice@pve')]
    assert [z['zone'] for z in result['zones']] == ['lab']
