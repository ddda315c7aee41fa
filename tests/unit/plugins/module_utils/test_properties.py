# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based tests (hypothesis) of the parsers and validators everything else trusts: PVE property strings
(netN), ACL paths, user ids, CIDRs and VM names made from free text. The lab plan's one-VM-per-student rule is
in tests/unit/plugins/filter/test_lab_properties.py (controller code, tested apart from module_utils)."""

from __future__ import annotations

import ipaddress

import pytest

hypothesis = pytest.importorskip('hypothesis')

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible_collections.pvelab.proxmox.plugins.module_utils._access import (  # noqa: E402
    normalize_acl_path,
    parse_userid,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import NET_MODELS, _qemu_nic  # noqa: E402
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (  # noqa: E402
    format_props,
    get_prop,
    parse_props,
    set_prop,
    validate_cidr,
    validate_vm_name,
    vm_name,
)

# A loaded CI machine must not turn a slow example into a failure (set per test: no global profile).
CHECKED = settings(deadline=None, max_examples=100)

# ------------------------------------------------------------------ property strings

KEY = st.from_regex(r'\A[a-z][a-z0-9_\-]{0,11}\Z')
VALUE = st.from_regex(r'\A[A-Za-z0-9:./_\-]{0,16}\Z')      # no ',' nor '=': PVE's own property values
BARE = st.from_regex(r'\A[A-Za-z0-9:./_\-]{1,16}\Z')
MAC = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda b: ':'.join('%02X' % x for x in b))


@st.composite
def prop_items(draw):
    """(key, value) items as PVE writes them: an optional bare first item, then unique keys."""
    items = []
    if draw(st.booleans()):
        items.append((None, draw(BARE)))
    keys = draw(st.lists(KEY, unique=True, max_size=8))
    items += [(k, draw(VALUE)) for k in keys]
    return items


@st.composite
def net_strings(draw):
    """A netN value: model=MAC first, then options in any order (the MAC may also come as macaddr=)."""
    mac = draw(MAC)
    options = draw(st.lists(st.sampled_from(['bridge', 'tag', 'rate', 'mtu', 'queues', 'link_down', 'firewall']),
                            unique=True, max_size=6))
    items = [(draw(st.sampled_from(NET_MODELS)), mac)] + [(k, draw(BARE)) for k in options]
    return format_props(items), mac


@CHECKED
@given(prop_items())
def test_property_string_round_trip(items):
    assert parse_props(format_props(items)) == items


@CHECKED
@given(st.text(alphabet='ab=,:1', max_size=30))
def test_property_string_parse_is_stable(text):
    items = parse_props(text)
    assert parse_props(format_props(items)) == items


def net_mac(text):
    """The MAC of a VM's netN as the modules read it (_guests, which merge_net keeps the MAC with)."""
    return _qemu_nic(parse_props(text))[1]


@CHECKED
@given(net_strings(), st.sampled_from(['firewall', 'bridge', 'tag', 'link_down', 'newkey']), BARE)
def test_set_prop_keeps_the_mac_and_every_other_key(net, key, value):
    text, mac = net
    out = set_prop(text, key, value)
    assert net_mac(out) == mac == net_mac(text)
    assert get_prop(out, key) == value
    before = [(k, v) for k, v in parse_props(text) if k != key]
    after = [(k, v) for k, v in parse_props(out) if k != key]
    assert after == before                                      # same keys, same values, same order
    assert set_prop(out, key, value) == out                     # idempotent


# ------------------------------------------------------------------ ACL paths

NAME = st.from_regex(r'\A[A-Za-z0-9.\-_]{1,12}\Z').filter(lambda s: s not in ('.', '..'))
ALNUM = st.from_regex(r'\A[A-Za-z0-9]{1,10}\Z')
VMID = st.integers(100, 999999999)


@st.composite
def pve_paths(draw):
    """Paths PVE's check_path() accepts (pve-access-control AccessControl.pm)."""
    return draw(st.one_of(
        st.sampled_from(['/', '/access', '/access/groups', '/access/realm', '/nodes', '/pool', '/sdn',
                         '/sdn/controllers', '/sdn/dns', '/sdn/ipams', '/sdn/zones', '/storage', '/vms', '/mapping']),
        VMID.map('/vms/{0}'.format),
        NAME.map('/nodes/{0}'.format), NAME.map('/storage/{0}'.format), NAME.map('/access/groups/{0}'.format),
        NAME.map('/access/realm/{0}'.format), NAME.map('/mapping/{0}'.format),
        st.lists(NAME, min_size=1, max_size=3).map(lambda s: '/pool/' + '/'.join(s)),
        st.tuples(NAME, NAME).map('/mapping/{0[0]}/{0[1]}'.format),
        st.tuples(NAME, NAME).map('/sdn/zones/{0[0]}/{0[1]}'.format),
        st.tuples(NAME, NAME, st.integers(1, 4094)).map('/sdn/zones/{0[0]}/{0[1]}/{0[2]}'.format),
        ALNUM.map('/sdn/ipams/{0}'.format), ALNUM.map('/sdn/dns/{0}'.format),
    ))


def refused(path):
    with pytest.raises(ValueError) as err:
        normalize_acl_path(path)
    assert repr(path) in str(err.value) and str(err.value).startswith('path ')
    return str(err.value)


@CHECKED
@given(pve_paths())
def test_acl_paths_pve_accepts_are_accepted_as_they_are(path):
    assert normalize_acl_path(path) == path
    if path != '/':
        assert normalize_acl_path(path + '/') == path            # PVE ignores one trailing slash


@CHECKED
@given(pve_paths(), st.integers(0, 6), st.sampled_from(['..', '.', '']))
def test_dot_and_empty_segments_are_refused(path, where, bad):
    segments = path.strip('/').split('/') if path != '/' else []
    segments.insert(min(where, len(segments)), bad)
    text = '/' + '/'.join(segments)
    assume(not (bad == '' and text.endswith('/') and '//' not in text))   # one trailing slash is allowed
    message = refused(text)
    assert ('".."' in message or 'empty segment' in message or 'not an ACL path' in message)


@CHECKED
@given(pve_paths().filter(lambda p: p != '/'), st.text(alphabet='!"#$%&\'()*+,:;<=>?@[\\]^`{|}~', min_size=1,
                                                       max_size=4), st.sampled_from(['', ' ', '\t']))
def test_trailing_junk_is_refused(path, junk, space):
    refused(path + junk + space)


@CHECKED
@given(pve_paths(), st.sampled_from(['', ' ', '\t', '  ']))
def test_surrounding_white_space_is_trimmed(path, space):
    assert normalize_acl_path(space + path + space) == path


@CHECKED
@given(st.integers(0, 99))
def test_vmids_below_100_are_no_vm_paths(vmid):
    refused('/vms/{0}'.format(vmid))


@CHECKED
@given(st.text(max_size=20).filter(lambda t: not t.startswith('/')))
def test_relative_paths_are_refused(text):
    with pytest.raises(ValueError):
        normalize_acl_path(text)


# ------------------------------------------------------------------ user ids

USER = st.from_regex(r'\A[^\s:/]{1,20}\Z')
REALM = st.from_regex(r'\A[A-Za-z][A-Za-z0-9.\-_]{1,10}\Z')


@CHECKED
@given(USER, REALM)
def test_userid_name_at_realm_is_kept(name, realm):
    userid = '{0}@{1}'.format(name, realm)
    assume(len(userid) <= 64)
    assert parse_userid(userid) == userid
    assert parse_userid(parse_userid(userid)) == userid


@CHECKED
@given(USER.filter(lambda n: '@' not in n))
def test_userid_without_realm_gets_pve(name):
    assume(len(name) <= 60)
    assert parse_userid(name) == name + '@pve'


@CHECKED
@given(USER, st.sampled_from([' ', '\t', ':', '/']), st.integers(0, 20), REALM)
def test_userid_with_a_forbidden_character_is_refused(name, bad, where, realm):
    # inside the name (white space around the whole id is trimmed, as YAML may leave it)
    broken = name[:where] + bad + name[where:] if bad in ':/' else name[:1] + bad + name[1:] + 'x'
    with pytest.raises(ValueError) as err:
        parse_userid('{0}@{1}'.format(broken, realm), field='users[3]')
    assert str(err.value).startswith('users[3] ')


@CHECKED
@given(USER, st.from_regex(r'\A([0-9._\-][A-Za-z0-9.\-_]*|[A-Za-z])\Z'))
def test_bad_realms_are_refused(name, realm):
    with pytest.raises(ValueError) as err:
        parse_userid('{0}@{1}'.format(name, realm))
    assert 'userid' in str(err.value)


# ------------------------------------------------------------------ CIDRs

def cidr_texts():
    v4 = st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300), st.integers(0, 300)).map(
        lambda t: '.'.join(str(x) for x in t))
    v6 = st.ip_addresses(v=6).map(str)
    host = st.one_of(v4, st.ip_addresses(v=4).map(str), v6)
    prefix = st.one_of(st.just(''), st.integers(0, 140).map('/{0}'.format), st.sampled_from(['/', '/x', '/-1']))
    return st.one_of(st.tuples(host, prefix).map(''.join), st.text(max_size=20))


@CHECKED
@given(cidr_texts())
def test_cidr_validator_agrees_with_ipaddress(text):
    try:
        want = str(ipaddress.ip_network(text.strip(), strict=True))
    except ValueError:
        want = None
    if want is None:
        with pytest.raises(ValueError) as err:
            validate_cidr(text, field='lab_teacher_sources')
        assert str(err.value).startswith('lab_teacher_sources ')
    else:
        assert validate_cidr(text) == want
        assert validate_cidr(want) == want


# ------------------------------------------------------------------ VM names (the lab plan's: tests/unit/plugins/filter)

@CHECKED
@given(st.text(max_size=200))
def test_vm_name_always_makes_a_valid_dns_name(text):
    name = vm_name(text)
    assert validate_vm_name(name) == name
    assert vm_name(name) == name                                # a valid name is kept as it is


@CHECKED
@given(st.from_regex(r'\A[A-Za-z0-9][A-Za-z0-9\-]{0,20}[A-Za-z0-9]\Z'))
def test_vm_name_keeps_a_dns_label(label):
    assert vm_name(label) == label
