"""The fake PVE of the VM modules' unit tests: LabPve (tests/unit/plugins/fake_pve.py, realistic defaults) with
three nodes, a template on shared storage and a few VMs.

The modules run in-process (their main() with patched module args) against the fake served on loopback, so
the real PveClient, task waiting and PVE's own answers are exercised: clones take 20 PVE seconds (0.2 s) and
hold `lock: clone` meanwhile, /cluster/resources is pvestatd's cache (a guest made since the last broadcast is
`status: unknown` without a name until the next one, `served.settle()`), node memory counts running guests,
guest agents answer with their ipconfig0 address. Knobs a test needs (faults, agents, locks) are set on `pve`.
"""

import pytest

from ansible_collections.pvelab.proxmox.tests.unit.plugins.fake_pve import new_pve, serve
from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import catch_exits

GiB = 1024 ** 3
TEMPLATE_CONFIG = {'memory': 2048, 'cores': 2, 'agent': '1', 'ostype': 'l26',
                   'net0': 'virtio=BC:24:11:00:90:00,bridge=vmbr0', 'scsi0': 'shared:9000/base-9000-disk-0.qcow2,size=8G',
                   'ipconfig0': 'ip=dhcp', 'tags': 'tmpl'}


def build(pve):
    for node in ('pve1', 'pve2', 'pve3'):
        pve.add_node(node)
    base = {'content': 'images', 'format': 'qcow2', 'size': 8 * GiB, 'vmid': 9000, 'ctime': 0}
    pve.storages['shared'] = {'type': 'nfs', 'active': 1, 'content': 'images', 'files': set(), 'shared': 1,
                              'server': '192.0.2.5', 'export': '/export', 'path': '/mnt/pve/shared',
                              'volumes': {'9000/base-9000-disk-0.qcow2': base}}
    pve.add_vm(9000, 'tmpl-debian', node='pve1', config=dict(TEMPLATE_CONFIG, template=1), template=True)
    pve.add_vm(100, 'teacher', node='pve1', status='running',
               config={'memory': 4096, 'cores': 2, 'agent': '1', 'net0': 'virtio=BC:24:11:00:01:00,bridge=vmbr0',
                       'ipconfig0': 'ip=192.0.2.10/24,gw=192.0.2.1'})
    pve.add_vm(101, 'web01', node='pve2', status='stopped',
               config={'memory': 1024, 'cores': 1, 'net0': 'virtio=BC:24:11:00:01:01,bridge=vmbr0,firewall=1',
                       'tags': 'prod;web'})
    pve.add_vm(102, 'dup', node='pve2')
    pve.add_vm(103, 'dup', node='pve3')
    pve.pools['lab'] = set()
    pve.pool_info['lab'] = {'comment': None, 'storage': set()}
    return pve


@pytest.fixture
def served(tmp_path_factory, monkeypatch):
    catch_exits(monkeypatch)
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    yield from serve(build(new_pve()), tmp_path_factory)
