"""`elt-sandbox up|down|status|sql|delete|advance|truth`: the local stand-ins' life cycle
and their simulated days."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome


def admin_connection(home: SandboxHome):
    """An autocommit admin connection to the shop database, or None (printed why)."""
    import psycopg

    env = home.load_state().get("_env", {}).get("values", {})
    if "PGHOST" not in env:
        print(f"no sandbox Postgres in {home.root}: run `elt-sandbox up` first", file=sys.stderr)
        return None
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
        autocommit=True,
    )


def delete_rows(home: SandboxHome, customers: int, orders: int, seed: int) -> int:
    """Delete customers (with their orders and items) and orders (with their items);
    print the deleted keys as JSON."""
    from elt_sandbox.shop.deletions import delete_customers_and_orders

    conn = admin_connection(home)
    if conn is None:
        return 1
    with conn:
        deleted = delete_customers_and_orders(conn, customers, orders, seed)
    print(json.dumps(deleted.by_table()))
    return 0


def run_sql(home: SandboxHome, query: str) -> int:
    """Print the rows of `query` tab-separated: the sandbox needs no `psql` client."""
    conn = admin_connection(home)
    if conn is None:
        return 1
    with conn:
        cursor = conn.execute(query)
        if cursor.description is not None:
            print("\t".join(column.name for column in cursor.description))
            for row in cursor:
                print("\t".join("" if value is None else str(value) for value in row))
    return 0


def advance_days(home: SandboxHome, days: int, seed: int | None, anomalies: list[str]) -> int:
    from elt_sandbox.nights.advance import advance
    from elt_sandbox.nights.anomalies import AnomalyNotPossible
    from elt_sandbox.nights.ledger import NightInterrupted

    try:
        for night in advance(home, days=days, seed=seed, anomalies=anomalies):
            print(json.dumps(night.summary()))
    except (AnomalyNotPossible, NightInterrupted, api.SandboxNotUp) as error:
        print(f"elt-sandbox advance: {error}", file=sys.stderr)
        return 1
    return 0


def print_truth(home: SandboxHome, day: str | None) -> int:
    import datetime as dt

    try:
        rows = api.ground_truth(home, dt.date.fromisoformat(day) if day else None)
    except api.SandboxNotUp as error:
        print(f"elt-sandbox truth: {error}", file=sys.stderr)
        return 1
    for row in rows:
        print(json.dumps(row, default=str))
    return 0


def sandbox_clock(home: SandboxHome, start: bool, stop: bool) -> int:
    import datetime as dt

    from elt_sandbox.nights.clock import clear_clock, clock_path, read_clock, simulated_now

    path = clock_path(home.root)
    try:
        if start:
            api.start_clock(home)
        elif stop:
            clear_clock(path)
    except api.SandboxNotUp as error:
        print(f"elt-sandbox clock: {error}", file=sys.stderr)
        return 1
    setting = read_clock(path)
    if setting is None:
        print("no sandbox clock: the stand-ins send the real time")
    else:
        now = dt.datetime.fromtimestamp(simulated_now(setting), dt.UTC)
        print(now.isoformat(timespec="seconds"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elt-sandbox", description=__doc__)
    parser.add_argument("--home", type=Path, help="sandbox directory (default .sandbox)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start and seed every stand-in, write .sandbox/env")
    up.add_argument("--scale", type=float, default=1.0, help="row-count multiplier")
    up.add_argument("--only", action="append", help="start only this service (repeatable)")
    sub.add_parser("down", help="stop everything the sandbox started")
    sub.add_parser("status", help="say what runs where")
    sql = sub.add_parser("sql", help="run SQL on the sandbox's shop database, print rows")
    sql.add_argument("query", help='e.g. "select count(*) from orders"')
    delete = sub.add_parser(
        "delete",
        help="delete customers (with their orders and items) and orders (with their items),"
        " chosen by a seed; recorded in sandbox.deletions",
    )
    delete.add_argument("--customers", type=int, default=3, help="customers to delete (3)")
    delete.add_argument("--orders", type=int, default=5, help="further orders to delete (5)")
    delete.add_argument("--seed", type=int, default=1, help="which ones (1)")
    from elt_sandbox.nights.anomalies import ANOMALIES

    adv = sub.add_parser(
        "advance",
        help="simulate the next day(s) in every source; prints each night's rows as JSON",
    )
    adv.add_argument("--days", type=int, default=1, help="days to simulate (1)")
    adv.add_argument("--seed", type=int, default=None, help="seed of the counts and values (1)")
    adv.add_argument(
        "--anomaly",
        action="append",
        default=[],
        choices=sorted(ANOMALIES),
        metavar="NAME",
        help="an upstream problem on each of these days (repeatable): "
        + ", ".join(sorted(ANOMALIES)),
    )
    clock = sub.add_parser(
        "clock",
        help="the simulated time the Stripe and CRM stand-ins send (their Date header)",
    )
    clock.add_argument(
        "--start",
        action="store_true",
        help="start it at the run moment of the last simulated day (before any: "
        "2026-01-01T00:30Z); advance moves it night by night",
    )
    clock.add_argument("--stop", action="store_true", help="send the real time again")
    truth = sub.add_parser("truth", help="print the recorded ground truth as JSON lines")
    truth.add_argument("--day", default=None, help="one night (YYYY-MM-DD); all by default")
    args = parser.parse_args(argv)

    home = SandboxHome(args.home.resolve()) if args.home else SandboxHome.default()
    if args.command == "up":
        started = time.monotonic()
        env = api.up(home, scale=args.scale, services=args.only)
        # Where the settings are, never their values: they hold passwords and keys, and
        # stdout ends up in terminals, CI logs and screen shares.
        print(f"sandbox up in {time.monotonic() - started:.1f}s", file=sys.stderr)
        print(f"settings ({', '.join(sorted(env))}) written to {home.env_file}")
        print(f"load them with: set -a && source {home.env_file} && set +a")
    elif args.command == "sql":
        return run_sql(home, args.query)
    elif args.command == "delete":
        return delete_rows(home, args.customers, args.orders, args.seed)
    elif args.command == "advance":
        return advance_days(home, args.days, args.seed, args.anomaly)
    elif args.command == "truth":
        return print_truth(home, args.day)
    elif args.command == "clock":
        return sandbox_clock(home, args.start, args.stop)
    elif args.command == "down":
        api.down(home)
        print("sandbox stopped", file=sys.stderr)
    else:
        for name, state in api.status(home).items():
            print(f"{name:12} {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
