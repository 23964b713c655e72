"""LOG_BASED edge cases of issue #22, each against the real sandbox Postgres: the run's
end point under asynchronous commit, partitioned tables, replica identities CDC cannot
represent, unchanged-TOAST re-reads, enum and domain changes after the fact, slots that
must not leak and a drop command that must not overreach.

Every test works on its own table in schema `cdc` of the module's scratch database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from tap_ecommerce_postgres.cdc import changes as changes_module
from tap_ecommerce_postgres.cdc import pgoutput
from tap_ecommerce_postgres.cdc import slot as slots

from tests.singer import run_singer
from tests.tap_ecommerce_postgres.conftest import TAP
from tests.tap_ecommerce_postgres.test_log_based import is_end_record, log_based_config
from tests.warm_start import COLD_POPEN


def rows(run, stream: str) -> list[dict]:
    """The stream's row records of a run, without a snapshot's end record."""
    return [r for r in run.records[stream] if not is_end_record(r)]


def test_asynchronous_commits_are_never_skipped(tap_config, cdc, tmp_path) -> None:
    """Commits on `synchronous_commit = off` reach the WAL's *written* position before its
    *flushed* one, and logical decoding reads only flushed WAL. A run that ends (and
    bookmarks) at the written position skips the commits between the two for good; at
    the flushed position they come next run. The WAL writer is slowed down (10 s) so the
    gap is certain, not a race; a bulk insert after each commit pushes it out (written,
    not flushed). Three rounds; every committed row must arrive."""
    cdc.execute(
        "create table cdc.hurried (id int primary key);"
        "create schema ballast; create table ballast.rows (v text)"  # not read: fills WAL
    )
    config = log_based_config(tap_config, "cdc-hurried")
    state = run_singer(TAP, config, tmp_path).states[-1]
    delivered: list[int] = []
    ballast = "insert into ballast.rows select repeat('x', 200) from generate_series(1, 20000)"
    try:
        cdc.execute("alter system set wal_writer_delay = '10s'")
        cdc.execute("alter system set wal_writer_flush_after = '1GB'")
        cdc.execute("select pg_reload_conf()")
        cdc.execute("set synchronous_commit = off")
        gaps = 0
        for round_ in range(10):  # until 3 rounds had their commits written, not flushed
            cdc.execute("truncate ballast.rows")  # (a truncate flushes the WAL)
            cdc.execute("select pg_switch_wal()")  # a new segment: room for 2 ballasts
            cdc.execute(ballast)
            for i in range(5):
                cdc.execute("insert into cdc.hurried values (%s)", [round_ * 10 + i])
            (committed,) = cdc.execute("select pg_current_wal_insert_lsn()").fetchone()
            cdc.execute(ballast)  # pushed out (written), not flushed
            (gap,) = cdc.execute(
                "select pg_current_wal_flush_lsn() < %s and pg_current_wal_lsn() > %s",
                [committed, committed],
            ).fetchone()
            run = run_singer(TAP, config, tmp_path, state=state)
            delivered += [r["id"] for r in rows(run, "cdc-hurried")]
            state = run.states[-1]
            gaps += gap
            if gaps == 3:
                break
        assert gaps == 3, "the commits were flushed at once: no gap to test"
    finally:
        cdc.execute("alter system reset wal_writer_delay")
        cdc.execute("alter system reset wal_writer_flush_after")
        cdc.execute("select pg_reload_conf()")
        cdc.execute("set synchronous_commit = on")
    cdc.execute("select pg_switch_wal()")  # everything flushed for certain
    last = run_singer(TAP, config, tmp_path, state=state)
    delivered += [r["id"] for r in rows(last, "cdc-hurried")]
    written = [row[0] for row in cdc.execute("select id from cdc.hurried order by id")]
    lost = sorted(set(written) - set(delivered))
    assert lost == [], f"{len(lost)} of {len(written)} committed inserts never arrived"
    assert sorted(delivered) == written  # and none twice


def test_partitioned_table_changes_arrive_under_its_root(tap_config, cdc, tmp_path) -> None:
    """pgoutput reports a partitioned table's changes under the partition's name unless
    its publication publishes via the partition root: they must arrive, not vanish. A
    publication a DBA made without that option is corrected (the tap owns the table)."""
    cdc.execute(
        "create table cdc.events (id int, region text, v text, primary key (id, region))"
        " partition by list (region);"
        "create table cdc.events_eu partition of cdc.events for values in ('eu');"
        "create table cdc.events_us partition of cdc.events for values in ('us');"
        "insert into cdc.events values (1, 'eu', 'a'), (2, 'us', 'b')"
    )
    config = log_based_config(tap_config, "cdc-events")
    names = slots.names(slots.DEFAULT_PREFIX, tap_config["database"], "cdc", "events")
    cdc.execute(f'create publication "{names.publication}" for table cdc.events')  # a DBA's
    first = run_singer(TAP, config, tmp_path)
    assert sorted(r["id"] for r in rows(first, "cdc-events")) == [1, 2]
    cdc.execute("insert into cdc.events values (3, 'eu', 'c')")
    cdc.execute("update cdc.events set v = 'B' where id = 2")
    second = run_singer(TAP, config, tmp_path, state=first.states[-1])
    assert [(r["id"], r["region"], r["v"]) for r in rows(second, "cdc-events")] == [
        (3, "eu", "c"),
        (2, "us", "B"),
    ]


@pytest.mark.parametrize(
    ("table", "setup", "fix"),
    [
        ("nothing", "alter table cdc.nothing replica identity nothing", "IDENTITY DEFAULT"),
        (
            "deferred",
            "alter table cdc.deferred drop constraint deferred_pkey;"
            "alter table cdc.deferred add primary key (id) deferrable initially deferred",
            "IDENTITY FULL",
        ),
        (
            "by_code",
            "alter table cdc.by_code add column code text not null default 'x';"
            "update cdc.by_code set code = 'c' || id;"
            "create unique index by_code_code on cdc.by_code (code);"
            "alter table cdc.by_code replica identity using index by_code_code",
            "IDENTITY DEFAULT",
        ),
    ],
)
def test_replica_identity_cdc_cannot_represent_is_refused_before_publishing(
    tap_config, cdc, tmp_path, table, setup, fix
) -> None:
    """Refused before any publication or slot exists (else the shop's own UPDATEs and
    DELETEs fail, or deletes arrive without a key), naming the table and the fix."""
    cdc.execute(
        f"create table cdc.{table} (id int primary key, v text);"
        f"insert into cdc.{table} values (1, 'a'), (2, 'b'); {setup}"
    )
    config = log_based_config(tap_config, f"cdc-{table}")
    run = run_singer(TAP, config, tmp_path, check=False)
    assert run.result.returncode != 0
    assert f"run ALTER TABLE cdc.{table} REPLICA {fix}" in run.result.stderr
    names = slots.names(slots.DEFAULT_PREFIX, tap_config["database"], "cdc", table)
    assert not cdc.execute(
        "select 1 from pg_publication where pubname = %s"
        " union all select 1 from pg_replication_slots where slot_name like %s",
        [names.publication, names.slot + "%"],
    ).fetchall()
    cdc.execute(f"update cdc.{table} set v = 'changed' where id = 1")  # the shop's own
    cdc.execute(f"delete from cdc.{table} where id = 2")


def stream_slots(conn, table: str) -> list[str]:
    names = slots.names(slots.DEFAULT_PREFIX, conn.info.dbname, "cdc", table)
    return [name for name, _ in slots.stream_slots(conn, names.slot)]


def test_first_run_killed_before_its_first_state_leaves_no_slot(tap_config, cdc, tmp_path) -> None:
    """The slot's name is in a STATE before the slot exists: the state a killed first
    run left re-uses its own slot's name (the slot dropped and created again), and no
    slot of the table is left for nobody."""
    cdc.execute(
        "create table cdc.killed (id int primary key, v text);"
        "insert into cdc.killed select i, repeat('v', 100) from generate_series(1, 30000) i"
    )
    config = log_based_config(tap_config, "cdc-killed", state_every_n_rows=1_000_000)
    config_file = tmp_path / "killed-config.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.Popen(
        [TAP, "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    persisted = None
    try:
        for line in process.stdout:
            message = json.loads(line)
            if message["type"] == "STATE":
                persisted = message["value"]
            elif message["type"] == "RECORD" and message["stream"] == "cdc-killed":
                break  # the snapshot is under way: its slot exists
    finally:
        process.kill()
        process.wait()
    assert len(stream_slots(cdc, "killed")) == 1
    rerun = run_singer(TAP, config, tmp_path, state=persisted)
    assert len(rows(rerun, "cdc-killed")) == 30000
    assert stream_slots(cdc, "killed") == [rerun.states[-1]["bookmarks"]["cdc-killed"]["slot"]]


def test_orphan_slot_over_the_retained_wal_limit_is_dropped(tap_config, cdc, tmp_path) -> None:
    """A slot of the table that no state names (a cleared state) retains WAL forever:
    over `log_based_max_retained_wal_bytes` and idle, it is dropped, with a WARNING."""
    cdc.execute(
        "create table cdc.orphaned (id int primary key); insert into cdc.orphaned values (1)"
    )
    config = log_based_config(tap_config, "cdc-orphaned")
    cleared = run_singer(TAP, config, tmp_path)  # its state is then lost
    orphan = cleared.states[-1]["bookmarks"]["cdc-orphaned"]["slot"]
    cdc.execute("insert into cdc.orphaned select generate_series(2, 2000)")  # WAL it retains
    small = {**config, "log_based_max_retained_wal_bytes": 1000}
    fresh = run_singer(TAP, small, tmp_path)
    assert f"dropped slot {orphan}" in fresh.result.stderr
    assert stream_slots(cdc, "orphaned") == [fresh.states[-1]["bookmarks"]["cdc-orphaned"]["slot"]]
    roomy = run_singer(TAP, config, tmp_path)  # under the limit: reported, never dropped
    assert "is not this state's" in roomy.result.stderr and len(stream_slots(cdc, "orphaned")) == 2


def test_drop_command_drops_one_states_slots_and_explains_what_it_keeps(
    pg_env, tap_config, cdc, tmp_path
) -> None:
    """Two states read one table. `--state` drops that state's slot only; the
    publication stays while the other state's slot reads it. The production role may
    not drop a publication it does not own: said, with the owner's command, exit 0."""
    cdc.execute("create table cdc.two (id int primary key); insert into cdc.two values (1)")
    config = log_based_config(tap_config, "cdc-two")
    states = [run_singer(TAP, config, tmp_path).states[-1] for _ in range(2)]
    own = [state["bookmarks"]["cdc-two"]["slot"] for state in states]
    role = pg_env["TAP_PG_USER"]
    (had_replication,) = cdc.execute(
        "select rolreplication from pg_roles where rolname = %s", [role]
    ).fetchone()

    def drop(state: dict, as_role: bool = False) -> subprocess.CompletedProcess:
        user = {"user": role, "password": pg_env["TAP_PG_PASSWORD"]} if as_role else {}
        config_file = tmp_path / "drop-config.json"
        config_file.write_text(json.dumps({**config, **user}))
        state_file = tmp_path / "drop-state.json"
        bookmarks = {**state["bookmarks"], "a_custom_query": {"replication_key_value": 1}}
        # as `meltano state get` prints it, with a custom stream's bookmark beside
        state_file.write_text(json.dumps({"singer_state": {"bookmarks": bookmarks}}))
        command = [sys.executable, "-m", "tap_ecommerce_postgres.cdc.drop"]
        return subprocess.run(
            [*command, "--config", str(config_file), "--state", str(state_file)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = drop(states[0])
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"dropped replication slot {own[0]}"]
    assert f"slot {own[1]} of another state still reads it" in first.stderr
    assert stream_slots(cdc, "two") == [own[1]]
    cdc.execute(f'alter role "{role}" replication')
    try:
        second = drop(states[1], as_role=True)
    finally:
        restored = "replication" if had_replication else "noreplication"
        cdc.execute(f'alter role "{role}" {restored}')
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [f"dropped replication slot {own[1]}"]
    assert "not this role" in second.stderr and "its owner may run: drop publication" in (
        second.stderr
    )
    assert stream_slots(cdc, "two") == []


def seq_scans(conn, table: str) -> int:
    """Sequential scans of `table` so far, once the count has settled: a server process
    reports its scans up to a second after them (PGSTAT_MIN_INTERVAL), which can be after
    the tap that caused them has exited."""
    deadline = time.monotonic() + 15
    last, since = None, time.monotonic()
    while True:
        conn.execute("select pg_stat_clear_snapshot()")
        (scans,) = conn.execute(
            "select seq_scan from pg_stat_user_tables where relid = %s::regclass", [table]
        ).fetchone()
        now = time.monotonic()
        if scans != last:
            last, since = scans, now
        elif now - since > 1.2 or now > deadline:
            return int(scans)
        time.sleep(0.2)


def test_unchanged_toast_is_reread_by_typed_key_once_per_chunk_and_marked(
    tap_config, cdc, tmp_path
) -> None:
    """Updates that leave a TOASTed value unchanged (default replica identity) have it
    read by key: one query for the chunk, through the primary key's index (a key
    compared as text scanned the whole table once per change), and each such record is
    marked, because the value read is the row's current one (here a later update's)."""
    big = "(select string_agg(md5(random()::text), '') from generate_series(1, 400))"
    cdc.execute(
        "create table cdc.toasty (id int primary key, body text, n int);"
        "insert into cdc.toasty select i, null, 0 from generate_series(1, 20000) i;"
        f"update cdc.toasty set body = {big} where id <= 40;"
        "analyze cdc.toasty"
    )
    config = log_based_config(tap_config, "cdc-toasty")
    state = run_singer(TAP, config, tmp_path).states[-1]
    cdc.execute("update cdc.toasty set n = 1 where id <= 40")  # the body stays TOASTed
    cdc.execute("update cdc.toasty set body = 'later' where id = 1")
    before = seq_scans(cdc, "cdc.toasty")
    run = run_singer(TAP, config, tmp_path, state=state)
    scans = seq_scans(cdc, "cdc.toasty") - before
    bodies = dict(cdc.execute("select id, body from cdc.toasty where id <= 40").fetchall())
    emitted = rows(run, "cdc-toasty")
    assert len(emitted) == 41
    assert scans <= 1, f"{scans} sequential scans of cdc.toasty for 40 re-read values"
    first = emitted[:40]
    assert [(r["id"], r["n"]) for r in first] == [(i, 1) for i in range(1, 41)]
    assert all(r["_sdc_toast_reread"] is True for r in first)
    assert [r["body"] for r in first] == [bodies[i] for i in range(1, 41)]
    assert first[0]["body"] == "later"  # the value now, not the one at that change
    assert "_sdc_toast_reread" not in emitted[40]  # the body was in that change
    schema = next(m for m in run.messages if m.get("stream") == "cdc-toasty")["schema"]
    assert schema["properties"]["_sdc_toast_reread"] == {"type": ["boolean", "null"]}


def test_enum_label_renamed_or_domain_check_added_later_is_no_poison_pill(
    tap_config, cdc, tmp_path
) -> None:
    """A change holds the value's text as it was. Cast to today's enum (a label renamed
    since) or domain (a NOT VALID check added since), it failed, and every later run
    failed at the same change. Rendered through the base type, it is the value it was."""
    cdc.execute(
        "create type cdc.weather as enum ('sunny', 'rainy');"
        "create domain cdc.score as numeric(6, 2);"
        "create table cdc.diary (id int primary key, sky cdc.weather, skies cdc.weather[],"
        " mark cdc.score, marks cdc.score[]);"
        "insert into cdc.diary values (1, 'sunny', '{sunny}', 1.5, '{1.5}')"
    )
    config = log_based_config(tap_config, "cdc-diary")
    state = run_singer(TAP, config, tmp_path).states[-1]
    cdc.execute("insert into cdc.diary values (2, 'rainy', '{rainy,sunny}', -3, '{-3}')")
    cdc.execute("alter type cdc.weather rename value 'rainy' to 'wet'")
    cdc.execute("alter domain cdc.score add constraint positive check (value > 0) not valid")
    full = rows(run_singer(TAP, {**tap_config, "schemas": ["cdc"]}, tmp_path), "cdc-diary")
    then = {**next(r for r in full if r["id"] == 2), "sky": "rainy", "skies": ["rainy", "sunny"]}
    assert then["mark"] == "-3.00"
    for _ in range(2):  # the same changes again (the slot is only peeked): same output
        run = run_singer(TAP, config, tmp_path, state=state, check=False)
        assert run.result.returncode == 0, run.result.stderr[-1500:]
        values = [
            {k: v for k, v in r.items() if not k.startswith("_sdc_")}
            for r in rows(run, "cdc-diary")
        ]
        assert values == [then]  # as a full read then would have had it


def peak_rss_mb(argv: list[str]) -> float:
    """Run `argv` to its end (stdout discarded); its own peak RSS in MB. Started cold: a
    warm start's process is not this one's child (no wait4) and shares the server's pages."""
    process = COLD_POPEN(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.returncode == 0, stderr[-2000:]
    return usage.ru_maxrss / 1024  # kB on Linux


def test_memory_is_bounded_by_bytes_not_by_changes(tap_config, cdc, tmp_path) -> None:
    """300 changes of 1 MB rows in one transaction: chunks were 5,000 changes whatever
    their size (and the first fetch as many messages), so all 300 MB were held several
    times over; chunks are now cut by bytes (`log_based_max_chunk_bytes`)."""
    cdc.execute(
        "create table cdc.wide (id int primary key, body text);"
        "insert into cdc.wide select i, '' from generate_series(1, 300) i"
    )
    config = log_based_config(tap_config, "cdc-wide")
    state = run_singer(TAP, config, tmp_path).states[-1]
    cdc.execute("update cdc.wide set body = left(repeat(md5(id::text), 31250), 1000000)")
    config_file = tmp_path / "wide-config.json"
    config_file.write_text(json.dumps(config))
    state_file = tmp_path / "wide-state.json"
    state_file.write_text(json.dumps(state))
    peak = peak_rss_mb([TAP, "--config", str(config_file), "--state", str(state_file)])
    # Alone this run peaks at ~240 MB; after the package's other LOG_BASED modules it
    # peaked at 638-854 MB (not explained yet: issue #22 note). Chunks by count held
    # 1,837 MB, so the bound below still fails on that regression.
    assert peak < 1000, f"peak RSS {peak:.0f} MB for 300 changes of 1 MB"
    again = run_singer(TAP, config, tmp_path, state=state)  # and every change is there
    assert [(r["id"], len(r["body"])) for r in rows(again, "cdc-wide")] == [
        (i, 1_000_000) for i in range(1, 301)
    ]


def test_big_transactions_are_cut_by_bytes_and_by_count(monkeypatch) -> None:
    meter = changes_module.ByteMeter()
    relation = pgoutput.Relation(7, "cdc", "t", "d", (pgoutput.RelationColumn("id", 23, -1, True),))
    monkeypatch.setattr(changes_module, "CHUNK_CHANGES", 4)

    def messages(sizes: list[int]):
        yield 1, pgoutput.Begin(1, pgoutput.PG_EPOCH, 5)
        yield 2, relation
        for n, size in enumerate(sizes):
            meter.read += size  # as peek() counts what it read
            yield 10 + n, pgoutput.Insert(7, (str(n).encode(),))
        yield 99, pgoutput.Commit(0, 98, 99, pgoutput.PG_EPOCH)

    found = changes_module.transactions(
        messages([400, 400, 400, 10, 10, 10, 10, 10, 10]),
        ("cdc", "t"),
        ["id"],
        meter=meter,
        max_bytes=1000,
    )
    assert [(t.end_lsn, len(t.changes)) for t in found] == [
        (None, 3),  # 1,200 bytes: over max_bytes
        (None, 4),  # CHUNK_CHANGES
        (99, 2),
    ]
