"""Serve a LabPve on loopback from a background thread, for pytest fixtures and scripts.

    with serving('demo.json', time_scale=0.01) as cluster:
        api = cluster.api()                       # proxmoxer, root@pam, verifying with the fake's CA
        cluster.pve.clone_secs = 30               # any knob, directly
        cluster.count_requests('POST', '/clone')

The fake runs on its own event loop in a daemon thread, so plain synchronous tests and scripts can use it.
"""

import asyncio
import contextlib
import ipaddress
import tempfile
import threading

from fakepve.certs import make_cert

from .describe import build

CALL_TIMEOUT = 30


def check_loopback(host):
    """The host, if it is an IPv4 loopback address (127.0.0.0/8); ValueError otherwise."""
    try:
        if ipaddress.ip_address(host) in ipaddress.ip_network('127.0.0.0/8'):
            return host
    except ValueError:
        pass
    raise ValueError('fakecluster binds 127.0.0.0/8 addresses only, not {0!r}'.format(host))


class LoopThread(object):
    """An asyncio loop running in a daemon thread; call() runs a coroutine there and waits for it."""

    def __init__(self, name='fakecluster'):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def call(self, coro, timeout=CALL_TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        async def cancel_the_rest():
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
        try:
            self.call(cancel_the_rest())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(CALL_TIMEOUT)
            if not self.thread.is_alive():
                self.loop.close()


class Cluster(object):
    """A served LabPve: where it listens, how to log in, and its knobs (`pve`)."""

    def __init__(self, pve, ca_path, runner):
        self.pve = pve
        self.ca_path = ca_path
        self.runner = runner
        self.host = pve.host
        self.port = pve.port
        self.url = pve.url
        self.control_url = pve.url + '/_fake'
        self.user = pve.user
        self.password = pve.password

    @property
    def info(self):
        """What the serve command writes to its info file."""
        return {'url': self.url, 'host': self.host, 'port': self.port, 'user': self.user, 'password': self.password,
                'ca_path': self.ca_path, 'control_url': self.control_url}

    def call(self, coro):
        """Run a coroutine of the fake (hold_config_lock, backup, ...) on its loop and return its result."""
        return self.runner.call(coro)

    def run(self, fn, *args, **kwargs):
        """Call a plain function on the fake's loop thread and return its result: for reads that walk the fake's
        state (pve.fw_simulate, pve.fw_starts) while its tasks may be changing it."""
        async def call():
            return fn(*args, **kwargs)
        return self.call(call())

    def count_requests(self, method=None, path_contains=None):
        """How many API requests the fake has logged, optionally of one method and with a path part."""
        return len(self.pve.request_log(method, path_contains))

    def api(self, user=None, password=None, token=None, secret=None, **kwargs):
        """A proxmoxer ProxmoxAPI for this fake: root@pam by default, another user's password, or an API token
        (token='user@realm!name', secret=...). The CA path is passed explicitly: REQUESTS_CA_BUNDLE would win
        over a session's own verify setting."""
        from proxmoxer import ProxmoxAPI
        options = dict(port=self.port, verify_ssl=self.ca_path, timeout=kwargs.pop('timeout', 10), **kwargs)
        if token:
            owner, _sep, name = token.partition('!')
            return ProxmoxAPI(self.host, user=owner, token_name=name, token_value=secret, **options)
        if user is None:
            user, password = self.user, self.password
        return ProxmoxAPI(self.host, user=user, password=password, **options)


@contextlib.contextmanager
def serving(description='small.json', *, host='127.0.0.1', port=0, **settings):
    """Start a LabPve for the description (a dict, a path or a name in clusters/) and yield its Cluster."""
    check_loopback(host)
    pve = build(description, host=host, port=port, **settings)
    with tempfile.TemporaryDirectory(prefix='fakecluster-') as pki:
        certfile, keyfile, _ca = make_cert(pki, name='fakecluster', hosts=(host,))
        runner = LoopThread()
        try:
            runner.call(pve.start(certfile, keyfile))
            yield Cluster(pve, certfile, runner)
        finally:
            try:
                runner.call(pve.stop())
            finally:
                runner.close()
