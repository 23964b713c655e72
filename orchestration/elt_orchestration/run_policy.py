"""How often and how many at once: the run policy every generated job shares.

- One run at a time per Meltano job: every run carries the `meltano/job` tag, and the
  instance's run queue (`dagster.yaml` beside this module) admits one run per value of it.
  Two jobs still run side by side; a schedule tick that lands while the previous run of the
  same job is alive waits in the queue instead of failing on Meltano's lock.
- A failed `meltano run` is retried by the op's RetryPolicy with exponential backoff and
  jitter. A retry after a kill goes through `scripts/run_job.py` like every attempt, and
  run_job marks the dead attempt's RUNNING rows failed, so Meltano's ~5-minute stale-run
  lock does not make the retry fail.
- A Dagster run worker that dies itself (the op cannot retry then) is detected by run
  monitoring and re-executed by run retries (also `dagster.yaml`).
"""

from __future__ import annotations

from dagster import Backoff, Jitter, RetryPolicy

JOB_TAG = "meltano/job"
SCHEDULE_TAG = "meltano/schedule"

# 30 s, 60 s, 120 s (+-jitter): a sandbox/API hiccup clears; a broken config still fails
# within ~4 minutes, and run_job fails a config error before any tap starts each time.
DEFAULT_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def run_tags(meltano_job: str) -> dict[str, str]:
    """Tags of every run of a job; the run queue limits concurrency by `JOB_TAG`."""
    return {JOB_TAG: meltano_job}
