"""Check a third-party plugin's required settings, then become the plugin.

`meltano run tap-stripe-custom target-snowflake` without Snowflake credentials started the
tap, then failed when the target, seconds later, validated its config: the cause was
line 364 of 485, between the tap's logs and BrokenPipe tracebacks. Meltano itself does
not enforce `settings_group_validation` at run time (4.4: only `meltano config list`
shows it). So the plugin's executable in meltano.yml is this guard, installed into the
plugin's venv beside it: it reads the config files Meltano passes (`--config`), and when
no alternative group of required settings is complete it prints one line naming the
missing settings and where to set them, and exits 1 in about the time Python takes to
start, before the tap has sent anything. Otherwise it `exec`s the real executable with
the same arguments (same PID, signals and exit code). Values are never printed.

Configured by one environment variable set in the plugin's `env:` in meltano.yml:
`SETTINGS_GUARD` = JSON {"plugin", "executable", "groups": [[setting, ...], ...],
"hints": {setting: "SNOWFLAKE_ACCOUNT or TARGET_SNOWFLAKE_ACCOUNT", ...}}. Stdlib only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CONFIG_ENV = "SETTINGS_GUARD"


def config_files(argv: Sequence[str]) -> list[Path]:
    """The files given as `--config PATH` or `--config=PATH` (repeatable, as singer-sdk)."""
    files = []
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            files.append(Path(argv[index + 1]))
        elif arg.startswith("--config="):
            files.append(Path(arg.split("=", 1)[1]))
    return files


def merged_config(files: Sequence[Path]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for path in files:
        config.update(json.loads(path.read_text()))
    return config


def missing(config: Mapping[str, Any], groups: Sequence[Sequence[str]]) -> list[str]:
    """Settings without a value in the closest-to-complete group ([] when one is complete
    or no group is declared)."""
    if not groups:
        return []
    gaps = [[name for name in group if config.get(name) in (None, "")] for group in groups]
    return min(gaps, key=len)


def message(plugin: str, gaps: Sequence[str], hints: Mapping[str, str]) -> str:
    listed = ", ".join(f"{name} (set {hints[name]})" if name in hints else name for name in gaps)
    return f"{plugin} is missing required settings: {listed}"


def structured_logging() -> bool:
    """Whether Meltano asked for singer-sdk's JSON log lines (the plugin declares the
    `structured-logging` capability): Meltano then keeps each line's level, so the
    refusal is logged as an error instead of as plain stderr at info level."""
    path = os.environ.get("SINGER_SDK_LOG_CONFIG")
    try:
        return bool(path) and "StructuredFormatter" in Path(path).read_text()
    except OSError:
        return False


def report(text: str, plugin: str) -> None:
    """One line on stderr: singer-sdk's structured form when Meltano parses it, else text."""
    if structured_logging():
        text = json.dumps(
            {
                "level": "error",
                "pid": os.getpid(),
                "logger_name": "settings_guard",
                "ts": dt.datetime.now(dt.UTC).timestamp(),
                "thread_name": threading.current_thread().name,
                "app_name": plugin,
                "message": text,
            }
        )
    print(text, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        spec = json.loads(os.environ[CONFIG_ENV])
        plugin, executable = spec["plugin"], spec["executable"]
    except (KeyError, json.JSONDecodeError) as error:
        print(
            f"settings-guard: {CONFIG_ENV} is missing or not valid JSON ({error})", file=sys.stderr
        )
        return 2
    files = config_files(args)
    # --about, --help and --version describe the plugin and need no complete config
    if files and not {"--about", "--help", "--version"} & set(args):
        gaps = missing(merged_config(files), spec.get("groups", []))
        if gaps:
            report(message(plugin, gaps, spec.get("hints", {})), plugin)
            return 1
    # the real plugin sits beside the guard in the plugin's venv
    path = Path(sys.argv[0]).resolve().parent / executable
    target = str(path) if path.exists() else shutil.which(executable)
    if target is None:
        print(f"settings-guard: {executable} not found beside {sys.argv[0]}", file=sys.stderr)
        return 2
    os.execv(target, [target, *args])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
