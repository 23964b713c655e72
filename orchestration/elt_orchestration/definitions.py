"""The code location: `dagster dev -m elt_orchestration.definitions` (or `./dev.sh
orchestrate`). The project is `$MELTANO_PROJECT_ROOT`, else the current directory.

meltano.yml is read with Meltano's own parser when the code location loads (the code
server: at start and on every "Reload"), so a job or schedule added there appears. What
it read is stored in the definitions' reconstruction metadata, and a run worker rebuilds
the same jobs from it instead of importing Meltano and parsing the file again: the run
executes the job the code location showed and launched, and starts seconds sooner.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import Definitions, ExecutorDefinition, RetryPolicy, in_process_executor
from dagster import definitions as lazy_definitions

# Not exported by `dagster`: how Dagster's state-backed definitions hand data from the
# code server to run workers (reconstruction metadata).
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)

from elt_orchestration import dbt_manifest, lineage, meltano_project
from elt_orchestration.jobs import build_job
from elt_orchestration.meltano_project import MeltanoProjectSpec
from elt_orchestration.resources import MeltanoProject
from elt_orchestration.run_policy import DEFAULT_RETRY_POLICY
from elt_orchestration.schedules import build_schedule

RECONSTRUCTION_KEY = "elt_orchestration/meltano_project"


def _root(root: Path | None = None) -> Path:
    return Path(root or os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()).resolve()


def build_definitions(
    project_root: Path | None = None,
    *,
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    env: dict[str, str] | None = None,
    install_plugins: bool = True,
    executor: ExecutorDefinition = in_process_executor,
    spec: MeltanoProjectSpec | None = None,
    parse_dbt: bool = True,
) -> Definitions:
    """Jobs and schedules generated from the project's meltano.yml (or from `spec`, what
    an earlier `meltano_project.load` read).

    `env` is added to every run's environment (tests use it for an isolated system
    database and lake); production runs take theirs from the process environment.
    `install_plugins=False` runs Meltano with `--no-install` (plugins installed at deploy).
    `executor`: each job is one op, run in the run worker's process by default; a Celery
    deployment passes `celery_executor` (docs/scaling.md).

    Assets (lineage.py): each job's bronze streams and, for the job that runs dbt-duckdb,
    every dbt model of the manifest (`dbt parse` first when it is stale and `parse_dbt`).
    """
    spec = spec or load_project(_root(project_root))
    owned = lineage.owned_streams(spec.jobs)
    dbt_job = lineage.dbt_owner(spec.jobs)
    manifest = dbt_manifest.read(spec.root, parse_if_stale=parse_dbt) if dbt_job else None
    dbt_specs = lineage.dbt_specs(manifest) if manifest else []
    jobs, assets = {}, []
    for job in spec.jobs:
        jobs[job.name], produced = build_job(
            job,
            retry_policy,
            executor,
            owned_streams=owned[job.name],
            dbt_specs=dbt_specs if job.name == dbt_job else (),
        )
        if produced is not None:
            assets.append(produced)
    schedules = [
        build_schedule(schedule, jobs[schedule.job])
        for schedule in spec.schedules
        if schedule.cron is not None
    ]
    resource = MeltanoProject(
        project_root=str(spec.root), env=dict(env or {}), install_plugins=install_plugins
    )
    return Definitions(
        assets=assets,
        jobs=list(jobs.values()),
        schedules=schedules,
        resources={"meltano": resource},
    )


def load_project(root: Path) -> MeltanoProjectSpec:
    """meltano.yml's jobs and schedules: the one place this package reads it."""
    return meltano_project.load(root)


def code_location(**options: Any) -> Definitions:
    """`build_definitions(**options)` for a code location: Meltano's parser reads
    meltano.yml where the code location loads; a run worker rebuilds the jobs from what it
    read, stored in the repository's load data (Dagster keeps it with each run's plan),
    without importing Meltano. A deployment module: `defs = dg.definitions(lambda:
    code_location(install_plugins=False))`."""
    context = DefinitionsLoadContext.get()
    stored = (
        context.reconstruction_metadata.get(RECONSTRUCTION_KEY)
        if context.load_type == DefinitionsLoadType.RECONSTRUCTION
        else None
    )
    spec = MeltanoProjectSpec.from_json(stored) if stored else load_project(_root())
    context.add_to_pending_reconstruction_metadata(RECONSTRUCTION_KEY, spec.to_json())
    # a run worker reads the manifest the code server parsed: it never runs dbt parse
    return build_definitions(spec=spec, parse_dbt=not stored, **options)


@lazy_definitions
def defs() -> Definitions:
    return code_location()
