"""The legacy CRM simulator as a sandbox service, with a mild default fault profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.runtime import SandboxHome, free_port, python_module_argv, spawn, wait_for_port
from elt_sandbox.services.base import Service

# Enough to exercise the tap's retries in the demo without slowing it down much.
DEMO_FAULTS = ("--rate-5xx", "0.02", "--rate-429", "0.01", "--retry-after", "0.2",
               "--rate-malformed", "0.005")  # fmt: skip


def start_crm_server(
    home: SandboxHome, name: str, scale: float, extra_args: Sequence[str] = ()
) -> tuple[int, int]:
    """Spawn a CRM simulator process; returns (pid, port)."""
    port = free_port()
    argv = python_module_argv(
        "elt_sandbox.crm_api", "--port", str(port), "--scale", str(scale), *extra_args
    )
    pid = spawn(name, argv, home)
    wait_for_port(port, timeout=120)
    return pid, port


class CrmService(Service):
    name = "crm"

    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        record = self.running_record(home, scale)
        if record:
            port = record["port"]
        else:
            self.down(home)
            pid, port = start_crm_server(home, self.name, scale, DEMO_FAULTS)
            home.save_service(
                self.name,
                {"pid": pid, "port": port, "scale": scale, "where": f"http://127.0.0.1:{port}"},
            )
        return {
            "SANDBOX_CRM_API_URL": f"http://127.0.0.1:{port}",
            "SANDBOX_CRM_API_TOKEN": DEFAULT_TOKEN,
        }
