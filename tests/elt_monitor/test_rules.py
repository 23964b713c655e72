"""The threshold logic as pure functions, and `evaluate` over hand-made ledger rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from elt_monitor import rules
from elt_monitor.ledger import JOB_ROW
from elt_monitor.settings import MonitorSettings, SettingsError, Thresholds

LIMITS = Thresholds()


@pytest.mark.parametrize(
    ("current", "median", "severity"),
    [
        (100, 100, "ok"),
        (81, 100, "ok"),
        (80, 100, "warning"),
        (61, 100, "warning"),
        (60, 100, "critical"),
        (0, 100, "critical"),
        (150, 100, "ok"),
        (0, 10, "ok"),  # below min_median_rows: noise, not judged
        (0, None, "ok"),
    ],
)
def test_drop_severity_follows_the_playbook(current, median, severity) -> None:
    assert rules.drop_severity(current, median, LIMITS)[0] == severity


def test_per_stream_thresholds_override_the_defaults() -> None:
    settings = MonitorSettings.from_env(
        {"ELT_MONITOR_STREAM_THRESHOLDS": json.dumps({"orders": {"warn_drop_pct": 5}})}
    )
    assert settings.for_stream("src", "orders").warn_drop_pct == 5
    assert settings.for_stream("src", "customers").warn_drop_pct == 20
    assert rules.drop_severity(94, 100, settings.for_stream("src", "orders"))[0] == "warning"


def test_rolling_median_uses_the_last_n_runs() -> None:
    assert rules.rolling_median([1000, 1000, 10, 20, 30], 3) == 20
    assert rules.rolling_median([], 3) is None


def test_stale_needs_k_runs_without_rows() -> None:
    assert rules.stale([5, 0, 0, 0], 3)
    assert not rules.stale([0, 0, 1], 3)
    assert not rules.stale([0, 0], 3)


def test_quarantine_share() -> None:
    assert rules.quarantine_share(90, 10) == pytest.approx(0.1)
    assert rules.quarantine_share(0, None) == 0.0


def test_emptied_files_only_counts_files_that_had_rows() -> None:
    current = {"a.csv": [0, 0], "b.csv": [0, 0], "c.csv": [5, 0]}
    earlier = [{"a.csv": [10, 1], "b.csv": [0, 0]}]
    assert rules.emptied_files(current, earlier) == ["a.csv"]


def test_like_with_like() -> None:
    assert rules.comparable("incremental", "incremental")
    assert not rules.comparable("incremental", "initial")
    assert rules.comparable("full", "initial")
    assert not rules.comparable("initial", "initial")


@pytest.mark.parametrize(
    ("severity", "fail_on", "code"),
    [("ok", "critical", 0), ("warning", "critical", 0), ("critical", "critical", 1),
     ("warning", "warning", 1), ("critical", "never", 0)],
)  # fmt: skip
def test_exit_code_is_the_gate(severity, fail_on, code) -> None:
    assert rules.exit_code(severity, fail_on) == code


def test_settings_errors_name_the_setting_and_secrets_stay_out_of_repr() -> None:
    with pytest.raises(SettingsError, match="'history_runs'"):
        MonitorSettings.from_env({"ELT_MONITOR_HISTORY_RUNS": "lots"})
    with pytest.raises(SettingsError, match=r"'stream_thresholds\.orders': unknown"):
        MonitorSettings.from_env({"ELT_MONITOR_STREAM_THRESHOLDS": '{"orders": {"bogus": 1}}'})
    with pytest.raises(SettingsError, match="'fail_on'"):
        MonitorSettings.from_env({"ELT_MONITOR_FAIL_ON": "sometimes"})
    settings = MonitorSettings.from_env(
        {"ELT_MONITOR_ALERT_WEBHOOK_URL": "https://hooks.example/T0/SECRET-TOKEN"}
    )
    assert "SECRET-TOKEN" not in repr(settings)


# -- evaluate over ledger rows ------------------------------------------------------------

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _row(run: int, stream: str, rows: int, kind: str, **extra) -> dict:
    at = T0 + dt.timedelta(days=run)
    return {
        "job_run_id": f"run{run:03d}",
        "run_id": f"t{run:03d}",
        "job": "job",
        "source": "src",
        "stream": stream,
        "status": "success",
        "run_kind": kind,
        "incremental": kind == "incremental",
        "started_at": at,
        "finished_at": at,
        "recorded_at": at,
        "tap_rows": rows,
        "target_received_rows": rows,
        "target_rows": rows,
        "quarantine_rows": None,
        "schema_change": None,
        "tap_files": None,
        "error": None,
    } | extra


def _job(run: int) -> dict:
    return _row(run, JOB_ROW, 0, "", source=JOB_ROW)


def _runs(*per_run: list[dict]) -> list[dict]:
    rows = []
    for run, stream_rows in enumerate(per_run):
        rows += [*stream_rows, _job(run)]
    return rows


SETTINGS = MonitorSettings.from_env({"ELT_MONITOR_JOB": "job"})


def test_a_small_incremental_run_after_a_full_first_load_is_ok() -> None:
    rows = _runs(
        [_row(0, "orders", 10_000, "initial")],
        [_row(1, "orders", 120, "incremental")],
    )
    assert rules.evaluate(SETTINGS, rows) == []


def test_incremental_runs_are_compared_with_incremental_runs() -> None:
    rows = _runs(
        [_row(0, "orders", 10_000, "initial")],
        [_row(1, "orders", 200, "incremental")],
        [_row(2, "orders", 200, "incremental")],
        [_row(3, "orders", 90, "incremental")],
    )
    (finding,) = rules.evaluate(SETTINGS, rows)
    assert (finding.code, finding.severity) == ("ROW_DROP_CRITICAL", "critical")
    assert finding.details["median"] == 200


def test_missing_stream_mismatch_and_failure_are_critical() -> None:
    rows = _runs(
        [_row(0, "a", 100, "initial"), _row(0, "b", 100, "initial"), _row(0, "c", 100, "initial")],
        [
            _row(1, "a", 100, "full", tap_rows=101),
            _row(1, "c", 0, "full", status="failed", error="boom"),
        ],
    )
    found = {(f.code, f.stream) for f in rules.evaluate(SETTINGS, rows)}
    assert found == {
        ("TAP_TARGET_MISMATCH", "src/a"),
        ("STREAM_MISSING", "src/b"),
        ("STREAM_FAILED", "src/c"),
    }


def test_no_new_rows_for_k_incremental_runs_warns() -> None:
    rows = _runs(
        [_row(0, "o", 100, "initial")],
        *[[_row(run, "o", 0, "incremental")] for run in (1, 2, 3)],
    )
    assert [(f.code, f.severity) for f in rules.evaluate(SETTINGS, rows)] == [
        ("NO_NEW_ROWS", "warning")
    ]


def test_schema_change_and_unknown_tap_count_warn() -> None:
    change = json.dumps([{"schema_hash": "h", "removed": ["status"], "changed": ["x: a -> b"]}])
    rows = _runs(
        [_row(0, "o", 100, "initial")],
        [_row(1, "o", 100, "full", schema_change=change, tap_rows=None)],
    )
    codes = {(f.code, f.severity) for f in rules.evaluate(SETTINGS, rows)}
    assert codes == {
        ("SCHEMA_COLUMN_REMOVED", "warning"),
        ("SCHEMA_COLUMN_RETYPED", "warning"),
        ("TAP_COUNT_UNKNOWN", "warning"),
    }


def test_no_recorded_run_or_an_empty_run_is_critical() -> None:
    assert [f.code for f in rules.evaluate(SETTINGS, [])] == ["NO_RUN"]
    assert [f.code for f in rules.evaluate(SETTINGS, _runs([]))] == ["NO_STREAMS"]


def test_zero_rows_is_critical_for_a_snapshot_not_for_an_empty_incremental_first_load() -> None:
    rows = _runs(
        [
            _row(0, "disputes", 0, "initial", incremental=True),
            _row(0, "snapshot", 0, "initial", incremental=False),
        ]
    )
    assert [(f.code, f.stream) for f in rules.evaluate(SETTINGS, rows)] == [
        ("ZERO_ROWS", "src/snapshot")
    ]


def test_meltano_yml_mirrors_every_setting() -> None:
    import yaml
    from elt_monitor.settings import SETTINGS

    from tests.conftest import REPO_ROOT

    plugins = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())["plugins"]["utilities"]
    (monitor,) = [p for p in plugins if p["name"] == "elt-monitor"]
    assert [s["name"] for s in monitor["settings"]] == list(SETTINGS)
