"""A fake Proxmox VE cluster for the collection's tests: fakepve 0.5.0, extended where it does not tell the truth.

    LabPve               the extended FakePve (access control, node memory, guest agent, task durations, /_fake)
    build(description)   a LabPve (not started) from a JSON description (describe.py)
    serving(description) a context manager serving one on loopback; yields a Cluster (serving.py)
    python -m fakecluster serve <description.json>   the same for ansible-playbook runs (__main__.py)

Test-only code: never shipped in the built collection. fakepve is AGPL-3.0 and used as a dependency only.
"""

from .cluster import LabPve
from .describe import CLUSTERS, build, load
from .privileges import BUILTIN_ROLES, PRIVILEGES
from .serving import Cluster, serving

__all__ = ['BUILTIN_ROLES', 'CLUSTERS', 'PRIVILEGES', 'Cluster', 'LabPve', 'build', 'load', 'serving']
