"""Which marts users see, as elt-monitor reads the write-audit-publish state files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from elt_monitor import marts


def _write(directory: Path, name: str, **fields) -> None:
    (directory / name).write_text(json.dumps(fields))


def test_an_attempt_in_the_second_the_run_was_recorded_is_this_runs(tmp_path: Path) -> None:
    """attempt.json keeps whole seconds; the ledger's record time has microseconds."""
    since = dt.datetime(2026, 12, 6, 7, 19, 8, 228615, tzinfo=dt.UTC)
    _write(tmp_path, "publication.json", run_id="night-1", finished_at="2026-12-05T07:18:50Z")
    _write(
        tmp_path,
        "attempt.json",
        started_at="2026-12-06T07:19:08Z",
        published=False,
        reason="dbt exited 1",
    )
    state = marts.state(tmp_path, since)
    assert state["attempted_this_run"] and not state["published_this_run"]
    (finding,) = marts.findings("job", state)
    assert finding.code == "MARTS_NOT_PUBLISHED" and "run night-1" in finding.message
    # an attempt of an earlier run is not this run's
    _write(tmp_path, "attempt.json", started_at="2026-12-06T07:19:07Z", published=False)
    assert not marts.state(tmp_path, since)["attempted_this_run"]
