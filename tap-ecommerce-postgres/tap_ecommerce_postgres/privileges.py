"""Warn when the tap's role can do more than read.

Every session is read-only, which refuses writes, but not `pg_terminate_backend`
(other sessions killed) or `pg_read_file` (server files read) from a custom query. Only
the role stops those: a superuser, or a member of `pg_signal_backend` or
`pg_read_server_files`, can run them. The tap does not refuse such a role (a DBA may
choose it), it says so once at start; the README gives the least-privilege role.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

#: Predefined roles that let a read-only session reach beyond the tables it reads.
RISKY_ROLES = ("pg_read_server_files", "pg_signal_backend")

PRIVILEGES_SQL = """
select current_user, rolsuper,
       array(select g.rolname from pg_roles g
             where g.rolname = any(%(roles)s::text[])  -- only those this server has
               and pg_has_role(current_user, g.oid, 'MEMBER')
             order by g.rolname)
from pg_roles where rolname = current_user
"""


@dataclass(frozen=True)
class RolePrivileges:
    user: str
    superuser: bool
    risky_roles: tuple[str, ...]

    def warning(self) -> str | None:
        """The one warning to log, or None for a role that can only read."""
        if self.superuser:
            what = "a superuser"
        elif self.risky_roles:
            what = "a member of " + " and ".join(self.risky_roles)
        else:
            return None
        return (
            f"Connected as {self.user!r}, {what}: a custom_streams query could terminate "
            "other sessions or read server files. Extract with a role that has only CONNECT, "
            "USAGE and SELECT (README: Least privilege)."
        )


def role_privileges(conn: psycopg.Connection) -> RolePrivileges:
    user, superuser, roles = conn.execute(PRIVILEGES_SQL, {"roles": list(RISKY_ROLES)}).fetchone()
    # a superuser is a member of every role; name only what a non-superuser was granted
    return RolePrivileges(user, bool(superuser), () if superuser else tuple(roles))
