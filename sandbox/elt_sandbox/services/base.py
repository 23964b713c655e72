"""The life cycle every sandbox stand-in follows.

A service is started with the settings of the services started before it (so that, for
example, the CSV exports can be uploaded to the S3 endpoint) and returns the environment
variables that clients need to reach it. `up` must be idempotent: when the service already
runs with the same scale it returns the same settings without restarting anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from elt_sandbox.runtime import (
    SandboxHome,
    free_port,
    pid_alive,
    python_module_argv,
    spawn,
    stop_pid,
    wait_for_port,
)


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


def start_module_server(
    home: SandboxHome, name: str, module: str, scale: float, extra_args: Sequence[str] = ()
) -> tuple[int, int]:
    """Spawn `python -m <module> --port P --scale S ...`; returns (pid, port) once it listens."""
    port = free_port()
    argv = python_module_argv(module, "--port", str(port), "--scale", str(scale), *extra_args)
    pid = spawn(name, argv, home)
    wait_for_port(port, timeout=120)
    return pid, port


class HttpApiService(Service):
    """An HTTP stand-in run as `python -m <module>`; subclasses say which and what it returns."""

    module: str
    default_args: tuple[str, ...] = ()

    def args(self, home: SandboxHome) -> tuple[str, ...]:
        """The CLI flags this home's server starts with."""
        return self.default_args

    @abstractmethod
    def settings(self, port: int) -> dict[str, str]:
        """The environment settings that reach the API on `port`."""

    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        record = self.running_record(home, scale)
        if record:
            return self.settings(record["port"])
        self.down(home)
        pid, port = start_module_server(home, self.name, self.module, scale, self.args(home))
        where = f"http://127.0.0.1:{port}"
        home.save_service(self.name, {"pid": pid, "port": port, "scale": scale, "where": where})
        return self.settings(port)
