"""The README's first command: bring the sandbox up and run the pipeline end to end.

For now (foundation only) it starts and seeds the sandbox and prints the source counts;
the Meltano/dbt pipeline is added by the plugin and transform work.
"""

from __future__ import annotations

import argparse
import time

import psycopg
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.shop.seed import TABLES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    started = time.monotonic()
    print(f"[demo] starting the sandbox at scale {args.scale} ...", flush=True)
    env = api.up(SandboxHome.default(), scale=args.scale)
    print(f"[demo] sandbox up in {time.monotonic() - started:.1f}s", flush=True)
    with psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
    ) as conn:
        print(f"{'source table':<20}{'rows':>10}")
        for table in TABLES:
            count = conn.execute(f"select count(*) from {table}").fetchone()[0]
            print(f"{table:<20}{count:>10,}")
    print("[demo] the extract-load-transform steps are not wired in yet (see the issues).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
