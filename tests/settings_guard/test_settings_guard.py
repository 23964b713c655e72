"""settings-guard: refuses an incomplete config in its first line, else becomes the plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

SPEC = {
    "plugin": "target-x",
    "executable": "echo",  # found on PATH: the guard's own directory has none
    "groups": [["account", "password"], ["account", "private_key_path"]],
    "hints": {"account": "X_ACCOUNT or TARGET_X_ACCOUNT"},
}


def guard(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT / "settings-guard"),
        "SETTINGS_GUARD": json.dumps(SPEC),
    }
    env.pop("SINGER_SDK_LOG_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "settings_guard", "--config", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_incomplete_config_is_refused_naming_the_settings_not_the_values(tmp_path) -> None:
    result = guard(tmp_path, {"password": "s3cr3t", "account": ""})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "target-x is missing required settings: account (set X_ACCOUNT or TARGET_X_ACCOUNT)"
    ]
    assert "s3cr3t" not in result.stderr + result.stdout


def test_a_complete_group_runs_the_plugin_with_the_same_arguments(tmp_path) -> None:
    result = guard(tmp_path, {"account": "a", "private_key_path": "/k"}, "--input", "x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["--config", str(tmp_path / "config.json"), "--input", "x"]


def test_about_needs_no_complete_config(tmp_path) -> None:
    result = guard(tmp_path, {}, "--about")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "--about"
