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
class ForeignKey:
    """A declared reference checked for orphans (foreign_keys.py)."""

    stream: str  # source/stream of the referencing rows
    column: str  # its column, or `column.field` inside a JSON object column
    references: str  # source/stream referenced
    key: str  # the referenced stream's key column


@dataclass(frozen=True)
class Thresholds:
    """The limits one stream is judged by (defaults from the DQ playbook)."""

    # full-table streams: a run's rows against the median of earlier full loads
    warn_drop_pct: float = 20.0
    critical_drop_pct: float = 40.0
    # below this median a run-level drop of a full-table stream is not judged (0: the
    # count-aware band alone decides)
    min_median_rows: int = 0
    quarantine_warn_share: float = 0.05
    # volume by event day: z of the band (median/MAD with a Poisson floor) below and above
    volume_z: float = 3.5
    spike_z: float = 4.0
    # a spike this many times the expected rows is critical (else a warning)
    spike_critical_ratio: float = 2.0
    # days before an event day that it is compared with (same weekday when possible); a
    # band from mixed weekdays is this share of the median wider on each side
    baseline_days: int = 28
    weekday_floor: float = 0.4
    # rows for event days this far behind the stream's latest are late-arriving
    late_days: float = 7.0
    late_min_rows: int = 3
    late_share: float = 0.05
    # rows dated this far after the stream's latest event date are misdated
    max_days_ahead: float = 7.0
    # column rules need this many rows in the run and this many comparable earlier runs
    min_column_rows: int = 10
    min_column_runs: int = 3
    # NULL share this much above the usual one (and beyond sampling noise)
    null_share_jump: float = 0.2
    # mean of a number column off by this factor (either way) and by spike_z times its
    # usual spread: warning; by mean_critical_ratio: critical
    mean_shift_ratio: float = 1.3
    mean_critical_ratio: float = 1.5
    # a column whose values usually spread wider than this times their mean has no level
    mean_max_cv: float = 1.5
    # a value never seen before with this share of the run (a currency switch)
    category_new_share: float = 0.5
    # event times shifted by at least this many hours against the usual time of day, with
    # this much evidence (log-likelihood ratio, nats): a time zone shift
    hour_shift_hours: float = 3.0
    hour_shift_evidence: float = 16.0
    # the usual time of day must differ from flat by this much (KL divergence, nats)
    hour_rhythm_min: float = 0.05
    # a run without rows whose chance (Poisson, from the mean of the last `activity_runs`
    # runs) is below quiet_chance: warning; below its square and `stale_runs` long: critical
    # references naming no row of the referenced stream (foreign_keys): this share of the
    # run's checked rows is a warning, `orphan_critical_share` (and 3 rows) critical
    orphan_warn_share: float = 0.01
    orphan_critical_share: float = 0.05
    quiet_chance: float = 0.0001
    activity_runs: int = 14
    stale_runs: int = 3

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
    "related_streams": (
        [],
        "pairs [leading, following] of source/stream judged together per event day "
        "(orders -> charges): the following one stopping while the leading one grows",
    ),
    "foreign_keys": (
        [],
        "references to check for orphans: objects {stream, column, references, key} "
        "(source/stream; `column.field` reads a field of a JSON object column)",
    ),
    "fail_on": ("critical", "exit 1 at this severity: critical, warning or never"),
    "alert_webhook_url": ("", "Slack-compatible webhook (secret, never logged)"),
    "alert_on": ("warning", "lowest severity that is sent: ok (every run), warning or critical"),
    "alert_retries": (4, "webhook retries (exponential backoff with jitter)"),
    "alert_timeout_seconds": (5.0, "timeout of one webhook request"),
    "meltano_log_dir": ("", "Meltano's run logs (default: Meltano's user log dir)/elt"),
    "tap_log": ("", "a tap's stderr saved to a file (pipes); else Meltano's run logs"),
    "dbt_target_dir": ("", "dbt's target dir (default DBT_TARGET_PATH, transform/target)"),
    "report_path": ("output/elt-monitor-report.html", "where `report` writes its HTML"),
    "wap_state_dir": (
        "",
        "the dbt write-audit-publish state (publication.json, attempt.json) that says which "
        "run's marts are published (default: output/wap/duckdb under the project)",
    ),
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
    related_streams: tuple[tuple[str, str], ...]
    foreign_keys: tuple[ForeignKey, ...]
    fail_on: str
    alert_on: str
    alert_retries: int
    alert_timeout_seconds: float
    meltano_log_dir: str
    tap_log: str
    dbt_target_dir: str
    report_path: str
    wap_state_dir: str
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
    if raw["alert_on"] not in SEVERITIES:
        raise SettingsError("setting 'alert_on': one of ok, warning, critical")
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
        related_streams=_pairs(raw["related_streams"]),
        foreign_keys=_foreign_keys(raw["foreign_keys"]),
        fail_on=raw["fail_on"],
        alert_on=raw["alert_on"],
        alert_retries=int(raw["alert_retries"]),
        alert_timeout_seconds=float(raw["alert_timeout_seconds"]),
        meltano_log_dir=raw["meltano_log_dir"],
        tap_log=raw["tap_log"],
        dbt_target_dir=_dbt_target_dir(raw, env),
        report_path=raw["report_path"],
        wap_state_dir=raw["wap_state_dir"]
        or str(Path(env.get("MELTANO_PROJECT_ROOT") or os.getcwd()) / "output" / "wap" / "duckdb"),
        aws_access_key_id=raw["aws_access_key_id"] or env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=(
            raw["aws_secret_access_key"] or env.get("AWS_SECRET_ACCESS_KEY") or None
        ),
        alert_webhook_url=url,
    )


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    pairs = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all("/" in str(p) for p in pair)):
            raise SettingsError(
                f"setting 'related_streams': {pair!r} is not a pair [source/stream, source/stream]"
            )
        pairs.append((str(pair[0]), str(pair[1])))
    return tuple(pairs)


def _foreign_keys(value: Any) -> tuple[ForeignKey, ...]:
    fields = ("stream", "column", "references", "key")
    declared = []
    for entry in value:
        if not (
            isinstance(entry, dict)
            and set(entry) == set(fields)
            and all(isinstance(entry[f], str) and entry[f] for f in fields)
            and "/" in entry["stream"]
            and "/" in entry["references"]
        ):
            raise SettingsError(
                f"setting 'foreign_keys': {entry!r} is not an object with exactly "
                "stream (source/stream), column, references (source/stream) and key"
            )
        declared.append(ForeignKey(**{f: entry[f] for f in fields}))
    return tuple(declared)


def _bad_stream_thresholds(key: str) -> bool:
    raise SettingsError(f"setting 'stream_thresholds.{key}': expected an object")
