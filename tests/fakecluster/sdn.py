"""SDN as pve-network keeps it: zones, VNets and subnets are pending until `PUT /cluster/sdn` applies them.

Stock fakepve answers every /cluster/sdn path from the schema alone: a POST stores nothing, a GET lists one
made-up entry, `PUT /cluster/sdn` is a task that changes nothing. Here, as pve-network's `src/PVE/API2/Network/SDN/`
(Zones.pm, Vnets.pm, Subnets.pm, SDN.pm) and `src/PVE/Network/SDN.pm` do it:

- Two copies: the configuration the API writes (`sdn/*.cfg`) and the running one (`sdn/.running-config`).
  `PUT /cluster/sdn` copies the first into the second at once (`commit_config`, inside the request), then starts
  a `reloadnetworkall` task on the node asked, which reloads each node's network (`pvesh set /nodes/<node>/network`:
  an `srvreload` task with id `networking` on that node).
- `GET ...?pending=1` is `pending_config`: each object with `state` new/changed/deleted and, under `pending`, the
  values that differ from the running ones (a value gone is `deleted`); applied values stay at the top.
  `running=1` lists the running copy.
- Zones (`simple`, `vlan`; other types are stored unchecked): a vlan zone needs `bridge`; a zone still named by a VNet
  is not deleted (`Zones/Plugin.pm` on_delete_hook). VNets: a VNet in a simple zone takes no tag, one in a vlan
  zone needs one, at most 4096, unique in its zone (`SimplePlugin.pm`, `VlanPlugin.pm` vnet_update_hook); a VNet
  with subnets is not deleted (`VnetPlugin.pm`), and nothing checks whether a guest NIC uses it. Subnets: the id is
  `<zone>-<cidr with - for />`; the gateway is optional and must lie in the subnet (`SubnetPlugin.pm`).
- Changes need SDN.Allocate on `/sdn/zones/<zone>` (zones, new VNets; the schema's rule) or on
  `/sdn/zones/<zone>/<vnet>` (VNet updates and deletes, subnets: their `check_vnet_access`); lists show what
  the user holds SDN.Audit or SDN.Allocate on.
- A guest NIC on a VNet (qemu-server `check_bridge_access`, pve-guest-common `check_vnet_access`): setting it needs
  SDN.Use on `/sdn/zones/<zone>/<vnet>` (`.../<tag>` with a tag), the zone read from the configuration written, not
  the running one; any other bridge is in zone `localnetwork`. The config write itself refuses no bridge name.
  Starting a guest is where an unapplied VNet fails (pve-network `Zones.pm` tap_plug, which pve-container's
  lxcnetaddbr calls too): a VNet missing from the running configuration is a plain bridge that does not exist,
  one in a zone restricted by `nodes` is refused on other nodes (a container's task says only that its
  startup failed). Bridges SDN does not know (vmbr0) are not modelled: they start as in fakepve.
"""

import asyncio
import copy
import ipaddress
import json

from fakepve import PveError, TaskError
from fakepve.lxc import split_props
from fakepve.routing import check_digest, die, param_error, sha1, split_list

KINDS = ('zones', 'vnets', 'subnets')
# Options each zone type takes (the plugins' `options`); other types keep whatever they are given.
ZONE_OPTIONS = {
    'simple': {'nodes', 'mtu', 'dns', 'reversedns', 'dnszone', 'ipam', 'dhcp'},
    'vlan': {'nodes', 'bridge', 'bridge-disable-mac-learning', 'mtu', 'dns', 'reversedns', 'dnszone', 'ipam'},
}
VNET_OPTIONS = {'zone', 'tag', 'alias', 'vlanaware', 'isolate-ports'}
SUBNET_OPTIONS = {'vnet', 'gateway', 'snat', 'dnszoneprefix', 'dhcp-range', 'dhcp-dns-server'}
NOT_OPTIONS = {'digest', 'delete', 'lock-token', 'type', 'zone', 'vnet', 'subnet'}
# The top-level keys pending_config copies from the written object instead of listing them under `pending`.
PLAIN_KEYS = ('type', 'vnet')


def locked_die(errmsg, message):
    """A `die` inside lock_sdn_config: pve-cluster's cfs_lock names the lock, the handler its own errmsg."""
    return die("{0}: error with cfs lock 'domain-sdn': {1}".format(errmsg, message))


def subnet_id(zone, cidr):
    """Subnets.pm create: `<zone>-<cidr with / replaced by ->`."""
    return '{0}-{1}'.format(zone, str(cidr).replace('/', '-', 1))


def pending_view(running, written):
    """PVE::Network::SDN::pending_config for one kind: {id: object with state and pending}."""
    out = {}
    for oid in sorted(running):
        old, new = running[oid], written.get(oid)
        entry = out.setdefault(oid, {})
        for key in sorted(old):
            entry[key] = old[key]
            if not new:
                entry['state'] = 'deleted'
            elif new.get(key) is None:
                entry.setdefault('pending', {})[key] = 'deleted'
                entry['state'] = 'changed'
            elif str(old[key]) != str(new[key]):
                entry['state'] = 'changed'
        if entry.get('state'):
            entry.setdefault('pending', {})
    for oid in sorted(written):
        old, new = running.get(oid) or {}, written[oid]
        entry = out.setdefault(oid, {})
        for key in sorted(new):
            if key in PLAIN_KEYS:
                entry[key] = new[key]
            elif old.get(key) is None or str(old[key]) != str(new[key]):
                entry.setdefault('pending', {})[key] = new[key]
            if not old:
                entry['state'] = 'new'
            elif old.get(key) is None:
                entry['state'] = 'changed'
        if entry.get('state'):
            entry.setdefault('pending', {})
    return out


def bool_param(value):
    return 1 if str(value).lower() in ('1', 'true', 'yes', 'on') else 0


class PveSdn(object):
    """Mixin of LabPve: the SDN configuration, its pending and running copies, and the guests' use of VNets."""

    def sdn_copies(self):
        """(written, running), made empty on first use (so LabPve needs no set-up call for them)."""
        if '_sdn_written' not in self.__dict__:
            self._sdn_written = dict((kind, {}) for kind in KINDS)
            self._sdn_running = dict((kind, {}) for kind in KINDS)
            self._sdn_running['version'] = 0
        return self._sdn_written, self._sdn_running

    @property
    def sdn(self):
        """The configuration the API writes: {'zones': {id: options}, 'vnets': ..., 'subnets': ...}."""
        return self.sdn_copies()[0]

    @property
    def sdn_running(self):
        """The running configuration (what the last `PUT /cluster/sdn` applied)."""
        return self.sdn_copies()[1]

    def sdn_digest(self, kind):
        return sha1(json.dumps(self.sdn[kind], sort_keys=True))

    def _routes_sdn(self):
        base = '/cluster/sdn'
        return [('PUT', base, self._sdn_apply),
                ('GET', base + '/zones', self._sdn_zones), ('POST', base + '/zones', self._sdn_zone_create),
                ('GET', base + '/zones/{zone}', self._sdn_zone_read), ('PUT', base + '/zones/{zone}', self._sdn_zone_update),
                ('DELETE', base + '/zones/{zone}', self._sdn_zone_delete),
                ('GET', base + '/vnets', self._sdn_vnets), ('POST', base + '/vnets', self._sdn_vnet_create),
                ('GET', base + '/vnets/{vnet}', self._sdn_vnet_read), ('PUT', base + '/vnets/{vnet}', self._sdn_vnet_update),
                ('DELETE', base + '/vnets/{vnet}', self._sdn_vnet_delete),
                ('GET', base + '/vnets/{vnet}/subnets', self._sdn_subnets),
                ('POST', base + '/vnets/{vnet}/subnets', self._sdn_subnet_create),
                ('GET', base + '/vnets/{vnet}/subnets/{subnet}', self._sdn_subnet_read),
                ('PUT', base + '/vnets/{vnet}/subnets/{subnet}', self._sdn_subnet_update),
                ('DELETE', base + '/vnets/{vnet}/subnets/{subnet}', self._sdn_subnet_delete)]

    # ------------------------------------------------------------------ views

    def _sdn_objects(self, kind, v):
        """{id: object} as GET shows it: the written copy, or with running=1 the running one, or pending=1 the diff."""
        if bool_param(v.get('pending', 0)):
            return pending_view(self.sdn_running[kind], self.sdn[kind])
        if bool_param(v.get('running', 0)):
            return copy.deepcopy(self.sdn_running[kind])
        return copy.deepcopy(self.sdn[kind])

    def _sdn_may_see(self, user, path):
        return any(self.allowed(user, path, priv) for priv in ('SDN.Audit', 'SDN.Allocate'))

    def _sdn_check_vnet(self, user, vnet, priv='SDN.Allocate'):
        """check_vnet_access of Vnets.pm/Subnets.pm: the VNet must exist in the written configuration."""
        found = self.sdn['vnets'].get(vnet)
        if found is None:
            raise die("sdn vnet '{0}' does not exist".format(vnet))
        self.require(user, '/sdn/zones/{0}/{1}'.format(found['zone'], vnet), priv)
        return found

    async def _sdn_zones(self, v, user):
        out = []
        for zid, obj in sorted(self._sdn_objects('zones', v).items()):
            if not self._sdn_may_see(user, '/sdn/zones/' + zid) or (v.get('type') and obj.get('type') != v['type']):
                continue
            out.append(dict(obj, zone=zid, digest=self.sdn_digest('zones')))
        return out

    async def _sdn_zone_read(self, v, user):
        obj = self._sdn_objects('zones', v).get(v['zone'])
        if obj is None:
            raise die("sdn zone '{0}' does not exist".format(v['zone']))
        return dict(obj, zone=v['zone'], digest=self.sdn_digest('zones'))

    async def _sdn_vnets(self, v, user):
        out = []
        for vid, obj in sorted(self._sdn_objects('vnets', v).items()):
            zone = obj.get('zone') or (obj.get('pending') or {}).get('zone')
            if self._sdn_may_see(user, '/sdn/zones/{0}/{1}'.format(zone, vid)):
                out.append(dict(obj, vnet=vid, digest=self.sdn_digest('vnets')))
        return out

    async def _sdn_vnet_read(self, v, user):
        obj = self._sdn_objects('vnets', v).get(v['vnet'])
        if obj is None:
            raise die("sdn vnet '{0}' does not exist".format(v['vnet']))
        zone = obj.get('zone') or (obj.get('pending') or {}).get('zone')
        if not self._sdn_may_see(user, '/sdn/zones/{0}/{1}'.format(zone, v['vnet'])):
            raise PveError(403, 'Permission check failed (/sdn/zones/{0}/{1}, SDN.Audit|SDN.Allocate)'.format(
                zone, v['vnet']))
        return dict(obj, vnet=v['vnet'], digest=self.sdn_digest('vnets'))

    @staticmethod
    def _subnet_fields(sid, obj):
        zone, network, mask = sid.split('-', 2)
        return dict(obj, subnet=sid, id=sid, zone=zone, network=network, mask=mask,
                    cidr='{0}/{1}'.format(network, mask))

    async def _sdn_subnets(self, v, user):
        vnet = self.sdn['vnets'].get(v['vnet']) or self.sdn_running['vnets'].get(v['vnet']) or {}
        if not self._sdn_may_see(user, '/sdn/zones/{0}/{1}'.format(vnet.get('zone'), v['vnet'])):
            return []
        out = []
        for sid, obj in sorted(self._sdn_objects('subnets', v).items()):
            owner = obj.get('vnet') or (obj.get('pending') or {}).get('vnet')
            if owner == v['vnet']:
                out.append(dict(self._subnet_fields(sid, obj), digest=self.sdn_digest('subnets')))
        return out

    async def _sdn_subnet_read(self, v, user):
        self._sdn_check_vnet(user, v['vnet'], 'SDN.Audit')
        obj = self._sdn_objects('subnets', v).get(v['subnet'])
        if obj is None:
            raise die("sdn subnet '{0}' does not exist".format(v['subnet']))
        return dict(self._subnet_fields(v['subnet'], obj), digest=self.sdn_digest('subnets'))

    # ------------------------------------------------------------------ zones

    @staticmethod
    def _options(v, allowed, create):
        """SectionConfig check_config: the type's options only."""
        opts = {}
        for key, value in v.items():
            if key in NOT_OPTIONS or key in ('node', 'pending', 'running') or value is None:
                continue
            if allowed is not None and key not in allowed:
                raise param_error(**{key: 'unexpected property'})
            opts[key] = value
        return opts

    def _zone_checked(self, zid, zone):
        if zone['type'] == 'vlan' and not zone.get('bridge'):
            raise param_error(bridge='property is missing and it is not optional')
        if zone.get('nodes'):
            zone['nodes'] = ','.join(sorted(set(split_list(zone['nodes']))))
        return zone

    async def _sdn_zone_create(self, v, user):
        zid = v['zone']
        zone = dict(self._options(v, ZONE_OPTIONS.get(v['type']), True), type=v['type'])
        self._zone_checked(zid, zone)
        if zid in self.sdn['zones']:
            raise locked_die('create sdn zone object failed', "sdn zone object ID '{0}' already defined".format(zid))
        self.sdn['zones'][zid] = zone

    async def _sdn_zone_update(self, v, user):
        zid = v['zone']
        old = self.sdn['zones'].get(zid)
        if old is None:
            raise locked_die('update sdn zone object failed', "sdn zone '{0}' does not exist".format(zid))
        check_digest(self.sdn_digest('zones'), v.get('digest'))
        zone = dict(old)
        for key in split_list(v.get('delete')):
            zone.pop(key, None)
        zone.update(self._options(v, ZONE_OPTIONS.get(old['type']), False))
        self.sdn['zones'][zid] = self._zone_checked(zid, zone)

    async def _sdn_zone_delete(self, v, user):
        zid = v['zone']
        if zid not in self.sdn['zones']:
            raise locked_die('delete sdn zone object failed', "sdn zone '{0}' does not exist".format(zid))
        for vid, vnet in sorted(self.sdn['vnets'].items()):
            if vnet.get('zone') == zid:
                raise locked_die('delete sdn zone object failed', 'zone {0} is used by vnet {1}'.format(zid, vid))
        del self.sdn['zones'][zid]

    # ------------------------------------------------------------------ vnets

    def _vnet_checked(self, errmsg, vid, vnet):
        """The zone plugin's vnet_update_hook."""
        zone = self.sdn['zones'].get(vnet.get('zone'))
        if zone is None:
            raise locked_die(errmsg, "unknown section type ''")
        tag = vnet.get('tag')
        if zone['type'] == 'simple' and tag is not None:
            raise locked_die(errmsg, 'tag: vlan tag is not allowed on simple zone')
        if zone['type'] == 'vlan':
            if tag is None:
                raise locked_die(errmsg, 'tag: missing vlan tag')
            if int(tag) > 4096:
                raise locked_die(errmsg, 'tag: vlan tag max value is 4096')
            for other, spec in sorted(self.sdn['vnets'].items()):
                if other != vid and spec.get('zone') == vnet['zone'] and str(spec.get('tag')) == str(tag):
                    raise locked_die(errmsg, 'tag: tag {0} already exist in vnet {1}'.format(tag, other))
        return vnet

    def _vnet_subnets(self, vid):
        return sorted(sid for sid, spec in self.sdn['subnets'].items() if spec.get('vnet') == vid)

    async def _sdn_vnet_create(self, v, user):
        vid = v['vnet']
        errmsg = 'create sdn vnet object failed'
        vnet = dict(self._options(v, VNET_OPTIONS, True), zone=v['zone'], type='vnet')
        if vid in self.sdn['vnets']:
            raise locked_die(errmsg, "sdn vnet object ID '{0}' already defined".format(vid))
        self.sdn['vnets'][vid] = self._vnet_checked(errmsg, vid, vnet)

    async def _sdn_vnet_update(self, v, user):
        vid = v['vnet']
        errmsg = 'update sdn vnet object failed'
        old = self._sdn_check_vnet(user, vid)
        check_digest(self.sdn_digest('vnets'), v.get('digest'))
        vnet = dict(old)
        for key in split_list(v.get('delete')):
            vnet.pop(key, None)
        vnet.update(self._options(v, VNET_OPTIONS, False))
        if v.get('zone'):
            vnet['zone'] = v['zone']
        if not vnet.get('zone'):
            raise locked_die(errmsg, 'zone: cannot delete zone')
        if self._vnet_subnets(vid) and vnet['zone'] != old['zone']:
            raise locked_die(errmsg, "zone: can't change zone if subnets exist")
        self.sdn['vnets'][vid] = self._vnet_checked(errmsg, vid, vnet)

    async def _sdn_vnet_delete(self, v, user):
        vid = v['vnet']
        self._sdn_check_vnet(user, vid)
        if self._vnet_subnets(vid):
            raise locked_die('delete sdn vnet object failed', "vnet: Can't delete vnet if subnets exists")
        del self.sdn['vnets'][vid]

    # ---------------------------------------------------------------- subnets

    @staticmethod
    def _gateway_checked(errmsg, sid, subnet):
        gateway = subnet.get('gateway')
        if gateway is None:
            return subnet
        network = ipaddress.ip_network(sid.split('-', 1)[1].replace('-', '/'), strict=False)
        address = ipaddress.ip_address(gateway)
        point_to_point = address.version == 4 and network.prefixlen == 32
        if address not in network and not point_to_point:
            raise locked_die(errmsg, 'gateway: {0} is not in subnet {1}'.format(gateway, network))
        return subnet

    async def _sdn_subnet_create(self, v, user):
        vnet = self._sdn_check_vnet(user, v['vnet'])
        errmsg = 'create sdn subnet object failed'
        cidr = str(v['subnet'])
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise param_error(subnet='value does not look like a valid CIDR network') from None
        sid = subnet_id(vnet['zone'], cidr)
        if sid in self.sdn['subnets']:
            raise locked_die(errmsg, "sdn subnet object ID '{0}' already defined".format(sid))
        subnet = dict(self._options(v, SUBNET_OPTIONS, True), vnet=v['vnet'], type='subnet')
        self.sdn['subnets'][sid] = self._gateway_checked(errmsg, sid, subnet)

    async def _sdn_subnet_update(self, v, user):
        self._sdn_check_vnet(user, v['vnet'])
        errmsg = 'update sdn subnet object failed'
        old = self.sdn['subnets'].get(v['subnet'])
        if old is None:
            raise locked_die(errmsg, "sdn subnet '{0}' does not exist".format(v['subnet']))
        check_digest(self.sdn_digest('subnets'), v.get('digest'))
        subnet = dict(old)
        for key in split_list(v.get('delete')):
            subnet.pop(key, None)
        subnet.update(self._options(v, SUBNET_OPTIONS, False))
        self.sdn['subnets'][v['subnet']] = self._gateway_checked(errmsg, v['subnet'], subnet)

    async def _sdn_subnet_delete(self, v, user):
        # Subnets.pm reads the subnet with noerr: deleting one that is not there succeeds
        self._sdn_check_vnet(user, v['vnet'])
        self.sdn['subnets'].pop(v['subnet'], None)

    # ------------------------------------------------------------------ apply

    async def _sdn_apply(self, v, user):
        running = copy.deepcopy(self.sdn)
        running['version'] = self.sdn_running['version'] + 1
        self.sdn_copies()
        self._sdn_running = running
        here = sorted(self.nodes)[0]

        async def reload_all():
            for node in sorted(self.nodes):
                if not self.nodes[node].get('online', True):
                    continue  # the node's pvesh fails; reloadnetworkall only warns

                async def reload_one():
                    await self.pause(1)
                upid = await self.task(node, 'srvreload', 'networking', user, reload_one, lock=False)
                while self.tasks[upid]['status'] != 'stopped':
                    await asyncio.sleep(0.005)
        return await self.task(here, 'reloadnetworkall', '', user, reload_all, lock=False)

    # ---------------------------------------------------------- guests' NICs

    def vnet_zone(self, bridge):
        """The zone check_vnet_access finds for a bridge: its VNet's in the written configuration, else localnetwork."""
        vnet = self.sdn['vnets'].get(bridge)
        return vnet['zone'] if vnet else 'localnetwork'

    def _check_nic_access(self, user, value):
        props = split_props(value)[1]
        bridge = props.get('bridge')
        if bridge is None or user.split('!')[0] == 'root@pam':
            return
        path = '/sdn/zones/{0}/{1}'.format(self.vnet_zone(bridge), bridge)
        trunks = [t for t in str(props.get('trunks') or '').split(';') if t]
        if props.get('tag'):
            self.require(user, '{0}/{1}'.format(path, props['tag']), 'SDN.Use')
        for tag in trunks:
            self.require(user, '{0}/{1}'.format(path, tag), 'SDN.Use')
        if not props.get('tag') and not trunks:
            self.require(user, path, 'SDN.Use')

    def _check_nics(self, user, values):
        for key in sorted(values):
            if key.startswith('net') and key[3:].isdigit() and values[key] is not None:
                self._check_nic_access(user, values[key])

    async def _apply_config(self, vm, user, p):
        # qemu-server checks the config privileges (VM.Config.Network, ...) first, then the bridges: a user
        # lacking one of those gets fakepve's refusal of it
        privs = set(self._config_priv(key) for key in p if key not in ('digest', 'delete', 'skiplock'))
        if all(priv != 'root' and self.allowed(user, '/vms/{0}'.format(vm.vmid), priv) for priv in privs):
            self._check_nics(user, p)
        return await super()._apply_config(vm, user, p)

    async def _qm_create(self, v, user):
        self._check_nics(user, v)
        return await super()._qm_create(v, user)

    def _check_bridge(self, user, net):
        # pve-container checks the same SDN.Use as qemu-server (fakepve's always names zone localnetwork)
        self._check_nic_access(user, net)

    def vnet_start_problem(self, node, config):
        """Why a guest with this config cannot plug its NICs on node (pve-network Zones.pm tap_plug), or None."""
        for key in sorted(config):
            if not (key.startswith('net') and key[3:].isdigit()):
                continue
            bridge = split_props(config[key])[1].get('bridge')
            vnet = self.sdn_running['vnets'].get(bridge)
            if vnet is not None:
                zone = self.sdn_running['zones'].get(vnet.get('zone')) or {}
                if zone.get('nodes') and node not in split_list(zone['nodes']):
                    return 'vnet {0} is not allowed on this node'.format(bridge)
            elif bridge in self.sdn['vnets']:
                return "bridge '{0}' does not exist".format(bridge)
        return None

    async def _do_start(self, vm, user, p):
        config = dict(vm.config, **dict((k, val) for k, val in vm.pending.items() if val is not None))
        problem = self.vnet_start_problem(vm.node, config)
        if problem is None or vm.ha_managed:
            return await super()._do_start(vm, user, p)

        async def body():
            # qemu-server's vm_start: these checks come before the NICs are plugged
            if vm.template:
                raise TaskError("you can't start a vm if it's a template")
            if vm.lock and vm.lock != 'suspended':
                raise TaskError('VM is locked ({0})'.format(vm.lock))
            if vm.status == 'running':
                raise TaskError('VM {0} already running'.format(vm.vmid))
            raise TaskError(problem)
        return await self.task(vm.node, 'qmstart', vm.vmid, user, body, vm=vm)

    async def _start_steps(self, ct, user, skiplock=False):
        config = dict(ct.config, **dict((k, val) for k, val in ct.pending.items() if val is not None))
        if ct.template or self.vnet_start_problem(ct.node, config) is None:
            return await super()._start_steps(ct, user, skiplock)
        if not skiplock:
            self._task_lock(ct, allow=('mounted',))
        # pve-container's lxcnetaddbr plugs the NICs through the same tap_plug; lxc-start fails, and the task
        # says only that (the reason is in the container's own log)
        raise TaskError("startup for container '{0}' failed".format(ct.vmid))
