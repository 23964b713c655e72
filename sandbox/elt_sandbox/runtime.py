"""Process and file bookkeeping shared by every sandbox service.

Each service runs as its own OS process so that `elt-sandbox down` can stop it by PID and
the tests exercise real network edges. The state of a sandbox lives in one directory
(`.sandbox/` by default): PID files, ports, logs and the `env` file of connection settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(os.environ.get("SANDBOX_HOME", ".sandbox"))


@dataclass(frozen=True)
class SandboxHome:
    """The directory that holds one sandbox's processes, data and settings."""

    root: Path

    @classmethod
    def default(cls) -> SandboxHome:
        return cls(Path(os.environ.get("SANDBOX_HOME", ".sandbox")).resolve())

    def path(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    @property
    def state_file(self) -> Path:
        return self.path("state.json")

    @property
    def env_file(self) -> Path:
        return self.path("env")

    def log_file(self, name: str) -> Path:
        return self.path("logs", f"{name}.log")

    def load_state(self) -> dict[str, dict]:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text())

    def save_service(self, name: str, record: Mapping) -> None:
        state = self.load_state()
        state[name] = dict(record)
        self.state_file.write_text(json.dumps(state, indent=2, sort_keys=True))

    def forget_service(self, name: str) -> None:
        state = self.load_state()
        state.pop(name, None)
        self.state_file.write_text(json.dumps(state, indent=2, sort_keys=True))

    def write_env(self, env: Mapping[str, str]) -> None:
        lines = [f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())]
        self.env_file.write_text("\n".join(lines) + "\n")


def free_port() -> int:
    """Ask the kernel for an unused loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_open(port, host):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return status != "Z"
    except OSError:
        return True


def spawn(
    name: str, argv: Sequence[str], home: SandboxHome, env: Mapping[str, str] | None = None
) -> int:
    """Start a detached process in its own session, logging to `logs/<name>.log`."""
    log = home.log_file(name).open("ab")
    process = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    return process.pid


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def stop_pid(pid: int | None, timeout: float = 10.0) -> None:
    """Stop a process group started by `spawn`: SIGTERM, then SIGKILL."""
    if not pid_alive(pid):
        return
    assert pid is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.05)
