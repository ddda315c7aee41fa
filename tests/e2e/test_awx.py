"""AWX / Ansible Automation Platform: the execution environment, the credential type, and a job as AWX runs it.

- ansible-builder turns the shipped EE definition (extensions/awx/execution-environment.yml) into a valid build
  context, and the introspection the image build runs finds the collection's own dependencies (from
  meta/execution-environment.yml) in the installed collection;
- the credential type (extensions/awx/credential_type_pve.yml) is well formed, and its injectors, rendered as
  AWX renders them, give exactly the PROXMOX_* variables the collection reads;
- ansible-runner (what AWX executes) runs the lab playbook from a project with only those variables as the
  connection, and an inventory update with the pvelab.proxmox.pve source lists the lab's VMs.
"""

import csv
import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from helpers import REPO, collections_path

ansible_runner = pytest.importorskip('ansible_runner', reason='ansible-runner is in tests/requirements.txt')
jinja_sandbox = pytest.importorskip('jinja2.sandbox')

CREDENTIAL_TYPE = REPO / 'extensions' / 'awx' / 'credential_type_pve.yml'
EE_DEFINITION = REPO / 'extensions' / 'awx' / 'execution-environment.yml'
BIN = Path(sys.executable).parent
PROXMOX_ENV = ('PROXMOX_HOST', 'PROXMOX_PORT', 'PROXMOX_USER', 'PROXMOX_PASSWORD', 'PROXMOX_TOKEN_ID',
               'PROXMOX_TOKEN_SECRET', 'PROXMOX_VALIDATE_CERTS', 'PROXMOX_CA_PATH')


def run(cmd, **kwargs):
    env = dict(os.environ)
    env.pop('REQUESTS_CA_BUNDLE', None)
    env.update(kwargs.pop('env', {}))
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=600, **kwargs)
    assert proc.returncode == 0, '{0}\n{1}\n{2}'.format(' '.join(map(str, cmd)), proc.stdout[-3000:],
                                                        proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    """The collection as Galaxy would ship it (ansible-galaxy collection build)."""
    out = tmp_path_factory.mktemp('build')
    source = Path(collections_path()) / 'ansible_collections' / 'pvelab' / 'proxmox'
    run([BIN / 'ansible-galaxy', 'collection', 'build', '--output-path', out, source])
    return next(out.glob('pvelab-proxmox-*.tar.gz'))


# ------------------------------------------------------------------ the EE

def test_ansible_builder_creates_a_build_context(tmp_path, tarball):
    definition = yaml.safe_load(EE_DEFINITION.read_text())
    assert definition['version'] == 3
    assert {'name': 'pvelab.proxmox', 'version': '>=0.1.0'} in definition['dependencies']['galaxy']['collections']
    # Offline variant of the same definition: the collection from the tarball built here instead of Galaxy.
    definition['additional_build_files'] = [{'src': str(tarball), 'dest': 'collections'}]
    definition['dependencies']['galaxy'] = {'collections': [
        {'name': 'collections/' + tarball.name, 'type': 'file'}]}
    local = tmp_path / 'execution-environment.yml'
    local.write_text(yaml.safe_dump(definition, sort_keys=False))
    context = tmp_path / 'context'
    for source, where in ((EE_DEFINITION, tmp_path / 'shipped'), (local, context)):
        run([BIN / 'ansible-builder', 'create', '-f', source, '-c', where, '--output-filename', 'Containerfile'])
        containerfile = (where / 'Containerfile').read_text()
        assert 'ansible-galaxy collection install' in containerfile
        assert 'introspect' in containerfile
        assert 'ansible-core>=2.19,<2.22 ansible-runner>=2.4' in containerfile
        assert (where / '_build' / 'requirements.yml').is_file()
        assert (where / '_build' / 'scripts' / 'introspect.py').is_file()
    assert (context / '_build' / 'collections' / tarball.name).is_file()
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'][0]['type'] == 'file'

    # What the builder stage does once the collection is installed: introspect.py (the script in the context)
    # reads meta/execution-environment.yml of every collection and writes the pip and bindep files.
    installed = tmp_path / 'installed'
    run([BIN / 'ansible-galaxy', 'collection', 'install', '--force', '-p', installed, tarball],
        env={'ANSIBLE_COLLECTIONS_PATH': str(installed)})  # else the copy under test counts as installed
    pip_out, bindep_out = tmp_path / 'requirements.txt', tmp_path / 'bindep.txt'
    run([sys.executable, context / '_build' / 'scripts' / 'introspect.py', 'introspect', installed,
         '--write-pip', pip_out, '--write-bindep', bindep_out])
    pip_lines = pip_out.read_text()
    assert 'proxmoxer' in pip_lines and 'requests' in pip_lines and 'pvelab.proxmox' in pip_lines
    expected_system = [line for line in (REPO / 'bindep.txt').read_text().splitlines()
                       if line.strip() and not line.startswith('#')]
    for line in expected_system:
        assert line.split()[0] in bindep_out.read_text()


# -------------------------------------------------------- the credential type

def awx_inject(credential_type, inputs, private_data_dir):
    """The environment AWX gives a job for a credential of this type (awx.main.models.credential,
    CredentialType.inject_credential): empty inputs left out, missing booleans False, file injectors written
    under env/ and named through `tower.filename`, every template rendered in Jinja's immutable sandbox."""
    class Namespace(object):
        pass

    tower = Namespace()
    namespace = {'tower': tower}
    for key, value in inputs.items():
        if isinstance(value, bool) or len(value):
            namespace[key] = value
    for field in credential_type['inputs']['fields']:
        if field['type'] == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = False
    sandbox = jinja_sandbox.ImmutableSandboxedEnvironment()
    env_dir = Path(private_data_dir) / 'env'
    env_dir.mkdir(parents=True, exist_ok=True)
    for label, template in credential_type['injectors'].get('file', {}).items():
        handle, path = tempfile.mkstemp(dir=str(env_dir))
        with os.fdopen(handle, 'w') as out:
            out.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
        if '.' not in label:
            tower.filename = path
        else:
            if not hasattr(tower, 'filename'):
                tower.filename = Namespace()
            setattr(tower.filename, label.split('.', 1)[1], path)
    return dict((name, sandbox.from_string(template).render(**namespace))
                for name, template in credential_type['injectors'].get('env', {}).items())


def test_credential_type_is_well_formed():
    ctype = yaml.safe_load(CREDENTIAL_TYPE.read_text())
    assert ctype['kind'] == 'cloud' and ctype['name']
    fields = dict((f['id'], f) for f in ctype['inputs']['fields'])
    assert all(f['type'] in ('string', 'boolean') and f.get('label') for f in fields.values())
    assert set(ctype['inputs']['required']) <= set(fields)
    assert sorted(i for i, f in fields.items() if f.get('secret')) == ['password', 'token_secret']
    assert sorted(ctype['injectors']['env']) == sorted(PROXMOX_ENV)
    # The variables are the ones the modules' connection options fall back to.
    sys.path.insert(0, collections_path())
    try:
        from ansible_collections.pvelab.proxmox.plugins.module_utils._client import connection_argument_spec
    finally:
        sys.path.pop(0)
    fallbacks = set(v['fallback'][1][0] for v in connection_argument_spec().values() if v.get('fallback'))
    assert fallbacks == set(PROXMOX_ENV)


def test_injectors_render_as_awx_does(tmp_path):
    ctype = yaml.safe_load(CREDENTIAL_TYPE.read_text())
    env = awx_inject(ctype, {'host': 'pve1.example.org', 'user': 'automation@pve', 'password': 'pw',
                             'ca_cert': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'}, tmp_path)
    assert env['PROXMOX_HOST'] == 'pve1.example.org' and env['PROXMOX_PORT'] == '8006'
    assert env['PROXMOX_VALIDATE_CERTS'] == 'true'  # an unticked (missing) box keeps verification on
    assert env['PROXMOX_TOKEN_ID'] == '' and env['PROXMOX_TOKEN_SECRET'] == ''
    assert Path(env['PROXMOX_CA_PATH']).read_text().startswith('-----BEGIN CERTIFICATE-----')
    env = awx_inject(ctype, {'host': 'h', 'port': '443', 'token_id': 'automation@pve!ansible',
                             'token_secret': 's', 'skip_tls_verify': True}, tmp_path)
    assert (env['PROXMOX_PORT'], env['PROXMOX_VALIDATE_CERTS'], env['PROXMOX_CA_PATH']) == ('443', 'false', '')


# ------------------------------------------------------- a job, as AWX runs it

def private_data_dir(tmp_path, cluster, playbook_tasks_or_import):
    """AWX's layout: project/ (the SCM checkout), inventory/, env/ (envvars from the credential)."""
    pdd = tmp_path / 'pdd'
    (pdd / 'project').mkdir(parents=True)
    (pdd / 'inventory').mkdir()
    (pdd / 'inventory' / 'hosts').write_text('localhost ansible_connection=local ansible_python_interpreter={0}\n'
                                             .format(sys.executable))
    (pdd / 'project' / 'site.yml').write_text(yaml.safe_dump(playbook_tasks_or_import, sort_keys=False))
    ctype = yaml.safe_load(CREDENTIAL_TYPE.read_text())
    inputs = {'host': cluster.host, 'port': str(cluster.port), 'user': cluster.user, 'password': cluster.password,
              'ca_cert': Path(cluster.ca_path).read_text()}
    env = awx_inject(ctype, inputs, pdd)
    # The EE has the collection installed (here: the test command's copy) and ansible on PATH.
    env.update({'ANSIBLE_COLLECTIONS_PATH': collections_path(), 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'PATH': '{0}:{1}'.format(BIN, os.environ.get('PATH', ''))})
    return pdd, env


def scrubbed_environment(monkeypatch):
    """Nothing may reach the job but what the credential injects."""
    for name in PROXMOX_ENV + ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'):
        monkeypatch.delenv(name, raising=False)
    # ansible-runner looks its commands up on PATH (in an EE they are on it).
    monkeypatch.setenv('PATH', '{0}:{1}'.format(BIN, os.environ.get('PATH', '')))


@pytest.mark.cluster('demo.json', password='Awx-Cred-Secret-7f3a')
def test_lab_playbook_through_ansible_runner(tmp_path, pve_cluster, monkeypatch):
    scrubbed_environment(monkeypatch)
    roster = tmp_path / 'out' / 'awxlab-roster.csv'
    roster.parent.mkdir()
    pdd, env = private_data_dir(tmp_path, pve_cluster, [{'ansible.builtin.import_playbook': 'pvelab.proxmox.lab_up'}])
    extravars = {'lab_name': 'awxlab', 'lab_template': 'tmpl-debian',
                 'lab_students': [{'username': 'ann'}, {'username': 'ben'}],
                 'lab_teacher_sources': ['192.0.2.10/32'], 'lab_roster_path': str(roster),
                 'lab_firewall_compile_wait': 0.2}
    result = ansible_runner.run(private_data_dir=str(pdd), playbook='site.yml', envvars=env, extravars=extravars,
                                quiet=True, timeout=900)
    stdout = result.stdout.read()
    assert (result.status, result.rc) == ('successful', 0), stdout[-6000:]
    assert result.stats['failures'] == {} and result.stats['changed'].get('localhost', 0) > 0
    assert pve_cluster.password not in stdout  # the credential's secret stays out of the job output
    events = json.dumps(list(result.events))
    assert pve_cluster.password not in events
    with open(str(roster)) as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r['username'] for r in rows) == ['ann', 'ben']
    assert all(r['ip'] for r in rows)

    # An inventory source of the same credential: AWX runs ansible-inventory through ansible-runner.
    source = pdd / 'project' / 'awxlab.pve.yml'
    source.write_text(yaml.safe_dump({'plugin': 'pvelab.proxmox.pve', 'filters': ["pve_lab == 'awxlab'"]}))
    out, err = ansible_runner.get_inventory(action='list', inventories=[str(source)], response_format='json',
                                            envvars=env, quiet=True, private_data_dir=str(pdd))
    assert out, err
    listed = out if isinstance(out, dict) else json.loads(out)
    hosts = sorted(listed.get('pve_lab_awxlab', {}).get('hosts', []))
    assert hosts == ['awxlab-ann', 'awxlab-ben'], (listed, err)
    ips = dict((r['username'], r['ip']) for r in rows)
    for host in hosts:
        hostvars = listed['_meta']['hostvars'][host]
        address = hostvars['ansible_host']
        address = address.get('__ansible_unsafe', address) if isinstance(address, dict) else address
        assert address == ips[host.split('-', 1)[1]]


def test_a_job_without_the_credential_fails_clearly(tmp_path, pve_cluster, monkeypatch):
    scrubbed_environment(monkeypatch)
    pdd, env = private_data_dir(tmp_path, pve_cluster, [{
        'name': 'nodes', 'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'pvelab.proxmox.pve_node_info': {}}]}])
    for name in PROXMOX_ENV:
        env.pop(name)
    result = ansible_runner.run(private_data_dir=str(pdd), playbook='site.yml', envvars=env, quiet=True, timeout=300)
    assert result.status == 'failed'
    assert 'api_host' in result.stdout.read()

