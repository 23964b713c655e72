"""The sandbox clock: the simulated time the API stand-ins put in their `Date` header.

The Stripe and CRM taps take the boundary of a run from the API server's clock (its
`Date` header) when it is behind theirs, as it should be: what a source holds is bounded
by its own clock. So a job run on the real machine after `elt-sandbox advance` sees the
simulated night when the stand-ins say it is that night. The clock is one small JSON file
next to the nights' journals: a simulated moment and the real time it was set; the
simulated time then runs on with real seconds (a run takes minutes, its requests see a
moving clock). `start_clock` sets it before a first load, `advance` moves it to the run
moment of each night it simulated. Without the file the stand-ins send the real time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

CLOCK_FILE = "clock.json"


def clock_path(root: Path) -> Path:
    """`<sandbox home>/journal/clock.json` (removed with the journals on a re-seed)."""
    return root / "journal" / CLOCK_FILE


def set_clock(path: Path, moment: dt.datetime) -> None:
    """From now on the clock says `moment`, then runs with real seconds. The file is
    replaced atomically, so a server never reads half of it."""
    if moment.tzinfo is None:
        raise ValueError(f"the sandbox clock needs an aware datetime, not {moment!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"moment": moment.timestamp(), "set_at": time.time(), "iso": moment.isoformat()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload))
    os.replace(temporary, path)


def clear_clock(path: Path) -> None:
    path.unlink(missing_ok=True)


def read_clock(path: Path) -> tuple[float, float] | None:
    """(simulated epoch, real epoch it was set at), or None when no clock is set."""
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return float(payload["moment"]), float(payload["set_at"])


def simulated_now(setting: tuple[float, float] | None, real_now: float | None = None) -> float:
    """The clock's time at `real_now` (default: now); the real time without a setting."""
    real = time.time() if real_now is None else real_now
    if setting is None:
        return real
    moment, set_at = setting
    return moment + (real - set_at)


class ClockReader:
    """A server's view of the clock file: re-read only when the file changed (one stat
    per request)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._setting: tuple[float, float] | None = None

    def now(self) -> float | None:
        """The simulated epoch now, or None when no clock is set (send the real time)."""
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp = self._setting = None
            return None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._stamp:
            self._setting, self._stamp = read_clock(self.path), stamp
        return None if self._setting is None else simulated_now(self._setting)
