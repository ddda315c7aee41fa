"""pve_token against the fake PVE's /access API (LabPve, access_fake.py): the secret only on creation."""

import pytest

from ansible_collections.pvelab.proxmox.plugins.modules import pve_token
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.access_fake import access, tokens  # noqa: F401 pylint: disable=unused-import


def test_create_secret_once_update_delete(access):
    access.pve.add_user('labweb@pve')
    args = dict(userid='labweb', token='portal', comment='portal')
    result, failed = access.run(pve_token.main, args, check=True)
    assert not failed and result['changed'] and 'secret' not in result['token'] and access.writes() == []
    result = access.run(pve_token.main, args, diff=True)[0]
    assert result['token']['secret'] == access.pve.apitokens['labweb@pve!portal']  # the secret PVE made
    assert result['token']['full_tokenid'] == 'labweb@pve!portal' and result['token']['privsep'] is True
    assert 'secret' not in result['diff']['after']
    reads = access.version_reads()
    result = access.run(pve_token.main, args)[0]
    assert not result['changed'] and 'secret' not in result['token'] and access.version_reads() == reads
    # Every write reads GET /version first (PveClient's release check), so check mode shows what the module needs.
    result = access.run(pve_token.main, dict(args, privsep=False, expire='2030-01-01'), check=True)[0]
    assert result['changes'] == ['expire', 'privsep'] and access.version_reads() == reads
    result = access.run(pve_token.main, dict(args, privsep=False, expire='2030-01-01'))[0]
    assert result['changes'] == ['expire', 'privsep'] and 'secret' not in result['token']
    assert tokens(access, 'labweb@pve')['portal'] == {'privsep': 0, 'expire': 1893456000, 'comment': 'portal'}
    reads = access.version_reads()
    result = access.run(pve_token.main, dict(args, comment='', privsep=False, expire='2030-01-01'), check=True)[0]
    assert result['changes'] == ['comment'] and access.version_reads() == reads + 1  # clearing needs the version
    result = access.run(pve_token.main, dict(args, comment='', privsep=False, expire='2030-01-01'))[0]
    assert result['changes'] == ['comment'] and 'comment' not in access.calls()[-1].data
    assert access.calls()[-1].data['delete'] == 'comment' and 'comment' not in tokens(access, 'labweb@pve')['portal']
    result = access.run(pve_token.main, dict(args, state='absent'))[0]
    assert result['changes'] == ['deleted'] and tokens(access, 'labweb@pve') == {}


def test_missing_owner(access):
    result, failed = access.run(pve_token.main, dict(userid='ghost', token='t1'))
    assert failed and 'ghost@pve does not exist' in result['msg']
    result, failed = access.run(pve_token.main, dict(userid='ghost', token='t1', state='absent'))
    assert not failed and not result['changed']
    result, failed = access.run(pve_token.main, dict(userid='ghost', token='t1'), check=True)
    assert not failed and result['changed']


def test_bad_token_name(access):
    result, failed = access.run(pve_token.main, dict(userid='a', token='1bad'))
    assert failed and "token '1bad'" in result['msg'] and access.calls() == []


def make_token(access, comment='portal'):
    access.pve.add_user('labweb@pve')
    access.pve.add_token('labweb@pve', 'portal', comment=comment)
    access.forget_requests()


@pytest.mark.parametrize('check', [True, False])
def test_pve8_cannot_clear_a_token_comment_and_says_so_before_writing(access, check):
    access.pve.pve_version = '8.4'
    make_token(access)
    result, failed = access.run(pve_token.main, dict(userid='labweb', token='portal', comment='', privsep=False),
                                check=check)
    assert failed and result['msg'].startswith('token labweb@pve!portal: Proxmox VE 8.4.21 cannot clear a token '
                                               'comment')
    assert 'nothing was changed' in result['msg'] and access.writes() == []
    assert tokens(access, 'labweb@pve')['portal'] == {'privsep': 1, 'comment': 'portal'}


def test_pve8_sets_another_comment_without_reading_the_version(access):
    access.pve.pve_version = '8.4'
    make_token(access)
    # Every write reads GET /version first (PveClient's release check), so check mode shows what the module needs.
    result, failed = access.run(pve_token.main, dict(userid='labweb', token='portal', comment='kiosk'), check=True)
    assert not failed and result['changes'] == ['comment'] and access.version_reads() == 0
    result, failed = access.run(pve_token.main, dict(userid='labweb', token='portal', comment='kiosk'))
    assert not failed and result['changes'] == ['comment']
    assert tokens(access, 'labweb@pve')['portal']['comment'] == 'kiosk'


@pytest.mark.parametrize('version, clears', [('9.0.12', False), ('9.0.13', True), ('9.1.19', True),
                                             ('8.4.21', False)])
def test_token_comment_is_cleared_with_delete_from_pve_9_0_13(access, version, clears):
    if version in ('9.1.19', '8.4.21'):
        access.pve.pve_version = version[:3]  # a release the fake serves
    else:
        access.pve.answer_version(version)    # GET /version says so; the API stays 9.1's
    make_token(access)
    result, failed = access.run(pve_token.main, dict(userid='labweb', token='portal', comment=''))
    assert failed != clears
    if clears:
        assert [(w.method, w.path, w.data) for w in access.writes()] == [
            ('PUT', '/access/users/labweb@pve/token/portal', {'delete': 'comment'})]
        assert 'comment' not in tokens(access, 'labweb@pve')['portal']
    else:
        assert 'Proxmox VE {0} cannot clear'.format(version) in result['msg'] and access.writes() == []
