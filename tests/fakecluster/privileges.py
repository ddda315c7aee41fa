"""PVE's privileges and built-in roles, for PVE 9.1 and for PVE 8.4.

The privilege groups are those of pve-access-control `src/PVE/AccessControl.pm` ($privgroups): branch master
(9.1.x) for PVE 9.1 and branch stable-bookworm (8.2.x, what PVE 8.4 ships) for PVE 8.4. Only the VM group
differs: 9.0.2 dropped VM.Monitor for the VM.GuestAgent.* privileges, 9.0.3 added VM.Replicate. The built-in
("special") roles are derived from the groups the way its `create_roles()` derives them (the same code on both
branches):

- PVE<Group>Admin and PVEAdmin get each group's admin, user and audit privileges,
- PVE<Group>User gets the user and audit privileges of groups that have user privileges,
- PVEAuditor gets every audit privilege,
- PVEAdmin loses Mapping.Modify; PVETemplateUser is VM.Clone and VM.Audit; NoAccess is empty;
  Administrator holds every privilege.

"root" privileges (Sys.Modify, Sys.PowerMgmt, Realm.Allocate, ...) are in Administrator only.
"""

PRIVGROUPS = {
    'VM': {
        'root': (),
        'admin': ('VM.Config.Disk', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.HWType',
                  'VM.Config.Options', 'VM.Allocate', 'VM.Clone', 'VM.GuestAgent.Unrestricted', 'VM.Migrate',
                  'VM.Replicate', 'VM.Snapshot', 'VM.Snapshot.Rollback'),
        'user': ('VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.Backup', 'VM.GuestAgent.FileRead',
                 'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.FileWrite', 'VM.PowerMgmt'),
        'audit': ('VM.Audit', 'VM.GuestAgent.Audit'),
    },
    'Sys': {
        'root': ('Sys.PowerMgmt', 'Sys.Modify', 'Sys.Incoming', 'Sys.AccessNetwork'),
        'admin': ('Sys.Console', 'Sys.Syslog'),
        'user': (),
        'audit': ('Sys.Audit',),
    },
    'Datastore': {
        'root': (),
        'admin': ('Datastore.Allocate', 'Datastore.AllocateTemplate'),
        'user': ('Datastore.AllocateSpace',),
        'audit': ('Datastore.Audit',),
    },
    'SDN': {
        'root': (),
        'admin': ('SDN.Allocate', 'SDN.Audit'),
        'user': ('SDN.Use',),
        'audit': ('SDN.Audit',),
    },
    'User': {
        'root': ('Realm.Allocate',),
        'admin': ('User.Modify', 'Group.Allocate', 'Realm.AllocateUser'),
        'user': (),
        'audit': (),
    },
    'Pool': {
        'root': (),
        'admin': ('Pool.Allocate',),
        'user': ('Pool.Audit',),
        'audit': ('Pool.Audit',),
    },
    'Mapping': {
        'root': (),
        'admin': ('Mapping.Modify',),
        'user': ('Mapping.Use',),
        'audit': ('Mapping.Audit',),
    },
}


def _derive(groups):
    privileges = {'Permissions.Modify'}  # the one privilege outside every group
    roles = {}
    for name, group in groups.items():
        privileges.update(group['root'], group['admin'], group['user'], group['audit'])
        managed = set(group['admin'] + group['user'] + group['audit'])
        roles.setdefault('PVE{0}Admin'.format(name), set()).update(managed)
        roles.setdefault('PVEAdmin', set()).update(managed)
        if group['user']:
            roles.setdefault('PVE{0}User'.format(name), set()).update(group['user'] + group['audit'])
        roles.setdefault('PVEAuditor', set()).update(group['audit'])
    roles['PVEAdmin'].discard('Mapping.Modify')
    roles['PVETemplateUser'] = {'VM.Clone', 'VM.Audit'}
    roles['NoAccess'] = set()
    roles['Administrator'] = set(privileges)
    return frozenset(privileges), dict((name, frozenset(privs)) for name, privs in roles.items())


# PVE 8.4 (pve-access-control 8.2.x): VM.Monitor instead of VM.GuestAgent.*, and no VM.Replicate.
PRIVGROUPS_8 = dict(PRIVGROUPS, VM={
    'root': (),
    'admin': ('VM.Config.Disk', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.HWType',
              'VM.Config.Options', 'VM.Allocate', 'VM.Clone', 'VM.Migrate', 'VM.Monitor', 'VM.Snapshot',
              'VM.Snapshot.Rollback'),
    'user': ('VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.Backup', 'VM.PowerMgmt'),
    'audit': ('VM.Audit',),
})

# release -> (privileges, built-in roles); PRIVILEGES and BUILTIN_ROLES are PVE 9.1's, the fake's default.
BY_RELEASE = {'9.1': _derive(PRIVGROUPS), '8.4': _derive(PRIVGROUPS_8)}
PRIVILEGES, BUILTIN_ROLES = BY_RELEASE['9.1']
