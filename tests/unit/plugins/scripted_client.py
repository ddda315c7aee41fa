"""The one scripted stand-in for PveClient in the unit tests (the others use the served fake, fake_pve.py).

    client = ScriptedClient({('GET', '/cluster/resources'): [...]})
    client.on('GET', '/nodes/pve1/tasks/UPID.../status', {'status': 'running'}, {'status': 'stopped', ...})
    client.on('POST', '/nodes/pve1/qemu/100/status/start', PveApiError(...), 'UPID:...')

The constructor's script gives one answer per (method, path); `on()` gives several, one per call, the last one
repeating. An answer is returned (a deep copy), raised when it is an exception, or called as
fn(method, path, params) when it is a function (and what that returns or raises is the answer). A call nobody
scripted goes to the function `otherwise` when there is one, and fails the test (UnscriptedCall) when not.
Every call is recorded in `calls` as (method, path, params), and what it answered (or raised) in `answers`.
"""

import copy
import threading


class UnscriptedCall(AssertionError):
    """A call the test did not expect."""


class ScriptedClient(object):
    """PveClient's get/post/put/delete (and requests_made, params, user) over a script."""

    def __init__(self, script=None, otherwise=None, params=None, user='root@pam'):
        self.script = {}
        for (method, path), answer in (script or {}).items():
            self.on(method, path, answer)
        self.otherwise = otherwise
        self.params = params
        self.user = user
        self.token_id = (params or {}).get('api_token_id')
        self.calls = []
        self.answers = []
        self.lock = threading.Lock()

    def on(self, method, path, *answers):
        """Script what (method, path) answers: one answer per call, the last one repeating."""
        if not answers:
            raise ValueError('give at least one answer for {0} {1}'.format(method, path))
        self.script[(method, path)] = list(answers)
        return self

    @property
    def requests_made(self):
        return len(self.calls)

    def get(self, path, **params):
        return self.request('GET', path, params)

    def post(self, path, idempotent=False, json_body=False, **data):
        return self.request('POST', path, data)

    def put(self, path, idempotent=True, json_body=False, **data):
        return self.request('PUT', path, data)

    def delete(self, path, idempotent=False, **params):
        return self.request('DELETE', path, params)

    def request(self, method, path, data=None, idempotent=None, json_body=False):
        params = dict(data or {})
        with self.lock:
            self.calls.append((method, path, params))
            queue = self.script.get((method, path))
            if queue is not None:
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
            elif self.otherwise is not None:
                answer = self.otherwise
            else:
                answer = UnscriptedCall('unscripted call {0} {1} {2}'.format(method, path, params))
            if callable(answer) and not isinstance(answer, BaseException):
                try:
                    answer = answer(method, path, params)
                except Exception as exc:  # pylint: disable=broad-except
                    answer = exc
            self.answers.append(answer)
        if isinstance(answer, BaseException):
            raise answer
        return copy.deepcopy(answer)
