"""LOG_BASED change capture of tap-ecommerce-postgres: decode and emit N row changes.

Seeds a sandbox Postgres of its own (`wal_level=logical`), takes the LOG_BASED snapshot
of `order_items`, then updates its rows (one transaction per `--rows-per-transaction`)
until `--changes` row changes wait in the slot, and times the run that decodes and
emits them to /dev/null. Beside it: the full-table path over the same table (rows/s).
The change run is repeated with the same state (the slot is only peeked, never consumed
by reading), so the rounds measure the same work. Peak RSS is the tap's whole process.

The wide-row case: `--wide-changes` updates of rows whose text is `--wide-bytes` long
(pgoutput sends each one whole), in a table of their own. Memory must stay bounded by
bytes (`log_based_max_chunk_bytes`), not grow with the row width: goal <= 300 MB.

    .venv/bin/python bench/cdc.py                      # 1,000,000 changes at scale 1
    .venv/bin/python bench/cdc.py --changes 200000 --rounds 1
    .venv/bin/python bench/cdc.py --wide-bytes 1000000 --wide-changes 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from _measure import print_table, run_measured
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STREAM = "public-order_items"
WIDE_STREAM = "public-bench_wide_rows"


def only(catalog: dict, name: str) -> dict:
    """The discovered catalog with every stream but `name` deselected."""
    catalog = json.loads(json.dumps(catalog))
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == name
    return catalog


def make_wide_rows(dsn: str, rows: int, width: int) -> None:
    """A table of `rows` rows whose text is `width` characters (compressible: the WAL
    stays small, but pgoutput sends each value whole)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "drop table if exists bench_wide_rows;"
            "create table bench_wide_rows (id int primary key, n int, body text)"
        )
        conn.execute(
            "insert into bench_wide_rows select i, 0, left(repeat(md5(i::text), %s), %s)"
            " from generate_series(1, %s) i",
            [width // 32 + 1, width, rows],
        )


def change_wide_rows(dsn: str, per_transaction: int) -> int:
    """Every wide row updated once (its text too, so each change carries it)."""
    done = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        (high,) = conn.execute("select max(id) from bench_wide_rows").fetchone()
        for start in range(1, high + 1, per_transaction):
            done += conn.execute(
                "update bench_wide_rows set n = n + 1, body = reverse(body)"
                " where id >= %s and id < %s",
                [start, start + per_transaction],
            ).rowcount
    return done


def snapshot_state(tap: Path, config: Path, catalog: Path, state: Path) -> None:
    """The LOG_BASED first run (its snapshot) to /dev/null; its last STATE kept."""
    last = subprocess.run(
        f"{tap} --config {config} --catalog {catalog} | tail -1",
        shell=True,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    state.write_text(json.dumps(json.loads(last)["value"]))


def make_changes(dsn: str, changes: int, per_transaction: int) -> int:
    """Update order_items rows (quantity + 1) until `changes` row changes are committed."""
    done = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        (low, high) = conn.execute(
            "select min(order_item_id), max(order_item_id) from order_items"
        ).fetchone()
        start = low
        while done < changes:
            stop = min(high + 1, start + min(per_transaction, changes - done))
            updated = conn.execute(
                "update order_items set quantity = quantity + 1"
                " where order_item_id >= %s and order_item_id < %s",
                [start, stop],
            ).rowcount
            done += updated
            start = low if stop > high else stop
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--rows-per-transaction", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--wide-changes", type=int, default=10_000)
    parser.add_argument("--wide-bytes", type=int, default=60_000)
    parser.add_argument("--narrow", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--keep", type=Path, help="keep config, catalog and state here")
    args = parser.parse_args()
    env = api.up(
        SandboxHome((ROOT / ".sandbox-bench-cdc").resolve()),
        scale=args.scale,
        services=["postgres"],
    )
    dsn = (
        f"postgresql://{env['PGUSER']}:{env['PGPASSWORD']}@{env['PGHOST']}:{env['PGPORT']}"
        f"/{env['PGDATABASE']}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-cdc-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        base = {"host": env["PGHOST"], "port": int(env["PGPORT"]), "user": env["PGUSER"],
                "password": env["PGPASSWORD"], "database": env["PGDATABASE"],
                "schemas": ["public"], "log_based_prefix": "bench_cdc"}  # fmt: skip
        full = work / "full.json"
        full.write_text(json.dumps(base))
        log_based = work / "log_based.json"
        options = {STREAM: {"replication_method": "LOG_BASED"}}
        log_based.write_text(json.dumps({**base, "stream_options": options}))
        tap = BIN / "tap-ecommerce-postgres"
        make_wide_rows(dsn, args.wide_changes, args.wide_bytes)
        discovered = subprocess.run(
            [tap, "--config", full, "--discover"], check=True, capture_output=True, text=True
        ).stdout
        catalog = work / "catalog.json"
        catalog.write_text(json.dumps(only(json.loads(discovered), STREAM)))
        wide_catalog = work / "wide-catalog.json"
        wide_catalog.write_text(json.dumps(only(json.loads(discovered), WIDE_STREAM)))
        wide_options = {WIDE_STREAM: {"replication_method": "LOG_BASED"}}
        wide_config = work / "wide.json"
        wide_config.write_text(json.dumps({**base, "stream_options": wide_options}))
        with psycopg.connect(dsn, autocommit=True) as conn:  # a fresh slot every time
            conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                " where slot_name like 'bench\\_cdc\\_%'"
            )
            (rows,) = conn.execute("select count(*) from order_items").fetchone()
        state = work / "state.json"
        wide_state = work / "wide-state.json"
        if args.narrow:
            snapshot_state(tap, log_based, catalog, state)
            made = make_changes(dsn, args.changes, args.rows_per_transaction)
            print(f"order_items: {rows:,} rows; {made:,} row changes wait in the slot")
        snapshot_state(tap, wide_config, wide_catalog, wide_state)
        wide = change_wide_rows(dsn, 1_000)
        print(f"bench_wide_rows: {wide:,} changes of {args.wide_bytes:,}-byte rows in the slot")
        results = []
        for _ in range(args.rounds):
            if args.narrow:
                results.append(
                    run_measured(
                        "full table > /dev/null",
                        f"{tap} --config {full} --catalog {catalog} > /dev/null",
                        rows,
                    )
                )
                results.append(
                    run_measured(
                        "LOG_BASED changes > /dev/null",
                        f"{tap} --config {log_based} --catalog {catalog} --state {state}"
                        " > /dev/null",
                        made,
                    )
                )
            results.append(
                run_measured(
                    f"LOG_BASED {args.wide_bytes:,}-byte rows > /dev/null",
                    f"{tap} --config {wide_config} --catalog {wide_catalog}"
                    f" --state {wide_state} > /dev/null",
                    wide,
                )
            )
        print_table(results)


if __name__ == "__main__":
    main()
