"""tap-csv-marketing on the sandbox exports, locally and on the S3 endpoint."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

from elt_monitor.log_formats import FILE_LINE
from elt_sandbox.marketing.generate import BAD_ROWS, build_exports

from tests.tap_csv_marketing.conftest import run_csv_tap


def manifest(csv_env: dict[str, str]) -> dict:
    return json.loads((Path(csv_env["SANDBOX_CSV_DIR"]) / "_manifest.json").read_text())


def test_good_and_quarantined_rows_match_the_manifest_per_file(csv_env, tmp_path) -> None:
    streams, _, result = run_csv_tap({"source": csv_env["SANDBOX_CSV_DIR"]}, tmp_path)
    expected = manifest(csv_env)
    good = Counter(
        Path(r["_sdc_source_file"]).name
        for s in ("marketing_spend", "campaign_performance")
        for r in streams[s]
    )
    for name, entry in expected["files"].items():
        assert good[name] == entry["good_rows"], name
    assert len(streams["marketing_spend"]) == 365
    assert len(streams["campaign_performance"]) == 1200
    quarantined = {
        (Path(r["source_file"]).name, r["line"], r["reason"])
        for s in ("marketing_spend__quarantine", "campaign_performance__quarantine")
        for r in streams[s]
    }
    wanted = {
        (name, bad["line"], bad["reason"])
        for name, entry in expected["files"].items()
        for bad in entry["bad_rows"]
    }
    assert quarantined == wanted
    assert len(wanted) == len(BAD_ROWS)
    assert all(r["raw_line"] for s in ("marketing_spend__quarantine",) for r in streams[s])
    # elt-monitor reads the per-file counts from this line (elt_monitor.log_formats)
    per_file = {
        Path(m["file"]).name: (int(m["good"]), int(m["bad"]))
        for line in result.stderr.splitlines()
        if (m := FILE_LINE.search(line))
    }
    feed = expected["json_feed"]["files"]  # the JSON feed beside them (test_json_feed.py)
    assert per_file == {
        name: (entry["good_rows"], len(entry["bad_rows"]))
        for name, entry in expected["files"].items()
    } | {name: (entry["good_records"], len(entry["bad_records"])) for name, entry in feed.items()}


def _expected_records(stream: str) -> dict[tuple[str, int], dict]:
    """Every good row of the generator, typed independently of the tap's parsers."""

    def day(text: str) -> str:
        if "/" in text:
            month, day_, year = (int(part) for part in text.split("/"))
            return dt.date(year, month, day_).isoformat()
        return dt.date.fromisoformat(text).isoformat()

    def money(text: str) -> str:
        return str(Decimal(text.replace("$", "").replace(",", "")).quantize(Decimal("0.01")))

    expected = {}
    for export in build_exports():
        if export.stream != stream:
            continue
        bad_lines = {b["line"] for b in export.bad}
        for line, cells in enumerate(export.rows, start=2):  # line 1 is the header
            if line in bad_lines:
                continue
            if stream == "marketing_spend":
                date, channel, name, spend, impressions, clicks = cells
                record = {"date": day(date), "channel": channel, "campaign_name": name,
                          "spend": money(spend), "impressions": int(impressions),
                          "clicks": int(clicks)}  # fmt: skip
            else:
                date, campaign_id, name, channel, conversions, revenue = cells
                record = {"date": day(date), "campaign_id": campaign_id, "campaign_name": name,
                          "channel": channel, "conversions": int(conversions),
                          "revenue_attributed": money(revenue)}  # fmt: skip
            expected[(export.name, line)] = record
    return expected


def test_typed_values_are_exact(csv_env, tmp_path) -> None:
    streams, _, _ = run_csv_tap({"source": csv_env["SANDBOX_CSV_DIR"]}, tmp_path)
    for stream in ("marketing_spend", "campaign_performance"):
        expected = _expected_records(stream)
        got = {
            (Path(r.pop("_sdc_source_file")).name, r.pop("_sdc_source_lineno")): r
            for r in streams[stream]
        }
        assert got == expected, stream
    spend = [Decimal(r["spend"]) for r in streams["marketing_spend"]]
    assert all(value.as_tuple().exponent == -2 for value in spend)  # to the cent
    expected_total = sum(Decimal(r["spend"]) for r in _expected_records("marketing_spend").values())
    assert sum(spend) == expected_total
    assert sorted(r["date"] for r in streams["marketing_spend"]) == [
        (dt.date(2025, 1, 1) + dt.timedelta(days=n)).isoformat() for n in range(365)
    ]


def test_the_cp1252_file_is_decoded_and_names_match_across_exports(csv_env, tmp_path) -> None:
    raw = (Path(csv_env["SANDBOX_CSV_DIR"]) / "campaign_performance_2025-W20.csv").read_bytes()
    assert "Café".encode("cp1252") in raw and "Café".encode() not in raw
    streams, _, _ = run_csv_tap({"source": csv_env["SANDBOX_CSV_DIR"]}, tmp_path)
    w20 = [
        r
        for r in streams["campaign_performance"]
        if r["_sdc_source_file"].endswith("campaign_performance_2025-W20.csv")
    ]
    assert "Winter Sale \u2013 Café" in {r["campaign_name"] for r in w20}
    spend_names = {(r["channel"], r["campaign_name"]) for r in streams["marketing_spend"]}
    performance_names = {
        (r["channel"], r["campaign_name"]) for r in streams["campaign_performance"]
    }
    assert spend_names == performance_names


def test_reads_the_same_exports_from_s3(csv_env, s3_env, tmp_path) -> None:
    config = {
        "source": csv_env["SANDBOX_CSV_S3_URL"],
        "s3_endpoint_url": s3_env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": s3_env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": s3_env["AWS_SECRET_ACCESS_KEY"],
    }
    streams, _, result = run_csv_tap(config, tmp_path)
    assert len(streams["marketing_spend"]) == 365
    assert len(streams["campaign_performance"]) == 1200
    assert all(r["_sdc_source_file"].startswith("s3://") for r in streams["marketing_spend"])
    first = f"{csv_env['SANDBOX_CSV_S3_URL'].rstrip('/')}/marketing_spend_2025-W01.csv: "
    assert first in result.stderr  # the run logs per file, and never the secret key:
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in result.stderr


def test_second_run_reads_nothing_and_a_changed_file_is_reread(csv_env, tmp_path) -> None:
    directory = tmp_path / "exports"
    shutil.copytree(csv_env["SANDBOX_CSV_DIR"], directory)
    _, states, _ = run_csv_tap({"source": str(directory)}, tmp_path)
    again, states_2, _ = run_csv_tap({"source": str(directory)}, tmp_path, state=states[-1])
    assert sum(len(rows) for rows in again.values()) == 0
    changed = directory / "marketing_spend_2025-W10.csv"
    changed.write_text(
        changed.read_text().replace("\n", "\n", 1) + "2025-03-08,email,Newsletter,1.00,10,1\n"
    )
    third, _, _ = run_csv_tap({"source": str(directory)}, tmp_path, state=states_2[-1])
    assert {Path(r["_sdc_source_file"]).name for r in third["marketing_spend"]} == {changed.name}
    assert len(third["marketing_spend"]) == 8
