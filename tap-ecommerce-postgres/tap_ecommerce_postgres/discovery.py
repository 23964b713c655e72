"""Find the tables and views of the configured schemas, and the shape of custom queries."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from tap_ecommerce_postgres.type_mapping import UDT_TO_TYPE, Column

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

COLUMNS_SQL = """
select c.table_schema, c.table_name, t.table_type, c.column_name, c.data_type, c.udt_name,
       c.is_nullable = 'YES', c.numeric_precision, c.numeric_scale,
       col_description(rel.oid, a.attnum), obj_description(rel.oid, 'pg_class')
from information_schema.columns c
join information_schema.tables t using (table_schema, table_name)
join pg_namespace ns on ns.nspname = c.table_schema
join pg_class rel on rel.relnamespace = ns.oid and rel.relname = c.table_name
join pg_attribute a on a.attrelid = rel.oid and a.attname = c.column_name
where c.table_schema <> all(%(system)s)
  and (%(schemas)s::text[] is null or c.table_schema = any(%(schemas)s::text[]))
order by c.table_schema, c.table_name, c.ordinal_position
"""

PRIMARY_KEYS_SQL = """
select n.nspname, c.relname, a.attname
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
join lateral unnest(i.indkey) with ordinality as k(attnum, ord) on true
join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
where i.indisprimary and n.nspname <> all(%(system)s)
order by n.nspname, c.relname, k.ord
"""


@dataclass
class TableInfo:
    schema: str
    name: str
    is_view: bool = False
    description: str | None = None
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)

    @property
    def stream_name(self) -> str:
        """`<schema>-<table>`; a custom query (no schema) is named by its own name."""
        return f"{self.schema}-{self.name}" if self.schema else self.name

    def relation(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)


SCHEMAS_SQL = """
select nspname from pg_namespace
where nspname <> all(%(system)s) and nspname not like 'pg\\_temp\\_%%'
  and nspname not like 'pg\\_toast\\_temp\\_%%'
"""


def list_schemas(conn: psycopg.Connection) -> list[str]:
    """Every user schema of the database (visible to any role, readable or not)."""
    return [row[0] for row in conn.execute(SCHEMAS_SQL, {"system": list(SYSTEM_SCHEMAS)})]


def discover_tables(conn: psycopg.Connection, schemas: list[str] | None) -> list[TableInfo]:
    """Tables and views with the role's readable columns; `schemas=None` means every user
    schema and `[]` none (only custom streams)."""
    if schemas is not None and not schemas:
        return []
    tables: dict[tuple[str, str], TableInfo] = {}
    params = {"system": list(SYSTEM_SCHEMAS), "schemas": schemas}
    for row in conn.execute(COLUMNS_SQL, params):
        schema, name, table_type, column, data_type, udt, is_null, prec, scale, comment, doc = row
        info = tables.setdefault(
            (schema, name),
            TableInfo(schema, name, is_view=table_type == "VIEW", description=doc),
        )
        info.columns.append(Column(column, data_type, udt, is_null, prec, scale, comment))
    for schema, name, column in conn.execute(PRIMARY_KEYS_SQL, {"system": list(SYSTEM_SCHEMAS)}):
        if (schema, name) in tables:
            tables[(schema, name)].primary_key.append(column)
    return list(tables.values())


def describe_query(conn: psycopg.Connection, query: str) -> list[Column]:
    """Columns of a custom query, read from its result description (no rows fetched)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("set transaction read only")
        cur.execute(sql.SQL("select * from ({}) as q limit 0").format(sql.SQL(query)))
        described = cur.description or []
        oids = [column.type_code for column in described]
        names = dict(
            conn.execute(
                "select t.oid, coalesce(e.typname, t.typname) || case when t.typelem <> 0 "
                "and t.typcategory = 'A' then '[]' else '' end "
                "from pg_type t left join pg_type e on e.oid = t.typelem and t.typcategory = 'A' "
                "where t.oid = any(%s)",
                (oids,),
            ).fetchall()
        )
    columns = []
    for column in described:
        type_name = names.get(column.type_code, "text")
        is_array = type_name.endswith("[]")
        base = UDT_TO_TYPE.get(type_name.removesuffix("[]"), type_name.removesuffix("[]"))
        columns.append(
            Column(
                name=column.name,
                data_type="ARRAY" if is_array else base,
                udt_name=f"_{base}" if is_array else base,
                nullable=True,
                precision=column.precision if base == "numeric" else None,
                scale=column.scale if base == "numeric" else None,
            )
        )
    return columns
