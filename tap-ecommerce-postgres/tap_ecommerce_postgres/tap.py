"""tap-ecommerce-postgres: the shop database (or any Postgres) as Singer streams."""

from __future__ import annotations

from functools import cached_property

from psycopg import sql
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_ecommerce_postgres.arrow_reader import AdbcSessions
from tap_ecommerce_postgres.cdc.changes import DEFAULT_CHUNK_BYTES
from tap_ecommerce_postgres.config_checks import (
    check_custom_streams,
    check_log_based,
    check_replication_keys,
    check_schemas,
    check_stream_options,
    raise_config_errors,
)
from tap_ecommerce_postgres.connection import ConnectionParameters
from tap_ecommerce_postgres.discovery import (
    TableInfo,
    describe_query,
    discover_tables,
    list_schemas,
)
from tap_ecommerce_postgres.privileges import role_privileges
from tap_ecommerce_postgres.stream import PostgresStream

STREAM_OPTION = th.ObjectType(
    th.Property(
        "replication_method",
        th.StringType,
        allowed_values=["FULL_TABLE", "INCREMENTAL", "LOG_BASED"],
        description="FULL_TABLE re-reads everything (resumable by primary key); "
        "INCREMENTAL reads rows whose replication_key >= the bookmark; LOG_BASED takes a "
        "snapshot, then inserts, updates and deletes from a pgoutput replication slot "
        "(tables with a primary key; needs wal_level=logical and the REPLICATION attribute).",
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
        th.Property(
            "port",
            th.IntegerType,
            description="Postgres port (default: sqlalchemy_url's port, else 5432).",
        ),
        th.Property("user", th.StringType, description="Postgres user."),
        th.Property(
            "password", th.StringType, secret=True, description="Postgres password (never logged)."
        ),
        th.Property("database", th.StringType, description="Database name."),
        th.Property(
            "sqlalchemy_url",
            th.StringType,
            secret=True,
            description="A DSN (postgresql://user:pass@host:port/db?sslmode=...) instead of the "
            "separate settings: its parts are used unless the same setting is given.",
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
            description="Shown to DBAs in pg_stat_activity (default: sqlalchemy_url's, else "
            "tap-ecommerce-postgres).",
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
            description="Schemas to discover (default: every non-system schema; [] for none, "
            "only custom_streams). Each must hold a table or view the role can read.",
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
            description="Per stream id (`<schema>-<table>` such as public-orders, or a custom "
            "stream's name): replication_method and replication_key. Overrides the catalog. "
            "Unknown streams, options or columns fail before the first record.",
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
            "count_source_rows",
            th.BooleanType,
            default=True,
            description="After each INCREMENTAL read of a table, count the table's rows "
            "(one count(*)) and log it as a `source_row_count` metric: elt-monitor compares "
            "it with the keys in the lake to see hard deletes a replication key cannot.",
        ),
        th.Property(
            "log_based_prefix",
            th.StringType,
            default="tap_ecommerce_postgres",
            description="LOG_BASED: start of the names of each stream's replication slot and "
            "publication (`<prefix>_<schema>_<table>_<hash>`, logged at start).",
        ),
        th.Property(
            "log_based_max_retained_wal_bytes",
            th.IntegerType,
            default=1 << 30,
            description="LOG_BASED: warn when a stream's slot keeps more WAL than this "
            "(a forgotten slot fills the server's disk), and drop an idle slot of the table "
            "that is not this state's (a cleared state's) once it keeps more.",
        ),
        th.Property(
            "log_based_max_run_seconds",
            th.NumberType(minimum=0),
            default=0,
            description="LOG_BASED: end a stream's change run after this many seconds, at a "
            "transaction's end, bookmarked there; the rest follows next run (0 = no limit: "
            "every change committed before the run started).",
        ),
        th.Property(
            "log_based_max_chunk_bytes",
            th.IntegerType(minimum=1),
            default=DEFAULT_CHUNK_BYTES,
            description="LOG_BASED: changes are read, rendered and written in chunks of at "
            "most 5,000 changes and about this many bytes of change data, so memory stays "
            "bounded whatever the row width (a single larger row is one chunk).",
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
            self._check_catalog_replication_keys()
            super().sync_all()
        finally:
            self.adbc_sessions.close()

    def run_discovery(self) -> str:
        """`--discover` runs outside the SDK's handler of config errors: report them the
        same way as a sync does (one line per mistake, exit 1), not as a traceback."""
        try:
            return super().run_discovery()
        except ConfigValidationError as error:
            for line in error.errors:
                self.logger.error(line)
            self.logger.error("Config validation failed")
            raise SystemExit(1) from None

    def _check_catalog_replication_keys(self) -> None:
        """A replication key from the catalog that is not a column fails before the first
        record (the SDK would refuse it only when that stream's turn came)."""
        selected = {
            stream.name: (stream.replication_key, set(stream.schema.get("properties", {})))
            for stream in self.streams.values()
            if stream.selected
        }
        raise_config_errors(check_replication_keys(selected))

    def discover_streams(self) -> list[PostgresStream]:
        """Tables, views and custom queries; every config mistake about them (schemas,
        stream_options, custom stream keys) is raised here, before any record."""
        schemas = self.config.get("schemas")
        specs = self.config.get("custom_streams") or []
        with self.connection_parameters.connect() as conn:
            self._warn_about_privileges(conn)
            tables = discover_tables(conn, schemas)
            existing = list_schemas(conn) if schemas else []
            custom = [describe_query(conn, spec["sql"]) for spec in specs]
        table_streams = {table.stream_name: table for table in tables}
        columns = {name: [c.name for c in table.columns] for name, table in table_streams.items()}
        columns |= {
            spec["name"]: [c.name for c in cols] for spec, cols in zip(specs, custom, strict=True)
        }
        raise_config_errors(
            check_schemas(
                schemas,
                existing,
                {table.schema for table in tables},
                self.connection_parameters.user,
            )
            + check_custom_streams(
                specs, [[c.name for c in cols] for cols in custom], table_streams
            )
            + check_stream_options(
                self.config.get("stream_options"), columns, STREAM_OPTION.to_dict()["properties"]
            )
            + check_log_based(
                self.config.get("stream_options"),
                {name for name, table in table_streams.items() if table.primary_key},
            )
        )
        streams = [PostgresStream(self, table) for table in tables]
        for spec, columns_of_query in zip(specs, custom, strict=True):
            info = TableInfo(
                schema="",
                name=spec["name"],
                columns=columns_of_query,
                primary_key=list(spec.get("key_properties") or []),
            )
            relation = sql.SQL("({})").format(sql.SQL(spec["sql"]))
            stream = PostgresStream(self, info, relation=relation)
            if spec.get("replication_key"):
                stream._configured_key = spec["replication_key"]
                stream.replication_key = spec["replication_key"]
            streams.append(stream)
        return streams

    def _warn_about_privileges(self, conn) -> None:
        """One warning per run when the role can do more than read (see privileges.py)."""
        if self._privileges_checked:
            return
        self._privileges_checked = True
        warning = role_privileges(conn).warning()
        if warning:
            self.logger.warning(warning)

    _privileges_checked = False


if __name__ == "__main__":
    TapEcommercePostgres.cli()
