"""What a guest reports about its network: a VM agent's answer to network-get-interfaces, a container's
/interfaces.

A guest with a static `ipconfig0` (ip=a.b.c.d/nn) has that address. Real templates use DHCP (ip=dhcp, or no
ipconfig0 at all): the guest then gets a lease that is derived from its vmid, so it is the same after every
restart and differs between VMs. Every NIC also carries a link-local IPv6 address, as a real Linux guest does,
so callers have to pick the address they want instead of taking the first one.
"""

import ipaddress
import re

from fakepve.qemu import NET_MODELS

DHCP_POOL = '10.10.0.0/16'


def agent_enabled(config):
    """True if the VM config turns the agent on: `agent: 1`, `agent: enabled=1,...`, `agent: 1,fstrim_...`."""
    for part in str(config.get('agent', '0')).split(','):
        key, eq, value = part.partition('=')
        if not eq:
            key, value = 'enabled', key
        if key == 'enabled':
            return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return False


def mac_of(net):
    """The MAC address of a netN value (`virtio=BC:24:11:..,bridge=vmbr0` or `model=virtio,macaddr=...`)."""
    for part in str(net).split(','):
        key, _sep, value = part.partition('=')
        if (key in NET_MODELS or key == 'macaddr') and value:
            return value.lower()
    return None


def link_local(mac):
    """The fe80:: address a guest derives from its MAC (modified EUI-64)."""
    octets = [int(x, 16) for x in mac.split(':')]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xff, 0xfe] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xfe, 0x80] + [0] * 6 + eui)))


def dhcp_lease(vmid, pool=DHCP_POOL):
    """(address, prefix) a DHCP server hands this vmid: stable across restarts, distinct per VM up to the pool size."""
    network = ipaddress.ip_network(pool)
    hosts = network.num_addresses - 2
    return str(network[1 + (int(vmid) - 1) % hosts]), network.prefixlen


def static_addresses(ipconfig):
    """[(address, prefix, 'ipv4'|'ipv6')] of an ipconfigN value's static ip= and ip6= settings."""
    out = []
    for part in str(ipconfig or '').split(','):
        key, _sep, value = part.partition('=')
        if key in ('ip', 'ip6') and '/' in value:
            iface = ipaddress.ip_interface(value)
            out.append((str(iface.ip), iface.network.prefixlen, 'ipv{0}'.format(iface.version)))
    return out


def interfaces(vmid, config, pool=DHCP_POOL):
    """The guest's answer to network-get-interfaces: lo, then eth0 (for net0) with its addresses."""
    out = [{'name': 'lo', 'hardware-address': '00:00:00:00:00:00',
            'ip-addresses': [{'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', 'prefix': 8},
                             {'ip-address': '::1', 'ip-address-type': 'ipv6', 'prefix': 128}]}]
    mac = mac_of(config.get('net0', ''))
    if mac is None:
        return out
    static = static_addresses(config.get('ipconfig0'))
    addresses = [a for a in static if a[2] == 'ipv4'] or [dhcp_lease(vmid, pool) + ('ipv4',)]
    addresses += [a for a in static if a[2] == 'ipv6'] + [(link_local(mac), 64, 'ipv6')]
    out.append({'name': 'eth0', 'hardware-address': mac,
                'ip-addresses': [{'ip-address': ip, 'ip-address-type': kind, 'prefix': prefix}
                                 for ip, prefix, kind in addresses]})
    return out


def container_interfaces(vmid, config, answer, pool=DHCP_POOL):
    """A running container's /interfaces with what DHCP gave it: pve-container reads the addresses inside the
    container, so a NIC with ip=dhcp shows its lease (the one its vmid derives, as a VM's), and every NIC its
    link-local IPv6 address; stock fakepve lists only the configured ip=/ip6=. answer: stock fakepve's answer."""
    # stock fakepve's answer: lo, then one interface per netN in key order
    keys = sorted(k for k in config if re.fullmatch(r'net\d+', k))
    for key, iface in zip(keys, (answer or [])[1:]):
        props = dict(p.partition('=')[::2] for p in str(config[key]).split(','))
        if key == 'net0' and props.get('ip') == 'dhcp' and not iface.get('inet'):
            address, prefix = dhcp_lease(vmid, pool)
            iface['inet'] = '{0}/{1}'.format(address, prefix)
            iface['ip-addresses'].append({'ip-address-type': 'inet', 'ip-address': address, 'prefix': str(prefix)})
        mac = str(iface.get('hwaddr') or '').lower()
        if mac and not iface.get('inet6'):
            iface['inet6'] = '{0}/64'.format(link_local(mac))
            iface['ip-addresses'].append({'ip-address-type': 'inet6', 'ip-address': link_local(mac), 'prefix': '64'})
    return answer
