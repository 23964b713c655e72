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
        (10_000, 10_000, "ok"),
        (8_100, 10_000, "ok"),
        (8_000, 10_000, "warning"),
        (6_100, 10_000, "warning"),
        (6_000, 10_000, "critical"),
        (0, 10_000, "critical"),
        (15_000, 10_000, "ok"),
        (70, 100, "ok"),  # 30% below, but within a count's own noise (Poisson)
        (40, 100, "critical"),  # beyond it
        (0, 10, "ok"),  # 10 expected: 0 is within noise, not judged as a drop
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
    orders = settings.for_stream("src", "orders")
    assert rules.drop_severity(9_400, 10_000, orders)[0] == "warning"


def test_rolling_median_uses_the_last_n_runs() -> None:
    assert rules.rolling_median([1000, 1000, 10, 20, 30], 3) == 20
    assert rules.rolling_median([], 3) is None


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


def test_incremental_runs_are_never_judged_by_run_size() -> None:
    """Runs of an incremental stream differ in size for reasons that are no problem (two
    runs a day, a quiet LOG_BASED night): its volume is judged by event day instead
    (data_rules), so a small run is no ROW_DROP."""
    rows = _runs(
        [_row(0, "orders", 10_000, "initial")],
        [_row(1, "orders", 200, "incremental")],
        [_row(2, "orders", 200, "incremental")],
        [_row(3, "orders", 20, "incremental")],
    )
    assert rules.evaluate(SETTINGS, rows) == []


def test_a_full_table_drop_is_judged_against_earlier_full_loads() -> None:
    rows = _runs(
        [_row(0, "products", 10_000, "initial")],
        [_row(1, "products", 10_000, "full")],
        [_row(2, "products", 5_000, "full")],
    )
    (finding,) = rules.evaluate(SETTINGS, rows)
    assert (finding.code, finding.severity) == ("ROW_DROP_CRITICAL", "critical")
    assert finding.details["median"] == 10_000


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


def test_a_usually_active_stream_going_quiet_warns_then_is_critical() -> None:
    active = [[_row(run, "o", 30, "incremental")] for run in (1, 2, 3, 4)]
    quiet = [[_row(run, "o", 0, "incremental")] for run in (5, 6, 7)]
    first = _runs([_row(0, "o", 100, "initial")], *active, quiet[0])
    assert [(f.code, f.severity) for f in rules.evaluate(SETTINGS, first)] == [
        ("STREAM_QUIET", "warning")
    ]
    third = _runs([_row(0, "o", 100, "initial")], *active, *quiet)
    assert [(f.code, f.severity) for f in rules.evaluate(SETTINGS, third)] == [
        ("STREAM_QUIET", "critical")
    ]


def test_a_stream_that_is_often_empty_is_never_stale() -> None:
    """Disputes, refunds: most runs bring nothing, so nothing is expected of them."""
    runs = [
        [_row(run, "disputes", 1 if run % 4 == 0 else 0, "incremental")] for run in range(1, 20)
    ]
    rows = _runs([_row(0, "disputes", 3, "initial")], *runs)
    assert rules.evaluate(SETTINGS, rows) == []


def test_schema_change_warns_and_an_unknown_tap_count_is_critical() -> None:
    change = json.dumps([{"schema_hash": "h", "removed": ["status"], "changed": ["x: a -> b"]}])
    rows = _runs(
        [_row(0, "o", 100, "initial")],
        [_row(1, "o", 100, "full", schema_change=change, tap_rows=None)],
    )
    codes = {(f.code, f.severity) for f in rules.evaluate(SETTINGS, rows)}
    assert codes == {
        ("SCHEMA_COLUMN_REMOVED", "warning"),
        ("SCHEMA_COLUMN_RETYPED", "warning"),
        ("TAP_COUNT_UNKNOWN", "critical"),
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


def test_a_rerun_after_a_kill_is_judged_with_what_the_killed_attempt_loaded() -> None:
    """The shop block committed, the job was killed later, the unattended re-run finds no
    new change: one job run, two target runs of the stream. Not quiet, and every
    committed run is reconciled."""
    active = [[_row(run, "o", 30, "incremental")] for run in (1, 2, 3, 4)]
    killed = _row(5, "o", 30, "incremental", run_id="t005-killed")
    rerun = _row(5, "o", 0, "incremental")
    rows = _runs([_row(0, "o", 100, "initial")], *active, [killed, rerun])
    assert rules.evaluate(SETTINGS, rows) == []
    short = _row(5, "o", 30, "incremental", run_id="t005-killed", tap_rows=31)
    rows = _runs([_row(0, "o", 100, "initial")], *active, [short, rerun])
    assert [f.code for f in rules.evaluate(SETTINGS, rows)] == ["TAP_TARGET_MISMATCH"]
