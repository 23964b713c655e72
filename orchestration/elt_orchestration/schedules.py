"""One Dagster schedule per Meltano schedule, on the same cron string.

Meltano's own parser turns `@daily`/`@hourly`/... into cron (`0 0 * * *`, `0 * * * *`);
the schedule fires in UTC, as Meltano's Airflow integration does. `@once`, `@manual` and
`@none` have no cron: their jobs exist in Dagster and are launched by hand.
"""

from __future__ import annotations

from dagster import DefaultScheduleStatus, JobDefinition, ScheduleDefinition

from elt_orchestration.meltano_project import MeltanoSchedule, dagster_name
from elt_orchestration.run_policy import SCHEDULE_TAG

TIMEZONE = "UTC"


def build_schedule(schedule: MeltanoSchedule, job_def: JobDefinition) -> ScheduleDefinition:
    """Running by default: the daemon fires it without a person switching it on."""
    assert schedule.cron is not None
    run_config = {}
    if schedule.env:
        op_name = f"{job_def.name}__meltano_run"
        run_config = {"ops": {op_name: {"config": {"env": dict(schedule.env)}}}}
    return ScheduleDefinition(
        name=dagster_name(schedule.name),
        cron_schedule=schedule.cron,
        execution_timezone=TIMEZONE,
        job=job_def,
        run_config=run_config,
        tags={SCHEDULE_TAG: schedule.name},
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Meltano schedule `{schedule.name}` ({schedule.interval}) of job"
        f" `{schedule.job}`, from meltano.yml.",
    )
