"""The run ledger: one row per stream per target run, in `<lake>/_meta/ledger/`.

Built from what the plugins already write: the target's manifests (rows committed, files,
bytes, checksums, replication key range, schema hashes, status) and schema history
(columns removed or retyped), joined with the tap's own counts (`tap_log`). Each
`record` appends one Parquet file (atomic); a row is only ever superseded by a later row
of the same run and stream (`running` -> `success`/`failed`), and readers keep the latest.
Every `record` also writes one job-level row (stream `*`) so that a job run that loaded
nothing is still a run the check sees.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from elt_monitor import foreign_keys, lake_keys, tap_log
from elt_monitor.lake import Lake
from elt_monitor.settings import MonitorSettings

LEDGER_DIR = "_meta/ledger"
MANIFEST_DIR = "_meta/manifests"
SCHEMA_DIR = "_meta/schema_history"
JOB_ROW = "*"
# set by the job's wrapper for every process of one job run (scripts/run_job.py)
RUN_ID_ENV = "ELT_RUN_ID"
QUARANTINE_SUFFIX = "__quarantine"
FILE_LINEAGE = "_sdc_source_file"
# A LOG_BASED stream's change position: after its snapshot, runs bring only changes.
CHANGE_POSITION = "_sdc_lsn"

TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("job_run_id", pa.string()),
        ("run_id", pa.string()),
        ("meltano_run_id", pa.string()),
        ("job", pa.string()),
        ("environment", pa.string()),
        ("source", pa.string()),
        ("stream", pa.string()),
        ("status", pa.string()),
        ("run_kind", pa.string()),
        ("incremental", pa.bool_()),
        ("started_at", TS),
        ("finished_at", TS),
        ("recorded_at", TS),
        ("tap_rows", pa.int64()),
        ("target_received_rows", pa.int64()),
        ("target_rows", pa.int64()),
        ("quarantine_rows", pa.int64()),
        ("files", pa.int64()),
        ("bytes", pa.int64()),
        ("checksums", pa.list_(pa.string())),
        ("replication_key", pa.string()),
        ("min_replication_value", pa.string()),
        ("max_replication_value", pa.string()),
        ("schema_hash", pa.string()),
        ("schema_change", pa.string()),
        ("tap_files", pa.string()),
        ("tap_report", pa.string()),
        ("tap_log", pa.string()),
        ("error", pa.string()),
        # the target's column profile of the run (JSON; target_minio_parquet/profile.py)
        ("profile", pa.string()),
        # the id a wrapper (scripts.run_job, the orchestrator) gave the job run (ELT_RUN_ID)
        ("elt_run_id", pa.string()),
        # the tap's count of the whole source table (INCREMENTAL streams of the Postgres
        # tap) and the distinct keys the lake held for the stream when it was recorded
        ("source_rows", pa.int64()),
        ("lake_keys", pa.int64()),
        # orphans of the declared foreign keys in this run's rows (JSON; foreign_keys.py)
        ("orphans", pa.string()),
    ]
)


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def read(lake: Lake) -> list[dict[str, Any]]:
    """Every ledger row, the latest recording of each (run, stream) only, oldest first."""
    _, table = lake.read_parquet_files(LEDGER_DIR)
    if table is None:
        return []
    rows = conform(table).sort_by([("recorded_at", "ascending")]).to_pylist()
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        latest[(row["job_run_id"], row["run_id"], row["stream"])] = row
    return sorted(
        latest.values(), key=lambda r: (r["recorded_at"], r["started_at"] or r["recorded_at"])
    )


def conform(table: pa.Table) -> pa.Table:
    """A ledger table in today's schema: columns added since a file was written are null."""
    for name in SCHEMA.names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, SCHEMA.field(name).type))
    return table.select(SCHEMA.names).cast(SCHEMA)


def _schema_changes(lake: Lake) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (e.get("source"), e.get("stream"), e.get("schema_hash")): e
        for e in lake.read_jsonl(SCHEMA_DIR)
    }


def _counts_for(
    settings: MonitorSettings, run_id: str, started: dt.datetime, cache: dict
) -> tap_log.TapCounts | None:
    if settings.tap_log:
        if "file" not in cache:
            path = Path(settings.tap_log)
            cache["file"] = (
                tap_log.parse(path.read_text(errors="replace"), str(path))
                if path.exists()
                else None
            )
        return cache["file"]
    log_dir = (
        Path(settings.meltano_log_dir) if settings.meltano_log_dir else tap_log.default_log_dir()
    )
    found = tap_log.find_meltano_log(log_dir, run_id, started)
    return tap_log.parse(found[1], found[0]) if found else None


def build_rows(
    settings: MonitorSettings,
    manifests: Iterable[dict[str, Any]],
    schemas: dict[tuple[str, str, str], dict[str, Any]],
    history: list[dict[str, Any]],
    job_run_id: str,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Ledger rows for the manifests not yet recorded as finished."""
    done = {(r["run_id"], r["stream"]) for r in history if r["status"] in ("success", "failed")}
    manifests = list(manifests)
    newest_start: dict[str, dt.datetime] = {}
    for m in manifests:
        start = _time(m.get("started_at")) or now
        newest_start[m["source"]] = max(newest_start.get(m["source"], start), start)
    # Trimmed runs are gone from the ledger but not their manifests: anything that
    # finished before the oldest row still kept was recorded long ago.
    watermark = min((r["recorded_at"] for r in history), default=None)
    pending = [
        m
        for m in manifests
        if (m["run_id"], m["stream"]) not in done
        and not (watermark and (_time(m.get("finished_at")) or now) < watermark)
    ]
    succeeded = {(r["source"], r["stream"]) for r in history if r["status"] == "success"}
    # The target names a replication key only in a run that committed rows, so a stream's
    # nature is sticky: once incremental, an empty run of it is still incremental.
    incremental_before = {(r["source"], r["stream"]) for r in history if r.get("incremental")}
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in pending:
        by_run[m["run_id"]].append(m)
    cache: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for run_id, entries in sorted(by_run.items()):
        started = min(_time(m.get("started_at")) or now for m in entries)
        counts = _counts_for(settings, run_id, started, cache)
        quarantine = {
            m["stream"].removesuffix(QUARANTINE_SUFFIX): m["total_rows"]
            for m in entries
            if m["stream"].endswith(QUARANTINE_SUFFIX)
        }
        for m in sorted(entries, key=lambda e: e["stream"]):
            rows.append(
                _row(
                    settings,
                    m,
                    counts,
                    schemas,
                    quarantine,
                    succeeded,
                    newest_start,
                    job_run_id,
                    now,
                )
            )
            if (m["source"], m["stream"]) in incremental_before:
                rows[-1]["incremental"] = True
                if rows[-1]["run_kind"] == "full":
                    rows[-1]["run_kind"] = "incremental"
            if rows[-1]["incremental"]:
                incremental_before.add((m["source"], m["stream"]))
            if rows[-1]["status"] == "success":
                succeeded.add((m["source"], m["stream"]))
    return rows


def _row(
    settings: MonitorSettings,
    m: dict[str, Any],
    counts: tap_log.TapCounts | None,
    schemas: dict[tuple[str, str, str], dict[str, Any]],
    quarantine: dict[str, int],
    succeeded: set[tuple[str, str]],
    newest_start: dict[str, dt.datetime],
    job_run_id: str,
    now: dt.datetime,
) -> dict[str, Any]:
    source, stream = m["source"], m["stream"]
    started = _time(m.get("started_at"))
    status, error = "success", None
    if m.get("status") != "complete":
        if started and started < newest_start[source]:
            status, error = (
                "failed",
                "target run ended without completing (manifest left 'running')",
            )
        else:
            status = "running"
    if counts and stream in counts.failed_streams:
        status, error = "failed", "; ".join(counts.errors) or "the tap reported the stream failed"
    hashes = m.get("schema_hashes") or []
    entries = [schemas.get((source, stream, h)) for h in hashes]
    # every schema the stream ever had: a run without rows wrote no file to name one
    every_schema = [e for (src, name, _), e in schemas.items() if (src, name) == (source, stream)]
    change = [
        {
            "schema_hash": e["schema_hash"],
            "removed": e.get("removed", []),
            "changed": e.get("changed", []),
        }
        for e in entries
        if e and e.get("previous_schema_hash") and (e.get("removed") or e.get("changed"))
    ]
    columns = {c["name"] for e in every_schema for c in e.get("columns", [])}
    is_incremental = incremental(settings, m, columns)
    if (source, stream) not in succeeded:
        kind = "initial"
    else:
        kind = "incremental" if is_incremental else "full"
    tap_files = None
    if counts and counts.files:
        mine = {
            path: list(value)
            for path, value in counts.files.items()
            if Path(path.rstrip("/")).name.startswith(stream)
        }
        tap_files = json.dumps(mine) if mine else None
    files = m.get("files") or []
    return {
        "job_run_id": job_run_id,
        "run_id": m["run_id"],
        "meltano_run_id": counts.meltano_run_id if counts else None,
        "job": settings.job,
        "environment": settings.environment,
        "source": source,
        "stream": stream,
        "status": status,
        "run_kind": kind,
        "incremental": is_incremental,
        "started_at": started,
        "finished_at": _time(m.get("finished_at")),
        "recorded_at": now,
        "tap_rows": counts.tap_rows.get(stream) if counts and stream in counts.tap_rows else None,
        "target_received_rows": _received(m, counts),
        "target_rows": int(m.get("total_rows") or 0),
        "quarantine_rows": quarantine.get(stream),
        "files": len(files),
        "bytes": int(m.get("total_bytes") or 0),
        "checksums": [f.get("sha256") for f in files if f.get("sha256")],
        "replication_key": m.get("replication_key"),
        "min_replication_value": m.get("min_replication_value"),
        "max_replication_value": m.get("max_replication_value"),
        "schema_hash": hashes[-1] if hashes else None,
        "schema_change": json.dumps(change) if change else None,
        "tap_files": tap_files,
        "tap_report": " | ".join(counts.reports) if counts and counts.reports else None,
        "tap_log": counts.source_log if counts else None,
        "error": error,
        "profile": json.dumps(m["profile"]) if m.get("profile") else None,
        "source_rows": counts.source_rows.get(stream) if counts else None,
    }


def _received(manifest: dict[str, Any], counts: tap_log.TapCounts | None) -> int | None:
    """What the target received: its manifest says it (as data); manifests of older
    targets do not, and then the target's own record_count metric in the log does."""
    if "received_rows" in manifest:
        return int(manifest["received_rows"])
    if counts and manifest["stream"] in counts.target_received:
        return counts.target_received[manifest["stream"]]
    return None


def incremental(settings: MonitorSettings, manifest: dict[str, Any], columns: set[str]) -> bool:
    """A stream whose runs bring only what changed: it has a replication key, it is read
    file by file (unchanged files skipped), it is read from a replication slot (LOG_BASED:
    its schema has `_sdc_lsn`; the first run, a snapshot, is its initial run), or the
    settings say so (a tap that keeps its own bookmark without declaring a key, like the
    legacy CRM's `updated_since`)."""
    return bool(
        manifest.get("replication_key")
        or FILE_LINEAGE in columns
        or CHANGE_POSITION in columns
        or f"{manifest['source']}/{manifest['stream']}" in settings.incremental_streams
    )


def job_row(settings: MonitorSettings, job_run_id: str, rows: list[dict], now: dt.datetime) -> dict:
    row = dict.fromkeys(SCHEMA.names)
    starts = [r["started_at"] for r in rows if r["started_at"]]
    ends = [r["finished_at"] for r in rows if r["finished_at"]]
    row |= {
        "job_run_id": job_run_id,
        "run_id": job_run_id,
        "job": settings.job,
        "environment": settings.environment,
        "source": JOB_ROW,
        "stream": JOB_ROW,
        "status": "failed" if any(r["status"] == "failed" for r in rows) else "success",
        "started_at": min(starts) if starts else now,
        "finished_at": max(ends) if ends else now,
        "recorded_at": now,
        "target_rows": sum(r["target_rows"] for r in rows),
        "files": sum(r["files"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "checksums": [],
        "elt_run_id": os.environ.get(RUN_ID_ENV) or None,
    }
    return row


def new_job_run_id(now: dt.datetime) -> str:
    """`<UTC second>Z-<microsecond><2 random hex digits>`: ids sort as text in the order
    the runs were recorded, also within one second (the verdict history, the previous and
    the latest run are read in that order; a random tail mis-ordered two runs recorded in
    the same second), in the shape of the other run ids (8 hex digits after the dash)."""
    return f"{now:%Y%m%dT%H%M%S}Z-{now.microsecond:06d}{uuid.uuid4().hex[:2]}"


def record(settings: MonitorSettings, lake: Lake, now: dt.datetime | None = None) -> list[dict]:
    """Append this job run's rows (and its job row) to the ledger; trim the history."""
    now = now or dt.datetime.now(dt.UTC)
    history = read(lake)
    job_run_id = new_job_run_id(now)
    manifests = lake.read_jsonl(MANIFEST_DIR)
    rows = build_rows(settings, manifests, _schema_changes(lake), history, job_run_id, now)
    for row in rows:
        if row.get("source_rows") is not None and row["status"] == "success":
            row["lake_keys"] = lake_keys.distinct_keys(
                lake, manifests, row["source"], row["stream"]
            )
    foreign_keys.for_rows(lake, manifests, rows, settings.foreign_keys)
    rows.append(job_row(settings, job_run_id, rows, now))
    write(lake, rows, job_run_id)
    trim(lake, settings.history_runs)
    return rows


def write(lake: Lake, rows: list[dict], name: str) -> str:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    return lake.write_parquet(LEDGER_DIR, f"{name}.parquet", table)


def trim(lake: Lake, keep_runs: int) -> int:
    """Keep the last `keep_runs` job runs of every job: the kept rows are written as one
    new file first, then the old files are deleted (a reader in between sees duplicates,
    which `read` drops). Returns the number of job runs removed."""
    paths, table = lake.read_parquet_files(LEDGER_DIR)
    if table is None:
        return 0
    table = conform(table)
    jobs = table.filter(pc.equal(table["stream"], JOB_ROW))
    keep: set[str] = set()
    removed = 0
    by_job: dict[str, list[tuple[Any, str]]] = defaultdict(list)
    for row in jobs.select(["job", "job_run_id", "recorded_at"]).to_pylist():
        by_job[row["job"]].append((row["recorded_at"], row["job_run_id"]))
    for runs in by_job.values():
        ordered = [run for _, run in sorted(set(runs))]
        keep.update(ordered[-keep_runs:])
        removed += max(0, len(ordered) - keep_runs)
    if not removed:
        return 0
    kept = table.filter(pc.is_in(table["job_run_id"], pa.array(sorted(keep))))
    name = f"compacted-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"
    lake.write_parquet(LEDGER_DIR, f"{name}.parquet", conform(kept))
    for path in paths:
        lake.delete(path)
    return removed
