"""pve-firewall, evaluated: does a packet pass the firewall a PVE cluster's configuration compiles to?

pve-firewall (its Firewall.pm) turns cluster.fw, each node's host.fw, each local guest's <vmid>.fw and the
guests' netN settings into iptables chains (one ruleset per IP version), ipsets and ebtables chains. This
module builds the same chains from the same configuration, as plain Python rules, and walks a packet through
them hop by hop: the sending guest's tap chain, the node's INPUT/OUTPUT, the receiving guest's tap chain, on
the node each of them runs on. Nothing here knows the fake: it takes plain dicts (`compile(state)`), so the
same code checks pve-firewall's own test cases (tests/harness/test_firewall_sim.py) and a running LabPve
(pvefw.py).

The state (what one compile reads; names as PVE's API and config files have them):

    {'time': 1700000000.0,                    # when it was read (a cluster `enable` stamp expires after 60 s)
     'localnet': '192.0.2.0/24',              # the nodes' network (PVE: the route of the node's own address)
     'corosync': {'transport': 'knet'},       # 'udp' also allows corosync multicast; None: not a cluster
     'cluster': {'options': {...}, 'rules': [...], 'aliases': {name: {'name', 'cidr'}} or [...],
                 'ipset': {name: [{'cidr', 'nomatch'}]}, 'groups': {name: [rules]}},
     'nodes': {'pve1': {'addresses': ['192.0.2.11'],       # corosync ring addresses; the first is the node's
                        'options': {...}, 'rules': [...],  # host.fw
                        'guests': {100: {'type': 'qemu' | 'lxc', 'config': {'net0': '...', ...},
                                         'firewall': {'options', 'rules', 'aliases', 'ipset'} or None}}}}}

A rule is a dict as the API gives it (type, action, macro, iface, source, dest, proto, dport, sport,
icmp-type, enable). A rule without `enable` counts as enabled, as it does once PVE wrote it to its file (the
API stores enable=0 when a new rule does not say). Rules pve-firewall would log as broken and skip (unknown
macro, a dport without proto, an alias or IP set that does not exist, ...) are skipped and listed in
`Compiled.errors`.

What is modelled: the datacenter switch (nothing is compiled while it is off), `ebtables`, the host chains
with host rules before cluster rules, the management IP set (its entries plus the local network) with its
accepts for 8006, 5900:5999, 3128, 22 and 60000:60050, corosync between the nodes' ring addresses, the
cluster policies for the host, the blacklist IP set, the smurf filter; per guest NIC with firewall=1: DHCP
both ways first, the MAC filter, the IP filter (option `ipfilter` or an ipfilter-netN IP set, which always
holds the NIC's IPv6 link-local address and a container's configured addresses), NDP and router
advertisements for IPv6, the rules in order (security groups, macros, aliases, IP sets with nomatch entries,
`iface`), the policies, PVE's Drop/Reject/reject chains; conntrack (ESTABLISHED passes, INVALID is dropped);
the ebtables MAC and ARP filter. See the README of this package for what is left out.
"""

import ipaddress
import re
import time

from fakepve.firewall import PROTOCOLS, SERVICES

from .guestagent import DHCP_POOL, dhcp_lease, link_local

ACCEPT, DROP, REJECT = 'ACCEPT', 'DROP', 'REJECT'
VERDICTS = (ACCEPT, DROP, REJECT)
# Non-terminating targets: leave the chain, call a chain (and come back), go to a chain (and not), set or clear
# pve-firewall's accept mark (the bit a group or tap OUT chain uses to say "accepted").
RETURN, JUMP, GOTO, MARK_ON, MARK_OFF = 'RETURN', 'jump', 'goto', 'mark on', 'mark off'
NEW, ESTABLISHED, INVALID = 'NEW', 'ESTABLISHED', 'INVALID'
TCP, UDP, ICMP, ICMPV6, IGMP = 6, 17, 1, 58, 2
PROTO_NAMES = dict((number, name) for name, number in sorted(PROTOCOLS.items(), reverse=True))
PROTO_NAMES[ICMPV6] = 'icmpv6'
# Protocols whose rules may name ports (udp, udplite, tcp, dccp, sctp).
PORT_PROTOS = frozenset((6, 17, 33, 132, 136))
NAME = r'[A-Za-z][A-Za-z0-9\-_]+'
IPSET_REF = re.compile(r'^\+(guest/|dc/|sdn/)?(' + NAME + r')$')
ALIAS_REF = re.compile(r'^(guest/|dc/)?(' + NAME + r')$')
NET_KEY = re.compile(r'^net(\d+)$')
MAC = re.compile(r'^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$')
# A cluster `enable` above 1 is the time it was switched on; pve-firewall ignores it 60 s later.
ENABLE_STAMP_SECS = 60
DEFAULT_LOCALNET = '127.0.0.0/8'  # what pve-firewall falls back to when it finds no route for the node

# pve-firewall's macros, as "proto dport [sport]" entries separated by '|' (a protocol number alone: no ports).
MACROS = {
    'Amanda': 'udp 10080 | tcp 10080', 'Auth': 'tcp 113', 'BGP': 'tcp 179',
    'BitTorrent': 'tcp 6881:6889 | udp 6881', 'BitTorrent32': 'tcp 6881:6999 | udp 6881',
    'Ceph': 'tcp 6789 | tcp 3300 | tcp 6800:7300', 'CVS': 'tcp 2401', 'Citrix': 'tcp 1494 | udp 1604 | tcp 2598',
    'DAAP': 'tcp 3689 | udp 3689', 'DCC': 'tcp 6277', 'DHCPfwd': 'udp 67:68 67:68', 'DNS': 'udp 53 | tcp 53',
    'Distcc': 'tcp 3632', 'FTP': 'tcp 21', 'Finger': 'tcp 79',
    'GNUnet': 'tcp 2086 | udp 2086 | tcp 1080 | udp 1080', 'GRE': '47', 'Git': 'tcp 9418', 'HKP': 'tcp 11371',
    'HTTP': 'tcp 80', 'HTTPS': 'tcp 443', 'ICPV2': 'udp 3130', 'ICQ': 'tcp 5190', 'IMAP': 'tcp 143',
    'IMAPS': 'tcp 993', 'IPIP': '94', 'IPsec': 'udp 500 500 | 50', 'IPsecah': 'udp 500 500 | 51',
    'IPsecnat': 'udp 500 | udp 4500 | 50', 'IRC': 'tcp 6667', 'Jetdirect': 'tcp 9100', 'L2TP': 'udp 1701',
    'LDAP': 'tcp 389', 'LDAPS': 'tcp 636', 'MSNP': 'tcp 1863', 'MSSQL': 'tcp 1433',
    'Mail': 'tcp 25 | tcp 465 | tcp 587', 'MDNS': 'udp 5353', 'Munin': 'tcp 4949', 'MySQL': 'tcp 3306',
    'NNTP': 'tcp 119', 'NNTPS': 'tcp 563', 'NTP': 'udp 123', 'OSPF': '89', 'OpenVPN': 'udp 1194',
    'PCA': 'udp 5632 | tcp 5631', 'PMG': 'tcp 8006', 'POP3': 'tcp 110', 'POP3S': 'tcp 995',
    'PPtP': '47 | tcp 1723', 'Ping': 'icmp echo-request', 'PostgreSQL': 'tcp 5432', 'Printer': 'tcp 515',
    'RDP': 'tcp 3389', 'RIP': 'udp 520', 'RNDC': 'tcp 953', 'Razor': 'tcp 2703', 'Rdate': 'tcp 37',
    'Rsync': 'tcp 873', 'SANE': 'tcp 6566',
    'SMB': 'udp 135,445 | udp 137:139 | udp 1024:65535 137 | tcp 135,139,445', 'SMBswat': 'tcp 901',
    'SMTP': 'tcp 25', 'SMTPS': 'tcp 465', 'SNMP': 'udp 161:162 | tcp 161', 'SPAMD': 'tcp 783', 'SSH': 'tcp 22',
    'SVN': 'tcp 3690', 'SixXS': 'tcp 3874 | udp 3740 | 41 | udp 5072,8374', 'SPICEproxy': 'tcp 3128',
    'Squid': 'tcp 3128', 'Submission': 'tcp 587', 'Syslog': 'udp 514 | tcp 514', 'TFTP': 'udp 69',
    'Telnet': 'tcp 23', 'Telnets': 'tcp 992', 'Time': 'tcp 37', 'Trcrt': 'udp 33434:33524 | icmp echo-request',
    'VNC': 'tcp 5900:5999', 'VNCL': 'tcp 5500', 'Web': 'tcp 80 | tcp 443', 'Webcache': 'tcp 8080',
    'Webmin': 'tcp 10000', 'Whois': 'tcp 43',
}
# What some macros are in the IPv6 ruleset; the ones not in MACROS exist for IPv6 only.
MACROS_V6 = {
    'Ping': 'icmpv6 echo-request', 'Trcrt': 'udp 33434:33524 | icmpv6 echo-request', 'DHCPv6': 'udp 546:547 546:547',
    'NeighborDiscovery': 'icmpv6 router-solicitation | icmpv6 router-advertisement | '
                         'icmpv6 neighbor-solicitation | icmpv6 neighbor-advertisement',
}
MACRO_NAMES = dict((name.lower(), name) for name in list(MACROS) + list(MACROS_V6))

# ICMP type names (as iptables and ip6tables take them) -> (type, code); code None: any code.
ICMP_TYPES = {
    'echo-reply': (0, None), 'destination-unreachable': (3, None), 'network-unreachable': (3, 0),
    'host-unreachable': (3, 1), 'protocol-unreachable': (3, 2), 'port-unreachable': (3, 3),
    'fragmentation-needed': (3, 4), 'source-route-failed': (3, 5), 'network-unknown': (3, 6),
    'host-unknown': (3, 7), 'network-prohibited': (3, 9), 'host-prohibited': (3, 10),
    'TOS-network-unreachable': (3, 11), 'TOS-host-unreachable': (3, 12), 'communication-prohibited': (3, 13),
    'host-precedence-violation': (3, 14), 'precedence-cutoff': (3, 15), 'source-quench': (4, None),
    'redirect': (5, None), 'network-redirect': (5, 0), 'host-redirect': (5, 1), 'TOS-network-redirect': (5, 2),
    'TOS-host-redirect': (5, 3), 'echo-request': (8, None), 'router-advertisement': (9, None),
    'router-solicitation': (10, None), 'time-exceeded': (11, None), 'ttl-zero-during-transit': (11, 0),
    'ttl-zero-during-reassembly': (11, 1), 'parameter-problem': (12, None), 'ip-header-bad': (12, 0),
    'required-option-missing': (12, 1), 'timestamp-request': (13, None), 'timestamp-reply': (14, None),
    'address-mask-request': (17, None), 'address-mask-reply': (18, None),
}
ICMPV6_TYPES = {
    'destination-unreachable': (1, None), 'no-route': (1, 0), 'communication-prohibited': (1, 1),
    'beyond-scope': (1, 2), 'address-unreachable': (1, 3), 'port-unreachable': (1, 4), 'failed-policy': (1, 5),
    'reject-route': (1, 6), 'packet-too-big': (2, None), 'time-exceeded': (3, None),
    'ttl-zero-during-transit': (3, 0), 'ttl-zero-during-reassembly': (3, 1), 'parameter-problem': (4, None),
    'bad-header': (4, 0), 'unknown-header-type': (4, 1), 'unknown-option': (4, 2), 'echo-request': (128, None),
    'echo-reply': (129, None), 'router-solicitation': (133, None), 'router-advertisement': (134, None),
    'neighbor-solicitation': (135, None), 'neighbour-solicitation': (135, None),
    'neighbor-advertisement': (136, None), 'neighbour-advertisement': (136, None), 'redirect': (137, None),
}
# The ports pve-firewall opens on a node for the management IP set: API, VNC consoles, SPICE proxy, SSH,
# migration; the cluster's own network may reach the first four of them from a node.
MANAGEMENT_PORTS = ('8006', '5900:5999', '3128', '22', '60000:60050')
LOCALNET_PORTS = ('8006', '22', '5900:5999', '3128')
COROSYNC_PORTS = '5404:5405'


class RuleError(ValueError):
    """A rule pve-firewall would log as broken and skip."""


# =============================================================== small parsers

def flag(value, default=False):
    """An option as pve-firewall reads it: 1/0 (also '1', True); unset is the default."""
    if value is None or value == '':
        return default
    try:
        return int(value) != 0
    except (TypeError, ValueError):
        return str(value).lower() in ('true', 'yes', 'on')


def proto_number(text):
    """A protocol name or number (tcp, 6, icmpv6, ipv6-icmp, ...) -> its number."""
    text = str(text).strip().lower()
    if text.isdigit():
        return int(text)
    if text in ('icmpv6', 'ipv6-icmp'):
        return ICMPV6
    if text not in PROTOCOLS:
        raise RuleError("unknown protocol '{0}'".format(text))
    return PROTOCOLS[text]


def proto_name(number):
    return PROTO_NAMES.get(number, str(number))


def parse_ports(text):
    """'22', '80,443', '5900:5999', 'ssh' -> ((first, last), ...)."""
    out = []
    for item in str(text).split(','):
        item = item.strip()
        found = re.match(r'^(\d+)(?::(\d+))?$', item)
        if found:
            first, last = int(found.group(1)), int(found.group(2) or found.group(1))
        elif item in SERVICES:
            first = last = SERVICES[item]
        else:
            raise RuleError("invalid port '{0}'".format(item))
        if last > 65535 or first > last:
            raise RuleError("invalid port range '{0}'".format(item))
        out.append((first, last))
    return tuple(out)


def icmp_spec(text, version):
    """An ICMP type of a rule (name or number) -> (type, code or None), or None for 'any'."""
    text = str(text).strip()
    if text == 'any':
        return None
    if text.isdigit():
        if int(text) > 255:
            raise RuleError("invalid icmp-type '{0}'".format(text))
        return (int(text), None)
    found = (ICMP_TYPES if version == 4 else ICMPV6_TYPES).get(text)
    if found is None:
        raise RuleError("unknown icmp-type '{0}'".format(text))
    return found


def packet_icmp(text, version):
    """The ICMP type of a packet: a name, 'type' or 'type/code' -> (type, code)."""
    text = str(text).strip()
    found = re.match(r'^(\d+)(?:/(\d+))?$', text)
    if found:
        return (int(found.group(1)), int(found.group(2) or 0))
    kind, code = icmp_spec(text, version) or (0, 0)
    return (kind, code or 0)


def address(text):
    """'a.b.c.d' or an IPv6 address -> (version, int)."""
    ip = ipaddress.ip_address(str(text).strip())
    return ip.version, int(ip)


def network(text):
    """An address or CIDR -> (version, first, last, prefixlen)."""
    net = ipaddress.ip_network(str(text).strip(), strict=False)
    return net.version, int(net.network_address), int(net.broadcast_address), net.prefixlen


def mac_norm(text):
    return str(text).strip().lower() if text else None


def props(text):
    """A property string ('virtio=BC:..,bridge=vmbr0,firewall=1') -> {key: value}; a bare word maps to ''."""
    out = {}
    for part in str(text or '').split(','):
        key, _sep, value = part.partition('=')
        if key.strip():
            out.setdefault(key.strip(), value.strip())
    return out


def nic_of(config, netid):
    """What pve-firewall takes from a guest's netN: {mac, bridge, firewall, ip, ip6} (ip/ip6: a container's)."""
    p = props(config.get(netid))
    mac = p.get('hwaddr') or p.get('macaddr') or next((v for v in p.values() if MAC.match(v)), None)
    return {'mac': mac_norm(mac), 'bridge': p.get('bridge') or 'vmbr0', 'firewall': flag(p.get('firewall')),
            'ip': p.get('ip'), 'ip6': p.get('ip6')}


def net_keys(config):
    """The netN keys of a config in the order pve-firewall walks them (sorted as strings)."""
    return sorted(k for k in config if NET_KEY.match(k))


# ================================================================ addresses

class Cidrs(object):
    """A literal source/dest: an address, a CIDR, a comma list of them, or a range 'a-b'."""

    __slots__ = ('ranges', 'text')

    def __init__(self, ranges, text):
        self.ranges = tuple(ranges)
        self.text = text

    def contains(self, version, addr):
        for v, first, last in self.ranges:
            if v == version and first <= addr <= last:
                return True
        return False


class IpSet(object):
    """A hash:net ipset of one IP version: the most specific matching entry decides, and a nomatch entry
    says "not in the set" (so 10.0.0.0/8 with !10.1.0.0/16 holds 10.2.0.1 but not 10.1.0.1)."""

    __slots__ = ('entries', 'text')

    def __init__(self, entries, text):
        # (prefixlen, mask, network, nomatch), most specific first
        self.entries = sorted(entries, key=lambda e: -e[0])
        self.text = text

    def contains(self, version, addr):
        for _prefix, mask, net, nomatch in self.entries:
            if addr & mask == net:
                return not nomatch
        return False


def _literal(text):
    """Cidrs and IP version of a literal address list; RuleError if it is not one."""
    text = str(text).strip()
    try:
        if '-' in text:
            first, _sep, last = text.partition('-')
            (v1, a), (v2, b) = address(first), address(last)
            if v1 != v2 or b < a:
                raise ValueError('bad range')
            return Cidrs([(v1, a, b)], text), v1
        ranges = []
        for item in text.split(','):
            v, first, last, _prefix = network(item)
            ranges.append((v, first, last))
    except ValueError:
        raise RuleError("invalid address '{0}'".format(text)) from None
    versions = set(r[0] for r in ranges)
    if len(versions) > 1:
        raise RuleError("mixed IPv4 and IPv6 addresses in '{0}'".format(text))
    return Cidrs(ranges, text), versions.pop()


def alias_cidr(name, scope, cluster, local):
    """An alias as pve-firewall resolves it: the guest's own first (unless dc/), then the cluster's (unless
    guest/); names are case-insensitive. -> (cidr, version); RuleError if there is none."""
    key = name.lower()
    entry = None
    if scope != 'dc/' and local is not None:
        entry = local['aliases'].get(key)
    if entry is None and scope != 'guest/':
        entry = cluster['aliases'].get(key)
    if entry is None:
        raise RuleError("no such alias '{0}{1}'".format(scope, name))
    cidr = str(entry['cidr'])
    return cidr, network(cidr)[0]


# =================================================================== packets

class Packet(object):
    """One packet as the chains see it at one hop (the interface fields are set per hop)."""

    __slots__ = ('version', 'proto', 'src', 'dst', 'sport', 'dport', 'icmp', 'mac', 'state', 'syn', 'mark',
                 'srctype', 'dsttype', 'l2', 'arp_ip', 'iface_in', 'iface_out', 'physdev_in', 'physdev_out')

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


def _dev(name):
    """An interface test: 'fwln+' is any name starting with fwln, as in iptables."""
    if name.endswith('+'):
        prefix = name[:-1]
        return lambda value: value is not None and value.startswith(prefix)
    return lambda value: value == name


def _ports_test(ranges):
    def test(port):
        if port is None:
            return False
        for first, last in ranges:
            if first <= port <= last:
                return True
        return False
    return test


def _ports_text(ranges):
    return ','.join(str(a) if a == b else '{0}:{1}'.format(a, b) for a, b in ranges)


def _icmp_test(spec):
    kind, code = spec
    return lambda p: p.icmp is not None and p.icmp[0] == kind and (code is None or p.icmp[1] == code)


def _match(iface_in=None, iface_out=None, physdev_in=None, physdev_out=None, state=None, proto=None, src=None,
           dst=None, not_src=None, sports=None, dports=None, icmp=(), not_mac=None, mark=None, srctype=None,
           dsttype=None, notsyn=False, l2=None, arp_src=None):
    """The tests of one rule (all must hold) and its text, in iptables' words."""
    tests, words = [], []
    if iface_in:
        t_in = _dev(iface_in)
        tests.append(lambda p: t_in(p.iface_in))
        words.append('-i ' + iface_in)
    if iface_out:
        t_out = _dev(iface_out)
        tests.append(lambda p: t_out(p.iface_out))
        words.append('-o ' + iface_out)
    if physdev_in:
        t_pin = _dev(physdev_in)
        tests.append(lambda p: t_pin(p.physdev_in))
        words.append('--physdev-in ' + physdev_in)
    if physdev_out:
        t_pout = _dev(physdev_out)
        tests.append(lambda p: t_pout(p.physdev_out))
        words.append('--physdev-out ' + physdev_out)
    if state:
        states = frozenset(state.split(','))
        tests.append(lambda p: p.state in states)
        words.append('--ctstate ' + state)
    if l2:
        tests.append(lambda p: p.l2 == l2)
        words.append('-p ' + l2)
    if proto is not None:
        tests.append(lambda p: p.proto == proto)
        words.append('-p ' + proto_name(proto))
    if src is not None:
        tests.append(lambda p: src.contains(p.version, p.src))
        words.append('-s ' + src.text)
    if not_src is not None:
        tests.append(lambda p: not not_src.contains(p.version, p.src))
        words.append('! -s ' + not_src.text)
    if dst is not None:
        tests.append(lambda p: dst.contains(p.version, p.dst))
        words.append('-d ' + dst.text)
    if sports:
        t_sport = _ports_test(sports)
        tests.append(lambda p: t_sport(p.sport))
        words.append('--sport ' + _ports_text(sports))
    if dports:
        t_dport = _ports_test(dports)
        tests.append(lambda p: t_dport(p.dport))
        words.append('--dport ' + _ports_text(dports))
    for spec in icmp:
        if spec is not None:
            tests.append(_icmp_test(spec))
            words.append('--icmp-type {0}{1}'.format(spec[0], '' if spec[1] is None else '/{0}'.format(spec[1])))
    if not_mac:
        tests.append(lambda p: p.mac != not_mac)
        words.append('! --mac-source ' + not_mac)
    if arp_src is not None:
        tests.append(lambda p: p.arp_ip is not None and arp_src.contains(4, p.arp_ip))
        words.append('--arp-ip-src ' + arp_src.text)
    if mark is not None:
        tests.append(lambda p: p.mark == mark)
        words.append('--mark accept')
    if srctype:
        tests.append(lambda p: p.srctype == srctype)
        words.append('--src-type ' + srctype)
    if dsttype:
        tests.append(lambda p: p.dsttype == dsttype)
        words.append('--dst-type ' + dsttype)
    if notsyn:
        tests.append(lambda p: not p.syn)
        words.append('! --syn')
    return tuple(tests), ' '.join(words)


class Rule(object):
    """One rule of a chain: tests, a target, the chain it jumps to, its text and why it is there (the words a
    verdict's reason is made of; plumbing rules have none)."""

    __slots__ = ('tests', 'target', 'arg', 'text', 'why')

    def __init__(self, tests, target, arg, text, why):
        self.tests, self.target, self.arg, self.text, self.why = tests, target, arg, text, why


def run_chain(chains, name, pkt, trail):
    """Walk a chain as netfilter does: the first matching rule with a verdict ends the walk, RETURN (or the
    end) goes back to the caller, a jump comes back, a goto does not. -> the verdict, or None."""
    for rule in chains[name]:
        for test in rule.tests:
            if not test(pkt):
                break
        else:
            target = rule.target
            if target == MARK_OFF:
                pkt.mark = False
                continue
            trail.append((name, rule))
            if target in VERDICTS:
                return target
            if target == RETURN:
                return None
            if target == MARK_ON:
                pkt.mark = True
            elif target == JUMP:
                verdict = run_chain(chains, rule.arg, pkt, trail)
                if verdict is not None:
                    return verdict
            elif target == GOTO:
                return run_chain(chains, rule.arg, pkt, trail)
    return None


# ======================================================================= state

def _aliases(raw):
    items = raw.values() if isinstance(raw, dict) else raw or []
    return dict((str(a['name']).lower(), dict(a)) for a in items)


def _conf(raw, vmid=None):
    """A firewall config with every part present; IP set and group names in lower case, as pve-firewall has
    them after reading its files (a rule that names one in other case then finds nothing, as in PVE)."""
    raw = raw or {}
    return {'vmid': vmid, 'options': dict(raw.get('options') or {}), 'rules': list(raw.get('rules') or []),
            'aliases': _aliases(raw.get('aliases')),
            'ipset': dict((str(k).lower(), list(v or [])) for k, v in (raw.get('ipset') or {}).items()),
            'groups': dict((str(k).lower(), list(v or [])) for k, v in (raw.get('groups') or {}).items())}


def _has_file(raw):
    """pve-firewall skips a guest without a <vmid>.fw file; an empty config is one the fake never wrote."""
    return bool(raw) and any(raw.get(k) for k in ('options', 'rules', 'aliases', 'ipset'))


def cluster_enabled(options, now):
    value = options.get('enable')
    try:
        value = int(value or 0)
    except (TypeError, ValueError):
        value = 1 if flag(value) else 0
    if value > 1 and now - value > ENABLE_STAMP_SECS:
        return False
    return value > 0


def _rule_words(rule):
    """A rule in the words of a .fw file, for reasons and errors: 'IN ACCEPT -source +x -p tcp -dport 22'."""
    kind = str(rule.get('type', '')).upper()
    action = rule.get('action', '')
    text = '{0} {1}'.format(kind, '{0}({1})'.format(rule['macro'], action) if rule.get('macro') else action)
    for field, word in (('iface', '-i'), ('source', '-source'), ('dest', '-dest'), ('proto', '-p'),
                        ('dport', '-dport'), ('sport', '-sport'), ('icmp-type', '-icmp-type')):
        if rule.get(field) not in (None, ''):
            text += ' {0} {1}'.format(word, rule[field])
    return text


def _enabled(rule):
    return flag(rule.get('enable'), default=True)


# ==================================================================== compile

class Compiled(object):
    """What one pve-firewall run compiled, per node: the chains of each IP version and the ebtables chains,
    built the first time a packet needs them."""

    def __init__(self, state):
        self.time = float(state.get('time') or time.time())
        self.cluster = _conf(state.get('cluster'))
        self.enabled = cluster_enabled(self.cluster['options'], self.time)
        self.ebtables = flag(self.cluster['options'].get('ebtables'), default=True)
        self.corosync = state.get('corosync', {'transport': 'knet'})
        alias = self.cluster['aliases'].get('local_network')
        self.localnet = str(alias['cidr']) if alias else str(state.get('localnet') or DEFAULT_LOCALNET)
        self.nodes = {}
        for name, node in (state.get('nodes') or {}).items():
            guests = {}
            for vmid, guest in (node.get('guests') or {}).items():
                raw = guest.get('firewall')
                guests[int(vmid)] = {'type': guest.get('type', 'qemu'), 'config': dict(guest.get('config') or {}),
                                     'firewall': _conf(raw, int(vmid)) if _has_file(raw) else None}
            self.nodes[name] = {'addresses': list(node.get('addresses') or []),
                                'host': _conf({'options': node.get('options'), 'rules': node.get('rules')}),
                                'guests': guests}
        self._errors = {}
        self._built = {}

    @property
    def errors(self):
        """Every rule problem pve-firewall would log, once everything is built (dict order: first seen)."""
        for name in self.nodes:
            for version in (4, 6):
                self.rules(name, version)
            self.layer2(name)
        return list(self._errors)

    def error(self, text):
        self._errors[text] = True

    def rules(self, node, version):
        """The iptables chains of a node for IPv4 or IPv6 (None while the datacenter firewall is off)."""
        if not self.enabled or node not in self.nodes:
            return None
        key = (node, version)
        if key not in self._built:
            self._built[key] = _NodeBuild(self, node, version).build()
        return self._built[key]

    def layer2(self, node):
        """The ebtables chains of a node (None: no layer-2 filter, with the datacenter firewall or ebtables off)."""
        if not self.enabled or not self.ebtables or node not in self.nodes:
            return None
        key = (node, 'ebtables')
        if key not in self._built:
            self._built[key] = _layer2_chains(self, node)
        return self._built[key]


def compile(state):
    """A Compiled for a state dict (see the module docstring)."""
    return Compiled(state)


class _NodeBuild(object):
    """Builds one node's chains for one IP version, as pve-firewall's compile of the filter table does."""

    def __init__(self, compiled, node, version):
        self.c = compiled
        self.node = node
        self.v = version
        self.cluster = compiled.cluster
        self.spec = compiled.nodes[node]
        self.chains = {}
        self.sets = {}

    # ---------------------------------------------------------------- plumbing

    def add(self, chain, target, arg=None, why=None, **match):
        tests, text = _match(**match)
        if target in VERDICTS or target == RETURN:
            text += ' -j ' + target
        elif target in (JUMP, GOTO):
            text += (' -j ' if target == JUMP else ' -g ') + arg
        else:
            text += ' -j MARK ({0})'.format(target)
        self.chains.setdefault(chain, []).append(Rule(tests, target, arg, text.strip(), why))

    def new_chain(self, name):
        self.chains.setdefault(name, [])

    def build(self):
        self.new_chain('PVEFW-INPUT')
        self.new_chain('PVEFW-OUTPUT')
        host_options = self.spec['host']['options']
        self.conn_filters('PVEFW-FORWARD', flag(host_options.get('nf_conntrack_allow_invalid')), ACCEPT)
        self.new_chain('PVEFW-FWBR-IN')
        self.input_filters('PVEFW-FWBR-IN', host_options)
        self.add('PVEFW-FORWARD', JUMP, 'PVEFW-FWBR-IN', physdev_in='fwln+')
        self.new_chain('PVEFW-FWBR-OUT')
        self.add('PVEFW-FORWARD', JUMP, 'PVEFW-FWBR-OUT', physdev_out='fwln+')
        self.std_chains()
        if flag(host_options.get('enable'), default=True):
            self.host_chains()
        for kind in ('qemu', 'lxc'):  # all VMs first, then all containers, each by vmid as text
            for vmid in sorted(self.spec['guests'], key=str):
                guest = self.spec['guests'][vmid]
                if guest['type'] == kind:
                    self.guest_chains(vmid, guest)
        return self.chains

    def conn_filters(self, chain, allow_invalid, accept):
        if not allow_invalid:
            self.add(chain, DROP, state=INVALID, why='conntrack: INVALID')
        self.add(chain, accept, state='RELATED,ESTABLISHED', why='conntrack: a reply of an accepted connection')

    def input_filters(self, chain, options):
        if 'blacklist' in self.cluster['ipset']:
            if 'PVEFW-blacklist' not in self.chains:
                self.add('PVEFW-blacklist', DROP)
            self.add(chain, JUMP, 'PVEFW-blacklist', src=self.ipset(None, 'blacklist'),
                     why='source in the IP set blacklist')
        if flag(options.get('nosmurfs'), default=True) and self.v == 4:
            self.add(chain, JUMP, 'PVEFW-smurfs', state='INVALID,NEW')
        if flag(options.get('tcpflags')):
            self.add(chain, JUMP, 'PVEFW-tcpflags', proto=TCP)

    def ndp(self, chain, options, direction, accept, arg=None):
        if self.v != 6 or not flag(options.get('ndp'), default=True):
            return
        kinds = ['router-solicitation']
        if direction != 'OUT' or flag(options.get('radv')):
            kinds.append('router-advertisement')
        kinds += ['neighbor-solicitation', 'neighbor-advertisement']
        for kind in kinds:
            self.add(chain, accept, arg, why='NDP ' + kind, proto=ICMPV6, icmp=[ICMPV6_TYPES[kind]])

    def policy(self, chain, policy, accept, arg, why):
        if policy == ACCEPT:
            self.add(chain, accept, arg, why=why)
        elif policy == REJECT:
            self.add(chain, JUMP, 'PVEFW-Reject', why=why)
            self.add(chain, GOTO, 'PVEFW-reject', why=why)
        else:
            self.add(chain, JUMP, 'PVEFW-Drop', why=why)
            self.add(chain, DROP, why=why)

    # -------------------------------------------------------------- std chains

    def std_chains(self):
        """PVE's fixed chains: the accept mark, the Drop and Reject policies (a few ICMP types pass, noise is
        dropped rather than rejected), reject (tcp reset, ICMP unreachable; ICMP itself is dropped), smurfs."""
        add = self.add
        add('PVEFW-SET-ACCEPT-MARK', MARK_ON)
        bcast = 'PVEFW-DropBroadcast'
        if self.v == 4:
            for kind in ('BROADCAST', 'MULTICAST', 'ANYCAST'):
                add(bcast, DROP, why='broadcast and multicast are dropped', dsttype=kind)
            add(bcast, DROP, why='broadcast and multicast are dropped', dst=_literal('224.0.0.0/4')[0])
            add('PVEFW-reject', DROP, why='no reject for broadcasts', dsttype='BROADCAST')
            add('PVEFW-reject', DROP, why='no reject for multicast sources', src=_literal('224.0.0.0/4')[0])
            add('PVEFW-reject', DROP, why='ICMP is dropped, not rejected', proto=ICMP)
            add('PVEFW-reject', REJECT, proto=TCP)
            add('PVEFW-reject', REJECT, proto=UDP)
            add('PVEFW-reject', REJECT)
            critical = [(ICMP, ICMP_TYPES['fragmentation-needed']), (ICMP, ICMP_TYPES['time-exceeded'])]
        else:
            add(bcast, DROP, why='multicast is dropped', dst=_literal('ff00::/8')[0])
            add('PVEFW-reject', DROP, why='ICMPv6 is dropped, not rejected', proto=ICMPV6)
            add('PVEFW-reject', REJECT, proto=TCP)
            add('PVEFW-reject', REJECT, proto=UDP)
            add('PVEFW-reject', REJECT)
            critical = [(ICMPV6, ICMPV6_TYPES[k]) for k in ('destination-unreachable', 'time-exceeded',
                                                            'packet-too-big')]
        for chain, noise in (('PVEFW-Drop', DROP), ('PVEFW-Reject', JUMP)):
            if self.v == 6:
                add(chain, JUMP, 'PVEFW-reject', proto=TCP, dports=parse_ports('43'))
            add(chain, JUMP, bcast)
            for proto, kind in critical:
                add(chain, ACCEPT, why='critical ICMP passes the policy', proto=proto, icmp=[kind])
            add(chain, DROP, state=INVALID, why='conntrack: INVALID')
            for proto, dports, sports in ((UDP, '135,445', None), (UDP, '137:139', None), (UDP, '1024:65535', '137'),
                                          (TCP, '135,139,445', None)):
                add(chain, noise, 'PVEFW-reject' if noise == JUMP else None, why='SMB noise', proto=proto,
                    dports=parse_ports(dports), sports=parse_ports(sports) if sports else None)
            add(chain, DROP, why='UPnP is dropped', proto=UDP, dports=parse_ports('1900'))
            add(chain, DROP, why='TCP without SYN is dropped', proto=TCP, notsyn=True)
            add(chain, DROP, why='DNS replies are dropped', proto=UDP, sports=parse_ports('53'))
        if self.v == 4:
            add('PVEFW-smurfs', RETURN, src=_literal('0.0.0.0/32')[0])  # DHCP discovers come from 0.0.0.0
            add('PVEFW-smurfs', GOTO, 'PVEFW-smurflog', why='smurf: broadcast source', srctype='BROADCAST')
            add('PVEFW-smurfs', GOTO, 'PVEFW-smurflog', why='smurf: multicast source',
                src=_literal('224.0.0.0/4')[0])
            add('PVEFW-smurflog', DROP)
        # PVEFW-tcpflags drops illegal TCP flag combinations; a simulated packet never has one.
        self.new_chain('PVEFW-tcpflags')

    # ----------------------------------------------------------------- ipsets

    def ipset(self, vmid, name):
        """The IpSet of this IP version named `name` in the cluster (vmid None) or a guest's config."""
        key = (vmid, name)
        if key in self.sets:
            return self.sets[key]
        if vmid is None:
            conf, local = self.cluster, None
            entries = list(conf['ipset'].get(name, []))
            if name == 'management':
                entries.append({'cidr': self.c.localnet})  # the cluster network is always management
            text = '+dc/' + name
        else:
            guest = self.spec['guests'][vmid]
            conf, local = guest['firewall'], guest['firewall']
            entries = list(conf['ipset'].get(name, [])) + self.device_ips(vmid, guest, name)
            text = '+guest/{0} (vm {1})'.format(name, vmid)
        nets = {}
        for entry in entries:
            cidr = str(entry.get('cidr', '')).strip()
            try:
                found = ALIAS_REF.match(cidr)
                if found:  # a name is an alias, as pve-firewall reads it
                    cidr = alias_cidr(found.group(2), found.group(1) or '', self.cluster, local)[0]
                v, first, _last, prefix = network(cidr)
            except (RuleError, ValueError) as e:
                self.c.error('IP set {0}: entry {1!r} skipped: {2}'.format(text, cidr, e))
                continue
            if prefix == 0:
                self.c.error('IP set {0}: entry {1!r} skipped: a zero prefix is not allowed'.format(text, cidr))
                continue
            if v == self.v:
                bits = 32 if v == 4 else 128
                mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
                nets[(first, prefix)] = (prefix, mask, first, flag(entry.get('nomatch')))
        found = self.sets[key] = IpSet(nets.values(), text)
        return found

    def device_ips(self, vmid, guest, name):
        """What every ipfilter-netN set of a firewalled NIC also holds: the link-local address its MAC gives, no
        other link-local one, and a container's configured addresses."""
        found = re.match(r'^ipfilter-(net\d+)$', name)
        if not found or found.group(1) not in guest['config']:
            return []
        nic = nic_of(guest['config'], found.group(1))
        if not nic['firewall'] or not nic['mac']:
            return []
        out = [{'cidr': link_local(nic['mac'])}, {'cidr': 'fe80::/10', 'nomatch': 1}]
        if guest['type'] == 'lxc':
            for key in ('ip', 'ip6'):
                value = (nic[key] or '').split('/')[0]
                if value and value not in ('dhcp', 'auto', 'manual'):
                    out.append({'cidr': value})
        return out

    # -------------------------------------------------------------- rule specs

    def resolve(self, text, local, vmid):
        """A rule's source or dest -> (matcher, IP version or None)."""
        text = str(text).strip()
        found = IPSET_REF.match(text)
        if found:
            scope, name = found.group(1) or '', found.group(2)
            if scope in ('', 'guest/') and local is not None and name in local['ipset']:
                return self.ipset(vmid, name), None
            if scope in ('', 'dc/') and name in self.cluster['ipset']:
                return self.ipset(None, name), None
            if scope == 'sdn/':
                raise RuleError("SDN IP sets ('{0}') are not modelled".format(text))
            raise RuleError("no such ipset '{0}'".format(name))
        if text.startswith('+'):
            raise RuleError("invalid ipset name '{0}'".format(text))
        found = ALIAS_REF.match(text)
        if found:
            cidr, version = alias_cidr(found.group(2), found.group(1) or '', self.cluster, local)
            return _literal(cidr)[0], version
        return _literal(text)

    def specs(self, rule, local, vmid):
        """A rule -> the matches it stands for in this IP version ([] when it is for the other one); RuleError
        for what pve-firewall would refuse to compile."""
        version = None

        def set_version(new):
            nonlocal version
            if new:
                if version and new != version:
                    raise RuleError('mixed IPv4 and IPv6 addresses in the rule')
                version = new
        base = {}
        for field in ('source', 'dest'):
            if rule.get(field):
                base[field], found = self.resolve(rule[field], local, vmid)
                set_version(found)
        proto = rule.get('proto')
        if proto:
            set_version({'icmp': 4, 'icmpv6': 6, 'ipv6-icmp': 6}.get(str(proto).lower()))
        icmp_type = rule.get('icmp-type')
        if icmp_type and not proto:
            raise RuleError("'icmp-type' requires 'proto'")
        templates = [(proto, rule.get('dport'), rule.get('sport'))]
        if rule.get('macro'):
            templates = self.macro(rule, version or self.v)
        if version and version != self.v:
            return []
        out = []
        for t_proto, dport, sport in templates:
            out.append(self.spec_of(dict(base), t_proto, dport, sport, icmp_type))
        return out

    def macro(self, rule, version):
        name = MACRO_NAMES.get(str(rule['macro']).lower())
        if name is None:
            raise RuleError("unknown macro '{0}'".format(rule['macro']))
        text = MACROS_V6.get(name) if version == 6 else None
        if text is None:
            text = MACROS.get(name)
        if text is None:  # an IPv6-only macro in the IPv4 ruleset
            return []
        out = []
        for entry in text.split('|'):
            parts = entry.split() + [None, None]
            fixed = {'proto': parts[0], 'dport': parts[1], 'sport': parts[2]}
            for field, value in fixed.items():
                own = rule.get(field)
                if value is not None and own not in (None, '') and str(own) != value:
                    raise RuleError("parameter '{0}' already defined in macro {1} (value = '{2}')".format(
                        field, name, value))
                if value is None:
                    fixed[field] = rule.get(field) or None
            out.append((fixed['proto'], fixed['dport'], fixed['sport']))
        return out

    def spec_of(self, spec, proto, dport, sport, icmp_type):
        if dport not in (None, '') and not proto:
            raise RuleError("'dport' requires 'proto'")
        if sport not in (None, '') and not proto:
            raise RuleError("'sport' requires 'proto'")
        if proto:
            number = proto_number(proto)
            spec['proto'] = number
            is_icmp = number in (ICMP, ICMPV6)
            if is_icmp:
                if number == ICMP and self.v == 6 or number == ICMPV6 and self.v == 4:
                    return None
                tests = []
                if dport not in (None, ''):
                    tests.append(icmp_spec(dport, self.v))
                if icmp_type:
                    tests.append(icmp_spec(icmp_type, self.v))
                spec['icmp'] = tests
            elif dport not in (None, '') or sport not in (None, ''):
                if number not in PORT_PROTOS:
                    raise RuleError("protocol '{0}' does not support ports".format(proto))
            if icmp_type and not is_icmp:
                raise RuleError("'icmp-type' requires an ICMP protocol")
            if not is_icmp and dport not in (None, ''):
                spec['dports'] = parse_ports(dport)
            if sport not in (None, ''):
                if is_icmp:
                    raise RuleError("protocol '{0}' does not support ports".format(proto))
                spec['sports'] = parse_ports(sport)
        return spec

    def add_rule(self, chain, rule, where, local, vmid, targets, **extra):
        """A user rule (not a group reference) into `chain`; a broken one is skipped and reported."""
        try:
            specs = self.specs(rule, local, vmid)
        except RuleError as e:
            self.c.error('{0}: {1} skipped: {2}'.format(where, _rule_words(rule), e))
            return
        if rule.get('action') not in targets:
            self.c.error("{0}: {1} skipped: unknown action '{2}'".format(where, _rule_words(rule), rule.get('action')))
            return
        target, arg = targets[rule['action']]
        why = '{0}: {1}'.format(where, _rule_words(rule))
        for spec in specs:
            if spec is not None:
                self.add(chain, target, arg, why=why, src=spec.get('source'), dst=spec.get('dest'),
                         proto=spec.get('proto'), dports=spec.get('dports'), sports=spec.get('sports'),
                         icmp=spec.get('icmp', ()), **extra)

    def add_group(self, chain, rule, direction, after, where, **extra):
        """A GROUP rule: call the group's chain for this direction; the accept mark it sets then means `after`."""
        name = str(rule.get('action'))
        group_chain = 'GROUP-{0}-{1}'.format(name, direction)
        if group_chain not in self.chains:
            self.group_chains(name)
        why = '{0}: GROUP {1}'.format(where, name)
        self.add(chain, JUMP, group_chain, why=why, **extra)
        self.add(chain, after, why='{0} (its rules accepted it)'.format(why), mark=True)

    def group_chains(self, name):
        rules = self.cluster['groups'].get(name)
        if rules is None:
            self.c.error("no such security group '{0}' (referenced by a GROUP rule): its chains are empty".format(
                name))
            rules = []
        targets = {ACCEPT: (GOTO, 'PVEFW-SET-ACCEPT-MARK'), REJECT: (JUMP, 'PVEFW-reject'), DROP: (DROP, None)}
        for direction in ('IN', 'OUT'):
            chain = 'GROUP-{0}-{1}'.format(name, direction)
            self.add(chain, MARK_OFF)
            for pos, rule in enumerate(rules):
                if str(rule.get('type', '')).lower() != direction.lower() or not _enabled(rule):
                    continue
                # group rules see the cluster's aliases and IP sets only
                self.add_rule(chain, rule, 'group {0} rule {1}'.format(name, pos), None, None, targets)

    # --------------------------------------------------------------- the host

    def host_chains(self):
        """The node's own INPUT and OUTPUT: host.fw rules first, then the cluster's, management and corosync,
        then the cluster's policy_in (DROP) and policy_out (ACCEPT). Accepting is RETURN here."""
        host, options = self.spec['host'], self.spec['host']['options']
        cluster_options = self.cluster['options']
        rules = [('host rule {0}'.format(i), r) for i, r in enumerate(host['rules'])]
        rules += [('cluster rule {0}'.format(i), r) for i, r in enumerate(self.cluster['rules'])]
        targets = {ACCEPT: (RETURN, None), REJECT: (JUMP, 'PVEFW-reject'), DROP: (DROP, None)}
        local = self.spec['addresses']
        for direction, chain, dev in (('IN', 'PVEFW-HOST-IN', 'iface_in'), ('OUT', 'PVEFW-HOST-OUT', 'iface_out')):
            self.add(chain, ACCEPT, why='loopback', **{dev: 'lo'})
            self.conn_filters(chain, False, ACCEPT)
            self.ndp(chain, options, direction, RETURN)
            if direction == 'IN':
                self.input_filters(chain, options)
            self.add(chain, RETURN, why='IGMP (multicast membership)', proto=IGMP)
            for where, rule in rules:
                kind = str(rule.get('type', '')).lower()
                if not _enabled(rule) or kind not in ('group', direction.lower()):
                    continue
                extra = {dev: rule['iface']} if rule.get('iface') else {}
                if kind == 'group':
                    self.add_group(chain, rule, direction, RETURN, where, **extra)
                else:
                    self.add_rule(chain, rule, where, host, None, targets, **extra)
            if direction == 'IN':
                management = self.ipset(None, 'management')
                for ports in MANAGEMENT_PORTS:
                    self.add(chain, RETURN, why='management IP set to port {0}'.format(ports), src=management,
                             proto=TCP, dports=parse_ports(ports))
            elif network(self.c.localnet)[0] == self.v:
                localnet = _literal(self.c.localnet)[0]
                for ports in LOCALNET_PORTS:
                    self.add(chain, RETURN, why='to the cluster network, port {0}'.format(ports), dst=localnet,
                             proto=TCP, dports=parse_ports(ports))
            self.corosync(chain, direction, local)
            policy = str(cluster_options.get('policy_' + direction.lower()) or
                         (DROP if direction == 'IN' else ACCEPT)).upper()
            self.policy(chain, policy, RETURN, None, 'cluster policy_{0} {1}'.format(direction.lower(), policy))
        self.add('PVEFW-OUTPUT', JUMP, 'PVEFW-HOST-OUT')
        self.add('PVEFW-INPUT', JUMP, 'PVEFW-HOST-IN')

    def corosync(self, chain, direction, local):
        """Corosync (udp 5404:5405) between this node's ring addresses and the other nodes' on the same ring."""
        if not self.c.corosync:
            return
        ports = parse_ports(COROSYNC_PORTS)
        if self.c.corosync.get('transport') == 'udp':
            self.add(chain, RETURN, why='corosync multicast', dsttype='MULTICAST', proto=UDP, dports=ports)
        for name in sorted(self.c.nodes):
            if name == self.node:
                continue
            for ring, (mine, theirs) in enumerate(zip(local, self.c.nodes[name]['addresses'])):
                try:
                    (v1, _mine), (v2, _theirs) = address(mine), address(theirs)
                except ValueError:
                    continue  # a ring given by host name
                if v1 != self.v or v2 != self.v:
                    continue
                me, them = _literal(mine)[0], _literal(theirs)[0]
                why = 'corosync ring{0} with {1}'.format(ring, name)
                if direction == 'IN':
                    self.add(chain, RETURN, why=why, dst=me, src=them, proto=UDP, dports=ports)
                else:
                    self.add(chain, RETURN, why=why, src=me, dst=them, proto=UDP, dports=ports)

    # ----------------------------------------------------------------- guests

    def guest_chains(self, vmid, guest):
        fw = guest['firewall']
        if fw is None or not flag(fw['options'].get('enable')):
            return
        for netid in net_keys(guest['config']):
            nic = nic_of(guest['config'], netid)
            if not nic['firewall']:
                continue
            iface = device_name(guest['type'], vmid, netid)
            for direction in ('IN', 'OUT'):
                self.tap_chain(vmid, guest, netid, nic, iface, direction)

    def tap_chain(self, vmid, guest, netid, nic, iface, direction):
        """One NIC's chain for one direction, as pve-firewall generates it for a tap (or veth) device."""
        fw = guest['firewall']
        options = fw['options']
        chain = '{0}-{1}'.format(iface, direction)
        out = direction == 'OUT'
        self.new_chain(chain)
        # OUT accepts by setting the accept mark and leaving the chain, so the packet still sees the
        # receiver's chains; IN accepts for good.
        accept, accept_arg = (GOTO, 'PVEFW-SET-ACCEPT-MARK') if out else (ACCEPT, None)
        if flag(options.get('dhcp'), default=True):  # DHCP passes before the MAC and IP filters
            client, server = ('68', '67') if self.v == 4 else ('546', '547')
            sports, dports = (client, server) if out else (server, client)
            self.add(chain, accept, accept_arg, why='DHCP (option dhcp)', proto=UDP, sports=parse_ports(sports),
                     dports=parse_ports(dports))
        if out:
            if nic['mac'] and flag(options.get('macfilter'), default=True):
                self.add(chain, DROP, why='macfilter: the source MAC is not {0}'.format(nic['mac']),
                         not_mac=nic['mac'])
            if self.v == 6 and not flag(options.get('radv')):
                self.add(chain, DROP, why='router advertisement (option radv off)', proto=ICMPV6,
                         icmp=[ICMPV6_TYPES['router-advertisement']])
            ipfilter = 'ipfilter-' + netid
            if flag(options.get('ipfilter')) or ipfilter in fw['ipset']:
                self.add(chain, DROP, why='ipfilter: the source is not in {0}'.format(ipfilter),
                         not_src=self.ipset(vmid, ipfilter))
            self.add(chain, MARK_OFF)
        self.ndp(chain, options, direction, accept, accept_arg)
        targets = {ACCEPT: (accept, accept_arg), REJECT: (JUMP, 'PVEFW-reject'), DROP: (DROP, None)}
        for pos, rule in enumerate(fw['rules']):
            kind = str(rule.get('type', '')).lower()
            if rule.get('iface') and rule['iface'] != netid or not _enabled(rule):
                continue
            where = '{0} {1} rule {2}'.format('ct' if guest['type'] == 'lxc' else 'vm', vmid, pos)
            if kind == 'group':
                self.add_group(chain, rule, direction, RETURN if out else ACCEPT, where)
            elif kind == direction.lower():
                self.add_rule(chain, rule, where, fw, vmid, targets)
        key = 'policy_out' if out else 'policy_in'
        policy = str(options.get(key) or (ACCEPT if out else DROP)).upper()
        self.policy(chain, policy, accept, accept_arg, '{0} {1}'.format(key, policy))
        if out:
            self.add('PVEFW-FWBR-OUT', JUMP, chain, physdev_in=iface)
        else:
            self.add('PVEFW-FWBR-IN', JUMP, chain, physdev_out=iface)


def device_name(kind, vmid, netid):
    """The host device of a guest NIC: tap<vmid>i<N> for a VM, veth<vmid>i<N> for a container."""
    return '{0}{1}i{2}'.format('veth' if kind == 'lxc' else 'tap', vmid, NET_KEY.match(netid).group(1))


def _layer2_chains(compiled, node):
    """The ebtables chains: IPv4 and IPv6 frames pass (iptables checks them), frames out of a firewalled NIC of
    an enabled guest must carry its MAC (macfilter) and, when its IP filter names addresses, ARP only for
    those: the entries of an explicit ipfilter-netN set, plus a container's configured IP with ipfilter on."""
    chains = {}

    def add(chain, target, arg=None, why=None, **match):
        tests, text = _match(**match)
        text += ' -j ' + (arg or target)
        chains.setdefault(chain, []).append(Rule(tests, target, arg, text.strip(), why))
    add('PVEFW-FORWARD', ACCEPT, l2='IPv4')
    add('PVEFW-FORWARD', ACCEPT, l2='IPv6')
    add('PVEFW-FORWARD', JUMP, 'PVEFW-FWBR-OUT', iface_out='fwln+')
    chains.setdefault('PVEFW-FWBR-OUT', [])
    guests = compiled.nodes[node]['guests']
    for kind in ('qemu', 'lxc'):
        for vmid in sorted(guests, key=str):
            guest = guests[vmid]
            fw = guest['firewall']
            if guest['type'] != kind or fw is None or not flag(fw['options'].get('enable')):
                continue
            try:
                for netid in net_keys(guest['config']):
                    _layer2_nic(add, chains, vmid, guest, netid)
            except ValueError as e:
                # pve-firewall gives up on the rest of this guest's layer-2 rules
                compiled.error('vm {0}: no layer-2 filter for its remaining NICs: {1}'.format(vmid, e))
    return chains


def _layer2_nic(add, chains, vmid, guest, netid):
    nic = nic_of(guest['config'], netid)
    if not nic['firewall']:
        return
    options = guest['firewall']['options']
    arp = []
    for entry in guest['firewall']['ipset'].get('ipfilter-' + netid, []):
        v, first, last, _prefix = network(entry['cidr'])  # an alias here is an error in pve-firewall too
        if v == 4:
            arp.append(Cidrs([(4, first, last)], str(entry['cidr'])))
    if guest['type'] == 'lxc' and flag(options.get('ipfilter')) and nic['ip']:
        ip = nic['ip'].split('/')[0]
        if ip not in ('dhcp', 'manual'):
            arp.append(_literal(ip)[0])
    iface = device_name(guest['type'], vmid, netid)
    chain = iface + '-OUT'
    chains.setdefault(chain, [])
    if nic['mac'] and flag(options.get('macfilter'), default=True):
        add(chain, DROP, why='ebtables macfilter: the source MAC is not {0}'.format(nic['mac']), not_mac=nic['mac'])
    if arp:
        add(chain, JUMP, chain + '-ARP', l2='ARP')
        for cidrs in arp:
            add(chain + '-ARP', RETURN, l2='ARP', arp_src=cidrs)
        add(chain + '-ARP', DROP, why='ebtables ARP filter: the ARP sender IP is not in ipfilter-' + netid)
    if options.get('layer2_protocols'):
        add(chain, JUMP, chain + '-PROTO')
        for proto in str(options['layer2_protocols']).split(','):
            add(chain + '-PROTO', RETURN, l2=proto.strip())
        add(chain + '-PROTO', DROP, why='ebtables: layer-2 protocol not in layer2_protocols')
    add(chain, ACCEPT)
    add('PVEFW-FWBR-OUT', JUMP, chain, iface_in=iface)


# ================================================================== endpoints

def guest_endpoint(vmid, config, kind='qemu', node=None, net=0, pool=DHCP_POOL):
    """A guest NIC as a packet's end: its devices, MAC, bridge, whether it sits behind a firewall bridge
    (firewall=1), and the addresses its guest uses: a static ipconfigN (VM) or netN ip= (container), else a
    DHCP lease for net0 (guestagent.py's), and the IPv6 link-local address of its MAC."""
    netid = net if str(net).startswith('net') else 'net{0}'.format(int(net))
    if netid not in config:
        raise ValueError('{0} {1} has no {2}'.format('CT' if kind == 'lxc' else 'VM', vmid, netid))
    nic = nic_of(config, netid)
    number = NET_KEY.match(netid).group(1)
    if kind == 'lxc':
        static = props(config.get(netid))
    else:
        static = props(config.get('ipconfig' + number))
    ip4 = (static.get('ip') or '').split('/')[0]
    ip6 = (static.get('ip6') or '').split('/')[0]
    if ip4 in ('', 'dhcp', 'manual'):
        ip4 = dhcp_lease(vmid, pool)[0] if number == '0' else None
    if ip6 in ('', 'dhcp', 'auto', 'manual'):
        ip6 = link_local(nic['mac']) if nic['mac'] else None
    iface = device_name(kind, vmid, netid)
    return {'kind': 'guest', 'vmid': int(vmid), 'type': kind, 'net': netid, 'node': node, 'mac': nic['mac'],
            'bridge': nic['bridge'], 'firewall': nic['firewall'], 'ip': ip4, 'ip6': ip6, 'dev': iface,
            'fwbr': 'fwbr{0}i{1}'.format(vmid, number), 'fwln': 'fwln{0}i{1}'.format(vmid, number),
            'fwpr': 'fwpr{0}p{1}'.format(vmid, number)}


def node_endpoint(name, ip, bridge='vmbr0'):
    return {'kind': 'node', 'node': name, 'ip': ip, 'ip6': None, 'bridge': bridge, 'mac': None}


def outside_endpoint(ip, bridge='vmbr0', port='eth0', node=None, mac=None):
    """A host off the cluster, reached through `port` of `bridge` (of `node`, or of whichever node the
    other end is on)."""
    v = address(ip)[0]
    return {'kind': 'outside', 'node': node, 'ip': ip if v == 4 else None, 'ip6': ip if v == 6 else None,
            'bridge': bridge, 'port': port, 'mac': mac_norm(mac)}


def _hop(node, chain, iface_in=None, iface_out=None, physdev_in=None, physdev_out=None, what=''):
    return {'node': node, 'chain': chain, 'iface_in': iface_in, 'iface_out': iface_out, 'physdev_in': physdev_in,
            'physdev_out': physdev_out, 'what': what}


def route(src, dst):
    """The netfilter hooks a packet passes from src to dst: (node, INPUT/OUTPUT/FORWARD, devices), in order.

    A firewalled guest NIC sits behind its own bridge fwbr<vmid>i<N> (tap -> fwbr -> fwln/fwpr -> vmbr), so
    leaving it is a FORWARD from the tap to fwln and reaching it one from fwln to the tap; the main bridge in
    between is one more FORWARD. A node's own traffic is INPUT or OUTPUT. Between nodes a packet leaves one
    node's bridge port and enters the other's."""
    hops = []
    src_node = src.get('node') if src['kind'] != 'outside' else None
    dst_node = dst.get('node') if dst['kind'] != 'outside' else None
    if src['kind'] == 'guest':
        if src['firewall']:
            hops.append(_hop(src_node, 'FORWARD', src['fwbr'], src['fwbr'], src['dev'], src['fwln'],
                             'leaving {0} through {1}'.format(src['dev'], src['fwbr'])))
        port_in = src['fwpr'] if src['firewall'] else src['dev']
    elif src['kind'] == 'node':
        toward = dst.get('bridge') or 'vmbr0'
        hops.append(_hop(src_node, 'OUTPUT', 'lo', toward, what='sent by {0}'.format(src_node)))
        port_in = None
    else:
        port_in = src.get('port', 'eth0')
    if src_node is not None and src_node == dst_node:
        hops += _arrive(src, dst, src_node, port_in)
        return hops
    if src['kind'] == 'guest':
        out_port = dst.get('port', 'eth0') if dst['kind'] == 'outside' else 'eth0'
        hops.append(_hop(src_node, 'FORWARD', src['bridge'], src['bridge'], port_in, out_port,
                         'through {0} to {1}'.format(src['bridge'], out_port)))
    if dst['kind'] == 'outside':
        if src['kind'] == 'outside' and (src.get('node') or dst.get('node')):
            node = src.get('node') or dst.get('node')
            hops.append(_hop(node, 'FORWARD', src['bridge'], dst['bridge'], src.get('port'), dst.get('port'),
                             'bridged by {0}'.format(node)))
        return hops
    port = src.get('port', 'eth0') if src['kind'] == 'outside' else 'eth0'
    return hops + _arrive(src, dst, dst_node, port)


def _arrive(src, dst, node, port_in):
    """The hooks on the destination's node, from its main bridge on."""
    bridge = src['bridge'] if src['kind'] == 'outside' else (dst.get('bridge') or 'vmbr0')
    if dst['kind'] == 'node':
        if src['kind'] == 'node':
            return []  # to itself: loopback
        in_bridge = src['bridge'] if src['kind'] == 'guest' and src.get('node') == node else bridge
        return [_hop(node, 'INPUT', in_bridge, 'lo', port_in, None, 'received by {0}'.format(node))]
    hops = []
    if src['kind'] != 'node':
        src_bridge = src['bridge']
        same = src_bridge == dst['bridge']
        hops.append(_hop(node, 'FORWARD', src_bridge, dst['bridge'], port_in,
                         (dst['fwpr'] if dst['firewall'] else dst['dev']) if same else None,
                         'through {0} to {1}'.format(dst['bridge'], dst['dev'])))
    if dst['firewall']:
        hops.append(_hop(node, 'FORWARD', dst['fwbr'], dst['fwbr'], dst['fwln'], dst['dev'],
                         'entering {0} through {1}'.format(dst['dev'], dst['fwbr'])))
    return hops


# =================================================================== simulate

def _addr_type(version, addr, localnet):
    if version == 6:
        return 'MULTICAST' if addr >> 120 == 0xff else 'UNICAST'
    if addr == 0xffffffff:
        return 'BROADCAST'
    if addr >> 28 == 0xe:
        return 'MULTICAST'
    v, _first, last, _prefix = network(localnet)
    if v == 4 and addr == last:
        return 'BROADCAST'
    return 'UNICAST'


def _endpoint_ip(end, version, override, what):
    if override:
        v, value = address(override)
        if v != version:
            raise ValueError('{0} {1} is not IPv{2}'.format(what, override, version))
        return value, str(override)
    ip = end.get('ip6') if version == 6 else end.get('ip')
    if not ip:
        wanted = 'source_ip' if what == 'source' else 'dest_ip'
        raise ValueError('no IPv{0} {1} known for {2}: give {3}'.format(version, what, _describe(end), wanted))
    return address(ip)[1], ip


def _describe(end):
    if end['kind'] == 'guest':
        return '{0} {1} {2}'.format('CT' if end['type'] == 'lxc' else 'VM', end['vmid'], end['net'])
    if end['kind'] == 'node':
        return 'node ' + end['node']
    return end.get('ip') or end.get('ip6')


def simulate(compiled, src, dst=None, proto='tcp', dport=None, sport=None, icmp_type=None, source_ip=None,
             source_mac=None, dest_ip=None, arp_ip=None, reply=False, ipversion=None, dsttype=None):
    """The verdict of the firewall `compiled` on one packet from src to dst (endpoints as guest_endpoint,
    node_endpoint and outside_endpoint make them).

    proto: tcp, udp, icmp, icmpv6, a number, or arp (with arp_ip: the IP the sender claims; its own if None);
    dport/sport None: a port no rule names; icmp_type: a name or 'type[/code]' (default echo-request);
    source_ip/source_mac/dest_ip: what the packet carries instead of the endpoints' own (spoofing);
    reply: the packet is the answer of dst to a connection src opened: it passes as ESTABLISHED if that
    connection's first packet passed, else it has no connection (TCP and ICMP: INVALID; UDP: a new packet).
    -> {'verdict': 'ACCEPT'|'DROP'|'REJECT', 'reason': text, 'trace': [lines], 'packet': {...}}.
    """
    proto_text = str(proto or 'tcp').lower()
    if proto_text == 'arp':
        if reply:
            raise ValueError('an ARP packet has no reply here')
        return _simulate_arp(compiled, src, source_ip, source_mac, arp_ip)
    number = proto_number(proto_text)
    version = int(ipversion) if ipversion else None
    for given in (source_ip, dest_ip):
        if given and version is None:
            version = address(given)[0]
    for end in (src, dst or {}):  # a host outside known by its IPv6 address only
        if version is None and end.get('kind') == 'outside' and not end.get('ip') and end.get('ip6'):
            version = 6
    if version is None:
        version = 6 if number == ICMPV6 else 4
    if dst is None:
        raise ValueError('dst is required (only an ARP packet goes to no one)')
    first = _packet(compiled, src, dst, number, version, dport, sport, icmp_type, source_ip, source_mac, dest_ip,
                    dsttype, NEW)
    result = _walk(compiled, src, dst, first)
    if not reply:
        return result
    opened = result['verdict'] == ACCEPT
    state = ESTABLISHED if opened else (INVALID if number in (TCP, ICMP, ICMPV6) else NEW)
    answer_icmp = None
    if number in (ICMP, ICMPV6):
        answer_icmp = 'echo-reply' if (icmp_type or 'echo-request') == 'echo-request' else icmp_type
    back = _packet(compiled, dst, src, number, version, sport, dport, answer_icmp, first['dest_text'],
                   None, first['source_text'], None, state)
    answer = _walk(compiled, dst, src, back)
    answer['trace'] = (['connection opened by the first packet: {0}'.format(result['verdict'])] + result['trace'] +
                       ['reply ({0}):'.format(state)] + answer['trace'])
    answer['connection'] = result['verdict']
    return answer


def _packet(compiled, src, dst, proto, version, dport, sport, icmp_type, source_ip, source_mac, dest_ip, dsttype,
            state):
    src_addr, src_text = _endpoint_ip(src, version, source_ip, 'source')
    dst_addr, dst_text = _endpoint_ip(dst, version, dest_ip, 'destination')
    icmp = None
    if proto in (ICMP, ICMPV6):
        icmp = packet_icmp(icmp_type or 'echo-request', 6 if proto == ICMPV6 else 4)
    pkt = Packet(version=version, proto=proto, src=src_addr, dst=dst_addr,
                 sport=int(sport) if sport not in (None, '') else None,
                 dport=int(dport) if dport not in (None, '') else None, icmp=icmp,
                 mac=mac_norm(source_mac) or src.get('mac'), state=state,
                 syn=proto == TCP and state == NEW, mark=False, l2='IPv{0}'.format(version),
                 srctype=_addr_type(version, src_addr, compiled.localnet),
                 dsttype=dsttype or _addr_type(version, dst_addr, compiled.localnet))
    return {'pkt': pkt, 'source_text': src_text, 'dest_text': dst_text}


def _walk(compiled, src, dst, made):
    pkt = made['pkt']
    info = {'proto': proto_name(pkt.proto), 'ipversion': pkt.version, 'source': made['source_text'],
            'dest': made['dest_text'], 'source_mac': pkt.mac, 'sport': pkt.sport, 'dport': pkt.dport, 'state': pkt.state}
    if pkt.icmp is not None:
        info['icmp_type'] = '{0}/{1}'.format(*pkt.icmp)
    if not compiled.enabled:
        return {'verdict': ACCEPT, 'packet': info, 'trace': ['datacenter firewall off: nothing is compiled'],
                'reason': 'the datacenter firewall is off (cluster option enable): nothing is filtered'}
    trace, last_reason, node_of_mark = [], None, None
    for hop in route(src, dst):
        chains = compiled.rules(hop['node'], pkt.version)
        trace.append('{0} {1}: {2}'.format(hop['node'], hop['chain'], hop['what']))
        if chains is None:
            trace.append('  not a node of this cluster: not filtered')
            continue
        if hop['node'] != node_of_mark:  # another node: another skb, no mark
            pkt.mark, node_of_mark = False, hop['node']
        for field in ('iface_in', 'iface_out', 'physdev_in', 'physdev_out'):
            setattr(pkt, field, hop[field])
        trail = []
        verdict = run_chain(chains, 'PVEFW-' + hop['chain'], pkt, trail) or ACCEPT
        trace += ['  {0}: {1}'.format(chain, rule.text) for chain, rule in trail]
        trace.append('  => ' + verdict)
        reasons = _reasons(trail)
        if verdict != ACCEPT:
            return {'verdict': verdict, 'packet': info, 'trace': trace,
                    'reason': '; '.join(reasons) or 'dropped on {0}'.format(hop['node'])}
        if reasons:
            last_reason = '; '.join(reasons)
    return {'verdict': ACCEPT, 'packet': info, 'trace': trace,
            'reason': last_reason or 'no chain on its way filters it'}


def _reasons(trail):
    """The whys of the rules a packet matched, each once, in order."""
    out = []
    for chain, rule in trail:
        if rule.why and '{0}: {1}'.format(chain, rule.why) not in out:
            out.append('{0}: {1}'.format(chain, rule.why))
    return out


def _simulate_arp(compiled, src, source_ip, source_mac, arp_ip):
    """ARP is seen by ebtables only, and only on the way out of a firewalled guest NIC."""
    claimed = arp_ip or source_ip or src.get('ip')
    if not claimed:
        raise ValueError('give arp_ip: the IP the ARP packet claims')
    v, value = address(claimed)
    if v != 4:
        raise ValueError('ARP carries IPv4 addresses, not {0}'.format(claimed))
    pkt = Packet(l2='ARP', arp_ip=value, mac=mac_norm(source_mac) or src.get('mac'), mark=False)
    info = {'proto': 'arp', 'arp_ip': claimed, 'source_mac': pkt.mac}
    if not compiled.enabled:
        return {'verdict': ACCEPT, 'packet': info, 'trace': ['datacenter firewall off: nothing is compiled'],
                'reason': 'the datacenter firewall is off (cluster option enable): nothing is filtered'}
    if src['kind'] != 'guest' or not src['firewall']:
        return {'verdict': ACCEPT, 'packet': info, 'trace': [],
                'reason': 'ARP is filtered only on its way out of a guest NIC with firewall=1'}
    chains = compiled.layer2(src['node'])
    trace = ['{0} ebtables FORWARD: leaving {1} through {2}'.format(src['node'], src['dev'], src['fwbr'])]
    if chains is None:
        return {'verdict': ACCEPT, 'packet': info, 'trace': trace + ['  no ebtables rules (cluster option ebtables 0)'],
                'reason': 'no layer-2 filter: the cluster option ebtables is off'}
    pkt.iface_in, pkt.iface_out = src['dev'], src['fwln']
    trail = []
    verdict = run_chain(chains, 'PVEFW-FORWARD', pkt, trail) or ACCEPT
    trace += ['  {0}: {1}'.format(chain, rule.text) for chain, rule in trail] + ['  => ' + verdict]
    reasons = _reasons(trail)
    if verdict == ACCEPT and not reasons:
        reasons = ['no ARP filter for {0} (no explicit ipfilter-{1} IP set with addresses)'.format(
            src['dev'], src['net'])]
    return {'verdict': verdict, 'packet': info, 'trace': trace, 'reason': '; '.join(reasons)}
