"""SDN in the fake as pve-network has it (tests/fakecluster/sdn.py): pending until applied, PVE's refusals, NICs.

The `either_fake` tests also run on stock fakepve, where they must fail (strict xfail): it stores no SDN object.
"""

import pytest

from harness.test_stock_contrast import wait_task


def by_id(entries, key):
    return dict((entry[key], entry) for entry in entries)


def simple_lab(api):
    api.cluster.sdn.zones.post(zone='lab', type='simple')
    api.cluster.sdn.vnets.post(vnet='alice', zone='lab', alias='alice@pve')


# ------------------------------------------------------------ pending and apply

def test_a_new_vnet_is_pending_until_applied(either_fake):
    api = either_fake.api()
    simple_lab(api)
    pending = by_id(api.cluster.sdn.vnets.get(pending=1), 'vnet')
    assert pending['alice']['state'] == 'new'
    assert pending['alice']['pending'] == {'zone': 'lab', 'alias': 'alice@pve'}
    assert 'alice' not in by_id(api.cluster.sdn.vnets.get(running=1), 'vnet')
    wait_task(api, 'pve1', api.cluster.sdn.put())
    assert by_id(api.cluster.sdn.vnets.get(running=1), 'vnet')['alice']['alias'] == 'alice@pve'
    applied = by_id(api.cluster.sdn.vnets.get(pending=1), 'vnet')['alice']
    assert 'state' not in applied and 'pending' not in applied and applied['zone'] == 'lab'


def test_changed_and_deleted_objects_show_their_state(pve_api):
    simple_lab(pve_api)
    pve_api.cluster.sdn.vnets.post(vnet='bob', zone='lab')
    wait_task(pve_api, 'pve1', pve_api.cluster.sdn.put())
    pve_api.cluster.sdn.vnets('alice').put(alias='alice-renamed')
    pve_api.cluster.sdn.vnets('bob').delete()
    pending = by_id(pve_api.cluster.sdn.vnets.get(pending=1), 'vnet')
    assert pending['alice']['state'] == 'changed'
    assert pending['alice']['alias'] == 'alice@pve'  # the running value stays at the top
    assert pending['alice']['pending'] == {'alias': 'alice-renamed'}
    assert pending['bob']['state'] == 'deleted'
    pve_api.cluster.sdn.vnets('alice').put(delete='alias')
    assert by_id(pve_api.cluster.sdn.vnets.get(pending=1), 'vnet')['alice']['pending'] == {'alias': 'deleted'}
    # the plain list is the written configuration: bob is gone from it already
    assert set(by_id(pve_api.cluster.sdn.vnets.get(), 'vnet')) == {'alice'}


def test_apply_is_a_task_that_reloads_every_node(pve_api):
    simple_lab(pve_api)
    upid = pve_api.cluster.sdn.put()
    assert ':reloadnetworkall:' in upid
    assert wait_task(pve_api, 'pve1', upid)['exitstatus'] == 'OK'
    for node in ('pve1', 'pve2'):
        reloads = pve_api.nodes(node).tasks.get(typefilter='srvreload')
        assert [t['id'] for t in reloads] == ['networking'], node


# ------------------------------------------------------------------ refusals

# Ids are the schema's pattern and lengths (pve-network's `pve-sdn-zone-id`, `pve-sdn-vnet-id`), which stock
# fakepve checks as well: no contrast with it here.
@pytest.mark.parametrize('zone', ['lab-1', '1lab', 'toolongid', 'l'])
def test_zone_ids_follow_the_schema(pve_api, refused, zone):
    assert refused(pve_api.cluster.sdn.zones.post, zone=zone, type='simple')[0] == 400


def test_vnet_ids_are_at_most_eight_characters(pve_api, refused):
    pve_api.cluster.sdn.zones.post(zone='lab', type='simple')
    assert refused(pve_api.cluster.sdn.vnets.post, vnet='alice1234', zone='lab')[0] == 400
    pve_api.cluster.sdn.vnets.post(vnet='alice123', zone='lab')


def test_a_vlan_zone_needs_a_bridge(either_fake, refused):
    api = either_fake.api()
    status, message = refused(api.cluster.sdn.zones.post, zone='vl', type='vlan')
    assert status == 400 and 'bridge' in message


def test_vlan_tags_are_required_in_range_and_unique_per_zone(either_fake, refused):
    api = either_fake.api()
    api.cluster.sdn.zones.post(zone='vla', type='vlan', bridge='vmbr1')
    api.cluster.sdn.zones.post(zone='vlb', type='vlan', bridge='vmbr1')
    assert 'missing vlan tag' in refused(api.cluster.sdn.vnets.post, vnet='aa', zone='vla')[1]
    assert 'max value is 4096' in refused(api.cluster.sdn.vnets.post, vnet='aa', zone='vla', tag=4097)[1]
    api.cluster.sdn.vnets.post(vnet='aa', zone='vla', tag=2000)
    assert 'tag 2000 already exist in vnet aa' in refused(api.cluster.sdn.vnets.post, vnet='bb', zone='vla', tag=2000)[1]
    api.cluster.sdn.vnets.post(vnet='bb', zone='vlb', tag=2000)  # another zone may carry the same tag


def test_a_simple_zone_takes_no_tag(either_fake, refused):
    api = either_fake.api()
    api.cluster.sdn.zones.post(zone='lab', type='simple')
    assert 'not allowed on simple zone' in refused(api.cluster.sdn.vnets.post, vnet='aa', zone='lab', tag=5)[1]


def test_a_zone_with_vnets_is_not_deleted(either_fake, refused):
    api = either_fake.api()
    simple_lab(api)
    assert 'zone lab is used by vnet alice' in refused(api.cluster.sdn.zones('lab').delete)[1]
    api.cluster.sdn.vnets('alice').delete()
    api.cluster.sdn.zones('lab').delete()
    assert 'lab' not in by_id(api.cluster.sdn.zones.get(), 'zone')


def test_subnets_have_zone_cidr_ids_an_optional_gateway_and_block_their_vnet(either_fake, refused):
    api = either_fake.api()
    simple_lab(api)
    api.cluster.sdn.vnets('alice').subnets.post(subnet='10.1.0.0/24', type='subnet')
    api.cluster.sdn.vnets('alice').subnets.post(subnet='10.2.0.0/24', type='subnet', gateway='10.2.0.1', snat=1)
    subnets = by_id(api.cluster.sdn.vnets('alice').subnets.get(), 'subnet')
    assert set(subnets) == {'lab-10.1.0.0-24', 'lab-10.2.0.0-24'}
    assert 'gateway' not in subnets['lab-10.1.0.0-24'] and subnets['lab-10.2.0.0-24']['gateway'] == '10.2.0.1'
    assert 'is not in subnet' in refused(api.cluster.sdn.vnets('alice').subnets.post, subnet='10.3.0.0/24',
                                         type='subnet', gateway='10.9.0.1')[1]
    assert "Can't delete vnet if subnets exists" in refused(api.cluster.sdn.vnets('alice').delete)[1]
    api.cluster.sdn.vnets('alice').subnets('lab-10.1.0.0-24').delete()
    api.cluster.sdn.vnets('alice').subnets('lab-10.2.0.0-24').delete()
    api.cluster.sdn.vnets('alice').delete()


def test_a_vnet_a_guest_uses_may_be_deleted_as_in_pve(pve_api):
    """pve-network checks only subnets before deleting a VNet, not the guests' NICs."""
    simple_lab(pve_api)
    wait_task(pve_api, 'pve1', pve_api.cluster.sdn.put())
    pve_api.nodes('pve1').qemu(100).config.put(net1='virtio,bridge=alice')
    pve_api.cluster.sdn.vnets('alice').delete()
    assert 'alice' not in by_id(pve_api.cluster.sdn.vnets.get(), 'vnet')


# ----------------------------------------------------------------- guests' NICs

def test_a_vm_starts_on_a_vnet_only_once_it_is_applied(either_fake):
    api = either_fake.api()
    simple_lab(api)
    api.nodes('pve1').qemu(100).config.put(net1='virtio,bridge=alice')  # the config write refuses no bridge
    task = wait_task(api, 'pve1', api.nodes('pve1').qemu(100).status.start.post())
    assert task['exitstatus'] == "bridge 'alice' does not exist"
    wait_task(api, 'pve1', api.cluster.sdn.put())
    assert wait_task(api, 'pve1', api.nodes('pve1').qemu(100).status.start.post())['exitstatus'] == 'OK'


def test_a_container_starts_on_a_vnet_only_once_it_is_applied(either_fake):
    either_fake.pve.add_ct(300, 'ct-s1', node='pve1', config={'net0': 'name=eth0,bridge=alice,hwaddr=BC:24:11:00:03:00'})
    api = either_fake.api()
    simple_lab(api)
    task = wait_task(api, 'pve1', api.nodes('pve1').lxc(300).status.start.post())
    assert task['exitstatus'] == "startup for container '300' failed"
    wait_task(api, 'pve1', api.cluster.sdn.put())
    assert wait_task(api, 'pve1', api.nodes('pve1').lxc(300).status.start.post())['exitstatus'] == 'OK'


def test_a_zone_restricted_to_nodes_refuses_a_vm_elsewhere(pve_api):
    pve_api.cluster.sdn.zones.post(zone='lab', type='simple', nodes='pve2')
    pve_api.cluster.sdn.vnets.post(vnet='alice', zone='lab')
    wait_task(pve_api, 'pve1', pve_api.cluster.sdn.put())
    pve_api.nodes('pve1').qemu(100).config.put(net1='virtio,bridge=alice')
    task = wait_task(pve_api, 'pve1', pve_api.nodes('pve1').qemu(100).status.start.post())
    assert task['exitstatus'] == 'vnet alice is not allowed on this node'


def test_a_user_needs_sdn_use_on_the_vnet_in_its_zone(either_fake, refused):
    api = either_fake.api()
    simple_lab(api)
    api.access.users.post(userid='alice@pve', password='alice-password')
    api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMAdmin')
    api.access.acl.put(path='/sdn/zones/localnetwork', users='alice@pve', roles='PVESDNUser')
    alice = either_fake.api('alice@pve', 'alice-password')
    status, message = refused(alice.nodes('pve1').qemu(100).config.put, net1='virtio,bridge=alice')
    assert status == 403 and '/sdn/zones/lab/alice' in message
    api.access.acl.put(path='/sdn/zones/lab/alice', users='alice@pve', roles='PVESDNUser')
    alice.nodes('pve1').qemu(100).config.put(net1='virtio,bridge=alice')
    assert 'bridge=alice' in api.nodes('pve1').qemu(100).config.get()['net1']


def test_lists_show_only_what_the_user_may_see(pve_api, pve_cluster):
    simple_lab(pve_api)
    pve_api.cluster.sdn.vnets.post(vnet='bob', zone='lab')
    pve_api.access.users.post(userid='alice@pve', password='alice-password')
    pve_api.access.roles.post(roleid='UseOnly', privs='SDN.Use')
    pve_api.access.acl.put(path='/sdn/zones/lab/alice', users='alice@pve', roles='UseOnly')
    pve_api.access.acl.put(path='/sdn/zones/lab/bob', users='alice@pve', roles='PVEAuditor')
    alice = pve_cluster.api('alice@pve', 'alice-password')
    assert [v['vnet'] for v in alice.cluster.sdn.vnets.get()] == ['bob']  # SDN.Use alone does not list
    assert alice.cluster.sdn.zones.get() == []


def test_the_config_privilege_is_checked_before_the_bridge(pve_api, pve_cluster, refused):
    """qemu-server's update_vm: check_vm_modify_config_perm (VM.Config.Network) before check_bridge_access."""
    simple_lab(pve_api)
    pve_api.access.users.post(userid='alice@pve', password='alice-password')
    pve_api.access.acl.put(path='/vms/100', users='alice@pve', roles='PVEVMUser')
    alice = pve_cluster.api('alice@pve', 'alice-password')
    status, message = refused(alice.nodes('pve1').qemu(100).config.put, net1='virtio,bridge=alice')
    assert status == 403 and 'VM.Config.Network' in message
