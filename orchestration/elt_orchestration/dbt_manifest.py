"""The dbt project's manifest.json, which dagster-dbt turns into one asset per model.

`dbt parse` takes 7 CPU-s (35 s wall on a loaded 2-core machine), too slow for every
code-location load, so the manifest is kept under `transform/target/dagster/` and parsed
again only when a file of the dbt project is newer than it: `./dev.sh install` parses it,
and a code server that finds it stale parses it once. `dbt parse` reads files only (no
warehouse, no lake), so the load stays offline. A run worker never parses: it reads the
manifest the code server read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DBT_PROJECT = "transform"  # the dbt-duckdb utility's project_dir: $MELTANO_PROJECT_ROOT/transform
MANIFEST = Path("target") / "dagster" / "manifest.json"
# the project's own outputs, not its sources
_NOT_SOURCES = {"target", "logs", "dbt_packages"}
PARSE_TIMEOUT_SECONDS = 300


class DbtManifestError(RuntimeError):
    """`dbt parse` failed: the message names the project and dbt's own error."""


def manifest_path(root: Path) -> Path:
    return Path(root) / DBT_PROJECT / MANIFEST


def read(root: Path, *, parse_if_stale: bool = True) -> dict[str, Any] | None:
    """The manifest of `root`'s dbt project (None: the project has no dbt project), parsed
    first when missing or older than a file of the project and `parse_if_stale`."""
    project = Path(root) / DBT_PROJECT
    if not (project / "dbt_project.yml").is_file():
        return None
    path = manifest_path(root)
    if parse_if_stale and is_stale(project, path):
        parse(project, path)
    return json.loads(path.read_text())


def is_stale(project: Path, path: Path) -> bool:
    if not path.is_file():
        return True
    built = path.stat().st_mtime
    return any(newest_source(project, top) > built for top in project.iterdir())


def newest_source(project: Path, top: Path) -> float:
    if top.name in _NOT_SOURCES or top.name.startswith("."):
        return 0.0
    if top.is_file():
        return top.stat().st_mtime
    return max((p.stat().st_mtime for p in top.rglob("*") if p.is_file()), default=0.0)


def parse(project: Path, path: Path) -> None:
    """`dbt parse` into a scratch target dir, then the manifest renamed into place (a
    reader never sees half a file; two parsers at once both write a whole one)."""
    dbt = str(Path(sys.executable).parent / "dbt")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dbt-parse-", dir=path.parent) as scratch:
        env = {
            **os.environ,
            # parse renders every source's `external_location`: a value, not a lake
            "LAKE_ROOT": os.environ.get("LAKE_ROOT", "lake-root-not-read-by-parse"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        done = subprocess.run(
            [
                dbt,
                "parse",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project / "profiles"),
                "--target-path",
                scratch,
                "--log-path",
                scratch,
                "--no-partial-parse",
                "--quiet",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=PARSE_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise DbtManifestError(
                f"`dbt parse` of {project} failed (exit {done.returncode}):"
                f" {(done.stdout + done.stderr).strip()[-2000:]}"
            )
        os.replace(Path(scratch) / "manifest.json", path)


if __name__ == "__main__":  # ./dev.sh install: `python -m elt_orchestration.dbt_manifest`
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path.cwd())
    read(root)
    print(f"dbt manifest: {manifest_path(root)}", file=sys.stderr)
