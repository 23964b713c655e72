"""The legacy CRM simulator as a sandbox service, with a mild default fault profile."""

from __future__ import annotations

from collections.abc import Sequence

from elt_sandbox.crm_api.__main__ import DEFAULT_TOKEN
from elt_sandbox.journal import CRM, journal_path
from elt_sandbox.runtime import SandboxHome
from elt_sandbox.services.base import HttpApiService, start_module_server

MODULE = "elt_sandbox.crm_api"
# Enough to exercise the tap's retries in the demo without slowing it down much.
DEMO_FAULTS = ("--rate-5xx", "0.02", "--rate-429", "0.01", "--retry-after", "0.2",
               "--rate-malformed", "0.005")  # fmt: skip


def start_crm_server(
    home: SandboxHome, name: str, scale: float, extra_args: Sequence[str] = ()
) -> tuple[int, int]:
    """Spawn a CRM simulator process with extra CLI flags; returns (pid, port)."""
    return start_module_server(home, name, MODULE, scale, extra_args)


class CrmService(HttpApiService):
    name = "crm"
    module = MODULE
    default_args = DEMO_FAULTS

    def args(self, home: SandboxHome) -> tuple[str, ...]:
        """Replays and follows the simulated nights (`elt-sandbox advance`)."""
        return (*self.default_args, "--journal", str(journal_path(home.root, CRM)))

    def settings(self, port: int) -> dict[str, str]:
        return {
            "SANDBOX_CRM_API_URL": f"http://127.0.0.1:{port}",
            "SANDBOX_CRM_API_TOKEN": DEFAULT_TOKEN,
        }
