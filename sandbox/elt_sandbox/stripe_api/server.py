"""The HTTP side of the Stripe stand-in: list envelopes, cursors, errors, faults.

Speaks enough of Stripe's API for the official `stripe` library: `GET /v1/<resource>`
with `limit`, `starting_after`, `ending_before`, `created[gt|gte|lt|lte]`, `types[]`
(events); `GET /v1/<resource>/<id>`; Stripe-shaped error bodies. `POST /_sandbox/refund`
and `POST /_sandbox/charge` change data at run time for incremental tests,
`POST /_sandbox/delete_customer` deletes a customer (a `customer.deleted` event),
`POST /_sandbox/sync` applies the simulated nights appended to the journal since the last
sync (`elt_sandbox.journal`), `GET /_sandbox/seeded_late` counts the seeded objects created
after the shop's history ends, and `GET /_sandbox/stats` reports counts and injected
faults. Faults (see `faults.py`) include gateway-shaped error bodies and replayed pages:
a list request whose `starting_after` is the last id of the page served before for the
same listing gets that page again.
"""

from __future__ import annotations

import json
import re
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from elt_sandbox.journal import JournalFollower
from elt_sandbox.nights.clock import CLOCK_FILE, ClockReader
from elt_sandbox.stripe_api.data import StripeData
from elt_sandbox.stripe_api.faults import FaultInjector

CREATED = re.compile(r"^created\[(gt|gte|lt|lte)\]$")
GATEWAY_HTML = (
    "<html><head><title>{status} {reason}</title></head><body>"
    "<center><h1>{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
)
GATEWAY_TEXT = "upstream connect error or disconnect/reset before headers"


class StripeHandler(BaseHTTPRequestHandler):
    server: StripeServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # quiet: one line per error only
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header: the sandbox clock's time when one is set (nights/clock.py)."""
        return super().date_time_string(self.server.clock.now() if timestamp is None else timestamp)

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body, separators=(",", ":")).encode(), headers)

    def _send_bytes(
        self,
        status: int,
        payload: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_{time.monotonic_ns()}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, kind: str, message: str, headers=None) -> None:
        self._send(status, {"error": {"type": kind, "message": message}}, headers)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip()
        if key == self.server.api_key:
            return True
        masked = f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"
        self._error(401, "invalid_request_error", f"Invalid API Key provided: {masked}")
        return False

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        params = {k: v[0] for k, v in {**parse_qs(url.query), **form}.items()}
        data = self.server.data
        if url.path == "/_sandbox/sync":
            applied = self.server.journal.sync()
            self._send(200, {"applied": applied, "total": self.server.journal.applied})
        elif url.path == "/_sandbox/refund":
            amount = int(params["amount"]) if params.get("amount") else None
            self._send(200, data.refund_charge(params["charge"], amount))
        elif url.path == "/_sandbox/delete_customer":
            self._send(200, data.delete_customer(params["customer"]))
        elif url.path == "/_sandbox/charge":
            self._send(
                200,
                data.new_charge(
                    int(params["order_id"]), int(params["amount"]), int(params["customer_id"])
                ),
            )
        else:
            self._error(
                404, "invalid_request_error", f"Unrecognized request URL (POST: {url.path})"
            )

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_sandbox/stats":
            counts = {name: len(c.entries) for name, c in self.server.data.lists.items()}
            self._send(200, {"objects": counts, "faults": self.server.faults.counts})
            return
        if url.path == "/_sandbox/seeded_late":
            self._send(200, self.server.data.seeded_late)
            return
        if not self._authorised():
            return
        query = parse_qs(url.query)
        faults = self.server.faults
        parts = [p for p in url.path.split("/") if p]
        resource = parts[1] if len(parts) > 1 else ""
        decision = faults.decide(resource, has_cursor=bool(query.get("starting_after")))
        if decision.delay:
            time.sleep(decision.delay)
        if decision.status:
            self._fault(decision.status, decision.body)
            return
        if len(parts) < 2 or parts[0] != "v1":
            self._error(404, "invalid_request_error", f"Unrecognized request URL (GET: {url.path})")
            return
        collection = self.server.data.lists.get(resource)
        if collection is None:
            self._error(404, "invalid_request_error", f"Unrecognized request URL (GET: {url.path})")
            return
        if len(parts) == 3:
            obj = self.server.data.get(resource, parts[2])
            if obj is None:
                self._error(404, "invalid_request_error", f"No such object: '{parts[2]}'")
            else:
                self._send(200, obj)
            return
        self._list(resource, collection, query, decision.replay)

    def _fault(self, status: int, body: str) -> None:
        """An injected failure: Stripe's error body, or a gateway's (HTML or bare text)."""
        faults = self.server.faults
        headers: dict[str, str] = {}
        if status in (429, 503) and (retry_after := faults.retry_after_header()):
            headers["Retry-After"] = retry_after
        if body == "html":
            page = GATEWAY_HTML.format(status=status, reason=self.responses[status][0])
            self._send_bytes(status, page.encode(), headers, "text/html")
        elif body == "text":
            self._send(status, {"error": GATEWAY_TEXT}, headers)
        elif status == 429:
            retry = "true" if faults.config.should_retry_header else "false"
            headers["Stripe-Should-Retry"] = retry
            self._error(
                429, "rate_limit_error", "Too many requests hit the API too quickly.", headers
            )
        else:
            self._error(
                status, "api_error", "An unexpected error occurred (sandbox fault).", headers
            )

    def _list(self, resource: str, collection, query: dict[str, list[str]], replay: bool) -> None:
        try:
            limit = int(query.get("limit", ["10"])[0])
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            self._error(400, "invalid_request_error", "Invalid integer: limit must be 1..100")
            return
        created = {
            match.group(1): int(values[0])
            for key, values in query.items()
            if (match := CREATED.match(key))
        }
        starting_after = query.get("starting_after", [None])[0]
        ending_before = query.get("ending_before", [None])[0]
        for cursor in (starting_after, ending_before):
            if cursor and not collection.contains(cursor):
                self._error(400, "invalid_request_error", f"No such {resource[:-1]}: '{cursor}'")
                return
        types = set(query.get("types[]", [])) | {
            v for k, vs in query.items() if k.startswith("types[") for v in vs
        }
        if query.get("type"):
            types.add(query["type"][0])
        # one listing = the same query but for its cursor; its last page is kept for replays
        listing = (
            resource,
            *sorted((k, tuple(v)) for k, v in query.items() if k != "starting_after"),
        )
        last = self.server.last_pages.get(listing)
        if replay and last is not None and last[0] == starting_after:
            with self.server.faults.lock:
                self.server.faults.counts["replay"] += 1
            self._send_bytes(200, last[1])
            return
        with self.server.data.lock:
            objects, has_more = self._page(
                collection, limit, starting_after, ending_before, created, types
            )
        body = {"object": "list", "data": objects, "has_more": has_more, "url": f"/v1/{resource}"}
        payload = json.dumps(body, separators=(",", ":")).encode()
        if objects:
            self.server.last_pages[listing] = (objects[-1]["id"], payload)
        self._send_bytes(200, payload)

    @staticmethod
    def _page(collection, limit, starting_after, ending_before, created, types):
        if not types:
            ids, has_more = collection.page(limit, starting_after, ending_before, created)
            return [collection.render(i) for i in ids], has_more
        # Event type filters: walk pages until `limit` matching events are found.
        objects: list[dict] = []
        cursor = starting_after
        while len(objects) < limit:
            ids, more = collection.page(100, cursor, None, created)
            for object_id in ids:
                obj = collection.render(object_id)
                if _type_matches(obj["type"], types):
                    objects.append(obj)
                    if len(objects) == limit:
                        position = ids.index(object_id)
                        return objects, more or position < len(ids) - 1
            if not more or not ids:
                return objects, False
            cursor = ids[-1]
        return objects, True


def _type_matches(event_type: str, patterns: set[str]) -> bool:
    return any(
        event_type == p or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns
    )


class StripeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        port: int,
        data: StripeData,
        faults: FaultInjector,
        api_key: str,
        journal: JournalFollower | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), StripeHandler)
        self.data = data
        self.journal = journal or JournalFollower(None, data.apply_journal)
        path = self.journal.path
        self.clock = ClockReader(path.parent / CLOCK_FILE if path is not None else None)
        self.faults = faults
        self.api_key = api_key
        # listing -> (last id, body) of the last page served, for replay faults
        self.last_pages: dict[tuple, tuple[str, bytes]] = {}
