"""target-minio-parquet alone: Singer messages from a file into Parquet on local disk.

Writes order-like RECORD messages (ids, exact decimals, zoned timestamps, dates, text,
a free-form object) once, then pipes them into the target at two sizes, so rows/s and
peak RSS show the target's own cost and whether memory grows with the stream.
`--rows N` sets the small size (the large one is 10x).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _measure import print_table, run_measured

BIN = Path(sys.executable).parent
DECIMAL = {"type": ["string", "null"], "format": "x-singer.decimal", "precision": 12, "scale": 2}
SCHEMA = {
    "type": "SCHEMA",
    "stream": "public-order_items",
    "key_properties": ["order_item_id"],
    "bookmark_properties": ["updated_at"],
    "schema": {
        "type": "object",
        "properties": {
            "order_item_id": {"type": "integer"},
            "order_id": {"type": "integer"},
            "product_id": {"type": ["integer", "null"]},
            "quantity": {"type": ["integer", "null"]},
            "unit_price": DECIMAL,
            "discount": DECIMAL,
            "order_date": {"type": ["string", "null"], "format": "date"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "status": {"type": ["string", "null"]},
            "metadata": {"type": ["object", "null"]},
        },
    },
}


def write_messages(path: Path, rows: int) -> None:
    with path.open("w") as handle:
        handle.write(json.dumps(SCHEMA) + "\n")
        for i in range(1, rows + 1):
            record = {
                "order_item_id": i,
                "order_id": i // 3,
                "product_id": i % 500,
                "quantity": 1 + i % 4,
                "unit_price": f"{i % 9000}.{i % 100:02d}",
                "discount": None if i % 5 else "1.50",
                "order_date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "updated_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:{i % 60:02d}:00.123456+00:00",
                "status": "shipped",
                "metadata": {"channel": "web", "n": i % 7},
            }
            message = {
                "type": "RECORD",
                "stream": "public-order_items",
                "record": record,
                "time_extracted": "2026-01-01T00:00:00+00:00",
            }
            handle.write(json.dumps(message) + "\n")
            if i % 50_000 == 0:
                handle.write(json.dumps({"type": "STATE", "value": {"rows": i}}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    parser.add_argument("--rounds", type=int, default=1, help="A/B rounds (profile on/off)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-target-"))
    for name, profile in (("target.json", True), ("target-noprofile.json", False)):
        config = {
            "destination": str(work / "lake"),
            "source_name": "bench",
            "profile_runs": profile,
        }
        (work / name).write_text(json.dumps(config))
    results = []
    for rows in (args.rows, args.rows * 10):
        source = work / f"messages-{rows}.jsonl"
        write_messages(source, rows)
        results.append(
            run_measured(f"cat > /dev/null ({rows:,} rows)", f"cat {source} > /dev/null", rows)
        )
        # the run profile (elt-monitor's input) against the same target without it, ABBA
        order = [("target.json", ""), ("target-noprofile.json", ", no profile")]
        for _ in range(args.rounds):
            for config, label in [*order, *reversed(order)]:
                results.append(
                    run_measured(
                        f"target-minio-parquet ({rows:,} rows{label})",
                        f"cat {source} | {BIN}/target-minio-parquet --config {work}/{config}"
                        " > /dev/null",
                        rows,
                    )
                )
    print_table(results)
    print(f"work directory: {work}")


if __name__ == "__main__":
    main()
