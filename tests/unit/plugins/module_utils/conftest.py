"""The fake PVE of the client, task and guest tests: LabPve served in-process (tests/unit/plugins/fake_pve.py),
one node pve1 and nothing on it until a test adds it."""

import pytest

from ansible_collections.pvelab.proxmox.tests.unit.plugins.fake_pve import new_pve, serve


@pytest.fixture
def fake(tmp_path_factory, monkeypatch):
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    yield from serve(new_pve(), tmp_path_factory)
