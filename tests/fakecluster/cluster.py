"""LabPve: fakepve's FakePve, told the truth where the collection depends on it.

On top of fakepve 0.5.0 (subclassed, never patched):

- access control kept and enforced (access.py), with the /access API that changes it (access_api.py);
- per-node memory: `mem` is the node's base usage plus the configured memory of the guests running on it,
  so a node chosen by free memory changes as VMs start and stop;
- the guest agent of a running VM with agent=1 answers, with its ipconfig0 address or a DHCP-like lease
  (guestagent.py), optionally only agent_delay_secs after the start;
- commands run through the agent (exec, exec-status) with results tests program, running for a while, behind
  PVE's checks and errors (guestexec.py);
- clones take `clone_secs`; while one runs the new VM's config holds only `lock: clone` (its name and disks
  arrive when the task ends, as qemu-server writes a temporary config first), and the task is listed as
  running (`qmclone`, the template's vmid) in the node's `source=active` task list and /cluster/tasks;
- GET .../pending lists the config's `digest` as PVE's does;
- /cluster/resources shows names, states and template flags from a pvestatd-like cache (statd.py);
- pve-firewall's compile every firewall_secs and a packet evaluator over what it compiled (pvefw.py, fwsim.py),
  node addresses in `localnet`, a record of every guest start and whether it was filtered;
- VMs made through the API get default start/shutdown/stop durations;
- a clone to another node is refused when a disk is on local storage, as qemu-server refuses it;
- SDN zones, VNets and subnets pending until applied, and the guests' use of VNets (sdn.py);
- a control channel under /_fake for tests in another process (control.py).

Times are PVE seconds, scaled by fakepve's `time_scale` (0: every task ends before its POST returns).
"""

import json
import re
import time

from fakepve import FakePve, PveError
from fakepve import agent as fake_agent
from fakepve.qemu import drives_of, volume_ref
from fakepve.routing import die
from fakepve.server import PORT, USER, ok, params

from . import guestagent
from .access import AccessControl
from .access_api import AccessApi
from .control import ControlChannel
from .guestexec import GuestExec
from .pvefw import PveFirewall
from .statd import PveStatd
from .versions import PveVersions
from .refusals import Refusals
from .vzdump import Vzdump
from .sdn import PveSdn

GiB = 1024 ** 3
# The defaults of every fake the tests start: a small full clone takes 20 s in PVE, 0.2 s here.
REALISTIC = {'time_scale': 0.01, 'clone_secs': 20.0}
# A node described without sizes: what a small lab server has.
NODE_DEFAULTS = {'maxmem': 16 * GiB, 'base_mem': 2 * GiB, 'maxcpu': 8, 'maxdisk': 64 * GiB}
# Usage fields PVE leaves out of a node entry for a user without Sys.Audit on it (API2Tools::extract_node_stats).
NODE_STATS = ('uptime', 'cpu', 'mem', 'disk', 'maxcpu', 'maxmem', 'maxdisk')


class LabPve(PveVersions, Refusals, AccessApi, AccessControl, PveFirewall, GuestExec, ControlChannel, PveStatd,
             Vzdump, PveSdn, FakePve):
    """The extended fake: access control on, node memory, guest agent, task durations, /_fake control routes."""

    def __init__(self, user='root@pam', password='secret', host=None, port=PORT):
        super().__init__(user, password, host, port)
        self._init_access()
        self._init_statd()
        self._init_firewall()
        self._init_vzdump()
        self._init_guest_exec()
        # Real PVE by default: PVE seconds pass at time_scale real seconds each (tasks run after their POST
        # returns), a clone takes clone_secs (fakepve copies the disks in no time), /cluster/resources lags by up
        # to statd_secs (statd.py). time_scale 0 turns all of it off: every task ends before its POST returns.
        self.time_scale = REALISTIC['time_scale']
        self.clone_secs = REALISTIC['clone_secs']
        # What VMs created or cloned through the API start with (per VM: vm.start_secs, ...).
        self.default_start_secs = 0.0
        self.default_shutdown_secs = 0.0
        self.default_stop_secs = 0.0
        self.default_agent_delay_secs = 0.0
        # Where guests without a static ipconfig0 get their address from.
        self.dhcp_pool = guestagent.DHCP_POOL
        for spec in self.nodes.values():
            spec.update((k, v) for k, v in NODE_DEFAULTS.items() if k not in spec)

    # ----------------------------------------------------------------- nodes

    def add_node(self, name, online=True, maxmem=None, base_mem=None, maxcpu=None, maxdisk=None, ip=None):
        """Add a node: memory in bytes (maxmem total, base_mem used by the host itself); ip its address (default:
        derived from localnet, pvefw.py)."""
        sizes = {'maxmem': maxmem, 'base_mem': base_mem, 'maxcpu': maxcpu, 'maxdisk': maxdisk}
        self.nodes[name] = dict(NODE_DEFAULTS, online=online,
                                **dict((k, v) for k, v in sizes.items() if v is not None))
        if ip is not None:
            self.set_node_address(name, ip)

    def _node_spec(self, name):
        spec = self.nodes.setdefault(name, {'online': True})
        for key, value in NODE_DEFAULTS.items():
            spec.setdefault(key, value)  # nodes fakepve adds on its own (add_vm, migrate) get the defaults
        return spec

    def node_memory(self, name):
        """(used, total) bytes: the host's own use plus the configured memory of every running guest on it.

        PVE reports the host's used memory; a booted guest's QEMU process holds about its configured memory,
        so this is what a real node shows with guests that are not ballooned. Stopped guests and templates
        use nothing.
        """
        spec = self._node_spec(name)
        used = spec['base_mem']
        used += sum(self._vm_usage(vm)['maxmem'] for vm in self.vms if vm.node == name and vm.status == 'running')
        used += sum(self._maxmem(ct) for ct in self.cts if ct.node == name and ct.status == 'running')
        return min(used, spec['maxmem']), spec['maxmem']

    def _node_usage(self, name):
        """The usage fields of a node entry (GET /nodes, /cluster/resources); an offline node keeps only max*."""
        spec = self._node_spec(name)
        out = {'maxcpu': spec['maxcpu'], 'maxmem': spec['maxmem'], 'maxdisk': spec['maxdisk']}
        if spec.get('online', True):
            out.update(uptime=3600, cpu=0.02, mem=self.node_memory(name)[0], disk=4 * GiB)
        return out

    def _patch_nodes(self, response, user):
        """fakepve's answer with every node entry's usage replaced by this model's."""
        data = json.loads(response.text)['data']
        for item in data:
            if item.get('type') != 'node':
                continue
            for key in NODE_STATS:
                item.pop(key, None)
            if self.allowed(user, '/nodes/' + item['node'], 'Sys.Audit'):
                item.update(self._node_usage(item['node']))
        return ok(data)

    async def _nodes(self, request):
        return self._patch_nodes(await super()._nodes(request), request[USER])

    async def _resources(self, request):
        return self._patch_nodes(await super()._resources(request), request[USER])

    def _routes_lab_nodes(self):
        return [('GET', '/nodes/{node}/status', self._node_status)]

    async def _node_status(self, v, user):
        used, total = self.node_memory(v['node'])
        spec = self._node_spec(v['node'])
        data = {'memory': {'total': total, 'used': used, 'free': total - used, 'available': total - used},
                'cpu': 0.02, 'uptime': 3600, 'loadavg': ['0.10', '0.05', '0.01'],
                'cpuinfo': {'cpus': spec['maxcpu'], 'cores': spec['maxcpu'], 'sockets': 1,
                            'model': 'QEMU Virtual CPU'},
                'rootfs': {'total': spec['maxdisk'], 'used': 4 * GiB, 'free': spec['maxdisk'] - 4 * GiB,
                           'avail': spec['maxdisk'] - 4 * GiB},
                'pveversion': 'pve-manager/{0}/fakecluster'.format(self.version)}
        return self._complete('/nodes/{node}/status', data, node=v['node'])

    # ----------------------------------------------------------- guest agent

    def agent_ready(self, vm):
        """True once a running VM's agent is up: agent_delay_secs (PVE seconds) after its start."""
        delay = getattr(vm, 'agent_delay_secs', 0) * self.time_scale
        return vm.status == 'running' and (not delay or time.time() - (vm.started_at or 0) >= delay)

    async def _agent_call(self, match, values):
        vm = self.find(values['node'], values['vmid'])
        command = match.template.rsplit('/', 1)[1]
        if self.models_exec(vm, command):
            return await self._exec_call(vm, command, values)
        # Answers a test set in vm.agent, a stopped VM or one without agent=1: fakepve's behaviour.
        if vm.agent is not None or vm.status != 'running' or not guestagent.agent_enabled(vm.config):
            return await super()._agent_call(match, values)
        if vm.agent_hangs:
            await self.pause(10)  # as fakepve's hanging agent: QEMU gives up on the guest after a while
            raise PveError(500, "VM {0} qmp command 'guest-ping' failed - got timeout".format(vm.vmid))
        if not self.agent_ready(vm):
            raise PveError(500, 'QEMU guest agent is not running')
        fake_agent.record(vm, command, values)
        if command == 'network-get-interfaces':
            return {'result': guestagent.interfaces(vm.vmid, vm.config, self.dhcp_pool)}
        # Every other command as fakepve answers it for an agent with no canned answers.
        vm.agent = {}
        try:
            return fake_agent.result(vm, command, values)
        finally:
            vm.agent = None

    async def _lxc_interfaces(self, user, v):
        # What the container's own network holds (guestagent.container_interfaces): a DHCP lease too.
        answer = await super()._lxc_interfaces(user, v)
        ct = self._find_ct(v['node'], v['vmid'])
        return guestagent.container_interfaces(ct.vmid, ct.config, answer, self.dhcp_pool)

    # ------------------------------------------------------- clones and tasks

    async def task(self, node, ttype, tid, user, body, vm=None, lock=True, log=()):
        """fakepve's task; a clone first spends clone_secs, its new VM showing only `lock: clone` meanwhile."""
        if ttype == 'qmclone':
            copy, new = body, vm
            new.clone_running = True

            async def body():
                try:
                    if self.clone_secs:
                        await self.pause(self.clone_secs)
                    return await copy()
                finally:
                    new.clone_running = False
        return await super().task(node, ttype, tid, user, body, vm=vm, lock=lock, log=log)

    @staticmethod
    def visible_config(vm):
        """A VM's config as PVE shows it: during its clone, qemu-server's temporary file (only the lock)."""
        if getattr(vm, 'clone_running', False):
            return {'lock': 'clone'}
        return vm.config

    def _vm_status(self, vm, listing=False):
        # vmstatus reads the config: a VM being cloned has no name ("VM <vmid>"), tags or template flag yet.
        data = super()._vm_status(vm, listing)
        if getattr(vm, 'clone_running', False):
            data['name'] = 'VM {0}'.format(vm.vmid)
            data.pop('tags', None)
            data.pop('template', None)
        return data

    async def _config_get(self, request):
        vm = self._vm(request, 'VM.Audit')
        if not getattr(vm, 'clone_running', False):
            return await super()._config_get(request)
        return ok(dict(self.visible_config(vm), digest=vm.digest()))

    async def _pending(self, request):
        # qemu-server's vm_pending lists the loaded config with its `digest` as one more key (GuestHelpers
        # config_with_pending_array; `qm pending` skips it when printing); fakepve's list leaves it out.
        vm = self._vm(request, 'VM.Audit')
        if getattr(vm, 'clone_running', False):
            items = [{'key': k, 'value': v} for k, v in self.visible_config(vm).items()]
        else:
            items = json.loads((await super()._pending(request)).text)['data']
        items.append({'key': 'digest', 'value': vm.digest()})
        return ok(sorted(items, key=lambda item: item['key']))

    # The task lists (pve-manager PVE/API2/Tasks.pm): `source` archive (the default: ended tasks only),
    # active (running ones, status RUNNING, and ended ones not archived yet) or all.
    async def _task_list(self, request):
        node = request.match_info['node']
        user = request[USER]
        p = self._verify(request, await params(request))
        source = p.get('source') or 'archive'
        audit = self.allowed(user, '/nodes/' + node, 'Sys.Audit')
        wanted = set(s.strip().lower() for s in str(p.get('statusfilter') or '').split(',') if s.strip())
        data = []
        for task in sorted(self.tasklog, key=lambda t: -t['starttime']):
            running = task['status'] == 'running'
            if task['node'] != node or not (audit or self._task_owner(user, task)):
                continue
            if (running and source == 'archive') or (p.get('typefilter') and task['type'] != p['typefilter']):
                continue
            if p.get('vmid') is not None and task['id'] != str(p['vmid']):
                continue
            if p.get('userfilter') and p['userfilter'].lower() not in task['user'].lower():
                continue
            view = self._task_view(task, True)
            if running:
                view['status'] = 'RUNNING'
            kind = _status_kind(view.get('status'))
            if (p.get('errors') and kind == 'ok') or (wanted and not p.get('errors') and kind not in wanted):
                continue
            data.append(view)
        start = p.get('start', 0)
        return ok(data[start:start + p.get('limit', 50)])

    def _routes_lab_tasks(self):
        return [('GET', '/cluster/tasks', self._cluster_tasks)]

    async def _cluster_tasks(self, v, user):
        # PVE::Cluster::get_tasklist: the nodes' recent tasks, running ones without status; Sys.Audit on / sees all.
        audit = self.allowed(user, '/', 'Sys.Audit')
        out = []
        for task in sorted(self.tasklog, key=lambda t: -t['starttime']):
            if audit or self._task_owner(user, task):
                view = self._task_view(task, True)
                if task['status'] == 'running':
                    view.pop('status', None)
                out.append(view)
        return out[:200]

    def _uses_local_storage(self, vm, snapname=None):
        """qemu-server's check_storage_access_clone: any disk or ISO on storage that is not shared."""
        config = vm.snapshots.get(snapname, vm.config) if snapname else vm.config
        for _key, volume, _props in drives_of(config):
            sid = volume_ref(volume)[0]
            if sid is not None and not self.storages.get(sid, {}).get('shared'):
                return True
        return False

    async def _qm_clone(self, v, user):
        target, node = v.get('target'), v['node']
        src = self.vm(int(v['vmid']))
        if target and target not in (node, 'localhost') and target in self.nodes and src is not None \
                and src.node == node and self._uses_local_storage(src, v.get('snapname')):
            raise die("can't clone VM to node '{0}' (VM uses local storage)".format(target))
        upid = await super()._qm_clone(v, user)
        self._new_vm_defaults(int(v['newid']))
        return upid

    async def _qm_create(self, v, user):
        upid = await super()._qm_create(v, user)
        self._new_vm_defaults(int(v['vmid']))
        return upid

    def _new_vm_defaults(self, vmid):
        vm = self.vm(vmid)
        if vm is not None:
            vm.start_secs = self.default_start_secs
            vm.shutdown_secs = self.default_shutdown_secs
            vm.stop_secs = self.default_stop_secs
            vm.agent_delay_secs = self.default_agent_delay_secs

    # ------------------------------------------------------------------ misc

    @staticmethod
    def parse_size(text):
        """'8G', '512M', '100' (GiB, as PVE's disk sizes) -> bytes."""
        found = re.fullmatch(r'(\d+(?:\.\d+)?)([KMGT]?)', str(text).strip())
        if not found:
            raise ValueError('unable to parse size {0!r}'.format(text))
        return int(float(found.group(1)) * 1024 ** ('KMGT'.index(found.group(2) or 'G') + 1))


def _status_kind(status):
    """PVE::Tools::upid_normalize_status_type: ok, warning, error or unknown."""
    if not status:
        return 'unknown'
    if status == 'OK':
        return 'ok'
    if status.startswith('WARNINGS:'):
        return 'warning'
    return 'unknown' if status in ('RUNNING', 'unknown') else 'error'
