"""Start, stop and inspect a sandbox from Python (the CLI and the test fixtures use this)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

from elt_sandbox.nights.advance import SandboxNotUp
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.services import all_services, by_name
from elt_sandbox.shop.generate import SHOP_CACHE_ENV

__all__ = [
    "SandboxNotUp",
    "advance",
    "down",
    "ground_truth",
    "start_clock",
    "status",
    "today",
    "up",
]


def up(
    home: SandboxHome | None = None, scale: float = 1.0, services: list[str] | None = None
) -> dict[str, str]:
    """Start the named services (all by default) and return every setting clients need.

    Settings of services already running in this home are included, so the env file always
    describes the whole sandbox.
    """
    home = home or SandboxHome.default()
    env: dict[str, str] = dict(home.load_state().get("_env", {}).get("values", {}))
    with shop_cache(home):
        for service in by_name(services):
            env.update(service.up(home, scale, env))
            home.save_service("_env", {"values": env})
    home.write_env(env)
    return env


@contextmanager
def shop_cache(home: SandboxHome) -> Iterator[None]:
    """While services start: the shop's rows generated once, for the seeding and the
    stand-ins that derive theirs from them, in `<home>/cache` (shop/generate.py; the
    stand-ins' processes inherit the setting). A value already set is left alone (an
    empty one turns the cache off)."""
    if SHOP_CACHE_ENV in os.environ:
        yield
        return
    os.environ[SHOP_CACHE_ENV] = str(home.root / "cache")
    try:
        yield
    finally:
        del os.environ[SHOP_CACHE_ENV]


def down(home: SandboxHome | None = None) -> None:
    home = home or SandboxHome.default()
    for service in reversed(all_services()):
        service.down(home)
    home.forget_service("_env")
    if home.env_file.exists():
        home.env_file.unlink()


def status(home: SandboxHome | None = None) -> dict[str, str]:
    home = home or SandboxHome.default()
    return {service.name: service.status(home) for service in all_services()}


def advance(
    home: SandboxHome | None = None,
    days: int = 1,
    seed: int | None = None,
    anomalies: list[str] | tuple[str, ...] = (),
):
    """Simulate `days` more days in every source (see `elt_sandbox.nights`); each day
    carries `anomalies` (names in `nights.anomalies.ANOMALIES`). Returns one
    `nights.advance.Night` per day, with its ground truth."""
    from elt_sandbox.nights.advance import advance as run

    return run(home or SandboxHome.default(), days=days, seed=seed, anomalies=anomalies)


def start_clock(home: SandboxHome | None = None) -> dt.datetime:
    """Start the sandbox clock the Stripe and CRM stand-ins send as their `Date` header, at
    the run moment of the last simulated day (before any: 2026-01-01 00:30 UTC); each
    `advance` then moves it to its night's run moment. The taps bound a run by the
    server's clock, so runs on the real machine see the simulated nights."""
    from elt_sandbox.nights.advance import start_clock as start

    return start(home or SandboxHome.default())


def today(home: SandboxHome | None = None) -> dt.date | None:
    """The last simulated day (None before the first `advance`)."""
    from elt_sandbox.nights import ledger
    from elt_sandbox.nights.advance import admin_connection, sandbox_env

    with admin_connection(sandbox_env(home or SandboxHome.default())) as conn:
        return ledger.today(conn)


def ground_truth(home: SandboxHome | None = None, day: dt.date | None = None) -> list[dict]:
    """The recorded ground truth of one night (or of all), rows of `sandbox.truth`."""
    from elt_sandbox.nights import ledger
    from elt_sandbox.nights.advance import admin_connection, sandbox_env

    with admin_connection(sandbox_env(home or SandboxHome.default())) as conn:
        return ledger.truth(conn, day)
