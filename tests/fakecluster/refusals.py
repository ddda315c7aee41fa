"""What real PVE refuses or drops where stock fakepve 0.5.0 lets it through.

- Empty values of the query string arrive as undef (pve-http-server `src/PVE/APIServer/AnyEvent.pm`
  `decode_urlencoded`: `comment=` splits into a key without a value), and the query string wins over the
  body (`extract_params`). A handler that sets a field `if defined(...)` keeps the old value. (fakepve's form
  bodies already lose empty values; its query strings keep them and lose to the body.)
- An empty comment or description does not survive the config file: a pool comment is read back only when
  true (pve-access-control `src/PVE/AccessControl.pm` `parse_user_config`: `... if $comment`), a snapshot
  description is written only when true (qemu-server `PVE/QemuServer.pm` `write_vm_config`, pve-container
  likewise). Cleared through a JSON body, the field is gone, not ''.
- ICMP types are names only: the `icmp-type` parameter has the format `pve-fw-icmp-type-spec` (pve-firewall
  `src/PVE/Firewall.pm` `pve_fw_verify_icmp_type_spec`), checked with the other parameters before the
  handler runs, whatever the protocol: `invalid icmp-type value '8'`.
- A VM's cloud-init `sshkeys` (format `urlencoded`, which fakepve checks as pve-common's
  `pve_verify_urlencoded` does) is unescaped by qemu-server's create and config update, which run `ssh-keygen -l`
  on every line that is not blank (pve-common `PVE::Tools::validate_ssh_public_keys`): a line that is no public
  key is the 500 `SSH public key validation error`, before anything is written. Here cryptography's OpenSSH key
  parser stands in for ssh-keygen.
"""

import re
import urllib.parse

from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from fakepve import PveError
from fakepve.firewall import ICMP_TYPES, ICMPV6_TYPES

ICMP_TYPE_FORMAT = 'pve-fw-icmp-type-spec'
# The hand-written routes that take a VM's sshkeys: its config (PUT and POST) and its creation.
SSHKEYS_ROUTE = re.compile(r'/nodes/[^/]+/qemu(?:/\d+/config)?$')


def ssh_key_lines_valid(text):
    """Whether every line of an unescaped sshkeys value that is not blank is a public key ssh-keygen -l reads."""
    for line in str(text).split('\n'):
        if not line.strip():
            continue
        try:
            load_ssh_public_key(line.strip().encode())
        except Exception:  # ValueError, or cryptography's UnsupportedAlgorithm for a type it does not know
            return False
    return True


def perl_true(text):
    """Perl's truth of a string: '' and '0' are false."""
    return text not in (None, '', '0')


def query_values(request):
    """The query string as pve-http-server decodes it: {key: value or None}, the last pair of a key winning
    when it has no value (a key with values keeps them, as a list if more than one)."""
    out = {}
    for pair in request.rel_url.raw_query_string.split('&'):
        if not pair:
            continue
        key, sep, value = pair.partition('=')
        key = urllib.parse.unquote_plus(key)
        if not sep or value == '':
            out[key] = None
            continue
        value = urllib.parse.unquote_plus(value)
        old = out.get(key)
        out[key] = value if old is None else (old + [value] if isinstance(old, list) else [old, value])
    return out


class Refusals(object):
    """Mixin of LabPve (before FakePve in the MRO): PVE's parameter decoding and the refusals listed above."""

    async def answer(self, request, match, params, user, call=None):
        params = dict(params)
        for key, value in query_values(request).items():
            if value is None:
                params.pop(key, None)  # undef: as if not sent
            else:
                params[key] = value
        errors = self._format_errors(match, request.method, params)
        if errors:
            # PVE checks every parameter first: these join fakepve's own errors, or refuse before the handler.
            async def call(_match, _values):
                raise PveError(400, 'Parameter verification failed.', dict(errors))
        try:
            return await super().answer(request, match, params, user, call)
        except PveError as exc:
            if errors and exc.status == 400 and isinstance(exc.errors, dict):
                raise PveError(400, exc.message, dict(errors, **exc.errors)) from None
            raise

    @staticmethod
    def _format_errors(match, method, params):
        """{parameter: message} for the formats PVE checks and fakepve does not."""
        info = match.methods.get(method) if match is not None else None
        declared = ((info or {}).get('parameters') or {}).get('properties', {})
        errors = {}
        for name, spec in declared.items():
            value = params.get(name)
            if spec.get('format') != ICMP_TYPE_FORMAT or value is None:
                continue
            value = str(value)
            if value not in ICMP_TYPES and value not in ICMPV6_TYPES and value != '':
                errors[name] = "invalid icmp-type value '{0}'".format(value)
        return errors

    def _verify(self, request, values, drop=()):
        checked = super()._verify(request, values, drop)
        keys = values.get('sshkeys')
        if keys is not None and request.method in ('PUT', 'POST') and SSHKEYS_ROUTE.search(request.path):
            # after the schema's checks (a value that is not urlencoded is fakepve's 400 already)
            if not ssh_key_lines_valid(urllib.parse.unquote(str(keys))):
                raise PveError(500, 'SSH public key validation error')
        return checked

    # --------------------------------------------- empty values do not survive

    async def _pool_update(self, v, user):
        result = await super()._pool_update(v, user)
        meta = self.pool_info.get(v['poolid'])
        if meta is not None and not perl_true(meta.get('comment')):
            meta['comment'] = None
        return result

    @staticmethod
    def _drop_empty_description(snap):
        if snap is not None and 'description' in snap and not perl_true(snap['description']):
            del snap['description']

    async def _qm_snapshot_config_put(self, v, user):
        result = await super()._qm_snapshot_config_put(v, user)
        self._drop_empty_description(self.find(v['node'], v['vmid']).snapshots.get(v['snapname']))
        return result

    async def _lxc_snapshot_config_put(self, user, v):
        result = await super()._lxc_snapshot_config_put(user, v)
        self._drop_empty_description(self._find_ct(v['node'], v['vmid']).snapshots.get(v['snapname']))
        return result
