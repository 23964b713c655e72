"""SQL that makes Postgres render each row as the exact JSON record the tap emits.

Every identifier goes through psycopg.sql.Identifier and every value is a bound
parameter; custom queries are wrapped as a subquery, never edited.

Values JSON cannot hold are mapped deliberately (documented in the README):
- NUMERIC -> exact decimal text; NaN and +/-Infinity -> null.
- timestamp/timestamptz/date +/-infinity -> the largest/smallest representable value
  (9999-12-31 23:59:59.999999 UTC / 0001-01-01 00:00:00 UTC); BC dates -> 0001-01-01.
- `timestamp without time zone` is read in `source_timezone` and emitted with +00:00.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from tap_ecommerce_postgres.type_mapping import DECIMAL_TYPES, TIMESTAMP_TYPES, Column

MAX_TIMESTAMP = "9999-12-31 23:59:59.999999+00"
MIN_TIMESTAMP = "0001-01-01 00:00:00+00"


def column_expression(column: Column, source_timezone: str) -> sql.Composable:
    """The SELECT expression whose JSON rendering is the column's exact record value."""
    ident = sql.Identifier(column.name)
    base = column.base_type
    if column.is_array:
        if base in DECIMAL_TYPES:
            return sql.SQL("{}::text[]").format(ident)
        return ident
    if base in DECIMAL_TYPES:
        return sql.SQL(
            "case when {c} in ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)"
            " then null else {c}::text end"
        ).format(c=ident)
    if base in TIMESTAMP_TYPES:
        zoned = (
            sql.SQL("({} at time zone {})").format(ident, sql.Literal(source_timezone))
            if column.is_naive_timestamp
            else ident
        )
        return sql.SQL(
            "case when isfinite({c}) then {z} when {c} > now() then {max}::timestamptz"
            " else {min}::timestamptz end"
        ).format(c=ident, z=zoned, max=sql.Literal(MAX_TIMESTAMP), min=sql.Literal(MIN_TIMESTAMP))
    if base == "date":
        return sql.SQL(
            "case when not isfinite({c}) and {c} > current_date then '9999-12-31'::date"
            " when not isfinite({c}) or {c} < '0001-01-01'::date then '0001-01-01'::date"
            " else {c} end"
        ).format(c=ident)
    if base in {"money", "interval", "tsvector", "xml"} or base.startswith("bit"):
        return sql.SQL("{}::text").format(ident)
    return ident


@dataclass(frozen=True)
class ReadPlan:
    """One read of a stream: which rows, in which order, resuming after which key."""

    relation: sql.Composable  # a table identifier or a parenthesised custom query
    columns: list[Column]
    source_timezone: str
    order_by: list[str]  # replication key first (incremental), then the primary key
    replication_key: str | None = None
    start_value: object | None = None  # rows with replication_key >= this
    resume_key: list[str] | None = None  # full-table resume: primary-key columns
    resume_after: list | None = None  # rows with (resume_key) > these values

    def tracked_columns(self) -> list[str]:
        """Raw columns returned beside the JSON: the replication key, then the resume key."""
        tracked = [self.replication_key] if self.replication_key else []
        return tracked + [k for k in (self.resume_key or []) if k not in tracked]

    def render(self) -> tuple[sql.Composable, list]:
        """SELECT the record as JSON text, then the raw tracked column values."""
        expressions = sql.SQL(", ").join(
            sql.SQL("{} as {}").format(
                column_expression(c, self.source_timezone), sql.Identifier(c.name)
            )
            for c in self.columns
        )
        where: list[sql.Composable] = []
        params: list = []
        if self.replication_key and self.start_value is not None:
            where.append(sql.SQL("src.{} >= %s").format(sql.Identifier(self.replication_key)))
            params.append(self.start_value)
        if self.resume_key and self.resume_after is not None:
            where.append(
                sql.SQL("({}) > ({})").format(
                    sql.SQL(", ").join(
                        sql.SQL("src.{}").format(sql.Identifier(k)) for k in self.resume_key
                    ),
                    sql.SQL(", ").join(sql.Placeholder() * len(self.resume_key)),
                )
            )
            params.extend(self.resume_after)
        query = sql.SQL(
            "select row_to_json(rec)::text{tracked} from {rel} as src"
            " cross join lateral (select {exprs}) as rec{where}{order}"
        ).format(
            tracked=sql.SQL("").join(
                sql.SQL(", src.{}").format(sql.Identifier(k)) for k in self.tracked_columns()
            ),
            exprs=expressions,
            rel=self.relation,
            where=sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL(""),
            order=(
                sql.SQL(" order by ")
                + sql.SQL(", ").join(
                    sql.SQL("src.{}").format(sql.Identifier(k)) for k in self.order_by
                )
                if self.order_by
                else sql.SQL("")
            ),
        )
        return query, params
