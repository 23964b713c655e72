"""The lake stays inside its prefix: destinations with `..` or empty segments are refused
before the first record, long and hostile stream names are shortened or escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from target_minio_parquet.storage import (
    MAX_NAME_LENGTH,
    DestinationError,
    check_destination,
    printable,
    safe_name,
)

from tests.target_minio_parquet.conftest import (
    record_message,
    run_target,
    s3_filesystem,
    s3_target_config,
    schema_message,
)


def one_record(stream: str = "orders") -> list[dict]:
    return [
        schema_message(stream, {"id": {"type": "integer"}}, ["id"]),
        record_message(stream, {"id": 1}),
        {"type": "STATE", "value": {"done": True}},
    ]


@pytest.mark.parametrize(
    "destination",
    [
        "s3://lake/../escape",
        "s3://lake/bronze/..",
        "s3://lake//bronze",
        "s3://lake/./bronze",
        "s3:///bronze",
        "s3://",
        "lake/../escape",
        "/tmp/lake//bronze",
        "..",
    ],
)
def test_check_destination_refuses_segments_that_leave_the_prefix(destination: str) -> None:
    with pytest.raises(DestinationError, match="setting 'destination'"):
        check_destination(destination)


@pytest.mark.parametrize(
    "destination",
    ["s3://lake", "s3://lake/bronze/", "s3://lake/a.b/c..d", "/tmp/lake", "./output/lake", "."],
)
def test_check_destination_accepts_normal_paths(destination: str) -> None:
    check_destination(destination)


def test_a_destination_error_hides_credentials_in_the_url() -> None:
    with pytest.raises(DestinationError) as caught:
        check_destination("s3://key:hunter2@lake/../x")
    assert "hunter2" not in str(caught.value) and "***@lake/../x" in str(caught.value)


def test_an_s3_destination_with_dot_dot_fails_before_the_first_record(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    fs = s3_filesystem(s3_env)
    escape = f"escape-{tmp_path.name.lower().replace('_', '-')}"[:60]
    fs.create_dir(escape)  # the bucket a `..` would reach
    config = s3_target_config(s3_env, f"s3://{s3_env['LAKE_BUCKET']}/../{escape}")
    result = run_target(config, one_record(), tmp_path)
    assert result.returncode == 1
    assert "setting 'destination'" in result.stderr and "segment 2 is '..'" in result.stderr
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in result.stderr
    assert not result.stdout.strip()  # no STATE
    written = fs.get_file_info(pafs.FileSelector(escape, recursive=True, allow_not_found=True))
    assert [info.path for info in written] == []


def test_a_local_destination_with_dot_dot_fails_before_the_first_record(tmp_path: Path) -> None:
    config = {"destination": str(tmp_path / "lake") + "/../escape"}
    result = run_target(config, one_record(), tmp_path)
    assert result.returncode == 1
    assert "setting 'destination'" in result.stderr and "'..'" in result.stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "lake").exists()


def test_safe_name_shortens_long_names_with_the_hash_suffix() -> None:
    long = "x" * 300
    short = safe_name(long)
    assert len(short) == MAX_NAME_LENGTH and short.startswith("x" * 100)
    assert safe_name("x" * 299) != short  # the hash keeps different names apart
    assert safe_name("x" * MAX_NAME_LENGTH) == "x" * MAX_NAME_LENGTH  # kept as it is


@pytest.mark.parametrize("length", [249, 255, 1000])
def test_a_long_stream_name_is_written_under_a_shortened_folder(
    tmp_path: Path, length: int
) -> None:
    stream = "s" * length
    lake = tmp_path / "lake"
    result = run_target(
        {"destination": str(lake), "source_name": "src"}, one_record(stream), tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (written,) = lake.rglob("*.parquet")
    folder = written.relative_to(lake).parts[1]
    assert folder == safe_name(stream) and len(folder) == MAX_NAME_LENGTH
    (manifest,) = lake.glob("_meta/manifests/source=src/*/*.jsonl")
    assert json.loads(manifest.read_text())["stream"] == stream  # the real name is kept


def test_a_long_stream_name_on_s3(tmp_path: Path, s3_env: dict[str, str]) -> None:
    prefix = f"{s3_env['LAKE_BUCKET']}/target-tests/{tmp_path.name}"
    config = s3_target_config(s3_env, f"s3://{prefix}", source_name="src")
    stream = "t" * 400
    result = run_target(config, one_record(stream), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    selector = pafs.FileSelector(f"{prefix}/src", recursive=True)
    files = [i.path for i in s3_filesystem(s3_env).get_file_info(selector) if i.is_file]
    assert [path.split("/")[-3] for path in files] == [safe_name(stream)]


def test_printable_escapes_control_characters() -> None:
    assert printable("a\nb\x00c\r\td é") == "a\\nb\\x00c\\r\\td é"


def test_control_characters_in_a_stream_name_are_escaped_in_log_lines(tmp_path: Path) -> None:
    stream = "a\nb\x00c"
    result = run_target({"destination": str(tmp_path / "lake")}, one_record(stream), tmp_path)
    assert result.returncode == 0, result.stderr
    committed = [line for line in result.stderr.splitlines() if "committed 1 rows" in line]
    assert len(committed) == 1
    assert "stream a\\nb\\x00c: committed 1 rows" in committed[0]


def test_control_characters_in_a_stream_name_are_escaped_in_the_sdks_log_lines(
    tmp_path: Path,
) -> None:
    stream = "a\nb\x00c"
    messages = [
        *one_record(stream),
        schema_message(stream, {"id": {"type": "integer"}, "x": {"type": "string"}}, ["id"]),
        record_message(stream, {"id": 2, "x": "y"}),
    ]
    result = run_target({"destination": str(tmp_path / "lake")}, messages, tmp_path)
    assert result.returncode == 0, result.stderr
    changed = [line for line in result.stderr.splitlines() if "Schema has changed" in line]
    assert len(changed) == 1 and "stream 'a\\nb\\x00c'" in changed[0]
