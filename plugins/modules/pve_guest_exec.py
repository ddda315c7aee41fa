#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pve_guest_exec
short_description: Run a command in many Proxmox VE VMs at once through the QEMU guest agent
version_added: 0.1.0
description:
  - Runs O(command) in every VM of O(vms) at the same time through the QEMU guest agent (PVE's
    C(agent/exec) and C(agent/exec-status)) and returns what each printed and its exit code. No network path to
    the guest is needed, so it works while a student's VM is isolated.
  - A guest where the command cannot run or be followed (the VM is not running, its agent is not configured or
    does not answer) or does not exit within O(timeout) does not fail the module - its item says why in
    RV(items[].error) or RV(items[].timed_out), and every other guest's result is still returned (grading
    needs them all).
  - Bad input fails the module before any command runs, naming the input - an empty O(command), a guest that
    does not exist, a name two guests carry, a container, a guest given twice.
  - Reports a change when the command ran in at least one guest (the module cannot know what the command did),
    and in check mode, where no command runs. Use C(changed_when) with V(false) for commands that only read.
extends_documentation_fragment:
  - pvelab.proxmox.api
  - pvelab.proxmox.api.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: In check mode no command runs; every item says so in RV(items[].msg).
  diff_mode:
    support: none
options:
  vms:
    description:
      - The VMs, each by vmid or by name (a name two guests carry is an error; a string of digits is a vmid).
    type: list
    elements: raw
    required: true
  command:
    description:
      - The program and its arguments, one list element each (no shell - use V([sh, -c, '...']) for one).
    type: list
    elements: str
    required: true
  input:
    description: Text passed to the command's standard input (at most 65536 characters, PVE's limit).
    type: str
  timeout:
    description:
      - Seconds to wait for the command to exit in each guest. A command still running then is left running in
        the guest (PVE cannot stop it) and its item has RV(items[].timed_out).
    type: int
    default: 30
  parallel:
    description: How many guests are asked at once.
    type: int
    default: 8
notes:
  - "Privileges: on Proxmox VE 9, C(VM.GuestAgent.Unrestricted) on C(/vms/<vmid>) for both the exec and its
    status (the narrower C(VM.GuestAgent.*) privileges do not allow exec); on Proxmox VE 8, C(VM.Monitor) on
    C(/vms/<vmid>). Anyone allowed to run this runs anything as the agent's user (root on Linux) in the guest."
  - The guest agent keeps at most 16 MiB of each stream; this module returns at most 64 KiB of each, and
    RV(items[].truncated) says whether either was cut.
  - The output is returned as text. Bytes that are not valid UTF-8 are not kept as they were.
seealso:
  - module: pvelab.proxmox.pve_vm_info
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Is IP forwarding on in every student's router?
  pvelab.proxmox.pve_guest_exec:
    vms: "{{ lab['items'] | map(attribute='vmid') }}"
    command: [sysctl, -n, net.ipv4.ip_forward]
  register: forwarding
  changed_when: false

- name: The students whose router does not forward (or could not be asked)
  ansible.builtin.debug:
    msg: "{{ forwarding['items'] | rejectattr('stdout', 'match', '^1$') | map(attribute='name') | list }}"

- name: A script on standard input, 2 minutes at most per guest
  pvelab.proxmox.pve_guest_exec:
    vms: [netadmin-alice, netadmin-bob, 2003]
    command: [sh, -s]
    input: |
      ip -4 route show default
      ping -c1 -W2 10.0.0.1 >/dev/null && echo gateway-ok
    timeout: 120
  register: checks
  changed_when: false
'''

RETURN = r'''
items:
  description: One entry per guest, in the order of O(vms).
  returned: always
  type: list
  elements: dict
  contains:
    vmid:
      description: vmid of the guest.
      type: int
      sample: 2001
    name:
      description: Name of the guest.
      type: str
      sample: netadmin-alice
    node:
      description: Node of the guest.
      type: str
      sample: pve2
    ran:
      description: Whether the command was started in the guest.
      type: bool
      sample: true
    rc:
      description: Exit code of the command; null when it did not run, has not exited, or was killed by a signal.
      type: int
      sample: 0
    signal:
      description: The signal that ended the command, if one did (else null).
      type: int
      sample: 9
    stdout:
      description: What the command wrote to standard output (at most 64 KiB).
      type: str
      sample: "1\n"
    stderr:
      description: What the command wrote to standard error (at most 64 KiB).
      type: str
      sample: ""
    truncated:
      description: Whether RV(items[].stdout) or RV(items[].stderr) was cut (here at 64 KiB, or by the agent).
      type: bool
      sample: false
    timed_out:
      description: The command did not exit within O(timeout) seconds (it may still run in the guest).
      type: bool
      sample: false
    error:
      description:
        - Why the command could not be run or followed in this guest, as PVE said it - for example
          C(VM 2001 is not running), C(QEMU guest agent is not running), C(No QEMU guest agent configured), or the
          agent's error for a program that does not exist. Null when it ran.
      type: str
      sample: QEMU guest agent is not running
    msg:
      description: In check mode, that the command was not run.
      type: str
      returned: in check mode
'''

import time

from ansible_collections.pvelab.proxmox.plugins.module_utils._bulk import WORKERS, parallel_map
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import JsonArray, PveApiError, PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import guest_path, label, wait_until
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module

OUTPUT_LIMIT = 64 * 1024      # bytes kept of each of stdout and stderr
INPUT_LIMIT = 64 * 1024       # PVE's maxLength of input-data


def cut(text):
    """(text cut at OUTPUT_LIMIT bytes of UTF-8, whether it was cut)."""
    data = (text or '').encode('utf-8', 'replace')
    if len(data) <= OUTPUT_LIMIT:
        return text or '', False
    return data[:OUTPUT_LIMIT].decode('utf-8', 'ignore'), True


def reason(error):
    """PVE's own message of a failed call (what a grade sheet shows), else the whole error."""
    return error.pve_message if isinstance(error, PveApiError) and error.pve_message else str(error)


class PveGuestExec(PveModuleBase):
    """Not a BulkModule: nothing is planned (a command is not a state to reach), and a guest that cannot run it is
    a result of the run, not a failure of the module."""

    def execute(self):
        p = self.params
        with self.checked_input():
            if not p['command'] or not p['command'][0]:
                raise ValueError('command must name a program: it is empty')
            if p['input'] is not None and len(p['input']) > INPUT_LIMIT:
                raise ValueError('input is {0} characters long; PVE takes at most {1}'.format(
                    len(p['input']), INPUT_LIMIT))
            for option in ('timeout', 'parallel'):
                if p[option] < 1:
                    raise ValueError('{0} must be at least 1'.format(option))
            if not p['vms']:
                raise ValueError('vms must name at least one VM')
        entries = self.resolve(p['vms'])
        items = [dict(vmid=int(e['vmid']), name=e.get('name'), node=e.get('node'), ran=False, rc=None, signal=None,
                      stdout='', stderr='', truncated=False, timed_out=False, error=None) for e in entries]
        if self.check_mode:
            for item in items:
                item['msg'] = 'check mode: the command was not run'
        else:
            self.run_everywhere(entries, items)
        self.result['items'] = items
        # In check mode: what a real run would report, as every module predicts it.
        self.changed(self.check_mode or any(item['ran'] for item in items))

    def resolve(self, refs):
        """The guest entry of every reference, in order; fails naming every bad one before anything runs."""
        entries, errors, seen = [], [], {}
        for index, ref in enumerate(refs):
            where = 'vms[{0}]'.format(index)
            text = str(ref).strip()
            try:
                if isinstance(ref, int) or text.isdigit():
                    entry, asked = self.cluster.guest(int(text)), 'vmid {0}'.format(text)
                else:
                    entry, asked = self.cluster.find_guest(name=text), 'name {0!r}'.format(text)
            except PveError as exc:
                errors.append('{0}: {1}'.format(where, exc))
                continue
            if entry is None:
                errors.append('{0}: no guest with {1}'.format(where, asked))
            elif entry.get('type') != 'qemu':
                errors.append('{0}: {1} is a container; the guest agent runs in VMs only'.format(where, label(entry)))
            elif int(entry['vmid']) in seen:
                errors.append('{0}: {1} is also given as {2}'.format(where, label(entry), seen[int(entry['vmid'])]))
            else:
                seen[int(entry['vmid'])] = where
                entries.append(entry)
        if errors:
            self.fail('no command was run: ' + '; '.join(errors))
        return entries

    def run_everywhere(self, entries, items):
        p = self.params
        parallel = p['parallel'] or WORKERS

        def start(index):
            return self.client.post(guest_path(entries[index]) + '/agent/exec', command=JsonArray(p['command']),
                                    **{'input-data': p['input']})['pid']
        pids, began = {}, time.monotonic()
        for index, answer, error in parallel_map(start, range(len(entries)), parallel):
            if error is not None:
                items[index]['error'] = reason(error)
            else:
                items[index]['ran'] = True
                pids[index] = answer

        def probe(index):
            try:
                answer = self.client.get(guest_path(entries[index]) + '/agent/exec-status', pid=pids[index])
            except PveError as exc:  # the agent stopped answering: final, the process is out of reach
                return {'error': reason(exc)}
            return answer if str(answer.get('exited')) in ('1', 'True', 'true') else None
        left = p['timeout'] - (time.monotonic() - began)
        answers, pending = wait_until(list(pids), probe, max(left, 0), parallel=parallel, first_pause=0.2)
        for index, answer in answers.items():
            self.record(items[index], answer)
        for index in pending:
            items[index]['timed_out'] = True

    @staticmethod
    def record(item, answer):
        if 'error' in answer:
            item['error'] = answer['error']
            return
        item['rc'] = None if answer.get('exitcode') is None else int(answer['exitcode'])
        item['signal'] = None if answer.get('signal') is None else int(answer['signal'])
        truncated = False
        for stream, key in (('stdout', 'out'), ('stderr', 'err')):
            item[stream], was_cut = cut(answer.get(key + '-data'))
            truncated = truncated or was_cut or str(answer.get(key + '-truncated')) in ('1', 'True', 'true')
        item['truncated'] = truncated


def main():
    PveGuestExec(pve_module(dict(
        vms=dict(type='list', elements='raw', required=True),
        command=dict(type='list', elements='str', required=True),
        input=dict(type='str'),
        timeout=dict(type='int', default=30),
        parallel=dict(type='int', default=8),
    ))).run()


if __name__ == '__main__':
    main()
