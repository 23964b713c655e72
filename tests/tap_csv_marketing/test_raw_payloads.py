"""tap-csv-marketing's raw payloads: every export file as read, kept once per run,
gzip-compressed with its manifest row, and no credential of its URL kept."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

from tests.tap_csv_marketing.conftest import run_csv_tap
from tests.tap_csv_marketing.test_http_sources import SECRET, SPEND_FILE, serve

SOURCE = "tap-csv-marketing"


def kept(lake: Path) -> tuple[Path, list[dict]]:
    (folder,) = [p for p in (lake / "_raw" / SOURCE).iterdir() if p.is_dir()]
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    return folder, rows


def test_each_file_read_is_kept_once_as_it_was(csv_env, tmp_path) -> None:
    lake = tmp_path / "lake"
    exports = Path(csv_env["SANDBOX_CSV_DIR"])
    config = {"source": str(exports), "raw_payloads": True, "raw_payloads_location": str(lake)}
    streams, _, _ = run_csv_tap(config, tmp_path)
    folder, rows = kept(lake)
    read = {r["_sdc_source_file"] for name in ("marketing_spend", "campaign_performance")
            for r in streams[name]}  # fmt: skip
    assert {row["url"] for row in rows} >= read and len(rows) == len({r["url"] for r in rows})
    for row in rows:
        original = Path(row["url"]).read_bytes()
        assert gzip.decompress((folder / row["object"]).read_bytes()) == original
        assert row["sha256"] == hashlib.sha256(original).hexdigest()
        assert row["extraction_method"] == "file_copy" and row["status"] is None
        extension = Path(row["url"]).suffix  # .csv, .ndjson, .gz (kept as stored), .json
        assert row["object"].endswith(f"{extension}.gz") and row["stream"] == Path(row["url"]).name


def test_a_downloaded_export_is_kept_without_its_token(csv_env, export_server, tmp_path) -> None:
    lake = tmp_path / "lake"
    serve(export_server, csv_env, SPEND_FILE)
    url = f"{export_server.base_url}/exports/{SPEND_FILE}?token={SECRET}"
    config = {"source": url, "raw_payloads": True, "raw_payloads_location": str(lake)}
    run_csv_tap(config, tmp_path)
    folder, rows = kept(lake)
    (row,) = rows
    assert row["url"] == f"{export_server.base_url}/exports/{SPEND_FILE}?token=***"
    assert row["extraction_method"] == "export_download" and row["status"] == 200
    for path in folder.rglob("*"):
        data = path.read_bytes()
        assert SECRET.encode() not in (gzip.decompress(data) if path.suffix == ".gz" else data)


def test_a_replay_reads_the_kept_files_to_the_same_records_without_the_source(
    csv_env, tmp_path
) -> None:
    """The run's files are copied to a directory that is then removed: the replay can
    only have read the kept copies."""
    lake, exports = tmp_path / "lake", tmp_path / "exports"
    shutil.copytree(csv_env["SANDBOX_CSV_DIR"], exports)
    config = {"source": str(exports), "raw_payloads": True, "raw_payloads_location": str(lake)}
    live, _, _ = run_csv_tap(config, tmp_path)
    folder, _ = kept(lake)
    shutil.rmtree(exports)
    replay = {"source": str(exports), "raw_payloads_location": str(lake), "replay_run": folder.name}
    replayed, _, result = run_csv_tap(replay, tmp_path)
    assert set(replayed) == set(live) and all(replayed[name] for name in live)
    for name in live:  # good rows and quarantined rows alike, in the same order
        assert replayed[name] == live[name], name
    assert "accepted payloads not asked for" in result.stderr
