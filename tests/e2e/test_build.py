"""Releases: the Galaxy tarball installs into a clean path and works from there; the changelog comes from fragments.

Nothing here uses the checkout's collection at run time: ANSIBLE_COLLECTIONS_PATH points only at the directory
the tarball was installed into.
"""

import csv
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from helpers import REPO, collections_path, run_playbook

BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / 'galaxy.yml').read_text())
# What a user's install must never carry: test output, local environments, the fake PVE, caches, rosters.
NOT_SHIPPED = ('tests/output', '.venv', 'tests/fakecluster', 'tests/e2e', 'benchmarks', 'demo-out', '__pycache__',
               '.pyc', '.pytest_cache', '.hypothesis', 'scripts/', 'tests/integration/integration_config.yml',
               'roster.csv', 'roster.json', '.secrets', '.git/', '.tmp/')


def run(cmd, env=None, cwd=None):
    run_env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PROXMOX_') and k != 'REQUESTS_CA_BUNDLE')
    run_env.update({'ANSIBLE_NOCOLOR': '1'})
    run_env.update(env or {})
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=run_env, cwd=cwd, timeout=900)
    assert proc.returncode == 0, '{0}\n{1}\n{2}'.format(' '.join(map(str, cmd)), proc.stdout[-6000:],
                                                        proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(tarball, collections path): built with ansible-galaxy from the tree under test, installed into a fresh dir."""
    out = tmp_path_factory.mktemp('release')
    source = Path(collections_path()) / 'ansible_collections' / 'pvelab' / 'proxmox'
    run([BIN / 'ansible-galaxy', 'collection', 'build', '--output-path', out / 'dist', source])
    tarball = out / 'dist' / 'pvelab-proxmox-{0}.tar.gz'.format(GALAXY['version'])
    assert tarball.is_file()
    target = out / 'collections'
    run([BIN / 'ansible-galaxy', 'collection', 'install', '-p', target, tarball],
        env={'ANSIBLE_COLLECTIONS_PATH': str(target)})
    return tarball, target


def test_tarball_content(installed):
    tarball, _target = installed
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
    for required in ('MANIFEST.json', 'FILES.json', 'README.md', 'meta/runtime.yml', 'meta/execution-environment.yml',
                     'requirements.txt', 'bindep.txt', 'plugins/inventory/pve.py', 'plugins/modules/pve_node_info.py',
                     'extensions/awx/credential_type_pve.yml', 'docs/lab-workflow.md',
                     'docs/migrating-from-community-proxmox.md', 'docs/awx.md', 'roles/lab/README.md',
                     'roles/lab_reset/README.md', 'roles/lab_teardown/README.md'):
        assert required in names, required
    unwanted = sorted(n for n in names if any(part in n for part in NOT_SHIPPED))
    assert unwanted == []


def test_installed_version_is_galaxy_yml(installed):
    _tarball, target = installed
    proc = run([BIN / 'ansible-galaxy', 'collection', 'list', 'pvelab.proxmox', '-p', target, '--format', 'yaml'],
               env={'ANSIBLE_COLLECTIONS_PATH': str(target)})
    listing = yaml.safe_load(proc.stdout)
    assert listing[str(target / 'ansible_collections')]['pvelab.proxmox']['version'] == GALAXY['version']


@pytest.mark.cluster('demo.json')
def test_installed_collection_runs_against_the_fake(installed, pve_cluster, tmp_path):
    _tarball, target = installed
    env = {'ANSIBLE_COLLECTIONS_PATH': str(target)}
    result = run_playbook(pve_cluster, tasks=[
        {'name': 'nodes', 'pvelab.proxmox.pve_node_info': {}, 'register': 'nodes'},
        {'name': 'where from', 'ansible.builtin.debug': {'msg': "{{ lookup('ansible.builtin.config', "
                                                                "'COLLECTIONS_PATHS') }}"}},
    ], env=env, tmp_path=tmp_path)
    assert result.rc == 0, result
    assert [n['node'] for n in result.task('nodes')['nodes']] == ['pve1', 'pve2', 'pve3']
    assert str(REPO) not in result.stdout
    # The inventory plugin from the installed collection.
    source = tmp_path / 'lab.pve.yml'
    source.write_text('plugin: pvelab.proxmox.pve\n')
    proc = run([BIN / 'ansible-inventory', '-i', source, '--graph'], env=dict(env, **{
        'PROXMOX_HOST': pve_cluster.host, 'PROXMOX_PORT': str(pve_cluster.port), 'PROXMOX_USER': pve_cluster.user,
        'PROXMOX_PASSWORD': pve_cluster.password, 'PROXMOX_CA_PATH': pve_cluster.ca_path,
        'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true'}))
    assert 'teacher' in proc.stdout and '@pve_pool_web' in proc.stdout


def demo_setup(installed, cluster, workdir, absolute):
    """The README's demo inputs, copied from the installed collection's examples into workdir."""
    _tarball, target = installed
    home = target / 'ansible_collections' / 'pvelab' / 'proxmox'
    for playbook in ('lab_up.yml', 'lab_down.yml'):
        if not (home / 'playbooks' / playbook).is_file():
            pytest.skip('playbooks/{0} is not in the collection yet'.format(playbook))
    examples = home / 'playbooks' / 'examples'
    shutil.copy(str(examples / 'class.csv'), str(workdir / 'class.csv'))
    lab = yaml.safe_load((examples / 'netadmin.yml').read_text())
    if absolute:
        lab['lab_students_csv'] = str(workdir / lab['lab_students_csv'])
        lab['lab_roster_path'] = str(workdir / lab['lab_roster_path'])
    (workdir / 'netadmin.yml').write_text(yaml.safe_dump(lab))
    env = {'ANSIBLE_COLLECTIONS_PATH': str(target), 'PROXMOX_HOST': cluster.host,
           'PROXMOX_PORT': str(cluster.port), 'PROXMOX_USER': cluster.user,
           'PROXMOX_PASSWORD': cluster.password, 'PROXMOX_CA_PATH': cluster.ca_path}
    return home, lab, env


def check_roster(workdir, lab, home):
    roster = workdir / lab['lab_roster_path']  # an absolute lab_roster_path stays as it is
    assert roster.is_file(), 'roster not written to {0}'.format(roster)
    with open(str(workdir / 'class.csv')) as fh:
        students = sorted(row['username'] for row in csv.DictReader(fh))
    with open(str(roster)) as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r['username'] for r in rows) == students
    assert len(set(r['vmid'] for r in rows)) == len(students) and all(r['ip'] for r in rows)
    assert not list(home.rglob('*roster*.csv')), 'the lab wrote into the installed collection'


@pytest.mark.cluster('demo.json')
def test_demo_lab_from_the_installed_collection(installed, pve_cluster, tmp_path):
    """The README's demo (its example class, lab_up, roster, lab_down) from the installed collection alone."""
    home, lab, env = demo_setup(installed, pve_cluster, tmp_path, absolute=True)
    run([BIN / 'ansible-playbook', 'pvelab.proxmox.lab_up', '-e', '@netadmin.yml'], env=env, cwd=str(tmp_path))
    check_roster(tmp_path, lab, home)
    run([BIN / 'ansible-playbook', 'pvelab.proxmox.lab_down', '-e', '@netadmin.yml'], env=env, cwd=str(tmp_path))
    assert [vm.vmid for vm in pve_cluster.pve.vms if vm.pool == lab['lab_name']] == []
    assert lab['lab_name'] not in pve_cluster.pve.pools


@pytest.mark.cluster('demo.json')
def test_demo_relative_paths_are_the_users(installed, pve_cluster, tmp_path):
    """As the README says: copy class.csv beside netadmin.yml and run there; the roster lands there too."""
    home, lab, env = demo_setup(installed, pve_cluster, tmp_path, absolute=False)
    run([BIN / 'ansible-playbook', 'pvelab.proxmox.lab_up', '-e', '@netadmin.yml'], env=env, cwd=str(tmp_path))
    check_roster(tmp_path, lab, home)


def test_changelog_from_fragments(tmp_path):
    """antsibull-changelog releases the version in galaxy.yml from the fragments into CHANGELOG.rst."""
    tool = BIN / 'antsibull-changelog'
    if not tool.exists():
        pytest.skip('antsibull-changelog is not installed')
    copy = tmp_path / 'ansible_collections' / 'pvelab' / 'proxmox'
    source = Path(collections_path()) / 'ansible_collections' / 'pvelab' / 'proxmox'
    shutil.copytree(str(source), str(copy), symlinks=False, ignore=shutil.ignore_patterns(
        'tests', '.git', '.venv*', '__pycache__', 'benchmarks', 'demo-out', '*.tar.gz'))
    run([tool, 'lint'], cwd=str(copy))
    fragments = sorted((copy / 'changelogs' / 'fragments').glob('*.y*ml'))
    assert fragments, 'no changelog fragments'
    if not (copy / 'changelogs' / 'changelog.yaml').exists():
        (copy / 'changelogs' / 'changelog.yaml').write_text('ancestor: null\nreleases: {}\n')
    # release runs ansible-doc (from PATH) on the copy to announce new modules and plugins
    run([tool, 'release', '--version', GALAXY['version'], '--date', '2026-01-01'], cwd=str(copy),
        env={'PATH': '{0}:{1}'.format(BIN, os.environ.get('PATH', '')), 'ANSIBLE_COLLECTIONS_PATH': str(tmp_path)})
    text = (copy / 'CHANGELOG.rst').read_text()
    assert 'v{0}'.format(GALAXY['version']) in text
    assert 'pvelab.proxmox.pve - ' in text  # the inventory plugin announced under New Plugins
    for fragment in fragments:
        for entries in yaml.safe_load(fragment.read_text()).values():
            for entry in entries if isinstance(entries, list) else [entries]:
                assert ' '.join(str(entry).split())[:40] in ' '.join(text.split()), (fragment.name, entry)
