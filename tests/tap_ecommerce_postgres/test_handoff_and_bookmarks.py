"""The thread hand-off and the bookmark rules on their own (pure Python and Arrow)."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest
from psycopg import sql
from tap_ecommerce_postgres.bookmarks import Progress
from tap_ecommerce_postgres.handoff import Handoff
from tap_ecommerce_postgres.queries import ReadPlan
from tap_ecommerce_postgres.type_mapping import Column


def test_each_lane_is_drained_in_order_up_to_its_end_mark() -> None:
    handoff = Handoff(lanes=2, ahead=2)

    def fill(lane: int, items: list[int]) -> None:
        for item in items:
            assert handoff.put(lane, item)
        handoff.end(lane)

    threads = [
        threading.Thread(target=fill, args=(0, [1, 2, 3])),
        threading.Thread(target=fill, args=(1, [4, 5])),
    ]
    for thread in threads:
        thread.start()
    assert list(handoff.drain(0)) + list(handoff.drain(1)) == [1, 2, 3, 4, 5]
    for thread in threads:
        thread.join()


def test_a_failure_in_another_lane_is_raised_while_waiting() -> None:
    """The consumer waits on lane 0 (whose reader is slow); lane 1 fails: raised at once."""
    handoff = Handoff(lanes=2)
    threading.Timer(0.1, handoff.fail, args=(ValueError("lane 1 failed"),)).start()
    started = time.monotonic()
    with pytest.raises(ValueError, match="lane 1 failed"):
        list(handoff.drain(0))
    assert time.monotonic() - started < 1.0


def test_the_first_failure_wins_and_a_stopped_handoff_refuses_items() -> None:
    handoff = Handoff()
    handoff.fail(RuntimeError("cause"))
    handoff.fail(RuntimeError("cancelled because of the cause"))
    with pytest.raises(RuntimeError, match=r"^cause$"):
        next(handoff.drain(0))
    handoff.stop()
    assert handoff.put(0, "late") is False  # a reader never blocks on a consumer gone


COLUMNS = [
    Column("id", "integer", "int4", nullable=False),
    Column("seen", "timestamp without time zone", "timestamp"),
]


def plan(replication_key: str | None) -> ReadPlan:
    return ReadPlan(
        relation=sql.Identifier("t"),
        columns=COLUMNS,
        source_timezone="UTC",
        order_by=[replication_key or "id"],
        replication_key=replication_key,
        resume_key=None if replication_key else ["id"],
    )


def test_a_null_key_never_replaces_the_bookmark() -> None:
    progress = Progress(plan("seen"))
    # tracked columns after the rendered line: seen (text), then nothing else
    seen = pa.array(["2025-01-01 00:00:00", "2025-01-02 00:00:00", None, None])
    batch = pa.RecordBatch.from_arrays([pa.array(["l1", "l2", "l3", "l4"]), seen], ["line", "seen"])
    state: dict = {}
    progress.note_rows(batch, 1, 0, 3)  # ends on the first NULL key
    progress.apply(state, finished=False)
    assert state == {"replication_key": "seen", "replication_key_value": "2025-01-02 00:00:00"}
    progress.note_rows(batch, 1, 3, 4)  # only NULL keys
    progress.apply(state, finished=True)
    assert state["replication_key_value"] == "2025-01-02 00:00:00"


def test_no_bookmark_when_every_key_is_null() -> None:
    progress = Progress(plan("seen"))
    progress.note_row((None,))
    state: dict = {"replication_key": "seen", "replication_key_value": "2024-12-31"}
    progress.apply(state, finished=True)
    assert state["replication_key_value"] == "2024-12-31"  # the input bookmark stands


def test_full_table_resume_point_is_the_last_key_and_cleared_at_the_end() -> None:
    progress = Progress(plan(None))
    state: dict = {}
    progress.note_row((41,))
    progress.apply(state, finished=False)
    assert state == {"resume_after": [41]}
    progress.apply(state, finished=True)
    assert state == {}
