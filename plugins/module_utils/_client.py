# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: the one place that talks to the Proxmox VE API.

Not a public API. Connection options, login, error translation, retries of reads on
network faults, one re-login on an expired ticket, and retries of writes that PVE refused
because the VM config was locked; the PVE version (GET /version, read once, when needed) and the
refusal of an unsupported one before the first write. PveClient calls PVE with the connection's
credentials; UserClient, the same calls as a user who logs in with its own password (to check that
password, hand its ticket on, or change it). Task waiting lives in _tasks.py.
"""

from __future__ import annotations

import collections
import json
import random
import re
import threading
import time
import types

from ansible.module_utils.basic import env_fallback

# proxmoxer and requests are imported at the first connection, not with this file: the filter plugins import it
# (for its errors) in every task's worker process, where importing requests alone costs about 40 ms a task.
_HTTP = []


def _http():
    """The proxmoxer and requests names the client uses (imported once), or PveError when they are missing."""
    if not _HTTP:
        try:
            import requests
            from proxmoxer import ProxmoxAPI
            from proxmoxer.backends.https import Backend, ProxmoxHTTPAuthBase
            from proxmoxer.core import AuthenticationError, ProxmoxResource, ResourceException
            from requests.cookies import cookiejar_from_dict
        except ImportError as exc:
            raise PveError('proxmoxer and requests are required: {0}'.format(exc)) from None

        class TicketAuth(ProxmoxHTTPAuthBase):
            """A user's ticket as PVE's cookie on every request, its CSRF token on writes (as a browser sends
            them)."""

            def __init__(self, ticket, csrf_token, **kwargs):
                super().__init__(**kwargs)
                self.ticket = ticket
                self.csrf_token = csrf_token

            def get_cookies(self):
                return cookiejar_from_dict({'PVEAuthCookie': self.ticket} if self.ticket else {})

            def __call__(self, req):
                if req.method != 'GET' and self.csrf_token:
                    req.headers['CSRFPreventionToken'] = self.csrf_token
                return req

        _HTTP.append(types.SimpleNamespace(
            requests=requests, ProxmoxAPI=ProxmoxAPI, Backend=Backend, TicketAuth=TicketAuth,
            AuthenticationError=AuthenticationError, ProxmoxResource=ProxmoxResource,
            ResourceException=ResourceException))
    return _HTTP[0]


def missing_proxmoxer():
    """The ImportError's text when proxmoxer or requests cannot be imported, else None (modules report it with
    missing_required_lib before they connect)."""
    try:
        _http()
    except PveError as exc:
        return str(exc)
    return None


def connection_argument_spec():
    """The connection options every module and the inventory plugin take (mirrored by doc_fragments/api.py)."""
    return dict(
        api_host=dict(type='str', required=True, fallback=(env_fallback, ['PROXMOX_HOST'])),
        api_port=dict(type='int', fallback=(env_fallback, ['PROXMOX_PORT'])),
        api_user=dict(type='str', fallback=(env_fallback, ['PROXMOX_USER'])),
        api_password=dict(type='str', no_log=True, fallback=(env_fallback, ['PROXMOX_PASSWORD'])),
        api_token_id=dict(type='str', no_log=False, fallback=(env_fallback, ['PROXMOX_TOKEN_ID'])),
        api_token_secret=dict(type='str', no_log=True, fallback=(env_fallback, ['PROXMOX_TOKEN_SECRET'])),
        validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['PROXMOX_VALIDATE_CERTS'])),
        ca_path=dict(type='path', fallback=(env_fallback, ['PROXMOX_CA_PATH'])),
        api_timeout=dict(type='int', default=30),
    )


CONNECTION_REQUIRED_ONE_OF = [('api_password', 'api_token_secret')]
CONNECTION_REQUIRED_TOGETHER = [('api_token_id', 'api_token_secret')]
CONNECTION_OPTIONS = tuple(connection_argument_spec())

# Wording of PVE's refusals while another task holds the VM config (PVE::AbstractConfig::lock_config,
# PVE::QemuConfig::check_lock). PVE refuses before changing anything, so a retry is safe.
LOCK_MARKERS = ('VM is locked', "can't lock file", 'CT is locked')


# Parameters that name what a call creates or changes when its path does not (POST /pools, PUT /access/acl, ...):
# quoted in error messages so a failure names its object. Never a secret.
IDENTIFYING = ('poolid', 'userid', 'username', 'groupid', 'roleid', 'vmid', 'group', 'name', 'cidr', 'path', 'users',
               'groups', 'tokens', 'roles')

# POST /access/ticket: a login. It writes nothing (PVE's tickets are signed, not stored), so it needs no supported
# release and may be repeated after a network fault; a 401 is its answer, not an expired ticket.
LOGIN_PATH = 'access/ticket'

# /nodes/{node}/{qemu|lxc}/{vmid}[/...]: a path that names the guest's node.
GUEST_PATH_RE = re.compile(r'^/?nodes/([^/]+)/(qemu|lxc)/(\d+)(/.*)?$')


class PveError(Exception):
    """Anything that went wrong talking to PVE, with a message fit for a failed task."""


# The oldest Proxmox VE release this collection supports (docs/pve-versions.md): a cluster older than that is
# refused before the first write of a run. Reads (info modules, the inventory) do not check it.
OLDEST_SUPPORTED = (8, 4)


class JsonArray(list):
    """A parameter PVE's schema types as an array (the agent's exec `command`): it goes as a JSON array, and so the
    request goes with a JSON body (a form would join it with commas, as PVE's comma lists)."""


class PveVersion(collections.namedtuple('PveVersion', 'version release repoid')):
    """GET /version: pve-manager's package version ('8.4.21'), its release ('8.4') and git id."""

    @property
    def parts(self):
        """The version as numbers, (8, 4, 21); what follows them is left out ('9.0.0~13': (9, 0, 0))."""
        found = re.match(r'\d+(?:\.\d+)*', self.version)
        return tuple(int(p) for p in found.group(0).split('.')) if found else ()

    def at_least(self, *parts):
        return self.parts >= parts

    def __str__(self):
        return self.version or 'unknown'


def check_supported(version):
    """PveError naming the version found and the oldest supported one, unless version is supported."""
    if not version.at_least(*OLDEST_SUPPORTED):
        raise PveError('Proxmox VE {0} is not supported: pvelab.proxmox needs Proxmox VE {1} or later (GET /version '
                       'answered version {0!r}, release {2!r}); nothing was changed'.format(
                           str(version), '.'.join(str(p) for p in OLDEST_SUPPORTED), version.release))


class PveApiError(PveError):
    """PVE answered with an HTTP error: the call, the status, PVE's message and the per-field errors."""

    def __init__(self, method, path, status, message, errors=None, what=''):
        self.method = method
        self.path = path
        self.status = status
        self.pve_message = (message or '').strip()
        self.errors = errors or {}
        text = '{0} {1}{2}: HTTP {3}: {4}'.format(method, path, what, status, self.pve_message or 'no message')
        if self.errors:
            text += ' (' + '; '.join('{0}: {1}'.format(k, str(v).strip()) for k, v in sorted(self.errors.items())) + ')'
        super().__init__(text)

    @property
    def is_lock(self):
        return self.status == 500 and any(m in self.pve_message for m in LOCK_MARKERS)

    @property
    def guest_moved(self):
        """PVE found no config of the guest on the node of the path (it may have migrated meanwhile)."""
        return self.status == 500 and GUEST_PATH_RE.match(self.path or '') is not None and \
            "' does not exist" in self.pve_message and self.pve_message.startswith('Configuration file')


class PveConnectionError(PveError):
    """No usable answer: refused, reset, timed out, or a certificate that does not verify."""


def _message_of(exc):
    """PVE's message from a proxmoxer ResourceException: its `content` is the HTTP reason PVE set."""
    content = exc.content
    if isinstance(content, bytes):
        content = content.decode('utf-8', 'replace')
    return str(content or exc.status_message or '')


def _errors_of(exc):
    errors = exc.errors
    if isinstance(errors, dict):
        return errors
    return {'errors': errors} if errors else {}


class PveClient(object):
    """A logged-in connection to one PVE cluster, safe to use from several threads.

    Each thread gets its own HTTP session (requests' Session is not thread-safe) sharing one login.
    """

    # Transient network faults: how often a read is tried again, and the first pause (doubles each time).
    read_retries = 4
    retry_pause = 0.25
    # GET /version, once per client, and whether the version was found supported (before the first write).
    _version = None
    _version_checked = False
    _version_lock = threading.Lock()

    def __init__(self, params, lock_timeout=120.0):
        self._start(params, lock_timeout)
        user = params.get('api_user')
        token_id = params.get('api_token_id')
        if token_id and '!' in token_id:
            # PROXMOX_TOKEN_ID may be the full id 'user@realm!name'.
            user, token_id = token_id.split('!', 1)
        if not user:
            raise PveError('api_user (or PROXMOX_USER) is required, or api_token_id in the form user@realm!name')
        self.user = user
        self.token_id = token_id
        self._login()

    def _start(self, params, lock_timeout):
        self._lib = _http()
        self.params = params
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        self._login_lock = threading.Lock()
        self._generation = 0
        self.requests_made = 0

    # ------------------------------------------------------------------ login

    def _verify(self):
        """What requests should verify the server with: the CA file, the system store, or nothing."""
        if not self.params.get('validate_certs', True):
            return False
        return self.params.get('ca_path') or True

    def _may_relogin(self):
        """Whether a 401 is worth one more login: a password login's ticket expires, an API token does not."""
        return not self.params.get('api_token_secret')

    def _login(self):
        p = self.params
        kwargs = dict(host=p['api_host'], port=p.get('api_port'), user=self.user, verify_ssl=self._verify(),
                      timeout=p.get('api_timeout') or 30, backend='https', service='PVE')
        if p.get('api_token_secret'):
            kwargs.update(token_name=self.token_id, token_value=p['api_token_secret'])
        else:
            kwargs.update(password=p.get('api_password'))
        pause = self.retry_pause
        lib = self._lib
        requests = lib.requests
        for attempt in range(self.read_retries + 1):
            try:
                self._api = lib.ProxmoxAPI(**kwargs)
                break
            except lib.AuthenticationError:
                raise PveError('login to {0} as {1} failed: authentication failure (check the user, realm and '
                               'password)'.format(p['api_host'], self.user)) from None
            except requests.exceptions.SSLError as exc:
                raise _certificate_error(p, exc) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt == self.read_retries:
                    raise PveConnectionError('cannot reach PVE at {0}:{1}: {2}'.format(
                        p['api_host'], p.get('api_port') or 8006, _short(exc))) from None
                time.sleep(pause * (1 + random.random()))
                pause *= 2
        self._backend = self._api._backend
        self._generation += 1

    def _relogin(self, seen_generation):
        """Log in again once for all threads that saw the same expired ticket."""
        with self._login_lock:
            if self._generation == seen_generation:
                self._login()

    def _session(self):
        local = self._local
        if getattr(local, 'generation', None) != self._generation:
            backend = self._backend
            local.resource = self._lib.ProxmoxResource(
                base_url=backend.get_base_url(), session=backend.get_session(), serializer=backend.get_serializer())
            local.generation = self._generation
        return local.resource, local.generation

    def _relocate(self, path):
        """The guest path on the node the guest is on now, or None when it is on no other node."""
        match = GUEST_PATH_RE.match(path)
        try:
            guests = self.get('/cluster/resources', type='vm') or []
        except PveError:
            return None
        for guest in guests:
            if str(guest.get('vmid')) == match.group(3) and guest.get('node') not in (None, match.group(1)):
                return '/nodes/{0}/{1}/{2}{3}'.format(guest['node'], match.group(2), match.group(3),
                                                      match.group(4) or '')
        return None

    # --------------------------------------------------------------- version

    @property
    def version(self):
        """The cluster's PveVersion, from one GET /version the first time something asks."""
        with self._version_lock:
            if self._version is None:
                answer = self.get('/version') or {}
                self._version = PveVersion(*(str(answer.get(k) or '') for k in PveVersion._fields))
        return self._version

    def check_writable(self):
        """Refuse an unsupported PVE (PveError) before this client's first write; a no-op afterwards."""
        if not self._version_checked:
            check_supported(self.version)
            self._version_checked = True

    # ---------------------------------------------------------------- calls

    def get(self, path, **params):
        return self.request('GET', path, params)

    def post(self, path, idempotent=False, json_body=False, **data):
        return self.request('POST', path, data, idempotent=idempotent, json_body=json_body)

    def put(self, path, idempotent=True, json_body=False, **data):
        # A PUT sets state: sending it twice leaves the same state, so a network fault may repeat it.
        return self.request('PUT', path, data, idempotent=idempotent, json_body=json_body)

    def delete(self, path, idempotent=False, **params):
        return self.request('DELETE', path, params, idempotent=idempotent)

    def request(self, method, path, data=None, idempotent=None, json_body=False):
        """Call PVE; returns the answer's `data`. Raises PveApiError or PveConnectionError.

        json_body (POST, PUT): send the parameters as a JSON object. PVE's http server turns an empty form
        value into undef, so `comment=` changes nothing; in JSON an empty string arrives as one.
        """
        login = path.strip('/') == LOGIN_PATH
        if method != 'GET' and not login:
            self.check_writable()
        if idempotent is None:
            idempotent = method == 'GET'
        json_body = json_body or any(isinstance(v, JsonArray) for v in (data or {}).values())
        data = dict((k, _wire(v)) for k, v in (data or {}).items() if v is not None)
        what = _identify(path, data) if method != 'GET' else ''
        relogged = False
        relocated = False
        pause = self.retry_pause
        lock_deadline = None
        network_tries = 0
        requests, resource_exception = self._lib.requests, self._lib.ResourceException
        while True:
            resource, generation = self._session()
            target = resource(path.lstrip('/'))
            self.requests_made += 1
            try:
                if json_body:
                    return _send_json(target, method, data)
                return getattr(target, method.lower())(**data)
            except resource_exception as exc:
                err = PveApiError(method, path, exc.status_code, _message_of(exc), _errors_of(exc), what)
                if exc.status_code == 401 and not relogged and not login and self._may_relogin():
                    # An expired or revoked ticket: log in once more and repeat the same call.
                    relogged = True
                    self._relogin(generation)
                    continue
                if method != 'GET' and not relocated and err.guest_moved:
                    # A migration ended while we waited for its lock: PVE refuses the old node's path without
                    # changing anything, so the same write goes to the node the guest lives on now.
                    relocated = True
                    moved = self._relocate(path)
                    if moved:
                        path = moved
                        continue
                if err.is_lock and method != 'GET':
                    now = time.monotonic()
                    lock_deadline = lock_deadline or now + self.lock_timeout
                    if now < lock_deadline:
                        time.sleep(min(pause * (1 + random.random()), max(lock_deadline - now, 0)))
                        pause = min(pause * 2, 5.0)
                        continue
                    raise PveApiError(method, path, exc.status_code, '{0} (still locked after {1:.0f} s)'.format(
                        err.pve_message, self.lock_timeout), err.errors, what) from None
                raise err from None
            except requests.exceptions.SSLError as exc:
                if login:  # the first request of a UserClient: as a PveClient's own login says it
                    raise _certificate_error(self.params, exc) from None
                raise PveConnectionError('{0} {1}{2}: TLS error: {3}'.format(method, path, what, _short(exc))) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                network_tries += 1
                if not idempotent or network_tries > self.read_retries:
                    why = 'not repeated: it may have been applied' if not idempotent else 'gave up after retries'
                    raise PveConnectionError('{0} {1}{2}: network error ({3}): {4}'.format(
                        method, path, what, why, _short(exc))) from None
                time.sleep(pause * (1 + random.random()))
                pause = min(pause * 2, 5.0)


class UserClient(PveClient):
    """Calls PVE as a user with that user's own ticket, not with the connection's credentials.

    For what a user does as itself: prove its password works, hand its ticket to a website, change its own
    password. Of the connection options only api_host, api_port, validate_certs, ca_path and api_timeout are used.
    Its calls get what PveClient's get (retries, lock waits, errors naming the object, the release check before a
    write); after login() an expired ticket means one more login with the same password. Without a ticket it can
    only log in: POST /access/ticket is open to anyone.
    """

    def __init__(self, params, ticket=None, csrf_token=None, lock_timeout=120.0):
        self._start(params, lock_timeout)
        self.user = self.token_id = None
        self._password = None
        self.answer = None
        self._use_ticket(ticket, csrf_token)

    def login(self, userid, password):
        """POST /access/ticket as userid: PVE's answer (ticket, CSRFPreventionToken, username, and NeedTFA when a
        second factor is due), or None when PVE refuses the login (401). Later calls go with that ticket.

        Real PVE answers a refused login only after 3 seconds and logs an authentication failure.
        """
        self.user, self._password = userid, password
        try:
            self._login()
        except PveApiError as exc:
            if exc.status == 401:
                self._password = None
                return None
            raise
        return self.answer

    def _may_relogin(self):
        return self._password is not None

    def _login(self):
        self._use_ticket(None, None)
        answer = self.post('/' + LOGIN_PATH, idempotent=True, username=self.user, password=self._password) or {}
        self._use_ticket(answer.get('ticket'), answer.get('CSRFPreventionToken'))
        self.answer = answer

    def _use_ticket(self, ticket, csrf_token):
        p = self.params
        timeout = p.get('api_timeout') or 30
        # proxmoxer's Backend builds the API's URL and the HTTP session but logs in on its own with a password; with
        # an (empty) API token it sends nothing, and the ticket replaces that auth before any request.
        self._backend = self._lib.Backend(p['api_host'], port=p.get('api_port'), verify_ssl=self._verify(),
                                          timeout=timeout, token_name='', token_value='')
        self._backend.auth = self._lib.TicketAuth(ticket, csrf_token, verify_ssl=self._verify(), timeout=timeout)
        self._generation += 1


def _certificate_error(params, exc):
    return PveConnectionError(
        'TLS certificate of {0} could not be verified: {1}. Give the cluster CA with ca_path (PROXMOX_CA_PATH), or '
        'validate_certs=false for a test cluster only.'.format(params['api_host'], _short(exc)))


def _identify(path, data):
    """' (poolid=lab1)': the parameters naming the object of a call whose path does not name it; '' otherwise."""
    if GUEST_PATH_RE.match(path):
        return ''
    named = ['{0}={1}'.format(k, _short(str(data[k]), 80)) for k in IDENTIFYING if data.get(k) not in (None, '')]
    return ' ({0})'.format(', '.join(named)) if named else ''


def _send_json(resource, method, data):
    """One request with a JSON body through proxmoxer's session (its login, CSRF token and TLS settings); answers
    and errors as proxmoxer gives them. Values go as strings, as a form would send them; a JsonArray as an array."""
    store = resource._store
    session = store['session']
    lib = _http()
    response = lib.requests.Session.request(
        session, method, store['base_url'],
        data=json.dumps(dict((k, v if isinstance(v, list) else str(v)) for k, v in data.items())),
        headers={'Content-Type': 'application/json'}, cookies=session.auth.get_cookies(),
        verify=session.auth.verify_ssl, timeout=session.auth.timeout)
    if response.status_code >= 400:
        raise lib.ResourceException(response.status_code, response.reason, response.reason,
                                    errors=store['serializer'].loads_errors(response))
    return store['serializer'].loads(response)


def _wire(value):
    """Booleans as PVE's 0/1; lists as PVE's comma lists; a JsonArray as a list of strings."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, JsonArray):
        return [str(v) for v in value]
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return value


def _short(exc, limit=300):
    """A network exception's text without urllib3's long repr chains."""
    text = str(exc)
    return text if len(text) < limit else text[:limit] + '...'
