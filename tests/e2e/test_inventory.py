"""ansible-inventory with the pvelab.proxmox.pve plugin against the fake cluster.

Groups, ansible_host from the guest agent, compose / keyed_groups / filters, the cache, an API token from the
PROXMOX_* environment, and a 500-guest cluster whose cost in API requests is bounded (and timed: printed, not
asserted).
"""

import copy
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from helpers import collections_path
from fakecluster import serving
from fakecluster.describe import load

LAB_COMMENT = 'pvelab.proxmox lab {0}'


def mac(vmid):
    return 'BC:24:11:{0:02X}:{1:02X}:{2:02X}'.format((vmid >> 16) & 255, (vmid >> 8) & 255, vmid & 255)


def lab_vm(vmid, name, lab, node='pve1', status='running', agent='1', ipconfig='ip=dhcp'):
    config = {'memory': 512, 'cores': 1, 'net0': 'virtio={0},bridge=vmbr0,firewall=1'.format(mac(vmid)),
              'ipconfig0': ipconfig, 'tags': lab}
    if agent:
        config['agent'] = agent
    return {'vmid': vmid, 'name': name, 'node': node, 'status': status, 'pool': lab, 'config': config}


def demo_with_lab():
    """demo.json plus lab 'netadmin' as the lab role leaves it: pool with the lab's comment, VMs tagged with its name."""
    desc = load('demo.json')
    desc['pools'].append({'poolid': 'netadmin', 'comment': LAB_COMMENT.format('netadmin')})
    desc['vms'] += [
        lab_vm(200, 'netadmin-alice', 'netadmin', node='pve2'),
        lab_vm(201, 'netadmin-bob', 'netadmin', node='pve3'),
        lab_vm(202, 'netadmin-carol', 'netadmin', node='pve3', status='stopped'),
        # agent off, static address: found in the config
        lab_vm(203, 'netadmin-dave', 'netadmin', node='pve1', agent=None, ipconfig='ip=192.0.2.203/24,gw=192.0.2.1'),
        # agent off, DHCP: no address to be had
        lab_vm(204, 'netadmin-erin', 'netadmin', node='pve1', agent=None),
    ]
    desc['users'].append({'userid': 'inventory@pve', 'comment': 'read-only inventory account',
                          'tokens': [{'tokenid': 'inv', 'privsep': 0, 'secret': 'inv-token-secret'}]})
    desc['acl'].append({'path': '/', 'type': 'user', 'ugid': 'inventory@pve', 'roleid': 'PVEAuditor', 'propagate': 1})
    return desc


def unwrap(value):
    """ansible-inventory's JSON with 2.19's {'__ansible_unsafe': ...} markers taken off."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, unwrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class Listed(object):
    def __init__(self, data, seconds):
        self.data = unwrap(data)
        self.seconds = seconds
        self.hostvars = self.data['_meta']['hostvars']

    @property
    def hosts(self):
        return sorted(self.hostvars)

    def group(self, name):
        return sorted(self.data.get(name, {}).get('hosts', []))


def connection_env(cluster):
    return {'PROXMOX_HOST': cluster.host, 'PROXMOX_PORT': str(cluster.port), 'PROXMOX_USER': cluster.user,
            'PROXMOX_PASSWORD': cluster.password, 'PROXMOX_CA_PATH': cluster.ca_path}


def inventory(tmp_path, cluster, options=None, env=None, name='lab.pve.yml', extra_args=(), connection=True):
    """Run ansible-inventory --list on a pve.yml source with these options (connection from PROXMOX_*)."""
    config = {'plugin': 'pvelab.proxmox.pve'}
    config.update(options or {})
    source = tmp_path / name
    source.write_text(yaml.safe_dump(config))
    run_env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PROXMOX_'))
    run_env.pop('REQUESTS_CA_BUNDLE', None)
    run_env.update({'ANSIBLE_COLLECTIONS_PATH': collections_path(), 'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true',
                    'ANSIBLE_NOCOLOR': '1'})
    if connection:
        run_env.update(connection_env(cluster))
    run_env.update(env or {})
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-inventory'), '-i', str(source), '--list']
    cmd += list(extra_args)
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=600, cwd=str(tmp_path))
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    return Listed(json.loads(proc.stdout), seconds)


@pytest.fixture
def lab_cluster():
    with serving(demo_with_lab()) as cluster:
        cluster.pve.add_ct(500, name='ct-dns', node='pve1', status='running',
                           config={'hostname': 'ct-dns', 'net0': 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:05:00,'
                                                                 'ip=192.0.2.53/24,gw=192.0.2.1'})
        yield cluster


def test_groups_and_ansible_host_from_the_agent(tmp_path, lab_cluster):
    listed = inventory(tmp_path, lab_cluster)
    assert listed.hosts == ['ct-dns', 'netadmin-alice', 'netadmin-bob', 'netadmin-carol', 'netadmin-dave',
                            'netadmin-erin', 'teacher', 'web01']  # the template is left out
    # DHCP guests: the address only the agent knows (fakecluster's lease for the vmid)
    assert listed.hostvars['netadmin-alice']['ansible_host'] == '10.10.0.200'
    assert listed.hostvars['netadmin-alice']['pve_ip_source'] == 'agent'
    assert listed.hostvars['netadmin-bob']['ansible_host'] == '10.10.0.201'
    assert listed.hostvars['teacher']['ansible_host'] == '192.0.2.10'
    assert listed.hostvars['teacher']['pve_ips'] == ['192.0.2.10']  # no loopback, no fe80::
    assert listed.hostvars['netadmin-dave']['ansible_host'] == '192.0.2.203'
    assert listed.hostvars['netadmin-dave']['pve_ip_source'] == 'config'
    assert 'ansible_host' not in listed.hostvars['netadmin-erin']
    assert 'ansible_host' not in listed.hostvars['netadmin-carol']  # stopped
    assert listed.hostvars['ct-dns']['ansible_host'] == '192.0.2.53'
    alice = listed.hostvars['netadmin-alice']
    assert (alice['pve_vmid'], alice['pve_node'], alice['pve_type'], alice['pve_status'], alice['pve_pool'],
            alice['pve_lab'], alice['pve_tags']) == (200, 'pve2', 'qemu', 'running', 'netadmin', 'netadmin',
                                                     ['netadmin'])

    lab = ['netadmin-alice', 'netadmin-bob', 'netadmin-carol', 'netadmin-dave', 'netadmin-erin']
    assert listed.group('pve_lab_netadmin') == lab
    assert listed.group('pve_pool_netadmin') == lab
    assert listed.group('pve_tag_netadmin') == lab
    assert listed.group('pve_lab_web') == []  # pool web (tagged web too) is not a lab's
    assert listed.group('pve_pool_web') == ['web01']
    assert listed.group('pve_tag_prod') == ['web01']
    assert listed.group('pve_node_pve3') == ['netadmin-bob', 'netadmin-carol']
    assert listed.group('pve_status_stopped') == ['netadmin-carol']
    assert listed.group('pve_lxc') == ['ct-dns']
    assert 'ct-dns' not in listed.group('pve_qemu')

    # Cost: login, /cluster/resources, /pools, one lookup per running guest, a config read for dave and erin.
    log = [path for _method, path, _body in lab_cluster.pve.request_log()]
    assert len([p for p in log if p.endswith('/cluster/resources')]) == 1
    assert not [p for p in log if '/202/' in p or '/9000/' in p]  # stopped guests and templates cost nothing
    assert len(log) == 1 + 1 + 1 + 7 + 2, log


def test_compose_keyed_groups_filters_and_templates(tmp_path, lab_cluster):
    listed = inventory(tmp_path, lab_cluster, {
        'include_templates': True,
        'include_stopped': False,
        'group_prefix': 'px_',
        'filters': ["pve_lab == 'netadmin' or pve_template", 'ansible_host is defined or pve_template'],
        'compose': {'ansible_user': "'student'", 'seat': "pve_name | regex_replace('^netadmin-', '')"},
        'groups': {'on_pve3': "pve_node == 'pve3'"},
        'keyed_groups': [{'key': 'pve_node', 'prefix': 'hosted'}],
    })
    assert listed.hosts == ['netadmin-alice', 'netadmin-bob', 'netadmin-dave', 'tmpl-debian']
    assert listed.group('px_template') == ['tmpl-debian']
    assert listed.group('px_lab_netadmin') == ['netadmin-alice', 'netadmin-bob', 'netadmin-dave']
    assert listed.hostvars['netadmin-bob']['ansible_user'] == 'student'
    assert listed.hostvars['netadmin-bob']['seat'] == 'bob'
    assert listed.group('on_pve3') == ['netadmin-bob']
    assert listed.group('hosted_pve2') == ['netadmin-alice']
    assert not [g for g in listed.data if g.startswith('pve_')]
    # The lab filter ran before the lookups: the teacher, web01 and the container cost no request.
    log = [path for _method, path, _body in lab_cluster.pve.request_log()]
    assert not [p for p in log if '/100/' in p or '/101/' in p or '/500/' in p]


def test_cache(tmp_path, lab_cluster):
    options = {'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile',
               'cache_connection': str(tmp_path / 'cache'), 'cache_timeout': 600}
    first = inventory(tmp_path, lab_cluster, options)
    made = lab_cluster.count_requests()
    assert made > 0
    second = inventory(tmp_path, lab_cluster, options)
    assert lab_cluster.count_requests() == made  # answered from the cache: no login, no request
    assert second.hostvars == first.hostvars
    # The cache holds what PVE said: a new VM shows up after --flush-cache (AWX: "update on launch").
    lab_cluster.pve.add_vm(205, 'netadmin-frank', node='pve2', status='stopped', pool='netadmin',
                           config={'tags': 'netadmin', 'net0': 'virtio={0},bridge=vmbr0'.format(mac(205))})
    assert 'netadmin-frank' not in inventory(tmp_path, lab_cluster, options).hosts
    assert 'netadmin-frank' in inventory(tmp_path, lab_cluster, options, extra_args=['--flush-cache']).hosts
    assert lab_cluster.count_requests() > made


def test_api_token_from_the_environment(tmp_path, lab_cluster):
    env = {'PROXMOX_HOST': lab_cluster.host, 'PROXMOX_PORT': str(lab_cluster.port),
           'PROXMOX_TOKEN_ID': 'inventory@pve!inv', 'PROXMOX_TOKEN_SECRET': 'inv-token-secret',
           'PROXMOX_CA_PATH': lab_cluster.ca_path}
    listed = inventory(tmp_path, lab_cluster, env=env, connection=False)
    assert listed.hostvars['netadmin-alice']['ansible_host'] == '10.10.0.200'
    assert listed.group('pve_lab_netadmin')
    assert not lab_cluster.count_requests('POST', '/access/ticket')  # a token needs no login


def test_options_in_the_file_and_a_bad_certificate(tmp_path, lab_cluster):
    options = {'api_host': lab_cluster.host, 'api_port': lab_cluster.port, 'api_user': lab_cluster.user,
               'api_password': lab_cluster.password, 'ca_path': lab_cluster.ca_path}
    listed = inventory(tmp_path, lab_cluster, options, connection=False)
    assert 'teacher' in listed.hosts
    # Without the fake's CA the certificate does not verify: the source fails with a message that says what to do.
    source = tmp_path / 'nocert.pve.yml'
    source.write_text(yaml.safe_dump(dict(options, plugin='pvelab.proxmox.pve', ca_path=None)))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PROXMOX_') and k != 'REQUESTS_CA_BUNDLE')
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-inventory'), '-i', str(source),
                           '--list'], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    assert 'could not be verified' in proc.stderr and 'ca_path' in proc.stderr
    assert lab_cluster.password not in proc.stderr + proc.stdout


# ------------------------------------------------------------ a big cluster

BIG_LABS = 10
BIG_PER_LAB = 50


def big_cluster():
    """500 guests in 10 labs over 5 nodes: 90% running with an agent (DHCP), 5% running without one (static
    address), 5% stopped; plus a template."""
    desc = {'nodes': [{'name': 'pve{0}'.format(n), 'maxmem_gib': 512, 'base_mem_gib': 4, 'maxcpu': 64}
                      for n in range(1, 6)],
            'pools': [], 'vms': [{'vmid': 9000, 'name': 'tmpl-debian', 'node': 'pve1', 'template': True,
                                  'config': {'agent': '1', 'net0': 'virtio={0},bridge=vmbr0'.format(mac(9000))}}]}
    counts = {'running_agent': 0, 'running_static': 0, 'stopped': 0}
    for lab in range(BIG_LABS):
        name = 'lab{0:02d}'.format(lab)
        desc['pools'].append({'poolid': name, 'comment': LAB_COMMENT.format(name)})
        for seat in range(BIG_PER_LAB):
            vmid = 1000 + lab * 100 + seat
            node = 'pve{0}'.format(1 + vmid % 5)
            if seat % 20 == 7:
                kind = 'stopped'
                spec = lab_vm(vmid, '{0}-s{1:03d}'.format(name, seat), name, node=node, status='stopped')
            elif seat % 20 == 13:
                kind = 'running_static'
                spec = lab_vm(vmid, '{0}-s{1:03d}'.format(name, seat), name, node=node, agent=None,
                              ipconfig='ip=192.0.{0}.{1}/24'.format(lab, seat + 10))
            else:
                kind = 'running_agent'
                spec = lab_vm(vmid, '{0}-s{1:03d}'.format(name, seat), name, node=node)
            counts[kind] += 1
            desc['vms'].append(spec)
    return desc, counts


@pytest.mark.parametrize('latency', [0.0, 0.02], ids=['no-latency', '20ms-per-request'])
def test_big_cluster_cost(tmp_path, latency):
    desc, counts = big_cluster()
    with serving(copy.deepcopy(desc), time_scale=1.0, latency=latency) as cluster:
        cluster.pve.max_requests = 100000
        listed = inventory(tmp_path, cluster)
        made = cluster.count_requests()
    running = counts['running_agent'] + counts['running_static']
    assert len(listed.hosts) == BIG_LABS * BIG_PER_LAB
    assert len(listed.group('pve_lab_lab03')) == BIG_PER_LAB
    with_address = [h for h, v in listed.hostvars.items() if v.get('ansible_host')]
    assert len(with_address) == running
    # login + /cluster/resources + /pools + one lookup per running guest + a config read for those without agent
    bound = 3 + running + counts['running_static']
    assert made <= bound, (made, bound)
    assert cluster.count_requests('GET', '/cluster/resources') == 1
    report = ('inventory of {0} guests ({1} running, {2} without agent): {3:.2f} s wall for ansible-inventory, '
              '{4} API requests (bound {5}), API latency {6:.0f} ms'.format(
                  len(listed.hosts), running, counts['running_static'], listed.seconds, made, bound, latency * 1000))
    sys.stderr.write('\n' + report + '\n')
    (tmp_path.parent / 'inventory-benchmark-{0}.txt'.format(int(latency * 1000))).write_text(report + '\n')
