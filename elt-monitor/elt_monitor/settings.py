"""Configuration as a value: parsed once from the environment Meltano gives a utility
(`ELT_MONITOR_<SETTING>`), checked at the edge, trusted everywhere after.

Every setting is declared once here (name, default, meaning) and mirrored in meltano.yml.
A malformed value is a `SettingsError` naming the setting, raised before anything is read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PREFIX = "ELT_MONITOR_"
SEVERITIES = ("ok", "warning", "critical")


class SettingsError(ValueError):
    """A setting has a value the monitor cannot use; the message names the setting."""


@dataclass(frozen=True)
class Thresholds:
    """The limits one stream is judged by (defaults from the DQ playbook)."""

    warn_drop_pct: float = 20.0
    critical_drop_pct: float = 40.0
    # below this median a drop is noise (a few rows of an incremental run), not judged
    min_median_rows: int = 50
    stale_runs: int = 3
    quarantine_warn_share: float = 0.05

    def merged(self, overrides: Mapping[str, Any], where: str) -> Thresholds:
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise SettingsError(f"setting '{where}': unknown threshold(s) {sorted(unknown)}")
        values = {}
        for name, value in overrides.items():
            kind = type(getattr(self, name))
            try:
                values[name] = kind(value)
            except (TypeError, ValueError):
                raise SettingsError(
                    f"setting '{where}.{name}': {value!r} is not a number"
                ) from None
        return replace(self, **values)


# name -> (default, description); the table in the README is this one.
SETTINGS: dict[str, tuple[Any, str]] = {
    "lake_root": ("", "lake root (dir or s3://bucket/prefix); default: the target's destination"),
    "s3_endpoint_url": ("", "S3/MinIO endpoint URL"),
    "aws_access_key_id": ("", "S3 access key (secret)"),
    "aws_secret_access_key": ("", "S3 secret key (secret)"),
    "aws_region": ("us-east-1", "S3 region"),
    "s3_path_style": (True, "path-style addressing (MinIO)"),
    "job": ("adhoc", "job name recorded in the ledger and checked"),
    "environment": ("", "environment recorded (default MELTANO_ENVIRONMENT)"),
    "expected_streams": ([], "source/stream that every run must load (plus those seen before)"),
    "incremental_streams": ([], "source/stream read incrementally without a replication key"),
    "history_runs": (90, "job runs kept in the ledger; older ones are trimmed"),
    "median_runs": (7, "last successful comparable runs the median is taken over"),
    "min_history_runs": (1, "comparable runs needed before a drop is judged"),
    "thresholds": ({}, "default thresholds (warn_drop_pct, critical_drop_pct, ...)"),
    "stream_thresholds": ({}, "per stream (`stream` or `source/stream`) threshold overrides"),
    "fail_on": ("critical", "exit 1 at this severity: critical, warning or never"),
    "alert_webhook_url": ("", "Slack-compatible webhook (secret, never logged)"),
    "alert_on": ("warning", "lowest severity that is sent: warning or critical"),
    "alert_retries": (4, "webhook retries (exponential backoff with jitter)"),
    "alert_timeout_seconds": (5.0, "timeout of one webhook request"),
    "meltano_log_dir": ("", "Meltano's run logs (default: Meltano's user log dir)/elt"),
    "tap_log": ("", "a tap's stderr saved to a file (pipes); else Meltano's run logs"),
    "dbt_target_dir": ("", "dbt's target dir (default DBT_TARGET_PATH, transform/target)"),
    "report_path": ("output/elt-monitor-report.html", "where `report` writes its HTML"),
}


@dataclass(frozen=True)
class MonitorSettings:
    """All settings, parsed; secrets stay out of repr."""

    lake_root: str
    s3_endpoint_url: str | None
    aws_region: str
    s3_path_style: bool
    job: str
    environment: str
    expected_streams: tuple[str, ...]
    incremental_streams: frozenset[str]
    history_runs: int
    median_runs: int
    min_history_runs: int
    thresholds: Thresholds
    stream_thresholds: Mapping[str, Thresholds]
    fail_on: str
    alert_on: str
    alert_retries: int
    alert_timeout_seconds: float
    meltano_log_dir: str
    tap_log: str
    dbt_target_dir: str
    report_path: str
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    alert_webhook_url: str | None = field(default=None, repr=False)

    def for_stream(self, source: str, stream: str) -> Thresholds:
        return (
            self.stream_thresholds.get(f"{source}/{stream}")
            or self.stream_thresholds.get(stream)
            or self.thresholds
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> MonitorSettings:
        """Settings from `ELT_MONITOR_*` variables, CLI overrides winning."""
        env = os.environ if env is None else env
        raw: dict[str, Any] = {}
        for name, (default, _) in SETTINGS.items():
            if overrides.get(name) not in (None, ""):
                raw[name] = overrides[name]
            elif env.get(PREFIX + name.upper(), "") != "":
                raw[name] = _parse(name, env[PREFIX + name.upper()], default)
            else:
                raw[name] = default
        return _build(raw, env)


def _parse(name: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"setting '{name}': {text!r} is not a boolean")
    if isinstance(default, (list, dict)):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            if isinstance(default, list):  # Meltano passes arrays as JSON; allow "a,b"
                return [part.strip() for part in text.split(",") if part.strip()]
            raise SettingsError(f"setting '{name}': not a JSON object") from None
        if not isinstance(value, type(default)):
            raise SettingsError(f"setting '{name}': expected a JSON {type(default).__name__}")
        return value
    if isinstance(default, (int, float)):
        try:
            return type(default)(text)
        except ValueError:
            raise SettingsError(f"setting '{name}': {text!r} is not a number") from None
    return text


def _lake_root(raw: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The lake the loader wrote: Meltano's override of the loader's own destination
    (`TARGET_MINIO_PARQUET_DESTINATION`: the data went there, so the ledger must), else
    the setting, else dbt's override, else the project's default lake."""
    root = env.get("TARGET_MINIO_PARQUET_DESTINATION", "") or raw["lake_root"]
    root = root or env.get("DBT_DUCKDB_LAKE_ROOT", "")
    if root:
        return str(root)
    project = env.get("MELTANO_PROJECT_ROOT") or os.getcwd()
    return str(Path(project) / "output" / "lake")


def _dbt_target_dir(raw: Mapping[str, Any], env: Mapping[str, str]) -> str:
    if raw["dbt_target_dir"]:
        return str(raw["dbt_target_dir"])
    if env.get("DBT_TARGET_PATH"):
        return env["DBT_TARGET_PATH"]
    project = env.get("MELTANO_PROJECT_ROOT") or os.getcwd()
    return str(Path(project) / "transform" / "target")


def _build(raw: dict[str, Any], env: Mapping[str, str]) -> MonitorSettings:
    for name in ("history_runs", "median_runs", "min_history_runs", "alert_retries"):
        if int(raw[name]) < (0 if name == "alert_retries" else 1):
            raise SettingsError(f"setting '{name}': must be at least 1")
    if raw["fail_on"] not in ("critical", "warning", "never"):
        raise SettingsError("setting 'fail_on': one of critical, warning, never")
    if raw["alert_on"] not in ("warning", "critical"):
        raise SettingsError("setting 'alert_on': one of warning, critical")
    url = raw["alert_webhook_url"] or None
    if url and not str(url).startswith(("http://", "https://")):
        raise SettingsError("setting 'alert_webhook_url': must be an http(s) URL")
    defaults = Thresholds().merged(raw["thresholds"], "thresholds")
    per_stream = {
        str(key): defaults.merged(value, f"stream_thresholds.{key}")
        for key, value in raw["stream_thresholds"].items()
        if isinstance(value, dict) or _bad_stream_thresholds(key)
    }
    return MonitorSettings(
        lake_root=_lake_root(raw, env),
        s3_endpoint_url=raw["s3_endpoint_url"] or env.get("AWS_ENDPOINT_URL") or None,
        aws_region=raw["aws_region"],
        s3_path_style=bool(raw["s3_path_style"]),
        job=raw["job"],
        environment=raw["environment"] or env.get("MELTANO_ENVIRONMENT", ""),
        expected_streams=tuple(raw["expected_streams"]),
        incremental_streams=frozenset(raw["incremental_streams"]),
        history_runs=int(raw["history_runs"]),
        median_runs=int(raw["median_runs"]),
        min_history_runs=int(raw["min_history_runs"]),
        thresholds=defaults,
        stream_thresholds=per_stream,
        fail_on=raw["fail_on"],
        alert_on=raw["alert_on"],
        alert_retries=int(raw["alert_retries"]),
        alert_timeout_seconds=float(raw["alert_timeout_seconds"]),
        meltano_log_dir=raw["meltano_log_dir"],
        tap_log=raw["tap_log"],
        dbt_target_dir=_dbt_target_dir(raw, env),
        report_path=raw["report_path"],
        aws_access_key_id=raw["aws_access_key_id"] or env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=(
            raw["aws_secret_access_key"] or env.get("AWS_SECRET_ACCESS_KEY") or None
        ),
        alert_webhook_url=url,
    )


def _bad_stream_thresholds(key: str) -> bool:
    raise SettingsError(f"setting 'stream_thresholds.{key}': expected an object")
