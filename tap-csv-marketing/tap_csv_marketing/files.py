"""Where the exports are: a local directory, an S3/MinIO prefix, or HTTP(S) URLs.

Local paths and S3 go through one pyarrow filesystem (listing with a size and modification
time per file); HTTP files are fetched with requests and identified by ETag or
Last-Modified. Each file gets a version string that changes when the file does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs
import requests


@dataclass(frozen=True)
class SourceFile:
    path: str  # full URI shown in lineage: /dir/x.csv, s3://bucket/x.csv, https://...
    name: str
    size: int | None
    version: str  # modification time or ETag


class ExportLocation:
    """Lists and reads the export files named by the `source` setting."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.source = str(config.get("source") or "")
        self.config = config
        if not self.source:
            raise ValueError("setting 'source' is required: a directory, s3:// prefix or URL")
        self.is_http = self.source.startswith(("http://", "https://"))
        self.is_s3 = self.source.startswith("s3://")
        self.fs = self._filesystem() if not self.is_http else None

    def _filesystem(self) -> pafs.FileSystem:
        if not self.is_s3:
            return pafs.LocalFileSystem()
        endpoint = self.config.get("s3_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
        options: dict[str, Any] = {"region": self.config.get("aws_region") or "us-east-1"}
        key, secret = self.config.get("aws_access_key_id"), self.config.get("aws_secret_access_key")
        key = key or os.environ.get("AWS_ACCESS_KEY_ID")
        secret = secret or os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            options |= {"access_key": key, "secret_key": secret}
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            options |= {"endpoint_override": host, "scheme": scheme}
        return pafs.S3FileSystem(**options)

    def list(self, pattern: str) -> list[SourceFile]:
        if self.is_http:
            urls = [self.source] if self.source.endswith(".csv") else self.config.get("urls") or []
            return [
                SourceFile(url, url.rsplit("/", 1)[-1], None, _http_version(url))
                for url in urls
                if fnmatch.fnmatch(url.rsplit("/", 1)[-1], pattern)
            ]
        base = self.source.removeprefix("s3://").rstrip("/")
        selector = pafs.FileSelector(base, allow_not_found=False)
        found = []
        for info in self.fs.get_file_info(selector):
            name = info.path.rsplit("/", 1)[-1]
            if info.is_file and fnmatch.fnmatch(name, pattern):
                uri = f"s3://{info.path}" if self.is_s3 else info.path
                found.append(SourceFile(uri, name, info.size, str(info.mtime_ns or info.mtime)))
        return sorted(found, key=lambda f: f.name)

    def read(self, source_file: SourceFile) -> bytes:
        if self.is_http:
            response = requests.get(source_file.path, timeout=60)
            response.raise_for_status()
            return response.content
        path = source_file.path.removeprefix("s3://")
        with self.fs.open_input_stream(path) as stream:
            return stream.read()


def _http_version(url: str) -> str:
    response = requests.head(url, timeout=30, allow_redirects=True)
    response.raise_for_status()
    return response.headers.get("ETag") or response.headers.get("Last-Modified") or ""


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
