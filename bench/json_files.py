"""tap-csv-marketing on a 1 GB NDJSON file and a 1 GB JSON array (streamed) beside the CSV
path on the same records: rows/s and the peak RSS of the tap (goal: under 300 MB whatever
the JSON file's size). The files are generated in a temporary directory and deleted.

The CSV path reads a file whole (marketing exports are small), so its file is smaller
(`--csv-mb`); its rows/s is the comparison, not its memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _measure import print_table, run_measured

TAP = Path(sys.executable).parent / "tap-csv-marketing"
EVENT = (
    '{{"event_id":"e{n}","date":"2025-{m:02d}-{d:02d}","platform":"meta","campaign_id":"C{c}",'
    '"impressions":{i},"clicks":{k},"cost":{cost},"attributes":{{"age":"18-24","bid":0.35}}}}'
)
ROW = "2025-{m:02d}-{d:02d},email,Campaign {c},{cost},{i},{k}"


def event(n: int) -> str:
    return EVENT.format(
        n=n,
        m=n % 12 + 1,
        d=n % 28 + 1,
        c=n % 500,
        i=n % 10_000,
        k=n % 97,
        cost=f"{n % 99_999 / 100:.2f}",
    )


def write_ndjson(path: Path, size: int) -> int:
    count = 0
    with path.open("w") as out:
        while out.tell() < size:
            out.write("\n".join(event(count + j) for j in range(10_000)) + "\n")
            count += 10_000
    return count


def write_array(path: Path, size: int) -> int:
    count = 0
    with path.open("w") as out:
        out.write("[")
        while out.tell() < size:
            prefix = "," if count else ""
            out.write(prefix + ",\n".join(event(count + j) for j in range(10_000)))
            count += 10_000
        out.write("]")
    return count


def write_csv(path: Path, size: int) -> int:
    count = 0
    with path.open("w") as out:
        out.write("date,channel,campaign_name,spend,impressions,clicks\n")
        while out.tell() < size:
            rows = (
                ROW.format(
                    m=n % 12 + 1,
                    d=n % 28 + 1,
                    c=n,
                    cost=f"{n % 99_999 / 100:.2f}",
                    i=n % 10_000,
                    k=n % 97,
                )
                for n in range(count, count + 10_000)
            )
            out.write("\n".join(rows) + "\n")
            count += 10_000
    return count


# The tap's JSON reading alone (pass 1 + pass 2 + typing, no SDK record handling): what a
# 1 GB file costs in memory, in a time this shared machine allows.
READER = """
import sys
from tap_csv_marketing.exports import LAYOUTS
from tap_csv_marketing.files import ExportLocation
from tap_csv_marketing.json_reader import JsonFileReader
from tap_csv_marketing.settings import ExportSettings
from tap_csv_marketing.formats import format_of
settings = ExportSettings.from_config({"source": sys.argv[1]})
location = ExportLocation(settings)
reader = JsonFileReader(LAYOUTS["ad_events"], settings)
(source,) = location.list("ad_events*")
document = reader.document(location, source, format_of(source.name))
document.check()
good = sum(row.record is not None for row in reader.rows(source, document))
assert good == int(sys.argv[2]), (good, sys.argv[2])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json-mb", type=int, default=1024)
    parser.add_argument("--csv-mb", type=int, default=20)
    parser.add_argument("--tap-json-mb", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-json-"))
    try:
        results = []
        cases = [
            ("tap: CSV (read whole)", "marketing_spend_1.csv", write_csv, args.csv_mb, False),
            ("tap: NDJSON", "ad_events_1.ndjson", write_ndjson, args.tap_json_mb, False),
            ("tap: JSON array", "ad_events_2.json", write_array, args.tap_json_mb, False),
            ("reader only: NDJSON", "ad_events_1.ndjson", write_ndjson, args.json_mb, True),
            ("reader only: JSON array", "ad_events_2.json", write_array, args.json_mb, True),
        ]
        for name, file_name, write, megabytes, reader_only in cases:
            directory = work / file_name.split(".")[0]
            directory.mkdir()
            rows = write(directory / file_name, megabytes * 1024 * 1024)
            config = work / f"{directory.name}.json"
            config.write_text(json.dumps({"source": str(directory)}))
            size = (directory / file_name).stat().st_size / 1024 / 1024
            label = f"{name} {size:,.0f} MB"
            command = f"{TAP} --config {config} > /dev/null"
            if reader_only:
                script = work / "reader.py"
                script.write_text(READER)
                command = f"{sys.executable} {script} {directory} {rows}"
            results.append(run_measured(label, command, rows))
            print(f"{label}: done", flush=True)
            shutil.rmtree(directory)
        print_table(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
