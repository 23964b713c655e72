"""The comparison the cross-engine test relies on, on hand-made rows: the same values as
two engines type them hash the same, and a cent or a day of difference does not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.transform_engines.engines import Mart, normalise


def mart(*rows: tuple) -> Mart:
    return Mart(("amount", "day", "ratio", "ts"), tuple(rows))


NEW_YORK = dt.timezone(dt.timedelta(hours=-5))
DUCKDB_ROW = (
    Decimal("12.30"),
    dt.date(2025, 1, 1),
    3.3252623688155924,
    dt.datetime(2025, 1, 1, 2, tzinfo=dt.UTC),
)
# The same values as Spark's Parquet comes back: another decimal scale, the instant in
# another zone, the double from another evaluation order.
SPARK_ROW = (
    Decimal("12.3000"),
    dt.date(2025, 1, 1),
    3.325262368815593,
    dt.datetime(2024, 12, 31, 21, tzinfo=NEW_YORK),
)


def test_the_same_values_typed_differently_hash_the_same() -> None:
    assert mart(DUCKDB_ROW).row_hashes() == mart(SPARK_ROW).row_hashes()
    assert (
        mart(DUCKDB_ROW).money_sums()
        == mart(SPARK_ROW).money_sums()
        == {"amount": Decimal("12.30")}
    )


def test_a_cent_a_day_or_a_lost_row_is_a_difference() -> None:
    base = mart(DUCKDB_ROW, DUCKDB_ROW)
    cent = (Decimal("12.31"), *DUCKDB_ROW[1:])
    day = (DUCKDB_ROW[0], dt.date(2024, 12, 31), *DUCKDB_ROW[2:])
    assert base.row_hashes() != mart(DUCKDB_ROW, cent).row_hashes()
    assert base.row_hashes() != mart(DUCKDB_ROW, day).row_hashes()
    assert base.row_hashes() != mart(DUCKDB_ROW).row_hashes()  # duplicates count
    assert base.money_sums() != mart(DUCKDB_ROW, cent).money_sums()


def test_normalise_keeps_nulls_and_zero() -> None:
    assert normalise(None) is None
    assert normalise(Decimal("0.00")) == normalise(Decimal("-0")) == "0"
    assert normalise(Decimal("100.00")) == "100"
