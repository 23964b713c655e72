"""Fail before the first record when a plugin of a job is missing required settings.

`meltano run tap-stripe-custom target-snowflake` without Snowflake settings used to run
the tap for seconds, then fail with the real cause buried hundreds of lines down, between
BrokenPipe tracebacks. Meltano records which settings a plugin needs
(`settings_group_validation` in meltano.yml: one or more alternative groups) but only
shows them in `meltano config list`. This check resolves each plugin's settings the way
`meltano run` will (active environment, env vars, `$VAR` references) and says in its
first line which settings are missing and where they are read from. Values are never
printed.

    .venv/bin/python -m scripts.check_config stripe-to-snowflake   # a job, or
    .venv/bin/python -m scripts.check_config tap-stripe-custom target-snowflake

`scripts.run_job` runs it before every scheduled run.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from elt_project.meltano_yml import read


@dataclass(frozen=True)
class MissingSetting:
    """A required setting without a value, and the names a person can set it by."""

    name: str
    env: str
    reference: str | None  # the `$VAR` that meltano.yml reads it from, if any

    def describe(self) -> str:
        sources = [self.reference.lstrip("$")] if self.reference else []
        sources.append(self.env)
        return f"{self.name} (set {' or '.join(dict.fromkeys(sources))})"


def blocks_of(names: list[str], project_root: Path) -> list[str]:
    """Every block (`tap-x`, `elt-monitor:gate`, ...) named directly or by a job's tasks
    (jobs of `include_paths` files too: meltano.yml as Meltano reads it)."""
    return read(project_root).blocks_of(names)


def plugins_of(names: list[str], project_root: Path) -> list[str]:
    """The extractors and loaders named directly or by a job's tasks, in order."""
    project = read(project_root)
    el_names = project.plugin_names("extractors", "loaders")
    return list(dict.fromkeys(b for b in project.blocks_of(names) if b in el_names))


def missing_settings(plugin_name: str, project_root: Path) -> list[MissingSetting]:
    """The missing settings of the validation group to name first; empty when one of the
    plugin's groups is complete (or it declares none)."""
    groups = alternatives(plugin_name, project_root)
    return groups[0] if groups else []


def missing_groups(plugin_name: str, project_root: Path) -> list[list[MissingSetting]]:
    """Per alternative validation group, its settings without a value; empty when a
    group is complete or the plugin declares none."""
    from meltano.core.plugin.settings_service import PluginSettingsService
    from meltano.core.project import Project

    project = Project(project_root)
    # As `meltano run` does: MELTANO_ENVIRONMENT (or .env), else default_environment.
    # Without this, every setting an environment supplies (dev's `host: $PGHOST`) reads
    # as missing and run_job refuses jobs that would run.
    from meltano.cli.cli import detect_selected_environment

    environment, _ = detect_selected_environment(
        cli_environment=None, cli_no_environment=False, project=project
    )
    if environment:
        logging.disable(logging.INFO)  # "Environment 'dev' is active", once per plugin
        try:
            project.activate_environment(environment)
        finally:
            logging.disable(logging.NOTSET)
    plugin = project.plugins.find_plugin(plugin_name)
    groups = plugin.settings_group_validation or []
    settings = PluginSettingsService(project, plugin)
    config = settings.config_with_metadata(redacted=True)

    def missing(group: list[str]) -> list[MissingSetting]:
        gaps = []
        for name in group:
            metadata = config.get(name)
            if metadata is not None and metadata["value"] not in (None, ""):
                continue
            setting_def = settings.find_setting(name)
            reference = (metadata or {}).get("unexpanded_value")
            gaps.append(
                MissingSetting(
                    name,
                    settings.setting_env(setting_def),
                    reference if isinstance(reference, str) else None,
                )
            )
        return gaps

    gaps = [missing(group) for group in groups]
    return [] if not all(gaps) else gaps


def configured_first(gaps: list[MissingSetting]) -> tuple[int, int]:
    """Rank alternative groups: the one the project configured comes first, then the
    shortest. prod sets the shop tap's `host: $SHOP_PG_HOST`, ...: with those variables
    unset, the four named settings are what the person must supply, not the one-setting
    `sqlalchemy_url` group nobody referenced (which is named as the alternative)."""
    return sum(gap.reference is None for gap in gaps), len(gaps)


def alternatives(plugin_name: str, project_root: Path) -> list[list[MissingSetting]]:
    """Every validation group's missing settings, the group to name first at the head."""
    return sorted(missing_groups(plugin_name, project_root), key=configured_first)


def describe(plugin_name: str, groups: list[list[MissingSetting]]) -> str:
    """`tap-x is missing required settings: host (set SHOP_PG_HOST or ...), ...; or
    instead: sqlalchemy_url (set ...)`: one line, the configured group first."""
    first, *others = groups
    line = f"{plugin_name} is missing required settings: " + ", ".join(
        gap.describe() for gap in first
    )
    for other in others:
        line += "; or instead: " + ", ".join(gap.describe() for gap in other)
    return line


def quiet_meltano_logs() -> None:
    """Meltano's settings code logs each unset `$VAR` at debug level: keep our line first."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def check(names: list[str], project_root: Path) -> list[str]:
    """One error line per plugin that cannot run; empty when every plugin can."""
    quiet_meltano_logs()
    errors = []
    for plugin_name in plugins_of(names, project_root):
        groups = alternatives(plugin_name, project_root)
        if groups:
            errors.append(describe(plugin_name, groups))
    return errors


def main(argv: list[str] | None = None) -> int:
    from scripts.run_job import project_root

    names = list(sys.argv[1:] if argv is None else argv)
    if not names:
        print("usage: python -m scripts.check_config <job|plugin>...", file=sys.stderr)
        return 2
    errors = check(names, project_root())
    for line in errors:
        print(line, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
