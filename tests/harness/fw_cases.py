"""pve-firewall's own test cases (its test/ directory, run there by fwtester.pl through FirewallSimulator.pm),
transcribed into data for fakecluster.fwsim: each case's configuration and expected verdicts.

The world of those tests (fwtester.pl): one node (here `proxself`, 172.16.1.2 on ring 0 and 172.16.2.2 on ring 1)
in a corosync cluster of four over udp (multicast), the local network 172.16.1.0/24, and these guests:

    VM 100   net0 vmbr0, net1 vmbr1, net2 vmbr2 (all firewall=1)
    VM 101   net0 vmbr0            VM 110   net0 vmbr1
    CT 200   net0 vmbr0, ip 10.0.200.1/24      CT 201   net0 vmbr0, ip 10.0.200.2/24

Zones: `host` (the node), `outside` (port eth0 of vmbr0), `nfvm` (a guest port of vmbr0 without firewall),
`vm<ID>` / `vm<ID>i<N>` (NIC N), `ct<ID>`, `<bridge>/<port>`. A packet is TCP unless it says, from 100.100.1.2
(the node's own address when sent by it) to 100.200.3.4 (the node's when sent to it). A case without `to` (or
`from`) is checked towards (from) each of host, outside, nfvm, vm100 and ct200 but itself.

A case is (from, to, expected verdict, packet fields). Only the guests a test gives a .fw file have a firewall
config; every other guest is as pve-firewall sees one without its file.

Every verdict of every test directory is here (244 once expanded). Where the transcription differs: fwtester.pl
sends every packet as IPv4, so test-basic1's icmpv6 case is an IPv6 packet here (to and from the guests'
link-local addresses; the verdict is the same); test-default-rules1 forces the destination address type of two
packets (UNICAST for a multicast address), which fwsim.simulate takes as `dsttype`; test-errors4's unparsable
option line becomes an option pve-firewall does not know (a dict cannot hold a line that does not parse); the
hostname ring (ring2) of fwtester.pl's corosync.conf is left out (fwsim takes ring addresses only; no case uses it).
"""

GUESTS = {
    100: ('qemu', {'net0': 'e1000=0E:0B:38:B8:B3:21,bridge=vmbr0,firewall=1',
                   'net1': 'e1000=0E:0B:38:B9:B4:21,bridge=vmbr1,firewall=1',
                   'net2': 'e1000=0E:0B:38:BA:B4:21,bridge=vmbr2,firewall=1'}),
    101: ('qemu', {'net0': 'e1000=0E:0B:38:B8:B3:22,bridge=vmbr0,firewall=1'}),
    110: ('qemu', {'net0': 'e1000=0E:0B:38:B8:B4:21,bridge=vmbr1,firewall=1'}),
    200: ('lxc', {'net0': 'name=eth0,hwaddr=0E:18:24:41:2C:43,bridge=vmbr0,firewall=1,ip=10.0.200.1/24'}),
    201: ('lxc', {'net0': 'name=eth0,hwaddr=0E:18:24:41:2C:44,bridge=vmbr0,firewall=1,ip=10.0.200.2/24'}),
}
NODES = {'proxself': ['172.16.1.2', '172.16.2.2'], 'prox1': ['172.16.1.11', '172.16.2.11'],
         'prox2': ['172.16.1.12', '172.16.2.12'], 'prox3': ['172.16.1.3', '172.16.2.3']}
HOST_IP = '172.16.1.2'
LOCALNET = '172.16.1.0/24'
ZONES = ('host', 'outside', 'nfvm', 'vm100', 'ct200')
DEFAULT_SOURCE = '100.100.1.2'
DEFAULT_DEST = '100.200.3.4'


def rule(kind, action, **fields):
    """A rule as PVE's API holds it ('in', 'ACCEPT', proto='tcp', dport='22'); enabled unless enable=0."""
    out = {'type': kind, 'action': action, 'enable': fields.pop('enable', 1)}
    out.update((k.replace('_', '-'), str(v)) for k, v in fields.items())
    return out


def IN(action, **fields):
    return rule('in', action, **fields)


def OUT(action, **fields):
    return rule('out', action, **fields)


def GROUP(name, **fields):
    return rule('group', name, **fields)


def ipset(*cidrs):
    """IP set entries: '!a.b.c.d' is a nomatch entry."""
    return [{'cidr': c.lstrip('!'), 'nomatch': 1} if c.startswith('!') else {'cidr': c} for c in cidrs]


ON = {'enable': 1}

# name -> {cluster: conf, host: conf (None: no host.fw), guests: {vmid: conf}, cases: [(from, to, verdict, fields)]}
TESTS = {
    'test-basic1': {
        'cluster': {'options': ON},
        'host': {'options': ON, 'rules': [OUT('REJECT', proto='tcp', dport=81), IN('ACCEPT', proto='tcp', dport=22),
                                          IN('REJECT', iface='vmbr0', proto='tcp', dport=100),
                                          IN('REJECT', iface='vmbr1', proto='tcp', dport=101)]},
        'guests': {
            100: {'options': ON, 'rules': [IN('ACCEPT', proto='tcp', dport=443), IN('ACCEPT', proto='icmp', dport=0),
                                           IN('ACCEPT', proto='icmp', dport='host-unreachable'),
                                           OUT('REJECT', proto='tcp', dport=81)]},
            200: {'options': ON, 'rules': [IN('ACCEPT', proto='tcp', dport=22), OUT('REJECT', proto='tcp', dport=81)]},
        },
        'cases': [
            ('ct200', 'host', 'ACCEPT', {'dport': 22}), ('ct200', 'host', 'DROP', {'dport': 23}),
            ('vm100', 'host', 'ACCEPT', {'dport': 22}),
            ('host', 'ct200', 'DROP', {'dport': 80}), ('host', 'ct200', 'ACCEPT', {'dport': 22}),
            ('host', 'vm100', 'DROP', {'dport': 80}), ('ct200', 'vm100', 'DROP', {'dport': 80}),
            ('vm100', 'ct200', 'ACCEPT', {'dport': 22}),
            ('vm101', 'vm100', 'DROP', {'dport': 22}), ('vm101', 'vm100', 'ACCEPT', {'dport': 443}),
            ('ct201', 'ct200', 'ACCEPT', {'dport': 22}), ('ct201', 'ct200', 'DROP', {'dport': 23}),
            ('vm110', 'vm100', 'DROP', {'dport': 22}), ('vm110', 'vm100', 'ACCEPT', {'dport': 443}),
            ('vm110', 'vm100', 'ACCEPT', {'proto': 'icmp', 'icmp_type': '0'}),
            ('vm110', 'vm100', 'ACCEPT', {'proto': 'icmp', 'icmp_type': 'host-unreachable'}),
            ('vm110', 'vm100', 'DROP', {'proto': 'icmpv6', 'icmp_type': '255'}),
            ('outside', 'ct200', 'ACCEPT', {'dport': 22}), ('outside', 'ct200', 'DROP', {'dport': 23}),
            ('outside', 'vm100', 'DROP', {'dport': 22}), ('outside', 'vm100', 'ACCEPT', {'dport': 443}),
            ('outside', 'host', 'ACCEPT', {'dport': 22}), ('outside', 'host', 'DROP', {'dport': 23}),
            ('host', 'outside', 'ACCEPT', {'dport': 80}), ('host', 'outside', 'REJECT', {'dport': 81}),
            ('vm100', 'outside', 'ACCEPT', {'dport': 80}), ('vm100', 'outside', 'REJECT', {'dport': 81}),
            ('ct200', 'outside', 'ACCEPT', {'dport': 80}), ('ct200', 'outside', 'REJECT', {'dport': 81}),
            ('outside', 'host', 'REJECT', {'dport': 100}), ('outside', 'host', 'DROP', {'dport': 101}),
            ('nfvm', 'host', 'ACCEPT', {'dport': 22}), ('nfvm', 'host', 'DROP', {'dport': 80}),
            ('nfvm', 'outside', 'ACCEPT', {'dport': 22}), ('nfvm', 'outside', 'ACCEPT', {'dport': 80}),
            ('nfvm', 'vm100', 'ACCEPT', {'dport': 443}), ('nfvm', 'vm100', 'DROP', {'dport': 80}),
            ('nfvm', 'ct200', 'ACCEPT', {'dport': 22}), ('nfvm', 'ct200', 'DROP', {'dport': 80}),
            ('ct200', 'nfvm', 'ACCEPT', {'dport': 80}), ('vm100', 'nfvm', 'ACCEPT', {'dport': 80}),
            ('outside', 'nfvm', 'ACCEPT', {'dport': 80}), ('host', 'nfvm', 'ACCEPT', {'dport': 80}),
            ('vmbr0/eth0', 'host', 'ACCEPT', {'dport': 22}), ('host', 'vmbr0/eth0', 'ACCEPT', {'dport': 22}),
        ],
    },
    'test-default-rules1': {
        'cluster': {'options': {'enable': 1, 'policy_out': 'DROP'}},
        'host': None,
        'guests': {101: {'options': ON}, 201: {'options': ON}},
        'cases': [
            ('outside', 'host', 'DROP', {}), ('host', 'outside', 'DROP', {}),
            # to another node: the cluster network's management ports and corosync on the same ring
            ('host', 'outside', 'DROP', {'dest': '172.16.1.3', 'dport': 21}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'dport': 22}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'dport': 3128}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'dport': 8006}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'dport': 5900}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'dport': 5999}),
            ('host', 'outside', 'DROP', {'dest': '172.16.1.3', 'dport': 6000}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'proto': 'udp', 'dport': 5404}),
            ('host', 'outside', 'ACCEPT', {'dest': '172.16.1.3', 'proto': 'udp', 'dport': 5405}),
            ('host', 'outside', 'DROP', {'dest': '172.16.1.3', 'proto': 'udp', 'dport': 5406}),
            ('host', 'outside', 'DROP', {'dest': '239.192.158.83', 'proto': 'udp', 'dport': 5404,
                                         'dsttype': 'UNICAST'}),
            ('host', 'outside', 'ACCEPT', {'dest': '239.192.158.83', 'proto': 'udp', 'dport': 5404,
                                           'dsttype': 'MULTICAST'}),
            ('host', 'outside', 'ACCEPT', {'source': '172.16.2.2', 'dest': '172.16.2.3', 'proto': 'udp',
                                           'dport': 5404}),
            ('host', 'outside', 'DROP', {'dest': '172.16.2.3', 'proto': 'udp', 'dport': 5404}),
            # from another node
            ('outside', 'host', 'DROP', {'source': '172.16.1.3', 'dport': 21}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'dport': 22}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'dport': 3128}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'dport': 8006}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'dport': 5900}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'dport': 5999}),
            ('outside', 'host', 'DROP', {'source': '172.16.1.3', 'dport': 6000}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'proto': 'udp', 'dport': 5404}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'proto': 'udp', 'dport': 5405}),
            ('outside', 'host', 'DROP', {'source': '172.16.1.3', 'proto': 'udp', 'dport': 5406}),
            ('outside', 'host', 'DROP', {'source': '172.16.1.3', 'dest': '239.192.158.83', 'proto': 'udp',
                                         'dport': 5404, 'dsttype': 'UNICAST'}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.1.3', 'dest': '239.192.158.83', 'proto': 'udp',
                                           'dport': 5404, 'dsttype': 'MULTICAST'}),
            ('outside', 'host', 'ACCEPT', {'source': '172.16.2.11', 'dest': '172.16.2.2', 'proto': 'udp',
                                           'dport': 5404}),
            ('outside', 'host', 'DROP', {'source': '172.16.2.11', 'dest': '172.16.1.2', 'proto': 'udp',
                                         'dport': 5404}),
            ('host', 'ct200', 'DROP', {}), ('outside', 'ct200', 'ACCEPT', {}), (None, 'ct201', 'DROP', {}),
            ('host', 'vm100', 'DROP', {}), ('outside', 'vm100', 'ACCEPT', {}), (None, 'vm101', 'DROP', {}),
        ],
    },
    'test-errors1': {
        'cluster': {'options': ON},
        'host': None,
        # a dport without proto: pve-firewall skips that rule
        'guests': {100: {'options': ON, 'rules': [IN('ACCEPT', dport=80), IN('ACCEPT', proto='tcp', dport=82)]}},
        'errors': ["vm 100 rule 0: IN ACCEPT -dport 80 skipped: 'dport' requires 'proto'"],
        'cases': [('outside', 'vm100', 'DROP', {'dport': 80}), ('outside', 'vm100', 'DROP', {'dport': 81}),
                  ('outside', 'vm100', 'ACCEPT', {'dport': 82})],
    },
    'test-errors2': {
        'cluster': {'options': ON},
        'host': None,
        'guests': {100: {'options': ON, 'rules': [IN('ACCEPT', source='non-existing-alias', dport=443),
                                                  IN('ACCEPT', source='+non-existing-ipset', dport=443),
                                                  IN('ACCEPT', proto='tcp', dport=80)]}},
        'cases': [('outside', 'vm100', 'DROP', {'dport': 443}), ('outside', 'vm100', 'ACCEPT', {'dport': 80}),
                  ('outside', 'vm100', 'DROP', {'dport': 81})],
    },
    'test-errors3': {
        'cluster': {'options': ON},
        'host': {'rules': [IN('ACCEPT', dport=80)]},
        'guests': {100: {'options': ON, 'rules': [IN('ACCEPT', proto='tcp', dport=82)]}},
        'cases': [('outside', 'host', 'DROP', {'dport': 80}), ('outside', 'vm100', 'DROP', {'dport': 80}),
                  ('outside', 'vm100', 'ACCEPT', {'dport': 82})],
    },
    'test-errors4': {
        'cluster': {'options': ON},
        'host': None,
        # an option pve-firewall does not know is ignored
        'guests': {100: {'options': {'dafadfsdf': 'afda', 'enable': 1},
                         'rules': [IN('ACCEPT', proto='tcp', dport=80)]}},
        'cases': [('outside', 'vm100', 'DROP', {'dport': 82}), ('outside', 'vm100', 'ACCEPT', {'dport': 80})],
    },
    'test-group1': {
        'cluster': {'options': ON, 'groups': {
            'group1': [IN('ACCEPT', source='192.168.2.0/24', proto='tcp', dport=22),
                       IN('REJECT', source='192.168.2.0/24', proto='tcp', dport=80),
                       OUT('REJECT', source='192.168.2.0/24', proto='tcp', dport=80),
                       OUT('REJECT', proto='tcp', dport=443)],
            'group2': [IN('ACCEPT', source='192.168.3.0/24', proto='tcp', dport=22)],
            'group3': [IN('ACCEPT', source='192.168.6.0/24', proto='tcp', dport=22)]}},
        'host': {'options': ON, 'rules': [GROUP('group1')]},
        'guests': {
            100: {'options': ON, 'rules': [IN('ACCEPT', source='192.168.2.1', proto='tcp', dport=22),
                                           IN('ACCEPT', source='192.168.2.1', proto='tcp', dport=80),
                                           IN('ACCEPT', source='127.0.0.1', proto='tcp', dport=80),
                                           IN('ACCEPT', iface='net0', source='192.168.5.0/24', proto='tcp', dport=22),
                                           GROUP('group2', iface='net0')]},
            200: {'options': ON, 'rules': [IN('ACCEPT', source='192.168.2.1', proto='tcp', dport=22),
                                           IN('ACCEPT', source='192.168.2.1', proto='tcp', dport=80),
                                           IN('ACCEPT', source='127.0.0.1', proto='tcp', dport=80),
                                           GROUP('group3', iface='net0')]},
        },
        'cases': [
            ('outside', 'vm100', 'DROP', {'source': '192.168.4.1', 'dport': 22}),
            ('outside', 'vm100', 'ACCEPT', {'source': '192.168.3.1', 'dport': 22}),
            ('host', None, 'ACCEPT', {'source': '192.168.2.1', 'dport': 22}),
            ('host', None, 'REJECT', {'source': '192.168.2.1', 'dport': 443}),
            ('host', None, 'REJECT', {'source': '192.168.2.1', 'dport': 80}),
            ('host', None, 'ACCEPT', {'source': '127.0.0.1', 'dport': 80}),
            (None, 'host', 'DROP', {'source': '1.2.3.4', 'dport': 22}),
            (None, 'host', 'ACCEPT', {'source': '192.168.2.1', 'dport': 22}),
            (None, 'host', 'REJECT', {'source': '192.168.2.1', 'dport': 80}),
            (None, 'vm100', 'ACCEPT', {'source': '192.168.3.1', 'dport': 22}),
            (None, 'vm100', 'DROP', {'source': '192.168.4.1', 'dport': 22}),
            ('outside', 'ct200', 'ACCEPT', {'source': '192.168.6.1', 'dport': 22}),
            ('outside', 'ct200', 'DROP', {'source': '192.168.7.1', 'dport': 22}),
        ],
    },
    'test-ipset1': {
        'cluster': {'options': ON,
                    'aliases': [{'name': 'myserveralias', 'cidr': '10.2.0.111'},
                                {'name': 'mynetworkalias', 'cidr': '10.3.0.0/24'}],
                    'ipset': {'management': ipset('192.168.128.2'),
                              'myipset': ipset('192.168.0.1', '172.16.0.10', '192.168.1.0/24', 'mynetworkalias',
                                               'myserveralias'),
                              'dmzhosts': ipset('10.10.10.0/24', '10.10.11.1'),
                              'blacklist': ipset('10.0.0.8', '192.168.0.0/24')}},
        'host': {'rules': [IN('REJECT', source='+myipset', dest='+dmzhosts', proto='tcp', dport=22),
                           IN('ACCEPT', source='+myipset', proto='tcp', dport=22)]},
        'guests': {},
        'cases': [
            ('outside', 'host', 'DROP', {'source': '192.168.0.1', 'dest': '1.2.3.4', 'dport': 22}),  # blacklisted
            ('outside', 'host', 'ACCEPT', {'source': '172.16.0.10', 'dest': '1.2.3.4', 'dport': 22}),
            ('outside', 'host', 'ACCEPT', {'source': '192.168.1.10', 'dest': '1.2.3.4', 'dport': 22}),
            ('outside', 'host', 'ACCEPT', {'source': '10.3.0.1', 'dest': '1.2.3.4', 'dport': 22}),  # alias net
            ('outside', 'host', 'ACCEPT', {'source': '10.2.0.111', 'dest': '1.2.3.4', 'dport': 22}),  # alias host
            ('outside', 'host', 'DROP', {'source': '10.2.0.112', 'dest': '1.2.3.4', 'dport': 22}),
            ('outside', 'host', 'REJECT', {'source': '172.16.0.10', 'dest': '10.10.10.1', 'dport': 22}),
            ('outside', 'host', 'REJECT', {'source': '172.16.0.10', 'dest': '10.10.11.1', 'dport': 22}),
            ('outside', 'host', 'DROP', {'source': '192.168.128.1', 'dport': 8006}),  # management
            ('outside', 'host', 'DROP', {'source': '192.168.128.1', 'dport': 22}),
            ('outside', 'host', 'ACCEPT', {'source': '192.168.128.2', 'dport': 8006}),
            ('outside', 'host', 'ACCEPT', {'source': '192.168.128.2', 'dport': 22}),
        ],
    },
    'test-ipset2': {
        'cluster': {'options': ON},
        'host': None,
        'guests': {100: {'options': ON,
                         'ipset': {'a-longer-name-which-translates-into-fnv-digest': ipset('1.2.3.4', '1.2.3.5')},
                         'rules': [IN('ACCEPT', proto='tcp', dport=80,
                                      dest='+a-longer-name-which-translates-into-fnv-digest')]}},
        'cases': [('outside', 'vm100', 'ACCEPT', {'dest': '1.2.3.4', 'dport': 80}),
                  ('outside', 'vm100', 'DROP', {'dest': '1.2.3.4', 'dport': 22})],
    },
    'test-unconfigured': {
        'cluster': {'options': ON},
        'host': {},
        'guests': {101: {'options': ON}, 201: {'options': ON}},
        'cases': [(None, 'ct200', 'ACCEPT', {}), (None, 'ct201', 'DROP', {}), (None, 'vm100', 'ACCEPT', {}),
                  (None, 'vm101', 'DROP', {})],
    },
    'test-vm-aliases1': {
        'cluster': {'options': ON},
        'host': None,
        'guests': {100: {'options': ON, 'aliases': [{'name': 'testip1', 'cidr': '1.2.3.4'},
                                                    {'name': 'testip2', 'cidr': '1.2.3.5'}],
                         'rules': [OUT('DROP', source='testip1'), OUT('DROP', dest='testip2')]}},
        'cases': [('vm100', 'outside', 'DROP', {'source': '1.2.3.4'}),
                  ('vm100', 'outside', 'ACCEPT', {'source': '1.2.3.5'}),
                  ('vm100', 'outside', 'ACCEPT', {'dest': '1.2.3.4'}),
                  ('vm100', 'outside', 'DROP', {'dest': '1.2.3.5'})],
    },
    'test-vm-ipfilter1': {
        'cluster': {'options': ON, 'rules': [IN('ACCEPT', proto='tcp', dport=80, source='1.2.3.0/24')]},
        'host': None,
        # ipfilter-net2 is empty: NIC 2 may send no IPv4 at all
        'guests': {100: {'options': ON, 'ipset': {'ipfilter-net0': ipset('1.2.3.4', '1.2.3.5'), 'ipfilter-net2': []},
                         'rules': [IN('ACCEPT', proto='tcp', dport=80)]}},
        'cases': [('vm100i1', None, 'ACCEPT', {'source': ip, 'dport': 80}) for ip in ('1.2.3.3', '1.2.3.4', '1.2.3.5',
                                                                                        '1.2.3.6')] +
                 [('vm100', None, verdict, {'source': ip, 'dport': 80})
                  for ip, verdict in (('1.2.3.3', 'DROP'), ('1.2.3.4', 'ACCEPT'), ('1.2.3.5', 'ACCEPT'),
                                      ('1.2.3.6', 'DROP'))] +
                 [('vm100i2', None, 'DROP', {'source': ip, 'dport': 80}) for ip in ('1.2.3.3', '1.2.3.4', '1.2.3.5',
                                                                                     '1.2.3.6')],
    },
    'test-vm-ipfilter2': {
        'cluster': {'options': ON, 'rules': [IN('ACCEPT', proto='tcp', dport=80)]},
        'host': None,
        # option ipfilter: a container may send from its configured address only
        'guests': {200: {'options': {'enable': 1, 'ipfilter': 1}}},
        'cases': [('ct200', None, 'DROP', {'source': '1.2.3.4', 'dport': 80}),
                  ('ct200', None, 'ACCEPT', {'source': '10.0.200.1', 'dport': 80}),
                  ('ct200', None, 'DROP', {'source': '10.0.200.2', 'dport': 80})],
    },
}


def state_of(test):
    """The fwsim state of one test: the fixed world above with the test's cluster, host and guest configs."""
    guests = dict((vmid, {'type': kind, 'config': dict(config), 'firewall': test['guests'].get(vmid)})
                  for vmid, (kind, config) in GUESTS.items())
    nodes = dict((name, {'addresses': list(addresses), 'guests': {}}) for name, addresses in NODES.items())
    nodes['proxself'].update(test.get('host') or {})
    nodes['proxself']['guests'] = guests
    return {'localnet': LOCALNET, 'corosync': {'transport': 'udp'}, 'cluster': test['cluster'], 'nodes': nodes}


def expand(cases):
    """(from, to, verdict, fields) with a missing end made into one case per zone, as fwtester.pl does."""
    for src, dst, verdict, fields in cases:
        if src is None:
            for zone in ZONES:
                if zone != dst:
                    yield zone, dst, verdict, fields
        elif dst is None:
            for zone in ZONES:
                if zone != src:
                    yield src, zone, verdict, fields
        else:
            yield src, dst, verdict, fields
