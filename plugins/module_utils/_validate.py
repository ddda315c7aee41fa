# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: parsers and validators for PVE's own formats.

Each validator raises ValueError with a message that names the input, so a module can refuse
bad input before it writes anything.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

try:
    # ansible-core's own dependency, so on every controller; where it is missing the key's structure is checked only
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key
except ImportError:  # pragma: no cover
    load_ssh_public_key = None

VMID_MIN = 100
VMID_MAX = 999999999

# PVE's 'dns-name' format (PVE::JSONSchema): what a VM name may be.
_DNS_LABEL = r'[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?'
DNS_NAME_RE = re.compile(r'^{0}(?:\.{0})*$'.format(_DNS_LABEL))
# pve-firewall: security group and ipset names start with a letter; groups are at most 18 characters.
FW_NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9\-_]+$')
FW_GROUP_MAX = 18
# pve-poolid and pve-tag (tags are stored lower case).
POOL_RE = re.compile(r'^[A-Za-z0-9\.\-_]+$')
TAG_RE = re.compile(r'^[a-z0-9_][a-z0-9_\-\+\.]*$')
# pve-snapshot-name (pve-guest-common, qemu-server): pve-configid, at most 40 characters.
SNAPNAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_\-]+$')
SNAPNAME_MAX = 40
# Refused by PVE ('pending' in any case) or used by its backups.
SNAPNAME_RESERVED = ('current', 'pending', 'vzdump')


# ------------------------------------------------------------ property strings

def parse_props(text):
    """A PVE property string as an ordered list of (key, value); a bare first item has key None.

    'virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1' ->
    [('virtio', 'BC:24:11:00:00:01'), ('bridge', 'vmbr0'), ('firewall', '1')]
    """
    items = []
    for part in str(text or '').split(','):
        if not part:
            continue
        key, sep, value = part.partition('=')
        items.append((key, value) if sep else (None, key))
    return items


def format_props(items):
    return ','.join(value if key is None else '{0}={1}'.format(key, value) for key, value in items)


def set_prop(text, key, value):
    """The property string with key set to value, everything else (the MAC, its order) kept."""
    items = parse_props(text)
    for i, (k, _v) in enumerate(items):
        if k == key:
            items[i] = (key, str(value))
            return format_props(items)
    items.append((key, str(value)))
    return format_props(items)


def get_prop(text, key, default=None):
    for k, v in parse_props(text):
        if k == key:
            return v
    return default


def net_keys(config):
    """The netN keys of a VM config, in numeric order."""
    return sorted((k for k in config if re.match(r'^net\d+$', k)), key=lambda k: int(k[3:]))


# ------------------------------------------------------------------ validators

def validate_vmid(value, field='vmid'):
    try:
        vmid = int(value)
    except (TypeError, ValueError):
        raise ValueError('{0} {1!r} is not a number'.format(field, value)) from None
    if not VMID_MIN <= vmid <= VMID_MAX:
        raise ValueError('{0} {1} is out of range ({2} to {3})'.format(field, vmid, VMID_MIN, VMID_MAX))
    return vmid


def validate_vm_name(value, field='name'):
    value = str(value)
    if not DNS_NAME_RE.match(value) or len(value) > 253:
        raise ValueError('{0} {1!r} is not a valid VM name (a DNS name: letters, digits, "-" and ".")'.format(
            field, value))
    return value


def vm_name(text):
    """A VM name made from free text: characters a DNS name cannot hold become '-'."""
    name = re.sub(r'[^A-Za-z0-9.\-]', '-', str(text))
    name = re.sub(r'\.{2,}', '.', name)
    name = '.'.join(label.strip('-') or 'x' for label in name.strip('.').split('.'))
    return name


def validate_cidr(value, field='source'):
    """An IPv4/IPv6 address or network; returns it normalised ('192.0.2.10' -> '192.0.2.10/32')."""
    text = str(value).strip()
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError('{0} {1!r} is not an IP address or CIDR network ({2})'.format(field, value, exc)) from None
    return str(net)


def validate_fw_group(value, field='group'):
    value = str(value)
    if not FW_NAME_RE.match(value) or len(value) > FW_GROUP_MAX:
        raise ValueError('{0} {1!r} cannot name a firewall security group: a letter first, then letters, digits, '
                         '"-" or "_", {2} characters at most'.format(field, value, FW_GROUP_MAX))
    return value


def validate_pool(value, field='pool'):
    value = str(value)
    if not POOL_RE.match(value):
        raise ValueError('{0} {1!r} is not a valid pool id (letters, digits, ".", "-", "_")'.format(field, value))
    return value


def validate_new_pool(value, field='pool'):
    """A pool id PVE creates: pve-poolid, and a letter first (pve-manager PVE/API2/Pool.pm create_pool, PVE 9;
    older pools that start otherwise can still be used)."""
    value = validate_pool(value, field)
    if not re.match(r'^[A-Za-z]', value):
        raise ValueError('{0} {1!r} cannot name a new pool: PVE wants a letter first'.format(field, value))
    return value


def validate_snapname(value, field='snapname'):
    """A snapshot name (pve-snapshot-name: the pve-configid format, at most 40 characters; current and pending are
    reserved by PVE, vzdump by its backups)."""
    value = str(value)
    reserved = value in SNAPNAME_RESERVED or value.lower() == 'pending'
    if not SNAPNAME_RE.match(value) or len(value) > SNAPNAME_MAX or reserved:
        raise ValueError('{0} {1!r} cannot name a snapshot: a letter first, then letters, digits, "-" or "_", 2 to {2} '
                         'characters, and not {3}'.format(field, value, SNAPNAME_MAX, ', '.join(SNAPNAME_RESERVED)))
    return value


def validate_tag(value, field='tag'):
    value = str(value)
    if not TAG_RE.match(value):
        raise ValueError('{0} {1!r} is not a valid PVE tag (lower case letters, digits, "_", "-", "+", ".")'.format(
            field, value))
    return value


def validate_lab_name(value, field='lab_name'):
    """A lab name names the pool, the VM tag and the firewall group and ipset: it must suit all four."""
    value = str(value)
    if not re.match(r'^[a-z][a-z0-9\-_]*$', value) or len(value) > FW_GROUP_MAX or len(value) < 2:
        raise ValueError('{0} {1!r} cannot name a lab: it names the pool, the VM tag and the firewall security '
                         'group, so it needs 2 to {2} characters, a lower case letter first, then lower case '
                         'letters, digits, "-" or "_"'.format(field, value, FW_GROUP_MAX))
    return value


# OpenSSH public key types (ssh-keygen -l reads these; PVE's validate_ssh_public_keys runs it on every line of a
# VM's sshkeys and refuses the config with "SSH public key validation error" when it fails).
SSH_KEY_TYPES = ('ssh-ed25519', 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384',
                 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com')
# How many fields each type's blob holds: the type, then (RFC 4253, RFC 5656, PROTOCOL.u2f) rsa e n; dss p q g y;
# ecdsa curve Q; ed25519 its 32 bytes; the security-key types their application after the key.
SSH_KEY_FIELDS = {'ssh-ed25519': 2, 'ssh-rsa': 3, 'ssh-dss': 5, 'ecdsa-sha2-nistp256': 3, 'ecdsa-sha2-nistp384': 3,
                  'ecdsa-sha2-nistp521': 3, 'sk-ssh-ed25519@openssh.com': 3, 'sk-ecdsa-sha2-nistp256@openssh.com': 4}
SSH_KEY_RE = re.compile(r'^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$')


def validate_ssh_public_key(value, field='ssh_key'):
    """One OpenSSH public key line (`type base64 [comment]`, as in a .pub file); returns it stripped.

    What ssh-keygen -l checks is what counts: a known type, and a blob that is base64 and starts with that type
    (the blob's first field is the key type as a length-prefixed string), so a truncated or pasted-wrong key is
    refused here and not by PVE after the lab has begun writing. authorized_keys options before the type are not
    taken: one student, one plain key line.
    """
    text = str(value if value is not None else '').strip()
    if '\n' in text or '\r' in text:
        raise ValueError('{0}: one public key on one line, not several lines'.format(field))
    match = SSH_KEY_RE.match(text)
    if not match or match.group(1) not in SSH_KEY_TYPES:
        raise ValueError('{0}: {1!r} is not an OpenSSH public key line ("<type> <base64> [comment]", type one of '
                         '{2})'.format(field, text[:40] + ('...' if len(text) > 40 else ''), ', '.join(SSH_KEY_TYPES)))
    kind = match.group(1)
    try:
        fields = _ssh_fields(base64.b64decode(match.group(2), validate=True))
    except (ValueError, binascii.Error):
        fields = []
    if not fields or fields[0] != kind.encode('ascii') or len(fields) != SSH_KEY_FIELDS[kind] \
            or ('ed25519' in kind and len(fields[1]) != 32) or not _key_loads(match.group(0)):
        raise ValueError('{0}: the {1} key is not a valid key (its base64 part is cut or is not a {1} key)'.format(
            field, kind))
    return text


def _key_loads(line):
    """ssh-keygen also checks the numbers (an ECDSA point on its curve, ...): an OpenSSH key parser does the same."""
    if load_ssh_public_key is None:
        return True
    try:
        load_ssh_public_key(line.encode('ascii'))
    except Exception:  # ValueError, or UnsupportedAlgorithm for a type this cryptography does not know
        return False
    return True


def _ssh_fields(blob):
    """The length-prefixed strings an OpenSSH key blob is made of; ValueError when the blob does not end with one."""
    fields, at = [], 0
    while at < len(blob):
        size = int.from_bytes(blob[at:at + 4], 'big')
        if at + 4 + size > len(blob):
            raise ValueError('cut')
        fields.append(blob[at + 4:at + 4 + size])
        at += 4 + size
    return fields
