"""Where the exports are: a local directory, an S3/MinIO prefix, or HTTP(S) URLs.

Local paths and S3 go through one pyarrow filesystem (listing with a size and modification
time per file); HTTP files are fetched with requests and identified by ETag or
Last-Modified. Each file gets a version string that changes when the file does.

A file has two addresses: `address`, what is read (it may carry a token), and `path`, what
is shown in logs, lineage and bookmarks (credentials redacted). Request errors are
re-raised with the shown address only: requests puts the full URL in its messages.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urljoin

import pyarrow.fs as pafs
import requests

from tap_csv_marketing.locations import check_transport, file_name, redact_url, scrub
from tap_csv_marketing.settings import ExportSettings

# urllib3 logs every request line, query string included, at DEBUG: keep it above that
# so LOGLEVEL=DEBUG cannot print a URL's token.
logging.getLogger("urllib3").setLevel(logging.INFO)


class FetchFailed(RuntimeError):
    """A request for an export failed; the message holds the redacted address only."""


@dataclass(frozen=True)
class SourceFile:
    path: str  # shown: /dir/x.csv, s3://bucket/x.csv, https://host/x.csv?token=***
    name: str
    size: int | None
    version: str  # modification time or ETag
    address: str = field(default="", repr=False)  # read: may carry a credential


class CheckedSession(requests.Session):
    """A session that refuses a redirect to plain http on another machine (unless
    allowed), before following it: an https URL must not hand its token to http."""

    def __init__(self, allow_insecure_http: bool) -> None:
        super().__init__()
        self.allow_insecure_http = allow_insecure_http

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target:
            absolute = urljoin(resp.url, target)
            check_transport(absolute, "allow_insecure_http", self.allow_insecure_http)
        return target


class ExportLocation:
    """Lists and reads the export files named by the `source` setting."""

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.session = CheckedSession(settings.allow_insecure_http) if settings.is_http else None
        self.fs = None if settings.is_http else self._filesystem()
        self._listed: dict[str, list[SourceFile]] = {}

    def _filesystem(self) -> pafs.FileSystem:
        if not self.settings.is_s3:
            return pafs.LocalFileSystem()
        options: dict = {"region": self.settings.aws_region}
        key, secret = self.settings.aws_access_key_id, self.settings.aws_secret_access_key
        if key and secret:
            options |= {"access_key": key, "secret_key": secret}
        if endpoint := self.settings.s3_endpoint_url:
            scheme, _, host = endpoint.partition("://")
            options |= {"endpoint_override": host, "scheme": scheme}
        return pafs.S3FileSystem(**options)

    def list(self, pattern: str) -> list[SourceFile]:
        """The files whose name matches `pattern` (listed once per pattern and run)."""
        if pattern not in self._listed:
            self._listed[pattern] = self._list(pattern)
        return self._listed[pattern]

    def _list(self, pattern: str) -> list[SourceFile]:
        if self.settings.is_http:
            return [
                SourceFile(redact_url(url), file_name(url), None, self._http_version(url), url)
                for url in self.settings.http_files()
                if fnmatch.fnmatch(file_name(url), pattern)
            ]
        base = self.settings.source.removeprefix("s3://").rstrip("/")
        selector = pafs.FileSelector(base, allow_not_found=False)
        found = []
        assert self.fs is not None
        for info in self.fs.get_file_info(selector):
            name = info.path.rsplit("/", 1)[-1]
            if info.is_file and fnmatch.fnmatch(name, pattern):
                uri = f"s3://{info.path}" if self.settings.is_s3 else info.path
                version = str(info.mtime_ns or info.mtime)
                found.append(SourceFile(uri, name, info.size, version, uri))
        return sorted(found, key=lambda f: f.name)

    def read(self, source_file: SourceFile) -> bytes:
        if self.settings.is_http:
            response = self._request("GET", source_file.address, timeout=60)
            return response.content
        assert self.fs is not None
        # the bytes as stored (pyarrow would gunzip a .gz name itself), as `open` gives them
        path = source_file.address.removeprefix("s3://")
        with self.fs.open_input_stream(path, compression=None) as stream:
            return stream.read()

    def open(self, source_file: SourceFile) -> BinaryIO:
        """The file as a stream, for readers that must not hold it whole (JSON files).
        Close it (`with contextlib.closing(...)`)."""
        if self.settings.is_http:
            response = self._request("GET", source_file.address, timeout=60, stream=True)
            response.raw.decode_content = True  # undo a transfer Content-Encoding only
            return response.raw
        assert self.fs is not None
        # compression=None: the bytes as stored (pyarrow would gunzip a .gz name itself);
        # the reader hashes them for the bookmark and gunzips them in one place.
        path = source_file.address.removeprefix("s3://")
        return self.fs.open_input_stream(path, compression=None)

    def _http_version(self, url: str) -> str:
        response = self._request("HEAD", url, timeout=30, allow_redirects=True)
        return response.headers.get("ETag") or response.headers.get("Last-Modified") or ""

    def _request(self, method: str, url: str, **options) -> requests.Response:
        """One request; any failure re-raised naming the redacted URL only."""
        assert self.session is not None
        shown = redact_url(url)
        try:
            response = self.session.request(method, url, **options)
        except requests.RequestException as error:
            detail = scrub(str(error), url)
            raise FetchFailed(f"{method} {shown}: {type(error).__name__}: {detail}") from None
        if response.status_code != 200:
            raise FetchFailed(f"{method} {shown}: HTTP {response.status_code}, expected 200")
        return response


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
