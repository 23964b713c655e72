"""Run the write-audit-publish script (transform/scripts/wap_publish.py) as Meltano's
`wap` command does: the venv's Python, the utility's settings as environment variables,
dbt's target and log paths and the publication state under one work directory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from tests.transform.conftest import ONE_DBT_THREAD

WAP_SCRIPT = REPO_ROOT / "transform" / "scripts" / "wap_publish.py"
PROJECT_DIR = REPO_ROOT / "transform"


def run_wap(
    engine: str,
    workdir: Path,
    settings: Mapping[str, str],
    run_id: str,
    *dbt_args: str,
    timeout: int = 1200,
    defer_exit: bool = False,
) -> subprocess.CompletedProcess:
    """`python wap_publish.py [--defer-exit] <engine> [dbt args]` with the state in
    `workdir/wap`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DBT_", "MELTANO_", "ELT_", "WAP_", "TZ"))
    }
    env.update(
        {
            **settings,
            "DBT_PROJECT_DIR": str(PROJECT_DIR),
            "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
            "DBT_TARGET_PATH": str(workdir / "dbt-target"),
            "DBT_LOG_PATH": str(workdir / "dbt-logs"),
            **ONE_DBT_THREAD,
            "WAP_STATE_DIR": str(workdir / "wap"),
            "ELT_RUN_ID": run_id,
        }
    )
    flags = ["--defer-exit"] if defer_exit else []
    return subprocess.run(
        [sys.executable, str(WAP_SCRIPT), *flags, engine, *dbt_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=workdir,
    )


def state(workdir: Path, name: str) -> dict[str, Any]:
    return json.loads((workdir / "wap" / name).read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
