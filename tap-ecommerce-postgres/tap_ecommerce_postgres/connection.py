"""Connection settings parsed once into an immutable value; the password stays out of repr.

psycopg 3 is used directly (not SQLAlchemy): its server-side cursors stream rows in
constant memory and let Postgres render each row as JSON text, which is what makes the
tap fast (see README, "Why psycopg 3").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


class ConnectionFailed(RuntimeError):
    """Postgres refused us; the message says where and why, never with the password."""


@dataclass(frozen=True)
class ConnectionParameters:
    host: str | None
    port: int
    user: str | None
    database: str | None
    password: str | None = field(default=None, repr=False)
    sslmode: str | None = None
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    application_name: str = "tap-ecommerce-postgres"
    statement_timeout_ms: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectionParameters:
        url = config.get("sqlalchemy_url")
        if url:
            parts = urlsplit(url)
            scheme = parts.scheme.split("+", 1)[0]  # postgresql+psycopg:// -> postgresql://
            params = conninfo_to_dict(urlunsplit((scheme, *parts[1:])))
        else:
            params = {}
        return cls(
            host=config.get("host") or params.get("host"),
            port=int(config.get("port") or params.get("port") or 5432),
            user=config.get("user") or params.get("user"),
            database=config.get("database") or params.get("dbname"),
            password=config.get("password") or params.get("password"),
            sslmode=config.get("sslmode") or params.get("sslmode"),
            sslrootcert=config.get("sslrootcert"),
            sslcert=config.get("sslcert"),
            sslkey=config.get("sslkey"),
            application_name=config.get("application_name") or "tap-ecommerce-postgres",
            statement_timeout_ms=int(config.get("statement_timeout_ms") or 0),
        )

    def render_conninfo(self) -> str:
        """libpq keywords; sessions are read-only, UTC, and named for the DBA."""
        options = "-c default_transaction_read_only=on -c TimeZone=UTC -c DateStyle=ISO"
        if self.statement_timeout_ms:
            options += f" -c statement_timeout={self.statement_timeout_ms}"
        values = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.database,
            "sslmode": self.sslmode,
            "sslrootcert": self.sslrootcert,
            "sslcert": self.sslcert,
            "sslkey": self.sslkey,
            "application_name": self.application_name,
            "options": options,
        }
        return make_conninfo(**{key: value for key, value in values.items() if value is not None})

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.render_conninfo())
        except psycopg.OperationalError as error:
            message = str(error)
            if self.password:
                message = message.replace(self.password, "***")
            raise ConnectionFailed(
                f"Could not connect to Postgres {self.describe()}: {message.strip()} "
                "Check host, port, user, password and sslmode."
            ) from None
