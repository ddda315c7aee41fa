# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the lab's own files (roster, secrets) on the controller, in the controller's process.

Why not ansible.builtin.copy: each copy task starts a module process (a stat) even when nothing
changes, about half a second; a lab run writes up to three files. This plugin compares and writes
them in place, so an unchanged roster costs nothing.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = dict(
    files=dict(type='list', elements='dict', required=True, options=dict(
        path=dict(type='path', required=True),
        content=dict(type='str', required=True, no_log=False),
        mode=dict(type='raw', default='0644'),
    )),
)


def parse_mode(value, path):
    """'0644', '644', 0o644 or 420 -> 0o644; anything else is refused with the file it belongs to."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        text = str(value).strip()
        if not text or any(ch not in '01234567' for ch in text):
            raise AnsibleActionFail('files[{0}].mode: {1!r} is not an octal mode like "0644"'.format(path, value))
        mode = int(text, 8)
    if not 0 <= mode <= 0o7777:
        raise AnsibleActionFail('files[{0}].mode: {1!r} is out of range'.format(path, value))
    return mode


def current(path):
    """(content bytes, mode) of an existing regular file, or (None, None) when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(st.st_mode):
        raise AnsibleActionFail('{0} exists and is not a regular file'.format(path))
    with open(path, 'rb') as fh:
        return fh.read(), stat.S_IMODE(st.st_mode)


def write_atomically(path, data, mode):
    """Readers see the old file or the new one, never half of one; the mode is set before the rename
    so a secrets file is never readable by others, not even for a moment."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path) + '.')
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        files = []
        for item in args['files']:
            path = os.path.abspath(os.path.expanduser(item['path']))
            if not os.path.isdir(os.path.dirname(path)):
                raise AnsibleActionFail('files[{0}].path: directory {1} does not exist'.format(
                    item['path'], os.path.dirname(path)))
            files.append((path, to_bytes(item['content'], errors='surrogate_or_strict'),
                          parse_mode(item['mode'], item['path'])))
        # Everything is checked before the first write: a bad entry leaves all files as they were.
        report, diffs = [], []
        for path, data, mode in files:
            old, old_mode = current(path)
            content_changed = old != data
            mode_changed = old_mode != mode
            entry = {'path': path, 'changed': content_changed or mode_changed,
                     'state': 'created' if old is None else ('updated' if content_changed or mode_changed
                                                             else 'unchanged')}
            report.append(entry)
            if content_changed:
                diffs.append({'before_header': path, 'after_header': path,
                              'before': to_text(old or b''), 'after': to_text(data)})
            if self._task.check_mode:
                continue
            if not entry['changed']:
                continue
            if content_changed:
                write_atomically(path, data, mode)
            else:
                os.chmod(path, mode)
        result['files'] = report
        result['changed'] = any(f['changed'] for f in report)
        if self._task.diff and diffs:
            result['diff'] = diffs
        return result
