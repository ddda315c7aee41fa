"""vzdump as pve-manager's API runs it (POST /nodes/{node}/vzdump): stock fakepve answers a UPID and backs
nothing up.

What real PVE does, and this models:
- only the guests of the node asked are backed up; the others are skipped, and when none of the list is local
  the call answers the string 'OK' instead of a UPID (nothing runs: a caller that sends a whole class to one
  node silently backs up only that node's guests);
- VM.Backup on every guest and Datastore.AllocateSpace on the storage; `notes-template` needs `storage`, may
  hold only {{cluster}}, {{guestname}}, {{node}}, {{vmid}} and the escapes \\n and \\\\;
- one task (type vzdump, id the vmid when there is one guest, else empty) backs the guests up one after
  another, each holding `lock: backup` for backup_secs PVE seconds; a second vzdump on the same node waits
  for the first (one vzdump process per node);
- each backup ends as a volume `backup/vzdump-<qemu|lxc>-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<vma|tar>.<ext>` in the
  storage's content, with the notes the template gives and `protected` when asked.
"""

import asyncio
import re
import time

from fakepve import PveError, TaskError
from fakepve.routing import die, split_list

COMPRESS_EXT = {'zstd': 'zst', 'gzip': 'gz', 'lzo': 'lzo', '1': 'lzo', '0': None}
NOTES_VARS = ('cluster', 'guestname', 'node', 'vmid')


def invalid(name, why):
    """PVE's raise_param_exc: 400, 'Parameter verification failed.', the reason per parameter."""
    return PveError(400, 'Parameter verification failed.', errors={name: why})


def check_notes_template(template):
    """VZDump.pm's verify_notes_template: the reason PVE refuses it, or None."""
    if '\n' in template:
        return 'contains a line feed'
    bad = ["escape sequence '\\{0}'".format(m.group(1)) for m in re.finditer(r'\\(.)', template)
           if m.group(1) not in ('n', '\\')]
    bad += ["variable '{0}'".format(m.group(1)) for m in re.finditer(r'\{\{([^\s{}]+)\}\}', template)
            if m.group(1) not in NOTES_VARS]
    return 'found unknown: ' + ', '.join(bad) if bad else None


def render_notes(template, info):
    """VZDump.pm's generate_notes: escapes undone, then the variables replaced."""
    text = re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else '\\', template)
    return re.sub(r'\{\{(' + '|'.join(NOTES_VARS) + r')\}\}', lambda m: str(info[m.group(1)]), text)


class Vzdump(object):
    """Mixin of LabPve: the vzdump endpoint, backups as storage content."""

    def _init_vzdump(self):
        self.backup_secs = 30.0    # PVE seconds per guest
        self._vzdump_locks = {}

    def _routes_lab_vzdump(self):
        return [('POST', '/nodes/{node}/vzdump', self._vzdump)]

    def backups(self, storage, vmid=None):
        """{volname: volume} of the backups on storage (of one guest with vmid)."""
        return dict((name, vol) for name, vol in self.storages[storage].get('volumes', {}).items()
                    if vol.get('content') == 'backup' and (vmid is None or vol.get('vmid') == vmid))

    async def _vzdump(self, v, user):
        node = v['node']
        storage = v.get('storage')
        template = v.get('notes-template')
        if template is not None and not storage:
            raise invalid('notes-template', "missing property - 'notes-template' requires 'storage'")
        if template:
            why = check_notes_template(template)
            if why:
                raise invalid('notes-template', why)
        if not v.get('vmid'):
            raise invalid('vmid', 'property is missing')
        vmids = [int(x) for x in split_list(v['vmid'])]
        for vmid in vmids:
            self.require(user, '/vms/{0}'.format(vmid), 'VM.Backup')
        local = [vmid for vmid in vmids if self.guest(vmid) is not None and self.guest(vmid).node == node]
        if not local:
            return 'OK'   # the guests run elsewhere: PVE's silent exit
        if storage:
            if storage not in self.storages:
                raise die("storage '{0}' does not exist".format(storage))
            if 'backup' not in split_list(self.storages[storage].get('content')):
                raise die("storage '{0}' does not support backups".format(storage))
            self.require(user, '/storage/' + storage, 'Datastore.AllocateSpace')
        ext = COMPRESS_EXT.get(str(v.get('compress', '0')), str(v.get('compress')))
        protected = bool(int(v.get('protected') or 0))

        async def body():
            lock = self._vzdump_locks.setdefault(node, asyncio.Lock())
            failed = []
            async with lock:
                for vmid in local:
                    guest = self.guest(vmid)
                    try:
                        await self._backup_one(guest, storage, ext, template, protected)
                    except TaskError as e:
                        failed.append('{0}: {1}'.format(vmid, e))
            if failed:
                raise TaskError('job errors: ' + '; '.join(failed))
            return 'INFO: Backup job finished successfully'

        return await self.task(node, 'vzdump', local[0] if len(local) == 1 else '', user, body, lock=False,
                               log=['INFO: starting new backup job: vzdump {0}'.format(' '.join(map(str, local)))])

    async def _backup_one(self, guest, storage, ext, template, protected):
        kind = 'lxc' if guest.guest.startswith('lxc/') else 'qemu'
        holder = 'vzdump-{0}'.format(guest.vmid)
        await self.acquire(guest, holder)
        try:
            guest.config['lock'] = 'backup'
            await self.pause(self.backup_secs)
        finally:
            guest.config.pop('lock', None)
            self.release(guest, holder)
        if not storage:
            return
        stamp = time.time()
        volname = 'backup/vzdump-{0}-{1}-{2}.{3}{4}'.format(
            kind, guest.vmid, time.strftime('%Y_%m_%d-%H_%M_%S', time.localtime(stamp)),
            'vma' if kind == 'qemu' else 'tar', '.' + ext if ext else '')
        while volname in self.storages[storage].setdefault('volumes', {}):
            stamp += 1   # two backups in one second: PVE's names differ by their time stamp
            volname = re.sub(r'\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d', time.strftime(
                '%Y_%m_%d-%H_%M_%S', time.localtime(stamp)), volname)
        vol = {'content': 'backup', 'format': volname.split('.', 1)[1], 'size': 1024 ** 3, 'vmid': guest.vmid,
               'ctime': int(stamp), 'subtype': kind}
        if template:
            vol['notes'] = render_notes(template, {'cluster': self.cluster_name, 'node': guest.node,
                                                   'vmid': guest.vmid,
                                                   'guestname': getattr(guest, 'name', None) or 'VM {0}'.format(
                                                       guest.vmid)})
        if protected:
            vol['protected'] = True
        self.storages[storage]['volumes'][volname] = vol
