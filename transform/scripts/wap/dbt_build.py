"""Run dbt from the utility's own virtualenv and read back its run_results.json.

dbt runs as a child process with the utility's environment (Meltano's settings) plus the
engine's overrides that point it at the staging location; its console output goes
straight to ours, so Meltano's log shows it as before. Its target directory is the one
elt-monitor reads (DBT_TARGET_PATH, else the project's `target`), and only the build
writes there: the engine's own dbt operations use a directory of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# transform/scripts/wap/dbt_build.py -> transform/
DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[2]
PARTIAL_PARSE = "partial_parse.msgpack"


def dbt_executable() -> str:
    """The `dbt` beside this Python (the utility's venv under Meltano, .venv in tests)."""
    return str(Path(sys.executable).parent / "dbt")


def project_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("DBT_PROJECT_DIR") or DEFAULT_PROJECT_DIR)


def target_dir(env: Mapping[str, str]) -> Path:
    """Where dbt writes run_results.json: DBT_TARGET_PATH, else `<project>/target`."""
    path = Path(env.get("DBT_TARGET_PATH") or "target")
    return path if path.is_absolute() else project_dir(env) / path


def dbt(
    args: Sequence[str], env: Mapping[str, str], overrides: Mapping[str, str] | None = None
) -> int:
    """`dbt <args>` in the project directory; returns its exit code."""
    child = {**env, **(overrides or {})}
    directory = project_dir(child)
    command = [dbt_executable(), *args, "--project-dir", str(directory)]
    if child.get("DBT_PROFILES_DIR"):
        command += ["--profiles-dir", child["DBT_PROFILES_DIR"]]
    sys.stdout.flush()
    return subprocess.run(command, env=child, cwd=directory, check=False).returncode


def operation(
    macro: str,
    macro_args: Mapping[str, Any],
    env: Mapping[str, str],
    overrides: Mapping[str, str],
    dbt_vars: Mapping[str, Any],
    scratch: Path,
) -> int:
    """`dbt run-operation` with its own target directory, so it does not replace the
    build's run_results.json that elt-monitor reads. The build's partial-parse file is
    copied there first (with the same settings and vars dbt then skips a full parse:
    ~20 s on the test machine)."""
    target = scratch / "target"
    target.mkdir(parents=True, exist_ok=True)
    saved = target_dir(env) / PARTIAL_PARSE
    if saved.exists():
        shutil.copyfile(saved, target / PARTIAL_PARSE)
    child = {**overrides, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(scratch)}
    args = ["run-operation", macro, "--args", json.dumps(macro_args)]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    return dbt(args, env, child)


def run_results(env: Mapping[str, str], since: dt.datetime) -> dict[str, Any] | None:
    """This build's run_results.json; None when dbt wrote none after `since` (it stopped
    before running, and an older file belongs to another invocation)."""
    path = target_dir(env) / "run_results.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    generated = dt.datetime.fromisoformat(data["metadata"]["generated_at"].replace("Z", "+00:00"))
    if generated.tzinfo is None:
        generated = generated.replace(tzinfo=dt.UTC)
    return data if generated >= since.replace(microsecond=0) else None


def environment() -> dict[str, str]:
    return dict(os.environ)
