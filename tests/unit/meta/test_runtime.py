"""meta/runtime.yml's action group lists every module, and nothing that is not one.

module_defaults: group/pvelab.proxmox.pve sets credentials once for a whole play; a module missing
from the group would silently run without them.
"""

import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def modules():
    """Modules that talk to PVE: every module except those done by an action plugin on the controller."""
    names = set()
    for entry in os.listdir(os.path.join(ROOT, 'plugins', 'modules')):
        if entry.endswith('.py') and entry != '__init__.py':
            names.add(entry[:-3])
    return names - controller_only()


def controller_only():
    folder = os.path.join(ROOT, 'plugins', 'action')
    return set(entry[:-3] for entry in os.listdir(folder) if entry.endswith('.py')) if os.path.isdir(folder) else set()


def test_controller_only_modules_take_no_connection_options():
    # lab_files writes local files; in the group, module_defaults would hand it api_host & co.
    for name in controller_only():
        with open(os.path.join(ROOT, 'plugins', 'modules', name + '.py')) as fh:
            text = fh.read()
        assert 'pvelab.proxmox.api' not in text, name
        assert 'def main' not in text, name + ': the action plugin does the work'


def test_every_module_is_in_the_pve_action_group():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as fh:
        runtime = yaml.safe_load(fh)
    group = set(runtime['action_groups']['pve'])
    assert sorted(modules() - group) == [], 'modules missing from action_groups.pve'
    assert sorted(group - modules()) == [], 'action_groups.pve lists modules that do not exist'


def test_requires_ansible():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as fh:
        assert yaml.safe_load(fh)['requires_ansible'] == '>=2.16.0'
