# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: firewall isolation of a lab's student VMs.

Most of this file is pure: the desired IP set, security group and rules computed from the inputs,
the difference to what PVE holds (rules matched by content and by the lab's comment, never by
position), the per-VM plan (with each NIC's source filter), and what the datacenter switch takes.
The isolation report, what that configuration lets through, is _isolation.py. The few functions
that talk to PVE (read_*, apply_*) are at the end.

What it takes to isolate one guest (as pve-firewall's Firewall.pm compiles it):
the datacenter switch (cluster options enable), the guest switch (guest options enable, with
policy_in DROP), firewall=1 on every netN the isolation covers (all of them, or a guest's uplinks
named in the option nets: its other NICs are private, on the student's own network, and carry no
firewall=1, no ipfilter set), and the rules: a VM rule of type `group` with
`action: <group>` pulls in the lab's security group, whose rules accept traffic whose source is
the lab's IP set `+<name>-teacher`. Student-to-student traffic is dropped by the receiver's
policy_in; a student sending as someone else is dropped by its own NIC's ipfilter set.

Ownership: everything the module writes carries a comment starting with `pvelab:<lab>`. The group
reference on each VM also records the guest's firewall options (and the NICs without firewall=1)
as they were before the module first touched it, so state=absent can put them back:
`pvelab:<lab> group reference (was enable=0,policy_in=,policy_out=,dhcp=,nofw=net0+net1)`
(an empty value: the option was not set). PVE keeps that comment in the guest's .fw file, so the
record lives and dies with the VM and needs no state outside PVE.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError, PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    guest_path,
    host_cidrs,
    ips_by_mac,
    read_interfaces,
    read_pending,
    static_ips,
    update_config,
)
# Importable from here under these names: pve_firewall_isolation and the tests use them as fw.*.
# pylint: disable-next=unused-import
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import guest_cidrs as teacher_addresses
# pylint: disable-next=unused-import
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import static_cidrs as ips_from_config
# pylint: disable-next=unused-import
from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import MARK, marker, owned
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    get_prop,
    net_keys,
    parse_props,
    format_props,
    set_prop,
    validate_cidr,
    validate_fw_group,
    validate_vmid,
)

# An IP set reference in a rule's source or dest: +name, +dc/name or +guest/name (pve-firewall's ipset names).
FW_REF_RE = re.compile(r'^(?:dc/|guest/)?[A-Za-z][A-Za-z0-9\-_]+$')
IPSET_SUFFIX = '-teacher'
# Options of a guest's firewall the module sets, in the order they are recorded.
RECORDED_OPTIONS = ('enable', 'policy_in', 'policy_out', 'dhcp')
BLOCKING = ('DROP', 'REJECT')
# Per-VM requests run in parallel on this many threads (PveClient is thread-safe).
WORKERS = 8
# ICMP type names pve-firewall accepts for proto icmp (PVE::Firewall $icmp_type_names).
ICMP_TYPES = frozenset('''any echo-reply destination-unreachable network-unreachable host-unreachable
protocol-unreachable port-unreachable fragmentation-needed source-route-failed network-unknown host-unknown
network-prohibited host-prohibited TOS-network-unreachable TOS-host-unreachable communication-prohibited
host-precedence-violation precedence-cutoff source-quench redirect network-redirect host-redirect
TOS-network-redirect TOS-host-redirect echo-request router-advertisement router-solicitation time-exceeded
ttl-zero-during-transit ttl-zero-during-reassembly parameter-problem ip-header-bad required-option-missing
timestamp-request timestamp-reply address-mask-request address-mask-reply'''.split())
# ICMP type numbers (RFC 792 and later) and the names PVE wants for them: the icmp-type of a rule is a name only
# (pve-firewall src/PVE/Firewall.pm pve_fw_verify_icmp_type_spec).
ICMP_TYPE_NUMBERS = {'0': 'echo-reply', '3': 'destination-unreachable', '4': 'source-quench', '5': 'redirect',
                     '8': 'echo-request', '9': 'router-advertisement', '10': 'router-solicitation',
                     '11': 'time-exceeded', '12': 'parameter-problem', '13': 'timestamp-request',
                     '14': 'timestamp-reply', '17': 'address-mask-request', '18': 'address-mask-reply'}
# Fields that make up what a rule does (comment, enable, pos, digest, log and ipversion do not).
RULE_FIELDS = ('type', 'action', 'macro', 'iface', 'source', 'dest', 'proto', 'dport', 'sport', 'icmp-type')


# ===================================================================== inputs

def lab_names(name):
    """The security group and IP set names of a lab. PVE stores both in lower case (it lower-cases them
    when it parses cluster.fw), so the module uses lower case too; the group name is at most 18 characters."""
    group = validate_fw_group(str(name).lower(), field='name')
    return group, group + IPSET_SUFFIX


def parse_ranges(raw, field='vmid_range'):
    """vmid_range as a sorted list of (first, last): a dict, or a list of dicts; overlapping ranges are refused."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    ranges = []
    for index, item in enumerate(items):
        where = field if not isinstance(raw, list) else '{0}[{1}]'.format(field, index)
        if not isinstance(item, dict) or set(item) - {'first', 'last'} or 'first' not in item or 'last' not in item:
            raise ValueError('{0} must be a dict with the keys first and last, not {1!r}'.format(where, item))
        first = validate_vmid(item['first'], where + '.first')
        last = validate_vmid(item['last'], where + '.last')
        if first > last:
            raise ValueError('{0}: first ({1}) is after last ({2})'.format(where, first, last))
        ranges.append((first, last))
    ranges.sort()
    for (a_first, a_last), (b_first, b_last) in zip(ranges, ranges[1:]):
        if b_first <= a_last:
            raise ValueError('{0}: the ranges {1}..{2} and {3}..{4} overlap'.format(field, a_first, a_last,
                                                                                    b_first, b_last))
    return ranges


NIC_NAME_RE = re.compile(r'^net(?:0|[1-9][0-9]*)$')


def parse_nets(raw, field='nets'):
    """O(nets) as {vmid: [netN]} (numeric order): for each VM listed, the NICs the isolation covers (its uplinks);
    its other NICs are private. Refused: a key that is no vmid (or a vmid twice), a value that is not a non-empty
    list, a name that is not net<N>. Whether the VM is selected and has these NICs is checked against PVE."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError('{0} must be a dict {{vmid: [netN, ...]}}, not {1!r}'.format(field, raw))
    out = {}
    for key, names in sorted(raw.items(), key=lambda kv: str(kv[0])):
        vmid = validate_vmid(str(key).strip(), '{0} key'.format(field))
        where = '{0}[{1}]'.format(field, vmid)
        if vmid in out:
            raise ValueError('{0}: vm {1} is given twice'.format(field, vmid))
        if not isinstance(names, list) or not names:
            raise ValueError('{0} must be a non-empty list of NIC names (net0, net1, ...): the NICs the isolation '
                             'covers, not {1!r}'.format(where, names))
        for index, name in enumerate(names):
            if not isinstance(name, str) or not NIC_NAME_RE.match(name):
                raise ValueError('{0}[{1}] {2!r} is not a NIC name net<N>'.format(where, index, name))
        out[vmid] = sorted(set(names), key=lambda n: int(n[3:]))
    return out


def check_nets(nets, vms, nics=True):
    """Refuse, before any write, an entry of O(nets) for a VM that is not selected, or (nics) naming a NIC the VM
    does not have (in its config, pending changes included). vms: the guests as read (read_vm)."""
    by_id = dict((vm['vmid'], vm) for vm in vms)
    for vmid, names in sorted(nets.items()):
        if vmid not in by_id:
            raise ValueError('nets[{0}]: vm {0} is not among the selected VMs (vmids, vmid_range, pool, tag; teacher '
                             'VMs and templates are left out)'.format(vmid))
        if not nics:
            continue
        have = nic_states(by_id[vmid])
        missing = [n for n in names if n not in have]
        if missing:
            raise ValueError('nets[{0}]: vm {0} has no {1} (its NICs: {2})'.format(
                vmid, ', '.join(missing), ', '.join(sorted(have, key=lambda n: int(n[3:]))) or 'none'))


def _check_port_list(text, where):
    items = str(text).split(',')
    count = 0
    for item in items:
        found = re.match(r'^(\d+)(?::(\d+))?$', item)
        if not found:
            raise ValueError('{0} {1!r} is not a port, a range "first:last" or a comma list of them'.format(
                where, text))
        first = int(found.group(1))
        last = int(found.group(2)) if found.group(2) is not None else first
        if not 0 < first <= 65535 or not 0 < last <= 65535:
            raise ValueError('{0} {1!r}: ports are 1 to 65535'.format(where, text))
        if first > last:
            raise ValueError('{0} {1!r}: the range {2}:{3} is backwards'.format(where, text, first, last))
        count += 1 if first == last else 2
    if count > 15:
        raise ValueError('{0} {1!r}: PVE allows at most 15 port numbers in one rule'.format(where, text))


def parse_ports(entries, field='teacher_ports'):
    """teacher_ports as a list of {'proto', 'dport'} (dport '' for all ports). For icmp, dport is an ICMP type."""
    out = []
    seen = set()
    for index, entry in enumerate(entries or []):
        where = '{0}[{1}]'.format(field, index)
        proto = str(entry.get('proto') or '').lower()
        if proto not in ('tcp', 'udp', 'icmp'):
            raise ValueError('{0}.proto {1!r} must be tcp, udp or icmp'.format(where, entry.get('proto')))
        dport = str(entry.get('dport') or '').strip().replace(' ', '')
        if dport and proto == 'icmp':
            check_icmp_type(dport, where + '.dport')
        elif dport:
            _check_port_list(dport, where + '.dport')
        if (proto, dport) not in seen:
            seen.add((proto, dport))
            out.append({'proto': proto, 'dport': dport})
    return out


def check_icmp_type(value, where):
    """An ICMP type as PVE takes it in a rule: a name of ICMP_TYPES. A number is refused, naming the name to use."""
    if value in ICMP_TYPES:
        return value
    if value.isdigit():
        name = ICMP_TYPE_NUMBERS.get(str(int(value)))
        raise ValueError('{0} {1!r}: PVE takes ICMP types by name only{2}'.format(
            where, value, ' (use {0!r})'.format(name) if name else ', for example echo-request'))
    raise ValueError('{0} {1!r} is not an ICMP type (for example echo-request)'.format(where, value))


def check_rule(rule, where):
    """Refuse a rule PVE would refuse when it is posted, before anything is written: the parts the module sets
    (action, group reference, source/dest, proto, ports, ICMP type, comment)."""
    rtype = str(rule.get('type', ''))
    if rtype == 'group':
        validate_fw_group(rule.get('action'), where + ' group')
    elif rtype not in ('in', 'out') or rule.get('action') not in ('ACCEPT', 'DROP', 'REJECT'):
        raise ValueError('{0}: {1} {2} is not a rule PVE takes'.format(where, rtype, rule.get('action')))
    for field in ('source', 'dest'):
        value = rule.get(field)
        if value and not (value.startswith('+') and FW_REF_RE.match(value[1:])):
            validate_cidr(value, '{0} {1}'.format(where, field))
    proto = rule.get('proto')
    if rule.get('icmp-type'):
        if proto != 'icmp':
            raise ValueError('{0}: icmp-type needs proto icmp, not {1!r}'.format(where, proto))
        check_icmp_type(str(rule['icmp-type']), where + ' icmp-type')
    if rule.get('dport'):
        if proto not in ('tcp', 'udp'):
            raise ValueError('{0}: dport needs proto tcp or udp, not {1!r}'.format(where, proto))
        _check_port_list(rule['dport'], where + ' dport')
    if '\n' in str(rule.get('comment') or '') or '\r' in str(rule.get('comment') or ''):
        raise ValueError('{0}: a rule comment may not hold a line break'.format(where))


def check_writes(group, rules, vm_plans):
    """check_rule on every rule a run is about to write (the group's, each guest's reference): a refusal halfway
    would leave the IP set and the group made, and some guests changed."""
    for rule in rules:
        check_rule(rule, 'security group {0}: rule {1}'.format(group, describe_rule(dict(rule, enable=1))))
    for vmid, plan in sorted(vm_plans.items()):
        if plan.get('ref_create'):
            check_rule(plan['ref_create'], 'vm {0}: rule {1}'.format(vmid, describe_rule(plan['ref_create'])))


def parse_sources(sources, field='teacher_sources'):
    """Teacher CIDRs, normalised (a host address becomes /32 or /128); a value that is not a CIDR is refused."""
    out = []
    for index, source in enumerate(sources or []):
        cidr = validate_cidr(source, '{0}[{1}]'.format(field, index))
        if cidr not in out:
            out.append(cidr)
    return out


def norm_cidr(text):
    """An address or network as 'a.b.c.d/len' (ipset entries come back without /32); None if it is not one."""
    try:
        return str(ipaddress.ip_network(str(text).strip(), strict=False))
    except ValueError:
        return None


# ====================================================================== rules

def _ref_norm(value):
    """A source/dest for comparison: '+dc/name' and '+name' are the same cluster IP set; names compare lower case."""
    value = str(value or '').strip()
    if value.startswith('+'):
        name = value[1:]
        if name.startswith('dc/'):
            name = name[3:]
        return '+' + name.lower()
    return (norm_cidr(value) if value else None) or value


def rule_key(rule):
    """What a rule does, as a tuple: two rules with the same key are the same rule whatever their position."""
    out = []
    for field in RULE_FIELDS:
        value = rule.get(field)
        value = '' if value is None else str(value).strip()
        if field in ('source', 'dest'):
            value = _ref_norm(value)
        elif field in ('macro', 'proto', 'type'):
            value = value.lower()
        elif field == 'action' and str(rule.get('type', '')).lower() == 'group':
            value = value.lower()
        out.append(value)
    return tuple(out)


def rule_enabled(rule):
    try:
        return int(rule.get('enable') or 0) >= 1
    except (TypeError, ValueError):
        return False


def describe_rule(rule):
    """A rule in the words of a .fw file: 'IN ACCEPT -source +lab-teacher -p tcp -dport 22'."""
    if str(rule.get('type')).lower() == 'group':
        text = 'GROUP {0}'.format(rule.get('action'))
    else:
        text = '{0} {1}'.format(str(rule.get('type', '')).upper(),
                                (rule['macro'] + '(' + rule.get('action', '') + ')') if rule.get('macro')
                                else rule.get('action', ''))
    for field, flag in (('iface', '-i'), ('source', '-source'), ('dest', '-dest'), ('proto', '-p'),
                        ('dport', '-dport'), ('sport', '-sport'), ('icmp-type', '-icmp-type')):
        if rule.get(field) not in (None, ''):
            text += ' {0} {1}'.format(flag, rule[field])
    if not rule_enabled(rule):
        text = '|' + text
    return text


def desired_group_rules(lab, ipset, ports, outbound, allow_dns):
    """The rules of the lab's security group, each with its comment. Every inbound rule is limited to the
    teacher IP set: nothing in the group accepts traffic from other students."""
    src = '+' + ipset
    mark = marker(lab)
    rules = []
    if not ports:
        rules.append({'type': 'in', 'action': 'ACCEPT', 'source': src, 'comment': mark + ' teacher to student: all'})
    for port in ports:
        rule = {'type': 'in', 'action': 'ACCEPT', 'source': src, 'proto': port['proto']}
        what = port['proto']
        if port['dport'] and port['proto'] == 'icmp':
            rule['icmp-type'] = port['dport']
            what += ' ' + port['dport']
        elif port['dport']:
            rule['dport'] = port['dport']
            what += '/' + port['dport']
        rule['comment'] = mark + ' teacher to student: ' + what
        rules.append(rule)
    if outbound == 'teacher_only':
        rules.append({'type': 'out', 'action': 'ACCEPT', 'dest': src, 'comment': mark + ' student to teacher'})
        if allow_dns:
            rules.append({'type': 'out', 'action': 'ACCEPT', 'macro': 'DNS', 'comment': mark + ' student to DNS'})
    return rules


def plan_rules(existing, desired, lab):
    """What to do to a rule list so that the lab's rules are exactly `desired`.

    Returns {'create': [desired rules], 'enable': [existing rules], 'delete': [existing rules]}. Only rules
    carrying the lab's comment are the lab's; a rule that does the same without the comment is foreign and left
    alone (and not duplicated: its key counts as present only if it carries the comment)."""
    want = {}
    for rule in desired:
        want.setdefault(rule_key(rule), rule)
    found = {}
    delete = []
    enable = []
    for rule in sorted(existing, key=lambda r: int(r.get('pos', 0))):
        if not owned(rule.get('comment'), lab):
            continue
        key = rule_key(rule)
        if key not in want or key in found:
            delete.append(rule)
            continue
        found[key] = rule
        if not rule_enabled(rule):
            enable.append(rule)
    create = [rule for key, rule in want.items() if key not in found]
    return {'create': create, 'enable': enable, 'delete': delete}


def plan_ipset(entries, cidrs, lab):
    """{'add': [cidr], 'delete': [entry cidr as PVE has it]} for the lab's IP set. Entries without the lab's comment
    are foreign: kept, and a wanted address that is already there foreign is not added again."""
    have_own = {}
    have_foreign = set()
    for entry in entries:
        cidr = norm_cidr(entry.get('cidr'))
        if owned(entry.get('comment'), lab):
            have_own[cidr] = entry['cidr']
        else:
            have_foreign.add(cidr)
    wanted = [c for c in (norm_cidr(c) for c in cidrs) if c]
    delete = [raw for cidr, raw in have_own.items() if cidr not in wanted]
    add = [c for c in wanted if c not in have_own and c not in have_foreign]
    return {'add': add, 'delete': delete}


# ============================================================ source filter

# pve-firewall limits what a NIC may send to the entries of the guest's IP set `ipfilter-net<N>` once that set
# exists: a packet from another source address is dropped in the NIC's OUT chain, and (through ebtables, unless
# the cluster option ebtables is 0) an ARP packet claiming another IPv4 address too. PVE adds the NIC's own IPv6
# link-local address to the set itself, and lets DHCP requests out before the filter, so a DHCP guest keeps its
# lease. A student with root can then neither send as the teacher nor answer ARP for the teacher's address.
MAC_RE = re.compile(r'^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$')


def ipfilter_set(net):
    return 'ipfilter-' + net


def nic_mac(text):
    """The MAC of a netN value: qemu's `virtio=MAC,...` or a container's `hwaddr=MAC` (lower case), or None."""
    for _key, value in parse_props(text):
        if value and MAC_RE.match(value):
            return value.lower()
    return None


def _present(vm, keys):
    states = nic_states(vm)
    return [k for k in keys if k in states]


def nic_static_addresses(vm):
    """{netN: [host CIDR]} of the static addresses of a guest's covered NICs (see covered_nics): cloud-init ipconfigN for netN (VMs), the ip=/ip6= of
    netN itself (containers). DHCP, SLAAC (auto) and manual NICs have none."""
    out = {}
    for key in _present(vm, covered_nics(vm)):
        if vm.get('type') == 'lxc':
            found = static_ips({key: nic_base(vm, key)})
        else:
            found = static_ips({'ipconfig' + key[3:]: (vm.get('current') or {}).get('ipconfig' + key[3:])})
        if found:
            out[key] = host_cidrs(found)
    return out


def agent_nic_addresses(vm, interfaces):
    """{netN: [host CIDR]} from the guest agent's network-get-interfaces (or a container's /interfaces), matched to
    the NICs by MAC; loopback and link-local addresses left out (PVE adds the link-local one itself)."""
    by_mac = ips_by_mac(interfaces)
    out = {}
    for key in _present(vm, covered_nics(vm)):
        found = by_mac.get(nic_mac(nic_base(vm, key)) or '')
        if found:
            out[key] = host_cidrs(found)
    return out


def source_entry_comment(lab, how):
    return '{0} source address ({1})'.format(marker(lab), how)


def plan_source_filter(vm, lab, learned):
    """The ipfilter IP sets one guest needs: {netN: {'create': bool, 'add': [(cidr, how)], 'delete': [cidr]}}.

    vm['ipsets'] holds each NIC's set as read ({netN: entries or None when it does not exist}). A NIC with a static
    address gets exactly that (stale entries of the lab go); a NIC without one keeps what the set holds, or, when it
    has no set or an empty one, the addresses `learned` from the guest agent: a set is filled once and never
    re-learned from a guest a student has had root on since. A NIC with no address known gets no set (an empty
    set would let it send from its link-local address only): the report names it."""
    static = nic_static_addresses(vm)
    sets = vm.get('ipsets') or {}
    plan = {}
    for key in _present(vm, covered_nics(vm)):
        entries = sets.get(key)
        if key in static:
            change = plan_ipset(entries or [], static[key], lab)
            add = [(cidr, 'static configuration') for cidr in change['add']]
            delete = change['delete']
        elif entries:
            continue
        else:
            add = [(cidr, 'learned from the guest agent') for cidr in learned.get(key) or []]
            delete = []
        if add or delete:
            plan[key] = {'create': entries is None and bool(add), 'add': add, 'delete': delete}
    return plan


def needs_learning(vm):
    """The NICs of a guest whose source addresses are not known yet: no static address and no set entries."""
    static = nic_static_addresses(vm)
    sets = vm.get('ipsets') or {}
    return [key for key in _present(vm, covered_nics(vm)) if key not in static and not sets.get(key)]


def check_learned(vms, learned, teacher_cidrs):
    """Refuse addresses a guest agent reports that another guest of the lab also reports, or that lie inside a
    teacher source: a student who set one of those on their VM would otherwise be allowed to send from it."""
    owners = {}
    for vm in vms:
        for key, cidrs in sorted(((vm.get('ipsets') or {}).items())):
            for entry in cidrs or []:
                owners.setdefault(norm_cidr(entry.get('cidr')), []).append('vm {0} {1}'.format(vm['vmid'], key))
        for key, cidrs in sorted(nic_static_addresses(vm).items()):
            for cidr in cidrs:
                owners.setdefault(cidr, []).append('vm {0} {1}'.format(vm['vmid'], key))
    for vmid, nics in sorted(learned.items()):
        for key, cidrs in sorted(nics.items()):
            for cidr in cidrs:
                owners.setdefault(cidr, []).append('vm {0} {1}'.format(vmid, key))
    problems = []
    nets = [ipaddress.ip_network(c) for c in teacher_cidrs]
    for vmid, nics in sorted(learned.items()):
        for key, cidrs in sorted(nics.items()):
            for cidr in cidrs:
                addr = ipaddress.ip_network(cidr)
                if any(addr.version == n.version and addr.subnet_of(n) for n in nets):
                    problems.append('vm {0} {1} reports {2}, a teacher address'.format(vmid, key, cidr))
                elif len(set(owners[cidr])) > 1:
                    problems.append('vm {0} {1} reports {2}, which {3} has too'.format(
                        vmid, key, cidr, ' and '.join(o for o in sorted(set(owners[cidr]))
                                                      if o != 'vm {0} {1}'.format(vmid, key))))
    return problems


# ============================================================ datacenter record

# Turning the datacenter firewall on also turns on the host firewall of every node (its `enable` defaults to on),
# whose input policy is the cluster's policy_in or DROP: the web UI and API (8006, the roster's console links) and
# SSH would then answer only the `management` IP set. When a lab turns the datacenter firewall on, the hosts must
# answer as they did while it was off (everyone): it sets policy_in ACCEPT in the same request when policy_in was
# not set, or else adds datacenter rules accepting 8006 and 22. What it changed is recorded in PVE itself, in the
# comment of an (empty) security group, so the teardown of the last lab, from any controller, can put it back.
RECORD_GROUP = 'pvelab-dc'
RECORD_MARK = RECORD_GROUP + ':'
KEPT_OPEN = ('8006', '22')


def _enable_value(options):
    value = (options or {}).get('enable')
    if value in (None, ''):
        return ''
    return '1' if datacenter_enabled(options) else '0'


def record_comment(options):
    """The record of the cluster options as they were before a lab turned the datacenter firewall on ('' for an
    option that was not set)."""
    return '{0} datacenter firewall turned on by a pvelab lab (was enable={1},policy_in={2}); the teardown of the ' \
           'last lab turns it back'.format(RECORD_MARK, _enable_value(options), (options or {}).get('policy_in') or '')


def parse_record(comment):
    """{'enable': '0'|'1'|'', 'policy_in': value or ''} from a record comment, or None."""
    found = re.search(r'\(was enable=([01]?),policy_in=([A-Z]*)\)', comment or '')
    if not str(comment or '').startswith(RECORD_MARK) or not found:
        return None
    return {'enable': found.group(1), 'policy_in': found.group(2)}


def plan_datacenter_on(options):
    """What turning the datacenter firewall on takes, with the hosts answering as before:
    {'options': {...one PUT...}, 'rules': [datacenter rules to add first]}."""
    plan = {'options': {'enable': 1}, 'rules': []}
    policy = (options or {}).get('policy_in') or ''
    if not policy:
        plan['options']['policy_in'] = 'ACCEPT'
    elif policy != 'ACCEPT':
        for port in KEPT_OPEN:
            plan['rules'].append({'type': 'in', 'action': 'ACCEPT', 'proto': 'tcp', 'dport': port,
                                  'comment': '{0} port {1} answers everyone, as before the datacenter firewall was '
                                             'on'.format(RECORD_MARK, port)})
    return plan


def record_rule(rule):
    return str(rule.get('comment') or '').startswith(RECORD_MARK)


def plan_datacenter_restore(record, options):
    """The cluster options to put back, only those still as the lab left them: {'options': {...}, 'delete': [...]}."""
    out = {'options': {}, 'delete': []}
    if record['enable'] != '1' and datacenter_enabled(options):
        if record['enable'] == '0':
            out['options']['enable'] = 0
        else:
            out['delete'].append('enable')
    if record['policy_in'] == '' and (options or {}).get('policy_in') == 'ACCEPT':
        out['delete'].append('policy_in')
    return out


def console_rule(lab, sources):
    """The datacenter rule that lets the students' networks open the web UI and consoles (8006)."""
    return {'type': 'in', 'action': 'ACCEPT', 'source': ','.join(sources), 'proto': 'tcp', 'dport': '8006',
            'comment': '{0} console access'.format(marker(lab))}


# ============================================================== guests (pure)

def merge_pending(current, pending, deleted):
    """_guests.read_pending's (current, pending, deleted) as (current config, pending changes {key: value or None
    for a delete}, digest or None): one dict says what each NIC will be."""
    current = dict(current)
    digest = current.pop('digest', None)
    changes = dict(pending)
    changes.update((key, None) for key in deleted)
    return current, changes, digest


def nic_states(vm):
    """{netN: 'ok' | 'pending' | 'off'} of a guest: 'pending' when firewall=1 waits for the next start."""
    current, pending = vm.get('current') or {}, vm.get('pending') or {}
    out = {}
    for key in net_keys(dict.fromkeys(list(current) + [k for k, v in pending.items() if v is not None])):
        if key in pending and pending[key] is None:
            continue  # the NIC goes away at the next start
        now = get_prop(current.get(key), 'firewall') == '1' if key in current else None
        later = get_prop(pending[key], 'firewall') == '1' if key in pending else now
        if now and later:
            out[key] = 'ok'
        elif later:
            out[key] = 'pending'
        else:
            out[key] = 'off'
    return out


def nic_base(vm, key):
    """The netN string to edit: the pending value if there is one (it is what PVE will use), else the current."""
    pending = vm.get('pending') or {}
    if pending.get(key) is not None:
        return pending[key]
    return (vm.get('current') or {}).get(key)


def covered_nics(vm):
    """The netN of a guest the isolation covers, in numeric order: those O(nets) lists for it (vm['covered']), else
    every NIC. A listed NIC the guest no longer has stays in the list: the report names it, never isolated."""
    if vm.get('covered') is None:
        return sorted(nic_states(vm), key=lambda n: int(n[3:]))
    return list(vm['covered'])


def private_nics(vm):
    """The netN of a guest outside its O(nets) entry (none when it has no entry): on the student's own network, so
    without firewall=1, without ipfilter set, their addresses never learned."""
    if vm.get('covered') is None:
        return []
    return [n for n in sorted(nic_states(vm), key=lambda n: int(n[3:])) if n not in vm['covered']]


def nic_filtered(vm, key):
    """Whether firewall is on for a NIC now or after the next start (any value but 0 counts: PVE parses the flag as
    a boolean, so on/yes/true would enable it too)."""
    values = [(vm.get('current') or {}).get(key), nic_base(vm, key)]
    return any(v is not None and get_prop(v, 'firewall') not in (None, '0') for v in values)


def del_prop(text, key):
    """A property string without `key`, the rest (MAC included) in its order."""
    return format_props([(k, v) for k, v in parse_props(text) if k != key])


def desired_vm_options(outbound, allow_dhcp_dns):
    """The guest firewall options the lab needs. dhcp: pve-firewall lets DHCP through in both directions unless the
    option is 0, so allow_dhcp_dns=true sets 1 (explicit), false sets 0, None leaves it alone."""
    options = {'enable': 1, 'policy_in': 'DROP', 'policy_out': 'DROP' if outbound == 'teacher_only' else 'ACCEPT'}
    if allow_dhcp_dns is not None:
        options['dhcp'] = 1 if allow_dhcp_dns else 0
    return options


def _opt(options, name):
    value = (options or {}).get(name)
    if value is None or value == '':
        return ''
    if name in ('enable', 'dhcp'):
        try:
            return str(1 if int(value) else 0)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def options_to_set(options, desired):
    """The options (of `desired`) whose value differs from `options`."""
    return dict((k, v) for k, v in desired.items() if _opt(options, k) != _opt({k: v}, k))


def ref_comment(lab, options, nofw):
    was = ','.join('{0}={1}'.format(k, _opt(options, k)) for k in RECORDED_OPTIONS)
    return '{0} group reference (was {1},nofw={2})'.format(marker(lab), was, '+'.join(nofw))


def parse_ref_comment(comment):
    """The record in a group reference comment: ({option: previous value or ''}, [netN]) or None."""
    found = re.search(r'\(was ([^)]*)\)', comment or '')
    if not found:
        return None
    options = {}
    nofw = []
    for part in found.group(1).split(','):
        key, sep, value = part.partition('=')
        if not sep:
            continue
        if key == 'nofw':
            nofw = [n for n in value.split('+') if n]
        elif key in RECORDED_OPTIONS:
            options[key] = value
    return options, nofw


def is_ref(rule, group):
    return str(rule.get('type', '')).lower() == 'group' and str(rule.get('action', '')).lower() == group


def plan_vm_present(vm, lab, group, desired_options, learned=None):
    """What one guest needs, in the order it is applied (see apply_vm): the NICs' ipfilter sets, the group
    reference, then the options, then the NIC flags. Returns {'sets': {netN: change}, 'ref_create': rule or None,
    'ref_enable': [rules], 'ref_delete': [rules], 'options': {k: v}, 'nets': {netN: new string}, 'actions': [text]}.
    learned: {netN: [cidr]} from the guest agent, for NICs without a static address or set."""
    vmid = vm['vmid']
    rules = vm.get('rules') or []
    ours = sorted((r for r in rules if is_ref(r, group) and owned(r.get('comment'), lab)),
                  key=lambda r: int(r.get('pos', 0)))
    plan = {'lab': lab, 'sets': plan_source_filter(vm, lab, learned or {}), 'ref_create': None, 'ref_enable': [],
            'ref_delete': ours[1:], 'options': {}, 'nets': {}, 'actions': []}
    for net, change in sorted(plan['sets'].items()):
        if change['create']:
            plan['actions'].append('vm {0}: create IP set {1}'.format(vmid, ipfilter_set(net)))
        plan['actions'] += ['vm {0}: {1} may send from {2} ({3})'.format(vmid, net, cidr, how)
                            for cidr, how in change['add']]
        plan['actions'] += ['vm {0}: remove {1} from IP set {2}'.format(vmid, cidr, ipfilter_set(net))
                            for cidr in change['delete']]
    nofw = [k for k in net_keys(dict.fromkeys(list(vm.get('current') or {}) + list(vm.get('pending') or {})))
            if nic_base(vm, k) is not None and get_prop(nic_base(vm, k), 'firewall') != '1']
    if not ours:
        plan['ref_create'] = {'type': 'group', 'action': group, 'enable': 1,
                              'comment': ref_comment(lab, vm.get('options'), nofw)}
        plan['actions'].append('vm {0}: reference security group {1}'.format(vmid, group))
    elif not rule_enabled(ours[0]):
        plan['ref_enable'].append(ours[0])
        plan['actions'].append('vm {0}: enable the reference to security group {1}'.format(vmid, group))
    for extra in plan['ref_delete']:
        plan['actions'].append('vm {0}: delete a duplicate reference to {1} (pos {2})'.format(
            vmid, group, extra.get('pos')))
    plan['options'] = options_to_set(vm.get('options'), desired_options)
    if plan['options']:
        plan['actions'].append('vm {0}: set firewall options {1}'.format(
            vmid, ' '.join('{0}={1}'.format(k, v) for k, v in sorted(plan['options'].items()))))
    covered = covered_nics(vm)
    for key in nofw:
        if key in covered:
            plan['nets'][key] = set_prop(nic_base(vm, key), 'firewall', '1')
            plan['actions'].append('vm {0}: {1} firewall=1'.format(vmid, key))
    # A private NIC (O(nets)): with firewall=1 the guest's policy_in DROP, the lab group and its ipfilter set would
    # apply on the student's own network too. The flag goes, the rest of the netN string (MAC included) stays.
    for key in private_nics(vm):
        base = nic_base(vm, key)
        if get_prop(base, 'firewall') not in (None, '0'):
            plan['nets'][key] = del_prop(base, 'firewall')
            plan['actions'].append('vm {0}: {1} without firewall=1 (private)'.format(vmid, key))
    return plan


def plan_vm_absent(vm, lab, group):
    """Undo what plan_vm_present did: {'ref_delete': [rules], 'options': {k: v}, 'delete_options': [k],
    'nets': {netN: new string}, 'record': bool, 'actions': [text]}."""
    vmid = vm['vmid']
    ours = sorted((r for r in (vm.get('rules') or []) if owned(r.get('comment'), lab)),
                  key=lambda r: int(r.get('pos', 0)))
    plan = {'lab': lab, 'sets': {}, 'ref_delete': ours, 'options': {}, 'delete_options': [], 'nets': {},
            'record': False, 'actions': []}
    for net, entries in sorted((vm.get('ipsets') or {}).items()):
        own = [e for e in entries or [] if owned(e.get('comment'), lab)]
        if not own:
            continue
        if len(own) == len(entries):
            plan['sets'][net] = {'drop': True}
            plan['actions'].append('vm {0}: delete IP set {1}'.format(vmid, ipfilter_set(net)))
        else:
            plan['sets'][net] = {'delete': [e['cidr'] for e in own]}
            plan['actions'] += ['vm {0}: remove {1} from IP set {2}'.format(vmid, e['cidr'], ipfilter_set(net))
                                for e in own]
    record = None
    for rule in ours:
        record = record or parse_ref_comment(rule.get('comment'))
        plan['actions'].append('vm {0}: delete rule {1}'.format(vmid, describe_rule(rule)))
    if record is None:
        return plan
    plan['record'] = True
    was, nofw = record
    options = vm.get('options') or {}
    for key in RECORDED_OPTIONS:
        if key not in was or _opt(options, key) == was[key]:
            continue
        if was[key] == '':
            plan['delete_options'].append(key)
        else:
            plan['options'][key] = int(was[key]) if key in ('enable', 'dhcp') else was[key]
    if plan['options'] or plan['delete_options']:
        parts = ['{0}={1}'.format(k, v) for k, v in sorted(plan['options'].items())]
        parts += ['{0} unset'.format(k) for k in plan['delete_options']]
        plan['actions'].append('vm {0}: restore firewall options {1}'.format(vmid, ' '.join(parts)))
    for key in nofw:
        base = nic_base(vm, key)
        if base is not None and get_prop(base, 'firewall') is not None:
            plan['nets'][key] = del_prop(base, 'firewall')
            plan['actions'].append('vm {0}: {1} without firewall=1 again'.format(vmid, key))
    return plan


def predict_vm(vm, plan):
    """The guest as it will be after `plan` (for check mode and the diff)."""
    out = dict(vm)
    sets = dict(vm.get('ipsets') or {})
    for net, change in (plan.get('sets') or {}).items():
        if change.get('drop'):
            sets[net] = None
            continue
        entries = [e for e in sets.get(net) or [] if e.get('cidr') not in (change.get('delete') or [])]
        sets[net] = entries + [{'cidr': cidr, 'comment': source_entry_comment(plan['lab'], how)}
                               for cidr, how in change.get('add') or []]
    out['ipsets'] = sets
    rules = [r for r in (vm.get('rules') or []) if not any(r is d for d in plan.get('ref_delete', []))]
    rules = [dict(r, enable=1) if any(r is e for e in plan.get('ref_enable', [])) else r for r in rules]
    if plan.get('ref_create'):
        rules = [dict(plan['ref_create'])] + rules
    out['rules'] = [dict(r, pos=i) for i, r in enumerate(rules)]
    options = dict(vm.get('options') or {})
    options.update(plan.get('options') or {})
    for key in plan.get('delete_options') or []:
        options.pop(key, None)
    out['options'] = options
    current = dict(vm.get('current') or {})
    pending = dict(vm.get('pending') or {})
    for key, value in (plan.get('nets') or {}).items():
        # Predicted as PVE applies it to a running VM with network hotplug (the default): at once.
        current[key] = value
        pending.pop(key, None)
    out['current'], out['pending'] = current, pending
    return out


def vm_view(vm, group):
    """The firewall-relevant state of a guest for the diff."""
    options = vm.get('options') or {}
    return {
        'enable': _opt(options, 'enable') or '0',
        'policy_in': options.get('policy_in') or '',
        'policy_out': options.get('policy_out') or '',
        'dhcp': _opt(options, 'dhcp'),
        'group_reference': any(is_ref(r, group) and rule_enabled(r) for r in vm.get('rules') or []),
        'nics': nic_states(vm),
    }


# ================================================================ datacenter

def datacenter_enabled(cluster_options):
    try:
        return int((cluster_options or {}).get('enable') or 0) >= 1
    except (TypeError, ValueError):
        return False


# ================================================================ PVE access

def _map(fn, items):
    return parallel_map(fn, items, parallel=WORKERS)


def _read_config(client, vm):
    return merge_pending(*read_pending(client, vm))


def read_ipfilter_set(client, vm, net):
    """The entries of a guest's IP set ipfilter-netN, or None when the set does not exist (PVE: 'no such IPSet')."""
    try:
        return client.get('{0}/firewall/ipset/{1}'.format(guest_path(vm), ipfilter_set(net))) or []
    except PveApiError as exc:
        if 'no such ipset' in exc.pve_message.lower():
            return None
        raise


def read_vm(client, vm):
    """A guest's firewall options, rules, config (with pending changes) and each NIC's ipfilter set: three GETs
    and one per NIC."""
    base = guest_path(vm)
    state = dict(vm)
    state['options'] = client.get(base + '/firewall/options') or {}
    state['rules'] = client.get(base + '/firewall/rules') or []
    state['current'], state['pending'], state['digest'] = _read_config(client, vm)
    state['ipsets'] = dict((net, read_ipfilter_set(client, vm, net)) for net in _present(state, covered_nics(state)))
    return state


def learn_addresses(client, vm):
    """{netN: [host CIDR]} the guest agent (a container: its /interfaces) reports for the NICs that need learning;
    {} when the guest does not run or its agent does not answer."""
    if not needs_learning(vm):
        return {}
    try:
        interfaces = read_interfaces(client, vm)
    except PveApiError:
        return {}  # not running, or no agent: the report names the NIC as a gap
    found = agent_nic_addresses(vm, interfaces)
    return dict((net, found[net]) for net in needs_learning(vm) if found.get(net))


def read_vms(client, vms):
    out = []
    errors = []
    for vm, state, error in _map(lambda v: read_vm(client, v), vms):
        if error:
            errors.append('vm {0}: {1}'.format(vm['vmid'], error))
        else:
            out.append(state)
    if errors:
        raise PveError('reading the firewall of the selected guests failed: ' + '; '.join(errors))
    return out


def delete_rules(client, path, rules, targets):
    """Delete one rule per entry of `targets`, each found by content and comment (never by a remembered position),
    highest position first, by its position with the list's digest (PVE refuses if the list changed meanwhile),
    re-reading the list between deletions because positions shift. Twins of a target (a kept duplicate has the
    same content and comment at a lower position) survive: only as many rules as targets go. Returns the count."""
    remaining = list(targets)
    current = rules
    count = 0
    while remaining:
        hits = [r for r in current if any(_same(r, t) for t in remaining)]
        if not hits:
            break
        rule = max(hits, key=lambda r: int(r.get('pos', 0)))
        client.delete('{0}/{1}'.format(path, rule['pos']), digest=rule.get('digest'))
        count += 1
        remaining.remove(next(t for t in remaining if _same(rule, t)))
        if remaining:
            current = client.get(path) or []
    return count


def _same(rule, wanted):
    return rule_key(rule) == rule_key(wanted) and (rule.get('comment') or '') == (wanted.get('comment') or '')


def write_rule(client, path, rule):
    """POST a rule; `enable` is always sent (PVE creates rules disabled without it)."""
    data = dict((k, v) for k, v in rule.items() if k in RULE_FIELDS + ('comment',) and v not in (None, ''))
    data['enable'] = 1
    client.post(path, **data)


def enable_rule(client, path, rule):
    client.put('{0}/{1}'.format(path, rule['pos']), enable=1, digest=rule.get('digest'))


def enable_rules(client, path, rules, targets):
    """Enable the rules matching `targets` (content and comment), re-reading between writes (the digest moves).
    Returns the list as it is afterwards."""
    current = rules
    for target in targets:
        hits = [r for r in current if _same(r, target)]
        if hits:
            enable_rule(client, path, hits[0])
            current = client.get(path) or []
    return current


def apply_vm(client, vm, plan):
    """Apply one guest's plan, in this order, then read back what was written.

    1. the group reference (teacher traffic is allowed before anything can start dropping),
    2. the options enable=1, policy_in DROP, policy_out in ONE request (the switch and the policy change together,
       so the guest is never enabled with an open policy by us),
    3. firewall=1 on the NICs last: until then the guest's traffic is not filtered at all, exactly as before; the
       moment a NIC is filtered, its chain already holds the policy and the teacher rule.
    For state=absent the same calls undo it: reference deleted, options restored, NIC flags restored."""
    base = guest_path(vm)
    rules_path = base + '/firewall/rules'
    wrote = set()
    for net, change in sorted((plan.get('sets') or {}).items()):
        # The addresses first: a set that exists filters the NIC at the next compile, so it is never left empty.
        path = '{0}/firewall/ipset/{1}'.format(base, ipfilter_set(net))
        if change.get('create'):
            client.post(base + '/firewall/ipset', name=ipfilter_set(net),
                        comment='{0} what {1} may send from'.format(marker(plan['lab']), net))
        for cidr, how in change.get('add') or []:
            client.post(path, cidr=cidr, comment=source_entry_comment(plan['lab'], how))
        for cidr in change.get('delete') or []:
            client.delete('{0}/{1}'.format(path, quote(str(cidr), safe='')))
        if change.get('drop'):
            client.delete(path, force=1)
        wrote.add('sets')
    if plan.get('ref_create'):
        write_rule(client, rules_path, plan['ref_create'])
        wrote.add('rules')
    for rule in plan.get('ref_enable') or []:
        enable_rule(client, rules_path, rule)
        wrote.add('rules')
    if plan.get('ref_delete'):
        rules = vm.get('rules') if 'rules' not in wrote else client.get(rules_path)
        delete_rules(client, rules_path, rules, plan['ref_delete'])
        wrote.add('rules')
    if plan.get('options') or plan.get('delete_options'):
        data = dict(plan.get('options') or {})
        if plan.get('delete_options'):
            data['delete'] = ','.join(plan['delete_options'])
        client.put(base + '/firewall/options', digest=(vm.get('options') or {}).get('digest'), **data)
        wrote.add('options')
    if plan.get('nets'):
        data = dict(plan['nets'])
        # No digest: a backup or snapshot lock that the write waits out changes the config's digest, and the write
        # (firewall=1 on the netN read above, MAC kept) stays what the plan says after such a wait.
        update_config(client, vm, data)
        wrote.add('config')
    state = dict(vm)
    if 'rules' in wrote:
        state['rules'] = client.get(rules_path) or []
    if 'options' in wrote:
        state['options'] = client.get(base + '/firewall/options') or {}
    if 'config' in wrote:
        state['current'], state['pending'], state['digest'] = _read_config(client, vm)
    if 'sets' in wrote:
        state['ipsets'] = dict((net, read_ipfilter_set(client, state, net)) for net in _present(state, covered_nics(state)))
    return state


def apply_vms(client, vms, plans):
    """apply_vm on every guest with a plan (in parallel); returns (states read back, [error texts])."""
    by_id = dict((vm['vmid'], vm) for vm in vms)
    todo = [vm for vm in vms if _has_work(plans.get(vm['vmid']))]
    states = dict(by_id)
    errors = []
    for vm, state, error in _map(lambda v: apply_vm(client, v, plans[v['vmid']]), todo):
        if error:
            errors.append('vm {0}: {1}'.format(vm['vmid'], error))
        else:
            states[vm['vmid']] = state
    return [states[vmid] for vmid in sorted(states)], errors


PLAN_WORK = ('sets', 'ref_create', 'ref_enable', 'ref_delete', 'options', 'delete_options', 'nets')


def _has_work(plan):
    return bool(plan) and any(plan.get(k) for k in PLAN_WORK)


def ipset_entry_path(ipset, cidr):
    # The CIDR is one path segment: its '/' must be encoded.
    return '/cluster/firewall/ipset/{0}/{1}'.format(ipset, quote(str(cidr), safe=''))
