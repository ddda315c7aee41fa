# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: what marks an object as a lab's.

Not a public API. The one answer for everything that must tell a lab's objects from the rest of the cluster:
the lab roles (which VMs teardown and reset touch), the inventory plugin (pve_lab, the lab_<lab> groups) and
pve_firewall_isolation (which rules, IP set entries and group references are its own). Plain values in, plain
values out and no PVE calls, so controller code (the lab filter plugin) can use it as well as modules.

How a lab named <lab> marks what it makes:

- its pool <lab>, whose comment is `pvelab.proxmox lab <lab>` (pool_comment(lab); the lab role writes it), and in a
  topology lab that made its SDN zone `pvelab.proxmox lab <lab>, made SDN zone <zone>` (pool_comment(lab, zone)):
  teardown removes a zone only when the lab made it;
- the VNets of a topology lab, one per student: their alias is `pvelab:<lab> <userid>` (vnet_alias), the student
  read back with vnet_owner(alias, lab);
- its guests, which are in pool <lab> and carry the tag <lab> (the lab role does both);
- the accounts it makes: their comment is `pvelab:<lab> student` or `pvelab:<lab> teacher`, then the class list's
  own comment if it gives one (account_comment(lab, kind, comment)); accounts of an earlier version, commented
  `pvelab.proxmox lab <lab>`, are its students;
- its firewall objects (the security group and its rules, the IP set and its entries, each guest's group
  reference): a comment that is `pvelab:<lab>` or starts with `pvelab:<lab> ` (marker(lab)).

API:

- MARK, marker(lab) -> 'pvelab:<lab>'; owned(comment, lab): the comment marks an object of that lab
  ('pvelab:net' does not own 'pvelab:netadmin ...').
- account_comment(lab, kind, comment=None), account_kind(comment, lab) -> 'student', 'teacher' or None: what the
  lab made an account for, read back from its comment.
- POOL_COMMENT, pool_comment(lab, zone=None) -> 'pvelab.proxmox lab <lab>' (', made SDN zone <zone>' after it);
  is_lab_pool(comment): a pool comment the lab role wrote; made_zone(comment): the zone it records, or None.
- vnet_alias(lab, userid), vnet_owner(alias, lab) -> the userid of the student a lab's VNet is for, or None.
- in_lab(guest, lab): a guest (a /cluster/resources, pve_vm_info or inventory entry: `pool`, `tags` as a list or
  PVE's ';' string, `template`) is lab <lab>'s: in its pool or tagged with its name, and not a template.
- lab_guests(guests, lab, names=None): the guests of lab <lab>, and with names only those so named (teardown also
  wants the names the class plan gives, so that a stranger's guest in the lab's pool is left alone).
- guest_lab(guest, pools=None): the lab a guest is in, for a reader who knows no lab name (the inventory): the
  guest's pool when that pool is a lab's. pools is {poolid: comment} (GET /pools), or None when the pools could
  not be read; a pool not listed there (the user cannot see it) counts as a lab's for a guest that carries the
  pool's name as a tag, as the lab role tags its guests. It says nothing of templates: the inventory lists a
  template in a lab's pool with that lab.
"""

from __future__ import annotations

from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import is_template, split_tags

MARK = 'pvelab:'
POOL_COMMENT = 'pvelab.proxmox lab '


# ------------------------------------------------------------------ comments

def marker(lab):
    return MARK + lab


def owned(comment, lab):
    """True if a comment marks an object of this lab ('pvelab:net' does not own 'pvelab:netadmin ...')."""
    text = (comment or '').strip()
    mark = marker(lab)
    return text == mark or text.startswith(mark + ' ')


ACCOUNT_KINDS = ('student', 'teacher')


def account_comment(lab, kind, comment=None):
    """The comment of an account lab <lab> makes (kind: student or teacher), the class list's comment after it."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError('account kind {0!r} is not one of {1}'.format(kind, ', '.join(ACCOUNT_KINDS)))
    text = '{0} {1}'.format(marker(lab), kind)
    return '{0} {1}'.format(text, comment.strip()) if comment and comment.strip() else text


def account_kind(comment, lab):
    """'student' or 'teacher' for an account lab <lab> made (its comment says so), else None."""
    text = (comment or '').strip()
    if text == pool_comment(lab):
        return 'student'  # the comment versions before 1.1 gave every student
    if not owned(text, lab):
        return None
    words = text.split()
    return words[1] if len(words) > 1 and words[1] in ACCOUNT_KINDS else None


ZONE_MARK = ', made SDN zone '


def pool_comment(lab, zone=None):
    return POOL_COMMENT + lab + (ZONE_MARK + zone if zone else '')


def made_zone(comment):
    """The SDN zone a lab's pool comment records as made by the lab, or None."""
    text = (comment or '').strip()
    if not is_lab_pool(text) or ZONE_MARK not in text:
        return None
    return text.rpartition(ZONE_MARK)[2].strip() or None


def vnet_alias(lab, userid):
    """The alias of the VNet a lab makes for a student: which student it is for (PVE's VNet ids are too short)."""
    return '{0} {1}'.format(marker(lab), userid)


def vnet_owner(alias, lab):
    """The userid of the student a VNet of lab <lab> is for (its alias says so), else None."""
    text = (alias or '').strip()
    if not owned(text, lab):
        return None
    words = text.split()
    return words[1] if len(words) == 2 else None


def is_lab_pool(comment):
    """True if a pool's comment is one the lab role writes."""
    return (comment or '').startswith(POOL_COMMENT)


# -------------------------------------------------------------------- guests

def _tags(guest):
    tags = guest.get('tags') or []
    return split_tags(tags) if isinstance(tags, str) else list(tags)


def in_lab(guest, lab):
    """True if the guest is lab <lab>'s: in its pool or tagged with its name, and not a template."""
    return not is_template(guest) and (guest.get('pool') == lab or lab in _tags(guest))


def lab_guests(guests, lab, names=None):
    """The guests of lab <lab> (in_lab), in the order given; with names, only those with one of these names."""
    names = None if names is None else set(names)
    return [g for g in guests or [] if in_lab(g, lab) and (names is None or g.get('name') in names)]


def guest_lab(guest, pools=None):
    """The lab the guest is in, or None: its pool, when that pool is a lab's (see the module's docstring)."""
    pool = guest.get('pool')
    if not pool:
        return None
    if pools is not None and pool in pools:
        return pool if is_lab_pool(pools[pool]) else None
    return pool if pool in _tags(guest) else None
