"""ansible-doc renders every module and plugin of the collection, with complete docs and without a warning.

Each module and plugin file is documented (DOCUMENTATION, EXAMPLES, and RETURN for modules), every option and
return value has a description and a type, modules are in the action group their docs name, and both the JSON
and the text rendering run without a warning or an error on stderr.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from helpers import REPO, collections_path

COLLECTION = 'pvelab.proxmox'
# plugin type -> directory; filter and test plugins hold several plugins per file and are listed by ansible-doc.
FILE_TYPES = {'module': 'modules', 'inventory': 'inventory', 'lookup': 'lookup', 'callback': 'callback',
              'connection': 'connection', 'become': 'become', 'cache': 'cache', 'vars': 'vars'}
MULTI_TYPES = {'filter': 'filter', 'test': 'test'}


def file_plugins():
    out = []
    for ptype, directory in sorted(FILE_TYPES.items()):
        for path in sorted((REPO / 'plugins' / directory).glob('*.py')):
            if not path.name.startswith('_'):
                out.append((ptype, '{0}.{1}'.format(COLLECTION, path.stem)))
    return out


def ansible_doc(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_DEPRECATION_WARNINGS='true', COLUMNS='100')
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-doc')] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def complaints(proc):
    """Warnings, errors and deprecations ansible-doc printed, and a non-zero exit status."""
    found = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode != 0:
        found.insert(0, 'exit status {0}'.format(proc.returncode))
    return found


@pytest.fixture(scope='module')
def rendered():
    """{type: (json run, text run)}: ansible-doc on all file plugins of a type at once (it takes a list)."""
    by_type = {}
    for ptype, name in file_plugins():
        by_type.setdefault(ptype, []).append(name)

    def both(item):
        ptype, names = item
        return ptype, (ansible_doc('-t', ptype, '--json', *names), ansible_doc('-t', ptype, *names))
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(both, sorted(by_type.items())))


def complaints_about(proc, name, names):
    """The complaints that name this plugin, and those that name none of them (they count for every one)."""
    out = []
    for line in complaints(proc):
        mentioned = [n for n in names if n in line]
        if name in mentioned or not mentioned:
            out.append(line)
    return out


def check_options(options, where, problems, typed=True):
    for name, spec in (options or {}).items():
        if not spec.get('description'):
            problems.append('{0}: option {1} has no description'.format(where, name))
        # Plugins may inherit core fragments with untyped (str) options, e.g. inventory_cache's cache_prefix.
        if typed and not spec.get('type') and not spec.get('suboptions'):
            problems.append('{0}: option {1} has no type'.format(where, name))
        check_options(spec.get('suboptions'), '{0}.{1}'.format(where, name), problems, typed)


def check_returns(returns, where, problems, top=True):
    for name, spec in (returns or {}).items():
        for key in ('description', 'type') + (('returned',) if top else ()):
            if spec.get(key) in (None, '', []):
                problems.append('{0}: return value {1} has no {2}'.format(where, name, key))
        check_returns(spec.get('contains'), '{0}.{1}'.format(where, name), problems, top=False)


@pytest.mark.parametrize('plugin', file_plugins(), ids=lambda p: '{0}:{1}'.format(*p))
def test_docs_render_complete_and_without_warnings(plugin, rendered):
    ptype, name = plugin
    as_json, as_text = rendered[ptype]
    names = [n for t, n in file_plugins() if t == ptype]
    for proc in (as_json, as_text):
        found = complaints_about(proc, name, names)
        assert not found, '\n'.join(found)
    data = json.loads(as_json.stdout)[name]
    doc = data.get('doc') or {}
    problems = []
    for key in ('short_description', 'description', 'author', 'version_added'):
        if not doc.get(key):
            problems.append('{0}: DOCUMENTATION has no {1}'.format(name, key))
    check_options(doc.get('options'), name, problems, typed=ptype == 'module')
    examples = data.get('examples') or ''
    if not examples.strip():
        problems.append('{0}: no EXAMPLES'.format(name))
    else:
        try:
            list(yaml.safe_load_all(examples))
        except yaml.YAMLError as exc:
            problems.append('{0}: EXAMPLES is not YAML: {1}'.format(name, exc))
    if ptype == 'module':
        if not data.get('return'):
            problems.append('{0}: no RETURN'.format(name))
        check_returns(data.get('return'), name, problems)
        membership = (((doc.get('attributes') or {}).get('action_group') or {}).get('membership') or [])
        # A module done by an action plugin on the controller (lab_files) talks to no PVE: not in the group.
        controller_only = (REPO / 'plugins' / 'action' / (name.split('.')[-1] + '.py')).exists()
        if '{0}.pve'.format(COLLECTION) not in membership and not controller_only:
            problems.append('{0}: the docs do not name the action group {1}.pve'.format(name, COLLECTION))
        if controller_only and membership:
            problems.append('{0}: works on the controller, yet its docs name an action group'.format(name))
    if name not in as_text.stdout:
        problems.append('{0}: not in the text rendering'.format(name))
    assert not problems, '\n'.join(problems)


def test_every_module_is_listed_and_documented():
    proc = ansible_doc('-t', 'module', '--list', '--json', COLLECTION)
    assert not complaints(proc), '\n'.join(complaints(proc))
    listed = json.loads(proc.stdout)
    expected = set(name for ptype, name in file_plugins() if ptype == 'module')
    assert set(listed) == expected
    assert not [name for name, text in listed.items() if 'UNDOCUMENTED' in str(text)]


@pytest.mark.parametrize('ptype', sorted(MULTI_TYPES))
def test_filter_and_test_plugins_documented(ptype):
    if not list((REPO / 'plugins' / MULTI_TYPES[ptype]).glob('*.py')):
        pytest.skip('the collection has no {0} plugins'.format(ptype))
    listing = ansible_doc('-t', ptype, '--list', '--json', COLLECTION)
    assert not complaints(listing), '\n'.join(complaints(listing))
    listed = json.loads(listing.stdout)
    names = sorted(listed)
    assert names
    undocumented = [n for n in names if 'UNDOCUMENTED' in str(listed[n])]
    assert not undocumented, '{0} plugins without documentation: {1}'.format(ptype, ', '.join(undocumented))
    proc = ansible_doc('-t', ptype, *names)
    assert not complaints(proc), '\n'.join(complaints(proc))


def test_repo_layout_assumption():
    # The docs are read from the tree ANSIBLE_COLLECTIONS_PATH points at: it must be this checkout (or a copy).
    path = Path(collections_path()) / 'ansible_collections' / 'pvelab' / 'proxmox' / 'galaxy.yml'
    assert path.is_file()
