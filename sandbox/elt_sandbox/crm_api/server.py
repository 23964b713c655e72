"""HTTP API in the legacy style: GET /api/v1/customers?page=N&per_page=M[&updated_since=T]."""

from __future__ import annotations

import json
import math
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from elt_sandbox.crm_api.data import CrmData
from elt_sandbox.crm_api.faults import CrmFaultInjector

MAX_PER_PAGE = 1000


class CrmHandler(BaseHTTPRequestHandler):
    server: CrmServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              declared_length: int | None = None) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(declared_length or len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), headers)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_sandbox/stats":
            data = self.server.data
            self._json(
                200,
                {
                    "records_served": len(data.records),
                    "distinct_records": len(data.distinct_ids),
                    "faults": self.server.faults.counts,
                },
            )
            return
        if url.path != "/api/v1/customers":
            self._json(404, {"error": "not found"})
            return
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
        if fault and self._inject(fault):
            return
        records = self.server.data.filtered(query.get("updated_since"))
        total_pages = max(1, math.ceil(len(records) / per_page))
        body = {
            "data": records[(page - 1) * per_page : page * per_page],
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total_pages": total_pages,
                "total_records": len(records),
            },
        }
        self._json(200, body)

    def _inject(self, fault: str) -> bool:
        """Send the fault's response; False when the request should then succeed (slow)."""
        faults = self.server.faults.faults
        if fault in ("5xx", "sticky"):
            self._json(503 if fault == "sticky" else 500, {"error": "internal error"})
        elif fault == "429":
            headers = {"Retry-After": f"{faults.retry_after:g}"} if faults.retry_after else {}
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
        return True


class CrmServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, data: CrmData, faults: CrmFaultInjector, token: str) -> None:
        super().__init__(("127.0.0.1", port), CrmHandler)
        self.data = data
        self.faults = faults
        self.token = token
