"""The sandbox's own bookkeeping in the shop database: schema `sandbox`, never `public`.

`sandbox.nights` is the clock (the last complete night is the simulated today) and says
how each night was made (seed, anomalies, status, seconds); `sandbox.truth` holds the
ground truth of each night: rows created, updated or deleted per source, stream and event
day, with their money sum, so tests and the monitor's scenario suite can reconcile;
`sandbox.stripe_charges` remembers the nights' charges, from which later nights refund and
dispute (`elt_sandbox.bookkeeping`; the seed marker and the deletions live there too). Only
the admin role reads the schema: the taps' role has no USAGE on it, so
it never appears in their catalogs. A re-seed drops it (`shop.seed`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import psycopg

from elt_sandbox.bookkeeping import SCHEMA
from elt_sandbox.nights.plan import FIRST_DAY

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.nights (
    day          date primary key,
    seed         bigint not null,
    anomalies    text[] not null,
    status       text not null,  -- writing | sources_pending | complete
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    seconds      numeric(10, 3)
);
create table if not exists {SCHEMA}.truth (
    day        date not null references {SCHEMA}.nights on delete cascade,
    source     text not null,     -- shop | stripe | crm | marketing
    stream     text not null,     -- the tap's stream (table, resource, export)
    change     text not null,     -- insert | update | delete | emptied
    origin     text not null,     -- night | seeded (seeded objects dated in this night)
    event_day  date,
    rows       integer not null,
    amount     numeric(18, 2),    -- money sum of the rows, in `currency`
    currency   text,
    detail     text
);
create table if not exists {SCHEMA}.stripe_charges (
    charge_id      text primary key,
    order_id       integer not null,
    customer_id    integer not null,
    created        timestamptz not null,
    amount_cents   bigint not null,
    currency       text not null,
    failed         boolean not null,
    refunded_cents bigint not null default 0,
    disputed       boolean not null default false,
    orphan         boolean not null default false
);
"""


@dataclass(frozen=True)
class Truth:
    """One ground-truth row: `rows` rows of `stream` with `event_day` were changed so."""

    source: str
    stream: str
    change: str
    event_day: dt.date | None
    rows: int
    amount: Decimal | None = None
    currency: str | None = None
    detail: str | None = None
    origin: str = "night"


class NightInterrupted(RuntimeError):
    """An earlier advance stopped between the shop's commit and the other sources."""


def ensure_schema(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def today(conn: psycopg.Connection) -> dt.date | None:
    """The last complete simulated day, None before the first night."""
    ensure_schema(conn)
    interrupted = conn.execute(
        f"select day, status from {SCHEMA}.nights where status <> 'complete' order by day"
    ).fetchone()
    if interrupted:
        raise NightInterrupted(
            f"simulated night {interrupted[0]} stopped half-way (status {interrupted[1]}):"
            " the shop may hold it while Stripe, the CRM or the exports do not. Re-seed the"
            " sandbox (`elt-sandbox down`, delete its directory, `elt-sandbox up`)."
        )
    return conn.execute(f"select max(day) from {SCHEMA}.nights").fetchone()[0]


def next_day(conn: psycopg.Connection) -> dt.date:
    last = today(conn)
    return FIRST_DAY if last is None else last + dt.timedelta(days=1)


def start_night(conn: psycopg.Connection, day: dt.date, seed: int, anomalies: list[str]) -> None:
    conn.execute(
        f"insert into {SCHEMA}.nights (day, seed, anomalies, status)"
        " values (%s, %s, %s, 'writing')",
        [day, seed, sorted(anomalies)],
    )


def set_status(
    conn: psycopg.Connection, day: dt.date, status: str, seconds: float | None = None
) -> None:
    conn.execute(
        f"update {SCHEMA}.nights set status = %s, seconds = %s,"
        " finished_at = case when %s = 'complete' then now() end where day = %s",
        [status, seconds, status, day],
    )


def record_truth(conn: psycopg.Connection, day: dt.date, rows: list[Truth]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into {SCHEMA}.truth (day, source, stream, change, origin, event_day, rows,"
            " amount, currency, detail) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    day,
                    t.source,
                    t.stream,
                    t.change,
                    t.origin,
                    t.event_day,
                    t.rows,
                    t.amount,
                    t.currency,
                    t.detail,
                )
                for t in rows
                if t.rows
            ],
        )


def truth(conn: psycopg.Connection, day: dt.date | None = None) -> list[dict]:
    """Ground-truth rows (of one night, or all), as dicts."""
    ensure_schema(conn)
    cursor = conn.execute(
        f"select day, source, stream, change, origin, event_day, rows, amount, currency, detail"
        f" from {SCHEMA}.truth where %s::date is null or day = %s"
        " order by day, source, stream, change, origin, event_day, currency, detail",
        [day, day],
    )
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def nights(conn: psycopg.Connection) -> list[dict]:
    ensure_schema(conn)
    cursor = conn.execute(
        f"select day, seed, anomalies, status, seconds from {SCHEMA}.nights order by day"
    )
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]
