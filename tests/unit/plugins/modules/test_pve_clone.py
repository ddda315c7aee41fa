"""pve_clone against the fake PVE (LabPve, guest_fake.py): idempotency by name, vmid allocation and races,
placement input checks, failures reported by name, check mode."""

from unittest import mock

from ansible.module_utils.basic import AnsibleModule
from fakepve.model import TaskError

from ansible_collections.pvelab.proxmox.plugins.modules import pve_clone
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import


def clone(served, check=False, diff=False, **args):
    args.setdefault('template', 'tmpl-debian')
    return served.run(pve_clone.main, args, check=check, diff=diff)


def test_single_clone_is_idempotent_by_name(served):
    result, failed = clone(served, name='alice', check=True)
    assert not failed and result['changed'] and result['vmid'] == 104 and result['items'][0]['status'] == 'planned'
    assert served.writes() == []
    result, failed = clone(served, name='alice', diff=True)
    assert not failed and result['changed'] and result['vmid'] == 104
    vm = served.vm_named('alice')
    assert vm.vmid == 104 and vm.node == result['node'] and not vm.lock
    assert result['diff'] == {'before': {}, 'after': {'alice': {'vmid': 104, 'node': result['node']}}}
    writes = len(served.writes())
    result, failed = clone(served, name='alice')
    assert not failed and not result['changed'] and result['vmid'] == 104 and result['items'][0]['status'] == 'exists'
    assert result['items'] == [dict(key='alice', name='alice', vmid=104, node=result['node'], changed=False,
                                    status='exists')]
    assert len(served.writes()) == writes
    assert len([vm for vm in served.pve.vms if vm.name == 'alice']) == 1


def test_a_clone_pvestatd_has_not_reported_yet_is_found_by_name(served):
    # A re-run within pvestatd's 10 s of the clone's end: /cluster/resources has the new VM without its name.
    served.hold_statd()
    result, failed = clone(served, name='carol')
    assert not failed and result['changed']
    vmid = result['vmid']
    assert [(r['status'], r.get('name')) for r in served.resources() if r.get('vmid') == vmid] == [('unknown', None)]
    writes = len(served.writes())
    result, failed = clone(served, name='carol')
    assert not failed and not result['changed'] and result['items'][0]['status'] == 'exists'
    assert result['vmid'] == vmid and len(served.writes()) == writes


def test_existing_newid_is_never_the_source(served):
    # community.proxmox returns the source vmid here (its #404); the module names the conflict instead.
    result, failed = clone(served, name='bob', newid=101)
    assert failed and 'newid 101' in result['msg'] and "'web01'" in result['msg'] and served.writes() == []
    result, failed = clone(served, name='bob', newid=500)
    assert not failed and result['vmid'] == 500
    result, failed = clone(served, name='bob', newid=501)
    assert failed and 'exists with vmid 500' in result['msg']


def test_refusals_before_anything_is_written(served):
    result, failed = clone(served, name='x', template='web01')
    assert failed and 'not a template' in result['msg']
    result, failed = clone(served, name='x', template='nope')
    assert failed and "'nope' not found" in result['msg']
    result, failed = clone(served, name='x', template='dup')
    assert failed and 'matches 2 guests' in result['msg']
    result, failed = clone(served, clones=[{'name': 'dup'}, {'name': 'bad_name'}, {'name': 'ok1'}, {'name': 'ok1'}])
    assert failed and 'bad_name' in result['msg'] and "'ok1' is asked for twice" in result['msg']
    result, failed = clone(served, clones=[{'name': 'dup'}])
    assert failed and 'matches 2 guests' in result['msg']
    result, failed = clone(served, name='x', node='pve9')
    assert failed and "node 'pve9' is not in the cluster" in result['msg']
    result, failed = clone(served, name='x', pool='nopool')
    assert failed and 'pool nopool does not exist' in result['msg']
    result, failed = clone(served, name='x', full=False, storage='shared')
    assert failed and 'full clones only' in result['msg']
    assert served.writes() == []


def test_non_template_only_when_asked(served):
    result, failed = clone(served, name='copy', template='101', allow_non_template=True, node='pve2')
    assert not failed and result['changed'] and served.vm_named('copy').node == 'pve2'


def test_bulk_with_floor_pool_tags_and_description(served):
    names = ['s{0}'.format(n) for n in range(6)]
    result, failed = clone(served, clones=[{'name': n} for n in names] + [{'name': 'teach', 'tags': ['t1']}],
                           vmid_floor=2000, pool='lab', tags=['lab', 'x'], description='student VM', parallel=3)
    assert not failed, result['msg']
    assert [c['vmid'] for c in result['items']] == list(range(2000, 2007))
    assert [c['key'] for c in result['items']] == [c['name'] for c in result['items']] == names + ['teach']
    for entry in result['items']:
        vm = served.vm_named(entry['name'])
        assert vm.vmid == entry['vmid'] and vm.node == entry['node'] and vm.pool == 'lab'
        assert vm.config['description'] == 'student VM'
    assert served.vm_named('s0').config['tags'] == 'lab;x'
    assert served.vm_named('teach').config['tags'] == 't1'
    # the projection spreads them over every node; pve1 runs the teacher (4 GiB), so it gets the fewest
    nodes = [c['node'] for c in result['items']]
    assert len(set(nodes)) == 3 and nodes.count('pve1') < min(nodes.count('pve2'), nodes.count('pve3'))


def test_collision_takes_the_next_id(served):
    # Another client took 2000 between our cluster read and the clone: PVE says the config file exists.
    served.pve.fail('POST', '/nodes/pve1/qemu/9000/clone', 500, 'unable to create VM 2000: config file already exists',
                    times=1)
    result, failed = clone(served, name='racer', vmid_floor=2000)
    assert not failed and result['vmid'] == 2001 and served.vm_named('racer').vmid == 2001


def test_failed_clone_is_reported_by_name_and_the_rest_are_made(served):
    original = served.pve.ceph_io

    async def ceph_io(vm, keys=None):
        if vm.name == 'broken':
            raise TaskError('storage I/O error')
        return await original(vm, keys)
    served.pve.ceph_io = ceph_io
    result, failed = clone(served, clones=[{'name': 'fine1'}, {'name': 'broken'}, {'name': 'fine2'}])
    assert failed and result['msg'].startswith('1 of 3 clones failed: broken: ')
    assert 'storage I/O error' in result['msg']
    states = dict((c['name'], c['status']) for c in result['items'])
    assert states == {'fine1': 'created', 'broken': 'failed', 'fine2': 'created'}
    assert result['changed'] and served.vm_named('broken') is None
    served.pve.ceph_io = original
    result, failed = clone(served, clones=[{'name': 'fine1'}, {'name': 'broken'}, {'name': 'fine2'}])
    assert not failed and [c['changed'] for c in result['items']] == [False, True, False]


def test_half_made_clone_is_removed(served):
    original = served.pve.task

    async def task(node, ttype, tid, user, body, vm=None, lock=True, log=()):
        if ttype == 'qmclone' and vm is not None and vm.name == 'stuck':
            async def body():  # noqa: F811 - the clone dies after PVE wrote the config, leaving lock 'clone'
                raise TaskError('clone failed: interrupted by signal')
        return await original(node, ttype, tid, user, body, vm=vm, lock=lock, log=log)
    served.pve.task = task
    result, failed = clone(served, name='stuck')
    assert failed and 'interrupted by signal' in result['msg'] and 'was removed' in result['msg']
    assert served.vm_named('stuck') is None and result['vmid'] is None
    served.pve.task = original
    result, failed = clone(served, name='stuck')
    assert not failed and result['changed'] and served.vm_named('stuck').lock is None


def test_local_storage_template_stays_on_its_node(served):
    served.pve.add_vm(9001, 'tmpl-local', node='pve2', template=True,
                      config={'memory': 512, 'scsi0': 'local-lvm:base-9001-disk-0,size=2G', 'template': 1})
    result, failed = clone(served, name='y', template='tmpl-local', node='pve1')
    assert failed and 'local storage local-lvm' in result['msg'] and served.writes() == []
    # Where a module's warning ends up depends on the ansible-core version and on whether controller code ran
    # earlier in this process (then it is displayed at once), so catch it where the module gives it.
    warned = []
    real_warn = AnsibleModule.warn
    with mock.patch.object(AnsibleModule, 'warn', autospec=True,
                           side_effect=lambda module, msg, *a, **kw: (warned.append(msg), real_warn(module, msg))[1]):
        result, failed = clone(served, clones=[{'name': 'y1'}, {'name': 'y2'}], template='tmpl-local', check=True)
    assert not failed and set(c['node'] for c in result['items']) == {'pve2'}
    assert any('local storage' in str(w) for w in warned)


def test_placement_memory_counts_for_the_guest_it_is_given(served):
    # A first clone that counts for far more than the template (a student's machines that follow it) fills its
    # node's projection: none of the next clones goes there, while without it one of them does.
    names = [{'name': 'p{0}'.format(n)} for n in range(1, 6)]
    result, failed = clone(served, check=True, clones=names)
    nodes = [i['node'] for i in result['items']]
    assert not failed and nodes[0] in nodes[1:]
    result, failed = clone(served, check=True, clones=[dict(names[0], placement_memory=1024 * 1024)] + names[1:])
    again = [i['node'] for i in result['items']]
    assert not failed and again[0] == nodes[0] and again[0] not in again[1:]
    # a guest given its node counts the same way
    result, failed = clone(served, check=True, clones=[dict(names[0], node=nodes[1], placement_memory=1024 * 1024)]
                           + names[1:])
    again = [i['node'] for i in result['items']]
    assert not failed and again[0] == nodes[1] and nodes[1] not in again[1:]
    result, failed = clone(served, check=True, clones=[{'name': 'p1', 'placement_memory': 0}])
    assert failed and 'p1 placement_memory must be at least 1' in result['msg'] and served.writes() == []
