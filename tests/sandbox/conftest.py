"""Sandboxes of their own for the simulated-night tests.

`advance` changes every source, and other tests rely on the session sandbox's exact seeded
counts, so these tests never touch it: `night_home` is one module's sandbox (Postgres, S3,
Stripe, CRM, exports) at `NIGHT_SCALE`, whose clock the tests move forward in turn;
`fresh_home` makes Postgres-only sandboxes (`advance` then journals the other sources and
computes Stripe's seeded history itself), stopped and removed at teardown.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from elt_sandbox import api
from elt_sandbox.nights.advance import admin_connection
from elt_sandbox.runtime import SandboxHome

NIGHT_SCALE = 0.1  # ~24 orders a day: enough for a weekday pattern over two weeks
FRESH_SCALE = 0.01


def _home(prefix: str) -> SandboxHome:
    return SandboxHome(Path(tempfile.mkdtemp(prefix=prefix)))


@pytest.fixture(scope="module")
def night_home() -> Iterator[SandboxHome]:
    home = _home("elt-sandbox-nights-")
    try:
        api.up(home, scale=NIGHT_SCALE, services=["postgres", "s3", "stripe", "crm", "csv"])
        yield home
    finally:
        api.down(home)
        shutil.rmtree(home.root, ignore_errors=True)


@pytest.fixture()
def fresh_home() -> Iterator[Callable[[], SandboxHome]]:
    """`make()` -> a new Postgres-only sandbox at FRESH_SCALE."""
    homes: list[SandboxHome] = []

    def make() -> SandboxHome:
        home = _home("elt-sandbox-fresh-")
        homes.append(home)
        api.up(home, scale=FRESH_SCALE, services=["postgres"])
        return home

    yield make
    for home in homes:
        api.down(home)
        shutil.rmtree(home.root, ignore_errors=True)


def env_of(home: SandboxHome) -> dict[str, str]:
    return home.load_state()["_env"]["values"]


def connect(home: SandboxHome) -> psycopg.Connection:
    """The sandbox's admin connection (autocommit, UTC), as `advance` opens it."""
    return admin_connection(env_of(home))
