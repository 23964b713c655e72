"""Where the lake lives: one pyarrow filesystem for a local directory or S3/MinIO.

Files become visible under their final name only when complete: locally they are written
to a hidden temporary name and renamed (atomic on POSIX); on S3 the object exists only
once its single PUT or completed multipart upload succeeds, so a killed writer leaves no
partial object under a final key.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
# File systems allow 255 bytes per name; the longest prefix put before a safe name is
# "source=" / "stream=" in the manifest folders, so names stay well below that.
MAX_NAME_LENGTH = 200
HASH_LENGTH = 8


class DestinationError(ValueError):
    """The `destination` setting names a place outside the lake it claims to be."""


def safe_name(name: str) -> str:
    """A path segment that cannot escape its parent or contain separators. A name that
    is already safe (and short) stays as it is (`public-orders`); one that had to change
    gets a short hash of the original, so `a/b` and `a_b` never share a folder, and a
    name too long for a file system is cut to MAX_NAME_LENGTH with that hash."""
    cleaned = SAFE_NAME.sub("_", name).lstrip(".")
    if name and cleaned == name and len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_LENGTH]
    return f"{(cleaned or '_')[: MAX_NAME_LENGTH - HASH_LENGTH - 1]}-{digest}"


def printable(name: str) -> str:
    """A name as it may appear in a log line: control characters (NUL, newlines, ...)
    escaped, so a stream or field name can neither cut a log line nor forge another."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in name
    )


class PrintableArguments(logging.Filter):
    """Escapes control characters in the values a log call interpolates (stream and field
    names reach the SDK's own log lines that way), leaving the message text as written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                printable(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def _redacted(url: str) -> str:
    """The URL without any user:password@ part, for error messages."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def check_destination(destination: str) -> None:
    """Refuse a destination whose path could leave the prefix it names: `..` or `.`
    segments and empty segments (`s3://lake/../escape` would write to the bucket
    `escape`; `a//b` is ambiguous). One trailing slash is allowed."""
    is_s3 = destination.startswith("s3://")
    path = destination.removeprefix("s3://") if is_s3 else destination
    body = path.removesuffix("/")
    segments = body.split("/")
    if not is_s3 and body.startswith("/"):
        segments = segments[1:]  # the root of an absolute path
    if not is_s3:
        segments = [s for i, s in enumerate(segments) if not (s == "." and i == 0)]
    problems = [
        f"segment {index + 1} is {segment!r}"
        for index, segment in enumerate(segments)
        if segment in ("", "..") or (is_s3 and segment == ".")
    ]
    if not body:
        problems.append("it names no bucket or directory")
    if problems:
        raise DestinationError(
            f"setting 'destination' ({printable(_redacted(destination))}) must stay inside "
            f"the prefix it names: {'; '.join(problems)}. Use a normalised path without "
            "'..', '.' or empty segments."
        )


@dataclass(frozen=True)
class LakeLocation:
    """The parsed `destination` setting; secrets stay out of repr."""

    root: str  # path inside the filesystem, without scheme
    is_s3: bool
    endpoint_url: str | None = None
    region: str = "us-east-1"
    path_style: bool = True
    verify_tls: bool = True
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LakeLocation:
        """Parse and check the destination once, at the edge (raises DestinationError)."""
        destination = str(config.get("destination") or "output/lake")
        check_destination(destination)
        if destination.startswith("s3://"):
            return cls(
                root=destination.removeprefix("s3://").rstrip("/"),
                is_s3=True,
                endpoint_url=config.get("s3_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL"),
                region=config.get("aws_region") or "us-east-1",
                path_style=bool(config.get("s3_path_style", True)),
                verify_tls=bool(config.get("s3_verify_tls", True)),
                access_key=config.get("aws_access_key_id"),
                secret_key=config.get("aws_secret_access_key"),
            )
        return cls(root=os.path.abspath(destination).rstrip("/"), is_s3=False)

    def filesystem(self) -> pafs.FileSystem:
        if not self.is_s3:
            return pafs.LocalFileSystem()
        options: dict[str, Any] = {"region": self.region}
        if self.access_key and self.secret_key:
            options |= {"access_key": self.access_key, "secret_key": self.secret_key}
        if self.endpoint_url:
            scheme, _, host = self.endpoint_url.partition("://")
            options |= {"endpoint_override": host or scheme, "scheme": scheme if host else "https"}
        options["force_virtual_addressing"] = not self.path_style
        if not self.verify_tls:
            options["tls_verify_certificates"] = False  # pyarrow >= 20
        try:
            return pafs.S3FileSystem(**options)
        except TypeError:
            options.pop("tls_verify_certificates", None)
            return pafs.S3FileSystem(**options)

    def uri(self, path: str) -> str:
        return f"s3://{path}" if self.is_s3 else path


class Lake:
    """Writes files atomically under the lake root and reports what it wrote."""

    def __init__(self, location: LakeLocation) -> None:
        self.location = location
        self.fs = location.filesystem()

    def path(self, *segments: str) -> str:
        return "/".join([self.location.root, *segments])

    def write_parquet(
        self, relative: str, table: pa.Table, compression: str, row_group_size: int
    ) -> dict[str, Any]:
        """Write one Parquet file atomically; returns its path, rows, bytes and sha256."""
        final = self.path(relative)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression=compression, row_group_size=row_group_size)
        data = sink.getvalue()
        self._put(final, data)
        return {
            "path": self.location.uri(final),
            "rows": table.num_rows,
            "bytes": data.size,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    def write_text(self, relative: str, text: str) -> str:
        final = self.path(relative)
        self._put(final, pa.py_buffer(text.encode()))
        return self.location.uri(final)

    def read_text(self, relative: str) -> str | None:
        try:
            with self.fs.open_input_stream(self.path(relative)) as stream:
                return stream.read().decode()
        except (FileNotFoundError, OSError):
            return None

    def list_files(self, relative_dir: str, *, recursive: bool = False) -> list[str]:
        """Paths (as the filesystem names them, without a scheme) of the files below."""
        selector = pafs.FileSelector(
            self.path(relative_dir), allow_not_found=True, recursive=recursive
        )
        return sorted(info.path for info in self.fs.get_file_info(selector) if info.is_file)

    def filesystem_path(self, uri: str) -> str:
        """The filesystem's path of a URI this lake reported (`s3://b/k` -> `b/k`)."""
        return uri.removeprefix("s3://") if self.location.is_s3 else uri

    def delete(self, path: str) -> None:
        """Delete one file by its filesystem path; one already gone is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def _put(self, final: str, data: pa.Buffer) -> None:
        if self.location.is_s3:
            with self.fs.open_output_stream(final) as stream:  # one PUT / multipart upload
                stream.write(data)
            return
        directory, name = final.rsplit("/", 1)
        self.fs.create_dir(directory, recursive=True)  # S3 has no directories to create
        temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
        with self.fs.open_output_stream(temporary) as stream:
            stream.write(data)
        self.fs.move(temporary, final)
