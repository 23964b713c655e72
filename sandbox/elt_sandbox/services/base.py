"""The life cycle every sandbox stand-in follows.

A service is started with the settings of the services started before it (so that, for
example, the CSV exports can be uploaded to the S3 endpoint) and returns the environment
variables that clients need to reach it. `up` must be idempotent: when the service already
runs with the same scale it returns the same settings without restarting anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from elt_sandbox.runtime import SandboxHome, pid_alive, stop_pid


class Service(ABC):
    """One local stand-in for an external system."""

    name: str

    @abstractmethod
    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        """Start (or reuse) the service and return the settings that reach it."""

    def down(self, home: SandboxHome) -> None:
        record = home.load_state().get(self.name, {})
        stop_pid(record.get("pid"))
        home.forget_service(self.name)

    def status(self, home: SandboxHome) -> str:
        record = home.load_state().get(self.name)
        if not record:
            return "stopped"
        pid = record.get("pid")
        if pid is None:
            return f"ready (no process) {record.get('where', '')}".strip()
        state = "running" if pid_alive(pid) else "dead"
        return f"{state} pid={pid} {record.get('where', '')}".strip()

    def running_record(self, home: SandboxHome, scale: float) -> dict | None:
        """The saved record when the service already runs at this scale, else None."""
        record = home.load_state().get(self.name)
        if not record or record.get("scale") != scale:
            return None
        if record.get("pid") is not None and not pid_alive(record["pid"]):
            return None
        return record
