"""The sandbox starts, seeds exact and deterministic messy data, and serves S3."""

from __future__ import annotations

import io
import shlex
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome, pid_alive
from elt_sandbox.services.s3 import s3_client
from elt_sandbox.shop.generate import expected_counts
from elt_sandbox.shop.seed import seed, table_fingerprints

from tests.conftest import TEST_SCALE


def test_seeds_exact_counts_for_scale(pg_conn: psycopg.Connection) -> None:
    expected = expected_counts(TEST_SCALE)
    for table, count in expected.items():
        assert pg_conn.execute(f"select count(*) from {table}").fetchone()[0] == count, table


def test_full_scale_counts_match_the_issue() -> None:
    assert expected_counts(1) == {
        "customers": 50_000,
        "products": 200,
        "orders": 100_000,
        "order_items": 250_000,
    }


def test_seeding_is_deterministic(pg_env: dict[str, str], pg_conn: psycopg.Connection) -> None:
    """A second seed, into a database of its own, equals the session's shop. (Seeding the
    shop again dropped and recreated its tables under the LOG_BASED publications and slots
    that end-to-end runners of the same session had made: their next run failed.)"""
    name = f"seed_again_{uuid.uuid4().hex[:8]}"
    settings = {
        "host": pg_env["PGHOST"],
        "port": pg_env["PGPORT"],
        "user": pg_env["PGUSER"],
        "password": pg_env["PGPASSWORD"],
    }
    with psycopg.connect(**settings, dbname="postgres", autocommit=True) as server:
        server.execute(f'create database "{name}"')
    try:
        with psycopg.connect(**settings, dbname=name, autocommit=True) as again:
            seed(again, TEST_SCALE)
            assert table_fingerprints(again) == table_fingerprints(pg_conn)
    finally:
        with psycopg.connect(**settings, dbname="postgres", autocommit=True) as server:
            server.execute(f'drop database "{name}" with (force)')


def test_messy_cases_are_present(pg_conn: psycopg.Connection) -> None:
    def scalar(sql: str):
        return pg_conn.execute(sql).fetchone()[0]

    null_phone_share = scalar("select avg((phone is null)::int) from customers")
    assert 0.2 < null_phone_share < 0.4
    states = {row[0] for row in pg_conn.execute("select distinct state from customers")}
    assert any(len(s) == 2 and s.isupper() for s in states)
    assert any(len(s) > 2 for s in states)
    assert any(s.islower() for s in states)
    countries = {row[0] for row in pg_conn.execute("select distinct country from customers")}
    assert {"US", "USA", "United States"} <= countries
    statuses = {row[0] for row in pg_conn.execute("select distinct status from orders")}
    assert {"completed", "shipped", "cancelled", "pending_review"} <= statuses
    assert scalar("select count(*) from products where cost is null") >= 1
    assert scalar("select count(*) from products where cost < 0") >= 1
    assert scalar("select count(*) from orders where updated_at > created_at") > 0
    assert scalar("select count(*) from customers where updated_at > created_at") > 0
    column_type = scalar(
        "select data_type from information_schema.columns "
        "where table_name = 'orders' and column_name = 'order_date'"
    )
    assert column_type == "timestamp without time zone"


def test_order_totals_equal_sum_of_items(pg_conn: psycopg.Connection) -> None:
    mismatches = pg_conn.execute(
        """select count(*) from orders o
           join (select order_id, sum(line_total) s from order_items group by 1) i using (order_id)
           where o.total_amount <> i.s"""
    ).fetchone()[0]
    assert mismatches == 0
    total = pg_conn.execute("select sum(total_amount) from orders").fetchone()[0]
    assert isinstance(total, Decimal) and total > 0


def test_s3_endpoint_round_trips_parquet(s3_env: dict[str, str]) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "amount": pa.array([Decimal("1.10"), None, Decimal("-3.33")], pa.decimal128(12, 2)),
            "name": ["ä", "b", None],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client = s3_client(s3_env)
    client.put_object(Bucket=s3_env["LAKE_BUCKET"], Key="probe/t.parquet", Body=buffer.getvalue())
    body = client.get_object(Bucket=s3_env["LAKE_BUCKET"], Key="probe/t.parquet")["Body"].read()
    assert body == buffer.getvalue()
    assert pq.read_table(io.BytesIO(body)).equals(table)


@pytest.mark.slow
def test_up_is_idempotent_and_down_stops_everything(service_dir: Path) -> None:
    home = SandboxHome(service_dir / "sbx")
    env = api.up(home, scale=0.001, services=["postgres", "s3"])
    pids = [record["pid"] for name, record in home.load_state().items() if name != "_env"]
    assert all(pid_alive(pid) for pid in pids)
    assert api.up(home, scale=0.001, services=["postgres", "s3"]) == env
    assert "PGPORT=" in home.env_file.read_text()
    api.down(home)
    assert not any(pid_alive(pid) for pid in pids)
    assert set(api.status(home).values()) == {"stopped"}


@pytest.mark.slow
def test_up_says_where_the_settings_are_and_prints_no_secret(service_dir: Path) -> None:
    """`elt-sandbox up` output lands in terminals and CI logs: the env file's path, not its
    passwords and keys."""
    home = service_dir / "sbx"
    cli = [str(Path(sys.executable).parent / "elt-sandbox"), "--home", str(home)]
    try:
        result = subprocess.run(
            [*cli, "up", "--scale", "0.001", "--only", "postgres", "--only", "s3"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        settings = dict(
            word.split("=", 1)
            for word in shlex.split(SandboxHome(home).env_file.read_text())
            if "=" in word
        )
        secrets = {
            name: value
            for name, value in settings.items()
            if any(word in name for word in ("PASSWORD", "SECRET", "KEY", "TOKEN"))
        }
        assert {"PGPASSWORD", "AWS_SECRET_ACCESS_KEY"} <= set(secrets)
        output = result.stdout + result.stderr
        for name, value in secrets.items():
            assert value not in output, f"{name}'s value printed"
        assert str(SandboxHome(home).env_file) in result.stdout
    finally:
        subprocess.run([*cli, "down"], capture_output=True, timeout=120)


def test_sql_subcommand_reads_the_shop_database_without_psql(sandbox_home, pg_env) -> None:
    """The README's sandbox example: `elt-sandbox sql` instead of a psql client."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "elt-sandbox"),
            "--home",
            str(sandbox_home.root),
            "sql",
            "select count(*) as orders, sum(total_amount) as total from orders",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split("\t") == ["orders", "total"]
    orders, total = row.split("\t")
    assert int(orders) == expected_counts(TEST_SCALE)["orders"]
    assert Decimal(total) > 0


def test_the_json_feed_is_deterministic_and_its_manifest_adds_up(csv_env, s3_env) -> None:
    """The feed's manifest, recomputed from the files themselves (lines and array items
    parsed here with Decimal), and its S3 mirror byte for byte."""
    import gzip
    import json

    from elt_sandbox.marketing.json_feed import FEED_BAD, build_feed

    directory = Path(csv_env["SANDBOX_CSV_DIR"])
    manifest = json.loads((directory / "_manifest.json").read_text())["json_feed"]
    assert [f.render() for f in build_feed()] == [f.render() for f in build_feed()]
    bad = {(name, b["position"]) for name, e in manifest["files"].items() for b in e["bad_records"]}
    assert len(bad) == len(FEED_BAD) == 9
    client = s3_client(s3_env)
    for name, entry in manifest["files"].items():
        data = (directory / name).read_bytes()
        key = f"exports/marketing/{name}"
        assert client.get_object(Bucket=s3_env["LAKE_BUCKET"], Key=key)["Body"].read() == data
        text = (gzip.decompress(data) if name.endswith(".gz") else data).decode()
        if entry["stream"] == "budget_plan":
            items = text.split("[\n", 1)[1].rsplit("\n]", 1)[0].split(",\n")
            money = "planned_budget"
        else:
            items, money = text.splitlines(), "cost"
        good = [
            json.loads(item, parse_float=Decimal)
            for position, item in enumerate(items, start=1)
            if (name, position) not in bad
        ]
        assert len(items) == entry["records"] and len(good) == entry["good_records"], name
        assert sum(r[money] for r in good) == Decimal(entry["money_total"]), name
