"""pve_sdn_subnet against the fake's SDN (tests/fakecluster/sdn.py): PVE's subnet ids, an optional gateway."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_sdn_subnet, pve_sdn_vnet, pve_sdn_zone
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.sdn_fake import sdn  # noqa: F401 pylint: disable=unused-import


def vnets(sdn):
    sdn.run(pve_sdn_zone.main, dict(zone='lab'))
    sdn.run(pve_sdn_vnet.main, dict(zone='lab', vnets=[dict(vnet='s1'), dict(vnet='s2')]))
    sdn.forget_requests()


def test_create_check_mode_idempotent_update_delete(sdn):
    vnets(sdn)
    args = dict(subnets=[dict(vnet='s1', subnet='10.1.0.0/24'), dict(vnet='s2', subnet='10.2.0.0/24', gateway='10.2.0.1')])
    result, failed = sdn.run(pve_sdn_subnet.main, args, check=True)
    assert not failed and result['changed'] and sdn.writes() == []
    result = sdn.run(pve_sdn_subnet.main, args, diff=True)[0]
    assert sdn.pve.sdn['subnets'] == {'lab-10.1.0.0-24': {'vnet': 's1', 'type': 'subnet'},
                                      'lab-10.2.0.0-24': {'vnet': 's2', 'type': 'subnet', 'gateway': '10.2.0.1'}}
    assert [i['subnet'] for i in result['items']] == ['lab-10.1.0.0-24', 'lab-10.2.0.0-24']
    assert 'gateway' not in result['items'][0] and result['items'][1]['gateway'] == '10.2.0.1'
    assert not sdn.run(pve_sdn_subnet.main, args)[0]['changed']
    result = sdn.run(pve_sdn_subnet.main, dict(vnet='s2', subnet='10.2.0.0/24', gateway='', snat=True))[0]
    assert result['items'][0]['changes'] == ['gateway', 'snat']
    assert sdn.pve.sdn['subnets']['lab-10.2.0.0-24'] == {'vnet': 's2', 'type': 'subnet', 'snat': 1}
    result = sdn.run(pve_sdn_subnet.main, dict(args, state='absent'))[0]
    assert result['changed'] and sdn.pve.sdn['subnets'] == {}
    assert not sdn.run(pve_sdn_subnet.main, dict(args, state='absent'))[0]['changed']


def test_bad_input_fails_before_any_write(sdn):
    vnets(sdn)
    for args, words in ((dict(vnet='s1', subnet='10.1.0.0'), 'not a CIDR'),
                        (dict(vnet='s1', subnet='10.1.0.0/33'), 'not a CIDR'),
                        (dict(vnet='s1', subnet='10.1.0.0/24', gateway='10.9.0.1'), 'is not in subnet'),
                        (dict(vnet='nonet', subnet='10.1.0.0/24'), 'vnet nonet does not exist'),
                        (dict(subnet='10.1.0.0/24'), 'vnet is required')):
        result, failed = sdn.run(pve_sdn_subnet.main, args)
        assert failed and words in result['msg'] and sdn.writes() == [], args
