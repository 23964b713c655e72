"""Trust the numbers, end to end: simulated nights of the sandbox run through the real job.

A sandbox of its own (scale 0.1: ~24 orders a day) is loaded once, then moved forward one
simulated day at a time (`elt-sandbox advance`), and after each day the nightly job runs
as cron runs it (`python -m scripts.run_job ecommerce-elt`). The sandbox's clock is set
(`api.start_clock`) and moved by each night: its Stripe and CRM stand-ins answer with
that time in their `Date` header, and the two taps bound each run by the API's clock
(never later than their own), so a night's objects are read by the run after that night.

- 20 normal nights (Poisson counts, a weekday pattern) give no finding at all, with the
  default settings, and no alert.
- Then each night carries one upstream problem (the sandbox's anomalies): the verdict has
  the expected code on the expected stream with the expected severity, exactly one alert
  reaches the local webhook receiver, and on a critical night the marts users query are
  the previous night's, unchanged.
- A job killed once its shop block has committed is run again unattended: the re-run
  finishes without a critical finding and publishes the marts.

The normal nights run the job's loads and its gate (the data checks) without dbt, to keep
the suite's time; every problem night runs the whole job.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import (
    MELTANO,
    MeltanoRunner,
    local_lake_runner,
)
from tests.e2e.install import project_lock
from tests.e2e.test_recovery import mart_totals
from tests.sandbox.conftest import NIGHT_SCALE, env_of, night_home  # noqa: F401 (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.scenarios]

NORMAL_NIGHTS = 20
JOB = "ecommerce-elt"
SHOP = "tap_ecommerce_postgres"
LOADS_AND_GATE = [
    "tap-ecommerce-postgres",
    "target-minio-parquet",
    "tap-stripe-custom",
    "target-minio-parquet",
    "tap-legacy-crm",
    "target-minio-parquet",
    "tap-csv-marketing",
    "target-minio-parquet",
    "elt-monitor:gate",
]


class Receiver:
    """The team's chat webhook: records every alert."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T0/secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclass
class Nights:
    runner: MeltanoRunner
    home: SandboxHome
    receiver: Receiver
    log: list[str] = field(default_factory=list)

    def _run(self, argv: list[str], night: str, timeout: int = 1200):
        started = time.monotonic()
        with project_lock(exclusive=False):
            result = subprocess.run(
                argv,
                cwd=REPO_ROOT,
                env=dict(self.runner.env),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        self.log.append(f"{night} {argv[-1]}: {time.monotonic() - started:.0f} s")
        print(self.log[-1], flush=True)
        return result

    def job(self, night: str):
        """The night's run, as cron starts it."""
        return self._run([sys.executable, "-m", "scripts.run_job", JOB], night)

    def loads_and_gate(self, night: str):
        return self._run([MELTANO, "run", *LOADS_AND_GATE], night)

    def advance(self, *anomalies: str) -> dt.date:
        (night,) = api.advance(self.home, days=1, anomalies=list(anomalies))
        return night.day

    def verdict(self) -> dict:
        folder = Path(self.runner.lake_root) / "_meta" / "verdicts" / JOB
        return json.loads(sorted(folder.glob("*.json"))[-1].read_text())

    def marts(self) -> dict[str, tuple]:
        """Rows and sums of money of every business mart users query."""
        return mart_totals(self.runner.warehouse)


@pytest.fixture(scope="module")
def nights(night_home, meltano_installed, tmp_path_factory) -> Iterator[Nights]:  # noqa: F811
    workdir = tmp_path_factory.mktemp("e2e-nights")
    receiver = Receiver()
    runner = local_lake_runner(env_of(night_home), workdir)
    runner = MeltanoRunner(
        dict(runner.env) | {"ELT_MONITOR_ALERT_WEBHOOK_URL": receiver.url}, workdir
    )
    simulation = Nights(runner, night_home, receiver)
    api.start_clock(night_home)
    result = simulation.job("first load")
    assert result.returncode == 0, result.stderr[-6000:]
    try:
        yield simulation
    finally:
        receiver.server.shutdown()
        print("\n".join(simulation.log))


def _found(verdict: dict) -> dict[tuple[str, str], str]:
    return {(f["code"], f["stream"]): f["severity"] for f in verdict["findings"]}


@pytest.fixture(scope="module")
def normal_nights(nights: Nights) -> list[str]:
    """The normal nights, run once for the module: what went wrong on any of them."""
    problems = []
    alerts_before = len(nights.receiver.bodies)
    for number in range(NORMAL_NIGHTS):
        day = nights.advance()
        result = nights.loads_and_gate(str(day))
        verdict = nights.verdict()
        if result.returncode != 0 or verdict["findings"]:
            problems.append(
                f"night {number + 1} ({day}), exit {result.returncode}: "
                + "; ".join(
                    f"{f['severity']} {f['code']} {f['stream']}: {f['message']}"
                    for f in verdict["findings"]
                )
                + ("" if verdict["findings"] else result.stderr[-2000:])
            )
    if len(nights.receiver.bodies) != alerts_before:
        problems.append(f"{len(nights.receiver.bodies) - alerts_before} alerts were sent")
    return problems


def test_normal_nights_raise_nothing(normal_nights: list[str]) -> None:
    assert normal_nights == []


def test_a_job_killed_after_its_shop_block_recovers_unattended(
    nights: Nights, normal_nights: list[str]
) -> None:
    """Runs after the normal nights, before the problem nights: a problem night's data
    stays in the sources (a stale day's orders never get their charges), and dbt's tests
    rightly fail on every later night."""
    day = nights.advance()
    lake = Path(nights.runner.lake_root)
    before = set(lake.glob("tap_stripe_custom/**/*.parquet"))
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.run_job", JOB],
        cwd=REPO_ROOT,
        env=dict(nights.runner.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # the shop block has committed once Stripe's block starts writing
    deadline = time.monotonic() + 900
    while set(lake.glob("tap_stripe_custom/**/*.parquet")) == before:
        assert process.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "Stripe's block never started"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    alerts_before = len(nights.receiver.bodies)
    rerun = nights.job(f"{day} re-run")
    verdict = nights.verdict()
    assert rerun.returncode == 0, (verdict["findings"], rerun.stderr[-4000:])
    assert verdict["severity"] != "critical", verdict["findings"]
    assert verdict["dbt"]["ran"] and not verdict["dbt"]["not_passed"]
    if verdict.get("marts") is not None:
        assert verdict["marts"]["published_this_run"]
    assert len(nights.receiver.bodies) - alerts_before <= 1


# (anomaly, code, stream, severity): the order puts `day-first-dates` on a day of the
# month up to 12 whose day-first reading is another month (9 Jan read as 1 Sep).
SCENARIOS = [
    ("spike", "VOLUME_SPIKE", f"{SHOP}/public-orders", "critical"),
    ("drop", "VOLUME_DROP", f"{SHOP}/public-orders", "critical"),
    ("null-burst", "NULL_SHARE", f"{SHOP}/public-orders", "critical"),
    ("price-x100", "MEAN_SHIFT", f"{SHOP}/public-order_items", "critical"),
    # money halved: orders (diluted by the night's status updates of older orders), items,
    # charges and payment intents all carry it; the finding names those it is sure of
    (
        "half-price",
        "MEAN_SHIFT",
        (
            f"{SHOP}/public-orders",
            f"{SHOP}/public-order_items",
            "tap_stripe_custom/charges",
            "tap_stripe_custom/payment_intents",
        ),
        "critical",
    ),
    ("currency-switch", "VALUE_SHIFT", "tap_stripe_custom/charges", "critical"),
    ("stripe-stale", "RELATED_STREAM_GAP", "tap_stripe_custom/charges", "critical"),
    # an order's items share its time, so the items show the shifted rhythm first
    (
        "tz-shift",
        "EVENT_HOUR_SHIFT",
        (f"{SHOP}/public-orders", f"{SHOP}/public-order_items"),
        "critical",
    ),
    ("duplicate-day", "DUPLICATE_KEYS", "tap_csv_marketing/campaign_performance", "critical"),
    ("late-rows", "LATE_ROWS", f"{SHOP}/public-orders", "warning"),
    ("empty-export", "ZERO_ROWS_FILE", "tap_csv_marketing/marketing_spend", "critical"),
    # charges of orders the shop never had (metadata.order_id against the orders' keys)
    ("orphans", "ORPHAN_KEYS", "tap_stripe_custom/charges", "critical"),
    ("quiet", "STREAM_QUIET", f"{SHOP}/public-orders", "warning"),
    ("day-first-dates", "EVENT_DATE_AHEAD", "tap_csv_marketing/campaign_performance", "critical"),
    # last: the deleted product stays in the lake, so the warning repeats every night after
    ("hard-delete-product", "SOURCE_ROWS_DELETED", f"{SHOP}/public-products", "warning"),
]


def test_each_upstream_problem_gives_its_finding_one_alert_and_safe_marts(
    nights: Nights, normal_nights: list[str]
) -> None:
    failures = []
    for anomaly, code, stream, severity in SCENARIOS:
        day = nights.advance(anomaly)
        marts_before = nights.marts()
        alerts_before = len(nights.receiver.bodies)
        result = nights.job(str(day))
        verdict = nights.verdict()
        found = _found(verdict)
        alerts = nights.receiver.bodies[alerts_before:]
        problems = []
        streams = (stream,) if isinstance(stream, str) else stream
        matched = [
            s
            for (c, name), s in found.items()
            if c == code and (streams is None or name in streams)
        ]
        if severity not in matched:
            problems.append(f"expected {severity} {code} on {stream}, found {found}")
        if verdict["severity"] != max(found.values(), key=["ok", "warning", "critical"].index):
            problems.append(f"verdict {verdict['severity']} does not match its findings")
        if len(alerts) != 1:
            problems.append(f"{len(alerts)} alerts instead of one")
        elif alerts[0]["job_run_id"] != verdict["job_run_id"]:
            problems.append("the alert is not this run's")
        if verdict["severity"] == "critical":
            if result.returncode == 0:
                problems.append("a critical night exited 0")
            if nights.marts() != marts_before:
                problems.append("the marts users query changed on a critical night")
        elif result.returncode != 0:
            problems.append(f"a {verdict['severity']} night exited {result.returncode}")
        if problems:
            failures.append(f"{anomaly} ({day}): " + "; ".join(problems))
    assert failures == [], "\n".join(failures)
