"""A stock fakepve served on loopback for the client and task-waiting tests (no harness needed)."""

import asyncio
import threading

import pytest

from fakepve import FakePve
from fakepve.certs import make_cert


class Served(object):
    def __init__(self, pve, cafile):
        self.pve = pve
        self.cafile = cafile
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

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
        served.call(pve.stop())
        served.loop.call_soon_threadsafe(served.loop.stop)
