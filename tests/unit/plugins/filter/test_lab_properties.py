# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based tests (hypothesis) of the lab plan: whatever the class list, two students never get one VM."""

from __future__ import annotations

import re

import pytest

hypothesis = pytest.importorskip('hypothesis')

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.pvelab.proxmox.plugins.filter.lab import lab_plan  # noqa: E402
from ansible_collections.pvelab.proxmox.plugins.module_utils._validate import validate_vm_name  # noqa: E402

CHECKED = settings(deadline=None, max_examples=150)


USERNAME = st.from_regex(r'\A[a-z0-9._\-]{1,8}\Z')


@CHECKED
@given(st.lists(USERNAME, min_size=1, max_size=12))
def test_lab_plan_never_maps_two_students_to_one_vm(usernames):
    students = [{'username': u} for u in usernames]
    try:
        plan = lab_plan(students, 'lab1')
    except AnsibleFilterError as exc:
        assert re.match(r'^lab_students\[\d+\]: ', str(exc)), str(exc)
        return
    names = [s['vm_name'] for s in plan]
    assert len(names) == len(set(names)) == len(usernames)
    for name in names:
        validate_vm_name(name)


def test_lab_plan_refuses_students_whose_vm_names_collide():
    with pytest.raises(AnsibleFilterError, match=r"lab_students\[1\]: VM name 'lab1-a-b'"):
        lab_plan([{'username': 'a_b'}, {'username': 'a-b'}], 'lab1')
