"""lab_files: writes the controller's files only when they differ, atomically, with their mode, checks all
entries before the first write, and honours check mode and diff."""

import os
import stat
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.pvelab.proxmox.plugins.action.lab_files import ActionModule


def run(files, check=False, diff=False):
    task = MagicMock()
    task.args = {'files': files}
    task.check_mode = check
    task.diff = diff
    task.async_val = 0
    action = ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_creates_then_unchanged_then_updates(tmp_path):
    path = tmp_path / 'r.csv'
    first = run([{'path': str(path), 'content': 'a\n'}])
    assert first['changed'] and first['files'] == [{'path': str(path), 'changed': True, 'state': 'created'}]
    assert path.read_text() == 'a\n' and mode_of(path) == 0o644
    again = run([{'path': str(path), 'content': 'a\n'}])
    assert not again['changed'] and again['files'][0]['state'] == 'unchanged'
    update = run([{'path': str(path), 'content': 'b\n'}], diff=True)
    assert update['changed'] and update['files'][0]['state'] == 'updated'
    assert update['diff'] == [{'before_header': str(path), 'after_header': str(path), 'before': 'a\n', 'after': 'b\n'}]
    assert path.read_text() == 'b\n'
    assert [p.name for p in tmp_path.iterdir()] == ['r.csv'], 'no temporary file left behind'


def test_mode_is_enforced_and_a_secrets_file_is_never_world_readable(tmp_path):
    path = tmp_path / 'r.csv.secrets'
    path.write_text('old')
    os.chmod(str(path), 0o644)
    result = run([{'path': str(path), 'content': 'old', 'mode': '0600'}])
    assert result['changed'] and mode_of(path) == 0o600
    new = tmp_path / 'new.secrets'
    run([{'path': str(new), 'content': 'x', 'mode': '600'}])
    assert mode_of(new) == 0o600


def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / 'r.csv'
    result = run([{'path': str(path), 'content': 'a'}], check=True)
    assert result['changed'] and not path.exists()


def test_every_entry_is_checked_before_the_first_write(tmp_path):
    good = tmp_path / 'good.csv'
    with pytest.raises(AnsibleActionFail, match=r'files\[.*bad\.csv\]\.mode: .*0999'):
        run([{'path': str(good), 'content': 'a'}, {'path': str(tmp_path / 'bad.csv'), 'content': 'b', 'mode': '0999'}])
    with pytest.raises(AnsibleActionFail, match='directory .*nowhere does not exist'):
        run([{'path': str(good), 'content': 'a'}, {'path': str(tmp_path / 'nowhere' / 'x'), 'content': 'b'}])
    assert not good.exists()


def test_not_a_regular_file_is_refused(tmp_path):
    with pytest.raises(AnsibleActionFail, match='is not a regular file'):
        run([{'path': str(tmp_path), 'content': 'a'}])
