"""The lake, read and appended to through one pyarrow filesystem (local dir or S3/MinIO).

Same rules as the target's files: a file is visible under its final name only when
complete (local: hidden temporary name, then rename; S3: one PUT).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from elt_monitor.settings import MonitorSettings


class Lake:
    """`_meta/` of one lake: manifests and schema history to read, the ledger to append."""

    def __init__(self, settings: MonitorSettings) -> None:
        root = settings.lake_root
        self.is_s3 = root.startswith("s3://")
        self.root = root.removeprefix("s3://").rstrip("/")
        if self.is_s3:
            options: dict[str, Any] = {
                "region": settings.aws_region,
                "force_virtual_addressing": not settings.s3_path_style,
            }
            if settings.aws_access_key_id and settings.aws_secret_access_key:
                options |= {
                    "access_key": settings.aws_access_key_id,
                    "secret_key": settings.aws_secret_access_key,
                }
            if settings.s3_endpoint_url:
                scheme, _, host = settings.s3_endpoint_url.partition("://")
                options |= {
                    "endpoint_override": host or scheme,
                    "scheme": scheme if host else "https",
                }
            self.fs: pafs.FileSystem = pafs.S3FileSystem(**options)
        else:
            self.fs = pafs.LocalFileSystem()

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def uri(self, relative: str) -> str:
        return f"s3://{self.path(relative)}" if self.is_s3 else self.path(relative)

    def list_files(self, relative_dir: str, suffix: str = "") -> list[str]:
        selector = pafs.FileSelector(self.path(relative_dir), allow_not_found=True, recursive=True)
        return sorted(
            info.path
            for info in self.fs.get_file_info(selector)
            if info.is_file and info.path.endswith(suffix) and not info.base_name.startswith(".")
        )

    def read_jsonl(self, relative_dir: str) -> list[dict[str, Any]]:
        """Every JSON line of every `.jsonl` file below; a line that is not JSON is skipped
        as the half-written file of a concurrent writer cannot be (writes are atomic)."""
        entries: list[dict[str, Any]] = []
        for path in self.list_files(relative_dir, ".jsonl"):
            with self.fs.open_input_stream(path) as stream:
                for line in stream.read().decode().splitlines():
                    if line.strip():
                        entry = json.loads(line)
                        if isinstance(entry, dict):
                            entries.append(entry)
        return entries

    def read_parquet_files(self, relative_dir: str) -> tuple[list[str], pa.Table | None]:
        paths = self.list_files(relative_dir, ".parquet")
        if not paths:
            return paths, None
        tables = [pq.read_table(path, filesystem=self.fs) for path in paths]
        return paths, pa.concat_tables(tables, promote_options="permissive")

    def write_parquet(self, relative_dir: str, name: str, table: pa.Table) -> str:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return self.write_bytes(f"{relative_dir}/{name}", sink.getvalue().to_pybytes())

    def write_text(self, relative: str, text: str) -> str:
        return self.write_bytes(relative, text.encode())

    def write_bytes(self, relative: str, data: bytes) -> str:
        """A file written whole (local: temporary name, then rename; S3: one PUT)."""
        final = self.path(relative)
        if self.is_s3:
            with self.fs.open_output_stream(final) as stream:
                stream.write(data)
            return final
        directory, name = final.rsplit("/", 1)
        self.fs.create_dir(directory, recursive=True)
        temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
        with self.fs.open_output_stream(temporary) as stream:
            stream.write(data)
        self.fs.move(temporary, final)
        return final

    def read_json_file(self, relative: str) -> dict[str, Any] | None:
        path = self.path(relative)
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(path) as stream:
            value = json.loads(stream.read().decode())
        return value if isinstance(value, dict) else None

    def read_json(self, relative_dir: str) -> list[dict[str, Any]]:
        """Every `.json` object file below a folder."""
        found = []
        for path in self.list_files(relative_dir, ".json"):
            with self.fs.open_input_stream(path) as stream:
                value = json.loads(stream.read().decode())
            if isinstance(value, dict):
                found.append(value)
        return found

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)
