#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The work is done by the action plugin of the same name (plugins/action/lab_files.py) on the controller.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lab_files
short_description: Write the lab's roster and secrets files on the controller in one step
version_added: 0.1.0
description:
  - Writes each given file on the Ansible controller (where C(ansible-playbook) runs; in AWX, the job's
    execution environment) when its content or mode differs, atomically (a reader sees the old file or the
    new one) and with its mode set before it appears, so a secrets file is never readable by others.
  - It runs inside the controller's process, without starting a module, so an unchanged file costs nothing.
    The lab role writes its roster (CSV and JSON) and its C(.secrets) file with it.
  - It does not talk to Proxmox VE and takes no connection options; it is not in the C(pve) action group.
  - Every entry is checked (directory exists, mode is valid) before the first file is written.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Path of the file on the controller. A relative path is relative to the directory
            C(ansible-playbook) runs in. Its directory must exist.
        type: path
        required: true
      content:
        description: The whole content of the file.
        type: str
        required: true
      mode:
        description: Permissions, an octal string such as V("0600").
        type: raw
        default: "0644"
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the old and new content of each changed file (nothing when the task has C(no_log)).
  action:
    support: full
    description: Runs as an action plugin on the controller.
  platform:
    support: full
    platforms: posix
    description: Writes on the controller, whatever host the task runs for.
author:
  - pvelab.proxmox developers (@pvelab)
'''

EXAMPLES = r'''
- name: Roster as CSV and JSON
  pvelab.proxmox.lab_files:
    files:
      - path: netadmin-roster.csv
        content: "{{ roster | pvelab.proxmox.lab_csv(['username', 'vmid', 'node', 'ip', 'console_url']) }}"
      - path: netadmin-roster.json
        content: "{{ roster | to_nice_json }}\n"

- name: Generated passwords, readable by the owner only
  pvelab.proxmox.lab_files:
    files:
      - path: netadmin-roster.csv.secrets
        content: "{{ secrets_csv }}"
        mode: "0600"
  no_log: true
'''

RETURN = r'''
files:
  description: One entry per file, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the file.
      type: str
      sample: /home/teacher/netadmin-roster.csv
    state:
      description: V(created), V(updated) (content or mode) or V(unchanged).
      type: str
      sample: unchanged
    changed:
      description: Whether this file was (or in check mode would be) written.
      type: bool
      sample: false
'''
