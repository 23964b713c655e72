"""load_method: append-only adds a run's files; overwrite replaces a stream's files once
the run's own files are committed, and its manifest says what it replaced."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from tests.target_minio_parquet.conftest import (
    TARGET,
    record_message,
    run_target,
    s3_filesystem,
    s3_target_config,
    schema_message,
)

PROPERTIES = {"id": {"type": "integer"}, "amount": {"type": ["number", "null"]}}


def run(stream: str, ids: list[int], extra: dict | None = None) -> list[dict]:
    messages = [schema_message(stream, PROPERTIES, ["id"])]
    messages += [record_message(stream, {"id": i, "amount": i * 1.5}) for i in ids]
    messages += [record_message(stream, e) for e in ([extra] if extra else [])]
    return messages


class LocalLake:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "lake"
        self.config = {"destination": str(self.root), "source_name": "s"}
        self.fs = pafs.LocalFileSystem()
        self.prefix = str(self.root)


class S3Lake:
    def __init__(self, tmp_path: Path, s3_env: dict[str, str]) -> None:
        self.prefix = f"{s3_env['LAKE_BUCKET']}/target-tests/{tmp_path.name}"
        self.config = s3_target_config(s3_env, f"s3://{self.prefix}", source_name="s")
        self.fs = s3_filesystem(s3_env)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> LocalLake | S3Lake:
    if request.param == "local":
        return LocalLake(tmp_path)
    return S3Lake(tmp_path, request.getfixturevalue("s3_env"))


def files(lake: LocalLake | S3Lake, stream: str) -> list[str]:
    selector = pafs.FileSelector(f"{lake.prefix}/s/{stream}", recursive=True, allow_not_found=True)
    found = lake.fs.get_file_info(selector)
    return sorted(i.path for i in found if i.is_file and i.path.endswith(".parquet"))


def ids(lake: LocalLake | S3Lake, stream: str) -> list[int]:
    dataset = ds.dataset(files(lake, stream), filesystem=lake.fs, format="parquet")
    return sorted(dataset.to_table().column("id").to_pylist())


def manifests(lake: LocalLake | S3Lake, stream: str) -> list[dict]:
    selector = pafs.FileSelector(f"{lake.prefix}/_meta/manifests/source=s/stream={stream}")
    entries = []
    for info in lake.fs.get_file_info(selector):
        with lake.fs.open_input_stream(info.path) as handle:
            entries.append(json.loads(handle.read()))
    return sorted(entries, key=lambda m: m["started_at"])


def test_append_only_adds_and_overwrite_replaces(lake: LocalLake | S3Lake, tmp_path: Path) -> None:
    first = run_target(lake.config, run("orders", [1, 2, 3]) + run("refunds", [9]), tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_target(lake.config, run("orders", [3, 4]), tmp_path)  # append-only default
    assert second.returncode == 0, second.stderr
    assert ids(lake, "orders") == [1, 2, 3, 3, 4]
    earlier = files(lake, "orders")
    assert len(earlier) == 2

    overwrite = {**lake.config, "load_method": "overwrite", "state_flush_seconds": 0}
    messages = run("orders", [5, 6, 7])
    messages.insert(3, {"type": "STATE", "value": {"at": 6}})  # commits 5 and 6 in one file
    third = run_target(overwrite, messages, tmp_path)
    assert third.returncode == 0, third.stderr
    assert ids(lake, "orders") == [5, 6, 7]  # only this run's rows
    assert ids(lake, "refunds") == [9]  # a stream the run did not write keeps its files
    latest = manifests(lake, "orders")[-1]
    assert latest["load_method"] == "overwrite" and latest["status"] == "complete"
    assert sorted(path.removeprefix("s3://") for path in latest["replaced_files"]) == earlier
    current = sorted(entry["path"].removeprefix("s3://") for entry in latest["files"])
    assert current == files(lake, "orders") and len(current) == 2  # both of this run's files
    assert "overwrite replaced 2 files of earlier runs" in third.stderr


def test_a_failed_overwrite_run_replaces_nothing(lake: LocalLake | S3Lake, tmp_path: Path) -> None:
    first = run_target(lake.config, run("orders", [1, 2]), tmp_path)
    assert first.returncode == 0, first.stderr
    overwrite = {**lake.config, "load_method": "overwrite"}
    bad = {"id": "not a number"}
    failed = run_target(overwrite, run("orders", [3], extra=bad), tmp_path)
    assert failed.returncode != 0
    assert ids(lake, "orders") == [1, 2]
    assert all(m["replaced_files"] == [] for m in manifests(lake, "orders"))


def test_a_failed_overwrite_runs_manifest_says_overwrite(tmp_path: Path) -> None:
    """A run that committed files, sent a STATE and then failed leaves a `running`
    manifest: it must say what the run was doing (it said append-only)."""
    lake = LocalLake(tmp_path)
    config = {**lake.config, "load_method": "overwrite", "state_flush_seconds": 0}
    messages = run("orders", [1, 2])
    messages.append({"type": "STATE", "value": {"bookmarks": {"orders": {"id": 2}}}})
    messages.append(record_message("orders", {"id": "not a number"}))
    failed = run_target(config, messages, tmp_path)
    assert failed.returncode != 0
    (manifest,) = manifests(lake, "orders")
    assert manifest["status"] == "running" and manifest["total_rows"] == 2
    assert manifest["load_method"] == "overwrite" and manifest["replaced_files"] == []


def test_upsert_is_refused_before_the_first_record(tmp_path: Path) -> None:
    config = {"destination": str(tmp_path / "lake"), "load_method": "upsert"}
    result = run_target(config, run("orders", [1]), tmp_path)
    assert result.returncode == 1
    assert "load_method" in result.stderr and "upsert" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_about_lists_only_the_load_methods_it_implements() -> None:
    about = subprocess.run(
        [TARGET, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    setting = json.loads(about.stdout)["settings"]["properties"]["load_method"]
    assert setting["enum"] == ["append-only", "overwrite"]
