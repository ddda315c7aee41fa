"""What /cluster/resources shows of a guest: pvestatd's cache, not the guest itself.

PVE builds a guest's /cluster/resources entry from two sources (pve-manager PVE/API2/Cluster.pm `resources`,
PVE/API2Tools.pm `extract_vm_stats`):

- live: the vmid, node and type (the cluster's vmlist), `lock` and `tags` (read from the guest's config),
  `pool` (user.cfg) and `hastate`;
- cached: `name`, `status`, `template`, `uptime` and the usage numbers come from the RRD data pvestatd
  broadcasts every 10 s (PVE/Service/pvestatd.pm, `$updatetime`). A guest pvestatd has not reported yet has
  only `status: unknown` and none of these fields; a guest's entry says what its config said at the last
  broadcast (qemu-server's vmstatus names a VM whose config has no name `VM <vmid>`, pve-container a
  container without hostname `CT<vmid>`), and the data is kept by vmid, so a new guest that reuses a vmid
  shows the old one's name until the next broadcast.

`pool` is left out unless the caller has Pool.Audit on /pool/<pool>.

The broadcast runs every `statd_secs` PVE seconds (time_scale real seconds each), on a fixed grid from the
start of the fake; with time_scale 0 every read sees a fresh broadcast, as everything else happens at once
then too. `statd_refresh()` (control route /_fake/statd) broadcasts now. The node-local views
(GET /nodes/{node}/qemu, .../status/current, .../config) stay live, as they are in PVE.
"""

import json
import math
import time

from fakepve.server import USER, ok

# The fields of a guest entry that come from pvestatd's broadcast.
CACHED = ('name', 'status', 'template', 'uptime', 'cpu', 'maxcpu', 'mem', 'memhost', 'maxmem', 'disk', 'maxdisk',
          'netin', 'netout', 'diskread', 'diskwrite')
# How often pvestatd broadcasts, in PVE seconds.
STATD_SECS = 10.0


class PveStatd(object):
    """Mixin of LabPve: /cluster/resources from a periodically refreshed cache, `pool` behind Pool.Audit."""

    def _init_statd(self):
        self.statd_secs = STATD_SECS
        self._statd_t0 = time.monotonic()
        self._statd_epoch = None
        self._statd_data = {}

    def statd_entry(self, guest, kind):
        """What pvestatd reports of one guest now (user-independent, as the RRD data is)."""
        config = self.visible_config(guest) if kind == 'qemu' else guest.config
        if kind == 'qemu':
            name = config.get('name') or 'VM {0}'.format(guest.vmid)
            usage = self._vm_usage(guest)
        else:
            name = (config.get('hostname') or 'CT{0}'.format(guest.vmid)).replace(' ', '')
            usage = {'maxcpu': self._cpus(guest), 'maxmem': self._maxmem(guest), 'maxdisk': self._maxdisk(guest),
                     'cpu': 0, 'mem': 0, 'disk': 0, 'uptime': self._uptime(guest), 'netin': 0, 'netout': 0,
                     'diskread': 0, 'diskwrite': 0}
        entry = dict(usage, name=name, status=guest.status, template=1 if str(config.get('template', 0)) == '1'
                     or (guest.template and kind == 'lxc') else 0)
        return dict((k, v) for k, v in entry.items() if k in CACHED)

    def statd_refresh(self):
        """pvestatd's broadcast: every guest on an online node as it is now. Old vmids stay until replaced, so a
        guest of an offline node keeps its last name (its status is `unknown`: nothing reports it)."""
        for kind, guests in (('qemu', self.vms), ('lxc', self.cts)):
            for guest in guests:
                if self.nodes.get(guest.node, {}).get('online', True):
                    self._statd_data[guest.vmid] = self.statd_entry(guest, kind)
        self._statd_epoch = self._statd_now()

    def _statd_now(self):
        interval = self.statd_secs * self.time_scale
        if interval <= 0:
            return None
        return math.floor((time.monotonic() - self._statd_t0) / interval)

    def _statd_view(self):
        """The cache as a read sees it: refreshed first if a broadcast fell due since the last one."""
        epoch = self._statd_now()
        if epoch is None or epoch != self._statd_epoch:
            self.statd_refresh()
        return self._statd_data

    async def _resources(self, request):
        response = await super()._resources(request)
        data = json.loads(response.text)['data']
        cache = self._statd_view()
        user = request[USER]
        for item in data:
            if item.get('type') not in ('qemu', 'lxc'):
                continue
            for key in CACHED:
                item.pop(key, None)
            cached = dict(cache.get(int(item['vmid'])) or {'status': 'unknown'})
            if not self.nodes.get(item['node'], {}).get('online', True):
                cached['status'] = 'unknown'
            item.update(cached)
            if item.get('pool') and not self.allowed(user, '/pool/' + item['pool'], 'Pool.Audit'):
                del item['pool']
        return ok(data)
