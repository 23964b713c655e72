"""The code location: `dagster dev -m elt_orchestration.definitions` (or `./dev.sh
orchestrate`). The project is `$MELTANO_PROJECT_ROOT`, else the current directory."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions, PipesSubprocessClient, RetryPolicy

from elt_orchestration import meltano_project
from elt_orchestration.jobs import build_job
from elt_orchestration.resources import MeltanoProject
from elt_orchestration.run_policy import DEFAULT_RETRY_POLICY
from elt_orchestration.schedules import build_schedule


def build_definitions(
    project_root: Path | None = None,
    *,
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    env: dict[str, str] | None = None,
    install_plugins: bool = True,
) -> Definitions:
    """Jobs and schedules generated from the project's meltano.yml.

    `env` is added to every run's environment (tests use it for an isolated system
    database and lake); production runs take theirs from the process environment.
    `install_plugins=False` runs Meltano with `--no-install` (plugins installed at deploy).
    """
    root = Path(project_root or os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()).resolve()
    spec = meltano_project.load(root)
    jobs = {job.name: build_job(job, retry_policy) for job in spec.jobs}
    schedules = [
        build_schedule(schedule, jobs[schedule.job])
        for schedule in spec.schedules
        if schedule.cron is not None
    ]
    return Definitions(
        jobs=list(jobs.values()),
        schedules=schedules,
        resources={
            "meltano": MeltanoProject(
                project_root=str(root), env=dict(env or {}), install_plugins=install_plugins
            ),
            # forward_stdio: Meltano's output goes to the run's captured stdout/stderr.
            "pipes_subprocess_client": PipesSubprocessClient(forward_stdio=True),
        },
    )


defs = build_definitions()
