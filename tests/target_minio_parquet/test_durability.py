"""A killed target leaves no partial file, its STATE is honest, and memory stays flat."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.target_minio_parquet.conftest import TARGET, record_message, schema_message

PROPERTIES = {
    "id": {"type": "integer"},
    "amount": {"type": "string", "format": "x-singer.decimal", "precision": 12, "scale": 2},
    "note": {"type": ["string", "null"]},
}


def write_input(path: Path, batches: int, per_batch: int) -> None:
    with path.open("w") as handle:
        handle.write(json.dumps(schema_message("orders", PROPERTIES, ["id"])) + "\n")
        sent = 0
        for _ in range(batches):
            for _ in range(per_batch):
                sent += 1
                record = {"id": sent, "amount": f"{sent % 1000}.25", "note": "x" * 40}
                handle.write(json.dumps(record_message("orders", record)) + "\n")
            handle.write(json.dumps({"type": "STATE", "value": {"sent": sent}}) + "\n")


@pytest.mark.slow
def test_killed_target_leaves_only_complete_files_covering_its_last_state(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"destination": str(lake), "max_buffer_rows": 700, "state_flush_seconds": 0})
    )
    source = tmp_path / "input.jsonl"
    write_input(source, batches=200, per_batch=1000)
    with source.open() as stdin:
        process = subprocess.Popen(
            [TARGET, "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        states = []
        assert process.stdout is not None
        for line in process.stdout:
            states.append(json.loads(line))
            if len(states) == 5:
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=30)
    assert states, "the target emitted no STATE before it was killed"
    files = sorted(lake.rglob("*.parquet"))
    assert files
    committed_ids: set[int] = set()
    for file in files:
        committed_ids |= set(pq.read_table(file).column("id").to_pylist())  # raises if partial
    last_state = states[-1]["sent"]
    assert set(range(1, last_state + 1)) <= committed_ids
    assert sum(pq.read_metadata(f).num_rows for f in files) == len(committed_ids)
    (manifest_file,) = lake.glob("_meta/manifests/*/*/*.jsonl")
    manifest = json.loads(manifest_file.read_text())  # written before each STATE went out
    assert manifest["status"] == "running"
    listed = {Path(entry["path"]): entry for entry in manifest["files"]}
    assert set(listed) <= set(files)
    assert sum(entry["rows"] for entry in listed.values()) >= last_state
    for path, entry in listed.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]


def peak_rss_kib(config: Path, source: Path) -> int:
    script = (
        "import resource, subprocess, sys\n"
        f"subprocess.run([{TARGET!r}, '--config', {str(config)!r}],"
        f" stdin=open({str(source)!r}), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,"
        " check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


@pytest.mark.slow
def test_memory_stays_flat_when_the_stream_grows_tenfold(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"destination": str(tmp_path / "lake"), "max_buffer_rows": 5000}))
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    write_input(small, batches=2, per_batch=10_000)
    write_input(large, batches=20, per_batch=10_000)
    small_rss, large_rss = peak_rss_kib(config, small), peak_rss_kib(config, large)
    assert large_rss < small_rss * 1.3, (small_rss, large_rss)
