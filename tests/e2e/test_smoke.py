"""The e2e plumbing itself: a real ansible-playbook run against the fake, results read back."""

from e2e.helpers import run_playbook


def test_node_info_through_ansible_playbook(pve_cluster, tmp_path):
    result = run_playbook(pve_cluster, tasks=[{'name': 'nodes', 'pvelab.proxmox.pve_node_info': {}}],
                          tmp_path=tmp_path)
    assert result.rc == 0, result
    nodes = result.task('nodes')['nodes']
    assert [n['node'] for n in nodes] == sorted(n['node'] for n in nodes)
    assert all(n['maxmem'] > 0 for n in nodes)
    assert result.changed == 0


def test_wrong_password_fails_clearly_without_echoing_it(pve_cluster, tmp_path):
    task = {'name': 'nodes', 'pvelab.proxmox.pve_node_info': {'api_password': 'not-the-password-42'}}
    result = run_playbook(pve_cluster, tasks=[task], tmp_path=tmp_path)
    assert result.rc != 0
    assert 'authentication failure' in result.task('nodes')['msg']
    assert 'not-the-password-42' not in result.stdout
