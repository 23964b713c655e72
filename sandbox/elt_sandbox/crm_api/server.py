"""HTTP API in the legacy style: GET /api/v1/customers?page=N&per_page=M[&updated_since=T].

`POST /_sandbox/sync` applies the simulated nights' updates appended to the journal since
the last sync (`elt_sandbox.journal`); `GET /_sandbox/stats` reports counts and faults.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from elt_sandbox.crm_api.data import CrmData, distinct_count
from elt_sandbox.crm_api.faults import CrmFaultInjector
from elt_sandbox.journal import JournalFollower
from elt_sandbox.nights.clock import CLOCK_FILE, ClockReader

MAX_PER_PAGE = 1000
GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def http_date_after(seconds: float) -> str:
    """An HTTP-date at least `seconds` from now (HTTP-dates have whole seconds: round up)."""
    moment = dt.datetime.fromtimestamp(math.ceil(time.time() + seconds), dt.UTC)
    return email.utils.format_datetime(moment, usegmt=True)


class CrmHandler(BaseHTTPRequestHandler):
    server: CrmServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header: the sandbox clock's time when one is set (nights/clock.py)."""
        return super().date_time_string(self.server.clock.now() if timestamp is None else timestamp)

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              declared_length: int | None = None,
              content_type: str = "application/json") -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(declared_length or len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if urlsplit(self.path).path != "/_sandbox/sync":
            self._json(404, {"error": "not found"})
            return
        applied = self.server.journal.sync()
        self._json(200, {"applied": applied, "total": self.server.journal.applied})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_sandbox/stats":
            data = self.server.data
            self._json(
                200,
                {
                    "requests": self.server.requests,
                    "records_served": len(data.records),
                    "distinct_records": len(data.distinct_ids),
                    "faults": self.server.faults.counts,
                },
            )
            return
        if url.path != "/api/v1/customers":
            self._json(404, {"error": "not found"})
            return
        self.server.count_request()
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token != self.server.token:
            self._json(403, {"error": "forbidden", "message": "invalid API token"})
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "100"))
        except ValueError:
            self._json(400, {"error": "bad_request", "message": "page and per_page are integers"})
            return
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            self._json(
                400, {"error": "bad_request", "message": f"per_page must be 1..{MAX_PER_PAGE}"}
            )
            return
        fault = self.server.faults.decide(page)
        if fault and self._inject(fault, page):
            return
        payload = self._page_body(query.get("updated_since"), page, per_page)
        self.server.remember(payload)
        self._send(200, payload)

    def _page_body(self, updated_since: str | None, page: int, per_page: int) -> bytes:
        records, total = self.server.listing(updated_since)
        pagination: dict = {"page": page} if self.server.echo_page else {}
        pagination |= {
            "per_page": per_page,
            "total_pages": max(1, math.ceil(len(records) / per_page)),
        }
        if self.server.report_total:
            pagination["total_records"] = total
        body = {"data": records[(page - 1) * per_page : page * per_page], "pagination": pagination}
        return json.dumps(body).encode()

    def _inject(self, fault: str, page: int) -> bool:
        """Send the fault's response; False when the request should then succeed normally."""
        faults = self.server.faults.faults
        if fault in ("5xx", "sticky"):
            self._json(503 if fault == "sticky" else 500, {"error": "internal error"})
        elif fault in ("429", "429_date"):
            headers = {}
            if faults.retry_after and fault == "429_date":
                headers["Retry-After"] = http_date_after(faults.retry_after)
            elif faults.retry_after:
                headers["Retry-After"] = f"{faults.retry_after:g}"
            self._json(429, {"error": "rate limited"}, headers)
        elif fault == "slow":
            time.sleep(faults.slow_seconds)
            return False
        elif fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault == "truncated":
            payload = json.dumps({"data": [{"id": 1}] * 50}).encode()
            self._send(200, payload[: len(payload) // 2], declared_length=len(payload))
            self.close_connection = True
        elif fault == "malformed":
            self._send(200, b"<html>Service temporarily unavailable</html>")
        elif fault == "gateway":
            self._send(502, GATEWAY_PAGE, content_type="text/html")
        elif fault == "wrong_page":  # a cache that answers with a neighbour's response
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            other = page - 1 if page > 1 else page + 1
            per_page = int(query.get("per_page", "100"))
            self._send(200, self._page_body(query.get("updated_since"), other, per_page))
        elif fault == "replay":  # the last response, byte for byte
            previous = self.server.last_payload
            if previous is None:
                self.server.faults.withdraw(fault)
                return False
            self._send(200, previous)
        return True


class CrmServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        port: int,
        data: CrmData,
        faults: CrmFaultInjector,
        token: str,
        echo_page: bool = True,
        report_total: bool = True,
        hidden_ids: frozenset[int] = frozenset(),
        journal_path: Path | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), CrmHandler)
        self.data = data
        self.faults = faults
        self.token = token
        self.echo_page = echo_page  # False: pagination does not say which page it is
        self.report_total = report_total  # False: pagination does not count the listing
        self.hidden_ids = hidden_ids  # counted in total_records, never served (a lying API)
        self.last_payload: bytes | None = None
        self.requests = 0  # every customers request, rejected ones included
        self._listings: dict[str | None, tuple[list[dict], int]] = {}
        self._lock = threading.Lock()
        self.journal = JournalFollower(journal_path, self.apply_journal)
        self.clock = ClockReader(
            journal_path.parent / CLOCK_FILE if journal_path is not None else None
        )

    def apply_journal(self, entries: list[dict]) -> None:
        """A night's updates: the records change, every cached listing is dropped."""
        changes = {int(e["id"]): e["fields"] for e in entries if e["op"] == "update"}
        with self._lock:
            self.data = self.data.updated(changes)
            self._listings.clear()

    def listing(self, updated_since: str | None) -> tuple[list[dict], int]:
        """(served rows, distinct customers) for a filter, computed once per filter."""
        with self._lock:
            if updated_since not in self._listings:
                records = self.data.filtered(updated_since)
                served = [r for r in records if int(str(r["id"])) not in self.hidden_ids]
                self._listings[updated_since] = (served, distinct_count(records))
            return self._listings[updated_since]

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def remember(self, payload: bytes) -> None:
        with self._lock:
            self.last_payload = payload
