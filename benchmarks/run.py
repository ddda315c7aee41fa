#!/usr/bin/env python3
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lab-N with pvelab.proxmox and with community.proxmox, side by side, on the same fake PVE.

    .venv/bin/python benchmarks/run.py                 # the full benchmark (about 30-40 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick         # lab-10 only, one repeat (a few minutes)
    .venv/bin/python benchmarks/run.py --sizes 10,50 --durations instant --repeats 3 --cp-max-n 50

For every N, task-duration setting, repeat and tool (the two tools alternate, the order swapped on each
repeat) a fresh fake cluster is started (tests/fakecluster, benchmarks/clusters/lab3.json), then three
phases run: provision (lab_up), idempotent re-run (lab_up again), teardown (lab_down). Each phase records
wall seconds, the API requests the fake logged (log cleared between phases), the changed count (loop
items counted one by one, by benchmarks/callback_plugins/bench_stats.py; the PLAY RECAP's task count is
kept too), and a check of the fake's state (the lab really built / really gone).

Tools:
- ours: `ansible-playbook pvelab.proxmox.lab_up|lab_down -e @vars.yml`, run by ansible-core from the
  virtualenv .venv-bench-core (Python 3.12, the same ansible-core as the community.proxmox run),
  the collection found through a symlink to this checkout.
- cp: benchmarks/cproxmox/lab_up.yml and lab_down.yml, from .venv-bench-cp (Python 3.12, PyPI `ansible`,
  which bundles community.proxmox). Variant `loop` clones one after the other (the issue's baseline);
  variant `async` starts every clone with async/poll: 0 and waits with async_status.
Both virtualenvs are created on first use; neither is the collection's test virtualenv (.venv), which
only serves the fake.

Output: a table on stdout, targets PASS/FAIL, results as JSON in the work directory, and the Markdown
report between the markers in docs/benchmark.md (the text around them is kept).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLUSTER = HERE / 'clusters' / 'lab3.json'
REPORT = ROOT / 'docs' / 'benchmark.md'
BEGIN, END = '<!-- benchmark results: begin (written by benchmarks/run.py) -->', '<!-- benchmark results: end -->'
TOPO_CLUSTER = HERE / 'clusters' / 'topo3.json'
TOPO_BEGIN = '<!-- topology benchmark results: begin (written by benchmarks/run.py --topology) -->'
TOPO_END = '<!-- topology benchmark results: end -->'
TOPO_ZONE = 'pvelab'
TOPO_ROUTER, TOPO_CLIENT = 'tmpl-router', 'tmpl-debian'

PY312 = ('/root/.pyenv/versions/3.12.1/bin/python3.12', 'python3.12', 'python3.13')
ANSIBLE_PACKAGE = 'ansible==14.5.0'
PROXMOXER = 'proxmoxer==2.3.0'
REQUESTS = 'requests==2.34.2'
VENVS = {
    # The same ansible-core for both tools: the one the `ansible` package pulls in.
    'cp': (ROOT / '.venv-bench-cp', [ANSIBLE_PACKAGE, PROXMOXER, REQUESTS]),
    'ours': (ROOT / '.venv-bench-core', ['ansible-core=={core}', PROXMOXER, REQUESTS]),
}
PHASES = ('provision', 'rerun', 'teardown')
PHASE_TITLES = {'provision': 'provision (lab_up)', 'rerun': 're-run (lab_up again)', 'teardown': 'teardown (lab_down)'}
LAB = 'bench'
TEACHER = '192.0.2.10/32'
CP_VMID_BASE = 1000


def log(msg=''):
    print(msg, flush=True)


# ============================================================ setup

def find_python312():
    for candidate in [os.environ.get('PVELAB_BENCH_PYTHON')] + list(PY312):
        if not candidate:
            continue
        path = shutil.which(candidate) or (candidate if os.path.exists(candidate) else None)
        if path:
            try:
                ok = subprocess.run([path, '-c', 'import sys; sys.exit(sys.version_info[:2] < (3, 12))']).returncode == 0
            except OSError:
                ok = False
            if ok:
                return path
    sys.exit('benchmark: no Python >= 3.12 for ansible-core 2.21 (set PVELAB_BENCH_PYTHON)')


def pip_install(venv, packages):
    stamp = venv / '.bench-requirements'
    want = '\n'.join(packages)
    if (venv / 'bin' / 'python').exists() and stamp.exists() and stamp.read_text() == want:
        return
    if not (venv / 'bin' / 'python').exists():
        log('creating {0}'.format(venv))
        subprocess.run([find_python312(), '-m', 'venv', str(venv)], check=True)
    log('installing into {0}: {1}'.format(venv.name, ' '.join(packages)))
    subprocess.run([str(venv / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
                   + packages, check=True)
    stamp.write_text(want)


def core_version(venv):
    out = subprocess.run([str(venv / 'bin' / 'python'), '-c', 'import ansible.release as r; print(r.__version__)'],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def collection_version(venv, name):
    code = ('import json, importlib.util, os; spec = importlib.util.find_spec("ansible_collections.{0}"); '
            'print(json.load(open(os.path.join(list(spec.submodule_search_locations)[0], "MANIFEST.json")))'
            '["collection_info"]["version"])').format(name)
    out = subprocess.run([str(venv / 'bin' / 'python'), '-c', code], capture_output=True, text=True)
    return out.stdout.strip() or '?'


def fake_python():
    """The interpreter that runs the fake: this one if it has fakepve, else the collection's test venv."""
    try:
        import fakepve  # noqa: F401
        return sys.executable
    except ImportError:
        pass
    venv_python = ROOT / '.venv' / 'bin' / 'python'
    if not venv_python.exists():
        log('creating the collection test virtualenv (.venv) with scripts/test setup')
        subprocess.run([str(ROOT / 'scripts' / 'test'), 'setup'], check=True)
    return str(venv_python)


def setup(args, work):
    cp_venv, cp_packages = VENVS['cp']
    if 'cp' in args.tools:
        pip_install(cp_venv, cp_packages)
        core = core_version(cp_venv)
    else:
        core = args.core_version
    ours_venv, ours_packages = VENVS['ours']
    pip_install(ours_venv, [p.format(core=core) for p in ours_packages])
    # The collection, where ansible looks for collections: a copy of this checkout taken now, so that the whole
    # run measures one version of it even while the checkout changes.
    copy = work / 'collections' / 'ansible_collections' / 'pvelab' / 'proxmox'
    if copy.is_symlink():
        copy.unlink()
    shutil.rmtree(copy, ignore_errors=True)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        '.git', '.venv*', '.tmp', 'output', 'benchmarks', '__pycache__', '*.pyc', '.pytest_cache', '.hypothesis',
        '*.tar.gz', 'demo-out'))
    (work / 'inventory').write_text('localhost ansible_connection=local\n')
    # One configuration for both tools: linear strategy (the default), pipelining on, the counting callback.
    (work / 'ansible.cfg').write_text('\n'.join([
        '[defaults]',
        'inventory = {0}'.format(work / 'inventory'),
        'collections_path = {0}'.format(work / 'collections'),
        'callback_plugins = {0}'.format(HERE / 'callback_plugins'),
        'callbacks_enabled = bench_stats',
        'retry_files_enabled = False',
        'localhost_warning = False',
        'interpreter_python = auto_silent',
        'nocolor = True',
        '[connection]',
        'pipelining = True',
        '']))
    versions = {
        'ansible-core': core,
        'ansible (PyPI package)': ANSIBLE_PACKAGE.split('==')[1] if 'cp' in args.tools else '-',
        'community.proxmox': collection_version(cp_venv, 'community.proxmox') if 'cp' in args.tools else '-',
        'pvelab.proxmox': '{0} ({1})'.format(galaxy_version(), git_commit()),
        'python (ansible)': subprocess.run([str(ours_venv / 'bin' / 'python'), '-V'], capture_output=True,
                                           text=True).stdout.strip().replace('Python ', ''),
        'proxmoxer': PROXMOXER.split('==')[1],
        'fakepve': subprocess.run([fake_python(), '-c', 'import importlib.metadata as m; print(m.version("fakepve"))'],
                                  capture_output=True, text=True).stdout.strip(),
    }
    return versions


def galaxy_version():
    found = re.search(r'^version:\s*(\S+)', (ROOT / 'galaxy.yml').read_text(), re.M)
    return found.group(1) if found else '?'


def git_commit():
    out = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True)
    dirty = subprocess.run(['git', '-C', str(ROOT), 'status', '--porcelain', '--', 'plugins', 'roles', 'playbooks'],
                           capture_output=True, text=True).stdout.strip()
    return (out.stdout.strip() or '?') + ('+local changes' if dirty else '')


def machine():
    model = '?'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return {'cores': os.cpu_count(), 'cpu': model, 'system': platform.platform(),
            'load': ' '.join('{0:.2f}'.format(x) for x in os.getloadavg())}


# ============================================================ the fake

class Fake(object):
    """A fresh fake cluster in its own process: `python -m fakecluster serve` (tests/fakecluster)."""

    def __init__(self, work, description, durations, settings):
        self.dir = Path(tempfile.mkdtemp(prefix='fake-', dir=str(work)))
        self.info_file = self.dir / 'info.json'
        cmd = [fake_python(), '-m', 'fakecluster', 'serve', str(description), '--info-file', str(self.info_file)]
        for flag, value in settings_for(durations, settings).items():
            cmd += [flag, str(value)]
        env = dict(os.environ, PYTHONPATH=str(ROOT / 'tests'))
        self.log = open(self.dir / 'fake.log', 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while not self.info_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('the fake did not start: ' + (self.dir / 'fake.log').read_text()[-2000:])
            time.sleep(0.1)
        self.info = json.loads(self.info_file.read_text())
        self.context = ssl.create_default_context(cafile=self.info['ca_path'])
        # Keep every request in the log (fakepve keeps the last 10000 by default).
        self.control('POST', '/set', {'max_requests': 10 ** 8})

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else (b'' if method == 'POST' else None)
        request = urllib.request.Request(self.info['control_url'] + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, context=self.context, timeout=120) as answer:
            return json.load(answer)

    def env(self):
        return {'PROXMOX_HOST': self.info['host'], 'PROXMOX_PORT': str(self.info['port']),
                'PROXMOX_USER': self.info['user'], 'PROXMOX_PASSWORD': self.info['password'],
                'PROXMOX_CA_PATH': self.info['ca_path'], 'PROXMOX_VALIDATE_CERTS': 'true'}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def settings_for(durations, settings):
    if durations == 'instant':
        return {'--time-scale': 0}
    return {'--time-scale': settings.time_scale, '--clone-secs': settings.clone_secs,
            '--start-secs': settings.start_secs, '--stop-secs': settings.stop_secs,
            '--shutdown-secs': settings.shutdown_secs}


def endpoint(path):
    """A request path with ids folded: /api2/json/nodes/pve1/qemu/1003/config -> /nodes/{node}/qemu/{vmid}/config."""
    path = re.sub(r'^/api2/json', '', path)
    path = re.sub(r'/nodes/[^/]+', '/nodes/{node}', path)
    path = re.sub(r'/(qemu|lxc)/\d+', r'/\1/{vmid}', path)
    path = re.sub(r'/tasks/UPID[^/]+', '/tasks/{upid}', path)
    path = re.sub(r'/access/users/[^/]+', '/access/users/{userid}', path)
    path = re.sub(r'/snapshot/[^/]+', '/snapshot/{snapname}', path)
    path = re.sub(r'/vms/\d+', '/vms/{vmid}', path)
    return path


def request_summary(log_entries):
    counts = {}
    for method, path, _body in log_entries:
        key = '{0} {1}'.format(method, endpoint(path))
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:12])


# ============================================================ checks of the fake's state

def check_present(state, n, roster):
    problems = []
    users = set(u['userid'] for u in state['users'])
    missing = [u for u in student_ids(n) if u + '@pve' not in users]
    if missing:
        problems.append('{0} accounts missing'.format(len(missing)))
    vms = [vm for vm in state['vms'] if (vm['name'] or '').startswith(LAB + '-s')]
    if len(vms) != n:
        problems.append('{0} student VMs, not {1}'.format(len(vms), n))
    pool = [p for p in state['pools'] if p['poolid'] == LAB]
    if not pool or len(pool[0]['vms']) != n:
        problems.append('pool {0} holds {1} VMs'.format(LAB, len(pool[0]['vms']) if pool else 'no'))
    guests = state['firewall']['guests']
    acl = set((a['path'], a['ugid']) for a in state['acl'])
    bad = {'not running': 0, 'no tag': 0, 'NIC without firewall=1': 0, 'VM firewall off': 0, 'no ACL': 0}
    for vm in vms:
        bad['not running'] += vm['status'] != 'running'
        bad['no tag'] += LAB not in (vm['tags'] or '').split(';')
        bad['NIC without firewall=1'] += 'firewall=1' not in vm['config'].get('net0', '')
        options = guests.get(str(vm['vmid']), {}).get('options', {})
        bad['VM firewall off'] += not (int(options.get('enable') or 0) == 1 and options.get('policy_in') == 'DROP')
        owner = vm['name'][len(LAB) + 1:] + '@pve'
        bad['no ACL'] += ('/vms/{0}'.format(vm['vmid']), owner) not in acl
    problems += ['{0} VMs: {1}'.format(count, what) for what, count in bad.items() if count]
    if int(state['firewall']['options'].get('enable') or 0) != 1:
        problems.append('datacenter firewall off')
    if not any(name.startswith(LAB) for name in state['firewall']['ipset']):
        problems.append('no teacher IP set')
    if not roster.exists() or len(roster.read_text().strip().splitlines()) != n + 1:
        problems.append('roster missing or incomplete')
    return problems


def check_absent(state, n):
    problems = []
    users = set(u['userid'] for u in state['users'])
    left = [u for u in student_ids(n) if u + '@pve' in users]
    if left:
        problems.append('{0} accounts left'.format(len(left)))
    vms = [vm for vm in state['vms'] if (vm['name'] or '').startswith(LAB + '-s')]
    if vms:
        problems.append('{0} VMs left'.format(len(vms)))
    if any(p['poolid'] == LAB for p in state['pools']):
        problems.append('pool left')
    if any(a['ugid'].endswith('@pve') and a['ugid'].startswith('s') for a in state['acl']):
        problems.append('ACL entries left')
    if state['firewall']['groups'] or state['firewall']['ipset']:
        problems.append('security group or IP set left')
    if state['roles']:
        problems.append('role left: {0}'.format(', '.join(state['roles'])))
    return problems


def student_ids(n):
    return ['s{0:03d}'.format(i + 1) for i in range(n)]


# ============================================================ one run

def write_vars(path, n, roster, extra=None):
    students = [{'username': u, 'password': 'Pw-{0}-bench!'.format(u), 'email': '{0}@example.org'.format(u)}
                for u in student_ids(n)]
    data = {'lab_name': LAB, 'lab_template': 'tmpl-debian', 'lab_students': students,
            'lab_teacher_sources': [TEACHER], 'lab_roster_path': str(roster),
            # pve-firewall's 10 s compile cycle at the fake's time scale: the wait the role makes before a start.
            'lab_firewall_compile_wait': 0.2}
    data.update(extra or {})
    path.write_text(json.dumps(data, indent=1))


def playbook_command(tool, phase, variant, topology=False):
    """ansible-playbook and its playbook: pvelab.proxmox's lab_up/lab_down (the same for a topology lab, whose
    variables say lab_machines), or community.proxmox's lab_up/lab_down.yml (topo_up/topo_down.yml)."""
    venv = VENVS['ours' if tool == 'ours' else 'cp'][0]
    playbook = 'lab_down' if phase == 'teardown' else 'lab_up'
    if tool == 'ours':
        target = 'pvelab.proxmox.' + playbook
    else:
        if topology:
            playbook = 'topo_down' if phase == 'teardown' else 'topo_up'
        target = str(HERE / 'cproxmox' / (playbook + '.yml'))
    return [str(venv / 'bin' / 'ansible-playbook'), target], venv


def run_phase(fake, tool, variant, phase, vars_file, rundir, profile, topology=False):
    cmd, venv = playbook_command(tool, phase, variant, topology)
    cmd += ['-e', '@' + str(vars_file)]
    stats_file = rundir / '{0}.stats.json'.format(phase)
    env = dict(os.environ)
    for key in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS',
                'PYTHONPATH'):
        env.pop(key, None)
    env.update(fake.env())
    env.update({'ANSIBLE_CONFIG': str(rundir.parent.parent / 'ansible.cfg'),
                'ANSIBLE_PYTHON_INTERPRETER': str(venv / 'bin' / 'python'),
                'PVELAB_BENCH_STATS': str(stats_file), 'PATH': str(venv / 'bin') + os.pathsep + env.get('PATH', '')})
    if profile:
        env.update({'PVELAB_BENCH_CONTROL_URL': fake.info['control_url'], 'PVELAB_BENCH_CA': fake.info['ca_path']})
    fake.control('POST', '/requests/clear')
    started = time.monotonic()
    with open(rundir / '{0}.log'.format(phase), 'w') as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(rundir))
    wall = time.monotonic() - started
    requests = fake.control('GET', '/requests')
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    result = {'wall': round(wall, 2), 'rc': proc.returncode, 'requests': requests['count'],
              'endpoints': request_summary(requests['requests']),
              'changed': stats.get('changed_items'), 'changed_tasks': stats.get('changed_tasks'),
              'tasks': stats.get('tasks', [])}
    if proc.returncode != 0:
        tail = (rundir / '{0}.log'.format(phase)).read_text()[-3000:]
        result['error'] = tail
    return result


def run_one(args, work, n, durations, tool, variant, repeat, phases=PHASES):
    name = '{0}-n{1}-{2}-r{3}'.format(tool if tool == 'ours' else 'cp-' + variant, n, durations, repeat + 1)
    rundir = work / 'runs' / name
    if rundir.exists():
        shutil.rmtree(rundir)
    rundir.mkdir(parents=True)
    roster = rundir / 'roster.csv'
    extra = {'cp_vmid_base': CP_VMID_BASE, 'cp_async': variant == 'async'} if tool == 'cp' else None
    vars_file = rundir / 'vars.json'
    write_vars(vars_file, n, roster, extra)
    fake = Fake(work, CLUSTER, durations, args)
    out = {'n': n, 'durations': durations, 'tool': tool, 'variant': variant, 'repeat': repeat, 'phases': {}}
    try:
        for phase in phases:
            result = run_phase(fake, tool, variant, phase, vars_file, rundir, args.profile)
            state = fake.control('GET', '/state')
            problems = check_absent(state, n) if phase == 'teardown' else check_present(state, n, roster)
            result['check'] = problems
            out['phases'][phase] = result
            log('  {0:<28} {1:<9} {2:7.1f} s {3:6d} requests  changed {4!s:>4} ({5} tasks){6}{7}'.format(
                name, phase, result['wall'], result['requests'], result['changed'], result['changed_tasks'],
                '' if result['rc'] == 0 else '  FAILED rc={0}'.format(result['rc']),
                '' if not problems else '  CHECK: ' + '; '.join(problems)))
            if result['rc'] != 0:
                log('    ' + result['error'][-1500:].replace('\n', '\n    '))
                break
    finally:
        fake.stop()
        shutil.rmtree(fake.dir, ignore_errors=True)
    (rundir / 'result.json').write_text(json.dumps(out, indent=1))
    return out


# ============================================================ inventory

def run_inventory(args, work, count, repeats):
    """ansible-inventory --list with pvelab.proxmox.pve against a fake holding `count` running VMs."""
    with open(CLUSTER) as fh:
        desc = json.load(fh)
    nodes = [n['name'] for n in desc['nodes']]
    for i in range(count):
        vmid = 2000 + i
        desc['vms'].append({
            'vmid': vmid, 'name': 'inv-{0:04d}'.format(i), 'node': nodes[i % len(nodes)], 'status': 'running',
            'pool': None, 'config': {'memory': 512, 'cores': 1, 'agent': '1', 'ostype': 'l26',
                                     'net0': 'virtio=BC:24:12:{0:02X}:{1:02X}:{2:02X},bridge=vmbr0'.format(
                                         (i >> 16) & 255, (i >> 8) & 255, i & 255),
                                     'tags': 'inv;group{0}'.format(i % 10)}})
        if i % 2:  # half of them answer with a static cloud-init address, half with a DHCP lease
            desc['vms'][-1]['config']['ipconfig0'] = 'ip=10.20.{0}.{1}/16'.format(i // 250, i % 250 + 1)
        del desc['vms'][-1]['pool']
    description = work / 'inventory-{0}.json'.format(count)
    description.write_text(json.dumps(desc))
    fake = Fake(work, description, 'instant', args)
    venv = VENVS['ours'][0]
    source = work / 'bench.pve.yml'
    source.write_text('plugin: pvelab.proxmox.pve\n')
    env = dict(os.environ)
    for key in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'ANSIBLE_COLLECTIONS_PATH', 'PYTHONPATH'):
        env.pop(key, None)
    env.update(fake.env())
    env.update({'ANSIBLE_CONFIG': str(work / 'ansible.cfg'), 'ANSIBLE_INVENTORY_ENABLED': 'pvelab.proxmox.pve'})
    results = []
    try:
        for _ in range(repeats):
            fake.control('POST', '/requests/clear')
            started = time.monotonic()
            proc = subprocess.run([str(venv / 'bin' / 'ansible-inventory'), '-i', str(source), '--list'],
                                  capture_output=True, text=True, env=env, cwd=str(work))
            wall = time.monotonic() - started
            requests = fake.control('GET', '/requests')['count']
            hosts = None
            if proc.returncode == 0:
                try:
                    listing = json.loads(proc.stdout)
                    hosts = len(listing.get('_meta', {}).get('hostvars', {}))
                except ValueError:
                    pass
            results.append({'wall': round(wall, 2), 'rc': proc.returncode, 'requests': requests, 'hosts': hosts,
                            'error': proc.stderr[-1500:] if proc.returncode else None})
            log('  inventory of {0} VMs: {1:.2f} s, {2} requests, {3} hosts{4}'.format(
                count, wall, requests, hosts, '' if proc.returncode == 0 else '  FAILED: ' + proc.stderr[-800:]))
    finally:
        fake.stop()
        shutil.rmtree(fake.dir, ignore_errors=True)
    return results


# ============================================================ tables and targets

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def aggregate(runs):
    """{(n, durations, tool-key, phase): {'wall', 'requests', 'changed', 'count', 'failed', 'checks'}}"""
    groups = {}
    for run in runs:
        key_tool = run['tool'] if run['tool'] == 'ours' else 'cp-' + run['variant']
        for phase, result in run['phases'].items():
            groups.setdefault((run['n'], run['durations'], key_tool, phase), []).append(result)
    out = {}
    for key, results in groups.items():
        good = [r for r in results if r['rc'] == 0]
        out[key] = {'wall': median([r['wall'] for r in good]), 'requests': median([r['requests'] for r in good]),
                    'changed': median([r['changed'] for r in good]), 'count': len(good),
                    'failed': len(results) - len(good),
                    'walls': [r['wall'] for r in results],
                    'checks': sorted(set(p for r in results for p in r.get('check') or []))}
    return out


def per_student(agg, tool, durations, phase, sizes):
    """(n, seconds per student) for the sizes measured."""
    points = []
    for n in sizes:
        cell = agg.get((n, durations, tool, phase))
        if cell and cell['wall'] is not None:
            points.append((n, cell['wall'] / n))
    return points


def extrapolate(agg, tool, durations, phase, n):
    """Seconds at N estimated linearly in N from the two nearest measured sizes (community.proxmox's cost is per
    student: one module run per student per task), marked as an estimate wherever shown."""
    measured = sorted(k[0] for k in agg if k[1:] == (durations, tool, phase) and agg[k]['wall'] is not None)
    if len(measured) < 2:
        return None
    below = [m for m in measured if m < n]
    above = [m for m in measured if m > n]
    if below and above:
        a, b = below[-1], above[0]
    elif below:
        a, b = below[-2:] if len(below) > 1 else (None, None)
    else:
        a, b = above[:2]
    if a is None:
        return None
    wa, wb = agg[(a, durations, tool, phase)]['wall'], agg[(b, durations, tool, phase)]['wall']
    slope = (wb - wa) / (b - a)
    return wb + slope * (n - b)


def fmt(value, digits=1):
    if value is None:
        return '-'
    if isinstance(value, float) and not value.is_integer():
        return '{0:.{1}f}'.format(value, digits)
    return '{0:.{1}f}'.format(value, digits) if digits and isinstance(value, float) else str(int(value))


def build_rows(agg, sizes, durations_list, cp_tool):
    rows = []
    for durations in durations_list:
        for n in sizes:
            for phase in PHASES:
                ours = agg.get((n, durations, 'ours', phase))
                cp = agg.get((n, durations, cp_tool, phase))
                if not ours and not cp:
                    continue
                row = {'n': n, 'durations': durations, 'phase': phase, 'ours': ours, 'cp': cp, 'cp_extrapolated': None}
                if not cp:
                    row['cp_extrapolated'] = extrapolate(agg, cp_tool, durations, phase, n)
                cp_wall = cp['wall'] if cp else row['cp_extrapolated']
                row['ratio'] = (cp_wall / ours['wall']) if (ours and ours['wall'] and cp_wall) else None
                rows.append(row)
    return rows


def cell(agg_cell, key, digits=1):
    if not agg_cell:
        return '-'
    value = agg_cell.get(key)
    if value is None:
        return 'failed' if agg_cell.get('failed') else '-'
    return fmt(float(value), digits if key == 'wall' else 0)


def table_lines(rows, markdown, cp_label):
    head = ['N', 'durations', 'phase', 'ours s', 'ours req', 'ours chg', cp_label + ' s', cp_label + ' req',
            cp_label + ' chg', 'cp/ours wall']
    lines = []
    body = []
    for r in rows:
        cp_s = cell(r['cp'], 'wall')
        if not r['cp'] and r['cp_extrapolated'] is not None:
            cp_s = '~{0:.0f} (estimate)'.format(r['cp_extrapolated'])
        elif not r['cp']:
            cp_s = 'not run'
        ratio = '-' if r['ratio'] is None else ('{0}{1:.1f}x'.format('~' if not r['cp'] else '', r['ratio']))
        flags = []
        for label, c in (('ours', r['ours']), ('cp', r['cp'])):
            if c and c['failed']:
                flags.append('{0}: {1} failed'.format(label, c['failed']))
            if c and c['checks']:
                flags.append('{0} check: {1}'.format(label, '; '.join(c['checks'])))
        body.append([str(r['n']), r['durations'], r['phase'], cell(r['ours'], 'wall'), cell(r['ours'], 'requests'),
                     cell(r['ours'], 'changed'), cp_s, cell(r['cp'], 'requests'), cell(r['cp'], 'changed'), ratio]
                    + ([' '.join(flags)] if flags else []))
    if markdown:
        lines.append('| ' + ' | '.join(head) + ' |')
        lines.append('|' + '|'.join(['---:' if i in (0, 3, 4, 5, 6, 7, 8, 9) else '---' for i in range(len(head))]) + '|')
        for b in body:
            extra = b[10:]
            b = b[:10]
            if extra:
                b[2] += ' (' + extra[0] + ')'
            lines.append('| ' + ' | '.join(b) + ' |')
    else:
        widths = [max(len(x[i]) for x in [head] + [b[:10] for b in body]) for i in range(len(head))]
        lines.append('  '.join(h.rjust(w) if i >= 3 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
        for b in body:
            line = '  '.join(x.rjust(w) if i >= 3 else x.ljust(w) for i, (x, w) in enumerate(zip(b[:10], widths)))
            if len(b) > 10:
                line += '  ' + b[10]
            lines.append(line)
    return lines


def targets(agg, sizes, cp_tool, inventory):
    """[(name, status PASS/FAIL/NOT MEASURED, detail)] for the issue's targets."""
    out = []

    def get(n, durations, tool, phase):
        c = agg.get((n, durations, tool, phase))
        return c if c and c['wall'] is not None else None

    n = 50
    for durations, factor in (('instant', 20), ('realistic', 10)):
        ours, cp = get(n, durations, 'ours', 'provision'), get(n, durations, cp_tool, 'provision')
        name = 'provision lab-50, {0} tasks: ours <= 1/{1} of community.proxmox'.format(durations, factor)
        if ours and cp:
            ratio = cp['wall'] / ours['wall']
            out.append((name, 'PASS' if ratio >= factor else 'FAIL',
                        'ours {0:.1f} s, community.proxmox {1:.1f} s: {2:.1f}x (need {3}x)'.format(
                            ours['wall'], cp['wall'], ratio, factor)))
        else:
            out.append((name, 'NOT MEASURED', 'needs lab-50 of both tools with {0} tasks'.format(durations)))
    for durations in ('instant', 'realistic'):
        ours, cp = get(n, durations, 'ours', 'rerun'), get(n, durations, cp_tool, 'rerun')
        if not ours:
            continue
        limit = 3 * n + 20
        out.append(('re-run lab-50 ({0}): 0 changed'.format(durations),
                    'PASS' if ours['changed'] == 0 else 'FAIL', 'changed {0}'.format(fmt(ours['changed'], 0))))
        out.append(('re-run lab-50 ({0}): <= 3N+20 = {1} API requests'.format(durations, limit),
                    'PASS' if ours['requests'] <= limit else 'FAIL', '{0} requests'.format(fmt(ours['requests'], 0))))
        if cp:
            ratio = cp['wall'] / ours['wall']
            out.append(('re-run lab-50 ({0}): ours <= 1/40 of community.proxmox'.format(durations),
                        'PASS' if ratio >= 40 else 'FAIL',
                        'ours {0:.1f} s, community.proxmox {1:.1f} s: {2:.1f}x (need 40x)'.format(
                            ours['wall'], cp['wall'], ratio)))
        elif durations == 'instant':
            out.append(('re-run lab-50 ({0}): ours <= 1/40 of community.proxmox'.format(durations), 'NOT MEASURED',
                        'community.proxmox lab-50 not run'))
    for durations in ('instant', 'realistic'):
        for phase in PHASES:
            small, large = get(20, durations, 'ours', phase), get(200, durations, 'ours', phase)
            if not (small and large):
                continue
            ratio = (large['wall'] / 200) / (small['wall'] / 20)
            out.append(('scaling {0} ({1}): per-student wall N=200 <= 1.3x N=20'.format(phase, durations),
                        'PASS' if ratio <= 1.3 else 'FAIL',
                        '{0:.3f} s/student at 200, {1:.3f} s/student at 20: {2:.2f}x'.format(
                            large['wall'] / 200, small['wall'] / 20, ratio)))
    if not any(t[0].startswith('scaling') for t in out):
        out.append(('scaling: per-student wall N=200 <= 1.3x N=20', 'NOT MEASURED', 'needs ours at N=20 and N=200'))
    if inventory:
        # The benchmark VMs plus the cluster's own guests (the teacher VM; the template is left out by default).
        good = [r for r in inventory['runs'] if r['rc'] == 0 and (r['hosts'] or 0) >= inventory['vms']]
        if good:
            wall = median([r['wall'] for r in good])
            out.append(('inventory of a {0}-VM cluster < 5 s'.format(inventory['vms']), 'PASS' if wall < 5 else 'FAIL',
                        'median {0:.2f} s, {1} requests'.format(wall, good[0]['requests'])))
        else:
            out.append(('inventory of a {0}-VM cluster < 5 s'.format(inventory['vms']), 'FAIL',
                        'the listing failed or missed hosts: {0}'.format(
                            [(r['rc'], r['hosts']) for r in inventory['runs']])))
    else:
        out.append(('inventory of a 500-VM cluster < 5 s', 'NOT MEASURED', '--inventory-vms 0'))
    return out


def top_tasks(runs, tool, n, durations, phase, count=8):
    """The slowest tasks of one tool's phase, median over repeats: where the time goes."""
    times = {}
    for run in runs:
        key_tool = run['tool'] if run['tool'] == 'ours' else 'cp-' + run['variant']
        if (key_tool, run['n'], run['durations']) != (tool, n, durations) or phase not in run['phases']:
            continue
        for task in run['phases'][phase]['tasks']:
            times.setdefault(re.sub(r'^pvelab\.proxmox\.\w+ : ', '', task['name']), []).append(task['secs'])
    ranked = sorted(((median(v), k) for k, v in times.items()), reverse=True)
    return ranked[:count]


# ============================================================ topology: N students x M machines, a VNet each

def topo_machines(m):
    """lab_machines of an N x M lab: a router with [uplink, private] and M - 1 clients with [private]."""
    out = [{'name': 'router', 'template': TOPO_ROUTER, 'nets': ['uplink', 'private']}]
    out += [{'name': 'client{0}'.format(i + 1), 'template': TOPO_CLIENT, 'nets': ['private']} for i in range(m - 1)]
    return out


def parse_topology(text):
    found = re.match(r'^\s*(\d+)\s*x\s*(\d+)\s*$', text or '')
    if not found or int(found.group(1)) < 1 or int(found.group(2)) < 1:
        raise ValueError('--topology wants NxM (students x machines, e.g. 100x3), not {0!r}'.format(text))
    return int(found.group(1)), int(found.group(2))


def write_topo_vars(path, n, m, roster, extra=None):
    """One vars file for both tools: pvelab.proxmox's topology variables (docs/design.md "Topologies"); the
    community.proxmox playbooks read the same ones."""
    students = [{'username': u, 'password': 'Pw-{0}-bench!'.format(u), 'email': '{0}@example.org'.format(u)}
                for u in student_ids(n)]
    data = {'lab_name': LAB, 'lab_machines': topo_machines(m), 'lab_students': students,
            'lab_sdn_zone': TOPO_ZONE, 'lab_sdn_zone_type': 'simple',
            'lab_teacher_sources': [TEACHER], 'lab_roster_path': str(roster),
            'lab_firewall_compile_wait': 0.2}
    data.update(extra or {})
    path.write_text(json.dumps(data, indent=1))


def nic_props(value):
    """'virtio=BC:..,bridge=vmbr0,firewall=1' -> {'virtio': 'BC:..', 'bridge': 'vmbr0', 'firewall': '1'}."""
    out = {}
    for part in (value or '').split(','):
        key, _, val = part.partition('=')
        if key:
            out[key] = val
    return out


def sdn_pending(state):
    """What of SDN is written but not applied: ['vnets lab0001 new', ...]."""
    written, running = state['sdn']['written'], state['sdn']['running']
    out = []
    for kind in ('zones', 'vnets', 'subnets'):
        a, b = written.get(kind) or {}, running.get(kind) or {}
        for oid in sorted(set(a) | set(b)):
            if oid not in b:
                out.append('{0} {1} new'.format(kind, oid))
            elif oid not in a:
                out.append('{0} {1} deleted'.format(kind, oid))
            elif json.dumps(a[oid], sort_keys=True) != json.dumps(b[oid], sort_keys=True):
                out.append('{0} {1} changed'.format(kind, oid))
    return out


def topo_vms(state, n, m):
    """{(username, machine): vm} of the lab's VMs in the fake (VM names <lab>-<username>-<machine>)."""
    wanted = dict(('{0}-{1}-{2}'.format(LAB, u, mach['name']), (u, mach['name']))
                  for u in student_ids(n) for mach in topo_machines(m))
    return dict((wanted[vm['name']], vm) for vm in state['vms'] if vm['name'] in wanted)


def check_topo_present(state, n, m, roster):
    """The topology lab as built: accounts, N x M VMs running, each student's private NICs on one VNet of the
    lab's zone that is its own, uplink NICs on the uplink bridge and isolated, a student's VMs on one node
    (simple zone), SDN applied, ACL entries, roster."""
    problems = []
    users = set(u['userid'] for u in state['users'])
    missing = [u for u in student_ids(n) if u + '@pve' not in users]
    if missing:
        problems.append('{0} accounts missing'.format(len(missing)))
    vms = topo_vms(state, n, m)
    others = [vm['name'] for vm in state['vms'] if (vm['name'] or '').startswith(LAB + '-s')
              and vm['vmid'] not in set(v['vmid'] for v in vms.values())]
    if len(vms) != n * m or others:
        problems.append('{0} lab VMs, not {1}{2}'.format(len(vms) + len(others), n * m,
                                                         ' ({0} unexpected names)'.format(len(others)) if others else ''))
    vnets = state['sdn']['running'].get('vnets') or {}
    zone = (state['sdn']['running'].get('zones') or {}).get(TOPO_ZONE)
    if zone is None:
        problems.append('zone {0} not applied'.format(TOPO_ZONE))
    pending = sdn_pending(state)
    if pending:
        problems.append('SDN pending: {0}{1}'.format(', '.join(pending[:3]), ' ...' if len(pending) > 3 else ''))
    guests = state['firewall']['guests']
    acl = set((a['path'], a['ugid']) for a in state['acl'])
    bad = dict((k, 0) for k in ('not running', 'no tag', 'no ACL', 'private NIC not on a lab VNet',
                                'private NICs of a student on several VNets', 'uplink NIC not on vmbr0 or no firewall=1',
                                'uplink VM firewall off', 'machines of a student on several nodes', 'VNet shared'))
    owner_of = {}
    for u in student_ids(n):
        bridges, nodes = set(), set()
        for mach in topo_machines(m):
            vm = vms.get((u, mach['name']))
            if vm is None:
                continue
            config = dict(vm['config'], **dict((k, v) for k, v in (vm.get('pending') or {}).items() if v is not None))
            nodes.add(vm['node'])
            bad['not running'] += vm['status'] != 'running'
            bad['no tag'] += LAB not in (config.get('tags') or '').split(';')
            bad['no ACL'] += ('/vms/{0}'.format(vm['vmid']), u + '@pve') not in acl
            for i, net in enumerate(mach['nets']):
                props = nic_props(config.get('net{0}'.format(i)))
                if net == 'uplink':
                    bad['uplink NIC not on vmbr0 or no firewall=1'] += not (
                        props.get('bridge') == 'vmbr0' and props.get('firewall') == '1')
                else:
                    bridge = props.get('bridge')
                    if bridge not in vnets or vnets[bridge].get('zone') != TOPO_ZONE:
                        bad['private NIC not on a lab VNet'] += 1
                    else:
                        bridges.add(bridge)
            if 'uplink' in mach['nets']:
                options = guests.get(str(vm['vmid']), {}).get('options', {})
                bad['uplink VM firewall off'] += not (int(options.get('enable') or 0) == 1
                                                      and options.get('policy_in') == 'DROP')
        bad['private NICs of a student on several VNets'] += len(bridges) > 1
        bad['machines of a student on several nodes'] += len(nodes) > 1
        for bridge in bridges:
            if owner_of.setdefault(bridge, u) != u:
                bad['VNet shared'] += 1
    problems += ['{0}: {1}'.format(what, count) for what, count in bad.items() if count]
    lab_vnets = [v for v, spec in vnets.items() if spec.get('zone') == TOPO_ZONE]
    if len(lab_vnets) != n:
        problems.append('{0} VNets in zone {1}, not {2}'.format(len(lab_vnets), TOPO_ZONE, n))
    if not roster.exists() or len(roster.read_text().strip().splitlines()) != n * m + 1:
        problems.append('roster missing or not one row per VM')
    return problems


def check_topo_absent(state, n, m):
    problems = []
    users = set(u['userid'] for u in state['users'])
    left = [u for u in student_ids(n) if u + '@pve' in users]
    if left:
        problems.append('{0} accounts left'.format(len(left)))
    vms = [vm for vm in state['vms'] if (vm['name'] or '').startswith(LAB + '-s')]
    if vms:
        problems.append('{0} VMs left'.format(len(vms)))
    for copy_name in ('written', 'running'):
        sdn = state['sdn'][copy_name]
        vnets = [v for v, spec in (sdn.get('vnets') or {}).items() if spec.get('zone') == TOPO_ZONE]
        if vnets:
            problems.append('{0} VNets left ({1})'.format(len(vnets), copy_name))
        if TOPO_ZONE in (sdn.get('zones') or {}):
            problems.append('zone {0} left ({1})'.format(TOPO_ZONE, copy_name))
    pending = sdn_pending(state)
    if pending:
        problems.append('SDN pending: {0}'.format(', '.join(pending[:3])))
    if any(p['poolid'] == LAB for p in state['pools']):
        problems.append('pool left')
    if any(a['ugid'].endswith('@pve') and a['ugid'].startswith('s') for a in state['acl']):
        problems.append('ACL entries left')
    if state['firewall']['groups'] or state['firewall']['ipset']:
        problems.append('security group or IP set left')
    return problems


def run_topo_one(args, work, n, m, durations, tool, repeat):
    name = 'topo-{0}-{1}x{2}-{3}-r{4}'.format(tool, n, m, durations, repeat + 1)
    rundir = work / 'runs' / name
    if rundir.exists():
        shutil.rmtree(rundir)
    rundir.mkdir(parents=True)
    roster = rundir / 'roster.csv'
    vars_file = rundir / 'vars.json'
    write_topo_vars(vars_file, n, m, roster, {'cp_vmid_base': CP_VMID_BASE} if tool == 'cp' else None)
    fake = Fake(work, TOPO_CLUSTER, durations, args)
    out = {'n': n, 'm': m, 'durations': durations, 'tool': tool, 'variant': 'loop' if tool == 'cp' else 'ours',
           'repeat': repeat, 'phases': {}}
    applies = 0
    try:
        for phase in PHASES:
            result = run_phase(fake, tool, out['variant'], phase, vars_file, rundir, args.profile, topology=True)
            state = fake.control('GET', '/state')
            # SDN applications of this phase: the fake's task log holds every task since it started
            total = sum(1 for t in state['tasks'] if t['type'] == 'reloadnetworkall')
            result['sdn_applies'], applies = total - applies, total
            problems = check_topo_absent(state, n, m) if phase == 'teardown' else check_topo_present(state, n, m, roster)
            if phase == 'rerun' and tool == 'ours' and result['changed'] not in (0, None):
                problems.append('re-run changed {0}'.format(result['changed']))
            if phase == 'rerun' and result['sdn_applies']:
                problems.append('re-run applied SDN {0}x'.format(result['sdn_applies']))
            result['check'] = problems
            out['phases'][phase] = result
            log('  {0:<30} {1:<9} {2:7.1f} s {3:6d} requests  changed {4!s:>4} ({5} tasks){6}{7}'.format(
                name, phase, result['wall'], result['requests'], result['changed'], result['changed_tasks'],
                '' if result['rc'] == 0 else '  FAILED rc={0}'.format(result['rc']),
                '' if not problems else '  CHECK: ' + '; '.join(problems)))
            if result['rc'] != 0:
                log('    ' + result['error'][-1500:].replace('\n', '\n    '))
                break
    finally:
        fake.stop()
        shutil.rmtree(fake.dir, ignore_errors=True)
    (rundir / 'result.json').write_text(json.dumps(out, indent=1))
    return out


def topo_plan(args):
    """(n, durations, tool, repeat): ours at every size, community.proxmox at its sizes, alternating per repeat."""
    n_full = args.topology[0]
    cp_sizes = args.topology_cp_sizes
    sizes = sorted(set(cp_sizes + [n_full]))
    out = []
    for durations in args.durations:
        for n in sizes:
            for repeat in range(max(args.topology_repeats, args.cp_repeats)):
                runs = []
                if 'ours' in args.tools and repeat < args.topology_repeats:
                    runs.append('ours')
                if 'cp' in args.tools and n in cp_sizes and repeat < args.cp_repeats:
                    runs.append('cp')
                if repeat % 2:
                    runs.reverse()
                out += [(n, durations, tool, repeat) for tool in runs]
    return out


def topo_tool(run):
    return 'ours' if run['tool'] == 'ours' else 'cp-loop'


def topo_report(args, runs):
    """[(title, {'text', 'md', 'targets'})] of a topology run."""
    n_full, m = args.topology
    agg = aggregate(runs)
    sizes = sorted(set(r['n'] for r in runs) | {n_full})
    cp_measured = sorted(set(r['n'] for r in runs if r['tool'] == 'cp'))
    head = ['N x M', 'durations', 'phase', 'ours s', 'ours req', 'req/VM', 'ours chg', 'cp s', 'cp req', 'cp chg',
            'cp/ours wall', 'SDN applied ours/cp']

    def applies(tool, n, durations, phase):
        values = [r['phases'][phase].get('sdn_applies') for r in runs
                  if topo_tool(r) == tool and r['n'] == n and r['durations'] == durations and phase in r['phases']
                  and r['phases'][phase]['rc'] == 0]
        value = median(values)
        return '-' if value is None else fmt(float(value), 0)
    body = []
    for durations in args.durations:
        for n in sizes:
            for phase in PHASES:
                ours, cp = agg.get((n, durations, 'ours', phase)), agg.get((n, durations, 'cp-loop', phase))
                estimate = None
                if not cp and n not in cp_measured:
                    estimate = extrapolate(agg, 'cp-loop', durations, phase, n)
                if not ours and not cp and estimate is None:
                    continue
                cp_wall = cp['wall'] if cp else estimate
                if cp:
                    cp_s = cell(cp, 'wall')
                elif estimate is not None:
                    cp_s = '~{0:.0f} (extrapolated from {1})'.format(
                        estimate, ', '.join('{0}x{1}'.format(k, m) for k in cp_measured))
                else:
                    cp_s = 'not run'
                ratio = '-'
                if ours and ours['wall'] and cp_wall:
                    ratio = '{0}{1:.1f}x'.format('' if cp else '~', cp_wall / ours['wall'])
                per_vm = '-' if not ours or ours['requests'] is None else '{0:.2f}'.format(ours['requests'] / (n * m))
                flags = []
                for label, c in (('ours', ours), ('cp', cp)):
                    if c and c['failed']:
                        flags.append('{0}: {1} failed'.format(label, c['failed']))
                    if c and c['checks']:
                        flags.append('{0} check: {1}'.format(label, '; '.join(c['checks'])))
                body.append(['{0}x{1}'.format(n, m), durations, phase, cell(ours, 'wall'), cell(ours, 'requests'),
                             per_vm, cell(ours, 'changed'), cp_s, cell(cp, 'requests'), cell(cp, 'changed'), ratio,
                             '{0} / {1}'.format(applies('ours', n, durations, phase),
                                                applies('cp-loop', n, durations, phase)),
                             ' '.join(flags)])
    cols = len(head)
    text = []
    widths = [max(len(x[i]) for x in [head] + body) for i in range(cols)]
    text.append('  '.join(h.rjust(w) if i >= 3 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for b in body:
        text.append('  '.join(x.rjust(w) if i >= 3 else x.ljust(w) for i, (x, w) in enumerate(zip(b[:cols], widths)))
                    + ('  ' + b[cols] if b[cols] else ''))
    md = ['| ' + ' | '.join(head) + ' |', '|' + '|'.join('---' if i in (1, 2) else '---:' for i in range(cols)) + '|']
    for b in body:
        row = list(b[:cols])
        if b[cols]:
            row[2] += ' (' + b[cols] + ')'
        md.append('| ' + ' | '.join(row) + ' |')
    sections = [('lab-N x M: N students, M machines each, one private VNet per student; median wall seconds, API '
                 'requests, changed items (cp = community.proxmox)', {'text': text, 'md': md})]
    lines = []
    for durations in args.durations:
        for tool, label, n in (('ours', 'ours', n_full), ('cp-loop', 'community.proxmox', max(cp_measured or [0]))):
            for phase in PHASES:
                top = [(s, k) for s, k in topo_top_tasks(runs, tool, n, durations, phase, 5)]
                if top:
                    lines.append('{0} {1}x{2} {3} {4}: '.format(label, n, m, durations, phase) +
                                 ', '.join('{0} {1:.1f} s'.format(k, s) for s, k in top))
    sections.append(('Slowest tasks (median seconds)', {'text': lines, 'md': ['- ' + line for line in lines]}))
    lines = []
    for durations in args.durations:
        for run in runs:
            if run['tool'] == 'ours' and run['n'] == n_full and run['durations'] == durations and run['repeat'] == 0:
                for phase in PHASES:
                    res = run['phases'].get(phase)
                    if res and res['rc'] == 0:
                        lines.append('ours {0}x{1} {2} {3} (SDN applied {4}x): '.format(
                            n_full, m, durations, phase, res.get('sdn_applies', '?')) +
                            ', '.join('{0} x{1}'.format(k, v) for k, v in list(res['endpoints'].items())[:8]))
        for run in runs:
            if run['tool'] == 'cp' and run['n'] == max(cp_measured or [0]) and run['durations'] == durations \
                    and run['repeat'] == 0:
                for phase in PHASES:
                    res = run['phases'].get(phase)
                    if res and res['rc'] == 0:
                        lines.append('community.proxmox {0}x{1} {2} {3} (SDN applied {4}x): '.format(
                            run['n'], m, durations, phase, res.get('sdn_applies', '?')) +
                            ', '.join('{0} x{1}'.format(k, v) for k, v in list(res['endpoints'].items())[:6]))
    sections.append(('Most frequent API requests (one run)', {'text': lines, 'md': ['- ' + line for line in lines]}))
    result = topo_targets(args, agg, cp_measured)
    sections.append(('Targets (issue 19, lab-{0}x{1})'.format(n_full, m), {
        'text': ['{0:<13} {1}: {2}'.format(s, name, d) for name, s, d in result],
        'md': ['- **{0}** {1}: {2}'.format(s, name, d) for name, s, d in result], 'targets': result}))
    return sections


def topo_top_tasks(runs, tool, n, durations, phase, count):
    times = {}
    for run in runs:
        if (topo_tool(run), run['n'], run['durations']) != (tool, n, durations) or phase not in run['phases']:
            continue
        for task in run['phases'][phase]['tasks']:
            times.setdefault(re.sub(r'^pvelab\.proxmox\.\w+ : ', '', task['name']), []).append(task['secs'])
    return sorted(((median(v), k) for k, v in times.items()), reverse=True)[:count]


def topo_targets(args, agg, cp_measured):
    """Issue 19's targets at the full size, per durations setting: against community.proxmox measured there,
    else against its linear extrapolation (said so)."""
    n, m = args.topology
    out = []
    for durations in args.durations:
        for phase, factor in (('provision', 15), ('rerun', 40), ('teardown', 10)):
            ours = agg.get((n, durations, 'ours', phase))
            cp = agg.get((n, durations, 'cp-loop', phase))
            cp_wall, how = (cp['wall'], 'measured') if cp and cp['wall'] else (
                extrapolate(agg, 'cp-loop', durations, phase, n), 'extrapolated from {0}'.format(
                    ', '.join('{0}x{1}'.format(k, m) for k in cp_measured)))
            name = '{0} {1}x{2} ({3}): ours <= 1/{4} of community.proxmox'.format(phase, n, m, durations, factor)
            if not ours or ours['wall'] is None:
                out.append((name, 'NOT MEASURED' if not ours or not ours['failed'] else 'FAIL',
                            'pvelab.proxmox {0}'.format('failed' if ours and ours['failed'] else 'not run')))
            elif cp_wall is None:
                out.append((name, 'NOT MEASURED', 'community.proxmox not run at two sizes'))
            else:
                ratio = cp_wall / ours['wall']
                out.append((name, 'PASS' if ratio >= factor else 'FAIL',
                            'ours {0:.1f} s, community.proxmox {1:.0f} s ({2}): {3:.1f}x (need {4}x)'.format(
                                ours['wall'], cp_wall, how, ratio, factor)))
            if ours and ours['wall'] is not None and ours['checks']:
                out.append(('{0} {1}x{2} ({3}): state checks'.format(phase, n, m, durations), 'FAIL',
                            '; '.join(ours['checks'])))
        ours = agg.get((n, durations, 'ours', 'rerun'))
        if ours and ours['wall'] is not None:
            out.append(('re-run {0}x{1} ({2}): 0 changed'.format(n, m, durations),
                        'PASS' if ours['changed'] == 0 else 'FAIL', 'changed {0}'.format(fmt(ours['changed'], 0))))
            limit = 3 * n * m
            out.append(('re-run {0}x{1} ({2}): <= 3 API requests per VM ({3})'.format(n, m, durations, limit),
                        'PASS' if ours['requests'] <= limit else 'FAIL', '{0} requests ({1:.2f} per VM)'.format(
                            fmt(ours['requests'], 0), ours['requests'] / (n * m))))
    return out


def write_topo_markdown(path, sections, args, versions, host, command, elapsed, when=None):
    when = when or datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    n, m = args.topology
    cp_sizes = ', '.join('{0}x{1}'.format(k, m) for k in args.topology_cp_sizes) or 'none'
    lines = [TOPO_BEGIN, '', '### Run of {0}'.format(when), '', '```', command, '```', '',
             '- Machine: {0} cores ({1}), {2}; load average {3} at the start, {4} at the end; '
             'total benchmark time {5:.0f} s.'.format(host.get('cores', '?'), host.get('cpu', '?'),
                                                    host.get('system', '?'), host.get('load', '?'),
                                                    host.get('load_end', '?'), elapsed),
             '- Versions: ' + ', '.join('{0} {1}'.format(k, v) for k, v in versions.items()) + '.',
             '- lab-{0}x{1}: {0} students, each a router (tmpl-router, NICs [uplink, private]) and {2} client(s) '
             '(tmpl-debian, [private]), one private VNet per student in the simple zone `{3}` '
             '(cluster `benchmarks/clusters/topo3.json`). pvelab.proxmox: `lab_up`/`lab_down` with `lab_machines`; '
             'community.proxmox: `benchmarks/cproxmox/topo_up.yml`/`topo_down.yml`, run at {4} only: its '
             '{0}x{1} cells are linear extrapolations per student from those sizes, marked '
             '`~... (extrapolated from ...)`.'.format(n, m, m - 1, TOPO_ZONE, cp_sizes),
             '- Durations {0}; repeats: pvelab.proxmox {1}, community.proxmox {2}. Realistic durations: clone {3:g} s, '
             'start {4:g} s, stop {5:g} s, shutdown {6:g} s of PVE time at time scale {7:g}.'.format(
                 ', '.join(args.durations), args.topology_repeats, args.cp_repeats, args.clone_secs, args.start_secs,
                 args.stop_secs, args.shutdown_secs, args.time_scale),
             '- State checked after every phase (a failure is printed beside the phase): accounts, N x M VMs running '
             'and tagged, ACL entries, every private NIC on its student\'s own VNet of the zone, uplink NICs on '
             'vmbr0 with firewall=1 and the VM firewall on, a student\'s VMs on one node, no pending SDN, the '
             'roster one row per VM; after teardown no lab VM, account, VNet, zone, pool, ACL entry or firewall '
             'object. "SDN applied" counts `reloadnetworkall` tasks.', '']
    for title, body in sections:
        lines += ['#### ' + title, ''] + body['md'] + ['']
    lines.append(TOPO_END)
    block = '\n'.join(lines)
    text = path.read_text() if path.exists() else '# Benchmark\n'
    if TOPO_BEGIN in text and TOPO_END in text:
        text = text[:text.index(TOPO_BEGIN)] + block + text[text.index(TOPO_END) + len(TOPO_END):]
    else:
        text = text.rstrip('\n') + '\n\n' + block + '\n'
    path.write_text(text)


def topo_saved_args(args):
    out = saved_args(args)
    out.update({'topology': list(args.topology), 'topology_cp_sizes': args.topology_cp_sizes,
                'topology_repeats': args.topology_repeats, 'durations': args.durations})
    return out


def topo_render(args, command):
    """The topology report from saved topology-results.json files (the first one's settings; their runs merged,
    e.g. one run of each tool), without running anything. The report shows every run's command and this one."""
    runs, meta, commands, elapsed = [], {}, [], 0
    for name in args.render.split(','):
        data = json.loads(Path(name).read_text())
        runs += data.get('runs', [])
        commands.append(data.get('command') or '?')
        elapsed += data.get('elapsed') or 0
        for key in ('machine', 'args', 'date'):
            if data.get(key) and key not in meta:
                meta[key] = data[key]
        versions = meta.setdefault('versions', {})
        for key, value in (data.get('versions') or {}).items():
            if versions.get(key) in (None, '-'):  # a --tools ours run names no community.proxmox version
                versions[key] = value
    meta['command'] = '\n'.join(commands + ([command] if len(commands) > 1 else []))
    meta['elapsed'] = elapsed
    saved = meta.get('args') or {}
    for key, value in saved.items():
        setattr(args, key, tuple(value) if key == 'topology' else value)
    args.topology_cp_sizes = sorted(set(r['n'] for r in runs if r['tool'] == 'cp'))
    args.durations = [d for d in ('instant', 'realistic') if any(r['durations'] == d for r in runs)]
    return topo_report(args, runs), meta


def topo_main(args, command):
    work = Path(args.workdir or os.path.join(tempfile.gettempdir(), 'pvelab-benchmark')).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log('pvelab.proxmox topology benchmark: {0}'.format(command))
    log('work directory: {0}'.format(work))
    started = time.monotonic()
    date = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    versions = setup(args, work)
    host = machine()
    log('versions: ' + ', '.join('{0} {1}'.format(k, v) for k, v in versions.items()))
    log('machine: {0} cores, {1}, load {2}'.format(host['cores'], host['cpu'], host['load']))
    runs = []
    schedule = topo_plan(args)
    results = work / 'topology-results.json'
    m = args.topology[1]
    for index, (n, durations, tool, repeat) in enumerate(schedule):
        log('[{0}/{1}] lab-{2}x{3} {4} {5} repeat {6} ({7:.0f} s so far)'.format(
            index + 1, len(schedule), n, m, durations, 'ours' if tool == 'ours' else 'community.proxmox',
            repeat + 1, time.monotonic() - started))
        runs.append(run_topo_one(args, work, n, m, durations, tool, repeat))
        results.write_text(json.dumps({'topology': True, 'runs': runs, 'versions': versions, 'machine': host,
                                       'command': command, 'args': topo_saved_args(args), 'date': date,
                                       'elapsed': round(time.monotonic() - started)}, indent=1))
    elapsed = time.monotonic() - started
    host['load_end'] = ' '.join('{0:.2f}'.format(x) for x in os.getloadavg())
    sections = topo_report(args, runs)
    for title, body in sections:
        log('')
        log(title)
        for line in body['text']:
            log(line)
    results.write_text(json.dumps({'topology': True, 'runs': runs, 'versions': versions, 'machine': host,
                                   'command': command, 'args': topo_saved_args(args), 'date': date,
                                   'elapsed': round(elapsed)}, indent=1))
    log('\nresults: {0}'.format(results))
    if args.report != '-':
        write_topo_markdown(Path(args.report), sections, args, versions, host, command, elapsed, date)
        log('report: {0}'.format(args.report))
    return 1 if any(t[1] == 'FAIL' for t in sections[-1][1]['targets']) else 0


# ============================================================ main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--sizes', default='10,20,50,200', help='lab sizes N (default 10,20,50,200)')
    p.add_argument('--durations', default='instant,realistic', help='instant, realistic or both (default both)')
    p.add_argument('--repeats', type=int, default=3, help='repeats of pvelab.proxmox per setting (default 3)')
    p.add_argument('--realistic-repeats', type=int, default=None,
                   help='repeats of pvelab.proxmox with realistic durations (default 1, or --repeats if given)')
    p.add_argument('--cp-repeats', type=int, default=1,
                   help='repeats of community.proxmox per setting (default 1: about 10 s per student per phase)')
    p.add_argument('--cp-max-n', type=int, default=50, help='largest N run with community.proxmox (default 50); '
                   'above it the table shows a linear extrapolation, marked as such')
    p.add_argument('--cp-sizes', default='10,50', help='the sizes (of --sizes) run with community.proxmox '
                   '(default 10,50; "all" for every size up to --cp-max-n); other sizes are extrapolated')
    p.add_argument('--cp-realistic-phases', default='provision', choices=('provision', 'all'),
                   help='phases of community.proxmox run with realistic durations (default provision: its re-run '
                   'and teardown wait for no clone or start, so they cost what they cost with instant tasks)')
    p.add_argument('--cp-variants', default='loop', help='loop (clones one after the other, the issue\'s baseline), '
                   'async (async/poll: 0 + async_status), or loop,async (default loop)')
    p.add_argument('--tools', default='ours,cp', help='ours, cp or both (default both)')
    p.add_argument('--quick', action='store_true', help='lab-10 only, one repeat, both durations, no inventory')
    p.add_argument('--time-scale', type=float, default=0.05, help='realistic: real seconds per PVE second (0.05)')
    p.add_argument('--clone-secs', type=float, default=20, help='realistic: PVE seconds a clone takes (20)')
    p.add_argument('--start-secs', type=float, default=5, help='realistic: PVE seconds a start takes (5)')
    p.add_argument('--stop-secs', type=float, default=2, help='realistic: PVE seconds a hard stop takes (2)')
    p.add_argument('--shutdown-secs', type=float, default=10, help='realistic: PVE seconds a shutdown takes (10)')
    p.add_argument('--inventory-vms', type=int, default=500, help='VMs for the inventory measurement (0: skip)')
    p.add_argument('--inventory-repeats', type=int, default=3)
    p.add_argument('--core-version', default='2.21.5', help='ansible-core for ours when cp is not run (2.21.5)')
    p.add_argument('--profile', action='store_true', help='API requests per task (slows the runs; for diagnosis)')
    p.add_argument('--workdir', help='where runs, logs and results.json go (default: a directory under /tmp)')
    p.add_argument('--render', metavar='RESULTS_JSON[,...]',
                   help='only write the table and report from saved results.json files (their runs merged)')
    p.add_argument('--report', default=str(REPORT), help='Markdown report to update (default docs/benchmark.md; '
                   '"-" for none)')
    p.add_argument('--topology', metavar='NxM', help='instead of lab-N: N students with M machines each (a router '
                   'with [uplink, private], M - 1 clients with [private]), one private VNet per student, e.g. 100x3; '
                   'benchmarks/clusters/topo3.json, benchmarks/cproxmox/topo_up.yml / topo_down.yml, its own report '
                   'section; durations default to realistic')
    p.add_argument('--topology-cp-sizes', default='5,10', help='students at which community.proxmox runs in '
                   '--topology mode (default 5,10; "full" for N itself, "none"); N is extrapolated linearly per '
                   'student from the two largest below it unless run')
    p.add_argument('--topology-repeats', type=int, default=1, help='repeats of pvelab.proxmox in --topology mode '
                   '(default 1)')
    args = p.parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    if args.topology:
        try:
            args.topology = parse_topology(args.topology)
        except ValueError as exc:
            p.error(str(exc))
        if not any(a == '--durations' or a.startswith('--durations=') for a in given):
            args.durations = 'realistic'
        full = args.topology[0]
        sizes = set()
        for x in args.topology_cp_sizes.split(','):
            x = x.strip()
            if x == 'full':
                sizes.add(full)
            elif x and x != 'none':
                sizes.add(int(x))
        args.topology_cp_sizes = sorted(k for k in sizes if 1 <= k <= full)
    if args.realistic_repeats is None:
        given = any(a == '--repeats' or a.startswith('--repeats=') for a in (sys.argv[1:] if argv is None else argv))
        args.realistic_repeats = args.repeats if given else 1
    if args.quick:
        args.sizes, args.repeats, args.realistic_repeats, args.inventory_vms = '10', 1, 1, 0
        args.cp_repeats, args.cp_sizes = 1, 'all'
    args.sizes = sorted(set(int(x) for x in args.sizes.split(',') if x and x != 'none'))
    args.cp_sizes = [n for n in args.sizes if n <= args.cp_max_n and
                     (args.cp_sizes == 'all' or n in [int(x) for x in args.cp_sizes.split(',') if x])]
    args.durations = [d for d in args.durations.split(',') if d]
    args.tools = [t for t in args.tools.split(',') if t]
    args.cp_variants = [v for v in args.cp_variants.split(',') if v]
    for d in args.durations:
        if d not in ('instant', 'realistic'):
            p.error('unknown durations {0!r}'.format(d))
    for v in args.cp_variants:
        if v not in ('loop', 'async'):
            p.error('unknown community.proxmox variant {0!r}'.format(v))
    return args


def saved_args(args):
    return dict((k, getattr(args, k)) for k in ('repeats', 'realistic_repeats', 'cp_repeats', 'cp_realistic_phases',
                                                'time_scale', 'clone_secs', 'start_secs', 'stop_secs',
                                                'shutdown_secs'))


def plan(args):
    """The runs in order, (n, durations, tool, variant, repeat, phases): per durations and N, the repeats with the
    tools alternating (the order swapped on every repeat)."""
    out = []
    for durations in args.durations:
        cp_phases = PHASES if durations == 'instant' or args.cp_realistic_phases == 'all' else ('provision',)
        for n in args.sizes:
            with_cp = 'cp' in args.tools and n in args.cp_sizes
            repeats = args.repeats if durations == 'instant' else args.realistic_repeats
            for repeat in range(max(repeats, args.cp_repeats if with_cp else 0)):
                runs = []
                if 'ours' in args.tools and repeat < repeats:
                    runs.append(('ours', 'ours', PHASES))
                if with_cp and repeat < args.cp_repeats:
                    runs += [('cp', v, cp_phases) for v in args.cp_variants]
                if repeat % 2:
                    runs.reverse()
                out += [(n, durations, tool, variant, repeat, phases) for tool, variant, phases in runs]
    return out


def render(args, command):
    """The report from saved results.json files (several: their runs are merged), without running anything."""
    runs, inventory, meta = [], None, {}
    for name in args.render.split(','):
        data = json.loads(Path(name).read_text())
        runs += data.get('runs', [])
        inventory = data.get('inventory') or inventory
        for key in ('versions', 'machine', 'command', 'elapsed', 'args', 'date'):
            if data.get(key) and key not in meta:
                meta[key] = data[key]
    saved = meta.get('args') or {}
    args.sizes = sorted(set(r['n'] for r in runs))
    args.durations = [d for d in ('instant', 'realistic') if any(r['durations'] == d for r in runs)]
    args.cp_sizes = sorted(set(r['n'] for r in runs if r['tool'] == 'cp'))
    # The loop variant (the baseline) first: the targets are judged against it.
    args.cp_variants = sorted(set(r['variant'] for r in runs if r['tool'] == 'cp'), key=lambda v: v != 'loop') or ['loop']
    args.tools = sorted(set(r['tool'] for r in runs))
    for key in ('repeats', 'realistic_repeats', 'cp_repeats', 'cp_realistic_phases', 'time_scale', 'clone_secs',
                'start_secs', 'stop_secs', 'shutdown_secs'):
        if key in saved:
            setattr(args, key, saved[key])
    agg = aggregate(runs)
    sections = report(args, agg, runs, inventory, meta.get('versions', {}), meta.get('machine', {}),
                      meta.get('command', command), meta.get('elapsed') or 0)
    return sections, meta


def main(argv=None):
    args = parse_args(argv)
    # SIGTERM ends the run through the finally blocks, so no fake is left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = ' '.join(['.venv/bin/python', 'benchmarks/run.py'] + (sys.argv[1:] if argv is None else list(argv)))
    if args.render and any(json.loads(Path(name).read_text()).get('topology') for name in args.render.split(',')):
        sections, meta = topo_render(args, command)
        for title, body in sections:
            log('')
            log(title)
            for line in body['text']:
                log(line)
        if args.report != '-':
            write_topo_markdown(Path(args.report), sections, args, meta.get('versions', {}), meta.get('machine', {}),
                                meta.get('command', '?'), meta.get('elapsed') or 0, meta.get('date'))
            log('\nreport: {0}'.format(args.report))
        return 0
    if args.topology:
        return topo_main(args, command)
    if args.render:
        sections, meta = render(args, 'benchmarks/run.py')
        for title, lines in sections:
            log('')
            log(title)
            for line in lines['text']:
                log(line)
        if args.report != '-':
            write_markdown(Path(args.report), sections, args, meta.get('versions', {}), meta.get('machine', {}),
                           meta.get('command', '?'), meta.get('elapsed') or 0, meta.get('date'))
            log('\nreport: {0}'.format(args.report))
        return 0
    work = Path(args.workdir or os.path.join(tempfile.gettempdir(), 'pvelab-benchmark')).resolve()
    work.mkdir(parents=True, exist_ok=True)
    command = ' '.join(['.venv/bin/python', 'benchmarks/run.py'] + (sys.argv[1:] if argv is None else list(argv)))
    log('pvelab.proxmox benchmark: {0}'.format(command))
    log('work directory: {0}'.format(work))
    started = time.monotonic()
    date = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    versions = setup(args, work)
    host = machine()
    log('versions: ' + ', '.join('{0} {1}'.format(k, v) for k, v in versions.items()))
    log('machine: {0} cores, {1}, load {2}'.format(host['cores'], host['cpu'], host['load']))
    runs = []
    schedule = plan(args)
    for index, (n, durations, tool, variant, repeat, phases) in enumerate(schedule):
        log('[{0}/{1}] lab-{2} {3} {4} repeat {5} ({6:.0f} s so far)'.format(
            index + 1, len(schedule), n, durations, tool if tool == 'ours' else 'community.proxmox ' + variant,
            repeat + 1, time.monotonic() - started))
        runs.append(run_one(args, work, n, durations, tool, variant, repeat, phases))
        (work / 'results.json').write_text(json.dumps({'runs': runs, 'versions': versions, 'machine': host,
                                                       'command': command, 'args': saved_args(args), 'date': date,
                                                       'elapsed': round(time.monotonic() - started)}, indent=1))
    inventory = None
    if args.inventory_vms:
        log('inventory plugin: ansible-inventory --list against a fake with {0} running VMs'.format(args.inventory_vms))
        if (ROOT / 'plugins' / 'inventory' / 'pve.py').exists():
            inventory = {'vms': args.inventory_vms,
                         'runs': run_inventory(args, work, args.inventory_vms, args.inventory_repeats)}
        else:
            log('  plugins/inventory/pve.py does not exist yet: not measured')
    elapsed = time.monotonic() - started
    host['load_end'] = ' '.join('{0:.2f}'.format(x) for x in os.getloadavg())

    agg = aggregate(runs)
    sections = report(args, agg, runs, inventory, versions, host, command, elapsed)
    for title, lines in sections:
        log('')
        log(title)
        for line in lines['text']:
            log(line)
    (work / 'results.json').write_text(json.dumps({'runs': runs, 'inventory': inventory, 'versions': versions,
                                                   'machine': host, 'command': command, 'args': saved_args(args),
                                                   'date': date, 'elapsed': round(elapsed)}, indent=1))
    if args.report != '-':
        write_markdown(Path(args.report), sections, args, versions, host, command, elapsed, date)
        log('\nreport: {0}'.format(args.report))
    failed = [t for t in sections[-1][1]['targets'] if t[1] == 'FAIL']
    return 1 if failed else 0


def report(args, agg, runs, inventory, versions, host, command, elapsed):
    sections = []
    for variant in (args.cp_variants if 'cp' in args.tools else ['loop']):
        cp_tool = 'cp-' + variant
        rows = build_rows(agg, args.sizes, args.durations, cp_tool)
        if variant != 'loop':  # a variant beside the baseline: only where it was measured
            rows = [r for r in rows if r['cp']]
        label = 'cp' if variant == 'loop' else 'cp-async'
        title = 'lab-N, median wall seconds, API requests, changed items ({0} = community.proxmox, {1})'.format(
            label, 'clones one after the other' if variant == 'loop' else 'clones with async/poll: 0')
        sections.append((title, {'text': table_lines(rows, False, label), 'md': table_lines(rows, True, label)}))
    # Where the time goes: ours at the largest N, each phase.
    lines = []
    for durations in args.durations:
        n = max(args.sizes)
        for phase in PHASES:
            top = top_tasks(runs, 'ours', n, durations, phase, 6)
            if top:
                lines.append('ours lab-{0} {1} {2}: '.format(n, durations, phase) +
                             ', '.join('{0} {1:.1f} s'.format(name, secs) for secs, name in top))
        cp_n = max(args.cp_sizes or [0])
        for phase in PHASES:
            top = top_tasks(runs, 'cp-' + args.cp_variants[0], cp_n, durations, phase, 6)
            if top and 'cp' in args.tools:
                lines.append('community.proxmox lab-{0} {1} {2}: '.format(cp_n, durations, phase) +
                             ', '.join('{0} {1:.1f} s'.format(name, secs) for secs, name in top))
    sections.append(('Slowest tasks (median seconds)', {'text': lines, 'md': ['- ' + l for l in lines]}))
    lines = []
    for durations in args.durations:
        n = max(args.sizes)
        for phase in PHASES:
            c = agg.get((n, durations, 'ours', phase))
            if c and c['count']:
                run = next(r for r in runs if r['tool'] == 'ours' and r['n'] == n and r['durations'] == durations
                           and phase in r['phases'] and r['phases'][phase]['rc'] == 0)
                eps = run['phases'][phase]['endpoints']
                lines.append('ours lab-{0} {1} {2}: '.format(n, durations, phase) +
                             ', '.join('{0} x{1}'.format(k, v) for k, v in list(eps.items())[:8]))
    sections.append(('Most frequent API requests (one run)', {'text': lines, 'md': ['- ' + l for l in lines]}))
    cp_tool = 'cp-' + (args.cp_variants[0] if 'cp' in args.tools else 'loop')
    result = targets(agg, args.sizes, cp_tool, inventory)
    lines = ['{0:<13} {1}: {2}'.format(status, name, detail) for name, status, detail in result]
    md = ['- **{0}** {1}: {2}'.format(status, name, detail) for name, status, detail in result]
    sections.append(('Targets (issue 8)', {'text': lines, 'md': md, 'targets': result}))
    return sections


def write_markdown(path, sections, args, versions, host, command, elapsed, when=None):
    when = when or datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    lines = [BEGIN, '', '### Run of {0}'.format(when), '', '```', command, '```', '',
             '- Machine: {0} cores ({1}), {2}; load average {3} at the start, {4} at the end; '
             'total benchmark time {5:.0f} s.'.format(host.get('cores', '?'), host.get('cpu', '?'),
                                                    host.get('system', '?'), host.get('load', '?'),
                                                    host.get('load_end', '?'), elapsed),
             '- Versions: ' + ', '.join('{0} {1}'.format(k, v) for k, v in versions.items()) + '.',
             '- Sizes {0}; durations {1}; repeats: pvelab.proxmox {2} (realistic durations: {6}), community.proxmox {3}; '
             'community.proxmox run '
             'at N = {4} ({5} with realistic durations); its other cells are linear estimates from those sizes, '
             'marked `~... (estimate)`.'.format(
                 ', '.join(map(str, args.sizes)), ', '.join(args.durations), args.repeats, args.cp_repeats,
                 ', '.join(map(str, args.cp_sizes)) or 'none',
                 'all phases' if args.cp_realistic_phases == 'all' else 'provisioning only', args.realistic_repeats),
             '- Realistic durations: clone {0:g} s, start {1:g} s, stop {2:g} s, shutdown {3:g} s of PVE time at '
             'time scale {4:g} (clone {5:g} s real).'.format(args.clone_secs, args.start_secs, args.stop_secs,
                                                             args.shutdown_secs, args.time_scale,
                                                             args.clone_secs * args.time_scale),
             '']
    for title, body in sections:
        lines += ['#### ' + title, ''] + body['md'] + ['']
    lines.append(END)
    block = '\n'.join(lines)
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip('\n') + '\n\n' + block + '\n'
    else:
        text = '# Benchmark\n\n' + block + '\n'
    path.write_text(text)


if __name__ == '__main__':
    sys.exit(main())
