"""Column profiles of what a run committed, computed from the Arrow tables the target
already holds (no second read of the data, no warehouse query).

elt-monitor compares these with earlier runs to see when the data itself is wrong while
row counts look normal: rows by event date (a day that vanished or doubled, rows for an
old closed month, dates read day-first), the event hour (a time zone shift), the null
share per column (a column NULL for a whole day), sum / min / max of numbers (prices
x100, revenue at half price), value frequencies of low-cardinality text (a currency
switch) and duplicate keys within the run.

Everything is vectorised pyarrow on each committed table and merged per run; the summary
is plain JSON (numbers of money as exact decimal strings) stored in the run's manifest.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# Columns the target adds to every row: never profiled.
LINEAGE_PREFIX = "_sdc_"
# A file-read stream's lineage (tap-csv-marketing, the SDK's file streams): a changed file
# is read again whole, so its rows by event date are kept per file and a later read of
# the file replaces an earlier one's (elt-monitor: data_rules.day_totals).
SOURCE_FILE = "_sdc_source_file"
# A text column with more distinct values than this in its first rows is not a category.
MAX_CATEGORIES = 20
CATEGORY_SAMPLE_ROWS = 2_000
# Event-time column when the stream declares none and its bookmark is not a time: the
# first of these the stream has (a record's business time, not when it was extracted).
EVENT_TIME_CANDIDATES = (
    "created_at",
    "created",
    "ordered_at",
    "order_date",
    "occurred_at",
    "event_time",
    "date",
    "day",
    "updated_at",
)


def is_time(data_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)


def column_kind(data_type: pa.DataType) -> str:
    """How a column is summarised: `number`, `decimal`, `time`, `text`, `bool` or `other`."""
    if pa.types.is_decimal(data_type):
        return "decimal"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "number"
    if is_time(data_type):
        return "time"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "text"
    if pa.types.is_boolean(data_type):
        return "bool"
    return "other"


def choose_event_field(
    schema: pa.Schema, declared: str | None = None, bookmark: str | None = None
) -> str | None:
    """The stream's business time: the declared field, else its bookmark when that is a
    time, else the first conventional name it has; None when it has no time at all."""
    names = {f.name: f.type for f in schema}
    for name in (declared, bookmark):
        if name and name in names and is_time(names[name]):
            return name
    for name in EVENT_TIME_CANDIDATES:
        if name in names and is_time(names[name]):
            return name
    return None


EPOCH = dt.date(1970, 1, 1)


def _iso_day(days_since_epoch: int) -> str:
    return (EPOCH + dt.timedelta(days=days_since_epoch)).isoformat()


def _floor_divide(values: pa.ChunkedArray, divisor: int) -> pa.ChunkedArray:
    """Integer division rounding down (Arrow's rounds toward zero: wrong before 1970)."""
    quotient = pc.divide(values, divisor)
    below = pc.less(pc.subtract(values, pc.multiply(quotient, divisor)), 0)
    return pc.if_else(below, pc.subtract(quotient, 1), quotient)


def _strictly_increasing(column: pa.Array) -> bool:
    if len(column) < 2:
        return True
    if column.null_count:
        return False
    return pc.all(pc.greater(pc.pairwise_diff(column).slice(1), 0)).as_py()


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


@dataclass
class ColumnProfile:
    """One column's running summary over a run's committed tables."""

    kind: str
    nulls: int = 0
    count: int = 0  # non-null values
    total: decimal.Decimal | float | int | None = None
    low: Any = None
    high: Any = None
    categories: Counter | None = field(default_factory=Counter)
    # running mean and sum of squared deviations (Chan et al.), in floats: the spread
    _moments: tuple[int, float, float] = (0, 0.0, 0.0)

    def observe(self, column: pa.ChunkedArray) -> None:
        nulls = column.null_count
        self.nulls += nulls
        present = len(column) - nulls
        self.count += present
        if self.kind == "text" and self.categories is not None:
            self._observe_categories(column)
        else:
            self.categories = None
        if not present or self.kind not in ("number", "decimal", "time"):
            return
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        self.low = low if self.low is None or low < self.low else self.low
        self.high = high if self.high is None or high > self.high else self.high
        if self.kind != "time":
            value = pc.sum(column).as_py()
            self.total = value if self.total is None else self.total + value
            self._merge_moments(pc.cast(column, pa.float64(), safe=False), present)

    def _merge_moments(self, values: pa.ChunkedArray, count: int) -> None:
        mean = pc.mean(values).as_py()
        m2 = pc.variance(values, ddof=0).as_py() * count
        n, old_mean, old_m2 = self._moments
        total = n + count
        delta = mean - old_mean
        self._moments = (
            total,
            old_mean + delta * count / total,
            old_m2 + m2 + delta * delta * n * count / total,
        )

    def _observe_categories(self, column: pa.ChunkedArray) -> None:
        head = column.slice(0, CATEGORY_SAMPLE_ROWS)
        if pc.count_distinct(head).as_py() > MAX_CATEGORIES:
            self.categories = None  # an identifier or free text: sticky for the run
            return
        counts = pc.value_counts(column.drop_null())
        if len(counts) > MAX_CATEGORIES:
            self.categories = None
            return
        for item in counts.to_pylist():
            self.categories[item["values"]] += item["counts"]
        if len(self.categories) > MAX_CATEGORIES:
            self.categories = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "nulls": self.nulls, "count": self.count}
        if self.low is not None:
            out["min"], out["max"] = _scalar_text(self.low), _scalar_text(self.high)
        if self.total is not None:
            out["sum"] = str(self.total) if self.kind == "decimal" else self.total
            n, _, m2 = self._moments
            out["std"] = (m2 / n) ** 0.5 if n else None
        if self.categories:
            out["values"] = dict(self.categories.most_common())
        return out


class RunProfiler:
    """Profiles one stream's committed tables in one run (called from the committer)."""

    def __init__(self, event_field: str | None, key_properties: list[str], track_keys: bool):
        self.event_field = event_field
        self.key_properties = [k for k in key_properties if k]
        self.track_keys = track_keys and bool(self.key_properties)
        self.rows = 0
        self.columns: dict[str, ColumnProfile] = {}
        self.event_dates: Counter = Counter()
        self.event_dates_by_file: dict[str, Counter] = {}
        self.event_hours = [0] * 24
        self._keys: list[pa.Table] = []

    def observe(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for data_field in table.schema:
            if data_field.name.startswith(LINEAGE_PREFIX):
                continue
            profile = self.columns.get(data_field.name)
            if profile is None:
                profile = self.columns[data_field.name] = ColumnProfile(
                    column_kind(data_field.type)
                )
            profile.observe(table.column(data_field.name))
        if self.event_field and self.event_field in table.column_names:
            files = table.column(SOURCE_FILE) if SOURCE_FILE in table.column_names else None
            self._observe_event_time(table.column(self.event_field), files)
        if self.track_keys and set(self.key_properties) <= set(table.column_names):
            self._keys.append(table.select(self.key_properties))

    def _observe_event_time(
        self, column: pa.ChunkedArray, files: pa.ChunkedArray | None = None
    ) -> None:
        if files is not None:
            present = pc.is_valid(column)
            column, files = column.filter(present), files.filter(present)
        else:
            column = column.drop_null()
        if not len(column):
            return
        if pa.types.is_timestamp(column.type):
            # whole days and hours by integer arithmetic on the UTC instant (a tenth of the
            # cost of formatting each value)
            per_hour = {"s": 3600, "ms": 3_600_000, "us": 3_600_000_000, "ns": 3_600_000_000_000}
            hours = _floor_divide(pc.cast(column, pa.int64()), per_hour[column.type.unit])
            whole_days = _floor_divide(hours, 24)
            hour_of_day = pc.subtract(hours, pc.multiply(whole_days, 24))
            for item in pc.value_counts(hour_of_day).to_pylist():
                self.event_hours[item["values"]] += item["counts"]
            days = pc.cast(whole_days, pa.int32())
        else:
            days = pc.cast(column, pa.int32())
        for item in pc.value_counts(days).to_pylist():
            self.event_dates[_iso_day(item["values"])] += item["counts"]
        if files is not None:
            pairs = pa.table({"file": files, "day": days}).group_by(["file", "day"])
            for row in pairs.aggregate([([], "count_all")]).to_pylist():
                per_file = self.event_dates_by_file.setdefault(row["file"], Counter())
                per_file[_iso_day(row["day"])] += row["count_all"]

    def key_duplicates(self) -> int | None:
        """Rows beyond the first of each key within the run; None when not tracked."""
        if not self.track_keys:
            return None
        if not self._keys:
            return 0
        keys = pa.concat_tables(self._keys, promote_options="permissive")
        if len(self.key_properties) == 1:
            column = keys.column(0).combine_chunks()
            if pa.types.is_integer(column.type) and _strictly_increasing(column):
                return 0  # read in key order (the usual case): no hashing needed
            distinct = len(pc.unique(column))
        else:
            distinct = keys.group_by(self.key_properties).aggregate([]).num_rows
        return keys.num_rows - distinct

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "event_field": self.event_field,
            "event_dates": dict(sorted(self.event_dates.items())),
            "event_dates_by_file": {
                name: dict(sorted(days.items()))
                for name, days in sorted(self.event_dates_by_file.items())
            }
            or None,
            "event_hours": self.event_hours if any(self.event_hours) else None,
            "key_duplicates": self.key_duplicates(),
            "columns": {name: p.summary() for name, p in sorted(self.columns.items())},
        }
