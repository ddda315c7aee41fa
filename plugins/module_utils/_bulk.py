# -*- coding: utf-8 -*-
# Copyright (c) pvelab.proxmox contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to pvelab.proxmox: the bulk engine of the list-form modules.

pve_user, pve_vm, pve_clone, pve_snapshot and pve_permission are told about a whole class at once. Each
describes its item once, as an ItemSpec: every item option with its top-level default. The spec gives both
the module's options (the top-level ones are the defaults of every item, and the single form of the module)
and the suboptions of the list. BulkModule carries the one flow they share:

  1. items()      the list (or the single form as one item), top-level values filled in;
  2. validate()   every item checked before anything is read: all the errors at once, nothing written;
  3. resolve()    every item found in one read of the cluster; an unknown or ambiguous object fails the run
                  before the first write;
  4. plan()       what each item needs (Item.action, Item.changes);
  5. apply()      the writes, in one worker pool (parallel_map; PVE tasks through _guests.run_tasks);
  6. report       one result shape for every list-form module: `items`, one entry per item in the order asked
                  ({key, changed, msg?, ...what the module adds: vmid, node, ...}), and a diff keyed by item.

A module keeps only what is its own: its fields, its checks, its plan and its writes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.pvelab.proxmox.plugins.module_utils._client import PveError
from ansible_collections.pvelab.proxmox.plugins.module_utils._module import PveModuleBase, pve_module

# How many requests (or PVE tasks) a module has in flight at once unless its `parallel` option says otherwise.
WORKERS = 8


def parallel_map(fn, items, parallel=WORKERS):
    """[(item, result, PveError or None)] in input order; fn(item) runs in up to `parallel` threads. The one worker
    pool of the collection: every module that does the same thing to many objects goes through it."""
    items = list(items)
    if not items:
        return []

    def call(item):
        try:
            return fn(item), None
        except PveError as exc:
            return None, exc
    if parallel <= 1 or len(items) == 1:
        return [(item,) + call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(parallel, len(items))) as pool:
        return [(item, result, error) for item, (result, error) in zip(items, pool.map(call, items))]


class ItemSpec(object):
    """What one item of a list-form module is.

    list_name: the list option (`users`); fields: {option: argument spec with its top-level default}; keys: the
    options that name an item, any one of them enough (`userid`; `vmid`, `name`); per_item: options only an item
    carries in the list form (a password is one account's); top_only: module options that are not item fields
    (`parallel`, `timeout`), given as {option: argument spec}; selectors: {option: key field}, a plain list of
    keys (`vmids: [2001, 2002]`, `userids: [...]`), each one an item with the top-level values: what a role
    passes on from one module's result to the next module without building dicts.
    """

    def __init__(self, list_name, fields, keys, per_item=(), top_only=None, selectors=None):
        self.list_name = list_name
        self.fields = dict(fields)
        self.keys = tuple(keys)
        self.per_item = tuple(per_item)
        self.top_only = dict(top_only or {})
        self.selectors = dict(selectors or {})
        unknown = [k for k in self.keys + self.per_item + tuple(self.selectors.values()) if k not in self.fields]
        if unknown:
            raise ValueError('ItemSpec {0}: {1} are not fields'.format(list_name, ', '.join(unknown)))

    def suboptions(self):
        """The list's suboptions: the fields without their defaults (an item's unset field takes the top-level
        value), the key required when it is the only one."""
        out = {}
        for name, spec in self.fields.items():
            sub = dict((k, v) for k, v in spec.items() if k not in ('default', 'required'))
            if self.keys == (name,):
                sub['required'] = True
            out[name] = sub
        return out

    def argument_spec(self):
        spec = {}
        for name, field in self.fields.items():
            spec[name] = dict((k, v) for k, v in field.items() if k != 'required')
        spec.update(self.top_only)
        spec[self.list_name] = dict(type='list', elements='dict', options=self.suboptions())
        for option, key in self.selectors.items():
            spec[option] = dict(type='list', elements=self.fields[key]['type'])
        return spec

    def module(self, **kwargs):
        """The AnsibleModule: the single form (a key at the top level) or the many forms (the list, the
        selectors), not both."""
        many = (self.list_name,) + tuple(self.selectors)
        return pve_module(self.argument_spec(),
                          mutually_exclusive=[(key, form) for key in self.keys for form in many],
                          required_one_of=[self.keys + many], **kwargs)

    def items(self, params):
        """The items as asked (the list first, then each selector's), every unset field filled from the top level;
        raises ValueError naming the option."""
        many = [(self.list_name, params.get(self.list_name))]
        many += [(option, [{key: value} for value in params.get(option)]) for option, key in self.selectors.items()
                 if params.get(option) is not None]
        if all(raw is None for _option, raw in many):
            return [Item(0, '', dict((name, params.get(name)) for name in self.fields), single=True)]
        given = [k for k in self.per_item if params.get(k) is not None]
        if given:
            raise ValueError('{0} applies to one item: give it per item of {1}'.format(', '.join(given),
                                                                                       self.list_name))
        items = []
        for option, raw in many:
            for index, entry in enumerate(raw or []):
                values = {}
                for name in self.fields:
                    value = entry.get(name)
                    if value is None and name not in self.keys and name not in self.per_item:
                        value = params.get(name)
                    values[name] = value
                items.append(Item(len(items), '{0}[{1}]'.format(option, index), values))
        return items


class Item(object):
    """One object of the run: what was asked (values), what was found, what it needs and what happened."""

    def __init__(self, index, where, values, single=False):
        self.index = index
        self.where = where
        self.values = values
        self.single = single
        self.key = None          # what names it in `items` and in the diff, set by validate or resolve
        self.entry = None        # the object as read (a /cluster/resources entry, an account, ...)
        self.action = None       # what plan() decided; None: nothing to do
        self.changes = []        # what changed (planned in check mode): the item changed when it is not empty
        self.error = None
        self.view = {}           # what the module reports of it beside key, changed and msg
        self.before = {}
        self.after = {}

    def __getitem__(self, name):
        return self.values[name]

    def get(self, name, default=None):
        value = self.values.get(name)
        return default if value is None else value

    def at(self, text, sep=': '):
        """A message about this item: 'users[2]: ...' in the list form, plain in the single form."""
        return '{0}{1}{2}'.format(self.where, sep, text) if self.where else text

    @property
    def changed(self):
        return bool(self.changes)

    def fail(self, msg):
        """Record why this item failed (the first reason wins); the others go on."""
        if self.error is None:
            self.error = msg

    def result(self):
        out = dict(self.view)
        out.update(key=self.key, changed=self.changed)
        if self.error:
            out['msg'] = self.error
        return out


class BulkModule(PveModuleBase):
    """The flow of a list-form module (the module docstring). Subclasses set `spec` and implement validate,
    resolve, plan and apply_item (or apply, for writes that are PVE tasks or batches)."""

    spec = None
    noun = 'item'       # in the failure summary: '2 of 30 accounts failed'
    nouns = 'items'

    @classmethod
    def main(cls):
        cls(cls.spec.module()).run()

    def execute(self):
        try:
            items = self.spec.items(self.params)
        except ValueError as exc:
            self.fail(str(exc))
        self.items = items
        errors = []
        for item in items:
            try:
                self.validate(item)
            except ValueError as exc:
                errors.append(str(exc))
        errors += self.duplicates(items) if not errors else []
        if errors:
            self.fail('nothing was changed: ' + '; '.join(errors))
        errors = self.resolve(items) or []
        if errors:
            self.fail('nothing was changed: ' + '; '.join(errors))
        self.plan(items)
        todo = [i for i in items if i.action and i.error is None]
        if todo and (not self.check_mode or self.apply_in_check_mode):
            self.apply(todo)
        self.report(items)

    # True for a module whose apply() itself leaves out the writes in check mode (it still reads, to plan).
    apply_in_check_mode = False

    @staticmethod
    def duplicates(items):
        seen, errors = {}, []
        for item in items:
            if item.key is None:
                continue
            if item.key in seen:
                errors.append(item.at('{0} is also given as {1}'.format(item.key, seen[item.key])))
            else:
                seen[item.key] = item.where or 'the item'
        return errors

    # ---------------------------------------------------------- the steps a module fills in

    def validate(self, item):
        """Check one item (raise ValueError with item.at(...)); set item.key when the item alone says it."""

    def resolve(self, items):
        """Find the items' objects in one read; return the errors that stop the run before any write."""
        return []

    def plan(self, items):
        """Set item.action and item.changes."""
        raise NotImplementedError

    def apply(self, items):
        """The writes of every item that has an action, in one worker pool."""
        for item, _result, error in parallel_map(self.apply_item, items, self.params.get('parallel') or WORKERS):
            if error is not None:
                item.changes = []   # the write did not happen
                item.fail(self.failure(item, error))

    def apply_item(self, item):
        raise NotImplementedError

    @staticmethod
    def failure(item, error):
        return str(error)

    # ---------------------------------------------------------- the result

    def report(self, items):
        self.result['items'] = [item.result() for item in items]
        self.changed(any(item.changed for item in items))
        if items and items[0].single:
            self.diff = {'before': dict(items[0].before), 'after': dict(items[0].after)}
        else:
            self.diff = {'before': dict((i.key, i.before) for i in items if i.before or i.after),
                         'after': dict((i.key, i.after) for i in items if i.before or i.after)}
        failed = [i for i in items if i.error]
        if failed:
            noun = self.noun if len(items) == 1 else self.nouns
            self.fail('{0} of {1} {2} failed: {3}'.format(len(failed), len(items), noun,
                                                          '; '.join(i.error for i in failed)))
