"""The fake PVE of the SDN modules' unit tests: LabPve as it starts (tests/unit/plugins/fake_pve.py), whose SDN
configuration (tests/fakecluster/sdn.py) keeps a written and a running copy as pve-network does. Tests read what
got written from `sdn.pve.sdn` and what is applied from `sdn.pve.sdn_running`."""

import pytest

from ansible_collections.pvelab.proxmox.tests.unit.plugins.fake_pve import new_pve, serve
from ansible_collections.pvelab.proxmox.tests.unit.plugins.module_runner import catch_exits


@pytest.fixture
def sdn(tmp_path_factory, monkeypatch):
    catch_exits(monkeypatch)
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    yield from serve(new_pve(), tmp_path_factory)
