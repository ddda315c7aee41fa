"""Running a module's main() in-process: run_main() calls it with patched module args and returns (result,
failed); catch_exits() makes exit_json/fail_json raise Exit instead of leaving the process."""

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class Exit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get('msg', ''))
        self.result = result
        self.failed = failed


def catch_exits(monkeypatch):
    def exit_json(self, **kwargs):
        raise Exit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs['msg'] = msg
        raise Exit(kwargs, True)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)


def run_main(main, args, connection, check=False, diff=False):
    """Run a module's main() with the connection and args; returns (result, failed)."""
    full = dict(connection)
    full.update(args)
    full['_ansible_check_mode'] = check
    full['_ansible_diff'] = diff
    with patch_module_args(full):
        try:
            main()
        except Exit as exc:
            return exc.result, exc.failed
    raise AssertionError('the module neither exited nor failed')
