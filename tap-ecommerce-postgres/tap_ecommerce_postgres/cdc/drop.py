"""Drop the replication slots and publications of LOG_BASED streams.

A slot keeps WAL on the server until it is confirmed; a slot nobody reads any more (a
stream switched off, a TRUNCATE that needs a new snapshot) fills the disk. This command
removes them, with the tap's own config file:

    python -m tap_ecommerce_postgres.cdc.drop --config config.json                # all
    python -m tap_ecommerce_postgres.cdc.drop --config config.json --stream public-orders

Without `--stream` it drops every slot of the database and every publication whose name
starts with `log_based_prefix`. Clear the stream's state too, so the next run takes a new
snapshot (a bookmark without its slot is refused).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import psycopg

from tap_ecommerce_postgres.cdc import slot as slots
from tap_ecommerce_postgres.connection import ConnectionParameters


def _prefixed(conn: psycopg.Connection, prefix: str) -> list[slots.SlotNames]:
    pattern = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_%"
    found = conn.execute(
        "select slot_name from pg_replication_slots"
        " where database = current_database() and slot_name like %s"
        " union select pubname from pg_publication where pubname like %s",
        [pattern, pattern],
    ).fetchall()
    return [slots.SlotNames(name, name) for (name,) in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="the tap's config file")
    parser.add_argument("--stream", action="append", default=[], help="stream id, repeatable")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    parameters = ConnectionParameters.from_config(config)
    prefix = config.get("log_based_prefix") or slots.DEFAULT_PREFIX
    with contextlib.closing(parameters.connect()) as conn:
        conn.autocommit = True
        targets = []
        for stream in args.stream:
            schema, sep, table = stream.partition("-")
            if not sep:
                parser.error(f"--stream {stream!r}: expected <schema>-<table>")
            targets.append(slots.names(prefix, parameters.database or "", schema, table))
        dropped = [
            item for names in targets or _prefixed(conn, prefix) for item in slots.drop(conn, names)
        ]
    for item in dropped:
        print(f"dropped {item}")
    if not dropped:
        print("nothing to drop", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
