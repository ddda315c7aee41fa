"""pve_token against the in-memory /access stub: the secret only on creation."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveVersion
from ansible_collections.pvelab.proxmox.plugins.modules import pve_token
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_stub import run, stub  # noqa: F401 pylint: disable=unused-import


def test_create_secret_once_update_delete(stub):
    stub.user_call('POST', '/access/users', None, {'userid': 'labweb@pve'})
    args = dict(userid='labweb', token='portal', comment='portal')
    result, failed = run(pve_token.main, args, check=True)
    assert not failed and result['changed'] and 'secret' not in result['token'] and stub.writes() == []
    result = run(pve_token.main, args, diff=True)[0]
    assert result['token']['secret'] == 'secret-of-portal'
    assert result['token']['full_tokenid'] == 'labweb@pve!portal' and result['token']['privsep'] is True
    assert 'secret' not in result['diff']['after']
    result = run(pve_token.main, args)[0]
    assert not result['changed'] and 'secret' not in result['token']
    result = run(pve_token.main, dict(args, privsep=False, expire='2030-01-01'))[0]
    assert result['changes'] == ['expire', 'privsep'] and 'secret' not in result['token']
    assert stub.tokens['labweb@pve']['portal'] == {'privsep': 0, 'expire': 1893456000, 'comment': 'portal'}
    result = run(pve_token.main, dict(args, comment='', privsep=False, expire='2030-01-01'))[0]
    assert result['changes'] == ['comment'] and 'comment' not in stub.calls[-1][2]
    assert stub.calls[-1][2]['delete'] == 'comment' and stub.version_reads == 1
    result = run(pve_token.main, dict(args, state='absent'))[0]
    assert result['changes'] == ['deleted'] and stub.tokens['labweb@pve'] == {}


def test_missing_owner(stub):
    result, failed = run(pve_token.main, dict(userid='ghost', token='t1'))
    assert failed and 'ghost@pve does not exist' in result['msg']
    result, failed = run(pve_token.main, dict(userid='ghost', token='t1', state='absent'))
    assert not failed and not result['changed']
    result, failed = run(pve_token.main, dict(userid='ghost', token='t1'), check=True)
    assert not failed and result['changed']


def test_bad_token_name(stub):
    result, failed = run(pve_token.main, dict(userid='a', token='1bad'))
    assert failed and "token '1bad'" in result['msg'] and stub.calls == []


def make_token(stub, comment='portal'):
    stub.user_call('POST', '/access/users', None, {'userid': 'labweb@pve'})
    stub.token('POST', '', 'labweb@pve', 'portal', {'comment': comment})
    del stub.calls[:]


@pytest.mark.parametrize('check', [True, False])
def test_pve8_cannot_clear_a_token_comment_and_says_so_before_writing(stub, check):
    stub.as_pve8()
    make_token(stub)
    result, failed = run(pve_token.main, dict(userid='labweb', token='portal', comment='', privsep=False),
                         check=check)
    assert failed and result['msg'].startswith('token labweb@pve!portal: Proxmox VE 8.4.21 cannot clear a token '
                                               'comment')
    assert 'nothing was changed' in result['msg'] and stub.writes() == []
    assert stub.tokens['labweb@pve']['portal'] == {'privsep': 1, 'comment': 'portal'}


def test_pve8_sets_another_comment_without_reading_the_version(stub):
    stub.as_pve8()
    make_token(stub)
    result, failed = run(pve_token.main, dict(userid='labweb', token='portal', comment='kiosk'))
    assert not failed and result['changes'] == ['comment'] and stub.version_reads == 0
    assert stub.tokens['labweb@pve']['portal']['comment'] == 'kiosk'


@pytest.mark.parametrize('version, clears', [('9.0.12', False), ('9.0.13', True), ('9.1.19', True),
                                             ('8.4.21', False)])
def test_token_comment_is_cleared_with_delete_from_pve_9_0_13(stub, version, clears):
    stub.release = PveVersion(version, version.rsplit('.', 1)[0], '0' * 16)
    make_token(stub)
    result, failed = run(pve_token.main, dict(userid='labweb', token='portal', comment=''))
    assert failed != clears
    if clears:
        assert stub.writes() == [('PUT', '/access/users/labweb@pve/token/portal', {'delete': 'comment'})]
        assert 'comment' not in stub.tokens['labweb@pve']['portal']
    else:
        assert 'Proxmox VE {0} cannot clear'.format(version) in result['msg'] and stub.writes() == []
