"""SQL that makes Postgres render each row as the exact JSON record the tap emits.

Every identifier goes through psycopg.sql.Identifier and every value is a bound
parameter; custom queries are wrapped as a subquery, never edited.

Values JSON cannot hold are mapped deliberately (documented in the README):
- NUMERIC -> exact decimal text; NaN and +/-Infinity -> null.
- real/double precision NaN and +/-Infinity -> null (JSON has no such numbers, and a
  string would break the column's `number` type in every target); the same for the
  elements of numeric and float arrays (read as one-dimensional arrays).
- timestamp/timestamptz/date +/-infinity -> the largest/smallest representable value
  (9999-12-31 23:59:59.999999 UTC / 0001-01-01 00:00:00 UTC); BC dates -> 0001-01-01.
- `timestamp without time zone` is read in `source_timezone` and emitted with +00:00.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

from psycopg import sql

from tap_ecommerce_postgres.type_mapping import (
    DECIMAL_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    TIMESTAMP_TYPES,
    Column,
)

NATIVE_ARROW_TYPES = INTEGER_TYPES | FLOAT_TYPES | {"boolean"}
MAX_TIMESTAMP = "9999-12-31 23:59:59.999999+00"
MIN_TIMESTAMP = "0001-01-01 00:00:00+00"


def column_expression(column: Column, source_timezone: str) -> sql.Composable:
    """The SELECT expression whose JSON rendering is the column's exact record value."""
    ident = sql.Identifier(column.name)
    base = column.base_type
    if column.is_array:
        if base in DECIMAL_TYPES or base in FLOAT_TYPES:  # elements mapped as scalars are
            decimal = base in DECIMAL_TYPES
            kind = sql.SQL("numeric" if decimal else "float8")
            return sql.SQL(
                "case when {c} is null then null else array(select case when x in"
                " ('NaN'::{t}, 'Infinity'::{t}, '-Infinity'::{t}) then null else {e} end"
                " from unnest({c}) with ordinality as u(x, n) order by n) end"
            ).format(c=ident, t=kind, e=sql.SQL("x::text" if decimal else "x"))
        return ident
    if base in DECIMAL_TYPES:
        if column.precision is not None:  # numeric(p, s) cannot hold +/-Infinity, only NaN
            return sql.SQL("nullif({c}, 'NaN'::numeric)::text").format(c=ident)
        return sql.SQL(
            "case when {c} in ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)"
            " then null else {c}::text end"
        ).format(c=ident)
    if base in FLOAT_TYPES:
        return sql.SQL(
            "case when {c} in ('NaN', 'Infinity', '-Infinity') then null else {c} end"
        ).format(c=ident)
    if base in TIMESTAMP_TYPES:
        zoned = (
            sql.SQL("({} at time zone {})").format(ident, sql.Literal(source_timezone))
            if column.is_naive_timestamp
            else ident
        )
        return sql.SQL(
            # no ELSE: NULL stays NULL (an ELSE clamped it to the minimum)
            "case when isfinite({c}) then {z} when {c} > now() then {max}::timestamptz"
            " when {c} < now() then {min}::timestamptz end"
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


def range_bounds(low: int, high: int, keys_per_range: int, max_ranges: int) -> list[int]:
    """Where to cut the keys [low, high] into equal ranges of about `keys_per_range` keys
    (at most `max_ranges`); [] when one range is enough."""
    keys = high - low + 1
    ranges = min(max_ranges, keys // keys_per_range)
    if ranges < 2:
        return []
    width = -(-keys // ranges)  # ceiling: the last range is never the widest
    return [low + width * i for i in range(1, ranges)]


@dataclass(frozen=True)
class ReadPlan:
    """One read of a stream: which rows, in which order, resuming after which key."""

    relation: sql.Composable  # a table identifier or a parenthesised custom query
    columns: list[Column]  # every column of the relation (types of the tracked keys)
    source_timezone: str
    order_by: list[str]  # replication key first (incremental), then the primary key
    replication_key: str | None = None
    start_value: object | None = None  # rows with replication_key >= this
    resume_key: list[str] | None = None  # full-table resume: primary-key columns
    resume_after: list | None = None  # rows with (resume_key) > these values
    key_range: tuple[Any, Any] | None = None  # order_by[0] in [lo, hi); None = open
    selected: tuple[str, ...] | None = None  # record columns (the SDK's selection); None: all
    limit: int | None = None  # at most this many rows (the SDK's record limit, `--test`)
    # integer columns of the same value on every row, after the table's (a LOG_BASED
    # snapshot's generation, cdc/generations.py)
    constants: tuple[tuple[str, int], ...] = ()

    @property
    def record_columns(self) -> list[Column]:
        """The columns rendered into the record: only selected ones are read at all."""
        if self.selected is None:
            return list(self.columns)
        chosen = set(self.selected)
        return [c for c in self.columns if c.name in chosen]

    def sliced(self, bounds: list[Any]) -> list[ReadPlan]:
        """The same read as consecutive key ranges cut at `bounds` (ascending): the
        first range is open below and the last open above (NULL keys included: they sort
        last), so together they cover every row, whatever was inserted since the bounds
        were chosen."""
        edges: list[Any] = [None, *bounds, None]
        return [replace(self, key_range=(lo, hi)) for lo, hi in itertools.pairwise(edges)]

    def tracked_columns(self) -> list[str]:
        """Raw columns returned beside the JSON: the replication key, then the resume key."""
        tracked = [self.replication_key] if self.replication_key else []
        return tracked + [k for k in (self.resume_key or []) if k not in tracked]

    def _filter_and_order(
        self, *, literals: bool = False, ordered: bool = True
    ) -> tuple[sql.Composable, list]:
        """WHERE (replication start, full-table resume point) and ORDER BY, on `src`;
        values as placeholders with their parameters, or as quoted literals."""
        where: list[sql.Composable] = []
        params: list = []

        def value(item: object) -> sql.Composable:
            if literals:
                return sql.Literal(item)
            params.append(item)
            return sql.Placeholder()

        if self.replication_key and self.start_value is not None:
            where.append(
                sql.SQL("src.{} >= {}").format(
                    sql.Identifier(self.replication_key), value(self.start_value)
                )
            )
        if self.resume_key and self.resume_after is not None:
            where.append(
                sql.SQL("({}) > ({})").format(
                    sql.SQL(", ").join(
                        sql.SQL("src.{}").format(sql.Identifier(k)) for k in self.resume_key
                    ),
                    sql.SQL(", ").join(value(v) for v in self.resume_after),
                )
            )
        if self.key_range and self.order_by:
            key = sql.SQL("src.{}").format(sql.Identifier(self.order_by[0]))
            lo, hi = self.key_range
            if lo is not None and hi is None:  # NULL keys sort last: the last range
                where.append(sql.SQL("({} >= {} or {} is null)").format(key, value(lo), key))
            elif lo is not None:
                where.append(sql.SQL("{} >= {}").format(key, value(lo)))
            if hi is not None:
                where.append(sql.SQL("{} < {}").format(key, value(hi)))
        clause = sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL("")
        if self.order_by and ordered:
            clause += sql.SQL(" order by ") + sql.SQL(", ").join(
                sql.SQL("src.{}").format(sql.Identifier(k)) for k in self.order_by
            )
        if self.limit is not None and ordered:
            clause += sql.SQL(" limit {}").format(sql.Literal(int(self.limit)))
        return clause, params

    def filter_clause(self) -> sql.Composable:
        """Only the WHERE part (replication start, resume point), values as literals."""
        where, _ = self._filter_and_order(literals=True, ordered=False)
        return where

    def _record_expressions(self) -> sql.Composable:
        """The record's columns, each under its own name, for `row_to_json`."""
        return sql.SQL(", ").join(
            [
                sql.SQL("{} as {}").format(
                    column_expression(c, self.source_timezone), sql.Identifier(c.name)
                )
                for c in self.record_columns
            ]
            + self._constant_expressions()
        )

    def _constant_expressions(self) -> list[sql.Composable]:
        return [
            sql.SQL("{}::int8 as {}").format(sql.Literal(int(value)), sql.Identifier(name))
            for name, value in self.constants
        ]

    def render(self) -> tuple[sql.Composable, list]:
        """SELECT the record as JSON text, then the raw tracked column values (as the
        Arrow readers get them, so both record paths write the same bookmarks)."""
        expressions = self._record_expressions()
        clause, params = self._filter_and_order()
        query = sql.SQL(
            "select row_to_json(rec)::text{tracked} from {rel} as src"
            " cross join lateral (select {exprs}) as rec{clause}"
        ).format(
            tracked=self._tracked_for_arrow(),
            exprs=expressions,
            rel=self.relation,
            clause=clause,
        )
        return query, params

    def render_arrow_select(self) -> str:
        """The same values for an Arrow reader (batches.py): integers, floats and booleans
        in their own types, every other column as the text Postgres prints for it (exact
        decimals; timestamps as `YYYY-MM-DD HH:MI:SS.ffffff+00`, the session being UTC;
        bytea as hex, as in the JSON), then the raw tracked columns. Filter values are
        bound as quoted literals, since the statement goes to another driver."""
        expressions = sql.SQL(", ").join(
            [
                column_expression(c, self.source_timezone)
                if c.base_type in NATIVE_ARROW_TYPES and not c.is_array
                else sql.SQL("({})::text").format(column_expression(c, self.source_timezone))
                for c in self.record_columns
            ]
            + self._constant_expressions()
        )
        clause, _ = self._filter_and_order(literals=True)
        statement = sql.SQL("select {exprs}{tracked} from {rel} as src{clause}").format(
            exprs=expressions, tracked=self._tracked_for_arrow(), rel=self.relation, clause=clause
        )
        return statement.as_string(None)

    def render_line_select(self, prefix: str, suffix: str) -> str:
        """For the record path read through Arrow: each row as its whole RECORD message
        line (`prefix` + the record's JSON + `suffix`, newline included), so the tap
        writes Arrow's string buffer as it is; then the raw tracked columns."""
        expressions = self._record_expressions()
        clause, _ = self._filter_and_order(literals=True)
        statement = sql.SQL(
            "select {prefix} || row_to_json(rec)::text || {suffix}{tracked} from {rel} as src"
            " cross join lateral (select {exprs}) as rec{clause}"
        ).format(
            prefix=sql.Literal(prefix),
            suffix=sql.Literal(suffix),
            tracked=self._tracked_for_arrow(),
            exprs=expressions,
            rel=self.relation,
            clause=clause,
        )
        return statement.as_string(None)

    def _tracked_for_arrow(self) -> sql.Composable:
        """Tracked columns: integers as they are, anything else as the text Postgres
        prints (cast back by Postgres when the bookmark is used); for every reader."""
        integers = {c.name for c in self.columns if c.is_integer}
        return sql.SQL("").join(
            sql.SQL(", src.{}").format(sql.Identifier(k))
            if k in integers
            else sql.SQL(", src.{}::text").format(sql.Identifier(k))
            for k in self.tracked_columns()
        )
