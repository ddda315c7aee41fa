"""pve_sdn_zone against the fake's SDN (tests/fakecluster/sdn.py): written, pending, refused as pve-network does."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_sdn_zone
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.sdn_fake import sdn  # noqa: F401 pylint: disable=unused-import


def test_create_check_mode_idempotent_update_delete(sdn):
    args = dict(zone='pvelab', type='vlan', bridge='vmbr1')
    result, failed = sdn.run(pve_sdn_zone.main, args, check=True)
    assert not failed and result['changed'] and sdn.writes() == [] and sdn.pve.sdn['zones'] == {}
    result = sdn.run(pve_sdn_zone.main, args, diff=True)[0]
    assert result['changed'] and sdn.pve.sdn['zones'] == {'pvelab': {'type': 'vlan', 'bridge': 'vmbr1'}}
    assert result['items'][0]['changes'] == ['created'] and result['diff']['after']['bridge'] == 'vmbr1'
    assert sdn.pve.sdn_running['zones'] == {}           # written, not applied
    result = sdn.run(pve_sdn_zone.main, args)[0]
    assert not result['changed']
    result = sdn.run(pve_sdn_zone.main, dict(args, bridge='vmbr2', nodes=['pve1']))[0]
    assert result['items'][0]['changes'] == ['bridge', 'nodes']
    assert sdn.pve.sdn['zones']['pvelab'] == {'type': 'vlan', 'bridge': 'vmbr2', 'nodes': 'pve1'}
    result = sdn.run(pve_sdn_zone.main, dict(args, bridge='vmbr2', nodes=[]))[0]
    assert result['items'][0]['changes'] == ['nodes'] and 'nodes' not in sdn.pve.sdn['zones']['pvelab']
    result = sdn.run(pve_sdn_zone.main, dict(zone='pvelab', state='absent'))[0]
    assert result['changed'] and sdn.pve.sdn['zones'] == {}
    assert not sdn.run(pve_sdn_zone.main, dict(zone='pvelab', state='absent'))[0]['changed']


def test_list_form_one_read_and_one_write_each(sdn):
    zones = [dict(zone='z{0}'.format(n)) for n in range(12)]
    result, failed = sdn.run(pve_sdn_zone.main, dict(zones=zones))
    assert not failed and len(sdn.pve.sdn['zones']) == 12 and all(i['changed'] for i in result['items'])
    assert sdn.count('GET', '/cluster/sdn/zones') == 1 and sdn.count('POST', '/cluster/sdn/zones') == 12
    assert not sdn.run(pve_sdn_zone.main, dict(zones=zones))[0]['changed']


def test_bad_input_fails_before_any_write(sdn):
    for args, words in ((dict(zones=[dict(zone='ok'), dict(zone='toolongid')]), "zones[1] zone 'toolongid'"),
                        (dict(zone='lab-1'), "'lab-1'"),
                        (dict(zone='vl', type='vlan'), 'needs a bridge'),
                        (dict(zone='sz', bridge='vmbr1'), 'takes no bridge')):
        result, failed = sdn.run(pve_sdn_zone.main, args)
        assert failed and words in result['msg'] and sdn.writes() == [], args
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    result, failed = sdn.run(pve_sdn_zone.main, dict(zone='lab', type='vlan', bridge='vmbr1'))
    assert failed and 'cannot change' in result['msg'] and sdn.pve.sdn['zones']['lab'] == {'type': 'simple'}


def test_a_zone_with_vnets_is_refused_by_pve_and_named(sdn):
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.pve.sdn['vnets']['alice'] = {'zone': 'lab', 'type': 'vnet'}
    result, failed = sdn.run(pve_sdn_zone.main, dict(zone='lab', state='absent'))
    assert failed and 'used by vnet alice' in result['msg'] and not result['items'][0]['changed']
    assert 'lab' in sdn.pve.sdn['zones']
