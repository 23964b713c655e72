"""LOG_BASED streams against the sandbox Postgres (wal_level=logical): real slots and
publications, the pgoutput decoder on hand-built messages beside them.

Each test works on its own table in schema `cdc` of the module's scratch database (so
the shop's tables are not re-read every run), and keeps a log of the changes it makes
to compare with what the tap emits.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from psycopg import sql
from tap_ecommerce_postgres.arrow_reader import AdbcSessions, sliced_batches
from tap_ecommerce_postgres.cdc import changes as changes_module
from tap_ecommerce_postgres.cdc import generations, pgoutput
from tap_ecommerce_postgres.cdc import slot as slots
from tap_ecommerce_postgres.cdc.pgoutput import UNCHANGED, DecodeError, decode
from tap_ecommerce_postgres.cdc.slot import LogBasedError
from tap_ecommerce_postgres.connection import ConnectionParameters
from tap_ecommerce_postgres.prefetch import prefetched_rows

from tests.singer import run_singer
from tests.tap_ecommerce_postgres.catalogs import discover, selecting, write_catalog
from tests.tap_ecommerce_postgres.conftest import TAP, last_state, run_tap
from tests.tap_ecommerce_postgres.conftest import records as all_records
from tests.tap_ecommerce_postgres.test_fidelity import SETUP as FIDELITY_SETUP

# -- the decoder, on messages built byte by byte from the protocol's documentation -----


def _string(text: str) -> bytes:
    return text.encode() + b"\0"


def _tuple(*values) -> bytes:
    out = struct.pack("!h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif value is UNCHANGED:
            out += b"u"
        else:
            raw = value.encode()
            out += b"t" + struct.pack("!i", len(raw)) + raw
    return out


def test_decodes_begin_commit_relation_type_and_truncate() -> None:
    begin = decode(b"B" + struct.pack("!QqI", 0x1_0000_0010, 86_400_000_000, 7))
    assert begin == pgoutput.Begin(0x1_0000_0010, begin.commit_time, 7)
    assert begin.commit_time.isoformat() == "2000-01-02T00:00:00+00:00"
    commit = decode(b"C" + struct.pack("!BQQq", 0, 100, 148, 0))
    assert (commit.commit_lsn, commit.end_lsn) == (100, 148)
    relation = decode(
        b"R"
        + struct.pack("!I", 16384)
        + _string("public")
        + _string("orders")
        + b"d"
        + struct.pack("!h", 2)
        + b"\x01"
        + _string("id")
        + struct.pack("!Ii", 23, -1)
        + b"\x00"
        + _string("total")
        + struct.pack("!Ii", 1700, (10 << 16 | 2) + 4)
    )
    assert relation.name == "orders" and relation.namespace == "public"
    assert [(c.name, c.type_oid, c.is_key) for c in relation.columns] == [
        ("id", 23, True),
        ("total", 1700, False),
    ]
    assert decode(b"Y" + struct.pack("!I", 99) + _string("public") + _string("mood")) == (
        pgoutput.Type(99, "public", "mood")
    )
    truncate = decode(b"T" + struct.pack("!iB", 2, 1) + struct.pack("!II", 5, 6))
    assert truncate == pgoutput.Truncate((5, 6), cascade=True, restart_identity=False)


def test_decodes_row_changes_with_null_unchanged_and_text_columns() -> None:
    insert = decode(b"I" + struct.pack("!I", 1) + b"N" + _tuple("1", None, "Zoë"))
    assert insert == pgoutput.Insert(1, (b"1", None, "Zoë".encode()))  # the text's bytes
    update = decode(
        b"U" + struct.pack("!I", 1) + b"K" + _tuple("1", None) + b"N" + _tuple("2", UNCHANGED)
    )
    assert update == pgoutput.Update(1, (b"1", None), True, (b"2", UNCHANGED))
    plain = decode(b"U" + struct.pack("!I", 1) + b"N" + _tuple("2", ""))
    assert plain == pgoutput.Update(1, None, False, (b"2", b""))  # "" is not NULL
    delete = decode(b"D" + struct.pack("!I", 1) + b"O" + _tuple("2", "x"))
    assert delete == pgoutput.Delete(1, (b"2", b"x"), old_is_key=False)


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"Z",
        b"B" + b"\0" * 10,  # truncated
        b"I" + struct.pack("!I", 1) + b"N" + struct.pack("!h", 1) + b"t" + struct.pack("!i", 9),
        b"I" + struct.pack("!I", 1) + b"N" + struct.pack("!h", 1) + b"b",  # binary: v2 only
        b"I" + struct.pack("!I", 1) + b"N" + struct.pack("!h", 1) + b"t" + struct.pack("!i", -1),
        b"I" + struct.pack("!I", 1) + b"N" + struct.pack("!h", 2) + b"n",  # a column short
        b"U" + struct.pack("!I", 1) + b"K" + struct.pack("!h", 1) + b"n",  # no new tuple
        b"C" + struct.pack("!BQQq", 0, 1, 2, 3) + b"extra",
    ],
)
def test_refuses_malformed_messages(message: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(message)


def test_lsn_text_round_trip() -> None:
    assert pgoutput.lsn_to_int("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert pgoutput.int_to_lsn((0x16 << 32) | 0xB374D848) == "16/B374D848"


def _messages(*items):
    return iter(enumerate(items, start=1000))


RELATION = pgoutput.Relation(
    7,
    "cdc",
    "t",
    "f",  # REPLICA IDENTITY FULL flags every column as key
    (
        pgoutput.RelationColumn("id", 23, -1, True),
        pgoutput.RelationColumn("v", 25, -1, True),
    ),
)


def test_transactions_split_big_ones_and_keep_full_identity_updates(monkeypatch) -> None:
    monkeypatch.setattr(changes_module, "CHUNK_CHANGES", 2)
    begin = pgoutput.Begin(1, pgoutput.PG_EPOCH, 5)
    commit = pgoutput.Commit(0, 2, 3, pgoutput.PG_EPOCH)
    found = list(
        changes_module.transactions(
            _messages(
                begin,
                RELATION,
                pgoutput.Insert(7, ("1", "a")),
                pgoutput.Insert(7, ("2", "b")),
                pgoutput.Update(7, ("1", "a"), False, ("1", UNCHANGED)),
                commit,
            ),
            ("cdc", "t"),
            ["id"],
        )
    )
    assert [(t.end_lsn, [c.kind for c in t.changes]) for t in found] == [
        (None, ["insert", "insert"]),  # a chunk of a big transaction: not bookmarkable
        (3, ["update"]),  # the primary key did not change: no delete
    ]
    assert found[1].changes[0].values == ("1", "a")  # the unchanged value from the old row


def test_transactions_refuse_changes_of_a_dropped_incarnation_of_their_table() -> None:
    messages = _messages(
        pgoutput.Begin(1, pgoutput.PG_EPOCH, 5), RELATION, pgoutput.Insert(7, ("1", "a"))
    )
    with pytest.raises(LogBasedError, match="dropped and created again"):
        list(changes_module.transactions(messages, ("cdc", "t"), ["id"], table_oid=8))


def test_transactions_refuse_a_truncate_of_their_table() -> None:
    messages = _messages(
        pgoutput.Begin(1, pgoutput.PG_EPOCH, 5),
        RELATION,
        pgoutput.Truncate((7,), cascade=False, restart_identity=False),
    )
    with pytest.raises(LogBasedError, match=r"cdc\.t was truncated"):
        list(changes_module.transactions(messages, ("cdc", "t"), ["id"]))


# -- real slots ------------------------------------------------------------------------


def is_end_record(record: dict) -> bool:
    """A snapshot's end record (cdc/generations.py): nothing but its generation."""
    generation = record.get(generations.SNAPSHOT_COLUMN)
    return generation is not None and all(
        value is None for name, value in record.items() if name != generations.SNAPSHOT_COLUMN
    )


def records(messages: list[dict], stream: str) -> list[dict]:
    """The stream's row records, without the snapshot's end record."""
    return [r for r in all_records(messages, stream) if not is_end_record(r)]


def log_based_config(tap_config: dict, *streams: str, **extra) -> dict:
    return {
        **tap_config,
        "schemas": ["cdc"],
        "stream_options": {s: {"replication_method": "LOG_BASED"} for s in streams},
        **extra,
    }


def changes(rows: list[dict], key: str = "id") -> list[tuple]:
    """(kind, key) of each change record, in order."""
    return [
        ("delete" if row["_sdc_deleted_at"] else "upsert", row[key], row["_sdc_lsn"] is not None)
        for row in rows
    ]


def test_snapshot_then_inserts_updates_deletes_exactly_once(tap_config, cdc, tmp_path) -> None:
    cdc.execute(
        "create table cdc.items (id int primary key, name text not null, price numeric(10,2));"
        "insert into cdc.items select i, 'item ' || i, i * 1.5 from generate_series(1, 20) i"
    )
    config = log_based_config(tap_config, "cdc-items")
    first, _ = run_tap(config, tmp_path)
    snapshot = records(first, "cdc-items")
    assert sorted(r["id"] for r in snapshot) == list(range(1, 21))
    state = last_state(first)
    assert state["bookmarks"]["cdc-items"]["lsn"] > 0
    schema = next(m for m in first if m["type"] == "SCHEMA")["schema"]["properties"]
    assert schema["_sdc_deleted_at"]["format"] == "date-time"
    assert "null" in schema["name"]["type"]  # NOT NULL, yet a delete carries only the key

    log = []
    cdc.execute("insert into cdc.items values (21, 'new', 9.99), (22, 'newer', null)")
    log += [("upsert", 21, True), ("upsert", 22, True)]
    cdc.execute("update cdc.items set price = 0.10 where id in (3, 21)")
    log += [("upsert", 3, True), ("upsert", 21, True)]
    cdc.execute("delete from cdc.items where id in (5, 22)")
    log += [("delete", 5, True), ("delete", 22, True)]
    cdc.execute("update cdc.items set id = 100 where id = 7")  # a new key: delete + insert
    log += [("delete", 7, True), ("upsert", 100, True)]

    second, _ = run_tap(config, tmp_path, state=state)
    emitted = records(second, "cdc-items")
    assert changes(emitted) == log
    by_kind = {(changes([r])[0][0], r["id"]): r for r in emitted}
    assert by_kind[("upsert", 3)]["price"] == "0.10" and by_kind[("upsert", 3)]["name"] == "item 3"
    assert by_kind[("delete", 5)]["name"] is None
    assert by_kind[("delete", 5)]["_sdc_deleted_at"].endswith("+00:00")
    # (_sdc_lsn, key) names one change: a key-changing update is one WAL record, two changes
    lsns = [(r["_sdc_lsn"], r["id"]) for r in emitted]
    assert len(set(lsns)) == len(lsns)

    third, _ = run_tap(config, tmp_path, state=last_state(second))
    assert records(third, "cdc-items") == []  # nothing twice


def slot_position(conn, stream_table: str) -> int:
    (position,) = conn.execute(
        "select confirmed_flush_lsn - '0/0'::pg_lsn from pg_replication_slots"
        " where database = current_database() and slot_name like %s",
        [f"%\\_cdc\\_{stream_table}\\_%"],
    ).fetchone()
    return int(position)


def test_state_not_persisted_means_the_same_changes_again(tap_config, cdc, tmp_path) -> None:
    cdc.execute(
        "create table cdc.accounts (id int primary key, balance numeric);"
        "insert into cdc.accounts select i, 0 from generate_series(1, 5) i"
    )
    config = log_based_config(tap_config, "cdc-accounts", state_every_n_rows=2)
    persisted = last_state(run_tap(config, tmp_path)[0])
    cdc.execute("update cdc.accounts set balance = balance + 1 where id <= 3")
    cdc.execute("delete from cdc.accounts where id = 4")
    cdc.execute("insert into cdc.accounts values (6, 6)")
    expected = [("upsert", 1, True), ("upsert", 2, True), ("upsert", 3, True)]
    expected += [("delete", 4, True), ("upsert", 6, True)]

    lost_run, _ = run_tap(config, tmp_path, state=persisted)  # its STATE never persisted
    assert changes(records(lost_run, "cdc-accounts")) == expected
    # the slot is confirmed only to what the persisted STATE holds, never further
    assert slot_position(cdc, "accounts") <= persisted["bookmarks"]["cdc-accounts"]["lsn"]

    again, _ = run_tap(config, tmp_path, state=persisted)
    assert records(again, "cdc-accounts") == records(lost_run, "cdc-accounts")

    newer = last_state(again)
    cdc.execute("update cdc.accounts set balance = 10 where id = 1")
    after, _ = run_tap(config, tmp_path, state=newer)
    assert changes(records(after, "cdc-accounts")) == [("upsert", 1, True)]
    assert slot_position(cdc, "accounts") == newer["bookmarks"]["cdc-accounts"]["lsn"]

    # a state older than the slot's position: the changes between are gone, and it says so
    run_tap(config, tmp_path, state=last_state(after))  # confirms `after`'s bookmark
    stale = run_singer(TAP, config, tmp_path, state=persisted, check=False)
    assert stale.result.returncode != 0
    assert "past the bookmark" in stale.result.stderr


def test_change_values_equal_the_full_table_path(tap_config, cdc, tmp_path) -> None:
    setup = FIDELITY_SETUP.replace("table if exists fidelity", "table if exists cdc.fidelity")
    setup = setup.replace("create table fidelity", "create table cdc.fidelity")
    setup = setup.replace("insert into fidelity", "insert into cdc.fidelity")
    setup = setup.replace("type if exists mood", "type if exists cdc_mood").replace(
        "create type mood", "create type cdc_mood"
    )
    cdc.execute(setup.replace("feeling mood", "feeling cdc_mood"))
    config = log_based_config(tap_config, "cdc-fidelity")
    state = last_state(run_tap(config, tmp_path)[0])
    cdc.execute(
        "insert into cdc.fidelity select id + 100, small, big, money_exact, free_numeric,"
        " real_value, double_value, flag, naive, zoned, day, clock, doc, docb, ints, texts,"
        " uid, raw, feeling, note, floats, amounts from cdc.fidelity"
    )
    cdc.execute("update cdc.fidelity set note = note where id <= 3")
    changed, _ = run_tap(config, tmp_path, state=state)
    full, _ = run_tap({**tap_config, "schemas": ["cdc"]}, tmp_path)
    expected = {r["id"]: r for r in records(full, "cdc-fidelity")}
    emitted = records(changed, "cdc-fidelity")
    assert len(emitted) == 7  # 4 inserts, 3 updates
    for row in emitted:
        values = {k: v for k, v in row.items() if not k.startswith("_sdc_")}
        assert values == expected[row["id"]], row["id"]


def test_unchanged_toasted_value_is_never_null(tap_config, cdc, tmp_path) -> None:
    big = "select string_agg(md5(random()::text), '') from generate_series(1, 400)"  # ~12 kB
    cdc.execute(
        "create table cdc.docs (id int primary key, body text, n int);"
        "create table cdc.docs_full (id int primary key, body text, n int);"
        "alter table cdc.docs_full replica identity full;"
        f"insert into cdc.docs values (1, ({big}), 0), (2, ({big}), 0);"
        "insert into cdc.docs_full select * from cdc.docs"
    )
    bodies = dict(cdc.execute("select id, body from cdc.docs").fetchall())
    config = log_based_config(tap_config, "cdc-docs", "cdc-docs_full")
    state = last_state(run_tap(config, tmp_path)[0])
    cdc.execute("update cdc.docs set n = 1; update cdc.docs_full set n = 1")
    # the value pgoutput leaves out really is the 'u' marker (checked on the slot)
    cdc.execute("delete from cdc.docs where id = 2")  # gone before the run: update skipped
    messages, _ = run_tap(config, tmp_path, state=state)
    plain = records(messages, "cdc-docs")
    assert [(r["id"], r["n"], r["body"]) for r in plain if not r["_sdc_deleted_at"]] == [
        (1, 1, bodies[1])
    ]
    assert [r["id"] for r in plain if r["_sdc_deleted_at"]] == [2]
    full = records(messages, "cdc-docs_full")
    assert sorted((r["id"], r["n"], r["body"]) for r in full) == [
        (1, 1, bodies[1]),
        (2, 1, bodies[2]),
    ]


def test_truncate_is_a_clear_error(tap_config, cdc, tmp_path) -> None:
    cdc.execute("create table cdc.scratch (id int primary key); insert into cdc.scratch values (1)")
    config = log_based_config(tap_config, "cdc-scratch")
    state = last_state(run_tap(config, tmp_path)[0])
    cdc.execute("insert into cdc.scratch values (2)")
    cdc.execute("truncate cdc.scratch")
    run = run_singer(TAP, config, tmp_path, state=state, check=False)
    assert run.result.returncode != 0
    assert "cdc.scratch was truncated" in run.result.stderr
    assert [r["id"] for r in run.records["cdc-scratch"]] == [2]  # what came before it
    bookmark = state["bookmarks"]["cdc-scratch"]["lsn"]
    assert run.states[-1]["bookmarks"]["cdc-scratch"]["lsn"] > bookmark  # the insert's end


def test_added_column_sends_a_new_schema(tap_config, cdc, tmp_path) -> None:
    cdc.execute(
        "create table cdc.grows (id int primary key, a text); insert into cdc.grows values (1, 'x')"
    )
    # LOG_BASED set in the catalog alone (as Meltano passes it), made before the ALTER
    config = {**tap_config, "schemas": ["cdc"]}
    catalog = selecting(discover(config, tmp_path), {"cdc-grows": []})
    for entry in catalog["streams"]:
        entry["replication_method"] = "LOG_BASED"
    with_catalog = write_catalog(catalog, tmp_path)
    state = last_state(run_tap(config, tmp_path, extra=with_catalog)[0])
    assert state["bookmarks"]["cdc-grows"]["lsn"] > 0
    cdc.execute("insert into cdc.grows values (2, 'y')")
    cdc.execute("alter table cdc.grows add column amount numeric(8, 3)")
    cdc.execute("insert into cdc.grows values (3, 'z', 1.5)")
    messages, _ = run_tap(config, tmp_path, state=state, extra=with_catalog)
    ours = [m for m in messages if m.get("stream") == "cdc-grows"]
    kinds = [(m["type"], m.get("record", {}).get("id")) for m in ours]
    assert kinds == [("SCHEMA", None), ("RECORD", 2), ("SCHEMA", None), ("RECORD", 3)]
    schemas = [m["schema"]["properties"] for m in ours if m["type"] == "SCHEMA"]
    assert "amount" not in schemas[0] and schemas[1]["amount"]["format"] == "x-singer.decimal"
    assert records(messages, "cdc-grows")[1]["amount"] == "1.500"


def test_log_based_needs_a_primary_key_before_any_record(tap_config, cdc, tmp_path) -> None:
    cdc.execute("create table cdc.keyless (v int)")
    config = log_based_config(tap_config, "cdc-keyless")
    run = run_singer(TAP, config, tmp_path, check=False)
    assert run.result.returncode != 0 and run.messages == []
    assert "stream_options.cdc-keyless: LOG_BASED needs a table with a primary key" in (
        run.result.stderr
    )


def test_drop_command_and_retained_wal_warning(tap_config, cdc, tmp_path) -> None:
    cdc.execute("create table cdc.dropme (id int primary key); insert into cdc.dropme values (1)")
    config = log_based_config(tap_config, "cdc-dropme", log_based_max_retained_wal_bytes=1)
    first = run_singer(TAP, config, tmp_path)
    assert "over log_based_max_retained_wal_bytes" in first.result.stderr
    config_file = tmp_path / "drop-config.json"
    config_file.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_ecommerce_postgres.cdc.drop"]
    state_file = tmp_path / "drop-state.json"
    state_file.write_text(json.dumps(first.states[-1]))
    dropped = subprocess.run(
        [*command, "--config", str(config_file), "--state", str(state_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert dropped.stdout.count("dropped") == 2  # this state's slot and the publication
    names = [line.split()[-1] for line in dropped.stdout.splitlines()]
    assert not cdc.execute(
        "select 1 from pg_replication_slots where slot_name = any(%s)"
        " union all select 1 from pg_publication where pubname = any(%s)",
        [names, names],
    ).fetchall()
    # the old bookmark without its slot: refused, never a silent gap
    stale = run_singer(TAP, config, tmp_path, state=first.states[-1], check=False)
    assert stale.result.returncode != 0 and "is gone" in stale.result.stderr


def test_least_privilege_role_with_replication_and_select(
    pg_env, tap_config, cdc, tmp_path
) -> None:
    role = pg_env["TAP_PG_USER"]
    cdc.execute(
        "create table cdc.narrow (id int primary key, v text);"  # v: also a name in the query
        "insert into cdc.narrow values (1, 'a')"
    )
    cdc.execute(f'grant usage on schema cdc to "{role}"; grant select on cdc.narrow to "{role}"')
    (had_replication,) = cdc.execute(
        "select rolreplication from pg_roles where rolname = %s", [role]
    ).fetchone()
    cdc.execute(f'alter role "{role}" noreplication')  # the sandbox may have granted it
    config = log_based_config(
        {**tap_config, "user": role, "password": pg_env["TAP_PG_PASSWORD"]}, "cdc-narrow"
    )
    no_publication = run_singer(TAP, config, tmp_path, check=False)
    assert no_publication.result.returncode != 0
    command = re.search(
        r"ask a DBA to run: (create publication \S+ for table \S+)", no_publication.result.stderr
    )
    assert command, no_publication.result.stderr[-2000:]
    cdc.execute(command.group(1))  # the DBA (table owner) creates it once
    no_replication = run_singer(TAP, config, tmp_path, check=False)
    assert no_replication.result.returncode != 0
    assert "needs the REPLICATION attribute" in no_replication.result.stderr
    cdc.execute(f'alter role "{role}" replication')
    try:
        first = run_singer(TAP, config, tmp_path)
        cdc.execute("update cdc.narrow set v = 'b'")
        second = run_singer(TAP, config, tmp_path, state=first.states[-1])
    finally:
        restored = "replication" if had_replication else "noreplication"
        cdc.execute(f'alter role "{role}" {restored}')
    assert [r["v"] for r in records(first.messages, "cdc-narrow")] == ["a"]
    assert [r["v"] for r in second.records["cdc-narrow"]] == ["b"]


def test_sigkill_mid_stream_then_resume_delivers_every_change(tap_config, cdc, tmp_path) -> None:
    cdc.execute("create table cdc.ledger (id int primary key, amount numeric(12, 2))")
    config = log_based_config(tap_config, "cdc-ledger", state_every_n_rows=1)
    start = last_state(run_tap(config, tmp_path)[0])
    for i in range(1, 41):  # 40 transactions: a STATE after each
        cdc.execute("insert into cdc.ledger values (%s, %s)", [i, i / 4])
    cdc.execute("delete from cdc.ledger where id <= 5")
    config_file = tmp_path / "kill-config.json"
    config_file.write_text(json.dumps(config))
    state_file = tmp_path / "kill-state.json"
    state_file.write_text(json.dumps(start))
    process = subprocess.Popen(
        [TAP, "--config", str(config_file), "--state", str(state_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first_run, persisted = [], None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == "cdc-ledger":
            first_run.append(message["record"])
        elif message["type"] == "STATE" and len(first_run) >= 10:
            persisted = message["value"]  # what the target confirmed before the kill
            process.kill()
            break
    process.wait()
    process.stdout.close()
    assert persisted is not None and len(first_run) < 45
    assert persisted["bookmarks"]["cdc-ledger"]["lsn"] > start["bookmarks"]["cdc-ledger"]["lsn"]
    resumed = records(run_tap(config, tmp_path, state=persisted)[0], "cdc-ledger")
    union = {(r["_sdc_lsn"], r["id"], r["_sdc_deleted_at"] is not None) for r in first_run}
    union |= {(r["_sdc_lsn"], r["id"], r["_sdc_deleted_at"] is not None) for r in resumed}
    assert sorted((i, d) for _, i, d in union) == sorted(
        [(i, False) for i in range(1, 41)] + [(i, True) for i in range(1, 6)]
    )


# Only types record_json.py renders itself, with every value it must hand to Postgres
# instead (NaN, infinities, BC, years past 9999) and text that needs escaping.
PYTHON_RENDERED_SETUP = """
create table cdc.plain (
    id int primary key, small smallint, big bigint, exact numeric, cents numeric(10, 2),
    real_value real, double_value double precision, flag boolean, note text,
    short varchar(20), code char(3), uid uuid, naive timestamp, zoned timestamptz,
    day date, clock time, doc json, docb jsonb
)
"""
PYTHON_RENDERED_ROWS = """
insert into cdc.plain values
 (1, -32768, 9223372036854775807, 1234567890123456789012345678.0123456789, 12.30, 1.5,
  0.1, true, 'Zoë 東京 🚀 "quoted" \\ back', 'tab\there', 'ab',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '2025-03-09 02:30:00.123456', '2025-11-28 23:59:59.999999-05', '2024-02-29', '23:59:59.999999',
  '{"a": [1, {"b": null}]}', '{"z": {"y": "ü"}}'),
 (2, null, null, 'NaN', 'NaN', 'NaN', 'Infinity', false, E'new\\nline\\u0001', '', 'x',
  null, 'infinity', '-infinity', 'infinity', null, 'null', '[]'),
 (3, 0, 0, '-Infinity', -0.01, '-0', 1e100, null, '', null, null, null,
  '0001-01-01 00:00:00', '2025-01-01 00:00:00+00', '0044-03-15 BC', '00:00:00', '3', '"text"'),
 (4, 1, 2, 0.000000000000000000001, 0, 1.25e-5, -2.5e-300, true, 'plain', 'v', 'abc', null,
  '10000-01-01 00:00:00', '2024-06-01 12:00:00.5+02', '2025-12-31', null, '{}', '{}');
update cdc.plain set note = note || '!' where id = 4;
delete from cdc.plain where id = 3;
"""


def test_python_rendering_equals_postgres_rendering_and_the_full_table_path(
    tap_config, cdc, tmp_path, monkeypatch
) -> None:
    """record_json.py (the fast renderer) and Postgres's rendering give the same
    records for the same changes (the slot is only peeked: both runs read the same
    changes), and the rows equal a full read of the table."""
    cdc.execute(PYTHON_RENDERED_SETUP)
    config = log_based_config(tap_config, "cdc-plain")
    state = last_state(run_tap(config, tmp_path)[0])
    cdc.execute(PYTHON_RENDERED_ROWS)
    fast = run_singer(TAP, config, tmp_path, state=state)
    monkeypatch.setenv("TAP_ECOMMERCE_POSTGRES_CDC_POSTGRES_RENDERING", "1")
    slow = run_singer(TAP, config, tmp_path, state=state)
    monkeypatch.delenv("TAP_ECOMMERCE_POSTGRES_CDC_POSTGRES_RENDERING")
    assert fast.records["cdc-plain"] == slow.records["cdc-plain"]
    assert len(fast.records["cdc-plain"]) == 6  # 4 inserts, 1 update, 1 delete
    # Python: rows 1 and 4 (inserts), 4's update and 3's delete (plain values only);
    # Postgres: rows 2 and 3 (NaN, infinities, BC)
    assert "4 rendered in Python, 2 by Postgres" in fast.result.stderr
    assert re.search(r"0 rendered in Python, 6 by Postgres", slow.result.stderr)
    full = run_singer(TAP, {**tap_config, "schemas": ["cdc"]}, tmp_path)
    expected = {r["id"]: r for r in full.records["cdc-plain"]}
    latest = {}
    for row in fast.records["cdc-plain"]:
        latest[row["id"]] = row
    assert latest[3]["_sdc_deleted_at"] is not None and 3 not in expected
    for key, row in latest.items():
        if key != 3:
            assert {k: v for k, v in row.items() if not k.startswith("_sdc_")} == expected[key]


def test_change_during_the_initial_snapshot_is_neither_lost_nor_doubled(
    tap_config, cdc, tmp_path
) -> None:
    """The snapshot is read in the snapshot the slot exported when it was created: a
    change committed while the read is under way (the tap blocked on a full stdout pipe
    half-way through) is not in the snapshot, even for rows read after it, and comes
    exactly once from the slot in the next run."""
    cdc.execute(
        "create table cdc.busy (id int primary key, v text);"
        "insert into cdc.busy select i, 'v' || i from generate_series(1, 20000) as i"
    )
    config = log_based_config(tap_config, "cdc-busy", parallel_readers=2)
    config_file = tmp_path / "busy-config.json"
    config_file.write_text(json.dumps(config))
    stderr_file = tmp_path / "busy-stderr.log"
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen(
            [TAP, "--config", str(config_file)], stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            for _ in range(600):  # the slot is created, its snapshot exported
                if re.search(r"snapshot \S+ of slot", stderr_file.read_text()):
                    break
                time.sleep(0.05)
            else:
                pytest.fail(stderr_file.read_text()[-2000:])
            time.sleep(0.5)  # the tap fills the pipe (~2 MB of records) and blocks
            assert process.poll() is None, "the snapshot must still be under way"
            log = [("upsert", 1), ("upsert", 20000), ("upsert", 20001), ("delete", 10000)]
            cdc.execute("update cdc.busy set v = 'changed' where id in (1, 20000)")
            cdc.execute("insert into cdc.busy values (20001, 'new')")
            cdc.execute("delete from cdc.busy where id = 10000")
            output, _ = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr_file.read_text()[-2000:]
    messages = [json.loads(line) for line in output.splitlines()]
    snapshot = {r["id"]: r["v"] for r in records(messages, "cdc-busy")}
    assert len(snapshot) == 20000 and len(records(messages, "cdc-busy")) == 20000
    assert snapshot[1] == "v1" and snapshot[20000] == "v20000"  # before the changes
    assert 10000 in snapshot and 20001 not in snapshot
    later = records(run_tap(config, tmp_path, state=last_state(messages))[0], "cdc-busy")
    assert [
        ("delete" if r["_sdc_deleted_at"] else "upsert", r["id"]) for r in later
    ] == log  # each change once, in commit order
    applied = dict(snapshot)
    for row in later:
        if row["_sdc_deleted_at"]:
            del applied[row["id"]]
        else:
            applied[row["id"]] = row["v"]
    assert applied == dict(cdc.execute("select id, v from cdc.busy").fetchall())


def test_readers_join_the_snapshot_the_slot_exported(tap_config, cdc) -> None:
    """Both read paths (ADBC readers, in parallel, and the SDK path's psycopg cursor)
    see the table as of the slot's consistent point, not as of their own start: a row
    inserted after the slot was created is not there (it is the slot's first change)."""
    cdc.execute("create table cdc.joined (id int primary key); insert into cdc.joined values (1)")
    parameters = ConnectionParameters.from_config(tap_config)
    sessions = AdbcSessions(parameters)
    select = "select id from cdc.joined order by id"
    try:
        with slots.created_with_snapshot(parameters, "test_joined_snapshot") as (_, snapshot):
            cdc.execute("insert into cdc.joined values (2)")
            batches = sliced_batches(sessions, [select, select], 2, snapshot)
            adbc_ids = [i for batch in batches for i in batch.column(0).to_pylist()]
            cursor_ids = [r[0] for r in prefetched_rows(parameters, sql.SQL(select), [], snapshot)]
            own_ids = [
                i for b in sliced_batches(sessions, [select], 1) for i in b.column(0).to_pylist()
            ]
    finally:
        sessions.close()
        cdc.execute("select pg_drop_replication_slot('test_joined_snapshot')")
    assert adbc_ids == [1, 1] and cursor_ids == [1]
    assert own_ids == [1, 2]  # without the slot's snapshot: the insert is seen


def test_max_run_seconds_ends_the_run_at_a_transaction_and_the_rest_follows(
    tap_config, cdc, tmp_path
) -> None:
    cdc.execute("create table cdc.paced (id int primary key)")
    config = log_based_config(tap_config, "cdc-paced")
    start = last_state(run_tap(config, tmp_path)[0])
    for i in range(1, 201):  # 200 transactions
        cdc.execute("insert into cdc.paced values (%s)", [i])
    short = run_singer(TAP, {**config, "log_based_max_run_seconds": 0.001}, tmp_path, state=start)
    assert "log_based_max_run_seconds (0.001) reached" in short.result.stderr
    first = [r["id"] for r in short.records["cdc-paced"]]
    assert 1 <= len(first) < 200 and first == list(range(1, len(first) + 1))
    rest = run_singer(TAP, config, tmp_path, state=short.states[-1])
    assert first + [r["id"] for r in rest.records["cdc-paced"]] == list(range(1, 201))


def gzip_lines(path: str) -> list[str]:
    with gzip.open(path, "rt") as lines:
        return list(lines)


@pytest.mark.parametrize("encoding", ["parquet", "jsonl"])  # the tap's Arrow path, the SDK's
def test_batch_config_snapshot_as_batch_files_then_changes_as_records(
    tap_config, cdc, tmp_path, encoding
) -> None:
    table = f"batched_{encoding}"
    cdc.execute(
        f"create table cdc.{table} (id int primary key, amount numeric(12, 2));"
        f"insert into cdc.{table} select i, i / 4.0 from generate_series(1, 250) as i"
    )
    batches = tmp_path / "batches"
    batch_config = {
        "encoding": {"format": encoding, "compression": "gzip"},
        "storage": {"root": batches.as_uri()},
        "batch_size": 100,
    }
    stream = f"cdc-{table}"
    config = log_based_config(tap_config, stream, batch_config=batch_config)
    only = write_catalog(selecting(discover(config, tmp_path), {stream: []}), tmp_path)
    first = run_singer(TAP, config, tmp_path, extra=only)
    files = [
        url.removeprefix("file://")
        for m in first.messages
        if m["type"] == "BATCH" and m["stream"] == stream
        for url in m["manifest"]
    ]
    assert len(files) == 3  # 100 + 100 + 50 rows, then the snapshot's end record
    assert [is_end_record(r) for r in first.records[stream]] == [True]
    if encoding == "parquet":
        rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    else:
        rows = [json.loads(line) for f in files for line in gzip_lines(f)]
    assert sorted(int(r["id"]) for r in rows) == list(range(1, 251))
    assert first.states[-1]["bookmarks"][stream]["lsn"] > 0
    cdc.execute(
        f"update cdc.{table} set amount = 0 where id = 7; delete from cdc.{table} where id = 8"
    )
    second = run_singer(TAP, config, tmp_path, state=first.states[-1], extra=only)
    assert not [m for m in second.messages if m["type"] == "BATCH"]
    assert changes(second.records[stream]) == [("upsert", 7, True), ("delete", 8, True)]


def test_two_states_of_one_table_keep_slots_of_their_own(tap_config, cdc, tmp_path) -> None:
    """Two Meltano states reading one table with the same prefix (a person's run beside
    the schedule's): a fresh state never moves or drops the other's slot; each gets
    every change; the other slot is reported with the WAL it retains."""
    cdc.execute("create table cdc.shared (id int primary key); insert into cdc.shared values (1)")
    config = log_based_config(tap_config, "cdc-shared")
    first = run_singer(TAP, config, tmp_path)
    cdc.execute("insert into cdc.shared values (2)")
    second = run_singer(TAP, config, tmp_path)  # no state: a new snapshot
    assert [r["id"] for r in records(second.messages, "cdc-shared")] == [1, 2]
    own = [s["bookmarks"]["cdc-shared"]["slot"] for s in (first.states[-1], second.states[-1])]
    assert own[0] != own[1]
    assert f"slot {own[0]} (retains" in second.result.stderr  # not this state's: reported
    cdc.execute("insert into cdc.shared values (3)")
    for run, expected in ((first, [2, 3]), (second, [3])):
        later = run_singer(TAP, config, tmp_path, state=run.states[-1])
        assert [r["id"] for r in later.records["cdc-shared"]] == expected
