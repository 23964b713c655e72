"""Helpers to feed Singer messages to the real target-minio-parquet process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pyarrow.fs as pafs
import pytest

TARGET = str(Path(sys.executable).parent / "target-minio-parquet")


def schema_message(stream: str, properties: dict, key: list[str] | None = None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": key or [],
    }


def record_message(stream: str, record: dict) -> dict:
    return {
        "type": "RECORD",
        "stream": stream,
        "record": record,
        "time_extracted": "2026-01-02T03:04:05.123456+00:00",
    }


def run_target(
    config: dict, messages: Iterable[dict], tmp_path: Path
) -> subprocess.CompletedProcess:
    config_file = tmp_path / f"target-config-{abs(hash(json.dumps(config)))}.json"
    config_file.write_text(json.dumps(config))
    payload = "".join(json.dumps(m) + "\n" for m in messages)
    return subprocess.run(
        [TARGET, "--config", str(config_file)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture()
def local_lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def s3_target_config(s3_env: dict[str, str], destination: str, **settings: object) -> dict:
    """Target settings for a destination on the tests' S3 endpoint."""
    return {
        "destination": destination,
        "s3_endpoint_url": s3_env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": s3_env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": s3_env["AWS_SECRET_ACCESS_KEY"],
        **settings,
    }


def s3_filesystem(s3_env: dict[str, str]) -> pafs.S3FileSystem:
    """The tests' S3 endpoint, to read back (or prepare) what the target wrote."""
    scheme, host = s3_env["AWS_ENDPOINT_URL"].split("://")
    return pafs.S3FileSystem(
        endpoint_override=host,
        scheme=scheme,
        access_key=s3_env["AWS_ACCESS_KEY_ID"],
        secret_key=s3_env["AWS_SECRET_ACCESS_KEY"],
        region=s3_env["AWS_DEFAULT_REGION"],
        allow_bucket_creation=True,
    )
