"""One write-audit-publish attempt: build into staging, judge dbt's results, swap, record.

Exit codes: 0 published; 1 the audit failed (an error-severity test failed); 2 the build
errored (a model, seed or test could not run, or dbt stopped before running any node);
3 the audit passed but the swap failed. Only 0 changes what users see.
Whatever happened, attempt.json says it and names the marts users still see.

`--defer-exit` (the jobs' `wap-in-job` command): exit 0 once the attempt is recorded,
published or not, so that `meltano run` goes on to the job's last step,
`elt-monitor finish`, which reads attempt.json, reports a failed attempt as critical
(MARTS_NOT_PUBLISHED), sends the run's one alert and exits non-zero. `meltano run` stops
at the first failing step, so without it a plain `meltano run` of a night whose tests
failed ended with no verdict and no alert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from wap import PublishError, facts
from wap.dbt_build import dbt, environment, run_results

ENGINES = ("duckdb", "spark", "snowflake")
AUDIT_FAILED, BUILD_ERROR, PUBLISH_FAILED = 1, 2, 3


class Engine(Protocol):
    name: str
    run_id: str

    @property
    def location(self) -> str: ...

    @property
    def staging(self) -> object: ...

    def prepare(self) -> None: ...

    def dbt_overrides(self) -> dict[str, str]: ...

    def dbt_vars(self) -> dict[str, object]: ...

    def publish(self, published_at: dt.datetime) -> None: ...


def make_engine(name: str, env: Mapping[str, str], run_id: str) -> Engine:
    # Imported per engine: each utility's venv has only its own adapter's libraries.
    if name == "duckdb":
        from wap.duckdb_engine import DuckDBEngine

        return DuckDBEngine.from_env(env, run_id)
    if name == "spark":
        from wap.spark_engine import SparkEngine

        return SparkEngine.from_env(env, run_id)
    from wap.snowflake_engine import SnowflakeEngine

    return SnowflakeEngine.from_env(env, run_id)


@contextmanager
def single_attempt(directory: Path) -> Iterator[None]:
    """An exclusive lock on `<state dir>/.lock`: two attempts on one engine would build
    into the same staging location."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".lock"
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"wap: another attempt holds {path}; wait for it to finish") from None
        yield


def attempt(engine_name: str, dbt_args: Sequence[str], env: Mapping[str, str]) -> int:
    run_id = facts.run_id(env)
    directory = facts.state_dir(env, engine_name)
    with single_attempt(directory):
        engine = make_engine(engine_name, env, run_id)
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        engine.prepare()
        args = ["build", *dbt_args]
        if engine.dbt_vars():
            args += ["--vars", json.dumps(engine.dbt_vars())]
        code = dbt(args, env, engine.dbt_overrides())
        outcome = facts.dbt_outcome(code, run_results(env, started))
        built = time.monotonic() - clock
        published, reason, exit_code = False, outcome.reason(), 0
        if outcome.audit_passed:
            try:
                engine.publish(dt.datetime.now(dt.UTC))
                published = True
            except PublishError as error:
                reason, exit_code = f"audit passed, publication failed: {error}", PUBLISH_FAILED
        else:
            exit_code = BUILD_ERROR if outcome.errored else AUDIT_FAILED
        record = facts.record(
            directory,
            facts.Attempt(
                engine=engine_name,
                location=engine.location,
                started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
                finished_at=facts.utc_now(),
                run_id=run_id,
                published=published,
                dbt_exit_code=code,
                dbt_invocation_id=outcome.invocation_id,
                results=outcome.results,
                counts=outcome.counts,
                reason=reason,
                staging_location=None if published else str(engine.staging),
            ),
        )
    total = time.monotonic() - clock
    print(summary(record, built, total), file=sys.stderr if exit_code else sys.stdout)
    return exit_code


def summary(record: Mapping, built: float, total: float) -> str:
    as_of = record["marts_as_of"]
    visible = f"run {as_of['run_id']} ({as_of['finished_at']})" if as_of else "none published yet"
    verdict = "published" if record["published"] else f"NOT published: {record['reason']}"
    return (
        f"wap {record['engine']}: run {record['run_id']} {verdict}; {record['location']} holds"
        f" marts as of {visible}; dbt build {built:.1f} s, write-audit-publish {total:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wap",
        description="dbt build into a staging location; publish the marts only when every"
        " error-severity test passed. Arguments after the engine go to `dbt build`.",
    )
    parser.add_argument(
        "--defer-exit",
        action="store_true",
        help="exit 0 once the attempt is recorded (published or not): the job's last step, "
        "elt-monitor finish, judges attempt.json and fails the run",
    )
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    env = environment()
    code = attempt(options.engine, options.dbt_args, env)
    if code and options.defer_exit:
        print(f"wap: exit {code} deferred to elt-monitor finish (attempt.json)", file=sys.stderr)
        return 0
    return code
