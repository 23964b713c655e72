"""Replica identities change capture can represent, checked before anything is published.

pgoutput sends an UPDATE's and a DELETE's old key by the table's replica identity, and
once a table is in a publication Postgres *refuses* the shop's own UPDATEs and DELETEs
on it when that identity is unusable. So a table whose identity cannot give the
stream's key is refused here, before a publication or slot exists, with the
`ALTER TABLE ... REPLICA IDENTITY ...` that fixes it:

- `REPLICA IDENTITY NOTHING`: no old key at all (the shop's UPDATE and DELETE fail);
- `DEFAULT` over a deferrable primary key, or no primary key: no identity either
  (a deferrable key is not a replica identity);
- `USING INDEX` on a unique index that is not the primary key: deletes carry that
  index's columns and a NULL primary key, so a deleted row would stay downstream.

A partitioned table's changes happen in its partitions: each of them is checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from tap_ecommerce_postgres.cdc.slot import LogBasedError

IDENTITY_SQL = """
with target as (select %s::regclass::oid as oid)
select rel.oid::regclass::text, rel.relreplident,
       (select i.indimmediate from pg_index i where i.indrelid = rel.oid and i.indisprimary),
       (select array_agg(a.attname::text order by a.attname)
          from pg_index i join pg_attribute a
            on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
         where i.indrelid = rel.oid and i.indisreplident),
       (select i.indexrelid::regclass::text from pg_index i
         where i.indrelid = rel.oid and i.indisreplident)
from target, pg_class rel
where rel.oid in (
    select relid from pg_partition_tree((select oid from target)) where isleaf
    union select oid from target where (select relkind from pg_class where oid = target.oid) <> 'p'
)
order by 1
"""


def check_replica_identity(
    conn: psycopg.Connection, relation: sql.Composable, primary_key: Sequence[str]
) -> None:
    """Raise LogBasedError naming the table and the fix when its replica identity cannot
    give the stream's key (see the module docstring)."""
    problems = []
    for table, identity, immediate, index_columns, index in conn.execute(
        IDENTITY_SQL, [relation.as_string(conn)]
    ):
        usable_key = immediate is True  # None: no primary key; False: deferrable
        fix = "DEFAULT" if usable_key else "FULL"
        if identity == "n":
            problems.append(
                f"{table} has REPLICA IDENTITY NOTHING: its UPDATEs and DELETEs carry no key "
                f"(and fail once it is published); run ALTER TABLE {table} REPLICA IDENTITY {fix}"
            )
        elif identity == "d" and not usable_key:
            why = "its primary key is deferrable" if immediate is False else "it has no primary key"
            problems.append(
                f"{table} has REPLICA IDENTITY DEFAULT but {why}, which is no replica identity "
                f"(its UPDATEs and DELETEs fail once it is published); run ALTER TABLE {table} "
                "REPLICA IDENTITY FULL"
            )
        elif identity == "i" and sorted(index_columns or []) != sorted(primary_key):
            problems.append(
                f"{table} has REPLICA IDENTITY USING INDEX {index} ({', '.join(index_columns)}), "
                f"not the stream's key ({', '.join(primary_key)}): its deletes would carry no "
                f"key; run ALTER TABLE {table} REPLICA IDENTITY {fix}"
            )
    if problems:
        raise LogBasedError("; ".join(problems))
