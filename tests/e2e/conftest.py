"""Fixtures of the end-to-end tests (tests/conftest.py has the fake cluster's)."""

import pytest


@pytest.fixture(params=['9.1', '8.4'])
def pve_release(request, pve_cluster):
    """The PVE release the fake serves for this test (fakecluster/versions.py): a test module that uses it runs
    every test on both supported releases."""
    pve_cluster.pve.pve_version = request.param
    return request.param
