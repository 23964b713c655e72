"""The tap's own counts, from what every Singer SDK tap already logs.

Every SDK stream logs `METRIC: {"type":"counter","metric":"record_count","value":N,
"tags":{"stream":...}}` (the counter is reset after each line, so the values add up to
the records the tap emitted) and a `sync_duration` timer whose `status` says whether the
stream failed. tap-csv-marketing logs one line per file read (`<file>: G good rows,
Q quarantined (N data lines)`); the API taps log a one-line `run report`. Those lines
reach the monitor either as a saved stderr (pipes: `tap 2> tap.log | target`) or in
Meltano's per-run log `<log dir>/elt/<state id>/<run id>/elt.log`, which holds the tap's
and the target's stderr, each line prefixed with the plugin name.

Meltano 4 keeps each block's log handler attached for the rest of `meltano run`, so a
block's `elt.log` also holds the lines of every later block of the same run. A log is
therefore cut into blocks at Meltano's `Running job with name ...` lines, and the block
for a target run is the one that names the target's run id (the target logs each
run id in its first line, `target run <id> started`). No match leaves the tap's count
unknown, which the check reports as critical; it never guesses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from elt_monitor.log_formats import (
    ERROR,
    FILE_LINE,
    MELTANO_BLOCK_START,
    MELTANO_RUN,
    METRIC,
    REPORT,
    SOURCE_ROW_COUNT,
)


@dataclass
class TapCounts:
    """What one tap process said about its run."""

    tap_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    target_received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed_streams: set[str] = field(default_factory=set)
    # a tap's count of the whole source table after an INCREMENTAL read (the Postgres
    # tap's `source_row_count` metric): the lake's keys are compared with it
    source_rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    meltano_run_id: str | None = None
    source_log: str | None = None


def parse(text: str, source_log: str | None = None) -> TapCounts:
    """Counts from one log. In a Meltano log the plugin that logs `sync_duration` is the
    tap and the one that logs `batch_processing_time` the target."""
    counts = TapCounts(source_log=source_log)
    metrics: list[tuple[str | None, dict]] = []
    roles: dict[str | None, str] = {}
    job = MELTANO_RUN.search(text)
    for line in text.splitlines():
        match = METRIC.search(line)
        if match:
            try:
                point = json.loads(match["body"])
            except json.JSONDecodeError:
                continue
            plugin = match["plugin"]
            metrics.append((plugin, point))
            if point.get("metric") == "batch_processing_time" or (
                job and plugin and job["job"].endswith(f"-to-{plugin}")
            ):
                roles[plugin] = "target"
            continue
        if found := FILE_LINE.search(line):
            counts.files[found["file"]] = (int(found["good"]), int(found["bad"]))
        elif found := REPORT.search(line):
            counts.reports.append(found["report"][:2000])
        elif found := MELTANO_RUN.search(line):
            counts.meltano_run_id = found["run"]
        elif ERROR.search(line) and len(counts.errors) < 5:
            counts.errors.append(line.strip()[-500:])
    for plugin, point in metrics:
        role = roles.get(plugin, "tap")  # in a block: the one plugin that is not the target
        stream = (point.get("tags") or {}).get("stream")
        if not stream:
            continue
        if point.get("metric") == "record_count" and isinstance(point.get("value"), int):
            if role == "tap":
                counts.tap_rows[stream] += point["value"]
            elif role == "target":
                counts.target_received[stream] += point["value"]
        if (
            role == "tap"
            and point.get("metric") == SOURCE_ROW_COUNT
            and isinstance(point.get("value"), int)
        ):
            counts.source_rows[stream] = point["value"]  # the latest count wins
        if (
            role == "tap"
            and point.get("metric") == "sync_duration"
            and (point.get("tags") or {}).get("status") == "failed"
        ):
            counts.failed_streams.add(stream)
    return counts


def default_log_dir() -> Path:
    import platformdirs

    return platformdirs.user_log_path("meltano") / "elt"


def blocks(text: str) -> list[str]:
    """A Meltano log cut at each block's `Running job with name` line."""
    starts = [m.start() for m in MELTANO_BLOCK_START.finditer(text)]
    if not starts:
        return [text]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def find_meltano_log(
    log_dir: Path, target_run_id: str, started_at: dt.datetime
) -> tuple[str, str] | None:
    """(path, block text) of the Meltano log block of the target run `target_run_id`.

    The target logs its run id when the run starts (before any record), so the block is
    found by the id alone, even for a run that committed no file. There is no fallback
    by time: concurrent runs elsewhere on the machine write into the same log directory,
    and a block picked by time could be another run's. No block means unknown counts."""
    if not log_dir.is_dir():
        return None
    since = started_at.timestamp() - 60
    for path in sorted(log_dir.glob("*/*/elt.log")):
        try:
            if path.stat().st_mtime < since:
                continue
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if target_run_id not in text:
            continue
        for block in blocks(text):
            if target_run_id in block:
                return str(path), block
    return None
