"""A stock fakepve served on loopback for the client and task-waiting tests (no harness needed)."""

import pytest

from fakepve import FakePve
from fakepve.certs import make_cert

from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import ServedFake


class Served(ServedFake):
    def params(self, **over):
        params = dict(api_host='127.0.0.1', api_port=self.pve.port, api_user='root@pam', api_password='secret',
                      api_token_id=None, api_token_secret=None, validate_certs=True, ca_path=self.cafile,
                      api_timeout=5)
        params.update(over)
        return params


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp('pki')), hosts=('127.0.0.1',))[:2]


@pytest.fixture
def fake(pki):
    pve = FakePve(host='127.0.0.1', port=0)
    served = Served(pve, pki[0])
    served.call(pve.start(*pki))
    try:
        yield served
    finally:
        served.close()
