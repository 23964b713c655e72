"""A bronze lake of LOG_BASED shop streams with every awkward order of changes, and the
current state the models must derive from it.

Shaped as target-minio-parquet writes tap-ecommerce-postgres' LOG_BASED streams: the
schema of customers, orders and order_items has `_sdc_lsn` (and, like every stream,
`_sdc_deleted_at`); snapshot rows leave `_sdc_lsn` null; a delete carries the key,
`_sdc_lsn` and `_sdc_deleted_at`, every other column null; the tap's snapshot
generations (`_sdc_snapshot_lsn` on snapshot rows, a null-key end record per complete
snapshot) where a run says so. The other streams are tests/transform's baseline shop,
unchanged.

Runs (one file per stream and run, later runs batched later):
1. snapshot (from before generations were marked): customers 1-4, orders 1-4, items 10,
   20, 21, 30, 40; charges for every order.
2. changes: order 1 updated twice (city A at lsn 1000, city B at 1010); order 3 deleted
   with its item; customer 3 erased (item 40, order 4, customer 3); order 5 inserted with
   item 50 (and charge ch_5); item 51 inserted and deleted again; customer 2's city Old.
3. a killed run's partial re-delivery: order 1's older change (city A, lsn 1000) and
   customer 3's delete again (same lsn): neither may undo what run 2 decided.
4. a new complete snapshot of customers after a state reset (generation 4000, with its
   end record): customer 2's city is New (a change the slot did not deliver), which must
   win over run 2's older change with an LSN; customer 4 was deleted while no slot
   watched (no delete record): the new snapshot retires it.
5. a snapshot cut short (generation 5000, no end record yet): customer 1's city is
   Newest; customer 2, not read yet, keeps generation 4000's row (an incomplete
   snapshot retires nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from target_minio_parquet.arrow_schema import arrow_schema

from tests.transform.bronze import (
    STREAM_BY_NAME,
    STREAMS,
    BronzeLake,
    baseline,
    charge,
    item,
    order,
    utc,
)

LSN = "_sdc_lsn"
DELETED_AT = "_sdc_deleted_at"
GENERATION = "_sdc_snapshot_lsn"
CHANGE_STREAMS = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}
RUNS = [utc(f"2025-06-0{day} 12:00") for day in (1, 2, 3, 4, 5)]


def change_schema(stream: str) -> dict[str, Any]:
    """A LOG_BASED stream's JSON schema: the table's, plus `_sdc_lsn` and
    `_sdc_snapshot_lsn`."""
    schema = STREAMS[STREAM_BY_NAME[stream]]
    if stream not in CHANGE_STREAMS:
        return schema
    change_columns = {LSN: {"type": ["integer", "null"]}, GENERATION: {"type": ["integer", "null"]}}
    return {**schema, "properties": {**schema["properties"], **change_columns}}


class ChangeLake(BronzeLake):
    """BronzeLake whose shop streams carry the LOG_BASED schema (same layout and
    `_sdc_*` filling as BronzeLake.write)."""

    def write(
        self,
        stream: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batched_at: dt.datetime,
        run_id: str,
    ) -> Path:
        source, folder = STREAM_BY_NAME[stream]
        schema = arrow_schema(change_schema(stream))
        table = pa.Table.from_pylist(
            [self._with_metadata(schema, row, batched_at) for row in rows], schema=schema
        )
        path = (
            self.root
            / source
            / folder
            / f"extracted_date={batched_at:%Y-%m-%d}"
            / f"{run_id}-{next(self._files):05d}.parquet"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")
        return path


def delete(stream: str, key: int, lsn: int, at: str) -> dict[str, Any]:
    return {CHANGE_STREAMS[stream]: key, LSN: lsn, DELETED_AT: utc(at)}


def change(row: dict[str, Any], lsn: int, **values: Any) -> dict[str, Any]:
    return {**row, **values, LSN: lsn}


def in_generation(rows: list[dict[str, Any]], generation: int, *, complete: bool) -> list:
    """Snapshot rows as the tap marks them, with the end record when `complete`."""
    marked = [{**row, GENERATION: generation} for row in rows]
    return marked + ([{GENERATION: generation}] if complete else [])


def runs() -> list[dict[str, list[dict[str, Any]]]]:
    """The streams of each run, in load order."""
    snapshot = baseline()
    for number in (3, 4):
        snapshot["customers"].append(
            {**snapshot["customers"][0], "customer_id": number, "email": f"c{number}@example.com"}
        )
    order_4 = order(4, 3, "2025-04-10 10:00", [(1, 4, "10.00")])
    snapshot["orders"].append(order_4)
    snapshot["order_items"].append(item(40, 4, 1, 4, "10.00"))
    snapshot["charges"].append(charge(4, 4000, "2025-04-10 10:00"))
    orders = {o["order_id"]: o for o in snapshot["orders"]}
    customers = {c["customer_id"]: c for c in snapshot["customers"]}
    order_5 = order(5, 2, "2025-06-01 18:00", [(2, 2, "25.50")])
    second = {
        "orders": [
            change(orders[1], 1000, status="shipped", shipping_city="A"),
            change(orders[1], 1010, status="shipped", shipping_city="B"),
            delete("orders", 3, 1021, "2025-06-01 20:00"),
            delete("orders", 4, 1031, "2025-06-01 21:00"),
            change(order_5, 1040),
        ],
        "order_items": [
            delete("order_items", 30, 1020, "2025-06-01 20:00"),
            delete("order_items", 40, 1030, "2025-06-01 21:00"),
            change(item(50, 5, 2, 2, "25.50"), 1041),
            change(item(51, 5, 1, 1, "10.00"), 1042),
            delete("order_items", 51, 1043, "2025-06-01 18:05"),
        ],
        "customers": [
            delete("customers", 3, 1032, "2025-06-01 21:00"),
            change(customers[2], 1050, city="Old"),
        ],
        "charges": [charge(5, 5100, "2025-06-01 18:00")],
    }
    third = {
        "orders": [change(orders[1], 1000, status="shipped", shipping_city="A")],
        "customers": [delete("customers", 3, 1032, "2025-06-01 21:00")],
    }
    fourth = {
        "customers": in_generation(
            [customers[1], {**customers[2], "city": "New", "updated_at": utc("2025-06-03 09:00")}],
            4000,
            complete=True,
        )
    }
    fifth = {
        "customers": in_generation(
            [{**customers[1], "city": "Newest", "updated_at": utc("2025-06-04 09:00")}],
            5000,
            complete=False,
        )
    }
    return [snapshot, second, third, fourth, fifth]


def write_runs(lake: ChangeLake) -> None:
    for number, (batched_at, streams) in enumerate(zip(RUNS, runs(), strict=True), start=1):
        for stream, rows in streams.items():
            lake.write(
                stream,
                rows,
                batched_at=batched_at,
                run_id=f"{batched_at:%Y%m%dT%H%M%SZ}-run{number}",
            )


# What the models must derive.
CURRENT_CUSTOMERS = {1: "Newest", 2: "New"}  # customer_id -> city
CURRENT_ORDERS = {1: "shipped", 2: "completed", 5: "completed"}  # order_id -> status
CURRENT_CITIES = {1: "B", 2: "Springfield", 5: "Springfield"}  # order_id -> shipping_city
CURRENT_ITEMS = {10, 20, 21, 50}
DELETED_ORDERS = {3, 4}
ORDERS_TOTAL = ITEMS_TOTAL = Decimal("20.00") + Decimal("35.50") + Decimal("51.00")
CHARGES = {"ch_1", "ch_2", "ch_2f", "ch_3", "ch_4", "ch_5"}
