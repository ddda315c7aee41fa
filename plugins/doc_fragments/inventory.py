# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # The connection options of plugins that run on the controller (the inventory plugin): the same names,
    # defaults and environment variables as the modules' (doc_fragments/api.py, _client.connection_argument_spec).
    DOCUMENTATION = r'''
options:
  api_host:
    description:
      - Host name or IP address of a PVE node (any node of the cluster answers for all of it).
      - Required, here or in E(PROXMOX_HOST).
      - May be a template, for example a lookup.
    type: str
    env:
      - name: PROXMOX_HOST
  api_port:
    description:
      - Port of the PVE API.
      - When neither this nor E(PROXMOX_PORT) is set, V(8006).
    type: int
    env:
      - name: PROXMOX_PORT
  api_user:
    description:
      - User to log in as, with its realm, for example V(root@pam) or V(automation@pve).
      - With an API token, the token's owner.
    type: str
    env:
      - name: PROXMOX_USER
  api_password:
    description:
      - Password of O(api_user) (a ticket login).
      - One of O(api_password) and O(api_token_secret) is required.
      - May be a template or a vaulted value.
    type: str
    env:
      - name: PROXMOX_PASSWORD
  api_token_id:
    description:
      - API token name (V(ansible)), or the full token id (V(automation@pve!ansible)), in which case
        O(api_user) is not needed.
    type: str
    env:
      - name: PROXMOX_TOKEN_ID
  api_token_secret:
    description:
      - Secret of the API token O(api_token_id).
      - May be a template or a vaulted value.
    type: str
    env:
      - name: PROXMOX_TOKEN_SECRET
  validate_certs:
    description:
      - Verify the TLS certificate of the PVE API.
      - Keep it on; give the cluster's CA with O(ca_path) when it is not in the system's trust store.
    type: bool
    default: true
    env:
      - name: PROXMOX_VALIDATE_CERTS
  ca_path:
    description:
      - PEM file of the CA that signed the PVE API certificate (on a PVE node, C(/etc/pve/pve-root-ca.pem)).
    type: path
    env:
      - name: PROXMOX_CA_PATH
  api_timeout:
    description:
      - Seconds to wait for one API answer.
    type: int
    default: 30
requirements:
  - proxmoxer >= 2.0
  - requests
'''
