"""The HTTP side of the Stripe stand-in: list envelopes, cursors, errors, faults.

Speaks enough of Stripe's API for the official `stripe` library: `GET /v1/<resource>`
with `limit`, `starting_after`, `ending_before`, `created[gt|gte|lt|lte]`, `types[]`
(events); `GET /v1/<resource>/<id>`; Stripe-shaped error bodies. `POST /_sandbox/refund`
and `POST /_sandbox/charge` change data at run time for incremental tests, and
`GET /_sandbox/stats` reports counts and injected faults.
"""

from __future__ import annotations

import json
import re
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from elt_sandbox.stripe_api.data import StripeData
from elt_sandbox.stripe_api.faults import FaultInjector

CREATED = re.compile(r"^created\[(gt|gte|lt|lte)\]$")


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

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
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
        if url.path == "/_sandbox/refund":
            amount = int(params["amount"]) if params.get("amount") else None
            self._send(200, data.refund_charge(params["charge"], amount))
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
        if not self._authorised():
            return
        status, delay = self.server.faults.decide()
        if delay:
            time.sleep(delay)
        if status == 429:
            config = self.server.faults.config
            headers = {"Stripe-Should-Retry": "true" if config.should_retry_header else "false"}
            if config.retry_after is not None:
                headers["Retry-After"] = f"{config.retry_after:g}"
            self._error(
                429, "rate_limit_error", "Too many requests hit the API too quickly.", headers
            )
            return
        if status:
            self._error(status, "api_error", "An unexpected error occurred (sandbox fault).")
            return
        parts = [p for p in url.path.split("/") if p]
        if len(parts) < 2 or parts[0] != "v1":
            self._error(404, "invalid_request_error", f"Unrecognized request URL (GET: {url.path})")
            return
        resource = parts[1]
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
        self._list(resource, collection, parse_qs(url.query))

    def _list(self, resource: str, collection, query: dict[str, list[str]]) -> None:
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
        with self.server.data.lock:
            objects, has_more = self._page(
                collection, limit, starting_after, ending_before, created, types
            )
        self._send(
            200, {"object": "list", "data": objects, "has_more": has_more, "url": f"/v1/{resource}"}
        )

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

    def __init__(self, port: int, data: StripeData, faults: FaultInjector, api_key: str) -> None:
        super().__init__(("127.0.0.1", port), StripeHandler)
        self.data = data
        self.faults = faults
        self.api_key = api_key
