"""Row counts at every layer of the pipeline: source, bronze lake, staging, marts.

Used by the demo's verification table and by the end-to-end tests, so that what the demo
shows is exactly what the tests reconcile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

BRONZE_FILE = re.compile(
    r"^(?P<root>.+)/(?P<source>[^/]+)/(?P<stream>[^/]+)/[^/]+=[^/]+/[^/]+\.parquet$"
)


def duckdb_for_lake(lake_root: str, env: Mapping[str, str] | None = None):
    """An in-memory DuckDB that can read the lake (local path or s3:// on the sandbox)."""
    conn = duckdb.connect()
    if lake_root.startswith("s3://") and env:
        add_s3_secret(conn, env)
    return conn


def add_s3_secret(conn: duckdb.DuckDBPyConnection, env: Mapping[str, str]) -> None:
    """Let this connection read the sandbox S3 endpoint (staging views read the lake)."""
    conn.execute(
        "create secret lake (type s3, key_id ?, secret ?, region ?, endpoint ?,"
        " url_style 'path', use_ssl false)",
        [
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_DEFAULT_REGION", "us-east-1"),
            env["LAKE_S3_ENDPOINT"],
        ],
    )


def bronze_streams(conn: duckdb.DuckDBPyConnection, lake_root: str) -> dict[str, list[str]]:
    """`source/stream` -> its Parquet files, from the lake layout."""
    root = lake_root.rstrip("/")
    if not root.startswith("s3://") and not Path(root).exists():
        return {}
    files = [
        row[0]
        for row in conn.execute(f"select file from glob('{root}/*/*/*/*.parquet')").fetchall()
    ]
    streams: dict[str, list[str]] = {}
    for file in files:
        match = BRONZE_FILE.match(file)
        if match and not match["source"].startswith("_"):
            streams.setdefault(f"{match['source']}/{match['stream']}", []).append(file)
    return dict(sorted(streams.items()))


def bronze_counts(conn: duckdb.DuckDBPyConnection, lake_root: str) -> dict[str, int]:
    counts = {}
    for stream, files in bronze_streams(conn, lake_root).items():
        listed = ", ".join(f"'{file}'" for file in files)
        counts[stream] = conn.execute(
            f"select count(*) from read_parquet([{listed}], union_by_name = true)"
        ).fetchone()[0]
    return counts


def warehouse_counts(
    warehouse_path: str | Path, prefixes: tuple[str, ...], s3_env: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Rows per model whose name starts with one of `prefixes` (e.g. 'stg_', 'fct_')."""
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        if s3_env:
            add_s3_secret(conn, s3_env)
        names = [
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables order by table_name"
            ).fetchall()
            if row[0].startswith(prefixes)
        ]
        return {
            name: conn.execute(f'select count(*) from "{name}"').fetchone()[0] for name in names
        }


def source_counts(env: Mapping[str, str]) -> dict[str, int]:
    """Rows at every source, asked of the sources themselves."""
    import json
    import urllib.request

    import psycopg

    counts: dict[str, int] = {}
    with psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
    ) as conn:
        for table in ("customers", "products", "orders", "order_items"):
            counts[f"postgres {table}"] = conn.execute(f"select count(*) from {table}").fetchone()[
                0
            ]
    with urllib.request.urlopen(f"{env['SANDBOX_STRIPE_API_BASE']}/_sandbox/stats") as response:
        objects = json.load(response)["objects"]
    for name in (
        "charges",
        "refunds",
        "customers",
        "payment_intents",
        "balance_transactions",
        "disputes",
    ):
        counts[f"stripe {name}"] = objects[name]
    with urllib.request.urlopen(f"{env['SANDBOX_CRM_API_URL']}/_sandbox/stats") as response:
        counts["crm customers (distinct)"] = json.load(response)["distinct_records"]
    manifest = json.loads((Path(env["SANDBOX_CSV_DIR"]) / "_manifest.json").read_text())
    for name, total in manifest["totals"].items():
        counts[f"csv {name} (valid rows)"] = total
    for name, total in manifest.get("json_feed", {}).get("totals", {}).items():
        counts[f"json {name} (valid records)"] = total["good_records"]
    return counts


def format_table(
    title: str, counts: Mapping[str, int], previous: Mapping[str, int] | None = None
) -> str:
    width = max([len(title), *(len(name) for name in counts)]) + 2
    header = f"{title:<{width}}{'rows':>12}" + (
        f"{'Δ vs run 1':>14}" if previous is not None else ""
    )
    lines = [header, "-" * len(header)]
    for name, count in counts.items():
        line = f"{name:<{width}}{count:>12,}"
        if previous is not None:
            line += f"{count - previous.get(name, 0):>+14,}"
        lines.append(line)
    return "\n".join(lines)
