"""Where and how a Meltano job is started: a Dagster resource, so tests and deployments
swap the environment (system database, lake, sandbox settings) without new definitions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


class MeltanoProject(ConfigurableResource):
    """The Meltano project a run starts in and the environment it adds.

    Every attempt runs `python -m scripts.run_job <job>` (the project's recovery wrapper:
    settings check, killed-run recovery, then `meltano run <job>` in its own process
    group), so Dagster gets Meltano's exit code and Meltano's signals.
    """

    project_root: str = Field(description="Directory holding meltano.yml and scripts/run_job.py.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables added to the process environment of every run (not secrets:"
        " resource config is shown in the UI; secrets come from the process environment).",
    )
    python: str = Field(
        default=sys.executable, description="The interpreter of the project's virtualenv."
    )

    def run_job_command(self, meltano_job: str) -> list[str]:
        return [self.python, "-m", "scripts.run_job", meltano_job]

    def monitor_command(self, record: bool) -> list[str]:
        """`meltano invoke elt-monitor check --json`: Meltano gives the utility its settings
        from meltano.yml and the environment (lake root, incremental streams, ...)."""
        meltano = str(Path(self.python).parent / "meltano")
        command = [meltano, "invoke", "elt-monitor", "check", "--json"]
        return [*command, "--record"] if record else command

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            **self.env,
            **(extra or {}),
            "MELTANO_PROJECT_ROOT": self.project_root,
        }
