"""Commands run through the guest agent: POST .../agent/exec and GET .../agent/exec-status as PVE answers them.

What PVE does (qemu-server `src/PVE/API2/Qemu/Agent.pm`, `src/PVE/QemuServer/Agent.pm`, `src/PVE/QMPClient.pm`):

- exec takes `command` (an array: program, then its arguments) and `input-data` (stdin, at most 64 KiB); it
  answers `{pid}` at once, the command runs on in the guest. exec-status?pid= answers `{exited: 0}` while it
  runs, then `exited: 1` with `exitcode` (or `signal`), `out-data`/`err-data` (only when the stream is not
  empty; PVE decodes the agent's base64, so the API carries the text) and `out-truncated`/`err-truncated`
  beside them (the agent keeps at most 16 MiB of each stream). Booleans come as 1/0.
- The agent forgets a process once it reported it exited: the next exec-status of that pid is
  `Agent error: Invalid parameter 'pid'`.
- Before each agent command PVE checks, in this order: the config has an `agent` key (else `No QEMU guest agent
  configured`; `agent: 0` is a key, so that VM fails the next checks), the VM runs (`VM <vmid> is not running`),
  the agent answers guest-ping within 3 s (else `QEMU guest agent is not running`: an agent turned off, not
  started yet or hanging). A guest-exec the agent does not answer fails after 5 s (QMPClient's default timeout):
  `VM <vmid> qga command 'guest-exec' failed - got timeout`. An error the agent gives (a program that does not
  exist) is `Agent error: <its message>`. All of them are HTTP 500.

Results are programmed per VM (or for every VM: vmid None), in-process with set_exec / set_exec_handler or from
another process with POST /_fake/exec. A command nobody programmed does not exist in the guest.
"""

import time

from fakepve import PveError
from fakepve import agent as fake_agent

from . import guestagent

# qemu-ga's GUEST_EXEC_MAX_OUTPUT: what it keeps of each of stdout and stderr.
AGENT_MAX_OUTPUT = 16 * 1024 * 1024
PING_TIMEOUT = 3      # PVE seconds PVE waits for guest-ping (qga_check_running)
QMP_TIMEOUT = 5       # PVE seconds PVE waits for an agent command without a timeout of its own
EXEC_COMMANDS = ('exec', 'exec-status')
RESULT_KEYS = ('rc', 'stdout', 'stderr', 'secs', 'signal')


def _result(rc=0, stdout='', stderr='', secs=0.0, signal=None):
    return {'rc': int(rc), 'stdout': str(stdout), 'stderr': str(stderr), 'secs': float(secs),
            'signal': None if signal is None else int(signal)}


class GuestExec(object):
    """Mixin of LabPve: exec and exec-status of a VM whose agent LabPve models (agent=1, no vm.agent dict)."""

    def _init_guest_exec(self):
        # {vmid or None (every VM): {(argv tuple, input or None): result}}; {vmid or None: handler}
        self.exec_table = {}
        self.exec_handlers = {}
        self.exec_max_output = AGENT_MAX_OUTPUT
        self._exec_runs = {}  # {(vmid, pid): {'argv', 'input', 'result', 'started'}}

    # ------------------------------------------------------------- programming

    def set_exec(self, vmid, command, rc=0, stdout='', stderr='', secs=0.0, input=None, signal=None):
        """What `command` (argv list) prints and exits with in VM vmid (None: every VM without its own entry),
        taking secs PVE seconds. input: only when stdin is exactly this (None: whatever stdin is); signal: killed
        by it (no exit code)."""
        self.exec_table.setdefault(vmid, {})[(tuple(command), input)] = _result(rc, stdout, stderr, secs, signal)

    def set_exec_handler(self, vmid, handler):
        """handler(argv list, input or None) -> {rc, stdout, stderr, secs, signal} (any subset) or None (not
        found: the table decides); consulted before the table."""
        self.exec_handlers[vmid] = handler

    def clear_exec(self, vmid=None):
        self.exec_table.pop(vmid, None)
        self.exec_handlers.pop(vmid, None)

    def exec_result(self, vmid, argv, data):
        """What the guest does for argv with stdin data, or None: no such program."""
        for key in (vmid, None):
            handler = self.exec_handlers.get(key)
            found = handler(list(argv), data) if handler else None
            if found is not None:
                return _result(**found)
            table = self.exec_table.get(key, {})
            for wanted in ((tuple(argv), data), (tuple(argv), None)):
                if wanted in table:
                    return dict(table[wanted])
        return None

    # ------------------------------------------------------------- the API

    def models_exec(self, vm, command):
        """True when this mixin answers: exec/exec-status of a VM without a test's vm.agent dict."""
        return command in EXEC_COMMANDS and vm.agent is None

    async def _exec_call(self, vm, command, values):
        if command == 'exec':
            argv = list(values.get('command') or [])
            if not argv and values.get('input-data') is None:
                raise PveError(500, 'command or input-data (or both) required')
        await self._assert_agent_available(vm)
        fake_agent.record(vm, command, values)
        if command == 'exec':
            return await self._exec_start(vm, argv, values.get('input-data'))
        return self._exec_status(vm, int(values['pid']))

    async def _assert_agent_available(self, vm):
        if 'agent' not in vm.config:
            raise PveError(500, 'No QEMU guest agent configured')
        if vm.status != 'running':
            raise PveError(500, 'VM {0} is not running'.format(vm.vmid))
        if vm.agent_hangs:
            await self.pause(PING_TIMEOUT)
            raise PveError(500, 'QEMU guest agent is not running')
        if not guestagent.agent_enabled(vm.config) or not self.agent_ready(vm):
            raise PveError(500, 'QEMU guest agent is not running')

    async def _exec_start(self, vm, argv, data):
        if getattr(vm, 'exec_hangs', False):
            await self.pause(QMP_TIMEOUT)
            raise PveError(500, "VM {0} qga command 'guest-exec' failed - got timeout".format(vm.vmid))
        result = self.exec_result(vm.vmid, argv, data) if argv else None
        if result is None:
            # g_spawn's error, as the agent passes it on
            raise PveError(500, 'Agent error: Failed to execute child process \u201c{0}\u201d (No such file or '
                                'directory)'.format(argv[0] if argv else ''))
        vm.agent_pid += 1
        self._exec_runs[(vm.vmid, vm.agent_pid)] = dict(argv=argv, input=data, result=result, started=time.time())
        return {'pid': vm.agent_pid}

    def _exec_status(self, vm, pid):
        run = self._exec_runs.get((vm.vmid, pid))
        if run is None:
            raise PveError(500, "Agent error: Invalid parameter 'pid'")
        result = run['result']
        if time.time() - run['started'] < result['secs'] * self.time_scale:
            return {'exited': 0}
        del self._exec_runs[(vm.vmid, pid)]  # the agent reports an exit once
        out = {'exited': 1}
        if result['signal'] is not None:
            out['signal'] = result['signal']
        else:
            out['exitcode'] = result['rc']
        for stream, key in (('stdout', 'out'), ('stderr', 'err')):
            text = result[stream]
            if text:
                data = text.encode('utf-8')
                out[key + '-data'] = data[:self.exec_max_output].decode('utf-8', 'ignore')
                out[key + '-truncated'] = int(len(data) > self.exec_max_output)
        return out

    # --------------------------------------------------------- control route

    def _control_routes(self):
        return super()._control_routes() + [('POST', '/exec', self._ctl_exec)]

    async def _ctl_exec(self, body, request):
        """{vmid (null: every VM), command: [argv], input, rc, stdout, stderr, secs, signal} programs one result;
        {vmid, clear: true} forgets that VM's results. -> {vmid, programmed: n}"""
        vmid = body.get('vmid')
        if vmid is not None:
            vmid = self._guest_or_fail(body).vmid
        unknown = set(body) - {'vmid', 'command', 'input', 'clear'} - set(RESULT_KEYS)
        if unknown:
            raise ValueError('unknown keys: {0}'.format(', '.join(sorted(unknown))))
        if body.get('clear'):
            self.clear_exec(vmid)
        else:
            command = body['command']
            if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
                raise ValueError('command must be a non-empty list of strings')
            self.set_exec(vmid, command, input=body.get('input'),
                          **dict((k, body[k]) for k in RESULT_KEYS if body.get(k) is not None))
        return {'vmid': vmid, 'programmed': len(self.exec_table.get(vmid, {}))}
