"""PveModuleBase: a module's option checks run before the first request, and execute gets their results by name."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module


def even(value, field):
    if int(value) % 2:
        raise ValueError('{0} {1!r} is odd'.format(field, value))
    return int(value) // 2


class Halves(PveModuleBase):
    option_checks = (('size', even), ('extra', even))
    seen = []

    def execute(self, size, extra):
        Halves.seen.append((size, extra, self.params['size']))
        self.result['half'] = size


def run(capsys, **options):
    Halves.seen = []
    args = dict(options, api_host='127.0.0.1', api_user='root@pam', api_password='secret-word')
    with patch_module_args(args):
        module = pve_module(dict(size=dict(type='str', required=True), extra=dict(type='int')))
        with pytest.raises(SystemExit):
            Halves(module).run()
    return json.loads(capsys.readouterr().out)


def test_execute_gets_each_checked_option_by_name_and_none_for_one_not_set(capsys):
    out = run(capsys, size='8')
    assert out['half'] == 4 and not out['changed']
    assert Halves.seen == [(4, None, '8')]


def test_a_refused_option_fails_the_run_naming_it_before_execute(capsys):
    out = run(capsys, size='8', extra=3)
    assert out['failed'] and out['msg'] == 'extra 3 is odd'
    assert Halves.seen == []
    assert 'secret-word' not in json.dumps(out)
