"""The HTML report of a bad night, read in a real browser.

A copy of the shop's orders is loaded incrementally (real tap | real target, bookmarks
carried as Meltano carries them, `elt-monitor check --record` after each run): the first
load, three normal nights, then a night whose new orders have no shipping city and
prices x100. A real `dbt build` with a failing test and the write-audit-publish state
(yesterday's marts still published) are folded in by `elt-monitor finish`. The page
`elt-monitor report` writes is opened in Debian's chromium driven by playwright, which
checks what a person sees: each run's verdict, every event date drawn in its band, the
flagged column, dbt's failing test, which marts users see, and that the page asked for
nothing beyond its own file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from elt_monitor import report_data, rules, verdict

from tests.elt_monitor.conftest import BIN, Pipeline
from tests.elt_monitor.test_data_rules import SETTINGS, Shop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Nights bring the orders of 2026-01-01.. (the shop's history ends 2025-12-31), each a
# copy of the orders two weeks earlier: a normal count for its weekday.
FIRST_NIGHT = dt.date(2026, 1, 1)
COLUMNS = (
    "customer_id, order_date, status, total_amount, shipping_address, shipping_city, "
    "shipping_state, shipping_country, shipping_zip"
)
CRITICAL_RGB = "rgb(198, 40, 40)"
OK_RGB = "rgb(46, 125, 50)"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `./dev.sh install` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _night(pg_conn, schema: str, day: dt.date, *, bad: bool = False) -> int:
    """Insert `day`'s new orders (a copy of the orders two weeks earlier, updated now so
    the bookmark picks them up); a bad night loses the shipping city and has prices x100.
    Returns the number of orders inserted."""
    city = "null" if bad else "shipping_city"
    total = "total_amount * 100" if bad else "total_amount"
    select_columns = COLUMNS.replace("shipping_city", city).replace("total_amount", total, 1)
    cursor = pg_conn.execute(
        f"insert into {schema}.orders (order_id, {COLUMNS}, created_at, updated_at) "
        f"select (select max(order_id) from {schema}.orders) "
        f"+ row_number() over (order by order_id), {select_columns}, "
        "created_at + interval '14 days', clock_timestamp() at time zone 'UTC' "
        f"from {schema}.orders where created_at::date = %s",
        (day - dt.timedelta(days=14),),
    )
    return cursor.rowcount


def _dbt_build_with_a_failing_test(workdir: Path) -> Path:
    """A real `dbt build` of a one-model project whose unique test fails on one row;
    returns dbt's target directory (run_results.json)."""
    project = workdir / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: report_probe\nversion: '1.0'\nprofile: report_probe\nmodel-paths: [models]\n"
    )
    (project / "profiles.yml").write_text(
        "report_probe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {project / 'probe.duckdb'}\n"
    )
    (project / "models" / "fct_orders.sql").write_text(
        "select 1 as order_id union all select 1 union all select 2"
    )
    (project / "models" / "fct_orders.yml").write_text(
        "models:\n  - name: fct_orders\n    columns:\n      - name: order_id\n"
        "        data_tests: [unique, not_null]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    result = subprocess.run(
        [str(BIN / "dbt"), "build", "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout[-2000:]  # the unique test fails
    return project / "target"


def _wap_state(directory: Path, published_run: str, published_at: str) -> None:
    """The write-audit-publish state as the publisher leaves it after a failed audit:
    the last publication (an earlier run) and this run's attempt, not published."""
    directory.mkdir(parents=True)
    location = str(directory / "marts.duckdb")
    (directory / "publication.json").write_text(
        json.dumps(
            {
                "run_id": published_run,
                "finished_at": published_at,
                "location": location,
                "engine": "duckdb",
            }
        )
    )
    (directory / "attempt.json").write_text(
        json.dumps(
            {
                "run_id": "tonight",
                "started_at": dt.datetime.now(dt.UTC).isoformat(),
                "published": False,
                "location": location,
                "engine": "duckdb",
            }
        )
    )


def _incremental_event_dates(lake: Path, stream: str) -> set[str]:
    """Every event date the stream's incremental runs brought, read from the ledger."""
    rows = pq.read_table(lake / "_meta" / "ledger").to_pylist()
    latest = {(r["job_run_id"], r["run_id"], r["stream"]): r for r in rows}
    return {
        day
        for r in latest.values()
        if r["stream"] == stream and r["run_kind"] == "incremental" and r["status"] == "success"
        for day in json.loads(r["profile"])["event_dates"]
    }


def _verdicts(lake: Path) -> list[dict]:
    files = sorted((lake / "_meta" / "verdicts" / "test-job").glob("*.json"))
    return [json.loads(path.read_text()) for path in files]


def test_the_report_of_a_bad_night_in_a_browser(
    pg_pipeline: Pipeline, shop_copy, pg_conn, browser, tmp_path: Path
) -> None:
    schema = shop_copy[0]
    orders = f"{schema}-orders"
    pg_pipeline.tap_config["stream_options"] = {
        orders: {"replication_method": "INCREMENTAL", "replication_key": "updated_at"}
    }
    pg_pipeline.target_settings = {"event_time_fields": {orders: "created_at"}}
    pg_pipeline.carry_state = True
    # at the test scale a night brings 6-8 orders: judge columns from 5 rows a run
    pg_pipeline.monitor_env = {"ELT_MONITOR_THRESHOLDS": json.dumps({"min_column_rows": 5})}

    assert pg_pipeline.run_and_check().returncode == 0
    for night in range(4):
        bad = night == 3
        assert _night(pg_conn, schema, FIRST_NIGHT + dt.timedelta(days=night), bad=bad) >= 5
        result = pg_pipeline.run_and_check()
        assert result.returncode == (1 if bad else 0), result.stdout + result.stderr
    verdicts = _verdicts(pg_pipeline.lake)
    published = verdicts[-2]
    target_dir = _dbt_build_with_a_failing_test(tmp_path)
    _wap_state(tmp_path / "wap", published["job_run_id"], published["checked_at"])
    finish = pg_pipeline.monitor(
        "finish", dbt_target_dir=str(target_dir), wap_state_dir=str(tmp_path / "wap")
    )
    assert finish.returncode == 1, finish.stdout + finish.stderr
    verdicts = _verdicts(pg_pipeline.lake)
    assert [v["severity"] for v in verdicts][-1] == "critical"
    codes = {(f["code"], f["stream"]) for f in verdicts[-1]["findings"]}
    assert ("NULL_SHARE", f"src/{orders}") in codes

    out = tmp_path / "report" / "night.html"
    report = pg_pipeline.monitor("report", report_path=str(out))
    assert report.returncode == 0, report.stderr

    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(out.as_uri())
    # only the document itself: no script, style, font or image from anywhere
    assert requests == [out.as_uri()]

    # the verdict of every job run, newest first, with its colour
    shown = page.locator("#runs tr.run")
    assert shown.count() == len(verdicts) == 5
    newest_first = list(reversed(verdicts))
    for index, stored in enumerate(newest_first):
        row = shown.nth(index)
        assert row.get_attribute("data-run") == stored["job_run_id"]
        badge = row.locator(".badge")
        assert badge.inner_text() == stored["severity"]
        assert badge.get_attribute("class") == f"badge sev-{stored['severity']}"
    assert (
        shown.nth(0).locator(".badge").evaluate("e => getComputedStyle(e).backgroundColor")
        == CRITICAL_RGB
    )
    assert [v["severity"] for v in verdicts[:-1]] == ["ok"] * 4
    assert (
        shown.nth(1).locator(".badge").evaluate("e => getComputedStyle(e).backgroundColor")
        == OK_RGB
    )
    assert "NULL_SHARE" in shown.nth(0).locator(".codes").inner_text()
    assert page.locator("svg.strip rect").count() == 5
    assert page.locator("svg.strip rect.sev-critical").count() == 1

    # every event date the incremental runs brought is a point, in a band that is drawn
    chart = page.locator(f'svg.chart.volume[data-stream="src/{orders}"]')
    assert chart.count() == 1
    dates = _incremental_event_dates(pg_pipeline.lake, orders)
    assert len(dates) >= 4
    points = chart.locator("circle.point")
    assert points.count() == len(dates)
    assert {points.nth(i).get_attribute("data-label") for i in range(points.count())} == dates
    band = chart.locator("polygon.band")
    assert band.count() >= 1
    assert band.first.bounding_box()["height"] > 0
    # the first load's year of orders is not on the chart
    assert min(dates) >= "2025-12"

    # the flagged finding and its column's profile over the runs
    finding = page.locator('#findings ~ ul li.finding[data-code="NULL_SHARE"]')
    assert finding.is_visible() and "shipping_city" in finding.inner_text()
    column = page.locator(f'h3.column[data-column="shipping_city"][data-stream="src/{orders}"]')
    assert column.is_visible()
    nulls = page.locator(f'svg.chart[aria-label="src/{orders}.shipping_city: NULL share per run"]')
    # the runs it is compared with (three normal nights) and the bad night, at the share
    # the check found (not quite 100%: the bookmark's tie row from last night is re-read)
    assert nulls.locator("circle.point").count() == 4
    values = [
        float(v)
        for v in nulls.locator("circle").evaluate_all(
            "cs => cs.map(c => c.getAttribute('data-value'))"
        )
    ]
    null_share = next(f for f in verdicts[-1]["findings"] if f["code"] == "NULL_SHARE")
    assert values[-1] == pytest.approx(null_share["details"]["share"], abs=1e-4)
    assert values[-1] > 0.8 and max(values[:-1]) == 0.0
    assert page.locator('h3.column[data-column="total_amount"]').is_visible()

    # dbt's failing test with its row count, and which marts users see
    failing = page.locator("#dbt ~ table tr.dbt-node")
    assert failing.count() == 1
    assert "unique_fct_orders_order_id" in failing.inner_text()
    assert failing.locator("td.num").inner_text() == "1"
    marts = page.locator("#marts").inner_text()
    assert published["job_run_id"] in marts and "NOT published" in marts
    summary = page.locator("#summary").inner_text()
    assert str(pg_pipeline.lake) in summary and "test-job" in summary
    history = page.locator("tr.history.state-new")
    assert history.count() >= 2  # NULL_SHARE and MEAN_SHIFT are new tonight
    page.close()


def test_the_volume_band_is_the_checks_own() -> None:
    """Generated nights through the target's real profiler: the one day the check calls a
    spike is the one point drawn outside its band, at the check's own upper bound; the
    first load's 120 days of history are not points."""
    shop = Shop(3)
    for _ in range(14):
        assert shop.night() == []
    spike_day = shop.day.isoformat()
    findings = shop.night(volume=3.0)
    spike = next(f for f in findings if f.code == "VOLUME_SPIKE" and f.stream == "shop/orders")
    assert spike.details["event_date"] == spike_day
    data = report_data.build(SETTINGS, shop.rows, findings, [])
    series = next(s for s in data.volumes if s.stream == "shop/orders")
    assert len(series.points) == 15  # one event date per night
    outside = [p for p in series.points if p.outside]
    assert [p.label for p in outside] == [spike_day]
    assert outside[0].value == spike.details["rows"]
    assert outside[0].high == pytest.approx(spike.details["upper"], abs=0.05)
    # volume is learnt from the nights after the first load: a band from the fourth on
    assert [p.low is not None for p in series.points] == [False] * 3 + [True] * 12


def test_flagged_columns_are_drawn_per_run() -> None:
    """A night in euros with no channel: the currency's share of 'eur' and the channel's
    NULL share per incremental run, the bad night last."""
    shop = Shop(5)
    for _ in range(6):
        assert shop.night() == []
    findings = shop.night(currency="eur", null_channel=True)
    assert {f.code for f in findings} >= {"VALUE_SHIFT", "NULL_SHARE"}
    data = report_data.build(SETTINGS, shop.rows, findings, [])
    charts = {(c.stream, c.column): c for c in data.columns}
    currency = {s.title.rsplit(": ", 1)[1]: s for s in charts["shop/orders", "currency"].series}
    eur = [p.value for p in currency["share of 'eur' per run"].points]
    assert eur == [0.0] * 6 + [1.0]  # the six normal nights, then the bad one
    channel = {s.title.rsplit(": ", 1)[1]: s for s in charts["shop/orders", "channel"].series}
    nulls = [p.value for p in channel["NULL share per run"].points]
    assert nulls == [0.0] * 6 + [1.0]
    assert "mean per run" not in channel  # text has no mean


def test_findings_history_new_repeated_resolved_acknowledged() -> None:
    def finding(code: str) -> rules.Finding:
        return rules.Finding(code, "warning", "shop/orders", f"{code} message")

    ack = verdict.Ack("LATE_ROWS", "*", "known backfill", "ops", "2026-01-01T00:00:00")
    history: list[dict] = []
    for run, codes in enumerate([["NULL_SHARE"], ["NULL_SHARE", "MEAN_SHIFT"], ["MEAN_SHIFT"]]):
        found = [finding(c) for c in codes] + ([finding("LATE_ROWS")] if run == 2 else [])
        history.append(
            verdict.build(
                job="nightly",
                job_run_id=f"run{run}",
                environment="prod",
                lake_uri="s3://lake/",
                stage="finish",
                findings=found,
                acks=[ack],
                before=history[-1] if history else None,
            )
        )
    states = {
        (h.code, h.state, h.first_run, h.last_run, h.runs)
        for h in report_data.finding_history(history)
    }
    assert states == {
        ("MEAN_SHIFT", "repeated", "run1", "run2", 2),
        ("NULL_SHARE", "resolved", "run0", "run1", 2),
        ("LATE_ROWS", "acknowledged", "run2", "run2", 0),
    }
    marks = report_data.timeline(["run0", "run1", "run2"], [], history)
    assert [(m.job_run_id, m.severity, len(m.resolved)) for m in marks] == [
        ("run0", "warning", 0),
        ("run1", "warning", 0),
        ("run2", "warning", 1),
    ]
