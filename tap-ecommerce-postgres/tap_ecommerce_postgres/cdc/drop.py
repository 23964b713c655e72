"""Drop the replication slots of LOG_BASED streams: one state's by default.

A slot keeps WAL on the server until it is confirmed; a slot nobody reads any more (a
stream switched off, a TRUNCATE that needs a new snapshot) fills the disk. Each Meltano
state (environment, a person's run beside the schedule's) has slots of its own, named
in its bookmarks, so the command drops exactly the slots of the state it is given:

    python -m tap_ecommerce_postgres.cdc.drop --config tap.json --state state.json
    python -m tap_ecommerce_postgres.cdc.drop --config tap.json --state state.json \\
        --stream public-orders

`--state` takes the tap's state (`{"bookmarks": ...}`) or `meltano state get`'s output.
A stream's publication is dropped with its last slot (while another state's slot reads
the table, it stays). `--all-states` drops every state's slots of the `--stream`s (of
every stream of `log_based_prefix` without `--stream`) and their publications. What the
role may not drop (a publication it does not own, a slot in use) is kept and explained,
with the command for whoever may. Clear the stream's state afterwards, so the next run
takes a new snapshot (a bookmark without its slot is refused).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import psycopg
from psycopg import sql

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


def state_slots(state: dict, names: slots.SlotNames, stream: str) -> list[str]:
    """The slot a state's bookmark of `stream` names (a state from before per-state
    slots: the stream's plain name), or none."""
    bookmark = state.get("bookmarks", {}).get(stream) or {}
    if bookmark.get("slot"):
        return [bookmark["slot"]]
    return [names.slot] if bookmark.get("lsn") is not None else []


def read_state(path: Path) -> dict:
    """The tap's state, or Meltano's (`meltano state get`: under `singer_state`)."""
    state = json.loads(path.read_text())
    return state.get("singer_state", state) if isinstance(state, dict) else {}


class Dropper:
    """Drops what it may and says what it may not, line by line."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.dropped: list[str] = []
        self.kept: list[str] = []

    def slot(self, slot: str) -> None:
        try:
            found = self.conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                " where slot_name = %s and database = current_database()",
                [slot],
            ).fetchall()
        except psycopg.errors.ObjectInUse:
            self.kept.append(
                f"replication slot {slot}: in use (a run under way?); run the command again "
                "when it has ended"
            )
            return
        except psycopg.errors.InsufficientPrivilege:
            self.kept.append(
                f"replication slot {slot}: this role may not drop it (it needs the "
                f"REPLICATION attribute); ask a DBA to run: select pg_drop_replication_slot("
                f"'{slot}')"
            )
            return
        if found:
            self.dropped.append(f"replication slot {slot}")

    def publication(self, names: slots.SlotNames) -> None:
        """The stream's publication, unless a slot of the stream still reads it."""
        remaining = [s for s, _ in slots.stream_slots(self.conn, names.slot)]
        row = self.conn.execute(
            "select pg_get_userbyid(pubowner) from pg_publication where pubname = %s",
            [names.publication],
        ).fetchone()
        if row is None:
            return
        drop = sql.SQL("drop publication {}").format(sql.Identifier(names.publication))
        if remaining:
            self.kept.append(
                f"publication {names.publication}: slot {', '.join(remaining)} of another "
                "state still reads it"
            )
            return
        try:
            with self.conn.transaction():
                self.conn.execute("set transaction read write")
                self.conn.execute(drop)
        except psycopg.errors.InsufficientPrivilege:
            self.kept.append(
                f"publication {names.publication}: owned by {row[0]}, not this role (it holds "
                f"no WAL, so it may stay); its owner may run: {drop.as_string(self.conn)}"
            )
            return
        self.dropped.append(f"publication {names.publication}")


def streams_of(args: argparse.Namespace, state: dict | None) -> Iterable[str]:
    """The `--stream`s, else every LOG_BASED stream of the state (a bookmark with a slot
    or an LSN; none: every prefixed one)."""
    if args.stream:
        return args.stream
    bookmarks = (state or {}).get("bookmarks", {})
    return [name for name, mark in bookmarks.items() if mark.get("slot") or "lsn" in mark]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="the tap's config file")
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--state", type=Path, help="drop this state's slots (a state file)")
    scope.add_argument(
        "--all-states", action="store_true", help="drop every state's slots and publications"
    )
    parser.add_argument("--stream", action="append", default=[], help="stream id, repeatable")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    parameters = ConnectionParameters.from_config(config)
    prefix = config.get("log_based_prefix") or slots.DEFAULT_PREFIX
    state = read_state(args.state) if args.state else None
    with contextlib.closing(parameters.connect()) as conn:
        conn.autocommit = True
        dropper = Dropper(conn)
        targets = []
        for stream in streams_of(args, state):
            schema, sep, table = stream.partition("-")
            if not sep:
                parser.error(f"--stream {stream!r}: expected <schema>-<table>")
            targets.append((stream, slots.names(prefix, parameters.database or "", schema, table)))
        if args.all_states:
            everything = [names for _, names in targets] or _prefixed(conn, prefix)
            for names in everything:
                for slot, _ in slots.stream_slots(conn, names.slot):
                    dropper.slot(slot)
                dropper.publication(names)
        else:
            for stream, names in targets:
                chosen = state_slots(state or {}, names, stream)
                for slot in chosen:
                    dropper.slot(slot)
                if chosen:
                    dropper.publication(names)
    for item in dropper.dropped:
        print(f"dropped {item}")
    for item in dropper.kept:
        print(f"kept {item}", file=sys.stderr)
    if not dropper.dropped and not dropper.kept:
        print("nothing to drop", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
