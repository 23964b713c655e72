"""Which marts users see: the dbt write-audit-publish state (`transform/scripts/wap.py`
writes `publication.json` for the last published build and `attempt.json` for the last
attempt, published or not). Read as data; a missing directory means the job does not
publish through write-audit-publish, and that is said, not guessed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from elt_monitor.rules import CRITICAL, Finding


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _time(text: Any) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def state(state_dir: Path, since: dt.datetime) -> dict[str, Any] | None:
    """{published_this_run, attempted_this_run, as_of_run, as_of, location, reason} or None
    when no write-audit-publish state exists."""
    attempt, publication = _read(state_dir / "attempt.json"), _read(state_dir / "publication.json")
    if attempt is None and publication is None:
        return None
    # attempt.json has whole seconds: an attempt started in the second the run was
    # recorded is this run's
    attempted = bool(attempt) and (_time(attempt.get("started_at")) or since) >= since.replace(
        microsecond=0
    )
    published = attempted and bool(attempt.get("published"))
    return {
        "attempted_this_run": attempted,
        "published_this_run": published,
        "as_of_run": (publication or {}).get("run_id"),
        "as_of": (publication or {}).get("finished_at"),
        "location": (publication or attempt or {}).get("location"),
        "engine": (publication or attempt or {}).get("engine"),
        # why this run's attempt did not publish (dbt's failure, a failed swap)
        "reason": (attempt or {}).get("reason") if attempted and not published else None,
    }


def findings(job: str, state: dict[str, Any]) -> list[Finding]:
    """This run attempted to publish and did not: users still see an older build. Critical
    whatever the cause (a failed test, a build error, a failed swap): the night's data is
    not in the marts, and the job must not end as if it were."""
    if state["published_this_run"]:
        return []
    seen = (
        f"users still see run {state['as_of_run']} ({state['as_of']})"
        if state["as_of_run"]
        else "no build was ever published"
    )
    return [
        Finding(
            "MARTS_NOT_PUBLISHED",
            CRITICAL,
            job,
            f"this run's marts were not published ({state['reason']}): {seen}",
            {"reason": state["reason"], "as_of_run": state["as_of_run"]},
        )
    ]
