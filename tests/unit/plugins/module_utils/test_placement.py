"""vmid allocation and node placement: pure logic on plain /cluster/resources dicts."""

import random
import threading

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._placement import (
    Placer,
    VmidAllocator,
    clone_targets,
    is_vmid_collision,
    node_loads,
    storage_table,
    volumes_of,
)

GiB = 1024 ** 3


def node(name, maxmem_gib, mem_gib, online=True):
    entry = {'type': 'node', 'node': name, 'status': 'online' if online else 'offline'}
    if online:
        entry.update(maxmem=maxmem_gib * GiB, mem=mem_gib * GiB)
    return entry


def guest(vmid, node_name, status='running', maxmem_gib=2, template=0, kind='qemu'):
    return {'type': kind, 'vmid': vmid, 'node': node_name, 'status': status, 'maxmem': maxmem_gib * GiB,
            'template': template}


# The demo cluster: free 26, 54 and 46 GiB (teacher runs on pve1, web01 on pve2; both in `mem`).
DEMO = [node('pve1', 32, 6), node('pve2', 64, 10), node('pve3', 48, 2),
        guest(9000, 'pve1', 'stopped', 2, template=1), guest(100, 'pve1', maxmem_gib=4), guest(101, 'pve2', maxmem_gib=8)]


# ------------------------------------------------------------------ allocation

def test_smallest_free_at_or_above_floor():
    alloc = VmidAllocator({100, 101, 103, 2000, 2001}, floor=100)
    assert [alloc.allocate() for dummy in range(3)] == [102, 104, 105]
    alloc = VmidAllocator({2000, 2001, 2003}, floor=2000)
    assert alloc.planned(3) == [2002, 2004, 2005]
    assert alloc.allocate() == 2002 and alloc.planned(1) == [2004]


def test_floor_below_pve_minimum_is_raised():
    assert VmidAllocator(set(), floor=1).allocate() == 100


def test_reserve_taken_release():
    alloc = VmidAllocator({100}, floor=100)
    assert not alloc.reserve(100)
    assert alloc.reserve(150) and not alloc.reserve(150)
    first = alloc.allocate()
    assert first == 101
    alloc.taken(102)                       # another playbook got 102 first
    assert alloc.allocate() == 103
    alloc.release(first)                   # 101 was refused for another reason: free again
    assert alloc.allocate() == 101
    assert alloc.allocate() == 104


def test_exhausted_range():
    alloc = VmidAllocator({100, 101}, floor=100, maximum=101)
    with pytest.raises(PveError, match='no free vmid'):
        alloc.allocate()


def test_threads_never_get_the_same_id():
    alloc = VmidAllocator(set(range(100, 200, 3)), floor=100)
    got, lock = [], threading.Lock()

    def grab():
        for dummy in range(50):
            vmid = alloc.allocate()
            with lock:
                got.append(vmid)
    threads = [threading.Thread(target=grab) for dummy in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == len(set(got)) == 400
    assert not set(got) & set(range(100, 200, 3))


@pytest.mark.parametrize('message, vmid, expected', [
    ('POST /nodes/pve1/qemu/9000/clone: HTTP 500: unable to create VM 2001: config file already exists', 2001, True),
    ("unable to create VM 105 - VM 105 already exists on node 'pve2'", 105, True),
    ("clone failed: can't lock file '/var/lock/qemu-server/lock-2001.conf' - got timeout", 2001, True),
    ("unable to open file '/etc/pve/nodes/pve1/qemu-server/2001.conf.tmp.123' - File exists", 2001, True),
    ("can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout", 2001, False),
    ('clone failed: storage full', 2001, False),
    ("snapshot 'x' already exists", 2001, False),
])
def test_collision_messages(message, vmid, expected):
    assert is_vmid_collision(message, vmid) is expected


# --------------------------------------------------------------------- storage

def test_volumes_of_counts_what_pve_checks():
    config = {'scsi0': 'shared-nfs:9000/base-9000-disk-0.qcow2,size=8G', 'ide2': 'local:iso/debian.iso,media=cdrom',
              'ide0': 'local-lvm:vm-9000-cloudinit,media=cdrom', 'ide1': 'none,media=cdrom', 'sata0': 'cdrom,media=cdrom',
              'virtio1': '/dev/sdb', 'efidisk0': 'shared-nfs:9000/base-9000-disk-1.raw,size=528K',
              'net0': 'virtio=BC:24:11:00:00:01,bridge=vmbr0', 'unused0': 'local-lvm:vm-9000-disk-5'}
    assert volumes_of(config) == {'shared-nfs': ['efidisk0', 'scsi0'], 'local': ['ide2'], 'local-lvm': ['ide0']}
    assert volumes_of({'rootfs': 'local-lvm:subvol-200-disk-0,size=8G', 'mp0': 'nfs:200/vm-200-disk-1.raw,mp=/srv'}) \
        == {'local-lvm': ['rootfs'], 'nfs': ['mp0']}


STORAGE = [{'type': 'storage', 'storage': s, 'node': n, 'shared': shared}
           for s, shared, nodes in (('local', 0, 'abc'), ('local-lvm', 0, 'abc'), ('nfs', 1, 'abc'), ('ceph', 1, 'ab'))
           for n in ('pve' + c for c in nodes)]
ALL = ['pvea', 'pveb', 'pvec']


def test_clone_targets():
    table = storage_table(STORAGE)
    assert table['nfs'] == {'shared': True, 'nodes': {'pvea', 'pveb', 'pvec'}} and not table['local']['shared']
    assert clone_targets('pvea', {'nfs': ['scsi0']}, table, nodes=ALL) == (None, None)
    nodes, why = clone_targets('pvea', {'nfs': ['scsi0'], 'local-lvm': ['ide0']}, table, nodes=ALL)
    assert nodes == {'pvea'} and 'local storage local-lvm (ide0)' in why
    nodes, why = clone_targets('pvea', {'nfs': ['scsi0']}, table, storage='local-lvm', nodes=ALL)
    assert nodes == {'pvea'} and "storage 'local-lvm' is not shared" in why
    nodes, why = clone_targets('pveb', {'ceph': ['scsi0']}, table, nodes=ALL)
    assert nodes == {'pvea', 'pveb'} and 'enabled only on pvea, pveb' in why
    assert clone_targets('pvea', {'unknown': ['scsi0']}, table, nodes=ALL) == (None, None)


# ------------------------------------------------------------------- placement

def test_node_loads_count_stopped_guests_and_skip_templates():
    resources = DEMO + [guest(200, 'pve3', 'stopped', 4), guest(201, 'pve3', 'stopped', 1, kind='lxc'),
                        node('pve4', 8, 0, online=False)]
    loads = node_loads(resources)
    assert loads['pve1'] == {'online': True, 'maxmem': 32 * GiB, 'used': 6 * GiB, 'guests': 1}
    assert loads['pve3'] == {'online': True, 'maxmem': 48 * GiB, 'used': 7 * GiB, 'guests': 2}
    assert loads['pve4'] == {'online': False, 'maxmem': 0, 'used': 0, 'guests': 0}


def test_memory_spreads_a_bulk_by_projection():
    placer = Placer(node_loads(DEMO), 'memory', need=2 * GiB)
    chosen = [placer.choose() for dummy in range(30)]
    assert chosen[:4] == ['pve2'] * 4          # 54 GiB free until it is level with pve3 (46)
    assert {n: chosen.count(n) for n in set(chosen)} == {'pve1': 2, 'pve2': 16, 'pve3': 12}
    free = [placer.free(n) // GiB for n in ('pve1', 'pve2', 'pve3')]
    assert max(free) - min(free) <= 2


def test_a_guest_that_stands_for_a_group_counts_its_need():
    """placement_memory: a student's first machine counts for all their machines, which follow it onto its node."""
    loads = node_loads([node('a', 16, 0), node('b', 16, 0)])
    placer = Placer(loads, 'memory', need=1 * GiB)
    assert placer.choose(need=6 * GiB) == 'a'
    assert placer.choose() == 'b' and placer.choose() == 'b'       # a has 10 GiB free, b 15 then 14
    assert placer.free('a') == 10 * GiB and placer.free('b') == 14 * GiB
    placer.place('b', need=5 * GiB)
    assert placer.free('b') == 9 * GiB and placer.choose() == 'a'


def test_memory_percent():
    loads = node_loads([node('a', 100, 50), node('b', 10, 2)])
    placer = Placer(loads, 'memory_percent', need=1 * GiB)
    assert placer.choose() == 'b'               # 80 % free beats 50 %, though a has more bytes free
    assert Placer(loads, 'memory', need=GiB).choose() == 'a'


def test_round_robin_starts_with_fewest_guests_and_skips_offline():
    resources = [node('pve1', 8, 1), node('pve2', 8, 1), node('pve3', 8, 1), node('pve4', 8, 1, online=False),
                 guest(100, 'pve1'), guest(101, 'pve1'), guest(102, 'pve3')]
    placer = Placer(node_loads(resources), 'round_robin')
    assert [placer.choose() for dummy in range(5)] == ['pve2', 'pve3', 'pve1', 'pve2', 'pve3']


def test_random_and_template_and_eligibility():
    loads = node_loads(DEMO + [node('pve4', 8, 1, online=False)])
    placer = Placer(loads, 'random', eligible={'pve1', 'pve3', 'pve4'}, rng=random.Random(4))
    assert set(placer.choose() for dummy in range(40)) == {'pve1', 'pve3'}
    placer = Placer(loads, 'template', template_node='pve1')
    assert [placer.choose() for dummy in range(3)] == ['pve1'] * 3
    placer = Placer(loads, 'memory', eligible={'pve1'}, template_node='pve1')
    assert placer.choose() == 'pve1'


def test_check_explains_refusals():
    placer = Placer(node_loads(DEMO + [node('pve4', 8, 1, online=False)]), 'memory', eligible={'pve1', 'pve2'})
    assert placer.check('pve2') is None
    assert 'offline' in placer.check('pve4')
    assert 'not in the cluster' in placer.check('pve9')
    assert 'cannot take a clone' in placer.check('pve3')


def test_no_node_and_bad_policy():
    with pytest.raises(PveError, match='no online node'):
        Placer(node_loads([node('pve1', 8, 1, online=False)]), 'memory').choose()
    with pytest.raises(PveError, match='placement'):
        Placer({}, 'fastest')
    with pytest.raises(PveError, match='offline'):
        Placer(node_loads([node('pve1', 8, 1, online=False), node('pve2', 8, 1)]), 'template',
               template_node='pve1').choose()


def test_overcommit_is_warned_once():
    placer = Placer(node_loads([node('small', 4, 1)]), 'memory', need=2 * GiB)
    for dummy in range(4):
        placer.choose()
    assert len(placer.warnings) == 1 and 'small is planned beyond its memory' in placer.warnings[0]
