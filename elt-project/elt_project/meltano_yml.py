"""The jobs, schedules and plugins of a Meltano project, read with Meltano's own parser.

Meltano's `Project` resolves what a plain YAML read misses: files listed in `include_paths`
(their jobs, schedules and plugins), cron aliases such as `@daily`, the legacy
extractor/loader schedules. Every reader in this repository goes through `read()` (the
wrappers `scripts.run_job` and `scripts.check_config`, the Dagster code location), so a job
declared in an included file is run, checked and orchestrated alike. `meltano.core` is not a
public API: the few names used are behind `_manifest()` and pinned by `meltano~=4.4.1`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class MeltanoYmlError(ValueError):
    """There is no Meltano project where one was expected; names the directory."""


@dataclass(frozen=True)
class Job:
    """A Meltano job: its name and its tasks, one `meltano run` argument string each."""

    name: str
    tasks: tuple[str, ...]

    @property
    def blocks(self) -> tuple[str, ...]:
        """Every block the tasks run, in order (`tap-x`, `elt-monitor:gate`, ...)."""
        return tuple(word for task in self.tasks for word in task.split())


@dataclass(frozen=True)
class Schedule:
    """A Meltano schedule: of a job, or (legacy) of an extractor/loader pair (`job` None)."""

    name: str
    job: str | None
    interval: str
    cron: str | None  # None for @once, @manual, @none
    env: Mapping[str, str] = field(default_factory=dict)
    extractor: str | None = None
    loader: str | None = None


@dataclass(frozen=True)
class Extractor:
    """An extractor as the project resolves it: its namespace (from meltano.yml, or from
    the lock file of a `variant` plugin) and its `select` rules."""

    name: str
    namespace: str
    select: tuple[str, ...]


@dataclass(frozen=True)
class MeltanoYml:
    """What meltano.yml and its `include_paths` files declare, merged as Meltano merges."""

    root: Path
    jobs: tuple[Job, ...]
    schedules: tuple[Schedule, ...]
    plugins: Mapping[str, tuple[str, ...]]  # plugin type (extractors, ...) -> names
    extractors: Mapping[str, Extractor] = field(default_factory=dict)

    def job(self, name: str) -> Job | None:
        return next((job for job in self.jobs if job.name == name), None)

    def schedule(self, name: str) -> Schedule | None:
        return next((s for s in self.schedules if s.name == name), None)

    def plugin_names(self, *types: str) -> frozenset[str]:
        """Names of the plugins of the given types (`"extractors"`, `"loaders"`, ...)."""
        return frozenset(name for kind in types for name in self.plugins.get(kind, ()))

    def blocks_of(self, names: list[str]) -> list[str]:
        """Every block named directly or by a job's tasks, jobs expanded, in order."""
        blocks: list[str] = []
        for name in names:
            job = self.job(name)
            blocks.extend(job.blocks if job else name.split())
        return blocks


def flat_tasks(tasks: object) -> tuple[str, ...]:
    """Meltano accepts a string, a list of strings or a list of lists."""
    if isinstance(tasks, str):
        return (tasks,)
    flat: list[str] = []
    for task in tasks:  # type: ignore[attr-defined]
        flat.extend(flat_tasks(task) if not isinstance(task, str) else [task])
    return tuple(flat)


def _manifest(root: Path) -> tuple[Any, Any]:
    """Meltano's project and its merged project file (`meltano.core`: the one place its
    internals are used; tests/elt_project pins the names)."""
    from meltano.core.project import Project

    project = Project(root)
    return project, project.meltano


def _locked_namespace(root: Path, plugin: Any) -> str | None:
    """The namespace in the plugin's lock file (`plugins/<type>/<name>--<variant>.lock`,
    the file Meltano itself reads first for a `variant` plugin)."""
    variant = getattr(plugin, "variant", None)
    lock = root / "plugins" / "extractors" / f"{plugin.name}--{variant}.lock"
    if not variant or not lock.is_file():
        return None
    try:
        return json.loads(lock.read_text()).get("namespace") or None
    except (OSError, ValueError):
        return None


def _extractor(project: Any, plugin: Any, root: Path) -> Extractor:
    """A `variant` plugin's namespace is in its lock file, read directly; else Meltano's
    `ensure_parent` resolves it (which logs at debug level on stderr, ahead of a wrapper's
    own first line, so it is the fallback)."""
    namespace = plugin.namespace or _locked_namespace(root, plugin)
    if not namespace:
        try:
            namespace = project.plugins.ensure_parent(plugin).namespace
        except Exception as error:  # Meltano raises several kinds; all mean "unresolved"
            raise MeltanoYmlError(
                f"extractor '{plugin.name}': its namespace is not in meltano.yml and its "
                f"definition cannot be resolved ({error})"
            ) from None
    select = tuple(str(rule) for rule in plugin.extras.get("select") or ())
    return Extractor(plugin.name, str(namespace), select)


def read(root: Path | str) -> MeltanoYml:
    """The Meltano project in `root`, read by Meltano's parser (include_paths included)."""
    root = Path(root).resolve()
    if not (root / "meltano.yml").is_file():
        raise MeltanoYmlError(f"no meltano.yml in {root} (set MELTANO_PROJECT_ROOT)")
    project, manifest = _manifest(root)
    jobs = tuple(Job(job.name, flat_tasks(job.tasks)) for job in manifest.jobs)
    schedules = tuple(
        Schedule(
            name=schedule.name,
            job=getattr(schedule, "job", None),
            interval=schedule.interval,
            cron=schedule.cron_interval,
            env={str(k): str(v) for k, v in (schedule.env or {}).items()},
            extractor=getattr(schedule, "extractor", None),
            loader=getattr(schedule, "loader", None),
        )
        for schedule in manifest.schedules
    )
    plugins = {  # Canonical iterates as (PluginType, [ProjectPlugin, ...]) pairs
        str(getattr(kind, "value", kind)): tuple(plugin.name for plugin in declared)
        for kind, declared in manifest.plugins
    }
    extractors = {
        plugin.name: _extractor(project, plugin, root) for plugin in manifest.plugins.extractors
    }
    return MeltanoYml(
        root=root, jobs=jobs, schedules=schedules, plugins=plugins, extractors=extractors
    )
