"""Publication facts as data: what the last attempt did and which marts users see.

Two JSON objects in the state directory (setting `wap_state_dir`, env WAP_STATE_DIR,
default `$MELTANO_PROJECT_ROOT/output/wap/<engine>`), read by elt-monitor:

- `attempt.json`: the last attempt, published or not, with `marts_as_of` (the run_id
  and finished_at of the publication that stays visible after it);
- `publication.json`: the last successful publication (unchanged by a failed attempt).

Both carry: engine, location, started_at, finished_at (ISO-8601 UTC), run_id, published,
dbt_exit_code, dbt_invocation_id, results (every node of run_results.json that did not
pass) and counts. Each file is written to a temporary name and renamed, so a reader sees
the old object or the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ATTEMPT = "attempt.json"
PUBLICATION = "publication.json"
# dbt's statuses of a node that did its job (a model/seed: success; a test: pass).
PASSED = frozenset({"success", "pass"})
WARNED = frozenset({"warn"})
FAILED = frozenset({"fail"})
ERRORED = frozenset({"error", "runtime error"})
SKIPPED = frozenset({"skipped"})


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_id(env: Mapping[str, str]) -> str:
    """The run this publication belongs to: the job wrapper's ELT_RUN_ID, else Meltano's
    MELTANO_RUN_ID, else a new uuid4 (a bare `meltano invoke`)."""
    return env.get("ELT_RUN_ID") or env.get("MELTANO_RUN_ID") or str(uuid.uuid4())


def path_safe(value: str) -> str:
    """`value` as one path component (run ids name staging and version directories)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value).lstrip(".") or "run"


def state_dir(env: Mapping[str, str], engine: str) -> Path:
    """WAP_STATE_DIR, else `$MELTANO_PROJECT_ROOT/output/wap/<engine>`."""
    if env.get("WAP_STATE_DIR"):
        return Path(env["WAP_STATE_DIR"])
    if env.get("MELTANO_PROJECT_ROOT"):
        return Path(env["MELTANO_PROJECT_ROOT"]) / "output" / "wap" / engine
    raise SystemExit(
        "wap: set WAP_STATE_DIR (the utility's wap_state_dir setting) or run it through"
        " Meltano (MELTANO_PROJECT_ROOT): nowhere to record the publication"
    )


@dataclass(frozen=True)
class DbtOutcome:
    """What dbt's run_results.json says about one build."""

    exit_code: int
    invocation_id: str | None
    results: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def audit_passed(self) -> bool:
        """Every node ran and no error-severity test failed (a warning does not block).
        A build without run_results.json (dbt stopped before running) or without a single
        model (a selection that matched nothing) never passes."""
        if self.exit_code != 0 or self.invocation_id is None or not self.counts["models"]:
            return False
        return not any(r["status"] not in PASSED | WARNED for r in self.results)

    @property
    def errored(self) -> bool:
        """The build did not run to the end: dbt stopped, or a node could not run."""
        if self.invocation_id is None:
            return True
        return any(r["status"] in ERRORED for r in self.results)

    def reason(self) -> str:
        """One line for a person: why this build may not be published."""
        if self.invocation_id is None:
            return f"dbt exited {self.exit_code} before it ran any node (no run_results.json)"
        bad = [r for r in self.results if r["status"] not in PASSED | WARNED]
        if not bad and not self.counts["models"]:
            return "the build ran no model (a selection that matched nothing?)"
        if not bad:
            return f"dbt exited {self.exit_code}" if self.exit_code else "audit passed"
        shown = ", ".join(
            f"{r['unique_id'].split('.')[2]} {r['status']}"
            + (f" ({r['failures']} rows)" if r.get("failures") else "")
            for r in bad[:5]
        )
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return f"{len(bad)} node(s) did not pass: {shown}{more}"


def dbt_outcome(exit_code: int, run_results: Mapping[str, Any] | None) -> DbtOutcome:
    """The facts of one build from dbt's run_results.json (None: dbt wrote none)."""
    if run_results is None:
        return DbtOutcome(exit_code, None, [], dict.fromkeys(COUNT_KEYS, 0))
    nodes = run_results.get("results", [])
    results = [
        {
            "unique_id": node["unique_id"],
            "resource_type": node["unique_id"].split(".", 1)[0],
            "status": node["status"],
            "failures": node.get("failures"),
            "message": node.get("message"),
        }
        for node in nodes
        if node["status"] not in PASSED
    ]
    statuses = [node["status"] for node in nodes]
    counts = {
        "models": sum(n["unique_id"].startswith("model.") for n in nodes),
        "tests": sum(n["unique_id"].startswith(("test.", "unit_test.")) for n in nodes),
        "passed": sum(s in PASSED for s in statuses),
        "warned": sum(s in WARNED for s in statuses),
        "failed": sum(s in FAILED for s in statuses),
        "errored": sum(s in ERRORED for s in statuses),
        "skipped": sum(s in SKIPPED for s in statuses),
    }
    return DbtOutcome(exit_code, run_results["metadata"]["invocation_id"], results, counts)


COUNT_KEYS = ("models", "tests", "passed", "warned", "failed", "errored", "skipped")


@dataclass(frozen=True)
class Attempt:
    """One write-audit-publish attempt, as recorded."""

    engine: str
    location: str
    started_at: str
    finished_at: str
    run_id: str
    published: bool
    dbt_exit_code: int
    dbt_invocation_id: str | None
    results: list[dict[str, Any]]
    counts: dict[str, int]
    reason: str
    staging_location: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / name
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def record(directory: Path, attempt: Attempt) -> dict[str, Any]:
    """Record the attempt (and the publication when it published); returns attempt.json.
    `marts_as_of` names the publication users see after this attempt (None: never one)."""
    if attempt.published:
        write_json(directory / PUBLICATION, attempt.as_dict())
    visible = read(directory, PUBLICATION)
    as_of = (
        {"run_id": visible["run_id"], "finished_at": visible["finished_at"]} if visible else None
    )
    data = {**attempt.as_dict(), "marts_as_of": as_of}
    write_json(directory / ATTEMPT, data)
    return data
