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
from singer_sdk.exceptions import ConfigValidationError


class ConnectionFailed(RuntimeError):
    """Postgres refused us; the message says where and why, never with the password."""


#: Tap setting -> libpq keyword of the same part of a `sqlalchemy_url`.
URL_PARTS = {
    "host": "host",
    "port": "port",
    "user": "user",
    "password": "password",
    "database": "dbname",
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "application_name": "application_name",
}
DEFAULT_PORT = 5432
#: Session settings that change the text of a value, pinned on every session the tap
#: opens (psycopg, ADBC, the replication connection), so its output is the same whatever
#: the server's or the role's settings (a role's `ALTER ROLE ... SET extra_float_digits
#: = 0` printed floats with 15 digits). Settings given at connection start win over the
#: role's and the database's.
PINNED_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",  # any value > 0: the shortest exact text of a float
    "bytea_output": "hex",
    "standard_conforming_strings": "on",
    "lc_monetary": "C",
}
CLIENT_ENCODING = "UTF8"
DEFAULT_APPLICATION_NAME = "tap-ecommerce-postgres"


def parse_url(url: str) -> dict[str, str]:
    """libpq keywords of a DSN (`+driver` suffixes dropped); a malformed URL is a config
    error that names the setting and never echoes the URL (it holds the password)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]  # postgresql+psycopg:// -> postgresql://
    try:
        return conninfo_to_dict(urlunsplit((scheme, *parts[1:])))
    except psycopg.ProgrammingError:
        raise ConfigValidationError(
            "sqlalchemy_url is not a valid Postgres URL",
            errors=["sqlalchemy_url: not a valid postgresql://user:password@host:port/db URL"],
        ) from None


def explicit(config: Mapping[str, Any], name: str) -> Any:
    """A setting's value when it was given (None and "" count as not given)."""
    value = config.get(name)
    return None if value is None or value == "" else value


@dataclass(frozen=True)
class ConnectionParameters:
    """Where and how to connect, decided once: a setting given explicitly wins, then the
    same part of `sqlalchemy_url`, then the default (port 5432). Everything after
    `from_config` trusts this value; the password is kept out of its repr."""

    host: str | None
    port: int
    user: str | None
    database: str | None
    password: str | None = field(default=None, repr=False)
    sslmode: str | None = None
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    application_name: str = DEFAULT_APPLICATION_NAME
    statement_timeout_ms: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectionParameters:
        url = explicit(config, "sqlalchemy_url")
        from_url = parse_url(url) if url else {}
        values = {
            name: explicit(config, name)
            if explicit(config, name) is not None
            else from_url.get(keyword)
            for name, keyword in URL_PARTS.items()
        }
        try:
            port = int(values.pop("port") or DEFAULT_PORT)
        except ValueError:
            raise ConfigValidationError(
                "port is not a number", errors=["port (or sqlalchemy_url's port): not a number"]
            ) from None
        return cls(
            port=port,
            application_name=values.pop("application_name") or DEFAULT_APPLICATION_NAME,
            statement_timeout_ms=int(config.get("statement_timeout_ms") or 0),
            **values,
        )

    def render_conninfo(self) -> str:
        """libpq keywords; sessions are read-only, with the output settings pinned
        (`PINNED_SETTINGS`), and named for the DBA."""
        options = "-c default_transaction_read_only=on " + " ".join(
            f"-c {name}={value.replace(' ', '')}" for name, value in PINNED_SETTINGS.items()
        )
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
            "client_encoding": CLIENT_ENCODING,
            "options": options,
        }
        return make_conninfo(**{key: value for key, value in values.items() if value is not None})

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self, *, replication: bool = False) -> psycopg.Connection:
        """A session; `replication`: a logical replication connection (walsender), which
        takes replication commands such as CREATE_REPLICATION_SLOT."""
        conninfo = self.render_conninfo()
        if replication:
            conninfo = make_conninfo(conninfo, replication="database")
        try:
            return psycopg.connect(conninfo, autocommit=replication)
        except psycopg.OperationalError as error:
            message = str(error)
            if self.password:
                message = message.replace(self.password, "***")
            raise ConnectionFailed(
                f"Could not connect to Postgres {self.describe()}: {message.strip()} "
                "Check host, port, user, password and sslmode."
            ) from None
