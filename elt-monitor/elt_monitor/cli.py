"""`elt-monitor record | check | finish | status | report | ack | verdict`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from elt_monitor import alerts, dbt_results, ledger, marts, report, rules, verdict
from elt_monitor.lake import Lake
from elt_monitor.rules import CRITICAL, Finding
from elt_monitor.settings import MonitorSettings, SettingsError

log = logging.getLogger("elt_monitor")
# A wrapper (the orchestrator's op, scripts.run_job) names a local file here: every stage
# also writes the run's verdict to it, so the wrapper reads the verdict as data.
VERDICT_FILE_ENV = "ELT_VERDICT_FILE"
STAGES = {
    # stage: (records the loads first, folds dbt in, ends the run)
    "check": (False, False, True),
    "gate": (True, False, False),
    "finish": (False, True, True),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="elt-monitor", description=__doc__)
    parser.add_argument("--lake-root", help="overrides the lake_root setting")
    parser.add_argument("--job", help="overrides the job setting")
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="append the runs the lake holds to the ledger")
    rec.add_argument("--tap-log", help="a tap's saved stderr (pipes)")
    check = commands.add_parser("check", help="judge the latest run; exit 1 on critical")
    check.add_argument("--record", action="store_true", help="record first")
    check.add_argument("--tap-log", help="with --record: a tap's saved stderr")
    check.add_argument("--dbt", action="store_true", help="fold in dbt's run_results.json")
    check.add_argument("--dbt-target-dir", help="overrides dbt_target_dir")
    check.add_argument("--fail-on", choices=["critical", "warning", "never"])
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.add_argument(
        "--stage",
        choices=sorted(STAGES),
        default="check",
        help="gate: record, judge the loads, alert only when it stops the job; finish: "
        "fold in dbt and the marts' publication, send the run's one alert",
    )
    finish = commands.add_parser(
        "finish", help="the run's last check: loads, dbt, marts; sends the run's one alert"
    )
    finish.add_argument("--dbt-target-dir", help="overrides dbt_target_dir")
    finish.add_argument("--fail-on", choices=["critical", "warning", "never"])
    finish.add_argument("--json", action="store_true", help="print the verdict as JSON")
    finish.add_argument("--no-dbt", action="store_true", help="a job without dbt")
    commands.add_parser("status", help="a table of the latest run")
    rep = commands.add_parser("report", help="write the HTML report")
    rep.add_argument("--output", help="overrides report_path")
    ack = commands.add_parser("ack", help="silence a known finding (recorded with who and why)")
    ack.add_argument("code", help="finding code, e.g. LATE_ROWS")
    ack.add_argument("stream", help="source/stream, or * for every stream")
    ack.add_argument("--reason", required=True, help="why it is known and acceptable")
    ack.add_argument("--until", help="last day it is silenced (YYYY-MM-DD); default: always")
    show = commands.add_parser("verdict", help="print a job run's stored verdict (JSON)")
    show.add_argument("--job-run-id", help="default: the latest")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    args = _parser().parse_args(argv)
    try:
        settings = MonitorSettings.from_env(
            lake_root=args.lake_root,
            job=args.job,
            tap_log=getattr(args, "tap_log", None),
            dbt_target_dir=getattr(args, "dbt_target_dir", None),
            fail_on=getattr(args, "fail_on", None),
            report_path=getattr(args, "output", None),
        )
        if args.command == "ack" and args.until:
            dt.date.fromisoformat(args.until)
    except SettingsError as error:
        print(f"elt-monitor: {error}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"elt-monitor: --until {args.until!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    lake = Lake(settings)
    if args.command == "record":
        rows = ledger.record(settings, lake)
        log.info("recorded %d stream runs in job run %s", len(rows) - 1, rows[-1]["job_run_id"])
        return 0
    if args.command == "ack":
        ack = verdict.add_ack(lake, args.code, args.stream, args.reason, args.until)
        print(
            f"acknowledged {ack.code} on {ack.stream} "
            f"until {ack.until or 'withdrawn'}: {ack.reason}"
        )
        return 0
    if args.command == "verdict":
        return _show_verdict(settings, lake, args.job_run_id)
    if args.command in ("check", "finish"):
        stage = "finish" if args.command == "finish" else args.stage
        record_first, with_dbt, final = STAGES[stage]
        with_dbt = (with_dbt and not getattr(args, "no_dbt", False)) or getattr(args, "dbt", False)
        return _judge(
            settings,
            lake,
            stage,
            record_first or args.__dict__.get("record", False),
            with_dbt,
            final,
            args.json,
        )
    rows = ledger.read(lake)
    findings = rules.evaluate(settings, rows)
    history = verdict.history(lake, settings.job)
    if args.command == "status":
        print(report.status_text(settings, rows, findings, history))
        return 0
    path = Path(settings.report_path)
    page = report.html_report(settings, rows, findings, history)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page)
    except OSError as error:
        # a setting the user can fix, not a bug: one line naming the path and the setting
        # (and the part of the path that failed, when it is a parent: "/dev/null: File
        # exists")
        reason = error.strerror or str(error)
        if error.filename and str(error.filename) != str(path):
            reason = f"{error.filename}: {reason}"
        print(
            f"elt-monitor report: cannot write {path}: {reason}"
            " (set report_path, ELT_MONITOR_REPORT_PATH, to a writable file)",
            file=sys.stderr,
        )
        return 1
    print(f"report: {path.resolve()}")
    return 0


def _this_run_recorded(settings: MonitorSettings, rows: list[dict]) -> bool:
    """Under a wrapper (ELT_RUN_ID), whether this job run is in the ledger yet: a run
    whose loads failed before the gate is not, and `finish` records it."""
    run_id = os.environ.get(ledger.RUN_ID_ENV)
    if not run_id:
        return True
    return any(
        r["stream"] == ledger.JOB_ROW and r["job"] == settings.job and r.get("elt_run_id") == run_id
        for r in rows
    )


def _judge(
    settings: MonitorSettings,
    lake: Lake,
    stage: str,
    record_first: bool,
    with_dbt: bool,
    final: bool,
    as_json: bool,
) -> int:
    if record_first or (stage == "finish" and not _this_run_recorded(settings, ledger.read(lake))):
        recorded = ledger.record(settings, lake)
        log.info(
            "recorded %d stream runs in job run %s", len(recorded) - 1, recorded[-1]["job_run_id"]
        )
    rows = ledger.read(lake)
    findings = rules.evaluate(settings, rows)
    runs = rules.job_runs(rows, settings.job)
    job_run_id = runs[-1] if runs else "-"
    earlier_stage = verdict.read(lake, settings.job, job_run_id) if runs else None
    since = _recorded_at(rows, job_run_id)
    dbt = marts_state = None
    if with_dbt and since:
        dbt = dbt_results.summary(Path(settings.dbt_target_dir), since)
        if dbt["ran"]:
            findings += dbt_results.findings(Path(settings.dbt_target_dir))
        elif rules.overall(findings) != CRITICAL:
            findings.append(
                Finding(
                    "DBT_NOT_RUN",
                    CRITICAL,
                    settings.job,
                    "the loads were judged fit, but dbt did not finish in this job run: "
                    "the marts were not rebuilt",
                )
            )
        marts_state = marts.state(Path(settings.wap_state_dir), since)
        if marts_state and marts_state["attempted_this_run"]:
            findings += marts.findings(settings.job, marts_state)
    result = verdict.build(
        job=settings.job,
        job_run_id=job_run_id,
        environment=settings.environment,
        lake_uri=lake.uri(""),
        stage=stage,
        findings=findings,
        acks=verdict.read_acks(lake),
        before=verdict.previous(lake, settings.job, job_run_id),
        earlier_stage=earlier_stage,
        dbt=dbt,
        marts=marts_state,
    )
    code = rules.exit_code(result["severity"], settings.fail_on)
    result |= {"fail_on": settings.fail_on, "exit_code": code}
    if (final or code != 0) and runs and alerts.due(settings, result):
        sent = alerts.send(settings, alerts.payload(result, settings.report_path))
        result["alert"] = {
            "sent": sent,
            "stage": stage,
            "severity": result["severity"],
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }
    if runs:
        verdict.write(lake, result)
    _write_local_copy(result)
    if as_json:
        print(json.dumps(result, default=str))
    else:
        print(_verdict_text(result))
    return code


def _recorded_at(rows: list[dict], job_run_id: str) -> dt.datetime | None:
    times = [r["recorded_at"] for r in rows if r["job_run_id"] == job_run_id]
    return min(times) if times else None


def _write_local_copy(result: dict[str, Any]) -> None:
    path = os.environ.get(VERDICT_FILE_ENV)
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(json.dumps(result, default=str))
        temporary.replace(target)


def _verdict_text(result: dict[str, Any]) -> str:
    lines = [
        f"{f['severity'].upper():8} {f['code']:22} {f['stream']}: {f['message']}"
        + (" (repeated)" if f["status"] == "repeated" else "")
        for f in result["findings"]
    ]
    lines += [
        f"ACKED    {f['code']:22} {f['stream']}: {f['ack']['reason']}"
        for f in result["acknowledged"]
    ]
    if result.get("marts"):
        m = result["marts"]
        state = "published" if m["published_this_run"] else "NOT published"
        lines.append(f"marts: {state} by this run; users see run {m['as_of_run']} ({m['as_of']})")
    lines.append(
        f"elt-monitor {result['stage']}: job {result['job']} run {result['job_run_id']}: "
        f"{result['severity']}"
    )
    return "\n".join(lines)


def _show_verdict(settings: MonitorSettings, lake: Lake, job_run_id: str | None) -> int:
    if job_run_id is None:
        history = verdict.history(lake, settings.job)
        found = history[-1] if history else None
    else:
        found = verdict.read(lake, settings.job, job_run_id)
    if found is None:
        print(f"elt-monitor: no verdict of job {settings.job} in {lake.uri('')}", file=sys.stderr)
        return 1
    print(json.dumps(found, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
