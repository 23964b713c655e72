"""Ledger rows from manifests (pure: `build_rows` over hand-made manifest entries)."""

from __future__ import annotations

import datetime as dt
import re

from elt_monitor.ledger import build_rows, new_job_run_id
from elt_monitor.settings import MonitorSettings

NOW = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
EARLIER = dt.datetime(2026, 1, 1, 1, 45, tzinfo=dt.UTC)  # a record between two runs
SETTINGS = MonitorSettings.from_env({"ELT_MONITOR_TAP_LOG": "/nonexistent/tap.log"})


def manifest(run: str, start: str, status: str = "complete", rows: int = 10, **extra) -> dict:
    return {
        "run_id": run,
        "source": "src",
        "stream": "orders",
        "started_at": f"2026-01-01T{start}:00+00:00",
        "finished_at": f"2026-01-01T{start}:30+00:00",
        "status": status,
        "total_rows": rows,
        "total_bytes": 100,
        "files": [{"sha256": "ab"}] if rows else [],
        "schema_hashes": ["h1"] if rows else [],
    } | extra


def test_a_killed_run_superseded_by_a_newer_one_is_failed() -> None:
    rows = build_rows(
        SETTINGS,
        [manifest("A", "01:00", status="running"), manifest("B", "02:00")],
        {},
        [],
        "job1",
        NOW,
    )
    assert [(r["run_id"], r["status"], r["run_kind"]) for r in rows] == [
        ("A", "failed", "initial"),
        ("B", "success", "initial"),
    ]
    assert "without completing" in rows[0]["error"]
    assert rows[1]["tap_rows"] is None  # no tap log: unknown, not zero


def test_the_newest_unfinished_run_is_running_and_recorded_again_later() -> None:
    running = manifest("A", "01:00", status="running")
    (row,) = build_rows(SETTINGS, [running], {}, [], "j1", EARLIER)
    assert row["status"] == "running"
    done = manifest("A", "01:00", finished_at="2026-01-01T01:50:00+00:00")
    again = build_rows(SETTINGS, [done], {}, [row], "j2", NOW)
    assert [(r["run_id"], r["status"]) for r in again] == [("A", "success")]


def test_incremental_nature_is_sticky_across_a_run_without_rows() -> None:
    first = build_rows(
        SETTINGS, [manifest("A", "01:00", replication_key="updated_at")], {}, [], "j1", EARLIER
    )
    assert first[0]["incremental"] is True
    (empty,) = build_rows(SETTINGS, [manifest("B", "02:00", rows=0)], {}, first, "j2", NOW)
    assert (empty["run_kind"], empty["incremental"]) == ("incremental", True)
    history = [{**first[0], "incremental": False}]
    (full,) = build_rows(SETTINGS, [manifest("B", "02:00", rows=0)], {}, history, "j2", NOW)
    assert full["run_kind"] == "full"


def test_job_run_ids_sort_in_recording_order_within_one_second() -> None:
    """Two runs recorded in the same second: the later one sorts last (the verdict
    history's order; a random tail put it first about half the time)."""
    second = dt.datetime(2026, 12, 6, 16, 59, 46, tzinfo=dt.UTC)
    moments = [second.replace(microsecond=us) for us in (5, 120_000, 999_999)]
    for _ in range(20):
        ids = [new_job_run_id(moment) for moment in moments]
        assert sorted(ids) == ids
        assert sorted([*ids, new_job_run_id(second + dt.timedelta(seconds=1))])[-1].startswith(
            "20261206T165947Z-"
        )
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_id) for run_id in ids)
