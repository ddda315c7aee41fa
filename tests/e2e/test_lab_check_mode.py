"""lab_up with --check (a dry run of the whole role): on a fresh cluster it reads what it needs, reports what it
would make, writes nothing and leaves no file behind; on the lab it then made it reports nothing to change. A
lab_template lab and a topology lab."""

import pytest

from e2e.helpers import api_writes, lab_connection_vars, run_playbook

pytestmark = pytest.mark.cluster('demo.json', time_scale=0)

STUDENTS = [{'username': 'ann'}, {'username': 'ben'}]
LABS = {
    'template': {'lab_template': 'tmpl-debian'},
    'topology': {'lab_machines': [
        {'name': 'router', 'template': 'tmpl-debian', 'nets': ['uplink', 'private'], 'memory': 1024},
        {'name': 'client', 'template': 'tmpl-debian', 'nets': ['private'], 'memory': 512}],
        'lab_sdn_zone': 'labc', 'lab_sdn_zone_type': 'simple'},
}


@pytest.mark.parametrize('kind', sorted(LABS))
def test_lab_up_in_check_mode_writes_nothing(pve_cluster, tmp_path, kind):
    pve = pve_cluster.pve
    before_state = pve.lab_state()
    since = len(pve.request_log())
    extra = lab_connection_vars(pve_cluster)
    extra.update({'lab_name': 'dry', 'lab_teacher_sources': ['192.0.2.10/32'], 'lab_students': STUDENTS,
                  'lab_roster_path': str(tmp_path / 'dry-roster.csv'), 'lab_firewall_compile_wait': 0.2})
    extra.update(LABS[kind])
    run = run_playbook(pve_cluster, playbook='pvelab.proxmox.lab_up', extra_vars=extra, check=True,
                       tmp_path=tmp_path)
    assert run.rc == 0, run
    assert run.task('VMs of the students, cloned from the template')['changed']
    assert api_writes(pve_cluster, since) == []
    after_state = pve.lab_state()
    for key in ('vms', 'users', 'pools', 'acl', 'roles'):
        assert after_state[key] == before_state[key], key
    assert run.changed > 0, run                    # what it would do is reported as changed
    assert not (tmp_path / 'dry-roster.csv').exists() and not (tmp_path / 'dry-roster.csv.secrets').exists()

    up = run_playbook(pve_cluster, playbook='pvelab.proxmox.lab_up', extra_vars=extra, tmp_path=tmp_path)
    assert up.rc == 0 and up.changed > 0, up
    since = len(pve.request_log())
    again = run_playbook(pve_cluster, playbook='pvelab.proxmox.lab_up', extra_vars=extra, check=True,
                         tmp_path=tmp_path)
    assert again.rc == 0 and again.changed == 0, again
    assert api_writes(pve_cluster, since) == []
