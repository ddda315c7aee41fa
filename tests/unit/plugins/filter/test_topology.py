"""The topology lab's plan (plugins/filter/topology.py): machines, VMs, VNets, NICs and isolation, before any write."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.filter import topology as topo
from ansible_collections.pvelab.proxmox.plugins.filter.lab import lab_dropped, lab_plan, lab_roster

MACHINES = [{'name': 'router', 'template': 'tmpl-router', 'nets': ['uplink', 'private']},
            {'name': 'client', 'template': 'tmpl-debian', 'nets': ['private'], 'memory': 512}]


def specs(machines=None, **kw):
    return topo.lab_machine_specs(MACHINES if machines is None else machines, **kw)


def plan(names=('ann', 'ben'), machines=None):
    return lab_plan([{'username': n} for n in names], 'netadmin', machines=specs(machines))


def refused(match, fn, *args, **kw):
    with pytest.raises(AnsibleFilterError, match=match):
        fn(*args, **kw)


def test_machines_are_checked_naming_the_entry():
    assert specs()[1] == {'name': 'client', 'template': 'tmpl-debian', 'nets': ['private'], 'cores': None,
                          'memory': 512}
    assert topo.lab_machine_specs([], 'tmpl-debian') == [
        {'name': '', 'template': 'tmpl-debian', 'nets': None, 'cores': None, 'memory': None}]
    refused('lab_template: give lab_template', topo.lab_machine_specs, [], '')
    assert topo.lab_machine_specs([], '', required=False)[0]['template'] is None
    refused('lab_machines: lab_template is given too', topo.lab_machine_specs, MACHINES, 'tmpl')
    refused(r"lab_machines\[1\]: machine name 'router' is already lab_machines\[0\]", specs,
            [MACHINES[0], dict(MACHINES[1], name='router')])
    refused(r"lab_machines\[1\].nets\[0\]: 'dmz' is neither uplink", specs, [MACHINES[0], dict(MACHINES[1], nets=['dmz'])])
    refused(r'lab_machines\[0\].nets: must be a list', specs, [dict(MACHINES[0], nets=[])])
    refused(r'lab_machines\[0\]: unknown keys disk', specs, [dict(MACHINES[0], disk=8)])
    refused(r"lab_machines\[0\]: machine 'router' needs a template", specs, [{'name': 'router'}])
    refused(r'lab_machines\[1\].memory: must be a whole number', specs, [MACHINES[0], dict(MACHINES[1], memory=0)])


def test_plan_names_each_students_machines():
    p = plan()
    assert p[0]['vm_name'] == 'netadmin-ann-router'
    assert p[0]['machines'] == {'router': 'netadmin-ann-router', 'client': 'netadmin-ann-client'}
    assert p[1]['vm_names'] == ['netadmin-ben-router', 'netadmin-ben-client']
    # a lab_template lab: one VM, no machines
    single = lab_plan([{'username': 'ann'}], 'netadmin', machines=topo.lab_machine_specs([], 'tmpl'))
    assert single[0]['vm_names'] == ['netadmin-ann'] and 'machines' not in single[0]


def test_a_machine_name_that_makes_a_vm_name_pve_refuses_is_refused():
    refused(r"lab_machines\[0\] name 'my router'", plan, ('ann',), [dict(MACHINES[0], name='my router')])
    refused(r"lab_machines\[0\] name 'r_1'", plan, ('ann',), [dict(MACHINES[0], name='r_1')])
    # ann's machine "b-client" and the student "ann-b"'s "client" would share a VM name
    refused('is also a VM name of', lab_plan, [{'username': 'ann'}, {'username': 'ann-b'}], 'netadmin',
            machines=specs([dict(MACHINES[0], name='b-client'), MACHINES[1]]))


def test_vms_of_the_plan_student_by_student():
    vms = topo.lab_vms(plan(), specs())
    assert [(v['username'], v['machine'], v['vm_name'], v['nets']) for v in vms] == [
        ('ann', 'router', 'netadmin-ann-router', ['uplink', 'private']),
        ('ann', 'client', 'netadmin-ann-client', ['private']),
        ('ben', 'router', 'netadmin-ben-router', ['uplink', 'private']),
        ('ben', 'client', 'netadmin-ben-client', ['private'])]
    assert vms[1]['memory'] == 512


GUESTS = [{'vmid': 9000, 'name': 'tmpl-debian', 'node': 'pve1', 'template': True, 'type': 'qemu',
           'maxmem': 2048 * 1024 * 1024},
          {'vmid': 9001, 'name': 'tmpl-router', 'node': 'pve1', 'template': True, 'type': 'qemu',
           'maxmem': 1024 * 1024 * 1024},
          {'vmid': 8000, 'name': 'ct', 'node': 'pve1', 'template': True, 'type': 'lxc', 'maxmem': 0},
          {'vmid': 100, 'name': 'teacher', 'node': 'pve1', 'template': False, 'type': 'qemu'}]


def test_templates_and_the_memory_placement_counts():
    t = topo.lab_machine_templates(specs(), GUESTS)
    assert t['router']['vmid'] == 9001 and t['router']['memory'] == 1024 and t['client']['memory'] == 512
    assert topo.lab_machine_templates(specs(), GUESTS, memory=768)['router']['memory'] == 768
    vms = topo.lab_vms(plan(), specs())
    assert topo.lab_student_memory(vms, t) == {'ann': 1536, 'ben': 1536}
    refused(r'lab_machines\[0\].template teacher: is not a template', topo.lab_machine_templates,
            specs([dict(MACHINES[0], template='teacher')]), GUESTS)
    refused(r'lab_machines\[0\].template 8000: is a container template', topo.lab_machine_templates,
            specs([dict(MACHINES[0], template='8000')]), GUESTS)
    refused(r'lab_template nope: no such VM', topo.lab_machine_templates, topo.lab_machine_specs([], 'nope'), GUESTS)


def test_a_students_machines_follow_the_first_one():
    vms = topo.lab_vms(plan(), specs())
    # ben's client survived (say, a rebuild failed halfway): ben's router goes to its node
    guests = GUESTS + [{'vmid': 302, 'name': 'netadmin-ben-client', 'node': 'pve3', 'template': False}]
    assert topo.lab_anchor_nodes(vms, guests, specs()) == {'ben': 'pve3'}
    clones = [{'name': 'netadmin-ann-router', 'vmid': 301, 'node': 'pve2'},
              {'name': 'netadmin-ben-router', 'vmid': 303, 'node': 'pve3'}]
    assert topo.lab_clone_nodes(vms, clones) == {'ann': 'pve2', 'ben': 'pve3'}


def sdn(zones=(), vnets=()):
    return {'zones': list(zones), 'vnets': list(vnets), 'pending': False}


def test_vnet_plan_new_ids_kept_by_alias_and_dropped():
    p = plan(('ann', 'ben', 'cat'))
    read = sdn([{'zone': 'labs', 'type': 'simple', 'pending': False}],
               [{'vnet': 'neta0001', 'zone': 'labs', 'alias': 'someone else', 'tag': None},
                {'vnet': 'neta0002', 'zone': 'labs', 'alias': 'pvelab:netadmin ben@pve', 'tag': None, 'pending': True},
                {'vnet': 'neta0004', 'zone': 'labs', 'alias': 'pvelab:netadmin zed@pve', 'tag': None}])
    out = topo.lab_vnet_plan(p, read, 'netadmin', 'labs')
    assert out['vnets'] == {'ann@pve': 'neta0003', 'ben@pve': 'neta0002', 'cat@pve': 'neta0005'}
    assert out['create'] == [{'vnet': 'neta0003', 'zone': 'labs', 'alias': 'pvelab:netadmin ann@pve'},
                             {'vnet': 'neta0005', 'zone': 'labs', 'alias': 'pvelab:netadmin cat@pve'}]
    assert out['dropped'] == ['neta0004']
    assert out['zone_exists'] and out['zone_pending'], 'ben\'s VNet waits for an apply'
    # with lab_only (class_plan none) nobody is dropped
    assert topo.lab_vnet_plan(p[:1], read, 'netadmin', 'labs', class_plan=p)['dropped'] == ['neta0004']


def test_vlan_tags_are_free_on_the_bridge_and_a_small_range_is_refused():
    p = plan(('ann', 'ben', 'cat'))
    read = sdn([{'zone': 'other', 'type': 'vlan', 'bridge': 'vmbr1'}, {'zone': 'far', 'type': 'vlan', 'bridge': 'vmbr2'}],
               [{'vnet': 'o1', 'zone': 'other', 'alias': '', 'tag': 2000},
                {'vnet': 'o2', 'zone': 'other', 'alias': '', 'tag': 2002},
                {'vnet': 'f1', 'zone': 'far', 'alias': '', 'tag': 2001}])
    out = topo.lab_vnet_plan(p, read, 'netadmin', 'labv', 'vlan', 'vmbr1', [2000, 2010])
    assert [c['tag'] for c in out['create']] == [2001, 2003, 2004]
    assert not out['zone_exists']
    refused(r'lab_sdn_vlan_range: 2000 to 2003 has 2 tags free on bridge vmbr1 .* needs 3', topo.lab_vnet_plan, p,
            read, 'netadmin', 'labv', 'vlan', 'vmbr1', [2000, 2003])
    refused('lab_sdn_vlan_range: must be', topo.lab_vnet_plan, p, read, 'netadmin', 'labv', 'vlan', 'vmbr1', [2000])
    refused('lab_sdn_vlan_range 5000 is out of range', topo.lab_vnet_plan, p, read, 'netadmin', 'labv', 'vlan', 'vmbr1',
            [2000, 5000])
    refused('lab_sdn_bridge: a vlan zone needs', topo.lab_vnet_plan, p, read, 'netadmin', 'labv', 'vlan', '')
    refused('lab_sdn_zone: zone other exists as a vlan zone, not simple', topo.lab_vnet_plan, p, read, 'netadmin',
            'other')
    refused('lab_sdn_bridge: zone other exists on bridge vmbr1, not vmbr2', topo.lab_vnet_plan, p, read, 'netadmin',
            'other', 'vlan', 'vmbr2', [2000, 2010])
    refused("lab_sdn_zone 'lab-zone' is not a PVE SDN id", topo.lab_vnet_plan, p, read, 'netadmin', 'lab-zone')
    refused("lab_sdn_zone 'toolongzone' is not a PVE SDN id", topo.lab_vnet_plan, p, read, 'netadmin', 'toolongzone')
    refused("lab_sdn_zone_type: 'evpn' is not one of", topo.lab_vnet_plan, p, read, 'netadmin', 'labs', 'evpn')


def test_nics_isolation_and_start():
    vms = topo.lab_vms(plan(('ann',)), specs())
    clones = [{'name': 'netadmin-ann-router', 'vmid': 301}, {'name': 'netadmin-ann-client', 'vmid': 302}]
    nets = {'ann@pve': 'neta0001'}
    assert topo.lab_nic_specs(vms, clones, 'vmbr0', nets) == {
        301: {'net0': {'bridge': 'vmbr0', 'firewall': 1}, 'net1': {'bridge': 'neta0001'}},
        302: {'net0': {'bridge': 'neta0001'}}}
    # a VM running when the run began is the student's: its NICs are not touched
    assert list(topo.lab_nic_specs(vms, clones, 'vmbr0', nets, running=[301])) == [302]
    assert topo.lab_isolation_nets(vms, clones) == {'vmids': [301], 'nets': {'301': ['net0']}}
    single = topo.lab_vms(lab_plan([{'username': 'ann'}], 'l1'))
    assert topo.lab_isolation_nets(single, [{'name': 'l1-ann', 'vmid': 5}]) == {'vmids': [5], 'nets': {}}
    assert topo.lab_start_specs([301, 302], [302], True) == [
        {'vmid': 301, 'state': 'started', 'wait_for_ip': True}, {'vmid': 302, 'state': 'started', 'wait_for_ip': False}]


def test_roster_rows_per_vm_and_dropped_machines():
    p = plan(('ann',))
    vms = topo.lab_vms(p, specs())
    clones = [{'name': 'netadmin-ann-router', 'vmid': 301, 'node': 'pve1'},
              {'name': 'netadmin-ann-client', 'vmid': 302, 'node': 'pve1'}]
    rows = lab_roster(vms, clones, [{'vmid': 301, 'ip': '10.0.0.5'}], 'https://pve:8006',
                      networks={'ann@pve': 'neta0001'})
    assert [(r['machine'], r['network'], r['ip']) for r in rows] == [
        ('router', 'neta0001', '10.0.0.5'), ('client', 'neta0001', '')]
    guests = [dict(c, pool='netadmin', tags=['netadmin']) for c in clones] + [
        {'name': 'netadmin-zed-router', 'vmid': 303, 'pool': 'netadmin', 'tags': ['netadmin']},
        {'name': 'netadmin-zed-client', 'vmid': 304, 'pool': 'netadmin', 'tags': ['netadmin']}]
    accounts = [{'userid': 'zed@pve', 'lab_kind': 'student'}]
    out = lab_dropped(p, guests, accounts, 'netadmin', warn=False, machines=['router', 'client'])
    assert out['vmids'] == [303, 304] and out['userids'] == ['zed@pve']


def test_teardown_removes_the_labs_vnets_and_a_zone_it_made_once_empty():
    read = sdn([{'zone': 'labs', 'type': 'simple'}],
               [{'vnet': 'neta0001', 'zone': 'labs', 'alias': 'pvelab:netadmin ann@pve'},
                {'vnet': 'x1', 'zone': 'labs', 'alias': 'pvelab:other ann@pve'}])
    assert topo.lab_sdn_teardown(read, 'netadmin', 'labs') == {'vnets': ['neta0001'], 'zone': ''}
    read['vnets'].pop()
    assert topo.lab_sdn_teardown(read, 'netadmin', 'labs') == {'vnets': ['neta0001'], 'zone': 'labs'}
    assert topo.lab_sdn_teardown(read, 'netadmin', '') == {'vnets': ['neta0001'], 'zone': ''}
    assert topo.lab_pool_comment('netadmin', 'labs') == 'pvelab.proxmox lab netadmin, made SDN zone labs'
    assert topo.lab_made_zone(topo.lab_pool_comment('netadmin', 'labs')) == 'labs'
    assert topo.lab_made_zone(topo.lab_pool_comment('netadmin')) == ''
    assert topo.lab_nic_bridge('virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1') == 'vmbr0'
    assert topo.lab_nic_bridge('') == ''
