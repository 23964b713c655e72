"""A killed run is recovered by the next scheduled run, without a person and without
`--force` over a live run (scripts/run_job.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from scripts import run_job
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import MeltanoRunner, business_marts, local_lake_runner
from tests.e2e.install import MELTANO, isolated_env, project_lock

ELT_BLOCK_PREFIX = "dev:"


def running_rows(database: Path) -> list[tuple[str, str]]:
    """(state ID, trigger) of every RUNNING row in a sqlite system database."""
    if not database.exists():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
        try:
            return conn.execute(
                "select job_name, trigger from runs where state = 'RUNNING'"
            ).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []


def namespace_of(state_id: str) -> str:
    """`dev:tap-stripe-custom-to-target-minio-parquet` -> `tap_stripe_custom`."""
    return state_id.removeprefix(ELT_BLOCK_PREFIX).split("-to-")[0].replace("-", "_")


def mart_totals(warehouse: Path) -> dict[str, tuple]:
    """Per mart: row count and the sum of every decimal (money) column."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        marts = business_marts(conn)
        totals = {}
        for mart in marts:
            money = [
                row[0]
                for row in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_name = ? and data_type like 'DECIMAL%'",
                    [mart],
                ).fetchall()
            ]
            select = ", ".join(["count(*)", *(f'sum("{c}")' for c in money)])
            totals[mart] = conn.execute(f'select {select} from "{mart}"').fetchone()
        return totals


def start_scheduled(runner: MeltanoRunner, schedule: str, log: Path) -> subprocess.Popen:
    """Start a schedule the way cron does: `python -m scripts.run_job <schedule>`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scripts.run_job", schedule],
            cwd=REPO_ROOT,
            env=dict(runner.env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_loading(runner: MeltanoRunner, process: subprocess.Popen) -> str:
    """Wait until a block is RUNNING and its tap's files are landing; return its state ID."""
    database = runner.workdir / "meltano.db"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, "the job ended before it could be killed"
        for state_id, _ in running_rows(database):
            if any((runner.workdir / "lake" / namespace_of(state_id)).rglob("*.parquet")):
                return state_id
        time.sleep(0.05)
    raise AssertionError("no block started loading within 300 s")


@pytest.mark.e2e
@pytest.mark.slow
def test_a_killed_scheduled_run_is_recovered_by_the_next_one(
    all_sources_env, meltano_installed, clean_run: MeltanoRunner, tmp_path_factory
) -> None:
    base = local_lake_runner(all_sources_env, tmp_path_factory.mktemp("e2e-recovery"))
    # Small buffers and a 1 s STATE cadence: files and bookmarks land while a block runs,
    # so the kill falls between commits, not only after a block's last one.
    runner = MeltanoRunner(
        {
            **base.env,
            "TARGET_MINIO_PARQUET_MAX_BUFFER_ROWS": "200",
            "TARGET_MINIO_PARQUET_STATE_FLUSH_SECONDS": "1",
        },
        base.workdir,
    )
    with project_lock(exclusive=False):
        recover_from_a_kill(runner)
    expected = mart_totals(clean_run.warehouse)
    assert expected and mart_totals(runner.warehouse) == expected


def recover_from_a_kill(runner: MeltanoRunner) -> None:
    first = start_scheduled(runner, "daily-ecommerce-elt", runner.workdir / "killed.log")
    state_id = wait_until_loading(runner, first)
    os.killpg(first.pid, signal.SIGKILL)  # Meltano, tap and target: the whole group
    assert first.wait(timeout=30) == -signal.SIGKILL
    rows = running_rows(runner.workdir / "meltano.db")
    assert [s for s, _ in rows] == [state_id], "the kill left no RUNNING row to recover"

    # What used to happen: Meltano refuses to start for ~5 minutes.
    refused = runner.run("run", "ecommerce-elt", check=False)
    assert refused.returncode != 0
    assert f"Another '{state_id}' pipeline is already running" in refused.stderr

    second = start_scheduled(runner, "daily-ecommerce-elt", runner.workdir / "retry.log")
    assert second.wait(timeout=900) == 0, (runner.workdir / "retry.log").read_text()[-5000:]
    assert (
        f"marked the killed run of {state_id} as failed"
        in (runner.workdir / "retry.log").read_text()
    )
    assert running_rows(runner.workdir / "meltano.db") == []


def _migrated_system_db(workdir: Path) -> dict[str, str]:
    env = isolated_env(workdir)
    subprocess.run(
        [MELTANO, "state", "list"], cwd=REPO_ROOT, env=env, check=True, capture_output=True
    )
    return env


def _add_running_row(env: dict[str, str], state_id: str, owner: run_job.RunOwner) -> None:
    from meltano.core.job import Job, State
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(env["MELTANO_DATABASE_URI"])
    with Session(engine) as session:
        job = Job(job_name=state_id, trigger=owner.as_trigger())
        job.start()
        job.save(session)
        assert job.state is State.RUNNING
    engine.dispose()


def _process_owner(process: subprocess.Popen) -> run_job.RunOwner:
    return run_job.RunOwner(
        socket.gethostname(), run_job.boot_id(), process.pid, run_job.start_ticks(process.pid)
    )


def test_a_live_run_is_never_failed_and_a_dead_one_is(tmp_path, monkeypatch) -> None:
    env = _migrated_system_db(tmp_path)
    monkeypatch.setenv("MELTANO_DATABASE_URI", env["MELTANO_DATABASE_URI"])
    live = subprocess.Popen(["sleep", "600"], start_new_session=True)
    dead = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        _add_running_row(env, "dev:live-to-target", _process_owner(live))
        _add_running_row(env, "dev:dead-to-target", _process_owner(dead))
        elsewhere = run_job.RunOwner("another-host", run_job.boot_id(), 1, 1)
        _add_running_row(env, "dev:elsewhere-to-target", elsewhere)
        os.killpg(dead.pid, signal.SIGKILL)
        dead.wait()
        assert run_job.fail_dead_runs(REPO_ROOT) == ["dev:dead-to-target"]
        rows = {s for s, _ in running_rows(tmp_path / "meltano.db")}
        assert rows == {"dev:live-to-target", "dev:elsewhere-to-target"}
        # A second pass changes nothing: the live run stays RUNNING.
        assert run_job.fail_dead_runs(REPO_ROOT) == []
    finally:
        live.kill()
        live.wait()


def test_a_reused_process_group_number_does_not_keep_a_dead_run_alive() -> None:
    """Same PGID, different leader start time: the original group is gone."""
    process = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        owner = _process_owner(process)
        assert not run_job.is_gone(owner)
        reused = run_job.RunOwner(owner.host, owner.boot_id, owner.pgid, owner.start_ticks - 1)
        assert run_job.is_gone(reused)
        rebooted = run_job.RunOwner(owner.host, "another-boot", owner.pgid, owner.start_ticks)
        assert run_job.is_gone(rebooted)
    finally:
        process.kill()
        process.wait()


def test_a_trigger_round_trips_and_foreign_triggers_are_ignored() -> None:
    owner = run_job.RunOwner("host", "boot", 123, 456)
    assert run_job.RunOwner.from_trigger(owner.as_trigger()) == owner
    for trigger in (None, "cli", "schedule", "run_job:host:boot:x:1", "run_job:a:b:1"):
        assert run_job.RunOwner.from_trigger(trigger) is None


def test_a_schedule_name_resolves_to_its_job() -> None:
    assert run_job.job_for("daily-ecommerce-elt", REPO_ROOT) == "ecommerce-elt"
    assert run_job.job_for("hourly-crm", REPO_ROOT) == "crm-to-lake"
    assert run_job.job_for("stripe-to-lake", REPO_ROOT) == "stripe-to-lake"


def test_the_wrapper_does_not_finish_a_run_its_own_finish_already_judged(tmp_path) -> None:
    verdict = tmp_path / "verdict.json"
    started = time.time()
    assert not run_job.finished_after(verdict, started)  # no stage wrote one
    verdict.write_text(json.dumps({"stage": "gate", "severity": "critical"}))
    assert not run_job.finished_after(verdict, started)  # the gate stopped the job
    verdict.write_text(json.dumps({"stage": "finish", "severity": "critical"}))
    assert run_job.finished_after(verdict, started)
    os.utime(verdict, (started - 60, started - 60))  # an earlier run's
    assert not run_job.finished_after(verdict, started)
    verdict.write_text("{not json")
    assert not run_job.finished_after(verdict, started)
