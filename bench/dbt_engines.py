"""`dbt build` of the whole project over one bronze lake, on DuckDB and on local Spark.

The lake is the demo's (`output/lake`, run `./dev.sh demo` first, scale 1 by default) or
`--lake`. Each engine builds into its own temporary warehouse, so the runs never share
state; wall time and the peak RSS of the dbt process tree (Spark's JVM included) are
reported side by side. The run-ledger mart reads the DuckDB-only monitor source and is
left out on both engines, as in the cross-engine test.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

from _measure import Measurement, run_measured

ROOT = Path(__file__).resolve().parent.parent
DBT = str(Path(sys.executable).parent / "dbt")
PROJECT = ROOT / "transform"
sys.path.insert(0, str(PROJECT / "scripts"))
from wap.spark_engine import SMALL_DATA_SETTINGS  # noqa: E402 (the script's package)

EXCLUDE = "source:monitor+ rpt_ingestion_runs+"


def dbt_build(name: str, settings: dict[str, str], workdir: Path) -> Measurement:
    env = {
        **os.environ,
        **settings,
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    profiles = str(PROJECT / "profiles")
    argv = [DBT, "build", "--project-dir", str(PROJECT), "--profiles-dir", profiles]
    command = shlex.join([*argv, "--exclude", *EXCLUDE.split()])
    return run_measured(name, f"cd {shlex.quote(str(PROJECT))} && {command}", 0, env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lake", default=str(ROOT / "output" / "lake"))
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args()
    if not Path(args.lake).is_dir():
        print(f"no lake at {args.lake}: run ./dev.sh demo first", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as scratch:
        work = Path(scratch)
        results.append(
            dbt_build(
                "dbt build, DuckDB",
                {"LAKE_ROOT": args.lake, "DBT_DUCKDB_PATH": str(work / "duck" / "w.duckdb")},
                work / "duck",
            )
        )
        results.append(
            dbt_build(
                f"dbt build, Spark {args.spark_master}",
                {
                    "DBT_TARGET": "spark",
                    "LAKE_ROOT": args.lake,
                    "DBT_SPARK_MASTER": args.spark_master,
                    "DBT_SPARK_WAREHOUSE_DIR": str(work / "spark" / "warehouse"),
                },
                work / "spark",
            )
        )
        # the small-data switches `dbt-spark:wap` sets for a small lake (and the Spark tests
        # use): no whole-stage code generation, no adaptive plans, the JVM's quick compiler
        # only; measured here to decide the lake size below which wap sets them
        results.append(
            dbt_build(
                f"dbt build, Spark {args.spark_master}, small-data switches",
                {
                    "DBT_TARGET": "spark",
                    "LAKE_ROOT": args.lake,
                    "DBT_SPARK_MASTER": args.spark_master,
                    "DBT_SPARK_WAREHOUSE_DIR": str(work / "spark-small" / "warehouse"),
                    **SMALL_DATA_SETTINGS,
                },
                work / "spark-small",
            )
        )
    print(f"lake: {args.lake}")
    print(f"{'run':<56}{'seconds':>9}{'x DuckDB':>10}{'peak MB':>9}")
    for result in results:
        ratio = result.seconds / results[0].seconds
        print(f"{result.name:<56}{result.seconds:>9.1f}{ratio:>10.2f}{result.peak_rss_mb:>9.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
