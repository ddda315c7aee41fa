"""Build a LabPve from a JSON description of a cluster.

    {
      "nodes": [{"name": "pve1", "maxmem_gib": 64, "base_mem_gib": 2, "maxcpu": 16, "online": true,
                 "ip": "192.0.2.11"}],
      "storages": {"shared-nfs": {"type": "nfs", "shared": 1, "content": "images"}},
      "pools": [{"poolid": "web", "comment": "..."}],
      "vms": [{"vmid": 9000, "name": "tmpl-debian", "node": "pve1", "template": true, "config": {...}},
              {"vmid": 100, "name": "teacher", "status": "running", "pool": "web", "start_secs": 5, ...}],
      "groups": [{"groupid": "ops", "comment": "..."}],
      "roles": [{"roleid": "OpsAuditor", "privs": "VM.Audit,Sys.Audit"}],
      "realms": [{"realm": "school", "type": "ldap", "server1": "ldap.example.org", "base_dn": "ou=people,dc=example,dc=org",
                  "user_attr": "uid", "comment": "..."}],
      "users": [{"userid": "other@pve", "password": "...", "groups": ["ops"], "enable": 1,
                 "tokens": [{"tokenid": "ci", "privsep": 1, "secret": "..."}]}],
      "acl": [{"path": "/vms/101", "type": "user", "ugid": "other@pve", "roleid": "PVEVMUser", "propagate": 1}],
      "firewall": {"options": {...}, "rules": [...], "groups": {"name": {"comment": "", "rules": [...]}},
                   "ipset": {"name": {"comment": "", "cidrs": ["198.51.100.10"]}}, "aliases": [{"name", "cidr"}]},
      "time_scale": 0, "clone_secs": 0, "default_start_secs": 0, "default_shutdown_secs": 0,
      "default_stop_secs": 0, "default_agent_delay_secs": 0, "dhcp_pool": "10.10.0.0/16", "cluster_name": "lab",
      "pve_version": "9.1", "localnet": "192.0.2.0/24", "firewall_secs": 10
    }

A node without `ip` gets host 10 + its position among the sorted node names in `localnet` (192.0.2.11, .12, ...
with the default network, as fakepve's /cluster/status numbers them); `localnet` is the nodes' network, the
management IP set's implicit entry (pvefw.py).

Every disk a VM config names is registered as a volume on its storage (which must exist: `local` and
`local-lvm` always do), so full and linked clones of templates work. A clone to another node needs every
disk of the source on a storage with "shared": 1, as in PVE.
"""

import copy
import json
import os

from fakepve import PveError
from fakepve.qemu import drives_of, volume_ref
from fakepve.storage import TYPES

from .cluster import GiB, LabPve

CLUSTERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'clusters')
# Settings a description (or build()'s keyword arguments) may give, and the LabPve attribute types.
SETTINGS = {'time_scale': float, 'clone_secs': float, 'default_start_secs': float, 'default_shutdown_secs': float,
            'default_stop_secs': float, 'default_agent_delay_secs': float, 'dhcp_pool': str, 'cluster_name': str,
            'ticket_ttl': float, 'lock_wait': float, 'statd_secs': float, 'pve_version': str, 'localnet': str,
            'firewall_secs': float}
NETWORK = ('latency', 'jitter', 'drop_rate', 'hang_rate', 'hang_secs', 'seed')
SECTIONS = ('nodes', 'storages', 'pools', 'vms', 'groups', 'roles', 'realms', 'users', 'acl', 'firewall', 'comment')
VM_KEYS = ('vmid', 'name', 'node', 'status', 'qmpstatus', 'template', 'config', 'pool', 'lock', 'start_secs',
           'shutdown_secs', 'stop_secs', 'acpi', 'start_error', 'agent_hangs', 'agent_delay_secs', 'agent',
           'ha_state', 'stats', 'exec', 'exec_hangs')
# What one entry of a VM's `exec` list may hold (guestexec.py set_exec).
EXEC_KEYS = ('command', 'input', 'rc', 'stdout', 'stderr', 'secs', 'signal')
# Options a storage of these types must have in storage.cfg; filled in when a description leaves them out.
STORAGE_DEFAULTS = {'nfs': {'server': '192.0.2.5', 'export': '/export/{sid}', 'path': '/mnt/pve/{sid}'},
                    'dir': {'path': '/mnt/{sid}'}, 'lvmthin': {'vgname': 'pve', 'thinpool': '{sid}'},
                    'lvm': {'vgname': '{sid}'}, 'zfspool': {'pool': 'rpool/{sid}'}, 'rbd': {'pool': '{sid}'}}


def load(description):
    """A description as a dict: a dict (copied), a file path, or the name of a file in clusters/."""
    if isinstance(description, dict):
        return copy.deepcopy(description)
    path = os.fspath(description)
    if not os.path.exists(path) and os.path.exists(os.path.join(CLUSTERS, path)):
        path = os.path.join(CLUSTERS, path)
    with open(path, encoding='utf-8') as fh:
        return json.load(fh)


def build(description='small.json', *, host='127.0.0.1', port=0, user='root@pam', password='secret', **settings):
    """A LabPve (not started) holding the described cluster; keyword settings override the description's."""
    desc = load(description)
    unknown = set(desc) - set(SECTIONS) - set(SETTINGS)
    bad = set(settings) - set(SETTINGS) - set(NETWORK)
    if unknown or bad:
        raise ValueError('unknown description keys: {0}'.format(', '.join(sorted(unknown | bad))))
    pve = LabPve(user=user, password=password, host=host, port=port)
    release = settings.get('pve_version', desc.get('pve_version'))
    if release is not None:
        pve.pve_version = str(release)  # first: it decides which privileges and ACL paths the rest may use
    if desc.get('nodes'):
        pve.nodes.clear()
        for node in desc['nodes']:
            _add_node(pve, node)
    for sid, options in desc.get('storages', {}).items():
        _add_storage(pve, sid, options)
    for pool in desc.get('pools', []):
        pve.pools[pool['poolid']] = set()
        pve.pool_info[pool['poolid']] = {'comment': pool.get('comment'), 'storage': set(pool.get('storage', ()))}
    for vm in desc.get('vms', []):
        _add_vm(pve, vm)
    for group in desc.get('groups', []):
        pve.add_group(group['groupid'], group.get('comment'))
    for role in desc.get('roles', []):
        pve.add_role(role['roleid'], role.get('privs', ()))
    for entry in desc.get('realms', []):
        entry = dict(entry)
        pve.add_realm(entry.pop('realm'), entry.pop('type'), **entry)
    for entry in desc.get('users', []):
        entry = dict(entry)
        pve.add_user(entry.pop('userid'), **entry)
    for entry in desc.get('acl', []):
        pve.set_acl(entry['path'], entry.get('type', 'user'), entry['ugid'], entry['roleid'],
                    entry.get('propagate', 1))
    _add_firewall(pve, desc.get('firewall', {}))
    for key, kind in SETTINGS.items():
        value = settings.get(key, desc.get(key))
        if value is not None:
            setattr(pve, key, kind(value))
    network = dict((k, settings[k]) for k in NETWORK if settings.get(k) is not None)
    if network:
        pve.network.update(network)
    return pve


def _add_node(pve, node):
    unknown = set(node) - {'name', 'online', 'maxmem_gib', 'base_mem_gib', 'maxcpu', 'maxdisk_gib', 'ip'}
    if unknown:
        raise ValueError('node {0}: unknown keys {1}'.format(node.get('name'), sorted(unknown)))
    gib = dict((key, int(node[key + '_gib'] * GiB)) for key in ('maxmem', 'base_mem', 'maxdisk')
               if key + '_gib' in node)
    pve.add_node(node['name'], online=node.get('online', True), maxcpu=node.get('maxcpu'), ip=node.get('ip'), **gib)


def _add_storage(pve, sid, options):
    options = dict(options)
    kind = options.setdefault('type', 'dir')
    if kind not in TYPES:
        raise ValueError('storage {0}: unknown type {1!r}'.format(sid, kind))
    for key, value in STORAGE_DEFAULTS.get(kind, {}).items():
        options.setdefault(key, value.format(sid=sid))
    options.setdefault('content', TYPES[kind]['default'])
    pve.storages[sid] = dict({'active': 1, 'files': set(), 'volumes': {}}, **options)


def _add_vm(pve, spec):
    unknown = set(spec) - set(VM_KEYS)
    if unknown:
        raise ValueError('VM {0}: unknown keys {1}'.format(spec.get('vmid'), sorted(unknown)))
    vmid = int(spec['vmid'])
    if pve.guest(vmid) is not None:
        raise ValueError('VM {0} is described twice'.format(vmid))
    config = dict(spec.get('config', {}))
    if spec.get('template'):
        config['template'] = 1
    vm = pve.add_vm(vmid, spec.get('name') or 'VM {0}'.format(vmid), node=spec.get('node', 'pve1'),
                    status=spec.get('status', 'stopped'), qmpstatus=spec.get('qmpstatus'), config=config,
                    template=bool(spec.get('template')))
    pve._node_spec(vm.node)
    if spec.get('pool'):
        pve._pool_join(spec['pool'], vmid)
    if spec.get('lock'):
        pve.snapshot_lock(vmid, spec['lock'])
    for key in ('start_secs', 'shutdown_secs', 'stop_secs', 'acpi', 'start_error', 'agent_hangs', 'agent_delay_secs',
                'agent', 'ha_state', 'stats', 'exec_hangs'):
        if key in spec:
            setattr(vm, key, spec[key])
    for entry in spec.get('exec', []):
        bad = set(entry) - set(EXEC_KEYS)
        if bad or not entry.get('command'):
            raise ValueError('VM {0} exec: a command and only {1} ({2})'.format(vmid, ', '.join(EXEC_KEYS), entry))
        pve.set_exec(vmid, **entry)
    _register_disks(pve, vm)


def _register_disks(pve, vm):
    """Make every disk the config names a volume of its storage, with the size the config says."""
    for key, volume, props in drives_of(vm.config, skip_cdrom=True):
        sid, name = volume_ref(volume)
        if sid is None or volume.endswith(':cloudinit'):
            continue
        store = pve.storages.get(sid)
        if store is None:
            raise ValueError("VM {0} {1}: storage '{2}' does not exist".format(vm.vmid, key, sid))
        fmt = name.rsplit('.', 1)[-1] if name.endswith(('.qcow2', '.raw', '.vmdk')) else 'raw'
        size = pve.parse_size(props.get('size', '0'))
        store.setdefault('volumes', {})[name] = {'content': 'images', 'format': fmt, 'size': size, 'vmid': vm.vmid,
                                                 'ctime': 0}


def _add_firewall(pve, spec):
    """Cluster firewall options, rules, security groups, IP sets and aliases (rules checked as the API would)."""
    conf = pve.firewall_config('cluster')
    conf['options'].update(spec.get('options', {}))
    for name, alias in ((a['name'], a) for a in spec.get('aliases', [])):
        entry = {'name': name, 'cidr': alias['cidr'], 'ipversion': 6 if ':' in alias['cidr'] else 4}
        if alias.get('comment'):
            entry['comment'] = alias['comment']
        conf['aliases'][name.lower()] = entry
    for name, ipset in spec.get('ipset', {}).items():
        conf['ipset'][name] = [dict(c) if isinstance(c, dict) else {'cidr': c} for c in ipset.get('cidrs', [])]
        if ipset.get('comment'):
            conf['ipset_comments'][name] = ipset['comment']
    for name, group in spec.get('groups', {}).items():
        conf['groups'][name] = [_checked_rule(pve, 'group', rule, conf) for rule in group.get('rules', [])]
        if group.get('comment'):
            conf['group_comments'][name] = group['comment']
    conf['rules'][:] = [_checked_rule(pve, 'cluster', rule, conf) for rule in spec.get('rules', [])]


def _checked_rule(pve, scope, rule, conf):
    rule = dict(rule)
    try:
        pve._check_rule(scope, rule, conf)
    except PveError as e:
        raise ValueError('firewall rule {0}: {1} {2}'.format(rule, e.message, e.errors or '')) from None
    return rule
