"""The test command itself, as a newcomer runs it: on a machine where ansible-test has never run.

`scripts/test` must prepare, once and before anything runs in parallel, the state ansible-test would make on
first use under ~/.ansible/test (its pip bootstrap, its SSH key). ansible-test finds that directory through
HOME, so a fresh HOME here is a fresh machine for it; PVELAB_WORK keeps the collection copies and fakes of
these runs apart from those of the run that is testing.
"""

import os
import stat
import subprocess

import pytest

from helpers import REPO



def run_test_command(home, work, *args, **env):
    run_env = dict(os.environ, HOME=str(home), PVELAB_WORK=str(work), **env)
    proc = subprocess.run([str(REPO / 'scripts' / 'test')] + list(args), capture_output=True, text=True,
                          env=run_env, cwd=str(REPO), timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def fresh_home(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    assert not (home / '.ansible').exists()
    return home


def test_setup_makes_ansible_tests_one_time_state_before_any_step(fresh_home, tmp_path):
    rc, out = run_test_command(fresh_home, tmp_path / 'work', 'setup')
    assert rc == 0, out[-4000:]
    base = fresh_home / '.ansible' / 'test'
    key, pub = base / 'id_rsa', base / 'id_rsa.pub'
    assert key.is_file() and pub.is_file(), out[-4000:]
    # what ansible-test's own generate_key_pair leaves: a PEM RSA key paramiko reads, readable by its owner only
    assert key.read_text().startswith('-----BEGIN RSA PRIVATE KEY-----')
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert pub.read_text().startswith('ssh-rsa ')
    assert list((base / 'cache').glob('get_pip_*.py')) and list((base / 'cache').glob('pip-*.whl'))
    assert not list(base.glob('.keygen.*'))
    # a second setup keeps the key (the shards of an earlier run may be using it)
    before = key.read_bytes()
    rc, out = run_test_command(fresh_home, tmp_path / 'work', 'setup')
    assert rc == 0, out[-4000:]
    assert key.read_bytes() == before


def test_integration_shards_start_together_on_a_fresh_machine(fresh_home, tmp_path):
    """Two shards, started at the same moment with no ~/.ansible/test: both run their target and pass."""
    rc, out = run_test_command(fresh_home, tmp_path / 'work', 'integration', 'pve_group', 'pve_role',
                               INTEGRATION_SHARDS='2')
    assert 'already exists' not in out
    assert rc == 0, out[-6000:]
    for shard, target in (('1', 'pve_group'), ('2', 'pve_role')):
        log = out.split('--- integration shard ' + shard, 1)[1]
        assert 'Running {0} integration test role'.format(target) in log.split('--- integration shard', 1)[0], out
