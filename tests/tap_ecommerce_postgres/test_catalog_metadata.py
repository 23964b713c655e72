"""A discovered catalog advertises what each stream supports (replication methods and keys,
key properties, view or table) and holds no sandbox bookkeeping table."""

from __future__ import annotations

import pytest
from elt_sandbox.shop.deletions import delete_customers_and_orders
from elt_sandbox.shop.roles import grant_statements
from elt_sandbox.shop.seed import TABLES
from tap_ecommerce_postgres.catalog_metadata import replication_keys
from tap_ecommerce_postgres.type_mapping import Column

from tests.tap_ecommerce_postgres.catalogs import discover

SHOP_STREAMS = {f"public-{table}" for table in TABLES}


def _roots(catalog: dict) -> dict[str, dict]:
    return {
        entry["tap_stream_id"]: next(
            m["metadata"] for m in entry["metadata"] if not m["breadcrumb"]
        )
        for entry in catalog["streams"]
    }


def _columns(catalog: dict, stream: str) -> dict[str, dict]:
    (entry,) = [e for e in catalog["streams"] if e["tap_stream_id"] == stream]
    return {m["breadcrumb"][-1]: m["metadata"] for m in entry["metadata"] if m["breadcrumb"]}


def test_tables_advertise_their_methods_keys_and_kind(tap_config, scratch_db, tmp_path) -> None:
    catalog = discover(tap_config, tmp_path)
    roots = _roots(catalog)
    orders = roots["public-orders"]
    assert orders["table-key-properties"] == ["order_id"]
    assert orders["valid-replication-methods"] == ["FULL_TABLE", "INCREMENTAL", "LOG_BASED"]
    assert orders["valid-replication-keys"] == [
        "order_id",
        "customer_id",
        "order_date",
        "total_amount",
        "created_at",
        "updated_at",
    ]
    assert orders["schema-name"] == "public"
    assert orders["database-name"] == scratch_db
    assert orders["is-view"] is False
    assert orders["inclusion"] == "available"
    assert orders["selected-by-default"] is True
    assert "forced-replication-method" not in orders  # nothing forces one
    columns = _columns(catalog, "public-orders")
    assert columns["order_id"]["inclusion"] == "automatic"
    assert columns["updated_at"]["inclusion"] == "available"  # a key the user may deselect


def test_a_view_and_a_keyless_table_cannot_be_log_based(tap_config, scratch_conn, tmp_path) -> None:
    scratch_conn.execute(
        "create or replace view order_totals as select order_id, total_amount, status from orders"
    )
    scratch_conn.execute("create table if not exists notes (body text, weight real)")
    try:
        roots = _roots(discover(tap_config, tmp_path))
    finally:
        scratch_conn.execute("drop view order_totals; drop table notes")
    view = roots["public-order_totals"]
    assert view["is-view"] is True
    assert view["valid-replication-methods"] == ["FULL_TABLE", "INCREMENTAL"]
    assert view["valid-replication-keys"] == ["order_id", "total_amount"]
    notes = roots["public-notes"]
    assert notes["valid-replication-methods"] == ["FULL_TABLE"]
    assert notes["valid-replication-keys"] == []
    assert notes["table-key-properties"] == []


def test_a_forced_log_based_stream_says_so(tap_config, tmp_path) -> None:
    config = {
        **tap_config,
        "stream_options": {"public-orders": {"replication_method": "LOG_BASED"}},
    }
    roots = _roots(discover(config, tmp_path))
    assert roots["public-orders"]["forced-replication-method"] == "LOG_BASED"
    assert "forced-replication-method" not in roots["public-customers"]


def test_custom_query_streams_advertise_keys_but_not_log_based(tap_config, tmp_path) -> None:
    query = "select order_id, created_at, status from orders"
    config = {
        **tap_config,
        "schemas": [],
        "custom_streams": [{"name": "recent", "sql": query, "key_properties": ["order_id"]}],
    }
    recent = _roots(discover(config, tmp_path))["recent"]
    assert recent["valid-replication-methods"] == ["FULL_TABLE", "INCREMENTAL"]
    assert recent["valid-replication-keys"] == ["order_id", "created_at"]
    assert "is-view" not in recent and "schema-name" not in recent


@pytest.mark.parametrize(
    ("column", "valid"),
    [
        (Column("k", "integer", "int4"), True),
        (Column("k", "bigint", "int8"), True),
        (Column("k", "numeric", "numeric"), True),
        (Column("k", "date", "date"), True),
        (Column("k", "timestamp with time zone", "timestamptz"), True),
        (Column("k", "timestamp without time zone", "timestamp"), True),
        (Column("k", "real", "float4"), False),
        (Column("k", "text", "text"), False),
        (Column("k", "boolean", "bool"), False),
        (Column("k", "jsonb", "jsonb"), False),
        (Column("k", "ARRAY", "_int4"), False),
    ],
)
def test_replication_keys_are_exact_ordered_scalars(column, valid) -> None:
    assert replication_keys([column]) == (["k"] if valid else [])


def test_no_sandbox_table_sits_in_the_shop_schema_or_the_tap_role_catalog(
    pg_env, tap_config, scratch_db, scratch_conn, tmp_path
) -> None:
    """The seed marker and the deletions live in schema `sandbox`; the shop's `public` holds
    the shop's tables only, and the extraction role, discovering every schema it may, finds
    exactly the shop's four tables, all selected."""
    delete_customers_and_orders(scratch_conn, customers=1, orders=1, seed=7)
    for table in ("sandbox.seed", "sandbox.deletions"):
        assert scratch_conn.execute("select to_regclass(%s)", [table]).fetchone()[0] is not None
    public = {
        row[0]
        for row in scratch_conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        )
    }
    assert not {name for name in public if name.startswith("_sandbox")}
    admin_streams = set(_roots(discover(tap_config, tmp_path)))  # schemas: [public]
    assert not {name for name in admin_streams if "sandbox" in name}

    if pg_env["TAP_PG_USER"] == pg_env["PGUSER"]:
        pytest.skip("the server's user may not create roles: no separate extraction role")
    for statement in grant_statements(scratch_db, pg_env["TAP_PG_USER"]):
        scratch_conn.execute(statement)
    config = {k: v for k, v in tap_config.items() if k != "schemas"}
    config |= {"user": pg_env["TAP_PG_USER"], "password": pg_env["TAP_PG_PASSWORD"]}
    roots = _roots(discover(config, tmp_path))
    assert set(roots) == SHOP_STREAMS
    assert all(root["selected"] for root in roots.values())
