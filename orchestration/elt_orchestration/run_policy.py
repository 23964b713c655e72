"""How often and how many at once: the run policy every generated job shares.

- One run at a time per Meltano job: every run carries the `meltano/job` tag, and the
  instance's run queue (`dagster.yaml` beside this module) admits one run per value of it.
  A schedule tick that lands while the previous run of the same job is alive waits in the
  queue instead of failing on Meltano's lock.
- One run at a time per extractor or utility: Meltano keeps a tap's catalog and state in
  `.meltano/run/<tap>/` once per project, so two runs of one tap at once (`hourly-crm`
  during `daily-ecommerce-elt`) overwrite each other's ("Invalid catalog", seen on this
  machine); dbt's warehouse file is one too. Runs carry `meltano/plugin-<name>` per such
  plugin and `instance_settings` adds a limit of 1 per plugin, generated from meltano.yml.
  Jobs that share no tap or utility still run side by side.
- A failed `meltano run` is retried by the op's RetryPolicy with exponential backoff and
  jitter. A retry after a kill goes through `scripts/run_job.py` like every attempt, and
  run_job marks the dead attempt's RUNNING rows failed, so Meltano's ~5-minute stale-run
  lock does not make the retry fail.
- A Dagster run worker that dies itself (the op cannot retry then) is detected by run
  monitoring and re-executed by run retries (also `dagster.yaml`).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml
from dagster import Backoff, Jitter, RetryPolicy

from elt_orchestration.meltano_project import MeltanoJob, MeltanoProjectSpec

JOB_TAG = "meltano/job"
SCHEDULE_TAG = "meltano/schedule"
PLUGIN_TAG_PREFIX = "meltano/plugin-"
INSTANCE_TEMPLATE = files("elt_orchestration").joinpath("dagster.yaml")

# 30 s, 60 s, 120 s (+-jitter): a sandbox/API hiccup clears; a broken config still fails
# within ~4 minutes, and run_job fails a config error before any tap starts each time.
DEFAULT_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def run_tags(meltano_job: MeltanoJob) -> dict[str, str]:
    """Tags of every run of a job; the run queue limits concurrency by them."""
    plugins = {f"{PLUGIN_TAG_PREFIX}{name}": "1" for name in meltano_job.exclusive_plugins}
    return {JOB_TAG: meltano_job.name, **plugins}


def instance_settings(spec: MeltanoProjectSpec) -> dict[str, Any]:
    """`dagster.yaml` for $DAGSTER_HOME: the template plus one limit per exclusive plugin."""
    settings = yaml.safe_load(INSTANCE_TEMPLATE.read_text())
    limits = settings["concurrency"]["runs"]["tag_concurrency_limits"]
    limits.extend(
        {"key": f"{PLUGIN_TAG_PREFIX}{name}", "limit": 1} for name in spec.exclusive_plugins
    )
    return settings
