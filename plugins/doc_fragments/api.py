# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # The connection options, exactly as module_utils/_client.py connection_argument_spec() has them.
    DOCUMENTATION = r'''
options:
  api_host:
    description:
      - Host name or IP address of a PVE node (any node of the cluster answers for all of it).
      - If not set, the value of the E(PROXMOX_HOST) environment variable is used.
    type: str
    required: true
  api_port:
    description:
      - Port of the PVE API.
      - If not set, the value of the E(PROXMOX_PORT) environment variable is used, else V(8006).
    type: int
  api_user:
    description:
      - User to log in as, with its realm, for example V(root@pam) or V(automation@pve).
      - With an API token, the token's owner.
      - If not set, the value of the E(PROXMOX_USER) environment variable is used.
    type: str
  api_password:
    description:
      - Password of O(api_user) (a ticket login).
      - If not set, the value of the E(PROXMOX_PASSWORD) environment variable is used.
      - One of O(api_password) and O(api_token_secret) is required.
    type: str
  api_token_id:
    description:
      - API token name (V(ansible)), or the full token id (V(automation@pve!ansible)), in which case
        O(api_user) is not needed.
      - If not set, the value of the E(PROXMOX_TOKEN_ID) environment variable is used.
    type: str
  api_token_secret:
    description:
      - Secret of the API token O(api_token_id).
      - If not set, the value of the E(PROXMOX_TOKEN_SECRET) environment variable is used.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the PVE API.
      - Keep it on; give the cluster's CA with O(ca_path) when it is not in the system's trust store.
      - If not set, the value of the E(PROXMOX_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the PVE API certificate (on a PVE node, C(/etc/pve/pve-root-ca.pem)).
      - If not set, the value of the E(PROXMOX_CA_PATH) environment variable is used.
    type: path
  api_timeout:
    description:
      - Seconds to wait for one API answer.
    type: int
    default: 30
requirements:
  - proxmoxer >= 2.0
  - requests
notes:
  - All modules of this collection are in the action group C(pvelab.proxmox.pve), so the connection can be
    set once with C(module_defaults) (see the examples in the README).
'''

    ATTRIBUTES = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  action_group:
    description: Use C(group/pvelab.proxmox.pve) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - pvelab.proxmox.pve
'''

    INFO_MODULE = r'''
attributes:
  check_mode:
    description: This action does not modify state.
    support: full
    details: It only reads from the PVE API.
  diff_mode:
    description: This action does not modify state.
    support: N/A
  action_group:
    description: Use C(group/pvelab.proxmox.pve) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - pvelab.proxmox.pve
'''
