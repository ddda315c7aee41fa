"""The pvelab.proxmox.pve inventory plugin against a scripted client: hosts, groups, addresses, filters, cache,
cost."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig


def _install_collection_loader():
    """ansible-test units installs Ansible's collection loader; under plain pytest (PYTHONPATH=<dir above
    ansible_collections>) install it here, so the plugin loader can load the inventory plugin and its docs."""
    if AnsibleCollectionConfig.collection_finder is not None:
        return
    roots = [p for p in sys.path if os.path.isdir(os.path.join(p, 'ansible_collections', 'pvelab', 'proxmox'))]
    # Modules imported before through the plain path importer lack the collection metadata the loader needs.
    for name in [n for n in sys.modules if n == 'ansible_collections' or n.startswith('ansible_collections.')]:
        del sys.modules[name]
    init_plugin_loader(roots)


_install_collection_loader()

from ansible_collections.pvelab.proxmox.plugins.module_utils import _inventory  # noqa: E402
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (  # noqa: E402
    ipv4_first,
    static_ips,
    usable_ips,
)
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import (  # noqa: E402
    PveApiError,
    PveConnectionError,
)
from ansible_collections.pvelab.proxmox.tests.unit.plugins.scripted_client import (  # noqa: E402
    ScriptedClient,
    UnscriptedCall,
)


def _plugin_loader():
    return inventory_loader


def agent_answer(*addresses):
    ips = [{'ip-address': a, 'ip-address-type': 'ipv6' if ':' in a else 'ipv4', 'prefix': 24} for a in addresses]
    return {'result': [
        {'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', 'prefix': 8}]},
        {'name': 'eth0', 'hardware-address': 'bc:24:11:00:00:01', 'ip-addresses': ips}]}


def vm(vmid, name, node='pve1', status='running', **extra):
    entry = {'id': 'qemu/{0}'.format(vmid), 'type': 'qemu', 'vmid': vmid, 'name': name, 'node': node,
             'status': status, 'template': 0, 'maxcpu': 2, 'maxmem': 2147483648}
    entry.update(extra)
    return entry


RESOURCES = [
    vm(100, 'teacher'),
    vm(101, 'web01', node='pve2', pool='web', tags='prod;web'),
    vm(200, 'netadmin-alice', node='pve2', pool='netadmin', tags='netadmin'),
    vm(201, 'netadmin-bob', node='pve3', pool='netadmin', tags='netadmin;exam-room'),
    vm(202, 'netadmin-carol', node='pve3', status='stopped', pool='netadmin', tags='netadmin'),
    vm(300, 'static-noagent'),
    vm(301, 'dhcp-noagent'),
    vm(400, 'dup'),
    vm(401, 'dup', node='pve2'),
    vm(9000, 'tmpl-debian', status='stopped', template=1),
    {'id': 'lxc/500', 'type': 'lxc', 'vmid': 500, 'name': 'ct-dns', 'node': 'pve1', 'status': 'running',
     'template': 0, 'maxcpu': 1, 'maxmem': 536870912},
    {'id': 'node/pve1', 'type': 'node', 'node': 'pve1', 'status': 'online'},
    {'id': 'storage/pve1/local', 'type': 'storage', 'node': 'pve1', 'storage': 'local'},
]

ANSWERS = {
    '/cluster/resources': RESOURCES,
    '/pools': [{'poolid': 'web', 'comment': 'production web servers'},
               {'poolid': 'netadmin', 'comment': 'pvelab.proxmox lab netadmin'}],
    '/nodes/pve1/qemu/100/agent/network-get-interfaces': agent_answer('fe80::be24:11ff:fe00:1', '192.0.2.10'),
    '/nodes/pve2/qemu/101/agent/network-get-interfaces': agent_answer('198.51.100.20'),
    '/nodes/pve2/qemu/200/agent/network-get-interfaces': agent_answer('2001:db8::200', '10.10.0.200'),
    '/nodes/pve3/qemu/201/agent/network-get-interfaces': agent_answer('10.10.0.201'),
    '/nodes/pve1/qemu/300/config': {'ipconfig0': 'ip=192.0.2.30/24,gw=192.0.2.1', 'agent': '0'},
    '/nodes/pve1/qemu/301/config': {'ipconfig0': 'ip=dhcp'},
    '/nodes/pve1/qemu/400/agent/network-get-interfaces': agent_answer('10.10.1.144'),
    '/nodes/pve2/qemu/401/agent/network-get-interfaces': agent_answer('10.10.1.145'),
    '/nodes/pve1/lxc/500/interfaces': [{'name': 'lo', 'inet': '127.0.0.1/8'},
                                       {'name': 'eth0', 'hwaddr': 'bc:24:11:00:05:00', 'inet': '192.0.2.53/24'}],
}


def missing(method, path, params):
    """PVE's answer to a read nobody scripted: the agent of a guest without one is not running, else 404. The
    plugin never writes."""
    if method != 'GET':
        raise UnscriptedCall('the inventory plugin wrote: {0} {1} {2}'.format(method, path, params))
    if '/agent/' in path:
        raise PveApiError(method, path, 500, 'QEMU guest agent is not running')
    raise PveApiError(method, path, 404, 'not found')


@pytest.fixture
def run(tmp_path, monkeypatch):
    """run(**options) -> (InventoryData, client): the plugin over a ScriptedClient answering GET path with
    answers[path] (ANSWERS by default), with a config file of these options. made: every client, in order."""
    for var in ('PROXMOX_HOST', 'PROXMOX_PORT', 'PROXMOX_USER', 'PROXMOX_PASSWORD', 'PROXMOX_TOKEN_ID',
                'PROXMOX_TOKEN_SECRET', 'PROXMOX_VALIDATE_CERTS', 'PROXMOX_CA_PATH'):
        monkeypatch.delenv(var, raising=False)
    made = []
    loader = _plugin_loader()

    def client(params, answers):
        script = dict((('GET', path), answer) for path, answer in (ANSWERS if answers is None else answers).items())
        made.append(ScriptedClient(script, otherwise=missing, params=params))
        return made[-1]

    def go(answers=None, use_cache=True, name='lab.pve.yml', **options):
        config = {'plugin': 'pvelab.proxmox.pve', 'api_host': 'pve.example.org', 'api_user': 'root@pam',
                  'api_password': 'secret'}
        config.update(options)
        config = dict((k, v) for k, v in config.items() if v is not None)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        plugin = loader.get('pvelab.proxmox.pve')
        module = sys.modules[type(plugin).__module__]
        monkeypatch.setattr(module, 'PveClient', lambda params: client(params, answers))
        inventory = InventoryData()
        assert plugin.verify_file(str(path))
        plugin.parse(inventory, DataLoader(), str(path), cache=use_cache)
        if getattr(plugin, '_cache', None) is not None:
            plugin.update_cache_if_changed()  # as the InventoryManager does after parse()
        return inventory, (made[-1] if made else None)
    go.made = made
    return go


def paths(client):
    """The paths the plugin read, in order."""
    return [path for _method, path, _params in client.calls]


def hostvars(inventory, host):
    return inventory.get_host(host).get_vars()


def members(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts()) if group in inventory.groups else []


# ------------------------------------------------------------------- plugin

def test_hosts_groups_and_addresses(run):
    inventory, client = run()
    assert sorted(inventory.hosts) == ['ct-dns', 'dhcp-noagent', 'dup-400', 'dup-401', 'netadmin-alice', 'netadmin-bob',
                                       'netadmin-carol', 'static-noagent', 'teacher', 'web01']
    teacher = hostvars(inventory, 'teacher')
    assert teacher['ansible_host'] == '192.0.2.10'  # the link-local IPv6 address before it is skipped
    assert teacher['pve_ips'] == ['192.0.2.10'] and teacher['pve_ip_source'] == 'agent'
    assert (teacher['pve_vmid'], teacher['pve_node'], teacher['pve_type'], teacher['pve_status']) == (
        100, 'pve1', 'qemu', 'running')
    alice = hostvars(inventory, 'netadmin-alice')
    assert alice['ansible_host'] == '10.10.0.200' and alice['pve_ips'] == ['10.10.0.200', '2001:db8::200']
    assert alice['pve_lab'] == 'netadmin' and alice['pve_pool'] == 'netadmin' and alice['pve_tags'] == ['netadmin']
    static = hostvars(inventory, 'static-noagent')
    assert static['ansible_host'] == '192.0.2.30' and static['pve_ip_source'] == 'config'
    assert 'ansible_host' not in hostvars(inventory, 'dhcp-noagent')
    assert 'ansible_host' not in hostvars(inventory, 'netadmin-carol')
    assert hostvars(inventory, 'ct-dns')['ansible_host'] == '192.0.2.53'
    assert hostvars(inventory, 'ct-dns')['pve_ip_source'] == 'interfaces'

    assert members(inventory, 'pve_lab_netadmin') == ['netadmin-alice', 'netadmin-bob', 'netadmin-carol']
    assert members(inventory, 'pve_lab_web') == []  # pool web is not a lab's (its comment says nothing of one)
    assert members(inventory, 'pve_pool_web') == ['web01']
    assert members(inventory, 'pve_tag_exam_room') == ['netadmin-bob']  # '-' is not for group names
    assert members(inventory, 'pve_node_pve3') == ['netadmin-bob', 'netadmin-carol']
    assert members(inventory, 'pve_status_stopped') == ['netadmin-carol']
    assert members(inventory, 'pve_lxc') == ['ct-dns']
    assert 'tmpl-debian' not in inventory.hosts and members(inventory, 'pve_template') == []


def test_cost_one_resources_read_and_lookups_only_for_running_guests(run):
    _inventory_data, client = run()
    calls = paths(client)
    assert calls.count('/cluster/resources') == 1 and calls.count('/pools') == 1
    looked_up = sorted(int(c.split('/')[4]) for c in calls if '/agent/' in c or c.endswith('/interfaces'))
    assert looked_up == [100, 101, 200, 201, 300, 301, 400, 401, 500]  # never 202 (stopped) or 9000 (template)
    # a config read only where no address came from the agent
    assert sorted(c for c in calls if c.endswith('/config')) == ['/nodes/pve1/qemu/300/config',
                                                                 '/nodes/pve1/qemu/301/config']
    assert len(calls) == 2 + 9 + 2


def test_without_agent_ips_one_request(run):
    answers = dict(ANSWERS, **{'/cluster/resources': [r for r in RESOURCES if not r.get('pool')]})
    inventory, client = run(answers=answers, want_agent_ips=False)
    assert paths(client) == ['/cluster/resources']
    assert all('ansible_host' not in hostvars(inventory, h) for h in inventory.hosts)


def test_include_options(run):
    inventory, _client = run(include_stopped=False, include_templates=True)
    assert 'netadmin-carol' not in inventory.hosts
    assert members(inventory, 'pve_template') == ['tmpl-debian']
    assert hostvars(inventory, 'tmpl-debian')['pve_template'] is True


def test_group_prefix(run):
    inventory, _client = run(group_prefix='px_')
    assert members(inventory, 'px_lab_netadmin') == ['netadmin-alice', 'netadmin-bob', 'netadmin-carol']
    assert not any(g.startswith('pve_') for g in inventory.groups)


def test_early_filters_save_the_lookups(run):
    inventory, client = run(filters=["pve_lab == 'netadmin'"])
    assert sorted(inventory.hosts) == ['netadmin-alice', 'netadmin-bob', 'netadmin-carol']
    assert len([c for c in paths(client) if '/nodes/' in c]) == 2  # alice and bob only


def test_filters_on_addresses_are_checked_after_the_lookups(run):
    inventory, client = run(filters=['ansible_host is defined', "pve_node != 'pve2'"])
    # dup-401 (pve2) is left out, so the other 'dup' keeps its plain name
    assert sorted(inventory.hosts) == ['ct-dns', 'dup', 'netadmin-bob', 'static-noagent', 'teacher']
    # pve_node != 'pve2' was checked early: no lookup for the pve2 guests
    assert not [c for c in paths(client) if c.startswith('/nodes/pve2/')]


def test_filter_error_drops_the_guest_or_fails_when_strict(run):
    inventory, _client = run(filters=['pve_no_such_var == 1'])
    assert list(inventory.hosts) == []
    with pytest.raises(AnsibleParserError, match='could not evaluate filter'):
        run(filters=['pve_no_such_var == 1'], strict=True)


def test_constructed_compose_groups_keyed_groups(run):
    inventory, _client = run(compose={'ansible_user': "'debian'", 'vm_label': "pve_name ~ '@' ~ pve_node"},
                             groups={'examinees': "'exam-room' in pve_tags"},
                             keyed_groups=[{'key': 'pve_lab', 'prefix': 'class'}])
    assert hostvars(inventory, 'teacher')['ansible_user'] == 'debian'
    assert hostvars(inventory, 'netadmin-bob')['vm_label'] == 'netadmin-bob@pve3'
    assert members(inventory, 'examinees') == ['netadmin-bob']
    assert members(inventory, 'class_netadmin') == ['netadmin-alice', 'netadmin-bob', 'netadmin-carol']


def test_cache_hit_makes_no_request(run, tmp_path):
    cache = dict(cache=True, cache_plugin='ansible.builtin.jsonfile', cache_connection=str(tmp_path / 'cache'))
    first, _client = run(**cache)
    assert len(run.made) == 1
    second, _client = run(**cache)
    assert len(run.made) == 1  # no client, so no login and no request
    assert sorted(second.hosts) == sorted(first.hosts)
    assert hostvars(second, 'teacher')['ansible_host'] == '192.0.2.10'
    run(use_cache=False, **cache)  # refresh (as --flush-cache / meta: refresh_inventory)
    assert len(run.made) == 2


def test_labs_by_tag_when_pools_are_not_visible(run):
    inventory, _client = run(answers=dict(ANSWERS, **{'/pools': []}))
    assert members(inventory, 'pve_lab_netadmin') == ['netadmin-alice', 'netadmin-bob', 'netadmin-carol']
    assert members(inventory, 'pve_lab_web') == ['web01']  # pool web, tag web: cannot be told from a lab


def test_network_errors_are_warned_and_the_rest_listed(run):
    answers = dict(ANSWERS)
    answers['/nodes/pve1/qemu/100/agent/network-get-interfaces'] = PveConnectionError('reset by peer')
    inventory, _client = run(answers=answers)
    assert 'ansible_host' not in hostvars(inventory, 'teacher')
    assert hostvars(inventory, 'web01')['ansible_host'] == '198.51.100.20'


def test_connection_from_environment(run, monkeypatch):
    monkeypatch.setenv('PROXMOX_HOST', 'env-host')
    monkeypatch.setenv('PROXMOX_PORT', '8443')
    monkeypatch.setenv('PROXMOX_TOKEN_ID', 'automation@pve!inv')
    monkeypatch.setenv('PROXMOX_TOKEN_SECRET', 'tok')
    monkeypatch.setenv('PROXMOX_VALIDATE_CERTS', 'false')
    _inventory_data, client = run(api_host=None, api_user=None, api_password=None)
    assert client.params['api_host'] == 'env-host' and client.params['api_port'] == 8443
    assert client.params['api_token_id'] == 'automation@pve!inv' and client.params['api_token_secret'] == 'tok'
    assert client.params['validate_certs'] is False and client.params['api_timeout'] == 30


def test_templated_password(run, monkeypatch):
    monkeypatch.setenv('MY_PVE_PASSWORD', 's3cret')
    _inventory_data, client = run(api_password="{{ lookup('ansible.builtin.env', 'MY_PVE_PASSWORD') }}")
    assert client.params['api_password'] == 's3cret'


@pytest.mark.parametrize('options, message', [
    (dict(api_host=None), 'api_host is required'),
    (dict(api_password=None), 'one of api_password'),
    (dict(api_password=None, api_token_secret='x'), 'go together'),
    (dict(agent_parallel=0), 'agent_parallel'),
])
def test_bad_settings(run, options, message):
    with pytest.raises(AnsibleParserError, match=message):
        run(**options)


def test_verify_file(tmp_path):
    plugin = _plugin_loader().get('pvelab.proxmox.pve')
    for name, ok in (('lab.pve.yml', True), ('pve.yaml', True), ('lab.yml', False), ('proxmox.yml', False)):
        (tmp_path / name).write_text('plugin: pvelab.proxmox.pve\n')
        assert plugin.verify_file(str(tmp_path / name)) is ok


# ---------------------------------------------------------------- functions

# pve_ips: _guests' addresses (the agent's, else the config's), IPv4 first

def interface_ips(interfaces):
    return ipv4_first(usable_ips(interfaces))


def config_ips(config):
    return ipv4_first(static_ips(config))


def test_interface_ips_skip_loopback_link_local_and_put_ipv4_first():
    answer = agent_answer('fe80::1', '2001:db8::5', '10.0.0.5', '169.254.3.4', '0.0.0.0')['result']
    assert interface_ips(answer) == ['10.0.0.5', '2001:db8::5']
    assert interface_ips([{'name': 'eth0', 'inet': '192.0.2.9/24', 'inet6': 'fe80::2/64'}]) == [
        '192.0.2.9']
    assert interface_ips(None) == []


def test_config_ips():
    assert config_ips({'ipconfig1': 'ip=192.0.2.2/24', 'ipconfig0': 'ip=dhcp,ip6=2001:db8::1/64',
                       'ipconfig10': 'ip=192.0.2.10/24'}) == [
        '192.0.2.2', '192.0.2.10', '2001:db8::1']
    assert config_ips({'net0': 'name=eth0,bridge=vmbr0,ip=10.1.2.3/24,gw=10.1.2.1'}) == ['10.1.2.3']
    assert config_ips({'net0': 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0'}) == []


def test_ansible_host_prefers_ipv4():
    assert _inventory.ansible_host(['2001:db8::1', '10.0.0.1']) == '10.0.0.1'
    assert _inventory.ansible_host(['2001:db8::1']) == '2001:db8::1'
    assert _inventory.ansible_host([]) is None


def test_host_names_rename_every_duplicate():
    guests = [{'vmid': 5, 'name': 'a', 'type': 'qemu'}, {'vmid': 3, 'name': 'a', 'type': 'qemu'},
              {'vmid': 7, 'name': '', 'type': 'lxc'}, {'vmid': 8, 'name': 'b', 'type': 'qemu'},
              {'vmid': 9, 'name': 'a-3', 'type': 'qemu'}]
    assert _inventory.host_names(guests) == {5: 'a-5', 3: 'a-3-3', 7: 'lxc-7', 8: 'b', 9: 'a-3'}


def test_safe_group():
    assert _inventory.safe_group('pve_tag_exam-room.2') == 'pve_tag_exam_room_2'
