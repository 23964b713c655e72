"""Where the sandbox keeps its own bookkeeping in the shop database: schema `sandbox`.

Never the shop's `public` schema: a tap discovering the shop would otherwise catalog (and by
default select) the sandbox's tables as if they were the shop's. The taps' role has no USAGE
on this schema (`shop.roles` grants `public` only), so its tables never appear in their
catalogs. A re-seed drops the schema with everything in it (`shop.seed`).
"""

from __future__ import annotations

import psycopg

SCHEMA = "sandbox"
# Where these tables lived before they moved here; a re-seed drops them.
LEGACY_PUBLIC_TABLES = ("public._sandbox_seed", "public._sandbox_deletions")


def ensure_schema(conn: psycopg.Connection) -> None:
    conn.execute(f"create schema if not exists {SCHEMA}")
