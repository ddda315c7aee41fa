"""_guests.guest_ips: the one rule by which the inventory, the firewall's teacher addresses and the modules read a
guest's addresses (the agent's when the guest runs and its agent answers, else the static config's)."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveApiError, PveConnectionError
from ansible_collections.pvelab.proxmox.plugins.module_utils._guests import (
    FROM_AGENT,
    FROM_CONFIG,
    FROM_INTERFACES,
    guest_cidrs,
    guest_ips,
    static_cidrs,
    static_ips,
    usable_ip,
)

VM = {'vmid': 100, 'node': 'pve1', 'type': 'qemu', 'status': 'running'}
CT = {'vmid': 200, 'node': 'pve1', 'type': 'lxc', 'status': 'running'}
AGENT = '/nodes/pve1/qemu/100/agent/network-get-interfaces'
NO_AGENT = PveApiError('GET', AGENT, 500, 'QEMU guest agent is not running')


class Answers(object):
    """GET path -> answer (an exception is raised); a path not listed is a test failure."""

    def __init__(self, answers):
        self.answers = answers
        self.paths = []

    def get(self, path, **params):
        self.paths.append(path)
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


def agent(*addresses):
    return {'result': [{'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1'}]},
                       {'name': 'eth0', 'ip-addresses': [{'ip-address': a} for a in addresses]}]}


def test_a_running_guest_whose_agent_answers_gives_the_agents_addresses_without_a_config_read():
    client = Answers({AGENT: agent('fe80::1%eth0', '2001:db8::5', '10.0.0.5')})
    assert guest_ips(client, VM) == (['2001:db8::5', '10.0.0.5'], FROM_AGENT, None)
    assert client.paths == [AGENT]
    assert guest_cidrs(client, VM) == ['2001:db8::5/128', '10.0.0.5/32']


def test_no_agent_or_no_usable_address_falls_back_to_the_static_config():
    config = {'ipconfig0': 'ip=192.0.2.11/24,gw=192.0.2.1'}
    client = Answers({AGENT: NO_AGENT, '/nodes/pve1/qemu/100/config': config})
    assert guest_ips(client, VM) == (['192.0.2.11'], FROM_CONFIG, None)
    client = Answers({AGENT: agent('169.254.0.9', '0.0.0.0'), '/nodes/pve1/qemu/100/config': {}})
    assert guest_ips(client, VM) == ([], None, 'agent reported no usable address')
    client = Answers({AGENT: NO_AGENT, '/nodes/pve1/qemu/100/config': {'ipconfig0': 'ip=dhcp'}})
    assert guest_ips(client, VM) == ([], None, 'QEMU guest agent is not running')


def test_a_stopped_guest_is_not_asked_only_its_config_is_read():
    client = Answers({'/nodes/pve1/qemu/100/config': {'ipconfig0': 'ip=192.0.2.12/24'}})
    assert guest_ips(client, dict(VM, status='stopped')) == (['192.0.2.12'], FROM_CONFIG, None)
    assert client.paths == ['/nodes/pve1/qemu/100/config']


def test_a_container_reports_through_interfaces():
    client = Answers({'/nodes/pve1/lxc/200/interfaces': [{'name': 'lo', 'inet': '127.0.0.1/8'},
                                                         {'name': 'eth0', 'inet': '10.1.1.1/24'}]})
    assert guest_ips(client, CT) == (['10.1.1.1'], FROM_INTERFACES, None)


def test_an_unreadable_config_and_a_network_fault_are_errors():
    refused = PveApiError('GET', '/nodes/pve1/qemu/100/config', 403, 'Permission check failed')
    with pytest.raises(PveApiError):
        guest_ips(Answers({AGENT: NO_AGENT, '/nodes/pve1/qemu/100/config': refused}), VM)
    with pytest.raises(PveConnectionError):
        guest_ips(Answers({AGENT: PveConnectionError('GET ...: network error')}), VM)


def test_static_addresses_of_vms_and_containers():
    config = {'ipconfig1': 'ip=192.0.2.2/24', 'ipconfig0': 'ip=dhcp,ip6=2001:db8::1/64', 'ipconfig10': 'ip=auto',
              'net0': 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0', 'net1': 'name=eth1,bridge=vmbr1,ip=198.51.100.7/24',
              'net2': 'name=eth2,ip=224.0.0.5/4,ip6=manual'}
    assert static_ips(config) == ['2001:db8::1', '192.0.2.2', '198.51.100.7']
    assert static_cidrs(config) == ['2001:db8::1/128', '192.0.2.2/32', '198.51.100.7/32']
    assert static_ips({}) == [] and static_ips(None) == []


@pytest.mark.parametrize('text, address', [
    ('10.0.0.5', '10.0.0.5'), ('10.0.0.5/24', '10.0.0.5'), ('2001:db8::5%eth0', '2001:db8::5'),
    ('127.0.1.1', None), ('::1', None), ('fe80::1%eth0', None), ('169.254.3.4', None), ('0.0.0.0', None),
    ('ff02::1', None), ('dhcp', None), ('', None), (None, None),
])
def test_usable_ip(text, address):
    assert usable_ip(text) == address
