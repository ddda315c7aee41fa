# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
name: pve
short_description: Proxmox VE guests as hosts, grouped by lab, pool, tag, node and status
version_added: 0.1.0
author:
  - pvelab.proxmox developers (@pvelab)
description:
  - Makes every VM (and container) of a Proxmox VE cluster an inventory host, with C(ansible_host) set to the
    address its QEMU guest agent reports, and groups by lab, pool, tag, node, status and guest type.
  - The inventory source is a YAML file whose name ends in C(pve.yml) or C(pve.yaml) (for example
    C(lab.pve.yml)) and that holds O(plugin=pvelab.proxmox.pve).
  - "Fast on big clusters: the guests come from one C(GET /cluster/resources) (and, for guests made in the last
    seconds, which PVE lists there without a name until pvestatd reports them, one guest list per node holding
    such a guest). Only running guests that the
    O(filters) keep cost a request each: VMs ask their guest agent (C(network-get-interfaces)), containers read
    C(/interfaces), O(agent_parallel) at a time. A guest that gives no address costs one config read, for the
    static address of its cloud-init C(ipconfig0) (containers: C(net0) C(ip=)). Stopped guests and templates
    cost nothing."
  - "Host names are the guests' names. Guests that share a name are all named C(<name>-<vmid>)."
  - "Host variables: C(pve_vmid), C(pve_name), C(pve_node), C(pve_type) (V(qemu) or V(lxc)), C(pve_status),
    C(pve_template), C(pve_tags) (a list), C(pve_pool), C(pve_lab), C(pve_lock), C(pve_maxcpu), C(pve_maxmem),
    C(pve_ips) (usable addresses, IPv4 first, without loopback and link-local ones), C(pve_ip_source)
    (V(agent), V(interfaces), V(config) or V(null)), and C(ansible_host) (the first IPv4 address of C(pve_ips),
    else its first address; not set when there is none)."
  - "Groups (each name starts with O(group_prefix)): C(qemu), C(lxc), C(node_<node>), C(pool_<pool>),
    C(tag_<tag>), C(status_<status>), C(lab_<lab>) and, with O(include_templates), C(template). Characters a
    group name cannot hold become C(_)."
  - "A guest belongs to lab C(<lab>) when it is in pool C(<lab>) and the pool is a lab's: the
    C(pvelab.proxmox.lab) role gives the pool the comment C(pvelab.proxmox lab <lab>) (one C(GET /pools) reads
    the comments, only when some guest is in a pool). If the user cannot see the pool, a guest in pool C(<lab>)
    that carries the tag C(<lab>), as the role tags its VMs, counts as the lab's."
  - The connection options have the names, defaults and environment variables of the modules' (in AWX, the
    credential type in C(extensions/awx) sets them for the inventory source too).
extends_documentation_fragment:
  - pvelab.proxmox.inventory
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: Marks the file as a source for this plugin.
    type: str
    required: true
    choices:
      - pvelab.proxmox.pve
  want_agent_ips:
    description:
      - Look up the addresses of running guests (guest agent, container interfaces, else the static config
        address) and set C(ansible_host).
      - With V(false) the plugin makes no request per guest at all, and hosts have no C(ansible_host) unless
        O(compose) sets one.
    type: bool
    default: true
  agent_parallel:
    description:
      - How many address lookups run at once.
    type: int
    default: 8
  include_templates:
    description:
      - Also list templates (in the group C(<prefix>template)). They never cost an address lookup.
    type: bool
    default: false
  include_stopped:
    description:
      - Also list guests that are not running. They never cost an address lookup.
    type: bool
    default: true
  group_prefix:
    description:
      - Prefix of the groups the plugin makes (not of the groups of O(groups) and O(keyed_groups)).
    type: str
    default: pve_
  filters:
    description:
      - Jinja2 conditions on the host variables above; a guest is listed only when every one is true.
      - A condition that does not mention C(pve_ips), C(pve_ip_source), C(ansible_host) or C(vars) is checked
        before the address lookups, so guests it drops cost no request.
      - Filters see the plugin's host variables, not those made by O(compose).
      - A condition that fails to evaluate drops the guest with a warning, or, with O(strict), fails the
        inventory source.
    type: list
    elements: str
    default: []
notes:
  - The user (or token) needs C(VM.Audit) on the guests to list them, and C(VM.GuestAgent.Audit) (PVE 9) or
    C(VM.Monitor) (PVE 8) to read their agent; without the latter, static config addresses are still found.
  - Inventory caching (O(cache)) stores the guests and their addresses; with a cache hit the plugin makes no
    request at all.
seealso:
  - name: Lab workflow
    description: From a class list to a roster, the inventory of the lab's VMs, and teardown.
    link: https://github.com/pvelab/proxmox/blob/main/docs/lab-workflow.md
'''

EXAMPLES = r'''
---
# lab.pve.yml: the VMs of every lab, reached at the address their guest agent reports.
# The connection comes from PROXMOX_HOST, PROXMOX_USER, PROXMOX_TOKEN_ID, ... as for the modules.
plugin: pvelab.proxmox.pve
include_stopped: false
filters:
  - pve_lab is not none

# netadmin.pve.yml (a second inventory file): one lab's VMs, with an API token from a vault, a cache,
# and groups of one's own:
#   plugin: pvelab.proxmox.pve
#   api_host: pve1.example.org
#   api_user: automation@pve
#   api_token_id: inventory
#   api_token_secret: "{{ lookup('ansible.builtin.env', 'PVE_INVENTORY_SECRET') }}"
#   ca_path: /etc/ssl/pve-root-ca.pem
#   filters:
#     - pve_lab == 'netadmin'
#   compose:
#     ansible_user: "'debian'"
#   groups:
#     exam_room: "'exam' in pve_tags"
#   keyed_groups:
#     - key: pve_tags
#       prefix: tagged
#   cache: true
#   cache_plugin: ansible.builtin.jsonfile
#   cache_connection: ~/.cache/pvelab-inventory
#   cache_timeout: 300
#
#   # Then, for example:
#   #   ansible-inventory -i netadmin.pve.yml --graph
#   #   ansible pve_lab_netadmin -i netadmin.pve.yml -m ansible.builtin.ping
'''

import re
import time

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import (
    CONNECTION_OPTIONS,
    PveClient,
    PveError,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._cluster import Cluster
from ansible_collections.pvelab.proxmox.plugins.module_utils._inventory import (
    ansible_host,
    assign_labs,
    gather_ips,
    guests_from_resources,
    host_names,
    lab_pools,
    safe_group,
)

CACHE_VERSION = 1
# A filter that mentions one of these needs the address lookups' results ('vars' covers vars[...] and
# hostvars[...]); any other is checked before them, so the guests it drops cost no request.
LATE_FILTER = re.compile(r'\b(pve_ips|pve_ip_source|ansible_host|vars|hostvars)\b')


def host_vars(guest, with_addresses=True):
    out = {
        'pve_vmid': guest['vmid'],
        'pve_name': guest['name'],
        'pve_node': guest['node'],
        'pve_type': guest['type'],
        'pve_status': guest['status'],
        'pve_template': guest['template'],
        'pve_tags': list(guest['tags']),
        'pve_pool': guest['pool'],
        'pve_lab': guest['lab'],
        'pve_lock': guest['lock'],
        'pve_maxcpu': guest['maxcpu'],
        'pve_maxmem': guest['maxmem'],
    }
    if with_addresses:
        out['pve_ips'] = list(guest['ips'])
        out['pve_ip_source'] = guest['ip_source']
        address = ansible_host(guest['ips'])
        if address:
            out['ansible_host'] = address
    return out


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'pvelab.proxmox.pve'

    def __init__(self):
        super().__init__()
        self.requests_made = 0

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        if path.endswith(('pve.yml', 'pve.yaml')):
            return True
        self.display.vvv('pvelab.proxmox.pve: skipping {0}: the file name does not end in pve.yml or pve.yaml'.format(
            path))
        return False

    # ------------------------------------------------------------- options

    def _connection_params(self):
        """The modules' connection parameters, from the file (templated) or the PROXMOX_* variables."""
        params = {}
        for key in CONNECTION_OPTIONS:
            value = self.get_option(key)
            if value == '':
                value = None  # an empty PROXMOX_* variable (as AWX's credential injectors leave them) is unset
            if isinstance(value, str) and self.templar.is_template(value):
                value = self.templar.template(value)
            if value is not None and key in ('api_host', 'api_user', 'api_password', 'api_token_id',
                                             'api_token_secret', 'ca_path'):
                value = to_native(value)
            params[key] = value
        if params.get('api_port') is not None:
            params['api_port'] = int(params['api_port'])
        if params.get('validate_certs') is not None:
            params['validate_certs'] = boolean(params['validate_certs'], strict=False)
        if not params.get('api_host'):
            raise AnsibleParserError('pvelab.proxmox.pve: api_host is required (or the PROXMOX_HOST environment '
                                     'variable)')
        if not params.get('api_password') and not params.get('api_token_secret'):
            raise AnsibleParserError('pvelab.proxmox.pve: one of api_password (PROXMOX_PASSWORD) and '
                                     'api_token_secret (PROXMOX_TOKEN_SECRET) is required')
        if bool(params.get('api_token_id')) != bool(params.get('api_token_secret')):
            raise AnsibleParserError('pvelab.proxmox.pve: api_token_id (PROXMOX_TOKEN_ID) and api_token_secret '
                                     '(PROXMOX_TOKEN_SECRET) go together')
        return params

    # ------------------------------------------------------------- filters

    def _check_filters(self, guest, variables, early):
        """True: keep, False: drop. Early (before the address lookups) only the filters that do not need the
        addresses are checked, and None means some are left for later."""
        undecided = False
        for condition in self.get_option('filters') or []:
            if early and LATE_FILTER.search(condition):
                undecided = True
                continue
            try:
                result = self._compose(condition, variables)
            except Exception as exc:  # a condition that cannot be evaluated at all
                return self._filter_error(guest, condition, exc)
            if isinstance(result, str):
                result = boolean(result, strict=False)
            if not result:
                return False
        return None if undecided else True

    def _filter_error(self, guest, condition, exc):
        message = 'pvelab.proxmox.pve: could not evaluate filter {0!r} for {1} (vmid {2}): {3}'.format(
            condition, guest['name'], guest['vmid'], to_native(exc))
        if self.get_option('strict'):
            raise AnsibleParserError(message)
        self.display.warning(message + '; the guest is left out')
        return False

    # ---------------------------------------------------------------- read

    def _included(self, guest):
        if guest['template']:
            return self.get_option('include_templates')
        return self.get_option('include_stopped') or guest['status'] == 'running'

    def _read_guests(self):
        """The cluster's guests with their addresses: one /cluster/resources read, then per-guest lookups."""
        started = time.monotonic()
        try:
            client = PveClient(self._connection_params())
            # names and states of guests pvestatd has not reported yet come from their nodes (_cluster.py)
            guests = guests_from_resources(Cluster(client).guests(), include_templates=True, include_stopped=True)
        except PveError as exc:
            raise AnsibleParserError('pvelab.proxmox.pve: {0}'.format(to_native(exc)))
        pools = None
        if any(g['pool'] for g in guests):
            try:
                pools = lab_pools(client.get('/pools'))
            except PveError as exc:
                self.display.vvv('pvelab.proxmox.pve: pools not readable ({0}); labs by tag'.format(to_native(exc)))
        assign_labs(guests, pools)
        if self.get_option('want_agent_ips'):
            wanted = [g for g in guests if self._included(g) and g['status'] == 'running' and not g['template']
                      and self._check_filters(g, host_vars(g, with_addresses=False), early=True) is not False]
            problems, errors = gather_ips(client, wanted, self.get_option('agent_parallel'))
            for vmid, problem in sorted(problems.items()):
                self.display.vvv('pvelab.proxmox.pve: vmid {0}: no address: {1}'.format(vmid, problem))
            if errors:
                self.display.warning('pvelab.proxmox.pve: the address of {0} guest(s) could not be read: {1}'.format(
                    len(errors), '; '.join('vmid {0}: {1}'.format(k, v) for k, v in sorted(errors.items())[:5])))
        self.requests_made = client.requests_made
        self.display.v('pvelab.proxmox.pve: {0} guests read with {1} API requests in {2:.1f} s'.format(
            len(guests), client.requests_made, time.monotonic() - started))
        return guests

    # ------------------------------------------------------------ populate

    def _group(self, name):
        return self.inventory.add_group(safe_group(self.get_option('group_prefix') + name))

    def _populate(self, guests):
        kept = []
        for guest in guests:
            if not self._included(guest):
                continue
            variables = host_vars(guest)
            if self._check_filters(guest, variables, early=False):
                kept.append((guest, variables))
        names = host_names([pair[0] for pair in kept])
        strict = self.get_option('strict')
        for guest, variables in kept:
            host = names[guest['vmid']]
            self.inventory.add_host(host)
            for key, value in variables.items():
                self.inventory.set_variable(host, key, wrap_var(value))
            groups = [guest['type'], 'node_' + guest['node'], 'status_' + guest['status']]
            groups += ['tag_' + tag for tag in guest['tags']]
            if guest['pool']:
                groups.append('pool_' + guest['pool'])
            if guest['lab']:
                groups.append('lab_' + guest['lab'])
            if guest['template']:
                groups.append('template')
            for group in groups:
                self.inventory.add_child(self._group(group), host)
            hostvars = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option('compose'), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, host, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        if self.get_option('agent_parallel') < 1:
            raise AnsibleParserError('pvelab.proxmox.pve: agent_parallel must be 1 or more')

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        guests = None
        if use_cache:
            try:
                cached = self._cache[cache_key]
                if isinstance(cached, dict) and cached.get('version') == CACHE_VERSION:
                    guests = cached['guests']
                else:
                    update_cache = True
            except KeyError:
                update_cache = True
        if guests is None:
            guests = self._read_guests()
        if update_cache:
            self._cache[cache_key] = {'version': CACHE_VERSION, 'guests': guests}
        try:
            self._populate(guests)
        except AnsibleError:
            raise
        except Exception as exc:  # pragma: no cover - a bug; say where it came from
            raise AnsibleParserError('pvelab.proxmox.pve: {0}'.format(to_native(exc)))
