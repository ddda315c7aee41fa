# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: what a lab's firewall lets through, computed from the configuration read back.

The isolation report of pve_firewall_isolation. It follows how pve-firewall compiles a guest's chains
(Firewall.pm): nothing is filtered unless the datacenter switch is on; a NIC without firewall=1 bypasses its
guest's chains; the guest's OUT chain drops a source MAC other than the NIC's (macfilter, default on) and, once
the guest has an IP set ipfilter-net<N>, a source address outside it; ebtables drops ARP claiming an IPv4 address
outside that set (unless the cluster option ebtables is 0); the IN chain runs the enabled rules in order (a GROUP
rule runs the security group's rules) and ends in policy_in (default DROP). The node's host chain runs the host
rules, then the datacenter rules, then accepts 8006, 22 and a few more from the IP set `management`, and ends in
the cluster's policy_in (default DROP).

Only the NICs the isolation covers count (every NIC, or a guest's uplinks named in the option nets): a private NIC
(on the student's own network, without firewall=1) is listed as such, never as isolated, and its addresses are
no student's source on the lab's bridge (the covered NIC's ipfilter set limits what a router forwards out).
A covered NIC the guest does not have makes it not isolated.

It fails closed: a rule whose source it cannot evaluate (an IP set or alias it has not read) makes the guest
`unknown`, never `isolated`. Verdicts are conservative: a DROP rule placed before an ACCEPT is not credited.

Gaps are parts of the isolation the cluster's own settings make impossible, by name (the role's
lab_isolation_accept takes these names):
  arp_filter     ARP is not filtered: the cluster option ebtables is 0, or a NIC's IP set has no IPv4 address;
                 a student can answer ARP for the teacher's address and receive what others send to the teacher.
  source_filter  a NIC's addresses are not known (no static address, no guest agent answer yet), so it has no IP
                 set: its student could send with the teacher's source address.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.pvelab.proxmox.plugins.module_utils._firewall import (
    _opt,
    _ref_norm,
    covered_nics,
    datacenter_enabled,
    describe_rule,
    get_prop,
    is_ref,
    nic_base,
    nic_filtered,
    nic_states,
    nic_static_addresses,
    norm_cidr,
    private_nics,
    rule_enabled,
)

GAPS = {
    'arp_filter': 'ARP is not filtered',
    'source_filter': 'the source addresses of a NIC are not limited',
}
BLOCKING = ('DROP', 'REJECT')
# What the hosts' 8006 (web UI, API, consoles) and 22 (SSH) answer is reported; the macros that open them.
HOST_PORTS = ('8006', '22')
PORT_MACROS = {'SSH': ('22',)}


def _networks(cidrs):
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            continue
    return out


def _overlaps(nets, others):
    return any(a.version == b.version and a.overlaps(b) for a in nets for b in others)


def covered_states(vm):
    """{netN: 'ok' | 'pending' | 'off' | 'missing'} of the NICs the isolation covers ('missing': named in nets, not
    in the guest's config: fail closed)."""
    states = nic_states(vm)
    return dict((net, states.get(net, 'missing')) for net in covered_nics(vm))


def _net_order(item):
    return int(item[0][3:])


def set_entries(vm, net):
    return [e for e in ((vm.get('ipsets') or {}).get(net) or []) if norm_cidr(e.get('cidr'))]


class Context(object):
    """What every guest's verdict needs: the lab's group and IP sets, the known addresses, the cluster options."""

    def __init__(self, vms, cluster_options, group, ipset, groups, ipset_entries, outbound, accept):
        self.group = group
        self.ipset = ipset
        self.groups = groups
        self.outbound = outbound
        self.accept = set(accept or ())
        self.dc_on = datacenter_enabled(cluster_options)
        self.ebtables = _opt(cluster_options, 'ebtables') != '0'
        self.teacher = [norm_cidr(e.get('cidr')) for e in ipset_entries or [] if norm_cidr(e.get('cidr'))]
        self.teacher_nets = _networks(self.teacher)
        # Every address a student of the lab may send from: the entries of the IP sets, the static addresses.
        students = []
        for vm in vms:
            for net in covered_nics(vm):
                students += [norm_cidr(e['cidr']) for e in set_entries(vm, net)]
            for cidrs in nic_static_addresses(vm).values():
                students += cidrs
        self.student_nets = _networks(sorted(set(students)))

    def source_matches_students(self, source):
        """True, False, or None (cannot tell) whether a rule's source includes a student's address."""
        parts = [p.strip() for p in str(source).split(',') if p.strip()]
        verdict = False
        for part in parts:
            if part.startswith('+'):
                if _ref_norm(part) != '+' + self.ipset:
                    return None  # an IP set the report has not read
                nets = self.teacher_nets
            elif '-' in part and not part.startswith('-'):
                first, _sep, last = part.partition('-')
                try:
                    nets = list(ipaddress.summarize_address_range(ipaddress.ip_address(first),
                                                                  ipaddress.ip_address(last)))
                except (ValueError, TypeError):
                    return None
            else:
                nets = _networks([part])
                if not nets:
                    return None  # an alias
            if _overlaps(nets, self.student_nets):
                verdict = True
        return verdict


def _walk_in_rules(rules, ctx, where, seen=()):
    """(verdict, reasons) of a guest's IN rules for traffic from another student's own address: 'open' when an
    enabled ACCEPT rule takes it, 'unknown' when one might, 'blocked' otherwise (the policy decides)."""
    verdict, reasons = 'blocked', []
    for rule in rules or []:
        if not rule_enabled(rule):
            continue
        kind = str(rule.get('type', '')).lower()
        if kind == 'group':
            name = str(rule.get('action', '')).lower()
            if name in seen:
                continue
            if name not in ctx.groups:
                verdict = 'unknown' if verdict == 'blocked' else verdict
                reasons.append('{0} references security group {1}, which was not read'.format(where, name))
                continue
            sub, why = _walk_in_rules(ctx.groups[name], ctx, 'security group ' + name, tuple(seen) + (name,))
            reasons += why
            if sub == 'open' or (sub == 'unknown' and verdict == 'blocked'):
                verdict = sub
            continue
        if kind != 'in' or str(rule.get('action', '')).upper() != 'ACCEPT':
            continue
        text = describe_rule(rule) + (' # ' + rule['comment'] if rule.get('comment') else '')
        source = rule.get('source')
        match = True if not source else ctx.source_matches_students(source)
        if match:
            verdict = 'open'
            reasons.append('{0} accepts inbound traffic from {1}: {2}'.format(
                where, 'any source' if not source else 'a student address', text))
        elif match is None:
            verdict = 'unknown' if verdict == 'blocked' else verdict
            reasons.append('{0}: {1}: its source {2} cannot be evaluated'.format(where, text, source))
    return verdict, reasons


def _teacher_rules(rules, ipset):
    src = '+' + ipset
    return [r for r in rules or [] if rule_enabled(r) and str(r.get('type', '')).lower() == 'in'
            and str(r.get('action', '')).upper() == 'ACCEPT' and _ref_norm(r.get('source')) == src]


def port_label(rule):
    if rule.get('macro'):
        return rule['macro']
    proto = rule.get('proto')
    if not proto:
        return 'all'
    port = rule.get('dport') or rule.get('icmp-type')
    return '{0}/{1}'.format(proto, port) if port else proto


def _source_filter(vm, ctx):
    """(problems, gaps) of what the guest may send from: every NIC limited to its own addresses (and ARP)."""
    problems, gaps = [], []
    options = vm.get('options') or {}
    if _opt(options, 'macfilter') == '0':
        problems.append('macfilter=0: it may send with any source MAC')
    for net, state in sorted(covered_states(vm).items(), key=_net_order):
        if state in ('off', 'missing'):
            continue  # reported as a bypass already
        entries = set_entries(vm, net)
        if not ctx.ebtables:
            # A cluster setting, known before any address is: it stops the lab before the first start.
            gaps.append(('arp_filter', 'the cluster option ebtables is 0: ARP is not filtered'))
        if not entries:
            gaps.append(('source_filter', '{0} has no address known (no static address, no guest agent answer): '
                                          'it may send from any address'.format(net)))
            continue
        own = _networks([e['cidr'] for e in entries])
        if _overlaps(own, ctx.teacher_nets):
            problems.append('{0} may send from a teacher address ({1})'.format(
                net, ', '.join(str(n) for n in own if _overlaps([n], ctx.teacher_nets))))
        if ctx.ebtables and not any(n.version == 4 for n in own):
            gaps.append(('arp_filter', '{0} has no IPv4 address in ipfilter-{0}: its ARP is not filtered'.format(net)))
    return problems, gaps


def vm_addresses(vm):
    """({netN: [cidr]}, the first IPv4 address or None): what each NIC's ipfilter set lets the guest send from,
    and the address a roster shows (the one the firewall enforces: static, or learned at the first start)."""
    addresses = {}
    for net in covered_nics(vm):
        cidrs = [norm_cidr(e['cidr']) for e in set_entries(vm, net)]
        if cidrs:
            addresses[net] = cidrs
    hosts = [ipaddress.ip_network(c) for cidrs in addresses.values() for c in cidrs]
    first = [str(n.network_address) for n in hosts if n.version == 4 and n.num_addresses == 1]
    return addresses, (first[0] if first else None)


def _bridge(vm, net):
    return get_prop(nic_base(vm, net), 'bridge')


def vm_report(vm, ctx):
    options = vm.get('options') or {}
    enabled = _opt(options, 'enable') == '1'
    policy_in = options.get('policy_in') or 'DROP'
    policy_out = options.get('policy_out') or 'ACCEPT'
    nics = covered_states(vm)
    referenced = any(is_ref(r, ctx.group) and rule_enabled(r) for r in vm.get('rules') or [])
    problems = []
    if not ctx.dc_on:
        problems.append('the datacenter firewall is off: nothing is filtered')
    if not enabled:
        problems.append('the VM firewall is off (options enable=0)')
    if policy_in not in BLOCKING:
        problems.append('policy_in is {0}: other students can connect'.format(policy_in))
    if ctx.outbound == 'teacher_only' and policy_out not in BLOCKING:
        problems.append('policy_out is {0} but outbound is teacher_only'.format(policy_out))
    for key, state in sorted(nics.items(), key=lambda kv: int(kv[0][3:])):
        if state == 'off':
            problems.append('{0} has no firewall=1: its traffic bypasses the firewall'.format(key))
        elif state == 'pending':
            problems.append('{0}: firewall=1 is pending and takes effect at the next start of the VM'.format(key))
        elif state == 'missing':
            problems.append('{0} is to be isolated (nets) but the VM has no such NIC'.format(key))
    if not referenced:
        problems.append('security group {0} is not referenced (or the reference is disabled)'.format(ctx.group))
    inbound, why = _walk_in_rules(vm.get('rules'), ctx, 'a VM rule')
    unknown = [w for w in why if 'cannot be evaluated' in w or 'was not read' in w]
    problems += [w for w in why if w not in unknown]
    for cidrs in nic_static_addresses(vm).values():
        for cidr in cidrs:
            for net in ctx.teacher_nets:
                if ipaddress.ip_network(cidr).version == net.version and ipaddress.ip_network(cidr).subnet_of(net):
                    problems.append('its address {0} is inside the teacher source {1}'.format(cidr.split('/')[0], net))
    filter_problems, gaps = _source_filter(vm, ctx)
    problems += filter_problems
    bypassed = not (ctx.dc_on and enabled) or policy_in not in BLOCKING or any(s != 'ok' for s in nics.values())
    from_students = 'open' if bypassed else inbound
    open_gaps = [(name, text) for name, text in gaps if name not in ctx.accept]
    if problems:
        status = 'open'
    elif unknown:
        status = 'unknown'
    elif open_gaps:
        status = 'open'
    else:
        status = 'isolated'
    # macfilter=0 lets the guest send with another MAC (a problem above); its source addresses stay filtered.
    spoof = 'open' if any(n == 'source_filter' for n, _t in gaps) else 'blocked'
    addresses, ip = vm_addresses(vm)
    isolated = status == 'isolated'
    return {
        'vmid': vm['vmid'],
        'name': vm.get('name'),
        'node': vm.get('node'),
        'addresses': addresses,
        'ip': ip,
        'firewall_enabled': enabled,
        'policy_in': policy_in,
        'policy_out': policy_out,
        'nics_ok': all(s == 'ok' for s in nics.values()),
        'group_referenced': referenced,
        'datacenter_enabled': ctx.dc_on,
        'source_filter': not any(n == 'source_filter' for n, _t in gaps) and spoof == 'blocked',
        'arp_filter': not any(n in ('arp_filter', 'source_filter') for n, _t in gaps),
        'paths': {
            'from_students': from_students,
            'spoofing_teacher_address': spoof,
            'spoofing_teacher_arp': 'open' if any(n in ('arp_filter', 'source_filter') for n, _t in gaps)
            else 'blocked',
        },
        'status': status,
        'isolated': isolated,
        'covered_nets': sorted(nics, key=lambda n: int(n[3:])),
        # A NIC is isolated only when its whole VM is (the guest's options and rules apply to all its NICs).
        'isolated_nets': [{'net': net, 'bridge': _bridge(vm, net)} for net in sorted(nics, key=lambda n: int(n[3:]))
                          if isolated and nics[net] == 'ok'],
        'private_nets': [{'net': net, 'bridge': _bridge(vm, net), 'firewall': nic_filtered(vm, net)}
                         for net in private_nics(vm)],
        'problems': problems + unknown + [text for _n, text in open_gaps],
        'gaps': sorted(set(name for name, _t in gaps)),
    }


# ====================================================================== hosts

def _ports_of(rule):
    """The TCP destination ports a host rule can accept, or None for all."""
    if rule.get('macro'):
        return PORT_MACROS.get(rule['macro'], ())
    proto = str(rule.get('proto') or '').lower()
    if proto and proto not in ('tcp', '6'):
        return ()
    dport = str(rule.get('dport') or '')
    return None if not dport else dport


def _port_in(spec, port):
    if spec is None:
        return True
    if isinstance(spec, tuple):
        return port in spec
    for item in spec.split(','):
        first, _sep, last = item.partition(':')
        try:
            if int(first) <= int(port) <= int(last or first):
                return True
        except ValueError:
            continue
    return False


def host_answers(cluster_options, host_options, host_rules, cluster_rules, management, port):
    """Who a node answers on a TCP port, as its host chain decides: ['everyone'], or a list of sources (rule sources,
    'management (...)'); 'unknown' parts for what is not evaluated (security groups in host rules)."""
    if not datacenter_enabled(cluster_options) or _opt(host_options, 'enable') == '0':
        return ['everyone']
    out = []
    for rule in list(host_rules or []) + list(cluster_rules or []):
        if not rule_enabled(rule):
            continue
        kind = str(rule.get('type', '')).lower()
        if kind == 'group':
            out.append('unknown (security group {0})'.format(rule.get('action')))
            continue
        if kind != 'in' or not _port_in(_ports_of(rule), port):
            continue
        source = rule.get('source')
        if str(rule.get('action', '')).upper() == 'ACCEPT':
            if not source:
                return ['everyone']
            out += [s.strip() for s in str(source).split(',') if s.strip() and s.strip() not in out]
        elif not source:
            return out  # dropped for everyone not accepted before
    if port in ('8006', '22', '3128') or 5900 <= int(port) <= 5999 or 60000 <= int(port) <= 60050:
        out.append('management ({0})'.format(', '.join(management) if management else 'the cluster network'))
    if (cluster_options or {}).get('policy_in') == 'ACCEPT':
        return ['everyone']
    return out


def hosts_report(cluster_options, hosts, cluster_rules, management):
    """{node: {port: [who]}} for the ports of HOST_PORTS."""
    return dict((node, dict((port, host_answers(cluster_options, data.get('options'), data.get('rules'),
                                                cluster_rules, management, port)) for port in HOST_PORTS))
                for node, data in sorted((hosts or {}).items()))


# ===================================================================== report

def isolation_report(vms, cluster_options, group, ipset, group_rules, ipset_entries, other_groups, outbound,
                     accept=(), hosts=None):
    """The isolation report from a firewall configuration (read back from PVE, or predicted in check mode).

    vms: guest states (vmid, name, node, options, rules, current, pending, ipsets); group_rules: the lab group's
    rules or None if the group does not exist; ipset_entries: the teacher IP set's entries or None; other_groups:
    {name: rules} of the other groups the guests reference; accept: gap names the user accepts; hosts: the hosts'
    report (hosts_report) or None."""
    groups = dict(other_groups or {})
    if group_rules is not None:
        groups[group] = group_rules
    ctx = Context(vms, cluster_options, group, ipset, groups, ipset_entries, outbound, accept)
    reports = [vm_report(vm, ctx) for vm in sorted(vms, key=lambda v: v['vmid'])]
    teacher_rules = _teacher_rules(group_rules, ipset)
    everyone_refs = all(r['group_referenced'] for r in reports)
    allowed = bool(ctx.teacher) and bool(teacher_rules) and everyone_refs
    paths = [r['paths'] for r in reports]

    def worst(key, values=('open', 'unknown')):
        if not reports:
            return 'open'
        for value in values:
            if any(p[key] == value for p in paths):
                return value
        return 'blocked'

    gaps = sorted(set(g for r in reports for g in r['gaps']))
    return {
        'isolated': bool(reports) and all(r['isolated'] for r in reports),
        'vms': reports,
        'gaps': [{'name': g, 'what': GAPS[g], 'accepted': g in ctx.accept} for g in gaps],
        'reachability': {
            'student_to_student': worst('from_students'),
            'spoofing_teacher_address': worst('spoofing_teacher_address'),
            'spoofing_teacher_arp': worst('spoofing_teacher_arp'),
            'teacher_to_student': 'allowed' if allowed else 'blocked',
            'ports': sorted(set(port_label(r) for r in teacher_rules)) if allowed else [],
            'teacher_sources': ctx.teacher,
            'outbound': outbound,
            'hosts': hosts or {},
        },
    }
