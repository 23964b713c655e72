"""elt-monitor's verdict read from a `meltano run` log as it streams by: lines built with
elt-monitor's own formatting (rules.Finding.line) and in Meltano's console and JSON log
formats, as `meltano run` prints them."""

from __future__ import annotations

import json

from elt_monitor.rules import Finding
from elt_orchestration.monitor import VerdictReader

STAMP = "2026-12-02T17:09:46.945965Z"


def console(plugin: str, text: str) -> bytes:
    """A line of Meltano's console log (plugin name padded like Meltano's)."""
    return f"{STAMP} [info     ] {plugin:<12} {text}\n".encode()


def as_json(plugin: str, text: str) -> bytes:
    """A line of Meltano's JSON log (`--log-format=json`)."""
    record = {"stdio": "stderr", "cmd_type": "command", "name": plugin, "event": text}
    return (json.dumps({**record, "level": "info", "timestamp": STAMP}) + "\n").encode()


MISSING = Finding("STREAM_MISSING", "critical", "tap_legacy_crm/x", "expected stream not loaded")
UNKNOWN = Finding("TAP_COUNT_UNKNOWN", "warning", "tap_csv_marketing/y", "no tap log for the run")


def verdict(job: str, run: str, severity: str) -> str:
    return f"elt-monitor check: job {job} run {run}: {severity}"


def read(lines: list[bytes]) -> VerdictReader:
    reader = VerdictReader()
    for line in lines:
        reader.feed(line)
    return reader


def test_the_last_verdict_wins_with_the_findings_printed_before_it() -> None:
    reader = read(
        [
            console("meltano", "Running job with name 'dev:tap-x-to-target-y'"),
            console("elt-monitor", UNKNOWN.line()),
            console("elt-monitor", verdict("ecommerce-elt", "r1", "warning")),  # the gate
            console("dbt-duckdb", "Done. PASS=119 WARN=0 ERROR=0"),
            console("elt-monitor", MISSING.line()),
            console("elt-monitor", verdict("ecommerce-elt", "r1", "critical")),  # check-dbt
            console("meltano", "Block run completed"),
        ]
    )
    report = reader.last
    assert report is not None
    assert report.severity == "critical" and report.failed and report.is_gate_verdict
    assert report.findings == [
        {
            "code": "STREAM_MISSING",
            "severity": "critical",
            "stream": "tap_legacy_crm/x",
            "message": "expected stream not loaded",
        }
    ]
    assert "job ecommerce-elt, run r1" in report.source
    assert "STREAM_MISSING" in report.failure("ecommerce-elt").description


def test_json_log_lines_are_read_like_console_ones() -> None:
    reader = read(
        [
            as_json("elt-monitor", UNKNOWN.line()),
            as_json("elt-monitor", verdict("ecommerce-elt", "r2", "warning")),
        ]
    )
    assert reader.last is not None
    assert reader.last.severity == "warning" and not reader.last.failed
    assert [f["code"] for f in reader.last.findings] == ["TAP_COUNT_UNKNOWN"]


def test_no_verdict_when_no_check_ran_and_other_plugins_lines_are_not_findings() -> None:
    reader = read(
        [
            console("tap-x", MISSING.line()),  # not elt-monitor's
            console("elt-monitor", "INFO elt_monitor: recorded 15 stream runs in job run r3"),
            console("elt-monitor", "WARNING elt_monitor.alerts: the webhook failed (Timeout)"),
        ]
    )
    assert reader.last is None


def test_an_ok_verdict_has_no_findings_and_does_not_fail() -> None:
    reader = read([console("elt-monitor", verdict("crm-to-lake", "r4", "ok"))])
    assert reader.last is not None
    assert reader.last.severity == "ok" and not reader.last.failed
    assert reader.last.findings == [] and reader.last.lines() == []
