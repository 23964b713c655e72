"""tap-ecommerce-postgres: the shop database (or any Postgres) as Singer streams."""

from __future__ import annotations

from functools import cached_property

from psycopg import sql
from singer_sdk import Tap
from singer_sdk import typing as th

from tap_ecommerce_postgres.arrow_reader import AdbcSessions
from tap_ecommerce_postgres.connection import ConnectionParameters
from tap_ecommerce_postgres.discovery import TableInfo, describe_query, discover_tables
from tap_ecommerce_postgres.stream import PostgresStream

STREAM_OPTION = th.ObjectType(
    th.Property(
        "replication_method",
        th.StringType,
        allowed_values=["FULL_TABLE", "INCREMENTAL"],
        description="FULL_TABLE re-reads everything (resumable by primary key); "
        "INCREMENTAL reads rows whose replication_key >= the bookmark.",
    ),
    th.Property(
        "replication_key",
        th.StringType,
        description="Timestamp or integer column for INCREMENTAL (e.g. updated_at).",
    ),
)

CUSTOM_STREAM = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="Stream name."),
    th.Property(
        "sql",
        th.StringType,
        required=True,
        description="A SELECT; it runs read-only, wrapped as a subquery (never edited).",
    ),
    th.Property("key_properties", th.ArrayType(th.StringType), description="Primary key."),
    th.Property(
        "replication_key",
        th.StringType,
        description="Column of the query's result used for INCREMENTAL reads.",
    ),
)


class TapEcommercePostgres(Tap):
    """Extracts tables, views and custom queries with exact types and resumable reads."""

    name = "tap-ecommerce-postgres"

    config_jsonschema = th.PropertiesList(
        th.Property("host", th.StringType, description="Postgres host."),
        th.Property("port", th.IntegerType, default=5432, description="Postgres port."),
        th.Property("user", th.StringType, description="Postgres user."),
        th.Property(
            "password", th.StringType, secret=True, description="Postgres password (never logged)."
        ),
        th.Property("database", th.StringType, description="Database name."),
        th.Property(
            "sqlalchemy_url",
            th.StringType,
            secret=True,
            description="A DSN (postgresql://user:pass@host:port/db) instead of the separate "
            "settings; separate settings win where both are given.",
        ),
        th.Property(
            "sslmode",
            th.StringType,
            description="libpq sslmode: disable, prefer, require, verify-ca, verify-full.",
        ),
        th.Property("sslrootcert", th.StringType, description="CA certificate path."),
        th.Property("sslcert", th.StringType, description="Client certificate path."),
        th.Property("sslkey", th.StringType, description="Client key path."),
        th.Property(
            "application_name",
            th.StringType,
            default="tap-ecommerce-postgres",
            description="Shown to DBAs in pg_stat_activity.",
        ),
        th.Property(
            "statement_timeout_ms",
            th.IntegerType,
            default=0,
            description="Postgres statement_timeout for the tap's queries (0 = none).",
        ),
        th.Property(
            "schemas",
            th.ArrayType(th.StringType),
            description="Schemas to discover (default: every non-system schema).",
        ),
        th.Property(
            "source_timezone",
            th.StringType,
            default="UTC",
            description="Time zone in which `timestamp without time zone` values are read; "
            "they are emitted with an explicit offset.",
        ),
        th.Property(
            "stream_options",
            th.ObjectType(additional_properties=STREAM_OPTION),
            description="Per stream (e.g. public-orders): replication_method and "
            "replication_key. Overrides the catalog.",
        ),
        th.Property(
            "custom_streams",
            th.ArrayType(CUSTOM_STREAM),
            description="Extra streams defined by a SQL query.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Lower bound for INCREMENTAL streams that have no bookmark yet.",
        ),
        th.Property(
            "state_every_n_rows",
            th.IntegerType,
            default=50_000,
            description="Emit STATE after this many rows of a stream, so a killed run resumes "
            "near where it stopped.",
        ),
        th.Property(
            "parallel_readers",
            th.IntegerType,
            default=2,
            description="Sessions that read a table at once, as consecutive ranges of an "
            "integer key within one snapshot (Postgres renders the JSON, so one session per "
            "core). 1 reads every table in a single session.",
        ),
    ).to_dict()

    @cached_property
    def connection_parameters(self) -> ConnectionParameters:
        return ConnectionParameters.from_config(self.config)

    @cached_property
    def adbc_sessions(self) -> AdbcSessions:
        """Reading sessions shared by the streams of this run."""
        return AdbcSessions(self.connection_parameters)

    def sync_all(self) -> None:
        try:
            super().sync_all()
        finally:
            self.adbc_sessions.close()

    def discover_streams(self) -> list[PostgresStream]:
        with self.connection_parameters.connect() as conn:
            tables = discover_tables(conn, self.config.get("schemas"))
            custom = [
                (spec, describe_query(conn, spec["sql"]))
                for spec in self.config.get("custom_streams") or []
            ]
        streams = [PostgresStream(self, table) for table in tables]
        for spec, columns in custom:
            info = TableInfo(
                schema="",
                name=spec["name"],
                columns=columns,
                primary_key=list(spec.get("key_properties") or []),
            )
            relation = sql.SQL("({})").format(sql.SQL(spec["sql"]))
            stream = PostgresStream(self, info, relation=relation)
            stream.name = spec["name"]
            if spec.get("replication_key"):
                stream._configured_key = spec["replication_key"]
                stream.replication_key = spec["replication_key"]
            streams.append(stream)
        return streams


if __name__ == "__main__":
    TapEcommercePostgres.cli()
