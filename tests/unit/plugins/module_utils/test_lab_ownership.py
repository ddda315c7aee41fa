"""_lab: what marks an object as a lab's (pool comment, pool and tag of a guest, firewall comment)."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils import _firewall, _lab


def test_firewall_comments():
    assert _lab.marker('netlab') == 'pvelab:netlab'
    assert _lab.owned('pvelab:netlab', 'netlab') and _lab.owned(' pvelab:netlab teacher', 'netlab')
    assert not _lab.owned('pvelab:netlab2 teacher', 'netlab') and not _lab.owned('pvelab:net x', 'netlab')
    assert not _lab.owned(None, 'netlab') and not _lab.owned('', 'netlab')
    assert (_firewall.MARK, _firewall.marker, _firewall.owned) == (_lab.MARK, _lab.marker, _lab.owned)


def test_pool_comment():
    assert _lab.pool_comment('netadmin') == 'pvelab.proxmox lab netadmin'
    assert _lab.is_lab_pool('pvelab.proxmox lab netadmin') and not _lab.is_lab_pool('production web servers')
    assert not _lab.is_lab_pool(None)


GUESTS = [
    {'vmid': 200, 'name': 'netadmin-alice', 'pool': 'netadmin', 'tags': 'netadmin'},
    {'vmid': 201, 'name': 'netadmin-bob', 'tags': ['exam-room', 'netadmin']},           # tagged, pool not visible
    {'vmid': 202, 'name': 'netadmin-carol', 'pool': 'netadmin', 'tags': []},            # in the pool, tag lost
    {'vmid': 203, 'name': 'netadmin-dave', 'pool': 'other', 'tags': 'web;prod'},        # the name only
    {'vmid': 9000, 'name': 'tmpl', 'pool': 'netadmin', 'tags': 'netadmin', 'template': 1},
]


def test_lab_guests_by_pool_or_tag_never_a_template():
    assert [g['vmid'] for g in _lab.lab_guests(GUESTS, 'netadmin')] == [200, 201, 202]
    assert [g['vmid'] for g in _lab.lab_guests(GUESTS, 'netadmin', names=['netadmin-bob', 'tmpl'])] == [201]
    assert _lab.lab_guests(GUESTS, 'net') == [] and _lab.lab_guests(None, 'netadmin') == []
    assert not _lab.in_lab(dict(GUESTS[0], template=True), 'netadmin')


def test_guest_lab_is_the_guests_pool_when_that_pool_is_a_labs():
    pools = {'netadmin': 'pvelab.proxmox lab netadmin', 'web': 'production web servers'}
    assert _lab.guest_lab({'pool': 'netadmin', 'tags': []}, pools) == 'netadmin'
    assert _lab.guest_lab({'pool': 'web', 'tags': ['web']}, pools) is None       # a pool whose comment says no lab
    assert _lab.guest_lab({'pool': None, 'tags': ['netadmin']}, pools) is None   # a tag alone makes no lab
    # pools not readable, or this one not visible: the pool is a lab's for a guest tagged with its name
    assert _lab.guest_lab({'pool': 'netadmin', 'tags': ['netadmin']}, None) == 'netadmin'
    assert _lab.guest_lab({'pool': 'hidden', 'tags': 'hidden;x'}, pools) == 'hidden'
    assert _lab.guest_lab({'pool': 'hidden', 'tags': []}, pools) is None


def test_an_account_comment_says_which_lab_made_it_and_for_whom():
    assert _lab.account_comment('netadmin', 'student') == 'pvelab:netadmin student'
    assert _lab.account_comment('netadmin', 'teacher', ' group A ') == 'pvelab:netadmin teacher group A'
    assert _lab.account_kind('pvelab:netadmin student group A', 'netadmin') == 'student'
    assert _lab.account_kind('pvelab:netadmin teacher', 'netadmin') == 'teacher'
    # what versions before wrote for every student
    assert _lab.account_kind('pvelab.proxmox lab netadmin', 'netadmin') == 'student'
    assert _lab.account_kind('pvelab:netadmin2 student', 'netadmin') is None
    assert _lab.account_kind('pvelab:netadmin', 'netadmin') is None
    assert _lab.account_kind('a student of netadmin', 'netadmin') is None
    assert _lab.account_kind(None, 'netadmin') is None
    with pytest.raises(ValueError):
        _lab.account_comment('netadmin', 'assistant')
