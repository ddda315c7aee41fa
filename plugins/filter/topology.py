# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of a topology lab (lab_machines): several machines per student, a private SDN VNet per student.

A lab_template lab is the one-machine case of the same plan: one machine named '' whose NICs are left as the
template has them, so the role has one code path. Everything here is planned on the controller from what PVE was
read to hold; a bad input fails naming it before any write.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.pvelab.proxmox.plugins.filter.lab import _fail, _size
from ansible_collections.pvelab.proxmox.plugins.module_utils._lab import (
    made_zone,
    pool_comment,
    vnet_alias,
    vnet_owner,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._sdn import (
    ZONE_TYPES,
    validate_sdn_id,
    validate_tag,
)

MACHINE_KEYS = ('name', 'template', 'nets', 'cores', 'memory')
NET_KINDS = ('uplink', 'private')
# qemu-server's NIC keys: net0 .. net31.
MAX_NETS = 32
MIB = 1024 * 1024


def lab_machine_specs(machines, template=None, required=True):
    """lab_machines (or lab_template) checked -> [{name, template, nets, cores, memory}].

    A lab_template lab is one machine with name '' and nets None (its NICs as the template has them). Refused,
    naming the entry: both or neither of lab_template and lab_machines (neither only when required), a machine
    without a name or a template, a name twice, unknown keys, a nets entry other than uplink or private, more NICs
    than a VM has (net0 to net31), cores or memory below 1.
    """
    given = template not in (None, '')
    if machines in (None, '', []):
        if not given and required:
            _fail('lab_template', 'give lab_template (one VM per student) or lab_machines (several machines per '
                                  'student), one of them')
        return [{'name': '', 'template': str(template).strip() if given else None, 'nets': None, 'cores': None,
                 'memory': None}]
    if given:
        _fail('lab_machines', 'lab_template is given too; give one of them')
    if not isinstance(machines, list):
        _fail('lab_machines', 'must be a list of machines, each with a name and a template')
    out = []
    seen = {}
    for index, machine in enumerate(machines):
        field = 'lab_machines[{0}]'.format(index)
        if not isinstance(machine, dict):
            _fail(field, 'must be a dict with name, template and nets')
        unknown = sorted(set(machine) - set(MACHINE_KEYS))
        if unknown:
            _fail(field, 'unknown keys {0} (known: {1})'.format(', '.join(unknown), ', '.join(MACHINE_KEYS)))
        name = str(machine.get('name') or '').strip()
        if not name:
            _fail(field, 'each machine needs a name (its VM is <lab_name>-<username>-<name>)')
        if name in seen:
            _fail(field, 'machine name {0!r} is already lab_machines[{1}]'.format(name, seen[name]))
        seen[name] = index
        if machine.get('template') in (None, ''):
            _fail(field, 'machine {0!r} needs a template (a name or a vmid)'.format(name))
        nets = machine.get('nets', ['uplink'])
        if not isinstance(nets, list) or not nets:
            _fail(field + '.nets', 'must be a list of uplink and private, one per NIC (net0 first)')
        if len(nets) > MAX_NETS:
            _fail(field + '.nets', 'a VM has at most {0} NICs (net0 to net{1})'.format(MAX_NETS, MAX_NETS - 1))
        for position, kind in enumerate(nets):
            if kind not in NET_KINDS:
                _fail('{0}.nets[{1}]'.format(field, position), '{0!r} is neither uplink (lab_uplink_bridge, isolated) '
                      'nor private (the student\'s own VNet)'.format(kind))
        out.append({'name': name, 'template': str(machine['template']).strip(), 'nets': list(nets),
                    'cores': _size(machine.get('cores'), field + '.cores'),
                    'memory': _size(machine.get('memory'), field + '.memory')})
    return out


def _topology(machines):
    return bool(machines) and bool(machines[0].get('name'))


def lab_vms(plan, machines=None):
    """One entry per VM of the plan (lab_plan's students), student by student, machines in lab_machines' order:
    username, userid, machine ('' in a lab_template lab), vm_name, nets (None: as the template has them), cores
    and memory (the machine's own, or None), and the student's ssh_key."""
    machines = machines or [{'name': '', 'nets': None, 'cores': None, 'memory': None}]
    out = []
    for s in plan:
        names = s.get('machines') or {'': s['vm_name']}
        for m in machines:
            if m['name'] not in names:
                continue
            entry = {'username': s['username'], 'userid': s['userid'], 'machine': m['name'],
                     'vm_name': names[m['name']], 'nets': m.get('nets'), 'cores': m.get('cores'),
                     'memory': m.get('memory')}
            if s.get('ssh_key'):
                entry['ssh_key'] = s['ssh_key']
            out.append(entry)
    return out


def lab_machine_templates(machines, guests, memory=None):
    """{machine name: {vmid, name, node, type, memory}} of each machine's template among the guests pve_vm_info
    read; memory (MiB) is what a clone of it will have: the machine's, else lab_memory, else the template's.
    Refused, naming the field: no such guest, not a template, a name several guests carry, and in a topology lab a
    container template (its NICs are not set the way a VM's are)."""
    topology = _topology(machines)
    out = {}
    for index, m in enumerate(machines):
        field = 'lab_machines[{0}].template'.format(index) if topology else 'lab_template'
        template = str(m['template']).strip()
        by_vmid = template.isdigit()
        found = [g for g in guests or [] if (str(g.get('vmid')) if by_vmid else g.get('name')) == template]
        where = '{0} {1}'.format(field, template)
        if not found:
            _fail(where, 'no such VM')
        if len(found) > 1:
            _fail(where, 'the name matches several VMs; give the vmid')
        guest = found[0]
        if not guest.get('template'):
            _fail(where, 'is not a template (convert it first: pvelab.proxmox.pve_vm state=template)')
        kind = guest.get('type') or 'qemu'
        if topology and kind != 'qemu':
            _fail(where, 'is a container template; lab_machines takes VM templates (the lab sets each NIC of a '
                         'machine, as a VM has them)')
        mib = m.get('memory') or _size(memory, 'lab_memory') or int(guest.get('maxmem') or 0) // MIB
        out[m['name']] = {'vmid': int(guest['vmid']), 'name': guest.get('name'), 'node': guest.get('node'),
                          'type': kind, 'memory': mib}
    return out


def _nodes_by_student(vms, nodes):
    """{username: node} of each student one of whose VM names nodes ({VM name: node}) holds, the first found."""
    out = {}
    for vm in vms:
        if vm['username'] not in out and nodes.get(vm['vm_name']):
            out[vm['username']] = nodes[vm['vm_name']]
    return out


def lab_anchor_nodes(vms, guests, machines=None):
    """{username: node} of each student some of whose machines exist already: the node the others go to (in a
    simple zone a student's machines share one node, their VNet exists only there). guests: pve_vm_info's vms."""
    if not _topology(machines or []):
        return {}
    return _nodes_by_student(vms, dict((g.get('name'), g.get('node')) for g in guests or []
                                       if g.get('name') and not g.get('template')))


def lab_student_memory(vms, templates):
    """{username: MiB} of all a student's machines: what their first machine counts for when placement chooses its
    node, so the node has memory for all of them."""
    out = {}
    for vm in vms:
        out[vm['username']] = out.get(vm['username'], 0) + int(templates[vm['machine']]['memory'] or 0)
    return out


def lab_clone_nodes(vms, clones):
    """{username: node} from the clones of a student's first machine (pve_clone's items): where the student's other
    machines go."""
    return _nodes_by_student(vms, dict((c.get('name'), c.get('node')) for c in clones or []))


def _prefix(lab):
    """The first letters of a VNet id of lab <lab>: up to 4 of its letters and digits (a lab name starts with a
    letter), so that an id with 4 digits after it stays within PVE's 8 characters."""
    return re.sub(r'[^a-z0-9]', '', str(lab).lower())[:4]


def lab_vnet_plan(plan, sdn, lab, zone, zone_type='simple', bridge='', vlan_range=None, class_plan=None):
    """The lab's VNets, one per student of plan, from what pve_sdn_info read (sdn: its zones and vnets, all of them).

    A student's VNet is found by its alias (vnet_alias: the lab and the userid), so an existing one is kept as it is
    with its id and tag; a new one gets the id <up to 4 letters of the lab><4 digits> that no VNet has, and in a
    vlan zone the lowest tag of vlan_range that no VNet of any zone on the same bridge carries. Returns
    {vnets: {userid: vnet id}, create: [pve_sdn_vnet items], dropped: [ids of the lab's VNets whose student is not
    in class_plan], zone_exists, zone_pending (the lab's zone or VNets wait for an apply)}.

    Refused before any write: a zone id PVE refuses, an unknown zone type, a vlan zone without bridge or with a
    range that is not [low, high] in 1..4096, too few free tags for the class, an existing zone of another type or
    bridge than asked, a student's VNet found in another zone than lab_sdn_zone.
    """
    try:
        validate_sdn_id(zone, field='lab_sdn_zone')
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None
    if zone_type not in ZONE_TYPES:
        _fail('lab_sdn_zone_type', '{0!r} is not one of {1}'.format(zone_type, ', '.join(ZONE_TYPES)))
    sdn = sdn or {}
    zones = dict((z['zone'], z) for z in sdn.get('zones') or [])
    vnets = sdn.get('vnets') or []
    existing = zones.get(zone)
    if zone_type == 'vlan':
        if not bridge:
            _fail('lab_sdn_bridge', 'a vlan zone needs the bridge its VLANs are on (for example vmbr1)')
        if (not isinstance(vlan_range, (list, tuple)) or len(vlan_range) != 2
                or not all(str(t).strip().isdigit() for t in vlan_range)):
            _fail('lab_sdn_vlan_range', 'must be [first tag, last tag] (it is {0!r})'.format(vlan_range))
        try:
            low, high = (validate_tag(t, field='lab_sdn_vlan_range') for t in vlan_range)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None
        if low > high:
            _fail('lab_sdn_vlan_range', 'the first tag {0} is above the last {1}'.format(low, high))
    if existing is not None:
        if existing.get('type') != zone_type:
            _fail('lab_sdn_zone', 'zone {0} exists as a {1} zone, not {2} (lab_sdn_zone_type); choose another zone '
                                  'or the type it has'.format(zone, existing.get('type'), zone_type))
        if zone_type == 'vlan' and existing.get('bridge') != bridge:
            _fail('lab_sdn_bridge', 'zone {0} exists on bridge {1}, not {2}'.format(
                zone, existing.get('bridge'), bridge))
    owners = {}
    for v in vnets:
        userid = vnet_owner(v.get('alias'), lab)
        if userid:
            owners.setdefault(userid, v)
    wanted = [s['userid'] for s in plan]
    result = {'vnets': {}, 'create': [], 'dropped': [], 'zone_exists': existing is not None,
              'zone_pending': bool(existing and existing.get('pending'))}
    taken_ids = set(v['vnet'] for v in vnets)
    taken_tags = set()
    if zone_type == 'vlan':
        same_bridge = set(z for z, entry in zones.items() if entry.get('bridge') == bridge) | {zone}
        taken_tags = set(int(v['tag']) for v in vnets if v.get('zone') in same_bridge and v.get('tag') is not None)
    prefix = _prefix(lab)
    missing = [u for u in wanted if u not in owners]
    free_tags = []
    if zone_type == 'vlan':
        free_tags = [t for t in range(low, high + 1) if t not in taken_tags][:len(missing)]
        if len(free_tags) < len(missing):
            _fail('lab_sdn_vlan_range', '{0} to {1} has {2} tags free on bridge {3} (other VNets there carry the '
                  'rest), and the class needs {4} new VNets'.format(low, high, len(free_tags), bridge, len(missing)))
    next_id = 1
    for userid in wanted:
        found = owners.get(userid)
        if found is not None:
            if found.get('zone') != zone:
                _fail('lab_sdn_zone', 'the VNet {0} of {1} is in zone {2}, not {3}; remove the lab (lab_state: '
                                      'absent) before moving it to another zone'.format(
                                          found['vnet'], userid, found.get('zone'), zone))
            result['vnets'][userid] = found['vnet']
            result['zone_pending'] = result['zone_pending'] or bool(found.get('pending'))
            continue
        while '{0}{1:04d}'.format(prefix, next_id) in taken_ids:
            next_id += 1
        if next_id > 9999:
            _fail('lab_name', 'lab {0} has no free VNet id left ({1}0001 to {1}9999)'.format(lab, prefix))
        vnet = '{0}{1:04d}'.format(prefix, next_id)
        taken_ids.add(vnet)
        item = {'vnet': vnet, 'zone': zone, 'alias': vnet_alias(lab, userid)}
        if zone_type == 'vlan':
            item['tag'] = free_tags[len(result['create'])]
        result['create'].append(item)
        result['vnets'][userid] = vnet
    members = set(s['userid'] for s in (plan if class_plan is None else class_plan))
    result['dropped'] = sorted(v['vnet'] for userid, v in owners.items() if userid not in members)
    return result


def lab_nic_specs(vms, clones, uplink='', networks=None, running=None):
    """{vmid: {netN: NIC}} for the machines of a topology lab that were not running when the run began (a running
    VM is the student's: its NICs are not touched): an uplink NIC on lab_uplink_bridge with the firewall on, a
    private NIC on the student's VNet. A NIC the VM lacks is added (pve_vm gives it the model of its first)."""
    networks = networks or {}
    running = set(int(v) for v in running or [])
    by_name = dict((c.get('name'), c) for c in clones or [] if c.get('vmid') is not None)
    out = {}
    for vm in vms:
        clone = by_name.get(vm['vm_name'])
        if not vm.get('nets') or clone is None or int(clone['vmid']) in running:
            continue
        nics = {}
        for index, kind in enumerate(vm['nets']):
            if kind == 'uplink':
                nics['net{0}'.format(index)] = {'bridge': uplink, 'firewall': 1}
            else:
                nics['net{0}'.format(index)] = {'bridge': networks[vm['userid']]}
        out[int(clone['vmid'])] = nics
    return out


def lab_isolation_nets(vms, clones):
    """What pve_firewall_isolation covers: {vmids: [every VM with an uplink NIC, or every VM in a lab_template lab],
    nets: {vmid: [its uplink NICs]} for the VMs that also have a private NIC}. A VM with private NICs only is left
    out: it reaches nothing but its student's own machines."""
    by_name = dict((c.get('name'), int(c['vmid'])) for c in clones or [] if c.get('vmid') is not None)
    vmids, nets = [], {}
    for vm in vms:
        vmid = by_name.get(vm['vm_name'])
        if vmid is None:
            continue
        kinds = vm.get('nets')
        if not kinds:
            vmids.append(vmid)
            continue
        uplinks = ['net{0}'.format(i) for i, kind in enumerate(kinds) if kind == 'uplink']
        if uplinks:
            vmids.append(vmid)
            if len(uplinks) < len(kinds):
                nets[str(vmid)] = uplinks
    return {'vmids': vmids, 'nets': nets}


def lab_vnet_absent(vnets):
    """pve_sdn_vnet items that remove these VNets."""
    return [{'vnet': v, 'state': 'absent'} for v in vnets or []]


def lab_pool_comment(lab, zone=None):
    """The comment of lab <lab>'s pool, recording the SDN zone when the lab made it (_lab.pool_comment)."""
    return pool_comment(lab, zone or None)


def lab_made_zone(comment):
    """The SDN zone a lab's pool comment records the lab made, or ''."""
    return made_zone(comment) or ''


def lab_start_specs(vmids, no_wait=None, wait_for_ip=True):
    """pve_vm's list that starts these VMs, waiting for an address (wait_for_ip) except for those in no_wait: a
    machine with private NICs only gets none (a student's own network has no DHCP of its own)."""
    no_wait = set(int(v) for v in no_wait or [])
    return [{'vmid': int(v), 'state': 'started', 'wait_for_ip': bool(wait_for_ip) and int(v) not in no_wait}
            for v in vmids or []]


def lab_sdn_teardown(sdn, lab, made=''):
    """What teardown removes of the SDN, from what pve_sdn_info read (all zones and VNets): {vnets: [the lab's VNet
    ids, found by their alias], zone: made (the zone the lab's pool comment records it made) when it exists and
    holds no VNet but the lab's, else ''}. A zone someone else also uses, or one the lab did not make, stays."""
    sdn = sdn or {}
    mine = [v['vnet'] for v in sdn.get('vnets') or [] if vnet_owner(v.get('alias'), lab)]
    zone = ''
    if made and any(z['zone'] == made for z in sdn.get('zones') or []):
        others = [v for v in sdn.get('vnets') or [] if v.get('zone') == made and v['vnet'] not in mine]
        zone = '' if others else made
    return {'vnets': sorted(mine), 'zone': zone}


def lab_nic_bridge(value):
    """The bridge of a NIC property string (a template's net0, 'virtio=...,bridge=vmbr0,firewall=1'), or ''."""
    for part in str(value or '').split(','):
        key, _sep, val = part.partition('=')
        if key.strip() == 'bridge':
            return val.strip()
    return ''


class FilterModule(object):
    def filters(self):
        return {
            'lab_machine_specs': lab_machine_specs,
            'lab_vms': lab_vms,
            'lab_machine_templates': lab_machine_templates,
            'lab_anchor_nodes': lab_anchor_nodes,
            'lab_student_memory': lab_student_memory,
            'lab_clone_nodes': lab_clone_nodes,
            'lab_vnet_plan': lab_vnet_plan,
            'lab_nic_specs': lab_nic_specs,
            'lab_isolation_nets': lab_isolation_nets,
            'lab_vnet_absent': lab_vnet_absent,
            'lab_pool_comment': lab_pool_comment,
            'lab_made_zone': lab_made_zone,
            'lab_start_specs': lab_start_specs,
            'lab_sdn_teardown': lab_sdn_teardown,
            'lab_nic_bridge': lab_nic_bridge,
        }
