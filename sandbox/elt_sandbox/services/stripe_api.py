"""The Stripe stand-in as a sandbox service (no faults by default; tests start their own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from elt_sandbox.runtime import SandboxHome, free_port, python_module_argv, spawn, wait_for_port
from elt_sandbox.services.base import Service
from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY


def start_stripe_server(
    home: SandboxHome, name: str, scale: float, extra_args: Sequence[str] = ()
) -> tuple[int, int]:
    """Spawn a Stripe stand-in process; returns (pid, port)."""
    port = free_port()
    argv = python_module_argv(
        "elt_sandbox.stripe_api", "--port", str(port), "--scale", str(scale), *extra_args
    )
    pid = spawn(name, argv, home)
    wait_for_port(port, timeout=120)
    return pid, port


class StripeService(Service):
    name = "stripe"

    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        record = self.running_record(home, scale)
        if record:
            port = record["port"]
        else:
            self.down(home)
            pid, port = start_stripe_server(home, self.name, scale)
            home.save_service(
                self.name,
                {"pid": pid, "port": port, "scale": scale, "where": f"http://127.0.0.1:{port}"},
            )
        return {
            "SANDBOX_STRIPE_API_BASE": f"http://127.0.0.1:{port}",
            "SANDBOX_STRIPE_API_KEY": DEFAULT_API_KEY,
        }
