"""pve-firewall on the fake's nodes: what it compiled, when, and what that lets through (fwsim.py evaluates).

PVE's pve-firewall daemon (its pve_firewall.pm) compiles every 10 s, reading what the configuration says then:
cluster.fw, the node's host.fw, and the config and <vmid>.fw of every guest on the node, running or not. A
change is written at once but filters nothing before the next run; a guest started in between runs with what
the last run compiled for it (nothing, if the guest did not exist then or had firewall=0 on a NIC).

Here every node compiles on one fixed grid of `firewall_secs` PVE seconds (time_scale real seconds each) from
the start of the fake, the way statd.py models pvestatd. The fake changes its state only in requests and in
tasks, so it notes a due compile before each request, each task step and each pause of a task: the snapshot
then holds the state as it was at the grid point. `fw_compile()` (POST /_fake/firewall/compile) compiles now.
With time_scale 0 every evaluation compiles afresh.

Every guest start (whatever started it: a start, reboot, create or rollback task, HA, a container) is
recorded with whether the snapshot in effect at that moment filtered the guest: datacenter firewall on, the
guest in its node's snapshot with its firewall enabled, and firewall=1 on every netN it started with (in the
snapshot and in its config). A start that was not filtered is what "no student VM ever ran unfiltered" must
never see.

Addresses: each node has one (`ip` in its description, else host 10 + its position among the sorted node names
in `localnet`, as fakepve's /cluster/status numbers them); /cluster/status shows it. `localnet` is the
nodes' network, which pve-firewall takes for the management IP set unless the cluster alias local_network says
otherwise. A guest's address is what its agent would report (guestagent.py).
"""

import ipaddress
import json
import math
import time

from aiohttp import web
from fakepve.server import ok

from . import fwsim

FIREWALL_SECS = 10.0
LOCALNET = '192.0.2.0/24'
ENDPOINT_KEYS = {'vmid', 'net', 'node', 'bridge', 'ip', 'port', 'mac'}
PACKET_KEYS = ('proto', 'dport', 'sport', 'icmp_type', 'source_ip', 'source_mac', 'dest_ip', 'arp_ip', 'reply',
               'ipversion')


def _copy_conf(conf):
    """A firewall config as plain data, copied so later API writes do not reach a compiled snapshot."""
    conf = conf or {}
    return {'options': dict(conf.get('options') or {}), 'rules': [dict(r) for r in conf.get('rules') or []],
            'aliases': dict((k, dict(v)) for k, v in (conf.get('aliases') or {}).items()),
            'ipset': dict((k, [dict(e) for e in v]) for k, v in (conf.get('ipset') or {}).items()),
            'groups': dict((k, [dict(r) for r in v]) for k, v in (conf.get('groups') or {}).items())}


class Snapshot(object):
    """One compile: when its state was read (wall time) and what it compiled to."""

    __slots__ = ('at', 'compiled')

    def __init__(self, at, compiled):
        self.at, self.compiled = at, compiled


class PveFirewall(object):
    """Mixin of LabPve: node addresses, the firewall compile cycle, start records, fw_simulate()."""

    def _init_firewall(self):
        self.firewall_secs = FIREWALL_SECS
        self._localnet = LOCALNET
        self._fw_t0 = time.time()
        self._fw_epoch = None
        self._fw_current = None
        self._fw_previous = None
        self._fw_seen = None
        self._fw_starts = []

    # ------------------------------------------------------------ addresses

    @property
    def localnet(self):
        return self._localnet

    @localnet.setter
    def localnet(self, value):
        self._localnet = str(ipaddress.ip_network(str(value), strict=False))

    def node_address(self, name):
        """A node's address: its `ip`, else host 10 + (its position among the sorted names) of localnet."""
        spec = self.nodes.get(name) or {}
        if spec.get('ip'):
            return str(spec['ip'])
        names = sorted(self.nodes)
        position = names.index(name) + 1 if name in names else len(names) + 1
        return str(ipaddress.ip_network(self.localnet).network_address + 10 + position)

    def set_node_address(self, name, ip):
        self._node_spec(name)['ip'] = str(ipaddress.ip_address(str(ip)))

    async def _cluster_status(self, request):
        response = await super()._cluster_status(request)
        data = json.loads(response.text)['data']
        for item in data:
            if item.get('type') == 'node':
                item['ip'] = self.node_address(item['name'])
        return ok(data)

    # -------------------------------------------------------------- compile

    def fw_state(self, now=None):
        """What a pve-firewall run reads now, for every node, as fwsim's plain state."""
        fw = self._fw()
        nodes = {}

        def node_entry(name):
            if name not in nodes:
                host = fw['nodes'].get(name) or {}
                nodes[name] = {'addresses': [self.node_address(name)], 'options': dict(host.get('options') or {}),
                               'rules': [dict(r) for r in host.get('rules') or []], 'guests': {}}
            return nodes[name]
        for name in self.nodes:
            node_entry(name)
        for kind, guests in (('qemu', self.vms), ('lxc', self.cts)):
            for guest in guests:
                config = self.visible_config(guest) if kind == 'qemu' else guest.config
                raw = fw['guests'].get(guest.vmid)
                node_entry(guest.node)['guests'][guest.vmid] = {
                    'type': kind, 'config': dict((k, v) for k, v in config.items() if fwsim.NET_KEY.match(k)),
                    'firewall': _copy_conf(raw) if raw is not None else None}
        return {'time': time.time() if now is None else now, 'localnet': self.localnet,
                'corosync': {'transport': 'knet'} if len(self.nodes) > 1 else None,
                'cluster': _copy_conf(fw['cluster']), 'nodes': nodes}

    def _fw_interval(self):
        return self.firewall_secs * self.time_scale

    def _fw_capture(self, at, epoch):
        self._fw_previous = self._fw_current
        self._fw_current = Snapshot(at, fwsim.compile(self.fw_state(now=at)))
        self._fw_epoch = epoch
        return self._fw_current

    def _fw_epoch_now(self):
        interval = self._fw_interval()
        if interval <= 0:
            return None
        return math.floor((time.time() - self._fw_t0) / interval)

    def fw_compile(self):
        """pve-firewall runs now on every node; the grid goes on (the next run is at the next grid point)."""
        return self._fw_capture(time.time(), self._fw_epoch_now())

    def _fw_tick(self):
        """Before anything can change the state: the compile that fell due since, then the starts since."""
        epoch = self._fw_epoch_now()
        if epoch is not None and epoch != self._fw_epoch:
            self._fw_capture(self._fw_t0 + epoch * self._fw_interval(), epoch)
        self._fw_scan_starts()

    def _fw_view(self):
        """The snapshot a packet meets now (a fresh one with time_scale 0)."""
        self._fw_tick()
        if self._fw_epoch_now() is None or self._fw_current is None:
            return self.fw_compile()
        return self._fw_current

    def pve_seconds(self, wall):
        """PVE seconds since the fake started, for a wall-clock time (0 with time_scale 0)."""
        return round((wall - self._fw_t0) / self.time_scale, 3) if self.time_scale else 0.0

    # ---------------------------------------------------------------- hooks

    @web.middleware
    async def _middleware(self, request, handler):
        self._fw_tick()
        return await super()._middleware(request, handler)

    async def pause(self, secs):
        await super().pause(secs)
        if secs and self.time_scale:
            self._fw_tick()

    async def task(self, node, ttype, tid, user, body, vm=None, lock=True, log=()):
        inner = body

        async def body():
            self._fw_tick()
            try:
                return await inner()
            finally:
                if ttype == 'qmreset':
                    self._fw_forget_restart(tid)  # a reset keeps the QEMU process and its tap devices
                self._fw_tick()
        return await super().task(node, ttype, tid, user, body, vm=vm, lock=lock, log=log)

    # --------------------------------------------------------------- starts

    def _fw_forget_restart(self, vmid):
        guest = self.guest(int(vmid))
        if guest is not None and self._fw_seen is not None:
            self._fw_seen[guest.vmid] = guest.started_at

    def _fw_scan_starts(self):
        """Record every guest whose start time changed since the last look (the first look records nothing:
        those guests were running before the fake served anything)."""
        first = self._fw_seen is None
        if first:
            self._fw_seen = {}
        for kind, guests in (('qemu', self.vms), ('lxc', self.cts)):
            for guest in guests:
                started = guest.started_at if guest.status == 'running' else None
                if not first and started is not None and self._fw_seen.get(guest.vmid) != started:
                    self._fw_starts.append(self._fw_start_record(guest, kind, started))
                self._fw_seen[guest.vmid] = started

    def _fw_snapshot_at(self, wall):
        if self._fw_epoch_now() is None or self._fw_current is None:
            return self.fw_compile()
        if self._fw_current.at <= wall or self._fw_previous is None:
            return self._fw_current
        return self._fw_previous

    def _fw_start_record(self, guest, kind, started):
        snap = self._fw_snapshot_at(started)
        compiled = snap.compiled
        config = self.visible_config(guest) if kind == 'qemu' else guest.config
        nets = fwsim.net_keys(config)
        why = []
        if not compiled.enabled:
            why.append('the datacenter firewall was off')
        entry = compiled.nodes.get(guest.node, {}).get('guests', {}).get(guest.vmid)
        if entry is None:
            why.append('not compiled on {0} yet: it was not there at the last compile'.format(guest.node))
        else:
            fw = entry['firewall']
            if fw is None or not fwsim.flag(fw['options'].get('enable')):
                why.append('its firewall was off (option enable) at the last compile')
            for net in nets:
                if net not in entry['config']:
                    why.append('{0} was not in its config at the last compile'.format(net))
                elif not fwsim.nic_of(entry['config'], net)['firewall']:
                    why.append('{0} had no firewall=1 at the last compile'.format(net))
        for net in nets:
            if not fwsim.nic_of(config, net)['firewall'] and not any(w.startswith(net + ' ') for w in why):
                why.append('{0} has no firewall=1'.format(net))
        return {'vmid': guest.vmid, 'type': kind, 'node': guest.node, 'at': self.pve_seconds(started),
                'compiled_at': self.pve_seconds(snap.at), 'filtered': not why, 'why': why, 'nets': nets}

    def fw_starts(self, vmid=None):
        """The start records, oldest first (see the module docstring)."""
        self._fw_tick()
        return [dict(r) for r in self._fw_starts if vmid is None or r['vmid'] == int(vmid)]

    def fw_clear_starts(self):
        del self._fw_starts[:]

    # ------------------------------------------------------------- simulate

    def fw_endpoint(self, spec):
        """A packet's end: {'vmid', 'net'} a guest NIC, {'node'} a node, {'ip'} a host outside the cluster."""
        if not isinstance(spec, dict):
            raise ValueError('an endpoint is {vmid, net} | {node} | {ip}, not ' + repr(spec))
        unknown = set(spec) - ENDPOINT_KEYS
        if unknown:
            raise ValueError('unknown endpoint keys: {0}'.format(', '.join(sorted(unknown))))
        if spec.get('vmid') is not None:
            vmid = int(spec['vmid'])
            guest = self.guest(vmid)
            if guest is None:
                raise ValueError('no guest {0}'.format(vmid))
            kind = 'lxc' if self.ct(vmid) is not None else 'qemu'
            config = self.visible_config(guest) if kind == 'qemu' else guest.config
            return fwsim.guest_endpoint(vmid, config, kind, node=guest.node, net=spec.get('net', 0),
                                        pool=self.dhcp_pool)
        if spec.get('node') is not None:
            if spec['node'] not in self.nodes:
                raise ValueError('no node {0}'.format(spec['node']))
            return fwsim.node_endpoint(spec['node'], self.node_address(spec['node']), spec.get('bridge', 'vmbr0'))
        if spec.get('ip'):
            return fwsim.outside_endpoint(spec['ip'], spec.get('bridge', 'vmbr0'), spec.get('port', 'eth0'),
                                          mac=spec.get('mac'))
        raise ValueError('an endpoint needs vmid, node or ip: ' + repr(spec))

    def fw_simulate(self, src, dst=None, **packet):
        """Would this packet pass the firewall as last compiled? src/dst as fw_endpoint takes them; packet
        fields as fwsim.simulate's (proto, dport, sport, icmp_type, source_ip, source_mac, dest_ip, arp_ip,
        reply, ipversion). -> {verdict, reason, trace, packet, compiled_at} (+ connection for a reply)."""
        unknown = set(packet) - set(PACKET_KEYS)
        if unknown:
            raise ValueError('unknown packet fields: {0}'.format(', '.join(sorted(unknown))))
        snap = self._fw_view()
        result = fwsim.simulate(snap.compiled, self.fw_endpoint(src),
                                self.fw_endpoint(dst) if dst is not None else None, **packet)
        result['compiled_at'] = self.pve_seconds(snap.at)
        return result
