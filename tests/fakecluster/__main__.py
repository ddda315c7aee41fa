"""Serve a fake cluster from a JSON description, for ansible-playbook runs and other out-of-process clients.

    PYTHONPATH=tests python -m fakecluster serve tests/fakecluster/clusters/demo.json \
        --info-file /tmp/pve.json --time-scale 0.01 --clone-secs 30 [--pve-version 8.4]

Prints `fakecluster listening on https://HOST:PORT` once listening, after writing the info file (JSON: url,
host, port, user, password, ca_path, control_url) atomically; the CA certificate sits next to it as
<info-file>.ca.pem. Both are removed when the server ends (SIGTERM or SIGINT). Binds 127.0.0.0/8 only.
"""

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile

from fakepve.certs import make_cert

from .describe import build
from .serving import check_loopback

# Options that become build() settings: (flag, setting, type, help).
KNOBS = (
    ('--time-scale', 'time_scale', float, 'real seconds per PVE second; 0 ends every task before its POST returns'),
    ('--clone-secs', 'clone_secs', float, 'PVE seconds a clone task takes'),
    ('--start-secs', 'default_start_secs', float, 'PVE seconds a start takes, for VMs made through the API'),
    ('--shutdown-secs', 'default_shutdown_secs', float, 'PVE seconds a guest takes to power off (new VMs)'),
    ('--stop-secs', 'default_stop_secs', float, 'PVE seconds a stop takes (new VMs)'),
    ('--agent-delay-secs', 'default_agent_delay_secs', float, 'PVE seconds before a new VM\'s agent answers'),
    ('--dhcp-pool', 'dhcp_pool', str, 'network the DHCP-like addresses come from (default 10.10.0.0/16)'),
    ('--ticket-ttl', 'ticket_ttl', float, 'seconds a login ticket lives (PVE: 7200)'),
    ('--lock-wait', 'lock_wait', float, 'PVE seconds a request waits for a held VM config lock'),
    ('--statd-secs', 'statd_secs', float, 'PVE seconds between pvestatd broadcasts (/cluster/resources cache)'),
    ('--latency', 'latency', float, 'PVE seconds added to every API response'),
    ('--jitter', 'jitter', float, 'random extra PVE seconds, up to this, per response'),
    ('--drop-rate', 'drop_rate', float, 'share of requests whose connection is reset'),
    ('--hang-rate', 'hang_rate', float, 'share of requests that hang for --hang-secs'),
    ('--hang-secs', 'hang_secs', float, 'PVE seconds a hanging request hangs (default 120)'),
    ('--seed', 'seed', int, 'seed for the random network faults'),
    ('--pve-version', 'pve_version', str, 'the PVE release to serve: 9.1 (default) or 8.4'),
    ('--firewall-secs', 'firewall_secs', float, 'PVE seconds between pve-firewall compiles (default 10)'),
    ('--localnet', 'localnet', str, 'the nodes\' network, the management IP set (default 192.0.2.0/24)'),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m fakecluster', description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    serve = commands.add_parser('serve', help='serve a fake cluster from a JSON description')
    serve.add_argument('description', help='JSON file, or the name of one in fakecluster/clusters/')
    serve.add_argument('--host', default='127.0.0.1', help='a 127.0.0.0/8 address (default 127.0.0.1)')
    serve.add_argument('--port', type=int, default=0, help='0 lets the system pick a free port (default)')
    serve.add_argument('--info-file', help='write url, credentials and CA path here (JSON) once listening')
    serve.add_argument('--user', default='root@pam')
    serve.add_argument('--password', default=os.environ.get('PVE_PASS'),
                       help='root password (default: $PVE_PASS, else a random one written to the info file)')
    for flag, dest, kind, text in KNOBS:
        serve.add_argument(flag, dest=dest, type=kind, help=text)
    args = parser.parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as e:
        parser.error(str(e))
    return args


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.fakecluster-')
    with os.fdopen(fd, 'w', encoding='utf-8') as out:
        out.write(text)
    os.replace(tmp, path)


async def serve(args):
    password = args.password or secrets.token_urlsafe(12)
    settings = dict((knob[1], getattr(args, knob[1])) for knob in KNOBS if getattr(args, knob[1]) is not None)
    pve = build(args.description, host=args.host, port=args.port, user=args.user, password=password, **settings)
    pki = tempfile.mkdtemp(prefix='fakecluster-')
    written = []
    # Handlers first: whoever sees the info file may stop us at once, and must get a clean exit.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        certfile, keyfile, _ca = make_cert(pki, name='fakecluster', hosts=(args.host,))
        ca_path = certfile
        if args.info_file:
            ca_path = os.path.abspath(args.info_file) + '.ca.pem'
            shutil.copyfile(certfile, ca_path)
            written.append(ca_path)
        await pve.start(certfile, keyfile)
        info = {'url': pve.url, 'host': pve.host, 'port': pve.port, 'user': pve.user, 'password': pve.password,
                'ca_path': ca_path, 'control_url': pve.url + '/_fake'}
        if args.info_file:
            write_atomically(args.info_file, json.dumps(info, indent=2) + '\n')
            written.append(os.path.abspath(args.info_file))
        else:
            print('fakecluster: CA certificate {0}, user {1}, password {2}'.format(ca_path, pve.user, pve.password),
                  file=sys.stderr, flush=True)
        print('fakecluster listening on {0}'.format(pve.url), flush=True)
        await stop.wait()
    finally:
        await pve.stop()
        for path in written:
            try:
                os.remove(path)
            except OSError:
                pass
        shutil.rmtree(pki, ignore_errors=True)


def main(argv=None):
    args = parse_args(argv)
    asyncio.run(serve(args))


if __name__ == '__main__':
    main()
