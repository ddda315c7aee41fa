"""pve_pool against the fake PVE (LabPve, guest_fake.py): create, idempotency, comment, removal of an empty and
a non-empty pool."""

from ansible_collections.pvelab.proxmox.plugins.modules import pve_pool
from ansible_collections.pvelab.proxmox.tests.unit.plugins.modules.guest_fake import served  # noqa: F401 pylint: disable=unused-import


def pool(served, check=False, diff=False, **args):
    return served.run(pve_pool.main, args, check=check, diff=diff)


def test_create_update_delete(served):
    result, failed = pool(served, name='netadmin', comment='lab', check=True, diff=True)
    assert not failed and result['changed'] and 'netadmin' not in served.pve.pools and served.writes() == []
    assert result['diff'] == {'before': {}, 'after': {'poolid': 'netadmin', 'comment': 'lab'}}
    result, failed = pool(served, name='netadmin', comment='lab')
    assert not failed and result['changed'] and served.pve.pool_info['netadmin']['comment'] == 'lab'
    assert result['pool'] == {'poolid': 'netadmin', 'comment': 'lab', 'vms': [], 'storage': []}
    result, failed = pool(served, name='netadmin', comment='lab')
    assert not failed and not result['changed']
    result, failed = pool(served, name='netadmin')
    assert not failed and not result['changed']
    result, failed = pool(served, poolid='netadmin', comment='lab 2', diff=True)
    assert not failed and result['changed'] and served.pve.pool_info['netadmin']['comment'] == 'lab 2'
    assert result['diff']['before']['comment'] == 'lab' and result['diff']['after']['comment'] == 'lab 2'
    result, failed = pool(served, name='netadmin', state='absent')
    assert not failed and result['changed'] and 'netadmin' not in served.pve.pools and result['pool'] == {}
    result, failed = pool(served, name='netadmin', state='absent')
    assert not failed and not result['changed']


def test_non_empty_pool(served):
    served.pve._pool_join('lab', 101)
    served.pve._pool_join('lab', 100)
    result, failed = pool(served, name='lab', state='absent')
    assert failed and 'guests 100, 101' in result['msg'] and 'force=true' in result['msg']
    result, failed = pool(served, name='lab', state='absent', force=True, check=True)
    assert not failed and result['changed'] and 'lab' in served.pve.pools
    result, failed = pool(served, name='lab', state='absent', force=True)
    assert not failed and result['changed'] and 'lab' not in served.pve.pools
    assert served.vm_named('web01') is not None and served.vm_named('web01').pool is None


def test_bad_name(served):
    result, failed = pool(served, name='bad pool')
    assert failed and "'bad pool'" in result['msg'] and served.writes() == []


def test_empty_comment_clears_it_and_a_rerun_changes_nothing(served):
    assert not pool(served, name='netadmin', comment='lab')[1]
    result, failed = pool(served, name='netadmin', comment='', diff=True)
    assert not failed and result['changed'] and not served.pve.pool_info['netadmin']['comment']
    assert result['diff']['before']['comment'] == 'lab' and result['diff']['after']['comment'] == ''
    writes = served.writes()
    result, failed = pool(served, name='netadmin', comment='')
    assert not failed and not result['changed'] and served.writes() == writes


def test_a_new_pool_needs_a_letter_first_but_an_old_one_is_managed(served):
    result, failed = pool(served, name='1lab', comment='x')
    assert failed and "'1lab'" in result['msg'] and 'letter first' in result['msg'] and served.writes() == []
    served.pve._pool_join('2old', 101)  # made before PVE 9 asked for a letter first
    result, failed = pool(served, name='2old', comment='kept')
    assert not failed and result['changed'] and served.pve.pool_info['2old']['comment'] == 'kept'
