"""elt-monitor's verdict in the op: the JSON file a stage of the run wrote (built here by
elt-monitor's own `verdict.build`, as its CLI writes it), never its log text."""

from __future__ import annotations

import json
from pathlib import Path

from elt_monitor import verdict
from elt_monitor.rules import Finding
from elt_orchestration.monitor import VERDICT_FILE_ENV, read_verdict

MISSING = Finding("STREAM_MISSING", "critical", "tap_legacy_crm/x", "expected stream not loaded")
QUIET = Finding("STREAM_QUIET", "warning", "tap_csv_marketing/y", "no new rows for 1 run")


def _write(path: Path, findings: list[Finding], stage: str, fail_on: str = "critical") -> None:
    result = verdict.build(
        job="ecommerce-elt",
        job_run_id="20261206T030000Z-abcd1234",
        environment="dev",
        lake_uri="/lake",
        stage=stage,
        findings=findings,
        acks=[],
        before=None,
    )
    severity = result["severity"]
    failing = severity == "critical" or (fail_on == "warning" and severity == "warning")
    path.write_text(json.dumps(result | {"fail_on": fail_on, "exit_code": int(failing)}))


def test_the_env_name_is_the_monitors() -> None:
    from elt_monitor.cli import VERDICT_FILE_ENV as MONITOR_SIDE

    assert VERDICT_FILE_ENV == MONITOR_SIDE


def test_a_critical_verdict_fails_with_its_findings(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    _write(path, [MISSING, QUIET], "gate")
    report = read_verdict(path)
    assert report is not None
    assert report.severity == "critical" and report.failed and report.is_gate_verdict
    assert [f["code"] for f in report.findings] == ["STREAM_MISSING", "STREAM_QUIET"]
    assert "elt-monitor gate (job ecommerce-elt, run 20261206T030000Z-abcd1234)" in report.source
    assert "STREAM_MISSING" in report.failure("ecommerce-elt").description


def test_fail_on_warning_is_the_monitors_own_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    _write(path, [QUIET], "finish", fail_on="warning")
    report = read_verdict(path)
    assert report is not None and report.severity == "warning" and report.failed
    _write(path, [QUIET], "finish")
    report = read_verdict(path)
    assert report is not None and not report.failed


def test_no_file_is_no_verdict(tmp_path: Path) -> None:
    assert read_verdict(tmp_path / "missing.json") is None
    (tmp_path / "half.json").write_text('{"severity": ')
    assert read_verdict(tmp_path / "half.json") is None


def test_a_run_that_broke_is_retried_a_run_with_bad_data_is_not(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    failed = Finding("STREAM_FAILED", "critical", "tap_stripe_custom/charges", "tap exited 1")
    _write(path, [failed, QUIET], "finish")
    report = read_verdict(path)
    assert report is not None and report.failed and not report.is_gate_verdict
    _write(path, [failed, MISSING], "finish")
    report = read_verdict(path)
    assert report is not None and report.is_gate_verdict
