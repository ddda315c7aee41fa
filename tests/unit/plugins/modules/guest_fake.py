"""A stock fakepve with three nodes, a template on shared storage and a few VMs, for the VM modules' unit tests.

The modules run in-process (their main() with patched module args) against the fake served on loopback, so
the real PveClient, task waiting and PVE's own answers are exercised. Knobs a test needs (faults, agents,
locks) are set on `pve` directly. Behaviour that needs the extended harness (node memory, agent addresses,
clone durations, access control) is covered by the integration targets and tests/e2e.
"""

import pytest

from fakepve import FakePve
from fakepve.certs import make_cert

from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import Exit, ServedFake, catch_exits, run_main  # noqa: F401 pylint: disable=unused-import

TEMPLATE_CONFIG = {'memory': 2048, 'cores': 2, 'agent': '1', 'ostype': 'l26',
                   'net0': 'virtio=BC:24:11:00:90:00,bridge=vmbr0', 'scsi0': 'shared:9000/base-9000-disk-0.qcow2,size=8G',
                   'ipconfig0': 'ip=dhcp', 'tags': 'tmpl'}


class Served(ServedFake):
    def connection(self):
        return dict(api_host='127.0.0.1', api_port=self.pve.port, api_user='root@pam', api_password='secret',
                    ca_path=self.cafile, api_timeout=10)

    def run(self, main, args, check=False, diff=False):
        """Run a module's main() with args; returns (result, failed)."""
        return run_main(main, args, self.connection(), check=check, diff=diff)

    def writes(self):
        return [r for r in self.pve.requests if r[0] != 'GET' and not r[1].endswith('/access/ticket')]

    def vm_named(self, name):
        found = [vm for vm in self.pve.vms if vm.name == name]
        return found[0] if found else None


def build(pve):
    for node in ('pve1', 'pve2', 'pve3'):
        pve.add_node(node)
    base = {'content': 'images', 'format': 'qcow2', 'size': 8 * 1024 ** 3, 'vmid': 9000, 'ctime': 0}
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


_PKI = {}


def pki(tmp_path_factory):
    """One certificate for the whole session (importing `served` alone is enough for a test module)."""
    if 'files' not in _PKI:
        _PKI['files'] = make_cert(str(tmp_path_factory.mktemp('guest-pki')), hosts=('127.0.0.1',))[:2]
    return _PKI['files']


@pytest.fixture
def served(tmp_path_factory, monkeypatch):
    certfile, keyfile = pki(tmp_path_factory)
    pve = build(FakePve(host='127.0.0.1', port=0))
    serving = Served(pve, certfile)
    serving.call(pve.start(certfile, keyfile))
    catch_exits(monkeypatch)
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    try:
        yield serving
    finally:
        serving.close()
