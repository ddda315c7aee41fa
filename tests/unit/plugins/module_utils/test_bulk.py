"""The bulk engine: one item spec gives the options and the items; the flow validates everything before it reads,
and reports every list-form module the same way."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.pvelab.proxmox.plugins.module_utils import _bulk
from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError

SPEC = _bulk.ItemSpec('things', dict(
    name=dict(type='str'),
    secret=dict(type='str', no_log=True),
    size=dict(type='int', default=1),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
), keys=['name'], per_item=['secret'], top_only=dict(parallel=dict(type='int', default=4)),
    selectors={'names': 'name'})


def test_the_spec_gives_top_level_defaults_and_list_suboptions_without_them():
    spec = SPEC.argument_spec()
    assert spec['size'] == dict(type='int', default=1)
    assert spec['parallel'] == dict(type='int', default=4)
    sub = spec['things']['options']
    assert 'default' not in sub['size'] and 'default' not in sub['state']
    assert sub['name']['required'] is True
    assert sub['secret']['no_log'] is True


def test_items_take_the_top_level_value_where_unset():
    params = dict(name=None, secret=None, size=3, state='present', parallel=4,
                  things=[dict(name='a', secret='s', size=None, state=None),
                          dict(name='b', secret=None, size=7, state='absent')])
    a, b = SPEC.items(params)
    assert (a['size'], a['state'], a['secret'], a.where) == (3, 'present', 's', 'things[0]')
    assert (b['size'], b['state'], b['secret'], b.where) == (7, 'absent', None, 'things[1]')
    single, = SPEC.items(dict(params, name='c', things=None))
    assert single.single and single.where == '' and single['name'] == 'c'


def test_a_selector_lists_keys_that_take_the_top_level_values():
    assert SPEC.argument_spec()['names'] == dict(type='list', elements='str')
    params = dict(name=None, secret=None, size=2, state='absent', parallel=4, things=[dict(name='a', size=5)],
                  names=['b', 'c'])
    items = SPEC.items(params)
    assert [(i['name'], i['size'], i['state'], i.where, i.index) for i in items] == [
        ('a', 5, 'absent', 'things[0]', 0), ('b', 2, 'absent', 'names[0]', 1), ('c', 2, 'absent', 'names[1]', 2)]


def test_a_per_item_option_at_the_top_level_of_the_list_form_is_refused():
    with pytest.raises(ValueError, match='secret applies to one item: give it per item of things'):
        SPEC.items(dict(name=None, secret='x', size=1, state='present', things=[dict(name='a')]))


class Things(_bulk.BulkModule):
    spec = SPEC
    reads = []
    writes = []

    def validate(self, item):
        if item['size'] < 1:
            raise ValueError(item.at('size must be at least 1'))
        item.key = item['name']

    def resolve(self, items):
        Things.reads.append(len(items))
        return [i.at('no such thing') for i in items if i['name'] == 'missing']

    def plan(self, items):
        for item in items:
            item.view = dict(size=item['size'])
            if item['name'] != 'same':
                item.action = 'set'
                item.changes = ['size']
                item.before, item.after = {'size': 0}, {'size': item['size']}

    def apply_item(self, item):
        Things.writes.append(item.key)
        if item['name'] == 'broken':
            raise PveError('PVE said no')


def run(args, capsys, check=False):
    Things.reads, Things.writes = [], []
    args = dict(args, api_host='127.0.0.1', api_user='root@pam', api_password='not-in-any-message')
    if check:
        args['_ansible_check_mode'] = True
    args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            Things.main()
    return json.loads(capsys.readouterr().out)


def test_the_single_form_and_the_many_forms_exclude_each_other(capsys):
    out = run(dict(name='a', names=['b']), capsys)
    assert out['failed'] and 'mutually exclusive' in out['msg']


def test_every_bad_item_is_named_before_anything_is_read(capsys):
    out = run(dict(things=[dict(name='a', size=0), dict(name='b'), dict(name='b'), dict(name='c', size=-1)]), capsys)
    assert out['failed']
    assert 'things[0]: size must be at least 1' in out['msg'] and 'things[3]: size must be at least 1' in out['msg']
    assert Things.reads == [] and Things.writes == []


def test_duplicate_keys_are_refused(capsys):
    out = run(dict(things=[dict(name='a'), dict(name='b'), dict(name='a')]), capsys)
    assert out['msg'] == 'nothing was changed: things[2]: a is also given as things[0]'
    out = run(dict(things=[dict(name='a')], names=['a']), capsys)
    assert out['msg'] == 'nothing was changed: names[0]: a is also given as things[0]'
    assert Things.reads == []


def test_an_unresolved_item_stops_the_run_before_any_write(capsys):
    out = run(dict(things=[dict(name='a'), dict(name='missing')]), capsys)
    assert out['msg'] == 'nothing was changed: things[1]: no such thing'
    assert Things.reads == [2] and Things.writes == []


def test_one_result_shape_and_a_diff_keyed_by_item(capsys):
    out = run(dict(size=2, things=[dict(name='a'), dict(name='same'), dict(name='b', size=5)]), capsys)
    assert out['changed'] is True
    assert out['items'] == [dict(key='a', changed=True, size=2), dict(key='same', changed=False, size=2),
                            dict(key='b', changed=True, size=5)]
    assert out['diff'] == {'before': {'a': {'size': 0}, 'b': {'size': 0}}, 'after': {'a': {'size': 2}, 'b': {'size': 5}}}
    assert sorted(Things.writes) == ['a', 'b']


def test_check_mode_plans_and_writes_nothing(capsys):
    out = run(dict(things=[dict(name='a')]), capsys, check=True)
    assert out['changed'] is True and out['items'][0]['changed'] is True
    assert Things.writes == []


def test_a_failed_write_is_reported_on_its_item_and_the_others_go_on(capsys):
    out = run(dict(things=[dict(name='a'), dict(name='broken'), dict(name='b')]), capsys)
    assert out['failed'] and out['msg'] == '1 of 3 items failed: PVE said no'
    assert out['items'][1] == dict(key='broken', changed=False, size=1, msg='PVE said no')
    assert [i['changed'] for i in out['items']] == [True, False, True]
    assert sorted(Things.writes) == ['a', 'b', 'broken']


def test_parallel_map_keeps_the_order_and_the_errors():
    def fn(n):
        if n == 3:
            raise PveError('three')
        return n * n
    out = _bulk.parallel_map(fn, range(6), parallel=3)
    assert [(i, r) for i, r, _e in out] == [(0, 0), (1, 1), (2, 4), (3, None), (4, 16), (5, 25)]
    assert str(out[3][2]) == 'three'
