"""The fake PVE of the unit tests: LabPve (tests/fakecluster/cluster.py) served in-process on 127.0.0.1.

It is the fake the integration targets and tests/e2e use, with the same realistic defaults (cluster.py
`REALISTIC`): PVE seconds pass at time_scale 0.01 real seconds, so tasks end after their POST returns; a clone
takes 20 PVE seconds and its VM holds only `lock: clone` meanwhile; /cluster/resources shows names, states and
template flags from pvestatd's cache, broadcast every 10 PVE seconds (statd.py; `settle()` is the next
broadcast); access control is on (only the root@pam login skips it); PVE 9.1 (versions.py). It runs on its own
event loop in a daemon thread, so plain synchronous tests use it; `pve` is the LabPve, for its knobs.

`UnitPve` adds two things for the unit tests only: what GET /version answers can name a pve-manager version
LabPve does not serve (`answer_version`; the API stays the release's), and the request log keeps query strings
(the parameters of a GET or DELETE), which fakepve's `requests` leave out.
"""

import collections
import json
import urllib.parse

from fakepve.certs import make_cert
from fakepve.server import ok, redact

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveClient
from ansible_collections.pvelab.proxmox.tests.fakecluster import LabPve
from ansible_collections.pvelab.proxmox.tests.fakecluster.serving import LoopThread
from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import run_main

API = '/api2/json'
HOST = '127.0.0.1'

# One logged API request: the path without /api2/json, the parameters (form, JSON body and query string
# together; secrets are '***') and whether the body was JSON.
Request = collections.namedtuple('Request', 'method path data json')


class UnitPve(LabPve):
    """LabPve, plus the two unit-test knobs of the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.version_answer = None
        self.api_log = []   # (method, path, query string, body), secrets masked as fakepve masks them

    def answer_version(self, version, release=None, repoid='0' * 16):
        """GET /version answers this pve-manager version (release: its x.y unless given)."""
        self.version_answer = {'version': version, 'release': release if release is not None else
                               '.'.join(version.split('.')[:2]), 'repoid': repoid}

    async def _version(self, request):
        if self.version_answer is None:
            return await super()._version(request)
        return ok(dict(self.version_answer))

    def _record(self, request, body):
        super()._record(request, body)
        self.api_log.append((request.method, request.path, redact(request.query_string.encode(), ''),
                             redact(body, request.content_type)))


def _parse(query, body):
    data = dict(urllib.parse.parse_qsl(query.decode(), keep_blank_values=True))
    is_json = body[:1] == b'{'
    if is_json:
        data.update(json.loads(body))
    elif body:
        data.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    return data, is_json


class Served(object):
    """A UnitPve started on loopback; the request log as Requests; a module's main() run against it."""

    def __init__(self, pve, pki):
        self.pve = pve
        self.cafile = pki[0]
        self.runner = LoopThread('unit-fake')
        try:
            self.runner.call(pve.start(*pki))
        except BaseException:
            self.runner.close()
            raise

    def close(self):
        try:
            self.runner.call(self.pve.stop())
        finally:
            self.runner.close()

    def call(self, coro):
        """Run a coroutine of the fake (hold_config_lock, ...) on its loop and return its result."""
        return self.runner.call(coro)

    # ------------------------------------------------------------ connecting

    def params(self, **over):
        """PveClient's parameters for the fake's own login (root@pam unless the fake was made for another)."""
        params = dict(api_host=HOST, api_port=self.pve.port, api_user=self.pve.user, api_password=self.pve.password,
                      api_token_id=None, api_token_secret=None, validate_certs=True, ca_path=self.cafile,
                      api_timeout=10)
        params.update(over)
        return params

    def connection(self, **over):
        """The connection options of a module."""
        connection = dict(api_host=HOST, api_port=self.pve.port, api_user=self.pve.user,
                          api_password=self.pve.password, ca_path=self.cafile, api_timeout=10)
        connection.update(over)
        return dict((k, v) for k, v in connection.items() if v is not None)

    def run(self, main, args, check=False, diff=False, **connection):
        """Run a module's main() with args against the fake; returns (result, failed)."""
        return run_main(main, args, self.connection(**connection), check=check, diff=diff)

    # ------------------------------------------------------------- the log

    def requests(self):
        """Every API request so far, oldest first."""
        out = []
        for method, path, query, body in list(self.pve.api_log):
            data, is_json = _parse(query, body)
            out.append(Request(method, path[len(API):] if path.startswith(API) else path, data, is_json))
        return out

    def calls(self):
        """The requests but the logins (POST /access/ticket) and the version reads (GET /version)."""
        return [r for r in self.requests()
                if r.path != '/access/ticket' and not (r.method == 'GET' and r.path == '/version')]

    def writes(self):
        return [r for r in self.calls() if r.method != 'GET']

    def json_writes(self):
        """The writes sent as JSON (the way an empty value reaches PVE), as (method, path, data)."""
        return [(r.method, r.path, r.data) for r in self.writes() if r.json]

    def count(self, method, path=None):
        return len([r for r in self.calls() if r.method == method and (path is None or r.path == path)])

    def version_reads(self):
        return len([r for r in self.requests() if r.method == 'GET' and r.path == '/version'])

    def logins(self):
        """Who logged in with a password, in order."""
        return [r.data.get('username') for r in self.requests() if r.method == 'POST' and r.path == '/access/ticket']

    def forget_requests(self):
        del self.pve.api_log[:]
        del self.pve.requests[:]

    # ------------------------------------------------------------ the state

    def settle(self):
        """pvestatd's next broadcast: /cluster/resources shows every guest as it is now (names, states)."""
        self.pve.statd_refresh()

    def hold_statd(self):
        """pvestatd broadcasts now and then not again until settle(): what a run within its 10 s sees, for as long
        as the test needs (a guest made meanwhile is `status: unknown` without a name in /cluster/resources)."""
        self.pve.statd_secs = 10.0 ** 9
        self.pve.statd_refresh()

    def resources(self):
        """GET /cluster/resources as root@pam sees it (a request of its own, in the log)."""
        return PveClient(self.params()).get('/cluster/resources')

    def vm_named(self, name):
        found = [vm for vm in self.pve.vms if vm.name == name]
        return found[0] if found else None


_PKI = {}


def pki(tmp_path_factory):
    """One certificate for the whole test process."""
    if 'files' not in _PKI:
        _PKI['files'] = make_cert(str(tmp_path_factory.mktemp('fake-pki')), name='fakecluster', hosts=(HOST,))[:2]
    return _PKI['files']


def serve(pve, tmp_path_factory):
    """A generator for a fixture: the pve served until the test ends."""
    served = Served(pve, pki(tmp_path_factory))
    try:
        yield served
    finally:
        served.close()


def new_pve(user='root@pam', password='secret', **settings):
    """A UnitPve on 127.0.0.1 (a free port) with LabPve's defaults; settings (knobs of LabPve) override them. Its
    own login is user (another than root@pam is made an administrator of everything, as LabPve does)."""
    pve = UnitPve(user=user, password=password, host=HOST, port=0)
    for key, value in settings.items():
        if not hasattr(pve, key):
            raise AttributeError('LabPve has no setting {0}'.format(key))
        setattr(pve, key, value)
    return pve
