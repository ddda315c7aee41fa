"""Run real ansible-playbook processes against a fake cluster from pytest.

    result = run_playbook(pve_cluster, tasks=[{'pvelab.proxmox.pve_node_info': {}, 'register': 'nodes'}])
    assert result.rc == 0
    assert result.task('pvelab.proxmox.pve_node_info')['nodes'][0]['node'] == 'pve1'

The play sets the connection once through module_defaults on the collection's action group, as
users do. Output is taken with the e2e_json stdout callback (structured results per task) unless
callback='default' is asked for (the text users see, e.g. to grep a -vvv run for secrets).
"""

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def collections_path():
    """Where ansible finds pvelab.proxmox: the test command's copy, or a symlink to this checkout."""
    if os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        return os.environ['ANSIBLE_COLLECTIONS_PATH']
    base = Path(tempfile.gettempdir()) / 'pvelab-e2e-collections'
    link = base / 'ansible_collections' / 'pvelab' / 'proxmox'
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO)
        except FileExistsError:
            pass
    return str(base)


FIREWALL_COMPILE_WAIT = 0.2


def lab_connection_vars(cluster):
    """The connection variables of the lab roles (pve_api_*), for extra_vars."""
    return {'pve_api_host': cluster.host, 'pve_api_port': cluster.port, 'pve_api_user': cluster.user,
            'pve_api_password': cluster.password, 'pve_ca_path': cluster.ca_path}


WRITES = ('POST', 'PUT', 'DELETE')


def run_lab(cluster, tmp_path, lab_name, playbook='lab_up', **lab_vars):
    """One of the collection's lab playbooks (lab_up, lab_down, lab_reset, lab_rebuild) for lab <lab_name>, with
    the teacher 192.0.2.10/32 and the roster <lab_name>-roster.csv in tmp_path unless lab_vars say otherwise."""
    extra = lab_connection_vars(cluster)
    extra.update({'lab_name': lab_name, 'lab_teacher_sources': ['192.0.2.10/32'],
                  'lab_roster_path': str(tmp_path / '{0}-roster.csv'.format(lab_name))})
    extra.update(lab_vars)
    return run_playbook(cluster, playbook='pvelab.proxmox.' + playbook, extra_vars=extra, tmp_path=tmp_path)


def api_writes(cluster, since=0):
    """The API writes (logins aside) the fake has seen, from request number `since` on."""
    return [r for r in cluster.pve.request_log()[since:] if r[0] in WRITES and not r[1].endswith('/access/ticket')]


def connection_vars(cluster):
    return {'api_host': cluster.host, 'api_port': cluster.port, 'api_user': cluster.user,
            'api_password': cluster.password, 'ca_path': cluster.ca_path}


class PlaybookResult(object):
    def __init__(self, proc, callback):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = None
        self.stats = {}
        if callback == 'json':
            try:
                self.data = json.loads(proc.stdout[proc.stdout.index('{'):])
            except ValueError:
                self.data = None
            if self.data:
                self.stats = self.data.get('stats', {}).get('localhost', {})

    @property
    def changed(self):
        return self.stats.get('changed', 0)

    @property
    def failed(self):
        return self.stats.get('failures', 0)

    def tasks(self):
        """[(task name, localhost result)] in order, for every play."""
        out = []
        for play in (self.data or {}).get('plays', []):
            for task in play.get('tasks', []):
                out.append((task['task']['name'], task['hosts'].get('localhost', {})))
        return out

    def task(self, name):
        """The result of the last task with this name (or whose name contains it)."""
        found = [r for n, r in self.tasks() if n == name] or [r for n, r in self.tasks() if name in n]
        if not found:
            raise KeyError('no task named {0!r}; tasks: {1}'.format(name, [n for n, _ in self.tasks()]))
        return found[-1]

    def failures(self):
        """[(task name, message)] of the tasks that failed (rescued ones included)."""
        return [(n, r.get('msg') or r.get('module_stderr') or r) for n, r in self.tasks() if r.get('failed')]

    def __repr__(self):
        if self.data is not None:
            return '<PlaybookResult rc={0} changed={1} failures={2}>\n{3}'.format(
                self.rc, self.changed, self.failures(), self.stderr[-3000:])
        return '<PlaybookResult rc={0}>\n{1}\n{2}'.format(self.rc, self.stdout[-6000:], self.stderr[-3000:])


def run_playbook(cluster, tasks=None, play=None, extra_vars=None, check=False, diff=False, verbosity=0,
                 callback='json', env=None, timeout=900, playbook=None, tmp_path=None):
    """Run tasks (a list of task dicts), a whole play dict, or a playbook file against the cluster."""
    workdir = Path(tmp_path or tempfile.mkdtemp(prefix='pvelab-e2e-'))
    if playbook is None:
        if play is None:
            play = {'name': 'e2e', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks or []}
        play = dict(play)
        play.setdefault('hosts', 'localhost')
        play.setdefault('gather_facts', False)
        defaults = dict(play.get('module_defaults') or {})
        defaults.setdefault('group/pvelab.proxmox.pve', connection_vars(cluster))
        play['module_defaults'] = defaults
        playbook = workdir / 'playbook.yml'
        playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           str(playbook)]
    if extra_vars and 'lab_name' in extra_vars:
        # pve-firewall's 10 s compile cycle at the fake's time scale (0.01), with room (the role waits 12 s).
        extra_vars = dict({'lab_firewall_compile_wait': FIREWALL_COMPILE_WAIT}, **extra_vars)
    if extra_vars:
        vars_file = workdir / 'extra_vars.json'
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ['-e', '@' + str(vars_file)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    run_env = dict(os.environ)
    run_env.pop('REQUESTS_CA_BUNDLE', None)
    run_env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_STDOUT_CALLBACK': 'e2e_json' if callback == 'json' else 'ansible.builtin.default',
        'ANSIBLE_CALLBACK_PLUGINS': str(Path(__file__).resolve().parent / 'callback_plugins'),
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
    })
    run_env.update(env or {})
    started, cpu = time.time(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=timeout, cwd=str(workdir))
    result = PlaybookResult(proc, callback)
    if os.environ.get('PVELAB_E2E_RUNLOG'):
        # one line per run: which test, which playbook, its wall and CPU seconds (what a test's time is made of)
        with open(os.environ['PVELAB_E2E_RUNLOG'], 'a') as out:
            out.write(json.dumps({'test': os.environ.get('PYTEST_CURRENT_TEST', '').rsplit(' ', 1)[0],
                                  'playbook': os.path.basename(str(playbook)), 'rc': result.rc,
                                  'wall': round(time.time() - started, 2),
                                  'cpu': round(_children_cpu() - cpu, 2)}) + '\n')
    return result


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def clone_task_fails(pve, vm_name, message):
    """While active, the clone task making vm_name ends in TASK ERROR with message after 10 s of PVE time,
    its config already written and locked 'clone' (as when storage fills up mid-copy)."""
    from fakepve.model import TaskError
    original = pve.task

    async def failing_task(node, ttype, tid, user, body, vm=None, lock=True, log=()):
        if ttype == 'qmclone' and vm is not None and vm.name == vm_name:
            async def body():  # noqa: F811
                await pve.pause(10)
                raise TaskError(message)
        return await original(node, ttype, tid, user, body, vm=vm, lock=lock, log=log)
    pve.task = failing_task
    try:
        yield
    finally:
        pve.task = original
