"""The control channel: JSON routes under {url}/_fake/ for tests that drive the fake from another process.

They sit outside /api2, need no login, never reach the request log and are not slowed or dropped by the
network faults. The fake listens on loopback only, and the routes also refuse any other peer.

    GET  /_fake/state[?all_roles=1]  what really got written: users, groups, roles, acl, tokens, pools, vms,
                                     nodes (mem/maxmem), firewall (cluster options, rules, groups, ipsets),
                                     sdn (written and running zones, vnets, subnets: sdn.py), tasks
    GET  /_fake/requests[?method=&contains=]   the request log: {"count", "requests": [[method, path, body]]}
    POST /_fake/requests/clear
    POST /_fake/fail           {method, path, status, message | error, times, html}   (pve.fail)
    POST /_fake/clear-faults   forget every fail rule
    GET  /_fake/errors?method=&path=   PVE's own errors for a request, by name (for /fail's `error`)
    POST /_fake/set            {time_scale, clone_secs, ticket_ttl, lock_wait, default_start_secs, ...,
                                pve_version ('9.1' or '8.4', versions.py)}
    POST /_fake/vm             {vmid, lock, start_secs, shutdown_secs, stop_secs, acpi, start_error,
                                agent_hangs, exec_hangs, agent_delay_secs, agent, ha_state, stats}
    POST /_fake/exec           {vmid (null: every VM), command: [argv], input, rc, stdout, stderr, secs, signal}
                               what a command run through the agent does (guestexec.py); {vmid, clear: true}
    POST /_fake/hold-lock      {vmid, secs}  (secs null: until {vmid, release: true})
    POST /_fake/backup         {vmid, secs}   a vzdump holding lock 'backup'
    POST /_fake/migrate        {vmid, target, secs}
    POST /_fake/node           {node, online, latency, ip}
    POST /_fake/quorum         {quorate}
    POST /_fake/revoke-tickets
    POST /_fake/network        {latency, jitter, drop_rate, hang_rate, hang_secs, seed}
    POST /_fake/ceph           {down, slow, health}
    POST /_fake/statd          pvestatd broadcasts now: /cluster/resources shows every guest as it is
    POST /_fake/firewall/simulate   {src, dst, proto, dport, sport, icmp_type, source_ip, source_mac, dest_ip,
                               arp_ip, reply, ipversion}: would the firewall as last compiled pass this packet?
                               src/dst: {vmid, net} a guest NIC (its MAC, its agent's address), {node} a node,
                               {ip[, bridge]} a host outside; proto tcp (default), udp, icmp, icmpv6, a number,
                               or arp (arp_ip: the IP claimed; dst may be left out). -> {verdict: ACCEPT|DROP|
                               REJECT, reason, trace: [lines], packet, compiled_at (PVE s), connection (reply)}
    POST /_fake/firewall/compile    pve-firewall compiles now -> {compiled_at, enabled, errors: [rules skipped]}
    GET  /_fake/firewall/starts[?vmid=]   every guest start since the fake served: {starts: [{vmid, type, node,
                               at, compiled_at, filtered, why: [why not filtered], nets}]}
    POST /_fake/firewall/starts/clear
"""

import ipaddress
import json

from aiohttp import web
from fakepve import PveError

CONTROL = '/_fake'
# Settings /_fake/set may change, with the type each takes.
SETTINGS = {'time_scale': float, 'clone_secs': float, 'default_start_secs': float, 'default_shutdown_secs': float,
            'default_stop_secs': float, 'default_agent_delay_secs': float, 'ticket_ttl': float, 'lock_wait': float,
            'vnc_ticket_ttl': float, 'shutdown_default_timeout': float, 'ha_delay': float, 'body_timeout': float,
            'max_requests': int, 'tfa': bool, 'refuse_terminal': bool, 'monitor_allowed': bool, 'dhcp_pool': str,
            'statd_secs': float, 'pve_version': str, 'firewall_secs': float, 'localnet': str}
# Per-VM knobs /_fake/vm may change (besides lock), with their types.
VM_KNOBS = {'start_secs': float, 'shutdown_secs': float, 'stop_secs': float, 'agent_delay_secs': float,
            'acpi': bool, 'agent_hangs': bool, 'exec_hangs': bool, 'start_error': str, 'ha_state': str, 'agent': dict, 'stats': dict}


def _typed(kinds, body, ignore=()):
    """The body's values converted to their kinds; ValueError for a name that is not known."""
    unknown = set(body) - set(kinds) - set(ignore)
    if unknown:
        raise ValueError('unknown settings: {0}'.format(', '.join(sorted(unknown))))
    return dict((k, v if v is None else kinds[k](v)) for k, v in body.items() if k in kinds)


class ControlChannel(object):
    """Mixin of LabPve: the /_fake routes."""

    def _build_app(self):
        app = super()._build_app()
        for method, path, handler in self._control_routes():
            app.router.add_route(method, CONTROL + path, self._control(handler))
        return app

    @web.middleware
    async def _middleware(self, request, handler):
        # Control calls skip fakepve's middleware: no login, no request log, no injected network trouble.
        if request.path.startswith(CONTROL + '/'):
            return await handler(request)
        return await super()._middleware(request, handler)

    def _control(self, handler):
        async def serve(request):
            peer = (request.remote or '').split('%')[0]
            try:
                loopback = ipaddress.ip_address(peer).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                return web.json_response({'error': 'control routes answer loopback peers only'}, status=403)
            try:
                raw = await request.read()
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError('the body must be a JSON object')
                return web.json_response(await handler(body, request))
            except (ValueError, KeyError, TypeError, PveError) as e:
                return web.json_response({'error': getattr(e, 'message', None) or str(e)}, status=400)
        return serve

    def _control_routes(self):
        return [('GET', '/state', self._ctl_state), ('GET', '/requests', self._ctl_requests),
                ('POST', '/requests/clear', self._ctl_requests_clear), ('POST', '/fail', self._ctl_fail),
                ('POST', '/clear-faults', self._ctl_clear_faults), ('GET', '/errors', self._ctl_errors),
                ('POST', '/set', self._ctl_set), ('POST', '/vm', self._ctl_vm),
                ('POST', '/hold-lock', self._ctl_hold_lock), ('POST', '/backup', self._ctl_backup),
                ('POST', '/migrate', self._ctl_migrate), ('POST', '/node', self._ctl_node),
                ('POST', '/quorum', self._ctl_quorum), ('POST', '/revoke-tickets', self._ctl_revoke),
                ('POST', '/network', self._ctl_network), ('POST', '/ceph', self._ctl_ceph),
                ('POST', '/statd', self._ctl_statd), ('POST', '/firewall/simulate', self._ctl_fw_simulate),
                ('POST', '/firewall/compile', self._ctl_fw_compile), ('GET', '/firewall/starts', self._ctl_fw_starts),
                ('POST', '/firewall/starts/clear', self._ctl_fw_starts_clear)]

    # ---------------------------------------------------------------- reads

    def request_log(self, method=None, contains=None):
        """The logged API requests as [method, path, body] (bodies with secrets masked by fakepve)."""
        return [[m, path, body.decode('utf-8', 'replace')] for m, path, body in list(self.requests)
                if (method is None or m == method.upper()) and (contains is None or contains in path)]

    def lab_state(self, all_roles=False):
        """What the fake holds, for tests to assert what really got written (no secrets)."""
        cfg = self.user_cfg
        users = [dict(u.fields(), userid=u.userid, groups=cfg.groups_of(u.userid),
                      tokens=[dict(t.info(), tokenid=name) for name, t in sorted(u.tokens.items())])
                 for _uid, u in sorted(cfg.users.items())]
        tokens = [dict(t.info(), **{'full-tokenid': '{0}!{1}'.format(u.userid, name)})
                  for _uid, u in sorted(cfg.users.items()) for name, t in sorted(u.tokens.items())]
        roles = dict((rid, sorted(privs)) for rid, privs in sorted(cfg.roles.items())
                     if all_roles or rid not in self.builtin_roles)
        vms = [{'vmid': vm.vmid, 'name': vm.name, 'node': vm.node, 'status': vm.status, 'template': int(vm.template),
                'pool': vm.pool, 'tags': vm.config.get('tags'), 'lock': vm.lock, 'config': dict(vm.config),
                'pending': dict(vm.pending)} for vm in sorted(self.vms, key=lambda vm: vm.vmid)]
        nodes = []
        for name in sorted(self.nodes):
            mem, maxmem = self.node_memory(name)
            nodes.append({'node': name, 'online': bool(self.nodes[name].get('online', True)), 'mem': mem,
                          'maxmem': maxmem, 'ip': self.node_address(name)})
        fw = self.firewall_config('cluster')
        guests_fw = dict((str(vmid), {'options': conf['options'], 'rules': conf['rules']})
                         for vmid, conf in sorted(self._fw()['guests'].items()))
        return {
            'users': users,
            'groups': [{'groupid': g.groupid, 'comment': g.comment, 'members': sorted(g.users)}
                       for _gid, g in sorted(cfg.groups.items())],
            'roles': roles,
            'realms': [{'realm': realm, 'type': d['type'], 'comment': d.get('comment')}
                       for realm, d in sorted(self.realms.items())],
            'acl': self.acl_entries(),
            'tokens': tokens,
            'pools': [{'poolid': name, 'comment': self.pool_info.get(name, {}).get('comment'), 'vms': sorted(ids),
                       'storage': sorted(self.pool_info.get(name, {}).get('storage', ()))}
                      for name, ids in sorted(self.pools.items())],
            'vms': vms,
            'nodes': nodes,
            'firewall': {'options': dict(fw['options']), 'rules': [dict(r) for r in fw['rules']],
                         'groups': dict((name, [dict(r) for r in rs]) for name, rs in sorted(fw['groups'].items())),
                         'ipset': dict((name, [dict(e) for e in ips]) for name, ips in sorted(fw['ipset'].items())),
                         'aliases': [dict(a) for _name, a in sorted(fw['aliases'].items())],
                         'guests': guests_fw},
            'sdn': {'written': self.sdn, 'running': self.sdn_running},
            'tasks': [dict((k, t.get(k)) for k in ('upid', 'node', 'type', 'id', 'user', 'status', 'exitstatus'))
                      for t in self.tasklog],
        }

    async def _ctl_state(self, body, request):
        return self.lab_state(all_roles=request.query.get('all_roles') in ('1', 'true'))

    async def _ctl_requests(self, body, request):
        log = self.request_log(request.query.get('method'), request.query.get('contains'))
        return {'count': len(log), 'requests': log}

    async def _ctl_requests_clear(self, body, request):
        del self.requests[:]
        return {}

    async def _ctl_errors(self, body, request):
        return self.errors_for(request.query['method'].upper(), request.query['path'])

    # --------------------------------------------------------------- faults

    async def _ctl_fail(self, body, request):
        self.fail(body['method'].upper(), body['path'], status=body.get('status'), message=body.get('message'),
                  html=bool(body.get('html')), error=body.get('error'), times=body.get('times'))
        return {}

    async def _ctl_clear_faults(self, body, request):
        self.failures.clear()
        return {}

    async def _ctl_set(self, body, request):
        for key, value in _typed(SETTINGS, body).items():
            setattr(self, key, value)
        return dict((key, getattr(self, key)) for key in SETTINGS)

    def _guest_or_fail(self, body):
        vm = self.guest(int(body['vmid']))
        if vm is None:
            raise ValueError('no VM {0}'.format(body['vmid']))
        return vm

    async def _ctl_vm(self, body, request):
        vm = self._guest_or_fail(body)
        for key, value in _typed(VM_KNOBS, body, ignore=('vmid', 'lock')).items():
            setattr(vm, key, value)
        if 'lock' in body:
            if body['lock']:
                self.snapshot_lock(vm.vmid, body['lock'])
            else:
                self.unlock(vm.vmid)
        return {'vmid': vm.vmid, 'lock': vm.lock, 'status': vm.status}

    async def _ctl_hold_lock(self, body, request):
        vm = self._guest_or_fail(body)
        if body.get('release'):
            self.release_config_lock(vm.vmid)
        else:
            await self.hold_config_lock(vm.vmid, body.get('secs'))
        return {}

    async def _ctl_backup(self, body, request):
        return {'upid': await self.backup(self._guest_or_fail(body).vmid, float(body.get('secs', 30)))}

    async def _ctl_migrate(self, body, request):
        vm = self._guest_or_fail(body)
        return {'upid': await self.migrate(vm.vmid, body['target'], float(body.get('secs', 20)))}

    async def _ctl_node(self, body, request):
        node = body['node']
        if node not in self.nodes:
            raise ValueError('no node {0}'.format(node))
        if 'online' in body:
            self.set_node_offline(node, offline=not body['online'])
        if 'latency' in body:
            self.slow_network(float(body['latency']), node=node)
        out = {'node': node, 'online': self.nodes[node].get('online', True)}
        if body.get('ip'):
            self.set_node_address(node, body['ip'])
            out['ip'] = self.node_address(node)
        return out

    async def _ctl_quorum(self, body, request):
        if body.get('quorate', True):
            self.regain_quorum()
        else:
            self.lose_quorum()
        return {'quorate': self.quorate}

    async def _ctl_revoke(self, body, request):
        self.revoke_tickets()
        return {}

    async def _ctl_network(self, body, request):
        kinds = {'latency': float, 'jitter': float, 'drop_rate': float, 'hang_rate': float, 'hang_secs': float,
                 'seed': int}
        self.network.update(_typed(kinds, body))
        if body.get('seed') is not None:
            self._random.seed(body['seed'])
        return dict((k, v) for k, v in self.network.items() if k in kinds)

    async def _ctl_ceph(self, body, request):
        if body.get('down'):
            self.ceph_down()
        elif 'down' in body or body.get('recover'):
            self.ceph_recover()
        if body.get('slow') is not None:
            self.ceph_slow(float(body['slow']), body.get('health', 'HEALTH_WARN'))
        return dict(self.ceph)

    async def _ctl_statd(self, body, request):
        self.statd_refresh()
        return {'guests': len(self._statd_data)}

    # ------------------------------------------------------------- firewall

    async def _ctl_fw_simulate(self, body, request):
        body = dict(body)
        src, dst = body.pop('src', None), body.pop('dst', None)
        if src is None:
            raise ValueError('src is required')
        return self.fw_simulate(src, dst, **body)

    async def _ctl_fw_compile(self, body, request):
        snap = self.fw_compile()
        return {'compiled_at': self.pve_seconds(snap.at), 'enabled': snap.compiled.enabled,
                'errors': snap.compiled.errors}

    async def _ctl_fw_starts(self, body, request):
        return {'starts': self.fw_starts(request.query.get('vmid'))}

    async def _ctl_fw_starts_clear(self, body, request):
        self.fw_clear_starts()
        return {}
