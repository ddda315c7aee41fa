"""What the filter plugins import. Ansible imports them anew in the worker process of every task that uses one (a
lab run has dozens), so they import no HTTP client (requests alone costs about 40 ms a task) and none of the
module-side engine (_guests, _bulk, _tasks), which the collection loader would compile from source each time."""

import json
import subprocess
import sys

HEAVY = ('requests', 'proxmoxer', 'urllib3',
         'ansible_collections.pvelab.proxmox.plugins.module_utils._guests',
         'ansible_collections.pvelab.proxmox.plugins.module_utils._tasks')

CODE = '''
import json, sys
import ansible_collections.pvelab.proxmox.plugins.filter.lab
import ansible_collections.pvelab.proxmox.plugins.filter.grade
import ansible_collections.pvelab.proxmox.plugins.filter.topology
print(json.dumps(sorted(sys.modules)))
'''


def imported_by_the_filters():
    answer = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True, check=True,
                            env={'PYTHONPATH': ':'.join(p for p in sys.path if p)})
    return set(json.loads(answer.stdout))


def test_the_filters_import_no_http_client_and_no_module_engine():
    loaded = imported_by_the_filters()
    assert 'ansible_collections.pvelab.proxmox.plugins.filter.topology' in loaded
    assert sorted(loaded & set(HEAVY)) == []


def test_the_client_imports_proxmoxer_at_its_first_connection():
    from ansible_collections.pvelab.proxmox.plugins.module_utils import _client
    assert _client.missing_proxmoxer() is None
    assert 'proxmoxer' in sys.modules and _client._http().ResourceException.__module__ == 'proxmoxer.core'
