"""Raw payloads kept for audit and replay: every response body (or file) as received.

With `raw_payloads: true` each body is written gzip-compressed under
`<raw_payloads_location>/_raw/<source>/<run>/<seq>.<ext>.gz` (a local directory, or an
S3/MinIO prefix through pyarrow's S3 filesystem as the target's lake) and described by
one `manifest.jsonl` row: sha256 and size of the body as received, the redacted URL or
file path, request time, HTTP status, extraction method, stream, and whether the tap
accepted it (a body refused by the tap's checks is kept too, for audit, but never
replayed). Secrets stay out: URLs are redacted by the caller's rule (`redact_url` keeps
only the query parameters the tap itself sends), and only an allow-list of response
headers is kept. A body over `raw_payloads_max_bytes` is not written; its manifest row
says `stored: false` with the reason and a WARNING names it (the run still completes:
the records are the product, the copy is an audit aid); replaying that run then stops
at that payload, naming it. Run folders older than `raw_payloads_retention_days` are
removed when a run starts.

With `replay_run: <run id>` nothing is requested from the source: the run's accepted
bodies are served back, in order per request, to the tap's own request code (a requests
transport adapter, or `take`), so they go through the same checks, parsing,
pagination-ending and reconciliation as when they arrived. A request the run did not
record stops the replay with an error naming it.

This file is the same in each tap that keeps raw payloads (the taps are separate
packages with no shared library; tests check that the copies stay identical).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import requests.adapters
from singer_sdk import typing as th

REDACTED = "***"
RAW_FOLDER = "_raw"
MANIFEST = "manifest.jsonl"
RUN_FILE = "run.json"
RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{8}$")
# response headers worth keeping (never Set-Cookie or anything that may carry a secret)
KEPT_HEADERS = frozenset({"date", "content-type", "etag", "last-modified", "retry-after",
                          "request-id"})  # fmt: skip
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
S3_MANIFEST_EVERY = 100  # S3 has no append: the manifest object is rewritten this often

SETTINGS = (  # added to each tap's config_jsonschema
    th.Property(
        "raw_payloads",
        th.BooleanType,
        default=False,
        description="Keep every response body (or file) as received, gzip-compressed, under "
        "<raw_payloads_location>/_raw/<source>/<run>/ with a manifest row per payload, "
        "for audit and replay.",
    ),
    th.Property(
        "raw_payloads_location",
        th.StringType,
        default="output/lake",
        description="Lake root (local directory or s3://bucket/prefix) that holds _raw/.",
    ),
    th.Property(
        "raw_payloads_max_bytes",
        th.IntegerType,
        default=DEFAULT_MAX_BYTES,
        description="Largest body kept; a larger one is not written, its manifest row says "
        "why (stored: false) and a WARNING names it. The run still completes.",
    ),
    th.Property(
        "raw_payloads_retention_days",
        th.IntegerType,
        default=30,
        description="Run folders older than this are removed when a run starts (0: keep all).",
    ),
    th.Property(
        "raw_payloads_s3_endpoint_url",
        th.StringType,
        description="S3/MinIO endpoint such as http://127.0.0.1:9000 (default: "
        "AWS_ENDPOINT_URL, else AWS).",
    ),
    th.Property(
        "raw_payloads_aws_access_key_id",
        th.StringType,
        secret=True,
        description="S3 access key for raw_payloads_location.",
    ),
    th.Property(
        "raw_payloads_aws_secret_access_key",
        th.StringType,
        secret=True,
        description="S3 secret key for raw_payloads_location.",
    ),
    th.Property(
        "raw_payloads_aws_region",
        th.StringType,
        default="us-east-1",
        description="S3 region for raw_payloads_location.",
    ),
    th.Property(
        "replay_run",
        th.StringType,
        description="Run id under <raw_payloads_location>/_raw/<source>/ to replay: its "
        "kept bodies are parsed again and nothing is requested from the source.",
    ),
)


class RawPayloadError(RuntimeError):
    """The raw-payload store cannot do what it was asked; the message says what and where."""


class ReplayError(RawPayloadError):
    """A replay asked for something the recorded run cannot give (not recorded, not kept,
    or changed since)."""


def redact_url(url: str, keep: frozenset[str] = frozenset()) -> str:
    """The URL with userinfo, fragment and the value of every query parameter not named
    in `keep` replaced by ***. A parameter's name is matched without a `[...]` suffix
    (`created[gte]` is `created`), so a tap keeps the parameters it sends itself and a
    token someone put in the base URL never reaches the manifest."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    items = []
    for item in parts.query.split("&"):
        if not item:
            continue
        name, has_value, _ = item.partition("=")
        if unquote(name).split("[", 1)[0] in keep:
            items.append(item)
        else:
            items.append(f"{name}={REDACTED}" if has_value else REDACTED)
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(items), fragment))


def request_key(method: str, shown_url: str) -> str:
    """What a replay matches a request by: the method and the redacted URL's path and
    query (not its host, so a replay can be pointed anywhere)."""
    parts = urlsplit(shown_url)
    return f"{method.upper()} {parts.path}" + (f"?{parts.query}" if parts.query else "")


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def run_started(run_id: str) -> dt.datetime | None:
    """When a run folder's run started (from its name); None for a name not ours."""
    match = RUN_ID.match(run_id)
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


class Files:
    """The few file operations the store needs, on a local directory or S3."""

    def put(self, path: str, data: bytes) -> None:
        """Write `path` whole; it appears under its name only when complete."""
        raise NotImplementedError

    def append(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        """The file's bytes; FileNotFoundError/OSError when it cannot be read."""
        raise NotImplementedError

    def folders(self, path: str) -> list[tuple[str, str]]:
        """(name, path) of the folders directly under `path` (none if it is missing)."""
        raise NotImplementedError

    def delete_folder(self, path: str) -> None:
        raise NotImplementedError


class LocalFiles(Files):
    def put(self, path: str, data: bytes) -> None:
        directory, name = path.rsplit("/", 1)
        os.makedirs(directory, exist_ok=True)
        temporary = f"{directory}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
        with open(temporary, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)  # atomic: no partial file under the final name

    def append(self, path: str, data: bytes) -> None:
        with open(path, "ab") as stream:
            stream.write(data)

    def read(self, path: str) -> bytes:
        with open(path, "rb") as stream:
            return stream.read()

    def folders(self, path: str) -> list[tuple[str, str]]:
        if not os.path.isdir(path):
            return []
        return [(entry.name, entry.path) for entry in os.scandir(path) if entry.is_dir()]

    def delete_folder(self, path: str) -> None:
        shutil.rmtree(path)


class ArrowFiles(Files):
    """S3 through pyarrow: an object exists only once its upload completed; no append
    (the manifest is rewritten instead)."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def put(self, path: str, data: bytes) -> None:
        with self.fs.open_output_stream(path, compression=None) as stream:
            stream.write(data)

    def append(self, path: str, data: bytes) -> None:
        raise NotImplementedError("S3 has no append; the manifest is rewritten")

    def read(self, path: str) -> bytes:
        with self.fs.open_input_stream(path, compression=None) as stream:
            return stream.read()

    def folders(self, path: str) -> list[tuple[str, str]]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(path, allow_not_found=True)
        return [
            (info.base_name, info.path)
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory
        ]

    def delete_folder(self, path: str) -> None:
        self.fs.delete_dir(path)


@dataclass(frozen=True)
class RawSettings:
    """The raw_payloads settings, parsed once; the S3 keys stay out of repr."""

    enabled: bool
    location: str
    max_bytes: int
    retention_days: int
    replay_run: str | None
    s3_endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RawSettings:
        settings = cls(
            enabled=bool(config.get("raw_payloads", False)),
            location=str(config.get("raw_payloads_location") or "output/lake"),
            max_bytes=int(config.get("raw_payloads_max_bytes") or DEFAULT_MAX_BYTES),
            retention_days=int(config.get("raw_payloads_retention_days", 30) or 0),
            replay_run=config.get("replay_run") or None,
            s3_endpoint_url=config.get("raw_payloads_s3_endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL"),
            region=config.get("raw_payloads_aws_region") or "us-east-1",
            access_key=config.get("raw_payloads_aws_access_key_id"),
            secret_key=config.get("raw_payloads_aws_secret_access_key"),
        )
        problems = []
        if settings.max_bytes < 1:
            problems.append("raw_payloads_max_bytes must be at least 1")
        if settings.retention_days < 0:
            problems.append("raw_payloads_retention_days must be 0 (keep all) or more")
        if settings.replay_run and not RUN_ID.match(settings.replay_run):
            problems.append(
                f"replay_run {settings.replay_run!r} is not a run id such as "
                "20261206T055400Z-0123abcd (the folder name under _raw/<source>/)"
            )
        if ".." in settings.location.split("/"):
            problems.append("raw_payloads_location must not contain '..' segments")
        if problems:
            raise RawPayloadError("; ".join(problems))
        return settings

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")

    def filesystem(self) -> Files:
        """Local files through the standard library, S3 through pyarrow (imported only
        then: it costs ~0.5-1 s at start-up)."""
        if not self.is_s3:
            return LocalFiles()
        import pyarrow.fs as pafs

        options: dict[str, Any] = {"region": self.region}
        if self.access_key and self.secret_key:
            options |= {"access_key": self.access_key, "secret_key": self.secret_key}
        if self.s3_endpoint_url:
            scheme, _, host = self.s3_endpoint_url.partition("://")
            options |= {"endpoint_override": host or scheme, "scheme": scheme if host else "https"}
        return ArrowFiles(pafs.S3FileSystem(**options))

    def root(self, source: str) -> str:
        """`<location>/_raw/<source>` as the filesystem names it (no scheme)."""
        base = self.location.removeprefix("s3://") if self.is_s3 else os.path.abspath(self.location)
        return f"{base.rstrip('/')}/{RAW_FOLDER}/{source}"

    def uri(self, path: str) -> str:
        return f"s3://{path}" if self.is_s3 else path


class RawPayloads:
    """Neither keeping nor replaying: every hook does nothing."""

    replaying = False
    keep_params: frozenset[str] = frozenset()  # query parameters whose values are shown

    def start(self) -> None:
        """Called when a sync starts."""

    def keep(self, **payload: Any) -> None:
        """Keep one body (see `Recorder.keep`)."""

    def keep_response(
        self, stream: str, response: requests.Response, accepted: bool, **extra: Any
    ) -> None:
        """Keep a requests response's body (see `Recorder.keep`)."""

    def note(self, key: str, value: Any) -> Any:
        """Record a value the run decided (its time boundary...); a replay returns the
        recorded one instead, so the replay asks for exactly the same pages."""
        return value

    def mount(self, session: requests.Session) -> requests.Session:
        """A replay serves this session's requests from the run; otherwise unchanged."""
        return session

    def close(self) -> None:
        """Called when the sync ends (also when it fails)."""


class Recorder(RawPayloads):
    """Writes each body and its manifest row under one run folder."""

    def __init__(
        self, settings: RawSettings, source: str, logger: logging.Logger, keep: frozenset[str]
    ) -> None:
        self.settings, self.source, self.logger = settings, source, logger
        self.keep_params = keep
        self.run_id = new_run_id()
        self.fs = settings.filesystem()
        self.folder = f"{settings.root(source)}/{self.run_id}"
        self.rows: list[dict[str, Any]] = []
        self._unflushed = 0
        self.notes: dict[str, Any] = {}
        self.kept_bytes = 0
        self.skipped = 0

    def start(self) -> None:
        self.remove_expired()
        self._write_run_file()
        self.logger.info(
            "Keeping raw payloads under %s (run %s)", self.settings.uri(self.folder), self.run_id
        )

    def remove_expired(self) -> list[str]:
        """Delete run folders older than the retention; folders not named like a run are
        left alone (they are not ours)."""
        if self.settings.retention_days == 0:
            return []
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.settings.retention_days)
        removed = []
        for name, path in self.fs.folders(self.settings.root(self.source)):
            started = run_started(name)
            if started and started < cutoff:
                self.fs.delete_folder(path)
                removed.append(name)
        if removed:
            self.logger.info(
                "Removed %d raw-payload run folder(s) older than %d days: %s",
                len(removed),
                self.settings.retention_days,
                ", ".join(sorted(removed)),
            )
        return removed

    def keep(
        self,
        *,
        stream: str,
        url: str,
        method: str | None,
        status: int | None,
        body: bytes,
        request_time: dt.datetime,
        extraction_method: str,
        accepted: bool,
        reason: str | None = None,
        elapsed_seconds: float | None = None,
        headers: dict[str, str] | None = None,
        extension: str = "json",
    ) -> None:
        """Write one body (gzip) and its manifest row. A URL is redacted here (whatever
        the caller did); a local path is kept as it is."""
        if "://" in url:
            url = redact_url(url, self.keep_params)
        seq = len(self.rows) + 1
        size = len(body)
        row: dict[str, Any] = {
            "seq": seq,
            "stream": stream,
            "extraction_method": extraction_method,
            "method": method,
            "url": url,
            "request_time": request_time.astimezone(dt.UTC).isoformat(),
            "elapsed_seconds": elapsed_seconds,
            "status": status,
            "headers": {k: v for k, v in (headers or {}).items() if k.lower() in KEPT_HEADERS},
            "accepted": accepted,
            "rejected_because": reason,
            "size": size,
            "sha256": hashlib.sha256(body).hexdigest(),
            "object": None,
            "stored": False,
            "skipped_reason": None,
        }
        if size > self.settings.max_bytes:
            row["skipped_reason"] = (
                f"{size} bytes is over raw_payloads_max_bytes ({self.settings.max_bytes})"
            )
            self.skipped += 1
            self.logger.warning(
                "Raw payload %d (%s) not kept: %s; a replay of run %s stops there",
                seq,
                url,
                row["skipped_reason"],
                self.run_id,
            )
        else:
            name = f"{seq:06d}.{extension}.gz"
            self.fs.put(f"{self.folder}/{name}", gzip.compress(body, compresslevel=1, mtime=0))
            row |= {"object": name, "stored": True}
            self.kept_bytes += size
        self.rows.append(row)
        self._append_manifest(row)

    def keep_response(
        self, stream: str, response: requests.Response, accepted: bool, **extra: Any
    ) -> None:
        elapsed = response.elapsed.total_seconds()
        self.keep(
            stream=stream,
            url=response.request.url or response.url,
            method=response.request.method if response.request else "GET",
            status=response.status_code,
            body=response.content,
            request_time=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=elapsed),
            elapsed_seconds=elapsed,
            headers=dict(response.headers),
            accepted=accepted,
            **extra,
        )

    def note(self, key: str, value: Any) -> Any:
        self.notes[key] = value
        self._write_run_file()
        return value

    def close(self) -> None:
        if self.settings.is_s3 and self._unflushed:
            self.fs.put(f"{self.folder}/{MANIFEST}", self._manifest_bytes())
        self._write_run_file(finished=True)
        self.logger.info(
            "Raw payloads of run %s: %d kept (%d bytes before compression), %d not kept "
            "(over raw_payloads_max_bytes)",
            self.run_id,
            len(self.rows) - self.skipped,
            self.kept_bytes,
            self.skipped,
        )

    # -- files ------------------------------------------------------------------------------

    def _manifest_bytes(self) -> bytes:
        return "".join(json.dumps(row, sort_keys=True) + "\n" for row in self.rows).encode()

    def _append_manifest(self, row: dict[str, Any]) -> None:
        if not self.settings.is_s3:
            self.fs.append(
                f"{self.folder}/{MANIFEST}", (json.dumps(row, sort_keys=True) + "\n").encode()
            )
            return
        self._unflushed += 1
        if self._unflushed >= S3_MANIFEST_EVERY:
            self.fs.put(f"{self.folder}/{MANIFEST}", self._manifest_bytes())
            self._unflushed = 0

    def _write_run_file(self, finished: bool = False) -> None:
        run = {
            "run_id": self.run_id,
            "source": self.source,
            "finished": finished,
            "payloads": len(self.rows),
            "notes": self.notes,
        }
        self.fs.put(f"{self.folder}/{RUN_FILE}", json.dumps(run, sort_keys=True).encode())


@dataclass
class Replayed:
    """One recorded answer, as served back."""

    status: int
    headers: requests.structures.CaseInsensitiveDict
    body: bytes
    url: str


class Replayer(RawPayloads):
    """Serves a recorded run's accepted bodies; requests nothing from the source."""

    replaying = True

    def __init__(
        self, settings: RawSettings, source: str, logger: logging.Logger, keep: frozenset[str]
    ) -> None:
        self.settings, self.source, self.logger = settings, source, logger
        self.keep_params = keep
        assert settings.replay_run
        self.run_id = settings.replay_run
        self.fs = settings.filesystem()
        self.folder = f"{settings.root(source)}/{self.run_id}"
        self.rows: list[dict[str, Any]] = []  # the accepted payloads, in recorded order
        self.queues: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.notes: dict[str, Any] = {}
        self.served = 0

    def start(self) -> None:
        manifest = self._read(MANIFEST, required=True)
        for line_number, line in enumerate(manifest.decode().splitlines(), start=1):
            try:
                row = json.loads(line)
            except ValueError:
                raise ReplayError(
                    f"{self.settings.uri(self.folder)}/{MANIFEST} line {line_number} is not "
                    "JSON: the manifest was cut or edited"
                ) from None
            if row.get("accepted"):
                self.rows.append(row)
                self.queues[request_key(row.get("method") or "GET", row["url"])].append(row)
        run_file = self._read(RUN_FILE, required=False)
        self.notes = json.loads(run_file)["notes"] if run_file else {}
        self.logger.info(
            "Replaying run %s from %s: %d accepted payloads; nothing is requested from the source",
            self.run_id,
            self.settings.uri(self.folder),
            sum(len(q) for q in self.queues.values()),
        )

    def take(self, method: str, shown_url: str) -> Replayed:
        """The next recorded answer to this request, in recorded order."""
        if "://" in shown_url:
            shown_url = redact_url(shown_url, self.keep_params)
        key = request_key(method, shown_url)
        queue = self.queues.get(key)
        if not queue:
            raise ReplayError(
                f"replay of run {self.run_id}: the tap asked for {key}, which the run did not "
                "record (or not that often). Replay with the same config and input STATE as "
                "the recorded run."
            )
        row = queue.popleft()
        if not row.get("stored"):
            raise ReplayError(
                f"replay of run {self.run_id}: payload {row['seq']} ({key}) was not kept: "
                f"{row.get('skipped_reason')}"
            )
        body = gzip.decompress(self._read(row["object"], required=True))
        if hashlib.sha256(body).hexdigest() != row["sha256"]:
            raise ReplayError(
                f"replay of run {self.run_id}: payload {row['seq']} ({row['object']}) does "
                "not match its manifest sha256: the file changed since it was kept"
            )
        self.served += 1
        headers = requests.structures.CaseInsensitiveDict(row.get("headers") or {})
        return Replayed(int(row.get("status") or 200), headers, body, row["url"])

    def note(self, key: str, value: Any) -> Any:
        if key not in self.notes:
            raise ReplayError(f"replay of run {self.run_id}: the run recorded no {key!r}")
        return self.notes[key]

    def mount(self, session: requests.Session) -> requests.Session:
        adapter = ReplayAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        left = sum(len(q) for q in self.queues.values())
        self.logger.info(
            "Replay of run %s: %d payloads served, %d accepted payloads not asked for",
            self.run_id,
            self.served,
            left,
        )

    def _read(self, name: str, required: bool) -> bytes:
        path = f"{self.folder}/{name}"
        try:
            return self.fs.read(path)
        except (FileNotFoundError, OSError):
            if not required:
                return b""
            raise ReplayError(
                f"replay_run {self.run_id}: {self.settings.uri(path)} cannot be read (check "
                "replay_run and raw_payloads_location)"
            ) from None


class ReplayAdapter(requests.adapters.BaseAdapter):
    """A requests transport that answers from a recorded run and never opens a socket."""

    def __init__(self, replayer: Replayer) -> None:
        super().__init__()
        self.replayer = replayer

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        shown = redact_url(request.url, self.replayer.keep_params)
        answer = self.replayer.take(request.method or "GET", shown)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = answer.headers
        response._content = answer.body
        response.url = request.url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        """Nothing to release."""


def raw_payloads(
    config: dict[str, Any], source: str, logger: logging.Logger, keep: frozenset[str]
) -> RawPayloads:
    """The tap's raw-payload mode from its config: off, keeping, or replaying."""
    settings = RawSettings.from_config(config)
    if settings.replay_run:
        return Replayer(settings, source, logger, keep)
    if settings.enabled:
        return Recorder(settings, source, logger, keep)
    return RawPayloads()
