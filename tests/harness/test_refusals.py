"""What PVE drops or refuses (tests/fakecluster/refusals.py), and the refusals stock fakepve already models.

`either_fake` tests run on LabPve (must pass) and on stock fakepve (strict xfail): the behaviour is fakecluster's.
`pve_cluster` tests pin refusals fakepve 0.5.0 already makes as PVE does, which the collection must cope with.
"""

import json
import urllib.parse

import pytest
import requests
from proxmoxer.core import ResourceException

from test_stock_contrast import wait_task


def raw(cluster, method, path, json_body=None, body=None):
    """One request as root@pam, the body as given (a JSON object or a form string); returns the response."""
    ticket = requests.post(cluster.url + '/api2/json/access/ticket', verify=cluster.ca_path,
                           data={'username': cluster.user, 'password': cluster.password}).json()['data']
    headers = {'CSRFPreventionToken': ticket['CSRFPreventionToken']}
    kwargs = {}
    if json_body is not None:
        kwargs['data'] = json.dumps(json_body)
        headers['Content-Type'] = 'application/json'
    elif body is not None:
        kwargs['data'] = body
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
    return requests.request(method, cluster.url + '/api2/json' + path, headers=headers, verify=cluster.ca_path,
                            cookies={'PVEAuthCookie': ticket['ticket']}, timeout=10, **kwargs)


# ------------------------------------------------------------ empty values

def test_an_empty_form_value_keeps_the_old_comment(pve_cluster):
    """pve-http-server: `comment=` arrives as undef; the pool update keeps the comment (so does fakepve)."""
    api = pve_cluster.api()
    api.pools.post(poolid='lab1', comment='keep')
    assert raw(pve_cluster, 'PUT', '/pools/lab1', body='comment=').status_code == 200
    assert api.pools('lab1').get()['comment'] == 'keep'


def test_an_empty_query_value_is_undef_too(either_fake):
    api = either_fake.api()
    api.pools.post(poolid='lab1', comment='keep')
    assert raw(either_fake, 'PUT', '/pools/lab1?comment=').status_code == 200
    assert api.pools('lab1').get()['comment'] == 'keep'


def test_the_query_string_wins_over_the_body(either_fake):
    api = either_fake.api()
    api.pools.post(poolid='lab1', comment='keep')
    assert raw(either_fake, 'PUT', '/pools/lab1?comment=', body='comment=other').status_code == 200
    assert api.pools('lab1').get()['comment'] == 'keep'


def test_a_json_empty_comment_clears_it_and_is_read_back_as_none(either_fake):
    api = either_fake.api()
    api.pools.post(poolid='lab1', comment='old')
    assert raw(either_fake, 'PUT', '/pools/lab1', json_body={'comment': ''}).status_code == 200
    pool = api.pools('lab1').get()
    assert 'comment' not in pool
    assert 'comment' not in [p for p in api.pools.get() if p['poolid'] == 'lab1'][0]


def test_a_json_empty_snapshot_description_clears_it(either_fake):
    api = either_fake.api()
    vm = api.nodes('pve1').qemu(100)
    wait_task(api, 'pve1', vm.snapshot.post(snapname='s1', description='before the lab'))
    assert raw(either_fake, 'PUT', '/nodes/pve1/qemu/100/snapshot/s1/config', body='description=').status_code == 200
    assert vm.snapshot('s1').config.get()['description'] == 'before the lab'
    assert raw(either_fake, 'PUT', '/nodes/pve1/qemu/100/snapshot/s1/config',
               json_body={'description': ''}).status_code == 200
    assert 'description' not in vm.snapshot('s1').config.get()


def test_a_json_empty_container_snapshot_description_clears_it(pve_cluster):
    pve_cluster.pve.add_ct(200, 'ct1', node='pve1')
    api = pve_cluster.api()
    ct = api.nodes('pve1').lxc(200)
    wait_task(api, 'pve1', ct.snapshot.post(snapname='s1', description='d'))
    assert raw(pve_cluster, 'PUT', '/nodes/pve1/lxc/200/snapshot/s1/config',
               json_body={'description': ''}).status_code == 200
    assert 'description' not in ct.snapshot('s1').config.get()


# ---------------------------------------------------------------- ICMP types

@pytest.mark.parametrize('proto, icmp_type', [('icmp', '8'), ('ipv6-icmp', '128'), ('icmpv6', '1')])
def test_a_numeric_icmp_type_is_refused_by_its_format(either_fake, refused, proto, icmp_type):
    api = either_fake.api()
    api.cluster.firewall.groups.post(group='lab1')
    status, message = refused(api.cluster.firewall.groups('lab1').post, type='in', action='ACCEPT', proto=proto,
                              **{'icmp-type': icmp_type})
    assert status == 400
    assert "invalid icmp-type value '{0}'".format(icmp_type) in message
    assert api.cluster.firewall.groups('lab1').get() == []


def test_a_numeric_icmp_type_is_refused_on_a_rule_update(either_fake, refused):
    api = either_fake.api()
    rules = api.nodes('pve1').qemu(100).firewall.rules
    rules.post(type='in', action='ACCEPT', proto='icmp', enable=1, **{'icmp-type': 'echo-request'})
    status, message = refused(rules(0).put, **{'icmp-type': '0'})
    assert status == 400 and "invalid icmp-type value '0'" in message
    assert rules(0).get()['icmp-type'] == 'echo-request'


def test_icmp_type_names_are_accepted(pve_cluster):
    api = pve_cluster.api()
    api.cluster.firewall.groups.post(group='lab1')
    for proto, name in (('icmp', 'echo-request'), ('ipv6-icmp', 'neighbor-solicitation')):
        api.cluster.firewall.groups('lab1').post(type='in', action='ACCEPT', proto=proto, **{'icmp-type': name})
    assert sorted(r['icmp-type'] for r in api.cluster.firewall.groups('lab1').get()) == [
        'echo-request', 'neighbor-solicitation']


# ---------------------------------------------------------- cloud-init sshkeys

KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAs/VsZkKD0kirVGTqRIc/7Y8Pq377N33wprEF+YPXLE alice@lab'


def test_an_sshkeys_line_that_is_no_public_key_is_refused(either_fake, refused):
    """validate_ssh_public_keys runs ssh-keygen -l on each unescaped line: a cut key is a 500, nothing written."""
    api = either_fake.api()
    status, message = refused(api.nodes('pve1').qemu(100).config.put,
                              sshkeys=urllib.parse.quote(KEY[:40] + ' alice@lab\n', safe=''))
    assert status == 500 and 'SSH public key validation error' in message
    assert 'sshkeys' not in either_fake.pve.vm(100).config


def test_urlencoded_public_keys_are_taken(pve_cluster):
    api = pve_cluster.api()
    value = urllib.parse.quote(KEY + '\n\n' + KEY.replace('alice', 'bob') + '\n', safe='')
    api.nodes('pve1').qemu(100).config.put(sshkeys=value)
    assert pve_cluster.pve.vm(100).config['sshkeys'] == value


# ------------------------------------------ already refused by fakepve as by PVE

def test_sshkeys_must_be_urlencoded(pve_cluster, refused):
    """pve_verify_urlencoded: a key sent as plain text (its spaces, '+' and '/') is a 400 before anything."""
    api = pve_cluster.api()
    status, message = refused(api.nodes('pve1').qemu(100).config.put, sshkeys=KEY)
    assert status == 400 and 'invalid urlencoded string' in message
    assert 'sshkeys' not in pve_cluster.pve.vm(100).config


def test_a_new_pool_name_must_start_with_a_letter(pve_cluster, refused):
    """pve-manager PVE/API2/Pool.pm create_pool (PVE 9): the pve-poolid format allows '1lab', create does not."""
    api = pve_cluster.api()
    status, message = refused(api.pools.post, poolid='1lab')
    assert status == 500 and 'pool name must start with a letter' in message
    assert [p['poolid'] for p in api.pools.get()] == []


def test_a_snapshot_name_has_at_most_40_characters(pve_cluster, refused):
    api = pve_cluster.api()
    status, message = refused(api.nodes('pve1').qemu(100).snapshot.post, snapname='s' * 41)
    assert status == 400 and 'snapname' in message
    wait_task(api, 'pve1', api.nodes('pve1').qemu(100).snapshot.post(snapname='s' * 40))


def test_container_delete_has_no_skiplock(pve_cluster, refused):
    pve_cluster.pve.add_ct(200, 'ct1', node='pve1')
    api = pve_cluster.api()
    status, message = refused(api.nodes('pve1').lxc(200).delete, skiplock=1)
    assert status == 400 and 'skiplock' in message
    assert api.nodes('pve1').lxc(200).config.get()['hostname'] == 'ct1'


def test_vm_delete_with_skiplock_is_root_only(pve_cluster, refused):
    root = pve_cluster.api()
    root.access.users.post(userid='ops@pve', password='ops-password')
    root.access.acl.put(path='/vms/100', users='ops@pve', roles='PVEVMAdmin')
    ops = pve_cluster.api('ops@pve', 'ops-password')
    status, message = refused(ops.nodes('pve1').qemu(100).delete, skiplock=1, purge=1)
    assert status == 400 and 'Only root may use this option.' in message
    assert root.nodes('pve1').qemu(100).config.get()['name'] == 'alpha'


def test_a_container_clone_under_way_holds_lock_create(pve_cluster):
    pve = pve_cluster.pve
    pve.add_ct(8000, 'ct-tmpl', node='pve1', template=True)
    pve.time_scale, pve.ct_secs['clone'] = 0.01, 40
    api = pve_cluster.api()
    upid = api.nodes('pve1').lxc(8000).clone.post(newid=201, hostname='ct-s1', full=1)
    assert api.nodes('pve1').lxc(201).config.get()['lock'] == 'create'
    assert wait_task(api, 'pve1', upid)['exitstatus'] == 'OK'
    assert 'lock' not in api.nodes('pve1').lxc(201).config.get()
