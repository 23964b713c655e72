"""The least-privilege role the taps extract with, beside the admin role that seeds.

A custom-SQL stream runs inside a read-only transaction, which refuses writes but not
functions such as `pg_terminate_backend` or `pg_read_file`; only the role's privileges
stop those. So the sandbox connects the taps as `elt_extract`: it may CONNECT to the shop
database, USE the shop schema and SELECT its tables (including tables created later, by
default privileges), and hold the REPLICATION attribute, which the LOG_BASED streams'
slot functions need (tap-ecommerce-postgres README, production setup); nothing else. It
owns no table, so it cannot create publications: the admin creates them
(`publications.py`). The admin role keeps seeding and test setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

EXTRACT_ROLE = "elt_extract"
EXTRACT_PASSWORD = "sandbox-extract-password"
SHOP_SCHEMA = "public"


class RoleNotCreated(RuntimeError):
    """The admin connection may not create roles (an external server's ordinary user)."""


@dataclass(frozen=True)
class ExtractionRole:
    """Who the taps connect as; the password stays out of repr."""

    user: str
    password: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """The settings written to `.sandbox/env` (PGUSER/PGPASSWORD stay the admin's)."""
        return {"TAP_PG_USER": self.user, "TAP_PG_PASSWORD": self.password}


def grant_statements(database: str, role: str, schema: str = SHOP_SCHEMA) -> list[sql.Composed]:
    """CONNECT, USAGE and SELECT (now and on future tables of the admin), nothing else.

    The same statements are documented in the tap's README for production.
    """
    ident = sql.Identifier(role)
    return [
        sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), ident),
        sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), ident),
        sql.SQL("grant select on all tables in schema {} to {}").format(
            sql.Identifier(schema), ident
        ),
        sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(
            sql.Identifier(schema), ident
        ),
    ]


def can_create_roles(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select rolsuper or rolcreaterole from pg_roles where rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def ensure_extraction_role(
    conn: psycopg.Connection,
    database: str,
    role: str = EXTRACT_ROLE,
    password: str = EXTRACT_PASSWORD,
) -> ExtractionRole:
    """Create (or reset) the login role and its grants on `database`; idempotent.

    `conn` is an autocommit admin connection to `database` (default privileges and schema
    grants are per database). Raises RoleNotCreated when the admin may not create roles.
    An admin that may create roles but not grant REPLICATION (an external server's
    CREATEROLE user) gets the role without it: LOG_BASED streams then fail with the tap's
    own "needs the REPLICATION attribute" error.
    """
    if not can_create_roles(conn):
        raise RoleNotCreated(
            f"the sandbox's Postgres user may not create roles, so {role!r} was not created"
        )
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
    verb = "alter" if exists else "create"
    statement = sql.SQL(
        "{} role {} with login password {} nosuperuser nocreatedb nocreaterole {} nobypassrls"
    )
    for replication in ("replication", "noreplication"):
        try:
            with conn.transaction():
                conn.execute(
                    statement.format(
                        sql.SQL(verb),
                        sql.Identifier(role),
                        sql.Literal(password),
                        sql.SQL(replication),
                    )
                )
            break
        except psycopg.errors.InsufficientPrivilege:
            if replication == "noreplication":
                raise
    for statement in grant_statements(database, role):
        conn.execute(statement)
    return ExtractionRole(role, password)
