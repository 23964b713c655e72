"""tap-ecommerce-postgres (alone and piped into target-minio-parquet) against its peers.

Seeds a sandbox of its own, installs the peers into bench/.venvs (meltanolabs-tap-postgres;
dlt's sql_database with the pyarrow backend), then runs each over the four shop tables,
interleaved, and prints rows/s, time relative to the physical limit (psycopg COPY ->
pyarrow -> Parquet) and peak RSS. `--scale 5` for the memory goal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import print_table, run_measured
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.shop.generate import expected_counts

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / "bench" / ".venvs"
BIN = Path(sys.executable).parent
TABLES = ["customers", "products", "orders", "order_items"]


def peer_venv(name: str, requirements: list[str]) -> Path:
    venv = VENVS / name
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(BIN / "uv"),
                "pip",
                "install",
                "-q",
                "--compile-bytecode",  # as pip does; see dev.sh
                "--python",
                str(venv / "bin" / "python"),
                *requirements,
            ],
            check=True,
        )
    return venv


COPY_BASELINE = """
import sys, io, psycopg, pyarrow.csv as pc, pyarrow.parquet as pq
conn = psycopg.connect(sys.argv[1])
for table in ["customers", "products", "orders", "order_items"]:
    buffer = io.BytesIO()
    with conn.cursor().copy(f"COPY {table} TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    pq.write_table(pc.read_csv(buffer), f"{sys.argv[2]}/{table}.parquet", compression="zstd")
"""

DLT_SCRIPT = """
import sys, dlt
from dlt.sources.sql_database import sql_database
source = sql_database(sys.argv[1], table_names=["customers", "products", "orders", "order_items"], backend="pyarrow")
pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.filesystem(sys.argv[2]), dataset_name="shop")
pipeline.run(source, loader_file_format="parquet")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    env = api.up(
        SandboxHome((ROOT / ".sandbox-bench").resolve()), scale=args.scale, services=["postgres"]
    )
    rows = sum(expected_counts(args.scale).values())
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as scratch:  # removed at the end
        measure(args, env, rows, Path(scratch))


def measure(args: argparse.Namespace, env: dict[str, str], rows: int, work: Path) -> None:
    dsn = f"postgresql://{env['PGUSER']}:{env['PGPASSWORD']}@{env['PGHOST']}:{env['PGPORT']}/{env['PGDATABASE']}"
    ours = {"host": env["PGHOST"], "port": int(env["PGPORT"]), "user": env["PGUSER"],
            "password": env["PGPASSWORD"], "database": env["PGDATABASE"], "schemas": ["public"]}  # fmt: skip
    (work / "ours.json").write_text(json.dumps(ours))
    (work / "target.json").write_text(
        json.dumps({"destination": str(work / "lake"), "source_name": "bench"})
    )
    batches = work / "batches"
    batches.mkdir()
    batch_config = {"encoding": {"format": "parquet", "compression": "none"},
                    "storage": {"root": f"file://{batches}", "prefix": "b-"}, "batch_size": 100_000}  # fmt: skip
    (work / "ours-batch.json").write_text(json.dumps({**ours, "batch_config": batch_config}))
    catalog = work / "catalog.json"
    subprocess.run(
        f"{BIN}/tap-ecommerce-postgres --config {work}/ours.json --discover > {catalog}",
        shell=True,
        check=True,
    )
    runs = [
        ("COPY -> pyarrow -> Parquet (limit)", f"{sys.executable} -c '{COPY_BASELINE}' '{dsn}' {work}"),
        ("tap-ecommerce-postgres > /dev/null", f"{BIN}/tap-ecommerce-postgres --config {work}/ours.json > /dev/null"),
        ("tap-ecommerce-postgres | target-minio-parquet", f"{BIN}/tap-ecommerce-postgres --config {work}/ours.json | {BIN}/target-minio-parquet --config {work}/target.json > /dev/null"),
        ("same, Parquet BATCH messages", f"{BIN}/tap-ecommerce-postgres --config {work}/ours-batch.json | {BIN}/target-minio-parquet --config {work}/target.json > /dev/null"),
    ]  # fmt: skip
    if not args.skip_peers:
        meltanolabs = peer_venv("meltanolabs", ["meltanolabs-tap-postgres==0.10.0"])
        jsonl = peer_venv("target-jsonl", ["target-jsonl==0.1.4"])
        (work / "jsonl").mkdir()
        (work / "jsonl.json").write_text(json.dumps({"destination_path": str(work / "jsonl")}))
        labs_config = {**ours, "filter_schemas": ["public"]}
        (work / "labs.json").write_text(json.dumps(labs_config))
        subprocess.run(
            f"{meltanolabs}/bin/tap-postgres --config {work}/labs.json --discover > {work}/labs-catalog.json",
            shell=True,
            check=True,
        )
        labs_catalog = json.loads((work / "labs-catalog.json").read_text())
        for stream in labs_catalog["streams"]:
            chosen = stream["tap_stream_id"].split("-")[-1] in TABLES
            for entry in stream["metadata"]:
                if not entry["breadcrumb"]:
                    entry["metadata"]["selected"] = chosen
        (work / "labs-catalog.json").write_text(json.dumps(labs_catalog))
        dlt = peer_venv("dlt", ["dlt[parquet,sql_database]", "sqlalchemy", "psycopg2-binary"])
        (work / "dlt_run.py").write_text(DLT_SCRIPT)
        runs += [
            ("meltanolabs-tap-postgres > /dev/null", f"{meltanolabs}/bin/tap-postgres --config {work}/labs.json --catalog {work}/labs-catalog.json > /dev/null"),
            ("meltanolabs-tap-postgres | target-jsonl", f"{meltanolabs}/bin/tap-postgres --config {work}/labs.json --catalog {work}/labs-catalog.json | {jsonl}/bin/target-jsonl --config {work}/jsonl.json > /dev/null"),
            ("dlt sql_database (pyarrow) -> Parquet", f"{dlt}/bin/python {work}/dlt_run.py 'postgresql+psycopg2://{env['PGUSER']}:{env['PGPASSWORD']}@{env['PGHOST']}:{env['PGPORT']}/{env['PGDATABASE']}' {work}/dlt"),
        ]  # fmt: skip
    results = [run_measured(name, command, rows, {**os.environ}) for name, command in runs]
    print(f"\nscale {args.scale}: {rows:,} rows over the four shop tables\n")
    print_table(results, baseline="COPY -> pyarrow -> Parquet (limit)")


if __name__ == "__main__":
    main()
