"""Webhook alerts against a local HTTP receiver, the status table and the HTML report,
all from the real CLI after real runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.elt_monitor.conftest import Pipeline, codes

TOKEN = "T000/B000/very-secret-token"


class Receiver:
    """A webhook endpoint that answers 500 to the first `failures` posts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                ok = len(receiver.bodies) > receiver.failures
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=2)
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_critical_run_is_posted_after_retries_and_the_url_is_not_logged(
    pg_pipeline: Pipeline, shop_copy, pg_conn, receiver: Receiver
) -> None:
    assert pg_pipeline.run_and_check(alert_webhook_url=receiver.url).returncode == 0
    assert receiver.bodies == []  # ok: nothing sent
    pg_conn.execute(f"delete from {shop_copy[0]}.orders where order_id % 2 = 0")
    result = pg_pipeline.run_and_check(alert_webhook_url=receiver.url)
    assert result.returncode == 1
    assert len(receiver.bodies) == 3  # two 500s retried, then delivered
    body = receiver.bodies[-1]
    assert body["severity"] == "critical"
    assert body["text"].startswith("test-job on -: CRITICAL (1 new")
    blocks = json.dumps(body["blocks"])
    assert "ROW_DROP_CRITICAL" in blocks and "Verdict" in blocks
    findings = body["verdict"]["findings"]
    assert [(f["code"], f["status"]) for f in findings] == [("ROW_DROP_CRITICAL", "new")]
    assert findings[0]["details"]["drop_pct"] >= 40
    retries = [line for line in result.stderr.splitlines() if "retry" in line]
    assert len(retries) == 2 and all(TOKEN not in line for line in retries)
    assert TOKEN not in result.stdout


def test_an_unreachable_webhook_never_changes_the_verdict(
    pg_pipeline: Pipeline, shop_copy, pg_conn
) -> None:
    assert pg_pipeline.run_and_check().returncode == 0
    pg_conn.execute(f"truncate {shop_copy[0]}.customers")
    dead = f"http://127.0.0.1:9/services/{TOKEN}"
    result = pg_pipeline.run_and_check(alert_webhook_url=dead, alert_retries="1")
    assert result.returncode == 1  # critical, whatever the webhook did
    assert ("critical", "ZERO_ROWS") in codes(result)
    delivery = [line for line in result.stderr.splitlines() if "not delivered" in line]
    assert delivery and TOKEN not in result.stderr


def test_status_table_and_html_report(pg_pipeline: Pipeline, shop_copy, pg_conn) -> None:
    for _ in range(2):
        assert pg_pipeline.run_and_check().returncode == 0
    pg_conn.execute(f"delete from {shop_copy[0]}.orders where order_id % 2 = 0")
    assert pg_pipeline.run_and_check().returncode == 1
    status = pg_pipeline.monitor("status")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert lines[0].split() == ["stream", "kind", "rows", "median", "change", "severity", "codes"]
    orders = next(line.split() for line in lines if line.startswith(f"src/{shop_copy[0]}-orders"))
    assert orders[1] == "full" and orders[5] == "critical" and orders[4].startswith("-")
    assert int(orders[2]) < float(orders[3]) / 2 + 1
    assert lines[-1] == "overall: critical"
    assert any(line.startswith("verdict of run ") and "critical" in line for line in lines)
    out = pg_pipeline.workdir / "report.html"
    report = pg_pipeline.monitor("report", report_path=str(out))
    assert report.returncode == 0 and str(out) in report.stdout
    page = Path(out).read_text()
    # the verdict strip and one chart per full-table stream (no incremental run: no
    # event-date chart); the browser test is test_report.py
    assert page.count("<svg") == 3 and page.count('<svg class="chart full-load"') == 2
    assert "ROW_DROP_CRITICAL" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page
    # a report path that cannot be written: one line naming it and the setting, exit 1
    refused = pg_pipeline.monitor("report", report_path="/dev/null/report.html")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert refused.stderr.splitlines()[-1].startswith(
        "elt-monitor report: cannot write /dev/null/report.html: /dev/null: "
    ), refused.stderr
    assert "ELT_MONITOR_REPORT_PATH" in refused.stderr
