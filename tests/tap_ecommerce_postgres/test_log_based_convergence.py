"""LOG_BASED output that converges on the source: snapshot generations with their end
record (cdc/generations.py), a new snapshot when columns changed in a way no change
record shows, and keys of a deferrable primary key that held two rows inside one
transaction (cdc/key_moves.py). Real Postgres, the tap as a process.

`applied()` applies records the way staging does (transform/macros/dedupe.sql): the
snapshot, then changes by `_sdc_lsn`, emission order breaking ties.
"""

from __future__ import annotations

import pytest
from tap_ecommerce_postgres.cdc import generations

from tests.singer import run_singer
from tests.tap_ecommerce_postgres.conftest import TAP, last_state

# the LOG_BASED module's helpers, not copied (its database fixtures are the package's)
from tests.tap_ecommerce_postgres.test_log_based import (
    is_end_record,
    log_based_config,
    records,
)

GENERATION = generations.SNAPSHOT_COLUMN


def applied(rows: list[dict], key: str = "id") -> dict:
    """key -> record after applying `rows` in change order (deletes remove the key)."""
    ordered = sorted(enumerate(rows), key=lambda item: (item[1].get("_sdc_lsn") or -1, item[0]))
    state: dict = {}
    for _, row in ordered:
        if row.get("_sdc_deleted_at"):
            state.pop(row[key], None)
        else:
            state[row[key]] = row
    return state


def table_rows(conn, table: str) -> dict:
    return dict(conn.execute(f"select id, v from cdc.{table} order by id").fetchall())


def slots_of(conn, table: str) -> set[str]:
    found = conn.execute(
        "select slot_name from pg_replication_slots where slot_name like %s",
        [f"%\\_cdc\\_{table}\\_%"],
    ).fetchall()
    return {name for (name,) in found}


def test_a_snapshot_marks_its_rows_and_ends_with_its_end_record(tap_config, cdc, tmp_path):
    cdc.execute("create table cdc.marked (id int primary key, v text)")
    cdc.execute("insert into cdc.marked select i, 'v' || i from generate_series(1, 3) i")
    config = log_based_config(tap_config, "cdc-marked")
    first = run_singer(TAP, config, tmp_path)
    rows = first.records["cdc-marked"]
    assert [r["id"] for r in rows] == [1, 2, 3, None]
    generation = rows[0][GENERATION]
    assert generation > 0 and {r[GENERATION] for r in rows} == {generation}
    assert is_end_record(rows[-1])
    schema = next(m for m in first.messages if m["type"] == "SCHEMA")["schema"]
    assert schema["properties"][GENERATION] == {"type": ["integer", "null"]}
    cdc.execute("delete from cdc.marked where id = 2")
    second = run_singer(TAP, config, tmp_path, state=first.states[-1])
    [deleted] = second.records["cdc-marked"]  # changes carry no generation
    assert deleted["id"] == 2 and deleted.get(GENERATION) is None

    cdc.execute("truncate cdc.marked")  # an empty table: the end record alone says it
    fresh = run_singer(TAP, config, tmp_path)  # a cleared state: a new snapshot
    [end] = fresh.records["cdc-marked"]
    assert is_end_record(end) and end[GENERATION] > generation


@pytest.mark.parametrize(
    ("table", "alter"),
    [
        ("morph_default", "alter table cdc.{t} add column w text not null default 'filled'"),
        ("morph_rename", "alter table cdc.{t} rename column v to v_renamed"),
        ("morph_retype", "alter table cdc.{t} alter column v type varchar(20)"),
    ],
)
def test_columns_changed_without_changes_take_a_new_snapshot(
    tap_config,
    cdc,
    tmp_path,
    table,
    alter,
):
    cdc.execute(f"create table cdc.{table} (id int primary key, v text)")
    cdc.execute(f"insert into cdc.{table} select i, 'v' || i from generate_series(1, 4) i")
    stream = f"cdc-{table}"
    config = log_based_config(tap_config, stream)
    first = run_singer(TAP, config, tmp_path)
    old_slot = first.states[-1]["bookmarks"][stream]["slot"]
    cdc.execute(alter.format(t=table))
    cdc.execute(f"insert into cdc.{table} (id) values (5)")  # one change before the run

    second = run_singer(TAP, config, tmp_path, state=first.states[-1])
    assert "columns changed since the stream's snapshot" in second.result.stderr
    rows = second.records[stream]
    assert is_end_record(rows[-1]) and [r["id"] for r in rows[:-1]] == [1, 2, 3, 4, 5]
    assert {r[GENERATION] for r in rows} == {rows[-1][GENERATION]}
    assert rows[-1][GENERATION] > first.records[stream][-1][GENERATION]
    current = dict(cdc.execute(f"select id, to_jsonb(t) from cdc.{table} as t").fetchall())
    for row in rows[:-1]:
        assert {k: v for k, v in row.items() if k in current[row["id"]]} == current[row["id"]]
    new_state = second.states[-1]["bookmarks"][stream]
    assert new_state["slot"] != old_slot and slots_of(cdc, table) == {new_state["slot"]}

    cdc.execute(f"update cdc.{table} set id = 50 where id = 5")
    third = run_singer(TAP, config, tmp_path, state=second.states[-1])
    assert "columns changed" not in third.result.stderr
    assert [(r["id"], bool(r["_sdc_deleted_at"])) for r in third.records[stream]] == [
        (5, True),
        (50, False),
    ]


def test_an_added_nullable_column_needs_no_new_snapshot(tap_config, cdc, tmp_path):
    cdc.execute("create table cdc.widens (id int primary key, v text)")
    cdc.execute("insert into cdc.widens values (1, 'a')")
    config = log_based_config(tap_config, "cdc-widens")
    first = run_singer(TAP, config, tmp_path)
    cdc.execute("alter table cdc.widens add column w text; alter table cdc.widens drop column v")
    second = run_singer(TAP, config, tmp_path, state=first.states[-1])
    assert second.records["cdc-widens"] == [] and "columns changed" not in second.result.stderr


def test_a_deferrable_key_shifted_and_swapped_in_one_transaction(tap_config, cdc, tmp_path):
    """`id = id + 1` moves row 1 onto key 2 before row 2 leaves it; a swap moves each of
    two rows onto the other's key. The records applied by key equal the table."""
    cdc.execute(
        "create table cdc.shifts (id int primary key deferrable initially immediate, v text);"
        "alter table cdc.shifts replica identity full;"
        "insert into cdc.shifts select i, 'v' || i from generate_series(1, 10) i;"
        "insert into cdc.shifts values (100, 'x'), (101, 'y')"
    )
    config = log_based_config(tap_config, "cdc-shifts")
    first = run_singer(TAP, config, tmp_path)
    with cdc.transaction():
        cdc.execute("update cdc.shifts set id = id + 1 where id <= 10")
        cdc.execute(
            "update cdc.shifts set id = case id when 100 then 101 else 100 end"
            " where id in (100, 101)"
        )
        cdc.execute("insert into cdc.shifts values (200, 'gone')")
        cdc.execute("delete from cdc.shifts where id = 200")
    cdc.execute("update cdc.shifts set v = 'later' where id = 2")  # a later change wins
    second = run_singer(TAP, config, tmp_path, state=first.states[-1])
    state = applied(records(first.messages, "cdc-shifts") + second.records["cdc-shifts"])
    assert {key: row["v"] for key, row in state.items()} == table_rows(cdc, "shifts")
    lsns = [(r["_sdc_lsn"], r["id"]) for r in second.records["cdc-shifts"]]
    assert len(set(lsns)) == len(lsns)  # (_sdc_lsn, key) still names one change
    assert last_state(second.messages)["bookmarks"]["cdc-shifts"]["lsn"] > 0
