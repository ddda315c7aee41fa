#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_firewall_isolation
short_description: Isolate a lab's student VMs from each other with the Proxmox VE firewall
version_added: 0.1.0
description:
  - Makes the student VMs of a lab unreachable from each other while the teacher can reach them, and proves it
    with a report computed from the configuration read back from PVE.
  - Selects the student VMs by vmid (O(vmids)), vmid range (O(vmid_range)), O(pool) and O(tag) (their union).
  - Writes, in this order, a cluster IP set C(<name>-teacher) holding the teacher's addresses, a security group
    C(<name>) whose rules accept traffic from that IP set (so one change updates every VM), then on each VM the IP
    set C(ipfilter-net<N>) of each NIC with the addresses it may send from (see O(learn_addresses)), a rule
    referencing the group, the VM firewall options C(enable=1), C(policy_in=DROP) and C(policy_out), and
    C(firewall=1) on every network device the isolation covers (all of them, or those of O(nets); the rest of the
    C(netN) string, MAC included, is kept), then the
    datacenter rules of O(console_sources), and last the datacenter firewall switch (C(enable), and
    C(policy_in=ACCEPT) when it was not set; see the notes).
  - The order never opens a VM. Until a VM's NIC carries C(firewall=1) and the datacenter switch is on, its traffic
    is not filtered at all, exactly as before the module ran; the group reference and the options are in place
    before the NIC flag is set, and the datacenter switch comes last, so filtering starts on every VM at once
    with the teacher rule already there. The switch and the C(DROP) policy of a VM are set in one request.
  - Every rule, IP set entry, security group and IP set the module writes carries a comment starting with
    C(pvelab:<name>); rules are matched by their content and that comment, never by position. Rules are created
    with C(enable=1) (PVE creates them disabled otherwise).
  - The group reference on each VM records the VM's firewall options (and which NICs had no C(firewall=1)) as
    they were before the module first changed them; O(state=absent) restores them from that record.
  - O(verify_only=true) changes nothing and fails when any selected VM is not isolated; the report is in the
    result either way. This is what a teacher shows before an exam.
  - The report is computed the way pve-firewall compiles the rules, and says per VM whether another student
    (from its own address), a student sending with the teacher's address, and a student claiming the teacher's
    address by ARP get through. It fails closed; a rule on an IP set or alias it has not read makes the VM
    C(unknown), never isolated.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
options:
  name:
    description:
      - Name of the lab. Names the security group (C(<name>)) and the IP set (C(<name>-teacher)), and marks
        everything the module writes (C(pvelab:<name>) in the comments).
      - A letter first, then letters, digits, V(-) or V(_), 18 characters at most (PVE's limit for security
        group names). Used in lower case, as PVE stores group and IP set names.
    type: str
    required: true
  state:
    description:
      - V(present) isolates the selected VMs.
      - V(absent) removes the group reference from the selected VMs and restores the firewall options and NIC flags
        recorded there, then deletes the lab's rules, security group and IP set. Foreign rules, groups and IP sets
        are left alone (a group or IP set that still holds foreign entries is kept), and so is the datacenter switch
        unless O(disable_datacenter_on_absent=true).
    type: str
    choices: [present, absent]
    default: present
  vmids:
    description:
      - Student VMs by vmid. A vmid that does not exist is an error.
    type: list
    elements: int
  vmid_range:
    description:
      - Student VMs by vmid range, a dict with the keys C(first) and C(last) (both included), or a list of such
        dicts. Overlapping ranges are an error. Selects the guests that exist in the range when the module runs,
        so a VM added to the range later is picked up by the next run.
    type: raw
  pool:
    description:
      - Student VMs by resource pool.
    type: str
  tag:
    description:
      - Student VMs by tag.
    type: str
  allow_empty:
    description:
      - With O(state=present), an empty selection is an error unless this is V(true).
    type: bool
    default: false
  teacher_sources:
    description:
      - Addresses or CIDR networks of the teacher, for example V(192.0.2.10) or V(192.0.2.0/28).
      - A value that is not an address or a CIDR network is an error before anything is written.
    type: list
    elements: str
    default: []
  teacher_vmids:
    description:
      - Teacher VMs whose addresses are allowed in. The addresses come from the guest agent when the VM runs and
        its agent answers, else from its static cloud-init configuration (C(ipconfigN ip=)). A teacher VM without
        an address found is an error before anything is written.
      - A teacher VM is never treated as a student, even when the selection includes it.
    type: list
    elements: int
    default: []
  teacher_ports:
    description:
      - What the teacher may reach on the student VMs. Empty means all traffic from the teacher.
    type: list
    elements: dict
    default: []
    suboptions:
      proto:
        description:
          - Protocol.
        type: str
        choices: [tcp, udp, icmp]
        required: true
      dport:
        description:
          - Destination port (V(22)), range (V(5900:5999)) or comma list; for V(icmp) an ICMP type by name, such as
            V(echo-request) (PVE takes no type numbers, so V(8) is refused before anything is written). Not set means
            all ports of O(teacher_ports[].proto).
        type: str
  outbound:
    description:
      - V(any) lets students connect out anywhere (C(policy_out=ACCEPT)); other students still drop it on their
        way in.
      - V(teacher_only) sets C(policy_out=DROP) and adds group rules allowing traffic to the teacher (and DNS, see
        O(allow_dhcp_dns)).
    type: str
    choices: [any, teacher_only]
    default: any
  allow_dhcp_dns:
    description:
      - V(true) sets the VM firewall option C(dhcp=1) (PVE's built-in DHCP allowance in both directions) and, with
        O(outbound=teacher_only), adds a group rule allowing DNS (the C(DNS) macro) out.
      - V(false) sets C(dhcp=0) and adds no DNS rule.
      - Not set means V(true) when O(outbound=teacher_only), otherwise the C(dhcp) option is left as it is (PVE
        lets DHCP through unless it is 0).
    type: bool
  enable_datacenter:
    description:
      - Turn the datacenter firewall on (cluster firewall option C(enable)), changing no other cluster option.
      - With V(false) and the datacenter firewall off, nothing is filtered, so isolation does not hold and the
        module fails.
    type: bool
    default: true
  disable_datacenter_on_absent:
    description:
      - With O(state=absent), also turn the datacenter firewall off. Other cluster options are not touched.
    type: bool
    default: false
  verify_only:
    description:
      - Change nothing; return the isolation report of the selected VMs and fail if any of them is not isolated.
      - Checks what PVE holds; O(teacher_sources), O(teacher_vmids) and O(teacher_ports) are not compared.
    type: bool
    default: false
  learn_addresses:
    description:
      - Every covered NIC (see O(nets)) of a selected guest may send only from its own addresses, and answer ARP only
        for them. The module
        fills the guest's IP set C(ipfilter-net<N>), which pve-firewall enforces (on the source address in the
        guest's outbound chain, and on ARP through ebtables). PVE adds the NIC's IPv6 link-local address itself and
        lets DHCP requests out before the filter, so a DHCP guest keeps getting its lease.
      - The addresses are the guest's static ones when it has them (cloud-init C(ipconfigN ip=)/C(ip6=) of a VM, the
        C(ip=)/C(ip6=) of a container's C(netN)). Otherwise, with V(true), they are learned once from the guest
        agent (a container's interfaces) while the guest runs, and kept; a set is never learned again, so a
        student who changes the address later cannot widen it. An address that a teacher source holds, or that
        another selected guest reports too, is not learned (warned).
      - A NIC whose addresses are not known yet (a stopped DHCP guest) gets no set, and the report names the gap
        V(source_filter). The lab role isolates before the first start, starts the VMs before any student has
        access, and runs the module again to learn.
    type: bool
    default: true
  accept_gaps:
    description:
      - Gaps of the isolation the report may name without the VM counting as not isolated.
      - V(arp_filter) means ARP is not filtered (the cluster option C(ebtables) is 0, or a NIC's set has no IPv4
        address), so a student can answer ARP for the teacher's address.
      - V(source_filter) means a NIC's addresses are not known, so it may send from any address (for example the
        teacher's).
    type: list
    elements: str
    choices: [arp_filter, source_filter]
    default: []
  nets:
    description:
      - For the VMs listed, the NICs the isolation covers (their uplinks, on the lab's bridge), as a dict from a vmid
        to the list of its covered NICs (C(net0), C(net1), ...). Every other NIC of a listed VM is private (on the
        student's own network, for example an SDN VNet only that student's machines share). The module removes
        C(firewall=1) from it (the rest of the
        C(netN) string, MAC included, is kept), plans no C(ipfilter-net<N>) set for it and never learns its
        addresses, so the guest's C(policy_in), the lab's group and the source filter do not apply there and a
        student's router can forward on it. The report lists it in RV(report.vms[].private_nets), never as isolated.
      - VMs not listed have every NIC isolated. Not set means every NIC of every selected VM.
      - Refused before any write, naming the entry - a vmid that is not selected (teacher VMs and templates are
        left out of the selection), a name that is not C(net<N>), an empty list, and with O(state=present) a NIC the
        VM does not have.
      - With O(state=absent) the lab's objects are removed from every NIC, as without O(nets). A private NIC that
        had C(firewall=1) before the lab first isolated its VM does not get it back.
      - A stale C(ipfilter-net<N>) set an earlier run made for a NIC now private is kept (it filters nothing without
        C(firewall=1)); O(state=absent) removes it.
    type: dict
  console_sources:
    description:
      - Networks the students open the web UI and the noVNC consoles from. Adds one datacenter rule per entry
        accepting TCP 8006 from it (marked C(pvelab:<name>), removed by O(state=absent)); needed only where the hosts'
        firewall would otherwise answer the cluster's C(management) IP set alone.
    type: list
    elements: str
    default: []
  compile_wait:
    description:
      - Seconds to wait after changing anything before the module returns. pve-firewall compiles the rules every 10
        seconds, for stopped guests too; a guest started before that runs with the rules compiled earlier, so the
        lab role starts VMs only after this wait. V(0) does not wait.
    type: float
    default: 12.0
notes:
  - With O(state=present) the module fails when the report read back after applying says a VM is not isolated
    (in check mode it warns instead), for example because a foreign rule on the VM accepts inbound traffic from
    any source, or because a NIC change waits for the next start of a running VM (PVE applies C(firewall=1) live
    when network hotplug is enabled, which is the default).
  - The datacenter switch is cluster wide. Turning it on also starts filtering every other guest whose own
    firewall and NIC flags are on, and the nodes' host firewalls (their C(enable) defaults to on) with the
    cluster's C(policy_in), DROP when not set, so that 8006 (web UI, API, consoles) and 22 would answer only the
    C(management) IP set. When the module turns it on, the hosts keep answering everyone, as before; it sends
    C(policy_in=ACCEPT) in the same request when C(policy_in) was not set, else adds datacenter rules accepting TCP
    8006 and 22. It records the options as they were in the comment of the empty security group C(pvelab-dc), and
    O(state=absent) of the last lab (no other security group marked C(pvelab:) is left) puts them back and deletes
    the record. A run that would leave a node's 8006 or 22 answering fewer sources than before fails before any
    write.
  - When the datacenter firewall was already on, its options and the site's rules are left alone; the report's
    C(reachability.hosts) says who each node's 8006 and 22 answer.
  - A VM that leaves the selection keeps its group reference (the module does not scan VMs outside the
    selection); run O(state=absent) with that VM selected to release it.
  - Request use per run, N selected VMs; one read of cluster resources, seven reads of the cluster firewall, two
    per online node where the hosts are read (see RV(report.reachability.hosts)), per VM three reads (firewall options, firewall rules,
    config with pending changes) and one per covered NIC (its C(ipfilter-net<N>) set), the guest agent of a running VM
    whose addresses are not known yet, and, when something changes, at most three writes plus two per NIC and the
    reads of what was written. An idempotent run makes no write. Per-VM requests run in parallel on up to 8
    threads.
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Isolate the students of netadmin; the teacher reaches them on SSH and VNC
  pvelab.proxmox.pve_firewall_isolation:
    api_host: pve1.example.org
    api_user: automation@pve
    api_token_id: ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    name: netadmin
    vmid_range: {first: 2001, last: 2030}
    teacher_sources: [192.0.2.10]
    teacher_ports:
      - {proto: tcp, dport: "22"}
      - {proto: tcp, dport: "5900:5999"}
      - {proto: icmp}

- name: Students may reach only the teacher VM (and DHCP/DNS)
  pvelab.proxmox.pve_firewall_isolation:
    name: exam1
    pool: exam1
    teacher_vmids: [100]
    outbound: teacher_only

- name: Before the exam, prove isolation holds (fails if not; changes nothing)
  pvelab.proxmox.pve_firewall_isolation:
    name: exam1
    pool: exam1
    outbound: teacher_only
    verify_only: true
  register: check

- name: Show it
  ansible.builtin.debug:
    msg: "{{ check.report.reachability }}"

- name: A topology lab - each router's net0 is its uplink (isolated), net1 its student's private network
  pvelab.proxmox.pve_firewall_isolation:
    name: routing
    vmids: [2101, 2111]
    teacher_sources: [192.0.2.10]
    nets:
      2101: [net0]   # ann's router: net0 on vmbr0, net1 on ann's VNet
      2111: [net0]   # ben's router
    # The clients, with a NIC on their student's VNet only, are not selected: no NIC of theirs is on the lab's
    # bridge, and a selected VM not listed in nets would have every NIC isolated.

- name: End of term
  pvelab.proxmox.pve_firewall_isolation:
    name: netadmin
    vmid_range: {first: 2001, last: 2030}
    state: absent
'''

RETURN = r'''
group:
  description: The security group of the lab.
  returned: always
  type: str
  sample: netadmin
ipset:
  description: The cluster IP set holding the teacher's addresses.
  returned: always
  type: str
  sample: netadmin-teacher
actions:
  description: What the module did (or, in check mode, would do), in order.
  returned: always
  type: list
  elements: str
  sample:
    - create IP set netadmin-teacher
    - add 192.0.2.10/32 to IP set netadmin-teacher
    - "vm 2001: reference security group netadmin"
    - "datacenter: enable the firewall"
report:
  description:
    - The isolation report, computed from the configuration read back from PVE after applying (in check mode,
      from the configuration the plan would produce; with O(verify_only=true), from what PVE holds).
  returned: always
  type: dict
  contains:
    isolated:
      description: Every selected VM is isolated (false when nothing is selected).
      type: bool
      sample: true
    vms:
      description: One entry per selected VM, sorted by vmid.
      type: list
      elements: dict
      contains:
        vmid:
          description: VM id.
          type: int
          sample: 2001
        name:
          description: VM name.
          type: str
          sample: netadmin-alice
        node:
          description: Node of the VM.
          type: str
          sample: pve1
        firewall_enabled:
          description: The VM firewall option C(enable) is 1.
          type: bool
        policy_in:
          description: Effective inbound policy (PVE's default C(DROP) when not set).
          type: str
          sample: DROP
        policy_out:
          description: Effective outbound policy (PVE's default C(ACCEPT) when not set).
          type: str
          sample: ACCEPT
        nics_ok:
          description: Every covered C(netN) (see O(nets)) has C(firewall=1) in effect (not only pending).
          type: bool
        covered_nets:
          description: The NICs the isolation covers, those of O(nets) for a VM listed there, else all of them.
          type: list
          elements: str
          sample: [net0]
        isolated_nets:
          description: The covered NICs that are isolated, with their bridge; empty when the VM is not isolated (its
            firewall options and rules apply to all its NICs). A private NIC is never in it.
          type: list
          elements: dict
          sample: [{net: net0, bridge: vmbr0}]
        private_nets:
          description:
            - The NICs of a VM listed in O(nets) that it does not cover, with their bridge and whether C(firewall) is
              still on now or after the next start (V(false) once the run has removed it; V(true) when the change
              waits for the next start, which the module warns about). Not part of the isolation verdict.
          type: list
          elements: dict
          sample: [{net: net1, bridge: v1234, firewall: false}]
        group_referenced:
          description: An enabled VM rule references the lab's security group.
          type: bool
        datacenter_enabled:
          description: The datacenter firewall is on.
          type: bool
        source_filter:
          description: Every covered NIC may send only from the addresses in its C(ipfilter-net<N>) set.
          type: bool
        arp_filter:
          description: Every covered NIC's ARP is limited to its own IPv4 addresses.
          type: bool
        paths:
          description: V(from_students) (V(blocked), V(open) or V(unknown)), V(spoofing_teacher_address) and
            V(spoofing_teacher_arp) (V(blocked) or V(open)) of this VM.
          type: dict
        status:
          description: V(isolated), V(open), or V(unknown) when a rule cannot be evaluated (never counted as isolated).
          type: str
          sample: isolated
        gaps:
          description: The gap names found on this VM.
          type: list
          elements: str
        isolated:
          description: The status is V(isolated), all of the above hold (gaps only when accepted) and nothing on the
            VM accepts inbound traffic from another student.
          type: bool
        problems:
          description: Why the VM is not isolated, one sentence each.
          type: list
          elements: str
          sample: ["net1 has no firewall=1: its traffic bypasses the firewall"]
        addresses:
          description:
            - What each NIC may send from, the entries of its IP set C(ipfilter-net<N>) (static addresses, or those
              learned from the guest agent at the first start); a NIC without a set, and a private one, is left out.
          type: dict
          sample: {"net0": ["192.0.2.101/32"]}
        ip:
          description:
            - The first single IPv4 address of RV(report.vms[].addresses), or null. The lab role's roster shows it, so
              a re-run does not ask the guest agents again.
          type: str
          sample: 192.0.2.101
    gaps:
      description: The gaps of the isolation found on the selected VMs (see O(accept_gaps)).
      type: list
      elements: dict
      contains:
        name:
          description: V(arp_filter) or V(source_filter).
          type: str
        what:
          description: What the gap lets a student do.
          type: str
        accepted:
          description: The gap is in O(accept_gaps).
          type: bool
    reachability:
      description: Summary over all selected VMs, from what the compiled firewall lets through.
      type: dict
      contains:
        student_to_student:
          description: V(blocked) when no selected VM accepts traffic from another student's own address, V(unknown)
            when a rule cannot be evaluated (an IP set or alias the module did not read), else V(open).
          type: str
          sample: blocked
        spoofing_teacher_address:
          description: V(blocked) when every NIC may send only from its own addresses (and its own MAC), else V(open).
          type: str
          sample: blocked
        spoofing_teacher_arp:
          description: V(blocked) when every NIC's ARP is limited to its own IPv4 addresses, else V(open).
          type: str
          sample: blocked
        hosts:
          description: Per node, who its TCP ports 8006 and 22 answer (V(everyone), rule sources, the
            C(management) IP set). Read with O(verify_only=true), when the run changes the datacenter firewall or
            its rules, and when the site's datacenter firewall was already on; otherwise empty.
          type: dict
          sample: {pve1: {'8006': [everyone], '22': [everyone]}}
        teacher_to_student:
          description: V(allowed) when the teacher IP set has addresses, the group an enabled rule accepting them,
            and every VM references the group; else V(blocked).
          type: str
          sample: allowed
        ports:
          description: What the teacher may reach (V(all), V(tcp/22), V(tcp/5900:5999), V(icmp), ...).
          type: list
          elements: str
          sample: [tcp/22, tcp/5900:5999]
        teacher_sources:
          description: The addresses in the teacher IP set.
          type: list
          elements: str
          sample: [192.0.2.10/32]
        outbound:
          description: The O(outbound) checked against.
          type: str
          sample: any
'''

import time

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError, PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils import _firewall as fw
from ansible_collections.pvelab.proxmox.plugins.module_utils import _isolation
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import (
    validate_pool,
    validate_tag,
    validate_vmid,
)

GROUPS = '/cluster/firewall/groups'
IPSETS = '/cluster/firewall/ipset'
CLUSTER_OPTIONS = '/cluster/firewall/options'
CLUSTER_RULES = '/cluster/firewall/rules'


class PveFirewallIsolation(PveModuleBase):

    # ------------------------------------------------------------ inputs

    def parse_inputs(self):
        """Everything that can be checked without PVE, before any request: bad input never half-applies."""
        p = self.params
        try:
            self.group, self.ipset = fw.lab_names(p['name'])
            self.ranges = fw.parse_ranges(p['vmid_range'])
            self.vmids = [validate_vmid(v, 'vmids[{0}]'.format(i)) for i, v in enumerate(p['vmids'] or [])]
            self.teacher_vmids = [validate_vmid(v, 'teacher_vmids[{0}]'.format(i))
                                  for i, v in enumerate(p['teacher_vmids'] or [])]
            if p['pool'] is not None:
                validate_pool(p['pool'])
            if p['tag'] is not None:
                validate_tag(p['tag'])
            self.sources = fw.parse_sources(p['teacher_sources'])
            self.ports = fw.parse_ports(p['teacher_ports'])
            self.console_sources = fw.parse_sources(p['console_sources'], field='console_sources')
            self.nets = fw.parse_nets(p['nets'])
        except ValueError as exc:
            self.fail(str(exc))
        if self.group == fw.RECORD_GROUP:
            self.fail('name {0!r} is the security group pvelab keeps its datacenter record in; choose another lab '
                      'name'.format(p['name']))
        if p['verify_only'] and p['state'] == 'absent':
            self.fail('verify_only checks the isolation of state=present; it cannot be combined with state=absent')
        # Not set: DHCP/DNS allowed when outbound is restricted; otherwise the guest's dhcp option is left alone.
        allow = p['allow_dhcp_dns']
        if allow is None and p['outbound'] == 'teacher_only':
            allow = True
        self.allow_dhcp_dns = allow
        self.result.update(group=self.group, ipset=self.ipset, actions=[])

    def select(self):
        """The selected guests (resources entries), from the one cluster read."""
        cluster = self.cluster
        chosen = {}
        for i, vmid in enumerate(self.vmids):
            guest = cluster.guest(vmid)
            if guest is None:
                self.fail('vmids[{0}]: there is no guest {1}'.format(i, vmid))
            chosen[vmid] = guest
        for first, last in self.ranges:
            for guest in cluster.guests():
                if first <= int(guest['vmid']) <= last:
                    chosen[int(guest['vmid'])] = guest
        if self.params['pool']:
            chosen.update((int(g['vmid']), g) for g in cluster.pool_members(self.params['pool']))
        if self.params['tag']:
            chosen.update((int(g['vmid']), g) for g in cluster.tagged(self.params['tag']))
        for vmid in list(chosen):
            if vmid in self.teacher_vmids:
                del chosen[vmid]
                self.module.warn('vm {0} is a teacher VM: not isolated as a student'.format(vmid))
            elif chosen[vmid].get('template'):
                del chosen[vmid]
                if vmid in self.vmids:
                    self.module.warn('vm {0} is a template: left out'.format(vmid))
        out = [dict(g, vmid=int(g['vmid']), type=g.get('type') or 'qemu') for _k, g in sorted(chosen.items())]
        if self.params['state'] == 'present':
            # The NICs the isolation covers (covered_nics in _firewall.py); state=absent removes what the lab made on
            # every NIC, as without nets.
            for guest in out:
                if guest['vmid'] in self.nets:
                    guest['covered'] = self.nets[guest['vmid']]
        return out

    def teacher_cidrs(self):
        cidrs = list(self.sources)
        for i, vmid in enumerate(self.teacher_vmids):
            guest = self.cluster.guest(vmid)
            if guest is None:
                self.fail('teacher_vmids[{0}]: there is no guest {1}'.format(i, vmid))
            found = fw.teacher_addresses(self.client, dict(guest, vmid=vmid))
            if not found:
                self.fail('teacher_vmids[{0}]: no address found for vm {1} (its guest agent does not answer and its '
                          'configuration has no static ipconfigN ip=); give teacher_sources instead'.format(i, vmid))
            cidrs += [c for c in found if c not in cidrs]
        return cidrs

    # ------------------------------------------------------------- reads

    def read_cluster(self):
        c = self.client
        self.cluster_options = c.get(CLUSTER_OPTIONS) or {}
        groups = dict((str(g.get('group')).lower(), g) for g in c.get(GROUPS) or [])
        ipsets = dict((str(s.get('name')).lower(), s) for s in c.get(IPSETS) or [])
        self.group_index = groups
        self.group_entry = groups.get(self.group)
        self.ipset_entry = ipsets.get(self.ipset)
        self.group_rules = c.get('{0}/{1}'.format(GROUPS, self.group)) if self.group_entry else None
        self.ipset_entries = c.get('{0}/{1}'.format(IPSETS, self.ipset)) if self.ipset_entry else None
        self.group_ours = self.group_entry is not None and fw.owned(self.group_entry.get('comment'), self.group)
        self.ipset_ours = self.ipset_entry is not None and fw.owned(self.ipset_entry.get('comment'), self.group)
        record = groups.get(fw.RECORD_GROUP)
        self.record = fw.parse_record(record.get('comment')) if record else None
        self.record_exists = record is not None
        # Other labs that still need the datacenter firewall: their security groups carry the pvelab marker.
        self.other_labs = sorted(n for n, g in groups.items() if n != self.group and
                                 str(g.get('comment') or '').startswith(fw.MARK))
        self.cluster_rules = c.get(CLUSTER_RULES) or []
        self.management = [e.get('cidr') for e in c.get(IPSETS + '/management') or []] \
            if 'management' in ipsets else []
        self.hosts = None  # read only where the run needs them (read_hosts)

    def read_hosts(self):
        """Each online node's host firewall options and rules (what its 8006 and 22 answer depends on them)."""
        nodes = [n['node'] for n in self.cluster.nodes() if n.get('status') == 'online']
        found = fw._map(lambda n: {'options': self.client.get('/nodes/{0}/firewall/options'.format(n)) or {},
                                   'rules': self.client.get('/nodes/{0}/firewall/rules'.format(n)) or []}, nodes)
        errors = ['node {0}: {1}'.format(n, e) for n, _r, e in found if e]
        if errors:
            raise PveError('reading the host firewalls failed: ' + '; '.join(errors))
        return dict((n, r) for n, r, _e in found)

    def hosts_report(self, cluster_options, cluster_rules):
        if self.hosts is None:
            return {}
        return _isolation.hosts_report(cluster_options, self.hosts, cluster_rules, self.management)

    def read_other_groups(self, vms):
        """Rules of the other groups the guests reference, so the report sees what they accept."""
        names = sorted(set(str(r.get('action')).lower() for vm in vms for r in vm['rules']
                           if str(r.get('type')).lower() == 'group') - {self.group})
        names = [n for n in names if n in self.group_index]
        found = fw._map(lambda n: self.client.get('{0}/{1}'.format(GROUPS, n)) or [], names)
        errors = ['security group {0}: {1}'.format(n, e) for n, _r, e in found if e]
        if errors:
            raise PveError('; '.join(errors))
        return dict((n, r) for n, r, _e in found)

    # ------------------------------------------------------------ report

    def report(self, vms, group_rules, ipset_entries, cluster_options, cluster_rules=None, accept=None):
        hosts = self.hosts_report(cluster_options, self.cluster_rules if cluster_rules is None else cluster_rules)
        return _isolation.isolation_report(vms, cluster_options, self.group, self.ipset, group_rules, ipset_entries,
                                           self.other_groups, self.params['outbound'],
                                           self.params['accept_gaps'] if accept is None else accept, hosts)

    def summary(self, report):
        lines = ['vm {0}: {1}'.format(v['vmid'], '; '.join(v['problems'])) for v in report['vms'] if v['problems']]
        if not report['vms']:
            lines = ['no VM is selected']
        more = '' if len(lines) <= 5 else ' (and {0} more VMs)'.format(len(lines) - 5)
        gaps = [g['name'] for g in report.get('gaps') or [] if not g['accepted']]
        named = ' | gaps not accepted: {0} (see accept_gaps)'.format(', '.join(gaps)) if gaps else ''
        return ' | '.join(lines[:5]) + more + named

    # ----------------------------------------------------------- execute

    def execute(self):
        p = self.params
        self.parse_inputs()
        guests = self.select()
        if p['state'] == 'present' and not guests and not p['allow_empty'] and not p['verify_only']:
            self.fail('the selection (vmids, vmid_range, pool, tag) matches no VM; set allow_empty=true to apply '
                      'the group and IP set anyway')
        cidrs = self.teacher_cidrs() if p['state'] == 'present' and not p['verify_only'] else []
        if p['state'] == 'present' and not p['verify_only'] and not cidrs:
            self.module.warn('neither teacher_sources nor teacher_vmids is given: nobody will reach the student VMs')
        self.read_cluster()
        if p['state'] == 'present' and not p['verify_only']:
            foreign = []
            if self.group_entry is not None and not self.group_ours:
                foreign.append('security group {0}'.format(self.group))
            if self.ipset_entry is not None and not self.ipset_ours:
                foreign.append('IP set {0}'.format(self.ipset))
            if foreign:
                self.fail('{0} already exist(s) and was not made by this module (its comment does not start with '
                          '{1}); choose another lab name'.format(' and '.join(foreign), fw.marker(self.group)))
        vms = fw.read_vms(self.client, guests)
        try:
            fw.check_nets(self.nets, vms, nics=p['state'] == 'present')
        except ValueError as exc:
            self.fail('nothing was changed: {0}'.format(exc))
        self.other_groups = self.read_other_groups(vms)
        if p['verify_only']:
            self.hosts = self.read_hosts()
            report = self.report(vms, self.group_rules, self.ipset_entries, self.cluster_options)
            self.result['report'] = report
            if not report['isolated']:
                self.fail('isolation of lab {0} does not hold: {1}'.format(self.group, self.summary(report)))
            return
        if p['state'] == 'present':
            self.present(vms, cidrs)
        else:
            self.absent(vms)

    # ----------------------------------------------------------- present

    def present(self, vms, cidrs):
        p = self.params
        c = self.client
        lab = self.group
        actions = self.result['actions']
        group_path = '{0}/{1}'.format(GROUPS, self.group)
        ipset_path = '{0}/{1}'.format(IPSETS, self.ipset)

        # Plan everything first (pure), so check mode, diff and the real run agree.
        ipset_plan = fw.plan_ipset(self.ipset_entries or [], cidrs, lab)
        if self.ipset_entries is None:
            actions.append('create IP set {0}'.format(self.ipset))
        actions += ['remove {0} from IP set {1}'.format(x, self.ipset) for x in ipset_plan['delete']]
        actions += ['add {0} to IP set {1}'.format(x, self.ipset) for x in ipset_plan['add']]
        desired = fw.desired_group_rules(lab, self.ipset, self.ports, p['outbound'], self.allow_dhcp_dns)
        rules_plan = fw.plan_rules(self.group_rules or [], desired, lab)
        if self.group_rules is None:
            actions.append('create security group {0}'.format(self.group))
        actions += ['group {0}: add rule {1}'.format(self.group, fw.describe_rule(dict(r, enable=1)))
                    for r in rules_plan['create']]
        actions += ['group {0}: enable rule {1}'.format(self.group, fw.describe_rule(r)) for r in rules_plan['enable']]
        actions += ['group {0}: delete rule {1}'.format(self.group, fw.describe_rule(r)) for r in rules_plan['delete']]
        desired_options = fw.desired_vm_options(p['outbound'], self.allow_dhcp_dns)
        learned = self.learn(vms, cidrs) if p['learn_addresses'] else {}
        vm_plans = dict((vm['vmid'], fw.plan_vm_present(vm, lab, self.group, desired_options,
                                                        learned.get(vm['vmid']))) for vm in vms)
        for vm in vms:
            actions += vm_plans[vm['vmid']]['actions']
        try:
            # Every rule checked as PVE will check it, before the first write: no firewall change is left half-made.
            fw.check_writes(self.group, rules_plan['create'], vm_plans)
        except ValueError as exc:
            self.fail('nothing was changed: {0}'.format(exc))
        dc_switch = p['enable_datacenter'] and not fw.datacenter_enabled(self.cluster_options)
        dc_plan = fw.plan_datacenter_on(self.cluster_options) if dc_switch else {'options': {}, 'rules': []}
        have = [fw.rule_key(r) for r in self.cluster_rules if fw.record_rule(r)]
        record_rules = [r for r in dc_plan['rules'] if fw.rule_key(r) not in have]
        console_plan = fw.plan_rules(self.cluster_rules, [fw.console_rule(lab, [src]) for src in self.console_sources],
                                     lab)
        cluster_rules_plan = dict(console_plan, create=console_plan['create'] + record_rules)
        actions += ['datacenter: add rule {0}'.format(fw.describe_rule(dict(r, enable=1)))
                    for r in cluster_rules_plan['create']]
        actions += ['datacenter: enable rule {0}'.format(fw.describe_rule(r)) for r in console_plan['enable']]
        actions += ['datacenter: delete rule {0}'.format(fw.describe_rule(r)) for r in console_plan['delete']]
        record_create = dc_switch and not self.record_exists
        if record_create:
            actions.append('datacenter: record the firewall options in security group {0}'.format(fw.RECORD_GROUP))
        if dc_switch:
            actions.append('datacenter: enable the firewall' + (' with policy_in ACCEPT (the hosts answer as '
                                                                'before)' if 'policy_in' in dc_plan['options'] else ''))
        self.changed(bool(actions))

        predicted_vms = [fw.predict_vm(vm, vm_plans[vm['vmid']]) for vm in vms]
        predicted_rules = predict_rules(self.group_rules or [], rules_plan)
        predicted_entries = predict_entries(self.ipset_entries or [], ipset_plan, lab)
        predicted_options = dict(self.cluster_options, **dc_plan['options'])
        predicted_cluster_rules = predict_rules(self.cluster_rules, cluster_rules_plan)
        # Who the nodes answer: checked where this run changes it, reported where the site's own policy decides.
        site_policy = fw.datacenter_enabled(self.cluster_options) and not self.record_exists
        if dc_switch or any(cluster_rules_plan.values()) or site_policy:
            self.hosts = self.read_hosts()
        self.check_no_lockout(predicted_options, predicted_cluster_rules)
        self.set_diff(vms, self.group_rules, self.ipset_entries, self.cluster_options,
                      predicted_vms, predicted_rules, predicted_entries, predicted_options)
        if self.check_mode:
            report = self.report(predicted_vms, predicted_rules, predicted_entries, predicted_options,
                                 predicted_cluster_rules)
            self.result['report'] = report
            if not report['isolated']:
                self.module.warn('after these changes isolation would not hold: ' + self.summary(report))
            return

        # 1. The teacher IP set: stale addresses out first (an address no longer the teacher's may now be anyone's),
        #    then the new ones. Nothing references the set yet on a first run, so this changes no VM.
        if self.ipset_entries is None:
            c.post(IPSETS, name=self.ipset, comment=fw.marker(lab) + ' teacher addresses')
        for cidr in ipset_plan['delete']:
            c.delete(fw.ipset_entry_path(self.ipset, cidr))
        for cidr in ipset_plan['add']:
            c.post(ipset_path, cidr=cidr, comment=fw.marker(lab) + ' teacher')
        # 2. The security group and its rules (enable=1 sent), new rules before stale ones go, so the teacher keeps
        #    access; every rule in it accepts only the teacher set, so no step accepts other students.
        if self.group_rules is None:
            c.post(GROUPS, group=self.group, comment=fw.marker(lab) + ' student isolation')
        for rule in rules_plan['create']:
            fw.write_rule(c, group_path, rule)
        rules = self.group_rules
        if rules_plan['create'] and (rules_plan['enable'] or rules_plan['delete']):
            rules = c.get(group_path) or []  # positions and digest moved
        if rules_plan['enable']:
            rules = fw.enable_rules(c, group_path, rules, rules_plan['enable'])
        if rules_plan['delete']:
            fw.delete_rules(c, group_path, rules, rules_plan['delete'])
        # 3. Per VM (in parallel): group reference, options (enable + DROP in one request), NIC flags; see apply_vm.
        states, errors = fw.apply_vms(c, vms, vm_plans)
        # 4. The datacenter rules (console access, and the hosts' 8006 and 22 kept open), then the record of the
        #    cluster options as they were, then the datacenter switch last: if it was off, nothing was filtered until
        #    now, and this turns isolation on for every VM at once with all of the above in place. Only `enable`
        #    (and policy_in when it was not set, so the hosts answer as before) is sent: other options stay.
        for rule in cluster_rules_plan['create']:
            fw.write_rule(c, CLUSTER_RULES, rule)
        rules = self.cluster_rules if not cluster_rules_plan['create'] else c.get(CLUSTER_RULES) or []
        if console_plan['enable']:
            rules = fw.enable_rules(c, CLUSTER_RULES, rules, console_plan['enable'])
        if console_plan['delete']:
            fw.delete_rules(c, CLUSTER_RULES, rules, console_plan['delete'])
        if record_create:
            self.write_record()
        if dc_switch:
            c.put(CLUSTER_OPTIONS, **dc_plan['options'])
        # pve-firewall compiles what was written on its 10 s cycle, for running and stopped guests alike: a VM
        # started before that runs with the rules compiled earlier. The role starts VMs after this module returns.
        if self.result['changed'] and p['compile_wait'] > 0:
            time.sleep(p['compile_wait'])

        # The report from what PVE holds now (re-read only what was written).
        group_rules = c.get(group_path) if self.group_rules is None or any(rules_plan.values()) else self.group_rules
        entries = c.get(ipset_path) if self.ipset_entries is None or any(ipset_plan.values()) else self.ipset_entries
        options = c.get(CLUSTER_OPTIONS) if dc_switch else self.cluster_options
        cluster_rules = (c.get(CLUSTER_RULES) or []) if any(cluster_rules_plan.values()) else self.cluster_rules
        report = self.report(states, group_rules, entries, options, cluster_rules)
        self.result['report'] = report
        for vm in report['vms']:
            for nic in vm['private_nets']:
                if nic['firewall']:
                    self.module.warn('vm {0}: the private {1} keeps its firewall flag until the next start of the VM '
                                     '(its own network is filtered until then)'.format(vm['vmid'], nic['net']))
        if errors:
            self.fail('applying isolation failed on {0} VM(s): {1}'.format(len(errors), '; '.join(errors)))
        if not report['isolated']:
            self.fail('isolation of lab {0} does not hold after applying: {1}'.format(
                self.group, self.summary(report)))

    def write_record(self):
        """The record of the cluster options as they were. Two labs that turn the datacenter firewall on at the same
        time both read it off and no record; the second create then meets the first's group (PVE refuses the group
        parameter, "Security group '...' already exists"). Both read the options before either wrote them, so the record already there
        says what this one would: keep it."""
        c = self.client
        try:
            c.post(GROUPS, group=fw.RECORD_GROUP, comment=fw.record_comment(self.cluster_options))
        except PveApiError as exc:
            if 'already exists' not in str(exc.errors.get('group') or ''):
                raise
            found = dict((str(g.get('group')).lower(), g) for g in c.get(GROUPS) or []).get(fw.RECORD_GROUP)
            if found is None or fw.parse_record(found.get('comment')) is None:
                raise

    def learn(self, vms, teacher_cidrs):
        """{vmid: {netN: [cidr]}}: the addresses the guest agents report for NICs whose addresses are not known yet.
        An address a teacher source holds, or another guest of the lab reports too, is not learned (warned)."""
        todo = [vm for vm in vms if fw.needs_learning(vm)]
        learned = {}
        for vm, found, error in fw._map(lambda v: fw.learn_addresses(self.client, v), todo):
            if found and not error:
                learned[vm['vmid']] = found
        for problem in fw.check_learned(vms, learned, teacher_cidrs):
            learned.pop(int(problem.split()[1]), None)
            self.module.warn('not learned: {0}; its NIC stays without a source filter'.format(problem))
        return learned

    def check_no_lockout(self, options, cluster_rules):
        """Refuse, before any write, a plan after which a node's 8006 or 22 would answer fewer sources than now."""
        before = self.hosts_report(self.cluster_options, self.cluster_rules)
        after = self.hosts_report(options, cluster_rules)
        for node, ports in sorted(before.items()):
            for port, who in sorted(ports.items()):
                later = after[node][port]
                lost = [w for w in who if w not in later] if 'everyone' not in later else []
                if lost:
                    self.fail('nothing was changed: after this run node {0} port {1} would no longer answer {2}; '
                              'review the cluster firewall options and rules'.format(node, port, ', '.join(lost)))

    def plan_removal(self, kind, name, ours, entry, members, lab, foreign_kind, describe):
        """The lab's own members of a security group or IP set to remove, and whether the container goes too:
        only when this module made it and nothing of anyone else is left in it; kept, it is warned about."""
        own = [m for m in members or [] if fw.owned(m.get('comment'), lab)] if ours else []
        foreign = [m for m in members or [] if not fw.owned(m.get('comment'), lab)]
        self.result['actions'] += [describe(m) for m in own]
        delete = ours and not foreign
        if delete:
            self.result['actions'].append('delete {0} {1}'.format(kind, name))
        elif entry is not None:
            self.module.warn('{0} {1} is kept: {2}'.format(
                kind, name, 'it holds {0}'.format(foreign_kind) if ours else 'this module did not make it'))
        return own, delete

    # ------------------------------------------------------------ absent

    def absent(self, vms):
        p = self.params
        c = self.client
        lab = self.group
        actions = self.result['actions']
        group_path = '{0}/{1}'.format(GROUPS, self.group)
        ipset_path = '{0}/{1}'.format(IPSETS, self.ipset)

        vm_plans = dict((vm['vmid'], fw.plan_vm_absent(vm, lab, self.group)) for vm in vms)
        for vm in vms:
            plan = vm_plans[vm['vmid']]
            actions += plan['actions']
            if plan['ref_delete'] and not plan['record']:
                self.module.warn('vm {0}: the lab rule holds no record of the previous firewall options; they are '
                                 'left as they are'.format(vm['vmid']))
            elif not plan['ref_delete'] and fw.vm_view(vm, self.group)['group_reference']:
                self.module.warn('vm {0} references security group {1} through a rule this module did not make; '
                                 'left alone'.format(vm['vmid'], self.group))
        own_rules, delete_group = self.plan_removal(
            'security group', self.group, self.group_ours, self.group_entry, self.group_rules, lab,
            'rules this module did not make',
            lambda r: 'group {0}: delete rule {1}'.format(self.group, fw.describe_rule(r)))
        own_entries, delete_ipset = self.plan_removal(
            'IP set', self.ipset, self.ipset_ours, self.ipset_entry, self.ipset_entries, lab,
            'addresses this module did not add',
            lambda e: 'remove {0} from IP set {1}'.format(e['cidr'], self.ipset))
        own_cluster_rules = [r for r in self.cluster_rules if fw.owned(r.get('comment'), lab)]
        actions += ['datacenter: delete rule {0}'.format(fw.describe_rule(r)) for r in own_cluster_rules]
        # The last lab puts back what the first one changed cluster wide (recorded in PVE, see _firewall.py).
        last = self.record is not None and not self.other_labs and (delete_group or self.group_entry is None)
        restore = fw.plan_datacenter_restore(self.record, self.cluster_options) if last else \
            {'options': {}, 'delete': []}
        if p['disable_datacenter_on_absent'] and fw.datacenter_enabled(self.cluster_options):
            restore['options']['enable'] = 0
            restore['delete'] = [k for k in restore['delete'] if k != 'enable']
        record_rules = [r for r in self.cluster_rules if fw.record_rule(r)] if last else []
        actions += ['datacenter: delete rule {0}'.format(fw.describe_rule(r)) for r in record_rules]
        if restore['options'].get('enable') == 0 or 'enable' in restore['delete']:
            actions.append('datacenter: disable the firewall')
        actions += ['datacenter: unset {0} (as before the first lab)'.format(k) for k in restore['delete']
                    if k != 'enable']
        if last:
            actions.append('datacenter: delete the record security group {0}'.format(fw.RECORD_GROUP))
        elif self.record_exists and not self.other_labs and self.record is None:
            self.module.warn('security group {0} holds no record this module can read; the datacenter firewall '
                             'options are left as they are'.format(fw.RECORD_GROUP))
        self.changed(bool(actions))

        predicted_vms = [fw.predict_vm(vm, vm_plans[vm['vmid']]) for vm in vms]
        predicted_rules = predicted_entries = None
        if self.group_rules is not None and not delete_group:
            predicted_rules = [r for r in self.group_rules if r not in own_rules]
        if self.ipset_entries is not None and not delete_ipset:
            predicted_entries = [e for e in self.ipset_entries if e not in own_entries]
        predicted_options = dict((k, v) for k, v in dict(self.cluster_options, **restore['options']).items()
                                 if k not in restore['delete'])
        self.set_diff(vms, self.group_rules, self.ipset_entries, self.cluster_options,
                      predicted_vms, predicted_rules, predicted_entries, predicted_options)
        if self.check_mode:
            self.result['report'] = self.report(predicted_vms, predicted_rules, predicted_entries, predicted_options)
            return

        # VMs first (reference out, options and NIC flags restored), then the group and the set nothing uses now.
        states, errors = fw.apply_vms(c, vms, vm_plans)
        if own_rules:
            fw.delete_rules(c, group_path, self.group_rules, own_rules)
        if delete_group:
            c.delete(group_path)
        for entry in own_entries:
            c.delete(fw.ipset_entry_path(self.ipset, entry['cidr']))
        if delete_ipset:
            c.delete(ipset_path)
        rules = self.cluster_rules
        for index, doomed in enumerate((own_cluster_rules, record_rules)):
            if doomed:
                rules = rules if index == 0 or not own_cluster_rules else c.get(CLUSTER_RULES) or []
                fw.delete_rules(c, CLUSTER_RULES, rules, doomed)
        if restore['options'] or restore['delete']:
            data = dict(restore['options'])
            if restore['delete']:
                data['delete'] = ','.join(restore['delete'])
            c.put(CLUSTER_OPTIONS, **data)
        if last:
            c.delete('{0}/{1}'.format(GROUPS, fw.RECORD_GROUP))
        self.result['report'] = self.report(states, predicted_rules, predicted_entries, predicted_options,
                                            [r for r in self.cluster_rules if r not in own_cluster_rules + record_rules])
        if errors:
            self.fail('removing isolation failed on {0} VM(s): {1}'.format(len(errors), '; '.join(errors)))

    # -------------------------------------------------------------- diff

    def set_diff(self, vms, rules, entries, options, after_vms, after_rules, after_entries, after_options):
        def view(vm_list, group_rules, ipset_entries, cluster_options):
            return {
                'datacenter_enabled': fw.datacenter_enabled(cluster_options),
                'ipset': None if ipset_entries is None else {
                    'name': self.ipset, 'entries': sorted(fw.norm_cidr(e['cidr']) or e['cidr'] for e in ipset_entries)},
                'group': None if group_rules is None else {
                    'name': self.group, 'rules': sorted(fw.describe_rule(r) for r in group_rules)},
                'vms': dict((str(vm['vmid']), fw.vm_view(vm, self.group)) for vm in vm_list),
            }
        self.diff['before'] = view(vms, rules, entries, options)
        self.diff['after'] = view(after_vms, after_rules, after_entries, after_options)


def predict_rules(rules, plan):
    kept = [r for r in rules if not any(r is d for d in plan['delete'])]
    kept = [dict(r, enable=1) if any(r is e for e in plan['enable']) else r for r in kept]
    return [dict(r, enable=1) for r in plan['create']] + kept


def predict_entries(entries, plan, lab):
    kept = [e for e in entries if e['cidr'] not in plan['delete']]
    return [{'cidr': cidr, 'comment': fw.marker(lab) + ' teacher'} for cidr in plan['add']] + kept


def main():
    module = pve_module(
        dict(
            name=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            vmids=dict(type='list', elements='int'),
            vmid_range=dict(type='raw'),
            pool=dict(type='str'),
            tag=dict(type='str'),
            allow_empty=dict(type='bool', default=False),
            teacher_sources=dict(type='list', elements='str', default=[]),
            teacher_vmids=dict(type='list', elements='int', default=[]),
            teacher_ports=dict(type='list', elements='dict', default=[], options=dict(
                proto=dict(type='str', choices=['tcp', 'udp', 'icmp'], required=True),
                dport=dict(type='str'),
            )),
            outbound=dict(type='str', choices=['any', 'teacher_only'], default='any'),
            allow_dhcp_dns=dict(type='bool'),
            enable_datacenter=dict(type='bool', default=True),
            disable_datacenter_on_absent=dict(type='bool', default=False),
            verify_only=dict(type='bool', default=False),
            learn_addresses=dict(type='bool', default=True),
            accept_gaps=dict(type='list', elements='str', default=[], choices=['arp_filter', 'source_filter']),
            console_sources=dict(type='list', elements='str', default=[]),
            nets=dict(type='dict'),
            compile_wait=dict(type='float', default=12.0),
        ),
    )
    PveFirewallIsolation(module).run()


if __name__ == '__main__':
    main()
