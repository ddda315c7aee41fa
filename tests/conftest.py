"""Shared fixtures: a fake PVE cluster (fakecluster.LabPve) served on loopback for each test.

    def test_something(pve_cluster, pve_api):          # clusters/small.json, logged in as root@pam
        ...

    @pytest.mark.cluster('demo.json', time_scale=0.01, clone_secs=30)
    def test_other(pve_cluster): ...

    @pytest.mark.parametrize('pve_cluster', ['demo.json'], indirect=True)
    def test_third(pve_cluster): ...

`pve_cluster` is a fakecluster.Cluster: .pve (the LabPve, for its knobs), .url, .host, .port, .ca_path, .user,
.password, .info, .control_url, .count_requests(method, path_contains), .api(user, password | token, secret).
fakecluster (and so fakepve) is imported only when a fixture is used, so test runs without them still load this.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # makes `fakecluster` importable


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'cluster(description, **settings): the description (a name in tests/fakecluster/clusters/, a '
                   'path or a dict) and settings (time_scale, clone_secs, ...) of the pve_cluster fixture')


@pytest.fixture
def pve_cluster(request):
    """A started fake cluster for one test (default: clusters/small.json, time_scale 0)."""
    from fakecluster import serving
    marker = request.node.get_closest_marker('cluster')
    description = getattr(request, 'param', None)
    settings = {}
    if marker is not None:
        description = description or (marker.args[0] if marker.args else None)
        settings = dict(marker.kwargs)
    with serving(description or 'small.json', **settings) as cluster:
        yield cluster


@pytest.fixture
def pve_api(pve_cluster):
    """proxmoxer's ProxmoxAPI logged in to pve_cluster as root@pam, verifying with the fake's CA."""
    return pve_cluster.api()


_DURATIONS = {}


def pytest_runtest_logreport(report):
    """With PVELAB_E2E_DURATIONS set: each test's seconds (setup, call and teardown), which scripts/e2e-shards.py
    balances the e2e shards by (tests/e2e/durations.json)."""
    if os.environ.get('PVELAB_E2E_DURATIONS'):
        _DURATIONS[report.nodeid] = round(_DURATIONS.get(report.nodeid, 0.0) + report.duration, 2)


def pytest_sessionfinish(session):
    path = os.environ.get('PVELAB_E2E_DURATIONS')
    if path and _DURATIONS:
        import json
        with open(path, 'w') as out:
            json.dump(_DURATIONS, out, indent=0, sort_keys=True)
