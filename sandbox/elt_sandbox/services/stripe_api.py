"""The Stripe stand-in as a sandbox service (no faults by default; tests start their own)."""

from __future__ import annotations

from collections.abc import Sequence

from elt_sandbox.journal import STRIPE, journal_path
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.services.base import HttpApiService, start_module_server
from elt_sandbox.stripe_api.__main__ import DEFAULT_API_KEY

MODULE = "elt_sandbox.stripe_api"


def start_stripe_server(
    home: SandboxHome, name: str, scale: float, extra_args: Sequence[str] = ()
) -> tuple[int, int]:
    """Spawn a Stripe stand-in process with extra CLI flags; returns (pid, port)."""
    return start_module_server(home, name, MODULE, scale, extra_args)


class StripeService(HttpApiService):
    name = "stripe"
    module = MODULE

    def args(self, home: SandboxHome) -> tuple[str, ...]:
        """Replays and follows the simulated nights (`elt-sandbox advance`)."""
        return (*self.default_args, "--journal", str(journal_path(home.root, STRIPE)))

    def settings(self, port: int) -> dict[str, str]:
        return {
            "SANDBOX_STRIPE_API_BASE": f"http://127.0.0.1:{port}",
            "SANDBOX_STRIPE_API_KEY": DEFAULT_API_KEY,
        }
