"""Fixtures of the harness's own tests."""

import re

import pytest
from proxmoxer.core import AuthenticationError, ResourceException

from fakecluster import Cluster, load

STUDENT = ('alice@pve', 'alice-password')


@pytest.fixture
def refused():
    """refused(call, *args, **kwargs) -> (HTTP status, message) of an API call (or a login) that must fail."""
    def check(call, *args, **kwargs):
        with pytest.raises((ResourceException, AuthenticationError)) as info:
            call(*args, **kwargs)
        status = getattr(info.value, 'status_code', None)
        if status is None:  # proxmoxer's failed login names the code only in its message
            status = int(re.search(r'code: (\d+)', str(info.value)).group(1))
        return status, str(info.value)
    return check


@pytest.fixture
def student(pve_api, pve_cluster):
    """alice@pve, created through the API with a password, logged in: a ProxmoxAPI as her."""
    pve_api.access.users.post(userid=STUDENT[0], password=STUDENT[1])
    return pve_cluster.api(*STUDENT)


STOCK = pytest.mark.xfail(strict=True, reason='stock fakepve 0.5.0 does not model this; fakecluster must')


@pytest.fixture(params=['lab', pytest.param('stock', marks=STOCK)])
def either_fake(request):
    """The same small cluster on LabPve and on stock fakepve: tests of added behaviour must fail on the stock one."""
    if request.param == 'lab':
        return request.getfixturevalue('pve_cluster')
    stock = request.getfixturevalue('fakepve')
    stock.add_node('pve2')
    for vm in load('small.json')['vms']:
        stock.add_vm(vm['vmid'], vm['name'], node=vm['node'], config=vm['config'], template=vm.get('template', False))
    return Cluster(stock, request.getfixturevalue('fakepve_cafile'), runner=None)
