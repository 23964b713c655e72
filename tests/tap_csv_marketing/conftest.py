"""Run the real tap-csv-marketing process; a real local HTTP server for URL sources."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.singer import run_singer

TAP = str(Path(sys.executable).parent / "tap-csv-marketing")


def run_csv_tap(config: dict, tmp_path: Path, state: dict | None = None, check: bool = True):
    """(records by stream, STATE values, completed process)."""
    run = run_singer(TAP, config, tmp_path, state=state, check=check)
    return run.records, run.states, run.result


@dataclass
class ExportServer:
    """What the local server serves and what it was asked: paths -> bytes or redirects,
    an optional Basic-auth requirement, and every request line it received."""

    base_url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    authorization: str | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, target)


def _handler(server: ExportServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Serves `server.files` by path (query ignored); also answers absolute-form
        targets, so it works as the HTTP proxy of a test too."""

        def _answer(self, body: bool) -> None:
            server.requests.append((self.command, self.path))
            path = urlsplit(self.path).path
            if server.authorization and self.headers.get("Authorization") != (server.authorization):
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path in server.files:
                data = server.files[path]
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()[:16]}"')
                self.end_headers()
                if body:
                    self.wfile.write(data)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def log_message(self, format: str, *args) -> None:
            """Quiet: the test reads `server.requests` instead."""

    return Handler


@pytest.fixture()
def export_server() -> Iterator[ExportServer]:
    """A real HTTP server on 127.0.0.1 in a thread, stopped at teardown."""
    state = ExportServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)
