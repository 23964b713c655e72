"""`advance`: move the sandbox's simulated day forward, one normal (or anomalous) day of
activity in every source per step.

Order of a night: the shop's rows, the Stripe charges' bookkeeping and the ground truth
commit in one Postgres transaction (status `sources_pending`); then the Stripe, CRM and
marketing journals are appended, the export files rewritten (and mirrored to S3), the
running stand-ins told to sync; then the night is `complete`. A night stopped between the
two halves is refused by the next advance (`NightInterrupted`) rather than guessed at.

The API taps bookmark the earlier of their clock and the API server's (its `Date`
header): Stripe's `created_cursor`, the CRM's `updated_since`. So with the sandbox clock
started (`start_clock`, `elt-sandbox clock --start`, before the first load) every night
moves it to `night_run_moment(day)` and a job run on the real machine right after
`advance` picks up exactly the simulated day. Without it, the stand-ins answer with the
real time, and the API taps never see a simulated day after a run at the real date.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from dataclasses import dataclass, field

import psycopg

from elt_sandbox import journal
from elt_sandbox.marketing.generate import apply_journal, build_exports, write_exports
from elt_sandbox.nights import ledger
from elt_sandbox.nights.anomalies import validate
from elt_sandbox.nights.clock import clock_path, read_clock, set_clock
from elt_sandbox.nights.crm import crm_entries
from elt_sandbox.nights.marketing import marketing_entries
from elt_sandbox.nights.plan import DEFAULT_SEED, FIRST_DAY, Volumes, volumes
from elt_sandbox.nights.shop import ShopDay
from elt_sandbox.nights.stripe import StripeDay, seeded_truth
from elt_sandbox.runtime import SandboxHome, pid_alive
from elt_sandbox.shop.seed import seeded_scale

RUN_HOUR = dt.time(0, 30)  # the nightly job runs half an hour after the simulated day


class SandboxNotUp(RuntimeError):
    """No seeded sandbox Postgres in this home."""


@dataclass
class Night:
    """What one step of `advance` made."""

    day: dt.date
    seed: int
    anomalies: list[str]
    volumes: Volumes
    truth: list[ledger.Truth] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        totals: dict[str, int] = {}
        for row in self.truth:
            key = f"{row.source}/{row.stream} {row.change}" + (
                f" ({row.origin})" if row.origin != "night" else ""
            )
            totals[key] = totals.get(key, 0) + row.rows
        return {
            "day": self.day.isoformat(),
            "seed": self.seed,
            "anomalies": self.anomalies,
            "rows": dict(sorted(totals.items())),
            "seconds": round(self.seconds, 3),
        }


def night_run_moment(day: dt.date) -> dt.datetime:
    """When the nightly job after simulated `day` runs (UTC)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), RUN_HOUR, dt.UTC)


def start_clock(home: SandboxHome | None = None) -> dt.datetime:
    """Start the sandbox clock (the stand-ins' `Date` header) at the run moment of the last
    simulated day, or of the day before the first night when none was simulated yet;
    `advance` then moves it night by night. Returns the moment set."""
    home = home or SandboxHome.default()
    with admin_connection(sandbox_env(home)) as conn:
        last = ledger.today(conn)
    moment = night_run_moment(last or FIRST_DAY - dt.timedelta(days=1))
    set_clock(clock_path(home.root), moment)
    return moment


def admin_connection(env: dict[str, str]) -> psycopg.Connection:
    conn = psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
        autocommit=True,
    )
    conn.execute("set time zone 'UTC'")
    return conn


def sandbox_env(home: SandboxHome) -> dict[str, str]:
    env = home.load_state().get("_env", {}).get("values", {})
    if "PGHOST" not in env:
        raise SandboxNotUp(f"no sandbox Postgres in {home.root}: run `elt-sandbox up` first")
    return env


def _post(home: SandboxHome, service: str, path: str) -> dict | None:
    """POST to a running stand-in of this home; None when it does not run."""
    record = home.load_state().get(service)
    if not record or not pid_alive(record.get("pid")):
        return None
    request = urllib.request.Request(f"http://127.0.0.1:{record['port']}{path}", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _seeded_late(home: SandboxHome, scale: float) -> dict:
    """The seeded Stripe objects dated after the history: from the running stand-in, or
    computed here (slower: the whole Stripe history is generated)."""
    record = home.load_state().get("stripe")
    if record and pid_alive(record.get("pid")):
        url = f"http://127.0.0.1:{record['port']}/_sandbox/seeded_late"
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.loads(response.read())
    from elt_sandbox.stripe_api.data import StripeData

    return StripeData(scale).seeded_late


class Exports:
    """The marketing files as the journal says they are; rewrites the changed ones."""

    def __init__(self, home: SandboxHome, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.path = journal.journal_path(home.root, journal.MARKETING)
        self.entries, _ = journal.read(self.path)
        self.files = {export.name: export for export in build_exports()}
        apply_journal(self.files, self.entries)

    def add(self, entries: list[dict]) -> None:
        journal.append(self.path, entries)
        self.entries += entries
        touched = apply_journal(self.files, entries)
        directory = self.env.get("SANDBOX_CSV_DIR")
        if not directory:
            return  # `elt-sandbox up --only csv` later writes them from the journal
        from pathlib import Path

        write_exports(Path(directory), self.entries, only=touched)
        if self.env.get("SANDBOX_CSV_S3_URL"):
            from elt_sandbox.services.csv_exports import S3_PREFIX
            from elt_sandbox.services.s3 import s3_client

            client = s3_client(self.env)
            for name in [*sorted(touched), "_manifest.json"]:
                client.put_object(
                    Bucket=self.env["LAKE_BUCKET"],
                    Key=S3_PREFIX + name,
                    Body=(Path(directory) / name).read_bytes(),
                )


def advance(
    home: SandboxHome | None = None,
    days: int = 1,
    seed: int | None = None,
    anomalies: list[str] | tuple[str, ...] = (),
) -> list[Night]:
    """Simulate `days` more days in every source; each carries `anomalies`."""
    home = home or SandboxHome.default()
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    names = validate(list(anomalies))
    seed = DEFAULT_SEED if seed is None else seed
    env = sandbox_env(home)
    made = []
    with admin_connection(env) as conn:
        scale = seeded_scale(conn)
        if scale is None:
            raise SandboxNotUp(f"the sandbox Postgres in {home.root} is not seeded")
        ledger.ensure_schema(conn)
        seeded_late = _seeded_late(home, scale)
        exports = Exports(home, env)
        for _ in range(days):
            made.append(_one_night(home, conn, scale, seed, names, seeded_late, exports))
    return made


def _one_night(home, conn, scale, seed, names, seeded_late, exports: Exports) -> Night:
    started = time.monotonic()
    day = ledger.next_day(conn)
    night = Night(day, seed, sorted(names), volumes(scale, day, seed, names))
    with conn.transaction():
        ledger.start_night(conn, day, seed, night.anomalies)
        shop = ShopDay(conn, day, seed, night.volumes, names).write()
        stripe = StripeDay(conn, day, seed, night.volumes, names)
        stripe_entries = stripe.write(shop)
        crm, crm_truth = crm_entries(scale, day, seed, night.volumes)
        marketing, marketing_truth = marketing_entries(day, seed, names, exports.files)
        night.truth = [
            *shop.truth,
            *stripe.truth,
            *seeded_truth(day, seeded_late),
            *crm_truth,
            *marketing_truth,
        ]
        ledger.record_truth(conn, day, night.truth)
        ledger.set_status(conn, day, "sources_pending")
    for entry in stripe_entries:
        entry["day"] = day.isoformat()
    journal.append(journal.journal_path(home.root, journal.STRIPE), stripe_entries)
    journal.append(journal.journal_path(home.root, journal.CRM), crm)
    exports.add(marketing)
    if read_clock(clock_path(home.root)) is not None:  # started: the night's run is next
        set_clock(clock_path(home.root), night_run_moment(day))
    _post(home, "stripe", "/_sandbox/sync")
    _post(home, "crm", "/_sandbox/sync")
    night.seconds = time.monotonic() - started
    ledger.set_status(conn, day, "complete", night.seconds)
    return night
