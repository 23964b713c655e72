"""The jobs and schedules of a Meltano project, read with Meltano's own parser.

The reading is `elt_project.meltano_yml` (also used by scripts/run_job.py and
scripts/check_config.py): Meltano's `Project` resolves what a plain YAML read would miss
(`include_paths` files, cron aliases such as `@daily`), so Dagster sees exactly what
`meltano job list` and `meltano schedule list` show, and nothing is listed twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elt_project.meltano_yml import Extractor

# Dagster names allow letters, digits and underscores only.
_NOT_DAGSTER = re.compile(r"[^A-Za-z0-9_]")
# The loader whose output is the bronze lake (`<namespace>/<stream>/...`): elt-monitor
# judges its loads and dbt's sources read them.
LAKE_LOADER = "target-minio-parquet"


class MeltanoProjectError(ValueError):
    """meltano.yml declares something Dagster cannot run as declared; names the entry."""


def dagster_name(meltano_name: str) -> str:
    """`daily-ecommerce-elt` -> `daily_ecommerce_elt` (Dagster's name rule)."""
    return _NOT_DAGSTER.sub("_", meltano_name)


@dataclass(frozen=True)
class MeltanoJob:
    """A Meltano job: a name and its tasks (one `meltano run` argument list per set)."""

    name: str
    tasks: tuple[str, ...]
    # extractors and utilities it runs: their files in `.meltano/run/<plugin>/` (a tap's
    # catalog and state) and outputs (dbt's warehouse) are one per project, not per run
    exclusive_plugins: tuple[str, ...] = ()
    # bronze streams it loads into the lake, as elt-monitor names them: `<namespace>/<stream>`
    streams: tuple[str, ...] = ()

    @property
    def plugins(self) -> frozenset[str]:
        """Every plugin the tasks name (`dbt-duckdb:build` -> `dbt-duckdb`)."""
        return frozenset(word.split(":")[0] for task in self.tasks for word in task.split())


@dataclass(frozen=True)
class MeltanoSchedule:
    """A Meltano schedule of a job; `cron` is None for `@once`/`@manual`/`@none`."""

    name: str
    job: str
    interval: str
    cron: str | None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MeltanoProjectSpec:
    """What Dagster is generated from."""

    root: Path
    jobs: tuple[MeltanoJob, ...]
    schedules: tuple[MeltanoSchedule, ...]

    @property
    def exclusive_plugins(self) -> tuple[str, ...]:
        return tuple(sorted({p for job in self.jobs for p in job.exclusive_plugins}))

    def to_json(self) -> str:
        """What `load` read, as JSON: run workers rebuild the jobs from it (definitions)."""
        return json.dumps(
            {
                "root": str(self.root),
                "jobs": [asdict(job) for job in self.jobs],
                "schedules": [{**asdict(s), "env": dict(s.env)} for s in self.schedules],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> MeltanoProjectSpec:
        data = json.loads(text)
        return cls(
            root=Path(data["root"]),
            jobs=tuple(
                MeltanoJob(
                    j["name"],
                    tuple(j["tasks"]),
                    tuple(j["exclusive_plugins"]),
                    tuple(j.get("streams", ())),
                )
                for j in data["jobs"]
            ),
            schedules=tuple(MeltanoSchedule(**s) for s in data["schedules"]),
        )


def load(root: Path) -> MeltanoProjectSpec:
    """Jobs and schedules of the Meltano project in `root`.

    A schedule of an `extractor`/`loader` pair (Meltano's legacy ELT schedule) or of a job
    that does not exist is an error naming the schedule: it would otherwise be dropped.
    """
    from elt_project.meltano_yml import MeltanoYmlError, read

    try:
        project = read(root)
    except MeltanoYmlError as error:
        raise MeltanoProjectError(str(error)) from None
    exclusive = project.plugin_names("extractors", "utilities")
    jobs = []
    for declared in project.jobs:
        job = MeltanoJob(name=declared.name, tasks=declared.tasks)
        streams: tuple[str, ...] = ()
        if LAKE_LOADER in job.plugins:
            streams = tuple(
                stream
                for name in sorted(job.plugins & set(project.extractors))
                for stream in _selected_streams(project.extractors[name], job.name)
            )
        jobs.append(
            MeltanoJob(job.name, job.tasks, tuple(sorted(job.plugins & exclusive)), streams)
        )
    names = {job.name for job in jobs}
    schedules = []
    for schedule in project.schedules:
        if schedule.job is None:
            raise MeltanoProjectError(
                f"schedule '{schedule.name}' runs an extractor/loader pair, not a job:"
                " declare a job in meltano.yml and schedule that"
            )
        if schedule.job not in names:
            raise MeltanoProjectError(
                f"schedule '{schedule.name}' names job '{schedule.job}', which meltano.yml"
                " does not declare"
            )
        schedules.append(
            MeltanoSchedule(
                name=schedule.name,
                job=schedule.job,
                interval=schedule.interval,
                cron=schedule.cron,
                env=dict(schedule.env),
            )
        )
    _check_unique_dagster_names([job.name for job in jobs], "job")
    _check_unique_dagster_names([s.name for s in schedules], "schedule")
    return MeltanoProjectSpec(root=project.root, jobs=tuple(jobs), schedules=tuple(schedules))


def _selected_streams(extractor: Extractor, job: str) -> list[str]:
    """`<namespace>/<stream>` for each stream the extractor's `select` names (`stream.*`):
    the bronze assets are declared in meltano.yml, not discovered (discovery needs the
    source up). A `!` rule only drops properties or streams, so it adds none."""
    namespace, rules, name = extractor.namespace, extractor.select, extractor.name
    streams = []
    for rule in rules:
        stream = str(rule).split(".", 1)[0]
        if stream.startswith("!"):
            continue
        if any(char in stream for char in "*?[]"):
            raise MeltanoProjectError(
                f"extractor '{name}' (job '{job}') selects streams by pattern '{rule}':"
                " name each stream in its `select` (`<stream>.*`) so Dagster knows its"
                " bronze assets"
            )
        if f"{namespace}/{stream}" not in streams:
            streams.append(f"{namespace}/{stream}")
    if not streams:
        raise MeltanoProjectError(
            f"extractor '{name}' (job '{job}' loads it into the lake) has no `select` in"
            " meltano.yml: list its streams (`<stream>.*`) so Dagster knows its bronze assets"
        )
    return streams


def _check_unique_dagster_names(names: list[str], kind: str) -> None:
    """`a-b` and `a_b` are two Meltano names but one Dagster name: refuse, do not guess."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(dagster_name(name), name)
        if other != name:
            raise MeltanoProjectError(
                f"{kind}s '{other}' and '{name}' have the same Dagster name"
                f" '{dagster_name(name)}': rename one in meltano.yml"
            )
