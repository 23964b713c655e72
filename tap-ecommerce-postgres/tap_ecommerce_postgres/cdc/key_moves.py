"""Keys that hold two rows inside a transaction: a DEFERRABLE primary key.

Staging applies a key's changes in `_sdc_lsn` order, the last one wins. With an
immediate primary key that is exact: a key holds at most one row at any moment, so its
changes alternate between a row arriving (insert, update, the new key of a key change)
and the row leaving (delete, the old key of a key change), and the last change says
what the key holds at commit. A deferrable key is checked at commit only, and inside a
transaction a key may hold two rows: `update t set id = id + 1` moves row 1 to key 2
before row 2 leaves it, so key 2's last change is a row leaving, yet row 1 holds it at
commit (9 of 10 rows were lost downstream). Which of two rows left cannot be told from a
key, so for every key that received a row and later lost one in the same transaction
the tap reads the key's row after the transaction and emits it as the key's final
change of that transaction (the current row as an update, or a delete when the key is
empty now), with the commit record's LSN as `_sdc_lsn`: after every change of the
transaction and before any later one, and never equal to another change's position.
A later change of the key, if any, comes after it and wins, so the row read "too late"
never outlives the truth.

Tracking costs one set entry per key that received a row in the transaction; it runs
only for tables whose primary key is deferrable (`for_table` returns None otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg
from psycopg import sql

from tap_ecommerce_postgres.cdc.changes import RowChange, key_positions
from tap_ecommerce_postgres.cdc.pgoutput import Relation

DEFERRABLE_KEY_SQL = (
    "select coalesce(bool_or(condeferrable), false) from pg_constraint"
    " where conrelid = %s::regclass and contype = 'p'"
)


def for_table(
    conn: psycopg.Connection, relation_sql: sql.Composable, primary_key: Sequence[str]
) -> KeyMoves | None:
    """A tracker when the table's primary key is deferrable, else None."""
    (deferrable,) = conn.execute(DEFERRABLE_KEY_SQL, [relation_sql.as_string(conn)]).fetchone()
    return KeyMoves(relation_sql, primary_key) if deferrable else None


class KeyMoves:
    """The keys of one transaction (fed chunk by chunk) that need a final change."""

    def __init__(self, relation_sql: sql.Composable, primary_key: Sequence[str]) -> None:
        self.relation_sql = relation_sql
        self.primary_key = list(primary_key)
        self._arrived: set[tuple] = set()
        self._unsettled: dict[tuple, RowChange] = {}  # key -> the change that emptied it

    def note(self, changes: Sequence[RowChange]) -> None:
        for change in changes:
            positions = key_positions(change.relation, self.primary_key)
            key = tuple(change.values[i] for i in positions)
            if change.kind != "delete":
                self._arrived.add(key)
            elif key in self._arrived:
                self._unsettled[key] = change

    def settle(self, conn: psycopg.Connection, commit_lsn: int) -> list[RowChange]:
        """The final change of every unsettled key (the transaction has ended)."""
        unsettled, self._unsettled, self._arrived = self._unsettled, {}, set()
        if not unsettled:
            return []
        by_relation: dict[int, tuple[Relation, list[tuple]]] = {}
        for key, change in unsettled.items():
            by_relation.setdefault(id(change.relation), (change.relation, []))[1].append(key)
        settled = []
        for relation, keys in by_relation.values():
            rows = self._current_rows(conn, relation, keys)
            for key in keys:
                row = rows.get(key)
                if row is not None:
                    settled.append(RowChange("update", relation, row, commit_lsn))
                else:
                    gone = unsettled[key]
                    settled.append(
                        RowChange("delete", relation, gone.values, commit_lsn, gone.deleted_at)
                    )
        return settled

    def _current_rows(
        self, conn: psycopg.Connection, relation: Relation, keys: list[tuple]
    ) -> dict[tuple, tuple]:
        """The rows of these keys now, as pgoutput's text values by key (typed key
        comparison: the primary key's index serves it)."""
        positions = key_positions(relation, self.primary_key)
        columns = relation.columns
        types = [
            row[0]
            for row in conn.execute(
                "select format_type(t.oid, t.typmod) from unnest(%s::oid[], %s::int4[])"
                " with ordinality as t(oid, typmod, n) order by t.n",
                [
                    [columns[i].type_oid for i in positions],
                    [columns[i].type_modifier for i in positions],
                ],
            )
        ]
        query = sql.SQL(
            "select {cols} from {rel} where ({key}) in"
            " (select {typed} from json_array_elements(%s::json) as input(v))"
        ).format(
            cols=sql.SQL(", ").join(
                sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in columns
            ),
            rel=self.relation_sql,
            key=sql.SQL(", ").join(sql.Identifier(columns[i].name) for i in positions),
            typed=sql.SQL(", ").join(
                sql.SQL("(input.v->>{})::{}").format(sql.Literal(n), sql.SQL(type_name))
                for n, type_name in enumerate(types)  # format_type(): quoted by Postgres
            ),
        )
        payload = json.dumps([[v.decode() for v in key] for key in keys], ensure_ascii=False)
        found = {}
        for row in conn.execute(query, [payload]).fetchall():
            values = tuple(None if v is None else v.encode() for v in row)
            found[tuple(values[i] for i in positions)] = values
        return found
