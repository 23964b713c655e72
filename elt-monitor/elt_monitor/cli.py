"""`elt-monitor record | check | status | report`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from elt_monitor import alerts, dbt_results, ledger, report, rules
from elt_monitor.lake import Lake
from elt_monitor.settings import MonitorSettings, SettingsError

log = logging.getLogger("elt_monitor")


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
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    commands.add_parser("status", help="a table of the latest run")
    rep = commands.add_parser("report", help="write the HTML report")
    rep.add_argument("--output", help="overrides report_path")
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
    except SettingsError as error:
        print(f"elt-monitor: {error}", file=sys.stderr)
        return 2
    lake = Lake(settings)
    if args.command == "record" or getattr(args, "record", False):
        rows = ledger.record(settings, lake)
        log.info("recorded %d stream runs in job run %s", len(rows) - 1, rows[-1]["job_run_id"])
        if args.command == "record":
            return 0
    rows = ledger.read(lake)
    findings = rules.evaluate(settings, rows)
    if getattr(args, "dbt", False):
        findings += dbt_results.findings(Path(settings.dbt_target_dir))
    severity = rules.overall(findings)
    if args.command == "check":
        return _check(settings, rows, findings, severity, args.json)
    if args.command == "status":
        print(report.status_text(report.status_rows(settings, rows, findings), severity))
        return 0
    path = Path(settings.report_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.html_report(settings, rows, findings))
    print(f"report: {path.resolve()}")
    return 0


def _check(settings, rows, findings, severity, as_json: bool) -> int:
    runs = rules.job_runs(rows, settings.job)
    job_run_id = runs[-1] if runs else "-"
    if as_json:
        print(json.dumps({"severity": severity, "findings": [f.to_dict() for f in findings]}))
    else:
        for finding in findings:
            print(finding.line())
        print(f"elt-monitor check: job {settings.job} run {job_run_id}: {severity}")
    if severity != "ok":
        alerts.send(settings, alerts.payload(settings.job, job_run_id, severity, findings))
    return rules.exit_code(severity, settings.fail_on)


if __name__ == "__main__":
    sys.exit(main())
