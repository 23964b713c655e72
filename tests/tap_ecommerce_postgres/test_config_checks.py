"""Config as a value, and config mistakes that fail before the first record.

Each mistake runs the real tap against a scratch copy of the shop database and checks
that it exits non-zero with no RECORD printed and a message that names the setting and
offers the close match. The pure parts (URL precedence, the checks) are tested alone too.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_ecommerce_postgres.config_checks import (
    check_custom_streams,
    check_replication_keys,
    check_schemas,
    check_stream_options,
    did_you_mean,
)
from tap_ecommerce_postgres.connection import ConnectionParameters

from tests.singer import run_singer
from tests.tap_ecommerce_postgres.conftest import TAP, records, run_tap

ORDERS = {"public-orders": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"}}


def failed_before_any_record(config: dict, tmp_path: Path, extra: list[str] | None = None) -> str:
    """Run the tap expecting a config failure; returns its stderr."""
    run = run_singer(TAP, config, tmp_path, extra=extra, check=False)
    assert run.result.returncode != 0, run.result.stderr[-2000:]
    assert not any(m["type"] == "RECORD" for m in run.messages)
    return run.result.stderr


# -- sqlalchemy_url: its parts win unless a setting is given --------------------------------


def test_url_port_is_not_replaced_by_the_default_port(tap_config, tmp_path) -> None:
    """The sandbox listens on a random port, never 5432: the URL's port must be used."""
    url = (
        f"postgresql+psycopg://{tap_config['user']}:{tap_config['password']}"
        f"@{tap_config['host']}:{tap_config['port']}/{tap_config['database']}"
    )
    if tap_config["port"] == 5432:
        pytest.skip("the server listens on 5432 itself (PG_TEST_DSN), so a lost port is unseen")
    messages, _ = run_tap({"sqlalchemy_url": url, "schemas": ["public"]}, tmp_path)
    assert records(messages, "public-products")


def test_explicit_settings_win_over_the_url_and_defaults_come_last() -> None:
    url = "postgresql://shop:pw@db.internal:6543/shop?sslmode=require&application_name=etl"
    from_url = ConnectionParameters.from_config({"sqlalchemy_url": url})
    assert (from_url.port, from_url.sslmode, from_url.application_name) == (6543, "require", "etl")
    given = ConnectionParameters.from_config(
        {"sqlalchemy_url": url, "port": 7000, "user": "reader", "sslmode": "verify-full"}
    )
    assert (given.port, given.user, given.sslmode, given.host) == (
        7000,
        "reader",
        "verify-full",
        "db.internal",
    )
    bare = ConnectionParameters.from_config({"host": "h", "user": "u", "database": "d"})
    assert (bare.port, bare.application_name) == (5432, "tap-ecommerce-postgres")


def test_a_malformed_url_names_the_setting_not_the_password() -> None:
    with pytest.raises(ConfigValidationError) as raised:
        ConnectionParameters.from_config({"sqlalchemy_url": "postgresql://u:S3cret@h:port/db"})
    text = str(raised.value) + " ".join(raised.value.errors)
    assert "port" in text and "S3cret" not in text


# -- schemas ---------------------------------------------------------------------------------


def test_a_schemas_entry_matching_nothing_fails_with_the_close_match(tap_config, tmp_path) -> None:
    stderr = failed_before_any_record({**tap_config, "schemas": ["public", "Public"]}, tmp_path)
    assert "schemas: 'Public' is not a schema of the database (did you mean 'public'?)" in stderr


def test_a_schemas_entry_matching_nothing_fails_discovery_too(tap_config, tmp_path) -> None:
    stderr = failed_before_any_record(
        {**tap_config, "schemas": ["publik"]}, tmp_path, extra=["--discover"]
    )
    assert "schemas: 'publik'" in stderr and "'public'" in stderr
    # logged line by line as a sync does, not a traceback
    assert any(line.endswith("Config validation failed") for line in stderr.splitlines())


def test_a_schema_without_readable_tables_is_named(tap_config, scratch_conn, tmp_path) -> None:
    scratch_conn.execute("create schema if not exists empty_archive")
    stderr = failed_before_any_record({**tap_config, "schemas": ["empty_archive"]}, tmp_path)
    assert "schemas: 'empty_archive' has no table or view" in stderr


# -- stream_options --------------------------------------------------------------------------


def test_an_unknown_stream_options_stream_fails(tap_config, tmp_path) -> None:
    options = {"public-order": ORDERS["public-orders"]}
    stderr = failed_before_any_record({**tap_config, "stream_options": options}, tmp_path)
    assert "stream_options: 'public-order' is not a stream (did you mean 'public-orders'" in stderr


def test_an_unknown_option_inside_stream_options_fails(tap_config, tmp_path) -> None:
    options = {"public-orders": {"replication_method": "INCREMENTAL", "replication_kye": "x"}}
    stderr = failed_before_any_record({**tap_config, "stream_options": options}, tmp_path)
    assert "stream_options.public-orders: unknown option 'replication_kye'" in stderr
    assert "did you mean 'replication_key'" in stderr
    assert "INCREMENTAL needs a replication_key" in stderr


def test_a_replication_key_that_is_not_a_column_fails_before_other_streams(
    tap_config, tmp_path
) -> None:
    """public-products comes after customers, order_items and orders: today those were
    all sent before the key was refused."""
    options = {
        "public-products": {"replication_method": "INCREMENTAL", "replication_key": "updatedat"}
    }
    stderr = failed_before_any_record({**tap_config, "stream_options": options}, tmp_path)
    assert (
        "stream_options.public-products.replication_key: 'updatedat' is not a column of "
        "public-products (did you mean 'updated_at'"
    ) in stderr


def test_a_catalog_replication_key_that_is_not_a_column_fails_first(tap_config, tmp_path) -> None:
    discovered = subprocess.run(
        [TAP, "--config", str(_write(tmp_path, "discover.json", tap_config)), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
                if stream["tap_stream_id"] == "public-products":
                    entry["metadata"]["replication-method"] = "INCREMENTAL"
                    entry["metadata"]["replication-key"] = "modified"
        if stream["tap_stream_id"] == "public-products":
            stream["replication_key"] = "modified"
            stream["replication_method"] = "INCREMENTAL"
    catalog_file = _write(tmp_path, "catalog.json", catalog)
    stderr = failed_before_any_record(tap_config, tmp_path, extra=["--catalog", str(catalog_file)])
    assert "replication key 'modified' of stream 'public-products' is not a column" in stderr


# -- custom streams --------------------------------------------------------------------------

DAILY = {
    "name": "daily_revenue",
    "sql": "select cast(order_date as date) as day, sum(total_amount) as revenue"
    " from orders group by 1",
    "key_properties": ["day"],
}


def test_a_custom_stream_key_that_is_not_a_column_fails(tap_config, tmp_path) -> None:
    config = {
        **tap_config,
        "custom_streams": [{**DAILY, "replication_key": "date", "key_properties": ["days"]}],
    }
    stderr = failed_before_any_record(config, tmp_path)
    assert "custom_streams[0].replication_key: 'date' is not a column of the query" in stderr
    assert "custom_streams[0].key_properties: 'days' is not a column" in stderr
    assert "did you mean 'day'" in stderr


def test_stream_options_apply_to_a_custom_stream_by_its_name(tap_config, tmp_path) -> None:
    """Before, a custom stream was looked up as '-daily_revenue' and its options ignored."""
    config = {
        **tap_config,
        "schemas": [],
        "custom_streams": [DAILY],
        "stream_options": {
            "daily_revenue": {"replication_method": "INCREMENTAL", "replication_key": "day"}
        },
    }
    messages, _ = run_tap(config, tmp_path)
    bookmark = [m["value"] for m in messages if m["type"] == "STATE"][-1]["bookmarks"]
    assert bookmark["daily_revenue"]["replication_key"] == "day"
    assert not [m for m in messages if m["type"] == "RECORD" and m["stream"] != "daily_revenue"]


# -- the pure checks -------------------------------------------------------------------------


def test_close_matches_and_the_known_names_when_nothing_is_close() -> None:
    assert did_you_mean("updatedat", ["updated_at", "order_id"]) == " (did you mean 'updated_at'?)"
    assert did_you_mean("PUBLIC", ["public", "audit"]) == " (did you mean 'public'?)"
    assert did_you_mean("zzz", ["public", "audit"]) == " (known: 'audit', 'public')"


def test_checks_return_every_mistake_and_nothing_for_a_good_config() -> None:
    columns = {"public-orders": ["order_id", "updated_at"]}
    known = ["replication_method", "replication_key"]
    assert check_stream_options(ORDERS, columns, known) == []
    assert check_schemas(["public"], ["public"], ["public"], "u") == []
    assert check_custom_streams([DAILY], [["day", "revenue"]], columns) == []
    assert check_replication_keys({"public-orders": ("updated_at", columns["public-orders"])}) == []
    bad = {"public-orders": {"replication_key": "updated"}, "orders": {}}
    assert len(check_stream_options(bad, columns, known)) == 2
    assert check_custom_streams([{**DAILY, "name": "public-orders"}], [["day"]], columns) == [
        "custom_streams[0].name: 'public-orders' is already a stream"
    ]


def _write(tmp_path: Path, name: str, value: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return path
