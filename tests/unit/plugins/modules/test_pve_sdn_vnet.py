"""pve_sdn_vnet against the fake's SDN (tests/fakecluster/sdn.py): PVE's tag and id rules checked before any write."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_sdn_vnet, pve_sdn_zone
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.sdn_fake import sdn  # noqa: F401 pylint: disable=unused-import


def zones(sdn):
    sdn.run(pve_sdn_zone.main, dict(zones=[dict(zone='lab'), dict(zone='vla', type='vlan', bridge='vmbr1'),
                                           dict(zone='vlb', type='vlan', bridge='vmbr1')]))
    sdn.forget_requests()


def test_create_check_mode_idempotent_update_delete(sdn):
    zones(sdn)
    args = dict(zone='lab', vnets=[dict(vnet='s0001', alias='alice@pve'), dict(vnet='s0002', alias='bob@pve')])
    result, failed = sdn.run(pve_sdn_vnet.main, args, check=True)
    assert not failed and result['changed'] and sdn.writes() == [] and sdn.pve.sdn['vnets'] == {}
    result = sdn.run(pve_sdn_vnet.main, args, diff=True)[0]
    assert sdn.pve.sdn['vnets']['s0001'] == {'zone': 'lab', 'alias': 'alice@pve', 'type': 'vnet'}
    assert [i['key'] for i in result['items']] == ['s0001', 's0002'] and result['diff']['after']['s0002']['alias'] == 'bob@pve'
    assert sdn.pve.sdn_running['vnets'] == {}
    assert not sdn.run(pve_sdn_vnet.main, args)[0]['changed']
    result = sdn.run(pve_sdn_vnet.main, dict(vnet='s0001', zone='lab', alias=''))[0]
    assert result['items'][0]['changes'] == ['alias'] and 'alias' not in sdn.pve.sdn['vnets']['s0001']
    result = sdn.run(pve_sdn_vnet.main, dict(vnets=[dict(vnet='s0001'), dict(vnet='s0002')], state='absent'))[0]
    assert result['changed'] and sdn.pve.sdn['vnets'] == {}
    assert not sdn.run(pve_sdn_vnet.main, dict(vnet='s0001', state='absent'))[0]['changed']


def test_vlan_tags(sdn):
    zones(sdn)
    result, failed = sdn.run(pve_sdn_vnet.main, dict(zone='vla', vnets=[dict(vnet='v1', tag=2000),
                                                                        dict(vnet='v2', tag=2001)]))
    assert not failed and sdn.pve.sdn['vnets']['v1']['tag'] == 2000
    sdn.run(pve_sdn_vnet.main, dict(vnet='v3', zone='vlb', tag=2000))  # another zone may carry it
    # v1 takes the tag v2 gives up in the same run: PVE checks each write, so v2's goes first
    result, failed = sdn.run(pve_sdn_vnet.main, dict(zone='vla', vnets=[dict(vnet='v1', tag=2001),
                                                                        dict(vnet='v2', tag=2002)]))
    assert not failed and result['items'][0]['changes'] == ['tag']


def test_bad_input_fails_before_any_write(sdn):
    zones(sdn)
    sdn.run(pve_sdn_vnet.main, dict(vnet='taken', zone='vla', tag=100))
    sdn.forget_requests()
    for args, words in ((dict(vnet='student123', zone='lab'), "'student123'"),
                        (dict(vnet='ok', zone='vla', tag=4097), 'out of range'),
                        (dict(vnet='ok', zone='vla', tag=0), 'out of range'),
                        (dict(vnet='ok', zone='vla'), 'needs a tag'),
                        (dict(vnet='ok', zone='lab', tag=5), 'takes no tag'),
                        (dict(vnet='ok', zone='vla', tag=100), 'also carried by taken'),
                        (dict(vnet='ok', zone='nozone'), 'zone nozone does not exist'),
                        (dict(vnet='ok', zone='lab', alias='a|b'), 'alias'),
                        (dict(vnet='ok'), 'zone is required'),
                        (dict(vnets=[dict(vnet='a1', zone='vla', tag=7), dict(vnet='a2', zone='vla', tag=7)]),
                         'also carried by a2')):
        result, failed = sdn.run(pve_sdn_vnet.main, args)
        assert failed and words in result['msg'] and sdn.writes() == [], args


def test_a_vnet_with_subnets_is_refused_by_pve(sdn):
    zones(sdn)
    sdn.run(pve_sdn_vnet.main, dict(vnet='s1', zone='lab'))
    sdn.pve.sdn['subnets']['lab-10.0.0.0-24'] = {'vnet': 's1', 'type': 'subnet'}
    result, failed = sdn.run(pve_sdn_vnet.main, dict(vnet='s1', state='absent'))
    assert failed and "Can't delete vnet if subnets exists" in result['msg'] and 's1' in sdn.pve.sdn['vnets']


def test_a_class_of_300_is_one_run_of_two_reads(sdn):
    zones(sdn)
    vnets = [dict(vnet='s{0:04d}'.format(n), alias='student{0}@pve'.format(n)) for n in range(300)]
    result, failed = sdn.run(pve_sdn_vnet.main, dict(zone='lab', vnets=vnets))
    assert not failed and len(result['items']) == 300 and len(sdn.pve.sdn['vnets']) == 300
    assert sdn.count('GET') == 2 and sdn.count('POST', '/cluster/sdn/vnets') == 300
    sdn.forget_requests()
    assert not sdn.run(pve_sdn_vnet.main, dict(zone='lab', vnets=vnets))[0]['changed']
    assert sdn.count('GET') == 2 and sdn.writes() == []
