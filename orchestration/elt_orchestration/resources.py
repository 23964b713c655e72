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
    install_plugins: bool = Field(
        default=True,
        description="Let Meltano install a plugin whose venv is missing or stale before it"
        " runs (its default). False (`--no-install`): plugins are installed at deploy time,"
        " and a run never rebuilds a venv another run is using.",
    )

    def run_job_command(self, meltano_job: str) -> list[str]:
        command = [self.python, "-m", "scripts.run_job", meltano_job]
        return command if self.install_plugins else [*command, "--no-install"]

    def monitor_command(self, record: bool) -> list[str]:
        """`meltano invoke elt-monitor check --json`: Meltano gives the utility its settings
        from meltano.yml and the environment (lake root, incremental streams, ...)."""
        meltano = str(Path(self.python).parent / "meltano")
        install = [] if self.install_plugins else ["--no-install"]
        command = [meltano, "invoke", *install, "elt-monitor", "check", "--json"]
        return [*command, "--record"] if record else command

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            **self.env,
            **(extra or {}),
            "MELTANO_PROJECT_ROOT": self.project_root,
        }
